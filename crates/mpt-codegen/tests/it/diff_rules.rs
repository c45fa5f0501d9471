//! Each rule of the API change report on its own fixture pair: a small spec, and the same spec
//! with one change. The level, the rule and the pointers on both sides are checked.

use mpt_codegen::diff::{Bump, Level, Tolerance, compare};
use serde_json::{Value, json};

/// A spec with one operation of each kind the rules look at: a get with a query parameter and a
/// `Widget` answer, and a post with a `NewWidget` body.
fn base() -> Value {
    json!({
        "openapi": "3.0.1",
        "info": {"title": "T", "version": "1.0.0"},
        "paths": {
            "/widgets/{id}": {"get": {
                "operationId": "get_widget",
                "parameters": [
                    {"name": "id", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "select", "in": "query", "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Widget"}}}},
                    "404": {"description": "Not Found", "content": {"application/json": {"schema": {"type": "object"}}}}
                }
            }},
            "/widgets": {"post": {
                "operationId": "create_widget",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/NewWidget"}}}},
                "responses": {"201": {"description": "Created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Widget"}}}}}
            }}
        },
        "components": {"schemas": {
            "Widget": {"type": "object", "required": ["id"], "properties": {
                "id": {"type": "string"},
                "size": {"type": "integer", "format": "int32"},
                "note": {"type": "string", "nullable": true},
                "state": {"type": "string", "enum": ["On", "Off"]},
                "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}}
            }},
            "Tag": {"type": "object", "properties": {"label": {"type": "string"}}},
            "NewWidget": {"type": "object", "required": ["name"], "properties": {
                "name": {"type": "string"},
                "colour": {"type": "string", "enum": ["red", "blue"]},
                "size": {"type": "integer"}
            }}
        }}
    })
}

/// The one change `new` makes to `base()`, judged strictly or as our SDK reads answers.
fn only_change(edit: impl FnOnce(&mut Value), tolerance: Tolerance) -> mpt_codegen::diff::Change {
    let old = base();
    let mut new = base();
    edit(&mut new);
    let report = compare(&old, &new, tolerance);
    assert_eq!(report.changes.len(), 1, "{}", report.text());
    report.changes.into_iter().next().unwrap()
}

fn ours() -> Tolerance {
    Tolerance {
        unknown_fields: true,
        open_enums: true,
        patterns_dropped: true,
    }
}

fn check(
    edit: impl FnOnce(&mut Value),
    tolerance: Tolerance,
    rule: &str,
    level: Level,
    old: Option<&str>,
    new: Option<&str>,
) {
    let c = only_change(edit, tolerance);
    assert_eq!((c.rule, c.level), (rule, level), "{c:?}");
    assert_eq!(c.old.as_deref(), old, "{c:?}");
    assert_eq!(c.new.as_deref(), new, "{c:?}");
}

fn at<'a>(doc: &'a mut Value, pointer: &str) -> &'a mut Value {
    doc.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer}"))
}

const GET: &str = "/paths/~1widgets~1{id}/get";
const POST: &str = "/paths/~1widgets/post";
const WIDGET: &str = "/components/schemas/Widget";
const NEW_WIDGET: &str = "/components/schemas/NewWidget";

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

// ---- Issue 16: every rule family, and no false alarms ----

const NAME: &str = "/components/schemas/NewWidget/properties/name";
const ID: &str = "/components/schemas/Widget/properties/id";
const SELECT: &str = "/paths/~1widgets~1{id}/get/parameters/1";

/// `check` both ways: `edit` makes `new` from `base()`, and the same change read backwards.
fn both_ways(
    edit: impl Fn(&mut Value),
    tolerance: Tolerance,
    forward: (&str, Level),
    backward: (&str, Level),
) {
    let old = base();
    let mut new = base();
    edit(&mut new);
    for (a, b, (rule, level)) in [(&old, &new, forward), (&new, &old, backward)] {
        let report = compare(a, b, tolerance);
        assert_eq!(report.changes.len(), 1, "{}", report.text());
        let c = &report.changes[0];
        assert_eq!((c.rule, c.level), (rule, level), "{}", report.text());
    }
}

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
    check(
        |d| at(d, "/components/schemas/Widget/properties/note")["writeOnly"] = json!(true),
        ours(),
        "became-read-or-write-only",
        Level::Breaking,
        Some("/components/schemas/Widget/properties/note"),
        Some("/components/schemas/Widget/properties/note"),
    );
}

