//! Provision: `POST <base_url>` with the v1 or v3 body, and every rule of
//! docs/protocol.md#provisioning. One step per rule below; each returns what it created,
//! so that [`run`] can deprovision every extra resource before it returns.

mod callbacks;
mod redelivery;
pub mod request;

use serde_json::{Map, Value};

use super::answer::{answer_id, answer_object, id_of};
use super::report::{Check, Recorder, Stage};
use super::{
    check_auth, check_of, config, deprovision, record_status, AuthChecks, Provider, Resource,
};
use crate::http::{Exchange, HttpError, Payload};
use crate::registry::{provision as checks, CheckDef};
use crate::verdict::Verdict;
pub use request::ProvisionRequest;

/// A resource an extra call created (a check's side effect, not the one under test),
/// deprovisioned before the provision step ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extra {
    pub id: String,
    /// Heroku's uuid, when the provider may deprovision asynchronously and call back.
    pub uuid: Option<String>,
}

/// What the first, real provision gave.
struct Provisioned {
    id: String,
    config: Map<String, Value>,
    /// A 202 (or `--async`): the config comes later, through the Platform API.
    asynchronous: bool,
}

/// Runs every provision check; returns the resource when one was created.
pub fn run(
    rec: &mut Recorder,
    provider: &Provider,
    plan: &str,
    options: &Map<String, Value>,
    redeliver: usize,
) -> Option<Resource> {
    let url = provider.endpoint.resources_url();
    rec.section(Stage::Provision, format!("POST {url}"));
    let v3 = provider.manifest.is_v3();
    let request = ProvisionRequest::new(provider, plan, options, None);
    let first = first_delivery(rec, provider, &url, &request)?;
    if !v3 {
        rec.note(
            &checks::ID_NOT_DERIVED,
            derived_check(&first.id, &request.heroku_id),
        );
    }
    let fresh = || ProvisionRequest::new(provider, plan, options, None);
    let mut extra = wrong_credentials(rec, provider, &url, || fresh().body);
    extra.extend(same_uuid_again(rec, provider, &url, &request, &first.id));
    // For v1, another app, unless many_per_app lets one app have several.
    let other_app = provider
        .manifest
        .requires_feature("many_per_app")
        .then_some(request.heroku_id.as_str());
    let other = ProvisionRequest::new(provider, plan, options, other_app);
    extra.extend(new_uuid(rec, provider, &url, other, &first.id));
    if redeliver > 1 {
        extra.extend(redelivery::concurrent_deliveries(
            rec,
            provider,
            &url,
            fresh(),
            redeliver,
        ));
    }
    cleanup(rec, provider, &extra);
    // Last, so the provider's callbacks run while the other checks do.
    let config = if first.asynchronous {
        callbacks::async_callbacks(rec, provider, &request.uuid)
    } else {
        first.config
    };
    Some(Resource {
        id: first.id,
        uuid: Some(request.uuid),
        heroku_id: (!v3).then_some(request.heroku_id),
        config,
    })
}

/// Whether a provision answer's status means "provisioned" (202: v3's "provisioning").
fn provisioned(status: u16, v3: bool) -> bool {
    matches!(status, 200 | 201) || (v3 && status == 202)
}

/// The real provision: status, JSON body, id, config and log drain. `None` when no
/// resource can be named, which ends the provision step.
fn first_delivery(
    rec: &mut Recorder,
    provider: &Provider,
    url: &str,
    request: &ProvisionRequest,
) -> Option<Provisioned> {
    let v3 = provider.manifest.is_v3();
    let result = provider.send(
        "POST",
        url,
        provider.auth(),
        &Payload::Json(request.body.clone()),
    );
    record_status(rec, &checks::STATUS, "POST", url, &result, |x| {
        match x.status {
            s if provisioned(s, v3) => Ok(()),
            202 => Err(
                "202 (asynchronous provisioning) needs the v3 API: set api.version to \"3\"".into(),
            ),
            _ => Err(format!("expected 200 or 201, got {}", x.describe())),
        }
    });
    let exchange = result.ok().filter(|x| provisioned(x.status, v3))?;
    let answer = answer_object(rec, &checks::JSON, &exchange)?;
    let id = id_of(&answer);
    rec.record(check_of(
        &checks::ID,
        "POST",
        url,
        std::time::Duration::ZERO,
        match &id {
            Some(_) => Verdict::Pass,
            None => Verdict::Fail(format!(
                "the answer needs a non-empty `id` (your resource's id): {}",
                exchange.snippet(200)
            )),
        },
    ));
    if exchange.status != 202 {
        config::check(rec, provider, &answer, true);
    }
    if provider.manifest.requires_feature("syslog_drain") {
        rec.note(&checks::LOG_DRAIN_URL, log_drain_verdict(&answer));
    }
    Some(Provisioned {
        id: id?,
        config: answer
            .get("config")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default(),
        asynchronous: v3 && (exchange.status == 202 || provider.force_async),
    })
}

/// With `requires: ["syslog_drain"]` the answer names where Heroku sends the app's logs.
fn log_drain_verdict(answer: &Map<String, Value>) -> Verdict {
    match answer.get("log_drain_url").and_then(Value::as_str) {
        Some(u) if u.starts_with("https://") || u.starts_with("syslog://") => Verdict::Pass,
        Some(u) => Verdict::Fail(format!(
            "log_drain_url {u:?} must start with https:// or syslog://"
        )),
        None => Verdict::Fail(
            "api.requires has syslog_drain, so the answer needs a log_drain_url".into(),
        ),
    }
}

