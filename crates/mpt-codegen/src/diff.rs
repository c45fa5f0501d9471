//! What changed in the API between two OpenAPI 3.0 documents, and whether it breaks the SDK's
//! users.
//!
//! [`compare`] walks both documents (operations, parameters, request bodies, responses, media
//! types, schemas with `$ref`s and `allOf`s followed, security) and lists each [`Change`] with a
//! [`Level`] and the JSON pointer of the place on each side.
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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Value, json};

use crate::amend::Amendments;
use crate::error::escape_token;
use crate::fragment::METHODS;

/// How much a change can break the SDK's users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Clients built for the old spec fail against the new one (or no longer compile).
    Breaking,
    /// Clients may fail, depending on what they send or how they handle the answer.
    PotentiallyBreaking,
    /// Old clients keep working.
    NonBreaking,
}

impl Level {
    /// `breaking`, `potentially-breaking` or `non-breaking`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Breaking => "breaking",
            Level::PotentiallyBreaking => "potentially-breaking",
            Level::NonBreaking => "non-breaking",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How tolerantly the generated types read answers (from the amendments' `tolerantReading`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tolerance {
    /// Unknown fields in an answer are ignored (no `deny_unknown_fields`).
    pub unknown_fields: bool,
    /// String enums are open: an unknown value decodes.
    pub open_enums: bool,
    /// `pattern`s are left out of the generated types (`generator.dropPatterns`).
    pub patterns_dropped: bool,
}

impl Tolerance {
    /// The tolerance our amendments give the generated types.
    pub fn of(amendments: &Amendments) -> Tolerance {
        Tolerance {
            unknown_fields: amendments.tolerant_reading.allow_unknown_fields,
            open_enums: amendments.tolerant_reading.open_enums,
            patterns_dropped: amendments.generator.drop_patterns.is_some(),
        }
    }

    /// A client that rejects unknown fields and enum values (oasdiff's default view).
    pub fn strict() -> Tolerance {
        Tolerance {
            unknown_fields: false,
            open_enums: false,
            patterns_dropped: false,
        }
    }
}

/// One change between the two documents.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The rule that found it, e.g. `response-enum-value-added`.
    pub rule: &'static str,
    /// How much it can break.
    pub level: Level,
    /// The operations it affects, as `METHOD /path` (of the new document when it has it); a
    /// change to a shared schema is listed once, with every operation that uses it.
    pub operations: Vec<String>,
    /// What changed, in a sentence.
    pub message: String,
    /// JSON pointer of the place in the old document, if it has one.
    pub old: Option<String>,
    /// JSON pointer of the place in the new document, if it has one.
    pub new: Option<String>,
    /// Why the level is what it is for this SDK, when an amendment decided it.
    pub note: Option<String>,
    /// How the change reads in the other operations it touches, when it reads differently
    /// there (`METHOD /path: message`): a shared schema is reached at other places.
    pub also: Vec<String>,
}

/// Every change between two documents.
#[derive(Debug, Clone)]
pub struct Report {
    /// `info.version` of the old document.
    pub old_version: String,
    /// `info.version` of the new document.
    pub new_version: String,
    /// The tolerance the levels were judged with.
    pub tolerance: Tolerance,
    /// The changes, by operation, then in document order.
    pub changes: Vec<Change>,
    /// The component schemas the facade's public API exposes ([`facade_exposure`]); `None`:
    /// not known, so every schema counts as exposed.
    pub facade_exposes: Option<BTreeSet<String>>,
}

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

/// Which side of the exchange a schema describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Direction {
    Request,
    Response,
}

/// Compares `old` with `new` (two OpenAPI 3.0 documents, merged or one per operation).
pub fn compare(old: &Value, new: &Value, tolerance: Tolerance) -> Report {
    let mut walk = Walk {
        old,
        new,
        tolerance,
        changes: Vec::new(),
        operation: None,
        visited: BTreeSet::new(),
        last_merged: false,
    };
    walk.operations();
    walk.security_schemes();
    Report {
        old_version: version(old),
        new_version: version(new),
        tolerance,
        changes: walk.changes,
        facade_exposes: None,
    }
}

fn version(doc: &Value) -> String {
    doc.pointer("/info/version")
        .and_then(Value::as_str)
        .unwrap_or("(no version)")
        .to_string()
}

/// `/a/{id}/b` → `/a/{}/b`: the same route whatever its parameters are called.
fn route_key(route: &str) -> String {
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
struct Operation<'a> {
    method: &'a str,
    route: &'a str,
    item: &'a Value,
    op: &'a Value,
    pointer: String,
}

impl Operation<'_> {
    fn name(&self) -> String {
        format!("{} {}", self.method.to_ascii_uppercase(), self.route)
    }

    fn id(&self) -> Option<&str> {
        self.op.get("operationId").and_then(Value::as_str)
    }
}

