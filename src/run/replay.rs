//! The findings of one input needed more than once (a rebuilt file's or a
//! tar's: to decide, to mask, to record): kept from the scan while few,
//! scanned again when many, so memory stays bounded whatever their number.

use std::cell::{Cell, RefCell};

use crate::error::InputError;
use crate::location::Hit;

/// Memory for the findings of one file kept from the scan for the
/// rebuild, its check and the manifest: about 120,000 findings of an
/// archive (a `MemberFinding` is 344 bytes). A file with more is scanned
/// again for each of them instead (detection is deterministic, and the
/// rebuild checks every masked byte against the scan), so memory stays
/// bounded whatever the number of findings; only such files pay for the
/// extra decoding.
pub const HELD_BYTES: usize = 40 << 20;

/// Where a pass hands each finding's hit.
pub type HitSink<'s> = dyn FnMut(&Hit) -> Result<(), InputError> + 's;

/// The first scan's findings, kept for the passes after it while they fit
/// in [`HELD_BYTES`].
pub struct Replay<T> {
    /// `None` once the first scan found more: later passes scan again.
    pub held: RefCell<Option<Vec<T>>>,
    scanned: Cell<bool>,
    limit: usize,
}

impl<T> Replay<T> {
    /// Keeps at most `limit` findings, or as many as fit in
    /// [`HELD_BYTES`] (`None`, but in tests).
    pub fn new(limit: Option<usize>) -> Replay<T> {
        Replay {
            held: RefCell::new(Some(Vec::new())),
            scanned: Cell::new(false),
            limit: limit.unwrap_or(HELD_BYTES / std::mem::size_of::<T>().max(1)),
        }
    }

    /// An empty holder for a first scan run outside [`Replay::each`] (one
    /// that rebuilds as it goes); [`Replay::scanned`] takes what it held.
    pub fn holder(&self) -> Holder<T> {
        Holder {
            held: Some(Vec::new()),
            limit: self.limit,
        }
    }

    /// Records that the first scan ran (outside [`Replay::each`]) and what
    /// it held: later passes hand out those findings, or scan again.
    pub fn scanned(&self, holder: Holder<T>) {
        self.scanned.set(true);
        *self.held.borrow_mut() = holder.into_held();
    }

    /// Hands out every finding: `first` is the scan (it pushes its
    /// findings, counted, into the sink it is given), `again` a new scan
    /// without counting; `hit` shows a finding's hit.
    pub fn each(
        &self,
        first: impl FnOnce(&mut dyn FnMut(T) -> Result<(), InputError>) -> Result<(), InputError>,
        again: impl FnOnce(&mut dyn FnMut(T) -> Result<(), InputError>) -> Result<(), InputError>,
        hit: impl Fn(&T) -> &Hit,
        each: &mut HitSink,
    ) -> Result<(), InputError> {
        if !self.scanned.replace(true) {
            let mut held = self.holder();
            first(&mut |m| {
                each(hit(&m))?;
                held.push(m);
                Ok(())
            })?;
            *self.held.borrow_mut() = held.into_held();
            return Ok(());
        }
        if let Some(found) = self.held.borrow().as_ref() {
            return found.iter().try_for_each(|m| each(hit(m)));
        }
        again(&mut |m| each(hit(&m)))
    }
}

/// The findings of a first scan as they come, up to the limit: past it,
/// none (later passes scan again).
pub struct Holder<T> {
    held: Option<Vec<T>>,
    limit: usize,
}

impl<T> Holder<T> {
    /// Keeps `m` while there is room; forgets everything once there is not.
    pub fn push(&mut self, m: T) {
        match self.held.as_mut() {
            Some(h) if h.len() < self.limit => {
                // Grown by doubling, but never past the limit.
                if h.len() == h.capacity() {
                    h.reserve_exact(h.capacity().max(1024).min(self.limit - h.len()));
                }
                h.push(m)
            }
            _ => self.held = None,
        }
    }

    fn into_held(self) -> Option<Vec<T>> {
        self.held
    }
}

/// The most findings kept for `job` when a test sets it.
pub fn held_findings(job: &super::Job) -> Option<usize> {
    job.ctx.hooks.held_findings
}
