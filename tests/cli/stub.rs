//! An in-process add-on provider for the simulator's tests: a real HTTP server on
//! 127.0.0.1:0 (tiny_http, one thread per request) that speaks the provider protocol of
//! docs/protocol.md correctly, unless a test switches on a [`Misbehaviour`] before running
//! kensa.
//!
//! It records every request it receives, so tests can check what kensa *sent*, and keeps
//! the resources it provisioned, so tests can check that kensa cleaned up after itself.
//!
//! Asynchronous (v3, docs/protocol.md#asynchronous-provisioning): a provision for the plan
//! `async`, or any provision after [`Stub::always_async`], is answered
//! `202 {"id", "message"}`; then, once the answer is sent, the stub runs the flow against the `callback_url` it received, as a correct
//! provider would: it exchanges `oauth_grant.code` at the callback's origin (`/oauth/token`,
//! with [`Stub::client_secret`]), sets the config with `PATCH <callback_url>/config` and
//! marks it done with `POST <callback_url>/actions/provision`. A `DELETE` of a resource it
//! holds a token for is answered 202, then `POST <callback_url>/actions/deprovision`. The
//! calls it made, and the answers it got, are in [`Stub::callbacks`].
//!
//! ```ignore
//! let stub = Stub::start(&addon);
//! stub.misbehave(Misbehaviour::NotIdempotent);
//! // … run kensa against addon.manifest(stub.port()) …
//! assert!(stub.live().is_empty());
//! ```

#![allow(dead_code)] // each test uses a different part of the stub

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};
use tiny_http::{Header, Response, Server, StatusCode};

use crate::harness::PLATFORM_API_ACCEPT;

/// The add-on as the manifest describes it; the stub and the manifest file agree on it.
#[derive(Debug, Clone)]
pub struct Addon {
    pub id: String,
    pub password: String,
    /// `None` writes a manifest without `sso_salt`.
    pub salt: Option<String>,
    pub prefix: String,
    pub config_vars: Vec<String>,
    pub requires: Vec<String>,
    pub shape: Shape,
    pub version: Version,
}

/// The two shapes of `api.test` / `api.production`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// `{base_url, sso_url}`: SSO is a form POST to `/sso/login`.
    Urls,
    /// A root URL string: SSO is a GET to `/heroku/resources/<id>?…`.
    Root,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// No `api.version`: legacy v1.
    V1,
    /// `"version": "3"`.
    V3,
}

pub const PASSWORD: &str = "pw7Kq2RZx9LmN4vB8cT1yH6jD3sF5gW0";
pub const SALT: &str = "salt4Hn8Qe2Vt6Xc1Zb9Mk3Jp7Lr5Ws0";

impl Addon {
    pub fn new(shape: Shape, version: Version) -> Addon {
        Addon {
            id: "stubby".into(),
            password: PASSWORD.into(),
            salt: Some(SALT.into()),
            prefix: "STUBBY".into(),
            config_vars: vec!["STUBBY_URL".into()],
            requires: Vec::new(),
            shape,
            version,
        }
    }

    /// The common case: object URLs with POST SSO, v3.
    pub fn v3() -> Addon {
        Addon::new(Shape::Urls, Version::V3)
    }

    pub fn v1() -> Addon {
        Addon::new(Shape::Urls, Version::V1)
    }

    pub fn requiring(mut self, feature: &str) -> Addon {
        self.requires.push(feature.into());
        self
    }

    pub fn without_salt(mut self) -> Addon {
        self.salt = None;
        self
    }

    pub fn url_var(&self) -> String {
        format!("{}_URL", self.prefix)
    }

    /// The manifest, its test URLs pointing at `http://127.0.0.1:<port>`; the production
    /// URLs are https placeholders unless `production_root` says otherwise.
    pub fn manifest(&self, port: u16) -> Value {
        self.manifest_with_production(port, "https://stubby.example.com")
    }

    pub fn manifest_with_production(&self, port: u16, production_root: &str) -> Value {
        let local = format!("http://127.0.0.1:{port}");
        let endpoint = |root: &str| match self.shape {
            Shape::Root => json!(format!("{root}/")),
            Shape::Urls if self.salt.is_some() => json!({
                "base_url": format!("{root}/heroku/resources"),
                "sso_url": format!("{root}/sso/login"),
            }),
            Shape::Urls => json!({"base_url": format!("{root}/heroku/resources")}),
        };
        let mut api = Map::new();
        api.insert("config_vars_prefix".into(), json!(self.prefix));
        api.insert("config_vars".into(), json!(self.config_vars));
        api.insert("password".into(), json!(self.password));
        if let Some(salt) = &self.salt {
            api.insert("sso_salt".into(), json!(salt));
        }
        api.insert("regions".into(), json!(["us"]));
        api.insert("requires".into(), json!(self.requires));
        api.insert("production".into(), endpoint(production_root));
        api.insert("test".into(), endpoint(&local));
        if self.version == Version::V3 {
            api.insert("version".into(), json!("3"));
        }
        json!({"id": self.id, "name": "Stubby", "api": api})
    }
}

