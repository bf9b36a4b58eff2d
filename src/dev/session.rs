//! One `kensa dev` session: the local Heroku (the simulator's fake, restored from and saved
//! to `.kensa/dev/session.json`), the resources provisioned through it, the service, the
//! last `test all` run, and the actions the keys and the console share. Every change is
//! announced to listeners ([`Event`]) and saved.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::service::{Service, ServiceError, Sink, Status};
use super::timeline::{self, Step};
use crate::check::answer::id_of_value;
use crate::check::fake_heroku::{self, Call, Direction, FakeHeroku, Snapshot};
use crate::check::provision::ProvisionRequest;
use crate::check::report::human::Human;
use crate::check::report::json::document;
use crate::check::suite::{self, Hooks};
use crate::check::Provider;
use crate::http::{Client, Exchange, Observed, Observer, Payload};
use crate::manifest::{dotenv, Manifest};
use crate::redact;
use crate::registry;
use crate::sso::{self, Route, SsoRequest, Visitor};
use crate::state::{self, Change, LastResource, OutsideChange};

const SAVED: &str = "session.json";
/// What the console shows for a value it hides until revealed.
const HIDDEN: &str = "••••••";
/// How often the session looks for notes of other commands (`kensa test deprovision`)
/// and whether the service still runs.
const POLL: Duration = Duration::from_millis(300);
/// The service's lines the console keeps (the terminal has them all).
const OUTPUT_LINES: usize = 500;

/// What the session was started with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub manifest_path: PathBuf,
    /// The manifest, its test URLs pointed at the service's port.
    pub manifest: Manifest,
    /// The plan `p` provisions.
    pub plan: String,
    /// Deadline of each answer from the service.
    pub timeout: Duration,
    /// How long the provider's asynchronous callbacks may take.
    pub async_timeout: Duration,
    /// How long the service may take to answer after a start.
    pub start_wait: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceState {
    Provisioning,
    Provisioned,
    Failed,
    Deprovisioning,
    Deprovisioned,
}

/// A resource provisioned through the local Heroku.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Resource {
    /// The provider's id, once it answered with one.
    pub id: Option<String>,
    /// Heroku's uuid: the key.
    pub uuid: String,
    pub plan: String,
    pub state: ResourceState,
    /// Its config vars: secrets, masked in the console until revealed.
    pub config: Map<String, Value>,
    /// Where it stopped and why, when it did.
    pub message: Option<String>,
    /// The check that explains `message`.
    pub check: Option<String>,
    pub created_at: String,
    /// What commands outside the session did to it (`kensa test deprovision`,
    /// `kensa test planchange`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outside: Vec<OutsideChange>,
}

impl Resource {
    /// Whether `key` names it (its id or its uuid).
    fn is(&self, key: &str) -> bool {
        self.uuid == key || self.id.as_deref() == Some(key)
    }

    /// Provisioned, or on its way there or out: something to act on.
    fn live(&self) -> bool {
        self.id.is_some() && self.state != ResourceState::Deprovisioned
    }
}

/// What is saved in `.kensa/dev/session.json` (mode 0600: it holds tokens).
#[derive(Default, Serialize, Deserialize)]
struct Saved {
    heroku: Snapshot,
    resources: Vec<Resource>,
    last_test: Option<Value>,
}

/// What listeners hear.
#[derive(Debug, Clone)]
pub enum Event {
    /// Something in [`Session::view`] changed.
    State,
    /// A call was logged.
    Call(Call),
    /// The service printed a line.
    Output(OutputLine),
    /// The session is ending.
    End,
}

#[derive(Default)]
struct Inner {
    resources: Vec<Resource>,
    last_test: Option<Value>,
    testing: bool,
}

/// A line the service printed (stdout or stderr), its secrets masked.
#[derive(Debug, Clone, Serialize)]
pub struct OutputLine {
    pub seq: u64,
    pub at: String,
    pub line: String,
}

/// Who hears the session's events: shared with the service's output sink, which runs on
/// the service's own threads.
type Listeners = Arc<Mutex<Vec<Sender<Event>>>>;

fn announce_to(listeners: &Listeners, event: Event) {
    listeners
        .lock()
        .expect("listeners")
        .retain(|l| l.send(event.clone()).is_ok());
}

/// The service's last [`OUTPUT_LINES`] lines, numbered.
#[derive(Default)]
struct Output {
    lines: std::collections::VecDeque<OutputLine>,
    next: u64,
}

