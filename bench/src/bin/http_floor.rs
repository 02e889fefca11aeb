//! The HTTP floor: the least a GraphQL server on this stack does for W1,
//! to tell how much of the gap between Followgraph and the best SQL is
//! GraphQL and how much is serving HTTP at all.
//!
//! It answers `POST /graphql` with W1's answer, byte for byte the shape
//! Followgraph gives, through the same parts: tokio with a worker a core,
//! axum and hyper, serde_json to read the body and write the answer, the
//! store's pool and W1's statement through SeaORM. It never parses the
//! query: it reads `variables.username` and nothing else, so it is not a
//! server for anything but measuring (docs/PERFORMANCE.md, "The HTTP floor").
//!
//!     cargo build --release -p bench
//!     target/release/followgraph-http-floor postgres://postgres@127.0.0.1/fg_bench_m 127.0.0.1:18091

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sea_orm::DatabaseConnection;
use serde_json::json;

// The server's allocator (the followgraph binary's main.rs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(bind)) = (args.next(), args.next()) else {
        return Err("usage: followgraph-http-floor DATABASE_URL BIND_ADDR".into());
    };
    serve(&url, &bind).await
}

async fn serve(database_url: &str, bind: &str) -> Result<(), String> {
    // The server's own pool size and settings (store::connect).
    let db = store::connect(database_url, store::PoolOptions::new(16)).await.map_err(|e| e.to_string())?;
    let app = Router::new().route("/graphql", post(w1)).with_state(db);
    let listener = tokio::net::TcpListener::bind(bind).await.map_err(|e| format!("{bind}: {e}"))?;
    eprintln!("http floor (W1 only) on http://{bind}/graphql");
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}

async fn w1(State(db): State<DatabaseConnection>, body: Bytes) -> Response {
    let request: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return (StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    };
    let Some(username) = request["variables"]["username"].as_str() else {
        return (StatusCode::BAD_REQUEST, "variables.username").into_response();
    };
    let user = match store::users::find_by_username(&db, username).await {
        Ok(user) => user,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let answer = json!({ "data": { "user": user.map(|u| json!({
        "id": URL_SAFE_NO_PAD.encode(format!("User:{}", u.id.0)),
        "username": u.username,
        "displayName": u.display_name,
        "bio": u.bio,
        "createdAt": u.created_at.to_rfc3339(),
        "followersCount": u.followers_count,
        "followingCount": u.following_count,
    })) } });
    let body = serde_json::to_vec(&answer).unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/json; charset=utf-8")], body).into_response()
}
