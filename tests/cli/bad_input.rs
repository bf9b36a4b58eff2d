//! Bad input at the command line, as a table: each row is a setup, the arguments, the exit
//! status (2 for usage and input errors, 1 where a check failed), what the message must
//! say, and, for every row, that no file under the test directory changed.
//!
//! Permissions: these tests may run as root (CI containers do), where `chmod 000` does not
//! stop a read and `chmod 555` does not stop a write. The rows that need an unreadable file
//! or a read-only directory detect that and say on stderr what they do instead; they are
//! never skipped silently.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::harness::fixture::{good, with};
use crate::harness::{Output, Test};

/// What a row expects besides its exit status and an unchanged tree.
enum Says {
    /// Exit 2: stderr is one `error: …` naming the problem (every needle), stdout is empty.
    Error(Vec<&'static str>),
    /// Exit 1: `test manifest` reports this check as failed, with the needle in its message.
    Fails(&'static str, &'static str),
    /// Exit 0: `test manifest` reports this check (a rule of advice) as a warning, with the
    /// needle in its message.
    Warns(&'static str, &'static str),
}

struct Row {
    what: String,
    setup: Box<dyn Fn(Test) -> Test>,
    args: Vec<String>,
    says: Says,
}

fn row(what: impl Into<String>, args: &[&str], says: Says) -> Row {
    Row {
        what: what.into(),
        setup: Box::new(|t| t),
        args: args.iter().map(|s| s.to_string()).collect(),
        says,
    }
}

impl Row {
    fn setup(mut self, f: impl Fn(Test) -> Test + 'static) -> Row {
        self.setup = Box::new(f);
        self
    }

    /// A manifest with these contents at the default path.
    fn manifest(self, contents: impl Into<Vec<u8>>) -> Row {
        let contents = contents.into();
        self.setup(move |t| t.write("addon-manifest.json", &contents))
    }

    fn run(&self) -> Output {
        eprintln!("row: {}", self.what);
        let test = (self.setup)(Test::new()).args(&self.args).unchanged();
        let out = match &self.says {
            Says::Error(needles) => {
                let mut test = test.status(2).stdout("");
                for n in needles {
                    test = test.stderr_contains(n);
                }
                test.run()
            }
            Says::Fails(check, needle) => test
                .status(1)
                .stderr("")
                .stdout_contains(&format!("  Check {check} [FAIL]\n"))
                .stdout_contains(needle)
                .run(),
            Says::Warns(check, needle) => test
                .status(0)
                .stderr("")
                .stdout_contains(&format!("  Check {check} [WARN]\n"))
                .stdout_contains(needle)
                .run(),
        };
        assert_clear(&self.what, &out);
        out
    }
}

/// No panic, no backtrace, no line said twice; an error is one `error:` block.
fn assert_clear(what: &str, out: &Output) {
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains("panicked"), "{what}: {text}");
        assert!(!text.contains("RUST_BACKTRACE"), "{what}: {text}");
    }
    if !out.stderr.is_empty() {
        assert!(out.stderr.starts_with("error: "), "{what}: {}", out.stderr);
        assert_eq!(
            out.stderr.matches("error:").count(),
            1,
            "{what}: {}",
            out.stderr
        );
        let lines: Vec<&str> = out.stderr.lines().filter(|l| !l.is_empty()).collect();
        let mut unique = lines.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(
            unique.len(),
            lines.len(),
            "{what}: a line repeats:\n{}",
            out.stderr
        );
        // The cause is not said again under "caused by:".
        for l in lines.iter().filter(|l| l.contains("caused by:")) {
            let cause = l.split("caused by:").nth(1).unwrap().trim();
            assert!(!lines[0].ends_with(cause), "{what}: {}", out.stderr);
        }
    }
}

