//! Ecosystem conventions: shell completions and man pages generated from the clap
//! definition, examples in every `--help`, colour that follows `--color`, `NO_COLOR` and
//! `CLICOLOR_FORCE` (and never leaks into a pipe), and a spinner on stderr for long waits
//! that only a terminal ever sees.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use clap::CommandFactory;
use rexpect::process::wait::WaitStatus;
use rexpect::session::{spawn_with_options, Options, PtySession};

use crate::harness::{self, Sim, Test};
use crate::stub::{Addon, Misbehaviour, Route};

/// Every command path of the clap definition, e.g. `["test", "provision"]`.
fn command_paths() -> Vec<Vec<String>> {
    fn walk(cmd: &clap::Command, prefix: &[String], out: &mut Vec<Vec<String>>) {
        for sub in cmd.get_subcommands() {
            let mut path = prefix.to_vec();
            path.push(sub.get_name().to_owned());
            out.push(path.clone());
            walk(sub, &path, out);
        }
    }
    let mut out = Vec::new();
    walk(&kensa::cli::Cli::command(), &[], &mut out);
    out
}

/// The top-level command names.
fn top_level() -> Vec<String> {
    command_paths()
        .into_iter()
        .filter(|p| p.len() == 1)
        .map(|p| p[0].clone())
        .collect()
}

fn has_ansi(text: &str) -> bool {
    text.contains("\x1b[")
}

/// SGR (colour and weight) sequences only, not cursor movement: `ESC [ … m`.
fn has_sgr(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(start) = text[i..].find("\x1b[") {
        let mut j = i + start + 2;
        while j < bytes.len() && (bytes[j].is_ascii_digit() || bytes[j] == b';') {
            j += 1;
        }
        if j < bytes.len() && bytes[j] == b'm' {
            return true;
        }
        i = j.min(bytes.len());
        if i >= bytes.len() {
            break;
        }
    }
    false
}

// ---------------------------------------------------------------------------------------
// Completions

#[test]
fn completions_for_every_shell_name_the_commands() {
    let commands = top_level();
    assert!(commands.len() >= 11, "{commands:?}");
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = Test::new().args(["completions", shell]).stderr("").run();
        assert!(out.stdout.len() > 1000, "{shell}: {}", out.stdout);
        assert!(!has_ansi(&out.stdout), "{shell}: escape codes in a script");
        for name in commands.iter().chain(
            ["provision", "planchange", "deprovision"]
                .map(str::to_owned)
                .iter(),
        ) {
            assert!(
                out.stdout.contains(name.as_str()),
                "{shell} completion lacks {name}"
            );
        }
        // Flags too, not only command names (fish spells `-l template`).
        for word in ["template", "async-timeout", "redeliver", "no-input"] {
            assert!(out.stdout.contains(word), "{shell} completion lacks {word}");
        }
    }
}

#[test]
fn zsh_and_fish_completions_describe_the_commands() {
    let zsh = Test::new().args(["completions", "zsh"]).run().stdout;
    assert!(zsh.starts_with("#compdef kensa"), "{zsh}");
    let fish = Test::new().args(["completions", "fish"]).run().stdout;
    for name in ["create", "test", "run", "templates", "sso", "man"] {
        assert!(
            fish.contains(&format!("-a \"{name}\"")),
            "fish lacks {name}"
        );
    }
    assert!(fish.contains("Create a provider service project from a template"));
}

