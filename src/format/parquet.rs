//! Parquet: every cell that can hold a card number goes through the
//! detector, and scrub rebuilds the file with the same schema, row groups,
//! codecs and key-value metadata.
//!
//! Cells scanned: strings and binaries (plain, large, view, dictionary
//! encoded, at any depth inside structs, lists and maps), and integers and
//! decimals whose value is a 13–19 digit number. A PAN in a string cell is
//! masked with the mask byte (same length); an integer PAN becomes null when
//! its field is nullable, else the digit-masked number of
//! [`MaskPolicy::mask_numeric`] (zeros, check digit broken).
//!
//! Findings carry the column as a dotted path of field names (list and map
//! entry names left out: `customer.cards`, `attrs.value`) and the 0-based
//! row of the file; `offset`, `line` and `column` are inside the cell.
//!
//! The rebuild never copies a page: every value is re-encoded, so page
//! statistics, column indexes, bloom filters and dictionaries are computed
//! from masked values and cannot keep a PAN. Verification decodes the new
//! file beside the original and checks that every batch equals the masked
//! original, then scans the new file's raw bytes for anything left.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

use arrow_array::cast::AsArray;
use arrow_array::types::ByteArrayType;
use arrow_array::types::{
    Decimal128Type, Decimal256Type, Decimal64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, FixedSizeListArray, GenericByteArray, GenericListArray,
    MapArray, OffsetSizeTrait, PrimitiveArray, RecordBatch, StructArray,
};
use arrow_buffer::{i256, ArrowNativeType, BooleanBufferBuilder, Buffer, NullBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, FieldRef};
use bytes::Bytes;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::arrow::ArrowWriter;
use parquet::basic::Encoding;
use parquet::errors::ParquetError;
use parquet::file::metadata::{KeyValue, ParquetMetaData};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::reader::{ChunkReader, Length};
use rayon::prelude::*;

use crate::detect::cvv::is_code_column;
use crate::detect::{Detector, Finding};
use crate::error::InputError;
use crate::format::budget::{Meter, RATIO_FLOOR};
use crate::format::text::Located;
use crate::location::{ColumnCell, Hit, Location};
use crate::mask::{MaskPolicy, Masked};
use crate::panics::contained;
use crate::policy::InputPolicy;

/// Rows per decoded batch: large enough to amortise per-batch work, small
/// enough that a batch of long strings stays a few MiB.
const BATCH_ROWS: usize = 8192;
/// Shortest value that can hold a finding: a keyword and its code
/// (`cvv=123` and shorter forms), under the 13 digits of a PAN.
const MIN_FINDING: usize = 6;
/// The key under which Arrow writers store the Arrow schema.
const ARROW_SCHEMA_KEY: &str = "ARROW:schema";

pub use crate::location::MaskedAs;

/// One PAN in one cell.
#[derive(Clone, Debug)]
pub struct CellFinding {
    /// Dotted field path (`customer.cards`).
    pub column: String,
    /// 0-based row in the file.
    pub row: u64,
    /// The finding; offsets, line and column inside the cell.
    pub located: Located,
    /// What a scrub does (or did) to it.
    pub masked_as: MaskedAs,
    /// Leaf order in the schema, for a stable row-then-column order.
    leaf: usize,
}

impl CellFinding {
    /// The finding as the run sees it: column path (masked) and row.
    pub fn into_hit(self, det: &Detector, policy: &MaskPolicy) -> Hit {
        Hit {
            finding: self.located.finding,
            at: Location {
                offset: self.located.finding.offset,
                cell: Some(ColumnCell {
                    column_path: crate::manifest::mask_text(&self.column, det, policy),
                    row: self.row,
                }),
                ..Location::default()
            },
            masked_as: self.masked_as,
            report_only: false,
            report_only_why: None,
        }
    }
}

/// What scanning and rebuilding need from the run.
pub struct Cx<'a> {
    /// The detector.
    pub det: &'a Detector,
    /// Masking policy.
    pub policy: &'a MaskPolicy,
    /// What is left alone on purpose (the run's one policy).
    pub allow: InputPolicy<'a>,
}

impl Cx<'_> {
    /// Whether a finding in `column` is left alone on purpose.
    fn allows(&self, column: &str, f: &Finding) -> bool {
        self.allow.allows_in(f, Some(column))
    }
}

/// Reads a file with positioned reads, so row groups can be decoded on
/// several threads at once (parquet's own `File` reader shares one cursor).
#[derive(Clone)]
struct Pread {
    file: Arc<File>,
    /// The size when opened: the footer and every range are read against
    /// it (asked for often; no `fstat` each time).
    len: u64,
}

impl Length for Pread {
    fn len(&self) -> u64 {
        self.len
    }
}

/// A reader from one position on, with positioned reads.
struct PreadFrom {
    file: Arc<File>,
    pos: u64,
}

impl io::Read for PreadFrom {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl ChunkReader for Pread {
    type T = io::BufReader<PreadFrom>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        Ok(io::BufReader::with_capacity(
            64 * 1024,
            PreadFrom {
                file: self.file.clone(),
                pos: start,
            },
        ))
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        let mut buf = vec![0u8; length];
        self.file
            .read_exact_at(&mut buf, start)
            .map_err(|e| ParquetError::External(Box::new(e)))?;
        Ok(Bytes::from(buf))
    }
}

fn corrupt(e: ParquetError) -> InputError {
    match e {
        ParquetError::External(inner) => match inner.downcast::<io::Error>() {
            Ok(io) if io.kind() != io::ErrorKind::UnexpectedEof => InputError::io("read")(*io),
            Ok(io) => InputError::Corrupt(format!("parquet: {io}")),
            Err(other) => InputError::Corrupt(format!("parquet: {other}")),
        },
        other => InputError::Corrupt(format!("parquet: {other}")),
    }
}

fn arrow_corrupt(e: ArrowError) -> InputError {
    InputError::Corrupt(format!("parquet: {e}"))
}

