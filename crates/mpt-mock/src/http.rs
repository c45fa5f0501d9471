//! The HTTP face of the mock: routes, auth, rendering, faults, and the accept loop.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use hyper_util::rt::TokioIo;
use mpt_api::types::{
    AccountRef, AccountStatus, AccountType, ApiToken, ApiTokenStatus, ModuleRef,
    PlatformIdentityRef, PlatformMetadata, PlatformObjectAudit, PlatformObjectEvent,
};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

use crate::faults::{Fault, FaultState, Operation};
use crate::problem::{Problem, new_trace_id};
use crate::rql::{DEFAULT_LIMIT, ListQuery, Select, parse_select};
use crate::store::{Actor, Caller, Delta, NewToken, NoopTransition, Status, Store, Switch, Token};

/// Base path of the resource.
pub const BASE_PATH: &str = "/public/v1/accounts/api-tokens";

/// State shared by every connection and the handle.
pub(crate) struct Shared {
    pub(crate) store: Mutex<Store>,
    pub(crate) faults: Mutex<FaultState>,
    pub(crate) noop: Mutex<NoopTransition>,
    pub(crate) admin_secret: String,
    pub(crate) requests: [AtomicU64; 7],
    pub(crate) tokens_created: AtomicU64,
    pub(crate) recording: std::sync::atomic::AtomicBool,
    pub(crate) recorded: Mutex<std::collections::VecDeque<crate::RecordedRequest>>,
    /// How far the mock's clock is off the machine's, in milliseconds.
    pub(crate) clock_skew_ms: std::sync::atomic::AtomicI64,
}

impl Shared {
    /// The mock's clock: the machine's, off by the configured skew.
    pub(crate) fn now(&self) -> chrono::DateTime<Utc> {
        let skew = self.clock_skew_ms.load(Ordering::Relaxed);
        Utc::now() + chrono::TimeDelta::milliseconds(skew)
    }
}

/// Locks a mutex, recovering from poisoning (a panicking test must not wedge the server).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The admin caller's identity in audit records.
fn admin_actor() -> Actor {
    Actor {
        id: "USR-0000-0000".into(),
        name: "Mock administrator".into(),
    }
}

/// Lets a handler close its own connection without answering.
#[derive(Clone)]
struct ConnectionKill(Arc<Notify>);

enum Reply {
    Json(StatusCode, Value),
    NoContent,
}

fn problem_response(problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, &problem.to_json(&new_trace_id()))
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        bytes,
    )
        .into_response()
}

/// The routes of the seven operations.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(BASE_PATH, get(list).post(create))
        .route(
            &format!("{BASE_PATH}/{{id}}"),
            get(get_one).put(update).delete(delete),
        )
        .route(&format!("{BASE_PATH}/{{id}}/enable"), post(enable))
        .route(&format!("{BASE_PATH}/{{id}}/disable"), post(disable))
        .fallback(|| async { problem_response(&Problem::new(404, "No such endpoint.")) })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::map_response(problem_for_rejections))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            record_request,
        ))
        .layer(axum::middleware::from_fn(bounded_head))
        .with_state(shared)
}

/// Longest request target (path and query) the mock reads; a longer one is a 414 problem.
pub const MAX_URI_BYTES: usize = 32 * 1024;
/// Most header bytes (names and values) the mock reads; more is a 431 problem.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Refuses an over-long request target (414) or header block (431) with problem details, as
/// every other rejection. (hyper itself only refuses heads over its read buffer, 400 KiB, which
/// these bounds stay well under.)
async fn bounded_head(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if target > MAX_URI_BYTES {
        return problem_response(&Problem::new(
            414,
            format!("The request target is longer than the limit of {MAX_URI_BYTES} bytes."),
        ));
    }
    let headers: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if headers > MAX_HEADER_BYTES {
        return problem_response(&Problem::new(
            431,
            format!("The request headers are larger than the limit of {MAX_HEADER_BYTES} bytes."),
        ));
    }
    next.run(request).await
}

/// Headers whose values are credentials: never recorded.
const CREDENTIAL_HEADERS: [&str; 7] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "x-auth-token",
];

/// Query parameters whose values are credentials: never recorded.
const CREDENTIAL_PARAMS: [&str; 9] = [
    "access_token",
    "token",
    "api_key",
    "apikey",
    "api-key",
    "key",
    "secret",
    "password",
    "client_secret",
];

/// `text` without the admin secret (by value, plain or percent-encoded) or any token secret
/// (every one has the shape `idt:<id>:<opaque>`, which keeps its id).
fn scrub(text: &str, admin: &str) -> String {
    let mut out = text.to_string();
    for form in [
        admin.to_string(),
        percent_encoding::utf8_percent_encode(admin, percent_encoding::NON_ALPHANUMERIC)
            .to_string(),
    ] {
        if !form.is_empty() && out.contains(&form) {
            out = out.replace(&form, "[REDACTED]");
        }
    }
    redact_shapes(&out)
}

