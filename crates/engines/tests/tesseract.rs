//! The Tesseract engine with the system's libtesseract and `eng` language
//! data (Debian: libtesseract5, tesseract-ocr-eng): a receipt rendered
//! here with known text must be read word for word, in reading order, with
//! each line's box on the text it holds (in the original image's pixels,
//! whatever scaling the engine does inside); two instances must read on two
//! threads at once; degenerate images must come back empty or as an error.
#![cfg(feature = "tesseract")]

use std::sync::Barrier;
use std::time::Instant;

use ab_glyph::{FontVec, PxScale};
use hub_engines::{Engine, Settings};
use hub_ocr::TextLine;
use image::{Rgb, RgbImage};

fn font(file: &str) -> FontVec {
    let path = format!("/usr/share/fonts/truetype/dejavu/{file}");
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}; install fonts-dejavu-core (scripts/setup.sh does)"));
    FontVec::try_from_vec(bytes).unwrap_or_else(|_| panic!("{path} is not a font"))
}

/// One piece of text drawn on the receipt.
struct Piece {
    bold: bool,
    px: f32,
    x: i32,
    y: i32,
    text: &'static str,
}

const fn piece(bold: bool, px: f32, x: i32, y: i32, text: &'static str) -> Piece {
    Piece { bold, px, x, y, text }
}

/// A small shop receipt: a bold header, an address, two items with prices
/// in a right-hand column, a bold total and a footer, in reading order.
const PIECES: [Piece; 10] = [
    piece(true, 40.0, 150, 30, "CAFE AURORA"),
    piece(false, 26.0, 40, 100, "12 Harbour Street"),
    piece(false, 28.0, 40, 180, "Flat white"),
    piece(false, 28.0, 480, 180, "3.20"),
    piece(false, 28.0, 40, 230, "Croissant"),
    piece(false, 28.0, 480, 230, "5.80"),
    piece(true, 32.0, 40, 320, "TOTAL"),
    piece(true, 32.0, 465, 320, "9.00"),
    piece(false, 26.0, 40, 400, "Thank you"),
    piece(false, 26.0, 320, 400, "Visit 0042"),
];

const SIZE: (u32, u32) = (600, 470);
const PAPER: Rgb<u8> = Rgb([255, 255, 255]);

/// The receipt, and each piece's ink box (left, top, right, bottom; the
/// extent of its dark pixels, drawn alone on blank paper).
fn receipt() -> (RgbImage, Vec<[f32; 4]>) {
    let (regular, bold) = (font("DejaVuSans.ttf"), font("DejaVuSans-Bold.ttf"));
    let ink = Rgb([20, 20, 20]);
    let mut image = RgbImage::from_pixel(SIZE.0, SIZE.1, PAPER);
    let mut boxes = Vec::new();
    for p in &PIECES {
        let font = if p.bold { &bold } else { &regular };
        imageproc::drawing::draw_text_mut(&mut image, ink, p.x, p.y, PxScale::from(p.px), font, p.text);
        let mut alone = RgbImage::from_pixel(SIZE.0, SIZE.1, PAPER);
        imageproc::drawing::draw_text_mut(&mut alone, ink, p.x, p.y, PxScale::from(p.px), font, p.text);
        boxes.push(ink_box(&alone).expect("the piece has ink"));
    }
    (image, boxes)
}

fn ink_box(image: &RgbImage) -> Option<[f32; 4]> {
    let mut rect: Option<[u32; 4]> = None;
    for (x, y, p) in image.enumerate_pixels() {
        if p.0[0] < 128 {
            let r = rect.get_or_insert([x, y, x, y]);
            *r = [r[0].min(x), r[1].min(y), r[2].max(x + 1), r[3].max(y + 1)];
        }
    }
    rect.map(|r| r.map(|v| v as f32))
}

fn engine() -> Box<dyn Engine> {
    engines(1).pop().unwrap()
}

fn engines(n: usize) -> Vec<Box<dyn Engine>> {
    hub_engines::load("tesseract", &Settings::default(), n)
        .expect("tesseract loads (libtesseract5 and tesseract-ocr-eng installed?)")
        .instances
}

fn words(lines: &[TextLine]) -> Vec<String> {
    lines.iter().flat_map(|l| l.text.split_whitespace().map(str::to_owned)).collect()
}

fn expected_words() -> Vec<String> {
    PIECES.iter().flat_map(|p| p.text.split_whitespace().map(str::to_owned)).collect()
}

/// Largest distance, in pixels, between a line's box edge and the ink it
/// stands for.
const TOLERANCE: f32 = 5.0;

