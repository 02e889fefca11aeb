//! Typed row ids. A `UserId` and a `PostId` are both `BIGINT` in the
//! database but different types here, so a post's id cannot be passed where
//! a user's is meant: the compiler refuses it in every layer above.

use sea_orm::DeriveValueType;

/// The id of a row of `users`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, DeriveValueType)]
pub struct UserId(pub i64);

/// The id of a row of `posts`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, DeriveValueType)]
pub struct PostId(pub i64);
