//! Who is asking: the [`Viewer`] of a request, bearer tokens, password
//! hashing, and the sign-in limiter.
//!
//! - The viewer is found once per request, by [`Viewer::from_headers`]
//!   (one statement when a token is sent, none otherwise), and handed to
//!   the schema and to the loaders: nothing else reads the header.
//! - Passwords: Argon2id (the `argon2` crate's defaults, OWASP's minimum),
//!   hashed on the blocking pool so a sign-up never stalls the async
//!   workers, at most one hash per core at a time.
//! - Tokens: 256 random bits, base64url. Only their SHA-256 is stored
//!   ([`TokenHash`]); a token is revoked by deleting its session row.
//! - [`SignInGuard`]: failed sign-ins counted per account and client
//!   address, sign-ups per address; RATE_LIMITED with `retryAfter`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::http::{header, HeaderMap};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;
use store::sessions::{Heard, TokenHash};
use store::{user, UserId};

use crate::error::{ApiError, ApiResult};
use crate::http::AppState;

/// The signed-in user of a request, if any: the one answer to "who is
/// asking", for resolvers and loaders alike.
#[derive(Clone, Debug, Default)]
pub struct Viewer(Option<Arc<SignedIn>>);

#[derive(Debug)]
pub struct SignedIn {
    pub id: UserId,
    /// How many accounts they follow, as the session lookup read it (from
    /// the [`SessionCache`] it may be up to its lifetime old: only a hint,
    /// e.g. for choosing a feed plan; answers read fresh rows).
    pub following_count: i64,
    /// The token this request came with (signOut revokes it).
    pub token: TokenHash,
    /// The user's row, when this request's lookup read it; `None` when the
    /// session came from the [`SessionCache`] (which keeps only the above).
    pub row: Option<user::Model>,
}

impl SignedIn {
    fn read(user: user::Model, token: TokenHash) -> Self {
        SignedIn { id: user.id, following_count: user.following_count, token, row: Some(user) }
    }
}

impl Viewer {
    /// Nobody signed in.
    pub fn anonymous() -> Self {
        Viewer(None)
    }

    pub fn id(&self) -> Option<UserId> {
        self.0.as_ref().map(|s| s.id)
    }

    /// The signed-in user, or UNAUTHENTICATED.
    pub fn require(&self) -> ApiResult<&SignedIn> {
        self.0.as_deref().ok_or_else(ApiError::unauthenticated)
    }

    pub fn signed_in(&self) -> Option<&SignedIn> {
        self.0.as_deref()
    }
}

impl Viewer {
    /// From `Authorization: Bearer <token>`: anonymous without the header;
    /// 401 when it is not a bearer token, or the token is unknown or
    /// revoked. One statement when a token is sent, none otherwise.
    pub async fn from_headers(headers: &HeaderMap, state: &AppState) -> Result<Self, ApiError> {
        let header = headers.get(header::AUTHORIZATION).map(|v| v.to_str().unwrap_or("\u{0}"));
        let Some(token) = bearer_token(header)? else {
            return Ok(Viewer::anonymous());
        };
        let token = TokenHash::of(token);
        if let Some((id, following_count)) = state.sessions.get(&token) {
            return Ok(Viewer(Some(Arc::new(SignedIn { id, following_count, token, row: None }))));
        }
        let epoch = state.sessions.epoch();
        match store::sessions::find_user(&state.db, &token).await? {
            Some(user) => {
                state.sessions.put(&token, &user, epoch);
                Ok(Viewer(Some(Arc::new(SignedIn::read(user, token)))))
            }
            None => Err(ApiError::Unauthenticated("the token is invalid or was revoked".into())),
        }
    }
}

/// The address of the client a request came from (the TCP peer; behind a
/// proxy, the proxy's: see docs/SECURITY.md).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub IpAddr);

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

/// Hashes a new password with Argon2id, on a free core (see
/// [`SignInGuard::hashing`]).
pub async fn hash_password(guard: &SignInGuard, password: String) -> ApiResult<String> {
    guard
        .hashing(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(ApiError::internal)
        })
        .await
}

