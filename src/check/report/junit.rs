//! `--format junit`: JUnit XML as CI systems read it: a testsuite per section, a testcase
//! per check; failures as `<failure>`, skips as `<skipped>`, warnings in `<system-out>`.
//! A testcase is named by its check's id and classed by its section's stage
//! (`kensa.provision`), never by a URL or uuid, so CI can follow it from run to run.

use std::io::{self, Write};

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

use super::{Report, Reporter};
use crate::verdict::Verdict;

pub struct Junit<W: Write> {
    out: W,
}

impl<W: Write> Junit<W> {
    pub fn new(out: W) -> Self {
        Junit { out }
    }
}

/// Text for the document: secrets masked (before XML escaping hides their form), and, as
/// XML 1.0 cannot carry most control characters even escaped while messages quote the
/// provider's answers verbatim, those characters as U+FFFD so the document stays valid.
fn xml_safe(text: &str) -> std::borrow::Cow<'_, str> {
    let allowed = |c: char| {
        matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
            || c >= '\u{10000}'
    };
    let text = crate::redact::mask(text);
    if text.chars().all(allowed) {
        text
    } else {
        text.chars()
            .map(|c| if allowed(c) { c } else { '\u{FFFD}' })
            .collect()
    }
}

fn secs(d: std::time::Duration) -> String {
    format!("{:.3}", d.as_secs_f64())
}

pub fn render(report: &Report) -> io::Result<Vec<u8>> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let c = report.counts();
    let total: std::time::Duration = report.sections.iter().map(|s| s.duration()).sum();
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let mut root = BytesStart::new("testsuites");
    root.push_attribute(("name", "kensa"));
    root.push_attribute(("tests", c.total().to_string().as_str()));
    root.push_attribute(("failures", c.fail.to_string().as_str()));
    root.push_attribute(("errors", "0"));
    root.push_attribute(("skipped", c.skip.to_string().as_str()));
    root.push_attribute(("time", secs(total).as_str()));
    w.write_event(Event::Start(root))?;
    for (index, section) in report.sections.iter().enumerate() {
        let count =
            |f: fn(&Verdict) -> bool| section.checks.iter().filter(|c| f(&c.verdict)).count();
        let mut suite = BytesStart::new("testsuite");
        let section_name = xml_safe(&section.name);
        suite.push_attribute(("name", section_name.as_ref()));
        suite.push_attribute(("id", index.to_string().as_str()));
        suite.push_attribute(("tests", section.checks.len().to_string().as_str()));
        suite.push_attribute(("failures", count(Verdict::is_fail).to_string().as_str()));
        suite.push_attribute(("errors", "0"));
        suite.push_attribute((
            "skipped",
            count(|v| matches!(v, Verdict::Skip(_)))
                .to_string()
                .as_str(),
        ));
        suite.push_attribute(("time", secs(section.duration()).as_str()));
        w.write_event(Event::Start(suite))?;
        for check in &section.checks {
            let mut case = BytesStart::new("testcase");
            case.push_attribute(("name", check.id()));
            case.push_attribute((
                "classname",
                format!("kensa.{}", section.stage.key()).as_str(),
            ));
            case.push_attribute(("time", secs(check.duration).as_str()));
            let child = match &check.verdict {
                Verdict::Pass => None,
                Verdict::Fail(m) => Some(("failure", m)),
                Verdict::Skip(m) => Some(("skipped", m)),
                Verdict::Warn(m) => Some(("system-out", m)),
            };
            match child {
                None => w.write_event(Event::Empty(case))?,
                Some((tag, message)) => {
                    let message = &xml_safe(message);
                    w.write_event(Event::Start(case))?;
                    if tag == "system-out" {
                        w.write_event(Event::Start(BytesStart::new(tag)))?;
                        w.write_event(Event::Text(BytesText::new(&format!("warning: {message}"))))?;
                        w.write_event(Event::End(BytesEnd::new(tag)))?;
                    } else {
                        let mut el = BytesStart::new(tag);
                        el.push_attribute(("message", message.as_ref()));
                        if tag == "failure" {
                            el.push_attribute(("type", "check"));
                            w.write_event(Event::Start(el))?;
                            w.write_event(Event::Text(BytesText::new(message)))?;
                            w.write_event(Event::End(BytesEnd::new(tag)))?;
                        } else {
                            w.write_event(Event::Empty(el))?;
                        }
                    }
                    w.write_event(Event::End(BytesEnd::new("testcase")))?;
                }
            }
        }
        w.write_event(Event::End(BytesEnd::new("testsuite")))?;
    }
    w.write_event(Event::End(BytesEnd::new("testsuites")))?;
    let mut bytes = w.into_inner();
    bytes.push(b'\n');
    Ok(bytes)
}

impl<W: Write> Reporter for Junit<W> {
    fn finish(&mut self, report: &Report) -> io::Result<()> {
        self.out.write_all(&render(report)?)?;
        self.out.flush()
    }
}
