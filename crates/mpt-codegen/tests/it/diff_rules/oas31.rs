//! OpenAPI 3.1 read as the 3.0 model (issue 36 item 1): a 3.0 → 3.1 move of an unchanged API
//! reports nothing, each 3.1 spelling means what its 3.0 twin means, the rules judge 3.1 pairs as
//! they judge 3.0 ones (both directions), and what 3.0 cannot say is named as not judged.

use mpt_codegen::diff::load_side;
use mpt_codegen::oas31::{normalize, read_as_30, unknown_keywords};

use super::platform::only_change_between;
use super::*;

/// What a maintainer's 3.0 → 3.1 converter writes: `nullable` as a `type` list (or a `oneOf`
/// with a null branch where there is no `type`), boolean exclusive bounds as numbers, `example`
/// as `examples`, a one-value `enum` as `const`, and `{"allOf": [{$ref}], …}` as a `$ref` with
/// siblings.
fn up(doc: &Value) -> Value {
    fn schema(s: &mut Value) {
        let Some(obj) = s.as_object_mut() else { return };
        for key in [
            "properties",
            "items",
            "additionalProperties",
            "allOf",
            "oneOf",
            "anyOf",
        ] {
            match obj.get_mut(key) {
                Some(Value::Object(m)) if key == "properties" => m.values_mut().for_each(schema),
                Some(Value::Array(list)) => list.iter_mut().for_each(schema),
                Some(v @ Value::Object(_)) => schema(v),
                _ => {}
            }
        }
        if obj.remove("nullable") == Some(json!(true)) {
            match obj.get("type").cloned() {
                Some(t) => {
                    obj.insert("type".into(), json!([t, "null"]));
                }
                None => {
                    let inner = Value::Object(std::mem::take(obj));
                    let inner = match inner.get("allOf").and_then(Value::as_array) {
                        Some(parts)
                            if parts.len() == 1 && inner.as_object().unwrap().len() == 1 =>
                        {
                            parts[0].clone()
                        }
                        _ => inner,
                    };
                    obj.insert("oneOf".into(), json!([inner, {"type": "null"}]));
                }
            }
        }
        for (flag, bound) in [
            ("exclusiveMinimum", "minimum"),
            ("exclusiveMaximum", "maximum"),
        ] {
            if obj.get(flag) == Some(&json!(true)) {
                let n = obj.remove(bound).unwrap_or(json!(0));
                obj.insert(flag.into(), n);
            } else if obj.get(flag) == Some(&json!(false)) {
                obj.remove(flag);
            }
        }
        if let Some(e) = obj.remove("example") {
            obj.insert("examples".into(), json!([e]));
        }
        if let Some(Value::Array(values)) = obj.get("enum")
            && values.len() == 1
        {
            let v = values[0].clone();
            obj.remove("enum");
            obj.insert("const".into(), v);
        }
        let wrapped = obj
            .get("allOf")
            .and_then(Value::as_array)
            .and_then(|p| match p.as_slice() {
                [one] if one.get("$ref").is_some() => Some(one.clone()),
                _ => None,
            });
        if let Some(target) = wrapped
            && obj.len() > 1
        {
            obj.remove("allOf");
            obj.insert("$ref".into(), target["$ref"].clone());
        }
    }
    fn other(v: &mut Value, in_schemas: bool) {
        match v {
            Value::Object(obj) => {
                for (key, value) in obj.iter_mut() {
                    if in_schemas || key == "schema" {
                        schema(value);
                    } else {
                        other(value, key == "schemas");
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| other(v, false)),
            _ => {}
        }
    }
    let mut doc = doc.clone();
    doc["openapi"] = json!("3.1.0");
    other(&mut doc, false);
    doc
}

fn merged() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../openapi/marketplace-api-tokens.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn todays_merged_spec_converted_to_3_1_reports_no_change() {
    let spec = merged();
    let converted = up(&spec);
    assert_ne!(converted, spec);
    assert!(
        serde_json::to_string(&converted)
            .unwrap()
            .contains("\"null\""),
        "the converter wrote no 3.1 null: the test would prove nothing"
    );
    // Read through the same door as `cargo xtask diff`: a file on disk.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("spec-3.1.json");
    std::fs::write(&file, serde_json::to_string(&converted).unwrap()).unwrap();
    let amendments = mpt_codegen::amend::Amendments::read(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/amendments.json"),
    )
    .unwrap();
    let read = load_side(&file, &amendments).unwrap();
    for (a, b) in [(&spec, &read), (&read, &spec)] {
        let report = compare(a, b, Tolerance::of(&amendments));
        assert!(report.changes.is_empty(), "{}", report.text());
        assert!(report.not_judged.is_empty(), "{}", report.text());
        let report = compare(a, b, Tolerance::strict());
        assert!(report.changes.is_empty(), "{}", report.text());
    }
    // The 3.0 base fixture too, with its exclusive bound and example.
    let mut base30 = base();
    at(&mut base30, "/components/schemas/NewWidget/properties/size")["exclusiveMinimum"] =
        json!(true);
    at(&mut base30, "/components/schemas/NewWidget/properties/size")["minimum"] = json!(0);
    at(&mut base30, "/components/schemas/NewWidget/properties/name")["example"] = json!("w");
    let report = compare(&base30, &normalize(&up(&base30)), ours());
    assert!(report.changes.is_empty(), "{}", report.text());
}

#[test]
fn each_3_1_spelling_means_its_3_0_twin() {
    let pairs = [
        (
            json!({"type": ["string", "null"]}),
            json!({"type": "string", "nullable": true}),
        ),
        (
            json!({"type": ["null", "integer"], "format": "int32"}),
            json!({"type": "integer", "format": "int32", "nullable": true}),
        ),
        (json!({"const": "On"}), json!({"enum": ["On"]})),
        (
            json!({"type": "number", "exclusiveMinimum": 0}),
            json!({"type": "number", "minimum": 0, "exclusiveMinimum": true}),
        ),
        (
            json!({"type": "number", "exclusiveMaximum": 10, "maximum": 5}),
            json!({"type": "number", "maximum": 5}),
        ),
        (
            json!({"type": "string", "examples": ["a", "b"]}),
            json!({"type": "string", "example": "a"}),
        ),
        (
            json!({"$ref": "#/components/schemas/Tag", "description": "d"}),
            json!({"$ref": "#/components/schemas/Tag"}),
        ),
        (
            json!({"$ref": "#/components/schemas/Tag", "readOnly": true}),
            json!({"allOf": [{"$ref": "#/components/schemas/Tag"}], "readOnly": true}),
        ),
        (
            json!({"oneOf": [{"$ref": "#/components/schemas/Tag"}, {"type": "null"}]}),
            json!({"allOf": [{"$ref": "#/components/schemas/Tag"}], "nullable": true}),
        ),
        (
            json!({"anyOf": [{"type": "string", "maxLength": 3}, {"type": "null"}]}),
            json!({"type": "string", "maxLength": 3, "nullable": true}),
        ),
    ];
    for (v31, v30) in pairs {
        let doc = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
            "components": {"schemas": {"S": v31}}});
        let n = normalize(&doc);
        assert_eq!(n["components"]["schemas"]["S"], v30, "{doc}");
        assert_eq!(n["openapi"], "3.0.3");
        assert_eq!(n["paths"], json!({}), "a 3.1 document may have no paths");
    }
    // A 3.0 document is left as it is, `nullable` and all.
    assert_eq!(normalize(&base()), base());
}

