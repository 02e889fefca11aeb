//! The `User` type: profile, counters, lists and the viewer's relationship.

use async_graphql::{Context, Lookahead, Name, Object, Value, ID};
use chrono::{DateTime, Utc};
use store::follows::{List, Side};
use store::relationships::{Probes, Relationship};
use store::{user, Page, PageRequest, UserId};

use super::connection::{FollowConnection, PostConnection, Total};
use super::relationship::{self, FollowFilter, FollowPolicy, ListQuery, OrderDirection};
use super::{loaders, selects, to_int, viewer};
use crate::error::{ApiError, ApiResult};
use crate::ids;
use crate::loaders::{FollowCount, FollowPage, PostPage, RelationshipWith, UserById};
use crate::pagination::{connection_page, page_request, peeked, scoped_page_request};

/// A registered account.
pub struct User {
    pub row: user::Model,
    /// Set on the payload of signUp/signIn, whose request has no token yet
    /// but whose user is, by definition, the one asking.
    pub owner: bool,
    /// The parts of the viewer's relationship read with this user: its
    /// relationship fields load by this key when it covers what they need,
    /// else all of it ([`User::new`]: `ALL`, nothing read yet).
    pub probes: Probes,
}

impl User {
    pub fn new(row: user::Model) -> Self {
        User { row, owner: false, probes: Probes::ALL }
    }

    /// The payload of signUp/signIn: the user asking.
    pub fn owner(row: user::Model) -> Self {
        User { owner: true, ..User::new(row) }
    }

    /// A user read with only `probes` of the viewer's relationship (fed
    /// to the loader under that key).
    pub fn probed(row: user::Model, probes: Probes) -> Self {
        User { probes, ..User::new(row) }
    }
}

/// Loads a user that must exist (a foreign key points at it).
pub async fn load(ctx: &Context<'_>, id: UserId) -> ApiResult<User> {
    match loaders(ctx)?.load_one(UserById(id)).await? {
        Some(u) => Ok(User::new(u)),
        None => Err(ApiError::not_found("that user no longer exists")),
    }
}

/// The fields a connection is read for; asked only for `totalCount`, no
/// page is read at all.
const PAGE_FIELDS: &[&str] = &["edges", "nodes", "pageInfo"];

/// The one page of posts a list's page asks of each of its users
/// (`edges { node { posts(..) } }` and `nodes { posts(..) }`; `look` is the
/// list's field), to be read with the list. None when not asked, asked
/// with different arguments (or a peek in one place only) in two
/// places, or asked wrongly (the `posts` field then answers the error
/// itself), or with a variable the request leaves out. A field left out
/// by `@skip`/`@include` is not seen: async-graphql drops it from the
/// document before execution.
fn posts_asked(look: Lookahead<'_>) -> Option<PageRequest> {
    let mut fields = look.field("edges").field("node").field("posts").selection_fields();
    fields.extend(look.field("nodes").field("posts").selection_fields());
    let mut asked = None;
    for field in fields {
        let page = peeked(posts_page(field.arguments().ok()?)?, &Lookahead::from(field));
        if asked.is_some_and(|a| a != page) {
            return None;
        }
        asked = Some(page);
    }
    asked
}

/// A page of a list of a user not yet read: what [`User::follow_list`]
/// will load once the owner is known.
pub struct ListAsked {
    pub side: Side,
    pub filter: store::follows::Filter,
    pub page: PageRequest,
    pub posts: Option<PageRequest>,
}

impl ListAsked {
    /// The key [`User::follow_list`] loads the page by, for `owner`.
    pub fn key(&self, owner: UserId) -> FollowPage {
        FollowPage(List { owner, side: self.side, filter: self.filter.clone() }, self.page, self.posts)
    }
}

