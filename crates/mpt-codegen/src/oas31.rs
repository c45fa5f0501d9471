//! OpenAPI 3.1 read as the OpenAPI 3.0 model the rest of the pipeline knows.
//!
//! [`normalize`] rewrites a 3.1 document into the 3.0 form that says the same thing, so that a
//! 3.0 → 3.1 move of an unchanged API compares as no change:
//!
//! * `type: [T, "null"]` → `type: T, nullable: true`;
//! * `oneOf`/`anyOf` with a `{"type": "null"}` branch → the other branch(es), `nullable: true`;
//! * `const: v` → `enum: [v]`;
//! * numeric `exclusiveMinimum: n` / `exclusiveMaximum: n` → `minimum: n, exclusiveMinimum:
//!   true` (the tighter bound wins when both are given);
//! * a schema's `examples: [a, …]` → `example: a`;
//! * `$ref` with sibling keywords (which 3.1 applies and 3.0 ignores) → `allOf: [{$ref}]` beside
//!   the siblings; siblings that only annotate (`description`, `title`, `summary`, `$comment`,
//!   examples) are dropped, as 3.0 reads them;
//! * a document without `paths` (3.1 allows it) gets an empty one; `openapi` becomes `3.0.3`;
//! * `$defs` is read as a container of schemas (a local `$ref` reaches them by JSON pointer).
//!
//! What has no 3.0 meaning (`prefixItems`, `if`/`then`/`else`, `contentMediaType`,
//! `unevaluatedProperties`, `webhooks`, `jsonSchemaDialect`, a `type` list of several types,
//! …) is left where it is and listed by [`unknown_keywords`]: the change report names each
//! one that differs between its sides as not judged, and import refuses it, naming the place.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value, json};

use crate::error::{Error, Result, escape_token};

/// The schema keywords of OpenAPI 3.0 (and what [`normalize`] turns 3.1 into).
const KNOWN: &[&str] = &[
    "type",
    "format",
    "nullable",
    "enum",
    "required",
    "properties",
    "items",
    "additionalProperties",
    "allOf",
    "oneOf",
    "anyOf",
    "not",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "multipleOf",
    "default",
    "description",
    "title",
    "example",
    "readOnly",
    "writeOnly",
    "deprecated",
    "discriminator",
    "xml",
    "externalDocs",
    "$ref",
    "$comment",
    "$defs",
];

/// Keywords beside a `$ref` that only annotate: 3.0 ignores them, and so may we.
const ANNOTATIONS: &[&str] = &[
    "description",
    "title",
    "summary",
    "$comment",
    "example",
    "examples",
];

/// Schema keywords whose value is one subschema.
const ONE: &[&str] = &[
    "items",
    "additionalProperties",
    "not",
    "contains",
    "if",
    "then",
    "else",
    "propertyNames",
    "unevaluatedProperties",
    "unevaluatedItems",
    "contentSchema",
];

/// Schema keywords whose value is a list of subschemas.
const LISTS: &[&str] = &["allOf", "oneOf", "anyOf", "prefixItems"];

/// Schema keywords whose value is a map of subschemas.
const MAPS: &[&str] = &[
    "properties",
    "patternProperties",
    "dependentSchemas",
    "$defs",
];

/// Whether `doc` says it is OpenAPI 3.1.
pub fn is_31(doc: &Value) -> bool {
    doc.get("openapi")
        .and_then(Value::as_str)
        .is_some_and(|v| v.starts_with("3.1."))
}

/// `doc` in the OpenAPI 3.0 model: a 3.1 document rewritten (see the module docs), anything
/// else unchanged.
pub fn normalize(doc: &Value) -> Value {
    let mut doc = doc.clone();
    if !is_31(&doc) {
        return doc;
    }
    doc["openapi"] = json!("3.0.3");
    if doc.get("paths").is_none() {
        doc["paths"] = json!({});
    }
    for_each_schema(&mut doc, &mut |s| normalize_schema(s));
    doc
}

