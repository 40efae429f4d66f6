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
/// chance: such an entry ("IKEA") is used only with its address.
const MIN_KEY: usize = 5;
/// Candidates per receipt that get the full (approximate) match.
const SHORTLIST: usize = 8;
/// Rows from the top that may hold the name and address, and the letters
/// and digits taken from each row and in all: bounds the matching's cost
/// whatever the lines (a PDF's text layer can have very long ones).
const HEADER_ROWS: usize = 20;
const ROW_KEY: usize = 200;
const HEADER_KEY: usize = 2000;
/// Longest name and address of an entry (letters and digits).
const NAME_KEY: usize = 100;
const ADDRESS_KEY: usize = 250;

/// One line of a directory file; other keys (an ERP's ids, tax numbers)
/// are ignored.
#[derive(Debug, Clone, Deserialize)]
struct Record {
    company: String,
    #[serde(default)]
    address: Option<String>,
    /// The ERP's own key for the shop (a string or an integer), given back
    /// as `merchant_id` so a client can link the receipt to its record.
    #[serde(default)]
    id: Option<Id>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Id {
    Text(String),
    Number(i64),
}

#[derive(Debug, Clone)]
struct Entry {
    company: String,
    address: Option<String>,
    id: Option<String>,
    company_key: Vec<u8>,
    address_key: Vec<u8>,
    grams: Vec<[u8; 3]>,
    /// How many times the file lists it: breaks ties between variants.
    listed: u32,
}

/// Known merchants, loaded once (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct Merchants {
    entries: Vec<Entry>,
    /// Trigram -> the entries that have it.
    index: HashMap<[u8; 3], Vec<u32>>,
    skipped: usize,
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
    /// Reads JSON Lines, one `{"company": "...", "address": "...", "id": ...}`
    /// per line (`address` and `id` optional, other keys ignored, blank lines
    /// skipped). A line that is not such an object is an error; an entry that
    /// cannot be matched safely (a name of under five letters and digits
    /// without an address) or cheaply (a name over 100 letters and digits, an
    /// address over 250) is skipped and counted in [`Merchants::skipped`].
    pub fn from_jsonl(text: &str) -> Result<Merchants, MerchantsError> {
        let mut entries: Vec<Entry> = Vec::new();
        let mut seen: HashMap<(String, Option<String>), usize> = HashMap::new();
        let mut skipped = 0;
        for (n, raw) in text.trim_start_matches('\u{feff}').lines().enumerate() {
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            let record: Record = serde_json::from_str(raw).map_err(|e| MerchantsError {
                line: n + 1,
                // serde's wording without the line's contents.
                message: format!("not a {{\"company\", \"address\"}} object ({:?} error)", e.classify()),
            })?;
            let company = record.company.trim().to_string();
            let address = record.address.map(|a| a.trim().to_string());
            let (company_key, address_key) = (key(&company), address.as_deref().map(key).unwrap_or_default());
            // An address without letters or digits is none.
            let address = address.filter(|_| !address_key.is_empty());
            let unsafe_name = company_key.len() < 3 || (company_key.len() < MIN_KEY && address_key.is_empty());
            if unsafe_name || company_key.len() > NAME_KEY || address_key.len() > ADDRESS_KEY {
                skipped += 1;
                continue;
            }
            match seen.entry((company.clone(), address.clone())) {
                std::collections::hash_map::Entry::Occupied(listed) => {
                    entries[*listed.get()].listed += 1;
                    continue;
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(entries.len());
                }
            }
            let id = record.id.map(|id| match id {
                Id::Text(t) => t,
                Id::Number(n) => n.to_string(),
            });
            entries.push(Entry {
                id,
                grams: trigrams(&[company_key.as_slice(), &address_key].concat()),
                listed: 1,
                address_key,
                company,
                address,
                company_key,
            });
        }
        let mut index: HashMap<[u8; 3], Vec<u32>> = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            for g in &e.grams {
                index.entry(*g).or_default().push(i as u32);
            }
        }
        Ok(Merchants { entries, index, skipped })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Lines left out because they could not be matched safely.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// The entry a receipt's header names, if any; `read_address` is the
    /// address as the rules read it, to choose between entries that differ
    /// only in punctuation.
    pub(crate) fn find(&self, page: &Page, read_address: Option<&str>) -> Option<Found<'_>> {
        let header = Header::of(page);
        if header.text.len() < 3 {
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
        // The closest entries: name and address both within their limits.
        let mut close: Vec<Close> = Vec::new();
        for (_, i) in shortlist {
            let e = &self.entries[i];
            let name = best_end(&e.company_key, &header.text);
            let name_similarity = similarity_of(name.1, e.company_key.len());
            if name_similarity < NAME_SIMILARITY {
                continue;
            }
            let address = (!e.address_key.is_empty()).then(|| best_end(&e.address_key, &header.text));
            let address_similarity = address.map(|a| similarity_of(a.1, e.address_key.len()));
            if address_similarity.is_some_and(|s| s < ADDRESS_SIMILARITY)
                || (address.is_none() && e.company_key.len() < MIN_KEY)
            {
                continue;
            }
            close.push(Close { score: name_similarity + address_similarity.unwrap_or(0.0), entry: i, name, address });
        }
        // Closest first; equally close variants of one shop: the one listed
        // more often, then the one punctuated like the receipt.
        let top = close.iter().map(|c| c.score).fold(f32::MIN, f32::max);
        let tied = close.iter().filter(|c| c.score == top);
        let most_listed = tied.clone().map(|c| self.entries[c.entry].listed).max()?;
        let punctuation = |c: &Close| match (self.entries[c.entry].address.as_deref(), read_address) {
            (Some(a), Some(r)) => text_similarity(a, r),
            _ => 0.0,
        };
        let (_, winner) = tied
            .filter(|c| self.entries[c.entry].listed == most_listed)
            .map(|c| (punctuation(c), c))
            .max_by(|a, b| a.0.total_cmp(&b.0))?;
        let e = &self.entries[winner.entry];
        let name = locate(&e.company_key, &header.text, winner.name);
        Some(Found {
            entry: e,
            company_rows: header.rows_of(name.start, name.end),
            company_similarity: name.similarity,
            address_read: winner.address.map(|a| {
                let m = locate(&e.address_key, &header.text, a);
                (header.rows_of(m.start, m.end), m.similarity)
            }),
        })
    }
}

