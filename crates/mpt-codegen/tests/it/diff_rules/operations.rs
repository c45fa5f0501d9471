//! Operations, parameters, request and response bodies, media types, status codes and security
//! schemes: the rules every API diff tool has.

use super::*;

#[test]
fn identical_specs_have_no_changes() {
    let report = compare(&base(), &base(), ours());
    assert!(report.changes.is_empty());
    assert_eq!(report.api_bump(), Bump::None);
}

#[test]
fn operation_removed_added_and_moved() {
    check(
        |d| {
            d["paths"].as_object_mut().unwrap().remove("/widgets");
        },
        ours(),
        "operation-removed",
        Level::Breaking,
        Some(POST),
        None,
    );
    check(
        |d| {
            d["paths"]["/gadgets"] = json!({"get": {"responses": {"200": {"description": "OK"}}}});
        },
        ours(),
        "operation-added",
        Level::NonBreaking,
        None,
        Some("/paths/~1gadgets/get"),
    );
    // Same operationId, another path: moved (and nothing else).
    let report = compare(
        &base(),
        &{
            let mut d = base();
            let item = d["paths"]
                .as_object_mut()
                .unwrap()
                .remove("/widgets")
                .unwrap();
            d["paths"]["/things"] = item;
            d
        },
        ours(),
    );
    assert_eq!(report.changes.len(), 1, "{}", report.text());
    let c = &report.changes[0];
    assert_eq!(
        (c.rule, c.level),
        ("operation-method-or-path-changed", Level::Breaking)
    );
    assert_eq!(c.new.as_deref(), Some("/paths/~1things/post"));
    // The method changed.
    let report = compare(
        &base(),
        &{
            let mut d = base();
            let op = d["paths"]["/widgets"]
                .as_object_mut()
                .unwrap()
                .remove("post")
                .unwrap();
            d["paths"]["/widgets"]["put"] = op;
            d
        },
        ours(),
    );
    assert_eq!(report.changes[0].rule, "operation-method-or-path-changed");
}

#[test]
fn parameters_removed_renamed_added_and_required() {
    check(
        |d| {
            at(d, &format!("{GET}/parameters"))
                .as_array_mut()
                .unwrap()
                .remove(1);
        },
        ours(),
        "parameter-removed",
        Level::Breaking,
        Some(&format!("{GET}/parameters/1")),
        None,
    );
    check(
        |d| {
            at(d, &format!("{GET}/parameters/1/name")).clone_from(&json!("fields"));
        },
        ours(),
        "parameter-renamed",
        Level::Breaking,
        Some(&format!("{GET}/parameters/1")),
        Some(&format!("{GET}/parameters/1")),
    );
    check(
        |d| {
            at(d, &format!("{GET}/parameters")).as_array_mut().unwrap().push(json!({"name": "limit", "in": "query", "required": true, "schema": {"type": "integer"}}))
        },
        ours(),
        "parameter-required-added",
        Level::Breaking,
        None,
        Some(&format!("{GET}/parameters/2")),
    );
    check(
        |d| {
            at(d, &format!("{GET}/parameters"))
                .as_array_mut()
                .unwrap()
                .push(json!({"name": "limit", "in": "header", "schema": {"type": "integer"}}))
        },
        ours(),
        "parameter-optional-added",
        Level::NonBreaking,
        None,
        Some(&format!("{GET}/parameters/2")),
    );
    check(
        |d| {
            at(d, &format!("{GET}/parameters/1"))["required"] = json!(true);
        },
        ours(),
        "parameter-became-required",
        Level::Breaking,
        Some(&format!("{GET}/parameters/1/required")),
        Some(&format!("{GET}/parameters/1/required")),
    );
    check(
        |d| {
            at(d, &format!("{GET}/parameters/0"))["required"] = json!(false);
        },
        ours(),
        "parameter-became-optional",
        Level::NonBreaking,
        Some(&format!("{GET}/parameters/0/required")),
        Some(&format!("{GET}/parameters/0/required")),
    );
    check(
        |d| {
            at(d, &format!("{GET}/parameters/1/schema"))["type"] = json!("integer");
        },
        ours(),
        "type-changed",
        Level::Breaking,
        Some(&format!("{GET}/parameters/1/schema")),
        Some(&format!("{GET}/parameters/1/schema")),
    );
    check(
        |d| {
            at(d, &format!("{GET}/parameters/1/schema"))["format"] = json!("uuid");
        },
        ours(),
        "format-changed",
        Level::Breaking,
        Some(&format!("{GET}/parameters/1/schema")),
        Some(&format!("{GET}/parameters/1/schema")),
    );
}

