//! HTTP routes:
//! - `POST /graphql`: GraphQL over HTTP (JSON body, single or batched);
//! - `GET /graphql?query=...`: queries only; a mutation sent with GET is
//!   refused with 405 before anything runs (GET must stay safe to repeat,
//!   prefetch and cache);
//! - `GET /graphql` without a query, and `GET /`: GraphiQL, served with its
//!   scripts from this binary so it works offline;
//! - `GET /livez`: 200 while the process serves requests at all;
//! - `GET /readyz` (and `GET /health`, its older name): 200 when the
//!   database answers within [`READY_DEADLINE`]; 503 otherwise, and once
//!   the server is shutting down (load balancers stop sending to it).
//!
//! Each GraphQL request gets the [`Viewer`] (the axum extractor in
//! `auth.rs`) and fresh [`Loaders`]. Before anything runs, every request is
//! parsed and measured (`budget.rs`); a batch shares one budget. Then it
//! runs within the request's time budget. Transport failures are
//! `ApiError`s too, answered in GraphQL's error shape with their HTTP
//! status: 400 malformed JSON or too big a batch, 401 a bad or revoked
//! token, 405 mutation over GET, 408 a body not sent in time, 413 body too
//! large, 503 database unavailable or the time budget spent.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse, ServerError};
use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use store::DatabaseConnection;
use tower_http::trace::TraceLayer;

use crate::auth::{ClientAddr, Viewer};
use crate::budget::{self, Cost, Limits, Shape};
use crate::error::{code_engine_errors, ApiError};
use crate::loaders::{Loaders, UserById};
use crate::schema::AppSchema;

#[derive(Clone)]
pub struct AppState {
    pub schema: AppSchema,
    pub db: DatabaseConnection,
    pub http: Arc<HttpLimits>,
}

/// What the HTTP layer allows a request (config.rs has the flags).
pub struct HttpLimits {
    pub shape: Shape,
    pub limits: Limits,
    pub max_batch: usize,
    pub max_body_bytes: usize,
    pub body_timeout: Duration,
    pub request_timeout: Duration,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/graphql") }))
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphiql/{file}", get(graphiql_asset))
        .route("/livez", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/health", get(ready))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// A request checked and ready to run, or the answer it already has.
enum Checked {
    Run(async_graphql::Request, Cost),
    Refused(async_graphql::Response),
}

/// Parses and measures one request before anything runs. A parse failure
/// is known for what it is (and the engine reuses the parsed document); a
/// request over the limits, or with NUL in its input, is refused here.
fn check(limits: &HttpLimits, mut req: async_graphql::Request) -> Checked {
    let refuse = |error: ApiError, mut err: ServerError| {
        error.replace(&mut err);
        Checked::Refused(async_graphql::Response::from_errors(vec![err]))
    };
    let name = req.operation_name.clone();
    let variables = std::mem::take(&mut req.variables);
    let doc = match req.parsed_query() {
        Ok(doc) => doc,
        Err(err) => {
            // The parser quotes what it met: never echo a huge document back.
            let message: String = err.message.chars().take(200).collect();
            return refuse(ApiError::ParseFailed(message), err);
        }
    };
    let cost = budget::measure(&limits.shape, doc, name.as_deref(), &variables)
        .and_then(|cost| cost.check(&limits.limits).map(|()| cost))
        .and_then(|cost| match cost.sign_ins {
            0 | 1 => Ok(cost),
            _ => Err(ApiError::ValidationFailed("one signIn or signUp per request".into())),
        });
    req.variables = variables;
    match cost {
        Ok(cost) => Checked::Run(req, cost),
        Err(error) => refuse(error, ServerError::new(String::new(), None)),
    }
}

/// Runs one checked request with fresh per-request state.
async fn execute(
    state: &AppState,
    viewer: &Viewer,
    addr: ClientAddr,
    req: async_graphql::Request,
) -> async_graphql::Response {
    let loaders = Loaders::new(state.db.clone(), viewer.clone());
    if let Some(me) = viewer.signed_in() {
        // Read with the session already: `viewer { ... }` costs no statement.
        loaders.feed_one(UserById(me.user.id), me.user.clone()).await;
    }
    let mut response = state.schema.execute(req.data(viewer.clone()).data(loaders).data(addr)).await;
    if response.is_err() {
        code_engine_errors(&mut response);
    }
    response
}

/// Checks a whole batch against one budget, then runs it within the
/// request's time budget.
async fn run(state: &AppState, viewer: &Viewer, addr: ClientAddr, batch: BatchRequest) -> Response {
    let limits = &state.http;
    let (reqs, single) = match batch {
        BatchRequest::Single(req) => (vec![req], true),
        BatchRequest::Batch(reqs) => (reqs, false),
    };
    if reqs.len() > limits.max_batch {
        let message = format!("a batch may hold at most {} operations; this one has {}", limits.max_batch, reqs.len());
        return ApiError::BadRequest(message).into_response();
    }
    let checked: Vec<Checked> = reqs.into_iter().map(|req| check(limits, req)).collect();
    if !single {
        let total = checked.iter().fold(Cost::default(), |sum, c| match c {
            Checked::Run(_, cost) => sum.plus(*cost),
            Checked::Refused(_) => sum,
        });
        if let Err(e) = total.check(&limits.limits) {
            return ApiError::ValidationFailed(format!("the batch as a whole: {}", e.public_message())).into_response();
        }
        if total.sign_ins > 1 {
            return ApiError::ValidationFailed("one signIn or signUp per request".into()).into_response();
        }
    }
    let work = async {
        let mut out = Vec::with_capacity(checked.len());
        for c in checked {
            out.push(match c {
                Checked::Run(req, _) => execute(state, viewer, addr, req).await,
                Checked::Refused(response) => response,
            });
        }
        out
    };
    let Ok(mut out) = tokio::time::timeout(limits.request_timeout, work).await else {
        return ApiError::Timeout.into_response();
    };
    let unavailable = out.iter().flat_map(|r| &r.errors).any(|e| {
        e.extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .is_some_and(|c| matches!(c, async_graphql::Value::String(c) if c == ApiError::ServiceUnavailable.code()))
    });
    let response = match single {
        true => BatchResponse::Single(out.remove(0)),
        false => BatchResponse::Batch(out),
    };
    let mut res = json_response(&response);
    if unavailable {
        // The database is gone: say so in the status too, so clients and
        // balancers retry instead of trusting a partial answer.
        *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(1u64));
    }
    res
}

async fn graphql_post(
    State(state): State<AppState>,
    viewer: Viewer,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: Body,
) -> Response {
    // Read under its own deadline and size limit: a client that sends its
    // body slowly, or too much of it, is answered and let go.
    let limits = &state.http;
    let read = axum::body::to_bytes(body, limits.max_body_bytes);
    let body = match tokio::time::timeout(limits.body_timeout, read).await {
        Err(_) => return ApiError::RequestTimeout.into_response(),
        Ok(Err(e)) if is_length_limit(&e) => return ApiError::PayloadTooLarge.into_response(),
        Ok(Err(e)) => return ApiError::BadRequest(format!("the body could not be read: {e}")).into_response(),
        Ok(Ok(body)) => body,
    };
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(e) => {
            return ApiError::BadRequest(format!("the body is not a GraphQL request in JSON: {e}")).into_response()
        }
    };
    run(&state, &viewer, ClientAddr(peer.ip()), batch).await
}

