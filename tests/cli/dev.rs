//! `kensa dev` against a small Python provider (`tests/fixtures/dev/provider.py`): the
//! service on the manifest's port, the console's API and its guards, the async timeline,
//! the saved session and the last resource, keys on a terminal, and every way out
//! leaving no process of the service's group behind.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rexpect::session::spawn_command;
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::harness::dev::{dev_command, free_port, group_alive, group_gone, DevProcess};
use crate::harness::{pty_timeout_ms, MANIFEST};
use crate::stub::{Addon, PASSWORD, SALT};

const CLIENT_SECRET: &str = "cs-9f2d7c41e8b3a6";
const MASK: &str = "••••••";

/// A project: manifest (v3, test URLs on `port`), `.env`, the Python provider and a
/// Procfile whose web line is `web`.
fn project(port: u16, web: &str) -> TempDir {
    let dir = tempfile::Builder::new()
        .prefix("kensa-dev-")
        .tempdir()
        .unwrap();
    let manifest = Addon::v3().manifest(port);
    let manifest = serde_json::to_string_pretty(&manifest)
        .unwrap()
        .replace("127.0.0.1", "localhost");
    std::fs::write(dir.path().join(MANIFEST), manifest).unwrap();
    std::fs::write(
        dir.path().join(".env"),
        format!(
            "HEROKU_USERNAME=stubby\nHEROKU_PASSWORD={PASSWORD}\nSSO_SALT={SALT}\nHEROKU_CLIENT_SECRET={CLIENT_SECRET}\nCONFIG_PREFIX=STUBBY\n"
        ),
    )
    .unwrap();
    std::fs::copy(
        crate::harness::repo().join("tests/fixtures/dev/provider.py"),
        dir.path().join("provider.py"),
    )
    .unwrap();
    std::fs::write(dir.path().join("Procfile"), format!("web: {web}\n")).unwrap();
    dir
}

