//! Integration tests: run the real binary on temp trees and check what a
//! user would check: exit codes, stdout/stderr, the manifest field by
//! field, file bytes and metadata before and after.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_panscrub");

/// Public test PANs used below; none may ever appear in any output.
const TEST_PANS: &[&str] = &[
    "4111111111111111",
    "5555555555554444",
    "378282246310005",
    "6011111111111117",
    "4012888888881881",
    "5105105105105100",
    "3530111333300000",
    "30569309025904",
];

fn panscrub(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run panscrub")
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn write(p: &Path, data: &[u8]) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

/// Reads a manifest; every line must be JSON and valid against the
/// published schema (`docs/manifest.schema.json`).
fn manifest(p: &Path) -> Vec<Value> {
    fs::read_to_string(p)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("each manifest line is JSON");
            assert_valid_record(&v);
            v
        })
        .collect()
}

/// Asserts that a manifest line follows the published JSON Schema.
fn assert_valid_record(v: &Value) {
    static SCHEMA: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    let schema = SCHEMA.get_or_init(|| {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/manifest.schema.json");
        let s: Value = serde_json::from_str(&fs::read_to_string(p).unwrap()).unwrap();
        jsonschema::validator_for(&s).expect("the schema compiles")
    });
    let errors: Vec<String> = schema.iter_errors(v).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "manifest line {v} breaks the schema: {errors:?}"
    );
}

fn kind<'a>(m: &'a [Value], k: &str) -> Vec<&'a Value> {
    m.iter().filter(|r| r["kind"] == k).collect()
}

/// Asserts that no full test PAN (with or without separators) is in `s`.
fn assert_no_pan(what: &str, s: &[u8]) {
    let text = String::from_utf8_lossy(s);
    let compact: String = text.chars().filter(|c| *c != ' ' && *c != '-').collect();
    for pan in TEST_PANS {
        assert!(!compact.contains(pan), "{what} leaks a full PAN");
    }
}

/// `panscrub scrub -q -m <dir>/m.jsonl <target>`: its output and the
/// manifest path.
fn scrub_with_manifest(dir: &Path, target: &Path) -> (Output, PathBuf) {
    let m = dir.join("m.jsonl");
    let o = panscrub(&[
        "scrub",
        "-q",
        "-m",
        m.to_str().unwrap(),
        target.to_str().unwrap(),
    ]);
    (o, m)
}

/// [`scrub_with_manifest`] that asserts exit 0; returns the manifest path.
fn scrub_ok(dir: &Path, target: &Path) -> PathBuf {
    let (o, m) = scrub_with_manifest(dir, target);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    m
}

