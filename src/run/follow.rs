//! Reading a file while it is being written: the rebuilt `.gz` is checked
//! by a reader that follows the splice writing it, instead of after it.
//!
//! The writer publishes how far the file is written ([`Tracking`]); the
//! reader ([`Following`], positioned reads on its own handle) waits for
//! bytes that are not there yet. A write becomes readable only when the
//! next one starts or the writer says it has finished: the file's last
//! bytes are read only after [`Progress::finish`], so whatever the writer
//! does to them before finishing (a test build's damage, as a faulty
//! encoder would do) is what the reader sees.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;
use std::sync::{Condvar, Mutex};

use sha2::{Digest, Sha256};

/// How far a file can be read, shared by its writer and its reader.
#[derive(Default)]
pub struct Progress {
    state: Mutex<State>,
    moved: Condvar,
}

#[derive(Default, Clone, Copy)]
struct State {
    readable: u64,
    /// `Some(true)`: finished, every byte readable; `Some(false)`: the
    /// writer gave up, the reader stops with an error.
    ended: Option<bool>,
}

impl Progress {
    /// Makes the first `n` bytes readable.
    fn publish(&self, n: u64) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.readable = s.readable.max(n);
        self.moved.notify_all();
    }

    /// Ends the writing: `len` bytes in all when `complete`, else nothing
    /// more to read (the reader fails). Only the first call counts.
    pub fn finish(&self, len: u64, complete: bool) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if s.ended.is_some() {
            return;
        }
        if complete {
            s.readable = s.readable.max(len);
        }
        s.ended = Some(complete);
        self.moved.notify_all();
    }

    /// Waits until byte `pos` is readable or the writing ended.
    fn wait_past(&self, pos: u64) -> State {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        while s.readable <= pos && s.ended.is_none() {
            s = self.moved.wait(s).unwrap_or_else(|p| p.into_inner());
        }
        *s
    }
}

/// Tells the reader the writing was given up when dropped before
/// [`Progress::finish`] (an error or a panic on the writing side), so that
/// a reader waiting for more never waits for ever.
pub struct GiveUpOnDrop<'p>(pub &'p Progress);

impl Drop for GiveUpOnDrop<'_> {
    fn drop(&mut self) {
        self.0.finish(0, false);
    }
}

/// A writer that publishes its progress, one write behind.
pub struct Tracking<'p, W> {
    inner: W,
    progress: &'p Progress,
    written: u64,
}

impl<'p, W: Write> Tracking<'p, W> {
    pub fn new(inner: W, progress: &'p Progress) -> Self {
        Tracking {
            inner,
            progress,
            written: 0,
        }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }
}

impl<W: Write> Write for Tracking<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.progress.publish(self.written);
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader of `file` from its start that follows its writer, hashing
/// what it reads (sha256).
pub struct Following<'a> {
    file: &'a File,
    progress: &'a Progress,
    pos: u64,
    hash: Sha256,
}

impl<'a> Following<'a> {
    pub fn new(file: &'a File, progress: &'a Progress) -> Self {
        Following {
            file,
            progress,
            pos: 0,
            hash: Sha256::new(),
        }
    }

    /// Reads what is left to the writer's finish; the sha256 (hex) of the
    /// whole file.
    pub fn sha256_to_end(mut self) -> io::Result<String> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(crate::remediate::digest::hex(&self.hash.finalize()))
    }
}

impl Read for Following<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let s = self.progress.wait_past(self.pos);
        if s.ended == Some(false) {
            return Err(io::Error::other("the writing stopped"));
        }
        let left = s.readable.saturating_sub(self.pos);
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        if want == 0 {
            return Ok(0); // finished, all read
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the file is shorter than what was written",
            ));
        }
        self.pos += n as u64;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reader gets exactly what the writer wrote, in pieces of any
    /// size, and the last write only after the finish.
    #[test]
    fn a_follower_reads_what_was_written_and_the_tail_after_the_finish() {
        let file = tempfile::tempfile().unwrap();
        let reader = file.try_clone().unwrap();
        let progress = Progress::default();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let got = std::thread::scope(|s| {
            let follower = s.spawn(|| {
                let mut got = Vec::new();
                let mut follow = Following::new(&reader, &progress);
                follow.read_exact(&mut [0; 100]).unwrap();
                follow.read_to_end(&mut got).unwrap();
                (got, follow.sha256_to_end().unwrap())
            });
            let mut w = Tracking::new(&file, &progress);
            for piece in data.chunks(7_919) {
                w.write_all(piece).unwrap();
            }
            // Not yet readable: the last write.
            std::thread::sleep(std::time::Duration::from_millis(20));
            assert!(progress.state.lock().unwrap().readable < data.len() as u64);
            // Damaged before the finish: the reader sees the damage.
            file.write_all_at(&[0xAA], data.len() as u64 - 1).unwrap();
            progress.finish(w.written(), true);
            follower.join().unwrap()
        });
        let (got, hash) = got;
        let mut want = data.clone();
        want[data.len() - 1] = 0xAA;
        assert!(got == want[100..]);
        let whole = crate::remediate::digest::hex(&Sha256::digest(&want));
        assert_eq!(hash, whole);
    }

    /// A writer that gives up stops the reader with an error, not a
    /// short file that looks complete.
    #[test]
    fn a_writer_that_gives_up_fails_the_follower() {
        let file = tempfile::tempfile().unwrap();
        let progress = Progress::default();
        let read = std::thread::scope(|s| {
            let follower = s.spawn(|| {
                let mut got = Vec::new();
                Following::new(&file, &progress).read_to_end(&mut got)
            });
            let mut w = Tracking::new(&file, &progress);
            w.write_all(&[1; 1000]).unwrap();
            w.write_all(&[2; 1000]).unwrap();
            progress.finish(w.written(), false);
            follower.join().unwrap()
        });
        assert!(read.is_err());
    }
}
