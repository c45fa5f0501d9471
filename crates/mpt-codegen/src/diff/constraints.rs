//! The rules on a schema's constraints (bounds, pattern, uniqueItems, an enum appearing,
//! default, readOnly/writeOnly) and on its `oneOf`/`anyOf` branches.

use serde_json::Value;

use super::flat::{BOUNDS, Bound, Flat, match_branches, narrower, rule_name, show};
use super::model::{Direction, Level};
use super::walk::Walk;

impl Walk<'_> {
    /// Bounds, `pattern`, `uniqueItems`, an `enum` appearing, `default`, `readOnly` and
    /// `writeOnly`. A request breaks when the server accepts fewer values than the SDK may send;
    /// a response breaks when the server may send values the generated types refuse (they check
    /// string lengths; patterns are dropped with `generator.dropPatterns`; item counts and
    /// numbers are not checked on decode, though a number's type may follow its bounds).
    pub(super) fn constraints(
        &mut self,
        o: &Flat<'_>,
        n: &Flat<'_>,
        (direction, optional): (Direction, bool),
        label: &str,
        oat: Option<&str>,
        nat: Option<&str>,
    ) {
        self.bounds(o, n, direction, label, oat, nat);
        self.pattern(o, n, direction, label, oat, nat);
        self.uniqueness_enum_and_default(o, n, direction, label, oat, nat);
        self.read_write_only(o, n, (direction, optional), label, oat, nat);
    }

    /// Length, number and item-count bounds, narrowed or widened.
    fn bounds(
        &mut self,
        o: &Flat<'_>,
        n: &Flat<'_>,
        direction: Direction,
        label: &str,
        oat: Option<&str>,
        nat: Option<&str>,
    ) {
        let dir = direction.pick("request", "response");
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
    }

    /// A `pattern` added, changed or removed.
    fn pattern(
        &mut self,
        o: &Flat<'_>,
        n: &Flat<'_>,
        direction: Direction,
        label: &str,
        oat: Option<&str>,
        nat: Option<&str>,
    ) {
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
    }

    /// `uniqueItems`, an `enum` appearing, and `default`.
    fn uniqueness_enum_and_default(
        &mut self,
        o: &Flat<'_>,
        n: &Flat<'_>,
        direction: Direction,
        label: &str,
        oat: Option<&str>,
        nat: Option<&str>,
    ) {
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
                direction.pick(
                    "request-property-became-enum",
                    "response-property-became-enum",
                ),
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
    }

    /// `readOnly` and `writeOnly` turned on or off.
    fn read_write_only(
        &mut self,
        o: &Flat<'_>,
        n: &Flat<'_>,
        (direction, optional): (Direction, bool),
        label: &str,
        oat: Option<&str>,
        nat: Option<&str>,
    ) {
        for (was, is, what, breaks_in) in [
            (o.read_only, n.read_only, "readOnly", Direction::Request),
            (o.write_only, n.write_only, "writeOnly", Direction::Response),
        ] {
            if was == is {
                continue;
            }
            // A writeOnly response field is no longer returned: an optional one is an `Option`
            // in the generated types already, and decodes as `None` (oasdiff: INFO).
            let absent_is_none = what == "writeOnly" && optional;
            let level = match (is, direction == breaks_in) {
                (true, true) if what == "readOnly" => Level::PotentiallyBreaking,
                (true, true) if absent_is_none => Level::NonBreaking,
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
            if is && absent_is_none && direction == breaks_in {
                self.note("an optional field is an `Option` in the generated types: no longer returned, it decodes as `None`");
            }
        }
    }

    /// The discriminator: its property renamed breaks; added or removed it does not (the same
    /// values go over the wire, the branches decide them); its mapping is judged like branches.
    fn discriminator(
        &mut self,
        o: &Flat<'_>,
        n: &Flat<'_>,
        direction: Direction,
        label: &str,
        oat: Option<&str>,
        nat: Option<&str>,
    ) {
        let property = |d: Option<&Value>| d.and_then(|d| d.get("propertyName")).cloned();
        match (property(o.discriminator), property(n.discriminator)) {
            (Some(a), Some(b)) if a != b => self.push(
                "discriminator-changed",
                Level::Breaking,
                format!(
                    "{label}: the discriminator property changed from {} to {}",
                    show(&a),
                    show(&b)
                ),
                oat,
                nat,
            ),
            (None, Some(b)) => self.push(
                "discriminator-added",
                Level::NonBreaking,
                format!(
                    "{label}: discriminator {} added (the branches are unchanged)",
                    show(&b)
                ),
                oat,
                nat,
            ),
            (Some(a), None) => self.push(
                "discriminator-removed",
                Level::NonBreaking,
                format!(
                    "{label}: discriminator {} removed (the branches are unchanged)",
                    show(&a)
                ),
                oat,
                nat,
            ),
            _ => self.mapping(o, n, direction, label, (oat, nat)),
        }
    }

    /// A discriminator's `mapping`: a value naming another schema breaks; a value added breaks
    /// what the client reads (the generated enum cannot decode it), one removed breaks what it
    /// sends.
    fn mapping(
        &mut self,
        o: &Flat<'_>,
        n: &Flat<'_>,
        direction: Direction,
        label: &str,
        (oat, nat): (Option<&str>, Option<&str>),
    ) {
        let empty = serde_json::Map::new();
        let of = |f: &Flat<'_>| {
            f.discriminator
                .and_then(|d| d.get("mapping"))
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_else(|| empty.clone())
        };
        let (om, nm) = (of(o), of(n));
        for (value, target) in &om {
            match nm.get(value) {
                Some(t) if mapped(t) != mapped(target) => self.push(
                    "discriminator-mapping-changed",
                    Level::Breaking,
                    format!(
                        "{label}: discriminator value `{value}` now maps to {}",
                        show(t)
                    ),
                    oat,
                    nat,
                ),
                Some(_) => {}
                None => self.push(
                    direction.pick(
                        "request-discriminator-mapping-removed",
                        "response-discriminator-mapping-removed",
                    ),
                    direction.pick(Level::Breaking, Level::NonBreaking),
                    format!("{label}: discriminator value `{value}` removed"),
                    oat,
                    nat,
                ),
            }
        }
        for value in nm.keys().filter(|v| !om.contains_key(*v)) {
            self.push(
                direction.pick(
                    "request-discriminator-mapping-added",
                    "response-discriminator-mapping-added",
                ),
                direction.pick(Level::NonBreaking, Level::Breaking),
                format!("{label}: discriminator value `{value}` added"),
                oat,
                nat,
            );
        }
    }

    /// `oneOf`/`anyOf` branches (matched by the schema they name, inline ones by content: see
    /// [`match_branches`]) and the discriminator. A new branch breaks a response (the generated enum cannot decode it); a
    /// removed one breaks a request.
    pub(super) fn branches(
        &mut self,
        o: &Flat<'_>,
        n: &Flat<'_>,
        direction: Direction,
        label: &str,
        oat: Option<&str>,
        nat: Option<&str>,
    ) {
        self.discriminator(o, n, direction, label, oat, nat);
        let empty = Vec::new();
        let (okind, obranches) = o.branches.as_ref().map_or(("", &empty), |(k, b)| (*k, b));
        let (nkind, nbranches) = n.branches.as_ref().map_or(("", &empty), |(k, b)| (*k, b));
        if obranches.is_empty() && nbranches.is_empty() {
            return;
        }
        let (onamed, nnamed) = match_branches(obranches, nbranches);
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
                    direction.pick("request-branch-removed", "response-branch-removed"),
                    direction.pick(Level::Breaking, Level::NonBreaking),
                    format!("{label}: {kind} branch `{key}` removed"),
                    Some(obat),
                    nat,
                ),
            }
        }
        for (key, (_, nbat)) in nnamed.iter().filter(|(k, _)| !onamed.contains_key(*k)) {
            self.push(
                direction.pick("request-branch-added", "response-branch-added"),
                direction.pick(Level::NonBreaking, Level::Breaking),
                format!("{label}: {kind} branch `{key}` added"),
                oat,
                Some(nbat),
            );
        }
    }
}

/// A discriminator mapping's target as a reference: a schema name (`Cat`) is
/// `#/components/schemas/Cat`, as the specification reads it.
fn mapped(target: &Value) -> String {
    match target.as_str() {
        Some(name) if !name.contains('/') && !name.starts_with('#') => {
            format!("#/components/schemas/{name}")
        }
        Some(reference) => reference.to_string(),
        None => target.to_string(),
    }
}
