//! The foreman-style `.env` that lets the generated service authenticate Heroku's calls.

use std::path::Path;

use crate::manifest::Manifest;
use crate::secrets;

pub const FILE: &str = ".env";
/// Secrets: readable by the owner only.
pub const MODE: u32 = 0o600;

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

/// A non-empty value of `key` from the `.env` in `dir` (`KEY=value`, quotes allowed);
/// `None` when there is no such file or line.
pub fn read_value(dir: &Path, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(FILE)).ok()?;
    let prefix = format!("{key}=");
    text.lines()
        .filter_map(|line| line.trim().strip_prefix(prefix.as_str()))
        .map(|v| v.trim().trim_matches('"').to_owned())
        .find(|v| !v.is_empty())
}