/// `base()` with a `shape` answered as `oneOf` Circle | Square.
fn with_shapes() -> Value {
    let mut d = base();
    d["components"]["schemas"]["Circle"] =
        json!({"type": "object", "properties": {"r": {"type": "number"}}});
    d["components"]["schemas"]["Square"] =
        json!({"type": "object", "properties": {"side": {"type": "number"}}});
    d["components"]["schemas"]["Triangle"] =
        json!({"type": "object", "properties": {"base": {"type": "number"}}});
    at(&mut d, "/components/schemas/Widget/properties")["shape"] = json!({"oneOf": [
        {"$ref": "#/components/schemas/Circle"}, {"$ref": "#/components/schemas/Square"}
    ]});
    d
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

// ---- Seeded mutations of the real merged spec, each with the verdict the rule table gives ----

/// The component schemas reached (through `$ref`s) from request bodies and parameters, and from
/// responses.
fn schemas_by_direction(doc: &Value) -> (Vec<String>, Vec<String>) {
    fn refs(value: &Value, out: &mut std::collections::BTreeSet<String>, doc: &Value) {
        match value {
            Value::Object(obj) => {
                if let Some(name) = obj
                    .get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix("#/components/schemas/"))
                    && out.insert(name.to_string())
                {
                    refs(&doc["components"]["schemas"][name], out, doc);
                }
                obj.values().for_each(|v| refs(v, out, doc));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out, doc)),
            _ => {}
        }
    }
    let (mut request, mut response) = Default::default();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            refs(&op["requestBody"], &mut request, doc);
            refs(&op["responses"], &mut response, doc);
        }
    }
    let only = |a: &std::collections::BTreeSet<String>, b: &std::collections::BTreeSet<String>| {
        a.difference(b).cloned().collect::<Vec<_>>()
    };
    (only(&request, &response), only(&response, &request))
}

/// `(schema, property)` pairs of `schemas` whose property has `type` (any type when `None`).
fn properties(doc: &Value, schemas: &[String], kind: Option<&str>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for schema in schemas {
        for (name, p) in doc["components"]["schemas"][schema]["properties"]
            .as_object()
            .into_iter()
            .flatten()
        {
            if kind.is_none_or(|k| p["type"] == k) {
                out.push((schema.clone(), name.clone()));
            }
        }
    }
    out
}

/// The worst level of a report (`None`: no change).
fn verdict(old: &Value, new: &Value, tolerance: Tolerance) -> Option<Level> {
    compare(old, new, tolerance)
        .changes
        .iter()
        .map(|c| c.level)
        .min()
}

