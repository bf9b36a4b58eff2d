//! Assertions on what kensa writes: `.env` files, secrets, JSON key order.

use std::collections::BTreeMap;

use serde_json::Value;

/// `KEY=VALUE` lines of a `.env` file.
pub fn dotenv(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("bad line {l:?}"));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// Keys a generated `.env` may carry beyond the three that must match the manifest; each
/// holds a fresh secret (the OAuth client secret for kensa's loopback Heroku).
pub const EXTRA_ENV_SECRETS: &[&str] = &["HEROKU_CLIENT_SECRET"];

/// Keys a generated `.env` carries as 256-bit hex keys (the service's token encryption key).
pub const EXTRA_ENV_KEYS: &[&str] = &["ENCRYPTION_KEY"];

/// Checks a generated `.env` against its manifest: `SSO_SALT`, `HEROKU_USERNAME` and
/// `HEROKU_PASSWORD` are the manifest's, and anything else is a known, fresh secret.
pub fn assert_dotenv_matches(text: &str, manifest: &Value) {
    let env = dotenv(text);
    let api = &manifest["api"];
    let value = |key: &str| env.get(key).map(String::as_str);
    assert_eq!(
        value("SSO_SALT"),
        Some(api["sso_salt"].as_str().unwrap_or(""))
    );
    assert_eq!(value("HEROKU_USERNAME"), manifest["id"].as_str());
    assert_eq!(value("HEROKU_PASSWORD"), api["password"].as_str());
    for (key, value) in &env {
        if ["SSO_SALT", "HEROKU_USERNAME", "HEROKU_PASSWORD"].contains(&key.as_str()) {
            continue;
        }
        if EXTRA_ENV_KEYS.contains(&key.as_str()) {
            assert_eq!(value.len(), 64, "{key} is not a 256-bit hex key");
            assert!(value.chars().all(|c| c.is_ascii_hexdigit()), "{key}");
            continue;
        }
        assert!(
            EXTRA_ENV_SECRETS.contains(&key.as_str()),
            "unexpected {key} in .env:\n{text}"
        );
        assert_secret(value);
        assert_ne!(Some(value.as_str()), api["password"].as_str());
    }
}

/// A secret as kensa makes them: 32 ASCII letters and digits.
pub fn assert_secret(secret: &str) {
    assert_eq!(secret.len(), 32, "{secret:?}");
    assert!(
        secret.chars().all(|c| c.is_ascii_alphanumeric()),
        "{secret:?} is not alphanumeric"
    );
}

/// The manifest with `password` and `sso_salt` replaced by placeholders, after checking
/// that they look like secrets: what snapshots and exact comparisons see.
pub fn mask_secrets(mut manifest: Value) -> Value {
    let api = manifest["api"].as_object_mut().expect("api is an object");
    for key in ["password", "sso_salt"] {
        if let Some(v) = api.get_mut(key) {
            assert_secret(v.as_str().expect("secrets are strings"));
            *v = Value::String(format!("[{key}]"));
        }
    }
    manifest
}

/// The keys of a JSON object, in document order.
pub fn keys(value: &Value) -> Vec<&str> {
    value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}
