//! The dialoguer wizard, driven through a pseudo-terminal (rexpect): kensa sees a terminal
//! on stdin and stderr, asks, and does what the answers say.
//!
//! Every wait is bounded (the harness's `TIMEOUT`): a prompt that never comes fails the test with what
//! the terminal showed instead of hanging it.

use std::fs;
use std::path::Path;

use rexpect::process::wait::WaitStatus;
use rexpect::session::{spawn_with_options, Options, PtySession};
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::harness::{self, assert_dotenv_matches, assert_secret};

const DOWN: &str = "\x1b[B";
const ENTER: &str = "\r";

/// A kensa process on a fresh pty, in `dir`, with a hermetic environment.
struct Pty {
    session: PtySession,
}

impl Pty {
    fn spawn(dir: &Path, args: &[&str]) -> Pty {
        Self::spawn_with(dir, args, true)
    }

    /// With the terminal's escape sequences kept, to see what kensa does to the terminal.
    fn spawn_raw(dir: &Path, args: &[&str]) -> Pty {
        Self::spawn_with(dir, args, false)
    }

    fn spawn_with(dir: &Path, args: &[&str], strip: bool) -> Pty {
        let mut cmd = harness::kensa(dir);
        cmd.args(args).env("TERM", "xterm");
        let options = Options {
            timeout_ms: Some(harness::pty_timeout_ms()),
            strip_ansi_escape_codes: strip,
        };
        Pty {
            session: spawn_with_options(cmd, options).expect("spawn kensa on a pty"),
        }
    }

    /// Waits (bounded) for the end of output; returns it and the exit code.
    fn rest_and_exit_code(mut self) -> (String, i32) {
        let rest = match self.session.exp_eof() {
            Ok(rest) => rest,
            Err(e) => panic!("waiting for kensa to finish: {e}"),
        };
        match self.session.process.wait().unwrap() {
            WaitStatus::Exited(_, code) => (rest, code),
            other => panic!("kensa did not exit normally: {other:?}"),
        }
    }

    /// Waits (bounded) until the terminal shows `text`.
    fn expect(&mut self, text: &str) {
        if let Err(e) = self.session.exp_string(text) {
            panic!("waiting for {text:?}: {e}");
        }
    }

    /// Types keys (no newline added).
    fn keys(&mut self, keys: &str) {
        self.session.send(keys).unwrap();
        self.session.flush().unwrap();
    }

    /// Waits for the prompt, then answers it.
    fn answer(&mut self, prompt: &str, keys: &str) {
        self.expect(prompt);
        self.keys(keys);
    }

    /// Waits (bounded) for the end of output and returns the exit code.
    fn exit_code(mut self) -> i32 {
        if let Err(e) = self.session.exp_eof() {
            panic!("waiting for kensa to finish: {e}");
        }
        match self.session.process.wait().unwrap() {
            WaitStatus::Exited(_, code) => code,
            other => panic!("kensa did not exit normally: {other:?}"),
        }
    }
}

