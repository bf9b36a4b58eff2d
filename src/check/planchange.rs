//! Plan change: `PUT <base_url>/<id>` with `{"plan": …}`: 401 for bad credentials, 2xx,
//! and any config in the answer checked like provision's.

use serde_json::{json, Map, Value};

use super::report::{Recorder, Stage};
use super::{answer, check_auth, config, record_status, AuthChecks, Provider, Resource};
use crate::http::{Exchange, Payload};
use crate::registry::planchange;

pub fn run(rec: &mut Recorder, provider: &Provider, resource: &Resource, plan: &str) {
    let url = provider.endpoint.resource_url(&resource.id);
    rec.section(Stage::Planchange, format!("PUT {url}"));
    let mut body = Map::new();
    body.insert("plan".into(), json!(plan));
    if let Some(uuid) = &resource.uuid {
        body.insert("uuid".into(), json!(uuid));
    }
    if let Some(heroku_id) = &resource.heroku_id {
        body.insert("heroku_id".into(), json!(heroku_id));
    }
    let body = Value::Object(body);
    let auth = AuthChecks {
        wrong_password: &planchange::AUTH_WRONG_PASSWORD,
        missing: &planchange::AUTH_MISSING,
    };
    check_auth(rec, provider, auth, "PUT", &url, || {
        Payload::Json(body.clone())
    });
    let result = provider.send("PUT", &url, provider.auth(), &Payload::Json(body.clone()));
    record_status(
        rec,
        &planchange::STATUS,
        "PUT",
        &url,
        &result,
        |x| match x.status {
            200..=204 => Ok(()),
            _ => Err(format!("expected 200, got {}", x.describe())),
        },
    );
    let Some(exchange) = result.ok().filter(Exchange::is_success) else {
        return;
    };
    // The body is optional; when there is one it must be JSON, and its config is checked.
    if !exchange.body.iter().all(u8::is_ascii_whitespace) {
        if let Some(answer) = answer::answer_object(rec, &planchange::JSON, &exchange) {
            config::check(rec, provider, &answer, false);
        }
    }
}