/// `panscrub scrub -q [-m manifest] --out <out> <src>`, asserting exit 0.
fn scrub_out_ok(out: &Path, src: &Path, manifest: Option<&Path>) {
    let mut args = vec!["scrub", "-q", "--out", out.to_str().unwrap()];
    if let Some(m) = manifest {
        args.extend(["-m", m.to_str().unwrap()]);
    }
    args.push(src.to_str().unwrap());
    let o = panscrub(&args);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

fn copy_tree(src: &Path, dst: &Path) {
    for e in walkdir::WalkDir::new(src) {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(src).unwrap();
        let to = dst.join(rel);
        if e.file_type().is_dir() {
            fs::create_dir_all(&to).unwrap();
        } else {
            fs::copy(e.path(), &to).unwrap();
        }
    }
}

#[test]
fn exit_code_0_when_scan_finds_nothing() {
    let d = tmp();
    write(&d.path().join("a.log"), b"build 1710407710552 ok\n");
    let out = panscrub(&["scan", d.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
}

#[test]
fn exit_code_1_when_scan_finds_pans_and_output_is_masked() {
    let d = tmp();
    write(&d.path().join("a.log"), b"x card=4111111111111111 y\n");
    let out = panscrub(&["scan", d.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        stdout.contains("a.log:1:8: visa 411111******1111"),
        "{stdout}"
    );
    assert_no_pan("stdout", &out.stdout);
    assert_no_pan("stderr", &out.stderr);
}

#[test]
fn exit_code_2_for_usage_errors() {
    for args in [
        &["scan"][..],
        &["scan", "--keep", "7+3", "."],
        &["scan", "--mask-char", "5", "."],
        &["scan", "--jobs", "0", "."],
        &["frobnicate", "."],
    ] {
        let out = panscrub(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn exit_code_2_when_an_input_fails_and_others_are_still_processed() {
    let d = tmp();
    write(&d.path().join("good.log"), b"card 4111111111111111\n");
    let missing = d.path().join("missing.log");
    let m = d.path().join("m.jsonl");
    let out = panscrub(&[
        "scan",
        "--manifest",
        m.to_str().unwrap(),
        d.path().join("good.log").to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let man = manifest(&m);
    assert_eq!(
        kind(&man, "finding").len(),
        1,
        "the good file is still scanned"
    );
    let errors: Vec<_> = kind(&man, "file")
        .into_iter()
        .filter(|f| f["status"] == "error")
        .collect();
    assert_eq!(errors.len(), 1);
    assert!(errors[0]["reason"]
        .as_str()
        .unwrap()
        .contains("cannot access"));
    assert_eq!(kind(&man, "summary")[0]["exit_code"], 2);
}

/// Unreadable file and directory: an error each, the run goes on. As root
/// (CI), permissions do not bind, so the binary runs as `nobody` through
/// `setpriv`; as any other user it runs as that user.
#[test]
fn unreadable_file_and_directory_are_errors_for_those_only() {
    let d = tmp();
    let root = d.path().join("tree");
    write(&root.join("secret.log"), b"4111111111111111\n");
    write(&root.join("locked/inside.log"), b"4111111111111111\n");
    write(&root.join("ok.log"), b"4111111111111111\n");
    fs::set_permissions(root.join("secret.log"), fs::Permissions::from_mode(0o000)).unwrap();
    fs::set_permissions(root.join("locked"), fs::Permissions::from_mode(0o000)).unwrap();
    // Everything else readable by anyone, the manifest directory writable.
    for p in [d.path(), root.as_path()] {
        fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::set_permissions(root.join("ok.log"), fs::Permissions::from_mode(0o644)).unwrap();
    let mdir = d.path().join("out");
    fs::create_dir(&mdir).unwrap();
    fs::set_permissions(&mdir, fs::Permissions::from_mode(0o777)).unwrap();
    let m = mdir.join("m.jsonl");
    let args = ["scan", "-m", m.to_str().unwrap(), root.to_str().unwrap()];
    let out = if unsafe_is_root() {
        let o = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
            .args(args)
            .output();
        match o {
            Ok(o) => o,
            Err(_) => {
                eprintln!("skipped: running as root without setpriv");
                return;
            }
        }
    } else {
        panscrub(&args)
    };
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok.log"));
    assert_no_pan("stderr", &out.stderr);
    let recs = manifest(&m);
    let status = |name: &str| {
        kind(&recs, "file")
            .into_iter()
            .find(|r| r["path"].as_str().unwrap().ends_with(name))
            .map(|r| r["status"].clone())
    };
    assert_eq!(status("secret.log").unwrap(), "error");
    assert_eq!(status("locked").unwrap(), "error");
    assert_eq!(status("ok.log").unwrap(), "reported");
    assert_eq!(kind(&recs, "summary")[0]["errors"], 2);
    // Let the temp dir be removed.
    fs::set_permissions(root.join("locked"), fs::Permissions::from_mode(0o755)).unwrap();
}

fn unsafe_is_root() -> bool {
    // Effective uid via /proc, without libc in the tests.
    fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn scrub_exit_0_then_scan_finds_nothing() {
    let d = tmp();
    copy_tree(&testdata(), d.path());
    let root = d.path().to_str().unwrap();
    let out = panscrub(&["scrub", root]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_no_pan("stdout", &out.stdout);
    let out = panscrub(&["scan", root]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "idempotent: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    // A second scrub changes nothing.
    let before = fs::read(d.path().join("logs/app.log")).unwrap();
    assert_eq!(panscrub(&["scrub", root]).status.code(), Some(0));
    assert_eq!(fs::read(d.path().join("logs/app.log")).unwrap(), before);
}

#[test]
fn scrub_changes_only_masked_digits() {
    let d = tmp();
    let p = d.path().join("app.log");
    let original =
        b"a 4111 1111 1111 1111 b\r\nc \"3782-822463-10005\" d 5555555555554444\xff\xfe tail"
            .to_vec();
    write(&p, &original);
    assert_eq!(
        panscrub(&["scrub", "-q", p.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let after = fs::read(&p).unwrap();
    assert_eq!(
        after,
        b"a 4111 11** **** 1111 b\r\nc \"3782-82****-*0005\" d 555555******4444\xff\xfe tail"
            .to_vec()
    );
}

#[test]
fn scrub_with_keep_and_mask_char() {
    let d = tmp();
    let p = d.path().join("a.txt");
    write(&p, b"4111111111111111 378282246310005\n");
    panscrub(&[
        "scrub",
        "-q",
        "--keep",
        "8+4",
        "--mask-char",
        "X",
        p.to_str().unwrap(),
    ]);
    assert_eq!(fs::read(&p).unwrap(), b"41111111XXXX1111 378282XXXXX0005\n");
    write(&p, b"4111111111111111\n");
    panscrub(&["scrub", "-q", "--keep", "0+4", p.to_str().unwrap()]);
    assert_eq!(fs::read(&p).unwrap(), b"************1111\n");
}

#[test]
fn scrub_exit_1_for_report_only_binary() {
    let d = tmp();
    let p = d.path().join("core.bin");
    write(&p, b"\x00\x01ELF\x00 4111111111111111 \x00");
    let m = d.path().join("m.jsonl");
    let out = panscrub(&["scrub", "-m", m.to_str().unwrap(), p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        fs::read(&p).unwrap(),
        b"\x00\x01ELF\x00 4111111111111111 \x00",
        "left in place"
    );
    let man = manifest(&m);
    assert_eq!(kind(&man, "finding")[0]["action"], "reported");
    let f = kind(&man, "file")[0];
    assert_eq!(f["format"], "binary");
    assert_eq!(f["status"], "reported");
    // Enabled explicitly, it is truncated.
    let out = panscrub(&["scrub", "--scrub-binary", "-q", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        fs::read(&p).unwrap(),
        b"\x00\x01ELF\x00 411111******1111 \x00"
    );
}

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
    let sha = |b: &[u8]| {
        use sha2::Digest;
        sha2::Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
    };
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
    let m = d.path().join("m.jsonl");
    let out = Command::new(BIN)
        .current_dir(d.path())
        .args(["scan", "-m", "m.jsonl", "testdata"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let mut lines: Vec<String> = manifest(&m)
        .into_iter()
        .map(|mut v| {
            for k in ["started", "elapsed_seconds", "throughput_mb_s", "version"] {
                if v.get(k).is_some() {
                    v[k] = Value::String("[redacted]".into());
                }
            }
            serde_json::to_string(&v).unwrap()
        })
        .collect();
    lines.sort();
    let got = lines.join("\n") + "\n";
    let snap =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/testdata_scan_manifest.jsonl");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() || !snap.exists() {
        fs::create_dir_all(snap.parent().unwrap()).unwrap();
        fs::write(&snap, &got).unwrap();
    }
    assert_eq!(
        got,
        fs::read_to_string(&snap).unwrap(),
        "rerun with UPDATE_SNAPSHOTS=1 after a deliberate change"
    );
}

#[test]
fn scan_leaves_inputs_byte_identical_with_same_mtime() {
    let d = tmp();
    copy_tree(&testdata(), d.path());
    let snapshot = |root: &Path| {
        let mut v = vec![];
        for e in walkdir::WalkDir::new(root).sort_by_file_name() {
            let e = e.unwrap();
            let md = e.metadata().unwrap();
            let data = if md.is_file() {
                fs::read(e.path()).unwrap()
            } else {
                vec![]
            };
            v.push((
                e.path().to_path_buf(),
                md.modified().unwrap(),
                md.permissions().mode(),
                data,
            ));
        }
        v
    };
    let before = snapshot(d.path());
    let out = panscrub(&["scan", "--hash", d.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        snapshot(d.path()),
        before,
        "nothing changed, nothing created"
    );
}

#[test]
fn out_mirror_leaves_originals_untouched() {
    let d = tmp();
    let src = d.path().join("export");
    copy_tree(&testdata(), &src);
    let out_dir = d.path().join("clean");
    let before = fs::read(src.join("export/Contact.csv")).unwrap();
    scrub_out_ok(&out_dir, &src, None);
    assert_eq!(fs::read(src.join("export/Contact.csv")).unwrap(), before);
    let copy = fs::read(out_dir.join("export/export/Contact.csv")).unwrap();
    assert_eq!(copy.len(), before.len());
    assert!(String::from_utf8_lossy(&copy).contains("5105 10** **** 5100"));
    assert_eq!(
        panscrub(&["scan", out_dir.to_str().unwrap()]).status.code(),
        Some(0)
    );
    assert_eq!(
        panscrub(&["scan", src.to_str().unwrap()]).status.code(),
        Some(1)
    );
    // No temp files are left in the mirror.
    for e in walkdir::WalkDir::new(&out_dir) {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with(".panscrub-"), "temp file left: {name}");
    }
    // --out inside an input is refused.
    let inside = src.join("mirror");
    let out = panscrub(&[
        "scrub",
        "--out",
        inside.to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn symlinks_are_not_followed_and_fifos_not_opened() {
    let d = tmp();
    let outside = tmp();
    let target = outside.path().join("victim.log");
    write(&target, b"4111111111111111\n");
    let root = d.path().join("tree");
    write(&root.join("real.log"), b"ok\n");
    std::os::unix::fs::symlink(&target, root.join("link.log")).unwrap();
    std::os::unix::fs::symlink(&root, root.join("loop")).unwrap();
    let fifo = root.join("pipe");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    let m = d.path().join("m.jsonl");
    let mut child = Command::new(BIN)
        .args(["scrub", "-m", m.to_str().unwrap(), root.to_str().unwrap()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if t.elapsed() > Duration::from_secs(20) {
            child.kill().unwrap();
            panic!("panscrub hung (opened a FIFO?)");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        fs::read(&target).unwrap(),
        b"4111111111111111\n",
        "never written through a symlink"
    );
    let man = manifest(&m);
    let skipped: Vec<String> = kind(&man, "file")
        .into_iter()
        .filter(|f| f["status"] == "skipped")
        .map(|f| f["reason"].as_str().unwrap().to_string())
        .collect();
    assert!(
        skipped.iter().filter(|r| r.contains("symlink")).count() == 2,
        "{skipped:?}"
    );
    if made {
        assert!(skipped.iter().any(|r| r.contains("fifo")), "{skipped:?}");
    }
}

/// PANs placed across the 8 MiB pieces and 256 KiB read blocks of a large
/// file are all found and truncated, with correct lines.
#[test]
fn pans_across_internal_chunk_boundaries() {
    let d = tmp();
    let p = d.path().join("big.log");
    let filler = b"2024-01-01T00:00:00Z INFO request served in 12 ms id=42 user=alice\n";
    let mut data = Vec::with_capacity(26 << 20);
    let mut expected = 0;
    let mut k = 1u64;
    while data.len() < 26 << 20 {
        // Next boundary: a multiple of 256 KiB (8 MiB pieces are multiples).
        let edge = (data.len() as u64 / (256 << 10) + 1) * (256 << 10);
        let gap = edge - data.len() as u64;
        if gap < 60 && gap > 2 {
            // Start the PAN a few bytes before the edge, varying the cut.
            let pad = (gap as usize).saturating_sub((k % 15) as usize + 1);
            data.extend(std::iter::repeat_n(b'.', pad));
            data.extend_from_slice(b" 4111 1111 1111 1111 \n");
            expected += 1;
            k += 1;
        } else {
            data.extend_from_slice(filler);
        }
    }
    write(&p, &data);
    let m = d.path().join("m.jsonl");
    let out = panscrub(&[
        "scrub",
        "-q",
        "-j",
        "2",
        "-m",
        m.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let man = manifest(&m);
    let findings = kind(&man, "finding");
    assert_eq!(findings.len(), expected);
    // Lines agree with a naive count.
    for f in &findings {
        let off = f["offset"].as_u64().unwrap() as usize;
        let line = data[..off].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        assert_eq!(f["line"].as_u64().unwrap(), line);
    }
    let after = fs::read(&p).unwrap();
    assert_eq!(after.len(), data.len());
    let changed = data.iter().zip(&after).filter(|(a, b)| a != b).count();
    assert_eq!(
        changed,
        expected * 6,
        "exactly the six middle digits of each PAN"
    );
    assert_eq!(
        panscrub(&["scan", "-q", p.to_str().unwrap()]).status.code(),
        Some(0)
    );
}

/// sha256 of some bytes, in hex.
fn sha_hex(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

#[test]
fn hashes_are_right_when_the_first_pan_is_deep_in_a_large_file() {
    // The apply pass hashes once until the first masked block and splits
    // there; PANs several 1 MiB blocks in, one on a block edge. The 24 MiB
    // file is scanned in pieces and hashed on helper threads, with a third
    // PAN in a later batch; the 6 MiB one is hashed inline.
    for total in [6usize << 20, 24 << 20] {
        hashes_match_the_bytes(total);
    }
}

fn hashes_match_the_bytes(total: usize) {
    let d = tmp();
    let filler = b"2024-01-01T00:00:00Z INFO request served in 12 ms id=42 user=alice\n";
    let mut data = Vec::new();
    let mut pans = 2;
    while data.len() < (9 << 20) / 2 {
        data.extend_from_slice(filler);
    }
    data.extend_from_slice(b"card 4111 1111 1111 1111 seen\n");
    while data.len() < (5 << 20) - 9 {
        data.extend_from_slice(b"x");
    }
    data.extend_from_slice(b" 5555555555554444 \n");
    while data.len() < total {
        if total > 16 << 20 && data.len() > 20 << 20 && pans == 2 {
            data.extend_from_slice(b"refund to 378282246310005\n");
            pans += 1;
        }
        data.extend_from_slice(filler);
    }
    let in_place = d.path().join("deep.log");
    write(&in_place, &data);
    let out_dir = d.path().join("out");
    let src_dir = d.path().join("src");
    fs::create_dir(&src_dir).unwrap();
    write(&src_dir.join("deep.log"), &data);
    for (jobs, out) in [("1", false), ("2", false), ("1", true)] {
        if !out {
            write(&in_place, &data);
        }
        let m = d.path().join(format!("m{jobs}{out}.jsonl"));
        let mut args = vec!["scrub", "-q", "-j", jobs, "-m", m.to_str().unwrap()];
        let target = if out {
            args.extend([
                "--out",
                out_dir.to_str().unwrap(),
                src_dir.to_str().unwrap(),
            ]);
            out_dir.join("src/deep.log")
        } else {
            args.push(in_place.to_str().unwrap());
            in_place.clone()
        };
        let what = format!("{total} bytes, -j{jobs} out={out}");
        assert_eq!(panscrub(&args).status.code(), Some(0), "{what}");
        let man = manifest(&m);
        assert_eq!(kind(&man, "finding").len(), pans, "{what}");
        let file = kind(&man, "file")[0];
        let after = fs::read(&target).unwrap();
        assert_ne!(after, data);
        assert_eq!(file["sha256_before"], sha_hex(&data), "{what}");
        assert_eq!(file["sha256_after"], sha_hex(&after), "{what}");
    }
}

#[test]
fn appended_data_during_scrub_is_kept() {
    let d = tmp();
    let p = d.path().join("live.log");
    let mut data = Vec::new();
    while data.len() < 48 << 20 {
        data.extend_from_slice(
            b"2024-01-01T00:00:00Z pay card=4111111111111111 ok, some more text to pad the line\n",
        );
    }
    write(&p, &data);
    let mut child = Command::new(BIN)
        .args(["scrub", "-q", "-j", "1", p.to_str().unwrap()])
        .spawn()
        .unwrap();
    let mut appended = Vec::new();
    let mut n = 0;
    loop {
        let line = format!("appended line {n} order=1234567 done\n");
        {
            use std::io::Write;
            let mut f = fs::OpenOptions::new().append(true).open(&p).unwrap();
            f.write_all(line.as_bytes()).unwrap();
        }
        appended.extend_from_slice(line.as_bytes());
        n += 1;
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let after = fs::read(&p).unwrap();
    assert_eq!(after.len(), data.len() + appended.len());
    assert_eq!(
        &after[data.len()..],
        &appended[..],
        "every appended byte kept"
    );
    assert!(n > 1, "appended while running");
}

#[test]
fn pan_in_a_file_name_is_masked_in_every_output() {
    let d = tmp();
    let dir = d.path().join("4111111111111111");
    write(&dir.join("notes.txt"), b"card 5555555555554444\n");
    let m = d.path().join("m.jsonl");
    let out = panscrub(&[
        "scan",
        "-m",
        m.to_str().unwrap(),
        d.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_no_pan("stdout", &out.stdout);
    assert_no_pan("stderr", &out.stderr);
    assert_no_pan("manifest", &fs::read(&m).unwrap());
    assert!(String::from_utf8_lossy(&out.stdout).contains("411111******1111/notes.txt"));
    assert!(dir.exists(), "never renamed");
}

#[test]
fn globs_select_files() {
    let d = tmp();
    write(&d.path().join("a.log"), b"4111111111111111\n");
    write(&d.path().join("b.txt"), b"4111111111111111\n");
    write(&d.path().join("skip/c.log"), b"4111111111111111\n");
    let out = panscrub(&[
        "scan",
        "-g",
        "*.log",
        "-x",
        "skip",
        d.path().to_str().unwrap(),
    ]);
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(
        s.contains("a.log") && !s.contains("b.txt") && !s.contains("c.log"),
        "{s}"
    );
    let out = panscrub(&["scan", "-g", "[", "."]);
    assert_eq!(out.status.code(), Some(2), "bad glob is a usage error");
}

#[test]
fn help_documents_the_three_jobs_and_exit_codes() {
    let out = panscrub(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let h = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "Sandbox export",
        "Nightly cron",
        "Forensic sweep",
        "Exit codes",
    ] {
        assert!(h.contains(needle), "--help lacks {needle}");
    }
}

#[test]
fn scrub_keeps_mode_and_mtime() {
    let d = tmp();
    let p = d.path().join("a.log");
    write(&p, b"4111111111111111\n");
    fs::set_permissions(&p, fs::Permissions::from_mode(0o640)).unwrap();
    let old = fs::metadata(&p).unwrap().modified().unwrap() - Duration::from_secs(86400);
    fs::File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_modified(old)
        .unwrap();
    assert_eq!(
        panscrub(&["scrub", "-q", p.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let md = fs::metadata(&p).unwrap();
    assert_eq!(md.permissions().mode() & 0o777, 0o640);
    assert_eq!(md.modified().unwrap(), old);
    assert_eq!(fs::read(&p).unwrap(), b"411111******1111\n");
}

#[test]
fn no_hash_scrubs_without_sha256_and_hash_covers_every_file() {
    let d = tmp();
    let p = d.path().join("a.log");
    write(&p, b"ok 4111111111111111 ok\n");
    write(&d.path().join("clean.log"), b"nothing here\n");
    let m = d.path().join("m.jsonl");
    let out = panscrub(&[
        "scrub",
        "-q",
        "--no-hash",
        "-m",
        m.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(fs::read(&p).unwrap(), b"ok 411111******1111 ok\n");
    let f = kind(&manifest(&m), "file")[0].clone();
    assert_eq!(f["status"], "truncated");
    assert!(f.get("sha256_before").is_none() && f.get("sha256_after").is_none());
    // --hash: every file has sha256_before, clean ones no sha256_after.
    let out = panscrub(&[
        "scan",
        "--hash",
        "-m",
        m.to_str().unwrap(),
        d.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    let man = manifest(&m);
    let files: Vec<_> = kind(&man, "file")
        .into_iter()
        .filter(|f| f["path"].as_str().unwrap().ends_with(".log"))
        .collect();
    assert_eq!(files.len(), 2);
    for f in files {
        assert_eq!(f["sha256_before"].as_str().unwrap().len(), 64);
        assert!(f.get("sha256_after").is_none());
    }
    assert_eq!(
        panscrub(&["scan", "--hash", "--no-hash", "."])
            .status
            .code(),
        Some(2)
    );
}

#[path = "it/archives.rs"]
mod archives;

#[path = "it/sad.rs"]
mod sensitive_auth_data;

#[path = "it/utf16.rs"]
mod utf16_text;

/// Salesforce-style CSVs written by Python's csv module
/// (`scripts/make_fixtures.py`): exact locations, and after scrub the same
/// module reads back the same rows and fields, only PAN values changed.
#[test]
fn csv_locations_and_structure_after_scrub() {
    let d = tmp();
    copy_tree(&testdata().join("export"), d.path());
    let m = scrub_ok(d.path(), d.path());
    let man = manifest(&m);
    let mut locs: Vec<(String, u64, String, String)> = kind(&man, "finding")
        .iter()
        .map(|f| {
            (
                f["object"].as_str().unwrap().to_string(),
                f["row"].as_u64().unwrap(),
                f["field"].as_str().unwrap().to_string(),
                f["record_id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    locs.sort();
    let own =
        |a: &str, r: u64, f: &str, id: &str| (a.to_string(), r, f.to_string(), id.to_string());
    assert_eq!(
        locs,
        vec![
            own("Case", 1, "Détails", "5005g00000Cas01AAA"),
            own("Contact", 1, "Description", "0035g00000ABCdeAAA"),
            own("Contact", 3, "Description", "0035g00000ABCdgAAC"),
            own("Opportunity", 1, "Description", "0065g00000Opp01AAA"),
            own("Opportunity", 3, "Description", "0065g00000Opp03AAA"),
        ]
    );
    // Read back with Python's csv module when available.
    let py = r#"
import csv, sys
def rows(p, enc):
    with open(p, encoding=enc, newline="") as f:
        return list(csv.reader(f))
for name, enc in (("Opportunity.csv", "utf-8-sig"), ("Case.csv", "iso-8859-1"), ("Contact.csv", "utf-8-sig")):
    a = rows(sys.argv[1] + "/" + name, enc)
    b = rows(sys.argv[2] + "/" + name, enc)
    assert len(a) == len(b), name
    for ra, rb in zip(a, b):
        assert len(ra) == len(rb), name
        for x, y in zip(ra, rb):
            if x != y:
                assert len(x) == len(y) and "*" in y, (name, y)
print("ok")
"#;
    let Ok(o) = Command::new("python3")
        .args([
            "-c",
            py,
            testdata().join("export").to_str().unwrap(),
            d.path().to_str().unwrap(),
        ])
        .output()
    else {
        return;
    };
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "ok");
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

/// A CSV large enough to be scanned in 8 MiB pieces, with quoted fields
/// holding newlines that straddle the piece edges (a piece then starts
/// inside quotes): every finding gets the row, field and Id it was written
/// in, with one or two jobs, and an unclosed quote at the end is an error.
#[test]
fn csv_rows_are_exact_across_piece_edges() {
    const PIECE: usize = 8 << 20;
    let d = tmp();
    let mut data = b"\xef\xbb\xbf\"Id\",\"Name\",\"Description\"\r\n".to_vec();
    let mut expect = Vec::new();
    let mut row = 0u64;
    while data.len() < 3 * PIECE + (1 << 20) {
        row += 1;
        let id = format!("0035g{row:013}");
        let to_edge = PIECE - data.len() % PIECE;
        let desc = if to_edge < 300_000 {
            // A long note with newlines and doubled quotes across the
            // edge, a PAN on each side of it.
            let mut t = String::from("call notes: card 4111 1111 1111 1111\n");
            while t.len() < to_edge + 200_000 {
                t.push_str("said \"hello\", then\r\nmore, more\n");
            }
            t.push_str("paid with 5555555555554444 at last");
            expect.push((row, id.clone()));
            expect.push((row, id.clone()));
            t
        } else if row.is_multiple_of(997) {
            expect.push((row, id.clone()));
            format!("renewal, card 378282246310005 on file\nline two {row}")
        } else {
            format!("renewal {row}, invoice {}\nnote", 100000 + row)
        };
        // RFC 4180: a quote inside a quoted field is doubled.
        let desc = desc.replace('"', "\"\"");
        data.extend_from_slice(format!("\"{id}\",\"Account {row}\",\"{desc}\"\r\n").as_bytes());
    }
    let p = d.path().join("Contact.csv");
    write(&p, &data);
    for jobs in ["1", "2"] {
        let m = d.path().join(format!("m{jobs}.jsonl"));
        let out = panscrub(&[
            "scan",
            "-q",
            "-j",
            jobs,
            "-m",
            m.to_str().unwrap(),
            p.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(1));
        let man = manifest(&m);
        let got: Vec<(u64, String)> = kind(&man, "finding")
            .iter()
            .map(|f| {
                assert_eq!(f["field"], "Description", "-j{jobs}: {f}");
                assert_eq!(f["object"], "Contact");
                (
                    f["row"].as_u64().unwrap(),
                    f["record_id"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(got.len(), expect.len(), "-j{jobs}");
        assert_eq!(got, expect, "-j{jobs}");
        assert_eq!(kind(&man, "file")[0]["status"], "reported");
    }
    // An unclosed quote in the last record: the locations after it cannot
    // be trusted, so the input is an error.
    data.extend_from_slice(b"\"0035gBROKEN\",\"x\",\"never closed\r\n");
    write(&p, &data);
    let m = d.path().join("broken.jsonl");
    let out = panscrub(&["scan", "-q", "-m", m.to_str().unwrap(), p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let file = &kind(&manifest(&m), "file")[0].clone();
    assert_eq!(file["status"], "error");
    assert!(file["reason"].as_str().unwrap().contains("malformed CSV"));
}

#[path = "it/reliability.rs"]
mod reliability;

#[path = "it/policy.rs"]
mod policy;

/// A PAN written as a bare JSON number or SQL numeric literal is masked with
/// digits (the file still parses, the value is no longer a PAN); PANs in
/// strings get the mask character. Checked by Python's json and sqlite3.
#[test]
fn json_numbers_and_sql_literals_stay_valid() {
    let d = tmp();
    let json = d.path().join("events.ndjson");
    write(
        &json,
        b"{\"card\": 4111111111111111, \"note\": \"card 5555555555554444\"}\n{\"cards\":[378282246310005,-6011111111111117]}\n",
    );
    let sql = d.path().join("dump.sql");
    write(
        &sql,
        b"CREATE TABLE p (id INTEGER, pan INTEGER, note TEXT);\nINSERT INTO p VALUES (1, 4111111111111111, 'card 5555 5555 5555 4444');\nINSERT INTO p VALUES (2,378282246310005,'x');\n",
    );
    let m = scrub_ok(d.path(), d.path());
    let j = fs::read_to_string(&json).unwrap();
    assert!(j.contains("\"card 555555******4444\""), "{j}");
    assert!(
        !j.contains('*') || j.matches('*').count() == 6,
        "only the string PAN got '*': {j}"
    );
    let s = fs::read_to_string(&sql).unwrap();
    assert!(s.contains("'card 5555 55** **** 4444'"), "{s}");
    assert_eq!(
        panscrub(&["scan", "-q", d.path().to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let man = manifest(&m);
    let numbers = kind(&man, "finding")
        .iter()
        .filter(|f| f.get("masked_as").is_some_and(|v| v == "number"))
        .count();
    assert_eq!(numbers, 5, "3 JSON numbers + 2 SQL literals");
    let py = r#"
import json, sqlite3, sys
for line in open(sys.argv[1]):
    json.loads(line)
db = sqlite3.connect(":memory:")
db.executescript(open(sys.argv[2]).read())
rows = db.execute("select pan from p order by id").fetchall()
assert all(isinstance(r[0], int) for r in rows), rows
print("ok")
"#;
    let Ok(o) = Command::new("python3")
        .args(["-c", py, json.to_str().unwrap(), sql.to_str().unwrap()])
        .output()
    else {
        return;
    };
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

/// A pg_dump-style file (`COPY … FROM stdin` rows and `INSERT`s) stays
/// loadable: after scrub, every statement parses with sqlparser's
/// PostgreSQL dialect, the COPY payload keeps its rows and its tab-separated
/// fields (PostgreSQL's text format), the bigint column still holds integers
/// or `\N`, and a second scan finds nothing.
#[test]
fn sql_dump_with_copy_rows_stays_loadable() {
    use sqlparser::ast::{Expr, SetExpr, Statement, Value};
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;
    let d = tmp();
    let dump = d.path().join("payments.sql");
    let original = "--\n-- PostgreSQL database dump\n--\n\
SET statement_timeout = 0;\n\
CREATE TABLE public.payments (id integer NOT NULL, pan bigint, note text);\n\
COPY public.payments (id, pan, note) FROM stdin;\n\
1\t4111111111111111\tcard 5555 5555 5555 4444 on file\n\
2\t\\N\tpaid with 378282246310005, thanks\n\
3\t6011111111111117\tinvoice 2024-03-01\n\
\\.\n\
INSERT INTO public.payments VALUES (4, 5555555555554444, 'card 4111-1111-1111-1111');\n";
    write(&dump, original.as_bytes());
    scrub_ok(d.path(), d.path());
    let after = fs::read_to_string(&dump).unwrap();
    assert_no_pan("scrubbed dump", after.as_bytes());
    assert_eq!(after.len(), original.len(), "same length");
    let statements = Parser::parse_sql(&PostgreSqlDialect {}, &after).expect("dump still parses");
    let mut copy_rows = Vec::new();
    let mut insert_pan = None;
    for st in &statements {
        match st {
            Statement::Copy {
                payload: Some(p), ..
            } => {
                assert!(p.terminated, "the \\. line is kept");
                copy_rows = p
                    .data
                    .lines()
                    .map(|l| l.split('\t').map(str::to_string).collect::<Vec<_>>())
                    .collect();
            }
            Statement::Insert(ins) => {
                let Some(SetExpr::Values(v)) = ins.source.as_ref().map(|q| q.body.as_ref()) else {
                    panic!("VALUES expected")
                };
                insert_pan = Some(v.rows[0][1].clone());
            }
            _ => {}
        }
    }
    assert_eq!(copy_rows.len(), 3, "{after}");
    for row in &copy_rows {
        assert_eq!(row.len(), 3, "three fields per row: {row:?}");
        let pan = &row[1];
        assert!(
            pan == "\\N" || pan.bytes().all(|b| b.is_ascii_digit()),
            "bigint field: {pan}"
        );
    }
    assert_eq!(copy_rows[0][2], "card 5555 55** **** 4444 on file");
    assert_ne!(copy_rows[0][1], "4111111111111111");
    match insert_pan {
        Some(Expr::Value(v)) => assert!(matches!(v.value, Value::Number(..)), "{v:?}"),
        other => panic!("numeric literal expected, got {other:?}"),
    }
    assert_eq!(
        panscrub(&["scan", "-q", dump.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
}

#[path = "it/parquet.rs"]
mod parquet_files;

/// Malformed structured inputs are an error for that input only; their
/// PANs are still truncated as text, and the other inputs are processed.
#[test]
fn malformed_csv_and_invalid_json_line_are_errors() {
    let d = tmp();
    write(
        &d.path().join("Lead.csv"),
        b"\"Id\",\"Note\"\r\n\"00Q1\",\"card 4111111111111111\"\r\n\"00Q2\",\"never closed\r\n\"00Q3\",\"x\"\r\n",
    );
    write(
        &d.path().join("events.ndjson"),
        b"{\"card\": \"5555555555554444\"}\n{\"broken\": tru}\n{\"ok\": 1}\n",
    );
    // Looks like JSON but is named .log: not held to JSON validity.
    write(
        &d.path().join("mixed.log"),
        b"{\"card\": \"4111111111111111\"}\nplain line\n",
    );
    write(
        &d.path().join("good.csv"),
        b"Id,Note\n1,\"card 378282246310005\"\n",
    );
    let (o, m) = scrub_with_manifest(d.path(), d.path());
    assert_eq!(o.status.code(), Some(2));
    assert_no_pan("stderr", &o.stderr);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("malformed CSV"), "{stderr}");
    assert!(stderr.contains("invalid JSON at line 2 column"), "{stderr}");
    let recs = manifest(&m);
    let status = |name: &str| {
        kind(&recs, "file")
            .into_iter()
            .find(|r| r["path"].as_str().unwrap().ends_with(name))
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(status("Lead.csv"), "error");
    assert_eq!(status("events.ndjson"), "error");
    assert_eq!(status("mixed.log"), "truncated");
    assert_eq!(status("good.csv"), "truncated");
    for f in ["Lead.csv", "events.ndjson", "mixed.log", "good.csv"] {
        assert_no_pan(f, &fs::read(d.path().join(f)).unwrap());
    }
    let summary = kind(&recs, "summary")[0];
    assert_eq!(summary["errors"], 2);
}

#[path = "it/pipeline.rs"]
mod pipeline;

#[path = "it/equivalence.rs"]
mod equivalence;
