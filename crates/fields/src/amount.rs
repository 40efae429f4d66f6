//! Money amounts: parsing, the receipt total, the tax amount and the currency.
//!
//! Every `123.45`-shaped token (optionally `1,234.56`, optionally prefixed by
//! `RM`, `MYR`, `$`, `S$`, `US$` and a minus sign) is an [`Amount`]. Each one
//! gets a *label*: the words left of it on its row, or, when it stands alone,
//! the row just above it. Labels are classified by keywords:
//!
//! * rounded / nett / grand / "total amount" / "total incl. GST" totals are
//!   the strongest evidence, a plain `TOTAL` comes next, `AMOUNT`/`JUMLAH`
//!   after that;
//! * subtotals, totals before or excluding tax, quantities, cash tendered,
//!   change, rounding adjustments, discounts and tax lines never give the total.
//!
//! Among the best-labelled candidates, agreement with `CASH - CHANGE`, being
//! repeated on the receipt and sitting lower on the page break ties. With no
//! labelled candidate, the largest amount that is not cash or change in the
//! lower part of the receipt is taken, with a low confidence.

use std::sync::LazyLock;

use regex::Regex;

use crate::lines::{Page, has_any_word, has_word, letters};

static AMOUNT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(?P<neg1>-\s?)?(?P<cur>RM|RN|RH|MYR|US\$|S\$|\$)?\s?(?P<neg2>-\s?)?(?P<num>\d{1,3}(?:,\d{3})+\.\d{2}|\d{1,7}\.\d{2}|\.\d{2})",
    )
    .expect("amount regex")
});

static SLIPPED_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([0-9]{1,5})-([0-9]{2})$").expect("slipped amount regex"));

/// One money amount found in an item.
#[derive(Debug, Clone)]
pub(crate) struct Amount {
    /// Input line index.
    pub item: usize,
    /// Byte offset of the amount (incl. sign and currency) in the item's text.
    pub start: usize,
    /// Byte offset just past the number.
    pub end: usize,
    /// Currency prefix as printed (upper-case), when attached.
    pub currency: Option<String>,
    /// Printed text of the number with its currency when glued to it (`RM9.00`, `$8.20`).
    pub printed: String,
    pub cents: i64,
    pub negative: bool,
    /// Read with a slipped decimal point (`52-00`): only trusted as a total
    /// under a total label, never as anything else.
    pub slipped: bool,
}

/// Compiles the module's patterns (see [`crate::init_patterns`]).
pub(crate) fn init() {
    LazyLock::force(&AMOUNT_RE);
    LazyLock::force(&SLIPPED_RE);
}

