//! Company name: the top block's best business-name row.
//!
//! Rows of the header (above the first date or amount, at most the first
//! [`HEADER_ROWS`] rows) are scored: a legal suffix (`SDN BHD`, `S/B`,
//! `BERHAD`, `PLT`, ...) is the strongest cue, trade words (`ENTERPRISE`,
//! `TRADING`, `RESTAURANT`, `MART`, ...) the next; address, phone/tax-id and
//! document-title rows ("TAX INVOICE") are penalised; earlier and taller rows
//! win ties. The chosen row is then completed and cleaned the way SROIE
//! writes company names:
//!
//! * a legal suffix alone on the next row (`SDN BHD`), or the rest of a split
//!   `... SDN` / `BHD`, is joined on; a row that *is* only the suffix takes the
//!   row above;
//! * the registration number and what follows are dropped
//!   (`99 SPEED MART S/B (519537-X)` -> `99 SPEED MART S/B`), while
//!   bracketed words stay (`GARDENIA BAKERIES (KL) SDN BHD`).

use std::sync::LazyLock;

use regex::Regex;

use crate::lines::{Page, digits, has_any_word, letters};
use crate::spell;

/// How many rows from the top may hold the company name.
pub(crate) const HEADER_ROWS: usize = 10;

const TRADE: &[&str] = &[
    "ENTERPRISE",
    "ENTERPRISES",
    "TRADING",
    "TRADERS",
    "RESTAURANT",
    "RESTORAN",
    "CAFE",
    "KEDAI",
    "STORE",
    "STORES",
    "MART",
    "HARDWARE",
    "PHARMACY",
    "FARMASI",
    "BAKERY",
    "BAKERIES",
    "SUPERMARKET",
    "HYPERMARKET",
    "MINIMARKET",
    "PASARAYA",
    "BOOK",
    "BOOKS",
    "BOOKSTORE",
    "STATIONERY",
    "MARKETING",
    "RESOURCES",
    "INDUSTRIES",
    "SERVICES",
    "SERVICE",
    "CENTRE",
    "CENTER",
    "MACHINERY",
    "ELECTRICAL",
    "HOLDINGS",
    "GROUP",
    "SYARIKAT",
    "PERNIAGAAN",
    "FOOD",
    "FOODS",
    "SEAFOOD",
    "KITCHEN",
    "BISTRO",
    "SHOP",
    "HOUSE",
    "MARKET",
    "GIFT",
    "DECO",
    "PRINTING",
    "HOTEL",
    "BAR",
    "INTERNATIONAL",
    "GLOBAL",
    "MEDICAL",
    "CLINIC",
    "AUTO",
    "MOTOR",
    "PETROL",
    "STATION",
    "CONFECTIONERY",
    "DISTRIBUTOR",
    "SUPPLY",
    "SUPPLIES",
    "ENGINEERING",
    "CONSTRUCTION",
    "REALTIES",
    "PARKING",
];
/// Words that mark a row as part of an address.
pub(crate) const ADDRESS_WORDS: &[&str] = &[
    "JALAN",
    "JLN",
    "JL",
    "LOT",
    "TAMAN",
    "TMN",
    "LORONG",
    "PERSIARAN",
    "KAWASAN",
    "BANDAR",
    "LEBUH",
    "LEBUHRAYA",
    "KAMPUNG",
    "KG",
    "SEKSYEN",
    "BLOCK",
    "BLOK",
    "BLK",
    "FLOOR",
    "LEVEL",
    "UNIT",
    "PLAZA",
    "MALL",
    "KOMPLEKS",
    "COMPLEKS",
    "ROAD",
    "STREET",
    "AVENUE",
    "SELANGOR",
    "JOHOR",
    "KUALA",
    "LUMPUR",
    "PETALING",
    "PENANG",
    "PERAK",
    "KEDAH",
    "MELAKA",
    "PAHANG",
    "SABAH",
    "SARAWAK",
    "MALAYSIA",
    "BAHRU",
    "PERINDUSTRIAN",
    "INDUSTRIAL",
    "JAYA",
    "DARUL",
    "EHSAN",
];
/// Rows that are not the name: ids, contacts, document titles.
pub(crate) const NOT_NAME: &[&str] = &[
    "TEL",
    "TELEPHONE",
    "PHONE",
    "FAX",
    "HP",
    "GST",
    "SST",
    "TAX",
    "INVOICE",
    "RECEIPT",
    "BILL",
    "CASHIER",
    "DATE",
    "TIME",
    "TABLE",
    "WELCOME",
    "THANK",
    "THANKS",
    "EMAIL",
    "WWW",
    "COM",
    "REG",
    "ORDER",
    "SALE",
    "SALES",
    "SLIP",
    "QUOTATION",
    "COPY",
    "MEMBER",
    "POS",
    "TERMINAL",
    "COUNTER",
    "DOC",
    "SIMPLIFIED",
    "OFFICIAL",
    // The footer of a previous receipt at the top of a scan.
    "SOLD",
    "RETURNABLE",
    "REFUNDABLE",
    "EXCHANGEABLE",
];

