//! Scores `hub_fields::extract` on a SROIE-style folder.
//!
//! ```sh
//! cargo run --release -p hub-fields --example score_fields -- \
//!     --data /work/shared/eval/sroie-dev --ocr OCR_JSON_DIR [--out PRED_DIR]
//! cargo run --release -p hub-fields --example score_fields -- \
//!     --data /work/shared/eval/sroie-dev --gt [--out PRED_DIR]
//! ```
//!
//! `--ocr DIR` reads `<id>.json` OCR outputs (`{"lines": [{"text",
//! "confidence", "bbox"}]}`); `--gt` uses the dataset's own `<id>.boxes.txt`
//! lines instead. Prints per-field exact-match accuracy (company, address,
//! date, total) with `ocr_eval.py`'s normalisation (whitespace collapsed,
//! case-folded), their mean, all-four-correct, the ceiling the lines allow
//! (how often the labelled value appears verbatim in a join of up to seven
//! adjacent lines or rows), and p50/p95 extraction time
//! (per receipt, the median of nine runs).
//! `--out DIR` writes `<id>.json` predictions (`lines` + `fields`) for
//! `python3 ocr_eval.py DATASET DIR`. Only scores are printed, never receipt text.
//!
//! `--merchants-from DIR` adds a merchant directory ([`hub_fields::Merchants`])
//! made of the labels (`company`, `address`) of another SROIE-style folder,
//! e.g. TRAIN's when scoring DEV. When DIR is the scored folder itself, each
//! receipt is scored with a directory of the *other* receipts' labels
//! (leave one out): a shop counts as known only if another receipt of it is.
//! `--merchants FILE` adds a directory file as the service reads it (JSON Lines).
//!
//! It also scores what an accounting system books, `date_iso` and
//! `total_amount`, against the labels read as dates (day before month, the
//! Malaysian order, unless that cannot be a date) and amounts: right, null
//! (the service declined to guess) or wrong (a value the ERP would book).

use std::path::{Path, PathBuf};
use std::time::Instant;

use hub_fields::{Line, Merchants, extract_with};
use serde_json::{Value, json};

const KEYS: [&str; 4] = ["company", "address", "date", "total"];
/// Timed runs per receipt.
const REPEAT: usize = 9;

struct OwnedLine {
    text: String,
    confidence: f32,
    bbox: [[f32; 2]; 4],
}

fn usage() -> ! {
    eprintln!(
        "usage: score_fields --data DATASET_DIR (--ocr OCR_DIR | --gt) [--out PRED_DIR] [--merchants-from DIR | --merchants FILE]"
    );
    std::process::exit(2)
}

/// `ocr_eval.py`'s `normalize_field`: whitespace collapsed, case-folded.
fn normalize(v: Option<&str>) -> String {
    v.unwrap_or("").split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

fn read_ocr(path: &Path) -> Result<Vec<OwnedLine>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let lines = v["lines"].as_array().ok_or_else(|| format!("{}: no lines", path.display()))?;
    Ok(lines
        .iter()
        .map(|l| {
            let mut bbox = [[0.0f32; 2]; 4];
            if let Some(pts) = l["bbox"].as_array() {
                for (k, p) in pts.iter().take(4).enumerate() {
                    bbox[k] = [p[0].as_f64().unwrap_or(0.0) as f32, p[1].as_f64().unwrap_or(0.0) as f32];
                }
            }
            OwnedLine {
                text: l["text"].as_str().unwrap_or("").to_string(),
                confidence: l["confidence"].as_f64().unwrap_or(1.0) as f32,
                bbox,
            }
        })
        .collect())
}

fn read_boxes(path: &Path) -> Result<Vec<OwnedLine>, String> {
    let raw = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = String::from_utf8(raw.clone()).unwrap_or_else(|_| raw.iter().map(|&b| b as char).collect());
    let text = text.trim_start_matches('\u{feff}');
    let mut out = Vec::new();
    for row in text.lines() {
        let parts: Vec<&str> = row.splitn(9, ',').collect();
        if parts.len() < 9 {
            continue;
        }
        let c: Vec<f32> = parts[..8].iter().filter_map(|v| v.trim().parse().ok()).collect();
        if c.len() < 8 {
            continue;
        }
        let bbox = [[c[0], c[1]], [c[2], c[3]], [c[4], c[5]], [c[6], c[7]]];
        out.push(OwnedLine { text: parts[8].trim().to_string(), confidence: 1.0, bbox });
    }
    Ok(out)
}

