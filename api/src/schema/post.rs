//! The `Post` type.

use async_graphql::{Context, Object, Result, ID};
use chrono::{DateTime, Utc};
use entity::post;

use super::user::{self, User};
use crate::ids::{encode_id, Kind};

pub struct Post(pub post::Model);

#[Object]
impl Post {
    pub(crate) async fn id(&self) -> ID {
        encode_id(Kind::Post, self.0.id)
    }

    /// 1-500 characters, trimmed.
    async fn body(&self) -> &str {
        &self.0.body
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn author(&self, ctx: &Context<'_>) -> Result<User> {
        user::load(ctx, self.0.user_id).await
    }
}
