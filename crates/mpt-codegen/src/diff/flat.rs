//! A schema flattened for comparison: `$ref`s followed and `allOf`s merged into one set of
//! members; and the small helpers the rules share.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::error::escape_token;

/// A schema after `$ref`s and `allOf`s: its own members, and its properties with their pointers.
#[derive(Default)]
pub(super) struct Flat<'a> {
    pub(super) kind: Option<&'a str>,
    pub(super) format: Option<&'a str>,
    pub(super) nullable: bool,
    /// `enum` values, or the `x-known-values` of an opened enum.
    pub(super) values: Option<Vec<&'a Value>>,
    /// The enum is closed (an `enum` member, not `x-known-values`).
    pub(super) closed: bool,
    /// The values are an `x-extensible-enum`.
    pub(super) extensible: bool,
    pub(super) required: BTreeSet<&'a str>,
    pub(super) properties: BTreeMap<&'a str, (&'a Value, String)>,
    pub(super) items: Option<(&'a Value, String)>,
    pub(super) additional: Option<(&'a Value, String)>,
    /// `additionalProperties: false`.
    pub(super) sealed: bool,
    /// Bounds: `minLength`, `maxLength`, `minimum`, `maximum`, `minItems`, `maxItems`, by
    /// keyword, with `exclusiveMinimum`/`exclusiveMaximum` folded in.
    pub(super) bounds: BTreeMap<&'static str, Bound>,
    pub(super) pattern: Option<&'a str>,
    pub(super) unique_items: bool,
    pub(super) default: Option<&'a Value>,
    pub(super) read_only: bool,
    pub(super) write_only: bool,
    /// `oneOf` or `anyOf` branches, with their pointers.
    pub(super) branches: Option<(&'static str, Vec<(&'a Value, String)>)>,
    pub(super) discriminator: Option<&'a Value>,
    /// `deprecated: true`.
    pub(super) deprecated: bool,
    /// `x-stability-level`.
    pub(super) stability: Option<&'a str>,
    /// The pointer of an `allOf` part, or a `$ref` chain, past the bounds ([`MAX_DEPTH`],
    /// [`MAX_REFS`]): not read, and reported as not judged.
    pub(super) too_deep: Option<String>,
}

/// How deep schemas are followed (nested `allOf`s; properties, items and branches under one
/// another): past it, the rest is reported as not judged, never a stack overflow.
pub(super) const MAX_DEPTH: usize = 256;

/// How many `$ref`s in a row are followed (a loop of references ends here).
pub(super) const MAX_REFS: usize = 4096;

impl<'a> Flat<'a> {
    /// Whether `null` is a valid value: `nullable`, or a schema that says nothing about the
    /// type (`{}`, 3.1's `true`, 3.0's `{nullable: true}` without a type all accept anything).
    pub(super) fn accepts_null(&self) -> bool {
        self.nullable
            || (self.kind.is_none()
                && self.values.is_none()
                && self.branches.is_none()
                && self.properties.is_empty()
                && self.items.is_none()
                && self.additional.is_none()
                && self.format.is_none())
    }

    /// Takes in the members of one `allOf` part.
    fn merge(&mut self, inner: Flat<'a>) {
        self.kind = self.kind.or(inner.kind);
        self.format = self.format.or(inner.format);
        self.nullable |= inner.nullable;
        if inner.values.is_some() {
            self.values = inner.values;
            self.closed = inner.closed;
            self.extensible = inner.extensible;
        }
        self.required.extend(inner.required);
        self.properties.extend(inner.properties);
        self.items = self.items.take().or(inner.items);
        self.additional = self.additional.take().or(inner.additional);
        self.sealed |= inner.sealed;
        self.bounds.extend(inner.bounds);
        self.pattern = self.pattern.or(inner.pattern);
        self.unique_items |= inner.unique_items;
        self.default = self.default.or(inner.default);
        self.read_only |= inner.read_only;
        self.write_only |= inner.write_only;
        self.branches = self.branches.take().or(inner.branches);
        self.discriminator = self.discriminator.or(inner.discriminator);
        self.deprecated |= inner.deprecated;
        self.stability = self.stability.or(inner.stability);
        self.too_deep = self.too_deep.take().or(inner.too_deep);
    }
}

/// One bound of a schema: its value, and whether it excludes the value itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Bound {
    pub(super) value: f64,
    pub(super) exclusive: bool,
}