fn percentile(sorted: &[f64], pct: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((pct * sorted.len() as f64 / 100.0).ceil() as usize).max(1);
    sorted[rank - 1]
}

fn main() {
    let mut data: Option<PathBuf> = None;
    let mut ocr: Option<PathBuf> = None;
    let mut out: Option<PathBuf> = None;
    let mut gt = false;
    let mut merchants_from: Option<PathBuf> = None;
    let mut merchants_file: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data" => data = args.next().map(PathBuf::from),
            "--ocr" => ocr = args.next().map(PathBuf::from),
            "--out" => out = args.next().map(PathBuf::from),
            "--gt" => gt = true,
            "--merchants-from" => merchants_from = args.next().map(PathBuf::from),
            "--merchants" => merchants_file = args.next().map(PathBuf::from),
            _ => usage(),
        }
    }
    let Some(data) = data else { usage() };
    if gt == ocr.is_some() {
        usage();
    }
    if let Some(o) = &out {
        std::fs::create_dir_all(o).expect("create --out dir");
    }

    let mut ids: Vec<String> = std::fs::read_dir(&data)
        .expect("read dataset dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok()?.strip_suffix(".boxes.txt").map(str::to_string))
        .collect();
    ids.sort();

    let labels = merchants_from.as_deref().map(directory_records).unwrap_or_default();
    let same_folder = merchants_from
        .as_deref()
        .is_some_and(|m| std::fs::canonicalize(m).ok().is_some_and(|m| std::fs::canonicalize(&data).ok() == Some(m)));
    let all_merchants = match &merchants_file {
        Some(f) => Merchants::from_jsonl(&std::fs::read_to_string(f).expect("read --merchants")).expect("directory"),
        None => directory(&labels, None),
    };

    // date_iso, total_amount: [right, null, wrong, receipts with a readable label]
    let mut booked = [[0usize; 4]; 2];
    // Labelled dates whose day could be the month ([right, of]): their
    // order is the convention's, which the extractor follows too.
    let mut either_way = [0usize; 2];
    let mut correct = [0usize; 4];
    let mut verbatim = [0usize; 4];
    let mut all4 = 0usize;
    let mut n = 0usize;
    let mut times_ms = Vec::new();
    let mut warmed = false;
    for id in &ids {
        let key_path = data.join(format!("{id}.key.json"));
        let Ok(key_text) = std::fs::read_to_string(&key_path) else { continue };
        let key: Value = serde_json::from_str(&key_text).expect("key json");
        let lines = match &ocr {
            Some(dir) => read_ocr(&dir.join(format!("{id}.json"))),
            None => read_boxes(&data.join(format!("{id}.boxes.txt"))),
        };
        let lines = lines.unwrap_or_else(|e| {
            eprintln!("warning: {e}; scored as empty");
            Vec::new()
        });
        let view: Vec<Line> =
            lines.iter().map(|l| Line { text: &l.text, confidence: l.confidence, bbox: l.bbox }).collect();
        let own_left_out;
        let merchants = match (&merchants_from, same_folder) {
            (None, _) if merchants_file.is_some() => Some(&all_merchants),
            (None, _) => None,
            (Some(_), false) => Some(&all_merchants),
            (Some(_), true) => {
                own_left_out = directory(&labels, Some(id));
                Some(&own_left_out)
            }
        };
        let extract = |view: &[Line]| extract_with(view, merchants);
        if !warmed {
            // The first call compiles the regexes; keep it out of the timings.
            let _ = extract(&view);
            warmed = true;
        }
        // The median of a few runs: one run is at the mercy of the other
        // processes on a shared machine.
        let mut runs: Vec<f64> = (0..REPEAT)
            .map(|_| {
                let t0 = Instant::now();
                std::hint::black_box(extract(std::hint::black_box(&view)));
                t0.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        runs.sort_by(f64::total_cmp);
        times_ms.push(runs[REPEAT / 2]);
        let fields = extract(&view);

        let fv = serde_json::to_value(&fields).expect("serialise");
        let joins = adjacent_joins(&lines);
        let mut ok_all = true;
        for (k, name) in KEYS.iter().enumerate() {
            let want = normalize(key[name].as_str());
            let ok = want == normalize(fv[name].as_str());
            correct[k] += usize::from(ok);
            ok_all &= ok;
            verbatim[k] += usize::from(joins.iter().any(|j| j.contains(&want)));
        }
        all4 += usize::from(ok_all);
        n += 1;
        let labelled = [key["date"].as_str().and_then(label_date), key["total"].as_str().and_then(label_amount)];
        if let Some(iso) = &labelled[0]
            && iso[5..7].parse::<u32>().is_ok_and(|m| m != iso[8..].parse::<u32>().unwrap_or(0))
            && iso[8..].parse::<u32>().is_ok_and(|d| d <= 12)
        {
            either_way[1] += 1;
            either_way[0] += usize::from(fv["date_iso"].as_str() == Some(iso.as_str()));
        }
        for (k, (want, name)) in labelled.iter().zip(["date_iso", "total_amount"]).enumerate() {
            let Some(want) = want else { continue };
            booked[k][3] += 1;
            match fv[name].as_str() {
                None => booked[k][1] += 1,
                Some(got) if got == want => booked[k][0] += 1,
                Some(_) => booked[k][2] += 1,
            }
        }
        if let Some(o) = &out {
            let pred = json!({
                "lines": lines.iter().map(|l| json!({
                    "text": l.text, "confidence": l.confidence,
                    "bbox": l.bbox.iter().map(|p| vec![p[0], p[1]]).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
                "fields": fv,
            });
            std::fs::write(o.join(format!("{id}.json")), serde_json::to_string(&pred).expect("json"))
                .expect("write prediction");
        }
    }
    if n == 0 {
        eprintln!("no receipts with key.json in {}", data.display());
        std::process::exit(1);
    }
    times_ms.sort_by(f64::total_cmp);
    let source = if gt { "ground-truth lines".to_string() } else { format!("OCR lines from {}", ocr_name(&ocr)) };
    println!("dataset: {}  ({n} receipts, {source})", data.display());
    if let Some(f) = &merchants_file {
        println!("  merchant directory: {} ({} entries)", f.display(), all_merchants.len());
    }
    if let Some(m) = &merchants_from {
        let how = if same_folder { ", each receipt's own left out" } else { "" };
        println!("  merchant directory: the labels of {} ({} entries{how})", m.display(), all_merchants.len());
    }
    let mut mean = 0.0;
    for (k, name) in KEYS.iter().enumerate() {
        let acc = correct[k] as f64 / n as f64;
        mean += acc / 4.0;
        let ceiling = verbatim[k] as f64 / n as f64;
        println!(
            "  {name:<8} {acc:.4}  ({}/{n})   verbatim in the lines: {ceiling:.4} ({}/{n})",
            correct[k], verbatim[k]
        );
    }
    println!("  mean     {mean:.4}");
    println!("  all-four {:.4}  ({all4}/{n})", all4 as f64 / n as f64);
    for (counts, name) in booked.iter().zip(["date_iso", "total_amount"]) {
        let [right, null, wrong, of] = *counts;
        let share = |k: usize| k as f64 / of.max(1) as f64;
        println!(
            "  {name:<12} right {:.4} ({right}/{of})  null {:.4} ({null})  wrong {:.4} ({wrong})   (of receipts whose label reads as one)",
            share(right),
            share(null),
            share(wrong)
        );
        if name == "date_iso" {
            println!(
                "    of them, dates whose day could be the month (read day first, the country's order): right {}/{}",
                either_way[0], either_way[1]
            );
        }
    }
    println!(
        "  extraction time per receipt: p50 {:.3} ms  p95 {:.3} ms  max {:.3} ms",
        percentile(&times_ms, 50.0),
        percentile(&times_ms, 95.0),
        times_ms.last().copied().unwrap_or(0.0)
    );
}

/// `(id, company, address)` of every labelled receipt in `dir`.
fn directory_records(dir: &Path) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read --merchants-from dir").flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(id) = name.strip_suffix(".key.json") else { continue };
        let key: Value = serde_json::from_str(&std::fs::read_to_string(entry.path()).expect("key")).expect("key json");
        let field = |k: &str| key[k].as_str().unwrap_or("").to_string();
        out.push((id.to_string(), field("company"), field("address")));
    }
    out.sort();
    out
}

/// A directory of `records`, without those of receipt `leave_out`.
fn directory(records: &[(String, String, String)], leave_out: Option<&str>) -> Merchants {
    let jsonl: Vec<String> = records
        .iter()
        .filter(|(id, _, _)| Some(id.as_str()) != leave_out)
        .map(|(_, company, address)| json!({"company": company, "address": address}).to_string())
        .collect();
    Merchants::from_jsonl(&jsonl.join("\n")).expect("directory")
}

/// Every join (single spaces) of up to seven adjacent lines, in input order
/// and in reading order (rows as `ocr_eval.py` builds them), normalised: a
/// field found in none of them cannot be read off these lines verbatim.
fn adjacent_joins(lines: &[OwnedLine]) -> Vec<String> {
    let top = |l: &OwnedLine| l.bbox.iter().map(|p| p[1]).fold(f32::MAX, f32::min);
    let bottom = |l: &OwnedLine| l.bbox.iter().map(|p| p[1]).fold(f32::MIN, f32::max);
    let left = |l: &OwnedLine| l.bbox.iter().map(|p| p[0]).fold(f32::MAX, f32::min);
    let mut order: Vec<&OwnedLine> = lines.iter().collect();
    order.sort_by(|a, b| top(a).total_cmp(&top(b)).then(left(a).total_cmp(&left(b))));
    let mut rows: Vec<Vec<&OwnedLine>> = Vec::new();
    for l in order {
        let yc = (top(l) + bottom(l)) / 2.0;
        match rows.last_mut() {
            Some(r) if yc >= top(r[0]) && yc <= bottom(r[0]) => r.push(l),
            _ => rows.push(vec![l]),
        }
    }
    let rows: Vec<String> = rows
        .into_iter()
        .map(|mut r| {
            r.sort_by(|a, b| left(a).total_cmp(&left(b)));
            r.iter().map(|l| l.text.trim()).collect::<Vec<_>>().join(" ")
        })
        .collect();
    let texts: Vec<String> = lines.iter().map(|l| l.text.trim().to_string()).collect();
    let mut out = Vec::new();
    for seq in [&texts, &rows] {
        for a in 0..seq.len() {
            for b in a..seq.len().min(a + 7) {
                out.push(normalize(Some(&seq[a..=b].join(" "))));
            }
        }
    }
    out
}

/// A labelled date as `YYYY-MM-DD`: day before month, unless only the
/// other order makes a date; `None` when it is not one of SROIE's label shapes.
fn label_date(label: &str) -> Option<String> {
    use std::sync::LazyLock;
    const MONTHS: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
    static NUMERIC: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{2}|\d{4})$").unwrap());
    static YEAR_FIRST: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"^(\d{4})[/.-]?(\d{2})[/.-]?(\d{2})$").unwrap());
    static NAMED: LazyLock<regex::Regex> =
        LazyLock::new(|| regex::Regex::new(r"^(\d{1,2})[ /-]*([A-Za-z]{3})[A-Za-z]*[ /,-]*(\d{2}|\d{4})$").unwrap());
    let (numeric, year_first, named) = (&*NUMERIC, &*YEAR_FIRST, &*NAMED);
    let label = label.trim();
    let num = |s: &str| s.parse::<u32>().ok();
    let compact = |c: &regex::Captures| -> Option<(u32, u32, u32)> {
        let (year, month, day) = (num(&c[1])?, num(&c[2])?, num(&c[3])?);
        (c[1].starts_with("20") && (1..=12).contains(&month)).then_some((year, month, day))
    };
    let (year, month, day) = if let Some(ymd) = year_first.captures(label).as_ref().and_then(compact) {
        ymd
    } else if label.len() == 8 && label.bytes().all(|b| b.is_ascii_digit()) {
        // DDMMYYYY
        (num(&label[4..])?, num(&label[2..4])?, num(&label[..2])?)
    } else if let Some(c) = numeric.captures(label) {
        let (a, b) = (num(&c[1])?, num(&c[2])?);
        let (day, month) = if b > 12 && a <= 12 { (b, a) } else { (a, b) };
        (num(&c[3])?, month, day)
    } else if let Some(c) = named.captures(label) {
        let month = MONTHS.iter().position(|m| m.eq_ignore_ascii_case(&c[2]))? as u32 + 1;
        (num(&c[3])?, month, num(&c[1])?)
    } else {
        return None;
    };
    let year = if year < 100 { 2000 + year } else { year };
    let days = match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        1..=12 => 31,
        _ => return None,
    };
    (1..=days).contains(&day).then(|| format!("{year:04}-{month:02}-{day:02}"))
}

/// A labelled total as a plain decimal (`RM 1,234.50` -> `1234.50`).
fn label_amount(label: &str) -> Option<String> {
    let digits: String = label.chars().filter(|c| c.is_ascii_digit() || *c == '.').collect();
    let (whole, cents) = digits.split_once('.')?;
    let valid = !whole.is_empty() && cents.len() == 2 && !cents.contains('.');
    let whole = match whole.trim_start_matches('0') {
        "" => "0",
        digits => digits,
    };
    valid.then(|| format!("{whole}.{cents}"))
}

fn ocr_name(ocr: &Option<PathBuf>) -> String {
    ocr.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
}
