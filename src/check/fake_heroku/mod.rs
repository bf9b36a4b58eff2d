//! A loopback fake of the Heroku a provider talks to, on one origin
//! (`http://127.0.0.1:<port>`): the identity service (`POST /oauth/token`, [`identity`]),
//! the Platform API for partners ([`platform`]) and the log sink behind `log_input_url`
//! ([`logs`]). It answers what Heroku answers as far as the public sources say
//! (docs/protocol.md#how-kensa-simulates-heroku), and records every call, so a test run can
//! account for all of them.
//!
//! The API, for `kensa test`/`kensa run` and for `kensa dev`:
//!
//! - [`FakeHeroku::start`] with [`Settings`] (client secret, token lifetime, an injected
//!   429); it stops when dropped.
//! - [`FakeHeroku::provision`] registers an add-on Heroku is about to provision
//!   ([`NewAddon`]) and hands out its grant; [`FakeHeroku::callback_url`] and
//!   [`FakeHeroku::log_input_url`] are what the provision request carries.
//! - [`FakeHeroku::record`] is what the provider did for one add-on ([`AddonRecord`]),
//!   [`FakeHeroku::wait_until`] waits for it to change, [`FakeHeroku::calls`] lists every
//!   call in order ([`Call`]), [`FakeHeroku::strays`] the refused ones naming no add-on,
//!   [`FakeHeroku::log_posts`] what reached the log sink, and
//!   [`FakeHeroku::rate_limit`] what followed the injected 429.
//! - For `kensa dev`'s session-long local Heroku: the call log holds every call in both
//!   directions (secrets masked: the provider's calls to this fake, and Heroku's calls to
//!   the provider that its owner reports with [`FakeHeroku::record_call`]), live to
//!   [`FakeHeroku::subscribe`]rs; [`FakeHeroku::snapshot`] is the whole state, which
//!   [`FakeHeroku::start_at`] restores (grants, tokens, add-ons, calls).

mod identity;
pub mod logs;
mod platform;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::interrupt;
use crate::redact;
use crate::serve::{Limits, Request, Response, Server};
pub use logs::LogPost;

/// How long a grant code is valid, as Heroku's are: minutes, not hours.
pub const GRANT_LIFETIME: Duration = Duration::from_secs(300);
/// An access token's life without `--token-ttl`: Heroku's are about eight hours (28799 s in
/// the example add-on's recorded answer).
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(28_800);
/// What the injected 429 asks the provider to wait.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);
/// Each connection to the fake: its request read and answered within this, or dropped.
/// A provider's callback is one small request; a client that stalls holds up nothing.
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(10);
/// The largest request body the fake reads (a config PATCH is a few hundred bytes; a log
/// post a few kilobytes).
const BODY_LIMIT: usize = 1 << 20;

/// How the fake behaves.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// The provider's OAuth client secret; `None` accepts any non-empty one.
    pub client_secret: Option<String>,
    /// Access tokens expire after this long (`--token-ttl`); default [`TOKEN_LIFETIME`].
    pub token_ttl: Option<Duration>,
    /// Answer the first Platform API call with 429 and `Retry-After` (`--inject-429`).
    pub inject_429: bool,
}

/// An add-on Heroku is about to provision.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewAddon {
    pub uuid: String,
    /// The resource's name (`acme-db-rugged-12345`).
    pub name: String,
    /// The add-on service's slug (the manifest id).
    pub service: String,
    pub plan: String,
    /// Config var names the manifest declares.
    pub config_vars: Vec<String>,
}

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
    /// Every `authorization_code` exchange attempted with this add-on's code, refused ones
    /// included: more than one is a provider provisioning the add-on twice.
    #[serde(default)]
    pub exchanges: usize,
    /// Access tokens obtained with `grant_type=refresh_token`.
    #[serde(default)]
    pub refreshes: usize,
    /// Calls made with an access token after it expired.
    #[serde(default)]
    pub expired_token_uses: usize,
    /// The config set through `PATCH /addons/<uuid>/config`, in order.
    pub config: Vec<(String, Value)>,
    /// Accepted config updates (PATCH calls).
    #[serde(default)]
    pub config_sets: usize,
    /// Config vars a PATCH changed to a value other than the one set before.
    #[serde(default)]
    pub config_changes: Vec<String>,
    /// Every refused call and why, in order (so a later step can tell its own apart).
    pub refusals: Vec<String>,
    pub provisioned: Option<Result<(), String>>,
    pub deprovisioned: Option<Result<(), String>>,
}