/// Every `idt:<id>:<opaque>` (also with `%3A` for `:`) as `idt:<id>:[REDACTED]`.
fn redact_shapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.to_ascii_lowercase().find("idt") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 3..];
        let sep = |t: &str| {
            [":", "%3A", "%3a"]
                .iter()
                .find(|s| t.starts_with(**s))
                .map(|s| s.len())
        };
        let Some(first) = sep(after) else {
            out.push_str(&rest[at..at + 3]);
            rest = after;
            continue;
        };
        let id_len = after[first..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
            .unwrap_or(after.len() - first);
        let tail = &after[first + id_len..];
        match sep(tail) {
            Some(second) => {
                out.push_str("idt:");
                out.push_str(&after[first..first + id_len]);
                out.push_str(":[REDACTED]");
                let opaque = &tail[second..];
                let end = opaque
                    .find(|c: char| {
                        c.is_whitespace() || matches!(c, '"' | '\'' | '&' | '<' | '>' | ',')
                    })
                    .unwrap_or(opaque.len());
                rest = &opaque[end..];
            }
            None => {
                out.push_str(&rest[at..at + 3 + first + id_len]);
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The query string with the values of credential parameters redacted.
fn scrub_query(query: &str) -> String {
    query
        .split('&')
        .map(|part| match part.split_once('=') {
            Some((key, _)) => {
                let name = percent_encoding::percent_decode_str(key).decode_utf8_lossy();
                if CREDENTIAL_PARAMS.contains(&name.to_ascii_lowercase().as_str()) {
                    format!("{key}=[REDACTED]")
                } else {
                    part.to_string()
                }
            }
            None => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Most requests kept by [`MockServer::recorded`](crate::MockServer::recorded) (the oldest go).
pub const RECORDED_REQUESTS: usize = 10_000;

/// Keeps a copy of each request (its `Authorization` value redacted) when recording is on.
async fn record_request(
    State(shared): State<Arc<Shared>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !shared.recording.load(Ordering::Relaxed) {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return problem_response(&Problem::new(
            413,
            format!("The request body is larger than the limit of {MAX_BODY_BYTES} bytes."),
        ));
    };
    let recorded = {
        let scrub = |text: &str| scrub(text, &shared.admin_secret);
        let headers = parts
            .headers
            .iter()
            .map(|(name, value)| {
                let value = if CREDENTIAL_HEADERS.contains(&name.as_str()) {
                    "[REDACTED]".to_string()
                } else {
                    scrub(&String::from_utf8_lossy(value.as_bytes()))
                };
                (name.as_str().to_string(), value)
            })
            .collect();
        crate::RecordedRequest {
            method: parts.method.as_str().to_string(),
            path: scrub(parts.uri.path()),
            query: parts.uri.query().map(|q| scrub(&scrub_query(q))),
            headers,
            body: scrub(&String::from_utf8_lossy(&bytes)),
        }
    };
    {
        let mut log = lock(&shared.recorded);
        if log.len() == RECORDED_REQUESTS {
            log.pop_front();
        }
        log.push_back(recorded);
    }
    next.run(axum::extract::Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// Largest request body the mock reads; a larger one is answered 413 with problem details.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// axum answers its own rejections (413 for a body over [`MAX_BODY_BYTES`], 405, 415, ...) in plain
/// text; the platform answers every error with problem details, and so does the mock. HTML pages
/// injected as faults are left as they are.
async fn problem_for_rejections(response: Response) -> Response {
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let is_error = status.is_client_error() || status.is_server_error();
    if !is_error || content_type.contains("json") || content_type.contains("html") {
        return response;
    }
    let detail = if status == StatusCode::PAYLOAD_TOO_LARGE {
        format!("The request body is larger than the limit of {MAX_BODY_BYTES} bytes.")
    } else {
        let text = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap_or_default();
        String::from_utf8_lossy(&text).trim().to_string()
    };
    problem_response(&Problem::new(status.as_u16(), detail))
}

/// Accepts connections until `shutdown` changes; each connection can be killed by its handler.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let handle = ConnectionKill(Arc::clone(&kill));
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(handle.clone());
                    router.clone().oneshot(req.map(Body::new))
                },
            );
            let conn = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service);
            tokio::select! {
                _ = conn => {}
                _ = kill.notified() => {}
                _ = shutdown.changed() => {}
            }
        });
    }
}

/// Everything a handler needs besides its own arguments.
struct Call {
    shared: Arc<Shared>,
    op: Operation,
    /// The token the request is about, for faults aimed at one token.
    token_id: Option<String>,
    headers: HeaderMap,
    kill: Option<ConnectionKill>,
}

impl Call {
    /// Counts, injects faults, authenticates, runs `work` under the store lock, renders.
    async fn run(
        self,
        work: impl FnOnce(&mut Store, &Caller, DateTime<Utc>) -> Result<Reply, Problem>,
    ) -> Response {
        let shared = &self.shared;
        shared.requests[self.op.index()].fetch_add(1, Ordering::Relaxed);
        let (fault, latency, decorate) = {
            let mut faults = lock(&shared.faults);
            let fault = faults.next(self.op, self.token_id.as_deref());
            let f = &faults.faults;
            (fault, f.latency, (f.unknown_fields, f.unknown_enum_values))
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        match &fault {
            Some(Fault::RateLimited { retry_after }) => {
                let secs = retry_after
                    .as_secs()
                    .saturating_add(u64::from(retry_after.subsec_nanos() > 0));
                let mut response =
                    problem_response(&Problem::new(429, "Rate limit exceeded; retry later."));
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
                return response;
            }
            Some(Fault::Status(code)) => {
                return problem_response(&Problem::new(*code, "Injected failure."));
            }
            Some(Fault::HtmlPage(code)) => {
                let status = StatusCode::from_u16(*code).unwrap_or(StatusCode::BAD_GATEWAY);
                let page = format!(
                    "<!DOCTYPE html>\n<html><head><title>{} {}</title></head><body><h1>{} {}</h1><p>The upstream server did not answer.</p></body></html>\n",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or(""),
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("")
                );
                return (
                    status,
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    page,
                )
                    .into_response();
            }
            _ => {}
        }
        let now = shared.now();
        let outcome = {
            let mut store = lock(&shared.store);
            authenticate(&mut store, &shared.admin_secret, &self.headers, now)
                .and_then(|actor| work(&mut store, &actor, now))
        };
        if self.op == Operation::Create && outcome.is_ok() {
            shared.tokens_created.fetch_add(1, Ordering::Relaxed);
        }
        match (&fault, outcome) {
            (Some(Fault::DropAfterProcessing), _) => {
                if let Some(kill) = &self.kill {
                    kill.0.notify_one();
                    return std::future::pending().await;
                }
                problem_response(&Problem::new(500, "connection could not be dropped"))
            }
            (Some(Fault::MalformedJson), Ok(_)) => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "{\"id\": \"TKN-1234-5678\", \"name\": \"cut off",
            )
                .into_response(),
            (_, Ok(Reply::Json(status, mut body))) => {
                decorate_body(&mut body, decorate.0, decorate.1);
                json_response(status, &body)
            }
            (_, Ok(Reply::NoContent)) => StatusCode::NO_CONTENT.into_response(),
            (_, Err(problem)) => problem_response(&problem),
        }
    }
}

fn authenticate(
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

fn decorate_body(body: &mut Value, unknown_fields: bool, unknown_enums: bool) {
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

fn call(
    shared: Arc<Shared>,
    op: Operation,
    token_id: Option<&str>,
    headers: HeaderMap,
    kill: Option<axum::Extension<ConnectionKill>>,
) -> Call {
    Call {
        shared,
        op,
        token_id: token_id.map(String::from),
        headers,
        kill: kill.map(|k| k.0),
    }
}

type Kill = Option<axum::Extension<ConnectionKill>>;

async fn list(
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

async fn get_one(
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
fn token_reply(
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

/// Parses a JSON object body, or a 400 naming the problem.
fn object_body(body: &Bytes) -> Result<serde_json::Map<String, Value>, Problem> {
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

fn optional_string(
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
fn reference_ids(value: &Value) -> Option<Vec<String>> {
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

fn module_ids(
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
fn check_name(name: &str, errors: &mut Vec<(&'static str, String)>) {
    if let Some(why) = mpt_api::rules::name_problem(name) {
        errors.push(("name", format!("The name {why}.")));
    }
}

/// The platform's description rule ([`mpt_api::rules::description_problem`]), as a field error.
fn check_description(description: &str, errors: &mut Vec<(&'static str, String)>) {
    if let Some(why) = mpt_api::rules::description_problem(description) {
        errors.push(("description", format!("The description holds {why}.")));
    }
}

/// The account must exist and be one the caller may make tokens in (another account is
/// answered as unknown, so its existence does not show); each module must be known and enabled
/// for the account (its default group).
fn check_account(
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
fn check_extensions(
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

async fn create(
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

async fn update(
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

async fn delete(
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

fn switch(
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

async fn enable(
    State(s): State<Arc<Shared>>,
    kill: Kill,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    switch(s, kill, headers, id, Switch::Enable).await
}

async fn disable(
    State(s): State<Arc<Shared>>,
    kill: Kill,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    switch(s, kill, headers, id, Switch::Disable).await
}