fn operations(doc: &Value) -> BTreeMap<(String, String), Operation<'_>> {
    let mut out = BTreeMap::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for (route, item) in paths {
            for method in METHODS {
                if let Some(op) = item.get(method) {
                    out.insert(
                        (method.to_string(), route_key(route)),
                        Operation {
                            method,
                            route,
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

/// A schema after `$ref`s and `allOf`s: its own members, and its properties with their pointers.
#[derive(Default)]
struct Flat<'a> {
    kind: Option<&'a str>,
    format: Option<&'a str>,
    nullable: bool,
    /// `enum` values, or the `x-known-values` of an opened enum.
    values: Option<Vec<&'a Value>>,
    /// The enum is closed (an `enum` member, not `x-known-values`).
    closed: bool,
    required: BTreeSet<&'a str>,
    properties: BTreeMap<&'a str, (&'a Value, String)>,
    items: Option<(&'a Value, String)>,
    additional: Option<(&'a Value, String)>,
    /// `additionalProperties: false`.
    sealed: bool,
    /// Bounds: `minLength`, `maxLength`, `minimum`, `maximum`, `minItems`, `maxItems`, by
    /// keyword, with `exclusiveMinimum`/`exclusiveMaximum` folded in.
    bounds: BTreeMap<&'static str, Bound>,
    pattern: Option<&'a str>,
    unique_items: bool,
    default: Option<&'a Value>,
    read_only: bool,
    write_only: bool,
    /// `oneOf` or `anyOf` branches, with their pointers.
    branches: Option<(&'static str, Vec<(&'a Value, String)>)>,
    discriminator: Option<&'a Value>,
}

/// One bound of a schema: its value, and whether it excludes the value itself.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bound {
    value: f64,
    exclusive: bool,
}

/// The bound keywords: (keyword, a lower bound?, the exclusive flag's keyword).
const BOUNDS: [(&str, bool, Option<&str>); 6] = [
    ("minLength", true, None),
    ("maxLength", false, None),
    ("minimum", true, Some("exclusiveMinimum")),
    ("maximum", false, Some("exclusiveMaximum")),
    ("minItems", true, None),
    ("maxItems", false, None),
];

/// Whether bound `new` accepts fewer values than `old` (`None`: no bound).
fn narrower(lower: bool, old: Option<Bound>, new: Option<Bound>) -> Option<bool> {
    match (old, new) {
        (None, None) => None,
        (None, Some(_)) => Some(true),
        (Some(_), None) => Some(false),
        (Some(o), Some(n)) if o == n => None,
        (Some(o), Some(n)) => {
            let tighter_value = if lower {
                n.value > o.value
            } else {
                n.value < o.value
            };
            Some(tighter_value || (n.value == o.value && n.exclusive && !o.exclusive))
        }
    }
}

/// Follows `$ref`s from `value` (at `pointer`); a reference that does not resolve, or a chain
/// longer than 32, stops where it is.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value, mut pointer: String) -> (&'a Value, String) {
    for _ in 0..32 {
        let Some(target) = value.get("$ref").and_then(Value::as_str) else {
            break;
        };
        let Some(local) = target.strip_prefix('#') else {
            break;
        };
        match doc.pointer(local) {
            Some(found) => {
                value = found;
                pointer = local.to_string();
            }
            None => break,
        }
    }
    (value, pointer)
}

fn flatten<'a>(doc: &'a Value, value: &'a Value, pointer: String, depth: usize) -> Flat<'a> {
    let (schema, pointer) = resolve(doc, value, pointer);
    let mut flat = Flat::default();
    if depth > 16 {
        return flat;
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        for (i, part) in parts.iter().enumerate() {
            let inner = flatten(doc, part, format!("{pointer}/allOf/{i}"), depth + 1);
            flat.kind = flat.kind.or(inner.kind);
            flat.format = flat.format.or(inner.format);
            flat.nullable |= inner.nullable;
            if inner.values.is_some() {
                flat.values = inner.values;
                flat.closed = inner.closed;
            }
            flat.required.extend(inner.required);
            flat.properties.extend(inner.properties);
            flat.items = flat.items.or(inner.items);
            flat.additional = flat.additional.or(inner.additional);
            flat.sealed |= inner.sealed;
            flat.bounds.extend(inner.bounds);
            flat.pattern = flat.pattern.or(inner.pattern);
            flat.unique_items |= inner.unique_items;
            flat.default = flat.default.or(inner.default);
            flat.read_only |= inner.read_only;
            flat.write_only |= inner.write_only;
            flat.branches = flat.branches.or(inner.branches);
            flat.discriminator = flat.discriminator.or(inner.discriminator);
        }
    }
    if let Some(kind) = schema.get("type").and_then(Value::as_str) {
        flat.kind = Some(kind);
    }
    if let Some(format) = schema.get("format").and_then(Value::as_str) {
        flat.format = Some(format);
    }
    flat.nullable |= schema.get("nullable") == Some(&Value::Bool(true));
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        flat.values = Some(values.iter().collect());
        flat.closed = true;
    } else if let Some(values) = schema.get("x-known-values").and_then(Value::as_array) {
        flat.values = Some(values.iter().collect());
        flat.closed = false;
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        flat.required
            .extend(required.iter().filter_map(Value::as_str));
    }
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            let at = format!("{pointer}/properties/{}", escape_token(name));
            flat.properties.insert(name, (prop, at));
        }
    }
    if let Some(items) = schema.get("items") {
        flat.items = Some((items, format!("{pointer}/items")));
    }
    for (keyword, _, exclusive) in BOUNDS {
        if let Some(value) = schema.get(keyword).and_then(Value::as_f64) {
            let exclusive = exclusive.is_some_and(|k| schema.get(k) == Some(&Value::Bool(true)));
            flat.bounds.insert(keyword, Bound { value, exclusive });
        }
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        flat.pattern = Some(pattern);
    }
    flat.unique_items |= schema.get("uniqueItems") == Some(&Value::Bool(true));
    flat.default = schema.get("default").or(flat.default);
    flat.read_only |= schema.get("readOnly") == Some(&Value::Bool(true));
    flat.write_only |= schema.get("writeOnly") == Some(&Value::Bool(true));
    for key in ["oneOf", "anyOf"] {
        if let Some(parts) = schema.get(key).and_then(Value::as_array) {
            let key: &'static str = if key == "oneOf" { "oneOf" } else { "anyOf" };
            let branches = parts
                .iter()
                .enumerate()
                .map(|(i, part)| (part, format!("{pointer}/{key}/{i}")))
                .collect();
            flat.branches = Some((key, branches));
        }
    }
    if let Some(d) = schema.get("discriminator") {
        flat.discriminator = Some(d);
    }
    match schema.get("additionalProperties") {
        Some(Value::Bool(false)) => flat.sealed = true,
        Some(more @ Value::Object(_)) => {
            flat.additional = Some((more, format!("{pointer}/additionalProperties")))
        }
        _ => {}
    }
    flat
}

/// One alternative of an operation's security: schemes and the scopes each needs.
type Alternative = BTreeMap<String, BTreeSet<String>>;

/// Whether a caller able to meet `have` meets `need` (its schemes and scopes are no more).
fn satisfies(have: &Alternative, need: &Alternative) -> bool {
    need.iter()
        .all(|(scheme, scopes)| have.get(scheme).is_some_and(|h| h.is_superset(scopes)))
}

/// `request-max-length-narrowed`, ... (a static name per direction, keyword and way).
fn rule_name(dir: &str, keyword: &str, narrowed: bool) -> &'static str {
    const NAMES: [(&str, &str, bool, &str); 24] = [
        ("request", "minLength", true, "request-min-length-narrowed"),
        ("request", "minLength", false, "request-min-length-widened"),
        ("request", "maxLength", true, "request-max-length-narrowed"),
        ("request", "maxLength", false, "request-max-length-widened"),
        ("request", "minimum", true, "request-minimum-narrowed"),
        ("request", "minimum", false, "request-minimum-widened"),
        ("request", "maximum", true, "request-maximum-narrowed"),
        ("request", "maximum", false, "request-maximum-widened"),
        ("request", "minItems", true, "request-min-items-narrowed"),
        ("request", "minItems", false, "request-min-items-widened"),
        ("request", "maxItems", true, "request-max-items-narrowed"),
        ("request", "maxItems", false, "request-max-items-widened"),
        (
            "response",
            "minLength",
            true,
            "response-min-length-narrowed",
        ),
        (
            "response",
            "minLength",
            false,
            "response-min-length-widened",
        ),
        (
            "response",
            "maxLength",
            true,
            "response-max-length-narrowed",
        ),
        (
            "response",
            "maxLength",
            false,
            "response-max-length-widened",
        ),
        ("response", "minimum", true, "response-minimum-narrowed"),
        ("response", "minimum", false, "response-minimum-widened"),
        ("response", "maximum", true, "response-maximum-narrowed"),
        ("response", "maximum", false, "response-maximum-widened"),
        ("response", "minItems", true, "response-min-items-narrowed"),
        ("response", "minItems", false, "response-min-items-widened"),
        ("response", "maxItems", true, "response-max-items-narrowed"),
        ("response", "maxItems", false, "response-max-items-widened"),
    ];
    NAMES
        .iter()
        .find(|(d, k, w, _)| *d == dir && *k == keyword && *w == narrowed)
        .map_or("constraint-changed", |(_, _, _, name)| name)
}

/// Whether a parameter or request body says `required: true`.
fn is_required(value: &Value) -> bool {
    value.get("required") == Some(&Value::Bool(true))
}

/// `required` or `optional`.
fn word(required: bool) -> &'static str {
    if required { "required" } else { "optional" }
}

