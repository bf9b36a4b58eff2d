//! kensa's HTTP client, for the simulator's calls to the provider and for the add-ons
//! service: one request, fully read, with a timeout, never a panic, secrets masked in
//! `--verbose` logs. Redirects are not followed here; the SSO check follows them itself
//! with a cookie jar.
//!
//! Every request has a connection of its own (no keep-alive pool) with TCP_NODELAY, so no
//! answer waits on the provider's socket tuning: a server that writes its headers and its
//! body in two writes (Python's `http.server`) would otherwise stall each reused connection
//! for a delayed ACK (40 ms on Linux), while a fresh connection acknowledges at once.

use std::io::{self, Write};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;
use ureq::Agent;

use crate::output::visible;

/// What Heroku's Platform API and the add-ons service require in `Accept`: without an
/// explicit version 3 they refuse the call.
pub const PLATFORM_API_ACCEPT: &str = "application/vnd.heroku+json; version=3";

/// Largest response body read; a bigger one fails its check instead of eating memory.
pub const BODY_LIMIT: u64 = 8 * 1024 * 1024;

#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    Basic { user: &'a str, password: &'a str },
    None,
}

#[derive(Debug, Clone)]
pub enum Payload {
    Json(Value),
    Form(Vec<(String, String)>),
    Empty,
}

impl Payload {
    /// The body's `Content-Type` and bytes; `None` for no body at all.
    fn encode(&self) -> Option<(&'static str, Vec<u8>)> {
        match self {
            Payload::Json(v) => Some((
                "application/json",
                serde_json::to_vec(v).expect("JSON serialises"),
            )),
            Payload::Form(pairs) => Some((
                "application/x-www-form-urlencoded",
                url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(pairs)
                    .finish()
                    .into_bytes(),
            )),
            Payload::Empty => None,
        }
    }
}

/// A request and its complete answer.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: &'static str,
    pub url: String,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    /// `hint` says how to start the service, when kensa knows.
    #[error("unable to connect to {url} (connection refused){}", hint.as_deref().map(|h| format!(": {h}")).unwrap_or_default())]
    Connect { url: String, hint: Option<String> },
    #[error("no answer from {url} within {secs} s (raise it with --timeout)")]
    Timeout { url: String, secs: u64 },
    #[error("the answer from {url} is larger than {BODY_LIMIT} bytes")]
    TooLarge { url: String },
    #[error("TLS with {url} failed: {why}")]
    Tls { url: String, why: String },
    #[error("request to {url} failed: {message}")]
    Other { url: String, message: String },
}

pub struct Client {
    /// For http: URLs.
    agent: Agent,
    /// For https: URLs, made on the first one (reading the trust store takes a moment).
    tls_agent: OnceLock<Agent>,
    timeout: Duration,
    verbose: bool,
    /// How to start the service, for a refused connection.
    connect_hint: Option<String>,
    observer: Option<Observer>,
}

/// Sees every request a client sends, with its outcome: `kensa dev` logs Heroku's calls
/// to the provider this way.
pub type Observer = std::sync::Arc<dyn Fn(&Observed<'_>) + Send + Sync>;

/// One request a client sent, and what came of it.
pub struct Observed<'a> {
    pub method: &'a str,
    pub url: &'a str,
    /// The body sent (empty for none).
    pub request: &'a [u8],
    pub result: Result<&'a Exchange, &'a HttpError>,
    pub elapsed: Duration,
}

impl Client {
    /// `secrets` (the password, the salt, an API key) are masked in every output from now
    /// on ([`crate::redact`]), the verbose log included.
    pub fn new(timeout: Duration, verbose: bool, secrets: Vec<String>) -> Client {
        crate::redact::register(secrets);
        Client {
            agent: agent(timeout, false),
            tls_agent: OnceLock::new(),
            timeout,
            verbose,
            connect_hint: None,
            observer: None,
        }
    }

