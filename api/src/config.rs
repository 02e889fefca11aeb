//! Configuration: one struct, every option a flag and an environment
//! variable (`followgraph --help` lists them). `.env.example` mirrors it.

use std::net::SocketAddr;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
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

    /// Deepest query accepted. GraphiQL 3.9's introspection query needs 15.
    #[arg(long, env = "MAX_QUERY_DEPTH", default_value_t = 20, global = true)]
    pub max_query_depth: usize,

    /// Largest query complexity accepted: each field counts 1, and a list
    /// field counts its children once per item asked for (`first`/`last`).
    #[arg(long, env = "MAX_QUERY_COMPLEXITY", default_value_t = 20_000, global = true)]
    pub max_query_complexity: usize,

    /// Failed sign-ins allowed per login within the window before the login
    /// is RATE_LIMITED.
    #[arg(long, env = "SIGNIN_MAX_FAILURES", default_value_t = 5, global = true)]
    pub signin_max_failures: u32,

    /// The sign-in failure window, in seconds.
    #[arg(long, env = "SIGNIN_WINDOW_SECS", default_value_t = 900, global = true)]
    pub signin_window_secs: u64,

    /// Followed accounts from which a home feed is read by walking everyone's
    /// newest posts instead of merging each followee's (see store/src/feed.rs).
    #[arg(long, env = "FEED_BROAD_FOLLOWING", default_value_t = DEFAULT_BROAD_FOLLOWING, global = true)]
    pub feed_broad_following: i64,

    /// How many of everyone's newest posts that walk may look at before it
    /// falls back to the merge.
    #[arg(long, env = "FEED_WINDOW", default_value_t = DEFAULT_WINDOW, global = true)]
    pub feed_window: i64,

    /// Threads serving requests (default: one per core).
    #[arg(long, env = "WORKER_THREADS", global = true)]
    pub worker_threads: Option<usize>,

    /// Log filter (tracing's EnvFilter syntax).
    #[arg(long, env = "RUST_LOG", default_value = "info,sqlx=warn", global = true)]
    pub log: String,

    #[command(subcommand)]
    pub command: Option<Command>,
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
}

impl Config {
    /// The defaults, as if no flag or variable were given: the environment
    /// is not read (tests build on this, and an exported `FEED_WINDOW` must
    /// not change them).
    pub fn defaults() -> Self {
        let command = Config::command().mut_args(|arg| arg.env(None));
        let matches = command.get_matches_from(["followgraph"]);
        Config::from_arg_matches(&matches).expect("the defaults are a valid configuration")
    }

    /// The pool size: as configured, or the backend's default.
    pub fn pool_size(&self) -> u32 {
        self.db_max_connections.unwrap_or_else(|| store::default_pool_size(&self.database_url)).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_ignore_the_environment() {
        std::env::set_var("FEED_WINDOW", "7");
        std::env::set_var("DB_MAX_CONNECTIONS", "3");
        let config = Config::defaults();
        std::env::remove_var("FEED_WINDOW");
        std::env::remove_var("DB_MAX_CONNECTIONS");
        assert_eq!(config.feed_window, DEFAULT_WINDOW);
        assert_eq!(config.db_max_connections, None);
        assert_eq!(config.database_url, "sqlite://followgraph.db?mode=rwc");
    }
}
