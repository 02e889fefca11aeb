//! The `Post` type.

use async_graphql::{Context, Object, ID};
use chrono::{DateTime, Utc};
use store::post;

use super::user::{self, User};
use crate::error::ApiResult;
use crate::ids;

pub struct Post(pub post::Model);

/// A post: a short text by one user, shown in their followers' feeds.
// `serial`: only `author` can wait (see connection.rs; a second field
// that waits means dropping it).
#[Object(serial)]
impl Post {
    /// The post's global ID: opaque; use it with `post(id:)`, `node(id:)` and `deletePost`.
    pub(crate) async fn id(&self) -> ID {
        ids::post_id(self.0.id)
    }

    /// 1-500 characters, trimmed.
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// When the post was published.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The user who wrote the post.
    async fn author(&self, ctx: &Context<'_>) -> ApiResult<User> {
        user::load(ctx, self.0.user_id).await
    }
}
