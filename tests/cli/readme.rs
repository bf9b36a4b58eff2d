//! The README's shell blocks, run as a newcomer pastes them (issue 15). A block is tested
//! when an HTML comment right before it says how:
//!
//! - `<!-- readme-test -->`: a step of the walkthrough ("Get started"), run in order in one
//!   home directory, each block in a new shell starting there (a block that needs another
//!   directory says `cd` itself, as a second terminal would);
//! - `<!-- readme-test: install -->`: the step that installs kensa, run in the repository;
//! - `<!-- readme-test: network -->`: a step that needs a package registry;
//! - `<!-- readme-test: background, waits for http://HOST:PORT -->`: a service left running
//!   ("leave it running"): started in the background, waited for until the URL's port
//!   accepts connections, stopped at the end;
//! - `<!-- readme-test: alone -->`: an example block, run on its own in a fresh home;
//! - `<!-- readme-test: each line -->`: example lines, each run on its own in a fresh home.
//!
//! `cargo test` runs the walkthrough up to its first `network` step, with the kensa under
//! test on `PATH` in place of the install step, and every example block: no network. The
//! whole walkthrough, the real install (a release build into the temporary home's
//! `.cargo/bin`) and the registry included, is [`readme_walkthrough_for_real`], which
//! `.ci/run` runs (`cargo test --locked --test cli readme -- --ignored`).

use std::fs;
use std::io::Read;
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::harness::{self, repo};

const MARKER: &str = "<!-- readme-test";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A walkthrough step.
    Step,
    /// An example block run on its own.
    Alone,
    /// Example lines, each on its own.
    EachLine,
}

#[derive(Debug, Clone)]
struct Block {
    /// README line of the block's first command.
    line: usize,
    kind: Kind,
    install: bool,
    network: bool,
    /// For a background step: what it serves, `host:port`.
    waits_for: Option<String>,
    script: String,
}

impl Block {
    fn name(&self) -> String {
        format!("README.md:{} ({:?})", self.line, self.kind)
    }
}

/// Every marked block of the README, in order. A marker not followed by a `sh` block, or
/// with a word this module does not know, fails: the extraction is explicit.
fn blocks() -> Vec<Block> {
    let text = fs::read_to_string(repo().join("README.md")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        i += 1;
        let Some(rest) = line.strip_prefix(MARKER) else {
            continue;
        };
        let words = rest
            .strip_suffix("-->")
            .unwrap_or_else(|| panic!("README.md:{i}: a marker is one line: {line}"))
            .trim()
            .trim_start_matches(':');
        let mut block = Block {
            line: i + 2,
            kind: Kind::Step,
            install: false,
            network: false,
            waits_for: None,
            script: String::new(),
        };
        let mut background = false;
        for word in words.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match word {
                "install" => block.install = true,
                "network" => block.network = true,
                "alone" => block.kind = Kind::Alone,
                "each line" => block.kind = Kind::EachLine,
                "background" => background = true,
                w if w.starts_with("waits for ") => {
                    let url = w.trim_start_matches("waits for ").trim();
                    let url = url::Url::parse(url)
                        .unwrap_or_else(|e| panic!("README.md:{i}: {url:?}: {e}"));
                    block.waits_for = Some(format!(
                        "{}:{}",
                        url.host_str().unwrap(),
                        url.port_or_known_default().unwrap()
                    ));
                }
                other => panic!("README.md:{i}: unknown readme-test word {other:?}"),
            }
        }
        assert_eq!(
            background,
            block.waits_for.is_some(),
            "README.md:{i}: a background step says what it waits for, and only it does"
        );
        assert_eq!(
            lines.get(i).map(|l| l.trim()),
            Some("```sh"),
            "README.md:{i}: a readme-test marker must come right before a ```sh block"
        );
        i += 1;
        while i < lines.len() && lines[i].trim() != "```" {
            block.script.push_str(lines[i]);
            block.script.push('\n');
            i += 1;
        }
        blocks.push(block);
    }
    blocks
}

fn walkthrough() -> Vec<Block> {
    let steps: Vec<Block> = blocks()
        .into_iter()
        .filter(|b| b.kind == Kind::Step)
        .collect();
    assert!(
        steps.iter().filter(|b| b.install).count() == 1,
        "the walkthrough installs kensa once: {steps:#?}"
    );
    assert!(
        steps.iter().any(|b| b.waits_for.is_some()),
        "the walkthrough starts a service: {steps:#?}"
    );
    assert!(
        steps.last().unwrap().script.contains("kensa "),
        "the walkthrough ends with kensa against the service"
    );
    steps
}

