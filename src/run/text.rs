//! The text adapter: plain text, UTF-16 and binary files, with CSV rows and
//! fields, JSON paths and CSV code columns as locations.
//!
//! The file is scanned a batch at a time (`format::text`); each batch's
//! findings become [`Hit`]s (located here), are decided by the one policy,
//! masked by the applier (in place or into the `--out` copy, each span
//! checked before it is written) and reported, before the next batch is
//! read. Whatever happens, what was written in place is made durable and
//! the file's times are put back before the input is reported.

use std::fs::File;
use std::io::{self, Read, Seek};

use crate::detect::Detector;
use crate::error::InputError;
use crate::format::csv::{self, CsvLocator};
use crate::format::json::JsonLocator;
use crate::format::text::{self as scan, Located, RangeReader};
use crate::format::utf16::{self, Endian};
use crate::format::{self, csv_codes, syntax, Format};
use crate::location::{Hit, Location, MaskedAs};
use crate::manifest::{mask_text, Action};
use crate::remediate::apply::{Applier, InPlace, Target};
use crate::remediate::install::Staged;

use super::outcome::Outcome;
use super::printer::Findings;
use super::Job;

/// Processes a text, UTF-16 or binary input.
pub fn process(job: &Job, out: &mut Outcome) -> Result<(), InputError> {
    let cfg = job.ctx.cfg;
    let size = job.md.len();
    let report_only = !job.scrub() || (job.format == Format::Binary && !cfg.scrub_binary);
    if job.scrub() && report_only {
        out.report_only_why = Some("binary file: report-only (use --scrub-binary)".into());
    }
    let utf16 = match job.format {
        Format::Utf16(endian) => Some(endian),
        _ => None,
    };
    let mut copy = job
        .mirror()
        .map(|dest| Staged::mirror(dest, job.file, job.md).map(|s| s.touch(job.ctx.cfg.touch)))
        .transpose()?;
    let target = match copy.as_mut() {
        Some(c) => Target::Copy(c.file_mut()),
        None if report_only => Target::None,
        None => {
            use std::os::unix::fs::MetadataExt;
            Target::InPlace(InPlace::new(&job.input.path, job.md.dev(), job.md.ino()))
        }
    };
    let mut applier = Applier::new(job.file, target, cfg.policy, cfg.hashing)
        .utf16(utf16)
        .large(scan::in_pieces(size))
        .skip_first_mask(job.ctx.hooks.skip_first_mask);
    let whole_in_memory = size <= format::SMALL_FILE && job.head.len() as u64 == size;
    let mut locator = Locator::new(job, utf16, whole_in_memory)?;
    let count_records = locator.count_records;
    let policy = job.policy();
    // Offsets of findings left in the copy on purpose, for its check.
    let mut kept: Vec<u64> = Vec::new();
    let mut batches = 0u64;
    let mut hits: Vec<Hit> = Vec::new();
    let mut write_failure: Option<InputError> = None;
    let scanned = {
        let mut on_batch = |batch_end: u64, located: &[Located]| -> Result<(), InputError> {
            // Large files count as scanned batch by batch (UTF-16 batch
            // ends are in code units: counted at the end instead).
            if utf16.is_none() {
                crate::format::budget::count_scanned(batch_end.saturating_sub(out.progressed));
                out.progressed = out.progressed.max(batch_end);
            }
            // One buffer for the batch's hits, reused (a batch of a dense
            // file holds thousands).
            locator.hits(job, batch_end, located, &mut hits)?;
            let allowed: Vec<bool> = hits.iter().map(|h| policy.allows(h)).collect();
            let to_mask: Vec<&Hit> = hits
                .iter()
                .zip(&allowed)
                .filter(|(_, a)| !report_only && !**a)
                .map(|(h, _)| h)
                .collect();
            // A file that cannot be written (permissions, read-only
            // mount, disk full) still has every finding reported: masking
            // stops, the scan goes on, and each finding is left in place.
            let done = if write_failure.is_some() {
                Vec::new()
            } else {
                match applier.advance(batch_end, &to_mask) {
                    Ok(done) => done,
                    Err(e @ InputError::Io { .. }) => {
                        write_failure = Some(e);
                        Vec::new()
                    }
                    Err(e) => return Err(e),
                }
            };
            let mut done = done.into_iter();
            let mut findings = Findings::new(job.ctx, job.path).utf16(utf16.is_some());
            for (hit, allowed) in hits.iter().zip(allowed) {
                let action = if allowed {
                    Action::Allowed
                } else if report_only {
                    Action::Reported
                } else {
                    done.next().unwrap_or(Action::Reported)
                };
                if copy_keeps(action) && copy_wanted(job) {
                    kept.push(hit.finding.offset);
                }
                findings.add(hit, action, &mut out.stats);
            }
            findings.send();
            batches += 1;
            if job.ctx.hooks.fail_after_batches == Some(batches) {
                return Err(InputError::io("write")(io::Error::other("injected fault")));
            }
            if let Some(pause) = job.ctx.hooks.batch_pause {
                std::thread::sleep(pause);
            }
            // A stop is honoured between batches: this one is masked and
            // reported whole, the rest of the file is left for a rerun.
            if let Some(sig) = crate::interrupt::requested() {
                return Err(InputError::Interrupted(crate::interrupt::name(sig)));
            }
            Ok(())
        };
        if let Some(endian) = utf16 {
            utf16::scan_file(&job.ctx.det, job.file, size, endian, &mut on_batch).map(|_| None)
        } else if whole_in_memory {
            scan::scan_slice(&job.ctx.det, job.head, &mut on_batch).map(|_| None)
        } else {
            scan::scan_file(
                &job.ctx.det,
                job.file,
                size,
                true,
                count_records,
                &mut on_batch,
            )
        }
    };
    // Whatever happened, spans already written in place are made durable
    // and the times put back before the outcome is reported.
    let finished = match &write_failure {
        // The pass stopped where writing failed: no hashes to give.
        Some(_) => scanned.map(|totals| (totals, (None, None))),
        None => scanned.and_then(|totals| applier.finish(size).map(|h| (totals, h))),
    };
    let settled = applier.settle(job.md, job.ctx.cfg.touch);
    if let Some(e) = write_failure {
        settled?;
        drop(copy);
        return Err(InputError::Unwritable {
            source: Box::new(e),
            left: out.stats.reported,
        });
    }
    let (record_totals, hashes) = finished?;
    let mismatched = settled?;
    out.hashes = hashes;
    if let Some(c) = copy {
        out.metadata_not_kept = c.install_applied_copy(mismatched, job.md, |f| {
            verify_copy(&job.ctx.det, f, utf16, &kept)
        })?;
    }
    if out.stats.findings > 0 {
        if let Some(why) = locator.malformed(job, record_totals.map(|t| t.in_quotes))? {
            let done = if job.scrub() && out.stats.reported == 0 {
                "; its PANs were truncated as text"
            } else {
                ""
            };
            out.problem = Some(format!("{why}{done}"));
            return Ok(());
        }
    }
    if mismatched > 0 {
        out.problem = Some(format!(
            "changed during scrub: {mismatched} finding(s) no longer held the scanned digits and were left in place"
        ));
    }
    Ok(())
}

