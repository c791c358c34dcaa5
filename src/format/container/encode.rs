//! Recompressing a rebuilt stream, on every worker of the run's pool.
//!
//! Where a compressed file is rebuilt, compression is nearly all of the
//! time (decoding and scanning a gzip stream run at several times the
//! speed of deflating it again). One stream is still one output stream,
//! so the work is split the way each format allows:
//!
//! - **gzip**: pigz's way. The input is cut into chunks of 1 MiB; each is
//!   deflated on its own, primed with the 32 KiB before it as a preset
//!   dictionary (what the deflate window would have held), and ended with a
//!   sync flush (an empty stored block, so the next chunk starts on a byte);
//!   the last ends the stream. The chunks are one deflate stream, in one
//!   gzip member, with the CRC-32 of the whole: any gzip reader reads it as
//!   it read the original. Matches across a chunk boundary are kept (the
//!   dictionary); the cost is ~5 bytes per MiB.
//! - **bzip2**: chunks of one block each, joined at the bit level into
//!   one stream (`bzip2_join.rs`).
//! - **zstd** and **xz**: their libraries' own worker threads (one frame,
//!   one `.xz` stream of several blocks).
//! - **lz4**: one thread (it compresses at memory speed).
//!
//! How many workers: the run's pool (`-j`), so `-j1` stays on one core.
//! The gzip and bzip2 chunks do not depend on the number of workers, so
//! neither does what is written.

use std::io::{self, Write};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};
use rayon::prelude::*;

use crate::error::InputError;

use super::bzip2_join::Bzip2;
use super::Format;

/// An encoder for the stream formats, rebuilt with their tool's default
/// level (gzip 6, zstd 3, xz 6, bzip2 9; lz4 with a content checksum, as
/// the `lz4` tool writes).
pub(super) enum Encoder<W: Write> {
    Gzip(Chunked<W, Gzip>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
    Xz(liblzma::write::XzEncoder<W>),
    Bzip2(Chunked<W, Bzip2>),
    Lz4(lz4_flex::frame::FrameEncoder<W>),
}

/// What a gzip member's header keeps of the original's.
pub(super) struct GzipHeader {
    /// The original name (already masked), if it had one.
    pub name: Option<Vec<u8>>,
    /// The modification time.
    pub mtime: u32,
}

/// The workers a rebuild may use: the run's pool.
fn workers() -> usize {
    rayon::current_num_threads().max(1)
}

impl<W: Write> Encoder<W> {
    /// An encoder for `fmt` (`gzip` takes [`Encoder::gzip`]).
    pub(super) fn new(fmt: Format, w: W) -> Result<Encoder<W>, InputError> {
        let threads = workers() as u32;
        Ok(match fmt {
            Format::Zstd => {
                let mut e =
                    zstd::stream::write::Encoder::new(w, 3).map_err(InputError::io("zstd"))?;
                if threads > 1 {
                    e.multithread(threads).map_err(InputError::io("zstd"))?;
                }
                Encoder::Zstd(e)
            }
            Format::Xz => {
                let stream = if threads > 1 {
                    liblzma::stream::MtStreamBuilder::new()
                        .threads(threads)
                        .preset(6)
                        .check(liblzma::stream::Check::Crc64)
                        .encoder()
                } else {
                    liblzma::stream::Stream::new_easy_encoder(6, liblzma::stream::Check::Crc64)
                }
                .map_err(|e| InputError::io("xz")(io::Error::other(e)))?;
                Encoder::Xz(liblzma::write::XzEncoder::new_stream(w, stream))
            }
            Format::Bzip2 => {
                let mut w = w;
                let codec = Bzip2::start(&mut w).map_err(InputError::io("write"))?;
                Encoder::Bzip2(Chunked::new(codec, w, workers()))
            }
            Format::Lz4 => Encoder::Lz4(lz4_flex::frame::FrameEncoder::with_frame_info(
                lz4_flex::frame::FrameInfo::new().content_checksum(true),
                w,
            )),
            _ => return Err(InputError::Corrupt("not a stream format".into())),
        })
    }

    /// A gzip encoder: one member with `header`'s name and time.
    pub(super) fn gzip(header: GzipHeader, w: W) -> io::Result<Encoder<W>> {
        let mut w = w;
        let codec = Gzip::start(header, &mut w)?;
        Ok(Encoder::Gzip(Chunked::new(codec, w, workers())))
    }