#[test]
fn reads_the_receipt_in_reading_order_with_boxes_on_the_text() {
    let (image, inks) = receipt();
    let lines = engine().read(&image).unwrap();
    if let Ok(path) = std::env::var("SAVE_RECEIPT") {
        image.save(path).unwrap();
    }
    let summary: Vec<_> = lines.iter().map(|l| (l.text.as_str(), l.bbox[0], l.bbox[2])).collect();
    assert_eq!(words(&lines), expected_words(), "lines read: {summary:?}");

    for (piece, ink) in PIECES.iter().zip(&inks) {
        // The line holding the piece (the engine may join a row's pieces,
        // e.g. an item and its price, into one line).
        let line = lines
            .iter()
            .find(|l| format!(" {} ", l.text).contains(&format!(" {} ", piece.text)))
            .unwrap_or_else(|| panic!("no line holds {:?}: {summary:?}", piece.text));
        let [[l, t], [r, t2], [r2, b], [l2, b2]] = line.bbox;
        assert!(l == l2 && r == r2 && t == t2 && b == b2, "{:?}: not an upright rectangle {:?}", line.text, line.bbox);
        // Vertically the line box is the piece's ink; horizontally it
        // covers the piece and stays within its row's ink.
        let row = || PIECES.iter().zip(&inks).filter(|(p, _)| p.y == piece.y).map(|(_, b)| b);
        let row_left = row().map(|b| b[0]).fold(f32::MAX, f32::min);
        let row_right = row().map(|b| b[2]).fold(0.0, f32::max);
        let why = format!("{:?} box {:?}, ink of {:?} {ink:?}", line.text, line.bbox, piece.text);
        assert!((t - ink[1]).abs() <= TOLERANCE && (b - ink[3]).abs() <= TOLERANCE, "{why}");
        assert!(l <= ink[0] + TOLERANCE && r >= ink[2] - TOLERANCE, "{why}");
        assert!(l >= row_left - TOLERANCE && r <= row_right + TOLERANCE, "{why}");
        assert!(line.confidence > 0.5 && line.confidence <= 1.0, "{why}: confidence {}", line.confidence);
    }
}

#[test]
fn two_instances_read_at_once_on_two_threads() {
    let (image, _) = receipt();
    let expected = expected_words();
    let barrier = Barrier::new(2);
    let spans: Vec<(Instant, Instant)> = std::thread::scope(|s| {
        let threads: Vec<_> = engines(2)
            .into_iter()
            .map(|mut engine| {
                let (image, expected, barrier) = (&image, &expected, &barrier);
                s.spawn(move || {
                    barrier.wait();
                    let started = Instant::now();
                    for _ in 0..3 {
                        assert_eq!(&words(&engine.read(image).unwrap()), expected);
                    }
                    (started, Instant::now())
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().expect("reader thread")).collect()
    });
    // Both read while the other was reading.
    let [(a0, a1), (b0, b1)] = [spans[0], spans[1]];
    assert!(a0 < b1 && b0 < a1, "the readers did not overlap: {spans:?}");
}

#[test]
fn degenerate_images_are_empty_or_an_error() {
    let mut engine = engine();
    let blank = |w, h| RgbImage::from_pixel(w, h, PAPER);
    let inked = |w, h| RgbImage::from_pixel(w, h, Rgb([0, 0, 0]));
    for (name, image) in [
        ("0x0", blank(0, 0)),
        ("1x1", blank(1, 1)),
        ("1x1 ink", inked(1, 1)),
        ("0x100", blank(0, 100)),
        ("3x3 ink", inked(3, 3)),
        ("7x40 ink", inked(7, 40)),
        ("8x8", blank(8, 8)),
        ("9x9 ink", inked(9, 9)),
        ("blank page", blank(600, 800)),
        ("black page", inked(300, 400)),
        ("1x5000 ink", inked(1, 5000)),
        ("5000x1 ink", inked(5000, 1)),
        ("20000x8 ink", inked(20_000, 8)),
        ("8x20000 ink", inked(8, 20_000)),
        ("16000x12 striped", stripes(16_000, 12)),
        ("12x16000 striped", stripes(12, 16_000)),
        ("40000x10", blank(40_000, 10)),
    ] {
        match engine.read(&image) {
            Ok(lines) => {
                let (w, h) = (image.width() as f32, image.height() as f32);
                for line in &lines {
                    assert!(!line.text.trim().is_empty(), "{name}: an empty line");
                    assert!(
                        line.bbox.iter().all(|[x, y]| (0.0..=w).contains(x) && (0.0..=h).contains(y)),
                        "{name}: {line:?} outside the image"
                    );
                }
                if image.width() < 8 || image.height() < 8 || name.starts_with("blank") {
                    assert!(lines.is_empty(), "{name}: read {lines:?}");
                }
            }
            Err(e) => assert!(image.width().max(image.height()) > 32_000, "{name}: {e}"),
        }
    }
    // The instance still reads after all that.
    assert_eq!(words(&engine.read(&receipt().0).unwrap()), expected_words());
}

/// Vertical black and white stripes, 3 px each: ink everywhere along a
/// very long image.
fn stripes(w: u32, h: u32) -> RgbImage {
    RgbImage::from_fn(w, h, |x, y| if (x / 3 + y / 3) % 2 == 0 { Rgb([0, 0, 0]) } else { PAPER })
}
