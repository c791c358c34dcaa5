//! Shared helpers of the integration tests: running the binary, temp
//! trees, reading (and validating) manifests, leak checks.

use super::*;

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_panscrub");

/// Public test PANs used below; none may ever appear in any output.
pub(crate) const TEST_PANS: &[&str] = &[
    "4111111111111111",
    "5555555555554444",
    "378282246310005",
    "6011111111111117",
    "4012888888881881",
    "5105105105105100",
    "3530111333300000",
    "30569309025904",
];

pub(crate) fn panscrub(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run panscrub")
}

pub(crate) fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub(crate) fn write(p: &Path, data: &[u8]) {
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, data).unwrap();
}

/// Reads a manifest; every line must be JSON and valid against the
/// published schema (`docs/manifest.schema.json`).
pub(crate) fn manifest(p: &Path) -> Vec<Value> {
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
pub(crate) fn assert_valid_record(v: &Value) {
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

pub(crate) fn kind<'a>(m: &'a [Value], k: &str) -> Vec<&'a Value> {
    m.iter().filter(|r| r["kind"] == k).collect()
}

/// Asserts that no full test PAN (with or without separators) is in `s`.
pub(crate) fn assert_no_pan(what: &str, s: &[u8]) {
    // Every separator a PAN may carry, URL and form encodings included.
    let text = String::from_utf8_lossy(s)
        .replace("%20", "")
        .replace("%2D", "")
        .replace("%2d", "");
    let compact: String = text
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '+'))
        .collect();
    for pan in TEST_PANS {
        assert!(!compact.contains(pan), "{what} leaks a full PAN");
    }
}

/// `panscrub scrub -q -m <dir>/m.jsonl <target>`: its output and the
/// manifest path.
pub(crate) fn scrub_with_manifest(target: &Path) -> (Output, PathBuf) {
    let m = mpath();
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
pub(crate) fn scrub_ok(target: &Path) -> PathBuf {
    let (o, m) = scrub_with_manifest(target);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    m
}

/// `panscrub scrub -q [-m manifest] --out <out> <src>`, asserting exit 0.
pub(crate) fn scrub_out_ok(out: &Path, src: &Path, manifest: Option<&Path>) {
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

pub(crate) fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

pub(crate) fn copy_tree(src: &Path, dst: &Path) {
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

/// Asserts a run's exit code, showing its stderr when it differs.
pub(crate) fn assert_exit(o: &Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A fresh manifest path outside every test tree (a manifest inside a
/// root is refused). The directory lives as long as the test process.
pub(crate) fn mpath() -> PathBuf {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap());
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    dir.path().join(format!("m{n}.jsonl"))
}

/// The `summary` record of a manifest.
pub(crate) fn summary(m: &[Value]) -> &Value {
    m.iter()
        .rfind(|r| r["kind"] == "summary")
        .expect("a summary record")
}

/// Whether the tests run as root (effective uid via /proc, without libc).
pub(crate) fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// The standard output of `sh -c script` run in `dir`; fails the test if
/// the script fails.
pub(crate) fn sh_output(dir: &Path, script: &str) -> Vec<u8> {
    let o = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// sha256 of some bytes, in hex (as the manifest gives it).
pub(crate) fn sha_hex(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

/// The names in `root` (not recursive), sorted: a temp file left behind
/// shows here.
pub(crate) fn tree_files(root: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