/// The bound keywords: (keyword, a lower bound?, the exclusive flag's keyword).
pub(super) const BOUNDS: [(&str, bool, Option<&str>); 6] = [
    ("minLength", true, None),
    ("maxLength", false, None),
    ("minimum", true, Some("exclusiveMinimum")),
    ("maximum", false, Some("exclusiveMaximum")),
    ("minItems", true, None),
    ("maxItems", false, None),
];

/// Whether bound `new` accepts fewer values than `old` (`None`: no bound).
pub(super) fn narrower(lower: bool, old: Option<Bound>, new: Option<Bound>) -> Option<bool> {
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

/// Whether `pattern` matches every string: `.*`, `[\s\S]*` (and its spellings), `.*?`,
/// `.{0,}`, `(?s).*`, in a group or not, anchored or not; and a pattern that is empty or only
/// one anchor (an unanchored search finds the empty match in any string). `.` stops at a
/// newline, but a pattern is about the value, and oasdiff reads `.*` the same way. `^$` and
/// `^()$` are not: they accept only the empty string.
pub(super) fn matches_everything(pattern: &str) -> bool {
    let (p, start) = match pattern.strip_prefix('^') {
        Some(rest) => (rest, true),
        None => (pattern, false),
    };
    let (p, end) = match p.strip_suffix('$') {
        Some(rest) => (rest, true),
        None => (p, false),
    };
    let p = p
        .strip_prefix("(?:")
        .or_else(|| p.strip_prefix('('))
        .and_then(|p| p.strip_suffix(')'))
        .unwrap_or(p);
    if p.is_empty() {
        // `^$`, `^()$`: the empty string only. ``, `^`, `$`: found in every string.
        return !(start && end);
    }
    matches!(
        p,
        ".*" | ".*?"
            | ".{0,}"
            | "(?s).*"
            | "[\\s\\S]*"
            | "[\\S\\s]*"
            | "[\\w\\W]*"
            | "[\\W\\w]*"
            | "[\\d\\D]*"
            | "[\\D\\d]*"
    )
}

/// Follows `$ref`s from `value` (at `pointer`); a reference that does not resolve, or a chain
/// longer than [`MAX_REFS`] (a loop), stops where it is.
pub(super) fn resolve<'a>(
    doc: &'a Value,
    mut value: &'a Value,
    mut pointer: String,
) -> (&'a Value, String) {
    for _ in 0..MAX_REFS {
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

/// `value` (at `pointer`) flattened: its `$ref`s followed, its `allOf` parts (`depth` deep
/// already) merged in.
pub(super) fn flatten<'a>(
    doc: &'a Value,
    value: &'a Value,
    pointer: String,
    depth: usize,
) -> Flat<'a> {
    flatten_once(doc, value, pointer, depth, &mut BTreeSet::new())
}

