//! Relay connection arguments, validated once, and the keyset page they ask
//! for. Lists are newest first; `after` moves towards older rows, `before`
//! towards newer ones. A page is read with one extra row to learn whether
//! more lie beyond it.

use crate::error::{ApiError, ApiResult};
use crate::ids::Cursor;

pub const DEFAULT_PAGE: i32 = 20;
pub const MAX_PAGE: i32 = 100;

/// What one connection field asks for, after validation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageRequest {
    pub limit: u64,
    /// Only rows older than this (strictly after it in list order).
    pub after: Option<Cursor>,
    /// Only rows newer than this (strictly before it in list order).
    pub before: Option<Cursor>,
    /// `last`: take the rows nearest `before` (the end of the range), not the
    /// newest ones.
    pub from_end: bool,
}

impl PageRequest {
    pub fn parse(
        first: Option<i32>,
        after: Option<&str>,
        last: Option<i32>,
        before: Option<&str>,
    ) -> ApiResult<Self> {
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
        Ok(PageRequest {
            limit: count as u64,
            after: after.map(Cursor::decode).transpose()?,
            before: before.map(Cursor::decode).transpose()?,
            from_end: last.is_some(),
        })
    }

    /// Trims the `limit + 1` rows a query returned (in query order: newest
    /// first, or oldest first when `from_end`) into a page in list order.
    pub fn into_page<T>(self, mut rows: Vec<T>) -> Page<T> {
        let more = rows.len() as u64 > self.limit;
        rows.truncate(self.limit as usize);
        if self.from_end {
            rows.reverse();
            Page { items: rows, has_previous: more, has_next: self.before.is_some() }
        } else {
            Page { items: rows, has_previous: self.after.is_some(), has_next: more }
        }
    }
}

/// One page of a list, in list order (newest first).
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_previous: bool,
    pub has_next: bool,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), has_previous: self.has_previous, has_next: self.has_next }
    }
}
