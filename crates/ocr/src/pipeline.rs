//! The whole pipeline: decode → detect → order → crop → (orient) → recognise.

use std::path::Path;
use std::time::Instant;

use image::RgbImage;

use crate::crop::crop_line;
use crate::ctc::{Alphabet, CtcDecoder};
use crate::decode::{DecodeLimits, decode_image};
use crate::detection::{DetOptions, detect};
use crate::engine::{Model, OrtModel, RuntimeOptions};
use crate::error::{OcrError, Result};
use crate::geometry::Quad;
use crate::layout::reading_order;
use crate::model_pool::ModelPool;
use crate::models::ModelFiles;
use crate::orientation::correct_upside_down;
use crate::recognition::{RecOptions, recognize};

/// Pipeline settings; the defaults suit scanned and photographed receipts.
#[derive(Debug, Clone)]
pub struct OcrOptions {
    pub decode: DecodeLimits,
    pub detection: DetOptions,
    pub recognition: RecOptions,
    /// Run the 0°/180° line classifier before recognition.
    pub orientation: bool,
    /// Classifier confidence needed to turn a line.
    pub orientation_threshold: f32,
    /// Characters the decoder may emit.
    pub alphabet: Alphabet,
    /// Weight of the space class in CTC decoding; above 1 keeps narrow word gaps.
    pub space_boost: f32,
    /// Lines read with lower confidence are dropped as noise.
    pub min_confidence: f32,
}

impl Default for OcrOptions {
    fn default() -> Self {
        Self {
            decode: DecodeLimits::default(),
            detection: DetOptions::default(),
            recognition: RecOptions::default(),
            orientation: false,
            orientation_threshold: 0.9,
            alphabet: Alphabet::Full,
            space_boost: 5.0,
            min_confidence: 0.5,
        }
    }
}

/// One recognised line of text.
#[derive(Debug, Clone, PartialEq)]
pub struct TextLine {
    pub text: String,
    /// Mean probability of the line's characters, 0..1.
    pub confidence: f32,
    /// Corners in original image pixels, clockwise from top-left.
    pub bbox: Quad,
}

/// A loaded pipeline, shared by every thread that reads images: each stage
/// checks a session out of its pool for the time of one run.
pub struct OcrEngine {
    detectors: ModelPool,
    recognizers: ModelPool,
    classifiers: Option<ModelPool>,
    decoder: CtcDecoder,
    options: OcrOptions,
}

impl OcrEngine {
    /// Loads the models on ONNX Runtime; [`crate::init_runtime`] first.
    pub fn load(files: &ModelFiles, runtime: &RuntimeOptions, options: OcrOptions) -> Result<Self> {
        files.check(options.orientation)?;
        let load = |path: &Path, what, session, count: usize| -> Result<Vec<OrtModel>> {
            (0..count.max(1)).map(|_| OrtModel::load(path, what, session)).collect()
        };
        let recognizers =
            load(&files.recognizer, "recognition model", runtime.recognizer_session, runtime.recognizers)?;
        let characters = recognizers[0].metadata("character")?.ok_or_else(|| {
            OcrError::ModelOutput(format!("{} has no `character` metadata", files.recognizer.display()))
        })?;
        let detectors = load(&files.detector, "detection model", runtime.detector_session, runtime.detectors)?;
        let classifiers = if options.orientation {
            Some(boxed(load(&files.classifier, "orientation model", runtime.detector_session, runtime.detectors)?))
        } else {
            None
        };
        Ok(Self::with_models(boxed(detectors), boxed(recognizers), classifiers, &characters, options))
    }

    /// Assembles a pipeline from any models, e.g. fakes in tests.
    pub fn with_models(
        detectors: Vec<Box<dyn Model>>,
        recognizers: Vec<Box<dyn Model>>,
        classifiers: Option<Vec<Box<dyn Model>>>,
        characters: &str,
        options: OcrOptions,
    ) -> Self {
        let decoder = CtcDecoder::new(characters, options.alphabet, options.space_boost);
        Self {
            detectors: ModelPool::new(detectors),
            recognizers: ModelPool::new(recognizers),
            classifiers: classifiers.map(ModelPool::new),
            decoder,
            options,
        }
    }

    pub fn options(&self) -> &OcrOptions {
        &self.options
    }

    /// Decodes image bytes (JPEG, PNG, WEBP, BMP) and reads them.
    pub fn read_bytes(&self, bytes: &[u8]) -> Result<Vec<TextLine>> {
        let mut clock = Instant::now();
        let image = decode_image(bytes, &self.options.decode)?;
        tracing::debug!(ms = lap(&mut clock), width = image.width(), height = image.height(), "decoded");
        self.read_image(&image)
    }

    /// Reads the text lines of an upright RGB image, in reading order.
    pub fn read_image(&self, image: &RgbImage) -> Result<Vec<TextLine>> {
        let mut clock = Instant::now();
        let detections = detect(&mut *self.detectors.checkout(), image, &self.options.detection)?;
        let quads: Vec<Quad> = detections.into_iter().map(|d| d.quad).collect();
        tracing::debug!(ms = lap(&mut clock), boxes = quads.len(), "detected");
        let order = reading_order(&quads);
        let rec = &self.options.recognition;
        let mut crops: Vec<RgbImage> =
            order.iter().map(|&i| crop_line(image, &quads[i], rec.height, rec.max_width, rec.crop_margin)).collect();
        if let Some(classifiers) = &self.classifiers {
            correct_upside_down(&mut *classifiers.checkout(), &mut crops, self.options.orientation_threshold)?;
        }
        tracing::debug!(ms = lap(&mut clock), "cropped");
        let texts = recognize(&self.recognizers, &self.decoder, &crops, rec)?;
        tracing::debug!(ms = lap(&mut clock), "recognized");
        Ok(order
            .into_iter()
            .zip(texts)
            .filter(|(_, (text, confidence))| !text.is_empty() && *confidence >= self.options.min_confidence)
            .map(|(i, (text, confidence))| TextLine { text, confidence, bbox: quads[i] })
            .collect())
    }
}

/// Milliseconds since `clock`, which restarts: stage timings for debug logs.
fn lap(clock: &mut Instant) -> f64 {
    let ms = clock.elapsed().as_secs_f64() * 1000.0;
    *clock = Instant::now();
    ms
}

fn boxed(models: Vec<OrtModel>) -> Vec<Box<dyn Model>> {
    models.into_iter().map(|m| Box::new(m) as Box<dyn Model>).collect()
}
