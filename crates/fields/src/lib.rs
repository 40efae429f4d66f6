//! Receipt fields from OCR lines and their geometry: company, address, date
//! and total (the four fields SROIE's key-information task scores), plus the
//! date in ISO form, the total as a plain decimal, the currency and the tax.
//!
//! No OCR and no I/O here: the input is the OCR's lines ([`Line`]: text,
//! confidence, box), the output a [`Fields`] value from [`extract`]. A rule
//! system over lines and their geometry, no model; well under a millisecond
//! per receipt. With [`extract_with`] and a [`Merchants`] directory (the
//! shops a business buys from), a known shop's company and address are
//! given as the directory writes them. Nothing is logged (receipts carry
//! personal data).
//!
//! ```
//! use hub_fields::{Line, extract};
//! let bbox = |y: f32| [[10.0, y], [300.0, y], [300.0, y + 20.0], [10.0, y + 20.0]];
//! let lines = [
//!     Line { text: "KEDAI MAJU SDN BHD", confidence: 0.98, bbox: bbox(0.0) },
//!     Line { text: "12, JALAN MAJU, 50000 KUALA LUMPUR", confidence: 0.95, bbox: bbox(25.0) },
//!     Line { text: "TEL: 03-1234 5678", confidence: 0.97, bbox: bbox(50.0) },
//!     Line { text: "DATE: 05/03/2018 10:12", confidence: 0.96, bbox: bbox(75.0) },
//!     Line { text: "TOTAL GST 6%: 0.71", confidence: 0.93, bbox: bbox(100.0) },
//!     Line { text: "TOTAL RM 12.50", confidence: 0.99, bbox: bbox(125.0) },
//! ];
//! let f = extract(&lines);
//! assert_eq!(f.company.as_deref(), Some("KEDAI MAJU SDN BHD"));
//! assert_eq!(f.date_iso.as_deref(), Some("2018-03-05"));
//! assert_eq!(f.total_amount.as_deref(), Some("12.50"));
//! assert_eq!(f.tax.as_deref(), Some("0.71"));
//! assert_eq!(f.currency.as_deref(), Some("MYR"));
//! assert_eq!(f.sources.total.unwrap().lines, vec![5]);
//! ```
//!
//! # JSON shape
//!
//! [`Fields`] serialises (serde) to one flat object. `company`, `address`,
//! `date` and `total` are plain strings or `null`, so the object can be the
//! `fields` of a prediction file for `ocr_eval.py` as it is; the extra keys
//! are ignored by the scorer. Where each value came from is in `sources`, one
//! entry per field that was found (`total_amount` shares `total`'s entry):
//!
//! ```json
//! {"company": "KEDAI MAJU SDN BHD",
//!  "address": "12, JALAN MAJU, 50000 KUALA LUMPUR",
//!  "date": "05/03/2018",
//!  "total": "12.50",
//!  "date_iso": "2018-03-05",
//!  "total_amount": "12.50",
//!  "currency": "MYR",
//!  "tax": "0.71",
//!  "sources": {"company":  {"confidence": 0.88, "lines": [0]},
//!              "address":  {"confidence": 0.76, "lines": [1]},
//!              "date":     {"confidence": 0.91, "lines": [3]},
//!              "date_iso": {"confidence": 0.68, "lines": [3]},
//!              "total":    {"confidence": 0.76, "lines": [5]},
//!              "currency": {"confidence": 0.95, "lines": [5]},
//!              "tax":      {"confidence": 0.79, "lines": [4]}}}
//! ```
//!
//! `lines` are indexes into the input slice (label and value boxes both, for
//! highlighting); `confidence` (0..1, two decimals) is the strength of the rule
//! that fired times the OCR confidence of those lines. A value taken from a
//! [`Merchants`] entry says `"from_directory": true`, its confidence is how
//! closely the lines read like the entry; the entry's `id`, when it has one,
//! is `merchant_id` (a key present only then). `date_iso`'s confidence
//! is lower when the day/month order came from the convention rather than
//! from the receipt.
//!
//! # Conventions (SROIE's ground truth)
//!
//! * `company`: the name as printed, without the registration number and
//!   what follows it (`99 SPEED MART S/B (519537-X)` -> `99 SPEED MART S/B`),
//!   bracketed words kept (`GARDENIA BAKERIES (KL) SDN BHD`), a name printed
//!   on two rows joined with a space.
//! * `address`: its rows joined with single spaces, commas as printed; a
//!   full stop between two parts is read as a comma the OCR clipped.
//! * `date`: the date token as printed (`25/12/2018`, `12-01-19`, `03 MAR 2018`).
//! * `total`: the amount to pay as printed, with a currency prefix only when
//!   it is glued to the number (`9.00`, `RM9.00`, `$8.20`; `RM 9.00` gives
//!   `9.00`): SROIE's labels mostly drop a spaced `RM` and keep a glued one.
//! * Latin letters with diacritics that the OCR invents (`KÜALA`) are folded
//!   to ASCII; the case is the OCR's (the scorer case-folds). Address words
//!   and the trade words of names with a look-alike slip are repaired against
//!   a generic vocabulary (`Jaian` -> `Jalan`, `PHARHACY` -> `PHARMACY`).
//!
//! # Modules
//!
//! * `lines` — geometry and text helpers: input lines as items (folded text,
//!   boxes) grouped into visual rows; whole-word keyword tests.
//! * `amount` — money amounts and their labels; the total (keyword classes,
//!   cash minus change, 5-sen rounding), the tax and the currency.
//! * `date` — date patterns, the transaction date, day/month order, ISO form.
//! * `company` — the company name in the header and its clean-up.
//! * `address` — the address block under the company name.
//! * `spell` — repairs OCR slips in address, trade and legal words.
//! * `merchants` — the merchant directory and its approximate matching.