/// Postal code + 5 digits.
static POSTCODE_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b\d{5}\b").expect("postcode regex"));

/// Compiles the module's patterns (see [`crate::init_patterns`]).
pub(crate) fn init() {
    LazyLock::force(&POSTCODE_RE);
}

fn has_legal(upper: &str) -> bool {
    has_any_word(upper, &["SDN", "BHD", "BERHAD", "S/B", "PLT", "LLP", "LTD", "LIMITED", "CORPORATION"])
        || upper.contains("SDN.")
        || upper.contains("S/B")
        || upper.contains(" 5/B")
        || upper.contains(" S/8")
        || upper.contains(" 5/8")
        || upper.trim_end().ends_with(" SB")
        || upper.contains(" SB(")
        || upper.contains(" SB ")
}

/// True when the row only holds a legal suffix ("SDN BHD", "SDN. BHD.").
fn is_suffix_only(upper: &str) -> bool {
    let w: String = upper.chars().filter(|c| c.is_ascii_alphabetic() || *c == ' ').collect();
    matches!(w.split_whitespace().collect::<Vec<_>>().join(" ").as_str(), "SDN BHD" | "SDN" | "BHD" | "BERHAD" | "SB")
}

pub(crate) fn is_address_like(upper: &str) -> bool {
    has_any_word(upper, ADDRESS_WORDS) || POSTCODE_RE.is_match(upper)
}

/// Registration-number rows: "(CO.REG : 933109-X)", "789417-W",
/// "(JM0517726)", "CO-REG:860671-D", "COMPANY NO: 1174703-K".
pub(crate) fn is_reg_row(upper: &str) -> bool {
    let l = letters(upper);
    let d = digits(upper);
    if d < 4 {
        return false;
    }
    (l <= 3 && longest_digit_run(upper) >= 5)
        || has_any_word(upper, &["REG", "ROC", "COMPANY NO", "CO NO", "CO. NO", "CO.NO", "BR NO", "BRN"])
        || upper.contains("CO.REG")
        || upper.contains("CO-REG")
        || (upper.trim_start().starts_with('(') && l <= 6)
}

fn longest_digit_run(s: &str) -> usize {
    s.split(|c: char| !c.is_ascii_digit()).map(str::len).max().unwrap_or(0)
}

/// Chosen company: cleaned text and the rows it came from.
#[derive(Debug, Clone)]
pub(crate) struct CompanyPick {
    pub text: String,
    pub rows: Vec<usize>,
    pub confidence: f32,
}

fn name_score(page: &Page, r: usize) -> Option<f32> {
    let row = &page.rows[r];
    let u = &row.upper;
    let l = letters(u);
    if l < 3 {
        return None;
    }
    let mut s = 0.0f32;
    let legal = has_legal(u);
    if legal {
        s += 10.0;
    }
    if has_any_word(u, TRADE) {
        s += 5.0;
    }
    if is_address_like(u) && !legal {
        s -= 8.0;
    }
    if has_any_word(u, NOT_NAME) || u.contains('@') || u.contains("WWW.") || u.contains(".COM") {
        s -= if legal { 3.0 } else { 10.0 };
    }
    if is_reg_row(u) && !legal {
        s -= 10.0;
    }
    // Digits of the name itself, without its registration number.
    let name = &u[..reg_no_start(u)];
    if digits(name) as f32 > letters(name) as f32 * 0.5 {
        s -= 5.0;
    }
    if u.contains(':') && !legal {
        s -= 3.0;
    }
    // Taller print (the shop's name is often larger); a giant box is a
    // logo or a stamp misread as text.
    let h = row.height() / page.line_h;
    if h > 3.0 {
        s -= 3.0;
    } else if h > 1.25 {
        s += 2.0;
    }
    if page.conf_of(&row.items) < 0.6 {
        s -= 3.0;
    }
    s -= 0.6 * r as f32;
    Some(s)
}

