//! The outcome of one named check, shared by manifest validation and the simulator.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "message", rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    /// Passed, but something a provider should look at.
    Warn(String),
    Fail(String),
    /// Not run, because something it depends on is missing or failed.
    Skip(String),
}

impl Verdict {
    pub fn is_fail(&self) -> bool {
        matches!(self, Verdict::Fail(_))
    }

    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Warn(_) => "WARN",
            Verdict::Fail(_) => "FAIL",
            Verdict::Skip(_) => "SKIP",
        }
    }

    pub fn message(&self) -> Option<&str> {
        match self {
            Verdict::Pass => None,
            Verdict::Warn(m) | Verdict::Fail(m) | Verdict::Skip(m) => Some(m),
        }
    }

    /// `Pass` when `ok`, else `Fail(message)`.
    pub fn check(ok: bool, message: impl FnOnce() -> String) -> Verdict {
        if ok {
            Verdict::Pass
        } else {
            Verdict::Fail(message())
        }
    }
}
