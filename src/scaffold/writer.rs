//! Writes a project. Into a new directory, every file goes into a temporary directory
//! beside the target, then one rename puts it in place. Into an existing directory (empty,
//! `.`, or with `--force` one the user already works in) only the paths the template
//! renders are written: everything is staged first, then each file is moved into place,
//! and the files it replaces are kept aside until the last one is in; if a move fails, the
//! ones done are undone. Every other file in the directory is left alone. A failure or a
//! signal leaves no partial project and no staging directory behind.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::render::OutputFile;
use super::ScaffoldError;
use crate::fsutil::{parent_of, without_temp_path};
use crate::interrupt;

/// What is at the target path now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirState {
    Absent,
    EmptyDir,
    /// A non-empty directory, or a file: writing into it needs `--force` (or a yes).
    Occupied,
}

pub fn inspect(target: &Path) -> Result<DirState, ScaffoldError> {
    let meta = match fs::symlink_metadata(target) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(DirState::Absent),
        Err(source) => return Err(write_err(target, source)),
    };
    if meta.file_type().is_symlink() {
        return Err(ScaffoldError::Symlink {
            path: target.to_owned(),
        });
    }
    if !meta.is_dir() {
        return Ok(DirState::Occupied);
    }
    let mut entries = fs::read_dir(target).map_err(|e| write_err(target, e))?;
    Ok(if entries.next().is_none() {
        DirState::EmptyDir
    } else {
        DirState::Occupied
    })
}

/// What writing the project into an existing directory does, path by path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Paths the template writes that do not exist yet.
    pub added: Vec<String>,
    /// Existing files the template writes with other contents or mode.
    pub replaced: Vec<String>,
    /// Existing files already exactly as the template writes them.
    pub unchanged: Vec<String>,
}

/// Decides, for each file, whether it is new, replaces a file or is already there, and
/// refuses (naming every one) paths where something other than a file is in the way: a
/// directory where the template writes a file, a file or a symbolic link where it needs a
/// directory (kensa never writes through links).
pub fn plan(target: &Path, files: &[OutputFile]) -> Result<Plan, ScaffoldError> {
    if !fs::symlink_metadata(target).is_ok_and(|m| m.is_dir()) {
        return Err(ScaffoldError::InTheWay(vec![format!(
            "{} is a file; the project needs a directory there",
            target.display()
        )]));
    }
    let mut plan = Plan::default();
    let mut problems = Vec::new();
    'files: for file in files {
        let mut at = target.to_owned();
        let parts: Vec<&str> = file.path.split('/').collect();
        for (i, part) in parts.iter().enumerate() {
            at.push(part);
            let last = i + 1 == parts.len();
            let meta = match fs::symlink_metadata(&at) {
                Ok(meta) => meta,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    plan.added.push(file.path.clone());
                    continue 'files;
                }
                Err(e) => return Err(write_err(&at, e)),
            };
            let kind = meta.file_type();
            if !last && !kind.is_dir() {
                let what = if kind.is_symlink() {
                    "a symbolic link"
                } else {
                    "a file"
                };
                problems.push(format!(
                    "{} is {what}; the template writes {} inside it",
                    at.display(),
                    file.path
                ));
                continue 'files;
            }
            if last {
                if kind.is_dir() {
                    problems.push(format!(
                        "{} is a directory; the template writes a file there",
                        at.display()
                    ));
                } else if kind.is_file() && same_file(&at, &meta, file)? {
                    plan.unchanged.push(file.path.clone());
                } else {
                    plan.replaced.push(file.path.clone());
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(plan)
    } else {
        Err(ScaffoldError::InTheWay(problems))
    }
}

fn same_file(path: &Path, meta: &fs::Metadata, file: &OutputFile) -> Result<bool, ScaffoldError> {
    if meta.len() != file.bytes.len() as u64 || meta.permissions().mode() & 0o777 != file.mode {
        return Ok(false);
    }
    Ok(fs::read(path).map_err(|e| write_err(path, e))? == file.bytes)
}

/// Writes `files` into `target`. `replace` allows an occupied target, where only the
/// template's paths are written (see [`plan`]).
pub fn write_project(
    target: &Path,
    files: &[OutputFile],
    replace: bool,
) -> Result<(), ScaffoldError> {
    // A signal now only sets a flag, checked between files: the staging directory is
    // removed on every way out.
    let _deferred = interrupt::defer();
    match inspect(target)? {
        DirState::Absent => write_new(target, files),
        DirState::EmptyDir => write_into(target, files, &plan(target, files)?),
        DirState::Occupied if replace => write_into(target, files, &plan(target, files)?),
        DirState::Occupied => Err(ScaffoldError::Exists {
            path: target.to_owned(),
            what: " and is not empty",
        }),
    }
}

fn write_new(target: &Path, files: &[OutputFile]) -> Result<(), ScaffoldError> {
    let parent = parent_of(target);
    if !parent.is_dir() {
        return Err(write_err(
            target,
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("parent directory {} does not exist", parent.display()),
            ),
        ));
    }
    let staging = tempfile::Builder::new()
        .prefix(".kensa-new-")
        .tempdir_in(&parent)
        .map_err(|e| write_err(target, without_temp_path(e)))?;
    stage(staging.path(), target, files.iter())?;
    // tempdir creates 0700; a project directory is an ordinary one.
    fs::set_permissions(staging.path(), fs::Permissions::from_mode(0o755))
        .map_err(|e| write_err(target, e))?;
    interrupt::check().map_err(ScaffoldError::Interrupted)?;
    fs::rename(staging.path(), target).map_err(|e| write_err(target, e))?;
    // The staging path is gone (renamed); keep TempDir from deleting the new project.
    let _ = staging.keep();
    Ok(())
}

