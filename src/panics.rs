//! Panics never print a card number. A panic is a bug, but its message may
//! quote data (a library formatting a value, an `expect` with context), so
//! the hook masks every PAN in the message before printing, and a panic
//! while processing one input is caught and reported as an error for that
//! input (the run goes on).
//!
//! Test builds can make the processing of an input panic with the full PAN
//! of its first finding in the message (`hooks::TestHooks`): the worst
//! case the hook must handle.

use std::any::Any;
use std::cell::Cell;

use crate::error::InputError;

use crate::detect::Detector;
use crate::manifest::mask_text;
use crate::mask::MaskPolicy;

/// Replaces the default panic hook with one that masks PANs in the message
/// and prints no backtrace (a backtrace shows no data, but its frames are
/// noise for an operator; the message and location are what a bug report
/// needs).
pub fn install_hook() {
    std::panic::set_hook(Box::new(|info| {
        if CONTAINED.with(Cell::get) {
            return; // reported as an input error by `contained`
        }
        let msg = masked_message(info.payload());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("panscrub: internal error{at}: {msg}");
    }));
}

thread_local! {
    /// Set while a third-party decoder runs under [`contained`].
    static CONTAINED: Cell<bool> = const { Cell::new(false) };
}

/// Runs a third-party decoder on untrusted input: a panic inside it (a
/// decoder bug on malformed data, as fuzzing found in the parquet crate)
/// becomes a corrupt-input error for this input, printed once, masked, by
/// the caller instead of as an internal error. Call it on the thread that
/// decodes (inside each parallel task).
pub fn contained<T>(
    what: &str,
    f: impl FnOnce() -> Result<T, InputError>,
) -> Result<T, InputError> {
    let was = CONTAINED.with(|c| c.replace(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CONTAINED.with(|c| c.set(was));
    r.unwrap_or_else(|payload| {
        Err(InputError::Corrupt(format!(
            "{what}: the decoder failed on malformed data ({})",
            masked_message(payload.as_ref())
        )))
    })
}

/// A panic payload as text with every PAN masked.
pub fn masked_message(payload: &(dyn Any + Send)) -> String {
    let raw = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic without a message".to_string()
    };
    mask_text(&raw, &Detector::default(), &MaskPolicy::default())
}

#[cfg(test)]
mod tests {
    #[test]
    fn payloads_are_masked() {
        let p: Box<dyn std::any::Any + Send> =
            Box::new(format!("bad value {}", "4111111111111111"));
        assert_eq!(
            super::masked_message(p.as_ref()),
            "bad value 411111******1111"
        );
        let p: Box<dyn std::any::Any + Send> = Box::new("static 5555 5555 5555 4444");
        assert_eq!(
            super::masked_message(p.as_ref()),
            "static 5555 55** **** 4444"
        );
    }
}
