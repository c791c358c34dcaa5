//! Unit tests of the Parquet adapter.

use super::*;
use crate::format::budget::Budget;
use arrow_array::builder::{FixedSizeListBuilder, MapBuilder, StringBuilder};
use arrow_array::{Decimal128Array, UInt64Array};
use arrow_schema::{Field, Schema};

/// What a `Cx` borrows, with the default policy (6+4, `*`).
#[derive(Default)]
pub(super) struct Setup {
    det: Detector,
    policy: MaskPolicy,
    allow: crate::policy::Policy,
}

impl Setup {
    pub(super) fn cx(&self) -> Cx<'_> {
        Cx {
            det: &self.det,
            policy: &self.policy,
            allow: self.allow.for_input(std::path::Path::new("t.parquet")),
        }
    }
}

pub(super) fn meter() -> Meter {
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
    let dict: DictionaryArray<Int32Type> = vec!["4567", "abc", "4567", "x"].into_iter().collect();
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

/// A PAN on the allow list in the file's key-value metadata is reported as
/// allowed, so the rebuild leaves it (and masks the other), and
/// verification accepts what it left.
#[test]
fn an_allowed_pan_in_metadata_is_left_and_the_rest_masked() {
    use parquet::file::metadata::KeyValue;
    let mut run = Setup::default();
    run.allow
        .list
        .add("4111111111111111", &String::new)
        .unwrap();
    let cx = run.cx();
    let cards = arrow_array::StringArray::from(vec!["a note"]);
    let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Utf8, false)]));
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(cards)]).unwrap();
    let note = "test 4111111111111111, real 5555555555554444";
    let props = WriterProperties::builder()
        .set_key_value_metadata(Some(vec![KeyValue::new("note".into(), note.to_string())]))
        .build();
    let mut f = tempfile::NamedTempFile::new().unwrap();
    let mut w = ArrowWriter::try_new(f.as_file_mut(), schema, Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    let mut out = tempfile::NamedTempFile::new().unwrap();
    rebuild(&cx, &meter(), f.as_file(), out.as_file_mut()).unwrap();
    verify(&cx, &meter(), f.as_file(), out.as_file()).unwrap();
    let back = ParquetRecordBatchReaderBuilder::try_new(out.reopen().unwrap()).unwrap();
    let kv = back
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .unwrap();
    let note = kv.iter().find(|kv| kv.key == "note").unwrap();
    assert_eq!(
        note.value.as_deref(),
        Some("test 4111111111111111, real 555555******4444")
    );
}