/// bash must parse the script, and completing `kensa te` must offer `templates` and `test`.
#[test]
fn bash_completion_parses_and_completes() {
    let out = Test::new().args(["completions", "bash"]).run();
    let script = out.path("kensa.bash");
    fs::write(&script, &out.stdout).unwrap();
    let status = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .status()
        .expect("bash is needed for this test (it is on every CI image)");
    assert!(status.success(), "bash -n rejects the completion script");

    let complete = |words: &str, cword: usize| {
        let program = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD={cword}; COMP_LINE='{words}'; \
             COMP_POINT=${{#COMP_LINE}}; _kensa kensa \"${{COMP_WORDS[$COMP_CWORD]}}\" \
             \"${{COMP_WORDS[$COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display()
        );
        let output = Command::new("bash")
            .args(["--norc", "--noprofile", "-c", &program])
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect::<BTreeSet<_>>()
    };
    let offered = complete("kensa te", 1);
    assert!(
        offered.contains("templates") && offered.contains("test"),
        "{offered:?}"
    );
    let offered = complete("kensa test p", 2);
    assert!(
        offered.contains("provision") && offered.contains("planchange"),
        "{offered:?}"
    );
    let offered = complete("kensa completions ''", 2);
    assert!(offered.contains("fish"), "{offered:?}");
}

// ---------------------------------------------------------------------------------------
// Man pages

#[test]
fn man_page_is_roff_with_every_command() {
    let out = Test::new().arg("man").stderr("").unchanged().run();
    let page = &out.stdout;
    assert!(page.is_ascii(), "non-ASCII in the page");
    assert_eq!(page.matches("\n.TH ").count(), 1, "one page:\n{page}");
    assert!(page.contains("\n.TH kensa 1 "), "{page}");
    for section in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "COMMANDS",
        "EXAMPLES",
        "ENVIRONMENT",
        "\"EXIT STATUS\"",
    ] {
        assert!(
            page.contains(&format!("\n.SH {section}\n")),
            "no {section}:\n{page}"
        );
    }
    for path in command_paths() {
        let heading = format!("\n.SS \"kensa {}\"\n", path.join(" "));
        assert!(page.contains(&heading), "no {heading:?}");
    }
    // Options of subcommands and their examples are on the page.
    for text in [
        "\\fB\\-\\-template\\fR",
        "\\fB\\-\\-async\\-timeout\\fR",
        "\\fB\\-\\-redeliver\\fR",
        "kensa completions fish",
        "NO_COLOR",
        "CLICOLOR_FORCE",
    ] {
        assert!(page.contains(text), "no {text:?} on the page");
    }
    assert!(!has_ansi(page));

    // Render it when groff is there; say so when it is not (the roff checks above stand).
    match Command::new("groff").arg("-v").output() {
        Ok(_) => {
            let file = out.path("kensa.1");
            fs::write(&file, page).unwrap();
            let rendered = Command::new("groff")
                .args(["-man", "-Tutf8", "-ww"])
                .arg(&file)
                .env("GROFF_NO_SGR", "1")
                .output()
                .unwrap();
            let warnings = String::from_utf8_lossy(&rendered.stderr);
            assert!(
                rendered.status.success() && warnings.is_empty(),
                "groff: {warnings}"
            );
            let text = String::from_utf8_lossy(&rendered.stdout).replace(['\u{2010}'], "-");
            let text = strip_overstrike(&text);
            for heading in ["NAME", "COMMANDS", "kensa test provision", "EXIT STATUS"] {
                assert!(
                    text.contains(heading),
                    "groff output lacks {heading}:\n{text}"
                );
            }
        }
        Err(_) => {
            eprintln!("note: groff is not installed; the man page was checked as roff text only")
        }
    }
}

/// groff's overstrike bold (`X\bX`) and underline (`_\bX`) back to plain text.
fn strip_overstrike(text: &str) -> String {
    let mut out: Vec<char> = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{8}' {
            out.pop();
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out.into_iter().collect()
}