/// Verifies against `hash`, or against a dummy hash when there is no such
/// user, so that "no such login" and "wrong password" take the same time.
pub async fn verify_password(guard: &SignInGuard, password: String, hash: Option<String>) -> ApiResult<bool> {
    guard
        .hashing(move || {
            let hash = match hash {
                Some(hash) => hash,
                None => dummy_hash()?.to_owned(),
            };
            let parsed = PasswordHash::new(&hash).map_err(ApiError::internal)?;
            Ok(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
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

/// Who may try a password now. Counted in fixed windows, under one lock:
///
/// - per (account, client address): `--signin-max-failures` failures (5
///   per 15 min). Past it that pair is RATE_LIMITED, even with the right
///   password: accepting the right one would mean verifying every guess.
///   Another address is not affected, so a guesser locks out only himself;
/// - per account, over all addresses: 10 times that (a guesser with many
///   addresses). Past it the account is locked for everyone until the
///   window ends: the one way left to lock someone out, and it costs the
///   attacker that many addresses' worth of guesses;
/// - per client address: `--address-max-failures` failed sign-ins (any
///   accounts: a spray over many logins), and `--address-max-sign-ups`
///   sign-ups.
///
/// An account is its user id, so its username and email share one count;
/// a login that names nobody is counted under its lower-cased text, the
/// same way, so the limiter tells nothing about which accounts exist. Each
/// attempt reserves its place before the password is verified, so 40
/// concurrent guesses cannot all pass the check: only as many as are left.
pub struct SignInGuard {
    pair_max: u32,
    account_max: u32,
    address_max: u32,
    sign_ups_max: u32,
    window: Duration,
    sign_up_window: Duration,
    counts: Mutex<HashMap<Key, Count>>,
    /// Argon2 takes ~20 MB and ~15 ms of a core per hash: at most one per
    /// core at a time; a burst waits briefly in line, then RATE_LIMITED.
    hashing: tokio::sync::Semaphore,
}

/// Settings of a [`SignInGuard`].
pub struct GuardLimits {
    pub pair_max_failures: u32,
    pub address_max_failures: u32,
    pub address_max_sign_ups: u32,
    pub window: Duration,
    pub sign_up_window: Duration,
}

/// A login as the limiter counts it: the account it names, or its text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Account {
    User(UserId),
    Unknown(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Pair(Account, IpAddr),
    Account(Account),
    Address(IpAddr),
    SignUps(IpAddr),
}

#[derive(Clone, Copy, Debug)]
struct Count {
    /// Failures (or sign-ups) counted in this window.
    used: u32,
    /// Attempts under way, not yet known to fail or succeed.
    pending: u32,
    since: Instant,
}

/// How long a waiting hash may queue before the request is refused.
const HASH_QUEUE: Duration = Duration::from_secs(2);

impl SignInGuard {
    pub fn new(limits: GuardLimits) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        SignInGuard {
            pair_max: limits.pair_max_failures,
            account_max: limits.pair_max_failures.saturating_mul(10),
            address_max: limits.address_max_failures,
            sign_ups_max: limits.address_max_sign_ups,
            window: limits.window,
            sign_up_window: limits.sign_up_window,
            counts: Mutex::new(HashMap::new()),
            hashing: tokio::sync::Semaphore::new(cores),
        }
    }

    /// Reserves one sign-in attempt of `account` from `address`, or says how
    /// long to wait. The attempt counts as a failure unless
    /// [`Attempt::succeeded`] is called (a cancelled request counts too).
    pub fn sign_in(&self, account: Account, address: IpAddr) -> ApiResult<Attempt<'_>> {
        let keys = vec![
            (Key::Pair(account.clone(), address), self.pair_max),
            (Key::Account(account), self.account_max),
            (Key::Address(address), self.address_max),
        ];
        self.reserve(keys, self.window, "too many sign-in attempts (failed, or under way at once); try again later")
    }

    /// Reserves one sign-up from `address`; it counts whether or not it
    /// succeeds.
    pub fn sign_up(&self, address: IpAddr) -> ApiResult<()> {
        let attempt = self.reserve(
            vec![(Key::SignUps(address), self.sign_ups_max)],
            self.sign_up_window,
            "too many sign-ups from this address; try again later",
        )?;
        drop(attempt);
        Ok(())
    }

    fn reserve(&self, keys: Vec<(Key, u32)>, window: Duration, message: &str) -> ApiResult<Attempt<'_>> {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts.len() > 100_000 {
            let longest = self.window.max(self.sign_up_window);
            counts.retain(|_, c| c.pending > 0 || c.since.elapsed() < longest);
        }
        let now = Instant::now();
        let mut wait = None;
        for (key, max) in &keys {
            let count = counts.entry(key.clone()).or_insert(Count { used: 0, pending: 0, since: now });
            if count.pending == 0 && now.duration_since(count.since) >= window {
                *count = Count { used: 0, pending: 0, since: now };
            }
            if count.used.saturating_add(count.pending) >= *max {
                let left = window.saturating_sub(now.duration_since(count.since)).as_secs() + 1;
                wait = Some(wait.map_or(left, |w: u64| w.max(left)));
            }
        }
        if let Some(retry_after) = wait {
            return Err(ApiError::RateLimited { message: message.to_owned(), retry_after });
        }
        for (key, _) in &keys {
            if let Some(count) = counts.get_mut(key) {
                count.pending += 1;
            }
        }
        Ok(Attempt { guard: self, keys: keys.into_iter().map(|(k, _)| k).collect(), succeeded: false })
    }

    /// Runs `work` (an Argon2 hash or verify) when a core is free: waits up
    /// to two seconds in line, then RATE_LIMITED.
    pub async fn hashing<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> ApiResult<T> + Send + 'static,
    ) -> ApiResult<T> {
        let permit = match tokio::time::timeout(HASH_QUEUE, self.hashing.acquire()).await {
            Ok(Ok(permit)) => permit,
            _ => {
                return Err(ApiError::RateLimited {
                    message: "the server is busy checking passwords; try again".into(),
                    retry_after: 1,
                })
            }
        };
        let result = tokio::task::spawn_blocking(work).await.map_err(ApiError::internal)?;
        drop(permit);
        result
    }
}

