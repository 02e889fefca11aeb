//! Accounts: lookups by id, username or login, the user directory, sign-up
//! (the account and its first session in one transaction). Profile edits
//! are in [`crate::relationships::update_profile`] (the follow policy is part
//! of them).

use entity::{session, user, UserId};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, DbBackend, FromQueryResult, Set, Statement};

use crate::error::{on_constraint, StoreResult};
use crate::follows::like_prefix;
use crate::page::{Page, PageRequest};
use crate::sessions::TokenHash;
use crate::sql::Sql;
use crate::{begin_write, now};

/// A user's columns as answers read them, from `users u`: the row but for
/// the two no answer shows, `email_key` and `password_hash`, which come
/// back empty (so a page of 100 users does not carry 100 password hashes).
/// Every read for an answer uses it: rows read so feed the request's cache
/// of users by id, and none of them holds a hash. Only sign-in reads the
/// hash with the row ([`find_by_login`]), deleteAccount reads it alone
/// ([`password_hash`]), and writes (locks, `RETURNING *`) read whole rows.
pub const SHOWN: &str = "u.id, u.username, u.email, '' AS email_key, '' AS password_hash, u.display_name, u.bio, \
    u.created_at, u.followers_count, u.following_count, u.posts_count, u.follow_policy, u.network_hidden";

/// Whether [`SHOWN`] reads `column` as `''`.
pub fn left_out(column: user::Column) -> bool {
    matches!(column, user::Column::EmailKey | user::Column::PasswordHash)
}

pub async fn find_by_ids(db: &impl ConnectionTrait, ids: &[UserId]) -> StoreResult<Vec<user::Model>> {
    Ok(user::Model::find_by_statement(find_by_ids_stmt(db.get_database_backend(), ids)).all(db).await?)
}

pub fn find_by_ids_stmt(backend: DbBackend, ids: &[UserId]) -> Statement {
    let mut sql = Sql::new(backend);
    sql.push(&format!("SELECT {SHOWN} FROM users u WHERE u.id IN (")).bind_list(ids).push(")");
    sql.build()
}

/// Case-insensitive, through the unique index on lower(username).
pub async fn find_by_username(db: &impl ConnectionTrait, username: &str) -> StoreResult<Option<user::Model>> {
    Ok(user::Model::find_by_statement(find_by_username_stmt(db.get_database_backend(), username)).one(db).await?)
}

pub fn find_by_username_stmt(backend: DbBackend, username: &str) -> Statement {
    let mut sql = Sql::new(backend);
    sql.push(&format!("SELECT {SHOWN} FROM users u WHERE lower(u.username) = lower(")).bind(username).push(")");
    sql.build()
}

/// The account's password hash, read on its own (for deleteAccount: no
/// row read for an answer carries it, see [`SHOWN`]). None when the
/// account is gone.
pub async fn password_hash(db: &impl ConnectionTrait, id: UserId) -> StoreResult<Option<String>> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT password_hash FROM users WHERE id = ").bind(id);
    let row = db.query_one_raw(sql.build()).await?;
    Ok(row.map(|r| r.try_get::<String>("", "password_hash")).transpose()?)
}

/// A login is a username (ASCII, case-insensitive) or an email (compared
/// by its key: NFKC, lower case). The whole row: the one read for an
/// answer that carries the password hash, for sign-in to check.
pub async fn find_by_login(db: &impl ConnectionTrait, login: &str) -> StoreResult<Option<user::Model>> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT * FROM users WHERE lower(username) = lower(")
        .bind(login)
        .push(") OR email_key = ")
        .bind(user::email_key(login));
    Ok(user::Model::find_by_statement(sql.build()).one(db).await?)
}

/// All users, newest account first; `prefix` filters on the username,
/// case-insensitively.
pub async fn list(
    db: &impl ConnectionTrait,
    prefix: Option<&str>,
    page: &PageRequest,
) -> StoreResult<Page<user::Model>> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push(&format!("SELECT {SHOWN} FROM users u WHERE 1 = 1"));
    if let Some(prefix) = prefix {
        sql.push(" AND lower(u.username) LIKE ").bind(like_prefix(prefix)).push(" ESCAPE '\\'");
    }
    sql.keyset("u.created_at", "u.id", page);
    let rows = user::Model::find_by_statement(sql.build()).all(db).await?;
    Ok(page.into_page(rows))
}

/// A new account, its input already validated.
pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password_hash: String,
    pub display_name: &'a str,
}

/// Inserts an account and its first session, in one transaction. A taken
/// username or email is a [`Conflict`](crate::StoreError::Conflict),
/// decided by the unique indexes (so two racing sign-ups cannot both win).
pub async fn sign_up(db: &DatabaseConnection, new: NewUser<'_>, token: &TokenHash) -> StoreResult<user::Model> {
    let txn = begin_write(db).await?;
    let row = user::ActiveModel {
        username: Set(new.username.to_owned()),
        email: Set(new.email.to_owned()),
        email_key: Set(user::email_key(new.email)),
        password_hash: Set(new.password_hash),
        display_name: Set(new.display_name.to_owned()),
        bio: Set(String::new()),
        created_at: Set(now()),
        followers_count: Set(0),
        following_count: Set(0),
        posts_count: Set(0),
        ..Default::default()
    };
    let user = row.insert(&txn).await.map_err(on_constraint)?;
    session::ActiveModel { token_hash: Set(token.0.clone()), user_id: Set(user.id), created_at: Set(now()) }
        .insert(&txn)
        .await?;
    // A new account follows no one: its timeline starts empty and complete.
    txn.execute_raw(crate::timeline::start_stmt(txn.get_database_backend(), user.id)).await?;
    txn.commit().await?;
    Ok(user)
}

#[cfg(test)]
mod tests {
    use sea_orm::{Iden, Iterable};

    use super::*;

    #[test]
    fn shown_reads_every_column_and_no_hash() {
        for column in user::Column::iter() {
            let name = column.to_string();
            let read = if left_out(column) { format!("'' AS {name}") } else { format!("u.{name}") };
            assert_eq!(SHOWN.split(", ").filter(|c| c.trim() == read).count(), 1, "{name} in {SHOWN}");
        }
        assert_eq!(SHOWN.split(", ").count(), user::Column::iter().count());
        assert!(left_out(user::Column::PasswordHash) && left_out(user::Column::EmailKey));
    }
}
