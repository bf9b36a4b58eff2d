//! The command line, as clap derive types, and their translation into the options each
//! command's module takes. Parsing only: no I/O happens here. The domain never sees these
//! types: it defines its own, and this module builds them.

pub mod docs;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum, ValueHint};

use crate::check::report::Format;
use crate::check::suite;
use crate::dev;
use crate::error::UsageError;
use crate::manifest::{self, SsoMethod};
use crate::platform::{self, api::Connection};
use crate::scaffold::{create, init, inputs::AddonOptions, source, update};
use crate::signin;
use crate::verify;

const EXAMPLES: &str = "\
Examples:
  kensa create my-addon --template node      scaffold a provider service
  kensa init --id my-addon --regions us,eu   write addon-manifest.json here
  kensa templates                            list the embedded templates
  kensa test all                             check your running service
  kensa test all --url http://localhost:5000 a manifest without api.test
  kensa explain sso.stale-timestamp          what a check enforces, and how to fix it
  kensa run -- npm test                      provision, run, deprovision
  kensa sso 42                               open a signed-in session in the browser
  kensa dev --watch                          the daily loop: service, local Heroku, console
  kensa pull my-addon / push / diff          sync the manifest with the add-ons service
  kensa completions bash                     shell completions (also zsh, fish, …)
  kensa man | man -l -                       read this manual as a man page";

#[derive(Debug, Parser)]
#[command(
    name = "kensa",
    version,
    about = "Scaffold, test and ship Heroku add-on provider services",
    after_help = EXAMPLES,
    propagate_version = true,
    disable_version_flag = true
)]
pub struct Cli {
    /// Print the version (`-v` as the original Ruby kensa spelled it)
    #[arg(short = 'V', long, visible_short_alias = 'v', action = clap::ArgAction::Version, global = true)]
    pub version: (),

    /// The older spelling `kensa -f PATH <command>`, kept for scripts; hidden because `-f`
    /// belongs to the commands that read a manifest, and is listed there.
    #[arg(short = 'f', long = "filename", value_name = "PATH", hide = true)]
    pub filename: Option<PathBuf>,

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
  kensa init --sso get --foreman               legacy GET SSO, and a .env
  kensa init -f config/manifest.json --force   replace an existing manifest")]
    Init(InitArgs),

    /// Create a provider service project from a template
    #[command(
        long_about = "\
Create a provider service project from a template

Existing files: kensa create never deletes or overwrites what it did not write. DIR must be \
absent or empty (`kensa create .` fills the empty current directory). A non-empty DIR needs \
--force (or a yes to the wizard's question): then only the paths the template renders (with \
addon-manifest.json and .env) are written, after they are listed; every other file, .git/ \
included, is kept byte for byte. When DIR is in a git work tree with uncommitted changes, \
--force is refused unless --allow-dirty, so the change kensa makes is one reviewable diff.",
        after_help = "\
Examples:
  kensa create my-addon --template node --no-input
  kensa create my-addon --template sinatra --id my-addon --regions us,eu
  kensa create my-addon --template ./my-templates/go --set go_version=1.23
  kensa create my-addon --template rust-axum --dry-run
  kensa create . --template node               fill the empty current directory
  kensa create my-addon --template node --force   write the template's files into it
  kensa create my-addon --template gh:acme/kensa-templates/go@v1.2
  kensa create my-addon --template file:///srv/templates.git//node --ref main
  kensa create copy --replay my-addon          same answers as my-addon
  kensa create my-addon --template node --vcs none   no git repository
  kensa create                                 the wizard asks for everything"
    )]
    Create(CreateArgs),

    /// Bring a generated project to the current version of its template (three-way merge)
    #[command(
        long_about = "\
Bring a generated project to the current version of its template

kensa update renders the template the project was made from (recorded in \
.kensa/answers.toml) and merges what changed since the project's pristine copy \
(.kensa/pristine.json.gz) into your files, three ways: files you never touched are replaced, \
files both you and the template changed are merged line by line, real conflicts get \
conflict markers and are listed (exit 1), files you deleted stay deleted, new template \
files are added, and nothing outside the template's paths is touched. addon-manifest.json \
and .env are never regenerated; fields and secrets the template now needs are added. It \
refuses to run in a git work tree with uncommitted changes unless --allow-dirty, so the \
update is one reviewable diff.",
        after_help = "\
Examples:
  kensa update                                 the project in the current directory
  kensa update my-addon --dry-run              show the plan, write nothing
  kensa update --template ./my-templates/go    from another source of the template
  kensa update --ref v2.0                      a git template at another tag
  kensa update --set node_version=22           change an answer while updating"
    )]
    Update(UpdateArgs),

    /// List the templates embedded in kensa, or verify one against the protocol
    #[command(after_help = "\
Examples:
  kensa templates
  kensa templates --json | jq -r '.[].name'
  kensa templates verify node                  generate, install, test, start, test all
  kensa templates verify ./my-template --keep")]
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

    /// Explain a check: its rule, why it matters, how to fix it, its source and examples
    #[command(after_help = "\
Examples:
  kensa explain                                every check, with its severity
  kensa explain sso.stale-timestamp            one check, with examples per template
  kensa explain provision.idempotent-uuid --json")]
    Explain(ExplainArgs),

    /// Open a single sign-on session in your browser, as Heroku would
    #[command(after_help = "\
Examples:
  kensa sso 42                                 open the test sso_url (or GET URL) signed in
  kensa sso                                    the last resource kensa provisioned
  kensa sso 42 --no-browser                    only print the URL or the local page address
  kensa sso 42 --uuid 3f0c2f6e-9b1f-4d8e-a2c1-7f5e9a0b1c2d --email me@example.com
  kensa sso 42 --production --app my-real-app")]
    Sso(SsoArgs),

    /// Develop with a local Heroku: run the service, a console in the browser, keys
    #[command(after_help = "\
