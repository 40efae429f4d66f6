//! The engine seam: every stage talks to a [`Model`], and [`OrtModel`] is the
//! ONNX Runtime implementation. Tests drive the stages with fake models.

// Unsafe code here: ONNX Runtime's C API, for the shared arena (the workspace denies it elsewhere).
#![allow(unsafe_code)]

use std::path::Path;
use std::sync::{Mutex, OnceLock, PoisonError};

use ndarray::{ArrayD, ArrayView4, ArrayViewD};
use ort::session::Session;
use ort::session::builder::{GraphOptimizationLevel, PrepackedWeights};
use ort::value::TensorRef;

use crate::error::{OcrError, Result};

/// A single-input, single-output f32 network (all PP-OCR models are).
pub trait Model: Send {
    fn run(&mut self, input: ArrayView4<'_, f32>) -> Result<ArrayD<f32>>;

    /// Runs the network and lends its output to `read`. Engines override it
    /// to skip the copy `run` makes: a recogniser's output is megabytes.
    fn run_with(
        &mut self,
        input: ArrayView4<'_, f32>,
        read: &mut dyn FnMut(ArrayViewD<'_, f32>) -> Result<()>,
    ) -> Result<()> {
        read(self.run(input)?.view())
    }
}

/// How one ONNX Runtime session runs.
#[derive(Debug, Clone, Copy)]
pub struct SessionOptions {
    /// Threads the session uses inside one operator.
    pub threads: usize,
    /// Let idle operator threads spin: lower latency when the cores are
    /// free, wasted cycles when sessions share them.
    pub spinning: bool,
}

/// How many sessions of each model an engine holds, and how they run.
#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// Detector sessions: images detected at the same time.
    pub detectors: usize,
    /// Recogniser sessions: line batches read at the same time, shared by
    /// all requests.
    pub recognizers: usize,
    pub detector_session: SessionOptions,
    pub recognizer_session: SessionOptions,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        let single = SessionOptions { threads: 1, spinning: false };
        Self { detectors: 1, recognizers: 1, detector_session: single, recognizer_session: single }
    }
}

static ENVIRONMENT: OnceLock<std::result::Result<ort::environment::Environment, String>> = OnceLock::new();

/// Loads the ONNX Runtime shared library once per process.
///
/// ONNX Runtime allows one environment per process, so later calls return the
/// first outcome whatever path they pass.
pub fn init_runtime(dylib: &Path) -> Result<&'static ort::environment::Environment> {
    ENVIRONMENT
        .get_or_init(|| {
            if !dylib.is_file() {
                return Err(
                    OcrError::MissingFile { what: "ONNX Runtime library", path: dylib.to_path_buf() }.to_string()
                );
            }
            let env = ort::init_from(dylib)
                .map_err(|e| e.to_string())?
                .with_name("inference-hub")
                .with_telemetry(false)
                .build()
                .map_err(|e| e.to_string())?;
            share_cpu_arena(&env).map_err(|e| format!("cannot register the shared CPU arena: {e}"))?;
            Ok(env)
        })
        .as_ref()
        .map_err(|e| OcrError::Runtime(e.clone()))
}

/// Registers one CPU memory arena on the environment for every session.
///
/// By default each session grows an arena of its own to the largest input
/// it has seen and keeps it; with one shared arena, memory a detector run
/// released is reused by the next recogniser run instead of both being kept
/// (about 80 MB less for one detector and one recogniser session).
fn share_cpu_arena(env: &ort::environment::Environment) -> Result<()> {
    use ort::AsPointer;
    use ort::sys::{OrtAllocatorType, OrtArenaCfg, OrtMemType, OrtMemoryInfo};
    let api = ort::api();
    // SAFETY: each `status` is one that an ONNX Runtime call below just
    // returned, null or owned by us, and is converted (and freed) once.
    let check = |status| unsafe { ort::Error::result_from_status(status) };
    let mut info: *mut OrtMemoryInfo = std::ptr::null_mut();
    let mut config: *mut OrtArenaCfg = std::ptr::null_mut();
    // SAFETY: plain C API calls on pointers created here and released below;
    // ONNX Runtime copies what it keeps.
    unsafe {
        check((api.CreateCpuMemoryInfo)(
            OrtAllocatorType::OrtArenaAllocator,
            OrtMemType::OrtMemTypeDefault,
            &mut info,
        ))?;
        // No keys: ONNX Runtime's defaults (grow by powers of two, no cap).
        // Growing by exactly what is asked was measured worse: chunks of
        // different sizes do not coalesce.
        let made = check((api.CreateArenaCfgV2)(std::ptr::null(), std::ptr::null(), 0, &mut config));
        let registered =
            made.and_then(|()| check((api.CreateAndRegisterAllocator)(env.ptr().cast_mut(), info, config)));
        if !config.is_null() {
            (api.ReleaseArenaCfg)(config);
        }
        (api.ReleaseMemoryInfo)(info);
        registered?;
    }
    Ok(())
}

