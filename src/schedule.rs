//! Order of work: the walk's entries reach the workers largest first,
//! within a bounded lookahead.
//!
//! A large file picked up last keeps the run going long after the small
//! files are done, so the workers should take big files first. Sorting the
//! whole tree would hold every entry in memory (a nightly run may walk
//! millions of files) and start the first scan only when the walk ends.
//! Instead files of [`ORDERED_FROM`] bytes and more that the walk finds
//! while the workers' queue is full wait in a max-heap by size (at most
//! [`LOOKAHEAD`] entries, with the small files that arrive after them) and
//! go out largest first as the queue frees up. Small files with nothing
//! large waiting stream straight to the queue in walk order. Workers are
//! never kept idle while the walk goes on, and memory stays bounded by the
//! queue and the lookahead (about 150 bytes an entry).

use std::cmp::Ordering;
use std::collections::binary_heap::{BinaryHeap, PeekMut};
use std::sync::mpsc::{SyncSender, TrySendError};

use crate::walk::Entry;

/// Entries held back at most.
pub const LOOKAHEAD: usize = 4096;

/// Files from this size on go by size; smaller ones keep walk order.
pub const ORDERED_FROM: u64 = 1 << 20;

/// Entries waiting to be handed out, the largest first.
pub struct LargestFirst {
    heap: BinaryHeap<Waiting>,
    /// Arrival counter: equal sizes keep walk order.
    seq: u64,
    cap: usize,
}

struct Waiting {
    /// Size of an input; skipped and error entries cost nothing to handle
    /// and go first, so they are reported at once.
    size: u64,
    seq: u64,
    /// Boxed: the heap moves its elements on every push and pop. `None`
    /// only while the top entry is being offered to the workers.
    entry: Option<Box<Entry>>,
}

impl Waiting {
    fn key(&self) -> (u64, std::cmp::Reverse<u64>) {
        (self.size, std::cmp::Reverse(self.seq))
    }
}

impl PartialEq for Waiting {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}
impl Eq for Waiting {}
impl PartialOrd for Waiting {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Waiting {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl LargestFirst {
    /// A scheduler holding back at most `cap` entries.
    pub fn new(cap: usize) -> LargestFirst {
        LargestFirst {
            heap: BinaryHeap::new(),
            seq: 0,
            cap: cap.max(1),
        }
    }

    /// Entries held back now.
    pub fn waiting(&self) -> usize {
        self.heap.len()
    }

    /// Takes `entry` from the walk and hands the largest waiting entries to
    /// `tx` while it has room; blocks only when the lookahead is full.
    /// False once the workers are gone.
    pub fn push(&mut self, entry: Entry, tx: &SyncSender<Box<Entry>>) -> bool {
        let size = match &entry {
            Entry::Input(i) if i.size >= ORDERED_FROM => i.size,
            // Small files take microseconds each: their order does not
            // matter for balance, and walk order keeps directory locality.
            Entry::Input(_) => 0,
            _ => u64::MAX,
        };
        if size == 0 && self.heap.is_empty() {
            // Nothing large is waiting: plain streaming in walk order,
            // which keeps a tree of small files as cheap as a channel.
            return tx.send(Box::new(entry)).is_ok();
        }
        self.heap.push(Waiting {
            size,
            seq: self.seq,
            entry: Some(Box::new(entry)),
        });
        self.seq += 1;
        // Offer the top in place: when the queue is full (the usual case
        // while workers are busy) it stays where it is, with no sift.
        while let Some(mut top) = self.heap.peek_mut() {
            let entry = top.entry.take().expect("a waiting entry");
            match tx.try_send(entry) {
                Ok(()) => {
                    PeekMut::pop(top);
                }
                Err(TrySendError::Full(entry)) => {
                    top.entry = Some(entry);
                    break;
                }
                Err(TrySendError::Disconnected(_)) => return false,
            }
        }
        if self.heap.len() > self.cap {
            let top = self.heap.pop().expect("over capacity, so not empty");
            return tx.send(top.entry.expect("a waiting entry")).is_ok();
        }
        true
    }

    /// The walk is over: hands out everything left, largest first.
    pub fn finish(mut self, tx: &SyncSender<Box<Entry>>) {
        while let Some(top) = self.heap.pop() {
            if tx.send(top.entry.expect("a waiting entry")).is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::walk::Input;
    use std::path::PathBuf;
    use std::sync::mpsc::sync_channel;

    fn input(size: u64) -> Entry {
        Entry::Input(Input {
            path: PathBuf::from(format!("f{size}")),
            size,
            root: 0,
            rel: PathBuf::new(),
        })
    }

    fn size_of(e: &Entry) -> u64 {
        match e {
            Entry::Input(i) => i.size,
            _ => u64::MAX,
        }
    }

    #[test]
    fn busy_workers_get_the_largest_known_first() {
        // A queue of two that nobody reads during the walk: the first two
        // entries go straight in, the rest wait and come out by size, an
        // error entry first of all, small files last in walk order.
        const M: u64 = 1 << 20;
        let (tx, rx) = sync_channel::<Box<Entry>>(2);
        let mut s = LargestFirst::new(100);
        for size in [3 * M, M, 4 * M, 10 * M, 5, 9 * M, 700, 2, 6 * M, 5 * M] {
            assert!(s.push(input(size), &tx));
        }
        assert!(s.push(
            Entry::Error {
                path: PathBuf::from("x"),
                reason: "cannot read".into()
            },
            &tx
        ));
        assert_eq!(s.waiting(), 9);
        let drain = std::thread::spawn(move || rx.iter().map(|e| size_of(&e)).collect::<Vec<_>>());
        s.finish(&tx);
        drop(tx);
        let got = drain.join().unwrap();
        let want = [
            3 * M,
            M,
            u64::MAX,
            10 * M,
            9 * M,
            6 * M,
            5 * M,
            4 * M,
            5,
            700,
            2,
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn the_lookahead_is_bounded_and_nothing_is_lost() {
        let (tx, rx) = sync_channel::<Box<Entry>>(1);
        let drain = std::thread::spawn(move || {
            let mut got: Vec<u64> = rx
                .iter()
                .map(|e| {
                    std::thread::yield_now();
                    size_of(&e)
                })
                .collect();
            got.sort();
            got
        });
        let mut s = LargestFirst::new(16);
        for k in 0..2_000u64 {
            assert!(s.push(input(ORDERED_FROM + k * 7919 % 2_000), &tx));
            assert!(s.waiting() <= 16);
        }
        s.finish(&tx);
        drop(tx);
        let want: Vec<u64> = (0..2_000).map(|k| ORDERED_FROM + k).collect();
        assert_eq!(drain.join().unwrap(), want);
    }

    #[test]
    fn small_files_stream_in_walk_order_without_waiting() {
        let (tx, rx) = sync_channel::<Box<Entry>>(1);
        let drain = std::thread::spawn(move || rx.iter().map(|e| size_of(&e)).collect::<Vec<_>>());
        let mut s = LargestFirst::new(16);
        let sizes: Vec<u64> = (0..500).map(|k| k * 7919 % 10_000).collect();
        for &size in &sizes {
            assert!(s.push(input(size), &tx));
            assert_eq!(s.waiting(), 0);
        }
        s.finish(&tx);
        drop(tx);
        assert_eq!(drain.join().unwrap(), sizes);
    }

    #[test]
    fn push_reports_when_the_workers_are_gone() {
        let (tx, rx) = sync_channel::<Box<Entry>>(1);
        drop(rx);
        let mut s = LargestFirst::new(4);
        assert!(!s.push(input(1), &tx));
    }
}
