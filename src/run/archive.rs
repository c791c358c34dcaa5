//! Compressed streams (gzip, zstd, xz, bzip2, lz4), zip and pg_dump
//! archives as rebuilt formats: where their findings come from (the scan,
//! findings held from it, or a scan again beside the rebuild), and the
//! in-place scrub of a gzip file, whose deflate splice starts as soon as
//! its scan finds something to mask and then runs alongside it.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::Seek;
use std::sync::mpsc;

use crate::error::InputError;
use crate::format::budget::Meter;
use crate::format::container::{self, Decide, Feed, MemberFinding};
use crate::format::{pgdump, Format};
use crate::remediate::apply::Hashing;
use crate::remediate::digest::sha256_at;
use crate::remediate::install::Staged;

use super::follow::{Following, GiveUpOnDrop, Progress, Tracking};
use super::rebuilt::{Begun, Rebuild};
use super::replay::{held_findings, HitSink, Replay};
use super::Job;

/// Where a container's findings come from: its scan. It reads the file
/// only with positioned reads, so it can run on its own thread while the
/// rebuild reads the same open file.
pub struct Source<'a> {
    pub cx: container::Cx<'a>,
    pub file: &'a File,
    pub format: Format,
    pub path: &'a std::path::Path,
}

impl Source<'_> {
    fn scan(&self, meter: &Meter, out: &mut container::Sink) -> Result<(), InputError> {
        if self.format == Format::PgDump {
            pgdump::scan(&self.cx, meter, self.file, out)
        } else {
            container::scan(&self.cx, meter, self.file, self.format, self.path, out)
        }
    }

    /// Scans, sending the findings to `tx` [`BATCH`] at a time; also
    /// whether the scan stopped because the receiver was gone.
    fn scan_in_batches(
        &self,
        meter: &Meter,
        tx: mpsc::SyncSender<Vec<MemberFinding>>,
    ) -> (Result<(), InputError>, bool) {
        let mut batch = Vec::with_capacity(BATCH);
        let mut stopped = false;
        let res = self.scan(meter, &mut |m| {
            batch.push(m);
            if batch.len() == BATCH && tx.send(std::mem::take(&mut batch)).is_err() {
                stopped = true; // the rebuild stopped pulling
                return Err(InputError::Changed("scan stopped".into()));
            }
            Ok(())
        });
        if res.is_ok() && !batch.is_empty() {
            let _ = tx.send(batch);
        }
        (res, stopped)
    }
}

/// gzip, zstd, xz, bzip2, lz4, zip and pg_dump archives.
pub struct Archive<'a> {
    job: &'a Job<'a>,
    source: Source<'a>,
    replay: Replay<container::MemberFinding>,
    /// What the last rebuild compressed, for its verification.
    written: Cell<Option<container::StreamDigest>>,
    /// Whether the last rebuild was a deflate splice; once one fails its
    /// verification, the next is a recompression.
    spliced: Cell<bool>,
    no_splice: Cell<bool>,
    /// The last splice's result re-scanned as it was written, for its
    /// verification (taken by it).
    rescanned: RefCell<Option<Result<container::Rescan, InputError>>>,
    /// sha256 of the original and of the last splice's result, hashed on
    /// the way (see [`Rebuild::hashed`]).
    hashed: RefCell<(Option<String>, Option<String>)>,
}

