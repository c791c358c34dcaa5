//! Integration tests: run the real binary on temp trees and check what a
//! user would check: exit codes, stdout/stderr, the manifest field by
//! field, file bytes and metadata before and after.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "it/helpers.rs"]
mod helpers;
use helpers::*;

#[path = "it/cli.rs"]
mod cli;

#[path = "it/scrub.rs"]
mod scrub;

#[path = "it/manifests.rs"]
mod manifests;

#[path = "it/structured.rs"]
mod structured;

#[path = "it/archives.rs"]
mod archives;

#[path = "it/pgdump.rs"]
mod pgdump;

#[path = "it/sad.rs"]
mod sensitive_auth_data;

#[path = "it/utf16.rs"]
mod utf16_text;

#[path = "it/reliability.rs"]
mod reliability;

#[path = "it/policy.rs"]
mod policy;

#[path = "it/parquet.rs"]
mod parquet_files;

#[path = "it/parquet_engines.rs"]
mod parquet_engines;

#[path = "it/scale_out.rs"]
mod scale_out;

#[path = "it/office.rs"]
mod office;

#[path = "it/opendocument.rs"]
mod opendocument;

#[path = "it/legacy_office.rs"]
mod legacy_office;

#[path = "it/pictures.rs"]
mod pictures;

#[path = "it/salesforce.rs"]
mod salesforce;

#[path = "it/k8s.rs"]
mod k8s;

#[path = "it/slurm.rs"]
mod slurm;

#[path = "it/pipeline.rs"]
mod pipeline;

#[path = "it/equivalence.rs"]
mod equivalence;

#[path = "it/trust.rs"]
mod trust;

#[path = "it/reports.rs"]
mod reports;

#[path = "it/interrupt.rs"]
mod interrupt;

#[path = "it/interface.rs"]
mod interface;

#[path = "it/blindspots.rs"]
mod blindspots;

#[path = "it/tar_members.rs"]
mod tar_members;

#[path = "it/recompress.rs"]
mod recompress;

#[path = "it/splice.rs"]
mod splice;
