//! Turns a template's files into the project's files, in memory: `.tera` files are rendered
//! (and lose the suffix), others are copied byte for byte. Every failure is collected so
//! one run reports them all.
//!
//! A template may come from anyone, so rendering is bounded: every `.tera` file is parsed
//! and loaded before any is rendered (so `extends` and `import` work whatever the file
//! names), references and cycles are checked first ([`links`]), and the whole render runs
//! within a memory and time budget ([`crate::budget`]). However hostile the template, the
//! outcome is its files or an error naming the file.

mod links;

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use globset::GlobSet;
use serde_json::Value;
use tera::{Context, Tera};

use super::source::Template;
use super::spec::{condition_template, TemplateSpec, VarSpec, SPEC_FILE};
use super::ScaffoldError;
use crate::budget::{self, Limits};
use crate::manifest;

pub const TERA_SUFFIX: &str = ".tera";

/// Paths kensa writes itself beside the rendered files.
pub const RESERVED: &[&str] = &[manifest::DEFAULT_FILE, manifest::dotenv::FILE];

/// What one render may take. The embedded templates need a few megabytes and a few
/// milliseconds; these bounds only stop a template that would never finish.
const LIMITS: Limits = Limits {
    memory: 256 * 1024 * 1024,
    time: Duration::from_secs(60),
    stack: 16 * 1024 * 1024,
};

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

/// Renders every file of `template`, within [`LIMITS`].
pub fn render(template: &Template, context: &Context) -> Result<Vec<OutputFile>, ScaffoldError> {
    render_within(template, context, LIMITS)
}

fn render_within(
    template: &Template,
    context: &Context,
    limits: Limits,
) -> Result<Vec<OutputFile>, ScaffoldError> {
    // The file being worked on, by index, so a job stopped in the middle names it (an
    // index: publishing a name would allocate, and the job may be stopped in an allocation).
    let current = Arc::new(AtomicUsize::new(usize::MAX));
    let job = {
        let template = Arc::new(template.clone());
        let context = context.clone();
        let current = Arc::clone(&current);
        move || render_all(&template, &context, &current)
    };
    match budget::run(limits, job) {
        Ok(result) => result,
        Err(exceeded) => {
            let path = template
                .files
                .get(current.load(Ordering::SeqCst))
                .map_or_else(|| template.name.clone(), |f| f.path.clone());
            Err(ScaffoldError::Render(vec![FileFailure {
                path,
                cause: format!("rendering stopped: {exceeded}"),
            }]))
        }
    }
}

/// The render, step by step: parse, check the references, load, complete the context,
/// choose the files, render them. Every failure of a step is collected; a later step runs
/// only when it can do so safely.
fn render_all(
    template: &Template,
    context: &Context,
    current: &AtomicUsize,
) -> Result<Vec<OutputFile>, ScaffoldError> {
    let verbatim = template.spec.verbatim_globs();
    let is_rendered = |path: &str| path.ends_with(TERA_SUFFIX) && !verbatim.is_match(path);
    let Parsed {
        templates,
        mut failures,
    } = parse_each(template, &is_rendered, current);

    // A reference to a file that failed to parse is not reported again as missing.
    let names: BTreeSet<&str> = template
        .files
        .iter()
        .map(|f| f.path.as_str())
        .filter(|p| is_rendered(p))
        .collect();
    let link_failures = links::check(&templates, &names);
    if !link_failures.is_empty() {
        // Nothing is rendered: a cycle would never end.
        failures.extend(link_failures);
        return Err(failed(failures));
    }

    // One Tera per render: autoescape off (we write code, not HTML pages), and tera's
    // default strictness makes an undefined variable an error. All files are added at
    // once, so a file may extend or import one that sorts after it; they go in as parsed
    // above (tera's own `add_raw_templates` would parse them all again), then tera links
    // them as it would.
    let mut tera = Tera::default();
    tera.autoescape_on(vec![]);
    tera.templates.extend(templates);
    if let Err(e) = tera
        .build_inheritance_chains()
        .and_then(|()| tera.check_macro_files())
    {
        if failures.is_empty() {
            failures.push(FileFailure {
                path: template.name.clone(),
                cause: chain(&e),
            });
        }
        // Otherwise it fails for a file that did not parse, reported already.
        return Err(failed(failures));
    }

    // Computed variables join the context; `[[files.when]]` rules decide which files are
    // written (every `.tera` file stays loaded: an excluded one may still be included).
    let chosen = with_computed(&template.spec, context)
        .and_then(|context| Ok((excluded_files(template, &context)?, context)));
    let (excluded, context) = match chosen {
        Ok(chosen) => chosen,
        Err(mut spec_failures) => {
            failures.append(&mut spec_failures);
            return Err(failed(failures));
        }
    };
    let outputs = render_files(
        template,
        &Renderer {
            tera: &tera,
            context: &context,
            is_rendered: &is_rendered,
            executable: template.spec.executable_globs(),
        },
        &excluded,
        current,
        &mut failures,
    );
    if failures.is_empty() {
        Ok(outputs)
    } else {
        Err(failed(failures))
    }
}

