//! Keyset pages. Every list is ordered newest first by (timestamp, id); a
//! [`Cursor`] is the key of one row, and a [`PageRequest`] asks for the rows
//! on one side of a cursor. `after` moves towards older rows, `before`
//! towards newer ones. A page is read with one extra row to learn whether
//! more lie beyond it, unless no one asks ([`PageRequest::peek`]). (The
//! GraphQL arguments that make a `PageRequest`, `first`/`after`/`last`/
//! `before`, are checked in api/src/pagination.rs.)

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};

/// A position in a list ordered by (timestamp, id): the keyset key of a row.
/// Microsecond precision, the precision PostgreSQL stores. Encoded for
/// clients as an opaque string, `base64url("k:<micros>:<id>")`, or
/// `base64url("k:<micros>:<id>:<scope>")` for a list read under an order or
/// filter: `scope` names them (see [`scope_of`]), so a cursor is refused by
/// a list read under another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub micros: i64,
    pub id: i64,
    /// 0 for a list in its default order, unfiltered.
    pub scope: u64,
}

/// A scope for cursors: 0 for `""` (the default order, no filter), else a
/// non-zero 64-bit digest of the description.
pub fn scope_of(description: &str) -> u64 {
    use sha2::{Digest, Sha256};
    if description.is_empty() {
        return 0;
    }
    let digest = Sha256::digest(description.as_bytes());
    u64::from_be_bytes(digest[..8].try_into().unwrap_or_default()).max(1)
}

/// Whether a time can be bound on every backend (years 1 to 9999).
pub fn in_range(at: &DateTime<Utc>) -> bool {
    use chrono::Datelike;
    (1..=9999).contains(&at.year())
}

impl Cursor {
    pub fn new(at: DateTime<Utc>, id: i64) -> Self {
        Cursor { micros: at.timestamp_micros(), id, scope: 0 }
    }

    pub fn scoped(self, scope: u64) -> Self {
        Cursor { scope, ..self }
    }

    pub fn at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.micros).unwrap_or_default()
    }

    pub fn encode(&self) -> String {
        match self.scope {
            0 => URL_SAFE_NO_PAD.encode(format!("k:{}:{}", self.micros, self.id)),
            scope => URL_SAFE_NO_PAD.encode(format!("k:{}:{}:{scope:x}", self.micros, self.id)),
        }
    }

    /// The cursor `encode` wrote; `None` for anything else.
    pub fn decode(cursor: &str) -> Option<Self> {
        let raw = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        let text = String::from_utf8(raw).ok()?;
        let mut parts = text.split(':');
        let (Some("k"), Some(micros), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
            return None;
        };
        let scope = match (parts.next(), parts.next()) {
            (None, None) => 0,
            (Some(scope), None) => u64::from_str_radix(scope, 16).ok()?,
            _ => return None,
        };
        let micros: i64 = micros.parse().ok()?;
        let id: i64 = id.parse().ok()?;
        // Out-of-range timestamps would not survive the round trip, nor
        // bind on PostgreSQL: years 1 to 9999 only.
        if !in_range(&DateTime::from_timestamp_micros(micros)?) {
            return None;
        }
        let decoded = Cursor { micros, id, scope };
        // One spelling per cursor (no `+7`, `07` or padding).
        (decoded.encode() == cursor).then_some(decoded)
    }
}

/// One page of a list to read: how many rows, between which cursors, and
/// from which end. A list is newest first unless `ascending`, and "after" a
/// cursor means further along the list in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PageRequest {
    pub limit: u64,
    /// The list runs oldest first.
    pub ascending: bool,
    /// Only rows older than this (strictly after it in list order).
    pub after: Option<Cursor>,
    /// Only rows newer than this (strictly before it in list order).
    pub before: Option<Cursor>,
    /// `last`: take the rows nearest `before` (the end of the range), not the
    /// newest ones.
    pub from_end: bool,
    /// Read one row past the page to learn whether more lie beyond it
    /// (`pageInfo`'s hasNextPage, or hasPreviousPage for `last`). True
    /// unless the reader says no one will ask: without it the page claims
    /// nothing lies beyond.
    pub peek: bool,
}

impl PageRequest {
    /// The newest `limit` rows (of those after `after`, if set).
    pub const fn first(limit: u64) -> Self {
        PageRequest { limit, ascending: false, after: None, before: None, from_end: false, peek: true }
    }

    /// The oldest `limit` rows (of those before `before`, if set).
    pub const fn last(limit: u64) -> Self {
        PageRequest { limit, ascending: false, after: None, before: None, from_end: true, peek: true }
    }

    /// The same page of the list in the opposite order (oldest first).
    pub fn ascending(self, ascending: bool) -> Self {
        PageRequest { ascending, ..self }
    }

    /// Whether the query reads the (timestamp, id) key in descending order:
    /// a newest-first list read from its start, or an oldest-first list
    /// read from its end.
    pub fn reads_descending(&self) -> bool {
        self.ascending == self.from_end
    }

    pub fn after(self, cursor: Option<Cursor>) -> Self {
        PageRequest { after: cursor, ..self }
    }

    pub fn before(self, cursor: Option<Cursor>) -> Self {
        PageRequest { before: cursor, ..self }
    }

    /// Whether to read one row past the page (see [`PageRequest::peek`]).
    pub const fn peek(self, peek: bool) -> Self {
        PageRequest { peek, ..self }
    }

    /// The rows a query reads for this page: one more when it peeks.
    pub fn rows(&self) -> i64 {
        self.limit as i64 + i64::from(self.peek)
    }

    /// Trims the [`PageRequest::rows`] rows a query returned (in query
    /// order: newest first, or oldest first when `from_end`) into a page in
    /// list order.
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
    pub fn empty() -> Self {
        Page { items: Vec::new(), has_previous: false, has_next: false }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            has_previous: self.has_previous,
            has_next: self.has_next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = Cursor { micros: 1_700_000_000_123_456, id: 7, scope: 0 };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
        let scoped = c.scoped(scope_of("order=ASC"));
        assert_eq!(Cursor::decode(&scoped.encode()), Some(scoped));
        assert_ne!(scoped.encode(), c.encode());
        for bad in [
            "",
            "abc",
            &URL_SAFE_NO_PAD.encode("k:1"),
            &URL_SAFE_NO_PAD.encode("k:1:2:3:4"),
            &URL_SAFE_NO_PAD.encode("k:1:2:03"),
            &URL_SAFE_NO_PAD.encode("k:1:2:"),
            &URL_SAFE_NO_PAD.encode("k:+1:2"),
            &URL_SAFE_NO_PAD.encode("k:1:02"),
            &format!("{}=", c.encode()),
        ] {
            assert!(Cursor::decode(bad).is_none(), "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn decoding_anything_is_total_and_canonical(raw in "k?:?[-+0-9]{0,25}:?[-+0-9]{0,20}", text in "\\PC{0,40}") {
            let encoded = URL_SAFE_NO_PAD.encode(&raw);
            for candidate in [encoded.as_str(), text.as_str()] {
                if let Some(c) = Cursor::decode(candidate) {
                    proptest::prop_assert_eq!(c.encode(), candidate);
                }
            }
        }

        #[test]
        fn every_cursor_round_trips(micros in -8_000_000_000_000_000i64..8_000_000_000_000_000, id in proptest::num::i64::ANY, scope in proptest::num::u64::ANY) {
            let c = Cursor { micros, id, scope };
            proptest::prop_assert_eq!(Cursor::decode(&c.encode()), Some(c));
        }
    }
}
