//! `kensa templates verify <template>`: proves a template against the protocol, the way
//! a provider's CI would. It generates the template into a temporary directory with
//! `kensa create`'s own code, runs the project's declared commands (template.toml
//! [commands]: `install`, `test`, then `release`), starts its web process with the `.env`
//! and `PORT` in a process group of its own, runs `kensa test all --strict` against it in-process,
//! stops it and removes the directory. Each step is a check (`template.*`) reported with
//! `test all`'s own, in one report. It composes two features, scaffold and check, as
//! `kensa dev` does.

mod project;
mod report;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;

use crate::check::report::{Check, Format, Recorder, Stage};
use crate::check::suite::{self, Hooks, Step as TestStep};
use crate::error::UsageError;
use crate::manifest::{dotenv, DEFAULT_FILE};
use crate::process::procfile_command;
use crate::registry::template as steps;
use crate::registry::CheckDef;
use crate::scaffold::inputs::AddonOptions;
use crate::scaffold::source::{self, Template};
use crate::scaffold::{create, ScaffoldError};
use crate::verdict::Verdict;
use crate::{interrupt, process};
use project::Step;
use report::Output;

/// Deadlines when neither a flag nor the template's [timeouts] gives one, in seconds.
pub const INSTALL_TIMEOUT: u64 = 600;
pub const TEST_TIMEOUT: u64 = 600;
pub const RELEASE_TIMEOUT: u64 = 120;
pub const START_TIMEOUT: u64 = 120;
/// Between SIGTERM and SIGKILL when the service is stopped (Heroku gives a dyno 30).
pub const STOP_GRACE: u64 = 10;

/// What `kensa templates verify` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// An embedded template's name or a template directory.
    pub template: String,
    /// Generate here (absent or empty; kept) instead of a temporary directory.
    pub dir: Option<PathBuf>,
    /// Keep the temporary directory.
    pub keep: bool,
    /// The service's port (default: a free one).
    pub port: Option<u16>,
    /// The add-on id (default: from the project directory's name).
    pub id: Option<String>,
    /// `KEY=VALUE` template variables.
    pub set: Vec<String>,
    pub values_file: Option<PathBuf>,
    /// Runs instead of the template's `install` (a CI machine's own way to install).
    pub install: Option<String>,
    /// `KEY=VALUE` for the release and start commands (config vars such as DATABASE_URL).
    pub env: Vec<(String, String)>,
    /// Seconds, from flags; `None`: the template's [timeouts], else the defaults above.
    pub install_timeout: Option<u64>,
    pub test_timeout: Option<u64>,
    pub release_timeout: Option<u64>,
    pub start_timeout: Option<u64>,
    pub stop_grace: Duration,
    /// `test all`'s deadline of each answer and of the asynchronous callbacks.
    pub answer_timeout: Duration,
    pub async_timeout: Duration,
    pub format: Format,
    /// Stream the commands' output, and kensa's requests, to stderr.
    pub verbose: bool,
}

impl Default for Options {
    fn default() -> Self {
        let test = suite::Options::default();
        Options {
            template: String::new(),
            dir: None,
            keep: false,
            port: None,
            id: None,
            set: Vec::new(),
            values_file: None,
            install: None,
            env: Vec::new(),
            install_timeout: None,
            test_timeout: None,
            release_timeout: None,
            start_timeout: None,
            stop_grace: Duration::from_secs(STOP_GRACE),
            answer_timeout: test.timeout,
            async_timeout: test.async_timeout,
            format: Format::Human,
            verbose: false,
        }
    }
}

/// The project's commands, resolved before anything is generated.
struct Commands {
    install: Option<String>,
    test: Option<String>,
    release: Option<String>,
    start: String,
}

