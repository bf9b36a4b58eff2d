//! Calls to Heroku for asynchronous provisioning: the identity service (grant exchange, token
//! refresh) and the Platform API for Partners (config, provision and deprovision actions). See
//! <https://devcenter.heroku.com/articles/add-on-partner-api-reference> and
//! <https://devcenter.heroku.com/articles/getting-started-with-asynchronous-provisioning>.
//!
//! Each function makes one request; retrying is the worker's business (src/worker.rs), which
//! keeps its progress in the database.

use std::error::Error as _;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderValue, Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::db::{ms, now_ms};

/// Heroku's Platform API refuses requests that do not ask for version 3.
pub const API_ACCEPT: &str = "application/vnd.heroku+json; version=3";
const HEROKU_API_HOST: &str = "api.heroku.com";
const HEROKU_IDENTITY_URL: &str = "https://id.heroku.com";

/// For one request, connecting and reading the whole answer included.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Answers are small JSON documents; refuse to buffer anything much bigger.
const MAX_ANSWER: usize = 256 * 1024;
/// Refresh an access token that expires within this margin before using it.
pub const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// hyper-util's pooled client, over rustls for `https:` (and plain `http:` for kensa's loopback
/// fake of Heroku). Cheap to clone: clones share the pool.
pub type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

pub fn http_client() -> HttpClient {
    let connector = HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(connector)
}

/// Where the identity service for `callback_url` is, the rule every kensa template follows.
/// The OAuth client secret goes there, so anything else is refused (422 to the provision):
///
/// 1. `HEROKU_IDENTITY_URL` (`configured`) when set;
/// 2. `https://id.heroku.com` when `callback_url` is `https://api.heroku.com/…` (real Heroku);
/// 3. the callback's origin when its host is a loopback address, unless `on_heroku`
///    (development against kensa's fake of Heroku, which serves both on one origin; Heroku
///    never sends a loopback callback to a dyno);
/// 4. otherwise an error saying why.
pub fn identity_url(
    configured: Option<&str>,
    callback_url: &str,
    on_heroku: bool,
) -> Result<String, String> {
    if let Some(url) = configured.map(str::trim).filter(|url| !url.is_empty()) {
        return Ok(url.trim_end_matches('/').to_owned());
    }
    let uri: Uri = callback_url
        .trim()
        .parse()
        .map_err(|_| format!("callback_url {callback_url:?} is not a URL"))?;
    let (Some(scheme @ ("http" | "https")), Some(authority)) = (uri.scheme_str(), uri.authority())
    else {
        return Err(format!(
            "callback_url {callback_url:?} is not an absolute http(s) URL"
        ));
    };
    let host = authority.host();
    if host.is_empty() {
        return Err(format!("callback_url {callback_url:?} has no host"));
    }
    if scheme == "https" && host.eq_ignore_ascii_case(HEROKU_API_HOST) {
        return Ok(HEROKU_IDENTITY_URL.to_owned());
    }
    if is_loopback(host) {
        if on_heroku {
            return Err(format!(
                "callback_url host {host:?} is a loopback address, which Heroku never sends to a \
                 dyno (DYNO is set); the add-on's credentials are only sent to Heroku"
            ));
        }
        return Ok(match authority.port() {
            Some(port) => format!("{scheme}://{host}:{port}"),
            None => format!("{scheme}://{host}"),
        });
    }
    Err(format!(
        "callback_url host {host:?} is not Heroku's API ({HEROKU_API_HOST}); the add-on's \
         credentials are only sent to Heroku (set HEROKU_IDENTITY_URL to name another identity \
         service)"
    ))
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// OAuth tokens for Heroku's Platform API, scoped to one add-on.
#[derive(Clone, PartialEq)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    /// When the access token stops working (Unix ms; Heroku's last 8 hours); `None` if not said.
    pub expires_at: Option<i64>,
}

impl Tokens {
    /// True when the access token has expired or will within [`EXPIRY_MARGIN`].
    pub fn needs_refresh(&self) -> bool {
        self.expires_at
            .is_some_and(|at| now_ms().saturating_add(ms(EXPIRY_MARGIN)) >= at)
    }
}

/// Never shows the tokens themselves, so a `{:?}` in a log cannot leak them.
impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tokens")
            .field("access_token", &"[redacted]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Why a call did not succeed.
#[derive(Debug, PartialEq)]
pub enum Failure {
    /// A network error, a timeout, a 429 or a 5xx: worth another try, not before `retry_after`
    /// when Heroku said (`Retry-After`).
    Transient {
        why: String,
        retry_after: Option<Duration>,
    },
    /// Any other answer: trying again would not change it.
    Final(String),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Transient { why, .. } | Failure::Final(why) => f.write_str(why),
        }
    }
}

