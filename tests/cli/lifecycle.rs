//! Issue 13, the life of a generated project: how it was made is recorded
//! (`.kensa/answers.toml`, no secrets), `create --replay` reuses it, `create` makes a git
//! repository, and `kensa update` brings the project to a new version of its template
//! with a three-way merge.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::Value;

use crate::harness::git::{commit_all, git_output};
use crate::harness::{dotenv, Output, Test};

/// A template of our own, version 1: a file with ten lines, a static file, a variable.
const SPEC: &str = r#"description = "lifecycle"
[variables.greeting]
default = "hello"
[variables.flavour]
type = "choice"
choices = ["vanilla", "chocolate"]
default = "vanilla"
[variables.upstream_key]
type = "secret"
generate = true
"#;

fn app(greeting_line: &str, last: &str) -> String {
    let mut lines: Vec<String> = (1..=10).map(|n| format!("line {n}")).collect();
    lines[0] = greeting_line.to_owned();
    lines[9] = last.to_owned();
    lines.join("\n") + "\n"
}

fn v1(test: Test) -> Test {
    test.write("tpl/template.toml", SPEC)
        .write(
            "tpl/app.txt.tera",
            app("{{ greeting }}, {{ name }} ({{ flavour }})", "line 10"),
        )
        .write("tpl/notes.txt", "notes v1\n")
        .write("tpl/.gitignore", ".env\naddon-manifest.json\n")
}

/// Version 2 of the template, in place: the last line of app.txt changes, a new file.
fn to_v2(out: &Output) {
    fs::write(
        out.path("tpl/app.txt.tera"),
        app(
            "{{ greeting }}, {{ name }} ({{ flavour }})",
            "line 10, version 2",
        ),
    )
    .unwrap();
    fs::write(out.path("tpl/added-in-v2.txt"), "new in v2\n").unwrap();
}

/// `kensa create p --template ./tpl --no-input` with a values file and flags.
fn created(test: Test) -> Output {
    v1(test)
        .args([
            "create",
            "p",
            "--template",
            "./tpl",
            "--no-input",
            "--id",
            "life-cycle",
            "--set",
            "flavour=chocolate",
        ])
        .run()
}

