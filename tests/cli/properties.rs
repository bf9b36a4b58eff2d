//! Property tests: arbitrary bytes and JSON-ish documents to manifest loading and
//! validation, arbitrary provider answers to the checks that interpret them. Every case
//! must end in a value or a clear error, never a panic. These drive the library, not the
//! binary: the properties are about functions, and thousands of cases must run in seconds.
//!
//! The number of cases comes from `PROPTEST_CASES` (default 256, what CI runs); run it long
//! locally with e.g. `PROPTEST_CASES=200000 cargo test --release --test cli properties`.
//! A failing case is saved in `tests/proptest-regressions/properties.txt` and replayed
//! first.

use std::path::Path;
use std::time::Duration;

use kensa::check::cookies::CookieJar;
use kensa::check::report::human::Human;
use kensa::check::report::json::document;
use kensa::check::report::junit;
use kensa::check::report::{Check, Recorder, Report, Stage};
use kensa::check::{answer, config};
use kensa::http::Exchange;
use kensa::manifest::{validate, Endpoint, Manifest, ManifestError};
use kensa::registry;
use kensa::scaffold::init::ensure_valid;
use kensa::scaffold::spec::TemplateSpec;
use kensa::scaffold::values;
use kensa::verdict::Verdict;
use proptest::prelude::*;
use serde_json::{Map, Number, Value};

use crate::harness::library;

/// `PROPTEST_CASES`, else 256: short enough for every CI run. (`proptest!` also applies
/// `PROPTEST_CASES` over any config it is given; this makes the default explicit.)
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(256)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        ..ProptestConfig::default()
    }
}

/// For the expensive strategies (bodies of megabytes): a 256th of the cases, at least 8.
fn few_cases() -> ProptestConfig {
    ProptestConfig {
        cases: (cases() / 256).max(8),
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------------------
// Strategies.

/// Strings a manifest or an answer plausibly holds, and anything at all.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        2 => prop::sample::select(vec![
            "", " ", "\t\n", "us", "eu", "*", "mars", "3", "1", "my-addon", "My_Addon",
            "MY_ADDON", "MY_ADDON_URL", "my_addon_url", "OTHER_URL", "log_input",
            "syslog_drain", "teleport", "https://x.com/heroku/resources",
            "http://localhost:5000/heroku/resources", "http://localhost:5000/",
            "https://yourapp.com/sso/login", "not a url", "http://", "ftp://x.com/",
            "postgres://u:p@0.0.0.0:5432/db", "http://[::1]:80/", "id", "config",
            "\u{0}", "\u{1b}[31m", "\u{feff}", "café", "日本", "a=b; Path=/",
        ])
        .prop_map(str::to_owned),
        1 => "[a-zA-Z0-9_:/.@%-]{0,40}",
    ]
}

fn number() -> impl Strategy<Value = Number> {
    prop_oneof![
        any::<i64>().prop_map(Number::from),
        any::<u64>().prop_map(Number::from),
        any::<f64>().prop_filter_map("finite", Number::from_f64),
        Just(Number::from(3)),
        Just(Number::from(0)),
    ]
}

