//! `template.toml`: a template's description, variables, file rules and commands.

use globset::{Glob, GlobSet, GlobSetBuilder};
use indexmap::IndexMap;
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const SPEC_FILE: &str = "template.toml";

/// `.env` keys kensa writes itself: a secret variable may not take one of them.
const KENSA_ENV_KEYS: &[&str] = &[
    "SSO_SALT",
    "HEROKU_USERNAME",
    "HEROKU_PASSWORD",
    "HEROKU_CLIENT_SECRET",
    "ENCRYPTION_KEY",
    "PORT",
];

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    /// One line, shown by `kensa templates` and the wizard.
    pub description: String,
    /// In the order the template declares them: the order the wizard asks in.
    #[serde(default)]
    pub variables: IndexMap<String, VarSpec>,
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
    /// Files and directories written only when a condition holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub when: Vec<WhenRule>,
}

/// `[[files.when]]`: the template paths matching `paths` are written only when `if` holds.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WhenRule {
    /// Globs on template paths (`src/sso/**`, `test/sso.test.js`); a `.tera` file matches by
    /// its name with or without the suffix, and a glob naming a directory covers all in it.
    pub paths: Vec<String>,
    /// A tera expression of the variables: `sso`, `not sso`, `sso_method == "get"`,
    /// `"async" in features`.
    #[serde(rename = "if")]
    pub condition: String,
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
#[serde(rename_all = "kebab-case")]
pub enum VarType {
    String,
    Integer,
    Boolean,
    /// One of `choices` (a select list in the wizard).
    Choice,
    /// Any of `choices`, as a list (a multi-select in the wizard; `a,b` on the command line).
    MultiChoice,
    /// A string asked without echo, written to `.env` only: never rendered into a file,
    /// never recorded in `.kensa/answers.toml`.
    Secret,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VarSpec {
    #[serde(rename = "type", default = "default_type")]
    pub kind: VarType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<toml::Value>,
    /// Checked against the value's text, whatever its source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// What the variable is for: the wizard's prompt and `kensa templates --json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// `choice` and `multi-choice`: the values allowed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
    /// A tera expression of the other variables (`{{ id | replace(from="-", to="_") }}`):
    /// the value is computed, never asked and never set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computed: Option<String>,
    /// `secret`: the `.env` key it is written to (default: the name in capitals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// `secret`: when no value is given, draw a random one (32 letters and digits from the
    /// OS's random source) instead of asking for it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub generate: bool,
}

fn default_type() -> VarType {
    VarType::String
}

impl TemplateSpec {
    /// Parses and checks a spec: every variable's shape, defaults against their own type,
    /// and the expressions (computed values, file conditions) as tera syntax.
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
            var.check().map_err(|e| format!("variable {name}: {e}"))?;
        }
        let mut env_keys: Vec<String> = Vec::new();
        for (name, var) in spec.secrets() {
            let key = var.env_key(name);
            if env_keys.contains(&key) {
                return Err(format!("variable {name}: two secrets write {key} to .env"));
            }
            env_keys.push(key);
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
        for (i, rule) in spec.files.when.iter().enumerate() {
            let at = format!("[[files.when]] #{} (if = {:?})", i + 1, rule.condition);
            if rule.paths.is_empty() {
                return Err(format!("{at}: `paths` is empty"));
            }
            build_globs(&rule.paths).map_err(|e| format!("{at}: {e}"))?;
            check_expression(&condition_template(&rule.condition))
                .map_err(|e| format!("{at}: {e}"))?;
        }
        Ok(spec)
    }

    pub fn verbatim_globs(&self) -> GlobSet {
        build_globs(&self.files.verbatim).expect("checked by parse")
    }

    pub fn executable_globs(&self) -> GlobSet {
        build_globs(&self.files.executable).expect("checked by parse")
    }

    /// The `[[files.when]]` rules with their globs built.
    pub fn when_rules(&self) -> Vec<(GlobSet, &WhenRule)> {
        self.files
            .when
            .iter()
            .map(|rule| (build_globs(&rule.paths).expect("checked by parse"), rule))
            .collect()
    }

    /// Variables a value can be given for (flags, values file, wizard): all but the
    /// computed ones.
    pub fn inputs(&self) -> impl Iterator<Item = (&String, &VarSpec)> {
        self.variables.iter().filter(|(_, v)| v.computed.is_none())
    }