impl Output {
    fn push(&mut self, line: &str) -> OutputLine {
        self.next += 1;
        let line = OutputLine {
            seq: self.next,
            at: now_precise(),
            line: line.to_owned(),
        };
        if self.lines.len() == OUTPUT_LINES {
            self.lines.pop_front();
        }
        self.lines.push_back(line.clone());
        line
    }
}

pub struct Session {
    /// Itself, for the threads that follow asynchronous flows.
    me: Weak<Session>,
    pub settings: Settings,
    pub heroku: Arc<FakeHeroku>,
    inner: Mutex<Inner>,
    service: Mutex<Option<Service>>,
    /// One action at a time: Heroku never sends two calls for one add-on at once here.
    busy: Mutex<()>,
    listeners: Listeners,
    /// What the service printed lately, for the console.
    output: Arc<Mutex<Output>>,
    ending: AtomicBool,
    /// Event streams open now: the way out waits (briefly) for them to say `end`.
    streams: AtomicUsize,
    logger: Arc<CallLogger>,
    say: Sink,
}

impl Session {
    /// Restores the saved local Heroku (on its old port when free) and resources.
    pub fn open(settings: Settings, say: Sink) -> Result<Arc<Session>> {
        let path = saved_path(&settings.manifest_path);
        let saved: Saved = state::read(&path)?.unwrap_or_default();
        let secret = suite::client_secret(&settings.manifest_path);
        let heroku = Arc::new(FakeHeroku::start_at(
            fake_heroku::Settings {
                client_secret: secret,
                ..fake_heroku::Settings::default()
            },
            Some(saved.heroku),
        )?);
        // Every log and view masks them, whoever read the manifest first.
        redact::register(settings.manifest.secrets());
        let logger = Arc::new(CallLogger {
            heroku: heroku.clone(),
            ids: Mutex::default(),
        });
        for r in &saved.resources {
            if let Some(id) = &r.id {
                logger.learn(id, &r.uuid);
            }
        }
        let session = Arc::new_cyclic(|me| Session {
            me: me.clone(),
            settings,
            heroku: heroku.clone(),
            inner: Mutex::new(Inner {
                resources: saved.resources,
                last_test: saved.last_test,
                testing: false,
            }),
            service: Mutex::new(None),
            busy: Mutex::new(()),
            listeners: Listeners::default(),
            output: Arc::default(),
            ending: AtomicBool::new(false),
            streams: AtomicUsize::new(0),
            logger,
            say,
        });
        let calls = heroku.subscribe();
        let weak = Arc::downgrade(&session);
        std::thread::spawn(move || forward(calls, weak));
        // What other commands did while no session ran, then while this one runs.
        session.take_in_outside_changes(&mut Vec::new());
        let weak = Arc::downgrade(&session);
        std::thread::spawn(move || follow(weak));
        // Resources that were waiting when the last session ended wait again.
        for r in session.inner().resources.clone() {
            match r.state {
                ResourceState::Provisioning => session.watch_provisioning(&r.uuid),
                ResourceState::Deprovisioning => session.watch_deprovisioning(&r.uuid),
                _ => {}
            }
        }
        Ok(session)
    }

    /// Applies the notes other commands left (a resource they deprovisioned or changed the
    /// plan of), saves, and removes them. A note that cannot be read is said once
    /// (`broken` remembers it).
    fn take_in_outside_changes(&self, broken: &mut Vec<String>) {
        for note in state::outside_changes(&self.settings.manifest_path) {
            let (path, change) = match note {
                Ok(note) => note,
                Err(e) => {
                    let why = e.to_string();
                    if !broken.contains(&why) {
                        (self.say)(&why);
                        broken.push(why);
                    }
                    continue;
                }
            };
            let known = |r: &Resource| match &change.uuid {
                Some(uuid) => &r.uuid == uuid,
                None => r.id.as_deref() == Some(change.id.as_str()),
            };
            let uuid = self
                .inner()
                .resources
                .iter()
                .find(|r| known(r))
                .map(|r| r.uuid.clone());
            if let Some(uuid) = uuid {
                self.update(&uuid, |r| {
                    match &change.change {
                        Change::Deprovisioned => {
                            r.state = ResourceState::Deprovisioned;
                            r.message = None;
                            r.check = None;
                        }
                        Change::PlanChanged { plan } => r.plan = plan.clone(),
                    }
                    r.outside.push(change.clone());
                });
                let what = match &change.change {
                    Change::Deprovisioned => "was deprovisioned".to_owned(),
                    Change::PlanChanged { plan } => format!("changed to plan {plan}"),
                };
                (self.say)(&format!(
                    "{} {what} outside this session (by {} at {})",
                    change.id, change.by, change.at
                ));
            }
            // Saved above (or about no resource of this session): the note has done its job.
            if let Err(e) = state::taken_in(&path) {
                (self.say)(&e.to_string());
            }
        }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().expect("session state")
    }