#[test]
fn request_bodies_and_their_properties_follow_what_the_client_sends() {
    check(
        |d| {
            at(d, POST).as_object_mut().unwrap().remove("requestBody");
        },
        ours(),
        "request-body-removed",
        Level::Breaking,
        Some(&format!("{POST}/requestBody")),
        None,
    );
    check(
        |d| {
            at(d, &format!("{POST}/requestBody"))["required"] = json!(false);
        },
        ours(),
        "request-body-became-optional",
        Level::NonBreaking,
        Some(&format!("{POST}/requestBody/required")),
        Some(&format!("{POST}/requestBody/required")),
    );
    check(
        |d| {
            at(d, &format!("{NEW_WIDGET}/properties"))["shape"] = json!({"type": "string"});
        },
        ours(),
        "request-optional-property-added",
        Level::NonBreaking,
        None,
        Some(&format!("{NEW_WIDGET}/properties/shape")),
    );
    check(
        |d| {
            at(d, &format!("{NEW_WIDGET}/properties"))["shape"] = json!({"type": "string"});
            at(d, &format!("{NEW_WIDGET}/required"))
                .as_array_mut()
                .unwrap()
                .push(json!("shape"));
        },
        ours(),
        "request-required-property-added",
        Level::Breaking,
        None,
        Some(&format!("{NEW_WIDGET}/properties/shape")),
    );
    check(
        |d| {
            at(d, &format!("{NEW_WIDGET}/properties"))
                .as_object_mut()
                .unwrap()
                .remove("size");
        },
        ours(),
        "request-property-removed",
        Level::PotentiallyBreaking,
        Some(&format!("{NEW_WIDGET}/properties/size")),
        None,
    );
    check(
        |d| {
            at(d, &format!("{NEW_WIDGET}/required"))
                .as_array_mut()
                .unwrap()
                .push(json!("size"))
        },
        ours(),
        "request-property-became-required",
        Level::Breaking,
        Some(&format!("{NEW_WIDGET}/properties/size")),
        Some(&format!("{NEW_WIDGET}/properties/size")),
    );
    check(
        |d| {
            at(d, &format!("{NEW_WIDGET}/properties/colour/enum"))
                .as_array_mut()
                .unwrap()
                .push(json!("green"))
        },
        ours(),
        "request-enum-value-added",
        Level::NonBreaking,
        Some(&format!("{NEW_WIDGET}/properties/colour")),
        Some(&format!("{NEW_WIDGET}/properties/colour")),
    );
    check(
        |d| {
            at(d, &format!("{NEW_WIDGET}/properties/colour/enum"))
                .as_array_mut()
                .unwrap()
                .pop();
        },
        ours(),
        "request-enum-value-removed",
        Level::Breaking,
        Some(&format!("{NEW_WIDGET}/properties/colour")),
        Some(&format!("{NEW_WIDGET}/properties/colour")),
    );
    check(
        |d| {
            at(d, &format!("{NEW_WIDGET}/properties/name"))["nullable"] = json!(true);
        },
        ours(),
        "nullable-added",
        Level::NonBreaking,
        Some(&format!("{NEW_WIDGET}/properties/name")),
        Some(&format!("{NEW_WIDGET}/properties/name")),
    );
    check(
        |d| {
            let content = at(d, &format!("{POST}/requestBody/content"));
            let schema = content["application/json"].clone();
            content["application/xml"] = schema;
        },
        ours(),
        "request-media-type-added",
        Level::NonBreaking,
        None,
        Some(&format!("{POST}/requestBody/content/application~1xml")),
    );
}

