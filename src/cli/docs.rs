//! `kensa completions` and `kensa man`: shell completions and man pages, generated from the
//! clap definition beside it (`cli/mod.rs`), so they can never disagree with what kensa accepts.

use std::collections::BTreeSet;
use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Arg, Command, CommandFactory};
use clap_mangen::roff::{bold, italic, roman, Inline, Roff};
use clap_mangen::Man;

use super::{Cli, CompletionsArgs, ManArgs};
use crate::error::UsageError;

/// `kensa completions <shell>`: the script on stdout.
pub fn completions(args: CompletionsArgs) -> Result<ExitCode> {
    let mut out = io::stdout().lock();
    out.write_all(&completion_script(args.shell))?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// `kensa man`: the page on stdout, or with `--dir` one page per command written there.
pub fn man(args: ManArgs) -> Result<ExitCode> {
    let Some(dir) = args.dir else {
        let mut out = io::stdout().lock();
        out.write_all(&man_page())?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    };
    let pages = man_pages();
    let existing: Vec<&str> = pages
        .iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| fs::symlink_metadata(dir.join(name)).is_ok())
        .collect();
    if !existing.is_empty() && !args.force {
        return Err(UsageError::new(format!(
            "{} already has {} of kensa's man pages ({}); replace them with --force",
            dir.display(),
            existing.len(),
            existing.join(", ")
        ))
        .into());
    }
    fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut out = io::stdout().lock();
    for (name, page) in &pages {
        let path: PathBuf = dir.join(name);
        crate::fsutil::write_atomic(&path, page, 0o644, args.force)
            .with_context(|| format!("cannot write {}", path.display()))?;
        writeln!(out, "{}", path.display())?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The completion script for `shell`.
pub fn completion_script(shell: clap_complete::Shell) -> Vec<u8> {
    let mut script = Vec::new();
    // Into memory first: clap_complete panics on a write error, such as a closed pipe.
    clap_complete::generate(shell, &mut Cli::command(), "kensa", &mut script);
    script
}

/// The command tree as the docs see it: built (globals propagated), no `help` subcommand.
fn command() -> Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// One page for kensa and every command: kensa(1).
pub fn man_page() -> Vec<u8> {
    let cmd = command();
    let man = Man::new(cmd.clone());
    let mut page = Page::default();
    page.add(|w| man.render_title(w));
    page.add(|w| man.render_name_section(w));
    page.add(|w| man.render_synopsis_section(w));
    page.roff(&description());
    page.add(|w| man.render_options_section(w));
    let mut commands = Roff::new();
    commands.control("SH", ["COMMANDS"]);
    let globals: BTreeSet<&str> = cmd.get_arguments().map(|a| a.get_id().as_str()).collect();
    for sub in visible(&cmd) {
        command_section(&mut commands, sub, &globals);
    }
    page.roff(&commands);
    let mut examples = Roff::new();
    examples.control("SH", ["EXAMPLES"]);
    examples_block(&mut examples, &cmd, false);
    page.roff(&examples);
    page.roff(&environment());
    page.add(|w| man.render_version_section(w));
    ascii(page.bytes)
}

/// One page per command (`kensa.1`, `kensa-test.1`, `kensa-test-provision.1`, …), as
/// `(file name, page)`.
pub fn man_pages() -> Vec<(String, Vec<u8>)> {
    fn walk(cmd: &Command, pages: &mut Vec<(String, Vec<u8>)>) {
        let man = Man::new(cmd.clone());
        let mut page = Vec::new();
        man.render(&mut page)
            .expect("writing to memory cannot fail");
        pages.push((man.get_filename(), ascii(page)));
        for sub in visible(cmd) {
            walk(sub, pages);
        }
    }
    let mut pages = Vec::new();
    walk(&command(), &mut pages);
    pages
}

/// Non-ASCII characters (`…` in help texts) as groff's `\[uXXXX]` escapes, which man,
/// groff without preconv and mandoc all read.
fn ascii(page: Vec<u8>) -> Vec<u8> {
    let text = String::from_utf8(page).expect("roff renders UTF-8");
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            out.push_str(&format!("\\[u{:04X}]", u32::from(c)));
        }
    }
    out.into_bytes()
}

