//! The OCR response bodies, shared by the HTTP API and `inference-hub ocr --json`:
//! one image's lines, and a batch's answers.

use std::time::Duration;

use hub_ocr::TextLine;

use super::error::ApiError;
use crate::pdf_pages::Pages;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OcrResponse {
    /// In reading order, top to bottom.
    pub lines: Vec<Line>,
    pub line_count: usize,
    /// Mean confidence of the lines, 0..1 (0 without lines).
    pub avg_confidence: f64,
    /// Decode and OCR time on the worker, without queueing.
    pub processing_time_ms: f64,
    /// The engine that read the image (`paddle`, `tesseract`).
    #[serde(default)]
    pub engine: String,
    /// With `fields=true`: company, address, date and total as printed,
    /// `date_iso`, `total_amount`, `currency`, `tax`, and each one's
    /// `sources` (confidence, indexes of the lines it came from).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub fields: Option<serde_json::Value>,
    /// PDFs only: how many pages it has (every one is read, in order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_count: Option<usize>,
    /// PDFs only: the pages (from 1) read by OCR; the others' lines are
    /// their text layer (confidence 1), with `pdf_text=auto`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ocr_pages: Option<Vec<usize>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Line {
    pub text: String,
    /// Mean probability of the line's characters, 0..1.
    pub confidence: f64,
    /// Corners in original pixels, clockwise from top-left (for a PDF, in
    /// the pixels of its page drawn at 200 DPI).
    pub bbox: [[i64; 2]; 4],
    /// PDFs only: the page (from 1) the line is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<usize>,
}

fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

impl OcrResponse {
    pub fn new(lines: Vec<TextLine>, elapsed: Duration, engine: &str) -> Self {
        let avg = if lines.is_empty() {
            0.0
        } else {
            lines.iter().map(|l| f64::from(l.confidence)).sum::<f64>() / lines.len() as f64
        };
        let lines: Vec<Line> = lines
            .into_iter()
            .map(|l| Line {
                confidence: round(f64::from(l.confidence), 4),
                bbox: l.bbox.map(|[x, y]| [x.round() as i64, y.round() as i64]),
                text: l.text,
                page: None,
            })
            .collect();
        Self {
            line_count: lines.len(),
            lines,
            avg_confidence: round(avg, 4),
            processing_time_ms: round(elapsed.as_secs_f64() * 1000.0, 1),
            engine: engine.to_owned(),
            fields: None,
            page_count: None,
            ocr_pages: None,
        }
    }

    /// A PDF's answer: each line with its page, the page count, the pages OCR read.
    pub fn paged(mut self, pages: Option<Pages>) -> Self {
        if let Some(pages) = pages {
            for (line, page) in self.lines.iter_mut().zip(pages.of_line) {
                line.page = Some(page);
            }
            self.page_count = Some(pages.count);
            self.ocr_pages = Some(pages.ocr);
        }
        self
    }

    /// Adds the receipt's fields, read from the lines (`hub-fields`). A
    /// PDF's pages count as one long receipt: each page is placed below the
    /// one before (its boxes shifted down past the previous page's lowest
    /// line), so a total on page 2 is still found and rows never mix pages;
    /// `sources` index the answer's lines as they are. With `merchants`, a
    /// known shop's name and address come as the directory writes them.
    pub fn add_fields(&mut self, merchants: Option<&hub_fields::Merchants>) {
        let (mut offset, mut bottom, mut page) = (0i64, 0i64, self.lines.first().and_then(|l| l.page));
        let lines: Vec<hub_fields::Line> = self
            .lines
            .iter()
            .map(|l| {
                if l.page != page {
                    (offset, page) = (bottom + 1, l.page);
                }
                bottom = bottom.max(offset + l.bbox.iter().map(|p| p[1]).max().unwrap_or(0));
                hub_fields::Line {
                    text: &l.text,
                    confidence: l.confidence as f32,
                    bbox: l.bbox.map(|[x, y]| [x as f32, (y + offset) as f32]),
                }
            })
            .collect();
        self.fields = serde_json::to_value(hub_fields::extract_with(&lines, merchants)).ok();
    }

    /// The same answer, given again after `elapsed` (from a cache).
    pub fn timed(mut self, elapsed: Duration) -> Self {
        self.processing_time_ms = round(elapsed.as_secs_f64() * 1000.0, 1);
        self
    }
}

/// `POST /v1/ocr/batch`: one entry per image part, in upload order.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchResponse {
    pub results: Vec<BatchItem>,
    /// Image parts in the upload.
    pub count: usize,
    pub succeeded: usize,
    pub failed: usize,
    /// From the end of the upload to the last image's answer.
    pub processing_time_ms: f64,
}

/// One image of a batch: its lines, or why it could not be read.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum BatchItem {
    Read {
        filename: String,
        #[serde(flatten)]
        response: OcrResponse,
    },
    Failed {
        filename: String,
        error: ErrorBody,
    },
}

impl BatchItem {
    /// The engine that read the image; none for one that failed.
    pub fn engine(&self) -> Option<&str> {
        match self {
            BatchItem::Read { response, .. } => Some(&response.engine),
            BatchItem::Failed { .. } => None,
        }
    }
}

/// The error contract's `error` object, for one image of a batch.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub code: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub message: String,
}

impl From<&ApiError> for ErrorBody {
    fn from(err: &ApiError) -> Self {
        Self { code: err.code().to_owned(), kind: err.kind().to_owned(), message: err.message() }
    }
}

impl BatchResponse {
    pub fn new(results: Vec<BatchItem>, elapsed: Duration) -> Self {
        let succeeded = results.iter().filter(|r| matches!(r, BatchItem::Read { .. })).count();
        Self {
            count: results.len(),
            succeeded,
            failed: results.len() - succeeded,
            results,
            processing_time_ms: round(elapsed.as_secs_f64() * 1000.0, 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_lines() {
        let line = |text: &str, confidence| TextLine {
            text: text.into(),
            confidence,
            bbox: [[0.4, 1.6], [10.0, 1.0], [10.0, 5.0], [0.0, 5.0]],
        };
        let r = OcrResponse::new(vec![line("A", 0.9), line("B", 0.6)], Duration::from_micros(12_345), "paddle");
        assert_eq!(r.line_count, 2);
        assert_eq!(r.avg_confidence, 0.75);
        assert_eq!(r.processing_time_ms, 12.3);
        assert_eq!(r.lines[0].bbox, [[0, 2], [10, 1], [10, 5], [0, 5]]);
        let empty = OcrResponse::new(vec![], Duration::ZERO, "paddle");
        assert_eq!((empty.line_count, empty.avg_confidence), (0, 0.0));
    }
}
