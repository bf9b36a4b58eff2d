//! `kensa dev` as a child process: its output collected as it comes, its console's
//! address read from what it prints, and small HTTP helpers for the console's API. Self-
//! contained (std, serde_json, libc), so the node test target can include it too.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long any one wait of these tests may take before the test fails (not a speed
/// test: a hang guard).
pub const WAIT: Duration = Duration::from_secs(30);

/// The kensa binary under test.
pub fn kensa_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kensa"))
}

/// A port for a test's service, nothing listening on it, below the kernel's ephemeral range
/// (32768 up on Linux) and below the range `kensa templates verify` picks from (20000 up).
/// A port from binding port 0 and letting it go is an ephemeral one: kensa dev's local
/// Heroku and console, bound to port 0 too, were sometimes given the same port before the
/// service took it.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let clock = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let start = std::process::id().wrapping_mul(7919) ^ clock;
    for _ in 0..10_000 {
        let n = start.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed).wrapping_mul(101));
        let port = 10_000 + (n % 10_000) as u16;
        let bindable = std::net::TcpListener::bind(("127.0.0.1", port)).is_ok();
        if bindable && TcpStream::connect(("127.0.0.1", port)).is_err() {
            return port;
        }
    }
    panic!("no free port between 10000 and 19999")
}

/// `kensa dev --no-open` in `dir`, hermetic (only `PATH`; `HOME` is `dir`), no colour.
pub fn dev_command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(kensa_bin());
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("NO_COLOR", "1")
        .current_dir(dir)
        .arg("dev")
        .arg("--no-open")
        .args(args);
    cmd
}

pub struct DevProcess {
    pub child: Child,
    output: Arc<Mutex<String>>,
    /// `http://127.0.0.1:<port>`
    pub console: String,
    pub token: String,
}

impl DevProcess {
    /// Spawns `cmd` (stdin: nothing, as in CI) and waits for the console's address.
    pub fn spawn(mut cmd: Command) -> DevProcess {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kensa starts");
        let output = Arc::new(Mutex::new(String::new()));
        for pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = output.clone();
            std::thread::spawn(move || {
                let mut pipe = pipe;
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    output
                        .lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        let mut dev = DevProcess {
            child,
            output,
            console: String::new(),
            token: String::new(),
        };
        let line = dev.wait_for("console:");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://127.0.0.1:"))
            .unwrap_or_else(|| panic!("no console address in {line:?}"))
            .to_owned();
        let (base, token) = url.split_once("/?token=").expect("a token in the address");
        dev.console = base.to_owned();
        dev.token = token.to_owned();
        dev
    }

    pub fn output(&self) -> String {
        self.output.lock().unwrap().clone()
    }

    /// Waits until the output has `needle`; returns the line holding it.
    pub fn wait_for(&self, needle: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let out = self.output();
            if let Some(line) = out.lines().find(|l| l.contains(needle)) {
                return line.to_owned();
            }
            if Instant::now() >= deadline {
                panic!("kensa dev never printed {needle:?}; it printed:\n{out}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One request to the console, as written (`head` without the Host line unless it has
    /// one); returns the status and body.
    pub fn raw(&self, head: &str, body: &str) -> (u16, String) {
        let addr = self.console.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let host = if head.to_ascii_lowercase().contains("\r\nhost:") {
            String::new()
        } else {
            format!("Host: {addr}\r\n")
        };
        let request = format!(
            "{head}\r\n{host}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut text = String::new();
        stream.read_to_string(&mut text).unwrap();
        let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        (status, body.to_owned())
    }

    /// A call of the console's API with the session's token.
    pub fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nX-Kensa-Token: {}\r\nContent-Type: application/json",
            self.token
        );
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let (status, text) = self.raw(&head, &body);
        let value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"));
        (status, value)
    }

    pub fn state(&self) -> Value {
        let (status, state) = self.api("GET", "/api/state", None);
        assert_eq!(status, 200, "{state}");
        state
    }

    /// Polls the state until `done` holds for it; returns it.
    pub fn state_until(&self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let state = self.state();
            if done(&state) {
                return state;
            }
            if Instant::now() >= deadline {
                panic!("never {what}; state: {state:#}\noutput:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits for kensa to exit; its status code.
    pub fn wait_exit(&mut self) -> i32 {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("kensa dev did not exit; output:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child.
        unsafe {
            libc::kill(self.child.id() as i32, signal);
        }
    }
}

/// The console's event stream, read event by event.
pub struct Events {
    stream: TcpStream,
    seen: String,
}

impl Events {
    /// Reads until an event for which `done` holds (each event's text: `event: …\ndata: …`);
    /// returns it. Fails after [`WAIT`].
    pub fn until(&mut self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + WAIT;
        let mut buf = [0u8; 8192];
        loop {
            if let Some(event) = self.seen.split("\n\n").find(|e| done(e)) {
                return event.to_owned();
            }
            assert!(Instant::now() < deadline, "never {what}: {}", self.seen);
            let n = self.stream.read(&mut buf).expect("the stream answers");
            assert!(n > 0, "the stream ended before {what}: {}", self.seen);
            self.seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    }
}

impl DevProcess {
    /// Opens the console's event stream.
    pub fn events(&self) -> Events {
        let addr = self.console.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        write!(
            stream,
            "GET /api/events?token={} HTTP/1.1\r\nHost: {addr}\r\n\r\n",
            self.token
        )
        .unwrap();
        Events {
            stream,
            seen: String::new(),
        }
    }
}

impl Drop for DevProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.signal(libc::SIGTERM);
            let _ = self.wait_exit();
        }
    }
}

/// Whether any process of group `pgid` is still running (zombies waiting for a reaper
/// do not count), read from /proc.
pub fn group_alive(pgid: i32) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let mut fields = rest.split_whitespace();
        let state = fields.next().unwrap_or("Z");
        let pgrp = fields.nth(1).and_then(|p| p.parse::<i32>().ok());
        pgrp == Some(pgid) && state != "Z" && state != "X"
    })
}

/// Waits until the process group is gone; false if it is still there after [`WAIT`].
pub fn group_gone(pgid: i32) -> bool {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if !group_alive(pgid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
