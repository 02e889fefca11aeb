//! The workloads: each is a request a frontend would send, and the same
//! statements run raw (the floor).

use std::ops::RangeInclusive;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sea_orm::{DbBackend, Statement};
use seed::dataset::{self, FOLLOWS10, FOLLOWS200, HEAVY, TOP100};
use serde_json::{json, Value};
use store::feed::{self, FeedPlan};
use store::follows::{self, Filter, List, Side};
use store::relationships::{self, Counters, Probes};
use store::sessions::{self, TokenHash};
use store::{posts, suggestions, timeline, users, Cursor, PageRequest, UserId};

use crate::floor::{Floor, Sessions};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    W1,
    W2,
    W3,
    #[value(name = "w3-10")]
    W3Follows10,
    #[value(name = "w3-200")]
    W3Follows200,
    #[value(name = "w3-top100")]
    W3Top100,
    W4,
    W5,
    W6,
    #[value(name = "w7-page1")]
    W7Page1,
    W7,
    W8,
    W9,
    W10,
}

impl Workload {
    pub const ALL: [Workload; 14] = [
        Workload::W1,
        Workload::W2,
        Workload::W3,
        Workload::W3Follows10,
        Workload::W3Follows200,
        Workload::W3Top100,
        Workload::W4,
        Workload::W5,
        Workload::W6,
        Workload::W7Page1,
        Workload::W7,
        Workload::W8,
        Workload::W9,
        Workload::W10,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::W1 => "W1 profile",
            Workload::W2 => "W2 followers page + posts",
            Workload::W3 => "W3 feed, 2,000 followed",
            Workload::W3Follows10 => "W3 feed, 10 followed",
            Workload::W3Follows200 => "W3 feed, 200 followed",
            Workload::W3Top100 => "W3 feed, the 100 most followed",
            Workload::W4 => "W4 relationship",
            Workload::W5 => "W5 follow+unfollow",
            Workload::W6 => "W6 poll, nothing new",
            Workload::W7Page1 => "W7 followers page 1",
            Workload::W7 => "W7 followers page 50",
            Workload::W8 => "W8 suggestions, 2,000 followed",
            Workload::W9 => "W9 known followers of the top account",
            Workload::W10 => "W10 poll, persisted query over GET + ETag",
        }
    }
}

/// What the workloads need to know about the loaded data and the server.
pub struct Ctx {
    pub graphql_url: String,
    pub client: reqwest::Client,
    pub floor: Floor,
    /// The floor's copy of the server's session cache.
    pub sessions: Sessions,
    pub plan: FeedPlan,
    pub users: i64,
    pub writers: RangeInclusive<i64>,
    /// The most-followed account.
    pub top: (UserId, String),
    /// The newest cursor of the heavy viewer's feed (W6 polls before it).
    pub newest: String,
    /// The cursor that ends page 49 of the top account's followers (W7).
    pub deep: String,
    /// The ETag of W6's answer, fetched as W10 fetches it.
    pub poll_etag: String,
}

const PROFILE: &str =
    "query($u: String!) { user(username: $u) { displayName bio followersCount followingCount postsCount } }";
const FOLLOWERS_WITH_POSTS: &str = "query($u: String!) { user(username: $u) { followers(first: 20) { edges { followedAt node { username posts(first: 3) { nodes { body } } } } } } }";
const FEED: &str = "{ feed(first: 20) { edges { cursor node { id body createdAt author { username } } } pageInfo { hasNextPage endCursor } } }";
const RELATIONSHIP: &str = "query($u: String!) { user(username: $u) { viewerIsFollowing followsViewer } }";
/// The parts of the relationship [`RELATIONSHIP`] asks for: what the server
/// probes for it.
const W4_PROBES: Probes = Probes::FOLLOWING.with(Probes::FOLLOWED_BY);
const FOLLOW_UNFOLLOW: &str = "mutation($u: ID!) { f: follow(userId: $u) { user { followersCount } } u: unfollow(userId: $u) { user { followersCount } } }";
const POLL: &str = "query($b: String!) { feed(last: 20, before: $b) { edges { node { id } } pageInfo { hasPreviousPage startCursor } } }";
const SUGGESTIONS: &str = "{ suggestedUsers(first: 10) { username followersCount } }";
const KNOWN_FOLLOWERS: &str = "query($u: String!) { user(username: $u) { knownFollowers(first: 20) { totalCount edges { followedAt node { username } } } } }";
const FOLLOWERS_PAGE: &str = "query($u: String!, $a: String) { user(username: $u) { followers(first: 20, after: $a) { edges { followedAt node { username } } pageInfo { endCursor hasNextPage } } } }";