/// Opens the footer and checks the decoding budget against the sizes it
/// declares (a bomb is refused before any page is decoded).
fn open(file: &File, meter: &Meter) -> Result<(Pread, ArrowReaderMetadata), InputError> {
    let len = file.metadata().map_err(InputError::io("stat"))?.len();
    let reader = Pread {
        file: Arc::new(file.try_clone().map_err(InputError::io("open"))?),
        len,
    };
    let meta = ArrowReaderMetadata::load(&reader, ArrowReaderOptions::new()).map_err(corrupt)?;
    let expanded: u64 = meta
        .metadata()
        .row_groups()
        .iter()
        .map(|g| g.total_byte_size().max(0) as u64)
        .sum();
    let budget = meter.budget();
    if expanded > budget.max_expanded {
        return Err(InputError::Budget(format!(
            "row groups declare {expanded} decoded bytes, over the limit of {}",
            budget.max_expanded
        )));
    }
    let ratio_limit = reader
        .len()
        .saturating_mul(budget.max_ratio)
        .max(RATIO_FLOOR);
    if expanded > ratio_limit {
        return Err(InputError::Budget(format!(
            "row groups declare {expanded} decoded bytes for a {}-byte file, over the ratio limit of {}",
            reader.len(),
            budget.max_ratio
        )));
    }
    Ok((reader, meta))
}

/// The first row of each row group.
fn first_rows(meta: &ParquetMetaData) -> Vec<u64> {
    let mut next = 0u64;
    meta.row_groups()
        .iter()
        .map(|g| {
            let first = next;
            next += g.num_rows().max(0) as u64;
            first
        })
        .collect()
}

/// Decodes row group `g` batch by batch.
fn group_batches(
    reader: &Pread,
    meta: &ArrowReaderMetadata,
    g: usize,
) -> Result<impl Iterator<Item = Result<RecordBatch, ArrowError>>, InputError> {
    ParquetRecordBatchReaderBuilder::new_with_metadata(reader.clone(), meta.clone())
        .with_row_groups(vec![g])
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(corrupt)
}

/// Every PAN in the file, row group by row group (in parallel), in row
/// then column order.
pub fn scan(cx: &Cx, meter: &Meter, file: &File) -> Result<Vec<CellFinding>, InputError> {
    let (reader, meta) = contained("parquet", || open(file, meter))?;
    let firsts = first_rows(meta.metadata());
    let groups: Vec<Vec<CellFinding>> = (0..firsts.len())
        .into_par_iter()
        .map(|g| {
            contained("parquet", || {
                let mut found = Vec::new();
                let mut row = firsts[g];
                for batch in group_batches(&reader, &meta, g)? {
                    let batch = batch.map_err(arrow_corrupt)?;
                    let mut v = Visit::new(cx, false);
                    visit_batch(&mut v, &batch, row).map_err(arrow_corrupt)?;
                    found.append(&mut v.sorted());
                    row += batch.num_rows() as u64;
                }
                Ok(found)
            })
        })
        .collect::<Result<_, InputError>>()?;
    Ok(groups.into_iter().flatten().collect())
}

/// Writes the masked file into `out`: same Arrow schema (field metadata
/// included), same row-group boundaries, the codec, dictionary choice and
/// statistics level of each column chunk, key-value metadata kept (any PAN
/// in it masked). Returns nothing: [`verify`] is what proves the result.
pub fn rebuild(cx: &Cx, meter: &Meter, file: &File, out: &mut File) -> Result<(), InputError> {
    contained("parquet", || rebuild_inner(cx, meter, file, out))
}

fn rebuild_inner(cx: &Cx, meter: &Meter, file: &File, out: &mut File) -> Result<(), InputError> {
    let (reader, meta) = open(file, meter)?;
    let pq = meta.metadata();
    let had_arrow_schema = key_values(pq).iter().any(|kv| kv.key == ARROW_SCHEMA_KEY);
    let props = writer_properties(cx, pq);
    let options = ArrowWriterOptions::new()
        .with_properties(props)
        .with_skip_arrow_metadata(!had_arrow_schema);
    let mut writer = ArrowWriter::try_new_with_options(&mut *out, meta.schema().clone(), options)
        .map_err(corrupt)?;
    let firsts = first_rows(pq);
    for (g, first) in firsts.iter().enumerate() {
        let mut row = *first;
        for batch in group_batches(&reader, &meta, g)? {
            let batch = batch.map_err(arrow_corrupt)?;
            let masked = mask_batch(cx, &batch, row)?;
            writer.write(&masked).map_err(corrupt)?;
            row += batch.num_rows() as u64;
        }
        // One output row group per input row group, even an empty one.
        writer.flush().map_err(corrupt)?;
    }
    writer.close().map_err(corrupt)?;
    Ok(())
}

/// `batch` with every PAN that is not allowed masked.
fn mask_batch(cx: &Cx, batch: &RecordBatch, first_row: u64) -> Result<RecordBatch, InputError> {
    let mut v = Visit::new(cx, true);
    Ok(visit_batch(&mut v, batch, first_row)
        .map_err(arrow_corrupt)?
        .unwrap_or_else(|| batch.clone()))
}

fn key_values(pq: &ParquetMetaData) -> Vec<KeyValue> {
    pq.file_metadata()
        .key_value_metadata()
        .cloned()
        .unwrap_or_default()
}

