//! The GraphQL schema: one file per type, resolvers kept thin. A resolver
//! reads its arguments, checks permission, and calls a loader or a `db::`
//! function; it never builds SQL.

mod connection;
mod mutation;
mod node;
mod post;
mod query;
mod user;

use async_graphql::{Context, EmptySubscription, Schema};
use sea_orm::DatabaseConnection;

use crate::auth::{Auth, SignInLimiter};
use crate::config::Config;
use crate::db::posts::FeedPlan;
use crate::error::{ApiError, ApiResult};
use crate::loaders::Loaders;

pub use mutation::Mutation;
pub use query::Query;

pub type AppSchema = Schema<Query, Mutation, EmptySubscription>;

/// The schema with its limits and shared state. Per-request state (the
/// viewer, the loaders) is attached to each request by the HTTP layer.
pub fn build(db: DatabaseConnection, config: &Config) -> AppSchema {
    Schema::build(Query, Mutation, EmptySubscription)
        .data(db)
        .data(SignInLimiter::new(
            config.signin_max_failures,
            std::time::Duration::from_secs(config.signin_window_secs),
        ))
        .data(FeedPlan { broad_following: config.feed_broad_following, window: config.feed_window.max(1) })
        .limit_depth(config.max_query_depth)
        .limit_complexity(config.max_query_complexity)
        .finish()
}

/// The SDL committed as `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(Query, Mutation, EmptySubscription).finish().sdl()
}

/// Request or schema data a resolver needs. The HTTP layer always provides
/// it; a missing one is a server bug, reported as an internal error rather
/// than a panic.
fn data<'a, T: Send + Sync + 'static>(ctx: &Context<'a>) -> ApiResult<&'a T> {
    ctx.data::<T>().map_err(|e| ApiError::internal(e.message))
}

fn db<'a>(ctx: &Context<'a>) -> ApiResult<&'a DatabaseConnection> {
    data::<DatabaseConnection>(ctx)
}

fn loaders<'a>(ctx: &Context<'a>) -> ApiResult<&'a Loaders> {
    data::<Loaders>(ctx)
}

fn auth<'a>(ctx: &Context<'a>) -> ApiResult<&'a Auth> {
    data::<Auth>(ctx)
}

/// Whether the client selected any of `fields` under the current field.
fn selects(ctx: &Context<'_>, fields: &[&str]) -> bool {
    let look = ctx.look_ahead();
    fields.iter().any(|f| look.field(f).exists())
}

/// Counters are i64 in the database and Int (i32) in GraphQL.
fn to_int(n: i64) -> i32 {
    n.clamp(0, i32::MAX as i64) as i32
}
