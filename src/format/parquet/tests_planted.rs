//! A PAN planted after the rebuild in each structure a reader of a Parquet
//! file can see besides its values (column statistics in the footer,
//! key-value metadata, the Arrow schema, page-header statistics, the column
//! index, the dictionary page, the bloom filter) makes verification refuse,
//! though every decoded value is masked. Each plant edits bytes of a file
//! that verification accepted, so the refusal is the plant's alone.

use std::collections::HashMap;

use base64::Engine;
use parquet::bloom_filter::Sbbf;
use parquet::file::reader::{FileReader, SerializedFileReader};

use super::tests::{meter, Setup};
use super::*;
use arrow_schema::{Field, Schema};

const PAN: &[u8; 16] = b"4111111111111111";
const MASKED: &[u8; 16] = b"411111******1111";

/// Writer settings with every structure on: dictionary, page statistics
/// and the column index, page-header statistics, a bloom filter, and the
/// key-value `note`. No codec, so plants edit plain bytes.
fn props(note: &str) -> WriterProperties {
    WriterProperties::builder()
        .set_bloom_filter_enabled(true)
        .set_write_page_header_statistics(true)
        .set_key_value_metadata(Some(vec![KeyValue::new("note".into(), note.to_string())]))
        .build()
}

/// The original (a card in a value, in the key-value metadata and in the
/// field metadata) and a candidate rebuild with all of it masked, written
/// with the same settings.
fn original_and_candidate(cx: &Cx) -> (tempfile::NamedTempFile, tempfile::NamedTempFile) {
    let field = Field::new("card", DataType::Utf8, false).with_metadata(HashMap::from([(
        "origin".to_string(),
        "card 4111111111111111".to_string(),
    )]));
    let schema = Arc::new(Schema::new(vec![field]));
    let cards =
        arrow_array::StringArray::from(vec!["4111111111111111", "a note", "4111111111111111"]);
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(cards)]).unwrap();
    let write = |batch: &RecordBatch, note: &str| {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        let mut w =
            ArrowWriter::try_new(f.as_file_mut(), batch.schema(), Some(props(note))).unwrap();
        w.write(batch).unwrap();
        w.close().unwrap();
        f
    };
    let original = write(&batch, "billing card 4111111111111111");
    let masked = rebuild::mask_batch(cx, &batch, 0).unwrap();
    let masked_schema = Arc::new(meta::masked_schema(cx, &schema));
    let masked = RecordBatch::try_new(masked_schema, masked.columns().to_vec()).unwrap();
    let candidate = write(&masked, "billing card 411111******1111");
    (original, candidate)
}

/// `bytes` with the masked card replaced by the full one wherever it
/// starts inside `range` and `keep(at)` holds; panics when none is found.
fn plant(bytes: &[u8], range: std::ops::Range<usize>, keep: impl Fn(usize) -> bool) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let mut n = 0;
    for at in range {
        if out[at..].starts_with(MASKED) && keep(at) {
            out[at..at + 16].copy_from_slice(PAN);
            n += 1;
        }
    }
    assert!(n > 0, "the range holds the masked card");
    out
}

fn replace(bytes: &[u8], old: &[u8], new: &[u8]) -> Vec<u8> {
    assert_eq!(old.len(), new.len());
    let at = bytes
        .windows(old.len())
        .position(|w| w == old)
        .expect("the bytes to replace are in the file");
    let mut out = bytes.to_vec();
    out[at..at + old.len()].copy_from_slice(new);
    out
}