/// Writer settings that reproduce the original column chunks' choices.
fn writer_properties(cx: &Cx, pq: &ParquetMetaData) -> WriterProperties {
    let mut b = WriterProperties::builder()
        // Row groups end where the input's ended (`flush`), never earlier.
        .set_max_row_group_row_count(None)
        .set_max_row_group_bytes(None);
    // Key-value metadata kept, but a PAN in a value is masked like text;
    // the Arrow schema entry is regenerated by the writer.
    let kvs: Vec<KeyValue> = key_values(pq)
        .into_iter()
        .filter(|kv| kv.key != ARROW_SCHEMA_KEY)
        .map(|kv| KeyValue {
            key: crate::manifest::mask_text(&kv.key, cx.det, cx.policy),
            value: kv
                .value
                .map(|v| crate::manifest::mask_text(&v, cx.det, cx.policy)),
        })
        .collect();
    if !kvs.is_empty() {
        b = b.set_key_value_metadata(Some(kvs));
    }
    if let Some(g) = pq.row_groups().first() {
        if let Some(sorting) = g.sorting_columns() {
            b = b.set_sorting_columns(Some(sorting.clone()));
        }
        for c in g.columns() {
            let path = c.column_path().clone();
            let dictionary = c
                .encodings()
                .any(|e| matches!(e, Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY));
            let stats = if c.column_index_offset().is_some() {
                EnabledStatistics::Page
            } else if c.statistics().is_some() {
                EnabledStatistics::Chunk
            } else {
                EnabledStatistics::None
            };
            b = b
                .set_column_compression(path.clone(), c.compression())
                .set_column_dictionary_enabled(path.clone(), dictionary)
                .set_column_statistics_enabled(path.clone(), stats)
                .set_column_bloom_filter_enabled(path, c.bloom_filter_offset().is_some());
        }
    }
    b.build()
}

/// Checks a rebuilt file against the original: same schema, row groups,
/// row counts and codecs; every decoded batch equal to the masked original
/// batch; and no PAN left in the raw bytes (statistics, indexes and
/// metadata included) except allowed ones.
pub fn verify(cx: &Cx, meter: &Meter, original: &File, rebuilt: &File) -> Result<(), InputError> {
    contained("parquet", || verify_inner(cx, meter, original, rebuilt))
}

fn verify_inner(cx: &Cx, meter: &Meter, original: &File, rebuilt: &File) -> Result<(), InputError> {
    let fail = |what: &str| InputError::Verification(format!("rebuilt parquet: {what}"));
    let (r0, m0) = open(original, meter)?;
    let (r1, m1) = open(rebuilt, meter)?;
    if m0.schema() != m1.schema() {
        return Err(fail("schema differs"));
    }
    let (g0, g1) = (m0.metadata().row_groups(), m1.metadata().row_groups());
    if g0.len() != g1.len() {
        return Err(fail("row group count differs"));
    }
    for (a, b) in g0.iter().zip(g1) {
        if a.num_rows() != b.num_rows() {
            return Err(fail("row group sizes differ"));
        }
        for (ca, cb) in a.columns().iter().zip(b.columns()) {
            if ca.compression() != cb.compression() {
                return Err(fail("a column codec differs"));
            }
        }
    }
    let firsts = first_rows(m0.metadata());
    let kept: Mutex<HashSet<Vec<u8>>> = Mutex::new(HashSet::new());
    (0..firsts.len())
        .into_par_iter()
        .try_for_each(|g| -> Result<(), InputError> {
            contained("parquet", || {
                let mut a = group_batches(&r0, &m0, g)?;
                let mut b = group_batches(&r1, &m1, g)?;
                let mut row = firsts[g];
                loop {
                    match (a.next(), b.next()) {
                        (None, None) => return Ok(()),
                        (Some(x), Some(y)) => {
                            let x = x.map_err(arrow_corrupt)?;
                            let y = y.map_err(arrow_corrupt)?;
                            if mask_batch(cx, &x, row)? != y {
                                return Err(fail("decoded values differ from the masked original"));
                            }
                            // What is left must be allowed; remember it for
                            // the raw-byte check below.
                            let mut left = Visit::new(cx, false);
                            visit_batch(&mut left, &y, row).map_err(arrow_corrupt)?;
                            for f in &left.found {
                                if !cx.allows(&f.column, &f.located.finding) {
                                    return Err(fail("a PAN is left in a value"));
                                }
                                kept.lock()
                                    .unwrap_or_else(|p| p.into_inner())
                                    .insert(pan_digits(&f.located.finding));
                            }
                            row += x.num_rows() as u64;
                        }
                        _ => return Err(fail("row counts differ")),
                    }
                }
            })
        })?;
    // Raw bytes: anything a decoder would not show (statistics, page
    // indexes, metadata) must be PAN-free too, apart from PANs left in
    // values on purpose (allowed), which statistics may repeat.
    let kept = kept.into_inner().unwrap_or_else(|p| p.into_inner());
    let size = r1.len();
    let mut left = 0u64;
    crate::format::text::scan_file(cx.det, rebuilt, size, false, false, &mut |_, found| {
        left += found
            .iter()
            .filter(|l| !kept.contains(&pan_digits(&l.finding)))
            .count() as u64;
        Ok(())
    })?;
    if left > 0 {
        return Err(fail("PAN bytes remain in the file"));
    }
    Ok(())
}

/// A finding's digits without separators (held in memory only).
fn pan_digits(f: &Finding) -> Vec<u8> {
    let mut d = [0u8; crate::detect::MAX_DIGITS];
    let n = f.digits(&mut d);
    d[..n].to_vec()
}

/// Row numbers of the elements of an array: the batch's rows at top
/// level, the owning row for list elements. `u64::MAX` marks an element
/// that no row reaches (hidden by offsets); it is masked, not reported.
#[derive(Clone, Copy)]
enum Rows<'a> {
    From(u64),
    Map(&'a [u64]),
}

impl Rows<'_> {
    fn at(&self, i: usize) -> u64 {
        match self {
            Rows::From(first) => first + i as u64,
            Rows::Map(m) => m.get(i).copied().unwrap_or(u64::MAX),
        }
    }
}

/// One walk over a batch: findings, and when masking, replacement arrays.
struct Visit<'a> {
    cx: &'a Cx<'a>,
    masking: bool,
    found: Vec<CellFinding>,
    leaf: usize,
    /// The array being visited is named for a verification code (`cvv`,
    /// `Card_CVV__c`): its short digit values are codes.
    codes: bool,
}

