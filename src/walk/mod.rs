//! Walking the roots: roots → inputs to process, plus entries skipped on
//! purpose and entries that could not be read.
//!
//! Rules (DESIGN.md, "Failure model"): symlinks are never followed while
//! walking (a root that is itself a symlink was named by the user and is
//! followed); FIFOs, sockets and devices are skipped without being opened;
//! an unreadable directory is an error for that entry and the walk goes on.
//! Include/exclude globs match the path relative to its root; named files
//! are always processed. Directories are read by `tree`, which opens them
//! without touching their access times where permitted.

use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::config::Config;

mod tree;
use tree::Node;

/// A regular file to process.
#[derive(Clone, Debug)]
pub struct Input {
    /// Path as found (root joined with the relative path).
    pub path: PathBuf,
    /// Size when walked.
    pub size: u64,
    /// Index of the root it came from.
    pub root: usize,
    /// Path relative to the root's mirror directory (for `--out`).
    pub rel: PathBuf,
}

/// What the walk yields.
#[derive(Debug)]
pub enum Entry {
    /// A regular file.
    Input(Input),
    /// Not processed on purpose.
    Skipped {
        /// The entry.
        path: PathBuf,
        /// Why (symlink, fifo, socket, device).
        reason: &'static str,
    },
    /// A panscrub temp file (`remediate::temp`): never scanned; removed by
    /// a scrub when stale, left alone while another run holds it.
    StaleTemp(PathBuf),
    /// A directory whose name may hold a PAN (enough digits), to be
    /// examined for one: reported, never renamed.
    Directory(PathBuf),
    /// Could not be walked.
    Error {
        /// The entry.
        path: PathBuf,
        /// The error, without file content.
        reason: String,
    },
}

fn special_kind(md: &Metadata) -> Option<&'static str> {
    let ft = md.file_type();
    if ft.is_symlink() {
        Some("symlink not followed")
    } else if ft.is_fifo() {
        Some("fifo not opened")
    } else if ft.is_socket() {
        Some("socket not opened")
    } else if ft.is_block_device() || ft.is_char_device() {
        Some("device not opened")
    } else {
        None
    }
}

/// Walks every root, handing each entry to `out` as it is found (so that
/// processing overlaps walking and memory does not grow with the number of
/// files); `exclude_path` (the manifest) is never an input.
pub fn walk(cfg: &Config, exclude_path: Option<&Path>, out: &mut dyn FnMut(Entry)) {
    // The manifest is recognised by device and inode: cheap per entry.
    let excluded = exclude_path
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| (m.dev(), m.ino()));
    let mut seen = std::collections::HashSet::new();
    for (ri, root) in cfg.roots.iter().enumerate() {
        if crate::interrupt::requested().is_some() {
            return; // stop: no new inputs
        }
        // Named roots are followed if they are symlinks: the user asked.
        let md = match std::fs::metadata(root) {
            Ok(m) => m,
            Err(e) => {
                out(Entry::Error {
                    path: root.clone(),
                    reason: format!("cannot access: {e}"),
                });
                continue;
            }
        };
        if md.is_file() {
            // A named symlink is followed to its file, which is then
            // processed (and reported) under its real path: opening and
            // replacing the link itself would fail or replace the link.
            let path = match std::fs::symlink_metadata(root) {
                Ok(l) if l.file_type().is_symlink() => {
                    root.canonicalize().unwrap_or_else(|_| root.clone())
                }
                _ => root.clone(),
            };
            // The temps an interrupted scrub of this very file left beside
            // it (a walk meets them anyway; a named file's are looked for).
            for stale in crate::remediate::temp::beside(&path, &md) {
                out(Entry::StaleTemp(stale));
            }
            if excluded != Some((md.dev(), md.ino())) {
                out(Entry::Input(Input {
                    path,
                    size: md.len(),
                    root: ri,
                    rel: PathBuf::new(),
                }));
            }
            continue;
        }
        if !md.is_dir() {
            out(Entry::Skipped {
                path: root.clone(),
                reason: special_kind(&md).unwrap_or("not a regular file"),
            });
            continue;
        }
        let prune = |p: &Path| {
            let rel = p.strip_prefix(root).unwrap_or(p);
            cfg.exclude.as_ref().is_some_and(|x| x.is_match(rel))
        };
        let stop = || crate::interrupt::requested().is_some();
        let mut visit = |node: Node| match node {
            // The root itself (a directory, or a symlink to one that the
            // user named and that is followed) is not an input; any
            // directory's name may hold a PAN.
            Node::Directory { path, .. } => {
                let name = path.file_name().unwrap_or(path.as_os_str());
                if crate::run::may_hold_pan(name) {
                    out(Entry::Directory(path));
                }
            }
            Node::Loop(path) => out(Entry::Skipped {
                path,
                reason: "symlink loop not followed",
            }),
            Node::Error { path, reason } => out(Entry::Error { path, reason }),
            Node::Other { path, md, via_link } => {
                if let Some(entry) =
                    file_entry(cfg, root, ri, path, &md, via_link, excluded, &mut seen)
                {
                    out(entry);
                }
            }
        };
        tree::walk_tree(root, cfg.follow, &prune, &stop, &mut visit);
        if stop() {
            return;
        }
    }
}

/// What a non-directory met in the tree of root `ri` becomes, if anything.
#[allow(clippy::too_many_arguments)]
fn file_entry(
    cfg: &Config,
    root: &Path,
    ri: usize,
    path: PathBuf,
    md: &Metadata,
    via_link: bool,
    excluded: Option<(u64, u64)>,
    seen: &mut std::collections::HashSet<(u64, u64)>,
) -> Option<Entry> {
    let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
    if let Some(inc) = &cfg.include {
        if !inc.is_match(&rel) {
            return None;
        }
    }
    if let Some(reason) = special_kind(md) {
        return Some(Entry::Skipped { path, reason });
    }
    if excluded == Some((md.dev(), md.ino())) {
        return None;
    }
    if path
        .file_name()
        .is_some_and(|n| crate::remediate::temp::parse_name(n).is_some())
    {
        return Some(Entry::StaleTemp(path));
    }
    // -L: a file reached through a link is processed under its real path
    // (opened without following links), and only once however many links
    // lead to it.
    let path = if cfg.follow {
        if !seen.insert((md.dev(), md.ino())) {
            return None;
        }
        if via_link {
            path.canonicalize().unwrap_or(path)
        } else {
            path
        }
    } else {
        path
    };
    Some(Entry::Input(Input {
        path,
        size: md.len(),
        root: ri,
        rel,
    }))
}
