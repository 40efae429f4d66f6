//! CTC text recognition on line crops: crops sorted by width are batched so
//! little padding is fed to the network, then decoded.

use std::cmp::Reverse;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::thread;

use image::RgbImage;
use ndarray::{Array4, Axis, Ix3};

use crate::ctc::CtcDecoder;
use crate::engine::Model;
use crate::error::{OcrError, Result};
use crate::model_pool::ModelPool;
use crate::tensor::fill_bgr_planes;

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
    for (crop, mut planes) in crops.iter().zip(tensor.outer_iter_mut()) {
        let planes = planes.as_slice_mut().expect("fresh arrays are contiguous");
        fill_bgr_planes(crop, planes, width, [1.0 / 127.5; 3], [-1.0; 3]);
    }
    tensor
}

/// Reads each crop; returns `(text, confidence)` in the order of `crops`.
/// Batches are spread over every free session of `pool`, so one request's
/// lines use all cores when the service is otherwise idle.
pub fn recognize(
    pool: &ModelPool,
    decoder: &CtcDecoder,
    crops: &[RgbImage],
    opts: &RecOptions,
) -> Result<Vec<(String, f32)>> {
    // Widest first: long lines start early and the sessions finish together.
    let mut order: Vec<usize> = (0..crops.len()).collect();
    order.sort_by_key(|&i| Reverse(crops[i].width()));
    let batches: Vec<&[usize]> = order.chunks(opts.batch_size.max(1)).collect();
    let next = AtomicUsize::new(0);
    let results = Mutex::new(vec![(String::new(), 0.0); crops.len()]);
    let work = |model: &mut dyn Model| -> Result<()> {
        while let Some(batch) = batches.get(next.fetch_add(1, Ordering::Relaxed)) {
            let decoded = run_batch(model, decoder, crops, batch, opts)?;
            let mut results = results.lock().unwrap_or_else(PoisonError::into_inner);
            for (&i, line) in batch.iter().zip(decoded) {
                results[i] = line;
            }
        }
        Ok(())
    };
    thread::scope(|scope| {
        // Take one session for sure (progress), then any others that are idle.
        let mut own = pool.checkout();
        let helpers: Vec<_> = (1..pool.size().min(batches.len()))
            .map_while(|_| pool.try_checkout())
            .map(|mut model| scope.spawn(move || work(&mut *model)))
            .collect();
        let mut outcome = work(&mut *own);
        for helper in helpers {
            let joined = helper.join().unwrap_or_else(|_| Err(OcrError::Runtime("recognition thread panicked".into())));
            outcome = outcome.and(joined);
        }
        outcome
    })?;
    Ok(results.into_inner().unwrap_or_else(PoisonError::into_inner))
}

/// One network run over the crops `batch` (indices into `crops`).
fn run_batch(
    model: &mut dyn Model,
    decoder: &CtcDecoder,
    crops: &[RgbImage],
    batch: &[usize],
    opts: &RecOptions,
) -> Result<Vec<(String, f32)>> {
    let images: Vec<&RgbImage> = batch.iter().map(|&i| &crops[i]).collect();
    let mut lines = Vec::with_capacity(batch.len());
    model.run_with(batch_tensor(&images, opts.height, opts.min_width).view(), &mut |output| {
        let output = output
            .into_dimensionality::<Ix3>()
            .map_err(|e| OcrError::ModelOutput(format!("recogniser output: {e}")))?;
        if output.len_of(Axis(0)) != batch.len() {
            return Err(OcrError::ModelOutput("recogniser batch size changed".into()));
        }
        for probs in output.outer_iter() {
            lines.push(decoder.decode(probs)?);
        }
        Ok(())
    })?;
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctc::Alphabet;
    use ndarray::{ArrayD, ArrayView4};
    use std::sync::{Arc, Mutex};

    /// Emits class 1 ("A") for every 8-pixel step that holds any dark pixel
    /// in the crop's first row, blank elsewhere; records batch shapes.
    struct FakeRecognizer {
        shapes: Arc<Mutex<Vec<Vec<usize>>>>,
    }

    impl Model for FakeRecognizer {
        fn run(&mut self, input: ArrayView4<'_, f32>) -> Result<ArrayD<f32>> {
            self.shapes.lock().unwrap().push(input.shape().to_vec());
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

    fn pool(sessions: usize) -> (ModelPool, Arc<Mutex<Vec<Vec<usize>>>>) {
        let shapes = Arc::new(Mutex::new(Vec::new()));
        let models =
            (0..sessions).map(|_| Box::new(FakeRecognizer { shapes: shapes.clone() }) as Box<dyn Model>).collect();
        (ModelPool::new(models), shapes)
    }

    #[test]
    fn batches_by_width_and_keeps_input_order() {
        let (pool, shapes) = pool(1);
        let decoder = CtcDecoder::new("A", Alphabet::Full, 1.0);
        let crops = [crop(16, 0), crop(64, 8), crop(40, 24)];
        let opts = RecOptions { batch_size: 2, ..RecOptions::default() };
        let out = recognize(&pool, &decoder, &crops, &opts).unwrap();
        assert_eq!(out[0].0, "");
        assert_eq!(out[1].0, "A");
        assert_eq!(out[2].0, "AA");
        // Widest two (64, 40) share a batch padded to 64; 16 runs alone.
        assert_eq!(*shapes.lock().unwrap(), vec![vec![2, 3, 48, 64], vec![1, 3, 48, 16]]);
    }

    #[test]
    fn spreads_batches_over_sessions_with_the_same_result() {
        let crops: Vec<RgbImage> = (0..40).map(|i| crop(16 + 8 * (i % 7), 8 * (i % 3))).collect();
        let decoder = CtcDecoder::new("A", Alphabet::Full, 1.0);
        let opts = RecOptions { batch_size: 1, ..RecOptions::default() };
        let (one, _) = pool(1);
        let (three, shapes) = pool(3);
        let serial = recognize(&one, &decoder, &crops, &opts).unwrap();
        assert_eq!(recognize(&three, &decoder, &crops, &opts).unwrap(), serial);
        assert_eq!(shapes.lock().unwrap().len(), 40);
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
