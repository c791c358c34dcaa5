//! `--shard`: which inputs this process owns when N processes share a tree.
//! A path belongs to one shard by a hash of its bytes, so N processes with
//! the same roots cover the tree exactly once, whatever their order.
//!
//! The shard can be named (`K/N`) or taken from the batch engine running
//! the process, so the count cannot disagree with the array the engine
//! started:
//! - `slurm`: a Slurm job array task. K is `SLURM_ARRAY_TASK_ID` less
//!   `SLURM_ARRAY_TASK_MIN`, N is `SLURM_ARRAY_TASK_COUNT`; the array must
//!   be contiguous (`--array=0-15`, not `0-15:2` or `1,5,9`), or a task
//!   would own nothing and its paths nobody's.
//! - `k8s`: a Kubernetes Indexed Job pod. K is `JOB_COMPLETION_INDEX`, N is
//!   `PANSCRUB_SHARD_COUNT`, which the Job sets to its `completions` (the
//!   API does not hand a pod its Job's completions).

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::ConfigError;

/// Which inputs this process owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard, 0-based.
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

impl Shard {
    /// Parses `K/N` with `0 <= K < N`, or `slurm` or `k8s` (read from the
    /// process environment).
    pub fn parse(s: &str) -> Result<Shard, ConfigError> {
        Shard::parse_with(s, &|name| std::env::var(name).ok())
    }

    /// [`Shard::parse`] with the environment given as a lookup.
    pub fn parse_with(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Shard, ConfigError> {
        let bad = |why: String| ConfigError::Invalid {
            option: "--shard",
            why: format!("{s:?}: {why}"),
        };
        let number = |name: &str| -> Result<u64, ConfigError> {
            let v = env(name).ok_or_else(|| bad(format!("{name} is not set")))?;
            v.trim()
                .parse()
                .map_err(|_| bad(format!("{name}={v:?} is not a number")))
        };
        let (index, count) = match s.trim() {
            "slurm" => {
                let (id, min, max) = (
                    number("SLURM_ARRAY_TASK_ID")?,
                    number("SLURM_ARRAY_TASK_MIN")?,
                    number("SLURM_ARRAY_TASK_MAX")?,
                );
                let count = number("SLURM_ARRAY_TASK_COUNT")?;
                let step = env("SLURM_ARRAY_TASK_STEP").unwrap_or_else(|| "1".into());
                if step.trim() != "1" || max.checked_sub(min).map(|d| d + 1) != Some(count) {
                    return Err(bad(format!(
                        "the Slurm array {min}-{max} (step {step}, {count} tasks) is not contiguous: \
                         submit it as --array=0-{}",
                        count.saturating_sub(1)
                    )));
                }
                (id.wrapping_sub(min), count)
            }
            "k8s" => (
                number("JOB_COMPLETION_INDEX")?,
                number("PANSCRUB_SHARD_COUNT")?,
            ),
            named => {
                let (k, n) = named
                    .split_once('/')
                    .ok_or_else(|| bad("expected K/N, slurm or k8s".into()))?;
                (
                    k.trim().parse().map_err(|_| bad("bad K".into()))?,
                    n.trim().parse().map_err(|_| bad("bad N".into()))?,
                )
            }
        };
        if count == 0 || index >= count {
            return Err(bad(format!("shard {index} of {count}: need 0 <= K < N")));
        }
        Ok(Shard { index, count })
    }

    /// Whether this shard owns a path: the first 8 bytes of its SHA-256,
    /// modulo N (stable across machines, runs and thread counts).
    pub fn owns(&self, path: &Path) -> bool {
        let h = Sha256::digest(std::os::unix::ffi::OsStrExt::as_bytes(path.as_os_str()));
        let v = u64::from_be_bytes(h[..8].try_into().expect("8 bytes"));
        v % self.count == self.index
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn shards_partition() {
        let shards: Vec<Shard> = (0..4)
            .map(|k| Shard::parse(&format!("{k}/4")).unwrap())
            .collect();
        for i in 0..1000 {
            let p = std::path::PathBuf::from(format!("logs/app-{i}.log"));
            assert_eq!(shards.iter().filter(|s| s.owns(&p)).count(), 1);
        }
        assert!(Shard::parse("4/4").is_err());
        assert!(Shard::parse("x").is_err());
    }

    #[test]
    fn a_slurm_array_task_names_its_shard_and_the_count() {
        let task = |id: &str, min: &str, max: &str, count: &str| {
            let vars = [
                ("SLURM_ARRAY_TASK_ID", id),
                ("SLURM_ARRAY_TASK_MIN", min),
                ("SLURM_ARRAY_TASK_MAX", max),
                ("SLURM_ARRAY_TASK_COUNT", count),
            ];
            let parsed = Shard::parse_with("slurm", &env(&vars));
            parsed
        };
        assert_eq!(
            task("3", "0", "15", "16").unwrap(),
            Shard {
                index: 3,
                count: 16
            }
        );
        // `--array=1-4`: the first task is shard 0.
        assert_eq!(
            task("1", "1", "4", "4").unwrap(),
            Shard { index: 0, count: 4 }
        );
        // `--array=1,5,9` or `0-15:2`: some shard would have no task.
        let e = task("5", "1", "9", "3").unwrap_err().to_string();
        assert!(e.contains("not contiguous"), "{e}");
        let e = Shard::parse_with("slurm", &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("SLURM_ARRAY_TASK_ID is not set"), "{e}");
    }

    #[test]
    fn a_kubernetes_indexed_pod_names_its_shard_with_an_explicit_count() {
        let vars = [("JOB_COMPLETION_INDEX", "7"), ("PANSCRUB_SHARD_COUNT", "8")];
        assert_eq!(
            Shard::parse_with("k8s", &env(&vars)).unwrap(),
            Shard { index: 7, count: 8 }
        );
        let vars = [("JOB_COMPLETION_INDEX", "8"), ("PANSCRUB_SHARD_COUNT", "8")];
        assert!(Shard::parse_with("k8s", &env(&vars)).is_err());
        let vars = [("JOB_COMPLETION_INDEX", "1")];
        let e = Shard::parse_with("k8s", &env(&vars))
            .unwrap_err()
            .to_string();
        assert!(e.contains("PANSCRUB_SHARD_COUNT is not set"), "{e}");
    }
}