/// Last header row (exclusive): the first row holding a date or an amount
/// after some text, capped at [`HEADER_ROWS`].
pub(crate) fn header_end(page: &Page, first_date_row: Option<usize>, first_amount_row: Option<usize>) -> usize {
    let mut end = page.rows.len().min(HEADER_ROWS);
    for r in [first_date_row, first_amount_row].into_iter().flatten() {
        if r >= 2 {
            end = end.min(r);
        }
    }
    end.max(page.rows.len().min(3))
}

/// The best name row among `rows`, with its score.
fn best_row(page: &Page, rows: std::ops::Range<usize>) -> Option<(f32, usize)> {
    let mut best: Option<(f32, usize)> = None;
    // Rows after the contact block (phone, tax id) that follows a name
    // candidate are the customer's or the footer's, not the shop's.
    let mut seen_name = false;
    let mut past_contacts = false;
    for r in rows {
        let Some(mut s) = name_score(page, r) else { continue };
        let u = &page.rows[r].upper;
        if seen_name && is_contact(u) {
            past_contacts = true;
        }
        if past_contacts {
            s -= 8.0;
        }
        seen_name |= s > 0.0;
        if best.is_none_or(|(b, _)| s > b) {
            best = Some((s, r));
        }
    }
    best
}

pub(crate) fn find_company(page: &Page, header_end: usize) -> Option<CompanyPick> {
    let mut best = best_row(page, 0..header_end);
    // A scan that starts with the tail of the previous receipt (its date and
    // amounts) ends the header before the name: with no good name above,
    // look further down.
    let far = page.rows.len().min(HEADER_ROWS);
    if best.is_none_or(|(s, _)| s < 0.0)
        && header_end < far
        && let Some((s, r)) = best_row(page, header_end..far)
        && best.is_none_or(|(b, _)| s - 2.0 > b)
    {
        best = Some((s - 2.0, r));
    }
    let (score, mut r) = best?;
    if score < -6.0 {
        return None;
    }
    let mut rows = vec![r];
    // A row that is only the suffix, or a trade word and the suffix
    // ("RESTAURANT SDN BHD", "CO. (M) SDN BHD"), continues the row above.
    if r > 0 {
        let above = &page.rows[r - 1].upper;
        let suffix_only = is_suffix_only(&page.rows[r].upper);
        let tail_of_above = is_name_tail(&page.rows[r].upper)
            && letters(above) >= 3
            && !is_address_like(above)
            && !is_reg_row(above)
            && !has_any_word(above, NOT_NAME)
            && page.gap(r - 1, r) < 1.5 * page.line_h;
        if suffix_only || tail_of_above {
            r -= 1;
            rows.insert(0, r);
        }
    }
    // A suffix (or the rest of "... SDN") on the next row belongs here.
    let last = *rows.last().expect("row");
    if last + 1 < page.rows.len() && !has_legal_end(&page.rows[last].upper) {
        let next = &page.rows[last + 1];
        if (is_suffix_only(&next.upper) || starts_with_suffix(&next.upper)) && page.gap(last, last + 1) < page.line_h {
            rows.push(last + 1);
        }
    }
    // A trade word alone on the next row ends the name ("TSH POWER HARDWARE"
    // / "TRADING").
    let last = *rows.last().expect("row");
    if last + 1 < page.rows.len() && !has_legal_end(&page.rows[last].upper) {
        let next = &page.rows[last + 1].upper;
        let words: Vec<&str> = next.split_whitespace().collect();
        if !words.is_empty()
            && words.len() <= 2
            && words.iter().all(|w| TRADE.contains(w))
            && page.gap(last, last + 1) < page.line_h
        {
            rows.push(last + 1);
        }
    }
    // A bracketed branch name right under it is part of the name
    // ("CHECKERS HYPERMARKET SDN BHD" / "(JALAN KLANG LAMA)").
    let last = *rows.last().expect("row");
    if last + 1 < page.rows.len() {
        let next = page.rows[last + 1].upper.trim();
        if next.starts_with('(') && next.ends_with(')') && digits(next) == 0 && page.gap(last, last + 1) < page.line_h {
            rows.push(last + 1);
        }
    }
    let joined = rows.iter().map(|&i| page.rows[i].text.as_str()).collect::<Vec<_>>().join(" ");
    let text = clean_name(&joined);
    if letters(&text) < 2 {
        return None;
    }
    let rule = if score >= 8.0 {
        0.9
    } else if score >= 3.0 {
        0.75
    } else {
        0.5
    };
    Some(CompanyPick { text, rows, confidence: rule })
}

