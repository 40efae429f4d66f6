//! Orientation on the real models: the shipped probe receipt photo read
//! turned by 90°, 180° and 270° with page orientation on reads as upright,
//! with its boxes on the turned image; and skewed by 5° it reads the same,
//! the line crops following the detector's rotated boxes.

mod common;

use std::path::PathBuf;

use hub_ocr::{Alphabet, ModelFiles, OcrEngine, OcrOptions, Precision, RuntimeOptions, TextLine};
use image::{Rgb, RgbImage, imageops};
use imageproc::geometric_transformations::{Border, Interpolation, rotate_about_center};

fn engine(page_orientation: bool) -> OcrEngine {
    common::init_runtime();
    let files = ModelFiles::in_dir(&common::models(), Precision::Int8, Alphabet::Full);
    let options = OcrOptions { page_orientation, ..OcrOptions::default() };
    OcrEngine::load(&files, &RuntimeOptions::default(), options).unwrap()
}

fn receipt() -> RgbImage {
    let bytes = std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("probe/receipt.jpg")).unwrap();
    image::load_from_memory(&bytes).unwrap().to_rgb8()
}

fn texts(lines: &[TextLine]) -> Vec<&str> {
    lines.iter().map(|l| l.text.as_str()).collect()
}

/// Where a point of the upright `w`×`h` receipt is once the receipt is
/// turned `degrees` clockwise.
fn turn_point([x, y]: [f32; 2], degrees: u32, w: f32, h: f32) -> [f32; 2] {
    match degrees {
        90 => [h - y, x],
        180 => [w - x, h - y],
        270 => [y, w - x],
        _ => [x, y],
    }
}

#[test]
fn pages_turned_a_quarter_or_half_read_as_upright_with_boxes_on_the_turned_image() {
    let (on, off) = (engine(true), engine(false));
    let upright = receipt();
    let (w, h) = (upright.width() as f32, upright.height() as f32);
    let want = off.read_image(&upright).unwrap();
    assert!(want.len() >= 10, "the probe receipt reads: {:?}", texts(&want));
    assert_eq!(on.read_image(&upright).unwrap(), want, "page orientation changes nothing on an upright page");
    for (degrees, turned) in
        [(90, imageops::rotate90(&upright)), (180, imageops::rotate180(&upright)), (270, imageops::rotate270(&upright))]
    {
        let got = on.read_image(&turned).unwrap();
        assert_eq!(texts(&got), texts(&want), "turned {degrees}°");
        // The same pixels were read, so each box is the upright one turned
        // with the page, corner for corner.
        for (g, u) in got.iter().zip(&want) {
            for (p, q) in g.bbox.iter().zip(u.bbox) {
                let q = turn_point(q, degrees, w, h);
                assert!((p[0] - q[0]).abs() < 0.5 && (p[1] - q[1]).abs() < 0.5, "turned {degrees}°: {g:?} vs {u:?}");
            }
        }
        // Without it the turned page does not read the receipt: what the
        // classifier is for.
        let unturned = off.read_image(&turned).unwrap();
        assert_ne!(texts(&unturned), texts(&want), "turned {degrees}° without page orientation");
    }
}

#[test]
fn a_receipt_skewed_by_five_degrees_reads_the_same() {
    let off = engine(false);
    let upright = receipt();
    let want = off.read_image(&upright).unwrap();
    // White margin first, so the turned corners stay on the canvas.
    let margin = 40;
    let mut canvas = RgbImage::from_pixel(upright.width() + 2 * margin, upright.height() + 2 * margin, Rgb([255; 3]));
    imageops::replace(&mut canvas, &upright, i64::from(margin), i64::from(margin));
    let skewed =
        rotate_about_center(&canvas, 5f32.to_radians(), Interpolation::Bicubic, Border::Constant(Rgb([255; 3])));
    let got = off.read_image(&skewed).unwrap();
    // Every line is read exactly. (Their order may differ: on a skewed
    // page the rows' tops move, and reading order follows them.)
    let sorted = |lines| {
        let mut texts = texts(lines);
        texts.sort_unstable();
        texts
    };
    assert_eq!(sorted(&got), sorted(&want));
    // The detector's boxes turn with the text: the top edge of every long
    // line falls about 5° to the right (clockwise; y points down).
    for line in got.iter().filter(|l| l.text.len() >= 20) {
        let [tl, tr, ..] = line.bbox;
        let angle = (tr[1] - tl[1]).atan2(tr[0] - tl[0]).to_degrees();
        assert!((angle - 5.0).abs() < 1.5, "{:?}: top edge at {angle:.1}°", line.text);
    }
}