/// A finding the copy still holds on purpose.
fn copy_keeps(action: Action) -> bool {
    action != Action::Truncated
}

fn copy_wanted(job: &Job) -> bool {
    job.ctx.cfg.out.is_some() && job.scrub()
}

/// The `--out` copy's check: scanned as the original was (UTF-16 as
/// UTF-16), it may hold only the findings left on purpose (`kept`, file
/// order).
fn verify_copy(
    det: &Detector,
    f: &File,
    utf16: Option<Endian>,
    kept: &[u64],
) -> Result<(), InputError> {
    let size = f.metadata().map_err(InputError::io("stat copy"))?.len();
    let mut next = 0;
    let mut unexpected = 0u64;
    let mut check = |_: u64, found: &[Located]| {
        for l in found {
            while next < kept.len() && kept[next] < l.finding.offset {
                next += 1;
            }
            if kept.get(next) != Some(&l.finding.offset) {
                unexpected += 1;
            }
        }
        Ok(())
    };
    match utf16 {
        Some(endian) => utf16::scan_file(det, f, size, endian, &mut check)?,
        None => {
            scan::scan_file(det, f, size, true, false, &mut check)?;
        }
    }
    if unexpected > 0 {
        return Err(InputError::Verification(format!(
            "{unexpected} PAN(s) found in the copy after masking; copy discarded"
        )));
    }
    Ok(())
}

/// What the locators read: the file's bytes, or for UTF-16 its one-byte
/// view (one byte per code unit, so the scan's code-unit offsets apply).
enum Source<'f> {
    Bytes(RangeReader<'f>),
    Units(utf16::Narrow<RangeReader<'f>>),
}

impl<'f> Source<'f> {
    fn new(file: &'f File, size: u64, utf16: Option<Endian>) -> Source<'f> {
        let r = RangeReader::new(file, 0, size);
        match utf16 {
            Some(endian) => Source::Units(utf16::Narrow::new(r, endian)),
            None => Source::Bytes(r),
        }
    }
}

impl Read for Source<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Bytes(r) => r.read(buf),
            Source::Units(r) => r.read(buf),
        }
    }
}

impl Seek for Source<'_> {
    /// Only the bytes of a file are sought (a CSV record jump): UTF-16
    /// files are located by reading on, never by jumps.
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        match self {
            Source::Bytes(r) => r.seek(pos),
            Source::Units(_) => Err(io::Error::other("no seeking in a UTF-16 view")),
        }
    }
}

