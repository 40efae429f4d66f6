//! DB text detection: image → normalised tensor → probability map → line quads.

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::{GrayImage, Luma, RgbImage};
use imageproc::contours::{BorderType, find_contours};
use imageproc::drawing::draw_polygon_mut;
use ndarray::{Array4, ArrayView2};

use crate::engine::Model;
use crate::error::{OcrError, Result};
use crate::geometry::{Point, Quad, min_area_rect, unclip};
use crate::tensor::fill_bgr_planes;

/// Detector settings. Defaults follow PaddleOCR's DB post-processing.
#[derive(Debug, Clone)]
pub struct DetOptions {
    /// The shorter image side is scaled up to at least this many pixels.
    pub min_side: u32,
    /// ...and the longer side down to at most this many.
    pub max_side: u32,
    /// Probability above which a pixel is text.
    pub threshold: f32,
    /// Mean probability a box needs to be kept.
    pub box_threshold: f32,
    /// How far kernels are grown back into full lines.
    pub unclip_ratio: f32,
    /// Upper bound on candidate regions per image.
    pub max_candidates: usize,
    /// Boxes whose shorter side is below this (map pixels) are noise.
    pub min_size: f32,
}

impl Default for DetOptions {
    fn default() -> Self {
        Self {
            min_side: 736,
            max_side: 1280,
            threshold: 0.3,
            box_threshold: 0.6,
            unclip_ratio: 1.5,
            max_candidates: 1000,
            min_size: 3.0,
        }
    }
}

/// One detected text line in original image pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub quad: Quad,
    pub score: f32,
}

// Channel statistics in the BGR order the PP-OCR detectors were trained on.
const BGR_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const BGR_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The detector input size for a `w`×`h` image: scaled into
/// `[min_side, max_side]` and rounded to the network's stride of 32.
pub fn input_size(w: u32, h: u32, opts: &DetOptions) -> (u32, u32) {
    let (w, h) = (w.max(1) as f32, h.max(1) as f32);
    let mut scale = (opts.min_side as f32 / w.min(h)).max(1.0);
    if w.max(h) * scale > opts.max_side as f32 {
        scale = opts.max_side as f32 / w.max(h);
    }
    let round32 = |v: f32| (((v * scale) / 32.0).round() as u32).max(1) * 32;
    (round32(w), round32(h))
}

/// Resizes (SIMD bilinear) and normalises an RGB image into a `1×3×H×W`
/// BGR tensor.
pub fn preprocess(image: &RgbImage, opts: &DetOptions) -> Array4<f32> {
    let (w, h) = input_size(image.width(), image.height(), opts);
    let mut resized = RgbImage::new(w, h);
    let bilinear = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    Resizer::new().resize(image, &mut resized, &bilinear).expect("RGB8 to RGB8 resize is always supported");
    let mut tensor = Array4::<f32>::zeros((1, 3, h as usize, w as usize));
    let scale = BGR_STD.map(|s| 1.0 / (255.0 * s));
    let offset = [0, 1, 2].map(|c| -BGR_MEAN[c] / BGR_STD[c]);
    let planes = tensor.as_slice_mut().expect("fresh arrays are contiguous");
    fill_bgr_planes(&resized, planes, w as usize, scale, offset);
    tensor
}

/// Runs the detector on `image` and returns line boxes in its coordinates.
pub fn detect(model: &mut dyn Model, image: &RgbImage, opts: &DetOptions) -> Result<Vec<Detection>> {
    let started = std::time::Instant::now();
    let input = preprocess(image, opts);
    let prepared = started.elapsed();
    let output = model.run(input.view())?;
    tracing::trace!(preprocess = ?prepared, network = ?(started.elapsed() - prepared), "detector");
    let shape = output.shape().to_vec();
    let map = match shape.as_slice() {
        [1, 1, h, w] => output.into_shape_with_order((*h, *w)).map_err(|e| OcrError::ModelOutput(e.to_string()))?,
        _ => return Err(OcrError::ModelOutput(format!("detector output shape {shape:?}"))),
    };
    Ok(boxes_from_map(map.view(), image.width(), image.height(), opts))
}

/// DB post-processing: binarise the probability map, trace regions, fit
/// rectangles, drop weak or tiny ones, grow them back, scale to the image.
pub fn boxes_from_map(prob: ArrayView2<f32>, img_w: u32, img_h: u32, opts: &DetOptions) -> Vec<Detection> {
    let (map_h, map_w) = prob.dim();
    // One pixel of background all round: the contour tracer skips regions
    // that touch the image edge, and text often does.
    let bitmap = GrayImage::from_fn(map_w as u32 + 2, map_h as u32 + 2, |x, y| {
        let inside = (1..=map_w as u32).contains(&x) && (1..=map_h as u32).contains(&y);
        Luma([if inside && prob[[y as usize - 1, x as usize - 1]] > opts.threshold { 255 } else { 0 }])
    });
    let (sx, sy) = (img_w as f32 / map_w as f32, img_h as f32 / map_h as f32);
    let mut out = Vec::new();
    let outers = find_contours::<i32>(&bitmap)
        .into_iter()
        .filter(|c| c.border_type == BorderType::Outer)
        .take(opts.max_candidates);
    for contour in outers {
        let points: Vec<Point> = contour.points.iter().map(|p| [p.x as f32 - 1.0, p.y as f32 - 1.0]).collect();
        let Some((quad, short)) = min_area_rect(&points) else { continue };
        if short < opts.min_size {
            continue;
        }
        let score = mean_inside(prob, &quad);
        if score < opts.box_threshold {
            continue;
        }
        let Some((grown, short)) = min_area_rect(&unclip(&quad, opts.unclip_ratio)) else { continue };
        if short < opts.min_size + 2.0 {
            continue;
        }
        let quad = grown.map(|[x, y]| [(x * sx).clamp(0.0, img_w as f32), (y * sy).clamp(0.0, img_h as f32)]);
        out.push(Detection { quad, score });
    }
    out
}