/// A shell for a newcomer: a home of its own (an empty temporary directory), a `PATH` with
/// kensa on it, and little else from this environment.
struct Newcomer {
    home: TempDir,
    path: String,
    env: Vec<(String, String)>,
    services: Vec<Child>,
}

impl Newcomer {
    /// The kensa under test on `PATH`, in place of the install step.
    fn with_kensa_under_test() -> Newcomer {
        let home = tempfile::Builder::new()
            .prefix("kensa-readme-")
            .tempdir()
            .unwrap();
        let bin_dir = harness::kensa_bin().parent().unwrap().to_owned();
        let path = join_path(&[bin_dir], &std::env::var("PATH").unwrap_or_default());
        Newcomer {
            home,
            path,
            env: Vec::new(),
            services: Vec::new(),
        }
    }

    /// For the whole walkthrough: the install step builds kensa into this home's
    /// `~/.cargo/bin`, first on `PATH` as rustup sets it up, with the toolchain and the
    /// crates cache of this machine; a cache for npm when one is given.
    fn from_scratch() -> Newcomer {
        let mut newcomer = Newcomer::with_kensa_under_test();
        let real_home = PathBuf::from(std::env::var("HOME").unwrap_or_default());
        let own_bin = newcomer.home.path().join(".cargo/bin");
        let rest: Vec<PathBuf> = std::env::split_paths(&std::env::var_os("PATH").unwrap())
            .filter(|d| d != harness::kensa_bin().parent().unwrap())
            .collect();
        newcomer.path = std::env::join_paths(std::iter::once(own_bin).chain(rest))
            .unwrap()
            .into_string()
            .unwrap();
        let keep = |name: &str, default: Option<PathBuf>| {
            std::env::var(name)
                .ok()
                .or_else(|| default.map(|d| d.display().to_string()))
                .map(|v| (name.to_owned(), v))
        };
        newcomer.env = [
            keep("CARGO_HOME", Some(real_home.join(".cargo"))),
            keep("RUSTUP_HOME", Some(real_home.join(".rustup"))),
            keep("RUSTUP_TOOLCHAIN", None),
            keep("CARGO_TARGET_DIR", None),
            keep("npm_config_cache", None),
        ]
        .into_iter()
        .flatten()
        .collect();
        // `cargo install` puts binaries under the cargo home; the newcomer's is this home's.
        newcomer.env.push((
            "CARGO_INSTALL_ROOT".into(),
            newcomer.home.path().join(".cargo").display().to_string(),
        ));
        newcomer
    }

    fn home(&self) -> &Path {
        self.home.path()
    }

    fn shell(&self, script: &str, cwd: &Path) -> Command {
        let mut cmd = Command::new("bash");
        cmd.env_clear()
            .env("HOME", self.home())
            .env("PATH", &self.path)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(cwd)
            .args([
                "--noprofile",
                "--norc",
                "-e",
                "-o",
                "pipefail",
                "-c",
                script,
            ])
            .stdin(Stdio::null());
        cmd
    }

    /// Runs a step to the end (within `limit`); it must exit 0. Returns its output.
    fn run(&self, block: &Block, limit: Duration) -> String {
        let cwd = if block.install {
            repo().to_owned()
        } else {
            self.home().to_owned()
        };
        run_to_end(self.shell(&block.script, &cwd), limit, &block.name())
    }

