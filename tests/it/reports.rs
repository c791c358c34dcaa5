//! `report` and `merge` give exact answers: each run counted once, a
//! merge reported as complete, anything that is not a manifest refused,
//! unreadable lines said in every format; and the HTML evidence report,
//! loaded in a real headless Chromium.

use super::*;

/// Scans `testdata/` as shards `0/n .. n-1/n` into separate manifests.
fn shard_manifests(d: &Path, n: usize) -> Vec<PathBuf> {
    let t = d.join("t");
    copy_tree(&testdata(), &t);
    (0..n)
        .map(|k| {
            let m = d.join(format!("s{k}.jsonl"));
            let shard = format!("{k}/{n}");
            let o = panscrub(&[
                "scan",
                "-q",
                "--shard",
                &shard,
                "-m",
                m.to_str().unwrap(),
                t.to_str().unwrap(),
            ]);
            assert!(
                o.status.code().unwrap() < 2,
                "{}",
                String::from_utf8_lossy(&o.stderr)
            );
            m
        })
        .collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn the_same_run_twice_is_refused_by_merge_and_report() {
    let d = tmp();
    let ms = shard_manifests(d.path(), 2);
    let merged = d.path().join("merged.jsonl");
    let o = panscrub(&["merge", "-o", s(&merged), s(&ms[0]), s(&ms[0])]);
    assert_exit(&o, 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("each run may be given once"));
    assert!(!merged.exists(), "nothing written");
    assert_exit(&panscrub(&["report", s(&ms[0]), s(&ms[0])]), 2);
    // A merge already holds its shards: merging or reporting it with one
    // of them again is the same mistake.
    assert_exit(
        &panscrub(&["merge", "-o", s(&merged), s(&ms[0]), s(&ms[1])]),
        0,
    );
    assert_exit(&panscrub(&["report", s(&merged), s(&ms[1])]), 2);
    let again = d.path().join("again.jsonl");
    assert_exit(
        &panscrub(&["merge", "-o", s(&again), s(&merged), s(&ms[0])]),
        2,
    );
    // The merge's own output is never one of its inputs.
    let o = panscrub(&["merge", "--force", "-o", s(&ms[0]), s(&ms[0]), s(&ms[1])]);
    assert_exit(&o, 2);
}

#[test]
fn a_merged_manifest_reports_complete_runs_and_exact_totals() {
    let d = tmp();
    let ms = shard_manifests(d.path(), 3);
    let whole = mpath();
    panscrub(&["scan", "-q", "-m", s(&whole), s(&d.path().join("t"))]);
    let merged = d.path().join("merged.jsonl");
    assert_exit(
        &panscrub(&["merge", "-o", s(&merged), s(&ms[0]), s(&ms[1]), s(&ms[2])]),
        0,
    );
    let o = panscrub(&["report", s(&merged)]);
    assert_exit(&o, 0);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.starts_with("3 run(s), 3 complete\n"), "{text}");
    assert!(!text.contains("interrupted"), "{text}");
    // Merging a merge with nothing new changes nothing.
    let twice = d.path().join("twice.jsonl");
    assert_exit(&panscrub(&["merge", "-o", s(&twice), s(&merged)]), 0);
    for m in [&merged, &twice] {
        let a = summary(&manifest(m)).clone();
        let b = summary(&manifest(&whole)).clone();
        for k in [
            "files",
            "findings",
            "reported",
            "bytes",
            "by_brand",
            "by_type",
            "exit_code",
        ] {
            assert_eq!(a[k], b[k], "{k} in {}", m.display());
        }
        assert_eq!(a["complete_runs"], 3);
    }
    // Each run's findings follow its own run line.
    let lines = manifest(&merged);
    assert_eq!(kind(&lines, "run").len(), 3);
    assert_eq!(lines[0]["kind"], "run");
}

