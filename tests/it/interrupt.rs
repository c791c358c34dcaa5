//! SIGINT, SIGTERM and SIGKILL during a scrub, and the temp files a scrub
//! leaves: the file in flight is finished (text: the batch) or rolled back
//! (rebuilds: the temp removed), the manifest is completed with a summary
//! marked interrupted, the exit code is 128 + the signal; a temp left by a
//! kill is removed by the next scrub that reaches its file, never while
//! another run holds it, and a user's file that merely looks like one is
//! scanned like any other.

use super::*;

fn signal(child: &std::process::Child, sig: &str) {
    // The shell's own `kill` (procps' may be missing on a small image).
    let ok = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -{sig} {}", child.id()))
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig}");
}

fn temps(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".panscrub-"))
        .collect()
}

/// Waits until a panscrub temp file appears in `dir`.
fn wait_for_temp(dir: &Path) {
    let t0 = Instant::now();
    while temps(dir).is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no temp file appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `panscrub args` with extra environment, output captured.
fn start(args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
    let mut c = Command::new(BIN);
    c.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, v) in env {
        c.env(k, v);
    }
    c.spawn().unwrap()
}

/// A text of `n` lines, a test PAN on every 50th.
fn log_text(n: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..n {
        if i % 50 == 0 {
            v.extend_from_slice(format!("{i:08} card 4111111111111111 paid\n").as_bytes());
        } else {
            v.extend_from_slice(
                format!("{i:08} GET /index.html 200 0.004 ok padding padding padding padding\n")
                    .as_bytes(),
            );
        }
    }
    v
}

#[test]
fn sigint_mid_text_scrub_keeps_the_batches_done_and_completes_the_manifest() {
    let d = tmp();
    let f = d.path().join("big.log");
    let original = log_text(600_000); // ~40 MB: several batches
    write(&f, &original);
    let m = mpath();
    let child = start(
        &[
            "scrub",
            "-j1",
            "-m",
            m.to_str().unwrap(),
            f.to_str().unwrap(),
        ],
        &[("PANSCRUB_TEST_BATCH_PAUSE_MS", "700")],
    );
    std::thread::sleep(Duration::from_millis(400));
    signal(&child, "INT");
    let o = child.wait_with_output().unwrap();
    assert_exit(&o, 130);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("stopped by SIGINT"), "{err}");
    assert_no_pan("stderr", &o.stderr);
    // Every byte is the original or its mask: PANs before the stop masked,
    // after it intact, nothing else changed.
    let now = fs::read(&f).unwrap();
    assert_eq!(now.len(), original.len());
    let masked = String::from_utf8_lossy(&original).replace("4111111111111111", "411111******1111");
    let masked = masked.as_bytes();
    assert!(now
        .iter()
        .zip(&original)
        .zip(masked)
        .all(|((n, o), m)| n == o || n == m));
    let text = String::from_utf8_lossy(&now);
    assert!(text.contains("411111******1111") && text.contains("4111111111111111"));
    let man = manifest(&m);
    let s = summary(&man);
    assert_eq!(s["interrupted"], "SIGINT");
    let file = kind(&man, "file")[0];
    assert_eq!(file["status"], "error");
    assert!(file["reason"].as_str().unwrap().contains("rerun"));
    let truncated = kind(&man, "finding")
        .iter()
        .filter(|r| r["action"] == "truncated")
        .count();
    assert_eq!(
        truncated,
        text.matches("411111******1111").count(),
        "the manifest says what was masked"
    );
    // A rerun finishes the job.
    let m2 = mpath();
    let o = panscrub(&[
        "scrub",
        "-q",
        "-m",
        m2.to_str().unwrap(),
        f.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    assert_eq!(fs::read(&f).unwrap(), masked);
}

/// Builds a `.gz`, a zip and a Parquet file with PANs in `dir`.
fn rebuilt_inputs(dir: &Path) -> Vec<PathBuf> {
    fs::create_dir_all(dir).unwrap();
    let body = log_text(20_000);
    write(&dir.join("app.log"), &body);
    let sh = |cmd: &str| {
        let ok = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "{cmd}");
    };
    sh("gzip -k app.log && zip -q app.zip app.log && rm app.log");
    fs::copy(
        testdata().join("warehouse/orders.parquet"),
        dir.join("orders.parquet"),
    )
    .unwrap();
    vec![
        dir.join("app.log.gz"),
        dir.join("app.zip"),
        dir.join("orders.parquet"),
    ]
}

#[test]
fn sigint_or_sigterm_during_a_rebuild_rolls_back_and_removes_the_temp() {
    let d = tmp();
    let inputs = rebuilt_inputs(&d.path().join("in"));
    for (input, sig, code) in inputs
        .iter()
        .zip(["INT", "TERM", "INT"])
        .map(|(i, s)| (i, s, if s == "INT" { 130 } else { 143 }))
    {
        let before = fs::read(input).unwrap();
        let m = mpath();
        let child = start(
            &["scrub", "-m", m.to_str().unwrap(), input.to_str().unwrap()],
            &[("PANSCRUB_TEST_REBUILD_PAUSE_MS", "1500")],
        );
        wait_for_temp(input.parent().unwrap());
        signal(&child, sig);
        let o = child.wait_with_output().unwrap();
        assert_exit(&o, code);
        assert_eq!(
            fs::read(input).unwrap(),
            before,
            "{} rolled back",
            input.display()
        );
        assert!(temps(input.parent().unwrap()).is_empty(), "no temp left");
        let man = manifest(&m);
        assert_eq!(summary(&man)["interrupted"], format!("SIG{sig}"));
        let found = kind(&man, "finding");
        assert!(!found.is_empty() && found.iter().all(|r| r["action"] == "reported"));
        assert_no_pan("stderr", &o.stderr);
    }
}

