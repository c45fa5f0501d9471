//! The JSON walks and rewrites amendments are made of: operation keys and ids, every operation
//! or object of a document, enums opened to known values, `allOf` wrappers of one `$ref`.

use serde_json::{Map, Value};

use crate::fragment::METHODS;
pub use crate::naming::rest_resource_id;

/// Whether `id` can be an operationId here: ASCII letters, digits and `_`, not starting with a
/// digit. It names a Rust method and (with `-` for `_`) a fragment file, so nothing else is safe.
pub fn is_identifier(id: &str) -> bool {
    let mut chars = id.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Splits `"METHOD /path"`.
pub fn parse_operation_key(key: &str) -> Option<(String, String)> {
    let (method, route) = key.split_once(' ')?;
    let method = method.to_ascii_lowercase();
    (METHODS.contains(&method.as_str()) && route.starts_with('/'))
        .then(|| (method, route.to_string()))
}

/// Calls `f(method, route, operation)` for every operation of `doc`.
pub fn for_each_operation(doc: &mut Value, mut f: impl FnMut(&str, &str, &mut Value)) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (route, item) in paths.iter_mut() {
        for method in METHODS {
            if let Some(op) = item.get_mut(method) {
                f(method, route, op);
            }
        }
    }
}

/// Calls `f` on every JSON object of `value`, parents before children.
pub(super) fn walk_mut(value: &mut Value, f: &mut impl FnMut(&mut Map<String, Value>)) {
    match value {
        Value::Object(obj) => {
            f(obj);
            for child in obj.values_mut() {
                walk_mut(child, f);
            }
        }
        Value::Array(items) => {
            for child in items {
                walk_mut(child, f);
            }
        }
        _ => {}
    }
}

/// `{"type": "string", "enum": [..]}` → `{"type": "string", "x-known-values": [..]}` with the
/// values listed in the description.
pub(super) fn open_enum(obj: &mut Map<String, Value>) {
    let is_string_enum = obj.get("type").and_then(Value::as_str) == Some("string")
        && obj
            .get("enum")
            .and_then(Value::as_array)
            .is_some_and(|v| v.iter().all(Value::is_string));
    if !is_string_enum {
        return;
    }
    let Some(Value::Array(values)) = obj.remove("enum") else {
        return;
    };
    let listed: Vec<String> = values
        .iter()
        .filter_map(Value::as_str)
        .map(|v| format!("`{v}`"))
        .collect();
    let note = format!(
        "Known values: {}. Other values may appear and are kept as they are.",
        listed.join(", ")
    );
    let description = match obj.get("description").and_then(Value::as_str) {
        Some(d) if !d.is_empty() => format!("{d}\n\n{note}"),
        _ => note,
    };
    obj.insert("description".into(), Value::String(description));
    obj.insert("x-known-values".into(), Value::Array(values));
}

/// `{"allOf": [{"$ref": X}]}`, optionally with `"type": "object"`, → `{"$ref": X}`. A wrapper that
/// also says `nullable` (or anything else) is left alone: a `$ref` may have no siblings in 3.0.
pub(super) fn simplify_ref_wrapper(obj: &mut Map<String, Value>) {
    let single_ref = match obj.get("allOf").and_then(Value::as_array) {
        Some(items) if items.len() == 1 => match items[0].as_object() {
            Some(inner) if inner.len() == 1 && inner.contains_key("$ref") => {
                inner.get("$ref").cloned()
            }
            _ => None,
        },
        _ => None,
    };
    let Some(reference) = single_ref else { return };
    let others_ok = obj
        .iter()
        .all(|(k, v)| k == "allOf" || (k == "type" && v.as_str() == Some("object")));
    if others_ok {
        obj.clear();
        obj.insert("$ref".into(), reference);
    }
}