/// The one page of `followers` or `following` that a user's selection
/// asks for (W2, W7: `user(username:) { followers(first: 20) { .. } }`),
/// to be read with the user. None when neither or both are asked, one is
/// asked twice, only for its `totalCount`, with arguments its resolver
/// will refuse (it answers the error itself), or with a filter nothing can
/// match (it answers an empty page without reading).
pub fn list_asked(ctx: &Context<'_>, viewer: Option<UserId>) -> Option<ListAsked> {
    use async_graphql::InputType;
    let look = ctx.look_ahead();
    let mut asked = [(Side::Followers, "followers"), (Side::Following, "following")]
        .into_iter()
        .flat_map(|(side, name)| look.field(name).selection_fields().into_iter().map(move |f| (side, name, f)));
    let (side, name, field) = asked.next()?;
    if asked.next().is_some() {
        return None;
    }
    let list = look.field(name);
    if !PAGE_FIELDS.iter().any(|f| list.field(f).exists()) {
        return None;
    }
    let mut args = ListArgs { first: None, after: None, last: None, before: None, filter: None, order: None };
    fn parse<T: InputType>(value: Value) -> Option<T> {
        T::parse(Some(value)).ok()
    }
    for (arg, value) in field.arguments().ok()? {
        match arg.as_str() {
            "first" => args.first = parse(value)?,
            "after" => args.after = parse(value)?,
            "last" => args.last = parse(value)?,
            "before" => args.before = parse(value)?,
            "filter" => args.filter = parse(value)?,
            "order" => args.order = parse(value)?,
            _ => return None,
        }
    }
    let (query, page) = args.page(viewer).ok()?;
    if query.nothing {
        return None;
    }
    let page = peeked(page, &list);
    Some(ListAsked { side, filter: query.filter, page, posts: posts_asked(list) })
}

/// `posts(first:, after:, last:, before:)`'s page, as its resolver reads it.
fn posts_page(arguments: Vec<(Name, Value)>) -> Option<PageRequest> {
    let (mut first, mut after, mut last, mut before) = (None, None, None, None);
    for (name, value) in arguments {
        let int = |v: &Value| match v {
            Value::Number(n) => n.as_i64().and_then(|n| i32::try_from(n).ok()),
            _ => None,
        };
        match (name.as_str(), value) {
            (_, Value::Null) => {}
            ("first", v) => first = Some(int(&v)?),
            ("last", v) => last = Some(int(&v)?),
            ("after", Value::String(s)) => after = Some(s),
            ("before", Value::String(s)) => before = Some(s),
            _ => return None,
        }
    }
    page_request(first, after.as_deref(), last, before.as_deref()).ok()
}

/// The arguments of a followers, following or known-followers list.
pub struct ListArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
    pub filter: Option<FollowFilter>,
    pub order: Option<OrderDirection>,
}

impl ListArgs {
    /// The list's filter and order as `viewer` sees them, and its page.
    fn page(&self, viewer: Option<UserId>) -> ApiResult<(ListQuery, PageRequest)> {
        let query = ListQuery::new(self.filter.clone(), self.order, viewer)?;
        let page =
            scoped_page_request(self.first, self.after.as_deref(), self.last, self.before.as_deref(), query.scope)?
                .ascending(query.ascending);
        Ok((query, page))
    }
}

impl User {
    /// A followers or following list: FORBIDDEN to others when the network
    /// is hidden; its total the stored counter, or a count when filtered.
    async fn follow_list(&self, ctx: &Context<'_>, side: Side, args: ListArgs) -> ApiResult<FollowConnection> {
        let viewer = viewer(ctx)?;
        let me = viewer.id();
        if self.row.network_hidden && me != Some(self.row.id) {
            return Err(ApiError::Forbidden("this account keeps its network hidden".into()));
        }
        let (query, page) = args.page(me)?;
        if query.nothing {
            return Ok(FollowConnection::empty(query.scope));
        }
        let stored = match side {
            Side::Followers => self.row.followers_count,
            Side::Following => self.row.following_count,
        };
        // Count a "followed by the viewer" list from the viewer's follows
        // when they are the fewer.
        let from_viewer = viewer.require().is_ok_and(|v| v.following_count < stored);
        let list = List { owner: self.row.id, side, filter: query.filter };
        let total = match list.filter.is_empty() {
            true => Total::Stored(stored),
            false => Total::Count(FollowCount(list.clone(), from_viewer)),
        };
        let page = if selects(ctx, PAGE_FIELDS) {
            let loaders = loaders(ctx)?;
            let look = ctx.look_ahead();
            let page = peeked(page, &look);
            let posts = posts_asked(look);
            match loaders.load_one(FollowPage(list, page, posts)).await? {
                Some(listed) => {
                    if let Some(posts) = posts {
                        let pages = listed.posts.into_iter().map(|(user, page)| (PostPage(user, posts), page));
                        loaders.feed_many(pages).await;
                    }
                    listed.page
                }
                None => Page::empty(),
            }
        } else {
            Page::empty()
        };
        let own_following = side == Side::Following && me == Some(self.row.id);
        Ok(FollowConnection { page, total, scope: query.scope, own_following })
    }

