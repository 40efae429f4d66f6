//! PDF uploads from bytes to pixels and text: parsing, the checks at open,
//! each page's survey, rendering and the text layer. Any panic, hang or
//! out-of-memory is a bug; so is a page larger than the limits allow or more
//! pages than allowed. (The crate catches panics as a last defence, but
//! libfuzzer-sys's panic hook aborts first, so they are still found.)
#![no_main]

use hub_pdf::{Document, PdfLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = PdfLimits { max_pages: 4, dpi: 72.0, max_pixels: 1_000_000, deadline: None };
    let Ok(doc) = Document::open(data, &limits) else { return };
    assert!((1..=limits.max_pages).contains(&doc.page_count()));
    for page in 0..doc.page_count() {
        if let Ok(image) = doc.render(page) {
            let pixels = u64::from(image.width()) * u64::from(image.height());
            assert!(pixels <= limits.max_pixels, "{}x{} over the pixel limit", image.width(), image.height());
        }
        let _ = doc.text_lines(page);
    }
});