/// One reserved attempt: a failure unless it succeeded.
pub struct Attempt<'a> {
    guard: &'a SignInGuard,
    keys: Vec<Key>,
    succeeded: bool,
}

impl Attempt<'_> {
    /// The password was right: the pair's failures are forgiven (the
    /// account's and the address's are not: they count what others tried).
    pub fn succeeded(mut self) {
        self.succeeded = true;
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        let mut counts = self.guard.counts.lock().unwrap_or_else(|e| e.into_inner());
        for key in &self.keys {
            let forgive = self.succeeded && matches!(key, Key::Pair(..));
            let sign_up = matches!(key, Key::SignUps(_));
            if let Some(count) = counts.get_mut(key) {
                count.pending = count.pending.saturating_sub(1);
                if forgive {
                    count.used = 0;
                } else if !self.succeeded || sign_up {
                    count.used = count.used.saturating_add(1);
                }
            }
        }
    }
}

/// Sessions found recently, so that a signed-in request skips its lookup
/// statement: on PostgreSQL only, and only while this instance listens for
/// revocations. A signOut or an account deletion announces itself on the
/// database's [`store::sessions::CHANNEL`] at commit, and every instance
/// drops the entry as the notice arrives (the instance that revoked drops
/// it at once). While the listening connection is down the cache is not
/// used, and it is emptied when it comes back (a notice may have been
/// missed). A lookup that raced with a revocation is not stored (the
/// epoch moved). Entries live at most `--session-cache-secs`.
/// How often the revocation listener checks that it hears notices.
pub const PING_EVERY: Duration = Duration::from_secs(5);

pub struct SessionCache {
    entries: Option<quick_cache::sync::Cache<String, CachedSession>>,
    ttl: Duration,
    live: std::sync::atomic::AtomicBool,
    epoch: std::sync::atomic::AtomicU64,
    /// Dropped with the cache: stops its listener.
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// What a cached session keeps: the user's id and following count, not
/// their row (about 150 bytes an entry with the key, where a row took
/// several hundred).
#[derive(Clone, Copy)]
struct CachedSession {
    id: UserId,
    following_count: i64,
    at: Instant,
}

impl SessionCache {
    /// Sessions most recently used, kept: at about 150 bytes an entry (the
    /// 64-byte hex key, its `String`, the 32-byte value, the map's slot),
    /// 50,000 take some 7 MiB. A deployment's active viewers should fit:
    /// with more viewers in a lifetime than entries, most lookups miss.
    const CAPACITY: usize = 50_000;