fn provider_group(dir: &Path) -> i32 {
    std::fs::read_to_string(dir.join("data/provider.pgid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn start(dir: &Path, args: &[&str]) -> DevProcess {
    let dev = DevProcess::spawn(dev_command(dir, args));
    dev.wait_for("the service answers on port");
    dev
}

fn resource<'a>(state: &'a Value, uuid: &str) -> &'a Value {
    state["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["uuid"] == uuid)
        .unwrap_or_else(|| panic!("no resource {uuid} in {state:#}"))
}

fn labels(resource: &Value) -> Vec<String> {
    resource["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_service_runs_on_the_manifest_port_and_the_console_provisions_changes_and_deprovisions() {
    let port = free_port();
    let dir = project(port, "python3 provider.py");
    let dev = start(dir.path(), &[]);
    dev.wait_for(&format!("web   │ provider listening on port {port}"));

    let (status, made) = dev.api("POST", "/api/provision", Some(json!({"plan": "test"})));
    assert_eq!(status, 200, "{made}");
    assert_eq!(
        (made["id"].as_str(), made["state"].as_str()),
        (Some("r1"), Some("provisioned"))
    );
    let uuid = made["uuid"].as_str().unwrap().to_owned();
    let state = dev.state();
    let r = resource(&state, &uuid);
    assert_eq!(r["config"], json!({"STUBBY_URL": MASK}), "config is masked");
    let (_, revealed) = dev.api("POST", &format!("/api/resources/{uuid}/reveal"), None);
    assert_eq!(
        revealed["config"]["STUBBY_URL"],
        "https://example.test/r/r1"
    );

    let (status, changed) = dev.api(
        "POST",
        "/api/resources/r1/plan",
        Some(json!({"plan": "premium"})),
    );
    assert_eq!(
        (status, changed["plan"].as_str()),
        (200, Some("premium")),
        "{changed}"
    );
    let (status, sso) = dev.raw(&format!("GET /sso/r1?token={} HTTP/1.1", dev.token), "");
    assert_eq!(status, 200);
    assert!(
        sso.contains(&format!("action=\"http://localhost:{port}/sso/login\"")),
        "{sso}"
    );
    assert!(
        sso.contains("name=\"resource_token\""),
        "v3 sign-on carries the resource token"
    );

    // The saved session: private, with the resource; the last resource for other commands.
    let saved = dir.path().join(".kensa/dev/session.json");
    assert_eq!(
        std::fs::metadata(&saved).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&saved).unwrap();
    assert!(text.contains(&uuid));
    let last: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(".kensa/last-resource.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        (last["id"].as_str(), last["by"].as_str()),
        (Some("r1"), Some("kensa dev"))
    );

    let (status, gone) = dev.api("POST", "/api/resources/r1/deprovision", None);
    assert_eq!(
        (status, gone["state"].as_str()),
        (200, Some("deprovisioned")),
        "{gone}"
    );
    let r = resource(&dev.state(), &uuid).clone();
    assert_eq!(
        labels(&r),
        [
            "provision answered 200",
            "plan change to premium answered 200",
            "signed in through the browser",
            "deprovision answered 204"
        ]
    );
    assert!(
        !dir.path().join(".kensa/last-resource.json").exists(),
        "forgotten once deprovisioned"
    );
}

#[test]
fn an_async_provision_shows_every_step_and_a_stalled_one_where_it_stopped() {
    let dir = project(free_port(), "python3 provider.py");
    let dev = start(dir.path(), &["--async-timeout", "3"]);
    let (status, made) = dev.api(
        "POST",
        "/api/provision",
        Some(json!({"plan": "async", "options": {"region": "eu"}})),
    );
    assert_eq!(
        (status, made["state"].as_str()),
        (200, Some("provisioning")),
        "{made}"
    );
    let uuid = made["uuid"].as_str().unwrap().to_owned();
    let state = dev.state_until("provisioned asynchronously", |s| {
        resource(s, &uuid)["state"] == "provisioned"
    });
    let r = resource(&state, &uuid);
    assert_eq!(
        labels(r),
        [
            "provision answered 202: provisioning asynchronously",
            "grant exchanged for an access token",
            "config set: STUBBY_URL",
            "provisioned (the provider called back)"
        ]
    );
    assert_eq!(r["config"], json!({"STUBBY_URL": MASK}));
    assert_eq!(r["tokens"], json!([MASK]), "the issued token is masked");
    let (_, revealed) = dev.api("POST", &format!("/api/resources/{uuid}/reveal"), None);
    assert!(revealed["tokens"][0].as_str().unwrap().starts_with("HRKU-"));

    // The log holds both directions, filterable by resource, with no secret in it.
    let (_, calls) = dev.api("GET", &format!("/api/calls?resource={uuid}"), None);
    let calls = calls.as_array().unwrap();
    let directions: Vec<&str> = calls
        .iter()
        .map(|c| c["direction"].as_str().unwrap())
        .collect();
    assert_eq!(
        directions,
        ["to_provider", "to_heroku", "to_heroku", "to_heroku"]
    );
    let targets: Vec<&str> = calls
        .iter()
        .map(|c| c["target"].as_str().unwrap())
        .collect();
    assert!(targets[0].ends_with("/heroku/resources"), "{targets:?}");
    assert_eq!(targets[1], "/oauth/token");
    assert!(targets[2].ends_with(&format!("/addons/{uuid}/config")));
    assert!(targets[3].ends_with(&format!("/addons/{uuid}/actions/provision")));
    // Bodies pretty-printed (JSON indented, forms a field a line), secrets masked.
    let provision = calls[0]["request"].as_str().unwrap();
    assert!(
        provision.contains("\n  \"plan\": \"async\"") && provision.contains("\"region\": \"eu\""),
        "the plan and the options, indented: {provision}"
    );
    let logged = kensa::redact::MASK;
    let grant = calls[1]["request"].as_str().unwrap();
    assert!(
        grant.contains(&format!("\nclient_secret={logged}"))
            && grant.contains(&format!("code={logged}")),
        "{grant}"
    );
    let token = calls[1]["response"].as_str().unwrap();
    assert!(
        token.contains(&format!("\"access_token\": \"{logged}\"")),
        "{token}"
    );
    let config = calls[2]["request"].as_str().unwrap();
    assert!(
        config.contains("STUBBY_URL") && !config.contains("https://example.test/r/"),
        "config var values masked: {config}"
    );
    let everything = serde_json::to_string(calls).unwrap();
    for secret in [
        CLIENT_SECRET,
        PASSWORD,
        revealed["tokens"][0].as_str().unwrap(),
    ] {
        assert!(
            !everything.contains(secret),
            "{secret} in the log: {everything}"
        );
    }

    let (_, stalled) = dev.api(
        "POST",
        "/api/provision",
        Some(json!({"plan": "broken-async"})),
    );
    let stalled_uuid = stalled["uuid"].as_str().unwrap().to_owned();
    let state = dev.state_until("gave up on the stalled provision", |s| {
        resource(s, &stalled_uuid)["state"] == "failed"
    });
    let r = resource(&state, &stalled_uuid);
    let last = r["timeline"].as_array().unwrap().last().unwrap();
    assert_eq!(last["label"], "stopped here");
    assert_eq!(last["check"], "async.grant-exchanged");
    assert!(last["detail"]
        .as_str()
        .unwrap()
        .contains("never exchanged the grant code within 3 s"));
    assert_eq!(
        r["explain"]["rule"],
        kensa::registry::find("async.grant-exchanged").unwrap().rule
    );
}

#[test]
fn test_all_from_the_console_keeps_every_check_with_its_explanation() {
    let dir = project(free_port(), "python3 provider.py");
    let dev = start(dir.path(), &[]);
    let (status, _) = dev.api("POST", "/api/test", None);
    assert_eq!(status, 202);
    let state = dev.state_until("finished test all", |s| {
        s["last_test"].is_object() && s["testing"] == false
    });
    let run = &state["last_test"];
    assert!(run["summary"]["total"].as_u64().unwrap() > 20, "{run:#}");
    for check in run["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["checks"].as_array().unwrap())
    {
        let id = check["id"].as_str().unwrap();
        let explained = kensa::registry::find(id).unwrap();
        assert_eq!(check["explain"]["rule"], explained.rule, "{id}");
        assert_eq!(check["explain"]["fix"], explained.fix, "{id}");
    }
    dev.wait_for("checks passed");
    // Its calls went through the session's local Heroku log too.
    let (_, calls) = dev.api("GET", "/api/calls", None);
    assert!(calls
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["target"].as_str().unwrap().ends_with("/heroku/resources")));
}

#[test]
fn the_console_answers_only_its_own_page_with_its_token() {
    let dir = project(free_port(), "python3 provider.py");
    let dev = start(dir.path(), &[]);
    let token = dev.token.clone();
    let (status, page) = dev.raw(&format!("GET /?token={token} HTTP/1.1"), "");
    assert_eq!(status, 200);
    assert!(
        page.contains("<title>kensa dev</title>")
            && !page.contains("http://")
            && !page.contains("https://"),
        "one self-contained page, nothing fetched from elsewhere"
    );
    assert_eq!(dev.raw("GET / HTTP/1.1", "").0, 403, "no token");
    assert_eq!(dev.raw("GET /api/state HTTP/1.1", "").0, 403);
    assert_eq!(dev.raw("GET /api/state?token=wrong HTTP/1.1", "").0, 403);
    let wrong = "0".repeat(token.len());
    assert_eq!(
        dev.raw(
            &format!("POST /api/provision HTTP/1.1\r\nX-Kensa-Token: {wrong}"),
            "{}"
        )
        .0,
        403
    );
    // DNS rebinding: the right token from a page on another name still names another Host.
    let rebound = format!("GET /api/state?token={token} HTTP/1.1\r\nHost: attacker.example:80");
    assert_eq!(dev.raw(&rebound, "").0, 421);
    let other = format!(
        "POST /api/provision HTTP/1.1\r\nX-Kensa-Token: {token}\r\nOrigin: http://attacker.example"
    );
    assert_eq!(dev.raw(&other, "{}").0, 403);
    assert!(
        dev.state()["resources"].as_array().unwrap().is_empty(),
        "nothing was provisioned"
    );

    // An event stream starts with the state and ends when the session does.
    let addr = dev.console.trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(crate::harness::dev::WAIT))
        .unwrap();
    use std::io::{Read, Write};
    write!(
        stream,
        "GET /api/events?token={token} HTTP/1.1\r\nHost: {addr}\r\n\r\n"
    )
    .unwrap();
    let mut first = [0u8; 512];
    let n = stream.read(&mut first).unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).contains("text/event-stream"));
    let (status, _) = dev.api("POST", "/api/stop", None);
    assert_eq!(status, 200);
    let mut rest = String::new();
    stream
        .read_to_string(&mut rest)
        .expect("the stream ends, not hangs");
    let all = format!("{}{rest}", String::from_utf8_lossy(&first[..n]));
    let state_at = all
        .find("event: state")
        .unwrap_or_else(|| panic!("the state comes first: {all:?}"));
    assert!(all[state_at..].contains("event: end"), "{all}");
    let mut dev = dev;
    assert_eq!(dev.wait_exit(), 0);
}

