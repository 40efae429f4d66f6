//! Geometry and text helpers shared by the field rules.
//!
//! [`Page`] is built once per receipt: every input line becomes an [`Item`]
//! (text folded to ASCII where it is a Latin letter with a diacritic or a
//! look-alike mark, upper-cased copy, axis-aligned box), and items whose
//! vertical centres fall inside each other's extent are grouped into [`Row`]s,
//! left to right. OCR engines often cut one printed line into several boxes
//! ("TOTAL" ... "9.00"); rows put them back together.

use crate::Line;

/// One input line, prepared for the rules.
#[derive(Debug, Clone)]
pub(crate) struct Item {
    /// Text with diacritics and look-alike marks folded to ASCII, trimmed,
    /// inner whitespace collapsed.
    pub text: String,
    /// `text` upper-cased (ASCII), for keyword tests.
    pub upper: String,
    pub x0: f32,
    pub x1: f32,
    pub y0: f32,
    pub y1: f32,
    pub conf: f32,
    /// Index of the row this item belongs to.
    pub row: usize,
}

impl Item {
    pub fn height(&self) -> f32 {
        (self.y1 - self.y0).max(1.0)
    }
    pub fn yc(&self) -> f32 {
        (self.y0 + self.y1) * 0.5
    }
}

/// Items on one visual row, left to right.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    /// Item indexes (= input line indexes), sorted by x.
    pub items: Vec<usize>,
    /// Item texts joined with single spaces.
    pub text: String,
    /// `text` upper-cased.
    pub upper: String,
    pub y0: f32,
    pub y1: f32,
}

impl Row {
    pub fn height(&self) -> f32 {
        (self.y1 - self.y0).max(1.0)
    }
}

/// A receipt: its items, rows (top to bottom) and a few page statistics.
#[derive(Debug, Clone)]
pub(crate) struct Page {
    pub items: Vec<Item>,
    pub rows: Vec<Row>,
    /// Median item height (pixels), the unit for "near" and "gap".
    pub line_h: f32,
}

impl Page {
    pub fn new(lines: &[Line]) -> Page {
        let reading = reading_frame(lines);
        let mut items: Vec<Item> = lines
            .iter()
            .map(|l| {
                let text = fold_text(l.text);
                let upper = text.to_ascii_uppercase();
                let (mut x0, mut x1, mut y0, mut y1) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
                for p in l.bbox.map(&reading) {
                    if p[0].is_finite() && p[1].is_finite() {
                        x0 = x0.min(p[0]);
                        x1 = x1.max(p[0]);
                        y0 = y0.min(p[1]);
                        y1 = y1.max(p[1]);
                    }
                }
                if x0 > x1 {
                    (x0, x1, y0, y1) = (0.0, 0.0, 0.0, 0.0);
                }
                let conf = if l.confidence.is_finite() { l.confidence.clamp(0.0, 1.0) } else { 0.0 };
                Item { text, upper, x0, x1, y0, y1, conf, row: 0 }
            })
            .collect();

        let mut heights: Vec<f32> = items.iter().filter(|i| !i.text.is_empty()).map(Item::height).collect();
        heights.sort_by(f32::total_cmp);
        let line_h = heights.get(heights.len() / 2).copied().unwrap_or(20.0).max(1.0);

        // Group into rows: sort by top edge; an item joins the current row when
        // its vertical centre lies inside the row's first item and it does not
        // overlap a row member horizontally.
        let mut order: Vec<usize> = (0..items.len()).filter(|&i| !items[i].text.is_empty()).collect();
        order.sort_by(|&a, &b| items[a].y0.total_cmp(&items[b].y0).then(items[a].x0.total_cmp(&items[b].x0)));
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for &i in &order {
            let it = &items[i];
            let joined = groups.iter_mut().rev().take(3).find(|g| {
                let first = &items[g[0]];
                let inside = it.yc() >= first.y0 && it.yc() <= first.y1 && first.yc() >= it.y0 && first.yc() <= it.y1;
                let overlaps = g.iter().any(|&j| {
                    let o = items[j].x1.min(it.x1) - items[j].x0.max(it.x0);
                    o > 0.3 * (it.x1 - it.x0).min(items[j].x1 - items[j].x0)
                });
                inside && !overlaps
            });
            match joined {
                Some(g) => g.push(i),
                None => groups.push(vec![i]),
            }
        }
        let mut rows: Vec<Row> = groups
            .into_iter()
            .map(|mut g| {
                g.sort_by(|&a, &b| items[a].x0.total_cmp(&items[b].x0));
                let text = g.iter().map(|&i| items[i].text.as_str()).collect::<Vec<_>>().join(" ");
                let upper = text.to_ascii_uppercase();
                let y0 = g.iter().map(|&i| items[i].y0).fold(f32::MAX, f32::min);
                let y1 = g.iter().map(|&i| items[i].y1).fold(f32::MIN, f32::max);
                Row { items: g, text, upper, y0, y1 }
            })
            .collect();
        rows.sort_by(|a, b| (a.y0 + a.y1).total_cmp(&(b.y0 + b.y1)));
        for (r, row) in rows.iter().enumerate() {
            for &i in &row.items {
                items[i].row = r;
            }
        }
        Page { items, rows, line_h }
    }