    /// A cache for `database_url`, listening from a task of its own; none
    /// on SQLite, or with a zero `ttl`.
    pub fn start(database_url: &str, db: &store::DatabaseConnection, ttl: Duration) -> Arc<Self> {
        use std::sync::atomic::{AtomicBool, AtomicU64};
        let on = store::is_postgres(db) && !ttl.is_zero();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let cache = Arc::new(SessionCache {
            entries: on.then(|| quick_cache::sync::Cache::new(Self::CAPACITY)),
            ttl,
            live: AtomicBool::new(false),
            epoch: AtomicU64::new(0),
            _stop: stop,
        });
        if on {
            tokio::spawn(listen(database_url.to_owned(), db.clone(), Arc::downgrade(&cache), stopped));
        }
        cache
    }

    fn entries(&self) -> Option<&quick_cache::sync::Cache<String, CachedSession>> {
        self.entries.as_ref().filter(|_| self.live.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// The user id and following count of a session found recently.
    pub fn get(&self, token: &TokenHash) -> Option<(UserId, i64)> {
        let found = self.entries()?.get(&token.0)?;
        (found.at.elapsed() < self.ttl).then_some((found.id, found.following_count))
    }

    /// The revocation count, to read before a lookup and pass to `put`.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Keeps a session read from the database, unless anything was revoked
    /// since `epoch` (the row read may be revoked already).
    pub fn put(&self, token: &TokenHash, user: &user::Model, epoch: u64) {
        if let Some(entries) = self.entries() {
            let session = CachedSession { id: user.id, following_count: user.following_count, at: Instant::now() };
            entries.insert(token.0.clone(), session);
            // Checked after the insert: a revocation bumps the epoch before
            // it removes, so whatever the interleaving, a session revoked
            // since the lookup does not stay.
            if self.epoch() != epoch {
                entries.remove(&token.0);
            }
        }
    }

    /// Forgets what `revoked` names.
    pub fn revoke(&self, revoked: &store::sessions::Revoked) {
        use store::sessions::Revoked;
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let Some(entries) = &self.entries else { return };
        match revoked {
            Revoked::Token(token) => {
                entries.remove(&token.0);
            }
            Revoked::User(id) => entries.retain(|_, s| s.id != *id),
        }
    }

    fn set_live(&self, live: bool) {
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Some(entries) = &self.entries {
            entries.clear();
        }
        self.live.store(live, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Listens for revocations until the cache is dropped; reconnects after a
/// second when the connection fails, with the cache off meanwhile. Every
/// [`PING_EVERY`] it sends itself a ping through the server's pool; one not
/// heard back by the next means notices are not arriving (a silently dead
/// connection, a pooler that drops them): the cache goes off and the
/// listener reconnects.
async fn listen(
    url: String,
    db: store::DatabaseConnection,
    cache: std::sync::Weak<SessionCache>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    loop {
        let listening = tokio::select! {
            _ = &mut stop => return,
            listening = store::sessions::Revocations::listen(&url) => listening,
        };
        match listening {
            Ok(mut revocations) => {
                let Some(c) = cache.upgrade() else { return };
                c.set_live(true);
                drop(c);
                let mut pings = tokio::time::interval(PING_EVERY);
                let (mut sent, mut heard) = (0u64, 0u64);
                // Another instance's pings are heard too: ours are told by this.
                let base = u64::from(rand::random::<u32>()) << 32;
                loop {
                    let next = tokio::select! {
                        _ = &mut stop => return,
                        next = revocations.next() => next,
                        _ = pings.tick() => {
                            if sent > heard {
                                tracing::warn!("the session revocation listener hears nothing; sessions are not cached until it does");
                                break;
                            }
                            sent += 1;
                            if let Err(e) = store::sessions::ping(&db, base + sent).await {
                                tracing::warn!(error = ?e, "cannot ping the session revocation listener");
                            }
                            continue;
                        }
                    };
                    let Some(c) = cache.upgrade() else { return };
                    match next {
                        Some(Heard::Revoked(revoked)) => c.revoke(&revoked),
                        Some(Heard::Ping(nonce)) if nonce == base + sent => heard = sent,
                        Some(Heard::Ping(_)) => {}
                        None => {
                            tracing::warn!("the session revocation listener lost its connection; sessions are not cached until it is back");
                            break;
                        }
                    }
                }
                if let Some(c) = cache.upgrade() {
                    c.set_live(false);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for session revocations; sessions are not cached"),
        }
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
