//! The layout of a `pg_dump -Fc` (custom format) archive: the header, the
//! table of contents (TOC) and the data blocks that follow it.
//!
//! Integers are a sign byte and `int_size` bytes, least significant first;
//! strings are an integer length (-1 for NULL) and the bytes; a data
//! block's file offset in the TOC is a flag byte and `off_size` bytes.
//! A data block is a type byte (1: table data, 3: large objects), the TOC
//! entry's dump id, and the data as chunks (an integer length and the
//! bytes, ended by a zero length); large objects are, per object, its OID
//! and its chunks, ended by an OID of zero. Compressed data is one zlib
//! stream per table (or per large object) cut into chunks.
//!
//! Versions 1.12 to 1.16 (PostgreSQL 9.5 to 17) are read; the fields each
//! version added are read only from that version on, as `pg_restore` does.

use std::io::{self, Read};

/// A TOC offset flag: the data block's position is recorded.
pub const OFFSET_SET: u8 = 2;
/// Block types.
pub const BLOCK_DATA: u8 = 1;
pub const BLOCK_BLOBS: u8 = 3;

/// How the data blocks are compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Zlib,
    /// lz4 or zstd (archive 1.15 and later): not decoded.
    Other(&'static str),
}

/// One TOC entry, as far as panscrub needs it.
#[derive(Clone, Debug)]
pub struct Entry {
    pub dump_id: i64,
    /// The object's name (the table name for `TABLE DATA`).
    pub tag: String,
    pub namespace: Option<String>,
    /// `COPY public.payments (id, card) FROM stdin;` for table data.
    pub copy_stmt: Option<String>,
    /// The `CREATE TABLE` statement, kept for `TABLE` entries only.
    pub defn: Option<String>,
    /// Where in the file this entry's offset flag byte sits, and what the
    /// offset says.
    pub offset_at: u64,
    pub offset_flag: u8,
    pub data_pos: u64,
}

impl Entry {
    /// `schema.table` as a person names it.
    pub fn table_name(&self) -> String {
        match &self.namespace {
            Some(ns) if !ns.is_empty() => format!("{ns}.{}", self.tag),
            _ => self.tag.clone(),
        }
    }

    /// The column names of a `COPY … (a, b) FROM stdin;` statement.
    pub fn columns(&self) -> Vec<String> {
        let Some(stmt) = &self.copy_stmt else {
            return Vec::new();
        };
        let (Some(open), Some(close)) = (stmt.find('('), stmt.rfind(')')) else {
            return Vec::new();
        };
        if close < open {
            return Vec::new();
        }
        stmt[open + 1..close]
            .split(',')
            .map(|c| c.trim().trim_matches('"').replace("\"\"", "\""))
            .collect()
    }
}

/// The header and TOC of an archive.
#[derive(Clone, Debug)]
pub struct Archive {
    pub int_size: usize,
    pub off_size: usize,
    pub compression: Compression,
    pub entries: Vec<Entry>,
    /// Where the data blocks start (the end of the TOC).
    pub data_start: u64,
}

/// Reads the archive's primitives, counting the bytes read.
pub struct Reader<R> {
    inner: R,
    pub pos: u64,
    int_size: usize,
}

fn corrupt(why: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why.into())
}

impl<R: Read> Reader<R> {
    pub fn new(inner: R, pos: u64, int_size: usize) -> Self {
        Reader {
            inner,
            pos,
            int_size,
        }
    }

    pub fn byte(&mut self) -> io::Result<u8> {
        let mut b = [0u8; 1];
        self.inner.read_exact(&mut b)?;
        self.pos += 1;
        Ok(b[0])
    }

    /// A byte, or `None` at the end of the input.
    pub fn byte_or_end(&mut self) -> io::Result<Option<u8>> {
        let mut b = [0u8; 1];
        match self.inner.read(&mut b)? {
            0 => Ok(None),
            _ => {
                self.pos += 1;
                Ok(Some(b[0]))
            }
        }
    }

