//! Materialized home timelines: fan-out on write, capped per viewer
//! (docs/PERFORMANCE.md, "The feed: design and why", has the measurements
//! that chose it; the migration `..._000006_timelines` the tables).
//!
//! Every post is copied into the timeline (`timeline_entries`) of each
//! follower who has one and shows the author in their feed. For authors
//! with fewer than [`Delivery::sync_limit`] followers the copies are
//! written in the post's own transaction; for popular authors the post is
//! queued (`timeline_pending`) and copied in the background, a batch of
//! followers at a time ([`deliver_batch`]), and until that finishes the
//! feed read takes it from the queue ([`crate::feed::timeline_stmt`]): the
//! feed is exact at once either way, and createPost's answer never waits
//! for a popular author's followers.
//!
//! The rules that keep a timeline exact, each in the write that changes
//! what it holds, in the same transaction:
//! - a post is copied (or queued) ([`push_fan_out`]);
//! - a follow that begins (follow, an approved request, an account turning
//!   OPEN), or is shown again after being hidden, copies the account's
//!   newest posts in ([`backfill`], [`backfill_requesters_stmts`]); a follow
//!   that ends (unfollow, removeFollower, block) or is hidden takes them
//!   out ([`push_remove_authors`]);
//! - copies of deleted posts (deletePost, deleteAccount) are left where
//!   they are: the read skips a copy whose post is gone or whose author
//!   the viewer no longer follows and shows (two key probes per row it
//!   walks), so a deletion costs nothing here, however many followers its
//!   author has; such copies count toward the cap and are trimmed with
//!   the rest.
//!
//! Races between a post and a follow of its author are settled by the
//! author's users row: each of these writes locks it before it reads what
//! the other writes (createPost moves `posts_count` first; relationship
//! writes lock both rows), and on PostgreSQL each later
//! statement sees what committed while it waited. The background copies
//! take no such lock ([`deliver_batch`] says why they need none).
//!
//! A timeline holds every post of the accounts its viewer follows and
//! shows that is newer than its `floor_at`, and about [`Delivery::cap`]
//! entries once trimmed ([`trim`], run in the background; it counts again
//! only timelines that have grown since it last looked): pages reaching
//! below the floor are read from the live tables. Accounts made by signUp
//! start with an empty, complete timeline; for accounts without one
//! (loaded in bulk, or from before this table) the first feed read serves
//! the live read and asks for a [`build`].
//!
//! A timeline its viewer has not read for a while (`read_at`, renewed by
//! [`renew`]) is dropped by [`trim`], and posts stop being copied to it;
//! the viewer's next read is served live and builds it again. A write that
//! copies into timelines on PostgreSQL locks the `timelines` rows it
//! copies into (KEY SHARE, what its foreign key check takes anyway) in
//! the statement that picks them: one dropped meanwhile is skipped, where
//! the foreign key check would fail the write. The trimmer, for its part,
//! leaves a timeline a write holds for its next round rather than wait
//! for it ([`trim`]), so it never takes part in a deadlock over them.

use chrono::{DateTime, Utc};
use entity::UserId;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::error::StoreResult;
use crate::sql::Sql;
use crate::{begin_write, PostId};

/// Default of `--feed-sync-fanout`: followers below which a post's copies
/// are written in its own transaction (at most 999 rows in the request).
pub const DEFAULT_SYNC_LIMIT: i64 = 1000;
/// Default of `--feed-timeline-cap`: entries a timeline keeps once trimmed
/// (Mastodon keeps 400; pages of 100 and polls fit many times over).
pub const DEFAULT_CAP: i64 = 800;
/// Followers a background delivery copies a post to per transaction.
pub const DEFAULT_DELIVERY_BATCH: i64 = 1000;

/// How timelines are written.
#[derive(Clone, Copy, Debug)]
pub struct Delivery {
    /// An author with fewer followers than this has a post's copies
    /// written with it; others are queued for the background.
    pub sync_limit: i64,
    /// Entries a timeline keeps once trimmed, and copies in per account
    /// followed.
    pub cap: i64,
    /// Followers a background delivery copies a post to per transaction.
    pub batch: i64,
}

impl Default for Delivery {
    fn default() -> Self {
        Delivery { sync_limit: DEFAULT_SYNC_LIMIT, cap: DEFAULT_CAP, batch: DEFAULT_DELIVERY_BATCH }
    }
}