/// Phone, fax, tax-id rows.
fn is_contact(upper: &str) -> bool {
    has_any_word(upper, &["TEL", "TELEPHONE", "PHONE", "FAX", "GST", "SST", "EMAIL"]) || upper.contains('@')
}

/// A legal suffix preceded by at most one word ("RESTAURANT SDN BHD",
/// "STATIONERY SDN. BHD", "CO. (M) SDN BHD"): the end of a name printed on
/// two rows.
fn is_name_tail(upper: &str) -> bool {
    if !has_legal(upper) {
        return false;
    }
    let words: Vec<&str> = upper
        .split(|c: char| !c.is_ascii_alphanumeric() && c != '/')
        .filter(|w| w.len() >= 2)
        .filter(|w| !matches!(*w, "SDN" | "BHD" | "BERHAD" | "S/B" | "SB" | "CO" | "M" | "PLT" | "LTD"))
        .collect();
    words.len() <= 1
}

fn has_legal_end(upper: &str) -> bool {
    let t = upper.trim_end_matches(|c: char| !c.is_ascii_alphanumeric());
    t.ends_with("BHD") || t.ends_with("BERHAD") || t.ends_with("S/B") || t.ends_with(" SB")
}

fn starts_with_suffix(upper: &str) -> bool {
    let t = upper.trim_start();
    (t.starts_with("SDN") || t.starts_with("BHD") || t.starts_with("BERHAD")) && letters(t) <= 12
}

/// Cleans a company name the way SROIE writes it: drops a leading
/// "DIMILIKI:" and stray punctuation, the registration number and what
/// follows it; repairs OCR slips in the legal suffix ("SON BHD", "5/B") and
/// trade words split in two ("BAK ERIES").
pub(crate) fn clean_name(s: &str) -> String {
    let mut t = s.trim().trim_start_matches(|c: char| !c.is_ascii_alphanumeric() && c != '(');
    for p in ["DIMILIKI OLEH", "DIMILIKI"] {
        if t.len() > p.len() && t.is_char_boundary(p.len()) && t[..p.len()].eq_ignore_ascii_case(p) {
            t = t[p.len()..].trim_start_matches([':', ' ']);
        }
    }
    let t = &t[..reg_no_start(t)];
    let t = t.trim_end_matches([' ', ',', '-', ':', '(']);
    let words: Vec<&str> = t.split(' ').filter(|w| !w.is_empty()).collect();
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        if i + 1 < words.len() {
            let merged = format!("{w}{}", words[i + 1]).to_ascii_uppercase();
            if w.len() >= 2 && TRADE.contains(&merged.as_str()) {
                out.push(format!("{w}{}", words[i + 1]));
                i += 2;
                continue;
            }
        }
        out.push(w.to_string());
        i += 1;
    }
    fix_legal(&mut out);
    spell::fix_words(&out.join(" "), TRADE, spell::Reach::LookAlike)
}

/// Byte offset where a registration number starts (or the text's length):
/// a bracket holding four or more digits and few letters ("(519537-X)",
/// "(1U79369-P)", "(CO. NO:20154-T)"), a bare "1110644-W", or a
/// "CO. REG" / "COMPANY NO" / "ROC" label.
fn reg_no_start(t: &str) -> usize {
    let u = t.to_ascii_uppercase();
    let b = u.as_bytes();
    let mut cut = t.len();
    for (p, _) in u.match_indices('(') {
        let end = u[p..].find(')').map_or(u.len(), |e| p + e);
        let inner = &u[p + 1..end];
        let labelled = ["REG", "CO.", "CO ", "NO", "ROC", "COMPANY"].iter().any(|k| inner.trim_start().starts_with(k));
        if digits(inner) >= 4 && (letters(inner) <= 3 || labelled) {
            cut = cut.min(p);
            break;
        }
    }
    for key in ["CO.REG", "CO. REG", "CO REG", "CO-REG", "COMPANY NO", "COMPANY REG", "ROC NO", "CO. NO", "CO.NO"] {
        if let Some(p) = u.find(key) {
            cut = cut.min(p);
        }
    }
    // A bare number of five or more digits, maybe with a check letter.
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() && (i == 0 || !b[i - 1].is_ascii_alphanumeric()) {
            let j = (i..b.len()).find(|&k| !b[k].is_ascii_digit()).unwrap_or(b.len());
            let after_ok = j == b.len() || matches!(b[j], b'-' | b' ' | b')');
            if j - i >= 5 && after_ok && i > 0 {
                cut = cut.min(i);
                break;
            }
            i = j;
        } else {
            i += 1;
        }
    }
    while cut > 0 && !t.is_char_boundary(cut) {
        cut -= 1;
    }
    cut
}

