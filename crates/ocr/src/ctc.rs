//! Greedy CTC decoding with the recogniser's character list, an optional
//! per-deployment alphabet, and Unicode normalisation of the result.

use ndarray::ArrayView2;
use unicode_normalization::UnicodeNormalization;

use crate::error::{OcrError, Result};

/// Which characters the decoder may emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Alphabet {
    /// Everything the model knows (multilingual).
    #[default]
    Full,
    /// Latin script: ASCII plus the Latin-1 and Latin Extended-A letters and
    /// common currency signs. Stops CJK look-alikes (`一` for `-`, `口` for
    /// `O`) on Western receipts.
    ///
    /// `scripts/quantize.py` (`latin()`) prunes the Latin recogniser to these
    /// classes; `tests/latin_alphabet.rs` checks that model against
    /// [`Alphabet::admits`].
    Latin,
}

impl Alphabet {
    /// Whether the decoder may emit the class `ch` (one entry of the model's
    /// `character` metadata) under this alphabet.
    pub fn admits(self, ch: &str) -> bool {
        match self {
            Alphabet::Full => true,
            Alphabet::Latin => ch.chars().all(|c| {
                matches!(c, ' '..='~' | '\u{A0}'..='\u{17F}' | '€' | '₹' | '₩' | '₱' | '₫' | '–' | '—' | '‘' | '’' | '“' | '”' | '•')
            }),
        }
    }
}

impl std::str::FromStr for Alphabet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "full" | "all" => Ok(Alphabet::Full),
            "latin" => Ok(Alphabet::Latin),
            other => Err(format!("unknown alphabet `{other}` (expected `full` or `latin`)")),
        }
    }
}

/// Class 0 is the CTC blank, then the model's characters, then a space.
#[derive(Debug, Clone)]
pub struct CtcDecoder {
    classes: Vec<String>,
    /// The classes the alphabet admits besides the space, when it does not
    /// admit them all (then the decoder only looks at these).
    admitted: Option<Vec<usize>>,
    space_boost: f32,
}

impl CtcDecoder {
    /// Builds a decoder from the newline-separated `character` metadata.
    ///
    /// `space_boost` multiplies the space class's probability before each
    /// step's argmax. PP-OCR recognisers under-emit spaces on receipt print
    /// (`Tel : 03-…` comes out as `Tel:03-…`); a boost above 1 restores them.
    pub fn new(characters: &str, alphabet: Alphabet, space_boost: f32) -> Self {
        let mut classes = vec![String::new()];
        classes.extend(characters.split('\n').map(str::to_owned));
        classes.push(" ".to_owned());
        let space = classes.len() - 1;
        let admitted: Vec<usize> = (0..space).filter(|&i| i == 0 || alphabet.admits(&classes[i])).collect();
        let admitted = (admitted.len() < space).then_some(admitted);
        Self { classes, admitted, space_boost }
    }

    /// Decodes one `T×C` matrix of per-step class probabilities into text and
    /// a confidence (the mean probability of the emitted characters).
    pub fn decode(&self, probs: ArrayView2<f32>) -> Result<(String, f32)> {
        if probs.ncols() != self.classes.len() {
            return Err(OcrError::ModelOutput(format!(
                "recogniser has {} classes, its character list {}",
                probs.ncols(),
                self.classes.len()
            )));
        }
        let mut text = String::new();
        let (mut sum, mut n) = (0.0f32, 0u32);
        let mut previous = 0usize;
        for step in probs.rows() {
            let (best, p) = match step.as_slice() {
                Some(step) => self.best_class(step),
                None => self.best_class(&step.to_vec()),
            };
            if best != 0 && best != previous {
                text.push_str(&self.classes[best]);
                sum += p;
                n += 1;
            }
            previous = best;
        }
        let text: String = text.nfkc().collect();
        let confidence = if n == 0 { 0.0 } else { sum / n as f32 };
        Ok((text.trim().to_owned(), confidence))
    }

    /// The admitted class with the highest (space-boosted) probability at one
    /// step, and its raw probability; the first one on ties.
    fn best_class(&self, step: &[f32]) -> (usize, f32) {
        let space = step.len() - 1;
        let (best, p) = match &self.admitted {
            None => first_max(&step[..space]),
            Some(admitted) => {
                admitted.iter().fold((0, f32::MIN), |(b, p), &i| if step[i] > p { (i, step[i]) } else { (b, p) })
            }
        };
        if step[space] * self.space_boost > p { (space, step[space]) } else { (best, p) }
    }
}

