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
    /// A row the operation needs is not there.
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// Anything else the database said: a bug or an outage, never the
    /// client's doing.
    #[error("database error: {0}")]
    Db(#[from] DbErr),
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
            Constraint::EmailTaken => "users_email_lower_key",
        }
    }
}

/// Turns a unique violation of one of our named constraints into
/// [`StoreError::Conflict`]; anything else stays [`StoreError::Db`]
/// (launchbadge's `on_constraint`).
///
/// PostgreSQL reports the constraint's name. SQLite has no such field: for
/// a unique index on an expression, as ours are, its message is always
/// `UNIQUE constraint failed: index '<name>'`, and that name is read from it.
pub fn on_constraint(err: DbErr) -> StoreError {
    if let Some(SqlErr::UniqueConstraintViolation(_)) = err.sql_err() {
        if let Some(name) = constraint_name(&err) {
            if let Some(c) = Constraint::ALL.into_iter().find(|c| c.index() == name) {
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
    let (_, rest) = db.message().split_once("index '")?;
    rest.split_once('\'').map(|(name, _)| name.to_owned())
}
