//! The manifest: JSON Lines, schema version 2 (`docs/manifest.schema.json`;
//! the records are typed in `record.rs`), written by one
//! thread from a bounded channel so that workers never block on each other
//! and every line is complete and flushed as soon as its file is done (a
//! killed run still leaves a useful manifest).
//!
//! Record kinds, one JSON object per line:
//! - `run` (first): tool, version, schema, mode, started, roots, policy.
//! - `finding`: path, member?, type (`pan` | `track1` | `track2` | `cvv`),
//!   offset, length, line, column, brand (absent for `cvv`), masked,
//!   action (`truncated` | `reported` | `allowed`); CSV adds row, field,
//!   record_id and object; JSON adds json_path; Parquet gives
//!   `column_path` and `row` 0-based (offset inside the cell, no line or
//!   column); `masked_as` (`number` | `null`) when the value was not masked
//!   with the mask character.
//! - `file`: path, format, size, sha256_before?, sha256_after?, findings,
//!   status (`clean|truncated|reported|skipped|error`), reason?.
//! - `summary` (last): counts, bytes, elapsed_seconds, throughput_mb_s,
//!   by_brand, by_type, exit_code.
//!
//! Paths are UTF-8 strings, or `{"bytes": "<base64>"}` when the name is not
//! UTF-8. Any PAN inside a path is masked before it is written anywhere.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

use crate::detect::Detector;
use crate::mask::MaskPolicy;

/// `raw` with every PAN in it masked.
pub fn mask_bytes(raw: &[u8], det: &Detector, policy: &MaskPolicy) -> Vec<u8> {
    mask_bytes_where(raw, det, policy, &|_| true)
}

/// `raw` with every PAN for which `mask` holds masked (the others, allowed
/// by the policy, left as they are).
pub fn mask_bytes_where(
    raw: &[u8],
    det: &Detector,
    policy: &MaskPolicy,
    mask: &dyn Fn(&crate::detect::Finding) -> bool,
) -> Vec<u8> {
    let mut bytes = raw.to_vec();
    for f in det.find_iter(raw).iter().filter(|f| mask(f)) {
        let s = f.offset as usize;
        bytes[s..s + f.len()].copy_from_slice(policy.mask(f).as_bytes());
    }
    bytes
}

/// `text` with every PAN in it masked (names, ids, headers).
pub fn mask_text(text: &str, det: &Detector, policy: &MaskPolicy) -> String {
    String::from_utf8_lossy(&mask_bytes(text.as_bytes(), det, policy)).into_owned()
}

pub use crate::record::{
    Action, FileRecord, FileStatus, FindingRecord, PathText, PolicyRecord, Record, RunRecord,
    SummaryRecord, SCHEMA_VERSION,
};

/// Sends records to the writer thread. Cheap to clone.
#[derive(Clone)]
pub struct ManifestSender {
    tx: Option<SyncSender<Vec<Record>>>,
}

/// Most records in one message: the channel holds at most
/// `QUEUED_MESSAGES` messages, so this bounds the records waiting for the
/// writer (a file with a PAN every few bytes makes 100,000s per batch,
/// faster than they can be encoded).
const RECORDS_PER_MESSAGE: usize = 256;
/// Messages the channel holds before senders wait for the writer.
const QUEUED_MESSAGES: usize = 256;

impl ManifestSender {
    /// Queues a batch of records (all of one file), in order.
    pub fn send(&self, batch: Vec<Record>) {
        let Some(tx) = &self.tx else { return };
        // The writer only stops early on a write error, which it reports
        // at join; dropping records then is all that can be done.
        if batch.len() <= RECORDS_PER_MESSAGE {
            let _ = tx.send(batch);
            return;
        }
        let mut records = batch.into_iter();
        loop {
            let part: Vec<Record> = records.by_ref().take(RECORDS_PER_MESSAGE).collect();
            if part.is_empty() || tx.send(part).is_err() {
                return;
            }
        }
    }
}

/// The writer thread and its sender.
pub struct ManifestWriter {
    sender: ManifestSender,
    handle: Option<JoinHandle<io::Result<()>>>,
}

impl ManifestWriter {
    /// No manifest: records are dropped.
    pub fn disabled() -> ManifestWriter {
        ManifestWriter {
            sender: ManifestSender { tx: None },
            handle: None,
        }
    }