/// What a provision answer's body looks like when it is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadBody {
    Html,
    Empty,
    JsonArray,
    /// More than kensa's 8 MiB limit.
    Huge,
    InvalidUtf8,
}

/// Which requests a slow answer applies to (the first authenticated one of its kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    Provision,
    PlanChange,
    Deprovision,
    /// The SSO request carrying a good token.
    SsoLogin,
}

/// One way to get the protocol wrong; each makes one of kensa's checks fail (or warn).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Authenticated provisions get this status and `{"message"}`.
    ProvisionStatus(u16),
    /// Provisions answer 202 `{"id", "message"}` without config (asynchronous).
    Provision202,
    ProvisionBody(BadBody),
    MissingId,
    MissingConfig,
    /// `"config": "…"`.
    ConfigNotObject,
    /// An extra `OTHER_URL` in config.
    UndeclaredConfigKey,
    /// Config leaves out the declared vars.
    DeclaredKeyMissing,
    /// The `_URL` value is a number.
    NonStringConfig,
    /// The `_URL` value has no scheme or host.
    UrlWithoutHost,
    ProvisionAcceptsWrongPassword,
    ProvisionAcceptsNoCredentials,
    /// v1: the id is made from the `heroku_id` sent.
    IdFromHerokuId,
    /// A new id for every delivery, even of the same uuid.
    NotIdempotent,
    /// The same id for every uuid.
    SameIdForEveryUuid,
    /// No `log_drain_url` even when the manifest requires syslog_drain.
    NoLogDrainUrl,
    DeprovisionStatus(u16),
    DeprovisionAcceptsWrongPassword,
    DeprovisionAcceptsNoCredentials,
    PlanChangeStatus(u16),
    PlanChangeAcceptsWrongPassword,
    PlanChangeAcceptsNoCredentials,
    PlanChangeNonStringConfig,
    SsoAcceptsWrongToken,
    SsoAcceptsStaleTimestamp,
    SsoAcceptsFutureTimestamp,
    /// A good SSO request gets this status (no cookies, no redirect).
    SsoLoginStatus(u16),
    /// The page behind the redirect answers this status (cookies were set).
    PageStatus(u16),
    SsoNoNavCookie,
    SsoWrongNavCookie,
    PageWithoutHeader,
    /// The first authenticated request of this kind sleeps before answering.
    Slow(Route, Duration),
    /// Idempotent one request at a time but not under concurrency: the uuid lookup and the
    /// insert are not atomic (no lock, no unique index), with a pause in between.
    RacyProvision,

    // The asynchronous flow (plan `async` or `always_async`). `UndeclaredConfigKey` and
    // `NonStringConfig` apply to the config set through the API as well.
    /// Answers 202 and never calls back.
    NeverCallsBack,
    /// Exchanges the grant code a second time and uses that (failed) answer's token.
    ExchangesCodeTwice,
    /// Sends a client secret that is not the one it was given.
    WrongClientSecret,
    /// Calls the Platform API with a made-up Bearer token instead of the one it got.
    WrongBearerToken,
    /// Calls the Platform API with `Accept: application/json`, without `version=3`.
    NoVersionHeader,
    /// Sets the config but never calls `actions/provision`.
    SkipsProvisionAction,
    /// Calls `<origin>/addons/<its own id>/…` instead of `callback_url`.
    WrongAddonPath,
    /// Answers a redelivery of a uuid by exchanging its (used) code again, and ignores the
    /// refusal: harmless, but the fake records it.
    ExchangesAgainOnRedelivery,
    /// Answers DELETE 202 and never calls `actions/deprovision`.
    DeprovisionNeverCallsBack,
}

/// One request as the stub received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The path, without the query.
    pub path: String,
    pub query: Vec<(String, String)>,
    /// Names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{} {}: body is not JSON: {e}", self.method, self.path))
    }

    /// The urlencoded body.
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .into_owned()
            .collect()
    }

    /// SSO parameters: the query of a GET, the form of a POST.
    pub fn params(&self) -> BTreeMap<String, String> {
        if self.method == "GET" {
            self.query.iter().cloned().collect()
        } else {
            self.form().into_iter().collect()
        }
    }

    /// `(user, password)` from a Basic `Authorization` header.
    pub fn basic(&self) -> Option<(String, String)> {
        let value = self.header("authorization")?;
        let encoded = value.strip_prefix("Basic ")?;
        let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
        let (user, password) = decoded.split_once(':')?;
        Some((user.to_owned(), password.to_owned()))
    }

    pub fn is(&self, method: &str, path: &str) -> bool {
        self.method == method && self.path == path
    }
}

#[derive(Debug, Clone)]
struct Resource {
    uuid: Option<String>,
    plan: String,
    config: Map<String, Value>,
    /// Provisioned asynchronously: where to call back, and how far the flow got.
    flow: Option<Flow>,
}

#[derive(Debug, Clone)]
struct Flow {
    callback_url: String,
    code: String,
    /// The Bearer token the exchange gave (and the stub kept).
    token: Option<String>,
    /// The background flow has ended (or never started).
    done: bool,
}

