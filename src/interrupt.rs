//! Ctrl-C (SIGINT), SIGTERM and SIGHUP: what kensa does when it is told to stop. One
//! handler for the whole process, in one of two modes:
//!
//! - *deferred* (while a [`defer`] guard lives, and for good after [`catch`]): the signal
//!   only sets a flag. Code that must not stop halfway (a provisioned resource still to
//!   deprovision, a project half-staged) asks [`interrupted`] between steps, cleans up
//!   itself and returns [`Interrupted`];
//! - otherwise the signal ends kensa at once: the temporary paths registered with
//!   [`remove_on_exit`] are removed, the terminal is given back (cursor shown, line mode
//!   restored: a prompt may have hidden or changed them) and kensa exits with
//!   [`EXIT_CODE`].
//!
//! A child process (`kensa run -- <cmd>`) still gets Ctrl-C from the terminal itself.

use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, Once, OnceLock};

/// The exit status of a command stopped by a signal (128 + SIGINT, as shells report it).
pub const EXIT_CODE: u8 = 130;

static INSTALL: Once = Once::new();
static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static DEFERRING: AtomicUsize = AtomicUsize::new(0);
static EXITING: AtomicBool = AtomicBool::new(false);
static CLEANUP: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
/// The terminal's settings when the handler was installed, restored on the way out.
static TERMINAL: OnceLock<Option<libc::termios>> = OnceLock::new();

/// The error of a command that stopped because it was told to: exit [`EXIT_CODE`], no
/// message beyond this one.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("interrupted; nothing was left half-written")]
pub struct Interrupted;

/// Installs the handler (once; later calls do nothing). Until something defers, a signal
/// ends kensa cleanly.
pub fn install() {
    INSTALL.call_once(|| {
        TERMINAL.get_or_init(saved_terminal);
        // Failing to install (another handler is set) only loses the clean-up nicety.
        let _ = ctrlc::set_handler(on_signal);
    });
}

/// From now on a signal sets the flag instead of ending kensa.
pub fn catch() {
    install();
    DEFERRING.fetch_add(1, Ordering::SeqCst);
}

/// While the returned guard lives, a signal sets the flag instead of ending kensa.
#[must_use = "signals are deferred only while the guard lives"]
pub fn defer() -> Deferred {
    install();
    DEFERRING.fetch_add(1, Ordering::SeqCst);
    Deferred(())
}

/// See [`defer`].
pub struct Deferred(());

impl Drop for Deferred {
    fn drop(&mut self) {
        DEFERRING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether a signal arrived since the handler was installed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// `Err(Interrupted)` once a signal arrived: for `?` between steps.
pub fn check() -> Result<(), Interrupted> {
    if interrupted() {
        Err(Interrupted)
    } else {
        Ok(())
    }
}

/// Registers a temporary file or directory that a signal ending kensa removes. The owner
/// still removes it in the normal course; dropping the guard only unregisters it.
#[must_use = "the path is registered only while the guard lives"]
pub fn remove_on_exit(path: &Path) -> Registered {
    install();
    if let Ok(mut paths) = CLEANUP.lock() {
        paths.push(path.to_owned());
    }
    Registered(path.to_owned())
}

/// See [`remove_on_exit`].
pub struct Registered(PathBuf);

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut paths) = CLEANUP.lock() {
            if let Some(i) = paths.iter().rposition(|p| *p == self.0) {
                paths.remove(i);
            }
        }
    }
}

fn on_signal() {
    INTERRUPTED.store(true, Ordering::SeqCst);
    if DEFERRING.load(Ordering::SeqCst) == 0 {
        exit_now();
    }
}

/// Removes the registered temporary paths, gives the terminal back and exits with
/// [`EXIT_CODE`]. Safe to reach from two threads at once (a prompt that read Ctrl-C and
/// the handler): the second waits for the first to end the process.
pub fn exit_now() -> ! {
    if EXITING.swap(true, Ordering::SeqCst) {
        loop {
            std::thread::sleep(std::time::Duration::from_secs(60));
        }
    }
    let paths = CLEANUP.lock().map(|p| p.clone()).unwrap_or_default();
    for path in paths {
        let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
    }
    restore_terminal();
    std::process::exit(EXIT_CODE.into());
}

/// Shows the cursor again (dialoguer hides it in lists and confirmations) and puts the
/// terminal back in the mode it had when kensa started (a prompt may be in raw mode).
pub fn restore_terminal() {
    if let Some(Some(saved)) = TERMINAL.get() {
        // SAFETY: tcsetattr reads the termios we saved from this same descriptor.
        unsafe {
            libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, saved);
        }
    }
    let mut stderr = io::stderr();
    if stderr.is_terminal() {
        let _ = stderr.write_all(b"\x1b[?25h");
        let _ = stderr.flush();
    }
}

fn saved_terminal() -> Option<libc::termios> {
    if !io::stdin().is_terminal() {
        return None;
    }
    let mut termios = std::mem::MaybeUninit::<libc::termios>::uninit();
    // SAFETY: tcgetattr fills the termios when it returns 0, and we read it only then.
    unsafe {
        (libc::tcgetattr(libc::STDIN_FILENO, termios.as_mut_ptr()) == 0)
            .then(|| termios.assume_init())
    }
}
