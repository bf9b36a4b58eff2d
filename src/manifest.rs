//! The add-on manifest (`addon-manifest.json`): loading with precise errors, building a new
//! one, and a typed view of the parts kensa acts on. The document is kept as JSON so that
//! unknown keys (`$base`, `cli_plugin_name`, …) survive a round trip untouched.

pub mod dotenv;
pub mod validate;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use crate::secrets;
use crate::slug;

pub const DEFAULT_FILE: &str = "addon-manifest.json";

/// The name older tooling (the Ruby kensa gem's templates) wrote; still read, with a warning.
pub const LEGACY_FILE: &str = "addon_manifest.json";

/// Environment variable naming the manifest, as `-f` does.
pub const ENV_VAR: &str = "KENSA_MANIFEST";
/// The mode of every manifest kensa writes (`init`, `create`, `pull`, `push`): it holds
/// the password and the SSO salt, so only its owner may read it, like `.env`.
pub const FILE_MODE: u32 = 0o600;

/// Region names Heroku lists (`heroku regions`: the common runtime's `us` and `eu`, and
/// the Private Space regions); `*` means all of them. Heroku adds regions, so a name not
/// here only warns (docs/protocol.md#manifest).
pub const KNOWN_REGIONS: &[&str] = &[
    "us",
    "eu",
    "dublin",
    "frankfurt",
    "london",
    "montreal",
    "mumbai",
    "oregon",
    "singapore",
    "sydney",
    "tokyo",
    "virginia",
    "*",
];

/// Placeholder production host: valid https so the manifest validates, obviously not real.
pub const PRODUCTION_ROOT: &str = "https://yourapp.com";

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read manifest {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{}:{line}:{column}: manifest is not valid JSON: {message}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}: the manifest must be a JSON object, found {found}", path.display())]
    NotObject { path: PathBuf, found: &'static str },
    #[error("{}: the manifest is empty; `kensa init` writes one", path.display())]
    Empty { path: PathBuf },
    #[error(
        "no {DEFAULT_FILE} in {} or a parent directory up to {}\n\
         run `kensa init` to write one here, `kensa create DIR --template NAME` to start a new \
         provider service with one, or pass -f PATH (or set {ENV_VAR}) to use one elsewhere",
        start.display(),
        stop.display()
    )]
    NotFound { start: PathBuf, stop: PathBuf },
}

/// The manifest a command works on: `given` (`-f` or `KENSA_MANIFEST`) as it is; otherwise
/// the nearest [`DEFAULT_FILE`] in the current directory or a parent of it, up to the root
/// of the git repository it is in (or of the file system outside one), so every command
/// works from anywhere in a project. A [`LEGACY_FILE`] is used when no [`DEFAULT_FILE`]
/// sits beside it, with a warning.
pub fn locate(given: Option<&Path>) -> Result<PathBuf, ManifestError> {
    if let Some(path) = given {
        return Ok(path.to_owned());
    }
    let start = std::env::current_dir().map_err(|source| ManifestError::Read {
        path: PathBuf::from(DEFAULT_FILE),
        source,
    })?;
    let found = search_upwards(&start)?;
    if found.legacy {
        crate::output::warn(&format!(
            "using {}, the name older tooling wrote; rename it to {DEFAULT_FILE} \
             (kensa reads both, and writes {DEFAULT_FILE})",
            found.path.display()
        ));
    }
    Ok(found.path)
}

/// A manifest found by [`search_upwards`], as a path relative to where the search began.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    /// Found under [`LEGACY_FILE`].
    pub legacy: bool,
}

/// The nearest manifest in `start` or its parents, stopping after the directory that
/// holds `.git` (a repository root; a file in a worktree) or at the file-system root.
pub fn search_upwards(start: &Path) -> Result<Found, ManifestError> {
    let mut relative = PathBuf::new();
    for dir in start.ancestors() {
        for (name, legacy) in [(DEFAULT_FILE, false), (LEGACY_FILE, true)] {
            if fs::symlink_metadata(dir.join(name)).is_ok() {
                let path = if relative.as_os_str().is_empty() {
                    PathBuf::from(name)
                } else {
                    relative.join(name)
                };
                return Ok(Found { path, legacy });
            }
        }
        if fs::symlink_metadata(dir.join(".git")).is_ok() || dir.parent().is_none() {
            return Err(ManifestError::NotFound {
                start: start.to_owned(),
                stop: dir.to_owned(),
            });
        }
        relative.push("..");
    }
    unreachable!("the last ancestor has no parent")
}

