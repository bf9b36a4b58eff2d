//! The one harness every integration test uses: the hermetic `kensa` command (built one
//! way, bounded by one hang guard), the fixture manifest, and the two ways to drive kensa:
//! [`Test`] (files in, files out, for scaffolding and input errors) and [`Sim`] (a stub
//! provider and a manifest pointing at it, for the simulator).
//!
//! Hermetic means: the environment is cleared except `PATH`, `HOME` is the test's temp dir
//! (so `NO_COLOR`, `CLICOLOR_FORCE`, `KENSA_MANIFEST`, `CI`, a `~/.netrc` and friends from
//! the developer's machine cannot leak in), and kensa runs in that directory.

#![allow(dead_code)] // each test module uses a different part of the toolbox

pub mod assertions;
pub mod dev;
pub mod fixture;
pub mod git;
pub mod junit;
pub mod library;
pub mod sim;
mod test;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output as ProcessOutput, Stdio};
use std::time::{Duration, Instant};

pub use assertions::*;
pub use sim::{assert_declared, v1_warning, Run, Sim};
pub use test::{Output, Test};

/// A hang guard, not a speed test: every kensa run in these tests finishes in seconds
/// (the slowest wait out a short `--async-timeout`), so one still running after this long
/// is stuck, and the test fails instead of hanging CI. Prompts on a pseudo-terminal wait
/// at most this long for each expected screen.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// The manifest's default file name, where kensa looks without `-f`.
pub const MANIFEST: &str = "addon-manifest.json";

/// The templates embedded in kensa, in the order `kensa templates` lists them.
pub const TEMPLATES: [&str; 4] = ["clojure", "node", "rust-axum", "sinatra"];

/// What Heroku's Platform API and the add-ons service require in `Accept`, as the fakes
/// of both check it.
pub const PLATFORM_API_ACCEPT: &str = "application/vnd.heroku+json; version=3";

/// The kensa binary under test.
pub fn kensa_bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("kensa")
}

/// Makes `cmd` hermetic: only `PATH` from this environment, `home` as `HOME` and as the
/// working directory. Add what a test needs with `.env(…)` afterwards.
pub fn hermetic<'c>(cmd: &'c mut Command, home: &Path) -> &'c mut Command {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .current_dir(home)
}

/// `kensa` in `home`, hermetic. stdin is left to the caller: a pipe or `null` (never a
/// terminal, so kensa never prompts), or a pseudo-terminal for the wizard's tests.
pub fn kensa(home: &Path) -> Command {
    let mut cmd = Command::new(kensa_bin());
    hermetic(&mut cmd, home);
    cmd
}

/// Runs `cmd` to the end, killing it after [`TIMEOUT`]. A killed run has no exit code.
pub fn output(cmd: Command) -> ProcessOutput {
    assert_cmd::Command::from_std(cmd)
        .timeout(TIMEOUT)
        .output()
        .unwrap()
}

/// Runs `cmd` with this stdout (a closed pipe, say) and stderr captured, killing it after
/// [`TIMEOUT`]; the output's `stdout` is empty.
pub fn output_to(mut cmd: Command, stdout: Stdio) -> ProcessOutput {
    let mut child = cmd.stdout(stdout).stderr(Stdio::piped()).spawn().unwrap();
    let mut pipe = child.stderr.take().unwrap();
    // Drained while the child runs, so a full pipe cannot stall it.
    let stderr = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    });
    let status = wait(&mut child);
    ProcessOutput {
        status,
        stdout: Vec::new(),
        stderr: stderr.join().unwrap(),
    }
}

/// Waits for `child` to exit; after [`TIMEOUT`] kills it and fails the test.
pub fn wait(child: &mut Child) -> ExitStatus {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kensa did not exit within {TIMEOUT:?}: it hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// [`TIMEOUT`] in the milliseconds rexpect counts in.
pub fn pty_timeout_ms() -> u64 {
    TIMEOUT.as_millis() as u64
}

/// The root of the kensa checkout (templates, sources, docs).
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}
