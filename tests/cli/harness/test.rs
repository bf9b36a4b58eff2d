//! A small builder that runs kensa the way `just`'s tests do: set up files in a temp dir,
//! run the binary there in a hermetic environment, then check the exit status, stdout,
//! stderr *and* what happened on disk.
//!
//! ```ignore
//! Test::new()
//!     .write("addon-manifest.json", "{}")
//!     .args(["init", "--no-input"])
//!     .status(2)
//!     .stderr_contains("--force")
//!     .unchanged()
//!     .run();
//! ```
//!
//! kensa runs hermetic (see the harness), in the temp dir or a folder of it; stdin is
//! never a terminal, so kensa never prompts.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use predicates::prelude::*;
use predicates::BoxPredicate;
use serde_json::Value;
use tempfile::TempDir;

/// What the run may do to the files under the temp dir.
enum Changes {
    /// Not checked.
    Any,
    /// Every path (and its bytes and mode) is exactly as before the run.
    None,
    /// Every path added, removed or modified lies under one of these (relative) paths,
    /// and each of them changed.
    Only(Vec<String>),
}

#[must_use]
pub struct Test {
    tempdir: TempDir,
    cwd: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    status: Option<i32>,
    stdout: Vec<BoxPredicate<str>>,
    stderr: Vec<BoxPredicate<str>>,
    changes: Changes,
}

impl Test {
    pub fn new() -> Test {
        Test::in_dir(
            tempfile::Builder::new()
                .prefix("kensa-test-")
                .tempdir()
                .unwrap(),
        )
    }

    /// Runs again in a temp dir a previous run left behind.
    pub fn in_dir(tempdir: TempDir) -> Test {
        Test {
            tempdir,
            cwd: PathBuf::new(),
            args: Vec::new(),
            env: Vec::new(),
            status: Some(0),
            stdout: Vec::new(),
            stderr: Vec::new(),
            changes: Changes::Any,
        }
    }

    pub fn path(&self) -> &Path {
        self.tempdir.path()
    }

    /// Runs kensa in `rel` (created if needed) instead of the temp dir itself.
    pub fn current_dir(mut self, rel: impl AsRef<Path>) -> Test {
        fs::create_dir_all(self.tempdir.path().join(rel.as_ref())).unwrap();
        self.cwd = rel.as_ref().to_owned();
        self
    }

    /// Writes a file (and its parents) before the run.
    pub fn write(self, rel: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> Test {
        let path = self.tempdir.path().join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, contents).unwrap();
        self
    }