fn error(needles: &[&'static str]) -> Says {
    Says::Error(needles.to_vec())
}

// ---------------------------------------------------------------------------------------
// The manifest: unreadable, not JSON, not an object.

#[test]
fn manifests_that_cannot_be_loaded_exit_2_naming_the_file() {
    let t = &["test", "manifest"];
    let rows = vec![
        row(
            "an empty manifest",
            t,
            error(&["addon-manifest.json: the manifest is empty"]),
        )
        .manifest(""),
        row("a manifest of blanks", t, error(&["the manifest is empty"])).manifest(" \n\t\n"),
        row(
            "an array",
            t,
            error(&["addon-manifest.json: the manifest must be a JSON object, found an array"]),
        )
        .manifest("[1, 2]"),
        row(
            "a string",
            t,
            error(&["must be a JSON object, found a string"]),
        )
        .manifest("\"my-addon\""),
        row(
            "a number",
            t,
            error(&["must be a JSON object, found a number"]),
        )
        .manifest("42"),
        row("null", t, error(&["must be a JSON object, found null"])).manifest("null"),
        row(
            "a boolean",
            t,
            error(&["must be a JSON object, found a boolean"]),
        )
        .manifest("true"),
        row(
            "malformed JSON",
            t,
            error(&["addon-manifest.json:3:3: manifest is not valid JSON: key must be a string"]),
        )
        .manifest("{\n  \"id\": \"x\",\n  oops\n}"),
        row(
            "a trailing comma",
            t,
            error(&["addon-manifest.json:1:20: manifest is not valid JSON: trailing comma"]),
        )
        .manifest("{\"id\": \"my-addon\", }"),
        row(
            "a truncated manifest",
            t,
            error(&["addon-manifest.json:2:", "EOF while parsing"]),
        )
        .manifest("{\"id\": \"my-addon\",\n"),
        row(
            "bytes that are not UTF-8",
            t,
            error(&["addon-manifest.json:1:1: manifest is not valid JSON"]),
        )
        .manifest(&b"\xff\xfe{}"[..]),
        row(
            "a manifest that is a directory",
            t,
            error(&["cannot read manifest addon-manifest.json: Is a directory"]),
        )
        .setup(|t| t.mkdir("addon-manifest.json")),
        row(
            "a missing manifest",
            t,
            error(&[
                "no addon-manifest.json in",
                "kensa init",
                "kensa create",
                "-f PATH",
            ]),
        ),
        row(
            "a manifest path under a file",
            &["test", "manifest", "-f", "addon-manifest.json/x.json"],
            error(&["cannot read manifest addon-manifest.json/x.json: Not a directory"]),
        )
        .manifest("{}"),
        row(
            "a dangling symlink",
            t,
            error(&["cannot read manifest addon-manifest.json: No such file"]),
        )
        .setup(|t| {
            symlink("nowhere.json", t.path().join("addon-manifest.json")).unwrap();
            t
        }),
        // Every command that reads the manifest says the same.
        row(
            "an empty manifest for test all",
            &["test", "all"],
            error(&["the manifest is empty"]),
        )
        .manifest(""),
        row(
            "an empty manifest for run",
            &["run", "--", "true"],
            error(&["the manifest is empty"]),
        )
        .manifest(""),
        row(
            "an empty manifest for sso",
            &["sso", "1", "--no-browser"],
            error(&["the manifest is empty"]),
        )
        .manifest(""),
        row(
            "an array for push",
            &["push"],
            error(&["must be a JSON object, found an array"]),
        )
        .manifest("[]"),
        row(
            "an array for diff",
            &["diff"],
            error(&["must be a JSON object, found an array"]),
        )
        .manifest("[]"),
    ];
    for r in rows {
        r.run();
    }
}

/// Regression: on exit 2 (a usage or input error) `--format json|junit` wrote nothing to
/// stdout, so the report file CI keeps (`kensa test all --format junit > kensa.xml`) was
/// empty and failed to parse; it now holds a valid document saying what went wrong.
#[test]
fn regression_the_report_file_was_empty_on_exit_2() {
    // A malformed manifest: JSON.
    let out = Test::new()
        .write("addon-manifest.json", "{oops")
        .args(["test", "manifest", "--format", "json"])
        .status(2)
        .stderr_contains("addon-manifest.json:1:2: manifest is not valid JSON")
        .unchanged()
        .run();
    let doc: Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    assert_eq!(doc["passed"], false);
    assert!(doc["error"]
        .as_str()
        .unwrap()
        .contains("manifest is not valid JSON"));
    assert_eq!(doc["sections"], json!([]));
    assert_eq!(doc["manifest"], "addon-manifest.json");
    // The same in JUnit, and for a usage error clap catches (an unknown value).
    for args in [
        vec!["test", "all", "--format", "junit"],
        vec!["test", "all", "--format", "junit", "--timeout", "never"],
    ] {
        let out = Test::new()
            .write("addon-manifest.json", "{oops")
            .args(args.clone())
            .status(2)
            .unchanged()
            .run();
        let xml = crate::harness::junit::parse_junit(&out.stdout);
        assert_eq!(xml.root["errors"], "1", "{args:?}");
        let case = &xml.suites[0].cases[0];
        let (error, text) = case.error.as_ref().expect("an <error>");
        assert_eq!(error["type"], "usage");
        assert!(!text.is_empty() && text == &error["message"], "{args:?}");
    }
    // Human output keeps stdout empty.
    Test::new()
        .write("addon-manifest.json", "{oops")
        .args(["test", "manifest"])
        .status(2)
        .stdout("")
        .unchanged()
        .run();
}

/// Regression: the report document on exit 2 repeated the error's cause ("… (os error 2):
/// No such file or directory (os error 2)"), which stderr says once.
#[test]
fn regression_the_report_documents_error_repeated_its_cause() {
    let out = Test::new()
        .args(["test", "all", "-f", "nothere.json", "--format", "json"])
        .status(2)
        .run();
    let doc: Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    let error = doc["error"].as_str().unwrap();
    assert!(
        error.starts_with("cannot read manifest nothere.json"),
        "{error}"
    );
    assert_eq!(error.matches("os error 2").count(), 1, "{error}");
    let out = Test::new()
        .args(["test", "all", "-f", "nothere.json", "--format", "junit"])
        .status(2)
        .run();
    let xml = crate::harness::junit::parse_junit(&out.stdout);
    let (error, _) = xml.suites[0].cases[0].error.as_ref().expect("an <error>");
    assert_eq!(
        error["message"].matches("os error 2").count(),
        1,
        "{error:?}"
    );
}

/// True when a chmod can stop this process (not root, or root without CAP_DAC_OVERRIDE).
fn permissions_are_enforced(dir: &Path) -> bool {
    let probe = dir.join(".probe");
    fs::create_dir(&probe).unwrap();
    fs::set_permissions(&probe, fs::Permissions::from_mode(0o500)).unwrap();
    let enforced = fs::write(probe.join("x"), "").is_err();
    fs::set_permissions(&probe, fs::Permissions::from_mode(0o700)).unwrap();
    fs::remove_dir_all(&probe).unwrap();
    enforced
}

#[test]
fn an_unreadable_manifest_exits_2() {
    let scratch = tempfile::tempdir().unwrap();
    if permissions_are_enforced(scratch.path()) {
        let out = row(
            "a manifest no one may read",
            &["test", "manifest"],
            error(&["cannot read manifest addon-manifest.json: Permission denied"]),
        )
        .setup(|t| {
            let t = t.write("addon-manifest.json", good().to_string());
            let path = t.path().join("addon-manifest.json");
            fs::set_permissions(path, fs::Permissions::from_mode(0o000)).unwrap();
            t
        })
        .run();
        // Let the temp dir be cleaned up.
        fs::set_permissions(
            out.path("addon-manifest.json"),
            fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    } else {
        // Root reads a mode-000 file anyway, so no file here is unreadable by mode. A path
        // through a file cannot be read by anyone: the same read error, another cause.
        eprintln!(
            "note: running as root, where chmod 000 does not stop reads; \
             checking an unreadable path (a path under a file) instead"
        );
        row(
            "a manifest path no one can read",
            &["test", "manifest", "-f", "addon-manifest.json/m.json"],
            error(&["cannot read manifest addon-manifest.json/m.json: Not a directory"]),
        )
        .manifest(good().to_string())
        .run();
    }
}

// ---------------------------------------------------------------------------------------
// Wrong types in every field: the rule about that field fails, exit 1.

#[test]
fn wrong_types_in_every_field_fail_the_rule_naming_it() {
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "/id",
            json!(42),
            "id is a non-blank string",
            "`id` must be a string",
        ),
        ("/id", json!(null), "id is a non-blank string", "found null"),
        (
            "/name",
            json!(5),
            "name is a string",
            "`name` must be a string",
        ),
        (
            "/api",
            json!("x"),
            "api is an object",
            "`api` must be an object",
        ),
        ("/api", json!([]), "api is an object", "found an array"),
        (
            "/api/regions",
            json!({"us": true}),
            "api.regions lists at least one region",
            "found an object",
        ),
        (
            "/api/regions",
            json!([1]),
            "api.regions lists at least one region",
            "must be region names (non-empty strings): 1",
        ),
        (
            "/api/password",
            json!(5),
            "api.password is set",
            "`api.password` must be a string",
        ),
        (
            "/api/sso_salt",
            json!(5),
            "api.sso_salt is a string",
            "`api.sso_salt` must be a string",
        ),
        (
            "/api/production",
            json!([1]),
            "api.production is set",
            "found an array",
        ),
        (
            "/api/production/sso_url",
            json!(true),
            "api.production is set",
            "`api.production.sso_url` must be a string",
        ),
        (
            "/api/config_vars",
            json!("MY_ADDON_URL"),
            "api.config_vars is an array",
            "found a string",
        ),
        (
            "/api/config_vars",
            json!([1]),
            "config var names are upper case",
            ": 1",
        ),
        (
            "/api/config_vars_prefix",
            json!(1),
            "config vars start with the prefix",
            "`api.config_vars_prefix` must be a string",
        ),
    ];
    // Rules of advice (docs/protocol.md, "Requirement or advice") only warn.
    let warnings: Vec<(&str, Value, &str, &str)> = vec![
        (
            "/api/test",
            json!(7),
            "api.test URLs are valid",
            "`api.test` must be an object or a string",
        ),
        (
            "/api/test/base_url",
            json!(5),
            "api.test URLs are valid",
            "`api.test.base_url` must be a string",
        ),
        (
            "/api/requires",
            json!({}),
            "api.requires are known features",
            "must be an array",
        ),
        (
            "/api/requires",
            json!([1]),
            "api.requires are known features",
            "must be feature names (strings): 1",
        ),
        (
            "/api/version",
            json!(["3"]),
            "api.version is 3",
            "`api.version` is [\"3\"]",
        ),
    ];
    for (pointer, value, check, needle) in warnings {
        row(
            format!("{pointer} = {value}"),
            &["test", "manifest"],
            Says::Warns(check, needle),
        )
        .manifest(with(pointer, value.clone()))
        .run();
    }
    for (pointer, value, check, needle) in cases {
        row(
            format!("{pointer} = {value}"),
            &["test", "manifest"],
            Says::Fails(check, needle),
        )
        .manifest(with(pointer, value.clone()))
        .run();
    }
}

