//! Checks every stream of a document before hayro draws anything: hayro
//! inflates streams and allocates image buffers without limits, so a few
//! kilobytes of upload could otherwise ask for gigabytes.

use crate::{PdfError, PdfLimits};
use hayro::hayro_syntax::Filter;
use hayro::hayro_syntax::Pdf;
use hayro::hayro_syntax::object::{Name, Object, Stream};
use miniz_oxide::inflate::{TINFLStatus, decompress_to_vec_with_limit, decompress_to_vec_zlib_with_limit};
use std::time::Instant;

/// Most bytes one non-image stream (page content, form, font) may inflate
/// to. A receipt's content stream is a few kilobytes; a dense vector page a
/// few megabytes.
const MAX_STREAM_BYTES: usize = 32 << 20;

/// Most bytes all streams of a document may inflate to together; bounds the
/// time of this check (inflating runs at several hundred MB/s).
const MAX_TOTAL_BYTES: usize = 256 << 20;

/// Images may have this many times the pixels of a rendered page (a 600 DPI
/// scan drawn at 200 DPI has 9×; larger than 4× of a 50 MP page is not a
/// document anyone OCRs).
const IMAGE_PIXELS_PER_PAGE_PIXEL: u64 = 4;

pub(crate) fn check_streams(pdf: &Pdf, limits: &PdfLimits) -> Result<(), PdfError> {
    let max_image_pixels = limits.max_pixels.saturating_mul(IMAGE_PIXELS_PER_PAGE_PIXEL);
    let mut total = 0usize;
    for object in pdf.objects() {
        let Object::Stream(stream) = object else { continue };
        check_deadline(limits.deadline)?;
        let mut cap = MAX_STREAM_BYTES;
        if is_image(&stream) {
            let width = stream.dict().get::<u32>(b"Width").unwrap_or(0);
            let height = stream.dict().get::<u32>(b"Height").unwrap_or(0);
            let pixels = u64::from(width) * u64::from(height);
            if pixels > max_image_pixels {
                return Err(PdfError::TooComplex(format!(
                    "an image of {width}x{height} pixels exceeds the limit of {max_image_pixels} pixels"
                )));
            }
            // Up to 4 components of 16 bits, plus PNG predictor bytes.
            cap = usize::try_from(pixels.saturating_mul(8).saturating_add(u64::from(height) + 4096))
                .unwrap_or(usize::MAX);
        }
        total = total.saturating_add(inflated_len(&stream, cap)?);
        if total > MAX_TOTAL_BYTES {
            return Err(PdfError::TooComplex(format!(
                "its streams inflate to more than {} MiB",
                MAX_TOTAL_BYTES >> 20
            )));
        }
    }
    Ok(())
}

fn is_image(stream: &Stream<'_>) -> bool {
    stream.dict().get::<Name<'_>>(b"Subtype").is_some_and(|s| s.as_ref() == b"Image")
}

/// How long the stream's leading run of Flate filters makes it, refusing
/// more than `cap`. Other filters expand little (ASCII hex and base-85
/// shrink, images are bounded by their size check) and are left to hayro;
/// data that fails to inflate is hayro's to tolerate or skip, not ours.
fn inflated_len(stream: &Stream<'_>, cap: usize) -> Result<usize, PdfError> {
    let filters = stream.filters();
    let flate_stages = filters.iter().take_while(|f| **f == Filter::FlateDecode).count();
    let raw = stream.raw_data();
    if flate_stages == 0 {
        return Ok(raw.len());
    }
    let mut data = raw.into_owned();
    for _ in 0..flate_stages {
        match inflate(&data, cap) {
            Inflated::Ok(out) => data = out,
            Inflated::TooLong => {
                return Err(PdfError::TooComplex(format!("a stream inflates to more than {} MiB", cap >> 20)));
            }
            Inflated::Corrupt => break,
        }
    }
    Ok(data.len())
}

enum Inflated {
    Ok(Vec<u8>),
    TooLong,
    Corrupt,
}

