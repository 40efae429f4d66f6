//! OCR scoring for `inference-hub compare`: a port of the scoring rules of the shared
//! evaluation script `shared/eval/ocr_eval.py` (see its README), so that scores printed here
//! are the numbers the script gives for the same lines.
//!
//! What mirrors what (ours: the script's):
//! - [`Rect`], [`Line::new`]: `Rect`, `TextLine`, `rect_from_points`, the text `strip()`;
//! - [`decode_text`]: `read_text_file`; [`parse_gt_boxes`]: `parse_gt_boxes`;
//! - [`Scores::image`]: `evaluate_image` without key fields, i.e. `detection_counts`
//!   (`greedy_match`, `rect_iou`), `word_counts`, `glyph_token_counts` and `cer_counts`
//!   (`reading_order_text`, `levenshtein`);
//! - summing [`Scores`] (`+=`, `sum()`), then [`Counts`] ratios and [`Edits::cer`]: `aggregate`
//!   and `prf` (micro-average: counts summed over images, then divided);
//! - [`agreement`]: not in the script; one engine's reading against another's.
//!
//! Key fields and processing time are not scored here. Strings are compared as Python
//! compares them: by code point, with Python's whitespace (`str.split`, `str.strip`),
//! `str.casefold` and regex `\w`; `casefold` and `is_word_char` below say how.

use std::collections::HashMap;
use std::iter::Sum;
use std::ops::AddAssign;

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The script's detection threshold (its `--iou` default).
const IOU_THRESHOLD: f64 = 0.5;

/// An axis-aligned rectangle, `x1 <= x2`, `y1 <= y2`: the script reduces every quad to one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x1: f64,
    pub y1: f64,
    pub x2: f64,
    pub y2: f64,
}

/// A text line on the page, ground truth or prediction alike.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub text: String,
    /// `None` when the box is unusable (fewer than 2 points or a non-finite coordinate): such
    /// a prediction still counts as a (false-positive) detection, and reads after the placed lines.
    pub rect: Option<Rect>,
}

impl Line {
    /// A line from its text and corner points (4 for a quad, none for a line without a box).
    /// The text is stripped, as the script strips both ground truth and prediction texts.
    pub fn new(text: &str, points: &[[f64; 2]]) -> Line {
        Line { text: py_strip(text).to_owned(), rect: rect_from_points(points) }
    }
}

/// Decodes a ground-truth file as the script does: UTF-8 without a leading BOM, or Latin-1 if
/// it is not valid UTF-8 (none of the shared files needs that, but the script accepts them).
pub fn decode_text(bytes: &[u8]) -> String {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(body) {
        Ok(text) => text.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

/// Parses a SROIE `<id>.boxes.txt` (`x1,y1,...,y4,TEXT` per line, split on the first 8
/// commas so the text may hold commas). Returns the lines and the number of non-blank lines
/// that could not be parsed (too few fields or a coordinate that is not a number), which the
/// script skips and reports.
pub fn parse_gt_boxes(content: &str) -> (Vec<Line>, usize) {
    let mut lines = Vec::new();
    let mut bad = 0;
    for raw in content.split(is_py_line_break) {
        if py_strip(raw).is_empty() {
            continue;
        }
        let parts: Vec<&str> = raw.splitn(9, ',').collect();
        let coords: Option<Vec<f64>> =
            if parts.len() == 9 { parts[..8].iter().map(|v| py_float(v)).collect() } else { None };
        match coords {
            Some(coords) => {
                let points: Vec<[f64; 2]> = coords.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
                lines.push(Line::new(parts[8], &points));
            }
            None => bad += 1,
        }
    }
    (lines, bad)
}

/// Matched, predicted and ground-truth counts of one P/R/F1 metric. Kept as counts so that
/// images add up before dividing (the script micro-averages).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub tp: usize,
    pub n_pred: usize,
    pub n_gt: usize,
}

impl Counts {
    /// `tp / n_pred`; with no predictions, 1 if there was nothing to find, else 0.
    pub fn precision(&self) -> f64 {
        ratio_or(self.tp, self.n_pred, if self.n_gt == 0 { 1.0 } else { 0.0 })
    }

    /// `tp / n_gt`; with no ground truth, 1 if nothing was predicted, else 0.
    pub fn recall(&self) -> f64 {
        ratio_or(self.tp, self.n_gt, if self.n_pred == 0 { 1.0 } else { 0.0 })
    }

    /// `2 tp / (n_pred + n_gt)`, 1 when both are empty.
    pub fn f1(&self) -> f64 {
        ratio_or(2 * self.tp, self.n_pred + self.n_gt, 1.0)
    }
}

impl AddAssign for Counts {
    fn add_assign(&mut self, other: Counts) {
        self.tp += other.tp;
        self.n_pred += other.n_pred;
        self.n_gt += other.n_gt;
    }
}

/// Edit distance and ground-truth length, in code points, of one CER metric.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Edits {
    pub edits: usize,
    pub gt_chars: usize,
}

