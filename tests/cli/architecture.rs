//! The import graph of `src/`, read from the source text: features never depend on each
//! other, shared plumbing depends on no feature, and only the root and `cli` know `cli`.
//! A new top-level module is shared plumbing unless it is listed in [`FEATURES`].

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use crate::harness::repo;

/// Modules that implement commands. Each may use shared modules, never another feature.
const FEATURES: &[&str] = &["check", "scaffold", "platform", "signin", "explain"];
/// Modules that compose features into one command (`kensa dev` runs the simulator and the
/// sign-in page; `kensa templates verify` scaffolds and runs the simulator): they may use
/// any feature, and only the root and `cli` may use them.
const COMPOSITES: &[&str] = &["dev", "verify"];
/// The command line: it builds every feature's options, so nothing else may use it.
const CLI: &str = "cli";
/// `lib.rs` and `main.rs`: the wiring, allowed to know everything.
const ROOT: &str = "";

/// `(from, to)` top-level module edges, each with the file that makes it.
fn edges() -> BTreeSet<(String, String, String)> {
    let src = repo().join("src");
    let mut out = BTreeSet::new();
    for entry in walkdir::WalkDir::new(&src) {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let module = module_path(&src, path);
        let from = module.first().cloned().unwrap_or_default();
        let text = code_of(&fs::read_to_string(path).unwrap());
        for to in references(&module, &text) {
            if to != from {
                let file = path.strip_prefix(repo()).unwrap().display().to_string();
                out.insert((from.clone(), to, file));
            }
        }
    }
    out
}

/// `src/check/sso.rs` → `["check", "sso"]`; `src/check/mod.rs` → `["check"]`;
/// `src/lib.rs` → `[]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The source without comments and without unit tests (which may use anything).
fn code_of(text: &str) -> String {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    code.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Top-level modules named through `crate::…` or a `super::` chain that reaches the root.
fn references(module: &[String], code: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest
        .find("crate::")
        .into_iter()
        .chain(rest.find("super::"))
        .min()
    {
        let (start, is_super) = if rest[i..].starts_with("crate::") {
            (i + "crate::".len(), false)
        } else {
            (i, true)
        };
        let preceded_by_ident = rest[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        let mut tail = &rest[start..];
        let mut base: Vec<String> = if is_super { module.to_vec() } else { vec![] };
        if is_super {
            let mut ups = 0;
            while let Some(t) = tail.strip_prefix("super::") {
                tail = t;
                ups += 1;
            }
            // `module_path` drops `mod`, so `super` in `check/mod.rs` reaches the root, and
            // in `check/sso.rs` reaches `check`, as Rust resolves them.
            base.truncate(base.len().saturating_sub(ups));
        }
        if !preceded_by_ident && base.is_empty() {
            for name in first_segments(tail) {
                found.insert(name);
            }
        }
        rest = &rest[start.max(i + 1)..];
    }
    found
}

/// `foo::bar` → `[foo]`; `{foo, bar::{x}, baz}` → `[foo, bar, baz]`.
fn first_segments(tail: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let Some(group) = tail.strip_prefix('{') else {
        return vec![ident(tail)]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
    };
    let mut names = Vec::new();
    let mut depth = 0;
    let mut item_start = true;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => item_start = true,
            c if c.is_whitespace() => {}
            _ if item_start && depth == 0 => {
                names.push(ident(&group[i..]));
                item_start = false;
            }
            _ => {}
        }
    }
    names.retain(|n| !n.is_empty() && n != "self");
    names
}

fn is_feature(module: &str) -> bool {
    FEATURES.contains(&module)
}

/// Why an edge is not allowed, if it is not.
fn violation(from: &str, to: &str) -> Option<&'static str> {
    if from == ROOT {
        return None;
    }
    if to == CLI && from != CLI {
        return Some(
            "only the root and `cli` may use `cli`: domain modules define their own option types",
        );
    }
    if COMPOSITES.contains(&to) && from != CLI {
        return Some("only the root and `cli` may use a composite command");
    }
    if COMPOSITES.contains(&from) {
        return None;
    }
    if is_feature(from) && is_feature(to) {
        return Some(
            "features never depend on each other: move what they share into a shared module",
        );
    }
    if !is_feature(from) && from != CLI && is_feature(to) {
        return Some("shared plumbing must not depend on a feature");
    }
    None
}

