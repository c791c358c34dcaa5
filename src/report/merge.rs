//! `panscrub merge`: several manifests (shards, interrupted runs, earlier
//! merges) into one. Each run keeps its `run` line followed by its own
//! findings and files, so every finding still says which run produced it;
//! one summary closes the whole, with the ids of the runs that finished.

use std::io::{self, Write};

use anyhow::Result;

use super::Collected;
use crate::record::{Record, SummaryRecord};

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
        c.replay_run(i, &mut |r| line(out, &r))?;
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
    for s in &c.summaries {
        total.totals.merge(&s.totals);
        total.elapsed_seconds = total.elapsed_seconds.max(s.elapsed_seconds);
        total.exit_code = total.exit_code.max(s.exit_code);
        if total.interrupted.is_none() {
            total.interrupted.clone_from(&s.interrupted);
        }
    }
    let unfinished = c.uncovered_totals();
    if unfinished != Default::default() {
        total.totals.merge(&unfinished);
        // What an unfinished run recorded still decides the exit code.
        let code = if unfinished.errors > 0 {
            2
        } else if unfinished.reported > 0 {
            1
        } else {
            0
        };
        total.exit_code = total.exit_code.max(code);
    }
    Ok(line(out, &Record::Summary(total))?)
}