/// Finds all amounts of a page, in item order. On a receipt that prints `$`,
/// an `S` glued to a number (`S8.20`, a common OCR slip) is read as `$`.
pub(crate) fn find_amounts(page: &Page) -> Vec<Amount> {
    let mut out = Vec::new();
    let dollar = page.items.iter().any(|it| it.text.contains('$'));
    for (i, it) in page.items.iter().enumerate() {
        for c in AMOUNT_RE.captures_iter(&it.text) {
            let whole = c.get(0).expect("match");
            let num = c.name("num").expect("num");
            // Not part of a longer number: no digit right after, no digit or '.' right before.
            let next = it.text[num.end()..].chars().next();
            if next.is_some_and(|ch| ch.is_ascii_digit()) {
                continue;
            }
            let prev = it.text[..whole.start()].chars().next_back();
            if prev.is_some_and(|ch| ch.is_ascii_digit() || ch == '.' || ch == ',') {
                continue;
            }
            // ".02" without its leading zero only as a separate word.
            if num.as_str().starts_with('.') && prev.is_some_and(|ch| !ch.is_whitespace()) && c.name("cur").is_none() {
                continue;
            }
            let Some(cents) = parse_cents(num.as_str()) else { continue };
            // "RN"/"RH" stand for "RM" only as a word of their own ("RETURN5.00" is not).
            let cur = c.name("cur").filter(|m| {
                let ocr_rm = m.as_str().eq_ignore_ascii_case("RN") || m.as_str().eq_ignore_ascii_case("RH");
                !ocr_rm || !it.text[..m.start()].ends_with(|ch: char| ch.is_ascii_alphabetic())
            });
            // Where the amount starts: its sign and currency, when they are its own.
            let start = match (c.name("neg1"), cur, c.name("neg2")) {
                (Some(n), Some(_), _) => n.start(),
                (_, Some(m), _) => m.start(),
                (_, None, Some(n)) => n.start(),
                _ => num.start(),
            };
            // SROIE's labels keep a currency glued to the number ("RM9.00",
            // "$8.20") and mostly drop one set apart ("RM 9.00" -> "9.00"): in
            // TRAIN's labels 9 of 10 glued "RM" totals keep it, 13 of 21
            // spaced ones drop it.
            let glued = cur.is_some_and(|m| m.end() == num.start());
            let mut currency = cur.map(|m| currency_word(m.as_str()));
            let mut printed = match (&currency, glued) {
                (Some(c), true) => format!("{c}{}", num.as_str()),
                _ => num.as_str().to_string(),
            };
            let glued_s = it.text[..start].ends_with(['S', 's'])
                && !it.text[..start - 1].ends_with(|ch: char| ch.is_ascii_alphanumeric());
            if dollar && currency.is_none() && glued_s {
                currency = Some("$".to_string());
                printed = format!("${}", num.as_str());
            }
            out.push(Amount {
                item: i,
                start,
                end: num.end(),
                printed,
                currency,
                cents,
                negative: c.name("neg1").is_some() || c.name("neg2").is_some(),
                slipped: false,
            });
        }
        // "52-00": the recogniser read the decimal point as a dash. Only a
        // whole item, so dates, phone numbers and ranges ("12-14") in text
        // are left alone.
        if let Some(c) = SLIPPED_RE.captures(it.text.trim()) {
            let num = format!("{}.{}", &c[1], &c[2]);
            let Some(cents) = parse_cents(&num) else { continue };
            out.push(Amount {
                item: i,
                start: 0,
                end: it.text.len(),
                currency: None,
                printed: num,
                cents,
                negative: false,
                slipped: true,
            });
        }
    }
    out
}

/// A currency prefix as printed, with the recogniser's `RN`/`RH` for `RM`.
fn currency_word(printed: &str) -> String {
    match printed.to_ascii_uppercase().as_str() {
        "RN" | "RH" => "RM".to_string(),
        other => other.to_string(),
    }
}

/// `1,234.50` -> 123450.
pub(crate) fn parse_cents(number: &str) -> Option<i64> {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    if digits.len() > 12 {
        return None;
    }
    digits.parse().ok()
}

/// Formats cents as a plain decimal string (`123450` -> `1234.50`).
pub(crate) fn format_cents(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let c = cents.abs();
    format!("{sign}{}.{:02}", c / 100, c % 100)
}

/// The words describing an amount: the text left of it on its row, back to
/// the nearest other amount (and at most up to the first item with real
/// words, so "TOTAL | RM | 9.00" and "TOTAL SALES (INCL GST) RM | 9.00" both
/// work); when there is none, the row above when it holds no amount of its
/// own. Upper-case, punctuation turned into spaces.
pub(crate) fn label_of(page: &Page, amounts: &[Amount], a: &Amount) -> (String, Vec<usize>) {
    let item = &page.items[a.item];
    let row = &page.rows[item.row];
    // Own text before the amount, after any earlier amount in the same item.
    let own_start =
        amounts.iter().filter(|b| b.item == a.item && b.start < a.start).map(|b| b.end).max().unwrap_or(0).min(a.start);
    let own = item.upper.get(own_start..a.start).unwrap_or("");
    let mut parts: Vec<&str> = vec![own];
    let mut idx = Vec::new();
    let blocked = own_start > 0 || label_words(own) >= 2;
    if !blocked {
        let mut left: Vec<usize> =
            row.items.iter().copied().filter(|&j| j != a.item && page.items[j].x0 < item.x0).collect();
        left.sort_by(|&x, &y| page.items[y].x0.total_cmp(&page.items[x].x0));
        for j in left {
            if amounts.iter().any(|b| b.item == j && !b.slipped) {
                break;
            }
            parts.insert(0, &page.items[j].upper);
            idx.push(j);
            if label_words(&page.items[j].upper) >= 2 {
                break;
            }
        }
    }
    let mut label = clean_label(&parts.join(" "));
    if label_words(&label) < 2 && item.row > 0 {
        // Value under its label ("TOTAL:" on one row, "9.00" on the next).
        let above = item.row - 1;
        let has_amount = page.rows[above].items.iter().any(|&j| amounts.iter().any(|b| b.item == j && !b.slipped));
        if !has_amount && page.gap(above, item.row) < 1.5 * page.line_h {
            let l = clean_label(&page.rows[above].upper);
            if letters(&l) >= 2 {
                label = l;
                idx = page.rows[above].items.clone();
            }
        }
    }
    (label, idx)
}

