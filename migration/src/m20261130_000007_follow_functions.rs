//! PostgreSQL functions for the two writes clients make most, a single
//! follow and a single unfollow, so each is one round trip and one commit
//! instead of a transaction of five (BEGIN, lock, read, write, COMMIT):
//! store/src/relationships.rs calls them and keeps the same rules in Rust
//! for SQLite and for the many-account writes. Each statement in a
//! PL/pgSQL function sees what committed before it began (READ COMMITTED),
//! so the checks after the lock are as fresh as the Rust path's. Both
//! return a code: DONE, or why nothing was written.
//!
//! The rules, as in `follow_once` / `unfollow_once`: lock both users rows
//! in id order; both accounts must exist; already following (or already
//! requested) is done; a block either way refuses; CLOSED refuses;
//! APPROVAL makes a request; OPEN writes the follow, moves both counters
//! and copies the account's newest posts into the viewer's timeline
//! (store/src/timeline.rs). Unfollow drops a pending request and the
//! follow, moves the counters and takes the account's posts out of the
//! viewer's timeline. SQLite has no functions: nothing to do there.
//! `CREATE OR REPLACE`: `migrate fresh` drops tables, not functions.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const FOLLOW: &str = r#"
CREATE OR REPLACE FUNCTION followgraph_follow(viewer BIGINT, target BIGINT, at TIMESTAMPTZ, cap BIGINT) RETURNS TEXT
LANGUAGE plpgsql AS $$
DECLARE
    policy TEXT;
BEGIN
    PERFORM 1 FROM users WHERE id IN (viewer, target) ORDER BY id FOR NO KEY UPDATE;
    IF NOT EXISTS (SELECT 1 FROM users WHERE id = viewer) THEN
        RETURN 'VIEWER_GONE';
    END IF;
    SELECT follow_policy INTO policy FROM users WHERE id = target;
    IF NOT FOUND THEN
        RETURN 'NOT_FOUND';
    END IF;
    IF EXISTS (SELECT 1 FROM follows WHERE follower_id = viewer AND followed_id = target) THEN
        RETURN 'DONE';
    END IF;
    IF EXISTS (SELECT 1 FROM blocks WHERE blocker_id = viewer AND blocked_id = target) THEN
        RETURN 'BLOCKING';
    END IF;
    IF EXISTS (SELECT 1 FROM blocks WHERE blocker_id = target AND blocked_id = viewer) THEN
        RETURN 'BLOCKED_BY';
    END IF;
    IF policy = 'CLOSED' THEN
        RETURN 'CLOSED';
    END IF;
    IF policy = 'APPROVAL' THEN
        INSERT INTO follow_requests (requester_id, target_id, created_at) VALUES (viewer, target, at)
            ON CONFLICT DO NOTHING;
        RETURN 'DONE';
    END IF;
    INSERT INTO follows (follower_id, followed_id, created_at) VALUES (viewer, target, at);
    UPDATE users SET following_count = following_count + CASE WHEN id = viewer THEN 1 ELSE 0 END,
                     followers_count = followers_count + CASE WHEN id = target THEN 1 ELSE 0 END
        WHERE id IN (viewer, target);
    UPDATE timelines SET floor_at = x.c
        FROM (SELECT created_at AS c FROM posts WHERE user_id = target
              ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET cap) x
        WHERE viewer_id = viewer AND x.c > floor_at;
    INSERT INTO timeline_entries (viewer_id, created_at, post_id, author_id)
        SELECT t.viewer_id, p.created_at, p.id, p.user_id FROM timelines t
        CROSS JOIN LATERAL (SELECT created_at, id, user_id FROM posts WHERE user_id = target
                            AND created_at > t.floor_at ORDER BY created_at DESC, id DESC LIMIT cap) p
        WHERE t.viewer_id = viewer
        ON CONFLICT DO NOTHING;
    RETURN 'DONE';
END $$"#;

const UNFOLLOW: &str = r#"
CREATE OR REPLACE FUNCTION followgraph_unfollow(viewer BIGINT, target BIGINT) RETURNS TEXT
LANGUAGE plpgsql AS $$
DECLARE
    ended INTEGER;
BEGIN
    PERFORM 1 FROM users WHERE id IN (viewer, target) ORDER BY id FOR NO KEY UPDATE;
    IF NOT EXISTS (SELECT 1 FROM users WHERE id = viewer) THEN
        RETURN 'VIEWER_GONE';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM users WHERE id = target) THEN
        RETURN 'NOT_FOUND';
    END IF;
    DELETE FROM follow_requests WHERE requester_id = viewer AND target_id = target;
    DELETE FROM follows WHERE follower_id = viewer AND followed_id = target;
    GET DIAGNOSTICS ended = ROW_COUNT;
    IF ended > 0 THEN
        UPDATE users SET following_count = following_count - CASE WHEN id = viewer THEN 1 ELSE 0 END,
                         followers_count = followers_count - CASE WHEN id = target THEN 1 ELSE 0 END
            WHERE id IN (viewer, target);
        DELETE FROM timeline_entries WHERE viewer_id = viewer AND author_id = target;
    END IF;
    RETURN 'DONE';
END $$"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(FOLLOW).await?;
        db.execute_unprepared(UNFOLLOW).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared("DROP FUNCTION followgraph_unfollow(BIGINT, BIGINT)").await?;
        db.execute_unprepared("DROP FUNCTION followgraph_follow(BIGINT, BIGINT, TIMESTAMPTZ, BIGINT)").await?;
        Ok(())
    }
}
