//! `spawn_app()` and the small client the tests use.
//!
//! Each test gets a database of its own, copied from a template migrated
//! once (crates.io's way: `CREATE DATABASE ... TEMPLATE` on PostgreSQL, a
//! file copy on SQLite), and dropped when the test ends.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use sea_orm::sqlx::{self, AssertSqlSafe, Connection, PgConnection};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{json, Value};

pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    /// A connection of the test's own (not the server's), for checks that
    /// look at rows directly.
    pub db: DatabaseConnection,
    statements: Arc<AtomicUsize>,
    log: Arc<Mutex<Vec<sea_orm::Statement>>>,
    /// Removed when the app is dropped.
    database: TestDatabase,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// A test's own database, removed when the test ends (passed or failed).
pub enum TestDatabase {
    SqliteFile(PathBuf),
    Postgres(String),
    /// Not ours to remove (a cluster the test runs and removes itself).
    External,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match self {
            TestDatabase::SqliteFile(file) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
                }
            }
            // On a thread of its own: Drop cannot await, and the test's
            // runtime may be the single-threaded one that is dropping us.
            // FORCE ends the connections the server still holds.
            TestDatabase::Postgres(name) => {
                let name = name.clone();
                let dropped = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
                    runtime.block_on(async {
                        let mut admin = PgConnection::connect(&admin_url()).await.ok()?;
                        exec(&mut admin, format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await.ok()
                    })
                });
                let _ = dropped.join();
            }
            TestDatabase::External => {}
        }
    }
}

pub fn on_postgres() -> bool {
    std::env::var("TEST_DATABASE").is_ok_and(|v| v.eq_ignore_ascii_case("postgres"))
}

fn admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn unique_name() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    format!("fgt_{secs}_{}_{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

/// The name of the migrated template for the migrations as they are now: a
/// hash of their source, so an edited or added migration gets a template of
/// its own and an unchanged one is reused by later runs.
fn template_name() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migration/src");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).expect("migration/src").map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut hasher = std::hash::DefaultHasher::new();
    for file in files {
        file.file_name().hash(&mut hasher);
        std::fs::read(&file).unwrap().hash(&mut hasher);
    }
    format!("fgt_template_{:016x}", hasher.finish())
}

/// Makes the template once per run (once per schema version, across runs),
/// under an advisory lock so that two test processes cannot race.
async fn postgres_template() -> &'static str {
    static TEMPLATE: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let name = template_name();
            let mut admin = PgConnection::connect(&admin_url()).await.expect("connect to PostgreSQL (is it running?)");
            exec(&mut admin, "SELECT pg_advisory_lock(7262026)".into()).await.unwrap();
            let exists = sqlx::query(AssertSqlSafe(format!("SELECT 1 FROM pg_database WHERE datname = '{name}'")))
                .fetch_optional(&mut admin)
                .await
                .unwrap()
                .is_some();
            sweep_old_databases(&mut admin, &name).await;
            if !exists {
                // Built under another name and renamed when complete, so a
                // run killed half-way leaves no half-migrated template.
                let building = format!("{name}_building");
                exec(&mut admin, format!("DROP DATABASE IF EXISTS {building}")).await.unwrap();
                exec(&mut admin, format!("CREATE DATABASE {building}")).await.unwrap();
                let db = store::connect_and_migrate(&database_url(&building), store::PoolOptions::new(1))
                    .await
                    .expect("migrate the template");
                db.close().await.unwrap();
                exec(&mut admin, format!("ALTER DATABASE {building} RENAME TO {name}")).await.unwrap();
            }
            exec(&mut admin, "SELECT pg_advisory_unlock(7262026)".into()).await.unwrap();
            name
        })
        .await
}

/// The SQLite template: a migrated file in the temp directory, checkpointed
/// so that the file alone holds everything, written under a temporary name
/// and renamed into place.
async fn sqlite_template() -> &'static Path {
    static TEMPLATE: tokio::sync::OnceCell<PathBuf> = tokio::sync::OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let file = std::env::temp_dir().join(format!("{}.db", template_name()));
            sweep_old_files(&file);
            if !file.exists() {
                let building =
                    std::env::temp_dir().join(format!("{}.{}.building.db", template_name(), std::process::id()));
                let db = store::connect_and_migrate(
                    &format!("sqlite://{}?mode=rwc", building.display()),
                    store::PoolOptions::new(1),
                )
                .await
                .expect("migrate the template");
                db.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)").await.unwrap();
                db.close().await.unwrap();
                std::fs::rename(&building, &file).unwrap();
                for suffix in ["-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", building.display()));
                }
            }
            file
        })
        .await
}

