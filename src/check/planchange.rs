//! Plan change (docs/protocol.md#plan-change): `PUT <base_url>/<id>` with `{"plan": …}`:
//! 401 for bad credentials; a real plan changes (2xx), a made-up one is refused with 422
//! and a message; a 202 is followed by the config update through the Platform API; and the
//! same plan again is a no-op.

use serde_json::{json, Map, Value};

use super::provision::{refusal_with_message, request::new_heroku_id};
use super::report::{Recorder, Stage};
use super::{
    answer, check_auth, check_of, config, record_status, record_timing, AuthChecks, Provider,
    Resource,
};
use crate::http::{Exchange, Payload};
use crate::registry::planchange as checks;
use crate::verdict::Verdict;

/// The plan a change goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// One the add-on has (`--plan`, `kensa test planchange <id> <plan>`): it must change.
    Real(&'a str),
    /// One kensa made up (`foo`, as the original gem did): it should be refused.
    Unknown(&'a str),
}

impl Target<'_> {
    fn plan(&self) -> &str {
        match self {
            Target::Real(p) | Target::Unknown(p) => p,
        }
    }
}

/// The body Heroku sends: the plan, v3's uuid, v1's `heroku_id` (also when kensa did not
/// provision the resource, as Heroku always sends it).
fn body(provider: &Provider, resource: &Resource, plan: &str) -> Value {
    let mut body = Map::new();
    body.insert("plan".into(), json!(plan));
    if let Some(uuid) = &resource.uuid {
        body.insert("uuid".into(), json!(uuid));
    }
    if !provider.manifest.is_v3() {
        let heroku_id = resource.heroku_id.clone().unwrap_or_else(new_heroku_id);
        body.insert("heroku_id".into(), json!(heroku_id));
    }
    Value::Object(body)
}

/// Returns the plan the provider changed the resource to, when it accepted the change.
pub fn run(
    rec: &mut Recorder,
    provider: &Provider,
    resource: &Resource,
    target: Target,
) -> Option<String> {
    let url = provider.endpoint.resource_url(&resource.id);
    rec.section(Stage::Planchange, format!("PUT {url}"));
    let plan = target.plan();
    let body = body(provider, resource, plan);
    let auth = AuthChecks {
        wrong_password: &checks::AUTH_WRONG_PASSWORD,
        missing: &checks::AUTH_MISSING,
    };
    check_auth(rec, provider, auth, "PUT", &url, || {
        Payload::Json(body.clone())
    });
    // Config updates the Platform API saw before this change are not its own.
    let fake_record = |p: &Provider| {
        p.heroku
            .as_ref()
            .zip(resource.uuid.as_deref())
            .map(|(fake, uuid)| fake.record(uuid))
    };
    let sets_before = fake_record(provider).map_or(0, |r| r.config_sets);
    let result = provider.send("PUT", &url, provider.auth(), &Payload::Json(body.clone()));
    match target {
        Target::Real(plan) => {
            record_status(rec, &checks::STATUS, "PUT", &url, &result, |x| {
                match x.status {
                    200..=299 => Ok(()),
                    422 => Err(format!(
                        "expected 2xx for the plan {plan:?} kensa sent, got {}",
                        x.describe()
                    )),
                    _ => Err(format!(
                        "expected 200 for the plan {plan:?}, got {}",
                        x.describe()
                    )),
                }
            })
        }
        Target::Unknown(plan) => {
            let (status, unknown) = match &result {
                Err(e) => (Verdict::Fail(e.to_string()), Verdict::Skip("no answer".into())),
                Ok(x) if x.is_success() => (
                    Verdict::Pass,
                    Verdict::Fail(format!(
                        "the made-up plan {plan:?} was accepted ({}); Heroku only sends plans your add-on has, but refusing others with 422 and a message catches a wrong plan list",
                        x.status
                    )),
                ),
                Ok(x) => {
                    let verdict = refusal_with_message(x, plan);
                    let status = Verdict::Skip(format!(
                        "kensa changed to the made-up plan {plan:?}{}; `--plan <a plan of yours>` tests a real change",
                        if verdict == Verdict::Pass {
                            ", which the provider rightly refused"
                        } else {
                            ""
                        }
                    ));
                    (status, verdict)
                }
            };
            let elapsed = result.as_ref().map(|x| x.elapsed).unwrap_or_default();
            rec.record(check_of(&checks::STATUS, "PUT", &url, elapsed, status));
            rec.record(check_of(
                &checks::UNKNOWN_PLAN,
                "PUT",
                &url,
                std::time::Duration::ZERO,
                unknown,
            ));
        }
    }
    record_timing(rec, &checks::WITHIN_3_SECONDS, "PUT", &url, &result);
    let changed = result.as_ref().ok().filter(|x| x.is_success());
    if let Some(exchange) = changed {
        answer_body(rec, provider, exchange);
        if let (Some(fake), Some(uuid)) = (&provider.heroku, &resource.uuid) {
            fake.set_plan(uuid, plan);
        }
        if exchange.status == 202 {
            async_config(rec, provider, resource, sets_before);
        }
    }
    // The plan the resource is on now: the new one, or (refused) the one it had.
    let current = match changed {
        Some(_) => Some(plan.to_owned()),
        None => resource.plan.clone(),
    };
    same_plan(rec, provider, resource, &url, current.as_deref());
    changed.map(|_| plan.to_owned())
}

