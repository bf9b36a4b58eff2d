//! The manifest rules of docs/protocol.md#manifest, in the order old kensa ran them, each a named
//! result. A failure names the field and says how to fix it.

use regex::Regex;
use serde_json::{Map, Value};

use super::{json_type, Manifest, KNOWN_REGIONS};
use crate::registry::{manifest as checks, CheckDef};
use crate::slug;
use crate::verdict::Verdict;

/// Feature flags Heroku knows for `api.requires`.
pub const KNOWN_REQUIRES: &[&str] = &["log_input", "syslog_drain", "many_per_app", "attachable"];

#[derive(Debug, Clone, PartialEq)]
pub struct RuleResult {
    pub check: &'static CheckDef,
    pub verdict: Verdict,
}

/// A rule on the whole document.
type DocRule = fn(&Map<String, Value>) -> Verdict;
/// A rule on `api`; the manifest is there for what depends on other keys (the prefix).
type ApiRule = fn(&Map<String, Value>, &Manifest) -> Verdict;

/// The rules on the document, before `api` is looked at; each beside its check.
const DOC_RULES: &[(&CheckDef, DocRule)] = &[
    (&checks::ID_PRESENT, id_present),
    (&checks::ID_SLUG, id_is_slug),
    (&checks::NAME_STRING, name_is_string),
];

/// The rules on `api`, in the order old kensa ran them; skipped when `api` is no object.
const API_RULES: &[(&CheckDef, ApiRule)] = &[
    (&checks::REGIONS_ARRAY, |api, _| regions_array(api)),
    (&checks::REGIONS_KNOWN, |api, _| regions_known(api)),
    (&checks::PASSWORD_SET, |api, _| password_present(api)),
    (&checks::SSO_SALT_STRING, |api, _| sso_salt_string(api)),
    (&checks::TEST_URLS, |api, _| test_urls(api)),
    (&checks::PRODUCTION_URLS, |api, _| {
        endpoint_present(api, "production")
    }),
    (&checks::PRODUCTION_HTTPS, |api, _| production_https(api)),
    (&checks::CONFIG_VARS_ARRAY, |api, _| config_vars_array(api)),
    (&checks::CONFIG_VARS_UPPER_CASE, |api, _| {
        config_vars_upper(api)
    }),
    (&checks::CONFIG_VARS_PREFIXED, |api, manifest| {
        config_vars_prefixed(api, &manifest.config_prefix().unwrap_or_default())
    }),
    (&checks::NO_USERNAME, |api, _| no_username(api)),
    (&checks::URL_CREDENTIALS, |api, _| no_url_credentials(api)),
    (&checks::REQUIRES_KNOWN, |api, _| requires_known(api)),
    (&checks::VERSION, |api, _| version_set(api)),
];

/// Runs every rule; rules on `api.*` are skipped when `api` is not an object. Each result
/// is settled by its check's severity: a broken rule of advice is a warning.
pub fn validate(manifest: &Manifest) -> Vec<RuleResult> {
    raw(manifest)
        .into_iter()
        .map(|r| RuleResult {
            check: r.check,
            verdict: r.check.severity.settle(r.verdict, false),
        })
        .collect()
}

fn raw(manifest: &Manifest) -> Vec<RuleResult> {
    let doc = &manifest.doc;
    let mut results: Vec<RuleResult> = DOC_RULES
        .iter()
        .map(|(def, check)| rule(def, check(doc)))
        .collect();
    let api = doc.get("api");
    let Some(api) = api.and_then(Value::as_object) else {
        let found = api.map_or("nothing", json_type);
        results.push(rule(
            &checks::API_OBJECT,
            Verdict::Fail(format!(
                "`api` must be an object holding password, regions, test and production URLs; found {found}"
            )),
        ));
        for (def, _) in API_RULES {
            results.push(rule(def, Verdict::Skip("`api` is not an object".into())));
        }
        return results;
    };
    results.push(rule(&checks::API_OBJECT, Verdict::Pass));
    results.extend(
        API_RULES
            .iter()
            .map(|(def, check)| rule(def, check(api, manifest))),
    );
    results
}

/// Whether `api.test` holds URLs kensa can call.
pub fn test_urls_usable(manifest: &Manifest) -> bool {
    manifest
        .api()
        .is_some_and(|api| endpoint_present(api, "test") == Verdict::Pass)
}

