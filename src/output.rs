//! Styled terminal output. Colour follows `--color`, `NO_COLOR` and `CLICOLOR_FORCE`
//! through anstream, which strips escape codes when the stream is not a terminal.
//!
//! Text kensa did not write itself (a provider's bodies, ids, headers and messages, URLs
//! from answers, cookie names, the add-ons service's errors) reaches people only through
//! [`visible`]: secrets masked ([`crate::redact`]) and control characters shown as escapes
//! (`\x1b`, `\r`), on a terminal and off it, so a provider cannot retitle the terminal,
//! clear it, write to the clipboard (OSC 52) or forge a line of the report.

use std::borrow::Cow;
use std::io::Write;

use anstyle::{AnsiColor, Style};

pub const ERROR: Style = AnsiColor::Red.on_default().bold();
pub const WARN: Style = AnsiColor::Yellow.on_default();
pub const GOOD: Style = AnsiColor::Green.on_default();
pub const BOLD: Style = Style::new().bold();
pub const DIM: Style = Style::new().dimmed();

/// Text as a person may safely see it: every registered secret masked, every control
/// character (and each invisible character that reorders text) written as an escape.
/// Line feeds and tabs stay: the writer decides how lines are laid out.
pub fn visible(text: &str) -> Cow<'_, str> {
    match crate::redact::mask(text) {
        Cow::Borrowed(_) => escape_controls(text),
        Cow::Owned(masked) => Cow::Owned(escape_controls(&masked).into_owned()),
    }
}

/// Control characters as escapes: `\x1b`, `\r`, `\x7f`, `\u{202e}`.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !needs_escape(c) {
            out.push(c);
        } else if c == '\r' {
            out.push_str("\\r");
        } else if (c as u32) < 0x100 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        // Bidirectional overrides and isolates reorder what the eye reads.
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Prints `error: …` with every cause on its own line, to stderr. A cause whose text the
/// line before already ends with (`cannot read x: Is a directory`) is not repeated.
pub fn print_error(err: &anyhow::Error) {
    let mut stderr = anstream::stderr().lock();
    let _ = writeln!(
        stderr,
        "{ERROR}error:{ERROR:#} {}",
        visible(&err.to_string())
    );
    for cause in new_causes(err) {
        let _ = writeln!(stderr, "  {DIM}caused by:{DIM:#} {}", visible(&cause));
    }
}

/// The error on one line, each cause once, as [`print_error`] shows it: for the report
/// documents (`--format json|junit`) of a run that ended in an error.
pub fn error_line(err: &anyhow::Error) -> String {
    let mut line = err.to_string();
    for cause in new_causes(err) {
        line.push_str(": ");
        line.push_str(&cause);
    }
    line
}

/// The causes of `err` its message does not already end with (a message often quotes its
/// cause: "cannot read manifest x: No such file or directory").
fn new_causes(err: &anyhow::Error) -> Vec<String> {
    let mut shown = err.to_string();
    let mut causes = Vec::new();
    for cause in err.chain().skip(1) {
        let text = cause.to_string();
        if !shown.ends_with(&text) {
            causes.push(text.clone());
        }
        shown = text;
    }
    causes
}

/// Prints a yellow `warning: …` line to stderr.
pub fn warn(message: &str) {
    let _ = writeln!(
        anstream::stderr(),
        "{WARN}warning:{WARN:#} {}",
        visible(message)
    );
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

/// Quotes a word for a POSIX shell when it needs it, so printed commands can be pasted:
/// bare when safe, else in single quotes, and as `$'…'` with escapes when it holds control
/// characters (which must not reach the terminal raw, nor be lost).
pub fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if plain {
        text.to_owned()
    } else if text.chars().any(needs_escape) {
        let mut out = String::from("$'");
        for c in text.chars() {
            match c {
                '\'' => out.push_str("\\'"),
                '\\' => out.push_str("\\\\"),
                c if needs_escape(c) || c == '\n' || c == '\t' => {
                    for b in c.encode_utf8(&mut [0; 4]).bytes() {
                        out.push_str(&format!("\\x{b:02x}"));
                    }
                }
                c => out.push(c),
            }
        }
        out.push('\'');
        out
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(shell_quote("my-addon/x.y"), "my-addon/x.y");
        assert_eq!(shell_quote("exit 3"), "'exit 3'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$(rm -rf ~);`x`"), "'$(rm -rf ~);`x`'");
        assert_eq!(shell_quote("a\u{1b}]0;x\u{7}'\\"), r"$'a\x1b]0;x\x07\'\\'");
    }

    #[test]
    fn control_characters_become_visible() {
        assert_eq!(
            escape_controls("\u{1b}[2J\rok\u{7f}\u{9b}\u{202e}x\ty\nz"),
            r"\x1b[2J\rok\x7f\x9b\u{202e}x".to_owned() + "\ty\nz"
        );
        assert!(matches!(escape_controls("plain é"), Cow::Borrowed(_)));
    }

    #[test]
    fn visible_masks_then_escapes() {
        crate::redact::register(["visible-test-secret"]);
        assert_eq!(
            visible("\u{1b}]52;c;visible-test-secret\u{7}"),
            r"\x1b]52;c;********\x07"
        );
    }
}
