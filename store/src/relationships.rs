//! Relationships between two accounts: follows, follow requests and blocks,
//! read together ([`Relationship`]) and changed together.
//!
//! Every write here is one transaction that first locks the users rows it
//! concerns, in id order ([`lock_users`]: `FOR NO KEY UPDATE` on
//! PostgreSQL; on SQLite `BEGIN IMMEDIATE` already holds the one write
//! lock), and only then reads the pair's state in a new statement. So a
//! follow that races a block, or a request that races its target's policy
//! switch, runs wholly before or wholly after it: the later one sees what
//! the earlier one did. (Read in the same statement as the lock, the state
//! would come from the snapshot taken before the wait.) The users rows are
//! the lock because every one of these writes moves their counters anyway,
//! and `NO KEY UPDATE` does not conflict with the key-share locks that
//! inserts referencing those users take.
//!
//! The number of statements a write runs does not grow with the number of
//! accounts it names (at most 100, checked by the API).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{user, FollowPolicy, UserId};
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, FromQueryResult, Statement};

use crate::error::{StoreError, StoreResult};
use crate::sql::Sql;
use crate::timeline::{self, Delivery};
use crate::{begin_write, now, retrying};

/// The viewer's relationship with one other account (Mastodon's
/// Relationship). The default is "none at all".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relationship {
    /// The viewer follows them (since `followed_at`).
    pub following: bool,
    pub followed_by: bool,
    /// The viewer asked to follow them and awaits approval.
    pub requested: bool,
    pub requested_by: bool,
    pub blocking: bool,
    pub blocked_by: bool,
    /// The viewer follows them but keeps their posts out of the feed.
    pub hidden_from_feed: bool,
    pub followed_at: Option<DateTime<Utc>>,
}

impl Relationship {
    /// A block either way.
    pub fn blocked(&self) -> bool {
        self.blocking || self.blocked_by
    }
}

/// Which parts of a [`Relationship`] a read probes: one index probe each.
/// A field asking for two bits need not pay for seven (W4: `viewerIsFollowing
/// followsViewer`); the parts not probed read as false.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Probes(u8);

impl Probes {
    pub const NONE: Probes = Probes(0);
    pub const FOLLOWING: Probes = Probes(1);
    pub const HIDDEN: Probes = Probes(1 << 1);
    pub const FOLLOWED_BY: Probes = Probes(1 << 2);
    pub const REQUESTED: Probes = Probes(1 << 3);
    pub const REQUESTED_BY: Probes = Probes(1 << 4);
    pub const BLOCKING: Probes = Probes(1 << 5);
    pub const BLOCKED_BY: Probes = Probes(1 << 6);
    pub const ALL: Probes = Probes((1 << 7) - 1);

    pub const fn with(self, other: Probes) -> Probes {
        Probes(self.0 | other.0)
    }

    pub const fn contains(self, other: Probes) -> bool {
        self.0 & other.0 == other.0
    }
}

/// Each probe: its bit, its column, and its subquery (`{u}` the user row,
/// `{v}` the viewer, bound).
const PROBES: [(Probes, &str, &str); 7] = [
    (
        Probes::FOLLOWING,
        "following_at",
        "SELECT created_at FROM follows WHERE follower_id = {v} AND followed_id = {u}.id",
    ),
    (Probes::HIDDEN, "hidden", "SELECT hidden_from_feed FROM follows WHERE follower_id = {v} AND followed_id = {u}.id"),
    (Probes::FOLLOWED_BY, "followed_by", "SELECT 1 FROM follows WHERE follower_id = {u}.id AND followed_id = {v}"),
    (Probes::REQUESTED, "requested", "SELECT 1 FROM follow_requests WHERE requester_id = {v} AND target_id = {u}.id"),
    (
        Probes::REQUESTED_BY,
        "requested_by",
        "SELECT 1 FROM follow_requests WHERE requester_id = {u}.id AND target_id = {v}",
    ),
    (Probes::BLOCKING, "blocking", "SELECT 1 FROM blocks WHERE blocker_id = {v} AND blocked_id = {u}.id"),
    (Probes::BLOCKED_BY, "blocked_by", "SELECT 1 FROM blocks WHERE blocker_id = {u}.id AND blocked_id = {v}"),
];

/// Appends the relationship columns `probes` names, of `viewer` with the
/// user row `u`: one probe of a primary key or index per column.
fn push_columns(sql: &mut Sql, viewer: UserId, u: &str, probes: Probes) {
    for (bit, name, probe) in PROBES {
        if !probes.contains(bit) {
            continue;
        }
        let (head, tail) = probe.split_once("{v}").unwrap_or((probe, ""));
        sql.push(", (").push(&head.replace("{u}", u)).bind(viewer).push(&tail.replace("{u}", u));
        sql.push(&format!(") AS rel_{name}"));
    }
}

