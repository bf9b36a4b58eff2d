//! Child processes kensa runs for the provider (its service, its install and test commands)
//! in a process group of their own, so that stopping one stops everything it started:
//! `sh -c <command>` with output pumped line by line to a sink and its last lines kept,
//! waits bounded by a deadline and by Ctrl-C ([`interrupt`]), and a stop that sends SIGTERM
//! to the group, then SIGKILL to what is left after a grace period.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::interrupt;

/// How many lines of output a [`Tail`] keeps.
pub const TAIL_LINES: usize = 40;

/// Where a process's output goes, line by line, made safe for a terminal ([`printable`]).
pub type Sink = Arc<dyn Fn(&str) + Send + Sync>;

/// A sink that drops every line (the [`Tail`] still keeps the last ones).
pub fn quiet() -> Sink {
    Arc::new(|_: &str| {})
}

/// The last [`TAIL_LINES`] lines a process printed (stdout and stderr as they came). It
/// outlives the process, to say why it stopped.
#[derive(Debug, Clone, Default)]
pub struct Tail(Arc<Mutex<VecDeque<String>>>);

impl Tail {
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().expect("tail").iter().cloned().collect()
    }

    pub fn clear(&self) {
        self.0.lock().expect("tail").clear();
    }

    /// The lines indented by two spaces, one per line, for an error message.
    pub fn text(&self) -> String {
        let lines = self.lines();
        if lines.is_empty() {
            "  (it printed nothing)".into()
        } else {
            lines
                .iter()
                .map(|l| format!("  {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        }
    }

    fn push(&self, line: String) {
        let mut kept = self.0.lock().expect("tail");
        if kept.len() == TAIL_LINES {
            kept.pop_front();
        }
        kept.push_back(line);
    }
}

/// How a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waited {
    /// What was waited for happened (the port answers).
    Ready,
    /// The process exited (before the port answered, for [`Group::wait_for_port`]).
    Exited(ExitStatus),
    /// The deadline passed first.
    TimedOut,
    /// Ctrl-C (after [`interrupt::catch`]).
    Interrupted,
}

/// How a stop went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped {
    /// The leader's exit status; `None` when it could not be reaped.
    pub status: Option<ExitStatus>,
    /// Whether the whole group was gone before the grace period ended (else SIGKILL).
    pub gracefully: bool,
    /// Whether the leader had exited before the stop began.
    pub already_exited: bool,
}

/// `sh -c <command>` running in a process group of its own (its pid is the group's id).
pub struct Group {
    child: Option<Child>,
    pumps: Vec<JoinHandle<()>>,
}

