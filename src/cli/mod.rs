//! The command line, as clap derive types, and their translation into the options each
//! command's module takes. Parsing only: no I/O happens here. The domain never sees these
//! types: it defines its own, and this module builds them.

pub mod docs;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::PossibleValue;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::check::report::Format;
use crate::check::suite;
use crate::manifest::{self, SsoMethod};
use crate::platform::{self, api::Connection};
use crate::scaffold::{create, init, inputs::AddonOptions};
use crate::signin;

const EXAMPLES: &str = "\
Examples:
  kensa create my-addon --template node      scaffold a provider service
  kensa init --id my-addon --regions us,eu   write addon-manifest.json here
  kensa templates                            list the embedded templates
  kensa test all                             check your running service
  kensa run -- npm test                      provision, run, deprovision
  kensa sso 42                               open a signed-in session in the browser
  kensa pull my-addon / push / diff          sync the manifest with the add-ons service
  kensa completions bash                     shell completions (also zsh, fish, …)
  kensa man | man -l -                       read this manual as a man page";

#[derive(Debug, Parser)]
#[command(
    name = "kensa",
    version,
    about = "Scaffold, test and ship Heroku add-on provider services",
    after_help = EXAMPLES,
    propagate_version = true
)]
pub struct Cli {
    /// Path of the add-on manifest
    #[arg(
        short = 'f',
        long = "filename",
        global = true,
        value_name = "PATH",
        default_value = manifest::DEFAULT_FILE,
        env = "KENSA_MANIFEST"
    )]
    pub filename: PathBuf,

    /// When to use colour (NO_COLOR and CLICOLOR_FORCE are honoured with `auto`)
    #[arg(long, global = true, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write an add-on manifest (addon-manifest.json) with fresh secrets
    #[command(after_help = "\
Examples:
  kensa init                                   prompts on a terminal, defaults otherwise
  kensa init --id my-addon --regions us,eu --no-input
  kensa init --sso get --foreman               legacy GET SSO, port 5000 and a .env
  kensa init -f config/manifest.json --force   replace an existing manifest")]
    Init(InitArgs),

    /// Create a provider service project from a template
    #[command(after_help = "\
Examples:
  kensa create my-addon --template node --no-input
  kensa create my-addon --template sinatra --id my-addon --regions us,eu
  kensa create my-addon --template ./my-templates/go --set go_version=1.23
  kensa create my-addon --template rust-axum --dry-run
  kensa create                                 the wizard asks for everything")]
    Create(CreateArgs),

    /// List the templates embedded in kensa
    #[command(after_help = "\
Examples:
  kensa templates
  kensa templates --json | jq -r '.[].name'")]
    Templates(TemplatesArgs),

    /// Make Heroku's calls against your service and check every answer
    #[command(after_help = "\
Examples:
  kensa test                                   same as `kensa test all`
  kensa test manifest
  kensa test provision --plan premium --region-size large --fast
  kensa test provision --plan async --async-timeout 30
  kensa test provision --redeliver 5
  kensa test planchange 42 premium
  kensa test sso 42 --uuid 01234567-89ab-cdef-0123-456789abcdef
  kensa test deprovision 42
  kensa test all --format junit > kensa.xml
  kensa test all --production --timeout 10")]
    Test(TestArgs),

    /// Provision, run a command with the add-on's config vars, change plan, deprovision
    #[command(after_help = "\
Examples:
  kensa run -- sh -c 'echo $MY_ADDON_URL'
  kensa run --plan premium -- ./bin/smoke-test")]
    Run(RunArgs),

    /// Open a single sign-on session in your browser, as Heroku would
    #[command(after_help = "\
Examples:
  kensa sso 42                                 open the test sso_url (or GET URL) signed in
  kensa sso                                    the last resource kensa provisioned
  kensa sso 42 --no-browser                    only print the URL or the local page address
  kensa sso 42 --uuid 3f0c2f6e-9b1f-4d8e-a2c1-7f5e9a0b1c2d --email me@example.com
  kensa sso 42 --production --app my-real-app")]
    Sso(SsoArgs),

    /// Send the local manifest to the add-ons service (validated first)
    #[command(after_help = "\
Examples:
  HEROKU_API_KEY=$(heroku auth:token) kensa push
  kensa push -f config/addon-manifest.json
  kensa push --addons-url http://localhost:3000 --verbose")]
    Push(PushArgs),

    /// Fetch an add-on's current manifest from the add-ons service
    #[command(after_help = "\
