//! Compressed files and archives: gzip (multi-member), zstd, xz, bzip2 and
//! zip, nested
//! up to a depth. Scanning streams the decoded bytes through the detector;
//! scrubbing rebuilds the container into a writer, member by member, and
//! `verify` checks the result before anyone renames it over an original.
//!
//! Where a finding lives is a *route*: the zip member indices (and each
//! member's content format) from the outer file down to the decoded stream
//! that holds it. Offsets are in that decoded stream. Member names are
//! joined with `!` across levels (`inner.zip!Contact.csv`) and have any PAN
//! in them masked.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read, Seek, Write};

use flate2::read::MultiGzDecoder;
use zip::{ZipArchive, ZipWriter};

use super::budget::{BudgetExceeded, Meter};
use super::csv::{delimiter_for, object_name, CsvLocator};
use super::json::JsonLocator;
use super::syntax::declares_json;
use super::syntax::{is_bare_number, syntax_for, Syntax};
use super::text::RangeReader;
use super::{read_full, sniff, utf16, Format};
use crate::detect::{Detector, Finding, StreamScanner};
use crate::error::InputError;
use crate::location::{Hit, Location, MaskedAs};
use crate::manifest::mask_text;
use crate::mask::MaskPolicy;
use std::path::Path;

mod ahead;
mod bzip2_join;
mod deflate;
mod encode;
mod feed;
mod office;
mod rebuild;
mod scan;
mod tar_scan;
mod verify;

pub use deflate::{splice_gzip, SpliceError, SpliceStats};
pub use feed::{held, Decide, Feed, Places, Source};
use rebuild::Digesting;
pub(crate) use rebuild::{mask_copy, Masker};
pub use rebuild::{rebuild, StreamDigest};

pub use scan::{scan, Sink};
pub use tar_scan::scan_tar_file;
pub(crate) use verify::compare_streams;
pub use verify::{judge_rescan, rescan, verify, Rescan};

/// Read size for decoded streams.
const BLOCK: usize = 256 * 1024;

/// One step of a route: a zip member and the format of its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hop {
    /// Index of the member in its archive.
    pub index: usize,
    /// Format of the member's (decompressed) content.
    pub format: Format,
}

/// A finding inside a container: the hit as reported (member name, offset
/// in the member, line, CSV or JSON location) and the route that leads to
/// the decoded stream holding it; `hit.finding` offsets are in that stream
/// (for tar members they differ from the member offset).
#[derive(Clone, Debug)]
pub struct MemberFinding {
    /// Zip members from the top down to the stream holding the finding.
    pub route: Vec<Hop>,
    /// The finding and its location.
    pub hit: Hit,
}

/// What scanning and rebuilding need.
pub struct Cx<'a> {
    /// The detector.
    pub det: &'a Detector,
    /// Masking policy (also for member names).
    pub policy: &'a MaskPolicy,
    /// Truncate in binary members too.
    pub scrub_binary: bool,
    /// Name of the top-level decoded stream (the file name without its
    /// compression extension), for syntax decisions; members use their own.
    pub stream_name: Option<&'a Path>,
    /// Most decoded bytes of one member held in memory (`Budget::max_held`).
    pub max_held: u64,
    /// Where members that are not inspected (pictures) are named; a set,
    /// since an archive is scanned more than once.
    pub not_inspected: Option<&'a std::sync::Mutex<std::collections::BTreeSet<String>>>,
    /// The run's worker threads (`--jobs`): with two or more, a stream is
    /// decoded on a helper thread ahead of its scan and a splice writes on
    /// a thread of its own. Carried here rather than asked of rayon, since
    /// a scan may run on a thread outside the run's pool.
    pub workers: usize,
}

impl Cx<'_> {
    /// Names member `name` as not inspected if `head` starts a picture.
    pub(super) fn note_picture(&self, name: Option<&str>, head: &[u8]) {
        if let (Some(set), Some(what)) = (self.not_inspected, crate::format::image::kind(head)) {
            if let Ok(mut set) = set.lock() {
                set.insert(crate::format::image::note(name, what));
            }
        }
    }
}