Examples:
  kensa dev                                    service from the Procfile, console, keys
  kensa dev --watch                            restart and test all when a source file changes
  kensa dev --port 5100 --no-open              another port; print the console's address only
  kensa dev --plan async --async-timeout 30    p provisions the async plan")]
    Dev(DevArgs),

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

impl Command {
    /// Whether the command reads or writes a manifest (and so takes `-f`).
    pub fn takes_manifest(&self) -> bool {
        !matches!(
            self,
            Command::Create(_)
                | Command::Update(_)
                | Command::Templates(_)
                | Command::Explain(_)
                | Command::Completions(_)
                | Command::Man(_)
        )
    }

    /// The command's name, as typed.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Init(_) => "init",
            Command::Create(_) => "create",
            Command::Update(_) => "update",
            Command::Templates(_) => "templates",
            Command::Test(_) => "test",
            Command::Run(_) => "run",
            Command::Explain(_) => "explain",
            Command::Sso(_) => "sso",
            Command::Dev(_) => "dev",
            Command::Push(_) => "push",
            Command::Pull(_) => "pull",
            Command::Diff(_) => "diff",
            Command::Completions(_) => "completions",
            Command::Man(_) => "man",
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct ExplainArgs {
    /// A check id, as reports name it (`sso.stale-timestamp`); without one, every check
    #[arg(value_name = "CHECK-ID")]
    pub id: Option<String>,

    /// Print JSON for scripts
    #[arg(long)]
    pub json: bool,
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

    #[command(flatten)]
    pub manifest: ManifestArg,

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

    /// Heroku's uuid of the resource; a v3 sign-on needs it (default: the remembered one)
    #[arg(long, value_name = "UUID")]
    pub uuid: Option<String>,

    /// Seconds the local POST page waits to be opened
    #[arg(long, value_name = "SECS", default_value_t = 120,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
}

#[derive(Debug, Clone, Args)]
pub struct DevArgs {
    #[command(flatten)]
    pub manifest: ManifestArg,

    /// Run the service on this port instead of the manifest's test port
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,

    /// Serve the console on this port (default: a free one)
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub console_port: u16,

    /// Do not open the console in a browser (its address is printed)
    #[arg(long)]
    pub no_open: bool,

    /// Restart the service and run `test all` when a source file changes
    #[arg(long)]
    pub watch: bool,

    /// The plan `p` (and the console, by default) provisions
    #[arg(long, value_name = "NAME", default_value = suite::PROVISION_PLAN)]
    pub plan: String,

    /// Seconds to wait for each answer from the service
    #[arg(long, value_name = "SECS", default_value_t = 25,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,

    /// Seconds to wait for the service's asynchronous callbacks
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=43200))]
    pub async_timeout: u64,

    /// Seconds the service may take to answer after it starts
    #[arg(long, value_name = "SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub start_timeout: u64,
}

/// How to reach the add-ons service: shared by `push`, `pull` and `diff`.
#[derive(Debug, Clone, Args)]
pub struct PlatformArgs {
    /// Base URL of the add-ons service [default: HEROKU_ADDONS_HOST's host, else
    /// https://addons.heroku.com]
    #[arg(long, env = "ADDONS_URL", value_name = "URL")]
    pub addons_url: Option<String>,

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
    pub manifest: ManifestArg,

    #[command(flatten)]
    pub platform: PlatformArgs,
}

#[derive(Debug, Clone, Args)]
pub struct PullArgs {
    /// The add-on's slug
    #[arg(value_name = "SLUG")]
    pub slug: String,

    /// Where to write the manifest [default: the project's addon-manifest.json, here or in
    /// a parent directory; else addon-manifest.json here]
    #[arg(short = 'f', long = "filename", value_name = "PATH", env = manifest::ENV_VAR)]
    pub filename: Option<PathBuf>,

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
    pub manifest: ManifestArg,

    #[command(flatten)]
    pub platform: PlatformArgs,
}

/// `-f`: the manifest, for the commands that read or write one.
#[derive(Debug, Clone, Default, Args)]
pub struct ManifestArg {
    /// Path of the add-on manifest [default: addon-manifest.json, here or in a parent
    /// directory up to the repository root]
    #[arg(short = 'f', long = "filename", value_name = "PATH", env = manifest::ENV_VAR)]
    pub filename: Option<PathBuf>,
}

/// What every `kensa test …` and `kensa run` takes: the manifest and the report's format.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub manifest: ManifestArg,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human, value_name = "FORMAT")]
    pub format: Format,

    /// Fail on warnings too (broken advice, not only Heroku's requirements), for CI
    #[arg(long)]
    pub strict: bool,
}

/// How kensa calls the provider: for every test that makes a call, and `run`.
#[derive(Debug, Clone, Args)]
pub struct CallArgs {
    /// Call the production URLs instead of the test URLs
    #[arg(long)]
    pub production: bool,

    /// The service's URL (`http://localhost:5000`), base of both endpoints: for a manifest
    /// without `api.test`, or instead of it
    #[arg(
        long,
        value_name = "URL",
        env = "KENSA_URL",
        conflicts_with = "production"
    )]
    pub url: Option<String>,

    /// Seconds to wait for each answer
    #[arg(long, value_name = "SECS", default_value_t = suite::TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,

    /// Print each request and response (the password and salt masked) to stderr
    #[arg(long)]
    pub verbose: bool,
}

