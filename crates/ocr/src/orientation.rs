//! Optional 0°/180° text-line orientation with the PP-OCR line classifier.

use image::RgbImage;
use image::imageops::{self, FilterType};
use ndarray::Ix2;

use crate::engine::Model;
use crate::error::{OcrError, Result};
use crate::recognition::batch_tensor;

const INPUT_HEIGHT: u32 = 48;
const INPUT_WIDTH: u32 = 192;
const BATCH: usize = 8;

/// Turns upside-down crops the right way up, in place. A crop is turned
/// when the classifier is at least `threshold` sure it reads 180°.
pub fn correct_upside_down(model: &mut dyn Model, crops: &mut [RgbImage], threshold: f32) -> Result<()> {
    for chunk in crops.chunks_mut(BATCH) {
        let inputs: Vec<RgbImage> = chunk.iter().map(classifier_input).collect();
        let refs: Vec<&RgbImage> = inputs.iter().collect();
        let output = model.run(batch_tensor(&refs, INPUT_HEIGHT, INPUT_WIDTH).view())?;
        let output = output
            .into_dimensionality::<Ix2>()
            .map_err(|e| OcrError::ModelOutput(format!("orientation output: {e}")))?;
        if output.dim() != (chunk.len(), 2) {
            return Err(OcrError::ModelOutput(format!("orientation output {:?}", output.dim())));
        }
        for (crop, probs) in chunk.iter_mut().zip(output.outer_iter()) {
            if probs[1] >= threshold {
                imageops::rotate180_in_place(crop);
            }
        }
    }
    Ok(())
}

/// The crop at the classifier's height and at most its width.
fn classifier_input(crop: &RgbImage) -> RgbImage {
    let w = (crop.width() as f32 * INPUT_HEIGHT as f32 / crop.height().max(1) as f32).ceil();
    imageops::resize(crop, (w as u32).clamp(1, INPUT_WIDTH), INPUT_HEIGHT, FilterType::Triangle)
}