impl<'a> Visit<'a> {
    fn new(cx: &'a Cx<'a>, masking: bool) -> Visit<'a> {
        Visit {
            cx,
            masking,
            found: Vec::new(),
            leaf: 0,
            codes: false,
        }
    }

    fn sorted(mut self) -> Vec<CellFinding> {
        self.found
            .sort_by_key(|f| (f.row, f.leaf, f.located.finding.offset));
        self.found
    }

    fn record(&mut self, column: &str, row: u64, finding: Finding, cell: &[u8], as_: MaskedAs) {
        if row == u64::MAX {
            return;
        }
        let before = &cell[..finding.offset as usize];
        let line = 1 + bytecount::count(before, b'\n') as u64;
        let line_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
        self.found.push(CellFinding {
            column: column.to_string(),
            row,
            located: Located {
                finding,
                line,
                column: (before.len() - line_start) as u64 + 1,
                numeric: as_ == MaskedAs::Number,
                record: None,
            },
            masked_as: as_,
            leaf: self.leaf,
        });
    }

    /// Scans one string/binary cell; returns the masks to apply (offset in
    /// the cell, replacement) when masking.
    fn text_cell(&mut self, column: &str, row: u64, cell: &[u8], edits: &mut Vec<(usize, Masked)>) {
        if self.codes {
            if let Some(f) = self.cx.det.code_cell(cell, 0) {
                if self.masking && !self.cx.allows(column, &f) {
                    edits.push((0, self.cx.policy.mask(&f)));
                }
                self.record(column, row, f, cell, MaskedAs::Text);
                return;
            }
        }
        if cell.len() < MIN_FINDING {
            return;
        }
        let mut found = Vec::new();
        self.cx
            .det
            .find_window(cell, 0, 0, cell.len(), &mut |f| found.push(f));
        for f in found {
            if self.masking && !self.cx.allows(column, &f) {
                edits.push((f.offset as usize, self.cx.policy.mask(&f)));
            }
            self.record(column, row, f, cell, MaskedAs::Text);
        }
    }

    /// A verification code held as an integer in a column named for one:
    /// 1 to 9999 (a code that began with 0 lost it), as the finding for its
    /// digits padded to three. 0 is what a scrub writes, so it is no code.
    fn code_number(&self, value: i128) -> Option<(Finding, [u8; 4], usize)> {
        if !(1..=9999).contains(&value) {
            return None;
        }
        let text = format!("{value:03}");
        let mut digits = [0u8; 4];
        digits[..text.len()].copy_from_slice(text.as_bytes());
        let f = self.cx.det.code_cell(&digits[..text.len()], 0)?;
        Some((f, digits, text.len()))
    }

    /// A PAN held as a number: the finding for its decimal digits.
    fn number_cell(&self, value: i128) -> Option<(Finding, [u8; 19], usize)> {
        // 13 to 19 digits; everything else (ids, counts, amounts) is
        // rejected here without formatting it.
        if !(1_000_000_000_000..10_000_000_000_000_000_000).contains(&value) {
            return None;
        }
        let mut digits = [0u8; 19];
        let mut n = 0;
        let mut rest = value;
        while rest > 0 {
            digits[n] = b'0' + (rest % 10) as u8;
            rest /= 10;
            n += 1;
        }
        digits[..n].reverse();
        let mut f = None;
        self.cx
            .det
            .find_window(&digits[..n], 0, 0, n, &mut |x| f = Some(x));
        f.filter(|x| x.len() == n).map(|x| (x, digits, n))
    }
}

/// Visits every column of a batch; `Some` when a column was replaced.
fn visit_batch(
    v: &mut Visit,
    batch: &RecordBatch,
    first_row: u64,
) -> Result<Option<RecordBatch>, ArrowError> {
    let schema = batch.schema();
    let mut changed = false;
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, col) in schema.fields().iter().zip(batch.columns()) {
        match visit(
            v,
            col,
            field.name(),
            field.is_nullable(),
            Rows::From(first_row),
        )? {
            Some(new) => {
                changed = true;
                columns.push(new);
            }
            None => columns.push(col.clone()),
        }
    }
    if !changed {
        return Ok(None);
    }
    RecordBatch::try_new(schema, columns).map(Some)
}

fn child_path(path: &str, name: &str) -> String {
    format!("{path}.{name}")
}

/// Visits one array; `Some(replacement)` when masking changed it.
fn visit(
    v: &mut Visit,
    array: &ArrayRef,
    path: &str,
    nullable: bool,
    rows: Rows,
) -> Result<Option<ArrayRef>, ArrowError> {
    // Set on entry: children of a list (same path) or struct (their own
    // path) set it again for themselves. With `--pan-only` the detector
    // reports no codes, whatever the column.
    let leaf_name = path.rsplit('.').next().unwrap_or(path);
    v.codes = is_code_column(leaf_name);
    let codes = v.codes;
    let out = match array.data_type() {
        DataType::Utf8 => bytes(v, array.as_string::<i32>(), path, rows)?,
        DataType::LargeUtf8 => bytes(v, array.as_string::<i64>(), path, rows)?,
        DataType::Binary => bytes(v, array.as_binary::<i32>(), path, rows)?,
        DataType::LargeBinary => bytes(v, array.as_binary::<i64>(), path, rows)?,
        DataType::Utf8View => {
            let a = array.as_string_view();
            views(
                v,
                a.len(),
                |i| a.is_valid(i).then(|| a.value(i).as_bytes()),
                path,
                rows,
            )
            .map(|cells| {
                let strings = cells
                    .iter()
                    .map(|c| c.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()));
                Arc::new(arrow_array::StringViewArray::from_iter(strings)) as ArrayRef
            })
        }
        DataType::BinaryView => {
            let a = array.as_binary_view();
            views(
                v,
                a.len(),
                |i| a.is_valid(i).then(|| a.value(i)),
                path,
                rows,
            )
            .map(|cells| Arc::new(arrow_array::BinaryViewArray::from_iter(cells)) as ArrayRef)
        }
        DataType::Dictionary(_, _) => dictionary(v, array, path, rows)?,
        DataType::List(field) => list(v, array.as_list::<i32>(), field, path, rows)?,
        DataType::LargeList(field) => list(v, array.as_list::<i64>(), field, path, rows)?,
        DataType::FixedSizeList(field, size) => {
            fixed_list(v, array.as_fixed_size_list(), field, *size, path, rows)?
        }
        DataType::Map(field, ordered) => map(v, array.as_map(), field, *ordered, path, rows)?,
        DataType::Struct(_) => structure(v, array.as_struct(), path, rows)?,
        DataType::Int64 => pans_and_codes::<Int64Type>(v, codes, array, path, nullable, rows)?,
        DataType::UInt64 => pans_and_codes::<UInt64Type>(v, codes, array, path, nullable, rows)?,
        DataType::Int32 => and_codes::<Int32Type>(v, codes, array, None, path, nullable, rows)?,
        DataType::UInt32 => and_codes::<UInt32Type>(v, codes, array, None, path, nullable, rows)?,
        DataType::Int16 => and_codes::<Int16Type>(v, codes, array, None, path, nullable, rows)?,
        DataType::UInt16 => and_codes::<UInt16Type>(v, codes, array, None, path, nullable, rows)?,
        DataType::Int8 => and_codes::<Int8Type>(v, codes, array, None, path, nullable, rows)?,
        DataType::UInt8 => and_codes::<UInt8Type>(v, codes, array, None, path, nullable, rows)?,
        DataType::Decimal64(_, scale) => {
            let a = array.as_primitive::<Decimal64Type>();
            numbers(v, a, *scale, path, nullable, rows)?
        }
        DataType::Decimal128(_, scale) => {
            let a = array.as_primitive::<Decimal128Type>();
            numbers(v, a, *scale, path, nullable, rows)?
        }
        DataType::Decimal256(_, scale) => {
            let a = array.as_primitive::<Decimal256Type>();
            numbers(v, a, *scale, path, nullable, rows)?
        }
        // Other types cannot hold a 13–19 digit number as ASCII or
        // integer, nor a code as digits.
        _ => None,
    };
    v.leaf += 1;
    Ok(out)
}

