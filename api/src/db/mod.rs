//! Every query the server runs lives in this folder; resolvers never build
//! SQL. Functions take `&impl ConnectionTrait` so they run the same on a
//! connection or inside a transaction. Writes that touch several rows open
//! their own transaction with [`begin_write`].
//!
//! Keyset pages are plain SQL built with [`Sql`]: it keeps the statement
//! readable (the same text shows up in EXPLAIN and in the benchmarks) and
//! writes the right placeholder for each backend (`$n` or `?`).

pub mod counters;
pub mod follows;
pub mod posts;
pub mod sessions;
pub mod users;

use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait, Value,
};

use crate::pagination::PageRequest;

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
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false)
        .map_sqlx_postgres_opts(|o: PgConnectOptions| o.options([("plan_cache_mode", "force_generic_plan")]))
        .map_sqlx_sqlite_opts(|o: SqliteConnectOptions| {
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
        });
    Database::connect(opts).await
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

/// The time to stamp a new row with: UTC, cut to the microseconds that
/// PostgreSQL keeps, so what a cursor carries equals what the row holds.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A SQL text with its bound values, placeholders written per backend.
pub struct Sql {
    backend: DbBackend,
    text: String,
    values: Vec<Value>,
}

impl Sql {
    pub fn new(backend: DbBackend) -> Self {
        Sql { backend, text: String::with_capacity(256), values: Vec::new() }
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.text.push_str(sql);
        self
    }

    pub fn bind(&mut self, value: impl Into<Value>) -> &mut Self {
        self.values.push(value.into());
        match self.backend {
            DbBackend::Postgres => {
                self.text.push('$');
                self.text.push_str(&self.values.len().to_string());
            }
            _ => self.text.push('?'),
        }
        self
    }

    /// Appends ` AND (ts, id) <op> (..)` for the page's cursors. The row
    /// comparison lets PostgreSQL and SQLite seek straight into an index on
    /// (ts, id); an AND/OR chain would not.
    pub fn bounds(&mut self, ts: &str, id: &str, page: &PageRequest) -> &mut Self {
        if let Some(after) = page.after {
            self.push(&format!(" AND ({ts}, {id}) < (")).bind(after.at()).push(", ").bind(after.id).push(")");
        }
        if let Some(before) = page.before {
            self.push(&format!(" AND ({ts}, {id}) > (")).bind(before.at()).push(", ").bind(before.id).push(")");
        }
        self
    }

    /// Appends the ORDER BY of a list newest first (oldest first for
    /// `last`, which reads from the far end) and a LIMIT.
    pub fn order_limit(&mut self, ts: &str, id: &str, page: &PageRequest, limit: i64) -> &mut Self {
        let dir = if page.from_end { "ASC" } else { "DESC" };
        self.push(&format!(" ORDER BY {ts} {dir}, {id} {dir} LIMIT ")).bind(limit)
    }

    /// A whole keyset page over (ts, id): the bounds, the order, and one row
    /// more than the page to learn whether more lie beyond.
    pub fn keyset(&mut self, ts: &str, id: &str, page: &PageRequest) -> &mut Self {
        self.bounds(ts, id, page).order_limit(ts, id, page, page.limit as i64 + 1)
    }

    pub fn build(self) -> Statement {
        Statement::from_sql_and_values(self.backend, self.text, self.values)
    }
}

/// Sorts rows of one page into query order (newest first, or oldest first
/// for `last`), by their keyset key. Used after a UNION ALL, whose branches
/// SQL does not promise to keep in order.
pub fn sort_for_page<T>(rows: &mut [T], page: &PageRequest, key: impl Fn(&T) -> (DateTime<Utc>, i64)) {
    rows.sort_by(|a, b| {
        let ord = key(b).cmp(&key(a));
        if page.from_end {
            ord.reverse()
        } else {
            ord
        }
    });
}

/// Writes `SELECT * FROM (<branch 0>) b0 UNION ALL SELECT * FROM (<branch 1>) b1 ...`:
/// one statement that runs a small, index-served query per key (each branch
/// seeks its own index range and stops at its LIMIT), the portable form of
/// a LATERAL join. Each branch must select `CAST(<i> AS BIGINT) AS k` first,
/// so rows can be handed back to their key.
pub fn union_all(backend: DbBackend, branches: usize, mut branch: impl FnMut(&mut Sql, usize)) -> Statement {
    let mut sql = Sql::new(backend);
    for i in 0..branches {
        if i > 0 {
            sql.push(" UNION ALL ");
        }
        sql.push(&format!("SELECT * FROM (SELECT CAST({i} AS BIGINT) AS k, "));
        branch(&mut sql, i);
        sql.push(&format!(") b{i}"));
    }
    sql.build()
}

/// Splits the rows of a [`union_all`] back into one page per key, in order.
pub fn split_pages<T>(
    keys: &[PageRequest],
    rows: Vec<(usize, T)>,
    key: impl Fn(&T) -> (DateTime<Utc>, i64),
) -> Vec<crate::pagination::Page<T>> {
    let mut groups: Vec<Vec<T>> = keys.iter().map(|_| Vec::new()).collect();
    for (k, row) in rows {
        if let Some(group) = groups.get_mut(k) {
            group.push(row);
        }
    }
    groups
        .into_iter()
        .zip(keys)
        .map(|(mut rows, page)| {
            sort_for_page(&mut rows, page, &key);
            page.into_page(rows)
        })
        .collect()
}
