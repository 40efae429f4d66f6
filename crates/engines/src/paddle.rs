//! PP-OCR through the `hub-ocr` pipeline. The pipeline is `Sync` and pools
//! its ONNX Runtime sessions, so every worker's instance shares one.

use std::path::PathBuf;
use std::sync::Arc;

use hub_ocr::{
    Alphabet, ModelFiles, OcrEngine, OcrOptions, Precision, ProbePolicy, RuntimeOptions, TextLine, init_runtime,
    load_checked,
};
use image::RgbImage;

use crate::{Engine, EngineError, EngineInfo};

/// Where the models and ONNX Runtime are, and how to run them.
#[derive(Debug, Clone, Default)]
pub struct PaddleConfig {
    pub ort_lib: PathBuf,
    pub model_dir: PathBuf,
    pub precision: Precision,
    pub alphabet: Alphabet,
    pub runtime: RuntimeOptions,
    pub options: OcrOptions,
    pub probe: ProbePolicy,
}

impl PaddleConfig {
    /// The file names of the models `precision` loads.
    pub fn model_names(&self, precision: Precision) -> Vec<String> {
        let files = ModelFiles::in_dir(&self.model_dir, precision, self.alphabet);
        let mut paths = vec![files.detector, files.recognizer];
        if self.options.line_orientation {
            paths.push(files.classifier);
        }
        if self.options.page_orientation {
            paths.push(files.page_classifier);
        }
        paths.iter().filter_map(|p| Some(p.file_name()?.to_string_lossy().into_owned())).collect()
    }
}

struct Paddle(Arc<OcrEngine>);

impl Engine for Paddle {
    fn read(&mut self, image: &RgbImage) -> Result<Vec<TextLine>, EngineError> {
        Ok(self.0.read_image(image)?)
    }
}

/// Loads ONNX Runtime and the models; int8 models must first read the
/// start-up probe right on this CPU (`ProbePolicy`).
pub fn load(config: &PaddleConfig, instances: usize) -> Result<(EngineInfo, Vec<Box<dyn Engine>>), EngineError> {
    init_runtime(&config.ort_lib)?;
    let (engine, precision) = load_checked(
        &config.model_dir,
        config.precision,
        config.alphabet,
        &config.runtime,
        config.options.clone(),
        config.probe,
    )?;
    if let Some(why) = &precision.fallback_reason {
        tracing::warn!("serving the fp32 models: {why}");
    }
    let files = ModelFiles::in_dir(&config.model_dir, precision.in_use, config.alphabet);
    let mut used = vec![files.detector.as_path(), files.recognizer.as_path()];
    if config.options.line_orientation {
        used.push(files.classifier.as_path());
    }
    if config.options.page_orientation {
        used.push(files.page_classifier.as_path());
    }
    let settings = format!("{:?} {:?} {:?}", precision.in_use, config.alphabet, config.options);
    let info = EngineInfo {
        identity: crate::identity(&["paddle", &settings], &used),
        name: "paddle",
        version: format!(
            "PP-OCRv6 {}{}",
            precision.in_use.as_str(),
            match config.alphabet {
                Alphabet::Full => "",
                Alphabet::Latin => ", Latin",
            }
        ),
        models: config.model_names(precision.in_use),
        precision: Some(precision),
    };
    let shared = Arc::new(engine);
    let instances = (0..instances).map(|_| Box::new(Paddle(shared.clone())) as Box<dyn Engine>).collect();
    Ok((info, instances))
}