/// Reads the columns [`push_columns`] wrote; the parts not probed are false.
fn from_row(row: &sea_orm::QueryResult, probes: Probes) -> StoreResult<Relationship> {
    let flag = |bit: Probes, name: &str| -> StoreResult<bool> {
        Ok(probes.contains(bit) && row.try_get::<Option<i32>>("", name)?.is_some())
    };
    let followed_at: Option<DateTime<Utc>> = match probes.contains(Probes::FOLLOWING) {
        true => row.try_get("", "rel_following_at")?,
        false => None,
    };
    let hidden_from_feed = match probes.contains(Probes::HIDDEN) {
        true => row.try_get::<Option<bool>>("", "rel_hidden")?.unwrap_or(false),
        false => false,
    };
    Ok(Relationship {
        following: followed_at.is_some(),
        followed_by: flag(Probes::FOLLOWED_BY, "rel_followed_by")?,
        requested: flag(Probes::REQUESTED, "rel_requested")?,
        requested_by: flag(Probes::REQUESTED_BY, "rel_requested_by")?,
        blocking: flag(Probes::BLOCKING, "rel_blocking")?,
        blocked_by: flag(Probes::BLOCKED_BY, "rel_blocked_by")?,
        hidden_from_feed,
        followed_at,
    })
}

/// The viewer's relationship with each of `others` (those that exist), in
/// one statement; only the parts `probes` names are read.
pub async fn read(
    db: &impl ConnectionTrait,
    viewer: UserId,
    others: &[UserId],
    probes: Probes,
) -> StoreResult<HashMap<UserId, Relationship>> {
    if others.is_empty() {
        return Ok(HashMap::new());
    }
    let mut out = HashMap::with_capacity(others.len());
    for row in db.query_all_raw(read_stmt(db.get_database_backend(), viewer, others, probes)).await? {
        out.insert(row.try_get::<UserId>("", "id")?, from_row(&row, probes)?);
    }
    Ok(out)
}

pub fn read_stmt(backend: DbBackend, viewer: UserId, others: &[UserId], probes: Probes) -> Statement {
    let mut sql = Sql::new(backend);
    sql.push("SELECT u.id");
    push_columns(&mut sql, viewer, "u", probes);
    sql.push(" FROM users u WHERE u.id IN (").bind_list(others).push(")");
    sql.build()
}

/// A user by username together with the parts of the viewer's
/// relationship with them that `probes` names, in one statement (for
/// `user(username:) { viewerIsFollowing ... }`).
pub async fn find_by_username_seen_by(
    db: &impl ConnectionTrait,
    username: &str,
    viewer: UserId,
    probes: Probes,
) -> StoreResult<Option<(user::Model, Relationship)>> {
    let stmt = find_by_username_seen_by_stmt(db.get_database_backend(), username, viewer, probes);
    let Some(row) = db.query_one_raw(stmt).await? else {
        return Ok(None);
    };
    Ok(Some((user::Model::from_query_result(&row, "")?, from_row(&row, probes)?)))
}

pub fn find_by_username_seen_by_stmt(backend: DbBackend, username: &str, viewer: UserId, probes: Probes) -> Statement {
    let mut sql = Sql::new(backend);
    sql.push("SELECT ").push(crate::users::SHOWN);
    push_columns(&mut sql, viewer, "u", probes);
    sql.push(" FROM users u WHERE lower(u.username) = lower(").bind(username).push(")");
    sql.build()
}

/// Locks the users rows of `ids` (see the module's doc) and returns them.
pub async fn lock_users(txn: &DatabaseTransaction, ids: &[UserId]) -> StoreResult<HashMap<UserId, user::Model>> {
    let rows = user::Model::find_by_statement(lock_stmt(txn.get_database_backend(), ids)).all(txn).await?;
    Ok(rows.into_iter().map(|u| (u.id, u)).collect())
}

/// Locks the viewer's row and the rows of the users each of `related`
/// (`SELECT <ids> FROM ... = ` taking the viewer's id) names, in id order,
/// `FOR <strength>` on PostgreSQL; returns them.
async fn lock_related(
    txn: &DatabaseTransaction,
    viewer: UserId,
    related: &[&str],
    strength: &str,
) -> StoreResult<HashMap<UserId, user::Model>> {
    let backend = txn.get_database_backend();
    let mut sql = Sql::new(backend);
    sql.push("SELECT * FROM users WHERE id = ").bind(viewer);
    for of in related {
        sql.push(" OR id IN (").push(of).bind(viewer).push(")");
    }
    sql.push(" ORDER BY id");
    if backend == DbBackend::Postgres {
        sql.push(&format!(" FOR {strength}"));
    }
    let rows = user::Model::find_by_statement(sql.build()).all(txn).await?;
    Ok(rows.into_iter().map(|u| (u.id, u)).collect())
}

