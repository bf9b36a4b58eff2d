//! `kensa update`: brings a generated project to the current version of its template.
//!
//! The base is what the template rendered last (`.kensa/pristine.json.gz`, written by
//! `create` and by every update; no network needed), the other side is the template
//! rendered now with the recorded answers, and the user's files are merged with the
//! difference, three ways, file by file (see [`decide`]). Only the template's paths (old
//! and new) are looked at; the manifest and `.env` are never regenerated, only completed
//! with what is missing. Everything is written at once, or nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use serde_json::{Map, Value};

use super::answers::{self, Answers};
use super::config::UserConfig;
use super::create::{self, render_template};
use super::merge::{self, Labels};
use super::render::OutputFile;
use super::source::{self, Origin, Template};
use super::values::{self, Sources, Values};
use super::wizard::Wizard;
use super::{git, writer, ScaffoldError};
use crate::manifest::{dotenv, Manifest, DEFAULT_FILE};
use crate::output::{BOLD, DIM, GOOD, WARN};
use crate::{fsutil, interrupt, prompt};

/// What `kensa update` was asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub dir: PathBuf,
    /// Another source of the template (recorded from now on).
    pub template: Option<String>,
    pub git_ref: Option<String>,
    pub set: Vec<String>,
    pub values_file: Option<PathBuf>,
    pub dry_run: bool,
    pub allow_dirty: bool,
    pub no_input: bool,
}

/// What happens to one template path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The template changed it and you did not: replaced.
    Updated,
    /// Both changed it, in different places: merged.
    Merged,
    /// Both changed the same lines: written with conflict markers (text) or left as yours
    /// (binary).
    Conflict { markers: bool },
    /// New in the template.
    Added,
    /// The template dropped it and you had not changed it: removed.
    Removed,
    /// You deleted it: it stays deleted.
    KeptDeleted,
    /// The template dropped it, but you changed it: kept.
    KeptChanged,
}

/// One path's outcome: the change and, when something is written, what.
#[derive(Debug, Clone)]
struct Decision {
    path: String,
    change: Change,
    write: Option<OutputFile>,
}

