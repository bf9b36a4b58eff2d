//! Where templates come from: the tree embedded in the binary, or a directory on disk.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use include_dir::{include_dir, Dir};
use walkdir::WalkDir;

use super::spec::{TemplateSpec, SPEC_FILE};
use super::ScaffoldError;

static EMBEDDED: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");

#[derive(Debug, Clone)]
pub struct Template {
    /// The embedded name, or the directory's path as given.
    pub name: String,
    pub spec: TemplateSpec,
    /// Every file but `template.toml`, sorted by path.
    pub files: Vec<SourceFile>,
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

/// Loads `--template ARG`: a directory path or an embedded name.
pub fn resolve(arg: &str) -> Result<Template, ScaffoldError> {
    if is_path(arg) {
        load_dir(Path::new(arg))
    } else {
        load_embedded(arg)
    }
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
        files,
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

/// Loads a template directory from disk under the same contract as the embedded ones.
pub fn load_dir(root: &Path) -> Result<Template, ScaffoldError> {
    let name = root.display().to_string();
    let io_err = |path: &Path, source: std::io::Error| ScaffoldError::TemplateRead {
        path: path.to_owned(),
        source,
    };
    let spec_path = root.join(SPEC_FILE);
    if !root.is_dir() {
        return Err(ScaffoldError::NotATemplate {
            path: root.to_owned(),
            why: "no such directory".into(),
        });
    }
    let spec_text = std::fs::read(&spec_path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ScaffoldError::NotATemplate {
            path: root.to_owned(),
            why: format!("it has no {SPEC_FILE}"),
        },
        _ => io_err(&spec_path, e),
    })?;
    let spec = parse_spec(&name, &spec_text)?;
    let mut files = Vec::new();
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
            io_err(&path, e.into())
        })?;
        if entry.file_type().is_dir() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(root)
            .expect("walkdir stays inside");
        if rel == Path::new(SPEC_FILE) {
            continue;
        }
        if entry.file_type().is_symlink() {
            return Err(ScaffoldError::NotATemplate {
                path: entry.path().to_owned(),
                why: "symbolic links are not allowed in templates".into(),
            });
        }
        let bytes = std::fs::read(entry.path()).map_err(|e| io_err(entry.path(), e))?;
        files.push(SourceFile {
            path: slash_path(rel),
            bytes: Cow::Owned(bytes),
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Template { name, spec, files })
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
