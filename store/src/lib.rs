//! Followgraph's persistence: every SQL statement the server runs and every
//! transaction it opens. It knows nothing of GraphQL or HTTP: functions take
//! typed ids ([`UserId`], [`PostId`]) and [`PageRequest`]s, return entity
//! rows or [`Page`]s, and fail with [`StoreError`].
//!
//! A tour:
//! - [`users`], [`sessions`], [`follows`], [`posts`], [`feed`], [`counters`]:
//!   one module per thing stored, each with its reads and writes;
//!   [`relationships`]: follows, requests and blocks between two accounts,
//!   read as one [`relationships::Relationship`] and written under one
//!   lock; [`suggestions`]: whom to follow. Functions
//!   take `&impl ConnectionTrait` so they run alike on the pool or inside a
//!   transaction; a write that touches several rows opens its own
//!   transaction with [`begin_write`] (callers never hold one).
//! - `*_stmt` functions build a statement without running it: the server
//!   runs them through SeaORM, and the benchmark's raw-SQL floor runs the
//!   very same statements through sqlx. Where a read or write takes more
//!   than one statement, or a choice between them, the module exposes that
//!   plan ([`feed::FeedPlan`]) for both to follow.
//! - [`sql`]: the statement builder and the keyset pieces every page
//!   shares; [`page`]: cursors, page requests and pages; [`error`]:
//!   `StoreError`, with the constraints a client can break.
//!
//! Where things go:
//! - a new query: in the module of the table it reads, as a `*_stmt`
//!   builder plus the function that runs it; a keyset page uses
//!   [`sql::Sql::keyset`], and a page per parent [`sql::union_all`].
//! - a new table or index: a migration in `migration/src` (registered in its
//!   `lib.rs`, with a comment saying which query it serves), its model in
//!   `entity/src`, then the module here.
//! - a new client-breakable constraint: name it in the migration, add it to
//!   [`error::Constraint`], and give it a message in api/src/error.rs.

pub mod counters;
pub mod error;
pub mod feed;
pub mod follows;
pub mod page;
pub mod posts;
pub mod relationships;
pub mod sessions;
pub mod sql;
pub mod suggestions;
pub mod timeline;
pub mod users;

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseTransaction, DbBackend, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

pub use entity::{post, user, FollowPolicy, PostId, UserId};
pub use error::{StoreError, StoreResult};
pub use page::{Cursor, Page, PageRequest};
pub use sea_orm::metric::Info as StatementInfo;
pub use sea_orm::DatabaseConnection;

/// The pool size when none is configured: 4 on SQLite (one writer at a
/// time, and a page cache per connection), 16 on PostgreSQL.
pub fn default_pool_size(url: &str) -> u32 {
    if url.starts_with("sqlite") {
        4
    } else {
        16
    }
}

/// How the pool connects.
#[derive(Clone, Copy, Debug)]
pub struct PoolOptions {
    pub max_connections: u32,
    /// How long a request waits for a free connection (or for a new one to
    /// open) before the database counts as unavailable.
    pub acquire_timeout: Duration,
    /// PostgreSQL's `statement_timeout` for every statement of the pool;
    /// `None` for the database's own setting.
    pub statement_timeout: Option<Duration>,
}

impl PoolOptions {
    /// `max_connections`, a 10 s acquire timeout, no statement timeout (the
    /// tools' settings; the server sets its own).
    pub fn new(max_connections: u32) -> Self {
        PoolOptions { max_connections, acquire_timeout: Duration::from_secs(10), statement_timeout: None }
    }
}