#[test]
fn man_dir_writes_one_page_per_command_and_replaces_only_with_force() {
    let paths = command_paths();
    let out = Test::new()
        .args(["man", "--dir", "man"])
        .changes(["man"])
        .run();
    let mut expected: Vec<String> = paths
        .iter()
        .map(|p| format!("kensa-{}.1", p.join("-")))
        .collect();
    expected.push("kensa.1".into());
    expected.sort();
    assert_eq!(out.files("man"), expected);
    for name in &expected {
        let page = out.read(format!("man/{name}"));
        let title = name.trim_end_matches(".1");
        assert!(
            page.contains(&format!("\n.TH {title} 1 ")),
            "{name}:\n{page}"
        );
        assert!(page.is_ascii(), "{name}");
        assert_eq!(out.mode(format!("man/{name}")), 0o644, "{name}");
    }
    assert!(
        out.stdout.lines().count() == expected.len(),
        "{}",
        out.stdout
    );
    let provision = out.read("man/kensa-test-provision.1");
    assert!(provision.contains("redeliver"), "{provision}");

    // A second run would replace them: only with --force.
    let out = out
        .then()
        .args(["man", "--dir", "man"])
        .status(2)
        .stderr_contains("--force")
        .stderr_contains("kensa-test.1")
        .unchanged()
        .run();
    out.then().args(["man", "--dir", "man", "--force"]).run();
}

// ---------------------------------------------------------------------------------------
// Help

#[test]
fn every_help_shows_examples() {
    let mut paths = command_paths();
    paths.push(Vec::new());
    for path in paths {
        let out = Test::new().args(&path).arg("--help").run();
        assert!(
            out.stdout.contains("\nExamples:\n  "),
            "kensa {} --help has no examples:\n{}",
            path.join(" "),
            out.stdout
        );
    }
}

// ---------------------------------------------------------------------------------------
// Colour

/// A command whose output is styled when colour is on, and the stream the style goes to.
struct Case {
    name: &'static str,
    args: &'static [&'static str],
    status: i32,
    stderr: bool,
}

const CASES: &[Case] = &[
    Case {
        name: "templates",
        args: &["templates"],
        status: 0,
        stderr: false,
    },
    Case {
        name: "human test report",
        args: &["test", "manifest"],
        status: 0,
        stderr: false,
    },
    Case {
        name: "create",
        args: &["create", "my-addon", "--template", "node", "--no-input"],
        status: 0,
        stderr: false,
    },
    Case {
        name: "error on stderr",
        args: &["test", "-f", "missing.json"],
        status: 2,
        stderr: true,
    },
    Case {
        name: "clap usage error",
        args: &["bogus"],
        status: 2,
        stderr: true,
    },
    Case {
        name: "clap help",
        args: &["test", "--help"],
        status: 0,
        stderr: false,
    },
];

/// A way to run kensa: `--color` (where given), the environment, and whether escape codes
/// must appear although the output is a pipe.
struct Mode {
    name: &'static str,
    color: Option<&'static str>,
    env: &'static [(&'static str, &'static str)],
    escapes: bool,
}

const fn mode(
    name: &'static str,
    color: Option<&'static str>,
    env: &'static [(&'static str, &'static str)],
    escapes: bool,
) -> Mode {
    Mode {
        name,
        color,
        env,
        escapes,
    }
}

const NO_COLOR: (&str, &str) = ("NO_COLOR", "1");
const FORCE: (&str, &str) = ("CLICOLOR_FORCE", "1");

const MODES: &[Mode] = &[
    mode("piped default", None, &[], false),
    mode("--color always", Some("always"), &[], true),
    mode(
        "--color always beats NO_COLOR",
        Some("always"),
        &[NO_COLOR],
        true,
    ),
    mode("--color never", Some("never"), &[], false),
    mode(
        "--color never beats CLICOLOR_FORCE",
        Some("never"),
        &[FORCE],
        false,
    ),
    mode("NO_COLOR", None, &[NO_COLOR], false),
    mode("CLICOLOR_FORCE", None, &[FORCE], true),
    mode(
        "NO_COLOR beats CLICOLOR_FORCE",
        None,
        &[NO_COLOR, FORCE],
        false,
    ),
];

