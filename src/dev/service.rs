//! The provider's service, run as `heroku local` would: the Procfile's `web` line through
//! `sh`, with the `.env` beside the manifest loaded and `PORT` set, in a process group of
//! its own so that stopping it stops its children too. Its output is streamed with a
//! prefix and its last lines kept, to say why it stopped.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::interrupt;

/// How many lines of output are kept for reports.
pub const TAIL_LINES: usize = 40;
/// How long a stopping service gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

/// Where the service's output goes, line by line (the session prints it prefixed).
pub type Sink = Arc<dyn Fn(&str) + Send + Sync>;

/// Why the service is not serving.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{} has no `web:` line: kensa dev runs the web process (e.g. `web: node server.js`)", path.display())]
    NoWebLine { path: PathBuf },
    #[error("cannot read {}: {source}", path.display())]
    Procfile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("port {port} is already in use by another process: stop it, or give kensa dev another --port")]
    PortInUse { port: u16 },
    #[error("cannot start `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error(
        "the service exited ({status}) before it answered on port {port}; its last lines:\n{tail}"
    )]
    Exited {
        status: String,
        port: u16,
        tail: String,
    },
    #[error("the service did not answer on port {port} within {secs} s; its last lines:\n{tail}")]
    NoAnswer { port: u16, secs: u64, tail: String },
    #[error("interrupted while the service was starting")]
    Interrupted,
}

/// What the service is doing, for the console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Status {
    Stopped,
    Starting,
    Running {
        pid: u32,
    },
    /// It exited on its own (or never answered): why.
    Failed {
        why: String,
    },
}

pub struct Service {
    dir: PathBuf,
    pub command: String,
    env: Vec<(String, String)>,
    pub port: u16,
    sink: Sink,
    child: Option<Child>,
    tail: Arc<Mutex<VecDeque<String>>>,
    status: Status,
}

impl Service {
    /// The `web` process of the Procfile in `dir`, with `env` (the `.env`) and `PORT`.
    pub fn from_procfile(
        dir: &Path,
        env: Vec<(String, String)>,
        port: u16,
        sink: Sink,
    ) -> Result<Service, ServiceError> {
        let path = dir.join("Procfile");
        let text =
            crate::fsutil::read_input_text(&path).map_err(|source| ServiceError::Procfile {
                path: path.clone(),
                source,
            })?;
        let command = web_line(&text).ok_or(ServiceError::NoWebLine { path })?;
        Ok(Service::new(dir, &command, env, port, sink))
    }

    pub fn new(
        dir: &Path,
        command: &str,
        env: Vec<(String, String)>,
        port: u16,
        sink: Sink,
    ) -> Service {
        Service {
            dir: dir.to_owned(),
            command: command.to_owned(),
            env,
            port,
            sink,
            child: None,
            tail: Arc::default(),
            status: Status::Stopped,
        }
    }

