//! Issue 10's scaffolding defects, each pinned by a regression test named after it: data
//! loss (`create --force`, signals during `create`, `init --foreman`, `create .`) and
//! templates that used to be read blindly or crash kensa (links out of the template,
//! FIFOs, include and macro cycles, allocation bombs, `extends` of a later file).

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::git::git;
use crate::harness::{self, Test, MANIFEST};

/// Every file under `dir` with its bytes, to compare a tree before and after.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
            (rel, fs::read(e.path()).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// A project directory that is a git repository with every change committed: a file of
/// the user's own and an edited `package.json` (a path the node template writes).
fn committed_project(test: Test) -> Test {
    let test = test
        .write("p/NOTES.md", "my own notes\n")
        .write("p/package.json", "{\"name\": \"edited by hand\"}\n");
    let p = test.path().join("p");
    git(&p, &["init", "-q"]);
    git(&p, &["add", "-A"]);
    git(&p, &["commit", "-q", "-m", "mine"]);
    test
}

const FORCE: [&str; 6] = ["create", "p", "--template", "node", "--no-input", "--force"];

// ---------------------------------------------------------------------------------------
// Data loss

#[test]
fn regression_create_force_deleted_git_and_files_the_template_never_wrote() {
    let test = committed_project(Test::new());
    let git_before = snapshot(&test.path().join("p/.git"));
    let out = test
        .args(FORCE)
        .stdout_contains("replace  package.json")
        .stdout_contains("keeps every other file")
        .run();
    assert_eq!(
        snapshot(&out.path("p/.git")),
        git_before,
        ".git is byte-identical"
    );
    assert_eq!(out.read("p/NOTES.md"), "my own notes\n");
    let package: serde_json::Value = out.json("p/package.json");
    assert_eq!(package["name"], "p", "the edited template file is replaced");
    assert!(out.exists("p/server.js") && out.exists("p/addon-manifest.json"));
    let leftovers: Vec<String> = fs::read_dir(out.path("p"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".kensa-new") || n.starts_with(".kensa-old"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_eq!(out.top_level(), ["p"]);
}

#[test]
fn regression_create_force_replaced_files_in_a_dirty_git_work_tree() {
    let test = committed_project(Test::new()).write("p/NOTES.md", "uncommitted edit\n");
    let out = test
        .args(FORCE)
        .status(2)
        .stderr_contains("uncommitted changes")
        .stderr_contains("NOTES.md")
        .stderr_contains("--allow-dirty")
        .unchanged()
        .run();
    // With --allow-dirty it goes ahead, and still keeps the user's file.
    let out = out.then().args(FORCE).arg("--allow-dirty").run();
    assert_eq!(out.read("p/NOTES.md"), "uncommitted edit\n");
    assert!(out.exists("p/server.js"));
}

#[test]
fn an_untracked_file_makes_the_work_tree_dirty_too() {
    committed_project(Test::new())
        .write("p/scratch.txt", "not yet added\n")
        .args(FORCE)
        .status(2)
        .stderr_contains("scratch.txt")
        .unchanged()
        .run();
}

#[test]
fn force_outside_any_repository_needs_no_allow_dirty() {
    let out = Test::new()
        .write("p/mine.txt", "keep me\n")
        .args(FORCE)
        .run();
    assert_eq!(out.read("p/mine.txt"), "keep me\n");
    assert!(out.exists("p/package.json"));
}

#[test]
fn force_refuses_a_directory_where_the_template_writes_a_file_and_writes_nothing() {
    Test::new()
        .write("p/package.json/inside.txt", "a directory in the way\n")
        .write("p/mine.txt", "keep me\n")
        .args(FORCE)
        .status(2)
        .stderr_contains("package.json is a directory")
        .unchanged()
        .run();
}

#[test]
fn force_never_writes_through_a_symlinked_directory() {
    let test = Test::new()
        .write("outside/keep.txt", "outside\n")
        .write("p/mine.txt", "mine\n");
    symlink(test.path().join("outside"), test.path().join("p/src")).unwrap();
    test.args(FORCE)
        .status(2)
        .stderr_contains("symbolic link")
        .unchanged()
        .run();
}

#[test]
fn force_dry_run_lists_the_files_it_would_replace_and_writes_nothing() {
    Test::new()
        .write("p/package.json", "{}\n")
        .write("p/mine.txt", "mine\n")
        .args(FORCE)
        .arg("--dry-run")
        .stdout_contains("replace  package.json")
        .unchanged()
        .run();
}

/// Polls `dir` until an entry starting with `prefix` appears (or the harness's timeout).
fn wait_for_entry(dir: &Path, prefix: &str) -> bool {
    let deadline = Instant::now() + harness::TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(entries) = fs::read_dir(dir) {
            if entries
                .filter_map(Result::ok)
                .any(|e| e.file_name().to_string_lossy().starts_with(prefix))
            {
                return true;
            }
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    false
}

/// A template of many files, so that staging them takes long enough to be interrupted.
fn big_template(test: Test) -> Test {
    let mut test = test.write("tpl/template.toml", "description = \"many files\"\n");
    for i in 0..3000 {
        test = test.write(format!("tpl/d{}/f{i}.txt", i % 30), "x".repeat(2000));
    }
    test
}

#[test]
fn regression_a_signal_during_create_left_the_staging_directory_behind() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        let test = big_template(Test::new()).mkdir("work");
        let mut cmd = test.command();
        cmd.args(["create", "work/p", "--template", "./tpl", "--no-input"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        assert!(
            wait_for_entry(&test.path().join("work"), ".kensa-new-"),
            "staging never started"
        );
        // SAFETY: kill(2) on the child we spawned.
        unsafe { libc::kill(child.id() as i32, signal) };
        let status = harness::wait(&mut child);
        let left: Vec<String> = fs::read_dir(test.path().join("work"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(
            left.iter().all(|n| !n.starts_with(".kensa-")),
            "signal {signal}: staging left behind: {left:?}"
        );
        if left.is_empty() {
            assert_eq!(status.code(), Some(130), "signal {signal}: {status:?}");
        } else {
            assert_eq!(left, ["p"], "finished before the signal, completely");
        }
    }
}

#[test]
fn regression_create_dot_in_an_empty_current_directory_failed_with_ebusy() {
    let out = Test::new()
        .current_dir("dot-project")
        .args(["create", ".", "--template", "node", "--no-input"])
        .stdout_contains("Created")
        .changes(["dot-project"])
        .run();
    assert!(out.exists("dot-project/package.json"));
    assert_eq!(
        out.json("dot-project/addon-manifest.json")["id"],
        "dot-project"
    );
    let names: Vec<String> = fs::read_dir(out.path("dot-project"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with(".kensa-")), "{names:?}");
}

#[test]
fn create_dot_in_a_non_empty_directory_needs_force() {
    Test::new()
        .write("here/mine.txt", "mine\n")
        .current_dir("here")
        .args(["create", ".", "--template", "node", "--no-input"])
        .status(2)
        .stderr_contains("--force")
        .unchanged()
        .run();
}

#[test]
fn regression_init_foreman_wrote_the_manifest_without_its_env() {
    // The .env cannot be written (a directory is in its place): neither file may be.
    let out = Test::new()
        .write("a/.env/keep.txt", "in the way\n")
        .current_dir("a")
        .args(["init", "--no-input", "--foreman", "--force"])
        .status(2)
        .stderr_contains(".env")
        .unchanged()
        .run();
    assert!(!out.exists(format!("a/{MANIFEST}")));
    // Once the obstacle is gone, a plain rerun (no --force) succeeds: nothing was left.
    fs::remove_dir_all(out.path("a/.env")).unwrap();
    let out = out
        .then()
        .current_dir("a")
        .args(["init", "--no-input", "--foreman"])
        .run();
    assert!(out.exists(format!("a/{MANIFEST}")) && out.exists("a/.env"));
}

// ---------------------------------------------------------------------------------------
// Reading templates

const SECRET: &str = "machine example.com login me password hunter2-very-secret";

#[test]
fn regression_a_template_toml_linked_outside_the_template_was_read_and_printed() {
    let test = Test::new().write("netrc", format!("{SECRET}\n"));
    fs::create_dir(test.path().join("tpl")).unwrap();
    symlink(
        test.path().join("netrc"),
        test.path().join("tpl/template.toml"),
    )
    .unwrap();
    let out = test
        .args(["create", "out", "--template", "./tpl", "--no-input"])
        .status(2)
        .stderr_contains("template.toml")
        .stderr_contains("outside the template")
        .unchanged()
        .run();
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
}

#[test]
fn a_template_file_linked_outside_the_template_is_refused_before_reading() {
    let test = Test::new()
        .write("secret.txt", format!("{SECRET}\n"))
        .write("tpl/template.toml", "description = \"d\"\n");
    symlink(
        test.path().join("secret.txt"),
        test.path().join("tpl/leak.txt"),
    )
    .unwrap();
    let out = test
        .args(["create", "out", "--template", "./tpl", "--no-input"])
        .status(2)
        .stderr_contains("leak.txt")
        .stderr_contains("outside the template")
        .unchanged()
        .run();
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
}

#[test]
fn a_link_to_a_file_inside_the_template_is_read_as_that_file() {
    let test = Test::new()
        .write("tpl/template.toml", "description = \"d\"\n")
        .write("tpl/docs/README.md", "read me\n");
    symlink("docs/README.md", test.path().join("tpl/README.md")).unwrap();
    let out = test
        .args(["create", "out", "--template", "./tpl", "--no-input"])
        .run();
    assert_eq!(out.read("out/README.md"), "read me\n");
}

#[test]
fn a_template_reached_through_a_link_is_fine() {
    let test = Test::new()
        .write("real/template.toml", "description = \"d\"\n")
        .write("real/a.txt.tera", "{{ id }}\n");
    symlink(test.path().join("real"), test.path().join("tpl")).unwrap();
    let out = test
        .args([
            "create",
            "out",
            "--template",
            "./tpl",
            "--no-input",
            "--id",
            "via-link",
        ])
        .run();
    assert_eq!(out.read("out/a.txt"), "via-link\n");
}

#[test]
fn a_bad_template_toml_is_quoted_by_its_failing_line_only() {
    let spec = format!("description = \"d\"\n# {SECRET}\n[variables.x]\ntype = \n");
    let out = Test::new()
        .write("tpl/template.toml", spec)
        .args(["create", "out", "--template", "./tpl", "--no-input"])
        .status(2)
        .stderr_contains("line 4")
        .stderr_contains("type = ")
        .unchanged()
        .run();
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
}

#[test]
fn regression_a_bad_template_toml_echoed_its_whole_100_kb_failing_line() {
    let line = format!("description = \"{}", "x".repeat(100_000));
    let out = Test::new()
        .write("tpl/template.toml", line)
        .args(["create", "out", "--template", "./tpl", "--no-input"])
        .status(2)
        .unchanged()
        .run();
    assert!(
        out.stderr.len() < 2000,
        "{} bytes of error",
        out.stderr.len()
    );
}

#[test]
fn regression_a_fifo_in_a_template_blocked_kensa_forever() {
    let test = Test::new().write("tpl/template.toml", "description = \"d\"\n");
    let fifo = std::ffi::CString::new(
        test.path()
            .join("tpl/pipe.txt")
            .to_str()
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    // SAFETY: mkfifo(3) with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    test.args(["create", "out", "--template", "./tpl", "--no-input"])
        .status(2)
        .stderr_contains("pipe.txt")
        .stderr_contains("FIFO")
        .unchanged()
        .run();
}

#[test]
fn a_template_file_over_the_input_limit_is_refused() {
    let test = Test::new().write("tpl/template.toml", "description = \"d\"\n");
    let big = fs::File::create(test.path().join("tpl/big.bin")).unwrap();
    big.set_len(17 * 1024 * 1024).unwrap();
    test.args(["create", "out", "--template", "./tpl", "--no-input"])
        .status(2)
        .stderr_contains("big.bin")
        .stderr_contains("16 MiB")
        .unchanged()
        .run();
}

// ---------------------------------------------------------------------------------------
// Hostile `.tera` files

/// A template with these `.tera` files; kensa must refuse it with exit 2, naming `file`
/// and saying `cause`, never crash.
fn refused(files: &[(&str, &str)], file: &str, cause: &str) {
    let mut test = Test::new().write("tpl/template.toml", "description = \"d\"\n");
    for (path, text) in files {
        test = test.write(format!("tpl/{path}"), text);
    }
    let out = test
        .args(["create", "out", "--template", "./tpl", "--no-input"])
        .status(2)
        .stderr_contains(file)
        .stderr_contains(cause)
        .unchanged()
        .run();
    assert!(
        !out.stderr.contains("overflow") && !out.stderr.contains("memory allocation"),
        "{}",
        out.stderr
    );
}

#[test]
fn regression_a_template_that_includes_itself_overflowed_the_stack() {
    refused(
        &[("a.txt.tera", "{% include \"a.txt.tera\" %}")],
        "a.txt.tera",
        "a.txt.tera includes a.txt.tera",
    );
}

#[test]
fn regression_an_include_cycle_overflowed_the_stack() {
    refused(
        &[
            ("a.txt.tera", "{% include \"b.txt.tera\" %}"),
            ("b.txt.tera", "{% include \"a.txt.tera\" %}"),
        ],
        "a.txt.tera",
        "includes b.txt.tera, which includes a.txt.tera",
    );
}

#[test]
fn regression_a_macro_cycle_overflowed_the_stack() {
    refused(
        &[(
            "m.txt.tera",
            "{% macro m() %}{{ self::m() }}{% endmacro m %}{{ self::m() }}",
        )],
        "m.txt.tera",
        "macro m of m.txt.tera calls macro m of m.txt.tera",
    );
}

#[test]
fn regression_an_import_cycle_overflowed_the_stack() {
    refused(
        &[
            ("a.txt.tera", "{% import \"z.txt.tera\" as z %}{{ z::m() }}"),
            (
                "z.txt.tera",
                "{% import \"a.txt.tera\" as a %}{% macro m() %}m{% endmacro %}",
            ),
        ],
        "a.txt.tera",
        "imports z.txt.tera, which imports a.txt.tera",
    );
}

#[test]
fn regression_an_extends_cycle_overflowed_the_stack() {
    refused(
        &[
            ("a.txt.tera", "{% extends \"b.txt.tera\" %}"),
            ("b.txt.tera", "{% extends \"c.txt.tera\" %}"),
            ("c.txt.tera", "{% extends \"b.txt.tera\" %}"),
        ],
        "b.txt.tera",
        "b.txt.tera extends c.txt.tera, which extends b.txt.tera",
    );
}

#[test]
fn regression_a_huge_range_aborted_on_allocation() {
    refused(
        &[(
            "big.txt.tera",
            "{% for i in range(end=100000000) %}{{ i }}{% endfor %}",
        )],
        "big.txt.tera",
        "MiB of memory",
    );
}

#[test]
fn a_string_doubled_without_end_is_stopped_by_the_memory_budget() {
    refused(
        &[(
            "grow.txt.tera",
            "{% set s = \"ab\" %}{% for i in range(end=64) %}{% set_global s = s ~ s %}{% endfor %}{{ s }}",
        )],
        "grow.txt.tera",
        "MiB of memory",
    );
}

#[test]
fn regression_extends_of_a_template_file_sorting_later_was_not_present() {
    let out = Test::new()
        .write("tpl/template.toml", "description = \"d\"\n")
        .write(
            "tpl/a-page.txt.tera",
            "{% extends \"z-layout.txt.tera\" %}{% block body %}page {{ id }}{% endblock %}",
        )
        .write(
            "tpl/b-uses.txt.tera",
            "{% import \"z-macros.txt.tera\" as m %}{{ m::shout(text=id) }}",
        )
        .write("tpl/z-layout.txt.tera", "[{% block body %}{% endblock %}]")
        .write(
            "tpl/z-macros.txt.tera",
            "{% macro shout(text) %}{{ text | upper }}!{% endmacro %}",
        )
        .args([
            "create",
            "out",
            "--template",
            "./tpl",
            "--no-input",
            "--id",
            "later",
        ])
        .run();
    assert_eq!(out.read("out/a-page.txt"), "[page later]");
    assert_eq!(out.read("out/b-uses.txt"), "LATER!");
}
