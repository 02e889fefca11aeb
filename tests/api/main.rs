//! Integration tests: every test boots the real server on 127.0.0.1:0
//! against its own fresh, migrated database and talks HTTP to it.
//!
//!     cargo test                          # SQLite (a temp file per test)
//!     TEST_DATABASE=postgres cargo test   # PostgreSQL (a new database per test)
//!
//! `TEST_POSTGRES_URL` names the server's admin database (default
//! `postgres://postgres@127.0.0.1:5432/postgres`).

mod helpers;

mod abuse;
mod accounts;
mod batching;
mod cli;
mod connections;
mod counters;
mod faults;
mod feed;
mod follow_lists;
mod follows;
mod http;
mod input;
mod operations;
mod order;
mod polling;
mod rate_limits;
mod relationships;
mod schema;
mod sessions;
