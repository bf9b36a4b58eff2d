//! Single keys from the terminal, as vite reads them: only when stdin is a terminal, in a
//! mode without line buffering or echo (signals still work: Ctrl-C stays SIGINT). The
//! terminal's own mode is restored when the [`Keys`] guard is dropped, on every way out.

use std::io::{self, IsTerminal};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::Arc;

/// The one line that says which keys do what.
pub const HELP: &str = "press t test all · p provision · s sign in · c plan change · d deprovision · r restart · o open console · q quit";

/// Key mode on the terminal; restores the terminal when dropped.
pub struct Keys {
    fd: i32,
    original: libc::termios,
    stop: Arc<AtomicBool>,
}

impl Keys {
    /// Starts reading keys into `to`, when stdin is a terminal; `None` otherwise.
    pub fn start(to: Sender<char>) -> Option<Keys> {
        let stdin = io::stdin();
        if !stdin.is_terminal() {
            return None;
        }
        let fd = stdin.as_raw_fd();
        // SAFETY: termios is plain data; tcgetattr fills it for a terminal fd.
        let mut original: libc::termios = unsafe { std::mem::zeroed() };
        if unsafe { libc::tcgetattr(fd, &mut original) } != 0 {
            return None;
        }
        let mut keys_mode = original;
        keys_mode.c_lflag &= !(libc::ICANON | libc::ECHO);
        keys_mode.c_cc[libc::VMIN] = 1;
        keys_mode.c_cc[libc::VTIME] = 0;
        // SAFETY: a valid termios for the same fd.
        if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &keys_mode) } != 0 {
            return None;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let reading = stop.clone();
        std::thread::spawn(move || read_keys(fd, &to, &reading));
        Some(Keys { fd, original, stop })
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // SAFETY: restores the attributes read from the same fd.
        unsafe {
            libc::tcsetattr(self.fd, libc::TCSANOW, &self.original);
        }
    }
}

/// Reads one byte at a time, waiting at most 200 ms per poll so the thread notices `stop`.
fn read_keys(fd: i32, to: &Sender<char>, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut poll, 1, 200) };
        if ready <= 0 {
            continue;
        }
        let mut byte = 0u8;
        // SAFETY: reads at most one byte into `byte`.
        let n = unsafe { libc::read(fd, (&mut byte as *mut u8).cast(), 1) };
        if n <= 0 {
            return; // end of input: no more keys
        }
        if to.send(byte as char).is_err() {
            return;
        }
    }
}