/// One call the stub made to (fake) Heroku, and the status it got (0: no answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    pub method: String,
    pub url: String,
    pub status: u16,
    /// The grant code sent, for a token exchange.
    pub code: Option<String>,
}

/// What to do once an answer is sent.
enum Job {
    Provision {
        id: String,
    },
    /// Exchange the code again (a redelivery), ignoring the outcome.
    Reexchange {
        id: String,
    },
    Deprovision {
        callback_url: String,
        token: String,
    },
}

/// The client secret the stub sends when no test chose one.
pub const CLIENT_SECRET: &str = "stub-client-secret-0123456789";

#[derive(Default)]
struct State {
    misbehaviours: Vec<Misbehaviour>,
    /// Slow answers already given, so each happens once.
    slowed: HashSet<Route>,
    requests: Vec<Recorded>,
    resources: BTreeMap<String, Resource>,
    /// uuid → id, for idempotent provisioning.
    by_uuid: BTreeMap<String, String>,
    sessions: HashSet<String>,
    counter: u64,
    /// Every provision is asynchronous, whatever the plan.
    always_async: bool,
    client_secret: Option<String>,
    callbacks: Vec<Callback>,
    /// Background jobs running.
    busy: usize,
}

impl State {
    fn has(&self, m: &Misbehaviour) -> bool {
        self.misbehaviours.contains(m)
    }

    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// The delay to apply, once, to the first authenticated request of `route`.
    fn slow(&mut self, route: Route) -> Option<Duration> {
        let delay = self.misbehaviours.iter().find_map(|m| match m {
            Misbehaviour::Slow(r, d) if *r == route => Some(*d),
            _ => None,
        })?;
        self.slowed.insert(route).then_some(delay)
    }
}

pub struct Stub {
    port: u16,
    addon: Addon,
    state: Arc<Mutex<State>>,
    server: Arc<Server>,
    thread: Option<JoinHandle<()>>,
}

impl Stub {
    pub fn start(addon: &Addon) -> Stub {
        let server = Arc::new(Server::http("127.0.0.1:0").expect("bind 127.0.0.1:0"));
        let port = server.server_addr().to_ip().expect("an IP listener").port();
        let state = Arc::new(Mutex::new(State::default()));
        let thread = {
            let server = Arc::clone(&server);
            let state = Arc::clone(&state);
            let provider = Provider {
                addon: addon.clone(),
                port,
            };
            thread::spawn(move || {
                for request in server.incoming_requests() {
                    let state = Arc::clone(&state);
                    let provider = provider.clone();
                    // One thread per request: a slow answer must not hold up the next one.
                    thread::spawn(move || provider.serve(&state, request));
                }
            })
        };
        Stub {
            port,
            addon: addon.clone(),
            state,
            server,
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn misbehave(&self, m: Misbehaviour) -> &Stub {
        self.lock().misbehaviours.push(m);
        self
    }

    /// Every provision is asynchronous, not just those for the plan `async`.
    pub fn always_async(&self) -> &Stub {
        self.lock().always_async = true;
        self
    }

    /// The OAuth client secret the stub sends when it exchanges a grant code.
    pub fn client_secret(&self, secret: &str) -> &Stub {
        self.lock().client_secret = Some(secret.into());
        self
    }

    /// The calls the stub made to Heroku's identity service and Platform API, in order.
    pub fn callbacks(&self) -> Vec<Callback> {
        self.lock().callbacks.clone()
    }

    /// The Heroku calls made so far whose URL ends with `suffix`.
    pub fn callbacks_to(&self, suffix: &str) -> Vec<Callback> {
        self.callbacks()
            .into_iter()
            .filter(|c| c.url.ends_with(suffix))
            .collect()
    }

    /// Waits (bounded) until every asynchronous flow and callback the stub started is over,
    /// so a test can look at what the stub did after kensa exited.
    pub fn settle(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            let busy = {
                let st = self.lock();
                st.busy > 0
                    || st
                        .resources
                        .values()
                        .any(|r| r.flow.as_ref().is_some_and(|f| !f.done))
            };
            if !busy {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
        panic!("the stub's asynchronous callbacks did not end within 10 s");
    }

    /// A resource the provider already has, for `kensa test deprovision|planchange|sso <id>`.
    pub fn seed(&self, id: &str, uuid: Option<&str>) {
        let config = Provider {
            addon: self.addon.clone(),
            port: self.port,
        }
        .config(id);
        let mut state = self.lock();
        if let Some(uuid) = uuid {
            state.by_uuid.insert(uuid.into(), id.into());
        }
        state.resources.insert(
            id.into(),
            Resource {
                uuid: uuid.map(str::to_owned),
                plan: "test".into(),
                config,
                flow: None,
            },
        );
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// Ids of the resources provisioned and not yet deprovisioned.
    pub fn live(&self) -> Vec<String> {
        self.lock().resources.keys().cloned().collect()
    }

    /// The plan a resource is on now.
    pub fn plan_of(&self, id: &str) -> Option<String> {
        self.lock().resources.get(id).map(|r| r.plan.clone())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An answer before it becomes a tiny_http response.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Run once the answer is sent (the asynchronous flow).
    then: Option<Job>,
}

impl Answer {
    fn json(status: u16, body: Value) -> Answer {
        Answer {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
            then: None,
        }
    }

    fn message(status: u16, message: &str) -> Answer {
        Answer::json(status, json!({ "message": message }))
    }

    fn html(status: u16, page: &str) -> Answer {
        Answer {
            status,
            headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
            body: page.as_bytes().to_vec(),
            then: None,
        }
    }

    fn raw(status: u16, content_type: &str, body: Vec<u8>) -> Answer {
        Answer {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
            then: None,
        }
    }

    fn empty(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            then: None,
        }
    }

    fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.into(), value.into()));
        self
    }

    fn then(mut self, job: Job) -> Answer {
        self.then = Some(job);
        self
    }
}

/// What the stub knows to answer: the add-on and where it listens.
#[derive(Clone)]
struct Provider {
    addon: Addon,
    port: u16,
}

const RESOURCES: &str = "/heroku/resources";
const SESSION: &str = "stub_session";

enum Auth {
    Good,
    WrongPassword,
    Missing,
}

impl Provider {
    fn serve(&self, state: &Arc<Mutex<State>>, mut request: tiny_http::Request) {
        let mut body = Vec::new();
        let _ = request.as_reader().read_to_end(&mut body);
        let (path, query) = match request.url().split_once('?') {
            Some((p, q)) => (p.to_owned(), q.to_owned()),
            None => (request.url().to_owned(), String::new()),
        };
        let recorded = Recorded {
            method: request.method().as_str().to_owned(),
            path,
            query: url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
            headers: request
                .headers()
                .iter()
                .map(|h| {
                    (
                        h.field.as_str().as_str().to_ascii_lowercase(),
                        h.value.as_str().to_owned(),
                    )
                })
                .collect(),
            body,
        };
        lock(state).requests.push(recorded.clone());
        let (mut answer, delay) = self.answer(state, &recorded);
        if let Some(delay) = delay {
            thread::sleep(delay);
        }
        let then = answer.then.take();
        if then.is_some() {
            lock(state).busy += 1;
        }
        let mut response = Response::from_data(answer.body)
            .with_status_code(StatusCode(answer.status))
            .with_chunked_threshold(usize::MAX);
        for (name, value) in answer.headers {
            response.add_header(
                Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header"),
            );
        }
        // kensa may have given up (timeout, body limit): a failed write is expected then.
        let _ = request.respond(response);
        if let Some(job) = then {
            self.run(state, job);
            lock(state).busy -= 1;
        }
    }