/// How a new manifest's SSO URLs are shaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsoMethod {
    /// Form POST to `sso_url` (the current Heroku behaviour).
    Post,
    /// GET to `<root>/heroku/resources/<id>` (legacy string URLs).
    Get,
}

/// A manifest document. Accessors read it leniently; [`validate`] says what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub doc: Map<String, Value>,
}

/// What `init` and `create` need to write a new manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct AddonSpec {
    pub id: String,
    pub name: String,
    pub regions: Vec<String>,
    /// `None` leaves single sign-on out (no `sso_salt`).
    pub sso: Option<SsoMethod>,
    pub port: u16,
}

impl Manifest {
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        Manifest::read(path).map(|(_, manifest)| manifest)
    }

    /// The file's bytes and the manifest in them. Its secrets are masked in every output
    /// from now on ([`crate::redact`]).
    pub fn read(path: &Path) -> Result<(Vec<u8>, Manifest), ManifestError> {
        let bytes = crate::fsutil::read_input(path).map_err(|source| ManifestError::Read {
            path: path.to_owned(),
            source,
        })?;
        let manifest = Manifest::parse(&bytes, path)?;
        crate::redact::register(manifest.secrets());
        Ok((bytes, manifest))
    }

    pub fn parse(bytes: &[u8], path: &Path) -> Result<Manifest, ManifestError> {
        // serde_json would say "EOF while parsing a value" at line 1 column 0.
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ManifestError::Empty {
                path: path.to_owned(),
            });
        }
        let value: Value = serde_json::from_slice(bytes).map_err(|e| ManifestError::Parse {
            path: path.to_owned(),
            line: e.line(),
            column: e.column(),
            message: strip_position(&e.to_string()),
        })?;
        match value {
            Value::Object(doc) => Ok(Manifest { doc }),
            other => Err(ManifestError::NotObject {
                path: path.to_owned(),
                found: json_type(&other),
            }),
        }
    }

    /// A new manifest in the shape of docs/protocol.md#manifest with fresh secrets.
    pub fn new_addon(spec: &AddonSpec) -> Manifest {
        let prefix = slug::config_prefix(&spec.id);
        let local = format!("http://localhost:{}", spec.port);
        let (production, test) = match spec.sso {
            Some(SsoMethod::Get) => (
                json!(format!("{PRODUCTION_ROOT}/")),
                json!(format!("{local}/")),
            ),
            Some(SsoMethod::Post) => (urls(PRODUCTION_ROOT, true), urls(&local, true)),
            None => (urls(PRODUCTION_ROOT, false), urls(&local, false)),
        };
        let mut api = Map::new();
        api.insert("config_vars_prefix".into(), json!(prefix));
        api.insert("config_vars".into(), json!([format!("{prefix}_URL")]));
        api.insert("password".into(), json!(secrets::generate()));
        if spec.sso.is_some() {
            api.insert("sso_salt".into(), json!(secrets::generate()));
        }
        api.insert("regions".into(), json!(spec.regions));
        api.insert("requires".into(), json!([]));
        api.insert("production".into(), production);
        api.insert("test".into(), test);
        api.insert("version".into(), json!("3"));

        let mut doc = Map::new();
        doc.insert("id".into(), json!(spec.id));
        doc.insert("name".into(), json!(spec.name));
        doc.insert("api".into(), Value::Object(api));
        Manifest { doc }
    }

    /// The whole document.
    pub fn doc(&self) -> &Map<String, Value> {
        &self.doc
    }

    /// The whole document, to change (`kensa update` adds missing keys).
    pub fn doc_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.doc
    }

    /// Pretty JSON with a trailing newline, as written to disk.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(&self.doc).expect("a JSON map serialises");
        text.push('\n');
        text
    }

    pub fn id(&self) -> Option<&str> {
        self.doc.get("id").and_then(Value::as_str)
    }

    pub fn name(&self) -> Option<&str> {
        self.doc.get("name").and_then(Value::as_str)
    }

    pub fn api(&self) -> Option<&Map<String, Value>> {
        self.doc.get("api").and_then(Value::as_object)
    }

    fn api_str(&self, key: &str) -> Option<&str> {
        self.api()?.get(key)?.as_str()
    }

    pub fn password(&self) -> Option<&str> {
        self.api_str("password")
    }

    pub fn sso_salt(&self) -> Option<&str> {
        self.api_str("sso_salt").filter(|s| !s.is_empty())
    }

    /// The manifest's secrets (password, SSO salt, and the password of any URL that
    /// carries credentials): never printed, masked in every output.
    pub fn secrets(&self) -> Vec<String> {
        let mut secrets: Vec<String> = [self.password(), self.sso_salt()]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        for url in self.endpoint_urls() {
            if let Some((user, password)) = url_credentials(url) {
                if !password.is_empty() {
                    secrets.push(format!("{user}:{password}"));
                    secrets.push(password);
                }
            }
        }
        secrets
    }

    /// Every URL string of `api.test` and `api.production`.
    fn endpoint_urls(&self) -> Vec<&str> {
        let Some(api) = self.api() else {
            return Vec::new();
        };
        ["test", "production"]
            .iter()
            .filter_map(|key| api.get(*key))
            .flat_map(|v| match v {
                Value::String(root) => vec![root.as_str()],
                Value::Object(o) => ["base_url", "sso_url"]
                    .iter()
                    .filter_map(|f| o.get(*f).and_then(Value::as_str))
                    .collect(),
                _ => Vec::new(),
            })
            .collect()
    }

    /// True for the v3 API (`"version": "3"`, or the number 3); anything else is legacy
    /// v1, as the `manifest.version` rule says.
    pub fn is_v3(&self) -> bool {
        self.api()
            .and_then(|api| api.get("version"))
            .is_some_and(is_version_3)
    }

    /// `config_vars_prefix`, or the id upper-cased with `-` as `_`.
    pub fn config_prefix(&self) -> Option<String> {
        self.api_str("config_vars_prefix")
            .map(str::to_owned)
            .or_else(|| self.id().map(slug::config_prefix))
    }

    pub fn config_vars(&self) -> Vec<String> {
        string_list(self.api().and_then(|api| api.get("config_vars")))
    }

    pub fn requires(&self) -> Vec<String> {
        string_list(self.api().and_then(|api| api.get("requires")))
    }

    /// Whether `api.requires` names this feature (`syslog_drain`, `many_per_app`, …).
    pub fn requires_feature(&self, feature: &str) -> bool {
        self.requires().iter().any(|r| r == feature)
    }

    /// The test or production endpoint, if it has one of the two known shapes.
    pub fn endpoint(&self, production: bool) -> Option<Endpoint> {
        let key = if production { "production" } else { "test" };
        Endpoint::from_value(self.api()?.get(key)?)
    }

    /// The endpoint of a service at `base` (`--url`): the production URLs' paths on that
    /// origin, in the production shape (a root string stays one, an `sso_url` only when
    /// production has one), or `/heroku/resources` and `/sso/login` without production.
    pub fn endpoint_at(&self, base: &str) -> Result<Endpoint, String> {
        let parsed = url::Url::parse(base).map_err(|e| format!("is not a URL ({e})"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err("must be an http(s) URL with a host, such as http://localhost:5000".into());
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err("must not carry a query or a fragment".into());
        }
        let root = base.trim_end_matches('/');
        let path_of = |u: &str| {
            url::Url::parse(u)
                .map(|u| u.path().trim_end_matches('/').to_owned())
                .unwrap_or_default()
        };
        Ok(match self.endpoint(true) {
            Some(Endpoint::Root(_)) => Endpoint::Root(format!("{root}/")),
            Some(Endpoint::Urls { base_url, sso_url }) => Endpoint::Urls {
                base_url: format!("{root}{}", path_of(&base_url)),
                sso_url: sso_url.map(|u| format!("{root}{}", path_of(&u))),
            },
            None => Endpoint::Urls {
                base_url: format!("{root}/heroku/resources"),
                sso_url: self.sso_salt().map(|_| format!("{root}/sso/login")),
            },
        })
    }

    /// Points the test URLs at `http://localhost:<port>`, keeping their shape.
    pub fn set_test_port(&mut self, port: u16) {
        let Some(api) = self.doc.get_mut("api").and_then(Value::as_object_mut) else {
            return;
        };
        let local = format!("http://localhost:{port}");
        let test = match api.get("test") {
            Some(Value::String(_)) => json!(format!("{local}/")),
            Some(Value::Object(o)) => urls(&local, o.contains_key("sso_url")),
            _ => return,
        };
        api.insert("test".into(), test);
    }
}