fn visible(cmd: &Command) -> impl Iterator<Item = &Command> {
    cmd.get_subcommands().filter(|s| !s.is_hide_set())
}

/// Sections rendered one by one into one page, with roff's preamble only once.
#[derive(Default)]
struct Page {
    bytes: Vec<u8>,
}

impl Page {
    fn add(&mut self, render: impl FnOnce(&mut Vec<u8>) -> io::Result<()>) {
        let mut chunk = Vec::new();
        render(&mut chunk).expect("writing to memory cannot fail");
        // Every rendering starts with the same preamble (all an empty Roff renders).
        let preamble = Roff::new().render().into_bytes();
        if !self.bytes.is_empty() && chunk.starts_with(&preamble) {
            chunk.drain(..preamble.len());
        }
        self.bytes.extend_from_slice(&chunk);
    }

    fn roff(&mut self, roff: &Roff) {
        self.add(|w| roff.to_writer(w));
    }
}

fn description() -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["DESCRIPTION"]);
    roff.text([roman(
        "kensa is for people who build Heroku add-on provider services. It scaffolds a \
         provider service from embedded templates (kensa create, kensa init), makes the calls \
         Heroku makes (provision, plan change, deprovision, single sign-on) against your \
         running service and checks every answer (kensa test, kensa run, kensa sso), and \
         syncs the manifest with the add-ons service (kensa push, pull, diff).",
    )]);
    roff.control("PP", []);
    roff.text([roman(
        "It prompts only when a value is missing and stdin is a terminal; --no-input (or a \
         stdin that is not a terminal) uses flags and defaults and fails naming every missing \
         value.",
    )]);
    roff
}

/// `.SS kensa <cmd>`: what it does, its usage, its own options and its examples; then the
/// same for its subcommands.
fn command_section(roff: &mut Roff, cmd: &Command, inherited: &BTreeSet<&str>) {
    let name = cmd.get_bin_name().unwrap_or_else(|| cmd.get_name());
    roff.control("SS", [name]);
    if let Some(about) = cmd.get_long_about().or_else(|| cmd.get_about()) {
        roff.text([roman(about.to_string())]);
    }
    let usage = cmd.clone().render_usage().to_string();
    let usage = usage.trim().strip_prefix("Usage:").unwrap_or(&usage).trim();
    roff.control("PP", []);
    roff.text([bold("Usage: "), roman(usage)]);
    // Options this command inherits (global ones) are described where they are declared.
    let own: Vec<&Arg> = cmd
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .filter(|a| !["help", "version"].contains(&a.get_id().as_str()))
        .filter(|a| !(a.is_global_set() && inherited.contains(a.get_id().as_str())))
        .collect();
    for arg in &own {
        roff.control("TP", []);
        roff.text(arg_heading(arg));
        roff.text([roman(arg_help(arg))]);
    }
    examples_block(roff, cmd, true);
    let mut inherited = inherited.clone();
    inherited.extend(cmd.get_arguments().map(|a| a.get_id().as_str()));
    for sub in visible(cmd) {
        command_section(roff, sub, &inherited);
    }
}

/// `-t, --template <NAME|PATH>` or `<DIR>`.
fn arg_heading(arg: &Arg) -> Vec<Inline> {
    let values: Vec<String> = arg
        .get_value_names()
        .map(|names| names.iter().map(|n| format!("<{n}>")).collect())
        .unwrap_or_else(|| vec![format!("<{}>", arg.get_id().as_str().to_uppercase())]);
    let many = arg
        .get_num_args()
        .is_some_and(|n| n.max_values() > 1 || n.max_values() == usize::MAX);
    let values = values.join(" ") + if many { "..." } else { "" };
    if arg.is_positional() {
        return vec![italic(values)];
    }
    let mut parts = Vec::new();
    if let Some(short) = arg.get_short() {
        parts.push(bold(format!("-{short}")));
        parts.push(roman(", "));
    }
    if let Some(long) = arg.get_long() {
        parts.push(bold(format!("--{long}")));
    }
    if arg.get_action().takes_values() {
        parts.push(roman(" "));
        parts.push(italic(values));
    }
    parts
}

