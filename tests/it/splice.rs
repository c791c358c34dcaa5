//! Scrubbing gzip by deflate-block surgery: files the system's gzip wrote
//! (every level, several members, a stored name) are scrubbed with the
//! splice required (`PANSCRUB_TEST_REQUIRE_SPLICE`, a test build's hook
//! that turns a fallback into an error), so these prove the fast path was
//! taken. The result passes `gzip -t`, decodes to exactly what a scrub of
//! the plain file gives, keeps each member's header, and is at most 1%
//! larger. A file the splice refuses (an extra field) is still scrubbed
//! through the general rebuild.

use std::process::Command;

use super::*;

/// About 2 MB of log lines with a test card every ~10 KB.
fn log_text() -> String {
    let mut s = String::new();
    let mut i = 0u64;
    while s.len() < 2_000_000 {
        let id = i.wrapping_mul(2_654_435_761) % 1_000_003;
        if i % 200 == 17 {
            let pan =
                ["4111111111111111", "5555 5555 5555 4444", "378282246310005"][(i % 3) as usize];
            s.push_str(&format!("{i} POST /pay order={id} card={pan} 200\n"));
        } else {
            s.push_str(&format!("{i} GET /api/orders/{id} 200 {} ms\n", i % 997));
        }
        i += 1;
    }
    s
}

fn scrub_requiring_splice(dir: &Path, manifest: &Path) -> Output {
    Command::new(BIN)
        .args(["scrub", "-q", "--manifest"])
        .arg(manifest)
        .arg(dir)
        .env("PANSCRUB_TEST_REQUIRE_SPLICE", "1")
        .output()
        .unwrap()
}

/// The scrub of the plain text, for comparison.
fn scrubbed_plain(d: &Path, text: &str) -> Vec<u8> {
    let plain = d.join("plain");
    write(&plain.join("app.log"), text.as_bytes());
    scrub_ok(&plain);
    fs::read(plain.join("app.log")).unwrap()
}

#[test]
fn system_gzip_at_every_level_is_spliced_to_the_plain_scrub() {
    let text = log_text();
    let d = tmp();
    let want = scrubbed_plain(d.path(), &text);
    let tree = d.path().join("gz");
    write(&tree.join("app.log"), text.as_bytes());
    for level in [1, 3, 6, 9] {
        sh_output(
            &tree,
            &format!("gzip -{level} -c app.log > app-{level}.log.gz"),
        );
    }
    // Two members, as `cat` of two rotations gives.
    sh_output(
        &tree,
        "head -c 700000 app.log | gzip -9 > a && tail -c +700001 app.log | gzip -1 > b && cat a b > two.log.gz && rm a b",
    );
    // A stored name (gzip keeps it when compressing a file in place).
    sh_output(&tree, "cp app.log named.log && gzip -6 named.log");
    fs::remove_file(tree.join("app.log")).unwrap();
    let originals: Vec<(String, Vec<u8>)> = fs::read_dir(&tree)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                fs::read(&p).unwrap(),
            )
        })
        .collect();
    let m = d.path().join("m.jsonl");
    let o = scrub_requiring_splice(&tree, &m);
    assert_exit(&o, 0); // every finding truncated
    assert_no_pan("stderr", &o.stderr);
    let manifest = manifest(&m);
    assert_eq!(
        summary(&manifest)["errors"],
        0,
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for (name, before) in originals {
        let path = tree.join(&name);
        sh_output(&tree, &format!("gzip -t {name}"));
        let decoded = sh_output(&tree, &format!("gzip -dc {name}"));
        assert!(decoded == want, "{name} does not decode to the plain scrub");
        let after = fs::read(&path).unwrap();
        assert!(
            after.len() as f64 <= before.len() as f64 * 1.01,
            "{name}: {} -> {} bytes",
            before.len(),
            after.len()
        );
        // The member header is the original's (flags, time, OS, name).
        let head = if name == "named.log.gz" {
            10 + b"named.log\0".len()
        } else {
            10
        };
        assert_eq!(after[..head], before[..head], "{name}: header changed");
    }
}