Examples:
  kensa pull my-addon                          write addon-manifest.json (never over one)
  kensa pull my-addon --force                  replace the local manifest
  kensa pull my-addon -f remote.json")]
    Pull(PullArgs),

    /// Show how the local manifest differs from the add-ons service's current one
    #[command(after_help = "\
Examples:
  kensa diff                                   exit 0 when equal, 1 when different
  kensa diff --color always | less -R
  kensa diff -f config/addon-manifest.json")]
    Diff(DiffArgs),

    /// Print a shell completion script to stdout
    #[command(after_help = "\
Examples:
  kensa completions bash > ~/.local/share/bash-completion/completions/kensa
  kensa completions zsh > ~/.zfunc/_kensa      with fpath=(~/.zfunc $fpath) in ~/.zshrc
  kensa completions fish > ~/.config/fish/completions/kensa.fish
  kensa completions powershell >> $PROFILE
  kensa completions elvish >> ~/.config/elvish/rc.elv")]
    Completions(CompletionsArgs),

    /// Print the man page (roff) to stdout, or write one page per command with --dir
    #[command(after_help = "\
Examples:
  kensa man | man -l -                         read it now
  kensa man > ~/.local/share/man/man1/kensa.1  install it for `man kensa`
  kensa man --dir target/man                   kensa.1, kensa-test.1, kensa-test-provision.1, …
  kensa man --dir target/man --force           replace pages written before")]
    Man(ManArgs),
}

#[derive(Debug, Clone, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// Write one page per command (kensa.1, kensa-init.1, …) into this directory
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// With --dir: replace pages that already exist
    #[arg(long, requires = "dir")]
    pub force: bool,
}

#[derive(Debug, Clone, Args)]
pub struct SsoArgs {
    /// The provider's resource id (default: the last resource kensa provisioned)
    pub id: Option<String>,

    /// Use the production URLs instead of the test URLs
    #[arg(long)]
    pub production: bool,

    /// Only print the URL (GET) or the address of the local page (POST); open nothing
    #[arg(long)]
    pub no_browser: bool,

    /// Email of the signing-in user
    #[arg(long, value_name = "EMAIL")]
    pub email: Option<String>,

    /// Heroku user id of the signing-in user (default: a random uuid)
    #[arg(long, value_name = "ID")]
    pub user_id: Option<String>,

    /// Name of the app the user comes from
    #[arg(long, value_name = "APP")]
    pub app: Option<String>,

    /// Heroku's uuid of the resource: adds the v3 resource tokens
    #[arg(long, value_name = "UUID")]
    pub uuid: Option<String>,

    /// Seconds the local POST page waits to be opened
    #[arg(long, value_name = "SECS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
}

/// How to reach the add-ons service: shared by `push`, `pull` and `diff`.
#[derive(Debug, Clone, Args)]
pub struct PlatformArgs {
    /// Base URL of the add-ons service
    #[arg(
        long,
        env = "ADDONS_URL",
        value_name = "URL",
        default_value = "https://addons.heroku.com"
    )]
    pub addons_url: String,

    /// Seconds to wait for the add-ons service
    #[arg(long, value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,

    /// Print each request and response to stderr (the API key and secrets masked)
    #[arg(long)]
    pub verbose: bool,
}

#[derive(Debug, Clone, Args)]
pub struct PushArgs {
    #[command(flatten)]
    pub platform: PlatformArgs,
}

#[derive(Debug, Clone, Args)]
pub struct PullArgs {
    /// The add-on's slug
    #[arg(value_name = "SLUG")]
    pub slug: String,

    /// Replace an existing local manifest
    #[arg(long)]
    pub force: bool,

    /// Never prompt: without --force an existing manifest is an error
    #[arg(long)]
    pub no_input: bool,

    #[command(flatten)]
    pub platform: PlatformArgs,
}

#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub platform: PlatformArgs,
}

/// Flags shared by `test` (and its subcommands) and `run`.
#[derive(Debug, Clone, Args)]
pub struct TestOptions {
    /// Call the production URLs instead of the test URLs
    #[arg(long, global = true)]
    pub production: bool,

    /// Provision plan (default test); for `all` and `run`, the plan-change target (default foo)
    #[arg(long, global = true, value_name = "NAME")]
    pub plan: Option<String>,

    /// Seconds to wait for each answer
    #[arg(long, global = true, value_name = "SECS", default_value_t = 25,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,

    /// Output format
    #[arg(long, global = true, value_enum, default_value_t = Format::Human, value_name = "FORMAT")]
    pub format: Format,

