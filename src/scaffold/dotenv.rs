//! The foreman-style `.env` that lets the generated service authenticate Heroku's calls.

use crate::manifest::Manifest;
use crate::secrets;

pub const FILE: &str = ".env";
/// Secrets: readable by the owner only.
pub const MODE: u32 = 0o600;

/// `SSO_SALT`, `HEROKU_USERNAME` and `HEROKU_PASSWORD`, matching the manifest, and an OAuth
/// client secret for the v3 asynchronous flow. Heroku issues the real client secret in the
/// Partner Portal; until then a random one works with kensa's loopback Heroku, which reads
/// it from this file.
pub fn contents(manifest: &Manifest) -> String {
    format!(
        "SSO_SALT={}\nHEROKU_USERNAME={}\nHEROKU_PASSWORD={}\nHEROKU_CLIENT_SECRET={}\n",
        manifest.sso_salt().unwrap_or_default(),
        manifest.id().unwrap_or_default(),
        manifest.password().unwrap_or_default(),
        secrets::generate(),
    )
}
