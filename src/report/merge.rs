//! `panscrub merge`: several manifests (shards, interrupted runs, earlier
//! merges) into one. Each run keeps its `run` line followed by its own
//! findings and files, so every finding still says which run produced it;
//! one summary closes the whole, with the ids of the runs that finished.
//! Errors a later attempt of the same job made good are marked and not
//! counted (`supersede.rs`).
//!
//! Records are copied as their manifest has them, line for line, without
//! being decoded again (the first pass read each one and noted the few to
//! rewrite: errors to mark, lines of the older schema), so a merge runs at
//! about the speed of reading its inputs.

use std::io::{self, Write};

use anyhow::Result;

use super::read::Line;
use super::supersede::exit_code_of;
use super::Collected;
use crate::record::{FileStatus, Record, SummaryRecord};

/// Writes the merged manifest. Totals: the summaries' own totals for runs
/// that finished (or an earlier merge's), tallied from the records for
/// runs no summary counts.
pub fn merge(c: &Collected, out: &mut dyn Write) -> Result<()> {
    let mut order: Vec<usize> = (0..c.runs.len()).collect();
    order.sort_by(|a, b| c.runs[*a].started.cmp(&c.runs[*b].started));
    let line = |out: &mut dyn Write, r: &Record| -> io::Result<()> {
        serde_json::to_writer(&mut *out, r)?;
        out.write_all(b"\n")
    };
    for &i in &order {
        line(out, &Record::Run(c.runs[i].clone()))?;
        c.replay_lines(i, &mut |l| match l {
            Line::AsWritten(text) => {
                out.write_all(text.as_bytes())?;
                out.write_all(b"\n")
            }
            Line::Reread(mut r) => {
                if let Record::File(f) = &mut *r {
                    if f.status == FileStatus::Error && f.superseded_by.is_none() {
                        f.superseded_by = c.superseded_by(i, &f.path).cloned();
                    }
                }
                line(out, &r)
            }
        })?;
    }
    let complete_ids: Vec<String> = c
        .run_ids
        .iter()
        .zip(&c.complete)
        .filter(|(_, done)| **done)
        .map(|(id, _)| id.clone())
        .collect();
    let mut total = SummaryRecord {
        merged_runs: Some(c.runs.len() as u64),
        complete_runs: Some(complete_ids.len() as u64),
        complete_run_ids: Some(complete_ids),
        ..SummaryRecord::default()
    };
    for (s, runs) in c.summaries.iter().zip(&c.summary_runs) {
        let gone: u64 = runs.iter().map(|&r| c.superseded_in(r)).sum();
        let mut counted = s.totals.clone();
        counted.errors = counted.errors.saturating_sub(gone);
        total.totals.merge(&counted);
        total.elapsed_seconds = total.elapsed_seconds.max(s.elapsed_seconds);
        // A run whose errors a later attempt made good exits as what is
        // left of them says; one whose job a later attempt finished was
        // not, in the end, cut short.
        let code = if gone > 0 {
            exit_code_of(&counted)
        } else {
            s.exit_code
        };
        total.exit_code = total.exit_code.max(code);
        let replaced = !runs.is_empty() && runs.iter().all(|&r| c.replaced(r));
        if total.interrupted.is_none() && !replaced {
            total.interrupted.clone_from(&s.interrupted);
        }
    }
    let unfinished = c.uncovered_totals();
    if unfinished != Default::default() {
        total.totals.merge(&unfinished);
        // What an unfinished run recorded still decides the exit code.
        total.exit_code = total.exit_code.max(exit_code_of(&unfinished));
    }
    let superseded = c.superseded_errors();
    total.superseded_errors = (superseded > 0).then_some(superseded);
    Ok(line(out, &Record::Summary(total))?)
}