fn show(value: &Value) -> String {
    match value {
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

struct Walk<'a> {
    old: &'a Value,
    new: &'a Value,
    tolerance: Tolerance,
    changes: Vec<Change>,
    /// The operation being compared, for the changes found.
    operation: Option<String>,
    /// Schema pairs already compared under the current operation, with the direction they
    /// were read in and whether the place that reached them was optional (cycles end here; a
    /// schema shared by a request and a response, or by a required and an optional property,
    /// is compared once each way).
    visited: BTreeSet<(String, String, Direction, bool)>,
    /// The last change pushed was merged into an earlier one.
    last_merged: bool,
}

impl Walk<'_> {
    fn push(
        &mut self,
        rule: &'static str,
        level: Level,
        message: String,
        old: Option<&str>,
        new: Option<&str>,
    ) {
        let (old, new) = (old.map(String::from), new.map(String::from));
        let shared =
            |p: &Option<String>| p.as_deref().is_some_and(|p| p.starts_with("/components/"));
        if shared(&old) || shared(&new) {
            let same = self
                .changes
                .iter_mut()
                .find(|c| c.rule == rule && c.level == level && c.old == old && c.new == new);
            if let Some(same) = same {
                if let Some(op) = &self.operation
                    && !same.operations.contains(op)
                {
                    same.operations.push(op.clone());
                    if same.message != message {
                        same.also.push(format!("{op}: {message}"));
                    }
                }
                self.last_merged = true;
                return;
            }
        }
        self.last_merged = false;
        self.changes.push(Change {
            rule,
            level,
            operations: self.operation.iter().cloned().collect(),
            message,
            old,
            new,
            note: None,
            also: Vec::new(),
        });
    }

    /// Notes why the change just pushed has its level (nothing when it was merged into an
    /// earlier one, which has the note already).
    fn note(&mut self, note: &str) {
        if self.last_merged {
            return;
        }
        if let Some(last) = self.changes.last_mut() {
            last.note = Some(note.to_string());
        }
    }

    fn operations(&mut self) {
        let (old_ops, new_ops) = (operations(self.old), operations(self.new));
        // An operation whose operationId moved to another method or path.
        let mut moved: BTreeMap<(String, String), (String, String)> = BTreeMap::new();
        for (key, op) in &old_ops {
            if new_ops.contains_key(key) {
                continue;
            }
            let Some(id) = op.id() else { continue };
            let target = new_ops
                .iter()
                .find(|(k, n)| !old_ops.contains_key(*k) && n.id() == Some(id));
            if let Some((new_key, _)) = target {
                moved.insert(key.clone(), new_key.clone());
            }
        }
        let moved_to: BTreeSet<&(String, String)> = moved.values().collect();
        for (key, old_op) in &old_ops {
            match (new_ops.get(key), moved.get(key)) {
                (Some(new_op), _) => self.operation_pair(old_op, new_op),
                (None, Some(to)) => {
                    let new_op = &new_ops[to];
                    self.operation = Some(new_op.name());
                    self.push(
                        "operation-method-or-path-changed",
                        Level::Breaking,
                        format!(
                            "operation {} moved from {} to {}",
                            old_op.id().unwrap_or(""),
                            old_op.name(),
                            new_op.name()
                        ),
                        Some(&old_op.pointer),
                        Some(&new_op.pointer),
                    );
                    self.operation_pair(old_op, new_op);
                }
                (None, None) => {
                    self.operation = Some(old_op.name());
                    self.push(
                        "operation-removed",
                        Level::Breaking,
                        format!("operation {} removed", old_op.name()),
                        Some(&old_op.pointer),
                        None,
                    );
                }
            }
        }
        for (key, new_op) in &new_ops {
            if old_ops.contains_key(key) || moved_to.contains(key) {
                continue;
            }
            self.operation = Some(new_op.name());
            self.push(
                "operation-added",
                Level::NonBreaking,
                format!("operation {} added", new_op.name()),
                None,
                Some(&new_op.pointer),
            );
        }
        self.operation = None;
    }

    fn operation_pair(&mut self, old: &Operation<'_>, new: &Operation<'_>) {
        self.operation = Some(new.name());
        self.visited.clear();
        if let (Some(a), Some(b)) = (old.id(), new.id())
            && a != b
        {
            self.push(
                "operation-id-changed",
                Level::Breaking,
                format!("operationId `{a}` became `{b}`: the generated method is renamed"),
                Some(&format!("{}/operationId", old.pointer)),
                Some(&format!("{}/operationId", new.pointer)),
            );
        }
        self.parameters(old, new);
        self.request_body(old, new);
        self.responses(old, new);
        self.security(old, new);
    }

    /// Path-level and operation-level parameters, by `(in, name)`.
    fn parameters_of<'d>(
        doc: &'d Value,
        op: &Operation<'d>,
    ) -> BTreeMap<(String, String), (&'d Value, String)> {
        let mut out = BTreeMap::new();
        let route = escape_token(op.route);
        for (list, base) in [
            (
                op.item.get("parameters"),
                format!("/paths/{route}/parameters"),
            ),
            (
                op.op.get("parameters"),
                format!("{}/parameters", op.pointer),
            ),
        ] {
            for (i, p) in list
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let (p, at) = resolve(doc, p, format!("{base}/{i}"));
                let (Some(place), Some(name)) = (
                    p.get("in").and_then(Value::as_str),
                    p.get("name").and_then(Value::as_str),
                ) else {
                    continue;
                };
                // Header names are case-insensitive (RFC 9110): `X-Request-Id` is `x-request-id`.
                let name = if place == "header" {
                    name.to_ascii_lowercase()
                } else {
                    name.to_string()
                };
                out.insert((place.to_string(), name), (p, at));
            }
        }
        out
    }

    fn parameters(&mut self, old: &Operation<'_>, new: &Operation<'_>) {
        let olds = Self::parameters_of(self.old, old);
        let news = Self::parameters_of(self.new, new);
        let removed: Vec<&(String, String)> =
            olds.keys().filter(|k| !news.contains_key(*k)).collect();
        let added: Vec<&(String, String)> =
            news.keys().filter(|k| !olds.contains_key(*k)).collect();
        let mut renamed: BTreeSet<(String, String)> = BTreeSet::new();
        for r in &removed {
            let same_place: Vec<&&(String, String)> = added.iter().filter(|a| a.0 == r.0).collect();
            let removed_here = removed.iter().filter(|x| x.0 == r.0).count();
            if let ([a], 1) = (same_place.as_slice(), removed_here) {
                let (op_, np) = (&olds[*r], &news[**a]);
                if op_.0.get("schema") == np.0.get("schema") {
                    renamed.insert((*r).clone());
                    renamed.insert((**a).clone());
                    self.push(
                        "parameter-renamed",
                        Level::Breaking,
                        format!("{} parameter `{}` renamed to `{}`", r.0, r.1, a.1),
                        Some(&op_.1),
                        Some(&np.1),
                    );
                }
            }
        }
        for key in removed.into_iter().filter(|k| !renamed.contains(*k)) {
            self.push(
                "parameter-removed",
                Level::Breaking,
                format!("{} parameter `{}` removed", key.0, key.1),
                Some(&olds[key].1),
                None,
            );
        }
        for key in added.into_iter().filter(|k| !renamed.contains(*k)) {
            let (p, at) = &news[key];
            let required = is_required(p);
            let (rule, level) = if required {
                ("parameter-required-added", Level::Breaking)
            } else {
                ("parameter-optional-added", Level::NonBreaking)
            };
            self.push(
                rule,
                level,
                format!("{} {} parameter `{}` added", word(required), key.0, key.1),
                None,
                Some(at),
            );
        }
        for (key, (op_, oat)) in &olds {
            let Some((np, nat)) = news.get(key) else {
                continue;
            };
            let (was, is) = (is_required(op_), is_required(np));
            if was != is {
                let (rule, level) = if is {
                    ("parameter-became-required", Level::Breaking)
                } else {
                    ("parameter-became-optional", Level::NonBreaking)
                };
                self.push(
                    rule,
                    level,
                    format!("{} parameter `{}` became {}", key.0, key.1, word(is)),
                    Some(&format!("{oat}/required")),
                    Some(&format!("{nat}/required")),
                );
            }
            if let (Some(os), Some(ns)) = (op_.get("schema"), np.get("schema")) {
                let label = format!("{} parameter `{}`", key.0, key.1);
                self.schema(
                    os,
                    format!("{oat}/schema"),
                    ns,
                    format!("{nat}/schema"),
                    Direction::Request,
                    &label,
                );
            }
        }
    }

    fn request_body(&mut self, old: &Operation<'_>, new: &Operation<'_>) {
        fn body<'d>(doc: &'d Value, op: &Operation<'d>) -> Option<(&'d Value, String)> {
            op.op
                .get("requestBody")
                .map(|b| resolve(doc, b, format!("{}/requestBody", op.pointer)))
        }
        match (body(self.old, old), body(self.new, new)) {
            (None, None) => {}
            (None, Some((b, at))) => {
                let required = is_required(b);
                self.push(
                    if required {
                        "request-body-required-added"
                    } else {
                        "request-body-optional-added"
                    },
                    if required {
                        Level::Breaking
                    } else {
                        Level::NonBreaking
                    },
                    format!("{} request body added", word(required)),
                    None,
                    Some(&at),
                );
            }
            (Some((_, at)), None) => self.push(
                "request-body-removed",
                Level::Breaking,
                "request body removed".into(),
                Some(&at),
                None,
            ),
            (Some((ob, oat)), Some((nb, nat))) => {
                let (was, is) = (is_required(ob), is_required(nb));
                if was != is {
                    self.push(
                        if is {
                            "request-body-became-required"
                        } else {
                            "request-body-became-optional"
                        },
                        if is {
                            Level::Breaking
                        } else {
                            Level::NonBreaking
                        },
                        format!("request body became {}", word(is)),
                        Some(&format!("{oat}/required")),
                        Some(&format!("{nat}/required")),
                    );
                }
                self.content(ob, &oat, nb, &nat, Direction::Request, "request body");
            }
        }
    }

    /// Media types and their schemas.
    fn content(
        &mut self,
        old: &Value,
        old_at: &str,
        new: &Value,
        new_at: &str,
        direction: Direction,
        what: &str,
    ) {
        let empty = serde_json::Map::new();
        let olds = old
            .get("content")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let news = new
            .get("content")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        // `application/json; charset=utf-8` is `application/json`: parameters and case do not
        // make another media type.
        let key = |media: &str| {
            media
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        };
        let news_by_key: BTreeMap<String, (&String, &Value)> =
            news.iter().map(|(m, v)| (key(m), (m, v))).collect();
        let olds_keys: BTreeSet<String> = olds.keys().map(|m| key(m)).collect();
        for (media, o) in olds {
            let oat = format!("{old_at}/content/{}", escape_token(media));
            match news_by_key.get(&key(media)).map(|(m, n)| (*m, *n)) {
                None => self.push(
                    match direction {
                        Direction::Request => "request-media-type-removed",
                        Direction::Response => "response-media-type-removed",
                    },
                    Level::Breaking,
                    format!("{what}: media type `{media}` removed"),
                    Some(&oat),
                    None,
                ),
                Some((new_media, n)) => {
                    let nat = format!("{new_at}/content/{}", escape_token(new_media));
                    if let (Some(os), Some(ns)) = (o.get("schema"), n.get("schema")) {
                        self.schema(
                            os,
                            format!("{oat}/schema"),
                            ns,
                            format!("{nat}/schema"),
                            direction,
                            what,
                        );
                    }
                }
            }
        }
        for media in news.keys().filter(|m| !olds_keys.contains(&key(m))) {
            self.push(
                match direction {
                    Direction::Request => "request-media-type-added",
                    Direction::Response => "response-media-type-added",
                },
                Level::NonBreaking,
                format!("{what}: media type `{media}` added"),
                None,
                Some(&format!("{new_at}/content/{}", escape_token(media))),
            );
        }
    }

    fn responses(&mut self, old: &Operation<'_>, new: &Operation<'_>) {
        let empty = serde_json::Map::new();
        let olds = old
            .op
            .get("responses")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let news = new
            .op
            .get("responses")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let success = |code: &str| code.starts_with('2');
        for (code, o) in olds {
            let (o, oat) = resolve(
                self.old,
                o,
                format!("{}/responses/{}", old.pointer, escape_token(code)),
            );
            match news.get(code) {
                None if success(code) => self.push(
                    "response-success-status-removed",
                    Level::Breaking,
                    format!("success response {code} removed"),
                    Some(&oat),
                    None,
                ),
                None => self.push(
                    "response-error-status-removed",
                    Level::NonBreaking,
                    format!("error response {code} removed"),
                    Some(&oat),
                    None,
                ),
                Some(n) => {
                    let (n, nat) = resolve(
                        self.new,
                        n,
                        format!("{}/responses/{}", new.pointer, escape_token(code)),
                    );
                    self.content(
                        o,
                        &oat,
                        n,
                        &nat,
                        Direction::Response,
                        &format!("response {code}"),
                    );
                    self.headers(o, &oat, n, &nat, code);
                }
            }
        }
        for code in news.keys().filter(|c| !olds.contains_key(*c)) {
            let at = format!("{}/responses/{}", new.pointer, escape_token(code));
            if success(code) {
                self.push(
                    "response-success-status-added",
                    Level::PotentiallyBreaking,
                    format!("success response {code} added (clients may not expect it)"),
                    None,
                    Some(&at),
                );
            } else {
                self.push(
                    "response-error-status-added",
                    Level::NonBreaking,
                    format!("error response {code} added"),
                    None,
                    Some(&at),
                );
            }
        }
    }

    /// A response's headers (names case-insensitive): the client reads them, so one removed
    /// breaks when it was required (else it may), one added does not.
    fn headers(&mut self, old: &Value, old_at: &str, new: &Value, new_at: &str, code: &str) {
        fn headers_of<'d>(
            doc: &'d Value,
            response: &'d Value,
            at: &str,
        ) -> BTreeMap<String, (&'d Value, String)> {
            response
                .get("headers")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(name, h)| {
                    let (h, at) = resolve(doc, h, format!("{at}/headers/{}", escape_token(name)));
                    (name.to_ascii_lowercase(), (h, at))
                })
                .collect()
        }
        let olds = headers_of(self.old, old, old_at);
        let news = headers_of(self.new, new, new_at);
        for (name, (oh, oat)) in &olds {
            match news.get(name) {
                None => {
                    let required = is_required(oh);
                    self.push(
                        if required {
                            "response-required-header-removed"
                        } else {
                            "response-optional-header-removed"
                        },
                        if required {
                            Level::Breaking
                        } else {
                            Level::PotentiallyBreaking
                        },
                        format!(
                            "response {code}: {} header `{name}` removed",
                            word(required)
                        ),
                        Some(oat),
                        None,
                    );
                }
                Some((nh, nat)) => {
                    if is_required(oh) && !is_required(nh) {
                        self.push(
                            "response-header-became-optional",
                            Level::Breaking,
                            format!("response {code}: header `{name}` became optional"),
                            Some(oat),
                            Some(nat),
                        );
                    }
                    if let (Some(os), Some(ns)) = (oh.get("schema"), nh.get("schema")) {
                        self.schema(
                            os,
                            format!("{oat}/schema"),
                            ns,
                            format!("{nat}/schema"),
                            Direction::Response,
                            &format!("response {code} header `{name}`"),
                        );
                    }
                }
            }
        }
        for (name, (_, nat)) in news.iter().filter(|(k, _)| !olds.contains_key(*k)) {
            self.push(
                "response-header-added",
                Level::NonBreaking,
                format!("response {code}: header `{name}` added"),
                None,
                Some(nat),
            );
        }
    }

    /// The security requirements in force for an operation (its own, or the document's): the
    /// alternatives (any one suffices), each a set of schemes with their scopes (all needed).
    /// `None` when nothing is required.
    fn requirements<'d>(doc: &'d Value, op: &Operation<'d>) -> (Option<Vec<Alternative>>, String) {
        let (list, at) = match op.op.get("security") {
            Some(list) => (Some(list), format!("{}/security", op.pointer)),
            None => (doc.get("security"), "/security".to_string()),
        };
        let alternatives: Vec<Alternative> = list
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
            .map(|alt| {
                alt.iter()
                    .map(|(name, scopes)| {
                        let scopes = scopes
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .map(String::from)
                            .collect();
                        (name.clone(), scopes)
                    })
                    .collect()
            })
            .collect();
        ((!alternatives.is_empty()).then_some(alternatives), at)
    }

    /// The schemes the SDK authenticates with: `http` `bearer` ones of the old document.
    fn sdk_schemes(&self) -> BTreeSet<String> {
        self.old
            .pointer("/components/securitySchemes")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter(|(_, s)| {
                s.get("type").and_then(Value::as_str) == Some("http")
                    && s.get("scheme")
                        .and_then(Value::as_str)
                        .is_some_and(|v| v.eq_ignore_ascii_case("bearer"))
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    fn security(&mut self, old: &Operation<'_>, new: &Operation<'_>) {
        let (olds, oat) = Self::requirements(self.old, old);
        let (news, nat) = Self::requirements(self.new, new);
        let sdk = self.sdk_schemes();
        let show = |alt: &Alternative| {
            alt.iter()
                .map(|(name, scopes)| {
                    if scopes.is_empty() {
                        name.clone()
                    } else {
                        format!(
                            "{name} ({})",
                            scopes.iter().cloned().collect::<Vec<_>>().join(", ")
                        )
                    }
                })
                .collect::<Vec<_>>()
                .join(" + ")
        };
        let (olds, news) = match (olds, news) {
            (None, None) => return,
            (Some(_), None) => {
                // Nothing is required any more: every caller still gets in.
                self.push(
                    "security-requirement-removed",
                    Level::NonBreaking,
                    "authentication no longer required".into(),
                    Some(&oat),
                    None,
                );
                return;
            }
            (None, Some(news)) => {
                for alt in &news {
                    self.push(
                        "security-requirement-added",
                        Level::Breaking,
                        format!("authentication now required: {}", show(alt)),
                        None,
                        Some(&nat),
                    );
                }
                return;
            }
            (Some(olds), Some(news)) => (olds, news),
        };
        for alt in &olds {
            if news.iter().any(|b| satisfies(alt, b)) {
                continue;
            }
            let uses_sdk = !alt.is_empty() && alt.keys().all(|k| sdk.contains(k));
            // A new alternative that needs everything this one did, and more.
            let tighter = news.iter().find(|b| satisfies(b, alt));
            let level = if uses_sdk {
                Level::Breaking
            } else {
                Level::NonBreaking
            };
            match tighter {
                Some(b) if b.keys().eq(alt.keys()) => self.push(
                    "security-scope-added",
                    Level::Breaking,
                    format!(
                        "security alternative `{}` now needs `{}`",
                        show(alt),
                        show(b)
                    ),
                    Some(&oat),
                    Some(&nat),
                ),
                Some(b) => self.push(
                    "security-alternative-tightened",
                    level,
                    format!(
                        "security alternative `{}` now needs `{}`",
                        show(alt),
                        show(b)
                    ),
                    Some(&oat),
                    Some(&nat),
                ),
                None => {
                    self.push(
                        "security-alternative-removed",
                        level,
                        format!("security alternative `{}` removed", show(alt)),
                        Some(&oat),
                        None,
                    );
                    if !uses_sdk {
                        self.note(
                            "the SDK authenticates with a bearer token, not with this alternative",
                        );
                    }
                }
            }
        }
        for alt in &news {
            if olds.contains(alt) {
                continue;
            }
            // The same schemes as an old alternative, fewer scopes: scopes removed.
            if let Some(was) = olds
                .iter()
                .find(|a| a.keys().eq(alt.keys()) && satisfies(a, alt))
            {
                self.push(
                    "security-scope-removed",
                    Level::NonBreaking,
                    format!(
                        "security alternative `{}` now needs only `{}`",
                        show(was),
                        show(alt)
                    ),
                    Some(&oat),
                    Some(&nat),
                );
                continue;
            }
            // A tightening of an old alternative: reported with it above.
            if olds.iter().any(|a| satisfies(alt, a)) {
                continue;
            }
            self.push(
                "security-alternative-added",
                Level::NonBreaking,
                format!("security alternative `{}` added", show(alt)),
                None,
                Some(&nat),
            );
        }
    }

    fn security_schemes(&mut self) {
        let empty = serde_json::Map::new();
        let schemes = |doc: &Value| {
            doc.pointer("/components/securitySchemes")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_else(|| empty.clone())
        };
        let (olds, news) = (schemes(self.old), schemes(self.new));
        let sdk = self.sdk_schemes();
        for (name, o) in &olds {
            let at = format!("/components/securitySchemes/{}", escape_token(name));
            let level = if sdk.contains(name) {
                Level::Breaking
            } else {
                Level::NonBreaking
            };
            match news.get(name) {
                None => {
                    self.push(
                        "security-scheme-removed",
                        level,
                        format!("security scheme `{name}` removed"),
                        Some(&at),
                        None,
                    );
                    if level == Level::NonBreaking {
                        self.note("the SDK does not authenticate with this scheme");
                    }
                }
                Some(n) => {
                    let fields = ["type", "scheme", "in", "name", "bearerFormat"];
                    let changed = |f: &&str| {
                        let norm = |v: Option<&Value>| {
                            v.and_then(Value::as_str).map(str::to_ascii_lowercase)
                        };
                        norm(o.get(*f)) != norm(n.get(*f))
                    };
                    if fields.iter().any(changed) {
                        self.push(
                            "security-scheme-changed",
                            level,
                            format!("security scheme `{name}` changed"),
                            Some(&at),
                            Some(&at),
                        );
                    }
                }
            }
        }
        for name in news.keys().filter(|n| !olds.contains_key(*n)) {
            self.push(
                "security-scheme-added",
                Level::NonBreaking,
                format!("security scheme `{name}` added"),
                None,
                Some(&format!(
                    "/components/securitySchemes/{}",
                    escape_token(name)
                )),
            );
        }
    }

    /// Compares two schemas, read in `direction`; `label` says where they are.
    fn schema(
        &mut self,
        old: &Value,
        old_at: String,
        new: &Value,
        new_at: String,
        direction: Direction,
        label: &str,
    ) {
        self.schema_in(old, old_at, new, new_at, direction, label, false);
    }

    /// [`Walk::schema`] for a value that may be absent (`optional`: a property not required).
    #[allow(clippy::too_many_arguments)]
    fn schema_in(
        &mut self,
        old: &Value,
        old_at: String,
        new: &Value,
        new_at: String,
        direction: Direction,
        label: &str,
        optional: bool,
    ) {
        // Changes point at where each schema lives, after its `$ref`s.
        let (_, oat) = resolve(self.old, old, old_at.clone());
        let (_, nat) = resolve(self.new, new, new_at.clone());
        if !self
            .visited
            .insert((oat.clone(), nat.clone(), direction, optional))
        {
            return;
        }
        let o = flatten(self.old, old, old_at, 0);
        let n = flatten(self.new, new, new_at, 0);
        let (op_, np) = (Some(oat.as_str()), Some(nat.as_str()));
        if let (Some(a), Some(b)) = (o.kind, n.kind)
            && a != b
        {
            self.push(
                "type-changed",
                Level::Breaking,
                format!("{label}: type changed from `{a}` to `{b}`"),
                op_,
                np,
            );
        }
        let widened = matches!(
            (o.format, n.format),
            (Some("int32"), Some("int64")) | (Some("float"), Some("double"))
        );
        if o.format != n.format && widened && direction == Direction::Request {
            self.push(
                "request-format-widened",
                Level::NonBreaking,
                format!(
                    "{label}: format widened from `{}` to `{}` (every value sent before still fits)",
                    o.format.unwrap_or(""),
                    n.format.unwrap_or("")
                ),
                op_,
                np,
            );
        } else if o.format != n.format {
            self.push(
                "format-changed",
                Level::Breaking,
                format!(
                    "{label}: format changed from {} to {}",
                    o.format.map_or("none".into(), |f| format!("`{f}`")),
                    n.format.map_or("none".into(), |f| format!("`{f}`"))
                ),
                op_,
                np,
            );
        }
        if o.nullable != n.nullable {
            // An optional response field is an `Option` in the generated types already: a null
            // decodes as `None`.
            let absorbed = direction == Direction::Response && optional;
            let breaking = match direction {
                Direction::Request => o.nullable,
                Direction::Response => n.nullable && !absorbed,
            };
            self.push(
                if n.nullable {
                    "nullable-added"
                } else {
                    "nullable-removed"
                },
                if breaking {
                    Level::Breaking
                } else {
                    Level::NonBreaking
                },
                format!(
                    "{label}: {}",
                    if n.nullable {
                        "may now be null"
                    } else {
                        "may no longer be null"
                    }
                ),
                op_,
                np,
            );
            if absorbed && n.nullable {
                self.note("an optional field is an `Option` in the generated types: null decodes as `None`");
            }
        }
        self.enum_values(&o, &n, direction, label, op_, np);
        self.constraints(&o, &n, direction, label, op_, np);
        self.branches(&o, &n, direction, label, op_, np);
        self.properties(&o, &n, direction, label);
        if let (Some((oi, oiat)), Some((ni, niat))) = (o.items, n.items) {
            self.schema(oi, oiat, ni, niat, direction, &format!("{label}[]"));
        }
        if let (Some((oa, oaat)), Some((na, naat))) = (o.additional, n.additional) {
            self.schema(oa, oaat, na, naat, direction, &format!("{label}{{*}}"));
        }
    }

    /// Bounds, `pattern`, `uniqueItems`, an `enum` appearing, `default`, `readOnly` and
    /// `writeOnly`. A request breaks when the server accepts fewer values than the SDK may send;
    /// a response breaks when the server may send values the generated types refuse (they check
    /// string lengths; patterns are dropped with `generator.dropPatterns`; item counts and
    /// numbers are not checked on decode, though a number's type may follow its bounds).
    fn constraints(
        &mut self,
        o: &Flat<'_>,
        n: &Flat<'_>,
        direction: Direction,
        label: &str,
        oat: Option<&str>,
        nat: Option<&str>,
    ) {
        let dir = match direction {
            Direction::Request => "request",
            Direction::Response => "response",
        };
        for (keyword, lower, _) in BOUNDS {
            let (ob, nb) = (
                o.bounds.get(keyword).copied(),
                n.bounds.get(keyword).copied(),
            );
            let Some(narrowed) = narrower(lower, ob, nb) else {
                continue;
            };
            let show = |b: Option<Bound>| {
                b.map_or("none".to_string(), |b| {
                    format!("{}{}", if b.exclusive { "exclusive " } else { "" }, b.value)
                })
            };
            let level = match (direction, narrowed) {
                (Direction::Request, true) => Level::Breaking,
                (Direction::Request, false) => Level::NonBreaking,
                (Direction::Response, true) => Level::NonBreaking,
                (Direction::Response, false) => match keyword {
                    "minLength" | "maxLength" => Level::Breaking,
                    "minimum" | "maximum" => Level::PotentiallyBreaking,
                    _ => Level::NonBreaking,
                },
            };
            let rule = rule_name(dir, keyword, narrowed);
            self.push(
                rule,
                level,
                format!(
                    "{label}: `{keyword}` {} ({} → {})",
                    if narrowed { "narrowed" } else { "widened" },
                    show(ob),
                    show(nb)
                ),
                oat,
                nat,
            );
            if direction == Direction::Response && !narrowed && level == Level::NonBreaking {
                self.note("the generated types do not check item counts when they decode");
            }
        }
        if o.pattern != n.pattern {
            // A pattern cannot be proved to accept what another accepted: a changed one counts as
            // narrowed in a request and as widened in a response.
            let (rule, level) = match (direction, o.pattern, n.pattern) {
                (Direction::Request, _, Some(_)) => {
                    ("request-pattern-added-or-changed", Level::Breaking)
                }
                (Direction::Request, _, None) => ("request-pattern-removed", Level::NonBreaking),
                (Direction::Response, _, _) if self.tolerance.patterns_dropped => {
                    ("response-pattern-changed", Level::NonBreaking)
                }
                (Direction::Response, None, Some(_)) => {
                    ("response-pattern-changed", Level::NonBreaking)
                }
                (Direction::Response, Some(_), None) => {
                    ("response-pattern-changed", Level::Breaking)
                }
                (Direction::Response, _, _) => {
                    ("response-pattern-changed", Level::PotentiallyBreaking)
                }
            };
            self.push(
                rule,
                level,
                format!(
                    "{label}: pattern {}",
                    match (o.pattern, n.pattern) {
                        (None, Some(p)) => format!("`{p}` added"),
                        (Some(_), None) => "removed".to_string(),
                        (_, p) => format!("changed to `{}`", p.unwrap_or("")),
                    }
                ),
                oat,
                nat,
            );
            if direction == Direction::Response && self.tolerance.patterns_dropped {
                self.note("patterns are left out of the generated types (generator.dropPatterns)");
            }
        }
        if o.unique_items != n.unique_items {
            let level = match direction {
                Direction::Request if n.unique_items => Level::Breaking,
                _ => Level::NonBreaking,
            };
            self.push(
                if n.unique_items {
                    "unique-items-added"
                } else {
                    "unique-items-removed"
                },
                level,
                format!(
                    "{label}: items {} be unique",
                    if n.unique_items {
                        "must now"
                    } else {
                        "need no longer"
                    }
                ),
                oat,
                nat,
            );
        }
        if o.values.is_none() && n.values.is_some() {
            let open = !n.closed || self.tolerance.open_enums;
            let level = match direction {
                Direction::Request => Level::Breaking,
                Direction::Response if open => Level::NonBreaking,
                Direction::Response => Level::Breaking,
            };
            self.push(
                if direction == Direction::Request {
                    "request-property-became-enum"
                } else {
                    "response-property-became-enum"
                },
                level,
                format!("{label}: now takes only the listed values (an enum)"),
                oat,
                nat,
            );
            if direction == Direction::Response && open {
                self.note("the enum is open in the generated types (tolerantReading.openEnums): an unknown value decodes");
            }
        }
        if o.default != n.default {
            self.push(
                "default-changed",
                Level::PotentiallyBreaking,
                format!(
                    "{label}: default {} → {}",
                    o.default.map_or("none".into(), show),
                    n.default.map_or("none".into(), show)
                ),
                oat,
                nat,
            );
        }
        for (was, is, what, breaks_in) in [
            (o.read_only, n.read_only, "readOnly", Direction::Request),
            (o.write_only, n.write_only, "writeOnly", Direction::Response),
        ] {
            if was == is {
                continue;
            }
            let level = match (is, direction == breaks_in) {
                (true, true) if what == "readOnly" => Level::PotentiallyBreaking,
                (true, true) => Level::Breaking,
                _ => Level::NonBreaking,
            };
            self.push(
                if is {
                    "became-read-or-write-only"
                } else {
                    "no-longer-read-or-write-only"
                },
                level,
                format!("{label}: {what} turned {}", if is { "on" } else { "off" }),
                oat,
                nat,
            );
        }
    }

    /// `oneOf`/`anyOf` branches (matched by the schema they name, else by position) and the
    /// discriminator. A new branch breaks a response (the generated enum cannot decode it); a
    /// removed one breaks a request.
    fn branches(
        &mut self,
        o: &Flat<'_>,
        n: &Flat<'_>,
        direction: Direction,
        label: &str,
        oat: Option<&str>,
        nat: Option<&str>,
    ) {
        if o.discriminator.and_then(|d| d.get("propertyName"))
            != n.discriminator.and_then(|d| d.get("propertyName"))
        {
            self.push(
                "discriminator-changed",
                Level::Breaking,
                format!("{label}: the discriminator property changed"),
                oat,
                nat,
            );
        }
        let empty = Vec::new();
        let (okind, obranches) = o.branches.as_ref().map_or(("", &empty), |(k, b)| (*k, b));
        let (nkind, nbranches) = n.branches.as_ref().map_or(("", &empty), |(k, b)| (*k, b));
        if obranches.is_empty() && nbranches.is_empty() {
            return;
        }
        let name = |b: &Value, i: usize| {
            b.get("$ref").and_then(Value::as_str).map_or_else(
                || format!("#{i}"),
                |r| r.rsplit('/').next().unwrap_or(r).to_string(),
            )
        };
        let onamed: BTreeMap<String, &(&Value, String)> = obranches
            .iter()
            .enumerate()
            .map(|(i, b)| (name(b.0, i), b))
            .collect();
        let nnamed: BTreeMap<String, &(&Value, String)> = nbranches
            .iter()
            .enumerate()
            .map(|(i, b)| (name(b.0, i), b))
            .collect();
        let kind = if nkind.is_empty() { okind } else { nkind };
        for (key, (ob, obat)) in &onamed {
            match nnamed.get(key) {
                Some((nb, nbat)) => self.schema(
                    ob,
                    obat.clone(),
                    nb,
                    nbat.clone(),
                    direction,
                    &format!("{label}|{kind}[{key}]"),
                ),
                None => self.push(
                    if direction == Direction::Request {
                        "request-branch-removed"
                    } else {
                        "response-branch-removed"
                    },
                    if direction == Direction::Request {
                        Level::Breaking
                    } else {
                        Level::NonBreaking
                    },
                    format!("{label}: {kind} branch `{key}` removed"),
                    Some(obat),
                    nat,
                ),
            }
        }
        for (key, (_, nbat)) in nnamed.iter().filter(|(k, _)| !onamed.contains_key(*k)) {
            self.push(
                if direction == Direction::Request {
                    "request-branch-added"
                } else {
                    "response-branch-added"
                },
                if direction == Direction::Request {
                    Level::NonBreaking
                } else {
                    Level::Breaking
                },
                format!("{label}: {kind} branch `{key}` added"),
                oat,
                Some(nbat),
            );
        }
    }

    fn enum_values(
        &mut self,
        o: &Flat<'_>,
        n: &Flat<'_>,
        direction: Direction,
        label: &str,
        oat: Option<&str>,
        nat: Option<&str>,
    ) {
        let (Some(ov), Some(nv)) = (&o.values, &n.values) else {
            return;
        };
        for value in nv.iter().filter(|v| !ov.contains(v)) {
            let open = !n.closed || self.tolerance.open_enums;
            let (level, note) = match direction {
                Direction::Request => (Level::NonBreaking, None),
                Direction::Response if open => (
                    Level::NonBreaking,
                    Some(
                        "the enum is open in the generated types (tolerantReading.openEnums): an unknown value decodes",
                    ),
                ),
                Direction::Response => (Level::Breaking, None),
            };
            self.push(
                match direction {
                    Direction::Request => "request-enum-value-added",
                    Direction::Response => "response-enum-value-added",
                },
                level,
                format!("{label}: enum value {} added", show(value)),
                oat,
                nat,
            );
            if let Some(note) = note {
                self.note(note);
            }
        }
        for value in ov.iter().filter(|v| !nv.contains(v)) {
            self.push(
                match direction {
                    Direction::Request => "request-enum-value-removed",
                    Direction::Response => "response-enum-value-removed",
                },
                match direction {
                    Direction::Request => Level::Breaking,
                    Direction::Response => Level::NonBreaking,
                },
                format!("{label}: enum value {} removed", show(value)),
                oat,
                nat,
            );
        }
    }

    fn properties(&mut self, o: &Flat<'_>, n: &Flat<'_>, direction: Direction, label: &str) {
        for (name, (_, oat)) in &o.properties {
            if n.properties.contains_key(name) {
                continue;
            }
            let (rule, level) = match direction {
                Direction::Request => ("request-property-removed", Level::PotentiallyBreaking),
                Direction::Response => ("response-property-removed", Level::Breaking),
            };
            self.push(
                rule,
                level,
                format!("{label}: property `{name}` removed"),
                Some(oat),
                None,
            );
        }
        for (name, (_, nat)) in &n.properties {
            if o.properties.contains_key(name) {
                continue;
            }
            let required = n.required.contains(name);
            match direction {
                Direction::Request => self.push(
                    if required {
                        "request-required-property-added"
                    } else {
                        "request-optional-property-added"
                    },
                    if required {
                        Level::Breaking
                    } else {
                        Level::NonBreaking
                    },
                    format!("{label}: {} property `{name}` added", word(required)),
                    None,
                    Some(nat),
                ),
                Direction::Response => {
                    let tolerant = self.tolerance.unknown_fields || !o.sealed;
                    self.push(
                        "response-property-added",
                        if tolerant {
                            Level::NonBreaking
                        } else {
                            Level::Breaking
                        },
                        format!("{label}: property `{name}` added"),
                        None,
                        Some(nat),
                    );
                    if o.sealed && self.tolerance.unknown_fields {
                        self.note("unknown fields are ignored by the generated types (tolerantReading.allowUnknownFields)");
                    }
                }
            }
        }
        for (name, (op_, oat)) in &o.properties {
            let Some((np, nat)) = n.properties.get(name) else {
                continue;
            };
            let (was, is) = (o.required.contains(name), n.required.contains(name));
            if was != is {
                let breaking = match direction {
                    Direction::Request => is,
                    Direction::Response => was,
                };
                self.push(
                    match (direction, is) {
                        (Direction::Request, true) => "request-property-became-required",
                        (Direction::Request, false) => "request-property-became-optional",
                        (Direction::Response, true) => "response-property-became-required",
                        (Direction::Response, false) => "response-property-became-optional",
                    },
                    if breaking {
                        Level::Breaking
                    } else {
                        Level::NonBreaking
                    },
                    format!("{label}: property `{name}` became {}", word(is)),
                    Some(oat),
                    Some(nat),
                );
            }
            self.schema_in(
                op_,
                oat.clone(),
                np,
                nat.clone(),
                direction,
                &format!("{label}.{name}"),
                !is,
            );
        }
    }
}

/// `GET /a: ` or `GET /a (+3 more): `.
fn ops_prefix(operations: &[String]) -> String {
    match operations {
        [] => String::new(),
        [one] => format!("{one}: "),
        [first, rest @ ..] => format!("{first} (+{} more): ", rest.len()),
    }
}

/// The semver bump a report asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Bump {
    /// Nothing that users see changed.
    None,
    /// Fixes only.
    Patch,
    /// Additions.
    Minor,
    /// Something breaks.
    Major,
}

impl Bump {
    /// The next version after `version` (`0.x` counts minor as major and patch as minor, as
    /// cargo does).
    pub fn apply(self, version: &str) -> String {
        let parts: Vec<u64> = version
            .split(['.', '-', '+'])
            .take(3)
            .map(|p| p.parse().unwrap_or(0))
            .collect();
        let (major, minor, patch) = (
            parts.first().copied().unwrap_or(0),
            parts.get(1).copied().unwrap_or(0),
            parts.get(2).copied().unwrap_or(0),
        );
        match self {
            Bump::None => format!("{major}.{minor}.{patch}"),
            Bump::Patch => format!("{major}.{minor}.{}", patch + 1),
            Bump::Minor if major == 0 => format!("0.{minor}.{}", patch + 1),
            Bump::Minor => format!("{major}.{}.0", minor + 1),
            Bump::Major if major == 0 => format!("0.{}.0", minor + 1),
            Bump::Major => format!("{}.0.0", major + 1),
        }
    }

    /// `major`, `minor`, `patch` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            Bump::None => "none",
            Bump::Patch => "patch",
            Bump::Minor => "minor",
            Bump::Major => "major",
        }
    }
}