    /// Every change from now on. Dropping the receiver unsubscribes.
    pub fn subscribe(&self) -> Receiver<Event> {
        let (sender, receiver) = channel();
        if self.ending() {
            let _ = sender.send(Event::End);
        }
        self.listeners.lock().expect("listeners").push(sender);
        receiver
    }

    fn announce(&self, event: Event) {
        announce_to(&self.listeners, event);
    }

    /// Saves the session and tells listeners the state changed.
    fn changed(&self) {
        if let Err(e) = self.save() {
            (self.say)(&format!("cannot save the session: {e}"));
        }
        self.announce(Event::State);
    }

    fn save(&self) -> Result<()> {
        let inner = self.inner();
        let saved = Saved {
            heroku: self.heroku.snapshot(),
            resources: inner.resources.clone(),
            last_test: inner.last_test.clone(),
        };
        drop(inner);
        state::write(&saved_path(&self.settings.manifest_path), &saved)?;
        Ok(())
    }

    /// Counts an event stream as open until the guard is dropped.
    pub fn stream_open(&self) -> StreamGuard<'_> {
        self.streams.fetch_add(1, Ordering::SeqCst);
        StreamGuard(&self.streams)
    }

    /// After [`Session::end`]: waits until every event stream has said `end` and closed,
    /// at most `limit`, so the way out never hangs on a browser.
    pub fn wait_for_streams(&self, limit: Duration) {
        let deadline = std::time::Instant::now() + limit;
        while self.streams.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn ending(&self) -> bool {
        self.ending.load(Ordering::SeqCst)
    }

    /// Ends the session: listeners hear [`Event::End`], the service stops, the state is
    /// saved. Safe to call more than once.
    pub fn end(&self) {
        if self.ending.swap(true, Ordering::SeqCst) {
            return;
        }
        self.announce(Event::End);
        if let Some(mut service) = self.service.lock().expect("service").take() {
            service.stop();
        }
        let _ = self.save();
    }

    // ----- the service ---------------------------------------------------------------

    /// Starts (or restarts) the service and waits for it to answer.
    pub fn start_service(&self) -> Result<(), ServiceError> {
        let mut slot = self.service.lock().expect("service");
        let outcome = match slot.as_mut() {
            Some(service) => service.start(self.settings.start_wait),
            None => {
                let dir = crate::fsutil::parent_of(&self.settings.manifest_path);
                let env = dotenv::read_all(&self.settings.manifest_path).unwrap_or_default();
                let port = self.port();
                let sink = self.web_sink();
                let mut service = Service::from_procfile(&dir, env, port, sink)?;
                let started = service.start(self.settings.start_wait);
                *slot = Some(service);
                started
            }
        };
        drop(slot);
        self.changed();
        outcome
    }

    /// Where the service's lines go (masked as they were read, by `process`): the terminal
    /// and the console.
    fn web_sink(&self) -> Sink {
        let (say, output, listeners) = (
            self.say.clone(),
            self.output.clone(),
            self.listeners.clone(),
        );
        Arc::new(move |line: &str| {
            say(&format!("\u{0}web\u{0}{line}"));
            let kept = output.lock().expect("output").push(line);
            announce_to(&listeners, Event::Output(kept));
        })
    }

    /// The service's last lines (at most [`OUTPUT_LINES`]), oldest first.
    pub fn output(&self) -> Vec<OutputLine> {
        self.output
            .lock()
            .expect("output")
            .lines
            .iter()
            .cloned()
            .collect()
    }

    /// The port the service listens on: the manifest's test port.
    pub fn port(&self) -> u16 {
        self.settings.manifest.test_port().unwrap_or(5000)
    }

    pub fn service_status(&self) -> Value {
        let mut slot = self.service.lock().expect("service");
        let (status, command, tail, group) = match slot.as_mut() {
            Some(s) => (s.status(), s.command.clone(), s.tail(), s.group()),
            None => (Status::Stopped, String::new(), Vec::new(), None),
        };
        json!({"status": status, "command": command, "port": self.port(), "tail": tail, "group": group})
    }

    /// Says it when the service exited by itself (crashed, or was killed): in the terminal,
    /// and to the console. Not while it is being (re)started: that says its own outcome.
    fn notice_service_exit(&self) {
        let exited = match self.service.try_lock() {
            Ok(mut slot) => slot.as_mut().and_then(Service::exited_by_itself),
            Err(_) => None,
        };
        if let Some(why) = exited {
            (self.say)(&format!(
                "{why}; press r (or Restart service in the console) to restart it"
            ));
            self.changed();
        }
    }

    /// The service's process group, while it runs.
    pub fn service_group(&self) -> Option<u32> {
        self.service.lock().expect("service").as_ref()?.group()
    }

    // ----- Heroku's calls ------------------------------------------------------------

    fn provider(&self) -> Result<Provider<'_>> {
        let manifest = &self.settings.manifest;
        let endpoint = manifest.endpoint(false).ok_or_else(|| {
            anyhow!(
                "{}: api.test is missing or is neither a root URL nor {{base_url, sso_url}}",
                self.settings.manifest_path.display()
            )
        })?;
        let client = Client::new(self.settings.timeout, false, manifest.secrets())
            .observed_by(self.logger.clone().observer());
        Ok(Provider {
            manifest,
            endpoint,
            production: false,
            client,
            heroku: manifest.is_v3().then(|| self.heroku.clone()),
            force_async: false,
            async_timeout: self.settings.async_timeout,
        })
    }

    fn update(&self, uuid: &str, change: impl FnOnce(&mut Resource)) {
        let mut inner = self.inner();
        if let Some(r) = inner.resources.iter_mut().find(|r| r.uuid == uuid) {
            change(r);
            // A message may quote the provider, which may quote a secret.
            if let Some(message) = &mut r.message {
                *message = redact::mask(message).into_owned();
            }
        }
        drop(inner);
        self.changed();
    }

    /// The resource `key` names (id or uuid), or the last live one.
    pub fn resource(&self, key: Option<&str>) -> Result<Resource> {
        let inner = self.inner();
        let found = match key {
            Some(key) => inner.resources.iter().rev().find(|r| r.is(key)),
            None => inner.resources.iter().rev().find(|r| r.live()),
        };
        found.cloned().ok_or_else(|| match key {
            Some(key) => anyhow!("no resource {key} in this session"),
            None => anyhow!("no resource yet: provision one first (p, or the console)"),
        })
    }

    /// Provisions one resource as Heroku would (one call, no checks); a 202 is followed
    /// in the background until the provider calls back.
    pub fn provision(&self, plan: &str, options: &Map<String, Value>) -> Result<Resource> {
        let _busy = self.busy.lock().expect("busy");
        let provider = self.provider()?;
        let request = ProvisionRequest::new(&provider, plan, options, None);
        let uuid = request.uuid.clone();
        self.inner().resources.push(Resource {
            id: None,
            uuid: uuid.clone(),
            plan: plan.to_owned(),
            state: ResourceState::Provisioning,
            config: Map::new(),
            message: None,
            check: None,
            created_at: now(),
            outside: Vec::new(),
        });
        self.changed();
        (self.say)(&format!("provisioning plan {plan} (uuid {uuid})…"));
        let url = provider.endpoint.resources_url();
        let result = provider.send("POST", &url, provider.auth(), &Payload::Json(request.body));
        let answer = result.as_ref().ok().and_then(|x| x.json().ok());
        let id = answer.as_ref().and_then(id_of_value);
        let config = answer
            .as_ref()
            .and_then(|a| a.get("config"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let v3 = self.settings.manifest.is_v3();
        let (state, message) = match &result {
            Err(e) => (ResourceState::Failed, Some(e.to_string())),
            Ok(x) if id.is_none() && x.is_success() => (
                ResourceState::Failed,
                Some(format!("the answer has no `id`: {}", printable_snippet(x))),
            ),
            Ok(x) if x.status == 202 && v3 => (ResourceState::Provisioning, None),
            Ok(x) if matches!(x.status, 200 | 201) => (ResourceState::Provisioned, None),
            Ok(x) => (
                ResourceState::Failed,
                Some(format!("POST {url} answered {}", x.describe())),
            ),
        };
        if let Some(id) = &id {
            self.logger.learn(id, &uuid);
        }
        let check = message
            .is_some()
            .then(|| registry::provision::STATUS.id.to_owned());
        self.update(&uuid, |r| {
            r.id = id.clone();
            r.state = state;
            r.config = config;
            r.message = message.clone();
            r.check = check;
        });
        if let Some(id) = &id {
            let last = LastResource::new(
                &self.settings.manifest_path,
                id,
                Some(&uuid),
                plan,
                "kensa dev",
            );
            if let Err(e) = state::remember(&self.settings.manifest_path, &last) {
                (self.say)(&format!("cannot remember the resource: {e}"));
            }
        }
        match (state, &message) {
            (ResourceState::Provisioning, _) => {
                (self.say)(&format!(
                    "{} answered 202: waiting up to {} s for its callbacks",
                    id.as_deref().unwrap_or("?"),
                    self.settings.async_timeout.as_secs()
                ));
                self.watch_provisioning(&uuid);
            }
            (_, Some(why)) => (self.say)(&format!("provisioning failed: {why}")),
            _ => (self.say)(&format!(
                "provisioned {} (uuid {uuid})",
                id.as_deref().unwrap_or("?")
            )),
        }
        self.resource(Some(&uuid))
    }

    /// Follows an asynchronous provision until the provider calls `actions/provision`.
    fn watch_provisioning(&self, uuid: &str) {
        let (weak, uuid) = (self.weak(), uuid.to_owned());
        std::thread::spawn(move || {
            let Some(session) = weak.upgrade() else {
                return;
            };
            let timeout = session.settings.async_timeout;
            let heroku = session.heroku.clone();
            drop(session);
            let (record, done) = heroku.wait_until(&uuid, timeout, |r| r.provisioned.is_some());
            let Some(session) = weak.upgrade() else {
                return;
            };
            let config: Map<String, Value> = record.config.iter().cloned().collect();
            let stopped = if done {
                None
            } else {
                Some(timeline::stopped_at(&record, timeout))
            };
            session.update(&uuid, |r| {
                if r.state != ResourceState::Provisioning {
                    return;
                }
                r.config.extend(config);
                match stopped {
                    None => r.state = ResourceState::Provisioned,
                    Some((check, why)) => {
                        r.state = ResourceState::Failed;
                        r.message = Some(why);
                        r.check = Some(check.to_owned());
                    }
                }
            });
            let r = session.resource(Some(&uuid)).ok();
            if let Some(r) = r {
                match &r.message {
                    None => (session.say)(&format!(
                        "{} is provisioned (the provider called back)",
                        r.id.as_deref().unwrap_or(&uuid)
                    )),
                    Some(why) => {
                        (session.say)(&format!("asynchronous provisioning stopped: {why}"))
                    }
                }
            }
        });
    }

    fn weak(&self) -> Weak<Session> {
        self.me.clone()
    }

    /// Changes a resource's plan: `PUT <base_url>/<id>` with the plan and uuid.
    pub fn plan_change(&self, key: Option<&str>, plan: &str) -> Result<Resource> {
        let _busy = self.busy.lock().expect("busy");
        let resource = self.resource(key)?;
        let id = resource
            .id
            .clone()
            .ok_or_else(|| anyhow!("resource {} has no id yet", resource.uuid))?;
        let provider = self.provider()?;
        let url = provider.endpoint.resource_url(&id);
        let mut body = Map::new();
        body.insert("plan".into(), json!(plan));
        body.insert("uuid".into(), json!(resource.uuid));
        let result = provider.send("PUT", &url, provider.auth(), &Payload::Json(body.into()));
        match result {
            Ok(x) if x.is_success() => {
                let config = x
                    .json()
                    .ok()
                    .and_then(|a| a.get("config").and_then(Value::as_object).cloned())
                    .unwrap_or_default();
                self.update(&resource.uuid, |r| {
                    r.plan = plan.to_owned();
                    r.config.extend(config);
                    r.message = None;
                    r.check = None;
                });
                (self.say)(&format!("{id} is on plan {plan} now"));
            }
            Ok(x) => {
                let why = format!("PUT {url} answered {}", x.describe());
                self.note_failure(&resource.uuid, &why, registry::planchange::STATUS.id);
                return Err(anyhow!(why));
            }
            Err(e) => {
                self.note_failure(
                    &resource.uuid,
                    &e.to_string(),
                    registry::planchange::STATUS.id,
                );
                return Err(e.into());
            }
        }
        self.resource(Some(&resource.uuid))
    }

    fn note_failure(&self, uuid: &str, why: &str, check: &str) {
        (self.say)(why);
        self.update(uuid, |r| {
            r.message = Some(why.to_owned());
            r.check = Some(check.to_owned());
        });
    }

    /// Deprovisions a resource: `DELETE <base_url>/<id>`; a 202 is followed until the
    /// provider calls `actions/deprovision`.
    pub fn deprovision(&self, key: Option<&str>) -> Result<Resource> {
        let _busy = self.busy.lock().expect("busy");
        let resource = self.resource(key)?;
        let id = resource.id.clone().ok_or_else(|| {
            anyhow!(
                "resource {} has no id: nothing to deprovision",
                resource.uuid
            )
        })?;
        let provider = self.provider()?;
        let url = provider.endpoint.resource_url(&id);
        let result = provider.send("DELETE", &url, provider.auth(), &Payload::Empty);
        let check = registry::deprovision::STATUS.id;
        match result {
            Ok(x) if x.status == 202 && self.settings.manifest.is_v3() => {
                self.update(&resource.uuid, |r| r.state = ResourceState::Deprovisioning);
                (self.say)(&format!(
                    "{id}: deprovision answered 202, waiting for the callback"
                ));
                self.watch_deprovisioning(&resource.uuid);
            }
            Ok(x) if x.is_success() => {
                self.update(&resource.uuid, |r| {
                    r.state = ResourceState::Deprovisioned;
                    r.message = None;
                    r.check = None;
                });
                self.forget(&id);
                (self.say)(&format!("deprovisioned {id}"));
            }
            Ok(x) => {
                let why = format!("DELETE {url} answered {}", x.describe());
                self.note_failure(&resource.uuid, &why, check);
                return Err(anyhow!(why));
            }
            Err(e) => {
                self.note_failure(&resource.uuid, &e.to_string(), check);
                return Err(e.into());
            }
        }
        self.resource(Some(&resource.uuid))
    }

    fn forget(&self, id: &str) {
        if let Err(e) = state::forget(&self.settings.manifest_path, id) {
            (self.say)(&format!("cannot update the last resource: {e}"));
        }
    }

    fn watch_deprovisioning(&self, uuid: &str) {
        let (weak, uuid) = (self.weak(), uuid.to_owned());
        std::thread::spawn(move || {
            let Some(session) = weak.upgrade() else {
                return;
            };
            let (timeout, heroku) = (session.settings.async_timeout, session.heroku.clone());
            drop(session);
            let (_, done) = heroku.wait_until(&uuid, timeout, |r| r.deprovisioned.is_some());
            let Some(session) = weak.upgrade() else {
                return;
            };
            session.update(&uuid, |r| {
                if done {
                    r.state = ResourceState::Deprovisioned;
                } else {
                    r.message = Some(format!(
                        "answered 202 but never called POST …/actions/deprovision within {} s",
                        timeout.as_secs()
                    ));
                    r.check = Some(registry::deprovision::ASYNC_DONE.id.to_owned());
                }
            });
            if let Ok(r) = session.resource(Some(&uuid)) {
                if let (true, Some(id)) = (done, &r.id) {
                    session.forget(id);
                    (session.say)(&format!("deprovisioned {id} (the provider called back)"));
                }
            }
        });
    }

    /// What signs a browser in to a resource, as `kensa sso` does.
    pub fn sign_in(&self, key: Option<&str>) -> Result<SignIn> {
        let resource = self.resource(key)?;
        let id = resource
            .id
            .clone()
            .ok_or_else(|| anyhow!("resource {} has no id yet", resource.uuid))?;
        let manifest = &self.settings.manifest;
        let salt = manifest
            .sso_salt()
            .ok_or_else(|| anyhow!("the manifest has no api.sso_salt: no sign-on to make"))?;
        let addon_id = manifest.id().unwrap_or_default();
        let endpoint = manifest
            .endpoint(false)
            .ok_or_else(|| anyhow!("the manifest has no api.test"))?;
        let route = Route::for_endpoint(&endpoint, &id).map_err(|why| anyhow!(why))?;
        let visitor = Visitor::default();
        let request = SsoRequest {
            id: &id,
            uuid: manifest.is_v3().then_some(resource.uuid.as_str()),
            salt,
            addon_id,
            addon_name: manifest.name().unwrap_or(addon_id),
            visitor: &visitor,
            v3: manifest.is_v3(),
        };
        let params = request.params(sso::now());
        // Logged as made: the browser sends it and sees the answer.
        let (verb, target) = route.verb_url();
        let mut call = Call::new(Direction::ToProvider, "SSO", target);
        call.addon = Some(resource.uuid.clone());
        let names: Vec<&str> = params.iter().map(|(name, _)| name.as_str()).collect();
        call.request = format!("{verb} with {} (tokens masked here)", names.join(", "));
        call.response = "(answered to the browser)".into();
        self.heroku.record_call(call);
        Ok(match route {
            Route::Get(url) => SignIn::Redirect(sso::get_url(&url, params)?.to_string()),
            Route::Post(action) => SignIn::Form { action, params },
        })
    }

    // ----- test all ------------------------------------------------------------------

    /// Runs `kensa test all` against the service with this session's local Heroku,
    /// printing as `kensa test` does and keeping the report (with each check's
    /// explanation) for the console. Returns whether it passed.
    pub fn test_all(&self) -> Result<bool> {
        let _busy = self.busy.lock().expect("busy");
        self.inner().testing = true;
        self.changed();
        let opts = suite::Options {
            production: false,
            plan: None,
            timeout: self.settings.timeout,
            format: crate::check::report::Format::Human,
            verbose: false,
            force_async: false,
            async_timeout: self.settings.async_timeout,
            ..suite::Options::default()
        };
        let hooks = Hooks {
            manifest: Some(self.settings.manifest.clone()),
            heroku: self.settings.manifest.is_v3().then(|| self.heroku.clone()),
            observer: Some(self.logger.clone().observer()),
            reporter: Some(Box::new(Human::new(anstream::stdout()))),
        };
        let outcome =
            suite::test_with(&self.settings.manifest_path, suite::Step::All, &opts, hooks);
        let passed = outcome.as_ref().map(|r| !r.failed()).unwrap_or(false);
        let doc = match &outcome {
            Ok(report) => {
                let shown = self.settings.manifest_path.display().to_string();
                let mut doc = document(report, &shown, "test");
                explain(&mut doc);
                doc["finished_at"] = json!(now());
                doc
            }
            Err(e) => json!({"error": e.to_string(), "finished_at": now()}),
        };
        {
            let mut inner = self.inner();
            inner.testing = false;
            inner.last_test = Some(doc);
        }
        self.changed();
        outcome.map(|_| passed)
    }

    // ----- views -----------------------------------------------------------------------

    /// Everything the console shows, secrets masked.
    pub fn view(&self) -> Value {
        let calls = self.heroku.calls();
        let inner = self.inner();
        let resources: Vec<Value> = inner
            .resources
            .iter()
            .rev()
            .map(|r| {
                let masked: Map<String, Value> = r
                    .config
                    .keys()
                    .map(|k| (k.clone(), json!(HIDDEN)))
                    .collect();
                let steps: Vec<Step> = timeline::of(r, &calls, self.settings.async_timeout);
                json!({
                    "id": r.id, "uuid": r.uuid, "plan": r.plan, "state": r.state,
                    "config": masked, "message": r.message, "check": r.check,
                    "explain": r.check.as_deref().and_then(registry::find).map(explanation),
                    "created_at": r.created_at, "timeline": steps,
                    "tokens": self.heroku.tokens_of(&r.uuid).iter().map(|_| HIDDEN).collect::<Vec<_>>(),
                })
            })
            .collect();
        let manifest = &self.settings.manifest;
        json!({
            "addon": {"id": manifest.id(), "name": manifest.name(), "v3": manifest.is_v3(),
                      "sso": manifest.sso_salt().is_some(), "plan": self.settings.plan},
            "manifest": self.settings.manifest_path.display().to_string(),
            "heroku": self.heroku.base_url(),
            "service": self.service_status(),
            "resources": resources,
            "testing": inner.testing,
            "last_test": inner.last_test,
            "ending": self.ending(),
        })
    }

    /// A resource's config vars and tokens, unmasked: the console's reveal action.
    pub fn reveal(&self, key: &str) -> Result<Value> {
        let r = self.resource(Some(key))?;
        Ok(json!({"uuid": r.uuid, "config": r.config, "tokens": self.heroku.tokens_of(&r.uuid)}))
    }

    /// The call log, optionally of one resource (by id or uuid).
    pub fn calls(&self, key: Option<&str>) -> Vec<Call> {
        let uuid = key
            .and_then(|k| self.resource(Some(k)).ok())
            .map(|r| r.uuid);
        self.heroku
            .calls()
            .into_iter()
            .filter(|c| match (key, &uuid) {
                (None, _) => true,
                (Some(_), Some(u)) => c.addon.as_deref() == Some(u.as_str()),
                (Some(k), None) => c.addon.as_deref() == Some(k),
            })
            .collect()
    }
}

/// An open event stream, counted while it lives.
pub struct StreamGuard<'a>(&'a AtomicUsize);