/// The floor of a complete timeline: older than any post.
pub fn no_floor() -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH
}

/// Starts an empty, complete timeline for a new account (it follows no
/// one yet).
pub fn start_stmt(backend: DbBackend, viewer: UserId) -> Statement {
    let mut sql = Sql::new(backend);
    sql.push("INSERT INTO timelines (viewer_id, ready, floor_at, read_at) VALUES (")
        .bind(viewer)
        .push(", ")
        .bind(true)
        .push(", ")
        .bind(no_floor())
        .push(", ")
        .bind(crate::now())
        .push(")");
    sql.build()
}

/// Pushes the fan-out of a new post: one entry per follower who shows the
/// author and has a timeline, of those with ids in `followers` when given
/// ([`deliver_batch`] copies a range at a time).
pub fn push_fan_out(sql: &mut Sql, author: UserId, post: PostId, at: DateTime<Utc>, followers: Option<(i64, i64)>) {
    sql.push("INSERT INTO timeline_entries (viewer_id, created_at, post_id, author_id) SELECT f.follower_id, ")
        .bind(at)
        .push(", ")
        .bind(post)
        .push(", ")
        .bind(author)
        .push(" FROM follows f JOIN timelines t ON t.viewer_id = f.follower_id WHERE f.followed_id = ")
        .bind(author)
        .push(" AND NOT f.hidden_from_feed");
    if let Some((first, last)) = followers {
        sql.push(" AND f.follower_id >= ").bind(first).push(" AND f.follower_id <= ").bind(last);
    }
    push_lock_timelines(sql);
    sql.push(" ON CONFLICT DO NOTHING");
}

/// Pushes, on PostgreSQL, the lock of the `timelines` rows (`t`) a copy
/// picks, so that a timeline dropped meanwhile is skipped (the module's
/// doc says why).
fn push_lock_timelines(sql: &mut Sql) {
    if sql.backend() == DbBackend::Postgres {
        sql.push(" FOR KEY SHARE OF t");
    }
}

/// Pushes the queuing of a popular author's new post for [`deliver_batch`].
pub fn push_enqueue(sql: &mut Sql, author: UserId, post: PostId, at: DateTime<Utc>) {
    sql.push("INSERT INTO timeline_pending (post_id, author_id, created_at, next_follower) VALUES (")
        .bind(post)
        .push(", ")
        .bind(author)
        .push(", ")
        .bind(at)
        .push(", 0)");
}

/// Pushes the removal of `authors`' posts from `viewer`'s timeline (a
/// follow ended or hidden). Reads the viewer's entries, at most about
/// [`Delivery::cap`] once trimmed.
pub fn push_remove_authors(sql: &mut Sql, viewer: UserId, authors: &[UserId]) {
    sql.push("DELETE FROM timeline_entries WHERE viewer_id = ")
        .bind(viewer)
        .push(" AND author_id IN (")
        .bind_list(authors)
        .push(")");
}

pub fn remove_authors_stmt(backend: DbBackend, viewer: UserId, authors: &[UserId]) -> Statement {
    let mut sql = Sql::new(backend);
    push_remove_authors(&mut sql, viewer, authors);
    sql.build()
}

pub async fn remove_authors(db: &impl ConnectionTrait, viewer: UserId, authors: &[UserId]) -> StoreResult<()> {
    if !authors.is_empty() {
        db.execute_raw(remove_authors_stmt(db.get_database_backend(), viewer, authors)).await?;
    }
    Ok(())
}

/// Copies each of `authors`' newest posts (at most `cap` each, newer than
/// the floor) into `viewer`'s timeline, if the viewer has one, and raises
/// the floor above any author's older posts left out.
pub async fn backfill(db: &impl ConnectionTrait, viewer: UserId, authors: &[UserId], cap: i64) -> StoreResult<()> {
    if authors.is_empty() {
        return Ok(());
    }
    for stmt in backfill_stmts(db.get_database_backend(), viewer, authors, cap) {
        db.execute_raw(stmt).await?;
    }
    Ok(())
}

