//! The user's own defaults for `create` and `init`: `$XDG_CONFIG_HOME/kensa/config.toml`
//! (`~/.config/kensa/config.toml` when `XDG_CONFIG_HOME` is unset).
//!
//! ```toml
//! template = "node"              # when --template is not given
//! regions = ["us", "eu"]         # when --regions is not given
//! [values]                       # variable defaults for every template that has them
//! author = "Ada"
//! [templates.node.values]        # for one template (its name, or its source as given)
//! node_version = "22"
//! ```
//!
//! They are defaults: flags, values files and recorded answers win, and the wizard shows
//! them as its suggestions. A file with a mistake is an error naming it and the line.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::spec::toml_error;
use super::ScaffoldError;
use crate::fsutil;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// The template `create` uses when none is named.
    pub template: Option<String>,
    /// The regions a new add-on is offered in.
    pub regions: Option<Vec<String>>,
    /// Variable defaults for every template.
    #[serde(default)]
    values: Map<String, Value>,
    /// Variable defaults for one template, by name or source.
    #[serde(default)]
    templates: IndexMap<String, TemplateDefaults>,
    /// Where it was read from (for messages).
    #[serde(skip)]
    pub path: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateDefaults {
    #[serde(default)]
    values: Map<String, Value>,
}

impl UserConfig {
    /// The user's config file: `$XDG_CONFIG_HOME/kensa/config.toml`, else
    /// `$HOME/.config/kensa/config.toml`; `None` without either variable.
    pub fn location() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|home| PathBuf::from(home).join(".config"))
            })?;
        Some(base.join("kensa").join("config.toml"))
    }

    /// Reads the user's config; no file means no defaults.
    pub fn load() -> Result<UserConfig, ScaffoldError> {
        match Self::location() {
            Some(path) => Self::load_from(&path),
            None => Ok(UserConfig::default()),
        }
    }

    pub fn load_from(path: &Path) -> Result<UserConfig, ScaffoldError> {
        let bad = |why: String| ScaffoldError::UserConfig {
            path: path.to_owned(),
            why,
        };
        let bytes = match fsutil::read_input(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(bad(e.to_string())),
        };
        let text = String::from_utf8(bytes).map_err(|_| bad("it is not UTF-8 text".into()))?;
        let mut config: UserConfig =
            toml::from_str(&text).map_err(|e| bad(toml_error(&text, &e)))?;
        config.path = Some(path.to_owned());
        Ok(config)
    }

    /// The variable defaults for the template named `template` (embedded name or source as
    /// given): the general ones, overridden by the template's own.
    pub fn values_for(&self, template: &str) -> Map<String, Value> {
        let mut values = self.values.clone();
        if let Some(own) = self.templates.get(template) {
            for (k, v) in &own.values {
                values.insert(k.clone(), v.clone());
            }
        }
        values
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn general_and_per_template_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(
            &path,
            "template = \"node\"\nregions = [\"us\", \"eu\"]\n[values]\na = 1\nb = \"x\"\n[templates.node.values]\nb = \"node's\"\n",
        )
        .unwrap();
        let c = UserConfig::load_from(&path).unwrap();
        assert_eq!(c.template.as_deref(), Some("node"));
        assert_eq!(c.regions, Some(vec!["us".into(), "eu".into()]));
        let node = c.values_for("node");
        assert_eq!(node["a"], json!(1));
        assert_eq!(node["b"], json!("node's"));
        assert_eq!(c.values_for("sinatra")["b"], json!("x"));
    }

    #[test]
    fn no_file_is_no_defaults_and_a_typo_is_an_error_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        assert!(UserConfig::load_from(&dir.path().join("none.toml"))
            .unwrap()
            .template
            .is_none());
        let path = dir.path().join("config.toml");
        std::fs::write(&path, "template = \"node\"\nregoins = [\"us\"]\n").unwrap();
        let err = UserConfig::load_from(&path).unwrap_err().to_string();
        assert!(
            err.contains("config.toml") && err.contains("line 2"),
            "{err}"
        );
    }
}