/// Which of Heroku's services a call to this fake went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    Identity,
    PlatformApi,
    LogSink,
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

/// One request and its answer, as the call log keeps it: every text masked by
/// [`redact`] when it is recorded (bodies by [`redact::mask_body`]), so the log can be
/// shown and saved as it is.
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
    /// The service of a call to this fake (`None` for Heroku's calls to the provider).
    #[serde(default)]
    pub service: Option<Service>,
    /// Why the fake refused the call, in words.
    #[serde(default)]
    pub refusal: Option<String>,
    /// A Platform API call without `Accept: application/vnd.heroku+json; version=3`.
    #[serde(default)]
    pub unversioned: bool,
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
            service: None,
            refusal: None,
            unversioned: false,
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
    /// access token → expiry in seconds since the epoch.
    #[serde(default)]
    token_expiry: BTreeMap<String, u64>,
    /// refresh token → uuid.
    #[serde(default)]
    refresh_tokens: BTreeMap<String, String>,
    addons: BTreeMap<String, AddonRecord>,
    /// What the Platform API knows of each add-on.
    #[serde(default)]
    addon_info: BTreeMap<String, SavedAddon>,
    strays: Vec<String>,
    calls: Vec<Call>,
}

/// An add-on as the snapshot keeps what the Platform API knows of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SavedAddon {
    info: NewAddon,
    provider_id: Option<String>,
    app_id: String,
    app_name: String,
    created: u64,
}

/// The injected 429 and what followed it.
#[derive(Debug, Clone)]
pub struct RateLimit {
    /// `METHOD /path` of the call that got the 429.
    pub call: String,
    /// How long after the 429 the same call came again, if it did.
    pub retried_after: Option<Duration>,
}

/// A registered add-on: what the Platform API knows of it, and what the provider did.
#[derive(Debug, Clone)]
struct Addon {
    info: NewAddon,
    /// The id the provider answered with.
    provider_id: Option<String>,
    app_id: String,
    app_name: String,
    created: SystemTime,
    record: AddonRecord,
}

impl Addon {
    fn new(info: NewAddon, record: AddonRecord) -> Addon {
        let short = &info.uuid[..8.min(info.uuid.len())];
        Addon {
            app_id: uuid::Uuid::new_v4().to_string(),
            app_name: format!("kensa-app-{short}"),
            info,
            provider_id: None,
            created: SystemTime::now(),
            record,
        }
    }
}

#[derive(Debug, Clone)]
struct GrantRecord {
    uuid: String,
    expires: SystemTime,
    used: bool,
}

#[derive(Debug, Clone)]
struct Token {
    uuid: String,
    expires: Instant,
}

#[derive(Debug, Default)]
struct Injected {
    call: String,
    at: Option<Instant>,
    retried_after: Option<Duration>,
}

struct State {
    settings: Settings,
    grants: HashMap<String, GrantRecord>,
    tokens: HashMap<String, Token>,
    /// refresh token → uuid
    refresh_tokens: HashMap<String, String>,
    addons: HashMap<String, Addon>,
    /// Refused calls that name no known add-on (unknown uuid, code or route).
    strays: Vec<String>,
    calls: VecDeque<Call>,
    last_seq: u64,
    subscribers: Vec<Sender<Call>>,
    log_posts: Vec<LogPost>,
    injected: Option<Injected>,
}

impl State {
    fn new(settings: Settings) -> State {
        State {
            injected: settings.inject_429.then(Injected::default),
            settings,
            grants: HashMap::new(),
            tokens: HashMap::new(),
            refresh_tokens: HashMap::new(),
            addons: HashMap::new(),
            strays: Vec::new(),
            calls: VecDeque::new(),
            last_seq: 0,
            subscribers: Vec::new(),
            log_posts: Vec::new(),
        }
    }

    /// Numbers, stamps, keeps and broadcasts a call; subscribers that hung up are dropped.
    /// Records `call`, every text of it masked: whoever made the call, no secret it quotes
    /// reaches a subscriber, the console or the saved session.
    fn log(&mut self, mut call: Call) {
        for text in [&mut call.target, &mut call.request, &mut call.response] {
            *text = redact::mask(text).into_owned();
        }
        if let Some(why) = &mut call.refusal {
            *why = redact::mask(why).into_owned();
        }
        self.last_seq += 1;
        call.seq = self.last_seq;
        call.at = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        self.subscribers.retain(|s| s.send(call.clone()).is_ok());
        if self.calls.len() == CALL_LOG_LIMIT {
            self.calls.pop_front();
        }
        self.calls.push_back(call);
    }

