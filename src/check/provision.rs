//! Provision: `POST <base_url>` with the v1 or v3 body, and every rule of
//! docs/protocol.md#provisioning.

use serde_json::{json, Map, Value};

use super::report::Recorder;
use super::{check_auth, check_of, config, deprovision, record_status, Resource, Target};
use crate::http::{Exchange, Payload};
use crate::verdict::Verdict;

/// What one provision request carries.
#[derive(Debug, Clone)]
pub struct ProvisionRequest {
    pub uuid: String,
    pub heroku_id: String,
    pub body: Value,
}

impl ProvisionRequest {
    /// A fresh request; `heroku_id` is only used (and only sent) for the v1 API.
    pub fn new(
        target: &Target,
        plan: &str,
        options: &Map<String, Value>,
        heroku_id: Option<&str>,
    ) -> Self {
        let uuid = uuid::Uuid::new_v4().to_string();
        let heroku_id = heroku_id.map_or_else(fresh_heroku_id, str::to_owned);
        let mut body = Map::new();
        body.insert("uuid".into(), json!(uuid));
        body.insert("plan".into(), json!(plan));
        body.insert("options".into(), Value::Object(options.clone()));
        if target.manifest.is_v3() {
            let addon = target.addon_id();
            body.insert("name".into(), json!(format!("{addon}-{}", &uuid[..8])));
            body.insert("region".into(), json!("amazon-web-services::us-east-1"));
            // With the loopback fake, the callback and the grant are real and checkable.
            let (callback_url, code, expires) = match &target.heroku {
                Some(fake) => {
                    let grant = fake.grant(&uuid);
                    (fake.callback_url(&uuid), grant.code, grant.expires_at)
                }
                None => (
                    format!("https://api.heroku.com/addons/{uuid}"),
                    uuid::Uuid::new_v4().to_string(),
                    std::time::SystemTime::now() + std::time::Duration::from_secs(300),
                ),
            };
            body.insert("callback_url".into(), json!(callback_url));
            body.insert(
                "oauth_grant".into(),
                json!({
                    "code": code,
                    "expires_at": humantime::format_rfc3339_seconds(expires).to_string(),
                    "type": "authorization_code",
                }),
            );
            if target.manifest.requires_feature("log_input") {
                body.insert(
                    "log_input_url".into(),
                    json!(format!("https://token:t.{uuid}@logs.example.com/logs")),
                );
            }
            if target.manifest.requires_feature("syslog_drain") {
                body.insert("log_drain_token".into(), json!(format!("d.{uuid}")));
            }
        } else {
            body.insert("heroku_id".into(), json!(heroku_id));
            body.insert("region".into(), json!("us"));
            body.insert(
                "callback_url".into(),
                json!(format!("https://api.heroku.com/vendor/apps/{heroku_id}")),
            );
            body.insert("logplex_token".into(), json!(format!("t.{uuid}")));
        }
        ProvisionRequest {
            uuid,
            heroku_id,
            body: Value::Object(body),
        }
    }
}

fn fresh_heroku_id() -> String {
    let n = u32::from_le_bytes(
        uuid::Uuid::new_v4().as_bytes()[..4]
            .try_into()
            .expect("4 bytes"),
    );
    // Always seven digits, so the derived-id check never matches a short number by chance.
    format!("app{}@kensa.heroku.com", 1_000_000 + n % 9_000_000)
}

