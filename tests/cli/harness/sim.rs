//! [`Sim`]: kensa against the in-process stub provider (`stub.rs`), and what a run gives:
//! the exit status and output ([`Outcome`]), and with `--format json` the parsed report
//! with lookups of checks by section and name ([`Run`]).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tempfile::TempDir;

use super::{MANIFEST, TIMEOUT};
use crate::stub::{Addon, Recorded, Stub, Version};

/// A stub provider, a temp dir holding a manifest that points at it, and a way to run kensa
/// there, hermetic.
pub struct Sim {
    pub addon: Addon,
    pub stub: Stub,
    dir: TempDir,
}

impl Sim {
    pub fn new(addon: Addon) -> Sim {
        let stub = Stub::start(&addon);
        let manifest = addon.manifest(stub.port());
        Sim::with_manifest(addon, stub, &manifest)
    }

    /// A stub for `addon` with this manifest written instead of the default one.
    pub fn with_manifest(addon: Addon, stub: Stub, manifest: &Value) -> Sim {
        let dir = tempfile::Builder::new()
            .prefix("kensa-sim-")
            .tempdir()
            .unwrap();
        let sim = Sim { addon, stub, dir };
        sim.write(MANIFEST, serde_json::to_string_pretty(manifest).unwrap());
        sim
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(rel);
        fs::write(&path, contents).unwrap();
        path
    }

    /// The provision URL kensa uses (both shapes lead there).
    pub fn resources_url(&self) -> String {
        format!("{}/heroku/resources", self.stub.url())
    }

    pub fn kensa<S: AsRef<str>>(&self, args: &[S]) -> Outcome {
        self.kensa_env(&[], args)
    }

    /// [`Sim::kensa`] with these variables added to its environment.
    pub fn kensa_env<S: AsRef<str>>(&self, env: &[(&str, &str)], args: &[S]) -> Outcome {
        let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        let mut cmd = super::kensa(self.dir.path());
        cmd.envs(env.iter().copied())
            .args(&args)
            .stdin(Stdio::null());
        let started = Instant::now();
        let out = super::output(cmd);
        let elapsed = started.elapsed();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let Some(code) = out.status.code() else {
            let why = if elapsed >= TIMEOUT {
                format!("did not exit within {TIMEOUT:?}: it hangs")
            } else {
                format!("was killed ({})", out.status)
            };
            panic!("kensa {args:?} {why}\n--- stdout\n{stdout}--- stderr\n{stderr}");
        };
        Outcome {
            args: args.iter().map(|s| s.to_string()).collect(),
            code,
            stdout,
            stderr,
            elapsed,
        }
    }

    /// Runs kensa with `--format json` added and parses the document.
    pub fn json<S: AsRef<str>>(&self, args: &[S]) -> Run {
        self.json_env(&[], args)
    }

    /// [`Sim::json`] with these variables added to kensa's environment.
    pub fn json_env<S: AsRef<str>>(&self, env: &[(&str, &str)], args: &[S]) -> Run {
        // Right after `run` or `test <step>`: later words may belong to the command or to
        // provision options, and each step takes its own flags.
        let mut all: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        let at = match all.as_slice() {
            ["test", step, ..] if !step.starts_with('-') => 2,
            _ => 1,
        };
        all.splice(at..at, ["--format", "json"]);
        let outcome = self.kensa_env(env, &all);
        let report = serde_json::from_str(&outcome.stdout).unwrap_or_else(|e| {
            panic!("kensa {all:?}: stdout is not one JSON document ({e})\n{outcome}")
        });
        Run { outcome, report }
    }

    /// `kensa test all --format json`.
    pub fn test_all(&self) -> Run {
        self.json(&["test", "all"])
    }

    /// Requests the stub received with this method and path.
    pub fn received(&self, method: &str, path: &str) -> Vec<Recorded> {
        self.stub
            .requests()
            .into_iter()
            .filter(|r| r.is(method, path))
            .collect()
    }
}

pub struct Outcome {
    pub args: Vec<String>,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "kensa {:?} exited {} after {:?}\n--- stdout\n{}--- stderr\n{}",
            self.args, self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

impl Outcome {
    pub fn status(&self, code: i32) -> &Outcome {
        assert_eq!(self.code, code, "exit status\n{self}");
        self
    }

    pub fn stdout_has(&self, part: &str) -> &Outcome {
        assert!(self.stdout.contains(part), "stdout lacks {part:?}\n{self}");
        self
    }

    pub fn stderr_has(&self, part: &str) -> &Outcome {
        assert!(self.stderr.contains(part), "stderr lacks {part:?}\n{self}");
        self
    }
}

/// A `--format json` run: the outcome and the parsed document.
pub struct Run {
    pub outcome: Outcome,
    pub report: Value,
}

/// One check of the report, with the first word of its section (`manifest`, `POST`, `PUT`,
/// `DELETE`, `SSO`, `running`) standing for the section.
#[derive(Debug, Clone)]
pub struct Found {
    pub kind: String,
    /// The check's id in the registry.
    pub id: String,
    pub name: String,
    pub status: String,
    pub message: Option<String>,
    pub check: Value,
}

impl Run {
    /// Every check of the report. Each must be declared in the registry, under the title
    /// it was reported with: every simulator test is a registry test too.
    pub fn checks(&self) -> Vec<Found> {
        let sections = self.report["sections"]
            .as_array()
            .unwrap_or_else(|| panic!("no sections array\n{}", self.outcome));
        let found: Vec<Found> = sections
            .iter()
            .flat_map(|s| {
                let section = s["name"].as_str().unwrap().to_owned();
                let kind = section.split_whitespace().next().unwrap().to_owned();
                s["checks"].as_array().unwrap().iter().map(move |c| Found {
                    kind: kind.clone(),
                    id: c["id"].as_str().unwrap().to_owned(),
                    name: c["name"].as_str().unwrap().to_owned(),
                    status: c["status"].as_str().unwrap().to_owned(),
                    message: c["message"].as_str().map(str::to_owned),
                    check: c.clone(),
                })
            })
            .collect();
        for c in &found {
            assert_declared(&c.id, &c.name);
        }
        found
    }