    /// The asynchronous side of a provider: the calls to Heroku after a 202.
    fn run(&self, state: &Mutex<State>, job: Job) {
        let heroku = Heroku::new(state);
        match job {
            Job::Provision { id } => {
                let (flow, misbehaviours, secret) = {
                    let st = lock(state);
                    let flow = st.resources.get(&id).and_then(|r| r.flow.clone());
                    let secret = st.client_secret.clone();
                    (flow, st.misbehaviours.clone(), secret)
                };
                let Some(flow) = flow else { return };
                let secret = secret.unwrap_or_else(|| CLIENT_SECRET.into());
                let token = self.provision_flow(&heroku, &id, &flow, &misbehaviours, &secret);
                if let Some(flow) = lock(state)
                    .resources
                    .get_mut(&id)
                    .and_then(|r| r.flow.as_mut())
                {
                    flow.token = token;
                    flow.done = true;
                }
            }
            Job::Reexchange { id } => {
                // After the first flow: this provider is not racing itself for the code.
                wait_for_flow(state, &id);
                let (flow, secret) = {
                    let st = lock(state);
                    let flow = st.resources.get(&id).and_then(|r| r.flow.clone());
                    (flow, st.client_secret.clone())
                };
                if let Some(flow) = flow {
                    let secret = secret.unwrap_or_else(|| CLIENT_SECRET.into());
                    heroku.exchange(&origin(&flow.callback_url), &flow.code, &secret);
                }
            }
            Job::Deprovision {
                callback_url,
                token,
            } => {
                let url = format!("{callback_url}/actions/deprovision");
                heroku.api("POST", &url, &token, PLATFORM_API_ACCEPT, None);
            }
        }
    }