    pub fn secrets(&self) -> impl Iterator<Item = (&String, &VarSpec)> {
        self.variables
            .iter()
            .filter(|(_, v)| v.kind == VarType::Secret)
    }

    pub fn computed(&self) -> impl Iterator<Item = (&String, &VarSpec)> {
        self.variables.iter().filter(|(_, v)| v.computed.is_some())
    }
}

/// `if` of a `[[files.when]]` rule as a template that renders `true` or nothing.
pub fn condition_template(condition: &str) -> String {
    format!("{{% if {condition} %}}true{{% endif %}}")
}

/// Parses `text` as tera, for errors at `template.toml` time rather than at render time.
fn check_expression(text: &str) -> Result<(), String> {
    tera::Template::new("template.toml", None, text)
        .map(|_| ())
        .map_err(|e| {
            let mut msg = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                msg = format!("{msg}: {cause}");
                source = cause.source();
            }
            super::quote_line(&msg.lines().map(str::trim).collect::<Vec<_>>().join(" "))
        })
}

impl VarSpec {
    /// The rules of one variable's declaration.
    fn check(&self) -> Result<(), String> {
        if let Some(pattern) = &self.regex {
            Regex::new(pattern).map_err(|e| format!("bad regex: {e}"))?;
        }
        let choosing = matches!(self.kind, VarType::Choice | VarType::MultiChoice);
        if choosing && self.choices.is_empty() {
            return Err("a choice needs `choices`, the values to choose from".into());
        }
        if !choosing && !self.choices.is_empty() {
            return Err("`choices` is only for type \"choice\" or \"multi-choice\"".into());
        }
        if self.kind == VarType::Secret {
            if self.default.is_some() {
                return Err(
                    "a secret has no default (use `generate = true` for a random one)".into(),
                );
            }
            if self.computed.is_some() {
                return Err("a secret cannot be computed".into());
            }
        } else if self.env.is_some() || self.generate {
            return Err("`env` and `generate` are only for type \"secret\"".into());
        }
        if let Some(key) = &self.env {
            if !is_env_key(key) {
                return Err(format!(
                    "env = {key:?} is not an environment variable name (A-Z, 0-9, _)"
                ));
            }
        }
        if let Some(expr) = &self.computed {
            if self.default.is_some() {
                return Err("a computed variable has no default".into());
            }
            check_expression(expr)?;
        }
        if let Some(default) = &self.default {
            let json = serde_json::to_value(default).map_err(|e| e.to_string())?;
            self.coerce(&json).map_err(|e| format!("default {e}"))?;
        }
        Ok(())
    }

    /// The `.env` key of a secret variable.
    pub fn env_key(&self, name: &str) -> String {
        self.env
            .clone()
            .unwrap_or_else(|| name.to_ascii_uppercase())
    }

