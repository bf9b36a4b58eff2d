//! A loopback fake of Heroku's identity service and Platform API, for the v3 asynchronous
//! provisioning flow (docs/protocol.md#asynchronous-provisioning). It runs for the duration of a test, accepts each
//! grant code once before its expiry, issues one Bearer token per add-on, and records what
//! the provider did so the checks can say exactly what went wrong.
//!
//! It is also observable and persistable, for `kensa dev`'s session-long local Heroku: a
//! log of every call in both directions ([`Call`], secrets masked: the provider's calls to
//! this fake, and Heroku's calls to the provider that its owner reports with
//! [`FakeHeroku::record_call`]), live to [`FakeHeroku::subscribe`]rs, and its whole state
//! as a [`Snapshot`] that [`FakeHeroku::start_at`] restores (grants, tokens, add-ons, calls).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::http::PLATFORM_API_ACCEPT;
use crate::interrupt;
use crate::serve::{Limits, Request, Response, Server};

/// How long a grant code is valid, as Heroku's are: minutes, not hours.
pub const GRANT_LIFETIME: Duration = Duration::from_secs(300);

/// Each connection to the fake: its request read and answered within this, or dropped.
/// A provider's callback is one small request; a client that stalls holds up nothing.
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(10);

/// The largest request body the fake reads (a config PATCH is a few hundred bytes).
const BODY_LIMIT: usize = 1 << 20;

#[derive(Debug, Clone)]
pub struct Grant {
    pub code: String,
    pub expires_at: SystemTime,
}

/// What the provider did for one add-on, as the fake saw it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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

/// How many calls the log keeps: the newest, so a long session stays small.
pub const CALL_LOG_LIMIT: usize = 1000;

/// Which way a logged call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// The provider called Heroku (this fake): the grant exchange, the Platform API.
    ToHeroku,
    /// Heroku called the provider: provision, plan change, SSO, deprovision.
    ToProvider,
}

/// One request and its answer, as the call log keeps it: bodies with every secret masked
/// (see [`mask_body`]), so the log can be shown and saved as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Call {
    /// Position in the log, from 1; assigned when recorded.
    pub seq: u64,
    /// When the answer came, RFC 3339 with milliseconds.
    pub at: String,
    pub direction: Direction,
    /// Heroku's uuid of the add-on the call is about, when known.
    pub addon: Option<String>,
    pub method: String,
    /// The path (calls to the fake) or the whole URL (calls to the provider).
    pub target: String,
    pub request: String,
    /// `None` when no answer came (the error is in `response`).
    pub status: Option<u16>,
    pub response: String,
    pub millis: u64,
}

impl Call {
    /// A call to log; `seq` and `at` are set when it is recorded.
    pub fn new(direction: Direction, method: &str, target: &str) -> Call {
        Call {
            seq: 0,
            at: String::new(),
            direction,
            addon: None,
            method: method.to_owned(),
            target: target.to_owned(),
            request: String::new(),
            status: None,
            response: String::new(),
            millis: 0,
        }
    }
}

/// Everything the fake knows, to save and restore (`kensa dev` keeps it in `.kensa/dev/`).
/// It holds live tokens: store it as a secret.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// The port it listened on, tried first on restore so a provider that kept a
    /// `callback_url` can still reach it.
    pub port: u16,
    /// code → (uuid, expiry in seconds since the epoch, used).
    grants: BTreeMap<String, (String, u64, bool)>,
    /// access token → uuid.
    tokens: BTreeMap<String, String>,
    addons: BTreeMap<String, AddonRecord>,
    strays: Vec<String>,
    calls: Vec<Call>,
}

#[derive(Default)]
struct State {
    grants: HashMap<String, (String, SystemTime, bool)>, // code → (uuid, expiry, used)
    tokens: HashMap<String, String>,                     // access token → uuid
    addons: HashMap<String, AddonRecord>,                // uuid → record
    client_secret: Option<String>,
    /// Refused calls that name no known add-on (unknown uuid, code or route).
    strays: Vec<String>,
    calls: VecDeque<Call>,
    last_seq: u64,
    subscribers: Vec<Sender<Call>>,
}