impl Group {
    /// Starts `command` through `sh` in `dir` with `env` added to kensa's environment;
    /// stdin reads nothing; stdout and stderr go to `sink` and `tail` line by line.
    pub fn spawn(
        command: &str,
        dir: &Path,
        env: &[(String, String)],
        sink: Sink,
        tail: &Tail,
    ) -> std::io::Result<Group> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(dir)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()?;
        let pipes = [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ];
        let pumps = pipes
            .into_iter()
            .flatten()
            .map(|pipe| {
                let (sink, tail) = (sink.clone(), tail.clone());
                std::thread::spawn(move || pump(pipe, &sink, &tail))
            })
            .collect();
        Ok(Group {
            child: Some(child),
            pumps,
        })
    }

    /// The process group's id (the leader's pid).
    pub fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// The leader's exit status, once it exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    /// Waits for the leader to exit, at most until `deadline` or Ctrl-C.
    pub fn wait(&mut self, deadline: Instant) -> Waited {
        self.wait_until(deadline, || false)
    }

    /// Waits until something accepts connections on the loopback `port`, at most until
    /// `deadline` or Ctrl-C; reports an exit of the leader before that.
    pub fn wait_for_port(&mut self, port: u16, deadline: Instant) -> Waited {
        self.wait_until(deadline, || answers(port))
    }

    fn wait_until(&mut self, deadline: Instant, ready: impl Fn() -> bool) -> Waited {
        loop {
            if ready() {
                return Waited::Ready;
            }
            if let Some(status) = self.exited() {
                self.settle_output();
                return Waited::Exited(status);
            }
            if interrupt::interrupted() {
                return Waited::Interrupted;
            }
            if Instant::now() >= deadline {
                return Waited::TimedOut;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Lets the pumps take in the last lines a process that exited wrote (a child it
    /// left behind may hold the pipes open: waits 200 ms at most).
    fn settle_output(&mut self) {
        let until = Instant::now() + Duration::from_millis(200);
        while Instant::now() < until && !self.pumps.iter().all(JoinHandle::is_finished) {
            std::thread::sleep(Duration::from_millis(10));
        }
        self.pumps.retain(|p| !p.is_finished());
    }

    /// Stops every process of the group: SIGTERM, then SIGKILL to whatever is left after
    /// `grace`; reaps the leader. A second stop does nothing.
    pub fn stop(&mut self, grace: Duration) -> Stopped {
        let Some(mut child) = self.child.take() else {
            return Stopped {
                status: None,
                gracefully: true,
                already_exited: true,
            };
        };
        let already_exited = child.try_wait().ok().flatten().is_some();
        let group = child.id() as libc::pid_t;
        signal_group(group, libc::SIGTERM);
        let deadline = Instant::now() + grace;
        let mut gracefully = false;
        while Instant::now() < deadline {
            if child.try_wait().ok().flatten().is_some() && !group_alive(group) {
                gracefully = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Whatever is left of the group (a child that ignored SIGTERM) goes now.
        signal_group(group, libc::SIGKILL);
        let status = child.wait().ok();
        self.settle_output();
        Stopped {
            status,
            gracefully,
            already_exited,
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
    }
}

/// The command of a Procfile's process type (`web`, `release`), as `heroku local` and
/// Heroku read it: the first non-empty `<kind>:` line.
pub fn procfile_command(procfile: &str, kind: &str) -> Option<String> {
    procfile
        .lines()
        .filter_map(|line| line.trim().strip_prefix(kind)?.strip_prefix(':'))
        .map(|command| command.trim().to_owned())
        .find(|command| !command.is_empty())
}

/// Whether something accepts connections on the loopback `port` (IPv4 or IPv6).
pub fn answers(port: u16) -> bool {
    let connects =
        |addr: SocketAddr| TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok();
    connects(SocketAddr::from(([127, 0, 0, 1], port)))
        || connects(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port)))
}

fn signal_group(group: libc::pid_t, signal: libc::c_int) {
    if group > 0 {
        // SAFETY: kill(2) with a negative pid signals the process group; no memory involved.
        unsafe {
            libc::kill(-group, signal);
        }
    }
}

/// Whether any process of the group is still running. A zombie (dead, not yet reaped by
/// whoever inherited it) does not count: it holds no port and runs no code.
pub fn group_alive(group: libc::pid_t) -> bool {
    if group <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the group exists and may be signalled.
    if unsafe { libc::kill(-group, 0) } != 0 {
        return false;
    }
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return true; // no /proc: the signal's answer is all there is
    };
    procs.flatten().any(|entry| {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // pid (comm) state ppid pgrp …; comm may hold spaces, so read after the last ')'.
        let mut fields = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace();
        let state = fields.next().unwrap_or("Z");
        let pgrp = fields.nth(1).and_then(|p| p.parse::<libc::pid_t>().ok());
        pgrp == Some(group) && state != "Z" && state != "X"
    })
}

/// A process that carries a marker in its environment: something kensa's commands started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marked {
    pub pid: libc::pid_t,
    /// Its command line, as `ps` shows it.
    pub command: String,
}

/// The running processes (kensa itself aside) whose environment holds `marker`, a
/// `KEY=VALUE` kensa gave the commands it ran: what they started, even what left their
/// process group (`setsid`, a double fork: a daemon) and so outlives a group stop.
pub fn marked(marker: &str) -> Vec<Marked> {
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let own = std::process::id();
    procs
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            if pid == own {
                return None;
            }
            let environ = std::fs::read(entry.path().join("environ")).ok()?;
            if !environ.split(|b| *b == 0).any(|v| v == marker.as_bytes()) {
                return None;
            }
            let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
            let state = stat
                .rsplit_once(')')
                .map_or("", |(_, rest)| rest.trim_start());
            if state.starts_with(['Z', 'X']) {
                return None;
            }
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let command = String::from_utf8_lossy(&cmdline)
                .split('\0')
                .filter(|a| !a.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            Some(Marked {
                pid: pid as libc::pid_t,
                command: printable(&crate::redact::mask(&command)),
            })
        })
        .collect()
}

/// Stops every process [`marked`] with `marker`: SIGTERM, then SIGKILL to what is left after
/// `grace`. Returns what was running.
pub fn stop_marked(marker: &str, grace: Duration) -> Vec<Marked> {
    let found = marked(marker);
    if found.is_empty() {
        return found;
    }
    let signal = |signal: libc::c_int| {
        for process in marked(marker) {
            // SAFETY: kill(2) on a pid; no memory involved.
            unsafe {
                libc::kill(process.pid, signal);
            }
        }
    };
    signal(libc::SIGTERM);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline && !marked(marker).is_empty() {
        std::thread::sleep(Duration::from_millis(50));
    }
    signal(libc::SIGKILL);
    found
}

/// Copies one output pipe to the sink line by line, keeping the last lines in `tail`.
fn pump(pipe: Box<dyn Read + Send>, sink: &Sink, tail: &Tail) {
    let mut reader = BufReader::new(pipe);
    let mut line = Vec::new();
    while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
        let text = printable(&crate::redact::mask(&String::from_utf8_lossy(&line)));
        sink(&text);
        tail.push(text);
        line.clear();
    }
}

