//! COPY text, as a table's data sits in a `pg_dump` archive: one row per
//! line, fields separated by tabs, and backslash escapes for what the data
//! holds (`\n` for a newline in a value, `\t` for a tab, `\\` for a
//! backslash).
//!
//! The detector sees a view in which the letter of an escape is a space:
//! a note holding "Card:" and a newline before the number is written
//! `Card:\n4111…`, and without the view the number would be glued to the
//! letter `n` and not be a PAN by the policy. The view has the same length
//! as the data, so offsets are the data's own; only digits are masked.

use std::io::{self, Read};

/// The same-length view of COPY text described above.
pub struct CopyView<R> {
    inner: R,
    /// The previous byte was a backslash that starts an escape.
    escaped: bool,
}

impl<R: Read> CopyView<R> {
    pub fn new(inner: R) -> Self {
        CopyView {
            inner,
            escaped: false,
        }
    }
}

impl<R: Read> Read for CopyView<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(out)?;
        for b in &mut out[..n] {
            if self.escaped {
                self.escaped = false;
                if matches!(*b, b'b' | b'f' | b'n' | b'r' | b't' | b'v') {
                    *b = b' ';
                }
            } else if *b == b'\\' {
                self.escaped = true;
            }
        }
        Ok(n)
    }
}

/// For each offset (ascending) in COPY text read from `r`, the 0-based
/// index of the field it sits in (the tabs before it on its line).
pub fn field_indexes(r: &mut dyn Read, offsets: &[u64]) -> io::Result<Vec<usize>> {
    let mut out = Vec::with_capacity(offsets.len());
    let mut buf = vec![0u8; 64 * 1024];
    let (mut pos, mut tabs) = (0u64, 0usize);
    let mut next = 0;
    while next < offsets.len() {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        for &b in &buf[..n] {
            while next < offsets.len() && offsets[next] == pos {
                out.push(tabs);
                next += 1;
            }
            match b {
                b'\t' => tabs += 1,
                b'\n' => tabs = 0,
                _ => {}
            }
            pos += 1;
        }
    }
    out.resize(offsets.len(), 0);
    Ok(out)
}

/// Whether each column of a `CREATE TABLE` statement holds numbers, so a
/// PAN stored in an integer or numeric column is masked to a number COPY
/// can load again (a `*` would make the restore fail).
pub fn numeric_columns(create: &str, columns: &[String]) -> Vec<bool> {
    let body = match (create.find('('), create.rfind(')')) {
        (Some(a), Some(b)) if a < b => &create[a + 1..b],
        _ => return vec![false; columns.len()],
    };
    let mut numeric = std::collections::HashMap::new();
    for line in body.lines() {
        let line = line.trim().trim_end_matches(',');
        let (name, rest) = if let Some(quoted) = line.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (quoted[..end].to_string(), &quoted[end + 1..]),
                None => continue,
            }
        } else {
            match line.split_once(' ') {
                Some((n, r)) => (n.to_string(), r),
                None => continue,
            }
        };
        let ty = rest.trim_start().to_ascii_lowercase();
        let is_number = ["bigint", "integer", "smallint", "numeric", "decimal", "int"]
            .iter()
            .any(|t| ty.starts_with(t))
            && !ty.contains("[]");
        numeric.insert(name, is_number);
    }
    columns
        .iter()
        .map(|c| numeric.get(c).copied().unwrap_or(false))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_letters_become_spaces_and_offsets_stay() {
        let data = b"1\tCard:\\n4111111111111111\\\\n\t\\t5\n";
        let mut view = Vec::new();
        CopyView::new(&data[..]).read_to_end(&mut view).unwrap();
        assert_eq!(view.len(), data.len());
        assert_eq!(&view, b"1\tCard:\\ 4111111111111111\\\\n\t\\ 5\n");
    }

    #[test]
    fn fields_are_counted_per_line() {
        let data = b"1\tab\tcd\n2\tef\n";
        let got = field_indexes(&mut &data[..], &[0, 2, 5, 8, 10]).unwrap();
        assert_eq!(got, vec![0, 1, 2, 0, 1]);
    }

    #[test]
    fn numeric_columns_from_create_table() {
        let create = "CREATE TABLE public.p (\n    id integer NOT NULL,\n    card text,\n    \"Card No\" bigint,\n    amount numeric(10,2),\n    tags integer[]\n);\n";
        let cols: Vec<String> = ["id", "card", "Card No", "amount", "tags"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            numeric_columns(create, &cols),
            vec![true, false, true, true, false]
        );
    }
}
