//! The request kensa sends to provision: the v3 or v1 body exactly as Heroku sends it, with
//! a fresh uuid each time and one field no Heroku document names.

use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};

use crate::check::fake_heroku::NewAddon;
use crate::check::Provider;

/// The field every provision carries that no document names: a provider must serve the
/// request as if it were not there (docs/protocol.md#provisioning, "unknown fields are
/// accepted").
pub const UNKNOWN_FIELD: &str = "kensa_undocumented_field";

/// What one provision request carries.
#[derive(Debug, Clone)]
pub struct ProvisionRequest {
    pub uuid: String,
    pub heroku_id: String,
    pub plan: String,
    pub body: Value,
}

impl ProvisionRequest {
    /// A fresh request; `heroku_id` is only used (and only sent) for the v1 API.
    pub fn new(
        provider: &Provider,
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
        if provider.manifest.is_v3() {
            let addon = provider.addon_id();
            let name = format!("{addon}-{}", &uuid[..8]);
            body.insert("name".into(), json!(name));
            body.insert("region".into(), json!("amazon-web-services::us-east-1"));
            // With the loopback fake, the callback, the grant and the log URL are real and
            // checkable.
            let (callback_url, code, expires, log_input_url) = match &provider.heroku {
                Some(fake) => {
                    let grant = fake.provision(NewAddon {
                        uuid: uuid.clone(),
                        name,
                        service: addon.to_owned(),
                        plan: plan.to_owned(),
                        config_vars: provider.manifest.config_vars(),
                    });
                    (
                        fake.callback_url(&uuid),
                        grant.code,
                        grant.expires_at,
                        fake.log_input_url(&uuid),
                    )
                }
                None => (
                    format!("https://api.heroku.com/addons/{uuid}"),
                    uuid::Uuid::new_v4().to_string(),
                    SystemTime::now() + Duration::from_secs(300),
                    format!("https://token:t.{uuid}@logs.example.com/logs"),
                ),
            };
            body.insert("callback_url".into(), json!(callback_url));
            body.insert(
                "oauth_grant".into(),
                json!({
                    "code": code,
                    "expires_at": heroku_time(expires),
                    "type": "authorization_code",
                }),
            );
            if provider.manifest.requires_feature("log_input") {
                body.insert("log_input_url".into(), json!(log_input_url));
            }
            if provider.manifest.requires_feature("syslog_drain") {
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
        body.insert(
            UNKNOWN_FIELD.into(),
            json!("Heroku adds request fields without notice; a provider ignores the ones it does not know"),
        );
        ProvisionRequest {
            uuid,
            heroku_id,
            plan: plan.to_owned(),
            body: Value::Object(body),
        }
    }

    /// The same request without the unknown field, to tell whether it caused a refusal.
    pub fn without_unknown_field(&self) -> Value {
        let mut body = self.body.clone();
        if let Some(o) = body.as_object_mut() {
            o.remove(UNKNOWN_FIELD);
        }
        body
    }
}

/// A time as Heroku's documented example writes `oauth_grant.expires_at`:
/// `2016-03-03T18:01:31-0800`, a numeric offset without a colon (docs/protocol.md,
/// "`oauth_grant.expires_at` format"). The offset is the example's, UTC−8, so a provider
/// that ignores it misreads the expiry by eight hours.
pub fn heroku_time(at: SystemTime) -> String {
    let pacific = at - Duration::from_secs(8 * 3600);
    let utc = humantime::format_rfc3339_seconds(pacific).to_string();
    format!("{}-0800", utc.trim_end_matches('Z'))
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

/// A `heroku_id` for a v1 call that needs one when kensa did not provision the resource.
pub fn new_heroku_id() -> String {
    fresh_heroku_id()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_written_as_in_herokus_example() {
        // 2016-03-04T02:01:31Z is 2016-03-03T18:01:31-0800, the documented example.
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_457_056_891);
        assert_eq!(heroku_time(at), "2016-03-03T18:01:31-0800");
    }
}
