//! Receipt and document OCR with PaddleOCR (PP-OCR) models on ONNX Runtime.
//!
//! This crate is the pipeline only: no HTTP, no async. Stages, lowest first
//! (each module imports only from the ones above it):
//!
//! | module        | stage                                                        |
//! |---------------|--------------------------------------------------------------|
//! | `error`       | [`OcrError`], the one error type                             |
//! | `geometry`    | quads, minimum-area rectangles, DB unclip (via `geo`)        |
//! | `tensor`      | pixels → normalised BGR planes (network input layout)        |
//! | `lookup`      | `ByteLookup`, the custom operator of the derived int8 models |
//! | `engine`      | the [`Model`] seam and its ONNX Runtime implementation       |
//! | `model_pool`  | interchangeable sessions of one model, checked out per run   |
//! | `decode`      | bytes → upright RGB (format sniffing, limits, EXIF)          |
//! | `page_orientation` | optional 0/90/180/270° page classifier, boxes mapped back |
//! | `detection`   | DB detector: resize policy, normalisation, map → boxes       |
//! | `layout`      | reading order                                                |
//! | `crop`        | perspective crop of each line at the recogniser's height     |
//! | `ctc`         | greedy CTC decoding, alphabet restriction, NFKC              |
//! | `recognition` | width-sorted batching of crops through the recogniser        |
//! | `orientation` | optional 0°/180° line classifier                             |
//! | `models`      | model file names and checks                                  |
//! | `pipeline`    | [`OcrEngine`]: all of the above, image in, [`TextLine`]s out |
//! | `cpu`         | the CPU model and the int8 kernel family it gets             |
//! | `probe`       | known text read at load: int8 checked on this CPU, else fp32 |
//!
//! ```no_run
//! use hub_ocr::{Alphabet, ModelFiles, OcrEngine, OcrOptions, Precision, RuntimeOptions, init_runtime};
//! # fn main() -> hub_ocr::Result<()> {
//! init_runtime("vendor/onnxruntime/libonnxruntime.so.1.31.1".as_ref())?;
//! let files = ModelFiles::in_dir("vendor/models".as_ref(), Precision::Int8, Alphabet::Full);
//! let mut ocr = OcrEngine::load(&files, &RuntimeOptions::default(), OcrOptions::default())?;
//! for line in ocr.read_bytes(&std::fs::read("receipt.jpg").unwrap())? {
//!     println!("{:.2} {}", line.confidence, line.text);
//! }
//! # Ok(())
//! # }
//! ```

mod cpu;
mod crop;
mod ctc;
mod decode;
mod detection;
mod engine;
mod error;
mod geometry;
mod layout;
mod lookup;
mod model_pool;
mod models;
mod orientation;
mod page_orientation;
mod pipeline;
mod probe;
mod recognition;
mod tensor;

pub use cpu::{CpuInfo, KernelIsa};
pub use ctc::Alphabet;
pub use decode::{DecodeLimits, decode_image, sniff_format};
pub use detection::DetOptions;
pub use engine::{Model, OrtModel, RuntimeOptions, SessionOptions, init_runtime};
pub use error::{OcrError, Result};
pub use geometry::{Point, Quad};
pub use models::{ModelFiles, Precision};
pub use pipeline::{OcrEngine, OcrOptions, TextLine};
pub use probe::{MAX_CER as PROBE_MAX_CER, PrecisionReport, ProbePolicy, load_checked, probe_cer};
pub use recognition::RecOptions;
