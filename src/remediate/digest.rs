//! Every sha256 of the manifest: before and after masking, fed block by
//! block in file order by the apply pass, or over a whole rebuilt file
//! ([`sha256_file`]); and the one hex formatting of digests.
//!
//! Hashing is the largest cost of a scrub: SHA-256 runs at about 1.7 GB/s
//! per core and a changed file is hashed twice. Masking never changes a
//! length, so the two digests are fed in lockstep to one
//! [`Sha256Pair`], whose kernel hashes both streams for little more than
//! the cost of one. Until the first block that masking changes, before and
//! after are the same bytes and only one stream runs; at that block the
//! "after" stream is forked from "before". For large files the pair runs
//! on a helper thread fed through a short queue, so hashing overlaps the
//! scan of the next batch instead of following it. Buffers come back from
//! the thread for reuse, so the pass allocates a few blocks per file, not
//! one per block.

use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::thread::JoinHandle;

use sha2::Digest;

use super::sha256x2::Sha256Pair;

/// Blocks queued for the helper thread: bounds the memory in flight.
const IN_FLIGHT: usize = 12;

/// The two digests of one file, or none (a copy without hashes).
pub struct Digests {
    kind: Kind,
    /// Buffers free for the next block (inline and off).
    spare: Vec<Vec<u8>>,
}

enum Kind {
    Off,
    Inline(Sha256Pair),
    Thread {
        worker: Worker,
        /// Buffers the worker is done with.
        returned: Receiver<Vec<u8>>,
    },
}

/// The pair on its own thread.
struct Worker {
    tx: SyncSender<Msg>,
    handle: JoinHandle<Sha256Pair>,
}

enum Msg {
    Same(Vec<u8>),
    Changed { masked: Vec<u8>, undo: Undo },
}

/// The bytes a block held where masking changed it: enough to hash the
/// block as it was without keeping a copy of the whole block (the copy
/// was a tenth of an in-place scrub's time on the thread that scans).
#[derive(Default)]
pub struct Undo {
    /// (offset in the block, length) of each masked span, in order.
    spans: Vec<(usize, usize)>,
    /// Their original bytes, one after the other.
    bytes: Vec<u8>,
    /// A span started before the previous one ended (masks applied over
    /// masks): undone one by one on a copy instead.
    overlapping: bool,
}

impl Undo {
    /// Span `at..at + original.len()` of the block held `original` before
    /// it was masked.
    pub fn push(&mut self, at: usize, original: &[u8]) {
        if self.spans.last().is_some_and(|&(a, n)| at < a + n) {
            self.overlapping = true;
        }
        self.spans.push((at, original.len()));
        self.bytes.extend_from_slice(original);
    }

    /// Whether nothing was masked.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Feeds the block as it was to the first stream of `pair` and as it is
    /// (`masked`) to the second.
    fn hash_into(&self, pair: &mut Sha256Pair, masked: &[u8]) {
        pair.fork();
        if self.overlapping {
            let mut original = masked.to_vec();
            // Last mask first: each span's bytes sit at the end of the rest.
            let mut end = self.bytes.len();
            for &(at, n) in self.spans.iter().rev() {
                end -= n;
                original[at..at + n].copy_from_slice(&self.bytes[end..end + n]);
            }
            pair.update(&original, masked);
            return;
        }
        let (mut pos, mut o) = (0, 0);
        for &(at, n) in &self.spans {
            pair.update(&masked[pos..at], &masked[pos..at]);
            pair.update(&self.bytes[o..o + n], &masked[at..at + n]);
            (pos, o) = (at + n, o + n);
        }
        pair.update(&masked[pos..], &masked[pos..]);
    }
}

impl Worker {
    fn spawn(back: Sender<Vec<u8>>) -> Option<Worker> {
        let (tx, rx) = sync_channel::<Msg>(IN_FLIGHT);
        let handle = std::thread::Builder::new()
            .name("panscrub-sha256".into())
            .spawn(move || {
                let mut pair = Sha256Pair::new();
                for msg in rx {
                    match msg {
                        Msg::Same(block) => {
                            pair.update(&block, &block);
                            let _ = back.send(block);
                        }
                        Msg::Changed { masked, undo } => {
                            undo.hash_into(&mut pair, &masked);
                            let _ = back.send(masked);
                        }
                    }
                }
                pair
            })
            .ok()?;
        Some(Worker { tx, handle })
    }

    fn send(&self, msg: Msg) {
        // A worker that died is found by `finish` (join fails).
        let _ = self.tx.send(msg);
    }
}

impl Digests {
    /// No hashing: only buffers are handed out.
    pub fn off() -> Digests {
        Digests {
            kind: Kind::Off,
            spare: Vec::new(),
        }
    }

    /// Both digests; on a helper thread when `threads` (large files) and
    /// the thread could be started.
    pub fn new(threads: bool) -> Digests {
        let (back, returned) = channel();
        let kind = match threads.then(|| Worker::spawn(back)).flatten() {
            Some(worker) => Kind::Thread { worker, returned },
            None => Kind::Inline(Sha256Pair::new()),
        };
        Digests {
            kind,
            spare: Vec::new(),
        }
    }