/// Runs every provision check; returns the resource when one was created.
pub fn run(
    rec: &mut Recorder,
    target: &Target,
    plan: &str,
    options: &Map<String, Value>,
    redeliver: usize,
) -> Option<Resource> {
    let url = target.endpoint.resources_url();
    rec.section(format!("POST {url}"));
    let request = ProvisionRequest::new(target, plan, options, None);
    let v3 = target.manifest.is_v3();
    let result = target.send(
        "POST",
        &url,
        target.auth(),
        &Payload::Json(request.body.clone()),
    );
    let accepted = |status: u16| matches!(status, 200 | 201) || (v3 && status == 202);
    record_status(rec, "response", "POST", &url, &result, |x| match x.status {
        s if accepted(s) => Ok(()),
        202 => {
            Err("202 (asynchronous provisioning) needs the v3 API: set api.version to \"3\"".into())
        }
        _ => Err(format!("expected 200 or 201, got {}", x.describe())),
    });
    let exchange = match result {
        Ok(x) if accepted(x.status) => x,
        _ => return None,
    };
    let answer = answer_object(rec, &exchange)?;
    let id = id_of(&answer);
    rec.record(check_of(
        "id",
        "POST",
        &url,
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
        config::check(rec, target, &answer, true);
    }
    if target.manifest.requires_feature("syslog_drain") {
        let verdict = match answer.get("log_drain_url").and_then(Value::as_str) {
            Some(u) if u.starts_with("https://") || u.starts_with("syslog://") => Verdict::Pass,
            Some(u) => Verdict::Fail(format!(
                "log_drain_url {u:?} must start with https:// or syslog://"
            )),
            None => Verdict::Fail(
                "api.requires has syslog_drain, so the answer needs a log_drain_url".into(),
            ),
        };
        rec.note("log_drain_url", verdict);
    }
    let id = id?;
    let mut config_vars = answer
        .get("config")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let asynchronous = v3 && (exchange.status == 202 || target.force_async);
    if !v3 {
        rec.note(
            "id is not derived from heroku_id",
            derived_check(&id, &request.heroku_id),
        );
    }

    // Resources the extra calls created: (id, uuid), deprovisioned at the end.
    let mut extra: Vec<(String, Option<String>)> = Vec::new();
    let accepted = check_auth(rec, target, "POST", &url, || {
        Payload::Json(ProvisionRequest::new(target, plan, options, None).body)
    });
    extra.extend(accepted.iter().filter_map(answer_id).map(|id| (id, None)));

    // Delivery is at least once: the very same request again must not make a second resource.
    let again = target.send(
        "POST",
        &url,
        target.auth(),
        &Payload::Json(request.body.clone()),
    );
    let verdict = match &again {
        Err(e) => Verdict::Fail(e.to_string()),
        Ok(x) if !x.is_success() => Verdict::Fail(format!(
            "a second delivery of uuid {} got {}; answer it like the first",
            request.uuid,
            x.describe()
        )),
        Ok(x) => match answer_id(x) {
            Some(second) if second == id => Verdict::Pass,
            Some(second) => {
                extra.push((second.clone(), Some(request.uuid.clone())));
                Verdict::Fail(format!(
                    "the same uuid {} created a second resource ({id}, then {second}); provisioning must be idempotent on uuid",
                    request.uuid
                ))
            }
            None => Verdict::Fail(format!(
                "the second delivery's answer has no id: {}",
                x.snippet(200)
            )),
        },
    };
    let elapsed = again.as_ref().map(|x| x.elapsed).unwrap_or_default();
    rec.record(check_of(
        "same uuid gives the same id",
        "POST",
        &url,
        elapsed,
        verdict,
    ));

    // A new uuid is a new resource (for v1, on another app unless many_per_app allows the same).
    let many = target.manifest.requires_feature("many_per_app");
    let other_app = if many {
        Some(request.heroku_id.as_str())
    } else {
        None
    };
    let other = ProvisionRequest::new(target, plan, options, other_app);
    let other_uuid = other.uuid.clone();
    let second = target.send("POST", &url, target.auth(), &Payload::Json(other.body));
    let verdict = match &second {
        Err(e) => Verdict::Fail(e.to_string()),
        Ok(x) if !x.is_success() => {
            Verdict::Fail(format!("a provision with a new uuid got {}", x.describe()))
        }
        Ok(x) => match answer_id(x) {
            Some(other_id) if other_id == id => Verdict::Fail(format!(
                "a different uuid got the same id {id}: every resource needs its own id"
            )),
            Some(other_id) => {
                extra.push((other_id, Some(other_uuid)));
                Verdict::Pass
            }
            None => Verdict::Fail(format!("the answer has no id: {}", x.snippet(200))),
        },
    };
    let elapsed = second.as_ref().map(|x| x.elapsed).unwrap_or_default();
    rec.record(check_of(
        "a new uuid gives a new id",
        "POST",
        &url,
        elapsed,
        verdict,
    ));

    if redeliver > 1 {
        extra.extend(concurrent_deliveries(rec, target, plan, options, redeliver));
    }
    cleanup(rec, target, &extra);
    // Last, so the provider's callbacks run while the other checks do.
    if asynchronous {
        config_vars = async_callbacks(rec, target, &request.uuid);
    }
    Some(Resource {
        id,
        uuid: Some(request.uuid),
        heroku_id: (!v3).then_some(request.heroku_id),
        config: config_vars,
    })
}

/// The answer as a JSON object, recording the "valid JSON" check.
pub fn answer_object(rec: &mut Recorder, exchange: &Exchange) -> Option<Map<String, Value>> {
    let (verdict, object) = match exchange.json() {
        Ok(Value::Object(o)) => (Verdict::Pass, Some(o)),
        Ok(other) => (
            Verdict::Fail(format!(
                "the body must be a JSON object, found {}",
                crate::manifest::json_type(&other)
            )),
            None,
        ),
        Err(why) => (Verdict::Fail(why), None),
    };
    rec.record(check_of(
        "valid JSON",
        exchange.method,
        &exchange.url,
        std::time::Duration::ZERO,
        verdict,
    ));
    object
}

/// The provider's id for the resource: a non-blank string, or a number as its text.
pub fn id_of(answer: &Map<String, Value>) -> Option<String> {
    match answer.get("id")? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// [`id_of`] for an answer that may not be an object.
pub fn id_of_value(value: &Value) -> Option<String> {
    value.as_object().and_then(id_of)
}

/// The id in an answer's body, if the body is a JSON object carrying one.
fn answer_id(exchange: &Exchange) -> Option<String> {
    exchange.json().ok().as_ref().and_then(id_of_value)
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
fn cleanup(rec: &mut Recorder, target: &Target, ids: &[(String, Option<String>)]) {
    if ids.is_empty() {
        return;
    }
    let failures: Vec<String> = ids
        .iter()
        .filter_map(|(id, uuid)| deprovision::delete(target, id, uuid.as_deref()).err())
        .collect();
    rec.note(
        format!("extra resources are deprovisioned ({})", ids.len()),
        if failures.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Warn(format!("could not deprovision {}", failures.join("; ")))
        },
    );
}

/// After a 202 (or with `--async`): waits for the provider to call the fake Heroku back,
/// and checks each step. Returns the config set through the API.
fn async_callbacks(rec: &mut Recorder, target: &Target, uuid: &str) -> Map<String, Value> {
    let Some(fake) = &target.heroku else {
        rec.note(
            "asynchronous provisioning",
            Verdict::Warn(
                "answered 202; the callbacks of a production service cannot be observed from here"
                    .into(),
            ),
        );
        return Map::new();
    };
    let callback = fake.callback_url(uuid);
    rec.section(format!("async provisioning callbacks to {callback}"));
    let secs = target.async_timeout.as_secs();
    let (record, _) = target.await_callbacks(
        fake,
        uuid,
        &format!("the provider's provisioning callbacks to {callback}"),
        |r| r.provisioned.is_some(),
    );
    let refused = record.refusals.first().cloned();
    let never = |what: &str| match &refused {
        Some(why) => Verdict::Fail(format!("{what} within {secs} s; a call was refused: {why}")),
        None => {
            Verdict::Fail(fake.with_strays(0, format!("{what} within {secs} s (--async-timeout)")))
        }
    };
    rec.note(
        "grant code exchanged",
        match &record.exchange {
            Some(Ok(())) => Verdict::Pass,
            Some(Err(why)) => Verdict::Fail(why.clone()),
            None => never(&format!(
                "the provider never exchanged oauth_grant.code at {}/oauth/token",
                fake.base_url()
            )),
        },
    );
    let config: Map<String, Value> = record.config.iter().cloned().collect();
    let declared = target.manifest.config_vars();
    if config.is_empty() && !declared.is_empty() {
        rec.note(
            "config set through the API",
            never(&format!("no config was set with PATCH {callback}/config")),
        );
    } else {
        rec.note("config set through the API", Verdict::Pass);
        config::check_values(rec, target, &config);
    }
    rec.note(
        "provision marked done",
        match &record.provisioned {
            Some(Ok(())) => Verdict::Pass,
            Some(Err(why)) => Verdict::Fail(why.clone()),
            None => never(&format!(
                "the provider never called POST {callback}/actions/provision"
            )),
        },
    );
    config
}

/// `--redeliver N`: the same request N times at once must give one resource, in time.
/// Returns every id the copies produced, for cleanup.
fn concurrent_deliveries(
    rec: &mut Recorder,
    target: &Target,
    plan: &str,
    options: &Map<String, Value>,
    copies: usize,
) -> Vec<(String, Option<String>)> {
    let url = target.endpoint.resources_url();
    let request = ProvisionRequest::new(target, plan, options, None);
    let uuid = request.uuid.clone();
    let payload = Payload::Json(request.body);
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..copies)
            .map(|_| scope.spawn(|| target.send("POST", &url, target.auth(), &payload)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a delivery thread does not panic"))
            .collect()
    });
    let slowest = results
        .iter()
        .filter_map(|r| r.as_ref().ok().map(|x| x.elapsed))
        .max()
        .unwrap_or_default();
    let problems: Vec<String> = results
        .iter()
        .filter_map(|r| match r {
            Err(e) => Some(e.to_string()),
            Ok(x) if !x.is_success() => Some(format!("got {}", x.describe())),
            Ok(_) => None,
        })
        .collect();
    rec.record(check_of(
        format!("{copies} concurrent deliveries all answer"),
        "POST",
        &url,
        slowest,
        Verdict::check(problems.is_empty(), || {
            format!(
                "{} of {copies} copies failed: {}",
                problems.len(),
                problems.join("; ")
            )
        }),
    ));
    let mut ids: Vec<String> = results
        .iter()
        .filter_map(|r| answer_id(r.as_ref().ok()?))
        .collect();
    ids.sort();
    ids.dedup();
    rec.note(
        format!("{copies} concurrent deliveries make one resource"),
        Verdict::check(ids.len() <= 1, || {
            format!(
                "one uuid sent {copies} times at once made {} resources ({}); make provisioning idempotent on uuid (e.g. a unique index)",
                ids.len(),
                ids.join(", ")
            )
        }),
    );
    ids.into_iter().map(|id| (id, Some(uuid.clone()))).collect()
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
}
