//! Dates: patterns, choice of the transaction date, ISO form.
//!
//! Recognised shapes (separators `/`, `-`, `.`): `DD/MM/YYYY`, `DD-MM-YY`,
//! `YYYY-MM-DD`, `DD MMM YYYY` / `DD-MMM-YY` / `DD/MMM/YYYY`, `MMM DD, YYYY`,
//! and `DDMMYYYY` / `YYYYMMDD` after a `DATE` label. The printed text is kept
//! as is for `date`.
//!
//! The transaction date is the candidate with the best score: labelled
//! `DATE`/`TARIKH` (same row or the row above), a time on the same row, a
//! four-digit year, nearer the top; "expiry"/"due"/"valid" dates are avoided.
//!
//! Day/month order for numeric dates: a part above 12 settles it; otherwise the
//! other numeric dates on the receipt decide (one with a first part above 12
//! says day-first, one with a second part above 12 says month-first); with no
//! evidence the Malaysian convention (day first) applies; contradicting
//! evidence makes `date_iso` null.

use std::sync::LazyLock;

use regex::Regex;

use crate::lines::{Page, has_any_word};

static NUMERIC_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\d{1,2})([/.\-])(\d{1,2})([/.\-])(\d{4}|\d{2})").expect("date regex"));
static ISO_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(\d{4})([/.\-])(\d{1,2})([/.\-])(\d{1,2})").expect("date regex"));
static DAY_MONTH_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b(\d{1,2})(?:\s?[/\-.]\s?|\s)?(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)[A-Z]*\.?(?:\s?[/\-.,]\s?|\s)?(\d{4}|\d{2})\b",
    )
    .expect("date regex")
});
static MONTH_DAY_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)[A-Z]*\.?\s?(\d{1,2}),?\s?(\d{4})\b")
        .expect("date regex")
});
static COMPACT_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(\d{8})").expect("date regex"));
/// A numeric date with one separator lost or read as a space ("05 02-18",
/// "2703/2018", "27/032018").
static SLIPPED_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b([0-9]{2})( ?)([/.\-]?)([0-9]{2})( ?)([/.\-]?)([0-9]{4}|[0-9]{2})\b").expect("date regex")
});
static TIME_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\d{1,2}:\d{2}").expect("time regex"));

/// Compiles the module's patterns (see [`crate::init_patterns`]).
pub(crate) fn init() {
    for re in [&NUMERIC_RE, &ISO_RE, &DAY_MONTH_RE, &MONTH_DAY_RE, &COMPACT_RE, &SLIPPED_RE, &TIME_RE] {
        LazyLock::force(re);
    }
}

/// How the day and month of a candidate are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// Numeric `a/b/y`: either could be the day.
    Numeric { a: u32, b: u32 },
    /// Day and month known (month name, ISO, compact).
    Known { day: u32, month: u32 },
}

#[derive(Debug, Clone)]
struct Candidate {
    item: usize,
    printed: String,
    order: Order,
    year: i32,
    four_digit_year: bool,
}

/// The chosen date.
#[derive(Debug, Clone)]
pub(crate) struct DatePick {
    /// As printed.
    pub printed: String,
    /// `YYYY-MM-DD`, or `None` when the day/month order is ambiguous or the date invalid.
    pub iso: Option<String>,
    pub lines: Vec<usize>,
    pub confidence: f32,
    pub iso_confidence: f32,
}

fn month_of(name: &str) -> u32 {
    const M: [&str; 12] = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
    M.iter().position(|m| name.starts_with(m)).map_or(0, |p| p as u32 + 1)
}