/// The v3 asynchronous flow: for the tests that provision (`provision`, `all`) and `run`.
#[derive(Debug, Clone, Args)]
pub struct AsyncArgs {
    /// Expect the v3 asynchronous flow (grant exchange, config via API, provision action)
    /// even when the provider answers 200
    #[arg(long = "async")]
    pub force_async: bool,

    /// Seconds to wait for the provider's asynchronous callbacks
    #[arg(long, value_name = "SECS", default_value_t = suite::ASYNC_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=43200))]
    pub async_timeout: u64,

    /// Access tokens of kensa's fake Heroku expire after SECS (Heroku's last about eight
    /// hours), to catch a provider that never refreshes them
    #[arg(long, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub token_ttl: Option<u64>,

    /// Answer the provider's first Platform API call with 429 and Retry-After: 1, to check
    /// that it waits and retries
    #[arg(long = "inject-429")]
    pub inject_429: bool,
}

/// `kensa test all` (and a bare `kensa test`): the whole lifecycle.
#[derive(Debug, Clone, Args)]
pub struct AllArgs {
    #[command(flatten)]
    pub report: ReportArgs,

    #[command(flatten)]
    pub call: CallArgs,

    /// A plan of the add-on's to change to, which must succeed; provisioning uses the plan
    /// test. Without it kensa changes to a made-up plan (foo), which should be refused
    #[arg(short = 'p', long, value_name = "NAME")]
    pub plan: Option<String>,

    #[command(flatten)]
    pub asynchronous: AsyncArgs,

    /// Leave single sign-on out
    #[arg(long)]
    pub without_sso: bool,
}

#[derive(Debug, Clone, Args)]
pub struct TestArgs {
    #[command(subcommand)]
    pub test: Option<TestCommand>,

    /// Without a step: `all`, with these options. Before a step's name they count for
    /// the step, if it takes them.
    #[command(flatten)]
    pub all: AllArgs,
}

#[derive(Debug, Clone, Subcommand)]
pub enum TestCommand {
    /// Check the manifest against every rule
    #[command(after_help = "\
Examples:
  kensa test manifest
  kensa test manifest -f config/addon-manifest.json --format json")]
    Manifest {
        #[command(flatten)]
        report: ReportArgs,
    },
    /// Provision a resource and check the answer (extra --key value words become options)
    #[command(after_help = "\
Examples:
  kensa test provision
  kensa test provision --plan premium --region-size large --fast
  kensa test provision --plan async --async-timeout 30
  kensa test provision --redeliver 5           five copies at once must give one resource
  kensa test provision --format json | jq -r .resource.id")]
    Provision {
        #[command(flatten)]
        report: ReportArgs,
        #[command(flatten)]
        call: CallArgs,
        /// The plan to provision (default test)
        #[arg(short = 'p', long, value_name = "NAME")]
        plan: Option<String>,
        #[command(flatten)]
        asynchronous: AsyncArgs,
        /// Send the same provision N times at once; exactly one resource must result
        #[arg(long, value_name = "N", default_value_t = 1,
              value_parser = clap::value_parser!(u64).range(1..=64))]
        redeliver: u64,
        /// Provision options: --key value, --key=value or --key; any word kensa does not
        /// know, and every word after `--`
        #[arg(last = true, allow_hyphen_values = true, value_name = "--KEY VALUE")]
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
        #[command(flatten)]
        report: ReportArgs,
        #[command(flatten)]
        call: CallArgs,
    },
    /// Change a resource's plan
    #[command(after_help = "\
Examples:
  kensa test planchange 42 premium
  kensa test planchange premium                the last resource kensa provisioned
  kensa test planchange 42 basic --timeout 10",
        // clap cannot say "an optional positional before a required one" by itself.
        override_usage = "kensa test planchange [OPTIONS] [ID] <PLAN>"
    )]
    Planchange {
        /// [ID] PLAN: the provider's resource id (default: the last resource kensa
        /// provisioned), then the new plan
        #[arg(required = true, num_args = 1..=2, value_name = "PLAN")]
        words: Vec<String>,
        #[command(flatten)]
        report: ReportArgs,
        #[command(flatten)]
        call: CallArgs,
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
        /// Heroku's uuid of the resource; a v3 sign-on needs it (default: the remembered one)
        #[arg(long, value_name = "UUID")]
        uuid: Option<String>,
        #[command(flatten)]
        report: ReportArgs,
        #[command(flatten)]
        call: CallArgs,
    },
    /// Manifest, provision, plan change, SSO and deprovision, in order
    #[command(after_help = "\
Examples:
  kensa test all
  kensa test all --plan premium                plan change to premium instead of foo
  kensa test all --format junit > kensa.xml
  kensa test all --production --timeout 10")]
    All(AllArgs),
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub report: ReportArgs,

    #[command(flatten)]
    pub call: CallArgs,

    /// A plan of the add-on's to change to after the command, which must succeed;
    /// provisioning uses the plan test. Without it kensa changes to a made-up plan (foo)
    #[arg(short = 'p', long, value_name = "NAME")]
    pub plan: Option<String>,

    #[command(flatten)]
    pub asynchronous: AsyncArgs,

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
    #[arg(short = 's', long, value_enum, value_name = "METHOD")]
    pub sso: Option<SsoMethod>,

    /// Same as `--sso post` (the original Ruby kensa's flag)
    #[arg(long, conflicts_with = "sso")]
    pub post: bool,

    /// Leave single sign-on out (no sso_salt in the manifest)
    #[arg(long, conflicts_with_all = ["sso", "post"])]
    pub without_sso: bool,

    /// Local port the test URLs point at [default: 5001]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,

    /// Never prompt: use flags and defaults, fail if a required value is missing
    #[arg(long)]
    pub no_input: bool,
}