/// String and binary arrays (offsets into one data buffer): masks are
/// written into a copy of the data buffer; offsets and nulls are shared.
fn bytes<T: ByteArrayType>(
    v: &mut Visit,
    a: &GenericByteArray<T>,
    path: &str,
    rows: Rows,
) -> Result<Option<ArrayRef>, ArrowError> {
    let offsets = a.value_offsets();
    let data = a.value_data();
    let mut edits: Vec<(usize, Masked)> = Vec::new();
    for i in 0..a.len() {
        if a.is_null(i) {
            continue;
        }
        let (s, e) = (offsets[i].as_usize(), offsets[i + 1].as_usize());
        let before = edits.len();
        v.text_cell(path, rows.at(i), &data[s..e], &mut edits);
        for edit in &mut edits[before..] {
            edit.0 += s;
        }
    }
    if edits.is_empty() {
        return Ok(None);
    }
    let mut new = data.to_vec();
    for (at, m) in edits {
        new[at..at + m.as_bytes().len()].copy_from_slice(m.as_bytes());
    }
    let array = GenericByteArray::<T>::try_new(
        a.offsets().clone(),
        Buffer::from_vec(new),
        a.nulls().cloned(),
    )?;
    Ok(Some(Arc::new(array)))
}

/// View arrays (values inline or in shared buffers): rebuilt value by value
/// when something was masked. `cell(i)` is `None` for a null.
fn views<'c>(
    v: &mut Visit,
    len: usize,
    cell: impl Fn(usize) -> Option<&'c [u8]>,
    path: &str,
    rows: Rows,
) -> Option<Vec<Option<Vec<u8>>>> {
    let mut edited: Vec<(usize, Vec<(usize, Masked)>)> = Vec::new();
    for i in 0..len {
        if let Some(c) = cell(i) {
            let mut edits = Vec::new();
            v.text_cell(path, rows.at(i), c, &mut edits);
            if !edits.is_empty() {
                edited.push((i, edits));
            }
        }
    }
    if edited.is_empty() {
        return None;
    }
    let mut cells: Vec<Option<Vec<u8>>> = (0..len).map(|i| cell(i).map(<[u8]>::to_vec)).collect();
    for (i, edits) in edited {
        if let Some(c) = cells[i].as_mut() {
            for (at, m) in edits {
                c[at..at + m.as_bytes().len()].copy_from_slice(m.as_bytes());
            }
        }
    }
    Some(cells)
}

/// Native integer types of the numeric columns, widened to `i128` for the
/// digit test and narrowed back for the replacement value.
trait Wide: Copy + Default {
    fn to_wide(self) -> Option<i128>;
    fn from_wide(w: i128) -> Option<Self>;
}

impl Wide for i64 {
    fn to_wide(self) -> Option<i128> {
        Some(self.into())
    }
    fn from_wide(w: i128) -> Option<Self> {
        w.try_into().ok()
    }
}

impl Wide for u64 {
    fn to_wide(self) -> Option<i128> {
        Some(self.into())
    }
    fn from_wide(w: i128) -> Option<Self> {
        w.try_into().ok()
    }
}

/// The narrow integers: only verification codes fit in them.
macro_rules! wide_from_narrow {
    ($($t:ty),*) => {$(
        impl Wide for $t {
            fn to_wide(self) -> Option<i128> {
                Some(self.into())
            }
            fn from_wide(w: i128) -> Option<Self> {
                w.try_into().ok()
            }
        }
    )*};
}
wide_from_narrow!(i8, i16, i32, u8, u16, u32);

impl Wide for i128 {
    fn to_wide(self) -> Option<i128> {
        Some(self)
    }
    fn from_wide(w: i128) -> Option<Self> {
        Some(w)
    }
}

impl Wide for i256 {
    fn to_wide(self) -> Option<i128> {
        self.to_i128()
    }
    fn from_wide(w: i128) -> Option<Self> {
        Some(i256::from_i128(w))
    }
}

