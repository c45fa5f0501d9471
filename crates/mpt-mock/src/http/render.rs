//! A token as the platform writes it (null fields and unasked `audit` left out), and the
//! unknown fields and enum values a fault can add.

use chrono::{DateTime, Utc};
use mpt_api::types::{
    AccountRef, AccountStatus, AccountType, ApiToken, ApiTokenStatus, ModuleRef,
    PlatformIdentityRef, PlatformObjectAudit, PlatformObjectEvent,
};
use serde_json::{Value, json};

use crate::rql::Select;
use crate::store::{Actor, Store, Token};

/// The token as the merged spec's `ApiToken`, as JSON, as the platform writes it: `description`,
/// `icon` and `extensions` left out when null, `audit` only when `select` asks for it, and
/// without the fields `select` omits.
pub(crate) fn render(store: &Store, token: &Token, with_secret: bool, select: &Select) -> Value {
    let account = store.account(&token.account_id);
    let event = |at: DateTime<Utc>, by: &Actor| PlatformObjectEvent {
        at: Some(at),
        by: Some(PlatformIdentityRef {
            id: Some(by.id.clone()),
            name: Some(by.name.clone()),
            ..Default::default()
        }),
    };
    let api = ApiToken {
        id: Some(token.id.clone()),
        name: Some(token.name.clone()),
        description: token.description.clone(),
        icon: token.icon.clone(),
        status: Some(ApiTokenStatus(token.status.as_str().to_string())),
        revision: Some(token.revision),
        last_access_at: token.last_access_at,
        token: with_secret.then(|| mpt_api::TokenSecret::new(token.secret.clone())),
        account: Some(AccountRef {
            id: Some(token.account_id.clone()),
            name: account.map(|a| a.name.clone()),
            type_: account.map(|a| AccountType(a.kind.clone())),
            status: Some(AccountStatus("Active".into())),
            ..Default::default()
        }),
        modules: token
            .modules
            .iter()
            .map(|id| ModuleRef {
                id: Some(id.clone()),
                ..Default::default()
            })
            .collect(),
        audit: select.audit().then(|| PlatformObjectAudit {
            created: Some(event(token.created.0, &token.created.1)),
            updated: token.updated.as_ref().map(|(at, by)| event(*at, by)),
        }),
        meta: None,
        extensions: None,
        extra: Default::default(),
    };
    let mut value = serde_json::to_value(api).unwrap_or(Value::Null);
    if let Some(obj) = value.as_object_mut() {
        obj.retain(|_, v| !v.is_null());
        for field in &select.omit {
            obj.remove(field);
        }
    }
    value
}

pub(super) fn decorate_body(body: &mut Value, unknown_fields: bool, unknown_enums: bool) {
    if !(unknown_fields || unknown_enums) {
        return;
    }
    let decorate_token = |t: &mut Value| {
        let id = t
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if unknown_fields {
            t["href"] = json!(format!("/accounts/api-tokens/{id}"));
            t["x-mock-extra"] = json!({"nested": [1, 2, 3], "flag": true});
            if let Some(account) = t.get_mut("account").filter(|a| a.is_object()) {
                account["href"] = json!("/accounts/accounts/unknown");
            }
        }
        if unknown_enums && let Some(account) = t.get_mut("account").filter(|a| a.is_object()) {
            account["type"] = json!("Development");
            account["status"] = json!("Frozen");
        }
    };
    match body.get_mut("data").and_then(Value::as_array_mut) {
        Some(items) => {
            items.iter_mut().for_each(decorate_token);
            if unknown_fields {
                body["$meta"]["x-mock-extra"] = json!("unknown list metadata");
            }
        }
        None => decorate_token(body),
    }
}
