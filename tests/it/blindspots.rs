//! Blind spots (issue: no blind spots): a PAN in a file or directory name
//! is a finding of its own (`type: path`), reported, counted in the exit
//! code and never renamed.

use super::*;

#[test]
fn a_pan_in_a_file_or_directory_name_is_reported_never_renamed() {
    let d = tmp();
    let t = d.path().join("t");
    let file = t.join("receipt (4111111111111111).txt");
    let dir = t.join("4111 1111 1111 1111");
    write(&file, b"nothing to see\n");
    write(&dir.join("notes.txt"), b"nothing here either\n");
    for mode in ["scan", "scrub"] {
        let m = mpath();
        let o = panscrub(&[mode, "-m", m.to_str().unwrap(), t.to_str().unwrap()]);
        assert_exit(&o, 1);
        assert_no_pan("stdout", &o.stdout);
        assert_no_pan("stderr", &o.stderr);
        assert_no_pan("manifest", &fs::read(&m).unwrap());
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            stdout.contains("receipt (411111******1111).txt: name holds visa 411111******1111"),
            "{stdout}"
        );
        let man = manifest(&m);
        let found = kind(&man, "finding");
        assert_eq!(found.len(), 2, "{found:?}");
        for f in &found {
            assert_eq!(f["type"], "path");
            assert_eq!(f["in_name"], true);
            assert_eq!(f["action"], "reported");
        }
        let s = summary(&man);
        assert_eq!(
            (s["findings"].as_u64(), s["reported"].as_u64()),
            (Some(2), Some(2))
        );
        assert_eq!(s["by_type"]["path"], 2);
        assert!(file.exists() && dir.exists(), "never renamed");
        if mode == "scrub" {
            let rec = kind(&man, "file")
                .into_iter()
                .find(|f| f["path"].as_str().unwrap().contains("receipt"))
                .unwrap()
                .clone();
            assert_eq!(rec["status"], "reported");
            assert!(rec["reason"].as_str().unwrap().contains("never changed"));
        }
    }
    // Allowed like any other PAN.
    let o = panscrub(&["scan", "-q", "--allow-test-cards", t.to_str().unwrap()]);
    assert_exit(&o, 0);
}

/// By default a scrubbed file keeps its mtime (log retention by age);
/// `--touch` gives it the time of the scrub, so a quick-check backup
/// (size + mtime) sees the change. In place and rebuilt alike.
#[test]
fn touch_gives_scrubbed_files_a_new_mtime_and_the_default_keeps_it() {
    let d = tmp();
    let t = d.path().join("t");
    write(&t.join("a.log"), b"card 4111111111111111\n");
    write(&t.join("clean.log"), b"nothing\n");
    let ok = Command::new("sh")
        .arg("-c")
        .arg("cp a.log b.log && gzip b.log")
        .current_dir(&t)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let old = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_600_000_000);
    let set_old = || {
        for f in ["a.log", "clean.log", "b.log.gz"] {
            let file = fs::File::options().write(true).open(t.join(f)).unwrap();
            file.set_times(fs::FileTimes::new().set_modified(old))
                .unwrap();
        }
    };
    let mtime = |f: &str| fs::metadata(t.join(f)).unwrap().modified().unwrap();
    set_old();
    scrub_ok(&t);
    assert_eq!(
        (mtime("a.log"), mtime("b.log.gz")),
        (old, old),
        "kept by default"
    );
    write(&t.join("a.log"), b"card 4111111111111111\n");
    let ok = Command::new("sh")
        .arg("-c")
        .arg("rm b.log.gz && cp a.log b.log && gzip b.log")
        .current_dir(&t)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    set_old();
    let o = panscrub(&["scrub", "-q", "--touch", t.to_str().unwrap()]);
    assert_exit(&o, 0);
    for f in ["a.log", "b.log.gz"] {
        assert!(
            mtime(f) > old + Duration::from_secs(100_000_000),
            "{f} touched"
        );
    }
    assert_eq!(mtime("clean.log"), old, "an unchanged file is not touched");
}

/// A card typed into a web form and logged from the URL or the body:
/// `+`, `%20` and `%2D` separate its groups; masking keeps the encoding, and
/// the verification code beside it is masked too.
#[test]
fn url_and_form_encoded_cards_are_found_and_masked_in_their_encoding() {
    let d = tmp();
    let log = d.path().join("access.log");
    let text = "GET /pay?cc=4111+1111+1111+1111&cvv=123 HTTP/1.1\n\
                POST /api body=card%3D4111%201111%201111%201111%26exp%3D12\n\
                GET /p?n=5555%2D5555%2D5555%2D4444 200\n\
                GET /p?n=5555%2d5555%2d5555%2d4444 200\n\
                GET /static/app.js?v=1234+5678 200\n";
    write(&log, text.as_bytes());
    let o = panscrub(&["scan", "-q", log.to_str().unwrap()]);
    assert_exit(&o, 1);
    let m = mpath();
    let o = panscrub(&["scrub", "-m", m.to_str().unwrap(), log.to_str().unwrap()]);
    assert_exit(&o, 0);
    assert_no_pan("stdout", &o.stdout);
    let man = manifest(&m);
    let found = kind(&man, "finding");
    assert_eq!(found.len(), 5, "{found:?}");
    assert_eq!(
        found.iter().filter(|f| f["type"] == "pan").count(),
        4,
        "{found:?}"
    );
    for f in found.iter().filter(|f| f["type"] == "pan") {
        let masked = f["masked"].as_str().unwrap();
        assert!(masked.len() == 16 && masked.contains("******"), "{masked}");
    }
    let after = fs::read_to_string(&log).unwrap();
    assert_eq!(
        after,
        "GET /pay?cc=4111+11**+****+1111&cvv=*** HTTP/1.1\n\
         POST /api body=card%3D4111%2011**%20****%201111%26exp%3D12\n\
         GET /p?n=5555%2D55**%2D****%2D4444 200\n\
         GET /p?n=5555%2d55**%2d****%2d4444 200\n\
         GET /static/app.js?v=1234+5678 200\n"
    );
    assert_no_pan("scrubbed log", after.as_bytes());
}

/// A forensic sweep leaves the access times of the evidence directories as
/// it found them, as it does for files: directories are opened with
/// `O_NOATIME` too. The times are set three days back first, so a
/// `relatime` mount would update them on any read.
#[test]
fn a_scan_keeps_directory_and_file_access_times() {
    let d = tmp();
    let t = d.path().join("evidence");
    write(&t.join("host1/var/log/app.log"), b"card 4111111111111111\n");
    write(&t.join("host1/notes.txt"), b"nothing\n");
    let st = Command::new("sh")
        .arg("-c")
        .arg("find . -exec touch -a -d '3 days ago' {} +")
        .current_dir(&t)
        .status()
        .unwrap();
    assert!(st.success());
    let atimes = || {
        let mut v = Vec::new();
        for p in [
            "",
            "host1",
            "host1/var",
            "host1/var/log",
            "host1/var/log/app.log",
            "host1/notes.txt",
        ] {
            v.push((p, fs::metadata(t.join(p)).unwrap().accessed().unwrap()));
        }
        v
    };
    let before = atimes();
    let o = panscrub(&["scan", "-q", t.to_str().unwrap()]);
    assert_exit(&o, 1);
    assert_eq!(atimes(), before);
}
