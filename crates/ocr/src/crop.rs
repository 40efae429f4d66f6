//! Perspective crops of text lines, straightened and scaled to the
//! recogniser's height in one resampling step.

use image::RgbImage;
use imageproc::geometric_transformations::Projection;

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
    let mut out = RgbImage::new(out_w, height);
    match Projection::from_control_points(from.map(|p| (p[0], p[1])), to) {
        Some(projection) if image.width() > 0 && image.height() > 0 => sample(image, projection.invert(), &mut out),
        // A degenerate quad or an empty image has no pixels to read: hand
        // back a blank strip.
        _ => out.fill(255),
    }
    out
}

/// Bilinear resampling of `image` at `back * (x, y)` for every pixel of
/// `out`, replicating the image's edge outside it. The arithmetic is
/// imageproc's `warp_into` (each blend cut to a byte), so the crops are the
/// ones the recogniser was evaluated on, without its generic per-channel
/// pixel access and border handling.
fn sample(image: &RgbImage, back: Projection, out: &mut RgbImage) {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let (src, stride) = (image.as_raw().as_slice(), 3 * w);
    let out_w = out.width() as usize;
    let clamp = |v: f32, n: usize| (v.max(0.0) as usize).min(n - 1);
    let blend = |a: f32, b: f32, t: f32| {
        let v = (1.0 - t) * a + t * b;
        // imageproc's clamp, NaN included (it becomes 255).
        if v < 255.0 { v.max(0.0) as u8 } else { 255 }
    };
    for (y, row) in out.as_mut().chunks_exact_mut(3 * out_w).enumerate() {
        for (x, px) in row.chunks_exact_mut(3).enumerate() {
            let (sx, sy) = back * (x as f32, y as f32);
            let (fx, fy) = (floor(sx), floor(sy));
            let (wx, wy) = (sx - fx, sy - fy);
            let (x0, x1) = (3 * clamp(fx, w), 3 * clamp(fx + 1.0, w));
            let (y0, y1) = (clamp(fy, h) * stride, clamp(fy + 1.0, h) * stride);
            for (c, value) in px.iter_mut().enumerate() {
                let at = |offset: usize| f32::from(src[offset + c]);
                let top = blend(at(y0 + x0), at(y0 + x1), wx);
                let bottom = blend(at(y1 + x0), at(y1 + x1), wx);
                *value = blend(f32::from(top), f32::from(bottom), wy);
            }
        }
    }
}

/// `v.floor()`, inline: without SSE4.1 in the build target, `f32::floor` is
/// a libm call per pixel.
fn floor(v: f32) -> f32 {
    // From 2^23 up every f32 is whole; NaN passes through as well.
    if v.is_nan() || v.abs() >= 8_388_608.0 {
        return v;
    }
    let t = v as i32 as f32;
    if t > v { t - 1.0 } else { t }
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
    use image::Rgb;

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
    fn rotated_lines_are_straightened() {
        // A black band 20 px thick along the diagonal y = x on white; the quad
        // follows it with 10 px of white either side.
        let img = RgbImage::from_fn(300, 300, |x, y| {
            let off = (x as f32 - y as f32).abs() / std::f32::consts::SQRT_2;
            Rgb([if off < 10.0 { 0 } else { 255 }; 3])
        });
        let (c, s) = (std::f32::consts::FRAC_1_SQRT_2, std::f32::consts::FRAC_1_SQRT_2);
        // Along (c, s) from (50, 50) for 200 px, 20 px either side across (s, -c).
        let at = |along: f32, across: f32| [50.0 + along * c + across * s, 50.0 + along * s - across * c];
        let quad = [at(0.0, 20.0), at(200.0, 20.0), at(200.0, -20.0), at(0.0, -20.0)];
        let crop = crop_line(&img, &quad, 40, 1000, 0.0);
        assert_eq!(crop.dimensions(), (200, 40));
        for x in [5, 100, 195] {
            assert_eq!(crop.get_pixel(x, 20).0, [0; 3], "band centre at x={x}");
            assert_eq!(crop.get_pixel(x, 2).0, [255; 3], "above the band at x={x}");
            assert_eq!(crop.get_pixel(x, 37).0, [255; 3], "below the band at x={x}");
        }
    }

    #[test]
    fn outside_the_image_repeats_its_edge() {
        let img = RgbImage::from_fn(10, 10, |x, _| Rgb([if x == 0 { 0 } else { 255 }; 3]));
        let quad = [[-5.0, 2.0], [5.0, 2.0], [5.0, 7.0], [-5.0, 7.0]];
        let crop = crop_line(&img, &quad, 5, 100, 0.0);
        assert_eq!(crop.get_pixel(0, 2).0, [0; 3]);
        assert_eq!(crop.get_pixel(9, 2).0, [255; 3]);
    }

    #[test]
    fn floor_matches_the_standard_one() {
        for v in [-3.5, -1.0, -0.25, 0.0, 0.25, 1.0, 7.999_99, 1e6 + 0.5, 3e9, -3e9, f32::INFINITY] {
            assert_eq!(floor(v), v.floor(), "{v}");
        }
        assert!(floor(f32::NAN).is_nan());
    }

    #[test]
    fn width_is_capped() {
        let img = RgbImage::new(1000, 10);
        let quad = [[0.0, 0.0], [1000.0, 0.0], [1000.0, 10.0], [0.0, 10.0]];
        assert_eq!(crop_line(&img, &quad, 48, 320, 0.0).width(), 320);
    }
}
