//! Checks of create and update bodies, as the platform checks them: 400 problems whose
//! `errors` name the field.

use axum::body::Bytes;
use serde_json::Value;

use crate::problem::Problem;
use crate::store::{Caller, Store};

/// Parses a JSON object body, or a 400 naming the problem.
pub(super) fn object_body(body: &Bytes) -> Result<serde_json::Map<String, Value>, Problem> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Problem::validation(&[(
            "$",
            "The request body must be a JSON object.".into(),
        )])),
        Err(e) => Err(Problem::validation(&[(
            "$",
            format!("The request body is not valid JSON: {e}."),
        )])),
    }
}

pub(super) fn optional_string(
    map: &serde_json::Map<String, Value>,
    field: &'static str,
    errors: &mut Vec<(&'static str, String)>,
) -> Option<Option<String>> {
    match map.get(field) {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) => Some(Some(s.clone())),
        Some(_) => {
            errors.push((
                field,
                format!("The {field} field must be a string or null."),
            ));
            None
        }
    }
}

/// The non-empty `id`s of an array of `{"id": ...}` references, or `None` if any is missing.
pub(super) fn reference_ids(value: &Value) -> Option<Vec<String>> {
    value.as_array().and_then(|items| {
        items
            .iter()
            .map(|m| {
                m.get("id")
                    .and_then(Value::as_str)
                    .filter(|id| !id.is_empty())
                    .map(String::from)
            })
            .collect()
    })
}

pub(super) fn module_ids(
    map: &serde_json::Map<String, Value>,
    errors: &mut Vec<(&'static str, String)>,
) -> Option<Vec<String>> {
    match reference_ids(map.get("modules")?) {
        Some(ids) if !ids.is_empty() => Some(ids),
        _ => {
            errors.push((
                "modules",
                "At least one module reference ({\"id\": \"MOD-...\"}) is required, each with a non-empty id.".into(),
            ));
            None
        }
    }
}

/// The platform's name rule ([`mpt_api::rules::name_problem`]), as a field error.
pub(super) fn check_name(name: &str, errors: &mut Vec<(&'static str, String)>) {
    if let Some(why) = mpt_api::rules::name_problem(name) {
        errors.push(("name", format!("The name {why}.")));
    }
}

/// The platform's description rule ([`mpt_api::rules::description_problem`]), as a field error.
pub(super) fn check_description(description: &str, errors: &mut Vec<(&'static str, String)>) {
    if let Some(why) = mpt_api::rules::description_problem(description) {
        errors.push(("description", format!("The description holds {why}.")));
    }
}

/// The account must exist and be one the caller may make tokens in (another account is
/// answered as unknown, so its existence does not show); each module must be known and enabled
/// for the account (its default group).
pub(super) fn check_account(
    store: &Store,
    caller: &Caller,
    account_id: &str,
    modules: Option<&[String]>,
    errors: &mut Vec<(&'static str, String)>,
) {
    let account = store
        .account(account_id)
        .filter(|_| caller.may_use(account_id));
    let Some(account) = account else {
        errors.push(("account.id", format!("Account {account_id} was not found.")));
        return;
    };
    for module in modules.unwrap_or_default() {
        if !crate::KNOWN_MODULES.contains(&module.as_str()) {
            errors.push(("modules", format!("Module {module} does not exist.")));
        } else if !account.modules.contains(module) {
            errors.push((
                "modules",
                format!("Module {module} is not enabled for account {account_id}."),
            ));
        }
    }
}

/// `extensions`, when present, must be null or a list of `{"id": ...}` references.
pub(super) fn check_extensions(
    map: &serde_json::Map<String, Value>,
    errors: &mut Vec<(&'static str, String)>,
) {
    match map.get("extensions") {
        None | Some(Value::Null) => {}
        Some(v) if reference_ids(v).is_some() => {}
        Some(_) => errors.push((
            "extensions",
            "extensions must be null or a list of {\"id\": ...} references.".into(),
        )),
    }
}
