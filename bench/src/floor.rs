//! The raw-SQL floor: the statements the server runs for a request, built
//! by the store's own statement builders and run straight through sqlx,
//! bound exactly as SeaORM binds them. What a request costs beyond this is
//! the cost of HTTP, GraphQL and the ORM.

use sea_orm::sqlx::{self, postgres::PgPoolOptions, sqlite::SqlitePoolOptions, Row};
use sea_orm::{DbBackend, Statement};
use sea_query_sqlx::SqlxValues;

#[derive(Clone)]
pub enum Floor {
    Pg(sqlx::PgPool),
    Lite(sqlx::SqlitePool),
}

fn values(stmt: &Statement) -> SqlxValues {
    SqlxValues(stmt.values.clone().unwrap_or(sea_orm::sea_query::Values(Vec::new())))
}

macro_rules! on_pool {
    ($self:expr, $pool:ident => $body:expr) => {
        match $self {
            Floor::Pg($pool) => $body,
            Floor::Lite($pool) => $body,
        }
    };
}

impl Floor {
    pub async fn connect(url: &str, connections: u32) -> Result<Self, String> {
        if url.starts_with("postgres") {
            // The server's connection settings (store::connect), so the
            // floor runs the same plans.
            let opts: sqlx::postgres::PgConnectOptions = url.parse().map_err(|e: sqlx::Error| e.to_string())?;
            let opts = opts.options([("plan_cache_mode", "force_generic_plan")]);
            // No ping before each statement: the server pings only
            // connections idle for over a second (store::PING_IF_IDLE_FOR),
            // none under load.
            let pool = PgPoolOptions::new()
                .max_connections(connections)
                .test_before_acquire(false)
                .connect_with(opts)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Floor::Pg(pool))
        } else {
            let opts: sqlx::sqlite::SqliteConnectOptions = url.parse().map_err(|e: sqlx::Error| e.to_string())?;
            let opts = opts
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                .busy_timeout(std::time::Duration::from_secs(10));
            let pool = SqlitePoolOptions::new()
                .max_connections(connections)
                .test_before_acquire(false)
                .connect_with(opts)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Floor::Lite(pool))
        }
    }

    pub fn backend(&self) -> DbBackend {
        match self {
            Floor::Pg(_) => DbBackend::Postgres,
            Floor::Lite(_) => DbBackend::Sqlite,
        }
    }

    /// Runs a query and returns the i64 column `col` of every row.
    pub async fn ids(&self, stmt: Statement, col: &str) -> Result<Vec<i64>, String> {
        on_pool!(self, pool => {
            let rows = sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), values(&stmt))
                .fetch_all(pool)
                .await
                .map_err(|e| format!("{e}: {}", stmt.sql))?;
            rows.iter().map(|r| r.try_get::<i64, _>(col).map_err(|e| e.to_string())).collect()
        })
    }

    /// Runs a query and returns the i64 columns `a` and `b` of its first
    /// row.
    pub async fn pair(&self, stmt: Statement, a: &str, b: &str) -> Result<(i64, i64), String> {
        on_pool!(self, pool => {
            let row = sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), values(&stmt))
                .fetch_one(pool)
                .await
                .map_err(|e| format!("{e}: {}", stmt.sql))?;
            let get = |col: &str| row.try_get::<i64, _>(col).map_err(|e| e.to_string());
            Ok((get(a)?, get(b)?))
        })
    }

    /// Runs a query and returns how many rows it gave.
    pub async fn rows(&self, stmt: Statement) -> Result<usize, String> {
        on_pool!(self, pool => {
            let rows = sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), values(&stmt))
                .fetch_all(pool)
                .await
                .map_err(|e| format!("{e}: {}", stmt.sql))?;
            Ok(rows.len())
        })
    }

    /// Runs a feed's timeline read ([`store::feed::timeline_stmt`]): its
    /// floor and how many posts came back, or `None` without a timeline.
    pub async fn timeline(&self, stmt: Statement) -> Result<Option<(chrono::DateTime<chrono::Utc>, usize)>, String> {
        on_pool!(self, pool => {
            let rows = sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), values(&stmt))
                .fetch_all(pool)
                .await
                .map_err(|e| format!("{e}: {}", stmt.sql))?;
            let Some(first) = rows.first() else { return Ok(None) };
            let floor = first.try_get::<chrono::DateTime<chrono::Utc>, _>("floor_at").map_err(|e| e.to_string())?;
            let mut kept = 0;
            for row in &rows {
                if row.try_get::<Option<i64>, _>("post_id").map_err(|e| e.to_string())?.is_some() {
                    kept += 1;
                }
            }
            Ok(Some((floor, kept)))
        })
    }

    /// Runs `stmts` in one transaction (`BEGIN IMMEDIATE` on SQLite, as
    /// the store's writes do).
    pub async fn transaction(&self, stmts: Vec<Statement>) -> Result<(), String> {
        let begin = match self {
            Floor::Pg(_) => "BEGIN",
            Floor::Lite(_) => "BEGIN IMMEDIATE",
        };
        on_pool!(self, pool => {
            let mut conn = pool.acquire().await.map_err(|e| e.to_string())?;
            sqlx::query(begin).execute(&mut *conn).await.map_err(|e| e.to_string())?;
            for stmt in &stmts {
                sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), values(stmt))
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            sqlx::query("COMMIT").execute(&mut *conn).await.map_err(|e| e.to_string())?;
            Ok(())
        })
    }

    /// PostgreSQL's plan of `stmt`, run for real (`EXPLAIN (ANALYZE,
    /// BUFFERS)`), inside a transaction that is rolled back.
    pub async fn explain(&self, stmt: &Statement) -> Result<String, String> {
        let Floor::Pg(pool) = self else { return Ok("(EXPLAIN is shown for PostgreSQL only)".into()) };
        // Prepared, then executed with the request's values: the plan is
        // the generic one the server's connections run
        // (plan_cache_mode = force_generic_plan), not a custom plan for
        // these values.
        let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("PREPARE fg_explain AS {}", stmt.sql)))
            .execute(&mut *tx)
            .await
            .map_err(|e| e.to_string())?;
        let count = stmt.values.as_ref().map_or(0, |v| v.0.len());
        let args: Vec<String> = (1..=count).map(|i| format!("${i}")).collect();
        let execute = match count {
            0 => "EXPLAIN (ANALYZE, BUFFERS) EXECUTE fg_explain".to_owned(),
            // EXECUTE takes no bind parameters: the values go in as
            // literals (SeaORM writes them, as it does for logs).
            _ => sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                format!("EXPLAIN (ANALYZE, BUFFERS) EXECUTE fg_explain({})", args.join(", ")),
                stmt.values.clone().map(|v| v.0).unwrap_or_default(),
            )
            .to_string(),
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(execute)).fetch_all(&mut *tx).await.map_err(|e| e.to_string())?;
        // A prepared statement outlives the transaction: drop it.
        sqlx::raw_sql("DEALLOCATE fg_explain").execute(&mut *tx).await.map_err(|e| e.to_string())?;
        tx.rollback().await.map_err(|e| e.to_string())?;
        Ok(rows.iter().filter_map(|r| r.try_get::<String, _>(0).ok()).collect::<Vec<_>>().join("\n"))
    }
}

/// The server's session cache as the floor keeps it: on PostgreSQL a
/// viewer's session row (id, following count) is looked up once and then
/// trusted for [`Sessions::TTL`], as the server does
/// (`api::auth::SessionCache`; the suite starts it with
/// `SESSION_CACHE_SECS` set to the same), so the floor runs the lookup
/// only where the server does. The server keeps 50,000 entries; the
/// datasets' viewers fit. SQLite's server keeps none.
#[derive(Default)]
pub struct Sessions(std::sync::Mutex<std::collections::HashMap<i64, Session>>);

/// A session row (id, following count) and when it was looked up.
type Session = ((i64, i64), std::time::Instant);

impl Sessions {
    pub const TTL: std::time::Duration = std::time::Duration::from_secs(300);

    pub fn get(&self, viewer: i64) -> Option<(i64, i64)> {
        let map = self.0.lock().unwrap();
        map.get(&viewer).filter(|(_, at)| at.elapsed() < Self::TTL).map(|(row, _)| *row)
    }

    pub fn put(&self, viewer: i64, row: (i64, i64)) {
        self.0.lock().unwrap().insert(viewer, (row, std::time::Instant::now()));
    }
}
