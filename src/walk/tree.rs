//! Depth-first traversal of one directory tree, reading every directory
//! through a descriptor of our own: opened with `O_NOATIME` where the
//! kernel permits it (the owner, or root), so a forensic sweep of evidence
//! leaves directory access times as it found them, as it does for files;
//! `O_NOFOLLOW` unless links are followed. (A generic walker opens
//! directories itself, with no say in the flags.)
//!
//! Order: a directory, then its entries in the order the filesystem lists
//! them, each subdirectory's whole subtree before the next entry. A
//! directory is read whole and closed before its children are visited, so
//! the walk holds one descriptor at a time however deep the tree.

use std::ffi::OsString;
use std::fs::Metadata;
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustix::fs::{Dir, FileType, Mode, OFlags};

/// One thing met in the tree.
pub enum Node {
    /// A directory about to be read (the root included).
    Directory { path: PathBuf },
    /// Anything else, with its metadata (of the link's target when the
    /// node was reached through a followed symlink, `via_link`).
    Other {
        path: PathBuf,
        md: Metadata,
        via_link: bool,
    },
    /// A followed symlink leading back to one of its own ancestors.
    Loop(PathBuf),
    /// A directory that could not be read, or an entry that could not be
    /// examined.
    Error { path: PathBuf, reason: String },
}

/// The directories from the root down to one being read, by device and
/// inode: a followed link that leads to one of them is a loop.
struct Ancestors {
    id: (u64, u64),
    parent: Option<Arc<Ancestors>>,
}

impl Ancestors {
    fn contains(self: &Arc<Self>, id: (u64, u64)) -> bool {
        let mut at = Some(self);
        while let Some(a) = at {
            if a.id == id {
                return true;
            }
            at = a.parent.as_ref();
        }
        false
    }
}

/// A directory read, with the entries still to visit.
struct Frame {
    path: PathBuf,
    entries: std::vec::IntoIter<(OsString, FileType)>,
    ancestors: Arc<Ancestors>,
}

/// Opens a directory for reading without updating its access time where
/// permitted (`O_NOATIME` needs ownership or `CAP_FOWNER`; `EPERM`
/// otherwise, and then it is opened plainly).
fn open_dir(path: &Path, follow: bool) -> io::Result<std::os::fd::OwnedFd> {
    let mut flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    if !follow {
        flags |= OFlags::NOFOLLOW;
    }
    match rustix::fs::open(path, flags | OFlags::NOATIME, Mode::empty()) {
        Err(rustix::io::Errno::PERM) => Ok(rustix::fs::open(path, flags, Mode::empty())?),
        other => Ok(other?),
    }
}

/// A directory's identity (device, inode) and entries.
type Listing = ((u64, u64), Vec<(OsString, FileType)>);

/// Reads a whole directory: its identity and its entries (`.` and `..`
/// left out), then closes it.
fn read_dir(path: &Path, follow: bool) -> io::Result<Listing> {
    let fd = open_dir(path, follow)?;
    let st = rustix::fs::fstat(&fd)?;
    let mut entries = Vec::new();
    for e in Dir::new(fd)? {
        let e = e?;
        let name = e.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        entries.push((OsString::from_vec(name.to_vec()), e.file_type()));
    }
    Ok(((st.st_dev, st.st_ino), entries))
}

/// Walks the tree under `root` (a directory; followed if it is a link, as
/// the user named it), calling `visit` for every node. `prune` is asked
/// for every entry below the root: true leaves it (and, for a directory,
/// everything under it) out. `follow` follows symlinks. `stop` is polled
/// between entries.
pub fn walk_tree(
    root: &Path,
    follow: bool,
    prune: &dyn Fn(&Path) -> bool,
    stop: &dyn Fn() -> bool,
    visit: &mut dyn FnMut(Node),
) {
    let mut stack = Vec::new();
    visit(Node::Directory {
        path: root.to_path_buf(),
    });
    enter(root, true, None, &mut stack, visit);
    while let Some(frame) = stack.last_mut() {
        if stop() {
            return;
        }
        let Some((name, kind)) = frame.entries.next() else {
            stack.pop();
            continue;
        };
        let path = frame.path.join(&name);
        let ancestors = frame.ancestors.clone();
        if prune(&path) {
            continue;
        }
        match kind {
            FileType::Directory => {
                visit(Node::Directory { path: path.clone() });
                enter(&path, false, Some(ancestors), &mut stack, visit);
            }
            FileType::Symlink if follow => {
                let md = match std::fs::metadata(&path) {
                    Ok(md) => md,
                    Err(e) => {
                        visit(Node::Error {
                            path,
                            reason: format!("cannot read: {e}"),
                        });
                        continue;
                    }
                };
                if md.is_dir() {
                    if ancestors.contains((md.dev(), md.ino())) {
                        visit(Node::Loop(path));
                        continue;
                    }
                    visit(Node::Directory { path: path.clone() });
                    enter(&path, true, Some(ancestors), &mut stack, visit);
                } else {
                    visit(Node::Other {
                        path,
                        md,
                        via_link: true,
                    });
                }
            }
            _ => match std::fs::symlink_metadata(&path) {
                // The listing's type may be unknown (some filesystems): the
                // metadata says.
                Ok(md) if md.is_dir() => {
                    visit(Node::Directory { path: path.clone() });
                    enter(&path, false, Some(ancestors), &mut stack, visit);
                }
                Ok(md) => visit(Node::Other {
                    path,
                    md,
                    via_link: false,
                }),
                Err(e) => visit(Node::Error {
                    path,
                    reason: format!("cannot stat: {e}"),
                }),
            },
        }
    }
}

/// Reads the directory `path` and pushes it to be visited; an unreadable
/// one is an error node, and the walk goes on.
fn enter(
    path: &Path,
    follow: bool,
    parent: Option<Arc<Ancestors>>,
    stack: &mut Vec<Frame>,
    visit: &mut dyn FnMut(Node),
) {
    match read_dir(path, follow) {
        Ok((id, entries)) => stack.push(Frame {
            path: path.to_path_buf(),
            entries: entries.into_iter(),
            ancestors: Arc::new(Ancestors { id, parent }),
        }),
        Err(e) => visit(Node::Error {
            path: path.to_path_buf(),
            reason: format!("cannot read: {e}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(root: &Path, follow: bool) -> Vec<String> {
        let mut out = Vec::new();
        walk_tree(root, follow, &|_| false, &|| false, &mut |n| {
            let (tag, p) = match &n {
                Node::Directory { path, .. } => ("d", path),
                Node::Other { path, .. } => ("f", path),
                Node::Loop(path) => ("loop", path),
                Node::Error { path, .. } => ("err", path),
            };
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            out.push(format!("{tag} {rel}"));
        });
        out.sort();
        out
    }

    #[test]
    fn visits_every_entry_and_detects_loops_only_when_following() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("a/b")).unwrap();
        std::fs::write(r.join("a/b/x.log"), b"x").unwrap();
        std::fs::write(r.join("top.log"), b"x").unwrap();
        std::os::unix::fs::symlink(r.join("a"), r.join("a/b/up")).unwrap();
        assert_eq!(
            names(r, false),
            vec!["d ", "d a", "d a/b", "f a/b/up", "f a/b/x.log", "f top.log"]
        );
        assert_eq!(
            names(r, true),
            vec![
                "d ",
                "d a",
                "d a/b",
                "f a/b/x.log",
                "f top.log",
                "loop a/b/up"
            ]
        );
    }
}
