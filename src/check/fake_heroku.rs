//! A loopback fake of Heroku's identity service and Platform API, for the v3 asynchronous
//! provisioning flow (docs/protocol.md#asynchronous-provisioning). It runs for the duration of a test, accepts each
//! grant code once before its expiry, issues one Bearer token per add-on, and records what
//! the provider did so the checks can say exactly what went wrong.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{json, Value};
use tiny_http::{Header, Method, Request, Response, Server};

use crate::http::PLATFORM_API_ACCEPT;
use crate::interrupt;

/// How long a grant code is valid, as Heroku's are: minutes, not hours.
pub const GRANT_LIFETIME: Duration = Duration::from_secs(300);

#[derive(Debug, Clone)]
pub struct Grant {
    pub code: String,
    pub expires_at: SystemTime,
}

/// What the provider did for one add-on, as the fake saw it.
#[derive(Debug, Clone, Default)]
pub struct AddonRecord {
    /// `Ok(())` once the grant was exchanged, or why the last attempt was refused.
    pub exchange: Option<Result<(), String>>,
    /// The config set through `PATCH /addons/<uuid>/config`, in order.
    pub config: Vec<(String, Value)>,
    /// Every refused call and why, in order (so a later step can tell its own apart).
    pub refusals: Vec<String>,
    pub provisioned: Option<Result<(), String>>,
    pub deprovisioned: Option<Result<(), String>>,
}

#[derive(Default)]
struct State {
    grants: HashMap<String, (String, SystemTime, bool)>, // code → (uuid, expiry, used)
    tokens: HashMap<String, String>,                     // access token → uuid
    addons: HashMap<String, AddonRecord>,                // uuid → record
    client_secret: Option<String>,
    /// Refused calls that name no known add-on (unknown uuid, code or route).
    strays: Vec<String>,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

pub struct FakeHeroku {
    base: String,
    shared: Shared,
    server: Arc<Server>,
    thread: Option<JoinHandle<()>>,
}

impl FakeHeroku {
    /// Starts on 127.0.0.1 and a free port. With `client_secret`, token exchanges must
    /// present it; without, any non-empty secret is accepted.
    pub fn start(client_secret: Option<String>) -> std::io::Result<FakeHeroku> {
        let server = Server::http("127.0.0.1:0").map_err(std::io::Error::other)?;
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .ok_or_else(|| std::io::Error::other("no TCP address"))?;
        let server = Arc::new(server);
        let shared: Shared = Arc::new((
            Mutex::new(State {
                client_secret,
                ..State::default()
            }),
            Condvar::new(),
        ));
        let thread = {
            let (server, shared) = (server.clone(), shared.clone());
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    handle(&shared, request);
                }
            })
        };
        Ok(FakeHeroku {
            base: format!("http://127.0.0.1:{port}"),
            shared,
            server,
            thread: Some(thread),
        })
    }

    /// The identity service and the API share this origin.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn callback_url(&self, uuid: &str) -> String {
        format!("{}/addons/{uuid}", self.base)
    }

    /// A fresh grant for `uuid`, exchangeable once before it expires.
    pub fn grant(&self, uuid: &str) -> Grant {
        let code = uuid::Uuid::new_v4().to_string();
        let expires_at = SystemTime::now() + GRANT_LIFETIME;
        let (lock, _) = &*self.shared;
        let mut state = lock.lock().expect("fake state");
        state
            .grants
            .insert(code.clone(), (uuid.to_owned(), expires_at, false));
        state.addons.entry(uuid.to_owned()).or_default();
        Grant { code, expires_at }
    }

    /// The refused calls that named no add-on kensa provisioned: a provider calling the
    /// wrong URL, or with a code it was not given, shows up here.
    pub fn strays(&self) -> Vec<String> {
        let (lock, _) = &*self.shared;
        lock.lock().expect("fake state").strays.clone()
    }

    /// `why` with the stray calls from the `since`-th on appended, when there were any.
    pub fn with_strays(&self, since: usize, why: String) -> String {
        let strays = self.strays();
        let Some(strays) = strays.get(since..).filter(|s| !s.is_empty()) else {
            return why;
        };
        let shown: Vec<&str> = strays.iter().take(3).map(String::as_str).collect();
        format!(
            "{why}; calls naming no add-on of this test were refused: {}",
            shown.join("; ")
        )
    }

    pub fn record(&self, uuid: &str) -> AddonRecord {
        let (lock, _) = &*self.shared;
        lock.lock()
            .expect("fake state")
            .addons
            .get(uuid)
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until `done` holds for the add-on's record, or the timeout; returns the record.
    pub fn wait_until(
        &self,
        uuid: &str,
        timeout: Duration,
        done: impl Fn(&AddonRecord) -> bool,
    ) -> (AddonRecord, bool) {
        let deadline = Instant::now() + timeout;
        let (lock, changed) = &*self.shared;
        let mut state = lock.lock().expect("fake state");
        loop {
            let record = state.addons.get(uuid).cloned().unwrap_or_default();
            if done(&record) {
                return (record, true);
            }
            let now = Instant::now();
            if now >= deadline || interrupt::interrupted() {
                return (record, false);
            }
            // Wake at least every 200 ms to notice Ctrl-C.
            let wait = (deadline - now).min(Duration::from_millis(200));
            state = changed.wait_timeout(state, wait).expect("fake state").0;
        }
    }
}

