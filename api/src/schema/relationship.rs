//! The types of relationships between accounts (contract-relationships):
//! who may follow, the viewer's relationship with an account, list filters
//! and orders, and the payload every relationship mutation answers with.

use async_graphql::{Enum, InputObject, SimpleObject};
use chrono::{DateTime, SubsecRound, Utc};
use store::follows::Filter;
use store::relationships;
use store::UserId;

use super::user::User;
use crate::error::{ApiError, ApiResult};

/// Who may follow an account.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[graphql(remote = "store::FollowPolicy")]
pub enum FollowPolicy {
    /// Anyone may follow at once.
    Open,
    /// A follow becomes a pending request that the account approves or rejects.
    Approval,
    /// Nobody new may follow (FORBIDDEN); existing follows stay.
    Closed,
}

/// What a follow call left in place.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FollowStatus {
    /// The viewer follows the account.
    Following,
    /// The viewer asked to follow and awaits approval.
    Requested,
    /// Neither.
    NotFollowing,
}

impl FollowStatus {
    pub fn of(rel: &relationships::Relationship) -> Self {
        match rel {
            r if r.following => FollowStatus::Following,
            r if r.requested => FollowStatus::Requested,
            _ => FollowStatus::NotFollowing,
        }
    }
}

/// The order of a list by the date of its follows.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum OrderDirection {
    /// Oldest first.
    Asc,
    /// Newest first (the default).
    #[default]
    Desc,
}

/// The viewer's relationship with one account (Mastodon's Relationship).
#[derive(SimpleObject, Clone, Copy)]
pub struct Relationship {
    /// The viewer follows the account.
    following: bool,
    /// The account follows the viewer.
    followed_by: bool,
    /// The viewer asked to follow and awaits approval.
    requested: bool,
    /// The account asked to follow the viewer and awaits approval.
    requested_by: bool,
    /// The viewer blocks the account.
    blocking: bool,
    /// The account blocks the viewer.
    blocked_by: bool,
    /// The viewer follows the account but keeps its posts out of their feed.
    hidden_from_feed: bool,
    /// When the viewer's follow of the account began; null when not following.
    followed_at: Option<DateTime<Utc>>,
}

impl From<relationships::Relationship> for Relationship {
    fn from(r: relationships::Relationship) -> Self {
        Relationship {
            following: r.following,
            followed_by: r.followed_by,
            requested: r.requested,
            requested_by: r.requested_by,
            blocking: r.blocking,
            blocked_by: r.blocked_by,
            hidden_from_feed: r.hidden_from_feed,
            followed_at: r.followed_at,
        }
    }
}

/// Which entries of a followers or following list to keep; every field given must hold.
#[derive(InputObject, Clone, Default)]
pub struct FollowFilter {
    /// Case-insensitive prefix of the other user's username.
    username_prefix: Option<String>,
    /// Only follows that began strictly after this time.
    followed_after: Option<DateTime<Utc>>,
    /// Only follows that began strictly before this time.
    followed_before: Option<DateTime<Utc>>,
    /// Only users who also follow the list's owner back (mutuals).
    mutual: Option<bool>,
    /// true: only users the viewer follows; false: only users the viewer does not follow.
    followed_by_viewer: Option<bool>,
}

impl FollowFilter {
    /// The filter of `knownFollowers`.
    pub fn followed_by_viewer() -> Self {
        FollowFilter { followed_by_viewer: Some(true), ..Default::default() }
    }
}

/// A list's order and filter, checked: what the store reads, and the scope
/// its cursors carry.
pub struct ListQuery {
    pub filter: Filter,
    pub ascending: bool,
    /// `followedByViewer: true` asked while signed out: nothing can match.
    pub nothing: bool,
    pub scope: u64,
}

impl ListQuery {
    pub fn new(filter: Option<FollowFilter>, order: Option<OrderDirection>, viewer: Option<UserId>) -> ApiResult<Self> {
        let mut f = filter.unwrap_or_default();
        // Microseconds, what the database keeps and the cursor's scope says.
        for at in [&mut f.followed_after, &mut f.followed_before].into_iter().flatten() {
            if !store::page::in_range(at) {
                return Err(ApiError::bad_input("`followedAfter` and `followedBefore` take years 1 to 9999"));
            }
            *at = at.trunc_subsecs(6);
        }
        let ascending = order.unwrap_or_default() == OrderDirection::Asc;
        let prefix = match f.username_prefix.as_deref().map(str::trim) {
            Some(p) if p.chars().count() > 30 => {
                return Err(ApiError::bad_input("`usernamePrefix` is at most 30 characters"))
            }
            Some("") | None => None,
            // No username has any other character: nothing could match.
            Some(p) if !p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                return Err(ApiError::bad_input("`usernamePrefix` takes letters, digits and underscore"))
            }
            Some(p) => Some(p.to_lowercase()),
        };
        // What the cursors are bound to: the order and every filter value
        // as given (an empty description is the default list).
        let mut description = String::new();
        if ascending {
            description.push_str("order=ASC;");
        }
        let parts = [
            prefix.as_ref().map(|p| format!("prefix={p:?};")),
            f.followed_after.map(|t| format!("after={};", t.timestamp_micros())),
            f.followed_before.map(|t| format!("before={};", t.timestamp_micros())),
            f.mutual.map(|m| format!("mutual={m};")),
            f.followed_by_viewer.map(|v| format!("byViewer={v};")),
        ];
        description.extend(parts.into_iter().flatten());
        let (followed_by, nothing) = match (f.followed_by_viewer, viewer) {
            (Some(wanted), Some(viewer)) => (Some((viewer, wanted)), false),
            // Signed out, the viewer follows nobody.
            (Some(wanted), None) => (None, wanted),
            (None, _) => (None, false),
        };
        let filter = Filter {
            username_prefix: prefix,
            followed_after: f.followed_after,
            followed_before: f.followed_before,
            mutual: f.mutual,
            followed_by,
        };
        Ok(ListQuery { filter, ascending, nothing, scope: store::page::scope_of(&description) })
    }
}

/// For every relationship mutation: user is the other account, viewer the signed-in one.
#[derive(SimpleObject)]
pub struct FollowPayload {
    /// The other account, with fresh counts and relationship fields.
    pub user: User,
    /// The signed-in viewer, with fresh counts.
    pub viewer: User,
    /// The viewer's follow of user after the call.
    pub status: FollowStatus,
    /// The viewer's relationship with user after the call.
    pub relationship: Relationship,
}

/// What `updateFollow` changes on the viewer's follow of an account.
#[derive(InputObject, Default)]
pub struct UpdateFollowInput {
    /// Keep following, but keep this account's posts out of your feed (true), or show them again (false).
    pub hidden_from_feed: Option<bool>,
}
