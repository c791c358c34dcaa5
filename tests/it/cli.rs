//! The command line as a user meets it: exit codes, usage errors, inputs
//! that fail, help, path selection, PANs in file names.

use super::*;

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
    let m = mpath();
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
    let out = if is_root() {
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

#[test]
fn pan_in_a_file_name_is_masked_in_every_output() {
    let d = tmp();
    let dir = d.path().join("4111111111111111");
    write(&dir.join("notes.txt"), b"card 5555555555554444\n");
    let m = mpath();
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

/// `--help` of every command, as a user reads it (80 columns).
#[test]
fn help_snapshots() {
    for cmd in [&[][..], &["scan"], &["scrub"], &["report"], &["merge"]] {
        let mut args: Vec<&str> = cmd.to_vec();
        args.push("--help");
        let out = Command::new(BIN)
            .env("COLUMNS", "80")
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let name = format!("help_{}", cmd.first().unwrap_or(&"top"));
        insta::assert_snapshot!(name, String::from_utf8(out.stdout).unwrap());
    }
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
