//! Entry points for `kensa test …` and `kensa run`: load the manifest, check it, then run
//! the requested calls, always cleaning up what was provisioned, and last account for
//! every call the provider made to kensa's fake Heroku.

use std::cell::Cell;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use super::fake_heroku::{FakeHeroku, Settings};
use super::planchange::Target;
use super::report::{
    human::Human, json::Json, junit::Junit, Format, LeftInPlace, Recorder, Report, Reporter, Stage,
};
use super::{
    accounting, command, deprovision, options, planchange, provision, sso, Provider, Resource,
};
use crate::error::UsageError;
use crate::http::{Client, Observer};
use crate::interrupt;
use crate::manifest::{self, dotenv, validate, Endpoint, Manifest};
use crate::output::{shell_quote, visible};
use crate::registry;
use crate::state::{self, LastResource};
use crate::verdict::Verdict;

/// Default plan for provisioning, and for `all`/`run` the plan-change target.
pub const PROVISION_PLAN: &str = "test";
pub const CHANGE_PLAN: &str = "foo";
/// Default deadline of each answer (`--timeout`).
pub const TIMEOUT: Duration = Duration::from_secs(25);
/// Default wait for the provider's asynchronous callbacks (`--async-timeout`).
pub const ASYNC_TIMEOUT: Duration = Duration::from_secs(60);

/// Which of Heroku's calls `kensa test` makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The manifest rules only.
    Manifest,
    /// Provision; `redeliver` copies at once; `options` are `--key value` words.
    Provision {
        redeliver: usize,
        options: Vec<String>,
    },
    /// Without an id: the last resource kensa provisioned against the manifest.
    Deprovision {
        id: Option<String>,
    },
    Planchange {
        id: Option<String>,
        plan: String,
    },
    Sso {
        id: Option<String>,
        uuid: Option<String>,
    },
    /// Manifest, provision, plan change, SSO and deprovision, in order.
    All,
}

/// How a session runs, shared by `kensa test` and `kensa run`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Call the production URLs instead of the test URLs.
    pub production: bool,
    /// The service's base URL (`--url`, `KENSA_URL`), instead of `api.test`.
    pub url: Option<String>,
    /// The provision plan; for `all` and `run`, the plan-change target.
    pub plan: Option<String>,
    /// Warnings fail too (`--strict`).
    pub strict: bool,
    /// `test all` leaves single sign-on out (`--without-sso`).
    pub without_sso: bool,
    /// Deadline of each answer.
    pub timeout: Duration,
    pub format: Format,
    /// Print each request and response, secrets masked; each check's rule and source.
    pub verbose: bool,
    /// Expect the asynchronous flow even when the provider answers 200.
    pub force_async: bool,
    /// How long to wait for the provider's asynchronous callbacks.
    pub async_timeout: Duration,
    /// Access tokens of the fake Heroku expire after this long (`--token-ttl`).
    pub token_ttl: Option<Duration>,
    /// The fake Heroku answers one Platform API call with 429 (`--inject-429`).
    pub inject_429: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            production: false,
            url: None,
            plan: None,
            strict: false,
            without_sso: false,
            timeout: TIMEOUT,
            format: Format::Human,
            verbose: false,
            force_async: false,
            async_timeout: ASYNC_TIMEOUT,
            token_ttl: None,
            inject_429: false,
        }
    }
}

/// What a caller that owns a longer session (`kensa dev`) lends a run: its local Heroku
/// (else the run starts its own), an observer of every call to the provider, and a
/// reporter (else the one `--format` names, on stdout).
#[derive(Default)]
pub struct Hooks {
    /// The manifest to use instead of reading the file (`kensa dev --port` retargets it).
    pub manifest: Option<Manifest>,
    pub heroku: Option<Arc<FakeHeroku>>,
    pub observer: Option<Observer>,
    pub reporter: Option<Box<dyn Reporter>>,
}

/// `kensa test <step>` on the manifest at `given` (`-f`), else the one
/// [`manifest::locate`] finds. Bad provision options are reported before a missing
/// manifest: they are what the user just typed.
pub fn test(given: Option<&Path>, which: Step, opts: &Options) -> Result<ExitCode> {
    if let Step::Provision { options, .. } = &which {
        options::parse(options)?;
    }
    let manifest_path = manifest::locate(given)?;
    let report = test_with(&manifest_path, which, opts, Hooks::default())?;
    Ok(exit_code(&report))
}

