//! HTTP routes:
//! - `POST /graphql`: GraphQL over HTTP (JSON body, single or batched);
//! - `GET /graphql?query=...`: queries only; a mutation sent with GET is
//!   refused with 405 before anything runs (GET must stay safe to repeat,
//!   prefetch and cache);
//! - `GET /graphql` without a query, and `GET /`: GraphiQL, served with its
//!   scripts from this binary so it works offline;
//! - `GET /health`: 200 when the database answers.
//!
//! Each GraphQL request gets the [`Viewer`] (the axum extractor in
//! `auth.rs`) and fresh [`Loaders`]. Transport failures are `ApiError`s
//! too, answered in GraphQL's error shape with their HTTP status: 400
//! malformed JSON, 401 a bad or revoked token, 405 mutation over GET, 413
//! body too large.

use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use store::DatabaseConnection;
use tower_http::trace::TraceLayer;

use crate::auth::Viewer;
use crate::error::{code_engine_errors, ApiError};
use crate::loaders::{Loaders, UserById};
use crate::schema::AppSchema;

#[derive(Clone)]
pub struct AppState {
    pub schema: AppSchema,
    pub db: DatabaseConnection,
}

pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/graphql") }))
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/graphiql/{file}", get(graphiql_asset))
        .route("/health", get(health))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Runs one request with fresh per-request state. The document is parsed
/// first, so that a parse failure is known for what it is (and the engine
/// reuses the parsed document).
async fn execute(state: &AppState, viewer: &Viewer, mut req: async_graphql::Request) -> async_graphql::Response {
    if let Err(mut err) = req.parsed_query() {
        let message = std::mem::take(&mut err.message);
        ApiError::ParseFailed(message).replace(&mut err);
        return async_graphql::Response::from_errors(vec![err]);
    }
    let loaders = Loaders::new(state.db.clone(), viewer.clone());
    if let Some(me) = viewer.signed_in() {
        // Read with the session already: `viewer { ... }` costs no statement.
        loaders.feed_one(UserById(me.user.id), me.user.clone()).await;
    }
    let mut response = state.schema.execute(req.data(viewer.clone()).data(loaders)).await;
    if response.is_err() {
        code_engine_errors(&mut response);
    }
    response
}

async fn graphql_post(State(state): State<AppState>, viewer: Viewer, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return ApiError::PayloadTooLarge.into_response()
        }
        Err(rejection) => return ApiError::BadRequest(rejection.body_text()).into_response(),
    };
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(e) => {
            return ApiError::BadRequest(format!("the body is not a GraphQL request in JSON: {e}")).into_response()
        }
    };
    let response = match batch {
        BatchRequest::Single(req) => BatchResponse::Single(execute(&state, &viewer, req).await),
        BatchRequest::Batch(reqs) => {
            let mut out = Vec::with_capacity(reqs.len());
            for req in reqs {
                out.push(execute(&state, &viewer, req).await);
            }
            BatchResponse::Batch(out)
        }
    };
    json_response(&response)
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

async fn graphql_get(State(state): State<AppState>, viewer: Viewer, Query(params): Query<GetParams>) -> Response {
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
    json_response(&BatchResponse::Single(execute(&state, &viewer, req).await))
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

async fn health(State(state): State<AppState>) -> Response {
    match store::ping(&state.db).await {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(e) => {
            tracing::error!(error = ?e, "health check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
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
