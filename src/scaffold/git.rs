//! kensa's one way to use git, through the system `git` (what the user's own git sees is
//! what counts, and it brings the user's credentials and transports):
//! - whether a directory is a work tree with uncommitted changes: `create --force` and
//!   `update` refuse to run in one unless `--allow-dirty`, as cargo does, so whatever kensa
//!   changes is one reviewable diff;
//! - templates from git repositories: `--template https://…|ssh://…|file://…|gh:owner/repo`,
//!   cloned shallowly into a temporary directory, within a deadline;
//! - a new project's repository and first commit.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::ScaffoldError;

/// What git says about a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeState {
    /// Not inside a git work tree.
    NotARepo,
    Clean,
    /// Uncommitted changes under the directory, untracked files included (paths as git
    /// prints them, relative to the directory).
    Dirty(Vec<String>),
}

/// `git` with what it inherits from the user narrowed to what is safe for a tool: no
/// prompts (a hidden credential prompt would hang), no pager, messages in English (they
/// are matched), no optional writes (`status` must not refresh the user's index) and no
/// `GIT_DIR`-style variables from a hook that ran kensa.
pub fn command() -> Command {
    let mut cmd = Command::new("git");
    cmd.env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_PAGER", "cat")
        .env("LC_ALL", "C")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_OBJECT_DIRECTORY")
        .stdin(Stdio::null());
    cmd
}

/// Runs `git args…` in `dir` and collects its output; `None` when there is no git.
fn run_in(dir: &Path, args: &[&str]) -> Result<Option<Output>, ScaffoldError> {
    match command().arg("-C").arg(dir).args(args).output() {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(ScaffoldError::Git {
            what: format!("running git in {}", dir.display()),
            message: source.to_string(),
        }),
    }
}

/// Whether `dir` (an existing directory) is inside a git work tree, and if so whether
/// anything under it is uncommitted: one `git status` (a process is most of the cost).
pub fn tree_state(dir: &Path) -> Result<TreeState, ScaffoldError> {
    let status = [
        "status",
        "--porcelain=v1",
        "-z",
        "--untracked-files=all",
        "--ignore-submodules=none",
        "--",
        ".",
    ];
    let Some(out) = run_in(dir, &status)? else {
        // No git to ask. A `.git` above says there is a repository whose state is unknown.
        return match repository_above(dir) {
            Some(found) => Err(ScaffoldError::Git {
                what: format!("checking {} for uncommitted changes", dir.display()),
                message: format!(
                    "{} is a git repository, but git is not installed",
                    found.display()
                ),
            }),
            None => Ok(TreeState::NotARepo),
        };
    };
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Not in a repository, or in one without a work tree (bare, inside `.git`).
        if stderr.contains("not a git repository") || stderr.contains("must be run in a work tree")
        {
            return Ok(TreeState::NotARepo);
        }
        return Err(ScaffoldError::Git {
            what: format!("checking {} for uncommitted changes", dir.display()),
            message: last_line(&stderr),
        });
    }
    let changed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter(|entry| entry.len() > 3)
        .map(|entry| entry[3..].to_owned())
        .collect();
    Ok(if changed.is_empty() {
        TreeState::Clean
    } else {
        TreeState::Dirty(changed)
    })
}

/// Refuses a work tree with uncommitted changes (exit 2) unless `allow_dirty`.
pub fn ensure_clean(dir: &Path, allow_dirty: bool) -> Result<(), ScaffoldError> {
    if allow_dirty {
        return Ok(());
    }
    match tree_state(dir)? {
        TreeState::NotARepo | TreeState::Clean => Ok(()),
        TreeState::Dirty(files) => Err(ScaffoldError::Dirty {
            path: dir.to_owned(),
            files,
        }),
    }
}

/// The nearest directory at or above `dir` holding a `.git`.
fn repository_above(dir: &Path) -> Option<PathBuf> {
    let absolute = std::path::absolute(dir).ok()?;
    absolute
        .ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_owned)
}

