//! Remediation: everything that writes. [`apply`] masks in place or into a
//! copy with a check of every span before it is written; [`digest`] hashes
//! the bytes before and after; [`install`] puts a rebuilt file or a copy in
//! its place (same-version check, owner, mode, times, rename, directory
//! fsync); [`temp`] names, locks and recognises the temp files.
//!
//! Adapters decide *what* a masked byte is; this layer is the only one that
//! touches a user's file.

pub mod apply;
pub mod digest;
pub mod install;
pub mod sha256x2;
pub mod temp;

/// The one check-then-mask of every remediation (in place, into a copy,
/// inside a rebuilt archive): `here` must still hold `expected`, the bytes
/// the scan saw, and only then gets `replacement`. The three slices are the
/// same part of one finding (a finding may be split across read buffers).
/// Returns false, writing nothing, when the bytes changed since the scan.
pub fn check_then_mask(here: &mut [u8], expected: &[u8], replacement: &[u8]) -> bool {
    debug_assert!(here.len() == expected.len() && here.len() == replacement.len());
    if here != expected {
        return false;
    }
    here.copy_from_slice(replacement);
    true
}

#[cfg(test)]
mod tests {
    #[test]
    fn masks_only_what_still_holds_the_scanned_bytes() {
        let mut buf = *b"4111111111111111";
        assert!(super::check_then_mask(
            &mut buf[6..12],
            b"111111",
            b"******"
        ));
        assert_eq!(&buf, b"411111******1111");
        assert!(!super::check_then_mask(
            &mut buf[6..12],
            b"111111",
            b"######"
        ));
        assert_eq!(&buf, b"411111******1111", "a changed span is not written");
    }
}