/// `base()` as 3.1 (normalized), and the same document with `edit` made in its 3.1 spelling.
fn pair31(edit: impl Fn(&mut Value)) -> (Value, Value) {
    let old = up(&base());
    let mut new = old.clone();
    edit(&mut new);
    (normalize(&old), normalize(&new))
}

/// An edit, and the rule and level each way.
type Case = (
    Box<dyn Fn(&mut Value)>,
    &'static str,
    Level,
    &'static str,
    Level,
);

#[test]
fn rules_judge_3_1_pairs_as_they_judge_3_0_ones_both_ways() {
    // Response: `note` loses its null (`type: [string, null]` → `string`), a required field
    // gains one; request: `name` gains a `const`, `size` an exclusive bound.
    let cases: Vec<Case> = vec![
        (
            Box::new(|d| {
                at(d, &format!("{WIDGET}/properties/id"))["type"] = json!(["string", "null"])
            }),
            "nullable-added",
            Level::Breaking,
            "nullable-removed",
            Level::NonBreaking,
        ),
        (
            Box::new(|d| at(d, NAME)["type"] = json!(["string", "null"])),
            "nullable-added",
            Level::NonBreaking,
            "nullable-removed",
            Level::Breaking,
        ),
        (
            Box::new(|d| at(d, NAME)["const"] = json!("x")),
            "request-property-became-enum",
            Level::Breaking,
            "request-property-became-enum",
            Level::Breaking,
        ),
        (
            Box::new(|d| {
                at(d, "/components/schemas/NewWidget/properties/size")["exclusiveMinimum"] =
                    json!(0)
            }),
            "request-minimum-narrowed",
            Level::Breaking,
            "request-minimum-widened",
            Level::NonBreaking,
        ),
        (
            Box::new(|d| {
                at(d, &format!("{WIDGET}/properties/size"))["exclusiveMaximum"] = json!(9)
            }),
            "response-maximum-narrowed",
            Level::NonBreaking,
            "response-maximum-widened",
            Level::PotentiallyBreaking,
        ),
    ];
    for (edit, fwd, fwd_level, back, back_level) in cases {
        let (old, new) = pair31(&*edit);
        let c = only_change_between(&old, &new, ours());
        assert_eq!((c.rule, c.level), (fwd, fwd_level), "{c:?}");
        if fwd != "request-property-became-enum" {
            let c = only_change_between(&new, &old, ours());
            assert_eq!((c.rule, c.level), (back, back_level), "{c:?}");
        }
    }
}

