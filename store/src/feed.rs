//! The home feed: the viewer's own posts and those of everyone they follow,
//! newest first, keyset-paginated on (created_at, id). Exact, read first
//! from the viewer's materialized timeline ([`timeline_stmt`], kept by
//! [`crate::timeline`]): one index range of the timeline merged with the
//! viewer's own posts and the queue of posts still being copied, the same
//! cost for every viewer at every network size. Where the timeline cannot
//! answer (the viewer has none yet, or the page reaches below its floor),
//! from the live tables, in one of two ways ([`FeedPlan`] chooses):
//!
//! - Walk (the viewer follows many accounts): walk everyone's posts from
//!   the cursor, newest first, keeping the followees' ones
//!   ([`walk_stmt`]). A page walks about page size × users / followed
//!   posts: ~120 for 2,000 followees of 20,000 users, ~1,800 at 200,000
//!   users (docs/PERFORMANCE.md). The walk is capped at `plan.window` rows;
//!   its answer is exact when it filled the page or when it ended before
//!   the cap (a poll for new posts, the far end of the feed). Otherwise:
//! - Merge: each followee's newest posts from their posts(user_id,
//!   created_at, id) range, merged (a LATERAL top-N on PostgreSQL)
//!   ([`merge_stmt`]). Cheap for few followees; this is the only way for
//!   narrow viewers.
//!
//! Followees the viewer hid from their feed (`follows.hidden_from_feed`)
//! are left out by both plans, through the partial index follows_feed_idx
//! (follower_id, followed_id) WHERE NOT hidden_from_feed, so the probe stays
//! index-only. Blocked accounts need nothing here: a block ends follows
//! both ways, and none can begin while it lasts.
//!
//! Never `user_id = me OR user_id IN (...)` over the whole table, nor an
//! AND/OR cursor chain: both make PostgreSQL scan all posts.

use chrono::{DateTime, Utc};
use entity::{post, user, PostId, UserId};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, QueryResult, Statement};

use crate::error::StoreResult;
use crate::page::{Page, PageRequest};
use crate::sql::{sort_for_page, Sql};

/// Followed accounts from which the feed walks (the default of
/// `--feed-broad-following`).
pub const DEFAULT_BROAD_FOLLOWING: i64 = 100;
/// How far the walk may go before it falls back to the merge (the default
/// of `--feed-window`).
pub const DEFAULT_WINDOW: i64 = 4000;

/// How the feed is read (configurable: `--feed-timelines`,
/// `--feed-broad-following`, `--feed-window`).
#[derive(Clone, Copy, Debug)]
pub struct FeedPlan {
    /// Followed accounts from which a feed is read by walking everyone's
    /// newest posts (posts_created_idx) rather than merging each followee's.
    pub broad_following: i64,
    /// How many of everyone's newest posts that walk looks at before it
    /// gives up and merges instead (a viewer who follows many quiet accounts).
    pub window: i64,
    /// Read from the viewer's materialized timeline ([`crate::timeline`])
    /// first (`--feed-timelines`); the live plans answer when it cannot.
    pub timelines: bool,
}

impl Default for FeedPlan {
    fn default() -> Self {
        FeedPlan { broad_following: DEFAULT_BROAD_FOLLOWING, window: DEFAULT_WINDOW, timelines: true }
    }
}

impl FeedPlan {
    pub fn new(broad_following: i64, window: i64, timelines: bool) -> Self {
        FeedPlan { broad_following, window: window.max(1), timelines }
    }

    /// Whether a viewer who follows `following` accounts is read by the walk
    /// first (then, if [`walk_is_exact`](Self::walk_is_exact) says no, by
    /// the merge) rather than by the merge alone.
    pub fn walks(&self, following: i64) -> bool {
        following >= self.broad_following
    }

    /// Given the `rn` of every row the walk returned, whether they answer
    /// the page exactly. The window's last row comes back as a sentinel
    /// whatever its author, and it sorts after every other row of the
    /// window: it is among the rows returned only when the window holds
    /// fewer of the viewer's feed posts than the read asked for (the page,
    /// and the row past it when peeking; a sentinel that is itself a feed
    /// post is not counted). Then what lies past the window is unknown,
    /// and only the merge can answer.
    pub fn walk_is_exact(&self, rns: impl IntoIterator<Item = i64>) -> bool {
        rns.into_iter().all(|rn| rn < self.window)
    }
}

/// A post of the feed with its author's row (read in the same statement).
#[derive(Clone, Debug)]
pub struct FeedItem {
    pub post: post::Model,
    pub author: user::Model,
}

/// A page of the feed, and what the read saw of the viewer's timeline.
pub struct Read {
    pub page: Page<FeedItem>,
    pub timeline: Seen,
}