fn tempdir() -> TempDir {
    tempfile::Builder::new()
        .prefix("kensa-pty-")
        .tempdir()
        .unwrap()
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

#[test]
fn create_with_no_flags_asks_for_everything() {
    let tmp = tempdir();
    let mut pty = Pty::spawn(tmp.path(), &["create"]);
    // clojure, node, rust-axum, sinatra: two steps down is rust-axum.
    pty.expect("Template");
    pty.expect("sinatra"); // the whole list is drawn
    pty.keys(DOWN);
    pty.keys(DOWN);
    pty.keys(ENTER);
    pty.answer("Project directory", &format!("Wizard Addon{ENTER}"));
    pty.answer("Add-on id (slug)", ENTER); // default: wizard-addon, from the directory
    pty.answer("Display name", &format!("Wizard Made{ENTER}"));
    pty.answer("Regions", ENTER); // default: us
    pty.answer("Single sign-on", ENTER); // default: POST
    pty.answer("Local port", ENTER); // default: 5001
    pty.expect("kensa create will use");
    pty.answer("Go ahead with these values?", ENTER); // default: yes
    pty.expect("Created");
    pty.expect("from the rust-axum template");
    assert_eq!(pty.exit_code(), 0);

    let project = tmp.path().join("Wizard Addon");
    assert!(
        project.join("Cargo.toml").is_file(),
        "the rust-axum project"
    );
    let manifest = json(&project.join("addon-manifest.json"));
    assert_eq!(manifest["id"], "wizard-addon");
    assert_eq!(manifest["name"], "Wizard Made");
    assert_eq!(manifest["api"]["regions"], json!(["us"]));
    assert_eq!(
        manifest["api"]["test"],
        json!({
            "base_url": "http://localhost:5001/heroku/resources",
            "sso_url": "http://localhost:5001/sso/login"
        })
    );
    assert_dotenv_matches(
        &fs::read_to_string(project.join(".env")).unwrap(),
        &manifest,
    );
    let entries: Vec<_> = fs::read_dir(tmp.path()).unwrap().collect();
    assert_eq!(entries.len(), 1, "only the project: {entries:?}");
}

#[test]
fn create_asks_for_template_variables_without_a_default() {
    let tmp = tempdir();
    let tpl = tmp.path().join("tpl");
    fs::create_dir(&tpl).unwrap();
    fs::write(
        tpl.join("template.toml"),
        "description = \"d\"\n[variables.region_code]\nregex = \"^[a-z]+$\"\nhelp = \"lowercase code\"\n",
    )
    .unwrap();
    fs::write(tpl.join("code.txt.tera"), "code={{ region_code }}\n").unwrap();

    let mut pty = Pty::spawn(tmp.path(), &["create", "out", "--template", "./tpl"]);
    pty.answer("Add-on id (slug)", ENTER);
    pty.answer("Display name", ENTER);
    pty.answer("Regions", ENTER);
    pty.answer("Single sign-on", ENTER);
    pty.answer("Local port", ENTER);
    pty.answer("region_code (lowercase code)", &format!("emea{ENTER}"));
    pty.answer("Go ahead with these values?", ENTER);
    pty.expect("Created");
    assert_eq!(pty.exit_code(), 0);
    assert_eq!(
        fs::read_to_string(tmp.path().join("out/code.txt")).unwrap(),
        "code=emea\n"
    );
}

#[test]
fn create_asks_before_replacing_and_no_keeps_the_directory() {
    let tmp = tempdir();
    fs::create_dir(tmp.path().join("p")).unwrap();
    fs::write(tmp.path().join("p/mine.txt"), "keep me\n").unwrap();
    let mut pty = Pty::spawn(tmp.path(), &["create", "p", "--template", "node"]);
    pty.answer("Add-on id (slug)", ENTER);
    pty.answer("Display name", ENTER);
    pty.answer("Regions", ENTER);
    pty.answer("Single sign-on", ENTER);
    pty.answer("Local port", ENTER);
    pty.answer("node_version", ENTER); // a default, asked all the same
    pty.answer("Go ahead with these values?", ENTER);
    pty.expect("keeps every other file");
    pty.answer("Write the template's files into p", "n");
    pty.expect("--force");
    assert_eq!(pty.exit_code(), 2);
    assert_eq!(
        fs::read_to_string(tmp.path().join("p/mine.txt")).unwrap(),
        "keep me\n"
    );
    assert_eq!(fs::read_dir(tmp.path().join("p")).unwrap().count(), 1);
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[test]
fn init_asks_before_replacing_and_no_leaves_the_manifest_byte_identical() {
    let tmp = tempdir();
    let manifest = tmp.path().join("addon-manifest.json");
    let original = b"{\"id\": \"hand-made\", \"api\": {}}\n";
    fs::write(&manifest, original).unwrap();
    let mut pty = Pty::spawn(tmp.path(), &["init"]);
    pty.answer("addon-manifest.json already exists. Replace it?", "n");
    pty.expect("--force");
    assert_eq!(pty.exit_code(), 2);
    assert_eq!(fs::read(&manifest).unwrap(), original);
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 1);
}

#[test]
fn init_asks_before_replacing_and_yes_writes_the_answers() {
    let tmp = tempdir();
    let dir = tmp.path().join("shop-sync");
    fs::create_dir(&dir).unwrap();
    let manifest = dir.join("addon-manifest.json");
    fs::write(&manifest, "{}").unwrap();
    let mut pty = Pty::spawn(&dir, &["init"]);
    pty.answer("addon-manifest.json already exists. Replace it?", "y");
    pty.answer("Add-on id (slug)", ENTER); // default: shop-sync
    pty.answer("Display name", &format!("Shop Sync{ENTER}"));
    pty.expect("Regions");
    pty.expect("eu"); // us is first and checked; eu is next
    pty.keys(DOWN);
    pty.keys(" ");
    pty.keys(ENTER);
    pty.answer("Single sign-on", &format!("{DOWN}{ENTER}")); // GET (legacy)
    pty.answer("Local port", &format!("8080{ENTER}"));
    pty.expect("Wrote");
    assert_eq!(pty.exit_code(), 0);

    let m = json(&manifest);
    assert_eq!(m["id"], "shop-sync");
    assert_eq!(m["name"], "Shop Sync");
    assert_eq!(m["api"]["regions"], json!(["us", "eu"]));
    assert_eq!(m["api"]["test"], "http://localhost:8080/");
    assert_secret(m["api"]["sso_salt"].as_str().unwrap());
}

// ---------------------------------------------------------------------------------------
// Issue 13: every variable asked, in words, with a summary; Ctrl-C gives the terminal back

const KINDS: &str = r#"description = "kinds"
[variables.database]
type = "choice"
choices = ["postgres", "sqlite"]
default = "postgres"
[variables.features]
type = "multi-choice"
choices = ["async", "logs", "metrics"]
default = ["async"]
[variables.api_token]
type = "secret"
env = "UPSTREAM_TOKEN"
[variables.greeting]
default = "hello"
"#;

fn kinds_template(dir: &Path) {
    fs::create_dir_all(dir.join("tpl")).unwrap();
    fs::write(dir.join("tpl/template.toml"), KINDS).unwrap();
    fs::write(
        dir.join("tpl/config.txt.tera"),
        "{{ database }} {{ features | join(sep=\",\") }} {{ greeting }}\n",
    )
    .unwrap();
}

/// Answers the add-on's questions with their defaults (the id comes from `--id`).
fn addon_defaults(pty: &mut Pty) {
    pty.answer("Display name", ENTER);
    pty.answer("Regions", ENTER);
    pty.answer("Single sign-on", ENTER);
    pty.answer("Local port", ENTER);
}

#[test]
fn the_wizard_asks_choice_multi_choice_secret_and_defaulted_variables() {
    let tmp = tempdir();
    kinds_template(tmp.path());
    let mut pty = Pty::spawn(
        tmp.path(),
        &["create", "out", "--template", "./tpl", "--id", "wiz"],
    );
    addon_defaults(&mut pty);
    pty.expect("database");
    pty.expect("sqlite");
    pty.keys(DOWN);
    pty.keys(ENTER);
    pty.expect("features");
    pty.expect("metrics");
    pty.keys(DOWN);
    pty.keys(DOWN);
    pty.keys(" ");
    pty.keys(ENTER);
    pty.answer(
        "api_token (not shown; written to .env only)",
        "pty-secret-value\r",
    );
    // A variable with a default is asked too, the default suggested.
    pty.answer("greeting", &format!("hi{ENTER}"));
    pty.expect("kensa create will use");
    pty.expect("(hidden; goes to .env)");
    pty.answer("Go ahead with these values?", ENTER);
    pty.expect("Created");
    let (rest, code) = pty.rest_and_exit_code();
    assert_eq!(code, 0);
    assert!(
        !rest.contains("pty-secret-value"),
        "the secret was shown: {rest}"
    );
    assert_eq!(
        fs::read_to_string(tmp.path().join("out/config.txt")).unwrap(),
        "sqlite async,metrics hi\n"
    );
    let env = fs::read_to_string(tmp.path().join("out/.env")).unwrap();
    assert!(env.contains("UPSTREAM_TOKEN=pty-secret-value\n"), "{env}");
    let answers = fs::read_to_string(tmp.path().join("out/.kensa/answers.toml")).unwrap();
    assert!(!answers.contains("pty-secret-value"), "{answers}");
}

#[test]
fn a_bad_port_is_explained_in_words_and_asked_again() {
    let tmp = tempdir();
    let mut pty = Pty::spawn(tmp.path(), &["init", "--id", "ports"]);
    pty.answer("Display name", ENTER);
    pty.answer("Regions", ENTER);
    pty.answer("Single sign-on", ENTER);
    pty.answer("Local port", &format!("eighty{ENTER}"));
    pty.expect("is not a port: use a whole number from 1 to 65535");
    // The bad text may still be in the line: clear it, then give a port.
    pty.keys(&"\x7f".repeat(10));
    pty.keys(&format!("5002{ENTER}"));
    pty.expect("Wrote");
    let (rest, code) = pty.rest_and_exit_code();
    assert_eq!(code, 0, "{rest}");
    assert!(!rest.contains("invalid digit"), "{rest}");
    let m = json(&tmp.path().join("addon-manifest.json"));
    assert_eq!(
        m["api"]["test"]["base_url"],
        "http://localhost:5002/heroku/resources"
    );
}

#[test]
fn no_at_the_summary_writes_nothing() {
    let tmp = tempdir();
    kinds_template(tmp.path());
    let mut pty = Pty::spawn(
        tmp.path(),
        &[
            "create",
            "out",
            "--template",
            "./tpl",
            "--id",
            "wiz",
            "--set",
            "database=sqlite",
            "--set",
            "features=logs",
            "--set",
            "api_token=x",
            "--set",
            "greeting=hey",
        ],
    );
    addon_defaults(&mut pty);
    pty.answer("Go ahead with these values?", "n");
    pty.expect("nothing was written");
    let (_, code) = pty.rest_and_exit_code();
    assert_eq!(code, 2);
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn ctrl_c_at_a_prompt_shows_the_cursor_again_and_exits_130() {
    let tmp = tempdir();
    let mut pty = Pty::spawn_raw(tmp.path(), &["create"]);
    pty.expect("sinatra"); // the template list, drawn with the cursor hidden
    pty.keys("\x03");
    let (rest, code) = pty.rest_and_exit_code();
    assert_eq!(code, 130, "{rest:?}");
    assert!(
        rest.rfind("\x1b[?25h") > rest.rfind("\x1b[?25l"),
        "the cursor is shown again: {rest:?}"
    );
    assert_eq!(
        fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "nothing written"
    );
}

#[test]
fn ctrl_c_at_a_secret_prompt_gives_the_terminal_back() {
    // kensa inside a shell on the pty, with `stty -a` before and after it: the terminal's
    // settings must be the same again, though the secret prompt turned echo off.
    let tmp = tempdir();
    kinds_template(tmp.path());
    let kensa = harness::kensa_bin();
    // The shell ignores Ctrl-C, to live on and run `stty`; kensa installs its own handler.
    let script = format!(
        "trap '' INT; stty -a; echo BEFORE-KENSA; '{}' create out --template ./tpl --id wiz \
         --set database=sqlite --set features=logs --set greeting=hey; echo \"EXIT=$?\"; stty -a",
        kensa.display()
    );
    let mut cmd = std::process::Command::new("sh");
    harness::hermetic(&mut cmd, tmp.path());
    cmd.args(["-c", &script]).env("TERM", "xterm");
    let options = Options {
        timeout_ms: Some(harness::pty_timeout_ms()),
        strip_ansi_escape_codes: true,
    };
    let mut session = spawn_with_options(cmd, options).expect("spawn sh on a pty");
    let before = session
        .exp_string("BEFORE-KENSA")
        .expect("stty before kensa");
    let mut pty = Pty { session };
    addon_defaults(&mut pty);
    pty.expect("api_token");
    pty.keys("\x03");
    pty.expect("EXIT=130");
    let (after, _) = pty.rest_and_exit_code();
    let settings = |text: &str| -> Vec<String> {
        let start = text.find("speed").expect("stty output");
        text[start..]
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(
        settings(&after),
        settings(&before),
        "stty -a after kensa: {after}"
    );
    assert!(!tmp.path().join("out").exists());
}

/// `kensa update` on a terminal asks only what the template gained since the project was
/// made, never again what the project answered (copier's users' complaint).
#[test]
fn update_asks_only_the_variables_the_template_added() {
    let tmp = tempdir();
    let tpl = tmp.path().join("tpl");
    fs::create_dir(&tpl).unwrap();
    let spec = "description = \"d\"\n[variables.greeting]\ndefault = \"hello\"\n";
    fs::write(tpl.join("template.toml"), spec).unwrap();
    fs::write(tpl.join("app.txt.tera"), "{{ greeting }}\n").unwrap();
    let mut create = harness::kensa(tmp.path());
    create.args([
        "create",
        "p",
        "--template",
        "./tpl",
        "--no-input",
        "--vcs",
        "none",
        "--set",
        "greeting=hi",
    ]);
    assert!(harness::output(create).status.success());
    let spec = format!("{spec}[variables.motto]\ndefault = \"be kind\"\n");
    fs::write(tpl.join("template.toml"), spec).unwrap();
    fs::write(tpl.join("motto.txt.tera"), "{{ motto }}\n").unwrap();

    let mut pty = Pty::spawn(tmp.path(), &["update", "p"]);
    let before = match pty.session.exp_string("motto") {
        Ok(before) => before,
        Err(e) => panic!("waiting for the motto prompt: {e}"),
    };
    assert!(!before.contains("greeting"), "asked again: {before}");
    pty.keys(&format!("be brave{ENTER}"));
    pty.expect("Updated");
    let (rest, code) = pty.rest_and_exit_code();
    assert_eq!(code, 0, "{rest}");
    assert!(!rest.contains("greeting"), "asked again: {rest}");
    let p = tmp.path().join("p");
    assert_eq!(fs::read_to_string(p.join("app.txt")).unwrap(), "hi\n");
    assert_eq!(
        fs::read_to_string(p.join("motto.txt")).unwrap(),
        "be brave\n"
    );
}
