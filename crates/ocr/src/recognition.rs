//! CTC text recognition on line crops: crops sorted by width are batched so
//! little padding is fed to the network, then decoded.

use image::RgbImage;
use ndarray::{Array4, Axis, Ix3};

use crate::ctc::CtcDecoder;
use crate::engine::Model;
use crate::error::{OcrError, Result};

/// Recogniser settings.
#[derive(Debug, Clone)]
pub struct RecOptions {
    /// Input height of the recogniser.
    pub height: u32,
    /// Widest crop fed to the network; longer lines are squeezed.
    pub max_width: u32,
    /// Narrower batches are padded to this width (PaddleOCR pads to 320).
    pub min_width: u32,
    /// Background added around each line before reading, as a fraction of
    /// the line's height.
    pub crop_margin: f32,
    /// Crops per network run.
    pub batch_size: usize,
}

impl Default for RecOptions {
    fn default() -> Self {
        Self { height: 48, max_width: 3200, min_width: 0, crop_margin: 0.15, batch_size: 1 }
    }
}

/// Writes `crops` (all `height` high) into one `N×3×H×W` tensor in BGR order,
/// scaled to [-1, 1] and zero-padded on the right to the widest crop (at
/// least `min_width`).
pub fn batch_tensor(crops: &[&RgbImage], height: u32, min_width: u32) -> Array4<f32> {
    let width = crops.iter().map(|c| c.width()).max().unwrap_or(1).max(min_width) as usize;
    let mut tensor = Array4::<f32>::zeros((crops.len(), 3, height as usize, width));
    for (n, crop) in crops.iter().enumerate() {
        for (x, y, px) in crop.enumerate_pixels() {
            for c in 0..3 {
                tensor[[n, c, y as usize, x as usize]] = f32::from(px.0[2 - c]) / 127.5 - 1.0;
            }
        }
    }
    tensor
}

/// Reads each crop; returns `(text, confidence)` in the order of `crops`.
pub fn recognize(
    model: &mut dyn Model,
    decoder: &CtcDecoder,
    crops: &[RgbImage],
    opts: &RecOptions,
) -> Result<Vec<(String, f32)>> {
    let mut order: Vec<usize> = (0..crops.len()).collect();
    order.sort_by_key(|&i| crops[i].width());
    let mut results = vec![(String::new(), 0.0); crops.len()];
    for chunk in order.chunks(opts.batch_size.max(1)) {
        let batch: Vec<&RgbImage> = chunk.iter().map(|&i| &crops[i]).collect();
        let output = model.run(batch_tensor(&batch, opts.height, opts.min_width).view())?;
        let output = output
            .into_dimensionality::<Ix3>()
            .map_err(|e| OcrError::ModelOutput(format!("recogniser output: {e}")))?;
        if output.len_of(Axis(0)) != chunk.len() {
            return Err(OcrError::ModelOutput("recogniser batch size changed".into()));
        }
        for (probs, &i) in output.outer_iter().zip(chunk) {
            results[i] = decoder.decode(probs)?;
        }
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctc::Alphabet;
    use ndarray::{ArrayD, ArrayView4};

    /// Emits class 1 ("A") for every 8-pixel step that holds any dark pixel
    /// in the crop's first row, blank elsewhere; records batch shapes.
    struct FakeRecognizer {
        shapes: Vec<Vec<usize>>,
    }

    impl Model for FakeRecognizer {
        fn run(&mut self, input: ArrayView4<'_, f32>) -> Result<ArrayD<f32>> {
            self.shapes.push(input.shape().to_vec());
            let (n, _, _, w) = input.dim();
            let steps = w / 8;
            let mut out = ArrayD::<f32>::zeros(vec![n, steps, 3]);
            for b in 0..n {
                for t in 0..steps {
                    let dark = (t * 8..t * 8 + 8).any(|x| input[[b, 0, 0, x]] < 0.0);
                    out[[b, t, usize::from(dark)]] = 1.0;
                    // Separate runs with blanks so "AA" stays two letters.
                    if dark && t % 2 == 1 {
                        out[[b, t, 1]] = 0.0;
                        out[[b, t, 0]] = 1.0;
                    }
                }
            }
            Ok(out)
        }
    }

    fn crop(width: u32, dark_until: u32) -> RgbImage {
        RgbImage::from_fn(width, 48, |x, _| image::Rgb(if x < dark_until { [0; 3] } else { [255; 3] }))
    }

    #[test]
    fn batches_by_width_and_keeps_input_order() {
        let mut model = FakeRecognizer { shapes: Vec::new() };
        let decoder = CtcDecoder::new("A", Alphabet::Full, 1.0);
        let crops = [crop(64, 8), crop(16, 0), crop(40, 24)];
        let opts = RecOptions { batch_size: 2, ..RecOptions::default() };
        let out = recognize(&mut model, &decoder, &crops, &opts).unwrap();
        assert_eq!(out[0].0, "A");
        assert_eq!(out[1].0, "");
        assert_eq!(out[2].0, "AA");
        // Narrowest two (16, 40) share a batch padded to 40; 64 runs alone.
        assert_eq!(model.shapes, vec![vec![2, 3, 48, 40], vec![1, 3, 48, 64]]);
    }

    #[test]
    fn tensor_is_bgr_in_minus_one_to_one() {
        let img = RgbImage::from_pixel(4, 48, image::Rgb([255, 0, 0]));
        let t = batch_tensor(&[&img], 48, 8);
        assert_eq!(t[[0, 0, 0, 0]], -1.0);
        assert_eq!(t[[0, 2, 0, 0]], 1.0);
        assert_eq!(t.shape(), &[1, 3, 48, 8]);
        assert_eq!(t[[0, 1, 0, 7]], 0.0);
    }
}
