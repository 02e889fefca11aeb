//! Followers and following lists: pages for many lists in one statement,
//! filtered and ordered by the follow record ([`Filter`], ascending or
//! descending follow date), and their filtered counts. The writes that
//! create and end follows are in [`crate::relationships`].
//!
//! Every page walks one index range, `follows (owner, created_at, other)`,
//! in either direction from the cursor: a filter adds per-row probes
//! (the other user's row for the username prefix; follows' primary key for
//! "mutual" and "followed by the viewer"), never a sort, so a page reads at
//! most the owner's list (its follower or following count) and usually
//! about page size ÷ the share of rows that pass. Counts under a filter
//! read the same range once; the count of "followed by the viewer" joins
//! the viewer's own follows when they are fewer (known followers).
//! docs/PERFORMANCE.md has the EXPLAIN of each at dataset M.

use std::collections::hash_map::{Entry, HashMap};

use chrono::{DateTime, Utc};
use entity::{post, user, PostId, UserId};
use sea_orm::{ConnectionTrait, DbBackend, FromQueryResult, Statement};

use crate::error::StoreResult;
use crate::page::{Page, PageRequest};
use crate::sql::{push_union_all, sort_for_page, split_pages, union_all, Sql, MAX_BRANCHES};

/// Which list of a user: the people following them, or the people they follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Followers,
    Following,
}

impl Side {
    /// (the column naming the list's owner, the column naming the other user)
    fn columns(self) -> (&'static str, &'static str) {
        match self {
            Side::Followers => ("followed_id", "follower_id"),
            Side::Following => ("follower_id", "followed_id"),
        }
    }
}

/// What a list keeps (every part optional; all given must hold).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Filter {
    /// Lower-case prefix of the other user's username.
    pub username_prefix: Option<String>,
    /// Follows that began strictly after / before.
    pub followed_after: Option<DateTime<Utc>>,
    pub followed_before: Option<DateTime<Utc>>,
    /// true: only users in a follow both ways with the owner; false: only
    /// one way.
    pub mutual: Option<bool>,
    /// (viewer, true): only users the viewer follows; (viewer, false): only
    /// users the viewer does not follow.
    pub followed_by: Option<(UserId, bool)>,
}

impl Filter {
    /// Whether the filter keeps everything.
    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }
}

/// One list to read a page of.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct List {
    pub owner: UserId,
    pub side: Side,
    pub filter: Filter,
}

/// One entry of a followers/following list: the other user (read in the
/// same statement, as answers read it: [`crate::users::SHOWN`]), since
/// when, and the follower's `hidden_from_feed` on that follow.
#[derive(Clone, Debug)]
pub struct Edge {
    pub user: user::Model,
    pub followed_at: DateTime<Utc>,
    pub hidden_from_feed: bool,
}

/// A page of posts of each of some users.
pub type PostsByUser = HashMap<UserId, Page<post::Model>>;

/// A page of each list, all in one statement.
pub async fn pages(db: &impl ConnectionTrait, keys: &[(List, PageRequest)]) -> StoreResult<Vec<Page<Edge>>> {
    let rows = db.query_all_raw(pages_stmt(db.get_database_backend(), keys)).await?;
    let mut edges = Vec::with_capacity(rows.len());
    for row in rows {
        let k: i64 = row.try_get("", "k")?;
        let edge = Edge {
            followed_at: row.try_get("", "followed_at")?,
            hidden_from_feed: row.try_get("", "hidden")?,
            user: user::Model::from_query_result(&row, "")?,
        };
        edges.push((k as usize, edge));
    }
    let pages: Vec<PageRequest> = keys.iter().map(|(_, p)| *p).collect();
    Ok(split_pages(&pages, edges, |e| (e.followed_at, e.user.id.0)))
}

/// The pages, each a range scan of follows (owner, created_at, other),
/// filtered, joined to the other user's row: the list's users come with
/// it, no second query.
pub fn pages_stmt(backend: DbBackend, keys: &[(List, PageRequest)]) -> Statement {
    union_all(backend, keys.len(), |sql, i| push_page(sql, &keys[i].0, &keys[i].1))
}

