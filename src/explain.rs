//! `kensa explain [<check-id>]`: what a check enforces, why it matters, how to fix it, where
//! the rule comes from, and an example in each embedded template's language, as clippy's
//! lints and ShellCheck's codes explain themselves. Without an id, every check. Everything
//! printed comes from the registry ([`crate::registry`]).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::{json, Value};

use crate::error::UsageError;
use crate::output::{BOLD, DIM, ERROR, WARN};
use crate::registry::{self, CheckDef, Severity};

/// What `kensa explain` was asked for.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// One check's id; `None` lists every check.
    pub id: Option<String>,
    /// A JSON document instead of text.
    pub json: bool,
}

pub fn run(opts: Options) -> Result<ExitCode> {
    let mut out = anstream::stdout().lock();
    match (&opts.id, opts.json) {
        (None, false) => list(&mut out)?,
        (None, true) => {
            let all: Vec<Value> = registry::ALL.iter().map(|c| to_json(c)).collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?;
        }
        (Some(id), json) => {
            let check = find(id)?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&to_json(check))?)?;
            } else {
                explain(&mut out, check)?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The check with this id, or a usage error suggesting the closest ids.
fn find(id: &str) -> Result<&'static CheckDef, UsageError> {
    if let Some(check) = registry::find(id.trim()) {
        return Ok(check);
    }
    let closest = registry::closest(id);
    let hint = if closest.is_empty() {
        "`kensa explain` lists every check".to_owned()
    } else {
        format!(
            "did you mean {}? (`kensa explain` lists every check)",
            closest
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Err(UsageError::new(format!("no check {id:?}: {hint}")))
}

fn severity_style(severity: Severity) -> anstyle::Style {
    match severity {
        Severity::Requirement => ERROR,
        Severity::Advice => WARN,
    }
}

/// One line per check: id, severity, title.
fn list(out: &mut impl Write) -> std::io::Result<()> {
    let width = registry::ALL.iter().map(|c| c.id.len()).max().unwrap_or(0);
    for c in registry::ALL.iter() {
        let style = severity_style(c.severity);
        writeln!(
            out,
            "{id:width$}  {style}{severity:11}{style:#}  {title}",
            id = c.id,
            severity = c.severity.label(),
            title = c.title.replace("{n}", "N"),
        )?;
    }
    writeln!(
        out,
        "\n{DIM}{} checks; `kensa explain <id>` explains one. A requirement fails (exit 1), advice warns (fails with --strict).{DIM:#}",
        registry::ALL.len()
    )
}

fn source_line(c: &CheckDef) -> String {
    let heroku = c
        .source
        .heroku
        .map_or("kensa's own check, not a Heroku rule".to_owned(), |p| {
            format!("{} <{}>", p.title, p.url)
        });
    format!(
        "{} (row {} of the table \"Requirement or advice\"); {heroku}",
        c.source.protocol.citation(),
        c.row
    )
}

fn explain(out: &mut impl Write, c: &CheckDef) -> std::io::Result<()> {
    let style = severity_style(c.severity);
    let effect = match c.severity {
        Severity::Requirement => "fails when broken (exit status 1)",
        Severity::Advice => "warns when broken; fails with --strict",
    };
    writeln!(
        out,
        "{BOLD}{}{BOLD:#}: {}\n{style}{}{style:#}, {effect}\n",
        c.id,
        c.title.replace("{n}", "N"),
        c.severity.label()
    )?;
    for (label, text) in [("Rule", c.rule), ("Why", c.why), ("Fix", c.fix)] {
        writeln!(out, "{BOLD}{label}:{BOLD:#} {text}")?;
    }
    writeln!(out, "{BOLD}Source:{BOLD:#} {}", source_line(c))?;
    for example in c.examples {
        writeln!(out, "\n{BOLD}Example, {}:{BOLD:#}\n", example.lang.label())?;
        for line in example.code.trim_end().lines() {
            writeln!(out, "    {line}")?;
        }
    }
    Ok(())
}

fn to_json(c: &CheckDef) -> Value {
    json!({
        "id": c.id,
        "title": c.title,
        "severity": c.severity.label(),
        "rule": c.rule,
        "why": c.why,
        "fix": c.fix,
        "source": {
            "protocol": c.source.protocol.citation(),
            "row": c.row,
            "heroku": c.source.heroku.map(|p| json!({"title": p.title, "url": p.url})),
        },
        "examples": c.examples.iter().map(|e| json!({
            "template": match e.lang {
                registry::Lang::Manifest => "manifest",
                registry::Lang::Node => "node",
                registry::Lang::Sinatra => "sinatra",
                registry::Lang::Clojure => "clojure",
                registry::Lang::RustAxum => "rust-axum",
            },
            "language": e.lang.fence(),
            "code": e.code,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_id_suggests_the_closest() {
        let err = find("sso.future-timestmap").unwrap_err().to_string();
        assert!(err.contains("`sso.future-timestamp`"), "{err}");
        let err = find("nothing-like-it-at-all-xyz").unwrap_err().to_string();
        assert!(err.contains("lists every check"), "{err}");
    }

    #[test]
    fn an_explanation_has_every_part() {
        let mut out = Vec::new();
        explain(&mut out, &registry::sso::FUTURE_TIMESTAMP).unwrap();
        let styled = String::from_utf8(out).unwrap();
        // Styles are stripped by anstream on the way out; here, by hand.
        let text = regex::Regex::new("\x1b\\[[0-9;]*m")
            .unwrap()
            .replace_all(&styled, "")
            .into_owned();
        for part in [
            "sso.future-timestamp",
            "advice",
            "Rule:",
            "Why:",
            "Fix:",
            "Source: docs/protocol.md#single-sign-on (row 62",
            "Example, node",
            "Example, sinatra",
            "Example, clojure",
            "Example, rust-axum",
        ] {
            assert!(text.contains(part), "{part:?} missing:\n{text}");
        }
    }
}