#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// Where to write the manifest, creating missing directories [default:
    /// addon-manifest.json]
    #[arg(short = 'f', long = "filename", value_name = "PATH", env = manifest::ENV_VAR)]
    pub filename: Option<PathBuf>,

    #[command(flatten)]
    pub addon: AddonArgs,

    /// Also write a .env beside the manifest with the secrets the service reads
    #[arg(long)]
    pub foreman: bool,

    /// Replace an existing manifest (and with --foreman its .env)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// Directory to create the project in
    #[arg(value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Embedded template name (see `kensa templates`), a path to a template directory, or
    /// a git source: https://…, ssh://…, file://… (a subdirectory after `//`) or
    /// gh:owner/repo[/subdir], each optionally ending in @REF
    #[arg(short, long, value_name = "NAME|PATH|URL", value_parser = TemplateParser,
          value_hint = ValueHint::DirPath)]
    pub template: Option<String>,

    /// The branch, tag or commit (full hash) of a git template
    #[arg(long = "ref", value_name = "REF")]
    pub git_ref: Option<String>,

    /// Reuse the answers of another project (its directory or .kensa/answers.toml):
    /// template, add-on and variables; flags still win
    #[arg(long, value_name = "PROJECT")]
    pub replay: Option<PathBuf>,

    /// Version control for the new project: `git` (a repository with a first commit,
    /// unless DIR is inside one already) or `none`
    #[arg(long, value_enum, default_value_t = Vcs::Git, value_name = "VCS")]
    pub vcs: Vcs,

    #[command(flatten)]
    pub addon: AddonArgs,

    /// Write into a non-empty DIR: replace only the files the template renders (listed
    /// first), keep every other file
    #[arg(long)]
    pub force: bool,

    /// With --force: write even when DIR is in a git work tree with uncommitted changes
    #[arg(long)]
    pub allow_dirty: bool,

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

/// `--vcs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Vcs {
    Git,
    None,
}

#[derive(Debug, Clone, Args)]
pub struct UpdateArgs {
    /// The project to update
    #[arg(value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,

    /// Update from this template source instead of the recorded one (it is recorded next)
    #[arg(short, long, value_name = "NAME|PATH|URL", value_parser = TemplateParser,
          value_hint = ValueHint::DirPath)]
    pub template: Option<String>,

    /// The branch, tag or commit (full hash) of a git template
    #[arg(long = "ref", value_name = "REF")]
    pub git_ref: Option<String>,

    /// Change or give a template variable (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,

    /// Read template variables from a JSON or TOML file
    #[arg(long, value_name = "FILE")]
    pub values_file: Option<PathBuf>,

    /// Show what would change, write nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Update even in a git work tree with uncommitted changes
    #[arg(long)]
    pub allow_dirty: bool,

    /// Never prompt: a new variable without a default is an error naming its --set
    #[arg(long)]
    pub no_input: bool,
}

#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TemplatesArgs {
    #[command(subcommand)]
    pub action: Option<TemplatesCommand>,

    /// Print a JSON array for scripts
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Subcommand)]
pub enum TemplatesCommand {
    /// Generate a template, run its install, unit tests, release and start commands, then
    /// `kensa test all --strict` against the service; stop it and report every step
    #[command(after_help = "\
Examples:
  kensa templates verify node
  kensa templates verify ./my-template --keep  keep the generated project (path printed)
  kensa templates verify ./my-template --format junit > verify.xml
  kensa templates verify sinatra --install 'bundle install --local'
  kensa templates verify node --env DATABASE_URL=postgres://localhost/verify
  kensa templates verify rust-axum --install-timeout 1800 --verbose")]
    Verify(VerifyArgs),
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Embedded template name (see `kensa templates`) or a path to a template directory
    #[arg(value_name = "NAME|PATH", value_parser = TemplateParser, value_hint = ValueHint::DirPath)]
    pub template: String,

    /// Generate into DIR (absent or empty; kept) instead of a temporary directory
    #[arg(long, value_name = "DIR", value_hint = ValueHint::DirPath)]
    pub dir: Option<PathBuf>,

    /// Keep the temporary directory with the generated project (its path is printed)
    #[arg(long, conflicts_with = "dir")]
    pub keep: bool,

    /// The service's port [default: a free one]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,

    /// Add-on slug of the generated project [default: from the template's name]
    #[arg(long, value_name = "SLUG")]
    pub id: Option<String>,

    /// Set a template variable (repeatable)
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,

    /// Read template variables from a JSON or TOML file
    #[arg(long, value_name = "FILE")]
    pub values_file: Option<PathBuf>,

    /// Run CMD instead of the template's install command (a CI machine's own way to
    /// install, e.g. from Debian's packages)
    #[arg(long, value_name = "CMD", env = "KENSA_VERIFY_INSTALL")]
    pub install: Option<String>,

    /// Set a variable for the release and start commands, as a config var (repeatable)
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_env_pair)]
    pub env: Vec<(String, String)>,

    /// Seconds the install command may take [default: 600, or the template's
    /// [timeouts] install when longer]
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub install_timeout: Option<u64>,

    /// Seconds the unit tests may take [default: 600, or the template's when longer]
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub test_timeout: Option<u64>,

    /// Seconds the release command may take [default: 120, or the template's when longer]
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub release_timeout: Option<u64>,

    /// Seconds the service may take to answer on its port [default: 120, or the
    /// template's when longer]
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..=86400))]
    pub start_timeout: Option<u64>,

    /// Seconds the service gets to exit after SIGTERM before SIGKILL
    #[arg(long, value_name = "SECS", default_value_t = crate::verify::STOP_GRACE,
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub stop_timeout: u64,

    /// Seconds `test all` waits for each answer
    #[arg(long, value_name = "SECS", default_value_t = suite::TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,

    /// Seconds `test all` waits for the service's asynchronous callbacks
    #[arg(long, value_name = "SECS", default_value_t = suite::ASYNC_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=43200))]
    pub async_timeout: u64,

    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human, value_name = "FORMAT")]
    pub format: Format,

    /// Stream the commands' and the service's output, and kensa's requests, to stderr
    #[arg(long)]
    pub verbose: bool,
}

