//! The HTTP face of the mock, one module per job: this file has the routes, the accept loop (a
//! handler can drop its own connection) and the run of every request (count, fault, auth, work,
//! answer); `auth.rs` who is calling, `handlers.rs` the seven operations, `validate.rs` the body
//! checks, `render.rs` how a token is written, `record.rs` the request record, `limits.rs` the
//! bounds and rejections, `rate.rs` the rate limit.

mod auth;
mod handlers;
mod limits;
mod rate;
mod record;
mod render;
mod validate;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

pub use limits::{MAX_BODY_BYTES, MAX_HEADER_BYTES, MAX_URI_BYTES};
pub(crate) use rate::{Buckets, RateSettings};
pub use rate::{RateChange, RateDialect, RateError, RateLimit, RateWindow, UnknownDialect};
pub use record::RECORDED_REQUESTS;

use crate::faults::{Fault, FaultState, Operation};
use crate::problem::{Problem, new_trace_id};
use crate::store::{Caller, NoopTransitions, Store};
use auth::authenticate;
use handlers::{create, delete, disable, enable, get_one, list, update};
use limits::{bounded_head, problem_for_rejections};
use record::record_request;
use render::decorate_body;

/// Base path of the resource.
pub const BASE_PATH: &str = "/public/v1/accounts/api-tokens";

/// State shared by every connection and the handle.
pub(crate) struct Shared {
    pub(crate) store: Mutex<Store>,
    pub(crate) faults: Mutex<FaultState>,
    pub(crate) noop: Mutex<NoopTransitions>,
    pub(crate) admin_secret: String,
    pub(crate) requests: [AtomicU64; 7],
    pub(crate) tokens_created: AtomicU64,
    pub(crate) recording: std::sync::atomic::AtomicBool,
    pub(crate) recorded: Mutex<std::collections::VecDeque<crate::RecordedRequest>>,
    /// How far the mock's clock is off the machine's, in milliseconds.
    pub(crate) clock_skew_ms: std::sync::atomic::AtomicI64,
    /// Each caller's rate-limit bucket.
    pub(crate) rate: Mutex<Buckets>,
    /// Requests refused by the rate limit.
    pub(crate) throttled: AtomicU64,
    /// Requests held now ([`Fault::Hold`]).
    pub(crate) held: AtomicU64,
    /// Set once the held requests are let go.
    pub(crate) released: tokio::sync::watch::Sender<bool>,
    /// Woken at each request (for [`Fault::Held`]).
    pub(crate) arrived: Notify,
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

/// Lets a handler close its own connection without answering.
#[derive(Clone)]
pub(super) struct ConnectionKill(Arc<Notify>);

/// The connection a request came on (numbered as accepted), for a limit counted per connection.
#[derive(Clone, Copy)]
pub(super) struct ConnectionId(pub(super) u64);

pub(super) enum Reply {
    Json(StatusCode, Value),
    NoContent,
}

pub(super) fn problem_response(problem: &Problem) -> Response {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(status, &problem.to_json(&new_trace_id()))
}

pub(super) fn json_response(status: StatusCode, body: &Value) -> Response {
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
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            rate::rate_limited,
        ))
        .layer(axum::middleware::from_fn(bounded_head))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            dated,
        ))
        .with_state(shared)
}

/// Every answer's `Date` comes from the mock's clock (the machine's, off by the configured skew),
/// as a real server's comes from its own clock: a client comparing the platform's timestamps with
/// the platform's time sees no skew.
async fn dated(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let mut response = next.run(request).await;
    let date = shared.now().format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    if let Ok(value) = header::HeaderValue::from_str(&date) {
        response.headers_mut().insert(header::DATE, value);
    }
    response
}

/// Accepts connections until `shutdown` changes; each connection can be killed by its handler.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut accepted_so_far = 0u64;
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let _ = stream.set_nodelay(true);
        accepted_so_far += 1;
        let connection = ConnectionId(accepted_so_far);
        let router = router.clone();
        let mut shutdown = shutdown.clone();
        tokio::spawn(async move {
            let kill = Arc::new(Notify::new());
            let handle = ConnectionKill(Arc::clone(&kill));
            let service = hyper::service::service_fn(
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut().insert(handle.clone());
                    req.extensions_mut().insert(connection);
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

/// Requests received so far, of every operation.
fn received(shared: &Shared) -> u64 {
    shared
        .requests
        .iter()
        .map(|n| n.load(Ordering::Relaxed))
        .sum()
}

/// Waits until `more` requests have arrived after this one, at most `at_most`: whether they
/// came.
async fn held(shared: &Shared, more: u64, at_most: Duration) -> bool {
    let target = received(shared).saturating_add(more);
    let wait = async {
        loop {
            let arrived = shared.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if received(shared) >= target {
                return;
            }
            arrived.await;
        }
    };
    tokio::time::timeout(at_most, wait).await.is_ok()
}

/// Everything a handler needs besides its own arguments.
pub(super) struct Handling {
    shared: Arc<Shared>,
    op: Operation,
    /// The token the request is about, for faults aimed at one token.
    token_id: Option<String>,
    headers: HeaderMap,
    kill: Option<ConnectionKill>,
}

impl Handling {
    /// Counts, injects faults, authenticates, runs `work` under the store lock, renders.
    pub(super) async fn run(
        self,
        work: impl FnOnce(&mut Store, &Caller, DateTime<Utc>) -> Result<Reply, Problem>,
    ) -> Response {
        let shared = &self.shared;
        shared.requests[self.op.index()].fetch_add(1, Ordering::Relaxed);
        shared.arrived.notify_waiters();
        let (fault, latency, decorate) = {
            let mut faults = lock(&shared.faults);
            let fault = faults.next(self.op, self.token_id.as_deref());
            let f = &faults.faults;
            (fault, f.latency, (f.unknown_fields, f.unknown_enum_values))
        };
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if fault == Some(Fault::Hold) {
            shared.held.fetch_add(1, Ordering::Relaxed);
            let mut released = shared.released.subscribe();
            // Ends when released, or when the server (the sender) is gone.
            let _ = released.wait_for(|r| *r).await;
            shared.held.fetch_sub(1, Ordering::Relaxed);
        }
        if let Some(Fault::Held { requests, at_most }) = &fault
            && !held(shared, *requests, *at_most).await
        {
            let problem = Problem::new(504, "Held past its bound: fewer requests came.");
            return problem_response(&problem);
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
            (Some(Fault::StatusAfterProcessing(code)), _) => problem_response(&Problem::new(
                *code,
                "Injected failure after the request was processed.",
            )),
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
