//! The service end to end, in process: each request goes through the whole router with
//! `tower::ServiceExt::oneshot` (no port opened), against a real database: an SQLite file of
//! its own per test and, when `TEST_DATABASE_URL` names a Postgres server, also a schema of its
//! own there (so parallel tests and runs never meet). The asynchronous tests also start a fake
//! Heroku on a loopback port (fake_heroku.rs).

mod async_jobs;
mod fake_heroku;
mod hygiene;
mod provisioning;
mod resource_api;
mod sso;

use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::http::{HeaderMap, Request, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sqlx::any::install_default_drivers;
use sqlx::{AnyConnection, AssertSqlSafe, Connection};
use tower::ServiceExt;

use crate::app::{AppState, app};
use crate::crypto::{Cipher, random_bytes};
use crate::db::{self, Db};
use crate::resources::{self, State};
use crate::settings::{JobPolicy, Settings, session_key};
use crate::worker::Worker;

pub const USER: &str = "my-addon";
pub const PASSWORD: &str = "hunter2";
pub const SALT: &str = "2f97bfa52ca102f8874716e2eb1d3b4920ad0be4";
pub const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
pub const CLIENT_SECRET: &str = "client-secret-1";
/// Where the resource API is when a request names no host: `http://localhost:$PORT`.
pub const LOCAL_URL: &str = "http://localhost:5000";

/// A database of the test's own.
pub struct TestDb {
    pub label: &'static str,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Schema { admin_url: String, schema: String },
}

/// The embedded database always; Postgres too when `TEST_DATABASE_URL` is set.
pub async fn databases() -> Vec<TestDb> {
    let mut databases = vec![sqlite()];
    if let Some(url) = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        databases.push(postgres(&url).await);
    }
    databases
}

fn unique() -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        hex::encode(random_bytes::<4>())
    )
}

fn sqlite() -> TestDb {
    let path = std::env::temp_dir().join(format!("addon-test-{}.sqlite3", unique()));
    // Created here (an empty file is an empty database) and opened without `mode=rwc`, so a
    // connection still opening after the test cannot create it again.
    std::fs::File::create(&path).expect("a temporary file");
    TestDb {
        label: "sqlite",
        url: format!("sqlite://{}", path.display()),
        cleanup: Cleanup::File(path),
    }
}

