//! Opaque identifiers: Relay global IDs (`base64("User:42")`) and keyset
//! cursors (`base64("k:<micros>:<id>")`). Clients never parse them; the
//! server rejects anything malformed as BAD_USER_INPUT.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{DateTime, Utc};

use crate::error::ApiError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    User,
    Post,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Post => "Post",
        }
    }
}

pub fn encode_id(kind: Kind, id: i64) -> async_graphql::ID {
    async_graphql::ID(URL_SAFE_NO_PAD.encode(format!("{}:{id}", kind.name())))
}

/// Decodes any global ID into its kind and row id.
pub fn decode_any_id(id: &str) -> Result<(Kind, i64), ApiError> {
    let bad = || ApiError::bad_input(format!("`{id}` is not a valid ID"));
    let raw = URL_SAFE_NO_PAD.decode(id.trim_end_matches('=')).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let (kind, num) = text.split_once(':').ok_or_else(bad)?;
    let kind = match kind {
        "User" => Kind::User,
        "Post" => Kind::Post,
        _ => return Err(bad()),
    };
    let num: i64 = num.parse().map_err(|_| bad())?;
    if num <= 0 {
        return Err(bad());
    }
    Ok((kind, num))
}

/// Decodes a global ID that must be of `kind`.
pub fn decode_id(kind: Kind, id: &str) -> Result<i64, ApiError> {
    match decode_any_id(id)? {
        (k, n) if k == kind => Ok(n),
        _ => Err(ApiError::bad_input(format!("`{id}` is not a {} ID", kind.name()))),
    }
}

/// A position in a list ordered by (created_at, id): the keyset key of a row.
/// Microsecond precision, the precision PostgreSQL stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub micros: i64,
    pub id: i64,
}

impl Cursor {
    pub fn new(at: DateTime<Utc>, id: i64) -> Self {
        Cursor { micros: at.timestamp_micros(), id }
    }

    pub fn at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.micros).unwrap_or_default()
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("k:{}:{}", self.micros, self.id))
    }

    pub fn decode(cursor: &str) -> Result<Self, ApiError> {
        let bad = || ApiError::bad_input(format!("`{cursor}` is not a valid cursor"));
        let raw = URL_SAFE_NO_PAD.decode(cursor.trim_end_matches('=')).map_err(|_| bad())?;
        let text = String::from_utf8(raw).map_err(|_| bad())?;
        let mut parts = text.split(':');
        let (Some("k"), Some(micros), Some(id), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(bad());
        };
        let micros: i64 = micros.parse().map_err(|_| bad())?;
        let id: i64 = id.parse().map_err(|_| bad())?;
        // Out-of-range timestamps would not survive the round trip.
        DateTime::from_timestamp_micros(micros).ok_or_else(bad)?;
        Ok(Cursor { micros, id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_garbage() {
        let id = encode_id(Kind::Post, 42);
        assert_eq!(decode_id(Kind::Post, &id).unwrap(), 42);
        assert!(decode_id(Kind::User, &id).is_err());
        for bad in ["", "xyz", "VXNlcjo=", "VXNlcjphYmM", "!!!"] {
            assert!(decode_any_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = Cursor { micros: 1_700_000_000_123_456, id: 7 };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        for bad in ["", "abc", &URL_SAFE_NO_PAD.encode("k:1"), &URL_SAFE_NO_PAD.encode("k:1:2:3")] {
            assert!(Cursor::decode(bad).is_err(), "{bad}");
        }
    }
}
