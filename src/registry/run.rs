//! `kensa run -- <cmd>`: the provider's own command, run against a provisioned resource.

use super::Severity::Requirement;
use super::{Anchor, CheckDef, Source};

pub static COMMAND: CheckDef = CheckDef {
    id: "run.command",
    title: "command exits 0",
    severity: Requirement,
    rule: "The command given to `kensa run` exits with status 0, run with the resource's config vars in its environment.",
    source: Source {
        protocol: Anchor::HowKensaSimulatesHeroku,
        heroku: None,
    },
    why: "It is the provider's own test of the resource kensa provisioned, as an app would use it.",
    fix: "Read the command's output above the report; it ran with the config vars the provision returned.",
    examples: &[],
};

pub const CHECKS: &[&CheckDef] = &[&COMMAND];