    /// Mean OCR confidence of the given items (1.0 for none).
    pub fn conf_of(&self, idx: &[usize]) -> f32 {
        if idx.is_empty() {
            return 1.0;
        }
        idx.iter().map(|&i| self.items[i].conf).sum::<f32>() / idx.len() as f32
    }

    /// Vertical gap between two rows (top of `b` minus bottom of `a`).
    pub fn gap(&self, a: usize, b: usize) -> f32 {
        self.rows[b].y0 - self.rows[a].y1
    }
}

/// Folds a text to the ASCII a Malaysian receipt prints: Latin letters with
/// diacritics lose them (OCR often reads "A" as "Ä"), full-width forms and a
/// few look-alike marks become their ASCII twins; anything else is kept.
/// Whitespace is collapsed and the result trimmed.
pub(crate) fn fold_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        if ('\u{FF01}'..='\u{FF5E}').contains(&c) {
            // Full-width forms of ASCII.
            out.push(char::from_u32(c as u32 - 0xFEE0).unwrap_or(c));
            continue;
        }
        match fold_char(c) {
            Some(f) => out.push_str(f),
            None => out.push(c),
        }
    }
    out
}

fn fold_char(c: char) -> Option<&'static str> {
    if c.is_ascii() {
        return None;
    }
    Some(match c {
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ā' | 'Ă' | 'Ą' => "A",
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'Ç' | 'Ć' | 'Ĉ' | 'Ċ' | 'Č' => "C",
        'ç' | 'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'Ď' | 'Đ' => "D",
        'ď' | 'đ' => "d",
        'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ĕ' | 'Ė' | 'Ę' | 'Ě' => "E",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'Ĝ' | 'Ğ' | 'Ġ' | 'Ģ' => "G",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' => "g",
        'Ì' | 'Í' | 'Î' | 'Ï' | 'Ĩ' | 'Ī' | 'Ĭ' | 'Į' | 'İ' => "I",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'Ñ' | 'Ń' | 'Ņ' | 'Ň' => "N",
        'ñ' | 'ń' | 'ņ' | 'ň' => "n",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ō' | 'Ŏ' | 'Ő' => "O",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'Ŕ' | 'Ř' => "R",
        'ŕ' | 'ř' => "r",
        'Ś' | 'Ŝ' | 'Ş' | 'Š' => "S",
        'ś' | 'ŝ' | 'ş' | 'š' => "s",
        'Ţ' | 'Ť' => "T",
        'ţ' | 'ť' => "t",
        'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ũ' | 'Ū' | 'Ŭ' | 'Ů' | 'Ű' | 'Ų' => "U",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'Ý' | 'Ÿ' => "Y",
        'ý' | 'ÿ' => "y",
        'Ź' | 'Ż' | 'Ž' => "Z",
        'ź' | 'ż' | 'ž' => "z",
        '×' => "X",
        '·' | '•' | '。' => ".",
        '‐' | '‑' | '‒' | '–' | '—' | '−' | 'ー' => "-",
        '‘' | '’' | '`' | '´' => "'",
        '“' | '”' => "\"",
        '、' => ",",
        _ => return None,
    })
}

/// True when `hay` (upper-case) contains `word` as a whole word: the
/// characters around it are not ASCII letters or digits.
pub(crate) fn has_word(hay: &str, word: &str) -> bool {
    let hb = hay.as_bytes();
    let mut start = 0;
    while let Some(p) = hay[start..].find(word) {
        let a = start + p;
        let b = a + word.len();
        let before_ok = a == 0 || !hb[a - 1].is_ascii_alphanumeric();
        let after_ok = b >= hb.len() || !hb[b].is_ascii_alphanumeric();
        if before_ok && after_ok {
            return true;
        }
        start = a + 1;
        while !hay.is_char_boundary(start) {
            start += 1;
        }
    }
    false
}