pub fn run(opts: Options) -> Result<ExitCode> {
    interrupt::catch();
    let template = source::resolve(&opts.template, None)?;
    let commands = commands(&template, &opts)?;
    let work = Workspace::new(&opts, &template)?;
    let port = match opts.port {
        Some(port) => port,
        None => free_port()?,
    };
    let project = work.project.clone();
    // Generated first, so that a bad --set or --id is an input error before any report.
    let generated = generate(&opts, &template, &project, port)?;
    let mut out = Output::new(opts.format);
    let report = {
        let lent = out.reporter();
        let mut own = out.reporter();
        // Strict, as `kensa test all --strict` is: a template is what every provider
        // built on it starts from, so its warnings fail too.
        let mut rec = Recorder::new(&mut own).strict(true);
        rec.section(
            Stage::Template,
            format!(
                "template {} in {} (port {port})",
                template.name,
                project.display()
            ),
        );
        rec.record(generated);
        let service = prepare(&mut rec, &opts, &template, &commands, &project, port);
        let mut service_log = Vec::new();
        match service {
            Some(service) => {
                let hooks = Hooks {
                    reporter: Some(Box::new(lent)),
                    ..Hooks::default()
                };
                match suite::test_with(
                    &project.join(DEFAULT_FILE),
                    TestStep::All,
                    &test_options(&opts),
                    hooks,
                ) {
                    Ok(tested) => rec.absorb(tested),
                    Err(e) => rec.note(&steps::TEST_ALL, Verdict::Fail(format!("{e:#}"))),
                }
                service_log = service.tail();
                rec.section(
                    Stage::Template,
                    format!("template {}: stop the service", template.name),
                );
                rec.record(service.stop(opts.stop_grace));
            }
            None => rec.note(&steps::TEST_ALL, Verdict::Skip(not_run_why())),
        }
        let report = rec.finish()?;
        out.set_service_log(service_log);
        report
    };
    let kept = work.finish();
    out.finish(&report, &template.name, &project, kept.as_deref(), port)?;
    Ok(if interrupt::interrupted() {
        ExitCode::from(interrupt::EXIT_CODE)
    } else if report.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Renders the project with `kensa create`'s code: the generate step's check. A render
/// failure is the template's (a failed check); a bad `--set`, `--id` or `--dir` is the
/// user's (an error, exit 2).
fn generate(opts: &Options, template: &Template, project: &Path, port: u16) -> Result<Check> {
    let started = Instant::now();
    let addon = AddonOptions {
        id: opts.id.clone(),
        port: Some(port),
        no_input: true,
        ..AddonOptions::default()
    };
    let verdict = match create::generate(
        project,
        template,
        &addon,
        &opts.set,
        opts.values_file.as_deref(),
    ) {
        Ok(_) => Verdict::Pass,
        Err(e) if matches!(e.downcast_ref(), Some(ScaffoldError::Render(_))) => {
            Verdict::Fail(format!("{e:#}"))
        }
        Err(e) => return Err(e),
    };
    let mut check = Check::new(&steps::GENERATE, verdict);
    check.duration = started.elapsed();
    Ok(check)
}

/// One step before the service starts: what it runs and whether its failure stops the rest.
struct Phase<'a> {
    def: &'static CheckDef,
    /// The `[commands]` key, as the step's output names it.
    key: &'static str,
    command: Option<&'a str>,
    env: &'a [(String, String)],
    timeout: Duration,
    /// Whether a failure skips the later steps. Failed unit tests do not: the service is
    /// still checked (both views of a broken template).
    gates: bool,
    undeclared: &'static str,
}

/// Install, unit tests, release, start: the steps before `test all`. Returns the running
/// service, or `None` when a step it needs failed (later steps are skipped, saying why).
fn prepare(
    rec: &mut Recorder,
    opts: &Options,
    template: &Template,
    commands: &Commands,
    project: &Path,
    port: u16,
) -> Option<project::Service> {
    if rec.failed() {
        skip_all(rec, commands, "the template did not render");
        return None;
    }

    let declared = template.spec.timeouts;
    let dotenv = dotenv::read_all(&project.join(DEFAULT_FILE)).unwrap_or_default();
    register_secrets(&dotenv, &opts.env);
    let mut service_env: Vec<(String, String)> = dotenv;
    service_env.extend(opts.env.iter().cloned());
    // Marks every process the steps start, daemons included, for the stops to find.
    let marker = format!("KENSA_VERIFY_RUN={:016x}", rand::random::<u64>());
    let step = |def, key, command, env, timeout| Step {
        def,
        key,
        command,
        dir: project,
        env,
        timeout,
        verbose: opts.verbose,
        marker: &marker,
    };

    let phases = [
        // Install: nothing later can run without it.
        Phase {
            def: &steps::INSTALL,
            key: "install",
            command: commands.install.as_deref(),
            env: &[],
            timeout: deadline(opts.install_timeout, declared.install, INSTALL_TIMEOUT),
            gates: true,
            undeclared: "template.toml declares no `install` under [commands]",
        },
        Phase {
            def: &steps::UNIT_TESTS,
            key: "test",
            command: commands.test.as_deref(),
            env: &[],
            timeout: deadline(opts.test_timeout, declared.test, TEST_TIMEOUT),
            gates: false,
            undeclared: "template.toml declares no `test` under [commands]",
        },
        // Release: the migrations the service needs.
        Phase {
            def: &steps::RELEASE,
            key: "release",
            command: commands.release.as_deref(),
            env: &service_env,
            timeout: deadline(opts.release_timeout, declared.release, RELEASE_TIMEOUT),
            gates: true,
            undeclared: "template.toml declares no `release` under [commands] and the Procfile \
                         has no release: line",
        },
    ];
    let mut stopped: Option<String> = None;
    for phase in &phases {
        if let Some(why) = &stopped {
            skip(rec, phase.def, phase.command, why);
            continue;
        }
        let check = match phase.command {
            Some(command) => step(phase.def, phase.key, command, phase.env, phase.timeout).run(),
            None => Check::new(phase.def, Verdict::Skip(phase.undeclared.into())),
        };
        let failed = check.verdict.is_fail();
        rec.record(check);
        if phase.gates && failed {
            stopped = Some(format!("{} failed", phase.key));
        } else if interrupt::interrupted() {
            stopped = Some("interrupted".into());
        }
    }
    if let Some(why) = stopped {
        skip(rec, &steps::START, Some(&commands.start), &why);
        return None;
    }

    let mut env = service_env.clone();
    env.push(("PORT".into(), port.to_string()));
    let (check, service) = step(
        &steps::START,
        "start",
        &commands.start,
        &env,
        deadline(opts.start_timeout, declared.start, START_TIMEOUT),
    )
    .start(port);
    rec.record(check);
    service.filter(|_| !interrupt::interrupted())
}

fn skip(rec: &mut Recorder, def: &'static CheckDef, command: Option<&str>, why: &str) {
    let mut check = Check::new(def, Verdict::Skip(format!("not run: {why}")));
    if let Some(command) = command {
        check = check.with_param(command);
    }
    rec.record(check);
}

fn skip_all(rec: &mut Recorder, commands: &Commands, why: &str) {
    skip(rec, &steps::INSTALL, commands.install.as_deref(), why);
    skip(rec, &steps::UNIT_TESTS, commands.test.as_deref(), why);
    skip(rec, &steps::RELEASE, commands.release.as_deref(), why);
    skip(rec, &steps::START, Some(&commands.start), why);
}

/// The secrets the project's commands get, so that every output masks them even when a
/// command prints one: the `.env`'s values (all but the user name, which is the add-on's
/// id) and the passwords in `--env` URLs (`DATABASE_URL=postgres://user:password@…`).
fn register_secrets(dotenv: &[(String, String)], given: &[(String, String)]) {
    let from_dotenv = dotenv
        .iter()
        .filter(|(key, _)| key != "HEROKU_USERNAME")
        .map(|(_, value)| value.clone());
    let from_urls = given.iter().filter_map(|(_, value)| {
        let url = url::Url::parse(value).ok()?;
        url.password().map(str::to_owned)
    });
    crate::redact::register(from_dotenv.chain(from_urls));
}

/// A step's deadline: the flag's when given, else kensa's default or the template's
/// [timeouts] value when that is longer.
fn deadline(flag: Option<u64>, declared: Option<u64>, default: u64) -> Duration {
    Duration::from_secs(flag.unwrap_or_else(|| declared.map_or(default, |d| d.max(default))))
}

/// Why `test all` did not run.
fn not_run_why() -> String {
    if interrupt::interrupted() {
        "not run: interrupted".into()
    } else {
        "not run: the service did not start".into()
    }
}

/// The commands to run: template.toml [commands], the Procfile's `web:` and `release:`
/// lines where it declares none, `--install` over the template's install. A template
/// with no way to start its service cannot be verified: a usage error saying what to add.
fn commands(template: &Template, opts: &Options) -> Result<Commands, UsageError> {
    let declared = &template.spec.commands;
    // A Procfile rendered with tera still names its commands in plain text.
    let procfile = template
        .files
        .iter()
        .find(|f| f.path == "Procfile" || f.path == "Procfile.tera")
        .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())
        .unwrap_or_default();
    let start = declared
        .start
        .clone()
        .or_else(|| procfile_command(&procfile, "web"))
        .ok_or_else(|| {
            UsageError::new(format!(
                "template {} cannot be verified: it declares no way to start its service. Add \
                 the command that runs the web process on $PORT to its template.toml:\n  \
                 [commands]\n  start = \"…\"\n(or a Procfile with a `web: …` line)",
                template.name
            ))
        })?;
    Ok(Commands {
        install: opts.install.clone().or_else(|| declared.install.clone()),
        test: declared.test.clone(),
        release: declared
            .release
            .clone()
            .or_else(|| procfile_command(&procfile, "release")),
        start,
    })
}