/// [`backfill`]'s statements: on PostgreSQL one (the floor raised in a
/// data-modifying CTE), on SQLite two.
pub fn backfill_stmts(backend: DbBackend, viewer: UserId, authors: &[UserId], cap: i64) -> Vec<Statement> {
    let (mut floor, mut copy) = (Sql::new(backend), Sql::new(backend));
    if backend == DbBackend::Postgres {
        floor.push("WITH f AS (");
        push_backfill_floor(&mut floor, viewer, authors, cap);
        floor.push(") ");
        push_backfill_copy(&mut floor, viewer, authors, cap);
        return vec![floor.build()];
    }
    push_backfill_floor(&mut floor, viewer, authors, cap);
    push_backfill_copy(&mut copy, viewer, authors, cap);
    vec![floor.build(), copy.build()]
}

/// Pushes the raising of `viewer`'s floor to the newest post any of
/// `authors` has beyond its `cap` newest, where that is above it, and
/// marks the timeline for the trimmer to count again (the copies that
/// follow may be older than its newest entry: [`grown_stmt`]).
pub fn push_backfill_floor(sql: &mut Sql, viewer: UserId, authors: &[UserId], cap: i64) {
    sql.push("UPDATE timelines SET checked_top_at = NULL, floor_at = COALESCE((SELECT MAX(c) FROM (");
    for (i, author) in authors.iter().enumerate() {
        sql.push(if i == 0 { "" } else { " UNION ALL " });
        sql.push("SELECT ");
        push_nth_newest(sql, Newest::Posts(*author), cap);
        sql.push(" AS c");
    }
    sql.push(") y WHERE c > timelines.floor_at), floor_at) WHERE viewer_id = ").bind(viewer);
}

/// Pushes the copy of each of `authors`' newest `cap` posts above the floor
/// into `viewer`'s timeline, if it has one.
pub fn push_backfill_copy(sql: &mut Sql, viewer: UserId, authors: &[UserId], cap: i64) {
    sql.push("INSERT INTO timeline_entries (viewer_id, created_at, post_id, author_id) SELECT * FROM (");
    for (i, author) in authors.iter().enumerate() {
        sql.push(if i == 0 { "" } else { " UNION ALL " });
        sql.push("SELECT * FROM (SELECT t.viewer_id, p.created_at, p.id, p.user_id FROM timelines t JOIN posts p ON p.user_id = ")
            .bind(*author)
            .push(" AND p.created_at > t.floor_at WHERE t.viewer_id = ")
            .bind(viewer)
            .push(" ORDER BY p.created_at DESC, p.id DESC LIMIT ")
            .bind(cap);
        push_lock_timelines(sql);
        sql.push(&format!(") b{i}"));
    }
    // `WHERE 1 = 1`: SQLite would read `ON CONFLICT` as a join's ON.
    sql.push(") x WHERE 1 = 1 ON CONFLICT DO NOTHING");
}