/// True when `hay` contains any of `words` as a whole word.
pub(crate) fn has_any_word(hay: &str, words: &[&str]) -> bool {
    words.iter().any(|w| has_word(hay, w))
}

/// Coordinates in which the text reads left to right, top to bottom.
///
/// A box's first two corners run along its text (a page the OCR turned
/// upright keeps its boxes on the image as uploaded, corners in reading
/// order), so the direction most of the text runs in, to the nearest
/// quarter turn, tells how the page lies. Upright pages keep their
/// coordinates; turned ones are turned back (the offset is immaterial: the
/// rules compare positions).
fn reading_frame(lines: &[Line]) -> impl Fn([f32; 2]) -> [f32; 2] + use<> {
    // Length of text running right, down, left and up.
    let mut runs = [0.0f32; 4];
    for l in lines {
        let [dx, dy] = [l.bbox[1][0] - l.bbox[0][0], l.bbox[1][1] - l.bbox[0][1]];
        if dx.is_finite() && dy.is_finite() {
            let quarter = if dx.abs() >= dy.abs() {
                if dx >= 0.0 { 0 } else { 2 }
            } else if dy > 0.0 {
                1
            } else {
                3
            };
            runs[quarter] += dx.hypot(dy);
        }
    }
    let most = (0..4).fold(0, |best, q| if runs[q] > runs[best] { q } else { best });
    // Unit vector of the reading direction; (x, y) → (along it, across it).
    let [ux, uy] = [[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.0, -1.0]][most];
    move |[x, y]: [f32; 2]| [x * ux + y * uy, y * ux - x * uy]
}

/// Number of ASCII letters in `s`.
pub(crate) fn letters(s: &str) -> usize {
    s.bytes().filter(u8::is_ascii_alphabetic).count()
}

/// Number of ASCII digits in `s`.
pub(crate) fn digits(s: &str) -> usize {
    s.bytes().filter(u8::is_ascii_digit).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str, x0: f32, y0: f32, x1: f32, y1: f32) -> Line<'_> {
        Line { text, confidence: 0.9, bbox: [[x0, y0], [x1, y0], [x1, y1], [x0, y1]] }
    }

    #[test]
    fn folds_diacritics_and_fullwidth() {
        assert_eq!(fold_text("  KÜALA   Lümpur "), "KUALA Lumpur");
        assert_eq!(fold_text("（CO.REG：1）"), "(CO.REG:1)");
        assert_eq!(fold_text("2 × 3.00 — 一"), "2 X 3.00 - 一");
    }

    #[test]
    fn groups_split_boxes_into_rows() {
        let lines = [
            line("TOTAL", 10.0, 100.0, 60.0, 120.0),
            line("CASH", 10.0, 130.0, 55.0, 150.0),
            line("9.00", 200.0, 102.0, 240.0, 122.0),
        ];
        let page = Page::new(&lines);
        assert_eq!(page.rows.len(), 2);
        assert_eq!(page.rows[0].text, "TOTAL 9.00");
        assert_eq!(page.rows[0].items, vec![0, 2]);
        assert_eq!(page.items[1].row, 1);
    }

    #[test]
    fn pages_turned_by_a_quarter_or_half_group_as_upright() {
        // Corners in reading order, as the OCR gives them for a turned page.
        let turn = |l: Line<'static>, q: u32| {
            let bbox = l.bbox.map(|[x, y]| match q {
                1 => [1000.0 - y, x],
                2 => [1000.0 - x, 1000.0 - y],
                3 => [y, 1000.0 - x],
                _ => [x, y],
            });
            Line { bbox, ..l }
        };
        let lines = [
            line("TOTAL", 10.0, 100.0, 60.0, 120.0),
            line("CASH", 10.0, 130.0, 55.0, 150.0),
            line("9.00", 200.0, 102.0, 240.0, 122.0),
        ];
        let upright = Page::new(&lines);
        for q in 1..4 {
            let page = Page::new(&lines.map(|l| turn(l, q)));
            let rows = |p: &Page| p.rows.iter().map(|r| r.text.clone()).collect::<Vec<_>>();
            assert_eq!(rows(&page), rows(&upright), "turned {} degrees", q * 90);
            assert_eq!(page.line_h, upright.line_h);
        }
    }

    #[test]
    fn whole_words() {
        assert!(has_word("SUB TOTAL", "TOTAL"));
        assert!(!has_word("SUBTOTAL", "TOTAL"));
        assert!(has_word("TOTAL:", "TOTAL"));
        assert!(!has_word("TOTALS", "TOTAL"));
    }
}
