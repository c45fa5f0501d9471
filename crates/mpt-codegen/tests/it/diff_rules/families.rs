//! Issue 16's rule families (bounds, patterns, enums, defaults, read/write-only, branches, headers,
//! operation ids, security alternatives), judged by direction and requiredness, and no false
//! alarms.

use super::*;

#[test]
fn length_bounds_follow_the_direction_of_the_data() {
    // A request: the server accepting less breaks; a response: the generated types check string
    // lengths when they decode, so the server sending more breaks.
    both_ways(
        |d| at(d, NAME)["maxLength"] = json!(10),
        ours(),
        ("request-max-length-narrowed", Level::Breaking),
        ("request-max-length-widened", Level::NonBreaking),
    );
    both_ways(
        |d| at(d, NAME)["minLength"] = json!(3),
        ours(),
        ("request-min-length-narrowed", Level::Breaking),
        ("request-min-length-widened", Level::NonBreaking),
    );
    both_ways(
        |d| at(d, ID)["maxLength"] = json!(20),
        ours(),
        ("response-max-length-narrowed", Level::NonBreaking),
        ("response-max-length-widened", Level::Breaking),
    );
}

#[test]
fn numeric_and_item_bounds_follow_the_direction_of_the_data() {
    let size = "/components/schemas/NewWidget/properties/size";
    both_ways(
        |d| at(d, size)["minimum"] = json!(1),
        ours(),
        ("request-minimum-narrowed", Level::Breaking),
        ("request-minimum-widened", Level::NonBreaking),
    );
    // exclusiveMaximum on the same value narrows.
    let old = {
        let mut d = base();
        at(&mut d, size)["maximum"] = json!(10);
        d
    };
    let mut new = old.clone();
    at(&mut new, size)["exclusiveMaximum"] = json!(true);
    let c = &compare(&old, &new, ours()).changes[0];
    assert_eq!(
        (c.rule, c.level),
        ("request-maximum-narrowed", Level::Breaking)
    );
    both_ways(
        |d| at(d, "/components/schemas/Widget/properties/size")["maximum"] = json!(5),
        ours(),
        ("response-maximum-narrowed", Level::NonBreaking),
        ("response-maximum-widened", Level::PotentiallyBreaking),
    );
    // Item counts are not checked on decode: a response may widen them.
    both_ways(
        |d| at(d, "/components/schemas/Widget/properties/tags")["maxItems"] = json!(3),
        ours(),
        ("response-max-items-narrowed", Level::NonBreaking),
        ("response-max-items-widened", Level::NonBreaking),
    );
}