/// Every failed rule as `title: message`, for refusing to write or send a manifest.
pub fn failures(manifest: &Manifest) -> Vec<String> {
    validate(manifest)
        .into_iter()
        .filter_map(|r| match r.verdict {
            Verdict::Fail(m) => Some(format!("{}: {m}", r.check.title)),
            _ => None,
        })
        .collect()
}

fn rule(check: &'static CheckDef, verdict: Verdict) -> RuleResult {
    RuleResult { check, verdict }
}

fn id_present(doc: &Map<String, Value>) -> Verdict {
    match doc.get("id") {
        None => Verdict::Fail("`id` is missing: add \"id\": \"your-addon-slug\"".into()),
        Some(Value::String(s)) if s.trim().is_empty() => {
            Verdict::Fail("`id` is blank: set it to your add-on's slug".into())
        }
        Some(Value::String(_)) => Verdict::Pass,
        Some(other) => Verdict::Fail(format!(
            "`id` must be a string (the add-on slug), found {}",
            json_type(other)
        )),
    }
}

fn id_is_slug(doc: &Map<String, Value>) -> Verdict {
    match doc.get("id").and_then(Value::as_str) {
        None => Verdict::Skip("no string `id`".into()),
        Some(id) => match slug::problem(id) {
            None => Verdict::Pass,
            Some(why) => Verdict::Fail(format!("`id` {id:?} is not a valid slug: {why}")),
        },
    }
}

/// `name` is optional (the id stands in for it), but when present it is the display name.
fn name_is_string(doc: &Map<String, Value>) -> Verdict {
    match doc.get("name") {
        None => Verdict::Skip("no `name`: Heroku shows the id".into()),
        Some(Value::String(_)) => Verdict::Pass,
        Some(other) => Verdict::Fail(format!(
            "`name` must be a string (the add-on's display name), found {}",
            json_type(other)
        )),
    }
}

fn regions(api: &Map<String, Value>) -> Option<Vec<&Value>> {
    api.get("regions")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
}

fn regions_array(api: &Map<String, Value>) -> Verdict {
    let example = "such as [\"us\", \"eu\"] (any region Heroku lists)";
    match api.get("regions") {
        Some(Value::Array(items)) if items.is_empty() => Verdict::Fail(format!(
            "`api.regions` is empty: list at least one region, {example}"
        )),
        Some(Value::Array(items)) => {
            let bad: Vec<String> = items
                .iter()
                .filter(|v| v.as_str().is_none_or(|r| r.trim().is_empty()))
                .map(Value::to_string)
                .collect();
            Verdict::check(bad.is_empty(), || {
                format!(
                    "`api.regions` entries must be region names (non-empty strings): {}",
                    bad.join(", ")
                )
            })
        }
        None => Verdict::Fail(format!("`api.regions` is missing: add one {example}")),
        Some(other) => Verdict::Fail(format!(
            "`api.regions` must be an array {example}, found {}",
            json_type(other)
        )),
    }
}

fn regions_known(api: &Map<String, Value>) -> Verdict {
    let Some(regions) = regions(api) else {
        return Verdict::Skip("`api.regions` is not an array".into());
    };
    let unknown: Vec<String> = regions
        .iter()
        .filter(|v| !v.as_str().is_some_and(|r| KNOWN_REGIONS.contains(&r)))
        .map(|v| v.to_string())
        .collect();
    Verdict::check(unknown.is_empty(), || {
        format!(
            "`api.regions` has regions kensa does not know: {} (known: {}); fine if Heroku lists them (`heroku regions`)",
            unknown.join(", "),
            KNOWN_REGIONS.join(", ")
        )
    })
}

fn password_present(api: &Map<String, Value>) -> Verdict {
    match api.get("password") {
        Some(Value::String(s)) if !s.is_empty() => Verdict::Pass,
        Some(Value::String(_)) => {
            Verdict::Fail("`api.password` is empty: `kensa init` generates one".into())
        }
        None => Verdict::Fail(
            "`api.password` is missing: add a long random string (Heroku's Basic-auth password)"
                .into(),
        ),
        Some(other) => Verdict::Fail(format!(
            "`api.password` must be a string, found {}",
            json_type(other)
        )),
    }
}

