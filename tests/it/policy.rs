//! Allowlists, fingerprints and shards, as an operator uses them.

use super::*;

#[test]
fn allowlist_leaves_pans_alone_without_changing_exit_codes() {
    let d = tmp();
    let p = d.path().join("a.log");
    write(
        &p,
        b"test 4111111111111111 real 5105105105105100 bin 6011111111111117\n",
    );
    let allow = d.path().join("allow.txt");
    write(
        &allow,
        b"# known test card\n4111 1111 1111 1111\n601111  # a BIN prefix\n",
    );
    let m = mpath();
    let o = panscrub(&[
        "scrub",
        "-q",
        "--allow",
        allow.to_str().unwrap(),
        "-m",
        m.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        fs::read(&p).unwrap(),
        b"test 4111111111111111 real 510510******5100 bin 6011111111111117\n"
    );
    let man = manifest(&m);
    let actions: Vec<&str> = kind(&man, "finding")
        .iter()
        .map(|f| f["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["allowed", "truncated", "allowed"]);
    assert_eq!(kind(&man, "summary")[0]["allowed"], 2);
    // A scan that only finds allowed PANs exits 0.
    let o = panscrub(&[
        "scan",
        "--allow",
        allow.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert_no_pan("stdout", &o.stdout);
    // The built-in list of public test cards.
    write(&p, b"4111111111111111 5555555555554444\n");
    assert_eq!(
        panscrub(&["scan", "-q", "--allow-test-cards", p.to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        panscrub(&["scan", "-q", p.to_str().unwrap()]).status.code(),
        Some(1)
    );
    // A bad allowlist is a usage error that does not echo its content.
    write(&allow, b"4111 1111 1111 1111 9999 oops\n");
    let o = panscrub(&[
        "scan",
        "--allow",
        allow.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_no_pan("stderr", &o.stderr);
}

#[test]
fn allowed_pans_stay_in_rebuilt_archives() {
    if Command::new("gzip").arg("--version").output().is_err() {
        return;
    }
    let d = tmp();
    write(
        &d.path().join("t"),
        b"a 4111111111111111 b 5105105105105100\n",
    );
    let st = Command::new("gzip")
        .arg(d.path().join("t"))
        .status()
        .unwrap();
    assert!(st.success());
    let o = panscrub(&[
        "scrub",
        "-q",
        "--allow-test-cards",
        d.path().to_str().unwrap(),
    ]);
    // 5105… is also a public test card: both allowed, nothing rewritten.
    assert_eq!(o.status.code(), Some(0));
    let allow = d.path().join("allow.txt");
    write(&allow, b"4111111111111111\n");
    let o = panscrub(&[
        "scrub",
        "-q",
        "--allow",
        allow.to_str().unwrap(),
        d.path().join("t.gz").to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = Command::new("gzip")
        .arg("-dc")
        .arg(d.path().join("t.gz"))
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"a 4111111111111111 b 510510******5100\n");
}

#[test]
fn fingerprints_stable_per_key_and_absent_without_key() {
    let d = tmp();
    write(&d.path().join("a.log"), b"x 4111111111111111\n");
    write(
        &d.path().join("b.log"),
        b"y 4111 1111 1111 1111 z 5555555555554444\n",
    );
    let k1 = d.path().join("k1");
    let k2 = d.path().join("k2");
    write(&k1, b"a secret key of some length 1");
    write(&k2, b"a secret key of some length 2");
    let run = |key: Option<&Path>| {
        let m = mpath();
        let mut args = vec!["scan", "--sort", "-m", m.to_str().unwrap()];
        if let Some(k) = key {
            args.push("--fingerprint-key");
            args.push(k.to_str().unwrap());
        }
        args.push(d.path().to_str().unwrap());
        panscrub(&args);
        let raw = fs::read(&m).unwrap();
        assert_no_pan("manifest", &raw);
        kind(&manifest(&m), "finding")
            .iter()
            .map(|f| {
                f.get("fingerprint")
                    .and_then(|v| v.as_str())
                    .map(str::to_string)
            })
            .collect::<Vec<_>>()
    };
    let a = run(Some(&k1));
    assert_eq!(a.len(), 3);
    assert_eq!(a[0], a[1], "the same card in two files and two spellings");
    assert_ne!(a[1], a[2]);
    assert_eq!(run(Some(&k1)), a, "stable for the same key");
    assert_ne!(run(Some(&k2))[0], a[0], "different across keys");
    assert!(
        run(None).iter().all(Option::is_none),
        "absent without a key"
    );
}

#[test]
fn four_shards_cover_the_tree_exactly_once() {
    let d = tmp();
    let root = d.path().join("tree");
    for i in 0..60 {
        let body = if i % 3 == 0 {
            format!("n{i} card 4111111111111111\n")
        } else {
            format!("n{i} nothing\n")
        };
        write(&root.join(format!("d{}/f{i}.log", i % 5)), body.as_bytes());
    }
    let files_of = |m: &Path| -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = kind(&manifest(m), "file")
            .iter()
            .map(|f| {
                (
                    f["path"].as_str().unwrap().to_string(),
                    f["findings"].as_u64().unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let single = d.path().join("all.jsonl");
    panscrub(&[
        "scan",
        "-q",
        "-m",
        single.to_str().unwrap(),
        root.to_str().unwrap(),
    ]);
    let mut union = Vec::new();
    let mut sizes = Vec::new();
    for k in 0..4 {
        let m = d.path().join(format!("s{k}.jsonl"));
        let shard = format!("{k}/4");
        panscrub(&[
            "scan",
            "-q",
            "--shard",
            &shard,
            "-m",
            m.to_str().unwrap(),
            root.to_str().unwrap(),
        ]);
        let part = files_of(&m);
        sizes.push(part.len());
        union.extend(part);
    }
    union.sort();
    let all = files_of(&single);
    assert_eq!(all.len(), 60);
    assert_eq!(union, all, "union of shards equals one run, no overlap");
    assert!(sizes.iter().all(|&n| n > 0 && n < 60), "{sizes:?}");
    assert_eq!(
        panscrub(&["scan", "--shard", "4/4", "."]).status.code(),
        Some(2)
    );
}

/// The settings file: found as ./panscrub.toml or named with --config;
/// flags override it; unknown keys and bad globs are usage errors naming
/// the problem; path and CSV-column allowlists.
#[test]
fn settings_file_parsing_overrides_and_allowlists() {
    let d = tmp();
    let data = d.path().join("data");
    write(&data.join("a.log"), b"x 4111111111111111\n");
    write(&data.join("fixtures/f.log"), b"x 5555555555554444\n");
    write(
        &data.join("Test.csv"),
        b"Id,TestCard,Note\n001,378282246310005,card 6011111111111117\n",
    );
    write(&d.path().join("panscrub.toml"), b"keep = \"0+4\"\nmask_char = \"#\"\n[allow]\npaths = [\"**/fixtures/**\"]\ncsv_fields = [\"TestCard\"]\n");
    let m = mpath();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .current_dir(d.path())
            .args(args)
            .output()
            .unwrap()
    };
    let o = run(&["scrub", "-q", "-m", m.to_str().unwrap(), "data"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        fs::read(data.join("a.log")).unwrap(),
        b"x ############1111\n",
        "keep and mask from the file"
    );
    assert_eq!(
        fs::read(data.join("fixtures/f.log")).unwrap(),
        b"x 5555555555554444\n",
        "allowed path"
    );
    assert_eq!(
        fs::read(data.join("Test.csv")).unwrap(),
        b"Id,TestCard,Note\n001,378282246310005,card ############1117\n",
        "allowed CSV column, others masked"
    );
    let actions: Vec<String> = kind(&manifest(&m), "finding")
        .iter()
        .map(|f| f["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actions.iter().filter(|a| *a == "allowed").count(), 2);
    // Flags override the file.
    write(&data.join("b.log"), b"y 4111111111111111\n");
    let o = run(&[
        "scrub",
        "-q",
        "--keep",
        "6+4",
        "--mask-char",
        "*",
        "data/b.log",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        fs::read(data.join("b.log")).unwrap(),
        b"y 411111******1111\n"
    );
    // A named file; unknown keys and bad globs are errors that say which.
    let bad = d.path().join("bad.toml");
    write(&bad, b"kep = \"6+4\"\n");
    let o = run(&["scan", "--config", bad.to_str().unwrap(), "data"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("kep"));
    // A parse error quotes the bad line: the PAN in it must be masked.
    write(&bad, b"[allow]\npans = [4111111111111111]\n");
    let o = run(&["scan", "--config", bad.to_str().unwrap(), "data"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("411111******1111"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_no_pan("stderr", &o.stderr);
    write(&bad, b"include = [\"[\"]\n");
    let o = run(&["scan", "--config", bad.to_str().unwrap(), "data"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("glob"));
}

/// `report` and `merge` over the manifests of 2 shards, one interrupted.
#[test]
fn report_and_merge_manifests() {
    let d = tmp();
    copy_tree(&testdata(), &d.path().join("t"));
    let mut ms = Vec::new();
    for k in 0..2 {
        let m = d.path().join(format!("s{k}.jsonl"));
        let shard = format!("{k}/2");
        panscrub(&[
            "scan",
            "-q",
            "--shard",
            &shard,
            "-m",
            m.to_str().unwrap(),
            d.path().join("t").to_str().unwrap(),
        ]);
        ms.push(m);
    }
    // Interrupt the second: drop its summary and cut its last line.
    let text = fs::read_to_string(&ms[1]).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.pop();
    let mut cut = lines.join("\n");
    cut.push_str("\n{\"kind\":\"fin");
    fs::write(&ms[1], cut).unwrap();
    let args: Vec<&str> = ms.iter().map(|p| p.to_str().unwrap()).collect();
    let o = panscrub(&[&["report"][..], &args].concat());
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(
        out.starts_with("2 run(s), 1 complete (some runs were interrupted"),
        "{out}"
    );
    for needle in ["By brand", "visa", "Top files", "object Contact"] {
        assert!(out.contains(needle), "{needle} in {out}");
    }
    assert_no_pan("report", out.as_bytes());
    let o = panscrub(&[&["report", "--format", "json"][..], &args].concat());
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["runs"], 2);
    assert_eq!(v["unreadable_lines"], 1);
    let o = panscrub(&[&["report", "--format", "csv"][..], &args].concat());
    let csv_text = String::from_utf8(o.stdout).unwrap();
    assert!(csv_text.starts_with("path,member,type,offset"));
    assert!(csv_text
        .lines()
        .next()
        .unwrap()
        .contains(",json_path,masked_as,"));
    assert_eq!(
        csv_text.lines().count() as u64,
        1 + v["findings"].as_u64().unwrap()
    );
    // Merge the complete runs: totals add up.
    let whole = d.path().join("whole.jsonl");
    panscrub(&[
        "scan",
        "-q",
        "-m",
        whole.to_str().unwrap(),
        d.path().join("t").to_str().unwrap(),
    ]);
    for k in 0..2 {
        let m = d.path().join(format!("s{k}.jsonl"));
        panscrub(&[
            "scan",
            "-q",
            "--force",
            "--shard",
            &format!("{k}/2"),
            "-m",
            m.to_str().unwrap(),
            d.path().join("t").to_str().unwrap(),
        ]);
    }
    let merged = d.path().join("merged.jsonl");
    let o = panscrub(&[&["merge", "-o", merged.to_str().unwrap()][..], &args].concat());
    assert_eq!(o.status.code(), Some(0));
    let a = kind(&manifest(&merged), "summary")[0].clone();
    let b = kind(&manifest(&whole), "summary")[0].clone();
    for k in ["files", "findings", "bytes", "by_brand", "exit_code"] {
        assert_eq!(a[k], b[k], "{k}");
    }
}

#[test]
fn completions_and_man_page_generate() {
    for shell in ["bash", "zsh", "fish"] {
        let o = panscrub(&["completions", shell]);
        assert_eq!(o.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&o.stdout).contains("scrub"));
    }
    let o = panscrub(&["man"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains(".TH panscrub"));
}

/// The report of a scan of `testdata/`, compared with a snapshot.
#[test]
fn report_snapshot_of_testdata() {
    let d = tmp();
    copy_tree(&testdata(), &d.path().join("testdata"));
    let run = |args: &[&str]| {
        Command::new(BIN)
            .current_dir(d.path())
            .args(args)
            .output()
            .unwrap()
    };
    let m = mpath();
    run(&[
        "scan",
        "-q",
        "--sort",
        "-m",
        m.to_str().unwrap(),
        "testdata",
    ]);
    let o = run(&["report", m.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0));
    // The run context line carries the start time and version: redacted.
    let got: String = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            if !l.starts_with("  panscrub ") {
                return format!("{l}\n");
            }
            let words: Vec<&str> = l.split(' ').collect();
            let redacted: Vec<&str> = words
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    if i == 3 {
                        "[version]"
                    } else if w.len() == 20 && w.ends_with('Z') && w.contains('T') {
                        "[started]"
                    } else {
                        w
                    }
                })
                .collect();
            format!("{}\n", redacted.join(" "))
        })
        .collect();
    insta::assert_snapshot!("testdata_report", got);
}

/// The settings example in the README parses (it is the documentation).
#[test]
fn readme_settings_example_parses() {
    let readme =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme
        .find("```toml\n")
        .expect("a toml block in the README")
        + 8;
    let end = start + readme[start..].find("```").unwrap();
    panscrub::settings::Settings::parse(&readme[start..end])
        .expect("README settings example parses");
}
