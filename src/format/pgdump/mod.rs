//! `pg_dump -Fc` (custom format) archives, the usual output of a database
//! refresh: scanned table by table, findings located by table, row and
//! column; scrubbed by rewriting only the data blocks that hold masked
//! digits and the TOC offsets that point at the blocks after them.
//!
//! - **Scan** reads the TOC (`archive.rs`), then each data block in file
//!   order: its chunks decoded (zlib, or stored) and scanned through the
//!   COPY view (`copy.rs`). A finding's member is the table
//!   (`public.payments`), its row the COPY line, its field the column named
//!   by the COPY statement. A PAN in an integer or numeric column is masked
//!   as a number, so the restore can load it. Large objects are scanned
//!   and report-only.
//! - **Rebuild** copies the header and TOC byte for byte, copies every
//!   block without masked findings, and re-encodes the others (decoded,
//!   masked after checking each digit, zlib-compressed again at the default
//!   level, cut into chunks); then it writes the new block positions into
//!   the TOC's offset fields, which have a fixed width.
//! - **Verify** reads the rebuilt archive back: header and TOC identical
//!   but for those offsets, each offset pointing at its own block, every
//!   block decoding to the original with exactly the masks applied, and a
//!   new scan finding only what was meant to stay.
//!
//! Archives compressed with lz4 or zstd (PostgreSQL 16 and later) and the
//! tar and directory formats are not read here (see `format::undecodable`).

mod archive;
mod copy;
mod verify;

pub use verify::verify;

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, Write};
use std::os::unix::fs::FileExt;

use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;

use self::archive::{Archive, Chunks, Compression, Reader, BLOCK_BLOBS, BLOCK_DATA, OFFSET_SET};
use super::budget::{BudgetExceeded, Meter};
use super::container::{compare_streams, mask_copy, Cx, Feed, Hop, Masker, MemberFinding, Sink};
use super::text::RangeReader;
use super::Format;
use crate::detect::StreamScanner;
use crate::error::InputError;
use crate::location::{CsvCell, Hit, Location, MaskedAs};
use crate::manifest::mask_text;

const BLOCK: usize = 256 * 1024;

/// Large objects are scanned but not rewritten.
const LARGE_OBJECT: &str = "large object in a pg_dump archive: report-only";

/// Whether `head` starts a custom-format archive this module reads:
/// versions 1.12 to 1.16, zlib or no compression.
pub fn readable(head: &[u8]) -> bool {
    head.len() >= 12
        && head.starts_with(b"PGDMP")
        && head[5] == 1
        && (12..=16).contains(&head[6])
        && head[10] == 1
        && (head[6] < 15 || head[11] <= 1)
}

/// Why a file that starts like a `pg_dump` archive is not read here, if
/// it is not: skipped with this reason (exit 2), never called clean.
pub fn not_readable(head: &[u8]) -> Option<&'static str> {
    if !head.starts_with(b"PGDMP") || readable(head) {
        return None;
    }
    Some(match head.get(11) {
        _ if head.get(10).is_some_and(|&f| f != 1) => {
            "pg_dump archive in a format other than custom: not decoded"
        }
        Some(2) if head.get(6).is_some_and(|&v| v >= 15) => {
            "pg_dump archive with lz4-compressed data: not decoded"
        }
        Some(3) if head.get(6).is_some_and(|&v| v >= 15) => {
            "pg_dump archive with zstd-compressed data: not decoded"
        }
        _ => "pg_dump archive of an unsupported version: not decoded",
    })
}

fn budget_or_corrupt(e: io::Error) -> InputError {
    match e.get_ref().and_then(|x| x.downcast_ref::<BudgetExceeded>()) {
        Some(b) => InputError::Budget(b.0.clone()),
        None => corrupt(e),
    }
}

fn corrupt(e: io::Error) -> InputError {
    match e.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
            let why = e.to_string();
            InputError::Corrupt(if why.contains("pg_dump") {
                why
            } else {
                format!("pg_dump archive: {why}")
            })
        }
        _ => InputError::io("read")(e),
    }
}

/// The decoded bytes of one data stream.
fn decoded<'a, R: Read + 'a>(
    chunks: R,
    compression: Compression,
) -> Result<Box<dyn Read + 'a>, InputError> {
    match compression {
        Compression::None => Ok(Box::new(chunks)),
        Compression::Zlib => Ok(Box::new(ZlibDecoder::new(chunks))),
        Compression::Other(name) => Err(InputError::Corrupt(format!(
            "pg_dump archive compressed with {name}: not decoded"
        ))),
    }
}

