//! Template variable values: defaults, then `--values-file`, then `--set`, then the
//! wizard for what is still unset. Every value is checked against its type and regex.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::spec::TemplateSpec;
use super::Missing;
use crate::error::UsageError;

/// Where a variable's value came from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Default,
    File,
    Flag,
}

/// Values given on the command line and in a file, checked; `None` for unset variables.
pub fn given(
    spec: &TemplateSpec,
    sets: &[String],
    values_file: Option<&Path>,
) -> Result<BTreeMap<String, Option<Value>>, UsageError> {
    let mut raw: BTreeMap<String, (Value, Source)> = BTreeMap::new();
    for (name, var) in &spec.variables {
        if let Some(default) = var.default_json() {
            raw.insert(name.clone(), (default, Source::Default));
        }
    }
    let mut problems = Vec::new();
    if let Some(path) = values_file {
        for (name, value) in read_values_file(path)? {
            raw.insert(name, (value, Source::File));
        }
    }
    for set in sets {
        match set.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                raw.insert(
                    name.trim().to_owned(),
                    (Value::String(value.to_owned()), Source::Flag),
                );
            }
            _ => problems.push(format!("--set {set:?}: expected KEY=VALUE")),
        }
    }

    let mut values = BTreeMap::new();
    for (name, (value, source)) in raw {
        let Some(var) = spec.variables.get(&name) else {
            let known: Vec<&str> = spec.variables.keys().map(String::as_str).collect();
            let origin = if source == Source::Flag {
                "--set"
            } else {
                "--values-file"
            };
            problems.push(format!(
                "{origin}: the template has no variable {name:?} (it has: {})",
                if known.is_empty() {
                    "none".into()
                } else {
                    known.join(", ")
                }
            ));
            continue;
        };
        match var.coerce(&value) {
            Ok(v) => {
                values.insert(name, Some(v));
            }
            Err(e) => problems.push(format!("variable {name}: {e}")),
        }
    }
    for name in spec.variables.keys() {
        values.entry(name.clone()).or_insert(None);
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(UsageError(format!(
            "invalid template variables:\n  {}",
            problems.join("\n  ")
        )))
    }
}

/// Unset variables, as entries of the "missing values" message.
pub fn missing(values: &BTreeMap<String, Option<Value>>) -> Vec<Missing> {
    values
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(name, _)| Missing {
            what: format!("template variable {name}"),
            how: format!("--set {name}=VALUE"),
        })
        .collect()
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
            "description = \"t\"\n[variables.port]\ntype = \"integer\"\ndefault = 80\n[variables.mode]\nregex = \"^(a|b)$\"\n",
        )
        .unwrap()
    }

    #[test]
    fn flags_override_files_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.toml");
        std::fs::write(&file, "port = 81\nmode = \"a\"\n").unwrap();
        let v = given(&spec(), &["mode=b".into()], Some(&file)).unwrap();
        assert_eq!(v["port"], Some(json!(81)));
        assert_eq!(v["mode"], Some(json!("b")));
    }

    #[test]
    fn json_values_files_are_checked_too() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v.json");
        std::fs::write(&file, r#"{"port": "eighty", "mode": "c"}"#).unwrap();
        let err = given(&spec(), &[], Some(&file)).unwrap_err().to_string();
        assert!(
            err.contains("not an integer") && err.contains("does not match"),
            "{err}"
        );
    }

    #[test]
    fn unknown_and_malformed_sets_are_errors() {
        let err = given(&spec(), &["colour=red".into(), "oops".into()], None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no variable \"colour\""), "{err}");
        assert!(err.contains("expected KEY=VALUE"), "{err}");
    }

    #[test]
    fn unset_variables_without_defaults_are_missing() {
        let v = given(&spec(), &[], None).unwrap();
        let m = missing(&v);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].how, "--set mode=VALUE");
    }
}
