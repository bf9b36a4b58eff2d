//! The outcome of one named check, shared by manifest validation and the simulator.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "message", rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    /// A rule of advice is broken: made only by [`crate::registry::Severity::settle`].
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
    ///
    /// Checks make only `Pass`, `Fail` and `Skip`: whether a broken rule fails or warns is
    /// its severity's to say ([`crate::registry::Severity::settle`]).
    pub fn check(ok: bool, message: impl FnOnce() -> String) -> Verdict {
        if ok {
            Verdict::Pass
        } else {
            Verdict::Fail(message())
        }
    }
}

impl From<Result<(), String>> for Verdict {
    /// `Ok` passes; `Err(why)` fails with that reason.
    fn from(result: Result<(), String>) -> Verdict {
        match result {
            Ok(()) => Verdict::Pass,
            Err(why) => Verdict::Fail(why),
        }
    }
}
