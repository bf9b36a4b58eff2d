//! The checks on a `config` object, shared by provision and plan change answers.

use serde_json::{Map, Value};

use super::report::Recorder;
use super::Provider;
use crate::registry;
use crate::verdict::Verdict;

/// Checks `config` from an answer. `provision`: a provision answer should carry every
/// declared var (advice); a plan change answer may leave config out.
pub fn check(
    rec: &mut Recorder,
    provider: &Provider,
    answer: &Map<String, Value>,
    provision: bool,
) {
    let declared = provider.manifest.config_vars();
    let config = match answer.get("config") {
        None if provision && !declared.is_empty() => {
            rec.note(
                &registry::config::ALL_RETURNED,
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
    check_values(rec, provider, config, provision);
}

/// Declared keys, string values and valid URLs: for an answer's config or one set
/// through the Platform API. `complete`: the config should hold every declared var (a
/// provision's, not a plan change's partial update).
pub fn check_values(
    rec: &mut Recorder,
    provider: &Provider,
    config: &Map<String, Value>,
    complete: bool,
) {
    let declared = provider.manifest.config_vars();
    let undeclared: Vec<&str> = config
        .keys()
        .map(String::as_str)
        .filter(|k| !declared.iter().any(|d| d == k))
        .collect();
    rec.note(
        &registry::config::DECLARED,
        Verdict::check(undeclared.is_empty(), || {
            format!(
                "{} not declared in api.config_vars ({}); Heroku rejects undeclared config vars",
                undeclared.join(", "),
                if declared.is_empty() {
                    "none declared".to_owned()
                } else {
                    declared.join(", ")
                }
            )
        }),
    );
    if complete {
        let absent: Vec<&str> = declared
            .iter()
            .map(String::as_str)
            .filter(|d| !config.contains_key(*d))
            .collect();
        rec.note(
            &registry::config::ALL_RETURNED,
            Verdict::check(absent.is_empty(), || {
                format!("declared but not returned: {}", absent.join(", "))
            }),
        );
    }

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

    rec.note(
        &registry::config::URLS,
        urls_verdict(config, provider.production),
    );
}

/// Every `_URL` value that is a string must be a usable URL. One that is not a string at
/// all cannot be judged as a URL: the check says so (SKIP) instead of passing it; the
/// strings check above already fails it.
fn urls_verdict(config: &Map<String, Value>, production: bool) -> Verdict {
    let urls = || config.iter().filter(|(k, _)| k.ends_with("_URL"));
    let bad_urls: Vec<String> = urls()
        .filter_map(|(k, v)| {
            let text = v.as_str()?;
            config_url_problem(text, production).map(|why| format!("{k}={text:?} {why}"))
        })
        .collect();
    if !bad_urls.is_empty() {
        return Verdict::Fail(bad_urls.join("; "));
    }
    let not_strings: Vec<String> = urls()
        .filter(|(_, v)| !v.is_string())
        .map(|(k, v)| format!("{k} is {}", crate::manifest::json_type(v)))
        .collect();
    if not_strings.is_empty() {
        Verdict::Pass
    } else {
        Verdict::Skip(format!(
            "{}, not a string, so it was not checked as a URL",
            not_strings.join(", ")
        ))
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn verdict(config: Value) -> Verdict {
        urls_verdict(config.as_object().unwrap(), false)
    }

    #[test]
    fn regression_config_url_check_passed_a_value_that_is_not_a_string() {
        assert_eq!(
            verdict(json!({"A_URL": 42})),
            Verdict::Skip("A_URL is a number, not a string, so it was not checked as a URL".into())
        );
        assert_eq!(
            verdict(json!({"A_URL": null, "B_URL": ["x"]})),
            Verdict::Skip(
                "A_URL is null, B_URL is an array, not a string, so it was not checked as a URL"
                    .into()
            )
        );
    }

    #[test]
    fn a_bad_string_url_still_fails_beside_a_non_string() {
        let v = verdict(json!({"A_URL": 42, "B_URL": "nope"}));
        assert!(v.is_fail(), "{v:?}");
    }

    #[test]
    fn string_urls_pass() {
        assert_eq!(
            verdict(json!({"A_URL": "postgres://u:p@db.example.com/x"})),
            Verdict::Pass
        );
        assert_eq!(verdict(json!({"OTHER": 1})), Verdict::Pass);
    }
}