#[test]
fn colour_follows_the_flag_and_the_environment_never_a_pipe() {
    let manifest = serde_json::to_string_pretty(&Addon::v3().manifest(5000)).unwrap();
    for case in CASES {
        for mode in MODES {
            let mut test = Test::new()
                .write("addon-manifest.json", &manifest)
                .status(case.status);
            if let Some(color) = mode.color {
                test = test.arg(format!("--color={color}"));
            }
            for (key, value) in mode.env {
                test = test.env(key, value);
            }
            let out = test.args(case.args).run();
            let (stream, other) = if case.stderr {
                (&out.stderr, &out.stdout)
            } else {
                (&out.stdout, &out.stderr)
            };
            let what = format!("{} ({})", case.name, mode.name);
            assert!(!stream.is_empty(), "{what} printed nothing");
            assert_eq!(
                has_ansi(stream),
                mode.escapes,
                "{what}: escape codes {}expected in:\n{stream}",
                if mode.escapes { "" } else { "not " }
            );
            if !mode.escapes {
                assert!(!has_ansi(other), "{what}: {other}");
            }
        }
    }
}

/// `--color` after the subcommand works as well, for clap's own output too.
#[test]
fn color_flag_after_the_subcommand() {
    let out = Test::new().args(["templates", "--color", "always"]).run();
    assert!(has_ansi(&out.stdout));
    let out = Test::new()
        .args(["templates", "--help", "--color=always"])
        .run();
    assert!(has_ansi(&out.stdout));
    let out = Test::new()
        .args(["templates", "--no-such-flag", "--color", "always"])
        .status(2)
        .run();
    assert!(has_ansi(&out.stderr));
}

// ---------------------------------------------------------------------------------------
// On a terminal (a pseudo-terminal, through rexpect)

fn pty(dir: &Path, args: &[&str], env: &[(&str, &str)], strip: bool) -> PtySession {
    let mut cmd = harness::kensa(dir);
    cmd.args(args).env("TERM", "xterm");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let options = Options {
        timeout_ms: Some(harness::pty_timeout_ms()),
        strip_ansi_escape_codes: strip,
    };
    spawn_with_options(cmd, options).expect("spawn kensa on a pty")
}

/// Everything up to the end of output, and the exit code.
fn finish(mut session: PtySession, what: &str) -> (String, i32) {
    let rest = session
        .exp_eof()
        .unwrap_or_else(|e| panic!("{what}: waiting for the end: {e}"));
    match session.process.wait().unwrap() {
        WaitStatus::Exited(_, code) => (rest, code),
        other => panic!("{what}: kensa did not exit normally: {other:?}"),
    }
}

#[test]
fn on_a_terminal_colour_is_on_unless_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    for (what, args, env, escapes) in [
        ("default", &["templates"][..], &[][..], true),
        ("NO_COLOR", &["templates"], &[("NO_COLOR", "1")], false),
        (
            "--color never",
            &["--color", "never", "templates"],
            &[],
            false,
        ),
        ("TERM=dumb", &["templates"], &[("TERM", "dumb")], false),
        ("clap help", &["templates", "--help"], &[], true),
        (
            "clap help, NO_COLOR",
            &["templates", "--help"],
            &[("NO_COLOR", "1")],
            false,
        ),
    ] {
        let session = pty(dir.path(), args, env, false);
        let (text, code) = finish(session, what);
        assert_eq!(code, 0, "{what}: {text}");
        assert!(
            text.contains("sinatra") || text.contains("Usage"),
            "{what}: {text}"
        );
        assert_eq!(has_sgr(&text), escapes, "{what}: {text:?}");
    }
}

