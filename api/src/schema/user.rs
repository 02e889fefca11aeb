//! The `User` type: profile, counters, lists and the viewer's relationship.

use async_graphql::{Context, Object, Result, ID};
use chrono::{DateTime, Utc};
use entity::user;

use super::connection::{FollowConnection, PostConnection};
use super::{auth, loaders, selects, to_int};
use crate::db::follows::Side;
use crate::error::ApiError;
use crate::ids::{encode_id, Kind};
use crate::db::follows::Relationship;
use crate::loaders::{FollowPage, PostPage, RelationshipWith, UserId};
use crate::pagination::{Page, PageRequest};

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
pub async fn load(ctx: &Context<'_>, id: i64) -> Result<User> {
    match loaders(ctx)?.load_one(UserId(id)).await? {
        Some(u) => Ok(User::new(u)),
        None => Err(ApiError::not_found(format!("user {id} no longer exists")).into()),
    }
}

/// The fields a connection is read for; asked only for `totalCount`, no
/// page is read at all.
const PAGE_FIELDS: &[&str] = &["edges", "nodes", "pageInfo"];

impl User {
    async fn follow_list(
        &self,
        ctx: &Context<'_>,
        side: Side,
        page: PageRequest,
    ) -> Result<FollowConnection> {
        let total = match side {
            Side::Followers => self.row.followers_count,
            Side::Following => self.row.following_count,
        };
        let page = if selects(ctx, PAGE_FIELDS) {
            loaders(ctx)?.load_one(FollowPage(self.row.id, side, page)).await?.unwrap_or_else(empty_page)
        } else {
            empty_page()
        };
        Ok(FollowConnection { page, total })
    }

    /// The viewer's relationship with this user: none when signed out or
    /// when the viewer is this user (no query then).
    async fn relationship(&self, ctx: &Context<'_>) -> Result<Relationship> {
        if !matches!(auth(ctx)?.user_id(), Some(v) if v != self.row.id) {
            return Ok(Relationship::default());
        }
        Ok(loaders(ctx)?.load_one(RelationshipWith(self.row.id)).await?.unwrap_or_default())
    }
}

fn empty_page<T>() -> Page<T> {
    Page { items: Vec::new(), has_previous: false, has_next: false }
}

#[Object]
impl User {
    pub(crate) async fn id(&self) -> ID {
        encode_id(Kind::User, self.row.id)
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
    async fn email(&self, ctx: &Context<'_>) -> Result<Option<&str>> {
        let mine = self.owner || auth(ctx)?.user_id() == Some(self.row.id);
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
    #[graphql(complexity = "first.or(last).unwrap_or(20).clamp(0, 100) as usize * child_complexity + 1")]
    async fn followers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<FollowConnection> {
        let page = PageRequest::parse(first, after.as_deref(), last, before.as_deref())?;
        self.follow_list(ctx, Side::Followers, page).await
    }

    /// Users this user follows, most recent follow first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).clamp(0, 100) as usize * child_complexity + 1")]
    async fn following(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<FollowConnection> {
        let page = PageRequest::parse(first, after.as_deref(), last, before.as_deref())?;
        self.follow_list(ctx, Side::Following, page).await
    }

    /// This user's posts, newest first.
    #[graphql(complexity = "first.or(last).unwrap_or(20).clamp(0, 100) as usize * child_complexity + 1")]
    async fn posts(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<PostConnection> {
        let page = PageRequest::parse(first, after.as_deref(), last, before.as_deref())?;
        let page = loaders(ctx)?.load_one(PostPage(self.row.id, page)).await?.unwrap_or_else(empty_page);
        Ok(PostConnection(page))
    }

    /// Whether the signed-in viewer follows this user; false when signed out.
    async fn viewer_is_following(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.relationship(ctx).await?.viewer_follows)
    }

    /// Whether this user follows the signed-in viewer; false when signed out.
    async fn follows_viewer(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.relationship(ctx).await?.follows_viewer)
    }
}
