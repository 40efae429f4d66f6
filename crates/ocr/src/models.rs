//! Where the model files live. `make setup` fetches them into `vendor/models`
//! of the checkout and makes their int8 versions (see `scripts/setup.sh`).

use std::path::{Path, PathBuf};

const CLASSIFIER_FILE: &str = "ppocr_cls.onnx";

/// Numeric precision of the detector and recogniser weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// The published float models: the most accurate, about 1.5× slower.
    Fp32,
    /// Static int8 quantisation made at set-up time (`scripts/quantize.py`).
    #[default]
    Int8,
}

impl Precision {
    pub fn as_str(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Int8 => "int8",
        }
    }

    fn file(self, stem: &str) -> String {
        match self {
            Precision::Fp32 => format!("{stem}.onnx"),
            Precision::Int8 => format!("{stem}.int8.onnx"),
        }
    }
}

impl std::str::FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fp32" => Ok(Precision::Fp32),
            "int8" => Ok(Precision::Int8),
            other => Err(format!("unknown precision `{other}` (expected `fp32` or `int8`)")),
        }
    }
}

/// Paths of the three PP-OCR models.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    pub detector: PathBuf,
    pub recognizer: PathBuf,
    pub classifier: PathBuf,
}

impl ModelFiles {
    /// The standard file names inside `dir` for `precision` (the small
    /// orientation classifier is always float).
    pub fn in_dir(dir: &Path, precision: Precision) -> Self {
        Self {
            detector: dir.join(precision.file("ppocrv6_det")),
            recognizer: dir.join(precision.file("ppocrv6_rec")),
            classifier: dir.join(CLASSIFIER_FILE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_picks_the_file_names_setup_writes() {
        let fp32 = ModelFiles::in_dir(Path::new("m"), Precision::Fp32);
        let int8 = ModelFiles::in_dir(Path::new("m"), Precision::Int8);
        assert_eq!(fp32.detector, Path::new("m/ppocrv6_det.onnx"));
        assert_eq!(int8.recognizer, Path::new("m/ppocrv6_rec.int8.onnx"));
        assert_eq!(int8.classifier, fp32.classifier);
    }
}