/// Writes each file into `dir` (the staging directory), creating each directory once, not
/// once per file: large templates are disk-bound. Stops at a signal.
fn stage<'a>(
    dir: &Path,
    target: &Path,
    files: impl Iterator<Item = &'a OutputFile>,
) -> Result<(), ScaffoldError> {
    let mut made: HashSet<PathBuf> = HashSet::new();
    for file in files {
        interrupt::check().map_err(ScaffoldError::Interrupted)?;
        let path = dir.join(&file.path);
        let result = match path.parent() {
            Some(parent) if !made.contains(parent) => fs::create_dir_all(parent).map(|()| {
                made.insert(parent.to_owned());
            }),
            _ => Ok(()),
        }
        .and_then(|()| write_file(&path, &file.bytes, file.mode));
        result.map_err(|e| write_err(&target.join(&file.path), e))?;
    }
    Ok(())
}

/// Writes the added and replaced files of `plan` into the existing directory `target`.
fn write_into(target: &Path, files: &[OutputFile], plan: &Plan) -> Result<(), ScaffoldError> {
    let to_write: HashSet<&str> = plan
        .added
        .iter()
        .chain(&plan.replaced)
        .map(String::as_str)
        .collect();
    let files: Vec<&OutputFile> = files
        .iter()
        .filter(|f| to_write.contains(f.path.as_str()))
        .collect();
    if files.is_empty() {
        return Ok(());
    }
    let (_staging, new, old) = staging_in(target)?;
    stage(&new, target, files.iter().copied())?;
    interrupt::check().map_err(ScaffoldError::Interrupted)?;

    let mut moves = Moves::default();
    for file in &files {
        if let Err(e) = moves.put(target, &new, &old, &file.path) {
            moves.undo(target, &old);
            return Err(write_err(&target.join(&file.path), e));
        }
    }
    // The staging directory goes now, with the replaced files kept in it.
    Ok(())
}

/// A staging directory inside `target`, removed when dropped, with its two halves: `new`
/// (what will be moved in) and `old` (what is moved aside until the last move). Inside the
/// target: the same file system, so every move is a rename, even when the target is a
/// mount point (`kensa create .`).
fn staging_in(target: &Path) -> Result<(tempfile::TempDir, PathBuf, PathBuf), ScaffoldError> {
    let staging = tempfile::Builder::new()
        .prefix(".kensa-new-")
        .tempdir_in(target)
        .map_err(|e| write_err(target, without_temp_path(e)))?;
    let new = staging.path().join("new");
    let old = staging.path().join("old");
    Ok((staging, new, old))
}

/// Writes `files` into the existing directory `target` (each replacing what is at its path)
/// and removes the files `removed`, all or nothing: everything is staged first, what is
/// replaced or removed is kept aside until the last move, and a failure undoes them all.
/// For `kensa update`, which decided file by file what to do.
/// Ctrl-C at any point before the last move leaves the directory as it was.
pub fn apply(target: &Path, files: &[OutputFile], removed: &[String]) -> Result<(), ScaffoldError> {
    let _deferred = interrupt::defer();
    apply_unless(target, files, removed, interrupt::interrupted)
}

