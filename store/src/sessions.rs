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
        TokenHash(digest.iter().map(|b| format!("{b:02x}")).collect())
    }
}

pub async fn create(db: &impl ConnectionTrait, user_id: UserId, token: &TokenHash) -> StoreResult<()> {
    session::ActiveModel { token_hash: Set(token.0.clone()), user_id: Set(user_id), created_at: Set(now()) }
        .insert(db)
        .await?;
    Ok(())
}

/// The user a token belongs to, in one statement.
pub async fn find_user(db: &impl ConnectionTrait, token: &TokenHash) -> StoreResult<Option<user::Model>> {
    Ok(user::Model::find_by_statement(find_user_stmt(db.get_database_backend(), token)).one(db).await?)
}

pub fn find_user_stmt(backend: DbBackend, token: &TokenHash) -> Statement {
    let mut sql = Sql::new(backend);
    sql.push("SELECT users.* FROM sessions JOIN users ON users.id = sessions.user_id WHERE sessions.token_hash = ")
        .bind(token.0.as_str());
    sql.build()
}

/// Revokes a token. Returns whether it existed.
pub async fn delete(db: &impl ConnectionTrait, token: &TokenHash) -> StoreResult<bool> {
    let res = session::Entity::delete_many().filter(session::Column::TokenHash.eq(token.0.as_str())).exec(db).await?;
    Ok(res.rows_affected > 0)
}