/// JSON of every shape, a few levels deep.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number().prop_map(Value::Number),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((text(), inner), 0..8)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// A value for a field: usually the right shape, often any JSON at all.
fn field(right: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<Value> {
    prop_oneof![3 => right, 2 => json()].boxed()
}

fn strings() -> impl Strategy<Value = Value> {
    prop::collection::vec(text().prop_map(Value::String), 0..5).prop_map(Value::Array)
}

fn endpoint() -> impl Strategy<Value = Value> {
    prop_oneof![
        text().prop_map(Value::String),
        (
            prop::option::of(field(text().prop_map(Value::String))),
            prop::option::of(field(text().prop_map(Value::String))),
        )
            .prop_map(|(base, sso)| {
                let mut o = Map::new();
                if let Some(b) = base {
                    o.insert("base_url".into(), b);
                }
                if let Some(s) = sso {
                    o.insert("sso_url".into(), s);
                }
                Value::Object(o)
            }),
    ]
}

/// Inserts each present field, then a few unknown keys, into an object.
fn object(fields: Vec<(&'static str, Option<Value>)>, extra: Vec<(String, Value)>) -> Value {
    let mut o = Map::new();
    for (k, v) in fields {
        if let Some(v) = v {
            o.insert(k.to_owned(), v);
        }
    }
    for (k, v) in extra {
        o.entry(k).or_insert(v);
    }
    Value::Object(o)
}

fn api() -> impl Strategy<Value = Value> {
    let s = || field(text().prop_map(Value::String));
    let opt = prop::option::of;
    (
        (
            opt(s()),
            opt(field(strings())),
            opt(s()),
            opt(s()),
            opt(field(strings())),
            opt(field(strings())),
        ),
        (
            opt(field(endpoint())),
            opt(field(endpoint())),
            opt(field(prop_oneof![
                Just(Value::from("3")),
                text().prop_map(Value::String)
            ])),
            opt(s()),
            prop::collection::vec((text(), json()), 0..3),
        ),
    )
        .prop_map(
            |(
                (prefix, vars, password, salt, regions, requires),
                (production, test, version, username, extra),
            )| {
                object(
                    vec![
                        ("config_vars_prefix", prefix),
                        ("config_vars", vars),
                        ("password", password),
                        ("sso_salt", salt),
                        ("regions", regions),
                        ("requires", requires),
                        ("production", production),
                        ("test", test),
                        ("version", version),
                        ("username", username),
                    ],
                    extra,
                )
            },
        )
}

/// A manifest-like document: the known fields, each present or not, of the right type or
/// not, and unknown keys beside them.
fn manifest_doc() -> impl Strategy<Value = Map<String, Value>> {
    let s = || field(text().prop_map(Value::String));
    (
        prop::option::of(s()),
        prop::option::of(s()),
        prop::option::of(field(api())),
        prop::collection::vec((text(), json()), 0..3),
    )
        .prop_map(|(id, name, api, extra)| {
            match object(vec![("id", id), ("name", name), ("api", api)], extra) {
                Value::Object(o) => o,
                _ => unreachable!("object() makes objects"),
            }
        })
}

/// Bytes a manifest file might hold: noise, JSON, broken JSON, nothing.
fn manifest_bytes() -> impl Strategy<Value = Vec<u8>> {
    let doc_text = || manifest_doc().prop_map(|d| serde_json::to_vec_pretty(&d).unwrap());
    prop_oneof![
        2 => prop::collection::vec(any::<u8>(), 0..256),
        3 => doc_text(),
        2 => (doc_text(), any::<prop::sample::Index>(), prop::collection::vec(any::<u8>(), 0..4))
            .prop_map(|(mut bytes, at, noise)| {
                // Truncate or splice noise in: almost JSON.
                let i = at.index(bytes.len() + 1);
                bytes.truncate(i.max(1));
                bytes.extend(noise);
                bytes
            }),
        1 => json().prop_map(|v| serde_json::to_vec(&v).unwrap()),
        1 => prop::sample::select(vec![
            &b""[..], b" \n\t", b"\xef\xbb\xbf{}", b"{}", b"[]", b"null", b"\"s\"", b"3",
            b"{\"id\":", b"{\"a\":1,}", b"\xff\xfe{", b"1e400", b"{\"id\": \"\\ud800\"}",
        ])
        .prop_map(<[u8]>::to_vec),
        1 => (1usize..2000).prop_map(|n| {
            let mut b = vec![b'['; n];
            b.extend(vec![b']'; n]);
            b
        }),
    ]
}

fn html() -> impl Strategy<Value = Vec<u8>> {
    text().prop_map(|t| {
        format!("<!DOCTYPE html>\n<html><head><title>{t}</title></head>\r\n<body><h1 id=\"heroku-header\">{t}</h1></body></html>")
            .into_bytes()
    })
}

/// Answer bodies: JSON of every shape (and provision-like objects), HTML, invalid UTF-8,
/// broken JSON, whitespace, and now and then a large one.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let answer = (
        prop::option::of(field(prop_oneof![
            text().prop_map(Value::String),
            number().prop_map(Value::Number)
        ])),
        prop::option::of(field(
            prop::collection::vec((text(), field(text().prop_map(Value::String))), 0..5)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        )),
        prop::option::of(s_value()),
        prop::collection::vec((text(), json()), 0..2),
    )
        .prop_map(|(id, config, drain, extra)| {
            object(
                vec![("id", id), ("config", config), ("log_drain_url", drain)],
                extra,
            )
        });
    prop_oneof![
        3 => answer.prop_map(|v| serde_json::to_vec(&v).unwrap()),
        2 => json().prop_map(|v| serde_json::to_vec_pretty(&v).unwrap()),
        2 => prop::collection::vec(any::<u8>(), 0..512),
        1 => html(),
        1 => prop::sample::select(vec![
            &b""[..], b"   \n", b"\xff\xfe\xfd", b"{\"id\": \"1\"", b"\xc3(", b"\xed\xa0\x80",
            b"{\"id\":\"\\u0000\"}", b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        ])
        .prop_map(<[u8]>::to_vec),
        1 => (prop::collection::vec(any::<u8>(), 1..64), 1usize..4096)
            .prop_map(|(chunk, n)| chunk.repeat(n)),
    ]
}

fn s_value() -> BoxedStrategy<Value> {
    field(text().prop_map(Value::String))
}

