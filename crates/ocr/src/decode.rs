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
