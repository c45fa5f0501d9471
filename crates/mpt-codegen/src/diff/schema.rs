//! Schemas, compared in the direction the data flows: type, format, nullable, enums, bounds,
//! patterns, defaults, readOnly/writeOnly, oneOf/anyOf branches and properties.

use serde_json::Value;

use super::flat::{Flat, MAX_DEPTH, flatten, resolve, show, word};
use super::model::{Direction, Level, NotJudged};
use super::walk::Walk;

impl Walk<'_> {
    /// Compares two schemas, read in `direction`; `label` says where they are.
    pub(super) fn schema(
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
    /// Schemas nested deeper than [`MAX_DEPTH`] are not compared: reported as not judged.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn schema_in(
        &mut self,
        old: &Value,
        old_at: String,
        new: &Value,
        new_at: String,
        direction: Direction,
        label: &str,
        optional: bool,
    ) {
        if self.depth >= MAX_DEPTH {
            self.too_deep(&new_at);
            return;
        }
        self.depth += 1;
        self.schema_pair(old, old_at, new, new_at, (direction, optional), label);
        self.depth -= 1;
    }

    /// Records that the schemas at `pointer` (in the new document) were not compared, being
    /// past the depth bound.
    pub(super) fn too_deep(&mut self, pointer: &str) {
        if self.not_judged.iter().all(|n| n.pointer != pointer) {
            self.not_judged.push(NotJudged {
                pointer: pointer.to_string(),
                keyword: "(nesting)".to_string(),
                how: "too deep to compare",
            });
        }
    }

    fn schema_pair(
        &mut self,
        old: &Value,
        old_at: String,
        new: &Value,
        new_at: String,
        (direction, optional): (Direction, bool),
        label: &str,
    ) {
        // Changes point at where each schema lives, after its `$ref`s.
        let (os, oat) = resolve(self.old, old, old_at.clone());
        let (ns, nat) = resolve(self.new, new, new_at.clone());
        if !self
            .visited
            .insert((oat.clone(), nat.clone(), direction, optional))
        {
            return;
        }
        self.unread_keywords(os, ns, (&oat, &nat));
        let o = flatten(self.old, old, old_at, 0);
        let n = flatten(self.new, new, new_at, 0);
        if let Some(at) = o.too_deep.as_deref().or(n.too_deep.as_deref()) {
            self.too_deep(at);
        }
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
        self.format(&o, &n, direction, label, op_, np);
        let (o_null, n_null) = (o.accepts_null(), n.accepts_null());
        if o_null != n_null {
            // An optional response field is an `Option` in the generated types already: a null
            // decodes as `None`.
            let absorbed = direction == Direction::Response && optional;
            let breaking = direction.pick(o_null, n_null && !absorbed);
            self.push(
                if n_null {
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
                    if n_null {
                        "may now be null"
                    } else {
                        "may no longer be null"
                    }
                ),
                op_,
                np,
            );
            if absorbed && n_null {
                self.note("an optional field is an `Option` in the generated types: null decodes as `None`");
            }
        }
        if o.deprecated != n.deprecated {
            let rule = match (direction, n.deprecated) {
                (Direction::Request, true) => "request-property-deprecated",
                (Direction::Request, false) => "request-property-reactivated",
                (Direction::Response, true) => "response-property-deprecated",
                (Direction::Response, false) => "response-property-reactivated",
            };
            let how = if n.deprecated {
                "deprecated"
            } else {
                "no longer deprecated"
            };
            self.push(rule, Level::NonBreaking, format!("{label}: {how}"), op_, np);
        }
        self.property_stability(&o, &n, direction, label, (op_, np));
        self.enum_values(&o, &n, direction, label, op_, np);
        self.constraints(&o, &n, (direction, optional), label, op_, np);
        self.branches(&o, &n, direction, label, op_, np);
        self.properties(&o, &n, direction, label);
        if let (Some((oi, oiat)), Some((ni, niat))) = (o.items, n.items) {
            self.schema(oi, oiat, ni, niat, direction, &format!("{label}[]"));
        }
        if let (Some((oa, oaat)), Some((na, naat))) = (o.additional, n.additional) {
            self.schema(oa, oaat, na, naat, direction, &format!("{label}{{*}}"));
        }
    }

    /// A `format` changed (an integer or float widened in a request is harmless).
    fn format(
        &mut self,
        o: &Flat<'_>,
        n: &Flat<'_>,
        direction: Direction,
        label: &str,
        op_: Option<&str>,
        np: Option<&str>,
    ) {
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
    }

    pub(super) fn enum_values(
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
                direction.pick("request-enum-value-added", "response-enum-value-added"),
                level,
                format!("{label}: enum value {} added", show(value)),
                oat,
                nat,
            );
            if let Some(note) = note {
                self.note(note);
            }
        }
        let removed = if o.extensible {
            "request-extensible-enum-value-removed"
        } else {
            "request-enum-value-removed"
        };
        for value in ov.iter().filter(|v| !nv.contains(v)) {
            self.push(
                direction.pick(removed, "response-enum-value-removed"),
                direction.pick(Level::Breaking, Level::NonBreaking),
                format!("{label}: enum value {} removed", show(value)),
                oat,
                nat,
            );
        }
    }

    pub(super) fn properties(
        &mut self,
        o: &Flat<'_>,
        n: &Flat<'_>,
        direction: Direction,
        label: &str,
    ) {
        self.properties_removed(o, n, direction, label);
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
                let breaking = direction.pick(is, was);
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
            let place = self.place;
            self.place = place.inside();
            self.schema_in(
                op_,
                oat.clone(),
                np,
                nat.clone(),
                direction,
                &format!("{label}.{name}"),
                !is,
            );
            self.place = place;
        }
    }

    /// The properties of `o` that `n` no longer has.
    fn properties_removed(
        &mut self,
        o: &Flat<'_>,
        n: &Flat<'_>,
        direction: Direction,
        label: &str,
    ) {
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
    }

    /// 3.0 keywords no rule reads (`not`, `multipleOf`, `minProperties`, `maxProperties`), and
    /// a map's value schema (`additionalProperties`) lost or gained, that differ between the
    /// two schemas: listed as not judged, with the pointer.
    fn unread_keywords(&mut self, os: &Value, ns: &Value, (oat, nat): (&str, &str)) {
        const UNREAD: [&str; 4] = ["not", "multipleOf", "minProperties", "maxProperties"];
        fn map(s: &Value) -> Option<&Value> {
            s.get("additionalProperties").filter(|v| v.is_object())
        }
        for keyword in UNREAD {
            let how = match (os.get(keyword), ns.get(keyword)) {
                (None, Some(_)) => "added",
                (Some(_), None) => "removed",
                (Some(a), Some(b)) if a != b => "changed",
                _ => continue,
            };
            let at = if how == "removed" { oat } else { nat };
            self.unread(&format!("{at}/{keyword}"), how);
        }
        match (map(os), map(ns)) {
            (Some(_), None) => self.unread(&format!("{oat}/additionalProperties"), "removed"),
            (None, Some(_)) if ns.get("properties").is_none() => {
                self.unread(&format!("{nat}/additionalProperties"), "added")
            }
            _ => {}
        }
    }

    /// Lists the keyword at `pointer` as not judged (once).
    fn unread(&mut self, pointer: &str, how: &'static str) {
        if self.not_judged.iter().all(|n| n.pointer != pointer) {
            self.not_judged.push(NotJudged::at(pointer, how));
        }
    }
}