/// The help text with possible values, default and environment variable.
fn arg_help(arg: &Arg) -> String {
    let mut text = arg
        .get_long_help()
        .or_else(|| arg.get_help())
        .map(|h| h.to_string())
        .unwrap_or_default();
    if arg.get_action().takes_values() {
        let possible: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| v.get_name().to_owned())
            .collect();
        if !possible.is_empty() {
            text.push_str(&format!(" [possible values: {}]", possible.join(", ")));
        }
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        if !defaults.is_empty() {
            text.push_str(&format!(" [default: {}]", defaults.join(",")));
        }
    }
    if let Some(env) = arg.get_env() {
        text.push_str(&format!(" [env: {}]", env.to_string_lossy()));
    }
    text
}

/// The `Examples:` block of a command's `after_help`, kept as laid out (the `Examples:`
/// line only with `heading`).
fn examples_block(roff: &mut Roff, cmd: &Command, heading: bool) {
    let Some(after) = cmd.get_after_long_help().or_else(|| cmd.get_after_help()) else {
        return;
    };
    let text = after.to_string();
    roff.control("PP", []);
    roff.control("nf", []);
    for line in text.lines() {
        if line.trim() == "Examples:" {
            if heading {
                roff.text([bold(line)]);
            }
        } else {
            roff.text([roman(line)]);
        }
    }
    roff.control("fi", []);
}

fn environment() -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["ENVIRONMENT"]);
    let vars = [
        ("KENSA_MANIFEST", "Path of the add-on manifest (as -f/--filename)."),
        (
            "NO_COLOR",
            "When set, no colour (with --color auto); wins over CLICOLOR_FORCE.",
        ),
        (
            "CLICOLOR_FORCE",
            "When set (non-empty), colour even when the output is not a terminal (with --color auto).",
        ),
        (
            "HEROKU_API_KEY",
            "API key for push, pull and diff; else the api.heroku.com entry of ~/.netrc.",
        ),
        ("NETRC", "The netrc file to read instead of ~/.netrc."),
        (
            "KENSA_URL",
            "Base URL of the service under test, instead of api.test (as --url).",
        ),
        ("ADDONS_URL", "Base URL of the add-ons service (as --addons-url)."),
        (
            "HEROKU_ADDONS_HOST",
            "The add-ons service as Heroku's addons-admin plugin names it: its host is used when neither --addons-url nor ADDONS_URL is given.",
        ),
        (
            "HEROKU_CLIENT_SECRET",
            "The provider's OAuth client secret, checked by kensa's loopback Heroku; else from the .env beside the manifest.",
        ),
        ("BROWSER", "The browser kensa sso opens."),
    ];
    for (name, what) in vars {
        roff.control("TP", []);
        roff.text([bold(name)]);
        roff.text([roman(what)]);
    }
    roff.control("SH", ["EXIT STATUS"]);
    for (code, what) in [
        ("0", "Success: nothing failed."),
        ("1", "A check failed, or the action failed."),
        ("2", "Usage or input error: a bad flag, a missing value, an unreadable or malformed manifest."),
    ] {
        roff.control("TP", []);
        roff.text([bold(code)]);
        roff.text([roman(what)]);
    }
    roff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_every_command() {
        let page = String::from_utf8(man_page()).unwrap();
        assert_eq!(page.matches(".TH ").count(), 1, "{page}");
        for name in [
            "init",
            "create",
            "templates",
            "test",
            "run",
            "sso",
            "push",
            "pull",
        ] {
            assert!(
                page.contains(&format!(".SS \"kensa {name}\"")),
                "{name}:\n{page}"
            );
        }
        assert!(page.contains(".SS \"kensa test provision\""), "{page}");
    }

    #[test]
    fn one_page_per_command() {
        let names: Vec<String> = man_pages().into_iter().map(|(n, _)| n).collect();
        assert!(names.contains(&"kensa.1".to_owned()), "{names:?}");
        assert!(
            names.contains(&"kensa-test-provision.1".to_owned()),
            "{names:?}"
        );
        assert!(!names.iter().any(|n| n.contains("help")), "{names:?}");
    }

    #[test]
    fn pages_are_ascii() {
        assert!(man_page().is_ascii());
        assert!(man_pages().iter().all(|(_, page)| page.is_ascii()));
        assert_eq!(ascii("a…".as_bytes().to_vec()), b"a\\[u2026]");
    }
}
