//! Candidate assembly: the shape and "stands alone" rules of docs/policy.md,
//! evaluated at one digit-group start.
//!
//! Every PAN starts at a group start (a digit not preceded by a digit, or
//! right after a percent-escape such as the `%20` of `cc=%204111…`), and
//! whether it is a PAN depends only on the bytes from `LEFT_CONTEXT` before
//! its start to `RIGHT_CONTEXT` after it. That locality is what lets the
//! detector split a stream anywhere: a caller that provides those bytes gets
//! the same answer as with the whole input.

use super::prefilter::is_digit;
use super::separators::{escape_at, escape_before, sep_at, sep_before, MAX_SEP};

/// Longest PAN in bytes: 19 digits in 4-4-4-4-3 groups with 4 three-byte
/// separators (`%20`).
pub const MAX_SPAN: usize = MAX_DIGITS + 4 * MAX_SEP;
/// Longest PAN in digits.
pub const MAX_DIGITS: usize = 19;
/// Bytes before a start that the rules look at: for the whole-run rule of
/// separated numbers, a separator, the previous group (up to 8 digits
/// examined), the separator joining it to another run and the digit before
/// that (3 + 8 + 3 + 1); two more because a start right after an escape
/// (`%204111`) is tried only when the digit run holding the escape is no
/// PAN, and that run starts up to two bytes earlier.
pub const LEFT_CONTEXT: usize = 17;
/// Bytes from a start (inclusive) that the rules look at: the span, then a
/// separator, a following group of up to 7 digits and the byte after it
/// (an escape on the right and the byte after it fit in that too).
pub const RIGHT_CONTEXT: usize = MAX_SPAN + MAX_SEP + 8;

/// Digit-group patterns allowed for separated PANs (docs/policy.md rule 1).
const GROUPINGS: [&[u8]; 4] = [&[4, 6, 4], &[4, 6, 5], &[4, 4, 4, 4], &[4, 4, 4, 4, 3]];

/// A PAN-shaped candidate that stands alone: its end and digits.
#[derive(Clone, Copy)]
pub struct Candidate {
    /// End of the span (exclusive), in hay coordinates.
    pub end: usize,
    /// The digits with separators removed, for separated candidates only
    /// (a contiguous candidate's digits are the span itself: no copy).
    pub digits: [u8; MAX_DIGITS],
    /// How many of `digits` are used; 0 for a contiguous candidate.
    pub ndigits: u8,
}

impl Candidate {
    /// The candidate's digits, given the hay and its start.
    #[inline]
    pub fn digits<'h>(&'h self, hay: &'h [u8], s: usize) -> &'h [u8] {
        if self.ndigits == 0 {
            &hay[s..self.end]
        } else {
            &self.digits[..self.ndigits as usize]
        }
    }
}

#[inline(always)]
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Length of the digit run at `hay[i..]`, counting at most `cap`.
#[inline(always)]
fn digit_run(hay: &[u8], i: usize, cap: usize) -> usize {
    let end = hay.len().min(i + cap);
    let mut j = i;
    while j < end && is_digit(hay[j]) {
        j += 1;
    }
    j - i
}

/// Left boundary rule for a span `hay[s..e]` (the byte before is known not
/// to be a digit).
#[inline]
fn left_stands_alone(hay: &[u8], s: usize, e: usize) -> bool {
    if s == 0 {
        return true;
    }
    // A percent-escape counts as the byte it encodes: `cc%3D4111…` is
    // `cc=4111…`, `x%2D4111…` is `x-4111…`.
    if let Some(c) = escape_before(hay, s) {
        return !is_word(c) && !((c == b'-' || c == b'.') && s >= 4 && is_word(hay[s - 4]));
    }
    let l = hay[s - 1];
    if is_word(l) {
        // A JSON or SQL escape (`\n`, `\r`, `\t`) is a control character:
        // `"note":"paid\n4111…"` holds a newline, then the PAN. An escaped
        // backslash before the letter (`\\n4111`) is a literal `n`.
        if matches!(l, b'n' | b'r' | b't')
            && s >= 2
            && hay[s - 2] == b'\\'
            && (s < 3 || hay[s - 3] != b'\\')
        {
            return true;
        }
        // Track 1: the format code `B` right before the PAN is a boundary
        // after the start sentinel `%`, or, when logs dropped the sentinel,
        // at a word start with the field separator `^` right after the PAN.
        return l == b'B'
            && ((s >= 2 && hay[s - 2] == b'%')
                || ((s < 2 || !is_word(hay[s - 2])) && hay.get(e) == Some(&b'^')));
    }
    // `v2.4111…`, `blk_-4123…`: a dash or dot glued to an identifier or a
    // number continues it.
    !((l == b'-' || l == b'.') && s >= 2 && is_word(hay[s - 2]))
}

