//! Errors a later attempt made good. A shard killed mid-scrub (a Slurm
//! task cancelled, a pod evicted) records the input it was in as an error;
//! its requeued attempt goes through that input again and finishes it.
//! Counted as it stands, the merge would report an error the estate no
//! longer has, and exit 2 for it.
//!
//! An error is superseded when a later attempt of the same job (same mode,
//! roots, output directory and policy; the same shard, or none: a
//! whole-tree run covers every shard; started after it, to the second)
//! has a record of that input that is not an error. The error record is
//! kept, marked `superseded_by` with that run's id, and no longer counted;
//! the merged summary says how many (`superseded_errors`). An error no
//! later attempt went through (a file gone since) still counts.

use std::collections::HashMap;

use anyhow::Result;

use super::Collected;
use crate::record::{FileStatus, PathText, Record, RunRecord, Totals};

/// Whether `later` is a later attempt of the job `earlier` ran.
pub(super) fn later_attempt(earlier: &RunRecord, later: &RunRecord) -> bool {
    later.started > earlier.started
        && later.mode == earlier.mode
        && later.roots == earlier.roots
        && later.out == earlier.out
        && later.policy == earlier.policy
        && (later.shard.is_none() || later.shard == earlier.shard)
}

/// The exit code that totals stand for, for a run whose own code counted
/// errors since superseded: the run's own rule (`outcome::exit_status`).
/// Scrub's form of it serves scans too: a scan reports every finding it
/// does not allow, so "reported" is "found".
pub(super) fn exit_code_of(t: &Totals) -> i32 {
    crate::run::outcome::exit_status(crate::config::Mode::Scrub, t).code()
}

