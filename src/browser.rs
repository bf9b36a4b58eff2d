//! Opening a URL in the user's browser: `$BROWSER` first, then the platform's opener. The
//! caller has printed the URL already, so a missing browser is a warning, not an error.

use std::io::{self, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::output::{self, DIM};

/// How long a browser command may take to say it failed; one still running then is
/// taken to be the browser itself, and left running.
const BROWSER_GRACE: Duration = Duration::from_secs(3);

/// Opens `url` in a browser, or says on stderr why it could not: never an error, since the
/// address is already printed.
pub fn launch(url: &str) {
    match open_browser(url) {
        Ok(how) => {
            let _ = writeln!(anstream::stderr(), "{DIM}Opened it with {how}.{DIM:#}");
        }
        Err(why) => output::warn(&format!(
            "could not open a browser ({why}); open the address above yourself"
        )),
    }
}

/// Runs the browser command: each entry of `$BROWSER` (`:`-separated, `%s` standing for
/// the URL, as xdg-utils and Python's webbrowser read it), then `open` on macOS or
/// `xdg-open` elsewhere. Returns the command that worked, or why none did.
pub fn open_browser(url: &str) -> Result<String, String> {
    let mut candidates: Vec<Vec<String>> = Vec::new();
    if let Some(browser) = std::env::var_os("BROWSER") {
        for entry in browser.to_string_lossy().split(':') {
            let words: Vec<String> = entry.split_whitespace().map(str::to_owned).collect();
            if words.is_empty() {
                continue;
            }
            let with_url = if words.iter().any(|w| w.contains("%s")) {
                words.iter().map(|w| w.replace("%s", url)).collect()
            } else {
                let mut w = words;
                w.push(url.to_owned());
                w
            };
            candidates.push(with_url);
        }
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    candidates.push(vec![opener.to_owned(), url.to_owned()]);

    let mut failures = Vec::new();
    for words in candidates {
        let program = &words[0];
        let spawned = Command::new(program)
            .args(&words[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                failures.push(format!("{program} not found"));
                continue;
            }
            Err(e) => {
                failures.push(format!("{program}: {e}"));
                continue;
            }
        };
        let started = Instant::now();
        loop {
            match child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(program.clone()),
                Ok(Some(status)) => {
                    failures.push(format!("{program} exited with {status}"));
                    break;
                }
                Ok(None) if started.elapsed() >= BROWSER_GRACE => return Ok(program.clone()),
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                Err(e) => {
                    failures.push(format!("{program}: {e}"));
                    break;
                }
            }
        }
    }
    if std::env::var_os("BROWSER").is_none() {
        failures.push("BROWSER is not set".into());
    }
    Err(failures.join("; "))
}
