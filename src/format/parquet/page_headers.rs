//! The raw bytes of every page header of a column chunk. Page headers are
//! Thrift (compact protocol), never compressed, and may hold statistics in
//! two forms: `min_value`/`max_value` and the deprecated `min`/`max`. A
//! reader that finds the new fields ignores the old ones, so decoding
//! cannot show both; scanning the header's bytes does. Only the header's
//! length and its page size are read here; a minimal skipper walks the
//! rest (the parquet crate keeps its Thrift decoder to itself).

use super::*;

/// Page header bytes read at a time, doubled while a header is longer.
const FIRST_READ: usize = 4096;
/// A header longer than this is refused as corrupt (writers truncate
/// statistics to tens of bytes; a header is never near this).
const MAX_HEADER: usize = 16 << 20;

/// Hands the bytes of each page header in `at..end` to `each`.
pub(super) fn each_header(
    reader: &Pread,
    mut at: u64,
    end: u64,
    each: &mut dyn FnMut(&[u8]) -> Result<(), InputError>,
) -> Result<(), InputError> {
    let bad = |what: &str| InputError::Corrupt(format!("parquet: page header {what}"));
    if end > reader.len {
        return Err(bad("range beyond the file"));
    }
    while at < end {
        let mut want = FIRST_READ;
        let (len, body) = loop {
            let n = want.min((end - at) as usize);
            let mut buf = vec![0u8; n];
            reader
                .file
                .read_exact_at(&mut buf, at)
                .map_err(InputError::io("read"))?;
            match header(&buf) {
                Some((len, body)) => {
                    each(&buf[..len])?;
                    break (len, body);
                }
                None if n == want && want < MAX_HEADER => want *= 2,
                None => return Err(bad("cannot be read")),
            }
        };
        at = at
            .checked_add(len as u64 + body)
            .filter(|&next| next <= end)
            .ok_or_else(|| bad("page size beyond its column chunk"))?;
    }
    Ok(())
}

/// The length of the page header at the start of `bytes` and its
/// `compressed_page_size` (field 3), or `None` when `bytes` ends first or
/// the header is malformed.
fn header(bytes: &[u8]) -> Option<(usize, u64)> {
    let mut r = Compact { bytes, at: 0 };
    let mut size = None;
    let mut field = 0i16;
    loop {
        let byte = r.byte()?;
        if byte == 0 {
            return Some((r.at, size?));
        }
        let kind = byte & 0x0f;
        field = match byte >> 4 {
            0 => i16::try_from(unzigzag(r.varint()?)).ok()?,
            delta => field + i16::from(delta),
        };
        if field == 3 && kind == 5 {
            size = u64::try_from(unzigzag(r.varint()?)).ok();
        } else {
            r.skip(kind, 0)?;
        }
    }
}

struct Compact<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// Nesting deeper than any page header has is refused, so a crafted
/// header cannot recurse without end.
const MAX_DEPTH: u32 = 16;

impl Compact<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn advance(&mut self, n: u64) -> Option<()> {
        let end = self.at.checked_add(usize::try_from(n).ok()?)?;
        (end <= self.bytes.len()).then(|| self.at = end)
    }

    /// Skips one value of compact type `kind`.
    fn skip(&mut self, kind: u8, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match kind {
            1 | 2 => Some(()),                // a boolean field holds its value in the type
            3 => self.advance(1),             // byte
            4..=6 => self.varint().map(drop), // i16, i32, i64
            7 => self.advance(8),             // double
            8 => {
                let n = self.varint()?;
                self.advance(n)
            }
            9 | 10 => {
                let head = self.byte()?;
                let n = match head >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                let element = head & 0x0f;
                for _ in 0..n {
                    // A boolean element takes a byte of its own.
                    if element == 1 || element == 2 {
                        self.advance(1)?;
                    } else {
                        self.skip(element, depth + 1)?;
                    }
                }
                Some(())
            }
            11 => {
                let n = self.varint()?;
                if n == 0 {
                    return Some(());
                }
                let kinds = self.byte()?;
                for _ in 0..n {
                    self.skip_element(kinds >> 4, depth)?;
                    self.skip_element(kinds & 0x0f, depth)?;
                }
                Some(())
            }
            12 => loop {
                let byte = self.byte()?;
                if byte == 0 {
                    return Some(());
                }
                if byte >> 4 == 0 {
                    self.varint()?;
                }
                self.skip(byte & 0x0f, depth + 1)?;
            },
            _ => None,
        }
    }

    fn skip_element(&mut self, kind: u8, depth: u32) -> Option<()> {
        if kind == 1 || kind == 2 {
            self.advance(1)
        } else {
            self.skip(kind, depth + 1)
        }
    }
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_is_measured_and_its_page_size_read() {
        // type=0 (i32 zigzag 0), uncompressed=10 (20), compressed=7 (14),
        // a data page header struct { num_values=3 (6), encoding=0 (0),
        // a binary field 15 of 2 bytes }, then the end.
        let bytes = [
            0x15, 0x00, 0x15, 0x14, 0x15, 0x0e, 0x2c, 0x15, 0x06, 0x15, 0x00, 0xd8, 0x02, b'4',
            b'1', 0x00, 0x00, 0xff,
        ];
        assert_eq!(header(&bytes), Some((17, 7)));
        assert_eq!(header(&bytes[..10]), None, "cut short");
        assert_eq!(header(&[0x15, 0x00, 0x00]), None, "no page size");
    }
}
