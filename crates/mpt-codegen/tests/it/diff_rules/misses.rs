//! Issue 36 item 3: the misses and false alarms found by replaying oasdiff's checker pairs,
//! each judged right, in 3.0 and 3.1 spellings and both directions where the rule has two.

use mpt_codegen::oas31::normalize;

use super::platform::only_change_between;
use super::*;

/// `base()` with the create body wrapped in `oneOf` (NewWidget | an inline object), as 3.0 and
/// as its 3.1 spelling (a null branch instead of `nullable`).
fn one_of_bodies() -> [Value; 2] {
    let mut d = base();
    at(
        &mut d,
        &format!("{POST}/requestBody/content/application~1json"),
    )["schema"] = json!({
        "oneOf": [
            {"$ref": "#/components/schemas/NewWidget"},
            {"type": "object", "properties": {"code": {"type": "string"}}}
        ]
    });
    let mut d31 = d.clone();
    d31["openapi"] = json!("3.1.0");
    at(&mut d31, NAME)["type"] = json!(["string"]);
    [d, d31]
}

#[test]
fn a_request_property_inside_a_one_of_body_made_stricter_breaks() {
    for old in one_of_bodies() {
        let old = normalize(&old);
        // Through a named branch.
        let mut new = old.clone();
        at(&mut new, NAME)["maxLength"] = json!(5);
        let c = only_change_between(&old, &new, ours());
        assert_eq!(
            (c.rule, c.level),
            ("request-max-length-narrowed", Level::Breaking)
        );
        let c = only_change_between(&new, &old, ours());
        assert_eq!(
            (c.rule, c.level),
            ("request-max-length-widened", Level::NonBreaking)
        );
        // Through an inline branch: a property becomes required.
        let mut new = old.clone();
        let inline = format!("{POST}/requestBody/content/application~1json/schema/oneOf/1");
        at(&mut new, &inline)["required"] = json!(["code"]);
        let c = only_change_between(&old, &new, ours());
        assert_eq!(
            (c.rule, c.level),
            ("request-property-became-required", Level::Breaking)
        );
        let c = only_change_between(&new, &old, ours());
        assert_eq!(
            (c.rule, c.level),
            ("request-property-became-optional", Level::NonBreaking)
        );
    }
}

#[test]
fn a_schema_added_to_or_removed_from_a_media_type_that_had_none_breaks() {
    let mut bare = base();
    at(
        &mut bare,
        &format!("{POST}/requestBody/content/application~1json"),
    )
    .as_object_mut()
    .unwrap()
    .remove("schema");
    at(
        &mut bare,
        &format!("{GET}/responses/200/content/application~1json"),
    )
    .as_object_mut()
    .unwrap()
    .remove("schema");
    for (old, new) in [
        (base(), bare.clone()),
        (normalize(&up31(&base())), normalize(&up31(&bare))),
    ] {
        let report = compare(&old, &new, ours());
        let rules: Vec<(&str, Level)> = report.changes.iter().map(|c| (c.rule, c.level)).collect();
        assert_eq!(
            rules,
            [
                ("response-media-type-schema-removed", Level::Breaking),
                ("request-media-type-schema-removed", Level::Breaking),
            ],
            "{}",
            report.text()
        );
        // The SDK-only one says why (the wire accepts more; the Rust type changes).
        assert!(
            report.changes[1]
                .note
                .as_deref()
                .unwrap_or("")
                .contains("SDK semver")
        );
        let report = compare(&new, &old, ours());
        let rules: Vec<(&str, Level)> = report.changes.iter().map(|c| (c.rule, c.level)).collect();
        assert_eq!(
            rules,
            [
                ("response-media-type-schema-added", Level::Breaking),
                ("request-media-type-schema-added", Level::Breaking),
            ],
            "{}",
            report.text()
        );
        assert!(
            report.changes[0]
                .note
                .as_deref()
                .unwrap_or("")
                .contains("SDK semver")
        );
    }
}

/// `doc` marked 3.1 (the fixture uses nothing 3.0-only but `nullable`, spelled as a type list).
fn up31(doc: &Value) -> Value {
    let mut d = doc.clone();
    d["openapi"] = json!("3.1.0");
    at(&mut d, "/components/schemas/Widget/properties/note")
        .as_object_mut()
        .unwrap()
        .remove("nullable");
    at(&mut d, "/components/schemas/Widget/properties/note")["type"] = json!(["string", "null"]);
    d
}

