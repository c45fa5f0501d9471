//! The walk over two documents: operations, parameters, request bodies, media types,
//! responses and their headers. Schemas are compared in `schema.rs`, security in
//! `security.rs`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::flat::{is_required, resolve, word};
use super::model::{Change, Direction, Level, Place, Tolerance};
use super::moves::{Key, Move, path_moves};
use super::ops::{Operation, operations};

pub(super) struct Walk<'a> {
    pub(super) old: &'a Value,
    pub(super) new: &'a Value,
    pub(super) tolerance: Tolerance,
    pub(super) changes: Vec<Change>,
    /// The operation being compared, for the changes found.
    pub(super) operation: Option<String>,
    /// Schema pairs already compared under the current operation, with the direction they
    /// were read in and whether the place that reached them was optional (cycles end here; a
    /// schema shared by a request and a response, or by a required and an optional property,
    /// is compared once each way).
    pub(super) visited: BTreeSet<(String, String, Direction, bool)>,
    /// The last change pushed was merged into an earlier one.
    pub(super) last_merged: bool,
    /// Where the changes found now are (request parameter, body, property, response, …).
    pub(super) place: Place,
    /// The old operation of a move being compared, for the move's change.
    pub(super) moved_from: Option<String>,
    /// How deep the schema comparison is now.
    pub(super) depth: usize,
    /// What no rule read: schemas past the depth bound.
    pub(super) not_judged: Vec<super::model::NotJudged>,
}

impl Walk<'_> {
    pub(super) fn push(
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
            let same = self.changes.iter_mut().find(|c| {
                c.rule == rule
                        && c.level == level
                        && c.old == old
                        && c.new == new
                        // The same oasdiff id: a place that names it apart is another change.
                        && super::oasdiff_id(rule, c.place) == super::oasdiff_id(rule, self.place)
            });
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
            place: self.place,
            moved_from: self.moved_from.take(),
        });
    }

    /// Notes why the change just pushed has its level (nothing when it was merged into an
    /// earlier one, which has the note already).
    pub(super) fn note(&mut self, note: &str) {
        if self.last_merged {
            return;
        }
        if let Some(last) = self.changes.last_mut() {
            last.note = Some(note.to_string());
        }
    }

    pub(super) fn operations(&mut self) {
        let (old_ops, new_ops) = (operations(self.old), operations(self.new));
        // An operation whose operationId moved to another method or path.
        let mut moved: BTreeMap<Key, Move> = BTreeMap::new();
        for (key, op) in &old_ops {
            if new_ops.contains_key(key) {
                continue;
            }
            let Some(id) = op.id() else { continue };
            let target = new_ops
                .iter()
                .find(|(k, n)| !old_ops.contains_key(*k) && n.id() == Some(id));
            if let Some((new_key, _)) = target {
                let to = new_key.clone();
                moved.insert(key.clone(), Move { to, twin: false });
            }
        }
        // Else one whose path gained or lost a module prefix, or an alias whose twin remains.
        let claimed: BTreeSet<Key> = moved.values().map(|m| m.to.clone()).collect();
        let removed: Vec<&Key> = old_ops
            .keys()
            .filter(|k| !new_ops.contains_key(*k) && !moved.contains_key(*k))
            .collect();
        for (from, m) in path_moves(&removed, &old_ops, &new_ops) {
            if m.twin || !claimed.contains(&m.to) {
                moved.insert(from, m);
            }
        }
        let moved_to: BTreeSet<&Key> = moved.values().map(|m| &m.to).collect();
        for (key, old_op) in &old_ops {
            match (new_ops.get(key), moved.get(key)) {
                (Some(new_op), _) => self.operation_pair(old_op, new_op),
                (None, Some(m)) => self.moved(old_op, &new_ops[&m.to], m.twin),
                (None, None) => self.operation_removed(old_op),
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

    /// An operation that moved to another method or path (breaking: the client calls the old
    /// one); one that moved to a new place is compared with it, an alias whose twin remains is
    /// not (the twin is compared with its own old definition).
    fn moved(&mut self, old_op: &Operation<'_>, new_op: &Operation<'_>, twin: bool) {
        self.operation = Some(new_op.name());
        let message = match (twin, old_op.id()) {
            (true, _) => format!(
                "operation {} removed; the same operation remains at {} (its callers move there)",
                old_op.name(),
                new_op.name()
            ),
            (false, Some(id)) if new_op.id() == Some(id) => format!(
                "operation {id} moved from {} to {}",
                old_op.name(),
                new_op.name()
            ),
            (false, _) => format!(
                "operation {} moved to {} (its path gained or lost a module prefix)",
                old_op.name(),
                new_op.name()
            ),
        };
        let was_deprecated = old_op.op.get("deprecated") == Some(&Value::Bool(true));
        let message = if was_deprecated {
            format!("{message}; it was deprecated")
        } else {
            message
        };
        // oasdiff reports a removal at the old path: with or without deprecation.
        let rule = if was_deprecated {
            "operation-moved-after-deprecation"
        } else {
            "operation-method-or-path-changed"
        };
        let from = self.changes.len();
        self.moved_from = Some(old_op.name());
        self.push(
            rule,
            Level::Breaking,
            message,
            Some(&old_op.pointer),
            Some(&new_op.pointer),
        );
        // A draft or alpha operation is free to move, as it is free to go.
        self.free_changes_since(old_op.op, from, &new_op.name());
        if !twin {
            self.operation_pair(old_op, new_op);
        }
    }

    pub(super) fn operation_pair(&mut self, old: &Operation<'_>, new: &Operation<'_>) {
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
        let from = self.changes.len();
        self.operation_lifecycle(old, new);
        self.place = Place::Parameter;
        self.parameters(old, new);
        self.place = Place::RequestBody;
        self.request_body(old, new);
        self.place = Place::ResponseBody;
        self.responses(old, new);
        self.place = Place::Operation;
        self.security(old, new);
        self.free_changes_since(old.op, from, &new.name());
    }

    /// Path-level and operation-level parameters, by `(in, name)`.
    pub(super) fn parameters_of<'d>(
        doc: &'d Value,
        op: &Operation<'d>,
    ) -> BTreeMap<(String, String), (&'d Value, String)> {
        let mut out = BTreeMap::new();
        for (list, base) in [
            (
                op.item.get("parameters"),
                format!("{}/parameters", op.item_at),
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

    pub(super) fn parameters(&mut self, old: &Operation<'_>, new: &Operation<'_>) {
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
            let label = format!("{} parameter `{}`", key.0, key.1);
            let rules = [
                "parameter-deprecated",
                "parameter-deprecated",
                "parameter-reactivated",
            ];
            let (od, nd) = (format!("{oat}/deprecated"), format!("{nat}/deprecated"));
            self.deprecation(op_, np, (&label, rules), (&od, &nd), true);
            if let (Some(os), Some(ns)) = (op_.get("schema"), np.get("schema")) {
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
}
