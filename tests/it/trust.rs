//! What operators and auditors are told: the evidence is never written by
//! the manifest, findings are counted even when a file cannot be written,
//! symlinked roots, filters that select nothing, sorted output, and the
//! words of the summary.

use super::*;

const FOUR_PANS: &[u8] =
    b"card 4111111111111111 ok\npay 5555555555554444\n4012888888881881 x\ncard 378282246310005\n";

fn evidence(d: &Path) -> PathBuf {
    let ev = d.join("ev");
    write(&ev.join("logs/app.log"), FOUR_PANS);
    ev
}

#[test]
fn a_manifest_inside_a_scanned_tree_is_refused_and_the_evidence_untouched() {
    let d = tmp();
    let ev = evidence(d.path());
    let target = ev.join("logs/app.log");
    for mode in ["scan", "scrub"] {
        let o = panscrub(&[
            mode,
            "-q",
            "--force",
            "--manifest",
            target.to_str().unwrap(),
            ev.to_str().unwrap(),
        ]);
        assert_exit(&o, 2);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("--manifest") && err.contains("inside"),
            "{err}"
        );
        assert_eq!(
            fs::read(&target).unwrap(),
            FOUR_PANS,
            "{mode} wrote evidence"
        );
    }
    // A new file inside the tree is refused as well (and never created).
    let new = ev.join("case.jsonl");
    let o = panscrub(&[
        "scan",
        "-q",
        "-m",
        new.to_str().unwrap(),
        ev.to_str().unwrap(),
    ]);
    assert_exit(&o, 2);
    assert!(!new.exists());
}

