//! Results of a test run: sections of checks, each result pointing at its definition in
//! the registry. Checks never print; a [`Reporter`] renders what the [`Recorder`]
//! collects, as it arrives or at the end.

pub mod human;
pub mod json;
pub mod junit;

use std::borrow::Cow;
use std::io;
use std::time::Duration;

use crate::registry::{CheckDef, Severity};
use crate::verdict::Verdict;

/// How a report is rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// `Testing … / Check … [PASS]` lines as they happen.
    #[default]
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

/// Where in a run a section's checks are made: a stable name for machines (JSON `"id"`,
/// JUnit classnames), where the section's title carries URLs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Manifest,
    Provision,
    /// The provider's callbacks after an asynchronous provision.
    Async,
    Planchange,
    Sso,
    Deprovision,
    /// `kensa run`'s command.
    Run,
    /// The provider's own calls to kensa's fake Heroku, accounted for at the end of a run.
    Heroku,
    /// `kensa templates verify`'s steps around `test all`: generate, install, unit tests,
    /// release, start, stop.
    Template,
}

impl Stage {
    pub fn key(self) -> &'static str {
        match self {
            Stage::Manifest => "manifest",
            Stage::Provision => "provision",
            Stage::Async => "async",
            Stage::Planchange => "planchange",
            Stage::Sso => "sso",
            Stage::Deprovision => "deprovision",
            Stage::Run => "run",
            Stage::Heroku => "heroku",
            Stage::Template => "template",
        }
    }
}

/// One result of one check.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub def: &'static CheckDef,
    /// The count the definition's title template (`{n}`) shows, if it has one.
    pub param: Option<String>,
    pub verdict: Verdict,
    pub duration: Duration,
    pub request: Option<RequestInfo>,
}

impl Check {
    /// A result not tied to one request.
    pub fn new(def: &'static CheckDef, verdict: Verdict) -> Check {
        Check {
            def,
            param: None,
            verdict,
            duration: Duration::ZERO,
            request: None,
        }
    }

    /// Fills the title's `{n}`.
    pub fn with_param(mut self, param: impl ToString) -> Check {
        self.param = Some(param.to_string());
        self
    }

    pub fn id(&self) -> &'static str {
        self.def.id
    }

    /// What reporters print after `Check`.
    pub fn title(&self) -> Cow<'static, str> {
        self.def.title_with(self.param.as_deref())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub stage: Stage,
    /// What people read: `POST <url>`, `SSO GET <url>`, `manifest <path>`.
    pub name: String,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub sections: Vec<Section>,
    /// The resource a `test provision` left in place, for scripts.
    pub resource: Option<LeftInPlace>,
    /// `--strict`: every broken rule failed, advice included.
    pub strict: bool,
}

/// A resource kensa provisioned and did not deprovision (`kensa test provision`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LeftInPlace {
    /// The provider's id, for `kensa test deprovision <id>`.
    pub id: String,
    /// Heroku's uuid of the resource.
    pub uuid: Option<String>,
    /// The plan it was provisioned on.
    pub plan: String,
    /// The v1 `heroku_id` it was provisioned for (v1 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heroku_id: Option<String>,
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

impl Check {
    /// A failure only `--strict` made: the broken rule is advice.
    pub fn failed_by_strict(&self) -> bool {
        self.verdict.is_fail() && self.def.severity == Severity::Advice
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
    fn section(&mut self, _stage: Stage, _name: &str) {}
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

    /// `--strict`: warnings become failures.
    pub fn strict(mut self, strict: bool) -> Self {
        self.report.strict = strict;
        self
    }

    /// Starts a section; the checks recorded next belong to it.
    pub fn section(&mut self, stage: Stage, name: impl Into<String>) {
        let name = name.into();
        self.reporter.section(stage, &name);
        self.report.sections.push(Section {
            stage,
            name,
            checks: Vec::new(),
        });
    }

    /// Records a result in the current section, settled by its check's severity (see
    /// [`Severity::settle`]): advice only warns, and `--strict` fails every warning.
    pub fn record(&mut self, mut check: Check) {
        check.verdict = check.def.severity.settle(check.verdict, self.report.strict);
        self.reporter.check(&check);
        self.report
            .sections
            .last_mut()
            .expect("a section is started before its checks")
            .checks
            .push(check);
    }

    /// Records a result not tied to one request.
    pub fn note(&mut self, def: &'static CheckDef, verdict: Verdict) {
        self.record(Check::new(def, verdict));
    }

    pub fn failed(&self) -> bool {
        self.report.failed()
    }

    /// Appends the sections of a report another recorder made and already reported (a
    /// `test all` run inside `kensa templates verify`), so that this report holds both.
    pub fn absorb(&mut self, other: Report) {
        self.report.sections.extend(other.sections);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry;

    struct Quiet;
    impl Reporter for Quiet {
        fn finish(&mut self, _: &Report) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn advice_can_only_warn() {
        let mut quiet = Quiet;
        let mut rec = Recorder::new(&mut quiet);
        rec.section(Stage::Sso, "SSO");
        rec.note(
            &registry::sso::HEROKU_HEADER,
            Verdict::Fail("no header".into()),
        );
        rec.note(&registry::sso::LOGIN, Verdict::Fail("refused".into()));
        let report = rec.finish().unwrap();
        let verdicts: Vec<&Verdict> = report.sections[0]
            .checks
            .iter()
            .map(|c| &c.verdict)
            .collect();
        assert_eq!(
            verdicts,
            [
                &Verdict::Warn("no header".into()),
                &Verdict::Fail("refused".into())
            ]
        );
        assert!(!report.sections[0].checks[0].failed_by_strict());
    }

    #[test]
    fn strict_fails_advice_and_says_so() {
        let mut quiet = Quiet;
        let mut rec = Recorder::new(&mut quiet).strict(true);
        rec.section(Stage::Sso, "SSO");
        rec.note(
            &registry::sso::HEROKU_HEADER,
            Verdict::Fail("no header".into()),
        );
        rec.note(&registry::sso::LOGIN, Verdict::Pass);
        let report = rec.finish().unwrap();
        let header = &report.sections[0].checks[0];
        assert_eq!(header.verdict, Verdict::Fail("no header".into()));
        assert!(header.failed_by_strict());
        assert!(report.failed() && report.strict);
    }

    #[test]
    fn titles_come_from_the_definition() {
        let check =
            Check::new(&registry::provision::REDELIVERY_ANSWERS, Verdict::Pass).with_param(3);
        assert_eq!(check.title(), "3 concurrent deliveries all answer");
        assert_eq!(check.id(), "provision.redelivery-answers");
    }
}