/// The same failures in the machine format: one JSON document, exit 1.
#[test]
fn wrong_types_fail_in_json_format_too() {
    let out = Test::new()
        .write("addon-manifest.json", with("/api/password", json!(3)))
        .args(["test", "manifest", "--format", "json"])
        .status(1)
        .stderr("")
        .unchanged()
        .run();
    let doc: Value = serde_json::from_str(&out.stdout).unwrap();
    let failed: Vec<&str> = doc["sections"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["api.password is set"]);
}

// ---------------------------------------------------------------------------------------
// Where create and init would write.

/// A directory this process cannot write to, and how it was made so; undone on drop (also
/// when a test fails), so the temp dir can be removed.
struct ReadOnly {
    path: PathBuf,
    immutable: bool,
}

impl ReadOnly {
    /// `chmod 555`; as root, where that is ignored, `chattr +i` (the immutable flag binds
    /// root too). `None` when neither works here (say, root on a file system without
    /// attributes), after saying so.
    fn make(path: &Path) -> Option<ReadOnly> {
        fs::create_dir_all(path).unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o555)).unwrap();
        let mut guard = ReadOnly {
            path: path.to_owned(),
            immutable: false,
        };
        if fs::write(path.join(".probe"), "").is_err() {
            return Some(guard);
        }
        fs::remove_file(path.join(".probe")).unwrap();
        let chattr = Command::new("chattr").arg("+i").arg(path).output();
        guard.immutable = chattr.is_ok_and(|o| o.status.success());
        if guard.immutable && fs::write(path.join(".probe"), "").is_err() {
            eprintln!("note: running as root: chmod 555 does not stop root, chattr +i does");
            return Some(guard);
        }
        eprintln!(
            "note: running as root without chattr +i: cannot make a read-only directory here; \
             the read-only rows are checked with a directory under a file instead"
        );
        None
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        if self.immutable {
            let _ = Command::new("chattr").arg("-i").arg(&self.path).status();
        }
        let _ = fs::set_permissions(&self.path, fs::Permissions::from_mode(0o755));
        // A failed run dropped its temp dir while this one could not be removed: finish.
        if std::thread::panicking() {
            if let Some(root) = self.path.parent() {
                let _ = fs::remove_dir_all(root);
            }
        }
    }
}