#[test]
fn a_pan_planted_in_any_structure_a_reader_sees_is_refused() {
    let run = Setup::default();
    let cx = run.cx();
    let (original, candidate) = original_and_candidate(&cx);
    verify(&cx, &meter(), original.as_file(), candidate.as_file()).unwrap();
    // Our own rebuild of it keeps a bloom filter, and it is accepted.
    let mut rebuilt = tempfile::NamedTempFile::new().unwrap();
    rebuild(&cx, &meter(), original.as_file(), rebuilt.as_file_mut()).unwrap();
    verify(&cx, &meter(), original.as_file(), rebuilt.as_file()).unwrap();
    let reader = SerializedFileReader::new(rebuilt.reopen().unwrap()).unwrap();
    assert!(reader
        .metadata()
        .row_group(0)
        .column(0)
        .bloom_filter_offset()
        .is_some());

    let bytes = std::fs::read(candidate.path()).unwrap();
    let reader = SerializedFileReader::new(candidate.reopen().unwrap()).unwrap();
    let pq = reader.metadata();
    let chunk = pq.row_group(0).column(0);
    let footer_len = u32::from_le_bytes(bytes[bytes.len() - 8..][..4].try_into().unwrap());
    let footer = bytes.len() - 8 - footer_len as usize..bytes.len() - 8;
    let index_at = chunk.column_index_offset().unwrap() as usize;
    let index = index_at..index_at + chunk.column_index_length().unwrap() as usize;
    let dictionary_at = chunk.dictionary_page_offset().unwrap() as usize;
    let data_at = chunk.data_page_offset() as usize;
    let (chunk_at, chunk_len) = chunk.byte_range();
    let chunk_end = (chunk_at + chunk_len) as usize;
    let note_prefix = b"billing card ";
    let after_note = |at: usize| bytes[..at].ends_with(note_prefix);

    // The Arrow schema is base64 in the footer: decoded, planted, encoded.
    let b64 = base64::engine::general_purpose::STANDARD;
    let schema_kv = pq
        .file_metadata()
        .key_value_metadata()
        .unwrap()
        .iter()
        .find(|kv| kv.key == ARROW_SCHEMA_KEY)
        .and_then(|kv| kv.value.clone())
        .unwrap();
    let decoded = b64.decode(&schema_kv).unwrap();
    let planted_schema = b64.encode(replace(&decoded, MASKED, PAN));

    // The bloom filter, with the card's hash set besides the masked values'.
    let filter = Sbbf::read_from_column_chunk(chunk, &bytes::Bytes::from(bytes.clone()))
        .unwrap()
        .unwrap();
    let mut before = Vec::new();
    filter.write_bitset(&mut before).unwrap();
    let mut with_card = filter.clone();
    with_card.insert(PAN.as_slice());
    let mut after = Vec::new();
    with_card.write_bitset(&mut after).unwrap();
    assert_ne!(before, after, "the card's hash sets new bits");

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "footer statistics",
            plant(&bytes, footer.clone(), |at| !after_note(at)),
            "metadata, statistics or pages",
        ),
        (
            "key-value metadata",
            plant(&bytes, footer, after_note),
            // The reader's schema carries the file's key-value metadata.
            "schema differs",
        ),
        (
            "arrow schema",
            replace(&bytes, schema_kv.as_bytes(), planted_schema.as_bytes()),
            "schema differs",
        ),
        (
            "page header statistics",
            plant(&bytes, data_at..chunk_end, |_| true),
            "metadata, statistics or pages",
        ),
        (
            "column index",
            plant(&bytes, index, |_| true),
            "metadata, statistics or pages",
        ),
        (
            "dictionary page",
            plant(&bytes, dictionary_at..data_at, |_| true),
            "decoded values differ",
        ),
        (
            "bloom filter",
            replace(&bytes, &before, &after),
            "bloom filter of column card",
        ),
    ];
    for (what, planted, why) in cases {
        let bad = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(bad.path(), &planted).unwrap();
        let Err(err) = verify(&cx, &meter(), original.as_file(), bad.as_file()) else {
            panic!("{what}: a planted card was accepted");
        };
        assert!(
            matches!(err, InputError::Verification(_)) && err.to_string().contains(why),
            "{what}: {err}"
        );
        assert!(
            !err.to_string().contains("4111111111111111"),
            "{what}: the error prints the card"
        );
    }
}