    pub fn mkdir(self, rel: impl AsRef<Path>) -> Test {
        fs::create_dir_all(self.tempdir.path().join(rel)).unwrap();
        self
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Test {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Test
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Test {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// The expected exit status (0 unless told).
    pub fn status(mut self, code: i32) -> Test {
        self.status = Some(code);
        self
    }

    pub fn stdout(mut self, exact: &str) -> Test {
        self.stdout.push(predicate::eq(exact.to_owned()).boxed());
        self
    }

    pub fn stdout_contains(mut self, part: &str) -> Test {
        self.stdout.push(predicate::str::contains(part).boxed());
        self
    }

    pub fn stderr(mut self, exact: &str) -> Test {
        self.stderr.push(predicate::eq(exact.to_owned()).boxed());
        self
    }

    pub fn stderr_contains(mut self, part: &str) -> Test {
        self.stderr.push(predicate::str::contains(part).boxed());
        self
    }

    /// Nothing under the temp dir may be added, removed or modified.
    pub fn unchanged(mut self) -> Test {
        self.changes = Changes::None;
        self
    }

    /// Only these paths (relative to the temp dir, with everything under them) may change,
    /// and each must.
    pub fn changes<I, S>(mut self, paths: I) -> Test
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.changes = Changes::Only(paths.into_iter().map(Into::into).collect());
        self
    }

    /// The hermetic command, for tests that need to run it their own way (stdin null).
    pub fn command(&self) -> Command {
        let mut cmd = super::kensa(self.tempdir.path());
        cmd.current_dir(self.tempdir.path().join(&self.cwd))
            .args(&self.args)
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs, expecting any non-zero exit status.
    pub fn run_failing(mut self) -> Output {
        self.status = None;
        self.run()
    }

    pub fn run(self) -> Output {
        let before = tree(self.tempdir.path());
        let out = super::output(self.command());
        let after = tree(self.tempdir.path());
        let stdout = String::from_utf8(out.stdout).expect("stdout is UTF-8");
        let stderr = String::from_utf8(out.stderr).expect("stderr is UTF-8");
        let status = out.status.code();

        let mut problems = String::new();
        match self.status {
            Some(code) if status != Some(code) => {
                writeln!(problems, "exit status {status:?}, expected {code}").unwrap();
            }
            None if status == Some(0) => {
                writeln!(problems, "exit status 0, expected a failure").unwrap();
            }
            _ => {}
        }
        for p in self.stdout.iter().filter(|p| !p.eval(&stdout)) {
            writeln!(problems, "stdout fails: {p}").unwrap();
        }
        for p in self.stderr.iter().filter(|p| !p.eval(&stderr)) {
            writeln!(problems, "stderr fails: {p}").unwrap();
        }
        let changed = diff(&before, &after);
        match &self.changes {
            Changes::Any => {}
            Changes::None => {
                if !changed.is_empty() {
                    writeln!(problems, "expected no file changes, got: {changed:?}").unwrap();
                }
            }
            Changes::Only(allowed) => {
                let under =
                    |path: &str, root: &str| path == root || path.starts_with(&format!("{root}/"));
                let stray: Vec<_> = changed
                    .iter()
                    .filter(|c| !allowed.iter().any(|a| under(c, a)))
                    .collect();
                if !stray.is_empty() {
                    writeln!(problems, "unexpected file changes: {stray:?}").unwrap();
                }
                for a in allowed {
                    if !changed.iter().any(|c| under(c, a)) {
                        writeln!(problems, "expected {a} to change; it did not").unwrap();
                    }
                }
            }
        }
        if !problems.is_empty() {
            panic!(
                "kensa {:?} (in {})\n{problems}--- stdout\n{stdout}--- stderr\n{stderr}--- files\n{}",
                self.args,
                self.cwd.display(),
                render_tree(&after, true),
            );
        }
        Output {
            tempdir: self.tempdir,
            stdout,
            stderr,
        }
    }
}

/// What a run left behind, with helpers to read it.
pub struct Output {
    pub tempdir: TempDir,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.tempdir.path().join(rel)
    }

    pub fn exists(&self, rel: impl AsRef<Path>) -> bool {
        fs::symlink_metadata(self.path(rel)).is_ok()
    }

    pub fn bytes(&self, rel: impl AsRef<Path>) -> Vec<u8> {
        let path = self.path(rel);
        fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    pub fn read(&self, rel: impl AsRef<Path>) -> String {
        String::from_utf8(self.bytes(rel)).unwrap()
    }

    pub fn json(&self, rel: impl AsRef<Path>) -> Value {
        serde_json::from_slice(&self.bytes(rel)).unwrap()
    }

    /// Permission bits, e.g. `0o600`.
    pub fn mode(&self, rel: impl AsRef<Path>) -> u32 {
        let path = self.path(rel);
        fs::symlink_metadata(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o7777
    }

    /// Sorted relative paths of the files (not directories) under `rel`, outside `.git/`
    /// (a new project's repository is git's, not kensa's).
    pub fn files(&self, rel: impl AsRef<Path>) -> Vec<String> {
        tree(&self.path(rel))
            .into_iter()
            .filter(|(p, e)| matches!(e.kind, Kind::File(_)) && !in_git(p))
            .map(|(p, _)| p)
            .collect()
    }

    /// `0644 path` lines for every file under `rel` outside `.git/`, sorted: for
    /// snapshots. (Directories are left out: their modes follow the umask, and the files
    /// imply them.)
    pub fn tree(&self, rel: impl AsRef<Path>) -> String {
        let mut entries = tree(&self.path(rel));
        entries.retain(|p, _| !in_git(p));
        render_tree(&entries, false)
    }

    /// Entries directly in the temp dir: to see that nothing stray was left beside a target.
    pub fn top_level(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.tempdir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Another run in the same temp dir.
    pub fn then(self) -> Test {
        Test::in_dir(self.tempdir)
    }
}

/// Whether a relative path lies in a `.git` directory.
fn in_git(path: &str) -> bool {
    path == ".git" || path.starts_with(".git/") || path.contains("/.git/")
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Dir,
    File(Vec<u8>),
    Symlink(PathBuf),
    /// A FIFO, socket or device: never opened (reading a FIFO blocks).
    Special,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    mode: u32,
    kind: Kind,
}

/// Every path under `root` (not `root` itself) with its mode and contents.
fn tree(root: &Path) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    if root.is_dir() {
        walk(root, root, &mut out);
    }
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Entry>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = fs::symlink_metadata(&path).unwrap();
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let kind = if meta.file_type().is_symlink() {
            Kind::Symlink(fs::read_link(&path).unwrap())
        } else if meta.is_dir() {
            walk(root, &path, out);
            Kind::Dir
        } else if meta.is_file() {
            Kind::File(fs::read(&path).unwrap())
        } else {
            Kind::Special
        };
        let mode = meta.permissions().mode() & 0o7777;
        out.insert(rel, Entry { mode, kind });
    }
}

fn diff(before: &BTreeMap<String, Entry>, after: &BTreeMap<String, Entry>) -> Vec<String> {
    let mut changed: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect();
    changed.sort();
    changed.dedup();
    changed
}

fn render_tree(tree: &BTreeMap<String, Entry>, with_dirs: bool) -> String {
    let mut text = String::new();
    for (path, entry) in tree {
        let suffix = match &entry.kind {
            Kind::Dir if !with_dirs => continue,
            Kind::Dir => "/".to_owned(),
            Kind::File(_) => String::new(),
            Kind::Symlink(to) => format!(" -> {}", to.display()),
            Kind::Special => " (special file)".to_owned(),
        };
        writeln!(text, "{:04o} {path}{suffix}", entry.mode).unwrap();
    }
    text
}
