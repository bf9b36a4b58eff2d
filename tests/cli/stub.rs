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

    // Rules of issue 16.
    /// Refuses (422) a provision carrying a field it does not know.
    RejectsUnknownFields,
    /// A 202 provision answer carries config (with `Provision202`).
    ConfigOn202,
    /// Takes any plan, known or not (the stub's plans are [`PLANS`]).
    AcceptsAnyPlan,
    /// Refuses an unknown plan with 422 but no JSON message.
    UnknownPlanWithoutMessage,
    /// Provisions a deprovisioned uuid again instead of answering 410.
    RecreatesDeprovisioned,
    /// A DELETE of a resource it no longer has answers 500.
    RepeatDeleteFails,
    /// A plan change to the current plan answers 500.
    SamePlanFails,
    /// A plan change of an asynchronously provisioned resource answers 202 and sets the
    /// new config through the Platform API afterwards.
    AsyncPlanChange,
    /// …answers 202 and never sets the config.
    AsyncPlanChangeNeverUpdates,
    /// A synchronous provision exchanges the grant before answering (as advised).
    SyncExchange,
    /// …with a client secret that is not its own (refused, yet it answers 200).
    SyncExchangeWrongSecret,
    /// The id is the uuid (with `NotIdempotent` and `SyncExchange`, a redelivery provisions
    /// again under the same id).
    IdIsUuid,
    /// Exchanges the grant with the parameters in the query string and an empty body, as
    /// Heroku's example add-on does.
    ExchangeAsQuery,
    /// After provisioning asynchronously, reads its add-on, config, attachments and app.
    ReadsPlatformApi,
    /// …and an app its add-on is not attached to.
    ReadsOtherApp,
    /// Never refreshes an expired access token.
    NeverRefreshes,
    /// Waits this long before calling `actions/deprovision`.
    DeprovisionCallbackDelay(Duration),
    /// Gives up on a 429.
    NoRetryOn429,
    /// Retries a 429 at once, without waiting for Retry-After.
    RetriesTooSoon,
    /// Posts log lines without octet counting.
    BadLogFraming,
    /// Posts log lines without a User-Agent.
    NoLogUserAgent,
    /// Posts nothing to log_input_url.
    LogsNothing,
    /// A good SSO request gets 403 with a body of blank lines.
    SsoBlankRefusal,
}

/// The plans the stub has; any other is refused with 422 and a message.
pub const PLANS: &[&str] = &["test", "async", "basic", "premium", "bar"];

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
    /// v3: where Heroku is, and the grant it sent.
    callback_url: Option<String>,
    code: Option<String>,
    log_input_url: Option<String>,
}

#[derive(Debug, Clone)]
struct Flow {
    callback_url: String,
    code: String,
    /// The Bearer token the exchange gave (and the stub kept).
    token: Option<String>,
    refresh_token: Option<String>,
    /// When the token expires.
    expires_at: Option<Instant>,
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

/// Work around an answer: before it is sent (inline) or after (background).
enum Job {
    Provision {
        id: String,
    },
    /// Exchange the code again (a redelivery), ignoring the outcome.
    Reexchange {
        id: String,
    },
    /// A synchronous provider's exchange of the grant, before it answers.
    SyncExchange {
        id: String,
    },
    Deprovision {
        flow: Flow,
    },
    /// After a 202 plan change: set the new config.
    PlanConfig {
        id: String,
    },
    /// Write a line to the app's log stream.
    Log {
        url: String,
        uuid: String,
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
    /// uuids of deprovisioned resources: provisioning one again gets 410.
    gone: HashSet<String>,
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
                callback_url: None,
                code: None,
                log_input_url: None,
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
    /// Run before the answer is sent, without the state's lock (calls to Heroku).
    first: Option<Job>,
    /// Run once the answer is sent (the asynchronous flow).
    then: Option<Job>,
}

impl Answer {
    fn json(status: u16, body: Value) -> Answer {
        Answer {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
            first: None,
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
            first: None,
            then: None,
        }
    }

    fn raw(status: u16, content_type: &str, body: Vec<u8>) -> Answer {
        Answer {
            status,
            headers: vec![("Content-Type".into(), content_type.into())],
            body,
            first: None,
            then: None,
        }
    }

