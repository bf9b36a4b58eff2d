//! `kensa sso <id>`: the GET URL of a legacy manifest, and the one-time auto-POST page of a
//! current one, fetched here over HTTP and its form read field by field. No browser is
//! ever started: `--no-browser`, a `BROWSER` script, or a PATH with no browser on it.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use kensa::sso::{resource_token, user_scoped_token, v1_token};
use regex::Regex;
use serde_json::{json, Value};

use crate::harness::{self, Test};

const SALT: &str = "ssoSalt9Kd2Lw7Qx4Rt1Vb6Nz3Mc8Hj5G";
const SSO_URL: &str = "http://127.0.0.1:9/sso/login?from=kensa&x=1";
const UUID: &str = "3f0c2f6e-9b1f-4d8e-a2c1-7f5e9a0b1c2d";

#[derive(Clone, Copy)]
enum Shape {
    Get,
    Post,
}

fn manifest(shape: Shape) -> String {
    let (test, production) = match shape {
        Shape::Get => (
            json!("http://localhost:5000/"),
            json!("https://sso.example.com/"),
        ),
        Shape::Post => (
            json!({"base_url": "http://localhost:5000/heroku/resources", "sso_url": SSO_URL}),
            json!({"base_url": "https://sso.example.com/heroku/resources",
                   "sso_url": "https://sso.example.com/sso/login"}),
        ),
    };
    let doc = json!({
        "id": "sso-addon",
        "name": "SSO <Addon> & \"Co\"",
        "api": {
            "config_vars": ["SSO_ADDON_URL"],
            "password": "pw5Tg8Yh1Uj4Ik7Ol0Pa3Sd6Fg9Hj2Kl",
            "sso_salt": SALT,
            "regions": ["us"],
            "production": production,
            "test": test,
            "version": "3"
        }
    });
    serde_json::to_string_pretty(&doc).unwrap()
}

/// The manifest (v3), and kensa's state remembering resource 42 with [`UUID`], as
/// `kensa test provision` leaves it: a v3 sign-on needs the resource's uuid.
fn kensa(shape: Shape) -> Test {
    let last = json!({
        "id": "42",
        "uuid": UUID,
        "plan": "test",
        "manifest": "addon-manifest.json",
        "provisioned_at": "2026-01-01T00:00:00Z",
        "by": "kensa test provision"
    });
    Test::new()
        .write("addon-manifest.json", manifest(shape))
        .write(".kensa/last-resource.json", last.to_string())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The parameters every (v3) sign-on carries, checked against the token formulas: the
/// uuid's, never v1's `id` and `token`.
fn check_params(params: &BTreeMap<String, String>, uuid: &str, email: &str, app: &str) {
    assert!(
        !params.contains_key("id") && !params.contains_key("token"),
        "{params:?}"
    );
    assert_eq!(params["resource_id"], uuid);
    let timestamp: i64 = params["timestamp"].parse().unwrap();
    assert!(
        (now() - timestamp).abs() < 60,
        "timestamp {timestamp} is not now"
    );
    assert_eq!(
        params["resource_token"],
        resource_token(uuid, SALT, timestamp)
    );
    assert_eq!(
        params["user_scoped_resource_token"],
        user_scoped_token(uuid, SALT, timestamp, &params["user_id"], email)
    );
    assert_eq!(params["email"], email);
    assert_eq!(params["app"], app);
    assert_eq!(params["context_app"], app);
    assert!(!params["user_id"].is_empty());
    let nav: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&params["nav-data"]).unwrap()).unwrap();
    assert_eq!(nav["appname"], app);
    assert_eq!(nav["addons"][0]["slug"], "sso-addon");
}

