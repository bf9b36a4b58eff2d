//! kensa: scaffold, test and ship Heroku add-on provider services.
//!
//! The binary is a thin shell over [`main_with_args`]: [`cli`] parses the command line into
//! each command's own options, and [`run`] hands them to the module that does the work.
//!
//! Layers, each depending only on those before it:
//! - shared plumbing: [`error`], [`fsutil`], [`redact`] (masking every secret in every
//!   output), [`output`], [`progress`], [`interrupt`], [`budget`] (memory and time bounds
//!   for untrusted work), [`process`] (the provider's processes, in process groups),
//!   [`prompt`], [`tls`] (the trust store), [`http`], [`browser`], [`secrets`], [`serve`]
//!   (every server kensa runs), [`slug`], [`state`] (what kensa remembers in `.kensa/`
//!   beside the manifest), [`verdict`], [`registry`] (every check kensa can report),
//!   [`manifest`] (with its `.env`), [`sso`] (the SSO request shape);
//! - features: [`scaffold`] (`init`, `create`, `templates`), [`check`] (`test`, `run`),
//!   [`platform`] (`push`, `pull`, `diff`), [`signin`] (`kensa sso`), [`explain`]
//!   (`kensa explain`, the registry for people). Features never
//!   depend on each other (`tests/cli/architecture.rs` keeps it so);
//! - composites, which compose features: [`dev`] (`kensa dev`: the simulator and the
//!   sign-in page) and [`verify`] (`kensa templates verify`: scaffold and the simulator);
//! - [`cli`], which knows every feature's options and nothing else knows it.

pub mod browser;
pub mod budget;
pub mod check;
pub mod cli;
pub mod dev;
pub mod error;
pub mod explain;
pub mod fsutil;
pub mod http;
pub mod interrupt;
pub mod manifest;
pub mod output;
pub mod platform;
pub mod process;
pub mod progress;
pub mod prompt;
pub mod redact;
pub mod registry;
pub mod scaffold;
pub mod secrets;
pub mod serve;
pub mod signin;
pub mod slug;
pub mod sso;
pub mod state;
pub mod tls;
pub mod verdict;
pub mod verify;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

pub use error::UsageError;

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
    let report_format = cli::report_format_from_args(&args);
    let manifest = report_format.and_then(|_| cli::manifest_from_args(&args));
    let cli = match cli::Cli::try_parse_from(cli::provision_options_last(args)) {
        Ok(cli) => cli,
        Err(err) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let code = err.exit_code() as u8;
            if code == 2 {
                report_usage_error(
                    report_format,
                    err.render().to_string().trim(),
                    manifest.as_deref(),
                );
            }
            let _ = err.print();
            return ExitCode::from(code);
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
            let code = exit_code_for(&err);
            if code == 2 {
                report_usage_error(
                    report_format,
                    &output::error_line(&err),
                    manifest.as_deref(),
                );
            }
            output::print_error(&err);
            ExitCode::from(code)
        }
    }
}

/// A machine-readable report still gets a valid document when the run ends in a usage or
/// input error (exit status 2), so the report file CI reads says what went wrong.
fn report_usage_error(
    format: Option<check::report::Format>,
    message: &str,
    manifest: Option<&str>,
) {
    use check::report::{json, junit, Format};
    use std::io::Write;
    let bytes = match format {
        Some(Format::Json) => {
            let doc = json::error_document(message, manifest);
            serde_json::to_vec_pretty(&doc)
                .map(|mut b| {
                    b.push(b'\n');
                    b
                })
                .ok()
        }
        Some(Format::Junit) => junit::render_error(message).ok(),
        _ => None,
    };
    if let Some(bytes) = bytes {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&bytes).and_then(|()| out.flush());
    }
}

/// Runs one parsed command line.
pub fn run(cli: cli::Cli) -> anyhow::Result<ExitCode> {
    use cli::Command;
    let before_command = cli.filename;
    let given = |own: Option<PathBuf>| cli::manifest_given(own, before_command.clone());
    // The manifest a command reads: given, or found from the current directory upwards.
    let find = |own: Option<PathBuf>| manifest::locate(given(own).as_deref());
    if before_command.is_some() && !cli.command.takes_manifest() {
        return Err(UsageError(format!(
            "-f/--filename names a manifest, and `kensa {}` reads none",
            cli.command.name()
        ))
        .into());
    }
    match cli.command {
        Command::Init(args) => {
            let path = given(args.filename.clone())
                .unwrap_or_else(|| PathBuf::from(manifest::DEFAULT_FILE));
            scaffold::init::run(&path, args.into())
        }
        Command::Create(args) => scaffold::create::run(args.into()),
        Command::Update(args) => scaffold::update::run(args.into()),
        Command::Templates(args) => match args.action {
            Some(cli::TemplatesCommand::Verify(verify)) => verify::run(verify.into()),
            None => scaffold::list::run(args.json),
        },
        Command::Test(args) => {
            let (step, opts, own) = args.session()?;
            check::suite::test(given(own).as_deref(), step, &opts)
        }
        Command::Run(args) => {
            let opts = args.options();
            let own = given(args.report.manifest.filename);
            check::suite::run(own.as_deref(), &opts, &args.command)
        }
        Command::Sso(args) => {
            let path = find(args.manifest.filename.clone())?;
            signin::run(&path, args.into())
        }
        Command::Push(args) => {
            platform::push(&find(args.manifest.filename)?, &(&args.platform).into())
        }
        Command::Pull(args) => {
            // Pull replaces the project's manifest when there is one, else writes one here.
            let path = match given(args.filename.clone()) {
                Some(path) => path,
                None => std::env::current_dir()
                    .ok()
                    .and_then(|here| manifest::search_upwards(&here).ok())
                    .filter(|found| !found.legacy)
                    .map_or_else(|| PathBuf::from(manifest::DEFAULT_FILE), |f| f.path),
            };
            platform::pull(&path, (&args).into(), &(&args.platform).into())
        }
        Command::Diff(args) => {
            platform::diff(&find(args.manifest.filename)?, &(&args.platform).into())
        }
        Command::Dev(args) => {
            let path = find(args.manifest.filename.clone())?;
            dev::run(&path, args.into())
        }
        Command::Explain(args) => explain::run(explain::Options {
            id: args.id,
            json: args.json,
        }),
        Command::Completions(args) => cli::docs::completions(args),
        Command::Man(args) => cli::docs::man(args),
    }
}

/// 130 when a signal stopped the command, 2 when anything in the chain is a usage or
/// input error, else 1. It lives here, at the root, because it must know the error types
/// of every feature.
pub fn exit_code_for(err: &anyhow::Error) -> u8 {
    if err
        .chain()
        .any(|cause| cause.is::<interrupt::Interrupted>())
    {
        return interrupt::EXIT_CODE;
    }
    let usage = err.chain().any(|cause| {
        cause.is::<UsageError>()
            || cause.is::<manifest::ManifestError>()
            || matches!(
                cause.downcast_ref::<state::StateError>(),
                Some(state::StateError::Parse { .. })
            )
            || cause
                .downcast_ref::<scaffold::ScaffoldError>()
                .is_some_and(scaffold::ScaffoldError::is_usage)
    });
    if usage {
        2
    } else {
        1
    }
}