/// "SON BHD", "SDN 8HD", "Sdh Bhd" -> "SDN BHD"; "5/B", "5/8" -> "S/B".
fn fix_legal(words: &mut [String]) {
    let n = words.len();
    if n >= 2 {
        let (a, b) = (words[n - 2].to_ascii_uppercase(), words[n - 1].to_ascii_uppercase());
        let a_core = a.trim_end_matches('.');
        let b_core = b.trim_end_matches('.');
        let near =
            |w: &str, k: &str| w.len() == k.len() && w.bytes().zip(k.bytes()).filter(|(x, y)| x != y).count() <= 1;
        // "SDN D": the end of BHD lost at the paper's edge.
        let clipped = a_core == "SDN" && (1..=2).contains(&b_core.len()) && "BHD".ends_with(b_core);
        if clipped || (near(a_core, "SDN") && near(b_core, "BHD") && (a_core != "SDN" || b_core != "BHD")) {
            let dot_a = if a.ends_with('.') { "." } else { "" };
            let dot_b = if b.ends_with('.') { "." } else { "" };
            words[n - 2] = format!("SDN{dot_a}");
            words[n - 1] = format!("BHD{dot_b}");
        }
    }
    if let Some(last) = words.last_mut() {
        let u = last.to_ascii_uppercase();
        if matches!(u.as_str(), "5/B" | "5/8" | "S/8" | "$/B") {
            *last = "S/B".to_string();
        }
    }
    for w in words.iter_mut() {
        fix_initialism(w);
    }
}

/// Dotted initials are letters: "D.1.Y." -> "D.I.Y.", "S.H.0." -> "S.H.O.".
fn fix_initialism(w: &mut String) {
    let parts: Vec<&str> = w.split('.').collect();
    let initials = parts.iter().filter(|p| !p.is_empty()).count();
    let letters = parts.iter().filter(|p| p.len() == 1 && p.as_bytes()[0].is_ascii_alphabetic()).count();
    if initials < 3 || letters < 2 || parts.iter().any(|p| p.len() > 1) {
        return;
    }
    *w = w
        .chars()
        .map(|c| match c {
            '1' => 'I',
            '0' => 'O',
            '5' => 'S',
            '8' => 'B',
            _ => c,
        })
        .collect();
}

#[cfg(test)]
mod tests {
    use super::clean_name;
    use crate::extract;
    use crate::testutil::column;

    fn company(rows: &[&str]) -> Option<String> {
        extract(&column(rows)).company
    }

    #[test]
    fn legal_suffix_beats_slogan_and_title() {
        let rows = ["WELCOME", "TAX INVOICE", "BEST DEALS IN TOWN", "KEDAI MAJU SDN BHD", "12, JALAN MAJU"];
        assert_eq!(company(&rows).as_deref(), Some("KEDAI MAJU SDN BHD"));
        let rows = ["JIMMY LEE", "SYARIKAT MAJU ENTERPRISE", "NO 7, JALAN BESAR"];
        assert_eq!(company(&rows).as_deref(), Some("SYARIKAT MAJU ENTERPRISE"));
    }

    #[test]
    fn top_row_without_cues() {
        let rows = ["HAPPY CORNER", "22, JALAN SATU", "TEL: 03-1234 5678", "DATE: 01/02/2018"];
        assert_eq!(company(&rows).as_deref(), Some("HAPPY CORNER"));
    }

