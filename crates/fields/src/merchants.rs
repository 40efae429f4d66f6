//! A directory of known merchants: the shops a business buys from, with
//! their names and addresses written the way its books want them (an ERP's
//! vendor list). When a receipt's header reads closely like one of them, its
//! `company` and `address` are given as the directory writes them instead
//! of as the OCR read them, so a misread comma or letter no longer costs the
//! field, and the name is the one the books use.
//!
//! Matching is on letters and digits only (case, spacing and punctuation
//! are what OCR gets wrong most). Each entry's name is looked for anywhere in
//! the header's text, allowing edits (an approximate substring match), and
//! so is its address; an entry is taken when its name matches within
//! [`NAME_SIMILARITY`] and, when it has an address, the address within
//! [`ADDRESS_SIMILARITY`]. Among several, the closest wins, so variants of
//! one shop (two branches) each match their own receipts; entries equally
//! close in letters (one shop written two ways) go to the one listed more
//! often, then to the one whose punctuation is nearer the receipt's.
//! Candidates are first narrowed by shared trigrams, so a large directory
//! costs little per receipt.
//!
//! An entry replaces what the rules read only when it is the same thing read
//! better: the name read is (within a few slips) part of the entry's name,
//! and the address read is (within a few slips) the entry's whole address,
//! so a chain's entry without a branch's line does not cut that line off,
//! and a receipt naming two companies keeps the one the rules chose.

use std::collections::HashMap;

use serde::Deserialize;

use crate::lines::Page;

/// Least similarity (1 − edits / length) of an entry's name to the best
/// matching stretch of the header. Tuned on SROIE's TRAIN receipts.
const NAME_SIMILARITY: f32 = 0.8;
/// The same for the entry's address.
const ADDRESS_SIMILARITY: f32 = 0.9;
/// Names shorter than this (letters and digits) are too easy to find by
/// chance.
const MIN_KEY: usize = 5;
/// Candidates per receipt that get the full (approximate) match.
const SHORTLIST: usize = 8;
/// Rows from the top that may hold the name and address.
const HEADER_ROWS: usize = 20;

/// One line of a directory file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Record {
    company: String,
    #[serde(default)]
    address: Option<String>,
}

#[derive(Debug, Clone)]
struct Entry {
    company: String,
    address: Option<String>,
    company_key: Vec<u8>,
    address_key: Vec<u8>,
    grams: Vec<[u8; 3]>,
    /// How many times the file lists it: the last tie-breaker.
    listed: u32,
}

/// Known merchants, loaded once (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Merchants {
    entries: Vec<Entry>,
    /// Trigram -> the entries that have it.
    index: HashMap<[u8; 3], Vec<u32>>,
}

/// A directory file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantsError {
    /// 1-based line of the file.
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for MerchantsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for MerchantsError {}