#[test]
fn an_interrupted_shard_is_counted_from_its_records_once() {
    let d = tmp();
    let ms = shard_manifests(d.path(), 2);
    // Cut the second shard's summary off, as a kill would.
    let text = fs::read_to_string(&ms[1]).unwrap();
    let kept: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains("\"kind\":\"summary\""))
        .collect();
    let recorded = kept
        .iter()
        .filter(|l| l.contains("\"kind\":\"finding\""))
        .count() as u64;
    fs::write(&ms[1], kept.join("\n") + "\n{\"kind\":\"fin").unwrap();
    let first = summary(&manifest(&ms[0]))["findings"].as_u64().unwrap();
    let merged = d.path().join("merged.jsonl");
    let o = panscrub(&["merge", "-o", s(&merged), s(&ms[0]), s(&ms[1])]);
    assert_exit(&o, 0);
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 unreadable manifest line"));
    let sum = summary(&manifest(&merged)).clone();
    assert_eq!(sum["findings"].as_u64().unwrap(), first + recorded);
    assert_eq!(
        (sum["merged_runs"].as_u64(), sum["complete_runs"].as_u64()),
        (Some(2), Some(1))
    );
    // Merged again: the unfinished run is not counted a second time.
    let again = d.path().join("again.jsonl");
    assert_exit(&panscrub(&["merge", "-o", s(&again), s(&merged)]), 0);
    assert_eq!(summary(&manifest(&again))["findings"], sum["findings"]);
    // The unreadable line is said in every format.
    let text = panscrub(&["report", s(&ms[0]), s(&ms[1])]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("1 unreadable manifest line"));
    let csv = panscrub(&["report", "--format", "csv", s(&ms[0]), s(&ms[1])]);
    assert!(String::from_utf8_lossy(&csv.stderr).contains("1 unreadable manifest line"));
    let json = panscrub(&["report", "--format", "json", s(&ms[0]), s(&ms[1])]);
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["unreadable_lines"], 1);
}

#[test]
fn report_refuses_what_is_not_a_manifest() {
    let d = tmp();
    let log = d.path().join("app.log");
    write(&log, b"just a log line\n");
    let empty = d.path().join("empty.jsonl");
    write(&empty, b"");
    let json = d.path().join("other.json");
    write(&json, b"{\"kind\":\"run\",\"tool\":\"other\"}\n");
    for f in [&log, &empty, &json] {
        for cmd in ["report", "merge"] {
            let out = d.path().join(format!("{cmd}-out.jsonl"));
            let o = if cmd == "merge" {
                panscrub(&["merge", "-o", s(&out), s(f)])
            } else {
                panscrub(&["report", s(f)])
            };
            assert_exit(&o, 2);
            assert!(String::from_utf8_lossy(&o.stderr).contains("not a panscrub manifest"));
            assert!(o.stdout.is_empty());
        }
    }
}

#[test]
fn text_report_gives_run_context_and_file_status_and_csv_exports_files() {
    let d = tmp();
    let t = d.path().join("t");
    copy_tree(&testdata(), &t);
    let out = d.path().join("clean");
    let m = mpath();
    panscrub(&["scrub", "-q", "--out", s(&out), "-m", s(&m), s(&t)]);
    let o = panscrub(&["report", s(&m)]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains(&format!("-> {}", out.display())), "{text}");
    assert!(text.contains("Files not clean"), "{text}");
    assert!(
        text.contains("truncated") && text.contains("logs/app.log"),
        "{text}"
    );
    let o = panscrub(&["report", "--format", "csv", "--files", s(&m)]);
    let csv = String::from_utf8_lossy(&o.stdout);
    assert!(csv.starts_with("path,format,size,status,findings,sha256_before,sha256_after,reason\n"));
    assert_eq!(csv.lines().count(), 1 + kind(&manifest(&m), "file").len());
}

fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|b| {
            Command::new("sh")
                .args(["-c", &format!("command -v {b}")])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        });
    if found.is_none() && std::env::var_os("PANSCRUB_REQUIRE_TOOLS").is_some() {
        panic!("Chromium is required (scripts/test.sh installs it)");
    }
    found
}

