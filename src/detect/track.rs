//! Magnetic-stripe track data around a PAN (ISO/IEC 7813), which PCI DSS 3.3
//! forbids storing: the PAN is truncated as any other, and the expiry,
//! service code and discretionary data after it are masked whole.
//!
//! ```text
//! Track 1: %B<PAN>^<NAME>^<YYMM><SSS><discretionary>?   (76 data bytes max)
//! Track 2: ;<PAN>=<YYMM><SSS><discretionary>?           (37 data bytes max)
//! ```
//!
//! The sentinels (`%`, `;`, `?`) are often stripped in logs, so they are not
//! required; what is required is the structure after the PAN: the
//! separator, (track 1) a name of 2–26 printable bytes and a second `^`,
//! then at least seven digits whose month is 01–12 and whose service code
//! starts with 1, 2, 5, 6, 7 or 9. Without an end sentinel the
//! discretionary data is taken to be digits only, so that text following
//! the track on a log line is never swallowed. The cardholder name is kept:
//! it is not sensitive authentication data.

use super::prefilter::is_digit;

/// Which track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Track {
    /// `%B…^…^…?`
    One,
    /// `;…=…?`
    Two,
}

/// A track found after a PAN: the region to remediate ends at `end`
/// (exclusive), and bytes from `tail` to `end` are masked whole.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrackSpan {
    /// Which track.
    pub track: Track,
    /// Start of the expiry/service/discretionary data.
    pub tail: usize,
    /// End of the region (the end sentinel, if any, is left alone).
    pub end: usize,
}

/// Track 1 holds 79 characters; `%`, `?` and the LRC leave 76, the
/// format code `B` included.
const TRACK1_DATA: usize = 76;
/// Track 2 holds 40 characters; `;`, `?` and the LRC leave 37.
const TRACK2_DATA: usize = 37;
/// Longest region from the PAN's first digit: a track 1 without its
/// format code.
pub const MAX_TRACK_REGION: usize = TRACK1_DATA - 1;

/// Looks for track data after a PAN occupying `hay[s..e]` (contiguous
/// digits).
pub fn after_pan(hay: &[u8], s: usize, e: usize) -> Option<TrackSpan> {
    match hay.get(e)? {
        b'=' => track2(hay, s, e),
        b'^' if s >= 1 && hay[s - 1] == b'B' => track1(hay, s, e),
        _ => None,
    }
}

fn digits_from(hay: &[u8], i: usize, cap: usize) -> usize {
    hay[i.min(hay.len())..]
        .iter()
        .take(cap)
        .take_while(|b| is_digit(**b))
        .count()
}

/// Expiry (YYMM, month 01–12) and service code (first digit 1, 2, 5, 6, 7
/// or 9) at the start of `d`.
fn expiry_and_service(d: &[u8]) -> bool {
    d.len() >= 7
        && matches!((d[2], d[3]), (b'0', b'1'..=b'9') | (b'1', b'0'..=b'2'))
        && matches!(d[4], b'1' | b'2' | b'5' | b'6' | b'7' | b'9')
}

/// The end of the discretionary data starting at `t`: up to an end
/// sentinel `?` within `room` bytes when every byte before it is
/// printable, else the digit run (never past `room`).
fn tail_end(hay: &[u8], t: usize, room: usize) -> Option<usize> {
    let limit = (t + room).min(hay.len());
    let digits = t + digits_from(hay, t, room);
    if let Some(q) = hay[t..limit].iter().position(|&b| b == b'?') {
        let body = &hay[t..t + q];
        if body
            .iter()
            .all(|&b| (0x20..0x7f).contains(&b) && b != b'^' && b != b'%')
        {
            return Some(t + q);
        }
    }
    // A digit run that goes on past the track's capacity is something else.
    if hay
        .get(digits)
        .is_some_and(|b| is_digit(*b) || b.is_ascii_alphabetic() || *b == b'_')
    {
        return None;
    }
    Some(digits)
}

fn track2(hay: &[u8], s: usize, e: usize) -> Option<TrackSpan> {
    let tail = e + 1;
    let room = TRACK2_DATA.checked_sub(tail - s)?;
    let end = tail_end(hay, tail, room)?;
    let d = &hay[tail..end];
    (d.iter().all(|b| is_digit(*b)) && expiry_and_service(d)).then_some(TrackSpan {
        track: Track::Two,
        tail,
        end,
    })
}

fn track1(hay: &[u8], s: usize, e: usize) -> Option<TrackSpan> {
    let name_start = e + 1;
    let window = &hay[name_start.min(hay.len())..(name_start + 27).min(hay.len())];
    let name_len = window.iter().position(|&b| b == b'^')?;
    let name = &window[..name_len];
    if !(2..=26).contains(&name_len)
        || !name
            .iter()
            .all(|&b| (0x20..0x7f).contains(&b) && b != b'?' && b != b'%')
    {
        return None;
    }
    let tail = name_start + name_len + 1;
    // The data counts the format code `B` before the PAN.
    let room = TRACK1_DATA.checked_sub(tail - s + 1)?;
    let end = tail_end(hay, tail, room)?;
    let d = &hay[tail..end];
    let dated = expiry_and_service(d) && d[..7].iter().all(|b| is_digit(*b));
    dated.then_some(TrackSpan {
        track: Track::One,
        tail,
        end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn track(s: &str) -> Option<(Track, &str, &str)> {
        let b = s.as_bytes();
        let start = b.iter().position(|c| c.is_ascii_digit()).unwrap();
        let e = start + b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
        after_pan(b, start, e).map(|t| (t.track, &s[e..t.tail], &s[t.tail..t.end]))
    }

    #[test]
    fn track_two() {
        assert_eq!(
            track(";4111111111111111=25121010000000000000?"),
            Some((Track::Two, "=", "25121010000000000000"))
        );
        assert_eq!(
            track("track=4111111111111111=2512101123 next"),
            Some((Track::Two, "=", "2512101123"))
        );
        // Month 13, service code 3, too short, glued letters, too long.
        assert_eq!(track(";4111111111111111=2513101000?"), None);
        assert_eq!(track(";4111111111111111=2512301000?"), None);
        assert_eq!(track(";4111111111111111=251210?"), None);
        assert_eq!(track(";4111111111111111=2512101000abc"), None);
        assert_eq!(track(";4111111111111111=25121010000000000000000000"), None);
    }

    #[test]
    fn track_one() {
        assert_eq!(
            track("%B4111111111111111^DOE/JOHN^2512101000 0000 123?"),
            Some((Track::One, "^DOE/JOHN^", "2512101000 0000 123"))
        );
        // No end sentinel: digits only, the rest of the line is kept.
        assert_eq!(
            track("B4111111111111111^DOE/JOHN ^25121010000 user=bob"),
            Some((Track::One, "^DOE/JOHN ^", "25121010000"))
        );
        assert_eq!(track("%B4111111111111111^^2512101000?"), None);
        assert_eq!(track("%B4111111111111111^DOE/JOHN^ABCD?"), None);
        assert_eq!(track("4111111111111111^DOE/JOHN^2512101000?"), None);
    }
}