    /// Exchange, set config, mark provisioned; returns the token it kept.
    fn provision_flow(
        &self,
        heroku: &Heroku,
        id: &str,
        flow: &Flow,
        misbehaviours: &[Misbehaviour],
        secret: &str,
    ) -> Option<String> {
        let has = |m: Misbehaviour| misbehaviours.contains(&m);
        let identity = origin(&flow.callback_url);
        let secret = if has(Misbehaviour::WrongClientSecret) {
            "not-the-client-secret"
        } else {
            secret
        };
        let (status, answer) = heroku.exchange(&identity, &flow.code, secret);
        if status != 200 {
            return None;
        }
        let mut token = answer["access_token"].as_str().map(str::to_owned);
        if has(Misbehaviour::ExchangesCodeTwice) {
            let (_, again) = heroku.exchange(&identity, &flow.code, secret);
            token = again["access_token"].as_str().map(str::to_owned);
        }
        let bearer = if has(Misbehaviour::WrongBearerToken) {
            "HRKU-00000000-made-up-token".to_owned()
        } else {
            token.clone().unwrap_or_default()
        };
        let accept = if has(Misbehaviour::NoVersionHeader) {
            "application/json"
        } else {
            PLATFORM_API_ACCEPT
        };
        let mut config = self.config(id);
        if has(Misbehaviour::UndeclaredConfigKey) {
            config.insert("OTHER_URL".into(), json!("http://example.com/other"));
        }
        if has(Misbehaviour::NonStringConfig) {
            config.insert(self.addon.url_var(), json!(5432));
        }
        let items: Vec<Value> = config
            .into_iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect();
        let callback = if has(Misbehaviour::WrongAddonPath) {
            format!("{identity}/addons/{id}")
        } else {
            flow.callback_url.clone()
        };
        heroku.api(
            "PATCH",
            &format!("{callback}/config"),
            &bearer,
            accept,
            Some(json!({ "config": items })),
        );
        if !has(Misbehaviour::SkipsProvisionAction) {
            let url = format!("{callback}/actions/provision");
            heroku.api("POST", &url, &bearer, accept, None);
        }
        token
    }

