//! Deep schemas: long `$ref` chains, `allOf` chains and property chains are followed far
//! enough for any real API, and past the bound reported as not judged, never a stack overflow
//! (adversarial cases h_propchain_2000, h_chain_allof_17, h_refchain_32).

use super::platform::only_change_between;
use super::*;

/// A document whose create body is `S0`, `S{i}` reaching `S{i+1}` with `link(i+1)`, and the
/// last, `S{n}`, an object with `z` of type `last`.
fn chain(n: usize, link: impl Fn(usize) -> Value, last: &str) -> Value {
    let mut schemas = serde_json::Map::new();
    for i in 0..n {
        schemas.insert(format!("S{i}"), link(i + 1));
    }
    schemas.insert(
        format!("S{n}"),
        json!({"type": "object", "properties": {"z": {"type": last}}}),
    );
    json!({
        "openapi": "3.0.1",
        "info": {"title": "T", "version": "1"},
        "paths": {"/x": {"post": {
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/S0"}}}},
            "responses": {"200": {"description": "OK"}}
        }}},
        "components": {"schemas": schemas}
    })
}

fn reference(i: usize) -> Value {
    json!({"$ref": format!("#/components/schemas/S{i}")})
}

#[test]
fn long_ref_and_all_of_chains_are_followed() {
    type Link = fn(usize) -> Value;
    let links: [(&str, Link); 4] = [
        ("$ref", reference),
        ("allOf", |i| json!({"allOf": [reference(i)]})),
        (
            "allOf of a $ref",
            |i| json!({"allOf": [{"allOf": [reference(i)]}]}),
        ),
        // Adversarial case h_dag_allof_20: each part twice, 2^n paths to the last schema,
        // each merged once (this took minutes before).
        (
            "allOf twice",
            |i| json!({"allOf": [reference(i), reference(i)]}),
        ),
    ];
    for (what, link) in links {
        for n in [17, 32, 33, 120] {
            let old = chain(n, link, "string");
            let new = chain(n, link, "integer");
            let c = only_change_between(&old, &new, ours());
            assert_eq!(
                (c.rule, c.level),
                ("type-changed", Level::Breaking),
                "{what} x{n}"
            );
        }
    }
}

#[test]
fn a_property_chain_past_the_bound_is_not_judged_and_does_not_overflow() {
    let link = |i| json!({"type": "object", "properties": {"n": reference(i)}});
    // Within the bound: the change at the end is found.
    let report = compare(
        &chain(200, link, "string"),
        &chain(200, link, "integer"),
        ours(),
    );
    assert_eq!(report.changes.len(), 1, "{}", report.text());
    assert!(report.not_judged.is_empty());
    // Past it (the adversarial case is 2,000 deep): reported as not judged, no crash.
    let report = compare(
        &chain(2000, link, "string"),
        &chain(2000, link, "integer"),
        ours(),
    );
    assert!(report.changes.is_empty(), "{}", report.text());
    assert_eq!(report.not_judged.len(), 1, "{}", report.text());
    assert_eq!(report.not_judged[0].how, "too deep to compare");
    assert!(report.text().contains("too deep to compare"));
    assert!(report.summary().contains("not judged"));
}