/// Letters of a label that are not a currency word (`RH` is OCR's `RM`).
fn label_words(s: &str) -> usize {
    s.split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !matches!(*w, "RM" | "RH" | "MYR" | "S" | "X"))
        .map(str::len)
        .sum()
}

fn clean_label(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '@' || c == '%')) {
        if !w.is_empty() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(fix_keyword(w));
        }
    }
    out
}

/// Keywords the label rules look for, to repair OCR slips ("TOTAI", "R0UNDING").
const VOCAB: &[&str] = &[
    "TOTAL",
    "SUBTOTAL",
    "PAYABLE",
    "SUPPLIES",
    "ROUNDING",
    "ROUNDED",
    "INCLUSIVE",
    "INCLUDING",
    "EXCLUSIVE",
    "EXCLUDING",
    "AMOUNT",
    "CHANGE",
    "TENDERED",
    "DISCOUNT",
    "ADJUSTMENT",
    "QUANTITY",
    "BALANCE",
];

/// Maps a word within a small edit distance of a [`VOCAB`] keyword (1 for up
/// to seven letters, 2 for longer ones) to that keyword. A digit that looks
/// like the letter it replaces costs nothing ("T0TAL", "TOT31"). Four-letter
/// words may only have lost a letter ("TOTA"); shorter ones are kept.
fn fix_keyword(w: &str) -> &str {
    if w.len() < 4 || !w.bytes().all(|b| b.is_ascii_alphanumeric()) || letters(w) < 3 {
        return w;
    }
    let limit = if w.len() <= 7 { 1 } else { 2 };
    let mut best: Option<(usize, &str)> = None;
    for k in VOCAB {
        if k.len().abs_diff(w.len()) > limit || (w.len() == 4 && k.len() != 5) {
            continue;
        }
        let d = edit_distance(w.as_bytes(), k.as_bytes());
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, k));
        }
    }
    best.map_or(w, |(_, k)| k)
}

/// True when OCR often reads letter `l` as digit `d`.
fn looks_alike(d: u8, l: u8) -> bool {
    matches!(
        (d, l),
        (b'0', b'O') | (b'1', b'L') | (b'1', b'I') | (b'5', b'S') | (b'8', b'B') | (b'6', b'G') | (b'2', b'Z')
    )
}