impl<'a> Archive<'a> {
    /// The archive `source` of `job`, nothing scanned yet.
    pub fn new(job: &'a Job<'a>, source: Source<'a>) -> Archive<'a> {
        Archive {
            job,
            source,
            replay: Replay::new(held_findings(job)),
            written: Cell::new(None),
            spliced: Cell::new(false),
            no_splice: Cell::new(false),
            rescanned: RefCell::new(None),
            hashed: RefCell::new((None, None)),
        }
    }

    fn meter(&self) -> Meter {
        Meter::new(self.job.ctx.cfg.budget)
    }

    /// Runs `f` with a feed of the original's findings: from memory, or
    /// from a scan on a thread of its own that hands them over in small
    /// batches as `f` pulls them.
    fn with_feed(
        &self,
        decide: &Decide,
        f: impl FnOnce(&mut Feed) -> Result<(), InputError>,
    ) -> Result<(), InputError> {
        if let Some(found) = self.replay.held.borrow().as_ref() {
            return f(&mut container::held(found, decide));
        }
        let budget = self.job.ctx.cfg.budget;
        let source = &self.source;
        std::thread::scope(|s| {
            let (tx, rx) = mpsc::sync_channel::<Vec<container::MemberFinding>>(4);
            let scan = s.spawn(move || source.scan_in_batches(&Meter::new(budget), tx));
            let mut current = Vec::new().into_iter();
            let pull = move || loop {
                if let Some(m) = current.next() {
                    return Ok(Some(m));
                }
                match rx.recv() {
                    Ok(batch) => current = batch.into_iter(),
                    Err(_) => return Ok(None),
                }
            };
            let mut feed = Feed::new(Box::new(pull), decide);
            let used = f(&mut feed);
            drop(feed); // a scan still running stops at its next send
            let (scanned, stopped) = match scan.join() {
                Ok(r) => r,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            // A scan that failed ended the feed early: its error is the
            // cause of whatever the rebuild saw.
            match (scanned, used) {
                (Err(e), _) if !stopped => Err(e),
                (_, used) => used,
            }
        })
    }
}

impl Archive<'_> {
    /// Rebuilds a gzip file by splicing its deflate blocks (see
    /// `container::deflate`); whether it did. A file the splice does not
    /// handle is left for the general rebuild, with `out` emptied.
    fn splice(&self, decide: &Decide, out: &mut File) -> Result<bool, InputError> {
        let mut spliced = false;
        self.with_feed(decide, |feed| {
            let workers = self.source.cx.workers;
            spliced = self.splice_from(feed, out, &Progress::default(), workers)?;
            Ok(())
        })?;
        Ok(spliced)
    }

    /// [`Archive::splice`] with the findings of `feed`; how far `out` is
    /// written goes to `progress`, for a reader following it. With
    /// `workers` > 1 the splice writes on a thread of its own.
    fn splice_from(
        &self,
        feed: &mut Feed,
        out: &mut File,
        progress: &Progress,
        workers: usize,
    ) -> Result<bool, InputError> {
        let (cx, file) = (
            &container::Cx {
                workers,
                ..self.source.cx
            },
            self.job.file,
        );
        let _unless_finished = GiveUpOnDrop(progress);
        self.spliced.set(false);
        let mut tracked = Tracking::new(&*out, progress);
        let why = match container::splice_gzip(cx, &self.meter(), file, feed, &mut tracked) {
            Ok((_, stats)) => {
                let len = tracked.written();
                self.written.set(Some(stats.digest));
                self.spliced.set(true);
                if self.job.ctx.hooks.corrupt_splice {
                    // Before the finish: the follower reads the damage.
                    crate::remediate::install::flip_a_byte(out)
                        .map_err(InputError::io("test hook"))?;
                }
                progress.finish(len, true);
                return Ok(true);
            }
            Err(container::SpliceError::Unsupported(why)) => why,
            Err(container::SpliceError::Failed(e)) => return Err(e),
        };
        if self.job.ctx.hooks.require_splice {
            return Err(InputError::Verification(format!(
                "the deflate splice was refused: {why}"
            )));
        }
        out.set_len(0).map_err(InputError::io("truncate"))?;
        out.rewind().map_err(InputError::io("seek"))?;
        Ok(false)
    }

    /// The first scan of an in-place gzip scrub, on a thread of its own;
    /// this thread waits for its first finding to mask, then stages the
    /// rebuild and splices with the findings as the scan hands them over.
    /// Every finding is held on the way (as the first scan of
    /// [`Replay::each`] would hold them) for the verification and the
    /// records. A splice the file does not allow is followed, once the
    /// scan is over, by a recompression.
    fn scan_splicing(
        &self,
        decide: &Decide,
        stage: &dyn Fn() -> Result<Staged, InputError>,
    ) -> Result<Begun, InputError> {
        // The scan decodes on its own thread, no helper: the splice and
        // its re-scan keep the other core busy.
        let source = &Source {
            cx: container::Cx {
                workers: 1,
                ..self.source.cx
            },
            ..self.source
        };
        let counting = self.meter().counting();
        let mut held = self.replay.holder();
        let (begun, scanned) = std::thread::scope(|s| {
            let (tx, mut rx) = mpsc::sync_channel::<Vec<MemberFinding>>(4);
            let scan = s.spawn(move || source.scan_in_batches(&counting, tx).0);
            let mut current = Vec::<MemberFinding>::new().into_iter();
            let (rx_ref, current_ref, held_ref) = (&mut rx, &mut current, &mut held);
            let pull = move || loop {
                if let Some(m) = current_ref.next() {
                    held_ref.push(m.clone());
                    return Ok(Some(m));
                }
                match rx_ref.recv() {
                    Ok(batch) => *current_ref = batch.into_iter(),
                    Err(_) => return Ok(None),
                }
            };
            let mut feed = Feed::new(Box::new(pull), decide);
            let begun = match feed.peek() {
                Ok(None) => Ok(None),
                Ok(Some(_)) => stage().and_then(|mut staged| {
                    let spliced = self.splice_checked(&mut feed, &mut staged)?;
                    Ok(Some((staged, spliced)))
                }),
                Err(e) => Err(e),
            };
            drop(feed);
            // Whatever became of the rebuild, the scan runs to its end:
            // the records need every finding.
            current.for_each(|m| held.push(m));
            rx.iter().flatten().for_each(|m| held.push(m));
            let scanned = scan.join().unwrap_or_else(|p| std::panic::resume_unwind(p));
            (begun, scanned)
        });
        scanned?;
        self.replay.scanned(held);
        // A rebuild that failed is the rebuild's failure (the findings are
        // still listed), not the scan's.
        let (mut staged, spliced) = match begun {
            Ok(Some(begun)) => begun,
            Ok(None) => return Ok(Ok(None)),
            Err(e) => return Ok(Err(e)),
        };
        if !spliced {
            // The splice was refused: recompressed, from the held findings
            // or a scan again.
            self.no_splice.set(true);
            if let Err(e) = self.rebuild(decide, staged.file_mut()) {
                return Ok(Err(e));
            }
        }
        Ok(Ok(Some(staged)))
    }
}

impl Archive<'_> {
    /// [`Archive::splice_from`] into `staged`, its result re-scanned on a
    /// thread of its own as it is written (the re-scan half of the
    /// verification, which then only compares; see `run/follow.rs`).
    /// Not where a test build damages the file after the splice: that is
    /// verified by reading it again.
    fn splice_checked(&self, feed: &mut Feed, staged: &mut Staged) -> Result<bool, InputError> {
        let progress = Progress::default();
        if self.job.ctx.hooks.corrupt_rebuild {
            return self.splice_from(feed, staged.file_mut(), &progress, 1);
        }
        let reader = staged
            .file_mut()
            .try_clone()
            .map_err(InputError::io("open"))?;
        let (fmt, path) = (self.job.format, self.source.path);
        // One thread each for the splice and its re-scan: with the scan
        // beside them they keep two cores busy (a splice in two halves and
        // a re-scan decoding ahead made six threads, and were slower).
        let cx = &container::Cx {
            workers: 1,
            ..self.source.cx
        };
        let budget = self.job.ctx.cfg.budget;
        // The meter's ratio: the rebuilt stream decodes to as many bytes
        // as the original did.
        let size = self.job.md.len();
        let hashing = self.job.ctx.cfg.hashing != Hashing::Off;
        let original = self.job.file;
        std::thread::scope(|s| {
            // Hashed now, by position, where a core is often idle; the
            // install checks the original did not change since.
            let before = hashing.then(|| s.spawn(|| sha256_at(original).ok()));
            let check = s.spawn(|| {
                let mut follow = Following::new(&reader, &progress);
                let meter = Meter::new(budget);
                let rescan = container::rescan(cx, &meter, &mut follow, size, fmt, path);
                let after = match rescan {
                    Ok(_) if hashing => follow.sha256_to_end().ok(),
                    _ => None,
                };
                (rescan, after)
            });
            let spliced = self.splice_from(feed, staged.file_mut(), &progress, 1);
            let (rescan, after) = check
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            let before = before.and_then(|h| h.join().ok().flatten());
            if let Ok(true) = spliced {
                *self.rescanned.borrow_mut() = Some(rescan);
                *self.hashed.borrow_mut() = (before, after);
            }
            spliced
        })
    }
}

