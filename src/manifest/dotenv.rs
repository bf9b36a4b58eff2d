//! The foreman-style `.env` beside the manifest: the secrets the generated service needs to
//! authenticate Heroku's calls, and where kensa reads the OAuth client secret back from.

use std::path::{Path, PathBuf};

use super::Manifest;
use crate::fsutil::parent_of;
use crate::secrets;

pub const FILE: &str = ".env";
/// Secrets: readable by the owner only.
pub const MODE: u32 = 0o600;

/// The `.env` in the manifest's directory.
pub fn beside(manifest_path: &Path) -> PathBuf {
    parent_of(manifest_path).join(FILE)
}

/// `SSO_SALT`, `HEROKU_USERNAME` and `HEROKU_PASSWORD`, matching the manifest, and an OAuth
/// client secret for the v3 asynchronous flow. Heroku issues the real client secret in the
/// Partner Portal; until then a random one works with kensa's loopback Heroku, which reads
/// it from this file. `ENCRYPTION_KEY` is the service's own key for the OAuth tokens it
/// stores; it never leaves the service.
pub fn contents(manifest: &Manifest) -> String {
    format!(
        "SSO_SALT={}\nHEROKU_USERNAME={}\nHEROKU_PASSWORD={}\nHEROKU_CLIENT_SECRET={}\nENCRYPTION_KEY={}\n",
        manifest.sso_salt().unwrap_or_default(),
        manifest.id().unwrap_or_default(),
        manifest.password().unwrap_or_default(),
        secrets::generate(),
        secrets::key_hex(),
    )
}

/// The first non-empty value of `key` from the `.env` beside the manifest, read as
/// [`read_all`] reads it (the service gets the same value); `None` when there is no such
/// file or line.
pub fn read_value(manifest_path: &Path, key: &str) -> Option<String> {
    read_all(manifest_path)
        .ok()?
        .into_iter()
        .find(|(k, v)| k == key && !v.is_empty())
        .map(|(_, v)| v)
}

/// Every `KEY=value` of the `.env` beside the manifest, in order, as foreman and
/// `heroku local` read it: blank lines and `#` comments skipped, an `export ` prefix and
/// matching quotes around the value removed. No file: nothing.
pub fn read_all(manifest_path: &Path) -> std::io::Result<Vec<(String, String)>> {
    let text = match crate::fsutil::read_input_text(&beside(manifest_path)) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (key, value) = line.split_once('=')?;
            let value = value.trim();
            let unquoted = ['"', '\'']
                .iter()
                .find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q)))
                .unwrap_or(value);
            Some((key.trim().to_owned(), unquoted.to_owned()))
        })
        .filter(|(key, _)| !key.is_empty() && !key.contains(char::is_whitespace))
        .collect())
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_variable_is_read_as_foreman_reads_it() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("addon-manifest.json");
        assert!(read_all(&manifest).unwrap().is_empty());
        std::fs::write(
            dir.path().join(FILE),
            "# comment\n\nA=1\nexport B=\"two words\"\nC='x=y'\nbad line\nD=\n",
        )
        .unwrap();
        let pairs = read_all(&manifest).unwrap();
        let expected = [("A", "1"), ("B", "two words"), ("C", "x=y"), ("D", "")];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(pairs, expected);
    }

    use super::*;

    #[test]
    fn the_env_file_sits_beside_the_manifest() {
        assert_eq!(
            beside(Path::new("addon-manifest.json")),
            Path::new("./.env")
        );
        assert_eq!(beside(Path::new("a/b/m.json")), Path::new("a/b/.env"));
    }

    #[test]
    fn values_are_read_unquoted_and_blank_ones_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("addon-manifest.json");
        std::fs::write(
            dir.path().join(FILE),
            "A=\nB=\"quoted\"\n  C = x\nA=second\nexport D='single \"q\"'\n",
        )
        .unwrap();
        assert_eq!(read_value(&manifest, "A").as_deref(), Some("second"));
        assert_eq!(read_value(&manifest, "B").as_deref(), Some("quoted"));
        // As the service reads it (read_all): the value kensa checks is the one it gets.
        assert_eq!(read_value(&manifest, "C").as_deref(), Some("x"));
        assert_eq!(read_value(&manifest, "D").as_deref(), Some("single \"q\""));
        assert_eq!(read_value(&dir.path().join("none/m.json"), "A"), None);
    }
}
