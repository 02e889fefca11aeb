//! Bearer-token sessions, stored as the token's SHA-256 only.

use entity::{session, user};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, Set};

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
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT users.* FROM sessions JOIN users ON users.id = sessions.user_id WHERE sessions.token_hash = ")
        .bind(token_hash);
    Ok(user::Model::find_by_statement(sql.build()).one(db).await?)
}

pub async fn delete(db: &impl ConnectionTrait, token_hash: &str) -> ApiResult<bool> {
    let res = session::Entity::delete_many().filter(session::Column::TokenHash.eq(token_hash)).exec(db).await?;
    Ok(res.rows_affected > 0)
}
