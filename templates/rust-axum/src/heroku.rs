//! Asynchronous provisioning (v3, PROTOCOL §5). Once `provision` has answered `202`, a task
//! spawned on the runtime:
//!
//! 1. exchanges the request's `oauth_grant` code at Heroku's identity service
//!    (`POST <identity>/oauth/token`) and keeps the tokens with the resource;
//! 2. sets the config through the Platform API (`PATCH <callback_url>/config`);
//! 3. marks the add-on provisioned (`POST <callback_url>/actions/provision`).
//!
//! A deprovision answered `202` then calls `POST <callback_url>/actions/deprovision`.
//!
//! Each call is tried up to 3 times on network errors, timeouts and `5xx` answers, with a
//! doubling pause, and never again after a `4xx` (the request itself is wrong: a used grant
//! code, a bad token). Failures are logged with the step and the status, never with the client
//! secret or a token. Spawned tasks are fine for a template; a provider with a database runs
//! the same functions from a job queue, so that the work survives a restart.

use std::error::Error as _;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::http::{header, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::app::AppState;
use crate::store::{Resource, Status, Tokens};

/// Heroku's Platform API answers only requests that ask for version 3.
pub const API_ACCEPT: &str = "application/vnd.heroku+json; version=3";
const HEROKU_API_HOST: &str = "api.heroku.com";
const HEROKU_IDENTITY_URL: &str = "https://id.heroku.com";

const TRIES: u32 = 3;
/// Pause before the second try; doubled before each later one.
const BACKOFF: Duration = Duration::from_millis(250);
/// For one try, connecting and reading the whole answer included.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Answers are small JSON documents; refuse to buffer anything much bigger.
const MAX_ANSWER: usize = 256 * 1024;
/// Refresh an access token that expires within this margin before using it.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// hyper-util's pooled client, over rustls for `https:` (and plain `http:` for loopback tests
/// and kensa's fake of Heroku). Cheap to clone: clones share the pool.
pub type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

pub fn http_client() -> HttpClient {
    let connector = HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(connector)
}

/// Where Heroku's identity service is, the same rule in every kensa template:
/// `HEROKU_IDENTITY_URL` when set; `https://id.heroku.com` for callbacks to `api.heroku.com`
/// (real Heroku); otherwise the origin of `callback_url` (kensa's loopback fake of Heroku serves
/// both on one origin). `None` when `callback_url` is not an absolute URL.
pub fn identity_url(configured: Option<&str>, callback_url: &str) -> Option<String> {
    if let Some(url) = configured.map(str::trim).filter(|url| !url.is_empty()) {
        return Some(url.trim_end_matches('/').to_owned());
    }
    let uri: Uri = callback_url.trim().parse().ok()?;
    let (scheme, authority) = (uri.scheme_str()?, uri.authority()?);
    let host = authority.host();
    if host.eq_ignore_ascii_case(HEROKU_API_HOST) {
        return Some(HEROKU_IDENTITY_URL.to_owned());
    }
    Some(match authority.port() {
        Some(port) => format!("{scheme}://{host}:{port}"),
        None => format!("{scheme}://{host}"),
    })
}

/// True for an absolute `http:` or `https:` URL with a host: what a v3 `callback_url` is.
pub fn is_callback_url(url: &str) -> bool {
    url.parse::<Uri>().is_ok_and(|uri| {
        matches!(uri.scheme_str(), Some("http" | "https"))
            && uri.host().is_some_and(|host| !host.is_empty())
    })
}

/// Steps 1–3 for a resource just answered `202`; it ends `Ready`, or `Failed` with the reason
/// in the log. Stops quietly if the resource is deprovisioned meanwhile.
pub async fn provision(state: AppState, resource: Resource, code: String) {
    let id = resource.id.clone();
    match provision_steps(&state, &resource, &code).await {
        Ok(true) => println!("provisioned {id} (asynchronously)"),
        Ok(false) => println!("{id} was deprovisioned while provisioning; stopped"),
        Err(why) => {
            state.store.set_status(&id, Status::Failed);
            eprintln!("asynchronous provisioning of {id} failed: {why}");
        }
    }
}

/// `Ok(false)` when the resource disappeared between two steps.
async fn provision_steps(
    state: &AppState,
    resource: &Resource,
    code: &str,
) -> Result<bool, String> {
    let Some(callback) = &resource.callback else {
        return Err("no callback_url".into());
    };
    let callback_url = callback.url.trim_end_matches('/');
    let tokens = token_request(
        state,
        &resource.id,
        "grant exchange",
        &callback.url,
        &[("grant_type", "authorization_code"), ("code", code)],
    )
    .await?;
    let token = tokens.access_token.clone();
    if !state.store.set_tokens(&resource.id, tokens) {
        return Ok(false);
    }

    let config: Vec<Value> = state
        .config_for(resource)
        .into_iter()
        .map(|(name, value)| json!({ "name": name, "value": value }))
        .collect();
    let body = json!({ "config": config }).to_string();
    let set_config = Call::api(Method::PATCH, format!("{callback_url}/config"), &token).json(body);
    call(state, &resource.id, "PATCH config", set_config).await?;
    if state.store.get(&resource.id).is_none() {
        return Ok(false);
    }

    let done = Call::api(
        Method::POST,
        format!("{callback_url}/actions/provision"),
        &token,
    );
    call(state, &resource.id, "POST actions/provision", done).await?;
    Ok(state.store.set_status(&resource.id, Status::Ready))
}

/// Tells Heroku that a removed resource is gone, with its token (refreshed first if it has
/// expired: a deprovision may come months after the grant).
pub async fn deprovision(state: AppState, id: String, callback_url: String, tokens: Tokens) {
    let id = &id;
    let outcome = async {
        let token = current_token(&state, id, &callback_url, tokens).await?;
        let url = format!("{}/actions/deprovision", callback_url.trim_end_matches('/'));
        call(
            &state,
            id,
            "POST actions/deprovision",
            Call::api(Method::POST, url, &token),
        )
        .await
    };
    match outcome.await {
        Ok(_) => println!("deprovisioned {id} (asynchronously)"),
        Err(why) => eprintln!("asynchronous deprovisioning of {id} failed: {why}"),
    }
}

async fn current_token(
    state: &AppState,
    id: &str,
    callback_url: &str,
    tokens: Tokens,
) -> Result<String, String> {
    let expired = tokens
        .expires_at
        .is_some_and(|at| SystemTime::now() + EXPIRY_MARGIN >= at);
    match (&tokens.refresh_token, expired) {
        (Some(refresh_token), true) => {
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.as_str()),
            ];
            let fresh = token_request(state, id, "token refresh", callback_url, &form).await?;
            Ok(fresh.access_token)
        }
        _ => Ok(tokens.access_token),
    }
}

