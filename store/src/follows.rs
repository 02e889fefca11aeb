//! Follow edges: idempotent follow and unfollow (with the counters on both
//! users moved atomically with the edge), relationship checks in batches,
//! and follower/following pages for many users in one statement.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{user, UserId};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, FromQueryResult, Statement};

use crate::error::StoreResult;
use crate::page::{Page, PageRequest};
use crate::sql::{split_pages, union_all, Sql};
use crate::{begin_write, now};

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

/// One entry of a followers/following list: the other user (the whole row,
/// read in the same statement) and since when.
#[derive(Clone, Debug)]
pub struct Edge {
    pub user: user::Model,
    pub followed_at: DateTime<Utc>,
}

/// What a write does to the edge `follower -> followed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeChange {
    /// Create it if absent.
    Follow,
    /// Remove it if present.
    Unfollow,
}

impl EdgeChange {
    /// How much the counters move when the edge did change.
    fn delta(self) -> i64 {
        match self {
            EdgeChange::Follow => 1,
            EdgeChange::Unfollow => -1,
        }
    }
}

/// How an edge write runs on a backend. The server runs it in
/// [`change`]; the benchmark's floor runs the same statements raw.
pub enum EdgeWrite {
    /// PostgreSQL: the edge write and, only if it changed a row, the
    /// counters, as one statement (a data-modifying CTE: atomic by itself,
    /// one round trip instead of four) returning the fresh user rows.
    OneStatement(Statement),
    /// SQLite: inside a transaction that takes the write lock first, `edge`;
    /// then, only if it changed a row, `counters` (returning the fresh rows).
    Transaction { edge: Statement, counters: Statement },
}

impl EdgeWrite {
    pub fn new(backend: DbBackend, follower: UserId, followed: UserId, change: EdgeChange) -> Self {
        match backend {
            DbBackend::Postgres => EdgeWrite::OneStatement(change_stmt(backend, follower, followed, change)),
            _ => EdgeWrite::Transaction {
                edge: edge_stmt(backend, follower, followed, change),
                counters: move_counters_stmt(backend, follower, followed, change),
            },
        }
    }
}

/// Creates or removes the edge, idempotently. When that changed something,
/// returns both users' fresh rows (counters moved); `None` when there was
/// nothing to do. Two racing follows of one pair leave one row: the loser's
/// insert waits on the primary key and then does nothing, and only the
/// winner moves the counters.
pub async fn change(
    db: &DatabaseConnection,
    follower: UserId,
    followed: UserId,
    change: EdgeChange,
) -> StoreResult<Option<Vec<user::Model>>> {
    match EdgeWrite::new(db.get_database_backend(), follower, followed, change) {
        EdgeWrite::OneStatement(stmt) => {
            let rows = user::Model::find_by_statement(stmt).all(db).await?;
            Ok((!rows.is_empty()).then_some(rows))
        }
        EdgeWrite::Transaction { edge, counters } => {
            let txn = begin_write(db).await?;
            let rows = match txn.execute_raw(edge).await?.rows_affected() == 1 {
                true => Some(user::Model::find_by_statement(counters).all(&txn).await?),
                false => None,
            };
            txn.commit().await?;
            Ok(rows)
        }
    }
}

fn edge_stmt(backend: DbBackend, follower: UserId, followed: UserId, change: EdgeChange) -> Statement {
    let mut sql = Sql::new(backend);
    push_edge_write(&mut sql, follower, followed, change);
    sql.build()
}

fn push_edge_write(sql: &mut Sql, follower: UserId, followed: UserId, change: EdgeChange) {
    match change {
        EdgeChange::Follow => sql
            .push("INSERT INTO follows (follower_id, followed_id, created_at) VALUES (")
            .bind(follower)
            .push(", ")
            .bind(followed)
            .push(", ")
            .bind(now())
            .push(") ON CONFLICT DO NOTHING"),
        EdgeChange::Unfollow => sql
            .push("DELETE FROM follows WHERE follower_id = ")
            .bind(follower)
            .push(" AND followed_id = ")
            .bind(followed),
    };
}