impl Drop for FakeHeroku {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn handle(shared: &Shared, mut request: Request) {
    let body = read_body(&mut request);
    let method = request.method().clone();
    let path = request.url().split('?').next().unwrap_or("").to_owned();
    let header = |name: &str| {
        request
            .headers()
            .iter()
            .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str().to_owned())
    };
    let bearer = header("Authorization").and_then(|v| v.strip_prefix("Bearer ").map(str::to_owned));
    let accept = header("Accept").unwrap_or_default();

    let (lock, changed) = &**shared;
    let mut state = lock.lock().expect("fake state");
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (status, answer) = match (&method, segments.as_slice()) {
        (Method::Post, ["oauth", "token"]) => exchange(&mut state, &body),
        (Method::Patch, ["addons", uuid, "config"]) => api(
            &mut state,
            "PATCH /addons/<uuid>/config",
            uuid,
            bearer,
            &accept,
            |record| set_config(record, &body),
        ),
        (Method::Post, ["addons", uuid, "actions", action @ ("provision" | "deprovision")]) => {
            let provision = *action == "provision";
            let call = format!("POST /addons/<uuid>/actions/{action}");
            api(&mut state, &call, uuid, bearer, &accept, |record| {
                if provision {
                    record.provisioned = Some(Ok(()));
                } else {
                    record.deprovisioned = Some(Ok(()));
                }
                let state = if provision {
                    "provisioned"
                } else {
                    "deprovisioned"
                };
                (200, json!({"id": uuid, "state": state}))
            })
        }
        (Method::Get, ["addons", uuid]) => api(
            &mut state,
            "GET /addons/<uuid>",
            uuid,
            bearer,
            &accept,
            |record| {
                let provisioned = matches!(record.provisioned, Some(Ok(())));
                (
                    200,
                    json!({"id": uuid, "state": if provisioned { "provisioned" } else { "provisioning" }}),
                )
            },
        ),
        _ => {
            let why = format!("no route {method} {path} on this fake Heroku");
            state.strays.push(format!("{method} {path} got 404: {why}"));
            (404, error("not_found", &why))
        }
    };
    drop(state);
    changed.notify_all();
    let response = Response::from_data(answer.to_string().into_bytes())
        .with_status_code(status)
        .with_header(Header::from_bytes("Content-Type", "application/json").expect("valid header"));
    let _ = request.respond(response);
}

/// Reads the body by its declared length (or chunked encoding). With `Connection: Upgrade`
/// (Java's client asks for h2c by default) tiny_http hands over the raw stream, so reading
/// to the end would wait for the client to hang up.
fn read_body(request: &mut Request) -> Vec<u8> {
    const LIMIT: u64 = 1 << 20;
    let chunked = request.headers().iter().any(|h| {
        h.field
            .as_str()
            .as_str()
            .eq_ignore_ascii_case("transfer-encoding")
            && h.value.as_str().to_ascii_lowercase().contains("chunked")
    });
    let length = match (request.body_length(), chunked) {
        (Some(n), _) => (n as u64).min(LIMIT),
        (None, true) => LIMIT,
        (None, false) => 0,
    };
    let mut body = Vec::new();
    let _ = request.as_reader().take(length).read_to_end(&mut body);
    body
}

fn error(id: &str, message: &str) -> Value {
    json!({"id": id, "message": message})
}

