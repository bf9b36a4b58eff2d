//! Template variable values, from every source, weakest first: the template's defaults,
//! the user's defaults (`~/.config/kensa/config.toml`), recorded answers (`--replay`,
//! `kensa update`), `--values-file`, `--set`; then the wizard for what is still open.
//! Every value is checked against its variable's type, choices and regex.

use std::path::Path;

use indexmap::IndexMap;
use serde_json::{Map, Value};

use super::spec::{TemplateSpec, VarType};
use super::Missing;
use crate::error::UsageError;

/// Where a variable's value came from, for messages and for whether the wizard asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Default,
    UserConfig,
    Recorded,
    File,
    Flag,
}

impl Source {
    /// A value the user gave for this run: the wizard does not ask again.
    fn is_explicit(self) -> bool {
        matches!(self, Source::Recorded | Source::File | Source::Flag)
    }

    /// Where a bad value came from, for its error: the user must know which file to
    /// look at (a recorded answer the template's new version no longer takes).
    fn origin(self, name: &str) -> String {
        match self {
            Source::Default => " (the template's default)".into(),
            Source::UserConfig => {
                format!(" (from your kensa config; --set {name}=VALUE gives another)")
            }
            Source::Recorded => format!(
                " (recorded in .kensa/answers.toml; the template changed since: \
                 --set {name}=VALUE gives another)"
            ),
            Source::File => " (from --values-file)".into(),
            Source::Flag => " (from --set)".into(),
        }
    }
}

/// One variable's value so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    pub value: Option<Value>,
    /// Whether the wizard asks for it (with `value` as the suggestion).
    pub ask: bool,
}

/// The value sources besides the template's defaults.
#[derive(Debug, Default)]
pub struct Sources<'a> {
    /// The user's defaults for this template: unknown names are ignored (they may be for
    /// another template).
    pub user_config: Option<&'a Map<String, Value>>,
    /// Answers recorded in a project: names the template no longer has are ignored.
    pub recorded: Option<&'a Map<String, Value>>,
    pub values_file: Option<&'a Path>,
    /// `KEY=VALUE` flags.
    pub sets: &'a [String],
}

/// Every variable a value can be given for (not the computed ones), in the template's
/// order, with its value so far, checked.
pub fn given(spec: &TemplateSpec, sources: &Sources) -> Result<IndexMap<String, Slot>, UsageError> {
    let mut raw: IndexMap<String, (Value, Source)> = IndexMap::new();
    for (name, var) in spec.inputs() {
        if let Some(default) = var.default_json() {
            raw.insert(name.clone(), (default, Source::Default));
        }
    }
    let known = |name: &str| spec.inputs().any(|(n, _)| n == name);
    for (layer, source) in [
        (sources.user_config, Source::UserConfig),
        (sources.recorded, Source::Recorded),
    ] {
        for (name, value) in layer.into_iter().flatten() {
            // A secret from a file kensa keeps would be a secret on disk: never taken.
            if known(name) && spec.variables[name].kind != VarType::Secret {
                raw.insert(name.clone(), (value.clone(), source));
            }
        }
    }
    let mut problems = Vec::new();
    let mut explicit: Vec<(String, Value, Source)> = Vec::new();
    if let Some(path) = sources.values_file {
        for (name, value) in read_values_file(path)? {
            explicit.push((name, value, Source::File));
        }
    }
    for set in sources.sets {
        match set.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => explicit.push((
                name.trim().to_owned(),
                Value::String(value.to_owned()),
                Source::Flag,
            )),
            _ => problems.push(format!("--set {set:?}: expected KEY=VALUE")),
        }
    }
    for (name, value, source) in explicit {
        let origin = if source == Source::Flag {
            "--set"
        } else {
            "--values-file"
        };
        match spec.variables.get(&name) {
            None => {
                let names: Vec<&str> = spec.inputs().map(|(n, _)| n.as_str()).collect();
                problems.push(format!(
                    "{origin}: the template has no variable {name:?} (it has: {})",
                    if names.is_empty() {
                        "none".into()
                    } else {
                        names.join(", ")
                    }
                ));
            }
            Some(var) if var.computed.is_some() => problems.push(format!(
                "{origin}: variable {name} is computed from the others; it cannot be set"
            )),
            Some(_) => {
                raw.insert(name, (value, source));
            }
        }
    }

    let mut slots = IndexMap::new();
    for (name, var) in spec.inputs() {
        let slot = match raw.shift_remove(name) {
            Some((value, source)) => match var.coerce(&value) {
                Ok(v) => Slot {
                    value: Some(v),
                    ask: !source.is_explicit(),
                },
                Err(e) => {
                    problems.push(format!("variable {name}: {e}{}", source.origin(name)));
                    continue;
                }
            },
            None => Slot {
                value: None,
                ask: true,
            },
        };
        slots.insert(name.clone(), slot);
    }
    if problems.is_empty() {
        Ok(slots)
    } else {
        Err(UsageError(format!(
            "invalid template variables:\n  {}",
            problems.join("\n  ")
        )))
    }
}

/// Fills what nobody gave: a secret with `generate = true` gets a fresh random value.
pub fn generate_secrets(spec: &TemplateSpec, slots: &mut IndexMap<String, Slot>) {
    for (name, _) in spec.secrets().filter(|(_, v)| v.generate) {
        if let Some(slot) = slots.get_mut(name) {
            if slot.value.is_none() {
                slot.value = Some(Value::String(crate::secrets::generate()));
                slot.ask = false;
            }
        }
    }
}

/// Unset variables, as entries of the "missing values" message.
pub fn missing(slots: &IndexMap<String, Slot>) -> Vec<Missing> {
    slots
        .iter()
        .filter(|(_, slot)| slot.value.is_none())
        .map(|(name, _)| Missing {
            what: format!("template variable {name}"),
            how: format!("--set {name}=VALUE"),
        })
        .collect()
}

