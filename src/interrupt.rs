//! SIGINT and SIGTERM: stop cleanly. The first signal sets a flag; workers
//! see it between batches (text), while decoding (every compressed read
//! goes through the budget meter, every Parquet read through its reader)
//! and before starting a new input, and stop: a rebuild in progress drops
//! its temp file, an in-place text scrub keeps the batches it finished
//! (each span is checked and written whole). The run then completes the
//! manifest with a `summary` marked `interrupted`, clears the progress
//! line, says so on stderr, and exits 128 + the signal (130, 143).
//!
//! A second signal ends the process at once with the same code, for the
//! operator who will not wait; that is as safe as SIGKILL (see DESIGN.md,
//! "Failure model"), no safer.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use signal_hook::consts::{SIGINT, SIGTERM};

struct Flags {
    signal: Arc<AtomicUsize>,
    seen: Arc<AtomicBool>,
}

static FLAGS: OnceLock<Flags> = OnceLock::new();

/// Registers the handlers (once; later calls do nothing).
pub fn install() -> io::Result<()> {
    if FLAGS.get().is_some() {
        return Ok(());
    }
    let flags = Flags {
        signal: Arc::new(AtomicUsize::new(0)),
        seen: Arc::new(AtomicBool::new(false)),
    };
    for sig in [SIGINT, SIGTERM] {
        // Order matters: the shutdown check runs before the flag is set, so
        // only a second signal ends the process.
        signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, flags.seen.clone())?;
        signal_hook::flag::register(sig, flags.seen.clone())?;
        signal_hook::flag::register_usize(sig, flags.signal.clone(), sig as usize)?;
    }
    let _ = FLAGS.set(flags);
    Ok(())
}

/// The signal that asked the run to stop, if any.
pub fn requested() -> Option<i32> {
    let n = FLAGS.get()?.signal.load(Ordering::Relaxed);
    (n != 0).then_some(n as i32)
}

/// The signal's name, for the manifest and stderr.
pub fn name(sig: i32) -> &'static str {
    match sig {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        _ => "signal",
    }
}

/// The error a reader returns once a stop was requested. (Not
/// `ErrorKind::Interrupted`: `read_exact` and `io::copy` retry those.)
#[derive(Debug)]
pub struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("stopped by a signal")
    }
}

impl std::error::Error for Stopped {}

/// An I/O error that stops a decoder when a stop was requested.
pub fn check_io() -> io::Result<()> {
    match requested() {
        Some(_) => Err(io::Error::other(Stopped)),
        None => Ok(()),
    }
}
