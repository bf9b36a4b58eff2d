//! The config vars an answer (provision, plan change) or the Platform API sets
//! (docs/protocol.md#provisioning): one set of rules wherever config arrives.

use super::pages::{KENSA_GEM, MANIFEST};
use super::Severity::Requirement;
use super::{Anchor, CheckDef, Source};

const CONFIG: Anchor = Anchor::Provisioning;

pub static OBJECT: CheckDef = CheckDef {
    id: "config.object",
    title: "config is an object",
    severity: Requirement,
    rule: "`config` is an object of NAME: \"value\"; a provision answer must carry it when the manifest declares config vars.",
    source: Source {
        protocol: CONFIG,
        heroku: Some(MANIFEST),
    },
    why: "Heroku sets the app's config vars from this object; without it the app cannot reach the resource.",
    fix: "Return \"config\": {\"MYADDON_URL\": \"https://…\"} with every declared var.",
    examples: &[],
};

pub static DECLARED: CheckDef = CheckDef {
    id: "config.declared",
    title: "config keys are declared",
    severity: Requirement,
    rule: "Every config key is declared in `api.config_vars`; a declared var that is missing only warns.",
    source: Source {
        protocol: CONFIG,
        heroku: Some(MANIFEST),
    },
    why: "Heroku rejects config vars the manifest does not declare, and the app misses a declared one that never comes.",
    fix: "Return exactly the names in api.config_vars, or declare the new ones in the manifest (and push it).",
    examples: &[],
};

pub static STRINGS: CheckDef = CheckDef {
    id: "config.strings",
    title: "config values are strings",
    severity: Requirement,
    rule: "Every config value is a string.",
    source: Source {
        protocol: CONFIG,
        heroku: Some(KENSA_GEM),
    },
    why: "Config vars become environment variables, which hold text only.",
    fix: "Send numbers and booleans as strings (\"5432\", \"true\").",
    examples: &[],
};

pub static URLS: CheckDef = CheckDef {
    id: "config.urls",
    title: "config URLs are valid",
    severity: Requirement,
    rule: "Every `_URL` config value is a URL with a scheme and a host, and in production not this machine (localhost); a value that is not a string is skipped here (config.strings fails it).",
    source: Source {
        protocol: CONFIG,
        heroku: Some(KENSA_GEM),
    },
    why: "Apps connect to these URLs; a malformed or local one cannot be reached from a Heroku dyno.",
    fix: "Return the resource's public URL, e.g. postgres://user:pass@db.example.com:5432/name.",
    examples: &[],
};

pub const CHECKS: &[&CheckDef] = &[&OBJECT, &DECLARED, &STRINGS, &URLS];
