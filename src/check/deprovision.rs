//! Deprovision: `DELETE <base_url>/<id>`: 401 for bad credentials, then 2xx.

use super::client::{HttpError, Payload};
use super::report::Recorder;
use super::{check_auth, record_status, Target};

pub fn run(rec: &mut Recorder, target: &Target, id: &str) -> bool {
    let url = target.endpoint.resource_url(id);
    rec.section(format!("DELETE {url}"));
    // Bad credentials first: if the provider wrongly honours them, the real call shows it.
    let accepted = check_auth(rec, target, "DELETE", &url, || Payload::Empty);
    let v3 = target.manifest.is_v3();
    let result = target.send("DELETE", &url, target.auth(), &Payload::Empty);
    record_status(rec, "response", "DELETE", &url, &result, |x| {
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
    result.is_ok_and(|x| x.is_success())
}

/// A plain authenticated DELETE, for cleaning up; no checks recorded.
pub fn delete(target: &Target, id: &str) -> Result<(), HttpError> {
    let url = target.endpoint.resource_url(id);
    let x = target.send("DELETE", &url, target.auth(), &Payload::Empty)?;
    if x.is_success() {
        Ok(())
    } else {
        Err(HttpError::Other {
            url,
            message: format!("answered {}", x.describe()),
        })
    }
}