    fn empty(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            first: None,
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

    fn first(mut self, job: Job) -> Answer {
        self.first = Some(job);
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
        if let Some(job) = answer.first.take() {
            self.run(state, job);
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

    /// The provider's side of the protocol that happens outside its answers: the calls to
    /// Heroku (after a 202, or inline), and log lines.
    fn run(&self, state: &Mutex<State>, job: Job) {
        let heroku = Heroku::new(state);
        let misbehaviours = lock(state).misbehaviours.clone();
        let has = |m: Misbehaviour| misbehaviours.contains(&m);
        let secret = lock(state)
            .client_secret
            .clone()
            .unwrap_or_else(|| CLIENT_SECRET.into());
        match job {
            Job::Provision { id } => {
                let flow = lock(state).resources.get(&id).and_then(|r| r.flow.clone());
                let Some(flow) = flow else { return };
                let kept = self.provision_flow(&heroku, &id, &flow, &misbehaviours, &secret);
                if let Some(flow) = lock(state)
                    .resources
                    .get_mut(&id)
                    .and_then(|r| r.flow.as_mut())
                {
                    if let Some((token, refresh, expires)) = kept {
                        flow.token = Some(token);
                        flow.refresh_token = refresh;
                        flow.expires_at = expires;
                    }
                    flow.done = true;
                }
                if has(Misbehaviour::ReadsPlatformApi) || has(Misbehaviour::ReadsOtherApp) {
                    let flow = lock(state).resources.get(&id).and_then(|r| r.flow.clone());
                    if let Some(flow) = flow {
                        self.read_platform_api(&heroku, &flow, has(Misbehaviour::ReadsOtherApp));
                    }
                }
            }
            Job::Reexchange { id } => {
                // After the first flow: this provider is not racing itself for the code.
                wait_for_flow(state, &id);
                let code = {
                    let st = lock(state);
                    st.resources
                        .get(&id)
                        .and_then(|r| Some((r.callback_url.clone()?, r.code.clone()?)))
                };
                if let Some((callback_url, code)) = code {
                    heroku.exchange(&origin(&callback_url), &code, &secret);
                }
            }
            Job::SyncExchange { id } => {
                let code = {
                    let st = lock(state);
                    st.resources
                        .get(&id)
                        .and_then(|r| Some((r.callback_url.clone()?, r.code.clone()?)))
                };
                if let Some((callback_url, code)) = code {
                    let secret = if has(Misbehaviour::SyncExchangeWrongSecret) {
                        "not-the-client-secret".to_owned()
                    } else {
                        secret
                    };
                    heroku.exchange(&origin(&callback_url), &code, &secret);
                }
            }
            Job::Deprovision { flow } => {
                let delay = misbehaviours.iter().find_map(|m| match m {
                    Misbehaviour::DeprovisionCallbackDelay(d) => Some(*d),
                    _ => None,
                });
                if let Some(delay) = delay {
                    thread::sleep(delay);
                }
                let token = self.fresh_token(&heroku, &flow, &secret, &misbehaviours);
                let url = format!("{}/actions/deprovision", flow.callback_url);
                heroku.api("POST", &url, &token, PLATFORM_API_ACCEPT, None);
            }
            Job::PlanConfig { id } => {
                let found = {
                    let st = lock(state);
                    st.resources
                        .get(&id)
                        .and_then(|r| Some((r.flow.clone()?, r.config.clone())))
                };
                let Some((flow, config)) = found else { return };
                let token = self.fresh_token(&heroku, &flow, &secret, &misbehaviours);
                let items: Vec<Value> = config
                    .into_iter()
                    .map(|(name, value)| json!({"name": name, "value": value}))
                    .collect();
                heroku.api(
                    "PATCH",
                    &format!("{}/config", flow.callback_url),
                    &token,
                    PLATFORM_API_ACCEPT,
                    Some(json!({ "config": items })),
                );
            }
            Job::Log { url, uuid } => {
                if !has(Misbehaviour::LogsNothing) {
                    heroku.log(
                        &url,
                        &uuid,
                        has(Misbehaviour::BadLogFraming),
                        !has(Misbehaviour::NoLogUserAgent),
                    );
                }
            }
        }
    }

    /// The flow's token, refreshed first when it has expired (unless told not to).
    fn fresh_token(
        &self,
        heroku: &Heroku,
        flow: &Flow,
        secret: &str,
        misbehaviours: &[Misbehaviour],
    ) -> String {
        let token = flow.token.clone().unwrap_or_default();
        let expired = flow.expires_at.is_some_and(|at| Instant::now() >= at);
        if !expired || misbehaviours.contains(&Misbehaviour::NeverRefreshes) {
            return token;
        }
        let Some(refresh) = &flow.refresh_token else {
            return token;
        };
        let (status, answer) = heroku.refresh(&origin(&flow.callback_url), refresh, secret);
        match (status, answer["access_token"].as_str()) {
            (200, Some(fresh)) => fresh.to_owned(),
            _ => token,
        }
    }

    /// What a provider may read after provisioning: its add-on, config, attachments and
    /// app (and, misbehaving, an app its add-on is not attached to).
    fn read_platform_api(&self, heroku: &Heroku, flow: &Flow, other_app: bool) {
        let token = flow.token.clone().unwrap_or_default();
        let callback = &flow.callback_url;
        let (_, addon) = heroku.get(callback, &token);
        heroku.get(&format!("{callback}/config"), &token);
        heroku.get(&format!("{callback}/addon-attachments"), &token);
        let app = if other_app {
            "00000000-0000-0000-0000-000000000000".to_owned()
        } else {
            addon["app"]["id"].as_str().unwrap_or_default().to_owned()
        };
        heroku.get(&format!("{}/apps/{app}", origin(callback)), &token);
    }

    /// Exchange, set config, mark provisioned; returns the token it kept, its refresh
    /// token and when it expires.
    fn provision_flow(
        &self,
        heroku: &Heroku,
        id: &str,
        flow: &Flow,
        misbehaviours: &[Misbehaviour],
        secret: &str,
    ) -> Option<(String, Option<String>, Option<Instant>)> {
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
        let refresh = answer["refresh_token"].as_str().map(str::to_owned);
        let expires = answer["expires_in"]
            .as_u64()
            .map(|s| Instant::now() + Duration::from_secs(s));
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
        token.map(|t| (t, refresh, expires))
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
                // v3 names the resource by Heroku's uuid, v1 by the provider's id.
                let id = match params.get("resource_id") {
                    Some(uuid) => st.by_uuid.get(uuid).cloned().unwrap_or_default(),
                    None => params.get("id").cloned().unwrap_or_default(),
                };
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
        const KNOWN_FIELDS: &[&str] = &[
            "uuid",
            "plan",
            "options",
            "name",
            "region",
            "callback_url",
            "oauth_grant",
            "log_input_url",
            "log_drain_token",
            "heroku_id",
            "logplex_token",
        ];
        if st.has(&Misbehaviour::RejectsUnknownFields) {
            if let Some(unknown) = body.keys().find(|k| !KNOWN_FIELDS.contains(&k.as_str())) {
                return Answer::message(422, &format!("unknown field {unknown}"));
            }
        }
        let uuid = body.get("uuid").and_then(Value::as_str).map(str::to_owned);
        let plan = body
            .get("plan")
            .and_then(Value::as_str)
            .unwrap_or("test")
            .to_owned();
        if let Some(refusal) = refuse_plan(st, &plan) {
            return refusal;
        }
        if uuid.as_ref().is_some_and(|u| st.gone.contains(u))
            && !st.has(&Misbehaviour::RecreatesDeprovisioned)
        {
            return Answer::message(410, "this resource was deprovisioned");
        }
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
                // Before answering, as a provider that redoes its setup inline would.
                return if st.has(&Misbehaviour::ExchangesAgainOnRedelivery) {
                    answer.first(Job::Reexchange { id: id.clone() })
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
                    _ if st.has(&Misbehaviour::IdIsUuid) => uuid.clone().unwrap_or_default(),
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
            refresh_token: None,
            expires_at: None,
            done: st.has(&Misbehaviour::NeverCallsBack),
        });
        let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
        let code = body
            .get("oauth_grant")
            .and_then(|g| g.get("code"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        // A resource answered for a second uuid (SameIdForEveryUuid) keeps its first uuid.
        st.resources.entry(id.clone()).or_insert_with(|| Resource {
            uuid: uuid.clone(),
            plan,
            config: config.clone(),
            flow,
            callback_url: text("callback_url"),
            code,
            log_input_url: text("log_input_url"),
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
            let mut answer = json!({"id": id, "message": "provisioning"});
            if st.has(&Misbehaviour::ConfigOn202) {
                answer["config"] = Value::Object(config);
            }
            return Answer::json(202, answer);
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
        let mut answer = Answer::json(status, Value::Object(answer));
        // A new resource (every delivery, for a provider that is not idempotent).
        let created = status == 201;
        if created
            && (st.has(&Misbehaviour::SyncExchange)
                || st.has(&Misbehaviour::SyncExchangeWrongSecret))
        {
            answer = answer.first(Job::SyncExchange { id: id.clone() });
        }
        if let (true, Some(url), Some(uuid)) = (
            created,
            body.get("log_input_url").and_then(Value::as_str),
            &uuid,
        ) {
            answer = answer.then(Job::Log {
                url: url.to_owned(),
                uuid: uuid.clone(),
            });
        }
        answer
    }

    fn plan_change(&self, st: &mut State, r: &Recorded, id: &str) -> Answer {
        if let Some(status) = st.misbehaviours.iter().find_map(|m| match m {
            Misbehaviour::PlanChangeStatus(s) => Some(*s),
            _ => None,
        }) {
            return Answer::message(status, "this plan change is not possible");
        }
        let non_string = st.has(&Misbehaviour::PlanChangeNonStringConfig);
        let same_fails = st.has(&Misbehaviour::SamePlanFails);
        let async_change = st.has(&Misbehaviour::AsyncPlanChange);
        let never_updates = st.has(&Misbehaviour::AsyncPlanChangeNeverUpdates);
        let url_var = self.addon.url_var();
        let Some(plan) = serde_json::from_slice::<Value>(&r.body)
            .ok()
            .and_then(|b| b.get("plan").and_then(Value::as_str).map(str::to_owned))
        else {
            return Answer::message(422, "the body needs a plan");
        };
        if let Some(refusal) = refuse_plan(st, &plan) {
            return refusal;
        }
        let Some(resource) = st.resources.get_mut(id) else {
            return Answer::message(404, "no such resource");
        };
        if resource.plan == plan {
            return if same_fails {
                Answer::message(500, "already on this plan")
            } else {
                Answer::json(200, json!({"message": format!("already on {plan}")}))
            };
        }
        resource.plan = plan.clone();
        if (async_change || never_updates) && resource.flow.is_some() {
            // The new plan's config differs: a new URL.
            let value = format!("http://127.0.0.1:{}/resources/{id}?plan={plan}", self.port);
            resource.config.insert(url_var, json!(value));
            let answer = Answer::json(202, json!({"message": format!("moving to {plan}")}));
            return if never_updates {
                answer
            } else {
                answer.then(Job::PlanConfig { id: id.to_owned() })
            };
        }
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
        // A styled page, as frameworks render them: kensa must show the text, not the CSS.
        let forbidden = |why: &str| {
            let page = format!(
                "<!DOCTYPE html><html><head><title>Forbidden</title><style>body {{ font-family: sans-serif; color: #c00 }}</style></head><body><h1>Forbidden</h1><p>single sign-on failed: {why}</p></body></html>"
            );
            (Answer::html(403, &page), None)
        };
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
            match params.get("resource_id") {
                Some(uuid) => {
                    if resource.uuid.as_ref() != Some(uuid) {
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
                    if get("resource_token") != token || get("user_scoped_resource_token") != scoped
                    {
                        return forbidden("bad resource token");
                    }
                }
                None => {
                    if get("token") != kensa::sso::v1_token(id, salt, timestamp) {
                        return forbidden("bad token");
                    }
                }
            }
        }
        let delay = st.slow(Route::SsoLogin);
        if st.has(&Misbehaviour::SsoBlankRefusal) {
            return (Answer::raw(403, "text/html", b"\n\n  \n".to_vec()), delay);
        }
        if let Some(status) = st.misbehaviours.iter().find_map(|m| match m {
            Misbehaviour::SsoLoginStatus(s) => Some(*s),
            _ => None,
        }) {
            return (
                Answer::html(
                    status,
                    "<!DOCTYPE html><html><head><style>p { color: red }</style><script>var x = 1;</script></head><body><p>the stub was told to refuse</p></body></html>",
                ),
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
    let repeat_fails = st.has(&Misbehaviour::RepeatDeleteFails);
    let removed = st.resources.remove(id);
    if let Some(uuid) = removed.as_ref().and_then(|r| r.uuid.clone()) {
        st.gone.insert(uuid);
    }
    match removed {
        // Asynchronous: 202, then the provider tells Heroku with the token it kept.
        Some(Resource {
            flow: Some(flow @ Flow { token: Some(_), .. }),
            ..
        }) => {
            let answer = Answer::json(202, json!({"message": "deprovisioning"}));
            if never_calls_back {
                answer
            } else {
                answer.then(Job::Deprovision { flow })
            }
        }
        Some(_) => Answer::empty(204),
        None if repeat_fails => Answer::message(500, "internal error"),
        None => Answer::message(404, "no such resource"),
    }
}

/// The 422 for a plan the stub does not have (unless it takes any plan).
fn refuse_plan(st: &State, plan: &str) -> Option<Answer> {
    if PLANS.contains(&plan) || st.has(&Misbehaviour::AcceptsAnyPlan) {
        return None;
    }
    Some(if st.has(&Misbehaviour::UnknownPlanWithoutMessage) {
        Answer::empty(422)
    } else {
        Answer::message(
            422,
            &format!("unknown plan {plan:?}; plans: {}", PLANS.join(", ")),
        )
    })
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

/// The stub's HTTP client for Heroku's identity service, Platform API and log sink;
/// records each call.
struct Heroku<'a> {
    agent: ureq::Agent,
    state: &'a Mutex<State>,
    misbehaviours: Vec<Misbehaviour>,
}

impl<'a> Heroku<'a> {
    fn new(state: &'a Mutex<State>) -> Heroku<'a> {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(5)))
            .http_status_as_error(false)
            .build()
            .into();
        let misbehaviours = lock(state).misbehaviours.clone();
        Heroku {
            agent,
            state,
            misbehaviours,
        }
    }

    fn has(&self, m: &Misbehaviour) -> bool {
        self.misbehaviours.contains(m)
    }

    /// `POST <identity>/oauth/token` with these parameters: a form body, or (as Heroku's
    /// example add-on does) a query string and an empty body.
    fn token(&self, identity: &str, params: &[(&str, &str)], code: Option<&str>) -> (u16, Value) {
        let url = format!("{identity}/oauth/token");
        let result = if self.has(&Misbehaviour::ExchangeAsQuery) {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(params)
                .finish();
            self.agent.post(&format!("{url}?{query}")).send_empty()
        } else {
            self.agent.post(&url).send_form(params.iter().copied())
        };
        self.answered("POST", &url, code, result)
    }

    /// `grant_type=authorization_code`; the status (0: no answer) and the JSON answer.
    fn exchange(&self, identity: &str, code: &str, secret: &str) -> (u16, Value) {
        self.token(
            identity,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("client_secret", secret),
            ],
            Some(code),
        )
    }

    /// `grant_type=refresh_token`.
    fn refresh(&self, identity: &str, refresh_token: &str, secret: &str) -> (u16, Value) {
        self.token(
            identity,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_secret", secret),
            ],
            None,
        )
    }

    /// A Platform API call; a 429 is retried after Retry-After (unless told otherwise).
    fn api(&self, method: &str, url: &str, token: &str, accept: &str, body: Option<Value>) -> u16 {
        let send = || {
            let bearer = format!("Bearer {token}");
            let result = match method {
                "PATCH" => self
                    .agent
                    .patch(url)
                    .header("Authorization", &bearer)
                    .header("Accept", accept)
                    .send_json(body.clone().unwrap_or(Value::Null)),
                "GET" => self
                    .agent
                    .get(url)
                    .header("Authorization", &bearer)
                    .header("Accept", accept)
                    .call(),
                _ => self
                    .agent
                    .post(url)
                    .header("Authorization", &bearer)
                    .header("Accept", accept)
                    .send_empty(),
            };
            let retry_after = result
                .as_ref()
                .ok()
                .and_then(|r| r.headers().get("retry-after")?.to_str().ok()?.parse().ok());
            (self.answered(method, url, None, result), retry_after)
        };
        let ((status, _), retry_after) = send();
        if status != 429 || self.has(&Misbehaviour::NoRetryOn429) {
            return status;
        }
        if !self.has(&Misbehaviour::RetriesTooSoon) {
            thread::sleep(Duration::from_secs(retry_after.unwrap_or(1)));
        }
        send().0 .0
    }

    /// A Platform API GET; the status and the JSON answer.
    fn get(&self, url: &str, token: &str) -> (u16, Value) {
        let result = self
            .agent
            .get(url)
            .header("Authorization", &format!("Bearer {token}"))
            .header("Accept", PLATFORM_API_ACCEPT)
            .call();
        self.answered("GET", url, None, result)
    }

    /// One line to the app's log stream at `log_input_url`: an octet-counted RFC 5424
    /// frame (or, misbehaving, the bare line).
    fn log(&self, log_input_url: &str, uuid: &str, bad_framing: bool, user_agent: bool) {
        let Ok(mut url) = url::Url::parse(log_input_url) else {
            return;
        };
        let credentials = format!("{}:{}", url.username(), url.password().unwrap_or_default());
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let frame = format!("<190>1 2026-03-03T18:05:00+00:00 {uuid} stubby - - - provisioned");
        let body = if bad_framing {
            frame
        } else {
            format!("{} {frame}", frame.len())
        };
        let mut request = self
            .agent
            .post(url.as_str())
            .header(
                "Authorization",
                &format!("Basic {}", STANDARD.encode(credentials)),
            )
            .header("Content-Type", "application/logplex-1");
        if user_agent {
            request = request.header("User-Agent", "stubby (https://example.com/stubby)");
        }
        let result = request.send(body.as_bytes());
        self.answered("POST", url.as_str(), None, result);
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