/// A process's text, safe for a terminal: no line ends, no control characters (an escape
/// sequence could move the cursor or retitle the window), tabs kept.
pub fn printable(line: &str) -> String {
    let line = line.trim_end_matches(['\n', '\r']);
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // Drop a whole CSI sequence (colours): ESC [ params final-byte.
            if chars.peek() == Some(&'[') {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            continue;
        }
        if c == '\t' || !c.is_control() {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(20)
    }

    #[test]
    fn procfile_lines_are_found_by_kind() {
        let procfile = "release: rake db:migrate\nworker: x\nweb:  node server.js \nwebby: no\n";
        assert_eq!(
            procfile_command(procfile, "web").as_deref(),
            Some("node server.js")
        );
        assert_eq!(
            procfile_command(procfile, "release").as_deref(),
            Some("rake db:migrate")
        );
        assert_eq!(procfile_command("web:\n", "web"), None);
        assert_eq!(procfile_command("webby: x\n", "web"), None);
    }

    #[test]
    fn output_is_made_safe_for_a_terminal() {
        assert_eq!(
            printable("\u{1b}[31mred\u{1b}[0m\ttab\u{7}\r\n"),
            "red\ttab"
        );
        assert_eq!(printable("a\u{1b}]0;title\u{7}b"), "a]0;titleb");
    }

    #[test]
    fn a_finished_command_reports_its_status_and_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let tail = Tail::default();
        let mut group = Group::spawn(
            "echo one; echo two >&2; exit 3",
            dir.path(),
            &[],
            quiet(),
            &tail,
        )
        .unwrap();
        let Waited::Exited(status) = group.wait(far()) else {
            panic!("it exits")
        };
        assert_eq!(status.code(), Some(3));
        let mut lines = tail.lines();
        lines.sort();
        assert_eq!(lines, ["one", "two"]);
    }

    #[test]
    fn the_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let tail = Tail::default();
        let mut group = Group::spawn(
            "i=0; while [ $i -lt 100 ]; do i=$((i+1)); echo line $i; done",
            dir.path(),
            &[],
            quiet(),
            &tail,
        )
        .unwrap();
        assert!(matches!(group.wait(far()), Waited::Exited(_)));
        let lines = tail.lines();
        assert_eq!(lines.len(), TAIL_LINES);
        assert_eq!(lines.last().map(String::as_str), Some("line 100"));
    }

    #[test]
    fn a_deadline_ends_the_wait_and_stop_ends_the_whole_group() {
        let dir = tempfile::tempdir().unwrap();
        let tail = Tail::default();
        // A child that ignores SIGTERM, and a leader that waits for it.
        let mut group = Group::spawn(
            "sh -c 'trap \"\" TERM; echo ready; sleep 30' & wait",
            dir.path(),
            &[],
            quiet(),
            &tail,
        )
        .unwrap();
        let pgid = group.id() as libc::pid_t;
        let soon = Instant::now() + Duration::from_millis(300);
        assert_eq!(group.wait(soon), Waited::TimedOut);
        let stopped = group.stop(Duration::from_millis(300));
        assert!(!stopped.gracefully, "the child ignored SIGTERM");
        assert!(!group_alive(pgid));
        assert_eq!(group.stop(Duration::ZERO).status, None, "stopped once");
    }
}