/// Provisions with bad credentials (each a fresh `body`); both must get 401. Returns the
/// resources a wrongly accepting provider made anyway.
fn wrong_credentials(
    rec: &mut Recorder,
    provider: &Provider,
    url: &str,
    body: impl Fn() -> Value,
) -> Vec<Extra> {
    let auth = AuthChecks {
        wrong_password: &checks::AUTH_WRONG_PASSWORD,
        missing: &checks::AUTH_MISSING,
    };
    check_auth(rec, provider, auth, "POST", url, || Payload::Json(body()))
        .iter()
        .filter_map(answer_id)
        .map(|id| Extra { id, uuid: None })
        .collect()
}

/// Delivery is at least once: the very same request again must name the same resource.
fn same_uuid_again(
    rec: &mut Recorder,
    provider: &Provider,
    url: &str,
    request: &ProvisionRequest,
    id: &str,
) -> Option<Extra> {
    let uuid = &request.uuid;
    another_delivery(
        rec,
        provider,
        url,
        &checks::IDEMPOTENT_UUID,
        request.body.clone(),
        |x| {
            format!(
                "a second delivery of uuid {uuid} got {}; answer it like the first",
                x.describe()
            )
        },
        |x, second| {
            match second {
            Some(second) if second == id => (Verdict::Pass, None),
            Some(second) => (
                Verdict::Fail(format!(
                    "the same uuid {uuid} created a second resource ({id}, then {second}); provisioning must be idempotent on uuid"
                )),
                Some(Extra {
                    id: second,
                    uuid: Some(uuid.clone()),
                }),
            ),
            None => (
                Verdict::Fail(format!(
                    "the second delivery's answer has no id: {}",
                    x.snippet(200)
                )),
                None,
            ),
        }
        },
    )
}

/// A new uuid is a new resource, with an id of its own.
fn new_uuid(
    rec: &mut Recorder,
    provider: &Provider,
    url: &str,
    other: ProvisionRequest,
    id: &str,
) -> Option<Extra> {
    let uuid = other.uuid;
    another_delivery(
        rec,
        provider,
        url,
        &checks::NEW_UUID_NEW_ID,
        other.body,
        |x| format!("a provision with a new uuid got {}", x.describe()),
        |x, other_id| match other_id {
            Some(other_id) if other_id == id => (
                Verdict::Fail(format!(
                    "a different uuid got the same id {id}: every resource needs its own id"
                )),
                None,
            ),
            Some(other_id) => (
                Verdict::Pass,
                Some(Extra {
                    id: other_id,
                    uuid: Some(uuid),
                }),
            ),
            None => (
                Verdict::Fail(format!("the answer has no id: {}", x.snippet(200))),
                None,
            ),
        },
    )
}

/// Sends one more provision and records `check`: a transport error or a refusal fails it
/// (`refused` says how), else `judge` rules on the answer and its id. Returns the
/// resource the delivery made, if the judge says there is one to clean up.
fn another_delivery(
    rec: &mut Recorder,
    provider: &Provider,
    url: &str,
    check: &'static CheckDef,
    body: Value,
    refused: impl FnOnce(&Exchange) -> String,
    judge: impl FnOnce(&Exchange, Option<String>) -> (Verdict, Option<Extra>),
) -> Option<Extra> {
    let result: Result<Exchange, HttpError> =
        provider.send("POST", url, provider.auth(), &Payload::Json(body));
    let (verdict, made) = match &result {
        Err(e) => (Verdict::Fail(e.to_string()), None),
        Ok(x) if !x.is_success() => (Verdict::Fail(refused(x)), None),
        Ok(x) => judge(x, answer_id(x)),
    };
    let elapsed = result.as_ref().map(|x| x.elapsed).unwrap_or_default();
    rec.record(check_of(check, "POST", url, elapsed, verdict));
    made
}

/// v1: the id must be the provider's own, not the app's `heroku_id` dressed up.
fn derived_check(id: &str, heroku_id: &str) -> Verdict {
    let app = heroku_id.split('@').next().unwrap_or(heroku_id);
    let number = app.trim_start_matches("app");
    let derived =
        id == heroku_id || id.contains(app) || (!number.is_empty() && id.contains(number));
    Verdict::check(!derived, || {
        format!("id {id:?} is derived from heroku_id {heroku_id:?}; use an id of your own")
    })
}

/// Deprovisions the resources extra calls created, so a test run leaves nothing behind.
fn cleanup(rec: &mut Recorder, provider: &Provider, extra: &[Extra]) {
    if extra.is_empty() {
        return;
    }
    let failures: Vec<String> = extra
        .iter()
        .filter_map(|e| deprovision::delete(provider, &e.id, e.uuid.as_deref()).err())
        .collect();
    let verdict = if failures.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Warn(format!("could not deprovision {}", failures.join("; ")))
    };
    rec.record(Check::new(&checks::CLEANUP, verdict).with_param(extra.len()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_caught() {
        let hid = "app123@kensa.heroku.com";
        assert!(derived_check("app123", hid).is_fail());
        assert!(derived_check("res-123", hid).is_fail());
        assert!(derived_check(hid, hid).is_fail());
        assert_eq!(derived_check("b7f3c1d2", hid), Verdict::Pass);
    }

    #[test]
    fn only_v3_may_answer_202() {
        assert!(provisioned(200, false) && provisioned(201, false));
        assert!(provisioned(202, true));
        assert!(!provisioned(202, false));
        assert!(!provisioned(204, true));
    }
}
