//! Card verification codes (CVV2, CVC2, CID, CSC…): 3–4 digits attached to a
//! keyword, which PCI DSS 3.3 forbids storing after authorization.
//!
//! The grammar, around a keyword found case-insensitively at an anchor of
//! [`super::anchors`]:
//!
//! ```text
//! keyword   = one of KEYWORDS, `_` meaning "`_`, `-` or nothing",
//!             then optionally one of SUFFIXES (`cvv_code`, `cvvNumber`)
//! left      = start, a non-word byte, `_` `-` `.` (`card_cvv`, `x-cvv`),
//!             or a camelCase join (`cardCvv`: lowercase, then uppercase)
//! right     = not a letter, digit or `_` (`cvv_version` is another key)
//! assign    = closing quote? blanks? (`=>` | `:=` | `=` | `:` | `>` after `<kw`)
//! value     = blanks? opening quote? 3–4 digits, then not a letter, digit
//!             or `_`, and no `.`/`-` glued to more (`123.45`, `123-a`)
//! ```
//!
//! It covers `key=value`, `key: value`, JSON `"key": "value"` and
//! `"key": 123`, XML `<cvv>123</cvv>` and attributes, SQL `cvv = '123'`.
//! CSV columns named so are matched by [`is_code_column`] and
//! [`is_code_value`] (the value is not next to its header).

use super::prefilter::is_digit;

/// The keywords, lowercase; `_` matches `_`, `-` or nothing. Longest
/// first where one is a prefix of another.
pub const KEYWORDS: &[&str] = &[
    "card_verification",
    "security_code",
    "cvv2",
    "cvc2",
    "cvv",
    "cvc",
    "cvn",
    "cvd",
    "cid",
    "csc",
];

/// Optional suffixes after a keyword (`cvv_code`, `securityCodeValue`).
const SUFFIXES: &[&str] = &["_value", "_code", "_number", "_num", "_no"];

/// Bytes from a keyword's first byte to its value's first digit, at most:
/// `card_verification_number` (24), a quote, three blanks, `=>`, three
/// blanks and a quote.
const KEYWORD_TO_VALUE: usize = 24 + 1 + 3 + 2 + 3 + 1;

/// Bytes before a value that the grammar may look at: the keyword and what
/// joins it to the value, the byte before the keyword (boundary, `<`) and
/// the two letters before a `security` anchor.
pub const CVV_LEFT_CONTEXT: usize = KEYWORD_TO_VALUE + 4;

#[inline(always)]
fn fold(b: u8) -> u8 {
    b.to_ascii_lowercase()
}

#[inline(always)]
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Matches `kw` (lowercase, `_` optional separator) at `hay[i..]`; returns
/// the end.
fn match_word(hay: &[u8], mut i: usize, kw: &str) -> Option<usize> {
    for &k in kw.as_bytes() {
        if k == b'_' {
            if matches!(hay.get(i), Some(b'_' | b'-')) {
                i += 1;
            }
            continue;
        }
        if fold(*hay.get(i)?) != k {
            return None;
        }
        i += 1;
    }
    Some(i)
}

/// A keyword with its optional suffix at `hay[i..]`; returns the end.
fn match_keyword(hay: &[u8], i: usize) -> Option<usize> {
    let end = KEYWORDS.iter().find_map(|kw| match_word(hay, i, kw))?;
    Some(
        SUFFIXES
            .iter()
            .filter_map(|s| match_word(hay, end, s))
            .find(|&e| !hay.get(e).is_some_and(|&b| is_word(b)))
            .unwrap_or(end),
    )
}

/// The left boundary of a keyword starting at `k`.
fn keyword_stands_alone(hay: &[u8], k: usize) -> bool {
    let Some(&l) = k.checked_sub(1).map(|p| &hay[p]) else {
        return true;
    };
    if matches!(l, b'_' | b'-' | b'.') {
        return true;
    }
    // After a JSON/SQL escape (`\ncvv=123`).
    if matches!(l, b'n' | b'r' | b't') && k >= 2 && hay[k - 2] == b'\\' {
        return true;
    }
    if l.is_ascii_alphanumeric() {
        // camelCase: `cardCvv`, `paymentCVV`.
        return l.is_ascii_lowercase() && hay[k].is_ascii_uppercase();
    }
    true
}

/// Skips up to `max` spaces or tabs.
fn blanks(hay: &[u8], mut i: usize, max: usize) -> usize {
    let end = (i + max).min(hay.len());
    while i < end && matches!(hay[i], b' ' | b'\t') {
        i += 1;
    }
    i
}

