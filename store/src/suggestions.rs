//! Whom to follow: friends of friends, ranked by how many of the viewer's
//! followees follow them, then by followers; popular accounts fill in when
//! that finds too few (a viewer who follows nobody).
//!
//! Read live, with bounded work: the viewer's [`SAMPLE_FOLLOWEES`] newest
//! follows, and from each (on PostgreSQL) its [`SAMPLE_THEIRS`] newest
//! follows: at most 10,000 index entries, however many accounts either
//! side follows. Recent follows are the ones that say most about what the
//! viewer is into now (Bluesky's suggestions weigh recency the same way).
//! Nothing is precomputed, so nothing goes stale: a follow, block or
//! policy change shows in the next answer. docs/PERFORMANCE.md (W8) has
//! the measurements that chose this over a stored table.
//!
//! A followee whose network is hidden contributes no paths: that would
//! reveal whom it follows. Excluded: the viewer, accounts they follow or
//! asked to follow, blocks either way, CLOSED accounts.

use entity::{user, UserId};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};

use crate::error::StoreResult;
use crate::sql::Sql;

/// How many of the viewer's newest follows the friends-of-friends walk starts from.
pub const SAMPLE_FOLLOWEES: i64 = 200;
/// How many of each followee's newest follows it looks at (PostgreSQL).
pub const SAMPLE_THEIRS: i64 = 50;

/// Up to `n` suggestions for `viewer`, best first: one statement, and a
/// second when friends of friends were fewer than `n`.
pub async fn suggest(db: &impl ConnectionTrait, viewer: UserId, n: u64) -> StoreResult<Vec<user::Model>> {
    let backend = db.get_database_backend();
    let mut found = user::Model::find_by_statement(friends_of_friends_stmt(backend, viewer, n)).all(db).await?;
    if (found.len() as u64) < n {
        for u in user::Model::find_by_statement(popular_stmt(backend, viewer, n)).all(db).await? {
            if found.len() as u64 >= n {
                break;
            }
            if !found.iter().any(|f| f.id == u.id) {
                found.push(u);
            }
        }
    }
    Ok(found)
}

/// ` AND <u is someone the viewer may be suggested>`.
fn push_eligible(sql: &mut Sql, viewer: UserId) {
    sql.push(" AND u.id <> ").bind(viewer);
    sql.push(" AND u.follow_policy <> 'CLOSED'");
    sql.push(" AND NOT EXISTS (SELECT 1 FROM follows x WHERE x.follower_id = ").bind(viewer);
    sql.push(" AND x.followed_id = u.id)");
    sql.push(" AND NOT EXISTS (SELECT 1 FROM follow_requests x WHERE x.requester_id = ").bind(viewer);
    sql.push(" AND x.target_id = u.id)");
    sql.push(" AND NOT EXISTS (SELECT 1 FROM blocks x WHERE x.blocker_id = ").bind(viewer);
    sql.push(" AND x.blocked_id = u.id)");
    sql.push(" AND NOT EXISTS (SELECT 1 FROM blocks x WHERE x.blocker_id = u.id AND x.blocked_id = ").bind(viewer);
    sql.push(")");
}

pub fn friends_of_friends_stmt(backend: DbBackend, viewer: UserId, n: u64) -> Statement {
    let mut sql = Sql::new(backend);
    sql.push("SELECT u.* FROM (SELECT theirs.followed_id AS id, COUNT(*) AS paths FROM (SELECT followed_id FROM follows WHERE follower_id = ")
        .bind(viewer)
        .push(" ORDER BY created_at DESC LIMIT ")
        .bind(SAMPLE_FOLLOWEES)
        .push(") mine JOIN users mid ON mid.id = mine.followed_id AND NOT mid.network_hidden");
    if backend == DbBackend::Postgres {
        sql.push(" CROSS JOIN LATERAL (SELECT followed_id FROM follows WHERE follower_id = mine.followed_id ORDER BY created_at DESC LIMIT ")
            .bind(SAMPLE_THEIRS)
            .push(") theirs");
    } else {
        // No LATERAL: every follow of the sampled followees.
        sql.push(" JOIN follows theirs ON theirs.follower_id = mine.followed_id");
    }
    sql.push(" GROUP BY theirs.followed_id) s JOIN users u ON u.id = s.id WHERE 1 = 1");
    push_eligible(&mut sql, viewer);
    sql.push(" ORDER BY s.paths DESC, u.followers_count DESC, u.id LIMIT ").bind(n as i64);
    sql.build()
}

/// The most-followed eligible accounts (a top-N over users).
pub fn popular_stmt(backend: DbBackend, viewer: UserId, n: u64) -> Statement {
    let mut sql = Sql::new(backend);
    sql.push("SELECT u.* FROM users u WHERE 1 = 1");
    push_eligible(&mut sql, viewer);
    sql.push(" ORDER BY u.followers_count DESC, u.id LIMIT ").bind(n as i64);
    sql.build()
}