/// [`test`] with what a longer session lends it; returns the report.
pub fn test_with(
    manifest_path: &Path,
    which: Step,
    opts: &Options,
    mut hooks: Hooks,
) -> Result<Report> {
    let provision_options = match &which {
        Step::Provision { options, .. } => options::parse(options)?,
        _ => Default::default(),
    };
    let manifest = match hooks.manifest.take() {
        Some(manifest) => manifest,
        None => Manifest::load(manifest_path)?,
    };
    let endpoint = match which {
        Step::Manifest => None,
        _ => endpoint(manifest_path, &manifest, opts)?,
    };
    if matches!(which, Step::All) {
        interrupt::catch();
    }
    let which = which.resolve(manifest_path)?;
    let named = named_resource(manifest_path, &which)?;
    if let (Step::Sso { .. }, Some(resource)) = (&which, &named) {
        needs_uuid(manifest_path, &manifest, endpoint.as_ref(), resource)?;
    }
    let collapse = !matches!(which, Step::Manifest | Step::All);
    let deleted = Cell::new(None);
    let changed = Cell::new(None);
    let report = session(
        manifest_path,
        &manifest,
        endpoint,
        opts,
        Context { hooks, collapse },
        |rec, provider| match which {
            Step::Manifest => None,
            Step::Provision { redeliver, .. } => {
                let plan = opts.plan.as_deref().unwrap_or(PROVISION_PLAN);
                provision::run(rec, provider, plan, &provision_options, redeliver)
            }
            Step::Deprovision { .. } => {
                let resource = named.expect("a named resource");
                if deprovision::run(rec, provider, &resource) {
                    deleted.set(Some(resource.id));
                }
                None
            }
            Step::Planchange { plan, .. } => {
                let resource = named.expect("a named resource");
                if let Some(plan) = planchange::run(rec, provider, &resource, Target::Real(&plan)) {
                    changed.set(Some((resource.id, plan)));
                }
                None
            }
            Step::Sso { .. } => {
                sso::run(rec, provider, &named.expect("a named resource"));
                None
            }
            Step::All => {
                lifecycle(rec, provider, |rec, provider, resource| {
                    change_plan_and_sign_on(rec, provider, resource, opts)
                });
                None
            }
        },
    )?;
    remember(
        manifest_path,
        &report,
        deleted.take().as_deref(),
        changed.take(),
    )?;
    Ok(report)
}

/// A resource named on the command line (or the last one, filled in by
/// [`Step::resolve`]), with what kensa remembers of it.
fn named_resource(manifest_path: &Path, which: &Step) -> Result<Option<Resource>> {
    let (id, uuid) = match which {
        Step::Deprovision { id } | Step::Planchange { id, .. } => (id, None),
        Step::Sso { id, uuid } => (id, uuid.clone()),
        _ => return Ok(None),
    };
    let id = id.clone().unwrap_or_default();
    let remembered = state::remembered(manifest_path, &id)?;
    Ok(Some(Resource {
        uuid: uuid.or_else(|| remembered.as_ref().and_then(|r| r.uuid.clone())),
        heroku_id: remembered.as_ref().and_then(|r| r.heroku_id.clone()),
        plan: remembered.map(|r| r.plan),
        id,
        ..Resource::default()
    }))
}

/// A v3 sign-on needs the resource's uuid. Without a salt or an SSO URL, or with a broken
/// manifest, there is no sign-on to make: the report says why instead.
fn needs_uuid(
    manifest_path: &Path,
    manifest: &Manifest,
    endpoint: Option<&Endpoint>,
    resource: &Resource,
) -> Result<()> {
    let signs_on = manifest.sso_salt().is_some()
        && endpoint.is_some_and(|e| crate::sso::Route::for_endpoint(e, &resource.id).is_ok());
    if manifest.is_v3() && signs_on && resource.uuid.is_none() {
        return Err(state::no_uuid(manifest_path, &resource.id).into());
    }
    Ok(())
}

/// The middle of `test all`, on the resource it provisioned: the plan change, then SSO.
fn change_plan_and_sign_on(
    rec: &mut Recorder,
    provider: &Provider,
    resource: &Resource,
    opts: &Options,
) {
    planchange::run(rec, provider, resource, change_target(opts));
    if interrupt::interrupted() {
        return;
    }
    if opts.without_sso {
        skip_sso(rec, "--without-sso leaves single sign-on out");
    } else if provider.manifest.sso_salt().is_some() {
        sso::run(rec, provider, resource);
    } else {
        skip_sso(
            rec,
            "the manifest has no api.sso_salt, so SSO is not tested",
        );
    }
}

/// The plan change of `test all` and `run`: to `--plan`, which must succeed, else to
/// kensa's made-up plan, which should be refused.
fn change_target(opts: &Options) -> Target<'_> {
    match opts.plan.as_deref() {
        Some(plan) => Target::Real(plan),
        None => Target::Unknown(CHANGE_PLAN),
    }
}

fn skip_sso(rec: &mut Recorder, why: &str) {
    rec.section(Stage::Sso, "SSO");
    rec.note(&registry::sso::SKIPPED, Verdict::Skip(why.into()));
}

