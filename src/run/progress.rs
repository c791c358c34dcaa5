//! The progress display, on stderr when it is a terminal (never with
//! `--quiet`): files done of files found so far, bytes scanned (a
//! compressed input counts what it decodes to, as it decodes), the rate,
//! the elapsed time and the file most recently started. Every figure is in
//! decimal units, as in the summary line (MB = 10^6 bytes).
//!
//! Lines printed while it is shown (findings on a terminal) go through
//! [`Progress::suspend`], which clears the bar first and redraws it after,
//! so no stale bar is left in the scrollback; it is cleared at the end.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};

use crate::format::budget::scanned_bytes;
use crate::manifest::PathText;

/// The display, or nothing when hidden.
pub struct Progress {
    bar: ProgressBar,
    started: Instant,
    /// Milliseconds since `started` when the file name was last shown.
    last_name: AtomicU64,
}

fn decimal(n: u64) -> String {
    indicatif::DecimalBytes(n).to_string()
}

impl Progress {
    /// A display on stderr if `visible`, else a hidden one that costs
    /// nothing.
    pub fn new(visible: bool) -> Progress {
        let bar = if visible {
            let pb = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            let started = Instant::now();
            pb.set_style(
                ProgressStyle::with_template(
                    "{spinner} {pos}/{len} files [{bar:20}] {scanned} scanned, {rate} ({elapsed}) {wide_msg}",
                )
                .expect("static template")
                .with_key("scanned", |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                    let _ = write!(w, "{}", decimal(scanned_bytes()));
                })
                .with_key(
                    "rate",
                    move |_: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let secs = started.elapsed().as_secs_f64().max(0.001);
                        let _ = write!(w, "{}/s", decimal((scanned_bytes() as f64 / secs) as u64));
                    },
                ),
            );
            pb.enable_steady_tick(std::time::Duration::from_millis(200));
            pb
        } else {
            ProgressBar::hidden()
        };
        Progress {
            bar,
            started: Instant::now(),
            last_name: AtomicU64::new(0),
        }
    }

    /// The walk found one more input.
    pub fn found(&self) {
        self.bar.inc_length(1);
    }

    /// A worker started on `path` (shown at most every 100 ms: a tree of
    /// small files starts thousands a second).
    pub fn started(&self, path: &PathText) {
        if self.bar.is_hidden() {
            return;
        }
        let now = self.started.elapsed().as_millis() as u64;
        let last = self.last_name.load(Ordering::Relaxed);
        if now >= last + 100
            && self
                .last_name
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.bar.set_message(path.display());
        }
    }

    /// An input is done.
    pub fn done(&self) {
        self.bar.inc(1);
    }

    /// Runs `f` (which prints) with the bar cleared, then redraws it.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        if self.bar.is_hidden() {
            f()
        } else {
            self.bar.suspend(f)
        }
    }

    /// Clears the bar for good.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
