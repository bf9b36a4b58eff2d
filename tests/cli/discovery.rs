//! Where commands find the manifest (issue 15): the current directory or a parent of it up
//! to the repository root, the older `addon_manifest.json` name with a warning, and a
//! message that says what to run when there is none.

use std::process::Stdio;

use crate::harness::{self, fixture::good, Test};
use crate::stub::Addon;

fn manifest_text() -> String {
    serde_json::to_string_pretty(&good()).unwrap()
}

/// Issue 15: outside a project every command said only "cannot read manifest
/// addon-manifest.json". It now says what to run.
#[test]
fn regression_a_missing_manifest_said_only_cannot_read_it() {
    let commands: &[&[&str]] = &[
        &["test"],
        &["test", "manifest"],
        &["test", "all"],
        &["run", "--", "true"],
        &["sso", "42", "--no-browser"],
        &["push"],
        &["diff"],
    ];
    for args in commands {
        Test::new()
            .mkdir(".git")
            .args(*args)
            .status(2)
            .stderr_contains("error: no addon-manifest.json in ")
            .stderr_contains("or a parent directory up to ")
            .stderr_contains("`kensa init` to write one here")
            .stderr_contains("`kensa create DIR --template NAME`")
            .stderr_contains("-f PATH")
            .unchanged()
            .run();
    }
}

/// Issue 15: from a subdirectory of a project (its `src/`, say) every command failed.
#[test]
fn regression_commands_failed_in_a_subdirectory_of_the_project() {
    Test::new()
        .mkdir(".git")
        .write("addon-manifest.json", manifest_text())
        .current_dir("src/deep")
        .args(["test", "manifest"])
        .stdout_contains("Testing manifest ../../addon-manifest.json")
        .stdout_contains("all 18 checks passed")
        .stderr("")
        .run();
}

/// The whole lifecycle from a subdirectory: the manifest and the `.env` beside it (the
/// client secret kensa's loopback Heroku checks) are the project's.
#[test]
fn test_all_and_run_work_from_a_subdirectory() {
    let sim = crate::harness::Sim::new(Addon::v3());
    std::fs::create_dir_all(sim.path().join(".git")).unwrap();
    std::fs::create_dir_all(sim.path().join("lib/sub")).unwrap();
    for args in [
        &["test", "all"][..],
        &["run", "--", "sh", "-c", "test -n \"$STUBBY_URL\""],
    ] {
        let mut cmd = harness::kensa(sim.path());
        cmd.current_dir(sim.path().join("lib/sub"))
            .args(args)
            .stdin(Stdio::null());
        let out = harness::output(cmd);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}\n{stdout}\n{stderr}");
        assert!(
            format!("{stdout}{stderr}").contains("Testing manifest ../../addon-manifest.json"),
            "{stdout}\n{stderr}"
        );
    }
    assert!(sim.stub.live().is_empty());
}

/// A manifest above the repository belongs to something else: the search stops at the
/// directory holding `.git`.
#[test]
fn the_search_stops_at_the_repository_root() {
    let out = Test::new()
        .write("addon-manifest.json", manifest_text())
        .mkdir("repo/.git")
        .current_dir("repo/sub")
        .args(["test", "manifest"])
        .status(2)
        .stderr_contains("no addon-manifest.json in ")
        .unchanged()
        .run();
    assert!(
        out.stderr
            .contains(&format!("up to {}\n", out.path("repo").display())),
        "{}",
        out.stderr
    );
}

/// A `.git` file (a worktree or a submodule) marks a repository root too.
#[test]
fn a_git_file_marks_the_root_as_well() {
    Test::new()
        .write("addon-manifest.json", manifest_text())
        .write("wt/.git", "gitdir: /elsewhere\n")
        .current_dir("wt")
        .args(["test", "manifest"])
        .status(2)
        .stderr_contains("no addon-manifest.json in ")
        .run();
}

/// Issue 15: the `addon_manifest.json` name older tooling wrote is read, with a warning
/// that says how to rename it.
#[test]
fn regression_the_older_addon_manifest_name_was_not_found() {
    Test::new()
        .mkdir(".git")
        .write("addon_manifest.json", manifest_text())
        .current_dir("sub")
        .args(["test", "manifest"])
        .stdout_contains("Testing manifest ../addon_manifest.json")
        .stdout_contains("all 18 checks passed")
        .stderr_contains("warning: using ../addon_manifest.json, the name older tooling wrote")
        .stderr_contains("rename it to addon-manifest.json")
        .unchanged()
        .run();
}

/// Beside each other, the current name wins, and nothing warns.
#[test]
fn the_current_name_wins_over_the_older_one() {
    Test::new()
        .mkdir(".git")
        .write("addon_manifest.json", "not even JSON")
        .write("addon-manifest.json", manifest_text())
        .args(["test", "manifest"])
        .stdout_contains("Testing manifest addon-manifest.json")
        .stderr("")
        .run();
}

/// `-f` and `KENSA_MANIFEST` name the file: no search, and no fallback.
#[test]
fn a_given_manifest_is_used_as_it_is() {
    Test::new()
        .write("addon-manifest.json", manifest_text())
        .args(["test", "manifest", "-f", "other.json"])
        .status(2)
        .stderr_contains("cannot read manifest other.json")
        .run();
    Test::new()
        .write("addon-manifest.json", manifest_text())
        .env("KENSA_MANIFEST", "other.json")
        .args(["test", "manifest"])
        .status(2)
        .stderr_contains("cannot read manifest other.json")
        .run();
}

/// The older spelling `kensa -f PATH <command>` still works where a manifest is read, and
/// beats `KENSA_MANIFEST` as any flag beats the environment; before a command that reads
/// none it is a usage error instead of being ignored.
#[test]
fn the_filename_before_the_command_still_works() {
    Test::new()
        .write("m.json", manifest_text())
        .args(["-f", "m.json", "test", "manifest"])
        .stdout_contains("Testing manifest m.json")
        .run();
    Test::new()
        .write("m.json", manifest_text())
        .env("KENSA_MANIFEST", "from-env.json")
        .args(["-f", "m.json", "test", "manifest", "--format", "json"])
        .stdout_contains("\"manifest\": \"m.json\"")
        .run();
    for command in ["templates", "completions", "man"] {
        let mut args = vec!["-f", "m.json", command];
        if command == "completions" {
            args.push("bash");
        }
        Test::new()
            .args(&args)
            .status(2)
            .stderr_contains(&format!("`kensa {command}` reads none"))
            .unchanged()
            .run();
    }
}

/// `pull` replaces the project's manifest (found upwards) rather than adding a second one
/// in a subdirectory; without a project it writes one here. (Refused here without
/// `--force`, before any network: the file is found and exists.)
#[test]
fn pull_targets_the_project_manifest() {
    Test::new()
        .mkdir(".git")
        .write("addon-manifest.json", manifest_text())
        .current_dir("sub")
        .env("HEROKU_API_KEY", "k")
        .args(["pull", "my-addon", "--no-input"])
        .status(2)
        .stderr_contains("../addon-manifest.json already exists")
        .unchanged()
        .run();
}