/// Runs headless Chromium on a local page with every background network
/// feature off; returns its stdout and stderr.
fn headless(browser: &Path, profile: &Path, args: &[&str], page: &Path) -> (String, String) {
    let o = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("run chromium");
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn html_report_loads_in_chromium_with_the_manifest_totals() {
    let d = tmp();
    let t = d.path().join("t");
    copy_tree(&testdata(), &t);
    // A hostile file name must stay text on the page.
    write(&t.join("<b>x</b>.log"), b"card 4111111111111111\n");
    let m = mpath();
    panscrub(&["scan", "-q", "--hash", "-m", s(&m), s(&t)]);
    let page = d.path().join("case.html");
    let o = panscrub(&["report", "--format", "html", "-o", s(&page), s(&m)]);
    assert_exit(&o, 0);
    let html = fs::read_to_string(&page).unwrap();
    assert_no_pan("html report", html.as_bytes());
    assert!(!html.contains("<b>x</b>") && html.contains("&lt;b&gt;x&lt;/b&gt;.log"));
    for external in [" src=", " href=", "@import", "url("] {
        assert!(
            !html.contains(external),
            "the page loads nothing: {external}"
        );
    }
    let Some(browser) = chromium() else {
        eprintln!("skipped: no Chromium on this machine (scripts/test.sh installs it)");
        return;
    };
    let (dom, log) = headless(&browser, &d.path().join("profile"), &["--dump-dom"], &page);
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:?}");
    assert!(
        dom.contains("data-check=\"ok\""),
        "the page's own sums agree"
    );
    let sum = summary(&manifest(&m)).clone();
    for key in [
        "files", "findings", "reported", "errors", "skipped", "bytes",
    ] {
        let cell = format!("data-total=\"{key}\">{}<", sum[key]);
        assert!(dom.contains(&cell), "{cell} on the page");
    }
    // A screenshot is kept for people to look at (target/tmp/).
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report.png");
    let _ = fs::remove_file(&shot);
    headless(
        &browser,
        &d.path().join("profile2"),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000",
        ],
        &page,
    );
    let png = fs::read(&shot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
}

/// Writes a manifest of one unfinished run: `files` files under 100
/// directories, each with 9 findings and then its file record, 1 in 50 an
/// error. Returns the number of lines written.
fn write_large_manifest(p: &Path, run_id: &str, files: usize) -> usize {
    use std::io::Write as _;
    let mut w = std::io::BufWriter::new(fs::File::create(p).unwrap());
    writeln!(
        w,
        r#"{{"kind":"run","tool":"panscrub","version":"0","schema":2,"mode":"scan","run_id":"{run_id}","started":"2026-01-01T00:00:00Z","roots":["x"],"policy":{{"keep":"6+4","mask_char":"*","iin_table_version":"1"}}}}"#
    )
    .unwrap();
    for i in 0..files {
        let path = format!("x/d{}/f{i}.log", i % 100);
        for _ in 0..9 {
            writeln!(
                w,
                r#"{{"kind":"finding","path":"{path}","offset":0,"length":16,"brand":"visa","masked":"411111******1111","action":"reported"}}"#
            )
            .unwrap();
        }
        let status = if i % 50 == 0 { "error" } else { "reported" };
        writeln!(
            w,
            r#"{{"kind":"file","path":"{path}","format":"text","size":4096,"findings":9,"status":"{status}"}}"#
        )
        .unwrap();
    }
    w.flush().unwrap();
    1 + files * 10
}

/// Runs panscrub with its heap (the data segment and private mappings)
/// limited, as `prlimit --data` does.
fn panscrub_limited(limit_mb: u64, args: &[&str]) -> Output {
    let limit = format!("--data={}", limit_mb << 20);
    Command::new("prlimit")
        .arg(limit)
        .arg(BIN)
        .args(args)
        .output()
        .expect("run prlimit (util-linux)")
}