/// What `POST /oauth/token` answers (Heroku also sends `token_type` and `user_id`).
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<u64>,
}

/// `POST <identity>/oauth/token` with `form` and the client secret.
async fn token_request(
    state: &AppState,
    id: &str,
    step: &'static str,
    callback_url: &str,
    form: &[(&str, &str)],
) -> Result<Tokens, String> {
    let identity = identity_url(state.settings.identity_url.as_deref(), callback_url)
        .ok_or_else(|| format!("{step}: callback_url is not an absolute URL"))?;
    let secret = state
        .settings
        .client_secret
        .as_deref()
        .ok_or_else(|| format!("{step}: HEROKU_CLIENT_SECRET is not set"))?;
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .append_pair("client_secret", secret)
        .finish();
    let request = Call {
        method: Method::POST,
        url: format!("{identity}/oauth/token"),
        headers: vec![(header::ACCEPT, HeaderValue::from_static("application/json"))],
        body: Some(("application/x-www-form-urlencoded", body.into())),
    };
    let answer = call(state, id, step, request).await?;
    let answer: TokenAnswer = serde_json::from_slice(&answer)
        .ok()
        .filter(|a: &TokenAnswer| !a.access_token.is_empty())
        .ok_or_else(|| format!("{step} answered no access_token"))?;
    Ok(Tokens {
        access_token: answer.access_token,
        refresh_token: answer.refresh_token.filter(|t| !t.is_empty()),
        expires_at: answer
            .expires_in
            .map(|seconds| SystemTime::now() + Duration::from_secs(seconds)),
    })
}

/// One request, kept so it can be built again for each try.
struct Call {
    method: Method,
    url: String,
    headers: Vec<(header::HeaderName, HeaderValue)>,
    /// Content type and bytes; `None` sends an empty body with `Content-Length: 0`.
    body: Option<(&'static str, Bytes)>,
}

impl Call {
    /// A Platform API call: the add-on's Bearer token and the version-3 Accept header.
    fn api(method: Method, url: String, token: &str) -> Call {
        let mut bearer = HeaderValue::from_str(&format!("Bearer {token}"))
            .unwrap_or_else(|_| HeaderValue::from_static("Bearer invalid-token"));
        bearer.set_sensitive(true);
        Call {
            method,
            url,
            headers: vec![
                (header::AUTHORIZATION, bearer),
                (header::ACCEPT, HeaderValue::from_static(API_ACCEPT)),
            ],
            body: None,
        }
    }

    fn json(mut self, body: String) -> Call {
        self.body = Some(("application/json", body.into()));
        self
    }

