//! Compressed files and archives, made by the real tools (gzip, zip, zstd
//! command-line programs) in temp dirs, scanned, scrubbed, then checked by
//! those same tools and compared byte for byte after decoding.

use super::*;

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

fn sh(dir: &Path, script: &str) {
    let st = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(st.success(), "{script}");
}

fn out(dir: &Path, script: &str) -> Vec<u8> {
    sh_output(dir, script)
}

/// Masks the test PANs the way panscrub must (6+4, separators kept).
fn masked(s: &str) -> String {
    s.replace("4111111111111111", "411111******1111")
        .replace("5555 5555 5555 4444", "5555 55** **** 4444")
        .replace("378282246310005", "378282*****0005")
        .replace("6011111111111117", "601111******1117")
        .replace("4111-1111-1111-1111", "4111-11**-****-1111")
        .replace("5555 5555 5555 4444", "5555 55** **** 4444")
}

#[test]
fn gzip_multi_member_with_a_pan_across_members() {
    if !have("gzip") {
        return;
    }
    let d = tmp();
    // The PAN is split between the two members.
    write(&d.path().join("a"), b"first member 4111 1111 11");
    write(
        &d.path().join("b"),
        b"11 1111 ok\nline two 378282246310005\n",
    );
    sh(
        d.path(),
        "gzip -c a > app.log.1.gz && gzip -c b >> app.log.1.gz && rm a b",
    );
    let m = mpath();
    let o = panscrub(&[
        "scan",
        "-m",
        m.to_str().unwrap(),
        d.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let man = manifest(&m);
    let f = kind(&man, "finding");
    assert_eq!(f.len(), 2);
    assert_eq!(f[0]["offset"], 13);
    assert_eq!(f[0]["length"], 19);
    assert!(f[0].get("member").is_none());
    assert_eq!(f[1]["line"], 2);
    assert_eq!(kind(&man, "file")[0]["format"], "gzip");

    let o = panscrub(&["scrub", "-q", d.path().to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    sh(d.path(), "gzip -t app.log.1.gz");
    assert_eq!(
        out(d.path(), "gzip -dc app.log.1.gz"),
        b"first member 4111 11** **** 1111 ok\nline two 378282*****0005\n"
    );
    assert_eq!(
        panscrub(&["scan", d.path().to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn zstd_is_scanned_and_rebuilt() {
    if !have("zstd") {
        return;
    }
    let d = tmp();
    let text = "x 4111111111111111 y\nz 5555 5555 5555 4444\n";
    write(&d.path().join("t"), text.as_bytes());
    sh(d.path(), "zstd -q t -o app.log.zst && rm t");
    assert_eq!(
        panscrub(&["scrub", "-q", d.path().to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    sh(d.path(), "zstd -q -t app.log.zst");
    assert_eq!(
        out(d.path(), "zstd -q -dc app.log.zst"),
        masked(text).as_bytes()
    );
}

/// A Salesforce-like weekly export: CSVs, an attachment without extension,
/// a stored member, an empty member, a directory, and a zip inside the zip.
#[test]
fn salesforce_export_zip_with_nested_zip() {
    if !have("zip") || !have("unzip") {
        return;
    }
    let d = tmp();
    let w = d.path().join("work");
    let contact = "\"Id\",\"Description\"\r\n\"0035g00000ABCdeAAA\",\"card 4111111111111111\"\r\n";
    let account = "\"Id\",\"Notes\"\r\n\"0015g00000XYZ\",\"no card here\"\r\n";
    let attachment = "scanned letter, card 6011111111111117 exp 04/28\n";
    let inner_csv = "\"Id\",\"Pan\"\r\n\"a01\",\"378282246310005\"\r\n";
    let stored = "stored 4111-1111-1111-1111\n";
    write(&w.join("Contact.csv"), contact.as_bytes());
    write(&w.join("Account.csv"), account.as_bytes());
    write(
        &w.join("Attachments/00P5g00000Att01"),
        attachment.as_bytes(),
    );
    write(&w.join("Empty.csv"), b"");
    write(&w.join("nested/Payment__c.csv"), inner_csv.as_bytes());
    write(&w.join("stored.txt"), stored.as_bytes());
    fs::create_dir_all(w.join("EmptyDir")).unwrap();
    sh(
        &w,
        "cd nested && zip -q ../inner.zip Payment__c.csv && cd .. && \
         zip -q -r ../WE_00D5g000000ABCD_1.ZIP Contact.csv Account.csv Attachments Empty.csv EmptyDir inner.zip && \
         zip -q -0 ../WE_00D5g000000ABCD_1.ZIP stored.txt",
    );
    let z = d.path().join("WE_00D5g000000ABCD_1.ZIP");
    if have("zipnote") {
        // Member comments on an untouched and a changed member.
        sh(
            d.path(),
            "zipnote WE_00D5g000000ABCD_1.ZIP > notes && \
             sed -i '/^@ Account.csv$/a account export note' notes && \
             sed -i '/^@ Contact.csv$/a contact export note' notes && \
             zipnote -w WE_00D5g000000ABCD_1.ZIP < notes && rm notes",
        );
    }
    // Extra fields (Info-ZIP's UT and ux) and comments, per member.
    let extras = |dir: &Path| -> Vec<String> {
        let v = out(dir, "unzip -Zv WE_00D5g000000ABCD_1.ZIP");
        String::from_utf8_lossy(&v)
            .lines()
            .filter(|l| l.contains("subfield with ID") || l.contains("export note"))
            .map(str::to_string)
            .collect()
    };
    let extras_before = extras(d.path());
    let names_before = out(d.path(), "unzip -Z1 WE_00D5g000000ABCD_1.ZIP");
    let methods_before = out(
        d.path(),
        "unzip -v WE_00D5g000000ABCD_1.ZIP | awk 'NR>3{print $2, $8}'",
    );
    let m = mpath();
    let o = panscrub(&["scan", "-m", m.to_str().unwrap(), z.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let man = manifest(&m);
    let mut members: Vec<String> = kind(&man, "finding")
        .iter()
        .map(|f| f["member"].as_str().unwrap().to_string())
        .collect();
    members.sort();
    assert_eq!(
        members,
        vec![
            "Attachments/00P5g00000Att01",
            "Contact.csv",
            "inner.zip!Payment__c.csv",
            "stored.txt"
        ]
    );
    scrub_ok(&z);
    sh(d.path(), "unzip -tq WE_00D5g000000ABCD_1.ZIP");
    assert_eq!(
        out(d.path(), "unzip -Z1 WE_00D5g000000ABCD_1.ZIP"),
        names_before,
        "names and order kept"
    );
    assert_eq!(
        extras(d.path()),
        extras_before,
        "extra fields and member comments kept"
    );
    if have("zipnote") {
        assert_eq!(
            extras_before
                .iter()
                .filter(|l| l.contains("export note"))
                .count(),
            2
        );
    }
    let methods_after = out(
        d.path(),
        "unzip -v WE_00D5g000000ABCD_1.ZIP | awk 'NR>3{print $2, $8}'",
    );
    let strip = |b: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(b)
            .lines()
            .take_while(|l| !l.trim_start().starts_with("---"))
            .map(|l| l.split_whitespace().next().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(
        strip(&methods_after),
        strip(&methods_before),
        "compression methods kept"
    );
    assert_eq!(
        out(d.path(), "unzip -p WE_00D5g000000ABCD_1.ZIP Contact.csv"),
        masked(contact).as_bytes()
    );
    assert_eq!(
        out(d.path(), "unzip -p WE_00D5g000000ABCD_1.ZIP Account.csv"),
        account.as_bytes()
    );
    assert_eq!(
        out(
            d.path(),
            "unzip -p WE_00D5g000000ABCD_1.ZIP Attachments/00P5g00000Att01"
        ),
        masked(attachment).as_bytes()
    );
    assert_eq!(
        out(d.path(), "unzip -p WE_00D5g000000ABCD_1.ZIP stored.txt"),
        masked(stored).as_bytes()
    );
    assert_eq!(
        out(d.path(), "unzip -p WE_00D5g000000ABCD_1.ZIP Empty.csv"),
        b""
    );
    sh(
        d.path(),
        "mkdir x && cd x && unzip -q ../WE_00D5g000000ABCD_1.ZIP inner.zip && unzip -tq inner.zip",
    );
    assert_eq!(
        out(&d.path().join("x"), "unzip -p inner.zip Payment__c.csv"),
        masked(inner_csv).as_bytes()
    );
    assert_eq!(
        panscrub(&["scan", z.to_str().unwrap()]).status.code(),
        Some(0)
    );
    assert_no_pan("manifest", &fs::read(&m).unwrap());
}

#[test]
fn corrupt_truncated_and_bomb_inputs_are_errors_and_others_still_processed() {
    if !have("gzip") || !have("zip") {
        return;
    }
    let d = tmp();
    let p = d.path();
    write(
        &p.join("pans.txt"),
        "card 4111111111111111\n".repeat(2000).as_bytes(),
    );
    sh(p, "gzip -c pans.txt > good.gz && zip -q good.zip pans.txt");
    // Truncated gzip and zip, a corrupted gzip body, and a zip bomb-ish
    // member (1 GiB of zeros, ratio ~1000:1) under a tight ratio budget.
    let gz = fs::read(p.join("good.gz")).unwrap();
    write(&p.join("trunc.gz"), &gz[..gz.len() / 2]);
    let mut bad = gz.clone();
    for b in bad.iter_mut().skip(20).take(40) {
        *b ^= 0x55;
    }
    write(&p.join("corrupt.gz"), &bad);
    let zb = fs::read(p.join("good.zip")).unwrap();
    write(&p.join("trunc.zip"), &zb[..zb.len() - 30]);
    sh(
        p,
        "head -c 268435456 /dev/zero > zeros && gzip -c zeros > bomb.gz && rm zeros pans.txt",
    );
    for mode in ["scan", "scrub"] {
        let m = mpath();
        let o = panscrub(&[
            mode,
            "--max-ratio",
            "50",
            "-m",
            m.to_str().unwrap(),
            p.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{mode}");
        assert_no_pan("stderr", &o.stderr);
        assert_no_pan("stdout", &o.stdout);
        let man = manifest(&m);
        let status = |name: &str| {
            kind(&man, "file")
                .into_iter()
                .find(|f| f["path"].as_str().unwrap().ends_with(name))
                .map(|f| {
                    (
                        f["status"].as_str().unwrap().to_string(),
                        f["reason"].as_str().unwrap_or("").to_string(),
                    )
                })
                .unwrap()
        };
        for bad in ["trunc.gz", "corrupt.gz", "trunc.zip"] {
            assert_eq!(status(bad).0, "error", "{mode} {bad}");
        }
        let (st, why) = status("bomb.gz");
        assert_eq!(st, "error");
        assert!(why.contains("budget"), "{why}");
        let expect = if mode == "scan" {
            "reported"
        } else {
            "truncated"
        };
        assert_eq!(status("good.gz").0, expect, "{mode}");
        assert_eq!(status("good.zip").0, expect, "{mode}");
        assert_no_pan("manifest", &fs::read(&m).unwrap());
    }
    // The bad inputs were left exactly as they were.
    assert_eq!(fs::read(p.join("corrupt.gz")).unwrap(), bad);
    // No temp files.
    for e in fs::read_dir(p).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!n.starts_with(".panscrub-"), "{n}");
    }
}

#[test]
fn clean_archive_is_never_rewritten() {
    if !have("gzip") {
        return;
    }
    let d = tmp();
    write(&d.path().join("t"), b"nothing to see 1234\n");
    sh(d.path(), "gzip t");
    let p = d.path().join("t.gz");
    let before = fs::metadata(&p).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        panscrub(&["scrub", "-q", p.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    let after = fs::metadata(&p).unwrap();
    assert_eq!(
        (before.ino(), before.mtime(), before.ctime()),
        (after.ino(), after.mtime(), after.ctime())
    );
}

/// A SIGKILL during a rebuild leaves the original intact; the next run
/// removes the temp file and completes.
#[test]
fn sigkill_during_rebuild_leaves_original_and_rerun_completes() {
    if !have("gzip") {
        return;
    }
    let d = tmp();
    let mut text = Vec::new();
    while text.len() < 64 << 20 {
        text.extend_from_slice(
            b"2024-01-01 pay card=4111111111111111 amount=1.00 some padding text here\n",
        );
    }
    write(&d.path().join("big.log"), &text);
    sh(d.path(), "gzip -1 big.log");
    let p = d.path().join("big.log.gz");
    let original = fs::read(&p).unwrap();
    // Each kill leaves the original byte for byte (checked below by the
    // comparison) or the complete, valid result; a temp file may remain.
    for delay_ms in [150u64, 400, 800, 1500] {
        let mut child = Command::new(BIN)
            .args(["scrub", "-q", "-j", "1", p.to_str().unwrap()])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let now = fs::read(&p).unwrap();
        if now != original {
            // Killed after the rename: it must be the complete result.
            sh(d.path(), "gzip -t big.log.gz");
            break;
        }
    }
    let o = panscrub(&["scrub", "-q", d.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    sh(d.path(), "gzip -t big.log.gz");
    let names: Vec<String> = fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["big.log.gz".to_string()], "no temp file left");
    assert_eq!(
        panscrub(&["scan", "-q", p.to_str().unwrap()]).status.code(),
        Some(0)
    );
}

#[test]
fn xz_and_bzip2_are_scanned_and_rebuilt() {
    let d = tmp();
    let text = "a 4111111111111111 b\nc 378282246310005 d\n";
    let mut checked = 0;
    for (tool, ext) in [("xz", "xz"), ("bzip2", "bz2")] {
        if !have(tool) {
            continue;
        }
        write(&d.path().join(format!("t.{ext}.src")), text.as_bytes());
        sh(
            d.path(),
            &format!("{tool} -c t.{ext}.src > app.log.{ext} && rm t.{ext}.src"),
        );
        checked += 1;
    }
    let m = scrub_ok(d.path());
    assert_eq!(kind(&manifest(&m), "finding").len(), 2 * checked);
    for (tool, ext) in [("xz", "xz"), ("bzip2", "bz2")] {
        if have(tool) {
            sh(d.path(), &format!("{tool} -t app.log.{ext}"));
            assert_eq!(
                out(d.path(), &format!("{tool} -dc app.log.{ext}")),
                masked(text).as_bytes()
            );
        }
    }
}

/// Evidence tarballs: members reported by name (GNU long names too); an
/// uncompressed tar is masked in place without touching headers, a .tar.gz
/// is rebuilt; binary members stay report-only.
#[test]
fn tar_members_by_name_in_place_and_compressed() {
    if !have("tar") || !have("gzip") {
        return;
    }
    let d = tmp();
    let long = "d".repeat(120);
    let a = "log 4111111111111111 end\nline2 5555 5555 5555 4444\n";
    write(&d.path().join("src/a.log"), a.as_bytes());
    write(
        &d.path().join(format!("src/{long}/deep.txt")),
        b"deep 378282246310005\n",
    );
    write(
        &d.path().join("src/core.bin"),
        b"\x00\x01bin 6011111111111117\x00",
    );
    sh(
        d.path(),
        "tar cf ev.tar src && tar czf ev.tar.gz src && rm -r src",
    );
    let before = fs::read(d.path().join("ev.tar")).unwrap();
    let (o, m) = scrub_with_manifest(d.path());
    assert_eq!(o.status.code(), Some(1), "binary member left in place");
    let man = manifest(&m);
    let mut members: Vec<(String, String, u64)> = kind(&man, "finding")
        .iter()
        .filter(|f| f["path"].as_str().unwrap().ends_with("ev.tar"))
        .map(|f| {
            (
                f["member"].as_str().unwrap().to_string(),
                f["action"].as_str().unwrap().to_string(),
                f["offset"].as_u64().unwrap(),
            )
        })
        .collect();
    members.sort();
    assert_eq!(
        members,
        vec![
            ("src/a.log".to_string(), "truncated".to_string(), 4),
            ("src/a.log".to_string(), "truncated".to_string(), 31),
            ("src/core.bin".to_string(), "reported".to_string(), 6),
            (format!("src/{long}/deep.txt"), "truncated".to_string(), 5),
        ]
    );
    sh(
        d.path(),
        "tar tf ev.tar >/dev/null && tar tzf ev.tar.gz >/dev/null",
    );
    assert_eq!(
        out(d.path(), "tar xOf ev.tar src/a.log"),
        masked(a).as_bytes()
    );
    assert_eq!(
        out(d.path(), "tar xzOf ev.tar.gz src/a.log"),
        masked(a).as_bytes()
    );
    // In place: only the masked middle digits changed (6 + 6 + 5).
    let after = fs::read(d.path().join("ev.tar")).unwrap();
    assert_eq!(after.len(), before.len());
    assert_eq!(
        before.iter().zip(&after).filter(|(x, y)| x != y).count(),
        17
    );
}

/// Bare JSON numbers inside compressed files and zip members are masked
/// with digits too, so the decoded JSON still parses.
#[test]
fn json_numbers_inside_archives_stay_valid() {
    if !have("gzip") || !have("zip") {
        return;
    }
    let d = tmp();
    let line = "{\"card\": 4111111111111111, \"s\": \"5555555555554444\"}\n";
    write(&d.path().join("events.ndjson"), line.as_bytes());
    write(&d.path().join("m/records.json"), line.as_bytes());
    sh(
        d.path(),
        "cd m && zip -q ../export.zip records.json && cd .. && rm -r m && gzip events.ndjson",
    );
    let m = scrub_ok(d.path());
    // JSON paths inside the zip member and the gzip stream.
    let mut paths: Vec<(String, String)> = kind(&manifest(&m), "finding")
        .iter()
        .map(|r| {
            let p = r["path"].as_str().unwrap();
            let file = Path::new(p)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (file, r["json_path"].as_str().unwrap_or("none").to_string())
        })
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            ("events.ndjson.gz", "$.card"),
            ("events.ndjson.gz", "$.s"),
            ("export.zip", "$.card"),
            ("export.zip", "$.s")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    for cmd in [
        "gzip -dc events.ndjson.gz",
        "unzip -p export.zip records.json",
    ] {
        let got = String::from_utf8(out(d.path(), cmd)).unwrap();
        assert!(got.starts_with("{\"card\": 4111110000001"), "{cmd}: {got}");
        assert!(got.contains("\"555555******4444\""), "{cmd}: {got}");
        let v: Value = serde_json::from_str(got.trim()).expect("still JSON");
        assert!(v["card"].is_u64());
    }
}

/// Zip64 records (Info-ZIP `zip -fz`) and data descriptors (Python's
/// zipfile writing to an unseekable stream) are read and rebuilt; the
/// results pass `unzip -t` and decode to the masked originals.
#[test]
fn zip64_and_data_descriptor_archives() {
    if !have("zip") || !have("unzip") {
        return;
    }
    let d = tmp();
    let pay = "a,b\n1,\"card 4111111111111111\"\n";
    write(&d.path().join("Pay.csv"), pay.as_bytes());
    write(&d.path().join("note.txt"), b"nothing to see\n");
    sh(d.path(), "zip -q -fz z64.zip Pay.csv note.txt");
    let py = "import zipfile\n\
class Unseekable:\n    def __init__(self, f): self.f = f\n    def write(self, b): return self.f.write(b)\n    def flush(self): self.f.flush()\n\
with open('dd.zip', 'wb') as raw:\n    with zipfile.ZipFile(Unseekable(raw), 'w', zipfile.ZIP_DEFLATED) as z:\n        z.writestr('Pay.csv', open('Pay.csv').read())\n        z.writestr('note.txt', 'nothing to see\\n')\n";
    write(&d.path().join("mk.py"), py.as_bytes());
    sh(d.path(), "python3 mk.py && rm mk.py Pay.csv note.txt");
    // The fixtures really use what they are meant to test.
    let z64 = String::from_utf8(out(d.path(), "unzip -Zv z64.zip")).unwrap();
    assert!(z64.contains("0x0001"), "zip64 extra field present");
    let dd = String::from_utf8(out(d.path(), "unzip -Zv dd.zip")).unwrap();
    assert!(
        dd.contains("extended local header:                          yes"),
        "{dd}"
    );
    scrub_ok(d.path());
    for z in ["z64.zip", "dd.zip"] {
        sh(d.path(), &format!("unzip -tq {z}"));
        assert_eq!(
            out(d.path(), &format!("unzip -p {z} Pay.csv")),
            masked(pay).as_bytes(),
            "{z}"
        );
        assert_eq!(
            out(d.path(), &format!("unzip -p {z} note.txt")),
            b"nothing to see\n"
        );
    }
}

/// `.lz4` logs written by the `lz4` tool, one frame and two frames
/// concatenated (which the tool decodes whole): every PAN found, rebuilt,
/// `lz4 -t` passes and the decoded text is the original with masks; a CSV
/// compressed with lz4 gets its rows and fields.
#[test]
fn lz4_frames_are_scanned_and_rebuilt() {
    let d = tmp();
    let text = "x 4111111111111111 y\nz 5555 5555 5555 4444\n";
    write(&d.path().join("t"), text.as_bytes());
    write(
        &d.path().join("Contact.csv"),
        b"Id,Description\n003A,card 4111111111111111\n",
    );
    sh(
        d.path(),
        "lz4 -q t app.log.lz4 && cat app.log.lz4 app.log.lz4 > two.log.lz4 && rm t \
         && lz4 -q --rm Contact.csv Contact.csv.lz4",
    );
    let m = mpath();
    let o = panscrub(&[
        "scan",
        "-m",
        m.to_str().unwrap(),
        d.path().to_str().unwrap(),
    ]);
    assert_exit(&o, 1);
    let man = manifest(&m);
    let per_file = |name: &str| {
        kind(&man, "finding")
            .iter()
            .filter(|f| f["path"].as_str().unwrap().ends_with(name))
            .count()
    };
    assert_eq!(
        (per_file("/app.log.lz4"), per_file("/two.log.lz4")),
        (2, 4),
        "the second frame is read too"
    );
    let csv = kind(&man, "finding")
        .into_iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("Contact.csv.lz4"))
        .unwrap()
        .clone();
    assert_eq!(
        (csv["row"].as_u64(), csv["field"].as_str()),
        (Some(1), Some("Description"))
    );
    for f in kind(&man, "file") {
        assert_eq!(f["format"], "lz4");
    }
    let m = scrub_ok(d.path());
    assert_eq!(summary(&manifest(&m))["truncated"], 7);
    sh(d.path(), "lz4 -q -t app.log.lz4 && lz4 -q -t two.log.lz4");
    assert_eq!(
        out(d.path(), "lz4 -q -dc app.log.lz4"),
        masked(text).as_bytes()
    );
    assert_eq!(
        out(d.path(), "lz4 -q -dc two.log.lz4"),
        masked(&text.repeat(2)).as_bytes()
    );
}

/// Inputs panscrub cannot decode are no all-clear: 7z, rar, a `pg_dump
/// -Fc` archive with lz4 data and an lz4 legacy frame (by their magic bytes) are
/// skipped with a reason naming the format, counted as `undecoded` and
/// exit 2; an encrypted zip (made by `zip -P`) is said to be encrypted,
/// not corrupt.
#[test]
fn opaque_inputs_are_named_and_never_called_clean() {
    let d = tmp();
    let t = d.path().join("t");
    for (name, head) in [
        (
            "backup.7z",
            &b"7z\xbc\xaf\x27\x1c\x00\x04 4111111111111111"[..],
        ),
        ("logs.rar", &b"Rar!\x1a\x07\x01\x00 4111111111111111"[..]),
        // PostgreSQL 16 and later may compress with lz4 or zstd.
        ("crm.dump", &b"PGDMP\x01\x0f\x00\x04\x08\x01\x02"[..]),
        ("old.lz4", &b"\x02\x21\x4c\x18\x10\x00\x00\x00"[..]),
    ] {
        write(&t.join(name), head);
    }
    write(&t.join("a.txt"), b"card 4111111111111111\n");
    sh(&t, "zip -q -P secret enc.zip a.txt && rm a.txt");
    let m = mpath();
    let o = panscrub(&["scan", "-m", m.to_str().unwrap(), t.to_str().unwrap()]);
    assert_exit(&o, 2);
    let man = manifest(&m);
    let mut reasons: Vec<(String, String)> = kind(&man, "file")
        .iter()
        .map(|f| {
            (
                f["status"].as_str().unwrap().to_string(),
                f["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        vec![
            (
                "error".into(),
                "encrypted: a zip member cannot be read without the password; not scanned".into()
            ),
            ("skipped".into(), "7z archive: not decoded".into()),
            ("skipped".into(), "lz4 legacy frame: not decoded".into()),
            (
                "skipped".into(),
                "pg_dump archive with lz4-compressed data: not decoded".into()
            ),
            ("skipped".into(), "rar archive: not decoded".into()),
        ]
    );
    let s = summary(&man);
    assert_eq!(
        (
            s["skipped"].as_u64(),
            s["undecoded"].as_u64(),
            s["errors"].as_u64()
        ),
        (Some(4), Some(4), Some(1))
    );
}

/// A Salesforce export whose `Payment__c.csv` has more card rows than a run
/// keeps in memory (lowered to 65,536 by the test hook; by default the
/// bound is memory, about 120,000 findings): the zip is scanned again for
/// its rebuild and its records, and each finding still carries its row,
/// field and record Id (the CSV member is read a second time alongside
/// each scan), a `.csv.gz` beside it too; every card is masked and nothing
/// else changed.
#[test]
fn archives_with_more_findings_than_are_held_keep_their_locations() {
    let d = tmp();
    let p = d.path();
    let rows = 70_000;
    let mut csv = String::from("Id,Name,Card__c\n");
    for i in 0..rows {
        csv.push_str(&format!("a{i:07},\"Smith, J\",4111111111111111\n"));
    }
    write(&p.join("src/Payment__c.csv"), csv.as_bytes());
    sh(
        p,
        "cd src && zip -q ../export.zip Payment__c.csv && gzip -c Payment__c.csv > ../Payment__c.csv.gz",
    );
    for target in ["export.zip", "Payment__c.csv.gz"] {
        let m = mpath();
        let o = Command::new(BIN)
            .env("PANSCRUB_TEST_HELD_FINDINGS", "65536")
            .args(["scrub", "-q", "-m"])
            .arg(&m)
            .arg(p.join(target))
            .output()
            .unwrap();
        assert_exit(&o, 0);
        let recs = manifest(&m);
        let found = kind(&recs, "finding");
        assert_eq!(found.len(), rows, "{target}");
        for (k, f) in found.iter().enumerate() {
            assert_eq!(f["action"], "truncated", "{target}");
            assert_eq!(f["row"], k as u64 + 1, "{target}");
            assert_eq!(f["field"], "Card__c", "{target}");
            assert_eq!(f["record_id"], format!("a{k:07}"), "{target}");
        }
    }
    let want = csv.replace("4111111111111111", "411111******1111");
    let zipped = out(p, "unzip -p export.zip Payment__c.csv");
    assert_eq!(String::from_utf8_lossy(&zipped), want);
    let gz = out(p, "gzip -dc Payment__c.csv.gz");
    assert_eq!(String::from_utf8_lossy(&gz), want);
}

#[test]
fn members_held_in_memory_are_bounded_and_streams_inside_zips_are_not_held() {
    let d = tmp();
    let p = d.path();
    let filler = "x".repeat(200);
    let mut csv = String::from("Id,Card\n");
    for i in 0..40 {
        csv.push_str(&format!("a{i:02},{filler}\n"));
    }
    csv.push_str("a99,4111111111111111\n");
    write(&p.join("src/Payment__c.csv"), csv.as_bytes());
    write(&p.join("src/app.log"), b"charged 6011111111111117 ok\n");
    sh(
        p,
        "cd src && zip -q -0 inner.zip Payment__c.csv && gzip -k app.log && \
         zip -q -0 ../outer.zip inner.zip app.log.gz && rm inner.zip app.log.gz && cd .. && \
         tar czf ev.tar.gz -C src Payment__c.csv",
    );
    let held = |args: &[&str], file: &str| -> (i32, Vec<Value>) {
        let m = mpath();
        let mut all = vec!["scan", "-m", m.to_str().unwrap()];
        all.extend_from_slice(args);
        let target = p.join(file);
        all.push(target.to_str().unwrap());
        let o = panscrub(&all);
        (o.status.code().unwrap(), manifest(&m))
    };

    // A zip inside a zip larger than the bound is an error naming it.
    let (code, man) = held(&["--max-held", "2K"], "outer.zip");
    assert_eq!(code, 2);
    let file = kind(&man, "file")[0];
    assert_eq!(file["status"], "error");
    assert!(
        file["reason"].as_str().unwrap().contains("--max-held"),
        "{file}"
    );

    // A CSV member of a tar stream larger than the bound is still scanned,
    // without row locations.
    let (code, man) = held(&["--max-held", "2K"], "ev.tar.gz");
    assert_eq!(code, 1);
    let f = kind(&man, "finding");
    assert_eq!(f.len(), 1);
    assert!(f[0].get("row").is_none() && f[0].get("record_id").is_none());
    let (_, man) = held(&[], "ev.tar.gz");
    assert_eq!(kind(&man, "finding")[0]["record_id"], "a99");

    // Within the default bound both are read; the gzip member inside the
    // zip is rebuilt as it streams and stays a valid gzip.
    let (code, man) = held(&[], "outer.zip");
    assert_eq!(code, 1);
    assert_eq!(kind(&man, "finding").len(), 2);
    scrub_ok(&p.join("outer.zip"));
    let log = out(p, "unzip -p outer.zip app.log.gz | gzip -dc");
    assert_eq!(log, b"charged 601111******1117 ok\n");
    let inner = out(
        p,
        "unzip -p outer.zip inner.zip > i.zip && unzip -p i.zip Payment__c.csv",
    );
    assert_eq!(String::from_utf8_lossy(&inner), masked(&csv));
}
