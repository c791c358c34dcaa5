//! Where a run writes: the manifest and the `--out` tree. Both are checked
//! once, before any input is read, so that a mistyped option can never
//! write into the evidence being examined or over a file the user keeps.
//!
//! Rules (README "Manifest safety"):
//! - the manifest may not lie inside a root (a directory named on the
//!   command line, or be a named file itself): a read-only scan must not
//!   write into the tree it examines;
//! - an existing non-empty regular file is never overwritten unless it is a
//!   panscrub manifest (its first line is a panscrub `run` record) and
//!   `--force` is given; pipes, terminals and `/dev/null` are always fine;
//! - `--out` may not overlap a root, and two roots may not share a mirror
//!   name.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::error::ConfigError;
use crate::record::Record;

/// `path` made absolute with symlinks resolved; for a file that does not
/// exist yet, its directory resolved and its name appended.
fn resolve(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = path.canonicalize() {
        return Some(p);
    }
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Some(parent.canonicalize().ok()?.join(name))
}

/// Whether the file at `path` starts with a panscrub `run` record.
pub fn is_panscrub_manifest(path: &Path) -> bool {
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    // A run record is well under 64 KiB; never read a huge line whole.
    let mut first = String::new();
    if BufReader::new(f.take(64 * 1024))
        .read_line(&mut first)
        .is_err()
    {
        return false;
    }
    Record::parse(first.trim_end()).is_ok_and(|r| r.is_panscrub_run())
}

/// Refuses a manifest path inside a root, or one that would overwrite a
/// file that is not a manifest, or a manifest without `force`.
pub fn check_manifest(manifest: &Path, roots: &[PathBuf], force: bool) -> Result<(), ConfigError> {
    let refuse = |why: String| Err(ConfigError::Manifest(why));
    let Some(abs) = resolve(manifest) else {
        return refuse(format!(
            "{}: its directory does not exist",
            manifest.display()
        ));
    };
    for root in roots {
        let Ok(root_abs) = root.canonicalize() else {
            continue; // reported by the walk as an error of that root
        };
        if abs == root_abs || (root_abs.is_dir() && abs.starts_with(&root_abs)) {
            return refuse(format!(
                "{} is inside {}, which this run reads; write the manifest outside the trees it describes",
                manifest.display(),
                root.display()
            ));
        }
    }
    let Ok(md) = std::fs::metadata(manifest) else {
        return Ok(()); // a new file
    };
    if !md.is_file() || md.len() == 0 {
        return Ok(()); // a pipe, a terminal, /dev/null, an empty file
    }
    if !is_panscrub_manifest(manifest) {
        return refuse(format!(
            "{} exists and is not a panscrub manifest; it is never overwritten (choose another name)",
            manifest.display()
        ));
    }
    if !force {
        return refuse(format!(
            "{} already holds a manifest; use --force to replace it, or a new name per run (e.g. $(date +%F-%H%M%S).jsonl)",
            manifest.display()
        ));
    }
    Ok(())
}

/// `--out` must not be inside an input tree (we would scan our own output)
/// and two roots must not share a name (their mirrors would collide).
pub fn check_out_dir(out: &Path, roots: &[PathBuf]) -> Result<(), ConfigError> {
    let cannot = |e: std::io::Error| {
        ConfigError::Out(format!("cannot create directory {}: {e}", out.display()))
    };
    std::fs::create_dir_all(out).map_err(cannot)?;
    let out_abs = out.canonicalize().map_err(cannot)?;
    let mut names = std::collections::HashSet::new();
    for r in roots {
        if let Ok(abs) = r.canonicalize() {
            if out_abs.starts_with(&abs) || abs.starts_with(&out_abs) {
                return Err(ConfigError::Out(format!(
                    "{} overlaps the input {}",
                    out.display(),
                    r.display()
                )));
            }
        }
        let name = mirror_name(r);
        if !names.insert(name.clone()) {
            return Err(ConfigError::Out(format!(
                "two inputs are both named {name:?}: their mirrors would collide"
            )));
        }
    }
    Ok(())
}

/// The directory name a root gets under `--out` (`cp -r` semantics).
pub fn mirror_name(root: &Path) -> std::ffi::OsString {
    root.canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_owned()))
        .or_else(|| root.file_name().map(|n| n.to_owned()))
        .unwrap_or_else(|| "root".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_inside_a_root_or_over_a_foreign_file_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let ev = d.path().join("ev");
        std::fs::create_dir_all(ev.join("logs")).unwrap();
        std::fs::write(ev.join("logs/app.log"), "x\n").unwrap();
        let roots = vec![ev.clone()];
        assert!(check_manifest(&ev.join("logs/app.log"), &roots, true).is_err());
        assert!(check_manifest(&ev.join("new.jsonl"), &roots, false).is_err());
        let other = d.path().join("notes.txt");
        std::fs::write(&other, "keep me\n").unwrap();
        assert!(check_manifest(&other, &roots, true).is_err());
        assert!(check_manifest(&d.path().join("m.jsonl"), &roots, false).is_ok());
        assert!(check_manifest(Path::new("/dev/null"), &roots, false).is_ok());
        // A named file is a root too.
        let f = ev.join("logs/app.log");
        assert!(check_manifest(&f, std::slice::from_ref(&f), true).is_err());
    }

    #[test]
    fn an_existing_manifest_needs_force() {
        let d = tempfile::tempdir().unwrap();
        let m = d.path().join("m.jsonl");
        std::fs::write(
            &m,
            r#"{"kind":"run","tool":"panscrub","version":"0","schema":2,"mode":"scan","started":"x","roots":[],"policy":{"keep":"6+4","mask_char":"*","iin_table_version":"1"}}"#,
        )
        .unwrap();
        assert!(check_manifest(&m, &[], false).is_err());
        assert!(check_manifest(&m, &[], true).is_ok());
    }
}
