//! The Heroku API key: `HEROKU_API_KEY`, else the `api.heroku.com` machine of the netrc
//! file (`NETRC`, else `~/.netrc`), where `heroku login` stores it.

use std::fmt;
use std::io;
use std::path::PathBuf;

use crate::error::UsageError;

/// The netrc machine whose password is the API key.
pub const MACHINE: &str = "api.heroku.com";

/// An API key. Its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    /// The key itself: only for the `Authorization` header and for masking.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(********)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("********")
    }
}

/// Where the key came from, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Env,
    Netrc(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Env => f.write_str("HEROKU_API_KEY"),
            Source::Netrc(path) => write!(f, "{} (machine {MACHINE})", path.display()),
        }
    }
}

/// Finds the key in the process environment and the netrc file.
pub fn find() -> Result<(ApiKey, Source), UsageError> {
    find_with(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))
}

/// [`find`] with the environment given, for tests.
pub fn find_with(env: impl Fn(&str) -> Option<String>) -> Result<(ApiKey, Source), UsageError> {
    if let Some(key) = env("HEROKU_API_KEY").filter(|k| !k.trim().is_empty()) {
        return Ok((ApiKey::new(key.trim()), Source::Env));
    }
    let (path, named) = match env("NETRC").filter(|p| !p.is_empty()) {
        Some(p) => (PathBuf::from(p), true),
        None => match env("HOME").filter(|h| !h.is_empty()) {
            Some(home) => (PathBuf::from(home).join(".netrc"), false),
            None => return Err(missing("HOME is not set, so there is no ~/.netrc to read")),
        },
    };
    let text = match crate::fsutil::read_input_text(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound && !named => {
            return Err(missing(&format!("{} does not exist", path.display())))
        }
        Err(e) => {
            return Err(missing(&format!(
                "cannot read {}{}: {e}",
                path.display(),
                if named { " (named by NETRC)" } else { "" }
            )))
        }
    };
    match password_for(&text, MACHINE) {
        Some(key) => Ok((ApiKey::new(key), Source::Netrc(path))),
        None => Err(missing(&format!(
            "{} has no password for machine {MACHINE}",
            path.display()
        ))),
    }
}

fn missing(why: &str) -> UsageError {
    UsageError::new(format!(
        "no Heroku API key found: HEROKU_API_KEY is not set and {why}.\n\
         Provide one either way:\n  \
         export HEROKU_API_KEY=\"$(heroku auth:token)\"\n  \
         heroku login    (stores it in ~/.netrc as machine {MACHINE}; NETRC names another file)"
    ))
}

/// The password of `machine` in netrc text: whitespace-separated `machine`, `login`,
/// `password`, `account` tokens; `default` entries are ignored (they are not Heroku's);
/// `macdef` bodies (up to a blank line) and `#` comments are skipped.
pub fn password_for(text: &str, machine: &str) -> Option<String> {
    let mut tokens: Vec<&str> = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        for word in line.split_whitespace() {
            if word.starts_with('#') {
                break;
            }
            if word == "macdef" {
                for body in lines.by_ref() {
                    if body.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            tokens.push(word);
        }
    }
    let mut in_machine = false;
    let mut i = 0;
    while i < tokens.len() {
        match tokens[i] {
            "machine" => {
                in_machine = tokens.get(i + 1) == Some(&machine);
                i += 2;
            }
            "default" => {
                in_machine = false;
                i += 1;
            }
            "password" if in_machine => return tokens.get(i + 1).map(|p| (*p).to_owned()),
            "login" | "password" | "account" => i += 2,
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::fs;

    #[test]
    fn netrc_as_heroku_login_writes_it() {
        let text = "machine api.heroku.com\n  login me@example.com\n  password k3y-1\n\
                    machine git.heroku.com\n  login me@example.com\n  password k3y-2\n";
        assert_eq!(password_for(text, MACHINE).as_deref(), Some("k3y-1"));
    }

    #[test]
    fn netrc_on_one_line_with_comments_macdefs_and_defaults() {
        let text = "# my netrc\ndefault login anon password nope\n\
                    macdef init\nmachine api.heroku.com password fake\n\n\
                    machine other.example password other\n\
                    machine api.heroku.com login me password real # trailing\n";
        assert_eq!(password_for(text, MACHINE).as_deref(), Some("real"));
        assert_eq!(password_for("default password x", MACHINE), None);
        assert_eq!(
            password_for("machine api.heroku.com login me", MACHINE),
            None
        );
    }

    fn env(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn the_environment_wins_over_netrc() {
        let (key, source) = find_with(env(&[
            ("HEROKU_API_KEY", " abc \n".into()),
            ("NETRC", "/nonexistent".into()),
        ]))
        .unwrap();
        assert_eq!(key.expose(), "abc");
        assert_eq!(source, Source::Env);
        assert_eq!(format!("{key:?} {key}"), "ApiKey(********) ********");
    }

    #[test]
    fn netrc_named_by_env_or_in_home() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(".netrc");
        fs::write(&file, "machine api.heroku.com login a password from-file\n").unwrap();
        let (key, source) = find_with(env(&[("NETRC", file.display().to_string())])).unwrap();
        assert_eq!(key.expose(), "from-file");
        assert_eq!(source, Source::Netrc(file.clone()));
        let (key, _) = find_with(env(&[("HOME", dir.path().display().to_string())])).unwrap();
        assert_eq!(key.expose(), "from-file");
    }

    #[test]
    fn nothing_found_says_how_to_provide_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let err = find_with(env(&[("HOME", dir.path().display().to_string())])).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("HEROKU_API_KEY"), "{text}");
        assert!(text.contains("heroku login"), "{text}");
        assert!(text.contains(".netrc does not exist"), "{text}");
        let err = find_with(env(&[("NETRC", "/nonexistent/netrc".into())])).unwrap_err();
        assert!(err.to_string().contains("named by NETRC"), "{err}");
    }
}
