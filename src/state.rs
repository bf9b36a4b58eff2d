//! What kensa remembers between commands, in `.kensa/` beside the manifest: the last
//! resource kensa provisioned against that manifest (`last-resource.json`), so that
//! `kensa test sso|planchange|deprovision` and `kensa sso` work without an id, the
//! `kensa dev` session's local Heroku (`dev/`), and the notes other commands leave that
//! session about what they did to its resources (`dev/outside/`). One home for every file
//! under `.kensa/`.
//!
//! Every such file is JSON, written atomically with mode 0600 (the dev session's holds
//! OAuth tokens; the others are kept private too, as nothing gains from sharing them). Two
//! files are the project's, not kensa's state, and are shared through git: how the project
//! was made ([`ANSWERS`]) and the template's pristine render ([`PRISTINE`]), written by
//! `kensa create` and `kensa update` (their format is the scaffold's). The folder's
//! `.gitignore` ([`GITIGNORE`]) ignores everything else, so no project has to list it. A
//! file that cannot be read or parsed is an error naming it, never silently ignored.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::UsageError;
use crate::fsutil::{parent_of, write_atomic};

/// The folder beside the manifest.
pub const DIR: &str = ".kensa";
/// Files of the folder: readable by the owner only.
pub const MODE: u32 = 0o600;
const LAST_RESOURCE: &str = "last-resource.json";
/// `.kensa/dev/outside/`: one note a file, so that commands never race to write one file.
const OUTSIDE: &str = "outside";
/// How the project was made: template, version, answers (no secrets).
pub const ANSWERS: &str = "answers.toml";
/// What the template rendered last (create or update), compressed: `kensa update`'s base.
pub const PRISTINE: &str = "pristine.json.gz";
/// `.kensa/.gitignore`: private state is ignored, the project's two files are not.
pub const GITIGNORE: &str = "*\n!.gitignore\n!answers.toml\n!pristine.json.gz\n";

/// `.kensa/` beside the manifest.
pub fn dir(manifest_path: &Path) -> PathBuf {
    parent_of(manifest_path).join(DIR)
}

/// `.kensa/dev/` beside the manifest: the `kensa dev` session's local Heroku.
pub fn dev_dir(manifest_path: &Path) -> PathBuf {
    dir(manifest_path).join("dev")
}

/// Why a state file could not be used: it names the file.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{} is not valid kensa state ({source}); delete it to start afresh", path.display())]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// The resource kensa provisioned last against a manifest, and not deprovisioned since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastResource {
    /// The provider's id for it.
    pub id: String,
    /// Heroku's uuid for it (v3 SSO needs it).
    pub uuid: Option<String>,
    pub plan: String,
    /// The manifest it was provisioned against, as given on the command line.
    pub manifest: String,
    /// When, as RFC 3339.
    pub provisioned_at: String,
    /// Who provisioned it: `kensa test provision` or `kensa dev`.
    pub by: String,
    /// The v1 `heroku_id` it was provisioned for (v1 manifests only): a later v1 plan
    /// change sends it, as Heroku does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heroku_id: Option<String>,
}

impl LastResource {
    pub fn new(manifest_path: &Path, id: &str, uuid: Option<&str>, plan: &str, by: &str) -> Self {
        LastResource {
            id: id.to_owned(),
            uuid: uuid.map(str::to_owned),
            plan: plan.to_owned(),
            manifest: manifest_path.display().to_string(),
            provisioned_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            by: by.to_owned(),
            heroku_id: None,
        }
    }

    /// One line saying which resource a command uses, for stderr.
    pub fn describe(&self) -> String {
        let uuid = self
            .uuid
            .as_deref()
            .map(|u| format!(", uuid {u}"))
            .unwrap_or_default();
        format!(
            "the last resource provisioned against {}: {}{uuid} (plan {}, by {} at {})",
            self.manifest, self.id, self.plan, self.by, self.provisioned_at
        )
    }
}

/// The last resource, if one is remembered.
pub fn last_resource(manifest_path: &Path) -> Result<Option<LastResource>, StateError> {
    read(&dir(manifest_path).join(LAST_RESOURCE))
}

/// Remembers `resource` as the last one.
pub fn remember(manifest_path: &Path, resource: &LastResource) -> Result<(), StateError> {
    write(&dir(manifest_path).join(LAST_RESOURCE), resource)
}

