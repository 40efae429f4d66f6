//! Address: the block of rows between the company name and the first
//! phone / fax / tax-id / e-mail / date / document-title row.
//!
//! Registration-number rows right under the name are skipped, and so are up
//! to two non-address rows (a branch name, a slogan) before the first row that
//! looks like an address (street words, a postcode, or a house number). The
//! block then runs until a stop row, a vertical gap of more than one and a
//! half line heights, or [`MAX_ROWS`] rows. Rows are joined with single
//! spaces, as printed (SROIE's convention: no comma is added or removed).

use std::sync::LazyLock;

use regex::Regex;

use crate::company::{ADDRESS_WORDS, is_address_like, is_reg_row};
use crate::lines::{Page, digits, has_any_word, letters};
use crate::spell;

/// Longest address block, in rows.
pub(crate) const MAX_ROWS: usize = 6;
/// How far under the name the address may start, in rows.
pub(crate) const SEARCH_ROWS: usize = 6;

const STOP: &[&str] = &[
    "TEL",
    "TELEPHONE",
    "PHONE",
    "FAX",
    "HP",
    "H/P",
    "MOBILE",
    "GST",
    "SST",
    "TAX",
    "VAT",
    "INVOICE",
    "RECEIPT",
    "BILL",
    "CASHIER",
    "DATE",
    "TIME",
    "TABLE",
    "EMAIL",
    "E-MAIL",
    "WEBSITE",
    "WWW",
    "REG",
    "REGISTRATION",
    "ORDER",
    "SLIP",
    "QUOTATION",
    "DOC",
    "DOCUMENT",
    "MEMBER",
    "CASH",
    "COUNTER",
    "POS",
    "TERMINAL",
    "OPEN",
    "BUSINESS",
    "HOURS",
    "WELCOME",
    "THANK",
    "GUEST",
    "CHECK",
    "SITE",
    "OUTLET",
    "CARELINE",
];

fn is_stop(upper: &str) -> bool {
    has_any_word(upper, STOP)
        // "TE1 : +6 03 2026 6386", "6ST ID": contact labels with a look-alike slip.
        || has_any_word(&spell::fix_words(upper, &["TEL", "FAX", "GST"], spell::Reach::LookAlike), &["TEL", "FAX", "GST"])
        || upper.contains("CARELINE")
        || is_email(upper)
        || upper.contains(".COM")
        || upper.contains("WWW.")
        || looks_like_phone(upper)
        || upper.contains("INVOICE")
        || upper.contains("RECEIPT")
        || PHONE_RE.is_match(upper)
        || MONEY_RE.is_match(upper)
        || DATE_RE.is_match(upper)
}

/// "X@Y": an e-mail address ("LOT F21 @ 22" is a misread "&").
fn is_email(upper: &str) -> bool {
    let b = upper.as_bytes();
    (1..b.len().saturating_sub(1))
        .any(|i| b[i] == b'@' && b[i - 1].is_ascii_alphanumeric() && b[i + 1].is_ascii_alphanumeric())
}

/// A Malaysian phone number anywhere in the row: "03-7845 8155", "016-680 8777",
/// "+603-6093-9078", "07-3507405" (a 0 or 60 prefix, then 8+ digits in groups).
static PHONE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:\+?6)?\b0\d{1,2}\s?[-)]\s?\d{3,4}[\s-]?\d{3,4}\b|\+60?\d{1,2}[\s-]\d{3,4}[\s-]?\d{3,4}\b")
        .expect("phone regex")
});
/// A date or a time: the transaction block has begun.
static DATE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"\b\d{1,2}[/-]\d{1,2}[/-](?:\d{4}|\d{2})\b|\b\d{1,2}\s?(?:JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC)[A-Z]*\s?\d{2,4}\b|\b\d{1,2}:\d{2}\b",
    )
    .expect("date regex")
});
/// An amount ("18.00"): item rows, not an address.
static MONEY_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\d+\.\d{2}\b").expect("money regex"));

