//! The settings file (`--config FILE`, or `./panscrub.toml`): the same
//! choices as the flags, written down once for a job. Flags override it;
//! allowlists from both are combined. Unknown keys are errors that name the
//! key.
//!
//! ```toml
//! include = ["**/*.log", "**/*.gz"]
//! exclude = ["**/archive-old/**"]
//! keep = "6+4"
//! mask_char = "*"
//! jobs = 4
//! hash = "changed"          # all | changed | off
//! max_expanded = "64G"
//! max_ratio = 1000
//! max_depth = 4
//! max_held = "1G"
//! fingerprint_key = "/etc/panscrub/fp.key"
//!
//! [allow]
//! test_cards = true
//! pans = ["4111 1111 1111 1111"]
//! bins = ["601111"]
//! files = ["/etc/panscrub/allow.txt"]
//! paths = ["**/fixtures/**"]      # findings in these files are allowed
//! fields = ["TestCardNumber"]    # PANs in these CSV columns / Parquet columns are allowed
//! ```

use std::path::{Path, PathBuf};

use crate::error::ConfigError;
use serde::Deserialize;

/// Name of the file looked for in the working directory.
pub const DEFAULT_FILE: &str = "panscrub.toml";

/// The settings file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Walked files must match one of these globs.
    pub include: Option<Vec<String>>,
    /// Walked files and directories matching these globs are skipped.
    pub exclude: Option<Vec<String>>,
    /// `6+4`, `8+4` or `0+4`.
    pub keep: Option<String>,
    /// The mask character.
    pub mask_char: Option<char>,
    /// Worker threads.
    pub jobs: Option<usize>,
    /// `all`, `changed` or `off`.
    pub hash: Option<String>,
    /// Decompression budget: total decoded bytes per input.
    pub max_expanded: Option<String>,
    /// Decompression budget: ratio per stream.
    pub max_ratio: Option<u64>,
    /// Decompression budget: nesting depth.
    pub max_depth: Option<usize>,
    /// Most decoded bytes of one member held in memory.
    pub max_held: Option<String>,
    /// Key file for fingerprints.
    pub fingerprint_key: Option<PathBuf>,
    /// PANs only: no verification codes or track data (`--pan-only`).
    #[serde(default)]
    pub pan_only: bool,
    /// What to leave alone.
    #[serde(default)]
    pub allow: AllowSettings,
}

/// The `[allow]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllowSettings {
    /// The built-in public test card numbers.
    #[serde(default)]
    pub test_cards: bool,
    /// Exact PANs.
    #[serde(default)]
    pub pans: Vec<String>,
    /// BIN/IIN prefixes.
    #[serde(default)]
    pub bins: Vec<String>,
    /// Allowlist files.
    #[serde(default)]
    pub files: Vec<PathBuf>,
    /// Globs of paths whose findings are allowed.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Named fields (CSV header names, Parquet column paths) whose PANs
    /// are allowed.
    #[serde(default)]
    pub fields: Vec<String>,
    /// The older name of `fields` (it always covered Parquet columns too);
    /// both lists add up.
    #[serde(default)]
    pub csv_fields: Vec<String>,
}

impl Settings {
    /// Reads `path`, or `./panscrub.toml` when no path is given and it
    /// exists; otherwise empty settings.
    pub fn load(path: Option<&Path>) -> Result<Settings, ConfigError> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None if Path::new(DEFAULT_FILE).is_file() => PathBuf::from(DEFAULT_FILE),
            None => return Ok(Settings::default()),
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            what: "settings file",
            path: path.clone(),
            source,
        })?;
        Settings::parse(&text).map_err(|why| ConfigError::Settings { path, why })
    }

    /// Parses settings text; the error names the offending key
    /// ("unknown field `x`, expected …").
    pub fn parse(text: &str) -> Result<Settings, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_file() {
        let s = Settings::parse(
            "include = [\"*.log\"]\nkeep = \"8+4\"\nhash = \"off\"\n[allow]\ntest_cards = true\ncsv_fields = [\"Test\"]\n",
        )
        .unwrap();
        assert_eq!(s.keep.as_deref(), Some("8+4"));
        assert!(s.allow.test_cards);
        assert_eq!(s.allow.csv_fields, vec!["Test".to_string()]);
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = format!("{:#}", Settings::parse("kep = \"6+4\"\n").unwrap_err());
        assert!(e.contains("kep"), "{e}");
        let e = format!("{:#}", Settings::parse("[allow]\npan = []\n").unwrap_err());
        assert!(e.contains("pan"), "{e}");
    }
}
