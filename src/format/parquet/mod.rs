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
//! original, then scans what else a reader sees (footer, statistics, page
//! indexes, decompressed pages: `structure.rs`) for anything left, and
//! checks that each bloom filter holds the chunk's values and nothing else
//! (`bloom.rs`).

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

mod bloom;
mod meta;
mod numbers;
mod page_headers;
mod rebuild;
mod structure;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_planted;
mod visit;

use numbers::*;
pub use rebuild::{rebuild, verify};
use visit::*;

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
                cell: Some(Box::new(ColumnCell {
                    // Each field name masked on its own: in the joined
                    // path a PAN after a dot would not stand alone.
                    column_path: self
                        .column
                        .split('.')
                        .map(|part| crate::manifest::mask_text(part, det, policy))
                        .collect::<Vec<_>>()
                        .join("."),
                    row: self.row,
                })),
                ..Location::default()
            },
            masked_as: self.masked_as,
            report_only: None,
            encoded: None,
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
        crate::interrupt::check_io()?;
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
        crate::interrupt::check_io().map_err(|e| ParquetError::External(Box::new(e)))?;
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

/// Every PAN in the file, in row then column order (see [`scan_each`]).
pub fn scan(cx: &Cx, meter: &Meter, file: &File) -> Result<Vec<CellFinding>, InputError> {
    let mut found = Vec::new();
    scan_each(cx, meter, file, &mut |c| {
        found.push(c);
        Ok(())
    })?;
    Ok(found)
}

/// Hands every PAN in the file to `out`, in row then column order. Row
/// groups are scanned in parallel, as many at a time as there are worker
/// threads, and handed on in order: what is held is the findings of those
/// few row groups, never the file's.
pub fn scan_each(
    cx: &Cx,
    meter: &Meter,
    file: &File,
    out: &mut dyn FnMut(CellFinding) -> Result<(), InputError>,
) -> Result<(), InputError> {
    let (reader, meta) = contained("parquet", || open(file, meter))?;
    let firsts = first_rows(meta.metadata());
    let groups: Vec<usize> = (0..firsts.len()).collect();
    for at_once in groups.chunks(rayon::current_num_threads().max(1)) {
        let found: Vec<Vec<CellFinding>> = at_once
            .par_iter()
            .map(|&g| {
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
        found.into_iter().flatten().try_for_each(&mut *out)?;
    }
    Ok(())
}

/// The PANs in the file's metadata (key-value entries, the Arrow schema's
/// metadata, top-level field metadata) and column names, located by
/// `member` (`metadata.note`, `schema.card_number`): a few, so held.
pub fn metadata_findings(cx: &Cx, meter: &Meter, file: &File) -> Result<Vec<Hit>, InputError> {
    let (_, meta) = contained("parquet", || open(file, meter))?;
    Ok(meta::metadata_hits(cx, &meta))
}