/// W2's pages as the server reads them: [`FOLLOWERS_WITH_POSTS`] asks no
/// `pageInfo`, so neither reads a row past its end.
const W2_PAGE: PageRequest = PageRequest::first(20).peek(false);
const W2_POSTS: PageRequest = PageRequest::first(3).peek(false);

/// A page as the server would read it for these arguments (cursors as the
/// API gave them out).
fn page(first: u64, after: Option<&str>, last: Option<u64>, before: Option<&str>) -> PageRequest {
    let cursor = |c: Option<&str>| c.map(|c| Cursor::decode(c).expect("a cursor the API gave out"));
    let page = match last {
        Some(n) => PageRequest::last(n),
        None => PageRequest::first(first),
    };
    page.after(cursor(after)).before(cursor(before))
}

/// The global ID the API gives user `id` (the bench is a test tool: clients
/// never build IDs).
fn global_user_id(id: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("User:{id}"))
}

impl Ctx {
    fn random_user(&self, rng: &mut ChaCha8Rng) -> i64 {
        rng.gen_range(1..=self.users)
    }

    /// The GraphQL request of one operation: (acting user, body).
    fn request(&self, w: Workload, rng: &mut ChaCha8Rng) -> (Option<i64>, Value) {
        let q = |query: &str, vars: Value| json!({ "query": query, "variables": vars });
        match w {
            Workload::W1 => (None, q(PROFILE, json!({ "u": dataset::username(self.random_user(rng)) }))),
            Workload::W2 => (None, q(FOLLOWERS_WITH_POSTS, json!({ "u": self.top.1 }))),
            Workload::W3 => (Some(HEAVY), q(FEED, json!({}))),
            Workload::W3Follows10 => (Some(FOLLOWS10), q(FEED, json!({}))),
            Workload::W3Follows200 => (Some(FOLLOWS200), q(FEED, json!({}))),
            Workload::W3Top100 => (Some(TOP100), q(FEED, json!({}))),
            Workload::W4 => {
                let (a, b) = (self.random_user(rng), self.random_user(rng));
                (Some(a), q(RELATIONSHIP, json!({ "u": dataset::username(b) })))
            }
            Workload::W5 => {
                let writer = rng.gen_range(self.writers.clone());
                let mut target = self.random_user(rng);
                if target == writer {
                    target = if target == 1 { 2 } else { target - 1 };
                }
                (Some(writer), q(FOLLOW_UNFOLLOW, json!({ "u": global_user_id(target) })))
            }
            Workload::W6 => (Some(HEAVY), q(POLL, json!({ "b": self.newest }))),
            Workload::W7Page1 => (None, q(FOLLOWERS_PAGE, json!({ "u": self.top.1, "a": null }))),
            Workload::W7 => (None, q(FOLLOWERS_PAGE, json!({ "u": self.top.1, "a": self.deep }))),
            Workload::W8 => (Some(HEAVY), q(SUGGESTIONS, json!({}))),
            Workload::W9 => (Some(HEAVY), q(KNOWN_FOLLOWERS, json!({ "u": self.top.1 }))),
            // Sent as a GET by `api` (this body is W6's, for set-up).
            Workload::W10 => (Some(HEAVY), q(POLL, json!({ "b": self.newest }))),
        }
    }

