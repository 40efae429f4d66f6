//! Golden receipts: the real models read three receipts (two rendered here,
//! deterministically, and the shipped probe photo) in the `balanced`
//! configuration (int8, full alphabet, detector input up to 960 px) and the
//! `accurate` one (fp32, full alphabet, up to 1280 px), and every line must
//! match what is recorded in `tests/golden/<receipt>.<config>.json`: the same
//! number of lines, the same text, each box corner within 4 px and each
//! confidence within 0.05. A change in preprocessing, detection, cropping,
//! decoding or the models shows up here as a diff, line by line.
//!
//! After a deliberate change, rewrite the files and review the diff:
//!
//! ```sh
//! GOLDEN_UPDATE=1 cargo test -p hub-ocr --test golden
//! git diff crates/ocr/tests/golden/
//! ```

mod common;

use std::path::PathBuf;

use ab_glyph::{FontVec, PxScale};
use hub_ocr::{Alphabet, DetOptions, ModelFiles, OcrEngine, OcrOptions, Precision, RuntimeOptions, TextLine};
use image::{Rgb, RgbImage};
use serde::{Deserialize, Serialize};

/// Largest distance of a box corner from its golden position, in pixels.
const BOX_TOLERANCE: f64 = 4.0;
/// Largest difference of a line's confidence from its golden value.
const CONFIDENCE_TOLERANCE: f64 = 0.05;

/// An engine configuration as the service's profiles set it up.
struct Config {
    name: &'static str,
    precision: Precision,
    det_max_side: u32,
}

const BALANCED: Config = Config { name: "balanced", precision: Precision::Int8, det_max_side: 960 };
const ACCURATE: Config = Config { name: "accurate", precision: Precision::Fp32, det_max_side: 1280 };

#[derive(Debug, Serialize, Deserialize)]
struct Golden {
    receipt: String,
    config: String,
    lines: Vec<GoldenLine>,
}

#[derive(Debug, Serialize, Deserialize)]
struct GoldenLine {
    text: String,
    confidence: f64,
    /// Corners in image pixels, clockwise from top-left.
    bbox: [[f64; 2]; 4],
}

impl From<&TextLine> for GoldenLine {
    fn from(line: &TextLine) -> Self {
        let round = |v: f32, scale: f64| (f64::from(v) * scale).round() / scale;
        Self {
            text: line.text.clone(),
            confidence: round(line.confidence, 1e4),
            bbox: line.bbox.map(|[x, y]| [round(x, 10.0), round(y, 10.0)]),
        }
    }
}

#[test]
fn balanced_reads_the_golden_receipts() {
    check(&BALANCED);
}

#[test]
fn accurate_reads_the_golden_receipts() {
    check(&ACCURATE);
}

fn check(config: &Config) {
    common::init_runtime();
    let files = ModelFiles::in_dir(&common::models(), config.precision, Alphabet::Full);
    let options = OcrOptions {
        alphabet: Alphabet::Full,
        detection: DetOptions { max_side: config.det_max_side, ..DetOptions::default() },
        ..OcrOptions::default()
    };
    let engine = OcrEngine::load(&files, &RuntimeOptions::default(), options).unwrap();
    let update = std::env::var_os("GOLDEN_UPDATE").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    for (receipt, image) in receipts() {
        let lines: Vec<GoldenLine> = engine.read_image(&image).unwrap().iter().map(GoldenLine::from).collect();
        let path = golden_path(receipt, config.name);
        let read = Golden { receipt: receipt.to_owned(), config: config.name.to_owned(), lines };
        if update {
            let text = serde_json::to_string_pretty(&read).unwrap() + "\n";
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            eprintln!("rewrote {}", path.display());
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("{}: {e}; write it with GOLDEN_UPDATE=1 cargo test -p hub-ocr --test golden", path.display())
        });
        let golden: Golden = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        failures.extend(compare(&golden, &read).into_iter().map(|f| format!("{receipt}/{}: {f}", config.name)));
    }
    assert!(
        failures.is_empty(),
        "{} differences from the golden files (after a deliberate change: GOLDEN_UPDATE=1 cargo test -p hub-ocr \
         --test golden, then review the diff):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every way `read` differs from `golden` beyond the tolerances.
fn compare(golden: &Golden, read: &Golden) -> Vec<String> {
    if golden.lines.len() != read.lines.len() {
        let texts = |g: &Golden| g.lines.iter().map(|l| l.text.clone()).collect::<Vec<_>>();
        return vec![format!(
            "{} lines instead of {}: read {:?}, golden {:?}",
            read.lines.len(),
            golden.lines.len(),
            texts(read),
            texts(golden)
        )];
    }
    let mut failures = Vec::new();
    for (i, (want, got)) in golden.lines.iter().zip(&read.lines).enumerate() {
        if want.text != got.text {
            failures.push(format!("line {i}: text {:?}, golden {:?}", got.text, want.text));
        }
        let moved = want
            .bbox
            .iter()
            .zip(&got.bbox)
            .map(|(a, b)| (a[0] - b[0]).abs().max((a[1] - b[1]).abs()))
            .fold(0.0, f64::max);
        if moved > BOX_TOLERANCE {
            failures.push(format!("line {i} ({:?}): box {:?}, golden {:?}", got.text, got.bbox, want.bbox));
        }
        if (want.confidence - got.confidence).abs() > CONFIDENCE_TOLERANCE {
            failures
                .push(format!("line {i} ({:?}): confidence {}, golden {}", got.text, got.confidence, want.confidence));
        }
    }
    failures
}

fn golden_path(receipt: &str, config: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{receipt}.{config}.json"))
}

// ---------------------------------------------------------------- receipts

/// The receipts, by name: two rendered, and the shipped probe photo.
fn receipts() -> Vec<(&'static str, RgbImage)> {
    let probe = std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("probe/receipt.jpg")).unwrap();
    let probe = image::load_from_memory(&probe).expect("probe/receipt.jpg decodes").to_rgb8();
    vec![("cafe", cafe()), ("thermal", thermal()), ("probe", probe)]
}