    /// Starts a background step in a process group of its own and waits until its port
    /// accepts connections.
    fn start(&mut self, block: &Block, limit: Duration) {
        let address = block.waits_for.clone().unwrap();
        assert!(
            !accepts(&address),
            "{address} is taken before {} starts: free it and run again",
            block.name()
        );
        let log = self.home().join(format!("service-{}.log", block.line));
        let file = fs::File::create(&log).unwrap();
        let mut cmd = self.shell(&block.script, self.home());
        cmd.stdout(file.try_clone().unwrap())
            .stderr(file)
            .process_group(0);
        let mut child = cmd.spawn().unwrap();
        let deadline = Instant::now() + limit;
        while !accepts(&address) {
            if let Some(status) = child.try_wait().unwrap() {
                panic!(
                    "{} exited ({status}) before serving {address}:\n{}",
                    block.name(),
                    fs::read_to_string(&log).unwrap_or_default()
                );
            }
            if Instant::now() > deadline {
                stop(&mut child);
                panic!(
                    "{} did not serve {address} within {limit:?}:\n{}",
                    block.name(),
                    fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        self.services.push(child);
    }
}

impl Drop for Newcomer {
    fn drop(&mut self) {
        for child in &mut self.services {
            stop(child);
        }
    }
}

fn join_path(first: &[PathBuf], rest: &str) -> String {
    let dirs = first
        .iter()
        .cloned()
        .chain(std::env::split_paths(rest).collect::<Vec<_>>());
    std::env::join_paths(dirs).unwrap().into_string().unwrap()
}

fn accepts(address: &str) -> bool {
    address
        .to_socket_addrs()
        .map(|mut addrs| {
            addrs.any(|a| TcpStream::connect_timeout(&a, Duration::from_millis(300)).is_ok())
        })
        .unwrap_or(false)
}

/// Ends a background service and everything it started (`npm` starts `node`): SIGTERM to
/// its process group, SIGKILL after 10 s.
fn stop(child: &mut Child) {
    let group = format!("-{}", child.id());
    let _ = Command::new("kill").args(["-TERM", "--", &group]).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
    let _ = child.wait();
}

/// Runs `cmd` (stdout and stderr together in a file, so nothing can fill a pipe), failing
/// with its output unless it exits 0 within `limit`.
fn run_to_end(mut cmd: Command, limit: Duration, what: &str) -> String {
    let log = tempfile::NamedTempFile::new().unwrap();
    let file = log.reopen().unwrap();
    cmd.stdout(file.try_clone().unwrap())
        .stderr(file)
        .process_group(0);
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() > deadline {
            stop(&mut child);
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut output = String::new();
    log.reopen().unwrap().read_to_string(&mut output).unwrap();
    match status {
        Some(s) if s.success() => output,
        Some(s) => panic!("{what} failed ({s}):\n{output}"),
        None => panic!("{what} did not finish within {limit:?}:\n{output}"),
    }
}

/// The directory a step `cd`s into (`cd ~/my-addon` → `<home>/my-addon`).
fn cd_target(block: &Block, home: &Path) -> Option<PathBuf> {
    block.script.lines().find_map(|l| {
        let dir = l.trim().strip_prefix("cd ")?.trim();
        Some(match dir.strip_prefix("~/") {
            Some(rel) => home.join(rel),
            None => home.join(dir),
        })
    })
}

/// Issue 15: the README led a newcomer into dead ends (kensa used before it was
/// installed, a project created inside the clone, a completions line into a directory
/// that did not exist). Its walkthrough runs as written, up to the first step that needs
/// the network; and the service it starts is where the manifest it created points.
#[test]
fn regression_readme_walkthrough_had_dead_ends() {
    let steps = walkthrough();
    let newcomer = Newcomer::with_kensa_under_test();
    let mut ran = Vec::new();
    for step in &steps {
        if step.network {
            break;
        }
        if !step.install {
            newcomer.run(step, harness::TIMEOUT);
            ran.push(step.line);
        }
    }
    assert!(
        ran.len() >= 2,
        "too little of the walkthrough runs offline: {ran:?}"
    );
    // Before the network: kensa was installed (here: put on PATH) before its first use.
    let first_use = steps
        .iter()
        .position(|b| b.script.contains("kensa "))
        .unwrap();
    let install = steps.iter().position(|b| b.install).unwrap();
    assert!(install < first_use, "kensa is used before it is installed");

    // The service the walkthrough starts listens where the created manifest points.
    let service = steps.iter().find(|b| b.waits_for.is_some()).unwrap();
    let project = cd_target(service, newcomer.home())
        .unwrap_or_else(|| panic!("{} says where it runs (cd)", service.name()));
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(project.join("addon-manifest.json")).unwrap()).unwrap();
    let base = url::Url::parse(manifest["api"]["test"]["base_url"].as_str().unwrap()).unwrap();
    let served = service.waits_for.as_deref().unwrap();
    assert_eq!(
        format!("{}:{}", base.host_str().unwrap(), base.port().unwrap()),
        served,
        "the manifest's test URLs and the service the README starts disagree"
    );
    // The project is the newcomer's, not inside the kensa repository.
    assert!(!project.starts_with(repo()), "{project:?}");
}

/// Issue 15: README commands failed as written (`kensa init --port 8080 -f
/// config/addon-manifest.json`, the completions line). Every marked example runs: each
/// line of an `each line` block alone, each `alone` block as a whole, in a fresh home.
#[test]
fn regression_readme_examples_failed_as_written() {
    let examples: Vec<Block> = blocks()
        .into_iter()
        .filter(|b| b.kind != Kind::Step)
        .collect();
    assert!(examples.len() >= 3, "{examples:#?}");
    for block in examples {
        let scripts: Vec<String> = match block.kind {
            Kind::EachLine => block
                .script
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
                .map(str::to_owned)
                .collect(),
            _ => vec![block.script.clone()],
        };
        for script in scripts {
            let newcomer = Newcomer::with_kensa_under_test();
            let one = Block {
                script: script.clone(),
                ..block.clone()
            };
            newcomer.run(&one, harness::TIMEOUT);
        }
    }
}

/// The README's template table names each template's start and test commands as its
/// `template.toml` declares them (the commands `kensa create` prints and
/// `kensa templates --json` gives).
#[test]
fn readme_template_table_matches_the_templates() {
    let text = fs::read_to_string(repo().join("README.md")).unwrap();
    for name in harness::TEMPLATES {
        let row = text
            .lines()
            .find(|l| l.starts_with(&format!("| `{name}` |")))
            .unwrap_or_else(|| panic!("no README row for {name}"));
        let cells: Vec<&str> = row.split(" | ").collect();
        let spec: toml::Table = toml::from_str(
            &fs::read_to_string(repo().join("templates").join(name).join("template.toml")).unwrap(),
        )
        .unwrap();
        let commands = spec["commands"].as_table().unwrap();
        for (cell, key) in [(cells[2], "start"), (cells[3], "test")] {
            let declared = commands[key].as_str().unwrap();
            assert!(
                cell.starts_with(&format!("`{declared}`")),
                "{name}: README says {cell:?}, template.toml {key} = {declared:?}"
            );
        }
    }
}

/// The whole walkthrough as a newcomer on a fresh machine: install kensa from this
/// repository (a release build, into the temporary home), create the project, install its
/// packages from the registry, start it, and `kensa test all` (and what follows) against
/// it. Needs the network and a few minutes: `.ci/run` runs it.
#[test]
#[ignore = "needs the npm registry and a release build; run by .ci/run"]
fn readme_walkthrough_for_real() {
    let steps = walkthrough();
    let mut newcomer = Newcomer::from_scratch();
    let minutes = |n: u64| Duration::from_secs(60 * n);
    for step in &steps {
        if step.waits_for.is_some() {
            newcomer.start(step, minutes(3));
            continue;
        }
        let limit = if step.install || step.network {
            minutes(30)
        } else {
            minutes(5)
        };
        let output = newcomer.run(step, limit);
        if step.install {
            let which = run_to_end(
                newcomer.shell("command -v kensa", newcomer.home()),
                minutes(1),
                "command -v kensa",
            );
            assert_eq!(
                Path::new(which.trim()),
                newcomer.home().join(".cargo/bin/kensa"),
                "after the install step, `kensa` is the one it installed"
            );
        }
        if step.script.contains("kensa test all") {
            assert!(output.contains("[PASS]"), "{output}");
            assert!(!output.contains("[FAIL]"), "{output}");
        }
        eprintln!("{} passed", step.name());
    }
}

/// Issue 15: the README said `test all` runs single sign-on before the plan change; it
/// runs the plan change first. The README's sentence lists the sections in the order a run
/// against the stub provider reports them.
#[test]
fn regression_readme_named_the_test_all_order_wrong() {
    let text = fs::read_to_string(repo().join("README.md")).unwrap();
    let start = text
        .find("`all` runs ")
        .expect("the README says what `all` runs");
    // Read as prose: where the lines of the paragraph break does not matter.
    let sentence = text[start..start + text[start..].find(". ").unwrap()]
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let words = [
        ("manifest", "manifest"),
        ("provision", "POST"),
        ("plan change", "PUT"),
        ("single sign-on", "SSO"),
        ("deprovision", "DELETE"),
    ];
    let mut said: Vec<(usize, &str)> = words
        .iter()
        .map(|(word, kind)| {
            let at = sentence
                .find(&format!(" {word}"))
                .unwrap_or_else(|| panic!("{word:?} missing from {sentence:?}"));
            (at, *kind)
        })
        .collect();
    said.sort();
    let said: Vec<&str> = said.into_iter().map(|(_, kind)| kind).collect();
    let sim = harness::Sim::new(crate::stub::Addon::v3());
    let run = sim.test_all();
    run.passes();
    assert_eq!(run.section_kinds(), said, "README: {sentence:?}");
}