/// Locations for the findings of one text input: CSV row and field (and
/// the cells of columns named for verification codes), JSON path, bare
/// numbers; and offsets in bytes for UTF-16.
struct Locator<'f> {
    csv: Option<CsvLocator<Source<'f>>>,
    code_cells: Option<csv_codes::CodeCells<Source<'f>>>,
    json: Option<JsonLocator<Source<'f>>>,
    object: Option<String>,
    syntax: syntax::Syntax,
    utf16: Option<Endian>,
    /// A large CSV has its records counted by the scan itself (quote-aware,
    /// on the same reads); the locator jumps to each finding's record.
    count_records: bool,
}

impl<'f> Locator<'f> {
    fn new(job: &Job<'f>, utf16: Option<Endian>, whole: bool) -> Result<Locator<'f>, InputError> {
        let (file, size) = (job.file, job.md.len());
        let path = &job.input.path;
        // CSV by extension (rows are lexed lazily up to each finding: clean
        // CSVs cost nothing extra). A UTF-16 CSV is read through its
        // one-byte view and never has its records counted by the scan.
        let delim = csv::delimiter_for(path);
        let count_records = !whole && delim.is_some() && utf16.is_none();
        let csv = delim.map(|d| {
            let r = Source::new(file, size, utf16);
            if count_records {
                CsvLocator::with_capacity(r, d, 16 * 1024)
            } else {
                CsvLocator::new(r, d)
            }
        });
        // CSV columns named for verification codes (`CVV`): their cells
        // are findings though no keyword stands next to them.
        let code_cells = match delim.filter(|_| !job.ctx.cfg.pan_only) {
            Some(d) => csv_codes::CodeCells::new(Source::new(file, size, utf16), d)
                .map_err(InputError::io("read"))?,
            None => None,
        };
        let syntax = syntax::syntax_for(path, job.head);
        let json = (syntax == syntax::Syntax::Json)
            .then(|| JsonLocator::new(Source::new(file, size, utf16)));
        Ok(Locator {
            object: csv.as_ref().and_then(|_| csv::object_name(path)),
            csv,
            code_cells,
            json,
            syntax,
            utf16,
            count_records,
        })
    }

    /// The hits of one batch, in file order, into `hits` (cleared first).
    fn hits(
        &mut self,
        job: &Job,
        batch_end: u64,
        located: &[Located],
        hits: &mut Vec<Hit>,
    ) -> Result<(), InputError> {
        let (det, policy) = (&job.ctx.det, &job.ctx.cfg.policy);
        let with_cells;
        let located = match self.code_cells.as_mut() {
            Some(c) => {
                // A UTF-16 batch ends at a byte offset; cells are in units.
                let end = match self.utf16 {
                    Some(_) => batch_end / 2,
                    None => batch_end,
                };
                let cells = c.upto(det, end).map_err(InputError::io("read"))?;
                with_cells = csv_codes::merge(located, cells);
                &with_cells[..]
            }
            None => located,
        };
        hits.clear();
        for l in located {
            let csv = match self.csv.as_mut() {
                Some(c) => {
                    if let Some(r) = l.record {
                        c.jump_to(r).map_err(InputError::io("read"))?;
                    }
                    c.locate(l.finding.offset)
                        .map_err(InputError::io("read"))?
                        .map(|loc| loc.into_cell(self.object.clone(), det, policy))
                }
                None => None,
            };
            let json_path = match self.json.as_mut() {
                Some(j) => Some(mask_text(
                    &j.locate(l.finding.offset).map_err(InputError::io("read"))?,
                    det,
                    policy,
                )),
                None => None,
            };
            // UTF-16 findings are in code units until reported.
            let (offset, column) = if self.utf16.is_some() {
                (
                    utf16::to_bytes(l.finding.offset, false),
                    utf16::to_bytes(l.column, true),
                )
            } else {
                (l.finding.offset, l.column)
            };
            let numeric = syntax::is_bare_number(&l.finding, self.syntax);
            hits.push(Hit {
                finding: l.finding,
                at: Location {
                    offset,
                    line: Some(l.line),
                    column: Some(column),
                    csv: csv.map(Box::new),
                    json_path,
                    ..Location::default()
                },
                masked_as: if numeric {
                    MaskedAs::Number
                } else {
                    MaskedAs::Text
                },
                report_only: None,
                encoded: None,
            });
        }
        Ok(())
    }

    /// Why the file's locations cannot be trusted, if they cannot: a CSV
    /// quote never closed, a `.json`/`.ndjson` file that is not JSON.
    /// `in_quotes` is the scan's own count when it counted records.
    fn malformed(
        &mut self,
        job: &Job,
        in_quotes: Option<bool>,
    ) -> Result<Option<String>, InputError> {
        if let Some(c) = self.csv.as_mut() {
            let balanced = match in_quotes {
                Some(q) => !q,
                None => c.quotes_balanced().map_err(InputError::io("read"))?,
            };
            return Ok((!balanced).then(|| {
                "malformed CSV: a quoted field is never closed, so rows and fields after it are unreliable".to_string()
            }));
        }
        if syntax::declares_json(&job.input.path) {
            let r = Source::new(job.file, job.md.len(), self.utf16);
            return Ok(crate::format::json::validate(r).err());
        }
        Ok(None)
    }
}