pub fn lock_stmt(backend: DbBackend, ids: &[UserId]) -> Statement {
    let mut sql = Sql::new(backend);
    sql.push("SELECT * FROM users WHERE id IN (").bind_list(ids).push(") ORDER BY id");
    if backend == DbBackend::Postgres {
        sql.push(" FOR NO KEY UPDATE");
    }
    sql.build()
}

/// How much one user's counters move.
#[derive(Clone, Copy, Debug, Default)]
pub struct Moves {
    following: i64,
    followers: i64,
}

/// Counter moves collected while a write decides, applied in one UPDATE.
#[derive(Default)]
pub struct Counters(HashMap<UserId, Moves>);

impl Counters {
    /// `follower` now follows `followed` (`by` = 1) or no longer does (-1).
    pub fn edge(&mut self, follower: UserId, followed: UserId, by: i64) {
        self.0.entry(follower).or_default().following += by;
        self.0.entry(followed).or_default().followers += by;
    }

    /// The UPDATE that applies the moves, returning the moved rows; `None`
    /// when nothing moves.
    pub fn stmt(self, backend: DbBackend) -> Option<Statement> {
        let mut sql = Sql::new(backend);
        self.push_update(&mut sql).then(|| sql.build())
    }

    /// The statements of `writes` (each pushes one INSERT, UPDATE or
    /// DELETE, none depending on another's outcome) and of the moves they
    /// cause. On PostgreSQL one statement, the writes in data-modifying
    /// CTEs (the rows are locked and the decision made already, so nothing
    /// in the UPDATE depends on them): a round trip less per write. On
    /// SQLite, which has no writes in CTEs, one each. Rows come back from
    /// the UPDATE only.
    pub fn stmts_after(self, backend: DbBackend, writes: &[&(dyn Fn(&mut Sql) + Sync)]) -> Vec<Statement> {
        if backend == DbBackend::Postgres && !writes.is_empty() {
            let mut sql = Sql::new(backend);
            for (i, write) in writes.iter().enumerate() {
                sql.push(&format!("{}w{i} AS (", if i == 0 { "WITH " } else { ", " }));
                write(&mut sql);
                sql.push(")");
            }
            sql.push(" ");
            if !self.push_update(&mut sql) {
                sql.push("SELECT * FROM users WHERE 1 = 0");
            }
            return vec![sql.build()];
        }
        let mut stmts: Vec<Statement> = writes
            .iter()
            .map(|write| {
                let mut sql = Sql::new(backend);
                write(&mut sql);
                sql.build()
            })
            .collect();
        stmts.extend(self.stmt(backend));
        stmts
    }

    /// Pushes the UPDATE; false (and nothing pushed) when nothing moves.
    fn push_update(self, sql: &mut Sql) -> bool {
        let moves: Vec<(UserId, Moves)> =
            self.0.into_iter().filter(|(_, m)| m.following != 0 || m.followers != 0).collect();
        if moves.is_empty() {
            return false;
        }
        for (i, column) in ["following_count", "followers_count"].into_iter().enumerate() {
            sql.push(if i == 0 { "UPDATE users SET " } else { ", " });
            sql.push(&format!("{column} = {column} + CASE id"));
            for (id, m) in &moves {
                sql.push(" WHEN ").bind(*id).push(" THEN ").bind(if i == 0 { m.following } else { m.followers });
            }
            sql.push(" ELSE 0 END");
        }
        let ids: Vec<UserId> = moves.iter().map(|(id, _)| *id).collect();
        sql.push(" WHERE id IN (").bind_list(&ids).push(") RETURNING *");
        true
    }
}

/// What a relationship write left: the other account's row (fresh when its
/// counters moved) and the viewer's relationship with it; for writes that
/// name one account, also the viewer's row.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub user: user::Model,
    pub relationship: Relationship,
}

/// The result of a write: one outcome per account named, in the order
/// given, and the viewer's row after it.
#[derive(Clone, Debug)]
pub struct Written {
    pub outcomes: Vec<Outcome>,
    pub viewer: user::Model,
}

/// Opens the write: locks the viewer and `others`, requires them all to
/// exist, and reads the viewer's relationship with each.
async fn open(
    db: &DatabaseConnection,
    viewer: UserId,
    others: &[UserId],
) -> StoreResult<(DatabaseTransaction, HashMap<UserId, user::Model>, HashMap<UserId, Relationship>)> {
    let txn = begin_write(db).await?;
    let mut ids = others.to_vec();
    ids.push(viewer);
    let users = lock_users(&txn, &ids).await?;
    if !users.contains_key(&viewer) {
        return Err(StoreError::NotFound("this account no longer exists"));
    }
    if others.iter().any(|id| !users.contains_key(id)) {
        return Err(StoreError::NotFound("no user has that ID"));
    }
    let relationships = read(&txn, viewer, others, Probes::ALL).await?;
    Ok((txn, users, relationships))
}