/// The body is optional; when there is one it must be JSON, and its config is checked.
fn answer_body(rec: &mut Recorder, provider: &Provider, exchange: &Exchange) {
    if !exchange.body.iter().all(u8::is_ascii_whitespace) {
        if let Some(answer) = answer::answer_object(rec, &checks::JSON, exchange) {
            config::check(rec, provider, &answer, false);
        }
    }
}

/// After a 202, the provider updates the config through the Platform API when done.
fn async_config(rec: &mut Recorder, provider: &Provider, resource: &Resource, before: usize) {
    let (Some(fake), Some(uuid)) = (&provider.heroku, resource.uuid.as_deref()) else {
        rec.note(
            &checks::ASYNC_CONFIG,
            Verdict::Skip(
                "answered 202; without kensa's fake Heroku (production URLs, v1, or no uuid) the config update cannot be observed"
                    .into(),
            ),
        );
        return;
    };
    if !fake.knows(uuid) {
        rec.note(
            &checks::ASYNC_CONFIG,
            Verdict::Skip(
                "answered 202; the resource was provisioned by an earlier run, so its config update goes to that run's fake Heroku".into(),
            ),
        );
        return;
    }
    let callback = fake.callback_url(uuid);
    let (record, done) = provider.await_callbacks(
        fake,
        uuid,
        &format!("the config update PATCH {callback}/config after the 202"),
        |r| r.config_sets > before,
    );
    rec.note(
        &checks::ASYNC_CONFIG,
        Verdict::check(done, || {
            format!(
                "answered 202 but never called PATCH {callback}/config within {} s (--async-timeout){}",
                provider.async_timeout.as_secs(),
                record
                    .refusals
                    .last()
                    .map(|r| format!("; the last refused call: {r}"))
                    .unwrap_or_default()
            )
        }),
    );
    if done {
        let config: Map<String, Value> = record.config.into_iter().collect();
        config::check_values(rec, provider, &config, false);
    }
}

/// A change to the plan the resource is on is a 2xx no-op.
fn same_plan(
    rec: &mut Recorder,
    provider: &Provider,
    resource: &Resource,
    url: &str,
    current: Option<&str>,
) {
    let Some(plan) = current else {
        rec.record(check_of(
            &checks::SAME_PLAN,
            "PUT",
            url,
            std::time::Duration::ZERO,
            Verdict::Skip("the resource's plan is not known to kensa".into()),
        ));
        return;
    };
    let result = provider.send(
        "PUT",
        url,
        provider.auth(),
        &Payload::Json(body(provider, resource, plan)),
    );
    let verdict = match &result {
        Err(e) => Verdict::Fail(e.to_string()),
        Ok(x) => Verdict::check(x.is_success(), || {
            format!(
                "a change to {plan:?}, the plan the resource is on, got {}; answer 200 and change nothing",
                x.describe()
            )
        }),
    };
    let elapsed = result.as_ref().map(|x| x.elapsed).unwrap_or_default();
    rec.record(check_of(&checks::SAME_PLAN, "PUT", url, elapsed, verdict));
}
