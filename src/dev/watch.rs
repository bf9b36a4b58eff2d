//! `--watch`: tells the session when a source file changes, debounced, ignoring what
//! is not source (`.git`, `node_modules`, `target`, `.kensa`, `data`, editors' scratch
//! files). Ignored folders at the top are not even watched, so a large `node_modules`
//! costs nothing.

use std::path::{Component, Path, PathBuf};
use std::sync::mpsc::{channel, Sender};
use std::time::Duration;

use notify_debouncer_mini::notify::{self, RecursiveMode};
use notify_debouncer_mini::{new_debouncer, DebounceEventResult, Debouncer};

/// Folders whose changes never restart anything.
pub const IGNORED: &[&str] = &[".git", "node_modules", "target", ".kensa", "data"];
/// Quiet time after the last change before it counts.
pub const DEBOUNCE: Duration = Duration::from_millis(400);

/// Keeps watching while it lives.
pub struct Watch {
    _debouncer: Debouncer<notify::RecommendedWatcher>,
}

/// Whether a change to `path` (under `root`) is a source change.
pub fn is_source(root: &Path, path: &Path) -> bool {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let ignored_dir = rel.components().any(|c| match c {
        Component::Normal(name) => IGNORED.iter().any(|i| name == *i),
        _ => false,
    });
    let name = rel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let scratch = name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name == "4913"
        || name.starts_with(".#");
    !ignored_dir && !scratch
}

/// Watches `root`; sends the changed paths (relative to `root`, files before folders), one
/// batch per quiet spell, to `to`.
pub fn start(root: &Path, to: Sender<Vec<PathBuf>>) -> notify::Result<Watch> {
    // The watcher reports absolute paths: compare them with an absolute root.
    let root = &root.canonicalize().unwrap_or_else(|_| root.to_owned());
    let (events, batches) = channel::<DebounceEventResult>();
    let mut debouncer = new_debouncer(DEBOUNCE, events)?;
    let watcher = debouncer.watcher();
    // The top folder alone (new files there), then each folder in it that is not ignored.
    watcher.watch(root, RecursiveMode::NonRecursive)?;
    for entry in std::fs::read_dir(root)?.flatten() {
        let path = entry.path();
        if path.is_dir() && is_source(root, &path) {
            watcher.watch(&path, RecursiveMode::Recursive)?;
        }
    }
    let root = root.to_owned();
    std::thread::spawn(move || {
        for batch in batches {
            let Ok(batch) = batch else { continue };
            let mut changed: Vec<PathBuf> = batch
                .into_iter()
                .map(|e| e.path)
                .filter(|p| p != &root && is_source(&root, p))
                .collect();
            changed.sort_by_key(|p| p.is_dir());
            let changed: Vec<PathBuf> = changed
                .into_iter()
                .map(|p| p.strip_prefix(&root).map(Path::to_owned).unwrap_or(p))
                .collect();
            if !changed.is_empty() && to.send(changed).is_err() {
                return;
            }
        }
    });
    Ok(Watch {
        _debouncer: debouncer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn what_is_not_source_is_ignored() {
        let root = Path::new("/p");
        assert!(is_source(root, Path::new("/p/src/app.js")));
        assert!(is_source(root, Path::new("/p/Procfile")));
        for ignored in [
            "/p/.git/index",
            "/p/node_modules/x/index.js",
            "/p/target/debug/x",
            "/p/.kensa/dev/session.json",
            "/p/data/db.sqlite",
            "/p/src/node_modules/y.js",
            "/p/src/app.js~",
            "/p/src/.app.js.swp",
        ] {
            assert!(!is_source(root, Path::new(ignored)), "{ignored}");
        }
    }

    #[test]
    fn a_source_change_is_reported_and_an_ignored_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("src")).unwrap();
        std::fs::create_dir(root.join("node_modules")).unwrap();
        let (to, changes) = channel();
        let _watch = start(&root, to).unwrap();
        std::fs::write(root.join("node_modules/ignored.js"), "x").unwrap();
        std::fs::create_dir(root.join("node_modules/pkg")).unwrap();
        std::fs::write(root.join("src/app.js"), "x").unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen: Vec<PathBuf> = Vec::new();
        while Instant::now() < deadline && !seen.iter().any(|p| p.ends_with("src/app.js")) {
            if let Ok(batch) = changes.recv_timeout(Duration::from_millis(200)) {
                seen.extend(batch);
            }
        }
        assert!(seen.iter().any(|p| p.ends_with("src/app.js")), "{seen:?}");
        assert!(
            !seen
                .iter()
                .any(|p| p.starts_with(root.join("node_modules"))),
            "{seen:?}"
        );
    }
}
