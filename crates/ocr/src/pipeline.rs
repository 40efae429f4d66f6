//! The whole pipeline: decode → (turn the page upright) → detect → order →
//! crop → (turn upside-down lines) → recognise.

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
use crate::page_orientation::{classify, to_given, upright};
use crate::recognition::{RecOptions, recognize};

/// Pipeline settings; the defaults suit scanned and photographed receipts.
#[derive(Debug, Clone)]
pub struct OcrOptions {
    pub decode: DecodeLimits,
    pub detection: DetOptions,
    pub recognition: RecOptions,
    /// Run the 0°/180° line classifier before recognition.
    pub line_orientation: bool,
    /// Turn the page upright (0/90/180/270°) with the page classifier
    /// before detection; boxes are still given on the image as passed in.
    pub page_orientation: bool,
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
            line_orientation: false,
            page_orientation: false,
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
    /// Corners in pixels of the image as given, clockwise from the text's
    /// top-left (on a page that was turned upright, not the image's).
    pub bbox: Quad,
}

/// A loaded pipeline, shared by every thread that reads images: each stage
/// checks a session out of its pool for the time of one run.
pub struct OcrEngine {
    detectors: ModelPool,
    recognizers: ModelPool,
    classifiers: Option<ModelPool>,
    page_classifiers: Option<ModelPool>,
    decoder: CtcDecoder,
    options: OcrOptions,
}

impl OcrEngine {
    /// Loads the models on ONNX Runtime; [`crate::init_runtime`] first.
    pub fn load(files: &ModelFiles, runtime: &RuntimeOptions, options: OcrOptions) -> Result<Self> {
        // The detector and recogniser load side by side: most of a load is
        // graph optimisation, one core each.
        let (detectors, recognizers) = std::thread::scope(|scope| {
            let recognizers = scope.spawn(|| {
                OrtModel::load_sessions(
                    &files.recognizer,
                    "recognition model",
                    runtime.recognizer_session,
                    runtime.recognizers,
                )
            });
            let detectors = OrtModel::load_sessions(
                &files.detector,
                "detection model",
                runtime.detector_session,
                runtime.detectors,
            );
            (detectors, recognizers.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
        });
        let (detectors, recognizers) = (detectors?, recognizers?);
        let characters = recognizers[0].metadata("character")?.ok_or_else(|| {
            OcrError::ModelOutput(format!("{} has no `character` metadata", files.recognizer.display()))
        })?;
        // The classifiers run once per image (page) or per image's lines, as
        // the detector does: as many sessions, as many threads.
        let optional = |wanted: bool, path, what| -> Result<Option<Vec<Box<dyn Model>>>> {
            Ok(if wanted {
                Some(boxed(OrtModel::load_sessions(path, what, runtime.detector_session, runtime.detectors)?))
            } else {
                None
            })
        };
        let classifiers = optional(options.line_orientation, &files.classifier, "line orientation model")?;
        let pages = optional(options.page_orientation, &files.page_classifier, "page orientation model")?;
        let mut engine = Self::with_models(boxed(detectors), boxed(recognizers), classifiers, &characters, options);
        engine.page_classifiers = pages.map(ModelPool::new);
        Ok(engine)
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
            page_classifiers: None,
            decoder,
            options,
        }
    }

    /// Decodes image bytes (JPEG, PNG, WEBP, BMP) and reads them.
    pub fn read_bytes(&self, bytes: &[u8]) -> Result<Vec<TextLine>> {
        let mut clock = Instant::now();
        let image = decode_image(bytes, &self.options.decode)?;
        let ms = lap(&mut clock, "decode");
        tracing::debug!(ms, width = image.width(), height = image.height(), "decoded");
        self.read_image(&image)
    }

    /// Reads the text lines of an RGB image, in reading order. The image is
    /// taken as upright unless page orientation is on.
    pub fn read_image(&self, image: &RgbImage) -> Result<Vec<TextLine>> {
        let Some(pages) = &self.page_classifiers else { return self.read_upright(image) };
        let mut clock = Instant::now();
        let turn = classify(&mut *pages.checkout(), image)?;
        let ms = lap(&mut clock, "page_orientation");
        tracing::debug!(ms, ?turn, "page orientation");
        let Some(turned) = upright(image, turn) else { return self.read_upright(image) };
        let mut lines = self.read_upright(&turned)?;
        for line in &mut lines {
            line.bbox = to_given(&line.bbox, turn, turned.width(), turned.height());
        }
        Ok(lines)
    }

    fn read_upright(&self, image: &RgbImage) -> Result<Vec<TextLine>> {
        let mut clock = Instant::now();
        let detections = detect(&mut *self.detectors.checkout(), image, &self.options.detection)?;
        let quads: Vec<Quad> = detections.into_iter().map(|d| d.quad).collect();
        let ms = lap(&mut clock, "detect");
        tracing::debug!(ms, boxes = quads.len(), "detected");
        let order = reading_order(&quads);
        let mut crops = self.crop_lines(image, &quads, &order);
        if let Some(classifiers) = &self.classifiers {
            correct_upside_down(&mut *classifiers.checkout(), &mut crops, self.options.orientation_threshold)?;
        }
        let ms = lap(&mut clock, "crop");
        tracing::debug!(ms, "cropped");
        let texts = recognize(&self.recognizers, &self.decoder, &crops, &self.options.recognition)?;
        let ms = lap(&mut clock, "recognize");
        tracing::debug!(ms, "recognized");
        Ok(order
            .into_iter()
            .zip(texts)
            .filter(|(_, (text, confidence))| !text.is_empty() && *confidence >= self.options.min_confidence)
            .map(|(i, (text, confidence))| TextLine { text, confidence, bbox: quads[i] })
            .collect())
    }

