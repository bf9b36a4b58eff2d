//! kensa: scaffold, test and ship Heroku add-on provider services.
//!
//! The binary is a thin shell over [`run`]; integration tests drive the binary, unit tests
//! live next to the code they test.

pub mod check;
pub mod cli;
pub mod docs;
pub mod error;
pub mod fsutil;
pub mod manifest;
pub mod output;
pub mod platform;
pub mod progress;
pub mod scaffold;
pub mod secrets;
pub mod slug;
pub mod sso;
pub mod sso_open;
pub mod verdict;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

pub use error::{exit_code_for, UsageError};

/// Parses `args`, runs the command and turns any error into a message and an exit code.
pub fn main_with_args<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    // Before parsing, so clap's help and usage errors follow `--color` too.
    cli::ColorWhen::from_args(&args)
        .unwrap_or(cli::ColorWhen::Auto)
        .apply();
    let cli = match cli::Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = err.print();
            return ExitCode::from(err.exit_code() as u8);
        }
    };
    cli.color.apply();
    progress::enable();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            if error::is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            output::print_error(&err);
            ExitCode::from(exit_code_for(&err))
        }
    }
}

/// Runs one parsed command line.
pub fn run(cli: cli::Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        cli::Command::Init(args) => scaffold::init::run(&cli.filename, args),
        cli::Command::Create(args) => scaffold::create::run(args),
        cli::Command::Templates(args) => scaffold::list::run(args),
        cli::Command::Test(args) => check::suite::test(&cli.filename, args),
        cli::Command::Run(args) => check::suite::run(&cli.filename, args),
        cli::Command::Sso(args) => sso_open::run(&cli.filename, args),
        cli::Command::Push(args) => platform::push(&cli.filename, args),
        cli::Command::Pull(args) => platform::pull(&cli.filename, args),
        cli::Command::Diff(args) => platform::diff(&cli.filename, args),
        cli::Command::Completions(args) => docs::completions(args),
        cli::Command::Man(args) => docs::man(args),
    }
}