#[test]
fn a_removed_request_media_type_breaks() {
    let old = base();
    let mut new = base();
    let content = at(&mut new, &format!("{POST}/requestBody/content"))
        .as_object_mut()
        .unwrap();
    let schema = content.remove("application/json").unwrap();
    content.insert("text/json".into(), schema);
    let report = compare(&old, &new, ours());
    let removed = report
        .changes
        .iter()
        .find(|c| c.rule == "request-media-type-removed")
        .unwrap();
    assert_eq!(removed.level, Level::Breaking);
    assert_eq!(
        removed.old.as_deref(),
        Some("/paths/~1widgets/post/requestBody/content/application~1json")
    );
}

#[test]
fn an_added_optional_request_body_does_not_break() {
    let old = base();
    let mut new = base();
    at(&mut new, GET)["requestBody"] =
        json!({"content": {"application/json": {"schema": {"type": "object"}}}});
    let report = compare(&old, &new, ours());
    assert_eq!(report.changes[0].rule, "request-body-optional-added");
    assert_eq!(report.changes[0].level, Level::NonBreaking);
    at(&mut new, &format!("{GET}/requestBody"))["required"] = json!(true);
    let report = compare(&old, &new, ours());
    assert_eq!(
        (report.changes[0].rule, report.changes[0].level),
        ("request-body-required-added", Level::Breaking)
    );
}

#[test]
fn response_properties_follow_what_the_client_reads() {
    check(
        |d| {
            at(d, &format!("{WIDGET}/properties"))
                .as_object_mut()
                .unwrap()
                .remove("size");
        },
        ours(),
        "response-property-removed",
        Level::Breaking,
        Some(&format!("{WIDGET}/properties/size")),
        None,
    );
    check(
        |d| {
            at(d, &format!("{WIDGET}/properties"))["colour"] = json!({"type": "string"});
        },
        ours(),
        "response-property-added",
        Level::NonBreaking,
        None,
        Some(&format!("{WIDGET}/properties/colour")),
    );
    check(
        |d| {
            at(d, WIDGET)["required"] = json!([]);
        },
        ours(),
        "response-property-became-optional",
        Level::Breaking,
        Some(&format!("{WIDGET}/properties/id")),
        Some(&format!("{WIDGET}/properties/id")),
    );
    check(
        |d| {
            at(d, &format!("{WIDGET}/required"))
                .as_array_mut()
                .unwrap()
                .push(json!("size"))
        },
        ours(),
        "response-property-became-required",
        Level::NonBreaking,
        Some(&format!("{WIDGET}/properties/size")),
        Some(&format!("{WIDGET}/properties/size")),
    );
    check(
        |d| {
            at(d, &format!("{WIDGET}/properties/note"))
                .as_object_mut()
                .unwrap()
                .remove("nullable");
        },
        ours(),
        "nullable-removed",
        Level::NonBreaking,
        Some(&format!("{WIDGET}/properties/note")),
        Some(&format!("{WIDGET}/properties/note")),
    );
    // Through `items` and a `$ref`: the pointer is the referenced schema's.
    check(
        |d| {
            at(d, "/components/schemas/Tag/properties/label")["type"] = json!("integer");
        },
        ours(),
        "type-changed",
        Level::Breaking,
        Some("/components/schemas/Tag/properties/label"),
        Some("/components/schemas/Tag/properties/label"),
    );
}

#[test]
fn nullable_on_a_required_response_field_breaks_but_not_on_an_optional_one() {
    check(
        |d| {
            at(d, &format!("{WIDGET}/properties/id"))["nullable"] = json!(true);
        },
        ours(),
        "nullable-added",
        Level::Breaking,
        Some(&format!("{WIDGET}/properties/id")),
        Some(&format!("{WIDGET}/properties/id")),
    );
    let c = only_change(
        |d| {
            at(d, &format!("{WIDGET}/properties/size"))["nullable"] = json!(true);
        },
        ours(),
    );
    assert_eq!((c.rule, c.level), ("nullable-added", Level::NonBreaking));
    assert!(c.note.unwrap().contains("Option"));
}

