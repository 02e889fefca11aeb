//! Followgraph's API: the followers social graph over GraphQL.
//!
//! A tour, in the order a request meets things:
//! - [`config`]: the one `Config` struct (flags and environment variables);
//! - [`http`]: axum routes; turns the Authorization header into a viewer,
//!   attaches fresh [`loaders`] and runs the schema;
//! - [`schema`]: GraphQL types and thin resolvers, one file per type;
//! - [`loaders`]: per-request DataLoaders that batch every cross-entity field;
//! - [`db`]: every SQL statement, keyset-paginated, writes in transactions;
//! - [`auth`], [`validate`], [`ids`], [`pagination`], [`error`]: the edges
//!   (tokens and passwords, input rules, opaque IDs and cursors, connection
//!   arguments, error codes).

pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod http;
pub mod ids;
pub mod loaders;
pub mod pagination;
pub mod schema;
pub mod validate;

use axum::Router;
use migration::{Migrator, MigratorTrait};
use sea_orm::{DatabaseConnection, DbErr};

pub use config::{Command, Config};

/// Connects to the configured database and applies pending migrations.
pub async fn connect_and_migrate(config: &Config) -> Result<DatabaseConnection, DbErr> {
    let db = db::connect(&config.database_url, config.pool_size()).await?;
    Migrator::up(&db, None).await?;
    Ok(db)
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
