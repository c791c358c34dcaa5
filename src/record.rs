//! Manifest records, typed once: the run writes them, `report` and `merge`
//! read them back with the same types, so each key has one type and one
//! meaning everywhere (`docs/manifest.schema.json` publishes the schema).
//!
//! Reading accepts schema 1 too: its Parquet findings carried the column
//! path as `column` (a string); [`Record::parse`] moves it to
//! `column_path`, and a finding without `type` is a PAN.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use base64::Engine;
use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::detect::Detector;
use crate::mask::MaskPolicy;

/// Manifest schema version.
/// Version 2 gave Parquet's column path its own key (`column_path`), so
/// that `column` is always the 1-based byte column of a text line.
pub const SCHEMA_VERSION: u32 = 2;

/// A string that is usually a constant of the program.
pub type Name = Cow<'static, str>;

/// A path as it appears in output: PANs in it masked; UTF-8 as a string,
/// anything else as `{"bytes": base64}`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathText {
    /// A UTF-8 path.
    Utf8(String),
    /// A path that is not UTF-8, raw bytes.
    Bytes(Vec<u8>),
}

impl PathText {
    /// Converts a path, masking every PAN in it with `policy`.
    pub fn new(path: &Path, det: &Detector, policy: &MaskPolicy) -> PathText {
        let bytes = crate::manifest::mask_bytes(path.as_os_str().as_bytes(), det, policy);
        match String::from_utf8(bytes) {
            Ok(s) => PathText::Utf8(s),
            Err(e) => PathText::Bytes(e.into_bytes()),
        }
    }

    /// A lossy form for people (stderr, stdout).
    pub fn display(&self) -> String {
        match self {
            PathText::Utf8(s) => s.clone(),
            PathText::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        }
    }
}

impl Serialize for PathText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PathText::Utf8(p) => s.serialize_str(p),
            PathText::Bytes(b) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry(
                    "bytes",
                    &base64::engine::general_purpose::STANDARD.encode(b),
                )?;
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for PathText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<PathText, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Bytes { bytes: String },
        }
        match Raw::deserialize(d)? {
            Raw::Text(s) => Ok(PathText::Utf8(s)),
            Raw::Bytes { bytes } => base64::engine::general_purpose::STANDARD
                .decode(bytes)
                .map(PathText::Bytes)
                .map_err(D::Error::custom),
        }
    }
}

/// Masking policy as recorded in the `run` record.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PolicyRecord {
    /// `6+4`, `8+4` or `0+4`.
    pub keep: String,
    /// The mask character.
    pub mask_char: String,
    /// Version of the network table.
    pub iin_table_version: Name,
}

/// What was done with a finding.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Masked in the file (or in the `--out` copy).
    Truncated,
    /// Left in place (scan, report-only input, or the file changed).
    Reported,
    /// Left in place on purpose: on the allowlist (`--allow`,
    /// `--allow-test-cards`); does not change the exit code.
    Allowed,
}

/// Final state of one input.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    /// No PAN.
    Clean,
    /// Every finding truncated.
    Truncated,
    /// Findings left in place.
    Reported,
    /// Not processed on purpose (symlink, FIFO, device, ...).
    Skipped,
    /// Could not be processed.
    Error,
}

/// First line of a run.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct RunRecord {
    pub tool: Name,
    pub version: Name,
    pub schema: u32,
    pub mode: Name,
    pub started: String,
    pub roots: Vec<PathText>,
    pub policy: PolicyRecord,
    /// Identifies the run (random, 128 bits in hex): `merge` and `report`
    /// refuse the same run given twice. Absent before version 0.2.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub run_id: Option<String>,
    /// `scrub --out`: the directory the scrubbed copies were written to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub out: Option<PathText>,
    /// `--shard K/N`, as given.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub shard: Option<String>,
}

impl RunRecord {
    /// The run's identity: its `run_id`, or for manifests written before
    /// run ids existed, its start time, mode and roots.
    pub fn identity(&self) -> String {
        match &self.run_id {
            Some(id) => id.clone(),
            None => format!(
                "{} {} {:?} {:?}",
                self.started, self.mode, self.roots, self.shard
            ),
        }
    }
}

