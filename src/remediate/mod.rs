//! Remediation: everything that writes. [`apply`] masks in place or into a
//! copy with a check of every span before it is written; [`digest`] hashes
//! the bytes before and after; [`install`] puts a rebuilt file or a copy in
//! its place (temp naming, same-version check, owner, mode, times, rename,
//! directory fsync).
//!
//! Adapters decide *what* a masked byte is; this layer is the only one that
//! touches a user's file.

pub mod apply;
pub mod digest;
pub mod install;
