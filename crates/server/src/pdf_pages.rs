//! PDF uploads, read on the worker thread that holds the engine: every
//! page's text layer when it has real text (and `pdf_text=auto`), else the
//! page drawn at 200 DPI (`hub_pdf::DEFAULT_DPI`, bounded by the megapixel
//! limit) and read by the engine. Everything else about a request (routes,
//! cache, answer) treats a PDF as one upload; only here are there pages.

use std::time::Instant;

use hub_engines::{Engine, read_bytes};
use hub_ocr::{DecodeLimits, TextLine};
use hub_pdf::{DEFAULT_DPI, Document, PdfError, PdfLimits, is_pdf};
use metrics::counter;
use serde::{Deserialize, Serialize};

use crate::wire::error::ApiError;

/// `pdf_text`: whether a page's text layer may stand in for OCR.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PdfText {
    /// The text layer of pages that have real text; OCR for the others.
    #[default]
    Auto,
    /// OCR for every page.
    Off,
}

impl PdfText {
    /// A request's `pdf_text` value.
    pub fn parse(value: Option<&str>) -> Result<Self, ApiError> {
        match value.map(str::to_ascii_lowercase).as_deref() {
            None | Some("auto") => Ok(Self::Auto),
            Some("off") => Ok(Self::Off),
            Some(other) => Err(ApiError::InvalidParameter(format!("`pdf_text` is `{other}`; use auto or off"))),
        }
    }

    /// What the cache key adds for `image`: nothing unless the option can
    /// change its answer (a PDF read with `off`), so image keys stay as they were.
    pub fn cache_suffix(self, image: &[u8]) -> &'static str {
        if self == Self::Off && is_pdf(image) { " pdf_text=off" } else { "" }
    }
}

/// How uploads are bounded on the workers.
#[derive(Debug, Clone)]
pub struct ReadLimits {
    /// Image sizes; a PDF page's pixels are bounded by `max_pixels` too.
    pub decode: DecodeLimits,
    /// More pages than this are refused (`--max-pdf-pages`, 413).
    pub max_pdf_pages: usize,
}

/// Where the lines of a PDF came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pages {
    /// The page (from 1) of each line, in the lines' order.
    pub of_line: Vec<usize>,
    pub count: usize,
    /// Pages read by the engine (from 1); the others by their text layer.
    pub ocr: Vec<usize>,
}

/// An upload's lines: an image's, or a PDF's in page order with [`Pages`].
pub fn read_upload(
    engine: &mut dyn Engine,
    bytes: &[u8],
    limits: &ReadLimits,
    pdf_text: PdfText,
    deadline: Option<Instant>,
) -> Result<(Vec<TextLine>, Option<Pages>), ApiError> {
    if !is_pdf(bytes) {
        return Ok((read_bytes(engine, bytes, &limits.decode)?, None));
    }
    let pdf_limits =
        PdfLimits { max_pages: limits.max_pdf_pages, dpi: DEFAULT_DPI, max_pixels: limits.decode.max_pixels, deadline };
    let document = Document::open(bytes, &pdf_limits)?;
    let count = document.page_count();
    let (mut lines, mut pages) = (Vec::new(), Pages { of_line: Vec::new(), count, ocr: Vec::new() });
    for index in 0..count {
        // Pages cost seconds each: stop at the deadline, not a page later.
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(ApiError::DeadlineExceeded);
        }
        let layer = match pdf_text {
            PdfText::Auto => document.text_lines(index)?,
            PdfText::Off => None,
        };
        let read = match layer {
            Some(layer) => {
                counter!("ocr_pdf_pages_total", "path" => "text").increment(1);
                layer.into_iter().map(|l| TextLine { text: l.text, confidence: 1.0, bbox: l.bbox }).collect()
            }
            None => {
                let image = document.render(index)?;
                counter!("ocr_pdf_pages_total", "path" => "ocr").increment(1);
                pages.ocr.push(index + 1);
                engine.read(&image)?
            }
        };
        pages.of_line.extend(std::iter::repeat_n(index + 1, read.len()));
        lines.extend(read);
    }
    Ok((lines, Some(pages)))
}

impl From<PdfError> for ApiError {
    fn from(err: PdfError) -> Self {
        match err {
            PdfError::DeadlineExceeded => ApiError::DeadlineExceeded,
            other => ApiError::Pdf { code: other.code(), message: other.to_string() },
        }
    }
}