#[test]
fn seeded_mutations_of_the_real_spec_get_the_verdict_of_the_rule_table() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("openapi/marketplace-api-tokens.json")).unwrap(),
    )
    .unwrap();
    let amendments =
        mpt_codegen::amend::Amendments::read(&root.join("openapi/amendments.json")).unwrap();
    let tolerance = Tolerance::of(&amendments);
    let (request, response) = schemas_by_direction(&spec);
    assert!(
        request.contains(&"CreateApiTokenDto".to_string()),
        "{request:?}"
    );
    assert!(response.contains(&"ApiToken".to_string()), "{response:?}");
    let request_props = properties(&spec, &request, None);
    let request_strings = properties(&spec, &request, Some("string"));
    let response_props = properties(&spec, &response, None);
    let response_strings = properties(&spec, &response, Some("string"));
    let ops: Vec<(String, String)> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (path.clone(), m.clone()))
        })
        .collect();
    let pick = |rng: &mut fastrand::Rng, n: usize| rng.usize(..n);
    type Mutation = fn(&mut Value, &mut fastrand::Rng, &Pools) -> Option<Level>;
    struct Pools {
        request_props: Vec<(String, String)>,
        request_strings: Vec<(String, String)>,
        response_props: Vec<(String, String)>,
        response_strings: Vec<(String, String)>,
        ops: Vec<(String, String)>,
    }
    let pools = Pools {
        request_props,
        request_strings,
        response_props,
        response_strings,
        ops,
    };
    fn prop<'a>(d: &'a mut Value, (schema, name): &(String, String)) -> &'a mut Value {
        &mut d["components"]["schemas"][schema]["properties"][name]
    }
    let _ = pick;
    // Each mutation makes one change and returns the verdict the rule table gives it.
    let mutations: Vec<(&str, Mutation)> = vec![
        ("response property removed", |d, rng, p| {
            let (s, n) = &p.response_props[rng.usize(..p.response_props.len())];
            d["components"]["schemas"][s]["properties"]
                .as_object_mut()?
                .remove(n);
            if let Some(req) = d["components"]["schemas"][s]["required"].as_array_mut() {
                req.retain(|r| r != n);
            }
            Some(Level::Breaking)
        }),
        ("optional request property added", |d, rng, p| {
            let (s, _) = &p.request_props[rng.usize(..p.request_props.len())];
            d["components"]["schemas"][s]["properties"]["zzNew"] = json!({"type": "string"});
            Some(Level::NonBreaking)
        }),
        ("required request property added", |d, rng, p| {
            let (s, _) = &p.request_props[rng.usize(..p.request_props.len())];
            d["components"]["schemas"][s]["properties"]["zzNew"] = json!({"type": "string"});
            let schema = &mut d["components"]["schemas"][s];
            match schema["required"].as_array_mut() {
                Some(r) => r.push(json!("zzNew")),
                None => schema["required"] = json!(["zzNew"]),
            }
            Some(Level::Breaking)
        }),
        ("response property added", |d, rng, p| {
            let (s, _) = &p.response_props[rng.usize(..p.response_props.len())];
            d["components"]["schemas"][s]["properties"]["zzNew"] = json!({"type": "string"});
            Some(Level::NonBreaking)
        }),
        ("request string narrowed (maxLength)", |d, rng, p| {
            let target = &p.request_strings[rng.usize(..p.request_strings.len())];
            prop(d, target)["maxLength"] = json!(3);
            Some(Level::Breaking)
        }),
        ("response string narrowed (maxLength)", |d, rng, p| {
            let target = &p.response_strings[rng.usize(..p.response_strings.len())];
            prop(d, target)["maxLength"] = json!(100_000);
            Some(Level::NonBreaking)
        }),
        ("operationId renamed", |d, rng, p| {
            let (path, method) = &p.ops[rng.usize(..p.ops.len())];
            d["paths"][path][method]["operationId"] = json!("renamed_op");
            Some(Level::Breaking)
        }),
        ("operation removed", |d, rng, p| {
            let (path, method) = &p.ops[rng.usize(..p.ops.len())];
            d["paths"][path].as_object_mut()?.remove(method);
            Some(Level::Breaking)
        }),
        ("operation added", |d, _, _| {
            d["paths"]["/public/v1/zz"] =
                json!({"get": {"operationId": "zz", "responses": {"204": {"description": "ok"}}}});
            Some(Level::NonBreaking)
        }),
        ("success status removed", |d, rng, p| {
            let (path, method) = &p.ops[rng.usize(..p.ops.len())];
            let responses = d["paths"][path][method]["responses"].as_object_mut()?;
            let code = responses.keys().find(|c| c.starts_with('2'))?.clone();
            responses.remove(&code);
            Some(Level::Breaking)
        }),
        ("error status added", |d, rng, p| {
            let (path, method) = &p.ops[rng.usize(..p.ops.len())];
            d["paths"][path][method]["responses"]["418"] = json!({"description": "teapot"});
            Some(Level::NonBreaking)
        }),
        ("charset added to a media type", |d, rng, p| {
            let (path, method) = &p.ops[rng.usize(..p.ops.len())];
            let responses = d["paths"][path][method]["responses"].as_object_mut()?;
            for r in responses.values_mut() {
                if let Some(content) = r["content"].as_object_mut()
                    && let Some(v) = content.remove("application/json")
                {
                    content.insert("application/json; charset=utf-8".into(), v);
                }
            }
            None
        }),
        ("limit widened to int64", |d, _, _| {
            d["paths"]["/public/v1/accounts/api-tokens"]["get"]["parameters"][0]["schema"]["format"] =
                json!("int64");
            Some(Level::NonBreaking)
        }),
        ("limit minimum raised", |d, _, _| {
            d["paths"]["/public/v1/accounts/api-tokens"]["get"]["parameters"][0]["schema"]["minimum"] =
                json!(1);
            Some(Level::Breaking)
        }),
        ("select no longer allows token", |d, _, _| {
            let schema =
                &mut d["paths"]["/public/v1/accounts/api-tokens"]["get"]["parameters"][3]["schema"];
            let pattern = schema["pattern"].as_str()?.replace("|token", "");
            schema["pattern"] = json!(pattern);
            Some(Level::Breaking)
        }),
        ("status value added", |d, _, _| {
            d["components"]["schemas"]["ApiTokenStatus"]["x-known-values"]
                .as_array_mut()?
                .push(json!("Expired"));
            Some(Level::NonBreaking)
        }),
        ("request property became required", |d, rng, p| {
            let candidates: Vec<&(String, String)> = p
                .request_props
                .iter()
                .filter(|(s, n)| {
                    !d["components"]["schemas"][s]["required"]
                        .as_array()
                        .is_some_and(|r| r.iter().any(|x| x == n))
                })
                .collect();
            let (s, n) = candidates[rng.usize(..candidates.len())];
            let schema = &mut d["components"]["schemas"][s];
            match schema["required"].as_array_mut() {
                Some(r) => r.push(json!(n)),
                None => schema["required"] = json!([n]),
            }
            Some(Level::Breaking)
        }),
        ("authentication required", |d, rng, p| {
            let (path, method) = &p.ops[rng.usize(..p.ops.len())];
            d["components"]["securitySchemes"] =
                json!({"bearer": {"type": "http", "scheme": "bearer"}});
            d["paths"][path][method]["security"] = json!([{"bearer": []}]);
            Some(Level::Breaking)
        }),
        ("nothing changed", |_, _, _| None),
    ];
    let mut rng = fastrand::Rng::with_seed(20_261_202);
    let rounds = 120;
    for round in 0..rounds {
        let (name, mutate) = mutations[round % mutations.len()];
        let mut new = spec.clone();
        let expected = mutate(&mut new, &mut rng, &pools);
        let got = verdict(&spec, &new, tolerance);
        assert_eq!(
            got,
            expected,
            "round {round}, {name}:\n{}",
            compare(&spec, &new, tolerance).text()
        );
    }
}