#[test]
fn reports_and_merges_of_a_large_manifest_run_in_bounded_memory() {
    // 80 MB of manifest lines, read within a 48 MB heap: every record held
    // (as reading whole manifests did) cannot fit; counts and samples do.
    let d = tmp();
    let (a, b) = (d.path().join("a.jsonl"), d.path().join("b.jsonl"));
    let files = 70_000;
    let lines = write_large_manifest(&a, &"a".repeat(32), files);
    write_large_manifest(&b, &"b".repeat(32), 100);
    assert!(fs::metadata(&a).unwrap().len() > 80 << 20);
    let findings = (files * 9) as u64;

    let json = panscrub_limited(48, &["report", "--format", "json", s(&a)]);
    assert_exit(&json, 0);
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["findings"], findings);
    assert_eq!(v["files"], files as u64);
    assert_eq!(v["errors"], (files / 50) as u64);
    assert_eq!(v["problems_total"], (files / 50) as u64);
    assert_eq!(v["problems"].as_array().unwrap().len(), 1000);
    assert_eq!(v["top_files"].as_array().unwrap().len(), 10);
    assert_eq!(v["by_place"][0][1], findings / 100);

    // The text form lists every file that is not clean (all of them here).
    let text = panscrub_limited(48, &["report", s(&a)]);
    assert_exit(&text, 0);
    let out = String::from_utf8_lossy(&text.stdout);
    assert_eq!(
        out.lines().filter(|l| l.contains(".log")).count(),
        files + 10
    );
    let csv = panscrub_limited(48, &["report", "--format", "csv", s(&a)]);
    assert_exit(&csv, 0);
    assert_eq!(
        csv.stdout.iter().filter(|&&c| c == b'\n').count() as u64,
        findings + 1
    );
    let html = panscrub_limited(48, &["report", "--format", "html", s(&a)]);
    assert_exit(&html, 0);
    let page = String::from_utf8_lossy(&html.stdout);
    let problems = page.split("id=\"problems\"").nth(1).unwrap();
    assert_eq!(
        problems.matches("class=\"status-error\">error").count(),
        files / 50
    );

    let merged = d.path().join("merged.jsonl");
    let o = panscrub_limited(48, &["merge", "-o", s(&merged), s(&b), s(&a)]);
    assert_exit(&o, 0);
    let m = manifest(&merged);
    assert_eq!(m.len(), lines + 1001 + 1);
    assert_eq!(summary(&m)["findings"], findings + 900);
    // Each run's records follow its own run line, in the order written.
    assert_eq!(m[0]["run_id"], "b".repeat(32));
    assert_eq!(m[1001]["run_id"], "a".repeat(32));
    assert_eq!(m[1002]["path"], "x/d0/f0.log");
}

#[test]
fn a_manifest_read_from_a_pipe_is_reported_and_merged() {
    let d = tmp();
    let a = d.path().join("a.jsonl");
    write_large_manifest(&a, &"a".repeat(32), 300);
    let merged = d.path().join("merged.jsonl");
    let script = format!(
        "{BIN} report --format csv <(cat {a}) > {dir}/csv && {BIN} merge -o {merged} <(cat {a})",
        a = s(&a),
        dir = s(d.path()),
        merged = s(&merged)
    );
    let o = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert_exit(&o, 0);
    let csv = fs::read_to_string(d.path().join("csv")).unwrap();
    assert_eq!(csv.lines().count(), 300 * 9 + 1);
    let m = manifest(&merged);
    assert_eq!(kind(&m, "finding").len(), 300 * 9);
    assert_eq!(kind(&m, "file").len(), 300);
}

#[test]
fn a_closed_pipe_ends_a_report_quietly() {
    let d = tmp();
    let a = d.path().join("a.jsonl");
    write_large_manifest(&a, &"a".repeat(32), 3000);
    for format in ["text", "csv", "html"] {
        let script = format!("{BIN} report --format {format} {} | head -c 10 >/dev/null; echo \"${{PIPESTATUS[0]}}\"", s(&a));
        let o = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "0", "{format}");
        assert!(
            o.stderr.is_empty(),
            "{format}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}
