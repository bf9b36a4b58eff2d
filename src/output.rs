//! Styled terminal output. Colour follows `--color`, `NO_COLOR` and `CLICOLOR_FORCE`
//! through anstream, which strips escape codes when the stream is not a terminal.

use std::io::Write;

use anstyle::{AnsiColor, Style};

pub const ERROR: Style = AnsiColor::Red.on_default().bold();
pub const WARN: Style = AnsiColor::Yellow.on_default();
pub const GOOD: Style = AnsiColor::Green.on_default();
pub const BOLD: Style = Style::new().bold();
pub const DIM: Style = Style::new().dimmed();

/// Prints `error: …` with every cause on its own line, to stderr. A cause whose text the
/// line before already ends with (`cannot read x: Is a directory`) is not repeated.
pub fn print_error(err: &anyhow::Error) {
    let mut stderr = anstream::stderr().lock();
    let _ = writeln!(stderr, "{ERROR}error:{ERROR:#} {err}");
    let mut shown = err.to_string();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !shown.ends_with(&text) {
            let _ = writeln!(stderr, "  {DIM}caused by:{DIM:#} {text}");
        }
        shown = text;
    }
}

/// Prints a yellow `warning: …` line to stderr.
pub fn warn(message: &str) {
    let _ = writeln!(anstream::stderr(), "{WARN}warning:{WARN:#} {message}");
}

/// How to run this kensa again from any directory, for the commands kensa suggests: `kensa`
/// when that name on `PATH` is this very binary; otherwise its full path (shell-quoted),
/// which is what works after `cargo run -- create …` in a clone, before `cargo install`.
pub fn kensa_command() -> String {
    let Some(this) = std::env::current_exe()
        .ok()
        .and_then(|p| std::fs::canonicalize(p).ok())
    else {
        return "kensa".to_owned();
    };
    let on_path = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("kensa"))
        .find(|candidate| candidate.is_file());
    match on_path.and_then(|p| std::fs::canonicalize(p).ok()) {
        Some(found) if found == this => "kensa".to_owned(),
        _ => shell_quote(&this.display().to_string()),
    }
}

/// Whether [`kensa_command`] had to spell out a path: `kensa` is not this binary on `PATH`.
pub fn kensa_is_on_path() -> bool {
    kensa_command() == "kensa"
}

/// Quotes a word for a POSIX shell when it needs it, so printed commands can be pasted.
pub fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(shell_quote("my-addon/x.y"), "my-addon/x.y");
        assert_eq!(shell_quote("exit 3"), "'exit 3'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
