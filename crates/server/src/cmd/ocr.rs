//! `inference-hub ocr FILE...`: the serving engines without a server.
//! With `--jobs N`, N engine instances read files side by side; each
//! file's result is printed as soon as it is read.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use anyhow::Context;
use hub_engines::{Engine, read_bytes};
use hub_ocr::DecodeLimits;

use crate::config::OcrArgs;
use crate::wire::response::OcrResponse;

pub fn run(args: OcrArgs) -> anyhow::Result<()> {
    let name = args.engine.default_engine();
    let jobs = args.jobs.clamp(1, args.files.len().max(1));
    let loaded = args.engine.load(name, jobs).context("loading the engine")?;
    let limits = args.engine.decode_limits();
    anyhow::ensure!(args.fields || args.merchants.merchants.is_none(), "--merchants is for the fields: add --fields");
    let merchants = args.merchants.open()?.map(|d| d.current());
    if let Some(dir) = &args.out_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let next = AtomicUsize::new(0);
    let (done, results) = mpsc::channel::<(&PathBuf, anyhow::Result<OcrResponse>)>();
    let mut failed = 0;
    std::thread::scope(|scope| -> anyhow::Result<()> {
        for mut engine in loaded.instances {
            let (done, next, files, limits, fields) = (done.clone(), &next, &args.files, &limits, args.fields);
            let merchants = merchants.as_deref();
            scope.spawn(move || {
                while let Some(file) = files.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let mut read = recognize_file(engine.as_mut(), name, limits, file);
                    if let (Ok(response), true) = (&mut read, fields) {
                        response.add_fields(merchants);
                    }
                    let _ = done.send((file, read));
                }
            });
        }
        drop(done);
        let mut out = std::io::stdout().lock();
        for (file, result) in results {
            match result {
                Ok(response) => print(&mut out, &args, file, &response)?,
                Err(err) => {
                    failed += 1;
                    eprintln!("{}: {err:#}", file.display());
                }
            }
        }
        Ok(())
    })?;
    anyhow::ensure!(failed == 0, "{failed} of {} files failed", args.files.len());
    Ok(())
}

fn print(out: &mut impl Write, args: &OcrArgs, file: &Path, response: &OcrResponse) -> anyhow::Result<()> {
    if args.json {
        // The service's answer, and which file it is (files finish in any order with --jobs).
        let mut json = serde_json::to_value(response)?;
        json["file"] = serde_json::json!(file);
        writeln!(out, "{json}")?;
    } else {
        writeln!(out, "== {} ({} lines, {} ms)", file.display(), response.line_count, response.processing_time_ms)?;
        for line in &response.lines {
            writeln!(out, "{:.3}\t{}", line.confidence, line.text)?;
        }
        if let Some(fields) = &response.fields {
            writeln!(out, "fields\t{fields}")?;
        }
    }
    if let Some(dir) = &args.out_dir {
        let stem = file.file_stem().unwrap_or_default().to_string_lossy();
        std::fs::write(dir.join(format!("{stem}.json")), serde_json::to_vec(response)?)?;
    }
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