/// dialoguer's prompts (console's colours) follow `--color` and `NO_COLOR` too.
#[test]
fn wizard_prompts_follow_the_colour_choice() {
    for (what, args, env, escapes) in [
        ("default", &["init"][..], &[][..], true),
        ("--color never", &["--color", "never", "init"], &[], false),
        ("NO_COLOR", &["init"], &[("NO_COLOR", "1")], false),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut session = pty(dir.path(), args, env, false);
        let shown = session
            .exp_string("(slug)")
            .unwrap_or_else(|e| panic!("{what}: no prompt: {e}"));
        assert_eq!(has_sgr(&shown), escapes, "{what}: {shown:?}");
        // Ctrl-C: the wizard stops and writes nothing.
        session.send_control('c').unwrap();
        let _ = session.exp_eof();
        assert!(!dir.path().join("addon-manifest.json").exists(), "{what}");
    }
}

/// The terminal as a person sees it: per line, what follows the last carriage return,
/// without escape codes.
fn visible_lines(raw: &str) -> Vec<String> {
    raw.split('\n')
        .map(|line| {
            let tail = line.rsplit('\r').find(|t| !t.is_empty()).unwrap_or("");
            strip_ansi(tail)
        })
        .collect()
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The report lines around a spinner are intact: each check line stands alone.
fn assert_report_intact(raw: &str, spinner: &str) {
    let lines = visible_lines(raw);
    let checks: Vec<&String> = lines.iter().filter(|l| l.contains("Check ")).collect();
    assert!(!checks.is_empty(), "no check lines:\n{raw:?}");
    for line in checks {
        assert!(
            line.starts_with("  Check ") && !line.contains(spinner),
            "garbled line {line:?} in\n{raw:?}"
        );
    }
}

#[test]
fn a_slow_provider_gets_a_spinner_on_a_terminal() {
    let sim = Sim::new(Addon::v1());
    sim.stub
        .misbehave(Misbehaviour::Slow(Route::Provision, Duration::from_secs(2)));
    let mut session = pty(sim.path(), &["test", "provision"], &[], false);
    let spinner = "waiting for the answer to POST";
    let before = session
        .exp_string(spinner)
        .unwrap_or_else(|e| panic!("no spinner while the provider is slow: {e}"));
    let (after, code) = finish(session, "slow provider");
    let raw = format!("{before}{spinner}{after}");
    assert_eq!(code, 0, "{raw:?}");
    assert!(
        strip_ansi(&raw).contains(&format!("{spinner} {}/heroku/resources", sim.stub.url())),
        "{raw:?}"
    );
    assert_report_intact(&raw, spinner);
}

#[test]
fn waiting_for_async_callbacks_gets_a_spinner_on_a_terminal() {
    let sim = Sim::new(Addon::v3());
    sim.stub.misbehave(Misbehaviour::Provision202);
    let mut session = pty(
        sim.path(),
        &["test", "provision", "--async-timeout", "2"],
        &[],
        false,
    );
    let spinner = "waiting up to 2 s for the provider's provisioning callbacks";
    let before = session
        .exp_string(spinner)
        .unwrap_or_else(|e| panic!("no spinner while waiting for callbacks: {e}"));
    let (after, code) = finish(session, "async callbacks");
    let raw = format!("{before}{spinner}{after}");
    assert_eq!(code, 1, "the callbacks never came: {raw:?}");
    assert_report_intact(&raw, spinner);
}

#[test]
fn no_spinner_when_stderr_is_not_a_terminal() {
    let sim = Sim::new(Addon::v1());
    sim.stub
        .misbehave(Misbehaviour::Slow(Route::Provision, Duration::from_secs(2)));
    let human = sim.kensa(&["test", "provision"]);
    human.status(0);
    assert!(!human.stderr.contains("waiting"), "{human}");
    assert!(
        !human.stderr.contains('\r') && !has_ansi(&human.stderr),
        "{human}"
    );
    assert!(!has_ansi(&human.stdout), "{human}");

    let sim = Sim::new(Addon::v3());
    sim.stub.misbehave(Misbehaviour::Provision202);
    let run = sim.json(&["test", "provision", "--async-timeout", "2"]);
    assert!(!run.outcome.stderr.contains("waiting"), "{}", run.outcome);
    assert!(!run.outcome.stderr.contains('\r'), "{}", run.outcome);
}