/// What a feed read saw of the viewer's timeline: the caller may
/// [`build`](crate::timeline::build) a missing one, or
/// [`renew`](crate::timeline::renew) one read long ago, off the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Seen {
    /// Timelines are not read (`FeedPlan::timelines` off).
    NotAsked,
    /// The viewer has no ready timeline.
    Missing,
    /// A ready timeline, last read then (`None`: not known).
    ReadAt(Option<DateTime<Utc>>),
}

/// The viewer's home feed; `following` is their following count (it picks
/// the live plan). One statement from the timeline; when that cannot
/// answer (no timeline yet, or a page below its floor), the live plans:
/// one statement, or two when a capped walk falls back.
pub async fn read(
    db: &impl ConnectionTrait,
    viewer: UserId,
    following: i64,
    plan: FeedPlan,
    page: &PageRequest,
) -> StoreResult<Read> {
    let backend = db.get_database_backend();
    let mut timeline = Seen::NotAsked;
    if plan.timelines {
        let rows = db.query_all_raw(timeline_stmt(backend, viewer, page)).await?;
        match rows.first() {
            None => timeline = Seen::Missing,
            Some(first) => {
                let floor: DateTime<Utc> = first.try_get("", "floor_at")?;
                timeline = Seen::ReadAt(first.try_get("", "read_at")?);
                let mut kept = Vec::with_capacity(rows.len());
                for row in rows {
                    if row.try_get::<Option<PostId>>("", "post_id")?.is_some() {
                        kept.push(row);
                    }
                }
                if timeline_is_exact(floor, kept.len(), page) {
                    return Ok(Read { page: page.into_page(items(kept, page)?), timeline });
                }
            }
        }
    }
    Ok(Read { page: read_live(db, viewer, following, plan, page).await?, timeline })
}

/// Whether `rows` read from a timeline whose floor is `floor` (every
/// source cut at it) answer the page exactly: the timeline is complete,
/// or the page's whole range lies above the floor, or a newest-first read
/// filled the page before reaching it.
pub fn timeline_is_exact(floor: DateTime<Utc>, rows: usize, page: &PageRequest) -> bool {
    floor <= crate::timeline::no_floor()
        || page.before.is_some_and(|b| b.at() > floor)
        || (page.reads_descending() && rows as i64 >= page.rows())
}

/// The live plans (walk, merge): exact from the posts and follows tables.
pub async fn read_live(
    db: &impl ConnectionTrait,
    viewer: UserId,
    following: i64,
    plan: FeedPlan,
    page: &PageRequest,
) -> StoreResult<Page<FeedItem>> {
    let backend = db.get_database_backend();
    if plan.walks(following) {
        let mut rows = Vec::new();
        for row in db.query_all_raw(walk_stmt(backend, viewer, plan.window, page)).await? {
            rows.push((row.try_get::<i64>("", "rn")?, row));
        }
        if plan.walk_is_exact(rows.iter().map(|(rn, _)| *rn)) {
            let kept = rows.into_iter().filter(|(rn, _)| *rn < plan.window).map(|(_, row)| row);
            return Ok(page.into_page(items(kept, page)?));
        }
    }
    let rows = db.query_all_raw(merge_stmt(backend, viewer, page)).await?;
    Ok(page.into_page(items(rows, page)?))
}

fn items(rows: impl IntoIterator<Item = QueryResult>, page: &PageRequest) -> StoreResult<Vec<FeedItem>> {
    let mut items = Vec::new();
    for row in rows {
        let post = post::Model {
            id: row.try_get("", "post_id")?,
            user_id: row.try_get("", "post_user_id")?,
            body: row.try_get("", "post_body")?,
            created_at: row.try_get("", "post_created_at")?,
        };
        items.push(FeedItem { post, author: user::Model::from_query_result(&row, "")? });
    }
    sort_for_page(&mut items, page, |i| (i.post.created_at, i.post.id.0));
    Ok(items)
}

/// Writes `SELECT <the posts' columns>, <extra><the authors' columns> FROM
/// (<feed>) f JOIN users u ON u.id = f.user_id`: the feed's posts joined
/// to their authors' rows as answers read them ([`crate::users::SHOWN`];
/// the `author` field then costs nothing). `extra` passes more of the
/// feed query's columns through.
fn with_authors(backend: DbBackend, extra: &str, feed: impl FnOnce(&mut Sql)) -> Statement {
    let mut sql = Sql::new(backend);
    push_with_authors(&mut sql, extra, feed);
    sql.build()
}

fn push_with_authors(sql: &mut Sql, extra: &str, feed: impl FnOnce(&mut Sql)) {
    sql.push(&format!(
        "SELECT f.id AS post_id, f.user_id AS post_user_id, f.body AS post_body, f.created_at AS post_created_at, {extra}{} FROM (",
        crate::users::SHOWN
    ));
    feed(sql);
    sql.push(") f JOIN users u ON u.id = f.user_id");
}