impl Report {
    /// How many changes have this level.
    pub fn count(&self, level: Level) -> usize {
        self.changes.iter().filter(|c| c.level == level).count()
    }

    /// Whether anything breaks.
    pub fn is_breaking(&self) -> bool {
        self.count(Level::Breaking) > 0
    }

    /// The bump of `mpt-api` (the generated client): major for a breaking change, minor for
    /// anything else.
    pub fn api_bump(&self) -> Bump {
        self.bump(self.is_breaking(), Bump::Minor)
    }

    /// Major when something breaks the crate, none when nothing changed, else `otherwise`.
    fn bump(&self, breaks: bool, otherwise: Bump) -> Bump {
        if breaks {
            Bump::Major
        } else if self.changes.is_empty() {
            Bump::None
        } else {
            otherwise
        }
    }

    /// The report with the schemas the facade exposes ([`facade_exposure`]).
    pub fn with_facade_exposure(mut self, exposed: BTreeSet<String>) -> Report {
        self.facade_exposes = Some(exposed);
        self
    }

    /// The bump of `mpt` (the facade): major when a breaking change touches a schema its public
    /// API exposes ([`Report::facade_exposes`]; all of them when unknown) or an operation,
    /// else patch (it is rebuilt on the new client) or none.
    pub fn facade_bump(&self) -> Bump {
        let exposed = |c: &Change| {
            [&c.old, &c.new].into_iter().flatten().any(|p| {
                let Some(rest) = p.strip_prefix("/components/schemas/") else {
                    return false;
                };
                let name = rest.split('/').next().unwrap_or("");
                let name = name.replace("~1", "/").replace("~0", "~");
                self.facade_exposes
                    .as_ref()
                    .is_none_or(|set| set.contains(&name))
            })
        };
        let breaks = self.changes.iter().any(|c| {
            c.level == Level::Breaking && (exposed(c) || c.rule.starts_with("operation-"))
        });
        self.bump(breaks, Bump::Patch)
    }