impl Manifest {
    /// Points the test URLs at `port`, keeping their scheme, host and paths
    /// (`kensa dev --port`). URLs that do not parse are left as they are.
    pub fn retarget_test_port(&mut self, port: u16) {
        let Some(test) = self
            .doc
            .get_mut("api")
            .and_then(Value::as_object_mut)
            .and_then(|api| api.get_mut("test"))
        else {
            return;
        };
        let retarget = |value: &mut Value| {
            let Some(text) = value.as_str() else { return };
            if let Ok(mut url) = url::Url::parse(text) {
                if url.set_port(Some(port)).is_ok() {
                    *value = Value::String(url.to_string());
                }
            }
        };
        match test {
            Value::Object(urls) => urls.values_mut().for_each(retarget),
            other => retarget(other),
        }
    }

    /// The port of the test URLs (80 or 443 when they name none).
    pub fn test_port(&self) -> Option<u16> {
        let endpoint = self.endpoint(false)?;
        url::Url::parse(&endpoint.resources_url())
            .ok()?
            .port_or_known_default()
    }
}

/// Where requests go: object URLs (current) or a plain root URL (legacy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Urls {
        base_url: String,
        sso_url: Option<String>,
    },
    Root(String),
}

impl Endpoint {
    fn from_value(value: &Value) -> Option<Endpoint> {
        match value {
            Value::String(root) => Some(Endpoint::Root(root.clone())),
            Value::Object(o) => Some(Endpoint::Urls {
                base_url: o.get("base_url")?.as_str()?.to_owned(),
                sso_url: o.get("sso_url").and_then(Value::as_str).map(str::to_owned),
            }),
            _ => None,
        }
    }

