//! The start-up probe: int8 kernels are checked on the CPU that runs them.
//!
//! ONNX Runtime picks its int8 kernels from CPUID, and some of them (AVX2
//! and AVX-512 without VNNI) sum in 16 bits that can saturate: a model
//! quantised for one CPU class can read wrong text on another while every
//! request still succeeds. So once the int8 models load, they read a small
//! receipt whose text is known (`probe/receipt.jpg`, made by
//! `scripts/make_probe.py`: faint thermal print, which such kernels garble).
//! If the text differs from `probe/receipt.txt` by more than [`MAX_CER`],
//! the engine is loaded again with the fp32 models, which read the same on
//! every CPU, and the report says why.

use std::fmt;
use std::path::Path;

use crate::ctc::Alphabet;
use crate::engine::RuntimeOptions;
use crate::error::Result;
use crate::models::{ModelFiles, Precision};
use crate::pipeline::{OcrEngine, OcrOptions};

const IMAGE: &[u8] = include_bytes!("../probe/receipt.jpg");
const EXPECTED: &str = include_str!("../probe/receipt.txt");

/// The largest character error rate on the probe that passes. Correct
/// engines (fp32, int8 on AVX-512 VNNI and on emulated AVX2) read it
/// exactly; int8 models with saturating kernels were measured at 5-7 %
/// (docs/performance.md). 2 % leaves room for a character or two of
/// legitimate kernel difference without letting a garbled read through.
pub const MAX_CER: f64 = 0.02;

/// What to do when the int8 models fail the probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProbePolicy {
    /// Serve the fp32 models instead, and say so.
    #[default]
    Fallback,
    /// Refuse to load: the caller wants int8 or nothing.
    Fail,
    /// Do not run the probe.
    Off,
}

impl std::str::FromStr for ProbePolicy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fallback" => Ok(Self::Fallback),
            "fail" => Ok(Self::Fail),
            "off" => Ok(Self::Off),
            other => Err(format!("unknown probe policy `{other}` (expected `fallback`, `fail` or `off`)")),
        }
    }
}

/// How the engine's precision was settled.
#[derive(Debug, Clone, PartialEq)]
pub struct PrecisionReport {
    /// What the configuration asked for.
    pub requested: Precision,
    /// What the engine runs.
    pub in_use: Precision,
    /// The probe's character error rate, when it ran.
    pub probe_cer: Option<f64>,
    /// Why `in_use` differs from `requested`.
    pub fallback_reason: Option<String>,
}

impl fmt::Display for PrecisionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.in_use.as_str())?;
        match (&self.fallback_reason, self.probe_cer) {
            (Some(why), _) => write!(f, " instead of {} ({why})", self.requested.as_str()),
            (None, Some(cer)) => write!(f, " (start-up probe passed, CER {cer:.3})"),
            (None, None) => Ok(()),
        }
    }
}

/// The probe's character error rate for this engine: edits between what it
/// reads and the known text, over the known text's length. Lines are
/// compared in reading order with runs of whitespace as one space.
pub fn probe_cer(engine: &OcrEngine) -> Result<f64> {
    // Not a request: its stage timings stay out of the process's metrics.
    let lines = metrics::with_local_recorder(&metrics::NoopRecorder, || engine.read_bytes(IMAGE))?;
    let read = normalise(&lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>().join("\n"));
    let expected = normalise(EXPECTED);
    Ok(edit_distance(&read, &expected) as f64 / expected.len().max(1) as f64)
}

/// Loads the engine for `precision` from `dir`; int8 engines must pass the
/// probe first, as `policy` says.
pub fn load_checked(
    dir: &Path,
    precision: Precision,
    alphabet: Alphabet,
    runtime: &RuntimeOptions,
    options: OcrOptions,
    policy: ProbePolicy,
) -> Result<(OcrEngine, PrecisionReport)> {
    let load = |precision| OcrEngine::load(&ModelFiles::in_dir(dir, precision, alphabet), runtime, options.clone());
    let engine = load(precision)?;
    let mut report =
        PrecisionReport { requested: precision, in_use: precision, probe_cer: None, fallback_reason: None };
    if precision == Precision::Fp32 || policy == ProbePolicy::Off {
        return Ok((engine, report));
    }
    let failure = match probe_cer(&engine) {
        Ok(cer) if cer <= MAX_CER => {
            report.probe_cer = Some(cer);
            return Ok((engine, report));
        }
        Ok(cer) => {
            report.probe_cer = Some(cer);
            format!("the int8 models misread the start-up probe on this CPU (CER {cer:.3} > {MAX_CER})")
        }
        Err(err) => format!("the int8 models failed the start-up probe: {err}"),
    };
    if policy == ProbePolicy::Fail {
        return Err(crate::OcrError::ProbeFailed(failure));
    }
    drop(engine);
    let engine = load(Precision::Fp32)?;
    report.in_use = Precision::Fp32;
    report.fallback_reason = Some(failure);
    Ok((engine, report))
}

fn normalise(text: &str) -> Vec<char> {
    text.split_whitespace().collect::<Vec<_>>().join(" ").chars().collect()
}

/// Levenshtein distance over characters, one row at a time.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn distance(a: &str, b: &str) -> usize {
        edit_distance(&a.chars().collect::<Vec<_>>(), &b.chars().collect::<Vec<_>>())
    }

    #[test]
    fn edit_distance_counts_insertions_deletions_and_substitutions() {
        assert_eq!(distance("", ""), 0);
        assert_eq!(distance("TOTAL", "TOTAL"), 0);
        assert_eq!(distance("T0TAL", "TOTAL"), 1);
        assert_eq!(distance("TOTA", "TOTAL"), 1);
        assert_eq!(distance("TOTALS", "TOTAL"), 1);
        assert_eq!(distance("", "RM 7.55"), 7);
        assert_eq!(distance("kitten", "sitting"), 3);
    }

    #[test]
    fn whitespace_runs_compare_as_one_space() {
        assert_eq!(normalise(" CASH\t RM\n10.00 "), normalise("CASH RM 10.00"));
    }

    #[test]
    fn the_expected_text_is_latin_so_every_recogniser_can_read_it() {
        assert!(EXPECTED.lines().count() >= 10);
        assert!(EXPECTED.is_ascii(), "the fast profile's Latin recogniser must be able to pass");
    }

    #[test]
    fn policies_parse_from_their_names() {
        assert_eq!("fail".parse::<ProbePolicy>(), Ok(ProbePolicy::Fail));
        assert!("maybe".parse::<ProbePolicy>().is_err());
    }
}
