//! Materialized home timelines: fan-out on write, capped per viewer
//! (store/src/timeline.rs has the rules; docs/PERFORMANCE.md the
//! measurements that chose it).
//!
//! - `timelines`: one row per viewer whose timeline is kept. `ready` once
//!   built; `floor_at`: the timeline holds every post of the accounts the
//!   viewer follows (and shows) newer than this; older pages are read from
//!   the live tables.
//! - `timeline_entries (viewer_id, created_at, post_id, author_id)`, keyed
//!   for a viewer's page newest first; about `--feed-timeline-cap` rows a
//!   viewer once trimmed.
//! - `timeline_pending`: posts of popular accounts whose copies into their
//!   followers' timelines are still being written, in the background; a
//!   feed read takes them from here meanwhile.
//! - `follows_delivery_idx (followed_id, follower_id) WHERE NOT
//!   hidden_from_feed`: whom a post goes to, index-only, in follower order
//!   (the background delivery pages through it).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE INDEX follows_delivery_idx ON follows (followed_id, follower_id) WHERE NOT hidden_from_feed",
    "CREATE TABLE timelines (\
       viewer_id BIGINT NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE, \
       ready BOOLEAN NOT NULL, \
       floor_at TIMESTAMP WITH TIME ZONE NOT NULL)",
    "CREATE TABLE timeline_entries (\
       viewer_id BIGINT NOT NULL REFERENCES timelines (viewer_id) ON DELETE CASCADE, \
       created_at TIMESTAMP WITH TIME ZONE NOT NULL, \
       post_id BIGINT NOT NULL, \
       author_id BIGINT NOT NULL, \
       CONSTRAINT timeline_entries_pkey PRIMARY KEY (viewer_id, created_at, post_id))",
    "CREATE TABLE timeline_pending (\
       post_id BIGINT NOT NULL PRIMARY KEY REFERENCES posts (id) ON DELETE CASCADE, \
       author_id BIGINT NOT NULL, \
       created_at TIMESTAMP WITH TIME ZONE NOT NULL, \
       next_follower BIGINT NOT NULL)",
];

const DOWN: &[&str] = &[
    "DROP TABLE timeline_pending",
    "DROP TABLE timeline_entries",
    "DROP TABLE timelines",
    "DROP INDEX follows_delivery_idx",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for sql in UP {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        for sql in DOWN {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