    /// Converts a value from any source (flag text, JSON, TOML) to the variable's type,
    /// then checks it: the regex against its text, a choice against `choices`.
    pub fn coerce(&self, value: &Value) -> Result<Value, String> {
        let typed = match (self.kind, value) {
            (VarType::String | VarType::Secret | VarType::Choice, Value::String(_)) => {
                value.clone()
            }
            (VarType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => value.clone(),
            (VarType::Integer, Value::String(s)) => s
                .trim()
                .parse::<i64>()
                .map(Value::from)
                .map_err(|_| format!("{s:?} is not an integer (a whole number)"))?,
            (VarType::Boolean, Value::Bool(_)) => value.clone(),
            (VarType::Boolean, Value::String(s)) => match s.trim() {
                "true" | "yes" | "y" | "1" => Value::Bool(true),
                "false" | "no" | "n" | "0" => Value::Bool(false),
                _ => return Err(format!("{s:?} is not a boolean (true or false, yes or no)")),
            },
            (VarType::MultiChoice, Value::String(s)) => Value::Array(
                s.split(',')
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
                    .map(|v| Value::String(v.to_owned()))
                    .collect(),
            ),
            (VarType::MultiChoice, Value::Array(items)) if items.iter().all(Value::is_string) => {
                value.clone()
            }
            (kind, other) => {
                return Err(format!(
                    "{} is not {}",
                    if kind == VarType::Secret {
                        "the value".to_owned()
                    } else {
                        other.to_string()
                    },
                    match kind {
                        VarType::String | VarType::Secret => "a string",
                        VarType::Integer => "an integer (a whole number)",
                        VarType::Boolean => "a boolean (true or false)",
                        VarType::Choice => "one of the choices",
                        VarType::MultiChoice => "a list of choices",
                    }
                ))
            }
        };
        match &typed {
            Value::String(s) if self.kind == VarType::Choice => self.check_choice(s)?,
            Value::Array(items) => {
                for item in items.iter().filter_map(Value::as_str) {
                    self.check_choice(item)?;
                }
            }
            _ => {}
        }
        if let Some(pattern) = &self.regex {
            let text = match &typed {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let re = Regex::new(pattern).map_err(|e| format!("bad regex: {e}"))?;
            if !re.is_match(&text) {
                return Err(if self.kind == VarType::Secret {
                    format!("the value does not match {pattern}")
                } else {
                    format!("{text:?} does not match {pattern}")
                });
            }
        }
        Ok(typed)
    }

    fn check_choice(&self, value: &str) -> Result<(), String> {
        if self.choices.iter().any(|c| c == value) {
            Ok(())
        } else {
            Err(format!(
                "{value:?} is not one of the choices: {}",
                self.choices.join(", ")
            ))
        }
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

fn is_env_key(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_uppercase() || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && !KENSA_ENV_KEYS.contains(&key)
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

    const KINDS: &str = r#"
description = "kinds"
[variables.database]
type = "choice"
choices = ["postgres", "sqlite"]
default = "postgres"
[variables.features]
type = "multi-choice"
choices = ["async", "sso", "logs"]
default = ["async"]
[variables.api_key]
type = "secret"
env = "UPSTREAM_KEY"
[variables.crate_name]
computed = "{{ id | replace(from='-', to='_') }}"
[[files.when]]
paths = ["src/sso/**", "test/sso.test.js"]
if = "sso"
"#;

    #[test]
    fn choice_multi_choice_secret_and_computed_variables() {
        let spec = TemplateSpec::parse(KINDS).unwrap();
        let names: Vec<&str> = spec.variables.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["database", "features", "api_key", "crate_name"],
            "declaration order"
        );
        let db = &spec.variables["database"];
        assert_eq!(db.coerce(&json!("sqlite")).unwrap(), json!("sqlite"));
        assert!(db
            .coerce(&json!("mysql"))
            .unwrap_err()
            .contains("postgres, sqlite"));
        let features = &spec.variables["features"];
        assert_eq!(
            features.coerce(&json!("async, sso")).unwrap(),
            json!(["async", "sso"])
        );
        assert_eq!(features.coerce(&json!(["logs"])).unwrap(), json!(["logs"]));
        assert_eq!(features.coerce(&json!("")).unwrap(), json!([]));
        assert!(features
            .coerce(&json!("async,ftp"))
            .unwrap_err()
            .contains("\"ftp\""));
        let key = &spec.variables["api_key"];
        assert_eq!(key.env_key("api_key"), "UPSTREAM_KEY");
        assert!(
            !key.coerce(&json!(5)).unwrap_err().contains('5'),
            "never echoed"
        );
        assert_eq!(spec.secrets().count(), 1);
        assert_eq!(spec.computed().count(), 1);
        assert_eq!(spec.inputs().count(), 3);
        assert_eq!(spec.when_rules().len(), 1);
    }

    #[test]
    fn bad_kinds_are_named() {
        let bad =
            |vars: &str| TemplateSpec::parse(&format!("description = \"x\"\n{vars}")).unwrap_err();
        assert!(bad("[variables.c]\ntype = \"choice\"").contains("needs `choices`"));
        assert!(
            bad("[variables.c]\ntype = \"choice\"\nchoices = [\"a\"]\ndefault = \"b\"")
                .contains("not one of the choices")
        );
        assert!(bad("[variables.s]\ntype = \"secret\"\ndefault = \"x\"").contains("no default"));
        assert!(bad("[variables.s]\ntype = \"secret\"\nenv = \"SSO_SALT\"").contains("SSO_SALT"));
        assert!(bad("[variables.s]\nenv = \"X\"").contains("only for type"));
        assert!(bad("[variables.c]\ncomputed = \"{{ x \"").contains("variable c"));
        assert!(
            bad("[[files.when]]\npaths = [\"a\"]\nif = \"sso ==\"").contains("[[files.when]] #1")
        );
        assert!(bad("[[files.when]]\npaths = []\nif = \"sso\"").contains("empty"));
    }
}
