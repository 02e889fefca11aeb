//! HTTP routes:
//! - `POST /graphql`: GraphQL over HTTP (JSON body, single or batched);
//! - `GET /graphql?query=...`: queries only; a mutation sent with GET is
//!   refused with 405 before anything runs (GET must stay safe to repeat,
//!   prefetch and cache);
//! - `GET /graphql` without a query, and `GET /`: GraphiQL, served with its
//!   scripts from this binary so it works offline;
//! - `GET /health`: 200 when the database answers.
//!
//! Transport failures answer in GraphQL's error shape too, with the HTTP
//! status that fits: 400 malformed JSON, 401 a bad or revoked token, 405
//! mutation over GET, 413 body too large.

use async_graphql::parser::types::OperationType;
use async_graphql::{BatchRequest, BatchResponse};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde::Deserialize;
use tower_http::trace::TraceLayer;

use crate::auth::{bearer_token, hash_token, Auth, Viewer};
use crate::error::ApiError;
use crate::schema::AppSchema;
use crate::{db, loaders};

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

/// A response in GraphQL's error shape, for failures before execution.
fn error_response(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] });
    let mut res = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
    }
    res
}

/// Resolves the Authorization header to a viewer (one statement when a
/// token is sent, none otherwise).
async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<(Auth, Option<entity::user::Model>), Response> {
    let header = headers.get(header::AUTHORIZATION).map(|v| v.to_str().unwrap_or("\u{0}"));
    let unauthorized = |e: ApiError| error_response(StatusCode::UNAUTHORIZED, e.code(), e.public_message());
    let Some(token) = bearer_token(header).map_err(unauthorized)? else {
        return Ok((Auth(None), None));
    };
    let token_hash = hash_token(token);
    match db::sessions::find_user(&state.db, &token_hash).await {
        Ok(Some(user)) => Ok((Auth(Some(Viewer { user_id: user.id, token_hash })), Some(user))),
        Ok(None) => Err(unauthorized(ApiError::Unauthenticated("the token is invalid or was revoked".into()))),
        Err(e) => Err(error_response(StatusCode::INTERNAL_SERVER_ERROR, e.code(), e.public_message())),
    }
}

/// Runs one request with fresh per-request state.
async fn execute(state: &AppState, auth: &Auth, viewer: &Option<entity::user::Model>, req: async_graphql::Request) -> async_graphql::Response {
    let loaders = loaders::new(state.db.clone(), auth.user_id());
    if let Some(user) = viewer {
        loaders.feed_one(loaders::UserId(user.id), user.clone()).await;
    }
    let query = req.query.clone();
    let mut response = state.schema.execute(req.data(auth.clone()).data(loaders)).await;
    if response.is_err() {
        crate::error::add_codes(&mut response, &query);
    }
    response
}

async fn graphql_post(State(state): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return error_response(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", "the request body is too large")
        }
        Err(rejection) => return error_response(rejection.status(), "BAD_REQUEST", &rejection.body_text()),
    };
    let batch: BatchRequest = match serde_json::from_slice(&body) {
        Ok(batch) => batch,
        Err(e) => {
            return error_response(StatusCode::BAD_REQUEST, "BAD_REQUEST", &format!("the body is not a GraphQL request in JSON: {e}"))
        }
    };
    let (auth, viewer) = match authenticate(&state, &headers).await {
        Ok(found) => found,
        Err(res) => return res,
    };
    let response = match batch {
        BatchRequest::Single(req) => BatchResponse::Single(execute(&state, &auth, &viewer, req).await),
        BatchRequest::Batch(reqs) => {
            let mut out = Vec::with_capacity(reqs.len());
            for req in reqs {
                out.push(execute(&state, &auth, &viewer, req).await);
            }
            BatchResponse::Batch(out)
        }
    };
    json_response(&response)
}

fn json_response(response: &BatchResponse) -> Response {
    match serde_json::to_vec(response) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => {
            let e = ApiError::internal(e);
            error_response(StatusCode::INTERNAL_SERVER_ERROR, e.code(), e.public_message())
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
}

async fn graphql_get(State(state): State<AppState>, headers: HeaderMap, Query(params): Query<GetParams>) -> Response {
    let Some(query) = params.query else {
        return Html(GRAPHIQL_HTML).into_response();
    };
    if is_mutation(&query, params.operation_name.as_deref()) {
        let mut res = error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "mutations must be sent with POST",
        );
        res.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return res;
    }
    let mut req = async_graphql::Request::new(query);
    if let Some(name) = params.operation_name {
        req = req.operation_name(name);
    }
    if let Some(vars) = params.variables.filter(|v| !v.is_empty()) {
        match serde_json::from_str(&vars) {
            Ok(vars) => req = req.variables(async_graphql::Variables::from_json(vars)),
            Err(e) => return error_response(StatusCode::BAD_REQUEST, "BAD_REQUEST", &format!("`variables` is not JSON: {e}")),
        }
    }
    let (auth, viewer) = match authenticate(&state, &headers).await {
        Ok(found) => found,
        Err(res) => return res,
    };
    json_response(&BatchResponse::Single(execute(&state, &auth, &viewer, req).await))
}

/// Whether the operation a GET would run is a mutation (or subscription).
/// A document that does not parse is left to the engine to report.
fn is_mutation(query: &str, operation_name: Option<&str>) -> bool {
    let Ok(doc) = async_graphql::parser::parse_query(query) else { return false };
    let mut ops = doc.operations.iter();
    let op = match operation_name {
        Some(name) => ops.find(|(n, _)| n.map(|n| n.as_str()) == Some(name)),
        None => ops.next(),
    };
    op.is_some_and(|(_, op)| op.node.ty != OperationType::Query)
}

async fn health(State(state): State<AppState>) -> Response {
    match state.db.execute_unprepared("SELECT 1").await {
        Ok(_) => (StatusCode::OK, "ok").into_response(),
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