/// Compiles the module's patterns (see [`crate::init_patterns`]).
pub(crate) fn init() {
    for re in [&PHONE_RE, &DATE_RE, &MONEY_RE] {
        LazyLock::force(re);
    }
}

/// "03-7845 8155", "07-355 2616", "+603-6093-9078": a row that is mostly a phone number.
fn looks_like_phone(upper: &str) -> bool {
    let d = digits(upper);
    let l = letters(upper);
    if d < 8 || l > 2 {
        return false;
    }
    let t = upper.trim_start_matches(['+', '(']);
    t.starts_with('0') || t.starts_with("60") || t.starts_with('1')
}

/// Chosen address: joined text and its rows.
#[derive(Debug, Clone)]
pub(crate) struct AddressPick {
    pub text: String,
    pub rows: Vec<usize>,
    pub confidence: f32,
}

/// `company` is the first and last row of the company block (None: start
/// at the top). The address is looked for under the name, and, when there is
/// none there, above it (some tills print the name under the address).
pub(crate) fn find_address(page: &Page, company: Option<(usize, usize)>) -> Option<AddressPick> {
    let n = page.rows.len();
    match company {
        None => block(page, 0, n),
        Some((first, last)) => block(page, last + 1, n).or_else(|| block(page, 0, first)),
    }
}

/// The address block starting in `first..end` and ending before `end`.
fn block(page: &Page, first: usize, end: usize) -> Option<AddressPick> {
    let n = end;
    // The first address-like row within a few rows under the name; ids,
    // contacts and a branch name or slogan may come first.
    let mut start = None;
    for r in first..n.min(first + SEARCH_ROWS) {
        let u = &page.rows[r].upper;
        if is_stop(u) || (is_reg_row(u) && !has_any_word(u, ADDRESS_WORDS)) {
            continue;
        }
        if is_address_like(u) || starts_with_number(u) {
            start = Some(r);
            break;
        }
    }
    let mut r = start?;
    // A row ending in a comma right above continues into the address
    // ("MENARA DION #02-03, LEVEL 2," above "27, JALAN SULTAN ISMAIL,").
    while r > first {
        let u = &page.rows[r - 1].upper;
        if u.trim_end().ends_with(',') && !is_stop(u) && !is_reg_row(u) && page.gap(r - 1, r) < page.line_h {
            r -= 1;
        } else {
            break;
        }
    }
    let mut rows = Vec::new();
    while r < n && rows.len() < MAX_ROWS {
        let u = &page.rows[r].upper;
        if is_stop(u) || letters(u) + digits(u) == 0 || (is_reg_row(u) && !is_address_like(u)) {
            break;
        }
        if let Some(&prev) = rows.last()
            && page.gap(prev, r) > 1.5 * page.line_h
        {
            break;
        }
        rows.push(r);
        r += 1;
        // The country ends an address.
        if u.trim_end_matches(['.', ',', ' ']).ends_with("MALAYSIA") {
            break;
        }
    }
    if rows.is_empty() {
        return None;
    }
    let joined = rows.iter().map(|&i| page.rows[i].text.as_str()).collect::<Vec<_>>().join(" ");
    let text = tidy_punctuation(&spell::fix_words(&joined, spell::ADDRESS_VOCAB, spell::Reach::OneEdit));
    let strong = rows.iter().filter(|&&i| is_address_like(&page.rows[i].upper)).count();
    let confidence = if strong * 2 >= rows.len() { 0.8 } else { 0.5 };
    Some(AddressPick { text, rows, confidence })
}

