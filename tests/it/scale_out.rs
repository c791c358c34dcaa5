//! Trees and manifest comparisons shared by the scale-out tests (a Slurm
//! array, a Kubernetes Indexed Job): two copies of one tree, one scrubbed
//! by a single process, the other by shards, compared record by record and
//! byte by byte.

use std::collections::BTreeMap;

use super::*;

/// The tree: the bundled testdata, its Salesforce export again as a zip
/// (written by the system's zip), and `logs` more log files with cards.
pub fn make_tree(at: &Path, logs: usize, lines: usize) {
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let st = Command::new("cp")
        .arg("-r")
        .arg(&testdata)
        .arg(at)
        .status()
        .unwrap();
    assert!(st.success());
    // The zip stores each member's modification time (and `cp` sets the
    // copy's to now): fixed times and no extra fields (`-X`) make the two
    // copies' zips the same bytes whenever each was built.
    let st = Command::new("touch")
        .args(["-d", "2026-01-02 03:04:05"])
        .args(
            fs::read_dir(at.join("export"))
                .unwrap()
                .map(|e| e.unwrap().path()),
        )
        .status()
        .unwrap();
    assert!(st.success());
    let st = Command::new("zip")
        .args(["-q", "-X", "-r", "../export.zip", "."])
        .current_dir(at.join("export"))
        .status()
        .unwrap();
    assert!(st.success());
    let cards = ["4111111111111111", "5555555555554444", "378282246310005"];
    for i in 0..logs {
        let mut text = String::new();
        for l in 0..lines {
            if l % 7 == 0 {
                text += &format!("{l} payment card={} ok\n", cards[(i + l) % 3]);
            } else {
                text += &format!("{l} GET /api/orders/{i}/{l} 200 1532 ms\n");
            }
        }
        fs::write(at.join(format!("logs/app-{i:02}.log")), text).unwrap();
    }
}

/// Records of `kind` with the tree's root taken out of their paths, as
/// sorted JSON lines (what two runs over two copies can share).
pub fn records(m: &Path, root: &Path, what: &str) -> Vec<String> {
    let root = format!("{}/", root.display());
    let mut out: Vec<String> = kind(&manifest(m), what)
        .into_iter()
        .map(|r| {
            let mut r = r.clone();
            if let Some(p) = r["path"].as_str() {
                r["path"] = p.replacen(&root, "", 1).into();
            }
            r.to_string()
        })
        .collect();
    out.sort();
    out
}

/// The summary totals that say what a run did.
pub fn totals(m: &Path) -> BTreeMap<String, Value> {
    let recs = manifest(m);
    let s = kind(&recs, "summary").pop().expect("a summary").clone();
    [
        "files",
        "files_with_findings",
        "findings",
        "truncated",
        "reported",
        "allowed",
        "skipped",
        "errors",
        "bytes",
        "by_brand",
        "by_type",
        "exit_code",
    ]
    .into_iter()
    .map(|k| (k.to_string(), s[k].clone()))
    .collect()
}

/// Every file under `root` by relative path, with its bytes.
pub fn tree_bytes(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().strip_prefix(root).unwrap().to_path_buf(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Two copies of the tree under `d` (`make_tree`), the first scrubbed by
/// one process: (single, sharded, the single scrub's manifest).
pub fn two_trees(d: &Path, logs: usize, lines: usize) -> (PathBuf, PathBuf, PathBuf) {
    let (single, sharded) = (d.join("single"), d.join("sharded"));
    make_tree(&single, logs, lines);
    make_tree(&sharded, logs, lines);
    let m = d.join("single.jsonl");
    let o = panscrub(&[
        "scrub",
        "-q",
        "--force",
        "-m",
        m.to_str().unwrap(),
        single.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    (single, sharded, m)
}

/// Finding records reduced to what says "this card, here, was truncated":
/// the same whichever run (or attempt) truncated it.
pub fn finding_places(m: &Path, root: &Path) -> Vec<String> {
    records(m, root, "finding")
}

/// The merged manifest of the sharded tree holds the single scrub's
/// finding and file records (paths taken relative to each tree) and its
/// summary totals.
pub fn assert_merge_says_what_one_scrub_says(
    merged: &Path,
    sharded: &Path,
    single_manifest: &Path,
    single: &Path,
) {
    for what in ["finding", "file"] {
        let (got, want) = (
            records(merged, sharded, what),
            records(single_manifest, single, what),
        );
        // Only the records that differ: whole lists of hundreds of lines
        // hide them.
        let only_merged: Vec<_> = got.iter().filter(|r| !want.contains(r)).collect();
        let only_single: Vec<_> = want.iter().filter(|r| !got.contains(r)).collect();
        assert_eq!(
            (only_merged, only_single, got.len()),
            (vec![], vec![], want.len()),
            "{what} records: (only in the merge, only in the single scrub, count)"
        );
    }
    assert_eq!(totals(merged), totals(single_manifest));
}
