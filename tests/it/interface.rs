//! The interface a ripgrep user expects: path lists from a file or stdin
//! (`-0` too), `--json`, `-l`, `-c`, `--color`, `-L`, `--version` on
//! subcommands, a man page per subcommand, completions that offer the
//! keep policies, and hints on the tool's own usage errors.

use super::*;

fn tree(d: &Path) -> PathBuf {
    let t = d.join("t");
    write(
        &t.join("a.log"),
        b"card 4111111111111111\npay 5555555555554444\n",
    );
    write(&t.join("b.log"), b"nothing here\n");
    write(&t.join("sub/c.log"), b"card 378282246310005\n");
    t
}

fn stdout_of(args: &[&str]) -> String {
    let o = panscrub(args);
    assert!(
        o.status.code().unwrap() <= 1,
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn files_with_findings_count_and_json_print_what_they_say() {
    let d = tmp();
    let t = tree(d.path());
    let ts = t.to_str().unwrap();
    let l = stdout_of(&["scan", "--sort", "-l", ts]);
    assert_eq!(l, format!("{ts}/a.log\n{ts}/sub/c.log\n"));
    let c = stdout_of(&["scan", "--sort", "-c", ts]);
    assert_eq!(c, format!("{ts}/a.log:2\n{ts}/sub/c.log:1\n"));
    let json = stdout_of(&["scan", "--sort", "--json", ts]);
    let records: Vec<Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 3);
    for r in &records {
        assert_eq!(r["kind"], "finding");
        assert_valid_record(r);
    }
    assert_eq!(records[0]["masked"], "411111******1111");
    assert_no_pan("json", json.as_bytes());
}

#[test]
fn color_highlights_the_masked_digits_only_when_asked_or_on_a_terminal() {
    let d = tmp();
    let t = tree(d.path());
    let plain = stdout_of(&["scan", t.to_str().unwrap()]);
    assert!(!plain.contains('\u{1b}'), "no colour into a pipe");
    let coloured = stdout_of(&[
        "scan",
        "--color",
        "always",
        t.join("a.log").to_str().unwrap(),
    ]);
    assert!(
        coloured.contains("411111\u{1b}[1;31m******\u{1b}[0m1111"),
        "{coloured:?}"
    );
    assert_no_pan("coloured", coloured.as_bytes());
}

#[test]
fn paths_from_a_list_on_stdin_or_in_a_file_newline_or_nul_separated() {
    let d = tmp();
    let t = tree(d.path());
    let a = t.join("a.log");
    let c = t.join("sub/c.log");
    let list = format!("{}\n{}\n", a.display(), c.display());
    let run_stdin = |args: &[&str], input: &[u8]| {
        let mut child = Command::new(BIN)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    };
    let o = run_stdin(&["scan", "-c", "-"], list.as_bytes());
    assert_exit(&o, 1);
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 2);
    let nul = format!("{}\0{}\0", a.display(), c.display());
    let o = run_stdin(&["scan", "-c", "-0", "--files-from", "-"], nul.as_bytes());
    assert_exit(&o, 1);
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 2);
    let file = d.path().join("list.txt");
    write(&file, list.as_bytes());
    let m = mpath();
    let o = panscrub(&[
        "scrub",
        "-q",
        "-m",
        m.to_str().unwrap(),
        "--files-from",
        file.to_str().unwrap(),
    ]);
    assert_exit(&o, 0);
    assert_eq!(summary(&manifest(&m))["truncated"], 3);
    // An empty list selects nothing: exit 2.
    let o = run_stdin(&["scan", "-"], b"");
    assert_exit(&o, 2);
}

#[test]
fn follow_walks_through_links_once_per_file() {
    let d = tmp();
    let t = tree(d.path());
    let other = d.path().join("other");
    write(&other.join("x.log"), b"card 6011111111111117\n");
    std::os::unix::fs::symlink(&other, t.join("linked")).unwrap();
    std::os::unix::fs::symlink(t.join("a.log"), t.join("again.log")).unwrap();
    std::os::unix::fs::symlink(&t, t.join("sub/loop")).unwrap();
    let m = mpath();
    let o = panscrub(&["scan", "-q", "-m", m.to_str().unwrap(), t.to_str().unwrap()]);
    assert_exit(&o, 1);
    assert_eq!(
        summary(&manifest(&m))["findings"],
        3,
        "links not followed by default"
    );
    let m = mpath();
    let o = panscrub(&[
        "scan",
        "-q",
        "-L",
        "-m",
        m.to_str().unwrap(),
        t.to_str().unwrap(),
    ]);
    assert_exit(&o, 1);
    let man = manifest(&m);
    assert_eq!(
        summary(&man)["findings"],
        4,
        "the linked directory walked, a.log once"
    );
    assert!(kind(&man, "file")
        .iter()
        .any(|f| f["reason"].as_str().is_some_and(|r| r.contains("loop"))));
}

#[test]
fn version_man_pages_completions_and_hints() {
    for sub in ["scan", "scrub", "report", "merge"] {
        let o = panscrub(&[sub, "--version"]);
        assert_exit(&o, 0);
        assert!(String::from_utf8_lossy(&o.stdout).contains(env!("CARGO_PKG_VERSION")));
        let o = panscrub(&["man", sub]);
        assert_exit(&o, 0);
        assert!(String::from_utf8_lossy(&o.stdout).contains(&format!(".TH panscrub-{sub} 1")));
    }
    // Every page the top page points to exists.
    let d = tmp();
    let o = panscrub(&["man", "--dir", d.path().to_str().unwrap()]);
    assert_exit(&o, 0);
    let top = fs::read_to_string(d.path().join("panscrub.1")).unwrap();
    for sub in ["scan", "scrub", "report", "merge"] {
        assert!(
            top.contains(&format!("panscrub\\-{sub}(1)")),
            "{sub} in SEE ALSO"
        );
        assert!(d.path().join(format!("panscrub-{sub}.1")).exists());
    }
    let bash = String::from_utf8(panscrub(&["completions", "bash"]).stdout).unwrap();
    assert!(
        bash.contains("6+4 8+4 0+4"),
        "completions offer the keep policies"
    );
    let o = panscrub(&["scan", "--mask-char", "5", "x"]);
    assert_exit(&o, 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("try '--help'"));
}