/// An ONNX model running on ONNX Runtime's CPU provider.
pub struct OrtModel {
    session: Session,
}

impl OrtModel {
    /// Builds `count` (at least one) sessions of the model at `path`;
    /// [`init_runtime`] must have succeeded first. The sessions share one copy
    /// of the prepacked weights, so each extra one costs only its working
    /// memory, and loads faster.
    pub fn load_sessions(path: &Path, what: &'static str, options: SessionOptions, count: usize) -> Result<Vec<Self>> {
        let shared = PrepackedWeights::new();
        (0..count.max(1)).map(|_| Self::load_one(path, what, options, &shared)).collect()
    }

    fn load_one(
        path: &Path,
        what: &'static str,
        options: SessionOptions,
        prepacked: &PrepackedWeights,
    ) -> Result<Self> {
        if !path.is_file() {
            return Err(OcrError::MissingFile { what, path: path.to_path_buf() });
        }
        let env = ENVIRONMENT
            .get()
            .and_then(|e| e.as_ref().ok())
            .ok_or_else(|| OcrError::Runtime("ONNX Runtime is not initialised".into()))?;
        // Every image and batch has its own shape, so per-shape memory
        // patterns are never reused and only accumulate.
        let mut builder = Session::builder(env)?
            .with_prepacked_weights(prepacked)
            .map_err(ort::Error::from)?
            // The derived int8 models' custom operator (see `lookup`).
            .with_operators(crate::lookup::domain()?)
            .map_err(ort::Error::from)?
            .with_env_allocators()
            .map_err(ort::Error::from)?
            .with_memory_pattern(false)
            .map_err(ort::Error::from)?
            .with_optimization_level(GraphOptimizationLevel::Level3)
            .map_err(ort::Error::from)?
            .with_intra_threads(options.threads.max(1))
            .map_err(ort::Error::from)?
            .with_config_entry("session.intra_op.allow_spinning", if options.spinning { "1" } else { "0" })
            .map_err(ort::Error::from)?
            .with_inter_threads(1)
            .map_err(ort::Error::from)?;
        // ONNX Runtime enters a custom operator domain into ONNX's
        // process-wide version map when the first session declaring it is
        // built, with a check-then-add that two sessions built at once can
        // both pass ("domain already exists"). So sessions are built alone
        // until one has succeeded; later ones find the domain there.
        static DOMAIN_ENTERED: Mutex<bool> = Mutex::new(false);
        let mut entered = DOMAIN_ENTERED.lock().unwrap_or_else(PoisonError::into_inner);
        if *entered {
            drop(entered);
            return Ok(Self { session: builder.commit_from_file(path)? });
        }
        let session = builder.commit_from_file(path)?;
        *entered = true;
        Ok(Self { session })
    }

    /// A custom metadata value of the model (e.g. the recogniser's `character`).
    pub fn metadata(&self, key: &str) -> Result<Option<String>> {
        Ok(self.session.metadata()?.custom(key))
    }
}

impl Model for OrtModel {
    fn run(&mut self, input: ArrayView4<'_, f32>) -> Result<ArrayD<f32>> {
        let tensor = TensorRef::from_array_view(input)?;
        let outputs = self.session.run(ort::inputs![tensor])?;
        Ok(outputs[0].try_extract_array::<f32>()?.to_owned())
    }

    fn run_with(
        &mut self,
        input: ArrayView4<'_, f32>,
        read: &mut dyn FnMut(ArrayViewD<'_, f32>) -> Result<()>,
    ) -> Result<()> {
        let tensor = TensorRef::from_array_view(input)?;
        let outputs = self.session.run(ort::inputs![tensor])?;
        read(outputs[0].try_extract_array::<f32>()?)
    }
}
