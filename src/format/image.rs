//! Pictures (PNG, JPEG, GIF, TIFF, WebP, HEIC/AVIF, BMP), known by their
//! signatures. panscrub does not read pictures (no OCR): a card
//! photographed or scanned is not seen. Their bytes are still scanned as
//! binary (text in metadata: EXIF, PNG `tEXt`, GIF comments; report-only),
//! and each picture is named in its file record's `not_inspected`, so an
//! auditor sees what was not inspected instead of an all-clear.

/// What kind of picture `head` starts, if any.
pub fn kind(head: &[u8]) -> Option<&'static str> {
    let at = |i: usize, magic: &[u8]| head.get(i..i + magic.len()) == Some(magic);
    if at(0, b"\x89PNG\r\n\x1a\n") {
        Some("PNG image")
    } else if at(0, &[0xff, 0xd8, 0xff]) {
        Some("JPEG image")
    } else if at(0, b"GIF87a") || at(0, b"GIF89a") {
        Some("GIF image")
    } else if at(0, b"II*\0") || at(0, b"MM\0*") {
        Some("TIFF image")
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        Some("WebP image")
    } else if at(4, b"ftyp")
        && [&b"heic"[..], b"heix", b"mif1", b"avif"]
            .iter()
            .any(|brand| at(8, brand))
    {
        Some("HEIC/AVIF image")
    } else if at(0, b"BM") && head.len() >= 26 && at(6, &[0, 0, 0, 0]) {
        // "BM", the file size, two reserved zero words: a bitmap header,
        // not text that starts with "BM".
        Some("BMP image")
    } else {
        None
    }
}

/// The `not_inspected` entry for a picture (`what` is its kind), under
/// `member` when it sits in an archive.
pub fn note(member: Option<&str>, what: &str) -> String {
    let why =
        format!("{what}: the picture is not read (no OCR); only text in its bytes is scanned");
    match member {
        Some(m) => format!("{m}: {why}"),
        None => why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pictures_are_known_by_their_signatures_and_text_is_not() {
        assert_eq!(kind(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some("PNG image"));
        assert_eq!(kind(b"\xff\xd8\xff\xe0\0\x10JFIF"), Some("JPEG image"));
        assert_eq!(kind(b"GIF89a\x01\0\x01\0"), Some("GIF image"));
        assert_eq!(kind(b"\0\0\0\x1cftypheic"), Some("HEIC/AVIF image"));
        assert_eq!(kind(b"BM card 4111111111111111 in a log"), None);
        assert_eq!(kind(b"GIF is a format"), None);
    }
}
