//! Bearer-token sessions. A token is never stored: only its SHA-256
//! ([`TokenHash`]), so a leaked database does not leak usable tokens, and
//! signing out deletes the row.

use entity::{session, user, UserId};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, Set,
    Statement,
};
use sha2::{Digest, Sha256};

use crate::error::StoreResult;
use crate::now;
use crate::sql::Sql;

/// The stored form of a bearer token: its SHA-256, in hex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenHash(pub String);

impl TokenHash {
    pub fn of(token: &str) -> Self {
        let digest = Sha256::digest(token.as_bytes());
        TokenHash(hex::encode(digest))
    }
}

pub async fn create(db: &impl ConnectionTrait, user_id: UserId, token: &TokenHash) -> StoreResult<()> {
    session::ActiveModel { token_hash: Set(token.0.clone()), user_id: Set(user_id), created_at: Set(now()) }
        .insert(db)
        .await?;
    Ok(())
}

/// The user a token belongs to, in one statement (its row as answers read
/// it: [`crate::users::SHOWN`]).
pub async fn find_user(db: &impl ConnectionTrait, token: &TokenHash) -> StoreResult<Option<user::Model>> {
    Ok(user::Model::find_by_statement(find_user_stmt(db.get_database_backend(), token)).one(db).await?)
}

pub fn find_user_stmt(backend: DbBackend, token: &TokenHash) -> Statement {
    let mut sql = Sql::new(backend);
    sql.push(&format!(
        "SELECT {} FROM sessions JOIN users u ON u.id = sessions.user_id WHERE sessions.token_hash = ",
        crate::users::SHOWN
    ))
    .bind(token.0.as_str());
    sql.build()
}

/// Revokes a token. Returns whether it existed. On PostgreSQL the same
/// statement tells every server instance ([`CHANNEL`]), at commit.
pub async fn delete(db: &impl ConnectionTrait, token: &TokenHash) -> StoreResult<bool> {
    if db.get_database_backend() == DbBackend::Postgres {
        let mut sql = Sql::new(DbBackend::Postgres);
        sql.push("WITH gone AS (DELETE FROM sessions WHERE token_hash = ")
            .bind(token.0.as_str())
            .push(" RETURNING token_hash) SELECT pg_notify(")
            .bind(CHANNEL)
            .push(", 'token:' || token_hash)::text AS notified FROM gone");
        return Ok(!db.query_all_raw(sql.build()).await?.is_empty());
    }
    let res = session::Entity::delete_many().filter(session::Column::TokenHash.eq(token.0.as_str())).exec(db).await?;
    Ok(res.rows_affected > 0)
}

/// The PostgreSQL channel on which revoked sessions are announced, so that
/// every server instance can drop what it cached (`api/src/auth.rs`).
pub const CHANNEL: &str = "followgraph_sessions";

/// Announces that every session of `user` is gone (the account was
/// deleted), within `db`'s transaction: it is sent at commit. Nothing on
/// SQLite (one process; nothing to tell).
pub async fn announce_user_gone(db: &impl ConnectionTrait, user: UserId) -> StoreResult<()> {
    if db.get_database_backend() == DbBackend::Postgres {
        let mut sql = Sql::new(DbBackend::Postgres);
        sql.push("SELECT pg_notify(").bind(CHANNEL).push(", ").bind(format!("user:{}", user.0)).push(")::text");
        db.query_all_raw(sql.build()).await?;
    }
    Ok(())
}

/// What a revocation announcement says.
#[derive(Debug, PartialEq, Eq)]
pub enum Revoked {
    Token(TokenHash),
    User(UserId),
}

/// What the listening connection hears.
#[derive(Debug, PartialEq, Eq)]
pub enum Heard {
    Revoked(Revoked),
    /// A [`ping`], this instance's or another's.
    Ping(u64),
}

/// Sends a ping on [`CHANNEL`] through `db`: an instance that hears its
/// own knows its listening connection works end to end.
pub async fn ping(db: &impl ConnectionTrait, nonce: u64) -> StoreResult<()> {
    if db.get_database_backend() == DbBackend::Postgres {
        let mut sql = Sql::new(DbBackend::Postgres);
        sql.push("SELECT pg_notify(").bind(CHANNEL).push(", ").bind(format!("ping:{nonce}")).push(")::text");
        db.query_all_raw(sql.build()).await?;
    }
    Ok(())
}

/// A PostgreSQL connection of its own, listening on [`CHANNEL`].
pub struct Revocations(sea_orm::sqlx::postgres::PgListener);

impl Revocations {
    /// Listens on a new connection to `url` (PostgreSQL only).
    pub async fn listen(url: &str) -> Result<Self, String> {
        let mut listener = sea_orm::sqlx::postgres::PgListener::connect(url).await.map_err(|e| e.to_string())?;
        // A lost connection is reported at once (the caller stops trusting
        // its cache), not after sqlx has tried to reconnect.
        listener.eager_reconnect(false);
        listener.listen(CHANNEL).await.map_err(|e| e.to_string())?;
        Ok(Revocations(listener))
    }

    /// The next announcement; `None` when the connection was lost (an
    /// announcement may have been missed: listen again).
    pub async fn next(&mut self) -> Option<Heard> {
        loop {
            let notification = self.0.try_recv().await.ok()??;
            let payload = notification.payload();
            if let Some(hash) = payload.strip_prefix("token:") {
                return Some(Heard::Revoked(Revoked::Token(TokenHash(hash.to_owned()))));
            }
            if let Some(id) = payload.strip_prefix("user:").and_then(|id| id.parse().ok()) {
                return Some(Heard::Revoked(Revoked::User(UserId(id))));
            }
            if let Some(nonce) = payload.strip_prefix("ping:").and_then(|n| n.parse().ok()) {
                return Some(Heard::Ping(nonce));
            }
        }
    }
}
