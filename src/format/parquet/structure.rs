//! What a reader of a Parquet file can see besides its decoded values: the
//! footer (schema, key-value metadata, column-chunk statistics), the page
//! indexes, each page header (`page_headers.rs`) and each page's bytes once
//! decompressed (dictionary pages included), and the Arrow schema decoded
//! from its base64. Verification scans these for
//! PANs. It never scans compressed bytes: a codec's back-references (a
//! snappy copy tag between `ref` and the digits of `ref3551414911546935`)
//! put digits side by side that no value holds, so a scan of raw snappy
//! pages refused files whose every value was correctly masked.
//!
//! Bloom filters are hashes of every value, not text: the rebuild writes
//! them from masked values, never copies them, and `bloom.rs` checks them.

use parquet::file::reader::FileReader;
use parquet::file::serialized_reader::SerializedFileReader;

use super::*;

/// Hands each visible structure of the file to `each`, as bytes.
pub(super) fn each_visible(
    reader: &Pread,
    each: &mut dyn FnMut(&[u8]) -> Result<(), InputError>,
) -> Result<(), InputError> {
    let size = reader.len;
    // The footer: `len` bytes of uncompressed metadata, then its length
    // and the magic.
    let mut tail = [0u8; 8];
    if size < 12 {
        return Err(InputError::Corrupt("parquet: too short".into()));
    }
    reader
        .file
        .read_exact_at(&mut tail, size - 8)
        .map_err(InputError::io("read"))?;
    let footer_len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if footer_len + 12 > size {
        return Err(InputError::Corrupt("parquet: footer length".into()));
    }
    each(&read_range(reader, size - 8 - footer_len, footer_len)?)?;
    let file = SerializedFileReader::new(reader.clone()).map_err(corrupt)?;
    // The Arrow schema is stored base64-encoded: scanned decoded.
    if let Some(schema) = super::meta::arrow_schema_bytes(file.metadata()) {
        each(&schema)?;
    }
    for g in 0..file.num_row_groups() {
        let group = file.get_row_group(g).map_err(corrupt)?;
        for c in 0..group.num_columns() {
            let chunk = group.metadata().column(c);
            for (at, len) in [
                (chunk.column_index_offset(), chunk.column_index_length()),
                (chunk.offset_index_offset(), chunk.offset_index_length()),
            ] {
                if let (Some(at), Some(len)) = (at, len) {
                    let (at, len) = (at.max(0) as u64, len.max(0) as u64);
                    if at + len > size {
                        return Err(InputError::Corrupt("parquet: page index range".into()));
                    }
                    each(&read_range(reader, at, len)?)?;
                }
            }
            // Page headers as written (statistics in both forms), then
            // each page's bytes decompressed.
            let (start, len) = chunk.byte_range();
            let end = start
                .checked_add(len)
                .ok_or_else(|| InputError::Corrupt("parquet: column chunk range".into()))?;
            super::page_headers::each_header(reader, start, end, each)?;
            let mut pages = group.get_column_page_reader(c).map_err(corrupt)?;
            while let Some(page) = pages.get_next_page().map_err(corrupt)? {
                each(page.buffer())?;
            }
        }
    }
    Ok(())
}

/// `len` bytes of the file from `at` (a footer or a page index: metadata
/// sized by the writer, bounded by the file).
fn read_range(reader: &Pread, at: u64, len: u64) -> Result<Vec<u8>, InputError> {
    let mut buf = vec![0u8; len as usize];
    reader
        .file
        .read_exact_at(&mut buf, at)
        .map_err(InputError::io("read"))?;
    Ok(buf)
}
