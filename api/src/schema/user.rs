//! The `User` type: profile, counters, lists and the viewer's relationship.

use async_graphql::{Context, Object, ID};
use chrono::{DateTime, Utc};
use store::follows::{Relationship, Side};
use store::{user, Page, PageRequest, UserId};

use super::connection::{FollowConnection, PostConnection};
use super::{loaders, selects, to_int, viewer};
use crate::error::{ApiError, ApiResult};
use crate::ids;
use crate::loaders::{FollowPage, PostPage, RelationshipWith, UserById};
use crate::pagination::page_request;

/// A registered account.
pub struct User {
    pub row: user::Model,
    /// Set on the payload of signUp/signIn, whose request has no token yet
    /// but whose user is, by definition, the one asking.
    pub owner: bool,
}

impl User {
    pub fn new(row: user::Model) -> Self {
        User { row, owner: false }
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

impl User {
    async fn follow_list(&self, ctx: &Context<'_>, side: Side, page: PageRequest) -> ApiResult<FollowConnection> {
        let total = match side {
            Side::Followers => self.row.followers_count,
            Side::Following => self.row.following_count,
        };
        let page = if selects(ctx, PAGE_FIELDS) {
            loaders(ctx)?.load_one(FollowPage(self.row.id, side, page)).await?.unwrap_or_else(Page::empty)
        } else {
            Page::empty()
        };
        Ok(FollowConnection { page, total })
    }

    /// The viewer's relationship with this user: none when signed out or
    /// when the viewer is this user (no query then).
    async fn relationship(&self, ctx: &Context<'_>) -> ApiResult<Relationship> {
        if !matches!(viewer(ctx)?.id(), Some(v) if v != self.row.id) {
            return Ok(Relationship::default());
        }
        Ok(loaders(ctx)?.load_one(RelationshipWith(self.row.id)).await?.unwrap_or_default())
    }
}

#[Object]
impl User {
    pub(crate) async fn id(&self) -> ID {
        ids::user_id(self.row.id)
    }

    /// Unique, case-insensitively; 3-30 characters of letters, digits and underscore.
    async fn username(&self) -> &str {
        &self.row.username
    }

    async fn display_name(&self) -> &str {
        &self.row.display_name
    }

    async fn bio(&self) -> &str {
        &self.row.bio
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.row.created_at
    }

    /// Visible only to the user themself; null for everyone else.
    async fn email(&self, ctx: &Context<'_>) -> ApiResult<Option<&str>> {
        let mine = self.owner || viewer(ctx)?.id() == Some(self.row.id);
        Ok(mine.then_some(self.row.email.as_str()))
    }

    async fn followers_count(&self) -> i32 {
        to_int(self.row.followers_count)
    }

    async fn following_count(&self) -> i32 {
        to_int(self.row.following_count)
    }

    async fn posts_count(&self) -> i32 {
        to_int(self.row.posts_count)
    }

    /// Users who follow this user, most recent follow first.
    #[graphql(complexity = "crate::pagination::cost(first, last, child_complexity)")]
    async fn followers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<FollowConnection> {
        let page = page_request(first, after.as_deref(), last, before.as_deref())?;
        self.follow_list(ctx, Side::Followers, page).await
    }

    /// Users this user follows, most recent follow first.
    #[graphql(complexity = "crate::pagination::cost(first, last, child_complexity)")]
    async fn following(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<FollowConnection> {
        let page = page_request(first, after.as_deref(), last, before.as_deref())?;
        self.follow_list(ctx, Side::Following, page).await
    }

    /// This user's posts, newest first.
    #[graphql(complexity = "crate::pagination::cost(first, last, child_complexity)")]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> ApiResult<PostConnection> {
        let page = page_request(first, after.as_deref(), last, before.as_deref())?;
        let page = loaders(ctx)?.load_one(PostPage(self.row.id, page)).await?.unwrap_or_else(Page::empty);
        Ok(PostConnection(page))
    }

    /// Whether the signed-in viewer follows this user; false when signed out.
    async fn viewer_is_following(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        Ok(self.relationship(ctx).await?.viewer_follows)
    }

    /// Whether this user follows the signed-in viewer; false when signed out.
    async fn follows_viewer(&self, ctx: &Context<'_>) -> ApiResult<bool> {
        Ok(self.relationship(ctx).await?.follows_viewer)
    }
}
