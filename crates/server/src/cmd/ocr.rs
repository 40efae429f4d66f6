//! `inference-hub ocr FILE...`: the serving engines without a server.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use hub_engines::{Engine, read_bytes};
use hub_ocr::DecodeLimits;

use crate::config::OcrArgs;
use crate::wire::response::OcrResponse;

pub fn run(args: OcrArgs) -> anyhow::Result<()> {
    let name = args.engine.default_engine();
    let mut loaded = args.engine.load(name, 1).context("loading the engine")?;
    let engine = loaded.instances[0].as_mut();
    let limits = args.engine.decode_limits();
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut failed = 0;
    let mut out = std::io::stdout().lock();
    for file in &args.files {
        match recognize_file(engine, name, &limits, file) {
            Ok(response) => {
                if args.json {
                    writeln!(out, "{}", serde_json::to_string(&response)?)?;
                } else {
                    writeln!(
                        out,
                        "== {} ({} lines, {} ms)",
                        file.display(),
                        response.line_count,
                        response.processing_time_ms
                    )?;
                    for line in &response.lines {
                        writeln!(out, "{:.3}\t{}", line.confidence, line.text)?;
                    }
                }
                if let Some(dir) = &args.out_dir {
                    let stem = file.file_stem().unwrap_or_default().to_string_lossy();
                    std::fs::write(dir.join(format!("{stem}.json")), serde_json::to_vec(&response)?)?;
                }
            }
            Err(err) => {
                failed += 1;
                eprintln!("{}: {err:#}", file.display());
            }
        }
    }
    anyhow::ensure!(failed == 0, "{failed} of {} files failed", args.files.len());
    Ok(())
}

fn recognize_file(
    engine: &mut dyn Engine,
    name: &str,
    limits: &DecodeLimits,
    file: &Path,
) -> anyhow::Result<OcrResponse> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let started = Instant::now();
    let lines = read_bytes(engine, &bytes, limits)?;
    Ok(OcrResponse::new(lines, started.elapsed(), name))
}
