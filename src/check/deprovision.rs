//! Deprovision (docs/protocol.md#deprovisioning): `DELETE <base_url>/<id>`: 401 for bad
//! credentials, then 2xx (a 202 followed by the deprovision action), a repeat that does no
//! harm, and the deprovisioned uuid refused (410) when it is provisioned again.

use super::report::{Recorder, Stage};
use super::{check_auth, check_of, record_status, record_timing, AuthChecks, Provider, Resource};
use crate::http::Payload;
use crate::registry::deprovision as checks;
use crate::verdict::Verdict;

/// Runs every deprovision check on `resource`; true when it was deprovisioned.
pub fn run(rec: &mut Recorder, provider: &Provider, resource: &Resource) -> bool {
    let id = &resource.id;
    let uuid = resource.uuid.as_deref();
    let url = provider.endpoint.resource_url(id);
    rec.section(Stage::Deprovision, format!("DELETE {url}"));
    // Refusals from before (provisioning) are not this step's: only later ones explain it.
    let (earlier, strays) = match (&provider.heroku, uuid) {
        (Some(fake), Some(uuid)) => (fake.record(uuid).refusals.len(), fake.strays().len()),
        _ => (0, 0),
    };
    // Bad credentials first: if the provider wrongly honours them, the real call shows it.
    let auth = AuthChecks {
        wrong_password: &checks::AUTH_WRONG_PASSWORD,
        missing: &checks::AUTH_MISSING,
    };
    let accepted = check_auth(rec, provider, auth, "DELETE", &url, || Payload::Empty);
    let v3 = provider.manifest.is_v3();
    let result = provider.send("DELETE", &url, provider.auth(), &Payload::Empty);
    record_status(rec, &checks::STATUS, "DELETE", &url, &result, |x| {
        match x.status {
            200 | 204 => Ok(()),
            202 if v3 => Ok(()),
            404 | 410 if !accepted.is_empty() => Err(format!(
                "got {}: the resource was already deleted by a request with bad credentials",
                x.status
            )),
            _ => Err(format!("expected 200 or 204, got {}", x.describe())),
        }
    });
    record_timing(rec, &checks::WITHIN_3_SECONDS, "DELETE", &url, &result);
    if let (Ok(x), Some(fake), Some(uuid)) = (&result, &provider.heroku, uuid) {
        if x.status == 202 && !fake.knows(uuid) {
            rec.note(
                &checks::ASYNC_DONE,
                Verdict::Skip(
                    "answered 202; the resource was provisioned by an earlier run, so its callback goes to that run's fake Heroku".into(),
                ),
            );
        } else if x.status == 202 {
            // Asynchronous deprovisioning: the provider reports back when it is done.
            let callback = fake.callback_url(uuid);
            // A refused call ends the wait: the provider's callback will not come through.
            let (record, _) = provider.await_callbacks(
                fake,
                uuid,
                &format!("the provider to call POST {callback}/actions/deprovision"),
                |r| r.deprovisioned.is_some() || r.refusals.len() > earlier,
            );
            rec.note(
                &checks::ASYNC_DONE,
                match (&record.deprovisioned, record.refusals.get(earlier)) {
                    (Some(Ok(())), _) => Verdict::Pass,
                    (Some(Err(why)), _) | (None, Some(why)) => Verdict::Fail(why.clone()),
                    (None, None) => Verdict::Fail(fake.with_strays(strays, format!(
                        "answered 202 but never called POST {callback}/actions/deprovision within {} s (--async-timeout)",
                        provider.async_timeout.as_secs()
                    ))),
                },
            );
        }
    }
    let deleted = result.as_ref().is_ok_and(|x| x.is_success()) || !accepted.is_empty();
    if deleted {
        repeat(rec, provider, &url);
        if let Some(body) = &resource.provision_body {
            uuid_gone(rec, provider, body);
        }
    }
    deleted
}

/// Heroku delivers at least once: a second DELETE of the same resource gets 2xx, 404 or
/// 410, never an error.
fn repeat(rec: &mut Recorder, provider: &Provider, url: &str) {
    let result = provider.send("DELETE", url, provider.auth(), &Payload::Empty);
    let verdict = match &result {
        Err(e) => Verdict::Fail(e.to_string()),
        Ok(x) => Verdict::check(x.is_success() || matches!(x.status, 404 | 410), || {
            format!(
                "the second DELETE of the same resource got {}; answer 2xx, 404 or 410 (Heroku redelivers calls)",
                x.describe()
            )
        }),
    };
    let elapsed = result.as_ref().map(|x| x.elapsed).unwrap_or_default();
    rec.record(check_of(&checks::REPEAT, "DELETE", url, elapsed, verdict));
}

/// The provision of the deprovisioned uuid, again (a late redelivery): 410 Gone. A
/// provider that makes a resource again gets it deprovisioned once more.
fn uuid_gone(rec: &mut Recorder, provider: &Provider, body: &serde_json::Value) {
    let url = provider.endpoint.resources_url();
    let result = provider.send("POST", &url, provider.auth(), &Payload::Json(body.clone()));
    let verdict = match &result {
        Err(e) => Verdict::Fail(e.to_string()),
        Ok(x) if x.status == 410 => Verdict::Pass,
        Ok(x) if x.is_success() => {
            let cleaned = match super::answer::answer_id(x) {
                Some(id) => match delete(provider, &id, None) {
                    Ok(()) => format!("; kensa deprovisioned {id} again"),
                    Err(why) => format!("; kensa could not deprovision it: {why}"),
                },
                None => String::new(),
            };
            Verdict::Fail(format!(
                "provisioning the deprovisioned uuid again got {} and made a resource; answer 410 Gone{cleaned}",
                x.status
            ))
        }
        Ok(x) => Verdict::Fail(format!(
            "provisioning the deprovisioned uuid again got {}; expected 410 Gone",
            x.describe()
        )),
    };
    let elapsed = result.as_ref().map(|x| x.elapsed).unwrap_or_default();
    rec.record(check_of(&checks::UUID_GONE, "POST", &url, elapsed, verdict));
}

/// A plain authenticated DELETE, for cleaning up; no checks recorded. A 202 waits for the
/// provider's deprovision callback, so it does not call back a fake Heroku that is gone.
pub fn delete(provider: &Provider, id: &str, uuid: Option<&str>) -> Result<(), String> {
    let url = provider.endpoint.resource_url(id);
    let x = provider
        .send("DELETE", &url, provider.auth(), &Payload::Empty)
        .map_err(|e| e.to_string())?;
    if !x.is_success() {
        return Err(format!("{url} answered {}", x.describe()));
    }
    if let (202, Some(fake), Some(uuid)) = (x.status, &provider.heroku, uuid) {
        if !fake.knows(uuid) {
            return Ok(());
        }
        let (_, done) = provider.await_callbacks(
            fake,
            uuid,
            &format!("the provider to call back that {id} is deprovisioned"),
            |r| r.deprovisioned.is_some(),
        );
        if !done {
            return Err(format!(
                "{url} answered 202 but the provider never called actions/deprovision"
            ));
        }
    }
    Ok(())
}
