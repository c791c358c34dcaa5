//! Reliability and safety promises: SIGKILL at random moments during scrub,
//! hostile file names, read-only forensic scans, deterministic manifests.

use super::*;
use panscrub::detect::Detector;
use std::os::unix::ffi::OsStrExt;

/// A small deterministic generator (no extra dependency).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn pan_text(lines: usize, seed: u64) -> Vec<u8> {
    let pans = [
        "4111111111111111",
        "5555 5555 5555 4444",
        "3782-822463-10005",
        "6011111111111117",
    ];
    let mut r = Lcg(seed);
    let mut v = Vec::new();
    for i in 0..lines {
        let p = pans[(r.next() % 4) as usize];
        v.extend_from_slice(
            format!(
                "2024-01-01T00:00:{:02}Z req={} card={} ok\n",
                i % 60,
                r.next(),
                p
            )
            .as_bytes(),
        );
    }
    v
}

/// Every byte that differs from the original lies inside a PAN span of the
/// original and is the mask character: "partly truncated, every non-PAN
/// byte intact".
fn assert_only_pan_digits_changed(name: &str, original: &[u8], now: &[u8]) {
    assert_eq!(original.len(), now.len(), "{name}: length changed");
    let spans = Detector::default().find_iter(original);
    let mut k = 0;
    for (i, (a, b)) in original.iter().zip(now).enumerate() {
        if a == b {
            continue;
        }
        while k < spans.len() && (spans[k].end() as usize) <= i {
            k += 1;
        }
        let inside = k < spans.len() && spans[k].offset as usize <= i;
        assert!(
            inside && *b == b'*',
            "{name}: byte {i} changed outside a PAN"
        );
    }
}