/// Whose list: a bound id, or a column of an enclosing query (the owner
/// read in the same statement, [`owner_with_page`]).
#[derive(Clone, Copy)]
enum Owner<'a> {
    Id(UserId),
    Column(&'a str),
}

/// One list's page, joined to its users (a branch of [`push_union_all`]).
fn push_page(sql: &mut Sql, list: &List, page: &PageRequest) {
    push_page_of(sql, Owner::Id(list.owner), list.side, &list.filter, page)
}

/// [`push_page`] of `owner`'s list on `side`.
fn push_page_of(sql: &mut Sql, owner: Owner, side: Side, filter: &Filter, page: &PageRequest) {
    let (_, other) = side.columns();
    // The flag is the follower's: only a following list shows it. Not
    // reading it on a followers list keeps that walk index-only, which
    // is what makes PostgreSQL's generic plan walk the index in order
    // and stop at the page (rather than fetch and sort the whole list).
    let hidden = match side {
        Side::Followers => "FALSE",
        Side::Following => "f.hidden_from_feed",
    };
    sql.push(&format!(
        "f.created_at AS followed_at, {hidden} AS hidden, {} FROM follows f JOIN users u ON u.id = f.{other}",
        crate::users::SHOWN
    ));
    push_where_of(sql, owner, side, filter);
    sql.keyset("f.created_at", &format!("f.{other}"), page);
}

/// Each list's page, and one page of posts (`posts`) of every user on
/// them, by user; an author in a block with `viewer` has an empty page, as
/// in [`crate::posts::pages`]. On PostgreSQL one statement: the pages of
/// [`pages_stmt`], each row joined LATERAL to its user's posts (an index
/// range of posts (user_id, created_at, id) per user, stopped at the
/// page). SQLite has no LATERAL: there the pages, then the posts pages.
pub async fn pages_with_posts(
    db: &impl ConnectionTrait,
    viewer: Option<UserId>,
    keys: &[(List, PageRequest)],
    posts_page: PageRequest,
) -> StoreResult<(Vec<Page<Edge>>, PostsByUser)> {
    let backend = db.get_database_backend();
    if backend != DbBackend::Postgres {
        let pages = pages(db, keys).await?;
        let mut users: Vec<UserId> = pages.iter().flat_map(|p| p.items.iter().map(|e| e.user.id)).collect();
        users.sort_unstable();
        users.dedup();
        // Up to 200 lists of 100 users each: [`MAX_BRANCHES`] a statement.
        let mut by_user = HashMap::with_capacity(users.len());
        for chunk in users.chunks(MAX_BRANCHES) {
            let wanted: Vec<(UserId, PageRequest)> = chunk.iter().map(|&u| (u, posts_page)).collect();
            let found = crate::posts::pages(db, viewer, &wanted).await?;
            by_user.extend(chunk.iter().copied().zip(found));
        }
        return Ok((pages, by_user));
    }
    let rows = db.query_all_raw(pages_with_posts_stmt(backend, viewer, keys, &posts_page)).await?;
    let pages: Vec<PageRequest> = keys.iter().map(|(_, p)| *p).collect();
    decode_with_posts(&rows, &pages, Some(posts_page))
}

/// The pages, and the posts pages when `posts_page` is given, of rows of
/// lists' pages, each row one user with their posts as arrays (`k`, the
/// edge and user columns, `post_ids`, `post_bodies`, `post_dates`; a row
/// without a user is a list's empty page, null arrays a user's empty one).
fn decode_with_posts(
    rows: &[sea_orm::QueryResult],
    pages: &[PageRequest],
    posts_page: Option<PageRequest>,
) -> StoreResult<(Vec<Page<Edge>>, PostsByUser)> {
    let mut edges = Vec::with_capacity(rows.len());
    let mut by_user = HashMap::new();
    for row in rows {
        let Some(id) = row.try_get::<Option<UserId>>("", "id")? else { continue };
        let k = row.try_get::<i64>("", "k")? as usize;
        // A user on two of the lists comes with their posts twice: kept
        // from the first.
        if let Some(posts_page) = posts_page {
            if let Entry::Vacant(slot) = by_user.entry(id) {
                slot.insert(posts_page.into_page(posts_of(row, id, &posts_page)?));
            }
        }
        let edge = Edge {
            followed_at: row.try_get("", "followed_at")?,
            hidden_from_feed: row.try_get("", "hidden")?,
            user: user::Model::from_query_result(row, "")?,
        };
        edges.push((k, edge));
    }
    Ok((split_pages(pages, edges, |e| (e.followed_at, e.user.id.0)), by_user))
}