fn query(url: &url::Url) -> BTreeMap<String, String> {
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

// --- GET -------------------------------------------------------------------------------

#[test]
fn get_manifest_prints_the_signed_url() {
    let out = kensa(Shape::Get)
        .args(["sso", "42", "--no-browser"])
        .unchanged()
        .run();
    let line = out.stdout.trim_end();
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    let url = url::Url::parse(line).unwrap();
    assert_eq!(
        url[..url::Position::AfterPath],
        *"http://localhost:5000/heroku/resources/42"
    );
    let params = query(&url);
    // The uuid kensa remembered for resource 42.
    check_params(&params, UUID, "username@example.com", "myapp");
}

/// A v3 sign-on without the resource's uuid cannot be made: exit 2 saying how to give it.
#[test]
fn a_v3_sign_on_without_a_uuid_says_how_to_give_one() {
    Test::new()
        .write("addon-manifest.json", manifest(Shape::Get))
        .args(["sso", "42", "--no-browser"])
        .status(2)
        .stderr_contains("--uuid <uuid>")
        .stderr_contains("kensa test provision")
        .unchanged()
        .run();
}

/// A v1 manifest signs on with v1's `id` and `token`, without a uuid.
#[test]
fn a_v1_sign_on_sends_the_v1_id_and_token() {
    let v1 = manifest(Shape::Get).replace("\"version\": \"3\"", "\"version\": \"1\"");
    let out = Test::new()
        .write("addon-manifest.json", v1)
        .args(["sso", "42", "--no-browser"])
        .unchanged()
        .run();
    let params = query(&url::Url::parse(out.stdout.trim_end()).unwrap());
    let ts: i64 = params["timestamp"].parse().unwrap();
    assert_eq!(params["id"], "42");
    assert_eq!(params["token"], v1_token("42", SALT, ts));
    assert!(!params.contains_key("resource_id"), "{params:?}");
}

#[test]
fn get_manifest_takes_the_visitor_and_uuid_from_flags() {
    let out = kensa(Shape::Get)
        .args([
            "sso",
            "res 1",
            "--no-browser",
            "--email",
            "a+b@example.com",
            "--user-id",
            "user-7",
            "--app",
            "my-app",
            "--uuid",
            UUID,
        ])
        .run();
    let url = url::Url::parse(out.stdout.trim_end()).unwrap();
    assert_eq!(url.path(), "/heroku/resources/res+1");
    let params = query(&url);
    check_params(&params, UUID, "a+b@example.com", "my-app");
    let ts: i64 = params["timestamp"].parse().unwrap();
    assert_eq!(params["user_id"], "user-7");
    assert_eq!(params["resource_id"], UUID);
    assert_eq!(params["resource_token"], resource_token(UUID, SALT, ts));
    assert_eq!(
        params["user_scoped_resource_token"],
        user_scoped_token(UUID, SALT, ts, "user-7", "a+b@example.com")
    );
}

#[test]
fn production_uses_the_production_url() {
    let out = kensa(Shape::Get)
        .args(["sso", "42", "--no-browser", "--production"])
        .run();
    assert!(
        out.stdout.starts_with(&format!(
            "https://sso.example.com/heroku/resources/42?resource_id={UUID}&resource_token="
        )),
        "{}",
        out.stdout
    );
}

#[test]
fn get_opens_the_url_with_the_browser_command() {
    let test = kensa(Shape::Get).write(
        "bin/browser",
        "#!/bin/sh\nprintf '%s\\n' \"$1\" > \"$(dirname \"$0\")/opened.txt\"\n",
    );
    let script = test.path().join("bin/browser");
    make_executable(&script);
    let out = test
        .env("BROWSER", &script)
        .args(["sso", "42"])
        .stderr_contains("Opened it with")
        .run();
    assert_eq!(out.read("bin/opened.txt"), out.stdout);
}

#[test]
fn without_a_browser_the_url_is_printed_and_all_is_well() {
    let test = kensa(Shape::Get).mkdir("empty-bin");
    let empty = test.path().join("empty-bin");
    let out = test
        .env("PATH", empty)
        .args(["sso", "42"])
        .stderr_contains("could not open a browser")
        .stderr_contains("xdg-open not found")
        .run();
    let url = url::Url::parse(out.stdout.trim_end()).unwrap();
    check_params(&query(&url), UUID, "username@example.com", "myapp");
}

// --- POST ------------------------------------------------------------------------------

/// A kensa run in the background, its first stdout line being the page's address.
struct Background {
    child: Child,
    address: String,
    _test: Test,
}

impl Background {
    fn start(test: Test) -> Background {
        let mut child = test
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.starts_with("http://127.0.0.1:"), "{line:?}");
        Background {
            child,
            address: line.trim_end().to_owned(),
            _test: test,
        }
    }

    /// Waits (bounded by the harness) for kensa to exit; its exit code and stderr.
    fn finish(mut self) -> (Option<i32>, String) {
        let status = harness::wait(&mut self.child);
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        (status.code(), stderr)
    }
}