#[test]
fn patterns_unique_items_enums_defaults_and_read_write_only() {
    both_ways(
        |d| at(d, SELECT)["schema"]["pattern"] = json!("^[a-z]+$"),
        ours(),
        ("request-pattern-added-or-changed", Level::Breaking),
        ("request-pattern-removed", Level::NonBreaking),
    );
    // Response patterns are dropped from the generated types (generator.dropPatterns) ...
    both_ways(
        |d| at(d, ID)["pattern"] = json!("^W-"),
        ours(),
        ("response-pattern-changed", Level::NonBreaking),
        ("response-pattern-changed", Level::NonBreaking),
    );
    // ... but a client that checks them breaks when the pattern goes.
    both_ways(
        |d| at(d, ID)["pattern"] = json!("^W-"),
        Tolerance::strict(),
        ("response-pattern-changed", Level::NonBreaking),
        ("response-pattern-changed", Level::Breaking),
    );
    both_ways(
        |d| at(d, "/components/schemas/Widget/properties/tags")["uniqueItems"] = json!(true),
        ours(),
        ("unique-items-added", Level::NonBreaking),
        ("unique-items-removed", Level::NonBreaking),
    );
    check(
        |d| at(d, NAME)["enum"] = json!(["a", "b"]),
        ours(),
        "request-property-became-enum",
        Level::Breaking,
        Some(NAME),
        Some(NAME),
    );
    check(
        |d| at(d, ID)["enum"] = json!(["W-1"]),
        ours(),
        "response-property-became-enum",
        Level::NonBreaking,
        Some(ID),
        Some(ID),
    );
    check(
        |d| at(d, ID)["enum"] = json!(["W-1"]),
        Tolerance::strict(),
        "response-property-became-enum",
        Level::Breaking,
        Some(ID),
        Some(ID),
    );
    check(
        |d| at(d, SELECT)["schema"]["default"] = json!("id"),
        ours(),
        "default-changed",
        Level::PotentiallyBreaking,
        Some(&format!("{SELECT}/schema")),
        Some(&format!("{SELECT}/schema")),
    );
    check(
        |d| at(d, "/components/schemas/NewWidget/properties/colour")["readOnly"] = json!(true),
        ours(),
        "became-read-or-write-only",
        Level::PotentiallyBreaking,
        Some("/components/schemas/NewWidget/properties/colour"),
        Some("/components/schemas/NewWidget/properties/colour"),
    );
    // An optional response field that turns writeOnly is no longer returned: it is an
    // `Option` already, and decodes as `None` (oasdiff rates it INFO) ...
    check(
        |d| at(d, "/components/schemas/Widget/properties/note")["writeOnly"] = json!(true),
        ours(),
        "became-read-or-write-only",
        Level::NonBreaking,
        Some("/components/schemas/Widget/properties/note"),
        Some("/components/schemas/Widget/properties/note"),
    );
    // ... a required one is missing from every answer: decoding breaks.
    check(
        |d| at(d, ID)["writeOnly"] = json!(true),
        ours(),
        "became-read-or-write-only",
        Level::Breaking,
        Some(ID),
        Some(ID),
    );
}

#[test]
fn one_of_branches_are_compared_by_the_schema_they_name() {
    let old = with_shapes();
    let shape = "/components/schemas/Widget/properties/shape/oneOf";
    let mut new = old.clone();
    at(&mut new, shape)
        .as_array_mut()
        .unwrap()
        .push(json!({"$ref": "#/components/schemas/Triangle"}));
    let report = compare(&old, &new, ours());
    let c = &report.changes[0];
    assert_eq!(
        (c.rule, c.level, report.changes.len()),
        ("response-branch-added", Level::Breaking, 1),
        "{}",
        report.text()
    );
    let c = &compare(&new, &old, ours()).changes[0];
    assert_eq!(
        (c.rule, c.level),
        ("response-branch-removed", Level::NonBreaking)
    );
    // Reordered branches are no change; a change inside one is seen.
    let mut new = old.clone();
    at(&mut new, shape).as_array_mut().unwrap().reverse();
    assert!(compare(&old, &new, ours()).changes.is_empty());
    let mut new = old.clone();
    at(&mut new, "/components/schemas/Circle/properties")
        .as_object_mut()
        .unwrap()
        .remove("r");
    let c = &compare(&old, &new, ours()).changes[0];
    assert_eq!(
        (c.rule, c.level),
        ("response-property-removed", Level::Breaking)
    );
    assert_eq!(
        c.old.as_deref(),
        Some("/components/schemas/Circle/properties/r")
    );
    // A discriminator that changes its property breaks.
    let mut a = old.clone();
    at(&mut a, "/components/schemas/Widget/properties/shape")["discriminator"] =
        json!({"propertyName": "kind"});
    let mut b = old.clone();
    at(&mut b, "/components/schemas/Widget/properties/shape")["discriminator"] =
        json!({"propertyName": "type"});
    let c = &compare(&a, &b, ours()).changes[0];
    assert_eq!(
        (c.rule, c.level),
        ("discriminator-changed", Level::Breaking)
    );
}