impl Edits {
    /// `edits / gt_chars`, 0 without ground-truth text: the script's aggregate rule. (Its
    /// per-image value differs only for an image with no ground-truth text: 1 if anything was
    /// predicted.)
    pub fn cer(&self) -> f64 {
        ratio_or(self.edits, self.gt_chars, 0.0)
    }
}

impl AddAssign for Edits {
    fn add_assign(&mut self, other: Edits) {
        self.edits += other.edits;
        self.gt_chars += other.gt_chars;
    }
}

/// All counts of one image, or of several added up (`+=`, `sum()`): the script's aggregate
/// is the ratios of the summed counts. Field names are the script's JSON keys.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scores {
    /// Greedy one-to-one box matches at IoU >= 0.5.
    pub detection: Counts,
    /// Whitespace-separated words as multisets, case-sensitive.
    pub words_cs: Counts,
    /// The same, case-folded.
    pub words_ci: Counts,
    /// Spacing-independent tokens (NFKC, case-folded, letter/digit runs and single marks).
    pub tokens_norm: Counts,
    /// Edits between the reading-order texts, case-sensitive.
    pub cer_cs: Edits,
    /// The same, case-folded.
    pub cer_ci: Edits,
}

impl Scores {
    /// Scores one image's predicted lines against its ground truth. An image without a
    /// prediction is scored with `pred` empty, as the script does for missing or malformed files.
    pub fn image(gt: &[Line], pred: &[Line]) -> Scores {
        let rects = |lines: &[Line]| lines.iter().map(|l| l.rect).collect::<Vec<_>>();
        let detection = Counts { tp: greedy_match(&rects(gt), &rects(pred)).len(), n_pred: pred.len(), n_gt: gt.len() };
        let words = |lines: &[Line], fold: bool| {
            bag(lines.iter().flat_map(|l| py_words(&l.text)).map(|w| if fold { casefold(w) } else { w.to_owned() }))
        };
        let (gt_text, pred_text) = (reading_order_text(gt), reading_order_text(pred));
        Scores {
            detection,
            words_cs: multiset_counts(&words(gt, false), &words(pred, false)),
            words_ci: multiset_counts(&words(gt, true), &words(pred, true)),
            tokens_norm: multiset_counts(&glyph_tokens(gt), &glyph_tokens(pred)),
            cer_cs: edits(&gt_text, &pred_text),
            cer_ci: edits(&casefold(&gt_text), &casefold(&pred_text)),
        }
    }
}

impl AddAssign for Scores {
    fn add_assign(&mut self, other: Scores) {
        self.detection += other.detection;
        self.words_cs += other.words_cs;
        self.words_ci += other.words_ci;
        self.tokens_norm += other.tokens_norm;
        self.cer_cs += other.cer_cs;
        self.cer_ci += other.cer_ci;
    }
}

impl Sum for Scores {
    fn sum<I: Iterator<Item = Scores>>(iter: I) -> Scores {
        iter.fold(Scores::default(), |mut total, s| {
            total += s;
            total
        })
    }
}

/// How alike two engines read the same image, 0..1: `1 - levenshtein / longer length` over
/// their texts with whitespace collapsed and lines joined by one space, in the given order
/// (1 when both are empty). Needs no ground truth, so it works on unlabelled images.
pub fn agreement(a: &[&str], b: &[&str]) -> f64 {
    let join = |texts: &[&str]| texts.iter().flat_map(|t| py_words(t)).collect::<Vec<_>>().join(" ");
    let (a, b) = (join(a), join(b));
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let longer = a.len().max(b.len());
    if longer == 0 {
        return 1.0;
    }
    1.0 - levenshtein(&a, &b) as f64 / longer as f64
}

fn ratio_or(num: usize, den: usize, empty: f64) -> f64 {
    if den > 0 { num as f64 / den as f64 } else { empty }
}

