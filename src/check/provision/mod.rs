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
    check_auth, check_of, config, deprovision, fake_heroku, record_status, record_timing,
    AuthChecks, Provider, Resource,
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
    /// The provider refused the field no document names: the other checks' requests leave
    /// it out, so one defect fails one check.
    without_unknown_field: bool,
}

/// A plan no add-on has, for the unknown-plan check.
pub const UNKNOWN_PLAN: &str = "kensa-no-such-plan";

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
    let mut request = ProvisionRequest::new(provider, plan, options, None);
    let first = first_delivery(rec, provider, &url, &request)?;
    let strip = first.without_unknown_field;
    let new_request = |plan: &str, heroku_id: Option<&str>| {
        let mut r = ProvisionRequest::new(provider, plan, options, heroku_id);
        if strip {
            r.body = r.without_unknown_field();
        }
        r
    };
    if strip {
        request.body = request.without_unknown_field();
    }
    if !v3 {
        rec.note(
            &checks::ID_NOT_DERIVED,
            derived_check(&first.id, &request.heroku_id),
        );
    }
    if let Some(fake) = &provider.heroku {
        fake.set_provider_id(&request.uuid, &first.id);
    }
    let fresh = || new_request(plan, None);
    let mut extra = wrong_credentials(rec, provider, &url, || fresh().body);
    // The redelivery must find the resource set up: an asynchronous one's flow finished,
    // so that what it does to Heroku can only be the redelivery's own doing.
    let waited = first.asynchronous && callbacks::await_flow(provider, &request.uuid);
    extra.extend(same_uuid_again(rec, provider, &url, &request, &first.id));
    // For v1, another app, unless many_per_app lets one app have several.
    let other_app = provider
        .manifest
        .requires_feature("many_per_app")
        .then_some(request.heroku_id.as_str());
    let other = new_request(plan, other_app);
    extra.extend(new_uuid(rec, provider, &url, other, &first.id));
    let unknown = new_request(UNKNOWN_PLAN, None);
    extra.extend(unknown_plan(rec, provider, &url, unknown));
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
        callbacks::async_callbacks(rec, provider, &request.uuid, !waited)
    } else {
        first.config
    };
    Some(Resource {
        id: first.id,
        uuid: Some(request.uuid.clone()),
        heroku_id: (!v3).then_some(request.heroku_id.clone()),
        plan: Some(request.plan.clone()),
        config,
        provision_body: Some(request.body),
    })
}

/// Whether a provision answer's status means "provisioned" (202: v3's "provisioning").
fn provisioned(status: u16, v3: bool) -> bool {
    matches!(status, 200 | 201) || (v3 && status == 202)
}

