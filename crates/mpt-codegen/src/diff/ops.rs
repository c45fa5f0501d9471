//! The operations of a document, keyed by method and the path the client calls (the
//! `servers` base path joined to the document's path, parameters unnamed).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::escape_token;
use crate::fragment::METHODS;

/// `/a/{id}/b` → `/a/{}/b`: the same route whatever its parameters are called; a trailing `/`
/// makes no other route (`/public` + `/` is `/public`).
pub(super) fn route_key(route: &str) -> String {
    let route = match route.strip_suffix('/') {
        Some(rest) if !rest.is_empty() => rest,
        _ => route,
    };
    let mut out = String::with_capacity(route.len());
    let mut in_param = false;
    for c in route.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

/// One operation of a document.
pub(super) struct Operation<'a> {
    pub(super) method: &'a str,
    /// The path the client calls: the document's `servers` base path joined to `route`.
    pub(super) full: String,
    pub(super) item: &'a Value,
    /// The JSON pointer of the path item (where a `$ref` path item points).
    pub(super) item_at: String,
    pub(super) op: &'a Value,
    pub(super) pointer: String,
}

impl Operation<'_> {
    pub(super) fn name(&self) -> String {
        format!("{} {}", self.method.to_ascii_uppercase(), self.full)
    }

    pub(super) fn id(&self) -> Option<&str> {
        self.op.get("operationId").and_then(Value::as_str)
    }
}

/// The base path of `doc`'s first server (`https://host/public` → `/public`; a relative
/// `/public` as it is; `{variables}` replaced by their defaults), without a trailing `/`; empty
/// without `servers`.
pub(crate) fn base_path(doc: &Value) -> String {
    let Some(server) = doc.pointer("/servers/0") else {
        return String::new();
    };
    let mut url = server
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if let Some(vars) = server.get("variables").and_then(Value::as_object) {
        for (name, var) in vars {
            let default = var.get("default").and_then(Value::as_str).unwrap_or("");
            url = url.replace(&format!("{{{name}}}"), default);
        }
    }
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("", |i| &rest[i..]),
        None => url.as_str(),
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    path.trim_end_matches('/').to_string()
}

/// The operations of `doc`, by method and route key. A path item that is a `$ref` (3.1's
/// `components/pathItems`, or any local pointer) is read where it points, like an inline one.
pub(super) fn operations(doc: &Value) -> BTreeMap<(String, String), Operation<'_>> {
    let mut out = BTreeMap::new();
    let base = base_path(doc);
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (route, item) in paths {
            let full = format!("{base}{route}");
            let mut item_at = format!("/paths/{}", escape_token(route));
            let mut item = item;
            if let Some(target) = item
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix('#'))
                && let Some(found) = doc.pointer(target)
            {
                item = found;
                item_at = target.to_string();
            }
            for method in METHODS {
                if let Some(op) = item.get(method) {
                    out.insert(
                        (method.to_string(), route_key(&full)),
                        Operation {
                            method,
                            full: full.clone(),
                            item,
                            item_at: item_at.clone(),
                            op,
                            pointer: format!("{item_at}/{method}"),
                        },
                    );
                }
            }
        }
    }
    out
}