    fn restore(&mut self, saved: Snapshot) {
        let at = |secs: u64| UNIX_EPOCH + Duration::from_secs(secs);
        self.grants = saved
            .grants
            .into_iter()
            .map(|(code, (uuid, expiry, used))| {
                let grant = GrantRecord {
                    uuid,
                    expires: at(expiry),
                    used,
                };
                (code, grant)
            })
            .collect();
        // An access token lives on; one saved without an expiry gets Heroku's lifetime.
        let lifetime = self.token_lifetime();
        self.tokens = saved
            .tokens
            .into_iter()
            .map(|(token, uuid)| {
                let expires = saved
                    .token_expiry
                    .get(&token)
                    .map(|secs| {
                        let left = at(*secs)
                            .duration_since(SystemTime::now())
                            .unwrap_or_default();
                        Instant::now() + left
                    })
                    .unwrap_or_else(|| Instant::now() + lifetime);
                (token, Token { uuid, expires })
            })
            .collect();
        self.refresh_tokens = saved.refresh_tokens.into_iter().collect();
        let mut info = saved.addon_info;
        self.addons = saved
            .addons
            .into_iter()
            .map(|(uuid, record)| {
                let addon = match info.remove(&uuid) {
                    Some(saved) => Addon {
                        info: saved.info,
                        provider_id: saved.provider_id,
                        app_id: saved.app_id,
                        app_name: saved.app_name,
                        created: at(saved.created),
                        record,
                    },
                    None => Addon::new(
                        NewAddon {
                            uuid: uuid.clone(),
                            name: uuid.clone(),
                            service: String::new(),
                            plan: String::new(),
                            config_vars: Vec::new(),
                        },
                        record,
                    ),
                };
                (uuid, addon)
            })
            .collect();
        self.strays = saved.strays;
        self.last_seq = saved.calls.last().map_or(0, |c| c.seq);
        self.calls = saved.calls.into_iter().collect();
    }

    /// The add-on an id in a path names: its uuid or its name (the Platform API takes both).
    fn addon_uuid(&self, id_or_name: &str) -> Option<String> {
        if self.addons.contains_key(id_or_name) {
            return Some(id_or_name.to_owned());
        }
        self.addons
            .values()
            .find(|a| a.info.name == id_or_name)
            .map(|a| a.info.uuid.clone())
    }

    /// Notes a refusal on the add-on it concerns, or as a stray.
    fn refuse(&mut self, uuid: Option<&str>, why: String) {
        match uuid.and_then(|u| self.addons.get_mut(u)) {
            Some(addon) => addon.record.refusals.push(why),
            None => self.strays.push(why),
        }
    }

    fn token_lifetime(&self) -> Duration {
        self.settings.token_ttl.unwrap_or(TOKEN_LIFETIME)
    }

    /// A new access token (and refresh token) for `uuid`: the identity service's answer.
    fn issue_token(&mut self, uuid: &str) -> Value {
        let access = format!("HRKU-{}", uuid::Uuid::new_v4());
        let refresh = uuid::Uuid::new_v4().to_string();
        let lifetime = self.token_lifetime();
        self.tokens.insert(
            access.clone(),
            Token {
                uuid: uuid.to_owned(),
                expires: Instant::now() + lifetime,
            },
        );
        self.refresh_tokens.insert(refresh.clone(), uuid.to_owned());
        json!({
            "access_token": access,
            "expires_in": lifetime.as_secs(),
            "refresh_token": refresh,
            "token_type": "Bearer",
            "user_id": uuid::Uuid::new_v4().to_string(),
            "session_nonce": null,
        })
    }
}

type Shared = Arc<(Mutex<State>, Condvar)>;

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.0.lock().unwrap_or_else(|e| e.into_inner())
}

pub struct FakeHeroku {
    base: String,
    shared: Shared,
    /// Stops serving when the fake is dropped, whatever its clients do.
    _server: Server,
}

impl FakeHeroku {
    /// Starts on 127.0.0.1 and a free port.
    pub fn start(settings: Settings) -> std::io::Result<FakeHeroku> {
        FakeHeroku::start_at(settings, None)
    }

