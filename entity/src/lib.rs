//! SeaORM models of Followgraph's tables, and their relations. Nothing here
//! knows about GraphQL: the API crate wraps these rows in its own types.
//!
//! - `user`: an account, with its follower/following/post counters kept
//!   up to date by the writes that change them (so counts are O(1) reads).
//! - `follow`: one "follower follows followed" edge, keyed by the pair, with
//!   the time it began and the follower's setting `hidden_from_feed`.
//! - `follow_request`: a pending request to follow an APPROVAL account.
//! - `block`: one account blocking another.
//! - `post`: a user's post.
//! - `session`: a bearer token, stored only as its SHA-256.
//! - `ids`: `UserId` and `PostId`, the typed ids every layer above uses.

pub use ids::{PostId, UserId};
pub use user::FollowPolicy;

pub mod block;
pub mod follow;
pub mod follow_request;
pub mod ids;
pub mod post;
pub mod session;
pub mod user;