    /// The collection URL provision requests go to (`…/heroku/resources`).
    pub fn resources_url(&self) -> String {
        match self {
            Endpoint::Urls { base_url, .. } => base_url.clone(),
            Endpoint::Root(root) => format!("{}/heroku/resources", root.trim_end_matches('/')),
        }
    }

    /// The URL of one resource (plan change, deprovision, legacy GET SSO).
    pub fn resource_url(&self, id: &str) -> String {
        format!(
            "{}/{}",
            self.resources_url().trim_end_matches('/'),
            url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        )
    }
}

/// The `user:pass@` part of a URL's authority, split and percent-decoded (`None` when it
/// has none). Read from the text, so an unparsable URL's credentials are found too.
pub fn url_credentials(url: &str) -> Option<(String, String)> {
    let (_, userinfo, _) = split_userinfo(url)?;
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    Some((decode(user), decode(password)))
}

/// The URL with its `user:pass@` replaced by `***@`, for messages.
pub fn without_credentials(url: &str) -> String {
    match split_userinfo(url) {
        Some((before, _, after)) => format!("{before}***@{after}"),
        None => url.to_owned(),
    }
}

/// `(scheme://, userinfo, host and the rest)` when the authority has a userinfo.
fn split_userinfo(url: &str) -> Option<(&str, &str, &str)> {
    let start = url.find("://")? + 3;
    let authority_end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    let at = url[start..authority_end].rfind('@')? + start;
    Some((&url[..start], &url[start..at], &url[at + 1..]))
}

