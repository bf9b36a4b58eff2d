//! `--format junit` output read back as CI reads it: a `<testsuites>` root, suites, cases,
//! and each case's `<failure>` or `<system-out>`.

use std::collections::BTreeMap;

use quick_xml::events::Event;

/// The JUnit document, as CI reads it.
#[derive(Debug, Default)]
pub struct Junit {
    pub root: BTreeMap<String, String>,
    pub suites: Vec<Suite>,
}

#[derive(Debug, Default)]
pub struct Suite {
    pub attrs: BTreeMap<String, String>,
    /// `<properties>`: name → value.
    pub properties: BTreeMap<String, String>,
    pub cases: Vec<Case>,
}

#[derive(Debug, Default)]
pub struct Case {
    pub attrs: BTreeMap<String, String>,
    /// `<properties>`: name → value.
    pub properties: BTreeMap<String, String>,
    pub failure: Option<(BTreeMap<String, String>, String)>,
    /// `<error>` (a run that ended in a usage error): attributes and text.
    pub error: Option<(BTreeMap<String, String>, String)>,
    pub skipped: Option<BTreeMap<String, String>>,
    pub system_out: Option<String>,
}

fn attrs(e: &quick_xml::events::BytesStart) -> BTreeMap<String, String> {
    e.attributes()
        .map(|a| {
            let a = a.expect("a well-formed attribute");
            (
                String::from_utf8(a.key.as_ref().to_vec()).unwrap(),
                a.unescape_value().expect("escaped value").into_owned(),
            )
        })
        .collect()
}

/// Parses `--format junit` output, failing the test on anything CI would choke on.
pub fn parse_junit(xml: &str) -> Junit {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut doc = Junit::default();
    let mut stack: Vec<String> = Vec::new();
    let mut roots = 0;
    loop {
        let event = reader.read_event().expect("well-formed XML");
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            _ => (None, false),
        };
        if let Some(e) = start {
            let name = String::from_utf8(e.name().as_ref().to_vec()).unwrap();
            let parent = stack.last().map(String::as_str);
            match (name.as_str(), parent) {
                ("testsuites", None) => {
                    roots += 1;
                    doc.root = attrs(&e);
                }
                ("testsuite", Some("testsuites")) => doc.suites.push(Suite {
                    attrs: attrs(&e),
                    ..Suite::default()
                }),
                ("testcase", Some("testsuite")) => {
                    doc.suites.last_mut().unwrap().cases.push(Case {
                        attrs: attrs(&e),
                        ..Case::default()
                    })
                }
                ("failure", Some("testcase")) => {
                    let case = doc.suites.last_mut().unwrap().cases.last_mut().unwrap();
                    case.failure = Some((attrs(&e), String::new()));
                }
                ("error", Some("testcase")) => {
                    let case = doc.suites.last_mut().unwrap().cases.last_mut().unwrap();
                    case.error = Some((attrs(&e), String::new()));
                }
                ("skipped", Some("testcase")) => {
                    let case = doc.suites.last_mut().unwrap().cases.last_mut().unwrap();
                    case.skipped = Some(attrs(&e));
                }
                ("properties", Some("testsuite" | "testcase")) => {}
                ("property", Some("properties")) => {
                    let a = attrs(&e);
                    let (name, value) = (a["name"].clone(), a["value"].clone());
                    let suite = doc.suites.last_mut().unwrap();
                    // Under the last testcase when the suite has started its cases.
                    let in_case = stack.iter().any(|s| s == "testcase");
                    match suite.cases.last_mut().filter(|_| in_case) {
                        Some(case) => case.properties.insert(name, value),
                        None => suite.properties.insert(name, value),
                    };
                }
                ("system-out", Some("testcase")) => {
                    let case = doc.suites.last_mut().unwrap().cases.last_mut().unwrap();
                    case.system_out = Some(String::new());
                }
                (other, parent) => panic!("unexpected <{other}> in {parent:?}"),
            }
            if !empty {
                stack.push(name);
            }
            continue;
        }
        match event {
            Event::End(_) => {
                stack.pop();
            }
            Event::Text(t) => {
                let text = t.unescape().unwrap().into_owned();
                if text.trim().is_empty() {
                    continue;
                }
                let case = doc
                    .suites
                    .last_mut()
                    .and_then(|s| s.cases.last_mut())
                    .expect("text inside a testcase");
                match stack.last().map(String::as_str) {
                    Some("failure") => case.failure.as_mut().unwrap().1.push_str(&text),
                    Some("error") => case.error.as_mut().unwrap().1.push_str(&text),
                    Some("system-out") => case.system_out.as_mut().unwrap().push_str(&text),
                    other => panic!("text in {other:?}"),
                }
            }
            Event::Eof => break,
            Event::Decl(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(roots, 1, "one <testsuites> root");
    assert!(stack.is_empty());
    doc
}

/// A numeric attribute.
pub fn num(map: &BTreeMap<String, String>, key: &str) -> usize {
    map.get(key)
        .unwrap_or_else(|| panic!("no {key} in {map:?}"))
        .parse()
        .unwrap()
}