fn header() -> impl Strategy<Value = (String, String)> {
    let name = prop_oneof![
        3 => prop::sample::select(vec![
            "Set-Cookie", "set-cookie", "SET-COOKIE", "Content-Type", "Location", "location",
        ])
        .prop_map(str::to_owned),
        1 => text(),
    ];
    let value = prop_oneof![
        2 => text(),
        2 => (text(), text(), text())
            .prop_map(|(k, v, attrs)| format!("{k}={v}; {attrs}")),
        1 => prop::sample::select(vec![
            "", "=", ";", "=;", "a", "heroku-nav-data=\"x%20y\"; Path=/", " k = v ;",
            "application/json", "text/html; charset=utf-8",
        ])
        .prop_map(str::to_owned),
    ];
    (name, value)
}

fn exchange_with(body: impl Strategy<Value = Vec<u8>>) -> impl Strategy<Value = Exchange> {
    (
        prop::sample::select(vec!["GET", "POST", "PUT", "DELETE"]),
        text(),
        prop_oneof![
            3 => prop::sample::select(vec![200u16, 201, 202, 204, 301, 302, 400, 401, 403, 404, 422, 500, 503]),
            1 => any::<u16>(),
        ],
        prop::collection::vec(header(), 0..6),
        body,
        0u64..10_000,
    )
        .prop_map(|(method, url, status, headers, body, ms)| Exchange {
            method,
            url,
            status,
            headers,
            body,
            elapsed: Duration::from_millis(ms),
        })
}

fn exchange() -> impl Strategy<Value = Exchange> {
    exchange_with(body())
}

/// Megabyte bodies, up to past the client's 8 MiB limit, of every kind.
fn huge_body() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![
            prop::collection::vec(any::<u8>(), 1..64),
            Just(b"<p>\xe2\x80\xa6 page \xff</p>\n".to_vec()),
            Just(b"[".to_vec()),
            Just(b"{\"id\":\"1\",".to_vec()),
            Just(b"\"aaaaaaaa".to_vec()),
        ],
        (1usize << 20)..(9 << 20),
    )
        .prop_map(|(chunk, size)| {
            let mut body = chunk.repeat(size / chunk.len() + 1);
            body.truncate(size);
            body
        })
}

// ---------------------------------------------------------------------------------------
// Helpers.

/// The rule names every validation returns, in order, whatever the document.
fn rule_names() -> Vec<&'static str> {
    let good = Manifest::new_addon(&kensa::manifest::AddonSpec {
        id: "my-addon".into(),
        name: "My Addon".into(),
        regions: vec!["us".into()],
        sso: Some(kensa::manifest::SsoMethod::Post),
        port: 5000,
    });
    validate::validate(&good)
        .iter()
        .map(|r| r.check.title)
        .collect()
}

/// True when a known top-level field has a JSON type the manifest does not allow.
fn wrong_type(key: &str, value: &Value) -> bool {
    match key {
        "id" | "name" => !value.is_string(),
        "api" => !value.is_object(),
        _ => false,
    }
}

/// The same for the fields of `api`.
fn wrong_api_type(key: &str, value: &Value) -> bool {
    match key {
        "config_vars_prefix" | "password" | "sso_salt" => !value.is_string(),
        // The number 3 is read as "3".
        "version" => !value.is_string() && !kensa::manifest::is_version_3(value),
        "regions" | "config_vars" | "requires" => !value.is_array(),
        "test" | "production" => !(value.is_string() || value.is_object()),
        _ => false,
    }
}