    /// Ends the stream; gives back the writer.
    pub(super) fn finish(self) -> io::Result<W> {
        match self {
            Encoder::Gzip(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
            Encoder::Xz(e) => e.finish(),
            Encoder::Bzip2(e) => e.finish(),
            Encoder::Lz4(e) => e.finish().map_err(io::Error::other),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
            Encoder::Xz(e) => e.write(buf),
            Encoder::Bzip2(e) => e.write(buf),
            Encoder::Lz4(e) => e.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
            Encoder::Xz(e) => e.flush(),
            Encoder::Bzip2(e) => e.flush(),
            Encoder::Lz4(e) => e.flush(),
        }
    }
}

/// A format whose stream can be compressed in independent chunks and put
/// back together as one stream.
pub(super) trait ChunkCodec: Send {
    /// Input bytes per chunk.
    const CHUNK: usize;
    /// How much of the input before a chunk primes its compression.
    const WINDOW: usize;
    /// Compresses one chunk, primed with `dict`; `last`: it ends the input.
    fn compress(dict: &[u8], data: &[u8], last: bool) -> io::Result<Vec<u8>>;
    /// Takes the next compressed chunk, with the input it holds, in order.
    fn append(&mut self, data: &[u8], piece: Vec<u8>, w: &mut dyn Write) -> io::Result<()>;
    /// Ends the stream after the last chunk.
    fn end(self, w: &mut dyn Write) -> io::Result<()>;
}

/// One stream compressed in chunks on several workers (see the module
/// header).
pub(super) struct Chunked<W: Write, C: ChunkCodec> {
    w: W,
    codec: C,
    /// Input not yet compressed.
    pending: Vec<u8>,
    /// The last `C::WINDOW` bytes of input before `pending`.
    window: Vec<u8>,
    /// Chunks compressed at once.
    batch: usize,
}

impl<W: Write, C: ChunkCodec> Chunked<W, C> {
    pub(super) fn new(codec: C, w: W, workers: usize) -> Chunked<W, C> {
        Chunked {
            w,
            codec,
            pending: Vec::new(),
            window: Vec::new(),
            batch: workers.max(1),
        }
    }

    /// Compresses the first `n` pending bytes, in chunks on the pool, and
    /// hands them to the codec in order; `last`: they end the stream.
    fn compress_pending(&mut self, n: usize, last: bool) -> io::Result<()> {
        let data = &self.pending[..n];
        let mut chunks: Vec<&[u8]> = data.chunks(C::CHUNK).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        let count = chunks.len();
        let window = &self.window;
        let out: Vec<io::Result<Vec<u8>>> = chunks
            .par_iter()
            .enumerate()
            .map(|(i, chunk)| {
                let dict = if i == 0 {
                    &window[..]
                } else {
                    let before = chunks[i - 1];
                    &before[before.len().saturating_sub(C::WINDOW)..]
                };
                C::compress(dict, chunk, last && i + 1 == count)
            })
            .collect();
        for (chunk, piece) in chunks.iter().zip(out) {
            self.codec.append(chunk, piece?, &mut self.w)?;
        }
        // The window for what follows: the end of all input so far.
        self.window
            .extend_from_slice(&data[n.saturating_sub(C::WINDOW)..]);
        let excess = self.window.len().saturating_sub(C::WINDOW);
        self.window.drain(..excess);
        self.pending.drain(..n);
        Ok(())
    }

