//! The simulator: makes the calls Heroku makes and checks every answer
//! (`kensa test …`, `kensa run`). Checks record results; reporters render them.

pub mod accounting;
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

/// Heroku's "should answer within" time; slower answers break advice (row 40).
pub const SLOW: Duration = Duration::from_secs(3);

/// The `Accept` header of Heroku's v3 calls to a provider.
pub const PARTNER_API_V3_ACCEPT: &str = "application/vnd.heroku-addons+json; version=3";

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

/// A resource the provider created, or one named on the command line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resource {
    pub id: String,
    /// Heroku's uuid for it, when known (kensa provisioned it, `--uuid`, the state file).
    pub uuid: Option<String>,
    /// The v1 `heroku_id` it was provisioned for.
    pub heroku_id: Option<String>,
    /// The plan it is on, when known.
    pub plan: Option<String>,
    pub config: serde_json::Map<String, serde_json::Value>,
    /// The provision request kensa made it with, to send again once it is deprovisioned.
    pub provision_body: Option<serde_json::Value>,
}

impl Resource {
    /// A resource named on the command line (`test sso <id>`), not provisioned by this run.
    pub fn named(id: String, uuid: Option<String>) -> Resource {
        Resource {
            id,
            uuid,
            ..Resource::default()
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

    /// What Heroku sends in `Accept`: v3's media type alone, with no `application/json`
    /// fallback that would hide a provider's 406 (docs/protocol.md#provisioning).
    fn accept(&self) -> &'static str {
        if self.manifest.is_v3() {
            PARTNER_API_V3_ACCEPT
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

/// How to start the service when a connection is refused: the `web` process of the
/// Procfile beside the manifest, with its `.env` (as foreman and `heroku local` run it).
pub fn start_hint(manifest_path: &std::path::Path) -> Option<String> {
    // A Procfile is small; reading it happens once per run, before any request.
    let dir = crate::fsutil::parent_of(manifest_path);
    let procfile = dir.join("Procfile");
    let Ok(text) = crate::fsutil::read_input_text(&procfile) else {
        return Some("is the service running, and listening on that port?".into());
    };
    let web = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("web:"))
        .map(str::trim)
        .filter(|w| !w.is_empty());
    Some(match web {
        Some(web) => format!(
            "is the service running? Start it as {} says: `{web}` with its .env loaded (`heroku local web` or `foreman start web` in {})",
            procfile.display(),
            dir.display()
        ),
        None => format!(
            "is the service running? {} has no web: line to say how to start it",
            procfile.display()
        ),
    })
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

/// Records the answer's status check: `ok` says which statuses pass.
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
        Ok(x) => check_of(def, method, url, x.elapsed, Verdict::from(ok(x))),
    };
    rec.record(check);
}

/// Records whether the answer came within the 3 s Heroku asks for (`def`, a step's
/// `within-3-seconds` advice). No answer at all is the status check's failure, not this
/// one's. Its time is the status check's, so it counts none of its own.
pub fn record_timing(
    rec: &mut Recorder,
    def: &'static CheckDef,
    method: &str,
    url: &str,
    result: &Result<Exchange, HttpError>,
) {
    let verdict = match result {
        Err(_) => Verdict::Skip("no answer came".into()),
        Ok(x) => Verdict::check(x.elapsed <= SLOW, || {
            format!(
                "answered in {:.1} s; Heroku asks for an answer within {} s (and gives up at 25 s)",
                x.elapsed.as_secs_f64(),
                SLOW.as_secs()
            )
        }),
    };
    rec.record(check_of(def, method, url, Duration::ZERO, verdict));
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
