//! The upload path from bytes to pixels: format sniffing, header limits,
//! decoding and EXIF orientation. Any panic, hang or out-of-memory is a bug;
//! so is an image that comes back larger than the limits allow.
#![no_main]

use hub_ocr::{DecodeLimits, decode_image, sniff_format};
use libfuzzer_sys::fuzz_target;

const LIMITS: DecodeLimits = DecodeLimits { max_width: 2048, max_height: 2048, max_pixels: 2_000_000 };

fuzz_target!(|data: &[u8]| {
    let sniffed = sniff_format(data);
    if let Ok(image) = decode_image(data, &LIMITS) {
        assert!(sniffed.is_some(), "decoded bytes of no accepted format");
        let (w, h) = image.dimensions();
        assert!(w <= LIMITS.max_width.max(LIMITS.max_height) && h <= LIMITS.max_width.max(LIMITS.max_height));
        assert!(u64::from(w) * u64::from(h) <= LIMITS.max_pixels, "{w}x{h} over the pixel limit");
    }
});