mod address;
mod amount;
mod company;
mod date;
mod lines;
mod merchants;
mod spell;

use serde::Serialize;

pub use merchants::{Merchants, MerchantsError};

/// One OCR text line.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    pub text: &'a str,
    /// Recognition confidence, 0..1.
    pub confidence: f32,
    /// Corners clockwise from top-left, in pixels.
    pub bbox: [[f32; 2]; 4],
}

/// Where a field's value came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Source {
    /// 0..1, two decimals.
    pub confidence: f32,
    /// Indexes of the input lines the value was read from, ascending.
    pub lines: Vec<usize>,
    /// The value is a [`Merchants`] entry's, found on these lines.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub from_directory: bool,
}

impl Source {
    fn new(confidence: f32, lines: Vec<usize>) -> Source {
        Source { confidence: (confidence.clamp(0.0, 1.0) * 100.0).round() / 100.0, lines, from_directory: false }
    }

    fn directory(similarity: f32, lines: Vec<usize>) -> Source {
        Source { from_directory: true, ..Source::new(similarity, lines) }
    }
}

/// Per-field sources; a field that was not found has no entry.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Sources {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<Source>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Source>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<Source>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_iso: Option<Source>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<Source>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<Source>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tax: Option<Source>,
}

/// Structured receipt fields. See the crate docs for the JSON shape.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Fields {
    /// Company name as printed, without its registration number.
    pub company: Option<String>,
    /// Address rows joined with spaces.
    pub address: Option<String>,
    /// Transaction date as printed (`25/12/2018`, `03 MAR 2018`, ...).
    pub date: Option<String>,
    /// Amount to pay as printed (`9.00`, `RM9.00`, `$8.20`, `1,234.50`).
    pub total: Option<String>,
    /// `date` as `YYYY-MM-DD`; null when the day/month order is ambiguous.
    pub date_iso: Option<String>,
    /// `total` as a plain decimal string (`1234.50`).
    pub total_amount: Option<String>,
    /// ISO 4217 code (`MYR` for `RM`), printed or implied; null if unknown.
    pub currency: Option<String>,
    /// GST/SST/VAT amount as a plain decimal string, when printed.
    pub tax: Option<String>,
    /// The `id` of the [`Merchants`] entry the company came from; absent
    /// without a directory match (or an entry without an `id`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant_id: Option<String>,
    pub sources: Sources,
}

/// Compiles every pattern of the crate at once (on the first call), so that
/// no receipt pays for a pattern its predecessors did not need.
fn init_patterns() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        address::init();
        amount::init();
        company::init();
        date::init();
    });
}

