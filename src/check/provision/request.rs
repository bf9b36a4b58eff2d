//! The request kensa sends to provision: the v3 or v1 body, with a fresh uuid each time.

use serde_json::{json, Map, Value};

use crate::check::Provider;

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
            body.insert("name".into(), json!(format!("{addon}-{}", &uuid[..8])));
            body.insert("region".into(), json!("amazon-web-services::us-east-1"));
            // With the loopback fake, the callback and the grant are real and checkable.
            let (callback_url, code, expires) = match &provider.heroku {
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
            if provider.manifest.requires_feature("log_input") {
                body.insert(
                    "log_input_url".into(),
                    json!(format!("https://token:t.{uuid}@logs.example.com/logs")),
                );
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
