//! What changed in the API between two OpenAPI documents (3.0, or 3.1 read as 3.0 by
//! [`crate::oas31`]), and whether it breaks the SDK's users.
//!
//! [`compare`] walks both documents (operations by the path the client calls, their moves,
//! deprecation, sunset and stability, parameters, request bodies, responses, media types,
//! schemas with `$ref`s and `allOf`s followed, security) and lists each [`Change`] with a
//! [`Level`] and the JSON pointer of the place on each side, and each keyword no rule reads as
//! [`NotJudged`]. [`oasdiff_id`] names oasdiff's closest rule; [`Report::without_ignored`]
//! takes out the changes an ignore file accepts.
//!
//! # Rules
//!
//! The rules follow the direction of the data: what a client *sends* (parameters, request
//! bodies) breaks when the server starts wanting more or accepting less; what a client *reads*
//! (responses, their headers) breaks when the server may send something the client cannot take.
//! The full table, with the closest oasdiff check of each rule, is in `openapi/README.md`.
//!
//! Which response rules apply to *this* SDK depends on the amendments' `tolerantReading`
//! ([`Tolerance::of`]): with `allowUnknownFields`, the generated types ignore fields they do not
//! know, and with `openEnums` a string enum is an open newtype, so a new value decodes. The report
//! names the amendment whenever it turned a change non-breaking.

use std::collections::BTreeSet;

use serde_json::Value;

mod bodies;
mod constraints;
mod flat;
mod lifecycle;
mod model;
mod moves;
mod oasdiff;
pub(crate) mod ops;
mod render;
mod schema;
mod security;
mod walk;

pub use model::{Change, Level, NotJudged, Place, Report, Tolerance};
pub use oasdiff::oasdiff_id;
pub use render::Bump;
use walk::Walk;

use crate::amend::Amendments;
use crate::error::escape_token;

/// The component schemas of `doc` that the `mpt` facade's public API reaches, derived from its
/// public API listing ([`crate::api_listing::listing_of_crate`]): every schema when it
/// re-exports the generated crate or its `types` whole, else the schemas its items name, and
/// everything those reach through `$ref`s.
pub fn facade_exposure(doc: &Value, facade_listing: &[String]) -> BTreeSet<String> {
    let schemas: BTreeSet<String> = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let whole = facade_listing.iter().any(|line| {
        let line = line.replace(' ', "");
        line.contains("pubusempt_api;")
            || line.contains("pubusempt_api::{self")
            || line.contains("pubusempt_api::*")
            || line.contains("mpt_api::types;")
            || line.contains("mpt_api::types::*")
            || (line.contains("pubusempt_api::{") && line.contains("types"))
    });
    if whole {
        return schemas;
    }
    let mut exposed: BTreeSet<String> = schemas
        .iter()
        .filter(|name| {
            facade_listing.iter().any(|line| {
                line.split(|c: char| !c.is_alphanumeric() && c != '_')
                    .any(|word| word == name.as_str())
            })
        })
        .cloned()
        .collect();
    let mut todo: Vec<String> = exposed.iter().cloned().collect();
    while let Some(name) = todo.pop() {
        let Some(schema) = doc.pointer(&format!("/components/schemas/{}", escape_token(&name)))
        else {
            continue;
        };
        let mut refs = Vec::new();
        collect_refs(schema, &mut refs);
        for target in refs {
            if exposed.insert(target.clone()) {
                todo.push(target);
            }
        }
    }
    exposed
}

/// The component schemas `value` refers to.
fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(obj) => {
            if let Some(name) = obj
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                out.push(name.replace("~1", "/").replace("~0", "~"));
            }
            obj.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// Compares `old` with `new` (two OpenAPI 3.0 documents, or 3.1 ones normalized by
/// [`crate::oas31::normalize`]; merged or one per operation).
pub fn compare(old: &Value, new: &Value, tolerance: Tolerance) -> Report {
    let mut walk = Walk {
        old,
        new,
        tolerance,
        changes: Vec::new(),
        operation: None,
        visited: BTreeSet::new(),
        last_merged: false,
        place: Place::Operation,
        moved_from: None,
        depth: 0,
        not_judged: Vec::new(),
    };
    walk.operations();
    walk.security_schemes();
    let mut unread = not_judged(old, new);
    unread.extend(walk.not_judged);
    Report {
        old_version: version(old),
        new_version: version(new),
        tolerance,
        changes: walk.changes,
        not_judged: unread,
        facade_exposes: None,
    }
}

/// The keywords outside the 3.0 model ([`crate::oas31::unknown_keywords`]) that differ
/// between the two sides: the report names them, since no rule judged them.
fn not_judged(old: &Value, new: &Value) -> Vec<NotJudged> {
    // Path items under `components/pathItems` are read through the paths that refer to them.
    let unknown = |doc| {
        let mut all = crate::oas31::unknown_keywords(doc);
        all.remove("/components/pathItems");
        all
    };
    let (olds, news) = (unknown(old), unknown(new));
    let mut out = Vec::new();
    for (pointer, value) in &olds {
        match news.get(pointer) {
            Some(same) if same == value => {}
            Some(_) => out.push(NotJudged::at(pointer, "changed")),
            None => out.push(NotJudged::at(pointer, "removed")),
        }
    }
    for pointer in news.keys().filter(|p| !olds.contains_key(*p)) {
        out.push(NotJudged::at(pointer, "added"));
    }
    out
}

fn version(doc: &Value) -> String {
    doc.pointer("/info/version")
        .and_then(Value::as_str)
        .unwrap_or("(no version)")
        .to_string()
}

/// One side of a comparison: a merged spec (a JSON file), or a directory of per-operation
/// documents, merged here with `amendments`' rules (without its patches, binary answers and
/// generator settings, which name the current API's operations and schemas). Errors name the
/// file.
pub fn load_side(path: &std::path::Path, amendments: &Amendments) -> crate::Result<Value> {
    if path.is_dir() {
        let mut rules = amendments.clone();
        rules.patches.clear();
        rules.schema_winners.clear();
        rules.binary_answers.clear();
        rules.operation_ids.overrides.clear();
        rules.generator = Default::default();
        let fragments = crate::fragment::load_dir(path)?;
        return Ok(crate::merge::merge(&fragments, &rules)?.doc);
    }
    let text = crate::error::read_input(path)?;
    let trimmed = text.trim_start();
    if !trimmed.starts_with('{') && !trimmed.is_empty() {
        return Err(crate::Error::invalid(
            path,
            "",
            "not a JSON document (it looks like YAML or text): convert it to JSON first",
        ));
    }
    let doc: Value = crate::error::parse_json(path, &text)?;
    // OpenAPI 3.1 is read as the 3.0 model; what 3.0 cannot say stays, listed as not judged.
    if doc.get("openapi").and_then(Value::as_str) == Some("3.1") {
        return Err(crate::Error::invalid(
            path,
            "/openapi",
            "`3.1` names no OpenAPI release: write the full version, e.g. `3.1.0` (3.0.x and 3.1.x are read)",
        ));
    }
    let doc = crate::oas31::normalize(&doc);
    crate::fragment::check_openapi_30(path, &doc)?;
    // A side whose references dangle, or whose required references never end, cannot be
    // compared (an empty stand-in would report false removals): refused, as `regen` refuses it.
    crate::merge::check_refs(path, &doc)?;
    crate::merge::check_cycles(&doc, |_| path)?;
    Ok(doc)
}