/// `POST /oauth/token` with `grant_type=authorization_code&code=…&client_secret=…`.
fn exchange(state: &mut State, body: &[u8]) -> (u16, Value) {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let code = form.get("code").cloned().unwrap_or_default();
    let uuid = state.grants.get(&code).map(|(u, _, _)| u.clone());
    let (status, answer) = exchange_grant(state, &form, &code);
    if let Some(uuid) = uuid {
        let record = state.addons.entry(uuid).or_default();
        let outcome = if status == 200 {
            Ok(())
        } else {
            Err(format!(
                "POST /oauth/token answered {status}: {}",
                answer["message"].as_str().unwrap_or("")
            ))
        };
        if let Err(why) = &outcome {
            record.refusals.push(why.clone());
        }
        // A provider that got its token keeps it; a later refused retry does not undo that.
        if !matches!(record.exchange, Some(Ok(()))) {
            record.exchange = Some(outcome);
        }
    } else if status != 200 {
        state.strays.push(format!(
            "POST /oauth/token answered {status}: {}",
            answer["message"].as_str().unwrap_or("")
        ));
    }
    (status, answer)
}

fn exchange_grant(state: &mut State, form: &HashMap<String, String>, code: &str) -> (u16, Value) {
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return (
            400,
            error("invalid_request", "grant_type must be authorization_code"),
        );
    }
    let secret = form.get("client_secret").map(String::as_str).unwrap_or("");
    let secret_ok = match &state.client_secret {
        Some(expected) => secret == expected,
        None => !secret.is_empty(),
    };
    if !secret_ok {
        return (401, error("unauthorized", "invalid client_secret"));
    }
    let Some((uuid, expires, used)) = state.grants.get_mut(code) else {
        return (400, error("invalid_grant", "unknown grant code"));
    };
    if *used {
        return (
            400,
            error(
                "invalid_grant",
                "the grant code was already exchanged; a code works once",
            ),
        );
    }
    if SystemTime::now() > *expires {
        return (400, error("invalid_grant", "the grant code has expired"));
    }
    *used = true;
    let uuid = uuid.clone();
    let token = format!("HRKU-{}", uuid::Uuid::new_v4());
    state.tokens.insert(token.clone(), uuid);
    (
        200,
        json!({
            "access_token": token,
            "refresh_token": uuid::Uuid::new_v4().to_string(),
            "expires_in": 28800,
            "token_type": "Bearer",
            "user_id": uuid::Uuid::new_v4().to_string(),
        }),
    )
}

/// A Platform API call on one add-on: version header, known add-on, its own token.
fn api(
    state: &mut State,
    call: &str,
    uuid: &str,
    bearer: Option<String>,
    accept: &str,
    action: impl FnOnce(&mut AddonRecord) -> (u16, Value),
) -> (u16, Value) {
    let refusal = if !accept.contains("version=3") {
        Some((
            400,
            error(
                "bad_request",
                &format!("Accept must be {PLATFORM_API_ACCEPT}"),
            ),
        ))
    } else if !state.addons.contains_key(uuid) {
        Some((404, error("not_found", &format!("no add-on {uuid}"))))
    } else {
        match bearer.as_deref().and_then(|t| state.tokens.get(t)) {
            None => Some((
                401,
                error("unauthorized", "missing or unknown Bearer token"),
            )),
            Some(owner) if owner != uuid => Some((
                401,
                error("unauthorized", "this token belongs to another add-on"),
            )),
            Some(_) => None,
        }
    };
    let record = state.addons.get_mut(uuid);
    match (refusal, record) {
        (Some((status, answer)), Some(record)) => {
            let why = format!(
                "{call} got {status}: {}",
                answer["message"].as_str().unwrap_or("")
            );
            record.refusals.push(why);
            (status, answer)
        }
        (Some((status, answer)), None) => {
            state.strays.push(format!(
                "{} got {status}: {}",
                call.replace("<uuid>", uuid),
                answer["message"].as_str().unwrap_or("")
            ));
            (status, answer)
        }
        (None, Some(record)) => action(record),
        (None, None) => (404, error("not_found", "no such add-on")),
    }
}

