//! kensa's one way to ask git about a directory, through the system `git` (what the user's
//! own git sees is what counts): whether a directory is a work tree with uncommitted
//! changes. `create --force` and `update` refuse to run in one unless `--allow-dirty`, as
//! cargo does, so whatever kensa changes is one reviewable diff.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::ScaffoldError;

/// What git says about a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeState {
    /// Not inside a git work tree.
    NotARepo,
    Clean,
    /// Uncommitted changes under the directory, untracked files included (paths as git
    /// prints them, relative to the directory).
    Dirty(Vec<String>),
}

/// `git` with what it inherits from the user narrowed to what is safe for a tool: no
/// prompts (a hidden credential prompt would hang), no pager, messages in English (they
/// are matched), no optional writes (`status` must not refresh the user's index) and no
/// `GIT_DIR`-style variables from a hook that ran kensa.
pub fn command() -> Command {
    let mut cmd = Command::new("git");
    cmd.env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_PAGER", "cat")
        .env("LC_ALL", "C")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_OBJECT_DIRECTORY")
        .stdin(Stdio::null());
    cmd
}

/// Runs `git args…` in `dir` and collects its output; `None` when there is no git.
fn run_in(dir: &Path, args: &[&str]) -> Result<Option<Output>, ScaffoldError> {
    match command().arg("-C").arg(dir).args(args).output() {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ScaffoldError::Git {
            what: format!("running git in {}", dir.display()),
            message: source.to_string(),
        }),
    }
}

/// Whether `dir` (an existing directory) is inside a git work tree, and if so whether
/// anything under it is uncommitted.
pub fn tree_state(dir: &Path) -> Result<TreeState, ScaffoldError> {
    let Some(out) = run_in(dir, &["rev-parse", "--is-inside-work-tree"])? else {
        // No git to ask. A `.git` above says there is a repository whose state is unknown.
        return match repository_above(dir) {
            Some(found) => Err(ScaffoldError::Git {
                what: format!("checking {} for uncommitted changes", dir.display()),
                message: format!(
                    "{} is a git repository, but git is not installed",
                    found.display()
                ),
            }),
            None => Ok(TreeState::NotARepo),
        };
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        if stderr.contains("not a git repository") {
            return Ok(TreeState::NotARepo);
        }
        return Err(ScaffoldError::Git {
            what: format!("checking {} for uncommitted changes", dir.display()),
            message: stderr.trim().to_owned(),
        });
    }
    if String::from_utf8_lossy(&out.stdout).trim() != "true" {
        // Inside a `.git` directory, or a bare repository: no work tree to lose.
        return Ok(TreeState::NotARepo);
    }
    let out = run_in(
        dir,
        &[
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--ignore-submodules=none",
            "--",
            ".",
        ],
    )?
    .expect("git ran a moment ago");
    if !out.status.success() {
        return Err(ScaffoldError::Git {
            what: format!("checking {} for uncommitted changes", dir.display()),
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    let changed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter(|entry| entry.len() > 3)
        .map(|entry| entry[3..].to_owned())
        .collect();
    Ok(if changed.is_empty() {
        TreeState::Clean
    } else {
        TreeState::Dirty(changed)
    })
}

/// Refuses a work tree with uncommitted changes (exit 2) unless `allow_dirty`.
pub fn ensure_clean(dir: &Path, allow_dirty: bool) -> Result<(), ScaffoldError> {
    if allow_dirty {
        return Ok(());
    }
    match tree_state(dir)? {
        TreeState::NotARepo | TreeState::Clean => Ok(()),
        TreeState::Dirty(files) => Err(ScaffoldError::Dirty {
            path: dir.to_owned(),
            files,
        }),
    }
}

/// The nearest directory at or above `dir` holding a `.git`.
fn repository_above(dir: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(dir).ok()?;
    absolute
        .ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_owned)
}
