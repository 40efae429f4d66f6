//! PDFs for the tests, built with hub-pdf's test writer: receipt images
//! wrapped losslessly at 200 DPI (they render back to the same pixels),
//! text layers, and the hostile files every route must refuse with a 4xx.

use hub_pdf::test_support::{PageSpec, PdfBuilder, stream, write_file};
use image::RgbImage;
use serde_json::Value;

/// The resolution the service draws pages at.
pub const DPI: f32 = 200.0;

/// One page per image, each covering its page at 200 DPI.
pub fn of_images(images: &[RgbImage]) -> Vec<u8> {
    PdfBuilder::new(images.iter().map(|image| PageSpec::with_rgb(image.clone(), DPI)).collect()).build()
}

/// The lines of the text-layer receipt, top to bottom.
pub const TEXT_LAYER: [&str; 3] = ["ACME Supermarket", "TOTAL 12.50", "Thank you (come again)"];

/// An A6 page whose text is a real text layer (Helvetica), no image.
pub fn with_text_layer() -> Vec<u8> {
    let page = PageSpec::new(298.0, 420.0)
        .text(30.0, 380.0, 12.0, TEXT_LAYER[0])
        .text(30.0, 340.0, 10.0, TEXT_LAYER[1])
        .text(30.0, 300.0, 10.0, TEXT_LAYER[2]);
    PdfBuilder::new(vec![page]).build()
}

/// A file of one `side`-point square page with extra page entries
/// `page_extra` and `content`.
fn one_page(side: u32, page_extra: &str, content: &str) -> Vec<u8> {
    write_file(
        &[
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {side} {side}] /Contents 4 0 R {page_extra} >>")
                .into_bytes(),
            stream("", content.as_bytes()),
        ],
        "",
    )
}

/// Hostile or broken PDFs: (what, bytes, status, code). With the service's
/// default `--max-pdf-pages` (10) and `--max-megapixels` (50).
pub fn bad_pdfs() -> Vec<(&'static str, Vec<u8>, u16, &'static str)> {
    let text_page = || PageSpec::new(200.0, 200.0).text(20.0, 100.0, 10.0, "Receipt 42");
    let mut encrypted = PdfBuilder::new(vec![text_page()]);
    encrypted.trailer_extra = "/Encrypt << /Filter /Standard /V 9 /R 9 /O (x) /U (y) /P -4 >>".into();
    let good = PdfBuilder::new(vec![text_page(); 2]).build();
    let zero = write_file(
        &[b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(), b"<< /Type /Pages /Kids [] /Count 0 >>".to_vec()],
        "",
    );
    let depth = 100_000;
    let nested = format!("/Deep {}{}", "[".repeat(depth), "]".repeat(depth));
    // Each fill paints a whole 600 pt page: 180 KB that would take seconds to draw.
    let fills = one_page(600, "", &"0 0 600 600 re f\n".repeat(10_000));
    vec![
        ("encrypted", encrypted.build(), 422, "pdf_encrypted"),
        ("header only", b"%PDF-1.7\n".to_vec(), 422, "pdf_malformed"),
        // hayro rebuilds what it can of a cut file: here, no page is left.
        ("truncated", good[..good.len() / 3].to_vec(), 422, "pdf_no_pages"),
        ("zero pages", zero, 422, "pdf_no_pages"),
        (
            "page over 14 400 pt",
            PdfBuilder::new(vec![PageSpec::new(20_000.0, 300.0)]).build(),
            413,
            "pdf_page_too_large",
        ),
        ("deeply nested", one_page(200, &nested, ""), 422, "pdf_too_complex"),
        ("11 pages", PdfBuilder::new(vec![text_page(); 11]).build(), 413, "pdf_too_many_pages"),
        ("too costly to draw", fills, 422, "pdf_too_complex"),
    ]
}

/// The `page` of every line of an answer.
pub fn pages(json: &Value) -> Vec<u64> {
    json["lines"].as_array().expect("lines").iter().map(|l| l["page"].as_u64().expect("a line's page")).collect()
}