/// Builds the timeline of an account that has none (or a half-built one):
/// the newest `cap` posts of the accounts it follows and shows, then marks
/// it ready.
/// Two transactions: the first makes the (empty, not ready) timeline, so
/// posts from then on are copied into it; the second waits for posts in
/// flight (it locks the followees' rows, FOR SHARE, for the length of the
/// copy) and copies what came before.
/// Idempotent; concurrent builds of one account wait for each other.
pub async fn build(db: &DatabaseConnection, viewer: UserId, cap: i64) -> StoreResult<()> {
    let backend = db.get_database_backend();
    let postgres = backend == DbBackend::Postgres;
    let txn = begin_write(db).await?;
    let mut sql = Sql::new(backend);
    sql.push("INSERT INTO timelines (viewer_id, ready, floor_at, read_at) SELECT id, ")
        .bind(false)
        .push(", ")
        .bind(no_floor())
        .push(", ")
        .bind(crate::now())
        .push(" FROM users WHERE id = ")
        .bind(viewer)
        .push(" ON CONFLICT (viewer_id) DO NOTHING");
    txn.execute_raw(sql.build()).await?;
    txn.commit().await?;

    let txn = begin_write(db).await?;
    if postgres {
        // First the viewer's row (their follows change under it) and their
        // followees' (a post locks its author's row), so every write that
        // began before the timeline existed has committed; twice, since a
        // follow that committed while the first waited is seen only by a
        // later statement (none can begin after: the viewer's row is held).
        for _ in 0..2 {
            let mut sql = Sql::new(backend);
            sql.push("SELECT id FROM users WHERE id = ")
                .bind(viewer)
                .push(" OR id IN (SELECT followed_id FROM follows WHERE follower_id = ")
                .bind(viewer)
                .push(" AND NOT hidden_from_feed) ORDER BY id FOR SHARE");
            txn.execute_raw(sql.build()).await?;
        }
    }
    // Then the timeline (concurrent builds wait here; a fan-out's foreign
    // key check, KEY SHARE, does not).
    let mut sql = Sql::new(backend);
    sql.push("SELECT ready FROM timelines WHERE viewer_id = ").bind(viewer);
    if postgres {
        sql.push(" FOR NO KEY UPDATE");
    }
    let Some(row) = txn.query_one_raw(sql.build()).await? else {
        return Ok(()); // the account is gone
    };
    if row.try_get::<bool>("", "ready")? {
        return Ok(());
    }
    let mut sql = Sql::new(backend);
    sql.push("INSERT INTO timeline_entries (viewer_id, created_at, post_id, author_id) SELECT ")
        .bind(viewer)
        .push(", created_at, id, user_id FROM (SELECT created_at, id, user_id FROM posts WHERE user_id IN (SELECT followed_id FROM follows WHERE follower_id = ")
        .bind(viewer)
        .push(" AND NOT hidden_from_feed) ORDER BY created_at DESC, id DESC LIMIT ")
        .bind(cap + 1)
        .push(") x WHERE 1 = 1 ON CONFLICT DO NOTHING");
    txn.execute_raw(sql.build()).await?;
    let mut sql = Sql::new(backend);
    sql.push("UPDATE timelines SET ready = ").bind(true).push(", checked_top_at = NULL, floor_at = COALESCE(");
    push_nth_newest(&mut sql, Newest::Entries(viewer), cap);
    sql.push(", ").bind(no_floor()).push(") WHERE viewer_id = ").bind(viewer);
    txn.execute_raw(sql.build()).await?;
    txn.commit().await?;
    Ok(())
}

/// Renews `viewer`'s `read_at` (they read their feed): their timeline is
/// kept a while longer.
pub async fn renew(db: &impl ConnectionTrait, viewer: UserId) -> StoreResult<()> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("UPDATE timelines SET read_at = ").bind(crate::now()).push(" WHERE viewer_id = ").bind(viewer);
    db.execute_raw(sql.build()).await?;
    Ok(())
}

/// How much one round of [`trim`] looks at.
#[derive(Clone, Copy, Debug)]
pub struct Round {
    /// Timelines looked at: dropped when idle, and probed for growth (one
    /// step into the primary key each, about 0.007 ms at M) up to the
    /// `count`th that grew.
    pub visit: i64,
    /// Grown timelines counted down to the cap at most (a walk of the
    /// cap's length each, 0.1-0.14 ms at M): the round stops at the
    /// `count`th, and the next starts after it.
    pub count: i64,
}

/// Looks at the timelines of up to `round.visit` accounts with ids above
/// `after`: drops those last read before `idle_since` (their entries go
/// by cascade), and trims those that grew to their newest `cap` entries,
/// raising each floor to match, up to `round.count` of them. On
/// PostgreSQL a timeline some write holds is left as it is until the next
/// pass (`SKIP LOCKED`). Returns the id the next round starts after: the
/// `count`th grown timeline's when the count was reached, else the last
/// looked at (start again from 0 when it is `None`).
pub async fn trim(
    db: &DatabaseConnection,
    after: UserId,
    round: Round,
    cap: i64,
    idle_since: DateTime<Utc>,
) -> StoreResult<Option<UserId>> {
    debug_assert!(round.count > 0, "SQLite reads a negative LIMIT as none");
    let backend = db.get_database_backend();
    let mut sql = Sql::new(backend);
    sql.push("SELECT MAX(viewer_id) AS last FROM (SELECT viewer_id FROM timelines WHERE viewer_id > ")
        .bind(after)
        .push(" ORDER BY viewer_id LIMIT ")
        .bind(round.visit)
        .push(") v");
    let last: Option<UserId> = match db.query_one_raw(sql.build()).await? {
        Some(row) => row.try_get("", "last")?,
        None => None,
    };
    let Some(last) = last else {
        return Ok(None);
    };
    let txn = begin_write(db).await?;
    txn.execute_raw(drop_idle_stmt(backend, after, last, idle_since)).await?;
    let grown: Vec<UserId> = txn
        .query_all_raw(grown_stmt(backend, after, last, round.count))
        .await?
        .iter()
        .map(|row| row.try_get("", "viewer_id"))
        .collect::<Result<_, _>>()?;
    // Stopped at the count: the rest of the range waits for the next round.
    let reached = if grown.len() as i64 >= round.count { grown.iter().max().copied().unwrap_or(last) } else { last };
    if !grown.is_empty() {
        let grown = padded(grown);
        txn.execute_raw(raise_floors_stmt(backend, &grown, cap)).await?;
        txn.execute_raw(below_floors_stmt(backend, &grown)).await?;
    }
    txn.commit().await?;
    Ok(Some(reached))
}