impl Step {
    /// Fills in a missing id (and uuid) from the last resource kensa provisioned against
    /// the manifest, saying on stderr which one it uses; an input error when there is none.
    fn resolve(self, manifest_path: &Path) -> Result<Step> {
        let (id, uuid) = match &self {
            Step::Deprovision { id } | Step::Planchange { id, .. } => (id.clone(), None),
            Step::Sso { id, uuid } => (id.clone(), uuid.clone()),
            _ => return Ok(self),
        };
        let (id, uuid) = state::resource_or_last(manifest_path, id, uuid)?;
        Ok(match self {
            Step::Deprovision { .. } => Step::Deprovision { id: Some(id) },
            Step::Planchange { plan, .. } => Step::Planchange { id: Some(id), plan },
            _ => Step::Sso { id: Some(id), uuid },
        })
    }
}

/// After `test provision`, the resource left in place becomes the last resource; after a
/// `test deprovision` that removed the last resource, it is forgotten; after a `test
/// planchange` the provider accepted, it is on the new plan (and a `kensa dev` session of
/// the project is told of either).
fn remember(
    manifest_path: &Path,
    report: &Report,
    deleted: Option<&str>,
    changed: Option<(String, String)>,
) -> Result<()> {
    if let Some(left) = &report.resource {
        let mut last = LastResource::new(
            manifest_path,
            &left.id,
            left.uuid.as_deref(),
            &left.plan,
            "kensa test provision",
        );
        last.heroku_id = left.heroku_id.clone();
        state::remember(manifest_path, &last)?;
    }
    if let Some(id) = deleted {
        state::deprovisioned(manifest_path, id, "kensa test deprovision")?;
    }
    if let Some((id, plan)) = changed {
        state::plan_changed(manifest_path, &id, &plan, "kensa test planchange")?;
    }
    Ok(())
}

/// `kensa run`: provision, run `argv` with the config vars, change plan, deprovision.
/// stdout belongs to the command, so `kensa run -- cmd > out` captures just its output:
/// kensa's own report goes to stderr, except a machine-readable one, which keeps stdout
/// (one document) and sends the command's output to stderr instead.
pub fn run(given: Option<&Path>, opts: &Options, argv: &[String]) -> Result<ExitCode> {
    let manifest_path = &manifest::locate(given)?;
    let manifest = Manifest::load(manifest_path)?;
    let endpoint = endpoint(manifest_path, &manifest, opts)?;
    interrupt::catch();
    let target = change_target(opts);
    let hooks = Hooks {
        reporter: (opts.format == Format::Human).then(|| {
            Box::new(
                Human::new(anstream::stderr())
                    .verbose(opts.verbose)
                    .collapse_manifest(true),
            ) as Box<dyn Reporter>
        }),
        ..Hooks::default()
    };
    let context = Context {
        hooks,
        collapse: true,
    };
    let report = session(
        manifest_path,
        &manifest,
        endpoint,
        opts,
        context,
        |rec, provider| {
            lifecycle(rec, provider, |rec, provider, resource| {
                let machine = opts.format != Format::Human;
                let declared = provider.manifest.config_vars();
                command::run(rec, argv, &resource.config, &declared, machine);
                if !interrupt::interrupted() {
                    planchange::run(rec, provider, resource, target);
                }
            });
            None
        },
    )?;
    Ok(exit_code(&report))
}

/// Where the provider under test listens: the production URLs, `--url`/`KENSA_URL`, or
/// `api.test`. `None` when the manifest's rules fail (the report says why); a usage error
/// when the manifest passes but names no test URL and none was given.
fn endpoint(
    manifest_path: &Path,
    manifest: &Manifest,
    opts: &Options,
) -> Result<Option<Endpoint>, UsageError> {
    if !validate::failures(manifest).is_empty() {
        return Ok(None);
    }
    if opts.production {
        return Ok(manifest.endpoint(true));
    }
    if let Some(url) = &opts.url {
        return manifest
            .endpoint_at(url)
            .map(Some)
            .map_err(|why| UsageError::new(format!("--url / KENSA_URL {url:?} {why}")));
    }
    let shown = manifest_path.display();
    let has_test = manifest.api().is_some_and(|api| api.contains_key("test"));
    match manifest.endpoint(false) {
        Some(endpoint) if validate::test_urls_usable(manifest) => Ok(Some(endpoint)),
        _ if has_test => Err(UsageError::new(format!(
            "{shown}: api.test cannot be called (`kensa test manifest` says why); give the service's URL with --url http://localhost:5000 or KENSA_URL"
        ))),
        _ => Err(UsageError::new(format!(
            "{shown} has no api.test (Heroku's tooling does not write one): give the service's URL with --url http://localhost:5000 or KENSA_URL"
        ))),
    }
}