    /// Starts the service and waits until it accepts connections on its port, at most
    /// `wait`. On failure the service is stopped and the error carries its last lines.
    pub fn start(&mut self, wait: Duration) -> Result<(), ServiceError> {
        self.stop();
        if answers(self.port) {
            let err = ServiceError::PortInUse { port: self.port };
            self.status = Status::Failed {
                why: err.to_string(),
            };
            return Err(err);
        }
        self.tail.lock().expect("tail").clear();
        self.status = Status::Starting;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&self.command)
            .current_dir(&self.dir)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("PORT", self.port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|source| {
                let err = ServiceError::Spawn {
                    command: self.command.clone(),
                    source,
                };
                self.status = Status::Failed {
                    why: err.to_string(),
                };
                err
            })?;
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let (sink, tail) = (self.sink.clone(), self.tail.clone());
            std::thread::spawn(move || pump(pipe, &sink, &tail));
        }
        let pid = child.id();
        self.child = Some(child);
        let outcome = self.wait_until_answering(wait);
        match &outcome {
            Ok(()) => self.status = Status::Running { pid },
            Err(err) => {
                let why = err.to_string();
                self.stop();
                self.status = Status::Failed { why };
            }
        }
        outcome
    }

    fn wait_until_answering(&mut self, wait: Duration) -> Result<(), ServiceError> {
        let deadline = Instant::now() + wait;
        loop {
            if answers(self.port) {
                return Ok(());
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                // Let the pumps take in the last lines it wrote.
                std::thread::sleep(Duration::from_millis(100));
                return Err(ServiceError::Exited {
                    status: status.to_string(),
                    port: self.port,
                    tail: self.tail_text(),
                });
            }
            if interrupt::interrupted() {
                return Err(ServiceError::Interrupted);
            }
            if Instant::now() >= deadline {
                return Err(ServiceError::NoAnswer {
                    port: self.port,
                    secs: wait.as_secs(),
                    tail: self.tail_text(),
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the service and every process of its group: SIGTERM, then SIGKILL after
    /// [`GRACE`]; reaps it. Does nothing when it is not running.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let group = child.id() as libc::pid_t;
        signal_group(group, libc::SIGTERM);
        let deadline = Instant::now() + GRACE;
        while Instant::now() < deadline {
            if child.try_wait().ok().flatten().is_some() && !group_alive(group) {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Whatever is left of the group (a child that ignored SIGTERM) goes now.
        signal_group(group, libc::SIGKILL);
        let _ = child.wait();
        self.status = Status::Stopped;
    }

    /// What it is doing now; notices when it exited on its own.
    pub fn status(&mut self) -> Status {
        if let Some(child) = self.child.as_mut() {
            if let Ok(Some(exit)) = child.try_wait() {
                let group = child.id() as libc::pid_t;
                signal_group(group, libc::SIGKILL);
                self.child = None;
                self.status = Status::Failed {
                    why: format!("the service exited ({exit})"),
                };
            }
        }
        self.status.clone()
    }

    /// The process group id (= the service's pid) while it runs.
    pub fn group(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Its last lines of output.
    pub fn tail(&self) -> Vec<String> {
        self.tail.lock().expect("tail").iter().cloned().collect()
    }

    fn tail_text(&self) -> String {
        let lines = self.tail();
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
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The command of the Procfile's `web:` line.
pub fn web_line(procfile: &str) -> Option<String> {
    procfile
        .lines()
        .filter_map(|line| line.trim().strip_prefix("web:"))
        .map(|command| command.trim().to_owned())
        .find(|command| !command.is_empty())
}

/// Whether something accepts connections on 127.0.0.1:`port`.
pub fn answers(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
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

/// Copies one output pipe to the sink line by line, keeping the last [`TAIL_LINES`].
fn pump(pipe: Box<dyn Read + Send>, sink: &Sink, tail: &Mutex<VecDeque<String>>) {
    let mut reader = BufReader::new(pipe);
    let mut line = Vec::new();
    while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
        let text = printable(&String::from_utf8_lossy(&line));
        sink(&text);
        let mut kept = tail.lock().expect("tail");
        if kept.len() == TAIL_LINES {
            kept.pop_front();
        }
        kept.push_back(text);
        line.clear();
    }
}

/// The service's text, safe for a terminal: no line ends, no control characters (an
/// escape sequence could move the cursor or retitle the window), tabs kept.
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

    fn quiet() -> Sink {
        Arc::new(|_: &str| {})
    }

    fn free_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    }

    #[test]
    fn the_web_line_is_found() {
        assert_eq!(
            web_line("worker: x\nweb:  node server.js \n").as_deref(),
            Some("node server.js")
        );
        assert_eq!(web_line("worker: x\n"), None);
        assert_eq!(web_line("web:\n"), None);
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
    fn a_service_that_exits_early_is_reported_with_its_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut service = Service::new(
            dir.path(),
            "echo starting; echo 'boom: cannot load config' >&2; exit 3",
            vec![],
            free_port(),
            quiet(),
        );
        let err = service.start(Duration::from_secs(10)).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("exited (exit status: 3)"), "{text}");
        assert!(text.contains("boom: cannot load config"), "{text}");
        assert!(matches!(service.status(), Status::Failed { .. }));
    }
}
