//! Tesseract (libtesseract 5, LSTM) as an engine: one `TessBaseAPI` per
//! worker, created at load and reused for every image (the handle is not
//! thread-safe).
//!
//! An image is made 8-bit greyscale and enlarged a little, Tesseract reads
//! it as one block of rows (PSM 6), and its TSV output gives the words of
//! each row. Noise words are dropped, a row is cut where its words are
//! far apart (an item and its price are two lines, as PP-OCR and the
//! SROIE annotators have them), word boxes are shrunk to their ink and
//! mapped back to the original pixels, and the lines are put in reading
//! order. A line's confidence is the mean of its words' (0..1 like
//! PP-OCR's). The defaults were measured on the SROIE TRAIN receipts with
//! `examples/tesseract_eval.rs` (see the constants).
//!
//! libtesseract runs OpenMP threads inside one recognition, with thread
//! counts of its own choosing: with them a SROIE receipt took 8 times the
//! CPU time (2.2 s instead of 0.26 s on two idle cores: the threads spin
//! waiting for each other, and per-worker instances compete for the
//! cores). Only `OMP_THREAD_LIMIT=1` in the environment the process starts
//! with stops them (libgomp reads it before any code of ours runs; the
//! `inference-hub` binary sees to it), so [`load`] warns without it.

use std::ffi::CString;

use hub_ocr::TextLine;
use image::imageops::FilterType;
use image::{GrayImage, RgbImage};
use tesseract::plumbing::TessBaseApi;

use crate::{Engine, EngineError, EngineInfo, TesseractConfig};

// ------------------------------------------------------------ tuning
//
// Measured with `examples/tesseract_eval.rs` and `ocr_eval.py` on 60 of the
// SROIE TRAIN receipts (every third), one knob at a time; "F1" is the
// case-insensitive word F1, CER case-insensitive, CPU per receipt with
// OMP_THREAD_LIMIT=1.

/// PSM 6 (one uniform block): F1 0.681, CER 0.133, against 0.672/0.168
/// for PSM 4 (one column), 0.670/0.180 for PSM 3 (auto), 0.572/0.257 for
/// PSM 11 (sparse text). A receipt is one column of rows; PSM 3 and 4
/// cut rows into blocks and lose some of them.
const PAGE_SEG_MODE: u8 = 6;
/// Enlarged by 1.2 (bilinear): F1 0.687 → 0.698, CER 0.128 → 0.123 for
/// 20 % more CPU; 1.1 to 1.3 are alike, 1.5 (0.680 to 0.685) and 2.0
/// (0.650 to 0.670) are worse, and so is scaling each receipt so that its
/// text rows have one height (`TEXT_ROW_PX` 16 to 24: F1 0.702 to 0.706,
/// against 0.715 at 1.2, with the word filters below).
const SCALE: f32 = 1.2;
/// No measurable effect (150, 200 and 300 read the same); without a
/// resolution Tesseract warns and assumes 70.
const DPI: u32 = 300;
/// Otsu (0). Sauvola (2): F1 0.707 against 0.714, CER 0.147 against 0.128;
/// Leptonica's Otsu (1) is worse than both.
const THRESHOLDING: u8 = 0;
/// Words below 5 % confidence are noise: F1 +0.009 for CER +0.007. Higher
/// thresholds trade more CER for F1 (20: F1 0.718, CER 0.140).
const MIN_WORD_CONFIDENCE: f32 = 5.0;
/// Words of no letter or digit below 70 % (`|` from table rules, `—`, `=`,
/// `‘` from dotted lines and specks): F1 0.698 → 0.705 and CER 0.123 →
/// 0.118 on their own. 50 is alike, 90 gains less (0.700, 0.123).
const MIN_SYMBOL_CONFIDENCE: f32 = 70.0;
/// Tesseract's line is a whole row of the receipt; the SROIE annotators
/// (and PP-OCR) box an item and its price apart. Splitting at gaps wider
/// than one line height: detection F1 0.369 → 0.769 (0.6: 0.50, 2: 0.71,
/// 3: 0.64), words unchanged.
const SPLIT_GAP: f32 = 1.0;
/// Off: see `SCALE`.
const TEXT_ROW_PX: f32 = 0.0;
/// Bounds of the scale that brings text rows to `TEXT_ROW_PX`.
const SCALE_RANGE: (f32, f32) = (1.0, 2.0);
/// Not trying every line upside-down as well: F1 0.711 → 0.714 and 4 %
/// less CPU (receipts are decoded upright).
const DO_INVERT: bool = false;
/// Tesseract's LSTM word boxes run several pixels above and below some
/// words; shrunk to the ink they hold: detection F1 0.769 → 0.772, and the
/// boxes are where the text is.
const TIGHTEN: bool = true;

/// Smaller images hold no readable text and Tesseract is not called: it
/// fails on a zero-size image (Leptonica: "width must be > 0") and reads
/// nothing from 1 to 7 pixels.
const MIN_SIDE: u32 = 8;
/// Tesseract refuses a side over 32767 pixels ("Image too large") and
/// reads nothing: a larger original is an error, and enlarging stops here.
const MAX_SIDE: u32 = 32_000;
/// Enlarging is for small scans: it stops at this many pixels (a phone
/// photo has the pixels already, and time grows with them).
const MAX_SCALED_PIXELS: u64 = 8_000_000;