fn test_options(opts: &Options) -> suite::Options {
    suite::Options {
        strict: true,
        timeout: opts.answer_timeout,
        async_timeout: opts.async_timeout,
        verbose: opts.verbose,
        ..suite::Options::default()
    }
}

/// Where the project is generated: a directory the user named (kept), or a temporary one
/// (removed at the end unless `--keep`).
struct Workspace {
    temp: Option<tempfile::TempDir>,
    keep: bool,
    project: PathBuf,
}

impl Workspace {
    fn new(opts: &Options, template: &Template) -> Result<Workspace> {
        if let Some(dir) = &opts.dir {
            return Ok(Workspace {
                temp: None,
                keep: true,
                project: dir.clone(),
            });
        }
        let temp = tempfile::Builder::new()
            .prefix("kensa-verify-")
            .tempdir()
            .map_err(|e| anyhow::anyhow!("cannot create a temporary directory: {e}"))?;
        let project = temp.path().join(project_name(template));
        Ok(Workspace {
            temp: Some(temp),
            keep: opts.keep,
            project,
        })
    }

    /// Removes the temporary directory unless it is kept; returns the kept directory.
    fn finish(self) -> Option<PathBuf> {
        match self.temp {
            None => Some(self.project),
            Some(temp) if self.keep => {
                let _ = temp.keep();
                Some(self.project)
            }
            Some(temp) => {
                drop(temp);
                None
            }
        }
    }
}