impl Merchants {
    /// Reads JSON Lines, one `{"company": "...", "address": "..."}` per line
    /// (`address` optional; blank lines skipped). An entry listed several
    /// times wins ties with its variants.
    pub fn from_jsonl(text: &str) -> Result<Merchants, MerchantsError> {
        let mut entries: Vec<Entry> = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            let record: Record =
                serde_json::from_str(raw).map_err(|e| MerchantsError { line: n + 1, message: e.to_string() })?;
            let company_key = key(&record.company);
            if company_key.len() < MIN_KEY {
                return Err(MerchantsError {
                    line: n + 1,
                    message: format!("`company` needs at least {MIN_KEY} letters or digits"),
                });
            }
            let address = record.address.filter(|a| !key(a).is_empty());
            let address_key = address.as_deref().map(key).unwrap_or_default();
            let entry = Entry {
                grams: trigrams(&[company_key.as_slice(), &address_key].concat()),
                listed: 1,
                address_key,
                company: record.company.trim().to_string(),
                address: address.map(|a| a.trim().to_string()),
                company_key,
            };
            match entries.iter_mut().find(|e| e.company == entry.company && e.address == entry.address) {
                Some(e) => e.listed += 1,
                None => entries.push(entry),
            }
        }
        let mut index: HashMap<[u8; 3], Vec<u32>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            for g in &e.grams {
                index.entry(*g).or_default().push(i as u32);
            }
        }
        Ok(Merchants { entries, index })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry a receipt's header names, if any; `read_address` is the
    /// address as the rules read it, to choose between entries that differ
    /// only in punctuation.
    pub(crate) fn find(&self, page: &Page, read_address: Option<&str>) -> Option<Found<'_>> {
        let header = Header::of(page);
        if header.text.len() < MIN_KEY {
            return None;
        }
        // Shortlist: the entries sharing the most trigrams with the header.
        let mut shared = vec![0u32; self.entries.len()];
        for g in trigrams(&header.text) {
            for &i in self.index.get(&g).map_or(&[][..], Vec::as_slice) {
                shared[i as usize] += 1;
            }
        }
        let mut shortlist: Vec<(f32, usize)> = shared
            .iter()
            .enumerate()
            .map(|(i, &n)| (n as f32 / self.entries[i].grams.len().max(1) as f32, i))
            .filter(|(share, _)| *share >= 0.4)
            .collect();
        shortlist.sort_by(|a, b| b.0.total_cmp(&a.0));
        shortlist.truncate(SHORTLIST);
        let mut best: Option<(f32, Found)> = None;
        for (_, i) in shortlist {
            let e = &self.entries[i];
            let name = approximate_find(&e.company_key, &header.text);
            if name.similarity < NAME_SIMILARITY {
                continue;
            }
            let address = (!e.address_key.is_empty()).then(|| approximate_find(&e.address_key, &header.text));
            if address.as_ref().is_some_and(|a| a.similarity < ADDRESS_SIMILARITY) {
                continue;
            }
            // Punctuation only breaks ties between equally close entries.
            let punctuation = match (e.address.as_deref(), read_address) {
                (Some(a), Some(r)) => text_similarity(a, r),
                _ => 0.0,
            };
            let score = name.similarity
                + address.as_ref().map_or(0.0, |a| a.similarity)
                + 0.001 * e.listed.min(99) as f32
                + 1e-5 * punctuation;
            if best.as_ref().is_none_or(|(s, _)| score > *s) {
                let rows = |m: &Match| header.rows_of(m.start, m.end);
                let found = Found {
                    company: &e.company,
                    company_rows: rows(&name),
                    company_similarity: name.similarity,
                    address: e.address.as_deref().zip(address.as_ref().map(|a| (rows(a), a.similarity))),
                };
                best = Some((score, found));
            }
        }
        best.map(|(_, found)| found)
    }
}

/// A directory entry found on a receipt.
#[derive(Debug, Clone)]
pub(crate) struct Found<'a> {
    pub company: &'a str,
    pub company_rows: Vec<usize>,
    pub company_similarity: f32,
    /// The entry's address, the rows it was read on and its similarity.
    pub address: Option<(&'a str, (Vec<usize>, f32))>,
}

/// True when `read` is, within a few slips, a part of `known` (a name
/// read from one of its two rows, or with a misread letter).
pub(crate) fn extends(known: &str, read: &str) -> bool {
    let (k, r) = (key(known), key(read));
    !r.is_empty() && approximate_find(&r, &k).similarity >= 0.8
}

/// True when `known` can stand for the whole of `read`: close in letters
/// and digits, and not missing a part of it (a chain's address without the
/// branch's line under it).
pub(crate) fn stands_for(known: &str, read: &str) -> bool {
    let (k, r) = (key(known), key(read));
    r.len() <= k.len() + 4 && similarity(&k, &r) >= 0.8
}

/// 1 − edits / length between two texts, upper-cased, spaces collapsed.
fn text_similarity(a: &str, b: &str) -> f32 {
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_uppercase().into_bytes();
    similarity(&norm(a), &norm(b))
}

fn similarity(a: &[u8], b: &[u8]) -> f32 {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, &x) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, &y) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(x != y)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    1.0 - prev[b.len()] as f32 / a.len().max(b.len()).max(1) as f32
}

/// Letters and digits, upper-case.
fn key(s: &str) -> Vec<u8> {
    crate::lines::fold_text(s).bytes().filter(u8::is_ascii_alphanumeric).map(|b| b.to_ascii_uppercase()).collect()
}

fn trigrams(k: &[u8]) -> Vec<[u8; 3]> {
    let mut g: Vec<[u8; 3]> = k.windows(3).map(|w| [w[0], w[1], w[2]]).collect();
    g.sort_unstable();
    g.dedup();
    g
}