#[test]
fn a_member_with_an_extra_field_falls_back_to_the_general_rebuild() {
    use std::io::Write;
    let text = log_text();
    let d = tmp();
    let want = scrubbed_plain(d.path(), &text);
    let tree = d.path().join("gz");
    let mut e = flate2::GzBuilder::new()
        .extra(b"BC\x02\x00\x00\x00".to_vec())
        .write(Vec::new(), flate2::Compression::default());
    e.write_all(text.as_bytes()).unwrap();
    write(&tree.join("bgzf-like.log.gz"), &e.finish().unwrap());
    // Required, the splice refuses it and says why (a verification error).
    let m = d.path().join("refused.jsonl");
    let o = scrub_requiring_splice(&tree, &m);
    assert_exit(&o, 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("extra field"));
    assert_no_pan("stderr", &o.stderr);
    // Left to the run, it is rebuilt the general way.
    scrub_ok(&tree);
    let decoded = sh_output(&tree, "gzip -dc bgzf-like.log.gz");
    assert!(decoded == want);
}

#[test]
fn a_splice_that_fails_verification_is_rebuilt_by_recompression() {
    let text = log_text();
    let d = tmp();
    let want = scrubbed_plain(d.path(), &text);
    let tree = d.path().join("gz");
    write(&tree.join("app.log"), text.as_bytes());
    sh_output(&tree, "gzip -6 app.log");
    let original = fs::read(tree.join("app.log.gz")).unwrap();
    // The spliced file is damaged before verification (a faulty encoder):
    // with the splice required, the scrub fails and the original stays.
    let run = |envs: &[(&str, &str)], m: &str| {
        let mut c = Command::new(BIN);
        c.args(["scrub", "-q", "--manifest"])
            .arg(d.path().join(m))
            .arg(&tree);
        for (k, v) in envs {
            c.env(k, v);
        }
        c.output().unwrap()
    };
    let o = run(
        &[
            ("PANSCRUB_TEST_CORRUPT_SPLICE", "1"),
            ("PANSCRUB_TEST_REQUIRE_SPLICE", "1"),
        ],
        "a.jsonl",
    );
    assert_exit(&o, 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("verification failed"));
    assert_eq!(fs::read(tree.join("app.log.gz")).unwrap(), original);
    // Otherwise the general rebuild takes over and the scrub succeeds.
    let o = run(&[("PANSCRUB_TEST_CORRUPT_SPLICE", "1")], "b.jsonl");
    assert_exit(&o, 0);
    let decoded = sh_output(&tree, "gzip -dc app.log.gz");
    assert!(decoded == want);
    // The hash of the damaged splice is not the one reported.
    let m = manifest(&d.path().join("b.jsonl"));
    let file = kind(&m, "file")[0];
    assert_eq!(file["sha256_before"], sha_hex(&original));
    let after = fs::read(tree.join("app.log.gz")).unwrap();
    assert_eq!(file["sha256_after"], sha_hex(&after));
    assert_no_pan("stderr", &o.stderr);
}

/// `scrub --allow allow.txt` of `tree` (the log's three cards allowed),
/// the splice required.
fn scrub_allowing(d: &Path, tree: &Path, m: &str) -> Output {
    let allow = d.join("allow.txt");
    write(
        &allow,
        b"4111111111111111\n5555555555554444\n378282246310005\n",
    );
    Command::new(BIN)
        .args(["scrub", "-q", "--allow"])
        .arg(&allow)
        .arg("--manifest")
        .arg(d.join(m))
        .arg(tree)
        .env("PANSCRUB_TEST_REQUIRE_SPLICE", "1")
        .output()
        .unwrap()
}

