//! Who is asking: the [`Viewer`] of a request, bearer tokens, password
//! hashing, and the sign-in limiter.
//!
//! - The viewer is found once per request, by the axum extractor below
//!   (one statement when a token is sent, none otherwise), and handed to
//!   the schema and to the loaders: nothing else reads the header.
//! - Passwords: Argon2id (the `argon2` crate's defaults, OWASP's minimum),
//!   hashed on the blocking pool so a sign-up never stalls the async workers.
//! - Tokens: 256 random bits, base64url. Only their SHA-256 is stored
//!   ([`TokenHash`]); a token is revoked by deleting its session row.
//! - Failed sign-ins are counted per login; past the limit the login is
//!   RATE_LIMITED for the rest of the window, even with the right password.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;
use store::sessions::TokenHash;
use store::{user, UserId};

use crate::error::{ApiError, ApiResult};
use crate::http::AppState;

/// The signed-in user of a request, if any: the one answer to "who is
/// asking", for resolvers and loaders alike.
#[derive(Clone, Debug, Default)]
pub struct Viewer(Option<Arc<SignedIn>>);

#[derive(Debug)]
pub struct SignedIn {
    /// The user's row as the session lookup read it.
    pub user: user::Model,
    /// The token this request came with (signOut revokes it).
    pub token: TokenHash,
}

impl Viewer {
    /// Nobody signed in.
    pub fn anonymous() -> Self {
        Viewer(None)
    }

    pub fn id(&self) -> Option<UserId> {
        self.0.as_ref().map(|s| s.user.id)
    }

    /// The signed-in user, or UNAUTHENTICATED.
    pub fn require(&self) -> ApiResult<&SignedIn> {
        self.0.as_deref().ok_or_else(ApiError::unauthenticated)
    }

    pub fn signed_in(&self) -> Option<&SignedIn> {
        self.0.as_deref()
    }
}

/// From `Authorization: Bearer <token>`: anonymous without the header; 401
/// when it is not a bearer token, or the token is unknown or revoked.
impl FromRequestParts<AppState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(header::AUTHORIZATION).map(|v| v.to_str().unwrap_or("\u{0}"));
        let Some(token) = bearer_token(header)? else {
            return Ok(Viewer::anonymous());
        };
        let token = TokenHash::of(token);
        match store::sessions::find_user(&state.db, &token).await? {
            Some(user) => Ok(Viewer(Some(Arc::new(SignedIn { user, token })))),
            None => Err(ApiError::Unauthenticated("the token is invalid or was revoked".into())),
        }
    }
}

/// The token from `Authorization: Bearer <token>`. `Ok(None)` when the
/// header is absent; an error when it is present but not a bearer token.
pub fn bearer_token(header: Option<&str>) -> ApiResult<Option<&str>> {
    let Some(value) = header else { return Ok(None) };
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::Unauthenticated("the Authorization header must be `Bearer <token>`".into()));
    }
    Ok(Some(token.trim()))
}

/// A fresh token and the hash to store for it.
pub fn new_token() -> (String, TokenHash) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = TokenHash::of(&token);
    (token, hash)
}

pub async fn hash_password(password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)
}

/// Verifies against `hash`, or against a dummy hash when there is no such
/// user, so that "no such login" and "wrong password" take the same time.
pub async fn verify_password(password: String, hash: Option<String>) -> ApiResult<bool> {
    tokio::task::spawn_blocking(move || {
        let hash = match hash {
            Some(hash) => hash,
            None => dummy_hash()?.to_owned(),
        };
        let parsed = PasswordHash::new(&hash).map_err(ApiError::internal)?;
        Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(ApiError::internal)?
}

/// A hash (same parameters as real ones) of a random password nobody knows.
fn dummy_hash() -> ApiResult<&'static str> {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash);
    }
    let (random, _) = new_token();
    let salt = SaltString::generate(&mut OsRng);
    let hash = Argon2::default().hash_password(random.as_bytes(), &salt).map_err(ApiError::internal)?.to_string();
    Ok(DUMMY.get_or_init(|| hash))
}

/// Counts failed sign-ins per login (lower-cased) in fixed windows.
pub struct SignInLimiter {
    max_failures: u32,
    window: Duration,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl SignInLimiter {
    pub fn new(max_failures: u32, window: Duration) -> Self {
        SignInLimiter { max_failures, window, failures: Mutex::new(HashMap::new()) }
    }

    pub fn check(&self, login: &str) -> ApiResult<()> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match failures.get(&login.to_lowercase()) {
            Some((count, since)) if *count >= self.max_failures && since.elapsed() < self.window => {
                let wait = self.window.saturating_sub(since.elapsed()).as_secs() + 1;
                Err(ApiError::RateLimited(format!("too many failed sign-ins for this login; try again in {wait} s")))
            }
            _ => Ok(()),
        }
    }

    pub fn failed(&self, login: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() > 100_000 {
            let window = self.window;
            failures.retain(|_, (_, since)| since.elapsed() < window);
        }
        let entry = failures.entry(login.to_lowercase()).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= self.window {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    pub fn succeeded(&self, login: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(&login.to_lowercase());
    }
}
