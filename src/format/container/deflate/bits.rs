//! Deflate's bit order, both ways: a reader that pulls a compressed stream
//! from any `Read` and keeps the bytes of the block being decoded (so an
//! unchanged block can be copied bit for bit), and a writer that packs
//! codes and copies bit ranges at any alignment.
//!
//! Deflate packs bits from the least significant bit of each byte up. The
//! reader keeps up to 63 bits in a `u64` and refills eight bytes at a time
//! (libdeflate's branch-free refill), so one refill covers a whole
//! length/distance pair (at most 48 bits).

use std::io::{self, Read, Write};

/// Bytes pulled from the source per read.
const PULL: usize = 256 * 1024;

/// Zero bytes placed after the source's end, so the fast refill never
/// needs a bounds check near the end; reading into them is a truncated
/// stream, caught by [`BitReader::overran`].
const PAD: usize = 16;

/// A deflate bit reader over a `Read`.
pub(super) struct BitReader<R> {
    src: R,
    /// Compressed bytes from [`BitReader::keep_from`]'s mark on.
    buf: Vec<u8>,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// Next byte of `buf` to load into `bits`.
    pos: usize,
    bits: u64,
    /// Valid bits in `bits`: the stream's bits from `pos * 8 - count` on.
    count: u32,
    /// The source's length, once it has ended (the padding follows it).
    end: Option<u64>,
}

impl<R: Read> BitReader<R> {
    pub(super) fn new(src: R) -> BitReader<R> {
        BitReader {
            src,
            buf: Vec::with_capacity(PULL + PAD),
            base: 0,
            pos: 0,
            bits: 0,
            count: 0,
            end: None,
        }
    }

    /// The stream offset, in bits, of the next bit to be read.
    #[inline]
    pub(super) fn bit_pos(&self) -> u64 {
        (self.base + self.pos as u64) * 8 - self.count as u64
    }

    /// Whether reading went past the source's end (into the padding).
    pub(super) fn overran(&self) -> bool {
        self.end.is_some_and(|end| self.bit_pos() > end * 8)
    }

    /// Tops `bits` up to at least 56 valid bits.
    #[inline(always)]
    pub(super) fn refill(&mut self) -> io::Result<()> {
        if self.with_cursor(|c| c.refill()) {
            Ok(())
        } else {
            self.refill_slow()
        }
    }

