//! A tour of the SDK against the embedded mock server: no credentials, no network.
//!
//! Run it with `cargo run --example quickstart`. To point the same steps at the real platform,
//! replace the mock with `Client::from_env()` (`MPT_API_TOKEN`, `MPT_API_BASE_URL`) and use your
//! own account and module ids.

use futures_util::TryStreamExt;
use mpt::{Client, Error, Filter, NewToken, TokenStatus};
use mpt_mock::{DEFAULT_ACCOUNT, DEFAULT_MODULE, MockServer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = MockServer::start().await?;
    println!("1. mock Marketplace API listening on {}", server.base_url());
    let admin = Client::builder()
        .base_url(server.base_url())
        .api_token(server.admin_secret())
        .build()?;

    let created = admin
        .create(
            &NewToken::new(DEFAULT_ACCOUNT, "quickstart deployer")
                .module(DEFAULT_MODULE)
                .description("made by the quickstart"),
        )
        .await?;
    let id = created.token.id().to_string();
    println!(
        "2. created {id} ({}), revision {:?}; secret {:?}",
        created.token.status(),
        created.token.revision(),
        created.secret
    );

    // A client that authenticates with the new token's own secret.
    let own = Client::builder()
        .base_url(server.base_url())
        .api_token(created.secret.expose_secret())
        .build()?;
    let me = own.get(&id).await?;
    println!(
        "3. its secret works: GET {id} -> {} (last access {:?})",
        me.status(),
        me.last_access_at()
    );

    let disabled = admin.ensure_disabled(id.as_str()).await?;
    println!(
        "4. disabled it: {} (changed: {})",
        disabled.token().status(),
        disabled.changed()
    );
    match own.get(&id).await {
        Err(Error::Unauthorized(problem)) => {
            println!("5. the same secret is now refused: {problem}")
        }
        other => return Err(format!("expected 401, got {other:?}").into()),
    }

    let again = admin.ensure_disabled(id.as_str()).await?;
    println!(
        "6. disabling again is a no-op: changed: {}",
        again.changed()
    );
    let enabled = admin.ensure_active(id.as_str()).await?;
    println!(
        "7. enabled it again: {}; the secret works again: {}",
        enabled.token().status(),
        own.get(&id).await.is_ok()
    );

    // Zero-downtime rotation: the replacement is made and the old token stays Active, so both
    // secrets work while services move to the new one.
    let mut rotation = admin.rotate(id.as_str()).await?;
    let saved_plan = serde_json::to_string(&rotation.plan)?; // ids, phase, times; never a secret
    let new_secret_works = Client::builder()
        .base_url(server.base_url())
        .api_token(rotation.new.secret.expose_secret())
        .build()?
        .get(rotation.new.token.id())
        .await
        .is_ok();
    println!(
        "8. rotation started: new {} is {}, old {id} is still {}; both secrets work: {}, {}",
        rotation.new.token.id(),
        rotation.new.token.status(),
        admin.get(id.as_str()).await?.status(),
        own.get(&id).await.is_ok(),
        new_secret_works
    );
    println!("   the plan to save: {saved_plan}");
    rotation.verify(&admin).await?; // a call made with the new secret
    rotation.retire(&admin, None).await?; // the new secret is deployed: disable the old token
    println!(
        "9. verified and retired: old {id} is {}, the old secret is refused: {}",
        admin.get(id.as_str()).await?.status(),
        own.get(&id).await.is_err()
    );

    let mut tokens = admin
        .list()
        .filter(Filter::account(DEFAULT_ACCOUNT))
        .stream();
    println!("10. tokens of {DEFAULT_ACCOUNT}:");
    while let Some(token) = tokens.try_next().await? {
        println!(
            "   - {} {:<22} {}",
            token.id(),
            token.name().unwrap_or(""),
            token.status()
        );
    }

    rotation.finish(&admin).await?; // delete the old token
    admin.delete(rotation.new.token.id()).await?;
    let left = admin
        .list()
        .filter(Filter::status(TokenStatus::Active).or(Filter::status(TokenStatus::Disabled)))
        .count()
        .await?;
    println!("11. finished the rotation and deleted the replacement: {left} tokens left");
    Ok(())
}
