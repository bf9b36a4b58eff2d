//! The service end to end, in process: each request goes through the whole router with
//! `tower::ServiceExt::oneshot`, no port opened. The asynchronous provisioning tests (at the
//! end) also start a fake Heroku: an axum router on a loopback port the service calls back.

use axum::body::{to_bytes, Body, Bytes};
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::app::{app, session_key, AppState, Settings};
use crate::config::CONFIG_VAR;
use crate::sso::{sha1_hex, sha256_hex};

const USER: &str = "my-addon";
const PASSWORD: &str = "hunter2";
const SALT: &str = "2f97bfa52ca102f8874716e2eb1d3b4920ad0be4";
const PUBLIC_URL: &str = "http://localhost:5000";
const CLIENT_SECRET: &str = "client-secret-1";

fn service_with_salt(salt: Option<&str>) -> Router {
    app(AppState::new(Settings {
        username: USER.into(),
        password: PASSWORD.into(),
        sso_salt: salt.map(str::to_owned),
        session_key: session_key(None, salt),
        public_url: PUBLIC_URL.into(),
        client_secret: Some(CLIENT_SECRET.into()),
        identity_url: None,
    }))
}

fn service() -> Router {
    service_with_salt(Some(SALT))
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn cookies(&self) -> Vec<&str> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    /// The `name=value` part of every Set-Cookie, as a browser would send them back.
    fn cookie_header(&self) -> String {
        self.cookies()
            .iter()
            .map(|c| c.split(';').next().unwrap())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

async fn send(service: &Router, request: Request<Body>) -> Reply {
    let response = service.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    Reply {
        status,
        headers,
        body,
    }
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

fn api(method: &str, uri: &str, body: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, basic(USER, PASSWORD))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

async fn provision(service: &Router, body: Value) -> Reply {
    send(service, api("POST", "/heroku/resources", &body.to_string())).await
}

fn v3_body(uuid: &str) -> Value {
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

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn nav_data() -> String {
    URL_SAFE_NO_PAD.encode(r#"{"addon":"My <Addon>","appname":"my-app","addons":[]}"#)
}

fn v1_sso(id: &str, timestamp: i64) -> String {
    let token = sha1_hex(&format!("{id}:{SALT}:{timestamp}"));
    format!(
        "id={id}&token={token}&timestamp={timestamp}&nav-data={}&email=u%40example.com",
        nav_data()
    )
}

fn v3_sso(uuid: &str, timestamp: i64) -> String {
    let resource_token = sha1_hex(&format!("{uuid}:{SALT}:{timestamp}"));
    let user_token = sha256_hex(&format!("{uuid}:{SALT}:{timestamp}:user-1:u@example.com"));
    format!(
        "resource_id={uuid}&resource_token={resource_token}&user_scoped_resource_token={user_token}\
         &timestamp={timestamp}&user_id=user-1&email=u%40example.com&app=my-app&context_app=my-app\
         &nav-data={}",
        nav_data()
    )
}

fn sso_post(form: String) -> Request<Body> {
    Request::builder()
        .method("POST")
        .uri("/sso/login")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap()
}

fn get(uri: &str, cookies: &str) -> Request<Body> {
    Request::builder()
        .uri(uri)
        .header(header::COOKIE, cookies)
        .body(Body::empty())
        .unwrap()
}

/// Provisions with a uuid and returns (provider id, uuid).
async fn provisioned(service: &Router, uuid: &str) -> String {
    let reply = provision(service, v3_body(uuid)).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    reply.json()["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn provision_answers_201_with_the_config_var() {
    let reply = provision(&service(), v3_body("uuid-1")).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    let body = reply.json();
    let id = body["id"].as_str().unwrap();
    assert!(!id.is_empty());
    assert_eq!(
        body["config"],
        json!({ CONFIG_VAR: format!("{PUBLIC_URL}/resources/{id}") })
    );
    assert!(body["message"].is_string());
}

#[tokio::test]
async fn provision_accepts_a_v1_body_and_never_uses_heroku_id() {
    let body = json!({"heroku_id": "app123@heroku.com", "plan": "test", "region": "us",
        "callback_url": "http://localhost:7779/callback/999", "logplex_token": "t", "options": {}});
    let reply = provision(&service(), body).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert!(!reply.json()["id"].as_str().unwrap().contains("app123"));
}

#[tokio::test]
async fn same_uuid_again_gives_the_same_resource() {
    let service = service();
    let first = provision(&service, v3_body("uuid-1")).await;
    let again = provision(&service, v3_body("uuid-1")).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["id"], first.json()["id"]);
    assert_eq!(again.json()["config"], first.json()["config"]);
}

#[tokio::test]
async fn other_uuid_or_no_uuid_gives_a_new_resource() {
    let service = service();
    let a = provisioned(&service, "uuid-a").await;
    let b = provisioned(&service, "uuid-b").await;
    assert_ne!(a, b);
    let no_uuid = json!({"plan": "test"});
    let c = provision(&service, no_uuid.clone()).await;
    let d = provision(&service, no_uuid).await;
    assert_eq!(
        (c.status, d.status),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert_ne!(c.json()["id"], d.json()["id"]);
}

#[tokio::test]
async fn wrong_or_missing_credentials_get_401_with_a_challenge() {
    let service = service();
    let body = v3_body("uuid-1").to_string();
    let wrong_password = Request::post("/heroku/resources")
        .header(header::AUTHORIZATION, basic(USER, "nope"))
        .body(Body::from(body.clone()))
        .unwrap();
    let wrong_user = Request::post("/heroku/resources")
        .header(header::AUTHORIZATION, basic("someone", PASSWORD))
        .body(Body::from(body.clone()))
        .unwrap();
    let missing = Request::post("/heroku/resources")
        .body(Body::from(body))
        .unwrap();
    let garbage = Request::put("/heroku/resources/x")
        .header(header::AUTHORIZATION, "Basic %%%")
        .body(Body::empty())
        .unwrap();
    for request in [wrong_password, wrong_user, missing, garbage] {
        let reply = send(&service, request).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        let challenge = reply.headers[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(challenge.starts_with("Basic realm=\""), "{challenge}");
        assert!(reply.json()["message"].is_string());
    }
    let delete = send(
        &service,
        Request::delete("/heroku/resources/x")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(delete.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn malformed_json_gets_400_with_a_json_message() {
    let service = service();
    for body in ["{not json", "", "{\"plan\": \"test\""] {
        let reply = send(&service, api("POST", "/heroku/resources", body)).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body:?}");
        assert!(reply.json()["message"].is_string());
    }
}

#[tokio::test]
async fn a_body_without_a_plan_gets_422() {
    let service = service();
    for body in [
        json!({"uuid": "u"}),
        json!({"plan": ""}),
        json!({"plan": 7}),
        json!([1]),
        json!("plan"),
    ] {
        let reply = provision(&service, body.clone()).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(reply.json()["message"].is_string());
    }
}

#[tokio::test]
async fn plan_change_keeps_the_config() {
    let service = service();
    let first = provision(&service, v3_body("uuid-1")).await.json();
    let id = first["id"].as_str().unwrap();
    let uri = format!("/heroku/resources/{id}");
    let reply = send(
        &service,
        api("PUT", &uri, r#"{"plan": "foo", "uuid": "uuid-1"}"#),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.json()["config"], first["config"]);
    assert!(reply.json()["message"].is_string());

    assert_eq!(
        send(&service, api("PUT", &uri, "{oops")).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(&service, api("PUT", &uri, "{}")).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn unknown_ids_get_404() {
    let service = service();
    let put = send(
        &service,
        api("PUT", "/heroku/resources/nope", r#"{"plan": "foo"}"#),
    )
    .await;
    assert_eq!(put.status, StatusCode::NOT_FOUND);
    assert!(put.json()["message"].is_string());
    let delete = send(&service, api("DELETE", "/heroku/resources/nope", "")).await;
    assert_eq!(delete.status, StatusCode::NOT_FOUND);
    assert!(delete.json()["message"].is_string());
    let sso_get = send(
        &service,
        get(
            &format!("/heroku/resources/nope?{}", v1_sso("nope", now())),
            "",
        ),
    )
    .await;
    assert_eq!(sso_get.status, StatusCode::NOT_FOUND);
    let sso_post = send(&service, sso_post(v3_sso("no-such-uuid", now()))).await;
    assert_eq!(sso_post.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn deprovision_answers_204_and_frees_the_uuid() {
    let service = service();
    let id = provisioned(&service, "uuid-1").await;
    let reply = send(
        &service,
        api("DELETE", &format!("/heroku/resources/{id}"), ""),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(reply.body.is_empty());
    let again = send(
        &service,
        api("DELETE", &format!("/heroku/resources/{id}"), ""),
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    let new_id = provisioned(&service, "uuid-1").await;
    assert_ne!(new_id, id);
}

/// Follows a successful SSO reply to the dashboard and checks what it shows.
async fn assert_logged_in(service: &Router, reply: &Reply, id: &str) {
    assert_eq!(reply.status, StatusCode::FOUND, "{}", reply.text());
    assert_eq!(reply.headers[header::LOCATION], "/");
    let nav = reply
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("heroku-nav-data="))
        .unwrap();
    assert!(
        nav.starts_with(&format!("heroku-nav-data={}; Path=/", nav_data())),
        "{nav}"
    );

    let page = send(service, get("/", &reply.cookie_header())).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains(r#"<div id="heroku-header">"#), "{html}");
    assert!(
        html.contains("My &lt;Addon&gt;"),
        "add-on name, escaped: {html}"
    );
    assert!(html.contains("my-app"), "app name: {html}");
    assert!(
        html.contains(id) && html.contains("test"),
        "resource and plan: {html}"
    );
}

#[tokio::test]
async fn sso_with_a_v1_token_by_get_and_post() {
    let service = service();
    let id = provisioned(&service, "uuid-1").await;
    let by_get = send(
        &service,
        get(
            &format!("/heroku/resources/{id}?{}", v1_sso(&id, now())),
            "",
        ),
    )
    .await;
    assert_logged_in(&service, &by_get, &id).await;
    let by_post = send(&service, sso_post(v1_sso(&id, now()))).await;
    assert_logged_in(&service, &by_post, &id).await;
}

#[tokio::test]
async fn sso_with_v3_resource_tokens_by_post_and_get() {
    let service = service();
    let id = provisioned(&service, "uuid-1").await;
    let by_post = send(&service, sso_post(v3_sso("uuid-1", now()))).await;
    assert_logged_in(&service, &by_post, &id).await;
    // Legacy GET carrying v3 parameters: found by resource_id.
    let by_get = send(
        &service,
        get(
            &format!("/heroku/resources/{id}?{}", v3_sso("uuid-1", now())),
            "",
        ),
    )
    .await;
    assert_logged_in(&service, &by_get, &id).await;
}

#[tokio::test]
async fn sso_refuses_wrong_tokens() {
    let service = service();
    let id = provisioned(&service, "uuid-1").await;
    let ts = now();
    let forms = [
        format!("id={id}&token={}&timestamp={ts}", "0".repeat(40)),
        format!("id={id}&timestamp={ts}"),
        // Right resource token, wrong user-scoped token.
        v3_sso("uuid-1", ts).replace("user_id=user-1", "user_id=user-2"),
        // Right v1 token, wrong resource token.
        format!(
            "{}&resource_id=uuid-1&resource_token={}",
            v1_sso(&id, ts),
            "0".repeat(40)
        ),
    ];
    for form in forms {
        let reply = send(&service, sso_post(form.clone())).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{form}");
        assert!(reply.cookies().is_empty());
    }
}

#[tokio::test]
async fn sso_refuses_stale_future_and_garbage_timestamps() {
    let service = service();
    let id = provisioned(&service, "uuid-1").await;
    let stale = send(&service, sso_post(v1_sso(&id, now() - 6 * 60))).await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN);
    let future = send(&service, sso_post(v3_sso("uuid-1", now() + 6 * 60))).await;
    assert_eq!(future.status, StatusCode::FORBIDDEN);
    let garbage = send(
        &service,
        sso_post(format!("id={id}&token=abc&timestamp=yesterday")),
    )
    .await;
    assert_eq!(garbage.status, StatusCode::FORBIDDEN);
    let uri = format!("/heroku/resources/{id}?{}", v1_sso(&id, now() - 6 * 60));
    assert_eq!(
        send(&service, get(&uri, "")).await.status,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn dashboard_needs_a_session() {
    let service = service();
    let anonymous = send(&service, get("/", "")).await;
    assert_eq!(anonymous.status, StatusCode::FORBIDDEN);
    assert!(anonymous.text().contains("log in through Heroku"));
    let forged = send(
        &service,
        get("/", "addon-session=eyJ9.AAAA; heroku-nav-data=x"),
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn garbage_nav_data_shows_nothing_but_works() {
    let service = service();
    let id = provisioned(&service, "uuid-1").await;
    let ts = now();
    let token = sha1_hex(&format!("{id}:{SALT}:{ts}"));
    let reply = send(
        &service,
        sso_post(format!(
            "id={id}&token={token}&timestamp={ts}&nav-data=%21%21not-json"
        )),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FOUND);
    let page = send(&service, get("/", &reply.cookie_header())).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text().contains(r#"<div id="heroku-header"></div>"#),
        "{}",
        page.text()
    );
}

#[tokio::test]
async fn unknown_routes_get_a_json_404() {
    let reply = send(&service(), get("/nowhere", "")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert!(reply.json()["message"].is_string());
}

#[tokio::test]
async fn without_a_salt_sso_is_refused() {
    let service = service_with_salt(None);
    let id = provisioned(&service, "uuid-1").await;
    // Even a token made with an empty salt: it would be forgeable.
    let ts = now();
    let token = sha1_hex(&format!("{id}::{ts}"));
    let reply = send(
        &service,
        sso_post(format!("id={id}&token={token}&timestamp={ts}")),
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.cookies().is_empty());
}

// Asynchronous provisioning (v3) against a fake Heroku on loopback ---------------------------

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::extract::State;
use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::app::ASYNC_PLAN;
use crate::heroku::API_ACCEPT;
use crate::store::{Status, Tokens};

/// A request the fake received.
#[derive(Clone, Debug)]
struct Seen {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: String,
}

impl Seen {
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }

    fn form(&self) -> HashMap<String, String> {
        form_urlencoded::parse(self.body.as_bytes())
            .into_owned()
            .collect()
    }
}

#[derive(Default)]
struct FakeState {
    seen: Vec<Seen>,
    /// path → (status to answer instead, how many more times).
    failures: HashMap<String, (u16, u32)>,
    issued: u32,
}

/// Heroku's identity service and Platform API on one loopback origin, as kensa's fake does:
/// tokens `tok-1`, `tok-2`… (refresh tokens `ref-1`…), `{}` to every API call.
#[derive(Clone)]
struct FakeHeroku {
    base: String,
    state: Arc<Mutex<FakeState>>,
}

impl FakeHeroku {
    async fn start() -> FakeHeroku {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(FakeState::default()));
        let router = Router::new()
            .fallback(fake_answer)
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        FakeHeroku { base, state }
    }

    fn callback_url(&self, uuid: &str) -> String {
        format!("{}/addons/{uuid}", self.base)
    }

    /// Answers `status` to the next `times` requests for `path`.
    fn fail(&self, path: &str, status: u16, times: u32) {
        let mut fake = self.state.lock().unwrap();
        fake.failures.insert(path.to_owned(), (status, times));
    }

    fn seen(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    fn paths(&self) -> Vec<String> {
        self.seen().into_iter().map(|s| s.path).collect()
    }

    fn calls_to(&self, path: &str) -> Vec<Seen> {
        self.seen().into_iter().filter(|s| s.path == path).collect()
    }

    /// Waits (10 s at most) for a request to `path`.
    async fn wait_for(&self, path: &str) -> Seen {
        let fake = self.clone();
        let path = path.to_owned();
        eventually(&format!("a request to {path}"), move || {
            fake.calls_to(&path).into_iter().next()
        })
        .await
    }
}

async fn fake_answer(
    State(state): State<Arc<Mutex<FakeState>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut fake = state.lock().unwrap();
    let path = uri.path().to_owned();
    fake.seen.push(Seen {
        method,
        path: path.clone(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    if let Some((status, times)) = fake.failures.get_mut(&path) {
        if *times > 0 {
            *times -= 1;
            let status = StatusCode::from_u16(*status).unwrap();
            return (
                status,
                Json(json!({"id": "fake", "message": "fake failure"})),
            )
                .into_response();
        }
    }
    if path == "/oauth/token" {
        fake.issued += 1;
        let n = fake.issued;
        return Json(json!({
            "access_token": format!("tok-{n}"),
            "refresh_token": format!("ref-{n}"),
            "expires_in": 28800,
            "token_type": "Bearer",
            "user_id": "u-1",
        }))
        .into_response();
    }
    Json(json!({})).into_response()
}

/// Polls `check` every 10 ms until it gives a value; fails the test after 10 s.
async fn eventually<T>(what: &str, check: impl Fn() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The service with its state, to look at the store.
fn async_service(identity_url: Option<String>) -> (AppState, Router) {
    let state = AppState::new(Settings {
        username: USER.into(),
        password: PASSWORD.into(),
        sso_salt: Some(SALT.into()),
        session_key: session_key(None, Some(SALT)),
        public_url: PUBLIC_URL.into(),
        client_secret: Some(CLIENT_SECRET.into()),
        identity_url,
    });
    (state.clone(), app(state))
}

fn async_body(callback_url: &str, uuid: &str, code: &str) -> Value {
    json!({
        "uuid": uuid,
        "name": "acme-inc-async",
        "plan": ASYNC_PLAN,
        "region": "amazon-web-services::us-east-1",
        "callback_url": callback_url,
        "oauth_grant": {"code": code, "expires_at": "2030-01-01T00:00:00Z", "type": "authorization_code"},
        "options": {},
    })
}

async fn wait_status(state: &AppState, id: &str, status: Status) {
    let (store, id2) = (state.store.clone(), id.to_owned());
    eventually(&format!("{id} to be {status:?}"), move || {
        (store.get(&id2).map(|r| r.status) == Some(status)).then_some(())
    })
    .await
}

/// Provisions on the async plan and waits until the resource is ready; returns its id.
async fn provisioned_async(
    state: &AppState,
    service: &Router,
    fake: &FakeHeroku,
    uuid: &str,
) -> String {
    let reply = provision(
        service,
        async_body(&fake.callback_url(uuid), uuid, "code-1"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    wait_status(state, &id, Status::Ready).await;
    id
}

#[tokio::test]
async fn async_plan_answers_202_then_exchanges_sets_config_and_marks_provisioned() {
    let fake = FakeHeroku::start().await;
    let (state, service) = async_service(None);
    let uuid = "uuid-async-1";
    let reply = provision(
        &service,
        async_body(&fake.callback_url(uuid), uuid, "grant-code-1"),
    )
    .await;

    assert_eq!(reply.status, StatusCode::ACCEPTED);
    let body = reply.json();
    let id = body["id"].as_str().unwrap().to_owned();
    assert!(body["message"].is_string());
    assert!(body.get("config").is_none(), "no config in a 202: {body}");

    let done = fake
        .wait_for(&format!("/addons/{uuid}/actions/provision"))
        .await;
    wait_status(&state, &id, Status::Ready).await;
    assert_eq!(
        fake.paths(),
        [
            "/oauth/token".to_owned(),
            format!("/addons/{uuid}/config"),
            format!("/addons/{uuid}/actions/provision")
        ]
    );

    // 1. The grant exchange: a form POST to the callback's origin (no HEROKU_IDENTITY_URL).
    let exchange = &fake.calls_to("/oauth/token")[0];
    assert_eq!(exchange.method, Method::POST);
    assert_eq!(
        exchange.header(header::CONTENT_TYPE),
        "application/x-www-form-urlencoded"
    );
    let form = exchange.form();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], "grant-code-1");
    assert_eq!(form["client_secret"], CLIENT_SECRET);

    // 2. The config, with the issued token and the API's version header.
    let config = &fake.calls_to(&format!("/addons/{uuid}/config"))[0];
    assert_eq!(config.method, Method::PATCH);
    assert_eq!(config.header(header::AUTHORIZATION), "Bearer tok-1");
    assert_eq!(config.header(header::ACCEPT), API_ACCEPT);
    assert_eq!(config.header(header::CONTENT_TYPE), "application/json");
    let sent: Value = serde_json::from_str(&config.body).unwrap();
    assert_eq!(
        sent,
        json!({"config": [{"name": CONFIG_VAR, "value": format!("{PUBLIC_URL}/resources/{id}")}]})
    );

    // 3. The provision action, same headers.
    assert_eq!(done.method, Method::POST);
    assert_eq!(done.header(header::AUTHORIZATION), "Bearer tok-1");
    assert_eq!(done.header(header::ACCEPT), API_ACCEPT);

    // The tokens are kept with the resource.
    let tokens = state
        .store
        .get(&id)
        .unwrap()
        .callback
        .unwrap()
        .tokens
        .unwrap();
    assert_eq!(tokens.access_token, "tok-1");
    assert_eq!(tokens.refresh_token.as_deref(), Some("ref-1"));
    assert!(tokens.expires_at.is_some());

    // A replay once done: the same resource, with its config.
    let again = provision(
        &service,
        async_body(&fake.callback_url(uuid), uuid, "grant-code-1"),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json()["id"], id);
    assert_eq!(
        again.json()["config"][CONFIG_VAR],
        format!("{PUBLIC_URL}/resources/{id}")
    );
    assert_eq!(
        fake.calls_to("/oauth/token").len(),
        1,
        "a replay exchanges nothing"
    );
}

#[tokio::test]
async fn concurrent_copies_of_an_async_provision_make_one_resource_and_one_flow() {
    let fake = FakeHeroku::start().await;
    // The first exchange fails once, so the flow is still running while the copies arrive.
    fake.fail("/oauth/token", 503, 1);
    let (state, service) = async_service(None);
    let uuid = "uuid-async-2";
    let copies: Vec<_> = (0..5)
        .map(|_| {
            let (service, body) = (
                service.clone(),
                async_body(&fake.callback_url(uuid), uuid, "code-2"),
            );
            tokio::spawn(async move { provision(&service, body).await })
        })
        .collect();
    let mut ids = Vec::new();
    for copy in copies {
        let reply = copy.await.unwrap();
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text());
        ids.push(reply.json()["id"].as_str().unwrap().to_owned());
    }
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");

    fake.wait_for(&format!("/addons/{uuid}/actions/provision"))
        .await;
    wait_status(&state, &ids[0], Status::Ready).await;
    assert_eq!(
        fake.calls_to("/oauth/token").len(),
        2,
        "one flow: one failure, one retry"
    );
    assert_eq!(fake.calls_to(&format!("/addons/{uuid}/config")).len(), 1);
    assert_eq!(
        fake.calls_to(&format!("/addons/{uuid}/actions/provision"))
            .len(),
        1
    );
    assert_eq!(state.store.find_by_uuid(uuid).unwrap().id, ids[0]);
}

#[tokio::test]
async fn each_step_is_retried_on_5xx() {
    let fake = FakeHeroku::start().await;
    let uuid = "uuid-async-3";
    fake.fail("/oauth/token", 503, 2);
    fake.fail(&format!("/addons/{uuid}/config"), 500, 1);
    fake.fail(&format!("/addons/{uuid}/actions/provision"), 502, 2);
    let (state, service) = async_service(None);
    let id = provisioned_async(&state, &service, &fake, uuid).await;

    assert_eq!(fake.calls_to("/oauth/token").len(), 3);
    assert_eq!(fake.calls_to(&format!("/addons/{uuid}/config")).len(), 2);
    assert_eq!(
        fake.calls_to(&format!("/addons/{uuid}/actions/provision"))
            .len(),
        3
    );
    // Every try of the exchange sends the same form; the API calls use the token it gave.
    assert!(fake
        .calls_to("/oauth/token")
        .iter()
        .all(|c| c.form()["code"] == "code-1"));
    assert_eq!(
        fake.calls_to(&format!("/addons/{uuid}/config"))[1].header(header::AUTHORIZATION),
        "Bearer tok-1"
    );
    assert_eq!(state.store.get(&id).unwrap().status, Status::Ready);
}

#[tokio::test]
async fn three_5xx_in_a_row_fail_the_resource() {
    let fake = FakeHeroku::start().await;
    fake.fail("/oauth/token", 502, u32::MAX);
    let (state, service) = async_service(None);
    let uuid = "uuid-async-4";
    let reply = provision(&service, async_body(&fake.callback_url(uuid), uuid, "c")).await;
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    wait_status(&state, &id, Status::Failed).await;
    assert_eq!(fake.calls_to("/oauth/token").len(), 3);
    assert_eq!(fake.paths().len(), 3, "nothing after the exchange failed");
    // A replay of a failed one still answers 202 with the same id, and starts nothing.
    let again = provision(&service, async_body(&fake.callback_url(uuid), uuid, "c")).await;
    assert_eq!(
        (again.status, again.json()["id"].clone()),
        (StatusCode::ACCEPTED, json!(id))
    );
}

#[tokio::test]
async fn a_4xx_is_never_retried() {
    let fake = FakeHeroku::start().await;
    let uuid = "uuid-async-5";
    fake.fail(&format!("/addons/{uuid}/config"), 401, u32::MAX);
    let (state, service) = async_service(None);
    let reply = provision(&service, async_body(&fake.callback_url(uuid), uuid, "c")).await;
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    wait_status(&state, &id, Status::Failed).await;
    assert_eq!(
        fake.paths(),
        ["/oauth/token".to_owned(), format!("/addons/{uuid}/config")]
    );
}

#[tokio::test]
async fn network_errors_are_retried_then_fail_the_resource() {
    // A port nobody listens on any more.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let (state, service) = async_service(None);
    let callback = format!("http://127.0.0.1:{port}/addons/uuid-async-6");
    let started = Instant::now();
    let reply = provision(&service, async_body(&callback, "uuid-async-6", "c")).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    wait_status(&state, &id, Status::Failed).await;
    // Three tries: two pauses (0.25 s, then 0.5 s) before giving up.
    assert!(
        started.elapsed() >= Duration::from_millis(750),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_exchange_goes_to_heroku_identity_url_when_set() {
    let identity = FakeHeroku::start().await;
    let api = FakeHeroku::start().await;
    let (state, service) = async_service(Some(format!("{}/", identity.base)));
    let uuid = "uuid-async-7";
    provisioned_async(&state, &service, &api, uuid).await;
    assert_eq!(identity.paths(), ["/oauth/token"]);
    assert_eq!(
        identity.calls_to("/oauth/token")[0].form()["client_secret"],
        CLIENT_SECRET
    );
    assert_eq!(
        api.paths(),
        [
            format!("/addons/{uuid}/config"),
            format!("/addons/{uuid}/actions/provision")
        ]
    );
}

#[tokio::test]
async fn deprovisioning_an_async_resource_answers_202_then_calls_actions_deprovision() {
    let fake = FakeHeroku::start().await;
    let (state, service) = async_service(None);
    let uuid = "uuid-async-8";
    let id = provisioned_async(&state, &service, &fake, uuid).await;

    let uri = format!("/heroku/resources/{id}");
    let reply = send(&service, api("DELETE", &uri, "")).await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    assert!(reply.json()["message"].is_string());
    assert!(state.store.get(&id).is_none(), "removed at once");
    assert_eq!(
        send(&service, api("DELETE", &uri, "")).await.status,
        StatusCode::NOT_FOUND
    );

    let call = fake
        .wait_for(&format!("/addons/{uuid}/actions/deprovision"))
        .await;
    assert_eq!(call.method, Method::POST);
    assert_eq!(call.header(header::AUTHORIZATION), "Bearer tok-1");
    assert_eq!(call.header(header::ACCEPT), API_ACCEPT);
    assert_eq!(
        fake.calls_to("/oauth/token").len(),
        1,
        "a valid token is not refreshed"
    );
}

#[tokio::test]
async fn an_expired_token_is_refreshed_before_deprovisioning() {
    let fake = FakeHeroku::start().await;
    let (state, service) = async_service(None);
    let uuid = "uuid-async-9";
    let id = provisioned_async(&state, &service, &fake, uuid).await;
    let expired = Tokens {
        access_token: "tok-1".into(),
        refresh_token: Some("ref-1".into()),
        expires_at: Some(SystemTime::now() - Duration::from_secs(1)),
    };
    assert!(state.store.set_tokens(&id, expired));

    let reply = send(
        &service,
        api("DELETE", &format!("/heroku/resources/{id}"), ""),
    )
    .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED);
    let call = fake
        .wait_for(&format!("/addons/{uuid}/actions/deprovision"))
        .await;
    let refresh = fake.calls_to("/oauth/token")[1].form();
    assert_eq!(refresh["grant_type"], "refresh_token");
    assert_eq!(refresh["refresh_token"], "ref-1");
    assert_eq!(refresh["client_secret"], CLIENT_SECRET);
    assert_eq!(call.header(header::AUTHORIZATION), "Bearer tok-2");
}

#[tokio::test]
async fn an_async_resource_without_a_token_deprovisions_synchronously() {
    let fake = FakeHeroku::start().await;
    fake.fail("/oauth/token", 400, u32::MAX);
    let (state, service) = async_service(None);
    let uuid = "uuid-async-10";
    let reply = provision(
        &service,
        async_body(&fake.callback_url(uuid), uuid, "used-code"),
    )
    .await;
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    wait_status(&state, &id, Status::Failed).await;
    let reply = send(
        &service,
        api("DELETE", &format!("/heroku/resources/{id}"), ""),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert_eq!(
        fake.paths(),
        ["/oauth/token"],
        "Heroku is not called without a token"
    );
}

#[tokio::test]
async fn the_async_plan_needs_v3_fields_and_a_client_secret() {
    let service = service();
    let callback = "http://127.0.0.1:9/addons/u";
    for body in [
        json!({"plan": ASYNC_PLAN, "uuid": "u"}),
        json!({"plan": ASYNC_PLAN, "uuid": "u", "callback_url": callback}),
        json!({"plan": ASYNC_PLAN, "uuid": "u", "callback_url": callback, "oauth_grant": "code"}),
        json!({"plan": ASYNC_PLAN, "uuid": "u", "callback_url": "/addons/u", "oauth_grant": {"code": "c"}}),
        json!({"plan": ASYNC_PLAN, "uuid": "u", "callback_url": 7, "oauth_grant": {"code": "c"}}),
    ] {
        let reply = provision(&service, body.clone()).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(reply.json()["message"].is_string());
    }

    let no_secret = app(AppState::new(Settings {
        username: USER.into(),
        password: PASSWORD.into(),
        sso_salt: None,
        session_key: session_key(None, None),
        public_url: PUBLIC_URL.into(),
        client_secret: None,
        identity_url: None,
    }));
    let reply = provision(&no_secret, async_body(callback, "u", "c")).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.json()["message"].is_string());
}

#[tokio::test]
async fn other_plans_stay_synchronous_whatever_the_callback_fields() {
    let fake = FakeHeroku::start().await;
    let service = service();
    let mut body = async_body(&fake.callback_url("uuid-sync"), "uuid-sync", "c");
    body["plan"] = json!("test");
    let reply = provision(&service, body).await;
    assert_eq!(reply.status, StatusCode::CREATED);
    assert!(reply.json()["config"][CONFIG_VAR].is_string());
    let odd = json!({"plan": "test", "callback_url": 7, "oauth_grant": "x"});
    assert_eq!(provision(&service, odd).await.status, StatusCode::CREATED);
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    let delete = send(
        &service,
        api("DELETE", &format!("/heroku/resources/{id}"), ""),
    )
    .await;
    assert_eq!(delete.status, StatusCode::NO_CONTENT);
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        fake.paths().is_empty(),
        "Heroku is never called for a synchronous plan"
    );
}
