//! Old kensa's shape: `Testing …` sections, `  Check … [PASS]` lines, details indented.
//! Section names, titles and messages quote the provider (its URLs, ids, bodies): they
//! are written through [`visible`], so no control character reaches the terminal raw and
//! no secret shows.

use std::io::{self, Write};

use anstyle::Style;

use super::{Check, Report, Reporter};
use crate::output::{visible, BOLD, DIM, ERROR, GOOD, WARN};
use crate::verdict::Verdict;

pub struct Human<W: Write> {
    out: W,
}

impl<W: Write> Human<W> {
    pub fn new(out: W) -> Self {
        Human { out }
    }
}

impl<W: Write> Reporter for Human<W> {
    fn section(&mut self, name: &str) {
        let _ = writeln!(self.out, "{BOLD}Testing {}{BOLD:#}", visible(name));
        let _ = self.out.flush();
    }

    fn check(&mut self, check: &Check) {
        let style: Style = match check.verdict {
            Verdict::Pass => GOOD,
            Verdict::Fail(_) => ERROR,
            Verdict::Warn(_) => WARN,
            Verdict::Skip(_) => DIM,
        };
        let _ = writeln!(
            self.out,
            "  Check {} [{style}{}{style:#}]",
            visible(&check.title()),
            check.verdict.label()
        );
        if let Some(message) = check.verdict.message() {
            for line in visible(message).lines() {
                let _ = writeln!(self.out, "    {style}!{style:#} {line}");
            }
        }
        let _ = self.out.flush();
    }

    fn finish(&mut self, report: &Report) -> io::Result<()> {
        let c = report.counts();
        let (style, verdict) = if c.fail > 0 {
            (ERROR, format!("{} of {} checks failed", c.fail, c.total()))
        } else {
            (GOOD, format!("all {} checks passed", c.pass + c.warn))
        };
        let mut extra = Vec::new();
        if c.warn > 0 {
            extra.push(format!("{} with warnings", c.warn));
        }
        if c.skip > 0 {
            extra.push(format!("{} skipped", c.skip));
        }
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!(" ({})", extra.join(", "))
        };
        writeln!(self.out, "\n{style}kensa: {verdict}{extra}{style:#}")?;
        self.out.flush()
    }
}