pub fn run(args: Options) -> Result<ExitCode> {
    interrupt::install();
    let dir = args.dir.clone();
    let (recorded, _) = Answers::load(&dir)?;
    if !args.dry_run {
        git::ensure_clean(&dir, args.allow_dirty)?;
    }
    let template = load_template(&args, &recorded)?;
    let base = base_render(&dir, &recorded)?;
    let env_now = read_env(&dir.join(dotenv::FILE))?;
    let values = answers_now(&args, &recorded, &template, env_now.as_deref())?;
    let addon = recorded
        .addon
        .spec()
        .expect("checked when the answers were read");
    let project_name = recorded.project.name.clone();
    let new = render_template(&template, &project_name, &addon, &values.plain)?;

    let labels = Labels {
        ours: "yours",
        theirs: &format!("template {}", short_version(&template.version)),
    };
    let decisions = decide(&dir, &base, &new, &labels)?;
    let completions = complete_secrets_files(&dir, &env_now, &values, &addon)?;

    // Written before it is reported: a write that fails (all or nothing) is reported as
    // the error alone, never after an "Updated" that did not happen.
    if !args.dry_run {
        let answers = create::answers_for(&template, &project_name, &addon, &values.plain);
        write(&dir, &decisions, &completions, &answers, &new)?;
    }
    let mut out = anstream::stdout().lock();
    report(
        &mut out,
        &dir,
        &template,
        &decisions,
        &completions,
        args.dry_run,
    )?;
    if args.dry_run {
        writeln!(out, "{DIM}Dry run: nothing was written.{DIM:#}")?;
    }
    let conflicts = decisions
        .iter()
        .filter(|d| matches!(d.change, Change::Conflict { .. }))
        .count();
    if conflicts > 0 {
        writeln!(
            out,
            "{WARN}{conflicts} file{} with conflicts:{WARN:#} resolve the <<<<<<< markers, then commit.",
            if conflicts == 1 { "" } else { "s" }
        )?;
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The variable values to render with: the recorded answers, the user's defaults for what
/// the template gained, then flags; the wizard (on a terminal) asks only what the project
/// never answered. A secret `.env` has already is kept there as it is.
fn answers_now(
    args: &Options,
    recorded: &Answers,
    template: &Template,
    env_now: Option<&[(String, String)]>,
) -> Result<Values> {
    let defaults = UserConfig::load()?.values_for(&recorded.template.source);
    let recorded_values: Map<String, Value> = recorded
        .values
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut slots = values::given(
        &template.spec,
        &Sources {
            user_config: Some(&defaults),
            recorded: Some(&recorded_values),
            values_file: args.values_file.as_deref(),
            sets: &args.set,
        },
    )?;
    let in_env: Vec<String> = template
        .spec
        .secrets()
        .filter(|(name, var)| {
            env_now.is_some_and(|env| env.iter().any(|(k, _)| *k == var.env_key(name)))
        })
        .map(|(name, _)| name.clone())
        .collect();
    for name in &in_env {
        slots.shift_remove(name);
    }
    values::generate_secrets(&template.spec, &mut slots);
    if prompt::interactive(args.no_input) {
        let wizard = Wizard::default();
        for (name, slot) in slots.iter_mut() {
            let new = !recorded.values.contains_key(name);
            if (new && slot.ask) || slot.value.is_none() {
                let var = &template.spec.variables[name];
                slot.value = Some(wizard.variable(name, var, slot.value.as_ref())?);
            }
        }
    }
    let missing = values::missing(&slots);
    if !missing.is_empty() {
        return Err(ScaffoldError::Missing(missing).into());
    }
    Ok(Values::from_slots(&template.spec, slots))
}

/// Writes everything the update decided, at once: merged and updated files, the completed
/// manifest and `.env`, the new answers and pristine copy; removes what the template
/// dropped. Only what differs from the project as it is gets written: an up-to-date
/// project is not touched.
fn write(
    dir: &Path,
    decisions: &[Decision],
    completions: &[Completion],
    answers: &Answers,
    new: &[OutputFile],
) -> Result<(), ScaffoldError> {
    let mut files: Vec<OutputFile> = decisions.iter().filter_map(|d| d.write.clone()).collect();
    files.extend(completions.iter().map(|c| c.file.clone()));
    files.extend(
        create::record_files(answers, new)
            .into_iter()
            .filter(|f| !f.path.ends_with(".gitignore") || !dir.join(&f.path).exists()),
    );
    files.retain(|f| {
        current(dir, &f.path)
            .ok()
            .flatten()
            .is_none_or(|c| c.bytes != f.bytes || c.mode != f.mode)
    });
    let removed: Vec<String> = decisions
        .iter()
        .filter(|d| d.change == Change::Removed)
        .map(|d| d.path.clone())
        .collect();
    writer::apply(dir, &files, &removed)
}

/// The template to update to: `--template` (and `--ref`), else the recorded source — for
/// git, the recorded ref's newest commit (a project made at a bare commit stays on it).
fn load_template(args: &Options, recorded: &Answers) -> Result<Template, ScaffoldError> {
    match &args.template {
        Some(arg) => source::resolve(arg, args.git_ref.as_deref()),
        None => {
            let rec = &recorded.template;
            let is_git = git::parse_source(&rec.source).is_some();
            let git_ref = match (&args.git_ref, is_git) {
                (Some(r), _) => Some(r.clone()),
                (None, true) => rec.git_ref.clone().or_else(|| rec.commit.clone()),
                (None, false) => None,
            };
            source::resolve(&rec.source, git_ref.as_deref()).map_err(|e| match e {
                ScaffoldError::NotATemplate { path, why } => ScaffoldError::NotATemplate {
                    path,
                    why: format!(
                        "{why} (the template .kensa/answers.toml records; if it moved, \
                         `kensa update --template NEW-PLACE` updates from there and records it)"
                    ),
                },
                other => other,
            })
        }
    }
}

/// What the template rendered last: the pristine copy; without one, for a git template,
/// the recorded commit rendered again with the recorded answers.
fn base_render(dir: &Path, recorded: &Answers) -> Result<Vec<OutputFile>, ScaffoldError> {
    let path = answers::pristine_path(dir);
    match fsutil::read_input(&path) {
        Ok(bytes) => return answers::unpack(&bytes, &path),
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(ScaffoldError::Answers {
                path,
                why: e.to_string(),
            })
        }
        Err(_) => {}
    }
    let rec = &recorded.template;
    match (&rec.commit, git::parse_source(&rec.source)) {
        (Some(commit), Some(_)) => {
            let old = source::resolve(&rec.source, Some(commit))?;
            let addon = recorded.addon.spec().expect("checked when read");
            render_template(&old, &recorded.project.name, &addon, &recorded.values)
        }
        _ => Err(ScaffoldError::Answers {
            path,
            why: "it is missing, so kensa cannot tell your changes from the template's; \
                  restore it from git (`git checkout -- .kensa`)"
                .into(),
        }),
    }
}

/// The first characters of a template version, for conflict markers and messages.
fn short_version(version: &str) -> String {
    version
        .trim_start_matches("sha256:")
        .chars()
        .take(12)
        .collect()
}

/// A file as it is in the project now.
struct Current {
    bytes: Vec<u8>,
    mode: u32,
}

fn current(dir: &Path, rel: &str) -> Result<Option<Current>, ScaffoldError> {
    let path = dir.join(rel);
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(ScaffoldError::Write { path, source }),
    };
    if !meta.is_file() {
        return Err(ScaffoldError::InTheWay(vec![format!(
            "{} is not a regular file; the template has a file there",
            path.display()
        )]));
    }
    let bytes = fsutil::read_input(&path).map_err(|source| ScaffoldError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(Some(Current {
        bytes,
        mode: meta.permissions().mode() & 0o777,
    }))
}

/// The three-way decision for every path of the old or the new render.
fn decide(
    dir: &Path,
    base: &[OutputFile],
    new: &[OutputFile],
    labels: &Labels,
) -> Result<Vec<Decision>, ScaffoldError> {
    let base: BTreeMap<&str, &OutputFile> = base.iter().map(|f| (f.path.as_str(), f)).collect();
    let new: BTreeMap<&str, &OutputFile> = new.iter().map(|f| (f.path.as_str(), f)).collect();
    let paths: BTreeSet<&str> = base.keys().chain(new.keys()).copied().collect();
    let mut decisions = Vec::new();
    for path in paths {
        let yours = current(dir, path)?;
        let decision = |change: Change, write: Option<OutputFile>| Decision {
            path: path.to_owned(),
            change,
            write,
        };
        let same = |a: &Current, f: &OutputFile| a.bytes == f.bytes && a.mode == f.mode;
        let d = match (base.get(path), new.get(path), yours) {
            // You deleted it: it stays deleted. Said only when the template changed it
            // since (you miss that change); else there is nothing to say, and an update
            // run again finds the project up to date.
            (Some(b), Some(n), None) if b.bytes != n.bytes || b.mode != n.mode => {
                Some(decision(Change::KeptDeleted, None))
            }
            (Some(_), _, None) => None,
            (None, Some(n), None) => Some(decision(Change::Added, Some((*n).clone()))),
            (_, _, None) => None,
            (Some(b), None, Some(y)) => {
                if y.bytes == b.bytes {
                    Some(decision(Change::Removed, None))
                } else {
                    Some(decision(Change::KeptChanged, None))
                }
            }
            (b, Some(n), Some(y)) => {
                if same(&y, n) || b.is_some_and(|b| b.bytes == n.bytes && b.mode == n.mode) {
                    None
                } else if b.is_some_and(|b| y.bytes == b.bytes) {
                    // Your mode wins when you changed it.
                    let mode = match b {
                        Some(b) if y.mode != b.mode => y.mode,
                        _ => n.mode,
                    };
                    Some(decision(
                        Change::Updated,
                        Some(OutputFile {
                            mode,
                            ..(*n).clone()
                        }),
                    ))
                } else {
                    let base_bytes: &[u8] = b.map_or(&[], |b| b.bytes.as_slice());
                    let mut merged = three_way(path, base_bytes, &y, n, labels);
                    // The mode merges too: the template's change (a script made
                    // executable) when you left yours as it was.
                    if let (Some(b), Some(file)) = (b, merged.write.as_mut()) {
                        if y.mode == b.mode {
                            file.mode = n.mode;
                        }
                    }
                    Some(merged)
                }
            }
            (None, None, _) => None,
        };
        decisions.extend(d);
    }
    Ok(decisions)
}

/// Merges your file and the template's new one against the base, line by line.
fn three_way(
    path: &str,
    base: &[u8],
    yours: &Current,
    new: &OutputFile,
    labels: &Labels,
) -> Decision {
    let texts = (
        std::str::from_utf8(base),
        std::str::from_utf8(&yours.bytes),
        std::str::from_utf8(&new.bytes),
    );
    let (Ok(base), Ok(ours), Ok(theirs)) = texts else {
        // Binary on some side: nothing to merge line by line; yours stays.
        return Decision {
            path: path.to_owned(),
            change: Change::Conflict { markers: false },
            write: None,
        };
    };
    let merged = merge::merge(base, ours, theirs, labels);
    let change = if merged.conflicts > 0 {
        Change::Conflict { markers: true }
    } else {
        Change::Merged
    };
    Decision {
        path: path.to_owned(),
        change,
        write: Some(OutputFile {
            path: path.to_owned(),
            bytes: merged.text.into_bytes(),
            mode: yours.mode,
        }),
    }
}

/// A line added to the manifest or `.env` because the template or kensa now needs it.
struct Completion {
    file: OutputFile,
    added: Vec<String>,
}

/// `KEY=value` pairs of a `.env`; `None` when there is none.
fn read_env(path: &Path) -> Result<Option<Vec<(String, String)>>, ScaffoldError> {
    // `read_all` takes the manifest's path and reads the `.env` beside it.
    let beside = path.with_file_name(DEFAULT_FILE);
    if !path.exists() {
        return Ok(None);
    }
    dotenv::read_all(&beside)
        .map(Some)
        .map_err(|source| ScaffoldError::Write {
            path: path.to_owned(),
            source,
        })
}

/// The manifest and `.env` keep every value they have; what is missing is added: manifest
/// keys a new manifest would have (never a new password or salt), `.env` keys kensa writes
/// (from the manifest, or fresh secrets) and the template's secrets.
fn complete_secrets_files(
    dir: &Path,
    env_now: &Option<Vec<(String, String)>>,
    values: &Values,
    addon: &crate::manifest::AddonSpec,
) -> Result<Vec<Completion>, ScaffoldError> {
    let mut completions = Vec::new();
    let manifest_path = dir.join(DEFAULT_FILE);
    let manifest = if manifest_path.exists() {
        let mut manifest = Manifest::load(&manifest_path).map_err(|e| ScaffoldError::Answers {
            path: manifest_path.clone(),
            why: e.to_string(),
        })?;
        let fresh = Manifest::new_addon(addon);
        let mut added = Vec::new();
        add_missing(manifest.doc_mut(), fresh.doc(), "", &mut added);
        if !added.is_empty() {
            completions.push(Completion {
                file: OutputFile {
                    path: DEFAULT_FILE.into(),
                    bytes: manifest.to_json().into_bytes(),
                    mode: crate::manifest::FILE_MODE,
                },
                added,
            });
        }
        Some(manifest)
    } else {
        None
    };
    if let (Some(env), Some(manifest)) = (env_now, &manifest) {
        let mut wanted: Vec<(String, String)> = dotenv::contents(manifest)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        wanted.extend(values.secrets.iter().cloned());
        let missing: Vec<(String, String)> = wanted
            .into_iter()
            .filter(|(k, _)| !env.iter().any(|(have, _)| have == k))
            .collect();
        if !missing.is_empty() {
            let path = dir.join(dotenv::FILE);
            let mut text =
                fsutil::read_input_text(&path).map_err(|source| ScaffoldError::Write {
                    path: path.clone(),
                    source,
                })?;
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            for (k, v) in &missing {
                text.push_str(&format!("{k}={v}\n"));
            }
            completions.push(Completion {
                file: OutputFile {
                    path: dotenv::FILE.into(),
                    bytes: text.into_bytes(),
                    mode: dotenv::MODE,
                },
                added: missing.into_iter().map(|(k, _)| k).collect(),
            });
        }
    }
    Ok(completions)
}

/// Adds to `doc` every key of `fresh` it lacks (recursively in objects), except secrets.
fn add_missing(
    doc: &mut Map<String, Value>,
    fresh: &Map<String, Value>,
    at: &str,
    added: &mut Vec<String>,
) {
    for (key, value) in fresh {
        if ["password", "sso_salt"].contains(&key.as_str()) {
            continue;
        }
        let path = if at.is_empty() {
            key.clone()
        } else {
            format!("{at}.{key}")
        };
        match (doc.get_mut(key), value) {
            (None, _) => {
                doc.insert(key.clone(), value.clone());
                added.push(path);
            }
            (Some(Value::Object(have)), Value::Object(want)) => {
                add_missing(have, want, &path, added);
            }
            _ => {}
        }
    }
}

fn report(
    out: &mut impl Write,
    dir: &Path,
    template: &Template,
    decisions: &[Decision],
    completions: &[Completion],
    dry_run: bool,
) -> Result<()> {
    let verb = if dry_run { "Would update" } else { "Updated" };
    let origin = match &template.origin {
        Origin::Git { commit, .. } => format!(" at {}", &commit[..commit.len().min(12)]),
        _ => String::new(),
    };
    if decisions.is_empty() && completions.is_empty() {
        writeln!(
            out,
            "{GOOD}Up to date:{GOOD:#} {} already matches the {} template{origin}.",
            dir.display(),
            template.name
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "{BOLD}{verb}{BOLD:#} {} to the {} template{origin} ({}):",
        dir.display(),
        template.name,
        short_version(&template.version)
    )?;
    for d in decisions {
        let (word, note) = match d.change {
            Change::Updated => ("update", ""),
            Change::Merged => ("merge", "  (your changes and the template's)"),
            Change::Conflict { markers: true } => ("CONFLICT", "  (conflict markers)"),
            Change::Conflict { markers: false } => (
                "CONFLICT",
                "  (binary: yours is kept; the template changed it too)",
            ),
            Change::Added => ("add", ""),
            Change::Removed => ("remove", "  (the template no longer has it)"),
            Change::KeptDeleted => ("skip", "  (you deleted it: it stays deleted)"),
            Change::KeptChanged => ("keep", "  (the template dropped it; you changed it)"),
        };
        writeln!(out, "  {word:<9}{}{DIM}{note}{DIM:#}", d.path)?;
    }
    for c in completions {
        writeln!(
            out,
            "  {:<9}{}{DIM}  (added {}; nothing else changed){DIM:#}",
            "complete",
            c.file.path,
            c.added.join(", ")
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn file(path: &str, text: &str) -> OutputFile {
        OutputFile {
            path: path.into(),
            bytes: text.as_bytes().to_vec(),
            mode: 0o644,
        }
    }

    const LABELS: Labels = Labels {
        ours: "yours",
        theirs: "template",
    };

    #[test]
    fn every_case_of_the_three_way_decision() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let w = |p: &str, t: &str| std::fs::write(d.join(p), t).unwrap();
        w("untouched", "a\n");
        w("edited", "a\nmine\nc\n");
        w("both", "1\nmine\n3\n");
        w("removed-clean", "old\n");
        w("removed-edited", "old but mine\n");
        w("same", "x\n");
        let base = vec![
            file("untouched", "a\n"),
            file("edited", "a\nb\nc\n"),
            file("both", "1\n2\n3\n"),
            file("deleted", "d\n"),
            file("deleted-unchanged", "u\n"),
            file("removed-clean", "old\n"),
            file("removed-edited", "old\n"),
            file("same", "x\n"),
        ];
        let new = vec![
            file("untouched", "A\n"),
            file("edited", "a\nb\nc\nd\n"),
            file("both", "1\ntheirs\n3\n"),
            file("deleted", "D\n"),
            file("deleted-unchanged", "u\n"),
            file("added", "new\n"),
            file("same", "x\n"),
        ];
        let decisions = decide(d, &base, &new, &LABELS).unwrap();
        let got: BTreeMap<&str, &Change> = decisions
            .iter()
            .map(|d| (d.path.as_str(), &d.change))
            .collect();
        assert_eq!(got["untouched"], &Change::Updated);
        assert_eq!(got["edited"], &Change::Merged);
        assert_eq!(got["both"], &Change::Conflict { markers: true });
        assert_eq!(got["deleted"], &Change::KeptDeleted);
        assert!(
            !got.contains_key("deleted-unchanged"),
            "deleted by you, unchanged by the template: nothing to say"
        );
        assert_eq!(got["added"], &Change::Added);
        assert_eq!(got["removed-clean"], &Change::Removed);
        assert_eq!(got["removed-edited"], &Change::KeptChanged);
        assert!(!got.contains_key("same"));
        let merged = decisions.iter().find(|d| d.path == "edited").unwrap();
        assert_eq!(merged.write.as_ref().unwrap().bytes, b"a\nmine\nc\nd\n");
    }

    #[test]
    fn missing_manifest_keys_are_added_but_never_secrets() {
        let mut doc = json!({"id": "x", "api": {"password": "keep", "regions": ["us"]}});
        let fresh = json!({"id": "y", "api": {"password": "new", "sso_salt": "new", "regions": ["eu"], "requires": []}, "name": "X"});
        let mut added = Vec::new();
        add_missing(
            doc.as_object_mut().unwrap(),
            fresh.as_object().unwrap(),
            "",
            &mut added,
        );
        assert_eq!(added, ["api.requires", "name"]);
        assert_eq!(doc["api"]["password"], "keep");
        assert!(doc["api"].get("sso_salt").is_none());
        assert_eq!(doc["id"], "x");
    }
}
