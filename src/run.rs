//! One run: walk, process every input on a rayon pool (large files first,
//! see `schedule`), stream records to the manifest writer, print findings
//! and a summary, and compute the exit status.
//!
//! Per input: open read-only without following symlinks (and without
//! updating atime where the OS allows), sniff the format, scan in pieces,
//! apply masks batch by batch, restore times, report. Any failure is an
//! error for that input only.

use std::collections::BTreeMap;
use std::fs::{File, FileTimes, OpenOptions};
use std::io::{self, IsTerminal, Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use crate::config::{mirror_name, Config, Mode};
use crate::detect::{Detector, DetectorBuilder, Kind, Network, IIN_TABLE_VERSION};
use crate::error::InputError;
use crate::exit::ExitStatus;
use crate::format::budget::Meter;
use crate::format::csv::{self, CsvLocation};
use crate::format::{self, container, csv_codes, json, syntax, text, utf16, Format};
use crate::manifest::{
    mask_text, Action, Column, FileStatus, ManifestSender, ManifestWriter, PathText, PolicyRecord,
    Record,
};
use crate::schedule::{self, LargestFirst};
use crate::walk::{self, Entry, Input};
use crate::write::{Applier, Hashing, InPlace, Target};

/// Totals of a run.
#[derive(Default, Debug, Clone)]
pub struct Stats {
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
    /// Findings on the allowlist (left alone on purpose).
    pub allowed: u64,
    /// Entries skipped on purpose.
    pub skipped: u64,
    /// Inputs that failed.
    pub errors: u64,
    /// Bytes scanned.
    pub bytes: u64,
    /// Findings holding a PAN, per brand.
    pub by_brand: BTreeMap<&'static str, u64>,
    /// Findings per type (`pan`, `track1`, `track2`, `cvv`).
    pub by_type: BTreeMap<&'static str, u64>,
    /// Bytes already shown on the progress bar (per input).
    progressed: u64,
}

impl Stats {
    fn merge(&mut self, o: &Stats) {
        self.files += o.files;
        self.files_with_findings += o.files_with_findings;
        self.findings += o.findings;
        self.truncated += o.truncated;
        self.reported += o.reported;
        self.allowed += o.allowed;
        self.skipped += o.skipped;
        self.errors += o.errors;
        self.bytes += o.bytes;
        for (k, v) in &o.by_brand {
            *self.by_brand.entry(k).or_default() += v;
        }
        for (k, v) in &o.by_type {
            *self.by_type.entry(k).or_default() += v;
        }
    }
}

/// Shared, read-only state of the workers.
struct Ctx<'a> {
    cfg: &'a Config,
    det: Detector,
    manifest: ManifestSender,
    stdout: Mutex<io::BufWriter<io::Stdout>>,
    stats: Mutex<Stats>,
    progress: ProgressBar,
    /// Tests only: panic while reporting a finding of a path containing
    /// this text (`panics::INJECT_ENV`).
    inject_panic: Option<String>,
    /// Tests only: pause between a rebuild and the check that the original
    /// did not change (`REBUILD_PAUSE_ENV`, milliseconds), so that a test
    /// can change the original inside that window every time.
    rebuild_pause: Option<std::time::Duration>,
}

/// Environment variable of `Ctx::rebuild_pause` (tests only).
pub const REBUILD_PAUSE_ENV: &str = "PANSCRUB_TEST_REBUILD_PAUSE_MS";

impl Ctx<'_> {
    /// Whether every finding in this file is allowed (`[allow] paths`).
    fn path_allowed(&self, path: &Path) -> bool {
        self.cfg
            .allow_paths
            .as_ref()
            .is_some_and(|g| g.is_match(path))
    }

    /// What the archive adapters need from the run.
    fn container_cx(&self) -> container::Cx<'_> {
        container::Cx {
            det: &self.det,
            policy: &self.cfg.policy,
            scrub_binary: self.cfg.scrub_binary,
            allow: &self.cfg.allow,
            stream_name: None,
        }
    }
}