/// Index and value of the first maximum. The maximum is found lane-wise so
/// the compiler vectorises it: a multilingual step has 18,710 classes.
fn first_max(values: &[f32]) -> (usize, f32) {
    const LANES: usize = 16;
    let mut lanes = [f32::MIN; LANES];
    let chunks = values.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &v) in lanes.iter_mut().zip(chunk) {
            *lane = if v > *lane { v } else { *lane };
        }
    }
    let max = lanes.iter().chain(rest).fold(f32::MIN, |m, &v| if v > m { v } else { m });
    values.iter().position(|&v| v == max).map_or((0, f32::MIN), |i| (i, max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    // Classes: 0 blank, 1 "A", 2 "B", 3 "一", 4 "：", 5 space.
    const CHARS: &str = "A\nB\n一\n：";

    fn steps(best: &[(usize, f32)]) -> Array2<f32> {
        let mut m = Array2::<f32>::zeros((best.len(), 6));
        for (t, &(c, p)) in best.iter().enumerate() {
            m.row_mut(t).fill((1.0 - p) / 5.0);
            m[[t, c]] = p;
        }
        m
    }

    #[test]
    fn collapses_repeats_and_drops_blanks() {
        let d = CtcDecoder::new(CHARS, Alphabet::Full, 1.0);
        let m = steps(&[(1, 0.9), (1, 0.9), (0, 0.9), (1, 0.7), (5, 0.8), (2, 0.6), (0, 0.99)]);
        let (text, conf) = d.decode(m.view()).unwrap();
        assert_eq!(text, "AA B");
        assert!((conf - (0.9 + 0.7 + 0.8 + 0.6) / 4.0).abs() < 1e-6);
    }

    #[test]
    fn normalises_full_width_punctuation() {
        let d = CtcDecoder::new(CHARS, Alphabet::Full, 1.0);
        let (text, _) = d.decode(steps(&[(1, 0.9), (4, 0.9), (2, 0.9)]).view()).unwrap();
        assert_eq!(text, "A:B");
    }

    #[test]
    fn latin_alphabet_picks_the_best_allowed_class() {
        // "一" wins, but second best is "B".
        let mut m = steps(&[(3, 0.6)]);
        m[[0, 2]] = 0.3;
        assert_eq!(CtcDecoder::new(CHARS, Alphabet::Full, 1.0).decode(m.view()).unwrap().0, "一");
        let (text, conf) = CtcDecoder::new(CHARS, Alphabet::Latin, 1.0).decode(m.view()).unwrap();
        assert_eq!((text.as_str(), conf), ("B", 0.3));
    }

    #[test]
    fn space_boost_restores_weak_spaces_and_reports_raw_confidence() {
        // Step 2 prefers blank (0.6) over space (0.3): no space unless boosted.
        let mut m = steps(&[(1, 0.9), (0, 0.6), (2, 0.9)]);
        m[[1, 5]] = 0.3;
        assert_eq!(CtcDecoder::new(CHARS, Alphabet::Full, 1.0).decode(m.view()).unwrap().0, "AB");
        let (text, conf) = CtcDecoder::new(CHARS, Alphabet::Full, 3.0).decode(m.view()).unwrap();
        assert_eq!(text, "A B");
        assert!((conf - (0.9 + 0.3 + 0.9) / 3.0).abs() < 1e-6);
    }

    #[test]
    fn first_max_matches_a_plain_scan() {
        let values: Vec<f32> = (0..1000).map(|i| ((i * 7919) % 1009) as f32 / 1009.0).collect();
        for len in [1, 15, 16, 17, 999, 1000] {
            let slice = &values[..len];
            let plain = slice.iter().enumerate().fold((0, f32::MIN), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
            assert_eq!(first_max(slice), plain, "length {len}");
        }
        assert_eq!(first_max(&[0.5, 0.9, 0.9]), (1, 0.9), "the first of equal maxima");
    }

    #[test]
    fn all_blank_is_empty_with_zero_confidence() {
        let d = CtcDecoder::new(CHARS, Alphabet::Full, 1.0);
        assert_eq!(d.decode(steps(&[(0, 0.99), (0, 0.99)]).view()).unwrap(), (String::new(), 0.0));
    }

    #[test]
    fn class_count_mismatch_is_an_error() {
        let d = CtcDecoder::new("A", Alphabet::Full, 1.0);
        assert!(d.decode(steps(&[(1, 0.9)]).view()).is_err());
    }

    #[test]
    fn parses_alphabet_names() {
        assert_eq!("Latin".parse::<Alphabet>(), Ok(Alphabet::Latin));
        assert!("klingon".parse::<Alphabet>().is_err());
    }
}