#[test]
fn what_3_0_cannot_say_is_reported_as_not_judged_and_refused_by_import() {
    let (old, new) = pair31(|d| {
        at(d, &format!("{WIDGET}/properties/tags"))["prefixItems"] = json!([{"type": "string"}]);
        d["webhooks"] = json!({"ping": {"post": {"responses": {"200": {"description": "OK"}}}}});
    });
    let report = compare(&old, &new, ours());
    assert!(report.changes.is_empty(), "{}", report.text());
    let named: Vec<(&str, &str)> = report
        .not_judged
        .iter()
        .map(|n| (n.keyword.as_str(), n.how))
        .collect();
    assert_eq!(
        named,
        [("prefixItems", "added"), ("webhooks", "added")],
        "{}",
        report.text()
    );
    assert!(report.text().contains("not judged"), "{}", report.text());
    assert!(
        report.json()["notJudged"][0]["pointer"]
            .as_str()
            .unwrap()
            .ends_with("/properties/tags/prefixItems")
    );
    // Backwards: removed; unchanged on both sides: nothing to say.
    let report = compare(&new, &old, ours());
    assert_eq!(report.not_judged.len(), 2);
    assert!(compare(&new, &new, ours()).not_judged.is_empty());
    // A type list of several types is not a 3.0 type either.
    let doc = json!({"openapi": "3.1.0", "info": {"title": "t", "version": "1"},
        "components": {"schemas": {"S": {"type": ["string", "integer"]}}}});
    assert_eq!(
        unknown_keywords(&normalize(&doc))
            .keys()
            .collect::<Vec<_>>(),
        ["/components/schemas/S/type"]
    );
    // Import refuses it, naming the keyword and the pointer.
    let mut doc = up(&base());
    at(&mut doc, &format!("{WIDGET}/properties/tags"))["prefixItems"] = json!([{"type": "string"}]);
    let err = read_as_30(std::path::Path::new("page.md"), doc)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("page.md")
            && err.contains("prefixItems")
            && err.contains("/components/schemas/Widget/properties/tags/prefixItems"),
        "{err}"
    );
    // And reads a 3.1 page it can say in 3.0.
    let read = read_as_30(std::path::Path::new("page.md"), up(&base())).unwrap();
    assert!(compare(&base(), &read, ours()).changes.is_empty());
}