#[test]
fn an_existing_file_is_overwritten_only_if_it_is_a_manifest_and_force_is_given() {
    let d = tmp();
    let ev = evidence(d.path());
    let notes = d.path().join("notes.txt");
    write(&notes, b"my case notes\n");
    let scan = |m: &Path, force: bool| {
        let mut args = vec!["scan", "-q", "-m", m.to_str().unwrap()];
        if force {
            args.push("--force");
        }
        args.push(ev.to_str().unwrap());
        panscrub(&args)
    };
    for force in [false, true] {
        let o = scan(&notes, force);
        assert_exit(&o, 2);
        assert!(String::from_utf8_lossy(&o.stderr).contains("not a panscrub manifest"));
        assert_eq!(fs::read(&notes).unwrap(), b"my case notes\n");
    }
    let m = mpath();
    assert_exit(&scan(&m, false), 1);
    let first = fs::read(&m).unwrap();
    let o = scan(&m, false);
    assert_exit(&o, 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    assert_eq!(fs::read(&m).unwrap(), first, "refused means untouched");
    assert_exit(&scan(&m, true), 1);
    assert_eq!(
        kind(&manifest(&m), "run").len(),
        1,
        "replaced, not appended"
    );
}

/// Runs `panscrub args` as an unprivileged user when the tests run as
/// root (root may write a read-only file), else as the current user.
fn as_unprivileged(args: &[&str]) -> Output {
    if running_as_root() {
        Command::new("setpriv")
            .args([
                "--reuid",
                "65534",
                "--regid",
                "65534",
                "--clear-groups",
                BIN,
            ])
            .args(args)
            .output()
            .expect("setpriv runs (util-linux)")
    } else {
        panscrub(args)
    }
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

/// Makes `p` and the directories above it readable (and the manifest's
/// directory writable) for the unprivileged user.
fn open_up(dirs: &[&Path]) {
    for d in dirs {
        let mut p = d.to_path_buf();
        loop {
            let mode = fs::metadata(&p).unwrap().permissions().mode();
            fs::set_permissions(&p, fs::Permissions::from_mode(mode | 0o755)).unwrap();
            if !p.pop() || p.as_os_str().is_empty() || p == Path::new("/") {
                break;
            }
            if p == std::env::temp_dir() {
                break;
            }
        }
    }
}

#[test]
fn a_file_that_cannot_be_written_still_counts_every_finding() {
    let d = tmp();
    let f = d.path().join("ro/app.log");
    write(&f, FOUR_PANS);
    fs::set_permissions(&f, fs::Permissions::from_mode(0o444)).unwrap();
    let mdir = d.path().join("out");
    fs::create_dir_all(&mdir).unwrap();
    open_up(&[f.parent().unwrap(), &mdir]);
    fs::set_permissions(&mdir, fs::Permissions::from_mode(0o777)).unwrap();
    let m = mdir.join("m.jsonl");
    let o = as_unprivileged(&["scrub", "-m", m.to_str().unwrap(), f.to_str().unwrap()]);
    assert_exit(&o, 2);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("4 findings"), "{err}");
    assert!(err.contains("--out"), "the message says what to do: {err}");
    assert_eq!(fs::read(&f).unwrap(), FOUR_PANS);
    let m = manifest(&m);
    let found = kind(&m, "finding");
    assert_eq!(found.len(), 4);
    assert!(found.iter().all(|r| r["action"] == "reported"));
    let file = kind(&m, "file")[0];
    assert_eq!(file["status"], "error");
    assert_eq!(file["findings"], 4);
    let s = summary(&m);
    assert_eq!(
        (s["findings"].as_u64(), s["reported"].as_u64()),
        (Some(4), Some(4))
    );
    assert_no_pan("stderr", &o.stderr);
    assert_no_pan("stdout", &o.stdout);
}

#[test]
fn a_symlinked_file_root_is_followed_and_a_symlinked_directory_root_is_not_skipped() {
    let d = tmp();
    let real = d.path().join("real");
    write(&real.join("app.log"), FOUR_PANS);
    let file_link = d.path().join("current.log");
    std::os::unix::fs::symlink(real.join("app.log"), &file_link).unwrap();
    let dir_link = d.path().join("logs");
    std::os::unix::fs::symlink(&real, &dir_link).unwrap();
    for root in [&file_link, &dir_link] {
        let m = mpath();
        let o = panscrub(&[
            "scan",
            "-q",
            "-m",
            m.to_str().unwrap(),
            root.to_str().unwrap(),
        ]);
        assert_exit(&o, 1);
        assert!(
            o.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let m = manifest(&m);
        assert_eq!(kind(&m, "finding").len(), 4);
        let files = kind(&m, "file");
        assert_eq!(files.len(), 1, "{files:?}");
        assert_eq!(files[0]["status"], "reported");
    }
    // Scrub through the file link masks the real file and keeps the link.
    let m = scrub_ok(&file_link);
    assert!(fs::symlink_metadata(&file_link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_no_pan("scrubbed file", &fs::read(real.join("app.log")).unwrap());
    assert_eq!(summary(&manifest(&m))["truncated"], 4);
}

#[test]
fn a_filter_or_a_tree_that_selects_nothing_warns_and_exits_2() {
    let d = tmp();
    let ev = evidence(d.path());
    let o = panscrub(&["scan", "-g", "*.nothing", ev.to_str().unwrap()]);
    assert_exit(&o, 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("no file was selected"));
    let empty = d.path().join("empty");
    fs::create_dir_all(&empty).unwrap();
    assert_exit(&panscrub(&["scrub", "-q", empty.to_str().unwrap()]), 2);
    // A shard that happens to own none of a non-empty tree is not an error.
    let one = d.path().join("one");
    write(&one.join("a.log"), b"nothing here\n");
    let codes: Vec<i32> = (0..4)
        .map(|k| {
            let shard = format!("{k}/4");
            panscrub(&["scan", "-q", "--shard", &shard, one.to_str().unwrap()])
                .status
                .code()
                .unwrap()
        })
        .collect();
    assert_eq!(codes, vec![0; 4]);
}

#[test]
fn sort_orders_stdout_as_it_orders_the_manifest() {
    let d = tmp();
    let src = d.path().join("t");
    for name in ["e", "b", "d", "a", "c", "f"] {
        write(
            &src.join(format!("{name}.log")),
            &b"x 4111111111111111\n".repeat(200),
        );
    }
    let o = panscrub(&["scan", "--sort", "-j2", src.to_str().unwrap()]);
    assert_exit(&o, 1);
    let lines: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 1200);
    let keys: Vec<(String, u64)> = lines
        .iter()
        .map(|l| {
            let mut parts = l.split(':');
            let path = parts.next().unwrap().to_string();
            (path, parts.next().unwrap().parse().unwrap())
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

#[test]
fn out_directory_is_named_in_the_run_record_and_the_summary_and_counts_read_well() {
    let d = tmp();
    let src = d.path().join("src");
    write(&src.join("a.log"), b"x 4111111111111111\n");
    let out = d.path().join("clean");
    let m = mpath();
    let o = panscrub(&[
        "scrub",
        "--out",
        out.to_str().unwrap(),
        "-m",
        m.to_str().unwrap(),
        src.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    let run = kind(&manifest(&m), "run")[0].clone();
    assert_eq!(run["out"], out.to_str().unwrap());
    assert_eq!(run["run_id"].as_str().map(str::len), Some(32));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("scrubbed copies under {}", out.display())),
        "{err}"
    );
    assert!(
        err.contains(": 1 file,") && err.contains(", 1 finding ") && err.contains("0 errors"),
        "{err}"
    );
}

/// The progress display on a terminal (run under `script` for a pty):
/// files done of found, bytes scanned counted as a `.gz` decodes (not its
/// compressed size), cleared before each finding line and at the end.
#[test]
fn progress_counts_decoded_bytes_and_never_leaves_a_bar_among_findings() {
    let d = tmp();
    let log = d.path().join("big.log");
    let mut text = Vec::new();
    for i in 0..400_000u32 {
        text.extend_from_slice(format!("{i:08} GET /api/items?id={} 200 ok\n", i % 977).as_bytes());
        if i % 50_000 == 0 {
            text.extend_from_slice(b"card 4111111111111111\n");
        }
    }
    write(&log, &text);
    let ok = Command::new("gzip").arg(&log).status().unwrap().success();
    assert!(ok);
    let gz = d.path().join("big.log.gz");
    let gz_size = fs::metadata(&gz).unwrap().len();
    // The pause holds the run after the scan, so the display ticks with
    // the decoded count before the file is done.
    let cmd = format!("{BIN} scrub {}", gz.display());
    let o = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("PANSCRUB_TEST_REBUILD_PAUSE_MS", "900")
        .output()
        .expect("script (util-linux) runs");
    assert_exit(&o, 0);
    let tty = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_no_pan("terminal", tty.as_bytes());
    let frames: Vec<&str> = tty.split(['\r', '\n']).collect();
    let decoded_mb = text.len() as f64 / 1e6;
    assert!(
        frames
            .iter()
            .any(|f| f.contains("0/1 files") && f.contains(&format!("{decoded_mb:.2} MB scanned"))),
        "a frame shows the decoded bytes ({decoded_mb:.2} MB, file {gz_size} bytes): {tty:?}"
    );
    // Each finding line and the summary start right after a line clear.
    let finding = format!("{}:", gz.display());
    for needle in [finding.as_str(), "panscrub scrub:"] {
        for (i, _) in tty.match_indices(needle) {
            assert!(
                tty[..i].ends_with("\u{1b}[2K") || tty[..i].ends_with('\n'),
                "{needle} at {i} follows a cleared line"
            );
        }
    }
    let summary_line = frames
        .iter()
        .find(|f| f.contains("panscrub scrub:"))
        .unwrap();
    assert!(summary_line.contains("scanned decoded"), "{summary_line}");
}

/// `scan -m m.jsonl DIR | head -1`: the reader goes away after one line;
/// the run still processes everything, completes the manifest and exits
/// with the real code.
#[test]
fn a_closed_stdout_stops_printing_not_the_run() {
    use std::io::BufRead;
    let d = tmp();
    let t = d.path().join("t");
    for i in 0..300 {
        write(
            &t.join(format!("f{i:03}.log")),
            &b"card 4111111111111111\n".repeat(12),
        );
    }
    let m = mpath();
    let mut child = Command::new(BIN)
        .args([
            "scan",
            "-j1",
            "-m",
            m.to_str().unwrap(),
            t.to_str().unwrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is gone (dropped above).
    let o = child.wait_with_output().unwrap();
    assert!(first.contains("411111******1111"));
    assert_exit(&o, 1);
    let man = manifest(&m);
    assert_eq!(kind(&man, "file").len(), 300);
    assert_eq!(summary(&man)["findings"], 3600);
}

fn sh_out(dir: &Path, script: &str) -> String {
    let o = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .expect("sh runs");
    assert!(
        o.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A rebuilt file (a `.gz` written by gzip) keeps its owner, its mode with
/// the setgid bit, its ACL (set by setfacl) and its user attribute (set by
/// setfattr), read back by getfacl and getfattr; the `--out` copy of it
/// too. Nothing is said to be lost.
#[test]
fn rebuilt_files_keep_mode_acl_and_extended_attributes() {
    let d = tmp();
    let t = d.path().join("t");
    write(&t.join("pay.log"), FOUR_PANS);
    let attrs = "getfacl -n --omit-header pay.log.gz && getfattr -d pay.log.gz && stat -c %a:%u:%g pay.log.gz";
    let before = sh_out(
        &t,
        &format!(
            "gzip pay.log && chmod 2750 pay.log.gz && setfacl -m u:65534:r pay.log.gz \
             && setfattr -n user.origin -v sandbox-refresh pay.log.gz && {attrs}"
        ),
    );
    assert!(
        before.contains("user:65534:r--") && before.contains("user.origin"),
        "{before}"
    );
    let out = d.path().join("out");
    let m = mpath();
    let o = panscrub(&[
        "scrub",
        "-q",
        "-m",
        m.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        t.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    assert_eq!(sh_out(&out.join("t"), attrs), before, "the --out copy");
    let m = scrub_ok(&t);
    assert_eq!(sh_out(&t, attrs), before, "the rebuilt file");
    assert!(!sh_out(&t, "zcat pay.log.gz").contains("4111111111111111"));
    let rec = kind(&manifest(&m), "file")[0].clone();
    assert_eq!(rec["status"], "truncated");
    assert!(rec.get("metadata_not_kept").is_none(), "{rec}");
}

/// A non-root scrub of another user's file it may write: the rebuilt file
/// can only be owned by the one who wrote it. Masked all the same (a PAN
/// left behind is the worse failure), and said: on stderr and in the file
/// record, never silently.
#[test]
fn an_owner_that_cannot_be_kept_is_reported() {
    assert!(
        running_as_root(),
        "CI runs the tests as root; this one needs it"
    );
    let d = tmp();
    let dir = d.path().join("shared");
    write(&dir.join("pay.log"), FOUR_PANS);
    sh_out(&dir, "gzip pay.log && chmod 0666 pay.log.gz");
    let mdir = d.path().join("m");
    fs::create_dir_all(&mdir).unwrap();
    open_up(&[&dir, &mdir]);
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    fs::set_permissions(&mdir, fs::Permissions::from_mode(0o777)).unwrap();
    let m = mdir.join("m.jsonl");
    let o = as_unprivileged(&["scrub", "-m", m.to_str().unwrap(), dir.to_str().unwrap()]);
    assert_exit(&o, 0);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("could not keep owner 0:0 (now 65534:65534)"),
        "{err}"
    );
    let rec = kind(&manifest(&m), "file")[0].clone();
    assert_eq!(rec["status"], "truncated");
    assert_eq!(
        rec["metadata_not_kept"],
        serde_json::json!(["owner 0:0 (now 65534:65534)"]),
        "{rec}"
    );
    assert_eq!(sh_out(&dir, "stat -c %a pay.log.gz").trim(), "666");
}
