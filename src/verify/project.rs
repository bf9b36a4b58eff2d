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
    /// `KEY=VALUE` put in the command's environment, so that what it leaves running is
    /// found and stopped even outside its process group ([`process::marked`]).
    pub marker: &'a str,
}

impl Step<'_> {
    fn check(&self, verdict: Verdict, started: Instant) -> Check {
        let mut check = Check::new(self.def, verdict).with_param(self.command);
        check.duration = started.elapsed();
        check
    }

    fn spawn(&self, tail: &Tail) -> Result<Group, Verdict> {
        let mut env = self.env.to_vec();
        if let Some((key, value)) = self.marker.split_once('=') {
            env.push((key.to_owned(), value.to_owned()));
        }
        Group::spawn(
            self.command,
            self.dir,
            &env,
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
        // Whatever it left running (a server its tests started) goes too, in its group
        // or out of it.
        group.stop(Duration::ZERO);
        process::stop_marked(self.marker, Duration::ZERO);
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
                let service = Service {
                    group,
                    tail,
                    marker: self.marker.to_owned(),
                };
                return (self.check(Verdict::Pass, started), Some(service));
            }
            Waited::Exited(status) => Verdict::Fail(format!(
                "`{}` exited ({status}) before it answered on port {port}{}; its last lines:\n{}",
                self.command,
                if status.success() { FOREGROUND } else { "" },
                tail.text()
            )),
            Waited::TimedOut => self.too_slow(&format!("did not answer on port {port}"), &tail),
            Waited::Interrupted => interrupted(),
        };
        group.stop(Duration::ZERO);
        process::stop_marked(self.marker, Duration::ZERO);
        (self.check(verdict, started), None)
    }
}

/// Why a start command must not exit: Heroku runs the web process in the foreground and
/// takes its exit for a crash.
const FOREGROUND: &str = " (a web process runs in the foreground until it is stopped; one \
    that starts the server in the background and exits, with `&`, `nohup`, `setsid` or a \
    daemon option, looks crashed to Heroku)";

/// The running service.
pub struct Service {
    group: Group,
    tail: Tail,
    marker: String,
}

impl Service {
    /// Its last lines of output.
    pub fn tail(&self) -> Vec<String> {
        self.tail.lines()
    }

    /// Stops its whole process group: SIGTERM, then SIGKILL after `grace`; then whatever
    /// it started that left the group (a daemon), the same way.
    pub fn stop(mut self, grace: Duration) -> Check {
        let started = Instant::now();
        let group_ran = process::group_alive(self.group.id() as libc::pid_t);
        let stopped = self.group.stop(grace);
        let strays = process::stop_marked(&self.marker, grace);
        let status = stopped
            .status
            .map_or_else(|| "status unknown".to_owned(), |s| s.to_string());
        let verdict = if !strays.is_empty() {
            let list: Vec<String> = strays
                .iter()
                .map(|p| format!("  pid {}: {}", p.pid, p.command))
                .collect();
            Verdict::Warn(format!(
                "processes it started had left its process group, so stopping the group did \
                 not stop them (the start command ended: {status}); kensa stopped them \
                 itself{FOREGROUND}:\n{}",
                list.join("\n")
            ))
        } else if stopped.already_exited && group_ran {
            Verdict::Warn(format!(
                "the start command exited ({status}) while what it started kept serving{FOREGROUND}"
            ))
        } else if stopped.already_exited {
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
