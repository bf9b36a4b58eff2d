//! The config vars an answer (provision, plan change) or the Platform API sets
//! (docs/protocol.md#provisioning): one set of rules wherever config arrives.

use super::examples as ex;
use super::pages::{KENSA_GEM, MANIFEST};
use super::Severity::{Advice, Requirement};
use super::{Anchor, CheckDef, Source};

const CONFIG: Anchor = Anchor::Provisioning;

pub static OBJECT: CheckDef = CheckDef {
    id: "config.object",
    title: "config is an object",
    severity: Requirement,
    row: 31,
    rule: "`config`, when an answer carries it, is an object of NAME: \"value\" pairs.",
    source: Source {
        protocol: CONFIG,
        heroku: Some(KENSA_GEM),
    },
    why:
        "Heroku sets the app's config vars from this object; in another shape none of them is set.",
    fix: "Return \"config\": {\"MYADDON_URL\": \"https://…\"}.",
    examples: ex::CONFIG,
};

pub static DECLARED: CheckDef = CheckDef {
    id: "config.declared",
    title: "config keys are declared",
    severity: Requirement,
    row: 29,
    rule: "Every config key is declared in `api.config_vars` (and so carries the prefix).",
    source: Source {
        protocol: CONFIG,
        heroku: Some(MANIFEST),
    },
    why: "The manifest lists the vars provisioning returns; Heroku rejects the ones it does not declare.",
    fix: "Return only the names in api.config_vars, or declare the new ones in the manifest (and push it).",
    examples: ex::CONFIG,
};

pub static ALL_RETURNED: CheckDef = CheckDef {
    id: "config.all-returned",
    title: "every declared config var is returned",
    severity: Advice,
    row: 32,
    rule: "Every name in `api.config_vars` is in the config a provision returns (or, after a 202, sets through the Platform API).",
    source: Source {
        protocol: CONFIG,
        heroku: Some(KENSA_GEM),
    },
    why: "An app waiting for a declared var that never comes cannot reach the resource.",
    fix: "Return every declared var, or remove the ones you never set from api.config_vars.",
    examples: ex::CONFIG,
};

pub static STRINGS: CheckDef = CheckDef {
    id: "config.strings",
    title: "config values are strings",
    severity: Requirement,
    row: 31,
    rule: "Every config value is a string.",
    source: Source {
        protocol: CONFIG,
        heroku: Some(KENSA_GEM),
    },
    why: "Config vars become environment variables, which hold text only.",
    fix: "Send numbers and booleans as strings (\"5432\", \"true\").",
    examples: ex::CONFIG,
};

pub static URLS: CheckDef = CheckDef {
    id: "config.urls",
    title: "config URLs are valid",
    severity: Advice,
    row: 33,
    rule: "Every `_URL` config value is a URL with a scheme and a host, and in production not this machine (localhost); a value that is not a string is skipped here (config.strings fails it).",
    source: Source {
        protocol: CONFIG,
        heroku: Some(KENSA_GEM),
    },
    why: "Apps connect to these URLs; a malformed or local one cannot be reached from a Heroku dyno.",
    fix: "Return the resource's public URL, e.g. postgres://user:pass@db.example.com:5432/name.",
    examples: ex::CONFIG,
};

pub const CHECKS: &[&CheckDef] = &[&OBJECT, &DECLARED, &ALL_RETURNED, &STRINGS, &URLS];