/// CPU time (user + system) of process `pid` so far, from /proc.
fn cpu_time(pid: u32) -> std::time::Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as u64;
    std::time::Duration::from_millis(ticks * 1000 / per_second)
}

/// Without a terminal (CI, a service manager), kensa dev's main loop found its key channel
/// closed and went round without waiting: a whole core busy while nothing happened. Idle,
/// it uses a few milliseconds a second; a spinning loop, a second a second (on a busy
/// machine less, but still far above the bound).
#[test]
fn regression_kensa_dev_without_a_terminal_kept_a_core_busy() {
    let dir = project(free_port(), "python3 provider.py");
    let mut dev = start(dir.path(), &[]);
    dev.wait_for("no terminal: stop with Ctrl-C or SIGTERM");
    let pid = dev.child.id();
    let (before, started) = (cpu_time(pid), std::time::Instant::now());
    std::thread::sleep(std::time::Duration::from_secs(3));
    let used = cpu_time(pid) - before;
    let elapsed = started.elapsed();
    dev.signal(libc::SIGTERM);
    assert_eq!(dev.wait_exit(), 0, "{}", dev.output());
    assert!(
        used < elapsed / 4,
        "kensa dev used {used:?} of CPU in {elapsed:?} while idle"
    );
}

#[test]
fn sigterm_stops_the_service_and_every_process_of_its_group() {
    // The web line leaves a child of its own running beside the provider.
    let dir = project(free_port(), "sleep 300 & python3 provider.py");
    let mut dev = start(dir.path(), &[]);
    let group = provider_group(dir.path());
    assert!(group_alive(group));
    assert_eq!(dev.state()["service"]["group"], json!(group));
    dev.signal(libc::SIGTERM);
    assert_eq!(dev.wait_exit(), 0, "{}", dev.output());
    assert!(group_gone(group), "the service's group outlived kensa dev");
    assert!(dev
        .output()
        .contains("stopped; the local Heroku's resources and calls are kept in"));
}