/// Runs a whole job and returns its exit status.
pub fn run(cfg: &Config) -> Result<ExitStatus> {
    let started = Instant::now();
    let det = DetectorBuilder::new().pan_only(cfg.pan_only).build();
    let writer = match &cfg.manifest {
        Some(p) => ManifestWriter::create(p, cfg.sort)
            .with_context(|| format!("cannot create manifest {}", p.display()))?,
        None => ManifestWriter::disabled(),
    };
    let pathtext = |p: &Path| PathText::new(p, &det, &cfg.policy);
    writer.sender().send(vec![Record::Run {
        tool: "panscrub",
        version: env!("CARGO_PKG_VERSION"),
        schema: crate::manifest::SCHEMA_VERSION,
        mode: cfg.mode.as_str(),
        started: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        roots: cfg.roots.iter().map(|r| pathtext(r)).collect(),
        policy: PolicyRecord {
            keep: cfg.policy.keep().to_string(),
            mask_char: (cfg.policy.mask_byte() as char).to_string(),
            iin_table_version: IIN_TABLE_VERSION,
        },
    }]);

    let progress = if !cfg.quiet && io::stderr().is_terminal() {
        // The walker grows the length as it finds files, so the bar, the
        // rate and the ETA firm up as soon as the walk is done.
        let pb = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        pb.set_style(
            ProgressStyle::with_template(
                "{spinner} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta} ({elapsed})",
            )
            .expect("static template"),
        );
        pb
    } else {
        ProgressBar::hidden()
    };
    let ctx = Ctx {
        cfg,
        det,
        manifest: writer.sender(),
        stdout: Mutex::new(io::BufWriter::new(io::stdout())),
        stats: Mutex::new(Stats::default()),
        progress,
        inject_panic: std::env::var(crate::panics::INJECT_ENV)
            .ok()
            .filter(|w| !w.is_empty()),
        rebuild_pause: std::env::var(REBUILD_PAUSE_ENV)
            .ok()
            .and_then(|ms| ms.parse().ok())
            .map(std::time::Duration::from_millis),
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.jobs)
        .build()
        .context("cannot start worker threads")?;
    // The walk runs on its own thread and streams entries to the pool, so
    // scanning starts at once and a tree of a million files is never held
    // in memory. Files of 1 MiB and more that it finds while the queue is
    // full wait in a bounded lookahead and go out largest first, ahead of
    // the small files that arrive after them (see `schedule`).
    let (tx, rx) = std::sync::mpsc::sync_channel::<Box<Entry>>(4096);
    std::thread::scope(|scope| {
        let walk_progress = ctx.progress.clone();
        scope.spawn(move || {
            let mut order = LargestFirst::new(schedule::LOOKAHEAD);
            let mut workers_gone = false;
            walk::walk(cfg, cfg.manifest.as_deref(), &mut |e| {
                if let Entry::Input(i) = &e {
                    walk_progress.inc_length(i.size);
                }
                if !workers_gone {
                    workers_gone = !order.push(e, &tx);
                }
            });
            order.finish(&tx);
        });
        pool.install(|| {
            rx.into_iter()
                .par_bridge()
                .for_each(|e| handle_entry(&ctx, *e))
        });
    });
    ctx.progress.finish_and_clear();
    let _ = ctx.stdout.lock().map(|mut o| o.flush());

    let stats = ctx.stats.into_inner().unwrap_or_else(|e| e.into_inner());
    let status = exit_status(cfg.mode, &stats);
    let elapsed = started.elapsed().as_secs_f64();
    let mbps = if elapsed > 0.0 {
        stats.bytes as f64 / elapsed / 1e6
    } else {
        0.0
    };
    writer.sender().send(vec![Record::Summary {
        files: stats.files,
        files_with_findings: stats.files_with_findings,
        findings: stats.findings,
        truncated: stats.truncated,
        reported: stats.reported,
        allowed: stats.allowed,
        skipped: stats.skipped,
        errors: stats.errors,
        bytes: stats.bytes,
        elapsed_seconds: (elapsed * 1000.0).round() / 1000.0,
        throughput_mb_s: (mbps * 10.0).round() / 10.0,
        by_brand: stats.by_brand.clone(),
        by_type: stats.by_type.clone(),
        exit_code: status.code(),
    }]);
    drop(ctx.manifest);
    writer.finish().context("cannot write manifest")?;
    if !cfg.quiet {
        eprintln!("{}", summary_line(cfg.mode, &stats, elapsed, mbps));
    }
    Ok(status)
}

fn exit_status(mode: Mode, s: &Stats) -> ExitStatus {
    if s.errors > 0 {
        ExitStatus::Error
    } else if (mode == Mode::Scan && s.findings > s.allowed)
        || (mode == Mode::Scrub && s.reported > 0)
    {
        ExitStatus::Found
    } else {
        ExitStatus::Clean
    }
}

fn summary_line(mode: Mode, s: &Stats, elapsed: f64, mbps: f64) -> String {
    // Brands of the PANs, then sensitive authentication data by type.
    let brands: Vec<String> = s
        .by_brand
        .iter()
        .chain(s.by_type.iter().filter(|(k, _)| **k != "pan"))
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let brands = if brands.is_empty() {
        String::new()
    } else {
        format!(" ({})", brands.join(", "))
    };
    let action = match mode {
        Mode::Scan => String::new(),
        Mode::Scrub => format!(", {} truncated, {} left in place", s.truncated, s.reported),
    };
    // Peak memory tells an operator what limit to give a container job.
    let memory = peak_memory_mb()
        .map(|mb| format!(", peak memory {mb} MB"))
        .unwrap_or_default();
    format!(
        "panscrub {}: {} files, {:.1} MB, {} findings{} in {} files{}, {} skipped, {} errors, {:.2} s, {:.0} MB/s{}",
        mode.as_str(),
        s.files,
        s.bytes as f64 / 1e6,
        s.findings,
        brands,
        s.files_with_findings,
        action,
        s.skipped,
        s.errors,
        elapsed,
        mbps,
        memory
    )
}

/// Peak resident memory of this process so far, in MB (`VmHWM`; Linux).
fn peak_memory_mb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024 / 1_000_000)
}

fn file_record(
    path: PathText,
    format: &'static str,
    size: u64,
    status: FileStatus,
    reason: Option<String>,
) -> Record {
    Record::File {
        path,
        format,
        size,
        sha256_before: None,
        sha256_after: None,
        findings: 0,
        status,
        reason,
    }
}

fn handle_entry(ctx: &Ctx, e: Entry) {
    if let Some(shard) = ctx.cfg.shard {
        let path = match &e {
            Entry::Input(i) => &i.path,
            Entry::Skipped { path, .. } | Entry::Error { path, .. } | Entry::StaleTemp(path) => {
                path
            }
        };
        if !shard.owns(path) {
            return; // another shard's
        }
    }
    let pathtext = |p: &Path| PathText::new(p, &ctx.det, &ctx.cfg.policy);
    let mut stats = Stats::default();
    match e {
        Entry::Input(i) => return process(ctx, &i),
        Entry::Skipped { path, reason } => {
            stats.skipped += 1;
            ctx.manifest.send(vec![file_record(
                pathtext(&path),
                "unknown",
                0,
                FileStatus::Skipped,
                Some(reason.to_string()),
            )]);
        }
        Entry::Error { path, reason } => {
            stats.errors += 1;
            let p = pathtext(&path);
            let reason = mask_text(&reason, &ctx.det, &ctx.cfg.policy);
            eprintln!("panscrub: {}: {}", p.display(), reason);
            ctx.manifest.send(vec![file_record(
                p,
                "unknown",
                0,
                FileStatus::Error,
                Some(reason),
            )]);
        }
        Entry::StaleTemp(path) => {
            // Left by a run that was killed mid-rebuild; the original it was
            // meant to replace is intact. Scrub cleans it up.
            stats.skipped += 1;
            let reason = if ctx.cfg.mode == Mode::Scrub && std::fs::remove_file(&path).is_ok() {
                "stale panscrub temp file removed"
            } else {
                "panscrub temp file not scanned"
            };
            ctx.manifest.send(vec![file_record(
                pathtext(&path),
                "unknown",
                0,
                FileStatus::Skipped,
                Some(reason.into()),
            )]);
        }
    }
    if let Ok(mut s) = ctx.stats.lock() {
        s.merge(&stats);
    }
}

