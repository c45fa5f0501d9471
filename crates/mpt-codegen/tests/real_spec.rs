//! The repository's own fragments through the whole pipeline.

use std::fmt::Write;
use std::path::Path;

use mpt_codegen::regen::{Layout, build};

fn layout() -> Layout {
    Layout::of_repo(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
}

#[test]
fn the_merged_spec_holds_all_seven_operations_with_their_ids() {
    let (merged, _) = build(&layout()).unwrap();
    let mut ids: Vec<String> = merged
        .spec
        .operations()
        .map(|(path, method, op)| {
            format!(
                "{} {path} {}",
                method.to_uppercase(),
                op.operation_id.clone().unwrap_or_default()
            )
        })
        .collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "DELETE /public/v1/accounts/api-tokens/{id} delete_api_token",
            "GET /public/v1/accounts/api-tokens list_api_tokens",
            "GET /public/v1/accounts/api-tokens/{id} get_api_token",
            "POST /public/v1/accounts/api-tokens create_api_token",
            "POST /public/v1/accounts/api-tokens/{id}/disable disable_api_token",
            "POST /public/v1/accounts/api-tokens/{id}/enable enable_api_token",
            "PUT /public/v1/accounts/api-tokens/{id} update_api_token",
        ]
    );
    assert_eq!(merged.doc["info"]["version"], "5.0.5521-gb6ada4dc");
    let text = merged.to_pretty_json();
    assert!(!text.contains("\"additionalProperties\": false"));
    assert!(!text.contains("text/json"));
}

#[test]
fn two_runs_are_byte_identical() {
    let (_, first) = build(&layout()).unwrap();
    let (_, second) = build(&layout()).unwrap();
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(
            a.contents,
            b.contents,
            "{} differs between runs",
            a.path.display()
        );
    }
}

/// One line per operation: method, path, id, parameters, request body, responses.
#[test]
fn merged_spec_surface() {
    let (merged, _) = build(&layout()).unwrap();
    let mut out = String::new();
    for (route, item) in merged.doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let params: Vec<String> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| {
                            format!(
                                "{}:{}",
                                p["in"].as_str().unwrap(),
                                p["name"].as_str().unwrap()
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let body = op
                .pointer("/requestBody/content")
                .map(|c| serde_json::to_string(c).unwrap())
                .unwrap_or_else(|| "-".into());
            let responses: Vec<String> = op["responses"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(code, r)| {
                    let schema = r
                        .pointer("/content/application~1json/schema/$ref")
                        .and_then(|v| v.as_str())
                        .map(|s| s.rsplit('/').next().unwrap().to_string())
                        .unwrap_or_else(|| "-".into());
                    format!("{code}={schema}")
                })
                .collect();
            writeln!(
                out,
                "{} {route}\n  id: {}\n  params: {}\n  body: {body}\n  responses: {}",
                method.to_uppercase(),
                op["operationId"].as_str().unwrap(),
                params.join(", "),
                responses.join(", ")
            )
            .unwrap();
        }
    }
    for (name, schema) in merged.doc["components"]["schemas"].as_object().unwrap() {
        let props: Vec<&str> = schema["properties"]
            .as_object()
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        writeln!(out, "schema {name}: {}", props.join(", ")).unwrap();
    }
    insta::assert_snapshot!(out);
}

/// The public items of the generated client: what a progenitor upgrade or a spec change moves.
#[test]
fn generated_code_surface() {
    let (_, outputs) = build(&layout()).unwrap();
    let code = &outputs[1].contents;
    let surface: Vec<&str> = code
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            (t.starts_with("pub struct")
                || t.starts_with("pub enum")
                || t.starts_with("pub fn")
                || t.starts_with("pub mod")
                || t.starts_with("pub async fn")
                || (t.starts_with("pub ") && t.contains(": ")))
                && !l.starts_with("            ")
        })
        .collect();
    insta::assert_snapshot!(surface.join("\n"));
}
