//! The Relay `Node` interface: anything fetchable by its global ID.

use async_graphql::{Interface, ID};

use super::{post::Post, user::User};

/// An object with a globally unique, opaque ID.
#[derive(Interface)]
#[graphql(field(
    name = "id",
    ty = "ID",
    desc = "The object's global ID: opaque, stable; fetch it again with `node(id:)`."
))]
pub enum Node {
    User(User),
    Post(Post),
}