fn edit_distance(a: &[u8], b: &[u8]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let sub = usize::from(ca != cb && !looks_alike(ca, cb));
            cur[j + 1] = (prev[j + 1] + 1).min(cur[j] + 1).min(prev[j] + sub);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// How strongly a label says "this is the amount to pay": 5 rounded / nett /
/// grand / "total amount" / "total incl. tax"; 4 plain `TOTAL`; 3 `DUE`,
/// `NETT`, `JUMLAH`; 2 `AMOUNT`; 1 a subtotal (used when nothing better is
/// printed); 0 nothing; -1 an amount that is never the total (cash, change,
/// tax, discount, quantities, rounding adjustment).
pub(crate) fn total_class(label: &str) -> i8 {
    const NEVER: &[&str] = &[
        "EXCL",
        "EXCLUDING",
        "EXCLUSIVE",
        "BEFORE",
        "CASH",
        "CHANGE",
        "TENDER",
        "TENDERED",
        "ACCEPTED",
        "PAID",
        "PAYMENT",
        "CARD",
        "VISA",
        "MASTER",
        "MASTERCARD",
        "CREDIT",
        "DEBIT",
        "DISCOUNT",
        "DISC",
        "SAVING",
        "SAVINGS",
        "SAVE",
        "SERVICE",
        "CHARGE",
        "CHARGES",
        "DEPOSIT",
        "POINTS",
        "POINT",
        "ROUNDING",
        "ADJ",
        "ADJUSTMENT",
        "PRICE",
        "UNIT",
        "VOUCHER",
        "BALANCE",
        "REFUND",
        "TIPS",
        "TAXABLE",
    ];
    if has_any_word(label, NEVER) || label.split(' ').any(|w| w.starts_with("EXCL")) {
        return -1;
    }
    // Partial sums: subtotals, "Total 6% supplies" per tax rate.
    if has_any_word(label, &["SUBTOTAL", "SUB", "SUPPLIES", "SUPPLY"]) || label.contains("SUBTOTAL") {
        return 1;
    }
    let words: Vec<&str> = label.split(' ').collect();
    if words.windows(2).any(|w| w[0] == "TOTAL" && w[1].ends_with('%')) {
        return 1;
    }
    if has_any_word(label, &["QTY", "QUANTITY", "ITEM", "ITEMS", "PCS"]) {
        return -1;
    }
    let total_pos = ["TOTAL", "GRANDTOTAL", "NETTOTAL", "TOTALAMOUNT"].iter().filter_map(|w| word_pos(label, w)).min();
    let incl = is_incl(label);
    if let Some(t) = tax_position(label) {
        // "TOTAL GST", "GST @6% INCLUDED IN TOTAL" are tax lines; "TOTAL INCL. GST" is a total.
        let anchor = total_pos.or_else(|| ["AMOUNT", "AMT"].iter().filter_map(|w| word_pos(label, w)).min());
        match anchor {
            Some(p) if p < t && incl => {}
            _ => return -1,
        }
    }
    const STRONG: &[&str] = &[
        "ROUNDED",
        "ROUND",
        "NETT",
        "NET",
        "GRAND",
        "AMOUNT",
        "AMT",
        "DUE",
        "PAYABLE",
        "INCL",
        "INCLUSIVE",
        "INC",
        "RM",
        "SALES",
        "GRANDTOTAL",
        "NETTOTAL",
        "TOTALAMOUNT",
    ];
    if total_pos.is_some() {
        return if has_any_word(label, STRONG) { 5 } else { 4 };
    }
    if has_any_word(label, &["AMOUNT", "AMT"]) && (incl || has_any_word(label, &["DUE", "PAYABLE", "NETT", "NET"])) {
        return 5;
    }
    if has_any_word(label, &["ROUNDED", "NETT", "GRAND", "JUMLAH", "DUE", "PAYABLE"]) {
        return 3;
    }
    if has_any_word(label, &["AMOUNT", "AMT"]) || label.contains("TOTAL") {
        return 2;
    }
    0
}

/// "INCL", "INCL.", "INCLUSIVE", "INCLUDING", "INC" (and OCR slips such as
/// "INCLUSLVE"), but not "INCLUDED" ("GST INCLUDED IN TOTAL" labels the tax).
fn is_incl(label: &str) -> bool {
    label.split(' ').any(|w| w == "INC" || w == "WITH" || (w.starts_with("INCL") && w != "INCLUDED"))
}

fn word_pos(label: &str, w: &str) -> Option<usize> {
    label.split(' ').position(|x| x == w)
}

/// Word position of the first tax keyword in a label.
fn tax_position(label: &str) -> Option<usize> {
    label.split(' ').position(|x| {
        matches!(x, "GST" | "SST" | "VAT" | "TAX" | "TAXES") || x.starts_with("GST@") || x.starts_with("SST@")
    })
}

/// "ROUNDING" alone labels either the adjustment (under 5 sen) or, on some
/// tills, the rounded total; the caller checks the amount.
fn is_rounded_total(label: &str) -> bool {
    label.split(' ').all(|w| matches!(w, "ROUNDING" | "RM" | "RH")) && has_word(label, "ROUNDING")
}

/// True when another amount sits left of `a` on its row.
fn amount_left_of(page: &Page, amounts: &[Amount], a: &Amount) -> bool {
    let row = page.items[a.item].row;
    let x = page.items[a.item].x0;
    amounts.iter().filter(|b| !b.slipped).any(|b| {
        (b.item == a.item && b.start < a.start)
            || (b.item != a.item && page.items[b.item].row == row && page.items[b.item].x0 < x)
    })
}

/// A chosen amount with where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Pick {
    pub amount: Amount,
    pub lines: Vec<usize>,
    pub confidence: f32,
}