    /// [`FakeHeroku::start`] with the state of `restore`, on its port when that is free
    /// (else on a free one).
    pub fn start_at(settings: Settings, restore: Option<Snapshot>) -> std::io::Result<FakeHeroku> {
        let wanted = restore.as_ref().map_or(0, |s| s.port);
        let mut state = State::new(settings);
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

    /// The identity service, the API and the log sink share this origin.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The Platform API URL of the add-on, as `callback_url` carries it.
    pub fn callback_url(&self, uuid: &str) -> String {
        format!("{}/addons/{uuid}", self.base)
    }

    /// Where the provider writes the app's logs, credentials in the user-info as Heroku's
    /// `https://token:t.<uuid>@1.us.logplex.io/logs`.
    pub fn log_input_url(&self, uuid: &str) -> String {
        let host = self.base.trim_start_matches("http://");
        format!("http://token:t.{uuid}@{host}/logs")
    }

    /// Registers an add-on Heroku is provisioning, and returns its grant: exchangeable once,
    /// before it expires. Registering a uuid again (a redelivery) gives a fresh grant and
    /// keeps what was recorded.
    pub fn provision(&self, addon: NewAddon) -> Grant {
        let code = uuid::Uuid::new_v4().to_string();
        let expires_at = SystemTime::now() + GRANT_LIFETIME;
        let mut state = lock(&self.shared);
        state.grants.insert(
            code.clone(),
            GrantRecord {
                uuid: addon.uuid.clone(),
                expires: expires_at,
                used: false,
            },
        );
        let uuid = addon.uuid.clone();
        state
            .addons
            .entry(uuid)
            .or_insert_with(|| Addon::new(addon, AddonRecord::default()));
        Grant { code, expires_at }
    }

    /// The id the provider answered the provision with (the add-on's `provider_id`).
    pub fn set_provider_id(&self, uuid: &str, id: &str) {
        if let Some(addon) = lock(&self.shared).addons.get_mut(uuid) {
            addon.provider_id = Some(id.to_owned());
        }
    }

    /// The add-on's plan after a plan change.
    pub fn set_plan(&self, uuid: &str, plan: &str) {
        if let Some(addon) = lock(&self.shared).addons.get_mut(uuid) {
            addon.info.plan = plan.to_owned();
        }
    }

    /// Whether this fake registered the add-on: one provisioned by an earlier run calls
    /// back that run's fake, never this one.
    pub fn knows(&self, uuid: &str) -> bool {
        lock(&self.shared).addons.contains_key(uuid)
    }

    pub fn record(&self, uuid: &str) -> AddonRecord {
        lock(&self.shared)
            .addons
            .get(uuid)
            .map(|a| a.record.clone())
            .unwrap_or_default()
    }

    /// The calls logged so far (the newest [`CALL_LOG_LIMIT`]), oldest first: the
    /// provider's to this fake, and those its owner recorded.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.shared).calls.iter().cloned().collect()
    }

    /// The number of the last call logged (0 for none): what a run started after.
    pub fn last_seq(&self) -> u64 {
        lock(&self.shared).last_seq
    }

    /// Every call from now on, as it is logged. Dropping the receiver unsubscribes.
    pub fn subscribe(&self) -> Receiver<Call> {
        let (sender, receiver) = channel();
        lock(&self.shared).subscribers.push(sender);
        receiver
    }

    /// The access tokens issued to the provider for add-on `uuid`: secrets.
    pub fn tokens_of(&self, uuid: &str) -> Vec<String> {
        let mut tokens: Vec<String> = lock(&self.shared)
            .tokens
            .iter()
            .filter(|(_, token)| token.uuid == uuid)
            .map(|(token, _)| token.clone())
            .collect();
        tokens.sort();
        tokens
    }

