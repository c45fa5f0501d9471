//! Contract tests against Prism, an implementation of the merged spec that no one here wrote.
//!
//! `.ci/prism` installs Prism, starts `prism mock --errors` (every request is validated: an
//! invalid one is answered with an error, failing the call) and `prism mock --dynamic --seed`
//! (random responses generated from the spec), and runs these tests with `--ignored`, passing
//! the URLs in `MPT_PRISM_URL` and `MPT_PRISM_DYNAMIC_URL`.

use crate::common::*;

fn client(var: &str) -> Client {
    let url = std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set: run .ci/prism"));
    Client::builder()
        .base_url(url)
        .api_token("idt:TKN-0000-0000:prism")
        .retry(RetryPolicy::none())
        .build()
        .unwrap()
}

/// Every facade call sends a request the spec accepts.
#[tokio::test]
#[ignore = "needs Prism: run by .ci/prism"]
async fn every_facade_operation_sends_valid_requests() {
    let c = client("MPT_PRISM_URL");
    let since = chrono::Utc::now() - chrono::Duration::days(30);
    c.list()
        .filter(Filter::account("ACC-1234-5678").and(Filter::status(TokenStatus::Active)))
        .order_by(SortField::Name)
        .order_by_desc(SortField::Created)
        .select(["-audit", "+modules"])
        .page_size(50)
        .stream()
        .take(5)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    // Prism's example total is i32::MIN, which no count can be: only that refusal is accepted.
    match c.list().filter(Filter::never_used()).count().await {
        Ok(_) | Err(Error::Decode { status: 200, .. }) => {}
        Err(e) => panic!("count: {e}"),
    }
    c.stale(since)
        .take(3)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    c.get("TKN-1234-5678").await.unwrap();
    c.get_with_select("TKN-1234-5678", ["-audit", "+account"])
        .await
        .unwrap();
    let created = c
        .create(
            &NewToken::new("ACC-1234-5678", "contract")
                .module("MOD-1756")
                .description("d")
                .icon("/i.png"),
        )
        .await
        .unwrap();
    assert!(!created.secret.expose_secret().is_empty());
    c.update(
        "TKN-1234-5678",
        &TokenUpdate::new()
            .name("renamed")
            .clear_description()
            .clear_icon()
            .modules(["MOD-1756"]),
    )
    .await
    .unwrap();
    c.update("TKN-1234-5678", &TokenUpdate::new().description("set"))
        .await
        .unwrap();
    c.enable("TKN-1234-5678").await.unwrap();
    c.disable("TKN-1234-5678").await.unwrap();
    c.delete("TKN-1234-5678").await.unwrap();
    c.delete_if_exists("TKN-1234-5678").await.unwrap();
    // Prism's example token has status "string", a state this SDK does not know: the ensure
    // helpers send their requests (valid, or Prism would refuse them) and then refuse to call
    // an unknown state success.
    let unknown = |r: Result<mpt::Outcome, Error>| match r {
        Err(Error::UnexpectedState { status, .. }) => assert!(!status.is_known()),
        other => panic!("{other:?}"),
    };
    unknown(c.ensure_active("TKN-1234-5678").await);
    unknown(c.ensure_disabled("TKN-1234-5678").await);
    for (_, result) in c.ensure_disabled_many(["TKN-1", "TKN-2"], 2).await.results {
        unknown(result);
    }
    // A rotation cannot start from an unknown state either; the plan's read is valid.
    assert!(matches!(
        c.plan_rotation("TKN-1234-5678").await,
        Err(Error::UnexpectedState { .. })
    ));
}

/// Every response Prism generates from the spec decodes.
#[tokio::test]
#[ignore = "needs Prism: run by .ci/prism"]
async fn every_generated_response_decodes() {
    let c = client("MPT_PRISM_DYNAMIC_URL");
    for round in 0..300 {
        let id = format!("TKN-{:04}-0000", round);
        let outcome: Result<(), Error> = async {
            c.list()
                .page_size(20)
                .stream()
                .take(20)
                .try_collect::<Vec<_>>()
                .await?;
            c.list().count().await.ok(); // `total` is nullable: a generated null is not a count
            c.get(&id).await?;
            c.create(&NewToken::new("ACC-1234-5678", "n").module("MOD-1"))
                .await?;
            c.update(id.as_str(), &TokenUpdate::new().name("n")).await?;
            c.enable(id.as_str()).await?;
            c.disable(id.as_str()).await?;
            c.delete(id.as_str()).await?;
            Ok(())
        }
        .await;
        if let Err(e) = outcome {
            panic!("round {round}: a generated response did not decode: {e}");
        }
    }
}