#[test]
fn response_enum_values_depend_on_open_or_closed_enums() {
    let add = |d: &mut Value| {
        at(d, &format!("{WIDGET}/properties/state/enum"))
            .as_array_mut()
            .unwrap()
            .push(json!("Broken"))
    };
    // Our amendments (tolerantReading.openEnums) make the generated enum open: non-breaking, and said so.
    let c = only_change(add, ours());
    assert_eq!(
        (c.rule, c.level),
        ("response-enum-value-added", Level::NonBreaking)
    );
    assert!(c.note.unwrap().contains("openEnums"));
    // A client with closed enums breaks.
    let c = only_change(add, Tolerance::strict());
    assert_eq!(c.level, Level::Breaking);
    // An enum the amendments already opened (`x-known-values`) is open whatever the tolerance.
    let open = |d: &mut Value| {
        let state = at(d, &format!("{WIDGET}/properties/state"))
            .as_object_mut()
            .unwrap();
        let values = state.remove("enum").unwrap();
        state.insert("x-known-values".into(), values);
    };
    let old = {
        let mut d = base();
        open(&mut d);
        d
    };
    let new = {
        let mut d = base();
        open(&mut d);
        at(&mut d, &format!("{WIDGET}/properties/state/x-known-values"))
            .as_array_mut()
            .unwrap()
            .push(json!("Broken"));
        d
    };
    let report = compare(&old, &new, Tolerance::strict());
    assert_eq!(report.changes[0].level, Level::NonBreaking);
    check(
        |d| {
            at(d, &format!("{WIDGET}/properties/state/enum"))
                .as_array_mut()
                .unwrap()
                .pop();
        },
        ours(),
        "response-enum-value-removed",
        Level::NonBreaking,
        Some(&format!("{WIDGET}/properties/state")),
        Some(&format!("{WIDGET}/properties/state")),
    );
}

#[test]
fn response_properties_added_to_a_sealed_schema_break_only_strict_clients() {
    let seal = |d: &mut Value| {
        at(d, WIDGET)["additionalProperties"] = json!(false);
    };
    let old = {
        let mut d = base();
        seal(&mut d);
        d
    };
    let new = {
        let mut d = base();
        seal(&mut d);
        at(&mut d, &format!("{WIDGET}/properties"))["colour"] = json!({"type": "string"});
        d
    };
    assert_eq!(
        compare(&old, &new, Tolerance::strict()).changes[0].level,
        Level::Breaking
    );
    let ours = compare(&old, &new, ours());
    assert_eq!(ours.changes[0].level, Level::NonBreaking);
    assert!(
        ours.changes[0]
            .note
            .as_deref()
            .unwrap()
            .contains("allowUnknownFields")
    );
}

#[test]
fn status_codes_and_response_media_types() {
    check(
        |d| {
            at(d, &format!("{GET}/responses"))
                .as_object_mut()
                .unwrap()
                .remove("200");
        },
        ours(),
        "response-success-status-removed",
        Level::Breaking,
        Some(&format!("{GET}/responses/200")),
        None,
    );
    check(
        |d| {
            at(d, &format!("{GET}/responses"))
                .as_object_mut()
                .unwrap()
                .remove("404");
        },
        ours(),
        "response-error-status-removed",
        Level::NonBreaking,
        Some(&format!("{GET}/responses/404")),
        None,
    );
    check(
        |d| {
            at(d, &format!("{GET}/responses"))["202"] = json!({"description": "Accepted"});
        },
        ours(),
        "response-success-status-added",
        Level::PotentiallyBreaking,
        None,
        Some(&format!("{GET}/responses/202")),
    );
    check(
        |d| {
            at(d, &format!("{GET}/responses"))["429"] = json!({"description": "Slow down"});
        },
        ours(),
        "response-error-status-added",
        Level::NonBreaking,
        None,
        Some(&format!("{GET}/responses/429")),
    );
    check(
        |d| {
            at(d, &format!("{GET}/responses/404/content"))
                .as_object_mut()
                .unwrap()
                .remove("application/json");
        },
        ours(),
        "response-media-type-removed",
        Level::Breaking,
        Some(&format!("{GET}/responses/404/content/application~1json")),
        None,
    );
    check(
        |d| {
            at(d, &format!("{GET}/responses/404/content"))["text/html"] = json!({});
        },
        ours(),
        "response-media-type-added",
        Level::NonBreaking,
        None,
        Some(&format!("{GET}/responses/404/content/text~1html")),
    );
}

