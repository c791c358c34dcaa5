//! JSON paths for findings in JSON and JSON Lines (`$.records[3].Description`),
//! so the source record can be fixed. Like the CSV locator, it sweeps the
//! bytes once, forward, only for files with findings, keeping just the
//! current nesting (keys capped) — never a parsed document. Each top-level
//! value (each NDJSON line) starts again at `$`.

use std::io::{self, BufRead, BufReader, Read};

/// Longest key kept, in bytes.
const MAX_KEY: usize = 256;

enum Frame {
    Object { key: Vec<u8>, expecting_key: bool },
    Array { index: usize },
}

/// Maps stream offsets (ascending) to JSON paths.
pub struct JsonLocator<R: Read> {
    r: BufReader<R>,
    pos: u64,
    stack: Vec<Frame>,
    in_string: bool,
    escape: bool,
    string_is_key: bool,
    key: Vec<u8>,
}

impl<R: Read> JsonLocator<R> {
    /// A locator over a stream that starts at offset 0.
    pub fn new(r: R) -> JsonLocator<R> {
        JsonLocator {
            r: BufReader::with_capacity(256 * 1024, r),
            pos: 0,
            stack: Vec::new(),
            in_string: false,
            escape: false,
            string_is_key: false,
            key: Vec::new(),
        }
    }

    /// The path of the value holding `offset` (ascending across calls).
    pub fn locate(&mut self, offset: u64) -> io::Result<String> {
        while self.pos < offset {
            let buf = self.r.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            let n = buf.len().min((offset - self.pos) as usize);
            let chunk = buf[..n].to_vec();
            self.r.consume(n);
            self.pos += n as u64;
            for b in chunk {
                self.step(b);
            }
        }
        Ok(self.path())
    }

    fn step(&mut self, b: u8) {
        if self.in_string {
            if self.escape {
                self.escape = false;
            } else if b == b'\\' {
                self.escape = true;
            } else if b == b'"' {
                self.in_string = false;
                if self.string_is_key {
                    if let Some(Frame::Object { key, .. }) = self.stack.last_mut() {
                        *key = std::mem::take(&mut self.key);
                    }
                }
                return;
            }
            if self.string_is_key && self.key.len() < MAX_KEY && !(b == b'\\' && self.escape) {
                self.key.push(b);
            }
            return;
        }
        match b {
            b'"' => {
                self.in_string = true;
                self.string_is_key = matches!(
                    self.stack.last(),
                    Some(Frame::Object {
                        expecting_key: true,
                        ..
                    })
                );
                self.key.clear();
            }
            b'{' => self.stack.push(Frame::Object {
                key: Vec::new(),
                expecting_key: true,
            }),
            b'[' => self.stack.push(Frame::Array { index: 0 }),
            b'}' | b']' => {
                self.stack.pop();
            }
            b':' => {
                if let Some(Frame::Object { expecting_key, .. }) = self.stack.last_mut() {
                    *expecting_key = false;
                }
            }
            b',' => match self.stack.last_mut() {
                Some(Frame::Object { expecting_key, .. }) => *expecting_key = true,
                Some(Frame::Array { index }) => *index += 1,
                None => {}
            },
            _ => {}
        }
    }

    /// The path of the current value, `$.a[3].b`. Bounded whatever the
    /// input: past [`PATH_HEAD`] + [`PATH_TAIL`] levels the middle is
    /// elided (`$.a.b…[3].Description`), and a key is cut at
    /// [`PATH_KEY_CHARS`]
    /// characters (`…` marks both), so 400 KB of `[` cannot make a 600 KB
    /// path on every finding.
    fn path(&self) -> String {
        let mut s = String::from("$");
        let n = self.stack.len();
        for (i, f) in self.stack.iter().enumerate() {
            if n > PATH_HEAD + PATH_TAIL && i >= PATH_HEAD && i < n - PATH_TAIL {
                if i == PATH_HEAD {
                    s.push('…');
                }
                continue;
            }
            match f {
                Frame::Array { index } => s.push_str(&format!("[{index}]")),
                Frame::Object { key, .. } => {
                    let k = String::from_utf8_lossy(key);
                    let k = if k.chars().count() > PATH_KEY_CHARS {
                        let cut: String = k.chars().take(PATH_KEY_CHARS).collect();
                        std::borrow::Cow::Owned(format!("{cut}…"))
                    } else {
                        k
                    };
                    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        s.push('.');
                        s.push_str(&k);
                    } else {
                        s.push_str(&format!("[{:?}]", k.as_ref()));
                    }
                }
            }
        }
        s
    }
}