/// Chooses the receipt total.
pub(crate) fn find_total(page: &Page, amounts: &[Amount]) -> Option<Pick> {
    if amounts.is_empty() {
        return None;
    }
    let labels: Vec<(String, Vec<usize>)> = amounts.iter().map(|a| label_of(page, amounts, a)).collect();
    let classes: Vec<i8> = amounts
        .iter()
        .zip(&labels)
        .map(|(a, (l, _))| {
            let class = total_class(l);
            if a.negative || (a.slipped && class < 4) {
                -1
            } else if amount_left_of(page, amounts, a) {
                // A column of a table row ("TOTAL 96.00 5.76"), not a labelled value.
                class.min(0)
            } else if a.cents >= 10 && is_rounded_total(l) {
                3
            } else {
                class
            }
        })
        .collect();

    // CASH - CHANGE, when both are printed.
    let labelled = |w: &[&str]| -> Option<i64> {
        amounts.iter().zip(&labels).rev().find(|(a, (l, _))| !a.slipped && has_any_word(l, w)).map(|(a, _)| a.cents)
    };
    let cash = labelled(&["CASH", "TENDERED", "TENDER", "PAID"]);
    let change = labelled(&["CHANGE", "BALANCE"]);
    let expected = match (cash, change) {
        (Some(c), Some(ch)) if c >= ch => Some(c - ch),
        _ => None,
    };

    let n_rows = page.rows.len().max(1) as f32;
    // Zero amounts ("TOTAL LOADING CHARGES 0.00") are never the total.
    let best_class = amounts.iter().zip(&classes).filter(|(a, _)| a.cents > 0).map(|(_, c)| *c).max().unwrap_or(0);
    let max_cents = amounts.iter().zip(&classes).filter(|(_, c)| **c >= 0).map(|(a, _)| a.cents).max().unwrap_or(1);
    let mut best: Option<(f32, usize)> = None;
    for (k, a) in amounts.iter().enumerate() {
        let class = classes[k];
        if a.cents <= 0 || class < 0 || (best_class >= 4 && class < 4) {
            continue;
        }
        let mut score = f32::from(class) * 10.0;
        if expected == Some(a.cents) {
            // Without a TOTAL label, CASH - CHANGE is the best evidence there is.
            score += if best_class < 4 { 12.0 } else { 6.0 };
        }
        if amounts.iter().filter(|b| b.cents == a.cents && !b.negative).count() > 1 {
            score += 1.0;
        }
        // Lower on the page is later in the receipt's sums; the amount to pay
        // is the largest of the sums.
        let row = page.items[a.item].row as f32 / n_rows;
        score += 2.0 * row + 3.0 * a.cents as f32 / max_cents.max(1) as f32;
        if best_class < 4 {
            // Weak or no labels: prefer the largest amount, in the lower part.
            if row < 0.25 {
                continue;
            }
            score += 8.0 * a.cents as f32 / max_cents.max(1) as f32;
        }
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, k));
        }
    }
    let (_, mut k) = best?;
    let mut rounded = false;
    // Cash totals are rounded to 5 sen: a rounded copy of the chosen amount
    // printed at or below it is the amount paid.
    let c = amounts[k].cents;
    if c % 5 != 0 {
        let r = (c + 2) / 5 * 5;
        let row_k = page.items[amounts[k].item].row;
        let found = amounts
            .iter()
            .enumerate()
            .filter(|(j, b)| {
                b.cents == r
                    && !b.negative
                    && page.items[b.item].row >= row_k
                    && *j != k
                    && !has_any_word(&labels[*j].0, &["CHANGE", "BALANCE"])
                    && (expected == Some(r) || !has_any_word(&labels[*j].0, &["CASH", "TENDERED", "TENDER", "PAID"]))
            })
            .max_by_key(|(j, _)| (classes[*j], std::cmp::Reverse(*j)));
        if let Some((j, _)) = found {
            k = j;
            rounded = true;
        }
    }
    let a = amounts[k].clone();
    let mut lines = labels[k].1.clone();
    lines.push(a.item);
    lines.sort_unstable();
    lines.dedup();
    let rule = match classes[k] {
        5 => 0.95,
        4 => 0.85,
        _ if rounded => 0.85,
        3 => 0.7,
        2 => 0.55,
        _ => 0.35,
    };
    let agree = if expected == Some(a.cents) { 1.0 } else { 0.9 };
    let confidence = (rule * agree * page.items[a.item].conf).clamp(0.0, 1.0);
    Some(Pick { amount: a, lines, confidence })
}