/// Drops spaces before commas and full stops ("SUNWAY PYRAMID , NO.3" ->
/// "SUNWAY PYRAMID, NO.3"): OCR engines insert them, printed addresses
/// rarely have them. A full stop between two parts ("TAMAN SRI PUTRA. 81200")
/// becomes a comma: addresses separate their parts with commas (603 ", " to
/// 34 ". " in TRAIN's labels), and the recogniser often loses a comma's
/// tail. Abbreviations ("NO. 1", "P.T. 2811", "KG. BATU") keep theirs.
fn tidy_punctuation(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if matches!(c, ',' | '.') {
            while out.ends_with(' ') {
                out.pop();
            }
        }
        if c == '.' && out.ends_with('.') {
            continue; // "LUMPUR.." is a stain, not punctuation
        }
        if c == '.' && chars.peek() == Some(&' ') && !after_abbreviation(&out) {
            out.push(',');
        } else {
            out.push(c);
        }
    }
    out
}

/// True when `s` ends with a word that an abbreviating full stop follows:
/// one letter, a short form such as "NO", "KG", "JLN", or the house number
/// the address starts with ("75. JALAN SS 22/19").
fn after_abbreviation(s: &str) -> bool {
    const SHORT: &[&str] =
        &["NO", "KG", "BT", "JL", "JLN", "LOT", "PT", "ST", "TMN", "SG", "BDR", "LRG", "SEK", "BLK", "DR", "MT"];
    let w = s.rsplit(|c: char| !c.is_ascii_alphanumeric()).next().unwrap_or("");
    if !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()) {
        return s.trim_start().trim_start_matches(|c: char| c.is_ascii_digit() || c == '-').is_empty();
    }
    w.is_empty() || w.len() == 1 || SHORT.iter().any(|k| w.eq_ignore_ascii_case(k))
}