impl Drop for StreamGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How a browser signs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    /// Legacy: a GET to this URL.
    Redirect(String),
    /// A form POST of `params` to `action`.
    Form {
        action: String,
        params: Vec<(String, String)>,
    },
}

fn saved_path(manifest_path: &Path) -> PathBuf {
    state::dev_dir(manifest_path).join(SAVED)
}

fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

fn now_precise() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

fn printable_snippet(x: &Exchange) -> String {
    super::service::printable(&x.snippet(200))
}

/// A check's rule, why and fix, as `kensa explain` gives them.
fn explanation(def: &registry::CheckDef) -> Value {
    json!({
        "rule": def.rule, "why": def.why, "fix": def.fix,
        "severity": def.severity.label(),
        "source": def.source.heroku.map(|p| p.url),
    })
}

/// Adds each check's explanation to a report document.
fn explain(doc: &mut Value) {
    let Some(sections) = doc.get_mut("sections").and_then(Value::as_array_mut) else {
        return;
    };
    for check in sections
        .iter_mut()
        .filter_map(|s| s.get_mut("checks").and_then(Value::as_array_mut))
        .flatten()
    {
        let def = check["id"].as_str().and_then(registry::find);
        check["explain"] = def.map_or(Value::Null, explanation);
    }
}

/// Until the session ends: takes in other commands' notes as they come, and says when the
/// service exits by itself.
fn follow(session: Weak<Session>) {
    let mut broken = Vec::new();
    loop {
        std::thread::sleep(POLL);
        let Some(session) = session.upgrade() else {
            return;
        };
        if session.ending() {
            return;
        }
        session.take_in_outside_changes(&mut broken);
        session.notice_service_exit();
    }
}