    /// One line: `3 breaking, 1 potentially breaking, 12 non-breaking changes`.
    pub fn summary(&self) -> String {
        if self.changes.is_empty() {
            return format!(
                "no API changes ({} → {})",
                self.old_version, self.new_version
            );
        }
        format!(
            "{} → {}: {} breaking, {} potentially breaking, {} non-breaking change(s)",
            self.old_version,
            self.new_version,
            self.count(Level::Breaking),
            self.count(Level::PotentiallyBreaking),
            self.count(Level::NonBreaking)
        )
    }

    fn tolerance_line(&self) -> String {
        format!(
            "judged for this SDK's generated types: unknown response fields {}, string enums {} (openapi/amendments.json, tolerantReading)",
            if self.tolerance.unknown_fields {
                "ignored"
            } else {
                "refused"
            },
            if self.tolerance.open_enums {
                "open"
            } else {
                "closed"
            }
        )
    }

    /// Plain text, a line per change, most severe first.
    pub fn text(&self) -> String {
        let mut out = format!("{}\n{}\n", self.summary(), self.tolerance_line());
        for c in self.sorted() {
            out.push_str(&format!(
                "  {:<20} {}{}{}\n",
                c.level.as_str(),
                ops_prefix(&c.operations),
                c.message,
                c.note
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ));
            for also in &c.also {
                out.push_str(&format!("  {:<20}   also {also}\n", ""));
            }
        }
        out
    }