    /// The agent for `url`: the one that trusts the platform's roots for https.
    fn agent_for(&self, url: &str) -> &Agent {
        let https = url
            .get(..6)
            .is_some_and(|s| s.eq_ignore_ascii_case("https:"));
        if https {
            self.tls_agent.get_or_init(|| agent(self.timeout, true))
        } else {
            &self.agent
        }
    }

    /// What a refused connection's error adds: how to start the service.
    pub fn with_connect_hint(mut self, hint: Option<String>) -> Client {
        self.connect_hint = hint;
        self
    }

    /// This client, with `observer` told of every request.
    pub fn observed_by(mut self, observer: Observer) -> Client {
        self.observer = Some(observer);
        self
    }

    /// Sends one request and reads the whole answer (up to [`BODY_LIMIT`]), within the
    /// client's timeout.
    pub fn send(
        &self,
        method: &'static str,
        url: &str,
        auth: Auth<'_>,
        payload: &Payload,
        headers: &[(&str, &str)],
    ) -> Result<Exchange, HttpError> {
        let mut builder = ureq::http::Request::builder().method(method).uri(url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        if let Auth::Basic { user, password } = auth {
            let token = STANDARD.encode(format!("{user}:{password}"));
            builder = builder.header("Authorization", format!("Basic {token}"));
        }
        let body = payload.encode();
        let started = Instant::now();
        let result = self.send_encoded(method, url, auth, builder, body.clone());
        if let Some(observer) = &self.observer {
            observer(&Observed {
                method,
                url,
                request: body.as_ref().map_or(&[][..], |(_, b)| b.as_slice()),
                result: result.as_ref(),
                elapsed: started.elapsed(),
            });
        }
        result
    }

    fn send_encoded(
        &self,
        method: &'static str,
        url: &str,
        auth: Auth<'_>,
        mut builder: ureq::http::request::Builder,
        body: Option<(&'static str, Vec<u8>)>,
    ) -> Result<Exchange, HttpError> {
        if let Some((content_type, _)) = &body {
            builder = builder.header("Content-Type", *content_type);
        }
        if self.verbose {
            let bytes = body.as_ref().map_or(&[][..], |(_, b)| b.as_slice());
            crate::progress::suspend(|| self.log_request(method, url, auth, bytes));
        }
        let started = Instant::now();
        let waiting = crate::progress::Spinner::after(
            crate::progress::SLOW_REQUEST,
            format!("waiting for the answer to {method} {url}"),
        );
        let request = match body {
            None => builder.body(()).map(|r| self.agent_for(url).run(r)),
            Some((_, bytes)) => builder.body(bytes).map(|r| self.agent_for(url).run(r)),
        };
        let response = request
            .map_err(|e| HttpError::Other {
                url: url.to_owned(),
                message: e.to_string(),
            })?
            .map_err(|e| self.classify(url, e))?;
        let exchange = self.read(method, url, response, started)?;
        drop(waiting);
        if self.verbose {
            crate::progress::suspend(|| self.log_response(&exchange));
        }
        Ok(exchange)
    }

    /// The answer: status, headers (values as text) and the body, read to its end.
    fn read(
        &self,
        method: &'static str,
        url: &str,
        response: ureq::http::Response<ureq::Body>,
        started: Instant,
    ) -> Result<Exchange, HttpError> {
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = response
            .into_body()
            .with_config()
            .limit(BODY_LIMIT)
            .read_to_vec()
            .map_err(|e| self.classify(url, e))?;
        Ok(Exchange {
            method,
            url: url.to_owned(),
            status,
            headers,
            body,
            elapsed: started.elapsed(),
        })
    }

    fn classify(&self, url: &str, err: ureq::Error) -> HttpError {
        let url = url.to_owned();
        if let Some(why) = crate::tls::explain(&err) {
            return HttpError::Tls { url, why };
        }
        match err {
            ureq::Error::Timeout(_) => HttpError::Timeout {
                url,
                secs: self.timeout.as_secs(),
            },
            ureq::Error::Io(e) if e.kind() == io::ErrorKind::TimedOut => HttpError::Timeout {
                url,
                secs: self.timeout.as_secs(),
            },
            ureq::Error::Io(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionRefused | io::ErrorKind::AddrNotAvailable
                ) =>
            {
                HttpError::Connect {
                    url,
                    hint: self.connect_hint.clone(),
                }
            }
            ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => HttpError::Connect {
                url,
                hint: self.connect_hint.clone(),
            },
            ureq::Error::BodyExceedsLimit(_) => HttpError::TooLarge { url },
            other => HttpError::Other {
                url,
                message: other.to_string(),
            },
        }
    }

    /// The verbose log: every line through [`visible`] (secrets masked, control
    /// characters escaped), as the answer is the provider's text.
    fn log_request(&self, method: &str, url: &str, auth: Auth<'_>, body: &[u8]) {
        let mut err = anstream::stderr().lock();
        let _ = writeln!(err, "> {method} {}", visible(url));
        if let Auth::Basic { user, .. } = auth {
            let _ = writeln!(err, "> Authorization: Basic {}:********", visible(user));
        }
        if !body.is_empty() {
            let _ = writeln!(err, "> {}", visible(&String::from_utf8_lossy(body)));
        }
    }

    fn log_response(&self, exchange: &Exchange) {
        let mut err = anstream::stderr().lock();
        let _ = writeln!(
            err,
            "< {} ({} ms)",
            exchange.status,
            exchange.elapsed.as_millis()
        );
        for (k, v) in &exchange.headers {
            let _ = writeln!(err, "< {}: {}", visible(k), visible(v));
        }
        if !exchange.body.is_empty() {
            let _ = writeln!(err, "< {}", visible(&exchange.snippet(2000)));
        }
    }
}

/// An agent with kensa's settings: one deadline for the whole exchange, statuses as
/// answers (not errors), no redirects followed; with `tls`, the platform's trust store.
fn agent(timeout: Duration, tls: bool) -> Agent {
    let mut config = Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("kensa/", env!("CARGO_PKG_VERSION")))
        // A connection per request, unbuffered by Nagle: see the module's comment.
        .max_idle_connections(0)
        .max_idle_connections_per_host(0)
        .no_delay(true);
    if tls {
        config = config.tls_config(crate::tls::config());
    }
    config.build().into()
}

/// The text of an HTML page: `<style>`, `<script>`, `<head>` and comments dropped, tags
/// removed, the common entities decoded, white space collapsed.
pub fn html_text(html: &str) -> String {
    use std::sync::LazyLock;
    static DROPPED: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"(?is)<!--.*?-->|<(style|script|head|noscript|template)\b.*?</(style|script|head|noscript|template)\s*>")
            .expect("a valid pattern")
    });
    static TAG: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"(?s)<[^>]*>").expect("a valid pattern"));
    let without = DROPPED.replace_all(html, " ");
    let text = TAG.replace_all(&without, " ");
    let decoded = text
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Exchange {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON, or why it is not.
    pub fn json(&self) -> Result<Value, String> {
        if self.body.is_empty() {
            return Err("the body is empty".into());
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| format!("the body is not JSON ({e}): {}", self.snippet(120)))
    }

    /// The start of the body as text, for messages; never panics on any bytes.
    pub fn snippet(&self, max: usize) -> String {
        // Masked before it is cut, so no secret is cut in half (and half shown).
        let body = String::from_utf8_lossy(&self.body);
        let text = crate::redact::mask(&body);
        let mut cut: String = text.chars().take(max).collect();
        if text.chars().count() > max {
            cut.push('…');
        }
        cut.replace(['\n', '\r'], " ")
    }

    /// `name=value` pairs from every `Set-Cookie` header.
    pub fn set_cookies(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .filter_map(|(_, v)| {
                let pair = v.split(';').next()?;
                let (name, value) = pair.split_once('=')?;
                Some((
                    name.trim().to_owned(),
                    value.trim().trim_matches('"').to_owned(),
                ))
            })
            .collect()
    }

    /// Whether the answer is an HTML page (by its type, or by its look without one).
    pub fn is_html(&self) -> bool {
        let by_type = self
            .header("content-type")
            .is_some_and(|t| t.to_ascii_lowercase().contains("html"));
        let head = String::from_utf8_lossy(&self.body[..self.body.len().min(256)])
            .trim_start()
            .to_ascii_lowercase();
        by_type || head.starts_with("<!doctype html") || head.starts_with("<html")
    }

    /// The body as a person reads it: an HTML page reduced to its text (no tags, styles or
    /// scripts), at most `max` characters, on one line.
    pub fn text(&self, max: usize) -> String {
        if !self.is_html() {
            return self.snippet(max);
        }
        let text = html_text(&String::from_utf8_lossy(&self.body));
        let text = crate::redact::mask(&text);
        let mut cut: String = text.chars().take(max).collect();
        if text.chars().count() > max {
            cut.push('…');
        }
        cut
    }

    /// `403: <the provider's reason>`-style summary, for failure details: the start of the
    /// body, HTML reduced to its text; `403 with an empty body` for none (or only blanks).
    pub fn describe(&self) -> String {
        let text = self.text(200);
        if text.trim().is_empty() {
            format!("{} with an empty body", self.status)
        } else {
            format!("{}: {}", self.status, text.trim())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn the_observer_sees_each_request_with_its_body_and_outcome() {
        let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
        let port = server.server_addr().to_ip().unwrap().port();
        let answering = std::thread::spawn(move || {
            let request = server.recv().unwrap();
            request
                .respond(tiny_http::Response::from_string("{}").with_status_code(201))
                .unwrap();
        });
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let client = Client::new(Duration::from_secs(5), false, vec![]).observed_by(Arc::new(
            move |o: &Observed<'_>| {
                let status = o.result.map(|x| x.status).map_err(|e| e.to_string());
                log.lock().unwrap().push((
                    o.method.to_owned(),
                    String::from_utf8_lossy(o.request).into_owned(),
                    status,
                ));
            },
        ));
        let url = format!("http://127.0.0.1:{port}/r");
        let body = Payload::Json(serde_json::json!({"a": 1}));
        client.send("POST", &url, Auth::None, &body, &[]).unwrap();
        answering.join().unwrap();
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let gone = format!("http://{}/r", closed.local_addr().unwrap());
        drop(closed);
        let _ = client.send("GET", &gone, Auth::None, &Payload::Empty, &[]);
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0], ("POST".into(), r#"{"a":1}"#.into(), Ok(201)));
        assert_eq!(seen[1].0, "GET");
        assert!(seen[1].2.is_err(), "a refused connection is observed too");
    }

    fn answer(status: u16, content_type: &str, body: &str) -> Exchange {
        Exchange {
            method: "POST",
            url: "http://x/sso/login".into(),
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body: body.as_bytes().to_vec(),
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn an_html_page_is_described_by_its_text() {
        let page = "<!doctype html><html><head><title>x</title><style>body { color: red }</style></head>\n<body><script>var a = 1;</script><h1>Forbidden</h1>\n<p>Token   &amp; timestamp don&#39;t match</p></body></html>";
        assert_eq!(
            answer(403, "text/html; charset=utf-8", page).describe(),
            "403: Forbidden Token & timestamp don't match"
        );
        // JSON stays as it is.
        assert_eq!(
            answer(422, "application/json", r#"{"message":"<b>no</b>"}"#).describe(),
            r#"422: {"message":"<b>no</b>"}"#
        );
    }

    /// Regression: an answer of blank lines printed `got 403:   at <url>`.
    #[test]
    fn regression_a_blank_body_printed_a_dangling_colon() {
        assert_eq!(
            answer(403, "text/html", "\n\n  \r\n").describe(),
            "403 with an empty body"
        );
        assert_eq!(
            answer(403, "text/plain", "").describe(),
            "403 with an empty body"
        );
    }
}