#[test]
fn security_schemes_and_requirements() {
    let with_bearer = |d: &mut Value| {
        d["components"]["securitySchemes"] =
            json!({"bearer": {"type": "http", "scheme": "bearer"}});
    };
    check(
        with_bearer,
        ours(),
        "security-scheme-added",
        Level::NonBreaking,
        None,
        Some("/components/securitySchemes/bearer"),
    );
    let old = {
        let mut d = base();
        with_bearer(&mut d);
        d
    };
    let mut new = old.clone();
    new["components"]["securitySchemes"]["bearer"]["scheme"] = json!("basic");
    let c = &compare(&old, &new, ours()).changes[0];
    assert_eq!(
        (c.rule, c.level),
        ("security-scheme-changed", Level::Breaking)
    );
    let mut new = old.clone();
    new["components"]
        .as_object_mut()
        .unwrap()
        .remove("securitySchemes");
    assert_eq!(
        compare(&old, &new, ours()).changes[0].rule,
        "security-scheme-removed"
    );
    let mut new = old.clone();
    at(&mut new, GET)["security"] = json!([{"bearer": []}]);
    let c = &compare(&old, &new, ours()).changes[0];
    assert_eq!(
        (c.rule, c.level),
        ("security-requirement-added", Level::Breaking)
    );
    let c = &compare(&new, &old, ours()).changes[0];
    assert_eq!(
        (c.rule, c.level),
        ("security-requirement-removed", Level::NonBreaking)
    );
    // The SDK's scheme removed together with every requirement that used it: the server stops
    // asking for credentials, and the header the client still sends is harmless.
    let mut gone = base();
    gone["components"]["securitySchemes"] = json!({});
    let report = compare(&new, &gone, ours());
    assert!(!report.changes.is_empty(), "{}", report.text());
    for c in &report.changes {
        assert_eq!(c.level, Level::NonBreaking, "{}", report.text());
    }
    assert!(
        report
            .changes
            .iter()
            .any(|c| c.rule == "security-scheme-removed"),
        "{}",
        report.text()
    );
    // Removed while a requirement still names it (a dangling requirement): still breaking.
    let mut dangling = new.clone();
    dangling["components"]["securitySchemes"] = json!({});
    let c = compare(&new, &dangling, ours())
        .changes
        .into_iter()
        .find(|c| c.rule == "security-scheme-removed")
        .unwrap();
    assert_eq!(c.level, Level::Breaking);
}

#[test]
fn a_change_to_a_shared_schema_is_listed_once_with_every_operation() {
    let report = compare(
        &base(),
        &{
            let mut d = base();
            at(&mut d, &format!("{WIDGET}/properties"))
                .as_object_mut()
                .unwrap()
                .remove("size");
            d
        },
        ours(),
    );
    assert_eq!(report.changes.len(), 1, "{}", report.text());
    assert_eq!(
        report.changes[0].operations,
        ["GET /widgets/{id}", "POST /widgets"]
    );
}

#[test]
fn schema_cycles_end() {
    let mut old = base();
    at(&mut old, "/components/schemas/Tag/properties")["parent"] =
        json!({"$ref": "#/components/schemas/Tag"});
    let mut new = old.clone();
    at(&mut new, "/components/schemas/Tag/properties/label")["type"] = json!("integer");
    assert_eq!(compare(&old, &new, ours()).changes.len(), 1);
}