/// [`flatten`], merging each schema an `allOf` reaches once (`seen`: their pointers), so that
/// `allOf`s that share parts (`S0: allOf [S1, S1]`, `S1: allOf [S2, S2]`, …) take linear time,
/// not exponential.
fn flatten_once<'a>(
    doc: &'a Value,
    value: &'a Value,
    pointer: String,
    depth: usize,
    seen: &mut BTreeSet<String>,
) -> Flat<'a> {
    let (schema, pointer) = resolve(doc, value, pointer);
    let mut flat = Flat::default();
    if depth > MAX_DEPTH || schema.get("$ref").is_some() {
        flat.too_deep = Some(pointer);
        return flat;
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        for (i, part) in parts.iter().enumerate() {
            let (_, at) = resolve(doc, part, format!("{pointer}/allOf/{i}"));
            if !seen.insert(at) {
                continue;
            }
            let inner = flatten_once(doc, part, format!("{pointer}/allOf/{i}"), depth + 1, seen);
            flat.merge(inner);
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
        // `null` among the values is the nullable rule's business (3.0.3 lists it beside
        // `nullable: true`; 3.1 beside `type: [T, "null"]`).
        flat.nullable |= values.iter().any(Value::is_null);
        flat.values = Some(values.iter().filter(|v| !v.is_null()).collect());
        flat.closed = true;
    } else if let Some(values) = schema
        .get("x-known-values")
        .or_else(|| schema.get("x-extensible-enum"))
        .and_then(Value::as_array)
    {
        flat.values = Some(values.iter().collect());
        flat.closed = false;
        flat.extensible = schema.get("x-known-values").is_none();
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
        // A pattern that matches every string constrains nothing: read as none.
        flat.pattern = (!matches_everything(pattern)).then_some(pattern);
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
    flat.deprecated |= schema.get("deprecated") == Some(&Value::Bool(true));
    if let Some(level) = schema.get("x-stability-level").and_then(Value::as_str) {
        flat.stability = Some(level);
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
pub(super) type Alternative = BTreeMap<String, BTreeSet<String>>;

/// Whether a caller able to meet `have` meets `need` (its schemes and scopes are no more).
pub(super) fn satisfies(have: &Alternative, need: &Alternative) -> bool {
    need.iter()
        .all(|(scheme, scopes)| have.get(scheme).is_some_and(|h| h.is_superset(scopes)))
}

/// `request-max-length-narrowed`, ... (a static name per direction, keyword and way).
pub(super) fn rule_name(dir: &str, keyword: &str, narrowed: bool) -> &'static str {
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
pub(super) fn is_required(value: &Value) -> bool {
    value.get("required") == Some(&Value::Bool(true))
}

/// `required` or `optional`.
pub(super) fn word(required: bool) -> &'static str {
    if required { "required" } else { "optional" }
}

pub(super) fn show(value: &Value) -> String {
    match value {
        Value::String(s) => format!("`{s}`"),
        other => format!("`{other}`"),
    }
}

/// A branch: its schema and pointer.
type Branch<'a> = (&'a Value, String);

/// The branches of both sides by a key they share when they match: a `$ref` branch by the
/// schema it names; an inline one, by content: equal on both sides first, then the one branch of
/// a `type` on each side, then the rest in order. The key of an inline pair is its old
/// position (`#0`), of an unmatched inline branch its own position.
pub(super) fn match_branches<'v, 'b>(
    old: &'b [Branch<'v>],
    new: &'b [Branch<'v>],
) -> (
    BTreeMap<String, &'b Branch<'v>>,
    BTreeMap<String, &'b Branch<'v>>,
) {
    let named = |b: &Value| {
        b.get("$ref")
            .and_then(Value::as_str)
            .map(|r| r.rsplit('/').next().unwrap_or(r).to_string())
    };
    let (mut om, mut nm) = (BTreeMap::new(), BTreeMap::new());
    let mut olds: Vec<(usize, &Branch<'v>)> = Vec::new();
    let mut news: Vec<(usize, &Branch<'v>)> = Vec::new();
    for (i, b) in old.iter().enumerate() {
        match named(b.0) {
            Some(name) => drop(om.insert(name, b)),
            None => olds.push((i, b)),
        }
    }
    for (i, b) in new.iter().enumerate() {
        match named(b.0) {
            Some(name) => drop(nm.insert(name, b)),
            None => news.push((i, b)),
        }
    }
    let kind = |b: &Value| b.get("type").cloned();
    // Step 0: equal; 1: the one branch of its `type` on each side; 2: in order.
    let pairs = |step: usize,
                 o: &Value,
                 n: &Value,
                 os: &[(usize, &Branch<'v>)],
                 ns: &[(usize, &Branch<'v>)]| match step {
        0 => o == n,
        1 => {
            let k = kind(o);
            let one = |side: &[(usize, &Branch<'v>)]| {
                side.iter().filter(|b| kind(b.1.0) == k).count() == 1
            };
            k.is_some() && k == kind(n) && one(os) && one(ns)
        }
        _ => true,
    };
    for step in 0..3 {
        let mut i = 0;
        while i < olds.len() {
            let (oi, ob) = olds[i];
            let found = news
                .iter()
                .position(|(_, nb)| pairs(step, ob.0, nb.0, &olds, &news));
            match found {
                Some(j) => {
                    let (_, nb) = news.remove(j);
                    olds.remove(i);
                    om.insert(format!("#{oi}"), ob);
                    nm.insert(format!("#{oi}"), nb);
                }
                None => i += 1,
            }
        }
    }
    for (i, b) in olds {
        om.insert(format!("#{i}"), b);
    }
    for (i, b) in news {
        // Not the key of an old branch that matched elsewhere.
        let key = (i..)
            .map(|k| format!("#{k}"))
            .find(|k| !om.contains_key(k) && !nm.contains_key(k));
        nm.insert(key.unwrap_or_default(), b);
    }
    (om, nm)
}
