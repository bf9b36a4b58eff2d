//! Error kinds that decide the exit code: 2 for usage and input errors, 1 for failures.

use std::io;

use crate::manifest::ManifestError;
use crate::scaffold::ScaffoldError;

/// Bad or missing input from the user: exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

impl UsageError {
    pub fn new(message: impl Into<String>) -> Self {
        UsageError(message.into())
    }
}

/// 2 when anything in the chain is a usage error, else 1.
pub fn exit_code_for(err: &anyhow::Error) -> u8 {
    let usage = err.chain().any(|cause| {
        cause.is::<UsageError>()
            || cause.is::<ManifestError>()
            || cause
                .downcast_ref::<ScaffoldError>()
                .is_some_and(ScaffoldError::is_usage)
    });
    if usage {
        2
    } else {
        1
    }
}

/// A closed pipe on stdout (`kensa templates | head -1`) is not worth a message.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        let kind = match cause.downcast_ref::<io::Error>() {
            Some(e) => Some(e.kind()),
            // serde_json's error does not expose its io::Error as a source.
            None => cause
                .downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind),
        };
        kind == Some(io::ErrorKind::BrokenPipe)
    })
}
