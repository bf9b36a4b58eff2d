//! The simulator: makes the calls Heroku makes and checks every answer
//! (`kensa test …`, `kensa run`). Checks record results; reporters render them.

pub mod answer;
pub mod command;
pub mod config;
pub mod cookies;
pub mod deprovision;
pub mod fake_heroku;
pub mod options;
pub mod planchange;
pub mod provision;
pub mod report;
pub mod sso;
pub mod suite;

use std::time::Duration;

use report::{Check, Recorder, RequestInfo};

use crate::http::{Auth, Client, Exchange, HttpError, Payload};
use crate::manifest::{Endpoint, Manifest};
use crate::registry::CheckDef;
use crate::verdict::Verdict;

/// Heroku's "should answer within" time; slower answers pass with a warning.
pub const SLOW: Duration = Duration::from_secs(3);

/// The provider under test, as the manifest describes it.
pub struct Provider<'a> {
    pub manifest: &'a Manifest,
    pub endpoint: Endpoint,
    pub production: bool,
    pub client: Client,
    /// Heroku's identity service and Platform API on loopback (v3, test URLs only); shared
    /// with `kensa dev`, whose local Heroku outlives one run.
    pub heroku: Option<std::sync::Arc<fake_heroku::FakeHeroku>>,
    /// Wait for the asynchronous flow even when the provider answers 200.
    pub force_async: bool,
    pub async_timeout: Duration,
}

/// A resource the provider created.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    pub id: String,
    /// Heroku's uuid for it, when kensa provisioned it (unknown for `test sso <id>`).
    pub uuid: Option<String>,
    pub heroku_id: Option<String>,
    pub config: serde_json::Map<String, serde_json::Value>,
}

impl Resource {
    /// A resource named on the command line (`test sso <id>`), not provisioned by kensa.
    pub fn named(id: String, uuid: Option<String>) -> Resource {
        Resource {
            id,
            uuid,
            heroku_id: None,
            config: Default::default(),
        }
    }
}

impl Provider<'_> {
    pub fn addon_id(&self) -> &str {
        self.manifest.id().unwrap_or_default()
    }

    pub fn password(&self) -> &str {
        self.manifest.password().unwrap_or_default()
    }

    pub fn auth(&self) -> Auth<'_> {
        Auth::Basic {
            user: self.addon_id(),
            password: self.password(),
        }
    }

    /// The v3 API also announces itself in Accept.
    fn accept(&self) -> &'static str {
        if self.manifest.is_v3() {
            "application/vnd.heroku-addons+json; version=3, application/json"
        } else {
            "application/json"
        }
    }

    /// Waits until the provider's callbacks make `done` hold for `uuid`, or until
    /// `--async-timeout`, with a spinner saying what for. Returns the record and whether
    /// `done` held.
    pub fn await_callbacks(
        &self,
        fake: &fake_heroku::FakeHeroku,
        uuid: &str,
        what: &str,
        done: impl Fn(&fake_heroku::AddonRecord) -> bool,
    ) -> (fake_heroku::AddonRecord, bool) {
        let _waiting = crate::progress::Spinner::start(format!(
            "waiting up to {} s for {what}",
            self.async_timeout.as_secs()
        ));
        fake.wait_until(uuid, self.async_timeout, done)
    }

    pub fn send(
        &self,
        method: &'static str,
        url: &str,
        auth: Auth<'_>,
        payload: &Payload,
    ) -> Result<Exchange, HttpError> {
        self.client
            .send(method, url, auth, payload, &[("Accept", self.accept())])
    }
}

/// A check about one request, timed by its answer.
pub fn check_of(
    def: &'static CheckDef,
    method: &str,
    url: &str,
    elapsed: Duration,
    verdict: Verdict,
) -> Check {
    Check {
        duration: elapsed,
        request: Some(RequestInfo {
            method: method.to_owned(),
            url: url.to_owned(),
        }),
        ..Check::new(def, verdict)
    }
}

/// Records the answer's status check: `ok` says which statuses pass; slow answers warn.
pub fn record_status(
    rec: &mut Recorder,
    def: &'static CheckDef,
    method: &str,
    url: &str,
    result: &Result<Exchange, HttpError>,
    ok: impl Fn(&Exchange) -> Result<(), String>,
) {
    let check = match result {
        Err(e) => check_of(
            def,
            method,
            url,
            Duration::ZERO,
            Verdict::Fail(e.to_string()),
        ),
        Ok(x) => {
            let verdict = match ok(x) {
                Err(why) => Verdict::Fail(why),
                Ok(()) if x.elapsed > SLOW => Verdict::Warn(format!(
                    "answered in {:.1} s; Heroku expects an answer within {} s",
                    x.elapsed.as_secs_f64(),
                    SLOW.as_secs()
                )),
                Ok(()) => Verdict::Pass,
            };
            check_of(def, method, url, x.elapsed, verdict)
        }
    };
    rec.record(check);
}

/// The two authentication checks of one call: a wrong password, and no credentials.
pub struct AuthChecks {
    pub wrong_password: &'static CheckDef,
    pub missing: &'static CheckDef,
}

/// Sends a request with the wrong password, then one with none; both must get 401.
/// Returns the answers that wrongly succeeded, so the caller can clean up after them.
pub fn check_auth(
    rec: &mut Recorder,
    provider: &Provider,
    checks: AuthChecks,
    method: &'static str,
    url: &str,
    payload: impl Fn() -> Payload,
) -> Vec<Exchange> {
    let wrong = format!("{}-wrong", provider.password());
    let attempts = [
        (
            checks.wrong_password,
            Auth::Basic {
                user: provider.addon_id(),
                password: &wrong,
            },
        ),
        (checks.missing, Auth::None),
    ];
    let mut accepted = Vec::new();
    for (def, auth) in attempts {
        let result = provider.send(method, url, auth, &payload());
        record_status(rec, def, method, url, &result, |x| match x.status {
            401 => Ok(()),
            s if (200..300).contains(&s) => Err(format!(
                "expected 401, got {s}: the provider accepted a request {}",
                if matches!(auth, Auth::None) {
                    "without credentials"
                } else {
                    "with a wrong password"
                }
            )),
            _ => Err(format!("expected 401, got {}", x.describe())),
        });
        if let Ok(x) = result {
            if x.is_success() {
                accepted.push(x);
            }
        }
    }
    accepted
}
