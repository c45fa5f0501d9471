//! The operations of a document, keyed by method and the path the client calls (the
//! `servers` base path joined to the document's path, parameters unnamed).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::escape_token;
use crate::fragment::METHODS;

/// `/a/{id}/b` → `/a/{}/b`: the same route whatever its parameters are called.
pub(super) fn route_key(route: &str) -> String {
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
    /// The path as the document writes it (under `paths`).
    pub(super) route: &'a str,
    /// The path the client calls: the document's `servers` base path joined to `route`.
    pub(super) full: String,
    pub(super) item: &'a Value,
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
pub(super) fn base_path(doc: &Value) -> String {
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

pub(super) fn operations(doc: &Value) -> BTreeMap<(String, String), Operation<'_>> {
    let mut out = BTreeMap::new();
    let base = base_path(doc);
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (route, item) in paths {
            let full = format!("{base}{route}");
            for method in METHODS {
                if let Some(op) = item.get(method) {
                    out.insert(
                        (method.to_string(), route_key(&full)),
                        Operation {
                            method,
                            route,
                            full: full.clone(),
                            item,
                            op,
                            pointer: format!("/paths/{}/{method}", escape_token(route)),
                        },
                    );
                }
            }
        }
    }
    out
}
