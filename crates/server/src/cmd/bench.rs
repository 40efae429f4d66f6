//! `inference-hub bench FILE...`: in-process latency, load time and memory
//! of the pipeline on a set of images (what `make bench` prints).

use std::time::{Duration, Instant};

use anyhow::Context;
use hub_engines::read_bytes;

use crate::config::BenchArgs;
use crate::memory::{peak_rss_mb, rss_mb};

pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    let images: Vec<Vec<u8>> = args
        .files
        .iter()
        .map(|f| std::fs::read(f).with_context(|| format!("reading {}", f.display())))
        .collect::<Result<_, _>>()?;
    let name = args.engine.default_engine();
    let mut loaded = args.engine.load(name, 1).context("loading the engine")?;
    let (load, precision) = (loaded.load_time, loaded.info.precision.clone());
    let engine = loaded.instances[0].as_mut();
    let limits = args.engine.decode_limits();
    let idle_mb = rss_mb();

    for image in images.iter().take(args.warmup) {
        read_bytes(engine, image, &limits)?;
    }
    let mut times = Vec::with_capacity(images.len() * args.rounds);
    let total = Instant::now();
    for _ in 0..args.rounds {
        for image in &images {
            let t = Instant::now();
            read_bytes(engine, image, &limits)?;
            times.push(t.elapsed());
        }
    }
    let wall = total.elapsed();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pct = |p: f64| ms(times[((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1]);
    let mean = times.iter().map(|&d| ms(d)).sum::<f64>() / times.len() as f64;
    let runtime = args.engine.runtime();
    let cpu = hub_ocr::CpuInfo::detect();
    let report = serde_json::json!({
        "cpu": cpu.model,
        "isa": cpu.isa.as_str(),
        "engine": name,
        "version": loaded.info.version,
        "precision": precision.as_ref().map(|p| p.in_use.as_str()),
        "precision_fallback": precision.and_then(|p| p.fallback_reason),
        "images": images.len(),
        "rounds": args.rounds,
        "detector_threads": runtime.detector_session.threads,
        "recognizer_sessions": runtime.recognizers,
        "load_ms": ms(load),
        "mean_ms": mean,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "max_ms": pct(1.0),
        "images_per_s": times.len() as f64 / wall.as_secs_f64(),
        "rss_idle_mb": idle_mb,
        "rss_peak_mb": peak_rss_mb(),
    });
    if args.json {
        println!("{report}");
    } else {
        for (key, value) in report.as_object().into_iter().flatten() {
            println!("{key:<14} {value}");
        }
    }
    Ok(())
}