// ---------------------------------------------------------------------------------------
// Templates from git repositories

/// How long a clone may take before kensa gives up on it.
pub const CLONE_DEADLINE: Duration = Duration::from_secs(300);

/// A `--template` that names a git repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitSource {
    /// What `git clone` is given.
    pub url: String,
    /// The template's directory inside the repository.
    pub subdir: Option<String>,
    /// A branch, tag or full commit hash (`@ref` or `--ref`).
    pub git_ref: Option<String>,
}

impl GitSource {
    /// The source as recorded and shown: the URL (with `//subdir`), without the ref.
    pub fn display(&self) -> String {
        match &self.subdir {
            Some(sub) => format!("{}//{sub}", self.url),
            None => self.url.clone(),
        }
    }
}

/// Recognises a git source: `https://…`, `ssh://…`, `file://…`, `git@host:path` and
/// `gh:owner/repo[/subdir]`, each optionally ending in `@ref`; a URL names a subdirectory
/// after a double slash (`file:///srv/templates.git//node`). `None`: not a git source.
pub fn parse_source(arg: &str) -> Option<Result<GitSource, String>> {
    let schemes = ["https://", "http://", "ssh://", "git://", "file://"];
    let scp_like = arg.starts_with("git@") && arg.contains(':') && !arg.contains("://");
    if !(arg.starts_with("gh:") || scp_like || schemes.iter().any(|s| arg.starts_with(s))) {
        return None;
    }
    Some(parse_git(arg))
}

fn parse_git(arg: &str) -> Result<GitSource, String> {
    // `@ref` is the last `@` after the last `/` (an `@` before it is a user name).
    let (rest, git_ref) = match arg.rfind('@') {
        Some(at) if arg[at..].find('/').is_none() && arg[..at].contains('/') => {
            (&arg[..at], Some(arg[at + 1..].to_owned()))
        }
        _ => (arg, None),
    };
    if git_ref.as_deref() == Some("") {
        return Err(format!(
            "{arg}: nothing after `@`; name a branch, tag or commit"
        ));
    }
    let (url, subdir) = if let Some(path) = rest.strip_prefix("gh:") {
        let parts: Vec<&str> = path.split('/').collect();
        if parts.len() < 2 || parts[..2].iter().any(|p| p.is_empty()) {
            return Err(format!("{arg}: expected gh:owner/repo[/subdir][@ref]"));
        }
        let subdir = (parts.len() > 2).then(|| parts[2..].join("/"));
        (
            format!("https://github.com/{}/{}.git", parts[0], parts[1]),
            subdir,
        )
    } else {
        let body_start = rest.find("://").map_or(0, |i| i + 3);
        // file:///abs//sub: the path's own leading slash is not the separator.
        let search_from = body_start + usize::from(rest[body_start..].starts_with('/'));
        match rest[search_from..].find("//") {
            Some(i) => {
                let cut = search_from + i;
                (rest[..cut].to_owned(), Some(rest[cut + 2..].to_owned()))
            }
            None => (rest.to_owned(), None),
        }
    };
    let subdir = subdir
        .map(|s| s.trim_matches('/').to_owned())
        .filter(|s| !s.is_empty());
    if let Some(sub) = &subdir {
        if sub
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        {
            return Err(format!(
                "{arg}: the subdirectory {sub:?} must be a plain relative path"
            ));
        }
    }
    Ok(GitSource {
        url,
        subdir,
        git_ref,
    })
}

/// A shallow clone of a git source in a temporary directory, removed when dropped (and by
/// a signal that ends kensa meanwhile).
pub struct Checkout {
    dir: tempfile::TempDir,
    _registered: crate::interrupt::Registered,
    /// The commit checked out.
    pub commit: String,
}

impl Checkout {
    /// The repository's work tree.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("repo")
    }
}