/// Adversarial cases un_empty, un_true_schema, e03_enum_null, d12, d13 and the platform spec
/// converted to 3.1: a 3.0 document with an untyped nullable property, a nullable enum and an
/// inline path item, and its 3.1 spelling (`{}` / `true`, `type: [string, null]` with `null`
/// among the values, a path item under `components/pathItems`) compare as no change, and
/// nothing is left not judged.
#[test]
fn three_one_spellings_of_untyped_nullable_enums_and_path_items_are_the_same_api() {
    let body = |anything: Value, state: Value| {
        json!({"type": "object", "required": ["state"], "properties": {
            "anything": anything, "state": state
        }})
    };
    let op = |schema: Value| {
        json!({"post": {
            "requestBody": {"required": true, "content": {"application/json": {"schema": schema.clone()}}},
            "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": schema}}}}
        }})
    };
    let v30 = json!({
        "openapi": "3.0.3",
        "info": {"title": "T", "version": "1"},
        "paths": {"/items": op(body(
            json!({"nullable": true}),
            json!({"type": "string", "enum": ["a", "b"], "nullable": true})
        ))}
    });
    for anything in [json!({}), json!(true)] {
        let v31 = json!({
            "openapi": "3.1.0",
            "info": {"title": "T", "version": "1"},
            "paths": {"/items": {"$ref": "#/components/pathItems/Items"}},
            "components": {"pathItems": {"Items": op(body(
                anything.clone(),
                json!({"type": ["string", "null"], "enum": ["a", "b", null]})
            ))}}
        });
        for (a, b) in [(&v30, &normalize(&v31)), (&normalize(&v31), &v30)] {
            let report = compare(a, b, Tolerance::strict());
            assert!(report.changes.is_empty(), "{anything}: {}", report.text());
            assert!(
                report.not_judged.is_empty(),
                "{anything}: {}",
                report.text()
            );
        }
        // The path item emptied: its operation is removed, judged like an inline one.
        let mut emptied = v31.clone();
        emptied["components"]["pathItems"]["Items"] = json!({});
        let c = only_change_between(&normalize(&v31), &normalize(&emptied), ours());
        assert_eq!((c.rule, c.level), ("operation-removed", Level::Breaking));
        assert_eq!(c.old.as_deref(), Some("/components/pathItems/Items/post"));
    }
    // A type given to the untyped property still counts: null is no longer accepted.
    let mut typed = v30.clone();
    let props = "/paths/~1items/post/requestBody/content/application~1json/schema/properties";
    at(&mut typed, props)["anything"] = json!({"type": "string"});
    let c = only_change_between(&v30, &typed, Tolerance::strict());
    assert_eq!((c.rule, c.level), ("nullable-removed", Level::Breaking));
}

/// Adversarial case d10_ver_3.1: `openapi: "3.1"` (no patch) is refused with a message that
/// says what to write, not that 3.1 is unsupported.
#[test]
fn a_version_without_its_patch_is_refused_with_what_to_write() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("spec.json");
    let mut doc = base();
    doc["openapi"] = json!("3.1");
    std::fs::write(&file, doc.to_string()).unwrap();
    let amendments = mpt_codegen::amend::Amendments::read(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../openapi/amendments.json"),
    )
    .unwrap();
    let err = load_side(&file, &amendments).unwrap_err().to_string();
    assert!(
        err.contains("spec.json") && err.contains("/openapi"),
        "{err}"
    );
    assert!(
        err.contains("3.1.0") && !err.contains("not supported"),
        "{err}"
    );
}
