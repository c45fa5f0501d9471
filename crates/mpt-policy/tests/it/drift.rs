//! One account in every kind of drift from one policy, for the plan's tests and the apply's.

use mpt::chrono::{DateTime, Duration, Utc};
use mpt_mock::Seeded;

use crate::common::*;

/// The seeded tokens, each drifting in its own way.
pub struct Drift {
    /// Its description differs (update).
    pub drifted: Seeded,
    /// Disabled, declared Active (enable).
    pub off: Seeded,
    /// Active, declared Disabled (disable).
    pub on: Seeded,
    /// Declared absent (delete).
    pub doomed: Seeded,
    /// 100 days old, used yesterday (rotate).
    pub aged: Seeded,
    /// Last used 40 days ago (disable, idle).
    pub idle: Seeded,
    /// Two live tokens of one declared name (ambiguous).
    pub twins: [Seeded; 2],
    /// Not declared (unmanaged).
    pub stray: Seeded,
}

fn seed(name: &str) -> SeedToken {
    SeedToken::named(name).with_modules([DEFAULT_MODULE])
}

impl Drift {
    /// Seeds the tokens in the default account, ages judged from `now`.
    pub fn seed(server: &MockServer, now: DateTime<Utc>) -> Drift {
        Drift {
            drifted: server.seed_token(seed("drifted").with_description("old words")),
            off: server.seed_token(seed("should-be-on").with_status("Disabled")),
            on: server.seed_token(seed("should-be-off")),
            doomed: server.seed_token(seed("doomed")),
            aged: server.seed_token(
                seed("aged")
                    .created(now - Duration::days(100))
                    .last_used(now - Duration::days(1)),
            ),
            idle: server.seed_token(
                seed("idle")
                    .created(now - Duration::days(200))
                    .last_used(now - Duration::days(40)),
            ),
            twins: [
                server.seed_token(seed("twin")),
                server.seed_token(seed("twin")),
            ],
            stray: server.seed_token(seed("stray")),
        }
    }

    /// The policy: `missing` to create, then one entry per drifting token and a pin that
    /// matches nothing (10 actions in all). `extra` adds TOML lines to the entry of a name (a
    /// `secret` sink, say); `more` is appended (more entries).
    pub fn policy(extra: &[(&str, String)], more: &str) -> String {
        let entries: [(&str, &str); 9] = [
            ("missing", "description = \"made by the policy\"\n"),
            ("drifted", "description = \"new words\"\n"),
            ("should-be-on", ""),
            ("should-be-off", "status = \"Disabled\"\n"),
            ("doomed", "status = \"absent\"\n"),
            ("aged", ""),
            ("idle", ""),
            ("twin", ""),
            ("pinned", "id = \"TKN-9999-9999\"\n"),
        ];
        let mut text = format!(
            "[[accounts]]\nid = \"{DEFAULT_ACCOUNT}\"\nrotate_after = \"90d\"\ndisable_idle_after = \"30d\"\n"
        );
        for (name, lines) in entries {
            text.push_str(&format!(
                "\n[[accounts.tokens]]\nname = \"{name}\"\n{lines}"
            ));
            if name != "doomed" {
                text.push_str(&format!("modules = [\"{DEFAULT_MODULE}\"]\n"));
            }
            for (_, line) in extra.iter().filter(|(n, _)| *n == name) {
                text.push_str(line);
                text.push('\n');
            }
        }
        text.push_str(more);
        text
    }
}