/// Maps decoding errors: budget errors keep their meaning, anything else is
/// corrupt input. Messages come from the decoders and carry no content.
fn decode_error(e: io::Error) -> InputError {
    if let Some(b) = e.get_ref().and_then(|x| x.downcast_ref::<BudgetExceeded>()) {
        return InputError::Budget(b.0.clone());
    }
    match e.kind() {
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::UnexpectedEof => {
            InputError::Corrupt(e.to_string())
        }
        _ => InputError::io("read")(e),
    }
}

fn zip_error(e: zip::result::ZipError) -> InputError {
    match e {
        zip::result::ZipError::Io(io) => decode_error(io),
        zip::result::ZipError::UnsupportedArchive(zip::result::ZipError::PASSWORD_REQUIRED) => {
            InputError::Encrypted("a zip member".into())
        }
        other => InputError::Corrupt(format!("zip: {other}")),
    }
}

/// Reads up to `limit` bytes of a member that must be held in memory;
/// `Err(bytes read)` when it holds more (`limit + 1` bytes were read).
fn hold<R: Read + ?Sized>(r: &mut R, limit: u64) -> Result<Result<Vec<u8>, Vec<u8>>, InputError> {
    let mut bytes = Vec::new();
    r.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(decode_error)?;
    Ok(if bytes.len() as u64 > limit {
        Err(bytes)
    } else {
        Ok(bytes)
    })
}

/// A zip inside an archive, held in memory for the zip reader to seek, or
/// an error naming the bound (`--max-held`).
fn hold_nested_zip<R: Read>(r: &mut R, meter: &Meter) -> Result<Vec<u8>, InputError> {
    let limit = meter.budget().max_held;
    hold(r, limit)?.map_err(|_| {
        InputError::Budget(format!(
            "a zip inside an archive larger than {limit} bytes (--max-held) cannot be held in memory to be read"
        ))
    })
}

/// The bytes of a nested zip held in memory, shared by its readers (the
/// scan and a member's locator) without a copy.
#[derive(Clone)]
struct Held(std::rc::Rc<Vec<u8>>);

impl Held {
    fn new(bytes: Vec<u8>) -> Held {
        Held(std::rc::Rc::new(bytes))
    }

    fn len(&self) -> u64 {
        self.0.len() as u64
    }
}

impl AsRef<[u8]> for Held {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// A decoder for a compressed stream format.
fn decoder<'r, R: Read + 'r>(fmt: Format, r: R) -> Result<Box<dyn Read + 'r>, InputError> {
    Ok(match fmt {
        Format::Gzip => Box::new(MultiGzDecoder::new(BufReader::with_capacity(BLOCK, r))),
        Format::Zstd => Box::new(zstd::stream::read::Decoder::new(r).map_err(decode_error)?),
        Format::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(
            BufReader::with_capacity(BLOCK, r),
        )),
        Format::Lz4 => Box::new(Lz4Frames::new(BufReader::with_capacity(BLOCK, r))),
        Format::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(BufReader::with_capacity(
            BLOCK, r,
        ))),
        _ => Box::new(r),
    })
}

/// LZ4 frames one after another (`cat a.lz4 b.lz4`, which the `lz4` tool
/// decodes whole): a frame decoder stops at the end of its frame, so a new
/// one is started while input remains. Without it, a second frame's PANs
/// would go unseen.
struct Lz4Frames<R: BufRead> {
    frame: Option<lz4_flex::frame::FrameDecoder<R>>,
}

impl<R: BufRead> Lz4Frames<R> {
    fn new(r: R) -> Lz4Frames<R> {
        Lz4Frames {
            frame: Some(lz4_flex::frame::FrameDecoder::new(r)),
        }
    }
}

impl<R: BufRead> Read for Lz4Frames<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let Some(frame) = self.frame.as_mut() else {
                return Ok(0);
            };
            let n = frame.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            let mut rest = self.frame.take().expect("a frame").into_inner();
            if rest.fill_buf()?.is_empty() {
                return Ok(0);
            }
            self.frame = Some(lz4_flex::frame::FrameDecoder::new(rest));
        }
    }
}
