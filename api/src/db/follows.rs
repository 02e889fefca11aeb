//! Follow edges: idempotent follow and unfollow (with the counters on both
//! users moved in the same transaction), relationship checks in batches,
//! and follower/following pages for many users in one statement.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use entity::follow;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, FromQueryResult, QueryFilter, QuerySelect,
};

use super::{begin_write, now, split_pages, union_all, Sql};
use crate::error::ApiResult;
use crate::pagination::{Page, PageRequest};

/// Which list of a user: the people following them, or the people they follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Followers,
    Following,
}

impl Side {
    /// (the column naming the list's owner, the column naming the other user)
    fn columns(self) -> (&'static str, &'static str) {
        match self {
            Side::Followers => ("followed_id", "follower_id"),
            Side::Following => ("follower_id", "followed_id"),
        }
    }
}

/// One entry of a followers/following list: the other user and since when.
#[derive(Clone, Debug)]
pub struct Edge {
    pub user_id: i64,
    pub followed_at: DateTime<Utc>,
}

/// Creates the edge if absent. Returns whether anything changed. Two racing
/// calls for one pair leave one row: the loser's insert waits on the primary
/// key and then does nothing, and only the winner moves the counters.
pub async fn follow(db: &DatabaseConnection, follower: i64, followed: i64) -> ApiResult<bool> {
    let txn = begin_write(db).await?;
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("INSERT INTO follows (follower_id, followed_id, created_at) VALUES (")
        .bind(follower)
        .push(", ")
        .bind(followed)
        .push(", ")
        .bind(now())
        .push(") ON CONFLICT DO NOTHING");
    let inserted = txn.execute_raw(sql.build()).await?.rows_affected() == 1;
    if inserted {
        move_counters(&txn, follower, followed, 1).await?;
    }
    txn.commit().await?;
    Ok(inserted)
}

/// Removes the edge if present. Returns whether anything changed.
pub async fn unfollow(db: &DatabaseConnection, follower: i64, followed: i64) -> ApiResult<bool> {
    let txn = begin_write(db).await?;
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("DELETE FROM follows WHERE follower_id = ").bind(follower).push(" AND followed_id = ").bind(followed);
    let deleted = txn.execute_raw(sql.build()).await?.rows_affected() == 1;
    if deleted {
        move_counters(&txn, follower, followed, -1).await?;
    }
    txn.commit().await?;
    Ok(deleted)
}

/// One UPDATE for both users' counters (one round trip, and both rows are
/// locked in one index order, so opposite follows cannot deadlock).
async fn move_counters(db: &impl ConnectionTrait, follower: i64, followed: i64, by: i64) -> ApiResult<()> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("UPDATE users SET following_count = following_count + CASE WHEN id = ")
        .bind(follower)
        .push(" THEN ")
        .bind(by)
        .push(" ELSE 0 END, followers_count = followers_count + CASE WHEN id = ")
        .bind(followed)
        .push(" THEN ")
        .bind(by)
        .push(" ELSE 0 END WHERE id IN (")
        .bind(follower)
        .push(", ")
        .bind(followed)
        .push(")");
    db.execute_raw(sql.build()).await?;
    Ok(())
}

/// Of `candidates`, the ones `follower` follows.
pub async fn followed_among(
    db: &impl ConnectionTrait,
    follower: i64,
    candidates: &[i64],
) -> ApiResult<HashSet<i64>> {
    let ids: Vec<i64> = follow::Entity::find()
        .select_only()
        .column(follow::Column::FollowedId)
        .filter(follow::Column::FollowerId.eq(follower))
        .filter(follow::Column::FollowedId.is_in(candidates.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(ids.into_iter().collect())
}

/// Of `candidates`, the ones who follow `followed`.
pub async fn followers_among(
    db: &impl ConnectionTrait,
    followed: i64,
    candidates: &[i64],
) -> ApiResult<HashSet<i64>> {
    let ids: Vec<i64> = follow::Entity::find()
        .select_only()
        .column(follow::Column::FollowerId)
        .filter(follow::Column::FollowedId.eq(followed))
        .filter(follow::Column::FollowerId.is_in(candidates.iter().copied()))
        .into_tuple()
        .all(db)
        .await?;
    Ok(ids.into_iter().collect())
}

#[derive(FromQueryResult)]
struct EdgeRow {
    k: i64,
    other_id: i64,
    created_at: DateTime<Utc>,
}

/// A page of one list per (owner, page) key, all in one statement; each
/// branch is a range scan of follows (owner, created_at, other).
pub async fn pages(db: &impl ConnectionTrait, side: Side, keys: &[(i64, PageRequest)]) -> ApiResult<Vec<Page<Edge>>> {
    let (owner, other) = side.columns();
    let stmt = union_all(db.get_database_backend(), keys.len(), |sql, i| {
        let (owner_id, page) = &keys[i];
        sql.push(&format!("{other} AS other_id, created_at FROM follows WHERE {owner} = ")).bind(*owner_id);
        sql.keyset("created_at", other, page);
    });
    let rows = EdgeRow::find_by_statement(stmt).all(db).await?;
    let rows = rows
        .into_iter()
        .map(|r| (r.k as usize, Edge { user_id: r.other_id, followed_at: r.created_at }))
        .collect();
    let pages: Vec<PageRequest> = keys.iter().map(|(_, p)| *p).collect();
    Ok(split_pages(&pages, rows, |e| (e.followed_at, e.user_id)))
}
