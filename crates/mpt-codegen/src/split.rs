//! Splitting a document of many operations (a module file, a whole spec) into one fragment per
//! operation, each with exactly the components it reaches.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use crate::fragment::operations;

/// The platform module a path belongs to: `/public/v1/catalog/products` → `catalog`. `None`
/// for a path of another shape.
pub fn module_of(route: &str) -> Option<String> {
    let mut segs = route.split('/').filter(|s| !s.is_empty());
    let (public, version, module) = (segs.next()?, segs.next()?, segs.next()?);
    let is_version = version.len() > 1
        && version.starts_with('v')
        && version[1..].bytes().all(|b| b.is_ascii_digit());
    let is_name = !module.is_empty()
        && module
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    (public == "public" && is_version && is_name).then(|| module.to_string())
}

/// One fragment per operation of `doc`, in document order: `openapi`, `info`, `servers` and
/// `security` as the document has them, the operation's path item with only that operation,
/// the tags it names, and the components it reaches (through `$ref`s and security schemes).
pub fn split_document(doc: &Value) -> Vec<((String, String), Value)> {
    operations(doc)
        .into_iter()
        .map(|(method, route)| {
            let fragment = fragment_of(doc, &method, &route);
            ((method, route), fragment)
        })
        .collect()
}

fn fragment_of(doc: &Value, method: &str, route: &str) -> Value {
    let item = doc["paths"][route].as_object().cloned().unwrap_or_default();
    let methods = crate::fragment::METHODS;
    let item: Map<String, Value> = item
        .into_iter()
        .filter(|(k, _)| k == method || !methods.contains(&k.as_str()))
        .collect();
    let op = &item[method];
    let mut out = Map::new();
    for key in ["openapi", "info", "servers", "security"] {
        if let Some(v) = doc.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    let named: BTreeSet<&str> = op["tags"]
        .as_array()
        .map(|t| t.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(tags) = doc.get("tags").and_then(Value::as_array) {
        let kept: Vec<Value> = tags
            .iter()
            .filter(|t| t["name"].as_str().is_some_and(|n| named.contains(n)))
            .cloned()
            .collect();
        if !kept.is_empty() {
            out.insert("tags".into(), Value::Array(kept));
        }
    }
    let path_item = Value::Object(item.clone());
    let components = reached_components(doc, &path_item, op);
    out.insert("paths".into(), json!({ route: path_item }));
    if !components.is_empty() {
        out.insert("components".into(), Value::Object(components));
    }
    Value::Object(out)
}

/// The components of `doc` that `start` reaches, by kind, in the document's order.
fn reached_components(doc: &Value, start: &Value, op: &Value) -> Map<String, Value> {
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    let mut todo: Vec<(String, String)> = Vec::new();
    refs_in(start, &mut todo);
    while let Some(next) = todo.pop() {
        if seen.insert(next.clone())
            && let Some(target) = doc.pointer(&format!("/components/{}/{}", next.0, next.1))
        {
            refs_in(target, &mut todo);
        }
    }
    let requirements = op
        .get("security")
        .or_else(|| doc.get("security"))
        .and_then(Value::as_array);
    for requirement in requirements.into_iter().flatten() {
        for name in requirement.as_object().into_iter().flat_map(|o| o.keys()) {
            seen.insert(("securitySchemes".into(), name.clone()));
        }
    }
    let mut out = Map::new();
    let Some(all) = doc.get("components").and_then(Value::as_object) else {
        return out;
    };
    for (kind, members) in all {
        let Some(members) = members.as_object() else {
            continue;
        };
        let kept: Map<String, Value> = members
            .iter()
            .filter(|(name, _)| seen.contains(&(kind.clone(), (*name).clone())))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if !kept.is_empty() {
            out.insert(kind.clone(), Value::Object(kept));
        }
    }
    out
}

/// Every `#/components/<kind>/<name>` reference below `value`, as `(kind, name)`.
fn refs_in(value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(obj) => {
            for (k, v) in obj {
                if let ("$ref", Value::String(r)) = (k.as_str(), v) {
                    let mut parts = r.strip_prefix("#/components/").unwrap_or("").splitn(2, '/');
                    if let (Some(kind), Some(name)) = (parts.next(), parts.next()) {
                        let name = name.replace("~1", "/").replace("~0", "~");
                        out.push((kind.to_string(), name));
                    }
                } else {
                    refs_in(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| refs_in(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_come_from_the_path() {
        assert_eq!(
            module_of("/public/v1/catalog/items/{id}").as_deref(),
            Some("catalog")
        );
        assert_eq!(
            module_of("/public/v2/audit/records").as_deref(),
            Some("audit")
        );
        assert_eq!(module_of("/v1/items"), None);
        assert_eq!(module_of("/public/v1/{id}"), None);
    }

    #[test]
    fn each_fragment_holds_what_its_operation_reaches() {
        let doc = json!({
            "openapi": "3.0.1", "info": {"title": "t", "version": "1"},
            "paths": {"/public/v1/catalog/items": {
                "get": {"tags": ["Items"], "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ItemList"}}}}}},
                "post": {"responses": {"201": {"description": "ok"}}}
            }},
            "tags": [{"name": "Items"}, {"name": "Other"}],
            "components": {"schemas": {
                "ItemList": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}},
                "Item": {"type": "object"},
                "Unrelated": {"type": "string"}
            }}
        });
        let parts = split_document(&doc);
        assert_eq!(parts.len(), 2);
        let get = &parts[0].1;
        assert_eq!(get["tags"], json!([{"name": "Items"}]));
        let names: Vec<&String> = get["components"]["schemas"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(names, ["ItemList", "Item"]);
        assert!(parts[1].1.get("components").is_none());
        assert!(
            parts[1].1["paths"]["/public/v1/catalog/items"]
                .get("get")
                .is_none()
        );
    }
}