/// Extracts the fields of one receipt. `lines` are in reading order.
pub fn extract(lines: &[Line]) -> Fields {
    extract_with(lines, None)
}

/// [`extract`], with the company and address taken from `merchants` when
/// the receipt names one of them.
pub fn extract_with(lines: &[Line], merchants: Option<&Merchants>) -> Fields {
    init_patterns();
    let page = lines::Page::new(lines);
    let mut f = Fields::default();
    if page.rows.is_empty() {
        return f;
    }

    let amounts = amount::find_amounts(&page);
    if let Some(t) = amount::find_total(&page, &amounts) {
        f.total = Some(t.amount.printed.clone());
        f.total_amount = Some(amount::format_cents(t.amount.cents));
        f.sources.total = Some(Source::new(t.confidence, t.lines.clone()));
        if let Some(x) = amount::find_tax(&page, &amounts, Some(t.amount.cents)) {
            f.tax = Some(amount::format_cents(x.amount.cents));
            f.sources.tax = Some(Source::new(x.confidence, x.lines));
        }
    }
    if let Some((code, conf, idx)) = amount::find_currency(&page, &amounts) {
        f.currency = Some(code.to_string());
        f.sources.currency = Some(Source::new(conf, idx));
    }

    let date = date::find_date(&page);
    let date_row = date.as_ref().and_then(|d| d.lines.iter().map(|&i| page.items[i].row).min());
    let amount_row = amounts.iter().filter(|a| !a.slipped).map(|a| page.items[a.item].row).min();
    if let Some(d) = date {
        f.date = Some(d.printed);
        f.sources.date = Some(Source::new(d.confidence, d.lines.clone()));
        if let Some(iso) = d.iso {
            f.date_iso = Some(iso);
            f.sources.date_iso = Some(Source::new(d.iso_confidence, d.lines));
        }
    }

    let header_end = company::header_end(&page, date_row, amount_row);
    let company = company::find_company(&page, header_end);
    let company_rows = company.as_ref().and_then(|c| Some((*c.rows.first()?, *c.rows.last()?)));
    if let Some(c) = company {
        let idx = rows_to_lines(&page, &c.rows);
        let conf = c.confidence * page.conf_of(&idx);
        f.company = Some(c.text);
        f.sources.company = Some(Source::new(conf, idx));
    }
    if let Some(a) = address::find_address(&page, company_rows) {
        let idx = rows_to_lines(&page, &a.rows);
        let conf = a.confidence * page.conf_of(&idx);
        f.address = Some(a.text);
        f.sources.address = Some(Source::new(conf, idx));
    }
    if let Some(found) = merchants.and_then(|m| m.find(&page, f.address.as_deref())) {
        // The directory's spelling replaces what was read when it is the
        // same thing read better: the name read is (nearly) part of the
        // entry's, the address read (nearly) the entry's whole address.
        if f.company.as_deref().is_none_or(|r| found.names(r)) {
            f.company = Some(found.company().to_string());
            f.merchant_id = found.id().map(str::to_string);
            f.sources.company =
                Some(Source::directory(found.company_similarity, rows_to_lines(&page, &found.company_rows)));
        }
        if let (Some(address), Some((rows, similarity))) = (found.address(), &found.address_read)
            && f.address.as_deref().is_none_or(|r| found.covers_address(r))
        {
            f.address = Some(address.to_string());
            f.sources.address = Some(Source::directory(*similarity, rows_to_lines(&page, rows)));
        }
    }
    f
}