#[test]
fn a_read_only_target_directory_exits_2_and_writes_nothing() {
    for (args, target) in [
        (
            vec!["create", "ro/p", "--template", "node", "--no-input"],
            "ro/p",
        ),
        (
            vec!["init", "--no-input", "-f", "ro/addon-manifest.json"],
            "ro/addon-manifest.json",
        ),
        (
            vec![
                "init",
                "--no-input",
                "--foreman",
                "-f",
                "ro/addon-manifest.json",
            ],
            "ro/addon-manifest.json",
        ),
    ] {
        let test = Test::new().args(&args);
        let guard = ReadOnly::make(&test.path().join("ro"));
        let test = match &guard {
            Some(_) => test,
            // The fallback: the same commands, pointed into a directory that is a file.
            None => Test::new().write("ro", "a file").args(&args),
        };
        let message = format!("cannot write {target}");
        let out = test
            .status(2)
            .stdout("")
            .stderr_contains(&message)
            .unchanged()
            .run();
        assert_clear(&args.join(" "), &out);
        let why = [
            "Permission denied",
            "Operation not permitted",
            "Not a directory",
            "not a directory",
        ];
        assert!(why.iter().any(|w| out.stderr.contains(w)), "{}", out.stderr);
        drop(guard);
    }
}

#[test]
fn targets_that_cannot_be_written_exit_2() {
    let rows = vec![
        row(
            "create under a file",
            &["create", "afile/p", "--template", "node", "--no-input"],
            error(&["cannot write afile/p: Not a directory"]),
        )
        .setup(|t| t.write("afile", "x")),
        row(
            "create in a missing directory",
            &["create", "no/such/p", "--template", "node", "--no-input"],
            error(&["cannot write no/such/p: parent directory no/such does not exist"]),
        ),
        row(
            "init under a file",
            &["init", "--no-input", "-f", "afile/addon-manifest.json"],
            error(&["cannot write afile/addon-manifest.json: afile is not a directory"]),
        )
        .setup(|t| t.write("afile", "x")),
        row(
            "init onto a directory",
            &["init", "--no-input", "-f", "manifests"],
            error(&["manifests is a directory; -f names the manifest file"]),
        )
        .setup(|t| t.mkdir("manifests")),
        row(
            "init --force onto a directory",
            &["init", "--no-input", "--force", "-f", "manifests"],
            error(&["manifests is a directory"]),
        )
        .setup(|t| t.mkdir("manifests/keep").write("manifests/keep/x", "x")),
    ];
    for r in rows {
        r.run();
    }
}

