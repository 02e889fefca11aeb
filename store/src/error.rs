//! `StoreError`: what a store function can fail with. It knows nothing of
//! GraphQL; the API maps it to an error code in one `From` (api/src/error.rs).
//!
//! A refused write is told apart by the constraint that refused it, named
//! by the database ([`Constraint`]), so the database stays the source of
//! truth for uniqueness and two racing writes cannot both win.

use sea_orm::{DbErr, RuntimeErr, SqlErr};

pub type StoreResult<T> = Result<T, StoreError>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A write broke a constraint that a client can break (a taken name).
    #[error("the write conflicts with {0:?}")]
    Conflict(Constraint),
    /// A row the operation needs is not there (the message says which, for
    /// the client).
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// The relationship rules refuse the write (a block, a closed account);
    /// the message says why, for the client.
    #[error("refused: {0}")]
    Refused(&'static str),
    /// The database cannot be reached (down, restarting, no free
    /// connection within the acquire timeout): retrying later may work.
    #[error("database unavailable: {0}")]
    Unavailable(DbErr),
    /// The statement ran past the database's `statement_timeout`.
    #[error("statement timed out")]
    TimedOut,
    /// Anything else the database said: a bug, never the client's doing.
    #[error("database error: {0}")]
    Db(DbErr),
}

impl From<DbErr> for StoreError {
    /// Tells an outage (worth a retry) and a timeout from everything else.
    fn from(err: DbErr) -> Self {
        let sqlx = match &err {
            DbErr::ConnectionAcquire(_) => return StoreError::Unavailable(err),
            DbErr::Conn(RuntimeErr::SqlxError(e))
            | DbErr::Exec(RuntimeErr::SqlxError(e))
            | DbErr::Query(RuntimeErr::SqlxError(e)) => e,
            DbErr::Conn(_) => return StoreError::Unavailable(err),
            _ => return StoreError::Db(err),
        };
        use sea_orm::sqlx::Error as E;
        match &**sqlx {
            E::Io(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed | E::Tls(_) => StoreError::Unavailable(err),
            E::Database(db) => match db.code().as_deref() {
                // query_canceled: statement_timeout.
                Some("57014") => StoreError::TimedOut,
                // admin_shutdown, crash_shutdown, cannot_connect_now; and
                // serialization_failure, deadlock_detected: the transaction
                // was rolled back whole and may be retried.
                Some("57P01" | "57P02" | "57P03" | "40001" | "40P01") => StoreError::Unavailable(err),
                _ => StoreError::Db(err),
            },
            _ => StoreError::Db(err),
        }
    }
}

impl StoreError {
    /// Whether PostgreSQL rolled the transaction back to break a deadlock
    /// or a serialization failure: nothing was written, and running it
    /// again may succeed.
    pub fn is_contention(&self) -> bool {
        let StoreError::Unavailable(DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) =
            self
        else {
            return false;
        };
        e.as_database_error().and_then(|d| d.code()).is_some_and(|c| c == "40P01" || c == "40001")
    }
}

/// The constraints a client's input can break, by the names the migrations
/// give them (migration/src).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Constraint {
    UsernameTaken,
    EmailTaken,
}

impl Constraint {
    const ALL: [Constraint; 2] = [Constraint::UsernameTaken, Constraint::EmailTaken];

    /// The unique index's name in both databases.
    pub fn index(self) -> &'static str {
        match self {
            Constraint::UsernameTaken => "users_username_lower_key",
            Constraint::EmailTaken => "users_email_key_idx",
        }
    }

    /// How SQLite names the index in its message: `index '<name>'` for an
    /// index on an expression, its `table.column` list for one on columns.
    fn sqlite_name(self) -> &'static str {
        match self {
            Constraint::UsernameTaken => "users_username_lower_key",
            Constraint::EmailTaken => "users.email_key",
        }
    }
}

/// Turns a unique violation of one of our named constraints into
/// [`StoreError::Conflict`]; anything else stays [`StoreError::Db`]
/// (launchbadge's `on_constraint`).
///
/// PostgreSQL reports the constraint's name. SQLite has no such field; its
/// message is always `UNIQUE constraint failed: ` and then `index '<name>'`
/// for an index on an expression or the `table.column` list for one on
/// columns, and that is what is read from it.
pub fn on_constraint(err: DbErr) -> StoreError {
    if let Some(SqlErr::UniqueConstraintViolation(_)) = err.sql_err() {
        if let Some(name) = constraint_name(&err) {
            if let Some(c) = Constraint::ALL.into_iter().find(|c| c.index() == name || c.sqlite_name() == name) {
                return StoreError::Conflict(c);
            }
        }
    }
    StoreError::Db(err)
}

fn constraint_name(err: &DbErr) -> Option<String> {
    let (DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e))) = err else {
        return None;
    };
    let db = e.as_database_error()?;
    if let Some(name) = db.constraint() {
        return Some(name.to_owned());
    }
    let (_, named) = db.message().split_once("UNIQUE constraint failed: ")?;
    match named.strip_prefix("index '") {
        Some(rest) => rest.split_once('\'').map(|(name, _)| name.to_owned()),
        None => Some(named.trim().to_owned()),
    }
}
