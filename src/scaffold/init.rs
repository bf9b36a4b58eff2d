//! `kensa init`: a new manifest (and with `--foreman` a `.env`) with fresh secrets.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;

use super::config::UserConfig;
use super::inputs::{self, AddonOptions, Defaults};
use super::wizard::Wizard;
use super::{ScaffoldError, DEFAULT_PORT};
use crate::error::UsageError;
use crate::fsutil::{create_dirs, parent_of, remove_created, write_all_atomic};
use crate::manifest::{dotenv, validate, Manifest, FILE_MODE};
use crate::output::{BOLD, DIM};
use crate::{interrupt, prompt, slug};

/// What `kensa init` was asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub addon: AddonOptions,
    /// Also write the `.env` foreman and `heroku local` read, beside the manifest.
    pub foreman: bool,
}

pub fn run(manifest_path: &Path, args: Options) -> Result<ExitCode> {
    interrupt::install();
    let flags = inputs::check_flags(&args.addon)?;
    if manifest_path.is_dir() {
        return Err(UsageError(format!(
            "{} is a directory; -f names the manifest file (e.g. -f {}/{})",
            manifest_path.display(),
            manifest_path.display(),
            crate::manifest::DEFAULT_FILE
        ))
        .into());
    }
    let wizard = prompt::interactive(args.addon.no_input).then(Wizard::default);
    let dir = parent_of(manifest_path);
    let env_path = dotenv::beside(manifest_path);

    // Decide about existing files before asking anything else, and before writing anything.
    let mut paths = vec![manifest_path];
    if args.foreman {
        paths.push(&env_path);
    }
    let replace = may_replace(&paths, args.addon.force, wizard.is_some())?;
    let default_id = std::fs::canonicalize(&dir)
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .and_then(|n| slug::from_text(&n))
        .or_else(|| Some("myaddon".to_owned()));
    let spec = inputs::addon_spec(
        flags,
        Defaults {
            id: default_id,
            port: DEFAULT_PORT,
            regions: UserConfig::load()?.regions,
        },
        wizard.as_ref(),
    )?;
    let manifest = Manifest::new_addon(&spec);
    ensure_valid(&manifest)?;

    // `-f config/addon-manifest.json` in a fresh project: make `config/`, and take it away
    // again if the manifest cannot be written after all.
    let created = create_dirs(&dir).map_err(|source| ScaffoldError::Write {
        path: dir.clone(),
        source,
    })?;
    // The manifest and its .env are written both or neither: a rerun must never find one
    // without the other (and refuse to replace it).
    let manifest_json = manifest.to_json();
    let env_text = dotenv::contents(&manifest);
    let mut files: Vec<(&Path, &[u8], u32)> =
        vec![(manifest_path, manifest_json.as_bytes(), FILE_MODE)];
    if args.foreman {
        files.push((&env_path, env_text.as_bytes(), dotenv::MODE));
    }
    if let Err((path, source)) = write_all_atomic(&files, replace) {
        remove_created(&created);
        return Err(ScaffoldError::Write { path, source }.into());
    }
    let mut out = anstream::stdout().lock();
    writeln!(
        out,
        "Wrote {BOLD}{}{BOLD:#} for {} (regions: {}; test URLs on http://localhost:{})",
        manifest_path.display(),
        spec.id,
        spec.regions.join(","),
        spec.port
    )?;
    if args.foreman {
        writeln!(
            out,
            "Wrote {BOLD}{}{BOLD:#} (mode 0600)",
            env_path.display()
        )?;
    }
    writeln!(
        out,
        "{DIM}Next: start your service on port {}, then run `{} test all`.{DIM:#}",
        spec.port,
        crate::output::kensa_command()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// Whether the files may replace what is at `paths`: nothing there needs no permission,
/// anything (a dangling link too: renaming over it replaces it) needs `--force` or a yes
/// from the person at the terminal, asked once for the first path in the way.
fn may_replace(paths: &[&Path], force: bool, ask: bool) -> Result<bool> {
    if force {
        return Ok(true);
    }
    for path in paths {
        if std::fs::symlink_metadata(path).is_ok() {
            if ask && prompt::confirm_replace(path, "already exists")? {
                return Ok(true);
            }
            return Err(ScaffoldError::Exists {
                path: path.to_path_buf(),
                what: "",
            }
            .into());
        }
    }
    Ok(false)
}

/// kensa never writes a manifest its own validation would reject.
pub fn ensure_valid(manifest: &Manifest) -> Result<()> {
    let failures = validate::failures(manifest);
    anyhow::ensure!(
        failures.is_empty(),
        "refusing to write an invalid manifest:\n  {}",
        failures.join("\n  ")
    );
    Ok(())
}