/// A pooled connection idle this long is pinged before it is handed out;
/// one used more recently is not. sqlx's default pings on every acquire: a
/// round trip before every statement, on the request's path (sqlx pings
/// again on release, in a task of its own; that one stays). A connection the
/// database dropped since its last use fails its statement instead
/// (SERVICE_UNAVAILABLE, and sqlx closes it when the release ping fails);
/// connections idle for longer, which proxies and firewalls drop, are
/// still tested. HikariCP skips the test the same way for connections used
/// in the last 500 ms.
pub const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// Opens the pool. SQLite gets WAL (readers never block the writer), a busy
/// timeout (writers queue instead of failing) and several connections.
///
/// PostgreSQL gets `plan_cache_mode = force_generic_plan`. Every statement
/// here is prepared with bind parameters; left to itself, PostgreSQL judges
/// the generic plan of a `... LIMIT $n` page costlier than its custom plans
/// and so plans the statement again on every execution, which costs more
/// than running it (measured on a followers page: 2,600 statements/s
/// re-planned, 18,400/s with the generic plan). Our statements are shaped
/// for their indexes, so their generic plans are the good ones (checked
/// with EXPLAIN in docs/PERFORMANCE.md).
pub async fn connect(url: &str, options: PoolOptions) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    let mut pg_settings = vec![("plan_cache_mode", "force_generic_plan".to_owned())];
    if let Some(timeout) = options.statement_timeout {
        pg_settings.push(("statement_timeout", format!("{}ms", timeout.as_millis())));
    }
    opts.max_connections(options.max_connections)
        .min_connections(1)
        .acquire_timeout(options.acquire_timeout)
        .connect_timeout(options.acquire_timeout)
        .sqlx_logging(false)
        .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR)
        .map_sqlx_postgres_opts(move |o: PgConnectOptions| o.options(pg_settings.clone()))
        .map_sqlx_sqlite_opts(|o: SqliteConnectOptions| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    Database::connect(opts).await
}

/// Applies the migrations not yet applied.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Undoes the last `steps` applied migrations.
pub async fn migrate_down(db: &DatabaseConnection, steps: u32) -> Result<(), DbErr> {
    Migrator::down(db, Some(steps)).await
}

/// Drops every table and applies every migration again: an empty database.
pub async fn migrate_fresh(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::fresh(db).await
}

/// Every migration by name, in order, and whether it is applied.
pub async fn migration_status(db: &DatabaseConnection) -> Result<Vec<(String, bool)>, DbErr> {
    let all = Migrator::get_migration_with_status(db).await?;
    Ok(all.iter().map(|m| (m.name().to_owned(), matches!(m.status(), migration::MigrationStatus::Applied))).collect())
}

/// [`migrate`] over a connection of its own, then [`connect`]. One
/// connection, because SQLite checks a DDL statement against the schema
/// the connection last read: a migration whose statements land on several
/// pooled connections can see an index one of them just dropped.
pub async fn connect_and_migrate(url: &str, options: PoolOptions) -> Result<DatabaseConnection, DbErr> {
    let single = connect(url, PoolOptions { max_connections: 1, ..options }).await?;
    migrate(&single).await?;
    single.close().await?;
    connect(url, options).await
}

/// Whether `db` is PostgreSQL (else SQLite).
pub fn is_postgres(db: &DatabaseConnection) -> bool {
    db.get_database_backend() == DbBackend::Postgres
}

/// The pool's open connections and how many of them are idle.
pub fn pool_stats(db: &DatabaseConnection) -> (u32, usize) {
    match db.get_database_backend() {
        DbBackend::Postgres => {
            let pool = db.get_postgres_connection_pool();
            (pool.size(), pool.num_idle())
        }
        _ => {
            let pool = db.get_sqlite_connection_pool();
            (pool.size(), pool.num_idle())
        }
    }
}

/// One trivial statement: whether the database answers.
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(drop)
}

/// Starts a transaction that will write. On SQLite it is `BEGIN IMMEDIATE`:
/// a deferred transaction that reads first and writes later can fail with
/// SQLITE_BUSY at once when another writer got in between, whatever the busy
/// timeout; taking the write lock up front makes writers queue instead.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// Runs a write again when PostgreSQL rolled it back whole to break a
/// deadlock (or a serialization failure), up to three times. Relationship
/// writes lock in id order and cannot deadlock with each other, but
/// settling requests and deleting an account lock rows found by a
/// subquery, and a relationship made while they waited can make them lock
/// one out of order. A post's copies into its followers' timelines take
/// their `timelines` rows in whatever order the plan finds them; the
/// trimmer no longer waits for those ([`timeline::trim`]), which is how a
/// post once deadlocked, so for createPost this is a net kept in case.
pub(crate) async fn retrying<T, F, Fut>(mut write: F) -> error::StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = error::StoreResult<T>>,
{
    let mut retries = 0;
    loop {
        match write().await {
            Err(e) if e.is_contention() && retries < 3 => {
                metrics::counter!("db_write_retries_total").increment(1);
                retries += 1;
            }
            done => return done,
        }
    }
}

/// The time to stamp a new row with: UTC, cut to the microseconds that
/// PostgreSQL keeps, so what a cursor carries equals what the row holds.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
