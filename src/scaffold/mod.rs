//! Scaffolding: `kensa init`, `kensa create` and `kensa templates`.

pub mod create;
pub mod init;
pub mod inputs;
pub mod list;
pub mod render;
pub mod source;
pub mod spec;
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
}

impl ScaffoldError {
    /// Input problems exit 2; a render or disk failure exits 1. A write refused because of
    /// where the user pointed kensa (a read-only or missing directory, a file in the way)
    /// is an input problem too.
    pub fn is_usage(&self) -> bool {
        match self {
            ScaffoldError::Render(_) => false,
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

fn describe_missing(missing: &[Missing]) -> String {
    let mut text =
        String::from("missing required values (not prompting: --no-input or no terminal):");
    for m in missing {
        text.push_str(&format!("\n  {}: {}", m.what, m.how));
    }
    text
}
