//! Where the model files live. `make setup` fetches them into `models/` of
//! the checkout (see `scripts/setup.sh` for their pinned sources).

use std::path::{Path, PathBuf};

pub const DETECTOR_FILE: &str = "ppocrv6_det.onnx";
pub const RECOGNIZER_FILE: &str = "ppocrv6_rec.onnx";
pub const CLASSIFIER_FILE: &str = "ppocr_cls.onnx";

/// Paths of the three PP-OCR models.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    pub detector: PathBuf,
    pub recognizer: PathBuf,
    pub classifier: PathBuf,
}

impl ModelFiles {
    /// The standard file names inside `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            detector: dir.join(DETECTOR_FILE),
            recognizer: dir.join(RECOGNIZER_FILE),
            classifier: dir.join(CLASSIFIER_FILE),
        }
    }
}
