//! Installing what a scrub wrote: a rebuilt archive or Parquet file over
//! its original, or a scrubbed copy into the `--out` mirror.
//!
//! One sequence for every format: write into a temp file beside the
//! destination (random name, never derived from the input name, which may
//! hold a PAN; mode 0600), make it durable, verify it in the format's own
//! terms, then (in place) check that nobody rewrote the original meanwhile,
//! give it the original's owner, mode, extended attributes (ACLs, SELinux
//! labels, `user.*`) and times, rename it over the destination and fsync
//! the directory. What could not be given (another user's ownership for a
//! non-root run, an attribute the filesystem refuses) is returned, for the
//! file record: a rebuilt file never loses metadata silently.

use std::fs::{File, FileTimes, Metadata};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::InputError;

/// A locked temp file in `dir` (mode 0600) for the file `md` describes;
/// its name never derives from the input name (see [`super::temp`]).
fn temp_in(dir: &Path, md: &Metadata) -> Result<tempfile::NamedTempFile, InputError> {
    super::temp::create(dir, &super::temp::tag_of(md)).map_err(InputError::io("create temp file"))
}

/// Same inode, size, mtime and ctime: nobody wrote to the file.
pub fn same_version(a: &Metadata, b: &Metadata) -> bool {
    a.dev() == b.dev()
        && a.ino() == b.ino()
        && a.len() == b.len()
        && a.mtime() == b.mtime()
        && a.mtime_nsec() == b.mtime_nsec()
        && a.ctime() == b.ctime()
        && a.ctime_nsec() == b.ctime_nsec()
}

/// Puts back the access and modification times of `md`.
pub fn restore_times(f: &File, md: &Metadata) -> io::Result<()> {
    let mut t = FileTimes::new();
    if let Ok(m) = md.modified() {
        t = t.set_modified(m);
    }
    if let Ok(a) = md.accessed() {
        t = t.set_accessed(a);
    }
    f.set_times(t)
}

/// What of the original's metadata an installed file could not take, one
/// phrase each (`owner 0:0 (now 65534:65534)`), for the file record.
pub type NotKept = Vec<String>;

/// The original's owner, then mode (a chown clears setuid/setgid, so the
/// mode comes after it), then extended attributes (after the mode: an ACL
/// sets the group bits to its mask, as the original's are), then times
/// (not with `touch`), from `from`/`md` onto `f`. Only root can give a file
/// away and only a member may give it a group: what could not be kept is
/// returned, never ignored.
fn take_metadata(f: &File, from: &File, md: &Metadata, touch: bool) -> Result<NotKept, InputError> {
    use std::os::unix::fs::fchown;
    let mut lost = NotKept::new();
    if fchown(f, Some(md.uid()), Some(md.gid())).is_err() {
        // Not root: the group alone may still be ours to give.
        let _ = fchown(f, None, Some(md.gid()));
    }
    let mode = md.mode() & 0o7777;
    f.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(InputError::io("set permissions"))?;
    let now = f.metadata().map_err(InputError::io("stat"))?;
    if (now.uid(), now.gid()) != (md.uid(), md.gid()) {
        lost.push(format!(
            "owner {}:{} (now {}:{})",
            md.uid(),
            md.gid(),
            now.uid(),
            now.gid()
        ));
    }
    // The kernel drops setgid for a group the writer is not in.
    if now.mode() & 0o7777 != mode {
        lost.push(format!("mode {:o} (now {:o})", mode, now.mode() & 0o7777));
    }
    copy_xattrs(from, f, &mut lost);
    if !touch {
        restore_times(f, md).map_err(InputError::io("restore times"))?;
    }
    Ok(lost)
}

/// Copies every extended attribute of `from` the process can read onto
/// `to`: `user.*`, `system.posix_acl_*` (ACLs), `security.*` (SELinux and
/// other labels; `trusted.*` too when root). A filesystem without them has
/// none to copy; one that refuses an attribute on the new file has it
/// listed in `lost`.
fn copy_xattrs(from: &File, to: &File, lost: &mut NotKept) {
    use xattr::FileExt;
    let Ok(names) = from.list_xattr() else {
        return;
    };
    for name in names {
        let kept = match from.get_xattr(&name) {
            Ok(Some(value)) => to.set_xattr(&name, &value).is_ok(),
            Ok(None) => true, // removed meanwhile
            Err(_) => false,
        };
        if !kept {
            lost.push(format!(
                "extended attribute {}",
                String::from_utf8_lossy(name.as_encoded_bytes())
            ));
        }
    }
}