/// Optional (no salt, no SSO), but a salt of another type would silently turn SSO off.
fn sso_salt_string(api: &Map<String, Value>) -> Verdict {
    match api.get("sso_salt") {
        None | Some(Value::String(_)) => Verdict::Pass,
        Some(other) => Verdict::Fail(format!(
            "`api.sso_salt` must be a string (`kensa init` generates one), found {}",
            json_type(other)
        )),
    }
}

/// `api.test` is optional (Heroku's tooling does not write it); when present, kensa calls
/// it, so its URLs must be callable.
fn test_urls(api: &Map<String, Value>) -> Verdict {
    if api.contains_key("test") {
        endpoint_present(api, "test")
    } else {
        Verdict::Skip(
            "no `api.test`: `kensa test` needs --url http://localhost:<port> or KENSA_URL".into(),
        )
    }
}

fn endpoint_present(api: &Map<String, Value>, key: &str) -> Verdict {
    let shape = format!(
        "set `api.{key}` to {{\"base_url\": \"…/heroku/resources\", \"sso_url\": \"…/sso/login\"}} or a root URL string"
    );
    match api.get(key) {
        None => Verdict::Fail(format!("`api.{key}` is missing: {shape}")),
        Some(Value::String(root)) => endpoint_url_problem(root).map_or(Verdict::Pass, |why| {
            Verdict::Fail(format!("`api.{key}` {:?} {why}", shown(root)))
        }),
        Some(Value::Object(o)) => {
            let mut problems = Vec::new();
            match o.get("base_url") {
                Some(Value::String(u)) => {
                    if let Some(why) = endpoint_url_problem(u) {
                        problems.push(format!("`api.{key}.base_url` {:?} {why}", shown(u)));
                    }
                }
                Some(_) => problems.push(format!("`api.{key}.base_url` must be a string")),
                None => problems.push(format!("`api.{key}.base_url` is missing")),
            }
            match o.get("sso_url") {
                Some(Value::String(u)) => {
                    if let Some(why) = endpoint_url_problem(u) {
                        problems.push(format!("`api.{key}.sso_url` {:?} {why}", shown(u)));
                    }
                }
                Some(_) => problems.push(format!("`api.{key}.sso_url` must be a string")),
                None => {}
            }
            Verdict::check(problems.is_empty(), || problems.join("; "))
        }
        Some(other) => Verdict::Fail(format!(
            "`api.{key}` must be an object or a string, found {}: {shape}",
            json_type(other)
        )),
    }
}

/// Why a manifest endpoint URL cannot be called: Heroku only calls http(s) URLs with a host.
fn endpoint_url_problem(text: &str) -> Option<String> {
    match url::Url::parse(text) {
        Err(e) => Some(format!("is not a URL ({e})")),
        Ok(u) if !matches!(u.scheme(), "http" | "https") => {
            Some("must be an http or https URL".into())
        }
        Ok(u) if u.host_str().is_none_or(str::is_empty) => Some("has no host".into()),
        Ok(_) => None,
    }
}

/// A manifest URL as messages quote it: without its credentials.
fn shown(url: &str) -> String {
    super::without_credentials(url)
}

fn production_https(api: &Map<String, Value>) -> Verdict {
    let urls: Vec<(String, &str)> = match api.get("production") {
        Some(Value::String(root)) => vec![("api.production".into(), root.as_str())],
        Some(Value::Object(o)) => ["base_url", "sso_url"]
            .iter()
            .filter_map(|k| Some((format!("api.production.{k}"), o.get(*k)?.as_str()?)))
            .collect(),
        _ => return Verdict::Skip("`api.production` is not set".into()),
    };
    let plain: Vec<String> = urls
        .iter()
        .filter(|(_, u)| !u.starts_with("https:"))
        .map(|(k, u)| format!("`{k}` {:?}", shown(u)))
        .collect();
    Verdict::check(plain.is_empty(), || {
        format!("{} must start with https:", plain.join(", "))
    })
}

fn config_vars_array(api: &Map<String, Value>) -> Verdict {
    match api.get("config_vars") {
        None | Some(Value::Array(_)) => Verdict::Pass,
        Some(other) => Verdict::Fail(format!(
            "`api.config_vars` must be an array of names such as [\"MYADDON_URL\"], found {}",
            json_type(other)
        )),
    }
}