/// How an image is prepared for, and read by, Tesseract.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Tuning {
    /// Tesseract's page segmentation mode (`tessedit_pageseg_mode`).
    psm: u8,
    /// Scale factor of the greyscale image given to Tesseract, when
    /// `text_row_px` is 0 or the image's text rows cannot be measured.
    scale: f32,
    /// Scale so that the image's median text row is this tall (0: off).
    text_row_px: f32,
    /// Bounds of the scale `text_row_px` chooses.
    scale_range: (f32, f32),
    /// Resolution of the (scaled) image, as told to Tesseract.
    dpi: u32,
    /// `thresholding_method`: 0 Otsu, 1 Leptonica's Otsu, 2 Sauvola.
    thresholding: u8,
    /// Words below this confidence (0..100) are dropped, and so are those
    /// without a letter or digit below `min_symbol_confidence`.
    min_word_confidence: f32,
    min_symbol_confidence: f32,
    /// Gap (in line heights) at which a line is split in two; 0: never.
    split_gap: f32,
    /// Whether Tesseract also tries each line inverted (`tessedit_do_invert`).
    do_invert: bool,
    /// Whether word boxes are shrunk to the ink they hold (Tesseract's
    /// LSTM word boxes can run several pixels past the glyphs).
    tighten: bool,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            psm: PAGE_SEG_MODE,
            scale: SCALE,
            text_row_px: TEXT_ROW_PX,
            scale_range: SCALE_RANGE,
            dpi: DPI,
            thresholding: THRESHOLDING,
            min_word_confidence: MIN_WORD_CONFIDENCE,
            min_symbol_confidence: MIN_SYMBOL_CONFIDENCE,
            split_gap: SPLIT_GAP,
            do_invert: DO_INVERT,
            tighten: TIGHTEN,
        }
    }
}

impl Tuning {
    /// The defaults with `spec`'s `key=value` overrides (space or comma
    /// separated).
    fn parse(spec: &str) -> Result<Self, String> {
        let mut tuning = Self::default();
        for item in spec.split([' ', ',']).filter(|s| !s.is_empty()) {
            let (key, value) = item.split_once('=').ok_or_else(|| format!("`{item}` is not key=value"))?;
            let bad = || format!("bad value in `{item}`");
            match key {
                "psm" => tuning.psm = value.parse().map_err(|_| bad())?,
                "scale" => tuning.scale = value.parse().map_err(|_| bad())?,
                "text_px" => tuning.text_row_px = value.parse().map_err(|_| bad())?,
                "scale_min" => tuning.scale_range.0 = value.parse().map_err(|_| bad())?,
                "scale_max" => tuning.scale_range.1 = value.parse().map_err(|_| bad())?,
                "dpi" => tuning.dpi = value.parse().map_err(|_| bad())?,
                "thresholding" => tuning.thresholding = value.parse().map_err(|_| bad())?,
                "min_conf" => tuning.min_word_confidence = value.parse().map_err(|_| bad())?,
                "min_symbol_conf" => tuning.min_symbol_confidence = value.parse().map_err(|_| bad())?,
                "split_gap" => tuning.split_gap = value.parse().map_err(|_| bad())?,
                "invert" => tuning.do_invert = value.parse::<u8>().map_err(|_| bad())? != 0,
                "tighten" => tuning.tighten = value.parse::<u8>().map_err(|_| bad())? != 0,
                _ => return Err(format!("unknown knob `{key}`")),
            }
        }
        let (low, high) = tuning.scale_range;
        for scale in [tuning.scale, low, high] {
            if !(scale.is_finite() && (0.25..=4.0).contains(&scale)) {
                return Err(format!("scale {scale} is outside 0.25..4"));
            }
        }
        if low > high || !(tuning.text_row_px.is_finite() && tuning.text_row_px >= 0.0) {
            return Err("scale_min is above scale_max, or text_px is negative".into());
        }
        if tuning.psm > 13 || tuning.thresholding > 2 {
            return Err("psm is 0..13, thresholding 0..2".into());
        }
        Ok(tuning)
    }

    /// The confidence a word needs to be kept.
    fn min_confidence(&self) -> MinConfidence {
        MinConfidence { word: self.min_word_confidence, symbols: self.min_symbol_confidence }
    }

