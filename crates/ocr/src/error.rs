//! The pipeline's one error type.

use std::path::PathBuf;

/// Everything that can go wrong between image bytes and recognised lines.
#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    /// No bytes at all.
    #[error("the image is empty")]
    EmptyInput,
    /// The bytes are not JPEG, PNG, WEBP or BMP.
    #[error("not a JPEG, PNG, WEBP or BMP image")]
    UnsupportedFormat,
    /// A supported format, but truncated, corrupt or without pixels.
    #[error("cannot decode image: {0}")]
    Decode(String),
    /// Over the configured dimension or pixel limits.
    #[error("image too large: {0}")]
    TooLarge(String),
    /// A model or runtime file is missing; the message names it and the fix.
    #[error("{what} not found at {path}: run `make setup` (or pass the right path)")]
    MissingFile { what: &'static str, path: PathBuf },
    /// ONNX Runtime could not be loaded or refused a model.
    #[error("ONNX Runtime: {0}")]
    Runtime(String),
    /// The int8 models misread the start-up probe and the policy forbids
    /// falling back to fp32 (see `probe`).
    #[error("{0}")]
    ProbeFailed(String),
    /// A model produced output of an unexpected shape.
    #[error("model output: {0}")]
    ModelOutput(String),
}

impl From<ort::Error> for OcrError {
    fn from(err: ort::Error) -> Self {
        OcrError::Runtime(err.to_string())
    }
}

pub type Result<T, E = OcrError> = std::result::Result<T, E>;
