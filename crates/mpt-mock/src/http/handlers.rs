//! The seven operations' handlers.

use std::future::Future;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use mpt_api::types::PlatformMetadata;
use serde_json::{Value, json};

use super::render::render;
use super::validate::{
    check_account, check_description, check_extensions, check_name, module_ids, object_body,
    optional_string,
};
use super::{ConnectionKill, Handling, Reply, Shared, lock};
use crate::faults::Operation;
use crate::problem::Problem;
use crate::rql::{DEFAULT_LIMIT, ListQuery, Select, parse_select};
use crate::store::{Caller, Delta, NewToken, Status, Store, Switch, Token};

pub(super) fn call(
    shared: Arc<Shared>,
    op: Operation,
    token_id: Option<&str>,
    headers: HeaderMap,
    kill: Option<axum::Extension<ConnectionKill>>,
) -> Handling {
    Handling {
        shared,
        op,
        token_id: token_id.map(String::from),
        headers,
        kill: kill.map(|k| k.0),
    }
}

pub(super) type Kill = Option<axum::Extension<ConnectionKill>>;

pub(super) async fn list(
    State(s): State<Arc<Shared>>,
    kill: Kill,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    call(s, Operation::List, None, headers, kill)
        .run(move |store, caller, _| {
            let q = ListQuery::parse(query.as_deref())?;
            // Deleted tokens: only Operations accounts see them, and a list shows them only when
            // its filter asks for that status by name.
            let deleted = q.asks_for_deleted();
            let visible = |t: &&Token| {
                caller.sees(t) && (t.status != Status::Deleted || deleted) && q.matches(t)
            };
            let mut matched: Vec<&Token> = match q.named_ids() {
                // Named ids are looked up by index (in creation order, as a full scan lists them).
                Some(ids) => {
                    let mut found: Vec<&Token> =
                        ids.iter().filter_map(|id| store.get(id)).collect();
                    found.sort_by_key(|t| t.seq);
                    found.dedup_by_key(|t| t.seq);
                    found.into_iter().filter(visible).collect()
                }
                None => store.all().filter(visible).collect(),
            };
            q.sort(&mut matched, |id| store.account(id).map(|a| a.name.clone()));
            let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
            let data: Vec<Value> = matched
                .iter()
                .skip(q.offset)
                .take(limit)
                .map(|t| render(store, t, true, &q.select))
                .collect();
            let mut meta =
                json!({"pagination": {"offset": q.offset, "limit": limit, "total": matched.len()}});
            if !q.select.omit.is_empty() {
                meta["omitted"] = json!(q.select.omit);
            }
            Ok(Reply::Json(
                StatusCode::OK,
                json!({"$meta": meta, "data": data}),
            ))
        })
        .await
}

pub(super) async fn get_one(
    State(s): State<Arc<Shared>>,
    kill: Kill,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    call(s, Operation::Get, Some(&id), headers, kill)
        .run(move |store, caller, _| {
            let mut select = Select::default();
            for part in query
                .as_deref()
                .unwrap_or("")
                .split('&')
                .filter(|p| !p.is_empty())
            {
                match part.split_once('=') {
                    Some(("select", v)) => {
                        let v = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
                        select = parse_select(&v)?;
                    }
                    _ => {
                        return Err(Problem::query(
                            format!("Unsupported query parameter '{part}'."),
                            &[],
                        ));
                    }
                }
            }
            let token = store.visible(&id, caller)?;
            let mut body = render(store, token, true, &select);
            if !select.omit.is_empty() {
                body["$meta"] = serde_json::to_value(PlatformMetadata {
                    omitted: select.omit,
                })
                .unwrap_or_default();
            }
            Ok(Reply::Json(StatusCode::OK, body))
        })
        .await
}

/// The token `id`, rendered as the answer with `status`.
pub(super) fn token_reply(
    store: &Store,
    id: &str,
    caller: &Caller,
    status: StatusCode,
    with_secret: bool,
) -> Result<Reply, Problem> {
    let token = store.visible(id, caller)?;
    Ok(Reply::Json(
        status,
        render(store, token, with_secret, &Select::default()),
    ))
}

