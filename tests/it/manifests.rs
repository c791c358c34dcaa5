//! The manifest field by field, its snapshot, and manifests written to
//! pipes and FIFOs.

use super::*;

#[test]
fn manifest_fields_are_exact() {
    let d = tmp();
    let p = d.path().join("pay.log");
    write(&p, b"line one\nsecond line card=5555 5555 5555 4444 ok\n");
    let m = d.path().join("out.jsonl");
    let out = panscrub(&["scrub", "-m", m.to_str().unwrap(), p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let mode = fs::metadata(&m).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "manifest is owner-only");
    let raw = fs::read(&m).unwrap();
    assert_no_pan("manifest", &raw);
    let man = manifest(&m);
    assert_eq!(man.first().unwrap()["kind"], "run");
    assert_eq!(man.last().unwrap()["kind"], "summary");
    let run = &man[0];
    assert_eq!(run["tool"], "panscrub");
    assert_eq!(run["mode"], "scrub");
    assert_eq!(run["schema"], 2);
    assert_eq!(run["policy"]["keep"], "6+4");
    assert_eq!(run["policy"]["mask_char"], "*");
    assert!(run["started"].as_str().unwrap().ends_with('Z'));
    let f = kind(&man, "finding");
    assert_eq!(f.len(), 1);
    let f = f[0];
    assert_eq!(f["path"], p.to_str().unwrap());
    assert_eq!(f["offset"], 26);
    assert_eq!(f["length"], 19);
    assert_eq!(f["line"], 2);
    assert_eq!(f["column"], 18);
    assert_eq!(f["brand"], "mastercard");
    assert_eq!(f["masked"], "555555******4444");
    assert_eq!(f["action"], "truncated");
    assert!(f.get("member").is_none());
    let file = kind(&man, "file")[0];
    assert_eq!(file["format"], "text");
    assert_eq!(file["size"], 49);
    assert_eq!(file["findings"], 1);
    assert_eq!(file["status"], "truncated");
    let sha = sha_hex;
    assert_eq!(
        file["sha256_before"],
        sha(b"line one\nsecond line card=5555 5555 5555 4444 ok\n")
    );
    assert_eq!(file["sha256_after"], sha(&fs::read(&p).unwrap()));
    let s = kind(&man, "summary")[0];
    assert_eq!(s["files"], 1);
    assert_eq!(s["findings"], 1);
    assert_eq!(s["truncated"], 1);
    assert_eq!(s["reported"], 0);
    assert_eq!(s["errors"], 0);
    assert_eq!(s["bytes"], 49);
    assert_eq!(s["by_brand"]["mastercard"], 1);
    assert_eq!(s["exit_code"], 0);
}

/// The manifest of a scan of `testdata/`, with times redacted and lines
/// sorted, compared with a snapshot kept in `tests/snapshots/`.
#[test]
fn manifest_snapshot_of_testdata() {
    let d = tmp();
    copy_tree(&testdata(), &d.path().join("testdata"));
    let m = mpath();
    let out = Command::new(BIN)
        .current_dir(d.path())
        .args(["scan", "-m", m.to_str().unwrap(), "testdata"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let mut lines: Vec<String> = manifest(&m)
        .into_iter()
        .map(|mut v| {
            for k in [
                "started",
                "elapsed_seconds",
                "throughput_mb_s",
                "version",
                "run_id",
            ] {
                if v.get(k).is_some() {
                    v[k] = Value::String("[redacted]".into());
                }
            }
            serde_json::to_string(&v).unwrap()
        })
        .collect();
    lines.sort();
    let got = lines.join("\n") + "\n";
    // A missing or different snapshot fails (`cargo insta review` or
    // INSTA_UPDATE=always after a deliberate change).
    insta::assert_snapshot!("testdata_scan_manifest", got);
}

/// The manifest can go to a pipe (`-m /dev/stdout | ...`, a FIFO, or
/// `/dev/null`): the run succeeds, the lines arrive, and the device keeps
/// its mode (the owner-only mode is for manifest files on disk).
#[test]
fn manifest_to_a_fifo_keeps_its_mode_and_delivers_the_lines() {
    let d = tmp();
    let fifo = d.path().join("manifest.pipe");
    let made = Command::new("mkfifo")
        .args(["-m", "0644"])
        .arg(&fifo)
        .status();
    if !made.map(|s| s.success()).unwrap_or(false) {
        return;
    }
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::read(fifo).unwrap())
    };
    let log = d.path().join("app.log");
    write(&log, b"paid 4111111111111111\n");
    let out = panscrub(&[
        "scan",
        "-q",
        "-m",
        fifo.to_str().unwrap(),
        log.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = reader.join().unwrap();
    let text = String::from_utf8(lines).unwrap();
    assert!(text.contains("\"kind\":\"finding\""), "{text}");
    assert_no_pan("fifo manifest", text.as_bytes());
    let mode = fs::metadata(&fifo).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644);
}
