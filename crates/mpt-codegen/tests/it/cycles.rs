//! `$ref` cycles: one where every step is required has no finite value and is refused; one
//! through an optional or nullable property or an array generates types that compile and decode.

use std::path::{Path, PathBuf};

use mpt_codegen::Error;
use mpt_codegen::amend::Amendments;
use mpt_codegen::fragment::Fragment;
use mpt_codegen::generate::generate;
use mpt_codegen::merge::merge;
use serde_json::{Value, json};

/// The code the generator makes for `fixtures/cycles/optional.json`, checked in and compiled
/// here; `the_checked_in_code_is_what_the_generator_makes` keeps it current.
#[allow(dead_code, unused_imports, clippy::all)]
#[rustfmt::skip]
mod generated {
    include!("../fixtures/cycles/generated.rs");
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cycles")
}

/// Our real rules, without the patches and generator settings that target the real API.
fn rules() -> Amendments {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/amendments.json");
    // The API tokens namespace's: no module's entries.
    let mut amendments = Amendments::read(&path).unwrap().for_module(None);
    amendments.patches.clear();
    // No replacements, and no hook type: the code is compiled here, outside mpt-api.
    amendments.generator = Default::default();
    amendments
}

fn optional_cycles() -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join("optional.json")).unwrap()).unwrap()
}

fn merge_doc(doc: &Value) -> Result<String, Error> {
    let amendments = rules();
    let fragment = Fragment::parse("cycles.json", &doc.to_string())?;
    let merged = merge(&[fragment], &amendments)?;
    generate(&merged, &amendments)
}

#[test]
fn the_checked_in_code_is_what_the_generator_makes() {
    let code = merge_doc(&optional_cycles()).unwrap();
    let checked_in = std::fs::read_to_string(dir().join("generated.rs")).unwrap();
    if code != checked_in {
        std::fs::write(dir().join("generated.rs.new"), &code).unwrap();
        panic!("tests/fixtures/cycles/generated.rs is stale: compare generated.rs.new");
    }
}

#[test]
fn optional_cycles_generate_types_that_decode() {
    let json = json!({
        "name": "root",
        "owner": {"id": "P-1", "home": {"name": "home", "children": [{"name": "deep"}]}},
        "children": [{"name": "a", "children": [{"name": "b", "parent": {"name": "root"}}]}],
        "parent": null
    });
    let folder: generated::types::Folder = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(folder.children[0].children[0].name, "b");
    let owner = folder.owner.as_ref().unwrap();
    assert_eq!(owner.home.as_ref().unwrap().children[0].name, "deep");
    // A value nested far deeper than serde_json's recursion limit is an error, not a crash.
    let deep = format!(
        "{}{{\"name\":\"x\"}}{}",
        "{\"name\":\"x\",\"parent\":".repeat(10_000),
        "}".repeat(10_000)
    );
    assert!(serde_json::from_str::<generated::types::Folder>(&deep).is_err());
}

fn with_schemas(schemas: Value) -> Value {
    let mut doc = optional_cycles();
    doc["components"]["schemas"] = schemas;
    doc
}

fn refused(schemas: Value) -> String {
    let err = merge_doc(&with_schemas(schemas)).unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    err.to_string()
}

#[test]
fn a_cycle_where_every_step_is_required_is_refused_naming_the_pointers() {
    let folder =
        json!({"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}});
    // A -> B -> A, both required.
    let message = refused(json!({
        "Folder": folder,
        "A": {"type": "object", "required": ["b"], "properties": {"b": {"$ref": "#/components/schemas/B"}}},
        "B": {"type": "object", "required": ["a"], "properties": {"a": {"$ref": "#/components/schemas/A"}}}
    }));
    assert!(message.contains("A -> B -> A"), "{message}");
    assert!(
        message.contains("/components/schemas/A/properties/b/$ref"),
        "{message}"
    );
    assert!(
        message.contains("/components/schemas/B/properties/a/$ref"),
        "{message}"
    );
    // A -> A.
    let message = refused(json!({
        "Folder": folder,
        "A": {"type": "object", "required": ["me"], "properties": {"me": {"$ref": "#/components/schemas/A"}}}
    }));
    assert!(message.contains("A -> A"), "{message}");
    // Through allOf.
    let message = refused(json!({
        "Folder": folder,
        "A": {"allOf": [{"$ref": "#/components/schemas/B"}]},
        "B": {"type": "object", "required": ["a"], "properties": {"a": {"allOf": [{"$ref": "#/components/schemas/A"}]}}}
    }));
    // (`simplifyRefWrappers` has made the one-item allOf a plain `$ref`.)
    assert!(message.contains("/components/schemas/A/$ref"), "{message}");
    assert!(
        message.starts_with("cycles.json: "),
        "names the fragment: {message}"
    );
    assert!(message.contains("every step is required"), "{message}");
}

/// A cycle with no property between its schemas (`allOf`, `oneOf`, a root `$ref`) never ends
/// decoding, nullable or optional: refused, where it used to overflow the stack at run time.
#[test]
fn a_cycle_without_a_nested_step_is_refused_even_when_nullable() {
    let folder =
        json!({"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}});
    let message = refused(json!({
        "Folder": folder,
        "A": {"nullable": true, "allOf": [{"$ref": "#/components/schemas/B"}, {"type": "object", "properties": {"x": {"type": "string"}}}]},
        "B": {"nullable": true, "allOf": [{"$ref": "#/components/schemas/A"}, {"type": "object", "properties": {"y": {"type": "string"}}}]}
    }));
    assert!(message.contains("A -> B -> A"), "{message}");
    assert!(
        message.contains("/components/schemas/A/allOf/0/$ref"),
        "{message}"
    );
    assert!(message.contains("nullable does not help"), "{message}");
    let message = refused(json!({
        "Folder": folder,
        "A": {"oneOf": [{"$ref": "#/components/schemas/B"}, {"type": "string"}]},
        "B": {"anyOf": [{"$ref": "#/components/schemas/A"}, {"type": "integer"}]}
    }));
    assert!(message.contains("A -> B -> A"), "{message}");
}

#[test]
fn a_cycle_with_one_optional_step_is_accepted() {
    merge_doc(&with_schemas(json!({
        "Folder": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
        "A": {"type": "object", "required": ["b"], "properties": {"b": {"$ref": "#/components/schemas/B"}}},
        "B": {"type": "object", "properties": {"a": {"$ref": "#/components/schemas/A"}}}
    })))
    .unwrap();
}
