//! Every sha256 of the manifest: before and after masking, fed block by
//! block in file order by the apply pass, or over a whole rebuilt file
//! ([`sha256_file`]); and the one hex formatting of digests.
//!
//! Hashing is the largest cost of a scrub: SHA-256 runs at about 1.5 GB/s
//! per core, and a changed file is hashed twice. For large files the two
//! digests are computed on two helper threads, each fed through a short
//! queue, so they overlap each other and the scan of the next batch instead
//! of running after it. Until the first block that masking changes, before
//! and after are the same bytes and only one digest runs; at that block the
//! "after" state is forked from "before" (SHA-256 state depends only on the
//! bytes so far). Buffers come back from the threads for reuse, so the pass
//! allocates a few blocks per file, not one per block.

use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};

/// Blocks queued per helper thread: bounds the memory in flight.
const IN_FLIGHT: usize = 4;

/// The two digests of one file, or none (a copy without hashes).
pub struct Digests {
    kind: Kind,
    /// Buffers free for the next block (inline and off).
    spare: Vec<Vec<u8>>,
}

enum Kind {
    Off,
    Inline {
        before: Sha256,
        after: Option<Sha256>,
    },
    Threads {
        before: Worker,
        after: Option<Worker>,
        /// Buffers the workers are done with.
        back: Sender<Vec<u8>>,
        returned: Receiver<Vec<u8>>,
        /// The "after" thread could not be started: no digests.
        broken: bool,
    },
}

/// One digest on its own thread.
struct Worker {
    tx: SyncSender<Msg>,
    handle: JoinHandle<Sha256>,
}

enum Msg {
    Update(Arc<Vec<u8>>),
    /// Reply with a copy of the state so far.
    Fork(SyncSender<Sha256>),
}

impl Worker {
    fn spawn(state: Sha256, back: Sender<Vec<u8>>) -> Option<Worker> {
        let (tx, rx) = sync_channel::<Msg>(IN_FLIGHT);
        let handle = std::thread::Builder::new()
            .name("panscrub-sha256".into())
            .spawn(move || {
                let mut state = state;
                for msg in rx {
                    match msg {
                        Msg::Update(block) => {
                            state.update(&block[..]);
                            // The last holder hands the buffer back.
                            if let Ok(buf) = Arc::try_unwrap(block) {
                                let _ = back.send(buf);
                            }
                        }
                        Msg::Fork(reply) => {
                            let _ = reply.send(state.clone());
                        }
                    }
                }
                state
            })
            .ok()?;
        Some(Worker { tx, handle })
    }

    fn update(&self, block: Arc<Vec<u8>>) {
        // A worker that died is found by `finish` (join fails).
        let _ = self.tx.send(Msg::Update(block));
    }

    /// Its state once every queued block is hashed.
    fn fork(&self) -> Option<Sha256> {
        let (reply, answer) = sync_channel(1);
        self.tx.send(Msg::Fork(reply)).ok()?;
        answer.recv().ok()
    }

    fn finish(self) -> Option<Sha256> {
        drop(self.tx);
        self.handle.join().ok()
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

    /// Both digests; on helper threads when `threads` (large files) and
    /// the threads could be started.
    pub fn new(threads: bool) -> Digests {
        let inline = Kind::Inline {
            before: Sha256::new(),
            after: None,
        };
        let kind = if threads {
            let (back, returned) = channel();
            match Worker::spawn(Sha256::new(), back.clone()) {
                Some(before) => Kind::Threads {
                    before,
                    after: None,
                    back,
                    returned,
                    broken: false,
                },
                None => inline,
            }
        } else {
            inline
        };
        Digests {
            kind,
            spare: Vec::new(),
        }
    }

    /// A buffer for the next block (its old content is overwritten by the
    /// caller).
    pub fn buffer(&mut self) -> Vec<u8> {
        if let Kind::Threads { returned, .. } = &self.kind {
            if let Ok(b) = returned.try_recv() {
                return b;
            }
        }
        self.spare.pop().unwrap_or_default()
    }

    /// A buffer the caller no longer needs, for a later block.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        self.spare.push(buf);
    }

