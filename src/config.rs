//! Turns parsed arguments into a validated `Config`, once, at start.
//! Anything wrong here is a usage error (exit 2) before any input is read.

use std::path::PathBuf;

use crate::error::ConfigError;
pub use crate::outputs::mirror_name;
use crate::outputs::{check_manifest, check_out_dir};

/// The result of reading a run's settings.
pub type Result<T> = std::result::Result<T, ConfigError>;

fn invalid(option: &'static str, why: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        option,
        why: why.into(),
    }
}
use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::allow::{AllowList, Fingerprinter};
use crate::cli::{Command, CommonArgs};
use crate::format::budget::{parse_size, Budget};
use crate::mask::{Keep, MaskPolicy};
use crate::policy::Policy;
use crate::remediate::apply::Hashing;
use crate::settings::Settings;
use crate::shard::Shard;

/// Scan or scrub.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Read-only.
    Scan,
    /// Truncate in place or into `--out`.
    Scrub,
}

impl Mode {
    /// Name used in the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Scan => "scan",
            Mode::Scrub => "scrub",
        }
    }
}

/// What a run prints on stdout for its findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StdoutMode {
    /// `path:line:column: brand masked` per finding.
    Lines,
    /// The finding record as JSON per finding (`--json`).
    Json,
    /// The path of each file with findings (`-l`).
    FilesWithFindings,
    /// `path:count` per file with findings (`-c`).
    Count,
}

/// Everything a run needs, validated.
pub struct Config {
    /// Scan or scrub.
    pub mode: Mode,
    /// Paths named on the command line.
    pub roots: Vec<PathBuf>,
    /// Manifest destination.
    pub manifest: Option<PathBuf>,
    /// Print only errors.
    pub quiet: bool,
    /// What stdout gets.
    pub stdout_mode: StdoutMode,
    /// Colour the finding lines.
    pub color: bool,
    /// Follow symlinks while walking (`-L`).
    pub follow: bool,
    /// Which files get sha256 in the manifest.
    pub hashing: Hashing,
    /// Manifest in path order.
    pub sort: bool,
    /// What is left alone on purpose, and the fingerprint key.
    pub allow: Policy,
    /// PANs only: no verification codes or track data.
    pub pan_only: bool,
    /// This process's shard of the inputs.
    pub shard: Option<Shard>,
    /// Keep policy and mask byte.
    pub policy: MaskPolicy,
    /// Walked files must match one of these (when non-empty).
    pub include: Option<GlobSet>,
    /// Walked files and directories matching these are skipped.
    pub exclude: Option<GlobSet>,
    /// Worker threads.
    pub jobs: usize,
    /// Mirror tree for scrubbed copies.
    pub out: Option<PathBuf>,
    /// Truncate in binary files too.
    pub scrub_binary: bool,
    /// Scrubbed files get the time of the scrub as mtime (`--touch`).
    pub touch: bool,
    /// Decompression limits.
    pub budget: Budget,
}

fn globset(globs: &[String], what: &'static str) -> Result<Option<GlobSet>> {
    if globs.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for g in globs {
        b.add(Glob::new(g).map_err(|e| invalid(what, format!("glob {g:?}: {e}")))?);
    }
    Ok(Some(b.build().map_err(|e| invalid(what, e.to_string()))?))
}

/// The paths named on the command line, `-` replaced by the list read from
/// stdin, plus the list in `files_from` (`-`: stdin); lines, or NUL
/// separated with `null`. Blank entries are ignored.
fn with_listed_paths(
    named: Vec<PathBuf>,
    files_from: Option<&std::path::Path>,
    null: bool,
) -> Result<Vec<PathBuf>> {
    use std::io::Read;
    use std::os::unix::ffi::OsStrExt;
    let read_list = |from: &std::path::Path| -> Result<Vec<PathBuf>> {
        let mut bytes = Vec::new();
        let read = if from == std::path::Path::new("-") {
            std::io::stdin().lock().read_to_end(&mut bytes)
        } else {
            std::fs::File::open(from).and_then(|mut f| f.read_to_end(&mut bytes))
        };
        read.map_err(|source| ConfigError::Read {
            what: "path list",
            path: from.to_path_buf(),
            source,
        })?;
        let sep = if null { b'\0' } else { b'\n' };
        Ok(bytes
            .split(|b| *b == sep)
            .filter(|p| !p.is_empty())
            .map(|p| PathBuf::from(std::ffi::OsStr::from_bytes(p)))
            .collect())
    };
    let mut out = Vec::new();
    let mut stdin_read = false;
    for p in named {
        if p == std::path::Path::new("-") {
            if !stdin_read {
                out.extend(read_list(&p)?);
                stdin_read = true;
            }
        } else {
            out.push(p);
        }
    }
    if let Some(f) = files_from {
        if !(stdin_read && f == std::path::Path::new("-")) {
            out.extend(read_list(f)?);
        }
    }
    Ok(out)
}

