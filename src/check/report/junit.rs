//! `--format junit`: JUnit XML as CI systems read it: a testsuite per section, a testcase
//! per check; failures as `<failure>` (typed `requirement`, or `advice (--strict)`), skips
//! as `<skipped>`, warnings in `<system-out>`. Testsuites are named by their stage
//! (`provision`) and testcases by their check's id, classed `kensa.<stage>`, never by a
//! URL, port or uuid, so CI can follow them from run to run; each testcase's properties
//! carry its severity, rule and source.

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

/// `<properties>` with these name/value pairs.
fn properties<W: Write>(w: &mut Writer<W>, pairs: &[(&str, &str)]) -> io::Result<()> {
    w.write_event(Event::Start(BytesStart::new("properties")))?;
    for (name, value) in pairs {
        let mut p = BytesStart::new("property");
        p.push_attribute(("name", *name));
        p.push_attribute(("value", xml_safe(value).as_ref()));
        w.write_event(Event::Empty(p))?;
    }
    w.write_event(Event::End(BytesEnd::new("properties")))?;
    Ok(())
}

pub fn render(report: &Report) -> io::Result<Vec<u8>> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    let c = report.counts();
    let total: std::time::Duration = report.sections.iter().map(|s| s.duration()).sum();
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    let mut root = BytesStart::new("testsuites");
    root.push_attribute(("name", "kensa"));
    tally(&mut root, [c.total(), c.fail, 0, c.skip], &secs(total));
    w.write_event(Event::Start(root))?;
    for (index, section) in report.sections.iter().enumerate() {
        let count =
            |f: fn(&Verdict) -> bool| section.checks.iter().filter(|c| f(&c.verdict)).count();
        let mut suite = BytesStart::new("testsuite");
        // The stage, never the section's title: that names URLs with ports and uuids.
        suite.push_attribute(("name", section.stage.key()));
        suite.push_attribute(("id", index.to_string().as_str()));
        let skipped = count(|v| matches!(v, Verdict::Skip(_)));
        let counts = [section.checks.len(), count(Verdict::is_fail), 0, skipped];
        tally(&mut suite, counts, &secs(section.duration()));
        w.write_event(Event::Start(suite))?;
        properties(
            &mut w,
            &[
                ("title", &section.name),
                ("strict", if report.strict { "true" } else { "false" }),
            ],
        )?;
        for check in &section.checks {
            let def = check.def;
            let mut case = BytesStart::new("testcase");
            case.push_attribute(("name", check.id()));
            case.push_attribute((
                "classname",
                format!("kensa.{}", section.stage.key()).as_str(),
            ));
            case.push_attribute(("time", secs(check.duration).as_str()));
            w.write_event(Event::Start(case))?;
            properties(
                &mut w,
                &[
                    ("title", &check.title()),
                    ("severity", def.severity.label()),
                    ("rule", def.rule),
                    ("source", &def.source_line()),
                ],
            )?;
            match &check.verdict {
                Verdict::Pass => {}
                Verdict::Fail(m) => {
                    let message = xml_safe(m);
                    let mut el = BytesStart::new("failure");
                    el.push_attribute(("message", message.as_ref()));
                    // A requirement broken, or advice failed by --strict.
                    let kind = if check.failed_by_strict() {
                        "advice (--strict)"
                    } else {
                        "requirement"
                    };
                    el.push_attribute(("type", kind));
                    w.write_event(Event::Start(el))?;
                    w.write_event(Event::Text(BytesText::new(&message)))?;
                    w.write_event(Event::End(BytesEnd::new("failure")))?;
                }
                Verdict::Skip(m) => {
                    let mut el = BytesStart::new("skipped");
                    el.push_attribute(("message", xml_safe(m).as_ref()));
                    w.write_event(Event::Empty(el))?;
                }
                Verdict::Warn(m) => {
                    w.write_event(Event::Start(BytesStart::new("system-out")))?;
                    let text = format!("warning (advice): {}", xml_safe(m));
                    w.write_event(Event::Text(BytesText::new(&text)))?;
                    w.write_event(Event::End(BytesEnd::new("system-out")))?;
                }
            }
            w.write_event(Event::End(BytesEnd::new("testcase")))?;
        }
        w.write_event(Event::End(BytesEnd::new("testsuite")))?;
    }
    w.write_event(Event::End(BytesEnd::new("testsuites")))?;
    let mut bytes = w.into_inner();
    bytes.push(b'\n');
    Ok(bytes)
}

/// The tally a `testsuites` or `testsuite` element carries: `[tests, failures, errors,
/// skipped]`, then the time.
fn tally(element: &mut BytesStart, [tests, failures, errors, skipped]: [usize; 4], time: &str) {
    for (name, n) in [
        ("tests", tests),
        ("failures", failures),
        ("errors", errors),
        ("skipped", skipped),
    ] {
        element.push_attribute((name, n.to_string().as_str()));
    }
    element.push_attribute(("time", time));
}

/// A valid document for a run that ended in a usage or input error (exit status 2), so
/// the report file CI reads still parses and says what went wrong.
pub fn render_error(message: &str) -> io::Result<Vec<u8>> {
    let mut w = Writer::new_with_indent(Vec::new(), b' ', 2);
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    // One test, the command itself, in error.
    let counts = [1, 0, 1, 0];
    let mut root = BytesStart::new("testsuites");
    root.push_attribute(("name", "kensa"));
    tally(&mut root, counts, "0.000");
    w.write_event(Event::Start(root))?;
    let mut suite = BytesStart::new("testsuite");
    suite.push_attribute(("name", "kensa"));
    suite.push_attribute(("id", "0"));
    tally(&mut suite, counts, "0.000");
    w.write_event(Event::Start(suite))?;
    let mut case = BytesStart::new("testcase");
    case.push_attribute(("name", "kensa.usage"));
    case.push_attribute(("classname", "kensa"));
    case.push_attribute(("time", "0.000"));
    w.write_event(Event::Start(case))?;
    let message = xml_safe(message);
    let mut error = BytesStart::new("error");
    error.push_attribute(("message", message.as_ref()));
    error.push_attribute(("type", "usage"));
    w.write_event(Event::Start(error))?;
    w.write_event(Event::Text(BytesText::new(&message)))?;
    w.write_event(Event::End(BytesEnd::new("error")))?;
    w.write_event(Event::End(BytesEnd::new("testcase")))?;
    w.write_event(Event::End(BytesEnd::new("testsuite")))?;
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
