//! Who is calling: the admin secret (an Operations account's) or an Active token's secret.

use axum::http::{HeaderMap, header};
use chrono::{DateTime, Utc};

use crate::problem::Problem;
use crate::store::{Actor, Caller, Status, Store};

/// The admin caller's identity in audit records.
pub(super) fn admin_actor() -> Actor {
    Actor {
        id: "USR-0000-0000".into(),
        name: "Mock administrator".into(),
    }
}

pub(super) fn authenticate(
    store: &mut Store,
    admin: &str,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Result<Caller, Problem> {
    let secret = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(|| {
            Problem::unauthorized("An `Authorization: Bearer <API token>` header is required.")
        })?;
    if secret == admin {
        // The admin secret is an Operations account's.
        return Ok(Caller {
            actor: admin_actor(),
            account_id: crate::OPERATIONS_ACCOUNT.into(),
            operations: true,
        });
    }
    let (id, name, status, account_id) = match store.by_secret(secret) {
        Some(t) => (
            t.id.clone(),
            t.name.clone(),
            t.status.clone(),
            t.account_id.clone(),
        ),
        None => return Err(Problem::unauthorized("The API token is not valid.")),
    };
    match status {
        Status::Active => {
            store.touch(&id, now);
            let operations = store
                .account(&account_id)
                .is_some_and(|a| a.is_operations());
            Ok(Caller {
                actor: Actor { id, name },
                account_id,
                operations,
            })
        }
        other => Err(Problem::unauthorized(format!(
            "API token {id} is {}.",
            other.as_str()
        ))),
    }
}