/// The header's letters and digits, each with its row.
struct Header {
    text: Vec<u8>,
    row: Vec<usize>,
}

impl Header {
    fn of(page: &Page) -> Header {
        let (mut text, mut row) = (Vec::new(), Vec::new());
        for (r, rw) in page.rows.iter().enumerate().take(HEADER_ROWS) {
            for b in rw.upper.bytes().filter(u8::is_ascii_alphanumeric) {
                text.push(b);
                row.push(r);
            }
        }
        Header { text, row }
    }

    /// Rows of `text[start..end]`.
    fn rows_of(&self, start: usize, end: usize) -> Vec<usize> {
        let mut rows: Vec<usize> = self.row[start..end.max(start + 1).min(self.row.len())].to_vec();
        rows.dedup();
        rows
    }
}

struct Match {
    start: usize,
    end: usize,
    similarity: f32,
}

/// The stretch of `hay` closest to `needle` by edit distance (an
/// approximate substring match: skipping into and out of `hay` is free).
fn approximate_find(needle: &[u8], hay: &[u8]) -> Match {
    let (end, edits) = best_end(needle, hay);
    // The start: the same search backwards from the end.
    let rev_needle: Vec<u8> = needle.iter().rev().copied().collect();
    let rev_hay: Vec<u8> = hay[..end].iter().rev().copied().collect();
    let (back, _) = best_end(&rev_needle, &rev_hay);
    let similarity = 1.0 - edits as f32 / needle.len().max(1) as f32;
    Match { start: end - back, end, similarity }
}

