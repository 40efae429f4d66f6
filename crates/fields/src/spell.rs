//! Repairs OCR slips in words of a known vocabulary: Malaysian address words
//! (street types, states, big towns) and the trade and legal words of
//! company names. The recogniser confuses a few shapes (`l`/`I`/`1`, `m`/`n`/`h`,
//! `O`/`0`/`Q`, `_` for a faint `L`), so a swap between look-alikes costs
//! half an edit. A word is replaced by the single nearest vocabulary word
//! when that costs at most half an edit (one look-alike swap), or, for
//! address words of seven or more characters, one edit; words already in the
//! vocabulary, mostly digits or shorter than three characters are kept.
//! Company names only get look-alike swaps: "STATIONARY" is a common
//! spelling, not a slip.
//! Inside numbers, `O` is a zero ("4330O" -> "43300"); a vocabulary word cut
//! in two is joined ("Petal ing").
//!
//! Only generic vocabulary lives here, no shop or street names.

/// Address words: street and building types, states, regions and large towns.
pub(crate) const ADDRESS_VOCAB: &[&str] = &[
    "JALAN",
    "JLN",
    "TAMAN",
    "TMN",
    "LORONG",
    "PERSIARAN",
    "LEBUH",
    "LEBUHRAYA",
    "KAWASAN",
    "PERINDUSTRIAN",
    "PERNIAGAAN",
    "KOMPLEKS",
    "COMPLEKS",
    "BANDAR",
    "BARU",
    "KAMPUNG",
    "SEKSYEN",
    "BLOK",
    "BLOCK",
    "BLK",
    "LEVEL",
    "FLOOR",
    "GROUND",
    "TINGKAT",
    "UNIT",
    "LOT",
    "PLAZA",
    "MALL",
    "MENARA",
    "WISMA",
    "BANGUNAN",
    "PUSAT",
    "DAGANGAN",
    "SIMPANG",
    "BATU",
    "BUKIT",
    "SUNGAI",
    "JAYA",
    "INDAH",
    "UTAMA",
    "UTARA",
    "SELATAN",
    "TIMUR",
    "BARAT",
    "TENGAH",
    "PERDANA",
    "DESA",
    "SERI",
    "SRI",
    "AVENUE",
    "ROAD",
    "STREET",
    "PARK",
    "CENTRE",
    "SQUARE",
    "VILLAGE",
    "HEIGHTS",
    "HIGHLANDS",
    "GARDEN",
    "GARDENS",
    "INDUSTRIAL",
    "COMMERCIAL",
    "OFF",
    "SELANGOR",
    "JOHOR",
    "KEDAH",
    "KELANTAN",
    "MELAKA",
    "PAHANG",
    "PERAK",
    "PERLIS",
    "PENANG",
    "PINANG",
    "PULAU",
    "SABAH",
    "SARAWAK",
    "TERENGGANU",
    "NEGERI",
    "SEMBILAN",
    "PUTRAJAYA",
    "WILAYAH",
    "PERSEKUTUAN",
    "DARUL",
    "EHSAN",
    "TAKZIM",
    "MALAYSIA",
    "KUALA",
    "LUMPUR",
    "PETALING",
    "SHAH",
    "ALAM",
    "SUBANG",
    "KLANG",
    "KAJANG",
    "AMPANG",
    "CHERAS",
    "PUCHONG",
    "SERDANG",
    "RAWANG",
    "SEREMBAN",
    "IPOH",
    "BAHRU",
    "SETAPAK",
    "KEPONG",
    "DAMANSARA",
    "BANGSAR",
    "SENTUL",
    "SEGAMBUT",
    "SUNWAY",
    "CYBERJAYA",
    "SEMENYIH",
    "BANGI",
    "GOMBAK",
    "SELAYANG",
    "KEMBANGAN",
    "MUTIARA",
    "SULTAN",
];

/// Look-alike pairs (either order): a swap costs half an edit.
fn looks_alike(a: u8, b: u8) -> bool {
    let pair = |x: u8, y: u8| (a == x && b == y) || (a == y && b == x);
    pair(b'1', b'L')
        || pair(b'1', b'I')
        || pair(b'I', b'L')
        || pair(b'0', b'O')
        || pair(b'Q', b'O')
        || pair(b'D', b'O')
        || pair(b'5', b'S')
        || pair(b'8', b'B')
        || pair(b'6', b'G')
        || pair(b'2', b'Z')
        || pair(b'H', b'M')
        || pair(b'N', b'M')
        || pair(b'H', b'N')
        || pair(b'_', b'L')
        || pair(b'_', b'I')
}

