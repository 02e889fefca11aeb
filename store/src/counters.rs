//! The stored counters (`followers_count`, `following_count`,
//! `posts_count`) and their repair. The write paths in `follows` and `posts`
//! keep them exact; `recount` recomputes them all from the rows, for use
//! after a manual fix, a bulk import or a restore (`followgraph recount`).

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

use crate::begin_write;
use crate::error::StoreResult;

const EXPECTED: &str = "(SELECT COUNT(*) FROM follows WHERE followed_id = users.id), \
     (SELECT COUNT(*) FROM follows WHERE follower_id = users.id), \
     (SELECT COUNT(*) FROM posts WHERE user_id = users.id)";

/// Users whose counters disagree with the rows.
pub async fn count_wrong(db: &impl ConnectionTrait) -> StoreResult<i64> {
    let sql = format!(
        "SELECT COUNT(*) AS n FROM users WHERE (followers_count, following_count, posts_count) <> ({EXPECTED})"
    );
    let row = db.query_one_raw(Statement::from_string(db.get_database_backend(), sql)).await?;
    Ok(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0))
}

/// Recomputes every counter from the rows, in one transaction that takes
/// the write lock first. Returns how many users were wrong.
pub async fn recount(db: &DatabaseConnection) -> StoreResult<u64> {
    let txn = begin_write(db).await?;
    let sql = format!(
        "UPDATE users SET \
           followers_count = (SELECT COUNT(*) FROM follows WHERE followed_id = users.id), \
           following_count = (SELECT COUNT(*) FROM follows WHERE follower_id = users.id), \
           posts_count = (SELECT COUNT(*) FROM posts WHERE user_id = users.id) \
         WHERE (followers_count, following_count, posts_count) <> ({EXPECTED})"
    );
    let fixed = txn.execute_raw(Statement::from_string(db.get_database_backend(), sql)).await?.rows_affected();
    txn.commit().await?;
    Ok(fixed)
}
