//! The `Query` root.

use std::sync::Arc;

use async_graphql::{Context, Object, ID};
use store::feed::FeedPlan;

use store::relationships::{Listing, Probes};

use super::connection::{FollowRequestConnection, PostConnection, UserConnection};
use super::node::Node;
use super::post::Post;
use super::user::User;
use super::{data, db, loaders, viewer};
use crate::error::{ApiError, ApiResult};
use crate::ids::{decode_post, NodeId};
use crate::loaders::{Listed, PostById, RelationshipWith, UserById};
use crate::pagination::connection_page;
use crate::timelines::Timelines;

pub struct Query;

/// The parts of the viewer's relationship a user's selection asks for
/// (look-ahead; a field it misses loads all of it, so a miss costs a
/// statement, never a wrong answer).
fn relationship_asked(ctx: &Context<'_>) -> Probes {
    let fields = [
        ("viewerRelationship", Probes::ALL),
        ("viewerIsFollowing", Probes::FOLLOWING),
        ("followsViewer", Probes::FOLLOWED_BY),
    ];
    let look = ctx.look_ahead();
    fields.into_iter().filter(|(name, _)| look.field(name).exists()).fold(Probes::NONE, |all, (_, p)| all.with(p))
}

/// Reads. The viewer's own lists and feed need `Authorization: Bearer <token>` (UNAUTHENTICATED without); everything else also answers signed out.
#[Object]
impl Query {
    /// Any object by its global ID; null when nothing has that ID.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A global ID of any type (User.id, Post.id). A malformed ID is BAD_USER_INPUT.")] id: ID,
    ) -> ApiResult<Option<Node>> {
        let loaders = loaders(ctx)?;
        Ok(match NodeId::decode(&id)? {
            NodeId::User(user) => loaders.load_one(UserById(user)).await?.map(|u| Node::User(User::new(u))),
            NodeId::Post(post) => loaders.load_one(PostById(post)).await?.map(|p| Node::Post(Post(p))),
        })
    }

    /// The signed-in user; null when signed out.
    async fn viewer(&self, ctx: &Context<'_>) -> ApiResult<Option<User>> {
        match viewer(ctx)?.id() {
            Some(id) => Ok(loaders(ctx)?.load_one(UserById(id)).await?.map(User::new)),
            None => Ok(None),
        }
    }

    /// A user by username, case-insensitively; null when there is none.
    async fn user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The username, in any case; surrounding spaces are ignored.")] username: String,
    ) -> ApiResult<Option<User>> {
        let (db, loaders) = (db(ctx)?, loaders(ctx)?);
        let probes = relationship_asked(ctx);
        let me = viewer(ctx)?.id();
        let folds = probes == Probes::NONE || me.is_none();
        let found = match folds.then(|| super::user::list_asked(ctx, me)).flatten() {
            // Asked for a page of their followers or following (and, signed
            // in, not how they relate to the viewer): read it with the user.
            Some(asked) => {
                let list = (asked.side, &asked.filter);
                match store::follows::owner_with_page(db, username.trim(), me, list, asked.page, asked.posts).await? {
                    Some(found) => {
                        let user = found.owner;
                        if !user.network_hidden || me == Some(user.id) {
                            loaders.feed_one(asked.key(user.id), Listed::new(found.page, &found.posts)).await;
                        }
                        Some(user)
                    }
                    None => None,
                }
            }
            None => match me {
                // Asked how the viewer and this user relate: read the parts
                // asked for with the user.
                Some(viewer) if probes != Probes::NONE => {
                    match store::relationships::find_by_username_seen_by(db, username.trim(), viewer, probes).await? {
                        Some((user, relationship)) => {
                            loaders.feed_one(RelationshipWith(user.id, probes), relationship).await;
                            Some(user)
                        }
                        None => None,
                    }
                }
                _ => store::users::find_by_username(db, username.trim()).await?,
            },
        };
        if let Some(u) = &found {
            loaders.feed_one(UserById(u.id), u.clone()).await;
        }
        Ok(found.map(|u| User::probed(u, probes)))
    }

    /// A post by its ID; null when there is none (or it was deleted).
    async fn post(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The post's global ID (Post.id); malformed or another type's is BAD_USER_INPUT.")] id: ID,
    ) -> ApiResult<Option<Post>> {
        let id = decode_post(&id)?;
        Ok(loaders(ctx)?.load_one(PostById(id)).await?.map(Post))
    }

    /// All users, newest account first; `search` matches a username prefix, case-insensitively.
    #[graphql(complexity = "crate::pagination::cost(first, last, child_complexity)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items to read forward, from the start or `after`: 0-100, default 20; not with `last`.")]
        first: Option<i32>,
        #[graphql(desc = "Read on after this cursor (e.g. pageInfo.endCursor); malformed is BAD_USER_INPUT.")]
        after: Option<String>,
        #[graphql(desc = "Items to read backward, from the end or from `before`: 0-100; not with `first`.")]
        last: Option<i32>,
        #[graphql(desc = "Read back before this cursor (e.g. pageInfo.startCursor); malformed is BAD_USER_INPUT.")]
        before: Option<String>,
        #[graphql(desc = "A username prefix, in any case, at most 30 characters; blank or absent lists everyone.")]
        search: Option<String>,
    ) -> ApiResult<UserConnection> {
        let page = connection_page(ctx, first, after.as_deref(), last, before.as_deref())?;
        let search = search.as_deref().map(str::trim).filter(|s| !s.is_empty());
        if search.is_some_and(|s| s.chars().count() > 30) {
            return Err(ApiError::bad_input("`search` is at most 30 characters"));
        }
        let page = store::users::list(db(ctx)?, search, &page).await?;
        // The users are now known: nested fields that reach them (a post's
        // author, a follower who is also listed) need not load them again.
        loaders(ctx)?.feed_many(page.items.iter().map(|u| (UserById(u.id), u.clone()))).await;
        Ok(UserConnection::directory(page))
    }

    /// The signed-in viewer's home feed: their own posts and the posts of everyone
    /// they follow, newest first. UNAUTHENTICATED when signed out. To poll for new
    /// posts, pass the newest cursor you hold as `before` with `last`.
    #[graphql(complexity = "crate::pagination::cost(first, last, child_complexity)")]
    async fn feed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items to read forward, from the start or `after`: 0-100, default 20; not with `last`.")]
        first: Option<i32>,
        #[graphql(desc = "Read on after this cursor (e.g. pageInfo.endCursor); malformed is BAD_USER_INPUT.")]
        after: Option<String>,
        #[graphql(desc = "Items to read backward, from the end or from `before`: 0-100; not with `first`.")]
        last: Option<i32>,
        #[graphql(desc = "Read back before this cursor (e.g. pageInfo.startCursor); malformed is BAD_USER_INPUT.")]
        before: Option<String>,
    ) -> ApiResult<PostConnection> {
        let me = viewer(ctx)?.require()?;
        let page = connection_page(ctx, first, after.as_deref(), last, before.as_deref())?;
        let plan = *data::<FeedPlan>(ctx)?;
        let read = store::feed::read(db(ctx)?, me.id, me.following_count, plan, &page).await?;
        data::<Arc<Timelines>>(ctx)?.seen(me.id, read.timeline);
        let page = read.page;
        // The authors came with the posts: `author` needs no query.
        loaders(ctx)?.feed_many(page.items.iter().map(|i| (UserById(i.author.id), i.author.clone()))).await;
        Ok(PostConnection(page.map(|i| i.post)))
    }

    /// Posts in the viewer's feed newer than the cursor, exactly, at most 100 (100 means "100 or more"): what a client shows as "N new posts" before fetching them with `feed(last:, before: <cursor>)`. A malformed cursor is BAD_USER_INPUT; UNAUTHENTICATED when signed out.
    async fn feed_new_posts_count(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "A feed cursor: the newest edge cursor you hold (or feedMarker.cursor).")] since: String,
    ) -> ApiResult<i32> {
        let me = viewer(ctx)?.require()?;
        let since = crate::pagination::decode_cursor(&since)?;
        if since.scope != 0 {
            return Err(ApiError::bad_input("`since` takes a feed cursor"));
        }
        let plan = *data::<FeedPlan>(ctx)?;
        let (n, timeline) =
            store::feed::count_newer(db(ctx)?, me.id, me.following_count, plan, since, NEW_POSTS_CAP).await?;
        data::<Arc<Timelines>>(ctx)?.seen(me.id, timeline);
        Ok(n as i32)
    }

    /// The viewer's saved reading position in the feed, or null. UNAUTHENTICATED when signed out.
    async fn feed_marker(&self, ctx: &Context<'_>) -> ApiResult<Option<FeedMarker>> {
        let me = viewer(ctx)?.require()?.id;
        Ok(store::feed::marker(db(ctx)?, me).await?.map(Into::into))
    }

    /// Requests to follow the viewer, newest first. UNAUTHENTICATED when signed out.
    #[graphql(complexity = "crate::pagination::cost(first, last, child_complexity)")]
    async fn follow_requests(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items to read forward, from the start or `after`: 0-100, default 20; not with `last`.")]
        first: Option<i32>,
        #[graphql(desc = "Read on after this cursor (e.g. pageInfo.endCursor); malformed is BAD_USER_INPUT.")]
        after: Option<String>,
        #[graphql(desc = "Items to read backward, from the end or from `before`: 0-100; not with `first`.")]
        last: Option<i32>,
        #[graphql(desc = "Read back before this cursor (e.g. pageInfo.startCursor); malformed is BAD_USER_INPUT.")]
        before: Option<String>,
    ) -> ApiResult<FollowRequestConnection> {
        let page = connection_page(ctx, first, after.as_deref(), last, before.as_deref())?;
        requests(ctx, Listing::RequestsReceived, page).await
    }

    /// The viewer's own pending requests, newest first. UNAUTHENTICATED when signed out.
    #[graphql(complexity = "crate::pagination::cost(first, last, child_complexity)")]
    async fn sent_follow_requests(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items to read forward, from the start or `after`: 0-100, default 20; not with `last`.")]
        first: Option<i32>,
        #[graphql(desc = "Read on after this cursor (e.g. pageInfo.endCursor); malformed is BAD_USER_INPUT.")]
        after: Option<String>,
        #[graphql(desc = "Items to read backward, from the end or from `before`: 0-100; not with `first`.")]
        last: Option<i32>,
        #[graphql(desc = "Read back before this cursor (e.g. pageInfo.startCursor); malformed is BAD_USER_INPUT.")]
        before: Option<String>,
    ) -> ApiResult<FollowRequestConnection> {
        let page = connection_page(ctx, first, after.as_deref(), last, before.as_deref())?;
        requests(ctx, Listing::RequestsSent, page).await
    }

    /// The viewer's blocks, newest first. UNAUTHENTICATED when signed out.
    #[graphql(complexity = "crate::pagination::cost(first, last, child_complexity)")]
    async fn blocked_users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items to read forward, from the start or `after`: 0-100, default 20; not with `last`.")]
        first: Option<i32>,
        #[graphql(desc = "Read on after this cursor (e.g. pageInfo.endCursor); malformed is BAD_USER_INPUT.")]
        after: Option<String>,
        #[graphql(desc = "Items to read backward, from the end or from `before`: 0-100; not with `first`.")]
        last: Option<i32>,
        #[graphql(desc = "Read back before this cursor (e.g. pageInfo.startCursor); malformed is BAD_USER_INPUT.")]
        before: Option<String>,
    ) -> ApiResult<UserConnection> {
        let me = viewer(ctx)?.require()?.id;
        let page = connection_page(ctx, first, after.as_deref(), last, before.as_deref())?;
        let page = store::relationships::listing_page(db(ctx)?, me, Listing::Blocked, &page).await?;
        loaders(ctx)?.feed_many(page.items.iter().map(|l| (UserById(l.user.id), l.user.clone()))).await;
        Ok(UserConnection::listed(page))
    }

    /// Accounts the viewer might follow, best first (at most 50; 10 by default): followed by the most of the viewer's followees, then by the most followers; popular accounts fill in. Never the viewer, an account they follow or have asked to follow, a block either way, or a CLOSED account. UNAUTHENTICATED when signed out.
    #[graphql(complexity = "first.unwrap_or(SUGGESTIONS).clamp(0, 50) as usize * child_complexity + 1")]
    async fn suggested_users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many suggestions: 0-50, 10 by default; more is BAD_USER_INPUT.")] first: Option<i32>,
    ) -> ApiResult<Vec<User>> {
        let me = viewer(ctx)?.require()?;
        let n = first.unwrap_or(SUGGESTIONS);
        if !(0..=50).contains(&n) {
            return Err(ApiError::bad_input("`first` takes 0 to 50 suggestions"));
        }
        // The stored ranking is fresh while the following count it was made
        // for holds: that count must be exact, so a cached row is read again.
        let following = match &me.row {
            None => loaders(ctx)?.load_one(UserById(me.id)).await?.map(|u| u.following_count),
            Some(row) => Some(row.following_count),
        };
        let following = following.ok_or_else(|| ApiError::not_found("this account no longer exists"))?;
        let found = store::suggestions::suggest(db(ctx)?, me.id, following, n as u64).await?;
        loaders(ctx)?.feed_many(found.iter().map(|u| (UserById(u.id), u.clone()))).await;
        Ok(found.into_iter().map(User::new).collect())
    }
}

/// The most `feedNewPostsCount` counts.
const NEW_POSTS_CAP: u64 = 100;

/// The viewer's saved reading position in the feed (Mastodon's markers), shared by all their devices.
#[derive(async_graphql::SimpleObject)]
pub struct FeedMarker {
    /// A feed cursor: pass it as `before` with `last` to read what came after. Valid after its post is deleted.
    cursor: String,
    /// When the marker was last saved.
    updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<store::feed::Marker> for FeedMarker {
    fn from(m: store::feed::Marker) -> Self {
        FeedMarker { cursor: m.cursor.encode(), updated_at: m.updated_at }
    }
}

/// Suggestions when `first` is not given.
const SUGGESTIONS: i32 = 10;

async fn requests(ctx: &Context<'_>, listing: Listing, page: store::PageRequest) -> ApiResult<FollowRequestConnection> {
    let me = viewer(ctx)?.require()?.id;
    let page = store::relationships::listing_page(db(ctx)?, me, listing, &page).await?;
    loaders(ctx)?.feed_many(page.items.iter().map(|l| (UserById(l.user.id), l.user.clone()))).await;
    Ok(FollowRequestConnection { page, viewer: me, listing })
}