/// Opens an input read-only, without following a symlink that replaced it
/// after the walk, without blocking on a FIFO, and without touching atime
/// where permitted (O_NOATIME needs ownership; fall back without it).
fn open_input(path: &Path) -> io::Result<File> {
    let base = libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC;
    match OpenOptions::new()
        .read(true)
        .custom_flags(base | libc::O_NOATIME)
        .open(path)
    {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            OpenOptions::new().read(true).custom_flags(base).open(path)
        }
        r => r,
    }
}

/// Processes one input and reports it; never panics on bad input.
fn process(ctx: &Ctx, input: &Input) {
    let pathtext = PathText::new(&input.path, &ctx.det, &ctx.cfg.policy);
    let mut stats = Stats::default();
    // A panic is a bug; it costs this input, not the run. The hook has
    // already printed its message, masked.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        process_file(ctx, input, &pathtext, &mut stats)
    }))
    .unwrap_or_else(|payload| {
        let why = crate::panics::masked_message(payload.as_ref());
        Err((
            "unknown",
            input.size,
            InputError::Corrupt(format!("internal error (panic): {why}")),
        ))
    });
    let record = match result {
        Ok(rec) => rec,
        Err((format, size, err)) => {
            stats.errors += 1;
            // Messages from decoders and the OS carry no content by design;
            // masking them too costs nothing and guards against a library
            // that quotes a member name.
            let err = mask_text(&err.to_string(), &ctx.det, &ctx.cfg.policy);
            eprintln!("panscrub: {}: {}", pathtext.display(), err);
            // Findings reported before the failure still count here.
            let mut rec = file_record(pathtext.clone(), format, size, FileStatus::Error, Some(err));
            if let Record::File { findings, .. } = &mut rec {
                *findings = stats.findings;
            }
            rec
        }
    };
    ctx.manifest.send(vec![record]);
    ctx.progress
        .inc(input.size.saturating_sub(stats.progressed));
    if let Ok(mut s) = ctx.stats.lock() {
        s.merge(&stats);
    }
}

