//! Errors. [`InputError`]: per input; it never aborts a run: the input is
//! reported once (stderr and manifest, `status: "error"`) and the others go
//! on. [`ConfigError`]: the settings of a run (flags, settings file, allow
//! lists, keys); it stops the run before any input is touched (exit 2).
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
    /// Well formed but encrypted: it cannot be read without its key.
    Encrypted(String),
    /// The run was asked to stop (SIGINT, SIGTERM) before this input was
    /// finished.
    Interrupted(&'static str),
    /// A scrub could not write the file; its findings were all reported,
    /// `left` of them left in place.
    Unwritable {
        /// The write error.
        source: Box<InputError>,
        /// Findings left in place.
        left: u64,
    },
}

impl InputError {
    /// Wraps an I/O error with the operation that failed.
    pub fn io(op: &'static str) -> impl FnOnce(io::Error) -> InputError {
        move |source| InputError::Io { op, source }
    }
}

impl InputError {
    /// What the user can do about an error that stopped a scrub writing,
    /// as a clause to append to the message.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            InputError::Io { source, .. } => match source.raw_os_error() {
                Some(libc::EACCES) | Some(libc::EPERM) => Some(
                    ": give the user running panscrub write permission to the file and its directory, or scrub into a copy with --out DIR",
                ),
                Some(libc::EROFS) => Some(": the file system is read-only; scrub into a copy with --out DIR"),
                Some(libc::ENOSPC) | Some(libc::EDQUOT) => {
                    Some(": the disk is full; free space and run again")
                }
                _ => None,
            },
            InputError::Unwritable { source, .. } => source.hint(),
            _ => None,
        }
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
            InputError::Encrypted(what) => {
                write!(
                    f,
                    "encrypted: {what} cannot be read without the password; not scanned"
                )
            }
            InputError::Interrupted(sig) => write!(f, "stopped by {sig}"),
            InputError::Unwritable { source, left } => {
                write!(f, "{source}; {left} finding(s) left in place")
            }
        }
    }
}

impl std::error::Error for InputError {}

/// What is wrong with a run's settings. Messages never quote the content
/// of an allowlist or settings line (it may be a PAN); the caller masks the
/// message too.
#[derive(Debug)]
pub enum ConfigError {
    /// A file named by the settings could not be read.
    Read {
        /// What the file is ("settings file", "allowlist", ...).
        what: &'static str,
        /// Its path.
        path: std::path::PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The settings file is not valid (syntax, unknown key, wrong type).
    Settings {
        /// Its path.
        path: std::path::PathBuf,
        /// The parser's message (names the key).
        why: String,
    },
    /// An allowlist entry is not a PAN or BIN prefix.
    AllowEntry {
        /// Where: `file:line`, or `[allow] in the settings file`.
        at: String,
        /// How long the entry is (the entry itself is never shown).
        chars: usize,
    },
    /// An option has a value it cannot take.
    Invalid {
        /// The option (`--keep`, `hash`, `--shard`, ...).
        option: &'static str,
        /// Why.
        why: String,
    },
    /// `--out` cannot be used as given.
    Out(String),
    /// `--manifest` names a place a run must not write.
    Manifest(String),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { what, path, source } => {
                write!(f, "cannot read {what} {}: {source}", path.display())
            }
            ConfigError::Settings { path, why } => write!(f, "in {}: {why}", path.display()),
            ConfigError::AllowEntry { at, chars } => {
                write!(f, "{at}: not a PAN or BIN prefix ({chars} characters)")
            }
            ConfigError::Invalid { option, why } => write!(f, "{option}: {why}"),
            ConfigError::Out(why) => write!(f, "--out: {why}"),
            ConfigError::Manifest(why) => write!(f, "--manifest: {why}"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}