/// Right boundary rule for a span ending at `e` (exclusive; the byte there is
/// known not to be a digit).
#[inline]
fn right_stands_alone(hay: &[u8], e: usize) -> bool {
    let Some(&r) = hay.get(e) else { return true };
    if let Some(c) = escape_at(hay, e) {
        return !is_word(c)
            && !((c == b'.' || c == b'-')
                && hay.get(e + 3).is_some_and(|b| b.is_ascii_alphanumeric()));
    }
    if is_word(r) {
        return false;
    }
    // `…1111.50`, `…1111-a`: a decimal or an identifier continues.
    !((r == b'.' || r == b'-') && hay.get(e + 1).is_some_and(|b| b.is_ascii_alphanumeric()))
}

/// Whole-run rule, left side, for a separated number starting at `s` with
/// separator `sep`: true when the group before is part of the same run.
///
/// A group shared by two runs with different separators belongs to the run
/// on its left: in `4012-8888-8888-1881 4012 8888 8888 1881` the `1881`
/// ends the dashed number, so the spaced run starts at the next `4012` and
/// both numbers are PANs. A previous group of 7+ digits is never shared.
#[inline]
fn continues_run_on_left(hay: &[u8], s: usize, sep: &[u8]) -> bool {
    let l = sep.len();
    if s < l + 1 || !sep_is_at(hay, s - l, sep) || !is_digit(hay[s - l - 1]) {
        return false;
    }
    // Walk back over the previous group, at most 7 digits.
    let end = s - l;
    let mut g0 = end;
    while g0 > 0 && is_digit(hay[g0 - 1]) && end - g0 < 7 {
        g0 -= 1;
    }
    let glen = end - g0;
    let before_group = sep_before(hay, g0);
    let joined_by_other = glen <= 6
        && before_group
            .is_some_and(|o| o != sep && g0 > o.len() && is_digit(hay[g0 - o.len() - 1]));
    // `line2 4111 1111 1111 1111`: the `2` ends a word, it is not a group
    // (the `D` of a `%2D` separator is no word).
    let ends_a_word =
        glen <= 6 && g0 >= 1 && is_letter_or_underscore(hay[g0 - 1]) && before_group.is_none();
    !joined_by_other && !ends_a_word
}

/// Whether `sep` (one or three bytes) sits at `hay[i..]`: byte compares,
/// not a slice compare, on this hot path.
#[inline(always)]
fn sep_is_at(hay: &[u8], i: usize, sep: &[u8]) -> bool {
    hay.get(i) == Some(&sep[0])
        && (sep.len() == 1 || (hay.get(i + 1) == Some(&sep[1]) && hay.get(i + 2) == Some(&sep[2])))
}