fn full_year(y: &str) -> Option<i32> {
    let v: i32 = y.parse().ok()?;
    match y.len() {
        2 => Some(2000 + v),
        4 if (1990..=2049).contains(&v) => Some(v),
        _ => None,
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

fn valid(year: i32, month: u32, day: u32) -> bool {
    (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)
}

/// No digit right before `s` or right after `e` (letters may touch:
/// "21/05/2018TIME").
fn isolated(t: &str, s: usize, e: usize) -> bool {
    let before = t[..s].chars().next_back();
    let after = t[e..].chars().next();
    !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
}

fn candidates(page: &Page) -> Vec<Candidate> {
    let out = clean_candidates(page);
    if out.is_empty() { slipped_candidates(page) } else { out }
}

/// Dates whose printed separators the recogniser lost: one separator is
/// missing or a space while the other is there, e.g. "05 02-18" or
/// "2703/2018". Only looked for when a receipt has no clean date, and the
/// printed form is given back with the separator that was read.
fn slipped_candidates(page: &Page) -> Vec<Candidate> {
    let mut out = Vec::new();
    for (i, it) in page.items.iter().enumerate() {
        let t = &it.upper;
        for c in SLIPPED_RE.captures_iter(t) {
            let m = c.get(0).expect("match");
            let (first, second) = ((&c[2], &c[3]), (&c[5], &c[6]));
            // Exactly one separator read, the other missing or a space.
            let sep = match (first, second) {
                (("", s1), (_, "")) | ((_, ""), ("", s1)) if !s1.is_empty() => s1,
                _ => continue,
            };
            let lost = if first.1.is_empty() { first.0 } else { second.0 };
            if lost.is_empty() && c[7].len() == 2 {
                continue; // "0502-18" could be anything; a lost separator needs a four-digit year
            }
            if !isolated(t, m.start(), m.end()) {
                continue;
            }
            let (Ok(a), Ok(b), Some(y)) = (c[1].parse::<u32>(), c[4].parse::<u32>(), full_year(&c[7])) else {
                continue;
            };
            if !(valid(y, b, a) || valid(y, a, b)) || (c[7].len() == 2 && !(10..=39).contains(&(y - 2000))) {
                continue;
            }
            out.push(Candidate {
                item: i,
                printed: format!("{}{sep}{}{sep}{}", &c[1], &c[4], &c[7]),
                order: Order::Numeric { a, b },
                year: y,
                four_digit_year: c[7].len() == 4,
            });
        }
    }
    out
}

/// Dates printed in one of the module's shapes.
fn clean_candidates(page: &Page) -> Vec<Candidate> {
    let mut out = Vec::new();
    for (i, it) in page.items.iter().enumerate() {
        let t = &it.upper;
        let mut taken: Vec<(usize, usize)> = Vec::new();
        let free = |taken: &Vec<(usize, usize)>, s: usize, e: usize| taken.iter().all(|&(a, b)| e <= a || s >= b);
        for c in ISO_RE.captures_iter(t) {
            let m = c.get(0).expect("match");
            let (Some(y), Ok(mo), Ok(d)) = (full_year(&c[1]), c[3].parse::<u32>(), c[5].parse::<u32>()) else {
                continue;
            };
            if c[2] != c[4] || !valid(y, mo, d) || !isolated(t, m.start(), m.end()) {
                continue;
            }
            taken.push((m.start(), m.end()));
            out.push(Candidate {
                item: i,
                printed: it.text[m.range()].to_string(),
                order: Order::Known { day: d, month: mo },
                year: y,
                four_digit_year: true,
            });
        }
        for c in NUMERIC_RE.captures_iter(t) {
            let m = c.get(0).expect("match");
            if !free(&taken, m.start(), m.end()) || c[2] != c[4] || !isolated(t, m.start(), m.end()) {
                continue;
            }
            // Not part of a longer dotted/dashed number (versions, codes, amounts).
            let before = t[..m.start()].chars().next_back();
            let after = t[m.end()..].chars().next();
            if before.is_some_and(|ch| matches!(ch, '.' | '/' | '-')) || after.is_some_and(|ch| matches!(ch, '/' | '-'))
            {
                continue;
            }
            if after == Some('.') && t[m.end() + 1..].starts_with(|ch: char| ch.is_ascii_digit()) {
                continue;
            }
            let (Ok(a), Ok(b), Some(y)) = (c[1].parse::<u32>(), c[3].parse::<u32>(), full_year(&c[5])) else {
                continue;
            };
            if !(valid(y, b, a) || valid(y, a, b)) {
                continue;
            }
            // "12.30.45"-like times have a 2-digit "year"; require a plausible one.
            if c[5].len() == 2 && !(10..=39).contains(&(y - 2000)) {
                continue;
            }
            taken.push((m.start(), m.end()));
            out.push(Candidate {
                item: i,
                printed: it.text[m.range()].to_string(),
                order: Order::Numeric { a, b },
                year: y,
                four_digit_year: c[5].len() == 4,
            });
        }
        for c in DAY_MONTH_RE.captures_iter(t) {
            let m = c.get(0).expect("match");
            if !free(&taken, m.start(), m.end()) {
                continue;
            }
            let (Ok(d), mo, Some(y)) = (c[1].parse::<u32>(), month_of(&c[2]), full_year(&c[3])) else { continue };
            if !valid(y, mo, d) {
                continue;
            }
            taken.push((m.start(), m.end()));
            out.push(Candidate {
                item: i,
                printed: it.text[m.range()].to_string(),
                order: Order::Known { day: d, month: mo },
                year: y,
                four_digit_year: c[3].len() == 4,
            });
        }
        for c in MONTH_DAY_RE.captures_iter(t) {
            let m = c.get(0).expect("match");
            if !free(&taken, m.start(), m.end()) {
                continue;
            }
            let (mo, Ok(d), Some(y)) = (month_of(&c[1]), c[2].parse::<u32>(), full_year(&c[3])) else { continue };
            if !valid(y, mo, d) {
                continue;
            }
            taken.push((m.start(), m.end()));
            out.push(Candidate {
                item: i,
                printed: it.text[m.range()].to_string(),
                order: Order::Known { day: d, month: mo },
                year: y,
                four_digit_year: true,
            });
        }
        // Compact forms only on a row labelled DATE or right before a time.
        let row_labelled = has_any_word(&page.rows[it.row].upper, &["DATE", "TARIKH"]);
        if row_labelled || TIME_RE.is_match(t) {
            for c in COMPACT_RE.captures_iter(t) {
                let m = c.get(0).expect("match");
                if !isolated(t, m.start(), m.end()) {
                    continue;
                }
                let rest = t[m.end()..].trim_start();
                if !row_labelled && TIME_RE.find(rest).is_none_or(|tm| tm.start() != 0) {
                    continue;
                }
                let s = &c[1];
                let (y1, m1, d1) =
                    (s[..4].parse::<i32>().unwrap_or(0), s[4..6].parse().unwrap_or(0), s[6..].parse().unwrap_or(0));
                let (d2, m2, y2) =
                    (s[..2].parse::<u32>().unwrap_or(0), s[2..4].parse().unwrap_or(0), s[4..].parse().unwrap_or(0));
                let order = if (1990..2050).contains(&y1) && valid(y1, m1, d1) {
                    (y1, m1, d1)
                } else if (1990..2050).contains(&y2) && valid(y2, m2, d2) {
                    (y2, m2, d2)
                } else {
                    continue;
                };
                out.push(Candidate {
                    item: i,
                    printed: it.text[m.range()].to_string(),
                    order: Order::Known { day: order.2, month: order.1 },
                    year: order.0,
                    four_digit_year: true,
                });
            }
        }
    }
    out
}

/// Chooses the transaction date.
pub(crate) fn find_date(page: &Page) -> Option<DatePick> {
    let cands = candidates(page);
    if cands.is_empty() {
        return None;
    }
    let n_rows = page.rows.len().max(1) as f32;
    let mut best: Option<(f32, usize, Vec<usize>)> = None;
    for (k, c) in cands.iter().enumerate() {
        let it = &page.items[c.item];
        let row = &page.rows[it.row];
        let mut lines = vec![c.item];
        let mut score = 0.0f32;
        let label_words = ["DATE", "TARIKH", "DT"];
        let avoid = ["EXP", "EXPIRY", "EXPIRES", "DUE", "VALID", "BEFORE", "UNTIL", "PRINTED", "PRINT"];
        let mut labelled = has_any_word(&row.upper, &label_words);
        if labelled {
            lines = row.items.clone();
        } else if it.row > 0 && page.gap(it.row - 1, it.row) < 1.5 * page.line_h {
            let above = &page.rows[it.row - 1];
            if has_any_word(&above.upper, &label_words) && letters_only_label(&above.upper) {
                labelled = true;
                lines = above.items.iter().copied().chain(std::iter::once(c.item)).collect();
            }
        }
        if labelled {
            score += 3.0;
        }
        if has_any_word(&row.upper, &avoid) {
            score -= 4.0;
        }
        if TIME_RE.is_match(&row.upper) {
            score += 1.0;
        }
        if c.four_digit_year {
            score += 0.5;
        }
        score -= it.row as f32 / n_rows;
        if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
            best = Some((score, k, lines));
        }
    }
    let (score, k, mut lines) = best?;
    lines.sort_unstable();
    lines.dedup();
    let c = &cands[k];
    let (iso, iso_conf) = iso_of(c, &cands);
    let rule = if score >= 3.0 {
        0.95
    } else if score >= 0.0 {
        0.8
    } else {
        0.5
    };
    let conf = rule * page.items[c.item].conf;
    Some(DatePick {
        printed: c.printed.clone(),
        iso: iso.map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}")),
        lines,
        confidence: conf,
        iso_confidence: iso_conf * conf,
    })
}