/// Python's `str.isspace` (used by `split()`, `strip()`, regex `\s`): Unicode White_Space plus
/// the ASCII separators U+001C..U+001F.
fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.splitlines` boundaries (`\r\n` gives an extra empty line, which is skipped).
fn is_py_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\u{b}' | '\u{c}' | '\u{1c}' | '\u{1d}' | '\u{1e}' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// Python's `str.split()`.
fn py_words(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_py_space).filter(|w| !w.is_empty())
}

/// Python's `float(str)` as far as box files need it: surrounding whitespace, `_` between
/// digits, `inf` and `nan` are accepted like Python does; non-ASCII digits, which Python also
/// accepts, are not.
fn py_float(s: &str) -> Option<f64> {
    let s = s.trim_matches(char::is_whitespace);
    let bytes = s.as_bytes();
    let digit_at = |i: Option<usize>| i.and_then(|i| bytes.get(i)).is_some_and(u8::is_ascii_digit);
    let mut plain = String::with_capacity(s.len());
    for (i, c) in s.char_indices() {
        if c != '_' {
            plain.push(c);
        } else if !(digit_at(i.checked_sub(1)) && digit_at(Some(i + 1))) {
            return None;
        }
    }
    plain.parse().ok()
}

/// The script's `rect_from_points`.
fn rect_from_points(points: &[[f64; 2]]) -> Option<Rect> {
    if points.len() < 2 || points.iter().flatten().any(|v| !v.is_finite()) {
        return None;
    }
    let min = |axis: usize| points.iter().map(|p| p[axis]).fold(f64::INFINITY, f64::min);
    let max = |axis: usize| points.iter().map(|p| p[axis]).fold(f64::NEG_INFINITY, f64::max);
    Some(Rect { x1: min(0), y1: min(1), x2: max(0), y2: max(1) })
}

/// The script's `rect_iou`, with its operations in the same order (same rounding).
fn rect_iou(a: &Rect, b: &Rect) -> f64 {
    let iw = a.x2.min(b.x2) - a.x1.max(b.x1);
    let ih = a.y2.min(b.y2) - a.y1.max(b.y1);
    if iw <= 0.0 || ih <= 0.0 {
        return 0.0;
    }
    let inter = iw * ih;
    let union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
    if union > 0.0 { inter / union } else { 0.0 }
}

/// The script's `greedy_match`: highest IoU first, ties by gt index then prediction index
/// (the order decides the match count when boxes overlap several others). Returns
/// `(gt index, prediction index, IoU)`.
fn greedy_match(gt: &[Option<Rect>], pred: &[Option<Rect>]) -> Vec<(usize, usize, f64)> {
    let mut candidates = Vec::new();
    for (gi, g) in gt.iter().enumerate() {
        for (pi, p) in pred.iter().enumerate() {
            if let (Some(g), Some(p)) = (g, p) {
                let iou = rect_iou(g, p);
                if iou >= IOU_THRESHOLD {
                    candidates.push((gi, pi, iou));
                }
            }
        }
    }
    candidates.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
    let (mut used_gt, mut used_pred) = (vec![false; gt.len()], vec![false; pred.len()]);
    let mut matches = Vec::new();
    for (gi, pi, iou) in candidates {
        if !used_gt[gi] && !used_pred[pi] {
            used_gt[gi] = true;
            used_pred[pi] = true;
            matches.push((gi, pi, iou));
        }
    }
    matches
}

fn bag(items: impl Iterator<Item = String>) -> HashMap<String, usize> {
    let mut bag = HashMap::new();
    for item in items {
        *bag.entry(item).or_insert(0) += 1;
    }
    bag
}

/// Multiset intersection size and both sizes (Python's `Counter` `&`).
fn multiset_counts(gt: &HashMap<String, usize>, pred: &HashMap<String, usize>) -> Counts {
    Counts {
        tp: gt.iter().map(|(k, &n)| n.min(pred.get(k).copied().unwrap_or(0))).sum(),
        n_pred: pred.values().sum(),
        n_gt: gt.values().sum(),
    }
}

/// The script's `glyph_token_counts` tokens: all texts joined by spaces, NFKC, case-folded,
/// then regex `[^\W_]+|[^\w\s]|_`, i.e. runs of letters/digits and every other non-space char alone.
fn glyph_tokens(lines: &[Line]) -> HashMap<String, usize> {
    let joined = lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>().join(" ");
    let text = casefold(&joined.nfkc().collect::<String>());
    let mut tokens = Vec::new();
    let mut run = String::new();
    for c in text.chars() {
        if is_word_char(c) {
            run.push(c);
            continue;
        }
        if !run.is_empty() {
            tokens.push(std::mem::take(&mut run));
        }
        if !is_py_space(c) {
            tokens.push(c.to_string());
        }
    }
    if !run.is_empty() {
        tokens.push(run);
    }
    bag(tokens.into_iter())
}

/// Python's regex `\w` without `_`: general categories L and N. Rust's `is_alphanumeric`
/// adds Other_Alphabetic, i.e. many combining marks (Thai, Indic and Arabic vowel signs) and
/// circled or squared Latin letters, which for Python are single non-word marks.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
        && !is_combining_mark(c)
        && !matches!(c, '\u{24b6}'..='\u{24e9}' | '\u{1f130}'..='\u{1f149}' | '\u{1f150}'..='\u{1f169}' | '\u{1f170}'..='\u{1f189}')
}

/// Python's `str.casefold` (full case folding), which Rust lacks. `to_lowercase` alone keeps
/// ß and ligatures (`ﬁ`) that casefold expands, and `str::to_lowercase` writes a final Σ as ς;
/// lower-casing the upper-case form of each char folds them as Python does, except for three
/// cases taken first: ẞ (folds to ss), dotless ı (folds to itself) and Cherokee (folds to its
/// upper-case letters). Same result as Python 3.11 for every code point of Unicode 14.
fn casefold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            'ẞ' => out.push_str("ss"),
            'ı' => out.push(c),
            '\u{13a0}'..='\u{13ff}' | '\u{ab70}'..='\u{abbf}' => out.extend(c.to_uppercase()),
            _ => out.extend(c.to_uppercase().flat_map(char::to_lowercase)),
        }
    }
    out
}

/// The script's `reading_order_text`: placed lines sorted by top edge (then left edge), grouped
/// into rows while a line's vertical centre is inside the row's first line, each row read left
/// to right; lines without a box follow in their order. Whitespace is collapsed and lines are
/// joined by one space, so splitting text into boxes differently costs nothing.
fn reading_order_text(lines: &[Line]) -> String {
    let mut placed: Vec<(&Rect, &str)> =
        lines.iter().filter_map(|l| Some((l.rect.as_ref()?, l.text.as_str()))).collect();
    // Coordinates are finite, so partial_cmp never fails; unlike total_cmp it keeps -0 == 0 as Python does.
    let cmp = |a: f64, b: f64| a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal);
    placed.sort_by(|a, b| cmp(a.0.y1, b.0.y1).then(cmp(a.0.x1, b.0.x1)));
    let mut rows: Vec<Vec<(&Rect, &str)>> = Vec::new();
    for line in placed {
        let centre = (line.0.y1 + line.0.y2) / 2.0;
        match rows.last_mut() {
            Some(row) if row[0].0.y1 <= centre && centre <= row[0].0.y2 => row.push(line),
            _ => rows.push(vec![line]),
        }
    }
    let mut ordered = Vec::with_capacity(lines.len());
    for mut row in rows {
        row.sort_by(|a, b| cmp(a.0.x1, b.0.x1));
        ordered.extend(row.into_iter().map(|(_, text)| text));
    }
    ordered.extend(lines.iter().filter(|l| l.rect.is_none()).map(|l| l.text.as_str()));
    ordered.into_iter().flat_map(py_words).collect::<Vec<_>>().join(" ")
}

/// The script's `cer_counts` on already joined (and, for case-insensitive, case-folded) texts.
fn edits(gt: &str, pred: &str) -> Edits {
    let (gt, pred): (Vec<char>, Vec<char>) = (gt.chars().collect(), pred.chars().collect());
    Edits { edits: levenshtein(&gt, &pred), gt_chars: gt.len() }
}

/// Unit-cost edit distance by Myers' bit-parallel algorithm in Hyyrö's blocked form (64 rows
/// of the DP table per word), O(len(a) * len(b) / 64): about 60k word steps for two
/// 2,000-char receipts. Exactly the textbook DP result, like the script's `levenshtein`.
fn levenshtein(a: &[char], b: &[char]) -> usize {
    let (pattern, text) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    if text.is_empty() {
        return pattern.len();
    }
    let m = pattern.len();
    let blocks = m.div_ceil(64);
    // peq[id * blocks + k]: bits of block k where the pattern holds the char numbered id.
    let mut ids: HashMap<char, usize> = HashMap::new();
    let mut peq: Vec<u64> = Vec::new();
    for (i, c) in pattern.iter().enumerate() {
        let next = ids.len();
        let id = *ids.entry(*c).or_insert(next);
        if id == next {
            peq.resize(peq.len() + blocks, 0);
        }
        peq[id * blocks + i / 64] |= 1 << (i % 64);
    }
    let absent = vec![0u64; blocks];
    let (mut pv, mut mv) = (vec![!0u64; blocks], vec![0u64; blocks]);
    let last_row = 1u64 << ((m - 1) % 64);
    let mut score = m;
    for c in text {
        let eq = ids.get(c).map_or(&absent[..], |&id| &peq[id * blocks..(id + 1) * blocks]);
        // Horizontal delta entering the block from above; row 0 is D[0][j] = j, so +1.
        let mut carry = 1i8;
        for k in 0..blocks {
            let (p, n) = (pv[k], mv[k]);
            let xv = eq[k] | n;
            let e = if carry < 0 { eq[k] | 1 } else { eq[k] };
            let xh = ((e & p).wrapping_add(p) ^ p) | e;
            let mut ph = n | !(xh | p);
            let mut mh = p & xh;
            let high = if k + 1 == blocks { last_row } else { 1 << 63 };
            let out = if ph & high != 0 {
                1
            } else if mh & high != 0 {
                -1
            } else {
                0
            };
            ph <<= 1;
            mh <<= 1;
            match carry {
                1 => ph |= 1,
                -1 => mh |= 1,
                _ => {}
            }
            pv[k] = mh | !(xv | ph);
            mv[k] = ph & xv;
            carry = out;
        }
        match carry {
            1 => score += 1,
            -1 => score -= 1,
            _ => {}
        }
    }
    score
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use super::*;

    fn r(x1: f64, y1: f64, x2: f64, y2: f64) -> Rect {
        Rect { x1, y1, x2, y2 }
    }

    fn boxed(x1: f64, y1: f64, x2: f64, y2: f64, text: &str) -> Line {
        Line { text: text.to_owned(), rect: Some(r(x1, y1, x2, y2)) }
    }

    fn unplaced(text: &str) -> Line {
        Line { text: text.to_owned(), rect: None }
    }

    fn texts(texts: &[&str]) -> Vec<Line> {
        texts.iter().map(|t| unplaced(t)).collect()
    }

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    fn lev(a: &str, b: &str) -> usize {
        levenshtein(&chars(a), &chars(b))
    }

    /// The script's `levenshtein_reference`: the plain DP.
    fn lev_reference(a: &[char], b: &[char]) -> usize {
        let mut prev: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.iter().enumerate() {
            let mut cur = vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                cur.push((prev[j + 1] + 1).min(cur[j] + 1).min(prev[j] + usize::from(ca != cb)));
            }
            prev = cur;
        }
        prev[b.len()]
    }

    /// xorshift64: deterministic strings without a dependency.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }

        fn string(&mut self, alphabet: &[char], max_len: usize) -> Vec<char> {
            (0..self.below(max_len + 1)).map(|_| alphabet[self.below(alphabet.len())]).collect()
        }
    }

    #[test]
    fn iou_and_rects() {
        assert_eq!(rect_iou(&r(0., 0., 10., 10.), &r(0., 0., 10., 10.)), 1.0);
        assert_eq!(rect_iou(&r(0., 0., 10., 10.), &r(5., 0., 15., 10.)), 50.0 / 150.0);
        assert_eq!(rect_iou(&r(0., 0., 10., 10.), &r(10., 0., 20., 10.)), 0.0); // touching edges
        assert_eq!(rect_from_points(&[[2., 1.], [9., 3.], [8., 7.], [1., 5.]]), Some(r(1., 1., 9., 7.)));
        assert_eq!(rect_from_points(&[[1., 2.]]), None);
        assert_eq!(rect_from_points(&[]), None);
        assert_eq!(rect_from_points(&[[1., 2.], [f64::INFINITY, 3.]]), None);
        assert_eq!(Line::new(" \tTOTAL \u{1f}", &[]), unplaced("TOTAL"));
    }

    #[test]
    fn greedy_matching_and_detection() {
        let gt = [r(0., 0., 10., 10.), r(0., 20., 10., 30.)];
        let preds = [r(0., 0., 10., 9.), r(0., 0., 10., 10.), r(0., 21., 10., 30.), r(50., 50., 60., 60.)];
        assert_eq!(greedy_match(&gt.map(Some), &preds.map(Some)), vec![(0, 1, 1.0), (1, 2, 0.9)]);
        let lines = |rects: &[Rect]| rects.iter().map(|&rect| Line { text: String::new(), rect: Some(rect) }).collect();
        let gt_lines: Vec<Line> = lines(&gt);
        let d = Scores::image(&gt_lines, &lines(&preds)).detection;
        assert_eq!((d.tp, d.precision(), d.recall(), d.f1()), (2, 2.0 / 4.0, 1.0, 4.0 / 6.0));
        let tp = |pred: Line| Scores::image(&gt_lines[..1], &[pred]).detection.tp;
        assert_eq!(tp(boxed(0., 0., 10., 4., "")), 0); // IoU 0.4
        assert_eq!(tp(boxed(0., 0., 10., 5., "")), 1); // IoU 0.5
        assert_eq!(Scores::image(&gt_lines[..1], &[unplaced("x")]).detection.n_pred, 1); // no box: a false positive
    }

    #[test]
    fn words_and_glyph_tokens() {
        let (gt, pred) = (texts(&["TOTAL 9.00", "CASH  10.00"]), texts(&["total 9.00", "CASH", "10.00", "10.00"]));
        let s = Scores::image(&gt, &pred);
        let (cs, ci) = (s.words_cs, s.words_ci);
        assert_eq!((cs.tp, cs.precision(), cs.recall(), cs.f1()), (3, 3.0 / 5.0, 3.0 / 4.0, 6.0 / 9.0));
        assert_eq!((ci.tp, ci.precision(), ci.recall(), ci.f1()), (4, 4.0 / 5.0, 1.0, 8.0 / 9.0));
        assert_eq!(Scores::image(&[], &[]).words_cs.f1(), 1.0);
        assert_eq!(Scores::image(&texts(&["A"]), &[]).words_cs.f1(), 0.0);

        let tokens = |gt: &str, pred: &str| Scores::image(&texts(&[gt]), &texts(&[pred])).tokens_norm;
        assert_eq!(tokens("(CO. REG : 860671-D)", "（co.reg:860671-d）"), Counts { tp: 9, n_pred: 9, n_gt: 9 });
        // total/9/./00 against total9/./00
        assert_eq!(tokens("TOTAL 9.00", "TOTAL9.00"), Counts { tp: 2, n_pred: 3, n_gt: 4 });
        // `_` and a Thai vowel sign (a combining mark, Alphabetic for Rust) stand alone, as for Python.
        assert_eq!(tokens("A_B", "a _ b"), Counts { tp: 3, n_pred: 3, n_gt: 3 });
        assert_eq!(tokens("\u{e01}\u{e31}\u{e19}", "\u{e01} \u{e31} \u{e19}"), Counts { tp: 3, n_pred: 3, n_gt: 3 });
        assert_eq!(tokens("STRASSE", "Straße"), Counts { tp: 1, n_pred: 1, n_gt: 1 });
    }

    #[test]
    fn casefold_like_python() {
        assert_eq!(casefold("Straße ẞ ﬁLE"), "strasse ss file");
        assert_eq!(casefold("ΣΟΦΟΣ ς µ"), "σοφοσ σ μ");
        assert_eq!(casefold("İı"), "i\u{307}ı");
        assert_eq!(casefold("\u{13a0}\u{ab70}\u{13f8}"), "\u{13a0}\u{13a0}\u{13f0}");
        assert_eq!(casefold("ᾳ ǅ K"), "αι ǆ k");
    }

    #[test]
    fn levenshtein_matches_plain_dp() {
        for (a, b, expected) in [
            ("kitten", "sitting", 3),
            ("", "abc", 3),
            ("abc", "", 3),
            ("flaw", "lawn", 2),
            ("same", "same", 0),
            ("ab", "ba", 2),
        ] {
            assert_eq!(lev(a, b), expected, "{a} / {b}");
            assert_eq!(lev_reference(&chars(a), &chars(b)), expected);
        }
        let mut rng = Rng(1234);
        let alphabet = chars("AB C1");
        for _ in 0..300 {
            let (a, b) = (rng.string(&alphabet, 150), rng.string(&alphabet, 150));
            assert_eq!(levenshtein(&a, &b), lev_reference(&a, &b));
        }
        // Many blocks, carries across them, chars absent from the pattern, receipt-sized texts.
        let alphabet = chars("ABCDEFGHIJ 0123456789.,:-ßé");
        for max_len in [200, 700, 2100] {
            let a = rng.string(&alphabet, max_len);
            let mut b = a.clone();
            for _ in 0..rng.below(max_len / 4 + 1) {
                let at = rng.below(b.len() + 1);
                match rng.below(3) {
                    0 => b.insert(at, alphabet[rng.below(alphabet.len())]),
                    1 if at < b.len() => b[at] = 'x',
                    _ if at < b.len() => drop(b.remove(at)),
                    _ => {}
                }
            }
            assert_eq!(levenshtein(&a, &b), lev_reference(&a, &b), "length {max_len}");
            assert_eq!(levenshtein(&b, &a), lev_reference(&a, &b));
        }
    }

    #[test]
    fn reading_order_and_cer() {
        let lines = vec![
            boxed(100., 2., 150., 12., "9.00"),
            boxed(0., 0., 50., 10., "TOTAL"),
            boxed(0., 30., 50., 40., "CASH"),
            boxed(60., 31., 90., 41., "10.00  X"),
        ];
        assert_eq!(reading_order_text(&lines), "TOTAL 9.00 CASH 10.00 X");
        let mut with_tail = lines.clone();
        with_tail.push(unplaced("tail"));
        assert!(reading_order_text(&with_tail).ends_with("X tail"));

        let gt = [boxed(0., 0., 100., 10., "TOTAL 9.00")];
        let cer_cs = |pred: &[Line]| Scores::image(&gt, pred).cer_cs.cer();
        assert_eq!(cer_cs(&[boxed(0., 0., 100., 10., "TOTAL 9.0O")]), 1.0 / 10.0);
        assert_eq!(cer_cs(&[boxed(0., 0., 40., 10., "TOTAL"), boxed(50., 0., 100., 10., "9.00")]), 0.0);
        assert_eq!(Scores::image(&gt, &[boxed(0., 0., 100., 10., "total 9.00")]).cer_ci.cer(), 0.0);
        assert_eq!(cer_cs(&[]), 1.0);
        // Case folding changes lengths: the ground truth is counted after folding.
        assert_eq!(Scores::image(&texts(&["STRAẞE"]), &texts(&["strasse"])).cer_ci, Edits { edits: 0, gt_chars: 7 });
    }

    #[test]
    fn gt_box_file_quirks() {
        let content = "0,0,100,0,100,10,0,10,TOTAL 9.00\r\n\n   \n0,20,100,20,100,30,0,30, CASH, 10.00 \r\
                       1,2,3,4,5,6,7,8\n1,2,3,4,5,6,7,x8,A\u{c} 1_0 , 2 ,3,4,5,6,7,8,B\n1,2,nan,4,5,6,7,8,C\n1__0,2,3,4,5,6,7,8,D";
        let (lines, bad) = parse_gt_boxes(content);
        assert_eq!(bad, 3);
        assert_eq!(
            lines,
            vec![
                boxed(0., 0., 100., 10., "TOTAL 9.00"),
                boxed(0., 20., 100., 30., "CASH, 10.00"),
                boxed(3., 2., 10., 8., "B"),
                unplaced("C"),
            ]
        );
        assert_eq!(py_float("+1e2"), Some(100.0));
        assert_eq!(py_float(" .5\u{a0}"), Some(0.5));
        assert!(py_float("-Infinity").is_some_and(|v| v == f64::NEG_INFINITY));
        assert_eq!(py_float("1_"), None);
        assert_eq!(py_float("1 0"), None);
        assert_eq!(decode_text(b"\xEF\xBB\xBFA,\xC3\xA9"), "A,é");
        assert_eq!(decode_text(b"A,\xE9"), "A,é"); // not UTF-8: Latin-1
    }

    #[test]
    fn totals_are_micro_averaged() {
        // The script's end-to-end self-test: one perfect prediction, a malformed and a missing one.
        let (gt, bad) = parse_gt_boxes("0,0,100,0,100,10,0,10,TOTAL 9.00\n0,20,100,20,100,30,0,30,CASH, 10.00\n");
        assert_eq!(bad, 0);
        let perfect = [
            Line::new("TOTAL 9.00", &[[0., 0.], [100., 0.], [100., 10.], [0., 10.]]),
            Line::new("CASH, 10.00", &[[0., 20.], [100., 20.], [100., 30.], [0., 30.]]),
        ];
        let total: Scores = [&perfect[..], &[], &[]].iter().map(|pred| Scores::image(&gt, pred)).sum();
        assert_eq!(total.detection, Counts { tp: 2, n_pred: 2, n_gt: 6 });
        assert_eq!((total.words_cs.recall(), total.words_cs.precision()), (4.0 / 12.0, 1.0));
        assert_eq!(total.cer_cs.cer(), 2.0 / 3.0); // 22 + 22 edits over 3 x 22 chars
        assert_eq!(Edits::default().cer(), 0.0);
    }

    #[test]
    fn agreement_between_engines() {
        assert_eq!(agreement(&[], &[]), 1.0);
        assert_eq!(agreement(&["", " "], &[]), 1.0);
        assert_eq!(agreement(&["TOTAL  9.00"], &["TOTAL", "", "9.00 "]), 1.0);
        assert_eq!(agreement(&["abcd"], &["abce"]), 0.75);
        assert_eq!(agreement(&["ab"], &[]), 0.0);
        assert_eq!(agreement(&["ab", "cd"], &["abcd"]), 1.0 - 1.0 / 5.0);
    }

    /// The shared evaluation folder: `SHARED_EVAL_DIR`, else `shared/eval` next to the repository.
    fn shared_eval_dir() -> PathBuf {
        std::env::var_os("SHARED_EVAL_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eval"))
    }

    /// Ground truth made worse in every way the metrics see: dropped lines, wrong and
    /// re-cased characters, merged words, shifted boxes (some beyond IoU 0.5), extra lines.
    fn perturb(lines: &[Line]) -> Vec<(String, Option<[[f64; 2]; 4]>)> {
        let mut out = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if i % 7 == 6 {
                continue;
            }
            let mut text = chars(&line.text);
            if i % 5 == 0 && !text.is_empty() {
                let k = text.len() / 2;
                text[k] = match text[k] {
                    'O' => '0',
                    '0' => 'O',
                    'I' => '1',
                    _ => 'x',
                };
            }
            let mut text: String = text.into_iter().collect();
            if i % 4 == 1 {
                text = text.to_lowercase();
            }
            if i % 6 == 2 {
                text = text.replacen(' ', "", 1);
            }
            if i % 10 == 9 {
                text.push_str(" Straße ＴＯＴＡＬ");
            }
            let bbox = line.rect.map(|r| {
                let dx = (i % 3) as f64 * 1.5;
                let dy = (i % 4) as f64 - 1.5 + if i % 9 == 4 { r.y2 - r.y1 } else { 0.0 };
                [[r.x1 + dx, r.y1 + dy], [r.x2 + dx, r.y1 + dy], [r.x2 + dx, r.y2 + dy], [r.x1 + dx, r.y2 + dy]]
            });
            out.push((text, bbox));
        }
        out.push(("ﬁnal \"quoted\" back\\slash".to_owned(), None));
        out.push((" ".to_owned(), Some([[5000., 5000.], [5010., 5000.], [5010., 5010.], [5000., 5010.]])));
        out
    }

    fn json_string(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                c if c < ' ' => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out + "\""
    }

    fn prediction_json(lines: &[(String, Option<[[f64; 2]; 4]>)]) -> String {
        let lines: Vec<String> = lines
            .iter()
            .map(|(text, bbox)| {
                let bbox = match bbox {
                    Some(q) => format!("[{}]", q.map(|[x, y]| format!("[{x}, {y}]")).join(", ")),
                    None => "null".to_owned(),
                };
                format!("{{\"text\": {}, \"confidence\": 0.9, \"bbox\": {bbox}}}", json_string(text))
            })
            .collect();
        format!("{{\"lines\": [{}]}}", lines.join(",\n"))
    }

    /// Scores perturbed ground truth of 5 DEV receipts here and with `ocr_eval.py`: the
    /// aggregate counts must be equal and the ratios equal to 1e-9.
    #[test]
    fn same_aggregate_as_the_python_scorer() {
        let eval = shared_eval_dir();
        if !eval.join("ocr_eval.py").is_file() {
            eprintln!("skipped: no ocr_eval.py in {} (set SHARED_EVAL_DIR to shared/eval)", eval.display());
            return;
        }
        let tmp = std::env::temp_dir().join(format!("score-vs-python-{}", std::process::id()));
        let (data, preds) = (tmp.join("data"), tmp.join("preds"));
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&preds).unwrap();

        let mut ids: Vec<String> = std::fs::read_dir(eval.join("sroie-dev"))
            .unwrap()
            .filter_map(|e| e.unwrap().file_name().to_str()?.strip_suffix(".boxes.txt").map(str::to_owned))
            .collect();
        ids.sort();
        let mut total = Scores::default();
        for (n, id) in ids.iter().take(5).enumerate() {
            let boxes = std::fs::read(eval.join("sroie-dev").join(format!("{id}.boxes.txt"))).unwrap();
            std::fs::write(data.join(format!("{id}.boxes.txt")), &boxes).unwrap();
            let (gt, _) = parse_gt_boxes(&decode_text(&boxes));
            let mut pred = perturb(&gt);
            if n % 2 == 1 {
                pred.reverse(); // reading order must not depend on the response's order
            }
            std::fs::write(preds.join(format!("{id}.json")), prediction_json(&pred)).unwrap();
            let pred: Vec<Line> =
                pred.iter().map(|(text, bbox)| Line::new(text, bbox.as_ref().map_or(&[], |q| &q[..]))).collect();
            total += Scores::image(&gt, &pred);
        }

        let out = tmp.join("out.json");
        let run = |args: &[&std::ffi::OsStr]| {
            let output = Command::new("python3").args(args).output().expect("running python3");
            assert!(output.status.success(), "python3 failed: {}", String::from_utf8_lossy(&output.stderr));
            String::from_utf8(output.stdout).unwrap()
        };
        run(&[
            eval.join("ocr_eval.py").as_os_str(),
            data.as_os_str(),
            preds.as_os_str(),
            "--json".as_ref(),
            out.as_os_str(),
        ]);
        let summary = "import json, sys\n\
                       r = json.load(open(sys.argv[1]))\n\
                       a = r['aggregate']\n\
                       print('n_images', r['n_images'], len(r['missing_predictions']), len(r['malformed_predictions']))\n\
                       for k in ('detection', 'words_cs', 'words_ci', 'tokens_norm'):\n\
                       \x20   print(k, a[k]['tp'], a[k]['n_pred'], a[k]['n_gt'], a[k]['precision'], a[k]['recall'], a[k]['f1'])\n\
                       for k in ('cer_cs', 'cer_ci'):\n\
                       \x20   print(k, a[k]['edits'], a[k]['gt_chars'], a[k]['cer'])\n";
        let python = run(&["-c".as_ref(), summary.as_ref(), out.as_os_str()]);

        let prf = |c: Counts| vec![c.tp as f64, c.n_pred as f64, c.n_gt as f64, c.precision(), c.recall(), c.f1()];
        let cer = |e: Edits| vec![e.edits as f64, e.gt_chars as f64, e.cer()];
        let ours: HashMap<&str, Vec<f64>> = HashMap::from([
            ("n_images", vec![5.0, 0.0, 0.0]),
            ("detection", prf(total.detection)),
            ("words_cs", prf(total.words_cs)),
            ("words_ci", prf(total.words_ci)),
            ("tokens_norm", prf(total.tokens_norm)),
            ("cer_cs", cer(total.cer_cs)),
            ("cer_ci", cer(total.cer_ci)),
        ]);
        assert_eq!(python.lines().count(), ours.len(), "python printed:\n{python}");
        for line in python.lines() {
            let mut fields = line.split(' ');
            let name = fields.next().unwrap();
            let theirs: Vec<f64> = fields.map(|v| v.parse().unwrap()).collect();
            eprintln!("{name:12} python {theirs:?}\n{:12} rust   {:?}", "", ours[name]);
            assert_eq!(theirs.len(), ours[name].len(), "{name}");
            for (t, o) in theirs.iter().zip(&ours[name]) {
                assert!((t - o).abs() <= 1e-9, "{name}: python {theirs:?}, rust {:?}", ours[name]);
            }
        }
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
