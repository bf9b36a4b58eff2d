//! `template.toml`: a template's description, variables, and file rules.

use std::collections::BTreeMap;

use globset::{Glob, GlobSet, GlobSetBuilder};
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const SPEC_FILE: &str = "template.toml";

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    /// One line, shown by `kensa templates` and the wizard.
    pub description: String,
    #[serde(default)]
    pub variables: BTreeMap<String, VarSpec>,
    #[serde(default)]
    pub files: FileRules,
    /// Commands shown as next steps after `create`, and run by `kensa templates verify`.
    #[serde(default)]
    pub commands: Commands,
    /// How long `kensa templates verify` lets each command take.
    #[serde(default)]
    pub timeouts: Timeouts,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileRules {
    /// Globs on source paths copied byte for byte even when they end in `.tera`.
    #[serde(default)]
    pub verbatim: Vec<String>,
    /// Globs on output paths made executable (0755).
    #[serde(default)]
    pub executable: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Commands {
    /// Installs the project's dependencies (`npm install`).
    pub install: Option<String>,
    /// Applies the database migrations (the Procfile's `release:` line).
    pub release: Option<String>,
    /// Starts the web process with the `.env` loaded.
    pub start: Option<String>,
    /// Runs the project's own tests.
    pub test: Option<String>,
    /// Runs the consumer sample, which reads the config var (`kensa run -- <consumer>`).
    pub consumer: Option<String>,
}

/// Seconds `kensa templates verify` allows each command of [`Commands`] (`start`: until the
/// port answers), for templates whose first install or build takes longer than kensa's
/// defaults. Only ever lengthens a deadline.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    pub install: Option<u64>,
    pub test: Option<u64>,
    pub release: Option<u64>,
    pub start: Option<u64>,
}