/// Runs every read of a manifest kensa makes, checking what can be checked.
fn exercise(m: &Manifest, any_id: &str, port: u16) {
    let results = validate::validate(m);
    let names: Vec<&str> = results.iter().map(|r| r.check.title).collect();
    assert_eq!(names, rule_names(), "the same rules, in the same order");
    for r in &results {
        if let Some(msg) = r.verdict.message() {
            assert!(
                !msg.trim().is_empty(),
                "{}: a verdict without a message",
                r.check.id
            );
        }
    }
    let failures: Vec<&validate::RuleResult> =
        results.iter().filter(|r| r.verdict.is_fail()).collect();
    match ensure_valid(m) {
        Ok(()) => assert!(failures.is_empty()),
        Err(e) => {
            let text = e.to_string();
            assert!(!failures.is_empty(), "{text}");
            for f in &failures {
                let title = f.check.title;
                assert!(text.contains(title), "{text} lacks {title}");
            }
        }
    }

    // A field of the wrong type fails (or, for a rule of advice, warns) with a message
    // naming the field.
    let fail_messages: Vec<&str> = results
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Fail(_) | Verdict::Warn(_)))
        .filter_map(|r| r.verdict.message())
        .collect();
    let named = |field: &str| fail_messages.iter().any(|m| m.contains(field));
    for key in ["id", "name", "api"] {
        if let Some(v) = m.doc.get(key).filter(|v| wrong_type(key, v)) {
            assert!(named(&format!("`{key}`")), "{key} = {v}: {fail_messages:?}");
        }
    }
    if let Some(api) = m.api() {
        for (key, v) in api {
            if wrong_api_type(key, v) {
                assert!(
                    named(&format!("`api.{key}`")),
                    "api.{key} = {v}: {fail_messages:?}"
                );
            }
        }
    }

    // The accessors agree with the document.
    let _ = (
        m.id(),
        m.name(),
        m.password(),
        m.sso_salt(),
        m.config_prefix(),
    );
    // The secrets to mask are exactly the non-empty password and salt strings.
    let secret = |key: &str| {
        m.api()
            .and_then(|a| a.get(key))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let expected: Vec<String> = [secret("password"), secret("sso_salt")]
        .into_iter()
        .flatten()
        .collect();
    // The password and the salt, then what credentials the URLs carry (issue 10).
    let secrets = m.secrets();
    assert_eq!(secrets[..expected.len()], expected[..]);
    assert!(secrets[expected.len()..].iter().all(|s| !s.is_empty()));
    let version = m.api().and_then(|a| a.get("version"));
    assert_eq!(
        m.is_v3(),
        version.is_some_and(kensa::manifest::is_version_3)
    );
    for (list, key) in [(m.config_vars(), "config_vars"), (m.requires(), "requires")] {
        let source = m.api().and_then(|a| a.get(key)).and_then(Value::as_array);
        let strings: Vec<String> = source
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        assert_eq!(list, strings, "{key}");
    }
    for production in [false, true] {
        if let Some(e) = m.endpoint(production) {
            let collection = e.resources_url();
            let one = e.resource_url(any_id);
            assert!(one.starts_with(collection.trim_end_matches('/')), "{one}");
            assert!(!one[collection.trim_end_matches('/').len()..][1..].contains('/'));
            if let Endpoint::Urls { base_url, .. } = &e {
                assert_eq!(&collection, base_url);
            }
        }
    }

    // Written out and read back, the document is the same (unknown keys included).
    let again = Manifest::parse(m.to_json().as_bytes(), Path::new("m.json")).unwrap();
    assert_eq!(&again, m);

    let mut moved = m.clone();
    moved.set_test_port(port);
    if let Some(e) = moved.endpoint(false) {
        if m.endpoint(false).is_some() {
            let url = e.resources_url();
            assert!(
                url.starts_with(&format!("http://localhost:{port}/")),
                "{url}"
            );
        }
    }
}

/// A reporter that renders the human format into memory, as the terminal would get it.
fn human() -> Human<Vec<u8>> {
    Human::new(Vec::new())
}

/// Every reporter renders the report; JUnit must stay valid XML and JSON valid JSON.
fn render_everywhere(report: &Report) {
    let doc = document(report, "m.json", "test");
    let text = serde_json::to_string(&doc).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), doc);
    assert_valid_xml(&junit::render(report).unwrap());
}

fn assert_valid_xml(bytes: &[u8]) {
    let text = std::str::from_utf8(bytes).expect("JUnit output is UTF-8");
    if let Some(bad) = text.chars().find(|&c| {
        !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
            && c < '\u{10000}'
    }) {
        panic!("JUnit output has {bad:?}, which XML 1.0 does not allow:\n{text}");
    }
    let mut reader = quick_xml::Reader::from_str(text);
    let mut depth = 0i32;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Start(_)) => depth += 1,
            Ok(quick_xml::events::Event::End(_)) => depth -= 1,
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("JUnit output is not XML ({e}):\n{text}"),
        }
    }
    assert_eq!(depth, 0, "unbalanced JUnit output:\n{text}");
}

/// A manifest whose only varying part is the declared config vars.
fn manifest_declaring(vars: &[String]) -> Manifest {
    let doc = serde_json::json!({
        "id": "my-addon",
        "api": {
            "config_vars": vars,
            "password": "p",
            "regions": ["us"],
            "test": "http://localhost:5000/",
            "production": "https://x.com/",
        }
    });
    Manifest {
        doc: doc.as_object().unwrap().clone(),
    }
}

const CONFIG_CHECKS: [&str; 5] = [
    "config is an object",
    "config keys are declared",
    "every declared config var is returned",
    "config values are strings",
    "config URLs are valid",
];

fn verdict<'a>(checks: &'a [Check], name: &str) -> Option<&'a Verdict> {
    checks
        .iter()
        .find(|c| c.title() == name)
        .map(|c| &c.verdict)
}

