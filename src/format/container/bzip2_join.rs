//! bzip2 compressed on several workers into one stream.
//!
//! A bzip2 stream is a header (`BZh9`), blocks compressed independently of
//! each other, and an end marker with a CRC combined from the blocks'
//! (`combined = rotl(combined, 1) ^ block_crc`, block by block). Blocks
//! are bit-packed, not byte-aligned. So each chunk is compressed by
//! libbzip2 as a stream of exactly one block (the chunk is small enough
//! that it cannot fill two: see [`Bzip2::CHUNK`]), and its block's bits
//! are lifted out of that stream and written one after another into a
//! single stream, with the combined CRC at the end. Readers that stop at
//! the first stream of a concatenation (some Java and Hadoop readers do)
//! read the whole file, as they read the original.

use std::io::{self, Write};

use super::encode::ChunkCodec;

const BLOCK_MAGIC: u64 = 0x3141_5926_5359;
const END_MAGIC: u64 = 0x1772_4538_5090;

/// One bzip2 stream of the chunks' blocks.
pub(super) struct Bzip2 {
    bits: BitWriter,
    combined: u32,
}

impl Bzip2 {
    /// Writes the stream's header; the codec for what follows.
    pub(super) fn start(w: &mut dyn Write) -> io::Result<Bzip2> {
        w.write_all(b"BZh9")?;
        Ok(Bzip2 {
            bits: BitWriter::default(),
            combined: 0,
        })
    }
}

impl ChunkCodec for Bzip2 {
    /// A block at level 9 holds 899,981 bytes after bzip2's first
    /// run-length step, which at worst turns 4 bytes into 5: 719,000 bytes
    /// of input always fit one block.
    const CHUNK: usize = 719_000;
    const WINDOW: usize = 0;

    fn compress(_dict: &[u8], data: &[u8], _last: bool) -> io::Result<Vec<u8>> {
        let mut e = bzip2::write::BzEncoder::new(
            Vec::with_capacity(data.len() / 4 + 64),
            bzip2::Compression::best(),
        );
        e.write_all(data)?;
        e.finish()
    }

    fn append(&mut self, data: &[u8], piece: Vec<u8>, w: &mut dyn Write) -> io::Result<()> {
        if data.is_empty() {
            return Ok(()); // a stream of no block
        }
        let block = one_block(&piece)
            .ok_or_else(|| io::Error::other("bzip2 wrote a chunk as other than one block"))?;
        self.combined = self.combined.rotate_left(1) ^ block.crc;
        self.bits.append(&piece, block.bits.0, block.bits.1);
        self.bits.drain_bytes(w)
    }

    fn end(mut self, w: &mut dyn Write) -> io::Result<()> {
        self.bits.push(END_MAGIC, 48);
        self.bits.push(u64::from(self.combined), 32);
        self.bits.pad();
        self.bits.drain_bytes(w)
    }
}

/// Where a one-block stream's block lies, in bits, and its CRC.
struct Block {
    bits: (u64, u64),
    crc: u32,
}

/// Finds the one block of a stream libbzip2 wrote: after the 4-byte
/// header, up to the end marker, which sits 80 bits (magic and CRC) plus
/// 0–7 bits of padding before the end. For one block the stream's CRC is
/// the block's, which makes the marker's place unambiguous.
fn one_block(stream: &[u8]) -> Option<Block> {
    let total = stream.len() as u64 * 8;
    if total < 32 + 80 + 80 || !stream.starts_with(b"BZh") {
        return None;
    }
    if read_bits(stream, 32, 48) != BLOCK_MAGIC {
        return None;
    }
    let crc = read_bits(stream, 80, 32) as u32;
    (0..8).find_map(|pad| {
        let end = total - 80 - pad;
        let found = read_bits(stream, end, 48) == END_MAGIC
            && read_bits(stream, end + 48, 32) as u32 == crc
            && (pad == 0 || read_bits(stream, total - pad, pad as u32) == 0);
        found.then_some(Block {
            bits: (32, end),
            crc,
        })
    })
}

/// `n` (≤ 64) bits of `bytes` from bit `at`, most significant first (as
/// bzip2 packs them).
fn read_bits(bytes: &[u8], at: u64, n: u32) -> u64 {
    let mut v = 0u64;
    for i in 0..u64::from(n) {
        let bit = at + i;
        let b = bytes[(bit / 8) as usize] >> (7 - bit % 8) & 1;
        v = v << 1 | u64::from(b);
    }
    v
}

/// Bits written most significant first, handed on in whole bytes.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    /// Bits held past the last whole byte (fewer than 8), high first.
    acc: u8,
    held: u32,
}

impl BitWriter {
    /// The low `n` bits of `v`.
    fn push(&mut self, v: u64, n: u32) {
        for i in (0..n).rev() {
            self.push_bit((v >> i) as u8 & 1);
        }
    }

    fn push_bit(&mut self, bit: u8) {
        self.acc = self.acc << 1 | bit;
        self.held += 1;
        if self.held == 8 {
            self.bytes.push(self.acc);
            self.acc = 0;
            self.held = 0;
        }
    }