/// Commits and assembles the outcome: rows the counters moved replace the
/// locked ones. `writes` are the writes the counters move for, run with
/// them ([`Counters::stmts_after`]).
async fn close(
    txn: DatabaseTransaction,
    viewer: UserId,
    others: &[UserId],
    mut users: HashMap<UserId, user::Model>,
    relationships: HashMap<UserId, Relationship>,
    counters: Counters,
    writes: &[&(dyn Fn(&mut Sql) + Sync)],
) -> StoreResult<Written> {
    let mut moved = Vec::new();
    for stmt in counters.stmts_after(txn.get_database_backend(), writes) {
        moved.extend(user::Model::find_by_statement(stmt).all(&txn).await?);
    }
    for row in moved {
        users.insert(row.id, row);
    }
    txn.commit().await?;
    let viewer = users.get(&viewer).cloned().ok_or(StoreError::NotFound("this account no longer exists"))?;
    let mut outcomes = Vec::with_capacity(others.len());
    for id in others {
        let user = users.get(id).cloned().ok_or(StoreError::NotFound("no user has that ID"))?;
        outcomes.push(Outcome { user, relationship: relationships.get(id).copied().unwrap_or_default() });
    }
    Ok(Written { outcomes, viewer })
}

/// Follows each of `targets` (distinct, none the viewer) by its policy:
/// OPEN at once, APPROVAL by a request, CLOSED refused. Already following
/// or already requested: left as it is. Checks every target before writing
/// anything: one unknown, CLOSED or blocked target fails the whole call.
/// Each new follow copies the account's newest posts into the viewer's
/// timeline (at most `delivery.cap` in all).
pub async fn follow(
    db: &DatabaseConnection,
    viewer: UserId,
    targets: &[UserId],
    delivery: Delivery,
) -> StoreResult<Written> {
    retrying(|| follow_once(db, viewer, targets, delivery)).await
}

async fn follow_once(
    db: &DatabaseConnection,
    viewer: UserId,
    targets: &[UserId],
    delivery: Delivery,
) -> StoreResult<Written> {
    let (txn, users, mut relationships) = open(db, viewer, targets).await?;
    let (mut follows, mut requests) = (Vec::new(), Vec::new());
    for target in targets {
        let rel = relationships.get(target).copied().unwrap_or_default();
        if rel.following {
            continue;
        }
        if rel.blocking {
            return Err(StoreError::Refused("you block this account: unblock it first"));
        }
        if rel.blocked_by {
            return Err(StoreError::Refused("this account blocks you"));
        }
        match users[target].follow_policy {
            FollowPolicy::Open => follows.push(*target),
            FollowPolicy::Approval if rel.requested => {}
            FollowPolicy::Approval => requests.push(*target),
            FollowPolicy::Closed => return Err(StoreError::Refused("this account accepts no new followers")),
        }
    }
    let at = now();
    let mut counters = Counters::default();
    if !requests.is_empty() {
        insert_pairs(&txn, "follow_requests (requester_id, target_id, created_at)", viewer, &requests, at).await?;
        for target in &requests {
            relationships.entry(*target).or_default().requested = true;
        }
    }
    for target in &follows {
        counters.edge(viewer, *target, 1);
        let rel = relationships.entry(*target).or_default();
        (rel.following, rel.followed_at, rel.hidden_from_feed) = (true, Some(at), false);
    }
    // The follows are written with the counters they move, and the
    // followed accounts' newest posts copied into the viewer's timeline.
    // At most `cap` copies in all, and at least 20 an account (followMany
    // of 100 copies 2,000, not 80,000; the floor rises over the rest).
    let each = (delivery.cap / follows.len().max(1) as i64).max(timeline::APPROVE_ALL_BACKFILL).min(delivery.cap);
    let write = |sql: &mut Sql| push_insert_pairs(sql, FOLLOWS, viewer, &follows, at);
    let floor = |sql: &mut Sql| timeline::push_backfill_floor(sql, viewer, &follows, each);
    let copy = |sql: &mut Sql| timeline::push_backfill_copy(sql, viewer, &follows, each);
    let writes: &[&(dyn Fn(&mut Sql) + Sync)] = if follows.is_empty() { &[] } else { &[&write, &floor, &copy] };
    close(txn, viewer, targets, users, relationships, counters, writes).await
}

/// `INSERT INTO <into> VALUES (viewer, other, at), ...` in one statement.
async fn insert_pairs(
    txn: &DatabaseTransaction,
    into: &str,
    viewer: UserId,
    others: &[UserId],
    at: DateTime<Utc>,
) -> StoreResult<()> {
    txn.execute_raw(insert_pairs_stmt(txn.get_database_backend(), into, viewer, others, at)).await?;
    Ok(())
}