    /// The Tesseract variables these settings stand for.
    fn variables(&self) -> [(&'static str, String); 5] {
        [
            ("tessedit_pageseg_mode", self.psm.to_string()),
            ("thresholding_method", self.thresholding.to_string()),
            ("tessedit_do_invert", u8::from(self.do_invert).to_string()),
            // Words come from the TSV, one space apart whatever this says.
            ("preserve_interword_spaces", "0".into()),
            // Tesseract's diagnostics ("Detected 45 diacritics", "Image too
            // large", ...) would go to the service's stderr on every
            // request; failures reach the caller as errors. (A process-wide
            // setting in libtesseract.)
            ("debug_file", "/dev/null".into()),
        ]
    }

    /// The scale to apply to a `width` x `height` image whose text rows
    /// are `row_height` pixels tall (if known): the one that brings them
    /// to `text_row_px`, else the fixed one; reduced so the result stays
    /// within Tesseract's limits.
    fn scale_for(&self, width: u32, height: u32, row_height: Option<f32>) -> f32 {
        let scale = match row_height {
            Some(rows) if self.text_row_px > 0.0 && rows > 0.0 => {
                (self.text_row_px / rows).clamp(self.scale_range.0, self.scale_range.1)
            }
            _ => self.scale,
        };
        if scale <= 1.0 {
            return scale;
        }
        let by_side = MAX_SIDE as f32 / width.max(height) as f32;
        let by_pixels = (MAX_SCALED_PIXELS as f64 / (f64::from(width) * f64::from(height))).sqrt() as f32;
        // The caps never make the scale shrink the image: that would lose
        // detail the original holds.
        scale.min(by_side).min(by_pixels).max(1.0)
    }
}

// ------------------------------------------------------------ engine

struct Tesseract {
    api: TessBaseApi,
    tuning: Tuning,
}

impl Engine for Tesseract {
    fn read(&mut self, image: &RgbImage) -> Result<Vec<TextLine>, EngineError> {
        let (width, height) = image.dimensions();
        if width < MIN_SIDE || height < MIN_SIDE {
            return Ok(Vec::new());
        }
        if width > MAX_SIDE || height > MAX_SIDE {
            return Err(EngineError::Tesseract(format!(
                "{width}x{height} image: Tesseract reads at most {MAX_SIDE} pixels a side"
            )));
        }
        let gray = image::imageops::grayscale(image);
        let row_height =
            if self.tuning.text_row_px > 0.0 { text_row_height(&gray, otsu_threshold(&gray)) } else { None };
        let scale = self.tuning.scale_for(width, height, row_height);
        let gray = scaled(gray, scale);
        let (w, h) = (gray.width() as i32, gray.height() as i32);
        self.api
            .set_image(gray.as_raw(), w, h, 1, w)
            .map_err(|e| EngineError::Tesseract(format!("cannot set image: {e:?}")))?;
        self.api.set_source_resolution(self.tuning.dpi as i32);
        self.api.recognize().map_err(|_| EngineError::Tesseract("recognition failed".into()))?;
        let tsv = self.api.get_tsv_text(0).map_err(|_| EngineError::Tesseract("no TSV output".into()))?;
        let mut words = words_from_tsv(&tsv.as_ref().to_string_lossy(), self.tuning.min_confidence());
        if self.tuning.tighten {
            let threshold = otsu_threshold(&gray);
            for word in &mut words {
                word.rect = shrink_to_ink(&gray, word.rect, threshold);
            }
        }
        // Each side's own factor: the scaled sides were rounded to pixels.
        let factors = (gray.width() as f32 / width as f32, gray.height() as f32 / height as f32);
        let lines = lines_from_words(&words, self.tuning.split_gap, factors, (width, height));
        Ok(in_reading_order(lines))
    }
}

/// `gray` scaled by `scale`.
fn scaled(gray: GrayImage, scale: f32) -> GrayImage {
    let size = |side: u32| ((side as f32 * scale).round() as u32).max(1);
    let (width, height) = (size(gray.width()), size(gray.height()));
    if (width, height) == gray.dimensions() {
        gray
    } else if scale > 1.0 {
        enlarge(&gray, width, height)
    } else {
        image::imageops::resize(&gray, width, height, FilterType::Triangle)
    }
}

/// `gray` enlarged to `width` x `height` by bilinear interpolation between
/// pixel centres: what `image`'s triangle filter computes when enlarging,
/// without its intermediate image of four f32 channels a pixel (16 times
/// the memory of the result).
fn enlarge(gray: &GrayImage, width: u32, height: u32) -> GrayImage {
    // For each output column (row): the two source columns (rows) it lies
    // between and the weight of the second.
    let taps = |to: u32, from: u32| -> Vec<(usize, usize, f32)> {
        let ratio = from as f32 / to as f32;
        let last = from.saturating_sub(1) as usize;
        (0..to)
            .map(|i| {
                let at = ((i as f32 + 0.5) * ratio - 0.5).clamp(0.0, last as f32);
                let low = at as usize;
                (low, (low + 1).min(last), at - low as f32)
            })
            .collect()
    };
    let (xs, ys) = (taps(width, gray.width()), taps(height, gray.height()));
    let (src, stride) = (gray.as_raw(), gray.width() as usize);
    let mut out = Vec::with_capacity(width as usize * height as usize);
    for &(y0, y1, fy) in &ys {
        let (upper, lower) = (&src[y0 * stride..][..stride], &src[y1 * stride..][..stride]);
        for &(x0, x1, fx) in &xs {
            let mix = |row: &[u8]| f32::from(row[x0]) + (f32::from(row[x1]) - f32::from(row[x0])) * fx;
            let (top, bottom) = (mix(upper), mix(lower));
            out.push((top + (bottom - top) * fy).round() as u8);
        }
    }
    GrayImage::from_raw(width, height, out).expect("one byte for each of width x height pixels")
}

/// The median height of the text rows of `gray`, in pixels: the runs of
/// pixel rows holding some ink (pixels below `threshold`) in the
/// horizontal projections of four vertical strips (so a dark margin or
/// table on one side does not hide the text beside it). A row that is
/// mostly ink is background, not text. `None` with fewer than five runs.
fn text_row_height(gray: &GrayImage, threshold: u8) -> Option<f32> {
    const STRIPS: u32 = 4;
    let (width, height) = gray.dimensions();
    let strip = width / STRIPS;
    if strip == 0 {
        return None;
    }
    // A few specks of noise are not text; neither is a row of solid ink.
    let (min_ink, max_ink) = ((strip / 100).max(2), strip * 3 / 5);
    let longest = (height / 4).max(4);
    let mut runs = Vec::new();
    for s in 0..STRIPS {
        let mut run = 0u32;
        for y in 0..=height {
            let text = y < height && {
                let row = &gray.as_raw()[(y * width + s * strip) as usize..][..strip as usize];
                let ink = row.iter().filter(|p| **p < threshold).count() as u32;
                (min_ink..=max_ink).contains(&ink)
            };
            if text {
                run += 1;
            } else {
                if (4..=longest).contains(&run) {
                    runs.push(run);
                }
                run = 0;
            }
        }
    }
    if runs.len() < 5 {
        return None;
    }
    runs.sort_unstable();
    Some(runs[runs.len() / 2] as f32)
}

/// Otsu's threshold of `gray`: pixels below it are ink.
fn otsu_threshold(gray: &GrayImage) -> u8 {
    let mut histogram = [0u64; 256];
    for p in gray.as_raw() {
        histogram[usize::from(*p)] += 1;
    }
    let total = gray.as_raw().len() as f64;
    let sum_all: f64 = histogram.iter().enumerate().map(|(v, n)| v as f64 * *n as f64).sum();
    let (mut below, mut sum_below, mut best, mut threshold) = (0.0, 0.0, -1.0, 128u8);
    for (v, n) in histogram.iter().enumerate() {
        // Classes: values <= v (ink) and > v (paper).
        below += *n as f64;
        sum_below += v as f64 * *n as f64;
        let above = total - below;
        if below == 0.0 || above == 0.0 {
            continue;
        }
        let between = below * above * (sum_below / below - (sum_all - sum_below) / above).powi(2);
        if between > best {
            (best, threshold) = (between, v as u8);
        }
    }
    threshold.saturating_add(1)
}

/// `rect` (left, top, right, bottom) shrunk to the pixels below
/// `threshold` inside it; unchanged if it holds none.
fn shrink_to_ink(gray: &GrayImage, rect: [f32; 4], threshold: u8) -> [f32; 4] {
    let clip = |v: f32, max: u32| (v.max(0.0) as u32).min(max);
    let (l, t) = (clip(rect[0], gray.width()), clip(rect[1], gray.height()));
    let (r, b) = (clip(rect[2], gray.width()), clip(rect[3], gray.height()));
    let mut ink: Option<[u32; 4]> = None;
    for y in t..b {
        for x in l..r {
            if gray.get_pixel(x, y).0[0] < threshold {
                let i = ink.get_or_insert([x, y, x + 1, y + 1]);
                *i = [i[0].min(x), i[1].min(y), i[2].max(x + 1), i[3].max(y + 1)];
            }
        }
    }
    ink.map_or(rect, |i| i.map(|v| v as f32))
}

pub fn load(config: &TesseractConfig, instances: usize) -> Result<(EngineInfo, Vec<Box<dyn Engine>>), EngineError> {
    let tuning = Tuning::parse(&config.tuning).map_err(|e| EngineError::Tesseract(format!("tuning: {e}")))?;
    if tuning != Tuning::default() {
        tracing::warn!("the Tesseract tuning overrides the measured defaults: {tuning:?}");
    }
    if !std::env::var("OMP_THREAD_LIMIT").is_ok_and(|v| v.trim() == "1") {
        tracing::warn!(
            "OMP_THREAD_LIMIT is not 1: libtesseract's OpenMP threads make each read several times slower \
             (8x the CPU time on 2 cores); start the process with OMP_THREAD_LIMIT=1"
        );
    }
    let datapath = match &config.datapath {
        Some(dir) => Some(cstring(&dir.to_string_lossy())?),
        None => None,
    };
    let language = cstring(&config.language)?;
    let variables = tuning
        .variables()
        .into_iter()
        .map(|(name, value)| Ok((cstring(name)?, cstring(&value)?)))
        .collect::<Result<Vec<_>, EngineError>>()?;
    let engines = (0..instances)
        .map(|_| {
            let mut api = TessBaseApi::create();
            api.init_2(datapath.as_deref(), Some(&language)).map_err(|_| {
                EngineError::Tesseract(format!(
                    "cannot load language `{}` (install tesseract-ocr-{} or set --tessdata)",
                    config.language, config.language
                ))
            })?;
            for (name, value) in &variables {
                api.set_variable(name, value).map_err(|_| {
                    EngineError::Tesseract(format!("cannot set {}={}", name.to_string_lossy(), value.to_string_lossy()))
                })?;
            }
            Ok(Box::new(Tesseract { api, tuning }) as Box<dyn Engine>)
        })
        .collect::<Result<Vec<_>, EngineError>>()?;
    let version = tesseract::plumbing::version().to_string_lossy().into_owned();
    let info = EngineInfo {
        name: "tesseract",
        version: format!("tesseract {version}"),
        models: vec![format!("{}.traineddata", config.language)],
        precision: None,
        identity: crate::identity(&["tesseract", &version, &format!("{config:?} {tuning:?}")], &language_files(config)),
    };
    Ok((info, engines))
}

/// Where libtesseract finds `lang.traineddata` for each language: the
/// configured folder, else `TESSDATA_PREFIX`, else Debian's.
fn language_files(config: &TesseractConfig) -> Vec<std::path::PathBuf> {
    let dir = config
        .datapath
        .clone()
        .or_else(|| std::env::var_os("TESSDATA_PREFIX").map(Into::into))
        .unwrap_or_else(|| "/usr/share/tesseract-ocr/5/tessdata".into());
    config.language.split('+').map(|lang| dir.join(format!("{lang}.traineddata"))).collect()
}

fn cstring(s: &str) -> Result<CString, EngineError> {
    CString::new(s).map_err(|_| EngineError::Tesseract(format!("`{s}` holds a NUL byte")))
}

// ------------------------------------------------------------ TSV → lines

/// The confidence (0..100) a word needs to be kept: `word` for any, and
/// `symbols` for one without a letter or digit (Tesseract reads table rules,
/// dotted lines and specks as `|`, `—`, `=`, `‘` and the like).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct MinConfidence {
    word: f32,
    symbols: f32,
}