/// An entry close enough to the header: its name's and address's summed
/// similarity, and where each ends in the header with its edits.
struct Close {
    score: f32,
    entry: usize,
    name: (usize, usize),
    address: Option<(usize, usize)>,
}

/// A directory entry found on a receipt.
#[derive(Debug, Clone)]
pub(crate) struct Found<'a> {
    entry: &'a Entry,
    pub company_rows: Vec<usize>,
    pub company_similarity: f32,
    /// The rows the entry's address was read on and its similarity.
    pub address_read: Option<(Vec<usize>, f32)>,
}

impl<'a> Found<'a> {
    pub fn id(&self) -> Option<&'a str> {
        self.entry.id.as_deref()
    }

    pub fn company(&self) -> &'a str {
        &self.entry.company
    }

    /// The entry's address, when it has one (then `address_read` says
    /// where it was found).
    pub fn address(&self) -> Option<&'a str> {
        self.entry.address.as_deref()
    }

    /// True when the name the rules read is, within a few slips, a part of
    /// the entry's (a name read from one of its two rows, or with a
    /// misread letter).
    pub fn names(&self, read: &str) -> bool {
        let (k, r) = (&self.entry.company_key, key(read));
        !r.is_empty() && r.len() <= k.len() + 4 && similarity_of(best_end(&r, k).1, r.len()) >= 0.8
    }

    /// True when the entry's address can stand for the whole of the address
    /// the rules read: close in letters and digits, and not missing a part
    /// of it (a chain's address without the branch's line under it).
    pub fn covers_address(&self, read: &str) -> bool {
        let (k, r) = (&self.entry.address_key, key(read));
        r.len() <= k.len() + 4 && similarity(k, &r) >= 0.8
    }
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
            for b in rw.upper.bytes().filter(u8::is_ascii_alphanumeric).take(ROW_KEY) {
                if text.len() == HEADER_KEY {
                    break;
                }
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

/// 1 − edits / length.
fn similarity_of(edits: usize, len: usize) -> f32 {
    1.0 - edits as f32 / len.max(1) as f32
}

/// The stretch of `hay` closest to `needle` by edit distance (an
/// approximate substring match: skipping into and out of `hay` is free).
#[cfg(test)]
fn approximate_find(needle: &[u8], hay: &[u8]) -> Match {
    locate(needle, hay, best_end(needle, hay))
}

/// The whole stretch, given its end and edits from [`best_end`]: the start
/// is the same search backwards from the end.
fn locate(needle: &[u8], hay: &[u8], (end, edits): (usize, usize)) -> Match {
    let rev_needle: Vec<u8> = needle.iter().rev().copied().collect();
    let rev_hay: Vec<u8> = hay[..end].iter().rev().copied().collect();
    let (back, _) = best_end(&rev_needle, &rev_hay);
    Match { start: end - back, end, similarity: similarity_of(edits, needle.len()) }
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
            r#"{"company": "GARDENIA BAKERIES (KL) SDN BHD", "address": "LOT 3, JALAN PELABUR 23/1, 40300 SHAH ALAM, SELANGOR.", "id": 4711}

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
        assert_eq!(f.merchant_id.as_deref(), Some("4711"));
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
        let f = extract_with(&column(&rows), Some(&d));
        assert_eq!(f, extract_with(&column(&rows), None));
        assert_eq!(f.merchant_id, None);
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
        let e = Merchants::from_jsonl("{\"company\": \"KEDAI MAJU\", \"id\": [1]}").unwrap_err();
        assert_eq!(e.line, 1);
        let e = Merchants::from_jsonl("not json").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(!e.message.contains("not json"), "the file's contents stay out of messages: {e}");
        assert_eq!(Merchants::from_jsonl("\n\n").unwrap().len(), 0);
    }

    #[test]
    fn lenient_where_an_erp_export_differs() {
        // A byte-order mark, keys of its own, a short name with an address.
        let d = Merchants::from_jsonl(concat!(
            "\u{feff}{\"id\": 7, \"company\": \"IKEA\", \"address\": \"1, JALAN PJU 7/2, MUTIARA DAMANSARA\"}\n",
            "{\"company\": \"KFC\"}\n",
            "{\"company\": \"A B\", \"address\": \"\"}\n",
        ))
        .unwrap();
        assert_eq!((d.len(), d.skipped()), (1, 2));
        let rows = ["IKEA", "1, JALAN PJU 7/2, MUTIARA DAMANSARA", "TOTAL 9.00"];
        assert!(extract_with(&column(&rows), Some(&d)).sources.company.unwrap().from_directory);
        // Without its address a short name is not enough.
        let rows = ["IKEA", "12, JALAN LAIN, 43000 KAJANG", "TOTAL 9.00"];
        assert!(!extract_with(&column(&rows), Some(&d)).sources.company.unwrap().from_directory);
    }

    #[test]
    fn very_long_lines_are_matched_within_bounds() {
        let long = "GARDENIA BAKERIES (KL) SDN BHD ".repeat(3000);
        let rows = [long.as_str(), "LOT 3, JALAN PELABUR 23/1, 40300 SHAH ALAM, SELANGOR.", "TOTAL 9.00"];
        let f = extract_with(&column(&rows), Some(&directory()));
        assert_eq!(f.address.as_deref(), Some("LOT 3, JALAN PELABUR 23/1, 40300 SHAH ALAM, SELANGOR."));
    }
}
