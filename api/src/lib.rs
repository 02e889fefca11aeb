//! Followgraph's API: the followers social graph over GraphQL and HTTP. All
//! SQL lives in the `store` crate; this crate turns requests into store
//! calls and store answers into GraphQL.
//!
//! A tour, in the order a request meets things:
//! - [`config`]: the one `Config` struct (flags and environment variables);
//! - [`server`]: the listener, with connection deadlines and a bounded
//!   shutdown;
//! - [`observe`]: request ids, request logs and `/metrics`;
//! - [`http`]: axum routes and GraphQL over HTTP; resolves each document
//!   ([`documents`]: the parsed-document and persisted-query cache) and
//!   measures it against [`budget`] before it runs; then attaches the
//!   [`auth::Viewer`] and fresh [`loaders`] to each request, runs the
//!   schema, and puts the answer's fields in the order asked ([`order`]);
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
pub mod budget;
pub mod config;
pub mod documents;
pub mod error;
pub mod http;
pub mod ids;
pub mod loaders;
pub mod observe;
pub mod order;
pub mod pagination;
pub mod schema;
pub mod server;
pub mod timelines;
pub mod validate;
pub mod variables;

use axum::Router;
use store::{DatabaseConnection, StoreError};

pub use config::{Command, Config};

/// Connects to the configured database and applies pending migrations.
/// Every statement it runs is counted in `/metrics`.
pub async fn connect_and_migrate(config: &Config) -> Result<DatabaseConnection, StoreError> {
    let mut db = store::connect_and_migrate(&config.database_url, config.pool_options()).await?;
    db.set_metric_callback(observe::on_statement);
    observe::metrics();
    observe::pool_max(config.pool_size());
    Ok(db)
}

/// The whole HTTP application over `db`.
pub fn app(db: DatabaseConnection, config: &Config) -> Router {
    let schemas = schema::build(db.clone(), config);
    let http = http::HttpLimits {
        shape: std::sync::Arc::new(budget::Shape::from_sdl(&schemas.strict.sdl())),
        limits: config.limits(),
        max_batch: config.max_batch.max(1),
        max_body_bytes: config.max_body_bytes,
        body_timeout: std::time::Duration::from_secs(config.body_timeout_secs.max(1)),
        request_timeout: config.request_timeout(),
    };
    observe::metrics();
    let documents = documents::Documents::new(config.document_cache_bytes);
    let sessions =
        auth::SessionCache::start(&config.database_url, &db, std::time::Duration::from_secs(config.session_cache_secs));
    let state = http::AppState {
        schemas: std::sync::Arc::new(schemas),
        db,
        http: std::sync::Arc::new(http),
        documents: std::sync::Arc::new(documents),
        sessions,
    };
    observe::layers(http::router(state), std::time::Duration::from_millis(config.slow_request_ms))
}

/// Serves `app` on `listener` until Ctrl-C or SIGTERM, with the deadlines
/// and limits of `config` (see [`server`]).
pub async fn serve(listener: tokio::net::TcpListener, app: Router, config: &Config) -> std::io::Result<()> {
    server::serve(listener, app, server::ServeOptions::from_config(config), server::shutdown_signal()).await
}