/// End (exclusive) in `hay` of the stretch nearest to `needle`, and its edits.
fn best_end(needle: &[u8], hay: &[u8]) -> (usize, usize) {
    // Column per needle position; row 0 is free to start anywhere in hay.
    let mut col: Vec<usize> = (0..=needle.len()).collect();
    let mut best = (0, needle.len());
    for (j, &h) in hay.iter().enumerate() {
        let mut diag = col[0];
        col[0] = 0;
        for (i, &n) in needle.iter().enumerate() {
            let sub = diag + usize::from(n != h);
            diag = col[i + 1];
            col[i + 1] = sub.min(col[i] + 1).min(col[i + 1] + 1);
        }
        if col[needle.len()] < best.1 {
            best = (j + 1, col[needle.len()]);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::{Merchants, approximate_find};
    use crate::extract_with;
    use crate::testutil::column;

    fn directory() -> Merchants {
        Merchants::from_jsonl(
            r#"{"company": "GARDENIA BAKERIES (KL) SDN BHD", "address": "LOT 3, JALAN PELABUR 23/1, 40300 SHAH ALAM, SELANGOR."}

{"company": "SANYU STATIONERY SHOP", "address": "NO. 31G&33G, JALAN SETIA INDAH X ,U13/X 40170 SETIA ALAM"}
{"company": "KEDAI MAJU"}"#,
        )
        .unwrap()
    }

    #[test]
    fn approximate_substring() {
        let m = approximate_find(b"JALANMAJU", b"XXJALNMAJUYY");
        assert_eq!((m.start, m.end), (2, 10));
        assert!((m.similarity - (1.0 - 1.0 / 9.0)).abs() < 1e-6);
    }

    #[test]
    fn a_misread_header_takes_the_directory_spelling() {
        let rows = [
            "GARDENLA BAKERIES (KLI SDN BHD",
            "(139386 X)",
            "Lot 3, Jalan Pelabar 23/1, 40300 Shah A lam, Selangor.",
            "INVOICE NO: 1234",
            "TOTAL 9.00",
        ];
        let f = extract_with(&column(&rows), Some(&directory()));
        assert_eq!(f.company.as_deref(), Some("GARDENIA BAKERIES (KL) SDN BHD"));
        assert_eq!(f.address.as_deref(), Some("LOT 3, JALAN PELABUR 23/1, 40300 SHAH ALAM, SELANGOR."));
        let sources = f.sources;
        assert_eq!(sources.company.as_ref().unwrap().lines, vec![0]);
        assert!(sources.company.unwrap().from_directory);
        assert_eq!(sources.address.unwrap().lines, vec![2]);
        assert!(!sources.total.unwrap().from_directory);
    }

    #[test]
    fn an_entry_without_address_keeps_the_receipts() {
        let rows = ["KEDAl MAJU", "12, JALAN BESAR, 50000 KUALA LUMPUR", "TOTAL 9.00"];
        let f = extract_with(&column(&rows), Some(&directory()));
        assert_eq!(f.company.as_deref(), Some("KEDAI MAJU"));
        assert_eq!(f.address.as_deref(), Some("12, JALAN BESAR, 50000 KUALA LUMPUR"));
        assert!(!f.sources.address.unwrap().from_directory);
    }

    #[test]
    fn unknown_shops_and_other_branches_are_read_from_the_receipt() {
        let d = directory();
        let rows = ["SYARIKAT BARU SDN BHD", "1, JALAN SATU, 43000 KAJANG", "TOTAL 9.00"];
        assert_eq!(extract_with(&column(&rows), Some(&d)), extract_with(&column(&rows), None));
        // The name matches, the address is another branch's: not this entry.
        let rows = ["SANYU STATIONERY SHOP", "NO. 5, JALAN TIGA, 81200 JOHOR BAHRU", "TOTAL 9.00"];
        let f = extract_with(&column(&rows), Some(&d));
        assert!(!f.sources.company.unwrap().from_directory);
    }

    #[test]
    fn only_the_same_thing_read_better_is_replaced() {
        let d = Merchants::from_jsonl(
            r#"{"company": "99 SPEED MART S/B", "address": "LOT P.T. 2811, JALAN ANGSA, TAMAN BERKELEY 41150 KLANG, SELANGOR"}
{"company": "GOLDEN ARCHES RESTAURANTS SDN BHD", "address": "LEVEL 6, BANGUNAN TH, DAMANSARA UPTOWN3"}"#,
        )
        .unwrap();
        // The chain's address without this branch's line does not cut it off.
        let rows = [
            "9 SPEED MART S/0 (519537-X)",
            "LOT P.T. 2811, JALAN ANGSA,",
            "TAMAN BERKELEY 41150 KLANG, SELANGOR",
            "1320-TMN BATU",
            "GST ID. NO : 000181747712",
            "TOTAL 9.00",
        ];
        let f = extract_with(&column(&rows), Some(&d));
        assert_eq!(f.company.as_deref(), Some("99 SPEED MART S/B"));
        assert!(f.address.unwrap().ends_with("1320-TMN BATU"));
        // A receipt naming two companies keeps the one the rules chose.
        let rows = [
            "GERBANG ALAF RESTAURANTS SDN BHD",
            "(65351-M)",
            "LICENSEE OF GOLDEN ARCHES RESTAURANTS SDN BHD",
            "LEVEL 6, BANGUNAN TH, DAMANSARA UPTOWN3",
            "TOTAL 9.00",
        ];
        let f = extract_with(&column(&rows), Some(&d));
        assert_eq!(f.company.as_deref(), Some("GERBANG ALAF RESTAURANTS SDN BHD"));
    }

    #[test]
    fn one_shop_written_two_ways_takes_the_more_common() {
        let d = Merchants::from_jsonl(
            r#"{"company": "KEDAI MAJU", "address": "NO.1, JALAN BESAR, 43800 DENGKIL"}
{"company": "KEDAI MAJU", "address": "NO. 1, JALAN BESAR, 43800 DENGKIL"}
{"company": "KEDAI MAJU", "address": "NO. 1, JALAN BESAR, 43800 DENGKIL"}"#,
        )
        .unwrap();
        assert_eq!(d.len(), 2);
        let rows = ["KEDAI MAJU", "NO.1, JALAN BESAR, 43800 DENGKlL", "TOTAL 9.00"];
        let f = extract_with(&column(&rows), Some(&d));
        assert_eq!(f.address.as_deref(), Some("NO. 1, JALAN BESAR, 43800 DENGKIL"));
    }

    #[test]
    fn bad_files_name_their_line() {
        let e = Merchants::from_jsonl("{\"company\": \"KEDAI MAJU\"}\n{\"name\": \"X\"}").unwrap_err();
        assert_eq!(e.line, 2);
        let e = Merchants::from_jsonl("{\"company\": \"A B\"}").unwrap_err();
        assert!(e.message.contains("at least"), "{e}");
        let e = Merchants::from_jsonl("not json").unwrap_err();
        assert_eq!(e.line, 1);
        assert_eq!(Merchants::from_jsonl("\n\n").unwrap().len(), 0);
    }
}
