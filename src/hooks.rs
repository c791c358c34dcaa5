//! Fault injection for the integration tests, compiled into test builds
//! only.
//!
//! `cargo test` builds the binary with the `test-hooks` feature (the crate
//! lists itself as a dev-dependency with that feature), so the tests can
//! make a run fail at a precise point: a panic with a PAN in its message, a
//! pause inside the rebuild window, a corrupted rebuild, an error after a
//! number of batches, a mask that is skipped. `cargo build` and
//! `cargo install` leave the feature off: [`TestHooks::from_env`] then
//! returns no hook and reads no environment variable.

use std::time::Duration;

/// The faults a test asked for; all off in a release build.
#[derive(Debug, Default, Clone)]
pub struct TestHooks {
    /// Panic while reporting a finding of a path containing this text,
    /// with the full PAN in the message (`PANSCRUB_INJECT_PANIC`).
    pub panic_on_path: Option<String>,
    /// Pause between a rebuild and the check that the original did not
    /// change (`PANSCRUB_TEST_REBUILD_PAUSE_MS`).
    pub rebuild_pause: Option<Duration>,
    /// Flip one byte of every rebuilt file before it is verified
    /// (`PANSCRUB_TEST_CORRUPT_REBUILD`).
    pub corrupt_rebuild: bool,
    /// Fail an in-place text scrub after this many batches were applied
    /// (`PANSCRUB_TEST_FAIL_AFTER_BATCHES`).
    pub fail_after_batches: Option<u64>,
    /// Leave the first finding of each text input unmasked in a copy, as a
    /// broken masker would (`PANSCRUB_TEST_SKIP_MASK`).
    pub skip_first_mask: bool,
    /// Pause after each batch of a text input, so that a test's signal
    /// lands mid-file (`PANSCRUB_TEST_BATCH_PAUSE_MS`).
    pub batch_pause: Option<Duration>,
    /// The most findings of a rebuilt file or tar kept between passes; 0
    /// scans again for every pass (`PANSCRUB_TEST_HELD_FINDINGS`), so small
    /// test inputs take the path of files with millions of findings.
    pub held_findings: Option<usize>,
    /// Fail a gzip scrub that the deflate splice would hand to the general
    /// rebuild, with the splice's reason (`PANSCRUB_TEST_REQUIRE_SPLICE`),
    /// so that a test sees which path a file took.
    pub require_splice: bool,
    /// Flip one byte of every gzip the deflate splice rebuilt, as a faulty
    /// encoder would (`PANSCRUB_TEST_CORRUPT_SPLICE`): verification must
    /// fail and the general rebuild take over.
    pub corrupt_splice: bool,
}

impl TestHooks {
    /// The hooks set in the environment (test builds only).
    #[cfg(feature = "test-hooks")]
    pub fn from_env() -> TestHooks {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        TestHooks {
            panic_on_path: var("PANSCRUB_INJECT_PANIC"),
            rebuild_pause: var("PANSCRUB_TEST_REBUILD_PAUSE_MS")
                .and_then(|ms| ms.parse().ok())
                .map(Duration::from_millis),
            corrupt_rebuild: var("PANSCRUB_TEST_CORRUPT_REBUILD").is_some(),
            fail_after_batches: var("PANSCRUB_TEST_FAIL_AFTER_BATCHES")
                .and_then(|n| n.parse().ok()),
            skip_first_mask: var("PANSCRUB_TEST_SKIP_MASK").is_some(),
            batch_pause: var("PANSCRUB_TEST_BATCH_PAUSE_MS")
                .and_then(|ms| ms.parse().ok())
                .map(Duration::from_millis),
            held_findings: var("PANSCRUB_TEST_HELD_FINDINGS").and_then(|n| n.parse().ok()),
            require_splice: var("PANSCRUB_TEST_REQUIRE_SPLICE").is_some(),
            corrupt_splice: var("PANSCRUB_TEST_CORRUPT_SPLICE").is_some(),
        }
    }

    /// No hooks: a release build never reads the environment for them.
    #[cfg(not(feature = "test-hooks"))]
    pub fn from_env() -> TestHooks {
        TestHooks::default()
    }
}