    #[cold]
    fn refill_slow(&mut self) -> io::Result<()> {
        loop {
            let ended = self.end.is_some();
            self.pull()?;
            if self.pos + 8 <= self.buf.len() {
                return self.refill();
            }
            if ended {
                break;
            }
        }
        // Past the padding: the stream is truncated. Stop filling; the
        // caller's checks see `overran`.
        Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "deflate stream truncated",
        ))
    }

    /// Appends the next piece of the source to `buf` (or the padding, once
    /// it has ended).
    fn pull(&mut self) -> io::Result<()> {
        if self.end.is_some() {
            return Ok(());
        }
        // Bits beyond `count` were loaded ahead by the fast refill; they
        // are the bytes at `pos`, which stay where they are.
        let old = self.buf.len();
        self.buf.resize(old + PULL, 0);
        let n = loop {
            match self.src.read(&mut self.buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(e);
                }
            }
        };
        self.buf.truncate(old + n);
        if n == 0 {
            self.end = Some(self.base + old as u64);
            self.buf.extend_from_slice(&[0; PAD]);
        }
        Ok(())
    }

    /// The next `n` bits (`n` ≤ 32; needs a refill before if fewer are held).
    #[inline(always)]
    pub(super) fn take(&mut self, n: u32) -> u32 {
        self.with_cursor(|c| c.take(n))
    }

    /// The held bits, without taking them.
    #[inline(always)]
    pub(super) fn peek(&self) -> u64 {
        self.bits
    }

    #[inline(always)]
    pub(super) fn consume(&mut self, n: u32) {
        self.with_cursor(|c| c.consume(n));
    }

    /// Runs `f` with the reader's position and pending bits in locals
    /// ([`Cursor`]) over the bytes held: a decoding loop then keeps them in
    /// registers instead of storing and reloading them around every symbol
    /// (the symbol's table lookup waits on them). `f` stops when the held
    /// bytes run short ([`Cursor::refill`] fails); the caller refills the
    /// slow way and calls again.
    #[inline(always)]
    pub(super) fn with_cursor<T>(&mut self, f: impl FnOnce(&mut Cursor<'_>) -> T) -> T {
        let mut c = Cursor {
            buf: &self.buf,
            pos: self.pos,
            bits: self.bits,
            count: self.count,
        };
        let r = f(&mut c);
        (self.pos, self.bits, self.count) = (c.pos, c.bits, c.count);
        r
    }

    /// Skips to the next byte boundary and gives back the held whole
    /// bytes, so that bytes can be read directly.
    pub(super) fn align(&mut self) {
        let drop = self.count % 8;
        self.consume(drop);
        self.pos -= (self.count / 8) as usize;
        self.bits = 0;
        self.count = 0;
    }

    /// Reads `out.len()` bytes at a byte boundary (after [`BitReader::align`]).
    pub(super) fn read_bytes(&mut self, out: &mut Vec<u8>, mut n: usize) -> io::Result<()> {
        debug_assert_eq!(self.count, 0);
        while n > 0 {
            let real_end = match self.end {
                Some(end) => (end - self.base) as usize,
                None => self.buf.len(),
            };
            if self.pos >= real_end {
                if self.end.is_some() {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "deflate stream truncated",
                    ));
                }
                self.pull()?;
                continue;
            }
            let k = n.min(real_end - self.pos);
            out.extend_from_slice(&self.buf[self.pos..self.pos + k]);
            self.pos += k;
            n -= k;
        }
        Ok(())
    }

    /// Drops the bytes before the one holding stream bit `bit` once enough
    /// have gathered; bits from `bit` on stay readable by
    /// [`BitReader::held`].
    pub(super) fn keep_from(&mut self, bit: u64) {
        let first = (bit / 8 - self.base) as usize;
        if first >= 4 * PULL {
            self.buf.drain(..first);
            self.base += first as u64;
            self.pos -= first;
        }
    }

    /// The held compressed bytes and the stream offset of the first.
    pub(super) fn held(&self) -> (&[u8], u64) {
        (&self.buf, self.base)
    }

    /// Whether the source has no byte left (at a byte boundary, after
    /// [`BitReader::align`]).
    pub(super) fn at_end(&mut self) -> io::Result<bool> {
        debug_assert_eq!(self.count, 0);
        loop {
            if let Some(end) = self.end {
                return Ok(self.base + self.pos as u64 >= end);
            }
            if self.pos < self.buf.len() {
                return Ok(false);
            }
            self.pull()?;
        }
    }
}

/// A [`BitReader`]'s position and pending bits, lent by
/// [`BitReader::with_cursor`], over the bytes it holds.
pub(super) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    bits: u64,
    count: u32,
}

impl Cursor<'_> {
    /// Tops the bits up to at least 56, as [`BitReader::refill`] does;
    /// false (nothing read) when fewer than eight bytes are held past the
    /// position.
    #[inline(always)]
    pub(super) fn refill(&mut self) -> bool {
        let Some(word) = self.buf.get(self.pos..self.pos + 8) else {
            return false;
        };
        let word = u64::from_le_bytes(word.try_into().unwrap());
        self.bits |= word << self.count;
        self.pos += ((63 - self.count) >> 3) as usize;
        self.count |= 56;
        true
    }

    /// How many bits are held.
    #[inline(always)]
    pub(super) fn count(&self) -> u32 {
        self.count
    }

    /// The held bits, without taking them.
    #[inline(always)]
    pub(super) fn peek(&self) -> u64 {
        self.bits
    }

    #[inline(always)]
    pub(super) fn consume(&mut self, n: u32) {
        self.bits >>= n;
        self.count -= n;
    }

    /// The next `n` bits (`n` ≤ 32, at most [`Cursor::count`]).
    #[inline(always)]
    pub(super) fn take(&mut self, n: u32) -> u32 {
        let v = (self.bits & ((1u64 << n) - 1)) as u32;
        self.consume(n);
        v
    }
}

/// The pending bits of a [`BitWriter`], lent by [`BitWriter::with_bits`].
pub(super) struct Bits<'a> {
    buf: &'a mut Vec<u8>,
    bits: u64,
    count: u32,
}

impl Bits<'_> {
    /// Writes the low `n` bits of `v` (`n` ≤ 32).
    #[inline(always)]
    pub(super) fn put(&mut self, v: u32, n: u32) {
        debug_assert!(n <= 32 && (n == 32 || v >> n == 0));
        self.bits |= (v as u64) << self.count;
        self.count += n;
        if self.count >= 32 {
            self.buf
                .extend_from_slice(&(self.bits as u32).to_le_bytes());
            self.bits >>= 32;
            self.count -= 32;
        }
    }
}