    /// Creates (or truncates) `path` with mode 0600 and starts the writer.
    /// With `sorted`, finding and file lines are held back and written in
    /// path order at the end (a reproducible evidence report; an
    /// interrupted sorted run leaves only its `run` line).
    pub fn create(path: &Path, sorted: bool) -> io::Result<ManifestWriter> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)?;
        // An existing file keeps its mode on open: force owner-only. Only
        // for a file on disk: a manifest sent to `/dev/null`, a FIFO or a
        // terminal must not change that device's mode (run as root, this
        // would lock every other user out of `/dev/null`).
        if file.metadata()?.file_type().is_file() {
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        let (tx, rx) = sync_channel::<Vec<Record>>(QUEUED_MESSAGES);
        let handle = std::thread::Builder::new()
            .name("manifest".into())
            .spawn(move || write_loop(file, rx, sorted))?;
        Ok(ManifestWriter {
            sender: ManifestSender { tx: Some(tx) },
            handle: Some(handle),
        })
    }

    /// A sender for workers.
    pub fn sender(&self) -> ManifestSender {
        self.sender.clone()
    }

    /// Closes the channel and waits for every line to be written and synced.
    pub fn finish(mut self) -> io::Result<()> {
        self.sender.tx = None;
        match self.handle.take() {
            Some(h) => h
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("manifest writer panicked"))),
            None => Ok(()),
        }
    }
}

/// Sort key of a held-back line: path, then findings before the file line,
/// then member and offset.
pub type SortKey = (PathText, u8, Option<String>, u64);

/// Where a record goes in a `--sort` manifest (run and summary: none).
pub fn sort_key(r: &Record) -> Option<SortKey> {
    match r {
        Record::Finding(f) => Some((f.path.clone(), 0, f.member.clone(), f.offset)),
        Record::File(f) => Some((f.path.clone(), 1, None, 0)),
        _ => None,
    }
}

fn write_loop(mut file: File, rx: Receiver<Vec<Record>>, sorted: bool) -> io::Result<()> {
    if sorted {
        return write_sorted(file, rx);
    }
    let mut buf = Vec::with_capacity(64 * 1024);
    while let Ok(batch) = rx.recv() {
        encode(&mut buf, &batch)?;
        // Drain what is already queued, then write once: one syscall per
        // burst, and complete lines on disk as soon as the queue is empty.
        while let Ok(more) = rx.try_recv() {
            encode(&mut buf, &more)?;
            if buf.len() > 1 << 20 {
                break;
            }
        }
        file.write_all(&buf)?;
        buf.clear();
    }
    sync_if_regular(&file)
}

/// Makes the manifest durable when it is a file on disk. A manifest sent to
/// a pipe, a terminal or `/dev/null` has nothing to sync (fsync fails there
/// with EINVAL), and asking for one is a normal thing to do.
fn sync_if_regular(file: &File) -> io::Result<()> {
    if file.metadata()?.file_type().is_file() {
        file.sync_all()
    } else {
        Ok(())
    }
}

fn write_sorted(mut file: File, rx: Receiver<Vec<Record>>) -> io::Result<()> {
    let mut held: Vec<(SortKey, Vec<u8>)> = Vec::new();
    let mut tail = Vec::new();
    while let Ok(batch) = rx.recv() {
        for r in batch {
            let mut line = Vec::new();
            encode(&mut line, std::slice::from_ref(&r))?;
            match sort_key(&r) {
                Some(k) => held.push((k, line)),
                None if matches!(r, Record::Run(_)) => file.write_all(&line)?,
                None => tail.extend_from_slice(&line),
            }
        }
    }
    held.sort_by(|a, b| a.0.cmp(&b.0));
    let mut buf = Vec::with_capacity(1 << 20);
    for (_, line) in held {
        buf.extend_from_slice(&line);
        if buf.len() > 1 << 20 {
            file.write_all(&buf)?;
            buf.clear();
        }
    }
    buf.extend_from_slice(&tail);
    file.write_all(&buf)?;
    sync_if_regular(&file)
}

fn encode(buf: &mut Vec<u8>, batch: &[Record]) -> io::Result<()> {
    for r in batch {
        serde_json::to_writer(&mut *buf, r)?;
        buf.push(b'\n');
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn paths_are_masked_and_non_utf8_is_base64() {
        let det = Detector::default();
        let p = MaskPolicy::default();
        let t = PathText::new(Path::new("/tmp/card_4111111111111111.txt"), &det, &p);
        // `_` glues the digits to the word: not a PAN by the rules.
        assert_eq!(t, PathText::Utf8("/tmp/card_4111111111111111.txt".into()));
        let t = PathText::new(Path::new("/data/4111111111111111/notes.txt"), &det, &p);
        assert_eq!(t, PathText::Utf8("/data/411111******1111/notes.txt".into()));
        let raw = Path::new(OsStr::from_bytes(b"/tmp/\xff.log"));
        let t = PathText::new(raw, &det, &p);
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"bytes":"L3RtcC//LmxvZw=="}"#
        );
    }

    #[test]
    fn records_serialize_with_kind() {
        let r = Record::File(FileRecord {
            path: PathText::Utf8("a.log".into()),
            format: "text".into(),
            size: 3,
            sha256_before: None,
            sha256_after: None,
            findings: 0,
            status: FileStatus::Clean,
            reason: None,
            appended: None,
            metadata_not_kept: Vec::new(),
            not_inspected: Vec::new(),
            superseded_by: None,
        });
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"kind":"file","path":"a.log","format":"text","size":3,"findings":0,"status":"clean"}"#
        );
    }
}
