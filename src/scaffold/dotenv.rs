//! The foreman-style `.env` that lets the generated service authenticate Heroku's calls.

use crate::manifest::Manifest;

pub const FILE: &str = ".env";
/// Secrets: readable by the owner only.
pub const MODE: u32 = 0o600;

/// `SSO_SALT`, `HEROKU_USERNAME` and `HEROKU_PASSWORD`, matching the manifest.
pub fn contents(manifest: &Manifest) -> String {
    format!(
        "SSO_SALT={}\nHEROKU_USERNAME={}\nHEROKU_PASSWORD={}\n",
        manifest.sso_salt().unwrap_or_default(),
        manifest.id().unwrap_or_default(),
        manifest.password().unwrap_or_default(),
    )
}