/// `POST <identity>/oauth/token` with `grant_type=authorization_code`: the code works once.
pub async fn exchange_grant(
    http: &HttpClient,
    identity_url: &str,
    client_secret: &str,
    code: &str,
) -> Result<Tokens, Failure> {
    let form = [("grant_type", "authorization_code"), ("code", code)];
    token_request(http, "grant exchange", identity_url, client_secret, &form).await
}

/// `POST <identity>/oauth/token` with `grant_type=refresh_token`.
pub async fn refresh(
    http: &HttpClient,
    identity_url: &str,
    client_secret: &str,
    refresh_token: &str,
) -> Result<Tokens, Failure> {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    let mut tokens =
        token_request(http, "token refresh", identity_url, client_secret, &form).await?;
    // Heroku may answer without a new refresh token: the old one stays good.
    tokens.refresh_token = tokens
        .refresh_token
        .or_else(|| Some(refresh_token.to_owned()));
    Ok(tokens)
}

/// `PATCH <callback_url>/config` with `{"config": [{"name", "value"}]}`.
pub async fn set_config(
    http: &HttpClient,
    callback_url: &str,
    token: &str,
    vars: &[(&str, &str)],
) -> Result<(), Failure> {
    let config: Vec<Value> = vars
        .iter()
        .map(|(name, value)| json!({ "name": name, "value": value }))
        .collect();
    let url = format!("{}/config", callback_url.trim_end_matches('/'));
    let call = Call::api(Method::PATCH, url, token).json(json!({ "config": config }).to_string());
    call.send(http, "PATCH config").await.map(drop)
}

/// `POST <callback_url>/actions/provision`: the add-on is ready.
pub async fn mark_provisioned(
    http: &HttpClient,
    callback_url: &str,
    token: &str,
) -> Result<(), Failure> {
    action(http, callback_url, token, "provision").await
}

/// `POST <callback_url>/actions/deprovision`: the add-on is gone.
pub async fn mark_deprovisioned(
    http: &HttpClient,
    callback_url: &str,
    token: &str,
) -> Result<(), Failure> {
    action(http, callback_url, token, "deprovision").await
}

async fn action(
    http: &HttpClient,
    callback_url: &str,
    token: &str,
    name: &str,
) -> Result<(), Failure> {
    let url = format!("{}/actions/{name}", callback_url.trim_end_matches('/'));
    let step = format!("POST actions/{name}");
    Call::api(Method::POST, url, token)
        .send(http, &step)
        .await
        .map(drop)
}

/// What `POST /oauth/token` answers (Heroku also sends `token_type` and `user_id`).
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<i64>,
}

async fn token_request(
    http: &HttpClient,
    step: &str,
    identity_url: &str,
    client_secret: &str,
    form: &[(&str, &str)],
) -> Result<Tokens, Failure> {
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .append_pair("client_secret", client_secret)
        .finish();
    let call = Call {
        method: Method::POST,
        url: format!("{}/oauth/token", identity_url.trim_end_matches('/')),
        headers: vec![(header::ACCEPT, HeaderValue::from_static("application/json"))],
        body: Some(("application/x-www-form-urlencoded", body.into())),
    };
    let answer = call.send(http, step).await?;
    let answer: TokenAnswer = serde_json::from_slice(&answer)
        .ok()
        .filter(|a: &TokenAnswer| !a.access_token.is_empty())
        .ok_or_else(|| Failure::Final(format!("{step} answered no access_token")))?;
    Ok(Tokens {
        access_token: answer.access_token,
        refresh_token: answer.refresh_token.filter(|t| !t.is_empty()),
        expires_at: answer
            .expires_in
            .map(|seconds| now_ms().saturating_add(seconds.saturating_mul(1000))),
    })
}

/// One request.
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

    /// The answer's body on a 2xx.
    async fn send(&self, http: &HttpClient, step: &str) -> Result<Bytes, Failure> {
        let request = self
            .request()
            .map_err(|why| Failure::Final(format!("{step}: {why}")))?;
        let exchange = async {
            let response = http.request(request).await.map_err(|e| describe(&e))?;
            let status = response.status();
            let retry_after = retry_after(response.headers().get(header::RETRY_AFTER));
            let body = Limited::new(response.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| format!("failed reading the answer: {e}"))?
                .to_bytes();
            Ok::<_, String>((status, retry_after, body))
        };
        let (status, retry_after, body) = match tokio::time::timeout(TIMEOUT, exchange).await {
            Err(_) => {
                return Err(Failure::Transient {
                    why: format!("{step} timed out after {TIMEOUT:?}"),
                    retry_after: None,
                });
            }
            Ok(Err(why)) => {
                return Err(Failure::Transient {
                    why: format!("{step} {why}"),
                    retry_after: None,
                });
            }
            Ok(Ok(answer)) => answer,
        };
        if status.is_success() {
            return Ok(body);
        }
        let why = format!("{step} answered {status}{}", reason(&body));
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            Err(Failure::Transient { why, retry_after })
        } else {
            Err(Failure::Final(why))
        }
    }
}

