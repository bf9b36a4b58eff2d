//! Old kensa's shape: `Testing …` sections, `  Check … [PASS]` lines, details indented.
//! Section names, titles and messages quote the provider (its URLs, ids, bodies): they
//! are written through [`visible`], so no control character reaches the terminal raw and
//! no secret shows.
//!
//! Two choices the command makes: `verbose` adds each check's rule and source under it,
//! and `collapse_manifest` (every command but `test manifest` and `test all`) prints the
//! manifest's passing rules as one line, unless one of them fails.

use std::io::{self, Write};

use anstyle::Style;

use super::{Check, Report, Reporter, Stage};
use crate::output::{visible, BOLD, DIM, ERROR, GOOD, WARN};
use crate::verdict::Verdict;

pub struct Human<W: Write> {
    out: W,
    verbose: bool,
    collapse_manifest: bool,
    /// The manifest's results, held back until the section ends (when collapsing).
    held: Option<Vec<Check>>,
}

impl<W: Write> Human<W> {
    pub fn new(out: W) -> Self {
        Human {
            out,
            verbose: false,
            collapse_manifest: false,
            held: None,
        }
    }

    /// Adds each check's rule and source under it.
    pub fn verbose(mut self, verbose: bool) -> Self {
        self.verbose = verbose;
        self
    }

    /// Prints the manifest's passing rules as one line unless one fails (and not with
    /// `verbose`).
    pub fn collapse_manifest(mut self, collapse: bool) -> Self {
        self.collapse_manifest = collapse;
        self
    }

    fn line(&mut self, check: &Check) {
        let style: Style = match check.verdict {
            Verdict::Pass => GOOD,
            Verdict::Fail(_) => ERROR,
            Verdict::Warn(_) => WARN,
            Verdict::Skip(_) => DIM,
        };
        let strict = if check.failed_by_strict() {
            format!(" {DIM}(advice, failed by --strict){DIM:#}")
        } else {
            String::new()
        };
        let _ = writeln!(
            self.out,
            "  Check {} [{style}{}{style:#}]{strict}",
            visible(&check.title()),
            check.verdict.label()
        );
        if let Some(message) = check.verdict.message() {
            for line in visible(message).lines() {
                let _ = writeln!(self.out, "    {style}!{style:#} {line}");
            }
        }
        if self.verbose {
            let def = check.def;
            let _ = writeln!(
                self.out,
                "    {DIM}{} rule: {}{DIM:#}",
                def.severity.label(),
                def.rule
            );
            let _ = writeln!(
                self.out,
                "    {DIM}source: {}; `kensa explain {}`{DIM:#}",
                def.source_line(),
                def.id
            );
        }
    }

    /// Prints the held manifest results: every one if any failed, else the warnings and
    /// one line for the rest.
    fn release(&mut self) {
        let Some(held) = self.held.take() else {
            return;
        };
        if held.iter().any(|c| c.verdict.is_fail()) {
            for check in &held {
                self.line(check);
            }
            return;
        }
        let (mut passed, mut skipped) = (0, 0);
        for check in &held {
            match check.verdict {
                Verdict::Warn(_) => self.line(check),
                Verdict::Skip(_) => skipped += 1,
                _ => passed += 1,
            }
        }
        if passed > 0 {
            let _ = writeln!(self.out, "  Check {}", collapsed_line(passed, skipped));
        }
    }
}

impl<W: Write> Reporter for Human<W> {
    fn section(&mut self, stage: Stage, name: &str) {
        self.release();
        let _ = writeln!(self.out, "{BOLD}Testing {}{BOLD:#}", visible(name));
        if stage == Stage::Manifest && self.collapse_manifest && !self.verbose {
            self.held = Some(Vec::new());
        }
        let _ = self.out.flush();
    }

    fn check(&mut self, check: &Check) {
        match &mut self.held {
            Some(held) => held.push(check.clone()),
            None => self.line(check),
        }
        let _ = self.out.flush();
    }

    fn finish(&mut self, report: &Report) -> io::Result<()> {
        self.release();
        writeln!(self.out, "\n{}", summary(report))?;
        self.out.flush()
    }
}