    /// One API request; an error is a non-200 answer or one with `errors`.
    pub async fn api(&self, w: Workload, rng: &mut ChaCha8Rng) -> Result<(), String> {
        if w == Workload::W10 {
            return self.poll_get(Some(&self.poll_etag), false).await.map(drop);
        }
        let (actor, body) = self.request(w, rng);
        let mut req = self
            .client
            .post(&self.graphql_url)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body).unwrap());
        if let Some(id) = actor {
            req = req.header("authorization", format!("Bearer {}", dataset::token(id)));
        }
        let res = req.send().await.map_err(|e| e.to_string())?;
        let status = res.status();
        let bytes = res.bytes().await.map_err(|e| e.to_string())?;
        if status != 200 || bytes.windows(9).any(|w| w == b"\"errors\"") {
            return Err(format!("{status}: {}", String::from_utf8_lossy(&bytes[..bytes.len().min(300)])));
        }
        Ok(())
    }

    /// GraphQL for the suite's own set-up (cursors), answered as JSON.
    pub async fn query(&self, actor: Option<i64>, query: &str, vars: Value) -> Result<Value, String> {
        graphql(&self.client, &self.graphql_url, actor, query, vars).await
    }

    /// The most-followed account, found by name, with a page of its
    /// followers (and their posts): W2's and W7's one statement on
    /// PostgreSQL, as the server reads it signed out.
    fn top_followers(&self, page: &PageRequest, posts: Option<&PageRequest>) -> Statement {
        let list = (Side::Followers, &Filter::default());
        follows::owner_with_page_stmt(self.floor.backend(), &self.top.1, None, list, page, posts)
    }

    fn session_stmt(&self, id: i64) -> Statement {
        sessions::find_user_stmt(self.floor.backend(), &TokenHash::of(&dataset::token(id)))
    }

    /// Viewer `id`'s session (their id and following count), looked up
    /// only where the server would look it up ([`Sessions`]).
    async fn session(&self, id: i64) -> Result<(UserId, i64), String> {
        let cached = self.floor.backend() == DbBackend::Postgres;
        if let Some((user, following)) = self.sessions.get(id).filter(|_| cached) {
            return Ok((UserId(user), following));
        }
        let row = self.floor.pair(self.session_stmt(id), "id", "following_count").await?;
        if cached {
            self.sessions.put(id, row);
        }
        Ok((UserId(row.0), row.1))
    }

    /// The statements the server runs for one request of `w`, run raw: the
    /// store's own statements, chosen by the store's own plans.
    pub async fn floor(&self, w: Workload, rng: &mut ChaCha8Rng) -> Result<(), String> {
        let b = self.floor.backend();
        let f = &self.floor;
        match w {
            Workload::W1 => {
                f.rows(users::find_by_username_stmt(b, &dataset::username(self.random_user(rng)))).await?;
            }
            Workload::W2 if b == DbBackend::Postgres => {
                f.rows(self.top_followers(&W2_PAGE, Some(&W2_POSTS))).await?;
            }
            Workload::W2 => {
                let top = UserId(f.ids(users::find_by_username_stmt(b, &self.top.1), "id").await?[0]);
                let list = [(followers(top), W2_PAGE)];
                let fans = f.ids(follows::pages_stmt(b, &list), "id").await?;
                let keys: Vec<(UserId, PageRequest)> = fans.iter().map(|&id| (UserId(id), W2_POSTS)).collect();
                f.rows(posts::pages_stmt(b, None, &keys)).await?;
            }
            Workload::W3
            | Workload::W3Follows10
            | Workload::W3Follows200
            | Workload::W3Top100
            | Workload::W6
            | Workload::W10 => {
                let viewer = match w {
                    Workload::W3Follows10 => FOLLOWS10,
                    Workload::W3Follows200 => FOLLOWS200,
                    Workload::W3Top100 => TOP100,
                    _ => HEAVY,
                };
                let (_, following) = self.session(viewer).await?;
                let page = match w {
                    Workload::W6 | Workload::W10 => page(0, None, Some(20), Some(&self.newest)),
                    _ => page(20, None, None, None),
                };
                let viewer = UserId(viewer);
                let mut done = false;
                if self.plan.timelines {
                    let read = f.timeline(feed::timeline_stmt(b, viewer, &page)).await?;
                    done = read.is_some_and(|(floor, kept)| feed::timeline_is_exact(floor, kept, &page));
                }
                if !done && self.plan.walks(following) {
                    let rns = f.ids(feed::walk_stmt(b, viewer, self.plan.window, &page), "rn").await?;
                    done = self.plan.walk_is_exact(rns);
                }
                if !done {
                    f.rows(feed::merge_stmt(b, viewer, &page)).await?;
                }
            }
            Workload::W4 => {
                let (a, other) = (self.random_user(rng), self.random_user(rng));
                let (viewer, _) = self.session(a).await?;
                f.rows(relationships::find_by_username_seen_by_stmt(b, &dataset::username(other), viewer, W4_PROBES))
                    .await?;
            }
            Workload::W5 => {
                let writer = rng.gen_range(self.writers.clone());
                let mut target = self.random_user(rng);
                if target == writer {
                    target = if target == 1 { 2 } else { target - 1 };
                }
                self.session(writer).await?;
                f.rows(users::find_by_ids_stmt(b, &[UserId(target)])).await?;
                // What store::relationships::{follow, unfollow} run for an
                // OPEN account: lock, read the pair, the timeline's part (a
                // follow's backfill, an unfollow's removal), write
                // and move counters (one statement on PostgreSQL).
                let (writer, target) = (UserId(writer), UserId(target));
                for follow in [true, false] {
                    let mut counters = Counters::default();
                    counters.edge(writer, target, if follow { 1 } else { -1 });
                    let at = store::now();
                    let (t, w) = (&[target], writer);
                    let insert = |sql: &mut store::sql::Sql| {
                        relationships::push_insert_pairs(sql, relationships::FOLLOWS, w, t, at)
                    };
                    let floor =
                        |sql: &mut store::sql::Sql| timeline::push_backfill_floor(sql, w, t, timeline::DEFAULT_CAP);
                    let copy =
                        |sql: &mut store::sql::Sql| timeline::push_backfill_copy(sql, w, t, timeline::DEFAULT_CAP);
                    let delete = |sql: &mut store::sql::Sql| {
                        relationships::push_delete_pairs(sql, "follows", "follower_id", "followed_id", w, t)
                    };
                    let remove = |sql: &mut store::sql::Sql| timeline::push_remove_authors(sql, w, t);
                    let writes: [&(dyn Fn(&mut store::sql::Sql) + Sync); 3] = [&insert, &floor, &copy];
                    let writes: &[&(dyn Fn(&mut store::sql::Sql) + Sync)] =
                        if follow { &writes } else { &[&delete, &remove] };
                    let mut stmts = vec![
                        relationships::lock_stmt(b, &[target, writer]),
                        relationships::read_stmt(b, writer, &[target], Probes::ALL),
                    ];
                    stmts.extend(counters.stmts_after(b, writes));
                    f.transaction(stmts).await?;
                }
            }
            Workload::W7Page1 | Workload::W7 => {
                let after = (w == Workload::W7).then_some(self.deep.as_str());
                if b == DbBackend::Postgres {
                    f.rows(self.top_followers(&page(20, after, None, None), None)).await?;
                } else {
                    let top = UserId(f.ids(users::find_by_username_stmt(b, &self.top.1), "id").await?[0]);
                    f.rows(follows::pages_stmt(b, &[(followers(top), page(20, after, None, None))])).await?;
                }
            }
            Workload::W8 => {
                // The stored ranking (fresh: the API's first request made it).
                self.session(HEAVY).await?;
                f.rows(suggestions::stored_stmt(b, UserId(HEAVY), 10)).await?;
            }
            Workload::W9 => {
                let (_, following) = self.session(HEAVY).await?;
                let top = f.ids(users::find_by_username_stmt(b, &self.top.1), "followers_count").await?[0];
                let list = self.known(self.top.0);
                f.rows(follows::pages_stmt(b, &[(list.clone(), self.known_page())])).await?;
                f.rows(follows::counts_stmt(b, &[(list, following < top)])).await?;
            }
        }
        Ok(())
    }

    /// The statement that does the work of `w`, for EXPLAIN.
    pub fn main_statement(&self, w: Workload) -> Statement {
        let b = self.floor.backend();
        let first20 = page(20, None, None, None);
        let user = |id: i64| UserId(id);
        match w {
            Workload::W1 => users::find_by_username_stmt(b, &dataset::username(self.users / 2)),
            Workload::W2 if b == DbBackend::Postgres => self.top_followers(&W2_PAGE, Some(&W2_POSTS)),
            Workload::W7Page1 if b == DbBackend::Postgres => self.top_followers(&first20, None),
            Workload::W7 if b == DbBackend::Postgres => {
                self.top_followers(&page(20, Some(&self.deep), None, None), None)
            }
            Workload::W2 => follows::pages_stmt(b, &[(followers(self.top.0), W2_PAGE)]),
            Workload::W7Page1 => follows::pages_stmt(b, &[(followers(self.top.0), first20)]),
            Workload::W3 => feed::timeline_stmt(b, user(HEAVY), &first20),
            Workload::W3Follows10 => feed::timeline_stmt(b, user(FOLLOWS10), &first20),
            Workload::W3Follows200 => feed::timeline_stmt(b, user(FOLLOWS200), &first20),
            Workload::W3Top100 => feed::timeline_stmt(b, user(TOP100), &first20),
            Workload::W4 => relationships::find_by_username_seen_by_stmt(
                b,
                &dataset::username(self.users / 2),
                user(self.users / 3),
                W4_PROBES,
            ),
            Workload::W5 => relationships::read_stmt(b, user(*self.writers.start()), &[self.top.0], Probes::ALL),
            Workload::W6 | Workload::W10 => {
                feed::timeline_stmt(b, user(HEAVY), &page(0, None, Some(20), Some(&self.newest)))
            }
            Workload::W7 => follows::pages_stmt(b, &[(followers(self.top.0), page(20, Some(&self.deep), None, None))]),
            Workload::W8 => suggestions::stored_stmt(b, user(HEAVY), 10),
            Workload::W9 => follows::pages_stmt(b, &[(self.known(self.top.0), self.known_page())]),
        }
    }

    /// The heavy viewer's known followers of `owner` (W9).
    fn known(&self, owner: UserId) -> List {
        let filter = Filter { followed_by: Some((UserId(HEAVY), true)), ..Filter::default() };
        List { owner, side: Side::Followers, filter }
    }

    /// W9's page: the first 20, as the server reads it: [`KNOWN_FOLLOWERS`]
    /// asks no `pageInfo`, so no row past its end.
    fn known_page(&self) -> PageRequest {
        page(20, None, None, None).peek(false)
    }

    /// The statements of the top account's followers list under each
    /// filter and order the API offers (a first page of 20, and the
    /// filtered count), as the heavy viewer asks them, for EXPLAIN.
    pub fn list_statements(&self) -> Vec<(String, Statement)> {
        let b = self.floor.backend();
        let deep = Cursor::decode(&self.deep).map(|c| c.at());
        let viewer = UserId(HEAVY);
        let filters: Vec<(&str, Filter)> = vec![
            ("no filter", Filter::default()),
            ("usernamePrefix \"user12\"", Filter { username_prefix: Some("user12".into()), ..Filter::default() }),
            ("followedBefore (page 50's date)", Filter { followed_before: deep, ..Filter::default() }),
            ("mutual: true", Filter { mutual: Some(true), ..Filter::default() }),
            ("mutual: false", Filter { mutual: Some(false), ..Filter::default() }),
            (
                "followedByViewer: true (knownFollowers)",
                Filter { followed_by: Some((viewer, true)), ..Filter::default() },
            ),
            ("followedByViewer: false", Filter { followed_by: Some((viewer, false)), ..Filter::default() }),
        ];
        let mut out = vec![(
            "W8 cold: ranking friends of friends (run when the stored ranking is stale)".to_owned(),
            suggestions::friends_of_friends_stmt(b, viewer, suggestions::KEPT),
        )];
        for (name, filter) in filters {
            let list = List { owner: self.top.0, side: Side::Followers, filter };
            for ascending in [false, true] {
                let order = if ascending { "ASC" } else { "DESC" };
                let page = page(20, None, None, None).ascending(ascending);
                out.push((format!("{name}, {order}, page"), follows::pages_stmt(b, &[(list.clone(), page)])));
            }
            if !list.filter.is_empty() {
                let from_viewer = list.filter.followed_by == Some((viewer, true));
                out.push((format!("{name}, totalCount"), follows::counts_stmt(b, &[(list, from_viewer)])));
            }
        }
        out
    }
}