/// A data block as read: where it starts, its type and whose it is.
struct Block {
    start: u64,
    kind: u8,
    dump_id: i64,
}

/// Called per data stream: block index, block, large object OID (for a
/// large object) and the decoded bytes.
type StreamVisitor<'v> =
    dyn FnMut(usize, &Block, Option<i64>, &mut dyn Read) -> Result<(), InputError> + 'v;

/// The data blocks, read for their boundaries only (chunks skipped, not
/// decoded).
fn blocks(file: &File, ar: &Archive) -> Result<Vec<Block>, InputError> {
    walk_blocks(file, ar, None)
}

/// Reads the blocks after the TOC in file order, handing each data stream
/// (a table's data, or one large object) to `each` with its block index
/// and the large object's OID.
fn for_each_stream(
    file: &File,
    ar: &Archive,
    each: &mut StreamVisitor,
) -> Result<Vec<Block>, InputError> {
    walk_blocks(file, ar, Some(each))
}

fn walk_blocks(
    file: &File,
    ar: &Archive,
    mut each: Option<&mut StreamVisitor>,
) -> Result<Vec<Block>, InputError> {
    let f = RangeReader::new(file, ar.data_start, u64::MAX);
    let mut r = Reader::new(
        BufReader::with_capacity(BLOCK, f),
        ar.data_start,
        ar.int_size,
    );
    let mut blocks = Vec::new();
    loop {
        let start = r.pos;
        let Some(kind) = r.byte_or_end().map_err(corrupt)? else {
            break;
        };
        let dump_id = r.int().map_err(corrupt)?;
        let block = Block {
            start,
            kind,
            dump_id,
        };
        let index = blocks.len();
        match kind {
            BLOCK_DATA => stream(&mut r, ar, &mut each, (index, &block, None))?,
            BLOCK_BLOBS => loop {
                let oid = r.int().map_err(corrupt)?;
                if oid == 0 {
                    break;
                }
                stream(&mut r, ar, &mut each, (index, &block, Some(oid)))?;
            },
            other => {
                return Err(InputError::Corrupt(format!(
                    "pg_dump archive: unknown block type {other}"
                )))
            }
        }
        blocks.push(block);
    }
    Ok(blocks)
}

/// One chunked stream: decoded for `each` when there is one (else its
/// chunks are only skipped), then read to its end marker.
fn stream<R: Read>(
    r: &mut Reader<R>,
    ar: &Archive,
    each: &mut Option<&mut StreamVisitor>,
    (index, block, oid): (usize, &Block, Option<i64>),
) -> Result<(), InputError> {
    let mut chunks = Chunks::new(r);
    if let Some(each) = each {
        let mut dec = decoded(&mut chunks, ar.compression)?;
        each(index, block, oid, &mut dec)?;
        io::copy(&mut dec, &mut io::sink()).map_err(corrupt)?;
    }
    // The zlib stream may end before the chunks' end marker.
    chunks.finish().map_err(corrupt)
}

/// Per dump id, the table data entry and whether each column is numeric.
struct Tables<'a> {
    by_id: HashMap<i64, (&'a archive::Entry, Vec<String>, Vec<bool>)>,
}

impl<'a> Tables<'a> {
    fn new(ar: &'a Archive) -> Self {
        let creates: HashMap<(Option<&str>, &str), &str> = ar
            .entries
            .iter()
            .filter_map(|e| Some(((e.namespace.as_deref(), e.tag.as_str()), e.defn.as_deref()?)))
            .collect();
        let by_id = ar
            .entries
            .iter()
            .map(|e| {
                let columns = e.columns();
                let numeric = creates
                    .get(&(e.namespace.as_deref(), e.tag.as_str()))
                    .map(|c| copy::numeric_columns(c, &columns))
                    .unwrap_or_else(|| vec![false; columns.len()]);
                (e.dump_id, (e, columns, numeric))
            })
            .collect();
        Tables { by_id }
    }
}

