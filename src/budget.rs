//! Bounds for work on untrusted input (a template someone else wrote): how much memory and
//! time one job may take. A job that goes over ends in an error the caller can report, never
//! in an abort of kensa.
//!
//! Memory is counted by kensa's global allocator, per thread: [`run`] starts the job on a
//! thread of its own with a budget. An allocation that would take that thread over its
//! budget is never made: the thread is parked for good instead (an allocation that fails
//! would abort the whole process, and an allocator must not unwind), and the waiting caller
//! sees the flag the allocator raised and returns [`Exceeded::Memory`]. The parked thread
//! ends with the process. Threads without a budget pay one thread-local read per allocation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// What one job may use.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes allocated and not yet freed by the job's thread.
    pub memory: usize,
    /// Wall-clock time.
    pub time: Duration,
    /// The job thread's stack (deep but finite recursion is fine; cycles are the caller's
    /// to rule out).
    pub stack: usize,
}

/// Why a job was stopped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Exceeded {
    #[error("it needs more than {} MiB of memory (a loop or range that is far too large?)", .0 / (1024 * 1024))]
    Memory(usize),
    #[error("it runs longer than {} s (a loop that never ends, or text nested too deeply to parse?)", .0.as_secs())]
    Time(Duration),
    #[error("it crashed the template engine: {0}")]
    Panic(String),
}

/// Runs `job` on a thread of its own within `limits`.
pub fn run<T, F>(limits: Limits, job: F) -> Result<T, Exceeded>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let over = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&over);
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::Builder::new()
        .name("kensa-bounded".into())
        .stack_size(limits.stack)
        .spawn(move || {
            let _budget = Budget::start(limits.memory, &flag);
            let value = job();
            drop(_budget);
            let _ = tx.send(value);
        })
        .map_err(|e| Exceeded::Panic(format!("cannot start a thread: {e}")))?;
    let deadline = Instant::now() + limits.time;
    let poll = Duration::from_millis(10);
    loop {
        match rx.recv_timeout(poll) {
            Ok(value) => {
                let _ = handle.join();
                return Ok(value);
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let cause = match handle.join() {
                    Err(payload) => panic_text(payload.as_ref()),
                    Ok(()) => "the job ended without a result".to_owned(),
                };
                return Err(Exceeded::Panic(cause));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if over.load(Ordering::SeqCst) {
                    return Err(Exceeded::Memory(limits.memory));
                }
                if Instant::now() >= deadline {
                    // The thread is left to run on: threads cannot be killed, and the
                    // process ends soon after this error anyway.
                    return Err(Exceeded::Time(limits.time));
                }
            }
        }
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_owned())
}

thread_local! {
    /// The budget of this thread in bytes; 0 means none.
    static LIMIT: Cell<usize> = const { Cell::new(0) };
    /// Bytes this thread allocated and has not freed since its budget started.
    static USED: Cell<usize> = const { Cell::new(0) };
    /// The flag [`run`] watches, raised when this thread went over.
    static OVER: Cell<*const AtomicBool> = const { Cell::new(std::ptr::null()) };
}

/// A budget on the current thread for as long as it lives.
struct Budget;

impl Budget {
    fn start(limit: usize, over: &Arc<AtomicBool>) -> Budget {
        USED.with(|u| u.set(0));
        // The Arc lives in the job thread's closure until the thread ends, so the pointer
        // stays valid for every allocation this thread makes.
        OVER.with(|o| o.set(Arc::as_ptr(over)));
        LIMIT.with(|l| l.set(limit));
        Budget
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        LIMIT.with(|l| l.set(0));
    }
}

/// Counts `size` more bytes against the current thread's budget, if it has one; never
/// returns when that would go over it.
fn charge(size: usize) {
    let limit = LIMIT.try_with(Cell::get).unwrap_or(0);
    // A panicking thread is on its way out: its report (a backtrace reads debug info) must
    // not be parked while it holds the process's backtrace and output locks.
    if limit == 0 || std::thread::panicking() {
        return;
    }
    let used = USED.try_with(Cell::get).unwrap_or(0);
    let total = used.saturating_add(size);
    if total > limit {
        let over = OVER.try_with(Cell::get).unwrap_or(std::ptr::null());
        // SAFETY: set by `Budget::start` from an Arc this thread keeps alive.
        if let Some(flag) = unsafe { over.as_ref() } {
            flag.store(true, Ordering::SeqCst);
        }
        // Parked for good: sleeping allocates nothing, and the process ends soon.
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    let _ = USED.try_with(|u| u.set(total));
}

fn credit(size: usize) {
    if LIMIT.try_with(Cell::get).unwrap_or(0) != 0 {
        let _ = USED.try_with(|u| u.set(u.get().saturating_sub(size)));
    }
}

/// The system allocator with per-thread budgets.
pub struct BudgetAllocator;

// SAFETY: every call is forwarded to the system allocator unchanged; the bookkeeping only
// reads and writes plain thread-locals (no allocation) or parks the thread before it.
unsafe impl GlobalAlloc for BudgetAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        charge(layout.size());
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        charge(layout.size());
        System.alloc_zeroed(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        credit(layout.size());
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            charge(new_size - layout.size());
        } else {
            credit(layout.size() - new_size);
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: BudgetAllocator = BudgetAllocator;

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        memory: 8 * 1024 * 1024,
        time: Duration::from_secs(20),
        stack: 2 * 1024 * 1024,
    };

    #[test]
    fn a_job_within_its_budget_returns_its_value() {
        let v = run(LIMITS, || vec![1u8; 1024 * 1024].len()).unwrap();
        assert_eq!(v, 1024 * 1024);
    }

    #[test]
    fn one_huge_allocation_is_refused_without_an_abort() {
        let err = run(LIMITS, || vec![0u8; 1 << 40].len()).unwrap_err();
        assert_eq!(err, Exceeded::Memory(LIMITS.memory));
    }

    #[test]
    fn growth_past_the_budget_is_refused() {
        let err = run(LIMITS, || {
            let mut s = String::from("ab");
            loop {
                s = s.clone() + &s;
            }
        })
        .unwrap_err();
        assert!(matches!(err, Exceeded::Memory(_)), "{err:?}");
    }

    #[test]
    fn memory_given_back_is_available_again() {
        let v = run(LIMITS, || {
            for _ in 0..100 {
                let v = vec![1u8; 4 * 1024 * 1024];
                assert_eq!(v.len(), 4 * 1024 * 1024);
            }
            true
        });
        assert_eq!(v, Ok(true));
    }

    #[test]
    fn a_job_that_never_ends_is_abandoned_at_the_deadline() {
        let limits = Limits {
            time: Duration::from_millis(100),
            ..LIMITS
        };
        let err = run(limits, || loop {
            std::hint::spin_loop();
            std::thread::sleep(Duration::from_millis(5));
        })
        .unwrap_err();
        assert!(matches!(err, Exceeded::Time(_)), "{err:?}");
    }

    #[test]
    fn a_panic_is_an_error() {
        let err = run(LIMITS, || -> u8 { panic!("boom") }).unwrap_err();
        assert_eq!(err, Exceeded::Panic("boom".into()));
    }
}