/// `(method, action)` of the page's form and its hidden fields, HTML entities decoded.
fn parse_form(html: &str) -> (String, String, BTreeMap<String, String>) {
    let attr = Regex::new(r#"([a-z-]+)="([^"]*)""#).unwrap();
    let attrs = |tag: &str| -> BTreeMap<String, String> {
        attr.captures_iter(tag)
            .map(|c| (c[1].to_owned(), unescape(&c[2])))
            .collect()
    };
    let form = Regex::new(r"<form [^>]*>")
        .unwrap()
        .find(html)
        .expect("a form");
    let form = attrs(form.as_str());
    let mut fields = BTreeMap::new();
    for input in Regex::new(r"<input [^>]*>").unwrap().find_iter(html) {
        let input = attrs(input.as_str());
        assert_eq!(input["type"], "hidden");
        fields.insert(input["name"].clone(), input["value"].clone());
    }
    (form["method"].clone(), form["action"].clone(), fields)
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn fetch(address: &str) -> (u16, String, String) {
    let mut response = ureq::get(address)
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap();
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, response.body_mut().read_to_string().unwrap())
}

#[test]
fn post_manifest_serves_a_page_that_posts_the_signed_form_once() {
    let bg = Background::start(kensa(Shape::Post).args([
        "sso",
        "42",
        "--no-browser",
        "--uuid",
        UUID,
        "--email",
        "o'hara+\"x\"@example.com",
        "--app",
        "app<&>",
    ]));
    let address = bg.address.clone();
    let (status, kind, html) = fetch(&address);
    assert_eq!(status, 200);
    assert_eq!(kind, "text/html; charset=utf-8");
    assert!(html.contains("document.forms[0].submit()"), "{html}");
    assert!(!html.contains("app<&>"), "values are HTML-escaped:\n{html}");
    let (method, action, fields) = parse_form(&html);
    assert_eq!(method, "post");
    assert_eq!(action, SSO_URL);
    check_params(&fields, UUID, "o'hara+\"x\"@example.com", "app<&>");
    let ts: i64 = fields["timestamp"].parse().unwrap();
    assert_eq!(fields["resource_id"], UUID);
    assert_eq!(fields["resource_token"], resource_token(UUID, SALT, ts));
    assert_eq!(
        fields["user_scoped_resource_token"],
        user_scoped_token(
            UUID,
            SALT,
            ts,
            &fields["user_id"],
            "o'hara+\"x\"@example.com"
        )
    );

    let (code, stderr) = bg.finish();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains(SSO_URL), "{stderr}");
    assert!(
        ureq::get(&address).call().is_err(),
        "the page is served only once"
    );
}

#[test]
fn the_page_server_answers_other_paths_with_404_and_keeps_waiting() {
    let bg = Background::start(kensa(Shape::Post).args(["sso", "42", "--no-browser"]));
    let root = bg.address.split("/sso/").next().unwrap().to_owned();
    assert_eq!(fetch(&format!("{root}/")).0, 404);
    assert_eq!(fetch(&format!("{root}/favicon.ico")).0, 404);
    let (status, _, html) = fetch(&bg.address);
    assert_eq!(status, 200);
    assert_eq!(parse_form(&html).1, SSO_URL);
    assert_eq!(bg.finish().0, Some(0));
}

#[test]
fn the_page_server_stops_after_its_timeout_when_nobody_comes() {
    let started = Instant::now();
    let bg =
        Background::start(kensa(Shape::Post).args(["sso", "42", "--no-browser", "--timeout", "1"]));
    let (code, stderr) = bg.finish();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("within 1 s"), "{stderr}");
    assert!(stderr.contains("--timeout"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn post_without_a_browser_prints_the_address_and_serves_it() {
    let test = kensa(Shape::Post).mkdir("empty-bin");
    let empty = test.path().join("empty-bin");
    let bg = Background::start(
        test.env("PATH", empty)
            .args(["sso", "42", "--timeout", "30"]),
    );
    let (status, _, html) = fetch(&bg.address);
    assert_eq!(status, 200);
    assert_eq!(parse_form(&html).0, "post");
    let (code, stderr) = bg.finish();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("could not open a browser"), "{stderr}");
}

// --- input errors ----------------------------------------------------------------------

#[test]
fn a_manifest_without_sso_salt_is_an_input_error() {
    let mut doc: Value = serde_json::from_str(&manifest(Shape::Post)).unwrap();
    doc["api"].as_object_mut().unwrap().remove("sso_salt");
    Test::new()
        .write("addon-manifest.json", doc.to_string())
        .args(["sso", "42", "--no-browser"])
        .status(2)
        .stderr_contains("no api.sso_salt")
        .unchanged()
        .run();
}

#[test]
fn urls_without_sso_url_are_an_input_error() {
    let mut doc: Value = serde_json::from_str(&manifest(Shape::Post)).unwrap();
    doc["api"]["test"] = json!({"base_url": "http://localhost:5000/heroku/resources"});
    Test::new()
        .write("addon-manifest.json", doc.to_string())
        .args(["sso", "42", "--no-browser"])
        .status(2)
        .stderr_contains("no sso_url")
        .run();
}

#[test]
fn a_missing_manifest_is_an_input_error() {
    Test::new()
        .args(["sso", "42", "--no-browser"])
        .status(2)
        .stderr_contains("no addon-manifest.json in")
        .stderr_contains("kensa init")
        .run();
}

fn make_executable(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}
