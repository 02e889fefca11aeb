//! Relay connection arguments (`first`, `after`, `last`, `before`): their
//! one set of rules, and the store's [`PageRequest`] they become. Every
//! connection field takes the four arguments, turns them into a page with
//! [`connection_page`], and declares its cost with [`cost`]:
//!
//! ```text
//! #[graphql(complexity = "crate::pagination::cost(first, last, child_complexity)")]
//! async fn things(&self, ctx: &Context<'_>, first: Option<i32>, after: Option<String>,
//!                 last: Option<i32>, before: Option<String>) -> ApiResult<ThingConnection> {
//!     let page = connection_page(ctx, first, after.as_deref(), last, before.as_deref())?;
//! ```
//!
//! ([`connection_page`] is [`page_request`] read one row past its end only
//! when the field's `pageInfo` asks: [`peeked`].)

use async_graphql::{Context, Lookahead};
use store::{Cursor, PageRequest};

use crate::error::{ApiError, ApiResult};

/// Items in a page when neither `first` nor `last` is given.
pub const DEFAULT_PAGE: i32 = 20;
/// The most a page may ask for; more is BAD_USER_INPUT.
pub const MAX_PAGE: i32 = 100;

/// The page the arguments ask for, or BAD_USER_INPUT.
pub fn page_request(
    first: Option<i32>,
    after: Option<&str>,
    last: Option<i32>,
    before: Option<&str>,
) -> ApiResult<PageRequest> {
    scoped_page_request(first, after, last, before, 0)
}

/// [`page_request`] for a list read under an order or filter that `scope`
/// names ([`store::page::scope_of`]): its cursors must carry that scope.
pub fn scoped_page_request(
    first: Option<i32>,
    after: Option<&str>,
    last: Option<i32>,
    before: Option<&str>,
    scope: u64,
) -> ApiResult<PageRequest> {
    let count = match (first, last) {
        (Some(_), Some(_)) => return Err(ApiError::bad_input("give `first` or `last`, not both")),
        (Some(n), None) | (None, Some(n)) => n,
        (None, None) => DEFAULT_PAGE,
    };
    if count < 0 {
        return Err(ApiError::bad_input("`first` and `last` must not be negative"));
    }
    if count > MAX_PAGE {
        return Err(ApiError::bad_input(format!("`first` and `last` accept at most {MAX_PAGE}")));
    }
    let page = if last.is_some() { PageRequest::last(count as u64) } else { PageRequest::first(count as u64) };
    let cursor = |c: Option<&str>| -> ApiResult<Option<Cursor>> {
        let Some(c) = c.map(decode_cursor).transpose()? else {
            return Ok(None);
        };
        if c.scope != scope {
            return Err(ApiError::bad_input(
                "this cursor was issued under another order or filter: page with the order and filter it came from",
            ));
        }
        Ok(Some(c))
    };
    Ok(page.after(cursor(after)?).before(cursor(before)?))
}

/// A connection field's complexity: its children count once per item it
/// may return (what `first`/`last` ask for, or the default), plus one.
/// Saturating, so that nesting cannot wrap it round to a small number.
pub fn cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let items = first.or(last).unwrap_or(DEFAULT_PAGE).clamp(0, MAX_PAGE) as usize;
    items.saturating_mul(child_complexity).saturating_add(1)
}

/// What a list that may read its whole index range costs on top of its
/// page: a filtered followers/following list and `knownFollowers` (a sparse
/// filter walks the owner's list to fill a page; a filtered `totalCount`
/// counts it). 40 of them fit the default budget of 20,000.
pub const SCAN_COST: usize = 500;

/// [`cost`], plus [`SCAN_COST`] when the list `scans`.
pub fn scan_cost(first: Option<i32>, last: Option<i32>, scans: bool, child_complexity: usize) -> usize {
    cost(first, last, child_complexity).saturating_add(if scans { SCAN_COST } else { 0 })
}

/// `page` as a connection's selection (`look`) needs it read: one row past
/// its end ([`PageRequest::peek`]) only when `pageInfo` asks the flag that
/// row answers, `hasNextPage` for a page read from its start (`first`),
/// `hasPreviousPage` for one read from its end (`last`). The other flag
/// and the cursors come from the arguments and the rows read. W2's
/// `posts(first: 3) { nodes { body } }` reads 3 posts a user, not 4, and
/// so does `pageInfo { endCursor }`; a feed page without `pageInfo`
/// reads 20 posts, not 21.
pub fn peeked(page: PageRequest, look: &Lookahead<'_>) -> PageRequest {
    let flag = if page.from_end { "hasPreviousPage" } else { "hasNextPage" };
    page.peek(look.field("pageInfo").field(flag).exists())
}

/// [`page_request`] for a connection field, [`peeked`] by the field's own
/// selection: what a connection resolver reads.
pub fn connection_page(
    ctx: &Context<'_>,
    first: Option<i32>,
    after: Option<&str>,
    last: Option<i32>,
    before: Option<&str>,
) -> ApiResult<PageRequest> {
    Ok(peeked(page_request(first, after, last, before)?, &ctx.look_ahead()))
}

pub fn decode_cursor(cursor: &str) -> ApiResult<Cursor> {
    Cursor::decode(cursor)
        .ok_or_else(|| ApiError::bad_input(format!("`{}` is not a valid cursor", crate::error::quoted(cursor))))
}