pub fn insert_pairs_stmt(
    backend: DbBackend,
    into: &str,
    viewer: UserId,
    others: &[UserId],
    at: DateTime<Utc>,
) -> Statement {
    let mut sql = Sql::new(backend);
    push_insert_pairs(&mut sql, into, viewer, others, at);
    sql.build()
}

/// Pushes `INSERT INTO <into> VALUES (viewer, other, at), ...`.
pub fn push_insert_pairs(sql: &mut Sql, into: &str, viewer: UserId, others: &[UserId], at: DateTime<Utc>) {
    sql.push(&format!("INSERT INTO {into} VALUES "));
    for (i, other) in others.iter().enumerate() {
        sql.push(if i == 0 { "(" } else { ", (" }).bind(viewer).push(", ").bind(*other).push(", ").bind(at).push(")");
    }
}

/// The columns of a new follow, for [`insert_pairs_stmt`].
pub const FOLLOWS: &str = "follows (follower_id, followed_id, created_at)";

/// Ends the viewer's follow of, and cancels their request to, each of
/// `targets`; idempotent.
pub async fn unfollow(db: &DatabaseConnection, viewer: UserId, targets: &[UserId]) -> StoreResult<Written> {
    retrying(|| unfollow_once(db, viewer, targets)).await
}

async fn unfollow_once(db: &DatabaseConnection, viewer: UserId, targets: &[UserId]) -> StoreResult<Written> {
    let (txn, users, mut relationships) = open(db, viewer, targets).await?;
    let mut counters = Counters::default();
    let ended: Vec<UserId> =
        targets.iter().copied().filter(|t| relationships.get(t).is_some_and(|r| r.following)).collect();
    let cancelled: Vec<UserId> =
        targets.iter().copied().filter(|t| relationships.get(t).is_some_and(|r| r.requested)).collect();
    if !cancelled.is_empty() {
        delete_pairs(&txn, "follow_requests", "requester_id", "target_id", viewer, &cancelled).await?;
        for target in cancelled {
            relationships.entry(target).or_default().requested = false;
        }
    }
    for target in &ended {
        counters.edge(viewer, *target, -1);
        let rel = relationships.entry(*target).or_default();
        (rel.following, rel.followed_at, rel.hidden_from_feed) = (false, None, false);
    }
    // The follows end with the counters they move, and their posts leave
    // the viewer's timeline.
    let write = |sql: &mut Sql| push_delete_pairs(sql, "follows", "follower_id", "followed_id", viewer, &ended);
    let remove = |sql: &mut Sql| timeline::push_remove_authors(sql, viewer, &ended);
    let writes: &[&(dyn Fn(&mut Sql) + Sync)] = if ended.is_empty() { &[] } else { &[&write, &remove] };
    close(txn, viewer, targets, users, relationships, counters, writes).await
}

/// `DELETE FROM <table> WHERE <mine> = viewer AND <theirs> IN (others)`.
async fn delete_pairs(
    txn: &DatabaseTransaction,
    table: &str,
    mine: &str,
    theirs: &str,
    viewer: UserId,
    others: &[UserId],
) -> StoreResult<()> {
    txn.execute_raw(delete_pairs_stmt(txn.get_database_backend(), table, mine, theirs, viewer, others)).await?;
    Ok(())
}

pub fn delete_pairs_stmt(
    backend: DbBackend,
    table: &str,
    mine: &str,
    theirs: &str,
    viewer: UserId,
    others: &[UserId],
) -> Statement {
    let mut sql = Sql::new(backend);
    push_delete_pairs(&mut sql, table, mine, theirs, viewer, others);
    sql.build()
}

/// Pushes `DELETE FROM <table> WHERE <mine> = viewer AND <theirs> IN (others)`.
pub fn push_delete_pairs(sql: &mut Sql, table: &str, mine: &str, theirs: &str, viewer: UserId, others: &[UserId]) {
    sql.push(&format!("DELETE FROM {table} WHERE {mine} = ")).bind(viewer);
    sql.push(&format!(" AND {theirs} IN (")).bind_list(others).push(")");
}

/// Ends `follower`'s follow of the viewer, if any (a soft block: they may
/// follow again).
pub async fn remove_follower(db: &DatabaseConnection, viewer: UserId, follower: UserId) -> StoreResult<Written> {
    retrying(|| remove_follower_once(db, viewer, follower)).await
}

