//! The console: one page and a small JSON API on 127.0.0.1, live through server-sent
//! events. A deliberately small HTTP/1.1 server of its own (an event stream outlives the
//! one-answer [`crate::serve`]), with the same bounds: the whole request within a deadline
//! ([`Deadlined`]), each write within one, and a stream ends when the session does.
//!
//! Only the person who started `kensa dev` may drive it: every request must carry the
//! session's random token (in the URL kensa printed, then in the `X-Kensa-Token` header or
//! a `token` query parameter), its `Host` must be this address (a DNS-rebinding page
//! cannot name it) and an `Origin`, when sent, must be this origin too.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::RecvTimeoutError;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::session::{Event, Session, SignIn};
use crate::serve::Deadlined;
use crate::signin::post_page;

/// The page, embedded: no CDN, no network.
const PAGE: &str = include_str!("console.html");
/// Deadline of reading a whole request, and of each write on a connection.
const IO_DEADLINE: Duration = Duration::from_secs(10);
/// How often an idle event stream says it is alive.
const KEEPALIVE: Duration = Duration::from_secs(15);
/// Connections served at once; more get 503.
const MAX_CONNECTIONS: usize = 32;
const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 64 * 1024;

pub struct Console {
    /// The address to open, token included.
    pub url: String,
    pub port: u16,
    /// The session's token: every request must carry it.
    pub token: String,
}

struct Shared {
    session: Arc<Session>,
    token: String,
    port: u16,
    open: AtomicUsize,
}

