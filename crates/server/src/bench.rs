//! `inference-hub bench FILE...`: in-process latency, load time and memory
//! of the pipeline on a set of images (what `make bench` prints).

use std::time::{Duration, Instant};

use anyhow::Context;

use crate::cli::BenchArgs;
use crate::memory::{peak_rss_mb, rss_mb};

pub fn run(mut args: BenchArgs) -> anyhow::Result<()> {
    args.engine.workers = Some(1);
    let images: Vec<Vec<u8>> = args
        .files
        .iter()
        .map(|f| std::fs::read(f).with_context(|| format!("reading {}", f.display())))
        .collect::<Result<_, _>>()?;
    let started = Instant::now();
    let mut engine = args.engine.load_engine().context("loading models")?;
    let load = started.elapsed();
    let idle_mb = rss_mb();

    for image in images.iter().take(args.warmup) {
        engine.read_bytes(image)?;
    }
    let mut times = Vec::with_capacity(images.len() * args.rounds);
    let total = Instant::now();
    for _ in 0..args.rounds {
        for image in &images {
            let t = Instant::now();
            engine.read_bytes(image)?;
            times.push(t.elapsed());
        }
    }
    let wall = total.elapsed();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pct = |p: f64| ms(times[((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1]);
    let mean = times.iter().map(|&d| ms(d)).sum::<f64>() / times.len() as f64;
    println!(
        "images            {} x {} rounds ({} threads)",
        images.len(),
        args.rounds,
        args.engine.threads_per_worker()
    );
    println!("load time         {:.0} ms", ms(load));
    println!("latency mean      {mean:.1} ms");
    println!("latency p50       {:.1} ms", pct(0.50));
    println!("latency p95       {:.1} ms", pct(0.95));
    println!("latency max       {:.1} ms", pct(1.0));
    println!("throughput        {:.2} images/s", times.len() as f64 / wall.as_secs_f64());
    println!("rss idle (loaded) {idle_mb:.1} MB");
    println!("rss peak          {:.1} MB", peak_rss_mb());
    Ok(())
}
