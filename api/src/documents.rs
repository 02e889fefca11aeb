//! Parsed documents, cached by the SHA-256 of their text. The same key is
//! the hash of Apollo's automatic persisted queries (APQ), so one cache
//! serves both:
//!
//! - a client that polls with the same document skips parsing it again;
//! - a client may send `extensions.persistedQuery.sha256Hash` alone (over
//!   GET or POST). If the hash is known, its document runs; if not, the
//!   answer is `PERSISTED_QUERY_NOT_FOUND`, and the client sends the hash
//!   with the text once, which registers it.
//!
//! The cache is bounded by weight (about the bytes a parsed document
//! holds), not by count, so that large documents cannot grow it past its
//! budget; [`quick_cache`]'s S3-FIFO keeps documents that are used again
//! over ones seen once, which a flood of one-off documents cannot evict.
//! Only documents that parsed and passed the request budget are kept.

use std::sync::Arc;

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::ServerError;
use quick_cache::sync::Cache;
use quick_cache::Weighter;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// A document's SHA-256.
pub type Hash = [u8; 32];

/// A parsed document and the text it was parsed from.
pub struct Parsed {
    pub query: String,
    pub doc: ExecutableDocument,
}

#[derive(Clone)]
struct ByTextSize;

impl Weighter<Hash, Arc<Parsed>> for ByTextSize {
    /// A parsed document holds its positions, names and values in nodes
    /// several times the size of its text: about 8 bytes per byte of text
    /// (measured on the feed and profile queries), plus the entry itself.
    fn weight(&self, _key: &Hash, value: &Arc<Parsed>) -> u64 {
        value.query.len() as u64 * 8 + 256
    }
}

pub struct Documents {
    cache: Cache<Hash, Arc<Parsed>, ByTextSize>,
}

impl Documents {
    /// A cache of about `bytes` bytes.
    pub fn new(bytes: u64) -> Self {
        let items = (bytes / 4096).max(16) as usize;
        Documents { cache: Cache::with_weighter(items, bytes.max(4096), ByTextSize) }
    }

    /// Fills in the request's document: its text from the APQ cache when
    /// only a hash came, and its parsed form from the cache when known.
    /// Returns the key under which to [`keep`](Self::keep) it once it has
    /// passed the budget (`None` when it came from the cache already).
    pub fn resolve(&self, req: &mut async_graphql::Request) -> Result<Option<Hash>, ApiError> {
        let persisted = persisted_hash(req)?;
        if req.query.is_empty() {
            let Some(hash) = persisted else {
                return Err(ApiError::BadRequest("the request has no `query`".into()));
            };
            let Some(parsed) = self.cache.get(&hash) else {
                return Err(ApiError::PersistedQueryNotFound);
            };
            req.query = parsed.query.clone();
            req.set_parsed_query(parsed.doc.clone());
            return Ok(None);
        }
        let hash: Hash = Sha256::digest(req.query.as_bytes()).into();
        if persisted.is_some_and(|sent| sent != hash) {
            return Err(ApiError::BadRequest("the persisted query's sha256Hash does not match its query".into()));
        }
        match self.cache.get(&hash) {
            Some(parsed) => {
                req.set_parsed_query(parsed.doc.clone());
                Ok(None)
            }
            None => Ok(Some(hash)),
        }
    }

    /// Keeps a request's parsed document under `hash` (from `resolve`).
    pub fn keep(&self, hash: Hash, req: &mut async_graphql::Request) -> Result<(), ServerError> {
        let doc = req.parsed_query()?.clone();
        self.cache.insert(hash, Arc::new(Parsed { query: req.query.clone(), doc }));
        Ok(())
    }
}

/// `extensions.persistedQuery` of Apollo's protocol: `{ version: 1,
/// sha256Hash: "<64 hex digits>" }`, or `None` when absent.
fn persisted_hash(req: &async_graphql::Request) -> Result<Option<Hash>, ApiError> {
    use async_graphql::Value;
    let Some(ext) = req.extensions.get("persistedQuery") else { return Ok(None) };
    let bad = |why: &str| Err(ApiError::BadRequest(format!("extensions.persistedQuery: {why}")));
    let Value::Object(ext) = ext else { return bad("must be an object") };
    match ext.get("version") {
        Some(Value::Number(n)) if n.as_u64() == Some(1) => {}
        _ => return bad("only version 1 is supported"),
    }
    let Some(Value::String(hex)) = ext.get("sha256Hash") else { return bad("sha256Hash must be a string") };
    let mut hash = [0u8; 32];
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return bad("sha256Hash must be 64 hexadecimal digits");
    }
    for (i, byte) in hash.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("two hexadecimal digits");
    }
    Ok(Some(hash))
}
