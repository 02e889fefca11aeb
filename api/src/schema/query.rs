//! The `Query` root.

use async_graphql::{Context, Object, Result, ID};

use super::connection::{PostConnection, UserConnection};
use super::node::Node;
use super::post::Post;
use super::user::User;
use super::{auth, data, db, loaders, selects};
use crate::db as queries;
use crate::db::posts::FeedPlan;
use crate::error::ApiError;
use crate::ids::{decode_any_id, decode_id, Kind};
use crate::loaders::{PostId, RelationshipWith, UserId};
use crate::pagination::PageRequest;

pub struct Query;

#[Object]
impl Query {
    /// Any object by its global ID; null when nothing has that ID.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let loaders = loaders(ctx)?;
        Ok(match decode_any_id(&id)? {
            (Kind::User, n) => loaders.load_one(UserId(n)).await?.map(|u| Node::User(User::new(u))),
            (Kind::Post, n) => loaders.load_one(PostId(n)).await?.map(|p| Node::Post(Post(p))),
        })
    }

    /// The signed-in user; null when signed out.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Option<User>> {
        match auth(ctx)?.user_id() {
            Some(id) => Ok(loaders(ctx)?.load_one(UserId(id)).await?.map(User::new)),
            None => Ok(None),
        }
    }

    /// A user by username, case-insensitively; null when there is none.
    async fn user(&self, ctx: &Context<'_>, username: String) -> Result<Option<User>> {
        let (db, loaders) = (db(ctx)?, loaders(ctx)?);
        let viewer = auth(ctx)?.user_id();
        let found = match viewer {
            // Asked how the viewer and this user relate: read it with the user.
            Some(viewer) if selects(ctx, &["viewerIsFollowing", "followsViewer"]) => {
                match queries::users::find_by_username_seen_by(db, username.trim(), viewer).await? {
                    Some((user, relationship)) => {
                        loaders.feed_one(RelationshipWith(user.id), relationship).await;
                        Some(user)
                    }
                    None => None,
                }
            }
            _ => queries::users::find_by_username(db, username.trim()).await?,
        };
        if let Some(u) = &found {
            loaders.feed_one(UserId(u.id), u.clone()).await;
        }
        Ok(found.map(User::new))
    }

    /// A post by its ID; null when there is none (or it was deleted).
    async fn post(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Post>> {
        let id = decode_id(Kind::Post, &id)?;
        Ok(loaders(ctx)?.load_one(PostId(id)).await?.map(Post))
    }

    /// All users, newest account first; `search` matches a username prefix, case-insensitively.
    #[graphql(complexity = "first.or(last).unwrap_or(20).clamp(0, 100) as usize * child_complexity + 1")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        search: Option<String>,
    ) -> Result<UserConnection> {
        let page = PageRequest::parse(first, after.as_deref(), last, before.as_deref())?;
        let search = search.as_deref().map(str::trim).filter(|s| !s.is_empty());
        if search.is_some_and(|s| s.chars().count() > 30) {
            return Err(ApiError::bad_input("`search` is at most 30 characters").into());
        }
        let page = queries::users::list(db(ctx)?, search, &page).await?;
        // The users are now known: nested fields that reach them (a post's
        // author, a follower who is also listed) need not load them again.
        loaders(ctx)?.feed_many(page.items.iter().map(|u| (UserId(u.id), u.clone()))).await;
        Ok(UserConnection(page))
    }

    /// The signed-in viewer's home feed: their own posts and the posts of everyone
    /// they follow, newest first. UNAUTHENTICATED when signed out. To poll for new
    /// posts, pass the newest cursor you hold as `before` with `last`.
    #[graphql(complexity = "first.or(last).unwrap_or(20).clamp(0, 100) as usize * child_complexity + 1")]
    async fn feed(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<PostConnection> {
        let viewer = auth(ctx)?.require()?.user_id;
        let page = PageRequest::parse(first, after.as_deref(), last, before.as_deref())?;
        // Loaded with the session already: no statement.
        let following = loaders(ctx)?.load_one(UserId(viewer)).await?.map_or(0, |u| u.following_count);
        let plan = *data::<FeedPlan>(ctx)?;
        let page = queries::posts::feed(db(ctx)?, viewer, following, plan, &page).await?;
        // The authors came with the posts: `author` needs no query.
        loaders(ctx)?.feed_many(page.items.iter().map(|i| (UserId(i.author.id), i.author.clone()))).await;
        Ok(PostConnection(page.map(|i| i.post)))
    }
}
