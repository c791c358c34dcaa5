//! Findings outside the values: the file's metadata (key-value entries, as
//! the Arrow schema's metadata, which also holds pyarrow's `pandas` JSON),
//! the metadata of every field at any depth (struct fields, list and map
//! entries), and column names.
//!
//! Metadata is masked in the rebuild: in the key-value entries and in the
//! Arrow schema the writer encodes again under `ARROW:schema` (base64,
//! where a PAN would otherwise survive unseen by any text scan). Column
//! names are reported, never renamed (a renamed column breaks every reader
//! of the file), like a PAN in a file name.

use std::collections::BTreeMap;

use arrow_schema::{Field, FieldRef, Metadata, Schema};
use base64::Engine as _;

use super::*;
use crate::manifest::mask_text;

/// Why a PAN in a column name is left in place.
const COLUMN_NAME: &str = "a PAN in a Parquet column name: report-only (columns are not renamed)";

/// The findings in the metadata and column names of an opened file.
pub(super) fn metadata_hits(cx: &Cx, meta: &ArrowReaderMetadata) -> Vec<Hit> {
    let mut out = Vec::new();
    let schema = meta.schema();
    // Each part of a place is masked on its own: joined first, a PAN after
    // a dot (`schema.378282246310005`) would not stand alone.
    let masked = |t: &str| mask_text(t, cx.det, cx.policy);
    for (k, v) in schema.metadata().iter() {
        let place = format!("metadata.{}", masked(k));
        found_in(cx, &place, k, None, &mut out);
        found_in(cx, &place, v, None, &mut out);
    }
    // Fields at any depth: a struct's fields, a list's or map's entries.
    let mut fields: Vec<(String, &FieldRef)> = schema
        .fields()
        .iter()
        .rev()
        .map(|f| (masked(f.name()), f))
        .collect();
    while let Some((name, field)) = fields.pop() {
        for (k, v) in field.metadata().iter() {
            let place = format!("schema.{name}.metadata.{}", masked(k));
            found_in(cx, &place, k, None, &mut out);
            found_in(cx, &place, v, None, &mut out);
        }
        for child in children(field.data_type()).into_iter().rev() {
            fields.push((format!("{name}.{}", masked(child.name())), child));
        }
    }
    let mut names = std::collections::BTreeSet::new();
    for column in meta.metadata().file_metadata().schema_descr().columns() {
        let parts = column.path().parts();
        for n in 1..=parts.len() {
            names.insert(parts[..n].to_vec());
        }
    }
    for path in names {
        let parts: Vec<String> = path.iter().map(|p| masked(p)).collect();
        let place = format!("schema.{}", parts.join("."));
        let name = path.last().map(String::as_str).unwrap_or("");
        found_in(cx, &place, name, Some(COLUMN_NAME), &mut out);
    }
    out
}

/// Adds the PANs in `text`, found at `place` (its parts masked already).
fn found_in(
    cx: &Cx,
    place: &str,
    text: &str,
    report_only: Option<&'static str>,
    out: &mut Vec<Hit>,
) {
    for f in cx.det.find_iter(text.as_bytes()) {
        out.push(Hit {
            finding: f,
            at: Location {
                member: Some(place.to_string()),
                offset: f.offset,
                ..Location::default()
            },
            masked_as: MaskedAs::Text,
            report_only,
            encoded: None,
        });
    }
}

/// `text` (a metadata key or value) with every PAN masked that the policy
/// does not allow: an allowed one is reported as left, so it is left.
pub(super) fn mask_metadata(cx: &Cx, text: &str) -> String {
    let masked = crate::manifest::mask_bytes_where(text.as_bytes(), cx.det, cx.policy, &|f| {
        !cx.allow.allows_in(f, None)
    });
    String::from_utf8_lossy(&masked).into_owned()
}

