//! Reads a folder of receipts with the Tesseract engine and writes one
//! prediction per receipt in the format `ocr_eval.py` scores, then prints
//! the time per receipt and the peak memory.
//!
//! ```sh
//! OMP_THREAD_LIMIT=1 cargo run --release -p hub-engines --example tesseract_eval -- \
//!     /work/shared/eval/sroie-dev/ /tmp/preds [LIMIT]
//! python3 /work/shared/eval/ocr_eval.py /work/shared/eval/sroie-dev/ /tmp/preds
//! ```
//!
//! `LIMIT` reads only the first receipts (by name). The engine's tuning can
//! be varied without rebuilding through `HUB_TESSERACT_TUNING`: any of
//! `psm=6 scale=1.2 text_px=0 scale_min=1 scale_max=2 dpi=300
//! thresholding=0 min_conf=5 min_symbol_conf=70 split_gap=1 invert=0
//! tighten=1` (the defaults; see the constants in `src/tesseract.rs`).
//! `TESSDATA` sets the language data folder. Run with `OMP_THREAD_LIMIT=1`
//! as the service does.

use std::path::{Path, PathBuf};
use std::time::Instant;

use hub_engines::Settings;
use serde_json::json;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: {} IMAGE_DIR OUT_DIR [LIMIT]", args[0]);
        std::process::exit(2);
    }
    let (input, output) = (Path::new(&args[1]), Path::new(&args[2]));
    let limit = args.get(3).map(|n| n.parse::<usize>().expect("LIMIT is a number")).unwrap_or(usize::MAX);
    std::fs::create_dir_all(output).expect("output folder");

    let mut images: Vec<PathBuf> = std::fs::read_dir(input)
        .expect("image folder")
        .map(|e| e.expect("folder entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    images.sort();
    images.truncate(limit);

    let mut settings = Settings::default();
    settings.tesseract.datapath = std::env::var_os("TESSDATA").map(PathBuf::from);
    settings.tesseract.tuning = std::env::var("HUB_TESSERACT_TUNING").unwrap_or_default();
    let mut loaded = hub_engines::load("tesseract", &settings, 1).expect("tesseract loads");
    let engine = &mut loaded.instances[0];
    eprintln!("{} loaded in {:.0} ms", loaded.info.version, loaded.load_time.as_secs_f64() * 1e3);

    let mut times = Vec::with_capacity(images.len());
    let cpu_started = cpu_ms();
    for path in &images {
        let id = path.file_stem().unwrap().to_string_lossy();
        let bytes = std::fs::read(path).expect("image file");
        let started = Instant::now();
        let image = hub_ocr::decode_image(&bytes, &hub_ocr::DecodeLimits::default()).expect("image decodes");
        let lines = engine.read(&image).unwrap_or_else(|e| panic!("{id}: {e}"));
        let ms = started.elapsed().as_secs_f64() * 1e3;
        times.push(ms);
        let lines: Vec<_> =
            lines.iter().map(|l| json!({"text": l.text, "confidence": l.confidence, "bbox": l.bbox})).collect();
        let prediction = json!({"lines": lines, "processing_time_ms": ms.round() as u64});
        std::fs::write(output.join(format!("{id}.json")), prediction.to_string()).expect("write prediction");
    }

    let cpu = cpu_ms() - cpu_started;
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
    // Nearest rank, as ocr_eval.py computes it.
    let p95 = sorted.get(((0.95 * sorted.len() as f64).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0.0);
    println!(
        "{} receipts: mean {mean:.0} ms, p95 {p95:.0} ms per receipt (decode + read), CPU {:.0} ms per receipt; \
         peak RSS {} MiB",
        times.len(),
        cpu / times.len().max(1) as f64,
        peak_rss_kib() / 1024
    );
}

/// CPU time (user + system, every thread) of this process so far, in ms:
/// a measure of the work done that other processes' load does not inflate.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses: utime and
    // stime are the 12th and 13th, in clock ticks (100 a second on Linux).
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) * 10.0
}

/// VmHWM of this process, in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
