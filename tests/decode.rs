//! Real and realistic payloads decode through the generated types, including fields and enum
//! values the spec does not declare (the platform sends both).

use mpt_api::types::{
    ApiToken, ApiTokenListResponse, CreateApiTokenDto, PlatformObjectEvent, ProblemDetails,
    ProblemErrors,
};
use serde::de::DeserializeOwned;

fn fixture<T: DeserializeOwned>(name: &str) -> T {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path} does not decode: {e}"))
}

#[test]
fn the_docs_token_object_decodes() {
    let token: ApiToken = fixture("token-docs-object.json");
    assert_eq!(token.id.as_deref(), Some("TKN-4134-7330"));
    assert_eq!(token.status.as_deref().map(String::as_str), Some("Active"));
    assert_eq!(token.modules.len(), 2);
    assert_eq!(token.modules[1].id.as_deref(), Some("MOD-9042-8216"));
    assert_eq!(
        token.token.as_ref().map(|s| s.expose_secret()),
        Some("CODE")
    );
}

#[test]
fn unknown_fields_and_unknown_enum_values_are_kept_or_ignored_not_refused() {
    let token: ApiToken = fixture("token-unknown-fields-and-values.json");
    assert_eq!(
        token.status.as_deref().map(String::as_str),
        Some("Suspended")
    );
    let account = token.account.as_ref().unwrap();
    assert_eq!(
        account.type_.as_deref().map(String::as_str),
        Some("Development")
    );
    assert_eq!(
        account.status.as_deref().map(String::as_str),
        Some("Frozen")
    );
    assert_eq!(
        token.extensions.as_ref().unwrap()[0].status.as_deref(),
        Some("Archived")
    );
    assert_eq!(token.last_access_at, None);
    assert_eq!(token.revision, Some(7));
    let created = token.audit.as_ref().unwrap().created.as_ref().unwrap();
    assert_eq!(
        created.at.unwrap().to_rfc3339(),
        "2026-03-01T10:00:00+00:00"
    );
    assert_eq!(created.by.as_ref().unwrap().name.as_deref(), Some("Ada"));
    assert_eq!(
        token.modules[0].settings.as_ref().unwrap().type_,
        ["Client"]
    );
}

#[test]
fn the_secret_never_shows_in_debug_output() {
    let token: ApiToken = fixture("token-unknown-fields-and-values.json");
    let debug = format!("{token:?}");
    assert!(!debug.contains("4f1c0e9a3b7d"), "{debug}");
    assert!(debug.contains("TokenSecret([REDACTED])"), "{debug}");
    assert_eq!(token.token.unwrap().token_id(), Some("TKN-1234-5678"));
}

#[test]
fn the_generated_5x_sample_with_placeholder_enum_values_decodes() {
    let token: ApiToken = fixture("token-5x-sample.json");
    assert_eq!(
        token.account.unwrap().type_.as_deref().map(String::as_str),
        Some("text")
    );
    assert_eq!(token.meta.unwrap().omitted, ["text"]);
    let module = &token.modules[0];
    assert_eq!(module.filters.as_ref().unwrap().group_buyers, ["text"]);
    assert_eq!(
        module
            .settings
            .as_ref()
            .unwrap()
            .eligibility
            .as_ref()
            .unwrap()
            .multi,
        Some(true)
    );
}

#[test]
fn a_list_page_decodes_with_its_pagination() {
    let page: ApiTokenListResponse = fixture("list-page.json");
    let meta = page.meta.unwrap();
    let pagination = meta.pagination.unwrap();
    assert_eq!(
        (pagination.offset, pagination.limit, pagination.total),
        (Some(0), Some(2), Some(3))
    );
    assert_eq!(meta.omitted, ["audit"]);
    assert_eq!(page.data.len(), 2);
    assert_eq!(
        page.data[1].last_access_at.unwrap().to_rfc3339(),
        "2026-11-01T07:30:00+00:00"
    );
}

#[test]
fn a_count_only_response_decodes() {
    let page: ApiTokenListResponse = fixture("list-count-only.json");
    assert!(page.data.is_empty());
    assert_eq!(page.meta.unwrap().pagination.unwrap().total, Some(42));
}

#[test]
fn problem_details_decode_in_both_error_shapes() {
    let map: ProblemDetails = fixture("problem-validation-map.json");
    assert_eq!(map.status, Some(400));
    assert_eq!(
        map.trace_id.as_deref(),
        Some("00-9e02a91b64ac56904703a3a69ea9101d-56be90a29d0b0b25-00")
    );
    match map.errors {
        Some(ProblemErrors::ByField(fields)) => {
            assert_eq!(fields["mistake"], ["Unknown expression group."]);
        }
        other => panic!("expected the by-field shape, got {other:?}"),
    }

    let list: ProblemDetails = fixture("problem-error-list.json");
    assert_eq!(list.title.as_deref(), Some("Order update failed"));
    match list.errors {
        Some(ProblemErrors::List(items)) => {
            assert_eq!(items.len(), 2);
            assert_eq!(items[1].message.as_deref(), Some("External ID is too long"));
            assert_eq!(items[0].properties, ["listing.id"]);
        }
        other => panic!("expected the list shape, got {other:?}"),
    }
}

#[test]
fn problem_details_keep_extension_members_they_do_not_declare() {
    let problem: ProblemDetails = serde_json::from_str(
        r#"{"status": 409, "title": "Conflict", "code": "MPT-409-1", "retryable": false}"#,
    )
    .unwrap();
    assert_eq!(problem.extra["code"], "MPT-409-1");
    assert_eq!(problem.extra["retryable"], false);
}

#[test]
fn a_token_as_an_audit_actor_decodes() {
    let doc: serde_json::Value = fixture("token-as-audit-actor.json");
    let event: PlatformObjectEvent =
        serde_json::from_value(doc["users_audit_created"].clone()).unwrap();
    assert_eq!(event.by.unwrap().id.as_deref(), Some("TKN-7670-9957"));
    let actor: ApiToken = serde_json::from_value(doc["audit_record_actor"].clone()).unwrap();
    assert_eq!(actor.account.unwrap().id.as_deref(), Some("ACC-1675-9721"));
}

#[test]
fn a_create_request_without_a_name_or_account_is_refused() {
    let no_account = r#"{"name": "n", "modules": [{"id": "MOD-1"}]}"#;
    assert!(serde_json::from_str::<CreateApiTokenDto>(no_account).is_err());
    let empty_name = r#"{"account": {"id": "ACC-1"}, "name": "", "modules": [{"id": "MOD-1"}]}"#;
    assert!(serde_json::from_str::<CreateApiTokenDto>(empty_name).is_err());
}

#[test]
fn create_requests_from_the_docs_and_the_python_client_decode() {
    let docs: CreateApiTokenDto = fixture("create-request-sample.json");
    assert_eq!(docs.modules[0].id.as_str(), "text");
    let python: CreateApiTokenDto = fixture("create-request-python-client.json");
    assert_eq!(python.account.id.as_str(), "ACC-9042-0088");
    assert_eq!(python.name.as_str(), "E2E Test API Token");
}