// ---------------------------------------------------------------------------------------
// Symbolic links where the output would go.

#[test]
fn a_symlink_where_the_output_would_go_is_refused_and_its_target_untouched() {
    let link_to = |target: &'static str| {
        move |t: Test| {
            let t = t.mkdir("real").write("real/mine.txt", "keep me");
            symlink(target, t.path().join("link")).unwrap();
            t
        }
    };
    let rows = vec![
        row(
            "create into a symlink to a directory",
            &["create", "link", "--template", "node", "--no-input"],
            error(&["link is a symbolic link; kensa does not write through links"]),
        )
        .setup(link_to("real")),
        row(
            "create --force into a symlink",
            &[
                "create",
                "link",
                "--template",
                "node",
                "--no-input",
                "--force",
            ],
            error(&["link is a symbolic link"]),
        )
        .setup(link_to("real")),
        row(
            "create into a dangling symlink",
            &["create", "link", "--template", "node", "--no-input"],
            error(&["link is a symbolic link"]),
        )
        .setup(link_to("nowhere")),
        row(
            "create --dry-run into a symlink",
            &[
                "create",
                "link",
                "--template",
                "node",
                "--no-input",
                "--dry-run",
            ],
            error(&["link is a symbolic link"]),
        )
        .setup(link_to("real")),
        row(
            "init onto a dangling symlink",
            &["init", "--no-input", "-f", "link"],
            error(&["link already exists; pass --force to replace it"]),
        )
        .setup(link_to("nowhere")),
    ];
    for r in rows {
        r.run();
    }
}

// ---------------------------------------------------------------------------------------
// Names, template variables, flags.

