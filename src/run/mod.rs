//! One run: walk, process every input on a rayon pool (large files first,
//! see `schedule`), stream records to the manifest writer, print findings
//! and a summary, and compute the exit status.
//!
//! Per input: open read-only without following symlinks (and without
//! updating atime where the OS allows), sniff the format and hand the input
//! to its adapter: [`text`] (text, UTF-16, binary; CSV and JSON locations),
//! [`rebuilt`] (compressed streams, zip, Parquet: scan, then rebuild,
//! verify, install) or [`tar`] (in place, member data only). Every adapter
//! asks the one policy (`crate::policy`), reports through one printer
//! ([`printer`]) and fills one [`outcome::Outcome`]. Any failure is an
//! error for that input only.

mod names;
pub mod outcome;
pub use names::may_hold_pan;
mod archive;
mod follow;
pub mod printer;
pub mod progress;
mod rebuilt;
mod replay;
mod tar;
mod text;

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Instant, SystemTime};

use anyhow::{Context, Result};
use rayon::prelude::*;

use crate::config::{mirror_name, Config, Mode};
use crate::detect::{Detector, DetectorBuilder, IIN_TABLE_VERSION};
use crate::error::InputError;
use crate::exit::ExitStatus;
use crate::format::{self, Format};
use crate::hooks::TestHooks;
use crate::manifest::{
    mask_text, ManifestSender, ManifestWriter, PathText, PolicyRecord, Record, RunRecord,
    SummaryRecord,
};
use crate::schedule::{self, LargestFirst};
use crate::walk::{self, Entry, Input};

use outcome::{Outcome, Stats};