    fn request(&self) -> Result<Request<Full<Bytes>>, String> {
        let mut request = Request::builder()
            .method(self.method.clone())
            .uri(&self.url)
            .header(
                header::USER_AGENT,
                concat!(env!("CARGO_PKG_NAME"), "/", env!("CARGO_PKG_VERSION")),
            );
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let body = match &self.body {
            Some((content_type, bytes)) => {
                request = request.header(header::CONTENT_TYPE, *content_type);
                bytes.clone()
            }
            None => {
                request = request.header(header::CONTENT_LENGTH, "0");
                Bytes::new()
            }
        };
        request
            .body(Full::new(body))
            .map_err(|_| format!("invalid request URL {:?}", self.url))
    }
}

enum Failure {
    /// A network error, a timeout or a `5xx`: worth another try.
    Transient(String),
    /// A `4xx` (or anything else that trying again would not fix).
    Final(String),
}

/// Sends `call` with retries; the answer's body on a `2xx`.
async fn call(state: &AppState, id: &str, step: &str, call: Call) -> Result<Bytes, String> {
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt(&state.http, &call).await {
            Ok(body) => return Ok(body),
            Err(Failure::Final(why)) => return Err(format!("{step} {why}")),
            Err(Failure::Transient(why)) if tries >= TRIES => {
                return Err(format!("{step} {why} (gave up after {tries} tries)"));
            }
            Err(Failure::Transient(why)) => {
                eprintln!(
                    "{id}: {step} {why}; trying again ({} of {TRIES})",
                    tries + 1
                );
                tokio::time::sleep(BACKOFF * 2u32.pow(tries - 1)).await;
            }
        }
    }
}

async fn attempt(http: &HttpClient, call: &Call) -> Result<Bytes, Failure> {
    let request = call.request().map_err(Failure::Final)?;
    let exchange = async {
        let response = http.request(request).await.map_err(|e| describe(&e))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| format!("failed reading the answer: {e}"))?
            .to_bytes();
        Ok::<_, String>((status, body))
    };
    let (status, body) = match tokio::time::timeout(TIMEOUT, exchange).await {
        Err(_) => return Err(Failure::Transient(format!("timed out after {TIMEOUT:?}"))),
        Ok(Err(why)) => return Err(Failure::Transient(why)),
        Ok(Ok(answer)) => answer,
    };
    if status.is_success() {
        return Ok(body);
    }
    let why = format!("answered {status}{}", reason(&body));
    if status.is_server_error() {
        Err(Failure::Transient(why))
    } else {
        Err(Failure::Final(why))
    }
}

/// A network error with its causes ("client error (Connect): tcp connect error: …"). hyper's
/// errors never include the request's headers or body.
fn describe(error: &hyper_util::client::legacy::Error) -> String {
    let mut text = format!("failed: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// Heroku's error answers are `{"id", "message"}`: the message says why. Nothing else of a body
/// is logged (it could hold anything).
fn reason(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(answer)) => match answer.get("message").and_then(Value::as_str) {
            Some(message) if !message.is_empty() => {
                format!(": {}", message.chars().take(200).collect::<String>())
            }
            _ => String::new(),
        },
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_url_follows_the_rule() {
        // 1. HEROKU_IDENTITY_URL wins, whatever the callback.
        for callback in [
            "https://api.heroku.com/addons/x",
            "http://127.0.0.1:4567/addons/x",
        ] {
            assert_eq!(
                identity_url(Some("https://id.example.test/"), callback).as_deref(),
                Some("https://id.example.test")
            );
        }
        // 2. Real Heroku: the API host's identity service.
        for configured in [None, Some(""), Some("  ")] {
            assert_eq!(
                identity_url(configured, "https://api.heroku.com/addons/x").as_deref(),
                Some("https://id.heroku.com")
            );
        }
        assert_eq!(
            identity_url(None, "https://API.Heroku.com/addons/x").as_deref(),
            Some("https://id.heroku.com")
        );
        // 3. Anything else: the callback's origin (kensa's fake serves both there).
        assert_eq!(
            identity_url(None, "http://127.0.0.1:4567/addons/x/").as_deref(),
            Some("http://127.0.0.1:4567")
        );
        assert_eq!(
            identity_url(None, "https://user:pw@api.example.test/addons/x?y=1").as_deref(),
            Some("https://api.example.test")
        );
        assert_eq!(identity_url(None, "not a url"), None);
        assert_eq!(identity_url(None, "/addons/x"), None);
    }

    #[test]
    fn callback_urls_are_absolute_http() {
        assert!(is_callback_url("https://api.heroku.com/addons/x"));
        assert!(is_callback_url("http://127.0.0.1:4567/addons/x"));
        for bad in [
            "",
            "/addons/x",
            "ftp://example.test/x",
            "api.heroku.com/addons/x",
            "http:///x",
        ] {
            assert!(!is_callback_url(bad), "{bad}");
        }
    }

    #[test]
    fn reasons_come_from_the_message_only() {
        assert_eq!(
            reason(br#"{"id":"unauthorized","message":"Invalid credentials."}"#),
            ": Invalid credentials."
        );
        assert_eq!(reason(br#"{"access_token":"t"}"#), "");
        assert_eq!(reason(b"<html>oops</html>"), "");
    }
}