/// Producers write zlib streams, a few raw deflate; hayro takes both.
fn inflate(data: &[u8], cap: usize) -> Inflated {
    let attempt = |result: Result<Vec<u8>, miniz_oxide::inflate::DecompressError>| match result {
        Ok(out) => Inflated::Ok(out),
        Err(e) if e.status == TINFLStatus::HasMoreOutput => Inflated::TooLong,
        // A truncated stream still yields what it holds; count it.
        Err(e) if e.status == TINFLStatus::FailedCannotMakeProgress => Inflated::Ok(e.output),
        Err(_) => Inflated::Corrupt,
    };
    match attempt(decompress_to_vec_zlib_with_limit(data, cap)) {
        Inflated::Corrupt => attempt(decompress_to_vec_with_limit(data, cap)),
        other => other,
    }
}

/// hayro refuses objects nested deeper than this, but only after parsing
/// down to it at every level of a deeper one: 100 000 levels took 1.5 s.
const MAX_NESTING: usize = 512;

/// Refuses arrays and dictionaries nested deeper than hayro reads, by one
/// linear pass over the file that skips comments, strings and stream data
/// (and looks inside compressed object streams, where hayro would parse
/// them too), and object or cross-reference streams that inflate too far.
pub(crate) fn check_nesting(bytes: &[u8]) -> Result<(), PdfError> {
    let too_deep = || PdfError::TooComplex(format!("objects are nested deeper than {MAX_NESTING} levels"));
    let (mut depth, mut i, mut object_start) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                while i < bytes.len() && !matches!(bytes[i], b'\r' | b'\n') {
                    i += 1;
                }
            }
            b'(' => {
                let mut parens = 0usize;
                while i < bytes.len() {
                    match bytes[i] {
                        b'\\' => i += 1,
                        b'(' => parens += 1,
                        b')' => parens -= 1,
                        _ => {}
                    }
                    i += 1;
                    if parens == 0 {
                        break;
                    }
                }
                continue;
            }
            b'<' if bytes.get(i + 1) == Some(&b'<') => {
                depth += 1;
                i += 1;
            }
            b'<' => {
                while i < bytes.len() && bytes[i] != b'>' {
                    i += 1;
                }
            }
            b'>' if bytes.get(i + 1) == Some(&b'>') => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'[' => depth += 1,
            b']' => depth = depth.saturating_sub(1),
            b'o' if bytes[i..].starts_with(b"obj") => {
                // Each object starts afresh, whatever garbage came before.
                depth = 0;
                object_start = i;
            }
            b's' if bytes[i..].starts_with(b"stream") && i > 0 && is_delimiter(bytes[i - 1]) => {
                let data = i + 6 + bytes[i + 6..].iter().take(2).take_while(|b| matches!(b, b'\r' | b'\n')).count();
                let end = find(&bytes[data..], b"endstream").map_or(bytes.len(), |e| data + e);
                // hayro inflates object and cross-reference streams while
                // opening, before `check_streams` can look at them.
                let dict = &bytes[object_start..i];
                let object_stream = find(dict, b"/ObjStm").is_some();
                if object_stream || find(dict, b"/XRef").is_some() {
                    match inflate(&bytes[data..end], MAX_STREAM_BYTES) {
                        Inflated::Ok(objects) if object_stream => check_nesting(&objects)?,
                        Inflated::TooLong => {
                            return Err(PdfError::TooComplex(format!(
                                "an object stream inflates to more than {} MiB",
                                MAX_STREAM_BYTES >> 20
                            )));
                        }
                        _ => {}
                    }
                }
                (depth, i) = (0, end + 9);
                continue;
            }
            _ => {}
        }
        if depth > MAX_NESTING {
            return Err(too_deep());
        }
        i += 1;
    }
    Ok(())
}

fn is_delimiter(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'>' | b']' | b')' | b'\0')
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub(crate) fn check_deadline(deadline: Option<Instant>) -> Result<(), PdfError> {
    match deadline {
        Some(d) if Instant::now() >= d => Err(PdfError::DeadlineExceeded),
        _ => Ok(()),
    }
}
