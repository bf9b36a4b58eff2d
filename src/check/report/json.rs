//! `--format json`: one document with every section and check. Keys are always present
//! (null when empty) so scripts can rely on the shape; `id`s are stable across releases
//! (the registry's check ids, and a stage name per section), `name`s are for people.

use std::io::{self, Write};

use serde_json::{json, Value};

use super::{Check, Report, Reporter};

pub struct Json<W: Write> {
    out: W,
    pub manifest: String,
    pub target: &'static str,
}

impl<W: Write> Json<W> {
    pub fn new(out: W, manifest: String, target: &'static str) -> Self {
        Json {
            out,
            manifest,
            target,
        }
    }
}

pub fn check_json(check: &Check) -> Value {
    let def = check.def;
    json!({
        "id": check.id(),
        "name": check.title(),
        "status": check.verdict.label().to_ascii_lowercase(),
        "severity": def.severity.label(),
        "message": check.verdict.message(),
        "duration_ms": millis(check.duration),
        "request": check.request.as_ref().map(|r| json!({"method": r.method, "url": r.url})),
        "rule": def.rule,
        "source": source_json(def),
    })
}

/// Where the rule comes from: the protocol section and table row, and Heroku's page.
pub fn source_json(def: &crate::registry::CheckDef) -> Value {
    json!({
        "protocol": def.source.protocol.citation(),
        "row": def.row,
        "heroku": def.source.heroku.map(|p| json!({"title": p.title, "url": p.url})),
    })
}

fn millis(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1000.0 * 10.0).round() / 10.0
}

pub fn document(report: &Report, manifest: &str, target: &str) -> Value {
    let c = report.counts();
    let mut doc = json!({
        "kensa_version": env!("CARGO_PKG_VERSION"),
        "manifest": manifest,
        "target": target,
        "passed": !report.failed(),
        "error": null,
        "strict": report.strict,
        "resource": report.resource,
        "summary": {"total": c.total(), "pass": c.pass, "fail": c.fail, "warn": c.warn, "skip": c.skip},
        "sections": report.sections.iter().map(|s| json!({
            "id": s.stage.key(),
            "name": s.name,
            "duration_ms": millis(s.duration()),
            "checks": s.checks.iter().map(check_json).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    });
    // Every string masked before serialising, whoever serialises it (the reporter, the
    // dev console, the saved session).
    crate::redact::mask_value(&mut doc);
    doc
}

/// The document for a run that ended in a usage or input error (exit status 2): the same
/// keys, no sections, `error` saying what went wrong, and null for what was never known
/// (the manifest, when the command line itself was wrong).
pub fn error_document(message: &str, manifest: Option<&str>) -> Value {
    json!({
        "kensa_version": env!("CARGO_PKG_VERSION"),
        "manifest": manifest,
        "target": null,
        "passed": false,
        "error": message,
        "strict": null,
        "resource": null,
        "summary": {"total": 0, "pass": 0, "fail": 0, "warn": 0, "skip": 0},
        "sections": [],
    })
}

impl<W: Write> Reporter for Json<W> {
    /// The document with every secret masked, in whatever form a message quotes it.
    fn finish(&mut self, report: &Report) -> io::Result<()> {
        let text = serde_json::to_string_pretty(&document(report, &self.manifest, self.target))
            .expect("a JSON value serialises");
        writeln!(self.out, "{}", crate::redact::mask(&text))?;
        self.out.flush()
    }
}
