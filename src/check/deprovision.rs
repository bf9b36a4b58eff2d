//! Deprovision: `DELETE <base_url>/<id>`: 401 for bad credentials, then 2xx.

use super::report::{Recorder, Stage};
use super::{check_auth, record_status, AuthChecks, Provider};
use crate::http::Payload;
use crate::registry::deprovision;
use crate::verdict::Verdict;

pub fn run(rec: &mut Recorder, provider: &Provider, id: &str, uuid: Option<&str>) {
    let url = provider.endpoint.resource_url(id);
    rec.section(Stage::Deprovision, format!("DELETE {url}"));
    // Refusals from before (provisioning) are not this step's: only later ones explain it.
    let (earlier, strays) = match (&provider.heroku, uuid) {
        (Some(fake), Some(uuid)) => (fake.record(uuid).refusals.len(), fake.strays().len()),
        _ => (0, 0),
    };
    // Bad credentials first: if the provider wrongly honours them, the real call shows it.
    let auth = AuthChecks {
        wrong_password: &deprovision::AUTH_WRONG_PASSWORD,
        missing: &deprovision::AUTH_MISSING,
    };
    let accepted = check_auth(rec, provider, auth, "DELETE", &url, || Payload::Empty);
    let v3 = provider.manifest.is_v3();
    let result = provider.send("DELETE", &url, provider.auth(), &Payload::Empty);
    record_status(
        rec,
        &deprovision::STATUS,
        "DELETE",
        &url,
        &result,
        |x| match x.status {
            200 | 204 => Ok(()),
            202 if v3 => Ok(()),
            404 | 410 if !accepted.is_empty() => Err(format!(
                "got {}: the resource was already deleted by a request with bad credentials",
                x.status
            )),
            _ => Err(format!("expected 200 or 204, got {}", x.describe())),
        },
    );
    if let (Ok(x), Some(fake), Some(uuid)) = (&result, &provider.heroku, uuid) {
        if x.status == 202 {
            // Asynchronous deprovisioning: the provider reports back when it is done.
            let callback = fake.callback_url(uuid);
            let (record, _) = provider.await_callbacks(
                fake,
                uuid,
                &format!("the provider to call POST {callback}/actions/deprovision"),
                |r| r.deprovisioned.is_some(),
            );
            rec.note(
                &deprovision::ASYNC_DONE,
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
