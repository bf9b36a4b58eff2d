//! File-system helpers: atomic file writes (a temp file in the target's folder, then one
//! rename, so a reader never sees half a file and an interrupted write leaves the old file
//! intact) and the folder a path lives in.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// Writes `bytes` to `path` atomically with `mode`. With `replace` false an existing file
/// is an error of kind `AlreadyExists`, checked at the rename so no race can clobber it.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32, replace: bool) -> io::Result<()> {
    let dir = parent_of(path);
    if !dir.is_dir() {
        return Err(if dir.exists() {
            io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("{} is not a directory", dir.display()),
            )
        } else {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("directory {} does not exist", dir.display()),
            )
        });
    }
    // The temp file is created 0600, so a secret is never readable by others, even briefly.
    let mut tmp = NamedTempFile::new_in(&dir).map_err(without_temp_path)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))?;
    if replace {
        tmp.persist(path).map_err(|e| e.error)?;
    } else {
        tmp.persist_noclobber(path).map_err(|e| e.error)?;
    }
    Ok(())
}

/// The directory `path` is in: `.` for a bare file name, never an empty path.
pub fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Creates `dir` and any missing parents; returns the directories it created, outermost
/// first, so a caller whose later write fails can take them away again with
/// [`remove_created`] and leave nothing behind.
pub fn create_dirs(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let missing: Vec<PathBuf> = dir
        .ancestors()
        .filter(|d| !d.as_os_str().is_empty())
        .take_while(|d| fs::symlink_metadata(d).is_err())
        .map(Path::to_path_buf)
        .collect();
    let mut created = Vec::new();
    for d in missing.into_iter().rev() {
        if let Err(e) = fs::create_dir(&d) {
            remove_created(&created);
            return Err(e);
        }
        created.push(d);
    }
    Ok(created)
}

/// Removes directories [`create_dirs`] made, innermost first; one that is no longer empty
/// (something else wrote there meanwhile) stays.
pub fn remove_created(created: &[PathBuf]) {
    for d in created.iter().rev() {
        let _ = fs::remove_dir(d);
    }
}

/// tempfile adds `at path "<dir>/.tmpXXXX"` to its errors: a name the user never sees on
/// disk. The OS error alone says what went wrong; the caller names the path it was for.
pub fn without_temp_path(err: io::Error) -> io::Error {
    let os = err
        .get_ref()
        .and_then(|inner| inner.source())
        .and_then(|source| source.downcast_ref::<io::Error>())
        .and_then(io::Error::raw_os_error);
    os.map_or(err, io::Error::from_raw_os_error)
}