/// SIGKILL `scrub` at random moments; after each kill every input is
/// original, fully scrubbed, or (text) partly masked with every other byte
/// intact; a final run completes the job and leaves no temp file. Short by
/// default; `PANSCRUB_CRASH_ITERATIONS=200` for the long form
/// (`scripts/crash_harness.sh`).
#[test]
fn sigkill_during_scrub_never_loses_data() {
    let iterations: u64 = std::env::var("PANSCRUB_CRASH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let d = tmp();
    let root = d.path().join("tree");
    let mut originals: Vec<(String, Vec<u8>)> = Vec::new();
    for i in 0..3 {
        let data = pan_text(60_000 + i * 20_000, i as u64);
        write(&root.join(format!("app{i}.log")), &data);
        originals.push((format!("app{i}.log"), data));
    }
    let gz_plain = pan_text(80_000, 99);
    let have_gzip = Command::new("gzip").arg("--version").output().is_ok();
    if have_gzip {
        write(&root.join("old.log"), &gz_plain);
        let st = Command::new("gzip")
            .arg(root.join("old.log"))
            .status()
            .unwrap();
        assert!(st.success());
    }
    let gz_original = if have_gzip {
        fs::read(root.join("old.log.gz")).unwrap()
    } else {
        vec![]
    };
    // A zip export (written with the zip crate) and a Parquet extract
    // (pyarrow-written fixture): rebuilt formats must be original or the
    // complete verified result, never anything in between.
    let zip_path = root.join("WE_export.zip");
    {
        let mut z = zip::ZipWriter::new(fs::File::create(&zip_path).unwrap());
        let opts = zip::write::SimpleFileOptions::default();
        z.start_file("Contact.csv", opts).unwrap();
        std::io::Write::write_all(&mut z, &pan_text(40_000, 5)).unwrap();
        z.start_file("notes.txt", opts).unwrap();
        std::io::Write::write_all(&mut z, b"nothing here\n").unwrap();
        z.finish().unwrap();
    }
    let zip_original = fs::read(&zip_path).unwrap();
    let pq_path = root.join("payments.parquet");
    fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parquet/payments_zstd.parquet"),
        &pq_path,
    )
    .unwrap();
    let pq_original = fs::read(&pq_path).unwrap();
    let rebuilt_is_complete = |it: u64, path: &Path, original: &[u8]| {
        if fs::read(path).unwrap() != original {
            let o = panscrub(&["scan", "-q", path.to_str().unwrap()]);
            assert_eq!(
                o.status.code(),
                Some(0),
                "iteration {it}: replaced {} is not a complete, valid scrub",
                path.display()
            );
        }
    };
    let mut r = Lcg(7);
    for it in 0..iterations {
        let mut child = Command::new(BIN)
            .args(["scrub", "-q", "-j", "2", root.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(5 + r.next() % 400));
        let _ = child.kill();
        let _ = child.wait();
        for (name, data) in &originals {
            let now = fs::read(root.join(name)).unwrap();
            assert_only_pan_digits_changed(&format!("iteration {it}: {name}"), data, &now);
        }
        if have_gzip {
            let now = fs::read(root.join("old.log.gz")).unwrap();
            if now != gz_original {
                // Replaced: must be the complete, valid result.
                let o = Command::new("gzip")
                    .args(["-dc"])
                    .arg(root.join("old.log.gz"))
                    .output()
                    .unwrap();
                assert!(
                    o.status.success(),
                    "iteration {it}: replaced gzip is invalid"
                );
                assert_only_pan_digits_changed("old.log.gz (decoded)", &gz_plain, &o.stdout);
                assert!(
                    Detector::default().find_iter(&o.stdout).is_empty(),
                    "replaced gzip not fully scrubbed"
                );
            }
        }
        rebuilt_is_complete(it, &zip_path, &zip_original);
        rebuilt_is_complete(it, &pq_path, &pq_original);
        // Only our own temp files may appear, never anything else.
        for n in tree_files(&root) {
            assert!(
                n.ends_with(".log")
                    || n.ends_with(".gz")
                    || n.ends_with(".zip")
                    || n.ends_with(".parquet")
                    || (n.starts_with(".panscrub-") && n.ends_with(".tmp")),
                "{n}"
            );
        }
    }
    let o = panscrub(&["scrub", "-q", root.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    let names = tree_files(&root);
    assert!(
        names.iter().all(|n| !n.starts_with(".panscrub-")),
        "temp left: {names:?}"
    );
    assert_eq!(
        panscrub(&["scan", "-q", root.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    for (name, data) in &originals {
        assert_only_pan_digits_changed(name, data, &fs::read(root.join(name)).unwrap());
    }
}

/// Names with newlines, quotes and non-UTF-8 bytes: the manifest stays
/// valid JSON, such paths are recoverable (base64 of the raw bytes), and a
/// PAN in a name is masked.
#[test]
fn hostile_file_names_keep_the_manifest_valid() {
    let d = tmp();
    let names: Vec<&[u8]> = vec![
        b"new\nline.log",
        b"quo\"te.log",
        b"bad\xff\xfe.log",
        b"sp ace 4111111111111111 x.log",
    ];
    for n in &names {
        write(
            &d.path().join(std::ffi::OsStr::from_bytes(n)),
            b"card 5555555555554444\n",
        );
    }
    let m = mpath();
    let o = panscrub(&[
        "scan",
        "-m",
        m.to_str().unwrap(),
        d.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_no_pan("stdout", &o.stdout);
    assert_no_pan("stderr", &o.stderr);
    let raw = fs::read(&m).unwrap();
    assert_no_pan("manifest", &raw);
    let man = manifest(&m); // every line parses
    let mut paths: Vec<Vec<u8>> = kind(&man, "file")
        .iter()
        .map(|f| match &f["path"] {
            Value::String(s) => s.as_bytes().to_vec(),
            Value::Object(o) => {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(o["bytes"].as_str().unwrap())
                    .unwrap()
            }
            other => panic!("unexpected path {other}"),
        })
        .collect();
    paths.sort();
    let prefix = d.path().as_os_str().as_bytes();
    let mut want: Vec<Vec<u8>> = vec![
        b"bad\xff\xfe.log".to_vec(),
        b"new\nline.log".to_vec(),
        b"quo\"te.log".to_vec(),
        b"sp ace 411111******1111 x.log".to_vec(),
    ]
    .into_iter()
    .map(|n| [prefix, b"/", &n].concat())
    .collect();
    want.sort();
    assert_eq!(paths, want);
}

/// Forensic scan: content, mtime and atime unchanged (O_NOATIME; the old
/// atime would otherwise be updated under relatime), nothing created.
#[test]
fn forensic_scan_changes_nothing_not_even_atime() {
    let d = tmp();
    let p = d.path().join("evidence.log");
    write(&p, &pan_text(1000, 3));
    let old = std::time::SystemTime::now() - Duration::from_secs(10 * 86400);
    let f = fs::File::options().write(true).open(&p).unwrap();
    f.set_times(
        fs::FileTimes::new()
            .set_accessed(old)
            .set_modified(old + Duration::from_secs(3600)),
    )
    .unwrap();
    drop(f);
    let before = fs::metadata(&p).unwrap();
    let content = fs::read(&p).unwrap();
    // Reading it ourselves above may have bumped atime: reset it.
    let f = fs::File::options().write(true).open(&p).unwrap();
    f.set_times(fs::FileTimes::new().set_accessed(old)).unwrap();
    drop(f);
    let m = mpath();
    let o = panscrub(&[
        "scan",
        "--hash",
        "--sort",
        "-m",
        m.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let after = fs::metadata(&p).unwrap();
    assert_eq!(after.modified().unwrap(), before.modified().unwrap());
    assert_eq!(after.accessed().unwrap(), old, "atime untouched");
    assert_eq!(fs::read(&p).unwrap(), content);
    assert_eq!(tree_files(d.path()), vec!["evidence.log".to_string()]);
    let f = kind(&manifest(&m), "file")[0].clone();
    assert_eq!(f["sha256_before"].as_str().unwrap().len(), 64);
}

/// `--sort` gives the same manifest whatever the thread count and timing.
#[test]
fn sorted_manifest_is_deterministic() {
    let d = tmp();
    copy_tree(&testdata(), &d.path().join("t"));
    for i in 0..20 {
        write(
            &d.path().join(format!("t/extra/{i}.log")),
            format!("n {i} card 4111111111111111\n").as_bytes(),
        );
    }
    let run = |jobs: &str| {
        let m = d.path().join(format!("m{jobs}.jsonl"));
        panscrub(&[
            "scan",
            "--sort",
            "-j",
            jobs,
            "-m",
            m.to_str().unwrap(),
            d.path().join("t").to_str().unwrap(),
        ]);
        let text = fs::read_to_string(&m).unwrap();
        text.lines()
            .filter(|l| !l.contains("\"kind\":\"run\"") && !l.contains("\"kind\":\"summary\""))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let a = run("1");
    let b = run("2");
    assert_eq!(
        a.len(),
        20 + 20 + 11 + 20,
        "20 extra files + their findings + testdata's files and findings"
    );
    assert_eq!(a, b);
}

/// An archive rewritten by someone else while panscrub rebuilds it is not
/// replaced: the input is an error and the other writer's bytes stay.
#[test]
fn archive_changed_during_rebuild_is_not_replaced() {
    if Command::new("gzip").arg("--version").output().is_err() {
        return;
    }
    let d = tmp();
    write(&d.path().join("big.log"), &pan_text(400_000, 5));
    let st = Command::new("gzip")
        .arg("-1")
        .arg(d.path().join("big.log"))
        .status()
        .unwrap();
    assert!(st.success());
    let p = d.path().join("big.log.gz");
    let original = fs::read(&p).unwrap();
    let m = mpath();
    // The test-only pause holds the window between the rebuild and the
    // final check open long enough to hit it every time.
    let mut child = Command::new(BIN)
        .env("PANSCRUB_TEST_REBUILD_PAUSE_MS", "3000")
        .args([
            "scrub",
            "-q",
            "-j",
            "1",
            "-m",
            m.to_str().unwrap(),
            p.to_str().unwrap(),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the rebuild to start (its temp file appears), then rewrite the
    // file's metadata as another writer would (same bytes, new mtime/ctime).
    let t = Instant::now();
    let mut appended = false;
    while t.elapsed() < Duration::from_secs(60) {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if tree_files(d.path())
            .iter()
            .any(|n| n.starts_with(".panscrub-"))
        {
            let f = fs::OpenOptions::new().write(true).open(&p).unwrap();
            f.set_modified(std::time::SystemTime::now() + Duration::from_secs(3600))
                .unwrap();
            appended = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let out = child.wait_with_output().unwrap();
    assert!(appended, "the rebuild window was not seen");
    assert_eq!(out.status.code(), Some(2));
    let f = kind(&manifest(&m), "file")[0].clone();
    assert_eq!(f["status"], "error");
    assert!(
        f["reason"]
            .as_str()
            .unwrap()
            .contains("modified during the rebuild"),
        "{f}"
    );
    assert_eq!(fs::read(&p).unwrap(), original, "not replaced");
    assert!(
        tree_files(d.path())
            .iter()
            .all(|n| !n.starts_with(".panscrub-")),
        "temp removed"
    );
    assert_no_pan("stderr", &out.stderr);
}

#[test]
fn empty_files_and_devices() {
    let d = tmp();
    write(&d.path().join("empty.log"), b"");
    let dev = d.path().join("null");
    let made = Command::new("mknod")
        .arg(&dev)
        .args(["c", "1", "3"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let m = mpath();
    let o = panscrub(&[
        "scrub",
        "-m",
        m.to_str().unwrap(),
        d.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let man = manifest(&m);
    let files = kind(&man, "file");
    let empty = files
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("empty.log"))
        .unwrap();
    assert_eq!(empty["status"], "clean");
    assert_eq!(empty["size"], 0);
    if made {
        let devrec = files
            .iter()
            .find(|f| f["path"].as_str().unwrap().ends_with("/null"))
            .unwrap();
        assert_eq!(devrec["status"], "skipped");
        assert!(devrec["reason"].as_str().unwrap().contains("device"));
    }
}

/// A file swapped for a symlink (to a file outside the tree) while it is
/// being scanned is never written through: the write handle is opened with
/// O_NOFOLLOW and must be the inode that was scanned.
#[test]
fn file_swapped_for_a_symlink_is_not_written_through() {
    let d = tmp();
    let outside = tmp();
    let victim = outside.path().join("victim.log");
    let victim_bytes = pan_text(2000, 11);
    write(&victim, &victim_bytes);
    let p = d.path().join("big.log");
    // Long and clean at first, one PAN at the very end: the scan takes a
    // while before the first write.
    let mut data = vec![b'x'; 96 << 20];
    data.extend_from_slice(b"\ncard 4111111111111111\n");
    write(&p, &data);
    drop(data);
    // A pause after each batch keeps the scan going long after the walk
    // (a symlink named on the command line is followed: the swap must come
    // after the walk to be the race this test is about).
    for delay in [50u64, 100, 200] {
        let child = Command::new(BIN)
            .args(["scrub", "-q", "-j", "1", p.to_str().unwrap()])
            .env("PANSCRUB_TEST_BATCH_PAUSE_MS", "40")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let moved = d.path().join("moved.log");
        let swapped =
            fs::rename(&p, &moved).is_ok() && std::os::unix::fs::symlink(&victim, &p).is_ok();
        let out = child.wait_with_output().unwrap();
        assert_no_pan("stderr", &out.stderr);
        assert_eq!(
            fs::read(&victim).unwrap(),
            victim_bytes,
            "never written through the symlink"
        );
        // Put the real file back for the next round.
        if swapped {
            fs::remove_file(&p).unwrap();
            fs::rename(&moved, &p).unwrap();
        }
    }
}

/// A panic (forced through the test-only injection, with the full PAN in
/// its message) is an error for that input: the message is masked on
/// stderr and in the manifest, other inputs are still scrubbed.
#[test]
fn forced_panic_leaks_no_pan_and_costs_one_input() {
    let d = tmp();
    write(&d.path().join("boom.log"), b"card 4111111111111111\n");
    write(&d.path().join("fine.log"), b"card 5555555555554444\n");
    let m = mpath();
    let o = Command::new(BIN)
        .env("PANSCRUB_INJECT_PANIC", "boom")
        .args([
            "scrub",
            "-m",
            m.to_str().unwrap(),
            d.path().to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("internal error"), "{stderr}");
    assert!(
        stderr.contains("injected fault at 411111******1111"),
        "{stderr}"
    );
    assert_no_pan("stderr", &o.stderr);
    assert_no_pan("stdout", &o.stdout);
    let text = fs::read(&m).unwrap();
    assert_no_pan("manifest", &text);
    let recs = manifest(&m);
    let boom = kind(&recs, "file")
        .into_iter()
        .find(|r| r["path"].as_str().unwrap().ends_with("boom.log"))
        .unwrap();
    assert_eq!(boom["status"], "error");
    assert!(boom["reason"].as_str().unwrap().contains("panic"));
    assert_eq!(
        fs::read_to_string(d.path().join("fine.log")).unwrap(),
        "card 555555******4444\n"
    );
}

/// Short forms of the resource tests (`scripts/resource_limits.sh` runs
/// the 2 GiB line and the 1,000,000-file tree): a 24 MiB file that is one
/// line, with PANs on the 8 MiB piece edges, is fully scrubbed; 3,000 files
/// are scanned with only 32 file descriptors allowed.
#[test]
fn one_huge_line_and_many_files_with_few_descriptors() {
    let d = tmp();
    let unit = b"id=12345678901234567890 amount=1234.56 ; ";
    let mut line = Vec::with_capacity(24 << 20);
    while line.len() < 24 << 20 {
        line.extend_from_slice(unit);
    }
    let pan = b" 4111111111111111 ";
    let mut at = Vec::new();
    // Piece edges (8 MiB) and read-block edges (256 KiB), cut at
    // different places in the number.
    let edges: [(usize, usize); 6] = [
        (1 << 20, 12),
        (8 << 20, 3),
        ((8 << 20) + (256 << 10), 9),
        (16 << 20, 17),
        ((16 << 20) + (256 << 10), 5),
        (20 << 20, 16),
    ];
    for (edge, shift) in edges {
        let p = edge - shift;
        line[p..p + pan.len()].copy_from_slice(pan);
        at.push(p + 1);
    }
    write(&d.path().join("line.log"), &line);
    let m = scrub_ok(&d.path().join("line.log"));
    assert_eq!(kind(&manifest(&m), "finding").len(), at.len());
    let after = fs::read(d.path().join("line.log")).unwrap();
    for p in at {
        assert_eq!(&after[p..p + 16], b"411111******1111");
    }
    assert_eq!(after.len(), line.len());

    let tree = d.path().join("tree");
    for i in 0..3000 {
        let body: &[u8] = if i % 500 == 0 {
            b"card 4111111111111111\n"
        } else {
            b"ok\n"
        };
        write(&tree.join(format!("{}/{i}.log", i % 30)), body);
    }
    let m = d.path().join("many.jsonl");
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 32 && exec '{BIN}' scan -q -m '{}' '{}'",
            m.display(),
            tree.display()
        ))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let recs = manifest(&m);
    assert_eq!(kind(&recs, "file").len(), 3000);
    assert_eq!(kind(&recs, "summary")[0]["errors"], 0);
    assert_eq!(kind(&recs, "finding").len(), 6);
}

/// Runs the binary (findings to /dev/null) and returns its exit code and
/// the peak memory its stderr summary reports, in MB. Measured by the
/// process itself: the `ru_maxrss` a parent gets from `wait4` also counts
/// the parent's own pages from before the child's `exec`.
fn run_with_peak_memory(args: &[&std::ffi::OsStr]) -> (i32, u64) {
    let o = Command::new(BIN)
        .args(args)
        .stdout(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    let mb = err
        .split(", peak memory ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no peak memory in: {err}"));
    (o.status.code().unwrap(), mb)
}

/// A rebuilt file with more findings than a run keeps in memory (40 MiB of
/// them, about 120,000) is scanned again for its rebuild, its check and
/// its manifest records instead: a `.gz` with a PAN on each of 300,000
/// lines is scanned and scrubbed under 100 MB of peak memory (when every
/// finding was held, twice, from the scan to the rebuild, this peaked near
/// 400 MB), every PAN is truncated, and the manifest lists each one once,
/// on its own line.
#[test]
fn rebuilt_files_with_many_findings_keep_memory_bounded() {
    let d = tmp();
    let mut log = String::new();
    for i in 0..300_000 {
        log.push_str(&format!("order {i} card 4111111111111111 ok\n"));
    }
    let plain = d.path().join("big.log");
    write(&plain, log.as_bytes());
    let gz = d.path().join("big.log.gz");
    let st = Command::new("gzip").arg(&plain).status().unwrap();
    assert!(st.success());
    let m = d.path().join("m.jsonl");
    let (code, rss) = run_with_peak_memory(&[
        "scan".as_ref(),
        "-m".as_ref(),
        m.as_os_str(),
        gz.as_os_str(),
    ]);
    assert_eq!(code, 1);
    assert!(rss < 100, "scan peak memory {rss} MB");
    assert_eq!(kind(&manifest(&m), "finding").len(), 300_000);
    let m = d.path().join("scrub.jsonl");
    let (code, rss) = run_with_peak_memory(&[
        "scrub".as_ref(),
        "-m".as_ref(),
        m.as_os_str(),
        gz.as_os_str(),
    ]);
    assert_eq!(code, 0);
    assert!(rss < 100, "scrub peak memory {rss} MB");
    let recs = manifest(&m);
    let found = kind(&recs, "finding");
    assert_eq!(found.len(), 300_000);
    assert!(found.iter().all(|f| f["action"] == "truncated"));
    let lines: std::collections::BTreeSet<u64> =
        found.iter().map(|f| f["line"].as_u64().unwrap()).collect();
    assert_eq!(lines.len(), 300_000);
    assert_eq!(lines.first(), Some(&1));
    assert_eq!(lines.last(), Some(&300_000));
    let after = Command::new("gzip").arg("-dc").arg(&gz).output().unwrap();
    assert!(after.status.success());
    assert_eq!(
        String::from_utf8(after.stdout).unwrap(),
        log.replace("4111111111111111", "411111******1111")
    );
}

/// Memory stays bounded when findings are dense: a 40 MiB single line with
/// a PAN every 64 bytes (655,360 findings, in five 8 MiB pieces) is scanned
/// and scrubbed under 100 MB of peak memory (before the bound, a batch of
/// two pieces held 262,144 findings and the manifest queue grew: 356 MB),
/// and every PAN is truncated.
#[test]
fn dense_findings_keep_memory_bounded() {
    let d = tmp();
    let unit = b"id=12345678901234567890 card=5555555555554444 amount=1234.567 ; ";
    assert_eq!(unit.len(), 64);
    let line = unit.repeat((40 << 20) / 64);
    let path = d.path().join("dense.log");
    write(&path, &line);
    let null = std::ffi::OsStr::new("/dev/null");
    let (code, rss) =
        run_with_peak_memory(&["scan".as_ref(), "-m".as_ref(), null, path.as_os_str()]);
    assert_eq!(code, 1);
    assert!(rss < 100, "scan peak memory {rss} MB");
    let (code, rss) =
        run_with_peak_memory(&["scrub".as_ref(), "-m".as_ref(), null, path.as_os_str()]);
    assert_eq!(code, 0);
    assert!(rss < 100, "scrub peak memory {rss} MB");
    let after = fs::read(&path).unwrap();
    let masked = b"id=12345678901234567890 card=555555******4444 amount=1234.567 ; ";
    assert_eq!(after.len(), line.len());
    assert!(
        after.chunks(64).all(|c| c == masked),
        "a PAN is left or a byte changed"
    );
}