#[test]
fn response_headers_and_operation_ids() {
    let created = "/paths/~1widgets/post/responses/201";
    let old = {
        let mut d = base();
        at(&mut d, created)["headers"] =
            json!({"Location": {"required": true, "schema": {"type": "string"}}});
        d
    };
    let mut new = old.clone();
    at(&mut new, created)
        .as_object_mut()
        .unwrap()
        .remove("headers");
    let c = &compare(&old, &new, ours()).changes[0];
    assert_eq!(
        (c.rule, c.level),
        ("response-required-header-removed", Level::Breaking)
    );
    let c = &compare(&new, &old, ours()).changes[0];
    assert_eq!(
        (c.rule, c.level),
        ("response-header-added", Level::NonBreaking)
    );
    // Header names are case-insensitive.
    let mut new = old.clone();
    at(&mut new, created)["headers"] =
        json!({"location": {"required": true, "schema": {"type": "string"}}});
    assert!(compare(&old, &new, ours()).changes.is_empty());
    check(
        |d| at(d, GET)["operationId"] = json!("fetch_widget"),
        ours(),
        "operation-id-changed",
        Level::Breaking,
        Some(&format!("{GET}/operationId")),
        Some(&format!("{GET}/operationId")),
    );
}

#[test]
fn security_alternatives_and_scopes() {
    let with = |security: Value| {
        let mut d = base();
        d["components"]["securitySchemes"] = json!({
            "bearer": {"type": "http", "scheme": "bearer"},
            "key": {"type": "apiKey", "in": "header", "name": "X-Key"},
            "oauth": {"type": "oauth2", "flows": {}}
        });
        at(&mut d, GET)["security"] = security;
        d
    };
    let judge = |old: Value, new: Value| {
        let report = compare(&with(old), &with(new), ours());
        assert_eq!(report.changes.len(), 1, "{}", report.text());
        (report.changes[0].rule, report.changes[0].level)
    };
    assert_eq!(
        judge(
            json!([{"bearer": []}]),
            json!([{"bearer": []}, {"key": []}])
        ),
        ("security-alternative-added", Level::NonBreaking)
    );
    assert_eq!(
        judge(json!([{"bearer": []}, {"key": []}]), json!([{"key": []}])),
        ("security-alternative-removed", Level::Breaking),
        "the alternative the SDK uses"
    );
    assert_eq!(
        judge(
            json!([{"bearer": []}, {"key": []}]),
            json!([{"bearer": []}])
        ),
        ("security-alternative-removed", Level::NonBreaking)
    );
    assert_eq!(
        judge(
            json!([{"oauth": ["read"]}]),
            json!([{"oauth": ["read", "write"]}])
        ),
        ("security-scope-added", Level::Breaking)
    );
    // A scheme nobody uses goes: not breaking; the SDK's scheme goes: breaking.
    let old = with(json!([{"bearer": []}]));
    let mut new = old.clone();
    new["components"]["securitySchemes"]
        .as_object_mut()
        .unwrap()
        .remove("key");
    let c = &compare(&old, &new, ours()).changes[0];
    assert_eq!(
        (c.rule, c.level),
        ("security-scheme-removed", Level::NonBreaking)
    );
    // AND-sets: needing bearer and key where bearer sufficed breaks.
    assert_eq!(
        judge(json!([{"bearer": []}]), json!([{"bearer": [], "key": []}])),
        ("security-alternative-tightened", Level::Breaking)
    );
    assert_eq!(
        judge(
            json!([{"oauth": ["read", "write"]}]),
            json!([{"oauth": ["read"]}])
        ),
        ("security-scope-removed", Level::NonBreaking)
    );
}

#[test]
fn no_false_alarms_for_header_case_media_type_parameters_or_widened_parameters() {
    let mut old = base();
    at(&mut old, &format!("{GET}/parameters"))
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "X-Request-Id", "in": "header", "schema": {"type": "string"}}));
    let mut new = old.clone();
    at(&mut new, &format!("{GET}/parameters/2"))["name"] = json!("x-request-id");
    assert!(compare(&old, &new, ours()).changes.is_empty());
    let ok = "/paths/~1widgets~1{id}/get/responses/200/content";
    let mut new = base();
    let media = at(&mut new, ok)
        .as_object_mut()
        .unwrap()
        .remove("application/json")
        .unwrap();
    at(&mut new, ok)["application/json; charset=utf-8"] = media;
    let report = compare(&base(), &new, ours());
    assert!(report.changes.is_empty(), "{}", report.text());
    let mut old = base();
    at(&mut old, SELECT)["schema"] = json!({"type": "integer", "format": "int32"});
    let mut new = old.clone();
    at(&mut new, SELECT)["schema"]["format"] = json!("int64");
    let c = &compare(&old, &new, ours()).changes[0];
    assert_eq!(
        (c.rule, c.level),
        ("request-format-widened", Level::NonBreaking)
    );
}