/// A new random run id (128 bits, hex).
pub fn new_run_id() -> String {
    use std::io::Read;
    let mut b = [0u8; 16];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b));
    if random.is_err() {
        // No /dev/urandom (a bare chroot): time and pid are unique enough
        // to tell runs apart, which is all the id is for.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        b[..12].copy_from_slice(&t.to_le_bytes()[..12]);
        b[12..].copy_from_slice(&std::process::id().to_le_bytes());
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn pan() -> Name {
    Cow::Borrowed("pan")
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One PAN, track or verification code.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FindingRecord {
    /// The input.
    pub path: PathText,
    /// Path inside an archive (`!`-joined).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub member: Option<String>,
    /// `pan`, `track1`, `track2` or `cvv` (absent in schema 1: `pan`).
    /// Offset and length cover the whole region remediated (a PAN with
    /// its track data).
    #[serde(rename = "type", default = "pan")]
    pub kind: Name,
    /// Byte offset of the first digit in the decoded file, member or cell.
    pub offset: u64,
    /// Bytes, separators included.
    pub length: usize,
    /// 1-based line (text).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub line: Option<u64>,
    /// 1-based byte column of the line (text).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub column: Option<u64>,
    /// Parquet: the column's dotted field path.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub column_path: Option<String>,
    /// The PAN's network; absent for a verification code.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub brand: Option<Name>,
    /// The masked form (`411111******1111`).
    pub masked: String,
    /// What was done.
    pub action: Action,
    /// The finding is in a file name (reserved).
    #[serde(skip_serializing_if = "is_false", default)]
    pub in_name: bool,
    /// CSV: 1-based data row; Parquet: 0-based row.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub row: Option<u64>,
    /// CSV: header name of the field.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub field: Option<String>,
    /// CSV: the record's `Id`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub record_id: Option<String>,
    /// CSV: the Salesforce object (file stem, e.g. `Contact`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub object: Option<String>,
    /// JSON/NDJSON: the path of the value holding the PAN
    /// (`$.records[3].Description`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub json_path: Option<String>,
    /// Excel: the sheet's name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sheet: Option<String>,
    /// Excel: the cell reference (`B7`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub cell: Option<String>,
    /// Excel: the index of the shared string holding the PAN.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub shared_string: Option<u64>,
    /// PowerPoint: the slide (or its notes) the part is named for.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub slide: Option<u64>,
    /// Word and PowerPoint: the 1-based paragraph of the part.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub paragraph: Option<u64>,
    /// PDF: the 1-based page.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub page: Option<u64>,
    /// `number` or `null` when the value was not masked with the mask
    /// character (a bare number, an integer cell).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub masked_as: Option<Name>,
    /// Keyed HMAC-SHA-256 of the PAN (with `--fingerprint-key`).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fingerprint: Option<String>,
}

/// One input, after its findings.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs)]
pub struct FileRecord {
    pub path: PathText,
    pub format: Name,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sha256_before: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sha256_after: Option<String>,
    pub findings: u64,
    pub status: FileStatus,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
    /// Bytes the file grew by while it was processed (an active log): the
    /// run worked on the `size` it had when opened; these bytes were not
    /// scanned and are left for the next run.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub appended: Option<u64>,
    /// What of the original's metadata (owner, mode, extended attributes)
    /// the rebuilt file or the `--out` copy could not keep.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub metadata_not_kept: Vec<String>,
    /// What in the input panscrub did not inspect: pictures (no OCR),
    /// each named (by member inside an archive). Their bytes were still
    /// scanned for text; the picture itself was not read.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub not_inspected: Vec<String>,
    /// Merged manifests, on an error: the run (a later attempt of the same
    /// job) that went through this input again and finished it. The error
    /// is kept as evidence and no longer counted.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub superseded_by: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Totals of a run (or of an input while it is processed): the counts of
/// the `summary` record, kept by the run and summed by `merge`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct Totals {
    /// Inputs processed (not skipped).
    pub files: u64,
    /// Inputs with at least one finding.
    pub files_with_findings: u64,
    /// All findings.
    pub findings: u64,
    /// Findings masked.
    pub truncated: u64,
    /// Findings left in place.
    pub reported: u64,
    /// Findings left alone on purpose (allowed).
    pub allowed: u64,
    /// Entries skipped on purpose.
    pub skipped: u64,
    /// Of those, inputs in a format panscrub cannot decode (a 7z or rar
    /// archive, a `pg_dump -Fc` dump): no all-clear for them, exit code 2.
    #[serde(skip_serializing_if = "is_zero", default)]
    pub undecoded: u64,
    /// Inputs that failed.
    pub errors: u64,
    /// Bytes scanned.
    pub bytes: u64,
    /// Findings holding a PAN, per brand.
    pub by_brand: BTreeMap<Name, u64>,
    /// Findings per type (`pan`, `track1`, `track2`, `cvv`).
    #[serde(default)]
    pub by_type: BTreeMap<Name, u64>,
}

impl Totals {
    /// Adds another input's, batch's or run's totals.
    pub fn merge(&mut self, o: &Totals) {
        self.files += o.files;
        self.files_with_findings += o.files_with_findings;
        self.findings += o.findings;
        self.truncated += o.truncated;
        self.reported += o.reported;
        self.allowed += o.allowed;
        self.skipped += o.skipped;
        self.undecoded += o.undecoded;
        self.errors += o.errors;
        self.bytes += o.bytes;
        for (k, v) in &o.by_brand {
            *self.by_brand.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.by_type {
            *self.by_type.entry(k.clone()).or_default() += v;
        }
    }

    /// Counts one finding and what was done with it.
    pub fn count(&mut self, brand: Option<&'static str>, kind: &'static str, action: Action) {
        self.findings += 1;
        match action {
            Action::Truncated => self.truncated += 1,
            Action::Reported => self.reported += 1,
            Action::Allowed => self.allowed += 1,
        }
        if let Some(b) = brand {
            *self.by_brand.entry(Cow::Borrowed(b)).or_default() += 1;
        }
        *self.by_type.entry(Cow::Borrowed(kind)).or_default() += 1;
    }
}

/// Last line of a run, or of a merged manifest. (Unknown keys are refused
/// by the published schema; serde cannot deny them through `flatten`.)
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default)]
pub struct SummaryRecord {
    /// The counts.
    #[serde(flatten)]
    pub totals: Totals,
    /// Wall-clock seconds (the longest run, when merged).
    pub elapsed_seconds: f64,
    /// Absent in a merged manifest (its runs overlapped in time). MB (10^6
    /// bytes) scanned per second: a compressed input counts what it decodes
    /// to.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub throughput_mb_s: Option<f64>,
    /// Bytes scanned: plain inputs their size, compressed ones what they
    /// decode to (absent in a merged manifest and before version 0.2).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub bytes_scanned: Option<u64>,
    /// The run's exit code (the highest, when merged).
    pub exit_code: i32,
    /// Merged manifests: how many runs were merged.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub merged_runs: Option<u64>,
    /// Merged manifests: how many of them ended with a summary.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub complete_runs: Option<u64>,
    /// The run this summary closes (absent in a merged manifest).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub run_id: Option<String>,
    /// Merged manifests: the ids of the runs that ended with a summary.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub complete_run_ids: Option<Vec<String>>,
    /// The run was stopped by a signal (`SIGINT`, `SIGTERM`): inputs not
    /// yet reached are not in the manifest.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub interrupted: Option<String>,
    /// Merged manifests: errors no longer counted because a later attempt
    /// of the same job finished those inputs (`superseded_by` on each).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub superseded_errors: Option<u64>,
}

/// One manifest line.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Record {
    /// First line of a run.
    Run(RunRecord),
    /// One PAN, track or verification code.
    Finding(FindingRecord),
    /// One input, after its findings.
    File(FileRecord),
    /// Last line.
    Summary(SummaryRecord),
}

