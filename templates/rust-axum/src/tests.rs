//! The service end to end, in process: each request goes through the whole router with
//! `tower::ServiceExt::oneshot`, no port opened.

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

fn service_with_salt(salt: Option<&str>) -> Router {
    app(AppState::new(Settings {
        username: USER.into(),
        password: PASSWORD.into(),
        sso_salt: salt.map(str::to_owned),
        session_key: session_key(None, salt),
        public_url: PUBLIC_URL.into(),
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