/// Provision, `steps`, deprovision: the resource is deprovisioned whatever happened in
/// between, Ctrl-C included.
fn lifecycle(
    rec: &mut Recorder,
    provider: &Provider,
    steps: impl FnOnce(&mut Recorder, &Provider, &Resource),
) {
    let Some(resource) = provision::run(rec, provider, PROVISION_PLAN, &Default::default(), 1)
    else {
        return;
    };
    if !interrupt::interrupted() {
        steps(rec, provider, &resource);
    }
    deprovision::run(rec, provider, &resource);
}

/// How a session reports: what a longer session lends, and whether the manifest's rules
/// fold into one line.
struct Context {
    hooks: Hooks,
    collapse: bool,
}

/// Checks the manifest, then (if it passed and there is an endpoint) runs `calls`, then
/// accounts for the provider's calls to the fake Heroku; renders the report.
fn session(
    manifest_path: &Path,
    manifest: &Manifest,
    endpoint: Option<Endpoint>,
    opts: &Options,
    context: Context,
    calls: impl FnOnce(&mut Recorder, &Provider) -> Option<Resource>,
) -> Result<Report> {
    let hooks = context.hooks;
    let target_name = if opts.production {
        "production"
    } else {
        "test"
    };
    let shown = manifest_path.display().to_string();
    let mut reporter: Box<dyn Reporter> = match (hooks.reporter, opts.format) {
        (Some(reporter), _) => reporter,
        (None, Format::Human) => Box::new(
            Human::new(anstream::stdout())
                .verbose(opts.verbose)
                .collapse_manifest(context.collapse),
        ),
        (None, Format::Json) => Box::new(Json::new(std::io::stdout(), shown.clone(), target_name)),
        (None, Format::Junit) => Box::new(Junit::new(std::io::stdout())),
    };
    let mut rec = Recorder::new(reporter.as_mut()).strict(opts.strict);
    rec.section(Stage::Manifest, format!("manifest {shown}"));
    for rule in validate::validate(manifest) {
        rec.note(rule.check, rule.verdict);
    }
    let mut resource = None;
    if let (false, Some(endpoint)) = (rec.failed(), endpoint) {
        // The provider under test can only call back to this machine on test URLs.
        let heroku = match hooks.heroku {
            Some(heroku) => Some(heroku),
            None => (manifest.is_v3() && !opts.production)
                .then(|| {
                    FakeHeroku::start(Settings {
                        client_secret: client_secret(manifest_path),
                        token_ttl: opts.token_ttl,
                        inject_429: opts.inject_429,
                    })
                    .map(Arc::new)
                })
                .transpose()?,
        };
        let mut client = Client::new(opts.timeout, opts.verbose, manifest.secrets())
            .with_connect_hint(super::start_hint(manifest_path));
        if let Some(observer) = hooks.observer {
            client = client.observed_by(observer);
        }
        let provider = Provider {
            manifest,
            endpoint,
            production: opts.production,
            client,
            heroku,
            force_async: opts.force_async,
            async_timeout: opts.async_timeout,
        };
        let since = provider.heroku.as_ref().map_or(0, |fake| fake.last_seq());
        resource = calls(&mut rec, &provider);
        accounting::account(&mut rec, &provider, since);
    }
    rec.set_resource(resource.map(|r| LeftInPlace {
        id: r.id,
        uuid: r.uuid,
        plan: r.plan.unwrap_or_else(|| PROVISION_PLAN.to_owned()),
        heroku_id: r.heroku_id,
    }));
    let report = rec.finish()?;
    if let (Some(r), Format::Human) = (&report.resource, opts.format) {
        let mut out = anstream::stdout();
        // Like the report lines: a closed stdout must not turn a failed run into exit 0.
        // The id and uuid are the provider's words: shown safely, and quoted in the
        // command so that it can be pasted as it is.
        let _ = writeln!(
            out,
            "Provisioned resource {} (uuid {}); it is still there: `kensa test deprovision {}` removes it",
            visible(&r.id),
            visible(r.uuid.as_deref().unwrap_or("?")),
            visible(&shell_quote(&r.id)),
        );
    }
    Ok(report)
}

/// The provider's OAuth client secret, which the fake identity service checks when known:
/// `HEROKU_CLIENT_SECRET` from the environment, else from the `.env` beside the manifest.
pub fn client_secret(manifest_path: &Path) -> Option<String> {
    let secret = std::env::var("HEROKU_CLIENT_SECRET")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| dotenv::read_value(manifest_path, "HEROKU_CLIENT_SECRET"));
    // A provider may quote it back: masked in every output from now on.
    crate::redact::register(secret.clone());
    secret
}

/// 130 after Ctrl-C (once the cleanup ran), as a shell reports a process SIGINT ended;
/// else 1 when a check failed.
fn exit_code(report: &Report) -> ExitCode {
    if interrupt::interrupted() {
        ExitCode::from(interrupt::EXIT_CODE)
    } else if report.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
