//! Manifest sync with the add-ons service: `kensa push`, `kensa pull <slug>`, `kensa diff`
//! (docs/protocol.md#manifest-sync). Nothing local changes unless the service answered well, and then only
//! through one atomic write.

pub mod api;
pub mod credentials;

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use anstyle::{AnsiColor, Style};
use anyhow::{Context, Result};
use serde_json::{Map, Value};
use similar::{ChangeTag, TextDiff};

use crate::error::UsageError;
use crate::fsutil::write_atomic;
use crate::manifest::{validate, Manifest, FILE_MODE};
use crate::output::{self, BOLD, DIM};
use crate::{prompt, slug};
use api::{Connection, Service};

/// What `kensa pull` was asked for.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// The add-on whose current manifest to fetch.
    pub slug: String,
    /// Replace an existing local manifest.
    pub force: bool,
    /// Never prompt.
    pub no_input: bool,
}

const REMOVED: Style = AnsiColor::Red.on_default();
const ADDED: Style = AnsiColor::Green.on_default();
const HUNK: Style = AnsiColor::Cyan.on_default();

pub fn push(manifest_path: &Path, connection: &Connection) -> Result<ExitCode> {
    let shown = manifest_path.display();
    let (before, manifest) = load(manifest_path)?;
    let failures = validate::failures(&manifest);
    anyhow::ensure!(
        failures.is_empty(),
        "refusing to push {shown}: it breaks {} manifest rule{} (`kensa test manifest` shows them all):\n  {}",
        failures.len(),
        if failures.len() == 1 { "" } else { "s" },
        failures.join("\n  ")
    );
    let id = manifest.id().unwrap_or_default().to_owned();
    let service = connect(connection, &manifest)?;

    let returned = Manifest {
        doc: service.push_manifest(&id, &manifest.doc)?,
    };
    let mut out = anstream::stdout().lock();
    writeln!(
        out,
        "Pushed {BOLD}{shown}{BOLD:#} to {} as add-on {BOLD}{id}{BOLD:#}",
        service.base()
    )?;
    let after = returned.to_json();
    if after.as_bytes() == before.as_slice() {
        writeln!(
            out,
            "{DIM}{shown} already matches the stored manifest{DIM:#}"
        )?;
    } else {
        write_atomic(manifest_path, after.as_bytes(), FILE_MODE, true)
            .with_context(|| format!("cannot write the returned manifest to {shown}"))?;
        writeln!(out, "Wrote the manifest the service stored back to {shown}")?;
    }
    Ok(ExitCode::SUCCESS)
}