fn check_exchange(x: &Exchange, max: usize) {
    // snippet: bounded, one line, a prefix of the body as text.
    let lossy = String::from_utf8_lossy(&x.body);
    let s = x.snippet(max);
    assert!(!s.contains(['\n', '\r']), "{s:?}");
    let total = lossy.chars().count();
    let shown = s.chars().count();
    if total > max {
        assert_eq!(shown, max + 1);
        assert!(s.ends_with('…'));
    } else {
        assert_eq!(shown, total);
    }
    let expected: String = lossy
        .chars()
        .take(max)
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    assert!(s.starts_with(&expected));

    // json: Ok exactly when serde_json parses a non-empty body; errors say why, on one line.
    let parsed = serde_json::from_slice::<Value>(&x.body);
    match x.json() {
        Ok(v) => assert_eq!(Some(v), parsed.ok()),
        Err(why) => {
            assert!(parsed.is_err() || x.body.is_empty());
            assert!(
                why == "the body is empty" || why.starts_with("the body is not JSON ("),
                "{why}"
            );
            assert!(!why.contains('\n'), "{why:?}");
            assert!(why.chars().count() < 600, "{} chars", why.chars().count());
        }
    }

    // describe: the status first, bounded, one line.
    let d = x.describe();
    assert!(d.starts_with(&x.status.to_string()), "{d}");
    assert!(!d.contains('\n'));
    assert!(d.chars().count() <= 200 + 30, "{} chars", d.chars().count());
    assert_eq!(x.is_success(), (200..300).contains(&x.status));

    // set_cookies: one pair per Set-Cookie header at most, names without `=` or `;`.
    let cookies = x.set_cookies();
    let headers = x
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .count();
    assert!(cookies.len() <= headers);
    for (name, value) in &cookies {
        assert!(!name.contains(['=', ';']), "{name:?}");
        assert!(!value.contains(';'), "{value:?}");
        assert_eq!(name.trim(), name);
    }
    for (k, v) in &x.headers {
        let found = x.header(&k.to_ascii_uppercase()).unwrap();
        // The first header of that name (any case) wins.
        let first = x
            .headers
            .iter()
            .find(|(k2, _)| k2.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str());
        assert_eq!(Some(found), first, "{k}: {v}");
    }

    // answer_object: one "valid JSON" check, passing exactly when the body is an object.
    let mut reporter = human();
    let mut rec = Recorder::new(&mut reporter);
    rec.section(Stage::Provision, "POST");
    let answer = answer::answer_object(&mut rec, &registry::provision::JSON, x);
    let report = rec.finish().unwrap();
    let checks = &report.sections[0].checks;
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].title(), "valid JSON");
    let request = checks[0].request.as_ref().unwrap();
    assert_eq!(
        (request.method.as_str(), request.url.as_str()),
        (x.method, x.url.as_str())
    );
    match (&answer, x.json()) {
        (Some(o), Ok(Value::Object(p))) => {
            assert_eq!(o, &p);
            assert_eq!(checks[0].verdict, Verdict::Pass);
        }
        (None, Ok(Value::Object(_))) => panic!("an object answer was refused"),
        (Some(_), _) => panic!("a non-object answer was accepted"),
        (None, _) => assert!(checks[0].verdict.is_fail()),
    }
    render_everywhere(&report);

    // The id: a non-blank string kept as is, or a number as text; nothing else.
    let value = x.json().ok();
    let id = value.as_ref().and_then(answer::id_of_value);
    if let Some(id) = &id {
        assert!(!id.trim().is_empty());
        match &value.as_ref().unwrap()["id"] {
            Value::String(s) => assert_eq!(s, id),
            Value::Number(n) => assert_eq!(&n.to_string(), id),
            other => panic!("id {id:?} from {other}"),
        }
    }
    if let Some(o) = &answer {
        assert_eq!(answer::id_of(o), id);
    }
}

// ---------------------------------------------------------------------------------------
// Properties.

