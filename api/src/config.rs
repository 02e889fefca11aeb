//! Configuration: one struct, every option a flag and an environment
//! variable (`followgraph --help` lists them). `.env.example` mirrors it.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use store::feed::{DEFAULT_BROAD_FOLLOWING, DEFAULT_WINDOW};

#[derive(Parser, Debug, Clone)]
#[command(name = "followgraph", version, about = "The followers social graph over GraphQL")]
pub struct Config {
    /// Database to use: `sqlite://FILE?mode=rwc` (created if missing) or
    /// `postgres://USER@HOST:PORT/DB`. Migrations run at start.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://followgraph.db?mode=rwc", global = true)]
    pub database_url: String,

    /// Address to listen on.
    #[arg(long = "bind", env = "BIND_ADDR", default_value = "127.0.0.1:8000", global = true)]
    pub bind: SocketAddr,

    /// Connections in the database pool [default: 16 on PostgreSQL, 4 on
    /// SQLite, which writes one transaction at a time and keeps a page
    /// cache per connection].
    #[arg(long, env = "DB_MAX_CONNECTIONS", global = true)]
    pub db_max_connections: Option<u32>,

    /// Largest request body accepted, in bytes; larger ones get 413.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 256 * 1024, global = true)]
    pub max_body_bytes: usize,

    /// Largest request head (request line and headers) accepted, in bytes;
    /// larger ones get 431. At least 8192.
    #[arg(long, env = "MAX_HEADER_BYTES", default_value_t = 16 * 1024, global = true)]
    pub max_header_bytes: usize,

    /// Deepest query accepted. GraphiQL 3.9's introspection query needs 15.
    #[arg(long, env = "MAX_QUERY_DEPTH", default_value_t = 20, global = true)]
    pub max_query_depth: usize,

    /// Largest query complexity accepted, for one request or a whole batch:
    /// each field counts 1, and a list field counts its children once per
    /// item asked for (`first`/`last`). Fragments count as often as they
    /// are spread.
    #[arg(long, env = "MAX_QUERY_COMPLEXITY", default_value_t = 20_000, global = true)]
    pub max_query_complexity: usize,

    /// Most root fields in one request or batch (fragments expanded).
    #[arg(long, env = "MAX_ROOT_FIELDS", default_value_t = 50, global = true)]
    pub max_root_fields: usize,

    /// Most aliased fields in one request or batch (fragments expanded).
    #[arg(long, env = "MAX_ALIASES", default_value_t = 100, global = true)]
    pub max_aliases: usize,

    /// Most operations in one batched request (a JSON array).
    #[arg(long, env = "MAX_BATCH", default_value_t = 10, global = true)]
    pub max_batch: usize,

    /// Time budget of one request, from its body read to its answer, in
    /// milliseconds; past it the request is cancelled and answered TIMEOUT.
    /// PostgreSQL statements get a `statement_timeout` one second longer.
    #[arg(long, env = "REQUEST_TIMEOUT_MS", default_value_t = 5_000, global = true)]
    pub request_timeout_ms: u64,

    /// How long a request waits for a database connection before it is
    /// answered SERVICE_UNAVAILABLE (503), in milliseconds.
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT_MS", default_value_t = 1_000, global = true)]
    pub db_acquire_timeout_ms: u64,

    /// Seconds a client has to send a request's head (and, on a kept-alive
    /// connection, to start the next request) before the connection closes.
    #[arg(long, env = "HEADER_TIMEOUT_SECS", default_value_t = 10, global = true)]
    pub header_timeout_secs: u64,

    /// Seconds a client has to send a request's body; past it, 408.
    #[arg(long, env = "BODY_TIMEOUT_SECS", default_value_t = 10, global = true)]
    pub body_timeout_secs: u64,

    /// Most connections served at once; more wait in the listen queue. The
    /// server raises its open-file limit to the hard limit at start and
    /// lowers this to fit, leaving room for the database pool.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 4096, global = true)]
    pub max_connections: usize,

    /// Most connections from one client address; past it a new one is
    /// closed at once. 0 for no limit (behind a proxy, every client has the
    /// proxy's address).
    #[arg(long, env = "MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 256, global = true)]
    pub max_connections_per_address: usize,

    /// Seconds a shutdown (SIGTERM, Ctrl-C) waits for requests in flight
    /// before it closes every connection and exits.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS", default_value_t = 10, global = true)]
    pub shutdown_timeout_secs: u64,

    /// Failed sign-ins allowed per account and client address within the
    /// window before that pair is RATE_LIMITED (ten times as many, from all
    /// addresses together, lock the account).
    #[arg(long, env = "SIGNIN_MAX_FAILURES", default_value_t = 5, global = true)]
    pub signin_max_failures: u32,