/// Serves the console on 127.0.0.1:`port` (0: a free port) until the process ends.
pub fn start(session: Arc<Session>, port: u16) -> io::Result<Console> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    let port = listener.local_addr()?.port();
    let token = crate::secrets::generate();
    let url = format!("http://127.0.0.1:{port}/?token={token}");
    let shared = Arc::new(Shared {
        session,
        token: token.clone(),
        port,
        open: AtomicUsize::new(0),
    });
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            if shared.open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                shared.open.fetch_sub(1, Ordering::SeqCst);
                let _ = stream.set_write_timeout(Some(IO_DEADLINE));
                let _ = respond(&stream, 503, "text/plain", b"busy\n", &[]);
                continue;
            }
            let shared = shared.clone();
            std::thread::spawn(move || {
                let _ = serve(&shared, stream);
                shared.open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    Ok(Console { url, port, token })
}

/// A parsed request.
struct Request {
    method: String,
    path: String,
    query: HashMap<String, String>,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    fn json(&self) -> Map<String, Value> {
        serde_json::from_slice::<Value>(&self.body)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default()
    }
}

fn read_request(stream: impl Read) -> io::Result<Option<Request>> {
    let mut reader = BufReader::new(stream.take((MAX_HEAD + MAX_BODY) as u64));
    let mut head = Vec::new();
    loop {
        let before = head.len();
        let n = reader.read_until(b'\n', &mut head)?;
        if n == 0 {
            return Ok(None);
        }
        if head.len() > MAX_HEAD {
            return Err(io::Error::other("request head too large"));
        }
        let line = &head[before..];
        if line == b"\r\n" || line == b"\n" {
            break;
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.lines();
    let mut first = lines.next().unwrap_or("").split_whitespace();
    let (method, target) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if length > MAX_BODY {
        return Err(io::Error::other("request body too large"));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok(Some(Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query: url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect(),
        headers,
        body,
    }))
}

fn respond(
    mut stream: &TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
    extra: &[(&str, String)],
) -> io::Result<()> {
    let reason = match status {
        200 => "OK",
        202 => "Accepted",
        302 => "Found",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        421 => "Misdirected Request",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\nX-Frame-Options: DENY\r\n",
        body.len()
    );
    for (name, value) in extra {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

fn respond_json(stream: &TcpStream, status: u16, value: &Value) -> io::Result<()> {
    respond(
        stream,
        status,
        "application/json",
        value.to_string().as_bytes(),
        &[],
    )
}

fn error(stream: &TcpStream, status: u16, message: &str) -> io::Result<()> {
    respond_json(stream, status, &json!({ "error": message }))
}

/// Compares without stopping at the first difference, so timing tells nothing.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl Shared {
    /// Whether the request comes from this console's own page: this Host, this Origin
    /// (when sent), and the session's token.
    fn refusal(&self, request: &Request) -> Option<(u16, &'static str)> {
        let hosts = [
            format!("127.0.0.1:{}", self.port),
            format!("localhost:{}", self.port),
        ];
        let host_ok = request
            .header("host")
            .is_some_and(|h| hosts.iter().any(|ok| ok == h));
        if !host_ok {
            return Some((421, "this console answers only to its own address"));
        }
        if let Some(origin) = request.header("origin") {
            if !hosts.iter().any(|h| origin == format!("http://{h}")) {
                return Some((403, "requests from other pages are refused"));
            }
        }
        let token = request
            .header("x-kensa-token")
            .or_else(|| request.query.get("token").map(String::as_str))
            .unwrap_or("");
        if !same(token, &self.token) {
            return Some((
                403,
                "missing or wrong token: open the address kensa dev printed",
            ));
        }
        None
    }
}

fn serve(shared: &Shared, stream: TcpStream) -> io::Result<()> {
    stream.set_write_timeout(Some(IO_DEADLINE))?;
    // The whole request within the deadline, as every server of kensa's (crate::serve):
    // a client dripping a byte at a time cannot hold the connection.
    let request = match read_request(Deadlined::new(stream.try_clone()?, IO_DEADLINE)) {
        Ok(Some(r)) => r,
        Ok(None) => return Ok(()),
        Err(e) => return error(&stream, 400, &e.to_string()),
    };
    if let Some((status, why)) = shared.refusal(&request) {
        return refuse(&stream, &request, status, why);
    }
    let session = &shared.session;
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", [""]) => respond(
            &stream,
            200,
            "text/html; charset=utf-8",
            PAGE.as_bytes(),
            &[("Content-Security-Policy", CSP.into())],
        ),
        ("GET", ["api", "state"]) => respond_json(&stream, 200, &session.view()),
        ("GET", ["api", "calls"]) => {
            let calls = session.calls(request.query.get("resource").map(String::as_str));
            respond_json(&stream, 200, &json!(calls))
        }
        ("GET", ["api", "output"]) => respond_json(&stream, 200, &json!(session.output())),
        ("GET", ["api", "events"]) => events(session, stream),
        ("POST", ["api", "provision"]) => provision(&stream, session, &request),
        ("POST", ["api", "resources", key, "plan"]) => change_plan(&stream, session, &request, key),
        ("POST", ["api", "resources", key, "deprovision"]) => {
            outcome(&stream, session.deprovision(Some(key)))
        }
        ("POST", ["api", "resources", key, "reveal"]) => match session.reveal(key) {
            Ok(v) => respond_json(&stream, 200, &v),
            Err(e) => error(&stream, 404, &e.to_string()),
        },
        ("GET", ["sso", key]) => sign_in(&stream, session, key),
        ("POST", ["api", "test"]) => {
            let session = session.clone();
            std::thread::spawn(move || {
                let _ = session.test_all();
            });
            respond_json(&stream, 202, &json!({"started": "test all"}))
        }
        ("POST", ["api", "restart"]) => {
            let session = session.clone();
            std::thread::spawn(move || {
                let _ = session.start_service();
            });
            respond_json(&stream, 202, &json!({"started": "restart"}))
        }
        ("POST", ["api", "stop"]) => {
            respond_json(&stream, 200, &json!({"stopping": true}))?;
            session.end();
            Ok(())
        }
        (_, ["api", ..]) | (_, ["sso", ..]) => error(&stream, 404, "no such call"),
        _ => error(&stream, 404, "not found"),
    }
}

/// A request the guards refused: a short page for the page's address, JSON for the API.
fn refuse(stream: &TcpStream, request: &Request, status: u16, why: &str) -> io::Result<()> {
    if request.path == "/" {
        let page = format!("<!doctype html><title>kensa dev</title><p>{why}.</p>\n");
        return respond(
            stream,
            status,
            "text/html; charset=utf-8",
            page.as_bytes(),
            &[],
        );
    }
    error(stream, status, why)
}

/// `POST /api/provision {"plan"?, "options"?}`: the session's plan unless one is given.
fn provision(stream: &TcpStream, session: &Arc<Session>, request: &Request) -> io::Result<()> {
    let body = request.json();
    let plan = body
        .get("plan")
        .and_then(Value::as_str)
        .filter(|p| !p.trim().is_empty())
        .map_or_else(|| session.settings.plan.clone(), |p| p.trim().to_owned());
    let options = body
        .get("options")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    outcome(stream, session.provision(&plan, &options))
}

/// `POST /api/resources/<key>/plan {"plan"}`.
fn change_plan(
    stream: &TcpStream,
    session: &Arc<Session>,
    request: &Request,
    key: &str,
) -> io::Result<()> {
    let body = request.json();
    let Some(plan) = body.get("plan").and_then(Value::as_str).map(str::trim) else {
        return error(stream, 400, "give the new plan: {\"plan\": \"…\"}");
    };
    if plan.is_empty() {
        return error(stream, 400, "the plan is empty");
    }
    outcome(stream, session.plan_change(Some(key), plan))
}

/// `GET /sso/<key>`: to the provider signed in, by redirect (GET SSO) or an auto-posting
/// form (POST SSO).
fn sign_in(stream: &TcpStream, session: &Arc<Session>, key: &str) -> io::Result<()> {
    match session.sign_in(Some(key)) {
        Ok(SignIn::Redirect(url)) => respond(stream, 302, "text/plain", b"", &[("Location", url)]),
        Ok(SignIn::Form { action, params }) => {
            let name = session.settings.manifest.name().unwrap_or("the add-on");
            let page = post_page(&action, &params, name);
            respond(
                stream,
                200,
                "text/html; charset=utf-8",
                page.as_bytes(),
                &[],
            )
        }
        Err(e) => error(stream, 409, &e.to_string()),
    }
}

/// The page's policy: its own inline code only, requests to this origin only.
const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn outcome(stream: &TcpStream, result: anyhow::Result<super::session::Resource>) -> io::Result<()> {
    match result {
        Ok(r) => respond_json(
            stream,
            200,
            &json!({"id": r.id, "uuid": r.uuid, "plan": r.plan, "state": r.state, "message": r.message}),
        ),
        Err(e) => error(stream, 502, &format!("{e:#}")),
    }
}

/// A server-sent event stream: the state at once and on every change, each logged call,
/// each line of the service's output, a comment every [`KEEPALIVE`], and `end` when the session ends.
fn events(session: &Arc<Session>, mut stream: TcpStream) -> io::Result<()> {
    let _open = session.stream_open();
    let updates = session.subscribe();
    stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nConnection: close\r\nX-Content-Type-Options: nosniff\r\n\r\n",
    )?;
    let send = |stream: &mut TcpStream, event: &str, data: &Value| {
        let text = format!("event: {event}\ndata: {data}\n\n");
        stream
            .write_all(text.as_bytes())
            .and_then(|()| stream.flush())
    };
    send(&mut stream, "state", &session.view())?;
    loop {
        let first = match updates.recv_timeout(KEEPALIVE) {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => {
                stream.write_all(b": alive\n\n")?;
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        };
        // Many changes at once make one state event.
        let mut state = false;
        for event in std::iter::once(first).chain(updates.try_iter()) {
            match event {
                Event::State => state = true,
                Event::Call(call) => send(&mut stream, "call", &json!(call))?,
                Event::Output(line) => send(&mut stream, "output", &json!(line))?,
                Event::End => {
                    send(&mut stream, "end", &json!({}))?;
                    return Ok(());
                }
            }
        }
        if state {
            send(&mut stream, "state", &session.view())?;
        }
        if session.ending() {
            send(&mut stream, "end", &json!({}))?;
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
        assert!(!same("", "a"));
    }
}