/// Forwards the local Heroku's calls to the session's listeners, saving as they come.
fn forward(calls: Receiver<Call>, session: Weak<Session>) {
    for call in calls {
        let Some(session) = session.upgrade() else {
            return;
        };
        session.announce(Event::Call(call));
        session.changed();
    }
}

/// Logs Heroku's calls to the provider in the local Heroku's call log, tagged with the
/// add-on they are about (the `uuid` of the body, or the uuid of the id in the URL).
pub struct CallLogger {
    heroku: Arc<FakeHeroku>,
    /// provider id → uuid, learnt from provision answers.
    ids: Mutex<HashMap<String, String>>,
}

impl CallLogger {
    fn learn(&self, id: &str, uuid: &str) {
        self.ids
            .lock()
            .expect("ids")
            .insert(id.to_owned(), uuid.to_owned());
    }

    fn observer(self: Arc<Self>) -> Observer {
        Arc::new(move |o: &Observed<'_>| self.log(o))
    }

    fn log(&self, o: &Observed<'_>) {
        let body: Option<Value> = serde_json::from_slice(o.request).ok();
        let sent_uuid = body
            .as_ref()
            .and_then(|b| b.get("uuid"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let answer_id = o
            .result
            .ok()
            .and_then(|x| x.json().ok())
            .as_ref()
            .and_then(id_of_value);
        if let (Some(uuid), Some(id), "POST") = (&sent_uuid, &answer_id, o.method) {
            self.learn(id, uuid);
        }
        let last_segment = o.url.rsplit('/').next().unwrap_or("");
        let id = url::form_urlencoded::parse(format!("x={last_segment}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let addon = sent_uuid.or_else(|| self.ids.lock().expect("ids").get(&id).cloned());
        let mut call = Call::new(Direction::ToProvider, o.method, o.url);
        call.addon = addon;
        call.request = redact::mask_body(o.request);
        match o.result {
            Ok(x) => {
                call.status = Some(x.status);
                call.response = redact::mask_body(&x.body);
            }
            Err(e) => call.response = e.to_string(),
        }
        call.millis = o.elapsed.as_millis() as u64;
        self.heroku.record_call(call);
    }
}
