//! Input formats: decided by content (magic bytes), never by extension
//! alone. Each adapter owns its bytes and hands them to the detector.

pub mod budget;
pub mod container;
pub mod csv;
pub mod csv_codes;
pub mod image;
pub mod json;
pub mod legacy;
pub mod office;
pub mod parquet;
pub mod pdf;
pub mod pgdump;
pub mod syntax;
pub mod text;
pub mod utf16;

/// How many leading bytes `sniff` looks at.
pub const SNIFF_LEN: usize = 8192;
/// Files up to this size are read whole, once, and scanned from memory.
pub const SMALL_FILE: u64 = 64 * 1024;

/// The format of an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Text: scanned and masked in place.
    Text,
    /// UTF-16 text (LE or BE, BOM or not): scanned through a one-byte view
    /// and masked in place with UTF-16 mask characters.
    Utf16(utf16::Endian),
    /// NUL bytes in the first `SNIFF_LEN` bytes: scanned for ASCII digits,
    /// report-only unless `--scrub-binary`.
    Binary,
    /// gzip (also several members concatenated): scanned decoded, rebuilt.
    Gzip,
    /// Zstandard (one or more frames): scanned decoded, rebuilt.
    Zstd,
    /// xz (one or more streams): scanned decoded, rebuilt.
    Xz,
    /// bzip2 (one or more streams): scanned decoded, rebuilt.
    Bzip2,
    /// LZ4 frame format (`.lz4` logs; one or more frames): scanned
    /// decoded, rebuilt.
    Lz4,
    /// Zip archive: every member scanned, nested archives too; rebuilt with
    /// untouched members copied as they are.
    Zip,
    /// Uncompressed tar: members scanned by name and masked in place (member
    /// data is stored raw; headers are never written).
    Tar,
    /// Apache Parquet: every string, binary and 13–19 digit integer cell
    /// scanned; rebuilt with the same schema, row groups and codecs. Inside
    /// an archive, scanned as raw bytes and report-only.
    Parquet,
    /// PDF: text read page by page, findings report-only (`pdf`).
    Pdf,
    /// OLE compound file (legacy `.doc`, `.xls`, `.ppt`, Outlook `.msg`):
    /// streams read as 8-bit and UTF-16 text, Excel numbers as integers;
    /// findings report-only (`legacy`).
    Ole,
    /// A part of an Office document (a member of an OOXML package) that
    /// holds document text: scanned through its text view and rebuilt
    /// with digits masked where they stand. Never sniffed: the package
    /// decides (`office`).
    OfficeXml(office::PartKind),
    /// `pg_dump -Fc` custom-format archive (zlib or stored data): every
    /// table's COPY data scanned with table, row and column; rebuilt with
    /// only the blocks holding masked digits re-encoded.
    PgDump,
}

impl Format {
    /// Name used in the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Utf16(_) => "utf16",
            Format::Binary => "binary",
            Format::Gzip => "gzip",
            Format::Zstd => "zstd",
            Format::Xz => "xz",
            Format::Bzip2 => "bzip2",
            Format::Lz4 => "lz4",
            Format::Zip => "zip",
            Format::Tar => "tar",
            Format::Parquet => "parquet",
            Format::PgDump => "pg_dump",
            Format::OfficeXml(_) => "office_xml",
            Format::Pdf => "pdf",
            Format::Ole => "ole",
        }
    }

    /// Archives and compressed streams, rebuilt into a new file by
    /// `container`; text and tar are masked in place, Parquet has its own
    /// adapter.
    pub fn is_container(self) -> bool {
        !matches!(
            self,
            Format::Text
                | Format::Utf16(_)
                | Format::Binary
                | Format::Tar
                | Format::Parquet
                | Format::PgDump
                | Format::OfficeXml(_)
        )
    }

    /// A single compressed stream (as opposed to an archive of members).
    pub fn is_compressed_stream(self) -> bool {
        matches!(
            self,
            Format::Gzip | Format::Zstd | Format::Xz | Format::Bzip2 | Format::Lz4
        )
    }
}