    /// Bits `from..to` of `src`: a byte at a time where the bits are
    /// byte-aligned in `src`, which is most of them.
    fn append(&mut self, src: &[u8], from: u64, to: u64) {
        let mut at = from;
        while at < to && !at.is_multiple_of(8) {
            self.push_bit(src[(at / 8) as usize] >> (7 - at % 8) & 1);
            at += 1;
        }
        let whole = (to - at) / 8;
        let bytes = &src[(at / 8) as usize..(at / 8 + whole) as usize];
        if self.held == 0 {
            self.bytes.extend_from_slice(bytes);
        } else {
            let shift = self.held;
            for &b in bytes {
                self.bytes.push(self.acc << (8 - shift) | b >> shift);
                self.acc = b & ((1u8 << shift) - 1);
            }
        }
        at += whole * 8;
        while at < to {
            self.push_bit(src[(at / 8) as usize] >> (7 - at % 8) & 1);
            at += 1;
        }
    }

    /// Zero bits up to the next byte.
    fn pad(&mut self) {
        while self.held != 0 {
            self.push_bit(0);
        }
    }

    /// Writes the whole bytes so far.
    fn drain_bytes(&mut self, w: &mut dyn Write) -> io::Result<()> {
        w.write_all(&self.bytes)?;
        self.bytes.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use proptest::prelude::*;

    use super::super::encode::Chunked;
    use super::*;

    fn bzip2_of(data: &[u8], workers: usize) -> Vec<u8> {
        let mut w = Vec::new();
        let codec = Bzip2::start(&mut w).unwrap();
        let mut e = Chunked::new(codec, w, workers);
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// Decodes the first stream only, as a reader that stops there does.
    fn first_stream(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        bzip2::read::BzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn chunks_become_one_stream_that_decodes_to_the_input() {
        let mut data = Vec::new();
        let mut i = 0u32;
        while data.len() < 3 * Bzip2::CHUNK + 1234 {
            i = i.wrapping_mul(1_103_515_245).wrapping_add(12345);
            data.extend_from_slice(format!("{} GET /x/{} 200\n", data.len(), i >> 20).as_bytes());
        }
        for workers in [1, 2] {
            let bz = bzip2_of(&data, workers);
            assert_eq!(first_stream(&bz), data);
        }
        assert_eq!(first_stream(&bzip2_of(b"", 2)), b"");
    }

    #[test]
    fn runs_of_four_the_worst_case_for_block_size_still_fit_one_block() {
        // Runs of exactly 4 grow by a quarter in bzip2's first step.
        let data: Vec<u8> = (0..Bzip2::CHUNK * 2)
            .map(|i| b"abcdefghij"[(i / 4) % 10])
            .collect();
        assert_eq!(first_stream(&bzip2_of(&data, 2)), data);
    }

    /// The codec with small chunks: many one-block streams to join.
    struct SmallChunks(Bzip2);

    impl ChunkCodec for SmallChunks {
        const CHUNK: usize = 600;
        const WINDOW: usize = 0;
        fn compress(dict: &[u8], data: &[u8], last: bool) -> io::Result<Vec<u8>> {
            Bzip2::compress(dict, data, last)
        }
        fn append(&mut self, data: &[u8], piece: Vec<u8>, w: &mut dyn Write) -> io::Result<()> {
            self.0.append(data, piece, w)
        }
        fn end(self, w: &mut dyn Write) -> io::Result<()> {
            self.0.end(w)
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Any input, in blocks at every bit alignment, is one stream that
        /// decodes to itself.
        #[test]
        fn any_input_joined_from_small_blocks_decodes_to_itself(
            data in proptest::collection::vec(prop_oneof![Just(b'4'), Just(b'1'), any::<u8>()], 0..6000),
            workers in 1usize..4,
        ) {
            let mut w = Vec::new();
            let codec = SmallChunks(Bzip2::start(&mut w).unwrap());
            let mut e = Chunked::new(codec, w, workers);
            e.write_all(&data).unwrap();
            let bz = e.finish().unwrap();
            prop_assert_eq!(first_stream(&bz), data);
        }

        #[test]
        fn bits_appended_at_any_alignment_read_back(
            src in proptest::collection::vec(any::<u8>(), 1..64),
            lead in 0u32..8,
            from_frac in 0.0f64..1.0,
            to_frac in 0.0f64..1.0,
        ) {
            let total = src.len() as u64 * 8;
            let (a, b) = ((from_frac * total as f64) as u64, (to_frac * total as f64) as u64);
            let (from, to) = (a.min(b), a.max(b));
            let mut w = BitWriter::default();
            w.push(0b1011_0110, lead);
            w.append(&src, from, to);
            w.pad();
            let mut out = Vec::new();
            w.drain_bytes(&mut out).unwrap();
            for i in 0..to - from {
                prop_assert_eq!(
                    read_bits(&out, u64::from(lead) + i, 1),
                    read_bits(&src, from + i, 1)
                );
            }
        }
    }
}
