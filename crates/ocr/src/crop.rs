//! Perspective crops of text lines, straightened and scaled to the
//! recogniser's height in one resampling step.

use image::{Rgb, RgbImage};
use imageproc::geometric_transformations::{Border, Interpolation, Projection, warp_into};

use crate::geometry::{Quad, quad_size};

/// Lines taller than wide by this factor are read top to bottom (rotated).
const VERTICAL_RATIO: f32 = 1.5;

/// Cuts `quad` out of `image` as an upright strip `height` pixels high and
/// at most `max_width` wide. Vertical lines are turned a quarter
/// counter-clockwise, as PaddleOCR does.
pub fn crop_line(image: &RgbImage, quad: &Quad, height: u32, max_width: u32) -> RgbImage {
    let (w, h) = quad_size(quad);
    let [tl, tr, br, bl] = *quad;
    let (length, thickness, from) =
        if h >= w * VERTICAL_RATIO { (h, w, [tr, br, bl, tl]) } else { (w, h, [tl, tr, br, bl]) };
    let out_w = ((length / thickness.max(1.0)) * height as f32).round().clamp(1.0, max_width as f32) as u32;
    let to = [(0.0, 0.0), (out_w as f32, 0.0), (out_w as f32, height as f32), (0.0, height as f32)];
    let from = from.map(|p| (p[0], p[1]));
    let mut out = RgbImage::new(out_w, height);
    match Projection::from_control_points(from, to) {
        Some(projection) => warp_into(image, projection, Interpolation::Bilinear, Border::Replicate, &mut out),
        // A degenerate quad has no pixels to read: hand back a blank strip.
        None => out.pixels_mut().for_each(|p| *p = Rgb([255, 255, 255])),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn straight_crop_keeps_aspect_at_target_height() {
        // Left half black, right half white: the crop must keep that order.
        let img = RgbImage::from_fn(200, 100, |x, _| if x < 100 { Rgb([0; 3]) } else { Rgb([255; 3]) });
        let quad = [[50.0, 40.0], [150.0, 40.0], [150.0, 60.0], [50.0, 60.0]];
        let crop = crop_line(&img, &quad, 48, 1000);
        assert_eq!(crop.dimensions(), (240, 48));
        assert_eq!(crop.get_pixel(10, 24).0, [0; 3]);
        assert_eq!(crop.get_pixel(230, 24).0, [255; 3]);
    }

    #[test]
    fn tall_boxes_are_rotated_counter_clockwise() {
        // Top half black: after a quarter turn counter-clockwise it is on the left.
        let img = RgbImage::from_fn(100, 200, |_, y| if y < 100 { Rgb([0; 3]) } else { Rgb([255; 3]) });
        let quad = [[40.0, 50.0], [60.0, 50.0], [60.0, 150.0], [40.0, 150.0]];
        let crop = crop_line(&img, &quad, 48, 1000);
        assert_eq!(crop.dimensions(), (240, 48));
        assert_eq!(crop.get_pixel(10, 24).0, [0; 3]);
        assert_eq!(crop.get_pixel(230, 24).0, [255; 3]);
    }

    #[test]
    fn width_is_capped() {
        let img = RgbImage::new(1000, 10);
        let quad = [[0.0, 0.0], [1000.0, 0.0], [1000.0, 10.0], [0.0, 10.0]];
        assert_eq!(crop_line(&img, &quad, 48, 320).width(), 320);
    }
}