#[test]
fn ctrl_c_stops_the_service_and_every_process_of_its_group() {
    let dir = project(free_port(), "sleep 300 & python3 provider.py");
    let mut dev = start(dir.path(), &[]);
    let group = provider_group(dir.path());
    assert!(group_alive(group));
    dev.signal(libc::SIGINT);
    let code = dev.wait_exit();
    assert!(group_gone(group), "Ctrl-C left the service's group running");
    assert_eq!(code, 0, "{}", dev.output());
    assert!(dev.output().contains("stopping…"), "{}", dev.output());
}

#[test]
fn a_service_that_dies_is_said_at_once_in_the_terminal_and_the_console() {
    let dir = project(free_port(), "python3 provider.py");
    let dev = start(dir.path(), &[]);
    let group = provider_group(dir.path());
    let mut events = dev.events();
    // SAFETY: kill(2) of the service's own group, which this test's kensa dev started.
    unsafe {
        libc::kill(-group, libc::SIGKILL);
    }
    dev.wait_for("the service exited (signal: 9");
    dev.wait_for("press r (or Restart service in the console) to restart it");
    events.until("a state event saying it failed", |event| {
        event.starts_with("event: state\n") && event.contains("\"state\":\"failed\"")
    });
    assert_eq!(dev.state()["service"]["status"]["state"], "failed");
}

