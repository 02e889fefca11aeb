//! The GraphQL schema: one file per type, resolvers kept thin. A resolver
//! reads its arguments, checks permission, and calls a loader or a `store::`
//! function; it never builds SQL. Resolvers return [`ApiResult`], so every
//! error they raise carries its `extensions.code`.
//!
//! A new field: a method on its type's `#[Object]` impl here (reaching
//! another entity through a loader in `loaders.rs`, never a query per
//! parent), then `UPDATE_SCHEMA=1 cargo test schema` to rewrite
//! `schema.graphql`, and a test in `tests/api/` (with a statement count in
//! `batching.rs` when the field reads the database).

mod connection;
mod mutation;
mod node;
mod post;
mod query;
mod relationship;
mod user;

use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Context, EmptySubscription, Schema, SchemaBuilder, ValidationMode};
use store::feed::FeedPlan;
use store::timeline::Delivery;
use store::DatabaseConnection;

use crate::auth::{GuardLimits, SignInGuard, Viewer};
use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::loaders::Loaders;
use crate::order::Serially;
use crate::timelines::{Timelines, Upkeep};

pub use mutation::Mutation;
pub use query::Query;

/// The mutation root runs [`Mutation`]'s fields one after another, and none
/// after one whose failure has nulled `data` ([`crate::order::Serially`]).
pub type AppSchema = Schema<Query, Serially<Mutation>, EmptySubscription>;

/// The schema twice over the same shared state: `strict` validates every
/// document with all of the engine's rules (two walks of the document);
/// `fast` runs a document the server has seen pass them before, in the
/// engine's fast mode (its limits still counted). A known document's
/// validity cannot change, but for its variables' values, which
/// `variables::check_values` checks instead (what `ArgumentsOfCorrectType`
/// checks of them). The strict walks were 19% of the server's instructions
/// on W1 (callgrind; docs/PERFORMANCE.md, "Known documents skip
/// validation").
pub struct Schemas {
    pub strict: AppSchema,
    pub fast: AppSchema,
}

/// The schemas with their limits and shared state. Per-request state (the
/// viewer, the loaders) is attached to each request by the HTTP layer.
pub fn build(db: DatabaseConnection, config: &Config) -> Schemas {
    let guard = Arc::new(SignInGuard::new(GuardLimits {
        pair_max_failures: config.signin_max_failures,
        address_max_failures: config.address_max_failures,
        address_max_sign_ups: config.address_max_sign_ups,
        window: Duration::from_secs(config.signin_window_secs),
        sign_up_window: Duration::from_secs(config.sign_up_window_secs),
    }));
    let plan = FeedPlan::new(config.feed_broad_following, config.feed_window, config.feed_timelines);
    let timelines = Timelines::start(
        db.clone(),
        Delivery {
            sync_limit: config.feed_sync_fanout,
            cap: config.feed_timeline_cap.max(1),
            batch: config.feed_delivery_batch.max(1),
        },
        Upkeep {
            maintain: config.timeline_upkeep,
            trim_every: config.timeline_trim_every,
            idle: Duration::from_secs(config.feed_timeline_idle_secs),
        },
    );
    let schema = |mode| {
        builder()
            .data(db.clone())
            .data(guard.clone())
            .data(plan)
            .data(timelines.clone())
            .limit_depth(config.max_query_depth)
            .limit_complexity(config.max_query_complexity)
            .validation_mode(mode)
            .finish()
    };
    Schemas { strict: schema(ValidationMode::Strict), fast: schema(ValidationMode::Fast) }
}

/// The SDL committed as `schema.graphql`.
pub fn sdl() -> String {
    builder().finish().sdl()
}

/// The types, and the descriptions that no derive can give: the `DateTime`
/// scalar is async-graphql's, and its own says nothing a client can use.
fn builder() -> SchemaBuilder<Query, Serially<Mutation>, EmptySubscription> {
    Schema::build(Query, Serially(Mutation), EmptySubscription)
        .override_output_type_description::<chrono::DateTime<chrono::Utc>>(
            "A point in time as an RFC 3339 string. Answers are UTC with up to microseconds \
         (`2024-05-01T12:34:56.789012+00:00`); arguments take any offset.",
        )
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

fn viewer<'a>(ctx: &Context<'a>) -> ApiResult<&'a Viewer> {
    data::<Viewer>(ctx)
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

#[cfg(test)]
mod tests {
    /// Resolvers return `ApiResult`: with any other `Result`, `?` on an error
    /// that implements Display compiles through async-graphql's blanket
    /// `From` and reaches the client without a code (and with whatever its
    /// message says). Clippy's `disallowed_types` cannot say this: it also
    /// fires inside async-graphql's own macro expansion.
    #[test]
    fn resolvers_return_api_result() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/schema");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (n, line) in code.lines().enumerate() {
                let bad = line.match_indices("Result<").any(|(i, _)| !line[..i].ends_with("Api"))
                    || line.contains("async_graphql::Result");
                assert!(!bad, "{}:{}: return ApiResult, not another Result: {line}", path.display(), n + 1);
            }
        }
    }
}