proptest! {
    #![proptest_config(config())]

    /// Any bytes: a manifest or an error naming the file; a manifest survives every read.
    #[test]
    fn manifest_bytes_load_or_fail_clearly(
        bytes in manifest_bytes(),
        id in text(),
        port in 1u16..,
    ) {
        let path = Path::new("dir/addon-manifest.json");
        match Manifest::parse(&bytes, path) {
            Ok(m) => exercise(&m, &id, port),
            Err(e) => {
                let text = e.to_string();
                prop_assert!(text.starts_with("dir/addon-manifest.json"), "{}", text);
                prop_assert!(!text.contains('\n'), "{:?}", text);
                match e {
                    ManifestError::Parse { line, message, .. } => {
                        prop_assert!(line >= 1);
                        prop_assert!(!message.is_empty());
                        prop_assert!(!message.contains(" at line "), "{}", message);
                    }
                    ManifestError::Empty { .. } => {
                        prop_assert!(bytes.iter().all(u8::is_ascii_whitespace));
                    }
                    ManifestError::NotObject { found, .. } => {
                        prop_assert!(text.ends_with(found));
                    }
                    ManifestError::Read { .. } | ManifestError::NotFound { .. } => {
                        prop_assert!(false, "parse neither reads nor searches")
                    }
                }
            }
        }
    }

    /// Any manifest-like document: every rule gives a verdict, wrong types are named.
    #[test]
    fn manifest_documents_validate_without_panicking(
        doc in manifest_doc(),
        id in text(),
        port in 1u16..,
    ) {
        exercise(&Manifest { doc }, &id, port);
    }

    /// Any answer: the readings of it (JSON, snippet, cookies, id) never panic and agree.
    #[test]
    fn provider_answers_are_interpreted_without_panicking(
        x in exchange(),
        max in 0usize..300,
    ) {
        check_exchange(&x, max);
    }

    /// Any `config` in any answer, against any declared config vars, test or production.
    #[test]
    fn config_checks_take_any_answer(
        declared in prop::collection::vec(text(), 0..4),
        answer in prop_oneof![
            json(),
            prop::collection::vec((text(), json()), 0..6)
                .prop_map(|pairs| serde_json::json!({
                    "config": Value::Object(pairs.into_iter().collect())
                })),
        ],
        required in any::<bool>(),
        production in any::<bool>(),
    ) {
        let manifest = manifest_declaring(&declared);
        let provider = library::provider(&manifest, production).unwrap();
        let answer = match answer {
            Value::Object(o) => o,
            other => [("config".to_owned(), other)].into_iter().collect(),
        };
        let mut reporter = human();
        let mut rec = Recorder::new(&mut reporter);
        rec.section(Stage::Provision, "POST");
        config::check(&mut rec, &provider, &answer, required);
        let report = rec.finish().unwrap();
        let checks: Vec<Check> = report.sections.iter().flat_map(|s| s.checks.clone()).collect();
        for c in &checks {
            prop_assert!(CONFIG_CHECKS.contains(&c.title().as_ref()), "{}", c.id());
            if let Some(m) = c.verdict.message() {
                prop_assert!(!m.trim().is_empty(), "{}", c.id());
            }
        }
        match answer.get("config") {
            Some(Value::Object(config)) => {
                // Whether every declared var came is asked of a provision's config only.
                prop_assert_eq!(checks.len(), if required { 5 } else { 4 });
                let strings = config.values().all(Value::is_string);
                prop_assert_eq!(
                    verdict(&checks, "config values are strings") == Some(&Verdict::Pass),
                    strings
                );
                let undeclared = config.keys().any(|k| !declared.contains(k));
                prop_assert_eq!(
                    verdict(&checks, "config keys are declared").is_some_and(Verdict::is_fail),
                    undeclared
                );
            }
            Some(_) => {
                prop_assert_eq!(checks.len(), 1);
                prop_assert!(verdict(&checks, "config is an object").unwrap().is_fail());
            }
            None => {
                let declared_any = !manifest.config_vars().is_empty();
                prop_assert_eq!(checks.len(), usize::from(required && declared_any));
                if required && declared_any {
                    prop_assert_eq!(checks[0].id(), "config.all-returned");
                }
            }
        }
        render_everywhere(&report);
    }

    /// Config set through the Platform API takes the same checks, with any values.
    #[test]
    fn config_values_take_any_map(
        declared in prop::collection::vec(text(), 0..4),
        config in prop::collection::vec((text(), json()), 0..6),
        production in any::<bool>(),
    ) {
        let manifest = manifest_declaring(&declared);
        let provider = library::provider(&manifest, production).unwrap();
        let config: Map<String, Value> = config.into_iter().collect();
        let mut reporter = human();
        let mut rec = Recorder::new(&mut reporter);
        rec.section(Stage::Async, "callbacks");
        config::check_values(&mut rec, &provider, &config, true);
        let report = rec.finish().unwrap();
        let names: Vec<String> = report.sections[0].checks.iter().map(|c| c.title().into_owned()).collect();
        prop_assert_eq!(names, &CONFIG_CHECKS[1..]);
        render_everywhere(&report);
    }

    /// Any text a check may carry (a section title, a message, a title's count) renders in
    /// every format (JUnit stays XML), for any check of the registry.
    #[test]
    fn reports_render_any_text(
        sections in prop::collection::vec(
            (
                text(),
                prop::collection::vec(
                    (0..registry::ALL.len(), 0u8..4, text(), prop::option::of(text())),
                    0..4,
                ),
            ),
            0..4,
        ),
    ) {
        let mut reporter = human();
        let mut rec = Recorder::new(&mut reporter);
        for (section, checks) in sections {
            rec.section(Stage::Provision, section);
            for (index, kind, message, param) in checks {
                let verdict = match kind {
                    0 => Verdict::Pass,
                    1 => Verdict::Warn(message),
                    2 => Verdict::Fail(message),
                    _ => Verdict::Skip(message),
                };
                let mut check = Check::new(registry::ALL[index], verdict);
                check.param = param;
                rec.record(check);
            }
        }
        render_everywhere(&rec.finish().unwrap());
    }
}