/// Scans every table's data and every large object, the decoded bytes
/// counted against the decompression budget (`meter`). Findings go to
/// `out` a table block at a time, located (row, column) from a second
/// reading of that block: one block's findings are held, never the
/// archive's. All reads are positioned, so a rebuild may read the same
/// open file at the same time.
pub fn scan(cx: &Cx, meter: &Meter, file: &File, out: &mut Sink) -> Result<(), InputError> {
    let ar = read_toc(file)?;
    let size = file.metadata().map_err(InputError::io("stat"))?.len();
    let tables = Tables::new(&ar);
    let blocks = for_each_stream(file, &ar, &mut |index, block, oid, data| {
        let mut sc = StreamScanner::new(cx.det).track_lines();
        let mut found = Vec::new();
        let mut view = copy::CopyView::new(meter.limit(data, size.max(1)));
        sc.read_from(&mut view, &mut |f| found.push(f))
            .map_err(budget_or_corrupt)?;
        if found.is_empty() {
            return Ok(());
        }
        let entry = tables.by_id.get(&block.dump_id);
        let member = match (oid, entry) {
            (Some(oid), _) => format!("large object {oid}"),
            (None, Some((e, _, _))) => mask_text(&e.table_name(), cx.det, cx.policy),
            (None, None) => format!("data block {}", block.dump_id),
        };
        let mut found: Vec<MemberFinding> = found
            .into_iter()
            .map(|f| {
                let line = f.lines.newlines_before + 1;
                let column = f.offset - f.lines.line_start.unwrap_or(0) + 1;
                MemberFinding {
                    route: vec![Hop {
                        index,
                        format: Format::PgDump,
                    }],
                    hit: Hit {
                        at: Location {
                            member: Some(member.clone()),
                            offset: f.offset,
                            line: Some(line),
                            column: Some(column),
                            ..Location::default()
                        },
                        finding: f,
                        masked_as: MaskedAs::Text,
                        report_only: oid.map(|_| LARGE_OBJECT),
                        encoded: None,
                    },
                }
            })
            .collect();
        if oid.is_none() {
            locate(cx, file, &ar, &tables, block, &mut found)?;
        }
        found.into_iter().try_for_each(&mut *out)
    })?;
    // A block the TOC points at but the file lacks: cut short, not clean.
    let starts: std::collections::HashSet<u64> = blocks.iter().map(|b| b.start).collect();
    if ar
        .entries
        .iter()
        .any(|e| e.offset_flag == OFFSET_SET && !starts.contains(&e.data_pos))
    {
        return Err(InputError::Corrupt(
            "pg_dump archive: a data block named in the table of contents is missing (truncated?)"
                .into(),
        ));
    }
    Ok(())
}

/// Adds row, column name and the masking form to the findings of one table
/// block, reading the block a second time.
fn locate(
    cx: &Cx,
    file: &File,
    ar: &Archive,
    tables: &Tables,
    block: &Block,
    found: &mut [MemberFinding],
) -> Result<(), InputError> {
    let Some((_, columns, numeric)) = tables.by_id.get(&block.dump_id) else {
        return Ok(());
    };
    let offsets: Vec<u64> = found.iter().map(|m| m.hit.finding.offset).collect();
    let mut r = data_reader(file, ar, block)?;
    let mut data = decoded(Chunks::new(&mut r), ar.compression)?;
    let fields = copy::field_indexes(&mut data, &offsets).map_err(corrupt)?;
    for (m, field) in found.iter_mut().zip(fields) {
        let hit = &mut m.hit;
        if numeric.get(field).copied().unwrap_or(false) {
            hit.masked_as = MaskedAs::Number;
        }
        hit.at.csv = Some(Box::new(CsvCell {
            row: hit.at.line.unwrap_or(0),
            field: mask_text(
                columns.get(field).map(String::as_str).unwrap_or(""),
                cx.det,
                cx.policy,
            ),
            record_id: None,
            object: None,
        }));
    }
    Ok(())
}

fn read_toc(file: &File) -> Result<Archive, InputError> {
    let f = RangeReader::new(file, 0, u64::MAX);
    archive::read_archive(BufReader::with_capacity(BLOCK, f)).map_err(corrupt)
}

/// Writes the chunks of one re-encoded stream: a length and the bytes per
/// write, then the zero length that ends it.
struct ChunkWriter<'w, W: Write> {
    out: &'w mut W,
    int_size: usize,
    written: u64,
}

