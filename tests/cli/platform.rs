//! `kensa push`, `kensa pull` and `kensa diff` against a loopback fake of the add-ons
//! service (docs/protocol.md#manifest-sync). The fake checks what it receives — method, path, the Bearer
//! key, `Accept`, `Content-Type` and body — and answers as the service does: success, or
//! 401 / 403 / 404 / 422 with a JSON message. A closed port stands for a network failure.
//! Every run also checks that the API key never shows in stdout or stderr.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

use serde_json::{json, Value};
use tiny_http::{Header, Response, Server};

use crate::harness::{self, fixture, Output, Test, PLATFORM_API_ACCEPT};

/// The key the fake accepts; it must never be printed.
const KEY: &str = "hk-fake-4f9e2c1a7b3d5e6f8a9b0c1d2e3f4a5b";

/// One request as the fake received it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    authorization: Option<String>,
    accept: Option<String>,
    content_type: Option<String>,
    body: String,
}

#[derive(Default)]
struct State {
    /// Each add-on's current manifest.
    addons: BTreeMap<String, Value>,
    /// Every authenticated, well-formed request gets this instead.
    forced: Option<(u16, Value)>,
    seen: Vec<Seen>,
    pushes: u64,
}

/// The fake add-ons service on 127.0.0.1:<free port>, one thread, stopped on drop.
struct Fake {
    url: String,
    server: Arc<Server>,
    state: Arc<Mutex<State>>,
}