async fn remove_follower_once(db: &DatabaseConnection, viewer: UserId, follower: UserId) -> StoreResult<Written> {
    let (txn, users, mut relationships) = open(db, viewer, &[follower]).await?;
    let mut counters = Counters::default();
    let rel = relationships.entry(follower).or_default();
    if rel.followed_by {
        delete_pairs(&txn, "follows", "followed_id", "follower_id", viewer, &[follower]).await?;
        timeline::remove_authors(&txn, follower, &[viewer]).await?;
        counters.edge(follower, viewer, -1);
        rel.followed_by = false;
    }
    close(txn, viewer, &[follower], users, relationships, counters, &[]).await
}

/// Turns `requester`'s pending request into a follow of the viewer, dated
/// now. NOT_FOUND without a pending request.
pub async fn approve(
    db: &DatabaseConnection,
    viewer: UserId,
    requester: UserId,
    delivery: Delivery,
) -> StoreResult<Written> {
    retrying(|| answer_once(db, viewer, requester, Some(delivery))).await
}

/// Drops `requester`'s pending request. NOT_FOUND without one.
pub async fn reject(db: &DatabaseConnection, viewer: UserId, requester: UserId) -> StoreResult<Written> {
    retrying(|| answer_once(db, viewer, requester, None)).await
}

/// Takes `requester`'s pending request off the list, and when approved
/// (a `delivery` is given) makes it a follow (counters move).
async fn answer_once(
    db: &DatabaseConnection,
    viewer: UserId,
    requester: UserId,
    approved: Option<Delivery>,
) -> StoreResult<Written> {
    let (txn, users, mut relationships) = open(db, viewer, &[requester]).await?;
    let rel = relationships.entry(requester).or_default();
    if !rel.requested_by {
        return Err(StoreError::NotFound("this account has no pending request to follow you"));
    }
    delete_pairs(&txn, "follow_requests", "target_id", "requester_id", viewer, &[requester]).await?;
    rel.requested_by = false;
    let mut counters = Counters::default();
    if let Some(delivery) = approved {
        timeline::backfill(&txn, requester, &[viewer], delivery.cap).await?;
        insert_pairs(&txn, FOLLOWS, requester, &[viewer], now()).await?;
        counters.edge(requester, viewer, 1);
        rel.followed_by = true;
    }
    close(txn, viewer, &[requester], users, relationships, counters, &[]).await
}

/// Blocks `target`: ends follows and requests both ways (counters move),
/// and records the block. Idempotent.
pub async fn block(db: &DatabaseConnection, viewer: UserId, target: UserId) -> StoreResult<Written> {
    retrying(|| block_once(db, viewer, target)).await
}

async fn block_once(db: &DatabaseConnection, viewer: UserId, target: UserId) -> StoreResult<Written> {
    let (txn, users, mut relationships) = open(db, viewer, &[target]).await?;
    let rel = relationships.entry(target).or_default();
    let mut counters = Counters::default();
    if rel.following {
        counters.edge(viewer, target, -1);
    }
    if rel.followed_by {
        counters.edge(target, viewer, -1);
    }
    let backend = txn.get_database_backend();
    for table in ["follows (follower_id, followed_id)", "follow_requests (requester_id, target_id)"] {
        let (name, columns) = table.split_once(' ').unwrap_or((table, ""));
        let mut sql = Sql::new(backend);
        sql.push(&format!("DELETE FROM {name} WHERE {columns} IN ((")).bind(viewer).push(", ").bind(target);
        sql.push("), (").bind(target).push(", ").bind(viewer).push("))");
        txn.execute_raw(sql.build()).await?;
    }
    timeline::remove_authors(&txn, viewer, &[target]).await?;
    timeline::remove_authors(&txn, target, &[viewer]).await?;
    if !rel.blocking {
        insert_pairs(&txn, "blocks (blocker_id, blocked_id, created_at)", viewer, &[target], now()).await?;
    }
    *rel = Relationship { blocking: true, blocked_by: rel.blocked_by, ..Default::default() };
    close(txn, viewer, &[target], users, relationships, counters, &[]).await
}

/// Lifts the viewer's block of `target`. Idempotent; nothing else returns
/// (follows ended by the block stay ended).
pub async fn unblock(db: &DatabaseConnection, viewer: UserId, target: UserId) -> StoreResult<Written> {
    retrying(|| unblock_once(db, viewer, target)).await
}

async fn unblock_once(db: &DatabaseConnection, viewer: UserId, target: UserId) -> StoreResult<Written> {
    let (txn, users, mut relationships) = open(db, viewer, &[target]).await?;
    let rel = relationships.entry(target).or_default();
    if rel.blocking {
        delete_pairs(&txn, "blocks", "blocker_id", "blocked_id", viewer, &[target]).await?;
        rel.blocking = false;
    }
    close(txn, viewer, &[target], users, relationships, Counters::default(), &[]).await
}

