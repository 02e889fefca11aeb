//! Followgraph's API: the followers social graph over GraphQL and HTTP. All
//! SQL lives in the `store` crate; this crate turns requests into store
//! calls and store answers into GraphQL.
//!
//! A tour, in the order a request meets things:
//! - [`config`]: the one `Config` struct (flags and environment variables);
//! - [`http`]: axum routes; attaches the [`auth::Viewer`] (an extractor)
//!   and fresh [`loaders`] to each request and runs the schema;
//! - [`schema`]: GraphQL types and thin resolvers, one file per type;
//! - [`loaders`]: per-request DataLoaders that batch every cross-entity field;
//! - [`auth`], [`validate`], [`ids`], [`pagination`], [`error`]: the edges
//!   (viewer, tokens and passwords; input rules; global IDs; connection
//!   arguments; error codes).
//!
//! Where things go:
//! - a new field: its type's file in `schema/` (the `schema` module says
//!   what else it needs);
//! - a new loader: a key and its `impl Loader` in `loaders.rs`, calling one
//!   batched function of the store;
//! - a new error code: a variant of [`error::ApiError`];
//! - a new statement or table: the `store` crate and `migration/`, never
//!   here.

pub mod auth;
pub mod config;
pub mod error;
pub mod http;
pub mod ids;
pub mod loaders;
pub mod pagination;
pub mod schema;
pub mod validate;

use axum::Router;
use store::{DatabaseConnection, StoreError};

pub use config::{Command, Config};

/// Connects to the configured database and applies pending migrations.
pub async fn connect_and_migrate(config: &Config) -> Result<DatabaseConnection, StoreError> {
    Ok(store::connect_and_migrate(&config.database_url, config.pool_size()).await?)
}

/// The whole HTTP application over `db`.
pub fn app(db: DatabaseConnection, config: &Config) -> Router {
    let schema = schema::build(db.clone(), config);
    http::router(http::AppState { schema, db }, config.max_body_bytes)
}

/// Serves `app` on `listener` until Ctrl-C (or SIGTERM).
pub async fn serve(listener: tokio::net::TcpListener, app: Router) -> std::io::Result<()> {
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
