//! The shipped Kubernetes Indexed Job (`scripts/scale-out/k8s-indexed-job.yaml`):
//! valid against the `batch/v1` Job schema (strict: no unknown field), an
//! Indexed Job whose shard count is its `completions`, and whose pods,
//! run as Kubernetes would run them (the container's command and args
//! through `/bin/sh`, `JOB_COMPLETION_INDEX` set per pod, the volumes'
//! mount paths pointing at a temp tree), followed by the merge the YAML
//! names, say what one scrub says.
//!
//! The schema check is `kubernetes-validate` (PyPI; it carries the
//! Kubernetes OpenAPI schemas of each release); `scripts/test.sh` installs
//! it and sets `PANSCRUB_REQUIRE_TOOLS`, under which its absence fails.

use std::collections::BTreeMap;

use super::scale_out::*;
use super::*;

const JOB: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/scripts/scale-out/k8s-indexed-job.yaml"
);

/// The oldest and newest Kubernetes releases the validator has schemas
/// for (Indexed Jobs are GA since 1.24).
const VERSIONS: [&str; 2] = ["1.25.0", "1.37.0"];

fn have_validator() -> bool {
    let have = Command::new("python3")
        .args(["-m", "kubernetes_validate", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !have {
        assert!(
            std::env::var_os("PANSCRUB_REQUIRE_TOOLS").is_none(),
            "kubernetes-validate is required (pip install kubernetes-validate)"
        );
        eprintln!("skipped: kubernetes-validate is not installed");
    }
    have
}

fn validate(path: &Path, version: &str) -> Output {
    Command::new("python3")
        .args(["-m", "kubernetes_validate", "--strict", "-k", version])
        .arg(path)
        .output()
        .unwrap()
}

/// The YAML as JSON (PyYAML, which the validator brings).
fn job() -> Value {
    let o = Command::new("python3")
        .args([
            "-c",
            "import sys, json, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
            JOB,
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
fn the_indexed_job_is_a_valid_batch_v1_job_and_a_misspelt_one_is_not() {
    if !have_validator() {
        return;
    }
    for v in VERSIONS {
        let o = validate(Path::new(JOB), v);
        assert!(
            o.status.success(),
            "against {v}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // The check bites: a misspelt field is refused.
    let d = tmp();
    let bad = d.path().join("job.yaml");
    let text = fs::read_to_string(JOB).unwrap();
    fs::write(&bad, text.replace("completionMode:", "completionMod:")).unwrap();
    let o = validate(&bad, VERSIONS[1]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("completionMod"),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

#[test]
fn the_indexed_jobs_pods_and_merge_say_what_one_scrub_says() {
    if !have_validator() {
        return;
    }
    let job = job();
    assert_eq!(job["apiVersion"], "batch/v1");
    assert_eq!(job["kind"], "Job");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let completions = spec["completions"].as_u64().unwrap();
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Never");
    let container = &pod["containers"][0];
    let env: BTreeMap<String, String> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    // The shard count the pods are told is the Job's own.
    assert_eq!(env["PANSCRUB_SHARD_COUNT"], completions.to_string());
    let command: Vec<&str> = container["command"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let args = container["args"][0].as_str().unwrap();
    assert!(args.contains("--shard k8s"), "{args}");
    assert!(args.contains("$JOB_COMPLETION_INDEX"), "{args}");

    let d = tmp();
    let (single, sharded, m) = two_trees(d.path(), 12, 300);
    let out = d.path().join("out");
    fs::create_dir(&out).unwrap();
    // Each volume's mount path, pointed at this test's directories.
    let mut script = args.to_string();
    for mount in container["volumeMounts"].as_array().unwrap() {
        let at = mount["mountPath"].as_str().unwrap();
        let to = match mount["name"].as_str().unwrap() {
            "data" => &sharded,
            "out" => &out,
            other => panic!("unexpected volume {other}"),
        };
        script = script.replace(at, to.to_str().unwrap());
    }
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for index in 0..completions {
        let o = Command::new(command[0])
            .args(&command[1..])
            .arg(&script)
            .envs(&env)
            .env("JOB_COMPLETION_INDEX", index.to_string())
            .env("HOSTNAME", format!("panscrub-{index}-x7k2q"))
            .env("PATH", &path)
            .output()
            .unwrap();
        assert_exit(&o, 0);
    }
    // What `panscrub merge -o all.jsonl /out/*.jsonl` is given.
    let manifests: Vec<PathBuf> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(manifests.len() as u64, completions, "{manifests:?}");
    let merged = d.path().join("all.jsonl");
    let mut merge = vec!["merge", "-o", merged.to_str().unwrap()];
    merge.extend(manifests.iter().map(|p| p.to_str().unwrap()));
    assert_exit(&panscrub(&merge), 0);

    assert_merge_says_what_one_scrub_says(&merged, &sharded, &m, &single);
    let shards: Vec<String> = kind(&manifest(&merged), "run")
        .iter()
        .map(|r| r["shard"].as_str().unwrap().to_string())
        .collect();
    let mut want: Vec<String> = (0..completions)
        .map(|i| format!("{i}/{completions}"))
        .collect();
    let mut got = shards.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want, "one run per pod, each its own shard");
    assert_eq!(tree_bytes(&sharded), tree_bytes(&single));
}
