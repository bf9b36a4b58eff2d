//! The checks on a `config` object, shared by provision and plan change answers.

use serde_json::{Map, Value};

use super::report::Recorder;
use super::Provider;
use crate::registry;
use crate::verdict::Verdict;

/// Checks `config` from an answer. `required`: a provision answer must carry it when the
/// manifest declares config vars; a plan change answer may leave it out.
pub fn check(rec: &mut Recorder, provider: &Provider, answer: &Map<String, Value>, required: bool) {
    let declared = provider.manifest.config_vars();
    let config = match answer.get("config") {
        None if required && !declared.is_empty() => {
            rec.note(
                &registry::config::OBJECT,
                Verdict::Fail(format!(
                    "the answer has no `config`; Heroku sets {} on the app from it",
                    declared.join(", ")
                )),
            );
            return;
        }
        None => return,
        Some(Value::Object(config)) => config,
        Some(other) => {
            rec.note(
                &registry::config::OBJECT,
                Verdict::Fail(format!(
                    "`config` must be an object of NAME: \"value\", found {}",
                    crate::manifest::json_type(other)
                )),
            );
            return;
        }
    };
    rec.note(&registry::config::OBJECT, Verdict::Pass);
    check_values(rec, provider, config);
}

/// Declared keys, string values and valid URLs: for an answer's config or one set
/// through the Platform API.
pub fn check_values(rec: &mut Recorder, provider: &Provider, config: &Map<String, Value>) {
    let declared = provider.manifest.config_vars();
    let undeclared: Vec<&str> = config
        .keys()
        .map(String::as_str)
        .filter(|k| !declared.iter().any(|d| d == k))
        .collect();
    let absent: Vec<&str> = declared
        .iter()
        .map(String::as_str)
        .filter(|d| !config.contains_key(*d))
        .collect();
    let verdict = if !undeclared.is_empty() {
        Verdict::Fail(format!(
            "{} not declared in api.config_vars ({}); Heroku rejects undeclared config vars",
            undeclared.join(", "),
            if declared.is_empty() {
                "none declared".to_owned()
            } else {
                declared.join(", ")
            }
        ))
    } else if !absent.is_empty() {
        Verdict::Warn(format!("declared but not returned: {}", absent.join(", ")))
    } else {
        Verdict::Pass
    };
    rec.note(&registry::config::DECLARED, verdict);

    let non_strings: Vec<String> = config
        .iter()
        .filter(|(_, v)| !v.is_string())
        .map(|(k, v)| format!("{k} is {}", crate::manifest::json_type(v)))
        .collect();
    rec.note(
        &registry::config::STRINGS,
        Verdict::check(non_strings.is_empty(), || {
            format!("config values must be strings: {}", non_strings.join(", "))
        }),
    );

    let bad_urls: Vec<String> = config
        .iter()
        .filter(|(k, _)| k.ends_with("_URL"))
        .filter_map(|(k, v)| {
            let text = v.as_str()?;
            config_url_problem(text, provider.production).map(|why| format!("{k}={text:?} {why}"))
        })
        .collect();
    rec.note(
        &registry::config::URLS,
        Verdict::check(bad_urls.is_empty(), || bad_urls.join("; ")),
    );
}

/// Why a `_URL` config value is no use to the app: any scheme goes (postgres://, redis://),
/// but it needs a host, and in production one the app can reach.
fn config_url_problem(text: &str, production: bool) -> Option<&'static str> {
    let Ok(url) = url::Url::parse(text) else {
        return Some("is not a URL with a scheme and host");
    };
    let host = url.host_str().unwrap_or("");
    if host.is_empty() {
        return Some("has no host");
    }
    let local = matches!(
        host,
        "localhost" | "127.0.0.1" | "[::1]" | "::1" | "0.0.0.0"
    );
    if production && local {
        return Some("points at this machine, which a Heroku app cannot reach");
    }
    None
}