/// The unfiltered followers list of `owner`.
fn followers(owner: UserId) -> List {
    List { owner, side: Side::Followers, filter: Filter::default() }
}

/// The cursor after page `pages` of the top account's followers, walked
/// through the API as a client would.
pub async fn deep_cursor(ctx: &Ctx, pages: usize) -> Result<String, String> {
    let mut after = Value::Null;
    for _ in 0..pages {
        let data = ctx.query(None, FOLLOWERS_PAGE, json!({ "u": ctx.top.1, "a": after })).await?;
        after = data["user"]["followers"]["pageInfo"]["endCursor"].clone();
    }
    after.as_str().map(str::to_owned).ok_or_else(|| "the top account has too few followers".into())
}

/// The heavy viewer's newest feed cursor.
impl Ctx {
    /// W10: the heavy viewer polls with W6's query, persisted (its SHA-256
    /// alone) over GET with the last ETag: success is 304. With `register`,
    /// the text goes too (Apollo's protocol registers it) and no ETag is
    /// sent: returns the ETag of the answer.
    pub async fn poll_get(&self, etag: Option<&str>, register: bool) -> Result<String, String> {
        use sha2::Digest;
        let hash: String = sha2::Sha256::digest(POLL.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } }).to_string();
        let vars = json!({ "b": self.newest }).to_string();
        let mut params = vec![("extensions", ext.as_str()), ("variables", vars.as_str())];
        if register {
            params.push(("query", POLL));
        }
        let mut req = self
            .client
            .get(&self.graphql_url)
            .query(&params)
            .header("authorization", format!("Bearer {}", dataset::token(HEAVY)));
        if let Some(etag) = etag {
            req = req.header("if-none-match", etag);
        }
        let res = req.send().await.map_err(|e| e.to_string())?;
        let status = res.status().as_u16();
        let tag = res.headers().get("etag").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let bytes = res.bytes().await.map_err(|e| e.to_string())?;
        match (status, register) {
            (304, false) => Ok(tag),
            (200, true) if !tag.is_empty() && !bytes.windows(9).any(|w| w == b"\"errors\"") => Ok(tag),
            _ => Err(format!("{status}: {}", String::from_utf8_lossy(&bytes[..bytes.len().min(300)]))),
        }
    }
}

