//! Parquet files written by pyarrow (`scripts/make_parquet_fixtures.py`,
//! committed under `tests/fixtures/parquet/`): exact locations, scrub read
//! back value by value (by the parquet crate here, and by pyarrow itself
//! through `scripts/check_parquet.py` when it is installed), no PAN left in
//! the raw bytes, corrupt files reported.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, RecordBatch};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/parquet")
        .join(name)
}

const CODECS: &[&str] = &["snappy", "zstd", "gzip", "mixed"];

/// Where the fixture's 29 PANs are: (column, 0-based row).
const EXPECTED: &[(&str, u64)] = &[
    ("note", 0),
    ("card_number", 0),
    ("card_required", 0),
    ("amount", 0),
    ("customer.cards", 0),
    ("payload", 0),
    ("note", 1),
    ("view", 1),
    ("status", 2),
    ("card_number", 3),
    ("customer.name", 3),
    ("tags", 3),
    ("note", 4),
    ("card_required", 4),
    ("customer.cards", 4),
    ("payload", 4),
    ("status", 5),
    ("amount", 5),
    ("large", 5),
    ("note", 6),
    ("card_number", 6),
    ("customer.cards", 6),
    ("card_number", 8),
    ("note", 9),
    ("status", 9),
    ("card_required", 9),
    ("customer.cards", 9),
    ("customer.cards", 9),
    ("tags", 9),
];

fn read_all(
    p: &Path,
) -> (
    Vec<RecordBatch>,
    Arc<parquet::file::metadata::ParquetMetaData>,
) {
    let b = ParquetRecordBatchReaderBuilder::try_new(fs::File::open(p).unwrap()).unwrap();
    let meta = b.metadata().clone();
    let batches = b.build().unwrap().map(|r| r.unwrap()).collect();
    (batches, meta)
}

