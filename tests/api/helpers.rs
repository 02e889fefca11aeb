//! `spawn_app()` and the small client the tests use.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{json, Value};

pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    /// A connection of the test's own (not the server's), for checks that
    /// look at rows directly.
    pub db: DatabaseConnection,
    statements: Arc<AtomicUsize>,
    log: Arc<Mutex<Vec<String>>>,
    sqlite_file: Option<std::path::PathBuf>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(file) = &self.sqlite_file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
        }
    }
}

pub fn on_postgres() -> bool {
    std::env::var("TEST_DATABASE").is_ok_and(|v| v.eq_ignore_ascii_case("postgres"))
}

fn unique_name() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    format!("fgt_{secs}_{}_{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

/// Creates a fresh database and returns its URL. On PostgreSQL it first
/// drops test databases left over from runs more than two hours old.
async fn fresh_database() -> (String, Option<std::path::PathBuf>) {
    let name = unique_name();
    if !on_postgres() {
        let file = std::env::temp_dir().join(format!("{name}.db"));
        return (format!("sqlite://{}?mode=rwc", file.display()), Some(file));
    }
    let admin_url = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    let admin = Database::connect(&admin_url).await.expect("connect to PostgreSQL (is it running?)");
    static SWEPT: OnceLock<()> = OnceLock::new();
    if SWEPT.set(()).is_ok() {
        sweep_old_databases(&admin).await;
    }
    admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create test database");
    let base = admin_url.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
    (format!("{base}/{name}"), None)
}

async fn sweep_old_databases(admin: &DatabaseConnection) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let rows = admin
        .query_all_raw(sea_orm::Statement::from_string(
            admin.get_database_backend(),
            "SELECT datname FROM pg_database WHERE datname LIKE 'fgt\\_%'",
        ))
        .await
        .unwrap_or_default();
    for row in rows {
        let Ok(name) = row.try_get::<String>("", "datname") else { continue };
        let secs: u64 = name.split('_').nth(1).and_then(|s| s.parse().ok()).unwrap_or(now);
        if now.saturating_sub(secs) > 2 * 3600 {
            let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with a chance to change the configuration first.
pub async fn spawn_app_with(configure: impl FnOnce(&mut api::Config)) -> TestApp {
    let (db_url, sqlite_file) = fresh_database().await;
    let mut config = api::Config::defaults();
    config.database_url = db_url.clone();
    config.db_max_connections = Some(8);
    configure(&mut config);
    let mut db = api::connect_and_migrate(&config).await.expect("connect and migrate");
    // Count every statement the server runs from here on.
    let statements = Arc::new(AtomicUsize::new(0));
    let log = Arc::new(Mutex::new(Vec::new()));
    let (count, sink) = (statements.clone(), log.clone());
    db.set_metric_callback(move |info| {
        count.fetch_add(1, Ordering::SeqCst);
        sink.lock().unwrap().push(info.statement.sql.clone());
    });
    let app = api::app(db, &config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(api::serve(listener, app));
    let own = api::db::connect(&db_url, 2).await.expect("test connection");
    TestApp { url, client: reqwest::Client::new(), db: own, statements, log, sqlite_file }
}

impl TestApp {
    /// POSTs a GraphQL request and returns the parsed response body.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self.client.post(format!("{}/graphql", self.url)).json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let res = req.send().await.expect("request");
        res.json().await.expect("JSON response")
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
        (data["signUp"]["token"].as_str().unwrap().to_owned(), data["signUp"]["user"]["id"].as_str().unwrap().to_owned())
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

    /// Statements the server has run so far.
    pub fn statements(&self) -> usize {
        self.statements.load(Ordering::SeqCst)
    }

    /// The statements run since the count was `from`.
    pub fn statements_since(&self, from: usize) -> Vec<String> {
        self.log.lock().unwrap()[from..].to_vec()
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
