//! What a new user writes from the README and rustdoc alone compiles and works.

use crate::common::*;

/// `into_result()?` in a function returning a boxed error, `From<Outcome> for Token`, iterable
/// reports, `mpt::chrono`, `mpt::types`, `Token: Deserialize`, `parse::<TokenStatus>()?`,
/// filters from `String`s, page sizes out of range refused.
#[tokio::test]
async fn what_a_new_user_writes_compiles_and_works() -> Result<(), Box<dyn std::error::Error>> {
    let server = MockServer::start().await?;
    let client = admin(&server);
    let t = server.seed_token(SeedToken::named("n"));
    let report = client.ensure_disabled_many([t.id.as_str()], 2).await;
    for (id, result) in &report {
        assert_eq!(id, &t.id);
        assert!(result.is_ok());
    }
    let outcomes = report.into_result()?;
    let token: mpt::Token = outcomes.into_iter().next().unwrap().1.into();
    assert_eq!(token.status(), TokenStatus::Disabled);

    let failed = client
        .ensure_disabled_many(["TKN-0000-0404"], 1)
        .await
        .into_result();
    let failures = failed.unwrap_err();
    let as_error: Box<dyn std::error::Error> = Box::new(failures);
    assert!(
        as_error
            .to_string()
            .starts_with("1 id failed: TKN-0000-0404"),
        "{as_error}"
    );

    fn parse(s: &str) -> Result<TokenStatus, mpt::Error> {
        Ok(s.parse::<TokenStatus>()?)
    }
    assert_eq!(parse("Active")?, TokenStatus::Active);
    let _: mpt::chrono::DateTime<mpt::chrono::Utc> = mpt::chrono::Utc::now();
    let _: Option<mpt::types::ApiToken> = None;

    let json = serde_json::to_string(&token)?;
    let back: mpt::Token = serde_json::from_str(&json)?;
    assert_eq!(back.id(), token.id());
    assert!(back.secret().is_none(), "[REDACTED] is no secret");

    let name = String::from("n*");
    let found = client
        .list()
        .filter(Filter::name_like(name))
        .collect()
        .await?;
    assert_eq!(found.len(), 1);
    for size in [0, 101] {
        let err = client.list().page_size(size).collect().await.unwrap_err();
        assert!(err.to_string().contains("page_size"), "{err}");
    }
    let _ = NoopTransitions::Refused;
    Ok(())
}