impl State {
    /// Numbers, stamps, keeps and broadcasts a call; subscribers that hung up are dropped.
    fn log(&mut self, mut call: Call) {
        self.last_seq += 1;
        call.seq = self.last_seq;
        call.at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        self.subscribers.retain(|s| s.send(call.clone()).is_ok());
        if self.calls.len() == CALL_LOG_LIMIT {
            self.calls.pop_front();
        }
        self.calls.push_back(call);
    }
}

impl State {
    fn restore(&mut self, saved: Snapshot) {
        self.grants = saved
            .grants
            .into_iter()
            .map(|(code, (uuid, expiry, used))| {
                (code, (uuid, UNIX_EPOCH + Duration::from_secs(expiry), used))
            })
            .collect();
        self.tokens = saved.tokens.into_iter().collect();
        self.addons = saved.addons.into_iter().collect();
        self.strays = saved.strays;
        self.last_seq = saved.calls.last().map_or(0, |c| c.seq);
        self.calls = saved.calls.into_iter().collect();
    }
}

type Shared = Arc<(Mutex<State>, Condvar)>;

pub struct FakeHeroku {
    base: String,
    shared: Shared,
    /// Stops serving when the fake is dropped, whatever its clients do.
    _server: Server,
}

impl FakeHeroku {
    /// Starts on 127.0.0.1 and a free port. With `client_secret`, token exchanges must
    /// present it; without, any non-empty secret is accepted.
    pub fn start(client_secret: Option<String>) -> std::io::Result<FakeHeroku> {
        FakeHeroku::start_at(client_secret, None)
    }