impl MinConfidence {
    /// Whether a word `text` read with `confidence` (unknown: 0) is kept.
    fn keeps(&self, text: &str, confidence: Option<f32>) -> bool {
        let confidence = confidence.unwrap_or(0.0);
        confidence >= self.word && (confidence >= self.symbols || text.chars().any(char::is_alphanumeric))
    }
}

/// One word of Tesseract's TSV, in the pixels of the image it was given.
#[derive(Debug, Clone, PartialEq)]
struct Word {
    /// (block, paragraph, line): the words of one line share it.
    line: (u32, u32, u32),
    text: String,
    /// 0..100, or `None` where Tesseract gives none (-1).
    confidence: Option<f32>,
    /// left, top, right, bottom.
    rect: [f32; 4],
}

/// The words of Tesseract's TSV (level, page, block, par, line, word,
/// left, top, width, height, conf, text), in Tesseract's order, without
/// empty ones and those `min_confidence` does not keep.
fn words_from_tsv(tsv: &str, min_confidence: MinConfidence) -> Vec<Word> {
    let mut words = Vec::new();
    for row in tsv.lines() {
        let cols: Vec<&str> = row.splitn(12, '\t').collect();
        if cols.len() < 12 || cols[0] != "5" {
            continue;
        }
        let text = cols[11].trim();
        if text.is_empty() {
            continue;
        }
        let int = |i: usize| cols[i].trim().parse::<u32>().ok();
        let num = |i: usize| cols[i].trim().parse::<f32>().ok().filter(|v| v.is_finite());
        let (Some(block), Some(par), Some(line)) = (int(2), int(3), int(4)) else { continue };
        let (Some(left), Some(top), Some(width), Some(height)) = (num(6), num(7), num(8), num(9)) else { continue };
        let confidence = num(10).filter(|c| *c >= 0.0);
        if !min_confidence.keeps(text, confidence) {
            continue;
        }
        words.push(Word {
            line: (block, par, line),
            text: text.split_whitespace().collect::<Vec<_>>().join(" "),
            confidence,
            rect: [left, top, left + width, top + height],
        });
    }
    words
}