    /// Print each request and response (the password and salt masked) to stderr
    #[arg(long, global = true)]
    pub verbose: bool,

    /// Expect the v3 asynchronous flow (grant exchange, config via API, provision action)
    /// even when the provider answers 200
    #[arg(long = "async", global = true)]
    pub force_async: bool,

    /// Seconds to wait for the provider's asynchronous callbacks
    #[arg(long, global = true, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=43200))]
    pub async_timeout: u64,
}

#[derive(Debug, Clone, Args)]
pub struct TestArgs {
    #[command(subcommand)]
    pub test: Option<TestCommand>,

    #[command(flatten)]
    pub opts: TestOptions,
}

#[derive(Debug, Clone, Subcommand)]
pub enum TestCommand {
    /// Check the manifest against every rule
    #[command(after_help = "\
Examples:
  kensa test manifest
  kensa test manifest -f config/addon-manifest.json --format json")]
    Manifest,
    /// Provision a resource and check the answer (extra --key value words become options)
    #[command(after_help = "\
Examples:
  kensa test provision
  kensa test provision --plan premium --region-size large --fast
  kensa test provision --plan async --async-timeout 30
  kensa test provision --redeliver 5           five copies at once must give one resource
  kensa test provision --format json | jq -r .resource.id")]
    Provision {
        /// Send the same provision N times at once; exactly one resource must result
        #[arg(long, value_name = "N", default_value_t = 1,
              value_parser = clap::value_parser!(u64).range(1..=64))]
        redeliver: u64,
        /// Provision options: --key value, --key=value or --key
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "--KEY VALUE"
        )]
        options: Vec<String>,
    },
    /// Deprovision a resource
    #[command(after_help = "\
Examples:
  kensa test deprovision 42
  kensa test deprovision                       the last resource kensa provisioned
  kensa test deprovision 42 --production")]
    Deprovision {
        /// The provider's resource id (default: the last resource kensa provisioned)
        id: Option<String>,
    },
    /// Change a resource's plan
    #[command(after_help = "\
Examples:
  kensa test planchange 42 premium
  kensa test planchange premium                the last resource kensa provisioned
  kensa test planchange 42 basic --timeout 10")]
    Planchange {
        /// [ID] PLAN: the provider's resource id (default: the last resource kensa
        /// provisioned), then the new plan
        #[arg(required = true, num_args = 1..=2, value_names = ["ID", "PLAN"])]
        words: Vec<String>,
    },
    /// Sign in to a resource as Heroku would
    #[command(after_help = "\
Examples:
  kensa test sso 42
  kensa test sso                               the last resource kensa provisioned
  kensa test sso 42 --uuid 01234567-89ab-cdef-0123-456789abcdef")]
    Sso {
        /// The provider's resource id (default: the last resource kensa provisioned)
        id: Option<String>,
        /// Heroku's uuid of the resource: adds the v3 resource tokens
        #[arg(long, value_name = "UUID")]
        uuid: Option<String>,
    },
    /// Manifest, provision, plan change, SSO and deprovision, in order
    #[command(after_help = "\
Examples:
  kensa test all
  kensa test all --plan premium                plan change to premium instead of foo
  kensa test all --format junit > kensa.xml
  kensa test all --production --timeout 10")]
    All,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub opts: TestOptions,

    /// The command to run, after `--`
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    pub command: Vec<String>,
}

/// The add-on's identity and shape, shared by `init` and `create`.
#[derive(Debug, Clone, Default, Args)]
pub struct AddonArgs {
    /// Add-on slug: lowercase letters, digits and dashes (also the Basic-auth user)
    #[arg(long, value_name = "SLUG")]
    pub id: Option<String>,

    /// Display name of the add-on
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Regions the add-on is offered in, comma-separated (e.g. us,eu)
    #[arg(long, value_delimiter = ',', value_name = "LIST")]
    pub regions: Option<Vec<String>>,

    /// Single sign-on shape: `post` (sso_url) or `get` (legacy string URLs)
    #[arg(long, value_enum, value_name = "METHOD")]
    pub sso: Option<SsoMethod>,

    /// Leave single sign-on out (no sso_salt in the manifest)
    #[arg(long, conflicts_with = "sso")]
    pub without_sso: bool,

    /// Local port the test URLs point at
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,

    /// Replace an existing manifest or non-empty directory
    #[arg(long)]
    pub force: bool,