/// Changes the viewer's follow of `target`: `hidden` sets its
/// `hidden_from_feed` (None leaves it). NOT_FOUND when the viewer does not
/// follow `target`.
/// Hiding takes the account's posts out of the viewer's timeline; showing
/// it again copies them back in.
pub async fn update_follow(
    db: &DatabaseConnection,
    viewer: UserId,
    target: UserId,
    hidden: Option<bool>,
    delivery: Delivery,
) -> StoreResult<Written> {
    retrying(|| update_follow_once(db, viewer, target, hidden, delivery)).await
}

async fn update_follow_once(
    db: &DatabaseConnection,
    viewer: UserId,
    target: UserId,
    hidden: Option<bool>,
    delivery: Delivery,
) -> StoreResult<Written> {
    let (txn, users, mut relationships) = open(db, viewer, &[target]).await?;
    let rel = relationships.entry(target).or_default();
    if !rel.following {
        return Err(StoreError::NotFound("you do not follow this account"));
    }
    let Some(hidden) = hidden else {
        return close(txn, viewer, &[target], users, relationships, Counters::default(), &[]).await;
    };
    let mut sql = Sql::new(txn.get_database_backend());
    sql.push("UPDATE follows SET hidden_from_feed = ")
        .bind(hidden)
        .push(" WHERE follower_id = ")
        .bind(viewer)
        .push(" AND followed_id = ")
        .bind(target);
    txn.execute_raw(sql.build()).await?;
    if hidden && !rel.hidden_from_feed {
        timeline::remove_authors(&txn, viewer, &[target]).await?;
    } else if !hidden && rel.hidden_from_feed {
        timeline::backfill(&txn, viewer, &[target], delivery.cap).await?;
    }
    rel.hidden_from_feed = hidden;
    close(txn, viewer, &[target], users, relationships, Counters::default(), &[]).await
}

/// A change to the viewer's profile: each field given is set, the others
/// left as they are. Validated by the caller.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProfileChange<'a> {
    pub display_name: Option<&'a str>,
    pub bio: Option<&'a str>,
    pub policy: Option<FollowPolicy>,
    pub network_hidden: Option<bool>,
}

/// Changes the viewer's profile, settling pending requests when the follow
/// policy changes: to OPEN approves them all (each a follow dated now), to
/// CLOSED rejects them all. One transaction; the work is one statement
/// per step whatever the number of requests.
pub async fn update_profile(
    db: &DatabaseConnection,
    viewer: UserId,
    change: ProfileChange<'_>,
) -> StoreResult<user::Model> {
    retrying(|| update_profile_once(db, viewer, change)).await
}

async fn update_profile_once(
    db: &DatabaseConnection,
    viewer: UserId,
    change: ProfileChange<'_>,
) -> StoreResult<user::Model> {
    let ProfileChange { display_name, bio, policy, network_hidden } = change;
    let txn = begin_write(db).await?;
    let backend = txn.get_database_backend();
    // The viewer and everyone who asked them, locked in id order like
    // every other relationship write: approving moves the requesters'
    // counters.
    let users =
        lock_related(&txn, viewer, &["SELECT requester_id FROM follow_requests WHERE target_id = "], "NO KEY UPDATE")
            .await?;
    let me = users.get(&viewer).ok_or(StoreError::NotFound("this account no longer exists"))?;
    if policy == Some(FollowPolicy::Open) && me.follow_policy != FollowPolicy::Open {
        let mut sql = Sql::new(backend);
        sql.push("UPDATE users SET following_count = following_count + 1 WHERE id IN (SELECT requester_id FROM follow_requests WHERE target_id = ")
            .bind(viewer)
            .push(")");
        txn.execute_raw(sql.build()).await?;
        let mut sql = Sql::new(backend);
        sql.push("INSERT INTO follows (follower_id, followed_id, created_at) SELECT requester_id, target_id, ")
            .bind(now())
            .push(" FROM follow_requests WHERE target_id = ")
            .bind(viewer);
        let approved = txn.execute_raw(sql.build()).await?.rows_affected() as i64;
        for stmt in timeline::backfill_requesters_stmts(backend, viewer) {
            txn.execute_raw(stmt).await?;
        }
        let mut sql = Sql::new(backend);
        sql.push("UPDATE users SET followers_count = followers_count + ").bind(approved);
        sql.push(" WHERE id = ").bind(viewer);
        txn.execute_raw(sql.build()).await?;
    }
    if matches!(policy, Some(FollowPolicy::Open | FollowPolicy::Closed)) {
        let mut sql = Sql::new(backend);
        sql.push("DELETE FROM follow_requests WHERE target_id = ").bind(viewer);
        txn.execute_raw(sql.build()).await?;
    }
    if network_hidden == Some(true) && !me.network_hidden {
        crate::suggestions::next_generation(&txn).await?;
    }
    let mut sql = Sql::new(backend);
    sql.push("UPDATE users SET follow_policy = ")
        .bind(policy.unwrap_or(me.follow_policy))
        .push(", network_hidden = ")
        .bind(network_hidden.unwrap_or(me.network_hidden))
        .push(", display_name = ")
        .bind(display_name.unwrap_or(&me.display_name).to_owned())
        .push(", bio = ")
        .bind(bio.unwrap_or(&me.bio).to_owned())
        .push(" WHERE id = ")
        .bind(viewer)
        .push(" RETURNING *");
    let me = user::Model::find_by_statement(sql.build())
        .one(&txn)
        .await?
        .ok_or(StoreError::NotFound("this account no longer exists"))?;
    txn.commit().await?;
    Ok(me)
}