    /// The viewer's relationship with this user, at least the parts
    /// `needs` names: none when signed out or when the viewer is this user
    /// (no query then).
    async fn relationship(&self, ctx: &Context<'_>, needs: Probes) -> ApiResult<Relationship> {
        if !matches!(viewer(ctx)?.id(), Some(v) if v != self.row.id) {
            return Ok(Relationship::default());
        }
        // What this user was read with, when that covers it; else all.
        let probes = if self.probes.contains(needs) { self.probes } else { Probes::ALL };
        Ok(loaders(ctx)?.load_one(RelationshipWith(self.row.id, probes)).await?.unwrap_or_default())
    }
}

/// A registered account.
#[Object]
impl User {
    /// The user's global ID: opaque; pass it to `follow`, `block` and the other account mutations, or to `node(id:)`.
    pub(crate) async fn id(&self) -> ID {
        ids::user_id(self.row.id)
    }

    /// Unique, case-insensitively; 3-30 characters of letters, digits and underscore.
    async fn username(&self) -> &str {
        &self.row.username
    }

    /// The name shown to others, 1-50 characters; the username unless changed.
    async fn display_name(&self) -> &str {
        &self.row.display_name
    }

    /// A short self-description, at most 300 characters; empty when not set.
    async fn bio(&self) -> &str {
        &self.row.bio
    }

    /// When the account was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }

    /// Visible only to the user themself; null for everyone else.
    async fn email(&self, ctx: &Context<'_>) -> ApiResult<Option<&str>> {
        let mine = self.owner || viewer(ctx)?.id() == Some(self.row.id);
        Ok(mine.then_some(self.row.email.as_str()))
    }

    /// How many users follow this user; visible even when the network is hidden.
    async fn followers_count(&self) -> i32 {
        to_int(self.row.followers_count)
    }

    /// How many users this user follows; visible even when the network is hidden.
    async fn following_count(&self) -> i32 {
        to_int(self.row.following_count)
    }

    /// How many posts this user has published (deleted ones not counted).
    async fn posts_count(&self) -> i32 {
        to_int(self.row.posts_count)
    }