/// The walk: the followees' posts among the `window` newest posts of
/// everyone beyond the cursor, numbered (`rn`) in walking order, plus the
/// window's last row (`rn` = `window`) as a sentinel. The walk reads only
/// the index on (created_at, id, user_id), never the table; the bodies of
/// the rows kept (a page and the sentinel) are fetched by id afterwards
/// (measured at M, generic plan: 0.54-0.58 ms a page with the body in the
/// walk, 0.25 ms so; 4.0 against 3.2 ms for a viewer of 200).
pub fn walk_stmt(backend: DbBackend, viewer: UserId, window: i64, page: &PageRequest) -> Statement {
    with_authors(backend, "f.rn AS rn, ", |sql| {
        let dir = if page.reads_descending() { "DESC" } else { "ASC" };
        sql.push(&format!(
            "SELECT k.id, k.user_id, p.body, k.created_at, k.rn FROM (\
             SELECT id, user_id, created_at, rn FROM (SELECT id, user_id, created_at, \
             ROW_NUMBER() OVER (ORDER BY created_at {dir}, id {dir}) AS rn FROM posts WHERE 1 = 1"
        ));
        sql.bounds("created_at", "id", page).order_limit("created_at", "id", page, window);
        // A correlated probe of follows' primary key per post walked (a
        // hundred or so), not `user_id IN (SELECT ...)`, which PostgreSQL
        // runs by hashing all the viewer's followees first: 2,000 rows a
        // request, half the throughput (measured: 4,400 against 9,100
        // statements/s).
        sql.push(") recent WHERE user_id = ")
            .bind(viewer)
            .push(" OR (SELECT 1 FROM follows WHERE follower_id = ")
            .bind(viewer)
            .push(" AND followed_id = recent.user_id AND NOT hidden_from_feed) = 1 OR rn = ")
            .bind(window);
        if backend == DbBackend::Postgres {
            sql.order_limit("created_at", "id", page, page.rows());
        } else {
            // SQLite does not see that the walk is already in order: with an
            // ORDER BY here it sorts, and so walks (and probes) the whole
            // window before the LIMIT (30 ms against 0.4 ms at M). Its
            // subquery co-routine yields rows in the walk's order, so the
            // LIMIT alone takes the first ones; `read` sorts what comes back.
            sql.push(" LIMIT ").bind(page.rows());
        }
        sql.push(") k JOIN posts p ON p.id = k.id");
    })
}

/// The merge: each followee's (and the viewer's own) newest posts beyond
/// the cursor, merged.
pub fn merge_stmt(backend: DbBackend, viewer: UserId, page: &PageRequest) -> Statement {
    with_authors(backend, "", |sql| {
        if backend == DbBackend::Postgres {
            sql.push("SELECT p.id, p.user_id, p.body, p.created_at FROM (SELECT followed_id AS uid FROM follows WHERE follower_id = ")
                .bind(viewer)
                .push(" AND NOT hidden_from_feed UNION ALL SELECT CAST(")
                .bind(viewer)
                .push(" AS BIGINT)) f CROSS JOIN LATERAL (SELECT id, user_id, body, created_at FROM posts WHERE user_id = f.uid");
            sql.keyset("created_at", "id", page);
            sql.push(") p");
            sql.order_limit("p.created_at", "p.id", page, page.rows());
        } else {
            // SQLite has no LATERAL; it runs this as a loop over the authors.
            sql.push("SELECT id, user_id, body, created_at FROM posts WHERE user_id IN (SELECT followed_id FROM follows WHERE follower_id = ")
                .bind(viewer)
                .push(" AND NOT hidden_from_feed UNION ALL SELECT CAST(")
                .bind(viewer)
                .push(" AS BIGINT))");
            sql.keyset("created_at", "id", page);
        }
    })
}

/// How many of the viewer's feed posts are newer than `since`, counting at
/// most `cap` (a poll's "N new posts"). Read by the feed's own plans, so
/// hidden follows and every other rule of the feed hold here too.
pub async fn count_newer(
    db: &impl ConnectionTrait,
    viewer: UserId,
    following: i64,
    plan: FeedPlan,
    since: crate::Cursor,
    cap: u64,
) -> StoreResult<(u64, Seen)> {
    // Only the rows are counted: none is read past the cap.
    let page = PageRequest::last(cap).before(Some(since)).peek(false);
    let read = read(db, viewer, following, plan, &page).await?;
    Ok((read.page.items.len() as u64, read.timeline))
}