/// Reads until `buf` is full or the input ends; returns how many bytes.
pub fn read_full(r: &mut dyn std::io::Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A POSIX/GNU tar: "ustar" at offset 257 of the first header.
pub fn is_tar(head: &[u8]) -> bool {
    head.len() >= 262 && &head[257..262] == b"ustar"
}

/// Formats recognised by their magic bytes that panscrub cannot decode:
/// scanning their compressed or encrypted bytes would call them clean.
/// The reason names the format (`skipped`, exit code 2).
pub fn undecodable(head: &[u8]) -> Option<&'static str> {
    if let Some(why) = pgdump::not_readable(head) {
        return Some(why);
    }
    const KNOWN: [(&[u8], &str); 4] = [
        (b"7z\xbc\xaf\x27\x1c", "7z archive: not decoded"),
        (b"Rar!\x1a\x07\x00", "rar archive: not decoded"),
        (b"Rar!\x1a\x07\x01\x00", "rar archive: not decoded"),
        (b"\x02\x21\x4c\x18", "lz4 legacy frame: not decoded"),
    ];
    KNOWN
        .iter()
        .find(|(magic, _)| head.starts_with(magic))
        .map(|(_, why)| *why)
}

/// Decides the format from the first bytes of an input.
pub fn sniff(head: &[u8]) -> Format {
    let head = &head[..head.len().min(SNIFF_LEN)];
    if head.starts_with(&[0x1f, 0x8b]) {
        return Format::Gzip;
    }
    if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Format::Zstd;
    }
    if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        return Format::Xz;
    }
    if head.starts_with(&[0x04, 0x22, 0x4d, 0x18]) {
        return Format::Lz4;
    }
    // "BZh" + block size, then a block or the end-of-stream magic: text
    // that merely starts with "BZh1" is not taken for bzip2.
    if head.len() >= 10
        && head.starts_with(b"BZh")
        && (b'1'..=b'9').contains(&head[3])
        && (head[4..10] == [0x31, 0x41, 0x59, 0x26, 0x53, 0x59]
            || head[4..10] == [0x17, 0x72, 0x45, 0x38, 0x50, 0x90])
    {
        return Format::Bzip2;
    }
    if pgdump::readable(head) {
        return Format::PgDump;
    }
    if pdf::is_pdf(head) {
        return Format::Pdf;
    }
    if legacy::is_ole(head) {
        return Format::Ole;
    }
    // Local file header, or the end record of an empty archive.
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Format::Zip;
    }
    if is_tar(head) {
        return Format::Tar;
    }
    // "PAR1" then a Thrift page header, whose first byte is a field header
    // (a control byte): text that merely starts with "PAR1" stays text.
    if head.len() > 4
        && head.starts_with(b"PAR1")
        && head[4] < 0x20
        && !head[4].is_ascii_whitespace()
    {
        return Format::Parquet;
    }
    // UTF-16 text has NULs too: told apart by its BOM or its pattern of
    // zero high bytes.
    if memchr::memchr(0, head).is_some() {
        if let Some(endian) = utf16::detect(head) {
            return Format::Utf16(endian);
        }
        return Format::Binary;
    }
    // A BOM alone (or with non-Latin text only) has no NUL to trip on.
    match utf16::detect(head) {
        Some(endian) => Format::Utf16(endian),
        None => Format::Text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_means_binary() {
        assert_eq!(sniff(b"hello 4111111111111111\n"), Format::Text);
        assert_eq!(sniff(b"\x7fELF\x00\x01"), Format::Binary);
        assert_eq!(sniff(b""), Format::Text);
        assert_eq!(sniff(b"\x1f\x8b\x08\x00"), Format::Gzip);
        assert_eq!(sniff(b"\x28\xb5\x2f\xfd"), Format::Zstd);
        assert_eq!(sniff(b"PK\x03\x04rest"), Format::Zip);
        assert_eq!(sniff(b"\xfd7zXZ\x00\x00"), Format::Xz);
        assert_eq!(sniff(b"BZh91AY&SYxx"), Format::Bzip2);
        assert_eq!(sniff(b"\x04\x22\x4d\x18\x64\x40"), Format::Lz4);
        assert_eq!(
            undecodable(b"7z\xbc\xaf\x27\x1c\x00\x04"),
            Some("7z archive: not decoded")
        );
        assert_eq!(
            undecodable(b"Rar!\x1a\x07\x01\x00"),
            Some("rar archive: not decoded")
        );
        assert_eq!(
            undecodable(b"PGDMP\x01\x0f\x00\x04\x08\x01\x02"),
            Some("pg_dump archive with lz4-compressed data: not decoded")
        );
        assert_eq!(undecodable(b"7z is a text line"), None);
        assert_eq!(sniff(b"BZh1 is not bzip2 text"), Format::Text);
        assert_eq!(sniff(b"PAR1\x15\x04\x15"), Format::Parquet);
        assert_eq!(sniff(b"PAR1 is a text line\n"), Format::Text);
    }
}