/// Weighted edit distance in half edits: look-alike swaps 1, other edits 2.
fn distance(a: &[u8], b: &[u8]) -> u32 {
    let mut prev: Vec<u32> = (0..=b.len() as u32).map(|j| 2 * j).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        cur[0] = 2 * (i as u32 + 1);
        for (j, &cb) in b.iter().enumerate() {
            let sub = if ca == cb {
                0
            } else if looks_alike(ca, cb) {
                1
            } else {
                2
            };
            cur[j + 1] = (prev[j + 1] + 2).min(cur[j] + 2).min(prev[j] + sub);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// How far a word may be from its vocabulary word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// One look-alike swap.
    LookAlike,
    /// One look-alike swap, or one edit of any kind in words of seven or
    /// more characters.
    OneEdit,
}

/// The vocabulary word an OCR'd word (upper-case) stands for, if any.
fn nearest(upper: &str, vocab: &[&'static str], reach: Reach) -> Option<&'static str> {
    let n = upper.len();
    let letters = upper.bytes().filter(u8::is_ascii_alphabetic).count();
    if n < 3 || letters * 2 <= n || vocab.contains(&upper) {
        return None;
    }
    let limit = if n <= 6 || reach == Reach::LookAlike { 1 } else { 2 };
    let mut best: Option<(u32, &'static str)> = None;
    let mut tie = false;
    for &k in vocab {
        if k.len().abs_diff(n) > 1 || (n <= 4 && k.len() != n) {
            continue;
        }
        let d = distance(upper.as_bytes(), k.as_bytes());
        if d > limit {
            continue;
        }
        match best {
            Some((bd, _)) if d > bd => {}
            Some((bd, bk)) if d == bd => tie |= bk != k,
            _ => {
                best = Some((d, k));
                tie = false;
            }
        }
    }
    if tie { None } else { best.map(|(_, k)| k) }
}

/// Repairs every word of `text` (a run of letters, digits and `_`) against
/// `vocab` (see the module docs), keeping the punctuation around it and the
/// word's case style ("Jaian" -> "Jalan").
pub(crate) fn fix_words(text: &str, vocab: &[&'static str], reach: Reach) -> String {
    let joined = join_split_words(text, vocab);
    let mut out = String::with_capacity(joined.len());
    let mut rest = joined.as_str();
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    while let Some(s) = rest.find(is_word) {
        out.push_str(&rest[..s]);
        let e = rest[s..].find(|c: char| !is_word(c)).map_or(rest.len(), |e| s + e);
        let word = &rest[s..e];
        match nearest(&word.to_ascii_uppercase(), vocab, reach) {
            Some(k) => push_in_case_of(&mut out, k, word),
            None => push_number(&mut out, word),
        }
        rest = &rest[e..];
    }
    out.push_str(rest);
    out
}

/// Puts back together a vocabulary word the recogniser cut in two
/// ("Petal ing Jaya" -> "Petaling Jaya").
fn join_split_words(text: &str, vocab: &[&'static str]) -> String {
    let words: Vec<&str> = text.split(' ').collect();
    let known = |w: &str| vocab.iter().any(|k| k.eq_ignore_ascii_case(w));
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < words.len() {
        if i > 0 {
            out.push(' ');
        }
        let (a, b) = (words[i], words.get(i + 1).copied().unwrap_or(""));
        let alpha = |w: &str| !w.is_empty() && w.bytes().all(|c| c.is_ascii_alphabetic());
        if alpha(a) && alpha(b) && !known(a) && !known(b) && known(&format!("{a}{b}")) {
            out.push_str(a);
            out.push_str(b);
            i += 2;
        } else {
            out.push_str(a);
            i += 1;
        }
    }
    out
}

/// `k` (upper-case) in the case style of `like`: upper, or capitalised when
/// `like` has lower-case letters.
fn push_in_case_of(out: &mut String, k: &str, like: &str) {
    if like.bytes().any(|b| b.is_ascii_lowercase()) {
        out.push_str(&k[..1]);
        out.push_str(&k[1..].to_ascii_lowercase());
    } else {
        out.push_str(k);
    }
}

/// A number with an `O` for a zero ("4330O", "2O18"): three or more digits
/// and no other letter.
fn push_number(out: &mut String, core: &str) {
    let digits = core.bytes().filter(u8::is_ascii_digit).count();
    if digits >= 3 && core.bytes().all(|b| b.is_ascii_digit() || b == b'O' || b == b'o') {
        out.extend(core.chars().map(|c| if c.is_ascii_digit() { c } else { '0' }));
    } else {
        out.push_str(core);
    }
}

#[cfg(test)]
mod tests {
    use super::{ADDRESS_VOCAB, Reach, fix_words};

    fn fix(s: &str) -> String {
        fix_words(s, ADDRESS_VOCAB, Reach::OneEdit)
    }

    #[test]
    fn look_alike_letters_and_digits() {
        assert_eq!(fix("12, Jaian Tampoi 7/4,Kawasan Perindustrlan"), "12, Jalan Tampoi 7/4,Kawasan Perindustrian");
        assert_eq!(fix("LOT 3, TAHAN BERKELEY, 1422-THN DESA"), "LOT 3, TAMAN BERKELEY, 1422-TMN DESA");
        assert_eq!(
            fix("Leve1 2, No: G3, BIk G, Jin PJU 1A/3, QFF JALAN"),
            "Level 2, No: G3, Blk G, Jln PJU 1A/3, OFF JALAN"
        );
        assert_eq!(fix("40300 Shah Alan, SE_ANGOR."), "40300 Shah Alam, SELANGOR.");
        assert_eq!(fix("47301 Petal ing Jaya, JLN SUL TAN"), "47301 Petaling Jaya, JLN SULTAN");
    }

    #[test]
    fn one_edit_only_in_long_words() {
        assert_eq!(fix("GENTING HIGHLANDE PAHANG"), "GENTING HIGHLANDS PAHANG");
        // Short words need a look-alike swap: RAYA is not JAYA, STORY not STORE.
        assert_eq!(fix("TAMAN BUNGA RAYA"), "TAMAN BUNGA RAYA");
        assert_eq!(fix("KENARA DION"), "KENARA DION");
        assert_eq!(fix_words("ABC STATIONARY", &["STATIONERY"], Reach::LookAlike), "ABC STATIONARY");
        assert_eq!(fix_words("ABC PHARHACY", &["PHARMACY"], Reach::LookAlike), "ABC PHARMACY");
    }

    #[test]
    fn zero_inside_numbers_only() {
        assert_eq!(fix("4330O SERI KEMBANGAN"), "43300 SERI KEMBANGAN");
        assert_eq!(fix("NO 10, SS2 KO1"), "NO 10, SS2 KO1");
    }
}