impl Fake {
    /// A service that knows the fixture add-on with `manifest` as its current manifest.
    fn start(manifest: Value) -> Fake {
        let server = Arc::new(Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        state
            .lock()
            .unwrap()
            .addons
            .insert(fixture::id().into(), manifest);
        let (srv, st) = (server.clone(), state.clone());
        thread::spawn(move || {
            for mut request in srv.incoming_requests() {
                let header = |name: &'static str| {
                    request
                        .headers()
                        .iter()
                        .find(|h| h.field.equiv(name))
                        .map(|h| h.value.as_str().to_owned())
                };
                let mut seen = Seen {
                    method: request.method().as_str().to_owned(),
                    path: request.url().to_owned(),
                    authorization: header("Authorization"),
                    accept: header("Accept"),
                    content_type: header("Content-Type"),
                    body: String::new(),
                };
                let _ = request.as_reader().read_to_string(&mut seen.body);
                let (status, body) = answer(&mut st.lock().unwrap(), &seen);
                st.lock().unwrap().seen.push(seen);
                let response = Response::from_string(body.to_string())
                    .with_status_code(status)
                    .with_header(Header::from_bytes("Content-Type", "application/json").unwrap());
                let _ = request.respond(response);
            }
        });
        Fake {
            url: format!("http://127.0.0.1:{port}"),
            server,
            state,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    fn force(&self, status: u16, body: Value) {
        self.state().forced = Some((status, body));
    }

    fn seen(&self) -> Vec<Seen> {
        self.state().seen.clone()
    }

    fn remote(&self) -> Value {
        self.state().addons[fixture::id()].clone()
    }

    /// A kensa run pointed at the fake, with the right key in HEROKU_API_KEY.
    fn kensa(&self) -> Test {
        Test::new()
            .env("ADDONS_URL", &self.url)
            .env("HEROKU_API_KEY", KEY)
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

/// What the service answers, after checking the request as the real one would.
fn answer(state: &mut State, seen: &Seen) -> (u16, Value) {
    if seen.authorization.as_deref() != Some(&format!("Bearer {KEY}")) {
        return (
            401,
            json!({"id": "unauthorized", "message": "Invalid credentials provided."}),
        );
    }
    if seen.accept.as_deref() != Some(PLATFORM_API_ACCEPT) {
        return (
            406,
            json!({"message": format!("fake: Accept must be {PLATFORM_API_ACCEPT:?}, got {:?}", seen.accept)}),
        );
    }
    if let Some((status, body)) = &state.forced {
        return (*status, body.clone());
    }
    let parts: Vec<&str> = seen.path.trim_start_matches('/').split('/').collect();
    let not_found = || {
        (
            404,
            json!({"id": "not_found", "message": "Couldn't find that add-on."}),
        )
    };
    match (seen.method.as_str(), parts.as_slice()) {
        ("GET", ["api", "v3", "addons", slug, "current_manifest"]) => {
            match state.addons.get(*slug) {
                Some(m) => (200, json!({"contents": m})),
                None => not_found(),
            }
        }
        ("POST", ["api", "v3", "addons", slug, "manifests"]) => {
            if !state.addons.contains_key(*slug) {
                return not_found();
            }
            if seen.content_type.as_deref() != Some("application/json") {
                return (400, json!({"message": "fake: the body must be JSON"}));
            }
            let Ok(body) = serde_json::from_str::<Value>(&seen.body) else {
                return (400, json!({"message": "fake: the body is not JSON"}));
            };
            let Some(Value::Object(contents)) = body.get("contents").cloned() else {
                return (422, json!({"message": "fake: no contents object"}));
            };
            if contents.get("id") != Some(&json!(slug)) {
                return (422, json!({"message": "fake: contents.id is not the slug"}));
            }
            // The service stamps what it stores, so kensa must write back the answer.
            state.pushes += 1;
            let mut stored = contents;
            stored.insert("$base".into(), json!(1000 + state.pushes));
            let stored = Value::Object(stored);
            state.addons.insert((*slug).to_owned(), stored.clone());
            (
                201,
                json!({"id": "5d1c3e1a-manifest", "created_at": "2025-01-01T00:00:00Z", "contents": stored}),
            )
        }
        _ => (
            405,
            json!({"message": format!("fake: unexpected {} {}", seen.method, seen.path)}),
        ),
    }
}

/// The service's current manifest of the add-on: the fixture.
fn manifest() -> Value {
    fixture::good()
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap() + "\n"
}

/// The local manifest with a different name: what `diff` and `push` see as a change.
fn edited() -> Value {
    let mut m = manifest();
    m["name"] = json!("My Addon, renamed");
    m
}

/// The key is never shown, whatever happened.
fn assert_no_key(out: &Output) {
    assert!(
        !out.stdout.contains(KEY) && !out.stderr.contains(KEY),
        "the API key was printed:\n{}\n{}",
        out.stdout,
        out.stderr
    );
}

fn assert_request(seen: &Seen, method: &str, path: &str) {
    assert_eq!(seen.method, method, "{seen:?}");
    assert_eq!(seen.path, path, "{seen:?}");
    assert_eq!(
        seen.authorization.as_deref(),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(seen.accept.as_deref(), Some(PLATFORM_API_ACCEPT));
}

/// An address nothing listens on.
fn closed_port_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}

/// The failures every command must report distinctly, with the service's own words.
enum Failure {
    WrongKey,
    Forbidden,
    UnknownAddon,
    Unprocessable,
    Network,
}

const FAILURES: [Failure; 5] = [
    Failure::WrongKey,
    Failure::Forbidden,
    Failure::UnknownAddon,
    Failure::Unprocessable,
    Failure::Network,
];

impl Failure {
    /// Sets the fake (and the run) up for this failure; returns what stderr must contain.
    fn arrange(&self, fake: &Fake, test: Test) -> (Test, Vec<&'static str>) {
        match self {
            Failure::WrongKey => (
                test.env("HEROKU_API_KEY", "not-the-key"),
                vec![
                    "401 Unauthorized",
                    "Invalid credentials provided.",
                    "HEROKU_API_KEY",
                ],
            ),
            Failure::Forbidden => {
                fake.force(
                    403,
                    json!({"id": "forbidden", "message": "You do not have access to my-addon."}),
                );
                (
                    test,
                    vec![
                        "403 Forbidden",
                        "You do not have access to my-addon.",
                        "collaborator",
                    ],
                )
            }
            Failure::UnknownAddon => {
                fake.state().addons.clear();
                (
                    test,
                    vec![
                        "404 Not Found",
                        "Couldn't find that add-on.",
                        "no add-on my-addon",
                    ],
                )
            }
            Failure::Unprocessable => {
                // The `error` field, not `message`: kensa reads both.
                fake.force(
                    422,
                    json!({"id": "invalid_params", "error": "Region eu is not enabled for this add-on."}),
                );
                (
                    test,
                    vec![
                        "422 Unprocessable Entity",
                        "Region eu is not enabled for this add-on.",
                    ],
                )
            }
            Failure::Network => (
                test.env("ADDONS_URL", closed_port_url()),
                vec![
                    "cannot reach the add-ons service",
                    "unable to connect",
                    "ADDONS_URL",
                ],
            ),
        }
    }
}

fn stderr_has_all(out: &Output, parts: &[&str]) {
    for part in parts {
        assert!(
            out.stderr.contains(part),
            "stderr lacks {part:?}:\n{}",
            out.stderr
        );
    }
}

// --- push -------------------------------------------------------------------------------

#[test]
fn push_sends_the_manifest_and_writes_back_what_the_service_stored() {
    let fake = Fake::start(manifest());
    let local = edited();
    let out = fake
        .kensa()
        .write("addon-manifest.json", pretty(&local))
        .arg("push")
        .changes(["addon-manifest.json"])
        .stdout_contains("Pushed addon-manifest.json")
        .run();
    assert_no_key(&out);
    let seen = fake.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_request(&seen[0], "POST", "/api/v3/addons/my-addon/manifests");
    assert_eq!(seen[0].content_type.as_deref(), Some("application/json"));
    let sent: Value = serde_json::from_str(&seen[0].body).unwrap();
    assert_eq!(sent, json!({"contents": local}));

    let mut expected = local.clone();
    expected["$base"] = json!(1001);
    assert_eq!(out.json("addon-manifest.json"), expected);
    assert_eq!(out.read("addon-manifest.json"), pretty(&expected));
    assert_eq!(fake.remote(), expected);
}

/// Issue 16: a manifest as Heroku's tooling hands it out (`$base` a number inside `api`,
/// `cli_plugin_name`, `requires` values, no `api.test`, the version a number) passes the
/// manifest rules, is pushed as it is, and what the service stored is written back with
/// every unknown key and the key order kept.
#[test]
fn push_round_trips_a_manifest_as_heroku_hands_it_out() {
    let fake = Fake::start(manifest());
    let mut local = edited();
    local.as_object_mut().unwrap().remove("api");
    local["cli_plugin_name"] = json!("heroku-my-addon");
    let mut api = manifest()["api"].clone();
    let api = api.as_object_mut().unwrap();
    api.remove("test");
    let mut heroku_api = serde_json::Map::new();
    heroku_api.insert("$base".into(), json!(152951532282013_u64));
    heroku_api.extend(std::mem::take(api));
    heroku_api.insert(
        "requires".into(),
        json!(["attachable", "many_per_app", "log_input", "syslog_drain"]),
    );
    heroku_api.insert("regions".into(), json!(["virginia", "frankfurt", "eu"]));
    heroku_api.insert("version".into(), json!(3));
    local["api"] = Value::Object(heroku_api);
    let text = pretty(&local);
    fake.kensa()
        .write("addon-manifest.json", &text)
        .args(["test", "manifest"])
        .stdout_contains("checks passed")
        .unchanged()
        .run();
    let out = fake
        .kensa()
        .write("addon-manifest.json", &text)
        .arg("push")
        .changes(["addon-manifest.json"])
        .run();
    let sent: Value = serde_json::from_str(&fake.seen()[0].body).unwrap();
    assert_eq!(sent, json!({"contents": local}), "pushed as it is");
    let mut expected = local.clone();
    expected["$base"] = json!(1001);
    assert_eq!(out.read("addon-manifest.json"), pretty(&expected));
    // The api's own `$base` and keys kept their place.
    let written = out.read("addon-manifest.json");
    let api_base = written.find("\"$base\": 152951532282013").unwrap();
    assert!(
        api_base < written.find("\"password\"").unwrap(),
        "{written}"
    );
}

#[test]
fn push_writes_the_manifest_back_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let fake = Fake::start(manifest());
    let test = fake.kensa().write("addon-manifest.json", pretty(&edited()));
    std::fs::set_permissions(
        test.path().join("addon-manifest.json"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let out = test.arg("push").run();
    assert_eq!(out.mode("addon-manifest.json"), 0o600);
    assert_eq!(out.json("addon-manifest.json")["$base"], 1001);
}

#[test]
fn push_refuses_an_invalid_manifest_and_sends_nothing() {
    let fake = Fake::start(manifest());
    let mut bad = manifest();
    bad["api"]["regions"] = json!([]);
    bad["api"]["production"] = json!("http://fake.example.com/");
    let out = fake
        .kensa()
        .write("addon-manifest.json", pretty(&bad))
        .arg("push")
        .status(1)
        .stderr_contains("refusing to push addon-manifest.json")
        .stderr_contains("it breaks 2 manifest rules")
        .stderr_contains("api.regions lists at least one region")
        .stderr_contains("production URLs use https")
        .unchanged()
        .run();
    assert_no_key(&out);
    assert!(fake.seen().is_empty(), "{:?}", fake.seen());
}

#[test]
fn push_of_a_malformed_manifest_is_an_input_error() {
    let fake = Fake::start(manifest());
    fake.kensa()
        .write(
            "addon-manifest.json",
            "{\n  \"id\": \"my-addon\",\n  oops\n}\n",
        )
        .arg("push")
        .status(2)
        .stderr_contains("addon-manifest.json:3:3")
        .unchanged()
        .run();
    assert!(fake.seen().is_empty());
}

#[test]
fn a_failed_push_leaves_the_manifest_byte_identical() {
    // Odd formatting on purpose: a rewrite of any kind would show.
    let original = serde_json::to_string(&edited()).unwrap() + "  \n";
    for failure in FAILURES {
        let fake = Fake::start(manifest());
        let (test, expected) =
            failure.arrange(&fake, fake.kensa().write("addon-manifest.json", &original));
        let out = test.arg("push").status(1).unchanged().run();
        assert_eq!(out.read("addon-manifest.json"), original);
        stderr_has_all(&out, &expected);
        assert_no_key(&out);
        if !matches!(failure, Failure::Network) {
            let seen = fake.seen();
            assert_eq!(seen.len(), 1);
            assert_eq!(seen[0].method, "POST");
            assert_eq!(seen[0].path, "/api/v3/addons/my-addon/manifests");
        }
    }
}

// --- pull -------------------------------------------------------------------------------

#[test]
fn pull_writes_the_current_manifest() {
    let fake = Fake::start(manifest());
    let out = fake
        .kensa()
        .args(["pull", fixture::id()])
        .changes(["addon-manifest.json"])
        .stdout_contains("Pulled the current manifest of my-addon")
        .run();
    assert_no_key(&out);
    let seen = fake.seen();
    assert_eq!(seen.len(), 1);
    assert_request(&seen[0], "GET", "/api/v3/addons/my-addon/current_manifest");
    assert_eq!(out.read("addon-manifest.json"), pretty(&manifest()));
    assert_eq!(out.mode("addon-manifest.json"), 0o600);
}

#[test]
fn pull_writes_where_filename_says() {
    let fake = Fake::start(manifest());
    let out = fake
        .kensa()
        .write("addon-manifest.json", "local\n")
        .args(["pull", fixture::id(), "-f", "config/remote.json"])
        .mkdir("config")
        .changes(["config/remote.json"])
        .run();
    assert_eq!(out.json("config/remote.json"), manifest());
}

#[test]
fn pull_refuses_an_existing_manifest_without_force() {
    let fake = Fake::start(manifest());
    let out = fake
        .kensa()
        .write("addon-manifest.json", "mine\n")
        .args(["pull", fixture::id()])
        .status(2)
        .stderr_contains("addon-manifest.json already exists; pass --force")
        .unchanged()
        .run();
    assert_no_key(&out);
    assert!(fake.seen().is_empty(), "asked the service before refusing");
}

#[test]
fn pull_with_force_replaces_the_manifest() {
    let fake = Fake::start(manifest());
    let out = fake
        .kensa()
        .write("addon-manifest.json", "mine\n")
        .args(["pull", fixture::id(), "--force"])
        .changes(["addon-manifest.json"])
        .run();
    assert_eq!(out.read("addon-manifest.json"), pretty(&manifest()));
    assert_eq!(
        out.top_level(),
        ["addon-manifest.json"],
        "no temp file left"
    );
}

#[test]
fn a_failed_pull_leaves_the_manifest_byte_identical() {
    for failure in FAILURES {
        let fake = Fake::start(manifest());
        let (test, expected) = failure.arrange(
            &fake,
            fake.kensa()
                .write("addon-manifest.json", "mine, untouched\n"),
        );
        let out = test
            .args(["pull", fixture::id(), "--force"])
            .status(1)
            .unchanged()
            .run();
        assert_eq!(out.read("addon-manifest.json"), "mine, untouched\n");
        stderr_has_all(&out, &expected);
        assert_no_key(&out);
    }
}

#[test]
fn a_failed_pull_creates_no_file() {
    for failure in FAILURES {
        let fake = Fake::start(manifest());
        let (test, expected) = failure.arrange(&fake, fake.kensa());
        let out = test
            .args(["pull", fixture::id()])
            .status(1)
            .unchanged()
            .run();
        assert!(out.top_level().is_empty(), "{:?}", out.top_level());
        stderr_has_all(&out, &expected);
        if !matches!(failure, Failure::Network) {
            let seen = fake.seen();
            assert_eq!(seen.len(), 1);
            assert_eq!(seen[0].method, "GET");
            assert_eq!(seen[0].path, "/api/v3/addons/my-addon/current_manifest");
        }
    }
}

#[test]
fn pull_rejects_a_slug_that_is_not_one() {
    let fake = Fake::start(manifest());
    fake.kensa()
        .args(["pull", "../etc"])
        .status(2)
        .stderr_contains("is not an add-on slug")
        .unchanged()
        .run();
    assert!(fake.seen().is_empty());
}

// --- diff -------------------------------------------------------------------------------

#[test]
fn diff_of_equal_manifests_exits_0_whatever_the_key_order_and_layout() {
    let fake = Fake::start(manifest());
    // Same content, keys reversed and on one line.
    let mut reversed = serde_json::Map::new();
    for (k, v) in manifest().as_object().unwrap().iter().rev() {
        reversed.insert(k.clone(), v.clone());
    }
    let out = fake
        .kensa()
        .write(
            "addon-manifest.json",
            serde_json::to_string(&Value::Object(reversed)).unwrap(),
        )
        .arg("diff")
        .stdout("")
        .stderr_contains("No differences")
        .unchanged()
        .run();
    assert_no_key(&out);
    assert_request(
        &fake.seen()[0],
        "GET",
        "/api/v3/addons/my-addon/current_manifest",
    );
}

#[test]
fn diff_shows_remote_against_local_and_exits_1() {
    let fake = Fake::start(manifest());
    let out = fake
        .kensa()
        .write("addon-manifest.json", pretty(&edited()))
        .arg("diff")
        .status(1)
        .unchanged()
        .run();
    assert_no_key(&out);
    assert!(
        out.stdout.starts_with(&format!(
            "--- remote my-addon ({})\n+++ local addon-manifest.json\n@@ ",
            fake.url
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("\n-  \"name\": \"My Addon\"\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("\n+  \"name\": \"My Addon, renamed\"\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("\n   \"id\": \"my-addon\",\n"),
        "context line"
    );
    assert!(!out.stdout.contains('\u{1b}'), "no colour off a terminal");
}

#[test]
fn diff_is_coloured_when_asked() {
    let fake = Fake::start(manifest());
    let out = fake
        .kensa()
        .write("addon-manifest.json", pretty(&edited()))
        .args(["diff", "--color", "always"])
        .status(1)
        .run();
    assert!(
        out.stdout
            .contains("\u{1b}[31m-  \"name\": \"My Addon\"\u{1b}[0m"),
        "{:?}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("\u{1b}[32m+  \"name\": \"My Addon, renamed\"\u{1b}[0m"),
        "{:?}",
        out.stdout
    );
}

#[test]
fn diff_failures_are_told_apart() {
    for failure in FAILURES {
        let fake = Fake::start(manifest());
        let (test, expected) = failure.arrange(
            &fake,
            fake.kensa()
                .write("addon-manifest.json", pretty(&manifest())),
        );
        let out = test.arg("diff").status(1).stdout("").unchanged().run();
        stderr_has_all(&out, &expected);
        assert_no_key(&out);
    }
}

#[test]
fn diff_needs_an_id_in_the_local_manifest() {
    let fake = Fake::start(manifest());
    let mut doc = manifest();
    doc.as_object_mut().unwrap().remove("id");
    fake.kensa()
        .write("addon-manifest.json", pretty(&doc))
        .arg("diff")
        .status(2)
        .stderr_contains("is not an add-on slug")
        .unchanged()
        .run();
    assert!(fake.seen().is_empty());
}

// --- credentials and the service URL ----------------------------------------------------

#[test]
fn the_key_can_come_from_a_netrc_file_named_by_netrc() {
    let fake = Fake::start(manifest());
    let test = Test::new().env("ADDONS_URL", &fake.url).write(
        "secrets/netrc",
        format!(
            "machine git.heroku.com\n  login me@example.com\n  password wrong\n\
                 machine api.heroku.com\n  login me@example.com\n  password {KEY}\n"
        ),
    );
    let netrc = test.path().join("secrets/netrc");
    let out = test.env("NETRC", netrc).args(["pull", fixture::id()]).run();
    assert_no_key(&out);
    assert_eq!(out.json("addon-manifest.json"), manifest());
    assert_request(
        &fake.seen()[0],
        "GET",
        "/api/v3/addons/my-addon/current_manifest",
    );
}

#[test]
fn the_key_can_come_from_netrc_in_home() {
    let fake = Fake::start(manifest());
    let out = Test::new()
        .env("ADDONS_URL", &fake.url)
        .write(
            ".netrc",
            format!("machine api.heroku.com login me password {KEY}\n"),
        )
        .write("addon-manifest.json", pretty(&manifest()))
        .arg("diff")
        .run();
    assert_no_key(&out);
    assert_eq!(fake.seen().len(), 1);
}

#[test]
fn a_refused_netrc_key_names_the_file_it_came_from() {
    let fake = Fake::start(manifest());
    let out = Test::new()
        .env("ADDONS_URL", &fake.url)
        .write(
            ".netrc",
            "machine api.heroku.com login me password expired-key\n",
        )
        .args(["pull", fixture::id()])
        .status(1)
        .stderr_contains("/.netrc (machine api.heroku.com) (401 Unauthorized)")
        .stderr_contains("Invalid credentials provided.")
        .unchanged()
        .run();
    assert!(!out.stderr.contains("expired-key"), "{}", out.stderr);
}

#[test]
fn heroku_api_key_wins_over_netrc() {
    let fake = Fake::start(manifest());
    fake.kensa()
        .write(".netrc", "machine api.heroku.com login me password stale\n")
        .write("addon-manifest.json", pretty(&manifest()))
        .arg("diff")
        .run();
}

#[test]
fn no_key_anywhere_is_an_input_error_saying_how_to_provide_one() {
    let fake = Fake::start(manifest());
    for args in [vec!["push"], vec!["pull", fixture::id()], vec!["diff"]] {
        let original = pretty(&manifest());
        let test = Test::new().env("ADDONS_URL", &fake.url);
        let test = if args[0] == "pull" {
            test
        } else {
            test.write("addon-manifest.json", &original)
        };
        test.args(&args)
            .status(2)
            .stderr_contains("no Heroku API key found")
            .stderr_contains("HEROKU_API_KEY")
            .stderr_contains("heroku login")
            .stderr_contains(".netrc")
            .unchanged()
            .run();
    }
    assert!(fake.seen().is_empty());
}

#[test]
fn a_netrc_without_heroku_says_so() {
    Test::new()
        .write(".netrc", "machine example.com login me password other\n")
        .args(["pull", fixture::id()])
        .status(2)
        .stderr_contains("has no password for machine api.heroku.com")
        .unchanged()
        .run();
}

#[test]
fn verbose_shows_the_exchange_but_never_the_key_or_secrets() {
    let fake = Fake::start(manifest());
    let out = fake
        .kensa()
        .write("addon-manifest.json", pretty(&edited()))
        .args(["push", "--verbose"])
        .stderr_contains("> POST ")
        .stderr_contains("/api/v3/addons/my-addon/manifests")
        .stderr_contains("< 201")
        .run();
    assert_no_key(&out);
    assert!(
        !out.stderr.contains(fixture::password()) && !out.stderr.contains(fixture::salt()),
        "{}",
        out.stderr
    );
}

#[test]
fn addons_url_flag_overrides_the_environment() {
    let fake = Fake::start(manifest());
    fake.kensa()
        .env("ADDONS_URL", closed_port_url())
        .args([
            "pull",
            fixture::id(),
            "--addons-url",
            &format!("{}/", fake.url),
        ])
        .changes(["addon-manifest.json"])
        .run();
    assert_eq!(
        fake.seen()[0].path,
        "/api/v3/addons/my-addon/current_manifest"
    );
}

/// Issue 16: Heroku's addons-admin plugin names the service with `HEROKU_ADDONS_HOST` and
/// takes its host; kensa reads it too when neither `--addons-url` nor `ADDONS_URL` is set.
#[test]
fn heroku_addons_host_names_the_service_by_its_host() {
    let fake = Fake::start(manifest());
    Test::new()
        .env("HEROKU_API_KEY", KEY)
        .env(
            "HEROKU_ADDONS_HOST",
            format!("{}/a/path/it/ignores", fake.url),
        )
        .args(["pull", fixture::id()])
        .changes(["addon-manifest.json"])
        .run();
    assert_eq!(
        fake.seen()[0].path,
        "/api/v3/addons/my-addon/current_manifest"
    );
    // ADDONS_URL wins over it.
    let other = Fake::start(manifest());
    Test::new()
        .env("HEROKU_API_KEY", KEY)
        .env("HEROKU_ADDONS_HOST", closed_port_url())
        .env("ADDONS_URL", &other.url)
        .args(["pull", fixture::id()])
        .changes(["addon-manifest.json"])
        .run();
    assert_eq!(other.seen().len(), 1);
}

#[test]
fn a_bad_addons_url_is_an_input_error() {
    Test::new()
        .env("HEROKU_API_KEY", KEY)
        .args(["pull", fixture::id(), "--addons-url", "ftp://example.com"])
        .status(2)
        .stderr_contains("must be an http(s) URL")
        .unchanged()
        .run();
}

// --- pull on a terminal asks before replacing -------------------------------------------

/// `kensa pull` on a pseudo-terminal in `dir`, answering the replace prompt with `key`.
fn pull_on_a_terminal(dir: &std::path::Path, fake: &Fake, key: &str) -> i32 {
    use rexpect::process::wait::WaitStatus;
    use rexpect::session::{spawn_with_options, Options};

    let mut cmd = harness::kensa(dir);
    cmd.args(["pull", fixture::id()])
        .env("TERM", "xterm")
        .env("ADDONS_URL", &fake.url)
        .env("HEROKU_API_KEY", KEY);
    let options = Options {
        timeout_ms: Some(harness::pty_timeout_ms()),
        strip_ansi_escape_codes: true,
    };
    let mut session = spawn_with_options(cmd, options).unwrap();
    session
        .exp_string("addon-manifest.json already exists. Replace it?")
        .unwrap();
    session.send(key).unwrap();
    session.flush().unwrap();
    let screen = session.exp_eof().unwrap();
    assert!(!screen.contains(KEY), "{screen}");
    match session.process.wait().unwrap() {
        WaitStatus::Exited(_, code) => code,
        other => panic!("kensa did not exit normally: {other:?}"),
    }
}

#[test]
fn pull_on_a_terminal_replaces_only_when_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("addon-manifest.json");

    let fake = Fake::start(manifest());
    std::fs::write(&path, "mine\n").unwrap();
    assert_eq!(pull_on_a_terminal(dir.path(), &fake, "n"), 2);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "mine\n");
    assert!(fake.seen().is_empty(), "declined, so nothing was fetched");

    assert_eq!(pull_on_a_terminal(dir.path(), &fake, "y"), 0);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), pretty(&manifest()));
    assert_eq!(fake.seen().len(), 1);
}