/// The value after a keyword ending at `e` (the keyword starting at `k`):
/// its start and length.
fn value_after(hay: &[u8], k: usize, e: usize) -> Option<(usize, usize)> {
    if hay.get(e).is_some_and(|&b| is_word(b)) {
        return None;
    }
    let mut i = e;
    if matches!(hay.get(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    i = blanks(hay, i, 3);
    i += match (hay.get(i), hay.get(i + 1)) {
        (Some(b'='), Some(b'>')) | (Some(b':'), Some(b'=')) => 2,
        (Some(b'=' | b':'), _) => 1,
        // An XML element: `<cvv>123</cvv>`.
        (Some(b'>'), _) if k > 0 && hay[k - 1] == b'<' => 1,
        _ => return None,
    };
    i = blanks(hay, i, 3);
    if matches!(hay.get(i), Some(b'"' | b'\'')) {
        i += 1;
    }
    let start = i;
    while i < hay.len() && i - start < 5 && is_digit(hay[i]) {
        i += 1;
    }
    let len = i - start;
    if !(3..=4).contains(&len) {
        return None;
    }
    value_stands_alone(hay, i).then_some((start, len))
}

/// The right boundary of a value ending at `e`.
fn value_stands_alone(hay: &[u8], e: usize) -> bool {
    match hay.get(e) {
        None => true,
        Some(&b) if is_word(b) => false,
        Some(b'.' | b'-') => !hay.get(e + 1).is_some_and(|b| b.is_ascii_alphanumeric()),
        Some(_) => true,
    }
}

/// Every code whose first digit lies in `[lo, hi)`, in order, as
/// `(start, length)`. Needs `CVV_LEFT_CONTEXT` bytes before `lo` (unless
/// `lo` is the stream start) and a few after `hi`.
pub fn for_each_code(hay: &[u8], lo: usize, hi: usize, f: &mut dyn FnMut(usize, usize)) {
    let from = lo.saturating_sub(KEYWORD_TO_VALUE + 2);
    let mut last_end = 0;
    super::anchors::for_each_anchor(hay, from, hi, &mut |a| {
        let at = |k: usize| hay.get(k).map_or(0, |b| fold(*b));
        let k = match at(a + 1) {
            // `security` puts its anchor on its third letter.
            b'u' if a >= 2 && at(a - 2) == b's' && at(a - 1) == b'e' => a - 2,
            b'u' => return,
            _ => a,
        };
        let Some(e) = match_keyword(hay, k) else {
            return;
        };
        if !keyword_stands_alone(hay, k) {
            return;
        }
        if let Some((s, len)) = value_after(hay, k, e) {
            if s >= lo && s < hi && s >= last_end {
                last_end = s + len;
                f(s, len);
            }
        }
    });
}

/// Whether a column name (a CSV header) names a verification code:
/// `CVV`, `cvv2`, `Card_CVV__c`, `Security Code`.
pub fn is_code_column(name: &str) -> bool {
    let name = name.trim().trim_matches('"');
    let name = name.strip_suffix("__c").unwrap_or(name);
    // `Security Code`: a space joins words as `_` does.
    let b: Vec<u8> = name
        .bytes()
        .map(|c| if c == b' ' { b'_' } else { c })
        .collect();
    (0..b.len()).any(|k| {
        let boundary = k == 0
            || matches!(b[k - 1], b'_' | b'-' | b'.')
            || (b[k - 1].is_ascii_lowercase() && b[k].is_ascii_uppercase());
        boundary && match_keyword(&b, k) == Some(b.len())
    })
}

/// Whether a cell holds a verification code: 3 or 4 ASCII digits.
pub fn is_code_value(v: &[u8]) -> bool {
    (3..=4).contains(&v.len()) && v.iter().all(|&b| is_digit(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(s: &str) -> Vec<&str> {
        let mut v = Vec::new();
        for_each_code(s.as_bytes(), 0, s.len(), &mut |a, n| v.push(&s[a..a + n]));
        v
    }

    #[test]
    fn keyword_forms_found() {
        for (text, want) in [
            ("cvv=123", "123"),
            ("CVV2: 4567", "4567"),
            ("cvc2 = 999 ok", "999"),
            (r#"{"cvv": "123"}"#, "123"),
            (r#"{"cvv":123,"x":1}"#, "123"),
            ("<cvv>123</cvv>", "123"),
            (r#"<card cvv="321"/>"#, "321"),
            ("UPDATE t SET cvv = '123';", "123"),
            ("card_cvv=123", "123"),
            ("cardCvv=123", "123"),
            ("security_code=1234", "1234"),
            ("securityCode: 123", "123"),
            ("SECURITY-CODE=123", "123"),
            ("card_verification_value=123", "123"),
            ("cid=1234&x=1", "1234"),
            ("csc:123", "123"),
            ("cvv_code=\"123\"", "123"),
            ("cvv => '123'", "123"),
            ("\"paid\\ncvv=123\"", "123"),
        ] {
            assert_eq!(codes(text), vec![want], "{text}");
        }
    }

    #[test]
    fn look_alikes_not_found() {
        for text in [
            "cvv_version=1234",
            "invoice=123",
            "cvv=12",
            "cvv=12345",
            "cvv=123.45",
            "cvv=123abc",
            "xcvv=123",
            "CVVs=123",
            "cvv 123",
            "decision=123",
            "acid=123",
            "cvv=***",
            "cvv>123",
            "description: 123",
        ] {
            assert!(codes(text).is_empty(), "{text}");
        }
    }

    #[test]
    fn windows_report_values_that_start_inside() {
        let s = b"aaaa cvv=123 bbbb cvv=456";
        let mut v = Vec::new();
        for_each_code(s, 10, s.len(), &mut |a, _| v.push(a));
        assert_eq!(v, vec![22]);
        let mut v = Vec::new();
        for_each_code(s, 0, 10, &mut |a, _| v.push(a));
        assert_eq!(v, vec![9]);
    }

    #[test]
    fn columns() {
        for c in [
            "CVV",
            "cvv2",
            "Card_CVV__c",
            "Security Code",
            "card_verification_code",
        ] {
            assert!(is_code_column(c), "{c}");
        }
        for c in ["CVV_Version", "Invoice", "Cid_Count", "Description", "Acid"] {
            assert!(!is_code_column(c), "{c}");
        }
        assert!(is_code_value(b"123") && is_code_value(b"0123"));
        assert!(!is_code_value(b"12") && !is_code_value(b"12a") && !is_code_value(b"12345"));
    }
}
