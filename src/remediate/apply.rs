//! Applying masks: in place with positioned writes, or into a copy; with the
//! sha256 of the bytes before and after.
//!
//! The pass runs over the source in file order, a batch of findings at a
//! time. Each finding is masked only after checking that the bytes read now
//! are still the digits that were scanned; otherwise it is left alone and
//! reported (the file changed under us). In place, only the masked bytes are
//! written, so data appended meanwhile and every other byte stay untouched.
//!
//! Writeback of the dirtied pages is started as each batch is done, so the
//! disk writes overlap the scan of the next batch and the final `fsync`
//! only waits for the tail.
//!
//! The digests themselves are fed block by block to [`crate::remediate::digest`],
//! which runs them on a helper thread for large files.
//!
//! The pass is lazy in place: it starts reading (for the hashes) only when
//! the first finding appears, and then catches up from offset 0, so clean
//! files are read once, by the scan. With `--no-hash` it does not stream at
//! all: each span is read back (at most 23 bytes) and overwritten.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::Path;

use crate::remediate::digest::{Digests, Undo};

use crate::error::InputError;
use crate::format::utf16::Endian;
use crate::location::Hit;
use crate::manifest::Action;
use crate::mask::MaskPolicy;

/// Read size of the apply pass.
const BLOCK: usize = 1 << 20;

/// Where masked bytes go.
pub enum Target<'f> {
    /// Nowhere: report only.
    None,
    /// Positioned writes into the source file, opened for writing when the
    /// first finding needs it.
    InPlace(InPlace<'f>),
    /// Every byte, masked, appended to this file (a temp file).
    Copy(&'f mut File),
}

/// The source file, to be opened for writing only if something must be
/// masked (a clean read-only file is not an error).
pub struct InPlace<'p> {
    path: &'p Path,
    dev: u64,
    ino: u64,
    file: Option<File>,
    /// Range written since writeback was last started.
    dirty: Option<(u64, u64)>,
}

impl<'p> InPlace<'p> {
    /// The file at `path`, which was scanned as inode `ino` on `dev`.
    pub fn new(path: &'p Path, dev: u64, ino: u64) -> InPlace<'p> {
        InPlace {
            path,
            dev,
            ino,
            file: None,
            dirty: None,
        }
    }

    /// The write handle; opened without following symlinks and checked to be
    /// the very file that was scanned.
    fn handle(&mut self) -> Result<&File, InputError> {
        if self.file.is_none() {
            let f = OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(self.path)
                .map_err(InputError::io("open for writing"))?;
            let md = f.metadata().map_err(InputError::io("stat"))?;
            if !md.is_file() || md.dev() != self.dev || md.ino() != self.ino {
                return Err(InputError::Changed(
                    "the path now names another file".into(),
                ));
            }
            self.file = Some(f);
        }
        Ok(self.file.as_ref().expect("opened above"))
    }

    /// The write handle, if anything was written.
    pub fn opened(&self) -> Option<&File> {
        self.file.as_ref()
    }

    /// Writes one masked span, remembering the range dirtied since the last
    /// [`InPlace::start_writeback`].
    fn write_at(&mut self, bytes: &[u8], at: u64) -> Result<(), InputError> {
        self.handle()?
            .write_all_at(bytes, at)
            .map_err(InputError::io("write"))?;
        let end = at + bytes.len() as u64;
        self.dirty = Some(match self.dirty {
            Some((lo, hi)) => (lo.min(at), hi.max(end)),
            None => (at, end),
        });
        Ok(())
    }

    /// Asks the kernel to start writing the pages dirtied so far, without
    /// waiting: the disk works while the next batch is scanned, and the
    /// `fsync` at the end finds little left to do. Only a hint; durability
    /// still comes from that `fsync`.
    fn start_writeback(&mut self) {
        if let (Some((lo, hi)), Some(f)) = (self.dirty.take(), self.file.as_ref()) {
            start_writeback(f, lo, hi);
        }
    }
}

/// Starts writeback of `[lo, hi)` of `file` without waiting for it.
///
/// `sync_file_range(SYNC_FILE_RANGE_WRITE)` blocks while it queues the
/// pages (about 9 ms per 8 MiB batch with a PAN every 10 KB on the
/// benchmark machine), so it runs on one background thread that only waits
/// on the disk: the scan goes on meanwhile. Linux only; elsewhere the final
/// `fsync` does it all. Errors are ignored: that `fsync` reports any that
/// matter, and it waits for these writes too. The queue is bounded: when
/// the disk is slower than the scan, a request that finds it full is
/// dropped rather than held (with its duplicated descriptor), since the
/// final `fsync` writes those pages anyway.
pub fn start_writeback(file: &File, lo: u64, hi: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::sync::mpsc::{sync_channel, SyncSender};
        use std::sync::{Mutex, OnceLock};
        /// Requests waiting for the writeback thread, at most.
        const QUEUED: usize = 16;
        static FLUSHER: OnceLock<Mutex<SyncSender<(File, u64, u64)>>> = OnceLock::new();
        let tx = FLUSHER.get_or_init(|| {
            let (tx, rx) = sync_channel::<(File, u64, u64)>(QUEUED);
            // Without the thread (spawn failed) sends fail and are ignored:
            // the fsync at the end still does the writing.
            let _ = std::thread::Builder::new()
                .name("panscrub-writeback".into())
                .spawn(move || {
                    for (f, lo, hi) in rx {
                        sync_range(&f, lo, hi);
                    }
                });
            Mutex::new(tx)
        });
        // A duplicate descriptor, so the file may be closed meanwhile.
        if let Ok(dup) = file.try_clone() {
            let _ = tx.lock().map(|t| t.try_send((dup, lo, hi)));
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, lo, hi);
}

/// `sync_file_range(SYNC_FILE_RANGE_WRITE)` on `[lo, hi)`.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn sync_range(file: &File, lo: u64, hi: u64) {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain syscall on a descriptor `file` keeps open for the
    // call; no memory is passed.
    unsafe {
        libc::sync_file_range(
            file.as_raw_fd(),
            lo as libc::off64_t,
            (hi - lo) as libc::off64_t,
            libc::SYNC_FILE_RANGE_WRITE,
        );
    }
}