/// Deletes the viewer's account. Its posts, sessions, follows, requests
/// and blocks go with it by cascade; first, in the same transaction, the
/// counters of everyone it followed or was followed by move.
pub async fn delete_account(db: &DatabaseConnection, viewer: UserId) -> StoreResult<()> {
    retrying(|| delete_account_once(db, viewer)).await
}

async fn delete_account_once(db: &DatabaseConnection, viewer: UserId) -> StoreResult<()> {
    let txn = begin_write(db).await?;
    let backend = txn.get_database_backend();
    let (followed, followers) = (
        "SELECT followed_id FROM follows WHERE follower_id = ",
        "SELECT follower_id FROM follows WHERE followed_id = ",
    );
    // Everyone whose counters move, locked in id order first (FOR UPDATE:
    // the viewer's row is then deleted).
    if !lock_related(&txn, viewer, &[followed, followers], "UPDATE").await?.contains_key(&viewer) {
        return Err(StoreError::NotFound("this account no longer exists"));
    }
    for (column, of) in [("followers_count", followed), ("following_count", followers)] {
        let mut sql = Sql::new(backend);
        sql.push(&format!("UPDATE users SET {column} = {column} - 1 WHERE id IN ({of}")).bind(viewer).push(")");
        txn.execute_raw(sql.build()).await?;
    }
    let mut sql = Sql::new(backend);
    sql.push("DELETE FROM users WHERE id = ").bind(viewer);
    txn.execute_raw(sql.build()).await?;
    crate::sessions::announce_user_gone(&txn, viewer).await?;
    txn.commit().await?;
    Ok(())
}

/// The viewer's own lists of accounts related to them by a request or a
/// block, each newest first, keyset-paged on (when, other id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Listing {
    /// Pending requests to follow the viewer.
    RequestsReceived,
    /// The viewer's own pending requests.
    RequestsSent,
    /// Accounts the viewer blocks.
    Blocked,
}

impl Listing {
    /// (table, the viewer's column, the other account's column), each
    /// served by the (viewer's column, created_at, other) index.
    fn columns(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Listing::RequestsReceived => ("follow_requests", "target_id", "requester_id"),
            Listing::RequestsSent => ("follow_requests", "requester_id", "target_id"),
            Listing::Blocked => ("blocks", "blocker_id", "blocked_id"),
        }
    }
}

/// One entry of a [`Listing`]: the other account and when it began.
#[derive(Clone, Debug)]
pub struct Listed {
    pub at: DateTime<Utc>,
    pub user: user::Model,
}

pub async fn listing_page(
    db: &impl ConnectionTrait,
    viewer: UserId,
    listing: Listing,
    page: &crate::PageRequest,
) -> StoreResult<crate::Page<Listed>> {
    let (table, mine, theirs) = listing.columns();
    let mut sql = Sql::new(db.get_database_backend());
    sql.push(&format!(
        "SELECT r.created_at AS listed_at, {} FROM {table} r JOIN users u ON u.id = r.{theirs} WHERE r.{mine} = ",
        crate::users::SHOWN
    ))
    .bind(viewer);
    sql.keyset("r.created_at", &format!("r.{theirs}"), page);
    let mut items = Vec::new();
    for row in db.query_all_raw(sql.build()).await? {
        items.push(Listed { at: row.try_get("", "listed_at")?, user: user::Model::from_query_result(&row, "")? });
    }
    Ok(page.into_page(items))
}

/// How many entries the viewer's listing has (an index range count).
pub async fn listing_count(db: &impl ConnectionTrait, viewer: UserId, listing: Listing) -> StoreResult<i64> {
    let (table, mine, _) = listing.columns();
    let mut sql = Sql::new(db.get_database_backend());
    sql.push(&format!("SELECT COUNT(*) AS n FROM {table} WHERE {mine} = ")).bind(viewer);
    let row = db.query_one_raw(sql.build()).await?;
    Ok(row.map(|r| r.try_get::<i64>("", "n")).transpose()?.unwrap_or(0))
}
