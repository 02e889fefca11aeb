//! Follow edges: idempotent follow and unfollow (with the counters on both
//! users moved in the same transaction), relationship checks in batches,
//! and follower/following pages for many users in one statement.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, FromQueryResult, Statement};

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
    let backend = db.get_database_backend();
    let txn = begin_write(db).await?;
    let inserted = txn.execute_raw(insert_stmt(backend, follower, followed)).await?.rows_affected() == 1;
    if inserted {
        txn.execute_raw(move_counters_stmt(backend, follower, followed, 1)).await?;
    }
    txn.commit().await?;
    Ok(inserted)
}

/// Removes the edge if present. Returns whether anything changed.
pub async fn unfollow(db: &DatabaseConnection, follower: i64, followed: i64) -> ApiResult<bool> {
    let backend = db.get_database_backend();
    let txn = begin_write(db).await?;
    let deleted = txn.execute_raw(delete_stmt(backend, follower, followed)).await?.rows_affected() == 1;
    if deleted {
        txn.execute_raw(move_counters_stmt(backend, follower, followed, -1)).await?;
    }
    txn.commit().await?;
    Ok(deleted)
}

pub fn insert_stmt(backend: DbBackend, follower: i64, followed: i64) -> Statement {
    let mut sql = Sql::new(backend);
    sql.push("INSERT INTO follows (follower_id, followed_id, created_at) VALUES (")
        .bind(follower)
        .push(", ")
        .bind(followed)
        .push(", ")
        .bind(now())
        .push(") ON CONFLICT DO NOTHING");
    sql.build()
}

pub fn delete_stmt(backend: DbBackend, follower: i64, followed: i64) -> Statement {
    let mut sql = Sql::new(backend);
    sql.push("DELETE FROM follows WHERE follower_id = ").bind(follower).push(" AND followed_id = ").bind(followed);
    sql.build()
}

/// One UPDATE for both users' counters (one round trip, and both rows are
/// locked in one index order, so opposite follows cannot deadlock).
pub fn move_counters_stmt(backend: DbBackend, follower: i64, followed: i64, by: i64) -> Statement {
    let mut sql = Sql::new(backend);
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
    sql.build()
}

/// The viewer's relationship with one other user.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relationship {
    pub viewer_follows: bool,
    pub follows_viewer: bool,
}

/// Both directions between `viewer` and each of `others`, in one statement:
/// two probes of the follows indexes, one per direction.
pub async fn relationships(
    db: &impl ConnectionTrait,
    viewer: i64,
    others: &[i64],
) -> ApiResult<HashMap<i64, Relationship>> {
    let mut out: HashMap<i64, Relationship> = others.iter().map(|&id| (id, Relationship::default())).collect();
    if others.is_empty() {
        return Ok(out);
    }
    let rows = PairRow::find_by_statement(relationships_stmt(db.get_database_backend(), viewer, others)).all(db).await?;
    for PairRow { follower_id: follower, followed_id: followed } in rows {
        if follower == viewer {
            out.entry(followed).or_default().viewer_follows = true;
        } else {
            out.entry(follower).or_default().follows_viewer = true;
        }
    }
    Ok(out)
}

#[derive(FromQueryResult)]
struct PairRow {
    follower_id: i64,
    followed_id: i64,
}

pub fn relationships_stmt(backend: DbBackend, viewer: i64, others: &[i64]) -> Statement {
    let mut sql = Sql::new(backend);
    let list = |sql: &mut Sql| {
        for (i, id) in others.iter().enumerate() {
            sql.push(if i == 0 { "" } else { ", " }).bind(*id);
        }
    };
    sql.push("SELECT follower_id, followed_id FROM follows WHERE follower_id = ").bind(viewer).push(" AND followed_id IN (");
    list(&mut sql);
    sql.push(") UNION ALL SELECT follower_id, followed_id FROM follows WHERE followed_id = ").bind(viewer).push(" AND follower_id IN (");
    list(&mut sql);
    sql.push(")");
    sql.build()
}

pub fn pages_stmt(backend: DbBackend, side: Side, keys: &[(i64, PageRequest)]) -> Statement {
    let (owner, other) = side.columns();
    union_all(backend, keys.len(), |sql, i| {
        let (owner_id, page) = &keys[i];
        sql.push(&format!("{other} AS other_id, created_at FROM follows WHERE {owner} = ")).bind(*owner_id);
        sql.keyset("created_at", other, page);
    })
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
    let rows = EdgeRow::find_by_statement(pages_stmt(db.get_database_backend(), side, keys)).all(db).await?;
    let rows = rows
        .into_iter()
        .map(|r| (r.k as usize, Edge { user_id: r.other_id, followed_at: r.created_at }))
        .collect();
    let pages: Vec<PageRequest> = keys.iter().map(|(_, p)| *p).collect();
    Ok(split_pages(&pages, rows, |e| (e.followed_at, e.user_id)))
}