/// `--env KEY=VALUE`.
fn parse_env_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value))
            if !key.is_empty()
                && !key.starts_with(|c: char| c.is_ascii_digit())
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            Ok((key.to_owned(), value.to_owned()))
        }
        _ => Err(format!(
            "{text:?} is not KEY=VALUE with KEY made of letters, digits and _"
        )),
    }
}

impl From<VerifyArgs> for verify::Options {
    fn from(a: VerifyArgs) -> Self {
        verify::Options {
            template: a.template,
            dir: a.dir,
            keep: a.keep,
            port: a.port,
            id: a.id,
            set: a.set,
            values_file: a.values_file,
            install: a.install,
            env: a.env,
            install_timeout: a.install_timeout,
            test_timeout: a.test_timeout,
            release_timeout: a.release_timeout,
            start_timeout: a.start_timeout,
            stop_grace: seconds(a.stop_timeout),
            answer_timeout: seconds(a.timeout),
            async_timeout: seconds(a.async_timeout),
            format: a.format,
            verbose: a.verbose,
        }
    }
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
            sso: if a.post { Some(SsoMethod::Post) } else { a.sso },
            without_sso: a.without_sso,
            port: a.port,
            force: false,
            no_input: a.no_input,
        }
    }
}

impl From<InitArgs> for init::Options {
    fn from(a: InitArgs) -> Self {
        init::Options {
            addon: AddonOptions {
                force: a.force,
                ..a.addon.into()
            },
            foreman: a.foreman,
        }
    }
}

impl From<UpdateArgs> for update::Options {
    fn from(a: UpdateArgs) -> Self {
        update::Options {
            dir: a.dir,
            template: a.template,
            git_ref: a.git_ref,
            set: a.set,
            values_file: a.values_file,
            dry_run: a.dry_run,
            allow_dirty: a.allow_dirty,
            no_input: a.no_input,
        }
    }
}

impl From<CreateArgs> for create::Options {
    fn from(a: CreateArgs) -> Self {
        create::Options {
            dir: a.dir,
            template: a.template,
            addon: AddonOptions {
                force: a.force,
                ..a.addon.into()
            },
            allow_dirty: a.allow_dirty,
            git_ref: a.git_ref,
            replay: a.replay,
            vcs: a.vcs == Vcs::Git,
            set: a.set,
            values_file: a.values_file,
            dry_run: a.dry_run,
        }
    }
}

/// The manifest path given on the command line or in `KENSA_MANIFEST`: the command's own
/// `-f`, else the older `kensa -f PATH <command>`. clap fills the command's `-f` from the
/// environment variable too, and an explicit flag beats the environment, so a value equal
/// to the variable's yields to the older spelling when both are there.
pub fn manifest_given(own: Option<PathBuf>, before_command: Option<PathBuf>) -> Option<PathBuf> {
    let from_env = std::env::var_os(manifest::ENV_VAR).map(PathBuf::from);
    match (own, before_command) {
        (Some(own), Some(before)) if Some(&own) == from_env.as_ref() => Some(before),
        (Some(own), _) => Some(own),
        (None, before) => before,
    }
}

impl ReportArgs {
    /// The session options when these are the only flags the command takes.
    fn options(&self, call: Option<&CallArgs>, plan: Option<String>) -> suite::Options {
        let mut opts = suite::Options {
            format: self.format,
            strict: self.strict,
            plan,
            ..suite::Options::default()
        };
        if let Some(call) = call {
            opts.production = call.production;
            opts.url = call.url.clone();
            opts.timeout = seconds(call.timeout);
            opts.verbose = call.verbose;
        }
        opts
    }
}

impl AsyncArgs {
    fn apply(&self, opts: &mut suite::Options) {
        opts.force_async = self.force_async;
        opts.async_timeout = seconds(self.async_timeout);
        opts.token_ttl = self.token_ttl.map(seconds);
        opts.inject_429 = self.inject_429;
    }
}

impl AllArgs {
    pub fn options(&self) -> suite::Options {
        let mut opts = self.report.options(Some(&self.call), self.plan.clone());
        self.asynchronous.apply(&mut opts);
        opts.without_sso = self.without_sso;
        opts
    }
}

impl RunArgs {
    pub fn options(&self) -> suite::Options {
        let mut opts = self.report.options(Some(&self.call), self.plan.clone());
        self.asynchronous.apply(&mut opts);
        opts
    }
}