    /// Logs a call the fake did not serve itself: Heroku's calls to the provider.
    pub fn record_call(&self, call: Call) {
        lock(&self.shared).log(call);
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
        let state = lock(&self.shared);
        let secs = |t: &SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let instant_secs = |i: &Instant| {
            let left = i.saturating_duration_since(Instant::now());
            secs(&(SystemTime::now() + left))
        };
        Snapshot {
            port,
            grants: state
                .grants
                .iter()
                .map(|(code, g)| (code.clone(), (g.uuid.clone(), secs(&g.expires), g.used)))
                .collect(),
            tokens: state
                .tokens
                .iter()
                .map(|(token, t)| (token.clone(), t.uuid.clone()))
                .collect(),
            token_expiry: state
                .tokens
                .iter()
                .map(|(token, t)| (token.clone(), instant_secs(&t.expires)))
                .collect(),
            refresh_tokens: state.refresh_tokens.clone().into_iter().collect(),
            addons: state
                .addons
                .iter()
                .map(|(uuid, a)| (uuid.clone(), a.record.clone()))
                .collect(),
            addon_info: state
                .addons
                .iter()
                .map(|(uuid, a)| {
                    let saved = SavedAddon {
                        info: a.info.clone(),
                        provider_id: a.provider_id.clone(),
                        app_id: a.app_id.clone(),
                        app_name: a.app_name.clone(),
                        created: secs(&a.created),
                    };
                    (uuid.clone(), saved)
                })
                .collect(),
            strays: state.strays.clone(),
            calls: state.calls.iter().cloned().collect(),
        }
    }

    /// The refused calls that named no add-on kensa provisioned: a provider calling the
    /// wrong URL, or with a code it was not given, shows up here.
    pub fn strays(&self) -> Vec<String> {
        lock(&self.shared).strays.clone()
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

    /// Everything posted to the log sink, in order.
    pub fn log_posts(&self) -> Vec<LogPost> {
        lock(&self.shared).log_posts.clone()
    }

    /// The injected 429 and its retry, once a call got it.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        let state = lock(&self.shared);
        let injected = state.injected.as_ref()?;
        injected.at.map(|_| RateLimit {
            call: injected.call.clone(),
            retried_after: injected.retried_after,
        })
    }

    /// Whether the fake was asked to answer a call with 429 (`--inject-429`).
    pub fn injecting(&self) -> bool {
        lock(&self.shared).injected.is_some()
    }

    /// Whether the fake was asked to issue short-lived tokens (`--token-ttl`).
    pub fn token_ttl(&self) -> Option<Duration> {
        lock(&self.shared).settings.token_ttl
    }