impl Record {
    /// Whether this is a panscrub `run` record: the first line of every
    /// manifest, and what `--manifest` and `report` recognise one by.
    pub fn is_panscrub_run(&self) -> bool {
        matches!(self, Record::Run(r) if r.tool == "panscrub")
    }

    /// Reads one manifest line of schema 1 or 2.
    pub fn parse(line: &str) -> Result<Record, serde_json::Error> {
        match Self::parse_as_written(line) {
            Some(r) => Ok(r),
            None => Self::parse_any(line),
        }
    }

    /// Reads a finding or file record laid out as this version writes it
    /// (`kind` first), straight into its struct: the lines that make up
    /// nearly all of a manifest, read several times faster than through
    /// the tagged enum, which buffers every field first. `None` for any
    /// other line, which [`Record::parse`] then reads the general way (a
    /// line read here reads the same there).
    pub fn parse_as_written(line: &str) -> Option<Record> {
        const FINDING: &str = r#"{"kind":"finding","#;
        const FILE: &str = r#"{"kind":"file","#;
        let body = |prefix: &str| {
            let rest = line.strip_prefix(prefix)?;
            let mut s = String::with_capacity(rest.len() + 1);
            s.push('{');
            s.push_str(rest);
            Some(s)
        };
        if let Some(s) = body(FINDING) {
            return serde_json::from_str(&s).ok().map(Record::Finding);
        }
        if let Some(s) = body(FILE) {
            return serde_json::from_str(&s).ok().map(Record::File);
        }
        None
    }