#[test]
fn version_advice_follows_the_worst_change() {
    let breaking = compare(
        &base(),
        &{
            let mut d = base();
            d["paths"].as_object_mut().unwrap().remove("/widgets");
            d
        },
        ours(),
    );
    assert_eq!(breaking.api_bump(), Bump::Major);
    assert_eq!(
        breaking.facade_bump(),
        Bump::Major,
        "an operation removed reaches the facade"
    );
    assert_eq!(Bump::Major.apply("0.1.0"), "0.2.0");
    assert_eq!(Bump::Major.apply("1.4.2"), "2.0.0");
    let additive = compare(
        &base(),
        &{
            let mut d = base();
            d["paths"]["/gadgets"] = json!({"get": {"responses": {}}});
            d
        },
        ours(),
    );
    assert_eq!(additive.api_bump(), Bump::Minor);
    assert_eq!(additive.facade_bump(), Bump::Patch);
    assert_eq!(Bump::Minor.apply("0.1.0"), "0.1.1");
    assert_eq!(Bump::Minor.apply("1.4.2"), "1.5.0");
    let md = breaking.markdown("0.1.0", "0.1.0");
    assert!(md.contains("`mpt-api` 0.1.0 → **0.2.0**"), "{md}");
    assert!(md.contains("### Changed (API 1.0.0 → 1.0.0)\n- Breaking:\n  - POST /widgets: operation POST /widgets removed"), "{md}");
    let json = breaking.json();
    assert_eq!(json["summary"]["breaking"], 1);
    assert_eq!(json["changes"][0]["oldPointer"], "/paths/~1widgets/post");
}

/// Adversarial case mv19_draft_move: a draft (or alpha) operation is free to change, its move
/// included, as its removal is.
#[test]
fn a_draft_operation_moved_is_not_breaking() {
    let doc = |path: &str, level: &str| {
        json!({
            "openapi": "3.0.1",
            "info": {"title": "T", "version": "1"},
            "paths": {path: {"get": {
                "x-stability-level": level,
                "responses": {"200": {"description": "OK"}}
            }}}
        })
    };
    for level in ["draft", "alpha"] {
        let report = compare(
            &doc("/v1/orders", level),
            &doc("/v1/commerce/orders", level),
            ours(),
        );
        assert_eq!(report.changes.len(), 1, "{}", report.text());
        let c = &report.changes[0];
        assert_eq!(
            (c.rule, c.level),
            ("operation-method-or-path-changed", Level::NonBreaking),
            "{}",
            report.text()
        );
        assert!(c.note.as_deref().is_some_and(|n| n.contains("draft")));
    }
    // A beta one still breaks.
    let report = compare(
        &doc("/v1/orders", "beta"),
        &doc("/v1/commerce/orders", "beta"),
        ours(),
    );
    assert!(report.is_breaking(), "{}", report.text());
}

/// Adversarial cases sv_root_path, sv_root_path2: `servers` `/public` with the path `/` is the
/// path `/public` (a trailing `/` makes no other route), not a move of a module prefix.
#[test]
fn the_root_path_under_a_base_path_is_the_base_path() {
    let doc = |servers: Option<&str>, path: &str| {
        let mut d = json!({
            "openapi": "3.0.1",
            "info": {"title": "T", "version": "1"},
            "paths": {path: {"get": {"responses": {"200": {"description": "OK"}}}}}
        });
        if let Some(url) = servers {
            d["servers"] = json!([{"url": url}]);
        }
        d
    };
    let rooted = doc(Some("https://x/public"), "/");
    for plain in [doc(None, "/public"), doc(None, "/public/")] {
        for (a, b) in [(&rooted, &plain), (&plain, &rooted)] {
            let report = compare(a, b, Tolerance::strict());
            assert!(report.changes.is_empty(), "{}", report.text());
        }
    }
    // Another path is still another operation.
    let report = compare(&rooted, &doc(None, "/public/v1"), Tolerance::strict());
    assert!(report.is_breaking(), "{}", report.text());
}