/// The longest deadline a template may declare: a day.
const MAX_TIMEOUT: u64 = 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VarType {
    String,
    Integer,
    Boolean,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VarSpec {
    #[serde(rename = "type", default = "default_type")]
    pub kind: VarType,
    pub default: Option<toml::Value>,
    /// Checked against the value's text, whatever its source.
    pub regex: Option<String>,
    /// What the variable is for: the wizard's prompt and `kensa templates --json`.
    pub help: Option<String>,
}

fn default_type() -> VarType {
    VarType::String
}

impl TemplateSpec {
    /// Parses and checks a spec: defaults must satisfy their own type and regex.
    pub fn parse(text: &str) -> Result<TemplateSpec, String> {
        let spec: TemplateSpec = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
        if spec.description.trim().is_empty() || spec.description.contains('\n') {
            return Err("`description` must be one non-empty line".into());
        }
        for (name, var) in &spec.variables {
            if !is_identifier(name) {
                return Err(format!(
                    "variable name {name:?} must be a tera identifier (letters, digits, _)"
                ));
            }
            if let Some(pattern) = &var.regex {
                Regex::new(pattern).map_err(|e| format!("variable {name}: bad regex: {e}"))?;
            }
            if let Some(default) = &var.default {
                let json = serde_json::to_value(default).map_err(|e| e.to_string())?;
                var.coerce(&json)
                    .map_err(|e| format!("variable {name}: default {e}"))?;
            }
        }
        build_globs(&spec.files.verbatim)?;
        build_globs(&spec.files.executable)?;
        let t = &spec.timeouts;
        for (name, secs) in [
            ("install", t.install),
            ("test", t.test),
            ("release", t.release),
            ("start", t.start),
        ] {
            if let Some(secs) = secs.filter(|s| !(1..=MAX_TIMEOUT).contains(s)) {
                return Err(format!(
                    "timeouts.{name} = {secs}: a number of seconds from 1 to {MAX_TIMEOUT}"
                ));
            }
        }
        Ok(spec)
    }

    pub fn verbatim_globs(&self) -> GlobSet {
        build_globs(&self.files.verbatim).expect("checked by parse")
    }

    pub fn executable_globs(&self) -> GlobSet {
        build_globs(&self.files.executable).expect("checked by parse")
    }
}

impl VarSpec {
    /// Converts a value from any source (flag text, JSON, TOML) to the variable's type,
    /// then checks the regex against its text.
    pub fn coerce(&self, value: &Value) -> Result<Value, String> {
        let typed = match (self.kind, value) {
            (VarType::String, Value::String(_)) => value.clone(),
            (VarType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => value.clone(),
            (VarType::Integer, Value::String(s)) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("{s:?} is not an integer"))?,
            (VarType::Boolean, Value::Bool(_)) => value.clone(),
            (VarType::Boolean, Value::String(s)) => match s.trim() {
                "true" | "yes" | "1" => Value::Bool(true),
                "false" | "no" | "0" => Value::Bool(false),
                _ => return Err(format!("{s:?} is not a boolean (true or false)")),
            },
            (kind, other) => {
                return Err(format!(
                    "{other} is not {}",
                    match kind {
                        VarType::String => "a string",
                        VarType::Integer => "an integer",
                        VarType::Boolean => "a boolean",
                    }
                ))
            }
        };
        if let Some(pattern) = &self.regex {
            let text = match &typed {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let re = Regex::new(pattern).map_err(|e| format!("bad regex: {e}"))?;
            if !re.is_match(&text) {
                return Err(format!("{text:?} does not match {pattern}"));
            }
        }
        Ok(typed)
    }

    pub fn default_json(&self) -> Option<Value> {
        self.default
            .as_ref()
            .and_then(|d| serde_json::to_value(d).ok())
    }
}

/// `line 3, column 7: <message>` and the failing line, quoted safely: the only text of the
/// file an error repeats (a link to a secrets file must not get it printed).
pub fn toml_error(text: &str, err: &toml::de::Error) -> String {
    let message = err.message().trim().lines().collect::<Vec<_>>().join("; ");
    let message = message.as_str();
    let Some(span) = err.span() else {
        return super::quote_line(message);
    };
    let start = span.start.min(text.len());
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = text[line_start..start].chars().count() + 1;
    let failing = text[line_start..].lines().next().unwrap_or("");
    format!(
        "line {line}, column {column}: {}\n    {line} | {}",
        super::quote_line(message),
        super::quote_line(failing)
    )
}

fn is_identifier(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn build_globs(patterns: &[String]) -> Result<GlobSet, String> {
    let mut builder = GlobSetBuilder::new();
    for p in patterns {
        builder.add(Glob::new(p).map_err(|e| format!("bad glob {p:?}: {e}"))?);
    }
    builder.build().map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SPEC: &str = r#"
description = "A test template"
[variables.count]
type = "integer"
default = 3
regex = "^[1-9]$"
[variables.flag]
type = "boolean"
default = false
[variables.label]
default = "abc"
regex = "^[a-z]+$"
help = "a label"
[files]
verbatim = ["raw/**"]
executable = ["bin/*"]
"#;

    #[test]
    fn parses_variables_and_globs() {
        let spec = TemplateSpec::parse(SPEC).unwrap();
        assert_eq!(spec.variables.len(), 3);
        assert_eq!(spec.variables["label"].kind, VarType::String);
        assert!(spec.verbatim_globs().is_match("raw/a/b.tera"));
        assert!(spec.executable_globs().is_match("bin/test"));
    }

    #[test]
    fn coerces_and_checks_values() {
        let spec = TemplateSpec::parse(SPEC).unwrap();
        let count = &spec.variables["count"];
        assert_eq!(count.coerce(&json!("7")).unwrap(), json!(7));
        assert!(count
            .coerce(&json!("12"))
            .unwrap_err()
            .contains("does not match"));
        assert!(count
            .coerce(&json!("x"))
            .unwrap_err()
            .contains("not an integer"));
        let flag = &spec.variables["flag"];
        assert_eq!(flag.coerce(&json!("true")).unwrap(), json!(true));
        assert!(flag.coerce(&json!(3)).is_err());
        let label = &spec.variables["label"];
        assert!(label.coerce(&json!("ABC")).is_err());
        assert!(label
            .coerce(&json!(5))
            .unwrap_err()
            .contains("not a string"));
    }

    #[test]
    fn rejects_bad_specs() {
        assert!(TemplateSpec::parse("").is_err());
        assert!(TemplateSpec::parse("description = \"x\"\nsurprise = 1").is_err());
        let bad_default = "description = \"x\"\n[variables.n]\ntype = \"integer\"\ndefault = \"q\"";
        assert!(TemplateSpec::parse(bad_default)
            .unwrap_err()
            .contains("default"));
        let bad_name = "description = \"x\"\n[variables.\"a-b\"]\n";
        assert!(TemplateSpec::parse(bad_name).is_err());
        let bad_timeout = "description = \"x\"\n[timeouts]\ninstall = 0";
        assert!(TemplateSpec::parse(bad_timeout)
            .unwrap_err()
            .contains("timeouts.install"));
        let unknown_step = "description = \"x\"\n[timeouts]\ndeploy = 5";
        assert!(TemplateSpec::parse(unknown_step).is_err());
    }

    #[test]
    fn timeouts_are_read() {
        let spec =
            TemplateSpec::parse("description = \"x\"\n[timeouts]\ninstall = 1800\nstart = 90")
                .unwrap();
        assert_eq!(spec.timeouts.install, Some(1800));
        assert_eq!(spec.timeouts.start, Some(90));
        assert_eq!(spec.timeouts.test, None);
    }
}