/// Normalizes a document `import` read from `path`: a 3.1 one becomes 3.0, and one that uses
/// what 3.0 cannot say is refused, naming the keyword and its pointer.
pub fn read_as_30(path: &Path, doc: Value) -> Result<Value> {
    if !is_31(&doc) {
        return Ok(doc);
    }
    let doc = normalize(&doc);
    if let Some((pointer, _)) = unknown_keywords(&doc).into_iter().next() {
        let keyword = pointer.rsplit('/').next().unwrap_or("").replace("~1", "/");
        return Err(Error::invalid(
            path,
            &pointer,
            format!(
                "OpenAPI 3.1 keyword `{}` has no OpenAPI 3.0 equivalent: neither the change report nor the generator can read it",
                keyword.replace("~0", "~")
            ),
        ));
    }
    Ok(doc)
}

/// Every keyword of `doc` outside the 3.0 model, by JSON pointer, with its value: schema
/// keywords that are neither 3.0's nor extensions (`x-…`), a `type` that is a list or `"null"`,
/// and the 3.1 top-level members `webhooks`, `jsonSchemaDialect` and `components/pathItems`.
pub fn unknown_keywords(doc: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for pointer in ["/webhooks", "/jsonSchemaDialect", "/components/pathItems"] {
        if let Some(v) = doc.pointer(pointer) {
            out.insert(pointer.to_string(), v.clone());
        }
    }
    let mut visit = |schema: &Value, at: &str| {
        let Some(obj) = schema.as_object() else {
            return;
        };
        for (key, value) in obj {
            let odd_type = key == "type" && (!value.is_string() || value == "null");
            let foreign = !KNOWN.contains(&key.as_str()) && !key.starts_with("x-");
            if foreign || odd_type {
                out.insert(format!("{at}/{}", escape_token(key)), value.clone());
            }
        }
    };
    walk_schemas(doc, "", false, &mut visit);
    out
}