#[test]
fn names_that_make_no_slug_ask_for_the_id() {
    let create = |dir: &'static str| ["create", dir, "--template", "node", "--no-input"];
    let rows = vec![
        row(
            "a CJK name",
            &create("日本"),
            error(&["cannot derive an add-on id from the directory name; pass --id SLUG"]),
        ),
        row(
            "a name of blanks",
            &create("   "),
            error(&["pass --id SLUG"]),
        ),
        row(
            "a name of symbols",
            &create("__--__"),
            error(&["pass --id SLUG"]),
        ),
        row(
            "a name of digits",
            &create("2024"),
            error(&["pass --id SLUG"]),
        ),
        row("an emoji name", &create("🚀"), error(&["pass --id SLUG"])),
        row(
            "an --id with spaces",
            &[
                "create",
                "p",
                "--template",
                "node",
                "--no-input",
                "--id",
                "My Add-on",
            ],
            error(&["--id \"My Add-on\" is not a valid add-on slug"]),
        ),
        row(
            "an --id with an accent",
            &[
                "create",
                "p",
                "--template",
                "node",
                "--no-input",
                "--id",
                "café",
            ],
            error(&[
                "--id \"café\" is not a valid add-on slug",
                "'é' is not allowed",
            ]),
        ),
        row(
            "an --id in Japanese for init",
            &["init", "--no-input", "--id", "日本"],
            error(&["--id \"日本\" is not a valid add-on slug"]),
        ),
        row(
            "a blank --name",
            &[
                "create",
                "p",
                "--template",
                "node",
                "--no-input",
                "--name",
                "  ",
            ],
            error(&["--name must not be empty"]),
        ),
        row(
            "an unknown region",
            &["init", "--no-input", "--regions", "us,mars"],
            error(&["--regions: unknown region mars"]),
        ),
    ];
    for r in rows {
        r.run();
    }
}

/// Spaces and accents are fine in a directory name when a slug can be made from it.
#[test]
fn names_with_spaces_or_accents_make_a_slug() {
    for (dir, id) in [
        ("My Add-on", "my-add-on"),
        ("café", "caf"),
        ("Ünïcode Addon", "n-code-addon"),
    ] {
        let out = Test::new()
            .args(["create", dir, "--template", "node", "--no-input"])
            .changes([dir])
            .run();
        assert_eq!(
            out.json(format!("{dir}/addon-manifest.json"))["id"],
            id,
            "{dir}"
        );
    }
}

const TYPED: &str = r#"description = "A template with typed variables"
[variables.workers]
type = "integer"
[variables.debug]
type = "boolean"
[variables.flavour]
regex = "^(vanilla|chocolate)$"
"#;

fn typed_template(t: Test) -> Test {
    t.write("tpl/template.toml", TYPED).write(
        "tpl/README.md.tera",
        "{{ workers }} {{ debug }} {{ flavour }}\n",
    )
}