/// Clones `source` shallowly (at its ref, if any) with the system git, within
/// [`CLONE_DEADLINE`].
pub fn clone(source: &GitSource) -> Result<Checkout, ScaffoldError> {
    let failed = |message: String| ScaffoldError::Git {
        what: format!("cannot fetch the template {}", source.display()),
        message,
    };
    let dir = tempfile::Builder::new()
        .prefix("kensa-template-")
        .tempdir()
        .map_err(|e| failed(e.to_string()))?;
    let registered = crate::interrupt::remove_on_exit(dir.path());
    let repo = dir.path().join("repo");
    let repo_arg = repo.as_os_str().to_owned();
    let mut args: Vec<std::ffi::OsString> = vec![
        "clone".into(),
        "--quiet".into(),
        "--depth".into(),
        "1".into(),
    ];
    if let Some(r) = &source.git_ref {
        args.push("--branch".into());
        args.push(r.into());
    }
    args.extend(["--".into(), source.url.clone().into(), repo_arg]);
    let out = run_git(None, &args)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let not_a_branch = stderr.contains("not found in upstream");
        match &source.git_ref {
            // Not a branch or tag: maybe a commit, which a shallow fetch can name.
            Some(r) if not_a_branch => {
                fetch_commit(&repo, &source.url, r).map_err(|e| match e {
                    Some(message) => failed(message),
                    None => failed(format!(
                        "the repository has no branch, tag or commit {r:?} (a commit must be \
                     named by its full hash)"
                    )),
                })?
            }
            _ => return Err(failed(last_line(&stderr))),
        }
    }
    let head = run_git(Some(&repo), &["rev-parse".into(), "HEAD".into()])?;
    let commit = String::from_utf8_lossy(&head.stdout).trim().to_owned();
    if !head.status.success() || commit.is_empty() {
        return Err(failed("the clone has no commit checked out".into()));
    }
    Ok(Checkout {
        dir,
        _registered: registered,
        commit,
    })
}

/// `git init` + `fetch --depth 1 <url> <commit>` + `checkout FETCH_HEAD`. `Err(None)`: the
/// remote does not have that commit.
fn fetch_commit(repo: &Path, url: &str, commit: &str) -> Result<(), Option<String>> {
    let _ = std::fs::remove_dir_all(repo);
    let steps: [Vec<std::ffi::OsString>; 3] = [
        vec!["init".into(), "--quiet".into(), repo.as_os_str().to_owned()],
        vec![
            "-C".into(),
            repo.as_os_str().to_owned(),
            "fetch".into(),
            "--quiet".into(),
            "--depth".into(),
            "1".into(),
            "--".into(),
            url.into(),
            commit.into(),
        ],
        vec![
            "-C".into(),
            repo.as_os_str().to_owned(),
            "checkout".into(),
            "--quiet".into(),
            "FETCH_HEAD".into(),
        ],
    ];
    for (i, args) in steps.iter().enumerate() {
        let out = run_git(None, args).map_err(|e| Some(e.to_string()))?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            return Err(
                if i == 1 && !stderr.contains("Could not read from remote") {
                    None
                } else {
                    Some(last_line(&stderr))
                },
            );
        }
    }
    Ok(())
}

