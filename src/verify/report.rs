//! One report for the whole verification: the steps and the `test all` run between them
//! stream to one reporter as they happen (`Testing … / Check … [PASS]`), and the complete
//! report is rendered once at the end: the summary for people, or one JSON or JUnit
//! document, as `kensa test` renders its own.

use std::cell::RefCell;
use std::io::{self, Write};
use std::path::Path;
use std::rc::Rc;

use serde_json::json;

use crate::check::report::{human::Human, json, junit, Check, Format, Report, Reporter, Stage};
use crate::output::{visible, BOLD, ERROR, GOOD};

/// Renders what the steps and `test all` report.
pub struct Output {
    format: Format,
    /// Streams sections and checks; renders the end of a human or JUnit report.
    inner: Rc<RefCell<Box<dyn Reporter>>>,
    service_log: Vec<String>,
}

/// A handle on the one reporter, for each recorder that reports to it: the verification's
/// own and the one `test all` makes. Their `finish` does nothing: [`Output::finish`]
/// renders the whole report once.
pub struct Shared(Rc<RefCell<Box<dyn Reporter>>>);

impl Reporter for Shared {
    fn section(&mut self, stage: Stage, name: &str) {
        self.0.borrow_mut().section(stage, name);
    }

    fn check(&mut self, check: &Check) {
        self.0.borrow_mut().check(check);
    }

    fn finish(&mut self, _: &Report) -> io::Result<()> {
        Ok(())
    }
}

/// Reports nothing as it happens (JSON is one document at the end).
struct Silent;

impl Reporter for Silent {
    fn finish(&mut self, _: &Report) -> io::Result<()> {
        Ok(())
    }
}

impl Output {
    pub fn new(format: Format) -> Output {
        let inner: Box<dyn Reporter> = match format {
            Format::Human => Box::new(Human::new(anstream::stdout())),
            Format::Json => Box::new(Silent),
            Format::Junit => Box::new(junit::Junit::new(io::stdout())),
        };
        Output {
            format,
            inner: Rc::new(RefCell::new(inner)),
            service_log: Vec::new(),
        }
    }

    pub fn reporter(&self) -> Shared {
        Shared(self.inner.clone())
    }

    /// The service's last lines, shown when a check failed.
    pub fn set_service_log(&mut self, lines: Vec<String>) {
        self.service_log = lines;
    }

    /// Renders the end of the report, then names what failed: on stdout for people, on
    /// stderr beside a machine-readable document.
    pub fn finish(
        &self,
        report: &Report,
        template: &str,
        project: &Path,
        kept: Option<&Path>,
        port: u16,
    ) -> io::Result<()> {
        let failed = failed_checks(report);
        match self.format {
            Format::Json => {
                let mut doc = json::document(
                    report,
                    &project
                        .join(crate::manifest::DEFAULT_FILE)
                        .display()
                        .to_string(),
                    "test",
                );
                doc["template"] = json!(template);
                doc["project"] = json!(kept.map(|p| p.display().to_string()));
                doc["port"] = json!(port);
                doc["failed_checks"] = json!(failed
                    .iter()
                    .map(|c| json!({"id": c.id(), "name": c.title()}))
                    .collect::<Vec<_>>());
                doc["service_log"] = json!(self.service_log);
                // Every secret masked, in whatever form a message or a log line quotes it.
                let text = serde_json::to_string_pretty(&doc).map_err(io::Error::other)?;
                let mut out = io::stdout().lock();
                writeln!(out, "{}", crate::redact::mask(&text))?;
                out.flush()?;
            }
            Format::Junit | Format::Human => self.inner.borrow_mut().finish(report)?,
        }
        let mut out: Box<dyn Write> = match self.format {
            Format::Human => Box::new(anstream::stdout().lock()),
            _ => Box::new(anstream::stderr().lock()),
        };
        if !failed.is_empty() && !self.service_log.is_empty() {
            writeln!(out, "\nThe service's last lines:")?;
            for line in &self.service_log {
                writeln!(out, "  {}", visible(line))?;
            }
        }
        if let Some(dir) = kept {
            writeln!(
                out,
                "The project is kept in {}",
                visible(&dir.display().to_string())
            )?;
        }
        if failed.is_empty() {
            if self.format == Format::Human {
                writeln!(
                    out,
                    "{GOOD}kensa templates verify: {template} passed{GOOD:#}"
                )?;
            }
        } else {
            writeln!(
                out,
                "{ERROR}kensa templates verify: {} failed:{ERROR:#}",
                visible(template)
            )?;
            for check in &failed {
                writeln!(
                    out,
                    "  {BOLD}{}{BOLD:#} ({})",
                    check.id(),
                    visible(&check.title())
                )?;
            }
        }
        out.flush()
    }
}

/// The checks that failed, in the order they ran.
fn failed_checks(report: &Report) -> Vec<&Check> {
    report
        .sections
        .iter()
        .flat_map(|s| &s.checks)
        .filter(|c| c.verdict.is_fail())
        .collect()
}
