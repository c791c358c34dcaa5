//! Findings outside the values: the file's metadata (key-value entries, as
//! the Arrow schema's metadata, which also holds pyarrow's `pandas` JSON),
//! the metadata of each top-level field, and column names.
//!
//! Metadata is masked in the rebuild: in the key-value entries and in the
//! Arrow schema the writer encodes again under `ARROW:schema` (base64,
//! where a PAN would otherwise survive unseen by any text scan). Column
//! names are reported, never renamed (a renamed column breaks every reader
//! of the file), like a PAN in a file name.

use std::collections::BTreeMap;

use arrow_schema::{Field, Metadata, Schema};
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
    for field in schema.fields() {
        for (k, v) in field.metadata().iter() {
            let place = format!("schema.{}.metadata.{}", masked(field.name()), masked(k));
            found_in(cx, &place, k, None, &mut out);
            found_in(cx, &place, v, None, &mut out);
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

/// The schema the rebuild writes: the original's, with every PAN in its
/// metadata and in its top-level fields' metadata masked (names kept).
pub(super) fn masked_schema(cx: &Cx, schema: &Schema) -> Schema {
    let mask = |m: &Metadata| -> BTreeMap<String, String> {
        m.iter()
            .map(|(k, v)| {
                (
                    mask_text(k, cx.det, cx.policy),
                    mask_text(v, cx.det, cx.policy),
                )
            })
            .collect()
    };
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_metadata(mask(f.metadata())))
        .collect();
    Schema::new_with_metadata(fields, mask(schema.metadata()))
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