/// The splice starts at a gzip's first finding to mask, while its scan is
/// still running: a file whose findings are all allowed is left as it was
/// (same inode, bytes and time; no temp file made), and one whose only
/// card to mask comes after 2 MB of allowed ones is spliced to exactly the
/// plain scrub.
#[test]
fn a_gzip_is_rewritten_only_from_a_card_to_mask_on() {
    use std::os::unix::fs::MetadataExt;
    let d = tmp();
    let tree = d.path().join("gz");
    write(&tree.join("app.log"), log_text().as_bytes());
    sh_output(&tree, "gzip -6 app.log");
    let gz = tree.join("app.log.gz");
    let (before, md) = (fs::read(&gz).unwrap(), fs::metadata(&gz).unwrap());
    let o = scrub_allowing(d.path(), &tree, "all-allowed.jsonl");
    assert_exit(&o, 0);
    let after = fs::metadata(&gz).unwrap();
    assert_eq!((after.ino(), after.mtime()), (md.ino(), md.mtime()));
    assert!(fs::read(&gz).unwrap() == before);
    assert_eq!(tree_files(&tree), ["app.log.gz"]);
    let m = manifest(&d.path().join("all-allowed.jsonl"));
    let cards = summary(&m)["findings"].as_u64().unwrap();
    assert!(cards > 100);
    assert_eq!(summary(&m)["allowed"], cards);
    assert_eq!(summary(&m)["truncated"], 0);

    // One card to mask, at the very end.
    let mut text = log_text();
    text.push_str("last POST /pay card=4012888888881881 200\n");
    let plain = d.path().join("plain");
    write(&plain.join("app.log"), text.as_bytes());
    assert_exit(&scrub_allowing(d.path(), &plain, "plain.jsonl"), 0);
    fs::remove_file(&gz).unwrap();
    write(&tree.join("app.log"), text.as_bytes());
    sh_output(&tree, "gzip -6 app.log");
    let before = fs::read(&gz).unwrap();
    let o = scrub_allowing(d.path(), &tree, "late.jsonl");
    assert_exit(&o, 0);
    assert_no_pan("stderr", &o.stderr);
    assert!(sh_output(&tree, "gzip -dc app.log.gz") == fs::read(plain.join("app.log")).unwrap());
    assert_eq!(tree_files(&tree), ["app.log.gz"]);
    let m = manifest(&d.path().join("late.jsonl"));
    // Hashed on the way (the original by position during the splice, the
    // result as its re-scan read it): the same as reading the files.
    let file = kind(&m, "file")[0];
    assert_eq!(file["sha256_before"], sha_hex(&before));
    assert_eq!(file["sha256_after"], sha_hex(&fs::read(&gz).unwrap()));
    assert_eq!(summary(&m)["truncated"], 1);
    assert_eq!(summary(&m)["allowed"], cards);
}

/// A gzip cut short after its first cards: the splice has begun when the
/// scan meets the damage. The file is an error, left exactly as it was,
/// with no temp file beside it and no card in what is printed.
#[test]
fn a_truncated_gzip_met_while_splicing_is_left_as_it_was() {
    let d = tmp();
    let tree = d.path().join("gz");
    write(&tree.join("app.log"), log_text().as_bytes());
    sh_output(
        &tree,
        "gzip -6 -c app.log | head -c 300000 > cut.log.gz && rm app.log",
    );
    let before = fs::read(tree.join("cut.log.gz")).unwrap();
    let m = d.path().join("m.jsonl");
    let o = scrub_requiring_splice(&tree, &m);
    assert_exit(&o, 2);
    assert_no_pan("stderr", &o.stderr);
    assert_no_pan("manifest", &fs::read(&m).unwrap());
    assert!(fs::read(tree.join("cut.log.gz")).unwrap() == before);
    assert_eq!(tree_files(&tree), ["cut.log.gz"]);
    assert_eq!(summary(&manifest(&m))["errors"], 1);
}