async fn postgres(admin_url: &str) -> TestDb {
    install_default_drivers();
    let schema = format!("test_{}", unique());
    let mut connection = AnyConnection::connect(admin_url)
        .await
        .expect("TEST_DATABASE_URL: cannot connect");
    sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut connection)
        .await
        .expect("cannot create a schema for the test");
    let _ = connection.close().await;
    let separator = if admin_url.contains('?') { '&' } else { '?' };
    TestDb {
        label: "postgres",
        url: format!("{admin_url}{separator}options[search_path]={schema}"),
        cleanup: Cleanup::Schema {
            admin_url: admin_url.to_owned(),
            schema,
        },
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Cleanup::Schema { admin_url, schema } => {
                let (url, schema) = (admin_url.clone(), schema.clone());
                // Drop runs inside the test's runtime, which cannot block on itself.
                let _ = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .expect("a runtime");
                    runtime.block_on(async {
                        if let Ok(mut connection) = AnyConnection::connect(&url).await {
                            let drop = format!("DROP SCHEMA {schema} CASCADE");
                            let _ = sqlx::query(AssertSqlSafe(drop))
                                .execute(&mut connection)
                                .await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

/// What a generated .env gives, with jobs retried and resumed in milliseconds.
pub fn test_settings() -> Settings {
    Settings {
        username: USER.into(),
        password: PASSWORD.into(),
        sso_salt: Some(SALT.into()),
        session_key: session_key(KEY),
        public_url: None,
        local_url: LOCAL_URL.into(),
        client_secret: Some(CLIENT_SECRET.into()),
        identity_url: None,
        on_heroku: false,
        cipher: Cipher::from_hex(KEY).unwrap(),
        async_delay: Duration::ZERO,
        jobs: JobPolicy {
            poll: Duration::from_millis(20),
            lease: Duration::from_secs(2),
            first_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(40),
            max_attempts: 3,
        },
    }
}

/// One running service: its state, its router and its worker. Dropping it is a crash: the
/// worker stops mid-step; the database stays.
pub struct Service {
    pub state: AppState,
    pub router: Router,
    _worker: Option<Worker>,
}

impl Service {
    pub async fn start(db: &TestDb) -> Service {
        Self::with(db, |_| {}).await
    }

    pub async fn with(db: &TestDb, adjust: impl FnOnce(&mut Settings)) -> Service {
        let mut service = Self::without_worker(db, adjust).await;
        service._worker = Some(Worker::start(service.state.clone()));
        service
    }

    /// A service whose worker never runs: one killed right after answering.
    pub async fn without_worker(db: &TestDb, adjust: impl FnOnce(&mut Settings)) -> Service {
        let mut settings = test_settings();
        adjust(&mut settings);
        let pool = db::connect(&db.url)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", db.label));
        db::migrate(&pool).await.unwrap();
        let state = AppState::new(settings, pool);
        Service {
            router: app(state.clone()),
            state,
            _worker: None,
        }
    }

    pub fn db(&self) -> &Db {
        &self.state.db
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn provision(&self, body: Value) -> Reply {
        self.send(api("POST", "/heroku/resources", &body.to_string()))
            .await
    }

    /// Provisions `uuid` on plan `test`; its id and config var.
    pub async fn provisioned(&self, uuid: &str) -> (String, String) {
        let reply = self.provision(v3_body(uuid)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        let body = reply.json();
        (
            body["id"].as_str().unwrap().to_owned(),
            body["config"][crate::config::CONFIG_VAR]
                .as_str()
                .unwrap()
                .to_owned(),
        )
    }

    pub async fn state_of(&self, id: &str) -> Option<State> {
        resources::find(self.db(), id)
            .await
            .unwrap()
            .map(|r| r.state)
    }

    pub async fn wait_state(&self, id: &str, state: State) {
        eventually(&format!("{id} to be {state}"), || async {
            (self.state_of(id).await == Some(state)).then_some(())
        })
        .await;
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(self.db())
            .await
            .unwrap()
    }
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("a JSON body, got {:?}", self.text()))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn id(&self) -> String {
        self.json()["id"].as_str().expect("an id").to_owned()
    }

    pub fn cookies(&self) -> Vec<&str> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    /// The `name=value` part of every Set-Cookie, as a browser would send them back.
    pub fn cookie_header(&self) -> String {
        self.cookies()
            .iter()
            .map(|c| c.split(';').next().unwrap())
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// A JSON error: the status and a `message`.
    pub fn assert_error(&self, status: StatusCode) {
        assert_eq!(self.status, status, "{}", self.text());
        assert!(
            self.json()["message"].is_string(),
            "a JSON message: {}",
            self.text()
        );
    }
}

pub fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

/// A call of Heroku's, with its credentials.
pub fn api(method: &str, uri: &str, body: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, basic(USER, PASSWORD))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

pub fn get(uri: &str, cookies: &str) -> Request<Body> {
    Request::builder()
        .uri(uri)
        .header(header::COOKIE, cookies)
        .body(Body::empty())
        .unwrap()
}

/// A v3 provision request, as Heroku sends it (with fields the service does not use).
pub fn v3_body(uuid: &str) -> Value {
    json!({
        "uuid": uuid,
        "name": "acme-inc-primary-database",
        "plan": "test",
        "region": "amazon-web-services::us-east-1",
        "callback_url": format!("https://api.heroku.com/addons/{uuid}"),
        "oauth_grant": {"code": "c", "expires_at": "2030-01-01T00:00:00Z", "type": "authorization_code"},
        "options": {"foo": "bar"},
        "something_new": [1, 2, 3],
    })
}

/// Polls `check` every 10 ms until it gives a value; fails the test after 20 s.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Every text value stored in `table`, to look for secrets in clear.
pub async fn stored_text(db: &Db, table: &str, columns: &[&str]) -> Vec<String> {
    let mut values = Vec::new();
    for column in columns {
        let query = format!("SELECT {column} FROM {table} WHERE {column} IS NOT NULL");
        let found: Vec<String> = sqlx::query_scalar(AssertSqlSafe(query))
            .fetch_all(db)
            .await
            .unwrap();
        values.extend(found);
    }
    values
}
