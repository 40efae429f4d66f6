//! Image bytes → upright RGB pixels. The format is sniffed from the bytes,
//! never trusted from a file name or content type; EXIF orientation applied.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};

use crate::error::{OcrError, Result};

/// Formats the pipeline accepts.
pub const SUPPORTED_FORMATS: [ImageFormat; 4] =
    [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::WebP, ImageFormat::Bmp];

/// Bounds checked from the header before pixels are decoded.
#[derive(Debug, Clone)]
pub struct DecodeLimits {
    pub max_width: u32,
    pub max_height: u32,
    pub max_pixels: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        // A 600 dpi A3 scan is about 7000x9900; 50 MP leaves room for that.
        Self { max_width: 16_384, max_height: 16_384, max_pixels: 50_000_000 }
    }
}

/// The format of `bytes` if it is one the pipeline accepts.
pub fn sniff_format(bytes: &[u8]) -> Option<ImageFormat> {
    image::guess_format(bytes).ok().filter(|f| SUPPORTED_FORMATS.contains(f))
}

/// Decodes JPEG, PNG, WEBP or BMP bytes into an upright RGB image.
pub fn decode_image(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage> {
    if bytes.is_empty() {
        return Err(OcrError::EmptyInput);
    }
    let format = sniff_format(bytes).ok_or(OcrError::UnsupportedFormat)?;
    if format == ImageFormat::Bmp {
        check_bmp_header(bytes, limits)?;
    }
    if format == ImageFormat::Jpeg && !jpeg_has_end(bytes) {
        // The JPEG decoder fills a cut-off image with grey and succeeds;
        // reading half a receipt would silently lose its total.
        return Err(OcrError::Decode("truncated JPEG: no end-of-image marker after the image data".into()));
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut decoder_limits = Limits::default();
    decoder_limits.max_image_width = Some(limits.max_width);
    decoder_limits.max_image_height = Some(limits.max_height);
    // Decoded RGBA8 at most, plus the decoder's own working memory.
    decoder_limits.max_alloc = Some(limits.max_pixels.saturating_mul(4) + (64 << 20));
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(describe)?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 {
        return Err(OcrError::Decode("the image has no pixels".into()));
    }
    if u64::from(w) * u64::from(h) > limits.max_pixels {
        return Err(OcrError::TooLarge(format!("{w}x{h} pixels exceeds the limit of {} pixels", limits.max_pixels)));
    }
    // A broken EXIF block must not lose an otherwise good image.
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(describe)?;
    image.apply_orientation(orientation);
    Ok(image.into_rgb8())
}

/// The BMP decoder refuses sides over 65535 with a plain decoding error
/// before the side limits are applied; the header states the sides, so an
/// oversized one is told as such. (The pixel count is checked for every
/// format once the decoder is open.)
fn check_bmp_header(bytes: &[u8], limits: &DecodeLimits) -> Result<()> {
    let field = |at: usize| bytes.get(at..at + 4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]).unsigned_abs());
    if let (Some(w), Some(h)) = (field(18), field(22))
        && (w > limits.max_width || h > limits.max_height)
    {
        return Err(OcrError::TooLarge(format!(
            "{w}x{h} exceeds the limit of {}x{}",
            limits.max_width, limits.max_height
        )));
    }
    Ok(())
}

/// Walks the JPEG's header segments to the first scan, then looks for the
/// end-of-image marker after it. (Entropy-coded data never holds `FF D9`; an
/// EXIF thumbnail's own end marker sits in a header segment and is skipped.)
fn jpeg_has_end(bytes: &[u8]) -> bool {
    let mut at = 2;
    while at + 4 <= bytes.len() {
        if bytes[at] != 0xFF {
            return false;
        }
        let marker = bytes[at + 1];
        match marker {
            0xFF => at += 1, // fill byte
            0xDA => return bytes[at..].windows(2).any(|w| w == [0xFF, 0xD9]),
            0x01 | 0xD0..=0xD7 => at += 2,
            _ => at += 2 + usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]])),
        }
    }
    false
}

