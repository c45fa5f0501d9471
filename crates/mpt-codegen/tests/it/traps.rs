//! One small fixture spec per known trap of the published fragments, rendered with our real
//! rules and generator settings (openapi/amendments.json minus its patches and generator
//! replacements, which target the real API's schemas). A progenitor upgrade shows up here as a readable snapshot diff.

use std::path::{Path, PathBuf};

use mpt_codegen::Error;
use mpt_codegen::amend::Amendments;
use mpt_codegen::fragment::Fragment;
use mpt_codegen::generate::generate;
use mpt_codegen::merge::merge;

fn real_rules() -> Amendments {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/amendments.json");
    // The API tokens namespace's: no module's entries.
    let mut amendments = Amendments::read(&path).unwrap().for_module(None);
    amendments.patches.clear();
    amendments.generator.replacements.clear();
    amendments
}

fn fixture(name: &str) -> Fragment {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/traps")
        .join(format!("{name}.json"));
    Fragment::read(&path).unwrap()
}

/// The generated code, without the header and the `builder` module (long, mechanical, and
/// following from the types shown).
fn render(name: &str) -> String {
    let amendments = real_rules();
    let merged = merge(&[fixture(name)], &amendments).unwrap();
    let code = generate(&merged, &amendments).unwrap();
    let start = code
        .find("/// Types for composing complex structures.")
        .unwrap();
    let end = code[start..]
        .find("\n    }\n}\n")
        .map(|i| start + i + 7)
        .unwrap();
    format!(
        "{}    // (builder module omitted)\n{}",
        &code[..start],
        &code[end..]
    )
}

#[test]
fn no_operation_id_gets_one_from_the_rule() {
    let code = render("no-operation-id");
    assert!(
        code.contains("pub fn get_widget(&self) -> builder::GetWidget"),
        "{code}"
    );
    insta::assert_snapshot!(code);
}

#[test]
fn three_media_types_are_reduced_to_json() {
    let code = render("three-media-types");
    assert!(code.contains("pub fn create_widget(&self)"));
    insta::assert_snapshot!(code);
}

#[test]
fn three_media_types_without_the_amendment_fail_naming_the_operation() {
    let mut amendments = real_rules();
    amendments.request_media_types.keep = vec![
        "application/json".into(),
        "text/json".into(),
        "application/*+json".into(),
    ];
    let merged = merge(&[fixture("three-media-types")], &amendments).unwrap();
    let err = generate(&merged, &amendments).unwrap_err();
    assert!(matches!(err, Error::Generate { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with("generating the client failed at create_widget (POST /widgets) (from "),
        "{message}"
    );
    assert!(
        message.contains("three-media-types.json): generator panicked"),
        "{message}"
    );
    assert!(
        message.contains("more media types than expected"),
        "{message}"
    );
}

#[test]
fn additional_properties_false_does_not_deny_unknown_fields() {
    let code = render("additional-properties-false");
    assert!(!code.contains("deny_unknown_fields"), "{code}");
    insta::assert_snapshot!(code);
}

#[test]
fn closed_enums_become_open_strings() {
    let code = render("closed-enum");
    assert!(
        code.contains("pub struct WidgetKind(pub ::std::string::String);"),
        "{code}"
    );
    assert!(!code.contains("pub enum"), "{code}");
    insta::assert_snapshot!(code);
}

#[test]
fn nullable_ref_wrappers_become_options_of_the_referenced_type() {
    let code = render("nullable-ref-wrapper");
    assert!(
        code.contains("pub owner: ::std::option::Option<Owner>"),
        "{code}"
    );
    assert!(
        code.contains("pub meta: ::std::option::Option<Owner>"),
        "{code}"
    );
    insta::assert_snapshot!(code);
}

#[test]
fn problem_details_keep_their_extension_members() {
    let code = render("problem-extensions");
    assert!(code.contains("#[serde(flatten)]"), "{code}");
    assert!(code.contains("Error<types::ProblemDetails>"), "{code}");
    insta::assert_snapshot!(code);
}

#[test]
fn inline_bodies_answers_and_parameters_named_like_a_schema_get_names_of_their_own() {
    let amendments = real_rules();
    let merged = merge(&[fixture("inline-name-collision")], &amendments).unwrap();
    let generated = mpt_codegen::generate::generate_with(&merged, &amendments, false).unwrap();
    let code = &generated.code;
    for (schema, field) in [
        ("CreateWidgetBody", "note"),
        ("CreateWidgetResponse", "total"),
        ("CreateWidgetMode", "level"),
    ] {
        let start = code
            .find(&format!("pub struct {schema} {{"))
            .unwrap_or_else(|| panic!("{schema} is generated as a struct: {code}"));
        let body = &code[start..start + code[start..].find('}').unwrap()];
        assert!(
            body.contains(&format!("pub {field}:")),
            "{schema} is the component schema, not the inline one: {body}"
        );
    }
    assert!(
        code.contains("pub struct CreateWidgetBodyValue {"),
        "{code}"
    );
    assert!(
        code.contains("pub struct CreateWidgetResponseValue {"),
        "{code}"
    );
    assert!(
        code.contains("mode: Result<Option<::std::string::String>, String>"),
        "the query parameter is a string (closed enums are open), not CreateWidgetMode: {code}"
    );
    assert!(
        generated
            .passes
            .contains(&("typeNameCollisions".to_string(), 1)),
        "{:?}",
        generated.passes
    );
}
