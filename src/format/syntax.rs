//! Where a `*` would break the syntax: bare JSON numbers and SQL numeric
//! literals. Such PANs are masked with digits instead
//! ([`crate::mask::MaskPolicy::mask_numeric`]) so the document still parses.
//!
//! The decision looks only at the bytes the finding carries around it, so it
//! costs nothing per byte. It errs towards "number": a PAN inside a JSON
//! string that happens to sit between `:` and `,` is masked with digits too,
//! which is still valid and no longer a PAN; the opposite error (a `*` in a
//! number) would break the file.

use std::path::Path;

use crate::detect::Finding;

/// The syntax of a text input, as far as masking cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// Anything else: `*` is fine everywhere.
    Plain,
    /// JSON or JSON Lines.
    Json,
    /// A SQL dump (`INSERT … VALUES`, `COPY … FROM stdin`).
    Sql,
}

/// Whether the name says the file is JSON (`.json`, `.ndjson`, `.jsonl`,
/// `.geojson`); content that merely looks like JSON (a log of JSON lines)
/// is not held to being valid JSON.
pub fn declares_json(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| JSON_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

const JSON_EXTENSIONS: &[&str] = &["json", "ndjson", "jsonl", "geojson"];

/// Decides the syntax from the name (`.json`, `.ndjson`, `.jsonl`, `.sql`)
/// or, failing that, from a first non-blank `{`.
pub fn syntax_for(path: &Path, head: &[u8]) -> Syntax {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some(e) if JSON_EXTENSIONS.contains(&e) => return Syntax::Json,
        Some("sql") => return Syntax::Sql,
        _ => {}
    }
    match head.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Syntax::Json,
        _ => Syntax::Plain,
    }
}

/// True when the finding is a bare number in `syntax`.
pub fn is_bare_number(f: &Finding, syntax: Syntax) -> bool {
    if syntax == Syntax::Plain || f.span_bytes().iter().any(|b| !b.is_ascii_digit()) {
        return false;
    }
    let mut before = f.before();
    // A sign belongs to the number.
    if let Some((&b'-', rest)) = before.split_last() {
        before = rest;
    }
    match syntax {
        Syntax::Json => {
            let prev = before.iter().rev().find(|b| !b.is_ascii_whitespace());
            let next = f.after().iter().find(|b| !b.is_ascii_whitespace());
            matches!(prev, None | Some(b':' | b'[' | b','))
                && matches!(next, None | Some(b',' | b'}' | b']'))
        }
        Syntax::Sql => {
            // Spaces are skipped, but tabs and newlines are COPY delimiters.
            let prev = before.iter().rev().find(|b| **b != b' ' && **b != b'\r');
            let next = f.after().iter().find(|b| **b != b' ' && **b != b'\r');
            matches!(prev, None | Some(b'(' | b',' | b'=' | b'\t' | b'\n'))
                && matches!(next, None | Some(b',' | b')' | b';' | b'\t' | b'\n'))
        }
        Syntax::Plain => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::Detector;

    fn bare(text: &str, syntax: Syntax) -> bool {
        let f = Detector::default().find_iter(text.as_bytes())[0];
        is_bare_number(&f, syntax)
    }

    #[test]
    fn json_numbers_and_strings() {
        assert!(bare(r#"{"card": 4111111111111111}"#, Syntax::Json));
        assert!(bare("[1, -4111111111111111 ,2]", Syntax::Json));
        assert!(bare("{\"a\":\n    4111111111111111\n}", Syntax::Json));
        assert!(!bare(r#"{"card": "4111111111111111"}"#, Syntax::Json));
        assert!(!bare(r#"{"card": "4111 1111 1111 1111"}"#, Syntax::Json));
        assert!(!bare("card: 4111111111111111,", Syntax::Plain));
    }

    #[test]
    fn sql_literals() {
        assert!(bare(
            "INSERT INTO t VALUES (1, 4111111111111111);",
            Syntax::Sql
        ));
        assert!(bare("7\t4111111111111111\tx\n", Syntax::Sql));
        assert!(!bare("VALUES (1, '4111111111111111');", Syntax::Sql));
    }

    #[test]
    fn syntax_by_name_or_content() {
        assert_eq!(syntax_for(Path::new("a.NDJSON"), b""), Syntax::Json);
        assert_eq!(syntax_for(Path::new("dump.sql"), b""), Syntax::Sql);
        assert_eq!(syntax_for(Path::new("x"), b"  {\"a\":1}"), Syntax::Json);
        assert_eq!(
            syntax_for(Path::new("x.log"), b"[Sun Dec 04] x"),
            Syntax::Plain
        );
    }
}