/// [`apply`], stopped (everything undone) once `stop` says so.
fn apply_unless(
    target: &Path,
    files: &[OutputFile],
    removed: &[String],
    stop: impl Fn() -> bool,
) -> Result<(), ScaffoldError> {
    plan(target, files)?;
    if files.is_empty() && removed.is_empty() {
        return Ok(());
    }
    let (_staging, new, old) = staging_in(target)?;
    stage(&new, target, files.iter())?;
    let mut moves = Moves::default();
    let puts = files.iter().map(|f| (f.path.as_str(), true));
    let removes = removed.iter().map(|rel| (rel.as_str(), false));
    for (rel, put) in puts.chain(removes) {
        // A signal while moving undoes the moves made: the project stays as it was.
        if stop() {
            moves.undo(target, &old);
            return Err(ScaffoldError::Interrupted(interrupt::Interrupted));
        }
        let moved = if put {
            moves.put(target, &new, &old, rel)
        } else {
            moves.remove(target, &old, rel)
        };
        if let Err(e) = moved {
            moves.undo(target, &old);
            return Err(write_err(&target.join(rel), e));
        }
    }
    if stop() {
        moves.undo(target, &old);
        return Err(ScaffoldError::Interrupted(interrupt::Interrupted));
    }
    Ok(())
}

/// The moves made so far, to undo them all if one fails.
#[derive(Default)]
struct Moves {
    /// `(path, whether it replaced a file kept under old/)`, in order.
    placed: Vec<(String, bool)>,
    /// Directories created in the target, parents first.
    made_dirs: Vec<PathBuf>,
    /// Files moved aside (under old/), in order.
    removed: Vec<String>,
}

impl Moves {
    fn put(&mut self, target: &Path, new: &Path, old: &Path, rel: &str) -> io::Result<()> {
        let dest = target.join(rel);
        if let Some(parent) = dest.parent() {
            let missing: Vec<PathBuf> = parent
                .ancestors()
                .take_while(|d| !d.exists())
                .map(Path::to_owned)
                .collect();
            fs::create_dir_all(parent)?;
            self.made_dirs.extend(missing.into_iter().rev());
        }
        let replaced = fs::symlink_metadata(&dest).is_ok();
        if replaced {
            let aside = old.join(rel);
            fs::create_dir_all(parent_of(&aside))?;
            fs::rename(&dest, &aside)?;
        }
        if let Err(e) = fs::rename(new.join(rel), &dest) {
            if replaced {
                let _ = fs::rename(old.join(rel), &dest);
            }
            return Err(e);
        }
        self.placed.push((rel.to_owned(), replaced));
        Ok(())
    }

    /// Moves the file at `rel` aside (kept until the staging directory goes).
    fn remove(&mut self, target: &Path, old: &Path, rel: &str) -> io::Result<()> {
        let dest = target.join(rel);
        let aside = old.join(rel);
        fs::create_dir_all(parent_of(&aside))?;
        fs::rename(&dest, &aside)?;
        self.removed.push(rel.to_owned());
        Ok(())
    }

    fn undo(self, target: &Path, old: &Path) {
        for rel in self.removed.into_iter().rev() {
            let _ = fs::rename(old.join(&rel), target.join(&rel));
        }
        for (rel, replaced) in self.placed.into_iter().rev() {
            let dest = target.join(&rel);
            let _ = fs::remove_file(&dest);
            if replaced {
                let _ = fs::rename(old.join(&rel), &dest);
            }
        }
        for dir in self.made_dirs.into_iter().rev() {
            let _ = fs::remove_dir(dir);
        }
    }
}

/// A new file with its mode set at creation (the umask applies, as for any tool), so a
/// secret is never readable by others, even for a moment.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    file.write_all(bytes)
}