/// `Retry-After` in seconds (Heroku does not send the HTTP-date form).
fn retry_after(value: Option<&HeaderValue>) -> Option<Duration> {
    let seconds: u64 = value?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
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
    fn heroku_identity_url_wins_whatever_the_callback() {
        for callback in [
            "https://api.heroku.com/addons/x",
            "http://127.0.0.1:4567/addons/x",
            "https://elsewhere.example/addons/x",
        ] {
            assert_eq!(
                identity_url(Some("https://id.example.test/"), callback, false).as_deref(),
                Ok("https://id.example.test")
            );
        }
    }

    #[test]
    fn real_heroku_uses_its_identity_service() {
        for configured in [None, Some(""), Some("  ")] {
            assert_eq!(
                identity_url(configured, "https://api.heroku.com/addons/x", false).as_deref(),
                Ok("https://id.heroku.com")
            );
        }
        assert_eq!(
            identity_url(None, "https://API.Heroku.com/addons/x", false).as_deref(),
            Ok("https://id.heroku.com")
        );
    }

    #[test]
    fn loopback_callbacks_use_their_own_origin() {
        for (callback, origin) in [
            ("http://127.0.0.1:4567/addons/x/", "http://127.0.0.1:4567"),
            ("http://127.8.9.10:80/addons/x", "http://127.8.9.10:80"),
            ("http://localhost:4567/addons/x", "http://localhost:4567"),
            ("http://[::1]:4567/addons/x", "http://[::1]:4567"),
            (
                "https://user:pw@localhost/addons/x?y=1",
                "https://localhost",
            ),
        ] {
            assert_eq!(
                identity_url(None, callback, false).as_deref(),
                Ok(origin),
                "{callback}"
            );
        }
    }

    #[test]
    fn on_a_dyno_a_loopback_callback_is_refused() {
        for callback in [
            "http://127.0.0.1:4567/addons/x",
            "http://localhost:4567/addons/x",
            "http://[::1]:4567/addons/x",
        ] {
            let why = identity_url(None, callback, true).unwrap_err();
            assert!(why.contains("loopback"), "{callback}: {why}");
        }
        assert_eq!(
            identity_url(None, "https://api.heroku.com/addons/x", true).as_deref(),
            Ok("https://id.heroku.com")
        );
    }

    #[test]
    fn any_other_callback_is_refused() {
        for callback in [
            "https://evil.example/addons/x",
            "http://api.heroku.com/addons/x",
            "https://api.heroku.com.evil.example/addons/x",
            "https://localhost.evil.example/addons/x",
            "http://10.0.0.1/addons/x",
            "not a url",
            "/addons/x",
            "ftp://127.0.0.1/x",
            "",
        ] {
            assert!(identity_url(None, callback, false).is_err(), "{callback}");
        }
        let why = identity_url(None, "https://evil.example/x", false).unwrap_err();
        assert!(
            why.contains("evil.example") && why.contains("HEROKU_IDENTITY_URL"),
            "{why}"
        );
    }

    #[test]
    fn expiry_margin() {
        let tokens = |expires_at| Tokens {
            access_token: "a".into(),
            refresh_token: Some("r".into()),
            expires_at,
        };
        assert!(!tokens(None).needs_refresh());
        assert!(!tokens(Some(now_ms() + 3_600_000)).needs_refresh());
        assert!(tokens(Some(now_ms() + 30_000)).needs_refresh());
        assert!(tokens(Some(now_ms() - 1)).needs_refresh());
        let shown = format!("{:?}", tokens(None));
        assert!(
            !shown.contains("\"a\"") && !shown.contains("\"r\""),
            "{shown}"
        );
    }

    #[test]
    fn retry_after_in_seconds() {
        assert_eq!(
            retry_after(Some(&HeaderValue::from_static("3"))),
            Some(Duration::from_secs(3))
        );
        assert_eq!(retry_after(Some(&HeaderValue::from_static("soon"))), None);
        assert_eq!(retry_after(None), None);
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
