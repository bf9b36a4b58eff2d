//! Results of a test run: sections of named checks. Checks never print; a [`Reporter`]
//! renders what the [`Recorder`] collects, as it arrives or at the end.

pub mod human;
pub mod json;
pub mod junit;

use std::io;
use std::time::Duration;

use crate::verdict::Verdict;

/// How a report is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `Testing … / Check … [PASS]` lines as they happen.
    Human,
    /// One JSON document at the end.
    Json,
    /// JUnit XML at the end, as CI systems read it.
    Junit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    pub method: String,
    pub url: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub name: String,
    pub verdict: Verdict,
    pub duration: Duration,
    pub request: Option<RequestInfo>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub name: String,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub sections: Vec<Section>,
    /// The resource a `test provision` left in place, for scripts.
    pub resource: Option<LeftInPlace>,
}

/// A resource kensa provisioned and did not deprovision (`kensa test provision`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LeftInPlace {
    /// The provider's id, for `kensa test deprovision <id>`.
    pub id: String,
    /// Heroku's uuid of the resource.
    pub uuid: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub pass: usize,
    pub fail: usize,
    pub warn: usize,
    pub skip: usize,
}

impl Counts {
    pub fn total(&self) -> usize {
        self.pass + self.fail + self.warn + self.skip
    }
}

impl Report {
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for check in self.sections.iter().flat_map(|s| &s.checks) {
            match check.verdict {
                Verdict::Pass => c.pass += 1,
                Verdict::Fail(_) => c.fail += 1,
                Verdict::Warn(_) => c.warn += 1,
                Verdict::Skip(_) => c.skip += 1,
            }
        }
        c
    }

    pub fn failed(&self) -> bool {
        self.counts().fail > 0
    }
}

impl Section {
    pub fn duration(&self) -> Duration {
        self.checks.iter().map(|c| c.duration).sum()
    }
}

/// Renders a report. Human output streams; machine formats write everything at the end.
pub trait Reporter {
    fn section(&mut self, _name: &str) {}
    fn check(&mut self, _check: &Check) {}
    fn finish(&mut self, report: &Report) -> io::Result<()>;
}

/// Collects results and forwards each to the reporter as it happens.
pub struct Recorder<'a> {
    report: Report,
    reporter: &'a mut dyn Reporter,
}

impl<'a> Recorder<'a> {
    pub fn new(reporter: &'a mut dyn Reporter) -> Self {
        Recorder {
            report: Report::default(),
            reporter,
        }
    }

    pub fn section(&mut self, name: impl Into<String>) {
        let name = name.into();
        self.reporter.section(&name);
        self.report.sections.push(Section {
            name,
            checks: Vec::new(),
        });
    }

    pub fn record(&mut self, check: Check) {
        self.reporter.check(&check);
        if self.report.sections.is_empty() {
            self.section("kensa");
        }
        self.report
            .sections
            .last_mut()
            .expect("a section exists")
            .checks
            .push(check);
    }

    /// Records a check that is not tied to one request.
    pub fn note(&mut self, name: impl Into<String>, verdict: Verdict) {
        self.record(Check {
            name: name.into(),
            verdict,
            duration: Duration::ZERO,
            request: None,
        });
    }

    pub fn failed(&self) -> bool {
        self.report.failed()
    }

    pub fn set_resource(&mut self, resource: Option<LeftInPlace>) {
        self.report.resource = resource;
    }

    /// Renders the end of the report. A closed stdout (`kensa test | head`) is not an
    /// error: the checks ran, and their outcome still decides the exit status.
    pub fn finish(self) -> io::Result<Report> {
        match self.reporter.finish(&self.report) {
            Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(e),
            _ => Ok(self.report),
        }
    }
}
