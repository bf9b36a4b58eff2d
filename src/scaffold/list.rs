//! `kensa templates`: the embedded templates, for people or (`--json`) for scripts.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use serde_json::json;

use super::source;
use crate::output::BOLD;

/// Lists the templates; with `json`, as a JSON array for scripts.
pub fn run(json: bool) -> Result<ExitCode> {
    let templates = source::embedded_names()
        .into_iter()
        .map(source::load_embedded)
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = anstream::stdout().lock();
    if json {
        let list: Vec<_> = templates
            .iter()
            .map(|t| {
                json!({
                    "name": t.name,
                    "description": t.spec.description,
                    "variables": t.spec.variables,
                    "commands": t.spec.commands,
                })
            })
            .collect();
        serde_json::to_writer_pretty(&mut out, &list)?;
        writeln!(out)?;
    } else {
        let width = templates.iter().map(|t| t.name.len()).max().unwrap_or(0);
        for t in &templates {
            writeln!(
                out,
                "{BOLD}{:<width$}{BOLD:#}  {}",
                t.name, t.spec.description
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