#[test]
fn a_discriminator_mapping_change_is_judged_by_direction() {
    let shape = "/components/schemas/Widget/properties/shape";
    let mut old = with_shapes();
    at(&mut old, shape)["discriminator"] = json!({"propertyName": "kind", "mapping": {
        "circle": "#/components/schemas/Circle", "square": "#/components/schemas/Square"}});
    for old in [old.clone(), normalize(&up31(&old))] {
        // A value now names another schema: breaks either way.
        let mut new = old.clone();
        at(&mut new, shape)["discriminator"]["mapping"]["circle"] =
            json!("#/components/schemas/Square");
        let c = only_change_between(&old, &new, ours());
        assert_eq!(
            (c.rule, c.level),
            ("discriminator-mapping-changed", Level::Breaking)
        );
        // A value added to what the client reads breaks (the generated enum cannot decode it);
        // removed, it does not.
        let mut new = old.clone();
        at(&mut new, shape)["discriminator"]["mapping"]["tri"] =
            json!("#/components/schemas/Square");
        let c = only_change_between(&old, &new, ours());
        assert_eq!(
            (c.rule, c.level),
            ("response-discriminator-mapping-added", Level::Breaking)
        );
        let c = only_change_between(&new, &old, ours());
        assert_eq!(
            (c.rule, c.level),
            ("response-discriminator-mapping-removed", Level::NonBreaking)
        );
    }
    // In a request: removed breaks, added does not.
    let mut old = base();
    old["components"]["schemas"]["Circle"] =
        json!({"type": "object", "properties": {"kind": {"type": "string"}}});
    at(&mut old, NEW_WIDGET)["properties"]["shape"] = json!({
        "oneOf": [{"$ref": "#/components/schemas/Circle"}],
        "discriminator": {"propertyName": "kind", "mapping": {"circle": "#/components/schemas/Circle"}}
    });
    let mut new = old.clone();
    at(&mut new, &format!("{NEW_WIDGET}/properties/shape"))["discriminator"]["mapping"]["round"] =
        json!("#/components/schemas/Circle");
    let c = only_change_between(&old, &new, ours());
    assert_eq!(
        (c.rule, c.level),
        ("request-discriminator-mapping-added", Level::NonBreaking)
    );
    let c = only_change_between(&new, &old, ours());
    assert_eq!(
        (c.rule, c.level),
        ("request-discriminator-mapping-removed", Level::Breaking)
    );
}

#[test]
fn a_discriminator_added_or_removed_without_a_type_change_does_not_break() {
    let shape = "/components/schemas/Widget/properties/shape";
    let old = with_shapes();
    let mut new = old.clone();
    at(&mut new, shape)["discriminator"] = json!({"propertyName": "kind"});
    let c = only_change_between(&old, &new, ours());
    assert_eq!(
        (c.rule, c.level),
        ("discriminator-added", Level::NonBreaking)
    );
    let c = only_change_between(&new, &old, ours());
    assert_eq!(
        (c.rule, c.level),
        ("discriminator-removed", Level::NonBreaking)
    );
    let c = only_change_between(&normalize(&up31(&old)), &normalize(&up31(&new)), ours());
    assert_eq!(
        (c.rule, c.level),
        ("discriminator-added", Level::NonBreaking)
    );
}

#[test]
fn a_pattern_relaxed_to_match_everything_is_a_pattern_removed() {
    for everything in [".*", "^.*$", "^[\\s\\S]*$", "(.*)", "[\\s\\S]*"] {
        let (old, new) = {
            let mut old = base();
            at(&mut old, SELECT)["schema"]["pattern"] = json!("^[a-z]+$");
            let mut new = old.clone();
            at(&mut new, SELECT)["schema"]["pattern"] = json!(everything);
            (old, new)
        };
        for (a, b) in [
            (old.clone(), new.clone()),
            (normalize(&up31(&old)), normalize(&up31(&new))),
        ] {
            let c = only_change_between(&a, &b, ours());
            assert_eq!(
                (c.rule, c.level),
                ("request-pattern-removed", Level::NonBreaking),
                "{everything}"
            );
            let c = only_change_between(&b, &a, ours());
            assert_eq!(
                (c.rule, c.level),
                ("request-pattern-added-or-changed", Level::Breaking),
                "{everything}"
            );
        }
        // A pattern that matches everything added where there was none: no change at all.
        let plain = base();
        let mut everything_added = base();
        at(&mut everything_added, SELECT)["schema"]["pattern"] = json!(everything);
        let report = compare(&plain, &everything_added, Tolerance::strict());
        assert!(report.changes.is_empty(), "{}", report.text());
    }
    // A pattern that does not match everything is still judged as changed.
    let mut old = base();
    at(&mut old, SELECT)["schema"]["pattern"] = json!("^[a-z]+$");
    let mut new = old.clone();
    at(&mut new, SELECT)["schema"]["pattern"] = json!("^.+$");
    let c = only_change_between(&old, &new, ours());
    assert_eq!(
        (c.rule, c.level),
        ("request-pattern-added-or-changed", Level::Breaking)
    );
}