impl<W: Write> Write for ChunkWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut head = Vec::new();
        archive::put_int(&mut head, buf.len() as i64, self.int_size);
        self.out.write_all(&head)?;
        self.out.write_all(buf)?;
        self.written += (head.len() + buf.len()) as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Copies `len` bytes of `from` at `at` to `to`.
fn copy_range(from: &File, at: u64, len: u64, to: &mut dyn Write) -> Result<(), InputError> {
    let mut buf = vec![0u8; BLOCK];
    let mut done = 0u64;
    while done < len {
        let want = (len - done).min(BLOCK as u64) as usize;
        let n = from
            .read_at(&mut buf[..want], at + done)
            .map_err(InputError::io("read"))?;
        if n == 0 {
            return Err(InputError::Corrupt("pg_dump archive: truncated".into()));
        }
        to.write_all(&buf[..n]).map_err(InputError::io("write"))?;
        done += n as u64;
    }
    Ok(())
}

/// Writes the archive with the feed's findings to mask masked into `out`.
pub fn rebuild(cx: &Cx, file: &File, feed: &mut Feed, out: &mut File) -> Result<(), InputError> {
    let ar = read_toc(file)?;
    let size = file.metadata().map_err(InputError::io("stat"))?.len();
    // The block boundaries, from one pass that only reads.
    let blocks = blocks(file, &ar)?;
    out.rewind().map_err(InputError::io("seek"))?;
    let mut w = io::BufWriter::with_capacity(BLOCK, &mut *out);
    copy_range(file, 0, ar.data_start, &mut w)?;
    let mut moved: HashMap<u64, u64> = HashMap::new();
    let mut at = ar.data_start;
    for (index, block) in blocks.iter().enumerate() {
        let end = blocks.get(index + 1).map_or(size, |b| b.start);
        moved.insert(block.start, at);
        if !feed.has_in_member(&[], index)? {
            copy_range(file, block.start, end - block.start, &mut w)?;
            at += end - block.start;
            continue;
        }
        if block.kind != BLOCK_DATA {
            return Err(InputError::Corrupt(
                "pg_dump archive: masks asked for outside table data".into(),
            ));
        }
        let mut head = vec![BLOCK_DATA];
        archive::put_int(&mut head, block.dump_id, ar.int_size);
        w.write_all(&head).map_err(InputError::io("write"))?;
        let mut chunks = ChunkWriter {
            out: &mut w,
            int_size: ar.int_size,
            written: 0,
        };
        let mut masker = Masker::new(cx.policy, feed, &[index]);
        let mut r = data_reader(file, &ar, block)?;
        let mut dec = decoded(Chunks::new(&mut r), ar.compression)?;
        match ar.compression {
            Compression::Zlib => {
                let mut enc = ZlibEncoder::new(&mut chunks, flate2::Compression::default());
                mask_copy(&mut dec, &mut enc, &mut masker)?;
                enc.finish().map_err(InputError::io("write"))?;
            }
            _ => mask_copy(&mut dec, &mut chunks, &mut masker)?,
        }
        let written = chunks.written;
        let mut end_marker = Vec::new();
        archive::put_int(&mut end_marker, 0, ar.int_size);
        w.write_all(&end_marker).map_err(InputError::io("write"))?;
        at += (head.len() + end_marker.len()) as u64 + written;
    }
    feed.finish()?;
    w.flush().map_err(InputError::io("write"))?;
    drop(w);
    // The TOC's offsets, fixed width, now name where each block went.
    for e in &ar.entries {
        if e.offset_flag != OFFSET_SET {
            continue;
        }
        let Some(&to) = moved.get(&e.data_pos) else {
            return Err(InputError::Corrupt(
                "pg_dump archive: a TOC offset points at no data block".into(),
            ));
        };
        out.write_all_at(&archive::offset_bytes(to, ar.off_size), e.offset_at + 1)
            .map_err(InputError::io("write"))?;
    }
    Ok(())
}

/// A reader at the first chunk of a table data block.
fn data_reader<'f>(
    file: &'f File,
    ar: &Archive,
    block: &Block,
) -> Result<Reader<BufReader<RangeReader<'f>>>, InputError> {
    let first_chunk = block.start + 2 + ar.int_size as u64;
    let f = RangeReader::new(file, first_chunk, u64::MAX);
    Ok(Reader::new(
        BufReader::with_capacity(BLOCK, f),
        first_chunk,
        ar.int_size,
    ))
}
