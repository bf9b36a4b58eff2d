//! Writes a whole project at once: every file goes into a temporary directory beside the
//! target, then one rename puts it in place. A failure leaves no partial project behind.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::render::OutputFile;
use super::ScaffoldError;
use crate::fsutil::{parent_of, without_temp_path};

/// What is at the target path now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirState {
    Absent,
    EmptyDir,
    /// A non-empty directory, or a file: replacing it needs `--force`.
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

/// Writes `files` as the directory `target`. `replace` allows an occupied target.
pub fn write_project(
    target: &Path,
    files: &[OutputFile],
    replace: bool,
) -> Result<(), ScaffoldError> {
    let state = inspect(target)?;
    if state == DirState::Occupied && !replace {
        return Err(ScaffoldError::Exists {
            path: target.to_owned(),
            what: " and is not empty",
        });
    }
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
    // Each directory is created once, not once per file: large templates are disk-bound.
    let mut made: HashSet<PathBuf> = HashSet::new();
    for file in files {
        let path = staging.path().join(&file.path);
        let result = match path.parent() {
            Some(dir) if !made.contains(dir) => fs::create_dir_all(dir).map(|()| {
                made.insert(dir.to_owned());
            }),
            _ => Ok(()),
        }
        .and_then(|()| write_file(&path, &file.bytes, file.mode));
        result.map_err(|e| write_err(&target.join(&file.path), e))?;
    }
    // tempdir creates 0700; a project directory is an ordinary one.
    fs::set_permissions(staging.path(), fs::Permissions::from_mode(0o755))
        .map_err(|e| write_err(target, e))?;

    match state {
        DirState::Absent | DirState::EmptyDir => {
            // rename(2) replaces an empty directory atomically.
            fs::rename(staging.path(), target).map_err(|e| write_err(target, e))?;
        }
        DirState::Occupied => {
            // Move the old tree aside first, so the rename of the new one cannot fail halfway.
            let aside = tempfile::Builder::new()
                .prefix(".kensa-old-")
                .tempdir_in(&parent)
                .map_err(|e| write_err(target, without_temp_path(e)))?;
            let old = aside.path().join("old");
            fs::rename(target, &old).map_err(|e| write_err(target, e))?;
            if let Err(e) = fs::rename(staging.path(), target) {
                let _ = fs::rename(&old, target);
                return Err(write_err(target, e));
            }
            // `aside` removes the old tree when dropped.
        }
    }
    // The staging path is gone (renamed); keep TempDir from deleting the new project.
    let _ = staging.keep();
    Ok(())
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
        assert!(!target.join("mine.txt").exists());
        assert!(target.join("run").exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
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