/// The posts of `user` on a row of [`push_posts_lateral`], in page order.
fn posts_of(row: &sea_orm::QueryResult, user: UserId, page: &PageRequest) -> StoreResult<Vec<post::Model>> {
    let ids: Option<Vec<i64>> = row.try_get("", "post_ids")?;
    let Some(ids) = ids else { return Ok(Vec::new()) };
    let bodies: Vec<String> = row.try_get("", "post_bodies")?;
    let dates: Vec<DateTime<Utc>> = row.try_get("", "post_dates")?;
    let mut posts: Vec<post::Model> = ids
        .into_iter()
        .zip(bodies)
        .zip(dates)
        .map(|((id, body), created_at)| post::Model { id: PostId(id), user_id: user, body, created_at })
        .collect();
    sort_for_page(&mut posts, page, |p| (p.created_at, p.id.0));
    Ok(posts)
}

/// [`pages_with_posts`]'s statement on PostgreSQL. The LATERAL also runs
/// for each list's extra row when the list peeks (the row that tells
/// whether more follow): `posts.rows()` rows a list read and dropped.
pub fn pages_with_posts_stmt(
    backend: DbBackend,
    viewer: Option<UserId>,
    keys: &[(List, PageRequest)],
    posts: &PageRequest,
) -> Statement {
    let mut sql = Sql::new(backend);
    sql.push("SELECT l.*, p.* FROM (");
    push_union_all(&mut sql, keys.len(), |sql, i| push_page(sql, &keys[i].0, &keys[i].1));
    sql.push(") l");
    push_posts_lateral(&mut sql, viewer, posts);
    sql.build()
}

/// ` LEFT JOIN LATERAL (..) p ON TRUE`: the page `posts` of the posts of
/// the user `l.id`, none across a block with `viewer`, as three arrays
/// (`post_ids`, `post_bodies`, `post_dates`, null for no posts): one row
/// a listed user, where a row a post repeated the user's columns on each
/// (W2: 21 rows, not 83; about +15% in pgbench at M).
fn push_posts_lateral(sql: &mut Sql, viewer: Option<UserId>, posts: &PageRequest) {
    sql.push(
        " LEFT JOIN LATERAL (SELECT array_agg(q.id) AS post_ids, array_agg(q.body) AS post_bodies, \
         array_agg(q.created_at) AS post_dates FROM (SELECT id, body, created_at FROM posts WHERE user_id = l.id",
    );
    if let Some(viewer) = viewer {
        // Probes of blocks' key that name no column of posts: run once
        // per user, before the posts range (a block with oneself cannot
        // exist: blocks has a CHECK).
        sql.push(" AND (SELECT 1 FROM blocks WHERE blocker_id = ").bind(viewer);
        sql.push(" AND blocked_id = l.id) IS NULL AND (SELECT 1 FROM blocks WHERE blocker_id = l.id AND blocked_id = ");
        sql.bind(viewer).push(") IS NULL");
    }
    sql.keyset("created_at", "id", posts);
    sql.push(") q) p ON TRUE");
}

/// What [`owner_with_page`] reads: the user, the page of their list, and
/// the posts pages of the users on it (empty when none were asked).
pub struct OwnerPage {
    pub owner: user::Model,
    pub page: Page<Edge>,
    pub posts: PostsByUser,
}

