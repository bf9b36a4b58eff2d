//! Help and completion list what applies (issue 15): each command and test step its own
//! options only, `-f` only where a manifest is read or written, and `--template`
//! completing to the embedded templates' names as well as directories.

use std::fs;
use std::process::Command;

use rexpect::session::{spawn_with_options, Options};

use crate::harness::{self, Test, TEMPLATES};

/// The long flags `kensa <args> --help` lists.
fn flags(args: &[&str]) -> Vec<String> {
    let out = Test::new().args(args).arg("--help").unchanged().run();
    let flag = regex::Regex::new(r"(?m)^\s+(?:-\w, )?(--[\w-]+)").unwrap();
    flag.captures_iter(&out.stdout)
        .map(|c| c[1].to_owned())
        .collect()
}

/// Issue 15: `kensa test sso --help` listed `--plan` and `--async`, which do nothing there;
/// every step now lists exactly the options it takes.
#[test]
fn regression_test_steps_listed_options_that_do_not_apply() {
    let report = ["--filename", "--format", "--strict"];
    let call = ["--production", "--url", "--timeout", "--verbose"];
    let lifecycle = [
        "--plan",
        "--async",
        "--async-timeout",
        "--token-ttl",
        "--inject-429",
    ];
    let cases: &[(&[&str], Vec<&str>)] = &[
        (&["test", "manifest"], report.to_vec()),
        (&["test", "sso"], [&report[..], &call, &["--uuid"]].concat()),
        (&["test", "planchange"], [&report[..], &call].concat()),
        (&["test", "deprovision"], [&report[..], &call].concat()),
        (
            &["test", "provision"],
            [&report[..], &call, &lifecycle, &["--redeliver"]].concat(),
        ),
        (
            &["test", "all"],
            [&report[..], &call, &lifecycle, &["--without-sso"]].concat(),
        ),
        (
            &["test"],
            [&report[..], &call, &lifecycle, &["--without-sso"]].concat(),
        ),
        (&["run"], [&report[..], &call, &lifecycle].concat()),
    ];
    for (args, expected) in cases {
        let mut got = flags(args);
        got.retain(|f| !["--help", "--version", "--color"].contains(&f.as_str()));
        got.sort();
        let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(got, want, "kensa {} --help", args.join(" "));
    }
}

/// Issue 15: `templates`, `completions` and `man` listed `-f/--filename`, a manifest they
/// never read; the commands that read or write one list it.
#[test]
fn regression_commands_without_a_manifest_listed_filename() {
    for command in ["templates", "completions", "man", "create"] {
        let listed = flags(&[command]);
        assert!(
            !listed.iter().any(|f| f == "--filename"),
            "kensa {command} --help lists --filename: {listed:?}"
        );
    }
    for command in ["init", "test", "run", "dev", "sso", "push", "pull", "diff"] {
        let listed = flags(&[command]);
        assert!(
            listed.iter().any(|f| f == "--filename"),
            "kensa {command} --help lacks --filename: {listed:?}"
        );
    }
    let top = flags(&[]);
    assert!(!top.iter().any(|f| f == "--filename"), "{top:?}");
}