/// The project directory's name (its last component makes the add-on id): the template's
/// name, or its directory's.
fn project_name(template: &Template) -> String {
    let name = Path::new(&template.name)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match crate::slug::from_text(&name) {
        Some(slug) => slug,
        None => "addon".into(),
    }
}

/// A port nothing listens on, below the kernel's ephemeral range (32768 up), where the
/// ports of other programs' outgoing connections come from.
fn free_port() -> Result<u16> {
    for _ in 0..1000 {
        let port = rand::random_range(20000..32768);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() && !process::answers(port) {
            return Ok(port);
        }
    }
    anyhow::bail!("no free port between 20000 and 32767: give one with --port")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_may_only_lengthen_a_deadline_and_a_flag_wins() {
        assert_eq!(deadline(None, None, 600), Duration::from_secs(600));
        assert_eq!(deadline(None, Some(1800), 600), Duration::from_secs(1800));
        assert_eq!(deadline(None, Some(30), 600), Duration::from_secs(600));
        assert_eq!(deadline(Some(5), Some(1800), 600), Duration::from_secs(5));
    }

    #[test]
    fn secrets_of_the_env_and_of_urls_are_masked() {
        register_secrets(
            &[
                ("HEROKU_USERNAME".into(), "my-addon".into()),
                ("ENCRYPTION_KEY".into(), "verify-test-key-0123".into()),
            ],
            &[
                (
                    "DATABASE_URL".into(),
                    "postgres://u:verify-pw-42@localhost/db".into(),
                ),
                ("ASYNC_DELAY_SECONDS".into(), "5".into()),
            ],
        );
        let masked = crate::redact::mask(
            "my-addon verify-test-key-0123 postgres://u:verify-pw-42@localhost/db delay 5",
        );
        assert!(masked.contains("my-addon"), "{masked}");
        assert!(!masked.contains("verify-test-key-0123"), "{masked}");
        assert!(!masked.contains("verify-pw-42"), "{masked}");
        assert!(masked.contains("delay 5"), "{masked}");
    }
}