/// Every file of a project outside `.git/`, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_entry(|e| e.file_name() != ".git")
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
            (rel, fs::read(e.path()).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// The project's files but its secrets: `.env`, the manifest (compared apart).
fn without_secrets(files: Vec<(String, Vec<u8>)>) -> Vec<(String, Vec<u8>)> {
    files
        .into_iter()
        .filter(|(p, _)| p != ".env" && p != "addon-manifest.json")
        .collect()
}

// ---------------------------------------------------------------------------------------
// Answers and replay

#[test]
fn answers_record_template_version_kensa_and_every_value_but_no_secret() {
    let out = created(Test::new());
    let answers = out.read("p/.kensa/answers.toml");
    let table: toml::Table = toml::from_str(&answers).unwrap();
    assert_eq!(
        table["kensa_version"].as_str(),
        Some(env!("CARGO_PKG_VERSION"))
    );
    let template = table["template"].as_table().unwrap();
    assert!(
        template["source"].as_str().unwrap().ends_with("/tpl"),
        "{answers}"
    );
    assert!(template["version"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(table["values"]["greeting"].as_str(), Some("hello"));
    assert_eq!(table["values"]["flavour"].as_str(), Some("chocolate"));
    assert!(table["values"].get("upstream_key").is_none(), "{answers}");
    assert_eq!(table["addon"]["id"].as_str(), Some("life-cycle"));

    // No secret of the manifest or .env appears in any file kensa keeps under .kensa/,
    // the compressed pristine copy included.
    let manifest: Value = out.json("p/addon-manifest.json");
    let env = dotenv(&out.read("p/.env"));
    let mut secrets: Vec<String> = env.values().cloned().collect();
    secrets.push(manifest["api"]["password"].as_str().unwrap().to_owned());
    secrets.push(manifest["api"]["sso_salt"].as_str().unwrap().to_owned());
    assert!(
        env.contains_key("UPSTREAM_KEY"),
        "the secret variable is in .env"
    );
    let pristine = {
        use std::io::Read;
        let mut text = String::new();
        flate2::read::GzDecoder::new(&out.bytes("p/.kensa/pristine.json.gz")[..])
            .read_to_string(&mut text)
            .unwrap();
        text
    };
    for secret in secrets.iter().filter(|s| s.len() >= 16) {
        assert!(
            !answers.contains(secret.as_str()),
            "a secret in answers.toml"
        );
        assert!(
            !pristine.contains(secret.as_str()),
            "a secret in the pristine copy"
        );
    }
}

#[test]
fn replay_gives_the_same_tree() {
    let out = created(Test::new());
    let out = out
        .then()
        .args(["create", "copy", "--replay", "p", "--no-input"])
        .run();
    assert_eq!(
        without_secrets(files(&out.path("p"))),
        without_secrets(files(&out.path("copy"))),
    );
    let (a, b): (Value, Value) = (
        out.json("p/addon-manifest.json"),
        out.json("copy/addon-manifest.json"),
    );
    assert_eq!(a["id"], b["id"]);
    assert_eq!(a["api"]["test"], b["api"]["test"]);
    assert_ne!(a["api"]["password"], b["api"]["password"], "fresh secrets");
}

#[test]
fn replay_takes_flags_over_the_recorded_answers() {
    let out = created(Test::new())
        .then()
        .args([
            "create",
            "copy",
            "--replay",
            "p/.kensa/answers.toml",
            "--no-input",
            "--set",
            "greeting=hi",
        ])
        .run();
    assert!(out
        .read("copy/app.txt")
        .starts_with("hi, Life Cycle (chocolate)"));
}

#[test]
fn create_makes_a_git_repository_with_a_first_commit() {
    let out = created(Test::new());
    let p = out.path("p");
    assert_eq!(git_output(&p, &["rev-list", "--count", "HEAD"]), "1");
    assert_eq!(
        git_output(&p, &["status", "--porcelain"]),
        "",
        "everything committed"
    );
    let tracked = git_output(&p, &["ls-files"]);
    assert!(tracked.contains(".kensa/answers.toml"), "{tracked}");
    assert!(
        !tracked
            .lines()
            .any(|l| l == ".env" || l == "addon-manifest.json"),
        "{tracked}"
    );
}

#[test]
fn create_with_vcs_none_makes_no_repository() {
    let out = v1(Test::new())
        .args([
            "create",
            "p",
            "--template",
            "./tpl",
            "--no-input",
            "--vcs",
            "none",
        ])
        .run();
    assert!(!out.exists("p/.git"));
}

#[test]
fn create_inside_a_repository_leaves_it_to_that_repository() {
    let test = v1(Test::new()).mkdir("repo");
    crate::harness::git::git(&test.path().join("repo"), &["init", "-q"]);
    let out = test
        .args(["create", "repo/p", "--template", "./tpl", "--no-input"])
        .run();
    assert!(!out.exists("repo/p/.git"));
}

#[test]
fn secrets_missing_from_the_template_files_are_never_committed() {
    // The template's .gitignore forgets .env and the manifest: kensa still keeps them out.
    let out = v1(Test::new())
        .write("tpl/.gitignore", "node_modules/\n")
        .args(["create", "p", "--template", "./tpl", "--no-input"])
        .run();
    let tracked = git_output(&out.path("p"), &["ls-files"]);
    assert!(
        !tracked
            .lines()
            .any(|l| l == ".env" || l == "addon-manifest.json"),
        "{tracked}"
    );
    assert_eq!(git_output(&out.path("p"), &["status", "--porcelain"]), "");
}

// ---------------------------------------------------------------------------------------
// kensa update

#[test]
fn update_of_an_untouched_project_equals_a_fresh_render() {
    let out = created(Test::new());
    to_v2(&out);
    let out = out
        .then()
        .args(["update", "p"])
        .stdout_contains("update   app.txt")
        .stdout_contains("add      added-in-v2.txt")
        .run();
    // A fresh project of version 2 with the same answers.
    let out = out
        .then()
        .args(["create", "fresh", "--replay", "p", "--no-input"])
        .run();
    assert_eq!(
        without_secrets(files(&out.path("p"))),
        without_secrets(files(&out.path("fresh"))),
        "the updated project is the fresh render, pristine copy and answers included"
    );
}

#[test]
fn update_with_a_user_edit_in_the_same_file_merges_it() {
    let out = created(Test::new());
    let app = out
        .read("p/app.txt")
        .replace("line 3", "line 3, edited by me");
    fs::write(out.path("p/app.txt"), app).unwrap();
    commit_all(&out.path("p"), "my edit");
    to_v2(&out);
    let out = out
        .then()
        .args(["update", "p"])
        .stdout_contains("merge    app.txt")
        .run();
    let merged = out.read("p/app.txt");
    assert!(merged.contains("line 3, edited by me"), "{merged}");
    assert!(merged.contains("line 10, version 2"), "{merged}");
    assert!(!merged.contains("<<<<<<<"), "{merged}");
}

#[test]
fn update_with_a_conflicting_edit_leaves_markers_and_exits_1() {
    let out = created(Test::new());
    let app = out.read("p/app.txt").replace("line 10", "line 10, mine");
    fs::write(out.path("p/app.txt"), app).unwrap();
    commit_all(&out.path("p"), "my edit");
    to_v2(&out);
    let out = out
        .then()
        .args(["update", "p"])
        .status(1)
        .stdout_contains("CONFLICT app.txt")
        .stdout_contains("1 file with conflicts")
        .run();
    let text = out.read("p/app.txt");
    assert!(
        text.contains(
            "<<<<<<< yours\nline 10, mine\n=======\nline 10, version 2\n>>>>>>> template "
        ),
        "{text}"
    );
    // The rest is updated all the same.
    assert_eq!(out.read("p/added-in-v2.txt"), "new in v2\n");
}

#[test]
fn a_file_the_user_deleted_stays_deleted() {
    let out = created(Test::new());
    fs::remove_file(out.path("p/notes.txt")).unwrap();
    commit_all(&out.path("p"), "no notes");
    fs::write(out.path("tpl/notes.txt"), "notes v2\n").unwrap();
    let out = out
        .then()
        .args(["update", "p"])
        .stdout_contains("skip     notes.txt")
        .run();
    assert!(!out.exists("p/notes.txt"));
}

#[test]
fn a_file_the_template_dropped_is_removed_unless_the_user_changed_it() {
    let out = created(Test::new());
    fs::remove_file(out.path("tpl/notes.txt")).unwrap();
    let out = out.then().args(["update", "p"]).run();
    assert!(
        !out.exists("p/notes.txt"),
        "untouched: removed with the template"
    );

    let out = created(Test::new());
    fs::write(out.path("p/notes.txt"), "my notes\n").unwrap();
    commit_all(&out.path("p"), "mine");
    fs::remove_file(out.path("tpl/notes.txt")).unwrap();
    let out = out
        .then()
        .args(["update", "p"])
        .stdout_contains("keep     notes.txt")
        .run();
    assert_eq!(out.read("p/notes.txt"), "my notes\n");
}

#[test]
fn update_touches_nothing_outside_the_template_paths() {
    let out = created(Test::new());
    fs::write(out.path("p/mine.txt"), "my own file\n").unwrap();
    commit_all(&out.path("p"), "mine");
    to_v2(&out);
    out.then()
        .args(["update", "p"])
        .changes([
            "p/app.txt",
            "p/added-in-v2.txt",
            "p/.kensa/answers.toml",
            "p/.kensa/pristine.json.gz",
        ])
        .run();
}

#[test]
fn update_dry_run_shows_the_plan_and_writes_nothing() {
    let out = created(Test::new());
    to_v2(&out);
    out.then()
        .args(["update", "p", "--dry-run"])
        .stdout_contains("Would update")
        .stdout_contains("update   app.txt")
        .stdout_contains("nothing was written")
        .unchanged()
        .run();
}

#[test]
fn update_refuses_a_dirty_work_tree_unless_allow_dirty() {
    let out = created(Test::new());
    fs::write(out.path("p/app.txt"), "uncommitted\n").unwrap();
    to_v2(&out);
    let out = out
        .then()
        .args(["update", "p"])
        .status(2)
        .stderr_contains("uncommitted changes")
        .stderr_contains("app.txt")
        .stderr_contains("--allow-dirty")
        .unchanged()
        .run();
    out.then()
        .args(["update", "p", "--allow-dirty"])
        .status(1) // its uncommitted edit conflicts with version 2's change
        .stdout_contains("CONFLICT app.txt")
        .run();
}

#[test]
fn update_of_an_up_to_date_project_changes_nothing() {
    created(Test::new())
        .then()
        .args(["update", "p"])
        .stdout_contains("Up to date")
        .unchanged()
        .run();
}

#[test]
fn the_manifest_and_env_are_never_regenerated_but_completed() {
    let out = created(Test::new());
    // A project from before ENCRYPTION_KEY and `requires` existed.
    let env = out.read("p/.env");
    let old_env: String = env
        .lines()
        .filter(|l| !l.starts_with("ENCRYPTION_KEY="))
        .map(|l| format!("{l}\n"))
        .collect();
    fs::write(out.path("p/.env"), &old_env).unwrap();
    let mut manifest: Value = out.json("p/addon-manifest.json");
    manifest["api"].as_object_mut().unwrap().remove("requires");
    fs::write(
        out.path("p/addon-manifest.json"),
        serde_json::to_string_pretty(&manifest).unwrap(),
    )
    .unwrap();
    let out = out
        .then()
        .args(["update", "p"])
        .stdout_contains("complete .env")
        .stdout_contains("ENCRYPTION_KEY")
        .run();
    let env = out.read("p/.env");
    assert!(
        env.starts_with(&old_env),
        "existing lines kept as they were"
    );
    let key = dotenv(&env)["ENCRYPTION_KEY"].clone();
    assert_eq!(key.len(), 64);
    let after: Value = out.json("p/addon-manifest.json");
    assert_eq!(after["api"]["password"], manifest["api"]["password"]);
    assert_eq!(after["api"]["sso_salt"], manifest["api"]["sso_salt"]);
    assert_eq!(after["api"]["requires"], serde_json::json!([]));
    assert_eq!(out.mode("p/.env"), 0o600);
}

#[test]
fn a_new_template_variable_takes_its_default_or_is_asked_for_by_flag() {
    let out = created(Test::new());
    let spec = format!("{SPEC}[variables.region_code]\nhelp = \"a code\"\n");
    fs::write(out.path("tpl/template.toml"), spec).unwrap();
    fs::write(out.path("tpl/code.txt.tera"), "{{ region_code }}\n").unwrap();
    let out = out
        .then()
        .args(["update", "p", "--no-input"])
        .status(2)
        .stderr_contains("--set region_code=VALUE")
        .unchanged()
        .run();
    let out = out
        .then()
        .args(["update", "p", "--no-input", "--set", "region_code=emea"])
        .run();
    assert_eq!(out.read("p/code.txt"), "emea\n");
    assert!(out
        .read("p/.kensa/answers.toml")
        .contains("region_code = \"emea\""));
}

#[test]
fn update_outside_a_generated_project_says_so() {
    Test::new()
        .mkdir("plain")
        .args(["update", "plain"])
        .status(2)
        .stderr_contains(".kensa/answers.toml")
        .stderr_contains("kensa create")
        .unchanged()
        .run();
}

#[test]
fn a_new_secret_variable_goes_to_env_and_the_old_ones_stay_as_they_are() {
    let out = created(Test::new());
    let before = dotenv(&out.read("p/.env"));
    let spec =
        format!("{SPEC}[variables.webhook_secret]\ntype = \"secret\"\nenv = \"WEBHOOK_SECRET\"\n");
    fs::write(out.path("tpl/template.toml"), spec).unwrap();
    let out = out
        .then()
        .args([
            "update",
            "p",
            "--no-input",
            "--set",
            "webhook_secret=wh-123-secret",
        ])
        .stdout_contains("complete .env")
        .stdout_contains("WEBHOOK_SECRET")
        .run();
    let after = dotenv(&out.read("p/.env"));
    assert_eq!(after["WEBHOOK_SECRET"], "wh-123-secret");
    assert_eq!(
        after["UPSTREAM_KEY"], before["UPSTREAM_KEY"],
        "an old secret is kept"
    );
    assert!(!out.stdout.contains("wh-123-secret"));
    assert!(!out.read("p/.kensa/answers.toml").contains("wh-123"));
}

// ---------------------------------------------------------------------------------------
// A provider's project over time (audit of issue 13)

#[test]
fn regression_an_update_run_again_after_a_user_deleted_a_file_was_never_up_to_date() {
    // The user deleted a file the template never changes: the first update and every
    // later one listed it ("skip … you deleted it") and called the project updated.
    let out = created(Test::new());
    fs::remove_file(out.path("p/notes.txt")).unwrap();
    commit_all(&out.path("p"), "no notes");
    to_v2(&out);
    let out = out.then().args(["update", "p"]).run();
    assert!(!out.stdout.contains("notes.txt"), "{}", out.stdout);
    commit_all(&out.path("p"), "update");
    out.then()
        .args(["update", "p"])
        .stdout_contains("Up to date")
        .unchanged()
        .run();
}

/// A template whose files are not all plain text: a CRLF file, a binary, scripts.
fn mixed_template(test: Test, version: u8) -> Test {
    let v = version;
    let mut logo: Vec<u8> = (0..=255u8).collect();
    logo.push(v);
    let spec = match v {
        1 => "description = \"mixed\"\n[files]\nexecutable = [\"run.sh\"]\n",
        _ => "description = \"mixed\"\n[files]\nexecutable = [\"run.sh\", \"tool.sh\"]\n",
    };
    test.write("tpl/template.toml", spec)
        .write(
            "tpl/windows.bat",
            format!("a\r\nb\r\nc\r\nd\r\ne\r\nv{v}\r\n"),
        )
        .write("tpl/logo.bin", logo.clone())
        .write("tpl/art.bin", logo)
        .write("tpl/run.sh", format!("#!/bin/sh\necho run v{v}\n"))
        .write(
            "tpl/tool.sh",
            format!("#!/bin/sh\n# tool\n\n\necho tool v{v}\n"),
        )
        .write("tpl/.gitignore", ".env\naddon-manifest.json\n")
}

#[test]
/// Regression too: the mode of a merged file was always yours, so a script the template
/// made executable stayed not executable when you had edited it.
fn update_merges_crlf_files_keeps_binaries_and_merges_modes() {
    let out = mixed_template(Test::new(), 1)
        .args(["create", "p", "--template", "./tpl", "--no-input"])
        .run();
    let p = out.path("p");
    // Your edits: the first line of the CRLF file; art.bin; run.sh made non-executable;
    // tool.sh edited (its mode left as it was).
    let bat = out.read("p/windows.bat").replacen("a\r\n", "mine\r\n", 1);
    fs::write(p.join("windows.bat"), bat).unwrap();
    fs::write(p.join("art.bin"), [0u8, 1, 2, 0xff]).unwrap();
    fs::set_permissions(p.join("run.sh"), fs::Permissions::from_mode(0o644)).unwrap();
    let tool = out.read("p/tool.sh").replace("# tool", "# tool, mine");
    fs::write(p.join("tool.sh"), tool).unwrap();
    commit_all(&p, "my edits");

    let out = mixed_template(out.then(), 2)
        .args(["update", "p"])
        .status(1)
        .stdout_contains("merge    windows.bat")
        .stdout_contains("update   logo.bin")
        .stdout_contains("CONFLICT art.bin")
        .stdout_contains("update   run.sh")
        .stdout_contains("merge    tool.sh")
        .run();
    assert_eq!(
        out.read("p/windows.bat"),
        "mine\r\nb\r\nc\r\nd\r\ne\r\nv2\r\n",
        "merged line by line, CRLF kept"
    );
    assert_eq!(
        out.bytes("p/logo.bin").last(),
        Some(&2),
        "untouched: replaced"
    );
    assert_eq!(
        out.bytes("p/art.bin"),
        [0u8, 1, 2, 0xff],
        "binary: yours kept"
    );
    assert_eq!(out.read("p/run.sh"), "#!/bin/sh\necho run v2\n");
    assert_eq!(out.mode("p/run.sh") & 0o777, 0o644, "your mode change kept");
    assert!(out.read("p/tool.sh").contains("# tool, mine"));
    assert!(out.read("p/tool.sh").contains("echo tool v2"));
    assert_eq!(
        out.mode("p/tool.sh") & 0o111,
        0o111,
        "the template made it executable and you left its mode alone"
    );
}

#[test]
fn update_outside_a_git_repository_needs_no_allow_dirty() {
    let out = v1(Test::new())
        .args([
            "create",
            "p",
            "--template",
            "./tpl",
            "--no-input",
            "--vcs",
            "none",
        ])
        .run();
    assert!(!out.exists("p/.git"));
    let app = out.read("p/app.txt").replace("line 3", "line 3, mine");
    fs::write(out.path("p/app.txt"), app).unwrap();
    to_v2(&out);
    let out = out
        .then()
        .args(["update", "p"])
        .stdout_contains("merge    app.txt")
        .run();
    assert!(out.read("p/app.txt").contains("line 3, mine"));
    assert!(out.read("p/app.txt").contains("line 10, version 2"));
}

#[test]
/// Regression too: a template that moved was "not a template directory", with no word
/// of --template.
fn update_from_another_template_source_records_it_for_the_next_update() {
    let out = created(Test::new());
    // The template moved: version 2 lives elsewhere now.
    fs::create_dir(out.path("moved")).unwrap();
    fs::rename(out.path("tpl"), out.path("moved/tpl")).unwrap();
    fs::write(out.path("moved/tpl/notes.txt"), "notes v2\n").unwrap();
    let out = out
        .then()
        .args(["update", "p"])
        .status(2)
        .stderr_contains("is not a template directory")
        .stderr_contains("kensa update --template")
        .unchanged()
        .run();
    let out = out
        .then()
        .args(["update", "p", "--template", "./moved/tpl"])
        .stdout_contains("update   notes.txt")
        .run();
    assert_eq!(out.read("p/notes.txt"), "notes v2\n");
    let answers: toml::Table = toml::from_str(&out.read("p/.kensa/answers.toml")).unwrap();
    let source = answers["template"]["source"].as_str().unwrap();
    assert!(source.ends_with("moved/tpl"), "{source}");
    commit_all(&out.path("p"), "update");
    fs::write(out.path("moved/tpl/notes.txt"), "notes v3\n").unwrap();
    let out = out.then().args(["update", "p"]).run();
    assert_eq!(
        out.read("p/notes.txt"),
        "notes v3\n",
        "the new source is followed"
    );
}

/// Regression: a recorded answer the template's new version no longer takes (a choice it
/// dropped) was reported as if the user had just typed it, with no word of where it came
/// from or how to give another.
#[test]
fn regression_a_recorded_answer_the_new_template_refuses_was_not_said_to_be_recorded() {
    let out = created(Test::new());
    let spec = SPEC.replace(
        r#"["vanilla", "chocolate"]"#,
        r#"["vanilla", "strawberry"]"#,
    );
    fs::write(out.path("tpl/template.toml"), spec).unwrap();
    let out = out
        .then()
        .args(["update", "p", "--no-input"])
        .status(2)
        .stderr_contains("\"chocolate\" is not one of the choices")
        .stderr_contains("recorded in .kensa/answers.toml")
        .stderr_contains("--set flavour=VALUE")
        .unchanged()
        .run();
    let out = out
        .then()
        .args(["update", "p", "--no-input", "--set", "flavour=strawberry"])
        .run();
    assert!(out.read("p/app.txt").contains("(strawberry)"));
}

/// A conflict resolved once is not raised again by the next update (copier's users'
/// complaint): the base of the next merge is what the template rendered last.
#[test]
fn a_resolved_conflict_does_not_come_back_at_the_next_update() {
    let out = created(Test::new());
    let mine = out.read("p/app.txt").replace("line 10", "line 10, mine");
    fs::write(out.path("p/app.txt"), mine).unwrap();
    commit_all(&out.path("p"), "my edit");
    to_v2(&out);
    let out = out.then().args(["update", "p"]).status(1).run();
    // Resolved: the user keeps their line.
    let resolved = app_resolved(&out.read("p/app.txt"));
    fs::write(out.path("p/app.txt"), &resolved).unwrap();
    commit_all(&out.path("p"), "resolved");
    // Version 3 changes another line only.
    let v3 = app(
        "{{ greeting }}, {{ name }} ({{ flavour }})",
        "line 10, version 2",
    )
    .replace("line 5", "line 5, version 3");
    fs::write(out.path("tpl/app.txt.tera"), v3).unwrap();
    let out = out
        .then()
        .args(["update", "p"])
        .stdout_contains("merge    app.txt")
        .run();
    let text = out.read("p/app.txt");
    assert!(!text.contains("<<<<<<<"), "{text}");
    assert!(text.contains("line 10, mine\n"), "{text}");
    assert!(text.contains("line 5, version 3\n"), "{text}");
}

/// The conflicted file with the user's side of every conflict kept.
fn app_resolved(text: &str) -> String {
    let mut out = String::new();
    let mut side = 0; // 0: outside, 1: ours, 2: theirs
    for line in text.split_inclusive('\n') {
        if line.starts_with("<<<<<<< ") {
            side = 1;
        } else if line.starts_with("=======") && side == 1 {
            side = 2;
        } else if line.starts_with(">>>>>>> ") && side == 2 {
            side = 0;
        } else if side != 2 {
            out.push_str(line);
        }
    }
    out
}
