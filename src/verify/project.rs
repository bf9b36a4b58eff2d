//! The generated project's own commands, each a step with a deadline: install, unit tests
//! and release run to their end; the service is started until its port answers, and
//! stopped at the end. Every process runs in a group of its own ([`Group`]), so a deadline
//! or Ctrl-C stops whatever the command started too.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::check::report::Check;
use crate::output::visible;
use crate::process::{self, Group, Sink, Tail, Waited};
use crate::registry::{template as steps, CheckDef};
use crate::verdict::Verdict;

/// One command of the project, as template.toml (or the Procfile) declares it.
pub struct Step<'a> {
    pub def: &'static CheckDef,
    /// `install`, `test`, `release`, `start`: the [commands] key, the `--<key>-timeout` flag
    /// and the [timeouts] key that allow it longer.
    pub key: &'static str,
    pub command: &'a str,
    pub dir: &'a Path,
    /// Added to kensa's own environment.
    pub env: &'a [(String, String)],
    pub timeout: Duration,
    /// Stream the command's output to stderr.
    pub verbose: bool,
}

impl Step<'_> {
    fn check(&self, verdict: Verdict, started: Instant) -> Check {
        let mut check = Check::new(self.def, verdict).with_param(self.command);
        check.duration = started.elapsed();
        check
    }

    fn spawn(&self, tail: &Tail) -> Result<Group, Verdict> {
        Group::spawn(
            self.command,
            self.dir,
            self.env,
            sink(self.key, self.verbose),
            tail,
        )
        .map_err(|e| Verdict::Fail(format!("cannot start `{}`: {e}", self.command)))
    }

    fn too_slow(&self, what: &str, tail: &Tail) -> Verdict {
        Verdict::Fail(format!(
            "`{}` {what} within {} s, so kensa stopped it (--{key}-timeout, or `{key} = <seconds>` \
             under [timeouts] in template.toml, allows longer); its last lines:\n{}",
            self.command,
            self.timeout.as_secs(),
            tail.text(),
            key = self.key,
        ))
    }

    /// Runs the command to its end; passes when it exits 0 within its deadline.
    pub fn run(&self) -> Check {
        let started = Instant::now();
        let tail = Tail::default();
        let mut group = match self.spawn(&tail) {
            Ok(group) => group,
            Err(verdict) => return self.check(verdict, started),
        };
        let verdict = match group.wait(started + self.timeout) {
            Waited::Exited(status) if status.success() => Verdict::Pass,
            Waited::Exited(status) => Verdict::Fail(format!(
                "`{}` failed ({status}); its last lines:\n{}",
                self.command,
                tail.text()
            )),
            Waited::TimedOut => self.too_slow("did not finish", &tail),
            Waited::Interrupted => interrupted(),
            Waited::Ready => unreachable!("a plain wait has nothing to be ready for"),
        };
        // Whatever it left running in its group (a server its tests started) goes too.
        group.stop(Duration::ZERO);
        self.check(verdict, started)
    }

    /// Starts the service (`PORT` is in `env`) and waits until `port` answers. The service
    /// is returned when it answers; on failure it is stopped.
    pub fn start(&self, port: u16) -> (Check, Option<Service>) {
        let started = Instant::now();
        if process::answers(port) {
            let verdict = Verdict::Fail(format!(
                "port {port} is already in use by another process, so the service cannot listen \
                 there: stop it, or give another --port"
            ));
            return (self.check(verdict, started), None);
        }
        let tail = Tail::default();
        let mut group = match self.spawn(&tail) {
            Ok(group) => group,
            Err(verdict) => return (self.check(verdict, started), None),
        };
        let verdict = match group.wait_for_port(port, started + self.timeout) {
            Waited::Ready => {
                let service = Service { group, tail };
                return (self.check(Verdict::Pass, started), Some(service));
            }
            Waited::Exited(status) => Verdict::Fail(format!(
                "`{}` exited ({status}) before it answered on port {port}; its last lines:\n{}",
                self.command,
                tail.text()
            )),
            Waited::TimedOut => self.too_slow(&format!("did not answer on port {port}"), &tail),
            Waited::Interrupted => interrupted(),
        };
        group.stop(Duration::ZERO);
        (self.check(verdict, started), None)
    }
}

/// The running service.
pub struct Service {
    group: Group,
    tail: Tail,
}

impl Service {
    /// Its last lines of output.
    pub fn tail(&self) -> Vec<String> {
        self.tail.lines()
    }

    /// Stops its whole process group: SIGTERM, then SIGKILL after `grace`.
    pub fn stop(mut self, grace: Duration) -> Check {
        let started = Instant::now();
        let stopped = self.group.stop(grace);
        let status = stopped
            .status
            .map_or_else(|| "status unknown".to_owned(), |s| s.to_string());
        let verdict = if stopped.already_exited {
            Verdict::Warn(format!(
                "the service exited on its own ({status}) before kensa stopped it; its last \
                 lines:\n{}",
                self.tail.text()
            ))
        } else if stopped.gracefully {
            Verdict::Pass
        } else {
            Verdict::Warn(format!(
                "its process group was still running {} s after SIGTERM, so kensa killed it \
                 (SIGKILL); Heroku kills a dyno 30 s after SIGTERM (--stop-timeout sets kensa's \
                 grace period)",
                grace.as_secs_f64()
            ))
        };
        let mut check = Check::new(&steps::STOP, verdict);
        check.duration = started.elapsed();
        check
    }
}

fn interrupted() -> Verdict {
    Verdict::Fail("interrupted (Ctrl-C); kensa stopped it".into())
}

/// With `verbose`, each line to stderr after the step's name; else nowhere (the tail keeps
/// the last lines for the report).
fn sink(key: &'static str, verbose: bool) -> Sink {
    if !verbose {
        return process::quiet();
    }
    Arc::new(move |line: &str| {
        let _ = writeln!(anstream::stderr().lock(), "{key:>7} | {}", visible(line));
    })
}
