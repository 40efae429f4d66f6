//! Perspective crops of text lines, straightened and scaled to the
//! recogniser's height in one resampling step.

use image::{Rgb, RgbImage};
use imageproc::geometric_transformations::{Border, Interpolation, Projection, warp_into};

use crate::geometry::{Quad, quad_size};

/// Lines taller than wide by this factor are read top to bottom (rotated).
const VERTICAL_RATIO: f32 = 1.5;

/// Cuts `quad` out of `image` as an upright strip `height` pixels high and
/// at most `max_width` wide, with `margin` × the line's thickness added on
/// every side (the recogniser reads better with some background around the
/// glyphs than the detector's tight box gives). Vertical lines are turned a
/// quarter counter-clockwise, as PaddleOCR does.
pub fn crop_line(image: &RgbImage, quad: &Quad, height: u32, max_width: u32, margin: f32) -> RgbImage {
    let quad = &widen(quad, margin);
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

/// Moves every corner outwards by `margin` × the quad's thinner side.
fn widen(quad: &Quad, margin: f32) -> Quad {
    let (w, h) = quad_size(quad);
    let m = margin * w.min(h);
    let [tl, tr, _, bl] = *quad;
    let unit = |a: [f32; 2], b: [f32; 2]| {
        let len = (b[0] - a[0]).hypot(b[1] - a[1]).max(f32::EPSILON);
        [(b[0] - a[0]) / len, (b[1] - a[1]) / len]
    };
    let (u, v) = (unit(tl, tr), unit(tl, bl));
    let shift =
        |p: [f32; 2], su: f32, sv: f32| [p[0] + m * (su * u[0] + sv * v[0]), p[1] + m * (su * u[1] + sv * v[1])];
    [shift(quad[0], -1.0, -1.0), shift(quad[1], 1.0, -1.0), shift(quad[2], 1.0, 1.0), shift(quad[3], -1.0, 1.0)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn straight_crop_keeps_aspect_at_target_height() {
        // Left half black, right half white: the crop must keep that order.
        let img = RgbImage::from_fn(200, 100, |x, _| if x < 100 { Rgb([0; 3]) } else { Rgb([255; 3]) });
        let quad = [[50.0, 40.0], [150.0, 40.0], [150.0, 60.0], [50.0, 60.0]];
        let crop = crop_line(&img, &quad, 48, 1000, 0.0);
        assert_eq!(crop.dimensions(), (240, 48));
        assert_eq!(crop.get_pixel(10, 24).0, [0; 3]);
        assert_eq!(crop.get_pixel(230, 24).0, [255; 3]);
    }

    #[test]
    fn tall_boxes_are_rotated_counter_clockwise() {
        // Top half black: after a quarter turn counter-clockwise it is on the left.
        let img = RgbImage::from_fn(100, 200, |_, y| if y < 100 { Rgb([0; 3]) } else { Rgb([255; 3]) });
        let quad = [[40.0, 50.0], [60.0, 50.0], [60.0, 150.0], [40.0, 150.0]];
        let crop = crop_line(&img, &quad, 48, 1000, 0.0);
        assert_eq!(crop.dimensions(), (240, 48));
        assert_eq!(crop.get_pixel(10, 24).0, [0; 3]);
        assert_eq!(crop.get_pixel(230, 24).0, [255; 3]);
    }

    #[test]
    fn margin_adds_background_on_every_side() {
        // A black 100x20 box on white: with 0.25 margin (5 px) the strip
        // covers 110x30 source pixels, so its border is white.
        let img = RgbImage::from_fn(200, 100, |x, y| {
            if (50..150).contains(&x) && (40..60).contains(&y) { Rgb([0; 3]) } else { Rgb([255; 3]) }
        });
        let quad = [[50.0, 40.0], [150.0, 40.0], [150.0, 60.0], [50.0, 60.0]];
        let crop = crop_line(&img, &quad, 30, 1000, 0.25);
        assert_eq!(crop.dimensions(), (110, 30));
        assert_eq!(crop.get_pixel(1, 15).0, [255; 3]);
        assert_eq!(crop.get_pixel(55, 1).0, [255; 3]);
        assert_eq!(crop.get_pixel(55, 15).0, [0; 3]);
    }

    #[test]
    fn width_is_capped() {
        let img = RgbImage::new(1000, 10);
        let quad = [[0.0, 0.0], [1000.0, 0.0], [1000.0, 10.0], [0.0, 10.0]];
        assert_eq!(crop_line(&img, &quad, 48, 320, 0.0).width(), 320);
    }
}
