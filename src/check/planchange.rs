//! Plan change: `PUT <base_url>/<id>` with `{"plan": …}`: 401 for bad credentials, 2xx,
//! and any config in the answer checked like provision's.

use serde_json::{json, Map, Value};

use super::report::Recorder;
use super::{check_auth, config, provision, record_status, Resource, Target};
use crate::http::Payload;

pub fn run(rec: &mut Recorder, target: &Target, resource: &Resource, plan: &str) -> bool {
    let url = target.endpoint.resource_url(&resource.id);
    rec.section(format!("PUT {url}"));
    let mut body = Map::new();
    body.insert("plan".into(), json!(plan));
    if let Some(uuid) = &resource.uuid {
        body.insert("uuid".into(), json!(uuid));
    }
    if let Some(heroku_id) = &resource.heroku_id {
        body.insert("heroku_id".into(), json!(heroku_id));
    }
    let body = Value::Object(body);
    check_auth(rec, target, "PUT", &url, || Payload::Json(body.clone()));
    let result = target.send("PUT", &url, target.auth(), &Payload::Json(body.clone()));
    record_status(rec, "response", "PUT", &url, &result, |x| match x.status {
        200..=204 => Ok(()),
        _ => Err(format!("expected 200, got {}", x.describe())),
    });
    let Ok(exchange) = result else { return false };
    if !exchange.is_success() {
        return false;
    }
    // The body is optional; when there is one it must be JSON, and its config is checked.
    if !exchange.body.iter().all(u8::is_ascii_whitespace) {
        if let Some(answer) = provision::answer_object(rec, &exchange) {
            config::check(rec, target, &answer, false);
        }
    }
    !rec.section_failed()
}