    fn answer(&self, state: &Arc<Mutex<State>>, r: &Recorded) -> (Answer, Option<Duration>) {
        let mut st = lock(state);
        let resource_path = r
            .path
            .strip_prefix(RESOURCES)
            .and_then(|rest| rest.strip_prefix('/'))
            .filter(|id| !id.is_empty() && !id.contains('/'))
            .map(|id| {
                url::form_urlencoded::parse(format!("i={id}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            });
        let route = match (r.method.as_str(), r.path.as_str(), &resource_path) {
            ("POST", RESOURCES, _) => Some(Route::Provision),
            ("PUT", _, Some(_)) => Some(Route::PlanChange),
            ("DELETE", _, Some(_)) => Some(Route::Deprovision),
            _ => None,
        };
        if let Some(route) = route {
            let auth = self.auth(r);
            let (accepts_wrong, accepts_none) = match route {
                Route::Provision => (
                    st.has(&Misbehaviour::ProvisionAcceptsWrongPassword),
                    st.has(&Misbehaviour::ProvisionAcceptsNoCredentials),
                ),
                Route::PlanChange => (
                    st.has(&Misbehaviour::PlanChangeAcceptsWrongPassword),
                    st.has(&Misbehaviour::PlanChangeAcceptsNoCredentials),
                ),
                Route::Deprovision => (
                    st.has(&Misbehaviour::DeprovisionAcceptsWrongPassword),
                    st.has(&Misbehaviour::DeprovisionAcceptsNoCredentials),
                ),
                Route::SsoLogin => (false, false),
            };
            let allowed = match auth {
                Auth::Good => true,
                Auth::WrongPassword => accepts_wrong,
                Auth::Missing => accepts_none,
            };
            if !allowed {
                let answer = Answer::message(401, "unauthorized")
                    .header("WWW-Authenticate", "Basic realm=\"stub\"");
                return (answer, None);
            }
            let delay = matches!(auth, Auth::Good).then(|| st.slow(route)).flatten();
            let id = resource_path.unwrap_or_default();
            let mut fresh = false;
            if route == Route::Provision && st.has(&Misbehaviour::RacyProvision) {
                // Look up, let go of the lock, pause, then insert without looking again.
                let uuid = serde_json::from_slice::<Value>(&r.body)
                    .ok()
                    .and_then(|b| b.get("uuid").and_then(Value::as_str).map(str::to_owned));
                fresh = uuid.is_some_and(|u| !st.by_uuid.contains_key(&u));
                drop(st);
                thread::sleep(Duration::from_millis(500));
                st = lock(state);
            }
            if route == Route::Deprovision {
                // A resource still provisioning is deprovisioned once its flow ended.
                drop(st);
                wait_for_flow(state, &id);
                st = lock(state);
            }
            let answer = match route {
                Route::Provision => self.provision(&mut st, r, fresh),
                Route::PlanChange => self.plan_change(&mut st, r, &id),
                Route::Deprovision => deprovision(&mut st, &id),
                Route::SsoLogin => unreachable!(),
            };
            return (answer, delay);
        }
        match (r.method.as_str(), r.path.as_str(), resource_path) {
            ("POST", "/sso/login", _) => {
                let params: BTreeMap<String, String> = r.form().into_iter().collect();
                let id = params.get("id").cloned().unwrap_or_default();
                self.sso(&mut st, &params, &id)
            }
            ("GET", _, Some(id)) => {
                let params: BTreeMap<String, String> = r.query.iter().cloned().collect();
                self.sso(&mut st, &params, &id)
            }
            ("GET", "/", _) => (self.page(&st, r), None),
            _ => (Answer::message(404, "no such route"), None),
        }
    }

    fn auth(&self, r: &Recorded) -> Auth {
        match r.basic() {
            None => Auth::Missing,
            Some((user, password)) if user == self.addon.id && password == self.addon.password => {
                Auth::Good
            }
            Some(_) => Auth::WrongPassword,
        }
    }

    /// The config of a resource: every declared var, `_URL` ones as URLs.
    fn config(&self, id: &str) -> Map<String, Value> {
        self.addon
            .config_vars
            .iter()
            .map(|name| {
                let value = if name.ends_with("_URL") {
                    format!("http://127.0.0.1:{}/resources/{id}", self.port)
                } else {
                    format!("value-of-{id}")
                };
                (name.clone(), Value::String(value))
            })
            .collect()
    }

    /// `fresh`: make a new resource even for a known uuid (the racy lookup said so).
    fn provision(&self, st: &mut State, r: &Recorded, fresh: bool) -> Answer {
        if let Some(status) = st.misbehaviours.iter().find_map(|m| match m {
            Misbehaviour::ProvisionStatus(s) => Some(*s),
            _ => None,
        }) {
            return Answer::message(status, "the stub was told to fail");
        }
        if let Some(bad) = st.misbehaviours.iter().find_map(|m| match m {
            Misbehaviour::ProvisionBody(b) => Some(*b),
            _ => None,
        }) {
            return match bad {
                BadBody::Html => Answer::html(
                    201,
                    "<!DOCTYPE html>\n<html><body><h1>Provisioned!</h1></body></html>",
                ),
                BadBody::Empty => Answer::empty(201),
                BadBody::JsonArray => Answer::json(201, json!([{"id": "res-1"}])),
                BadBody::Huge => {
                    let mut body = b"{\"id\": \"res-1\", \"padding\": \"".to_vec();
                    body.resize(body.len() + 9 * 1024 * 1024, b'x');
                    body.extend_from_slice(b"\"}");
                    Answer::raw(201, "application/json", body)
                }
                BadBody::InvalidUtf8 => Answer::raw(
                    201,
                    "application/json",
                    b"{\"id\": \"res-\xff\xfe\", \"config\": {}}".to_vec(),
                ),
            };
        }
        let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(&r.body) else {
            return Answer::message(422, "the body must be a JSON object");
        };
        let uuid = body.get("uuid").and_then(Value::as_str).map(str::to_owned);
        let plan = body
            .get("plan")
            .and_then(Value::as_str)
            .unwrap_or("test")
            .to_owned();
        let asynchronous = st.always_async || plan == "async";
        let known = uuid
            .as_ref()
            .and_then(|u| st.by_uuid.get(u))
            .filter(|_| !fresh)
            .cloned();
        if let (Some(id), true) = (&known, asynchronous) {
            if !st.has(&Misbehaviour::NotIdempotent) {
                // A redelivery: the same answer, and the flow already under way.
                let answer = Answer::json(202, json!({"id": id, "message": "provisioning"}));
                return if st.has(&Misbehaviour::ExchangesAgainOnRedelivery) {
                    answer.then(Job::Reexchange { id: id.clone() })
                } else {
                    answer
                };
            }
        }
        let (id, status) = match known {
            Some(id) if !st.has(&Misbehaviour::NotIdempotent) => (id, 200),
            _ => {
                let n = st.next();
                let heroku_id = body.get("heroku_id").and_then(Value::as_str);
                let id = match heroku_id {
                    _ if st.has(&Misbehaviour::SameIdForEveryUuid) => "res-1".to_owned(),
                    Some(h) if st.has(&Misbehaviour::IdFromHerokuId) => {
                        format!("{}-{n}", h.split('@').next().unwrap_or(h))
                    }
                    _ => format!("res-{n}"),
                };
                (id, 201)
            }
        };
        if let Some(uuid) = &uuid {
            st.by_uuid.entry(uuid.clone()).or_insert_with(|| id.clone());
        }
        let config = self.config(&id);
        let flow = asynchronous.then(|| Flow {
            callback_url: body
                .get("callback_url")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            code: body
                .get("oauth_grant")
                .and_then(|g| g.get("code"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            token: None,
            done: st.has(&Misbehaviour::NeverCallsBack),
        });
        // A resource answered for a second uuid (SameIdForEveryUuid) keeps its first uuid.
        st.resources.entry(id.clone()).or_insert_with(|| Resource {
            uuid,
            plan,
            config: config.clone(),
            flow,
        });
        if asynchronous {
            let answer = Answer::json(202, json!({"id": id, "message": "provisioning"}));
            return if st.has(&Misbehaviour::NeverCallsBack) {
                answer
            } else {
                answer.then(Job::Provision { id })
            };
        }

        if st.has(&Misbehaviour::Provision202) {
            return Answer::json(202, json!({"id": id, "message": "provisioning"}));
        }
        let mut answer = Map::new();
        if !st.has(&Misbehaviour::MissingId) {
            answer.insert("id".into(), json!(id));
        }
        let mut config = config;
        if st.has(&Misbehaviour::UndeclaredConfigKey) {
            config.insert("OTHER_URL".into(), json!("http://example.com/other"));
        }
        if st.has(&Misbehaviour::DeclaredKeyMissing) {
            config.clear();
        }
        if st.has(&Misbehaviour::NonStringConfig) {
            config.insert(self.addon.url_var(), json!(5432));
        }
        if st.has(&Misbehaviour::UrlWithoutHost) {
            config.insert(self.addon.url_var(), json!("stub-db/resources"));
        }
        if st.has(&Misbehaviour::ConfigNotObject) {
            answer.insert(
                "config".into(),
                json!(format!("{}=http://example.com", self.addon.url_var())),
            );
        } else if !st.has(&Misbehaviour::MissingConfig) {
            answer.insert("config".into(), Value::Object(config));
        }
        if self.addon.requires.iter().any(|f| f == "syslog_drain")
            && !st.has(&Misbehaviour::NoLogDrainUrl)
        {
            answer.insert(
                "log_drain_url".into(),
                json!(format!("syslog://logs.example.com:514/{id}")),
            );
        }
        answer.insert("message".into(), json!("provisioned by the stub"));
        Answer::json(status, Value::Object(answer))
    }

    fn plan_change(&self, st: &mut State, r: &Recorded, id: &str) -> Answer {
        if let Some(status) = st.misbehaviours.iter().find_map(|m| match m {
            Misbehaviour::PlanChangeStatus(s) => Some(*s),
            _ => None,
        }) {
            return Answer::message(status, "this plan change is not possible");
        }
        let non_string = st.has(&Misbehaviour::PlanChangeNonStringConfig);
        let url_var = self.addon.url_var();
        let Some(resource) = st.resources.get_mut(id) else {
            return Answer::message(404, "no such resource");
        };
        let Some(plan) = serde_json::from_slice::<Value>(&r.body)
            .ok()
            .and_then(|b| b.get("plan").and_then(Value::as_str).map(str::to_owned))
        else {
            return Answer::message(422, "the body needs a plan");
        };
        resource.plan = plan.clone();
        let mut config = resource.config.clone();
        if non_string {
            config.insert(url_var, json!(true));
        }
        Answer::json(
            200,
            json!({"config": config, "message": format!("now on {plan}")}),
        )
    }

    fn sso(
        &self,
        st: &mut State,
        params: &BTreeMap<String, String>,
        id: &str,
    ) -> (Answer, Option<Duration>) {
        let forbidden = |why: &str| (Answer::html(403, &format!("<p>forbidden: {why}</p>")), None);
        let Some(salt) = self.addon.salt.as_deref() else {
            return forbidden("no salt");
        };
        let Some(resource) = st.resources.get(id).cloned() else {
            return (Answer::html(404, "<p>no such resource</p>"), None);
        };
        let get = |k: &str| params.get(k).map(String::as_str).unwrap_or_default();
        let Ok(timestamp) = get("timestamp").parse::<i64>() else {
            return forbidden("bad timestamp");
        };
        let now = kensa::sso::now();
        if now - timestamp > 5 * 60 && !st.has(&Misbehaviour::SsoAcceptsStaleTimestamp) {
            return forbidden("timestamp expired");
        }
        if timestamp - now > 60 && !st.has(&Misbehaviour::SsoAcceptsFutureTimestamp) {
            return forbidden("timestamp in the future");
        }
        if !st.has(&Misbehaviour::SsoAcceptsWrongToken) {
            if get("token") != kensa::sso::v1_token(id, salt, timestamp) {
                return forbidden("bad token");
            }
            if let Some(uuid) = params.get("resource_id") {
                if resource.uuid.as_ref().is_some_and(|u| u != uuid) {
                    return forbidden("resource_id does not match");
                }
                let token = kensa::sso::resource_token(uuid, salt, timestamp);
                let scoped = kensa::sso::user_scoped_token(
                    uuid,
                    salt,
                    timestamp,
                    get("user_id"),
                    get("email"),
                );
                if get("resource_token") != token || get("user_scoped_resource_token") != scoped {
                    return forbidden("bad resource token");
                }
            }
        }
        let delay = st.slow(Route::SsoLogin);
        if let Some(status) = st.misbehaviours.iter().find_map(|m| match m {
            Misbehaviour::SsoLoginStatus(s) => Some(*s),
            _ => None,
        }) {
            return (
                Answer::html(status, "<p>the stub was told to refuse</p>"),
                delay,
            );
        }
        let session = format!("s{}", st.next());
        st.sessions.insert(session.clone());
        let mut answer = Answer::empty(302).header("Location", "/").header(
            "Set-Cookie",
            &format!("{SESSION}={session}; Path=/; HttpOnly"),
        );
        if !st.has(&Misbehaviour::SsoNoNavCookie) {
            let nav = if st.has(&Misbehaviour::SsoWrongNavCookie) {
                "not-the-nav-data"
            } else {
                get("nav-data")
            };
            answer = answer.header("Set-Cookie", &format!("heroku-nav-data={nav}; Path=/"));
        }
        (answer, delay)
    }

    fn page(&self, st: &State, r: &Recorded) -> Answer {
        let logged_in = r
            .header("cookie")
            .unwrap_or_default()
            .split(';')
            .filter_map(|c| c.trim().split_once('='))
            .any(|(k, v)| k == SESSION && st.sessions.contains(v));
        if !logged_in {
            return Answer::html(403, "<p>log in through Heroku</p>");
        }
        if let Some(status) = st.misbehaviours.iter().find_map(|m| match m {
            Misbehaviour::PageStatus(s) => Some(*s),
            _ => None,
        }) {
            return Answer::html(status, "<p>dashboard broke</p>");
        }
        if st.has(&Misbehaviour::PageWithoutHeader) {
            Answer::html(200, "<html><body><h1>Dashboard</h1></body></html>")
        } else {
            Answer::html(
                200,
                "<html><body><div id=\"heroku-header\"></div><h1>Dashboard</h1></body></html>",
            )
        }
    }
}

fn deprovision(st: &mut State, id: &str) -> Answer {
    if let Some(status) = st.misbehaviours.iter().find_map(|m| match m {
        Misbehaviour::DeprovisionStatus(s) => Some(*s),
        _ => None,
    }) {
        return Answer::message(status, "the stub was told to fail");
    }
    let never_calls_back = st.has(&Misbehaviour::DeprovisionNeverCallsBack);
    match st.resources.remove(id) {
        // Asynchronous: 202, then the provider tells Heroku with the token it kept.
        Some(Resource {
            flow:
                Some(Flow {
                    callback_url,
                    token: Some(token),
                    ..
                }),
            ..
        }) => {
            let answer = Answer::json(202, json!({"message": "deprovisioning"}));
            if never_calls_back {
                answer
            } else {
                answer.then(Job::Deprovision {
                    callback_url,
                    token,
                })
            }
        }
        Some(_) => Answer::empty(204),
        None => Answer::message(404, "no such resource"),
    }
}

/// Waits (bounded) until the asynchronous flow of resource `id`, if any, has ended.
fn wait_for_flow(state: &Mutex<State>, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let running = lock(state)
            .resources
            .get(id)
            .and_then(|r| r.flow.as_ref())
            .is_some_and(|f| !f.done);
        if !running {
            return;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// `scheme://host:port` of a URL: where the identity service is when kensa's fake plays it
/// (templates/README.md, "Where the identity service is").
fn origin(url: &str) -> String {
    url::Url::parse(url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

/// The stub's HTTP client for Heroku's identity service and Platform API; records each call.
struct Heroku<'a> {
    agent: ureq::Agent,
    state: &'a Mutex<State>,
}

impl<'a> Heroku<'a> {
    fn new(state: &'a Mutex<State>) -> Heroku<'a> {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .http_status_as_error(false)
            .build()
            .into();
        Heroku { agent, state }
    }

    /// `POST <identity>/oauth/token`; the status (0: no answer) and the JSON answer.
    fn exchange(&self, identity: &str, code: &str, secret: &str) -> (u16, Value) {
        let url = format!("{identity}/oauth/token");
        let result = self.agent.post(&url).send_form([
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_secret", secret),
        ]);
        self.answered("POST", &url, Some(code), result)
    }

    fn api(&self, method: &str, url: &str, token: &str, accept: &str, body: Option<Value>) -> u16 {
        let bearer = format!("Bearer {token}");
        let result = match method {
            "PATCH" => self
                .agent
                .patch(url)
                .header("Authorization", &bearer)
                .header("Accept", accept)
                .send_json(body.unwrap_or(Value::Null)),
            _ => self
                .agent
                .post(url)
                .header("Authorization", &bearer)
                .header("Accept", accept)
                .send_empty(),
        };
        self.answered(method, url, None, result).0
    }

    fn answered(
        &self,
        method: &str,
        url: &str,
        code: Option<&str>,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> (u16, Value) {
        let (status, answer) = match result {
            Ok(mut response) => (
                response.status().as_u16(),
                response
                    .body_mut()
                    .read_json::<Value>()
                    .unwrap_or(Value::Null),
            ),
            Err(_) => (0, Value::Null),
        };
        lock(self.state).callbacks.push(Callback {
            method: method.into(),
            url: url.into(),
            status,
            code: code.map(str::to_owned),
        });
        (status, answer)
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// A port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    // Bound but never listening: connections are refused, and no other test's listener can
    // be given this port while the test process lives (the socket is leaked on purpose).
    // A port merely released after binding could be reused by a parallel test.
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let addr: std::net::SocketAddr = "127.0.0.1:0".parse().expect("address");
    socket.bind(&addr.into()).expect("bind");
    let port = socket
        .local_addr()
        .expect("local addr")
        .as_socket()
        .expect("an IP address")
        .port();
    std::mem::forget(socket);
    port
}