/// Forgets the last resource if it is `id` (it was deprovisioned).
pub fn forget(manifest_path: &Path, id: &str) -> Result<(), StateError> {
    let path = dir(manifest_path).join(LAST_RESOURCE);
    match last_resource(manifest_path)? {
        Some(last) if last.id == id => match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                Err(StateError::Write { path, source: e })
            }
            _ => Ok(()),
        },
        _ => Ok(()),
    }
}

/// What a command outside the `kensa dev` session did to a resource, for the session
/// (running now, or the next one) to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutsideChange {
    /// The provider's id of the resource.
    pub id: String,
    /// Heroku's uuid for it, when kensa knew it.
    pub uuid: Option<String>,
    pub change: Change,
    /// The command: `kensa test deprovision`, `kensa test planchange`.
    pub by: String,
    /// When, as RFC 3339.
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Deprovisioned,
    /// The provider accepted a change to this plan.
    PlanChanged {
        plan: String,
    },
}

/// A command other than `kensa dev` deprovisioned `id`: it is forgotten as the last
/// resource, and, when the project has a dev session, a note tells the session (which may
/// be running in another terminal) so that its console stops showing the resource live.
pub fn deprovisioned(manifest_path: &Path, id: &str, by: &str) -> Result<(), StateError> {
    let uuid = remembered(manifest_path, id)?.and_then(|last| last.uuid);
    forget(manifest_path, id)?;
    tell_dev(manifest_path, id, uuid, Change::Deprovisioned, by)
}

/// A command other than `kensa dev` changed `id`'s plan to `plan`: the last resource (if
/// it is `id`) says so from now on, and a dev session is told, as for a deprovision.
pub fn plan_changed(
    manifest_path: &Path,
    id: &str,
    plan: &str,
    by: &str,
) -> Result<(), StateError> {
    let uuid = match remembered(manifest_path, id)? {
        Some(mut last) => {
            last.plan = plan.to_owned();
            remember(manifest_path, &last)?;
            last.uuid
        }
        None => None,
    };
    let change = Change::PlanChanged {
        plan: plan.to_owned(),
    };
    tell_dev(manifest_path, id, uuid, change, by)
}

/// Leaves a note for the project's dev session, when it has one.
fn tell_dev(
    manifest_path: &Path,
    id: &str,
    uuid: Option<String>,
    change: Change,
    by: &str,
) -> Result<(), StateError> {
    let dev = dev_dir(manifest_path);
    if !dev.is_dir() {
        return Ok(());
    }
    let note = OutsideChange {
        id: id.to_owned(),
        uuid,
        change,
        by: by.to_owned(),
        at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
    };
    let since = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    // Named by time (read in that order) and process (two commands at once differ).
    let name = format!("{since:024}-{}.json", std::process::id());
    write(&dev.join(OUTSIDE).join(name), &note)
}

/// The notes left for the dev session, oldest first, each with its file (to remove with
/// [`taken_in`] once applied). A note that cannot be read is an error naming its file.
pub fn outside_changes(manifest_path: &Path) -> Vec<Result<(PathBuf, OutsideChange), StateError>> {
    let folder = dev_dir(manifest_path).join(OUTSIDE);
    let mut files: Vec<PathBuf> = match fs::read_dir(&folder) {
        Ok(entries) => entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Vec::new(),
        Err(e) => {
            return vec![Err(StateError::Read {
                path: folder,
                source: e,
            })]
        }
    };
    files.sort();
    files
        .into_iter()
        .filter_map(|path| match read(&path) {
            Ok(Some(note)) => Some(Ok((path, note))),
            // Taken in by another reader meanwhile.
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        })
        .collect()
}