#[test]
fn a_service_that_fails_to_start_is_reported_with_its_last_lines() {
    let dir = project(
        free_port(),
        "echo 'loading settings'; echo 'fatal: DATABASE_URL is not set' >&2; exit 1",
    );
    let dev = DevProcess::spawn(dev_command(dir.path(), &[]));
    dev.wait_for("the service exited (exit status: 1) before it answered on port");
    dev.wait_for("  fatal: DATABASE_URL is not set");
    dev.wait_for("  loading settings");
    let state = dev.state();
    assert_eq!(state["service"]["status"]["state"], "failed");
    assert!(state["service"]["tail"]
        .as_array()
        .unwrap()
        .contains(&json!("fatal: DATABASE_URL is not set")));
}

#[test]
fn watch_restarts_the_service_and_runs_test_all_when_a_source_file_changes() {
    let dir = project(free_port(), "python3 provider.py");
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::create_dir(dir.path().join("node_modules")).unwrap();
    let dev = start(dir.path(), &["--watch"]);
    dev.wait_for("watching");
    let first = provider_group(dir.path());
    // Not source: nothing happens.
    std::fs::write(dir.path().join("node_modules/x.js"), "x").unwrap();
    std::fs::write(dir.path().join("src/app.py"), "# changed").unwrap();
    let line = dev.wait_for("restarting the service, then test all");
    assert!(line.contains("src"), "{line}");
    let state = dev.state_until("ran test all after the change", |s| {
        s["last_test"].is_object() && s["testing"] == false
    });
    assert!(state["last_test"]["summary"]["total"].as_u64().unwrap() > 20);
    assert_ne!(
        provider_group(dir.path()),
        first,
        "the service was restarted"
    );
    assert!(group_gone(first), "the old service is gone");
    assert!(
        !dev.output().contains("node_modules/x.js"),
        "{}",
        dev.output()
    );
}

#[test]
fn another_port_retargets_the_test_urls() {
    let manifest_port = free_port();
    let port = free_port();
    let dir = project(manifest_port, "python3 provider.py");
    let dev = start(dir.path(), &["--port", &port.to_string()]);
    dev.wait_for(&format!("provider listening on port {port}"));
    let (status, made) = dev.api("POST", "/api/provision", Some(json!({})));
    assert_eq!(
        (status, made["state"].as_str()),
        (200, Some("provisioned")),
        "{made}"
    );
    assert_eq!(made["plan"], "test", "the default plan");
}

#[test]
fn the_session_survives_a_restart_and_other_commands_use_its_last_resource() {
    let port = free_port();
    let dir = project(port, "python3 provider.py");
    let mut dev = start(dir.path(), &[]);
    let (_, made) = dev.api("POST", "/api/provision", Some(json!({"plan": "test"})));
    let uuid = made["uuid"].as_str().unwrap().to_owned();
    let heroku = dev.state()["heroku"].clone();

    // In the session: `kensa test sso` without an id signs in to that resource.
    let mut sso = crate::harness::kensa(dir.path());
    sso.args(["test", "sso", "--format", "json"]);
    let out = crate::harness::output(sso);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stderr}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr.contains(&format!(
            "Using the last resource provisioned against {MANIFEST}: r1, uuid {uuid}"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("by kensa dev"), "{stderr}");

    dev.signal(libc::SIGTERM);
    assert_eq!(dev.wait_exit(), 0);
    // The provider keeps its resources in memory; the session's record stays.
    let again = start(dir.path(), &[]);
    let state = again.state();
    assert_eq!(resource(&state, &uuid)["state"], "provisioned");
    assert_eq!(
        state["heroku"], heroku,
        "the local Heroku is back on its port"
    );
    assert_eq!(labels(resource(&state, &uuid))[0], "provision answered 200");
}

/// The line-mode and echo settings in `stty -a` output.
fn modes(stty: &str) -> Vec<String> {
    stty.split_whitespace()
        .filter(|w| matches!(*w, "icanon" | "-icanon" | "echo" | "-echo"))
        .map(str::to_owned)
        .collect()
}