fn is_length_limit(err: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}

fn json_response(response: &BatchResponse) -> Response {
    match serde_json::to_vec(response) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
}

async fn graphql_get(
    State(state): State<AppState>,
    viewer: Viewer,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(params): Query<GetParams>,
) -> Response {
    let Some(query) = params.query else {
        return Html(GRAPHIQL_HTML).into_response();
    };
    let mut req = async_graphql::Request::new(query);
    if let Some(name) = params.operation_name {
        req = req.operation_name(name);
    }
    if is_mutation(&mut req) {
        return ApiError::MethodNotAllowed.into_response();
    }
    if let Some(vars) = params.variables.filter(|v| !v.is_empty()) {
        match serde_json::from_str(&vars) {
            Ok(vars) => req = req.variables(async_graphql::Variables::from_json(vars)),
            Err(e) => return ApiError::BadRequest(format!("`variables` is not JSON: {e}")).into_response(),
        }
    }
    run(&state, &viewer, ClientAddr(peer.ip()), BatchRequest::Single(req)).await
}

/// Whether the operation a GET would run is a mutation (or subscription).
/// A document that does not parse is left to `execute` to report.
fn is_mutation(req: &mut async_graphql::Request) -> bool {
    let name = req.operation_name.clone();
    let Ok(doc) = req.parsed_query() else { return false };
    let mut ops = doc.operations.iter();
    let op = match name.as_deref() {
        Some(name) => ops.find(|(n, _)| n.map(|n| n.as_str()) == Some(name)),
        None => ops.next(),
    };
    op.is_some_and(|(_, op)| op.node.ty != OperationType::Query)
}

/// How long `/readyz` waits for the database to answer.
pub const READY_DEADLINE: Duration = Duration::from_secs(1);

async fn ready(State(state): State<AppState>, draining: Option<axum::Extension<crate::server::Draining>>) -> Response {
    if draining.is_some_and(|d| d.is_set()) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    match tokio::time::timeout(READY_DEADLINE, store::ping(&state.db)).await {
        Ok(Ok(())) => (StatusCode::OK, "ok").into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = ?e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database too slow").into_response(),
    }
}

/// GraphiQL 3.9 and React 18, vendored from their npm packages (MIT; see
/// `api/assets/graphiql/LICENSES.md`), so the explorer works with no network.
const GRAPHIQL_HTML: &str = include_str!("../assets/graphiql/index.html");

async fn graphiql_asset(Path(file): Path<String>) -> Response {
    let (body, mime): (&'static [u8], &str) = match file.as_str() {
        "graphiql.min.js" => (include_bytes!("../assets/graphiql/graphiql.min.js"), "text/javascript"),
        "graphiql.min.css" => (include_bytes!("../assets/graphiql/graphiql.min.css"), "text/css"),
        "react.production.min.js" => (include_bytes!("../assets/graphiql/react.production.min.js"), "text/javascript"),
        "react-dom.production.min.js" => {
            (include_bytes!("../assets/graphiql/react-dom.production.min.js"), "text/javascript")
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    ([(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, "public, max-age=86400")], body).into_response()
}
