//! Reporting findings: one manifest record and one stdout line per
//! finding, sent a batch at a time; counts go to the input's [`Stats`].
//!
//! This is the sink of the searcher/sink split: adapters hand it a
//! [`Hit`] and the action taken; it never reads a file.

use std::fmt::Write as _;
use std::io::{self, Write};

use crate::config::{Mode, StdoutMode};
use crate::detect::{Kind, Network};
use crate::location::Hit;
use crate::manifest::{Action, FindingRecord, PathText, Record};

use super::outcome::Stats;
use super::Ctx;

/// The findings of one batch of one input.
pub struct Findings<'a> {
    ctx: &'a Ctx<'a>,
    path: &'a PathText,
    records: Vec<Record>,
    text: String,
    /// `--sort`: each finding's line with its sort key.
    held: Vec<(crate::manifest::SortKey, String)>,
    /// Bytes per unit of a finding's length: 2 in UTF-16 files.
    unit_bytes: usize,
    /// The findings are in the input's name, not its content.
    in_name: bool,
}

impl<'a> Findings<'a> {
    /// An empty batch for the input `path`.
    pub fn new(ctx: &'a Ctx<'a>, path: &'a PathText) -> Findings<'a> {
        Findings {
            ctx,
            path,
            records: Vec::new(),
            text: String::new(),
            held: Vec::new(),
            unit_bytes: 1,
            in_name: false,
        }
    }

    /// Findings in the input's (file or directory) name: type `path`.
    pub fn in_name(mut self) -> Self {
        self.in_name = true;
        self
    }

    /// Lengths of findings found in UTF-16 code units are reported in
    /// bytes.
    pub fn utf16(mut self, yes: bool) -> Self {
        self.unit_bytes = if yes { 2 } else { 1 };
        self
    }

    /// Records one finding and what was done with it.
    pub fn add(&mut self, hit: &Hit, action: Action, stats: &mut Stats) {
        let cfg = self.ctx.cfg;
        let f = &hit.finding;
        if let Some(w) = &self.ctx.hooks.panic_on_path {
            if self.path.display().contains(w.as_str()) {
                // The worst case: a message holding the full PAN.
                panic!(
                    "injected fault at {}",
                    String::from_utf8_lossy(f.span_bytes())
                );
            }
        }
        let masked = hit.masked(&cfg.policy);
        let kind = if self.in_name {
            "path"
        } else {
            f.kind.as_str()
        };
        stats.count(f.network.map(Network::as_str), kind, action);
        let line_start = self.text.len();
        if !cfg.quiet && cfg.stdout_mode == StdoutMode::Lines {
            let shown = if f.kind == Kind::Pan {
                masked.as_str().to_string()
            } else {
                masked.compact()
            };
            let location = if self.in_name {
                ": name holds".to_string()
            } else {
                format!("{}:", hit.at.display_suffix())
            };
            let _ = write!(
                self.text,
                "{}{} {} {}",
                self.path.display(),
                location,
                f.network.map_or("CVV", Network::as_str),
                if cfg.color {
                    highlight(&shown, cfg.policy.mask_byte())
                } else {
                    shown
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
        let at = &hit.at;
        let csv = at.csv.as_ref();
        self.records.push(Record::Finding(FindingRecord {
            path: self.path.clone(),
            member: at.member.clone(),
            offset: at.offset,
            length: f.len()
                * if hit.encoded.is_some() {
                    2
                } else {
                    self.unit_bytes
                },
            line: at.line,
            column: at.column,
            column_path: at.cell.as_ref().map(|c| c.column_path.clone()),
            kind: kind.into(),
            brand: f.network.map(|n| n.as_str().into()),
            masked: masked.compact(),
            action,
            in_name: self.in_name,
            row: csv.map(|c| c.row).or(at.cell.as_ref().map(|c| c.row)),
            field: csv.map(|c| c.field.clone()),
            record_id: csv.and_then(|c| c.record_id.clone()),
            object: csv.and_then(|c| c.object.clone()),
            masked_as: hit.masked_as.label().map(Into::into),
            json_path: at.json_path.clone(),
            sheet: at.doc.as_ref().and_then(|d| d.sheet.clone()),
            cell: at.doc.as_ref().and_then(|d| d.cell.clone()),
            shared_string: at.doc.as_ref().and_then(|d| d.shared_string),
            slide: at.doc.as_ref().and_then(|d| d.slide),
            paragraph: at.doc.as_ref().and_then(|d| d.paragraph),
            page: at.doc.as_ref().and_then(|d| d.page),
            fingerprint: cfg.allow.fingerprint(f),
        }));
        if !cfg.quiet && cfg.stdout_mode == StdoutMode::Json {
            if let Some(r) = self.records.last() {
                if let Ok(json) = serde_json::to_string(r) {
                    self.text.push_str(&json);
                    self.text.push('\n');
                }
            }
        }
        if cfg.sort && !cfg.quiet && self.text.len() > line_start {
            let line = self.text.split_off(line_start);
            let key = crate::manifest::sort_key(self.records.last().expect("pushed above"));
            self.held
                .push((key.expect("a finding has a sort key"), line));
        }
    }

    /// Sends the records to the manifest and the lines to stdout.
    pub fn send(mut self) {
        self.flush();
    }

    /// Sends what this batch holds once it holds [`BATCH`] findings: an
    /// input with millions of findings reaches the manifest as it goes,
    /// not all at once at its end.
    pub fn send_when_full(&mut self) {
        if self.records.len() >= BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if !self.records.is_empty() {
            self.ctx.manifest.send(std::mem::take(&mut self.records));
        }
        if !self.text.is_empty() {
            print_stdout(self.ctx, &std::mem::take(&mut self.text));
        }
        if !self.held.is_empty() {
            if let Ok(mut h) = self.ctx.held_stdout.lock() {
                h.append(&mut self.held);
            }
        }
    }
}

/// Findings of one input sent to the manifest at once (see
/// [`Findings::send_when_full`]).
const BATCH: usize = 8192;

/// Writes finding lines to stdout. A closed stdout (`scan … | head -1`)
/// stops the printing, never the run: the manifest is completed, every
/// input is still processed and the exit code is the real one.
pub fn print_stdout(ctx: &Ctx, text: &str) {
    use std::sync::atomic::Ordering;
    if ctx.stdout_closed.load(Ordering::Relaxed) {
        return;
    }
    let Ok(mut out) = ctx.stdout.lock() else {
        return;
    };
    // On a terminal the bar is cleared first and redrawn after: no stale
    // bar lines among the findings.
    let written = ctx.progress.suspend(|| {
        out.write_all(text.as_bytes())?;
        out.flush()
    });
    if let Err(e) = written {
        if !ctx.stdout_closed.swap(true, Ordering::Relaxed) && !ctx.cfg.quiet {
            let why = if e.kind() == io::ErrorKind::BrokenPipe {
                "closed".to_string()
            } else {
                format!("not writable ({e})")
            };
            eprintln!("panscrub: stdout {why}: findings are no longer printed; the run goes on");
        }
    }
}

/// `--sort`: holds a per-file line (`-l`, `-c`) until the end.
pub fn hold(ctx: &Ctx, path: &PathText, line: String) {
    if let Ok(mut h) = ctx.held_stdout.lock() {
        h.push(((path.clone(), 1, None, 0), line));
    }
}

/// `--sort`: prints the held finding lines in path order, at the end of
/// the run (as the manifest is written).
pub fn print_held(ctx: &Ctx) {
    let mut held = match ctx.held_stdout.lock() {
        Ok(mut h) => std::mem::take(&mut *h),
        Err(_) => return,
    };
    held.sort_by(|a, b| a.0.cmp(&b.0));
    let mut text = String::new();
    for (_, line) in held {
        text.push_str(&line);
        if text.len() > 1 << 16 {
            print_stdout(ctx, &text);
            text.clear();
        }
    }
    print_stdout(ctx, &text);
}

/// `masked` with its run of mask characters in bold red (ANSI).
fn highlight(masked: &str, mask: u8) -> String {
    let m = mask as char;
    match (masked.find(m), masked.rfind(m)) {
        (Some(a), Some(b)) => format!(
            "{}\x1b[1;31m{}\x1b[0m{}",
            &masked[..a],
            &masked[a..=b],
            &masked[b + 1..]
        ),
        _ => format!("\x1b[1;31m{masked}\x1b[0m"),
    }
}

/// The per-file line of `-l` and `-c`, if the file has findings.
pub fn file_line(ctx: &Ctx, path: &PathText, findings: u64) -> Option<String> {
    if ctx.cfg.quiet || findings == 0 {
        return None;
    }
    match ctx.cfg.stdout_mode {
        StdoutMode::FilesWithFindings => Some(format!("{}\n", path.display())),
        StdoutMode::Count => Some(format!("{}:{findings}\n", path.display())),
        _ => None,
    }
}

/// Prints an input's error on stderr (already masked).
pub fn print_error(path: &PathText, why: &str) {
    eprintln!("panscrub: {}: {why}", path.display());
}