/// Which files get sha256 before/after in the manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hashing {
    /// Every file (`--hash`, forensic sweeps).
    All,
    /// Files that scrub changes (default).
    Changed,
    /// None (`--no-hash`): in-place scrub then touches only the spans.
    Off,
}

/// The apply pass over one source file.
pub struct Applier<'a> {
    src: &'a File,
    target: Target<'a>,
    policy: MaskPolicy,
    hashing: Hashing,
    /// Whether the pass streams the whole file (hashes or a copy).
    streaming: bool,
    active: bool,
    /// A hash helper thread for a large file.
    large: bool,
    /// Started with the first block streamed.
    digests: Option<Digests>,
    upto: u64,
    /// Findings masked.
    pub truncated: u64,
    /// Findings whose bytes changed before they could be masked.
    pub mismatched: u64,
    /// UTF-16 input: findings are in code units, the file in bytes.
    utf16: Option<Endian>,
    /// Test hook: the first finding of a copy is claimed masked but left
    /// as it was (a broken masker), for the copy's check to catch.
    skip_first: bool,
    /// Scratch for the encoded expected and masked bytes.
    expected: Vec<u8>,
    replacement: Vec<u8>,
}

impl<'a> Applier<'a> {
    /// A pass reading `src`.
    pub fn new(
        src: &'a File,
        target: Target<'a>,
        policy: MaskPolicy,
        hashing: Hashing,
    ) -> Applier<'a> {
        let copy = matches!(target, Target::Copy(_));
        Applier {
            src,
            target,
            policy,
            hashing,
            streaming: copy || hashing != Hashing::Off,
            active: copy || hashing == Hashing::All,
            large: false,
            digests: None,
            upto: 0,
            truncated: 0,
            mismatched: 0,
            utf16: None,
            skip_first: false,
            expected: Vec::new(),
            replacement: Vec::new(),
        }
    }

    /// A file large enough for the digests to run on a helper thread
    /// (several batches: the hashing overlaps the next batch's scan).
    pub fn large(mut self, large: bool) -> Self {
        self.large = large;
        self
    }

    /// Findings of a UTF-16 file: offsets are code units, and bytes are
    /// checked and written as UTF-16 in `endian`.
    pub fn utf16(mut self, endian: Option<Endian>) -> Self {
        self.utf16 = endian;
        self
    }

    /// Test hook: see `skip_first`.
    pub fn skip_first_mask(mut self, yes: bool) -> Self {
        self.skip_first = yes;
        self
    }

    /// Where a finding sits in the file: byte offset and length.
    fn region(&self, l: &Hit) -> (u64, usize) {
        let f = &l.finding;
        match (self.utf16, l.encoded) {
            (Some(_), _) => (2 * f.offset, 2 * f.len()),
            (None, Some(_)) => (f.offset, 2 * f.len()),
            (None, None) => (f.offset, f.len()),
        }
    }

    /// Fills `expected` and `replacement` with the bytes the file holds for
    /// a finding and the bytes that mask it.
    fn encode(&mut self, l: &Hit) {
        let masked = l.masked(&self.policy);
        match self.utf16.or(l.encoded) {
            None => {
                self.expected.clear();
                self.expected.extend_from_slice(l.finding.span_bytes());
                self.replacement.clear();
                self.replacement.extend_from_slice(masked.as_bytes());
            }
            Some(e) => {
                e.encode_into(l.finding.span_bytes(), &mut self.expected);
                e.encode_into(masked.as_bytes(), &mut self.replacement);
            }
        }
    }

    /// Processes the source up to `end` (extended to cover the last
    /// finding), masking `findings` (sorted, at or after the previous end).
    /// Returns the action taken for each finding, in order.
    pub fn advance(&mut self, end: u64, findings: &[&Hit]) -> Result<Vec<Action>, InputError> {
        let actions = if self.streaming {
            self.advance_streaming(end, findings)
        } else {
            findings.iter().map(|l| self.apply_span(l)).collect()
        };
        if let Target::InPlace(ip) = &mut self.target {
            ip.start_writeback();
        }
        actions
    }

    /// [`Applier::advance`] when the whole file passes through (hashes, copy).
    fn advance_streaming(
        &mut self,
        end: u64,
        findings: &[&Hit],
    ) -> Result<Vec<Action>, InputError> {
        if !findings.is_empty() {
            self.active = true;
        }
        if !self.active {
            return Ok(vec![Action::Reported; findings.len()]);
        }
        let end = findings.last().map_or(end, |l| {
            let (at, len) = self.region(l);
            end.max(at + len as u64)
        });
        let mut actions = Vec::with_capacity(findings.len());
        let mut next = 0;
        while self.upto < end {
            let mut block_end = (self.upto + BLOCK as u64).min(end);
            // Never cut a finding in two.
            for l in &findings[next..] {
                let (at, len) = self.region(l);
                if at >= block_end {
                    break;
                }
                block_end = block_end.max(at + len as u64);
            }
            let len = (block_end - self.upto) as usize;
            let hashing = self.hashing != Hashing::Off;
            let digests = self.digests.get_or_insert_with(|| {
                if hashing {
                    Digests::new(self.large)
                } else {
                    Digests::off()
                }
            });
            let mut buf = digests.buffer();
            buf.resize(len, 0);
            self.src.read_exact_at(&mut buf, self.upto).map_err(|e| {
                if e.kind() == io::ErrorKind::UnexpectedEof {
                    InputError::Changed("the file shrank".into())
                } else {
                    InputError::io("read")(e)
                }
            })?;
            let touches = next < findings.len() && self.region(findings[next]).0 < block_end;
            // What the masked spans held, for the "before" hash.
            let mut undo = (hashing && touches).then(Undo::default);
            while next < findings.len() && self.region(findings[next]).0 < block_end {
                let l = findings[next];
                let rel = (self.region(l).0 - self.upto) as usize;
                let action = self.mask_in_buffer(&mut buf, rel, l)?;
                if let (Action::Truncated, Some(undo)) = (action, &mut undo) {
                    // Checked equal to what the buffer held.
                    undo.push(rel, &self.expected);
                }
                actions.push(action);
                next += 1;
            }
            if let Target::Copy(out) = &mut self.target {
                out.write_all(&buf).map_err(InputError::io("write copy"))?;
            }
            let digests = self.digests.as_mut().expect("started above");
            match undo {
                Some(undo) if !undo.is_empty() => digests.changed(buf, undo),
                // Nothing masked here (the bytes changed under us, or
                // nothing is written, as in `scan --hash`).
                _ => digests.same(buf),
            }
            self.upto = block_end;
        }
        // Findings before `upto` cannot happen (batches are in order).
        while actions.len() < findings.len() {
            actions.push(Action::Reported);
        }
        Ok(actions)
    }

    /// Masks one finding in the current buffer (and in place on disk).
    fn mask_in_buffer(
        &mut self,
        buf: &mut [u8],
        rel: usize,
        l: &Hit,
    ) -> Result<Action, InputError> {
        if matches!(self.target, Target::None) {
            return Ok(Action::Reported);
        }
        let (at, len) = self.region(l);
        self.encode(l);
        if std::mem::take(&mut self.skip_first) && matches!(self.target, Target::Copy(_)) {
            // Test hook: a masker that claims a mask it did not write.
            self.replacement.clone_from(&self.expected);
        }
        let here = &mut buf[rel..rel + len];
        if !super::check_then_mask(here, &self.expected, &self.replacement) {
            self.mismatched += 1;
            return Ok(Action::Reported);
        }
        if let Target::InPlace(ip) = &mut self.target {
            ip.write_at(&self.replacement, at)?;
        }
        self.truncated += 1;
        Ok(Action::Truncated)
    }

    /// Without hashes: check the span on disk, then write its mask.
    fn apply_span(&mut self, l: &Hit) -> Result<Action, InputError> {
        if !matches!(self.target, Target::InPlace(_)) {
            return Ok(Action::Reported);
        }
        let (at, len) = self.region(l);
        self.encode(l);
        let mut now = [0u8; 2 * crate::detect::MAX_REGION];
        let now = &mut now[..len];
        match self.src.read_exact_at(now, at) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                return Err(InputError::Changed("the file shrank".into()))
            }
            Err(e) => return Err(InputError::io("read")(e)),
        }
        if !super::check_then_mask(now, &self.expected, &self.replacement) {
            self.mismatched += 1;
            return Ok(Action::Reported);
        }
        if let Target::InPlace(ip) = &mut self.target {
            ip.write_at(now, at)?;
        }
        self.truncated += 1;
        Ok(Action::Truncated)
    }

    /// Finishes the pass over `size` bytes; returns (sha256 before, sha256
    /// after) where known: before when hashing ran for this file, after when
    /// bytes changed.
    pub fn finish(&mut self, size: u64) -> Result<(Option<String>, Option<String>), InputError> {
        if !self.streaming || !self.active {
            return Ok((None, None));
        }
        self.advance(size, &[])?;
        if self.hashing == Hashing::Off {
            return Ok((None, None));
        }
        let changed = self.truncated > 0;
        let Some((before, after)) = self.digests.take().and_then(Digests::finish) else {
            return Err(InputError::io("hash")(io::Error::other(
                "a hashing thread failed",
            )));
        };
        let after = super::digest::hex(&after.unwrap_or(before));
        let before = super::digest::hex(&before);
        let keep_before = changed || self.hashing == Hashing::All;
        Ok((keep_before.then_some(before), changed.then_some(after)))
    }
}

impl Applier<'_> {
    /// Ends the pass, whatever happened before it: spans already written in
    /// place are made durable and the file's times (`md`) put back. Returns
    /// how many findings no longer held the scanned bytes (left in place).
    /// With `touch` (`--touch`) the file keeps the time of the scrub as its
    /// modification time instead.
    pub fn settle(self, md: &std::fs::Metadata, touch: bool) -> Result<u64, InputError> {
        if let Some(w) = self.in_place_handle() {
            w.sync_data().map_err(InputError::io("fsync"))?;
            if !touch {
                crate::remediate::install::restore_times(w, md)
                    .map_err(InputError::io("restore times"))?;
            }
        }
        Ok(self.mismatched)
    }

    /// The in-place write handle, if the pass wrote anything in place.
    pub fn in_place_handle(&self) -> Option<&File> {
        match &self.target {
            Target::InPlace(ip) => ip.opened(),
            _ => None,
        }
    }
}