/// Sends the real provision; when it is refused as a bad request (400 or 422), sends it
/// again without the field no document names, and records whether that field was the
/// reason. Returns the answer that counts.
fn deliver_first(
    rec: &mut Recorder,
    provider: &Provider,
    url: &str,
    request: &ProvisionRequest,
) -> (Result<Exchange, HttpError>, bool) {
    let first = provider.send(
        "POST",
        url,
        provider.auth(),
        &Payload::Json(request.body.clone()),
    );
    let refused = matches!(&first, Ok(x) if matches!(x.status, 400 | 422));
    let mut without = false;
    let (verdict, result) = if refused {
        let again = provider.send(
            "POST",
            url,
            provider.auth(),
            &Payload::Json(request.without_unknown_field()),
        );
        match &again {
            Ok(x) if x.is_success() => {
                without = true;
                (
                    Verdict::Fail(format!(
                        "the provision was refused with the field `{}` ({}) and accepted without it: ignore fields you do not know",
                        request::UNKNOWN_FIELD,
                        first.as_ref().map(Exchange::describe).unwrap_or_default()
                    )),
                    again,
                )
            }
            _ => (
                Verdict::Skip(
                    "the provision was refused with and without the unknown field".into(),
                ),
                first,
            ),
        }
    } else {
        let verdict = match &first {
            Ok(x) if x.is_success() => Verdict::Pass,
            _ => Verdict::Skip("the provision did not succeed, so this cannot be told".into()),
        };
        (verdict, first)
    };
    rec.record(check_of(
        &checks::UNKNOWN_FIELD,
        "POST",
        url,
        std::time::Duration::ZERO,
        verdict,
    ));
    (result, without)
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
    let (result, without_unknown_field) = deliver_first(rec, provider, url, request);
    let expected = if v3 { "200, 201 or 202" } else { "200 or 201" };
    record_status(rec, &checks::STATUS, "POST", url, &result, |x| {
        match x.status {
            s if provisioned(s, v3) => Ok(()),
            202 => Err(
                "202 (asynchronous provisioning) needs the v3 API: set api.version to \"3\"".into(),
            ),
            406 => Err(format!(
                "406 to `Accept: {}`, the header Heroku sends alone: accept it (Heroku records a 406 as an error)",
                super::PARTNER_API_V3_ACCEPT
            )),
            422 | 400 => Err(format!(
                "expected {expected}, got {}; kensa provisions the plan {:?}: name one of yours with --plan",
                x.describe(),
                request.plan
            )),
            _ => Err(format!("expected {expected}, got {}", x.describe())),
        }
    });
    record_timing(rec, &checks::WITHIN_3_SECONDS, "POST", url, &result);
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
    if exchange.status == 202 {
        let config = answer
            .get("config")
            .filter(|c| !c.is_null() && c.as_object().is_none_or(|o| !o.is_empty()));
        rec.note(
            &checks::NO_CONFIG_ON_202,
            Verdict::check(config.is_none(), || {
                "the 202 answer carries `config`; set config through PATCH <callback_url>/config when the resource is ready".into()
            }),
        );
    } else {
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
        without_unknown_field,
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

/// Delivery is at least once: the very same request again must name the same resource,
/// and must not set it up a second time (a second grant exchange, or config changed to
/// other values: a provider whose id is the uuid passes the id comparison while it holds
/// two resources).
fn same_uuid_again(
    rec: &mut Recorder,
    provider: &Provider,
    url: &str,
    request: &ProvisionRequest,
    id: &str,
) -> Option<Extra> {
    let uuid = &request.uuid;
    let before = provider.heroku.as_ref().map(|fake| fake.record(uuid));
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
            Some(second) if second == id => match setup_repeated(provider, uuid, before.as_ref()) {
                None => (Verdict::Pass, None),
                Some(evidence) => (
                    Verdict::Fail(format!(
                        "the second delivery of uuid {uuid} answered the same id {id}, but the provider provisioned again: {evidence}"
                    )),
                    None,
                ),
            },
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

/// What kensa's fake Heroku saw of a second setup of `uuid` since `before` (the record
/// when the redelivery was sent), if anything.
fn setup_repeated(
    provider: &Provider,
    uuid: &str,
    before: Option<&fake_heroku::AddonRecord>,
) -> Option<String> {
    let (fake, before) = (provider.heroku.as_ref()?, before?);
    let record = fake.record(uuid);
    let mut evidence = Vec::new();
    if record.exchanges > before.exchanges {
        evidence.push(format!(
            "its grant code was exchanged {} times",
            record.exchanges
        ));
    }
    let changed =
        &record.config_changes[before.config_changes.len().min(record.config_changes.len())..];
    if !changed.is_empty() {
        evidence.push(format!(
            "its config was set again to other values ({})",
            changed.join(", ")
        ));
    }
    (!evidence.is_empty()).then(|| evidence.join(", and "))
}

/// A plan the add-on does not have gets 422 with a JSON `message` (advice: Heroku only
/// sends plans the add-on has). Returns what an accepting provider made.
fn unknown_plan(
    rec: &mut Recorder,
    provider: &Provider,
    url: &str,
    request: ProvisionRequest,
) -> Option<Extra> {
    let uuid = request.uuid;
    let plan = request.plan;
    let result = provider.send("POST", url, provider.auth(), &Payload::Json(request.body));
    let (verdict, made) = match &result {
        Err(e) => (Verdict::Fail(e.to_string()), None),
        Ok(x) if x.is_success() => (
            Verdict::Fail(format!(
                "the plan {plan:?} was accepted ({}); Heroku only sends plans your add-on has, but refusing others with 422 and a message catches a wrong plan list",
                x.status
            )),
            answer_id(x).map(|id| Extra {
                id,
                uuid: Some(uuid.clone()),
            }),
        ),
        Ok(x) => (refusal_with_message(x, &plan), None),
    };
    let elapsed = result.as_ref().map(|x| x.elapsed).unwrap_or_default();
    rec.record(check_of(
        &checks::UNKNOWN_PLAN,
        "POST",
        url,
        elapsed,
        verdict,
    ));
    made
}

/// A refusal of an unknown `plan`: 422 with a JSON `message` the user will see.
pub fn refusal_with_message(x: &Exchange, plan: &str) -> Verdict {
    let message = x
        .json()
        .ok()
        .and_then(|v| v.get("message")?.as_str().map(str::to_owned))
        .filter(|m| !m.trim().is_empty());
    match (x.status, message) {
        (422, Some(_)) => Verdict::Pass,
        (422, None) => Verdict::Fail(format!(
            "the plan {plan:?} got 422 without a JSON `message` for the user: {}",
            x.describe()
        )),
        _ => Verdict::Fail(format!(
            "the plan {plan:?} got {}; expected 422 with a JSON `message`",
            x.describe()
        )),
    }
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
        Verdict::Fail(format!("could not deprovision {}", failures.join("; ")))
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
