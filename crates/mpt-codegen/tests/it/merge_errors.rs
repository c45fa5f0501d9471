//! Each way the merge can refuse its input, and what the error says.

use std::path::Path;

use mpt_codegen::Error;
use mpt_codegen::amend::Amendments;
use mpt_codegen::fragment::Fragment;
use mpt_codegen::merge::merge;
use serde_json::json;

fn amendments(extra: serde_json::Value) -> Amendments {
    let mut base = json!({
        "operationIds": {"reason": "r", "rule": "rest-resource"},
        "requestMediaTypes": {"reason": "r", "keep": ["application/json"]},
        "tolerantReading": {"reason": "r", "allowUnknownFields": true, "openEnums": true}
    });
    for (k, v) in extra.as_object().unwrap() {
        base[k] = v.clone();
    }
    Amendments::parse(Path::new("amendments.json"), &base.to_string()).unwrap()
}

fn fragment(file: &str, doc: serde_json::Value) -> Fragment {
    Fragment::parse(file, &serde_json::to_string_pretty(&doc).unwrap()).unwrap()
}

fn widget_schema(description: &str) -> serde_json::Value {
    json!({"type": "object", "properties": {"id": {"type": "string", "description": description}}})
}

fn doc(route: &str, method: &str, schema: serde_json::Value) -> serde_json::Value {
    json!({
        "openapi": "3.0.1",
        "info": {"title": "T", "version": "1.0.0"},
        "paths": {route: {method: {"responses": {"200": {"description": "OK", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Widget"}}}}}}}},
        "components": {"schemas": {"Widget": schema}}
    })
}

#[test]
fn invalid_json_names_file_line_and_column() {
    let err = Fragment::parse(
        "frag.json",
        "{\n  \"openapi\": \"3.0.1\",\n  \"paths\": {,}\n}",
    )
    .unwrap_err();
    assert!(matches!(err, Error::Json { line: 3, .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "frag.json:3:13: invalid JSON: key must be a string"
    );
}

#[test]
fn openapi_31_and_swagger_2_are_refused() {
    let err = Fragment::parse("a.json", r#"{"openapi": "3.1.0", "paths": {}}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "a.json: /openapi: OpenAPI 3.1.0 is not supported; expected 3.0.x"
    );
    let err = Fragment::parse("b.json", r#"{"swagger": "2.0", "paths": {}}"#).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("b.json: /openapi: missing `openapi`"),
        "{err}"
    );
}

#[test]
fn missing_paths_is_refused() {
    let err = Fragment::parse("c.json", r#"{"openapi": "3.0.1", "info": {}}"#).unwrap_err();
    assert_eq!(err.to_string(), "c.json: /paths: missing `paths`");
}

#[test]
fn a_dangling_ref_names_the_fragment_and_pointer() {
    let mut d = doc("/widgets", "get", widget_schema("x"));
    d["components"]["schemas"] = json!({});
    let err = merge(&[fragment("w.json", d)], &amendments(json!({}))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "w.json: /paths/~1widgets/get/responses/200/content/application~1json/schema/$ref: \
         $ref \"#/components/schemas/Widget\" does not resolve"
    );
}

#[test]
fn the_same_operation_in_two_fragments_names_both_files() {
    let a = fragment("a.json", doc("/widgets", "get", widget_schema("x")));
    let b = fragment("b.json", doc("/widgets", "get", widget_schema("x")));
    let err = merge(&[a, b], &amendments(json!({}))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "GET /widgets is defined in both a.json and b.json"
    );
}

#[test]
fn identical_schemas_are_kept_once_and_different_ones_name_the_first_difference() {
    let a = fragment("a.json", doc("/widgets", "get", widget_schema("same")));
    let b = fragment("b.json", doc("/widgets/{id}", "get", widget_schema("same")));
    let merged = merge(&[a.clone(), b], &amendments(json!({}))).unwrap();
    assert_eq!(
        merged.doc["components"]["schemas"]
            .as_object()
            .unwrap()
            .len(),
        1
    );

    let c = fragment(
        "c.json",
        doc("/widgets/{id}", "get", widget_schema("other")),
    );
    let err = merge(&[a.clone(), c.clone()], &amendments(json!({}))).unwrap_err();
    assert_eq!(
        err.to_string(),
        "component schemas/Widget differs between a.json and c.json at \
         /components/schemas/Widget/properties/id/description; declare the winner in the \
         amendments' `schemaWinners`"
    );

    let winners = json!({"schemaWinners": [
        {"component": "schemas/Widget", "fragment": "c.json", "reason": "newer page"}]});
    let merged = merge(&[a, c], &amendments(winners)).unwrap();
    assert_eq!(
        merged
            .doc
            .pointer("/components/schemas/Widget/properties/id/description"),
        Some(&json!("other"))
    );
}

#[test]
fn the_newest_fragment_version_wins_and_each_is_recorded() {
    let mut a = doc("/widgets", "get", widget_schema("x"));
    a["info"]["version"] = json!("5.0.5243-ga0bb7c09");
    let mut b = doc("/widgets/{id}", "get", widget_schema("x"));
    b["info"]["version"] = json!("5.0.5521-gb6ada4dc");
    let mut c = doc("/widgets/{id}/enable", "post", widget_schema("x"));
    c["info"]["version"] = json!("5.0.998");
    let merged = merge(
        &[
            fragment("a.json", a),
            fragment("b.json", b),
            fragment("c.json", c),
        ],
        &amendments(json!({})),
    )
    .unwrap();
    assert_eq!(merged.doc["info"]["version"], json!("5.0.5521-gb6ada4dc"));
    assert_eq!(
        merged.doc["info"]["x-fragment-versions"]["a.json"],
        json!("5.0.5243-ga0bb7c09")
    );
    assert_eq!(
        merged.spec.operations().count(),
        3,
        "operationIds: {:?}",
        merged
            .spec
            .operations()
            .map(|o| o.2.operation_id.clone())
            .collect::<Vec<_>>()
    );
}

#[test]
fn operation_ids_follow_the_rule_unless_overridden() {
    let overrides = json!({"operationIds": {"reason": "r", "rule": "rest-resource",
        "overrides": {"GET /widgets/{id}": "fetch_widget"}}});
    let merged = merge(
        &[
            fragment("a.json", doc("/widgets", "get", widget_schema("x"))),
            fragment("b.json", doc("/widgets/{id}", "get", widget_schema("x"))),
            fragment(
                "c.json",
                doc("/widgets/{id}/enable", "post", widget_schema("x")),
            ),
        ],
        &amendments(overrides),
    )
    .unwrap();
    let mut ids: Vec<_> = merged
        .spec
        .operations()
        .filter_map(|(_, _, op)| op.operation_id.clone())
        .collect();
    ids.sort();
    assert_eq!(ids, ["enable_widget", "fetch_widget", "list_widgets"]);
}

#[test]
fn a_failing_patch_names_its_entry_and_reason() {
    let patches = json!({"patches": [{"target": "merged", "reason": "type the status",
        "patch": [{"op": "replace", "path": "/components/schemas/Nope", "value": {}}]}]});
    let err = merge(
        &[fragment(
            "a.json",
            doc("/widgets", "get", widget_schema("x")),
        )],
        &amendments(patches),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("amendments.json: amendment #0 (type the status): "),
        "{err}"
    );
}

#[test]
fn an_amendment_without_a_reason_is_refused() {
    let text = json!({
        "operationIds": {"reason": "r", "rule": "rest-resource"},
        "requestMediaTypes": {"reason": " ", "keep": ["application/json"]},
        "tolerantReading": {"reason": "r", "allowUnknownFields": true, "openEnums": true}
    });
    let err = Amendments::parse(Path::new("am.json"), &text.to_string()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "am.json: /requestMediaTypes/reason: every amendment needs a non-empty `reason`"
    );
}

/// Each kind of amendment that matches nothing is an error naming the entry: before, each was
/// silently skipped (and a misspelled secret replacement left the secret a plain `String`).
#[test]
fn an_amendment_that_matches_nothing_names_its_entry() {
    let frag = || fragment("a.json", doc("/widgets", "get", widget_schema("x")));
    let cases = [
        (
            json!({"patches": [{"target": "a.jsn", "reason": "typo'd target",
                "patch": [{"op": "add", "path": "/info/x-note", "value": 1}]}]}),
            "amendments.json: amendment #0 (typo'd target): /patches/0/target: no fragment is named \"a.jsn\"",
        ),
        (
            json!({"operationIds": {"reason": "r", "rule": "rest-resource",
                "overrides": {"GET /gadgets": "list_gadgets"}}}),
            "amendments.json: /operationIds/overrides/GET ~1gadgets: no fragment defines the operation GET /gadgets",
        ),
        (
            json!({"schemaWinners": [{"component": "schemas/Gadget", "fragment": "a.json", "reason": "r"}]}),
            "amendments.json: /schemaWinners/0: component \"schemas/Gadget\" is not defined by any fragment",
        ),
        (
            json!({"schemaWinners": [{"component": "schemas/Widget", "fragment": "b.json", "reason": "r"}]}),
            "amendments.json: /schemaWinners/0: fragment \"b.json\" does not define component \"schemas/Widget\"",
        ),
        (
            json!({"generator": {"replacements": [{"schema": "ApiTokenScret",
                "rustType": "crate::TokenSecret", "reason": "redact"}]}}),
            "amendments.json: /generator/replacements/0/schema: the merged document has no schema \"ApiTokenScret\"",
        ),
    ];
    for (extra, expected) in cases {
        let err = merge(&[frag()], &amendments(extra)).unwrap_err();
        assert!(
            err.to_string().starts_with(expected),
            "{err}\nexpected: {expected}"
        );
    }
}

#[test]
fn an_operation_id_override_must_be_an_identifier() {
    let text = json!({
        "operationIds": {"reason": "r", "rule": "rest-resource",
            "overrides": {"GET /widgets": "../../x"}},
        "requestMediaTypes": {"reason": "r", "keep": ["application/json"]},
        "tolerantReading": {"reason": "r", "allowUnknownFields": true, "openEnums": true}
    });
    let err = Amendments::parse(Path::new("am.json"), &text.to_string()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("am.json: /operationIds/overrides/GET ~1widgets: expected"),
        "{err}"
    );
}

/// A schema that the generator refuses, defined in one fragment only, is blamed on that
/// fragment, not on the first operation (every operation fails with it).
#[test]
fn a_broken_component_is_blamed_on_the_fragment_that_defines_it() {
    let first = doc("/alpha", "get", widget_schema("x"));
    let mut second = doc("/beta", "get", widget_schema("x"));
    second["components"]["schemas"]["Broken"] = json!({"type": "string", "pattern": "(["});
    let rules = amendments(json!({}));
    let merged = merge(
        &[
            fragment("list-alpha.json", first),
            fragment("list-beta.json", second),
        ],
        &rules,
    )
    .unwrap();
    let err = mpt_codegen::generate::generate(&merged, &rules).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Generate { .. }), "{err:?}");
    assert!(text.contains("component schema Broken"), "{text}");
    assert!(text.contains("(from list-beta.json)"), "{text}");
}

/// Only regular files of bounded size are read: a FIFO would hang, `/dev/zero` never ends.
#[test]
fn inputs_must_be_bounded_regular_files() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.json");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let err = Fragment::read(&fifo).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");

    let zero = dir.path().join("zero.json");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let err = Fragment::read(&zero).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");

    let big = dir.path().join("big.json");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(mpt_codegen::error::MAX_INPUT_BYTES + 1)
        .unwrap();
    let err = Fragment::read(&big).unwrap_err();
    assert!(err.to_string().contains("-byte limit"), "{err}");
    assert!(
        err.to_string().starts_with(&big.display().to_string()),
        "{err}"
    );

    let err = Amendments::read(&fifo).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
    // The directory is read in name order: big.json is refused first.
    let err = mpt_codegen::fragment::load_dir(dir.path()).unwrap_err();
    assert!(err.to_string().contains("big.json: larger than"), "{err}");
    std::fs::remove_file(&big).unwrap();
    let err = mpt_codegen::fragment::load_dir(dir.path()).unwrap_err();
    assert!(
        err.to_string().contains("fifo.json: not a regular file"),
        "{err}"
    );
}