/// The template's variable values, split: what templates render and what is recorded
/// (`Values::plain`), and the secrets, by their `.env` key (`Values::secrets`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Values {
    pub plain: IndexMap<String, Value>,
    pub secrets: Vec<(String, String)>,
}

impl Values {
    /// Splits complete slots; panics on an unset one (callers check [`missing`] first). A
    /// variable without a slot is left out (`update` drops the secrets `.env` has already).
    pub fn from_slots(spec: &TemplateSpec, slots: IndexMap<String, Slot>) -> Values {
        let mut values = Values::default();
        for (name, slot) in slots {
            let value = slot.value.expect("every variable is set by now");
            let var = &spec.variables[&name];
            if var.kind == VarType::Secret {
                let text = value.as_str().unwrap_or_default().to_owned();
                values.secrets.push((var.env_key(&name), text));
            } else {
                values.plain.insert(name, value);
            }
        }
        values
    }
}

/// Reads a JSON or TOML table of values (by extension; JSON first when unknown).
fn read_values_file(path: &Path) -> Result<Map<String, Value>, UsageError> {
    let shown = path.display();
    let text = crate::fsutil::read_input_text(path)
        .map_err(|e| UsageError(format!("--values-file {shown}: {e}")))?;
    let is_toml = path.extension().is_some_and(|e| e == "toml");
    let value: Value = if is_toml {
        let table: toml::Table =
            toml::from_str(&text).map_err(|e| UsageError(format!("--values-file {shown}: {e}")))?;
        serde_json::to_value(table)
            .map_err(|e| UsageError(format!("--values-file {shown}: {e}")))?
    } else {
        serde_json::from_str(&text).map_err(|e| {
            UsageError(format!(
                "--values-file {shown}:{}:{}: not valid JSON: {}",
                e.line(),
                e.column(),
                crate::manifest::strip_position(&e.to_string())
            ))
        })?
    };
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(UsageError(format!(
            "--values-file {shown}: expected a table of variable = value"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> TemplateSpec {
        TemplateSpec::parse(
            "description = \"t\"\n[variables.port]\ntype = \"integer\"\ndefault = 80\n[variables.mode]\nregex = \"^(a|b)$\"\n[variables.token]\ntype = \"secret\"\n[variables.slug]\ncomputed = \"{{ mode }}\"\n",
        )
        .unwrap()
    }

    fn value(slots: &IndexMap<String, Slot>, name: &str) -> Option<Value> {
        slots[name].value.clone()
    }

    #[test]
    fn flags_override_files_override_recorded_override_user_config_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.toml");
        std::fs::write(&file, "port = 81\nmode = \"a\"\n").unwrap();
        let config = json!({"port": 82, "mode": "b", "elsewhere": 1});
        let recorded = json!({"port": 83});
        let sets = ["mode=b".to_owned()];
        let sources = Sources {
            user_config: config.as_object(),
            recorded: recorded.as_object(),
            values_file: Some(&file),
            sets: &sets,
        };
        let v = given(&spec(), &sources).unwrap();
        assert_eq!(value(&v, "port"), Some(json!(81)));
        assert_eq!(value(&v, "mode"), Some(json!("b")));
        assert!(!v["mode"].ask);
        let only_config = Sources {
            user_config: config.as_object(),
            ..Sources::default()
        };
        let v = given(&spec(), &only_config).unwrap();
        assert_eq!(value(&v, "port"), Some(json!(82)));
        assert!(v["port"].ask, "a default, even the user's, is still asked");
    }

    #[test]
    fn json_values_files_are_checked_too() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.json");
        std::fs::write(&file, r#"{"port": "eighty", "mode": "c"}"#).unwrap();
        let sources = Sources {
            values_file: Some(&file),
            ..Sources::default()
        };
        let err = given(&spec(), &sources).unwrap_err().to_string();
        assert!(
            err.contains("not an integer") && err.contains("does not match"),
            "{err}"
        );
    }

    #[test]
    fn unknown_computed_and_malformed_sets_are_errors() {
        let sets = [
            "colour=red".to_owned(),
            "oops".to_owned(),
            "slug=x".to_owned(),
        ];
        let sources = Sources {
            sets: &sets,
            ..Sources::default()
        };
        let err = given(&spec(), &sources).unwrap_err().to_string();
        assert!(err.contains("no variable \"colour\""), "{err}");
        assert!(err.contains("expected KEY=VALUE"), "{err}");
        assert!(err.contains("slug is computed"), "{err}");
    }

    #[test]
    fn unset_variables_without_defaults_are_missing_and_secrets_split_off() {
        let v = given(&spec(), &Sources::default()).unwrap();
        let m = missing(&v);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].how, "--set mode=VALUE");
        assert_eq!(m[1].how, "--set token=VALUE");
        let sets = ["mode=a".to_owned(), "token=s3cret".to_owned()];
        let sources = Sources {
            sets: &sets,
            ..Sources::default()
        };
        let values = Values::from_slots(&spec(), given(&spec(), &sources).unwrap());
        assert_eq!(values.secrets, [("TOKEN".to_owned(), "s3cret".to_owned())]);
        assert!(!values.plain.contains_key("token"));
        assert_eq!(values.plain["mode"], json!("a"));
    }

    #[test]
    fn secrets_are_never_taken_from_kept_files() {
        let recorded = json!({"token": "leaked"});
        let sources = Sources {
            recorded: recorded.as_object(),
            ..Sources::default()
        };
        assert_eq!(value(&given(&spec(), &sources).unwrap(), "token"), None);
    }
}