    /// Never prompt: use flags and defaults, fail if a required value is missing
    #[arg(long)]
    pub no_input: bool,
}

#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    #[command(flatten)]
    pub addon: AddonArgs,

    /// Foreman conventions: port 5000 and a .env beside the manifest
    #[arg(long)]
    pub foreman: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// Directory to create the project in
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Embedded template name (see `kensa templates`) or a path to a template directory
    #[arg(short, long, value_name = "NAME|PATH")]
    pub template: Option<String>,

    #[command(flatten)]
    pub addon: AddonArgs,

    /// Set a template variable (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,

    /// Read template variables from a JSON or TOML file
    #[arg(long, value_name = "FILE")]
    pub values_file: Option<PathBuf>,

    /// Print what would be written, write nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Args)]
pub struct TemplatesArgs {
    /// Print a JSON array for scripts
    #[arg(long)]
    pub json: bool,
}

/// `--format`: the spelling of [`Format`] on the command line.
impl ValueEnum for Format {
    fn value_variants<'a>() -> &'a [Self] {
        &[Format::Human, Format::Json, Format::Junit]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(match self {
            Format::Human => "human",
            Format::Json => "json",
            Format::Junit => "junit",
        }))
    }
}

/// `--sso`: the spelling of [`SsoMethod`] on the command line.
impl ValueEnum for SsoMethod {
    fn value_variants<'a>() -> &'a [Self] {
        &[SsoMethod::Post, SsoMethod::Get]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            SsoMethod::Post => PossibleValue::new("post")
                .help("Form POST to `sso_url` (the current Heroku behaviour)"),
            SsoMethod::Get => PossibleValue::new("get")
                .help("GET to `<root>/heroku/resources/<id>` (legacy string URLs)"),
        })
    }
}