    fn sorted(&self) -> Vec<&Change> {
        let mut all: Vec<&Change> = self.changes.iter().collect();
        all.sort_by_key(|c| c.level);
        all
    }

    /// The report as JSON (stable field names).
    pub fn json(&self) -> Value {
        json!({
            "oldVersion": self.old_version,
            "newVersion": self.new_version,
            "tolerance": {
                "unknownFields": self.tolerance.unknown_fields,
                "openEnums": self.tolerance.open_enums,
            },
            "summary": {
                "breaking": self.count(Level::Breaking),
                "potentiallyBreaking": self.count(Level::PotentiallyBreaking),
                "nonBreaking": self.count(Level::NonBreaking),
            },
            "changes": self.changes.iter().map(|c| json!({
                "rule": c.rule,
                "level": c.level.as_str(),
                "operations": c.operations,
                "message": c.message,
                "oldPointer": c.old,
                "newPointer": c.new,
                "note": c.note,
                "also": c.also,
            })).collect::<Vec<_>>(),
        })
    }

    /// A Markdown report: summary, version advice, a table of every change, and a CHANGELOG
    /// draft. `api_version` and `facade_version` are the crates' current versions.
    pub fn markdown(&self, api_version: &str, facade_version: &str) -> String {
        let mut out = format!(
            "# API changes {} → {}\n\n{}.\n\nLevels are {}.\n\n",
            self.old_version,
            self.new_version,
            self.summary(),
            self.tolerance_line()
        );
        out.push_str(&self.advice(api_version, facade_version));
        out.push_str("\n## Changes\n\n");
        if self.changes.is_empty() {
            out.push_str("None.\n");
        } else {
            out.push_str(
                "| level | operation | change | old | new |\n| --- | --- | --- | --- | --- |\n",
            );
            for c in self.sorted() {
                let cell = |s: &str| s.replace('|', "\\|");
                let also: String = c
                    .also
                    .iter()
                    .map(|a| format!("<br>also {}", cell(a)))
                    .collect();
                out.push_str(&format!(
                    "| {} | {} | {}{also}{} | {} | {} |\n",
                    c.level,
                    cell(&c.operations.join(", ")),
                    cell(&c.message),
                    c.note
                        .as_deref()
                        .map(|n| format!(" *({})*", cell(n)))
                        .unwrap_or_default(),
                    c.old
                        .as_deref()
                        .map(|p| format!("`{}`", cell(p)))
                        .unwrap_or_default(),
                    c.new
                        .as_deref()
                        .map(|p| format!("`{}`", cell(p)))
                        .unwrap_or_default(),
                ));
            }
        }
        out.push_str("\n## CHANGELOG draft\n\n```markdown\n");
        out.push_str(&self.changelog());
        out.push_str("```\n");
        out
    }

