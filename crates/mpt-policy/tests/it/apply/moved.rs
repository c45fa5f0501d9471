//! Acting on what was read just now: a token an administrator changes between the plan and the
//! action is skipped and reported `moved` (with both revisions), never acted on by its stale
//! plan; an Active token is deleted only when the policy declares it absent.

use mpt::chrono::{Duration as Days, Utc};
use mpt_policy::{ActionKind, Applied, ApplyOptions};

use super::records::Stores;
use super::*;
use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_changed_between_the_plan_and_the_action_is_skipped_as_moved() {
    let stores = Stores::start("moved");
    for at in stores.fresh() {
        let (server, client) = start().await;
        // Disabled for a year: planned for deletion ("Disabled too long").
        let stale = server.seed_token(
            seed("stale")
                .with_status("Disabled")
                .created(Utc::now() - Days::days(400)),
        );
        // Idle for a year: planned to be disabled.
        let idle = server.seed_token(seed("idle").last_used(Utc::now() - Days::days(400)));
        let policy = policy(&format!(
            "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nunmanaged = \"ignore\"\ndisable_idle_after = \"30d\"\ndelete_disabled_after = \"180d\"\n[[accounts.tokens]]\nname = \"stale\"\nstatus = \"Disabled\"\nmodules = [\"{DEFAULT_MODULE}\"]\n[[accounts.tokens]]\nname = \"idle\"\nmodules = [\"{DEFAULT_MODULE}\"]\n"
        ));
        let plan = client.plan(&policy).await.unwrap();
        assert_eq!(plan.count(ActionKind::Delete), 1, "{plan:#?}");
        assert_eq!(plan.count(ActionKind::Disable), 1, "{plan:#?}");
        let (s, i) = (stale.id.clone(), idle.id.clone());
        let s2 = s.clone();
        let i2 = i.clone();
        let admin = admin(&server);
        // Once the apply has its plan, an administrator enables the stale token again and
        // changes the idle one's description (from a thread of its own: the mock serves from
        // the runtime's other worker).
        let options = ApplyOptions::new(at.clone())
            .allow_destroy(true)
            .on_plan(move |_| {
                let (s, i) = (s2.clone(), i2.clone());
                let client = admin.clone();
                std::thread::spawn(move || {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap()
                        .block_on(async {
                            client.ensure_active(s.as_str()).await.unwrap();
                            client
                                .update(i.as_str(), TokenUpdate::new().description("in use"))
                                .await
                                .unwrap();
                        });
                })
                .join()
                .unwrap();
            });
        let revisions = (
            server.token_revision(&s).unwrap(),
            server.token_revision(&i).unwrap(),
        );
        let report = client.apply(&policy, None, &options).await.unwrap();
        let shown = at.shown();
        for (name, planned) in [("stale", revisions.0), ("idle", revisions.1)] {
            let r = result_of(&report.results, name);
            assert_eq!(r.result, Applied::Moved, "{name} {shown}: {report:#?}");
            assert!(
                r.detail
                    .contains(&format!("revision {planned} when planned"))
                    && r.detail.contains(&format!("{} now", planned + 1)),
                "{name}: {}",
                r.detail
            );
        }
        // The platform: both Active as the administrator left them, nothing deleted.
        assert_eq!(server.token_status(&s).as_deref(), Some("Active"));
        assert_eq!(server.token_status(&i).as_deref(), Some("Active"));
        assert_eq!(server.requests(Operation::Delete), 0);
        assert_eq!(server.requests(Operation::Disable), 0);
        assert!(report.failed() > 0, "a moved token needs a look");
    }
}