/// The dropping of the timelines with ids in `(after, last]` last read
/// before `idle_since`. On PostgreSQL only rows no other transaction holds
/// are dropped, locked first (`SKIP LOCKED`): the trimmer never waits for
/// a timeline a write holds (a copy's KEY SHARE, a renewal, a backfill),
/// so it can never be one side of a deadlock over them, whatever order
/// the write took them in; a row skipped is looked at again next pass at
/// the latest.
fn drop_idle_stmt(backend: DbBackend, after: UserId, last: UserId, idle_since: DateTime<Utc>) -> Statement {
    let mut sql = Sql::new(backend);
    sql.push("DELETE FROM timelines WHERE ");
    push_range(&mut sql, after, last);
    if backend == DbBackend::Postgres {
        // The range outside too, so that the statement walks the primary
        // key's range rather than the whole table.
        sql.push(" AND viewer_id IN (SELECT viewer_id FROM timelines WHERE ");
        push_range(&mut sql, after, last);
        sql.push(" AND read_at < ").bind(idle_since).push(" FOR UPDATE SKIP LOCKED)");
    } else {
        sql.push(" AND read_at < ").bind(idle_since);
    }
    sql.build()
}

/// Pushes the condition on `timelines` rows with ids in `(after, last]`.
fn push_range(sql: &mut Sql, after: UserId, last: UserId) {
    sql.push("viewer_id > ").bind(after).push(" AND viewer_id <= ").bind(last);
}

/// The ready timelines with ids in `(after, last]` that have grown since
/// the trimmer last looked (their newest entry is newer than
/// `checked_top_at`), or that a write marked to be looked at again
/// (`checked_top_at` NULL): the ones whose floors may need raising, the
/// first `count` of them in id order. On PostgreSQL they are locked,
/// those a write holds skipped ([`drop_idle_stmt`] says why), and the
/// statements that follow see every write that committed before the
/// lock. (In one statement, a backfill that committed after the
/// statement's snapshot but before its lock would be seen by the lock's
/// recheck, its mark, and not by the count: the timeline would be noted
/// as counted without its copies.)
///
/// Counting a timeline down to its cap walks the cap's length of the
/// index (0.1-0.14 ms at M), finding its newest entry one step (under
/// 0.01 ms): one that has not grown is not counted again
/// (docs/PERFORMANCE.md, "The trimmer counts only timelines that grew").
/// A copy older than the newest entry (a popular author's post delivered
/// after a newer one came in, or a post whose transaction committed after
/// a newer one's) is seen at the timeline's next growth; the writes that
/// copy in older entries by the many (a follow's backfill, an approval of
/// every request, a build) set `checked_top_at` to NULL.
fn grown_stmt(backend: DbBackend, after: UserId, last: UserId, count: i64) -> Statement {
    let mut sql = Sql::new(backend);
    sql.push("SELECT viewer_id FROM timelines WHERE ");
    push_range(&mut sql, after, last);
    sql.push(" AND ready AND (checked_top_at IS NULL OR ");
    push_nth_newest(&mut sql, Newest::EntriesOfEach, 0);
    sql.push(" > checked_top_at) ORDER BY viewer_id LIMIT ").bind(count);
    if backend == DbBackend::Postgres {
        sql.push(" FOR NO KEY UPDATE SKIP LOCKED");
    }
    sql.build()
}

/// `ids` padded to a power of two with copies of its last: the statements
/// that list them then have a few shapes, not one for each length, and
/// do not crowd the connection's statement cache.
fn padded(mut ids: Vec<UserId>) -> Vec<UserId> {
    if let Some(&last) = ids.last() {
        ids.resize(ids.len().next_power_of_two(), last);
    }
    ids
}