    pub(super) fn finish(mut self) -> io::Result<W> {
        self.compress_pending(self.pending.len(), true)?;
        self.codec.end(&mut self.w)?;
        Ok(self.w)
    }
}

impl<W: Write, C: ChunkCodec> Write for Chunked<W, C> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        // A full batch is compressed once more input follows it: the
        // chunk that ends the stream is only known at `finish`.
        let full = self.batch * C::CHUNK;
        while self.pending.len() > full {
            self.compress_pending(full, false)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// A gzip member of chunks deflated apart: header first, then the
/// chunks, then the CRC-32 and length of the whole.
pub(super) struct Gzip {
    crc: Crc,
}

impl Gzip {
    /// Writes the member's header; the codec for what follows.
    fn start(header: GzipHeader, w: &mut dyn Write) -> io::Result<Gzip> {
        // ID1 ID2 CM FLG MTIME XFL OS: deflate, no extra flags, OS unknown
        // (255), as flate2's GzBuilder writes it.
        let flags = if header.name.is_some() { 0x08 } else { 0 };
        let mut head = vec![0x1f, 0x8b, 8, flags];
        head.extend_from_slice(&header.mtime.to_le_bytes());
        head.extend_from_slice(&[0, 255]);
        if let Some(name) = header.name {
            // A name ends at its first NUL byte, as gzip reads it.
            head.extend(name.into_iter().take_while(|b| *b != 0));
            head.push(0);
        }
        w.write_all(&head)?;
        Ok(Gzip { crc: Crc::new() })
    }
}

impl ChunkCodec for Gzip {
    const CHUNK: usize = 1 << 20;
    const WINDOW: usize = 32 * 1024;

    /// Raw deflate primed with `dict`; ends with a sync flush (an empty
    /// stored block: the next chunk starts on a byte), or the stream's end.
    fn compress(dict: &[u8], data: &[u8], last: bool) -> io::Result<Vec<u8>> {
        let mut c = Compress::new(Compression::new(6), false);
        if !dict.is_empty() {
            c.set_dictionary(dict).map_err(io::Error::other)?;
        }
        let flush = if last {
            FlushCompress::Finish
        } else {
            FlushCompress::Sync
        };
        let mut out = Vec::with_capacity(data.len() / 2 + 1024);
        loop {
            if out.len() == out.capacity() {
                out.reserve(out.capacity().max(4096));
            }
            let consumed = c.total_in() as usize;
            let status = c
                .compress_vec(&data[consumed..], &mut out, flush)
                .map_err(io::Error::other)?;
            if status == Status::StreamEnd {
                break;
            }
            // A sync flush is complete once all input is taken and the
            // output was not filled (zlib's rule).
            if !last && c.total_in() as usize == data.len() && out.len() < out.capacity() {
                break;
            }
        }
        Ok(out)
    }

    fn append(&mut self, data: &[u8], piece: Vec<u8>, w: &mut dyn Write) -> io::Result<()> {
        self.crc.update(data);
        w.write_all(&piece)
    }

    fn end(self, w: &mut dyn Write) -> io::Result<()> {
        w.write_all(&self.crc.sum().to_le_bytes())?;
        w.write_all(&self.crc.amount().to_le_bytes())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    /// Log-like input with long-range repeats, so that matches reach back
    /// over chunk boundaries.
    fn input(len: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(len);
        let mut i = 0u64;
        while v.len() < len {
            i = i
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            v.extend_from_slice(
                format!("{} GET /api/orders/{} 200\n", v.len() % 977, i >> 50).as_bytes(),
            );
        }
        v.truncate(len);
        v
    }

    fn encode(data: &[u8], workers: usize, writes: usize) -> Vec<u8> {
        let header = GzipHeader {
            name: Some(b"app.log".to_vec()),
            mtime: 1_700_000_000,
        };
        let mut w = Vec::new();
        let codec = Gzip::start(header, &mut w).unwrap();
        let mut e = Chunked::new(codec, w, workers);
        for piece in data.chunks(writes.max(1)) {
            e.write_all(piece).unwrap();
        }
        e.finish().unwrap()
    }

    #[test]
    fn chunked_gzip_decodes_to_its_input_at_every_size_and_worker_count() {
        for len in [
            0,
            1,
            Gzip::WINDOW,
            Gzip::CHUNK - 1,
            Gzip::CHUNK,
            3 * Gzip::CHUNK + 17,
        ] {
            let data = input(len);
            for workers in [1, 2, 3] {
                let gz = encode(&data, workers, 100_003);
                assert_eq!(gunzip(&gz), data, "len {len}, {workers} workers");
            }
        }
    }

    /// The gzip codec with chunks small enough that a few KB of input
    /// makes many of them (each chunk's dictionary then holds only the
    /// chunk before it, which is shorter than the window).
    struct SmallChunks(Gzip);

    impl ChunkCodec for SmallChunks {
        const CHUNK: usize = 700;
        const WINDOW: usize = Gzip::WINDOW;
        fn compress(dict: &[u8], data: &[u8], last: bool) -> io::Result<Vec<u8>> {
            Gzip::compress(dict, data, last)
        }
        fn append(&mut self, data: &[u8], piece: Vec<u8>, w: &mut dyn Write) -> io::Result<()> {
            self.0.append(data, piece, w)
        }
        fn end(self, w: &mut dyn Write) -> io::Result<()> {
            self.0.end(w)
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        /// Any input, written in pieces of any size, on any number of
        /// workers, decodes (as one member) to itself.
        #[test]
        fn small_chunks_written_in_any_pieces_decode_to_the_input(
            parts in proptest::collection::vec(
                (proptest::prelude::any::<u8>(), 0usize..400, proptest::prelude::any::<bool>()),
                0..40,
            ),
            writes in 1usize..3000,
            workers in 1usize..5,
        ) {
            // Runs of repeated text and of noise, so that both matches and
            // literals cross chunk boundaries.
            let mut data = Vec::new();
            for (seed, len, noise) in parts {
                let mut x = u32::from(seed) | 1;
                for i in 0..len {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    data.push(if noise { x as u8 } else { b"card=4111 "[(i + seed as usize) % 10] });
                }
            }
            let mut w = Vec::new();
            let codec = SmallChunks(Gzip::start(GzipHeader { name: None, mtime: 0 }, &mut w).unwrap());
            let mut e = Chunked::new(codec, w, workers);
            for piece in data.chunks(writes) {
                e.write_all(piece).unwrap();
            }
            let gz = e.finish().unwrap();
            proptest::prop_assert_eq!(gunzip(&gz), data);
        }
    }

    #[test]
    fn chunked_gzip_keeps_name_and_time_and_compresses_as_one_stream_would() {
        let data = input(5 * Gzip::CHUNK);
        let gz = encode(&data, 2, 65_536);
        let d = flate2::read::GzDecoder::new(&gz[..]);
        let h = d.header().unwrap();
        assert_eq!(h.filename(), Some(&b"app.log"[..]));
        assert_eq!(h.mtime(), 1_700_000_000);
        let mut whole = flate2::write::GzEncoder::new(Vec::new(), Compression::new(6));
        whole.write_all(&data).unwrap();
        let whole = whole.finish().unwrap();
        // The dictionary keeps matches across chunks: within 1% of one
        // stream deflated on one thread.
        assert!(
            gz.len() as f64 <= whole.len() as f64 * 1.01,
            "{} vs {}",
            gz.len(),
            whole.len()
        );
    }
}