    /// Crops the lines in `order`, split over as many threads as there are
    /// recogniser sessions: on an idle service one receipt's ~50 crops then
    /// use every core, as its recognition does.
    fn crop_lines(&self, image: &RgbImage, quads: &[Quad], order: &[usize]) -> Vec<RgbImage> {
        let rec = &self.options.recognition;
        let crop = |i: &usize| crop_line(image, &quads[*i], rec.height, rec.max_width, rec.crop_margin);
        let per_thread = order.len().div_ceil(self.recognizers.size().max(1)).max(1);
        let mut parts = order.chunks(per_thread);
        let own = parts.next().unwrap_or_default();
        std::thread::scope(|scope| {
            let others: Vec<_> =
                parts.map(|part| scope.spawn(move || part.iter().map(crop).collect::<Vec<_>>())).collect();
            let mut crops: Vec<RgbImage> = own.iter().map(crop).collect();
            for other in others {
                crops.extend(other.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
            }
            crops
        })
    }
}

/// Milliseconds since `clock`, which restarts: stage timings for debug logs,
/// also recorded as `ocr_inference_stage_seconds{stage}` (a no-op unless the
/// program installed a `metrics` recorder). Called outside `debug!`, whose
/// arguments are not evaluated when debug logs are off.
fn lap(clock: &mut Instant, stage: &'static str) -> f64 {
    let seconds = clock.elapsed().as_secs_f64();
    metrics::histogram!("ocr_inference_stage_seconds", "stage" => stage).record(seconds);
    *clock = Instant::now();
    seconds * 1000.0
}

fn boxed(models: Vec<OrtModel>) -> Vec<Box<dyn Model>> {
    models.into_iter().map(|m| Box::new(m) as Box<dyn Model>).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, ArrayView4};

    /// Text probability 0.9 inside two fixed bands (fractions of the input):
    /// a short line high up and a long line below it.
    struct FakeDetector;
    const BANDS: [(f32, f32, f32, f32); 2] = [(0.1, 0.2, 0.4, 0.3), (0.1, 0.6, 0.95, 0.7)];

    impl Model for FakeDetector {
        fn run(&mut self, input: ArrayView4<'_, f32>) -> Result<ArrayD<f32>> {
            let (_, _, h, w) = input.dim();
            let mut map = ArrayD::<f32>::zeros(vec![1, 1, h, w]);
            for (x0, y0, x1, y1) in BANDS {
                let (fx, fy) = (w as f32, h as f32);
                for y in (y0 * fy) as usize..(y1 * fy) as usize {
                    for x in (x0 * fx) as usize..(x1 * fx) as usize {
                        map[[0, 0, y, x]] = 0.9;
                    }
                }
            }
            Ok(map)
        }
    }

    /// Reads "A" from narrow crops and "B" from wide ones.
    struct FakeRecognizer;

    impl Model for FakeRecognizer {
        fn run(&mut self, input: ArrayView4<'_, f32>) -> Result<ArrayD<f32>> {
            let (n, _, _, w) = input.dim();
            let mut out = ArrayD::<f32>::zeros(vec![n, (w / 8).max(1), 4]);
            out.slice_mut(ndarray::s![.., .., 0]).fill(1.0);
            let letter = if w < 200 { 1 } else { 2 };
            for b in 0..n {
                out[[b, 0, 0]] = 0.0;
                out[[b, 0, letter]] = 1.0;
            }
            Ok(out)
        }
    }

    #[test]
    fn reads_lines_in_order_with_boxes_in_image_pixels() {
        let engine = OcrEngine::with_models(
            vec![Box::new(FakeDetector)],
            vec![Box::new(FakeRecognizer), Box::new(FakeRecognizer)],
            None,
            "A\nB",
            OcrOptions::default(),
        );
        let lines = engine.read_image(&RgbImage::from_pixel(400, 200, image::Rgb([255; 3]))).unwrap();
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["A", "B"]);
        assert!(lines.iter().all(|l| l.confidence == 1.0));
        // Band 1 covers x 40..160, y 40..60 of the image; DB unclip grows it
        // by about 13 px on every side.
        let [tl, _, br, _] = lines[0].bbox;
        let near = |p: [f32; 2], q: [f32; 2]| (p[0] - q[0]).abs() < 4.0 && (p[1] - q[1]).abs() < 4.0;
        assert!(near(tl, [27.0, 27.0]) && near(br, [173.0, 73.0]), "{:?}", lines[0].bbox);
        assert!(lines[1].bbox[0][1] > lines[0].bbox[3][1], "second line is below the first");
    }
}
