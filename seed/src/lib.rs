//! Sample data for Followgraph, written into the project's own migrated
//! schema:
//!
//! - [`demo`]: a small network of named people (alice, bob, carol, ...)
//!   with follows, a follow request and a few days of posts, so that a
//!   fresh GraphiQL session has something to show (`followgraph seed`);
//! - [`dataset`]: the benchmark's deterministic datasets S, M and L
//!   (`followgraph seed --size s|m|l`, and `followgraph-bench`).
//!
//! Both write rows directly, counters included, in the form the server's
//! own write paths leave them (`followgraph recount` finds nothing to fix).

pub mod dataset;
pub mod demo;

use sea_orm::{ConnectionTrait, Statement};

/// `password` hashed as the server hashes a new one (api/src/auth.rs):
/// Argon2id with the `argon2` crate's defaults and a random salt. Slow on
/// purpose (~15 ms of a core): call it off the async workers.
pub fn hash_password(password: &str) -> Result<String, String> {
    use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// How many accounts the database holds.
pub async fn user_count(db: &impl ConnectionTrait) -> Result<i64, String> {
    let sql = Statement::from_string(db.get_database_backend(), "SELECT COUNT(*) AS n FROM users");
    let row = db.query_one_raw(sql).await.map_err(|e| e.to_string())?;
    row.map(|r| r.try_get::<i64>("", "n")).transpose().map_err(|e| e.to_string()).map(|n| n.unwrap_or(0))
}
