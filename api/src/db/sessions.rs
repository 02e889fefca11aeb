//! Bearer-token sessions, stored as the token's SHA-256 only.

use entity::{session, user};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, QueryFilter, Set, Statement,
};

use super::{now, Sql};
use crate::error::ApiResult;

pub async fn create(db: &impl ConnectionTrait, user_id: i64, token_hash: String) -> ApiResult<()> {
    session::ActiveModel { token_hash: Set(token_hash), user_id: Set(user_id), created_at: Set(now()) }
        .insert(db)
        .await?;
    Ok(())
}

/// The user a token belongs to, in one statement.
pub async fn find_user(db: &impl ConnectionTrait, token_hash: &str) -> ApiResult<Option<user::Model>> {
    Ok(user::Model::find_by_statement(find_user_stmt(db.get_database_backend(), token_hash)).one(db).await?)
}

pub fn find_user_stmt(backend: DbBackend, token_hash: &str) -> Statement {
    let mut sql = Sql::new(backend);
    sql.push("SELECT users.* FROM sessions JOIN users ON users.id = sessions.user_id WHERE sessions.token_hash = ")
        .bind(token_hash);
    sql.build()
}

pub async fn delete(db: &impl ConnectionTrait, token_hash: &str) -> ApiResult<bool> {
    let res = session::Entity::delete_many().filter(session::Column::TokenHash.eq(token_hash)).exec(db).await?;
    Ok(res.rows_affected > 0)
}