    pub fn int(&mut self) -> io::Result<i64> {
        let negative = self.byte()? != 0;
        let mut v: i64 = 0;
        for i in 0..self.int_size {
            let b = self.byte()? as i64;
            if i < 8 {
                v |= b << (8 * i);
            }
        }
        Ok(if negative { -v } else { v })
    }

    pub fn offset(&mut self, off_size: usize) -> io::Result<(u8, u64)> {
        let flag = self.byte()?;
        let mut v: u64 = 0;
        for i in 0..off_size {
            let b = self.byte()? as u64;
            if i < 8 {
                v |= b << (8 * i);
            }
        }
        Ok((flag, v))
    }

    pub fn bytes(&mut self, n: usize) -> io::Result<Vec<u8>> {
        let mut v = Vec::new();
        (&mut self.inner).take(n as u64).read_to_end(&mut v)?;
        if v.len() != n {
            return Err(corrupt("pg_dump archive: truncated"));
        }
        self.pos += n as u64;
        Ok(v)
    }

    pub fn string(&mut self) -> io::Result<Option<String>> {
        let len = self.int()?;
        if len < 0 {
            return Ok(None);
        }
        if len > 1 << 30 {
            return Err(corrupt("pg_dump archive: string length out of range"));
        }
        let b = self.bytes(len as usize)?;
        Ok(Some(String::from_utf8_lossy(&b).into_owned()))
    }
}

/// Reads the header and the TOC.
pub fn read_archive<R: Read>(r: R) -> io::Result<Archive> {
    let mut r = Reader::new(r, 0, 4);
    let magic = r.bytes(5)?;
    if magic != b"PGDMP" {
        return Err(corrupt("not a pg_dump archive"));
    }
    let version = (r.byte()?, r.byte()?, r.byte()?);
    if version.0 != 1 || !(12..=16).contains(&version.1) {
        return Err(corrupt(format!(
            "pg_dump archive version {}.{} is not supported",
            version.0, version.1
        )));
    }
    let at_least = |minor: u8| version.1 >= minor;
    let int_size = r.byte()? as usize;
    let off_size = r.byte()? as usize;
    if !(1..=16).contains(&int_size) || !(1..=16).contains(&off_size) {
        return Err(corrupt("pg_dump archive: integer sizes out of range"));
    }
    r.int_size = int_size;
    if r.byte()? != 1 {
        return Err(corrupt("pg_dump archive: not the custom format"));
    }
    let compression = if at_least(15) {
        match r.byte()? {
            0 => Compression::None,
            1 => Compression::Zlib,
            2 => Compression::Other("lz4"),
            3 => Compression::Other("zstd"),
            _ => Compression::Other("an unknown method"),
        }
    } else {
        match r.int()? {
            0 => Compression::None,
            _ => Compression::Zlib,
        }
    };
    for _ in 0..7 {
        r.int()?; // creation time
    }
    for _ in 0..3 {
        r.string()?; // database name, server and pg_dump versions
    }
    let count = r.int()?;
    if !(0..=10_000_000).contains(&count) {
        return Err(corrupt("pg_dump archive: TOC entry count out of range"));
    }
    let mut entries = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let dump_id = r.int()?;
        r.int()?; // had a data dumper
        r.string()?; // table oid
        r.string()?; // oid
        let tag = r.string()?.unwrap_or_default();
        let desc = r.string()?.unwrap_or_default();
        r.int()?; // section
                  // The CREATE TABLE statement names the columns' types.
        let defn = r.string()?.filter(|_| desc == "TABLE");
        r.string()?; // drop statement
        let copy_stmt = r.string()?;
        let namespace = r.string()?;
        r.string()?; // tablespace
        if at_least(14) {
            r.string()?; // table access method
        }
        if at_least(16) {
            r.int()?; // relkind
        }
        r.string()?; // owner
        r.string()?; // "false" (no OIDs)
        while r.string()?.is_some() {} // dependencies
        let offset_at = r.pos;
        let (offset_flag, data_pos) = r.offset(off_size)?;
        entries.push(Entry {
            dump_id,
            tag,
            namespace,
            copy_stmt,
            defn,
            offset_at,
            offset_flag,
            data_pos,
        });
    }
    Ok(Archive {
        int_size,
        off_size,
        compression,
        entries,
        data_start: r.pos,
    })
}