    /// Failed sign-ins allowed per client address (any accounts) within
    /// the window.
    #[arg(long, env = "ADDRESS_MAX_FAILURES", default_value_t = 20, global = true)]
    pub address_max_failures: u32,

    /// The sign-in failure window, in seconds.
    #[arg(long, env = "SIGNIN_WINDOW_SECS", default_value_t = 900, global = true)]
    pub signin_window_secs: u64,

    /// Sign-ups allowed per client address within the sign-up window.
    #[arg(long, env = "ADDRESS_MAX_SIGN_UPS", default_value_t = 20, global = true)]
    pub address_max_sign_ups: u32,

    /// The sign-up window, in seconds.
    #[arg(long, env = "SIGN_UP_WINDOW_SECS", default_value_t = 3600, global = true)]
    pub sign_up_window_secs: u64,

    /// Followed accounts from which a home feed is read by walking everyone's
    /// newest posts instead of merging each followee's (see store/src/feed.rs).
    #[arg(long, env = "FEED_BROAD_FOLLOWING", default_value_t = DEFAULT_BROAD_FOLLOWING, global = true)]
    pub feed_broad_following: i64,

    /// How many of everyone's newest posts that walk may look at before it
    /// falls back to the merge.
    #[arg(long, env = "FEED_WINDOW", default_value_t = DEFAULT_WINDOW, global = true)]
    pub feed_window: i64,

    /// Read home feeds from materialized timelines (store/src/timeline.rs),
    /// built on an account's first read; `false` reads every feed live
    /// (writes, the trimmer and the delivery queue still keep timelines up
    /// to date, so turning it on again is safe).
    #[arg(long, env = "FEED_TIMELINES", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    pub feed_timelines: bool,

    /// Followers below which a post's copies into their timelines are
    /// written before createPost answers; a more popular author's are
    /// written in the background (the feed reads the post from a queue
    /// meanwhile).
    #[arg(long, env = "FEED_SYNC_FANOUT", default_value_t = store::timeline::DEFAULT_SYNC_LIMIT, global = true)]
    pub feed_sync_fanout: i64,

    /// Entries a timeline keeps once trimmed (pages below them are read live).
    #[arg(long, env = "FEED_TIMELINE_CAP", default_value_t = store::timeline::DEFAULT_CAP, global = true)]
    pub feed_timeline_cap: i64,

    /// Seconds a timeline may go unread before it is dropped (and its
    /// viewer's next read builds it again); default 14 days. Posts are not
    /// copied to a dropped timeline, so accounts that stopped reading cost
    /// their followees' posts nothing.
    #[arg(long, env = "FEED_TIMELINE_IDLE_SECS", default_value_t = 14 * 24 * 60 * 60, global = true)]
    pub feed_timeline_idle_secs: u64,

    /// The pause between rounds of the trimmer (not a flag: tests set it
    /// small to run many).
    #[arg(skip = Duration::from_secs(1))]
    pub timeline_trim_every: Duration,

    /// Followers a popular author's post is copied to per transaction in
    /// the background (not a flag: tests set it small to run many).
    #[arg(skip = store::timeline::DEFAULT_DELIVERY_BATCH)]
    pub feed_delivery_batch: i64,

    /// Whether this process trims timelines and sweeps the delivery queue
    /// in the background (always, but for tests that count statements).
    #[arg(skip = true)]
    pub timeline_upkeep: bool,

    /// Threads serving requests (default: one per core).
    #[arg(long, env = "WORKER_THREADS", global = true)]
    pub worker_threads: Option<usize>,

    /// Log filter (tracing's EnvFilter syntax). At `info`, one line per
    /// request: its id, method, path, operation, status and duration.
    #[arg(long, env = "RUST_LOG", default_value = "info,sqlx=warn", global = true)]
    pub log: String,

    /// Log lines as human-readable text or as one JSON object per line.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// Requests slower than this, in milliseconds, are logged at WARN as
    /// "slow request".
    #[arg(long, env = "SLOW_REQUEST_MS", default_value_t = 1_000, global = true)]
    pub slow_request_ms: u64,

    /// How long a signed-in request may trust a session it found before,
    /// in seconds, instead of looking it up again (PostgreSQL only:
    /// revocations reach every instance at once by LISTEN/NOTIFY). 0 turns
    /// the cache off. Five minutes by default: longer than an app's poll
    /// interval, so a polling client's requests find their session, and
    /// still a bound on a session deleted by hand in SQL.
    #[arg(long, env = "SESSION_CACHE_SECS", default_value_t = 300, global = true)]
    pub session_cache_secs: u64,