fn rows_to_lines(page: &lines::Page, rows: &[usize]) -> Vec<usize> {
    let mut v: Vec<usize> = rows.iter().flat_map(|&r| page.rows[r].items.iter().copied()).collect();
    v.sort_unstable();
    v
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Hand-written receipts for the unit tests.
    use crate::Line;

    /// A box at the given pixel rectangle.
    pub fn boxed(text: &str, x0: f32, y0: f32, x1: f32, y1: f32) -> Line<'_> {
        Line { text, confidence: 0.95, bbox: [[x0, y0], [x1, y0], [x1, y1], [x0, y1]] }
    }

    /// One row per text, 30 px apart, 20 px high, left-aligned, 10 px per character.
    pub fn column<'a>(texts: &[&'a str]) -> Vec<Line<'a>> {
        texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let y = 30.0 * i as f32;
                boxed(t, 10.0, y, 10.0 + 10.0 * t.len() as f32, y + 20.0)
            })
            .collect()
    }

    /// Rows given as (left text, right text); an empty side has no box.
    pub fn two_columns<'a>(rows: &[(&'a str, &'a str)]) -> Vec<Line<'a>> {
        let mut out = Vec::new();
        for (i, (l, r)) in rows.iter().enumerate() {
            let y = 30.0 * i as f32;
            if !l.is_empty() {
                out.push(boxed(l, 10.0, y, 10.0 + 10.0 * l.len() as f32, y + 20.0));
            }
            if !r.is_empty() {
                out.push(boxed(r, 400.0, y + 1.0, 400.0 + 10.0 * r.len() as f32, y + 21.0));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{column, two_columns};

    #[test]
    fn empty_input_gives_empty_fields() {
        let f = extract(&[]);
        assert_eq!(f, Fields::default());
    }

    #[test]
    fn json_shape_has_plain_strings_and_sources() {
        let lines = column(&[
            "KEDAI MAJU SDN BHD (123456-X)",
            "12, JALAN MAJU,",
            "50000 KUALA LUMPUR",
            "TEL: 03-1234 5678",
            "DATE: 05/03/2018 10:12",
            "TOTAL RM 12.50",
        ]);
        let f = extract(&lines);
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(v["company"], "KEDAI MAJU SDN BHD");
        assert_eq!(v["address"], "12, JALAN MAJU, 50000 KUALA LUMPUR");
        assert_eq!(v["date"], "05/03/2018");
        assert_eq!(v["date_iso"], "2018-03-05");
        assert_eq!(v["total"], "12.50");
        assert_eq!(v["total_amount"], "12.50");
        assert_eq!(v["currency"], "MYR");
        assert!(v["tax"].is_null());
        assert_eq!(v["sources"]["company"]["lines"], serde_json::json!([0]));
        assert_eq!(v["sources"]["address"]["lines"], serde_json::json!([1, 2]));
        assert_eq!(v["sources"]["total"]["lines"], serde_json::json!([5]));
        let c = v["sources"]["total"]["confidence"].as_f64().unwrap();
        assert!(c > 0.5 && c <= 1.0);
        // Fields that were not found have no source entry.
        assert!(v["sources"].get("tax").is_none());
    }

    #[test]
    fn odd_input_does_not_panic() {
        let texts =
            ["", " ", "一本 RM3.00 日", "Ä.ÜS9.99", "((((", "TOTAL:", ".", "S", "$", "12/", "DATE 31/", "𝓣𝓞𝓣𝓐𝓛 1.00"];
        let mut lines = column(&texts);
        lines.push(Line { text: "NaN box 1.00", confidence: f32::NAN, bbox: [[f32::NAN; 2]; 4] });
        lines.push(Line { text: "TOTAL 2.00", confidence: 2.0, bbox: [[0.0; 2]; 4] });
        let f = extract(&lines);
        let v = serde_json::to_value(&f).unwrap();
        for s in v["sources"].as_object().unwrap().values() {
            let c = s["confidence"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&c));
        }
    }

    #[test]
    fn split_boxes_are_read_as_rows() {
        let lines = two_columns(&[
            ("KEDAI MAJU SDN BHD", ""),
            ("DATE:", "05/03/2018"),
            ("SUBTOTAL", "11.00"),
            ("SST 6%", "0.66"),
            ("TOTAL", "11.66"),
            ("CASH", "20.00"),
            ("CHANGE", "8.34"),
        ]);
        let f = extract(&lines);
        assert_eq!(f.total.as_deref(), Some("11.66"));
        assert_eq!(f.sources.total.as_ref().unwrap().lines, vec![7, 8]);
        assert_eq!(f.tax.as_deref(), Some("0.66"));
        assert_eq!(f.date.as_deref(), Some("05/03/2018"));
    }
}
