//! Entry points for `kensa test …` and `kensa run`: load the manifest, check it, then run
//! the requested calls, always cleaning up what was provisioned.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use super::fake_heroku::FakeHeroku;
use super::report::{
    human::Human, json::Json, junit::Junit, Format, LeftInPlace, Recorder, Report, Reporter, Stage,
};
use super::{command, deprovision, options, planchange, provision, sso, Provider, Resource};
use crate::http::{Client, Observer};
use crate::interrupt;
use crate::manifest::{self, dotenv, validate, Manifest};
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
    /// The provision plan; for `all` and `run`, the plan-change target.
    pub plan: Option<String>,
    /// Deadline of each answer.
    pub timeout: Duration,
    pub format: Format,
    /// Print each request and response, secrets masked.
    pub verbose: bool,
    /// Expect the asynchronous flow even when the provider answers 200.
    pub force_async: bool,
    /// How long to wait for the provider's asynchronous callbacks.
    pub async_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            production: false,
            plan: None,
            timeout: TIMEOUT,
            format: Format::Human,
            verbose: false,
            force_async: false,
            async_timeout: ASYNC_TIMEOUT,
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
    if matches!(which, Step::All) {
        interrupt::catch();
    }
    let which = which.resolve(manifest_path)?;
    let deprovisioned = match &which {
        Step::Deprovision { id } => id.clone(),
        _ => None,
    };
    let provisioned_plan = opts.plan.as_deref().unwrap_or(PROVISION_PLAN).to_owned();
    let report = session(
        manifest_path,
        &manifest,
        opts,
        hooks,
        |rec, provider| match which {
            Step::Manifest => None,
            Step::Provision { redeliver, .. } => {
                let plan = opts.plan.as_deref().unwrap_or(PROVISION_PLAN);
                provision::run(rec, provider, plan, &provision_options, redeliver)
            }
            Step::Deprovision { id } => {
                deprovision::run(rec, provider, &id.unwrap_or_default(), None);
                None
            }
            Step::Planchange { id, plan } => {
                let resource = Resource::named(id.unwrap_or_default(), None);
                planchange::run(rec, provider, &resource, &plan);
                None
            }
            Step::Sso { id, uuid } => {
                sso::run(
                    rec,
                    provider,
                    &Resource::named(id.unwrap_or_default(), uuid),
                );
                None
            }
            Step::All => {
                let change = opts.plan.as_deref().unwrap_or(CHANGE_PLAN);
                lifecycle(rec, provider, |rec, provider, resource| {
                    planchange::run(rec, provider, resource, change);
                    if interrupt::interrupted() {
                        return;
                    }
                    if provider.manifest.sso_salt().is_some() {
                        sso::run(rec, provider, resource);
                    } else {
                        rec.section(Stage::Sso, "SSO");
                        rec.note(
                            &registry::sso::SKIPPED,
                            Verdict::Skip(
                                "the manifest has no api.sso_salt, so SSO is not tested".into(),
                            ),
                        );
                    }
                });
                None
            }
        },
    )?;
    remember(
        manifest_path,
        &report,
        deprovisioned.as_deref(),
        &provisioned_plan,
    )?;
    Ok(report)
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
/// passing `test deprovision` of the last resource, it is forgotten.
fn remember(
    manifest_path: &Path,
    report: &Report,
    deprovisioned: Option<&str>,
    plan: &str,
) -> Result<()> {
    if let Some(left) = &report.resource {
        let last = LastResource::new(
            manifest_path,
            &left.id,
            left.uuid.as_deref(),
            plan,
            "kensa test provision",
        );
        state::remember(manifest_path, &last)?;
    }
    if let (Some(id), false) = (deprovisioned, report.failed()) {
        state::forget(manifest_path, id)?;
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
    interrupt::catch();
    let change = opts.plan.as_deref().unwrap_or(CHANGE_PLAN);
    let hooks = Hooks {
        reporter: (opts.format == Format::Human)
            .then(|| Box::new(Human::new(anstream::stderr())) as Box<dyn Reporter>),
        ..Hooks::default()
    };
    let report = session(manifest_path, &manifest, opts, hooks, |rec, provider| {
        lifecycle(rec, provider, |rec, provider, resource| {
            let machine = opts.format != Format::Human;
            let declared = provider.manifest.config_vars();
            command::run(rec, argv, &resource.config, &declared, machine);
            if !interrupt::interrupted() {
                planchange::run(rec, provider, resource, change);
            }
        });
        None
    })?;
    Ok(exit_code(&report))
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
    deprovision::run(rec, provider, &resource.id, resource.uuid.as_deref());
}

/// Checks the manifest, then (if it passed) runs `calls`; renders the report.
fn session(
    manifest_path: &Path,
    manifest: &Manifest,
    opts: &Options,
    hooks: Hooks,
    calls: impl FnOnce(&mut Recorder, &Provider) -> Option<Resource>,
) -> Result<Report> {
    let target_name = if opts.production {
        "production"
    } else {
        "test"
    };
    let shown = manifest_path.display().to_string();
    let mut reporter: Box<dyn Reporter> = match (hooks.reporter, opts.format) {
        (Some(reporter), _) => reporter,
        (None, Format::Human) => Box::new(Human::new(anstream::stdout())),
        (None, Format::Json) => Box::new(Json::new(std::io::stdout(), shown.clone(), target_name)),
        (None, Format::Junit) => Box::new(Junit::new(std::io::stdout())),
    };
    let mut rec = Recorder::new(reporter.as_mut());
    rec.section(Stage::Manifest, format!("manifest {shown}"));
    for rule in validate::validate(manifest) {
        rec.note(rule.check, rule.verdict);
    }
    let mut resource = None;
    if !rec.failed() {
        if let Some(endpoint) = manifest.endpoint(opts.production) {
            // The provider under test can only call back to this machine on test URLs.
            let heroku = match hooks.heroku {
                Some(heroku) => Some(heroku),
                None => (manifest.is_v3() && !opts.production)
                    .then(|| FakeHeroku::start(client_secret(manifest_path)).map(Arc::new))
                    .transpose()?,
            };
            let mut client = Client::new(opts.timeout, opts.verbose, manifest.secrets());
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
            resource = calls(&mut rec, &provider);
        }
    }
    rec.set_resource(resource.map(|r| LeftInPlace {
        id: r.id,
        uuid: r.uuid,
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
    if let Some(secret) = std::env::var("HEROKU_CLIENT_SECRET")
        .ok()
        .filter(|s| !s.is_empty())
    {
        return Some(secret);
    }
    dotenv::read_value(manifest_path, "HEROKU_CLIENT_SECRET")
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
