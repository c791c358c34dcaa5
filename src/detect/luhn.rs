//! Luhn (mod 10) check digit validation.
//!
//! Runs only on candidates that already passed the shape, boundary and
//! network checks, so it is written for clarity with a small lookup table
//! rather than for SIMD.

/// `DOUBLED[d]` is the Luhn contribution of digit `d` in a doubled position.
const DOUBLED: [u8; 10] = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9];

/// Returns true when the ASCII digits pass the Luhn check.
///
/// Every byte must be an ASCII digit; the caller guarantees it (the
/// detector strips separators before calling).
pub fn is_valid(digits: &[u8]) -> bool {
    let mut sum: u32 = 0;
    for (i, &b) in digits.iter().rev().enumerate() {
        let d = (b - b'0') as usize;
        sum += if i % 2 == 1 { DOUBLED[d] } else { d as u8 } as u32;
    }
    sum.is_multiple_of(10)
}

/// Returns a check digit that makes `body` followed by it Luhn-valid.
///
/// Used to build test numbers and to make masked JSON numbers invalid.
pub fn check_digit(body: &[u8]) -> u8 {
    let mut sum: u32 = 0;
    // The check digit will sit at index 0 from the right, so body digits
    // start at index 1 (doubled first).
    for (i, &b) in body.iter().rev().enumerate() {
        let d = (b - b'0') as usize;
        sum += if i % 2 == 0 { DOUBLED[d] } else { d as u8 } as u32;
    }
    b'0' + ((10 - (sum % 10)) % 10) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_numbers() {
        assert!(is_valid(b"4111111111111111"));
        assert!(is_valid(b"371449635398431"));
        assert!(is_valid(b"30569309025904"));
        assert!(!is_valid(b"4012888888881882"));
        assert!(!is_valid(b"36168002586008"));
    }

    #[test]
    fn check_digit_completes() {
        for body in [&b"411111111111111"[..], b"37144963539843", b"1"] {
            let mut full = body.to_vec();
            full.push(check_digit(body));
            assert!(is_valid(&full));
            // Any other final digit fails.
            let last = *full.last().unwrap();
            for d in b'0'..=b'9' {
                if d != last {
                    *full.last_mut().unwrap() = d;
                    assert!(!is_valid(&full));
                }
            }
        }
    }
}