pub(super) async fn create(
    State(s): State<Arc<Shared>>,
    kill: Kill,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    call(s, Operation::Create, None, headers, kill)
        .run(move |store, caller, now| {
            let map = object_body(&body)?;
            let mut errors = Vec::new();
            let name = match map.get("name").and_then(Value::as_str) {
                Some(n) if !n.is_empty() => {
                    check_name(n, &mut errors);
                    n.to_string()
                }
                _ => {
                    errors.push(("name", "The name field is required.".to_string()));
                    String::new()
                }
            };
            let account_id = match map
                .get("account")
                .and_then(|a| a.get("id"))
                .and_then(Value::as_str)
            {
                Some(id) if !id.is_empty() => id.to_string(),
                _ => {
                    errors.push((
                        "account.id",
                        "The account reference is required.".to_string(),
                    ));
                    String::new()
                }
            };
            let description = optional_string(&map, "description", &mut errors).flatten();
            if let Some(d) = &description {
                check_description(d, &mut errors);
            }
            let icon = optional_string(&map, "icon", &mut errors).flatten();
            let modules = module_ids(&map, &mut errors);
            check_extensions(&map, &mut errors);
            if !account_id.is_empty() {
                check_account(store, caller, &account_id, modules.as_deref(), &mut errors);
            }
            if modules.is_none() && !errors.iter().any(|e| e.0 == "modules") {
                errors.push((
                    "modules",
                    "At least one module reference ({\"id\": \"MOD-...\"}) is required.".into(),
                ));
            }
            if !errors.is_empty() {
                return Err(Problem::validation(&errors));
            }
            let new = NewToken {
                account_id,
                name,
                description,
                icon,
                modules: modules.unwrap_or_default(),
            };
            let id = store.create(new, caller.actor.clone(), now).id.clone();
            token_reply(store, &id, caller, StatusCode::CREATED, true)
        })
        .await
}

pub(super) async fn update(
    State(s): State<Arc<Shared>>,
    kill: Kill,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    call(s, Operation::Update, Some(&id), headers, kill)
        .run(move |store, caller, now| {
            let account_id = store.visible(&id, caller)?.account_id.clone();
            let map = object_body(&body)?;
            let mut errors = Vec::new();
            let name = match map.get("name") {
                None => None,
                Some(Value::String(n)) if !n.is_empty() => {
                    check_name(n, &mut errors);
                    Some(n.clone())
                }
                Some(_) => {
                    errors.push(("name", "The name must be a non-empty string.".to_string()));
                    None
                }
            };
            let delta = Delta {
                name,
                description: optional_string(&map, "description", &mut errors),
                icon: optional_string(&map, "icon", &mut errors),
                modules: module_ids(&map, &mut errors),
            };
            if let Some(Some(d)) = &delta.description {
                check_description(d, &mut errors);
            }
            if let Some(modules) = &delta.modules {
                check_account(store, caller, &account_id, Some(modules), &mut errors);
            }
            if !errors.is_empty() {
                return Err(Problem::validation(&errors));
            }
            store.update(&id, delta, caller, now)?;
            token_reply(store, &id, caller, StatusCode::OK, false)
        })
        .await
}

pub(super) async fn delete(
    State(s): State<Arc<Shared>>,
    kill: Kill,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    call(s, Operation::Delete, Some(&id), headers, kill)
        .run(move |store, caller, now| {
            store.delete(&id, caller, now)?;
            Ok(Reply::NoContent)
        })
        .await
}

pub(super) fn switch(
    s: Arc<Shared>,
    kill: Kill,
    headers: HeaderMap,
    id: String,
    action: Switch,
) -> impl Future<Output = Response> {
    let op = match action {
        Switch::Enable => Operation::Enable,
        Switch::Disable => Operation::Disable,
    };
    let noop = *lock(&s.noop);
    call(s, op, Some(&id), headers, kill).run(move |store, caller, now| {
        store.switch(&id, action, noop, caller, now)?;
        token_reply(store, &id, caller, StatusCode::OK, false)
    })
}

pub(super) async fn enable(
    State(s): State<Arc<Shared>>,
    kill: Kill,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    switch(s, kill, headers, id, Switch::Enable).await
}

pub(super) async fn disable(
    State(s): State<Arc<Shared>>,
    kill: Kill,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    switch(s, kill, headers, id, Switch::Disable).await
}