/// The raising of the floors of `viewers` to keep their newest `cap`
/// entries, and the note of their newest entry (see [`grown_stmt`]).
fn raise_floors_stmt(backend: DbBackend, viewers: &[UserId], cap: i64) -> Statement {
    let mut sql = Sql::new(backend);
    sql.push("UPDATE timelines SET floor_at = ").push(greatest(backend)).push("(floor_at, COALESCE(");
    push_nth_newest(&mut sql, Newest::EntriesOfEach, cap);
    sql.push(", floor_at)), checked_top_at = COALESCE(");
    push_nth_newest(&mut sql, Newest::EntriesOfEach, 0);
    // An empty timeline is noted as looked at, not looked at every round.
    sql.push(", ").bind(no_floor()).push(") WHERE viewer_id IN (").bind_list(viewers).push(")");
    sql.build()
}

/// The deletion of the entries at or below their timeline's floor, for
/// the timelines `viewers` (those [`grown_stmt`] found). It walks each
/// timeline's entries from its oldest up to its floor (usually none)
/// rather than all of them: written as a correlated filter on the
/// entries, it read every entry of the batch and looked up its
/// timeline's floor for each (455-560 ms a round of 500 filled timelines
/// at M with nothing to delete, against 10-12 ms; docs/PERFORMANCE.md,
/// "The trimmer's cost"). On PostgreSQL the rows are found by row
/// address (`ctid`) through a LATERAL subquery kept apart (`OFFSET 0`),
/// so the planner cannot turn it back into one join over every entry;
/// entries are never updated, so an address stays a row's for the
/// statement. On SQLite by `rowid`, the join walked in that order.
fn below_floors_stmt(backend: DbBackend, viewers: &[UserId]) -> Statement {
    let (open, close) = match backend {
        DbBackend::Postgres => (
            "DELETE FROM timeline_entries WHERE ctid = ANY(ARRAY(SELECT e.ctid FROM timelines t CROSS JOIN LATERAL \
             (SELECT ctid FROM timeline_entries e WHERE e.viewer_id = t.viewer_id AND e.created_at <= t.floor_at OFFSET 0) e \
             WHERE t.viewer_id IN (",
            ")))",
        ),
        _ => (
            "DELETE FROM timeline_entries WHERE rowid IN (SELECT e.rowid FROM timelines t CROSS JOIN timeline_entries e \
             ON e.viewer_id = t.viewer_id AND e.created_at <= t.floor_at WHERE t.viewer_id IN (",
            "))",
        ),
    };
    let mut sql = Sql::new(backend);
    sql.push(open).bind_list(viewers).push(close);
    sql.build()
}

/// Copies one queued post to the next `batch` of its author's
/// followers, in one transaction, and takes it off the queue after the
/// last. It takes no lock on the author's row, so createPost and follows
/// of a popular author never wait for it: a follow that begins meanwhile
/// copies the post itself (it is in `posts` before it is queued), and a
/// copy written for a follow that ended meanwhile is skipped by the read.
/// Returns whether there was anything to do.
pub async fn deliver_batch(db: &DatabaseConnection, batch: i64) -> StoreResult<bool> {
    let backend = db.get_database_backend();
    let postgres = backend == DbBackend::Postgres;
    let Some(row) = db
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT post_id, author_id FROM timeline_pending ORDER BY post_id LIMIT 1",
        ))
        .await?
    else {
        return Ok(false);
    };
    let (post, author): (PostId, UserId) = (row.try_get("", "post_id")?, row.try_get("", "author_id")?);
    let txn = begin_write(db).await?;
    let mut sql = Sql::new(backend);
    sql.push("SELECT created_at, next_follower FROM timeline_pending WHERE post_id = ").bind(post);
    if postgres {
        sql.push(" FOR UPDATE");
    }
    let Some(row) = txn.query_one_raw(sql.build()).await? else {
        return Ok(true); // deleted, or finished by another instance
    };
    let (at, next): (DateTime<Utc>, i64) = (row.try_get("", "created_at")?, row.try_get("", "next_follower")?);
    let mut sql = Sql::new(backend);
    sql.push(
        "SELECT MAX(follower_id) AS last, COUNT(*) AS n FROM (SELECT follower_id FROM follows WHERE followed_id = ",
    )
    .bind(author)
    .push(" AND NOT hidden_from_feed AND follower_id >= ")
    .bind(next)
    .push(" ORDER BY follower_id LIMIT ")
    .bind(batch)
    .push(") f");
    let row = txn.query_one_raw(sql.build()).await?;
    let (last, n): (Option<i64>, i64) = match row {
        Some(row) => (row.try_get("", "last")?, row.try_get("", "n")?),
        None => (None, 0),
    };
    if let Some(last) = last {
        let mut sql = Sql::new(backend);
        push_fan_out(&mut sql, author, post, at, Some((next, last)));
        txn.execute_raw(sql.build()).await?;
    }
    let mut sql = Sql::new(backend);
    match last {
        Some(last) if n >= batch => {
            sql.push("UPDATE timeline_pending SET next_follower = ").bind(last + 1).push(" WHERE post_id = ").bind(post)
        }
        _ => sql.push("DELETE FROM timeline_pending WHERE post_id = ").bind(post),
    };
    txn.execute_raw(sql.build()).await?;
    txn.commit().await?;
    Ok(true)
}