impl TestArgs {
    /// The step to run, its options and the `-f` it was given. Options written before the
    /// step's name (`kensa test -f m.json --timeout 5 provision`) count for the step when
    /// it takes them, and are a usage error when it does not.
    pub fn session(self) -> Result<(suite::Step, suite::Options, Option<PathBuf>), UsageError> {
        let before = self.all;
        let Some(test) = self.test else {
            let opts = before.options();
            return Ok((suite::Step::All, opts, before.report.manifest.filename));
        };
        let (step, name, own) = match test {
            TestCommand::Manifest { report } => (
                suite::Step::Manifest,
                "manifest",
                StepArgs::new(report, None),
            ),
            TestCommand::Provision {
                report,
                call,
                plan,
                asynchronous,
                redeliver,
                options,
            } => {
                let step = suite::Step::Provision {
                    // clap caps it at 64.
                    redeliver: redeliver as usize,
                    options,
                };
                let own = StepArgs {
                    plan: Some(plan),
                    asynchronous: Some(asynchronous),
                    ..StepArgs::new(report, Some(call))
                };
                (step, "provision", own)
            }
            TestCommand::Deprovision { id, report, call } => (
                suite::Step::Deprovision { id },
                "deprovision",
                StepArgs::new(report, Some(call)),
            ),
            TestCommand::Planchange {
                mut words,
                report,
                call,
            } => {
                // clap keeps one or two words; the last is the plan.
                let plan = words.pop().unwrap_or_default();
                let step = suite::Step::Planchange {
                    id: words.pop(),
                    plan,
                };
                (step, "planchange", StepArgs::new(report, Some(call)))
            }
            TestCommand::Sso {
                id,
                uuid,
                report,
                call,
            } => (
                suite::Step::Sso { id, uuid },
                "sso",
                StepArgs::new(report, Some(call)),
            ),
            TestCommand::All(all) => {
                let own = StepArgs {
                    plan: Some(all.plan),
                    asynchronous: Some(all.asynchronous),
                    without_sso: Some(all.without_sso),
                    ..StepArgs::new(all.report, Some(all.call))
                };
                (suite::Step::All, "all", own)
            }
        };
        let (opts, filename) = own.merge(before, name)?;
        Ok((step, opts, filename))
    }
}

/// The options one test step takes (`None`: not this step's), before merging in those
/// written before its name.
struct StepArgs {
    report: ReportArgs,
    call: Option<CallArgs>,
    plan: Option<Option<String>>,
    asynchronous: Option<AsyncArgs>,
    /// `Some` for `all`, the one step that signs on among others.
    without_sso: Option<bool>,
}

impl StepArgs {
    fn new(report: ReportArgs, call: Option<CallArgs>) -> StepArgs {
        StepArgs {
            report,
            call,
            plan: None,
            asynchronous: None,
            without_sso: None,
        }
    }

    /// The step's own value where it was given, else the one before its name; a flag
    /// before the name that the step does not take is an error naming both.
    fn merge(
        self,
        before: AllArgs,
        step: &str,
    ) -> Result<(suite::Options, Option<PathBuf>), UsageError> {
        let not_for = |flag: &str| {
            UsageError(format!(
                "{flag} does not apply to `kensa test {step}` (see `kensa test {step} --help`)"
            ))
        };
        let defaults = suite::Options::default();
        let filename = self
            .report
            .manifest
            .filename
            .or(before.report.manifest.filename);
        let mut opts = suite::Options {
            format: if self.report.format == defaults.format {
                before.report.format
            } else {
                self.report.format
            },
            strict: self.report.strict || before.report.strict,
            ..suite::Options::default()
        };
        match self.call {
            Some(call) => {
                opts.production = call.production || before.call.production;
                opts.url = call.url.or(before.call.url);
                opts.verbose = call.verbose || before.call.verbose;
                opts.timeout = match seconds(call.timeout) {
                    t if t == defaults.timeout => seconds(before.call.timeout),
                    t => t,
                };
            }
            None if before.call.production => return Err(not_for("--production")),
            None if before.call.url.is_some() && std::env::var_os("KENSA_URL").is_none() => {
                return Err(not_for("--url"))
            }
            None if before.call.verbose => return Err(not_for("--verbose")),
            None if seconds(before.call.timeout) != defaults.timeout => {
                return Err(not_for("--timeout"))
            }
            None => {}
        }
        match self.plan {
            Some(plan) => opts.plan = plan.or(before.plan),
            None if before.plan.is_some() => return Err(not_for("--plan")),
            None => {}
        }
        match self.asynchronous {
            Some(own) => {
                opts.force_async = own.force_async || before.asynchronous.force_async;
                opts.async_timeout = match seconds(own.async_timeout) {
                    t if t == defaults.async_timeout => seconds(before.asynchronous.async_timeout),
                    t => t,
                };
                opts.token_ttl = own.token_ttl.or(before.asynchronous.token_ttl).map(seconds);
                opts.inject_429 = own.inject_429 || before.asynchronous.inject_429;
            }
            None if before.asynchronous.force_async => return Err(not_for("--async")),
            None if before.asynchronous.token_ttl.is_some() => return Err(not_for("--token-ttl")),
            None if before.asynchronous.inject_429 => return Err(not_for("--inject-429")),
            None if seconds(before.asynchronous.async_timeout) != defaults.async_timeout => {
                return Err(not_for("--async-timeout"))
            }
            None => {}
        }
        match self.without_sso {
            Some(own) => opts.without_sso = own || before.without_sso,
            None if before.without_sso => return Err(not_for("--without-sso")),
            None => {}
        }
        Ok((opts, filename))
    }
}

/// `--template`: any text (a name or a directory path), with the embedded templates'
/// names as the values shell completion offers. clap's `PossibleValuesParser` would
/// refuse paths; this parser accepts every value and only tells the completion
/// generators the names (bash adds directories because of the `DirPath` hint).
#[derive(Debug, Clone, Copy)]
pub struct TemplateParser;

impl TypedValueParser for TemplateParser {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            source::embedded_names().into_iter().map(PossibleValue::new),
        ))
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