/// The timeline read: the viewer's timeline entries (of posts not
/// deleted, by accounts still followed and shown), own posts, and the queued posts (still being copied) of
/// accounts they follow and show,
/// each cut at the timeline's floor and merged (UNION: a queued post may
/// be copied already); bodies and authors fetched for the page's rows
/// only. Every row carries the floor (`floor_at`) and `read_at`; a row with no post
/// stands for an empty page; no row at all means the viewer has no ready
/// timeline.
pub fn timeline_stmt(backend: DbBackend, viewer: UserId, page: &PageRequest) -> Statement {
    let floor = |sql: &mut Sql| {
        sql.push(" AND created_at > (SELECT floor_at FROM timelines WHERE viewer_id = ").bind(viewer).push(")");
    };
    let mut sql = Sql::new(backend);
    sql.push("SELECT t.floor_at AS floor_at, t.read_at AS read_at, f.* FROM timelines t LEFT JOIN (");
    push_with_authors(&mut sql, "", |sql| {
        sql.push("SELECT k.id, p.user_id, p.body, k.created_at FROM (SELECT id, created_at FROM (");
        // A copy is skipped when its post was deleted, or its author is no
        // longer followed and shown (a copy the background wrote as the
        // follow ended): two key probes per row walked. Written as scalar
        // subqueries tested IS NOT NULL. As EXISTS, PostgreSQL semi-joins
        // all the viewer's entries and follows and sorts them (2.6 ms for
        // the heavy viewer at M); as `= 1` it guesses 0.5% of rows pass
        // each test, so it expects to read the whole timeline anyway and
        // does (4.6 ms at L). IS NOT NULL it guesses 99.5%: it walks the
        // key in order and stops at the page (0.2 ms). The queue's branch
        // is written the same way, over timeline_pending (created_at,
        // post_id).
        sql.push("SELECT * FROM (SELECT post_id AS id, created_at FROM timeline_entries e WHERE viewer_id = ")
            .bind(viewer)
            .push(" AND (SELECT 1 FROM posts WHERE id = e.post_id) IS NOT NULL AND (SELECT 1 FROM follows WHERE follower_id = ")
            .bind(viewer)
            .push(" AND followed_id = e.author_id AND NOT hidden_from_feed) IS NOT NULL");
        floor(sql);
        sql.keyset("created_at", "post_id", page);
        sql.push(") a UNION SELECT * FROM (SELECT id, created_at FROM posts WHERE user_id = ").bind(viewer);
        floor(sql);
        sql.keyset("created_at", "id", page);
        sql.push(") b UNION SELECT * FROM (SELECT post_id AS id, created_at FROM timeline_pending q WHERE (SELECT 1 FROM follows WHERE follower_id = ")
            .bind(viewer)
            .push(" AND followed_id = q.author_id AND NOT hidden_from_feed) IS NOT NULL");
        floor(sql);
        sql.keyset("created_at", "post_id", page);
        sql.push(") c");
        sql.push(") k0");
        sql.order_limit("created_at", "id", page, page.rows());
        sql.push(") k JOIN posts p ON p.id = k.id");
    });
    sql.push(") f ON 1 = 1 WHERE t.viewer_id = ").bind(viewer).push(" AND t.ready");
    sql.build()
}

/// The viewer's saved reading position: the cursor's key and when it was
/// saved.
#[derive(Clone, Copy, Debug)]
pub struct Marker {
    pub cursor: crate::Cursor,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

pub async fn marker(db: &impl ConnectionTrait, viewer: UserId) -> StoreResult<Option<Marker>> {
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("SELECT post_created_at, post_id, updated_at FROM feed_markers WHERE user_id = ").bind(viewer);
    let Some(row) = db.query_one_raw(sql.build()).await? else {
        return Ok(None);
    };
    let at: chrono::DateTime<chrono::Utc> = row.try_get("", "post_created_at")?;
    let cursor = crate::Cursor::new(at, row.try_get("", "post_id")?);
    Ok(Some(Marker { cursor, updated_at: row.try_get("", "updated_at")? }))
}

/// Saves the viewer's reading position (one per user: the last one wins).
pub async fn set_marker(db: &impl ConnectionTrait, viewer: UserId, cursor: crate::Cursor) -> StoreResult<Marker> {
    let updated_at = crate::now();
    let mut sql = Sql::new(db.get_database_backend());
    sql.push("INSERT INTO feed_markers (user_id, post_created_at, post_id, updated_at) VALUES (")
        .bind(viewer)
        .push(", ")
        .bind(cursor.at())
        .push(", ")
        .bind(cursor.id)
        .push(", ")
        .bind(updated_at)
        .push(") ON CONFLICT (user_id) DO UPDATE SET post_created_at = excluded.post_created_at, post_id = excluded.post_id, updated_at = excluded.updated_at");
    db.execute_raw(sql.build()).await?;
    Ok(Marker { cursor, updated_at })
}