    fn parse_any(line: &str) -> Result<Record, serde_json::Error> {
        let mut v: serde_json::Value = serde_json::from_str(line)?;
        if v["kind"] == "finding" && v["column"].is_string() {
            // Schema 1: a Parquet finding's column path was `column`.
            if let Some(o) = v.as_object_mut() {
                if let Some(path) = o.remove("column") {
                    o.insert("column_path".into(), path);
                }
            }
        }
        serde_json::from_value(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_as_written() {
        let f = Record::Finding(FindingRecord {
            path: PathText::Bytes(vec![0xff, b'a']),
            member: Some("a.zip!b.csv".into()),
            kind: "pan".into(),
            offset: 3,
            length: 16,
            line: Some(1),
            column: Some(4),
            column_path: None,
            brand: Some("visa".into()),
            masked: "411111******1111".into(),
            action: Action::Truncated,
            in_name: false,
            row: Some(1),
            field: Some("Card".into()),
            record_id: None,
            object: Some("Contact".into()),
            json_path: None,
            sheet: None,
            cell: None,
            shared_string: None,
            slide: None,
            paragraph: None,
            page: None,
            masked_as: None,
            fingerprint: None,
        });
        let line = serde_json::to_string(&f).unwrap();
        assert_eq!(Record::parse(&line).unwrap(), f);
        // The quick reading gives what the general one gives.
        assert_eq!(Record::parse_as_written(&line), Some(f.clone()));
        assert_eq!(Record::parse_any(&line).unwrap(), f);
    }

    #[test]
    fn the_quick_reading_leaves_every_other_line_to_the_general_one() {
        for line in [
            // Schema 1: `column` was the Parquet column's path.
            r#"{"kind":"finding","path":"a.parquet","offset":0,"length":16,"column":"card","row":2,"brand":"visa","masked":"411111******1111","action":"reported"}"#,
            // `kind` not first.
            r#"{"path":"a","kind":"file","format":"text","size":1,"findings":0,"status":"clean"}"#,
            // A key given twice: the general reading keeps the last.
            r#"{"kind":"file","path":"a","path":"b","format":"text","size":1,"findings":0,"status":"clean"}"#,
            r#"{"kind":"summary","files":0}"#,
        ] {
            assert_eq!(Record::parse_as_written(line), None, "{line}");
        }
    }

    #[test]
    fn schema_1_parquet_column_becomes_column_path_and_type_defaults_to_pan() {
        let v1 = r#"{"kind":"finding","path":"a.parquet","offset":0,"length":16,"column":"card","row":2,"brand":"visa","masked":"411111******1111","action":"reported"}"#;
        let Record::Finding(f) = Record::parse(v1).unwrap() else {
            panic!("a finding")
        };
        assert_eq!(f.column_path.as_deref(), Some("card"));
        assert_eq!(f.column, None);
        assert_eq!(f.kind, "pan");
    }

    #[test]
    fn a_key_of_the_wrong_type_or_an_unknown_key_is_refused() {
        for bad in [
            r#"{"kind":"file","path":"a","format":"text","size":"big","findings":0,"status":"clean"}"#,
            r#"{"kind":"file","path":"a","format":"text","size":1,"findings":0,"status":"clean","colour":1}"#,
            r#"{"kind":"nothing"}"#,
        ] {
            assert!(Record::parse(bad).is_err(), "{bad}");
        }
    }
}