impl From<DevArgs> for dev::Options {
    fn from(a: DevArgs) -> Self {
        dev::Options {
            port: a.port,
            console_port: a.console_port,
            no_open: a.no_open,
            watch: a.watch,
            plan: a.plan,
            timeout: seconds(a.timeout),
            async_timeout: seconds(a.async_timeout),
            start_timeout: seconds(a.start_timeout),
        }
    }
}

impl From<&PlatformArgs> for Connection {
    fn from(a: &PlatformArgs) -> Self {
        let host = std::env::var(platform::api::HOST_VAR).ok();
        Connection {
            addons_url: platform::api::addons_url(a.addons_url.as_deref(), host.as_deref()),
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

/// `kensa test provision` takes provision options, `--key value` words kensa does not know,
/// anywhere among its own flags (`kensa test provision --foo bar --format json`). Before
/// clap parses, the words after `provision` that are not kensa's flags (or their values)
/// move behind a `--`, where the `options` argument takes them; words already after a `--`
/// stay options. Which flags are kensa's, and whether they take a value, clap's own
/// definition says.
pub fn provision_options_last(args: Vec<OsString>) -> Vec<OsString> {
    let words: Vec<Option<String>> = args.iter().map(|a| a.to_str().map(str::to_owned)).collect();
    let at = |i: usize| words.get(i).cloned().flatten();
    let Some(test) = (1..words.len()).find(|&i| at(i).as_deref() == Some("test")) else {
        return args;
    };
    let Some(provision) = (test + 1..words.len()).find(|&i| at(i).as_deref() == Some("provision"))
    else {
        return args;
    };
    if (1..provision).any(|i| at(i).as_deref() == Some("--")) {
        return args;
    }
    let mut command = <Cli as clap::CommandFactory>::command();
    command.build();
    let Some(sub) = command
        .find_subcommand("test")
        .and_then(|t| t.find_subcommand("provision"))
    else {
        return args;
    };
    // Every flag of `test provision` (its own and the global ones): whether it takes a value.
    let mut flags: Vec<(String, bool)> = Vec::new();
    for arg in sub.get_arguments().filter(|a| !a.is_positional()) {
        let takes = arg.get_action().takes_values();
        for long in arg.get_long_and_visible_aliases().into_iter().flatten() {
            flags.push((format!("--{long}"), takes));
        }
        for short in arg.get_short_and_visible_aliases().into_iter().flatten() {
            flags.push((format!("-{short}"), takes));
        }
    }
    flags.push(("--help".into(), false));
    flags.push(("-h".into(), false));
    let known = |word: &str| -> Option<bool> {
        let name = word.split_once('=').map_or(word, |(n, _)| n);
        flags
            .iter()
            .find(|(f, _)| f == name)
            .map(|(_, takes)| *takes && !word.contains('='))
    };
    let mut kept: Vec<OsString> = args[..=provision].to_vec();
    let mut options: Vec<OsString> = Vec::new();
    let mut i = provision + 1;
    while i < args.len() {
        let Some(word) = at(i) else {
            options.push(args[i].clone());
            i += 1;
            continue;
        };
        if word == "--" {
            options.extend(args[i + 1..].iter().cloned());
            break;
        }
        match known(&word) {
            Some(takes_value) => {
                kept.push(args[i].clone());
                if takes_value && i + 1 < args.len() {
                    kept.push(args[i + 1].clone());
                    i += 1;
                }
            }
            None => options.push(args[i].clone()),
        }
        i += 1;
    }
    if !options.is_empty() {
        kept.push("--".into());
        kept.extend(options);
    }
    kept
}

/// The report format a `kensa test`/`kensa run` command line asks for, read from the raw
/// arguments (words after `--` belong to another command), so that a usage error caught
/// before or while parsing still writes a document of that format. `None` for other
/// commands, or when no `--format` is given.
pub fn report_format_from_args(args: &[OsString]) -> Option<Format> {
    let words: Vec<Option<&str>> = args.iter().skip(1).map(|a| a.to_str()).collect();
    let before_dashes = words.iter().take_while(|w| **w != Some("--"));
    let is_report = before_dashes
        .clone()
        .any(|w| matches!(w, Some("test" | "run")));
    if !is_report {
        return None;
    }
    let mut found = None;
    let mut iter = before_dashes;
    while let Some(word) = iter.next() {
        let value = match word {
            Some("--format") => iter.next().copied().flatten(),
            Some(w) => w.strip_prefix("--format="),
            None => None,
        };
        if let Some(v) = value.and_then(|v| Format::from_str(v, false).ok()) {
            found = Some(v);
        }
    }
    found
}

/// The manifest a command line names with `-f`/`--filename` (the last one, before `--`),
/// else `KENSA_MANIFEST`, else the one found from the current directory upwards: what a
/// usage error's report document says it was about.
pub fn manifest_from_args(args: &[OsString]) -> Option<String> {
    let words: Vec<Option<&str>> = args.iter().skip(1).map(|a| a.to_str()).collect();
    let mut found = None;
    let mut iter = words.iter().take_while(|w| **w != Some("--"));
    while let Some(word) = iter.next() {
        let value = match word {
            Some("-f" | "--filename") => iter.next().copied().flatten(),
            Some(w) => w
                .strip_prefix("--filename=")
                .or_else(|| w.strip_prefix("-f").filter(|v| !v.is_empty())),
            None => None,
        };
        if let Some(v) = value {
            found = Some(v.to_owned());
        }
    }
    found
        .or_else(|| std::env::var_os(manifest::ENV_VAR).map(|v| v.to_string_lossy().into_owned()))
        .or_else(|| {
            let here = std::env::current_dir().ok()?;
            let found = manifest::search_upwards(&here).ok()?;
            Some(found.path.display().to_string())
        })
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

    fn parse(words: &[&str]) -> Cli {
        let args = words.iter().map(OsString::from).collect();
        Cli::try_parse_from(provision_options_last(args)).unwrap()
    }

    #[test]
    fn provision_options_keep_kensa_flags_before_them() {
        let cli = parse(&[
            "kensa",
            "test",
            "provision",
            "--timeout",
            "5",
            "--plan",
            "big",
            "--foo",
            "bar",
            "--fast",
        ]);
        let Command::Test(args) = cli.command else {
            panic!("expected test")
        };
        let (step, opts, _) = args.session().unwrap();
        assert_eq!(opts.timeout, Duration::from_secs(5));
        assert_eq!(opts.plan.as_deref(), Some("big"));
        let suite::Step::Provision { options, .. } = step else {
            panic!("expected provision")
        };
        assert_eq!(options, ["--foo", "bar", "--fast"]);
    }

    #[test]
    fn kensa_flags_among_provision_options_stay_kensas() {
        let cli = parse(&[
            "kensa",
            "test",
            "provision",
            "--foo",
            "bar",
            "--format",
            "json",
            "-p",
            "x",
            "--redeliver=3",
            "--size=2",
            "--",
            "--timeout",
            "9",
        ]);
        let Command::Test(args) = cli.command else {
            panic!("expected test")
        };
        let (step, opts, _) = args.session().unwrap();
        assert_eq!(opts.format, Format::Json);
        assert_eq!(opts.plan.as_deref(), Some("x"));
        assert_eq!(
            opts.timeout,
            suite::TIMEOUT,
            "after --, --timeout is an option"
        );
        let suite::Step::Provision { options, redeliver } = step else {
            panic!("expected provision")
        };
        assert_eq!(redeliver, 3);
        assert_eq!(options, ["--foo", "bar", "--size=2", "--timeout", "9"]);
    }

    #[test]
    fn run_takes_the_command_after_dashes() {
        let cli =
            Cli::try_parse_from(["kensa", "run", "--plan", "x", "--", "sh", "-c", "true"]).unwrap();
        let Command::Run(args) = cli.command else {
            panic!("expected run")
        };
        assert_eq!(args.command, ["sh", "-c", "true"]);
        assert_eq!(args.options().plan.as_deref(), Some("x"));
    }

    #[test]
    fn bare_test_takes_the_options_of_all() {
        let cli = Cli::try_parse_from(["kensa", "test", "--plan", "p", "--async"]).unwrap();
        let Command::Test(args) = cli.command else {
            panic!("expected test")
        };
        let (step, opts, _) = args.session().unwrap();
        assert_eq!(step, suite::Step::All);
        assert_eq!(opts.plan.as_deref(), Some("p"));
        assert!(opts.force_async);
    }

    /// Issue 15: `kensa test sso --help` listed `--plan` and `--async`, which SSO ignores.
    #[test]
    fn regression_test_sso_accepted_options_that_do_not_apply() {
        for flag in ["--plan", "--async", "--async-timeout", "--redeliver"] {
            let err = Cli::try_parse_from(["kensa", "test", "sso", "42", flag, "1"]).unwrap_err();
            assert_eq!(
                err.kind(),
                clap::error::ErrorKind::UnknownArgument,
                "{flag}"
            );
        }
    }

    #[test]
    fn options_before_the_step_count_for_it_when_it_takes_them() {
        let parse = |args: &[&str]| {
            let cli = Cli::try_parse_from(args).unwrap();
            let Command::Test(args) = cli.command else {
                panic!("expected test")
            };
            args.session()
        };
        let (_, opts, file) = parse(&[
            "kensa",
            "test",
            "-f",
            "m.json",
            "--timeout",
            "5",
            "--format",
            "json",
            "provision",
            "--plan",
            "p",
        ])
        .unwrap();
        assert_eq!(file, Some(PathBuf::from("m.json")));
        assert_eq!(opts.timeout, Duration::from_secs(5));
        assert_eq!(opts.format, Format::Json);
        assert_eq!(opts.plan.as_deref(), Some("p"));
        let (_, opts, _) = parse(&[
            "kensa",
            "test",
            "--timeout",
            "5",
            "sso",
            "1",
            "--timeout",
            "9",
        ])
        .unwrap();
        assert_eq!(
            opts.timeout,
            Duration::from_secs(9),
            "the step's own value wins"
        );
        for flag in ["--plan", "--async", "--production"] {
            let mut args = vec!["kensa", "test", flag];
            if flag == "--plan" {
                args.push("p");
            }
            args.extend(["manifest"]);
            let err = parse(&args).unwrap_err().to_string();
            assert!(
                err.contains(&format!("{flag} does not apply to `kensa test manifest`")),
                "{err}"
            );
        }
        let err = parse(&["kensa", "test", "--plan", "p", "sso", "1"]).unwrap_err();
        assert!(err
            .to_string()
            .contains("--plan does not apply to `kensa test sso`"));
    }

    #[test]
    fn template_names_are_offered_and_paths_accepted() {
        let cmd = Cli::command();
        let create = cmd.find_subcommand("create").unwrap();
        let template = create
            .get_arguments()
            .find(|a| a.get_id() == "template")
            .unwrap();
        let names: Vec<String> = template
            .get_possible_values()
            .iter()
            .map(|v| v.get_name().to_owned())
            .collect();
        assert_eq!(names, source::embedded_names());
        let cli = Cli::try_parse_from(["kensa", "create", "x", "--template", "./my/tpl"]).unwrap();
        let Command::Create(args) = cli.command else {
            panic!("expected create")
        };
        assert_eq!(args.template.as_deref(), Some("./my/tpl"));
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
