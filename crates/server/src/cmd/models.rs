//! `inference-hub models`: where the files are, which CPU and precision
//! the engines get, and whether they load.

use anyhow::Context;

use crate::config::EngineArgs;

/// `inference-hub models`: where everything is, and whether each engine loads.
pub fn run(args: &EngineArgs) -> anyhow::Result<()> {
    println!("CPU:          {}", hub_ocr::CpuInfo::detect());
    for name in args.engines() {
        if name == "paddle" {
            let files = args.model_files(args.precision());
            println!("ONNX Runtime: {}", args.ort_lib().display());
            for path in [&files.detector, &files.recognizer, &files.classifier, &files.page_classifier] {
                let size = std::fs::metadata(path).map(|m| format!("{:.1} MB", m.len() as f64 / 1e6));
                println!("model:        {} ({})", path.display(), size.unwrap_or_else(|_| "missing".into()));
            }
        }
        let loaded = args.load(name, 1).with_context(|| format!("loading the {name} engine"))?;
        println!("engine:       {name}: {} loaded in {} ms", loaded.info.version, loaded.load_time.as_millis());
        if let Some(precision) = &loaded.info.precision {
            println!("precision:    {precision}");
        }
    }
    Ok(())
}