fn urls(root: &str, with_sso: bool) -> Value {
    let mut o = Map::new();
    o.insert("base_url".into(), json!(format!("{root}/heroku/resources")));
    if with_sso {
        o.insert("sso_url".into(), json!(format!("{root}/sso/login")));
    }
    Value::Object(o)
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// `"3"`, or the number 3 as some manifests write it.
pub fn is_version_3(value: &Value) -> bool {
    match value {
        Value::String(s) => s.trim() == "3",
        Value::Number(n) => n.as_u64() == Some(3) || n.as_f64() == Some(3.0),
        _ => false,
    }
}

pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// serde_json appends " at line L column C"; the error already says where.
pub fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(sso: Option<SsoMethod>) -> AddonSpec {
        AddonSpec {
            id: "my-addon".into(),
            name: "My Addon".into(),
            regions: vec!["us".into()],
            sso,
            port: 4567,
        }
    }

    #[test]
    fn new_manifest_has_the_protocol_shape() {
        let m = Manifest::new_addon(&spec(Some(SsoMethod::Post)));
        assert_eq!(m.id(), Some("my-addon"));
        assert_eq!(m.config_vars(), ["MY_ADDON_URL"]);
        assert_eq!(m.config_prefix().as_deref(), Some("MY_ADDON"));
        assert!(m.is_v3());
        assert_eq!(m.password().unwrap().len(), 32);
        assert_eq!(m.sso_salt().unwrap().len(), 32);
        assert_eq!(
            m.endpoint(false),
            Some(Endpoint::Urls {
                base_url: "http://localhost:4567/heroku/resources".into(),
                sso_url: Some("http://localhost:4567/sso/login".into()),
            })
        );
        assert!(validate::validate(&m).iter().all(|r| !r.verdict.is_fail()));
    }

    #[test]
    fn a_service_url_takes_the_production_paths() {
        let m = Manifest::new_addon(&spec(Some(SsoMethod::Post)));
        assert_eq!(
            m.endpoint_at("http://localhost:5000/").unwrap(),
            Endpoint::Urls {
                base_url: "http://localhost:5000/heroku/resources".into(),
                sso_url: Some("http://localhost:5000/sso/login".into()),
            }
        );
        let legacy = Manifest::new_addon(&spec(Some(SsoMethod::Get)));
        assert_eq!(
            legacy.endpoint_at("http://127.0.0.1:4567").unwrap(),
            Endpoint::Root("http://127.0.0.1:4567/".into())
        );
        let bare =
            Manifest::parse(br#"{"id": "x", "api": {"sso_salt": "s"}}"#, Path::new("m")).unwrap();
        assert_eq!(
            bare.endpoint_at("http://h:1/prefix").unwrap(),
            Endpoint::Urls {
                base_url: "http://h:1/prefix/heroku/resources".into(),
                sso_url: Some("http://h:1/prefix/sso/login".into()),
            }
        );
        for bad in ["localhost:5000", "ftp://h/", "http://h/?q=1", "not a url"] {
            assert!(m.endpoint_at(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn get_sso_writes_legacy_string_urls() {
        let m = Manifest::new_addon(&spec(Some(SsoMethod::Get)));
        let e = m.endpoint(false).unwrap();
        assert_eq!(e, Endpoint::Root("http://localhost:4567/".into()));
        assert_eq!(
            e.resource_url("a b"),
            "http://localhost:4567/heroku/resources/a+b"
        );
    }

    #[test]
    fn without_sso_has_no_salt_and_no_sso_url() {
        let m = Manifest::new_addon(&spec(None));
        assert_eq!(m.sso_salt(), None);
        assert!(!m.to_json().contains("sso_url"));
    }

    #[test]
    fn unknown_keys_survive_a_round_trip() {
        let text =
            r#"{"$base":"x","id":"a","api":{"cli_plugin_name":"p","version":"3"},"zeta":[1]}"#;
        let m = Manifest::parse(text.as_bytes(), Path::new("m.json")).unwrap();
        let again: Value = serde_json::from_str(&m.to_json()).unwrap();
        assert_eq!(again, serde_json::from_str::<Value>(text).unwrap());
        let keys: Vec<_> = m.doc.keys().collect();
        assert_eq!(keys, ["$base", "id", "api", "zeta"], "order is kept");
    }

    #[test]
    fn parse_errors_name_file_line_and_column() {
        let err = Manifest::parse(b"{\n  \"id\": \"a\",\n  oops\n}", Path::new("m.json"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("m.json:3:3: manifest is not valid JSON"),
            "{err}"
        );
    }

    #[test]
    fn an_empty_file_says_it_is_empty() {
        for text in ["", " \n\t\r\n"] {
            let err = Manifest::parse(text.as_bytes(), Path::new("m.json")).unwrap_err();
            assert_eq!(
                err.to_string(),
                "m.json: the manifest is empty; `kensa init` writes one"
            );
        }
    }

    #[test]
    fn url_credentials_are_found_decoded_and_hidden() {
        assert_eq!(
            url_credentials("https://me:p%40ss@host.com/x@y"),
            Some(("me".into(), "p@ss".into()))
        );
        assert_eq!(url_credentials("https://host.com/a@b"), None);
        assert_eq!(
            url_credentials("http://tok@h"),
            Some(("tok".into(), "".into()))
        );
        assert_eq!(
            without_credentials("https://me:p%40ss@host.com/x@y"),
            "https://***@host.com/x@y"
        );
        let mut m = Manifest::new_addon(&spec(None));
        m.doc["api"]["production"]["base_url"] = json!("https://u:hunter2@h.com/r");
        assert!(m.secrets().contains(&"hunter2".to_owned()));
        assert!(m.secrets().contains(&"u:hunter2".to_owned()));
    }

    #[test]
    fn a_non_object_is_refused() {
        let err = Manifest::parse(b"[1]", Path::new("m.json")).unwrap_err();
        assert!(err.to_string().contains("found an array"), "{err}");
    }

    fn tree(files: &[&str]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for f in files {
            let path = root.path().join(f);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            if f.ends_with('/') {
                fs::create_dir_all(&path).unwrap();
            } else {
                fs::write(&path, "{}").unwrap();
            }
        }
        root
    }

    #[test]
    fn the_manifest_is_found_in_a_parent_directory() {
        let root = tree(&["proj/.git/", "proj/addon-manifest.json", "proj/src/deep/"]);
        let found = search_upwards(&root.path().join("proj/src/deep")).unwrap();
        assert_eq!(
            found,
            Found {
                path: PathBuf::from("../../addon-manifest.json"),
                legacy: false
            }
        );
        let here = search_upwards(&root.path().join("proj")).unwrap();
        assert_eq!(here.path, PathBuf::from(DEFAULT_FILE));
    }

    #[test]
    fn the_search_stops_at_the_repository_root() {
        // A manifest above the repository belongs to something else.
        let root = tree(&["addon-manifest.json", "repo/.git", "repo/sub/"]);
        let err = search_upwards(&root.path().join("repo/sub")).unwrap_err();
        let ManifestError::NotFound { stop, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(stop, &root.path().join("repo"));
    }

    #[test]
    fn the_older_name_is_found_and_flagged_and_the_current_one_wins() {
        let root = tree(&[
            "a/addon_manifest.json",
            "b/addon_manifest.json",
            "b/addon-manifest.json",
        ]);
        let a = search_upwards(&root.path().join("a")).unwrap();
        assert_eq!((a.path.to_str(), a.legacy), (Some(LEGACY_FILE), true));
        let b = search_upwards(&root.path().join("b")).unwrap();
        assert_eq!((b.path.to_str(), b.legacy), (Some(DEFAULT_FILE), false));
    }

    #[test]
    fn not_found_says_what_to_run() {
        let root = tree(&["repo/.git/"]);
        let text = search_upwards(&root.path().join("repo"))
            .unwrap_err()
            .to_string();
        for needle in ["kensa init", "kensa create", "-f PATH", "KENSA_MANIFEST"] {
            assert!(text.contains(needle), "{needle}: {text}");
        }
    }
}