/// Levels of a JSON path kept at its start and at its end.
const PATH_HEAD: usize = 4;
/// See [`PATH_HEAD`].
const PATH_TAIL: usize = 12;
/// Characters of one key kept in a JSON path.
const PATH_KEY_CHARS: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(doc: &str, needles: &[&str]) -> Vec<String> {
        let mut l = JsonLocator::new(doc.as_bytes());
        let mut offs: Vec<u64> = needles
            .iter()
            .map(|n| doc.find(n).unwrap() as u64)
            .collect();
        offs.sort();
        offs.iter().map(|&o| l.locate(o).unwrap()).collect()
    }

    #[test]
    fn deep_nesting_and_long_keys_give_a_bounded_path() {
        let depth = 400_000;
        let mut doc = "[".repeat(depth);
        doc.push_str("{\"Description\": \"4111\"}");
        let p = paths(&doc, &["4111"]).remove(0);
        assert!(p.len() < 200, "{} bytes", p.len());
        assert!(
            p.starts_with("$[0][0][0][0]…") && p.ends_with("[0].Description"),
            "{p}"
        );
        let key = "k".repeat(10_000);
        let doc = format!("{{\"{key}\": \"4111\"}}");
        let p = paths(&doc, &["4111"]).remove(0);
        assert_eq!(p, format!("$[\"{}…\"]", "k".repeat(PATH_KEY_CHARS)));
    }

    #[test]
    fn nested_objects_arrays_and_ndjson() {
        let doc = r#"{"records": [{"Id": "a", "Description": "x"}, {"Id": "b", "Description": "4111", "n": [1, 5555]}], "k y": "6011"}
{"card": 3782}
"#;
        assert_eq!(
            paths(doc, &["4111", "5555", "6011", "3782"]),
            vec![
                "$.records[1].Description",
                "$.records[1].n[1]",
                "$[\"k y\"]",
                "$.card"
            ]
        );
    }

    #[test]
    fn escapes_and_braces_inside_strings() {
        let doc = r#"{"a\"}": "{[,", "b": "4111"}"#;
        assert_eq!(paths(doc, &["4111"]), vec!["$.b"]);
    }
}

/// Checks that a JSON document or JSON Lines stream is valid JSON (every
/// value, one after another). The message gives the line and column of the
/// first error, never the content.
pub fn validate<R: std::io::Read>(r: R) -> Result<(), String> {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::with_capacity(256 * 1024, r);
    // A byte-order mark is no JSON but often leads a Windows tool's file:
    // UTF-8's, or the `0xFF` a UTF-16 one is in the one-byte view.
    let head = reader.fill_buf().map_err(|e| format!("read error: {e}"))?;
    let bom = if head.starts_with(b"\xef\xbb\xbf") {
        3
    } else {
        usize::from(head.first() == Some(&0xff))
    };
    reader.consume(bom);
    for value in serde_json::Deserializer::from_reader(reader).into_iter::<serde::de::IgnoredAny>()
    {
        if let Err(e) = value {
            if e.is_io() {
                return Err(format!("read error: {e}"));
            }
            return Err(format!(
                "invalid JSON at line {} column {}",
                e.line(),
                e.column()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod validate_tests {
    #[test]
    fn ndjson_with_a_bad_line_is_invalid() {
        assert!(super::validate(&b"{\"a\":1}\n{\"b\":[2]}\n"[..]).is_ok());
        assert!(super::validate(&b"{\"a\": \"x\"}"[..]).is_ok());
        let err = super::validate(&b"{\"a\":1}\n{\"b\": 4111111111111111,}\n{}\n"[..]).unwrap_err();
        assert_eq!(err, "invalid JSON at line 2 column 24");
        assert!(super::validate(&b"{\"a\": \"unterminated"[..]).is_err());
        assert!(super::validate(&b"\xef\xbb\xbf{\"a\":1}"[..]).is_ok());
        assert!(super::validate(&b"\xff{\"a\":1}"[..]).is_ok());
    }
}