/// Chooses the tax (GST/SST/VAT) amount: the amount of a tax-labelled row,
/// preferring "TOTAL GST"/"GST AMOUNT"-style labels, never more than the total.
pub(crate) fn find_tax(page: &Page, amounts: &[Amount], total: Option<i64>) -> Option<Pick> {
    let mut best: Option<(u8, usize, Vec<usize>)> = None;
    for (k, a) in amounts.iter().enumerate() {
        if a.negative || a.slipped || total.is_some_and(|t| a.cents >= t) {
            continue;
        }
        let (label, idx) = label_of(page, amounts, a);
        let Some(tp) = tax_position(&label) else { continue };
        if has_any_word(&label, &["ID", "REG", "NO", "EXCL", "EXCLUDING", "SUMMARY", "CODE"]) {
            continue;
        }
        let total_pos = word_pos(&label, "TOTAL");
        let incl = is_incl(&label);
        if total_pos.is_some_and(|p| p < tp) && incl {
            continue; // "TOTAL INCL. GST" is the total
        }
        let class = if total_pos.is_some() || has_any_word(&label, &["AMOUNT", "AMT", "PAYABLE"]) {
            3
        } else if has_word(&label, "INCLUDED") || label.contains('%') {
            2
        } else {
            1
        };
        // Later rows win ties: the GST line comes after the item list.
        if best.as_ref().is_none_or(|(c, _, _)| class >= *c) {
            let mut lines = idx;
            lines.push(a.item);
            lines.sort_unstable();
            lines.dedup();
            best = Some((class, k, lines));
        }
    }
    let (class, k, lines) = best?;
    let a = amounts[k].clone();
    let confidence = match class {
        3 => 0.85,
        2 => 0.75,
        _ => 0.6,
    } * page.items[a.item].conf;
    Some(Pick { amount: a, lines, confidence })
}

