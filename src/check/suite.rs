//! Entry points for `kensa test …` and `kensa run`: load the manifest, check it, then run
//! the requested calls, always cleaning up what was provisioned.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use serde_json::json;

use super::client::Client;
use super::fake_heroku::FakeHeroku;
use super::report::{human::Human, json::Json, junit::Junit, Recorder, Report, Reporter};
use super::{command, deprovision, options, planchange, provision, sso, Resource, Target};
use crate::cli::{Format, RunArgs, TestArgs, TestCommand, TestOptions};
use crate::manifest::{validate, Manifest};
use crate::verdict::Verdict;

/// Default plan for provisioning, and for `all`/`run` the plan-change target.
pub const PROVISION_PLAN: &str = "test";
pub const CHANGE_PLAN: &str = "foo";

pub fn test(manifest_path: &Path, args: TestArgs) -> Result<ExitCode> {
    let which = args.test.unwrap_or(TestCommand::All);
    let provision_options = match &which {
        TestCommand::Provision { options, .. } => options::parse(options)?,
        _ => Default::default(),
    };
    let manifest = Manifest::load(manifest_path)?;
    if matches!(which, TestCommand::All) {
        command::catch_interrupts();
    }
    let report = session(
        manifest_path,
        &manifest,
        &args.opts,
        |rec, target| match which {
            TestCommand::Manifest => None,
            TestCommand::Provision { redeliver, .. } => {
                let plan = args.opts.plan.as_deref().unwrap_or(PROVISION_PLAN);
                provision::run(rec, target, plan, &provision_options, redeliver as usize)
            }
            TestCommand::Deprovision { id } => {
                deprovision::run(rec, target, &id, None);
                None
            }
            TestCommand::Planchange { id, plan } => {
                planchange::run(rec, target, &Resource::named(id, None), &plan);
                None
            }
            TestCommand::Sso { id, uuid } => {
                sso::run(rec, target, &Resource::named(id, uuid));
                None
            }
            TestCommand::All => {
                let change = args.opts.plan.as_deref().unwrap_or(CHANGE_PLAN);
                lifecycle(rec, target, |rec, target, resource| {
                    planchange::run(rec, target, resource, change);
                    if command::interrupted() {
                        return;
                    }
                    if target.manifest.sso_salt().is_some() {
                        sso::run(rec, target, resource);
                    } else {
                        rec.section("SSO");
                        rec.note(
                            "single sign-on",
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
    Ok(exit_code(&report))
}

pub fn run(manifest_path: &Path, args: RunArgs) -> Result<ExitCode> {
    let manifest = Manifest::load(manifest_path)?;
    command::catch_interrupts();
    let change = args.opts.plan.as_deref().unwrap_or(CHANGE_PLAN);
    let report = session(manifest_path, &manifest, &args.opts, |rec, target| {
        lifecycle(rec, target, |rec, target, resource| {
            let machine = args.opts.format != Format::Human;
            command::run(rec, &args.command, &resource.config, machine);
            if !command::interrupted() {
                planchange::run(rec, target, resource, change);
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
    target: &Target,
    steps: impl FnOnce(&mut Recorder, &Target, &Resource),
) {
    let Some(resource) = provision::run(rec, target, PROVISION_PLAN, &Default::default(), 1) else {
        return;
    };
    if !command::interrupted() {
        steps(rec, target, &resource);
    }
    deprovision::run(rec, target, &resource.id, resource.uuid.as_deref());
}

/// Checks the manifest, then (if it passed) runs `calls`; renders the report.
fn session(
    manifest_path: &Path,
    manifest: &Manifest,
    opts: &TestOptions,
    calls: impl FnOnce(&mut Recorder, &Target) -> Option<Resource>,
) -> Result<Report> {
    let target_name = if opts.production {
        "production"
    } else {
        "test"
    };
    let shown = manifest_path.display().to_string();
    let mut reporter: Box<dyn Reporter> = match opts.format {
        Format::Human => Box::new(Human::new(anstream::stdout())),
        Format::Json => Box::new(Json::new(std::io::stdout(), shown.clone(), target_name)),
        Format::Junit => Box::new(Junit::new(std::io::stdout())),
    };
    let mut rec = Recorder::new(reporter.as_mut());
    rec.section(format!("manifest {shown}"));
    for rule in validate::validate(manifest) {
        rec.note(rule.name, rule.verdict);
    }
    let mut resource = None;
    if !rec.failed() {
        if let Some(endpoint) = manifest.endpoint(opts.production) {
            let secrets = [manifest.password(), manifest.sso_salt()]
                .into_iter()
                .flatten()
                .map(str::to_owned)
                .collect();
            // The provider under test can only call back to this machine on test URLs.
            let heroku = (manifest.is_v3() && !opts.production)
                .then(|| FakeHeroku::start(client_secret(manifest_path)))
                .transpose()?;
            let target = Target {
                manifest,
                endpoint,
                production: opts.production,
                client: Client::new(Duration::from_secs(opts.timeout), opts.verbose, secrets),
                heroku,
                force_async: opts.force_async,
                async_timeout: Duration::from_secs(opts.async_timeout),
            };
            resource = calls(&mut rec, &target);
        }
    }
    rec.set_resource(
        resource
            .as_ref()
            .map(|r| json!({"id": r.id, "uuid": r.uuid})),
    );
    let report = rec.finish()?;
    if let (Some(r), Format::Human) = (&report.resource, opts.format) {
        let id = r["id"].as_str().unwrap_or_default();
        let mut out = anstream::stdout();
        // Like the report lines: a closed stdout must not turn a failed run into exit 0.
        let _ = writeln!(
            out,
            "Provisioned resource {id} (uuid {}); it is still there: `kensa test deprovision {id}` removes it",
            r["uuid"].as_str().unwrap_or("?"),
        );
    }
    Ok(report)
}

/// The provider's OAuth client secret, which the fake identity service checks when known:
/// `HEROKU_CLIENT_SECRET` from the environment, else from the `.env` beside the manifest.
fn client_secret(manifest_path: &Path) -> Option<String> {
    if let Some(secret) = std::env::var("HEROKU_CLIENT_SECRET")
        .ok()
        .filter(|s| !s.is_empty())
    {
        return Some(secret);
    }
    let dir = crate::scaffold::writer::parent_of(manifest_path);
    crate::scaffold::dotenv::read_value(&dir, "HEROKU_CLIENT_SECRET")
}

fn exit_code(report: &Report) -> ExitCode {
    if report.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