    /// A block whose bytes masking left as they were.
    pub fn same(&mut self, block: Vec<u8>) {
        match &mut self.kind {
            Kind::Off => self.spare.push(block),
            Kind::Inline { before, after } => {
                before.update(&block);
                if let Some(a) = after {
                    a.update(&block);
                }
                self.spare.push(block);
            }
            Kind::Threads { before, after, .. } => {
                let block = Arc::new(block);
                if let Some(a) = after {
                    a.update(Arc::clone(&block));
                }
                before.update(block);
            }
        }
    }

    /// A block that masking changed: `original` as read, `masked` as it is
    /// now on disk or in the copy.
    pub fn changed(&mut self, original: Vec<u8>, masked: Vec<u8>) {
        match &mut self.kind {
            Kind::Off => self.spare.extend([original, masked]),
            Kind::Inline { before, after } => {
                let a = after.get_or_insert_with(|| before.clone());
                // Two independent hashes: on two threads when the pool has
                // them (small files reach here, large ones use helpers).
                rayon::join(|| before.update(&original), || a.update(&masked));
                self.spare.extend([original, masked]);
            }
            Kind::Threads {
                before,
                after,
                back,
                broken,
                ..
            } => {
                if after.is_none() && !*broken {
                    // Fork "after" from "before" as it stands here.
                    let state = before.fork();
                    *after = state.and_then(|s| Worker::spawn(s, back.clone()));
                    *broken = after.is_none();
                }
                if let Some(a) = after {
                    a.update(Arc::new(masked));
                }
                before.update(Arc::new(original));
            }
        }
    }

    /// The two states: before, and after when a block changed. None when
    /// off, or when a helper thread failed (the digests are then unknown).
    pub fn finish(self) -> Option<(Sha256, Option<Sha256>)> {
        match self.kind {
            Kind::Off => None,
            Kind::Inline { before, after } => Some((before, after)),
            Kind::Threads {
                before,
                after,
                broken,
                ..
            } => {
                let b = before.finish()?;
                if broken {
                    return None;
                }
                let a = match after {
                    Some(w) => Some(w.finish()?),
                    None => None,
                };
                Some((b, a))
            }
        }
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

    fn blocks() -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        // Same, same, changed, same, changed, same.
        (0..6u8)
            .map(|k| {
                let b: Vec<u8> = (0..70_000u32).map(|i| (i as u8) ^ k).collect();
                let changed = (k == 2 || k == 4).then(|| {
                    let mut m = b.clone();
                    m[100..116].fill(b'*');
                    m
                });
                (b, changed)
            })
            .collect()
    }

    fn hex(s: Sha256) -> String {
        super::hex(&s.finalize())
    }

    #[test]
    fn inline_and_threads_give_the_file_digests() {
        let blocks = blocks();
        let whole_before: Vec<u8> = blocks.iter().flat_map(|(b, _)| b.clone()).collect();
        let whole_after: Vec<u8> = blocks
            .iter()
            .flat_map(|(b, m)| m.clone().unwrap_or_else(|| b.clone()))
            .collect();
        for threads in [false, true] {
            let mut d = Digests::new(threads);
            for (b, m) in blocks.clone() {
                let mut buf = d.buffer();
                buf.clear();
                buf.extend_from_slice(&b);
                match m {
                    Some(m) => d.changed(buf, m),
                    None => d.same(buf),
                }
            }
            let (before, after) = d.finish().expect("digests");
            assert_eq!(hex(before), hex(Sha256::new_with_prefix(&whole_before)));
            assert_eq!(
                hex(after.expect("changed")),
                hex(Sha256::new_with_prefix(&whole_after))
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
            assert_eq!(hex(before), hex(Sha256::new_with_prefix([1u8, 2, 3])));
        }
    }
}