    /// The suggested versions, in Markdown.
    pub fn advice(&self, api_version: &str, facade_version: &str) -> String {
        let (api, facade) = (self.api_bump(), self.facade_bump());
        format!(
            "## Version advice\n\n* `mpt-api` {api_version} → **{}** ({} bump: {}).\n* `mpt` {facade_version} → **{}** ({} bump: {}).\n",
            api.apply(api_version),
            api.as_str(),
            match api {
                Bump::Major => "a breaking change to the generated client",
                Bump::Minor => "additions or non-breaking changes to the generated client",
                _ => "nothing changed",
            },
            facade.apply(facade_version),
            facade.as_str(),
            match facade {
                Bump::Major =>
                    "a breaking change reaches types the facade exposes (`Token::raw`, `Problem`) or removes an operation",
                Bump::Patch => "rebuilt on the new client; its own API is unchanged by the spec",
                _ => "nothing changed",
            },
        )
    }

    /// A CHANGELOG entry (Keep a Changelog sections) the maintainer can paste.
    pub fn changelog(&self) -> String {
        let mut out = format!(
            "### Changed (API {} → {})\n",
            self.old_version, self.new_version
        );
        for (title, level) in [
            ("Breaking", Level::Breaking),
            ("Potentially breaking", Level::PotentiallyBreaking),
            ("Non-breaking", Level::NonBreaking),
        ] {
            let items: Vec<&Change> = self.changes.iter().filter(|c| c.level == level).collect();
            if items.is_empty() {
                continue;
            }
            out.push_str(&format!("- {title}:\n"));
            for c in items {
                out.push_str(&format!("  - {}{}\n", ops_prefix(&c.operations), c.message));
            }
        }
        out
    }
}

/// One side of a comparison: a merged spec (a JSON file), or a directory of per-operation
/// documents, merged here with `amendments`' rules (without its patches and generator
/// settings, which name the current API's schemas). Errors name the file.
pub fn load_side(path: &std::path::Path, amendments: &Amendments) -> crate::Result<Value> {
    if path.is_dir() {
        let mut rules = amendments.clone();
        rules.patches.clear();
        rules.schema_winners.clear();
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
    crate::fragment::check_openapi_30(path, &doc)?;
    // A side whose references dangle, or whose required references never end, cannot be
    // compared (an empty stand-in would report false removals): refused, as `regen` refuses it.
    crate::merge::check_refs(path, &doc)?;
    crate::merge::check_cycles(&doc, |_| path)?;
    Ok(doc)
}
