//! Asking a person: whether anyone can be asked at all, and the yes/no question every
//! command that might replace a file asks. Feature-specific questions (the `create`
//! wizard) build on the same theme.

use std::io::{self, IsTerminal};
use std::path::Path;

use anyhow::{Context, Result};
use dialoguer::theme::ColorfulTheme;
use dialoguer::Confirm;

/// Prompt only when asked to be interactive and a person can answer: stdin to type on,
/// stderr (where dialoguer draws) to read from.
pub fn interactive(no_input: bool) -> bool {
    !no_input && io::stdin().is_terminal() && io::stderr().is_terminal()
}

/// The look of every prompt.
pub fn theme() -> ColorfulTheme {
    ColorfulTheme::default()
}

/// `<path> <what>. Replace it?`, default no.
pub fn confirm_replace(path: &Path, what: &str) -> Result<bool> {
    Confirm::with_theme(&theme())
        .with_prompt(format!("{} {what}. Replace it?", path.display()))
        .default(false)
        .interact()
        .context("confirmation prompt")
}
