//! Heroku's identity service and Platform API on one loopback origin, as kensa's fake serves
//! them: tokens `tok-1`, `tok-2`… (refresh tokens `ref-1`…) for any grant or refresh, `{}` to
//! every API call; failures and hangs on demand.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::eventually;

/// A request the fake received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
    pub at: Instant,
}

impl Seen {
    pub fn header(&self, name: header::HeaderName) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }

    pub fn form(&self) -> HashMap<String, String> {
        form_urlencoded::parse(self.body.as_bytes())
            .into_owned()
            .collect()
    }
}

struct Failure {
    status: u16,
    times: u32,
    retry_after: Option<u64>,
}

struct FakeState {
    seen: Vec<Seen>,
    failures: HashMap<String, Failure>,
    hanging: HashSet<String>,
    issued: u32,
    expires_in: i64,
}

#[derive(Clone)]
pub struct FakeHeroku {
    pub base: String,
    state: Arc<Mutex<FakeState>>,
}

impl FakeHeroku {
    pub async fn start() -> FakeHeroku {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(FakeState {
            seen: Vec::new(),
            failures: HashMap::new(),
            hanging: HashSet::new(),
            issued: 0,
            expires_in: 28_800,
        }));
        let router = Router::new().fallback(answer).with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        FakeHeroku { base, state }
    }

    pub fn callback_url(&self, uuid: &str) -> String {
        format!("{}/addons/{uuid}", self.base)
    }

    /// Answers `status` to the next `times` requests for `path`.
    pub fn fail(&self, path: &str, status: u16, times: u32) {
        self.fail_with(path, status, times, None);
    }

    pub fn fail_with(&self, path: &str, status: u16, times: u32, retry_after: Option<u64>) {
        let failure = Failure {
            status,
            times,
            retry_after,
        };
        self.state
            .lock()
            .unwrap()
            .failures
            .insert(path.to_owned(), failure);
    }

    /// Requests for `path` get no answer until [`FakeHeroku::unhang`].
    pub fn hang(&self, path: &str) {
        self.state.lock().unwrap().hanging.insert(path.to_owned());
    }

    pub fn unhang(&self, path: &str) {
        self.state.lock().unwrap().hanging.remove(path);
    }

    /// The lifetime of the tokens it issues from now on.
    pub fn expires_in(&self, seconds: i64) {
        self.state.lock().unwrap().expires_in = seconds;
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    pub fn paths(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.path).collect()
    }

    pub fn calls_to(&self, path: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.path == path).collect()
    }

    /// Waits for the `n`-th request to `path`.
    pub async fn wait_for_nth(&self, path: &str, n: usize) -> Seen {
        eventually(&format!("request {n} to {path}"), || async {
            self.calls_to(path).into_iter().nth(n - 1)
        })
        .await
    }

    pub async fn wait_for(&self, path: &str) -> Seen {
        self.wait_for_nth(path, 1).await
    }
}

async fn answer(
    State(state): State<Arc<Mutex<FakeState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    state.lock().unwrap().seen.push(Seen {
        method,
        path: path.clone(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        at: Instant::now(),
    });
    while state.lock().unwrap().hanging.contains(&path) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut fake = state.lock().unwrap();
    if let Some(failure) = fake.failures.get_mut(&path).filter(|f| f.times > 0) {
        failure.times -= 1;
        let status = StatusCode::from_u16(failure.status).unwrap();
        let mut response = (
            status,
            Json(json!({"id": "fake", "message": "fake failure"})),
        )
            .into_response();
        if let Some(seconds) = failure.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, seconds.to_string().parse().unwrap());
        }
        return response;
    }
    if path == "/oauth/token" {
        fake.issued += 1;
        let n = fake.issued;
        return Json(json!({
            "access_token": format!("tok-{n}"),
            "refresh_token": format!("ref-{n}"),
            "expires_in": fake.expires_in,
            "token_type": "Bearer",
            "user_id": "u-1",
        }))
        .into_response();
    }
    Json(json!({})).into_response()
}