/// Calls `f` on every schema of `doc`, innermost first.
fn for_each_schema(doc: &mut Value, f: &mut dyn FnMut(&mut Value)) {
    fn schema(s: &mut Value, f: &mut dyn FnMut(&mut Value)) {
        if let Some(obj) = s.as_object_mut() {
            for (key, value) in obj.iter_mut() {
                let key = key.as_str();
                if ONE.contains(&key) {
                    schema(value, f);
                } else if LISTS.contains(&key) {
                    value
                        .as_array_mut()
                        .into_iter()
                        .flatten()
                        .for_each(|v| schema(v, f));
                } else if MAPS.contains(&key) {
                    value
                        .as_object_mut()
                        .into_iter()
                        .flat_map(|m| m.values_mut())
                        .for_each(|v| schema(v, f));
                }
            }
        }
        f(s);
    }
    fn other(v: &mut Value, f: &mut dyn FnMut(&mut Value), in_schemas: bool) {
        match v {
            Value::Object(obj) => {
                for (key, value) in obj.iter_mut() {
                    if in_schemas || key == "schema" {
                        schema(value, f);
                    } else {
                        other(value, f, key == "schemas");
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| other(v, f, false)),
            _ => {}
        }
    }
    other(doc, f, false);
}

/// Calls `visit` on every schema of `doc` with its pointer (outermost first).
fn walk_schemas(v: &Value, at: &str, is_schema: bool, visit: &mut dyn FnMut(&Value, &str)) {
    if is_schema {
        visit(v, at);
        let Some(obj) = v.as_object() else { return };
        for (key, value) in obj {
            let here = format!("{at}/{}", escape_token(key));
            if ONE.contains(&key.as_str()) {
                walk_schemas(value, &here, true, visit);
            } else if LISTS.contains(&key.as_str()) {
                for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                    walk_schemas(item, &format!("{here}/{i}"), true, visit);
                }
            } else if MAPS.contains(&key.as_str()) {
                for (name, item) in value.as_object().into_iter().flatten() {
                    let p = format!("{here}/{}", escape_token(name));
                    walk_schemas(item, &p, true, visit);
                }
            }
        }
        return;
    }
    match v {
        Value::Object(obj) => {
            for (key, value) in obj {
                let here = format!("{at}/{}", escape_token(key));
                if key == "schema" {
                    walk_schemas(value, &here, true, visit);
                } else if key == "schemas" && at == "/components" {
                    for (name, item) in value.as_object().into_iter().flatten() {
                        let p = format!("{here}/{}", escape_token(name));
                        walk_schemas(item, &p, true, visit);
                    }
                } else {
                    walk_schemas(value, &here, false, visit);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                walk_schemas(item, &format!("{at}/{i}"), false, visit);
            }
        }
        _ => {}
    }
}

/// One schema, its subschemas already normalized.
fn normalize_schema(s: &mut Value) {
    let Some(obj) = s.as_object_mut() else {
        return;
    };
    type_list(obj);
    null_branch(obj);
    if let Some(value) = obj.remove("const") {
        obj.entry("enum").or_insert_with(|| json!([value]));
    }
    for (exclusive, plain, tighter) in [
        ("exclusiveMinimum", "minimum", 1.0),
        ("exclusiveMaximum", "maximum", -1.0),
    ] {
        exclusive_bound(obj, exclusive, plain, tighter);
    }
    if let Some(Value::Array(mut examples)) = obj.remove("examples")
        && !examples.is_empty()
    {
        obj.entry("example")
            .or_insert_with(|| examples.swap_remove(0));
    }
    ref_siblings(obj);
}

/// `type: [T, "null"]` → `type: T, nullable: true` (a list of several types stays).
fn type_list(obj: &mut Map<String, Value>) {
    let Some(Value::Array(types)) = obj.get("type") else {
        return;
    };
    let null = types.iter().any(|t| t == "null");
    let rest: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
    match rest.as_slice() {
        [one] => {
            obj.insert("type".into(), one.clone());
        }
        [] => {
            obj.insert("type".into(), json!("null"));
        }
        _ => {
            obj.insert("type".into(), Value::Array(rest));
        }
    }
    if null {
        obj.insert("nullable".into(), json!(true));
    }
}

/// `oneOf: [X, {type: null}]` → X with `nullable: true`; with more branches, the null one is
/// dropped and the holder is nullable.
fn null_branch(obj: &mut Map<String, Value>) {
    for key in ["oneOf", "anyOf"] {
        let Some(Value::Array(branches)) = obj.get(key) else {
            continue;
        };
        let is_null =
            |b: &Value| b.as_object().is_some_and(|o| o.len() == 1) && b["type"] == "null";
        if !branches.iter().any(is_null) {
            continue;
        }
        let mut rest: Vec<Value> = branches.iter().filter(|b| !is_null(b)).cloned().collect();
        obj.insert("nullable".into(), json!(true));
        if rest.len() != 1 {
            obj.insert(key.into(), Value::Array(rest));
            continue;
        }
        obj.remove(key);
        let only = rest.remove(0);
        match only {
            Value::Object(inner) if !inner.contains_key("$ref") => {
                for (k, v) in inner {
                    obj.entry(k).or_insert(v);
                }
            }
            other => {
                obj.insert("allOf".into(), json!([other]));
            }
        }
    }
}

/// A numeric 3.1 exclusive bound as a 3.0 bound with its boolean flag; `tighter` is `1.0` for a
/// lower bound (greater is tighter) and `-1.0` for an upper one.
fn exclusive_bound(obj: &mut Map<String, Value>, exclusive: &str, plain: &str, tighter: f64) {
    let Some(n) = obj.get(exclusive).and_then(Value::as_f64) else {
        return;
    };
    let value = obj.remove(exclusive).unwrap_or(Value::Null);
    match obj.get(plain).and_then(Value::as_f64) {
        Some(m) if (m - n) * tighter > 0.0 => {}
        _ => {
            obj.insert(plain.into(), value);
            obj.insert(exclusive.into(), json!(true));
        }
    }
}

/// `$ref` with siblings: annotations dropped, anything else kept beside `allOf: [{$ref}]`.
fn ref_siblings(obj: &mut Map<String, Value>) {
    let Some(target) = obj.get("$ref").cloned() else {
        return;
    };
    if obj.len() == 1 {
        return;
    }
    obj.retain(|k, _| !ANNOTATIONS.contains(&k.as_str()));
    if obj.len() == 1 {
        return;
    }
    obj.remove("$ref");
    obj.insert("allOf".into(), json!([{ "$ref": target }]));
}