    #[test]
    fn registration_number_is_dropped_brackets_kept() {
        assert_eq!(clean_name("99 MINI MART S/B (519537-X)"), "99 MINI MART S/B");
        assert_eq!(clean_name("BAKERIES (KL) SDN BHD (139386 X)"), "BAKERIES (KL) SDN BHD");
        assert_eq!(clean_name("DION LAND SDN BHD (CO. NO:20154-T)"), "DION LAND SDN BHD");
        assert_eq!(clean_name("DIMILIKI: ROTI CAFE SDN BHD 1110644-W"), "ROTI CAFE SDN BHD");
        assert_eq!(clean_name("SHOP RETAIL SB(306295-X) FKA OLD SB"), "SHOP RETAIL SB");
        assert_eq!(clean_name("ONE ONE THREE SEAFOOD RESTAURANT SDN BHD"), "ONE ONE THREE SEAFOOD RESTAURANT SDN BHD");
    }

    #[test]
    fn ocr_slips_in_the_suffix_are_repaired() {
        assert_eq!(clean_name("AMANO MALAYSIA SON BHD"), "AMANO MALAYSIA SDN BHD");
        assert_eq!(clean_name("Guardian Beauty Sdh Bhd"), "Guardian Beauty SDN BHD");
        assert_eq!(clean_name("99 MINI MART 5/B"), "99 MINI MART S/B");
        assert_eq!(clean_name("GOLD BAK ERIES (KL) SDN BHD"), "GOLD BAKERIES (KL) SDN BHD");
        assert_eq!(clean_name("SEAFOOD RESTAURANT SDN D"), "SEAFOOD RESTAURANT SDN BHD");
        assert_eq!(clean_name("MR. D.1.Y. (M) SDN BHD"), "MR. D.I.Y. (M) SDN BHD");
        assert_eq!(clean_name("99 SPEED HART S/B"), "99 SPEED MART S/B");
        // Not initials: amounts, versions, single dotted words.
        assert_eq!(clean_name("KEDAI 1.5.0 SDN BHD"), "KEDAI 1.5.0 SDN BHD");
    }

    #[test]
    fn name_on_two_rows() {
        let rows = ["LIAN HOE VEGETARIAN", "RESTAURANT SDN BHD", "(1095514-X)", "54, JALAN SS23/11"];
        assert_eq!(company(&rows).as_deref(), Some("LIAN HOE VEGETARIAN RESTAURANT SDN BHD"));
        let rows = ["NANDA CHICKEN MALAYSIA", "SDN BHD", "UNIT G-13, JLN KIARA"];
        assert_eq!(company(&rows).as_deref(), Some("NANDA CHICKEN MALAYSIA SDN BHD"));
        // A brand above a full legal name stays out.
        let rows = ["WATSONS", "WATSON'S PERSONAL CARE STORES SDN BHD", "USJ SUMMIT"];
        assert_eq!(company(&rows).as_deref(), Some("WATSON'S PERSONAL CARE STORES SDN BHD"));
        // A trade word alone on the next row ends the name; an address does not.
        let rows = ["TSH POWER HARDWARE", "TRADING", "002458685-T", "13-1, JALAN PJU 5/10,"];
        assert_eq!(company(&rows).as_deref(), Some("TSH POWER HARDWARE TRADING"));
        let rows = ["KEDAI MAJU HARDWARE", "JALAN BESAR", "002458685-T"];
        assert_eq!(company(&rows).as_deref(), Some("KEDAI MAJU HARDWARE"));
    }

    #[test]
    fn name_under_the_tail_of_the_previous_receipt() {
        let rows = [
            "2 = 0% 4.00 U.UU",
            "THANK YOU AND DO VISIT US AGAIN",
            "[19/06/17] [11:37]",
            "FIVE STAR CASH & CARRY",
            "(1365663-P)",
            "G.23 & G.22, PLAZA SERI SETIA,",
        ];
        assert_eq!(company(&rows).as_deref(), Some("FIVE STAR CASH & CARRY"));
        // Its footer alone, with a misread "THANK".
        let rows = ["GOODS SOLD ARE NOT RETURNABLE THAHK YOU", "SLF CASH & CARRY", "(002107265-V)", "NO. 15 JLN TSJ2"];
        assert_eq!(company(&rows).as_deref(), Some("SLF CASH & CARRY"));
    }

    #[test]
    fn customer_block_after_contacts_is_not_the_shop() {
        let rows = [
            "PERNIAGAAN ZHENG",
            "NO.59 JALAN PERMAS 9/5",
            "TEL : 07-386 7524",
            "GST NO: 000800589824",
            "SIMPLIFIED TAX INVOICE",
            "GOGIANT ENGINEERING (M) SDN BHD",
            "DATE: 12/02/2018",
        ];
        assert_eq!(company(&rows).as_deref(), Some("PERNIAGAAN ZHENG"));
    }
}