/// A deflate bit writer into a `Write`.
pub(super) struct BitWriter<W> {
    out: W,
    buf: Vec<u8>,
    bits: u64,
    count: u32,
}

impl<W: Write> BitWriter<W> {
    pub(super) fn new(out: W) -> BitWriter<W> {
        BitWriter {
            out,
            buf: Vec::with_capacity(PULL + 64),
            bits: 0,
            count: 0,
        }
    }

    /// Writes the low `n` bits of `v` (`n` ≤ 32).
    #[inline(always)]
    pub(super) fn put(&mut self, v: u32, n: u32) {
        self.with_bits(|b| b.put(v, n));
    }

    /// Runs `f` with the pending bits held in locals: in a loop of many
    /// `put`s they stay in registers instead of being stored and reloaded
    /// around every push to the buffer (which the compiler cannot prove
    /// leaves them alone). A fifth of a re-encoded block's writing time.
    #[inline(always)]
    pub(super) fn with_bits<R>(&mut self, f: impl FnOnce(&mut Bits<'_>) -> R) -> R {
        let mut b = Bits {
            buf: &mut self.buf,
            bits: self.bits,
            count: self.count,
        };
        let r = f(&mut b);
        (self.bits, self.count) = (b.bits, b.count);
        r
    }

    /// Copies stream bits `from..to` of `src` (whose first byte is stream
    /// byte `base`), at whatever alignment the writer is at.
    pub(super) fn copy_bits(&mut self, src: &[u8], base: u64, from: u64, to: u64) {
        let mut at = from - base * 8;
        let end = to - base * 8;
        self.with_bits(|w| {
            while at < end {
                let n = (end - at).min(32) as u32;
                let byte = (at / 8) as usize;
                let mut word = [0u8; 8];
                let avail = (src.len() - byte).min(8);
                word[..avail].copy_from_slice(&src[byte..byte + avail]);
                let v = (u64::from_le_bytes(word) >> (at % 8)) as u32;
                let v = if n == 32 { v } else { v & ((1 << n) - 1) };
                w.put(v, n);
                at += n as u64;
            }
        })
    }

    /// Pads to a byte boundary with zero bits.
    pub(super) fn align(&mut self) {
        let pad = (8 - self.count % 8) % 8;
        self.put(0, pad);
        while self.count > 0 {
            self.buf.push(self.bits as u8);
            self.bits >>= 8;
            self.count -= 8;
        }
    }

    /// Writes whole bytes (at a byte boundary).
    pub(super) fn put_bytes(&mut self, bytes: &[u8]) {
        debug_assert_eq!(self.count, 0);
        self.buf.extend_from_slice(bytes);
    }

    /// Hands the finished bytes to the writer once enough have gathered.
    pub(super) fn drain(&mut self, force: bool) -> io::Result<()> {
        if force || self.buf.len() >= PULL {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Flushes (after [`BitWriter::align`]) and gives back the writer.
    pub(super) fn into_inner(mut self) -> io::Result<W> {
        debug_assert_eq!(self.count, 0);
        self.drain(true)?;
        Ok(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn bits_written_read_back_through_a_copy_at_any_alignment(
            fields in proptest::collection::vec((0u32..=u32::MAX, 1u32..=32), 1..200),
            shift in 0u32..8,
        ) {
            let mut w = BitWriter::new(Vec::new());
            for &(v, n) in &fields {
                w.put(if n == 32 { v } else { v & ((1 << n) - 1) }, n);
            }
            let total: u64 = fields.iter().map(|f| f.1 as u64).sum();
            w.align();
            let first = w.into_inner().unwrap();
            // Copy everything behind `shift` leading bits.
            let mut c = BitWriter::new(Vec::new());
            c.put(0, shift);
            c.copy_bits(&first, 0, 0, total);
            c.align();
            let copied = c.into_inner().unwrap();
            let mut r = BitReader::new(&copied[..]);
            r.refill().unwrap();
            prop_assert_eq!(r.take(shift), 0);
            for &(v, n) in &fields {
                r.refill().unwrap();
                let want = if n == 32 { v } else { v & ((1 << n) - 1) };
                let got = if n > 24 {
                    let lo = r.take(16);
                    r.refill().unwrap();
                    lo | (r.take(n - 16) << 16)
                } else {
                    r.take(n)
                };
                prop_assert_eq!(got, want);
            }
            prop_assert!(!r.overran());
        }
    }
}
