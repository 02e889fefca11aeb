//! The `Post` type.

use async_graphql::{Context, Object, ID};
use chrono::{DateTime, Utc};
use store::post;

use super::user::{self, User};
use crate::error::ApiResult;
use crate::ids;

pub struct Post(pub post::Model);

#[Object]
impl Post {
    pub(crate) async fn id(&self) -> ID {
        ids::post_id(self.0.id)
    }

    /// 1-500 characters, trimmed.
    async fn body(&self) -> &str {
        &self.0.body
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn author(&self, ctx: &Context<'_>) -> ApiResult<User> {
        user::load(ctx, self.0.user_id).await
    }
}