/// The chunks of one data stream read as one byte stream (the compressed
/// bytes, or the data itself when uncompressed), ending at the zero length.
pub struct Chunks<'a, R> {
    pub r: &'a mut Reader<R>,
    left: u64,
    done: bool,
}

impl<'a, R: Read> Chunks<'a, R> {
    pub fn new(r: &'a mut Reader<R>) -> Self {
        Chunks {
            r,
            left: 0,
            done: false,
        }
    }

    /// Reads to the end of the stream (the zero length), whatever is left.
    pub fn finish(&mut self) -> io::Result<()> {
        io::copy(self, &mut io::sink()).map(|_| ())
    }
}

impl<R: Read> Read for Chunks<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.left == 0 {
            if self.done {
                return Ok(0);
            }
            let len = self.r.int()?;
            if len < 0 {
                return Err(corrupt("pg_dump archive: negative chunk length"));
            }
            if len == 0 {
                self.done = true;
                return Ok(0);
            }
            self.left = len as u64;
        }
        let want = out.len().min(self.left as usize);
        let n = self.r.inner.read(&mut out[..want])?;
        if n == 0 {
            return Err(corrupt("pg_dump archive: truncated data chunk"));
        }
        self.r.pos += n as u64;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Writes an integer as the archive does.
pub fn put_int(out: &mut Vec<u8>, v: i64, int_size: usize) {
    out.push(u8::from(v < 0));
    let mut m = v.unsigned_abs();
    for _ in 0..int_size {
        out.push((m & 0xff) as u8);
        m >>= 8;
    }
}

/// Writes an offset's `off_size` bytes (after its flag byte).
pub fn offset_bytes(v: u64, off_size: usize) -> Vec<u8> {
    (0..off_size)
        .map(|i| if i < 8 { (v >> (8 * i)) as u8 } else { 0 })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip() {
        for v in [0i64, 1, -1, 255, 256, 1 << 31, -(1 << 20)] {
            let mut b = Vec::new();
            put_int(&mut b, v, 4);
            let mut r = Reader::new(&b[..], 0, 4);
            assert_eq!(r.int().unwrap(), v);
            assert_eq!(r.pos, 5);
        }
    }

    #[test]
    fn chunks_read_as_one_stream() {
        let mut b = Vec::new();
        for part in [&b"abc"[..], b"de"] {
            put_int(&mut b, part.len() as i64, 4);
            b.extend_from_slice(part);
        }
        put_int(&mut b, 0, 4);
        b.extend_from_slice(b"rest");
        let mut r = Reader::new(&b[..], 0, 4);
        let mut s = String::new();
        Chunks::new(&mut r).read_to_string(&mut s).unwrap();
        assert_eq!(s, "abcde");
        assert_eq!(r.bytes(4).unwrap(), b"rest");
    }

    #[test]
    fn copy_columns_are_unquoted() {
        let e = Entry {
            dump_id: 1,
            tag: "Odd Name".into(),
            namespace: Some("public".into()),
            copy_stmt: Some("COPY public.\"Odd Name\" (id, \"Card No\") FROM stdin;\n".into()),
            defn: None,
            offset_at: 0,
            offset_flag: 2,
            data_pos: 0,
        };
        assert_eq!(e.columns(), vec!["id", "Card No"]);
        assert_eq!(e.table_name(), "public.Odd Name");
    }
}