#[test]
fn a_temp_left_by_sigkill_is_named_by_scan_and_removed_by_the_next_scrub_of_its_file() {
    let d = tmp();
    let dir = d.path().join("in");
    let gz = rebuilt_inputs(&dir)[0].clone();
    let mut child = start(
        &["scrub", "-q", gz.to_str().unwrap()],
        &[("PANSCRUB_TEST_REBUILD_PAUSE_MS", "30000")],
    );
    wait_for_temp(&dir);
    child.kill().unwrap();
    child.wait().unwrap();
    let left = temps(&dir);
    assert_eq!(left.len(), 1);
    // A scan names it and leaves it (read-only); it is never scanned.
    let m = mpath();
    let o = panscrub(&["scan", "-m", m.to_str().unwrap(), gz.to_str().unwrap()]);
    assert_exit(&o, 1);
    let man = manifest(&m);
    let temp_rec = kind(&man, "file")
        .into_iter()
        .find(|f| f["path"].as_str().unwrap().contains(".panscrub-"))
        .expect("the stale temp is in the manifest")
        .clone();
    assert_eq!(temp_rec["status"], "skipped");
    assert!(temp_rec["reason"]
        .as_str()
        .unwrap()
        .contains("interrupted scrub"));
    assert_eq!(temps(&dir), left);
    // While another run holds a temp, nobody removes it: a scrub walking
    // the directory removes the stale one and leaves the one in use.
    let mut holder = start(
        &["scrub", "-q", dir.join("app.zip").to_str().unwrap()],
        &[("PANSCRUB_TEST_REBUILD_PAUSE_MS", "4000")],
    );
    while temps(&dir).len() < 2 {
        std::thread::sleep(Duration::from_millis(20));
    }
    let held: Vec<String> = temps(&dir)
        .into_iter()
        .filter(|t| !left.contains(t))
        .collect();
    let m = mpath();
    let o = panscrub(&[
        "scrub",
        "-q",
        "-x",
        "*.zip",
        "-m",
        m.to_str().unwrap(),
        dir.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    assert_eq!(
        temps(&dir),
        held,
        "the stale temp removed, the one in use kept"
    );
    let records = manifest(&m);
    let reasons: Vec<String> = kind(&records, "file")
        .iter()
        .filter_map(|f| f["reason"].as_str().map(str::to_string))
        .collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains("removed"), "{reasons:?}");
    // The temp in use is another run's work in progress, about to be
    // renamed over app.zip: not a file of this run's, not a skip (a sharded
    // job's merge once counted a sibling shard's temp as a skipped file).
    for held in &held {
        assert!(
            !kind(&records, "file").iter().any(|f| f["path"]
                .as_str()
                .is_some_and(|p| p.ends_with(held.as_str()))),
            "{held} recorded"
        );
    }
    assert_eq!(kind(&records, "summary")[0]["skipped"], 1);
    assert!(holder.wait().unwrap().success());
    assert!(temps(&dir).is_empty());
    // A scrub of a file named directly removes the temps a kill left
    // beside it.
    write(&dir.join("again.log"), &log_text(20_000));
    let ok = Command::new("gzip")
        .arg(dir.join("again.log"))
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let again = dir.join("again.log.gz");
    let mut child = start(
        &["scrub", "-q", again.to_str().unwrap()],
        &[("PANSCRUB_TEST_REBUILD_PAUSE_MS", "30000")],
    );
    wait_for_temp(&dir);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(temps(&dir).len(), 1);
    let o = panscrub(&["scrub", "-q", again.to_str().unwrap()]);
    assert_exit(&o, 0);
    assert!(temps(&dir).is_empty());
    assert_exit(&panscrub(&["scan", "-q", dir.to_str().unwrap()]), 0);
}

#[test]
fn a_users_file_named_like_a_temp_is_scanned_and_scrubbed_never_deleted() {
    let d = tmp();
    let dir = d.path().join("t");
    for name in [".panscrub-x.tmp", ".panscrub-cards.tmp"] {
        write(&dir.join(name), b"card 4111111111111111\n");
    }
    let o = panscrub(&["scan", dir.to_str().unwrap()]);
    assert_exit(&o, 1);
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 2);
    let m = scrub_ok(&dir);
    assert_eq!(summary(&manifest(&m))["truncated"], 2);
    for name in [".panscrub-x.tmp", ".panscrub-cards.tmp"] {
        assert_eq!(
            fs::read(dir.join(name)).unwrap(),
            b"card 411111******1111\n"
        );
    }
}
