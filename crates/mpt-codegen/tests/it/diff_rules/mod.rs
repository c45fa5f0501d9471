//! Each rule of the API change report on its own fixture pair: a small spec, and the same spec
//! with one change. The level, the rule and the pointers on both sides are checked.

use mpt_codegen::diff::{Bump, Level, Tolerance, compare};
use serde_json::{Value, json};

mod depth;
mod families;
mod lifecycle;
mod misses;
mod mutations;
mod oas31;
mod oasdiff_ids;
mod operations;
mod platform;

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
        json_requests_only: true,
        deprecation_days: 0,
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
