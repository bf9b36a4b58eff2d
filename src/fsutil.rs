//! File-system helpers: reading an input file safely ([`read_input`]: regular files only,
//! bounded), atomic file writes (a temp file in the target's folder, then one rename, so a
//! reader never sees half a file and an interrupted write leaves the old file intact) and
//! the folder a path lives in.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

/// The most [`read_input`] reads: far above any manifest, values file or template file,
/// far below what would strain memory.
pub const INPUT_LIMIT: u64 = 16 * 1024 * 1024;

/// Reads a file kensa takes as input (a manifest, a values file, a template file, `.env`,
/// netrc) whole. Only a regular file is read, and at most [`INPUT_LIMIT`] bytes of it: a
/// FIFO would block forever and `/dev/zero` would fill memory. The error says which rule
/// the file broke; the caller names the file.
pub fn read_input(path: &Path) -> io::Result<Vec<u8>> {
    read_input_limited(path, INPUT_LIMIT)
}

/// [`read_input`] with another cap, for tests.
pub fn read_input_limited(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    // Refused before opening: opening a FIFO for reading blocks until a writer comes.
    not_regular(&fs::metadata(path)?.file_type())?;
    // Non-blocking in case the path was swapped for a FIFO since: then the open returns
    // at once, and the check on the opened file refuses it.
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    not_regular(&meta.file_type())?;
    if meta.len() > limit {
        return Err(too_large(limit));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(too_large(limit));
    }
    Ok(bytes)
}

/// [`read_input`] as UTF-8 text; other bytes are an `InvalidData` error.
pub fn read_input_text(path: &Path) -> io::Result<String> {
    String::from_utf8(read_input(path)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

/// [`read_input`], but a symbolic link as the last component is refused instead of
/// followed: for readers that have already decided which links they trust (a template's
/// files).
pub fn read_input_no_follow(path: &Path) -> io::Result<Vec<u8>> {
    let kind = fs::symlink_metadata(path)?.file_type();
    if kind.is_symlink() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "it is a symbolic link, which kensa does not follow here",
        ));
    }
    not_regular(&kind)?;
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)?;
    let meta = file.metadata()?;
    not_regular(&meta.file_type())?;
    if meta.len() > INPUT_LIMIT {
        return Err(too_large(INPUT_LIMIT));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(INPUT_LIMIT + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > INPUT_LIMIT {
        return Err(too_large(INPUT_LIMIT));
    }
    Ok(bytes)
}

fn not_regular(kind: &fs::FileType) -> io::Result<()> {
    let what = if kind.is_file() {
        return Ok(());
    } else if kind.is_dir() {
        // The OS's own words, as before: "Is a directory".
        return Err(io::Error::from_raw_os_error(libc::EISDIR));
    } else if kind.is_fifo() {
        "a named pipe (FIFO)"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("it is {what}, not a regular file"),
    ))
}

fn too_large(limit: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!(
            "it is larger than {} MiB, more than any input kensa reads",
            limit / (1024 * 1024)
        ),
    )
}

/// Writes `bytes` to `path` atomically with `mode`. With `replace` false an existing file
/// is an error of kind `AlreadyExists`, checked at the rename so no race can clobber it.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32, replace: bool) -> io::Result<()> {
    let dir = folder_of(path)?;
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

/// The directory `path` goes in, which must exist: an error says so in words.
fn folder_of(path: &Path) -> io::Result<PathBuf> {
    let dir = parent_of(path);
    if dir.is_dir() {
        return Ok(dir);
    }
    Err(if dir.exists() {
        io::Error::new(
            io::ErrorKind::NotADirectory,
            format!("{} is not a directory", dir.display()),
        )
    } else {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("directory {} does not exist", dir.display()),
        )
    })
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

/// Writes every `(path, bytes, mode)` or none of them: all are written to temp files first
/// (a full disk fails there, before anything is in place), then renamed into place one by
/// one; if a rename fails, the files already placed are put back as they were (removed, or
/// restored from a hard-linked copy of the file they replaced). With `replace` false an
/// existing file is an error of kind `AlreadyExists`. An error comes with the path it
/// happened at.
pub fn write_all_atomic(
    files: &[(&Path, &[u8], u32)],
    replace: bool,
) -> Result<(), (PathBuf, io::Error)> {
    let mut staged = Vec::with_capacity(files.len());
    for (path, bytes, mode) in files {
        let at = |e: io::Error| (path.to_path_buf(), e);
        let dir = folder_of(path).map_err(at)?;
        let mut tmp = NamedTempFile::new_in(&dir)
            .map_err(without_temp_path)
            .map_err(at)?;
        tmp.write_all(bytes).map_err(at)?;
        tmp.as_file().sync_all().map_err(at)?;
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(*mode))
            .map_err(at)?;
        staged.push((path, tmp));
    }
    // What each placed file replaced: `Some(backup)` for an old file kept under a temp name.
    let mut placed: Vec<(&Path, Option<tempfile::TempPath>)> = Vec::new();
    let result = (|| {
        for (path, tmp) in staged {
            let at = |e: io::Error| (path.to_path_buf(), e);
            let backup = match fs::symlink_metadata(path) {
                Ok(_) if !replace => {
                    return Err(at(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        "it already exists",
                    )))
                }
                Ok(meta) if meta.is_file() => {
                    let backup = tempfile::Builder::new()
                        .make_in(parent_of(path), |p| fs::hard_link(path, p))
                        .map_err(without_temp_path)
                        .map_err(at)?;
                    Some(backup.into_temp_path())
                }
                _ => None,
            };
            if replace {
                tmp.persist(path).map_err(|e| at(e.error))?;
            } else {
                tmp.persist_noclobber(path).map_err(|e| at(e.error))?;
            }
            placed.push((path, backup));
        }
        Ok(())
    })();
    if result.is_err() {
        for (path, backup) in placed.into_iter().rev() {
            match backup {
                Some(old) => {
                    let _ = fs::rename(&old, path);
                    let _ = old.keep();
                }
                None => {
                    let _ = fs::remove_file(path);
                }
            }
        }
    }
    result
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_regular_file_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        fs::write(&path, b"{}").unwrap();
        assert_eq!(read_input(&path).unwrap(), b"{}");
        assert_eq!(read_input_text(&path).unwrap(), "{}");
    }

    #[test]
    fn refuses_a_file_over_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        fs::write(&path, [b'x'; 11]).unwrap();
        assert_eq!(read_input_limited(&path, 11).unwrap().len(), 11);
        let err = read_input_limited(&path, 10).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
    }

    #[test]
    fn refuses_devices_fifos_and_directories_without_blocking() {
        let err = read_input(Path::new("/dev/zero")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "it is a character device, not a regular file"
        );
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = read_input(&fifo).unwrap_err();
        assert_eq!(
            err.to_string(),
            "it is a named pipe (FIFO), not a regular file"
        );
        let err = read_input(dir.path()).unwrap_err();
        assert!(err.to_string().starts_with("Is a directory"), "{err}");
    }
}