/// A user, found by username, with a page of one of their lists and, with
/// `posts`, that page of posts of every user on it: one statement on
/// PostgreSQL (`user(username:) { followers { .. } }` without a second
/// round trip): the list on `side`, filtered by `filter`. The
/// page is returned only when the viewer may see it (the network not
/// hidden, or the viewer's own); otherwise it is empty. None when no user has
/// that name. SQLite has no LATERAL: there the user, then the page as
/// [`pages_with_posts`] reads it.
pub async fn owner_with_page(
    db: &impl ConnectionTrait,
    username: &str,
    viewer: Option<UserId>,
    (side, filter): (Side, &Filter),
    page: PageRequest,
    posts: Option<PageRequest>,
) -> StoreResult<Option<OwnerPage>> {
    let backend = db.get_database_backend();
    if backend != DbBackend::Postgres {
        let Some(owner) = crate::users::find_by_username(db, username).await? else {
            return Ok(None);
        };
        if owner.network_hidden && viewer != Some(owner.id) {
            return Ok(Some(OwnerPage { owner, page: Page::empty(), posts: HashMap::new() }));
        }
        let keys = [(List { owner: owner.id, side, filter: filter.clone() }, page)];
        let (mut pages, by_user) = match posts {
            Some(posts) => pages_with_posts(db, viewer, &keys, posts).await?,
            None => (self::pages(db, &keys).await?, HashMap::new()),
        };
        return Ok(Some(OwnerPage { owner, page: pages.pop().unwrap_or_else(Page::empty), posts: by_user }));
    }
    let stmt = owner_with_page_stmt(backend, username, viewer, (side, filter), &page, posts.as_ref());
    let rows = db.query_all_raw(stmt).await?;
    // The owner's columns are on one row (the others have them null).
    let mut owner = None;
    for row in &rows {
        if row.try_get::<Option<UserId>>(OWNER, "id")?.is_some() {
            owner = Some(user::Model::from_query_result(row, OWNER)?);
            break;
        }
    }
    let Some(owner) = owner else {
        return Ok(None);
    };
    let (mut pages, by_user) = decode_with_posts(&rows, &[page], posts)?;
    Ok(Some(OwnerPage { owner, page: pages.pop().unwrap_or_else(Page::empty), posts: by_user }))
}

/// The prefix of the owner's columns in [`owner_with_page_stmt`].
const OWNER: &str = "owner_";

/// [`owner_with_page`]'s statement on PostgreSQL: the owner's columns (prefixed [`OWNER`], on the first row only),
/// then [`pages_with_posts_stmt`]'s (without the posts arrays when no
/// posts are asked); one row with nulls after the owner's when the page
/// is empty.
pub fn owner_with_page_stmt(
    backend: DbBackend,
    username: &str,
    viewer: Option<UserId>,
    (side, filter): (Side, &Filter),
    page: &PageRequest,
    posts: Option<&PageRequest>,
) -> Statement {
    use sea_orm::{Iden, Iterable};
    let mut sql = Sql::new(backend);
    sql.push("SELECT ");
    // On the first row only: repeated on every row of the page and its
    // posts (83 for W2), the owner's columns cost the database about what
    // the round trip saved (pgbench at M).
    // As answers read a user ([`crate::users::SHOWN`]): no password hash.
    for column in user::Column::iter() {
        let name = column.to_string();
        let value = if crate::users::left_out(column) { "''".to_owned() } else { format!("o.{name}") };
        sql.push(&format!("CASE WHEN row_number() OVER () = 1 THEN {value} END AS {OWNER}{name}, "));
    }
    sql.push("l.*");
    if posts.is_some() {
        sql.push(", p.*");
    }
    sql.push(" FROM users o LEFT JOIN LATERAL (");
    push_union_all(&mut sql, 1, |sql, _| push_page_of(sql, Owner::Column("o.id"), side, filter, page));
    // A hidden network's page is walked (a page at most: PostgreSQL
    // applies this after the walk, written inside it or not) and dropped.
    sql.push(") l ON NOT o.network_hidden");
    if let Some(viewer) = viewer {
        sql.push(" OR o.id = ").bind(viewer);
    }
    if let Some(posts) = posts {
        push_posts_lateral(&mut sql, viewer, posts);
    }
    sql.push(" WHERE lower(o.username) = lower(").bind(username).push(")");
    sql.build()
}

/// ` WHERE f.<owner> = .. AND <filter>`, over `follows f` (and `users u`
/// joined as the other user when the prefix asks for it).
fn push_where(sql: &mut Sql, list: &List) {
    push_where_of(sql, Owner::Id(list.owner), list.side, &list.filter)
}

