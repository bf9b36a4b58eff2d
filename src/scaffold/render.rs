//! Turns a template's files into the project's files, in memory: `.tera` files are rendered
//! (and lose the suffix), others are copied byte for byte. Every failure is collected so
//! one run reports them all.

use std::collections::BTreeMap;
use std::error::Error as _;

use tera::{Context, Tera};

use super::source::Template;
use super::ScaffoldError;
use crate::manifest;

pub const TERA_SUFFIX: &str = ".tera";

/// Paths kensa writes itself beside the rendered files.
pub const RESERVED: &[&str] = &[manifest::DEFAULT_FILE, manifest::dotenv::FILE];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputFile {
    /// Relative, `/`-separated, checked not to leave the project.
    pub path: String,
    pub bytes: Vec<u8>,
    pub mode: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFailure {
    pub path: String,
    pub cause: String,
}

pub fn render(template: &Template, context: &Context) -> Result<Vec<OutputFile>, ScaffoldError> {
    let verbatim = template.spec.verbatim_globs();
    let executable = template.spec.executable_globs();
    let mut failures = Vec::new();

    // One Tera per render: autoescape off (we write code, not HTML pages), and tera's
    // default strictness makes an undefined variable an error.
    let mut tera = Tera::default();
    tera.autoescape_on(vec![]);
    let is_rendered = |path: &str| path.ends_with(TERA_SUFFIX) && !verbatim.is_match(path);
    for file in template.files.iter().filter(|f| is_rendered(&f.path)) {
        let added = std::str::from_utf8(&file.bytes)
            .map_err(|_| "a .tera file must be UTF-8 text".to_owned())
            .and_then(|text| {
                tera.add_raw_template(&file.path, text)
                    .map_err(|e| chain(&e))
            });
        if let Err(cause) = added {
            failures.push(FileFailure {
                path: file.path.clone(),
                cause,
            });
        }
    }

    let mut outputs: BTreeMap<String, OutputFile> = BTreeMap::new();
    for file in &template.files {
        let rendered = is_rendered(&file.path);
        let source_path = if rendered {
            &file.path[..file.path.len() - TERA_SUFFIX.len()]
        } else {
            file.path.as_str()
        };
        let fail = |cause: String| FileFailure {
            path: file.path.clone(),
            cause,
        };
        let path = match render_path(source_path, context) {
            Ok(p) => p,
            Err(cause) => {
                failures.push(fail(cause));
                continue;
            }
        };
        if failures.iter().any(|f| f.path == file.path) {
            continue; // its parse error is already reported
        }
        let bytes = if rendered {
            match tera.render(&file.path, context) {
                Ok(text) => text.into_bytes(),
                Err(e) => {
                    failures.push(fail(chain(&e)));
                    continue;
                }
            }
        } else {
            file.bytes.to_vec()
        };
        let mode = if executable.is_match(&path) {
            0o755
        } else {
            0o644
        };
        if outputs.contains_key(&path) {
            failures.push(fail(format!("two template files both produce {path}")));
            continue;
        }
        outputs.insert(path.clone(), OutputFile { path, bytes, mode });
    }

    if failures.is_empty() {
        Ok(outputs.into_values().collect())
    } else {
        failures.sort_by(|a, b| a.path.cmp(&b.path));
        failures.dedup();
        Err(ScaffoldError::Render(failures))
    }
}

/// Renders variables in a path and checks the result stays inside the project.
fn render_path(path: &str, context: &Context) -> Result<String, String> {
    let rendered = if path.contains("{{") || path.contains("{%") {
        Tera::one_off(path, context, false).map_err(|e| chain(&e))?
    } else {
        path.to_owned()
    };
    check_path(&rendered)?;
    Ok(rendered)
}

/// A relative path of plain components, not one kensa writes itself.
pub fn check_path(path: &str) -> Result<(), String> {
    if path.starts_with('/') || path.starts_with('\\') {
        return Err(format!("output path {path:?} is absolute"));
    }
    for part in path.split('/') {
        match part {
            "" | "." => {
                return Err(format!(
                    "output path {path:?} has an empty or `.` component"
                ))
            }
            ".." => {
                return Err(format!(
                    "output path {path:?} would leave the project (`..`)"
                ))
            }
            p if p.contains('\\') || p.contains('\0') => {
                return Err(format!("output path {path:?} has a backslash or NUL"))
            }
            _ => {}
        }
    }
    if RESERVED.contains(&path) {
        return Err(format!(
            "{path} is written by kensa; remove it from the template"
        ));
    }
    Ok(())
}

/// A tera error with its causes: the top message alone says only "Failed to render".
fn chain(err: &tera::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scaffold::source::SourceFile;
    use crate::scaffold::spec::TemplateSpec;
    use std::borrow::Cow;

    fn template(files: &[(&str, &str)], spec: &str) -> Template {
        Template {
            name: "t".into(),
            spec: TemplateSpec::parse(spec).unwrap(),
            files: files
                .iter()
                .map(|(p, b)| SourceFile {
                    path: p.to_string(),
                    bytes: Cow::Owned(b.as_bytes().to_vec()),
                })
                .collect(),
        }
    }

    fn ctx() -> Context {
        let mut c = Context::new();
        c.insert("id", "my-addon");
        c
    }

    const SPEC: &str =
        "description = \"t\"\n[files]\nexecutable = [\"bin/*\"]\nverbatim = [\"keep/**\"]\n";

    #[test]
    fn renders_tera_files_and_copies_the_rest() {
        let t = template(
            &[
                ("README.md.tera", "# {{ id }}"),
                ("app.js", "const x = `${a}` // {{ id }}"),
                ("keep/raw.txt.tera", "{{ untouched }}"),
                ("bin/start", "#!/bin/sh"),
                ("src/{{ id }}.txt", "x"),
            ],
            SPEC,
        );
        let out = render(&t, &ctx()).unwrap();
        let get = |p: &str| {
            out.iter()
                .find(|f| f.path == p)
                .unwrap_or_else(|| panic!("{p}"))
        };
        assert_eq!(get("README.md").bytes, b"# my-addon");
        assert_eq!(get("app.js").bytes, b"const x = `${a}` // {{ id }}");
        assert_eq!(get("keep/raw.txt.tera").bytes, b"{{ untouched }}");
        assert_eq!(get("bin/start").mode, 0o755);
        assert_eq!(get("app.js").mode, 0o644);
        assert!(out.iter().any(|f| f.path == "src/my-addon.txt"));
    }

    #[test]
    fn reports_every_failing_file_with_the_tera_cause() {
        let t = template(
            &[
                ("a.txt.tera", "{{ nope }}"),
                ("b.txt.tera", "{% if %}"),
                ("c.txt.tera", "fine {{ id }}"),
            ],
            SPEC,
        );
        let Err(ScaffoldError::Render(failures)) = render(&t, &ctx()) else {
            panic!("expected failures")
        };
        let paths: Vec<_> = failures.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["a.txt.tera", "b.txt.tera"]);
        assert!(failures[0].cause.contains("nope"), "{:?}", failures[0]);
    }

    #[test]
    fn rejects_paths_that_escape_the_project() {
        for bad in ["../evil", "a/../../b", "/etc/passwd", "a//b", ".env"] {
            assert!(check_path(bad).is_err(), "{bad}");
        }
        let mut c = ctx();
        c.insert("dir", "../../outside");
        let t = template(&[("{{ dir }}/x", "x")], SPEC);
        let Err(ScaffoldError::Render(f)) = render(&t, &c) else {
            panic!("expected a failure")
        };
        assert!(f[0].cause.contains("leave the project"), "{:?}", f);
    }

    #[test]
    fn two_files_with_one_output_path_fail() {
        let t = template(&[("a.txt", "1"), ("a.txt.tera", "2")], SPEC);
        assert!(render(&t, &ctx()).is_err());
    }
}