impl Collected {
    /// Finds the superseded errors among those the first pass saw (not
    /// already marked by an earlier merge), reading again only the runs
    /// that are later attempts of a run with errors.
    pub(super) fn find_superseded(&mut self) -> Result<()> {
        let errors = std::mem::take(&mut self.unmarked_errors);
        if errors.is_empty() {
            return Ok(());
        }
        let mut by_path: HashMap<PathText, Vec<usize>> = HashMap::new();
        for (run, path) in errors {
            by_path.entry(path).or_default().push(run);
        }
        let with_errors: Vec<usize> = {
            let mut v: Vec<usize> = by_path.values().flatten().copied().collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        // The earliest attempt that finished an input is the one named.
        let mut order: Vec<usize> = (0..self.runs.len()).collect();
        order.sort_by(|a, b| self.runs[*a].started.cmp(&self.runs[*b].started));
        for b in order {
            let earlier: Vec<usize> = with_errors
                .iter()
                .copied()
                .filter(|&a| a != b && later_attempt(&self.runs[a], &self.runs[b]))
                .collect();
            if earlier.is_empty() {
                continue;
            }
            let mut finished: Vec<(usize, PathText)> = Vec::new();
            self.replay_run(b, &mut |r| {
                if let Record::File(f) = r {
                    if f.status != FileStatus::Error {
                        if let Some(runs) = by_path.get(&f.path) {
                            for &a in runs.iter().filter(|a| earlier.contains(a)) {
                                finished.push((a, f.path.clone()));
                            }
                        }
                    }
                }
                Ok(())
            })?;
            for key in finished {
                if !self.superseded.contains_key(&key) {
                    self.superseded_per_run[key.0] += 1;
                    self.superseded.insert(key, self.run_ids[b].clone());
                }
            }
        }
        let gone: u64 = self.superseded_per_run.iter().sum();
        self.seen.errors = self.seen.errors.saturating_sub(gone);
        let superseded = &self.superseded;
        self.seen.sample_problems.retain(|f| {
            f.status != FileStatus::Error || !superseded.keys().any(|(_, p)| *p == f.path)
        });
        Ok(())
    }

    /// The run that superseded run `run`'s error on `path`, if one did.
    pub fn superseded_by(&self, run: usize, path: &PathText) -> Option<&String> {
        self.superseded.get(&(run, path.clone()))
    }

    /// Run `run`'s errors found superseded.
    pub fn superseded_in(&self, run: usize) -> u64 {
        self.superseded_per_run[run]
    }

    /// Errors found superseded, over all runs.
    pub fn superseded_errors(&self) -> u64 {
        self.superseded_per_run.iter().sum()
    }

    /// Whether a later attempt of run `run`'s job finished (its summary
    /// was written): what run `run` left undone, that attempt did.
    pub fn replaced(&self, run: usize) -> bool {
        (0..self.runs.len())
            .any(|b| self.complete[b] && later_attempt(&self.runs[run], &self.runs[b]))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::Value;

    use crate::report::{collect_for_merge, merge};

    fn run(id: &str, started: &str, roots: &str, shard: &str) -> String {
        format!(
            r#"{{"kind":"run","tool":"panscrub","version":"0","schema":2,"mode":"scrub","run_id":"{id}","started":"{started}","roots":["{roots}"],"shard":"{shard}","policy":{{"keep":"6+4","mask_char":"*","iin_table_version":"1"}}}}"#
        )
    }

    fn file(path: &str, status: &str) -> String {
        format!(
            r#"{{"kind":"file","path":"{path}","format":"text","size":10,"findings":0,"status":"{status}"{}}}"#,
            if status == "error" {
                r#","reason":"stopped by SIGTERM""#
            } else {
                ""
            }
        )
    }

    fn summary(id: &str, files: u64, errors: u64, code: i32, interrupted: bool) -> String {
        format!(
            r#"{{"kind":"summary","files":{files},"files_with_findings":0,"findings":0,"truncated":0,"reported":0,"allowed":0,"skipped":0,"errors":{errors},"bytes":0,"elapsed_seconds":1.0,"by_brand":{{}},"by_type":{{}},"exit_code":{code},"run_id":"{id}"{}}}"#,
            if interrupted {
                r#","interrupted":"SIGTERM""#
            } else {
                ""
            }
        )
    }

    /// Writes each manifest, merges them, returns the merged records.
    fn merged(d: &std::path::Path, manifests: &[Vec<String>]) -> Vec<Value> {
        let paths: Vec<PathBuf> = manifests
            .iter()
            .enumerate()
            .map(|(i, lines)| {
                let p = d.join(format!("m{i}-{}.jsonl", d.read_dir().unwrap().count()));
                std::fs::write(&p, lines.join("\n") + "\n").unwrap();
                p
            })
            .collect();
        let c = collect_for_merge(&paths).unwrap();
        let mut out = Vec::new();
        merge(&c, &mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn last(recs: &[Value]) -> &Value {
        recs.last().unwrap()
    }

    fn killed() -> Vec<String> {
        vec![
            run("a0", "2026-01-01T00:00:00Z", "/d", "0/2"),
            file("/d/x.log", "clean"),
            file("/d/y.log", "error"),
            summary("a0", 2, 1, 2, true),
        ]
    }

    #[test]
    fn an_error_a_later_attempt_finished_is_marked_and_not_counted() {
        let d = tempfile::tempdir().unwrap();
        let rerun = vec![
            run("a1", "2026-01-01T00:05:00Z", "/d", "0/2"),
            file("/d/x.log", "clean"),
            file("/d/y.log", "truncated"),
            summary("a1", 2, 0, 0, false),
        ];
        let recs = merged(d.path(), &[rerun.clone(), killed()]);
        let error = recs.iter().find(|r| r["status"] == "error").unwrap();
        assert_eq!(error["superseded_by"], "a1");
        let s = last(&recs);
        assert_eq!(
            (&s["errors"], &s["superseded_errors"], &s["exit_code"]),
            (&Value::from(0), &Value::from(1), &Value::from(0))
        );
        assert!(s.get("interrupted").is_none(), "{s}");
        assert_eq!(s["files"], 4, "every file record still counted");

        // Merged again with nothing new, the marks are kept and the
        // error is not taken off twice.
        let again = merged(
            d.path(),
            &[recs.iter().map(|r| r.to_string()).collect::<Vec<_>>()],
        );
        assert_eq!(last(&again)["errors"], 0);
        let error = again.iter().find(|r| r["status"] == "error").unwrap();
        assert_eq!(error["superseded_by"], "a1");
    }

    #[test]
    fn an_error_no_later_attempt_of_the_same_job_finished_still_counts() {
        let d = tempfile::tempdir().unwrap();
        let cases = [
            // The rerun failed on it too.
            ("a1", "2026-01-01T00:05:00Z", "/d", "0/2", "error"),
            // Another job: other roots.
            ("b1", "2026-01-01T00:05:00Z", "/e", "0/2", "clean"),
            // Another shard.
            ("c1", "2026-01-01T00:05:00Z", "/d", "1/2", "clean"),
            // Started before the failed run.
            ("e1", "2025-12-31T23:00:00Z", "/d", "0/2", "clean"),
        ];
        for (id, started, roots, shard, status) in cases {
            let header = run(id, started, roots, shard);
            let errors = u64::from(status == "error");
            let other = vec![
                header,
                file("/d/y.log", status),
                summary(id, 1, errors, if errors > 0 { 2 } else { 0 }, false),
            ];
            let recs = merged(d.path(), &[killed(), other]);
            let s = last(&recs);
            assert_eq!(s["errors"], 1 + errors, "{id}");
            assert_eq!(s["exit_code"], 2, "{id}");
            assert!(s.get("superseded_errors").is_none(), "{id}");
            assert!(recs.iter().all(|r| r.get("superseded_by").is_none()));
        }
    }

    #[test]
    fn a_whole_tree_rerun_supersedes_a_shards_error() {
        let d = tempfile::tempdir().unwrap();
        let whole = vec![
            run("w", "2026-01-01T01:00:00Z", "/d", "x").replace(r#","shard":"x""#, ""),
            file("/d/y.log", "clean"),
            summary("w", 1, 0, 0, false),
        ];
        let recs = merged(d.path(), &[killed(), whole]);
        assert_eq!(last(&recs)["errors"], 0);
        assert_eq!(last(&recs)["superseded_errors"], 1);
    }

    #[test]
    fn a_killed_run_without_a_summary_is_superseded_too() {
        let d = tempfile::tempdir().unwrap();
        let mut cut = killed();
        cut.pop();
        let rerun = vec![
            run("a1", "2026-01-01T00:05:00Z", "/d", "0/2"),
            file("/d/y.log", "clean"),
            summary("a1", 1, 0, 0, false),
        ];
        let recs = merged(d.path(), &[cut, rerun]);
        let s = last(&recs);
        assert_eq!(
            (&s["errors"], &s["exit_code"]),
            (&Value::from(0), &Value::from(0))
        );
    }
}
