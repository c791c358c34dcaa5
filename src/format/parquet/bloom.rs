//! Verification of a rebuilt file's bloom filters. A bloom filter is an
//! unkeyed hash of every value of a column chunk: a filter copied from the
//! original, or one that still holds a PAN's hash, lets anyone holding a
//! candidate card number confirm it was in the file. No text scan can see
//! that, so each filter is checked for what it is: the rebuild writes it
//! from the masked values, and the check builds a filter of the same size
//! from the chunk's decoded values and asks for the same bits. Setting a
//! bit is order-free and a folded filter equals one built at its size (the
//! block index is a multiplicative hash of the high bits), so the two are
//! equal exactly when the filter holds nothing but the chunk's values.

use parquet::bloom_filter::Sbbf;
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::{AsBytes, DataType};
use parquet::file::reader::{FileReader, RowGroupReader};
use parquet::file::serialized_reader::SerializedFileReader;

use super::*;

/// Records read at a time when rebuilding a chunk's filter.
const RECORDS: usize = 8192;

/// Checks every bloom filter of `reader` against the values of its column
/// chunk; an error names the first chunk whose filter holds anything else.
pub(super) fn check_filters(cx: &Cx, reader: &Pread) -> Result<(), InputError> {
    let file = SerializedFileReader::new(reader.clone()).map_err(corrupt)?;
    for g in 0..file.num_row_groups() {
        let group = file.get_row_group(g).map_err(corrupt)?;
        for c in 0..group.num_columns() {
            let chunk = group.metadata().column(c);
            if chunk.bloom_filter_offset().is_none() {
                continue;
            }
            let Some(found) = Sbbf::read_from_column_chunk(chunk, reader).map_err(corrupt)? else {
                continue;
            };
            let found = bitset(&found)?;
            let mut expected = Sbbf::new_with_num_of_bytes(found.len());
            insert_values(&*group, c, &mut expected)?;
            if bitset(&expected)? != found {
                return Err(InputError::Verification(format!(
                    "rebuilt parquet: the bloom filter of column {} in row group {g} holds values the column does not",
                    // A column name can hold a PAN too.
                    crate::manifest::mask_text(&chunk.column_path().string(), cx.det, cx.policy)
                )));
            }
        }
    }
    Ok(())
}

fn bitset(filter: &Sbbf) -> Result<Vec<u8>, InputError> {
    let mut out = Vec::new();
    filter.write_bitset(&mut out).map_err(corrupt)?;
    Ok(out)
}

/// Inserts every non-null value of column `c` of `group` into `filter`, as
/// the writer does (the physical value's bytes).
fn insert_values(
    group: &dyn RowGroupReader,
    c: usize,
    filter: &mut Sbbf,
) -> Result<(), InputError> {
    match group.get_column_reader(c).map_err(corrupt)? {
        ColumnReader::BoolColumnReader(r) => insert_typed(r, filter),
        ColumnReader::Int32ColumnReader(r) => insert_typed(r, filter),
        ColumnReader::Int64ColumnReader(r) => insert_typed(r, filter),
        ColumnReader::Int96ColumnReader(r) => insert_typed(r, filter),
        ColumnReader::FloatColumnReader(r) => insert_typed(r, filter),
        ColumnReader::DoubleColumnReader(r) => insert_typed(r, filter),
        ColumnReader::ByteArrayColumnReader(r) => insert_typed(r, filter),
        ColumnReader::FixedLenByteArrayColumnReader(r) => insert_typed(r, filter),
    }
}

fn insert_typed<T: DataType>(
    mut reader: ColumnReaderImpl<T>,
    filter: &mut Sbbf,
) -> Result<(), InputError>
where
    T::T: AsBytes,
{
    let (mut defs, mut reps, mut values) = (Vec::new(), Vec::new(), Vec::new());
    loop {
        defs.clear();
        reps.clear();
        values.clear();
        let (records, _, _) = reader
            .read_records(RECORDS, Some(&mut defs), Some(&mut reps), &mut values)
            .map_err(corrupt)?;
        for v in &values {
            filter.insert(v);
        }
        if records == 0 {
            return Ok(());
        }
    }
}
