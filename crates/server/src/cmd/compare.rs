//! `inference-hub compare --engines paddle,tesseract DIR`: every engine
//! reads every image of DIR; a table of latency, lines and agreement with
//! the first engine, and, where DIR holds SROIE-style `<id>.boxes.txt`
//! ground truth, word F1 and CER by the shared scorer's rules (`score`).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use hub_engines::read_bytes;
use hub_ocr::TextLine;
use serde_json::{Value, json};

use crate::config::CompareArgs;
use crate::score::{self, Scores, agreement};

/// One engine's readings of every image, in file order.
struct Run {
    engine: &'static str,
    version: String,
    /// Per image: the lines and milliseconds, or the error.
    reads: Vec<Result<(Vec<TextLine>, f64), String>>,
}

pub fn run(args: CompareArgs) -> anyhow::Result<()> {
    let files = images_in(&args.dir)?;
    anyhow::ensure!(!files.is_empty(), "no JPEG, PNG, WEBP or BMP images in {}", args.dir.display());
    let images: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(f).with_context(|| format!("reading {}", f.display())))
        .collect::<Result<_, _>>()?;
    let truth: Vec<Option<Vec<score::Line>>> = files.iter().map(|f| ground_truth(f)).collect();
    let settings = args.engine.settings();
    let limits = args.engine.decode_limits();
    let mut runs = Vec::new();
    for engine in args.engine.engines() {
        let mut loaded = hub_engines::load(engine, &settings, 1).with_context(|| format!("loading {engine}"))?;
        let instance = loaded.instances[0].as_mut();
        // One untimed read: first-use allocations are not the engine's speed.
        let _ = read_bytes(instance, &images[0], &limits);
        let reads = images
            .iter()
            .map(|image| {
                let started = Instant::now();
                let lines = read_bytes(instance, image, &limits).map_err(|e| e.to_string())?;
                Ok((lines, started.elapsed().as_secs_f64() * 1000.0))
            })
            .collect();
        runs.push(Run { engine, version: loaded.info.version, reads });
    }
    let rows: Vec<Value> = runs.iter().map(|run| summarise(run, &runs[0], &truth)).collect();
    let labelled = truth.iter().filter(|t| t.is_some()).count();
    if args.json {
        println!("{}", json!({"dir": args.dir, "images": files.len(), "labelled": labelled, "engines": rows}));
    } else {
        print_table(&rows, files.len(), labelled);
    }
    Ok(())
}

/// The image files of `dir`, sorted by name.
fn images_in(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
            ["jpg", "jpeg", "png", "webp", "bmp"].contains(&ext.as_str())
        })
        .collect();
    files.sort();
    Ok(files)
}

/// `<stem>.boxes.txt` beside the image, if there is one.
fn ground_truth(image: &Path) -> Option<Vec<score::Line>> {
    let stem = image.file_stem()?.to_string_lossy();
    let bytes = std::fs::read(image.with_file_name(format!("{stem}.boxes.txt"))).ok()?;
    Some(score::parse_gt_boxes(&score::decode_text(&bytes)).0)
}

/// One engine's row: speed, lines, agreement with `reference`, accuracy.
fn summarise(run: &Run, reference: &Run, truth: &[Option<Vec<score::Line>>]) -> Value {
    let mut millis: Vec<f64> = run.reads.iter().flatten().map(|(_, ms)| *ms).collect();
    millis.sort_by(f64::total_cmp);
    let read = millis.len().max(1) as f64;
    let lines: usize = run.reads.iter().flatten().map(|(lines, _)| lines.len()).sum();
    let agreements: Vec<f64> = run
        .reads
        .iter()
        .zip(&reference.reads)
        .filter_map(|(a, b)| Some(agreement(&texts(&a.as_ref().ok()?.0), &texts(&b.as_ref().ok()?.0))))
        .collect();
    // An image an engine failed on scores as an empty reading, as the scorer does.
    let scores: Option<Scores> = truth.iter().any(Option::is_some).then(|| {
        run.reads
            .iter()
            .zip(truth)
            .filter_map(|(read, gt)| {
                let predicted = read.as_ref().map(|(lines, _)| as_scored(lines)).unwrap_or_default();
                Some(Scores::image(gt.as_ref()?, &predicted))
            })
            .sum()
    });
    json!({
        "engine": run.engine,
        "version": run.version,
        "failed": run.reads.iter().filter(|r| r.is_err()).count(),
        "mean_ms": millis.iter().sum::<f64>() / read,
        "p95_ms": millis.get(((millis.len() as f64 * 0.95).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0.0),
        "lines_per_image": lines as f64 / read,
        "agreement": agreements.iter().sum::<f64>() / agreements.len().max(1) as f64,
        // Case-insensitive, as docs/performance.md reports every engine.
        "word_f1": scores.map(|s| s.words_ci.f1()),
        "word_precision": scores.map(|s| s.words_ci.precision()),
        "word_recall": scores.map(|s| s.words_ci.recall()),
        "token_f1": scores.map(|s| s.tokens_norm.f1()),
        "detection_f1": scores.map(|s| s.detection.f1()),
        "cer": scores.map(|s| s.cer_ci.cer()),
        "word_f1_case_sensitive": scores.map(|s| s.words_cs.f1()),
        "cer_case_sensitive": scores.map(|s| s.cer_cs.cer()),
    })
}

fn texts(lines: &[TextLine]) -> Vec<&str> {
    lines.iter().map(|l| l.text.as_str()).collect()
}

/// Lines as the service answers them (boxes rounded to whole pixels), so
/// the scores are the shared scorer's on the service's JSON.
fn as_scored(lines: &[TextLine]) -> Vec<score::Line> {
    lines.iter().map(|l| score::Line::new(&l.text, &l.bbox.map(|p| p.map(|v| f64::from(v.round()))))).collect()
}

fn print_table(rows: &[Value], images: usize, labelled: usize) {
    println!(
        "{images} images, {labelled} with ground truth (scores case-insensitive); agreement is with {}",
        rows[0]["engine"]
    );
    println!(
        "{:<10} {:>8} {:>8} {:>7} {:>9} {:>7} {:>7} {:>7} {:>7}",
        "engine", "mean ms", "p95 ms", "lines", "agreement", "word F1", "tok F1", "CER", "failed"
    );
    let num = |v: &Value, digits: usize| v.as_f64().map_or("-".to_owned(), |x| format!("{x:.digits$}"));
    for row in rows {
        println!(
            "{:<10} {:>8} {:>8} {:>7} {:>9} {:>7} {:>7} {:>7} {:>7}",
            row["engine"].as_str().unwrap_or_default(),
            num(&row["mean_ms"], 0),
            num(&row["p95_ms"], 0),
            num(&row["lines_per_image"], 1),
            num(&row["agreement"], 3),
            num(&row["word_f1"], 3),
            num(&row["token_f1"], 3),
            num(&row["cer"], 3),
            row["failed"],
        );
    }
}
