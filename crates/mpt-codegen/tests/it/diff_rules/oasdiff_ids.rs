//! The oasdiff id of a change depends on where it is (a parameter, a request or response body,
//! a property inside one), not on our rule only; an ignore line naming that id accepts that
//! change and not another (adversarial cases id_*, ig_param_path_exact, ig_move_oldpath).

use super::platform::only_change_between;
use super::*;

/// The oasdiff id of the one change `edit` makes to `base()`.
fn id_of(edit: impl FnOnce(&mut Value)) -> Option<&'static str> {
    let mut new = base();
    edit(&mut new);
    only_change_between(&base(), &new, ours()).oasdiff_id()
}

#[test]
fn the_same_rule_gets_the_id_of_its_place() {
    // A type change: response property, query parameter, request property.
    assert_eq!(
        id_of(|d| at(d, WIDGET)["properties"]["size"]["type"] = json!("string")),
        Some("response-property-type-changed")
    );
    assert_eq!(
        id_of(|d| at(d, SELECT)["schema"]["type"] = json!("integer")),
        Some("request-parameter-type-changed")
    );
    assert_eq!(
        id_of(|d| at(d, NAME)["type"] = json!("integer")),
        Some("request-property-type-changed")
    );
    // Nullable added to a request property.
    assert_eq!(
        id_of(|d| at(d, NAME)["nullable"] = json!(true)),
        Some("request-property-became-nullable")
    );
    // A request maxLength widened, and narrowed on a parameter.
    let mut old = base();
    at(&mut old, NAME)["maxLength"] = json!(5);
    at(&mut old, SELECT)["schema"]["maxLength"] = json!(5);
    let mut new = old.clone();
    at(&mut new, NAME)["maxLength"] = json!(10);
    let c = only_change_between(&old, &new, ours());
    assert_eq!(
        c.oasdiff_id(),
        Some("request-property-max-length-increased")
    );
    let mut new = old.clone();
    at(&mut new, SELECT)["schema"]["maxLength"] = json!(3);
    let c = only_change_between(&old, &new, ours());
    assert_eq!(
        c.oasdiff_id(),
        Some("request-parameter-max-length-decreased")
    );
    // A parameter's enum value removed.
    let mut old = base();
    at(&mut old, SELECT)["schema"]["enum"] = json!(["a", "b"]);
    let mut new = old.clone();
    at(&mut new, SELECT)["schema"]["enum"] = json!(["a"]);
    let c = only_change_between(&old, &new, ours());
    assert_eq!(c.oasdiff_id(), Some("request-parameter-enum-value-removed"));
    // An operation deprecated with a sunset.
    assert_eq!(
        id_of(|d| {
            at(d, GET)["deprecated"] = json!(true);
            at(d, GET)["x-sunset"] = json!("2999-01-01");
        }),
        Some("endpoint-deprecated-with-sunset")
    );
    // A discriminator added to a response body.
    assert_eq!(
        id_of(|d| at(d, WIDGET)["discriminator"] = json!({"propertyName": "state"})),
        Some("response-body-discriminator-added")
    );
}

#[test]
fn a_parameters_sunset_rules_carry_the_parameter_ids() {
    let mut old = base();
    at(&mut old, SELECT)["deprecated"] = json!(true);
    at(&mut old, SELECT)["x-sunset"] = json!("2999-06-30");
    let mut earlier = old.clone();
    at(&mut earlier, SELECT)["x-sunset"] = json!("2999-01-01");
    let c = only_change_between(&old, &earlier, ours());
    assert_eq!(c.rule, "sunset-moved-earlier");
    assert_eq!(
        c.oasdiff_id(),
        Some("request-parameter-sunset-date-changed-too-small")
    );
    let mut deleted = old.clone();
    at(&mut deleted, SELECT)
        .as_object_mut()
        .unwrap()
        .remove("x-sunset");
    let c = only_change_between(&old, &deleted, ours());
    assert_eq!(c.oasdiff_id(), Some("request-parameter-sunset-deleted"));
    // On the operation, the same rules carry the endpoint's ids.
    let mut old = base();
    at(&mut old, GET)["deprecated"] = json!(true);
    at(&mut old, GET)["x-sunset"] = json!("2999-06-30");
    let mut earlier = old.clone();
    at(&mut earlier, GET)["x-sunset"] = json!("2999-01-01");
    let c = only_change_between(&old, &earlier, ours());
    assert_eq!(c.oasdiff_id(), Some("api-sunset-date-changed-too-small"));
}

#[test]
fn an_ignore_line_with_oasdiffs_id_accepts_that_change_only() {
    // Two type changes in one operation: the query parameter's and a response property's.
    let mut new = base();
    at(&mut new, SELECT)["schema"]["type"] = json!("integer");
    at(&mut new, WIDGET)["properties"]["size"]["type"] = json!("string");
    let report = compare(&base(), &new, ours());
    assert_eq!(report.changes.len(), 2, "{}", report.text());
    let (kept, accepted) = report
        .clone()
        .without_ignored("GET /widgets/{id} request-parameter-type-changed\n");
    assert_eq!(accepted, 1);
    assert_eq!(
        kept.changes[0].oasdiff_id(),
        Some("response-property-type-changed")
    );
    let (kept, accepted) = report
        .clone()
        .without_ignored("GET /widgets/{id} response-property-type-changed\n");
    assert_eq!(accepted, 1);
    assert_eq!(
        kept.changes[0].oasdiff_id(),
        Some("request-parameter-type-changed")
    );
    // oasdiff's request-side id does not accept the response change.
    let (_, accepted) = report.without_ignored("GET /widgets/{id} request-property-type-changed\n");
    assert_eq!(accepted, 0);
}

/// Adversarial case ig_move_oldpath: oasdiff reports a move as a removal at the old path, so
/// an ignore line naming the old path accepts the move.
#[test]
fn an_ignore_line_naming_a_moved_operations_old_path_accepts_the_move() {
    let doc = |path: &str| {
        json!({
            "openapi": "3.0.1",
            "info": {"title": "T", "version": "1"},
            "paths": {path: {"get": {"responses": {"200": {"description": "OK"}}}}}
        })
    };
    let report = compare(&doc("/v1/orders"), &doc("/v1/commerce/orders"), ours());
    let c = &report.changes[0];
    assert_eq!(
        (c.rule, c.level, c.oasdiff_id()),
        (
            "operation-method-or-path-changed",
            Level::Breaking,
            Some("api-path-removed-without-deprecation")
        ),
        "{}",
        report.text()
    );
    for line in [
        "GET /v1/orders api-path-removed-without-deprecation",
        "GET /v1/commerce/orders operation-method-or-path-changed",
    ] {
        let (kept, accepted) = report.clone().without_ignored(line);
        assert_eq!((accepted, kept.changes.len()), (1, 0), "{line}");
    }
    // Another path accepts nothing.
    let (_, accepted) =
        report.without_ignored("GET /v1/items api-path-removed-without-deprecation");
    assert_eq!(accepted, 0);
}
