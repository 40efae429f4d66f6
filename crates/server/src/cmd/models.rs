//! `inference-hub models`: where the files are, which CPU and precision
//! the engine gets, and whether it loads.

use std::time::Instant;

use anyhow::Context;

use crate::config::EngineArgs;

/// `inference-hub models`: where everything is, and whether it loads.
pub fn run(engine: &EngineArgs) -> anyhow::Result<()> {
    let files = engine.model_files(engine.precision());
    println!("CPU:          {}", hub_ocr::CpuInfo::detect());
    println!("ONNX Runtime: {}", engine.ort_lib().display());
    for path in [&files.detector, &files.recognizer, &files.classifier] {
        let size = std::fs::metadata(path).map(|m| format!("{:.1} MB", m.len() as f64 / 1e6));
        println!("model:        {} ({})", path.display(), size.unwrap_or_else(|_| "missing".into()));
    }
    let started = Instant::now();
    let (_, precision) = engine.load_engine().context("loading models")?;
    println!("loaded in {} ms", started.elapsed().as_millis());
    println!("precision:    {precision}");
    Ok(())
}
