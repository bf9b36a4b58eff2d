//! `kensa run -- <cmd>`: the provider's own command, run against a provisioned resource.

use super::examples as ex;
use super::pages::MANIFEST;
use super::Severity::Requirement;
use super::{Anchor, CheckDef, Source};

pub static CONFIG_DECLARED: CheckDef = CheckDef {
    id: "run.config-declared",
    title: "only declared config vars reach the command",
    severity: Requirement,
    row: 76,
    rule: "The config vars the provision returned are all declared in `api.config_vars`; `kensa run` gives the command only declared ones, and runs nothing when the provider returns others.",
    source: Source {
        protocol: Anchor::HowKensaSimulatesHeroku,
        heroku: Some(MANIFEST),
    },
    why: "Heroku sets only the config vars a manifest declares; a provider that could set any variable (PATH, LD_PRELOAD, BASH_ENV) could run its own code on the developer's machine.",
    fix: "Return only the names listed in api.config_vars, or declare the new ones there.",
    examples: ex::CONFIG,
};

pub static COMMAND: CheckDef = CheckDef {
    id: "run.command",
    title: "command exits 0",
    severity: Requirement,
    row: 73,
    rule: "The command given to `kensa run` exits with status 0, run with the resource's config vars in its environment.",
    source: Source {
        protocol: Anchor::HowKensaSimulatesHeroku,
        heroku: None,
    },
    why: "It is the provider's own test of the resource kensa provisioned, as an app would use it.",
    fix: "Read the command's output above the report; it ran with the config vars the provision returned.",
    examples: &[],
};

pub const CHECKS: &[&CheckDef] = &[&CONFIG_DECLARED, &COMMAND];
