//! Scale-out on a real Slurm: a single-node cluster (`slurmctld`, `slurmd`
//! and `munged` from Debian's packages, started by
//! `scripts/slurm-cluster.sh` in a temp dir, stopped after) runs the
//! shipped array script through `scripts/scale-out/slurm-submit.sh` over a
//! tree of logs, a Salesforce export zip and a Parquet file; the merge job
//! runs when the array has ended well. The merged manifest says what one
//! process's scrub says, and the trees end byte for byte the same.
//!
//! Needs root and the packages; `scripts/test.sh` installs them and sets
//! `PANSCRUB_REQUIRE_TOOLS`, under which a missing Slurm fails the test
//! instead of skipping it.

use super::scale_out::*;
use super::*;

const SCRIPTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts");

/// A running cluster, stopped when dropped. One at a time: the daemons
/// listen on fixed ports.
struct Cluster {
    dir: tempfile::TempDir,
    conf: PathBuf,
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
}

static ONE_CLUSTER: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Cluster {
    /// Starts one, or says why it cannot and returns `None` (a failure
    /// when the tools are required).
    fn start() -> Option<Cluster> {
        let root = is_root();
        let have =
            Path::new("/usr/sbin/slurmctld").exists() && Path::new("/usr/sbin/munged").exists();
        if !root || !have {
            let why = if root {
                "slurm-wlm or munge is not installed"
            } else {
                "not root"
            };
            assert!(
                std::env::var_os("PANSCRUB_REQUIRE_TOOLS").is_none(),
                "a Slurm cluster is required: {why}"
            );
            eprintln!("skipped: no Slurm cluster ({why})");
            return None;
        }
        let guard = ONE_CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
        let dir = tempfile::tempdir().unwrap();
        let o = Command::new(format!("{SCRIPTS}/slurm-cluster.sh"))
            .arg("start")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "cluster did not start: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let conf = PathBuf::from(String::from_utf8_lossy(&o.stdout).trim());
        Some(Cluster {
            dir,
            conf,
            _one_at_a_time: guard,
        })
    }

    fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf);
        c
    }

    /// A job's state (`COMPLETED`, `PENDING`...), from the controller.
    fn state(&self, job: &str) -> String {
        let o = self
            .cmd("scontrol")
            .args(["show", "job", job, "-o"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout).to_string();
        text.split_whitespace()
            .find_map(|w| w.strip_prefix("JobState="))
            .unwrap_or("UNKNOWN")
            .to_string()
    }

    /// Waits until `job` reaches a final state, and returns it.
    fn wait(&self, job: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.state(job);
            if !matches!(
                s.as_str(),
                "PENDING" | "RUNNING" | "CONFIGURING" | "COMPLETING"
            ) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(300),
                "job {job} still {s}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Submits the shipped array and its merge over `data`, `shards` tasks
    /// of one CPU; returns (array id, merge id).
    fn submit(
        &self,
        data: &Path,
        out: &Path,
        shards: u32,
        env: &[(&str, &str)],
    ) -> (String, String) {
        let o = self
            .cmd(&format!("{SCRIPTS}/scale-out/slurm-submit.sh"))
            .env("DATA", data)
            .env("OUT", out)
            .env("SHARDS", shards.to_string())
            .env("PANSCRUB", BIN)
            .envs(env.iter().copied())
            .arg("--cpus-per-task=1")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let ids: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .map(String::from)
            .collect();
        (ids[0].clone(), ids[1].clone())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(format!("{SCRIPTS}/slurm-cluster.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

#[test]
fn a_slurm_array_and_its_merge_say_what_one_scrub_says() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let d = tmp();
    let (single, sharded, m) = two_trees(d.path(), 12, 400);

    let out = d.path().join("out");
    let (array, merge) = cluster.submit(&sharded, &out, 3, &[]);
    assert_eq!(
        cluster.wait(&merge),
        "COMPLETED",
        "merge job of array {array}"
    );
    for k in 0..3 {
        assert_eq!(cluster.state(&format!("{array}_{k}")), "COMPLETED");
        assert!(out.join(format!("shard-{k}.attempt-0.jsonl")).exists());
    }
    let merged = out.join("merged.jsonl");
    assert_merge_says_what_one_scrub_says(&merged, &sharded, &m, &single);
    assert_eq!(
        manifest(&merged)
            .iter()
            .filter(|r| r["kind"] == "run")
            .count(),
        3
    );
    assert_eq!(tree_bytes(&sharded), tree_bytes(&single));
}

/// One array task cancelled mid-scrub (`scancel` of one element), then
/// requeued: the rerun completes the shard; the merge (submitted again, as
/// Slurm never satisfies an `afterok` on an array one of whose tasks was
/// cancelled) counts every finding once, under the attempt that truncated
/// it; the tree ends as one scrub leaves it, with no temp file left.
#[test]
fn a_cancelled_and_requeued_shard_counts_every_finding_once() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let d = tmp();
    let (single, sharded, m) = two_trees(d.path(), 16, 200);

    let out = d.path().join("out");
    // Slow enough (a pause after each file's batch) to be cancelled with
    // files done and files to go.
    let (array, merge) = cluster.submit(
        &sharded,
        &out,
        2,
        &[("PANSCRUB_TEST_BATCH_PAUSE_MS", "400")],
    );
    let task = format!("{array}_0");
    let first = out.join("shard-0.attempt-0.jsonl");
    let start = Instant::now();
    while !fs::read_to_string(&first)
        .unwrap_or_default()
        .contains("\"truncated\"")
    {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "shard 0 truncated nothing"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let st = cluster.cmd("scancel").arg(&task).status().unwrap();
    assert!(st.success());
    assert_eq!(cluster.wait(&task), "CANCELLED");
    let st = cluster
        .cmd("scontrol")
        .args(["requeue", &task])
        .status()
        .unwrap();
    assert!(st.success());
    // A requeued job waits a while before it may start again.
    let _ = cluster
        .cmd("scontrol")
        .args(["update", &format!("jobid={task}"), "StartTime=now"])
        .status();
    let _ = cluster.cmd("scancel").arg(&merge).status();
    let o = cluster
        .cmd(&format!("{SCRIPTS}/scale-out/slurm-submit.sh"))
        .env("DATA", &sharded)
        .env("OUT", &out)
        .env("PANSCRUB", BIN)
        .env("MERGE_ONLY", &task)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let merge = String::from_utf8_lossy(&o.stdout).trim().to_string();
    assert_eq!(cluster.wait(&merge), "COMPLETED");
    assert!(
        out.join("shard-0.attempt-1.jsonl").exists(),
        "the rerun has its own manifest"
    );

    let merged = out.join("merged.jsonl");
    let recs = manifest(&merged);
    assert_eq!(
        kind(&recs, "run").len(),
        3,
        "two attempts of shard 0, one of shard 1"
    );
    // Every finding once: the killed attempt's and the rerun's together
    // are the single scrub's.
    assert_eq!(
        finding_places(&merged, &sharded),
        finding_places(&m, &single)
    );
    let (a, b) = (totals(&merged), totals(&m));
    for k in ["findings", "truncated", "reported", "by_brand", "by_type"] {
        assert_eq!(a[k], b[k], "{k}");
    }
    assert_eq!(b["errors"], 0);
    // The one error is the input the killed attempt was in when stopped
    // (its finished batches masked, said so); the rerun went through that
    // same file again (clean or truncated, by where the stop fell), so the
    // merge keeps the error as evidence, marked with the rerun's id, and
    // no longer counts it: the merged totals and exit code are one scrub's.
    let rerun = kind(&manifest(&out.join("shard-0.attempt-1.jsonl")), "run")[0]["run_id"].clone();
    let errors: Vec<&Value> = kind(&recs, "file")
        .into_iter()
        .filter(|r| r["status"] == "error")
        .collect();
    assert!(errors.len() <= 1, "{errors:?}");
    for e in &errors {
        assert!(
            e["reason"].as_str().unwrap().contains("stopped by SIGTERM"),
            "{e}"
        );
        assert_eq!(e["superseded_by"], rerun, "{e}");
        let finished = kind(&recs, "file")
            .into_iter()
            .filter(|r| r["path"] == e["path"] && r["status"] != "error")
            .count();
        assert_eq!(finished, 1, "the rerun finished {}", e["path"]);
    }
    assert_eq!(a["errors"], 0);
    assert_eq!(a["exit_code"], 0);
    let summary = kind(&recs, "summary").pop().unwrap().clone();
    assert_eq!(
        summary["superseded_errors"].as_u64().unwrap_or(0),
        errors.len() as u64
    );
    assert!(summary.get("interrupted").is_none(), "{summary}");
    // The killed attempt truncated some of them, the rerun the rest.
    let attempt0 = kind(&manifest(&first), "finding").len();
    assert!(attempt0 > 0);
    assert!(attempt0 < kind(&recs, "finding").len());
    assert_eq!(
        tree_bytes(&sharded),
        tree_bytes(&single),
        "no temp file left, same bytes"
    );
}