    /// Users who follow this user, most recent follow first (`order: ASC` for oldest first), filtered by `filter`. FORBIDDEN to others when the network is hidden.
    #[graphql(complexity = "crate::pagination::scan_cost(first, last, filter.is_some(), child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn followers(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items to read forward, from the start or `after`: 0-100, default 20; not with `last`.")]
        first: Option<i32>,
        #[graphql(desc = "Read on after this cursor; one from another filter or order is BAD_USER_INPUT.")]
        after: Option<String>,
        #[graphql(desc = "Items to read backward, from the end or from `before`: 0-100; not with `first`.")]
        last: Option<i32>,
        #[graphql(desc = "Read back before this cursor; one from another filter or order is BAD_USER_INPUT.")]
        before: Option<String>,
        #[graphql(desc = "Keep only the entries that match every field given; absent or null keeps them all.")]
        filter: Option<FollowFilter>,
        #[graphql(desc = "By the date of the follow: DESC, newest first (the default), or ASC, oldest first.")]
        order: Option<OrderDirection>,
    ) -> ApiResult<FollowConnection> {
        self.follow_list(ctx, Side::Followers, ListArgs { first, after, last, before, filter, order }).await
    }

    /// Users this user follows, most recent follow first (`order: ASC` for oldest first), filtered by `filter`. FORBIDDEN to others when the network is hidden.
    #[graphql(complexity = "crate::pagination::scan_cost(first, last, filter.is_some(), child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn following(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items to read forward, from the start or `after`: 0-100, default 20; not with `last`.")]
        first: Option<i32>,
        #[graphql(desc = "Read on after this cursor; one from another filter or order is BAD_USER_INPUT.")]
        after: Option<String>,
        #[graphql(desc = "Items to read backward, from the end or from `before`: 0-100; not with `first`.")]
        last: Option<i32>,
        #[graphql(desc = "Read back before this cursor; one from another filter or order is BAD_USER_INPUT.")]
        before: Option<String>,
        #[graphql(desc = "Keep only the entries that match every field given; absent or null keeps them all.")]
        filter: Option<FollowFilter>,
        #[graphql(desc = "By the date of the follow: DESC, newest first (the default), or ASC, oldest first.")]
        order: Option<OrderDirection>,
    ) -> ApiResult<FollowConnection> {
        self.follow_list(ctx, Side::Following, ListArgs { first, after, last, before, filter, order }).await
    }

    /// This user's followers whom the viewer follows, newest follow first ("followed by people you know"); empty when signed out. FORBIDDEN to others when the network is hidden.
    #[graphql(complexity = "crate::pagination::scan_cost(first, last, true, child_complexity)")]
    async fn known_followers(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items to read forward, from the start or `after`: 0-100, default 20; not with `last`.")]
        first: Option<i32>,
        #[graphql(desc = "Read on after this cursor; one from another filter or order is BAD_USER_INPUT.")]
        after: Option<String>,
        #[graphql(desc = "Items to read backward, from the end or from `before`: 0-100; not with `first`.")]
        last: Option<i32>,
        #[graphql(desc = "Read back before this cursor; one from another filter or order is BAD_USER_INPUT.")]
        before: Option<String>,
    ) -> ApiResult<FollowConnection> {
        let filter = FollowFilter::followed_by_viewer();
        self.follow_list(
            ctx,
            Side::Followers,
            ListArgs { first, after, last, before, filter: Some(filter), order: None },
        )
        .await
    }

    /// This user's posts, newest first.
    #[graphql(complexity = "crate::pagination::cost(first, last, child_complexity)")]
    async fn posts(
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
        let page = connection_page(ctx, first, after.as_deref(), last, before.as_deref())?;
        let page = loaders(ctx)?.load_one(PostPage(self.row.id, page)).await?.unwrap_or_else(Page::empty);
        Ok(PostConnection(page))
    }

    /// Whether the signed-in viewer follows this user; false when signed out.
    async fn viewer_is_following(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        Ok(self.relationship(ctx, Probes::FOLLOWING).await?.following)
    }

    /// Whether this user follows the signed-in viewer; false when signed out.
    async fn follows_viewer(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        Ok(self.relationship(ctx, Probes::FOLLOWED_BY).await?.followed_by)
    }

    /// The viewer's relationship with this user in one object; null when signed out, and for the viewer themself.
    async fn viewer_relationship(&self, ctx: &Context<'_>) -> ApiResult<Option<relationship::Relationship>> {
        if !matches!(viewer(ctx)?.id(), Some(v) if v != self.row.id) {
            return Ok(None);
        }
        Ok(Some(self.relationship(ctx, Probes::ALL).await?.into()))
    }

    /// Who may follow this user.
    async fn follow_policy(&self) -> FollowPolicy {
        self.row.follow_policy.into()
    }

    /// Whether this user's followers, following and knownFollowers lists are shown only to themself (their counts stay visible).
    async fn network_hidden(&self) -> bool {
        self.row.network_hidden
    }
}
