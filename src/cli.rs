//! Command-line arguments (clap derive). Validated here only as far as clap
//! can; `config.rs` turns them into a `Config`.

use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand};

const AFTER_HELP: &str = "\
Examples:
  Sandbox export: scrub a Salesforce data export into a clean copy
    panscrub scrub --out ./export-clean --manifest export.jsonl ./WE_00D000000000001_1

  Nightly cron: scrub log archives in place, quietly, with a manifest
    panscrub scrub --quiet --manifest /var/log/panscrub/$(date +%F).jsonl /var/log/app

  Forensic sweep: read-only scan of an evidence snapshot with hashes
    panscrub scan --hash --manifest case-42.jsonl /mnt/evidence

What is walked:
  Every regular file under each directory named, hidden files included;
  no ignore file (.gitignore, .ignore) is read. Symlinks met while walking
  are not followed unless -L is given; a symlink named on the command line
  is followed. FIFOs, sockets and devices are skipped unopened.

Exit codes:
  0  scan: no PAN found; scrub: every finding truncated (or none found)
  1  scan: PANs found; scrub: some findings left in place (report-only inputs)
  2  usage error, no file selected, or an input could not be processed
  130, 143  stopped by SIGINT, SIGTERM (the manifest says so)";

/// Find payment card numbers (PANs) in files and truncate them in place.
#[derive(Parser, Debug)]
#[command(
    name = "panscrub",
    version,
    propagate_version = true,
    about,
    after_help = AFTER_HELP
)]
#[deny(missing_docs)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
#[deny(missing_docs)]
pub enum Command {
    /// Report PANs; read-only, changes nothing (exit 1 when PANs are found).
    Scan(ScanArgs),
    /// Truncate PANs in place (or into a mirror tree with --out).
    Scrub(ScrubArgs),
    /// Summarise manifests (several shards, interrupted runs too): tables by
    /// brand, directory or Salesforce object, top files, errors.
    Report(ReportArgs),
    /// Merge manifests of `--shard` runs into one with summed totals.
    Merge(MergeArgs),
    /// Print a shell completion script.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff): `panscrub man` for panscrub(1), `panscrub
    /// man scan` for panscrub-scan(1); or write them all with --dir.
    Man {
        /// The subcommand whose page to print.
        #[arg(value_parser = ["scan", "scrub", "report", "merge", "completions", "man"])]
        command: Option<String>,
        /// Write every page (panscrub.1, panscrub-scan.1, ...) into DIR.
        #[arg(long, value_name = "DIR", conflicts_with = "command")]
        dir: Option<PathBuf>,
    },
}

