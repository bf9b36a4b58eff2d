//! Ctrl-C while kensa holds a provisioned resource: the interrupt must not leave that
//! resource behind, so from [`catch`] on, Ctrl-C only sets a flag. The code that provisions
//! asks [`interrupted`] between steps and goes straight to deprovisioning; waits poll it.
//! A child process (`kensa run -- <cmd>`) still gets the signal from the terminal itself.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The exit status after Ctrl-C: 128 + SIGINT, what a shell reports for a process the
/// signal ended, so scripts see an interrupted kensa the same whether or not it cleaned up.
pub const EXIT_CODE: u8 = 130;

/// From now on Ctrl-C sets the flag instead of killing kensa.
pub fn catch() {
    // Failing to install (already installed) only loses the nicety, never correctness.
    let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));
}

/// Whether Ctrl-C was pressed since [`catch`].
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
