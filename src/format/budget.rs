//! Decompression budgets: an archive bomb is an error for that input, never
//! an outage. Every decoder is wrapped in a [`Limited`] reader that counts
//! expanded bytes against a per-input total and a per-stream ratio.

use std::fmt;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};

/// Expanded bytes before the ratio limit applies: small, highly repetitive
/// members (a column of zeros) are normal.
pub const RATIO_FLOOR: u64 = 16 << 20;

/// Limits for one input.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Most decoded bytes in total for one input (all members, all levels).
    pub max_expanded: u64,
    /// Most decoded bytes per compressed byte of one stream (beyond
    /// `RATIO_FLOOR`).
    pub max_ratio: u64,
    /// Deepest archive nesting (a zip in a zip is depth 2).
    pub max_depth: usize,
    /// Most decoded bytes of one member held in memory: a zip inside an
    /// archive (the zip reader seeks) and a CSV or JSON member of a tar
    /// stream (located after it is scanned).
    pub max_held: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            max_expanded: 64 << 30,
            max_ratio: 1000,
            max_depth: 4,
            max_held: 1 << 30,
        }
    }
}

/// The error payload carried through `io::Error` when a budget is exceeded.
#[derive(Debug)]
pub struct BudgetExceeded(pub String);

impl fmt::Display for BudgetExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BudgetExceeded {}

/// Bytes scanned by this process so far: plain inputs count their bytes,
/// compressed ones what they decode to (during their scan only). For the
/// progress display and the summary's rate.
static SCANNED: AtomicU64 = AtomicU64::new(0);

/// Adds `n` bytes to what this process has scanned.
pub fn count_scanned(n: u64) {
    SCANNED.fetch_add(n, Ordering::Relaxed);
}

/// Bytes this process has scanned so far.
pub fn scanned_bytes() -> u64 {
    SCANNED.load(Ordering::Relaxed)
}

/// Counts decoded bytes of one input.
pub struct Meter {
    budget: Budget,
    /// Atomic only so that a meter can be shared by the checks that run
    /// side by side on one input (`container::verify`).
    used: AtomicU64,
    /// Whether decoded bytes count as scanned (the scan, not the rebuild
    /// or its check).
    counting: bool,
}

impl Meter {
    /// A fresh meter.
    pub fn new(budget: Budget) -> Meter {
        Meter {
            budget,
            used: AtomicU64::new(0),
            counting: false,
        }
    }

    /// A meter whose decoded bytes count as scanned.
    pub fn counting(mut self) -> Meter {
        self.counting = true;
        self
    }

    /// The budget.
    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// Counts `n` more decoded bytes of a stream that has decoded `read`
    /// so far and may decode `ratio_limit` ([`Meter::ratio_limit`]); fails
    /// once the budget or the ratio is exceeded.
    pub fn charge(&self, n: u64, read: &mut u64, ratio_limit: u64) -> io::Result<()> {
        if self.counting {
            count_scanned(n);
        }
        *read += n;
        let used = self.used.fetch_add(n, Ordering::Relaxed) + n;
        if used > self.budget.max_expanded {
            return Err(io::Error::other(BudgetExceeded(format!(
                "more than {} bytes decoded",
                self.budget.max_expanded
            ))));
        }
        if *read > ratio_limit {
            return Err(io::Error::other(BudgetExceeded(format!(
                "compression ratio above {}:1",
                self.budget.max_ratio
            ))));
        }
        Ok(())
    }

    /// The most a stream `compressed` bytes long may decode to.
    pub fn ratio_limit(&self, compressed: u64) -> u64 {
        compressed
            .saturating_mul(self.budget.max_ratio)
            .max(RATIO_FLOOR)
    }

    /// Wraps a decoder of a stream that was `compressed` bytes long.
    pub fn limit<R: Read>(&self, inner: R, compressed: u64) -> Limited<'_, R> {
        Limited {
            inner,
            meter: self,
            read: 0,
            ratio_limit: self.ratio_limit(compressed),
        }
    }
}

/// A reader that fails once its meter or its ratio is exceeded.
pub struct Limited<'m, R> {
    inner: R,
    meter: &'m Meter,
    read: u64,
    ratio_limit: u64,
}

impl<R: Read> Read for Limited<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Every decoded read passes here: a requested stop ends a long
        // decode or rebuild promptly.
        crate::interrupt::check_io()?;
        let n = self.inner.read(buf)?;
        self.meter
            .charge(n as u64, &mut self.read, self.ratio_limit)?;
        Ok(n)
    }
}

/// Parses a size such as `64G`, `512M`, `4096` (binary units); the error
/// says why.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("unknown size unit in {s:?}")),
            };
            (&s[..i], m)
        }
        _ => (s, 1),
    };
    num.parse::<u64>()
        .map_err(|_| format!("invalid size {s:?}"))?
        .checked_mul(mult)
        .ok_or_else(|| format!("size {s:?} too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64G"), Ok(64 << 30));
        assert_eq!(parse_size("1k"), Ok(1024));
        assert!(parse_size("12Q").is_err());
        assert!(parse_size("x").is_err());
    }

    #[test]
    fn limits_total_and_ratio() {
        let m = Meter::new(Budget {
            max_expanded: 100,
            max_ratio: 10,
            max_depth: 1,
            ..Budget::default()
        });
        let data = [0u8; 200];
        let mut r = m.limit(&data[..], 1_000_000);
        let mut sink = Vec::new();
        let e = r.read_to_end(&mut sink).unwrap_err();
        assert!(e
            .get_ref()
            .unwrap()
            .downcast_ref::<BudgetExceeded>()
            .is_some());

        let m = Meter::new(Budget::default());
        let big = vec![0u8; (RATIO_FLOOR + 10) as usize];
        let mut r = m.limit(&big[..], 1);
        assert!(
            io::copy(&mut r, &mut io::sink()).is_err(),
            "ratio enforced past the floor"
        );
    }
}
