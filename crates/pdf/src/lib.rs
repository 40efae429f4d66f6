//! PDF pages to pixels and text lines, for OCR.
//!
//! [`Document::open`] parses and checks an upload once (encryption, page
//! count, page sizes, image sizes, how far every compressed stream inflates);
//! [`Document::render`] rasterises one page into an RGB image for the OCR
//! pipeline and [`Document::text_lines`] reads a page's text layer instead,
//! when it has real text. No OCR, no HTTP, no async here.
//!
//! The rasteriser is [`hayro`]: pure Rust, `forbid(unsafe_code)` in all its
//! PDF crates, the standard 14 fonts embedded (no font lookup or download at
//! build or run time). Hostile input is bounded before hayro draws anything,
//! because hayro itself has no cancellation and no allocation limits:
//!
//! | risk                          | bound                                                         |
//! | ----------------------------- | ------------------------------------------------------------- |
//! | enormous page box             | refused above [`MAX_PAGE_SIDE_PT`]; pixels capped by `max_pixels` |
//! | huge image inside             | declared `/Width × /Height` above `4 × max_pixels` refused    |
//! | compression bomb              | every Flate stream inflated once with a cap at open           |
//! | deep nesting                  | refused above 512 levels (hayro's own limit) by a linear scan |
//! | too many pages                | refused at open, before any page is drawn                     |
//! | slow pages                    | a drawing-free pass sums what a page paints; over budget refused |
//! | slow documents                | `deadline` checked before each page pass and each stream      |
//! | renderer bug                  | `catch_unwind` around hayro: a panic becomes `pdf_malformed`  |
//!
//! # Resolution
//! [`DEFAULT_DPI`] is 200. Thermal receipts are 58 or 80 mm wide (48 or
//! 72 mm printable) and print 8–10 pt type: 2.8–3.5 mm from ascender to
//! descender, an x-height of about 1.0–1.3 mm. At 200 DPI (7.87 px/mm) a
//! line is 22–28 px high with an x-height of 8–10 px. PP-OCR's recogniser
//! scales every line crop to 48 px high, so such lines are enlarged less
//! than 2×, and its detector finds lines from about 10 px high up; at
//! 150 DPI lines are 16–21 px and the strokes of small digits start to
//! blur into each other after the enlargement (a judgement from the
//! model's input size, not a measurement here). 300 DPI costs 2.25× the
//! pixels (and time) for lines the recogniser shrinks back anyway. Sizes:
//! an 80 mm receipt is 630 px wide, a 30 cm one 2362 px long (1.5 MP), an
//! A4 page 1653 × 2339 px (3.9 MP).

mod document;
mod preflight;
mod survey;

#[cfg(feature = "test-support")]
pub mod test_support;

pub use document::Document;

use std::time::Instant;

/// The resolution pages are drawn at unless the caller says otherwise; see
/// the crate documentation for why.
pub const DEFAULT_DPI: f32 = 200.0;

/// Pages larger than this on either side (in PDF points, 1/72 in) are
/// refused: 14 400 pt (200 in, 5.08 m) is the limit PDF itself gives for
/// page sizes (ISO 32000-1, Annex C), far beyond any receipt or document.
pub const MAX_PAGE_SIDE_PT: f32 = 14_400.0;

/// How a document may be read.
#[derive(Debug, Clone)]
pub struct PdfLimits {
    /// More pages than this are refused at [`Document::open`].
    pub max_pages: usize,
    /// Resolution pages are drawn at, before `max_pixels` scales them down.
    pub dpi: f32,
    /// Most pixels in one rendered page; larger pages are drawn at a lower
    /// resolution so they fit.
    pub max_pixels: u64,
    /// No new page, stream or text layer is started after this instant.
    pub deadline: Option<Instant>,
}

impl Default for PdfLimits {
    fn default() -> Self {
        Self { max_pages: 10, dpi: DEFAULT_DPI, max_pixels: 50_000_000, deadline: None }
    }
}

/// A line of a page's text layer.
#[derive(Debug, Clone, PartialEq)]
pub struct PdfTextLine {
    pub text: String,
    /// Corners in the pixels of [`Document::render`]'s image for the same
    /// page, clockwise from top-left (as the OCR pipeline gives them).
    pub bbox: [[f32; 2]; 4],
}

/// Why a document or page cannot be read. Every variant is the uploader's
/// problem (a 4xx), never the server's.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PdfError {
    #[error("the PDF is encrypted and cannot be opened: {0}")]
    Encrypted(&'static str),
    #[error("the PDF cannot be read: {0}")]
    Malformed(String),
    #[error("the PDF has no pages")]
    NoPages,
    #[error("the PDF has {count} pages, more than the limit of {max}")]
    TooManyPages { count: usize, max: usize },
    #[error("page {page} is {width_pt:.0}x{height_pt:.0} pt, larger than the limit of {max_pt:.0} pt a side")]
    PageTooLarge { page: usize, width_pt: f32, height_pt: f32, max_pt: f32 },
    #[error("the PDF is too complex to read safely: {0}")]
    TooComplex(String),
    #[error("the PDF took too long to read")]
    DeadlineExceeded,
}

impl PdfError {
    /// A stable machine-readable code for the error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Encrypted(_) => "pdf_encrypted",
            Self::Malformed(_) => "pdf_malformed",
            Self::NoPages => "pdf_no_pages",
            Self::TooManyPages { .. } => "pdf_too_many_pages",
            Self::PageTooLarge { .. } => "pdf_page_too_large",
            Self::TooComplex(_) => "pdf_too_complex",
            Self::DeadlineExceeded => "pdf_deadline_exceeded",
        }
    }
}

/// Whether `bytes` look like a PDF: `%PDF-` within the first 1024 bytes, as
/// PDF readers accept (some producers put junk before the header).
pub fn is_pdf(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(1024)].windows(5).any(|w| w == b"%PDF-")
}