/// Runs git (in `dir`, if given) to the end, within [`CLONE_DEADLINE`]; a signal stops it
/// (its whole process group: git runs helpers) and ends in [`ScaffoldError::Interrupted`].
fn run_git(dir: Option<&Path>, args: &[std::ffi::OsString]) -> Result<Output, ScaffoldError> {
    use std::os::unix::process::CommandExt;
    let missing = || ScaffoldError::Git {
        what: "git templates need git".into(),
        message: "git is not installed (or not on PATH); install it, or use a template \
                  directory or an embedded template"
            .into(),
    };
    let mut cmd = command();
    if let Some(dir) = dir {
        cmd.arg("-C").arg(dir);
    }
    if std::env::var_os("GIT_SSH_COMMAND").is_none() {
        // An unknown host key or a passphrase prompt would wait for an answer forever.
        cmd.env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes");
    }
    cmd.args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let _deferred = crate::interrupt::defer();
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(missing()),
        Err(e) => {
            return Err(ScaffoldError::Git {
                what: "running git".into(),
                message: e.to_string(),
            })
        }
    };
    // Drained while git runs, so a full pipe cannot stall it.
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + CLONE_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| ScaffoldError::Git {
            what: "running git".into(),
            message: e.to_string(),
        })? {
            break status;
        }
        let interrupted = crate::interrupt::interrupted();
        if interrupted || Instant::now() >= deadline {
            // SAFETY: kill(2) of the process group of the child we spawned.
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            let _ = child.wait();
            if interrupted {
                return Err(ScaffoldError::Interrupted(crate::interrupt::Interrupted));
            }
            return Err(ScaffoldError::Git {
                what: "git took too long".into(),
                message: format!(
                    "no answer within {} s; is the remote reachable?",
                    CLONE_DEADLINE.as_secs()
                ),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

fn drain(pipe: Option<impl io::Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = io::Read::read_to_end(&mut pipe, &mut bytes);
        }
        bytes
    })
}

/// git's last `fatal:` line (what went wrong), else its last line.
fn last_line(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let line = lines
        .iter()
        .find(|l| l.starts_with("fatal:"))
        .or(lines.last())
        .copied()
        .unwrap_or("git failed without a message");
    super::quote_line(line.trim_start_matches("fatal: "))
}

// ---------------------------------------------------------------------------------------
// A new project's repository

/// What [`init_project`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Initialised {
    /// A new repository with a first commit of every file.
    Committed,
    /// The project is inside a work tree already: left to that repository.
    InsideRepository,
    /// No git on this machine.
    NoGit,
    /// A new repository with every file staged, but no commit: git could not commit (it
    /// says why, e.g. no user.name and user.email).
    NotCommitted(String),
}

/// `git init` in the new project `dir` and a first commit of everything in it, as
/// `cargo new` does, unless `dir` is inside a work tree already. The files kensa writes
/// with secrets (`.env`, the manifest) are never committed: when the template's
/// `.gitignore` does not ignore them, the repository's own exclude file does.
pub fn init_project(
    dir: &Path,
    secret_files: &[&str],
    message: &str,
) -> Result<Initialised, ScaffoldError> {
    match tree_state(dir) {
        Ok(TreeState::NotARepo) => {}
        Ok(_) => return Ok(Initialised::InsideRepository),
        Err(_) if run_in(dir, &["--version"])?.is_none() => return Ok(Initialised::NoGit),
        Err(e) => return Err(e),
    }
    let step = |args: &[&str]| -> Result<Output, ScaffoldError> {
        let out = run_in(dir, args)?.ok_or(ScaffoldError::Git {
            what: "git init".into(),
            message: "git disappeared".into(),
        })?;
        Ok(out)
    };
    let failed = |what: &str, out: &Output| ScaffoldError::Git {
        what: format!("{what} in {}", dir.display()),
        message: last_line(&String::from_utf8_lossy(&out.stderr)),
    };
    let out = step(&["init", "--quiet"])?;
    if !out.status.success() {
        return Err(failed("git init", &out));
    }
    let mut unignored = Vec::new();
    for file in secret_files {
        if !step(&["check-ignore", "--quiet", "--no-index", file])?
            .status
            .success()
        {
            unignored.push(*file);
        }
    }
    if !unignored.is_empty() {
        let exclude = dir.join(".git/info/exclude");
        let mut text = std::fs::read_to_string(&exclude).unwrap_or_default();
        text.push_str("# Secrets kensa wrote; the template's .gitignore does not list them.\n");
        for file in unignored {
            text.push_str(&format!("/{file}\n"));
        }
        std::fs::create_dir_all(parent_of(&exclude))
            .and_then(|()| std::fs::write(&exclude, text))
            .map_err(|e| ScaffoldError::Write {
                path: exclude.clone(),
                source: e,
            })?;
    }
    let out = step(&["add", "--all"])?;
    if !out.status.success() {
        return Err(failed("git add", &out));
    }
    let commit = ["commit", "--quiet", "--no-verify", "-m", message];
    let mut out = step(&commit)?;
    if !out.status.success() && no_identity(&out) {
        // A machine where git knows no user yet: the generated code's first commit is
        // kensa's, and says so.
        out = run_in_env(dir, &commit, &KENSA_IDENTITY)?;
    }
    if !out.status.success() {
        return Ok(Initialised::NotCommitted(last_line(
            &String::from_utf8_lossy(&out.stderr),
        )));
    }
    Ok(Initialised::Committed)
}

