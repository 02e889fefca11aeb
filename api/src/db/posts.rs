//! Posts: writing and deleting (with the author's counter), lookups, each
//! user's posts in pages, and the home feed.

use chrono::{DateTime, Utc};
use entity::post;
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter};

use super::{begin_write, now, split_pages, union_all, Sql};
use crate::error::ApiResult;
use crate::pagination::{Page, PageRequest};

pub async fn create(db: &DatabaseConnection, user_id: i64, body: &str) -> ApiResult<post::Model> {
    let txn = begin_write(db).await?;
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("INSERT INTO posts (user_id, body, created_at) VALUES (")
        .bind(user_id)
        .push(", ")
        .bind(body)
        .push(", ")
        .bind(now())
        .push(") RETURNING id, user_id, body, created_at");
    let post = post::Model::find_by_statement(sql.build())
        .one(&txn)
        .await?
        .ok_or_else(|| crate::error::ApiError::internal("INSERT ... RETURNING returned no row"))?;
    bump_posts_count(&txn, user_id, 1).await?;
    txn.commit().await?;
    Ok(post)
}

/// Deletes the post if `author` wrote it. Returns whether a row went.
pub async fn delete(db: &DatabaseConnection, post_id: i64, author: i64) -> ApiResult<bool> {
    let txn = begin_write(db).await?;
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("DELETE FROM posts WHERE id = ").bind(post_id).push(" AND user_id = ").bind(author);
    let deleted = txn.execute_raw(sql.build()).await?.rows_affected() == 1;
    if deleted {
        bump_posts_count(&txn, author, -1).await?;
    }
    txn.commit().await?;
    Ok(deleted)
}

async fn bump_posts_count(db: &impl ConnectionTrait, user_id: i64, by: i64) -> ApiResult<()> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("UPDATE users SET posts_count = posts_count + ").bind(by).push(" WHERE id = ").bind(user_id);
    db.execute_raw(sql.build()).await?;
    Ok(())
}

pub async fn find_by_ids(db: &impl ConnectionTrait, ids: &[i64]) -> ApiResult<Vec<post::Model>> {
    Ok(post::Entity::find().filter(post::Column::Id.is_in(ids.iter().copied())).all(db).await?)
}

#[derive(FromQueryResult)]
struct PostRow {
    k: i64,
    id: i64,
    user_id: i64,
    body: String,
    created_at: DateTime<Utc>,
}

/// A page of posts per (author, page) key, all in one statement; each branch
/// is a range scan of posts (user_id, created_at, id).
pub async fn pages(db: &impl ConnectionTrait, keys: &[(i64, PageRequest)]) -> ApiResult<Vec<Page<post::Model>>> {
    let stmt = union_all(db.get_database_backend(), keys.len(), |sql, i| {
        let (user_id, page) = &keys[i];
        sql.push("id, user_id, body, created_at FROM posts WHERE user_id = ").bind(*user_id);
        sql.keyset("created_at", "id", page);
    });
    let rows = PostRow::find_by_statement(stmt).all(db).await?;
    let rows = rows
        .into_iter()
        .map(|r| (r.k as usize, post::Model { id: r.id, user_id: r.user_id, body: r.body, created_at: r.created_at }))
        .collect();
    let pages: Vec<PageRequest> = keys.iter().map(|(_, p)| *p).collect();
    Ok(split_pages(&pages, rows, |p| (p.created_at, p.id)))
}

/// The viewer's home feed: their own posts and those of everyone they
/// follow, newest first. The authors are one set (`IN (... UNION ALL ...)`),
/// never `user_id = me OR user_id IN (...)`, and the cursor is one row
/// comparison, never an AND/OR chain: both of those make PostgreSQL scan
/// the whole posts table.
pub async fn feed(db: &impl ConnectionTrait, viewer: i64, page: &PageRequest) -> ApiResult<Page<post::Model>> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT id, user_id, body, created_at FROM posts WHERE user_id IN (SELECT followed_id FROM follows WHERE follower_id = ")
        .bind(viewer)
        .push(" UNION ALL SELECT CAST(")
        .bind(viewer)
        .push(" AS BIGINT))");
    sql.keyset("created_at", "id", page);
    let rows = post::Model::find_by_statement(sql.build()).all(db).await?;
    Ok(page.into_page(rows))
}
