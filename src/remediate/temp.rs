//! The temp files a scrub writes beside the files it rebuilds, and how a
//! later run tells them apart from a user's files.
//!
//! Name: `.panscrub-<tag><random><check>.tmp`, 32 hex digits in between:
//! `tag` (8) is a hash of the device and inode of the file being replaced
//! (never of its name, which may hold a PAN), `random` (16) is fresh per
//! temp, `check` (8) is a hash of both. A user's `.panscrub-x.tmp` does not
//! have that shape and is scanned like any other file.
//!
//! While a temp file is in use, its writer holds an exclusive lock on it
//! (`flock`, released when the file is closed or the process dies). A temp
//! file of the right shape whose lock can be taken is stale: its writer is
//! gone. A scrub removes stale ones; a scan names them and leaves them
//! (it writes nothing); nobody touches one that is locked, so two runs at
//! once never delete each other's temp files. A locked temp is work in
//! progress, not data at rest: a run that meets one (another shard's,
//! another scrub's, its own) leaves it out of its manifest.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use sha2::{Digest, Sha256};

/// Prefix and suffix of every temp file name.
pub const PREFIX: &str = ".panscrub-";
/// See [`PREFIX`].
pub const SUFFIX: &str = ".tmp";

fn hex8(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    crate::remediate::digest::hex(&h.finalize()[..4])
}

/// The tag of the file a temp replaces: its device and inode, hashed.
pub fn tag_of(md: &std::fs::Metadata) -> String {
    hex8(&[
        b"panscrub-target",
        &md.dev().to_le_bytes(),
        &md.ino().to_le_bytes(),
    ])
}

fn check_of(tag: &str, random: &str) -> String {
    hex8(&[b"panscrub-temp", tag.as_bytes(), random.as_bytes()])
}

/// A fresh temp name for a file tagged `tag`.
pub fn new_name(tag: &str) -> String {
    let random = &crate::record::new_run_id()[..16];
    format!("{PREFIX}{tag}{random}{}{SUFFIX}", check_of(tag, random))
}

/// The tag of a panscrub temp file name, or `None` for any other name.
pub fn parse_name(name: &OsStr) -> Option<&str> {
    let b = name.as_bytes();
    let mid = b
        .strip_prefix(PREFIX.as_bytes())?
        .strip_suffix(SUFFIX.as_bytes())?;
    if mid.len() != 32 || !mid.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mid = std::str::from_utf8(mid).ok()?;
    let (tag, rest) = mid.split_at(8);
    let (random, check) = rest.split_at(16);
    (check_of(tag, random) == check).then_some(tag)
}

/// Creates a temp file (mode 0600) for the file tagged `tag` in `dir`,
/// locked for as long as it is open.
pub fn create(dir: &Path, tag: &str) -> io::Result<tempfile::NamedTempFile> {
    loop {
        let path = dir.join(new_name(tag));
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC)
            .open(&path)
        {
            Ok(file) => {
                let temp = tempfile::TempPath::try_from_path(&path)?;
                file.lock()?;
                return Ok(tempfile::NamedTempFile::from_parts(file, temp));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// What became of a temp file found by a run.
#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    /// Stale, and removed (scrub).
    Removed,
    /// Stale, left for a scrub to remove (scan).
    Stale,
    /// Locked: a run (another, or this one) is writing it.
    InUse,
    /// Gone before it could be looked at: its writer renamed it over the
    /// file it replaces, or removed it.
    Gone,
}

/// Handles a temp file found at `path`: removes it if it is stale and
/// `remove` is set. The lock is taken first, so a temp in use is never
/// removed.
pub fn handle_found(path: &Path, remove: bool) -> io::Result<Found> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Found::Gone),
        Err(e) => return Err(e),
    };
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Ok(Found::InUse),
        Err(std::fs::TryLockError::Error(e)) => return Err(e),
    }
    if !remove {
        return Ok(Found::Stale);
    }
    // Still holding the lock: a writer starting now would create a new
    // name, never this one.
    std::fs::remove_file(path)?;
    Ok(Found::Removed)
}

/// The stale-temp candidates beside a named file: temps in its directory
/// tagged with its device and inode.
pub fn beside(file: &Path, md: &std::fs::Metadata) -> Vec<std::path::PathBuf> {
    let dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tag = tag_of(md);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| parse_name(&e.file_name()) == Some(tag.as_str()))
        .map(|e| e.path())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_own_shape_of_name_is_a_temp() {
        let n = new_name("0123abcd");
        assert_eq!(parse_name(OsStr::new(&n)), Some("0123abcd"));
        for foreign in [
            ".panscrub-x.tmp",
            ".panscrub-cards.tmp",
            ".panscrub-0123456789abcdef0123456789abcdef.tmp",
        ] {
            assert_eq!(parse_name(OsStr::new(foreign)), None, "{foreign}");
        }
        // One digit changed: the check fails.
        let mut bad = n.into_bytes();
        bad[12] = if bad[12] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            parse_name(OsStr::new(std::str::from_utf8(&bad).unwrap())),
            None
        );
    }

    #[test]
    fn a_locked_temp_is_in_use_and_an_unlocked_one_is_stale() {
        let d = tempfile::tempdir().unwrap();
        let t = create(d.path(), "0123abcd").unwrap();
        assert_eq!(handle_found(t.path(), true).unwrap(), Found::InUse);
        assert!(t.path().exists());
        let path = t.path().to_path_buf();
        let (file, temp) = t.into_parts();
        drop(file); // the writer is gone; the name stays
        let kept = temp.keep().unwrap();
        assert_eq!(kept, path);
        assert_eq!(handle_found(&path, false).unwrap(), Found::Stale);
        assert_eq!(handle_found(&path, true).unwrap(), Found::Removed);
        assert!(!path.exists());
        // Renamed or removed by its writer before a walk got to it.
        assert_eq!(handle_found(&path, true).unwrap(), Found::Gone);
    }
}