#[test]
fn a_schema_shared_by_request_and_response_is_judged_both_ways() {
    // PUT takes and returns Widget: a property removed breaks the answer (not just
    // "potentially breaking" for the request).
    // The PUT is the only operation, so nothing else reads `Widget`.
    let mut old = base();
    old["paths"] = json!({"/widgets/{id}": {}});
    old["paths"]["/widgets/{id}"]["put"] = json!({
        "operationId": "update_widget",
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Widget"}}}},
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Widget"}}}}}
    });
    let mut new = old.clone();
    at(&mut new, "/components/schemas/Widget/properties")
        .as_object_mut()
        .unwrap()
        .remove("size");
    let report = compare(&old, &new, ours());
    let rules: Vec<(&str, Level)> = report.changes.iter().map(|c| (c.rule, c.level)).collect();
    assert!(
        rules.contains(&("response-property-removed", Level::Breaking)),
        "{rules:?}"
    );
    assert!(
        rules.contains(&("request-property-removed", Level::PotentiallyBreaking)),
        "{rules:?}"
    );
    assert!(report.is_breaking());
}

#[test]
fn a_schema_reached_required_and_optional_is_judged_each_way_whatever_the_names() {
    // `Tag` reached by a required and an optional property of the answer: becoming nullable
    // breaks the required one, whichever property name sorts first.
    for (first, second) in [("aaa", "zzz"), ("zzz", "aaa")] {
        let mut old = base();
        let widget = at(&mut old, "/components/schemas/Widget");
        widget["properties"][first] = json!({"$ref": "#/components/schemas/Tag"});
        widget["properties"][second] = json!({"$ref": "#/components/schemas/Tag"});
        widget["required"] = json!(["id", first]);
        let mut new = old.clone();
        at(&mut new, "/components/schemas/Tag")["nullable"] = json!(true);
        let report = compare(&old, &new, ours());
        assert!(report.is_breaking(), "{first}: {}", report.text());
    }
}

#[test]
fn a_side_that_cannot_be_compared_is_refused_naming_the_file() {
    use mpt_codegen::amend::Amendments;
    let dir = tempfile::tempdir().unwrap();
    let amendments = Amendments::read(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../openapi/amendments.json"
    )))
    .unwrap();
    let mut dangling = base();
    at(
        &mut dangling,
        "/components/schemas/Widget/properties/tags/items",
    )["$ref"] = json!("#/components/schemas/Nope");
    let file = dir.path().join("new.json");
    std::fs::write(&file, dangling.to_string()).unwrap();
    let err = mpt_codegen::diff::load_side(&file, &amendments).unwrap_err();
    assert!(err.to_string().contains("new.json"), "{err}");
    assert!(err.to_string().contains("Nope"), "{err}");
    let yaml = dir.path().join("spec.yaml");
    std::fs::write(&yaml, "openapi: 3.0.1\ninfo:\n  title: T\n").unwrap();
    let err = mpt_codegen::diff::load_side(&yaml, &amendments).unwrap_err();
    assert!(err.to_string().contains("YAML"), "{err}");
}

#[test]
fn the_facade_exposure_comes_from_its_listing() {
    use mpt_codegen::diff::facade_exposure;
    let doc = base();
    let whole = facade_exposure(&doc, &["crate: pub use mpt_api::{self, types};".into()]);
    assert_eq!(whole.len(), 3);
    let some = facade_exposure(&doc, &["token: pub fn raw(&self) -> &Widget {}".into()]);
    assert_eq!(
        some.into_iter().collect::<Vec<_>>(),
        ["Tag".to_string(), "Widget".to_string()],
        "Widget and what it refers to"
    );
}