fn write_err(path: &Path, source: io::Error) -> ScaffoldError {
    ScaffoldError::Write {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// Every file under `dir` with its bytes and mode.
    fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>, u32)> {
        let mut all: Vec<_> = walkdir::WalkDir::new(dir)
            .into_iter()
            .map(Result::unwrap)
            .map(|e| {
                let meta = e.metadata().unwrap();
                let bytes = if meta.is_file() {
                    fs::read(e.path()).unwrap()
                } else {
                    Vec::new()
                };
                (e.path().to_owned(), bytes, meta.permissions().mode())
            })
            .collect();
        all.sort();
        all
    }

    #[test]
    fn a_signal_at_any_move_of_an_update_leaves_the_directory_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path();
        fs::create_dir(target.join("a")).unwrap();
        fs::write(target.join("a/b.txt"), "old").unwrap();
        fs::write(target.join("gone.txt"), "dropped by the template").unwrap();
        let before = snapshot(target);
        let mut new = files();
        new.push(OutputFile {
            path: "new/dir/c.txt".into(),
            bytes: b"added".to_vec(),
            mode: 0o644,
        });
        let removed = vec!["gone.txt".to_owned()];
        // The signal comes before the first move, between any two, or after the last.
        for at in 0..=new.len() + removed.len() {
            let calls = Cell::new(0);
            let stop = || {
                calls.set(calls.get() + 1);
                calls.get() > at
            };
            let result = apply_unless(target, &new, &removed, stop);
            assert!(
                matches!(result, Err(ScaffoldError::Interrupted(_))),
                "signal after move {at}: {result:?}"
            );
            assert_eq!(snapshot(target), before, "signal after move {at}");
        }
        apply_unless(target, &new, &removed, || false).unwrap();
        assert_eq!(fs::read(target.join("a/b.txt")).unwrap(), b"hi");
        assert!(!target.join("gone.txt").exists());
    }

    fn files() -> Vec<OutputFile> {
        vec![
            OutputFile {
                path: "a/b.txt".into(),
                bytes: b"hi".to_vec(),
                mode: 0o644,
            },
            OutputFile {
                path: "run".into(),
                bytes: b"#!/bin/sh".to_vec(),
                mode: 0o755,
            },
        ]
    }

    #[test]
    fn writes_a_new_project_with_modes() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("p");
        write_project(&target, &files(), false).unwrap();
        assert_eq!(fs::read(target.join("a/b.txt")).unwrap(), b"hi");
        let mode = fs::metadata(target.join("run"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no staging directory is left behind");
    }

    #[test]
    fn an_occupied_target_needs_replace_and_is_left_intact_without_it() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("p");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("mine.txt"), "keep me").unwrap();
        assert!(matches!(
            write_project(&target, &files(), false),
            Err(ScaffoldError::Exists { .. })
        ));
        assert_eq!(
            fs::read_to_string(target.join("mine.txt")).unwrap(),
            "keep me"
        );
        write_project(&target, &files(), true).unwrap();
        assert_eq!(
            fs::read_to_string(target.join("mine.txt")).unwrap(),
            "keep me",
            "a file the template does not write is kept"
        );
        assert!(target.join("run").exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        let names: Vec<_> = fs::read_dir(&target)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(
            names.iter().all(|n| !n.starts_with(".kensa-")),
            "no staging left: {names:?}"
        );
    }

    #[test]
    fn an_empty_directory_is_filled() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("p");
        fs::create_dir(&target).unwrap();
        write_project(&target, &files(), false).unwrap();
        assert!(target.join("a/b.txt").exists());
    }

    #[test]
    fn a_plan_sorts_paths_into_added_replaced_and_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path();
        write_project(&target.join("p"), &files(), false).unwrap();
        let p = target.join("p");
        fs::write(p.join("a/b.txt"), "edited").unwrap();
        let mut more = files();
        more.push(OutputFile {
            path: "c/d.txt".into(),
            bytes: b"new".to_vec(),
            mode: 0o644,
        });
        let plan = plan(&p, &more).unwrap();
        assert_eq!(plan.replaced, ["a/b.txt"]);
        assert_eq!(plan.unchanged, ["run"]);
        assert_eq!(plan.added, ["c/d.txt"]);
    }

    #[test]
    fn things_in_the_way_are_named_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p");
        fs::create_dir_all(p.join("run")).unwrap();
        fs::write(p.join("a"), "a file where a directory goes").unwrap();
        let Err(ScaffoldError::InTheWay(problems)) = write_project(&p, &files(), true) else {
            panic!("expected a refusal")
        };
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(p.join("run").is_dir());
        assert_eq!(fs::read_dir(&p).unwrap().count(), 2);
    }

    #[test]
    fn a_failed_move_puts_everything_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p");
        fs::create_dir_all(p.join("a")).unwrap();
        fs::write(p.join("a/b.txt"), "mine").unwrap();
        let mut moves = Moves::default();
        let new = dir.path().join("new");
        let old = dir.path().join("old");
        fs::create_dir_all(new.join("a")).unwrap();
        fs::create_dir_all(new.join("x/y")).unwrap();
        fs::write(new.join("a/b.txt"), "theirs").unwrap();
        fs::write(new.join("x/y/z.txt"), "new").unwrap();
        moves.put(&p, &new, &old, "a/b.txt").unwrap();
        moves.put(&p, &new, &old, "x/y/z.txt").unwrap();
        assert!(moves.put(&p, &new, &old, "missing.txt").is_err());
        moves.undo(&p, &old);
        assert_eq!(fs::read_to_string(p.join("a/b.txt")).unwrap(), "mine");
        assert!(!p.join("x").exists(), "directories made are removed again");
    }

    #[test]
    fn a_symlinked_target_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::create_dir(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(matches!(
            write_project(&link, &files(), true),
            Err(ScaffoldError::Symlink { .. })
        ));
        assert_eq!(fs::read_dir(&real).unwrap().count(), 0);
    }
}