fn rename_durably(tmp: tempfile::NamedTempFile, dest: &Path) -> Result<(), InputError> {
    tmp.persist(dest)
        .map_err(|e| InputError::io("rename")(e.error))?;
    let dir = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// A file being written to replace `dest`.
pub struct Staged {
    dest: PathBuf,
    tmp: tempfile::NamedTempFile,
    /// The original, open: its extended attributes are read through it.
    source: File,
    /// `--touch`: the result keeps the time it was written.
    touch: bool,
}

impl Staged {
    /// A temp file beside the original `path`, open as `source` and
    /// described by `md` (in-place rebuild).
    pub fn beside(path: &Path, source: &File, md: &Metadata) -> Result<Staged, InputError> {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        Ok(Staged {
            dest: path.to_path_buf(),
            tmp: temp_in(dir, md)?,
            source: source.try_clone().map_err(InputError::io("dup"))?,
            touch: false,
        })
    }

    /// A temp file for `dest` in the `--out` mirror (directories created),
    /// the copy of the input open as `source` and described by `md`.
    pub fn mirror(dest: PathBuf, source: &File, md: &Metadata) -> Result<Staged, InputError> {
        let dir = dest
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        std::fs::create_dir_all(&dir).map_err(InputError::io("create output directory"))?;
        Ok(Staged {
            tmp: temp_in(&dir, md)?,
            dest,
            source: source.try_clone().map_err(InputError::io("dup"))?,
            touch: false,
        })
    }

    /// `--touch`: install with the time of writing as the modification time
    /// rather than the original's.
    pub fn touch(mut self, yes: bool) -> Staged {
        self.touch = yes;
        self
    }

    /// The temp file, to write into.
    pub fn file_mut(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// Makes the staged bytes durable and runs the format's check on them.
    /// `corrupt` (test builds) flips a byte first, as a faulty writer would.
    pub fn verify(
        &mut self,
        corrupt: bool,
        check: impl FnOnce(&File) -> Result<(), InputError>,
    ) -> Result<(), InputError> {
        let f = self.tmp.as_file_mut();
        if corrupt {
            flip_a_byte(f).map_err(InputError::io("test hook"))?;
        }
        f.sync_all().map_err(InputError::io("fsync"))?;
        check(self.tmp.as_file())
    }

    /// Installs a copy written span by span by the applier: refused when a
    /// finding changed before it could be masked (the copy would hold it),
    /// else checked by `check` and installed.
    pub fn install_applied_copy(
        mut self,
        mismatched: u64,
        original: &Metadata,
        check: impl FnOnce(&File) -> Result<(), InputError>,
    ) -> Result<NotKept, InputError> {
        if mismatched > 0 {
            return Err(InputError::Changed(format!(
                "{mismatched} finding(s) changed before they could be masked; copy discarded"
            )));
        }
        self.verify(false, check)?;
        self.install_copy(original)
    }

    /// Installs into the `--out` mirror with the original's metadata.
    pub fn install_copy(self, original: &Metadata) -> Result<NotKept, InputError> {
        let lost = take_metadata(self.tmp.as_file(), &self.source, original, self.touch)?;
        rename_durably(self.tmp, &self.dest)?;
        Ok(lost)
    }

    /// Replaces the original, unless it changed since `original` was taken
    /// (then the user's newer version is kept and this is an error).
    /// `pause` (test builds) widens the window a test races into.
    pub fn replace_original(
        self,
        original: &Metadata,
        pause: Option<Duration>,
    ) -> Result<NotKept, InputError> {
        if let Some(p) = pause {
            std::thread::sleep(p);
        }
        // A stop requested while rebuilding: roll back (the temp is
        // removed when `self` drops) rather than start the install.
        if let Some(sig) = crate::interrupt::requested() {
            return Err(InputError::Interrupted(crate::interrupt::name(sig)));
        }
        let now = std::fs::symlink_metadata(&self.dest).map_err(InputError::io("stat"))?;
        if !same_version(original, &now) {
            return Err(InputError::Changed(
                "the file was modified during the rebuild; not replaced".into(),
            ));
        }
        let t = self.tmp.as_file();
        let lost = take_metadata(t, &self.source, original, self.touch)?;
        t.sync_all().map_err(InputError::io("fsync"))?;
        rename_durably(self.tmp, &self.dest)?;
        Ok(lost)
    }
}

/// Test hook: flips the last byte of a file.
/// Inverts the last byte of `f` (test hooks: a faulty writer).
pub fn flip_a_byte(f: &mut File) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let len = f.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut b = [0u8];
    f.read_exact_at(&mut b, len - 1)?;
    b[0] ^= 0xff;
    f.write_all_at(&b, len - 1)
}