#[inline(always)]
fn is_letter_or_underscore(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

/// Whole-run rule, right side: true when the digit group starting at `i`
/// (after a separator) continues the run, i.e. it is not the start of a
/// word such as `2nd`. A group of 7+ digits always continues it.
#[inline]
fn continues_run_on_right(hay: &[u8], i: usize) -> bool {
    let g = digit_run(hay, i, 7);
    !(g < 7 && hay.get(i + g).is_some_and(|&b| is_letter_or_underscore(b)))
}

/// Evaluates the shape and boundary rules for the group starting at `s`.
///
/// `s` must be a group start (`hay[s]` a digit, `hay[s-1]` not, or an
/// escape right before it). Bytes outside `hay` count as the start/end of
/// input.
#[inline]
pub fn candidate_at(hay: &[u8], s: usize) -> Option<Candidate> {
    candidate_with_group(hay, s, digit_run(hay, s, MAX_DIGITS + 1))
}

/// Like [`candidate_at`] when the caller already knows the length of the
/// first digit group (`first`, at least up to 20).
#[inline]
pub fn candidate_with_group(hay: &[u8], s: usize, first: usize) -> Option<Candidate> {
    debug_assert!(
        is_digit(hay[s]) && (s == 0 || !is_digit(hay[s - 1]) || escape_before(hay, s).is_some())
    );
    let mut c = Candidate {
        end: 0,
        digits: [0; MAX_DIGITS],
        ndigits: 0,
    };
    if first >= 13 {
        // Contiguous: 13–19 digits; 20+ is a longer number, not a PAN.
        if first > MAX_DIGITS {
            return None;
        }
        let e = s + first;
        if !left_stands_alone(hay, s, e) || !right_stands_alone(hay, e) {
            return None;
        }
        c.end = e;
        return Some(c);
    }
    if first != 4 {
        return None;
    }
    // Separated: every grouping starts with 4 digits then one separator.
    let sep = sep_at(hay, s + 4)?;
    if continues_run_on_left(hay, s, sep) {
        return None;
    }
    let mut groups = [0u8; 5];
    let mut ngroups = 0;
    let mut pos = s;
    loop {
        if ngroups == groups.len() {
            return None; // six or more groups: longer than any PAN
        }
        let g = digit_run(hay, pos, 7);
        groups[ngroups] = g as u8;
        ngroups += 1;
        if g > 6 {
            return None;
        }
        for k in 0..g {
            if c.ndigits as usize == MAX_DIGITS {
                return None;
            }
            c.digits[c.ndigits as usize] = hay[pos + k];
            c.ndigits += 1;
        }
        pos += g;
        // The run continues while the same separator is followed by a digit
        // group (not the start of a word).
        let l = sep.len();
        if sep_is_at(hay, pos, sep)
            && hay.get(pos + l).is_some_and(|&b| is_digit(b))
            && continues_run_on_right(hay, pos + l)
        {
            pos += l;
        } else {
            break;
        }
    }
    if !GROUPINGS.contains(&&groups[..ngroups]) {
        return None;
    }
    if !left_stands_alone(hay, s, pos) || !right_stands_alone(hay, pos) {
        return None;
    }
    c.end = pos;
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(hay: &[u8], s: usize) -> Option<&[u8]> {
        candidate_at(hay, s).map(|c| &hay[s..c.end])
    }

    #[test]
    fn contiguous_and_grouped_shapes() {
        assert_eq!(span(b"4111111111111111", 0), Some(&b"4111111111111111"[..]));
        assert_eq!(
            span(b"4111 1111 1111 1111", 0),
            Some(&b"4111 1111 1111 1111"[..])
        );
        assert_eq!(
            span(b"3782-822463-10005", 0),
            Some(&b"3782-822463-10005"[..])
        );
        assert_eq!(span(b"3056-930902-5904", 0), Some(&b"3056-930902-5904"[..]));
        assert_eq!(
            span(b"4109 9069 5848 3040 118", 0),
            Some(&b"4109 9069 5848 3040 118"[..])
        );
    }

    #[test]
    fn whole_run_and_mixed_separators_rejected() {
        assert_eq!(span(b"4111 1111 1111 1111 1234", 0), None);
        assert_eq!(span(b"4111-1111 1111-1111", 0), None);
        assert_eq!(span(b"4111  1111 1111 1111", 0), None);
        assert_eq!(span(b"12 4111 1111 1111 1111", 3), None);
        assert_eq!(span(b"1234567 4111 1111 1111 1111", 8), None);
        // A group shared with a dashed run on the left belongs to that run.
        assert!(span(b"4012-8888-8888-1881 4012 8888 8888 1881", 20).is_some());
        assert!(span(b"12-34 4111 1111 1111 1111", 6).is_some());
        // A digit group that is part of a word does not extend the run.
        assert!(span(b"line2 4111 1111 1111 1111", 6).is_some());
        assert!(span(b"4111 1111 1111 1111 2nd", 0).is_some());
        assert_eq!(span(b"#2 4111 1111 1111 1111", 3), None);
        assert_eq!(span(b"4111 1111 1111 1111 22", 0), None);
        assert_eq!(span(b"41111111111111111111", 0), None);
    }

    #[test]
    fn boundaries() {
        assert_eq!(span(b"x4111111111111111", 1), None);
        assert_eq!(span(b"_4111111111111111", 1), None);
        assert_eq!(span(b"4111111111111111_", 0), None);
        assert_eq!(span(b"v2.4111111111111111", 3), None);
        assert_eq!(span(b"blk_-4111111111111111", 5), None);
        assert_eq!(span(b"4111111111111111.50", 0), None);
        assert_eq!(span(b"4111111111111111-a", 0), None);
        assert!(span(b"4111111111111111.", 0).is_some());
        assert!(span(b"%B4111111111111111^", 2).is_some());
        assert!(span(br#""a\n4111111111111111""#, 4).is_some());
        assert!(span(br"x\t4111111111111111", 3).is_some());
        assert_eq!(span(br"x\\n4111111111111111", 4), None);
        assert_eq!(span(br"x/n4111111111111111", 3), None);
        assert!(span(b"t1=B4111111111111111^DOE/J^", 4).is_some());
        assert_eq!(span(b"t1=B4111111111111111 x", 4), None);
        assert_eq!(span(b"xB4111111111111111^", 2), None);
        assert!(span(b";4111111111111111=2512", 1).is_some());
        assert!(span(b"\"4111111111111111\"", 1).is_some());
        assert!(span(b"- 4111111111111111", 2).is_some());
        assert!(span(b"1234 4111111111111111", 5).is_some());
        assert!(span(b"\xc3\xa94111111111111111", 2).is_some());
    }
}