/// `{"config": [{"name": …, "value": …}]}`; answers the add-on's whole config.
fn set_config(record: &mut AddonRecord, body: &[u8]) -> (u16, Value) {
    let parsed: Result<Value, _> = serde_json::from_slice(body);
    let Some(items) = parsed
        .ok()
        .and_then(|v| v.get("config").and_then(Value::as_array).cloned())
    else {
        let why = "body must be {\"config\": [{\"name\": …, \"value\": …}]}";
        record
            .refusals
            .push(format!("PATCH /addons/<uuid>/config got 422: {why}"));
        return (422, error("invalid_params", why));
    };
    for item in items {
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let value = item.get("value").cloned().unwrap_or(Value::Null);
        record.config.retain(|(n, _)| n != &name);
        record.config.push((name, value));
    }
    let all: Vec<Value> = record
        .config
        .iter()
        .map(|(n, v)| json!({"name": n, "value": v}))
        .collect();
    (200, Value::Array(all))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpStream;

    /// One raw HTTP/1.1 exchange; returns the status code and body.
    fn raw(fake: &FakeHeroku, head: &str, body: &str) -> (u16, Value) {
        let addr = fake.base_url().trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let request = format!(
            "{head}\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut text = String::new();
        stream
            .read_to_string(&mut text)
            .expect("an answer, not a hang");
        let status = text[9..12].parse().unwrap();
        let json = text.split("\r\n\r\n").nth(1).unwrap_or("null");
        (status, serde_json::from_str(json).unwrap_or(Value::Null))
    }

    fn token_request(code: &str, secret: &str) -> String {
        format!("grant_type=authorization_code&code={code}&client_secret={secret}")
    }

    const API: &str = "Accept: application/vnd.heroku+json; version=3";

    #[test]
    fn the_whole_flow_and_each_refusal() {
        let fake = FakeHeroku::start(Some("s3cret".into())).unwrap();
        let grant = fake.grant("u1");
        let form = "POST /oauth/token HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded";
        assert_eq!(raw(&fake, form, &token_request(&grant.code, "nope")).0, 401);
        let (status, answer) = raw(&fake, form, &token_request(&grant.code, "s3cret"));
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["token_type"], "Bearer");
        let token = answer["access_token"].as_str().unwrap().to_owned();
        let (again, why) = raw(&fake, form, &token_request(&grant.code, "s3cret"));
        assert_eq!(again, 400, "a code works once: {why}");

        let patch = |t: &str, uuid: &str| {
            format!("PATCH /addons/{uuid}/config HTTP/1.1\r\nAuthorization: Bearer {t}\r\n{API}")
        };
        let config = r#"{"config":[{"name":"X_URL","value":"http://x"}]}"#;
        assert_eq!(raw(&fake, &patch("wrong", "u1"), config).0, 401);
        assert_eq!(raw(&fake, &patch(&token, "nobody"), config).0, 404);
        assert_eq!(raw(&fake, &patch(&token, "u1"), config).0, 200);
        let action = format!(
            "POST /addons/u1/actions/provision HTTP/1.1\r\nAuthorization: Bearer {token}\r\n{API}"
        );
        assert_eq!(raw(&fake, &action, "").0, 200);

        let record = fake.record("u1");
        assert_eq!(record.exchange, Some(Ok(())));
        assert_eq!(record.config, [("X_URL".to_owned(), json!("http://x"))]);
        assert_eq!(record.provisioned, Some(Ok(())));
        assert!(record.refusals[0].contains("401"));
        // Every refusal in order: wrong secret, used code, wrong token.
        assert_eq!(record.refusals.len(), 3, "{:?}", record.refusals);
        assert!(record.refusals[1].contains("already exchanged"));
        // The call for an unknown add-on is kept apart, with its real path.
        assert_eq!(
            fake.strays(),
            ["PATCH /addons/nobody/config got 404: no add-on nobody"]
        );
        assert!(fake
            .with_strays(0, "never".into())
            .ends_with("were refused: PATCH /addons/nobody/config got 404: no add-on nobody"));
        assert_eq!(fake.with_strays(1, "never".into()), "never");
    }

    #[test]
    fn the_api_wants_version_3() {
        let fake = FakeHeroku::start(None).unwrap();
        let grant = fake.grant("u2");
        let form = "POST /oauth/token HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded";
        let (_, answer) = raw(&fake, form, &token_request(&grant.code, "any"));
        let token = answer["access_token"].as_str().unwrap();
        let head = format!("POST /addons/u2/actions/provision HTTP/1.1\r\nAuthorization: Bearer {token}\r\nAccept: application/json");
        assert_eq!(raw(&fake, &head, "").0, 400);
    }

    #[test]
    fn an_h2c_upgrade_request_gets_an_answer() {
        // Java's HttpClient sends these headers on plain http by default.
        let fake = FakeHeroku::start(None).unwrap();
        let grant = fake.grant("u3");
        let head = "POST /oauth/token HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQBAAAAAAIAAAAA\r\nContent-Type: application/x-www-form-urlencoded";
        let (status, _) = raw(&fake, head, &token_request(&grant.code, "any"));
        assert_eq!(status, 200);
    }

    #[test]
    fn waiting_ends_at_the_timeout() {
        let fake = FakeHeroku::start(None).unwrap();
        fake.grant("u4");
        let (_, done) = fake.wait_until("u4", Duration::from_millis(100), |r| {
            r.provisioned.is_some()
        });
        assert!(!done);
    }
}