#[test]
fn a_full_set_of_invalid_template_values_names_every_variable() {
    let create = ["create", "out", "--template", "./tpl", "--no-input"];
    let all_bad = [
        "variable workers: \"many\" is not an integer",
        "variable debug: \"maybe\" is not a boolean",
        "variable flavour: \"mint\" does not match ^(vanilla|chocolate)$",
    ];
    let set = |extra: &[&'static str]| {
        let mut args = create.to_vec();
        args.extend([
            "--set",
            "workers=many",
            "--set",
            "debug=maybe",
            "--set",
            "flavour=mint",
        ]);
        args.extend(extra);
        args
    };
    let rows = vec![
        row("every --set invalid", &set(&[]), error(&all_bad)).setup(typed_template),
        row(
            "every --set invalid, plus unknown and malformed ones",
            &set(&["--set", "colour=red", "--set", "oops"]),
            error(&[
                all_bad[0],
                all_bad[1],
                all_bad[2],
                "--set: the template has no variable \"colour\"",
                "--set \"oops\": expected KEY=VALUE",
            ]),
        )
        .setup(typed_template),
        row(
            "--dry-run checks the values too",
            &set(&["--dry-run"]),
            error(&all_bad),
        )
        .setup(typed_template),
        row(
            "an integer too large",
            &[
                &create[..],
                &[
                    "--set",
                    "workers=99999999999999999999",
                    "--set",
                    "debug=yes",
                    "--set",
                    "flavour=vanilla",
                ],
            ]
            .concat(),
            error(&["variable workers: \"99999999999999999999\" is not an integer"]),
        )
        .setup(typed_template),
        row(
            "a values file of wrong types",
            &[&create[..], &["--values-file", "v.json"]].concat(),
            error(&[
                "variable workers: \"x\" is not an integer",
                "variable debug: 3 is not a boolean",
                "variable flavour: [] is not a string",
            ]),
        )
        .setup(|t| {
            typed_template(t).write("v.json", r#"{"workers": "x", "debug": 3, "flavour": []}"#)
        }),
        row(
            "a values file that is not JSON",
            &[&create[..], &["--values-file", "v.json"]].concat(),
            error(&["--values-file v.json:1:12: not valid JSON: EOF while parsing a value\n"]),
        )
        .setup(|t| typed_template(t).write("v.json", r#"{"workers": "#)),
        row(
            "a values file that is an array",
            &[&create[..], &["--values-file", "v.json"]].concat(),
            error(&["--values-file v.json: expected a table of variable = value"]),
        )
        .setup(|t| typed_template(t).write("v.json", "[1]")),
        row(
            "a missing values file",
            &[&create[..], &["--values-file", "v.toml"]].concat(),
            error(&["--values-file v.toml: No such file"]),
        )
        .setup(typed_template),
        row(
            "an unknown template",
            &["create", "out", "--template", "nope", "--no-input"],
            error(&["unknown template \"nope\"; available: clojure, node, rust-axum, sinatra"]),
        ),
        row(
            "a template path that does not exist",
            &["create", "out", "--template", "./nope", "--no-input"],
            error(&["./nope is not a template directory"]),
        ),
    ];
    for r in rows {
        r.run();
    }
}

#[test]
fn bad_arguments_exit_2_naming_the_argument() {
    let rows = vec![
        // Without an id, these use the last resource, which needs the manifest first.
        row(
            "test deprovision without an id or a manifest",
            &["test", "deprovision"],
            error(&["no addon-manifest.json in", "kensa init"]),
        ),
        row(
            "test planchange without a plan",
            &["test", "planchange"],
            error(&["<PLAN>"]),
        ),
        row(
            "test sso without an id or a manifest",
            &["test", "sso"],
            error(&["no addon-manifest.json in", "kensa init"]),
        ),
        row(
            "an unknown test",
            &["test", "frobnicate"],
            error(&["unrecognized subcommand 'frobnicate'"]),
        ),
        row(
            "an unknown command",
            &["frobnicate"],
            error(&["unrecognized subcommand 'frobnicate'"]),
        ),
        row(
            "--timeout 0",
            &["test", "all", "--timeout", "0"],
            error(&["invalid value '0' for '--timeout <SECS>'"]),
        ),
        row(
            "--timeout -1",
            &["test", "all", "--timeout", "-1"],
            error(&["unexpected argument '-1'"]),
        ),
        row(
            "--timeout words",
            &["test", "all", "--timeout", "soon"],
            error(&["invalid value 'soon' for '--timeout <SECS>'"]),
        ),
        row(
            "--async-timeout 0",
            &["test", "provision", "--async-timeout", "0"],
            error(&["--async-timeout"]),
        ),
        row(
            "--redeliver 0",
            &["test", "provision", "--redeliver", "0"],
            error(&["--redeliver"]),
        ),
        row(
            "--format yaml",
            &["test", "manifest", "--format", "yaml"],
            error(&["invalid value 'yaml' for '--format <FORMAT>'"]),
        ),
        row(
            "a stray provision option",
            &["test", "provision", "stray"],
            error(&["provision option \"stray\": expected --key value"]),
        ),
        row(
            "init --port 70000",
            &["init", "--port", "70000"],
            error(&["invalid value '70000' for '--port <N>'"]),
        ),
        row(
            "init --port 0",
            &["init", "--port", "0"],
            error(&["invalid value '0' for '--port <N>'"]),
        ),
        row(
            "create --port 70000",
            &["create", "p", "--template", "node", "--port", "70000"],
            error(&["'--port <N>'"]),
        ),
        row(
            "--sso and --without-sso",
            &["init", "--sso", "get", "--without-sso"],
            error(&["cannot be used with"]),
        ),
        row(
            "--color sometimes",
            &["templates", "--color", "sometimes"],
            error(&["--color <WHEN>"]),
        ),
        row("run without a command", &["run"], error(&["<CMD>"])),
        row(
            "sso --timeout 0",
            &["sso", "1", "--timeout", "0"],
            error(&["--timeout"]),
        ),
        row(
            "pull without credentials",
            &["pull", "my-addon"],
            error(&["no Heroku API key found: HEROKU_API_KEY is not set"]),
        ),
        row(
            "pull --timeout 0",
            &["pull", "my-addon", "--timeout", "0"],
            error(&["--timeout"]),
        ),
    ];
    for r in rows {
        r.run();
    }
}

// ---------------------------------------------------------------------------------------
// Regressions these rows found, pinned by name.

/// serde_json's "EOF while parsing a value at 1:0" did not say the file was empty.
#[test]
fn regression_an_empty_manifest_said_eof_while_parsing_a_value() {
    Test::new()
        .write("addon-manifest.json", "")
        .args(["test", "manifest"])
        .status(2)
        .stderr("error: addon-manifest.json: the manifest is empty; `kensa init` writes one\n")
        .unchanged()
        .run();
}

/// An I/O error was printed in the message and again as its own "caused by:" line.
#[test]
fn regression_an_io_cause_was_printed_twice() {
    Test::new()
        .mkdir("addon-manifest.json")
        .args(["test", "manifest"])
        .status(2)
        .stderr("error: cannot read manifest addon-manifest.json: Is a directory (os error 21)\n")
        .unchanged()
        .run();
}

/// `name`, `api.sso_salt` and `api.config_vars_prefix` of the wrong type passed every
/// rule; a numeric salt then silently turned SSO testing off.
#[test]
fn regression_fields_of_the_wrong_type_passed_validation() {
    for (pointer, check) in [
        ("/name", "name is a string"),
        ("/api/sso_salt", "api.sso_salt is a string"),
        (
            "/api/config_vars_prefix",
            "config vars start with the prefix",
        ),
    ] {
        Test::new()
            .write("addon-manifest.json", with(pointer, json!(1)))
            .args(["test", "manifest"])
            .status(1)
            .stdout_contains(&format!("  Check {check} [FAIL]\n"))
            .unchanged()
            .run();
    }
}

/// `"version": 3` warned "testing v1" but the simulator ran the v3 API. Both now read the
/// number 3 as "3" (manifests written by other tools carry it), so the manifest passes.
#[test]
fn regression_a_numeric_version_warned_v1_but_ran_v3() {
    Test::new()
        .write("addon-manifest.json", with("/api/version", json!(3)))
        .args(["test", "manifest"])
        .status(0)
        .stdout_contains("  Check api.version is 3 [PASS]\n")
        .unchanged()
        .run();
}

/// A target whose parent is a file or missing is where the user pointed kensa: exit 2,
/// not the 1 of a failed action.
#[test]
fn regression_an_unwritable_target_exited_1() {
    Test::new()
        .write("afile", "x")
        .args(["create", "afile/p", "--template", "node", "--no-input"])
        .status(2)
        .stderr("error: cannot write afile/p: Not a directory (os error 20)\n")
        .unchanged()
        .run();
    Test::new()
        .write("afile", "x")
        .args(["init", "--no-input", "-f", "afile/m.json"])
        .status(2)
        .stderr("error: cannot write afile/m.json: afile is not a directory\n")
        .unchanged()
        .run();
}

/// `init -f <directory>` said "already exists; pass --force", and --force then failed
/// with "Is a directory" (exit 1).
#[test]
fn regression_init_onto_a_directory_offered_a_force_that_could_not_help() {
    Test::new()
        .mkdir("d")
        .args(["init", "--no-input", "--force", "-f", "d"])
        .status(2)
        .stderr(
            "error: d is a directory; -f names the manifest file (e.g. -f d/addon-manifest.json)\n",
        )
        .unchanged()
        .run();
}

/// A dangling symlink at the manifest path was not seen as existing; the write then
/// failed with "File exists" (exit 1).
#[test]
fn regression_init_onto_a_dangling_symlink_said_file_exists() {
    let test = Test::new();
    symlink("nowhere", test.path().join("addon-manifest.json")).unwrap();
    test.args(["init", "--no-input"])
        .status(2)
        .stderr("error: addon-manifest.json already exists; pass --force to replace it\n")
        .unchanged()
        .run();
}