/// Integers and decimals holding a 13–19 digit PAN (decimals only when
/// the fraction is zero). Replaced by null where the field is nullable,
/// else by the digit-masked number.
fn numbers<T: ArrowPrimitiveType>(
    v: &mut Visit,
    a: &PrimitiveArray<T>,
    scale: i8,
    path: &str,
    nullable: bool,
    rows: Rows,
) -> Result<Option<ArrayRef>, ArrowError>
where
    T::Native: Wide,
{
    let unit: i128 = match u32::try_from(scale) {
        Ok(s) if s <= 20 => 10i128.pow(s),
        _ => return Ok(None), // negative or huge scale: not a whole number
    };
    let mut replace: Vec<(usize, Option<T::Native>)> = Vec::new();
    for i in 0..a.len() {
        if a.is_null(i) {
            continue;
        }
        let Some(wide) = a.value(i).to_wide() else {
            continue;
        };
        if wide % unit != 0 {
            continue;
        }
        let Some((f, digits, n)) = v.number_cell(wide / unit) else {
            continue;
        };
        let allowed = v.cx.allows(path, &f);
        let as_ = if nullable {
            MaskedAs::Null
        } else {
            MaskedAs::Number
        };
        if v.masking && !allowed {
            let value = match as_ {
                MaskedAs::Null => None,
                _ => {
                    let m = v.cx.policy.mask_numeric(&f);
                    let masked: i128 = m.as_str().parse().unwrap_or(0);
                    T::Native::from_wide(masked * unit)
                }
            };
            replace.push((i, value));
        }
        v.record(path, rows.at(i), f, &digits[..n], as_);
    }
    if replace.is_empty() {
        return Ok(None);
    }
    with_values_replaced(a, replace).map(Some)
}

/// A copy of `a` with the values at the given indices replaced (`None`:
/// null), same data type.
fn with_values_replaced<T: ArrowPrimitiveType>(
    a: &PrimitiveArray<T>,
    replace: Vec<(usize, Option<T::Native>)>,
) -> Result<ArrayRef, ArrowError> {
    let mut values: Vec<T::Native> = a.values().to_vec();
    let mut valid = BooleanBufferBuilder::new(a.len());
    match a.nulls() {
        Some(n) => valid.append_buffer(n.inner()),
        None => valid.append_n(a.len(), true),
    }
    for (i, value) in replace {
        match value {
            Some(x) => values[i] = x,
            None => {
                values[i] = T::Native::default();
                valid.set_bit(i, false);
            }
        }
    }
    let nulls = NullBuffer::new(valid.finish());
    let array = PrimitiveArray::<T>::try_new(ScalarBuffer::from(values), Some(nulls))?
        .with_data_type(a.data_type().clone());
    Ok(Arc::new(array))
}

/// 64-bit integers: PANs (13–19 digits), then codes when the column is
/// named for them.
fn pans_and_codes<T: ArrowPrimitiveType>(
    v: &mut Visit,
    codes: bool,
    array: &ArrayRef,
    path: &str,
    nullable: bool,
    rows: Rows,
) -> Result<Option<ArrayRef>, ArrowError>
where
    T::Native: Wide,
{
    let pans = numbers(v, array.as_primitive::<T>(), 0, path, nullable, rows)?;
    and_codes::<T>(v, codes, array, pans, path, nullable, rows)
}

/// In a column named for a verification code, integer codes (see
/// [`Visit::code_number`]) on top of `pans` (the array with its PANs
/// already replaced, if any were). Codes become null where the field is
/// nullable, else 0.
fn and_codes<T: ArrowPrimitiveType>(
    v: &mut Visit,
    codes: bool,
    array: &ArrayRef,
    pans: Option<ArrayRef>,
    path: &str,
    nullable: bool,
    rows: Rows,
) -> Result<Option<ArrayRef>, ArrowError>
where
    T::Native: Wide,
{
    if !codes {
        return Ok(pans);
    }
    let a = pans.as_ref().unwrap_or(array).as_primitive::<T>();
    let as_ = if nullable {
        MaskedAs::Null
    } else {
        MaskedAs::Number
    };
    let mut replace = Vec::new();
    for i in 0..a.len() {
        if a.is_null(i) {
            continue;
        }
        let Some((f, digits, n)) = a.value(i).to_wide().and_then(|w| v.code_number(w)) else {
            continue;
        };
        if v.masking && !v.cx.allows(path, &f) {
            replace.push((i, (!nullable).then(T::Native::default)));
        }
        v.record(path, rows.at(i), f, &digits[..n], as_);
    }
    if replace.is_empty() {
        return Ok(pans);
    }
    with_values_replaced(a, replace).map(Some)
}

/// Dictionary arrays: the values are scanned once, each finding is reported
/// for every row whose key points at it, and masking replaces the values
/// (keys unchanged, so the encoding stays a dictionary).
fn dictionary(
    v: &mut Visit,
    array: &ArrayRef,
    path: &str,
    rows: Rows,
) -> Result<Option<ArrayRef>, ArrowError> {
    let d = array.as_any_dictionary();
    let mut inner = Visit::new(v.cx, v.masking);
    // A dictionary value may be unused or shared; integers inside are
    // masked as numbers (a null value would change what keys mean).
    let new_values = visit(&mut inner, d.values(), path, false, Rows::From(0))?;
    if !inner.found.is_empty() {
        let mut by_value: HashMap<u64, Vec<usize>> = HashMap::new();
        for (k, f) in inner.found.iter().enumerate() {
            by_value.entry(f.row).or_default().push(k);
        }
        let keys = d.normalized_keys();
        for (i, key) in keys.iter().enumerate() {
            if d.keys().is_null(i) {
                continue;
            }
            if let Some(hits) = by_value.get(&(*key as u64)) {
                for &k in hits {
                    let f = &inner.found[k];
                    let row = rows.at(i);
                    if row != u64::MAX {
                        v.found.push(CellFinding {
                            row,
                            leaf: v.leaf,
                            ..f.clone()
                        });
                    }
                }
            }
        }
    }
    Ok(new_values.map(|values| d.with_values(values)))
}

/// The owning row of each child element of a list.
fn child_rows<O: OffsetSizeTrait>(offsets: &[O], child_len: usize, rows: Rows) -> Vec<u64> {
    let mut map = vec![u64::MAX; child_len];
    for i in 0..offsets.len().saturating_sub(1) {
        let (s, e) = (offsets[i].as_usize(), offsets[i + 1].as_usize());
        let row = rows.at(i);
        map[s.min(child_len)..e.min(child_len)].fill(row);
    }
    map
}

