//! Parquet files from the engines a data team exports with: pyarrow,
//! DuckDB, polars and parquet-rs each write the same table of cards
//! (`scripts/make_engine_parquet.py`: strings, a dictionary-encoded
//! column, int64 and decimal cards, a list, a struct, a `cvv` column,
//! references glued to Luhn-valid digits). Every writer's file gives the
//! same findings, scrubs with exit 0, reads back in pyarrow and DuckDB
//! with only the cards and codes changed, keeps its schema, row groups,
//! codecs, key-value metadata and bloom filters, and rescans clean.

use std::collections::BTreeMap;

use arrow_array::RecordBatchReader;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::*;

/// The table's cards (every one truncated) and codes (one per row).
const CARDS: usize = 7387;
const CODES: usize = 12_000;

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts")
}

/// The engine's file of the table at `out`, written by the engine itself.
fn write_with(engine: &str, out: &Path) {
    let o = Command::new("python3")
        .arg(scripts().join("make_engine_parquet.py"))
        .arg(out)
        .arg(engine)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{engine} could not write the file: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), CARDS.to_string());
}

/// The same table written again by parquet-rs (snappy, page statistics,
/// a bloom filter on `card`), from pyarrow's file.
fn write_with_parquet_rs(from: &Path, out: &Path) {
    let reader = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(from).unwrap())
        .unwrap()
        .with_batch_size(3000)
        .build()
        .unwrap();
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_column_bloom_filter_enabled(ColumnPath::from("card"), true)
        .set_max_row_group_row_count(Some(3000))
        .build();
    let mut w =
        ArrowWriter::try_new(fs::File::create(out).unwrap(), reader.schema(), Some(props)).unwrap();
    for batch in reader {
        w.write(&batch.unwrap()).unwrap();
    }
    w.close().unwrap();
}

/// A scan manifest's findings as (column, row, type, masked), counted.
fn tally(m: &Path) -> BTreeMap<(String, u64, String, String), usize> {
    let mut out = BTreeMap::new();
    for f in kind(&manifest(m), "finding") {
        let key = (
            f["column_path"].as_str().unwrap_or("?").to_string(),
            f["row"].as_u64().unwrap_or(u64::MAX),
            f["type"].as_str().unwrap_or("?").to_string(),
            f["masked"].as_str().unwrap_or("?").to_string(),
        );
        *out.entry(key).or_insert(0) += 1;
    }
    out
}

#[test]
fn parquet_from_pyarrow_duckdb_polars_and_parquet_rs_scrubs_and_reads_back() {
    let d = tmp();
    let mut first = None;
    for engine in ["pyarrow", "duckdb", "polars", "parquet-rs"] {
        let original = d.path().join(format!("{engine}.orig"));
        if engine == "parquet-rs" {
            write_with_parquet_rs(&d.path().join("pyarrow.orig"), &original);
        } else {
            write_with(engine, &original);
        }
        let f = d.path().join(format!("{engine}.parquet"));
        fs::copy(&original, &f).unwrap();

        // Scan: the same places whichever engine wrote the file.
        let m = mpath();
        let o = panscrub(&["scan", "-m", m.to_str().unwrap(), f.to_str().unwrap()]);
        assert_exit(&o, 1);
        assert_no_pan(engine, &o.stdout);
        let found = tally(&m);
        assert_eq!(found.values().sum::<usize>(), CARDS + CODES, "{engine}");
        match &first {
            None => first = Some(found),
            Some(want) => assert_eq!(&found, want, "{engine}: other findings than pyarrow's"),
        }

        let (o, m) = scrub_with_manifest(&f);
        assert_exit(&o, 0);
        assert_no_pan(engine, &o.stderr);
        let recs = manifest(&m);
        let findings = kind(&recs, "finding");
        assert_eq!(findings.len(), CARDS + CODES, "{engine}");
        assert!(
            findings.iter().all(|f| f["action"] == "truncated"),
            "{engine}"
        );
        super::parquet_files::assert_only_cards_changed(&original, &f, CARDS + CODES, engine);
        assert_exit(&panscrub(&["scan", "-q", f.to_str().unwrap()]), 0);
    }
}