/// Lines of consecutive words on the same Tesseract line, split where two
/// words are further apart than `split_gap` line heights (0: never), with
/// boxes divided by the image's `scale` (x, y) and clipped to the original
/// `size`.
fn lines_from_words(words: &[Word], split_gap: f32, scale: (f32, f32), size: (u32, u32)) -> Vec<TextLine> {
    let mut groups: Vec<&[Word]> = Vec::new();
    for run in words.chunk_by(|a, b| a.line == b.line) {
        let height = run.iter().map(|w| w.rect[3] - w.rect[1]).fold(0.0, f32::max);
        let mut start = 0;
        for i in 1..run.len() {
            if split_gap > 0.0 && run[i].rect[0] - run[i - 1].rect[2] > split_gap * height {
                groups.push(&run[start..i]);
                start = i;
            }
        }
        groups.push(&run[start..]);
    }
    let (max_x, max_y) = (size.0 as f32, size.1 as f32);
    groups
        .into_iter()
        .map(|group| {
            let text = group.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
            let known: Vec<f32> = group.iter().filter_map(|w| w.confidence).collect();
            let confidence = if known.is_empty() {
                0.0
            } else {
                (known.iter().sum::<f32>() / known.len() as f32 / 100.0).clamp(0.0, 1.0)
            };
            let [l, t, r, b] = group.iter().fold([f32::MAX, f32::MAX, f32::MIN, f32::MIN], |[l, t, r, b], w| {
                [l.min(w.rect[0]), t.min(w.rect[1]), r.max(w.rect[2]), b.max(w.rect[3])]
            });
            let x = |v: f32| (v / scale.0).clamp(0.0, max_x);
            let y = |v: f32| (v / scale.1).clamp(0.0, max_y);
            let (l, t, r, b) = (x(l), y(t), x(r), y(b));
            TextLine { text, confidence, bbox: [[l, t], [r, t], [r, b], [l, b]] }
        })
        .collect()
}