/// `kensa test planchange --help` showed `<ID> [PLAN]...`, as if the id were required and
/// the plan optional; it is the other way round (`kensa test planchange premium` changes the
/// last resource's plan).
#[test]
fn regression_planchange_usage_showed_the_id_as_required() {
    let out = Test::new()
        .args(["test", "planchange", "--help"])
        .unchanged()
        .run();
    assert!(
        out.stdout
            .contains("Usage: kensa test planchange [OPTIONS] [ID] <PLAN>"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("<ID>"), "{}", out.stdout);
    Test::new()
        .args(["test", "planchange"])
        .unchanged()
        .status(2)
        .stderr_contains("<PLAN>")
        .run();
}

/// The completion script for bash, written into `dir`.
fn bash_script(dir: &std::path::Path) -> std::path::PathBuf {
    let out = Test::new().args(["completions", "bash"]).run();
    let script = dir.join("kensa.bash");
    fs::write(&script, &out.stdout).unwrap();
    script
}

/// Issue 15: bash completed `kensa create --template ` with file names. It offers the
/// embedded templates, and directories (a template can be a path), in a real interactive
/// bash pressing Tab.
#[test]
fn regression_template_completion_offered_file_names() {
    let dir = tempfile::tempdir().unwrap();
    let script = bash_script(dir.path());
    fs::create_dir(dir.path().join("my-templates")).unwrap();
    fs::write(dir.path().join("notes.txt"), "a file, not a template").unwrap();

    let mut cmd = Command::new("bash");
    harness::hermetic(&mut cmd, dir.path());
    cmd.args(["--norc", "--noprofile", "-i"])
        .env("TERM", "dumb")
        .env("PS1", "$ ")
        .env("INPUTRC", "/dev/null");
    let options = Options {
        timeout_ms: Some(harness::pty_timeout_ms()),
        strip_ansi_escape_codes: true,
    };
    let mut bash = spawn_with_options(cmd, options).expect("bash on a pty");
    bash.send_line(&format!(
        "bind 'set show-all-if-ambiguous on'; bind 'set page-completions off'; source {}; echo REA''DY",
        script.display()
    ))
    .unwrap();
    // Quoted in the command, so the terminal's echo of the typed line does not match:
    // only bash's output does, once it has read the line.
    bash.exp_string("READY").unwrap();
    // Keys typed before readline shows its prompt again would be read as plain input.
    bash.exp_string("$ ").unwrap();
    // Readline redraws nothing while keys are pending, so each step is typed on its own
    // and waited for: what the terminal shows until `until` appears.
    let typed = |bash: &mut rexpect::session::PtySession, keys: &str, until: &str| -> String {
        bash.send(keys).unwrap();
        bash.flush().unwrap();
        bash.exp_string(until)
            .unwrap_or_else(|e| panic!("after typing {keys:?}: {e}"))
    };
    // One Tab lists every candidate (show-all-if-ambiguous): the names, then directories.
    // Ctrl-U and an echo then mark the end of what the terminal showed.
    let mut listing = typed(&mut bash, "kensa create x --template \t", "my-templates/");
    listing += &typed(&mut bash, "\x15echo LI''STED\r", "LISTED");
    for wanted in TEMPLATES {
        assert!(
            listing.contains(wanted),
            "{wanted:?} not offered:\n{listing}"
        );
    }
    assert!(
        !listing.contains("notes.txt"),
        "a file offered as a template:\n{listing}"
    );
    // An interactive bash ignores the SIGTERM rexpect ends a session with: kill it.
    bash.process
        .kill(rexpect::process::Signal::SIGKILL)
        .unwrap();
}

/// The bash script's answer for `--template` without a terminal: a prefix narrows the
/// names, and directories are asked for (`compopt -o plusdirs`, which only a live
/// completion can apply: the interactive test above shows them).
#[test]
fn bash_completes_a_template_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let script = bash_script(dir.path());
    let program = format!(
        "compopt() {{ echo \"compopt $*\" >&2; }}; source {}; \
         COMP_WORDS=(kensa create x --template ru); COMP_CWORD=4; \
         COMP_LINE='kensa create x --template ru'; COMP_POINT=${{#COMP_LINE}}; \
         _kensa kensa ru --template; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display()
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "rust-axum\n");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("compopt -o plusdirs"),
        "{out:?}"
    );
}

/// The same candidates without a terminal: the script's own list for `--template`.
#[test]
fn template_names_are_in_every_completion_script() {
    let names = TEMPLATES.join(" ");
    let bash = Test::new().args(["completions", "bash"]).run().stdout;
    assert!(bash.contains(&format!("compgen -W \"{names}\"")), "{bash}");
    for shell in ["zsh", "fish"] {
        let script = Test::new().args(["completions", shell]).run().stdout;
        for name in TEMPLATES {
            assert!(script.contains(name), "{shell} lacks {name}");
        }
    }
}
