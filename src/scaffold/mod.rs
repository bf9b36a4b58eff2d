//! Scaffolding: `kensa init`, `kensa create` and `kensa templates`.

pub mod answers;
pub mod config;
pub mod create;
pub mod git;
pub mod init;
pub mod inputs;
pub mod list;
pub mod merge;
pub mod render;
pub mod source;
pub mod spec;
pub mod update;
pub mod values;
pub mod wizard;
pub mod writer;

use std::io;
use std::path::PathBuf;

use render::FileFailure;

/// The local port a new manifest's test URLs point at (`--port` changes it), for `init` and
/// `create` alike; templates render it as `{{ port }}`. 5001 is the port `heroku local`
/// gives the web process by default, and it is free on macOS, where the AirPlay receiver
/// holds 5000 (foreman's default, and Sinatra's 4567 is foreign to every other stack).
pub const DEFAULT_PORT: u16 = 5001;

#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    #[error("unknown template {name:?}; available: {available} (or a directory path such as ./my-template)")]
    UnknownTemplate { name: String, available: String },
    #[error("{} is not a template directory: {why}", path.display())]
    NotATemplate { path: PathBuf, why: String },
    #[error("cannot read template file {}: {source}", path.display())]
    TemplateRead { path: PathBuf, source: io::Error },
    #[error("refusing template file {}: {why}", path.display())]
    TemplateFile { path: PathBuf, why: String },
    #[error("template {template}: bad template.toml: {message}")]
    Spec { template: String, message: String },
    #[error("{}", describe_failures(.0))]
    Render(Vec<FileFailure>),
    #[error("{} already exists{what}; pass --force to replace it", path.display())]
    Exists { path: PathBuf, what: &'static str },
    #[error("{} is a symbolic link; kensa does not write through links", path.display())]
    Symlink { path: PathBuf },
    #[error("{}", describe_missing(.0))]
    Missing(Vec<Missing>),
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error("{}", describe_dirty(path, files))]
    Dirty { path: PathBuf, files: Vec<String> },
    #[error("{what}: {message}")]
    Git { what: String, message: String },
    #[error("{}", describe_conflicts(.0))]
    InTheWay(Vec<String>),
    #[error("{0}")]
    Interrupted(#[source] crate::interrupt::Interrupted),
    #[error("{0}")]
    Usage(#[source] crate::error::UsageError),
    #[error("{}: {why}", path.display())]
    Answers { path: PathBuf, why: String },
    #[error("your kensa config {}: {why}", path.display())]
    UserConfig { path: PathBuf, why: String },
}

impl ScaffoldError {
    /// Input problems exit 2 (a template that does not render is input too, however it
    /// fails); a disk failure exits 1. A write refused because of where the user pointed
    /// kensa (a read-only or missing directory, a file in the way) is an input problem too.
    pub fn is_usage(&self) -> bool {
        match self {
            ScaffoldError::Interrupted(_) => false,
            ScaffoldError::Write { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::PermissionDenied
                    | io::ErrorKind::NotFound
                    | io::ErrorKind::NotADirectory
                    | io::ErrorKind::IsADirectory
                    | io::ErrorKind::AlreadyExists
                    | io::ErrorKind::ReadOnlyFilesystem
            ),
            _ => true,
        }
    }
}

/// A required value that neither a flag nor a default supplied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    pub what: String,
    pub how: String,
}

/// The longest line of a template file an error message quotes.
const QUOTE_LIMIT: usize = 160;

/// `text` with control characters escaped (a template must not drive the terminal) and
/// each line cut at [`QUOTE_LIMIT`] characters (one line can be megabytes).
pub fn quote_line(text: &str) -> String {
    text.lines()
        .map(|line| {
            let mut out = String::new();
            for (n, c) in line.chars().enumerate() {
                if n == QUOTE_LIMIT {
                    out.push('…');
                    break;
                }
                if c.is_control() && c != '\t' {
                    out.extend(c.escape_default());
                } else {
                    out.push(c);
                }
            }
            out
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn describe_failures(failures: &[FileFailure]) -> String {
    let mut text = format!(
        "rendering failed for {} file{}; nothing was written:",
        failures.len(),
        if failures.len() == 1 { "" } else { "s" }
    );
    for f in failures {
        text.push_str(&format!("\n  {}: {}", f.path, f.cause));
    }
    text
}

fn describe_dirty(path: &std::path::Path, files: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut text = format!(
        "{} is in a git work tree with uncommitted changes; commit or stash them first, so \
         what kensa changes is one reviewable diff (or pass --allow-dirty):",
        path.display()
    );
    for f in files.iter().take(SHOWN) {
        text.push_str(&format!("\n  {}", quote_line(f)));
    }
    if files.len() > SHOWN {
        text.push_str(&format!("\n  … and {} more", files.len() - SHOWN));
    }
    text
}

fn describe_conflicts(problems: &[String]) -> String {
    let mut text = String::from("nothing was written; in the way of the template's files:");
    for p in problems {
        text.push_str(&format!("\n  {p}"));
    }
    text
}

fn describe_missing(missing: &[Missing]) -> String {
    let mut text =
        String::from("missing required values (not prompting: --no-input or no terminal):");
    for m in missing {
        text.push_str(&format!("\n  {}: {}", m.what, m.how));
    }
    text
}