/// `17 manifest rules (1 skipped; …) [PASS]`: the rules that passed, and how many more
/// were skipped, so the counts add up to the summary's.
fn collapsed_line(passed: usize, skipped: usize) -> String {
    let rules = if passed == 1 { "rule" } else { "rules" };
    let skipped = if skipped > 0 {
        format!("{skipped} skipped; ")
    } else {
        String::new()
    };
    format!(
        "{passed} manifest {rules} ({DIM}{skipped}`kensa test manifest` lists them{DIM:#}) [{GOOD}PASS{GOOD:#}]"
    )
}

/// `kensa: 2 checks failed, 40 passed, 1 warning, 3 skipped`; `kensa: all 40 checks
/// passed`. Each count says what its checks did, so no failure reads as a warning.
pub fn summary(report: &Report) -> String {
    let c = report.counts();
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut parts = Vec::new();
    let style = if c.fail > 0 {
        let by_strict = report
            .sections
            .iter()
            .flat_map(|s| &s.checks)
            .filter(|c| c.failed_by_strict())
            .count();
        let mut failed = format!("{} failed", plural(c.fail, "check", "checks"));
        if by_strict > 0 {
            failed.push_str(&format!(
                " ({by_strict} of them advice, failed by --strict)"
            ));
        }
        parts.push(failed);
        parts.push(format!("{} passed", c.pass));
        ERROR
    } else if c.warn == 0 && c.skip == 0 {
        parts.push(format!("all {} passed", plural(c.pass, "check", "checks")));
        GOOD
    } else {
        parts.push(format!("{} passed", plural(c.pass, "check", "checks")));
        GOOD
    };
    if c.warn > 0 {
        parts.push(plural(c.warn, "warning", "warnings"));
    }
    if c.skip > 0 {
        parts.push(format!("{} skipped", c.skip));
    }
    format!("{style}kensa: {}{style:#}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::report::{Check, Section};
    use crate::registry;

    /// A report of these verdicts: of requirements, or with `strict` of advice.
    fn report(verdicts: &[Verdict], strict: bool) -> Report {
        let def = if strict {
            &registry::sso::HEROKU_HEADER
        } else {
            &registry::sso::LOGIN
        };
        Report {
            sections: vec![Section {
                stage: Stage::Sso,
                name: "SSO".into(),
                checks: verdicts
                    .iter()
                    .map(|v| Check::new(def, v.clone()))
                    .collect(),
            }],
            resource: None,
            strict,
        }
    }

    /// The text without its style codes (anstyle renders them; anstream strips them).
    fn plain(text: String) -> String {
        let re = regex::Regex::new("\x1b\\[[0-9;]*m").unwrap();
        re.replace_all(&text, "").into_owned()
    }

    #[test]
    fn the_collapsed_manifest_line_agrees_in_number_and_counts_skips_apart() {
        assert_eq!(
            plain(collapsed_line(1, 0)),
            "1 manifest rule (`kensa test manifest` lists them) [PASS]"
        );
        assert_eq!(
            plain(collapsed_line(17, 2)),
            "17 manifest rules (2 skipped; `kensa test manifest` lists them) [PASS]"
        );
    }

    #[test]
    fn the_summary_says_what_each_count_did() {
        let f = || Verdict::Fail("x".into());
        let w = || Verdict::Warn("x".into());
        let s = || Verdict::Skip("x".into());
        assert_eq!(
            plain(summary(&report(&[Verdict::Pass, Verdict::Pass], false))),
            "kensa: all 2 checks passed"
        );
        assert_eq!(
            plain(summary(&report(&[Verdict::Pass, w(), s()], false))),
            "kensa: 1 check passed, 1 warning, 1 skipped"
        );
        assert_eq!(
            plain(summary(&report(&[f(), Verdict::Pass, w()], false))),
            "kensa: 1 check failed, 1 passed, 1 warning"
        );
        assert_eq!(
            plain(summary(&report(&[f(), f()], true))),
            "kensa: 2 checks failed (2 of them advice, failed by --strict), 0 passed"
        );
    }
}
