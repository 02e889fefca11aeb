//! Posts: writing and deleting (with the author's counter, in one
//! transaction), lookups by id, and each user's posts in pages. The home
//! feed, which reads posts across authors, is in [`crate::feed`].

use chrono::{DateTime, Utc};
use entity::{post, PostId, UserId};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, FromQueryResult, QueryFilter,
    Statement,
};

use crate::error::{StoreError, StoreResult};
use crate::page::{Page, PageRequest};
use crate::sql::{split_pages, union_all, Sql};
use crate::timeline::{self, Delivery};
use crate::{begin_write, now};

/// Writes a post and copies it into its author's followers' timelines
/// ([`crate::timeline`]), or for a popular author queues it for the
/// background (`true` then comes back with the post), in one transaction.
/// The author's row is locked first (its `posts_count` moves), so a follow
/// of the author that began meanwhile is seen by the fan-out. Run again
/// when PostgreSQL breaks a deadlock with it ([`crate::retrying`]).
pub async fn create(
    db: &DatabaseConnection,
    author: UserId,
    body: &str,
    delivery: Delivery,
) -> StoreResult<(post::Model, bool)> {
    crate::retrying(|| create_once(db, author, body, delivery)).await
}

async fn create_once(
    db: &DatabaseConnection,
    author: UserId,
    body: &str,
    delivery: Delivery,
) -> StoreResult<(post::Model, bool)> {
    let txn = begin_write(db).await?;
    let backend = db.get_database_backend();
    let followers = bump_posts_count(&txn, author, 1).await?;
    let mut sql = Sql::new(backend);
    sql.push("INSERT INTO posts (user_id, body, created_at) VALUES (")
        .bind(author)
        .push(", ")
        .bind(body)
        .push(", ")
        .bind(now())
        .push(") RETURNING id, user_id, body, created_at");
    let post =
        post::Model::find_by_statement(sql.build()).one(&txn).await?.ok_or(StoreError::Db(DbErr::RecordNotInserted))?;
    let queued = followers >= delivery.sync_limit;
    let mut sql = Sql::new(backend);
    match queued {
        true => timeline::push_enqueue(&mut sql, author, post.id, post.created_at),
        false => timeline::push_fan_out(&mut sql, author, post.id, post.created_at, None),
    }
    txn.execute_raw(sql.build()).await?;
    txn.commit().await?;
    Ok((post, queued))
}

/// Deletes the post if `author` wrote it. Its copies in timelines are
/// skipped by the read and go with the trimmer ([`crate::timeline`]); its
/// row in the delivery queue goes by cascade. Returns whether a row went.
pub async fn delete(db: &DatabaseConnection, post: PostId, author: UserId) -> StoreResult<bool> {
    let txn = begin_write(db).await?;
    // The post first: of two deletions racing for it, the second finds no
    // row and moves no counter (posts_count never goes below 0).
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("DELETE FROM posts WHERE id = ").bind(post).push(" AND user_id = ").bind(author);
    let deleted = txn.execute_raw(sql.build()).await?.rows_affected() == 1;
    if deleted {
        bump_posts_count(&txn, author, -1).await?;
    }
    txn.commit().await?;
    Ok(deleted)
}

/// Moves the author's `posts_count` (locking the row); returns their
/// followers count.
async fn bump_posts_count(db: &impl ConnectionTrait, user: UserId, by: i64) -> StoreResult<i64> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("UPDATE users SET posts_count = posts_count + ")
        .bind(by)
        .push(" WHERE id = ")
        .bind(user)
        .push(" RETURNING followers_count");
    let row = db.query_one_raw(sql.build()).await?.ok_or(StoreError::NotFound("this account no longer exists"))?;
    Ok(row.try_get("", "followers_count")?)
}

pub async fn find_by_ids(db: &impl ConnectionTrait, ids: &[PostId]) -> StoreResult<Vec<post::Model>> {
    Ok(post::Entity::find().filter(post::Column::Id.is_in(ids.iter().copied())).all(db).await?)
}

#[derive(FromQueryResult)]
struct PostRow {
    k: i64,
    id: PostId,
    user_id: UserId,
    body: String,
    created_at: DateTime<Utc>,
}

/// A page of posts per (author, page) key, all in one statement; each branch
/// is a range scan of posts (user_id, created_at, id). With a `viewer`,
/// an author in a block with them either way has an empty page (two probes
/// of blocks' keys per branch, run once).
pub async fn pages(
    db: &impl ConnectionTrait,
    viewer: Option<UserId>,
    keys: &[(UserId, PageRequest)],
) -> StoreResult<Vec<Page<post::Model>>> {
    let rows = PostRow::find_by_statement(pages_stmt(db.get_database_backend(), viewer, keys)).all(db).await?;
    let rows = rows
        .into_iter()
        .map(|r| (r.k as usize, post::Model { id: r.id, user_id: r.user_id, body: r.body, created_at: r.created_at }))
        .collect();
    let pages: Vec<PageRequest> = keys.iter().map(|(_, p)| *p).collect();
    Ok(split_pages(&pages, rows, |p| (p.created_at, p.id.0)))
}

pub fn pages_stmt(backend: DbBackend, viewer: Option<UserId>, keys: &[(UserId, PageRequest)]) -> Statement {
    union_all(backend, keys.len(), |sql, i| {
        let (author, page) = &keys[i];
        sql.push("id, user_id, body, created_at FROM posts WHERE user_id = ").bind(*author);
        if let Some(viewer) = viewer.filter(|v| v != author) {
            sql.push(" AND NOT EXISTS (SELECT 1 FROM blocks WHERE blocker_id = ")
                .bind(viewer)
                .push(" AND blocked_id = ")
                .bind(*author)
                .push(") AND NOT EXISTS (SELECT 1 FROM blocks WHERE blocker_id = ")
                .bind(*author)
                .push(" AND blocked_id = ")
                .bind(viewer)
                .push(")");
        }
        sql.keyset("created_at", "id", page);
    })
}
