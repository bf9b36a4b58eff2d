//! A spinner on stderr for waits longer than a moment (a slow provider, the provider's
//! asynchronous callbacks, a browser that has not opened the SSO page yet).
//!
//! Checks do not know about it: the code that waits holds a [`Spinner`] guard for the length
//! of the wait. Nothing is drawn unless the binary called [`enable`] (only when stderr is a
//! terminal), nothing is drawn for a wait shorter than its delay, and dropping the guard
//! clears the line before anyone prints the result, so report lines never mix with it.
//! At most one spinner shows at a time; a guard started while another is shown is inert.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::Mutex;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a wait may last before it gets a spinner.
pub const MOMENT: Duration = Duration::from_millis(500);
/// How long an HTTP request may take before it gets a spinner.
pub const SLOW_REQUEST: Duration = Duration::from_secs(1);

static ENABLED: AtomicBool = AtomicBool::new(false);
/// True while a guard owns the (single) spinner.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The spinner being drawn, for [`suspend`].
static SHOWN: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Allows spinners from now on, if stderr is a terminal that can redraw a line.
/// Returns whether they are on.
pub fn enable() -> bool {
    let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
    let on = std::io::stderr().is_terminal() && !dumb;
    ENABLED.store(on, Ordering::SeqCst);
    on
}

/// Runs `f` (which writes to stderr) with the spinner, if one is shown, out of the way.
pub fn suspend<R>(f: impl FnOnce() -> R) -> R {
    let shown = SHOWN.lock().ok().and_then(|s| s.clone());
    match shown {
        Some(bar) => bar.suspend(f),
        None => f(),
    }
}

/// Shows a spinner with a message while it lives, once `delay` has passed.
#[must_use = "the spinner stops when the guard is dropped"]
pub struct Spinner {
    running: Option<Running>,
}

struct Running {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

impl Spinner {
    /// A spinner for a wait that may take a while: shown after [`MOMENT`].
    pub fn start(message: impl Into<String>) -> Spinner {
        Spinner::after(MOMENT, message)
    }

    /// A spinner shown once the wait has lasted `delay`.
    pub fn after(delay: Duration, message: impl Into<String>) -> Spinner {
        if !ENABLED.load(Ordering::SeqCst) || ACTIVE.swap(true, Ordering::SeqCst) {
            return Spinner { running: None };
        }
        // It names URLs the provider may have chosen: shown like any other such text.
        let message = crate::output::visible(&message.into()).into_owned();
        let started = Instant::now();
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::spawn(move || {
            // Ok or Disconnected: the wait ended before the spinner was due.
            if stopped.recv_timeout(delay) != Err(RecvTimeoutError::Timeout) {
                return;
            }
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
                .with_elapsed(started.elapsed())
                .with_style(style())
                .with_message(message);
            bar.enable_steady_tick(Duration::from_millis(100));
            if let Ok(mut shown) = SHOWN.lock() {
                *shown = Some(bar.clone());
            }
            // Blocks until the guard is dropped (the sender goes away).
            let _ = stopped.recv();
            if let Ok(mut shown) = SHOWN.lock() {
                *shown = None;
            }
            bar.finish_and_clear();
        });
        Spinner {
            running: Some(Running { stop, thread }),
        }
    }

    /// Whether this guard may draw (false when spinners are off or another one shows).
    pub fn is_live(&self) -> bool {
        self.running.is_some()
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        if let Some(Running { stop, thread }) = self.running.take() {
            drop(stop);
            let _ = thread.join();
            ACTIVE.store(false, Ordering::SeqCst);
        }
    }
}

fn style() -> ProgressStyle {
    ProgressStyle::with_template("{spinner} {elapsed:>3} {wide_msg}")
        .expect("the spinner template is valid")
        .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_unless_enabled() {
        // Unit tests never call `enable`, so the guard is inert and costs nothing.
        let spinner = Spinner::after(Duration::ZERO, "waiting");
        assert!(!spinner.is_live());
        assert_eq!(suspend(|| 7), 7);
    }

    #[test]
    fn the_style_renders() {
        let _ = style();
    }
}