/// Types keys on the pseudo-terminal (rexpect buffers until flushed).
fn press(p: &mut rexpect::session::PtySession, keys: &str) {
    p.send(keys).unwrap();
    p.flush().unwrap();
}

#[test]
fn keys_on_a_terminal_act_and_q_restores_the_terminal_and_leaves_nothing_running() {
    let dir = project(free_port(), "python3 provider.py");
    let script = format!(
        "stty -a; echo before-dev; {} dev --no-open; echo \"exit=$?\"; stty -a; echo after-dev",
        crate::harness::dev::kensa_bin().display()
    );
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", &script]);
    // The "browser" records what it was asked to open.
    let opener = dir.path().join("browser.sh");
    std::fs::write(&opener, "#!/bin/sh\necho \"$1\" >> opened.txt\n").unwrap();
    std::fs::set_permissions(&opener, std::fs::Permissions::from_mode(0o755)).unwrap();
    crate::harness::hermetic(&mut cmd, dir.path())
        .env("NO_COLOR", "1")
        .env("TERM", "dumb")
        .env("BROWSER", &opener);
    let mut p = spawn_command(cmd, Some(pty_timeout_ms())).unwrap();
    let before = modes(&p.exp_string("before-dev").unwrap());
    // rexpect reads bytes as Latin-1: expect the ASCII parts of lines.
    p.exp_string("the service answers on port").unwrap();
    p.exp_string("press t test all").unwrap();
    press(&mut p, "p");
    p.exp_string("provisioned r1").unwrap();
    press(&mut p, "c");
    p.exp_string("new plan for r1 (now test").unwrap();
    press(&mut p, "premium\r");
    p.exp_string("r1 is on plan premium now").unwrap();
    press(&mut p, "x");
    p.exp_string("press t test all").unwrap();
    press(&mut p, "s");
    p.exp_string("signing in to r1 in the browser").unwrap();
    press(&mut p, "o");
    press(&mut p, "d");
    p.exp_string("deprovisioned r1").unwrap();
    press(&mut p, "r");
    p.exp_string("restarting the service").unwrap();
    p.exp_string("the service answers on port").unwrap();
    press(&mut p, "t");
    p.exp_string("checks passed").unwrap();
    let group = provider_group(dir.path());
    press(&mut p, "q");
    p.exp_string("stopped; the local Heroku").unwrap();
    p.exp_string("exit=0").unwrap();
    let after = modes(&p.exp_string("after-dev").unwrap());
    assert_eq!(after, before, "the terminal's modes are restored");
    assert_eq!(before.len(), 2, "{before:?}");
    p.exp_eof().unwrap();
    assert!(group_gone(group), "q left the service's group running");
    let opened = std::fs::read_to_string(dir.path().join("opened.txt")).unwrap();
    let opened: Vec<&str> = opened.lines().collect();
    assert_eq!(opened.len(), 2, "{opened:?}");
    // Each opened from a thread of its own: in either order.
    assert!(
        opened
            .iter()
            .any(|u| u.contains("/sso/") && u.contains("?token=")),
        "s signs in: {opened:?}"
    );
    assert!(
        opened.iter().any(|u| u.contains("/?token=")),
        "o opens the console: {opened:?}"
    );
}