type Failure = (&'static str, u64, InputError);

fn process_file(
    ctx: &Ctx,
    input: &Input,
    pathtext: &PathText,
    stats: &mut Stats,
) -> Result<Record, Failure> {
    let cfg = ctx.cfg;
    let file = open_input(&input.path).map_err(|e| {
        let err = if e.raw_os_error() == Some(libc::ELOOP) {
            InputError::Changed("it is now a symlink; not followed".into())
        } else {
            InputError::io("open")(e)
        };
        ("unknown", input.size, err)
    })?;
    let md = file
        .metadata()
        .map_err(|e| ("unknown", input.size, InputError::io("stat")(e)))?;
    if !md.is_file() {
        stats.skipped += 1;
        return Ok(file_record(
            pathtext.clone(),
            "unknown",
            0,
            FileStatus::Skipped,
            Some("not a regular file".into()),
        ));
    }
    let size = md.len();
    // Small files are read whole here and scanned from memory: one read.
    let head_len = if size <= format::SMALL_FILE {
        size as usize
    } else {
        format::SNIFF_LEN
    };
    let mut head = vec![0u8; head_len];
    let n =
        read_head(&file, &mut head).map_err(|e| ("unknown", size, InputError::io("read")(e)))?;
    head.truncate(n);
    let fmt = format::sniff(&head);
    let fail = |e: InputError| (fmt.as_str(), size, e);
    stats.files += 1;
    stats.bytes += size;

    if fmt == Format::Parquet {
        return process_parquet(ctx, input, pathtext, &file, &md, stats).map_err(fail);
    }
    if fmt.is_container() {
        return process_container(ctx, input, pathtext, &file, &md, fmt, stats).map_err(fail);
    }
    if fmt == Format::Tar {
        return process_tar(ctx, input, pathtext, &file, &md, stats).map_err(fail);
    }
    let report_only = cfg.mode == Mode::Scan || (fmt == Format::Binary && !cfg.scrub_binary);
    let mut copy = match (&cfg.out, cfg.mode) {
        (Some(out), Mode::Scrub) => Some(CopyDest::create(out, ctx, input).map_err(fail)?),
        _ => None,
    };
    let target = if let Some(c) = copy.as_mut() {
        Target::Copy(c.tmp.as_file_mut())
    } else if report_only {
        Target::None
    } else {
        Target::InPlace(InPlace::new(&input.path, md.dev(), md.ino()))
    };
    let policy = if report_only { None } else { Some(cfg.policy) };
    // UTF-16: scanned in code units, reported and written in bytes.
    let utf16 = match fmt {
        Format::Utf16(endian) => Some(endian),
        _ => None,
    };
    let mut applier = Applier::new(&file, target, policy.unwrap_or(cfg.policy), cfg.hashing)
        .utf16(utf16)
        .large(text::in_pieces(size));
    let whole_in_memory = size <= format::SMALL_FILE && head.len() as u64 == size;
    // CSV by extension: rows, fields and record ids for findings, lexed
    // lazily up to each finding (clean CSVs cost nothing extra). Not for
    // UTF-16, whose bytes the locators do not read.
    let csv_delim = csv::delimiter_for(&input.path).filter(|_| utf16.is_none());
    // A large CSV has its records counted by the scan itself (quote-aware,
    // on the same reads), and the locator jumps to each finding's record:
    // only the bytes around findings are read again, in small reads.
    let count_records = !whole_in_memory && csv_delim.is_some();
    let mut csv = csv_delim.map(|d| {
        let r = text::RangeReader::new(&file, 0, size);
        if count_records {
            csv::CsvLocator::with_capacity(r, d, 16 * 1024)
        } else {
            csv::CsvLocator::new(r, d)
        }
    });
    // CSV columns named for verification codes (`CVV`): their cells are
    // findings though no keyword stands next to them.
    let mut code_cells = match csv_delim.filter(|_| !cfg.pan_only) {
        Some(d) => csv_codes::CodeCells::new(text::RangeReader::new(&file, 0, size), d)
            .map_err(|e| fail(InputError::io("read")(e)))?,
        None => None,
    };
    let object = csv
        .as_ref()
        .and_then(|_| csv::object_name(&input.path))
        .map(|o| mask_text(&o, &ctx.det, &cfg.policy));
    // JSON numbers and SQL numeric literals are masked with digits.
    let syntax = syntax::syntax_for(&input.path, &head);
    let path_allowed = ctx.path_allowed(&input.path);
    // JSON: the path of each finding's value, found by one forward sweep.
    let mut json = (syntax == syntax::Syntax::Json && utf16.is_none())
        .then(|| json::JsonLocator::new(text::RangeReader::new(&file, 0, size)));
    let mut on_batch = |batch_end: u64, located: &[text::Located]| {
        // Large files move the progress bar batch by batch.
        ctx.progress.inc(batch_end.saturating_sub(stats.progressed));
        stats.progressed = stats.progressed.max(batch_end);
        let with_cells: Vec<text::Located>;
        let located = match code_cells.as_mut() {
            Some(c) => {
                let cells = c
                    .upto(&ctx.det, batch_end)
                    .map_err(InputError::io("read"))?;
                with_cells = csv_codes::merge(located, cells);
                &with_cells
            }
            None => located,
        };
        let marked: Vec<text::Located>;
        let located = if syntax == syntax::Syntax::Plain {
            located
        } else {
            marked = located
                .iter()
                .map(|l| text::Located {
                    numeric: syntax::is_bare_number(&l.finding, syntax),
                    ..*l
                })
                .collect();
            &marked
        };
        // CSV locations first: an allowed column decides what is masked.
        let mut locs = Vec::with_capacity(located.len());
        for l in located {
            let loc = match csv.as_mut() {
                Some(c) => {
                    if let Some(r) = l.record {
                        c.jump_to(r).map_err(InputError::io("read"))?;
                    }
                    c.locate(l.finding.offset).map_err(InputError::io("read"))?
                }
                None => None,
            };
            locs.push(loc);
        }
        let allowed: Vec<bool> = located
            .iter()
            .zip(&locs)
            .map(|(l, loc)| {
                path_allowed
                    || cfg.allow.allows(&l.finding)
                    || loc
                        .as_ref()
                        .is_some_and(|c| cfg.allow_fields.contains(&c.field))
            })
            .collect();
        let actions = if report_only {
            // Still run the pass for hashes / the copy.
            applier.advance(batch_end, &[])?;
            vec![Action::Reported; located.len()]
        } else if allowed.iter().any(|a| *a) {
            let to_mask: Vec<text::Located> = located
                .iter()
                .zip(&allowed)
                .filter(|(_, a)| !**a)
                .map(|(l, _)| *l)
                .collect();
            let mut done = applier.advance(batch_end, &to_mask)?.into_iter();
            allowed
                .iter()
                .map(|a| {
                    if *a {
                        Action::Allowed
                    } else {
                        done.next().unwrap_or(Action::Reported)
                    }
                })
                .collect()
        } else {
            applier.advance(batch_end, located)?
        };
        let actions: Vec<Action> = actions
            .into_iter()
            .zip(&allowed)
            .map(|(act, a)| if *a { Action::Allowed } else { act })
            .collect();
        if located.is_empty() {
            return Ok(());
        }
        let mut batch = FindingBatch::new(ctx, pathtext).utf16(utf16.is_some());
        for ((l, action), loc) in located.iter().zip(actions).zip(locs) {
            let loc = loc.map(|mut c| {
                c.field = mask_text(&c.field, &ctx.det, &cfg.policy);
                c.record_id = c.record_id.map(|r| mask_text(&r, &ctx.det, &cfg.policy));
                c
            });
            let json_path = match json.as_mut() {
                Some(j) => Some(mask_text(
                    &j.locate(l.finding.offset).map_err(InputError::io("read"))?,
                    &ctx.det,
                    &cfg.policy,
                )),
                None => None,
            };
            // UTF-16 findings are in code units until reported.
            let (l, offset) = match utf16 {
                None => (*l, l.finding.offset),
                Some(_) => (
                    text::Located {
                        column: utf16::to_bytes(l.column, true),
                        ..*l
                    },
                    utf16::to_bytes(l.finding.offset, false),
                ),
            };
            batch.add(
                None,
                &l,
                offset,
                action,
                match (loc.as_ref(), json_path) {
                    (Some(c), _) => Place::Csv(c, object.as_deref()),
                    (None, Some(p)) => Place::Json(p),
                    (None, None) => Place::Plain,
                },
                stats,
            );
        }
        batch.send();
        Ok(())
    };
    let record_totals = if let Some(endian) = utf16 {
        utf16::scan_file(&ctx.det, &file, size, endian, &mut on_batch).map(|_| None)
    } else if whole_in_memory {
        text::scan_slice(&ctx.det, &head, &mut on_batch).map(|_| None)
    } else {
        text::scan_file(&ctx.det, &file, size, true, count_records, &mut on_batch)
    }
    .map_err(fail)?;
    let (sha_before, sha_after) = applier.finish(size).map_err(fail)?;
    let mismatched = applier.mismatched;
    if let Some(w) = applier.in_place_handle() {
        // Durable before we say so, then put the times back.
        w.sync_data()
            .map_err(|e| fail(InputError::io("fsync")(e)))?;
        restore_times(w, &md).map_err(|e| fail(InputError::io("restore times")(e)))?;
    }
    drop(applier);
    if let Some(c) = copy {
        if mismatched > 0 {
            return Err(fail(InputError::Changed(format!(
                "{mismatched} finding(s) changed before they could be masked; copy discarded"
            ))));
        }
        c.finish(ctx, &md, report_only).map_err(fail)?;
    }
    let (found, reported) = (stats.findings, stats.reported);
    if found > 0 {
        stats.files_with_findings += 1;
    }
    // A file whose locations were given must be well formed for them to
    // mean anything; the PANs were masked as text either way.
    let malformed = if found == 0 {
        None
    } else if let Some(c) = csv.as_mut() {
        // The scan's count saw every byte; otherwise read to the end.
        let balanced = match record_totals {
            Some(t) => !t.in_quotes,
            None => c
                .quotes_balanced()
                .map_err(|e| fail(InputError::io("read")(e)))?,
        };
        (!balanced).then(|| {
            "malformed CSV: a quoted field is never closed, so rows and fields after it are unreliable".to_string()
        })
    } else if syntax::declares_json(&input.path) && utf16.is_none() {
        json::validate(text::RangeReader::new(&file, 0, size)).err()
    } else {
        None
    };
    let (status, reason) = if let Some(why) = malformed {
        stats.errors += 1;
        let why = mask_text(&why, &ctx.det, &cfg.policy);
        eprintln!("panscrub: {}: {why}", pathtext.display());
        let done = match cfg.mode {
            Mode::Scrub if reported == 0 => "; its PANs were truncated as text",
            _ => "",
        };
        (FileStatus::Error, Some(format!("{why}{done}")))
    } else if mismatched > 0 {
        stats.errors += 1;
        eprintln!(
            "panscrub: {}: changed during scrub: {mismatched} finding(s) left in place",
            pathtext.display()
        );
        (FileStatus::Error, Some(format!("changed during scrub: {mismatched} finding(s) no longer held the scanned digits and were left in place")))
    } else if found == stats.allowed {
        // No PAN, or only allowed ones: nothing to remediate.
        (FileStatus::Clean, None)
    } else if reported > 0 {
        let why = match cfg.mode {
            Mode::Scan => None,
            Mode::Scrub => Some("binary file: report-only (use --scrub-binary)".to_string()),
        };
        (FileStatus::Reported, why)
    } else {
        (FileStatus::Truncated, None)
    };
    Ok(Record::File {
        path: pathtext.clone(),
        format: fmt.as_str(),
        size,
        sha256_before: sha_before,
        sha256_after: sha_after,
        findings: found,
        status,
        reason,
    })
}

/// Where a finding sits inside a structured input.
enum Place<'a> {
    /// Plain text or an archive member without structure.
    Plain,
    /// A CSV field, with the Salesforce object (file stem) when known.
    Csv(&'a CsvLocation, Option<&'a str>),
    /// A JSON value's path (`$.records[3].Description`).
    Json(String),
    /// A Parquet cell.
    Parquet(&'a format::parquet::CellFinding),
}

impl<'a> Place<'a> {
    fn csv(&self) -> Option<(&'a CsvLocation, Option<&'a str>)> {
        match self {
            Place::Csv(c, o) => Some((c, *o)),
            _ => None,
        }
    }

    fn parquet(&self) -> Option<&'a format::parquet::CellFinding> {
        match self {
            Place::Parquet(p) => Some(p),
            _ => None,
        }
    }

    /// CSV: 1-based data row; Parquet: 0-based row (as PRODUCT.md says).
    fn row(&self) -> Option<u64> {
        match self {
            Place::Csv(c, _) => Some(c.row),
            Place::Parquet(p) => Some(p.row),
            _ => None,
        }
    }
}