fn config_var_names(api: &Map<String, Value>) -> Option<&Vec<Value>> {
    api.get("config_vars").and_then(Value::as_array)
}

fn config_vars_upper(api: &Map<String, Value>) -> Verdict {
    let Some(names) = config_var_names(api) else {
        return Verdict::Skip("no `api.config_vars` array".into());
    };
    let pattern = Regex::new(r"^[A-Z][0-9A-Z_]+$").expect("valid regex");
    let bad: Vec<String> = names
        .iter()
        .filter(|v| !v.as_str().is_some_and(|s| pattern.is_match(s)))
        .map(Value::to_string)
        .collect();
    Verdict::check(bad.is_empty(), || {
        format!(
            "config var names must match ^[A-Z][0-9A-Z_]+$ (upper case, digits, _): {}",
            bad.join(", ")
        )
    })
}

fn config_vars_prefixed(api: &Map<String, Value>, prefix: &str) -> Verdict {
    if let Some(other) = api.get("config_vars_prefix").filter(|v| !v.is_string()) {
        return Verdict::Fail(format!(
            "`api.config_vars_prefix` must be a string such as \"MYADDON\", found {}",
            json_type(other)
        ));
    }
    let Some(names) = config_var_names(api) else {
        return Verdict::Skip("no `api.config_vars` array".into());
    };
    let wanted = format!("{prefix}_");
    let bad: Vec<&str> = names
        .iter()
        .filter_map(Value::as_str)
        .filter(|s| !s.starts_with(&wanted))
        .collect();
    Verdict::check(bad.is_empty(), || {
        format!(
            "config vars must start with {wanted} (from `api.config_vars_prefix` or the id): {}",
            bad.join(", ")
        )
    })
}

fn no_username(api: &Map<String, Value>) -> Verdict {
    Verdict::check(!api.contains_key("username"), || {
        "`api.username` is deprecated: remove it; Heroku authenticates with the manifest `id`"
            .into()
    })
}

/// Every manifest URL (`api.test`, `api.production`) with its field name.
fn endpoint_urls(api: &Map<String, Value>) -> Vec<(String, &str)> {
    let mut urls = Vec::new();
    for key in ["test", "production"] {
        match api.get(key) {
            Some(Value::String(root)) => urls.push((format!("api.{key}"), root.as_str())),
            Some(Value::Object(o)) => {
                for field in ["base_url", "sso_url"] {
                    if let Some(u) = o.get(field).and_then(Value::as_str) {
                        urls.push((format!("api.{key}.{field}"), u));
                    }
                }
            }
            _ => {}
        }
    }
    urls
}

fn no_url_credentials(api: &Map<String, Value>) -> Verdict {
    let with: Vec<String> = endpoint_urls(api)
        .into_iter()
        .filter(|(_, u)| super::url_credentials(u).is_some())
        .map(|(field, _)| format!("`{field}`"))
        .collect();
    Verdict::check(with.is_empty(), || {
        format!(
            "{} carr{} credentials (`user:pass@`): remove them and put the password in `api.password`",
            with.join(", "),
            if with.len() == 1 { "ies" } else { "y" }
        )
    })
}

fn requires_known(api: &Map<String, Value>) -> Verdict {
    let Some(requires) = api.get("requires") else {
        return Verdict::Pass;
    };
    let Some(items) = requires.as_array() else {
        return Verdict::Fail(format!(
            "`api.requires` must be an array of feature names, found {}",
            json_type(requires)
        ));
    };
    let not_strings: Vec<String> = items
        .iter()
        .filter(|v| !v.is_string())
        .map(Value::to_string)
        .collect();
    if !not_strings.is_empty() {
        return Verdict::Fail(format!(
            "`api.requires` entries must be feature names (strings): {}",
            not_strings.join(", ")
        ));
    }
    let unknown: Vec<String> = items
        .iter()
        .filter(|v| !v.as_str().is_some_and(|f| KNOWN_REQUIRES.contains(&f)))
        .map(Value::to_string)
        .collect();
    Verdict::check(unknown.is_empty(), || {
        format!(
            "unknown `api.requires` values {} (known: {})",
            unknown.join(", "),
            KNOWN_REQUIRES.join(", ")
        )
    })
}