/// Who made a first commit when git has no user configured.
const KENSA_IDENTITY: [(&str, &str); 4] = [
    ("GIT_AUTHOR_NAME", "kensa"),
    ("GIT_AUTHOR_EMAIL", "kensa@localhost"),
    ("GIT_COMMITTER_NAME", "kensa"),
    ("GIT_COMMITTER_EMAIL", "kensa@localhost"),
];

fn no_identity(out: &Output) -> bool {
    let stderr = String::from_utf8_lossy(&out.stderr);
    stderr.contains("tell me who you are")
        || stderr.contains("unable to auto-detect email")
        || stderr.contains("empty ident")
}

fn run_in_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<Output, ScaffoldError> {
    command()
        .arg("-C")
        .arg(dir)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .map_err(|e| ScaffoldError::Git {
            what: format!("running git in {}", dir.display()),
            message: e.to_string(),
        })
}

fn parent_of(path: &Path) -> PathBuf {
    crate::fsutil::parent_of(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(arg: &str) -> GitSource {
        parse_source(arg).expect("a git source").expect("valid")
    }

    #[test]
    fn names_and_paths_are_not_git_sources() {
        for arg in ["node", "./tpl", "/abs/tpl", "templates/node"] {
            assert!(parse_source(arg).is_none(), "{arg}");
        }
    }

    #[test]
    fn urls_refs_and_subdirectories() {
        assert_eq!(
            parsed("https://example.com/acme/templates.git"),
            GitSource {
                url: "https://example.com/acme/templates.git".into(),
                subdir: None,
                git_ref: None
            }
        );
        let g = parsed("file:///srv/t.git//node/v2@v1.2.0");
        assert_eq!(g.url, "file:///srv/t.git");
        assert_eq!(g.subdir.as_deref(), Some("node/v2"));
        assert_eq!(g.git_ref.as_deref(), Some("v1.2.0"));
        let g = parsed("ssh://git@example.com/acme/t.git");
        assert_eq!(g.git_ref, None, "the user's @ is not a ref");
        assert_eq!(g.url, "ssh://git@example.com/acme/t.git");
        let g = parsed("gh:acme/templates/go@main");
        assert_eq!(g.url, "https://github.com/acme/templates.git");
        assert_eq!(g.subdir.as_deref(), Some("go"));
        assert_eq!(g.git_ref.as_deref(), Some("main"));
        assert_eq!(g.display(), "https://github.com/acme/templates.git//go");
        let g = parsed("git@example.com:acme/t.git@v2");
        assert_eq!(g.url, "git@example.com:acme/t.git");
        assert_eq!(g.git_ref.as_deref(), Some("v2"));
    }

    #[test]
    fn bad_git_sources_say_why() {
        assert!(parse_source("gh:acme").unwrap().is_err());
        assert!(parse_source("file:///srv/t.git//../x").unwrap().is_err());
        assert!(parse_source("https://example.com/t.git@").unwrap().is_err());
    }
}
