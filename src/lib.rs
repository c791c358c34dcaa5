//! panscrub: find payment card numbers (PANs) in files and truncate them in
//! place.
//!
//! The library holds everything; `main.rs` only parses arguments and maps
//! the outcome to an exit code. Reading (`format`), matching (`detect`) and
//! reporting (`manifest`) are separate, in the way ripgrep separates its
//! searcher, matcher and sink.
#![deny(unsafe_code)]
#![deny(missing_docs)]

pub mod allow;
pub mod cli;
pub mod config;
pub mod detect;
pub mod error;
pub mod exit;
pub mod format;
pub mod hooks;
pub mod interrupt;
pub mod location;
pub mod manifest;
pub mod mask;
pub mod outputs;
pub mod panics;
pub mod policy;
pub mod record;
pub mod remediate;
pub mod report;
pub mod run;
pub mod schedule;
pub mod settings;
pub mod shard;
pub mod walk;