    /// Waits until `done` holds for the add-on's record, or the timeout; returns the record
    /// and whether `done` held.
    pub fn wait_until(
        &self,
        uuid: &str,
        timeout: Duration,
        done: impl Fn(&AddonRecord) -> bool,
    ) -> (AddonRecord, bool) {
        let deadline = Instant::now() + timeout;
        let (_, changed) = &*self.shared;
        let mut state = lock(&self.shared);
        loop {
            let record = state
                .addons
                .get(uuid)
                .map(|a| a.record.clone())
                .unwrap_or_default();
            if done(&record) {
                return (record, true);
            }
            let now = Instant::now();
            if now >= deadline || interrupt::interrupted() {
                return (record, false);
            }
            // Wake at least every 200 ms to notice Ctrl-C.
            let wait = (deadline - now).min(Duration::from_millis(200));
            state = changed
                .wait_timeout(state, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits until the call numbered `seq` was logged, or the timeout.
    pub fn wait_for_call(&self, seq: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (_, changed) = &*self.shared;
        let mut state = lock(&self.shared);
        while state.last_seq < seq {
            let now = Instant::now();
            if now >= deadline || interrupt::interrupted() {
                return false;
            }
            let wait = (deadline - now).min(Duration::from_millis(200));
            state = changed
                .wait_timeout(state, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

/// A request as the routes see it.
pub struct Incoming {
    pub method: String,
    /// Without the query.
    pub path: String,
    pub query: String,
    pub body: Vec<u8>,
    headers: Vec<(String, String)>,
}

impl Incoming {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The Bearer token of `Authorization`.
    pub fn bearer(&self) -> Option<&str> {
        self.header("Authorization")?.strip_prefix("Bearer ")
    }
}

/// What a route answers, and what the fake records of the call.
pub struct Outcome {
    pub service: Service,
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub uuid: Option<String>,
    pub refusal: Option<String>,
    pub unversioned: bool,
}

impl Outcome {
    pub fn json(service: Service, status: u16, body: Value) -> Outcome {
        Outcome {
            service,
            status,
            body: body.to_string().into_bytes(),
            content_type: "application/json",
            headers: Vec::new(),
            uuid: None,
            refusal: None,
            unversioned: false,
        }
    }

    /// A refusal in Heroku's error shape, `{"id", "message"}`, noted on the add-on.
    pub fn refused(service: Service, status: u16, id: &str, message: &str) -> Outcome {
        let mut outcome = Outcome::json(service, status, error(id, message));
        outcome.refusal = Some(message.to_owned());
        outcome
    }

    pub fn about(mut self, uuid: Option<String>) -> Outcome {
        self.uuid = uuid;
        self
    }
}

pub fn error(id: &str, message: &str) -> Value {
    json!({"id": id, "message": message})
}

fn handle(shared: &Shared, request: &Request) -> Response {
    let (path, query) = match request.target.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (request.target.clone(), String::new()),
    };
    let incoming = Incoming {
        method: request.method.clone(),
        path,
        query,
        body: request.body.clone(),
        headers: request.headers.clone(),
    };
    let started = Instant::now();
    let outcome = {
        let mut state = lock(shared);
        let outcome = route(&mut state, &incoming);
        let call = format!("{} {}", incoming.method, incoming.path);
        if let Some(why) = &outcome.refusal {
            if outcome.service != Service::LogSink {
                let shown = match &outcome.uuid {
                    Some(u) => call.replace(u.as_str(), "<uuid>"),
                    None => call.clone(),
                };
                state.refuse(
                    outcome.uuid.as_deref(),
                    format!("{shown} got {}: {why}", outcome.status),
                );
            }
        }
        state.log(Call {
            addon: outcome.uuid.clone(),
            request: redact::mask_body(&incoming.body),
            status: Some(outcome.status),
            response: redact::mask_body(&outcome.body),
            millis: started.elapsed().as_millis() as u64,
            service: Some(outcome.service),
            refusal: outcome.refusal.clone(),
            unversioned: outcome.unversioned,
            ..Call::new(Direction::ToHeroku, &incoming.method, &incoming.path)
        });
        outcome
    };
    shared.1.notify_all();
    let mut response = Response::new(outcome.status, outcome.content_type, outcome.body);
    for (name, value) in outcome.headers {
        response = response.with_header(name, &value);
    }
    response
}

fn route(state: &mut State, request: &Incoming) -> Outcome {
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    match (request.method.as_str(), segments.as_slice()) {
        ("POST", ["oauth", "token"]) => identity::token(state, request),
        ("POST", ["logs", ..]) => logs::post(state, request),
        (_, ["addons", ..] | ["apps", ..]) => platform::call(state, request, &segments),
        _ => {
            let why = format!(
                "no route {} {} on this fake Heroku",
                request.method, request.path
            );
            Outcome::refused(Service::PlatformApi, 404, "not_found", &why)
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    /// One raw HTTP/1.1 exchange; returns the status code, the headers and the body.
    pub fn raw_full(fake: &FakeHeroku, head: &str, body: &str) -> (u16, String, Value) {
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
        let (headers, json) = text.split_once("\r\n\r\n").unwrap_or((&text, "null"));
        (
            status,
            headers.to_owned(),
            serde_json::from_str(json).unwrap_or(Value::Null),
        )
    }

    pub fn raw(fake: &FakeHeroku, head: &str, body: &str) -> (u16, Value) {
        let (status, _, json) = raw_full(fake, head, body);
        (status, json)
    }

    pub fn addon(uuid: &str) -> NewAddon {
        NewAddon {
            uuid: uuid.into(),
            name: format!("acme-db-{uuid}"),
            service: "acme-db".into(),
            plan: "basic".into(),
            config_vars: vec!["ACME_DB_URL".into()],
        }
    }

    pub fn start(secret: Option<&str>) -> FakeHeroku {
        FakeHeroku::start(Settings {
            client_secret: secret.map(str::to_owned),
            ..Settings::default()
        })
        .unwrap()
    }

    pub const FORM: &str =
        "POST /oauth/token HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded";
    pub const API: &str = "Accept: application/vnd.heroku+json; version=3";

    pub fn token_request(code: &str, secret: &str) -> String {
        format!("grant_type=authorization_code&code={code}&client_secret={secret}")
    }

    /// Exchanges a fresh grant for `uuid`; the access token.
    pub fn token_for(fake: &FakeHeroku, uuid: &str) -> String {
        let grant = fake.provision(addon(uuid));
        let (status, answer) = raw(fake, FORM, &token_request(&grant.code, "s3cret"));
        assert_eq!(status, 200, "{answer}");
        answer["access_token"].as_str().unwrap().to_owned()
    }

    #[test]
    fn the_whole_flow_and_each_refusal() {
        let fake = start(Some("s3cret"));
        let grant = fake.provision(addon("u1"));
        assert_eq!(raw(&fake, FORM, &token_request(&grant.code, "nope")).0, 401);
        let (status, answer) = raw(&fake, FORM, &token_request(&grant.code, "s3cret"));
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["token_type"], "Bearer");
        let token = answer["access_token"].as_str().unwrap().to_owned();
        let (again, why) = raw(&fake, FORM, &token_request(&grant.code, "s3cret"));
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
        assert_eq!(
            record.exchanges, 3,
            "every attempt counts, refused ones too"
        );
        assert_eq!(record.config, [("X_URL".to_owned(), json!("http://x"))]);
        assert_eq!(record.config_sets, 1);
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
        assert_eq!(fake.calls().len(), 7);
        assert_eq!(fake.last_seq(), 7);
    }

    #[test]
    fn an_unversioned_api_call_is_served_and_noted() {
        let fake = start(None);
        let token = {
            let grant = fake.provision(addon("u2"));
            let (_, answer) = raw(&fake, FORM, &token_request(&grant.code, "any"));
            answer["access_token"].as_str().unwrap().to_owned()
        };
        let head = format!("POST /addons/u2/actions/provision HTTP/1.1\r\nAuthorization: Bearer {token}\r\nAccept: application/json");
        assert_eq!(raw(&fake, &head, "").0, 200);
        let calls = fake.calls();
        assert!(calls.last().unwrap().unversioned);
        assert!(
            !calls[0].unversioned,
            "the identity service is not the Platform API"
        );
    }

    #[test]
    fn an_h2c_upgrade_request_gets_an_answer() {
        // Java's HttpClient sends these headers on plain http by default.
        let fake = start(None);
        let grant = fake.provision(addon("u3"));
        let head = "POST /oauth/token HTTP/1.1\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQBAAAAAAIAAAAA\r\nContent-Type: application/x-www-form-urlencoded";
        let (status, _) = raw(&fake, head, &token_request(&grant.code, "any"));
        assert_eq!(status, 200);
    }

    #[test]
    fn every_call_is_logged_masked_and_broadcast_and_the_state_survives_a_restart() {
        let fake = start(Some("s3cret"));
        let live = fake.subscribe();
        let grant = fake.provision(addon("u5"));
        let (_, answer) = raw(&fake, FORM, &token_request(&grant.code, "s3cret"));
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
                exchange.status,
                exchange.service
            ),
            ("POST", "/oauth/token", Some(200), Some(Service::Identity))
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
        assert_eq!(calls[2].service, None);
        let heard: Vec<u64> = live.try_iter().map(|c| c.seq).collect();
        assert_eq!(heard, [1, 2, 3], "subscribers hear every call");

        // Restored, the provider's token still works, the add-on is still known to the
        // Platform API, and the log goes on numbering.
        fake.set_provider_id("u5", "res-5");
        let saved: Snapshot =
            serde_json::from_str(&serde_json::to_string(&fake.snapshot()).unwrap()).unwrap();
        drop(fake);
        let again = FakeHeroku::start_at(
            Settings {
                client_secret: Some("s3cret".into()),
                ..Settings::default()
            },
            Some(saved),
        )
        .unwrap();
        let action = format!(
            "POST /addons/u5/actions/provision HTTP/1.1\r\nAuthorization: Bearer {token}\r\n{API}"
        );
        assert_eq!(raw(&again, &action, "").0, 200);
        assert_eq!(again.record("u5").provisioned, Some(Ok(())));
        assert_eq!(again.record("u5").config.len(), 1);
        let (_, addon) = raw(
            &again,
            &format!("GET /addons/u5 HTTP/1.1\r\nAuthorization: Bearer {token}\r\n{API}"),
            "",
        );
        assert_eq!(addon["provider_id"], "res-5");
        assert_eq!(again.calls().last().unwrap().seq, 5);
    }

    #[test]
    fn waiting_ends_at_the_timeout() {
        let fake = start(None);
        fake.provision(addon("u4"));
        let (_, done) = fake.wait_until("u4", Duration::from_millis(100), |r| {
            r.provisioned.is_some()
        });
        assert!(!done);
        assert!(!fake.wait_for_call(1, Duration::from_millis(50)));
    }
}