/// [`push_where`] of `owner`'s list on `side`.
fn push_where_of(sql: &mut Sql, owner: Owner, side: Side, filter: &Filter) {
    let (owner_column, other) = side.columns();
    sql.push(&format!(" WHERE f.{owner_column} = "));
    match owner {
        Owner::Id(id) => sql.bind(id),
        Owner::Column(column) => sql.push(column),
    };
    if let Some(prefix) = &filter.username_prefix {
        sql.push(" AND lower(u.username) LIKE ").bind(like_prefix(prefix)).push(" ESCAPE '\\'");
    }
    if let Some(at) = filter.followed_after {
        sql.push(" AND f.created_at > ").bind(at);
    }
    if let Some(at) = filter.followed_before {
        sql.push(" AND f.created_at < ").bind(at);
    }
    // Probes written as correlated scalar subqueries, `(SELECT 1 ...) = 1`
    // or `IS NULL`: PostgreSQL runs those per row kept, one primary-key
    // probe each, whatever it guesses of the list's size. As EXISTS, the
    // generic plan (every statement here runs one) may hash the other side
    // whole instead: for the heavy viewer, 2,000 rows a request.
    if let Some(mutual) = filter.mutual {
        // The reverse edge: (other -> owner) for a following list,
        // (owner -> other) for a followers list; the same expression.
        sql.push(
            " AND (SELECT 1 FROM follows m WHERE m.follower_id = f.followed_id AND m.followed_id = f.follower_id)",
        );
        sql.push(if mutual { " = 1" } else { " IS NULL" });
    }
    if let Some((viewer, wanted)) = filter.followed_by {
        sql.push(" AND (SELECT 1 FROM follows v WHERE v.follower_id = ").bind(viewer);
        sql.push(&format!(" AND v.followed_id = f.{other})"));
        sql.push(if wanted { " = 1" } else { " IS NULL" });
    }
}

/// A LIKE pattern for a prefix, its wildcards escaped (`_` is legal in
/// usernames).
pub fn like_prefix(prefix: &str) -> String {
    prefix.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_") + "%"
}

/// How many entries each filtered list has, in one statement. With each
/// list, whether to count it from the viewer's follows: worth it for a
/// `followed_by: (viewer, true)` filter when the viewer follows fewer
/// accounts than the list holds (the caller knows both counts); the count
/// is then a join of the viewer's follows with the list (3.5 ms for the
/// heavy viewer and the 14,000 followers of the top account at M, against
/// 7.9 ms probing per row).
pub async fn counts(db: &impl ConnectionTrait, keys: &[(List, bool)]) -> StoreResult<Vec<i64>> {
    let rows = db.query_all_raw(counts_stmt(db.get_database_backend(), keys)).await?;
    let mut out = vec![0; keys.len()];
    for row in rows {
        let k: i64 = row.try_get("", "k")?;
        if let Some(slot) = out.get_mut(k as usize) {
            *slot = row.try_get("", "n")?;
        }
    }
    Ok(out)
}

/// `keys`: each list, and whether to count it from the viewer's follows
/// (only for a `followed_by: (viewer, true)` filter).
pub fn counts_stmt(backend: DbBackend, keys: &[(List, bool)]) -> Statement {
    union_all(backend, keys.len(), |sql, i| {
        let (list, from_viewer) = &keys[i];
        let (_, other) = list.side.columns();
        match (from_viewer, list.filter.followed_by) {
            (true, Some((viewer, true))) => {
                // The viewer's follows joined to the list's rows (a hash
                // join of the two index ranges, or primary-key probes).
                sql.push(&format!("COUNT(*) AS n FROM follows v JOIN follows f ON f.{other} = v.followed_id"));
                if list.filter.username_prefix.is_some() {
                    sql.push(&format!(" JOIN users u ON u.id = f.{other}"));
                }
                let rest = List { filter: Filter { followed_by: None, ..list.filter.clone() }, ..list.clone() };
                push_where(sql, &rest);
                sql.push(" AND v.follower_id = ").bind(viewer);
            }
            _ => {
                sql.push("COUNT(*) AS n FROM follows f");
                if list.filter.username_prefix.is_some() {
                    sql.push(&format!(" JOIN users u ON u.id = f.{other}"));
                }
                push_where(sql, list);
            }
        }
    })
}
