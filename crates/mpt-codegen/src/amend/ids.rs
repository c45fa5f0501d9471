//! Naming operations (the overrides, the published ids and the rule over a whole set), and the
//! amendments of one namespace.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Amendments, OperationIdRule, for_each_operation, rest_resource_id};
use crate::error::{Error, Result, escape_token};

impl Amendments {
    /// The amendments that apply to one module's fragments (`None`: the API tokens pages of
    /// `openapi/fragments/`): its overrides, patches, winners and replacements; every rule and
    /// generator setting applies to all.
    pub fn for_module(&self, module: Option<&str>) -> Amendments {
        let mine = |m: &Option<String>| m.as_deref() == module;
        let mut out = self.clone();
        out.operation_ids.overrides = match module {
            None => self.operation_ids.overrides.clone(),
            Some(m) => self
                .operation_ids
                .module_overrides
                .get(m)
                .cloned()
                .unwrap_or_default(),
        };
        out.patches.retain(|p| mine(&p.module));
        out.schema_winners.retain(|w| mine(&w.module));
        out.binary_answers.retain(|b| mine(&b.module));
        out.generator.replacements.retain(|r| mine(&r.module));
        out
    }

    /// The operationId for `method route` under the overrides and the rule.
    pub fn operation_id(&self, method: &str, route: &str) -> Option<String> {
        let key = format!("{} {route}", method.to_ascii_uppercase());
        if let Some(id) = self.operation_ids.overrides.get(&key) {
            return Some(id.clone());
        }
        match self.operation_ids.rule {
            OperationIdRule::RestResource => rest_resource_id(method, route),
        }
    }

    /// The operationIds of every operation of `operations`: an override, else the published id
    /// (`published`), else the naming rule over the whole set (so no two share one).
    pub fn operation_ids(
        &self,
        operations: &[(String, String)],
        published: &BTreeMap<(String, String), String>,
    ) -> BTreeMap<(String, String), String> {
        let key = |m: &str, r: &str| format!("{} {r}", m.to_ascii_uppercase());
        let mut fixed = BTreeMap::new();
        let mut free = Vec::new();
        for (m, r) in operations {
            let chosen = self
                .operation_ids
                .overrides
                .get(&key(m, r))
                .or_else(|| published.get(&(m.clone(), r.clone())));
            match chosen {
                Some(id) => {
                    fixed.insert((m.clone(), r.clone()), id.clone());
                }
                None => free.push((m.clone(), r.clone())),
            }
        }
        let taken = fixed.values().cloned().collect();
        let mut ids = match self.operation_ids.rule {
            OperationIdRule::RestResource => crate::naming::name_operations(&free, &taken),
        };
        ids.extend(fixed);
        ids
    }

    pub(super) fn apply_operation_ids(&self, doc: &mut Value) -> Result<()> {
        let mut operations = Vec::new();
        let mut published = BTreeMap::new();
        for_each_operation(doc, |method, route, op| {
            operations.push((method.to_string(), route.to_string()));
            if let Some(id) = op.get("operationId").and_then(Value::as_str) {
                published.insert((method.to_string(), route.to_string()), id.to_string());
            }
        });
        let ids = self.operation_ids(&operations, &published);
        let mut failure = None;
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for_each_operation(doc, |method, route, op| {
            let key = format!("{} {route}", method.to_ascii_uppercase());
            match ids.get(&(method.to_string(), route.to_string())).cloned() {
                Some(id) => {
                    if let Some(other) = seen.insert(id.clone(), key.clone()) {
                        failure.get_or_insert(format!(
                            "operationId {id:?} is given to both {other} and {key}; add an override"
                        ));
                    }
                    if let Some(obj) = op.as_object_mut() {
                        obj.insert("operationId".into(), Value::String(id));
                    }
                }
                None => {
                    failure.get_or_insert(format!(
                        "{key}: the naming rule gives no operationId; add an override"
                    ));
                }
            }
        });
        if let Some(message) = failure {
            return Err(Error::invalid(&self.path, "/operationIds", message));
        }
        // An override for an operation that does not exist would silently do nothing.
        for (key, id) in &self.operation_ids.overrides {
            let used = seen.get(id).is_some_and(|k| k == key);
            if !used {
                return Err(Error::invalid(
                    &self.path,
                    format!("/operationIds/overrides/{}", escape_token(key)),
                    format!(
                        "no fragment defines the operation {key}, so the override to {id:?} matches nothing"
                    ),
                ));
            }
        }
        Ok(())
    }
}
