//! What `import` checks of a source before placing its operations: repeated keys, paths equal
//! but for their parameters' names, undeclared path parameters, and segments in module position
//! that are resources; and the `servers` base path joined to the paths.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;

use super::{Existing, Incoming, module_of, unique};
use crate::error::{Error, Result};

/// Joins the `servers` base path to every path, as `cargo xtask diff` does (the 2024-10-12
/// spec's `https://…/public` and `/v1/orders` are `/public/v1/orders`), and takes it off the
/// server URLs: fragments hold the path the client calls.
pub(super) fn join_base_path(mut doc: Value) -> Value {
    let base = crate::diff::ops::base_path(&doc);
    if base.is_empty() {
        return doc;
    }
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        let joined: serde_json::Map<String, Value> = std::mem::take(paths)
            .into_iter()
            .map(|(route, item)| (format!("{base}{route}"), item))
            .collect();
        *paths = joined;
    }
    for server in doc
        .get_mut("servers")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        if let Some(url) = server.get("url").and_then(Value::as_str) {
            let trimmed = url.trim_end_matches('/');
            let host = trimmed.strip_suffix(base.as_str()).unwrap_or(trimmed);
            server["url"] = Value::String(host.to_string());
        }
    }
    doc
}

/// Two paths of `doc` that differ only in their parameters' names (`/queries/{id}` and
/// `/queries/{queryId}`): OpenAPI holds them to be one path, so they are an error naming both.
pub(super) fn no_equivalent_paths(source: &Path, doc: &Value) -> Result<()> {
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for route in doc
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(r, _)| r)
    {
        let shape: Vec<&str> = route
            .split('/')
            .map(|s| {
                if s.starts_with('{') && s.ends_with('}') {
                    "{}"
                } else {
                    s
                }
            })
            .collect();
        if let Some(first) = seen.insert(shape.join("/"), route) {
            return Err(Error::invalid(
                source,
                format!("/paths/{}", crate::error::escape_token(route)),
                format!(
                    "{route} and {first} differ only in their parameters' names: OpenAPI holds them to be one path; keep one"
                ),
            ));
        }
    }
    Ok(())
}

/// A key repeated in one JSON object (`serde_json` would keep the last silently) is an error
/// naming the file and the pointer.
pub(super) fn no_duplicate_keys(page: &Path, text: &str) -> Result<()> {
    match unique::duplicate_key(text) {
        None => Ok(()),
        Some(pointer) => Err(Error::invalid(
            page,
            pointer,
            "this key appears twice in its object (a JSON parser keeps only the last): remove one",
        )),
    }
}

/// A `{name}` of the operation's path that neither the operation nor its path item declares as
/// an `in: path` parameter (a `$ref` to `#/components/parameters/...` is followed): where and
/// which.
pub(super) fn undeclared_path_parameter(
    doc: &Value,
    (method, route): &(String, String),
) -> Option<String> {
    let item_pointer = format!("/paths/{}", crate::error::escape_token(route));
    let item = doc.pointer(&item_pointer)?;
    let resolve = |p: &Value| -> Option<Value> {
        match p.get("$ref").and_then(Value::as_str) {
            Some(r) => r.strip_prefix('#').and_then(|r| doc.pointer(r)).cloned(),
            None => Some(p.clone()),
        }
    };
    let declared: BTreeSet<String> = [
        item.get("parameters"),
        item.pointer(&format!("/{method}/parameters")),
    ]
    .into_iter()
    .flatten()
    .filter_map(Value::as_array)
    .flatten()
    .filter_map(resolve)
    .filter(|p| p.get("in").and_then(Value::as_str) == Some("path"))
    .filter_map(|p| p.get("name").and_then(Value::as_str).map(str::to_string))
    .collect();
    let mut rest = route.as_str();
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}')? + open;
        let name = &rest[open + 1..close];
        if !declared.contains(name) {
            return Some(format!(
                "{item_pointer}/{method}/parameters: the path parameter `{name}` of {} {route} is not declared (no `in: path` parameter named `{name}`)",
                method.to_ascii_uppercase()
            ));
        }
        rest = &rest[close + 1..];
    }
    None
}

/// The segments in module position (`/public/vN/<segment>`) of incoming operations that are no
/// module: no directory has that name and no path continues it with a literal segment, only with
/// a parameter or not at all (`/public/v1/products/{productId}/terms`, `/public/v1/items`,
/// `/public/v1/items/{id}`): a resource of a spec without module segments (the 2024-10-12
/// spec's), not a new module. (`accounts` is a module though `/accounts/{accountId}/users` is
/// also a path: `/accounts/buyers` continues it with a literal.)
pub(super) fn not_modules(existing: &Existing, incoming: &[Incoming]) -> BTreeSet<String> {
    let mut modules: BTreeMap<String, bool> = BTreeMap::new();
    for i in incoming.iter().filter(|i| !i.page) {
        let Some(module) = module_of(&i.operation.1) else {
            continue;
        };
        let next = i.operation.1.split('/').filter(|s| !s.is_empty()).nth(3);
        let literal = next.is_some_and(|s| !s.starts_with('{'));
        *modules.entry(module).or_default() |= literal;
    }
    modules
        .into_iter()
        .filter(|(m, literal)| !literal && !existing.dirs.contains_key(&Some(m.clone())))
        .map(|(m, _)| m)
        .collect()
}
