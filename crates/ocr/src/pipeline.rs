//! The whole pipeline: decode → detect → order → crop → (orient) → recognise.

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

/// A loaded pipeline. Not `Sync`: each worker thread owns one.
pub struct OcrEngine {
    detector: Box<dyn Model>,
    recognizer: Box<dyn Model>,
    classifier: Option<Box<dyn Model>>,
    decoder: CtcDecoder,
    options: OcrOptions,
}

impl OcrEngine {
    /// Loads the models on ONNX Runtime; [`crate::init_runtime`] first.
    pub fn load(files: &ModelFiles, runtime: &RuntimeOptions, options: OcrOptions) -> Result<Self> {
        files.check(options.orientation)?;
        let detector = OrtModel::load(&files.detector, "detection model", runtime)?;
        let recognizer = OrtModel::load(&files.recognizer, "recognition model", runtime)?;
        let characters = recognizer.metadata("character")?.ok_or_else(|| {
            OcrError::ModelOutput(format!("{} has no `character` metadata", files.recognizer.display()))
        })?;
        let classifier = if options.orientation {
            Some(Box::new(OrtModel::load(&files.classifier, "orientation model", runtime)?) as Box<dyn Model>)
        } else {
            None
        };
        Ok(Self::with_models(Box::new(detector), Box::new(recognizer), classifier, &characters, options))
    }

    /// Assembles a pipeline from any models, e.g. fakes in tests.
    pub fn with_models(
        detector: Box<dyn Model>,
        recognizer: Box<dyn Model>,
        classifier: Option<Box<dyn Model>>,
        characters: &str,
        options: OcrOptions,
    ) -> Self {
        let decoder = CtcDecoder::new(characters, options.alphabet, options.space_boost);
        Self { detector, recognizer, classifier, decoder, options }
    }

    pub fn options(&self) -> &OcrOptions {
        &self.options
    }

    /// Decodes image bytes (JPEG, PNG, WEBP, BMP) and reads them.
    pub fn read_bytes(&mut self, bytes: &[u8]) -> Result<Vec<TextLine>> {
        let mut clock = Instant::now();
        let image = decode_image(bytes, &self.options.decode)?;
        tracing::debug!(ms = lap(&mut clock), width = image.width(), height = image.height(), "decoded");
        self.read_image(&image)
    }

    /// Reads the text lines of an upright RGB image, in reading order.
    pub fn read_image(&mut self, image: &RgbImage) -> Result<Vec<TextLine>> {
        let mut clock = Instant::now();
        let detections = detect(self.detector.as_mut(), image, &self.options.detection)?;
        let quads: Vec<Quad> = detections.into_iter().map(|d| d.quad).collect();
        tracing::debug!(ms = lap(&mut clock), boxes = quads.len(), "detected");
        let order = reading_order(&quads);
        let rec = &self.options.recognition;
        let mut crops: Vec<RgbImage> =
            order.iter().map(|&i| crop_line(image, &quads[i], rec.height, rec.max_width, rec.crop_margin)).collect();
        if let Some(classifier) = self.classifier.as_mut() {
            correct_upside_down(classifier.as_mut(), &mut crops, self.options.orientation_threshold)?;
        }
        tracing::debug!(ms = lap(&mut clock), "cropped");
        let texts = recognize(self.recognizer.as_mut(), &self.decoder, &crops, rec)?;
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