fn seconds(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

impl From<AddonArgs> for AddonOptions {
    fn from(a: AddonArgs) -> Self {
        AddonOptions {
            id: a.id,
            name: a.name,
            regions: a.regions,
            sso: a.sso,
            without_sso: a.without_sso,
            port: a.port,
            force: a.force,
            no_input: a.no_input,
        }
    }
}

impl From<InitArgs> for init::Options {
    fn from(a: InitArgs) -> Self {
        init::Options {
            addon: a.addon.into(),
            foreman: a.foreman,
        }
    }
}

impl From<CreateArgs> for create::Options {
    fn from(a: CreateArgs) -> Self {
        create::Options {
            dir: a.dir,
            template: a.template,
            addon: a.addon.into(),
            set: a.set,
            values_file: a.values_file,
            dry_run: a.dry_run,
        }
    }
}

impl From<&TestOptions> for suite::Options {
    fn from(o: &TestOptions) -> Self {
        suite::Options {
            production: o.production,
            plan: o.plan.clone(),
            timeout: seconds(o.timeout),
            format: o.format,
            verbose: o.verbose,
            force_async: o.force_async,
            async_timeout: seconds(o.async_timeout),
        }
    }
}

impl From<TestCommand> for suite::Step {
    fn from(c: TestCommand) -> Self {
        match c {
            TestCommand::Manifest => suite::Step::Manifest,
            TestCommand::Provision { redeliver, options } => suite::Step::Provision {
                // clap caps it at 64.
                redeliver: redeliver as usize,
                options,
            },
            TestCommand::Deprovision { id } => suite::Step::Deprovision { id },
            TestCommand::Planchange { mut words } => {
                // clap keeps one or two words; the last is the plan.
                let plan = words.pop().unwrap_or_default();
                suite::Step::Planchange {
                    id: words.pop(),
                    plan,
                }
            }
            TestCommand::Sso { id, uuid } => suite::Step::Sso { id, uuid },
            TestCommand::All => suite::Step::All,
        }
    }
}

impl From<SsoArgs> for signin::Options {
    fn from(a: SsoArgs) -> Self {
        signin::Options {
            id: a.id,
            uuid: a.uuid,
            production: a.production,
            no_browser: a.no_browser,
            email: a.email,
            user_id: a.user_id,
            app: a.app,
            timeout: seconds(a.timeout),
        }
    }
}

impl From<&PlatformArgs> for Connection {
    fn from(a: &PlatformArgs) -> Self {
        Connection {
            addons_url: a.addons_url.clone(),
            timeout: seconds(a.timeout),
            verbose: a.verbose,
        }
    }
}

impl From<&PullArgs> for platform::PullOptions {
    fn from(a: &PullArgs) -> Self {
        platform::PullOptions {
            slug: a.slug.clone(),
            force: a.force,
            no_input: a.no_input,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

impl ColorWhen {
    /// Sets the process-wide colour choice every styled writer follows: anstream's (our
    /// output and clap's help and errors) and console's (the dialoguer prompts). With
    /// `auto`, both follow anstream's rule for each stream: `NO_COLOR` → none, else
    /// `CLICOLOR_FORCE` → colour, else colour only on a terminal.
    pub fn apply(self) {
        let choice = match self {
            ColorWhen::Auto => anstream::ColorChoice::Auto,
            ColorWhen::Always => anstream::ColorChoice::Always,
            ColorWhen::Never => anstream::ColorChoice::Never,
        };
        choice.write_global();
        let stdout = anstream::AutoStream::choice(&std::io::stdout());
        let stderr = anstream::AutoStream::choice(&std::io::stderr());
        console::set_colors_enabled(stdout != anstream::ColorChoice::Never);
        console::set_colors_enabled_stderr(stderr != anstream::ColorChoice::Never);
    }

    /// The `--color` value in raw arguments, before clap parses them, so clap's own help
    /// and usage errors follow it too. Words after `--` belong to another command. An
    /// invalid value is left for clap to report.
    pub fn from_args(args: &[OsString]) -> Option<ColorWhen> {
        let mut found = None;
        let mut words = args.iter().skip(1).map(|a| a.to_str());
        while let Some(word) = words.next() {
            let value = match word {
                Some("--") => break,
                Some("--color") => words.next().flatten(),
                Some(w) => w.strip_prefix("--color="),
                None => None,
            };
            if let Some(v) = value.and_then(|v| ColorWhen::from_str(v, false).ok()) {
                found = Some(v);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn regions_split_on_commas() {
        let cli = Cli::try_parse_from(["kensa", "init", "--regions", "us,eu"]).unwrap();
        let Command::Init(args) = cli.command else {
            panic!("expected init")
        };
        assert_eq!(args.addon.regions.unwrap(), ["us", "eu"]);
    }

    #[test]
    fn provision_options_keep_kensa_flags_before_them() {
        let cli = Cli::try_parse_from([
            "kensa",
            "test",
            "--timeout",
            "5",
            "provision",
            "--plan",
            "big",
            "--foo",
            "bar",
            "--fast",
        ])
        .unwrap();
        let Command::Test(args) = cli.command else {
            panic!("expected test")
        };
        assert_eq!(args.opts.timeout, 5);
        assert_eq!(args.opts.plan.as_deref(), Some("big"));
        let Some(TestCommand::Provision { options, .. }) = args.test else {
            panic!("expected provision")
        };
        assert_eq!(options, ["--foo", "bar", "--fast"]);
    }

    #[test]
    fn run_takes_the_command_after_dashes() {
        let cli =
            Cli::try_parse_from(["kensa", "run", "--plan", "x", "--", "sh", "-c", "true"]).unwrap();
        let Command::Run(args) = cli.command else {
            panic!("expected run")
        };
        assert_eq!(args.command, ["sh", "-c", "true"]);
        assert_eq!(args.opts.plan.as_deref(), Some("x"));
    }

    #[test]
    fn color_is_found_before_parsing() {
        let scan = |args: &[&str]| {
            let args: Vec<OsString> = args.iter().map(OsString::from).collect();
            ColorWhen::from_args(&args)
        };
        assert_eq!(
            scan(&["kensa", "--color", "always", "x"]),
            Some(ColorWhen::Always)
        );
        assert_eq!(
            scan(&["kensa", "test", "--color=never"]),
            Some(ColorWhen::Never)
        );
        assert_eq!(scan(&["kensa", "test"]), None);
        assert_eq!(scan(&["kensa", "--color", "sometimes"]), None);
        assert_eq!(scan(&["kensa", "run", "--", "ls", "--color=always"]), None);
    }

    #[test]
    fn every_command_has_examples() {
        fn walk(cmd: &clap::Command, path: &str) {
            let path = format!("{path} {}", cmd.get_name());
            let after = cmd
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(after.starts_with("Examples:\n"), "{path} has no examples");
            for sub in cmd.get_subcommands() {
                walk(sub, &path);
            }
        }
        walk(&Cli::command(), "");
    }

    #[test]
    fn port_zero_is_rejected_by_the_parser() {
        let err = Cli::try_parse_from(["kensa", "init", "--port", "0"]).unwrap_err();
        assert!(err.to_string().contains("--port"), "{err}");
    }
}