fn list<O: OffsetSizeTrait>(
    v: &mut Visit,
    a: &GenericListArray<O>,
    field: &FieldRef,
    path: &str,
    rows: Rows,
) -> Result<Option<ArrayRef>, ArrowError> {
    let map = child_rows(a.value_offsets(), a.values().len(), rows);
    let Some(values) = visit(v, a.values(), path, field.is_nullable(), Rows::Map(&map))? else {
        return Ok(None);
    };
    let new = GenericListArray::<O>::try_new(
        field.clone(),
        a.offsets().clone(),
        values,
        a.nulls().cloned(),
    )?;
    Ok(Some(Arc::new(new)))
}

fn fixed_list(
    v: &mut Visit,
    a: &FixedSizeListArray,
    field: &FieldRef,
    size: i32,
    path: &str,
    rows: Rows,
) -> Result<Option<ArrayRef>, ArrowError> {
    let k = size.max(1) as usize;
    let map: Vec<u64> = (0..a.values().len()).map(|j| rows.at(j / k)).collect();
    let Some(values) = visit(v, a.values(), path, field.is_nullable(), Rows::Map(&map))? else {
        return Ok(None);
    };
    let new = FixedSizeListArray::try_new(field.clone(), size, values, a.nulls().cloned())?;
    Ok(Some(Arc::new(new)))
}

fn map(
    v: &mut Visit,
    a: &MapArray,
    field: &FieldRef,
    ordered: bool,
    path: &str,
    rows: Rows,
) -> Result<Option<ArrayRef>, ArrowError> {
    let entries = a.entries();
    let map = child_rows(a.value_offsets(), entries.len(), rows);
    let Some(new_entries) = structure(v, entries, path, Rows::Map(&map))? else {
        return Ok(None);
    };
    let new = MapArray::try_new(
        field.clone(),
        a.offsets().clone(),
        new_entries.as_struct().clone(),
        a.nulls().cloned(),
        ordered,
    )?;
    Ok(Some(Arc::new(new)))
}