/// Every `.tera` file parsed on its own: each syntax error is reported, and the references
/// between files can be checked before tera follows them.
struct Parsed {
    templates: BTreeMap<String, tera::Template>,
    failures: Vec<FileFailure>,
}

fn parse_each(
    template: &Template,
    is_rendered: &dyn Fn(&str) -> bool,
    current: &AtomicUsize,
) -> Parsed {
    let mut parsed = Parsed {
        templates: BTreeMap::new(),
        failures: Vec::new(),
    };
    for (i, file) in template.files.iter().enumerate() {
        if !is_rendered(&file.path) {
            continue;
        }
        current.store(i, Ordering::SeqCst);
        let fail = |cause: String| FileFailure {
            path: file.path.clone(),
            cause,
        };
        let Ok(text) = std::str::from_utf8(&file.bytes) else {
            parsed
                .failures
                .push(fail("a .tera file must be UTF-8 text".into()));
            continue;
        };
        match tera::Template::new(&file.path, None, text) {
            Ok(t) => {
                parsed.templates.insert(file.path.clone(), t);
            }
            Err(e) => parsed.failures.push(fail(parse_error(&chain(&e)))),
        }
    }
    parsed
}

/// What rendering one file needs.
struct Renderer<'a> {
    tera: &'a Tera,
    context: &'a Context,
    is_rendered: &'a dyn Fn(&str) -> bool,
    executable: GlobSet,
}

