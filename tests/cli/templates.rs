//! `kensa templates`: the list for people, `--json` for scripts, and a closed pipe.

use std::process::{Command, Stdio};

use serde_json::Value;

use crate::harness::{self, repo, Test, TEMPLATES};

/// The one-line description a template declares in its `template.toml`.
fn description(name: &str) -> String {
    let path = repo().join("templates").join(name).join("template.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let spec: toml::Table = toml::from_str(&text).unwrap();
    spec["description"].as_str().unwrap().to_owned()
}

#[test]
fn lists_every_template_with_its_description() {
    let out = Test::new().arg("templates").stderr("").unchanged().run();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), TEMPLATES.len(), "{}", out.stdout);
    for (line, name) in lines.iter().zip(TEMPLATES) {
        let (first, rest) = line.split_once(' ').unwrap();
        assert_eq!(first, name, "{line}");
        assert_eq!(rest.trim_start(), description(name), "{line}");
    }
}

#[test]
fn output_is_plain_when_not_a_terminal() {
    let out = Test::new().arg("templates").run();
    assert!(!out.stdout.contains('\x1b'), "{:?}", out.stdout);
}

#[test]
fn color_always_styles_the_names() {
    let out = Test::new().args(["templates", "--color", "always"]).run();
    assert!(out.stdout.contains("\x1b[1m"), "{:?}", out.stdout);
}

#[test]
fn json_is_an_array_of_name_description_variables_commands() {
    let out = Test::new().args(["templates", "--json"]).stderr("").run();
    let list: Value = serde_json::from_str(&out.stdout).expect("valid JSON");
    let list = list.as_array().expect("an array");
    let names: Vec<&str> = list.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, TEMPLATES);
    for t in list {
        let name = t["name"].as_str().unwrap();
        let mut keys: Vec<&str> = t.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["commands", "description", "name", "variables"],
            "{name}"
        );
        assert_eq!(t["description"], description(name).as_str());
        assert!(t["variables"].is_object(), "{name}: {t:#}");
        assert!(t["commands"].is_object(), "{name}: {t:#}");
    }
    let node = list.iter().find(|t| t["name"] == "node").unwrap();
    assert_eq!(node["variables"]["node_version"]["type"], "string");
    assert_eq!(node["commands"]["install"], "npm install");
}

/// Runs kensa with stdout on a pipe whose read end is already closed, so its very first
/// write fails with EPIPE, every time (no race with a reader such as `head`).
fn into_a_closed_pipe(args: &[&str]) -> std::process::Output {
    into_a_closed_pipe_from(Test::new().args(args))
}

/// The same, for a test with its own files.
fn into_a_closed_pipe_from(test: Test) -> std::process::Output {
    let mut reader = Command::new("true").stdin(Stdio::piped()).spawn().unwrap();
    let write_end = reader.stdin.take().unwrap();
    reader.wait().unwrap(); // the only holder of the read end has exited
    harness::output_to(test.command(), Stdio::from(write_end))
}

/// `kensa templates | head -1` must not print "Broken pipe" or fail: the reader is gone,
/// which is the reader's business.
#[test]
fn a_closed_pipe_is_not_an_error() {
    let out = into_a_closed_pipe(&["templates"]);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(out.status.code(), Some(0));
}

/// Regression: the JSON list is written by serde_json, whose error hides the io::Error
/// from the error chain, so the broken pipe was reported as `error: Broken pipe` (exit 1).
#[test]
fn a_closed_pipe_is_not_an_error_for_json_either() {
    let out = into_a_closed_pipe(&["templates", "--json"]);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_closed_pipe_after_create_is_not_an_error() {
    let out = into_a_closed_pipe(&["create", "p", "--template", "node", "--dry-run"]);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn piping_into_head_is_quiet() {
    let home = tempfile::tempdir().unwrap();
    let script = format!("'{}' templates | head -c1", harness::kensa_bin().display());
    let mut sh = Command::new("sh");
    harness::hermetic(&mut sh, home.path()).args(["-c", &script]);
    let out = harness::output(sh);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "c"); // clojure
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

/// `kensa test manifest` into a closed pipe, in every format: quiet, and the exit status
/// is the report's (0 here, every rule passes).
#[test]
fn a_closed_pipe_is_not_an_error_for_test_manifest() {
    let manifest = crate::harness::fixture::good().to_string();
    for format in ["human", "json", "junit"] {
        let test = Test::new()
            .write("addon-manifest.json", &manifest)
            .args(["test", "manifest", "--format", format]);
        let out = into_a_closed_pipe_from(test);
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{format}");
        assert_eq!(out.status.code(), Some(0), "{format}");
    }
}

/// Regression: a closed stdout made the run exit 0 even when checks had failed, so
/// `kensa test manifest | head` in a `pipefail` CI script passed a broken manifest.
#[test]
fn regression_a_closed_pipe_turned_failed_checks_into_exit_0() {
    let manifest = crate::harness::fixture::with("/api/password", serde_json::json!(""));
    for format in ["human", "json", "junit"] {
        let test = Test::new()
            .write("addon-manifest.json", &manifest)
            .args(["test", "manifest", "--format", format]);
        let out = into_a_closed_pipe_from(test);
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "{format}");
        assert_eq!(out.status.code(), Some(1), "{format}");
    }
}

/// Errors still go to stderr when stdout is closed: the closed pipe hides nothing else.
#[test]
fn a_closed_pipe_does_not_hide_an_input_error() {
    let test = Test::new()
        .write("addon-manifest.json", "")
        .args(["test", "manifest", "--format", "json"]);
    let out = into_a_closed_pipe_from(test);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: addon-manifest.json: the manifest is empty; `kensa init` writes one\n"
    );
    assert_eq!(out.status.code(), Some(2));
}

/// Issue 15: `kensa templates --json` gave `"start": null` for sinatra although its README
/// named a start command. Every embedded template declares how to start it (template.toml
/// `[commands]`), and the list carries it as declared.
#[test]
fn regression_templates_json_had_no_start_command() {
    let out = Test::new().args(["templates", "--json"]).run();
    let list: Value = serde_json::from_str(&out.stdout).unwrap();
    for t in list.as_array().unwrap() {
        let name = t["name"].as_str().unwrap();
        let path = repo().join("templates").join(name).join("template.toml");
        let spec: toml::Table = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let declared = spec
            .get("commands")
            .and_then(|c| c.get("start"))
            .and_then(|s| s.as_str())
            .unwrap_or_else(|| panic!("{name}: template.toml declares no start command"));
        assert_eq!(t["commands"]["start"], declared, "{name}");
    }
}