/// "12, JALAN ...", "NO.2, ...", "NO 7 ...", "NO. J-G-02", "K3-113, ...",
/// "G.23 & G.22, ...": a house or unit number first.
fn starts_with_number(upper: &str) -> bool {
    let t = upper.trim_start();
    let first = t.split([' ', ',']).next().unwrap_or("");
    if digits(first) > 0 && letters(first) <= 2 && first.len() <= 10 {
        return true;
    }
    if let Some(r) = t.strip_prefix("NO")
        && r.starts_with(['.', ':', ' '])
    {
        let r = r.trim_start_matches(['.', ':', ' ']);
        return r.starts_with(|c: char| c.is_ascii_alphanumeric()) && digits(r) > 0;
    }
    t.starts_with(|c: char| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::tidy_punctuation;
    use crate::extract;
    use crate::testutil::column;

    fn address(rows: &[&str]) -> Option<String> {
        extract(&column(rows)).address
    }

    #[test]
    fn block_between_name_and_phone() {
        let rows = [
            "KEDAI MAJU SDN BHD",
            "(CO.REG : 933109-X)",
            "LOT 1851-A & 1851-B, JALAN KPB 6,",
            "KAWASAN PERINDUSTRIAN BALAKONG,",
            "43300 SERI KEMBANGAN, SELANGOR",
            "TEL: 03-8961 1234",
            "DATE: 01/02/2018",
        ];
        assert_eq!(
            address(&rows).as_deref(),
            Some("LOT 1851-A & 1851-B, JALAN KPB 6, KAWASAN PERINDUSTRIAN BALAKONG, 43300 SERI KEMBANGAN, SELANGOR")
        );
    }

    #[test]
    fn stops_at_gst_line_and_keeps_branch_before_it() {
        let rows = [
            "MAJU HARDWARE SDN BHD",
            "NO 7, JALAN BESAR,",
            "43300 SERI KEMBANGAN",
            "(MAJU TESCO BRANCH)",
            "GST ID NO: 000306020352",
            "(CHERAS MALL)",
        ];
        assert_eq!(address(&rows).as_deref(), Some("NO 7, JALAN BESAR, 43300 SERI KEMBANGAN (MAJU TESCO BRANCH)"));
    }

    #[test]
    fn skips_ids_and_contacts_before_the_address() {
        let rows = [
            "B & BEST RESTAURANT",
            "(001610235-P)",
            "GST NO. : 001800839168",
            "NO.12,JALAN SS4C/5,PETALING JAYA",
            "SELANGOR DARUL EHSAN",
            "TEL : 012-2060 778",
        ];
        assert_eq!(address(&rows).as_deref(), Some("NO.12,JALAN SS4C/5,PETALING JAYA SELANGOR DARUL EHSAN"));
    }

    #[test]
    fn country_ends_the_address_and_items_never_join() {
        let rows = ["BOOK CO. (M) SDN BHD", "NO 8, JALAN 7/118B,", "56000 KUALA LUMPUR, MALAYSIA", "POINT CENTRE"];
        assert_eq!(address(&rows).as_deref(), Some("NO 8, JALAN 7/118B, 56000 KUALA LUMPUR, MALAYSIA"));
        let rows = ["SHOP SDN BHD", "12 JALAN SATU", "WIDGET 18.00"];
        assert_eq!(address(&rows).as_deref(), Some("12 JALAN SATU"));
    }

    #[test]
    fn contact_labels_with_ocr_slips_stop_it() {
        let rows = ["MAJU SDN BHD", "27, JALAN SULTAN ISMAIL,", "50250 KUALA LUMPUR.", "Te1 : +6 03 2026 6386"];
        assert_eq!(address(&rows).as_deref(), Some("27, JALAN SULTAN ISMAIL, 50250 KUALA LUMPUR."));
        let rows =
            ["MAJU SDN BHD", "LOT R1, LEBUHRAYA UTARA SELATAN,", "84600 PAGOH, JOHOR", "myNEWScareline 1800 88 1231"];
        assert_eq!(address(&rows).as_deref(), Some("LOT R1, LEBUHRAYA UTARA SELATAN, 84600 PAGOH, JOHOR"));
    }

    #[test]
    fn a_lone_at_sign_is_no_email() {
        let rows = ["TIMES BOOKSTORES", "LOT F21 @ 22, CITTA MALL", "NO 1, JLN PJU 1A/4", "47301", "INFO@TIMES.MY"];
        assert_eq!(address(&rows).as_deref(), Some("LOT F21 @ 22, CITTA MALL NO 1, JLN PJU 1A/4 47301"));
    }

    #[test]
    fn address_above_the_name() {
        let rows = [
            "TQ FOR SHOPPING WITH MYNEWS.COM",
            "UNIT 105, BLOCK A,PUSAT DAGANGAN",
            "NO. 9, JALAN 16/11,,46350,PETALING JAYA,SELANGOR",
            "CARELINE : 1800 88 1231",
            "MYNEWS RETAIL SB(306295-X)",
            "TAX REG ID CBP 000709361664",
            "1 6.00 0.00 6.00 SR",
        ];
        assert_eq!(
            address(&rows).as_deref(),
            Some("UNIT 105, BLOCK A,PUSAT DAGANGAN NO. 9, JALAN 16/11,,46350,PETALING JAYA,SELANGOR")
        );
    }

    #[test]
    fn no_address() {
        assert_eq!(address(&["SHOP SDN BHD", "TAX INVOICE", "ITEM 1.00", "TOTAL 1.00"]), None);
    }

    #[test]
    fn spaces_before_punctuation_are_dropped() {
        assert_eq!(tidy_punctuation("LOT 37636 , JALAN 6/37A , KL ."), "LOT 37636, JALAN 6/37A, KL.");
        assert_eq!(tidy_punctuation("TAMAN SRI PUTRA. 81200 JOHOR."), "TAMAN SRI PUTRA, 81200 JOHOR.");
        assert_eq!(tidy_punctuation("LOT P.T. 2811, NO. 1, KG. BATU"), "LOT P.T. 2811, NO. 1, KG. BATU");
        assert_eq!(tidy_punctuation("NO 4. JALAN AIR BIRU. 81700 KL.."), "NO 4, JALAN AIR BIRU, 81700 KL.");
        assert_eq!(tidy_punctuation("19-1. JALAN MALINJA 2"), "19-1. JALAN MALINJA 2");
    }
}