/// `lines` in reading order: rows from top to bottom (a line joins the
/// current row when its vertical centre lies within the row's first
/// line), each read left to right. The same rule as the PP-OCR pipeline's.
fn in_reading_order(mut lines: Vec<TextLine>) -> Vec<TextLine> {
    let top = |l: &TextLine| l.bbox[0][1];
    let bottom = |l: &TextLine| l.bbox[2][1];
    let left = |l: &TextLine| l.bbox[0][0];
    lines.sort_by(|a, b| top(a).total_cmp(&top(b)));
    let mut ordered = Vec::with_capacity(lines.len());
    let mut row: Vec<TextLine> = Vec::new();
    for line in lines {
        let centre = (top(&line) + bottom(&line)) / 2.0;
        if let Some(first) = row.first()
            && (centre < top(first) || centre > bottom(first))
        {
            row.sort_by(|a, b| left(a).total_cmp(&left(b)));
            ordered.append(&mut row);
        }
        row.push(line);
    }
    row.sort_by(|a, b| left(a).total_cmp(&left(b)));
    ordered.append(&mut row);
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TSV row as libtesseract 5.3 writes it.
    fn row(level: u8, ids: [u32; 4], rect: [u32; 4], conf: &str, text: &str) -> String {
        let [block, par, line, word] = ids;
        let [left, top, width, height] = rect;
        format!("{level}\t1\t{block}\t{par}\t{line}\t{word}\t{left}\t{top}\t{width}\t{height}\t{conf}\t{text}\n")
    }

    /// Two blocks as Tesseract reports a receipt's header and one item:
    /// page, block, paragraph and line rows (conf -1, no text), then words.
    fn receipt_tsv() -> String {
        [
            row(1, [0, 0, 0, 0], [0, 0, 400, 300], "-1", ""),
            row(2, [1, 0, 0, 0], [50, 20, 300, 30], "-1", ""),
            row(3, [1, 1, 0, 0], [50, 20, 300, 30], "-1", ""),
            row(4, [1, 1, 1, 0], [50, 20, 300, 30], "-1", ""),
            row(5, [1, 1, 1, 1], [50, 22, 120, 26], "96.5", "CAFE"),
            row(5, [1, 1, 1, 2], [190, 20, 160, 30], "90.5", "AURORA"),
            row(2, [2, 0, 0, 0], [20, 100, 360, 20], "-1", ""),
            row(3, [2, 1, 0, 0], [20, 100, 360, 20], "-1", ""),
            row(4, [2, 1, 1, 0], [20, 100, 360, 20], "-1", ""),
            row(5, [2, 1, 1, 1], [20, 100, 60, 20], "80", "Flat"),
            row(5, [2, 1, 1, 2], [90, 101, 70, 19], "70", "white"),
            row(5, [2, 1, 1, 3], [330, 100, 50, 20], "60", "3.20"),
        ]
        .concat()
    }

    const KEEP_ALL: MinConfidence = MinConfidence { word: 0.0, symbols: 0.0 };

    fn texts(lines: &[TextLine]) -> Vec<&str> {
        lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn words_are_grouped_into_their_lines() {
        let words = words_from_tsv(&receipt_tsv(), KEEP_ALL);
        assert_eq!(words.len(), 5);
        let lines = lines_from_words(&words, 0.0, (1.0, 1.0), (400, 300));
        assert_eq!(texts(&lines), ["CAFE AURORA", "Flat white 3.20"]);
        // The box of a line is the union of its words' boxes.
        assert_eq!(lines[0].bbox, [[50.0, 20.0], [350.0, 20.0], [350.0, 50.0], [50.0, 50.0]]);
        assert_eq!(lines[1].bbox, [[20.0, 100.0], [380.0, 100.0], [380.0, 120.0], [20.0, 120.0]]);
    }

    #[test]
    fn confidence_is_the_mean_of_the_words_over_100() {
        let lines = lines_from_words(&words_from_tsv(&receipt_tsv(), KEEP_ALL), 0.0, (1.0, 1.0), (400, 300));
        assert!((lines[0].confidence - 0.935).abs() < 1e-6, "{}", lines[0].confidence);
        assert!((lines[1].confidence - 0.70).abs() < 1e-6, "{}", lines[1].confidence);
    }

    #[test]
    fn empty_words_and_missing_confidences() {
        let tsv = [
            // The header the command-line TSV renderer adds, and junk.
            "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n".into(),
            "5\t1\t1\n".into(),
            row(4, [1, 1, 1, 0], [10, 10, 200, 20], "-1", ""),
            row(5, [1, 1, 1, 1], [10, 10, 50, 20], "90", "TOTAL"),
            // Empty and blank words are dropped, with their confidence.
            row(5, [1, 1, 1, 2], [70, 10, 10, 20], "0", ""),
            row(5, [1, 1, 1, 3], [90, 10, 10, 20], "95", "   "),
            // A word without a confidence keeps its text but does not
            // count in the mean.
            row(5, [1, 1, 1, 4], [150, 10, 60, 20], "-1", "9.00"),
            // A line of nothing but empty words is no line at all.
            row(4, [1, 1, 2, 0], [10, 40, 200, 20], "-1", ""),
            row(5, [1, 1, 2, 1], [10, 40, 50, 20], "-1", " "),
        ]
        .concat();
        let lines = lines_from_words(&words_from_tsv(&tsv, KEEP_ALL), 0.0, (1.0, 1.0), (400, 300));
        assert_eq!(texts(&lines), ["TOTAL 9.00"]);
        assert!((lines[0].confidence - 0.90).abs() < 1e-6, "{}", lines[0].confidence);
        assert_eq!(lines[0].bbox, [[10.0, 10.0], [210.0, 10.0], [210.0, 30.0], [10.0, 30.0]]);

        let only_unknown = row(5, [1, 1, 1, 1], [10, 10, 50, 20], "-1", "SALE");
        let lines = lines_from_words(&words_from_tsv(&only_unknown, KEEP_ALL), 0.0, (1.0, 1.0), (400, 300));
        assert_eq!(texts(&lines), ["SALE"]);
        assert_eq!(lines[0].confidence, 0.0);
        assert!(lines_from_words(&words_from_tsv("", KEEP_ALL), 0.0, (1.0, 1.0), (400, 300)).is_empty());
    }

    #[test]
    fn low_confidence_words_are_dropped() {
        let min = MinConfidence { word: 75.0, symbols: 0.0 };
        let lines = lines_from_words(&words_from_tsv(&receipt_tsv(), min), 0.0, (1.0, 1.0), (400, 300));
        assert_eq!(texts(&lines), ["CAFE AURORA", "Flat"]);
        assert!((lines[1].confidence - 0.80).abs() < 1e-6);
        assert_eq!(lines[1].bbox[1], [80.0, 100.0]);
    }

    #[test]
    fn low_confidence_symbols_are_dropped() {
        // A table rule read as `|`, a dotted line as `—`, and symbols
        // that belong to the receipt.
        let tsv = [
            row(5, [1, 1, 1, 1], [10, 10, 60, 20], "91", "TOTAL"),
            row(5, [1, 1, 1, 2], [80, 10, 10, 20], "88", ":"),
            row(5, [1, 1, 1, 3], [100, 10, 50, 20], "35", "9.00"),
            row(5, [1, 1, 1, 4], [200, 8, 4, 30], "41", "|"),
            row(5, [1, 1, 2, 1], [10, 40, 200, 6], "22", "——"),
            row(5, [1, 1, 2, 2], [220, 40, 10, 20], "-1", "*"),
        ]
        .concat();
        let min = MinConfidence { word: 30.0, symbols: 70.0 };
        let lines = lines_from_words(&words_from_tsv(&tsv, min), 0.0, (1.0, 1.0), (400, 300));
        assert_eq!(texts(&lines), ["TOTAL : 9.00"]);
        let min = MinConfidence { word: 40.0, symbols: 40.0 };
        let lines = lines_from_words(&words_from_tsv(&tsv, min), 0.0, (1.0, 1.0), (400, 300));
        assert_eq!(texts(&lines), ["TOTAL : |"]);
        assert!(MinConfidence::default().keeps("|", None));
        assert!(!MinConfidence { word: 0.0, symbols: 1.0 }.keeps("|", None));
        assert!(MinConfidence { word: 0.0, symbols: 1.0 }.keeps("É", None));
    }

    #[test]
    fn boxes_are_scaled_back_to_the_original_pixels() {
        // Tesseract read the image at twice its size: 800x600 for 400x300.
        let tsv = [
            row(5, [1, 1, 1, 1], [100, 40, 240, 52], "90", "CAFE"),
            // Past the scaled image's edge: clipped to the original's.
            row(5, [1, 1, 2, 1], [700, 560, 140, 60], "90", "EDGE"),
        ]
        .concat();
        let lines = lines_from_words(&words_from_tsv(&tsv, KEEP_ALL), 0.0, (2.0, 2.0), (400, 300));
        assert_eq!(lines[0].bbox, [[50.0, 20.0], [170.0, 20.0], [170.0, 46.0], [50.0, 46.0]]);
        assert_eq!(lines[1].bbox, [[350.0, 280.0], [400.0, 280.0], [400.0, 300.0], [350.0, 300.0]]);
        // 1.5: fractional pixels stay fractional.
        let lines =
            lines_from_words(&words_from_tsv(&tsv[..tsv.find("EDGE").unwrap()], KEEP_ALL), 0.0, (1.5, 1.5), (400, 300));
        let [[l, t], _, [r, b], _] = lines[0].bbox;
        for (got, want) in [(l, 100.0 / 1.5), (t, 40.0 / 1.5), (r, 340.0 / 1.5), (b, 92.0 / 1.5)] {
            assert!((got - want).abs() < 1e-4, "{got} != {want}");
        }
        // Each side by its own factor (the scaled sides are whole pixels).
        let lines = lines_from_words(&words_from_tsv(&tsv, KEEP_ALL), 0.0, (2.0, 1.6), (400, 300));
        assert_eq!(lines[0].bbox[2], [170.0, 57.5]);
    }

    #[test]
    fn wide_gaps_split_a_line() {
        // "Flat white" ... "3.20": the gap is 170 px on a 20 px high line.
        let words = words_from_tsv(&receipt_tsv(), KEEP_ALL);
        let lines = lines_from_words(&words, 3.0, (1.0, 1.0), (400, 300));
        assert_eq!(texts(&lines), ["CAFE AURORA", "Flat white", "3.20"]);
        assert_eq!(lines[1].bbox[2], [160.0, 120.0]);
        assert_eq!(lines[2].bbox[0], [330.0, 100.0]);
        assert!((lines[1].confidence - 0.75).abs() < 1e-6);
        // "CAFE" to "AURORA" is 20 px on a 30 px line (0.67 line heights),
        // "Flat" to "white" 10 px on a 20 px line (0.5).
        let lines = lines_from_words(&words, 0.6, (1.0, 1.0), (400, 300));
        assert_eq!(texts(&lines), ["CAFE", "AURORA", "Flat white", "3.20"]);
        assert_eq!(lines_from_words(&words, 9.0, (1.0, 1.0), (400, 300)).len(), 2);
    }

    #[test]
    fn lines_come_in_reading_order() {
        // Tesseract's blocks as a column of names, then a column of prices
        // and the header last: read row by row, left to right.
        let rect = |text: &str, l: f32, t: f32, r: f32, b: f32| TextLine {
            text: text.into(),
            confidence: 0.9,
            bbox: [[l, t], [r, t], [r, b], [l, b]],
        };
        let lines = vec![
            rect("Flat white", 20.0, 100.0, 160.0, 120.0),
            rect("Croissant", 20.0, 140.0, 150.0, 160.0),
            rect("3.20", 330.0, 102.0, 380.0, 121.0),
            rect("5.80", 330.0, 138.0, 380.0, 158.0),
            rect("CAFE AURORA", 50.0, 20.0, 350.0, 50.0),
        ];
        assert_eq!(texts(&in_reading_order(lines)), ["CAFE AURORA", "Flat white", "3.20", "Croissant", "5.80"]);
        assert!(in_reading_order(Vec::new()).is_empty());
    }

    #[test]
    fn word_boxes_shrink_to_their_ink() {
        // Paper 230, a 10x6 ink blot of 40 at (20, 12), a faint smudge of
        // 200 at (5, 5) that is paper for Otsu's threshold.
        let mut gray = GrayImage::from_pixel(60, 40, image::Luma([230]));
        for (x, y) in (20..30).flat_map(|x| (12..18).map(move |y| (x, y))) {
            gray.put_pixel(x, y, image::Luma([40]));
        }
        gray.put_pixel(5, 5, image::Luma([200]));
        let threshold = otsu_threshold(&gray);
        assert!((41..=200).contains(&threshold), "{threshold}");
        assert_eq!(shrink_to_ink(&gray, [2.0, 2.0, 50.0, 30.0], threshold), [20.0, 12.0, 30.0, 18.0]);
        // Part of the blot: the box only shrinks, never grows.
        assert_eq!(shrink_to_ink(&gray, [25.0, 0.0, 50.0, 15.0], threshold), [25.0, 12.0, 30.0, 15.0]);
        // No ink, or outside the image: unchanged.
        assert_eq!(shrink_to_ink(&gray, [0.0, 20.0, 60.0, 40.0], threshold), [0.0, 20.0, 60.0, 40.0]);
        assert_eq!(shrink_to_ink(&gray, [70.0, 50.0, 90.0, 60.0], threshold), [70.0, 50.0, 90.0, 60.0]);
    }

    #[test]
    fn tuning_overrides() {
        assert_eq!(Tuning::parse("").unwrap(), Tuning::default());
        let tuning =
            Tuning::parse("psm=11, scale=1.5 dpi=225 thresholding=2 min_conf=10 split_gap=2.5 invert=0").unwrap();
        assert_eq!(
            (tuning.psm, tuning.scale, tuning.dpi, tuning.thresholding, tuning.do_invert),
            (11, 1.5, 225, 2, false)
        );
        assert_eq!((tuning.min_word_confidence, tuning.split_gap), (10.0, 2.5));
        assert_eq!(Tuning::parse("min_symbol_conf=70").unwrap().min_confidence().symbols, 70.0);
        let rows = Tuning::parse("text_px=28 scale_min=0.5 scale_max=2").unwrap();
        assert_eq!((rows.text_row_px, rows.scale_range), (28.0, (0.5, 2.0)));
        for bad in [
            "psm",
            "psm=x",
            "psm=14",
            "scale=0",
            "scale=nan",
            "thresholding=3",
            "colour=1",
            "scale_min=3 scale_max=2",
            "text_px=-1",
        ] {
            assert!(Tuning::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn scaling_stays_within_tesseracts_limits() {
        let tuning = Tuning { scale: 2.0, ..Tuning::default() };
        assert_eq!(tuning.scale_for(460, 1000, None), 2.0);
        // A long strip: the long side stops at MAX_SIDE.
        let scale = tuning.scale_for(100, 25_000, None);
        assert_eq!(scale, 32_000.0 / 25_000.0);
        // A larger scan is not scaled up past MAX_SCALED_PIXELS ...
        let scale = tuning.scale_for(1600, 3000, None);
        assert!(
            scale > 1.0 && f64::from(1600.0 * scale) * f64::from(3000.0 * scale) <= MAX_SCALED_PIXELS as f64 * 1.001
        );
        // ... and never scaled down by the caps.
        assert_eq!(tuning.scale_for(3000, 4000, None), 1.0);
        let down = Tuning { scale: 0.5, ..Tuning::default() };
        assert_eq!(down.scale_for(460, 1000, None), 0.5);
        // Scaling text rows to a height, within bounds.
        let rows = Tuning { scale: 1.5, text_row_px: 30.0, scale_range: (0.8, 2.5), ..Tuning::default() };
        assert_eq!(rows.scale_for(460, 1000, Some(15.0)), 2.0);
        assert_eq!(rows.scale_for(460, 1000, Some(6.0)), 2.5);
        assert_eq!(rows.scale_for(460, 1000, Some(60.0)), 0.8);
        assert_eq!(rows.scale_for(460, 1000, None), 1.5);
        assert_eq!(rows.scale_for(100, 25_000, Some(15.0)), 32_000.0 / 25_000.0);
    }

    #[test]
    fn enlarging_interpolates_like_the_triangle_filter() {
        // A deterministic texture, enlarged by the factors the engine uses.
        let mut state = 7u32;
        let gray = GrayImage::from_fn(97, 61, |_, _| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            image::Luma([(state >> 24) as u8])
        });
        for scale in [1.1f32, 1.2, 1.5, 2.0, 3.0] {
            let (w, h) = ((97.0 * scale).round() as u32, (61.0 * scale).round() as u32);
            let ours = enlarge(&gray, w, h);
            let theirs = image::imageops::resize(&gray, w, h, FilterType::Triangle);
            assert_eq!(ours.dimensions(), (w, h));
            let worst = ours.pixels().zip(theirs.pixels()).map(|(a, b)| a.0[0].abs_diff(b.0[0])).max().unwrap();
            assert!(worst <= 2, "scale {scale}: off by up to {worst}");
        }
        // Flat stays flat; a single pixel and a single row enlarge.
        let flat = enlarge(&GrayImage::from_pixel(5, 3, image::Luma([77])), 12, 7);
        assert!(flat.pixels().all(|p| p.0[0] == 77));
        assert_eq!(enlarge(&GrayImage::from_pixel(1, 1, image::Luma([9])), 3, 2).as_raw(), &vec![9; 6]);
        assert_eq!(scaled(GrayImage::from_pixel(40, 1, image::Luma([9])), 1.5).dimensions(), (60, 2));
        assert_eq!(scaled(GrayImage::from_pixel(40, 20, image::Luma([9])), 0.5).dimensions(), (20, 10));
    }

    #[test]
    fn text_rows_are_measured_from_the_ink() {
        // Rows of ink 12 px tall (10 px apart), one 20 px tall, a speck
        // of noise, and a solid dark band down the right-hand side: the
        // median is 12.
        let mut gray = GrayImage::from_pixel(240, 200, image::Luma([240]));
        let mut ink = |top: u32, height: u32| {
            for (x, y) in (10..170).step_by(3).flat_map(|x| (top..top + height).map(move |y| (x, y))) {
                gray.put_pixel(x, y, image::Luma([30]));
            }
        };
        for top in [10, 32, 54, 76] {
            ink(top, 12);
        }
        ink(100, 20);
        gray.put_pixel(5, 150, image::Luma([30]));
        for (x, y) in (200..240).flat_map(|x| (0..200).map(move |y| (x, y))) {
            gray.put_pixel(x, y, image::Luma([20]));
        }
        assert_eq!(text_row_height(&gray, otsu_threshold(&gray)), Some(12.0));
        // Blank, or too few rows to tell, or too narrow.
        assert_eq!(text_row_height(&GrayImage::from_pixel(50, 50, image::Luma([255])), 128), None);
        let mut two = GrayImage::from_pixel(50, 50, image::Luma([255]));
        for (x, y) in (0..12).step_by(2).flat_map(|x| (5..10).chain(20..25).map(move |y| (x, y))) {
            two.put_pixel(x, y, image::Luma([0]));
        }
        assert_eq!(text_row_height(&two, 128), None);
        assert_eq!(text_row_height(&GrayImage::from_pixel(3, 50, image::Luma([0])), 128), None);
    }
}