fn describe(err: image::ImageError) -> OcrError {
    match err {
        image::ImageError::Limits(e) => OcrError::TooLarge(e.to_string()),
        other => OcrError::Decode(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(img: &RgbImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    /// The fuzz seeds must decode; inputs the fuzzer once crashed on
    /// (`fuzz/regressions/decode`) must now fail or succeed cleanly.
    #[test]
    fn fuzz_seeds_decode_and_regressions_do_not_panic() {
        let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
        let files = |dir: &str| -> Vec<std::path::PathBuf> {
            std::fs::read_dir(fuzz.join(dir)).map_or(Vec::new(), |d| d.map(|e| e.unwrap().path()).collect())
        };
        let seeds = files("corpus/decode");
        assert!(seeds.len() >= 10, "seed corpus missing: {}", fuzz.display());
        for seed in seeds {
            let decoded = decode_image(&std::fs::read(&seed).unwrap(), &DecodeLimits::default());
            assert!(decoded.is_ok(), "{}: {decoded:?}", seed.display());
        }
        // The folder is kept (with its README) even while empty: without it
        // this replay would pass having replayed nothing.
        let regressions = fuzz.join("regressions/decode");
        assert!(
            regressions.is_dir(),
            "{} is missing: the fuzz regressions cannot be replayed (docs/fuzzing.md)",
            regressions.display()
        );
        for input in files("regressions/decode") {
            if input.file_name().is_some_and(|n| n == "README.md") {
                continue;
            }
            let _ = decode_image(&std::fs::read(&input).unwrap(), &DecodeLimits::default());
        }
    }

    /// A JPEG of `stored` whose EXIF block says orientation `value`: a
    /// little-endian TIFF header and one IFD entry, as cameras write it.
    fn jpeg_with_orientation(stored: &RgbImage, value: u16) -> Vec<u8> {
        use image::ImageEncoder;
        let mut exif = b"II*\0".to_vec();
        exif.extend_from_slice(&8u32.to_le_bytes()); // first IFD right after the header
        exif.extend_from_slice(&1u16.to_le_bytes()); // one entry:
        exif.extend_from_slice(&0x0112u16.to_le_bytes()); // Orientation,
        exif.extend_from_slice(&3u16.to_le_bytes()); // SHORT,
        exif.extend_from_slice(&1u32.to_le_bytes()); // one value,
        exif.extend_from_slice(&value.to_le_bytes());
        exif.extend_from_slice(&[0, 0]);
        exif.extend_from_slice(&0u32.to_le_bytes()); // no next IFD
        let mut out = Vec::new();
        let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95);
        encoder.set_exif_metadata(exif).unwrap();
        encoder.write_image(stored.as_raw(), stored.width(), stored.height(), image::ExtendedColorType::Rgb8).unwrap();
        out
    }

    /// Every EXIF orientation, 1 to 8: the pixels are stored as a camera
    /// held that way would store them (row 0 and column 0 of the stored
    /// image are the sides of the scene the EXIF table names), and decoding
    /// must give the scene upright, its red corner top-left.
    #[test]
    fn every_exif_orientation_decodes_upright() {
        const RED: [u8; 3] = [220, 30, 30];
        const GREEN: [u8; 3] = [30, 200, 30];
        const BLUE: [u8; 3] = [30, 30, 220];
        const GREY: [u8; 3] = [128, 128, 128];
        // The scene: 64x32, a different colour in each quadrant.
        let (w, h) = (64u32, 32u32);
        let scene = RgbImage::from_fn(w, h, |x, y| {
            image::Rgb(match (x < w / 2, y < h / 2) {
                (true, true) => RED,
                (false, true) => GREEN,
                (true, false) => BLUE,
                (false, false) => GREY,
            })
        });
        let at = |x: u32, y: u32| *scene.get_pixel(x, y);
        for value in 1..=8u16 {
            let stored = match value {
                1 => scene.clone(),
                2 => RgbImage::from_fn(w, h, |x, y| at(w - 1 - x, y)),
                3 => RgbImage::from_fn(w, h, |x, y| at(w - 1 - x, h - 1 - y)),
                4 => RgbImage::from_fn(w, h, |x, y| at(x, h - 1 - y)),
                // 5-8 store the scene on its side: h wide, w high.
                5 => RgbImage::from_fn(h, w, |x, y| at(y, x)),
                6 => RgbImage::from_fn(h, w, |x, y| at(w - 1 - y, x)),
                7 => RgbImage::from_fn(h, w, |x, y| at(w - 1 - y, h - 1 - x)),
                _ => RgbImage::from_fn(h, w, |x, y| at(y, h - 1 - x)),
            };
            let decoded = decode_image(&jpeg_with_orientation(&stored, value), &DecodeLimits::default()).unwrap();
            assert_eq!(decoded.dimensions(), (w, h), "orientation {value}");
            for (x, y, want) in [(16, 8, RED), (48, 8, GREEN), (16, 24, BLUE), (48, 24, GREY)] {
                let got = decoded.get_pixel(x, y).0;
                let close = got.iter().zip(want).all(|(g, w)| g.abs_diff(w) < 40);
                assert!(close, "orientation {value}: pixel ({x}, {y}) is {got:?}, want {want:?}");
            }
        }
    }

    #[test]
    fn cut_jpegs_are_refused_and_trailing_bytes_are_not() {
        let img = RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 3, y as u8 * 5, 90]));
        let jpeg = encode(&img, ImageFormat::Jpeg);
        assert!(decode_image(&jpeg, &DecodeLimits::default()).is_ok());
        let cut = &jpeg[..jpeg.len() - 40];
        assert!(matches!(decode_image(cut, &DecodeLimits::default()), Err(OcrError::Decode(_))));
        // Some cameras append data after the end marker.
        let mut trailing = jpeg.clone();
        trailing.extend_from_slice(b"vendor trailer");
        assert!(decode_image(&trailing, &DecodeLimits::default()).is_ok());
    }

    #[test]
    fn oversized_bmp_headers_are_too_large() {
        let mut bmp = encode(&RgbImage::new(4, 4), ImageFormat::Bmp);
        bmp[18..22].copy_from_slice(&100_000i32.to_le_bytes());
        assert!(matches!(decode_image(&bmp, &DecodeLimits::default()), Err(OcrError::TooLarge(_))));
    }

    #[test]
    fn decodes_every_supported_format() {
        let img = RgbImage::from_fn(7, 5, |x, y| image::Rgb([x as u8 * 30, y as u8 * 40, 9]));
        for format in [ImageFormat::Png, ImageFormat::Bmp, ImageFormat::WebP, ImageFormat::Jpeg] {
            let back = decode_image(&encode(&img, format), &DecodeLimits::default()).unwrap();
            assert_eq!(back.dimensions(), (7, 5), "{format:?}");
        }
    }

    #[test]
    fn rejects_empty_unknown_and_truncated_bytes() {
        let limits = DecodeLimits::default();
        assert!(matches!(decode_image(b"", &limits), Err(OcrError::EmptyInput)));
        assert!(matches!(decode_image(b"GIF89a....", &limits), Err(OcrError::UnsupportedFormat)));
        let png = encode(&RgbImage::new(64, 64), ImageFormat::Png);
        assert!(matches!(decode_image(&png[..png.len() / 2], &limits), Err(OcrError::Decode(_))));
    }

    #[test]
    fn rejects_too_many_pixels_from_the_header() {
        let png = encode(&RgbImage::new(100, 100), ImageFormat::Png);
        let limits = DecodeLimits { max_pixels: 9_999, ..DecodeLimits::default() };
        assert!(matches!(decode_image(&png, &limits), Err(OcrError::TooLarge(_))));
    }
}
