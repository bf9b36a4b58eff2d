//! `kensa run`'s child command: run with the add-on's config vars in its environment, its
//! exit status recorded as a check.
//!
//! The command's environment is kensa's own plus the config vars the manifest declares,
//! and nothing else: a provision answer naming any other variable (`PATH`, `LD_PRELOAD`,
//! `BASH_ENV`) fails the run before the command starts.

use std::io::ErrorKind;
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::{Map, Value};

use super::report::{Check, Recorder, Stage};
use crate::registry;
use crate::verdict::Verdict;

/// Runs `argv` with the config vars added to its environment, output passing through,
/// once every one of them is among `declared` (else nothing runs). With
/// `stdout_to_stderr` (machine-readable reports) the command's stdout goes to stderr, so
/// kensa's stdout stays one document.
pub fn run(
    rec: &mut Recorder,
    argv: &[String],
    config: &Map<String, Value>,
    declared: &[String],
    stdout_to_stderr: bool,
) {
    let shown = argv
        .iter()
        .map(|w| crate::output::shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ");
    rec.section(Stage::Run, format!("running {shown}"));
    let mut undeclared: Vec<&str> = config
        .keys()
        .map(String::as_str)
        .filter(|k| !declared.iter().any(|d| d == k))
        .collect();
    undeclared.sort_unstable();
    if !undeclared.is_empty() {
        let names: Vec<String> = undeclared.iter().map(|k| format!("{k:?}")).collect();
        rec.note(
            &registry::run::CONFIG_DECLARED,
            Verdict::Fail(format!(
                "the provision returned config vars api.config_vars does not declare: {}; kensa passes only declared ones, so `{shown}` was not run",
                names.join(", ")
            )),
        );
        rec.note(
            &registry::run::COMMAND,
            Verdict::Skip("not run: the provider returned undeclared config vars".into()),
        );
        return;
    }
    rec.note(&registry::run::CONFIG_DECLARED, Verdict::Pass);
    let env = config.iter().map(|(k, v)| {
        let value = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        (k.clone(), value)
    });
    let started = Instant::now();
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]).envs(env);
    if stdout_to_stderr {
        if let Ok(fd) = std::io::stderr().as_fd().try_clone_to_owned() {
            command.stdout(Stdio::from(fd));
        }
    }
    let status = command.status();
    let verdict = match status {
        Ok(s) if s.success() => Verdict::Pass,
        Ok(s) => match (s.code(), s.signal()) {
            (Some(code), _) => Verdict::Fail(format!("`{shown}` exited with status {code}")),
            (None, Some(sig)) => Verdict::Fail(format!("`{shown}` was killed by signal {sig}")),
            _ => Verdict::Fail(format!("`{shown}` failed: {s}")),
        },
        Err(e) if e.kind() == ErrorKind::NotFound => {
            Verdict::Fail(format!("cannot run `{}`: not found on PATH", argv[0]))
        }
        Err(e) => Verdict::Fail(format!("cannot run `{}`: {e}", argv[0])),
    };
    rec.record(Check {
        duration: started.elapsed(),
        ..Check::new(&registry::run::COMMAND, verdict)
    });
}
