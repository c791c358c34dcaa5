//! Per-input errors. They never abort a run: the input is reported once
//! (stderr and manifest, `status: "error"`) and the others go on.
//!
//! Messages never contain file content, so they cannot carry a PAN; paths
//! are masked where they are displayed (`manifest::PathText`).

use std::fmt;
use std::io;

/// What went wrong with one input.
#[derive(Debug)]
pub enum InputError {
    /// An I/O operation failed.
    Io {
        /// What panscrub was doing ("open", "read", "write", ...).
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// The file changed while panscrub worked on it; it was not replaced.
    Changed(String),
    /// The content is malformed for its format (corrupt archive, ...).
    Corrupt(String),
    /// What a scrub wrote did not pass its check (a rebuilt archive or
    /// Parquet file, a `--out` copy); nothing was replaced.
    Verification(String),
    /// The data is well formed for its format but its locations cannot be
    /// trusted (a CSV quote never closed, invalid JSON).
    Malformed(String),
    /// A decompression budget was exceeded (archive bomb).
    Budget(String),
}

impl InputError {
    /// Wraps an I/O error with the operation that failed.
    pub fn io(op: &'static str) -> impl FnOnce(io::Error) -> InputError {
        move |source| InputError::Io { op, source }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::Io { op, source } => write!(f, "{op}: {source}"),
            InputError::Changed(why) => write!(f, "changed while being processed: {why}"),
            InputError::Corrupt(why) => write!(f, "corrupt input: {why}"),
            InputError::Verification(why) => {
                write!(f, "verification failed, original kept: {why}")
            }
            InputError::Malformed(why) => write!(f, "{why}"),
            InputError::Budget(why) => write!(f, "decompression budget exceeded: {why}"),
        }
    }
}

impl std::error::Error for InputError {}