/// How many of an account's newest posts each requester gets when the
/// account turns OPEN and approves every pending request at once (fewer
/// than a follow's `cap`: the work is this times the requests), and the
/// least each account gets in a followMany.
pub const APPROVE_ALL_BACKFILL: i64 = 20;

/// Pushes [`backfill`] for every account with a pending request to
/// `account`, as it approves them all: the floor raised above the
/// account's posts beyond the newest [`APPROVE_ALL_BACKFILL`] and the
/// timeline marked for the trimmer (first statement), those posts copied
/// (second).
pub fn backfill_requesters_stmts(backend: DbBackend, account: UserId) -> [Statement; 2] {
    let requesters = |sql: &mut Sql| {
        sql.push("viewer_id IN (SELECT requester_id FROM follow_requests WHERE target_id = ").bind(account).push(")");
    };
    let mut floor = Sql::new(backend);
    floor
        .push("UPDATE timelines SET checked_top_at = NULL, floor_at = ")
        .push(greatest(backend))
        .push("(floor_at, COALESCE(");
    push_nth_newest(&mut floor, Newest::Posts(account), APPROVE_ALL_BACKFILL);
    floor.push(", floor_at)) WHERE ");
    requesters(&mut floor);
    let mut copy = Sql::new(backend);
    copy.push("INSERT INTO timeline_entries (viewer_id, created_at, post_id, author_id) SELECT t.viewer_id, p.created_at, p.id, p.user_id FROM timelines t JOIN (SELECT id, user_id, created_at FROM posts WHERE user_id = ")
        .bind(account)
        .push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .bind(APPROVE_ALL_BACKFILL)
        .push(") p ON p.created_at > t.floor_at WHERE t.");
    requesters(&mut copy);
    push_lock_timelines(&mut copy);
    copy.push(" ON CONFLICT DO NOTHING");
    [floor.build(), copy.build()]
}

/// The larger of two values: `GREATEST` on PostgreSQL, the scalar `MAX`
/// on SQLite (NULL if either is: callers give it none).
fn greatest(backend: DbBackend) -> &'static str {
    if backend == DbBackend::Postgres {
        "GREATEST"
    } else {
        "MAX"
    }
}

/// Whose newest rows [`push_nth_newest`] counts.
enum Newest {
    /// An account's posts.
    Posts(UserId),
    /// A viewer's timeline entries.
    Entries(UserId),
    /// The entries of each row of a statement on `timelines`.
    EntriesOfEach,
}

/// Pushes `(SELECT created_at ... LIMIT 1 OFFSET n)`: when the row after
/// the `n` newest was made (NULL when there are no more than `n`), the
/// floor that keeps those `n`. An index range walked newest first.
fn push_nth_newest(sql: &mut Sql, of: Newest, n: i64) {
    match of {
        Newest::Posts(author) => {
            sql.push("(SELECT created_at FROM posts WHERE user_id = ").bind(author).push(" ORDER BY created_at DESC, id DESC")
        }
        Newest::Entries(viewer) => sql
            .push("(SELECT created_at FROM timeline_entries WHERE viewer_id = ")
            .bind(viewer)
            .push(" ORDER BY created_at DESC, post_id DESC"),
        Newest::EntriesOfEach => sql.push(
            "(SELECT created_at FROM timeline_entries e WHERE e.viewer_id = timelines.viewer_id ORDER BY created_at DESC, post_id DESC",
        ),
    };
    sql.push(" LIMIT 1 OFFSET ").bind(n).push(")");
}
