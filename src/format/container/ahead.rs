//! Decoding ahead of the scan: a top-level compressed stream is decoded on
//! a helper thread a few chunks ahead of the detector reading it, so that
//! with two cores or more decompression and detection overlap instead of
//! taking turns (a `.gz` is about half decoding, half detection). With one
//! worker (`-j1`) the stream is read directly.
//!
//! The helper fills whole chunks and hands them over a bounded channel;
//! the chunks come back for reuse, so a stream of any length allocates
//! [`DEPTH`] + 2 of them. A decoding error reaches the reader at the place
//! in the stream where it happened; when the reader stops early, the
//! helper stops at its next hand-over.

use std::io::{self, Read};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};

use crate::error::InputError;

/// Bytes decoded per hand-over: large enough that the channel costs
/// nothing next to decoding, small enough to stay in the L2 cache.
const CHUNK: usize = 1 << 20;

/// Chunks decoded ahead of the reader at most.
const DEPTH: usize = 4;

/// Runs `f` over the bytes `open` decodes from `r`: on a helper thread
/// when the run has more than one worker, else directly. The decoder is
/// made and used on the thread that decodes.
pub fn decoding<'r, R: Read + Send + 'r, T>(
    workers: usize,
    r: R,
    open: impl FnOnce(R) -> Result<Box<dyn Read + 'r>, InputError> + Send,
    f: impl FnOnce(&mut dyn Read) -> Result<T, InputError>,
) -> Result<T, InputError> {
    if workers < 2 {
        return f(&mut open(r)?);
    }
    std::thread::scope(|s| {
        let (tx, rx) = sync_channel(DEPTH);
        let (back, spare) = channel();
        s.spawn(move || match open(r) {
            Ok(mut dec) => decode(&mut dec, &tx, &spare),
            Err(e) => {
                let _ = tx.send(Msg::Failed(io::Error::other(e.to_string())));
            }
        });
        let mut ahead = Ahead {
            rx,
            back,
            chunk: Vec::new(),
            len: 0,
            pos: 0,
            ended: false,
        };
        f(&mut ahead)
        // `ahead` drops here, before the scope joins the helper: a helper
        // still decoding finds the channel closed at its next hand-over.
    })
}

/// What the helper hands over.
enum Msg {
    /// A chunk and how many of its bytes are decoded ones.
    Data(Vec<u8>, usize),
    /// The stream ended cleanly.
    End,
    Failed(io::Error),
}

/// The helper: decodes `r` chunk by chunk until its end, an error, or the
/// reader gone.
fn decode(r: &mut dyn Read, tx: &SyncSender<Msg>, spare: &Receiver<Vec<u8>>) {
    loop {
        let mut chunk = spare.try_recv().unwrap_or_else(|_| vec![0; CHUNK]);
        let mut n = 0;
        let failed = loop {
            if n == CHUNK {
                break None;
            }
            match r.read(&mut chunk[n..]) {
                Ok(0) => break None,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Some(e),
            }
        };
        let full = n == CHUNK;
        if n > 0 && tx.send(Msg::Data(chunk, n)).is_err() {
            return;
        }
        let last = match failed {
            Some(e) => Msg::Failed(e),
            None if !full => Msg::End,
            None => continue,
        };
        let _ = tx.send(last);
        return;
    }
}

/// The reading side: the chunk being read and the channel to the helper.
struct Ahead {
    rx: Receiver<Msg>,
    back: Sender<Vec<u8>>,
    chunk: Vec<u8>,
    len: usize,
    pos: usize,
    ended: bool,
}

impl Read for Ahead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.len {
            if self.ended || out.is_empty() {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Msg::Data(chunk, n)) => {
                    let used = std::mem::replace(&mut self.chunk, chunk);
                    if !used.is_empty() {
                        let _ = self.back.send(used);
                    }
                    (self.len, self.pos) = (n, 0);
                }
                Ok(Msg::End) => self.ended = true,
                Ok(Msg::Failed(e)) => {
                    self.ended = true;
                    return Err(e);
                }
                Err(_) => {
                    self.ended = true;
                    return Err(io::Error::other("the decoding thread stopped"));
                }
            }
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that gives `data` in uneven pieces, then fails if asked to.
    struct Pieces {
        data: Vec<u8>,
        at: usize,
        fail_at_end: bool,
    }

    impl Read for Pieces {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.at == self.data.len() {
                return match self.fail_at_end {
                    true => Err(io::Error::new(io::ErrorKind::InvalidData, "corrupt")),
                    false => Ok(0),
                };
            }
            let n = out.len().min(self.data.len() - self.at).min(7919);
            out[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn boxed<'r>(r: Pieces) -> Result<Box<dyn Read + 'r>, InputError> {
        Ok(Box::new(r))
    }

    fn sample(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn hands_over_every_byte_in_order() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK + 123] {
            let data = sample(len);
            let r = Pieces {
                data: data.clone(),
                at: 0,
                fail_at_end: false,
            };
            let got = decoding(2, r, boxed, |ahead| {
                let mut got = Vec::new();
                ahead.read_to_end(&mut got).unwrap();
                Ok(got)
            });
            assert_eq!(got.unwrap(), data, "length {len}");
        }
    }

    #[test]
    fn an_error_arrives_after_the_bytes_before_it() {
        let data = sample(3 * CHUNK + 5);
        let r = Pieces {
            data: data.clone(),
            at: 0,
            fail_at_end: true,
        };
        let (got, err) = decoding(2, r, boxed, |ahead| {
            let mut got = vec![0; data.len()];
            ahead.read_exact(&mut got).unwrap();
            Ok((got, ahead.read(&mut [0; 16]).unwrap_err()))
        })
        .unwrap();
        assert_eq!(got, data);
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn a_reader_that_stops_early_stops_the_helper() {
        let data = sample(40 * CHUNK);
        let r = Pieces {
            data: data.clone(),
            at: 0,
            fail_at_end: false,
        };
        let first = decoding(2, r, boxed, |ahead| {
            let mut first = [0; 100];
            ahead.read_exact(&mut first).unwrap();
            Ok(first)
        });
        // Returning at all shows the helper was joined after the reader left.
        assert_eq!(&first.unwrap()[..], &data[..100]);
    }
}
