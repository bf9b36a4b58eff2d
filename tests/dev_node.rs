//! `kensa dev` against the node template, as a provider developer runs it. Not part of
//! `cargo test`: the template's npm dependencies come from the npm registry, so these run
//! from `bash tests/dev-e2e.sh` (the README's test command, also run by CI), which installs
//! them once and passes their folder in `KENSA_DEV_NODE_MODULES`. Without it they fail,
//! saying what to run: never a silent skip.

#[path = "cli/harness/dev.rs"]
#[allow(dead_code)] // the helpers the hermetic tests use as well
mod dev;

use std::path::{Path, PathBuf};
use std::process::Command;

use dev::{dev_command, group_gone, kensa_bin, DevProcess};
use rexpect::session::spawn_command;
use serde_json::{json, Value};
use tempfile::TempDir;

/// A node project made by `kensa create`, its test URLs on a free port, its
/// `node_modules` the installed ones.
fn project() -> (TempDir, PathBuf, u16) {
    let modules = std::env::var_os("KENSA_DEV_NODE_MODULES").map(PathBuf::from);
    let modules = match modules {
        Some(m) if m.join("express").is_dir() => m,
        other => panic!(
            "KENSA_DEV_NODE_MODULES ({other:?}) must name the node template's installed node_modules: run `bash tests/dev-e2e.sh`, which installs Node.js's npm packages for it (needs node and npm: apt-get install nodejs npm)"
        ),
    };
    let port = dev::free_port();
    let tmp = tempfile::Builder::new()
        .prefix("kensa-dev-node-")
        .tempdir()
        .unwrap();
    let dir = tmp.path().join("provider");
    let out = Command::new(kensa_bin())
        .args([
            "create",
            dir.to_str().unwrap(),
            "--template",
            "node",
            "--no-input",
        ])
        .args(["--id", "devnode", "--port", &port.to_string()])
        .env("HOME", tmp.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::os::unix::fs::symlink(&modules, dir.join("node_modules")).unwrap();
    (tmp, dir, port)
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
        .unwrap_or_else(|| panic!("no resource {uuid}: {state:#}"))
}

#[test]
fn the_node_service_starts_on_its_port_and_the_console_runs_the_checks_and_provisions() {
    let (_tmp, dir, port) = project();
    let dev = start(&dir, &["--async-timeout", "30"]);
    dev.wait_for(&format!("listening on port {port}"));
    let state = dev.state();
    assert_eq!(state["service"]["port"], json!(port));
    assert_eq!(state["service"]["status"]["state"], "running");
    assert_eq!(state["service"]["command"], "node server.js");

    // test all from the console's API: every check passes against the template.
    assert_eq!(dev.api("POST", "/api/test", None).0, 202);
    let state = dev.state_until("finished test all", |s| {
        s["last_test"].is_object() && s["testing"] == false
    });
    let run = &state["last_test"];
    assert_eq!(run["passed"], true, "{run:#}\n{}", dev.output());
    assert!(run["summary"]["total"].as_u64().unwrap() > 30);

    // A provision through the console appears in the state and in the saved session.
    let (status, made) = dev.api("POST", "/api/provision", Some(json!({"plan": "test"})));
    assert_eq!(
        (status, made["state"].as_str()),
        (200, Some("provisioned")),
        "{made}"
    );
    let uuid = made["uuid"].as_str().unwrap().to_owned();
    let id = made["id"].as_str().unwrap().to_owned();
    assert_eq!(
        resource(&dev.state(), &uuid)["config"],
        json!({"DEVNODE_URL": "••••••"})
    );
    let saved = std::fs::read_to_string(dir.join(".kensa/dev/session.json")).unwrap();
    assert!(saved.contains(&uuid) && saved.contains(&id));

    // An asynchronous provision shows every step.
    let (_, pending) = dev.api("POST", "/api/provision", Some(json!({"plan": "async"})));
    let async_uuid = pending["uuid"].as_str().unwrap().to_owned();
    let state = dev.state_until("provisioned asynchronously", |s| {
        resource(s, &async_uuid)["state"] == "provisioned"
    });
    let labels: Vec<&str> = resource(&state, &async_uuid)["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        [
            "provision answered 202: provisioning asynchronously",
            "grant exchanged for an access token",
            "config set: DEVNODE_URL",
            "provisioned (the provider called back)"
        ],
        "{}",
        dev.output()
    );

    // A second `kensa test sso` without an id uses the last resource, and says so.
    let async_id = resource(&state, &async_uuid)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = Command::new(kensa_bin())
        .args(["test", "sso", "--format", "json"])
        .current_dir(&dir)
        .env("HOME", &dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{stderr}\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        stderr.contains(&format!("Using the last resource provisioned against addon-manifest.json: {async_id}, uuid {async_uuid}")),
        "{stderr}"
    );
}

#[test]
fn q_on_the_terminal_leaves_no_process_of_the_node_service_behind() {
    let (_tmp, dir, _port) = project();
    let script = format!("{} dev --no-open; echo exit=$?", kensa_bin().display());
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script])
        .current_dir(&dir)
        .env("HOME", &dir)
        .env("NO_COLOR", "1");
    let mut p = spawn_command(cmd, Some(dev::WAIT.as_millis() as u64)).unwrap();
    p.exp_string("console:").unwrap();
    let (_, address) = p.exp_regex(r"http://127\.0\.0\.1:\d+/\?token=\w+").unwrap();
    p.exp_string("the service answers on port").unwrap();
    let (base, token) = address.split_once("/?token=").unwrap();
    let state = get_state(base, token);
    let group = state["service"]["group"]
        .as_i64()
        .expect("the service's group") as i32;
    assert!(dev::group_alive(group));
    p.send("q").unwrap();
    p.flush().unwrap();
    p.exp_string("exit=0").unwrap();
    assert!(group_gone(group), "node outlived kensa dev");
}

fn get_state(base: &str, token: &str) -> Value {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET /api/state HTTP/1.1\r\nHost: {addr}\r\nX-Kensa-Token: {token}\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    serde_json::from_str(text.split_once("\r\n\r\n").unwrap().1).unwrap()
}

#[test]
fn a_node_service_that_cannot_start_is_reported_with_its_last_lines() {
    let (_tmp, dir, port) = project();
    let env = std::fs::read_to_string(dir.join(".env")).unwrap();
    std::fs::write(
        dir.join(".env"),
        format!("{env}DATABASE_URL=mysql://nope\n"),
    )
    .unwrap();
    let dev = DevProcess::spawn(dev_command(&dir, &[]));
    dev.wait_for(&format!(
        "the service exited (exit status: 1) before it answered on port {port}"
    ));
    dev.wait_for("DATABASE_URL must be a postgres:// or postgresql:// URL");
    assert_eq!(dev.state()["service"]["status"]["state"], "failed");
}