/// Bodies of megabytes, to past the client's limit: still a value or a clear error. A
/// runner of its own, because `proptest!` lets `PROPTEST_CASES` override any config, and a
/// long run of these would take hours.
#[test]
fn huge_answers_are_interpreted_without_panicking() {
    let mut runner = proptest::test_runner::TestRunner::new(few_cases());
    let strategy = (exchange_with(huge_body()), 0usize..300);
    let result = runner.run(&strategy, |(x, max)| {
        check_exchange(&x, max);
        Ok(())
    });
    match result {
        Ok(()) => {}
        // Not the whole value: its body is megabytes.
        Err(proptest::test_runner::TestError::Fail(why, (x, max))) => panic!(
            "{why}; minimal failing input: status {}, headers {:?}, a body of {} bytes \
             starting {:?}, max {max}",
            x.status,
            x.headers,
            x.body.len(),
            String::from_utf8_lossy(&x.body[..x.body.len().min(64)]),
        ),
        Err(e) => panic!("{e}"),
    }
}

// ---------------------------------------------------------------------------------------
// Regressions found by the properties above, pinned.

/// A provider's answer quoted in a failure message carried control characters (here an
/// ANSI colour code and a NUL) into `--format junit`, which XML 1.0 cannot hold: CI
/// systems refused the whole report.
#[test]
fn regression_junit_carried_control_characters_from_provider_answers() {
    let x = Exchange {
        method: "POST",
        url: "http://localhost:5000/heroku/resources".into(),
        status: 500,
        headers: vec![],
        body: b"\x1b[31mboom\x00\x0b\x7f".to_vec(),
        elapsed: Duration::ZERO,
    };
    let mut reporter = human();
    let mut rec = Recorder::new(&mut reporter);
    rec.section(Stage::Provision, "POST \u{1}");
    rec.note(
        &registry::provision::STATUS,
        Verdict::Fail(format!("expected 200, got {}", x.describe())),
    );
    answer::answer_object(&mut rec, &registry::provision::JSON, &x);
    let report = rec.finish().unwrap();
    let xml = junit::render(&report).unwrap();
    assert_valid_xml(&xml);
    let text = String::from_utf8(xml).unwrap();
    assert!(text.contains("boom"), "{text}");
}

/// `"version": 3` (a number) was v3 for the simulator but "testing v1" for validation; the
/// two now agree, and as issue 16 asks (manifests written by other tools) the number 3 is
/// read as "3".
#[test]
fn regression_version_as_a_number_meant_v3_to_one_reader_and_v1_to_another() {
    let doc = serde_json::json!({"id": "a", "api": {"version": 3}});
    let m = Manifest {
        doc: doc.as_object().unwrap().clone(),
    };
    assert!(m.is_v3());
    let rule = validate::validate(&m)
        .into_iter()
        .find(|r| r.check.id == "manifest.version")
        .unwrap();
    assert_eq!(rule.verdict, Verdict::Pass, "{rule:?}");
    let two = Manifest {
        doc: serde_json::json!({"id": "a", "api": {"version": 2}})
            .as_object()
            .unwrap()
            .clone(),
    };
    assert!(!two.is_v3());
    let rule = validate::validate(&two)
        .into_iter()
        .find(|r| r.check.id == "manifest.version")
        .unwrap();
    assert!(
        matches!(&rule.verdict, Verdict::Warn(m) if m.contains("legacy v1")),
        "{rule:?}"
    );
}

/// A body past the client's 8 MiB limit, of each kind, read the slow way once.
#[test]
fn huge_bodies_of_every_kind() {
    let size = 9 << 20;
    for chunk in [&b"<html>\xff"[..], b"[", b"{\"id\":1,", b"\"", b" "] {
        let mut body = chunk.repeat(size / chunk.len() + 1);
        body.truncate(size);
        let x = Exchange {
            method: "POST",
            url: "u".into(),
            status: 200,
            headers: vec![],
            body,
            elapsed: Duration::ZERO,
        };
        check_exchange(&x, 120);
    }
}

// ---------------------------------------------------------------------------------------
// Issue 10: every parser of outside input takes random bytes — a manifest file, a values
// file, a template.toml, an HTTP answer, an HTTP request to kensa's servers, a Set-Cookie —
// and ends in a value or a clear error: no panic, no abort, and memory bounded by the
// readers' limits.

