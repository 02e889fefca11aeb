//! Relationships beyond the plain follow: who may follow an account
//! (`users.follow_policy`), whether its network is hidden
//! (`users.network_hidden`), per-follow settings (`follows.hidden_from_feed`),
//! pending follow requests and blocks.
//!
//! Requests are a table of their own, `follow_requests`, not a state of the
//! follow row. A request must reach no counter, list or feed until it is
//! approved; as a state of `follows`, every read of follows (the feed's
//! probe of follows_pkey, both list indexes, the relationship probes, the
//! recount) would need `AND state = 'active'` and partial indexes to stay
//! index-only, and one forgotten predicate would leak a request into a
//! feed. As a table, `follows` keeps meaning "follows", and
//! `counters = COUNT(follows)` stays the whole invariant. Approving moves
//! the row from one table to the other in one transaction.
//!
//! Blocks are a table too: (blocker, blocked), with the time it began.
//! Neither table allows a row from an account to itself.
//!
//! Indexes, each for a query in store/src:
//! - follow_requests (target_id, created_at, requester_id): requests to an
//!   account, newest first; (requester_id, created_at, target_id): the
//!   requests an account sent. The primary key (requester, target) serves
//!   the relationship probes.
//! - blocks (blocker_id, created_at, blocked_id): an account's blocks,
//!   newest first; the primary key (blocker, blocked) and
//!   (blocked_id, blocker_id) serve the probes both ways.
//! - follows (follower_id, followed_id) WHERE NOT hidden_from_feed: what
//!   the feed reads (both plans probe or list "whom the viewer follows
//!   and has not hidden"); partial, so the probe stays index-only.
//! - follows_following_idx (follower_id, created_at, followed_id,
//!   hidden_from_feed) replaces follows_follower_created_idx, the same
//!   with hidden_from_feed as a last column: a following list shows the
//!   flag, and reading it from the index keeps the walk index-only. (A new
//!   name, not the old one dropped and made again: SQLite checks a
//!   CREATE INDEX against the schema a pooled connection last read, and
//!   another connection of the migration's pool may have dropped it.) (An index-only walk is what makes
//!   PostgreSQL's generic plan of a filtered page walk the index in order
//!   and stop at the page, measured: 0.5 ms against 48 ms for a fetch and
//!   sort of all 14,000 followers.)
//!
//! The policy is text checked against its three values, readable in SQL.
//!
//! `suggestions` keeps each viewer's ranked "whom to follow" (at most 100
//! accounts, best first, `rank` from 0) with a sentinel row (`rank` -1)
//! recording when it was computed and from how many follows: ranking
//! friends of friends live costs ~15 ms at dataset M for a viewer who
//! follows 2,000 accounts (docs/PERFORMANCE.md, W8), so it is computed
//! once and read by its primary key until it goes stale (store/src/
//! suggestions.rs says when). `suggestions_generation`, one row, counts
//! the times an account hid its network: a ranking computed under an
//! older generation is stale.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "ALTER TABLE users ADD COLUMN follow_policy VARCHAR(8) NOT NULL DEFAULT 'OPEN' \
     CHECK (follow_policy IN ('OPEN', 'APPROVAL', 'CLOSED'))",
    "ALTER TABLE users ADD COLUMN network_hidden BOOLEAN NOT NULL DEFAULT FALSE",
    "ALTER TABLE follows ADD COLUMN hidden_from_feed BOOLEAN NOT NULL DEFAULT FALSE",
    "CREATE INDEX follows_feed_idx ON follows (follower_id, followed_id) WHERE NOT hidden_from_feed",
    "CREATE INDEX follows_following_idx ON follows (follower_id, created_at, followed_id, hidden_from_feed)",
    "DROP INDEX follows_follower_created_idx",
    "CREATE TABLE follow_requests (\
       requester_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE, \
       target_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE, \
       created_at TIMESTAMP WITH TIME ZONE NOT NULL, \
       CONSTRAINT follow_requests_pkey PRIMARY KEY (requester_id, target_id), \
       CHECK (requester_id <> target_id))",
    "CREATE INDEX follow_requests_target_created_idx ON follow_requests (target_id, created_at, requester_id)",
    "CREATE INDEX follow_requests_requester_created_idx ON follow_requests (requester_id, created_at, target_id)",
    "CREATE TABLE blocks (\
       blocker_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE, \
       blocked_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE, \
       created_at TIMESTAMP WITH TIME ZONE NOT NULL, \
       CONSTRAINT blocks_pkey PRIMARY KEY (blocker_id, blocked_id), \
       CHECK (blocker_id <> blocked_id))",
    "CREATE INDEX blocks_blocker_created_idx ON blocks (blocker_id, created_at, blocked_id)",
    "CREATE INDEX blocks_blocked_idx ON blocks (blocked_id, blocker_id)",
    "CREATE TABLE suggestions (\
       viewer_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE, \
       rank INTEGER NOT NULL, \
       user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE, \
       computed_at TIMESTAMP WITH TIME ZONE NOT NULL, \
       basis BIGINT NOT NULL, \
       generation BIGINT NOT NULL, \
       CONSTRAINT suggestions_pkey PRIMARY KEY (viewer_id, rank))",
    "CREATE TABLE suggestions_generation (id INTEGER PRIMARY KEY CHECK (id = 1), generation BIGINT NOT NULL)",
    "INSERT INTO suggestions_generation (id, generation) VALUES (1, 0)",
    "CREATE INDEX suggestions_user_idx ON suggestions (user_id)",
];

const DOWN: &[&str] = &[
    "DROP TABLE suggestions_generation",
    "CREATE INDEX follows_follower_created_idx ON follows (follower_id, created_at, followed_id)",
    "DROP INDEX follows_following_idx",
    "DROP TABLE suggestions",
    "DROP TABLE blocks",
    "DROP TABLE follow_requests",
    "DROP INDEX follows_feed_idx",
    "ALTER TABLE follows DROP COLUMN hidden_from_feed",
    "ALTER TABLE users DROP COLUMN network_hidden",
    "ALTER TABLE users DROP COLUMN follow_policy",
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
