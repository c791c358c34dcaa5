//! Scrub in place and into `--out`: only masked bytes change, hashes,
//! metadata, symlinks and FIFOs, chunk edges, appends during a scrub.

use super::*;

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
    let m = mpath();
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
    let m = mpath();
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
    let m = mpath();
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

#[test]
fn hashes_are_right_with_a_card_every_few_kilobytes() {
    // The bench's shape: nearly every 1 MiB block masked, so the two
    // digests run in lockstep on the helper thread and each changed block
    // goes to it as masked bytes plus the spans' originals. Cards side by
    // side, and one across every 1 MiB edge (where the apply pass cuts its
    // reads) and every 8 MiB piece edge.
    let d = tmp();
    let filler =
        b"081109 203615 148 INFO dfs.DataNode$PacketResponder: block blk_38865 terminating\n";
    let cards: [&[u8]; 4] = [
        b"4111111111111111",
        b"5555 5555 5555 4444",
        b"3782-822463-10005",
        b"6011111111111117",
    ];
    let mut data = Vec::new();
    let mut placed = 0;
    let mut next_edge = 1usize << 20;
    while data.len() < 20 << 20 {
        if data.len() + 80 * filler.len() + 64 > next_edge {
            // Straddle the edge: the card's first 8 digits before it.
            while data.len() < next_edge - 13 {
                data.push(b'.');
            }
            data.extend_from_slice(b" pan=");
            data.extend_from_slice(cards[0]);
            data.extend_from_slice(b"\n");
            placed += 1;
            next_edge += 1 << 20;
            continue;
        }
        for _ in 0..80 {
            data.extend_from_slice(filler);
        }
        data.extend_from_slice(b"payment ");
        data.extend_from_slice(cards[placed % 4]);
        if placed % 7 == 0 {
            // Two in a row.
            data.push(b',');
            data.extend_from_slice(cards[(placed + 1) % 4]);
            placed += 1;
        }
        data.extend_from_slice(b" ok\n");
        placed += 1;
    }
    let p = d.path().join("dense.log");
    for jobs in ["1", "2"] {
        write(&p, &data);
        let m = d.path().join(format!("m{jobs}.jsonl"));
        let out = panscrub(&[
            "scrub",
            "-q",
            "-j",
            jobs,
            "-m",
            m.to_str().unwrap(),
            p.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "-j{jobs}");
        let man = manifest(&m);
        assert_eq!(kind(&man, "finding").len(), placed, "-j{jobs}");
        let file = kind(&man, "file")[0];
        let after = fs::read(&p).unwrap();
        assert_eq!(after.len(), data.len());
        assert_eq!(file["sha256_before"], sha_hex(&data), "-j{jobs}");
        assert_eq!(file["sha256_after"], sha_hex(&after), "-j{jobs}");
        assert_eq!(
            panscrub(&["scan", "-q", p.to_str().unwrap()]).status.code(),
            Some(0),
            "-j{jobs}: nothing left"
        );
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
    let m = mpath();
    let mut child = Command::new(BIN)
        .args(["scrub", "-q", "-j", "1", "-m", m.to_str().unwrap()])
        .arg(&p)
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
    // The file record says the run worked on the length at open and left
    // what was appended after it for the next run.
    let rec = kind(&manifest(&m), "file")[0].clone();
    let (size, grew) = (rec["size"].as_u64().unwrap(), rec["appended"].as_u64());
    let grew = grew.expect("the record says the file grew");
    assert!(size >= data.len() as u64, "{rec}");
    assert!(grew > 0 && size + grew <= after.len() as u64, "{rec}");
    assert_eq!(rec["status"], "truncated");
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
    let m = mpath();
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
        "--force",
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