fn font(file: &str) -> FontVec {
    let path = format!("/usr/share/fonts/truetype/dejavu/{file}");
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}; install fonts-dejavu-core (scripts/setup.sh does)"));
    FontVec::try_from_vec(bytes).unwrap_or_else(|_| panic!("{path} is not a font"))
}

/// One piece of text: font, size in px, ink, position.
struct Text<'a> {
    font: &'a FontVec,
    px: f32,
    ink: Rgb<u8>,
    x: i32,
    y: i32,
    text: &'a str,
}

fn draw(image: &mut RgbImage, texts: &[Text<'_>]) {
    for t in texts {
        imageproc::drawing::draw_text_mut(image, t.ink, t.x, t.y, PxScale::from(t.px), t.font, t.text);
    }
}

/// A café bill in proportional type: a bold header, items with prices in a
/// right-hand column, totals, a card line, a footer.
fn cafe() -> RgbImage {
    let (regular, bold) = (font("DejaVuSans.ttf"), font("DejaVuSans-Bold.ttf"));
    let black = Rgb([0, 0, 0]);
    let mut image = RgbImage::from_pixel(640, 760, Rgb([255, 255, 255]));
    let t = |font, px, x, y, text| Text { font, px, ink: black, x, y, text };
    let (r, b) = (&regular, &bold);
    draw(
        &mut image,
        &[
            t(b, 40.0, 170, 30, "CAFE AURORA"),
            t(r, 26.0, 160, 92, "12 Harbour Street, Leith"),
            t(r, 26.0, 190, 130, "TEL 0131 555 0199"),
            t(r, 26.0, 40, 200, "2024-05-17 08:42 Till 3"),
            t(r, 28.0, 40, 260, "Flat white"),
            t(r, 28.0, 500, 260, "3.20"),
            t(r, 28.0, 40, 310, "Croissant x2"),
            t(r, 28.0, 500, 310, "5.80"),
            t(r, 28.0, 40, 360, "Orange juice"),
            t(r, 28.0, 500, 360, "2.95"),
            t(r, 28.0, 40, 440, "SUBTOTAL"),
            t(r, 28.0, 485, 440, "11.95"),
            t(r, 28.0, 40, 490, "VAT 20%"),
            t(r, 28.0, 500, 490, "1.99"),
            t(b, 32.0, 40, 560, "TOTAL"),
            t(b, 32.0, 470, 560, "11.95"),
            t(r, 26.0, 40, 630, "CARD **** 4417"),
            t(r, 26.0, 150, 690, "Thank you, see you soon!"),
        ],
    );
    image
}

/// A narrow thermal-printer slip in monospaced type: grey ink on off-white
/// paper with a deterministic speckle, Spanish text with accents and
/// decimal commas.
fn thermal() -> RgbImage {
    let mono = font("DejaVuSansMono.ttf");
    let mut image = RgbImage::from_pixel(440, 640, Rgb([246, 244, 240]));
    // Paper speckle from a fixed linear congruential sequence.
    let mut state: u32 = 0x1234_5678;
    for _ in 0..4000 {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let (x, y) = ((state >> 8) % 440, (state >> 20) % 640);
        let shade = 200 + (state % 40) as u8;
        image.put_pixel(x, y, Rgb([shade, shade, shade]));
    }
    let ink = Rgb([45, 45, 50]);
    let t = |px, x, y, text| Text { font: &mono, px, ink, x, y, text };
    draw(
        &mut image,
        &[
            t(26.0, 92, 24, "SUPERMERCADO SOL"),
            t(20.0, 128, 64, "NIF B-12345678"),
            t(20.0, 20, 110, "Ticket 0042-117  13:05"),
            t(22.0, 20, 170, "LECHE ENTERA 1L"),
            t(22.0, 340, 170, "0,89"),
            t(22.0, 20, 210, "PAN INTEGRAL"),
            t(22.0, 340, 210, "1,45"),
            t(22.0, 20, 250, "TOMATES 1,2KG"),
            t(22.0, 340, 250, "2,38"),
            t(22.0, 20, 290, "ACEITE OLIVA 1L"),
            t(22.0, 340, 290, "7,99"),
            t(26.0, 20, 360, "TOTAL EUR"),
            t(26.0, 312, 360, "12,71"),
            t(22.0, 20, 420, "EFECTIVO"),
            t(22.0, 326, 420, "20,00"),
            t(22.0, 20, 460, "CAMBIO"),
            t(22.0, 340, 460, "7,29"),
            t(22.0, 60, 540, "¡Gracias por su visita!"),
            t(20.0, 100, 580, "Atención: 900 123 456"),
        ],
    );
    image
}
