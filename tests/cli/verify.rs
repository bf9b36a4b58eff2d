//! `kensa templates verify` on a tiny template of kensa's own (a provider on Python's
//! standard library, `tests/fixtures/verify/stdlib-python`): it passes; copies of it
//! broken on purpose fail with the failing check named; a start that never listens or
//! exits fails with its last lines; a missing step is skipped saying why; a template
//! without a start command is an input error; warnings fail (`test all --strict`); a step's deadline and Ctrl-C leave no
//! process of the step's or the service's group behind, and no temporary directory.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

use crate::harness::dev::{group_alive, group_gone};
use crate::harness::junit::parse_junit;
use crate::harness::{assert_declared, kensa, output, repo};

/// A copy of the fixture template in a temporary home, with a `tmp/` kensa uses as its
/// temporary directory (so a test sees what kensa leaves there).
struct Fixture {
    home: TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let home = tempfile::Builder::new()
            .prefix("kensa-verify-test-")
            .tempdir()
            .unwrap();
        let source = repo().join("tests/fixtures/verify/stdlib-python");
        let target = home.path().join("stdlib-python");
        for entry in walkdir::WalkDir::new(&source) {
            let entry = entry.unwrap();
            let rel = entry.path().strip_prefix(&source).unwrap();
            if entry.file_type().is_dir() {
                std::fs::create_dir_all(target.join(rel)).unwrap();
            } else {
                std::fs::copy(entry.path(), target.join(rel)).unwrap();
            }
        }
        std::fs::create_dir(home.path().join("tmp")).unwrap();
        Fixture { home }
    }

    fn template(&self) -> PathBuf {
        self.home.path().join("stdlib-python")
    }

    /// Replaces `from` (which must be there) with `to` in one of the template's files.
    fn replace(&self, file: &str, from: &str, to: &str) -> &Fixture {
        let path = self.template().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} has no {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
        self
    }

    /// Sets (or with `None` removes) one command of template.toml [commands].
    fn command(&self, key: &str, command: Option<&str>) -> &Fixture {
        let path = self.template().join("template.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with(&format!("{key} = ")))
            .map(str::to_owned)
            .collect();
        if let Some(command) = command {
            let at = lines.iter().position(|l| l == "[commands]").unwrap() + 1;
            lines.insert(at, format!("{key} = {}", toml_string(command)));
        }
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        self
    }

    fn remove(&self, file: &str) -> &Fixture {
        std::fs::remove_file(self.template().join(file)).unwrap();
        self
    }

    /// Where a command of the template may write its process group's id (`$PGID_FILE`).
    fn pgid_file(&self) -> PathBuf {
        self.home.path().join("pgid")
    }

    fn pgid(&self) -> i32 {
        std::fs::read_to_string(self.pgid_file())
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    fn command_line(&self, args: &[&str]) -> Command {
        let mut cmd = kensa(self.home.path());
        cmd.env("TMPDIR", self.home.path().join("tmp"))
            .env("NO_COLOR", "1")
            .env("PGID_FILE", self.pgid_file())
            .args(["templates", "verify"])
            .arg(self.template())
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    fn verify(&self, args: &[&str]) -> Output {
        output(self.command_line(args))
    }

    /// What kensa left in its temporary directory.
    fn leftovers(&self) -> Vec<String> {
        std::fs::read_dir(self.home.path().join("tmp"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }
}

fn toml_string(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", stdout(out), stderr(out)))
}

/// Every check of a JSON report: (section id, check id, status, message).
fn checks(doc: &Value) -> Vec<(String, String, String, String)> {
    doc["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| {
            s["checks"].as_array().unwrap().iter().map(move |c| {
                (
                    s["id"].as_str().unwrap().to_owned(),
                    c["id"].as_str().unwrap().to_owned(),
                    c["status"].as_str().unwrap().to_owned(),
                    c["message"].as_str().unwrap_or_default().to_owned(),
                )
            })
        })
        .collect()
}

/// The status and message of check `id` (the first with that id).
fn status_of(doc: &Value, id: &str) -> (String, String) {
    checks(doc)
        .into_iter()
        .find(|c| c.1 == id)
        .map(|c| (c.2, c.3))
        .unwrap_or_else(|| panic!("no check {id} in {doc:#}"))
}

/// The check ids `kensa templates verify` reports, each asserted declared under its title:
/// a passing run as JUnit (a testcase per check, classed by stage) and a run whose service
/// never starts, as JSON. For the registry's "no dead entries" test.
pub fn reported_ids() -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let fixture = Fixture::new();
    let out = fixture.verify(&["--format", "junit"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let junit = parse_junit(&stdout(&out));
    for suite in &junit.suites {
        for case in &suite.cases {
            let id = &case.attrs["name"];
            assert!(kensa::registry::find(id).is_some(), "undeclared {id}");
            if id.starts_with("template.") {
                assert_eq!(case.attrs["classname"], "kensa.template", "{id}");
            }
            seen.insert(id.clone());
        }
    }
    fixture.command("start", Some("exit 1"));
    let doc = json(&fixture.verify(&["--format", "json"]));
    for section in doc["sections"].as_array().unwrap() {
        for check in section["checks"].as_array().unwrap() {
            let id = check["id"].as_str().unwrap();
            assert_declared(id, check["name"].as_str().unwrap());
            seen.insert(id.to_owned());
        }
    }
    seen
}

#[test]
fn the_fixture_template_passes_every_step_and_test_all() {
    let fixture = Fixture::new();
    let out = fixture.verify(&[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    for line in [
        "Check the template renders into a project [PASS]",
        "Check install: python3 -m py_compile provider.py test_provider.py [PASS]",
        "Check unit tests: python3 -m unittest -q test_provider [PASS]",
        "Check release: python3 provider.py migrate [PASS]",
        "Check start: python3 provider.py serve [PASS]",
        "Testing POST http://localhost:",
        "Check good token logs in [PASS]",
        "Testing DELETE http://localhost:",
        "Check the service stops on SIGTERM [PASS]",
    ] {
        assert!(text.contains(line), "no {line:?} in:\n{text}");
    }
    assert!(text.contains("verify: "), "{text}");
    assert!(text.trim_end().ends_with("passed"), "{text}");
    assert!(
        fixture.leftovers().is_empty(),
        "the temporary directory is removed: {:?}",
        fixture.leftovers()
    );
}

/// A provider that accepts any SSO token: the check that sends a wrong one fails, and
/// kensa names it (id and title) at the end.
#[test]
fn a_provider_accepting_wrong_sso_tokens_fails_with_the_check_named() {
    let fixture = Fixture::new();
    fixture.replace(
        "provider.py.tera",
        "if not checks or not all(checks):",
        "if not checks:",
    );
    let out = fixture.verify(&[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("Check wrong token gets 403 [FAIL]"), "{text}");
    let summary = text.split("verify: ").last().unwrap();
    assert!(summary.contains("failed:"), "{text}");
    assert!(
        summary.contains("sso.wrong-token (wrong token gets 403)"),
        "the failing check is named: {summary}"
    );
    assert!(fixture.leftovers().is_empty());
}

/// A provider that accepts kensa's made-up plan: advice, which fails the verification
/// (`test all --strict`), named as such.
#[test]
fn warnings_of_test_all_fail_the_verification() {
    let fixture = Fixture::new();
    fixture.replace(
        "provider.py.tera",
        "PLANS = {\"test\": 10,",
        "PLANS = {\"test\": 10, \"foo\": 100,",
    );
    let out = fixture.verify(&[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("failed by --strict"), "{text}");
    assert!(
        text.contains("planchange.unknown-plan (an unknown plan gets 422 with a message)"),
        "{text}"
    );
}

/// A provider that answers 500 to deprovisioning, reported as JSON.
#[test]
fn a_500_on_deprovision_fails_with_the_check_named_in_json() {
    let fixture = Fixture::new();
    fixture.replace(
        "provider.py.tera",
        "        self.send(204)",
        "        self.send(500, {\"message\": \"boom\"})",
    );
    let out = fixture.verify(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = json(&out);
    assert_eq!(doc["passed"], false);
    let (status, message) = status_of(&doc, "deprovision.status");
    assert_eq!(status, "fail");
    assert!(message.contains("500"), "{message}");
    assert!(doc["failed_checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == "deprovision.status" && c["name"] == "response"));
    for step in [
        "template.generate",
        "template.install",
        "template.unit-tests",
        "template.release",
        "template.start",
        "template.stop",
    ] {
        assert_eq!(status_of(&doc, step).0, "pass", "{step}");
    }
    assert_eq!(doc["template"], fixture.template().display().to_string());
    assert_eq!(doc["project"], Value::Null, "removed, so not named");
    assert!(
        doc["service_log"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("DELETE")),
        "the service's last lines: {:#}",
        doc["service_log"]
    );
    // Beside the document, stderr names the failing check for a person reading CI's log.
    assert!(
        stderr(&out).contains("deprovision.status (response)"),
        "{}",
        stderr(&out)
    );
    // No secret of the generated project reaches the report in any form.
    assert!(!stdout(&out).contains("HEROKU_PASSWORD="));
}

#[test]
fn a_start_that_never_listens_fails_with_its_last_lines_and_leaves_nothing() {
    let fixture = Fixture::new();
    fixture.command(
        "start",
        Some("echo $$ > \"$PGID_FILE\"; echo warming up the flux capacitor; exec sleep 600"),
    );
    let out = fixture.verify(&["--start-timeout", "2", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = json(&out);
    let (status, message) = status_of(&doc, "template.start");
    assert_eq!(status, "fail");
    assert!(message.contains("did not answer on port"), "{message}");
    assert!(message.contains("within 2 s"), "{message}");
    assert!(
        message.contains("--start-timeout"),
        "says how to allow longer: {message}"
    );
    assert!(
        message.contains("warming up the flux capacitor"),
        "the last lines: {message}"
    );
    let (status, message) = status_of(&doc, "template.test-all");
    assert_eq!(
        (status.as_str(), message.as_str()),
        ("skip", "not run: the service did not start")
    );
    assert!(!group_alive(fixture.pgid()), "the service's group is gone");
    assert!(fixture.leftovers().is_empty());
}

#[test]
fn a_start_that_exits_says_why() {
    let fixture = Fixture::new();
    fixture.command(
        "start",
        Some("echo 'cannot load config: no FLUX' >&2; exit 3"),
    );
    let out = fixture.verify(&[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("exited (exit status: 3) before it answered"),
        "{text}"
    );
    assert!(text.contains("cannot load config: no FLUX"), "{text}");
    assert!(text.contains("template.start (start: echo"), "{text}");
}

/// Steps a template does not declare are skipped, each saying why; the rest still runs.
#[test]
fn undeclared_steps_are_skipped_saying_why() {
    let fixture = Fixture::new();
    fixture
        .command("install", None)
        .command("test", None)
        .command("release", None)
        .command(
            "start",
            Some("python3 provider.py migrate && exec python3 provider.py serve"),
        )
        .remove("Procfile");
    let out = fixture.verify(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json(&out);
    for (step, why) in [
        ("template.install", "declares no `install`"),
        ("template.unit-tests", "declares no `test`"),
        ("template.release", "no release: line"),
    ] {
        let (status, message) = status_of(&doc, step);
        assert_eq!(status, "skip", "{step}");
        assert!(message.contains(why), "{step}: {message}");
    }
    assert_eq!(status_of(&doc, "template.start").0, "pass");
    assert_eq!(status_of(&doc, "sso.login").0, "pass");
}

/// Without `start`, the Procfile's web: line is the service; without either, the
/// template cannot be verified.
#[test]
fn a_template_without_a_start_command_cannot_be_verified() {
    let fixture = Fixture::new();
    fixture.command("start", None);
    let out = fixture.verify(&["--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "the Procfile's web: line: {}",
        stderr(&out)
    );
    let (status, _) = status_of(&json(&out), "template.start");
    assert_eq!(status, "pass");

    fixture.remove("Procfile");
    let out = fixture.verify(&[]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("cannot be verified"), "{err}");
    assert!(
        err.contains("[commands]") && err.contains("start = "),
        "says what to add: {err}"
    );
    assert!(stdout(&out).is_empty(), "nothing was run: {}", stdout(&out));
    assert!(fixture.leftovers().is_empty());
}

#[test]
fn a_step_past_its_deadline_is_stopped_with_its_whole_group() {
    let fixture = Fixture::new();
    fixture.command(
        "install",
        Some("echo $$ > \"$PGID_FILE\"; echo fetching the internet; sleep 600 & wait"),
    );
    let out = fixture.verify(&["--install-timeout", "1", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = json(&out);
    let (status, message) = status_of(&doc, "template.install");
    assert_eq!(status, "fail");
    assert!(message.contains("did not finish within 1 s"), "{message}");
    assert!(message.contains("[timeouts]"), "{message}");
    assert!(message.contains("fetching the internet"), "{message}");
    for step in ["template.unit-tests", "template.release", "template.start"] {
        assert_eq!(
            status_of(&doc, step),
            ("skip".to_owned(), "not run: install failed".to_owned()),
            "{step}"
        );
    }
    assert!(
        !group_alive(fixture.pgid()),
        "the sleep in the background is gone too"
    );
    assert!(fixture.leftovers().is_empty());
}

/// `--install` (or KENSA_VERIFY_INSTALL) replaces the template's install command; `--env`
/// reaches the release and start commands (not the unit tests); `--keep` keeps the project.
#[test]
fn install_override_env_and_keep() {
    let fixture = Fixture::new();
    fixture
        .command(
            "release",
            Some("python3 provider.py migrate && echo \"$GREETING\" > greeting.txt"),
        )
        .command(
            "test",
            Some("test -z \"$GREETING\" && python3 -m unittest -q test_provider"),
        );
    let mut cmd = fixture.command_line(&["--keep", "--env", "GREETING=hello there"]);
    cmd.env("KENSA_VERIFY_INSTALL", "echo from CI > ci-install.txt");
    let out = output(cmd);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(
        text.contains("Check install: echo from CI > ci-install.txt [PASS]"),
        "{text}"
    );
    let kept = text
        .lines()
        .find_map(|l| l.strip_prefix("The project is kept in "))
        .unwrap_or_else(|| panic!("no kept directory in {text}"));
    let kept = Path::new(kept);
    assert!(kept.starts_with(fixture.home.path().join("tmp")));
    assert_eq!(
        std::fs::read_to_string(kept.join("ci-install.txt")).unwrap(),
        "from CI\n"
    );
    assert_eq!(
        std::fs::read_to_string(kept.join("greeting.txt")).unwrap(),
        "hello there\n"
    );
    assert!(kept.join("addon-manifest.json").is_file());
}

/// kensa as a child we can interrupt, its output collected as it comes.
struct Running {
    child: Child,
    output: Arc<Mutex<String>>,
}

impl Running {
    fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = Arc::new(Mutex::new(String::new()));
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = output.clone();
            std::thread::spawn(move || {
                let mut pipe = pipe;
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    output
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        Running { child, output }
    }

    fn wait_until(&self, what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done() {
            assert!(
                Instant::now() < deadline,
                "{what} never happened; kensa printed:\n{}",
                self.output.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Ctrl-C as a terminal sends it (to kensa; its children run in groups of their own).
    fn interrupt_and_wait(mut self) -> (Option<i32>, String) {
        // SAFETY: kill(2) on the pid of our own child.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGINT);
        }
        let status = crate::harness::wait(&mut self.child);
        let text = self.output.lock().unwrap().clone();
        (status.code(), text)
    }
}

#[test]
fn ctrl_c_during_a_step_stops_its_group_and_removes_the_project() {
    let fixture = Fixture::new();
    fixture.command("test", Some("echo $$ > \"$PGID_FILE\"; exec sleep 600"));
    let kensa = Running::spawn(fixture.command_line(&[]));
    let pgid_file = fixture.pgid_file();
    kensa.wait_until("the unit tests' start", || {
        std::fs::read_to_string(&pgid_file).is_ok_and(|t| t.ends_with('\n'))
    });
    let (code, text) = kensa.interrupt_and_wait();
    assert_eq!(code, Some(130), "{text}");
    assert!(text.contains("interrupted (Ctrl-C)"), "{text}");
    assert!(group_gone(fixture.pgid()), "the unit tests' group is gone");
    assert!(fixture.leftovers().is_empty(), "{:?}", fixture.leftovers());
}

#[test]
fn ctrl_c_while_the_service_runs_stops_its_group_and_removes_the_project() {
    let fixture = Fixture::new();
    fixture.command(
        "start",
        Some("echo $$ > \"$PGID_FILE\"; exec python3 provider.py serve"),
    );
    let kensa = Running::spawn(fixture.command_line(&[]));
    let output = kensa.output.clone();
    kensa.wait_until("the service's start", || {
        output.lock().unwrap().contains("Check start:")
    });
    let (code, text) = kensa.interrupt_and_wait();
    assert_eq!(code, Some(130), "{text}");
    assert!(
        group_gone(fixture.pgid()),
        "the service's group is gone:\n{text}"
    );
    assert!(fixture.leftovers().is_empty(), "{:?}", fixture.leftovers());
}

/// A service that ignores SIGTERM is killed after the grace period. Heroku would lose its
/// requests in flight at every restart: advice, which fails the verification (strict, as
/// `kensa test all --strict`) and says so.
#[test]
fn a_service_that_ignores_sigterm_is_killed_and_fails_the_strict_verification() {
    let fixture = Fixture::new();
    fixture.command(
        "start",
        Some(
            "echo $$ > \"$PGID_FILE\"; python3 provider.py serve & trap '' TERM; \
             while :; do sleep 1; done",
        ),
    );
    let out = fixture.verify(&["--stop-timeout", "1", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = json(&out);
    let (status, message) = status_of(&doc, "template.stop");
    assert_eq!(status, "fail", "advice, failed by strictness");
    assert_eq!(doc["summary"]["fail"], 1, "only the stop: {doc:#}");
    assert!(
        message.contains("still running 1 s after SIGTERM"),
        "{message}"
    );
    assert!(message.contains("SIGKILL"), "{message}");
    assert!(!group_alive(fixture.pgid()));
}

#[test]
fn a_bad_timeout_in_template_toml_is_an_input_error() {
    let fixture = Fixture::new();
    let toml = fixture.template().join("template.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, format!("{text}\n[timeouts]\ninstall = 0\n")).unwrap();
    let out = fixture.verify(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("timeouts.install"),
        "{}",
        stderr(&out)
    );
}

/// A start command that daemonises (`setsid`, a double fork) leaves the service outside its
/// process group: stopping the group left it running, serving from a removed directory,
/// and the verification passed. kensa finds it by the marker in its environment, stops it
/// and says why that is wrong.
#[test]
fn regression_a_daemon_that_left_its_process_group_outlived_the_verification() {
    let fixture = Fixture::new();
    fixture.command(
        "start",
        Some(
            "setsid sh -c 'echo $$ > \"$PGID_FILE\"; exec python3 provider.py serve' & \
             sleep 600",
        ),
    );
    let out = fixture.verify(&["--format", "json"]);
    let daemon = fixture.pgid();
    let gone = group_gone(daemon);
    if !gone {
        // SAFETY: kill(2) on the daemon this test's template started.
        unsafe { libc::kill(-daemon, libc::SIGKILL) };
    }
    assert!(gone, "the daemon outlived kensa templates verify");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = json(&out);
    let (status, message) = status_of(&doc, "template.stop");
    assert_eq!(status, "fail", "advice, failed by strictness: {message}");
    assert!(message.contains("left its process group"), "{message}");
    assert!(message.contains(&format!("pid {daemon}: ")), "{message}");
    assert!(message.contains("runs in the foreground"), "{message}");
    assert!(fixture.leftovers().is_empty());
}

/// A start command that puts the service in the background and exits: it fails at once,
/// saying a web process runs in the foreground, and what it started is stopped.
#[test]
fn a_start_command_that_backgrounds_the_service_fails_saying_it_must_stay_in_the_foreground() {
    let fixture = Fixture::new();
    fixture.command(
        "start",
        Some("echo $$ > \"$PGID_FILE\"; python3 provider.py serve >/dev/null 2>&1 &"),
    );
    let out = fixture.verify(&["--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = json(&out);
    let (status, message) = status_of(&doc, "template.start");
    assert_eq!(status, "fail", "{message}");
    assert!(message.contains("exited (exit status: 0)"), "{message}");
    assert!(message.contains("runs in the foreground"), "{message}");
    assert!(group_gone(fixture.pgid()));
    assert!(fixture.leftovers().is_empty());
}

/// `kensa templates verify` takes the git sources `kensa create` takes: a subdirectory of
/// a repository over file://, at a tag. The tag is what is verified: the branch has
/// moved on to a broken version since.
#[test]
fn a_git_source_at_a_tag_in_a_subdirectory_is_verified_at_that_tag() {
    use crate::harness::git::{commit_all, git};
    let fixture = Fixture::new();
    let home = fixture.home.path();
    let work = home.join("work");
    std::fs::create_dir_all(work.join("templates")).unwrap();
    std::fs::rename(fixture.template(), work.join("templates/py")).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    commit_all(&work, "v1");
    git(&work, &["tag", "v1"]);
    let provider = work.join("templates/py/provider.py.tera");
    let text = std::fs::read_to_string(&provider).unwrap();
    let broken = text.replacen("if not checks or not all(checks):", "if not checks:", 1);
    assert_ne!(text, broken);
    std::fs::write(&provider, broken).unwrap();
    commit_all(&work, "v2 accepts any SSO token");
    let bare = home.join("remote.git");
    git(
        home,
        &[
            "clone",
            "-q",
            "--bare",
            work.to_str().unwrap(),
            bare.to_str().unwrap(),
        ],
    );
    let url = format!("file://{}//templates/py", bare.display());
    let verify = |source: &str| {
        let mut cmd = kensa(home);
        cmd.env("TMPDIR", home.join("tmp"))
            .env("NO_COLOR", "1")
            .args(["templates", "verify", source])
            .stdin(Stdio::null());
        output(cmd)
    };

    let out = verify(&format!("{url}@v1"));
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    assert!(
        text.contains(&format!("Testing template {url}@v1 in ")),
        "{text}"
    );
    assert!(text.contains("Check good token logs in [PASS]"), "{text}");
    assert!(fixture.leftovers().is_empty(), "project and clone removed");

    let out = verify(&url);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "the branch is broken: {text}");
    assert!(
        text.contains("sso.wrong-token (wrong token gets 403)"),
        "{text}"
    );
    assert!(fixture.leftovers().is_empty(), "project and clone removed");
}