/// Findings handed from a scan on its own thread at a time.
const BATCH: usize = 1024;

impl Rebuild for Archive<'_> {
    fn scan(&self, each: &mut HitSink) -> Result<(), InputError> {
        // The scan's decoded bytes count as scanned (not the rebuild's).
        let first = if self.job.format == Format::PgDump {
            self.meter()
        } else {
            self.meter().counting()
        };
        self.replay.each(
            |out| self.source.scan(&first, out),
            |out| self.source.scan(&self.meter(), out),
            |m| &m.hit,
            each,
        )
    }

    fn rebuild(&self, decide: &Decide, out: &mut File) -> Result<(), InputError> {
        let (cx, file, format) = (&self.source.cx, self.job.file, self.job.format);
        self.spliced.set(false);
        // A rebuild again is verified and hashed by reading it.
        self.rescanned.take();
        self.hashed.borrow_mut().1 = None;
        if format == Format::Gzip && !self.no_splice.get() && self.splice(decide, out)? {
            return Ok(());
        }
        self.with_feed(decide, |feed| {
            if format == Format::PgDump {
                pgdump::rebuild(cx, file, feed, out)
            } else {
                let written = container::rebuild(cx, &self.meter(), file, format, feed, &mut *out)?;
                self.written.set(written);
                Ok(())
            }
        })
    }

    fn scan_rebuilding(
        &self,
        decide: &Decide,
        stage: &dyn Fn() -> Result<Staged, InputError>,
    ) -> Option<Result<Begun, InputError>> {
        (self.job.format == Format::Gzip).then(|| self.scan_splicing(decide, stage))
    }

    fn hashed(&self) -> (Option<String>, Option<String>) {
        self.hashed.take()
    }

    fn fall_back(&self) -> bool {
        let again = self.spliced.get() && !self.job.ctx.hooks.require_splice;
        self.no_splice.set(again);
        again
    }

    fn verify(&self, decide: &Decide, rebuilt: &File) -> Result<(), InputError> {
        let (cx, file, format) = (&self.source.cx, self.job.file, self.job.format);
        if let Some(rescan) = self.rescanned.take() {
            let written = self.written.get();
            return self.with_feed(decide, |feed| {
                container::judge_rescan(rescan, feed, written)
            });
        }
        self.with_feed(decide, |feed| {
            let meter = self.meter();
            if format == Format::PgDump {
                pgdump::verify(cx, &meter, file, rebuilt, feed)
            } else {
                container::verify(
                    cx,
                    &meter,
                    file,
                    rebuilt,
                    format,
                    feed,
                    &self.job.input.path,
                    self.written.get(),
                )
            }
        })
    }
}