#[test]
fn a_resource_deprovisioned_in_another_terminal_is_shown_deprovisioned_in_the_console() {
    let dir = project(free_port(), "python3 provider.py");
    let dev = start(dir.path(), &[]);
    let (_, made) = dev.api("POST", "/api/provision", Some(json!({"plan": "test"})));
    let uuid = made["uuid"].as_str().unwrap().to_owned();
    assert_eq!(made["state"], "provisioned", "{made}");

    // Another terminal: `kensa test deprovision` without an id, on the session's resource.
    in_another_terminal(dir.path(), &["test", "deprovision"]);

    let state = dev.state_until("saw the deprovision made outside the session", |s| {
        resource(s, &uuid)["state"] == "deprovisioned"
    });
    let r = resource(&state, &uuid);
    let last = r["timeline"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        last["label"],
        "deprovisioned outside this session, by kensa test deprovision"
    );
    assert_eq!(last["status"], "done");
    assert!(last["at"].is_string(), "{last}");
    assert!(r["message"].is_null(), "{r}");
    dev.wait_for("r1 was deprovisioned outside this session (by kensa test deprovision");
    // Nothing left to act on: `d` and the console find no live resource.
    let (status, _) = dev.api("POST", "/api/resources/r1/deprovision", None);
    assert_eq!(status, 502);
    // The note was taken in: the saved session has it, the note is gone.
    let saved = std::fs::read_to_string(dir.path().join(".kensa/dev/session.json")).unwrap();
    assert!(saved.contains("kensa test deprovision"), "{saved}");
    let notes = dir.path().join(".kensa/dev/outside");
    let left = std::fs::read_dir(&notes).map_or(0, |d| d.count());
    assert_eq!(left, 0, "the notes are consumed");
}

/// Runs `kensa <args>` in `dir` as another terminal would, beside the session; it must pass.
fn in_another_terminal(dir: &Path, args: &[&str]) {
    let mut other = crate::harness::kensa(dir);
    other.args(args);
    let out = crate::harness::output(other);
    assert_eq!(
        out.status.code(),
        Some(0),
        "kensa {args:?}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `kensa test planchange` in another terminal changed the plan at the provider, and the
/// console went on showing the old one.
#[test]
fn regression_a_plan_changed_in_another_terminal_kept_its_old_plan_in_the_console() {
    let dir = project(free_port(), "python3 provider.py");
    let dev = start(dir.path(), &[]);
    let (_, made) = dev.api("POST", "/api/provision", Some(json!({"plan": "test"})));
    let uuid = made["uuid"].as_str().unwrap().to_owned();
    assert_eq!(made["state"], "provisioned", "{made}");

    // Another terminal: `kensa test planchange premium`, on the session's resource.
    in_another_terminal(dir.path(), &["test", "planchange", "premium"]);

    let state = dev.state_until("saw the plan change made outside the session", |s| {
        resource(s, &uuid)["plan"] == "premium"
    });
    let r = resource(&state, &uuid);
    assert_eq!(r["state"], "provisioned", "{r}");
    let last = r["timeline"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        last["label"],
        "plan changed to premium outside this session, by kensa test planchange"
    );
    dev.wait_for("r1 changed to plan premium outside this session (by kensa test planchange");
    // The last resource says so too, for the next command without an id.
    let saved = std::fs::read_to_string(dir.path().join(".kensa/last-resource.json")).unwrap();
    let saved: Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(saved["plan"], "premium", "{saved}");
}

#[test]
fn the_service_output_is_in_the_console_live_with_secrets_masked() {
    let port = free_port();
    let dir = project(
        port,
        "echo \"starting with password $HEROKU_PASSWORD\"; python3 provider.py",
    );
    let dev = start(dir.path(), &[]);
    dev.wait_for(&format!("web   │ provider listening on port {port}"));
    dev.wait_for("web   │ starting with password ********");
    let (status, lines) = dev.api("GET", "/api/output", None);
    assert_eq!(status, 200, "{lines}");
    let texts: Vec<&str> = lines
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["line"].as_str().unwrap())
        .collect();
    assert!(
        texts.contains(&"starting with password ********"),
        "{texts:?}"
    );
    assert!(texts.contains(&format!("provider listening on port {port}").as_str()));
    assert!(
        lines[0]["seq"].is_u64() && lines[0]["at"].is_string(),
        "{lines}"
    );

    // Live: a restart's lines come as `output` events on the console's stream.
    let mut events = dev.events();
    assert_eq!(dev.api("POST", "/api/restart", None).0, 202);
    let seen = events.until("an output event of the restarted service", |event| {
        event.starts_with("event: output\n") && event.contains("provider listening")
    });
    let everything = format!(
        "{seen}{}{}",
        dev.output(),
        dev.api("GET", "/api/output", None).1
    );
    assert!(!everything.contains(PASSWORD), "{everything}");
}
