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
//! What is kept, and why:
//! - only documents whose operations are all queries, that ran without a
//!   request error (parsed, passed the budget and the engine's
//!   validation), and of at most [`MAX_TEXT`] bytes. Mutations are never
//!   kept: their text may hold a password, and a hash lookup would tell an
//!   attacker whether a guessed text was sent (a guessing oracle that no
//!   sign-in limit sees). Apollo's clients send a mutation's text again
//!   when its hash is not found;
//! - a hash alone finds only documents registered by Apollo's protocol
//!   (sent with `extensions.persistedQuery`), not every query once run;
//! - the cache is bounded by weight (an estimate of the bytes a parsed
//!   document holds), not by count; [`quick_cache`]'s S3-FIFO prefers
//!   documents used again over ones seen once.

use std::sync::Arc;

use async_graphql::parser::types::{ExecutableDocument, OperationType};
use quick_cache::sync::Cache;
use quick_cache::Weighter;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// A document's SHA-256.
pub type Hash = [u8; 32];

/// The longest document text kept.
pub const MAX_TEXT: usize = 16 * 1024;

/// A parsed document and the text it was parsed from.
pub struct Parsed {
    pub query: String,
    pub doc: Arc<ExecutableDocument>,
    /// Registered by Apollo's protocol: a hash alone may find it.
    pub persisted: bool,
}

#[derive(Clone)]
struct ByTextSize;

impl Weighter<Hash, Arc<Parsed>> for ByTextSize {
    /// A parsed document holds its positions, names and values in nodes
    /// much larger than its text: a selection node is about 200 bytes, and
    /// `{a a a}` spends 2 bytes of text per field. 32 bytes per byte of
    /// text covers that worst case; the entry itself adds 512.
    fn weight(&self, _key: &Hash, value: &Arc<Parsed>) -> u64 {
        value.query.len() as u64 * 32 + 512
    }
}

/// What [`Documents::resolve`] found.
pub struct Resolved {
    /// The key under which to [`keep`](Documents::keep) the document once
    /// it has run (`None` when the cache holds it already).
    pub keep: Option<Hash>,
    /// The cached document, when it came from the cache.
    pub cached: Option<Arc<ExecutableDocument>>,
}

pub struct Documents {
    /// `None`: caching is off (`--document-cache-bytes 0`); persisted
    /// queries are then never found.
    cache: Option<Cache<Hash, Arc<Parsed>, ByTextSize>>,
}

impl Documents {
    /// A cache of about `bytes` bytes (0: none).
    pub fn new(bytes: u64) -> Self {
        let items = (bytes / 4096).max(16) as usize;
        Documents { cache: (bytes > 0).then(|| Cache::with_weighter(items, bytes, ByTextSize)) }
    }

    fn get(&self, hash: &Hash) -> Option<Arc<Parsed>> {
        self.cache.as_ref()?.get(hash)
    }

    /// Fills in the request's document: its text from the APQ cache when
    /// only a hash came, and its parsed form from the cache when known.
    pub fn resolve(&self, req: &mut async_graphql::Request) -> Result<Resolved, ApiError> {
        let persisted = persisted_hash(req)?;
        if req.query.is_empty() {
            let Some(hash) = persisted else {
                return Err(ApiError::BadRequest("the request has no `query`".into()));
            };
            let Some(parsed) = self.get(&hash).filter(|p| p.persisted) else {
                return Err(ApiError::PersistedQueryNotFound);
            };
            req.query = parsed.query.clone();
            req.set_parsed_query((*parsed.doc).clone());
            return Ok(Resolved { keep: None, cached: Some(parsed.doc.clone()) });
        }
        let hash: Hash = Sha256::digest(req.query.as_bytes()).into();
        if persisted.is_some_and(|sent| sent != hash) {
            return Err(ApiError::BadRequest("the persisted query's sha256Hash does not match its query".into()));
        }
        match self.get(&hash) {
            Some(parsed) => {
                req.set_parsed_query((*parsed.doc).clone());
                // Registered now by Apollo's protocol: keep it again, as such.
                let keep = (persisted.is_some() && !parsed.persisted).then_some(hash);
                Ok(Resolved { keep, cached: Some(parsed.doc.clone()) })
            }
            None => Ok(Resolved { keep: Some(hash), cached: None }),
        }
    }

    /// What to keep of a request about to run under `hash` (from
    /// `resolve`), if it is worth keeping: its document `doc`, copied
    /// before the engine consumed the request's own.
    pub fn to_keep(
        &self,
        hash: Hash,
        req: &async_graphql::Request,
        doc: &Arc<ExecutableDocument>,
    ) -> Option<(Hash, Parsed)> {
        self.cache.as_ref()?;
        let persisted = req.extensions.contains_key("persistedQuery");
        if req.query.len() > MAX_TEXT {
            return None;
        }
        if doc.operations.iter().any(|(_, op)| op.node.ty != OperationType::Query) {
            return None;
        }
        Some((hash, Parsed { query: req.query.clone(), doc: doc.clone(), persisted }))
    }

    /// Keeps a document that ran without a request error.
    pub fn keep(&self, (hash, parsed): (Hash, Parsed)) {
        if let Some(cache) = &self.cache {
            cache.insert(hash, Arc::new(parsed));
        }
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