/// Shared, read-only state of the workers.
pub struct Ctx<'a> {
    /// The run's settings.
    pub cfg: &'a Config,
    /// The detector.
    pub det: Detector,
    manifest: ManifestSender,
    stdout: Mutex<io::BufWriter<io::Stdout>>,
    stats: Mutex<Stats>,
    /// Set once a write to stdout failed (the reader is gone).
    stdout_closed: std::sync::atomic::AtomicBool,
    /// `--sort`: finding lines held until the end, with their sort key.
    held_stdout: Mutex<Vec<(crate::manifest::SortKey, String)>>,
    /// The progress display (hidden unless stderr is a terminal).
    pub progress: progress::Progress,
    /// Faults injected by the integration tests (none in a release build).
    pub hooks: TestHooks,
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
    let run_id = crate::record::new_run_id();
    writer.sender().send(vec![Record::Run(RunRecord {
        tool: "panscrub".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        schema: crate::manifest::SCHEMA_VERSION,
        mode: cfg.mode.as_str().into(),
        started: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        roots: cfg.roots.iter().map(|r| pathtext(r)).collect(),
        policy: PolicyRecord {
            keep: cfg.policy.keep().to_string(),
            mask_char: (cfg.policy.mask_byte() as char).to_string(),
            iin_table_version: IIN_TABLE_VERSION.into(),
        },
        run_id: Some(run_id.clone()),
        out: cfg.out.as_deref().map(pathtext),
        shard: cfg.shard.map(|s| format!("{}/{}", s.index, s.count)),
    })]);

    let progress = progress::Progress::new(!cfg.quiet && io::stderr().is_terminal());
    let ctx = Ctx {
        cfg,
        det,
        manifest: writer.sender(),
        stdout: Mutex::new(io::BufWriter::new(io::stdout())),
        stats: Mutex::new(Stats::default()),
        held_stdout: Mutex::new(Vec::new()),
        stdout_closed: std::sync::atomic::AtomicBool::new(false),
        progress,
        hooks: TestHooks::from_env(),
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
    // Entries the walk found, before any shard took its share: none at all
    // means the paths or filters select nothing, which is never "clean".
    let walked = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| {
        let walk_progress = &ctx.progress;
        let walked = &walked;
        scope.spawn(move || {
            let mut order = LargestFirst::new(schedule::LOOKAHEAD);
            let mut workers_gone = false;
            walk::walk(cfg, cfg.manifest.as_deref(), &mut |e| {
                if !matches!(e, Entry::Directory(_)) {
                    walked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                if let Entry::Input(_) = &e {
                    walk_progress.found();
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
    ctx.progress.finish();
    printer::print_held(&ctx);
    let _ = ctx.stdout.lock().map(|mut o| o.flush());

    let stats = ctx.stats.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut status = outcome::exit_status(cfg.mode, &stats);
    let nothing_selected = walked.into_inner() == 0;
    if nothing_selected {
        status = ExitStatus::Error;
    }
    let elapsed = started.elapsed().as_secs_f64();
    // The rate is of bytes scanned (decoded), the unit of the progress
    // display: a compressed input counts what it expands to.
    let scanned = crate::format::budget::scanned_bytes();
    let mbps = if elapsed > 0.0 {
        scanned as f64 / elapsed / 1e6
    } else {
        0.0
    };
    writer.sender().send(vec![Record::Summary(SummaryRecord {
        totals: stats.clone(),
        elapsed_seconds: (elapsed * 1000.0).round() / 1000.0,
        throughput_mb_s: Some((mbps * 10.0).round() / 10.0),
        bytes_scanned: Some(scanned),
        exit_code: status.code(),
        merged_runs: None,
        complete_runs: None,
        run_id: Some(run_id),
        complete_run_ids: None,
        interrupted: crate::interrupt::requested().map(|s| crate::interrupt::name(s).into()),
        superseded_errors: None,
    })]);
    drop(ctx.manifest);
    writer.finish().context("cannot write manifest")?;
    if nothing_selected {
        eprintln!(
            "panscrub: warning: no file was selected: the paths hold no file{} (exit 2)",
            if cfg.include.is_some() || cfg.exclude.is_some() {
                " that --include/--exclude let through"
            } else {
                ""
            }
        );
    }
    if !cfg.quiet {
        eprintln!(
            "{}",
            outcome::summary_line(cfg, &stats, scanned, elapsed, mbps)
        );
    }
    if let Some(sig) = crate::interrupt::requested() {
        // Said even with --quiet: the run did not do all it was asked.
        eprintln!(
            "panscrub: stopped by {}: inputs not reached are not in the manifest{}; rerun to finish",
            crate::interrupt::name(sig),
            if cfg.manifest.is_some() {
                " (its summary says \"interrupted\")"
            } else {
                ""
            }
        );
    }
    Ok(status)
}

fn handle_entry(ctx: &Ctx, e: Entry) {
    if crate::interrupt::requested().is_some() {
        return; // stopping: inputs not started are left out of the manifest
    }
    if let Some(shard) = ctx.cfg.shard {
        let path = match &e {
            Entry::Input(i) => &i.path,
            Entry::Skipped { path, .. }
            | Entry::Error { path, .. }
            | Entry::StaleTemp(path)
            | Entry::Directory(path) => path,
        };
        if !shard.owns(path) {
            return; // another shard's
        }
    }
    let (path, outcome) = match e {
        Entry::Input(i) => return process(ctx, &i),
        Entry::Directory(dir) => {
            let mut stats = Stats::default();
            names::report(ctx, &dir, &ctx.path_text(&dir), &mut stats);
            if let Ok(mut s) = ctx.stats.lock() {
                s.merge(&stats);
            }
            return;
        }
        Entry::Skipped { path, reason } => {
            let mut o = Outcome::new(0);
            o.skipped = Some(reason.to_string());
            (path, o)
        }
        Entry::Error { path, reason } => {
            let mut o = Outcome::new(0);
            o.problem = Some(reason);
            (path, o)
        }
        Entry::StaleTemp(path) => {
            use crate::remediate::temp::{handle_found, Found};
            let size = std::fs::symlink_metadata(&path).map_or(0, |m| m.len());
            let reason = match handle_found(&path, ctx.cfg.mode == Mode::Scrub) {
                Ok(Found::Removed) => {
                    "stale panscrub temp file (left by an interrupted scrub) removed"
                }
                Ok(Found::Stale) => {
                    "stale panscrub temp file (left by an interrupted scrub): not scanned; the next scrub removes it"
                }
                // Work in progress of a run (another shard, another scrub,
                // or this one): within seconds it is renamed over the file
                // it replaces, whose own record that run writes. A record
                // here would name a file that is about to stop existing
                // and count a skip nobody made.
                Ok(Found::InUse | Found::Gone) => return,
                Err(_) => "panscrub temp file: could not be checked; left alone",
            };
            let mut o = Outcome::new(size);
            o.skipped = Some(reason.into());
            (path, o)
        }
    };
    finish(ctx, &ctx.path_text(&path), outcome);
}

/// Reports an input's end: its error on stderr, its `file` record, its
/// counts into the run's totals.
fn finish(ctx: &Ctx, path: &PathText, mut outcome: Outcome) {
    if let Some(why) = outcome.problem.as_mut() {
        // Messages from decoders and the OS carry no content by design;
        // masking them too costs nothing and guards against a library that
        // quotes a member name.
        *why = mask_text(why, &ctx.det, &ctx.cfg.policy);
        printer::print_error(path, why);
    }
    if !outcome.metadata_not_kept.is_empty() {
        // Attribute names are the user's: masked like any text we print.
        for what in outcome.metadata_not_kept.iter_mut() {
            *what = mask_text(what, &ctx.det, &ctx.cfg.policy);
        }
        printer::print_error(
            path,
            &format!("could not keep {}", outcome.metadata_not_kept.join(", ")),
        );
    }
    outcome.close();
    if let Some(line) = printer::file_line(ctx, path, outcome.stats.findings) {
        if ctx.cfg.sort {
            printer::hold(ctx, path, line);
        } else {
            printer::print_stdout(ctx, &line);
        }
    }
    ctx.manifest
        .send(vec![outcome.record(path.clone(), ctx.cfg.mode)]);
    // Plain inputs count their bytes as scanned batch by batch, compressed
    // ones as they decode; what is left of a plain one counts now.
    if !outcome.counted_while_decoding {
        crate::format::budget::count_scanned(outcome.size.saturating_sub(outcome.progressed));
    }
    if outcome.stats.files > 0 {
        ctx.progress.done();
    }
    if let Ok(mut s) = ctx.stats.lock() {
        s.merge(&outcome.stats);
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

/// One input as its adapter sees it.
pub struct Job<'a> {
    /// The run.
    pub ctx: &'a Ctx<'a>,
    /// The input as walked.
    pub input: &'a Input,
    /// Its path as printed (masked).
    pub path: &'a PathText,
    /// Opened read-only.
    pub file: &'a File,
    /// Its metadata when opened (the version a rebuild may replace).
    pub md: &'a std::fs::Metadata,
    /// Its first bytes, or all of a small file.
    pub head: &'a [u8],
    /// Its format, by content.
    pub format: Format,
    /// What in it was not inspected (pictures), for its file record.
    pub not_inspected: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl Job<'_> {
    /// Whether this job writes (a scrub).
    pub fn scrub(&self) -> bool {
        self.ctx.cfg.mode == Mode::Scrub
    }

    /// The policy for this input.
    pub fn policy(&self) -> crate::policy::InputPolicy<'_> {
        self.ctx.cfg.allow.for_input(&self.input.path)
    }

    /// Where the `--out` copy of this input goes, in a scrub with `--out`.
    pub fn mirror(&self) -> Option<PathBuf> {
        let out = self.ctx.cfg.out.as_ref().filter(|_| self.scrub())?;
        let root = &self.ctx.cfg.roots[self.input.root];
        let mut dest = out.join(mirror_name(root));
        if !self.input.rel.as_os_str().is_empty() {
            dest.push(&self.input.rel);
        }
        Some(dest)
    }
}

impl Ctx<'_> {
    /// A path as printed: any PAN in it masked.
    pub fn path_text(&self, p: &Path) -> PathText {
        PathText::new(p, &self.det, &self.cfg.policy)
    }
}

/// Processes one input and reports it; never panics on bad input.
fn process(ctx: &Ctx, input: &Input) {
    let path = ctx.path_text(&input.path);
    ctx.progress.started(&path);
    let mut outcome = Outcome::new(input.size);
    if names::report(ctx, &input.path, &path, &mut outcome.stats) > 0 && ctx.cfg.mode == Mode::Scrub
    {
        outcome.report_only_why = Some(names::NEVER_RENAMED.into());
    }
    // A panic is a bug; it costs this input, not the run. The hook has
    // already printed its message, masked.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        process_file(ctx, input, &path, &mut outcome)
    }))
    .unwrap_or_else(|payload| {
        let why = crate::panics::masked_message(payload.as_ref());
        Err(InputError::Corrupt(format!(
            "internal error (panic): {why}"
        )))
    });
    if let Err(e) = result {
        let mut why = e.to_string();
        if let Some(sig) = crate::interrupt::requested() {
            // Whatever the decoder said, the cause was the stop.
            why = format!(
                "stopped by {} before this input was finished: {}; rerun to finish",
                crate::interrupt::name(sig),
                if outcome.stats.truncated > 0 {
                    "the batches done are masked, the rest was not scanned"
                } else {
                    "left as it was"
                }
            );
        } else if ctx.cfg.mode == Mode::Scrub {
            why.push_str(e.hint().unwrap_or_default());
        }
        outcome.problem = Some(why);
    }
    finish(ctx, &path, outcome);
}

/// Opens, sniffs and hands the input to its adapter.
fn process_file(
    ctx: &Ctx,
    input: &Input,
    path: &PathText,
    outcome: &mut Outcome,
) -> Result<(), InputError> {
    let file = open_input(&input.path).map_err(|e| {
        if e.raw_os_error() == Some(libc::ELOOP) {
            InputError::Changed("it is now a symlink; not followed".into())
        } else {
            InputError::io("open")(e)
        }
    })?;
    let md = file.metadata().map_err(InputError::io("stat"))?;
    if !md.is_file() {
        outcome.size = 0;
        outcome.skipped = Some("not a regular file".into());
        return Ok(());
    }
    let size = md.len();
    outcome.size = size;
    // Small files are read whole here and scanned from memory: one read.
    let head_len = if size <= format::SMALL_FILE {
        size as usize
    } else {
        format::SNIFF_LEN
    };
    let mut head = vec![0u8; head_len];
    let n = read_head(&file, &mut head).map_err(InputError::io("read"))?;
    head.truncate(n);
    if let Some(why) = format::undecodable(&head) {
        outcome.skipped = Some(why.into());
        outcome.undecoded = true;
        return Ok(());
    }
    let fmt = format::sniff(&head);
    outcome.format = fmt.as_str();
    outcome.stats.files = 1;
    outcome.stats.bytes = size;
    let job = Job {
        ctx,
        input,
        path,
        file: &file,
        md: &md,
        head: &head,
        format: fmt,
        not_inspected: Default::default(),
    };
    if let Some(what) = crate::format::image::kind(&head) {
        if let Ok(mut set) = job.not_inspected.lock() {
            set.insert(crate::format::image::note(None, what));
        }
    }
    let result = if matches!(fmt, Format::Parquet | Format::PgDump) || fmt.is_container() {
        rebuilt::process(&job, outcome)
    } else if fmt == Format::Tar {
        tar::process(&job, outcome)
    } else {
        text::process(&job, outcome)
    };
    if let Ok(set) = job.not_inspected.into_inner() {
        outcome.not_inspected = set.into_iter().collect();
    }
    // A file written to while it was processed (the active log): the run
    // worked on the length it had when opened, and says what it left for
    // the next run.
    if let Ok(now) = file.metadata() {
        outcome.appended = now.len().checked_sub(size).filter(|&n| n > 0);
    }
    result
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
