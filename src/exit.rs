//! Exit codes as a type with a merge rule (errors win over findings).

/// The process outcome, ordered by precedence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitStatus {
    /// scan: no PAN; scrub: every finding truncated or none found.
    Clean = 0,
    /// scan: PANs found; scrub: some findings left in place.
    Found = 1,
    /// A usage error or at least one input that could not be processed.
    Error = 2,
}

impl ExitStatus {
    /// Combines two outcomes: the more severe wins.
    pub fn merge(self, other: ExitStatus) -> ExitStatus {
        self.max(other)
    }

    /// The numeric process exit code.
    pub fn code(self) -> i32 {
        self as i32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_win_then_findings() {
        use ExitStatus::*;
        assert_eq!(Clean.merge(Found), Found);
        assert_eq!(Found.merge(Error), Error);
        assert_eq!(Error.merge(Clean), Error);
        assert_eq!(Clean.merge(Clean).code(), 0);
    }
}
