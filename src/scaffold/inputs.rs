//! Turns the add-on flags of `init` and `create` into an [`AddonSpec`]: flags first, then
//! the wizard for what is missing (on a terminal), then defaults. Flag values are checked
//! before anything runs.

use anyhow::Result;

use super::wizard::Wizard;
use crate::error::UsageError;
use crate::manifest::{AddonSpec, SsoMethod, KNOWN_REGIONS};
use crate::slug;

/// The add-on's identity and shape as the user gave them (all optional), shared by `init`
/// and `create`.
#[derive(Debug, Clone, Default)]
pub struct AddonOptions {
    pub id: Option<String>,
    pub name: Option<String>,
    pub regions: Option<Vec<String>>,
    pub sso: Option<SsoMethod>,
    /// Leave single sign-on out (wins over `sso`).
    pub without_sso: bool,
    pub port: Option<u16>,
    /// Replace an existing manifest or non-empty directory.
    pub force: bool,
    /// Never prompt.
    pub no_input: bool,
}

/// Options whose flag values passed [`check_flags`]: the only input [`addon_spec`] takes,
/// so the checks run once, before anything else, and cannot be skipped.
#[derive(Debug, Clone, Copy)]
pub struct CheckedFlags<'a>(&'a AddonOptions);

/// Defaults that depend on the command (`init` or `create`) and the user's config.
pub struct Defaults {
    pub id: Option<String>,
    pub port: u16,
    /// The user's default regions (`~/.config/kensa/config.toml`), else `us`.
    pub regions: Option<Vec<String>>,
}

/// Checks the values given by flags, naming the flag in every error.
pub fn check_flags(args: &AddonOptions) -> Result<CheckedFlags<'_>, UsageError> {
    if let Some(id) = &args.id {
        if let Some(why) = slug::problem(id) {
            return Err(UsageError(format!(
                "--id {id:?} is not a valid add-on slug: {why}"
            )));
        }
    }
    if let Some(name) = &args.name {
        if name.trim().is_empty() {
            return Err(UsageError("--name must not be empty".into()));
        }
    }
    if let Some(regions) = &args.regions {
        check_regions(regions)?;
    }
    Ok(CheckedFlags(args))
}

/// At least one region, each one kensa knows. Heroku does not require `us` (its own
/// tooling writes Private Space regions alone), so neither does kensa.
fn check_regions(regions: &[String]) -> Result<(), UsageError> {
    if regions.iter().all(|r| r.trim().is_empty()) {
        return Err(UsageError(format!(
            "--regions needs at least one region; known regions: {}",
            KNOWN_REGIONS.join(", ")
        )));
    }
    let unknown: Vec<&str> = regions
        .iter()
        .map(String::as_str)
        .filter(|r| !KNOWN_REGIONS.contains(r))
        .collect();
    if !unknown.is_empty() {
        return Err(UsageError(format!(
            "--regions: unknown region{} {}; known regions: {}",
            if unknown.len() == 1 { "" } else { "s" },
            unknown.join(", "),
            KNOWN_REGIONS.join(", ")
        )));
    }
    Ok(())
}

/// Resolves the add-on spec. `wizard` is `Some` only when a person can answer.
pub fn addon_spec(
    flags: CheckedFlags,
    defaults: Defaults,
    wizard: Option<&Wizard>,
) -> Result<AddonSpec> {
    let CheckedFlags(args) = flags;
    let id = match (&args.id, wizard, defaults.id) {
        (Some(id), _, _) => id.clone(),
        (None, Some(w), default) => w.id(default.as_deref())?,
        (None, None, Some(default)) => default,
        (None, None, None) => {
            return Err(UsageError(
                "cannot derive an add-on id from the directory name; pass --id SLUG".into(),
            )
            .into())
        }
    };
    let name = match (&args.name, wizard) {
        (Some(name), _) => name.clone(),
        (None, Some(w)) => w.name(&slug::title(&id))?,
        (None, None) => slug::title(&id),
    };
    let default_regions = defaults.regions.unwrap_or_else(|| vec!["us".to_owned()]);
    let regions = match (&args.regions, wizard) {
        (Some(regions), _) => regions.clone(),
        (None, Some(w)) => w.regions(&default_regions)?,
        (None, None) => default_regions,
    };
    let sso = match (args.without_sso, args.sso, wizard) {
        (true, _, _) => None,
        (false, Some(method), _) => Some(method),
        (false, None, Some(w)) => w.sso()?,
        (false, None, None) => Some(SsoMethod::Post),
    };
    let port = match (args.port, wizard) {
        (Some(port), _) => port,
        (None, Some(w)) => w.port(defaults.port)?,
        (None, None) => defaults.port,
    };
    Ok(AddonSpec {
        id,
        name,
        regions,
        sso,
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> AddonOptions {
        AddonOptions::default()
    }

    #[test]
    fn defaults_fill_everything_without_a_wizard() {
        let spec = addon_spec(
            check_flags(&args()).unwrap(),
            Defaults {
                id: Some("my-addon".into()),
                port: 5000,
                regions: None,
            },
            None,
        )
        .unwrap();
        assert_eq!(spec.name, "My Addon");
        assert_eq!(spec.regions, ["us"]);
        assert_eq!(spec.sso, Some(SsoMethod::Post));
        assert_eq!(spec.port, 5000);
    }

    #[test]
    fn bad_flags_name_the_flag() {
        let mut a = args();
        a.id = Some("Bad_Id".into());
        assert!(check_flags(&a).unwrap_err().to_string().starts_with("--id"));
        let mut a = args();
        a.regions = Some(vec!["us".into(), "mars".into()]);
        let err = check_flags(&a).unwrap_err().to_string();
        assert!(err.starts_with("--regions: unknown region mars"), "{err}");
        let mut a = args();
        a.regions = Some(vec!["".into()]);
        let err = check_flags(&a).unwrap_err().to_string();
        assert!(err.contains("at least one region"), "{err}");
        // Heroku does not require us: Private Space regions alone are a manifest it writes.
        let mut a = args();
        a.regions = Some(vec!["virginia".into(), "frankfurt".into()]);
        assert!(check_flags(&a).is_ok());
    }

    #[test]
    fn without_sso_wins() {
        let mut a = args();
        a.without_sso = true;
        let spec = addon_spec(
            check_flags(&a).unwrap(),
            Defaults {
                id: Some("x".into()),
                port: 1,
                regions: None,
            },
            None,
        )
        .unwrap();
        assert_eq!(spec.sso, None);
    }
}