/// Removes a note the dev session has applied (and saved).
pub fn taken_in(note: &Path) -> Result<(), StateError> {
    match fs::remove_file(note) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(StateError::Write {
            path: note.to_owned(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// The resource a command names, or else the last one kensa provisioned against the
/// manifest (said on stderr). With the last resource's id and no uuid, its uuid is used.
pub fn resource_or_last(
    manifest_path: &Path,
    id: Option<String>,
    uuid: Option<String>,
) -> anyhow::Result<(String, Option<String>)> {
    let last = last_resource(manifest_path)?;
    match (id, last) {
        (Some(id), Some(last)) if last.id == id && uuid.is_none() => {
            if let Some(known) = &last.uuid {
                let _ = writeln!(
                    anstream::stderr(),
                    "Using uuid {known} for {id}: {}",
                    last.describe()
                );
            }
            Ok((id, last.uuid))
        }
        (Some(id), _) => Ok((id, uuid)),
        (None, Some(last)) => {
            let _ = writeln!(anstream::stderr(), "Using {}", last.describe());
            Ok((last.id, uuid.or(last.uuid)))
        }
        (None, None) => Err(UsageError::new(format!(
            "no resource id given, and kensa remembers none provisioned against {}: give the id, or provision one first (`kensa test provision` or `kensa dev`)",
            manifest_path.display()
        ))
        .into()),
    }
}

/// The last resource, when it is `id`.
pub fn remembered(manifest_path: &Path, id: &str) -> Result<Option<LastResource>, StateError> {
    Ok(last_resource(manifest_path)?.filter(|last| last.id == id))
}

/// The input error of a v3 sign-on whose uuid kensa does not know: how to give one.
pub fn no_uuid(manifest_path: &Path, id: &str) -> UsageError {
    let other = last_resource(manifest_path)
        .ok()
        .flatten()
        .filter(|last| last.id != id)
        .map(|last| {
            format!(
                " (the last resource kensa provisioned against this manifest is {}, not {id})",
                last.id
            )
        })
        .unwrap_or_default();
    UsageError::new(format!(
        "on a v3 manifest Heroku signs on with the resource's uuid (resource_id and its tokens), which kensa does not know for {id}{other}: give it with --uuid <uuid>, or provision with `kensa test provision` first (kensa remembers the last resource in {})",
        dir(manifest_path).join(LAST_RESOURCE).display()
    ))
}

/// Reads a JSON state file; `None` when it does not exist.
pub fn read<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, StateError> {
    let bytes = match crate::fsutil::read_input(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(StateError::Read {
                path: path.to_owned(),
                source: e,
            })
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| StateError::Parse {
            path: path.to_owned(),
            source: e,
        })
}

/// Writes a JSON state file atomically, mode 0600, creating `.kensa/` (0700, git-ignored)
/// and the file's folder as needed.
pub fn write<T: Serialize>(path: &Path, value: &T) -> Result<(), StateError> {
    let fail = |source| StateError::Write {
        path: path.to_owned(),
        source,
    };
    let folder = parent_of(path);
    create_private_dirs(&folder).map_err(fail)?;
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(io::Error::other)
        .map_err(fail)?;
    bytes.push(b'\n');
    write_atomic(path, &bytes, MODE, true).map_err(fail)
}

/// Creates `folder` and its parents; the `.kensa` folder and those under it get mode 0700,
/// and `.kensa` its `.gitignore`. Folders above `.kensa` are the user's: left as they are.
fn create_private_dirs(folder: &Path) -> io::Result<()> {
    if folder.is_dir() {
        return Ok(());
    }
    fs::create_dir_all(folder)?;
    let Some(root) = folder
        .ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == DIR))
    else {
        return Ok(());
    };
    for private in folder.ancestors().take_while(|a| a.starts_with(root)) {
        fs::set_permissions(private, fs::Permissions::from_mode(0o700))?;
    }
    match write_atomic(&root.join(".gitignore"), GITIGNORE.as_bytes(), 0o644, false) {
        // Written before, or by another kensa at the same moment: same content.
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_resource_round_trips_privately_and_is_forgotten_by_id() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("addon-manifest.json");
        assert_eq!(last_resource(&manifest).unwrap(), None);
        let last = LastResource::new(&manifest, "42", Some("u-1"), "test", "kensa dev");
        remember(&manifest, &last).unwrap();
        assert_eq!(last_resource(&manifest).unwrap(), Some(last.clone()));
        let file = dir.path().join(".kensa/last-resource.json");
        let mode = fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let folder = fs::metadata(dir.path().join(".kensa")).unwrap();
        assert_eq!(folder.permissions().mode() & 0o777, 0o700);
        assert_eq!(
            fs::read_to_string(dir.path().join(".kensa/.gitignore")).unwrap(),
            GITIGNORE
        );
        forget(&manifest, "other").unwrap();
        assert!(file.exists(), "another id leaves it");
        forget(&manifest, "42").unwrap();
        assert_eq!(last_resource(&manifest).unwrap(), None);
        assert!(last
            .describe()
            .contains("42, uuid u-1 (plan test, by kensa dev"));
    }

    #[test]
    fn a_broken_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("m.json");
        fs::create_dir(dir.path().join(DIR)).unwrap();
        fs::write(dir.path().join(".kensa/last-resource.json"), "{nope").unwrap();
        let err = last_resource(&manifest).unwrap_err().to_string();
        assert!(err.contains(".kensa/last-resource.json"), "{err}");
        assert!(err.contains("delete it"), "{err}");
    }

    #[test]
    fn a_plan_change_outside_updates_the_last_resource_and_tells_a_dev_session() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("addon-manifest.json");
        let last = LastResource::new(&manifest, "42", Some("u-1"), "test", "kensa dev");
        remember(&manifest, &last).unwrap();
        // No dev session: the last resource's plan follows, no note is left.
        plan_changed(&manifest, "42", "premium", "kensa test planchange").unwrap();
        assert_eq!(last_resource(&manifest).unwrap().unwrap().plan, "premium");
        assert!(outside_changes(&manifest).is_empty());
        // Another resource's change leaves the last one as it is.
        fs::create_dir_all(dev_dir(&manifest)).unwrap();
        plan_changed(&manifest, "7", "basic", "kensa test planchange").unwrap();
        assert_eq!(last_resource(&manifest).unwrap().unwrap().plan, "premium");
        plan_changed(&manifest, "42", "basic", "kensa test planchange").unwrap();
        let notes: Vec<_> = outside_changes(&manifest)
            .into_iter()
            .map(|n| n.unwrap().1)
            .collect();
        assert_eq!(notes.len(), 2);
        assert_eq!(
            (notes[0].id.as_str(), notes[0].uuid.as_deref()),
            ("7", None)
        );
        assert_eq!(
            (notes[1].id.as_str(), notes[1].uuid.as_deref()),
            ("42", Some("u-1"))
        );
        assert_eq!(
            notes[1].change,
            Change::PlanChanged {
                plan: "basic".into()
            }
        );
    }

    #[test]
    fn a_deprovision_outside_the_dev_session_leaves_it_a_note_only_when_there_is_one() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("m.json");
        let last = LastResource::new(&manifest, "42", Some("u-1"), "test", "kensa dev");
        remember(&manifest, &last).unwrap();
        deprovisioned(&manifest, "42", "kensa test deprovision").unwrap();
        assert_eq!(last_resource(&manifest).unwrap(), None, "forgotten");
        assert!(!dev_dir(&manifest).exists(), "no dev session: no note");

        fs::create_dir_all(dev_dir(&manifest)).unwrap();
        remember(&manifest, &last).unwrap();
        deprovisioned(&manifest, "42", "kensa test deprovision").unwrap();
        deprovisioned(&manifest, "7", "kensa test deprovision").unwrap();
        let notes: Vec<_> = outside_changes(&manifest)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let ids: Vec<(&str, Option<&str>)> = notes
            .iter()
            .map(|(_, n)| (n.id.as_str(), n.uuid.as_deref()))
            .collect();
        assert_eq!(ids, [("42", Some("u-1")), ("7", None)], "oldest first");
        assert_eq!(notes[0].1.change, Change::Deprovisioned);
        let mode = fs::metadata(&notes[0].0).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, MODE);
        for (path, _) in &notes {
            taken_in(path).unwrap();
            taken_in(path).unwrap();
        }
        assert!(outside_changes(&manifest).is_empty());

        let broken = dev_dir(&manifest).join("outside/0-1.json");
        fs::write(&broken, "{nope").unwrap();
        let err = outside_changes(&manifest).pop().unwrap().unwrap_err();
        assert!(err.to_string().contains("outside/0-1.json"), "{err}");
    }

    #[test]
    fn nested_state_folders_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("m.json");
        let file = dev_dir(&manifest).join("session.json");
        write(&file, &serde_json::json!({"token": "t"})).unwrap();
        for folder in [dir.path().join(".kensa"), dev_dir(&manifest)] {
            let mode = fs::metadata(folder).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700);
        }
        let read: serde_json::Value = read(&file).unwrap().unwrap();
        assert_eq!(read["token"], "t");
    }
}