#[test]
fn the_import_graph_keeps_features_apart_and_the_cli_on_top() {
    let edges = edges();
    assert!(
        edges.iter().any(|(f, t, _)| f == "check" && t == "http"),
        "the scan finds nothing: {edges:?}"
    );
    let bad: Vec<String> = edges
        .iter()
        .filter_map(|(from, to, file)| {
            violation(from, to).map(|why| format!("{from} -> {to} ({file}): {why}"))
        })
        .collect();
    assert!(bad.is_empty(), "forbidden imports:\n  {}", bad.join("\n  "));
}

/// The scan reads a file up to its first `#[cfg(test)]` ([`code_of`]): that must open the
/// unit tests' module, or the code after a test-only item would go unread.
#[test]
fn the_scan_reads_all_code_before_the_unit_tests() {
    let src = repo().join("src");
    let mut hidden = Vec::new();
    for entry in walkdir::WalkDir::new(&src) {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = fs::read_to_string(path).unwrap();
        if let Some((_, after)) = text.split_once("#[cfg(test)]") {
            let next = after.lines().map(str::trim).find(|l| !l.is_empty());
            if !next.is_some_and(|l| l.trim_start_matches("pub(crate) ").starts_with("mod tests")) {
                hidden.push(path.strip_prefix(repo()).unwrap().display().to_string());
            }
        }
    }
    assert!(
        hidden.is_empty(),
        "a `#[cfg(test)]` before production code hides it from the import scan; put test-only items in `mod tests`: {hidden:?}"
    );
}

#[test]
fn every_feature_exists() {
    for feature in FEATURES {
        let src = repo().join("src");
        assert!(
            src.join(format!("{feature}.rs")).exists() || src.join(feature).is_dir(),
            "{feature} is listed as a feature but src/ has no such module"
        );
    }
}

#[test]
fn the_scan_sees_grouped_and_relative_imports() {
    let module = vec!["check".to_owned(), "sso".to_owned()];
    let code = "use crate::{http::Auth, manifest, self};\nuse super::super::cli::X;\nuse super::report;\nfn f() { crate::output::warn(\"\"); }";
    let found: Vec<String> = references(&module, code).into_iter().collect();
    assert_eq!(found, ["cli", "http", "manifest", "output"]);
    assert!(violation("check", "cli").is_some());
    assert!(violation("check", "scaffold").is_some());
    assert!(violation("error", "scaffold").is_some());
    assert_eq!(violation("check", "http"), None);
    assert_eq!(violation(ROOT, "cli"), None);
    assert_eq!(violation("dev", "check"), None);
    assert!(violation("check", "dev").is_some());
    assert!(violation("http", "dev").is_some());
}

/// Severity is settled in one place: only `Severity::settle` (src/registry/mod.rs) makes a
/// warning. Everywhere else `Verdict::Warn(…)` is a pattern (`Verdict::Warn(m) => …`), never
/// a value a check builds: a check says whether its rule holds, its severity says what a
/// broken rule means.
#[test]
fn only_the_registry_makes_a_warning() {
    let src = repo().join("src");
    let pattern = regex::Regex::new(r"Verdict::Warn\(([^)]*)\)(.*)").unwrap();
    let mut makers = Vec::new();
    for entry in walkdir::WalkDir::new(&src) {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "rs") || path.ends_with("registry/mod.rs") {
            continue;
        }
        let code = code_of(&fs::read_to_string(path).unwrap());
        for line in code.lines() {
            for found in pattern.captures_iter(line) {
                let binding = found[1].trim();
                let is_pattern = (binding == "_"
                    || binding.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
                    && (found[2].contains("=>") || found[2].trim_start().starts_with('|'));
                if !is_pattern {
                    makers.push(format!(
                        "{}: {}",
                        path.strip_prefix(repo()).unwrap().display(),
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(
        makers.is_empty(),
        "checks must fail (Verdict::Fail) and let their severity decide; these make warnings:\n{}",
        makers.join("\n")
    );
}
