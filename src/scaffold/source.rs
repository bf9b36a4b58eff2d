//! Where templates come from: the tree embedded in the binary, a directory on disk, or a
//! git repository (cloned by [`super::git`]). Each is loaded whole into memory, with a
//! version: a hash of its files.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};
use sha2::{Digest, Sha256};
use walkdir::WalkDir;

use super::git::{self, GitSource};
use super::spec::{TemplateSpec, SPEC_FILE};
use super::ScaffoldError;
use crate::error::UsageError;
use crate::fsutil;

static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");

#[derive(Debug, Clone)]
pub struct Template {
    /// The embedded name, the directory's path as given, or the git source.
    pub name: String,
    pub spec: TemplateSpec,
    /// Every file but `template.toml`, sorted by path.
    pub files: Vec<SourceFile>,
    /// `sha256:<hex>` of `template.toml` and every file (path and bytes).
    pub version: String,
    pub origin: Origin,
}

/// Where a template was loaded from, as `.kensa/answers.toml` records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Embedded,
    /// The directory, absolute.
    Directory(PathBuf),
    Git {
        source: GitSource,
        commit: String,
    },
}

impl Origin {
    /// What `--template` takes to load the same template again.
    pub fn source(&self, name: &str) -> String {
        match self {
            Origin::Embedded => name.to_owned(),
            Origin::Directory(dir) => dir.display().to_string(),
            Origin::Git { source, .. } => source.display(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Relative, `/`-separated.
    pub path: String,
    pub bytes: Cow<'static, [u8]>,
}

/// Embedded template names, sorted.
pub fn embedded_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = EMBEDDED
        .dirs()
        .filter(|d| d.get_file(d.path().join(SPEC_FILE)).is_some())
        .filter_map(|d| d.path().to_str())
        .collect();
    names.sort_unstable();
    names
}

/// A template argument is a path when it looks like one; otherwise an embedded name.
pub fn is_path(arg: &str) -> bool {
    arg.contains(std::path::MAIN_SEPARATOR) || arg.contains('/') || arg.starts_with('.')
}

/// Loads `--template ARG` (`git_ref`: `--ref`): a git source, a directory path or an
/// embedded name.
pub fn resolve(arg: &str, git_ref: Option<&str>) -> Result<Template, ScaffoldError> {
    if let Some(parsed) = git::parse_source(arg) {
        let mut source = parsed.map_err(|why| ScaffoldError::NotATemplate {
            path: PathBuf::from(arg),
            why,
        })?;
        if let Some(r) = git_ref {
            if source.git_ref.is_some() {
                return Err(ScaffoldError::Usage(UsageError::new(format!(
                    "{arg} names a ref already; give it there or with --ref, not both"
                ))));
            }
            source.git_ref = Some(r.to_owned());
        }
        return load_git(source);
    }
    if git_ref.is_some() {
        return Err(ScaffoldError::Usage(UsageError::new(format!(
            "--ref is for git template sources (https://…, ssh://…, file://…, gh:owner/repo); \
             {arg} is not one"
        ))));
    }
    if is_path(arg) {
        load_dir(Path::new(arg))
    } else {
        load_embedded(arg)
    }
}

/// Clones a git source and loads the template in it (its subdirectory, if named).
pub fn load_git(source: GitSource) -> Result<Template, ScaffoldError> {
    let checkout = git::clone(&source)?;
    let root = checkout.root();
    let dir = match &source.subdir {
        Some(sub) => {
            let dir = root.join(sub);
            let inside = std::fs::canonicalize(&dir)
                .ok()
                .zip(std::fs::canonicalize(&root).ok())
                .is_some_and(|(d, r)| d.starts_with(r) && d.is_dir());
            if !inside {
                return Err(ScaffoldError::NotATemplate {
                    path: PathBuf::from(source.display()),
                    why: format!(
                        "the repository{} has no directory {sub}",
                        source
                            .git_ref
                            .as_deref()
                            .map(|r| format!(" at {r}"))
                            .unwrap_or_default()
                    ),
                });
            }
            dir
        }
        None => root,
    };
    let mut template = load_dir(&dir).map_err(|e| match e {
        ScaffoldError::NotATemplate { why, .. } => ScaffoldError::NotATemplate {
            path: PathBuf::from(source.display()),
            why,
        },
        other => other,
    })?;
    template.name = match &source.git_ref {
        Some(r) => format!("{}@{r}", source.display()),
        None => source.display(),
    };
    template.origin = Origin::Git {
        commit: checkout.commit.clone(),
        source,
    };
    Ok(template)
}

pub fn load_embedded(name: &str) -> Result<Template, ScaffoldError> {
    let unknown = || ScaffoldError::UnknownTemplate {
        name: name.to_owned(),
        available: embedded_names().join(", "),
    };
    let dir = EMBEDDED.get_dir(name).ok_or_else(unknown)?;
    let spec_file = dir
        .get_file(dir.path().join(SPEC_FILE))
        .ok_or_else(unknown)?;
    let spec = parse_spec(name, spec_file.contents())?;
    let mut files = Vec::new();
    collect_embedded(dir, dir.path(), &mut files);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Template {
        name: name.to_owned(),
        spec,
        version: version_of(spec_file.contents(), &files),
        files,
        origin: Origin::Embedded,
    })
}

fn collect_embedded(dir: &'static Dir<'static>, root: &Path, out: &mut Vec<SourceFile>) {
    for file in dir.files() {
        let rel = file.path().strip_prefix(root).expect("inside its template");
        if rel == Path::new(SPEC_FILE) {
            continue;
        }
        out.push(SourceFile {
            path: slash_path(rel),
            bytes: Cow::Borrowed(file.contents()),
        });
    }
    for sub in dir.dirs() {
        collect_embedded(sub, root, out);
    }
}

/// Together the files of one template may not exceed this (each is capped by
/// [`fsutil::INPUT_LIMIT`] too).
pub const TEMPLATE_LIMIT: u64 = 128 * 1024 * 1024;

/// Loads a template directory from disk under the same contract as the embedded ones.
///
/// The directory itself may be reached through a symbolic link, but nothing is read from
/// outside it: a link inside the template (`template.toml` included) must point at a regular
/// file inside the template, or the template is refused before that file is opened.
pub fn load_dir(root: &Path) -> Result<Template, ScaffoldError> {
    let name = root.display().to_string();
    let not_a_template = |why: String| ScaffoldError::NotATemplate {
        path: root.to_owned(),
        why,
    };
    let real_root = match std::fs::canonicalize(root) {
        Ok(real) if real.is_dir() => real,
        Ok(_) => return Err(not_a_template("it is not a directory".into())),
        Err(_) => return Err(not_a_template("no such directory".into())),
    };
    let spec_path = root.join(SPEC_FILE);
    if std::fs::symlink_metadata(&spec_path).is_err() {
        return Err(not_a_template(format!("it has no {SPEC_FILE}")));
    }
    let spec_text = read_inside(&real_root, &spec_path)?;
    let spec = parse_spec(&name, &spec_text)?;
    let mut files = Vec::new();
    let mut total: u64 = spec_text.len() as u64;
    // A provider's template often lives in a git checkout; its metadata is not template.
    let walker = WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.file_name() != ".git");
    for entry in walker {
        let entry = entry.map_err(|e| {
            let path = e
                .path()
                .map(PathBuf::from)
                .unwrap_or_else(|| root.to_owned());
            ScaffoldError::TemplateRead {
                path,
                source: e.into(),
            }
        })?;
        // The root is the directory the user named, even when reached through a link.
        if entry.depth() == 0 || entry.file_type().is_dir() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(root)
            .expect("walkdir stays inside");
        if rel == Path::new(SPEC_FILE) {
            continue;
        }
        let bytes = read_inside(&real_root, entry.path())?;
        total += bytes.len() as u64;
        if total > TEMPLATE_LIMIT {
            return Err(not_a_template(format!(
                "its files add up to more than {} MiB",
                TEMPLATE_LIMIT / (1024 * 1024)
            )));
        }
        files.push(SourceFile {
            path: slash_path(rel),
            bytes: Cow::Owned(bytes),
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Template {
        name,
        spec,
        version: version_of(&spec_text, &files),
        files,
        origin: Origin::Directory(real_root),
    })
}

/// `sha256:<hex>` of `template.toml` and every file's path and bytes: any change to the
/// template changes it.
fn version_of(spec: &[u8], files: &[SourceFile]) -> String {
    let mut hash = Sha256::new();
    let mut field = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    field(spec);
    for file in files {
        field(file.path.as_bytes());
        field(&file.bytes);
    }
    format!("sha256:{}", hex::encode(hash.finalize()))
}

/// Reads one file of the template at `real_root` (canonical). A symbolic link is followed
/// only to a regular file inside the template, and that is decided before anything is
/// opened; then the file is read with the bounded reader, which refuses FIFOs, devices
/// and huge files.
fn read_inside(real_root: &Path, path: &Path) -> Result<Vec<u8>, ScaffoldError> {
    let refused = |why: String| ScaffoldError::TemplateFile {
        path: path.to_owned(),
        why,
    };
    let read_err = |source| ScaffoldError::TemplateRead {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::symlink_metadata(path).map_err(read_err)?;
    let real = if meta.file_type().is_symlink() {
        let target = std::fs::canonicalize(path)
            .map_err(|_| refused("it is a symbolic link to nothing (a broken link)".into()))?;
        if !target.starts_with(real_root) {
            return Err(refused(
                "it is a symbolic link to a file outside the template; kensa reads nothing \
                 outside the template directory"
                    .into(),
            ));
        }
        if !target.is_file() {
            return Err(refused(
                "it is a symbolic link to a directory or a special file; a template's links \
                 must point at files inside it"
                    .into(),
            ));
        }
        target
    } else {
        path.to_owned()
    };
    fsutil::read_input_no_follow(&real).map_err(read_err)
}

fn parse_spec(template: &str, bytes: &[u8]) -> Result<TemplateSpec, ScaffoldError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ScaffoldError::Spec {
        template: template.to_owned(),
        message: "not UTF-8".into(),
    })?;
    TemplateSpec::parse(text).map_err(|message| ScaffoldError::Spec {
        template: template.to_owned(),
        message,
    })
}

fn slash_path(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}