/// The output file of every template file but the excluded ones and those that did not
/// parse (already in `failures`), sorted by path; each failure is added to `failures`.
fn render_files(
    template: &Template,
    r: &Renderer,
    excluded: &BTreeSet<usize>,
    current: &AtomicUsize,
    failures: &mut Vec<FileFailure>,
) -> Vec<OutputFile> {
    let unparsed: BTreeSet<String> = failures.iter().map(|f| f.path.clone()).collect();
    let mut outputs: BTreeMap<String, OutputFile> = BTreeMap::new();
    for (i, file) in template.files.iter().enumerate() {
        if excluded.contains(&i) {
            continue;
        }
        current.store(i, Ordering::SeqCst);
        let rendered = (r.is_rendered)(&file.path);
        let source_path = if rendered {
            &file.path[..file.path.len() - TERA_SUFFIX.len()]
        } else {
            file.path.as_str()
        };
        let fail = |cause: String| FileFailure {
            path: file.path.clone(),
            cause,
        };
        let path = match render_path(source_path, r.context) {
            Ok(p) => p,
            Err(cause) => {
                failures.push(fail(cause));
                continue;
            }
        };
        if unparsed.contains(&file.path) {
            continue; // its parse error is already reported
        }
        let bytes = if rendered {
            match r.tera.render(&file.path, r.context) {
                Ok(text) => text.into_bytes(),
                Err(e) => {
                    failures.push(fail(chain(&e)));
                    continue;
                }
            }
        } else {
            file.bytes.to_vec()
        };
        let mode = if r.executable.is_match(&path) {
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
    outputs.into_values().collect()
}

/// `context` with each computed variable's value, evaluated in an order that lets one use
/// another.
fn with_computed(spec: &TemplateSpec, context: &Context) -> Result<Context, Vec<FileFailure>> {
    let mut context = context.clone();
    let mut pending: Vec<(&String, &VarSpec)> = spec.computed().collect();
    while !pending.is_empty() {
        let mut errors = Vec::new();
        let before = pending.len();
        pending.retain(|(name, var)| {
            let expr = var.computed.as_deref().unwrap_or_default();
            let value = Tera::one_off(expr, &context, false)
                .map_err(|e| chain(&e))
                .and_then(|text| var.coerce(&Value::String(text)));
            match value {
                Ok(value) => {
                    context.insert(name.as_str(), &value);
                    false
                }
                Err(e) => {
                    errors.push(FileFailure {
                        path: SPEC_FILE.into(),
                        cause: format!("computed variable {name}: {e}"),
                    });
                    true
                }
            }
        });
        if pending.len() == before {
            return Err(errors);
        }
    }
    Ok(context)
}

/// Indexes of the files a false `[[files.when]]` condition leaves out.
fn excluded_files(
    template: &Template,
    context: &Context,
) -> Result<BTreeSet<usize>, Vec<FileFailure>> {
    let mut excluded = BTreeSet::new();
    let mut errors = Vec::new();
    for (n, (globs, rule)) in template.spec.when_rules().into_iter().enumerate() {
        let text = condition_template(&rule.condition);
        let unknown: Vec<String> = tera::Template::new("if", None, &text)
            .map(|t| links::tested_variables(&t))
            .unwrap_or_default()
            .into_iter()
            .filter(|name| !context.contains_key(name))
            .collect();
        if !unknown.is_empty() {
            errors.push(FileFailure {
                path: SPEC_FILE.into(),
                cause: format!(
                    "[[files.when]] #{} (if = {:?}): no variable {}",
                    n + 1,
                    rule.condition,
                    unknown.join(", ")
                ),
            });
            continue;
        }
        let holds = match Tera::one_off(&text, context, false) {
            Ok(text) => text == "true",
            Err(e) => {
                errors.push(FileFailure {
                    path: SPEC_FILE.into(),
                    cause: format!(
                        "[[files.when]] #{} (if = {:?}): {}",
                        n + 1,
                        rule.condition,
                        chain(&e)
                    ),
                });
                continue;
            }
        };
        if holds {
            continue;
        }
        for (i, file) in template.files.iter().enumerate() {
            if covers(&globs, &file.path) {
                excluded.insert(i);
            }
        }
    }
    if errors.is_empty() {
        Ok(excluded)
    } else {
        Err(errors)
    }
}

/// Whether `globs` match a template path: the path itself, the path without `.tera`, or
/// a directory it is in.
fn covers(globs: &GlobSet, path: &str) -> bool {
    let plain = path.strip_suffix(TERA_SUFFIX).unwrap_or(path);
    if globs.is_match(path) || globs.is_match(plain) {
        return true;
    }
    let mut dir = path;
    while let Some((parent, _)) = dir.rsplit_once('/') {
        if globs.is_match(parent) {
            return true;
        }
        dir = parent;
    }
    false
}

fn failed(mut failures: Vec<FileFailure>) -> ScaffoldError {
    failures.sort_by(|a, b| a.path.cmp(&b.path));
    failures.dedup();
    ScaffoldError::Render(failures)
}

/// tera's parse errors are pest's: ` --> 3:7`, the failing line with a caret, and
/// `= expected …`. Said as `line 3, column 7: expected …` with the line quoted.
fn parse_error(text: &str) -> String {
    let mut position = None;
    let mut quoted = None;
    let mut expected = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if let Some(at) = trimmed.strip_prefix("--> ") {
            position = at.split_once(':');
        } else if let Some(what) = trimmed.strip_prefix("= ") {
            expected = Some(what);
        } else if let Some((number, source)) = trimmed.split_once(" | ") {
            if number.trim().parse::<usize>().is_ok() {
                quoted = Some((number.trim(), source));
            }
        }
    }
    match (position, expected) {
        (Some((line, column)), Some(expected)) => {
            let mut out = format!("line {line}, column {column}: {expected}");
            if let Some((number, source)) = quoted {
                out.push_str(&format!("\n    {number} | {source}"));
            }
            out
        }
        _ => text.to_owned(),
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
/// Quoted template text is cut short (a parse error quotes the whole failing line, and one
/// line can be a megabyte) and control characters are shown, not sent to the terminal.
fn chain(err: &tera::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    super::quote_line(&text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scaffold::source::SourceFile;
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
            version: "sha256:test".into(),
            origin: crate::scaffold::source::Origin::Embedded,
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

    #[test]
    fn a_file_may_extend_or_import_a_file_that_sorts_after_it() {
        let t = template(
            &[
                (
                    "a.txt.tera",
                    "{% extends \"z-base.tera\" %}{% block b %}child{% endblock %}",
                ),
                (
                    "m.txt.tera",
                    "{% import \"z-macros.tera\" as z %}{{ z::hi() }}",
                ),
                ("z-base.tera", "base({% block b %}{% endblock %})"),
                ("z-macros.tera", "{% macro hi() %}hi{% endmacro %}"),
            ],
            SPEC,
        );
        let out = render(&t, &ctx()).unwrap();
        let get = |p: &str| out.iter().find(|f| f.path == p).unwrap().bytes.clone();
        assert_eq!(get("a.txt"), b"base(child)");
        assert_eq!(get("m.txt"), b"hi");
    }

    #[test]
    fn cycles_are_refused_before_anything_renders() {
        let t = template(
            &[
                ("a.txt.tera", "{% include \"b.txt.tera\" %}"),
                ("b.txt.tera", "{% include \"a.txt.tera\" %}"),
                ("c.txt.tera", "{{ id }}"),
            ],
            SPEC,
        );
        let Err(ScaffoldError::Render(f)) = render(&t, &ctx()) else {
            panic!("expected a failure")
        };
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].path, "a.txt.tera");
        assert!(f[0]
            .cause
            .contains("includes b.txt.tera, which includes a.txt.tera"));
    }

    #[test]
    fn a_render_over_its_memory_budget_names_the_file() {
        let t = template(
            &[
                ("a.txt.tera", "fine"),
                (
                    "b.txt.tera",
                    "{% for i in range(end=100000000) %}{% endfor %}",
                ),
            ],
            SPEC,
        );
        let Err(ScaffoldError::Render(f)) = render(&t, &ctx()) else {
            panic!("expected a failure")
        };
        assert_eq!(f[0].path, "b.txt.tera");
        assert!(f[0].cause.contains("MiB of memory"), "{f:?}");
    }

    #[test]
    fn a_render_over_its_time_names_the_file() {
        let t = template(
            &[(
                "slow.txt.tera",
                "{% for i in range(end=100000) %}{% for j in range(end=100000) %}{% endfor %}{% endfor %}",
            )],
            SPEC,
        );
        let limits = Limits {
            time: Duration::from_millis(200),
            ..LIMITS
        };
        let Err(ScaffoldError::Render(f)) = render_within(&t, &ctx(), limits) else {
            panic!("expected a failure")
        };
        assert_eq!(f[0].path, "slow.txt.tera");
        assert!(f[0].cause.contains("runs longer than"), "{f:?}");
    }

    #[test]
    fn quoted_template_text_is_cut_short_and_control_characters_shown() {
        let long = format!("{}\x1b[2J{{{{ ( }}}}", "x".repeat(5000));
        let t = template(&[("deep.txt.tera", long.as_str())], SPEC);
        let Err(ScaffoldError::Render(f)) = render(&t, &ctx()) else {
            panic!("expected a failure")
        };
        assert!(
            f[0].cause.lines().all(|l| l.chars().count() <= 200),
            "{f:?}"
        );
        assert!(!f[0].cause.contains('\x1b'));
    }

    #[test]
    fn computed_variables_and_conditional_files() {
        let spec = r#"
description = "t"
[variables.sso_on]
type = "boolean"
[variables.crate_name]
computed = "{{ id | replace(from='-', to='_') }}"
[variables.shout]
computed = "{{ crate_name | upper }}"
[[files.when]]
paths = ["sso/**", "login.txt"]
if = "sso_on"
[[files.when]]
paths = ["legacy"]
if = "not sso_on"
"#;
        let t = template(
            &[
                ("name.txt.tera", "{{ crate_name }} {{ shout }}"),
                ("sso/page.txt", "p"),
                ("login.txt.tera", "l"),
                ("legacy/get.txt", "g"),
            ],
            spec,
        );
        let paths = |on: bool| {
            let mut c = ctx();
            c.insert("sso_on", &on);
            let out = render(&t, &c).unwrap();
            let name = out
                .iter()
                .find(|f| f.path == "name.txt")
                .unwrap()
                .bytes
                .clone();
            assert_eq!(name, b"my_addon MY_ADDON");
            out.into_iter().map(|f| f.path).collect::<Vec<_>>()
        };
        assert_eq!(paths(true), ["login.txt", "name.txt", "sso/page.txt"]);
        assert_eq!(paths(false), ["legacy/get.txt", "name.txt"]);
    }

    #[test]
    fn a_condition_on_an_unknown_variable_names_the_rule() {
        let spec = "description = \"t\"\n[[files.when]]\npaths = [\"a\"]\nif = \"nope\"\n";
        let t = template(&[("a", "x")], spec);
        let Err(ScaffoldError::Render(f)) = render(&t, &ctx()) else {
            panic!("expected a failure")
        };
        assert_eq!(f[0].path, "template.toml");
        assert!(f[0].cause.contains("[[files.when]] #1"), "{f:?}");
    }
}