fn version_set(api: &Map<String, Value>) -> Verdict {
    match api.get("version") {
        Some(v) if super::is_version_3(v) => Verdict::Pass,
        None => Verdict::Fail(
            "no `api.version`: testing the legacy v1 API, which Heroku ended on 2023-07-03; add \"version\": \"3\"".into(),
        ),
        Some(other) => Verdict::Fail(format!(
            "`api.version` is {other}: only \"3\" selects the v3 API; testing the legacy v1 API"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The fixture manifest the integration tests use too: every rule passes.
    fn good() -> Value {
        serde_json::from_str(include_str!("../../tests/fixtures/addon-manifest.json")).unwrap()
    }

    fn verdict_of(doc: Value, name: &str) -> Verdict {
        let m = Manifest {
            doc: doc.as_object().unwrap().clone(),
        };
        validate(&m)
            .into_iter()
            .find(|r| r.check.title == name)
            .unwrap_or_else(|| panic!("no rule {name}"))
            .verdict
    }

    fn with(mut doc: Value, pointer: &str, value: Value) -> Value {
        *doc.pointer_mut(pointer).unwrap() = value;
        doc
    }

    fn without(mut doc: Value, key: &str) -> Value {
        doc["api"].as_object_mut().unwrap().remove(key);
        doc
    }

    #[test]
    fn a_good_manifest_passes_every_rule() {
        let m = Manifest {
            doc: good().as_object().unwrap().clone(),
        };
        for r in validate(&m) {
            assert_eq!(r.verdict, Verdict::Pass, "{}", r.check.id);
        }
    }

    #[test]
    fn each_rule_fails_with_a_message_naming_the_field() {
        let cases: Vec<(Value, &str, &str)> = vec![
            (
                with(good(), "/id", json!("  ")),
                "id is a non-blank string",
                "`id` is blank",
            ),
            (
                with(good(), "/id", json!(3)),
                "id is a non-blank string",
                "found a number",
            ),
            (
                with(good(), "/id", json!("My_Addon")),
                "id is a slug",
                "not a valid slug",
            ),
            (
                with(good(), "/api", json!([])),
                "api is an object",
                "found an array",
            ),
            (
                with(good(), "/api/regions", json!("us")),
                "api.regions lists at least one region",
                "found a string",
            ),
            (
                with(good(), "/api/regions", json!([])),
                "api.regions lists at least one region",
                "is empty",
            ),
            (
                with(good(), "/api/regions", json!(["us", 7])),
                "api.regions lists at least one region",
                "7",
            ),
            (
                with(good(), "/api/password", json!("")),
                "api.password is set",
                "empty",
            ),
            (
                without(good(), "password"),
                "api.password is set",
                "missing",
            ),
            (
                without(good(), "production"),
                "api.production is set",
                "`api.production` is missing",
            ),
            (
                with(good(), "/api/production/sso_url", json!("http://x.com/sso")),
                "production URLs use https",
                "api.production.sso_url",
            ),
            (
                with(good(), "/api/config_vars", json!("MY_ADDON_URL")),
                "api.config_vars is an array",
                "found a string",
            ),
            (
                with(good(), "/api/config_vars", json!(["my_addon_url"])),
                "config var names are upper case",
                "my_addon_url",
            ),
            (
                with(good(), "/api/config_vars", json!(["OTHER_URL"])),
                "config vars start with the prefix",
                "MY_ADDON_",
            ),
            (
                with(good(), "/name", json!(5)),
                "name is a string",
                "found a number",
            ),
            (
                with(good(), "/api/sso_salt", json!(5)),
                "api.sso_salt is a string",
                "found a number",
            ),
            (
                with(good(), "/api/config_vars_prefix", json!(1)),
                "config vars start with the prefix",
                "`api.config_vars_prefix` must be a string",
            ),
        ];
        for (doc, name, needle) in cases {
            match verdict_of(doc, name) {
                Verdict::Fail(msg) => {
                    assert!(msg.contains(needle), "{name}: {msg:?} lacks {needle:?}")
                }
                other => panic!("{name}: expected a failure, got {other:?}"),
            }
        }
    }

    #[test]
    fn username_is_deprecated() {
        let doc = with(good(), "/api/password", json!("p"));
        let mut doc = doc;
        doc["api"]["username"] = json!("me");
        assert!(verdict_of(doc, "api.username is not used").is_fail());
    }

    #[test]
    fn prefix_defaults_to_the_id() {
        let doc = without(
            with(good(), "/api/config_vars", json!(["MY_ADDON_URL"])),
            "config_vars_prefix",
        );
        assert_eq!(
            verdict_of(doc, "config vars start with the prefix"),
            Verdict::Pass
        );
    }

    #[test]
    fn advice_only_warns() {
        let warns = |doc: Value, name: &str, needle: &str| match verdict_of(doc, name) {
            Verdict::Warn(m) => assert!(m.contains(needle), "{name}: {m:?} lacks {needle:?}"),
            other => panic!("{name}: expected a warning, got {other:?}"),
        };
        warns(
            with(good(), "/api/requires", json!(["log_input", "teleport"])),
            "api.requires are known features",
            "teleport",
        );
        warns(
            with(good(), "/api/requires", json!({})),
            "api.requires are known features",
            "must be an array",
        );
        warns(
            with(good(), "/api/requires", json!(["log_input", 1])),
            "api.requires are known features",
            "strings",
        );
        warns(without(good(), "version"), "api.version is 3", "legacy v1");
        warns(
            with(good(), "/api/version", json!("2")),
            "api.version is 3",
            "legacy v1",
        );
        warns(
            with(good(), "/api/regions", json!(["us", "mars"])),
            "api.regions are regions kensa knows",
            "\"mars\"",
        );
        warns(
            with(good(), "/api/test/base_url", json!("not a url")),
            "api.test URLs are valid",
            "is not a URL",
        );
    }

    /// Manifests as Heroku's tooling writes them: no `api.test`, `$base` a number inside
    /// `api`, `cli_plugin_name`, Private Space regions and no `us`, the version a number.
    #[test]
    fn manifests_heroku_hands_out_pass() {
        let mut doc = without(good(), "test");
        doc["api"]["$base"] = json!(152951532282013_u64);
        doc["cli_plugin_name"] = json!("heroku-my-addon");
        doc["api"]["regions"] = json!(["virginia", "frankfurt", "eu"]);
        doc["api"]["requires"] = json!(["attachable", "many_per_app", "log_input", "syslog_drain"]);
        doc["api"]["version"] = json!(3);
        let m = Manifest {
            doc: doc.as_object().unwrap().clone(),
        };
        assert!(m.is_v3());
        for r in validate(&m) {
            match r.check.id {
                "manifest.test-urls" => assert!(matches!(r.verdict, Verdict::Skip(_))),
                _ => assert_eq!(r.verdict, Verdict::Pass, "{}", r.check.id),
            }
        }
        assert!(failures(&m).is_empty());
    }

    #[test]
    fn a_missing_name_is_skipped_not_passed() {
        let mut doc = good();
        doc.as_object_mut().unwrap().remove("name");
        assert!(matches!(
            verdict_of(doc, "name is a string"),
            Verdict::Skip(m) if m.contains("the id")
        ));
    }

    #[test]
    fn star_and_new_regions_are_accepted_and_us_is_not_required() {
        let doc = with(good(), "/api/regions", json!(["*", "dublin", "sydney"]));
        assert_eq!(
            verdict_of(doc.clone(), "api.regions lists at least one region"),
            Verdict::Pass
        );
        assert_eq!(
            verdict_of(doc, "api.regions are regions kensa knows"),
            Verdict::Pass
        );
        let eu_only = with(good(), "/api/regions", json!(["eu"]));
        assert_eq!(
            verdict_of(eu_only, "api.regions lists at least one region"),
            Verdict::Pass
        );
    }

    #[test]
    fn api_rules_are_skipped_without_api() {
        let m = Manifest {
            doc: json!({"id": "x"}).as_object().unwrap().clone(),
        };
        let results = validate(&m);
        assert!(results
            .iter()
            .any(|r| r.check.title == "api is an object" && r.verdict.is_fail()));
        assert!(results
            .iter()
            .filter(|r| r.check.title.starts_with("api.") && r.check.title != "api is an object")
            .all(|r| matches!(r.verdict, Verdict::Skip(_))));
    }
}
