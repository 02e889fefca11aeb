//! Who is asking: bearer tokens, password hashing, and the sign-in limiter.
//!
//! - Passwords: Argon2id (the `argon2` crate's defaults, OWASP's minimum),
//!   hashed on the blocking pool so a sign-up never stalls the async workers.
//! - Tokens: 256 random bits, base64url. Only their SHA-256 is stored; a
//!   token is revoked by deleting its session row (signOut).
//! - Failed sign-ins are counted per login; past the limit the login is
//!   RATE_LIMITED for the rest of the window, even with the right password.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};

/// The signed-in user of a request, if any.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub user_id: i64,
    /// The hash of the token this request came with (signOut revokes it).
    pub token_hash: String,
}

/// What the HTTP layer learned from the Authorization header.
#[derive(Clone, Debug, Default)]
pub struct Auth(pub Option<Viewer>);

impl Auth {
    pub fn require(&self) -> ApiResult<&Viewer> {
        self.0.as_ref().ok_or_else(ApiError::unauthenticated)
    }

    pub fn user_id(&self) -> Option<i64> {
        self.0.as_ref().map(|v| v.user_id)
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

pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh token and the hash to store for it.
pub fn new_token() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_token(&token);
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
