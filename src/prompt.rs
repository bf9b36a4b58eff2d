//! Asking a person: whether anyone can be asked at all, and the yes/no question every
//! command that might replace a file asks. Feature-specific questions (the `create`
//! wizard) build on the same theme.

use std::io::{self, IsTerminal};
use std::path::Path;

use anyhow::Result;
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
    confirm(&format!("{} {what}. Replace it?", path.display()))
}

/// A yes/no question, default no.
pub fn confirm(question: &str) -> Result<bool> {
    answer(
        Confirm::with_theme(&theme())
            .with_prompt(question)
            .default(false)
            .interact(),
        "confirmation prompt",
    )
}

/// A prompt's answer. Ctrl-C at a prompt (read as a key in raw mode) ends kensa as the
/// signal would: terminal restored, temporary files removed, exit 130.
pub fn answer<T>(result: dialoguer::Result<T>, what: &str) -> Result<T> {
    match result {
        Ok(value) => Ok(value),
        Err(dialoguer::Error::IO(e)) if e.kind() == io::ErrorKind::Interrupted => {
            crate::interrupt::exit_now()
        }
        Err(e) => Err(anyhow::Error::new(e).context(what.to_owned())),
    }
}
