//! Issue 13: templates from git repositories, through the system git, tested with local
//! bare repositories over `file://` (no network): a tag, a branch, a commit, a
//! subdirectory, `--ref`, the commit recorded, `kensa update` to a newer ref, and clear
//! errors when git, the remote, the ref or the directory is missing.

use std::fs;

use crate::harness::git::{commit_all, git, git_output};
use crate::harness::{Output, Test};

/// A repository holding a template in `templates/svc` at two versions: tag `v1`, then the
/// default branch one commit later. Returns the bare remote's `file://` URL and v1's hash.
fn remote(test: &Test) -> (String, String) {
    let work = test.path().join("work");
    let svc = work.join("templates/svc");
    fs::create_dir_all(&svc).unwrap();
    fs::write(
        svc.join("template.toml"),
        "description = \"a git template\"\n",
    )
    .unwrap();
    fs::write(svc.join("version.txt.tera"), "v1 for {{ id }}\n").unwrap();
    fs::write(work.join("README.md"), "not a template\n").unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    commit_all(&work, "v1");
    git(&work, &["tag", "v1"]);
    let v1 = git_output(&work, &["rev-parse", "HEAD"]);
    fs::write(svc.join("version.txt.tera"), "v2 for {{ id }}\n").unwrap();
    fs::write(svc.join("extra.txt"), "only in v2\n").unwrap();
    commit_all(&work, "v2");
    let bare = test.path().join("remote.git");
    git(
        test.path(),
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    (format!("file://{}", bare.display()), v1)
}

fn create(test: Test, template: &str, extra: &[&str]) -> Output {
    test.args([
        "create",
        "p",
        "--template",
        template,
        "--no-input",
        "--id",
        "from-git",
    ])
    .args(extra)
    .run()
}

fn answers(out: &Output) -> toml::Table {
    toml::from_str(&out.read("p/.kensa/answers.toml")).unwrap()
}

#[test]
fn a_subdirectory_at_a_tag() {
    let test = Test::new();
    let (url, v1) = remote(&test);
    let out = create(test, &format!("{url}//templates/svc@v1"), &[]);
    assert_eq!(out.read("p/version.txt"), "v1 for from-git\n");
    assert!(!out.exists("p/extra.txt"));
    assert!(
        !out.exists("p/README.md"),
        "only the subdirectory is the template"
    );
    let a = answers(&out);
    assert_eq!(
        a["template"]["source"].as_str(),
        Some(format!("{url}//templates/svc").as_str())
    );
    assert_eq!(a["template"]["ref"].as_str(), Some("v1"));
    assert_eq!(a["template"]["commit"].as_str(), Some(v1.as_str()));
    assert!(
        out.stdout
            .contains(&format!("from the {url}//templates/svc@v1 template")),
        "{}",
        out.stdout
    );
}

#[test]
fn the_ref_flag_and_the_default_branch() {
    let test = Test::new();
    let (url, _) = remote(&test);
    let source = format!("{url}//templates/svc");
    let out = create(test, &source, &["--ref", "v1"]);
    assert_eq!(out.read("p/version.txt"), "v1 for from-git\n");
    let test = Test::new();
    let (url, _) = remote(&test);
    let out = create(test, &format!("{url}//templates/svc"), &[]);
    assert_eq!(
        out.read("p/version.txt"),
        "v2 for from-git\n",
        "the default branch"
    );
    assert_eq!(out.read("p/extra.txt"), "only in v2\n");
}

#[test]
fn a_full_commit_hash() {
    let test = Test::new();
    let (url, v1) = remote(&test);
    let out = create(test, &format!("{url}//templates/svc"), &["--ref", &v1]);
    assert_eq!(out.read("p/version.txt"), "v1 for from-git\n");
    assert_eq!(
        answers(&out)["template"]["commit"].as_str(),
        Some(v1.as_str())
    );
}

#[test]
fn the_clone_is_temporary() {
    let test = Test::new();
    let (url, _) = remote(&test);
    let tmp = test.path().join("tmp");
    fs::create_dir(&tmp).unwrap();
    let out = create(
        test.env("TMPDIR", &tmp),
        &format!("{url}//templates/svc"),
        &[],
    );
    assert_eq!(
        fs::read_dir(out.path("tmp")).unwrap().count(),
        0,
        "clone removed"
    );
}

#[test]
fn update_follows_the_recorded_ref_and_moves_with_ref() {
    let test = Test::new();
    let (url, _) = remote(&test);
    let out = create(test, &format!("{url}//templates/svc@v1"), &[]);
    // The tag has not moved: up to date.
    let out = out
        .then()
        .args(["update", "p"])
        .stdout_contains("Up to date")
        .run();
    // To the branch: v2, recorded as the new ref.
    let out = out
        .then()
        .args(["update", "p", "--ref", "main"])
        .stdout_contains("update   version.txt")
        .stdout_contains("add      extra.txt")
        .run();
    assert_eq!(out.read("p/version.txt"), "v2 for from-git\n");
    assert_eq!(answers(&out)["template"]["ref"].as_str(), Some("main"));
}

#[test]
fn an_unknown_ref_is_a_clear_error() {
    let test = Test::new();
    let (url, _) = remote(&test);
    test.args([
        "create",
        "p",
        "--template",
        &format!("{url}//templates/svc@v9"),
        "--no-input",
    ])
    .status(2)
    .stderr_contains("no branch, tag or commit \"v9\"")
    .unchanged()
    .run();
}

#[test]
fn an_unreachable_remote_is_a_clear_error() {
    let test = Test::new();
    let missing = format!("file://{}/nowhere.git", test.path().display());
    test.args(["create", "p", "--template", &missing, "--no-input"])
        .status(2)
        .stderr_contains("cannot fetch the template")
        .stderr_contains("nowhere.git")
        .unchanged()
        .run();
}

#[test]
fn a_missing_subdirectory_is_a_clear_error() {
    let test = Test::new();
    let (url, _) = remote(&test);
    test.args([
        "create",
        "p",
        "--template",
        &format!("{url}//templates/nope"),
        "--no-input",
    ])
    .status(2)
    .stderr_contains("has no directory templates/nope")
    .unchanged()
    .run();
}

#[test]
fn without_git_a_git_source_says_git_is_needed() {
    let test = Test::new();
    let (url, _) = remote(&test);
    test.env("PATH", "/nonexistent")
        .args(["create", "p", "--template", &url, "--no-input"])
        .status(2)
        .stderr_contains("git is not installed")
        .unchanged()
        .run();
}

#[test]
fn ref_is_only_for_git_sources() {
    Test::new()
        .args([
            "create",
            "p",
            "--template",
            "node",
            "--ref",
            "v1",
            "--no-input",
        ])
        .status(2)
        .stderr_contains("--ref is for git template sources")
        .unchanged()
        .run();
}

#[test]
fn ctrl_c_during_a_clone_stops_git_and_removes_the_clone() {
    use std::os::unix::fs::PermissionsExt;
    // A git that never finishes: kensa must stop it (its whole process group), remove the
    // temporary directory and exit 130.
    let test = Test::new()
        .mkdir("tmp")
        .write("bin/git", "#!/bin/sh\nexec sleep 60\n");
    let git_path = test.path().join("bin/git");
    fs::set_permissions(&git_path, fs::Permissions::from_mode(0o755)).unwrap();
    let tmp = test.path().join("tmp");
    let path = format!("{}:/usr/bin:/bin", test.path().join("bin").display());
    let test = test.env("TMPDIR", &tmp).env("PATH", &path).args([
        "create",
        "p",
        "--template",
        "file:///nowhere/t.git",
        "--no-input",
    ]);
    let mut cmd = test.command();
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + crate::harness::TIMEOUT;
    while fs::read_dir(&tmp).unwrap().count() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the clone never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // Let git start, then interrupt.
    std::thread::sleep(std::time::Duration::from_millis(200));
    // SAFETY: kill(2) on the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = crate::harness::wait(&mut child);
    assert_eq!(status.code(), Some(130));
    assert_eq!(
        fs::read_dir(&tmp).unwrap().count(),
        0,
        "the clone is removed"
    );
}

#[test]
fn regression_replay_of_a_project_made_at_a_tag_recorded_the_commit_as_its_ref() {
    let test = Test::new();
    let (url, v1) = remote(&test);
    let out = create(test, &format!("{url}//templates/svc@v1"), &[]);
    let out = out
        .then()
        .args(["create", "again", "--replay", "p", "--no-input"])
        .run();
    assert_eq!(out.read("again/version.txt"), "v1 for from-git\n");
    assert_eq!(
        out.read("again/.kensa/answers.toml"),
        out.read("p/.kensa/answers.toml"),
        "the same answers: source, ref v1, commit {v1}"
    );
}

#[test]
fn replay_of_a_project_made_on_a_branch_renders_its_commit_and_follows_the_branch() {
    let test = Test::new();
    let (url, _) = remote(&test);
    let out = create(test, &format!("{url}//templates/svc"), &["--ref", "main"]);
    // The branch moves on after the project was made.
    let work = out.path("work");
    fs::write(
        work.join("templates/svc/version.txt.tera"),
        "v3 for {{ id }}\n",
    )
    .unwrap();
    commit_all(&work, "v3");
    let bare = out.path("remote.git");
    git(&work, &["push", "-q", bare.to_str().unwrap(), "main"]);
    let out = out
        .then()
        .args(["create", "again", "--replay", "p", "--no-input"])
        .run();
    assert_eq!(
        out.read("again/version.txt"),
        "v2 for from-git\n",
        "the recorded commit"
    );
    let out = out
        .then()
        .args(["update", "again"])
        .stdout_contains("update   version.txt")
        .run();
    assert_eq!(out.read("again/version.txt"), "v3 for from-git\n");
}