fn letters_only_label(s: &str) -> bool {
    crate::lines::digits(s) == 0
}

/// Day/month resolution (see the module docs). Returns (year, month, day) and
/// the confidence of the order.
fn iso_of(c: &Candidate, all: &[Candidate]) -> (Option<(i32, u32, u32)>, f32) {
    match c.order {
        Order::Known { day, month } => (Some((c.year, month, day)), 1.0),
        Order::Numeric { a, b } => {
            let dmy_ok = valid(c.year, b, a);
            let mdy_ok = valid(c.year, a, b);
            match (dmy_ok, mdy_ok) {
                (true, false) => return (Some((c.year, b, a)), 1.0),
                (false, true) => return (Some((c.year, a, b)), 0.9),
                (false, false) => return (None, 0.0),
                (true, true) if a == b => return (Some((c.year, b, a)), 1.0),
                (true, true) => {}
            }
            let mut day_first = false;
            let mut month_first = false;
            for o in all {
                if let Order::Numeric { a, b } = o.order {
                    day_first |= a > 12 && b <= 12;
                    month_first |= b > 12 && a <= 12;
                }
            }
            match (day_first, month_first) {
                (true, false) => (Some((c.year, b, a)), 0.95),
                (false, true) => (Some((c.year, a, b)), 0.8),
                (false, false) => (Some((c.year, b, a)), 0.75), // Malaysian convention
                (true, true) => (None, 0.0),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::extract;
    use crate::testutil::column;

    fn date(rows: &[&str]) -> (Option<String>, Option<String>) {
        let f = extract(&column(rows));
        (f.date, f.date_iso)
    }

    fn some(a: &str, b: &str) -> (Option<String>, Option<String>) {
        (Some(a.to_string()), Some(b.to_string()))
    }

    #[test]
    fn formats() {
        assert_eq!(date(&["DATE: 25/12/2018 8:13:39 PM"]), some("25/12/2018", "2018-12-25"));
        assert_eq!(date(&["12-01-19 21:13 SH01"]), some("12-01-19", "2019-01-12"));
        assert_eq!(date(&["03 MAR 2018 18:22"]), some("03 MAR 2018", "2018-03-03"));
        assert_eq!(date(&["DATE: 2018-03-23"]), some("2018-03-23", "2018-03-23"));
        assert_eq!(date(&["14/JUN/2017 08:34"]), some("14/JUN/2017", "2017-06-14"));
        assert_eq!(date(&["Mar 5, 2018"]), some("Mar 5, 2018", "2018-03-05"));
        assert_eq!(date(&["DATE/TIME 20180428/191204"]), some("20180428", "2018-04-28"));
        // Glued to the next label.
        assert_eq!(date(&["DATE: 21/05/2018TIME: 11:12"]), some("21/05/2018", "2018-05-21"));
    }

    #[test]
    fn day_month_order() {
        // Ambiguous alone: the Malaysian convention, day first.
        assert_eq!(date(&["DATE 05/03/2018"]), some("05/03/2018", "2018-03-05"));
        // A part above 12 settles it.
        assert_eq!(date(&["DATE 12/25/2018"]), some("12/25/2018", "2018-12-25"));
        // Another date on the receipt printed month-first decides the order.
        assert_eq!(date(&["DATE 01/02/2018 10:00", "VALID UNTIL 12/31/2018"]), some("01/02/2018", "2018-01-02"));
        // Contradicting evidence: no ISO date.
        assert_eq!(
            date(&["DATE 01/02/2018 10:00", "EXPIRY 12/31/2018", "PRINTED 25/12/2018"]),
            (Some("01/02/2018".to_string()), None)
        );
    }

    #[test]
    fn rejects_non_dates() {
        assert_eq!(date(&["31/02/2018"]), (None, None)); // no such day
        assert_eq!(date(&["TEL: 03-7845 8155"]), (None, None));
        assert_eq!(date(&["VERSION 1.10.20.5"]), (None, None));
        assert_eq!(date(&["TIME 12.30.45"]), (None, None));
    }

    #[test]
    fn labelled_transaction_date_beats_others() {
        let rows = ["BEST BEFORE 01/01/2019", "INVOICE 123", "DATE: 15/06/2018", "EXP 02/2020"];
        assert_eq!(date(&rows), some("15/06/2018", "2018-06-15"));
        // The value may sit on the row under its label.
        let rows = ["PROMO ENDS 30/06/2018", "DATE", "15/06/2018"];
        assert_eq!(date(&rows).0.as_deref(), Some("15/06/2018"));
    }

    #[test]
    fn a_lost_separator_is_put_back() {
        assert_eq!(date(&["05 02-18 12:01"]), some("05-02-18", "2018-02-05"));
        assert_eq!(date(&["DATE: 2703/2018"]), some("27/03/2018", "2018-03-27"));
        assert_eq!(date(&["27/032018"]), some("27/03/2018", "2018-03-27"));
        // Only when the receipt has no clean date, and never for phone-like runs.
        assert_eq!(date(&["REF 2703/2018", "DATE 28/03/2018"]).0.as_deref(), Some("28/03/2018"));
        assert_eq!(date(&["TEL 0502-18"]), (None, None));
        assert_eq!(date(&["12 34 5678"]), (None, None));
    }
}