/// The findings of one batch of one input: manifest records and stdout
/// lines, sent together; counts go to the input's stats.
struct FindingBatch<'a> {
    ctx: &'a Ctx<'a>,
    path: &'a PathText,
    records: Vec<Record>,
    text: String,
    /// Bytes per unit of a finding's length: 2 in UTF-16 files.
    unit_bytes: usize,
}

impl<'a> FindingBatch<'a> {
    fn new(ctx: &'a Ctx<'a>, path: &'a PathText) -> FindingBatch<'a> {
        FindingBatch {
            ctx,
            path,
            records: Vec::new(),
            text: String::new(),
            unit_bytes: 1,
        }
    }

    /// Lengths of findings found in UTF-16 code units are reported in
    /// bytes.
    fn utf16(mut self, yes: bool) -> Self {
        self.unit_bytes = if yes { 2 } else { 1 };
        self
    }

    /// Records one finding (`member` for archives, `place` inside a
    /// structured format) and what was done.
    fn add(
        &mut self,
        member: Option<&str>,
        l: &text::Located,
        offset: u64,
        action: Action,
        place: Place,
        stats: &mut Stats,
    ) {
        let cfg = self.ctx.cfg;
        let f = &l.finding;
        if let Some(w) = &self.ctx.inject_panic {
            if self.path.display().contains(w.as_str()) {
                // The worst case: a message holding the full PAN.
                panic!(
                    "injected fault at {}",
                    String::from_utf8_lossy(f.span_bytes())
                );
            }
        }
        let masked = l.masked(&cfg.policy);
        stats.findings += 1;
        match action {
            Action::Truncated => stats.truncated += 1,
            Action::Reported => stats.reported += 1,
            Action::Allowed => stats.allowed += 1,
        }
        if let Some(n) = f.network {
            *stats.by_brand.entry(n.as_str()).or_default() += 1;
        }
        *stats.by_type.entry(f.kind.as_str()).or_default() += 1;
        if !cfg.quiet {
            use std::fmt::Write as _;
            let inside = member.map(|m| format!("!{m}")).unwrap_or_default();
            let at = match place.parquet() {
                Some(p) => format!("{}[{}]", p.column, p.row),
                None => format!("{}:{}", l.line, l.column),
            };
            let _ = write!(
                self.text,
                "{}{}:{}: {} {}",
                self.path.display(),
                inside,
                at,
                f.network.map_or("CVV", Network::as_str),
                if f.kind == Kind::Pan {
                    masked.as_str().to_string()
                } else {
                    masked.compact()
                }
            );
            if cfg.mode == Mode::Scrub {
                let done = match action {
                    Action::Truncated => "truncated",
                    Action::Reported => "left in place",
                    Action::Allowed => "allowed",
                };
                let _ = write!(self.text, " {done}");
            }
            self.text.push('\n');
        }
        self.records.push(Record::Finding {
            path: self.path.clone(),
            member: member.map(str::to_string),
            offset,
            length: f.len() * self.unit_bytes,
            line: place.parquet().is_none().then_some(l.line),
            column: Some(match place.parquet() {
                Some(p) => Column::Path(p.column.clone()),
                None => Column::Byte(l.column),
            }),
            kind: f.kind.as_str(),
            brand: f.network.map(Network::as_str),
            masked: masked.compact(),
            action,
            in_name: false,
            row: place.row(),
            field: place.csv().map(|c| c.0.field.clone()),
            record_id: place.csv().and_then(|c| c.0.record_id.clone()),
            object: place.csv().and_then(|c| c.1.map(str::to_string)),
            masked_as: match &place {
                Place::Parquet(p) => p.masked_as.label(),
                _ => l.numeric.then_some("number"),
            },
            json_path: match place {
                Place::Json(p) => Some(p),
                _ => None,
            },
            // A code has a thousand values: no fingerprint could hide it.
            fingerprint: cfg
                .fingerprint
                .as_ref()
                .filter(|_| f.kind.has_pan())
                .map(|k| k.fingerprint(f)),
        });
    }

    fn send(self) {
        if !self.records.is_empty() {
            self.ctx.manifest.send(self.records);
        }
        if !self.text.is_empty() {
            print_stdout(self.ctx, &self.text);
        }
    }
}

/// gzip, zstd, zip: scan decoded; scrub rebuilds into a temp file that is
/// verified and renamed over the original (or into the `--out` mirror).
fn process_container(
    ctx: &Ctx,
    input: &Input,
    pathtext: &PathText,
    file: &File,
    md: &std::fs::Metadata,
    fmt: Format,
    stats: &mut Stats,
) -> Result<Record, InputError> {
    let cfg = ctx.cfg;
    let cx = ctx.container_cx();
    let found = container::scan(&cx, &Meter::new(cfg.budget), file, fmt, &input.path)?;
    let scrub = cfg.mode == Mode::Scrub;
    let path_allowed = ctx.path_allowed(&input.path);
    let to_mask: Vec<&container::MemberFinding> = found
        .iter()
        .filter(|m| scrub && !m.report_only && !path_allowed)
        .collect();
    // Build, verify and install the result; on failure the findings are
    // still reported (left in place) and the input is an error.
    let outcome = replace_verified(ctx, input, file, md, !to_mask.is_empty(), |out| {
        rebuild_verified(&cx, cfg, file, fmt, &to_mask, &found, &input.path, out)
    });
    let replaced = *outcome.as_ref().unwrap_or(&false);
    let mut batch = FindingBatch::new(ctx, pathtext);
    for m in &found {
        let action = if path_allowed || cfg.allow.allows(&m.located.finding) {
            Action::Allowed
        } else if replaced && scrub && !m.report_only {
            Action::Truncated
        } else {
            Action::Reported
        };
        let place = match (m.csv.as_ref(), &m.json_path) {
            (Some(c), _) => Place::Csv(c, m.object.as_deref()),
            (None, Some(p)) => Place::Json(p.clone()),
            (None, None) => Place::Plain,
        };
        batch.add(
            m.member.as_deref(),
            &m.located,
            m.member_offset,
            action,
            place,
            stats,
        );
    }
    batch.send();
    let reported = stats.reported;
    if !found.is_empty() {
        stats.files_with_findings += 1;
    }
    outcome?;
    let (sha_before, sha_after) = rebuilt_hashes(cfg, file, input, replaced)?;
    let status = if found.len() as u64 == stats.allowed {
        FileStatus::Clean
    } else if reported > 0 {
        FileStatus::Reported
    } else {
        FileStatus::Truncated
    };
    let reason = (scrub && reported > 0)
        .then(|| "binary member(s): report-only (use --scrub-binary)".to_string());
    Ok(Record::File {
        path: pathtext.clone(),
        format: fmt.as_str(),
        size: md.len(),
        sha256_before: sha_before,
        sha256_after: sha_after,
        findings: found.len() as u64,
        status,
        reason,
    })
}

/// Parquet: cells scanned row group by row group; scrub rebuilds the file
/// (verify-then-rename, like archives).
fn process_parquet(
    ctx: &Ctx,
    input: &Input,
    pathtext: &PathText,
    file: &File,
    md: &std::fs::Metadata,
    stats: &mut Stats,
) -> Result<Record, InputError> {
    let cfg = ctx.cfg;
    let cx = format::parquet::Cx {
        det: &ctx.det,
        policy: &cfg.policy,
        allow: &cfg.allow,
        allow_columns: &cfg.allow_fields,
    };
    let meter = || Meter::new(cfg.budget);
    let mut found = format::parquet::scan(&cx, &meter(), file)?;
    for f in &mut found {
        // A field name is data too.
        f.column = mask_text(&f.column, &ctx.det, &cfg.policy);
    }
    let path_allowed = ctx.path_allowed(&input.path);
    let allowed = |f: &format::parquet::CellFinding| {
        path_allowed || cfg.allow.allows(&f.located.finding) || cfg.allow_fields.contains(&f.column)
    };
    let needed = found.iter().any(|f| !allowed(f));
    let outcome = replace_verified(ctx, input, file, md, needed, |out| {
        format::parquet::rebuild(&cx, &meter(), file, out)?;
        out.sync_all().map_err(InputError::io("fsync"))?;
        format::parquet::verify(&cx, &meter(), file, out)
    });
    let replaced = *outcome.as_ref().unwrap_or(&false);
    let mut batch = FindingBatch::new(ctx, pathtext);
    for f in &found {
        let action = if allowed(f) {
            Action::Allowed
        } else if replaced {
            Action::Truncated
        } else {
            Action::Reported
        };
        batch.add(
            None,
            &f.located,
            f.located.finding.offset,
            action,
            Place::Parquet(f),
            stats,
        );
    }
    batch.send();
    if !found.is_empty() {
        stats.files_with_findings += 1;
    }
    outcome?;
    let (sha_before, sha_after) = rebuilt_hashes(cfg, file, input, replaced)?;
    let status = if found.len() as u64 == stats.allowed {
        FileStatus::Clean
    } else if stats.reported > 0 {
        FileStatus::Reported
    } else {
        FileStatus::Truncated
    };
    Ok(Record::File {
        path: pathtext.clone(),
        format: Format::Parquet.as_str(),
        size: md.len(),
        sha256_before: sha_before,
        sha256_after: sha_after,
        findings: found.len() as u64,
        status,
        reason: None,
    })
}

/// Uncompressed tar: members scanned by name; scrub masks member data in
/// place (headers are never written) or into the `--out` copy.
fn process_tar(
    ctx: &Ctx,
    input: &Input,
    pathtext: &PathText,
    file: &File,
    md: &std::fs::Metadata,
    stats: &mut Stats,
) -> Result<Record, InputError> {
    let cfg = ctx.cfg;
    let cx = ctx.container_cx();
    let found = container::scan_tar_file(&cx, &Meter::new(cfg.budget), file)?;
    let size = md.len();
    let scrub = cfg.mode == Mode::Scrub;
    let mut copy = match (&cfg.out, scrub) {
        (Some(out), true) => Some(CopyDest::create(out, ctx, input)?),
        _ => None,
    };
    let target = if let Some(c) = copy.as_mut() {
        Target::Copy(c.tmp.as_file_mut())
    } else if scrub {
        Target::InPlace(InPlace::new(&input.path, md.dev(), md.ino()))
    } else {
        Target::None
    };
    let mut applier =
        Applier::new(file, target, cfg.policy, cfg.hashing).large(text::in_pieces(size));
    // Findings come in archive order: ascending file offsets.
    let path_allowed = ctx.path_allowed(&input.path);
    let masks = |m: &container::MemberFinding| {
        scrub && !m.report_only && !path_allowed && !cfg.allow.allows(&m.located.finding)
    };
    let to_mask: Vec<text::Located> = found
        .iter()
        .filter(|m| masks(m))
        .map(|m| m.located)
        .collect();
    let mut actions = applier.advance(size, &to_mask)?.into_iter();
    let (sha_before, sha_after) = applier.finish(size)?;
    let mismatched = applier.mismatched;
    if let Some(w) = applier.in_place_handle() {
        w.sync_data().map_err(InputError::io("fsync"))?;
        restore_times(w, md).map_err(InputError::io("restore times"))?;
    }
    drop(applier);
    if let Some(c) = copy {
        if mismatched > 0 {
            return Err(InputError::Changed(format!(
                "{mismatched} finding(s) changed before they could be masked; copy discarded"
            )));
        }
        // The copy was checked span by span; a text re-scan would also see
        // header bytes, which are never masked.
        c.finish(ctx, md, true)?;
    }
    let mut batch = FindingBatch::new(ctx, pathtext);
    for m in &found {
        let action = if path_allowed || cfg.allow.allows(&m.located.finding) {
            Action::Allowed
        } else if masks(m) {
            actions.next().unwrap_or(Action::Reported)
        } else {
            Action::Reported
        };
        batch.add(
            m.member.as_deref(),
            &m.located,
            m.member_offset,
            action,
            Place::Plain,
            stats,
        );
    }
    batch.send();
    if !found.is_empty() {
        stats.files_with_findings += 1;
    }
    let status = if mismatched > 0 {
        stats.errors += 1;
        FileStatus::Error
    } else if found.len() as u64 == stats.allowed {
        FileStatus::Clean
    } else if stats.reported > 0 {
        FileStatus::Reported
    } else {
        FileStatus::Truncated
    };
    let reason = match status {
        FileStatus::Error => Some(format!(
            "changed during scrub: {mismatched} finding(s) left in place"
        )),
        FileStatus::Reported if scrub => {
            Some("binary or sparse member(s): report-only".to_string())
        }
        _ => None,
    };
    Ok(Record::File {
        path: pathtext.clone(),
        format: Format::Tar.as_str(),
        size,
        sha256_before: sha_before,
        sha256_after: sha_after,
        findings: found.len() as u64,
        status,
        reason,
    })
}

/// Scrub of a format that is rebuilt (archives, compressed streams,
/// Parquet). `build` writes the masked content into a temp file and
/// verifies it. With `--out` the result goes to the mirror tree (a plain
/// copy when nothing needs masking); otherwise it replaces the original,
/// keeping mode, owner and times, unless the original changed meanwhile.
/// Returns whether masked content was written.
fn replace_verified(
    ctx: &Ctx,
    input: &Input,
    file: &File,
    md: &std::fs::Metadata,
    needed: bool,
    build: impl FnOnce(&mut File) -> Result<(), InputError>,
) -> Result<bool, InputError> {
    if let (Some(out), Mode::Scrub) = (&ctx.cfg.out, ctx.cfg.mode) {
        let mut c = CopyDest::create(out, ctx, input)?;
        if needed {
            build(c.tmp.as_file_mut())?;
        } else {
            let mut src = file;
            src.rewind().map_err(InputError::io("seek"))?;
            io::copy(&mut src, c.tmp.as_file_mut()).map_err(InputError::io("copy"))?;
        }
        // Verified by `build` in the format's own terms, not as text.
        c.finish(ctx, md, true)?;
        return Ok(needed);
    }
    if !needed || ctx.cfg.mode != Mode::Scrub {
        return Ok(false);
    }
    let dir = input
        .path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = temp_beside(dir)?;
    build(tmp.as_file_mut())?;
    if let Some(pause) = ctx.rebuild_pause {
        std::thread::sleep(pause);
    }
    // Someone rewrote the original while we rebuilt it: keep theirs.
    let now = std::fs::symlink_metadata(&input.path).map_err(InputError::io("stat"))?;
    if !same_version(md, &now) {
        return Err(InputError::Changed(
            "the file was modified during the rebuild; not replaced".into(),
        ));
    }
    let t = tmp.as_file();
    t.set_permissions(std::fs::Permissions::from_mode(md.mode() & 0o7777))
        .map_err(InputError::io("set permissions"))?;
    let _ = std::os::unix::fs::fchown(t, Some(md.uid()), Some(md.gid()));
    restore_times(t, md).map_err(InputError::io("restore times"))?;
    t.sync_all().map_err(InputError::io("fsync"))?;
    tmp.persist(&input.path)
        .map_err(|e| InputError::io("rename")(e.error))?;
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(true)
}

/// sha256 of a rebuilt input before, and after when it was replaced.
fn rebuilt_hashes(
    cfg: &Config,
    file: &File,
    input: &Input,
    replaced: bool,
) -> Result<(Option<String>, Option<String>), InputError> {
    let want = replaced || cfg.hashing == Hashing::All;
    if !want || cfg.hashing == Hashing::Off {
        return Ok((None, None));
    }
    let before = sha256_file(file).map_err(InputError::io("hash"))?;
    let after = if replaced && cfg.out.is_none() {
        let now = File::open(&input.path).map_err(InputError::io("open"))?;
        Some(sha256_file(&now).map_err(InputError::io("hash"))?)
    } else {
        None
    };
    Ok((Some(before), after))
}

/// Rebuilds a container into `out` with `to_mask` masked, makes it durable
/// and verifies it against the original (`found` are all its findings).
#[allow(clippy::too_many_arguments)]
fn rebuild_verified(
    cx: &container::Cx,
    cfg: &Config,
    file: &File,
    fmt: Format,
    to_mask: &[&container::MemberFinding],
    found: &[container::MemberFinding],
    path: &Path,
    out: &mut File,
) -> Result<(), InputError> {
    container::rebuild(cx, &Meter::new(cfg.budget), file, fmt, to_mask, &mut *out)?;
    out.sync_all().map_err(InputError::io("fsync"))?;
    container::verify(cx, &Meter::new(cfg.budget), file, out, fmt, found, path)
}

/// A temp file in `dir` (mode 0600) with a random name that is never
/// derived from the input name, which may itself contain a PAN; the walk
/// recognises the name and never scans such files.
fn temp_beside(dir: &Path) -> Result<tempfile::NamedTempFile, InputError> {
    tempfile::Builder::new()
        .prefix(walk::TEMP_PREFIX)
        .suffix(walk::TEMP_SUFFIX)
        .tempfile_in(dir)
        .map_err(InputError::io("create temp file"))
}

/// Same inode, size, mtime and ctime: nobody wrote to the file.
fn same_version(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    a.dev() == b.dev()
        && a.ino() == b.ino()
        && a.len() == b.len()
        && a.mtime() == b.mtime()
        && a.mtime_nsec() == b.mtime_nsec()
        && a.ctime() == b.ctime()
        && a.ctime_nsec() == b.ctime_nsec()
}

fn sha256_file(f: &File) -> io::Result<String> {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    let mut r = f;
    r.rewind()?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(crate::write::hex(&h.finalize()))
}

fn read_head(file: &File, buf: &mut [u8]) -> io::Result<usize> {
    use std::os::unix::fs::FileExt;
    let mut n = 0;
    while n < buf.len() {
        match file.read_at(&mut buf[n..], n as u64) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

fn print_stdout(ctx: &Ctx, text: &str) {
    let Ok(mut out) = ctx.stdout.lock() else {
        return;
    };
    if let Err(e) = out.write_all(text.as_bytes()) {
        if e.kind() == io::ErrorKind::BrokenPipe && ctx.cfg.mode == Mode::Scan {
            // `panscrub scan … | head`: the reader is gone; a read-only
            // scan has nothing left to do for anyone.
            std::process::exit(0);
        }
    }
}

fn restore_times(f: &File, md: &std::fs::Metadata) -> io::Result<()> {
    let mut t = FileTimes::new();
    if let Ok(m) = md.modified() {
        t = t.set_modified(m);
    }
    if let Ok(a) = md.accessed() {
        t = t.set_accessed(a);
    }
    f.set_times(t)
}

/// A scrubbed copy under `--out`, written to a temp file beside its
/// destination and renamed over it only when complete and verified.
struct CopyDest {
    dest: PathBuf,
    tmp: tempfile::NamedTempFile,
}

impl CopyDest {
    fn create(out: &Path, ctx: &Ctx, input: &Input) -> Result<CopyDest, InputError> {
        let root = &ctx.cfg.roots[input.root];
        let mut dest = out.join(mirror_name(root));
        if !input.rel.as_os_str().is_empty() {
            dest.push(&input.rel);
        }
        let dir = dest.parent().unwrap_or(out).to_path_buf();
        std::fs::create_dir_all(&dir).map_err(InputError::io("create output directory"))?;
        // Random temp name: never derived from the input name, which may
        // itself contain a PAN. Created 0600.
        let tmp = temp_beside(&dir)?;
        Ok(CopyDest { dest, tmp })
    }

    fn finish(
        self,
        ctx: &Ctx,
        md: &std::fs::Metadata,
        report_only: bool,
    ) -> Result<(), InputError> {
        let f = self.tmp.as_file();
        f.sync_all().map_err(InputError::io("fsync copy"))?;
        if !report_only {
            // Verify: the copy must hold no PAN.
            let size = f.metadata().map_err(InputError::io("stat copy"))?.len();
            let mut left = 0;
            text::scan_file(&ctx.det, f, size, true, false, &mut |_, l| {
                left += l.len();
                Ok(())
            })?;
            if left > 0 {
                return Err(InputError::Changed(format!(
                    "{left} PAN(s) found in the copy after masking; copy discarded"
                )));
            }
        }
        f.set_permissions(std::fs::Permissions::from_mode(md.mode() & 0o7777))
            .map_err(InputError::io("set permissions"))?;
        // Owner: only root can give a file away; anyone else keeps their own.
        let _ = std::os::unix::fs::fchown(f, Some(md.uid()), Some(md.gid()));
        restore_times(f, md).map_err(InputError::io("restore times"))?;
        let dir = self.dest.parent().map(Path::to_path_buf);
        self.tmp
            .persist(&self.dest)
            .map_err(|e| InputError::io("rename copy")(e.error))?;
        if let Some(d) = dir {
            if let Ok(df) = File::open(d) {
                let _ = df.sync_all();
            }
        }
        Ok(())
    }
}