/// Adversarial cases pt_added_emptyonly, pt_relax_^$: `^$` accepts the empty string only, a
/// real constraint, not a pattern that matches everything.
#[test]
fn an_empty_only_pattern_is_a_constraint_not_match_all() {
    for empty_only in ["^$", "^()$", "^(?:)$"] {
        let plain = base();
        let mut added = base();
        at(&mut added, SELECT)["schema"]["pattern"] = json!(empty_only);
        let c = only_change_between(&plain, &added, ours());
        assert_eq!(
            (c.rule, c.level),
            ("request-pattern-added-or-changed", Level::Breaking),
            "{empty_only}"
        );
        let mut old = base();
        at(&mut old, SELECT)["schema"]["pattern"] = json!("^[a-z]+$");
        let c = only_change_between(&old, &added, ours());
        assert_eq!(
            (c.rule, c.level),
            ("request-pattern-added-or-changed", Level::Breaking),
            "{empty_only}"
        );
    }
    // Unanchored, the empty pattern is found in every string.
    for everything in ["", "^", "$", ".*?", "(?:.*)", "[\\w\\W]*"] {
        let mut added = base();
        at(&mut added, SELECT)["schema"]["pattern"] = json!(everything);
        let report = compare(&base(), &added, Tolerance::strict());
        assert!(report.changes.is_empty(), "{everything}: {}", report.text());
    }
}

/// Adversarial case f05_oneOf_inline_reordered: inline `oneOf` branches are matched by content,
/// not position: reordered, nothing changed; reordered with one changed, that change only.
#[test]
fn inline_one_of_branches_are_matched_by_content_not_position() {
    let with = |branches: Value| {
        let mut d = base();
        at(
            &mut d,
            &format!("{POST}/requestBody/content/application~1json"),
        )["schema"] = json!({"oneOf": branches});
        d
    };
    let object = |max: u32| json!({"type": "object", "properties": {"name": {"type": "string", "maxLength": max}}});
    let old = with(json!([object(10), {"type": "integer"}]));
    let reordered = with(json!([{"type": "integer"}, object(10)]));
    let report = compare(&old, &reordered, Tolerance::strict());
    assert!(report.changes.is_empty(), "{}", report.text());
    // Reordered, and the object's maxLength narrowed: found in the object branch.
    let narrowed = with(json!([{"type": "integer"}, object(5)]));
    let c = only_change_between(&old, &narrowed, Tolerance::strict());
    assert_eq!(
        (c.rule, c.level),
        ("request-max-length-narrowed", Level::Breaking)
    );
    // A branch removed is a branch removed, whatever its position.
    let removed = with(json!([object(10)]));
    let c = only_change_between(&old, &removed, Tolerance::strict());
    assert_eq!(
        (c.rule, c.level),
        ("request-branch-removed", Level::Breaking)
    );
}

/// Adversarial case f16: a discriminator mapping by schema name (`Cat`) means the `$ref`
/// `#/components/schemas/Cat`.
#[test]
fn a_discriminator_mapping_by_name_is_the_same_as_by_ref() {
    let mut old = with_shapes();
    let shape = "/components/schemas/Widget/properties/shape";
    at(&mut old, shape)["discriminator"] = json!({"propertyName": "kind", "mapping": {
        "circle": "#/components/schemas/Circle", "square": "#/components/schemas/Square"
    }});
    let mut new = old.clone();
    at(&mut new, shape)["discriminator"]["mapping"] =
        json!({"circle": "Circle", "square": "Square"});
    let report = compare(&old, &new, Tolerance::strict());
    assert!(report.changes.is_empty(), "{}", report.text());
    // A name that is another schema is still a change.
    at(&mut new, shape)["discriminator"]["mapping"]["square"] = json!("Triangle");
    let c = only_change_between(&old, &new, Tolerance::strict());
    assert_eq!(
        (c.rule, c.level),
        ("discriminator-mapping-changed", Level::Breaking)
    );
}

/// Adversarial cases k30_*: 3.0 keywords no rule reads (`not`, `multipleOf`, `minProperties`,
/// `maxProperties`) and a map losing its value schema are listed as not judged, with the
/// pointer, never passed over in silence.
#[test]
fn unread_three_zero_keywords_are_listed_as_not_judged() {
    let size = "/components/schemas/NewWidget/properties/size";
    for (keyword, value) in [
        ("not", json!({"type": "string"})),
        ("multipleOf", json!(5)),
        ("minProperties", json!(1)),
        ("maxProperties", json!(3)),
    ] {
        let mut new = base();
        at(&mut new, size)[keyword] = value;
        let report = compare(&base(), &new, Tolerance::strict());
        assert!(report.changes.is_empty(), "{}", report.text());
        assert_eq!(report.not_judged.len(), 1, "{}", report.text());
        let n = &report.not_judged[0];
        assert_eq!((n.keyword.as_str(), n.how), (keyword, "added"));
        assert_eq!(n.pointer, format!("{size}/{keyword}"));
    }
    // A map that loses its value schema.
    let mut old = base();
    at(&mut old, size).as_object_mut().unwrap().clear();
    at(&mut old, size)["type"] = json!("object");
    at(&mut old, size)["additionalProperties"] = json!({"type": "integer"});
    let mut new = old.clone();
    at(&mut new, size)
        .as_object_mut()
        .unwrap()
        .remove("additionalProperties");
    let report = compare(&old, &new, Tolerance::strict());
    assert!(
        report
            .not_judged
            .iter()
            .any(|n| n.keyword == "additionalProperties" && n.how == "removed"),
        "{}",
        report.text()
    );
}