    /// Memory for parsed GraphQL documents and persisted queries, in bytes
    /// (about eight bytes per byte of document text); 0 turns the cache,
    /// and with it persisted queries, off.
    #[arg(long, env = "DOCUMENT_CACHE_BYTES", default_value_t = 16 * 1024 * 1024, global = true)]
    pub document_cache_bytes: u64,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug, Clone)]
pub enum Command {
    /// Migrate the database and serve the API (the default).
    Serve,
    /// Print the GraphQL schema (SDL) to stdout; `schema.graphql` is this.
    PrintSchema,
    /// Recompute every user's follower, following and post counters from
    /// the rows (maintenance: after manual fixes, imports or restores).
    Recount,
    /// Apply, undo or list the database migrations (`serve` applies pending
    /// ones by itself).
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Fill the database with sample data (migrations are applied first).
    ///
    /// `--size demo` (the default) adds ten people (alice, bob, carol, ...)
    /// who follow each other and have posted over the last days; their
    /// password is printed at the end. If they are there already it seeds
    /// nothing, says so and succeeds; if only some of their usernames are
    /// taken, it fails and writes nothing.
    ///
    /// `--size s|m|l` loads a benchmark dataset (1,000 / 20,000 / 200,000
    /// users; password `bench-password`), which replaces everything in the
    /// database: it refuses a database that has any user, unless `--force`.
    Seed {
        /// What to write.
        #[arg(long, value_enum, default_value_t = SeedSize::Demo)]
        size: SeedSize,
        /// Drop every table first (all data is lost), then seed.
        #[arg(long)]
        force: bool,
    },
}

/// What `seed` writes.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeedSize {
    /// Ten named people, their follows and a few days of posts.
    Demo,
    /// Benchmark dataset S: 1,000 users, 10,000 posts.
    S,
    /// Benchmark dataset M: 20,000 users, 400,000 posts.
    M,
    /// Benchmark dataset L: 200,000 users, 4,000,000 posts.
    L,
}

#[derive(Subcommand, Clone, Debug)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Undo the last applied migrations (default: one).
    Down {
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List every migration and whether it is applied.
    Status,
    /// Drop every table and apply every migration: all data is lost.
    Fresh,
}

impl Config {
    /// The defaults, as if no flag or variable were given: the environment
    /// is not read (tests build on this, and an exported `FEED_WINDOW` must
    /// not change them).
    pub fn defaults() -> Self {
        let matches = Config::defaults_command().get_matches_from(["followgraph"]);
        Config::from_arg_matches(&matches).expect("the defaults are a valid configuration")
    }

    /// The command line with no environment variable bound to any flag.
    fn defaults_command() -> clap::Command {
        Config::command().mut_args(|arg| arg.env(None))
    }

    /// The pool size: as configured, or the backend's default.
    pub fn pool_size(&self) -> u32 {
        self.db_max_connections.unwrap_or_else(|| store::default_pool_size(&self.database_url)).max(1)
    }

    /// How the server's pool connects: a short acquire timeout, and
    /// statements cut off a second after the request's budget.
    pub fn pool_options(&self) -> store::PoolOptions {
        store::PoolOptions {
            max_connections: self.pool_size(),
            acquire_timeout: Duration::from_millis(self.db_acquire_timeout_ms.max(1)),
            statement_timeout: Some(self.request_timeout() + Duration::from_secs(1)),
        }
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms.max(1))
    }

    /// The limits on what one request (or batch) may ask for.
    pub fn limits(&self) -> crate::budget::Limits {
        crate::budget::Limits {
            complexity: self.max_query_complexity,
            depth: self.max_query_depth,
            root_fields: self.max_root_fields,
            aliases: self.max_aliases,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without touching the process's environment (tests run in parallel):
    /// the flags read variables, and the command behind `defaults` binds none.
    #[test]
    fn defaults_ignore_the_environment() {
        let env_of = |c: clap::Command| -> Vec<String> {
            c.get_arguments().filter_map(|a| a.get_env()).map(|e| e.to_string_lossy().into_owned()).collect()
        };
        assert!(env_of(Config::command()).contains(&"FEED_WINDOW".to_owned()));
        assert_eq!(env_of(Config::defaults_command()), Vec::<String>::new());
        let config = Config::defaults();
        assert_eq!(config.feed_window, DEFAULT_WINDOW);
        assert_eq!(config.db_max_connections, None);
        assert_eq!(config.database_url, "sqlite://followgraph.db?mode=rwc");
    }
}
