//! Short examples of a correct provider, one per embedded template's language (node with
//! Express, sinatra, clojure with Ring and Compojure, rust-axum), and manifest excerpts for
//! the manifest's rules: what `kensa explain` and `docs/checks.md` show under a check.
//!
//! Each example is a file under `src/registry/examples/<topic>/`, named for its template
//! (`node.js`, `sinatra.rb`, `clojure.clj`, `rust-axum.rs`; `manifest.json`), written the
//! way that template's own code does it. A test parses every one of them with its
//! language's own tool (`node --check`, `ruby -c`, the Clojure reader, `rustfmt`, a JSON
//! parser), so none of them rots into something that does not even parse.

/// The language of an example: a template's, or the manifest's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Manifest,
    Node,
    Sinatra,
    Clojure,
    RustAxum,
}

impl Lang {
    pub const TEMPLATES: [Lang; 4] = [Lang::Node, Lang::Sinatra, Lang::Clojure, Lang::RustAxum];

    /// The Markdown fence tag.
    pub fn fence(self) -> &'static str {
        match self {
            Lang::Manifest => "json",
            Lang::Node => "javascript",
            Lang::Sinatra => "ruby",
            Lang::Clojure => "clojure",
            Lang::RustAxum => "rust",
        }
    }

    /// What people read above the example: the template and its language.
    pub fn label(self) -> &'static str {
        match self {
            Lang::Manifest => "addon-manifest.json",
            Lang::Node => "node (JavaScript, Express)",
            Lang::Sinatra => "sinatra (Ruby)",
            Lang::Clojure => "clojure (Ring, Compojure)",
            Lang::RustAxum => "rust-axum (Rust, axum)",
        }
    }

    /// The file name of an example in this language.
    pub fn file_name(self) -> &'static str {
        match self {
            Lang::Manifest => "manifest.json",
            Lang::Node => "node.js",
            Lang::Sinatra => "sinatra.rb",
            Lang::Clojure => "clojure.clj",
            Lang::RustAxum => "rust-axum.rs",
        }
    }
}

/// One example: its language, the directory it comes from and its code.
#[derive(Debug, PartialEq, Eq)]
pub struct Example {
    pub lang: Lang,
    /// The topic directory under `src/registry/examples/`.
    pub topic: &'static str,
    pub code: &'static str,
}

/// The four template examples of a topic, in the order of [`Lang::TEMPLATES`].
macro_rules! in_every_template {
    ($topic:literal) => {
        &[
            Example {
                lang: Lang::Node,
                topic: $topic,
                code: include_str!(concat!("examples/", $topic, "/node.js")),
            },
            Example {
                lang: Lang::Sinatra,
                topic: $topic,
                code: include_str!(concat!("examples/", $topic, "/sinatra.rb")),
            },
            Example {
                lang: Lang::Clojure,
                topic: $topic,
                code: include_str!(concat!("examples/", $topic, "/clojure.clj")),
            },
            Example {
                lang: Lang::RustAxum,
                topic: $topic,
                code: include_str!(concat!("examples/", $topic, "/rust-axum.rs")),
            },
        ]
    };
}

/// A manifest excerpt.
macro_rules! manifest {
    ($topic:literal) => {
        &[Example {
            lang: Lang::Manifest,
            topic: $topic,
            code: include_str!(concat!("examples/", $topic, "/manifest.json")),
        }]
    };
}

pub const MANIFEST_ID: &[Example] = manifest!("manifest-id");
pub const MANIFEST_NAME: &[Example] = manifest!("manifest-name");
pub const MANIFEST_API: &[Example] = manifest!("manifest-api");
pub const MANIFEST_REGIONS: &[Example] = manifest!("manifest-regions");
pub const MANIFEST_SECRETS: &[Example] = manifest!("manifest-secrets");
pub const MANIFEST_URLS: &[Example] = manifest!("manifest-urls");
pub const MANIFEST_CONFIG_VARS: &[Example] = manifest!("manifest-config-vars");
pub const MANIFEST_REQUIRES: &[Example] = manifest!("manifest-requires");
pub const MANIFEST_VERSION: &[Example] = manifest!("manifest-version");

pub const BASIC_AUTH: &[Example] = in_every_template!("basic-auth");
pub const PROVISION: &[Example] = in_every_template!("provision");
pub const UNKNOWN_FIELDS: &[Example] = in_every_template!("unknown-fields");
pub const OWN_IDS: &[Example] = in_every_template!("own-ids");
pub const IDEMPOTENT: &[Example] = in_every_template!("idempotent");
pub const PLANS: &[Example] = in_every_template!("plans");
pub const CONFIG: &[Example] = in_every_template!("config");
pub const LOG_DRAIN: &[Example] = in_every_template!("log-drain");
pub const ASYNC_PROVISION: &[Example] = in_every_template!("async-provision");
pub const PLAN_CHANGE: &[Example] = in_every_template!("plan-change");
pub const DEPROVISION: &[Example] = in_every_template!("deprovision");
pub const GONE: &[Example] = in_every_template!("gone");
pub const SSO_TOKEN: &[Example] = in_every_template!("sso-token");
pub const SSO_TIMESTAMP: &[Example] = in_every_template!("sso-timestamp");
pub const SSO_SESSION: &[Example] = in_every_template!("sso-session");
pub const HEROKU_HEADER: &[Example] = in_every_template!("heroku-header");
pub const PLATFORM_API: &[Example] = in_every_template!("platform-api");
pub const TOKEN_REFRESH: &[Example] = in_every_template!("token-refresh");
pub const RETRY_429: &[Example] = in_every_template!("retry-429");
pub const LOGPLEX: &[Example] = in_every_template!("logplex");