pub async fn newest_cursor(ctx: &Ctx) -> Result<String, String> {
    let data = ctx.query(Some(HEAVY), "{ feed(first: 1) { pageInfo { startCursor } } }", json!({})).await?;
    let cursor = data["feed"]["pageInfo"]["startCursor"].as_str().ok_or("empty feed")?.to_owned();
    Cursor::decode(&cursor).ok_or_else(|| format!("`{cursor}` is not a cursor"))?;
    Ok(cursor)
}

/// Reads the feed of each viewer the W3 workloads use, so their timelines
/// get built (off the request, store::timeline::build), and waits until
/// they are; then refreshes the planner's statistics of the timeline
/// tables, as autovacuum would on a server that has run a while (with the
/// empty tables' statistics of a fresh load PostgreSQL scans a viewer's
/// whole timeline instead of walking its key: 4.7 against 0.5 ms at M).
pub async fn prime_timelines(ctx: &Ctx, db: &sea_orm::DatabaseConnection) -> Result<(), String> {
    use sea_orm::ConnectionTrait;
    let viewers = [HEAVY, FOLLOWS10, FOLLOWS200, TOP100];
    for _ in 0..600 {
        for v in viewers {
            ctx.query(Some(v), "{ feed(first: 1) { pageInfo { startCursor } } }", json!({})).await?;
        }
        let ids = viewers.map(|v| v.to_string()).join(", ");
        let sql = format!("SELECT COUNT(*) FROM timelines WHERE ready AND viewer_id IN ({ids})");
        let row = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no row")?;
        if row.try_get_by_index::<i64>(0).map_err(|e| e.to_string())? == viewers.len() as i64 {
            for table in ["timelines", "timeline_entries", "timeline_pending"] {
                db.execute_unprepared(&format!("ANALYZE {table}")).await.map_err(|e| e.to_string())?;
            }
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Err("the bench viewers' timelines were not built in a minute".into())
}

/// One GraphQL request as dataset user `actor` (or signed out): its
/// `data`, or its `errors` as the error.
pub async fn graphql(
    client: &reqwest::Client,
    url: &str,
    actor: Option<i64>,
    query: &str,
    vars: Value,
) -> Result<Value, String> {
    let mut req = client.post(url).header("content-type", "application/json");
    if let Some(id) = actor {
        req = req.header("authorization", format!("Bearer {}", dataset::token(id)));
    }
    let body = serde_json::to_vec(&json!({ "query": query, "variables": vars })).unwrap();
    let res = req.body(body).send().await.map_err(|e| e.to_string())?;
    let value: Value =
        serde_json::from_slice(&res.bytes().await.map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    match value.get("errors") {
        Some(e) => Err(e.to_string()),
        None => Ok(value["data"].clone()),
    }
}