    /// A buffer for the next block (its old content is overwritten by the
    /// caller).
    pub fn buffer(&mut self) -> Vec<u8> {
        if let Kind::Thread { returned, .. } = &self.kind {
            if let Ok(b) = returned.try_recv() {
                return b;
            }
        }
        self.spare.pop().unwrap_or_default()
    }

    /// A block whose bytes masking left as they were.
    pub fn same(&mut self, block: Vec<u8>) {
        match &mut self.kind {
            Kind::Off => self.spare.push(block),
            Kind::Inline(pair) => {
                pair.update(&block, &block);
                self.spare.push(block);
            }
            Kind::Thread { worker, .. } => worker.send(Msg::Same(block)),
        }
    }

    /// A block that masking changed: `masked` as it is now on disk or in
    /// the copy, `undo` what its masked spans held before.
    pub fn changed(&mut self, masked: Vec<u8>, undo: Undo) {
        match &mut self.kind {
            Kind::Off => self.spare.push(masked),
            Kind::Inline(pair) => {
                undo.hash_into(pair, &masked);
                self.spare.push(masked);
            }
            Kind::Thread { worker, .. } => worker.send(Msg::Changed { masked, undo }),
        }
    }

    /// The two digests: before, and after when a block changed. None when
    /// off, or when the helper thread failed (the digests are then unknown).
    pub fn finish(self) -> Option<([u8; 32], Option<[u8; 32]>)> {
        let pair = match self.kind {
            Kind::Off => return None,
            Kind::Inline(pair) => pair,
            Kind::Thread { worker, .. } => {
                drop(worker.tx);
                worker.handle.join().ok()?
            }
        };
        Some(pair.finish())
    }
}

/// Hex form of a digest (the one formatting of every digest printed).
pub fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// sha256 of a whole file read by position (`pread`), hex: the file's
/// offset is left to whoever else reads it meanwhile.
pub fn sha256_at(f: &std::fs::File) -> std::io::Result<String> {
    use std::os::unix::fs::FileExt;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0;
    loop {
        let n = f.read_at(&mut buf, at)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        at += n as u64;
    }
    Ok(hex(&h.finalize()))
}

/// sha256 of a whole file, hex.
pub fn sha256_file(f: &std::fs::File) -> std::io::Result<String> {
    let mut h = sha2::Sha256::new();
    let mut r = f;
    std::io::Seek::rewind(&mut r)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = std::io::Read::read(&mut r, &mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Sha256;

    /// A mask written over a block: offset, length, mask byte.
    type Mask = (usize, usize, u8);

    /// Six blocks and the masks written over each, in order: blocks 2 and
    /// 4 are changed, 4 with a mask over a mask.
    fn blocks() -> Vec<(Vec<u8>, Vec<Mask>)> {
        (0..6u8)
            .map(|k| {
                let b: Vec<u8> = (0..70_000u32).map(|i| (i as u8) ^ k).collect();
                let masks = match k {
                    2 => vec![(0, 16, b'*'), (100, 16, b'*'), (69_990, 10, b'#')],
                    4 => vec![(100, 16, b'*'), (105, 15, b'-'), (69_990, 10, b'#')],
                    _ => vec![],
                };
                (b, masks)
            })
            .collect()
    }

    fn hex(d: [u8; 32]) -> String {
        super::hex(&d)
    }

    #[test]
    fn inline_and_threads_give_the_file_digests() {
        let blocks = blocks();
        let mut whole_before = Vec::new();
        let mut whole_after = Vec::new();
        for threads in [false, true] {
            whole_before.clear();
            whole_after.clear();
            let mut d = Digests::new(threads);
            for (b, masks) in blocks.clone() {
                whole_before.extend_from_slice(&b);
                let mut buf = d.buffer();
                buf.clear();
                buf.extend_from_slice(&b);
                let mut undo = Undo::default();
                for (at, n, byte) in masks {
                    undo.push(at, &buf[at..at + n]);
                    buf[at..at + n].fill(byte);
                }
                whole_after.extend_from_slice(&buf);
                if undo.is_empty() {
                    d.same(buf);
                } else {
                    d.changed(buf, undo);
                }
            }
            let (before, after) = d.finish().expect("digests");
            assert_eq!(hex(before), hex(Sha256::digest(&whole_before).into()));
            assert_eq!(
                hex(after.expect("changed")),
                hex(Sha256::digest(&whole_after).into())
            );
        }
    }

    #[test]
    fn unchanged_file_has_no_after_state() {
        for threads in [false, true] {
            let mut d = Digests::new(threads);
            d.same(vec![1, 2, 3]);
            let (before, after) = d.finish().unwrap();
            assert!(after.is_none());
            assert_eq!(hex(before), hex(Sha256::digest([1u8, 2, 3]).into()));
        }
    }
}