pub fn pull(manifest_path: &Path, args: PullOptions, connection: &Connection) -> Result<ExitCode> {
    let shown = manifest_path.display();
    if let Some(problem) = slug::problem(&args.slug) {
        return Err(
            UsageError::new(format!("{:?} is not an add-on slug: {problem}", args.slug)).into(),
        );
    }
    // Decide about an existing file before any network call.
    let mut replace = args.force;
    if fs::symlink_metadata(manifest_path).is_ok() && !replace {
        let confirmed = prompt::interactive(args.no_input)
            && prompt::confirm_replace(manifest_path, "already exists")?;
        if !confirmed {
            return Err(UsageError::new(format!(
                "{shown} already exists; pass --force to replace it (or -f to pull into another file)"
            ))
            .into());
        }
        replace = true;
    }
    let service = connect(connection, &Manifest { doc: Map::new() })?;
    let pulled = Manifest {
        doc: service.current_manifest(&args.slug)?,
    };
    write_atomic(
        manifest_path,
        pulled.to_json().as_bytes(),
        FILE_MODE,
        replace,
    )
    .map_err(|e| match e.kind() {
        io::ErrorKind::AlreadyExists => UsageError::new(format!(
            "{shown} appeared meanwhile; pass --force to replace it"
        ))
        .into(),
        _ => anyhow::Error::new(e).context(format!("cannot write {shown}")),
    })?;
    writeln!(
        anstream::stdout(),
        "Pulled the current manifest of {BOLD}{}{BOLD:#} from {} into {BOLD}{shown}{BOLD:#}",
        args.slug,
        service.base()
    )?;
    if let Some(id) = pulled.id().filter(|id| *id != args.slug) {
        output::warn(&format!(
            "the pulled manifest's id is {id:?}, not {:?}",
            args.slug
        ));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn diff(manifest_path: &Path, connection: &Connection) -> Result<ExitCode> {
    let shown = manifest_path.display();
    let (_, manifest) = load(manifest_path)?;
    let id = manifest.id().unwrap_or_default().to_owned();
    if let Some(problem) = slug::problem(&id) {
        return Err(UsageError::new(format!(
            "{shown}: the manifest's id {id:?} is not an add-on slug ({problem}), so there is nothing to compare it with"
        ))
        .into());
    }
    let service = connect(connection, &manifest)?;
    let remote = service.current_manifest(&id)?;
    // The stored manifest's secrets are as secret as the local ones: the diff masks both.
    crate::redact::register(
        Manifest {
            doc: remote.clone(),
        }
        .secrets(),
    );

    let remote_text = canonical(&Value::Object(remote));
    let local_text = canonical(&Value::Object(manifest.doc));
    if remote_text == local_text {
        let _ = writeln!(
            anstream::stderr(),
            "No differences: {shown} matches the current manifest of {id} at {}",
            service.base()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = anstream::stdout().lock();
    write_diff(
        &mut out,
        &remote_text,
        &local_text,
        &format!("remote {id} ({})", service.base()),
        &format!("local {shown}"),
    )?;
    Ok(ExitCode::from(1))
}

/// The file's bytes and the manifest in them.
fn load(path: &Path) -> Result<(Vec<u8>, Manifest)> {
    Ok(Manifest::read(path)?)
}

/// Credentials, then the service; the manifest's secrets are masked in `--verbose` too.
fn connect(connection: &Connection, manifest: &Manifest) -> Result<Service> {
    let (key, source) = credentials::find()?;
    Ok(Service::new(connection, key, source, manifest.secrets())?)
}

/// Pretty JSON with every object's keys sorted, and a final newline. The service stores
/// the manifest as a JSON document and need not keep its key order or layout, so the diff
/// compares content: a reordered key or a reindented file is not a difference.
pub fn canonical(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                Value::Object(
                    entries
                        .into_iter()
                        .map(|(k, v)| (k.clone(), sorted(v)))
                        .collect(),
                )
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let mut text = serde_json::to_string_pretty(&sorted(value)).expect("JSON serialises");
    text.push('\n');
    text
}

/// A unified diff (3 lines of context) from `old` to `new`, styled; anstream drops the
/// styles when the output is not a terminal (or `--color never`, `NO_COLOR`). Every line,
/// context lines too, is written through [`output::visible`]: the secrets are masked.
pub fn write_diff(
    out: &mut impl Write,
    old: &str,
    new: &str,
    old_name: &str,
    new_name: &str,
) -> io::Result<()> {
    let diff = TextDiff::from_lines(old, new);
    writeln!(out, "{BOLD}--- {}{BOLD:#}", output::visible(old_name))?;
    writeln!(out, "{BOLD}+++ {}{BOLD:#}", output::visible(new_name))?;
    for hunk in diff.unified_diff().context_radius(3).iter_hunks() {
        writeln!(out, "{HUNK}{}{HUNK:#}", hunk.header())?;
        for change in hunk.iter_changes() {
            let (sign, style) = match change.tag() {
                ChangeTag::Delete => ('-', REMOVED),
                ChangeTag::Insert => ('+', ADDED),
                ChangeTag::Equal => (' ', Style::new()),
            };
            let line = change.value().trim_end_matches(['\n', '\r']);
            writeln!(out, "{style}{sign}{}{style:#}", output::visible(line))?;
            if change.missing_newline() {
                writeln!(out, "\\ No newline at end of file")?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_sorts_keys_at_every_depth() {
        let a = canonical(&json!({"b": 1, "a": {"z": [{"y": 1, "x": 2}], "c": true}}));
        let b = canonical(&json!({"a": {"c": true, "z": [{"x": 2, "y": 1}]}, "b": 1}));
        assert_eq!(a, b);
        assert!(a.find("\"a\"").unwrap() < a.find("\"b\"").unwrap());
        assert!(a.ends_with("}\n"));
    }

    #[test]
    fn diff_is_unified_with_context() {
        let old = "a\nb\nc\nd\ne\nf\ng\nh\n";
        let new = "a\nb\nc\nd\nE\nf\ng\nh\n";
        let mut out = Vec::new();
        write_diff(&mut out, old, new, "remote", "local").unwrap();
        let text = String::from_utf8(out).unwrap();
        let plain = text.replace("\u{1b}[1m", "").replace("\u{1b}[0m", "");
        assert!(plain.contains("--- remote\n+++ local\n"), "{plain}");
        assert!(plain.contains("@@ -2,7 +2,7 @@"), "{plain}");
        assert!(plain.contains("\u{1b}[31m-e"), "{plain}");
        assert!(plain.contains("\u{1b}[32m+E"), "{plain}");
        assert!(plain.contains(" d\n"), "{plain}");
    }
}