/// Both users' counters in one UPDATE (both rows locked in one index order,
/// so opposite follows cannot deadlock), returning the fresh rows.
fn move_counters_stmt(backend: DbBackend, follower: UserId, followed: UserId, change: EdgeChange) -> Statement {
    let by = change.delta();
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
        .push(") RETURNING *");
    sql.build()
}

fn change_stmt(backend: DbBackend, follower: UserId, followed: UserId, change: EdgeChange) -> Statement {
    let by = change.delta();
    let mut sql = Sql::new(backend);
    sql.push("WITH changed AS (");
    push_edge_write(&mut sql, follower, followed, change);
    sql.push(" RETURNING follower_id, followed_id) UPDATE users SET following_count = following_count + CASE WHEN users.id = changed.follower_id THEN ")
        .bind(by)
        .push(" ELSE 0 END, followers_count = followers_count + CASE WHEN users.id = changed.followed_id THEN ")
        .bind(by)
        .push(" ELSE 0 END FROM changed WHERE users.id IN (changed.follower_id, changed.followed_id) RETURNING users.*");
    sql.build()
}

/// The viewer's relationship with one other user.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relationship {
    pub viewer_follows: bool,
    pub follows_viewer: bool,
}

/// Both directions between `viewer` and each of `others`, in one statement:
/// two probes of the follows indexes, one per direction. Users related
/// neither way are absent from the map.
pub async fn relationships(
    db: &impl ConnectionTrait,
    viewer: UserId,
    others: &[UserId],
) -> StoreResult<HashMap<UserId, Relationship>> {
    let mut out: HashMap<UserId, Relationship> = HashMap::new();
    if others.is_empty() {
        return Ok(out);
    }
    let rows =
        PairRow::find_by_statement(relationships_stmt(db.get_database_backend(), viewer, others)).all(db).await?;
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
    follower_id: UserId,
    followed_id: UserId,
}

pub fn relationships_stmt(backend: DbBackend, viewer: UserId, others: &[UserId]) -> Statement {
    let mut sql = Sql::new(backend);
    sql.push("SELECT follower_id, followed_id FROM follows WHERE follower_id = ")
        .bind(viewer)
        .push(" AND followed_id IN (")
        .bind_list(others)
        .push(") UNION ALL SELECT follower_id, followed_id FROM follows WHERE followed_id = ")
        .bind(viewer)
        .push(" AND follower_id IN (")
        .bind_list(others)
        .push(")");
    sql.build()
}

/// A page of one list per (owner, page) key, all in one statement.
pub async fn pages(
    db: &impl ConnectionTrait,
    side: Side,
    keys: &[(UserId, PageRequest)],
) -> StoreResult<Vec<Page<Edge>>> {
    let rows = db.query_all_raw(pages_stmt(db.get_database_backend(), side, keys)).await?;
    let mut edges = Vec::with_capacity(rows.len());
    for row in rows {
        let k: i64 = row.try_get("", "k")?;
        let followed_at = row.try_get("", "followed_at")?;
        edges.push((k as usize, Edge { user: user::Model::from_query_result(&row, "")?, followed_at }));
    }
    let pages: Vec<PageRequest> = keys.iter().map(|(_, p)| *p).collect();
    Ok(split_pages(&pages, edges, |e| (e.followed_at, e.user.id.0)))
}

/// The pages, each a range scan of follows (owner, created_at, other) joined
/// to the other user's row: the list's users come with it, no second query.
pub fn pages_stmt(backend: DbBackend, side: Side, keys: &[(UserId, PageRequest)]) -> Statement {
    let (owner, other) = side.columns();
    union_all(backend, keys.len(), |sql, i| {
        let (owner_id, page) = &keys[i];
        sql.push(&format!(
            "f.created_at AS followed_at, u.* FROM follows f JOIN users u ON u.id = f.{other} WHERE f.{owner} = "
        ))
        .bind(*owner_id);
        sql.keyset("f.created_at", &format!("f.{other}"), page);
    })
}