#[test]
fn parquet_findings_carry_column_and_row() {
    let d = tmp();
    let f = d.path().join("payments.parquet");
    fs::copy(fixture("payments_snappy.parquet"), &f).unwrap();
    let m = mpath();
    let o = panscrub(&["scan", "-m", m.to_str().unwrap(), f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_no_pan("stdout", &o.stdout);
    let recs = manifest(&m);
    let found = kind(&recs, "finding");
    let got: Vec<(String, u64)> = found
        .iter()
        .map(|r| {
            (
                r["column_path"].as_str().unwrap().to_string(),
                r["row"].as_u64().unwrap(),
            )
        })
        .collect();
    let want: Vec<(String, u64)> = EXPECTED.iter().map(|(c, r)| (c.to_string(), *r)).collect();
    assert_eq!(got, want);
    // Field by field for one string cell, one nullable and one required
    // integer cell.
    let note1 = found
        .iter()
        .find(|r| r["column_path"] == "note" && r["row"] == 1)
        .unwrap();
    assert_eq!(note1["offset"], 10);
    assert_eq!(note1["length"], 19);
    assert_eq!(note1["masked"], "555555******4444");
    assert_eq!(note1["brand"], "mastercard");
    assert!(note1.get("line").is_none() && note1.get("masked_as").is_none());
    let nullable = found
        .iter()
        .find(|r| r["column_path"] == "card_number")
        .unwrap();
    assert_eq!(nullable["masked_as"], "null");
    let required = found
        .iter()
        .find(|r| r["column_path"] == "card_required")
        .unwrap();
    assert_eq!(required["masked_as"], "number");
    assert_eq!(required["masked"], "5555550000004444");
    let file = kind(&recs, "file")[0];
    assert_eq!(file["format"], "parquet");
    assert_eq!(file["findings"], 29);
    assert_no_pan("manifest", &fs::read(&m).unwrap());
}

#[test]
fn parquet_scrub_keeps_everything_but_the_pans() {
    let d = tmp();
    for codec in CODECS {
        let name = format!("payments_{codec}.parquet");
        fs::copy(fixture(&name), d.path().join(&name)).unwrap();
    }
    let m = scrub_ok(d.path());
    let recs = manifest(&m);
    assert_eq!(kind(&recs, "finding").len(), 29 * CODECS.len());
    assert!(kind(&recs, "finding")
        .iter()
        .all(|r| r["action"] == "truncated"));
    for codec in CODECS {
        let name = format!("payments_{codec}.parquet");
        let (a, ma) = read_all(&fixture(&name));
        let (b, mb) = read_all(&d.path().join(&name));
        // Same schema (field metadata included), key-value metadata, row
        // groups, row counts and codec of every column chunk.
        assert_eq!(a[0].schema(), b[0].schema(), "{name}");
        let kv =
            |m: &parquet::file::metadata::ParquetMetaData| -> BTreeSet<(String, Option<String>)> {
                m.file_metadata()
                    .key_value_metadata()
                    .into_iter()
                    .flatten()
                    .filter(|kv| kv.key != "ARROW:schema")
                    .map(|kv| (kv.key.clone(), kv.value.clone()))
                    .collect()
            };
        assert_eq!(kv(&ma), kv(&mb), "{name}");
        assert_eq!(ma.num_row_groups(), 3);
        assert_eq!(mb.num_row_groups(), 3);
        for (ga, gb) in ma.row_groups().iter().zip(mb.row_groups()) {
            assert_eq!(ga.num_rows(), gb.num_rows());
            for (ca, cb) in ga.columns().iter().zip(gb.columns()) {
                assert_eq!(ca.compression(), cb.compression(), "{name}");
            }
        }
        let a = arrow_select::concat::concat_batches(&a[0].schema(), &a).unwrap();
        let b = arrow_select::concat::concat_batches(&b[0].schema(), &b).unwrap();
        // Columns without PANs are identical; integer PANs became null
        // (nullable) or a non-PAN number (required).
        assert_eq!(a.column_by_name("id"), b.column_by_name("id"));
        let nullable = b
            .column_by_name("card_number")
            .unwrap()
            .as_primitive::<Int64Type>();
        for row in [0, 3, 6, 8] {
            assert!(nullable.is_null(row), "{name} card_number[{row}]");
        }
        assert_eq!(nullable.value(2), 1234567890123);
        assert_eq!(nullable.value(7), 4111111111111112);
        let required = b
            .column_by_name("card_required")
            .unwrap()
            .as_primitive::<Int64Type>();
        assert_eq!(required.null_count(), 0);
        assert_eq!(required.value(0), 5555550000004444);
        assert_eq!(required.value(1), 1);
        let note = b.column_by_name("note").unwrap().as_string::<i32>();
        assert_eq!(note.value(1), "paid with 5555 55** **** 4444 by phone");
        assert_eq!(note.value(2), "no card here");
        let raw = fs::read(d.path().join(&name)).unwrap();
        assert_no_pan(&name, &raw);
    }
    let again = panscrub(&["scan", d.path().to_str().unwrap()]);
    assert_eq!(
        again.status.code(),
        Some(0),
        "scrub then scan finds nothing"
    );
}

/// pyarrow reads the scrubbed files back and compares them value by value
/// with the originals. Required in CI (`PANSCRUB_REQUIRE_PYARROW=1`),
/// skipped with a note elsewhere when pyarrow is not installed.
#[test]
fn parquet_scrub_read_back_by_pyarrow() {
    let have_pyarrow = Command::new("python3")
        .args(["-c", "import pyarrow"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !have_pyarrow {
        assert!(
            std::env::var_os("PANSCRUB_REQUIRE_PYARROW").is_none(),
            "pyarrow is required here"
        );
        eprintln!("skipped: pyarrow not installed");
        return;
    }
    let d = tmp();
    for codec in CODECS {
        let name = format!("payments_{codec}.parquet");
        fs::copy(fixture(&name), d.path().join(&name)).unwrap();
    }
    scrub_ok(d.path());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/check_parquet.py");
    for codec in CODECS {
        let name = format!("payments_{codec}.parquet");
        let o = Command::new("python3")
            .arg(&script)
            .arg(fixture(&name))
            .arg(d.path().join(&name))
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "{said}");
        assert!(said.contains("28 cell(s) changed, 0 problem(s)"), "{said}");
    }
}

#[test]
fn parquet_statistics_hold_no_pan_after_scrub() {
    let d = tmp();
    let f = d.path().join("p.parquet");
    fs::copy(fixture("payments_zstd.parquet"), &f).unwrap();
    let before = fs::read(&f).unwrap();
    // The fixture's statistics hold PANs: the note column's minimum as
    // text, card_number's minimum and maximum as little-endian integers.
    let visa = 4111111111111111i64.to_le_bytes();
    let has = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    assert!(has(&before, b"4111111111111111"));
    assert!(has(&before, &visa));
    scrub_ok(&f);
    let after = fs::read(&f).unwrap();
    assert!(!has(&after, b"4111111111111111"));
    assert!(!has(&after, &visa));
    assert!(!has(&after, &5555555555554444i64.to_le_bytes()));
    assert_no_pan("rebuilt file", &after);
}

#[test]
fn corrupt_parquet_is_an_error_and_others_are_processed() {
    let d = tmp();
    let good = fs::read(fixture("payments_snappy.parquet")).unwrap();
    // Footer cut off; footer length pointing nowhere; a page overwritten.
    write(
        &d.path().join("truncated.parquet"),
        &good[..good.len() - 10],
    );
    let mut bad_len = good.clone();
    let n = bad_len.len();
    bad_len[n - 8..n - 4].copy_from_slice(&u32::MAX.to_le_bytes());
    write(&d.path().join("footer.parquet"), &bad_len);
    let mut bad_page = good.clone();
    for b in &mut bad_page[8..400] {
        *b = 0xff;
    }
    write(&d.path().join("page.parquet"), &bad_page);
    write(&d.path().join("ok.log"), b"card 4111111111111111\n");
    let (o, m) = scrub_with_manifest(d.path());
    assert_eq!(o.status.code(), Some(2));
    assert_no_pan("stderr", &o.stderr);
    let recs = manifest(&m);
    for name in ["truncated.parquet", "footer.parquet", "page.parquet"] {
        let r = kind(&recs, "file")
            .into_iter()
            .find(|r| r["path"].as_str().unwrap().ends_with(name))
            .unwrap();
        assert_eq!(r["status"], "error", "{name}");
        assert_eq!(r["format"], "parquet", "{name}");
        assert!(r["reason"].as_str().unwrap().contains("parquet"), "{name}");
    }
    // Not rewritten.
    assert_eq!(fs::read(d.path().join("page.parquet")).unwrap(), bad_page);
    assert_eq!(
        fs::read_to_string(d.path().join("ok.log")).unwrap(),
        "card 411111******1111\n"
    );
    assert_no_pan("manifest", &fs::read(&m).unwrap());
}

#[test]
fn parquet_out_mirror_and_clean_file_untouched() {
    let d = tmp();
    let src = d.path().join("in");
    fs::create_dir_all(&src).unwrap();
    fs::copy(fixture("payments_gzip.parquet"), src.join("p.parquet")).unwrap();
    fs::copy(fixture("clean.parquet"), src.join("clean.parquet")).unwrap();
    let clean_mtime = fs::metadata(src.join("clean.parquet"))
        .unwrap()
        .modified()
        .unwrap();
    let out = d.path().join("out");
    scrub_out_ok(&out, &src, None);
    assert_eq!(
        fs::read(src.join("p.parquet")).unwrap(),
        fs::read(fixture("payments_gzip.parquet")).unwrap()
    );
    let copy = out.join("in/p.parquet");
    assert_no_pan("mirror copy", &fs::read(&copy).unwrap());
    let (b, _) = read_all(&copy);
    assert_eq!(b.iter().map(|b| b.num_rows()).sum::<usize>(), 10);
    // A file without findings is never rewritten in place.
    let o = panscrub(&["scrub", "-q", src.join("clean.parquet").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        fs::metadata(src.join("clean.parquet"))
            .unwrap()
            .modified()
            .unwrap(),
        clean_mtime
    );
}

/// Files found by fuzzing (`fuzz/fuzz_targets/parquet.rs`) on which the
/// parquet crate's level decoder panics: an error for that input, reported
/// as corrupt, not an internal error, and nothing leaks.
#[test]
fn decoder_panic_on_fuzzed_parquet_is_an_input_error() {
    let d = tmp();
    fs::copy(
        fixture("fuzz-crash-def-levels.parquet"),
        d.path().join("fuzzed.parquet"),
    )
    .unwrap();
    // The second one trips a debug assertion of the parquet crate (a panic
    // in test builds, a plain error in release builds).
    fs::copy(
        fixture("fuzz-crash-column-range.parquet"),
        d.path().join("fuzzed2.parquet"),
    )
    .unwrap();
    write(&d.path().join("ok.log"), b"card 4111111111111111\n");
    let (o, m) = scrub_with_manifest(d.path());
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("decoder failed on malformed data"),
        "{stderr}"
    );
    assert!(!stderr.contains("internal error"), "{stderr}");
    assert_no_pan("stderr", &o.stderr);
    assert_no_pan("manifest", &fs::read(&m).unwrap());
    assert_eq!(
        fs::read_to_string(d.path().join("ok.log")).unwrap(),
        "card 411111******1111\n"
    );
}

/// A warehouse extract written by pyarrow (`scripts/make_warehouse_parquet.py`:
/// 24,000 rows in 5 row groups, page indexes, statistics and bloom filters
/// on, free text where most rows hold references glued to 16 Luhn-valid
/// digits) scrubs with every codec pyarrow writes, data pages v1 and v2,
/// dictionary on and off: exit 0, every card truncated, every other value
/// unchanged (pyarrow and DuckDB read both files back, bloom filters kept:
/// `scripts/check_parquet.py`) and a rescan clean.
/// Snappy files were refused before: the check scanned the compressed
/// bytes, where a copy tag splits `ref` from its digits.
#[test]
fn warehouse_parquet_from_pyarrow_scrubs_with_every_codec() {
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let d = tmp();
    let layouts = [("v1", "dict"), ("v2", "nodict")];
    for codec in ["snappy", "gzip", "zstd", "lz4", "brotli", "none"] {
        for (page, dict) in layouts {
            let name = format!("{codec}_{page}_{dict}");
            let original = d.path().join(format!("{name}.orig"));
            let st = Command::new("python3")
                .arg(scripts.join("make_warehouse_parquet.py"))
                .args([original.to_str().unwrap(), codec, page, dict])
                .status()
                .unwrap();
            assert!(st.success(), "{name}: pyarrow could not write the file");
            let f = d.path().join(format!("{name}.parquet"));
            fs::copy(&original, &f).unwrap();
            let (o, m) = scrub_with_manifest(&f);
            assert_exit(&o, 0);
            let recs = manifest(&m);
            let found = kind(&recs, "finding");
            assert_eq!(found.len(), 5108, "{name}");
            assert!(found.iter().all(|f| f["action"] == "truncated"), "{name}");
            assert_only_cards_changed(&original, &f, 5108, &name);
            let again = panscrub(&["scan", "-q", f.to_str().unwrap()]);
            assert_exit(&again, 0);
        }
    }
}

/// Asserts, with pyarrow and DuckDB reading both files back
/// (`scripts/check_parquet.py --duckdb`), that `rebuilt` differs from
/// `original` in exactly `changed` cells, each a card or code masked, and
/// keeps its schema, metadata, row groups, codecs and bloom filters.
pub(crate) fn assert_only_cards_changed(
    original: &Path,
    rebuilt: &Path,
    changed: usize,
    what: &str,
) {
    let o = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/check_parquet.py"))
        .arg("--duckdb")
        .arg(original)
        .arg(rebuilt)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{what}: {said}");
    assert!(
        said.contains(&format!("{changed} cell(s) changed, 0 problem(s)")),
        "{what}: {said}"
    );
}

/// Metadata is data too: a PAN in the file's key-value metadata (pyarrow's
/// schema metadata, also stored base64-encoded in `ARROW:schema`), in a
/// field's metadata or in a column name is found by `scan`, located by
/// `member`; a scrub masks the metadata in both copies (pyarrow reads the
/// masked text back) and reports a column name without renaming it.
#[test]
fn parquet_metadata_and_column_names_are_scanned_and_metadata_masked() {
    let d = tmp();
    let meta = d.path().join("meta.parquet");
    let named = d.path().join("named.parquet");
    let st = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, pyarrow as pa, pyarrow.parquet as pq\n\
             card = pa.field('card', pa.string()).with_metadata({'comment': 'e.g. 5555555555554444'})\n\
             schema = pa.schema([pa.field('id', pa.string()), card], metadata={'note': 'billing card 6011111111111117'})\n\
             pq.write_table(pa.table({'id': ['a1', 'a2'], 'card': ['4111111111111111', 'none']}, schema=schema), sys.argv[1])\n\
             pq.write_table(pa.table({'id': ['x'], '378282246310005': ['y']}), sys.argv[2])\n\
             pq.write_table(pa.table({'s': [{'378282246310005': '4111111111111111'}]}), sys.argv[3])\n\
             inner = pa.field('card', pa.string()).with_metadata({'comment': 'e.g. 5555555555554444'})\n\
             entry = pa.field('item', pa.string()).with_metadata({'k': 'list 378282246310005'})\n\
             deep = pa.schema([pa.field('s', pa.struct([inner])), pa.field('l', pa.list_(entry))])\n\
             pq.write_table(pa.table({'s': [{'card': 'x'}], 'l': [['y']]}, schema=deep), sys.argv[4])\n",
        )
        .args([
            &meta,
            &named,
            &d.path().join("nested.parquet"),
            &d.path().join("deep.parquet"),
        ])
        .status()
        .unwrap();
    assert!(st.success());
    let m = mpath();
    let o = panscrub(&["scan", "-m", m.to_str().unwrap(), meta.to_str().unwrap()]);
    assert_exit(&o, 1);
    assert_no_pan("scan stdout", &o.stdout);
    let places: BTreeSet<String> = kind(&manifest(&m), "finding")
        .iter()
        .map(|f| f["member"].as_str().unwrap_or("(cell)").to_string())
        .collect();
    let want: BTreeSet<String> = ["(cell)", "metadata.note", "schema.card.metadata.comment"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(places, want);
    let (o, m) = scrub_with_manifest(&meta);
    assert_exit(&o, 0);
    let found = kind(&manifest(&m), "finding").len();
    assert_eq!(found, 3);
    let back = Command::new("python3")
        .arg("-c")
        .arg(
            "import sys, base64, pyarrow.parquet as pq\n\
             f = pq.ParquetFile(sys.argv[1])\n\
             print(f.schema_arrow.metadata[b'note'].decode())\n\
             print(f.schema_arrow.field('card').metadata[b'comment'].decode())\n\
             print(base64.b64decode(f.metadata.metadata[b'ARROW:schema']).decode('latin-1'))\n",
        )
        .arg(&meta)
        .output()
        .unwrap();
    assert!(back.status.success());
    let said = String::from_utf8_lossy(&back.stdout);
    assert!(said.contains("billing card 601111******1117"), "{said}");
    assert!(said.contains("e.g. 555555******4444"), "{said}");
    assert_no_pan("metadata read back", &back.stdout);
    assert_exit(&panscrub(&["scan", "-q", meta.to_str().unwrap()]), 0);

    // A PAN in a nested column's name is masked wherever the column path
    // is printed (it was printed in full after `s.`).
    let nested = d.path().join("nested.parquet");
    let m = mpath();
    let o = panscrub(&["scan", "-m", m.to_str().unwrap(), nested.to_str().unwrap()]);
    assert_exit(&o, 1);
    assert_no_pan("nested scan stdout", &o.stdout);
    assert_no_pan("nested scan manifest", &fs::read(&m).unwrap());

    // Metadata of nested fields (a struct's field, a list's entry) is found
    // and masked too, in the schema pyarrow reads back.
    let deep = d.path().join("deep.parquet");
    let m = mpath();
    let o = panscrub(&["scan", "-m", m.to_str().unwrap(), deep.to_str().unwrap()]);
    assert_exit(&o, 1);
    let places: BTreeSet<String> = kind(&manifest(&m), "finding")
        .iter()
        .map(|f| f["member"].as_str().unwrap().to_string())
        .collect();
    let want: BTreeSet<String> = [
        "schema.s.card.metadata.comment",
        "schema.l.element.metadata.k",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(places, want);
    let (o, _) = scrub_with_manifest(&deep);
    assert_exit(&o, 0);
    let back = Command::new("python3")
        .arg("-c")
        .arg("import sys, pyarrow.parquet as pq\nprint(pq.ParquetFile(sys.argv[1]).schema_arrow)\n")
        .arg(&deep)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&back.stdout);
    assert!(
        said.contains("e.g. 555555******4444") && said.contains("list 378282*****0005"),
        "{said}"
    );
    assert_no_pan("nested metadata read back", &back.stdout);

    // A column name is reported and left: the file is not rewritten.
    let before = fs::read(&named).unwrap();
    let (o, m) = scrub_with_manifest(&named);
    assert_exit(&o, 1);
    let recs = manifest(&m);
    let f = kind(&recs, "finding");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["member"], "schema.378282*****0005");
    assert_eq!(f[0]["action"], "reported");
    assert!(kind(&recs, "file")[0].to_string().contains("column name"));
    assert_eq!(fs::read(&named).unwrap(), before);
}