fn structure(
    v: &mut Visit,
    a: &StructArray,
    path: &str,
    rows: Rows,
) -> Result<Option<ArrayRef>, ArrowError> {
    let fields = a.fields().clone();
    let mut changed = false;
    let mut columns = Vec::with_capacity(fields.len());
    for (f, col) in fields.iter().zip(a.columns()) {
        let p = child_path(path, f.name());
        match visit(v, col, &p, f.is_nullable(), rows)? {
            Some(new) => {
                changed = true;
                columns.push(new);
            }
            None => columns.push(col.clone()),
        }
    }
    if !changed {
        return Ok(None);
    }
    Ok(Some(Arc::new(StructArray::try_new(
        fields,
        columns,
        a.nulls().cloned(),
    )?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::budget::Budget;
    use arrow_array::builder::{FixedSizeListBuilder, MapBuilder, StringBuilder};
    use arrow_array::{Decimal128Array, UInt64Array};
    use arrow_schema::{Field, Schema};

    /// What a `Cx` borrows, with the default policy (6+4, `*`).
    #[derive(Default)]
    struct Setup {
        det: Detector,
        policy: MaskPolicy,
        allow: crate::policy::Policy,
    }

    impl Setup {
        fn cx(&self) -> Cx<'_> {
            Cx {
                det: &self.det,
                policy: &self.policy,
                allow: self.allow.for_input(std::path::Path::new("t.parquet")),
            }
        }
    }

    fn meter() -> Meter {
        Meter::new(Budget::default())
    }

    /// A file with the shapes the pyarrow fixtures do not cover: a map, a
    /// fixed-size list, a decimal with a zero fraction, an unsigned integer.
    fn write_file() -> tempfile::NamedTempFile {
        let mut map = MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
        map.keys().append_value("card");
        map.values().append_value("4111111111111111");
        map.append(true).unwrap();
        map.keys().append_value("5555555555554444");
        map.values().append_value("key holds it");
        map.append(true).unwrap();
        let mut fixed = FixedSizeListBuilder::new(StringBuilder::new(), 2);
        fixed.values().append_value("a");
        fixed.values().append_value("b");
        fixed.append(true);
        fixed.values().append_value("x");
        fixed.values().append_value("378282246310005");
        fixed.append(true);
        let decimal = Decimal128Array::from(vec![411111111111111100i128, 12])
            .with_precision_and_scale(20, 2)
            .unwrap();
        let unsigned = UInt64Array::from(vec![6011111111111117u64, 6011111111111118]);
        parquet_file(vec![
            ("attrs", true, Arc::new(map.finish())),
            ("pair", true, Arc::new(fixed.finish())),
            ("price", false, Arc::new(decimal)),
            ("u", true, Arc::new(unsigned)),
        ])
    }

    /// A Parquet file of one batch with these columns (name, nullable,
    /// values), written with the default properties.
    fn parquet_file(columns: Vec<(&str, bool, ArrayRef)>) -> tempfile::NamedTempFile {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(name, nullable, a)| Field::new(*name, a.data_type().clone(), *nullable))
            .collect();
        let arrays = columns.into_iter().map(|(_, _, a)| a).collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let mut w = ArrowWriter::try_new(f.as_file_mut(), batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        f
    }

    /// The first batch of a Parquet file, read back by the parquet crate.
    fn first_batch(f: &tempfile::NamedTempFile) -> RecordBatch {
        ParquetRecordBatchReaderBuilder::try_new(f.reopen().unwrap())
            .unwrap()
            .build()
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
    }

    #[test]
    fn maps_fixed_lists_decimals_and_unsigned_are_scanned_and_masked() {
        let run = Setup::default();
        let cx = run.cx();
        let f = write_file();
        let found = scan(&cx, &meter(), f.as_file()).unwrap();
        let got: Vec<(&str, u64, MaskedAs)> = found
            .iter()
            .map(|c| (c.column.as_str(), c.row, c.masked_as))
            .collect();
        assert_eq!(
            got,
            vec![
                ("attrs.value", 0, MaskedAs::Text),
                ("price", 0, MaskedAs::Number),
                ("u", 0, MaskedAs::Null),
                ("attrs.key", 1, MaskedAs::Text),
                ("pair", 1, MaskedAs::Text),
            ]
        );
        let mut out = tempfile::NamedTempFile::new().unwrap();
        rebuild(&cx, &meter(), f.as_file(), out.as_file_mut()).unwrap();
        verify(&cx, &meter(), f.as_file(), out.as_file()).unwrap();
        assert!(scan(&cx, &meter(), out.as_file()).unwrap().is_empty());
        // The decimal keeps its scale: 4111110000001111.00 with the check
        // digit broken is still a whole number of the same width.
        let b = first_batch(&out);
        let price = b.column(2).as_primitive::<Decimal128Type>();
        assert_eq!(price.value(0) % 100, 0);
        assert_eq!(price.value(0).to_string().len(), 18);
        assert_eq!(price.value(1), 12);
        assert!(b.column(3).is_null(0));
        assert!(b.column(3).is_valid(1));
    }

    #[test]
    fn columns_named_for_codes_have_their_codes_masked() {
        use arrow_array::{DictionaryArray, Int16Array, Int32Array, StringArray};
        let text = StringArray::from(vec![
            Some("123"),
            Some("4111111111111111"),
            Some("12"),
            None,
        ]);
        // A keyword code in a short cell of any column.
        let note = StringArray::from(vec!["x", "cvv=999", "cvv: 12", "y"]);
        let ints = Int32Array::from(vec![Some(123), Some(7), Some(0), Some(20000)]);
        let strict = Int16Array::from(vec![999, 0, 1234, -5]);
        let other = Int32Array::from(vec![123, 456, 789, 1000]);
        let dict: DictionaryArray<Int32Type> =
            vec!["4567", "abc", "4567", "x"].into_iter().collect();
        let f = parquet_file(vec![
            ("Card_CVV__c", true, Arc::new(text)),
            ("cvv", true, Arc::new(ints)),
            ("security_code", false, Arc::new(strict)),
            ("invoice", false, Arc::new(other)),
            ("cvc2", false, Arc::new(dict)),
            ("note", false, Arc::new(note)),
        ]);

        let run = Setup::default();
        let cx = run.cx();
        let found = scan(&cx, &meter(), f.as_file()).unwrap();
        let got: Vec<_> = found
            .iter()
            .map(|c| {
                (
                    c.column.as_str(),
                    c.row,
                    c.located.finding.kind,
                    c.masked_as,
                )
            })
            .collect();
        use crate::detect::Kind::{Cvv, Pan};
        assert_eq!(
            got,
            vec![
                ("Card_CVV__c", 0, Cvv, MaskedAs::Text),
                ("cvv", 0, Cvv, MaskedAs::Null),
                ("security_code", 0, Cvv, MaskedAs::Number),
                ("cvc2", 0, Cvv, MaskedAs::Text),
                ("Card_CVV__c", 1, Pan, MaskedAs::Text),
                ("cvv", 1, Cvv, MaskedAs::Null),
                ("note", 1, Cvv, MaskedAs::Text),
                ("security_code", 2, Cvv, MaskedAs::Number),
                ("cvc2", 2, Cvv, MaskedAs::Text),
            ]
        );
        let mut out = tempfile::NamedTempFile::new().unwrap();
        rebuild(&cx, &meter(), f.as_file(), out.as_file_mut()).unwrap();
        verify(&cx, &meter(), f.as_file(), out.as_file()).unwrap();
        assert!(scan(&cx, &meter(), out.as_file()).unwrap().is_empty());
        let b = first_batch(&out);
        let text = b.column(0).as_string::<i32>();
        assert_eq!(text.value(0), "***");
        assert_eq!(text.value(1), "411111******1111");
        assert_eq!(text.value(2), "12");
        let ints = b.column(1).as_primitive::<Int32Type>();
        assert!(ints.is_null(0) && ints.is_null(1));
        assert_eq!((ints.value(2), ints.value(3)), (0, 20000));
        let strict = b.column(2).as_primitive::<Int16Type>();
        assert_eq!(strict.values().to_vec(), vec![0, 0, 0, -5]);
        assert_eq!(strict.null_count(), 0);
        let other = b.column(3).as_primitive::<Int32Type>();
        assert_eq!(other.values().to_vec(), vec![123, 456, 789, 1000]);
        let dict = b.column(4).as_any_dictionary();
        let values = dict.values().as_string::<i32>();
        let shown: Vec<&str> = dict
            .normalized_keys()
            .iter()
            .map(|&k| values.value(k))
            .collect();
        assert_eq!(shown, vec!["****", "abc", "****", "x"]);
        let note = b.column(5).as_string::<i32>();
        assert_eq!(note.value(1), "cvv=***");

        // `--pan-only`: the same columns are plain numbers and strings.
        let pan_only = Setup {
            det: crate::detect::DetectorBuilder::new().pan_only(true).build(),
            ..Setup::default()
        };
        let found = scan(&pan_only.cx(), &meter(), f.as_file()).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].located.finding.kind, Pan);
    }

    #[test]
    fn allowed_columns_are_left_and_verification_accepts_them() {
        let mut run = Setup::default();
        run.allow.fields = vec!["pair".to_string()];
        let cx = run.cx();
        let f = write_file();
        let mut out = tempfile::NamedTempFile::new().unwrap();
        rebuild(&cx, &meter(), f.as_file(), out.as_file_mut()).unwrap();
        verify(&cx, &meter(), f.as_file(), out.as_file()).unwrap();
        let left = scan(&cx, &meter(), out.as_file()).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].column, "pair");
    }

    #[test]
    fn verification_refuses_a_file_that_is_not_the_masked_original() {
        let run = Setup::default();
        let cx = run.cx();
        let f = write_file();
        // The original itself is not its masked version.
        let err = verify(&cx, &meter(), f.as_file(), f.as_file()).unwrap_err();
        assert!(err.to_string().contains("verification"), "{err}");
    }
}