/// Mean probability inside a quad (DB's "fast" box score).
fn mean_inside(prob: ArrayView2<f32>, quad: &Quad) -> f32 {
    let (h, w) = prob.dim();
    let clampx = |v: f32| (v.max(0.0) as usize).min(w - 1);
    let clampy = |v: f32| (v.max(0.0) as usize).min(h - 1);
    let xs = quad.iter().map(|p| p[0]);
    let ys = quad.iter().map(|p| p[1]);
    let x0 = clampx(xs.clone().fold(f32::MAX, f32::min).floor());
    let x1 = clampx(xs.fold(f32::MIN, f32::max).ceil());
    let y0 = clampy(ys.clone().fold(f32::MAX, f32::min).floor());
    let y1 = clampy(ys.fold(f32::MIN, f32::max).ceil());
    let mut mask = GrayImage::new((x1 - x0 + 1) as u32, (y1 - y0 + 1) as u32);
    let poly: Vec<imageproc::point::Point<i32>> = quad
        .iter()
        .map(|p| imageproc::point::Point::new((p[0] - x0 as f32) as i32, (p[1] - y0 as f32) as i32))
        .collect();
    if poly.first() == poly.last() || poly.windows(2).all(|w| w[0] == w[1]) {
        return prob[[y0, x0]];
    }
    draw_polygon_mut(&mut mask, &poly, Luma([1]));
    let (mut sum, mut n) = (0.0f32, 0u32);
    for (x, y, m) in mask.enumerate_pixels() {
        if m.0[0] != 0 {
            sum += prob[[y0 + y as usize, x0 + x as usize]];
            n += 1;
        }
    }
    if n == 0 { 0.0 } else { sum / n as f32 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn map_with_rects(w: usize, h: usize, rects: &[(usize, usize, usize, usize, f32)]) -> Array2<f32> {
        let mut m = Array2::<f32>::zeros((h, w));
        for &(x0, y0, x1, y1, v) in rects {
            m.slice_mut(ndarray::s![y0..y1, x0..x1]).fill(v);
        }
        m
    }

    #[test]
    fn input_size_scales_into_bounds_and_rounds_to_32() {
        let o = DetOptions::default();
        assert_eq!(input_size(368, 500, &o), (736, 992));
        assert_eq!(input_size(1000, 4000, &o), (320, 1280));
        assert_eq!(input_size(800, 1500, &o), (672, 1280));
        assert_eq!(input_size(1, 1, &o), (736, 736));
    }

    #[test]
    fn finds_one_box_per_region_in_image_coordinates() {
        // Two text kernels on a 100x50 map; the image is twice as large.
        let map = map_with_rects(100, 50, &[(10, 10, 60, 20, 0.9), (10, 30, 40, 38, 0.8)]);
        let found = boxes_from_map(map.view(), 200, 100, &DetOptions::default());
        assert_eq!(found.len(), 2);
        let mut tops: Vec<f32> = found.iter().map(|d| d.quad[0][1]).collect();
        tops.sort_by(f32::total_cmp);
        // Kernel 10..=19 (height 9 between pixel centres, 50 wide) grows by
        // d = 9*49*1.5/116 ≈ 5.7 map pixels each side, then doubles.
        assert!((tops[0] - 2.0 * (10.0 - 5.70)).abs() < 0.5, "top {}", tops[0]);
        for d in &found {
            assert!(d.score > 0.79);
            assert!(d.quad[0][0] < d.quad[1][0] && d.quad[0][1] < d.quad[3][1]);
        }
    }

    #[test]
    fn drops_weak_and_tiny_regions() {
        let map = map_with_rects(100, 50, &[(10, 10, 60, 20, 0.5), (70, 30, 72, 32, 0.99)]);
        assert!(boxes_from_map(map.view(), 100, 50, &DetOptions::default()).is_empty());
    }

    #[test]
    fn clamps_boxes_to_the_image() {
        let map = map_with_rects(40, 20, &[(0, 0, 40, 8, 0.95)]);
        let found = boxes_from_map(map.view(), 40, 20, &DetOptions::default());
        assert_eq!(found.len(), 1);
        for p in found[0].quad {
            assert!((0.0..=40.0).contains(&p[0]) && (0.0..=20.0).contains(&p[1]));
        }
    }

    #[test]
    fn preprocess_is_bgr_normalised() {
        let img = RgbImage::from_pixel(736, 736, image::Rgb([255, 0, 0]));
        let t = preprocess(&img, &DetOptions::default());
        assert_eq!(t.shape(), &[1, 3, 736, 736]);
        assert!((t[[0, 0, 5, 5]] - (0.0 - 0.485) / 0.229).abs() < 1e-5); // blue
        assert!((t[[0, 2, 5, 5]] - (1.0 - 0.406) / 0.225).abs() < 1e-5); // red
    }
}