/// The SQLite counterpart of [`sweep_old_databases`]: test files, templates
/// of other schema versions and half-built templates, over two hours old.
fn sweep_old_files(current: &Path) {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|age| age.as_secs() > 2 * 3600));
        if name.starts_with("fgt_") && path != current && old {
            let _ = std::fs::remove_file(&path);
        }
    }
}

async fn exec(admin: &mut PgConnection, sql: String) -> Result<(), sqlx::Error> {
    sqlx::query(AssertSqlSafe(sql)).execute(admin).await.map(drop)
}

fn database_url(name: &str) -> String {
    let admin = admin_url();
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
    format!("{base}/{name}")
}

/// A role that may read every column of `users` but `password_hash` and
/// `email_key` (created once per cluster, kept: it owns nothing, and its
/// grants go with each test database).
const NO_HASHES: &str = "fgt_no_hashes";

/// A second server on `app`'s PostgreSQL database, connected as
/// [`NO_HASHES`]: any statement it runs that reads a password hash or an
/// email key (or `*` of users) fails with "permission denied", so an
/// answer that needed one comes back as an error.
pub async fn spawn_without_hashes(app: &TestApp) -> TestApp {
    let TestDatabase::Postgres(name) = &app.database else {
        panic!("column privileges are PostgreSQL's");
    };
    let mut admin = PgConnection::connect(&admin_url()).await.expect("connect to PostgreSQL");
    let create = format!(
        "DO $$ BEGIN CREATE ROLE {NO_HASHES} LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    );
    exec(&mut admin, create).await.expect("create the role");
    let mut owner = PgConnection::connect(&database_url(name)).await.expect("connect to the test database");
    let (columns,): (String,) = sqlx::query_as(
        "SELECT string_agg(quote_ident(column_name), ', ') FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name = 'users' AND column_name NOT IN ('password_hash', 'email_key')",
    )
    .fetch_one(&mut owner)
    .await
    .unwrap();
    for grant in [
        format!("GRANT USAGE, CREATE ON SCHEMA public TO {NO_HASHES}"),
        format!("GRANT ALL ON ALL TABLES IN SCHEMA public TO {NO_HASHES}"),
        format!("GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {NO_HASHES}"),
        format!("REVOKE SELECT ON users FROM {NO_HASHES}"),
        format!("GRANT SELECT ({columns}) ON users TO {NO_HASHES}"),
    ] {
        exec(&mut owner, grant).await.expect("grant");
    }
    // The admin URL with the role as its user (trust auth: no password).
    let url = database_url(name);
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.split_once('@').map_or(rest, |(_, host)| host);
    spawn_on(format!("{scheme}://{NO_HASHES}@{host}"), TestDatabase::External, |_| {}).await
}

/// A fresh, migrated database: a copy of the template.
async fn fresh_database() -> (String, TestDatabase) {
    fresh_database_on(on_postgres()).await
}

/// [`spawn_app`] on SQLite whatever `TEST_DATABASE` says (to compare the
/// two databases' answers).
pub async fn spawn_sqlite_app() -> TestApp {
    let (db_url, database) = fresh_database_on(false).await;
    spawn_on(db_url, database, |_| {}).await
}

async fn fresh_database_on(postgres: bool) -> (String, TestDatabase) {
    let name = unique_name();
    if !postgres {
        let file = std::env::temp_dir().join(format!("{name}.db"));
        std::fs::copy(sqlite_template().await, &file).expect("copy the template");
        return (format!("sqlite://{}?mode=rwc", file.display()), TestDatabase::SqliteFile(file));
    }
    let template = postgres_template().await;
    let mut admin = PgConnection::connect(&admin_url()).await.expect("connect to PostgreSQL (is it running?)");
    exec(&mut admin, format!("CREATE DATABASE {name} TEMPLATE {template}")).await.expect("create test database");
    (database_url(&name), TestDatabase::Postgres(name))
}

/// Drops what killed runs left behind: test databases over two hours old,
/// and templates of other schema versions. Never with FORCE: a database
/// something is still connected to (a concurrent run) stays.
async fn sweep_old_databases(admin: &mut PgConnection, current: &str) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let names: Vec<(String,)> = sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'fgt\\_%'")
        .fetch_all(&mut *admin)
        .await
        .unwrap_or_default();
    for (name,) in names {
        let old = match name.strip_prefix("fgt_template_") {
            Some(_) => !name.starts_with(current),
            None => {
                let secs: u64 = name.split('_').nth(1).and_then(|s| s.parse().ok()).unwrap_or(now);
                now.saturating_sub(secs) > 2 * 3600
            }
        };
        if old {
            let _ = exec(admin, format!("DROP DATABASE IF EXISTS {name}")).await;
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with a chance to change the configuration first.
/// The configuration starts from the defaults, whatever the environment.
pub async fn spawn_app_with(configure: impl FnOnce(&mut api::Config)) -> TestApp {
    let (db_url, database) = fresh_database().await;
    spawn_on(db_url, database, configure).await
}

/// The server on a database of the caller's (already there; migrated here).
pub async fn spawn_on(db_url: String, database: TestDatabase, configure: impl FnOnce(&mut api::Config)) -> TestApp {
    // `TEST_LOG=error cargo test ...` shows the servers' logs (with
    // `-- --nocapture`), e.g. the cause of an internal error.
    if let Ok(filter) = std::env::var("TEST_LOG") {
        let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    }
    let mut config = api::Config::defaults();
    config.database_url = db_url.clone();
    config.db_max_connections = Some(8);
    // Every test signs its users up from 127.0.0.1.
    config.address_max_sign_ups = 1_000_000;
    // Statement counts include each request's session lookup; the session
    // cache (tests/api/sessions.rs) is tested on its own.
    config.session_cache_secs = 0;
    // Feeds are read live, and no trimmer or sweep runs in the background
    // (it would add to the counts); tests/api/feed.rs runs every scenario
    // under the timeline read as well. Writes keep timelines either way.
    config.feed_timelines = false;
    configure(&mut config);
    config.timeline_upkeep = config.feed_timelines;
    let mut db = api::connect_and_migrate(&config).await.expect("connect and migrate");
    // Count every statement the server runs from here on.
    let statements = Arc::new(AtomicUsize::new(0));
    let log = Arc::new(Mutex::new(Vec::new()));
    let (count, sink) = (statements.clone(), log.clone());
    db.set_metric_callback(move |info| {
        api::observe::on_statement(info);
        count.fetch_add(1, Ordering::SeqCst);
        sink.lock().unwrap().push(info.statement.clone());
    });
    let app = api::app(db, &config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
    let options = api::server::ServeOptions::from_config(&config);
    let served = tokio::spawn(api::server::serve(listener, app, options, async move {
        let _ = stop.await;
    }));
    let own = store::connect(&db_url, store::PoolOptions::new(2)).await.expect("test connection");
    TestApp {
        url,
        client: reqwest::Client::new(),
        db: own,
        statements,
        log,
        database,
        shutdown: Some(shutdown),
        served: Some(served),
    }
}

impl TestApp {
    /// Starts the server's shutdown (as SIGTERM would) and waits for it to
    /// return; how long that took.
    pub async fn shut_down(&mut self) -> std::time::Duration {
        let started = std::time::Instant::now();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(served) = self.served.take() {
            served.await.expect("the server task").expect("serve");
        }
        started.elapsed()
    }

    /// The server still answers a trivial query, within a second.
    pub async fn assert_alive(&self) {
        let started = std::time::Instant::now();
        let res = tokio::time::timeout(
            std::time::Duration::from_secs(1),
            self.client.post(format!("{}/graphql", self.url)).json(&json!({ "query": "{ __typename }" })).send(),
        )
        .await
        .expect("an answer within a second")
        .expect("an answer");
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["data"]["__typename"], "Query", "{body}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    /// POSTs a GraphQL request and returns the parsed response body.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req =
            self.client.post(format!("{}/graphql", self.url)).json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let res = req.send().await.expect("request");
        res.json().await.expect("JSON response")
    }

    /// POSTs any JSON body; returns the status, the headers and the body.
    pub async fn post_raw(&self, token: Option<&str>, body: &Value) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut req = self.client.post(format!("{}/graphql", self.url)).json(body);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let res = req.send().await.expect("request");
        let (status, headers) = (res.status().as_u16(), res.headers().clone());
        (status, headers, res.json().await.unwrap_or(Value::Null))
    }

    /// Like [`gql`], but the request must succeed: returns `data`.
    pub async fn ok(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let body = self.gql(token, query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// Like [`gql`], but the request must fail: returns the first error's code.
    pub async fn error_code(&self, token: Option<&str>, query: &str, variables: Value) -> String {
        let body = self.gql(token, query, variables).await;
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or_else(|| panic!("expected an error with a code, got {body:#}"))
            .to_owned()
    }

    /// Signs up `name` (email `name@example.com`, password `password-<name>`)
    /// and returns (token, global id).
    pub async fn sign_up(&self, name: &str) -> (String, String) {
        let data = self
            .ok(
                None,
                "mutation($i: SignUpInput!) { signUp(input: $i) { token user { id } } }",
                json!({ "i": { "username": name, "email": format!("{name}@example.com"), "password": format!("password-{name}") } }),
            )
            .await;
        (
            data["signUp"]["token"].as_str().unwrap().to_owned(),
            data["signUp"]["user"]["id"].as_str().unwrap().to_owned(),
        )
    }

    pub async fn follow(&self, token: &str, user_id: &str) {
        self.ok(Some(token), "mutation($u: ID!) { follow(userId: $u) { user { id } } }", json!({ "u": user_id })).await;
    }

    pub async fn post(&self, token: &str, body: &str) -> String {
        let data = self
            .ok(Some(token), "mutation($b: String!) { createPost(input: { body: $b }) { id } }", json!({ "b": body }))
            .await;
        data["createPost"]["id"].as_str().unwrap().to_owned()
    }

    /// The URL of the app's database (for tools run against it).
    pub fn database_url(&self) -> Option<String> {
        match &self.database {
            TestDatabase::SqliteFile(path) => Some(format!("sqlite://{}?mode=rwc", path.display())),
            TestDatabase::Postgres(name) => Some(database_url(name)),
            TestDatabase::External => None,
        }
    }

    /// Statements the server has run so far.
    pub fn statements(&self) -> usize {
        self.statements.load(Ordering::SeqCst)
    }

    /// The statements run since the count was `from`.
    pub fn statements_since(&self, from: usize) -> Vec<String> {
        self.log.lock().unwrap()[from..].iter().map(|s| s.sql.clone()).collect()
    }

    /// The statements run since the count was `from`, with their values
    /// written in.
    pub fn bound_statements_since(&self, from: usize) -> Vec<String> {
        self.log.lock().unwrap()[from..].iter().map(|s| s.to_string()).collect()
    }

    /// Runs `write` (a request) into a deadlock that PostgreSQL breaks by
    /// rolling the write back: a transaction of the test's own takes
    /// `first` (a row lock the write will wait for), waits until the write
    /// waits, then takes `second` (a lock the write holds by then). The
    /// write waited first, so its deadlock check (after `deadlock_timeout`,
    /// a second by default) runs first and it is the one rolled back; run
    /// again, it waits for the test's transaction, which then ends.
    pub async fn in_deadlock<T>(&self, first: &str, second: &str, write: impl std::future::Future<Output = T>) -> T {
        use sea_orm::TransactionTrait;
        let statement = |sql: &str| sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, sql.to_owned());
        let own =
            store::connect(&self.database_url().expect("a database of the test's own"), store::PoolOptions::new(1))
                .await
                .unwrap();
        let txn = own.begin().await.unwrap();
        txn.execute_raw(statement(first)).await.unwrap();
        let waiting =
            "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'";
        let (written, ()) = tokio::join!(write, async {
            let waits =
                eventually(300, std::time::Duration::from_millis(10), || async { self.scalar(waiting).await == 1 });
            assert!(waits.await, "the write never waited for `{first}`");
            txn.execute_raw(statement(second)).await.unwrap();
            txn.commit().await.unwrap();
        });
        written
    }

    /// A single number from SQL run on the test's own connection.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(sea_orm::Statement::from_string(self.db.get_database_backend(), sql))
            .await
            .unwrap()
            .unwrap();
        row.try_get_by_index::<i64>(0).unwrap()
    }
}

/// Whether `check` holds within `tries` tries, `every` apart: for what the
/// server does in the background (copies, builds, trims).
pub async fn eventually<F: std::future::Future<Output = bool>>(
    tries: usize,
    every: std::time::Duration,
    mut check: impl FnMut() -> F,
) -> bool {
    for _ in 0..tries {
        if check().await {
            return true;
        }
        tokio::time::sleep(every).await;
    }
    false
}

/// The strings at `pointer` (a JSON pointer into each element) of an array.
pub fn strings(array: &Value, pointer: &str) -> Vec<String> {
    array
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {array}"))
        .iter()
        .map(|v| v.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("no {pointer} in {v}")).to_owned())
        .collect()
}

/// The global ID the server would give `kind` row `id`.
pub fn global_id(kind: &str, id: i64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{kind}:{id}"))
}

/// The numbers after `LIMIT` in `statements`.
pub fn limits(statements: &[String]) -> std::collections::BTreeSet<u64> {
    let sql = statements.join("\n");
    sql.split("LIMIT ")
        .skip(1)
        .filter_map(|rest| rest.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .collect()
}