/// Options of `report`.
#[derive(ClapArgs, Debug)]
#[deny(missing_docs)]
pub struct ReportArgs {
    /// Manifest files (JSON Lines).
    #[arg(required = true, value_name = "MANIFEST")]
    pub manifests: Vec<PathBuf>,
    /// text (tables), csv (one row per finding, or per file with
    /// --files), json (one object) or html (one self-contained page for an
    /// auditor; use with -o).
    #[arg(long, default_value = "text", value_parser = ["text", "csv", "json", "html"])]
    pub format: String,
    /// With --format csv: one row per file (status, sha256, reason)
    /// instead of one per finding.
    #[arg(long)]
    pub files: bool,
    /// Write the report to FILE (mode 0600) instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Options of `merge`.
#[derive(ClapArgs, Debug)]
#[deny(missing_docs)]
pub struct MergeArgs {
    /// Manifest files (JSON Lines).
    #[arg(required = true, value_name = "MANIFEST")]
    pub manifests: Vec<PathBuf>,
    /// Where to write the merged manifest (mode 0600); never one of the
    /// inputs, and an existing manifest only with --force.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: PathBuf,
    /// Replace an existing manifest at the -o path.
    #[arg(long)]
    pub force: bool,
}

/// Options of `scan`.
#[derive(ClapArgs, Debug)]
#[deny(missing_docs)]
pub struct ScanArgs {
    /// Files or directories to scan (directories are walked recursively);
    /// `-` reads the list of paths from stdin (as --files-from -).
    #[arg(required_unless_present = "files_from", value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Options shared with scrub.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options of `scrub`.
#[derive(ClapArgs, Debug)]
#[deny(missing_docs)]
pub struct ScrubArgs {
    /// Files or directories to scrub (directories are walked recursively);
    /// `-` reads the list of paths from stdin (as --files-from -).
    #[arg(required_unless_present = "files_from", value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Write scrubbed copies into this directory (a mirror of each root,
    /// as `DIR/<root name>/...`); the originals are left untouched.
    #[arg(long, value_name = "DIR", help_heading = "Scrub")]
    pub out: Option<PathBuf>,
    /// Give scrubbed files the time of the scrub as their modification
    /// time. By default they keep their old times (log retention by age
    /// keeps working), which an rsync-style quick check (size + mtime)
    /// does not notice: see the README on backups.
    #[arg(long, help_heading = "Scrub")]
    pub touch: bool,
    /// Also truncate PANs in binary files (NUL bytes), which are report-only
    /// by default.
    #[arg(long, help_heading = "Scrub")]
    pub scrub_binary: bool,
    /// Options shared with scan.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Options shared by scan and scrub.
#[derive(ClapArgs, Debug)]
#[deny(missing_docs)]
pub struct CommonArgs {
    /// Write the manifest (JSON Lines, owner-only permissions) to FILE.
    #[arg(long, short = 'm', value_name = "FILE", help_heading = "Output")]
    pub manifest: Option<PathBuf>,
    /// Replace an existing manifest at the --manifest path (only a panscrub
    /// manifest is ever replaced; any other file is refused).
    #[arg(long, help_heading = "Output")]
    pub force: bool,
    /// Print each finding as a JSON object (the manifest's finding record)
    /// on stdout, one per line, instead of a text line.
    #[arg(long, help_heading = "Output", conflicts_with_all = ["files_with_findings", "count"])]
    pub json: bool,
    /// Print only the paths of files with findings, one per line.
    #[arg(long, short = 'l', help_heading = "Output", conflicts_with = "count")]
    pub files_with_findings: bool,
    /// Print `path:count` for each file with findings.
    #[arg(long, short = 'c', help_heading = "Output")]
    pub count: bool,
    /// Colour finding lines: auto (when stdout is a terminal), always or
    /// never. The masked part of each number is highlighted.
    #[arg(long, value_name = "WHEN", default_value = "auto", value_parser = ["auto", "always", "never"], help_heading = "Output")]
    pub color: String,
    /// Print nothing but errors (for cron).
    #[arg(long, short = 'q', help_heading = "Output")]
    pub quiet: bool,
    /// Record the sha256 of every file in the manifest, not only of changed
    /// files (forensic sweeps).
    #[arg(long, help_heading = "Output", conflicts_with = "no_hash")]
    pub hash: bool,
    /// Write the manifest in path order (reproducible evidence reports);
    /// lines are then held until the run ends.
    #[arg(long, help_heading = "Output")]
    pub sort: bool,
    /// Record no sha256 at all, not even of changed files: an in-place
    /// scrub then reads back only the masked spans (fastest for nightly
    /// runs over large logs).
    #[arg(long, help_heading = "Output")]
    pub no_hash: bool,
    /// Settings file (TOML); `./panscrub.toml` is used when present and no
    /// file is named. Flags override it.
    #[arg(long, value_name = "FILE", help_heading = "Policy")]
    pub config: Option<PathBuf>,
    /// Digits kept visible: 6+4 (first six, last four; the default), 8+4
    /// (only for PANs of 16+ digits, else 6+4) or 0+4.
    #[arg(long, value_name = "POLICY", help_heading = "Masking", value_parser = ["6+4", "8+4", "0+4"])]
    pub keep: Option<String>,
    /// Character replacing masked digits (default `*`): printable ASCII, not
    /// a digit, space or dash.
    #[arg(long, value_name = "C", help_heading = "Masking")]
    pub mask_char: Option<char>,
    /// Only walk files whose path (relative to the root) matches GLOB;
    /// repeatable.
    #[arg(long, short = 'g', value_name = "GLOB", help_heading = "Selection")]
    pub include: Vec<String>,
    /// Read the paths to process from FILE (`-`: stdin), one per line, in
    /// addition to those on the command line.
    #[arg(long, value_name = "FILE", help_heading = "Selection")]
    pub files_from: Option<PathBuf>,
    /// The path list (--files-from, `-`) is NUL-separated (`find -print0`).
    #[arg(long = "null", short = '0', help_heading = "Selection")]
    pub null: bool,
    /// Follow symlinks while walking (each file is processed once, under
    /// its real path; loops are skipped). By default they are skipped.
    #[arg(long, short = 'L', help_heading = "Selection")]
    pub follow: bool,
    /// Skip files and directories whose path (relative to the root) matches
    /// GLOB; repeatable.
    #[arg(long, short = 'x', value_name = "GLOB", help_heading = "Selection")]
    pub exclude: Vec<String>,
    /// Most bytes decoded from one compressed input, all members and levels
    /// together (K, M, G, T suffixes; default 64G); beyond it the input is
    /// an error.
    #[arg(long, value_name = "SIZE", help_heading = "Archives")]
    pub max_expanded: Option<String>,
    /// Highest compression ratio of one stream beyond its first 16 MiB
    /// (default 1000).
    #[arg(long, value_name = "N", help_heading = "Archives")]
    pub max_ratio: Option<u64>,
    /// Deepest nesting of archives, a zip inside a zip being 2 (default 4).
    #[arg(long, value_name = "N", help_heading = "Archives")]
    pub max_depth: Option<usize>,
    /// Most decoded bytes of one member held in memory (default 1G): a zip
    /// inside an archive (read by seeking) and a CSV or JSON member of a
    /// tar stream (read twice to locate rows). Beyond it the nested zip is
    /// an error and the tar member is scanned without row locations.
    #[arg(long, value_name = "SIZE", help_heading = "Archives")]
    pub max_held: Option<String>,
    /// Leave alone the PANs and BIN prefixes listed in FILE (one per line,
    /// `#` comments); repeatable. Reported as `allowed`.
    #[arg(long, value_name = "FILE", help_heading = "Policy")]
    pub allow: Vec<PathBuf>,
    /// Leave alone the well-known public test card numbers.
    #[arg(long, help_heading = "Policy")]
    pub allow_test_cards: bool,
    /// Look for PANs only: no card verification codes (`cvv=123`), and no
    /// track data masked beyond the PAN.
    #[arg(long, help_heading = "Policy")]
    pub pan_only: bool,
    /// Add to each finding a keyed fingerprint (HMAC-SHA-256 of the PAN,
    /// 128 bits) with the key read from FILE, to correlate cards across
    /// files without storing them.
    #[arg(long, value_name = "FILE", help_heading = "Policy")]
    pub fingerprint_key: Option<PathBuf>,
    /// Process only shard K of N (0-based), chosen by a hash of each path:
    /// N processes with the same roots cover the tree exactly once. `slurm`
    /// takes K and N from the Slurm array task (`SLURM_ARRAY_TASK_ID`,
    /// `SLURM_ARRAY_TASK_COUNT`); `k8s` from an Indexed Job pod
    /// (`JOB_COMPLETION_INDEX`, `PANSCRUB_SHARD_COUNT`).
    #[arg(long, value_name = "K/N", help_heading = "Performance")]
    pub shard: Option<String>,
    /// Worker threads (default: the number of CPUs).
    #[arg(long, short = 'j', value_name = "N", help_heading = "Performance")]
    pub jobs: Option<usize>,
}