    /// [`FakeHeroku::start`] with the state of `restore`, on its port when that is free
    /// (else on a free one).
    pub fn start_at(
        client_secret: Option<String>,
        restore: Option<Snapshot>,
    ) -> std::io::Result<FakeHeroku> {
        let wanted = restore.as_ref().map_or(0, |s| s.port);
        let mut state = State {
            client_secret,
            ..State::default()
        };
        if let Some(saved) = restore {
            state.restore(saved);
        }
        let shared: Shared = Arc::new((Mutex::new(state), Condvar::new()));
        let limits = Limits {
            deadline: CONNECTION_DEADLINE,
            body: BODY_LIMIT,
        };
        let server = {
            let shared = shared.clone();
            Server::start_at(wanted, limits, move |request| handle(&shared, request))?
        };
        Ok(FakeHeroku {
            base: server.base_url(),
            shared,
            _server: server,
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

    /// Every call from now on, as it is logged. Dropping the receiver unsubscribes.
    pub fn subscribe(&self) -> Receiver<Call> {
        let (sender, receiver) = channel();
        self.lock().subscribers.push(sender);
        receiver
    }

    /// The calls logged so far (the newest [`CALL_LOG_LIMIT`]), oldest first.
    pub fn calls(&self) -> Vec<Call> {
        self.lock().calls.iter().cloned().collect()
    }

    /// The access tokens issued to the provider for add-on `uuid`: secrets.
    pub fn tokens_of(&self, uuid: &str) -> Vec<String> {
        let mut tokens: Vec<String> = self
            .lock()
            .tokens
            .iter()
            .filter(|(_, owner)| owner.as_str() == uuid)
            .map(|(token, _)| token.clone())
            .collect();
        tokens.sort();
        tokens
    }

    /// Logs a call the fake did not serve itself: Heroku's calls to the provider.
    pub fn record_call(&self, call: Call) {
        self.lock().log(call);
        self.shared.1.notify_all();
    }

    /// Everything the fake knows, to save; [`FakeHeroku::start_at`] restores it.
    pub fn snapshot(&self) -> Snapshot {
        let port = self
            .base
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let state = self.lock();
        let secs = |t: &SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        Snapshot {
            port,
            grants: state
                .grants
                .iter()
                .map(|(code, (uuid, expiry, used))| {
                    (code.clone(), (uuid.clone(), secs(expiry), *used))
                })
                .collect(),
            tokens: state.tokens.clone().into_iter().collect(),
            addons: state.addons.clone().into_iter().collect(),
            strays: state.strays.clone(),
            calls: state.calls.iter().cloned().collect(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.shared.0.lock().expect("fake state")
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

fn handle(shared: &Shared, request: &Request) -> Response {
    let started = Instant::now();
    let body = &request.body;
    let method = request.method.as_str();
    let path = request.path();
    let bearer = request
        .header("Authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let accept = request.header("Accept").unwrap_or_default().to_owned();

    let (lock, changed) = &**shared;
    let mut state = lock.lock().expect("fake state");
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (status, answer) = match (method, segments.as_slice()) {
        ("POST", ["oauth", "token"]) => exchange(&mut state, body),
        ("PATCH", ["addons", uuid, "config"]) => api(
            &mut state,
            "PATCH /addons/<uuid>/config",
            uuid,
            bearer,
            &accept,
            |record| set_config(record, body),
        ),
        ("POST", ["addons", uuid, "actions", action @ ("provision" | "deprovision")]) => {
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
        ("GET", ["addons", uuid]) => api(
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
    let addon = match segments.as_slice() {
        ["oauth", "token"] => {
            let form: HashMap<String, String> =
                url::form_urlencoded::parse(body).into_owned().collect();
            let code = form.get("code").map(String::as_str).unwrap_or("");
            state.grants.get(code).map(|(uuid, _, _)| uuid.clone())
        }
        ["addons", uuid, ..] if state.addons.contains_key(*uuid) => Some((*uuid).to_owned()),
        _ => None,
    };
    let answer_text = answer.to_string();
    state.log(Call {
        addon,
        request: mask_body(body),
        status: Some(status),
        response: mask_body(answer_text.as_bytes()),
        millis: started.elapsed().as_millis() as u64,
        ..Call::new(Direction::ToHeroku, method, path)
    });
    drop(state);
    changed.notify_all();
    Response::new(status, "application/json", answer_text)
}

/// Names whose values are secrets wherever they appear in a body, JSON or form.
const SECRET_NAMES: &[&str] = &[
    "access_token",
    "refresh_token",
    "client_secret",
    "code",
    "password",
    "token",
    "resource_token",
    "user_scoped_resource_token",
    "session_nonce",
    "logplex_token",
    "log_drain_token",
    "log_input_url",
];

/// What a masked value shows.
pub const MASK: &str = "••••••";

/// A body as the call log keeps it: JSON pretty-printed, a form as `name=value` lines, other
/// text as it is (up to 4 KiB); the value of every [`SECRET_NAMES`] name and every config
/// var value (`"config"` objects and `{"name", "value"}` lists) replaced by [`MASK`].
pub fn mask_body(body: &[u8]) -> String {
    if body.is_empty() {
        return String::new();
    }
    if let Ok(mut value) = serde_json::from_slice::<Value>(body) {
        mask_json(&mut value, false);
        return serde_json::to_string_pretty(&value).unwrap_or_default();
    }
    let text = String::from_utf8_lossy(body);
    let form_like = !text.contains(char::is_whitespace) && text.contains('=');
    if form_like {
        return url::form_urlencoded::parse(body)
            .map(|(k, v)| {
                let secret = SECRET_NAMES.contains(&k.as_ref());
                format!("{k}={}", if secret { MASK } else { &v })
            })
            .collect::<Vec<_>>()
            .join("\n");
    }
    text.chars().take(4096).collect()
}

/// Masks secrets in place; `config` says the values of this object are config vars.
fn mask_json(value: &mut Value, config: bool) {
    match value {
        Value::Object(map) => {
            let is_config_item = map.contains_key("name") && map.contains_key("value");
            for (key, v) in map.iter_mut() {
                let secret = SECRET_NAMES.contains(&key.as_str())
                    || (config && !v.is_object())
                    || (is_config_item && key == "value");
                if secret && !v.is_null() {
                    *v = Value::String(MASK.to_owned());
                } else {
                    mask_json(v, key == "config" && v.is_object());
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| mask_json(v, false)),
        _ => {}
    }
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
    use std::io::{Read, Write};
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
    fn every_call_is_logged_masked_and_broadcast_and_the_state_survives_a_restart() {
        let fake = FakeHeroku::start(Some("s3cret".into())).unwrap();
        let live = fake.subscribe();
        let grant = fake.grant("u5");
        let form = "POST /oauth/token HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded";
        let (_, answer) = raw(&fake, form, &token_request(&grant.code, "s3cret"));
        let token = answer["access_token"].as_str().unwrap().to_owned();
        let patch =
            format!("PATCH /addons/u5/config HTTP/1.1\r\nAuthorization: Bearer {token}\r\n{API}");
        let config = r#"{"config":[{"name":"X_URL","value":"postgres://u:pw@db/x"}]}"#;
        assert_eq!(raw(&fake, &patch, config).0, 200);
        let mut outgoing = Call::new(
            Direction::ToProvider,
            "DELETE",
            "http://localhost:5000/heroku/resources/1",
        );
        outgoing.status = Some(204);
        fake.record_call(outgoing);

        let calls = fake.calls();
        assert_eq!(calls.len(), 3);
        assert_eq!(calls.iter().map(|c| c.seq).collect::<Vec<_>>(), [1, 2, 3]);
        let exchange = &calls[0];
        assert_eq!(
            (exchange.direction, exchange.addon.as_deref()),
            (Direction::ToHeroku, Some("u5"))
        );
        assert_eq!(
            (
                exchange.method.as_str(),
                exchange.target.as_str(),
                exchange.status
            ),
            ("POST", "/oauth/token", Some(200))
        );
        let everything = serde_json::to_string(&calls).unwrap();
        for secret in ["s3cret", grant.code.as_str(), token.as_str(), "pw@db"] {
            assert!(
                !everything.contains(secret),
                "{secret} leaked: {everything}"
            );
        }
        assert!(exchange.request.contains("grant_type=authorization_code"));
        assert!(calls[1].request.contains("X_URL"));
        assert_eq!(calls[2].direction, Direction::ToProvider);
        let heard: Vec<u64> = live.try_iter().map(|c| c.seq).collect();
        assert_eq!(heard, [1, 2, 3], "subscribers hear every call");

        // Restored, the provider's token still works, and the log goes on numbering.
        let saved: Snapshot =
            serde_json::from_str(&serde_json::to_string(&fake.snapshot()).unwrap()).unwrap();
        drop(fake);
        let again = FakeHeroku::start_at(Some("s3cret".into()), Some(saved)).unwrap();
        let action = format!(
            "POST /addons/u5/actions/provision HTTP/1.1\r\nAuthorization: Bearer {token}\r\n{API}"
        );
        assert_eq!(raw(&again, &action, "").0, 200);
        assert_eq!(again.record("u5").provisioned, Some(Ok(())));
        assert_eq!(again.record("u5").config.len(), 1);
        assert_eq!(again.calls().last().unwrap().seq, 4);
    }

    #[test]
    fn masking_keeps_the_shape_and_hides_the_values() {
        let masked = mask_body(br#"{"id":"1","config":{"A_URL":"secret-url"},"token":"t"}"#);
        assert!(masked.contains("\"A_URL\": \"••••••\""), "{masked}");
        assert!(masked.contains("\"token\": \"••••••\""), "{masked}");
        assert!(masked.contains("\"id\": \"1\""), "{masked}");
        assert_eq!(
            mask_body(b"grant_type=refresh_token&refresh_token=abc"),
            "grant_type=refresh_token\nrefresh_token=••••••"
        );
        assert_eq!(mask_body(b""), "");
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
