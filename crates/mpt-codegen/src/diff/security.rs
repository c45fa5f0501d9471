//! Security: requirements as OR-lists of AND-sets of schemes with scopes, judged against the
//! alternative the SDK uses (bearer), and the schemes themselves.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::error::escape_token;

use super::flat::{Alternative, satisfies};
use super::model::Level;
use super::ops::Operation;
use super::walk::Walk;

impl Walk<'_> {
    /// The security requirements in force for an operation (its own, or the document's): the
    /// alternatives (any one suffices), each a set of schemes with their scopes (all needed).
    /// `None` when nothing is required.
    pub(super) fn requirements<'d>(
        doc: &'d Value,
        op: &Operation<'d>,
    ) -> (Option<Vec<Alternative>>, String) {
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
    pub(super) fn sdk_schemes(&self) -> BTreeSet<String> {
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

    pub(super) fn security(&mut self, old: &Operation<'_>, new: &Operation<'_>) {
        let (olds, oat) = Self::requirements(self.old, old);
        let (news, nat) = Self::requirements(self.new, new);
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
        let at = (oat.as_str(), nat.as_str());
        self.alternatives_lost(&olds, &news, at, &show);
        self.alternatives_gained(&olds, &news, at, &show);
    }

    /// Each old alternative no new one satisfies: removed, tightened or given a scope.
    fn alternatives_lost(
        &mut self,
        olds: &[Alternative],
        news: &[Alternative],
        (oat, nat): (&str, &str),
        show: &dyn Fn(&Alternative) -> String,
    ) {
        let sdk = self.sdk_schemes();
        for alt in olds {
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
                Some(b) => {
                    let (rule, level) = if b.keys().eq(alt.keys()) {
                        ("security-scope-added", Level::Breaking)
                    } else {
                        ("security-alternative-tightened", level)
                    };
                    self.push(
                        rule,
                        level,
                        format!(
                            "security alternative `{}` now needs `{}`",
                            show(alt),
                            show(b)
                        ),
                        Some(oat),
                        Some(nat),
                    )
                }
                None => {
                    self.push(
                        "security-alternative-removed",
                        level,
                        format!("security alternative `{}` removed", show(alt)),
                        Some(oat),
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
    }

    /// Each new alternative: added, or an old one with fewer scopes.
    fn alternatives_gained(
        &mut self,
        olds: &[Alternative],
        news: &[Alternative],
        (oat, nat): (&str, &str),
        show: &dyn Fn(&Alternative) -> String,
    ) {
        for alt in news {
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
                    Some(oat),
                    Some(nat),
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
                Some(nat),
            );
        }
    }

    pub(super) fn security_schemes(&mut self) {
        let empty = serde_json::Map::new();
        let schemes = |doc: &Value| {
            doc.pointer("/components/securitySchemes")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_else(|| empty.clone())
        };
        let (olds, news) = (schemes(self.old), schemes(self.new));
        let sdk = self.sdk_schemes();
        let required_new = required_schemes(self.new);
        for (name, o) in &olds {
            let at = format!("/components/securitySchemes/{}", escape_token(name));
            let level = if sdk.contains(name) {
                Level::Breaking
            } else {
                Level::NonBreaking
            };
            match news.get(name) {
                // Removed with every requirement that used it: the server stops asking for
                // these credentials (each operation's requirement change is judged on its own).
                None if !required_new.contains(name.as_str()) => {
                    self.push(
                        "security-scheme-removed",
                        Level::NonBreaking,
                        format!("security scheme `{name}` removed, and no requirement uses it"),
                        Some(&at),
                        None,
                    );
                    self.note(
                        "the credentials the SDK sends are no longer asked for, and are harmless",
                    );
                }
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
}

/// The names of the schemes some requirement of `doc` names (the document's own, or any
/// operation's).
fn required_schemes(doc: &Value) -> BTreeSet<&str> {
    fn add<'d>(names: &mut BTreeSet<&'d str>, list: Option<&'d Value>) {
        for alt in list.and_then(Value::as_array).into_iter().flatten() {
            names.extend(
                alt.as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k.as_str()),
            );
        }
    }
    let mut names = BTreeSet::new();
    add(&mut names, doc.get("security"));
    for item in doc
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(_, item)| item.as_object())
    {
        for (_, op) in item {
            add(&mut names, op.get("security"));
        }
    }
    names
}