impl Config {
    /// Validates the arguments of a subcommand.
    pub fn from_command(cmd: Command) -> Result<Config> {
        let (mode, paths, common, out, scrub_binary, touch) = match cmd {
            Command::Scan(a) => (Mode::Scan, a.paths, a.common, None, false, false),
            Command::Scrub(a) => (
                Mode::Scrub,
                a.paths,
                a.common,
                a.out,
                a.scrub_binary,
                a.touch,
            ),
            _ => return Err(invalid("command", "not a scan or scrub command")),
        };
        let CommonArgs {
            manifest,
            quiet,
            hash,
            no_hash,
            sort,
            keep,
            mask_char,
            include,
            exclude,
            jobs,
            max_expanded,
            max_ratio,
            max_depth,
            max_held,
            allow,
            allow_test_cards,
            pan_only,
            fingerprint_key,
            shard,
            config,
            force,
            json,
            files_with_findings,
            count,
            color,
            files_from,
            null,
            follow,
        } = common;
        let paths = with_listed_paths(paths, files_from.as_deref(), null)?;
        if paths.is_empty() {
            return Err(invalid("PATH", "no path given (the list was empty)"));
        }
        let stdout_mode = if json {
            StdoutMode::Json
        } else if files_with_findings {
            StdoutMode::FilesWithFindings
        } else if count {
            StdoutMode::Count
        } else {
            StdoutMode::Lines
        };
        let color = match color.as_str() {
            "always" => true,
            "never" => false,
            _ => {
                use std::io::IsTerminal;
                std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
            }
        } && stdout_mode == StdoutMode::Lines;
        // Flags win over the settings file; allowlists from both add up.
        let file = Settings::load(config.as_deref())?;
        let include = if include.is_empty() {
            file.include.unwrap_or_default()
        } else {
            include
        };
        let exclude = if exclude.is_empty() {
            file.exclude.unwrap_or_default()
        } else {
            exclude
        };
        let keep = keep.or(file.keep).unwrap_or_else(|| "6+4".into());
        let mask_char = mask_char.or(file.mask_char).unwrap_or('*');
        let jobs = jobs.or(file.jobs);
        let max_expanded = max_expanded
            .or(file.max_expanded)
            .unwrap_or_else(|| "64G".into());
        let max_ratio = max_ratio.or(file.max_ratio).unwrap_or(1000);
        let max_depth = max_depth.or(file.max_depth).unwrap_or(4);
        let max_held = max_held.or(file.max_held).unwrap_or_else(|| "1G".into());
        let fingerprint_key = fingerprint_key.or(file.fingerprint_key);
        let pan_only = pan_only || file.pan_only;
        let hashing = match (hash, no_hash, file.hash.as_deref()) {
            (true, _, _) => Hashing::All,
            (_, true, _) => Hashing::Off,
            (_, _, Some("all")) => Hashing::All,
            (_, _, Some("off")) => Hashing::Off,
            (_, _, Some("changed") | None) => Hashing::Changed,
            (_, _, Some(other)) => {
                return Err(invalid(
                    "hash",
                    format!("{other:?}: expected all, changed or off"),
                ))
            }
        };
        let mut allow_list = AllowList::default();
        for f in allow.iter().chain(&file.allow.files) {
            allow_list.load(f)?;
        }
        for e in file.allow.pans.iter().chain(&file.allow.bins) {
            allow_list.add(e, &|| "[allow] in the settings file".to_string())?;
        }
        if allow_test_cards || file.allow.test_cards {
            allow_list.add_test_cards();
        }
        let allow_paths = globset(&file.allow.paths, "[allow] paths")?;
        let mut allow_fields = file.allow.fields.clone();
        allow_fields.extend(file.allow.csv_fields.iter().cloned());
        let fingerprint = fingerprint_key
            .as_deref()
            .map(Fingerprinter::load)
            .transpose()?;
        let shard = shard.as_deref().map(Shard::parse).transpose()?;
        let budget = Budget {
            max_expanded: parse_size(&max_expanded).map_err(|e| invalid("--max-expanded", e))?,
            max_ratio,
            max_depth,
            max_held: parse_size(&max_held).map_err(|e| invalid("--max-held", e))?,
        };
        if max_depth == 0 || max_ratio == 0 {
            return Err(invalid("--max-depth/--max-ratio", "must be at least 1"));
        }
        let keep: Keep = keep.parse().map_err(|e: String| invalid("--keep", e))?;
        let policy =
            MaskPolicy::new(keep, mask_char).map_err(|e| invalid("--mask-char", e.to_string()))?;
        let jobs = match jobs {
            Some(0) => return Err(invalid("--jobs", "must be at least 1")),
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if let Some(out) = &out {
            check_out_dir(out, &paths)?;
        }
        if let Some(m) = &manifest {
            check_manifest(m, &paths, force)?;
        }
        Ok(Config {
            mode,
            roots: paths,
            manifest,
            quiet,
            stdout_mode,
            color,
            follow,
            hashing,
            policy,
            include: globset(&include, "--include")?,
            exclude: globset(&exclude, "--exclude")?,
            jobs,
            out,
            scrub_binary,
            touch,
            budget,
            sort,
            allow: Policy {
                list: allow_list,
                paths: allow_paths,
                fields: allow_fields,
                fingerprint,
            },
            pan_only,
            shard,
        })
    }
}
