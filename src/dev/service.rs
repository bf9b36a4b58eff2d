//! The provider's service, run as `heroku local` would: the Procfile's `web` line through
//! `sh`, with the `.env` beside the manifest loaded and `PORT` set, in a process group of
//! its own ([`Group`]) so that stopping it stops its children too. Its output is
//! streamed with a prefix and its last lines kept, to say why it stopped.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::process::{answers, Group, Tail, Waited};
pub use crate::process::{printable, Sink};

/// How long a stopping service gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(5);

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
    group: Option<Group>,
    tail: Tail,
    status: Status,
    /// Why it exited by itself, noticed (by whoever asked its status) and not said yet.
    unsaid_exit: Option<String>,
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
            group: None,
            tail: Tail::default(),
            status: Status::Stopped,
            unsaid_exit: None,
        }
    }

    /// Starts the service and waits until it accepts connections on its port, at most
    /// `wait`. On failure the service is stopped and the error carries its last lines.
    pub fn start(&mut self, wait: Duration) -> Result<(), ServiceError> {
        self.stop();
        self.unsaid_exit = None;
        if answers(self.port) {
            let err = ServiceError::PortInUse { port: self.port };
            self.status = Status::Failed {
                why: err.to_string(),
            };
            return Err(err);
        }
        self.tail.clear();
        self.status = Status::Starting;
        let mut env = self.env.clone();
        env.push(("PORT".into(), self.port.to_string()));
        let mut group = Group::spawn(
            &self.command,
            &self.dir,
            &env,
            self.sink.clone(),
            &self.tail,
        )
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
        let pid = group.id();
        let outcome = match group.wait_for_port(self.port, Instant::now() + wait) {
            Waited::Ready => Ok(()),
            Waited::Exited(status) => Err(ServiceError::Exited {
                status: status.to_string(),
                port: self.port,
                tail: self.tail.text(),
            }),
            Waited::Interrupted => Err(ServiceError::Interrupted),
            Waited::TimedOut => Err(ServiceError::NoAnswer {
                port: self.port,
                secs: wait.as_secs(),
                tail: self.tail.text(),
            }),
        };
        self.group = Some(group);
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

    /// Stops the service and every process of its group: SIGTERM, then SIGKILL after
    /// [`GRACE`]; reaps it. Does nothing when it is not running.
    pub fn stop(&mut self) {
        let Some(mut group) = self.group.take() else {
            return;
        };
        group.stop(GRACE);
        self.status = Status::Stopped;
    }

    /// What it is doing now; notices when it exited on its own.
    pub fn status(&mut self) -> Status {
        if let Some(group) = self.group.as_mut() {
            if let Some(exit) = group.exited() {
                // What it left behind in its group goes too.
                group.stop(Duration::ZERO);
                self.group = None;
                let why = format!("the service exited ({exit})");
                self.unsaid_exit = Some(why.clone());
                self.status = Status::Failed { why };
            }
        }
        self.status.clone()
    }

    /// Why it stopped, once, after it exited by itself (whoever noticed it first), until a
    /// new start.
    pub fn exited_by_itself(&mut self) -> Option<String> {
        self.status();
        self.unsaid_exit.take()
    }

    /// The process group id (= the service's pid) while it runs.
    pub fn group(&self) -> Option<u32> {
        self.group.as_ref().map(Group::id)
    }

    /// Its last lines of output.
    pub fn tail(&self) -> Vec<String> {
        self.tail.lines()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The command of the Procfile's `web:` line.
pub fn web_line(procfile: &str) -> Option<String> {
    crate::process::procfile_command(procfile, "web")
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::process::quiet;

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