/// The schema the rebuild writes: the original's, with every PAN in its
/// metadata and in its top-level fields' metadata masked (names kept).
pub(super) fn masked_schema(cx: &Cx, schema: &Schema) -> Schema {
    let mask = |m: &Metadata| -> BTreeMap<String, String> {
        m.iter()
            .map(|(k, v)| (mask_metadata(cx, k), mask_metadata(cx, v)))
            .collect()
    };
    fn field(f: &Field, mask: &dyn Fn(&Metadata) -> BTreeMap<String, String>) -> Field {
        let kids: Vec<FieldRef> = children(f.data_type())
            .into_iter()
            .map(|c| Arc::new(field(c, mask)))
            .collect();
        f.clone()
            .with_data_type(with_children(f.data_type(), kids))
            .with_metadata(mask(f.metadata()))
    }
    let fields: Vec<Field> = schema.fields().iter().map(|f| field(f, &mask)).collect();
    Schema::new_with_metadata(fields, mask(schema.metadata()))
}

/// `batch` with its columns' types made those of `schema`, which differ
/// only in nested fields' metadata (masked by [`masked_schema`]): the
/// values are the same, the types carry the field metadata.
pub(super) fn with_schema(
    batch: &RecordBatch,
    schema: &Arc<Schema>,
) -> Result<RecordBatch, ArrowError> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(a, f)| retype(a, f.data_type()))
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema.clone(), columns)
}

fn retype(array: &ArrayRef, to: &DataType) -> Result<ArrayRef, ArrowError> {
    if array.data_type() == to {
        return Ok(array.clone());
    }
    let data = array.to_data();
    let kinds: Vec<&DataType> = children(to).iter().map(|f| f.data_type()).collect();
    let mut builder = data.clone().into_builder().data_type(to.clone());
    if !kinds.is_empty() {
        let kids = data
            .child_data()
            .iter()
            .zip(kinds)
            .map(|(c, t)| retype(&arrow_array::make_array(c.clone()), t).map(|a| a.to_data()))
            .collect::<Result<Vec<_>, _>>()?;
        builder = builder.child_data(kids);
    }
    Ok(arrow_array::make_array(builder.build()?))
}

/// The fields a nested type holds: a struct's, or the entry of a list or
/// map; none for other types.
fn children(t: &DataType) -> Vec<&FieldRef> {
    match t {
        DataType::Struct(fields) => fields.iter().collect(),
        DataType::List(f)
        | DataType::LargeList(f)
        | DataType::ListView(f)
        | DataType::LargeListView(f)
        | DataType::FixedSizeList(f, _)
        | DataType::Map(f, _) => vec![f],
        _ => Vec::new(),
    }
}

/// `t` with its child fields replaced by `kids` (in [`children`]'s order).
fn with_children(t: &DataType, mut kids: Vec<FieldRef>) -> DataType {
    let mut one = || kids.pop().expect("one child field");
    match t {
        DataType::Struct(_) => DataType::Struct(kids.into()),
        DataType::List(_) => DataType::List(one()),
        DataType::LargeList(_) => DataType::LargeList(one()),
        DataType::ListView(_) => DataType::ListView(one()),
        DataType::LargeListView(_) => DataType::LargeListView(one()),
        DataType::FixedSizeList(_, n) => DataType::FixedSizeList(one(), *n),
        DataType::Map(_, sorted) => DataType::Map(one(), *sorted),
        other => other.clone(),
    }
}

/// The Arrow schema stored under `ARROW:schema`, decoded from base64 (its
/// IPC bytes, where names and metadata are plain text), when present.
pub(super) fn arrow_schema_bytes(pq: &ParquetMetaData) -> Option<Vec<u8>> {
    let kv = rebuild::key_values(pq)
        .into_iter()
        .find(|kv| kv.key == ARROW_SCHEMA_KEY)?;
    base64::engine::general_purpose::STANDARD
        .decode(kv.value?.trim())
        .ok()
}