/// The currency: printed prefixes (`RM`, `MYR`, `S$`, `US$`), currency words
/// in labels (`(RM)`), or `$` on a receipt with Malaysian cues. ISO 4217 code.
pub(crate) fn find_currency(page: &Page, amounts: &[Amount]) -> Option<(&'static str, f32, Vec<usize>)> {
    let mut dollar = None;
    for a in amounts {
        match a.currency.as_deref() {
            Some("RM") | Some("MYR") => return Some(("MYR", 0.95, vec![a.item])),
            Some("S$") => return Some(("SGD", 0.9, vec![a.item])),
            Some("US$") => return Some(("USD", 0.9, vec![a.item])),
            Some("$") => dollar = dollar.or(Some(a.item)),
            _ => {}
        }
    }
    for (i, it) in page.items.iter().enumerate() {
        if has_any_word(&it.upper, &["RM", "MYR", "RINGGIT"]) {
            return Some(("MYR", 0.85, vec![i]));
        }
        if has_any_word(&it.upper, &["SGD"]) {
            return Some(("SGD", 0.8, vec![i]));
        }
        if has_any_word(&it.upper, &["USD"]) {
            return Some(("USD", 0.8, vec![i]));
        }
    }
    let malaysian = page.items.iter().any(|it| {
        has_any_word(
            &it.upper,
            &[
                "SDN", "BHD", "MALAYSIA", "SELANGOR", "JOHOR", "KUALA", "LUMPUR", "PENANG", "PERAK", "KEDAH", "MELAKA",
                "PAHANG", "SABAH", "SARAWAK", "JALAN", "JLN",
            ],
        )
    });
    match (dollar, malaysian) {
        // Malaysian shops print "$" for ringgit.
        (Some(i), true) => Some(("MYR", 0.7, vec![i])),
        (None, true) if !amounts.is_empty() => Some(("MYR", 0.5, Vec::new())),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use crate::extract;
    use crate::testutil::{column, two_columns};

    fn total(rows: &[(&str, &str)]) -> Option<String> {
        extract(&two_columns(rows)).total
    }

    #[test]
    fn total_keyword_beats_larger_cash_and_items() {
        let rows = [
            ("KEDAI MAJU", ""),
            ("BIG ITEM", "15.00"),
            ("SMALL ITEM", "2.50"),
            ("TOTAL", "17.50"),
            ("CASH", "50.00"),
            ("CHANGE", "32.50"),
        ];
        assert_eq!(total(&rows).as_deref(), Some("17.50"));
    }

    #[test]
    fn total_beats_subtotal_and_tax_lines() {
        let rows = [
            ("ITEM A", "10.00"),
            ("SUB TOTAL", "10.00"),
            ("TOTAL GST 6%", "0.60"),
            ("TOTAL EXCLUDING GST", "10.00"),
            ("TOTAL INCL. GST", "10.60"),
            ("TOTAL QTY", "1.00"),
        ];
        assert_eq!(total(&rows).as_deref(), Some("10.60"));
    }

    #[test]
    fn rounded_total_is_preferred() {
        let rows = [
            ("TOTAL AMOUNT", "60.31"),
            ("ROUNDING ADJ", "-0.01"),
            ("ROUNDED TOTAL", "60.30"),
            ("CASH", "70.30"),
            ("CHANGE", "10.00"),
        ];
        assert_eq!(total(&rows).as_deref(), Some("60.30"));
        // A rounded copy printed under a weaker label ("ROUNDING") still wins.
        let rows = [("TOTAL SALES (INCL GST)", "27.28"), ("ROUNDING ADJUSTMENT", "0.02"), ("ROUNDING", "27.30")];
        assert_eq!(total(&rows).as_deref(), Some("27.30"));
        // But the amount tendered is not a rounded total.
        let rows = [("TOTAL", "1.38"), ("ROUNDING", "0.02"), ("CASH", "1.40")];
        assert_eq!(total(&rows).as_deref(), Some("1.38"));
    }

    #[test]
    fn value_under_its_label() {
        let lines = column(&["KEDAI MAJU", "NETT TOTAL:", "9.00", "CASH:", "10.00"]);
        assert_eq!(extract(&lines).total.as_deref(), Some("9.00"));
    }

    #[test]
    fn gst_summary_table_total_is_not_the_total() {
        let rows = [
            ("TOTAL SALES (INCLUSIVE OF GST)", "101.75"),
            ("CASH", "101.75"),
            ("GST SUMMARY", ""),
            ("TOTAL: 96.00", "5.76"),
        ];
        assert_eq!(total(&rows).as_deref(), Some("101.75"));
    }

    #[test]
    fn ocr_slips_in_amounts_are_repaired() {
        // "RN" glued to a number is the recogniser's "RM".
        assert_eq!(total(&[("SUBTOTAL", "12.00"), ("TOTAL", "RN152.00")]).as_deref(), Some("RM152.00"));
        assert_eq!(total(&[("RETURN", "RETURN5.00"), ("TOTAL", "7.00")]).as_deref(), Some("7.00"));
        // Not a currency inside a word: the amount starts at its number.
        let lines = column(&["RETURN 5.00", "RETURN5.00", "TOTAL RN 5.00"]);
        let page = crate::lines::Page::new(&lines);
        let found: Vec<(usize, Option<String>)> =
            super::find_amounts(&page).into_iter().map(|a| (a.start, a.currency)).collect();
        assert_eq!(found, [(7, None), (6, None), (6, Some("RM".to_string()))]);
        // A decimal point read as a dash counts under a total label only.
        assert_eq!(total(&[("SUB-TOTAL", "49.06"), ("GST", "2.94"), ("TOTAL", "52-00")]).as_deref(), Some("52.00"));
        assert_eq!(total(&[("ITEM", "49.06"), ("SUB-TOTAL", "49.06"), ("NO", "12-14")]).as_deref(), Some("49.06"));
    }

    #[test]
    fn ocr_slips_in_keywords_are_repaired() {
        let rows = [("ITEM", "3.00"), ("T0TAL", "4.50"), ("CHANGE", "5.50")];
        assert_eq!(total(&rows).as_deref(), Some("4.50"));
    }

    #[test]
    fn cash_minus_change_beats_a_subtotal_without_total_label() {
        let rows = [("SUB-TOTAL", "92.50"), ("GST", "1.50"), ("T L", "94.00"), ("CASH", "94.00"), ("CHANGE", "0.00")];
        assert_eq!(total(&rows).as_deref(), Some("94.00"));
    }

    #[test]
    fn unlabelled_receipt_takes_cash_minus_change_or_largest() {
        let rows = [("HEADER", ""), ("A", "2.00"), ("B", "3.00"), ("", "5.00"), ("", ""), ("", "1.00")];
        assert_eq!(total(&rows).as_deref(), Some("5.00"));
    }

    #[test]
    fn printed_currency_is_kept_and_amount_is_plain() {
        let f = extract(&two_columns(&[("NETT TOTAL:", "$8.20")]));
        assert_eq!(f.total.as_deref(), Some("$8.20"));
        assert_eq!(f.total_amount.as_deref(), Some("8.20"));
        let f = extract(&two_columns(&[("GRAND TOTAL", "RM1,234.50")]));
        assert_eq!(f.total.as_deref(), Some("RM1,234.50"));
        assert_eq!(f.total_amount.as_deref(), Some("1234.50"));
        assert_eq!(f.currency.as_deref(), Some("MYR"));
    }

    #[test]
    fn spaced_currency_is_dropped() {
        let f = extract(&two_columns(&[("TOTAL INCL. GST@6%", "RM 3.90")]));
        assert_eq!(f.total.as_deref(), Some("3.90"));
        assert_eq!(f.currency.as_deref(), Some("MYR"));
        assert_eq!(extract(&two_columns(&[("TOTAL", "RM3.90")])).total.as_deref(), Some("RM3.90"));
    }

    #[test]
    fn digit_slips_and_lost_letters_in_keywords() {
        // "TOT31" is TOTAL with look-alike digits, "RH" is "RM"; "TOTA" lost its L.
        let rows = [("ITEM", "12.37"), ("TOT31 RH", "12.37"), ("TENDERED-CASH RH", "50.00"), ("CHANGE RH", "37.65")];
        assert_eq!(total(&rows).as_deref(), Some("12.37"));
        let rows = [("TOTAL 0% SUPPLIES:", "27.44"), ("TOTAL 6% SUPPLIES:", "32.10"), ("TOTA PAYABLE:", "59.54")];
        assert_eq!(total(&rows).as_deref(), Some("59.54"));
        assert_eq!(super::fix_keyword("T0TAL"), "TOTAL");
        assert_eq!(super::fix_keyword("TOTA"), "TOTAL");
        assert_eq!(super::fix_keyword("CASE"), "CASE");
    }

    #[test]
    fn rounding_label_on_a_whole_amount_is_the_rounded_total() {
        let rows = [
            ("1 X 22.90 - 2.91 =", "19.99"),
            ("TOTAL", "1999"),
            ("ROUNDING ADJ", "0.01"),
            ("ROUNDING", "20.00"),
            ("CASH", "20.00"),
            ("CHANGE", "0.00"),
            ("TOTAL LOADING CHARGES", "0.00"),
        ];
        assert_eq!(total(&rows).as_deref(), Some("20.00"));
    }

    #[test]
    fn tax_amount() {
        let f = extract(&two_columns(&[("TOTAL INCL. GST", "21.20"), ("GST @6% INCLUDED IN TOTAL", "1.20")]));
        assert_eq!(f.total.as_deref(), Some("21.20"));
        assert_eq!(f.tax.as_deref(), Some("1.20"));
        let f = extract(&two_columns(&[("TOTAL", "9.00")]));
        assert_eq!(f.tax, None);
    }

    #[test]
    fn currency_from_symbols_and_cues() {
        let cur = |rows: &[(&str, &str)]| extract(&two_columns(rows)).currency;
        assert_eq!(cur(&[("TOTAL", "RM9.00")]).as_deref(), Some("MYR"));
        assert_eq!(cur(&[("AMOUNT (RM)", ""), ("TOTAL", "9.00")]).as_deref(), Some("MYR"));
        assert_eq!(cur(&[("TOTAL", "S$9.00")]).as_deref(), Some("SGD"));
        // "$" on a Malaysian receipt is ringgit; on an unknown one it is unknown.
        assert_eq!(cur(&[("KEDAI MAJU SDN BHD", ""), ("TOTAL", "$9.00")]).as_deref(), Some("MYR"));
        assert_eq!(cur(&[("CORNER SHOP", ""), ("TOTAL", "$9.00")]), None);
        assert_eq!(cur(&[("CORNER SHOP", ""), ("TOTAL", "9.00")]), None);
    }

    #[test]
    fn parses_and_formats_cents() {
        assert_eq!(super::parse_cents("1,234.50"), Some(123_450));
        assert_eq!(super::parse_cents(".05"), Some(5));
        assert_eq!(super::format_cents(123_450), "1234.50");
        assert_eq!(super::format_cents(-5), "-0.05");
    }
}