    pub fn section_kinds(&self) -> Vec<String> {
        self.report["sections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                s["name"]
                    .as_str()
                    .unwrap()
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    /// `kind / name: status: message` lines, for failure messages.
    pub fn listing(&self) -> String {
        self.checks()
            .iter()
            .map(|c| {
                format!(
                    "  {} / {}: {}{}\n",
                    c.kind,
                    c.name,
                    c.status,
                    c.message
                        .as_deref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                )
            })
            .collect()
    }

    /// The check `name` in the (only) section of this kind; its name may end in ` (n)`.
    pub fn check(&self, kind: &str, name: &str) -> Found {
        let found: Vec<Found> = self
            .checks()
            .into_iter()
            .filter(|c| {
                c.kind == kind && (c.name == name || c.name.starts_with(&format!("{name} (")))
            })
            .collect();
        match found.as_slice() {
            [one] => one.clone(),
            [] => panic!(
                "no check {kind} / {name}; the report has:\n{}\n{}",
                self.listing(),
                self.outcome
            ),
            _ => panic!("several checks {kind} / {name}:\n{}", self.listing()),
        }
    }

    pub fn with_status(&self, status: &str) -> Vec<(String, String)> {
        self.checks()
            .into_iter()
            .filter(|c| c.status == status)
            .map(|c| (c.kind, c.name))
            .collect()
    }

    /// Exit 1, and exactly these checks failed, each message containing its needle.
    pub fn fails_only(&self, expected: &[(&str, &str, &str)]) -> &Run {
        assert_eq!(self.outcome.code, 1, "exit status\n{}", self.listing());
        let failed = self.with_status("fail");
        let mut wanted: Vec<(String, String)> = expected
            .iter()
            .map(|(k, n, _)| (k.to_string(), self.check(k, n).name))
            .collect();
        wanted.sort();
        let mut got = failed.clone();
        got.sort();
        assert_eq!(
            got,
            wanted,
            "the failing checks differ from the expected ones; report:\n{}\n{}",
            self.listing(),
            self.outcome.stderr
        );
        for (kind, name, needle) in expected {
            self.status_of(kind, name, "fail", needle);
        }
        assert_eq!(self.report["passed"], json!(false));
        self
    }

    /// The check has this status and its message contains `needle`.
    pub fn status_of(&self, kind: &str, name: &str, status: &str, needle: &str) -> &Run {
        let c = self.check(kind, name);
        assert_eq!(c.status, status, "{kind} / {name}:\n{}", self.listing());
        let message = c.message.unwrap_or_default();
        assert!(
            message.contains(needle),
            "{kind} / {name}: message {message:?} lacks {needle:?}"
        );
        self
    }

    /// Exit 0 and no failure at all.
    pub fn passes(&self) -> &Run {
        assert_eq!(
            self.outcome.code,
            0,
            "exit status; report:\n{}\n{}",
            self.listing(),
            self.outcome.stderr
        );
        assert!(
            self.with_status("fail").is_empty(),
            "failures:\n{}",
            self.listing()
        );
        assert_eq!(self.report["passed"], json!(true));
        self
    }

    /// Exactly these checks warned (each message containing its needle); all else passed.
    pub fn warns_only(&self, expected: &[(&str, &str, &str)]) -> &Run {
        self.passes();
        let mut wanted: Vec<(String, String)> = expected
            .iter()
            .map(|(k, n, _)| (k.to_string(), self.check(k, n).name))
            .collect();
        wanted.sort();
        let mut got = self.with_status("warn");
        got.sort();
        assert_eq!(got, wanted, "warnings differ; report:\n{}", self.listing());
        for (kind, name, needle) in expected {
            self.status_of(kind, name, "warn", needle);
        }
        self
    }
}

/// `id` is declared in the registry, and `name` is its title (its `{n}` filled in).
pub fn assert_declared(id: &str, name: &str) {
    let Some(def) = kensa::registry::find(id) else {
        panic!("check {id:?} ({name:?}) is reported but not declared in the registry");
    };
    let fits = match def.title.split_once("{n}") {
        Some((before, after)) => {
            name.starts_with(before)
                && name.ends_with(after)
                && name.len() > before.len() + after.len()
        }
        None => name == def.title,
    };
    assert!(
        fits,
        "{id} is reported as {name:?}, but its title is {:?}",
        def.title
    );
}

/// The manifest warning every v1 manifest gets (no `api.version`).
pub fn v1_warning(addon: &Addon) -> Vec<(&'static str, &'static str, &'static str)> {
    match addon.version {
        Version::V1 => vec![("manifest", "api.version is 3", "legacy v1")],
        Version::V3 => vec![],
    }
}