/// Bytes that look like an HTTP answer more or less: a status line, headers, a body;
/// sometimes a lying Content-Length or chunked framing; sometimes plain noise.
fn http_answer() -> impl Strategy<Value = Vec<u8>> {
    let head = (
        prop::sample::select(vec!["HTTP/1.1", "HTTP/1.0", "HTTP/2", "ICY", ""]),
        any::<u16>(),
        prop::collection::vec(header(), 0..6),
        prop::sample::select(vec![
            None,
            Some("Content-Length: 0".to_owned()),
            Some("Content-Length: 5".to_owned()),
            Some("Content-Length: 999999999999".to_owned()),
            Some("Content-Length: -1".to_owned()),
            Some("Transfer-Encoding: chunked".to_owned()),
        ]),
        body(),
    )
        .prop_map(|(version, status, headers, framing, body)| {
            let mut out = format!("{version} {status} X\r\n").into_bytes();
            for (k, v) in headers {
                out.extend(format!("{k}: {v}\r\n").bytes());
            }
            if let Some(f) = framing {
                out.extend(f.bytes());
                out.extend(b"\r\n");
            }
            out.extend(b"\r\n");
            out.extend(body);
            out
        });
    prop_oneof![3 => head, 1 => prop::collection::vec(any::<u8>(), 0..2048)]
}

/// A loopback peer that answers its one connection with `bytes`, then hangs up.
fn answering(bytes: Vec<u8>) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = stream.write_all(&bytes);
        }
    });
    format!("http://127.0.0.1:{port}/heroku/resources")
}

proptest! {
    #![proptest_config(config())]

    /// A manifest file of any bytes, read from disk: a manifest or an input error naming
    /// the file.
    #[test]
    fn manifest_files_of_random_bytes_load_or_fail_clearly(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("addon-manifest.json");
        std::fs::write(&path, &bytes).unwrap();
        match Manifest::load(&path) {
            Ok(m) => { let _ = validate::validate(&m); }
            Err(e) => prop_assert!(e.to_string().contains("addon-manifest.json"), "{}", e),
        }
    }

    /// A values file of any bytes: values, or a usage error naming `--values-file`.
    #[test]
    fn values_files_of_random_bytes_are_read_or_refused(
        bytes in prop::collection::vec(any::<u8>(), 0..2048),
        toml in any::<bool>(),
    ) {
        let spec = TemplateSpec::parse(
            "description = \"t\"\n[variables.port]\ntype = \"integer\"\ndefault = 80\n[variables.name]\nregex = \"^[a-z]+$\"\n",
        ).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(if toml { "v.toml" } else { "v.json" });
        std::fs::write(&path, &bytes).unwrap();
        let sources = values::Sources { values_file: Some(&path), ..values::Sources::default() };
        if let Err(e) = values::given(&spec, &sources) {
            prop_assert!(e.to_string().contains("--values-file") || e.to_string().contains("port") || e.to_string().contains("name"), "{}", e);
        }
    }

    /// A template.toml of any text: a spec or a message.
    #[test]
    fn template_specs_of_random_text_parse_or_fail(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = TemplateSpec::parse(&text) {
            prop_assert!(!e.is_empty());
        }
    }

    /// Any bytes as the answer to kensa's HTTP client: an exchange (its body within the
    /// limit) or an error naming the URL.
    #[test]
    fn http_answers_of_random_bytes_end_in_an_exchange_or_an_error(bytes in http_answer()) {
        let url = answering(bytes);
        let client = kensa::http::Client::new(Duration::from_secs(2), false, Vec::new());
        match client.send("POST", &url, kensa::http::Auth::None, &kensa::http::Payload::Empty, &[]) {
            Ok(x) => {
                prop_assert!(x.body.len() as u64 <= kensa::http::BODY_LIMIT);
                let _ = (x.json(), x.snippet(200), x.describe(), x.set_cookies());
            }
            Err(e) => prop_assert!(e.to_string().contains(&url), "{}", e),
        }
    }

    /// Any bytes as a request to kensa's own servers: a request within the limits, or a
    /// status to refuse it with.
    #[test]
    fn requests_of_random_bytes_are_read_or_refused(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let mut reader = std::io::BufReader::new(&bytes[..]);
        match kensa::serve::read_request_from(&mut reader, 1024) {
            Ok(request) => prop_assert!(request.body.len() <= 1024),
            Err((status, why)) => prop_assert!((400..600).contains(&status) && !why.is_empty()),
        }
    }

    /// Any Set-Cookie from any URL: stored or ignored, and a Cookie header (if any) that
    /// names only what was stored.
    #[test]
    fn set_cookie_headers_of_any_text_are_stored_or_ignored(
        header in text(),
        host in prop::sample::select(vec!["a.example.com", "127.0.0.1", "localhost", "[::1]"]),
        path in prop::sample::select(vec!["/", "/sso/login", "/a/b/c"]),
    ) {
        let mut jar = CookieJar::default();
        let url = url::Url::parse(&format!("https://{host}{path}")).unwrap();
        jar.store(&url, &header);
        if let Some(cookie) = jar.header_for(&url) {
            prop_assert!(!cookie.is_empty());
        }
    }
}
