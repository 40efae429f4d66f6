//! The start-up probe on the real models: every correct engine reads the
//! probe receipt exactly on this CPU, and an int8 model that reads wrong is
//! caught and replaced by fp32 (or refused, as the policy says).

mod common;

use hub_ocr::{
    Alphabet, ModelFiles, OcrEngine, OcrError, OcrOptions, PROBE_MAX_CER, Precision, ProbePolicy, RuntimeOptions,
    load_checked, probe_cer,
};

#[test]
fn every_model_reads_the_probe_on_this_cpu() {
    common::init_runtime();
    for (precision, alphabet) in
        [(Precision::Fp32, Alphabet::Full), (Precision::Int8, Alphabet::Full), (Precision::Int8, Alphabet::Latin)]
    {
        let files = ModelFiles::in_dir(&common::models(), precision, alphabet);
        let options = OcrOptions { alphabet, ..OcrOptions::default() };
        let engine = OcrEngine::load(&files, &RuntimeOptions::default(), options).unwrap();
        let cer = probe_cer(&engine).unwrap();
        // Measured 0 on AVX-512 VNNI and on emulated AVX2; one character of
        // slack for other kernels.
        assert!(cer <= 0.005, "{precision:?} {alphabet:?}: probe CER {cer} on {}", hub_ocr::CpuInfo::detect());
    }
}

#[test]
fn int8_models_that_misread_the_probe_are_replaced_by_fp32() {
    common::init_runtime();
    let dir = common::degraded_models("ppocrv6_rec.int8.onnx");
    let load = |policy| {
        load_checked(&dir, Precision::Int8, Alphabet::Full, &RuntimeOptions::default(), OcrOptions::default(), policy)
    };

    let (engine, report) = load(ProbePolicy::Fallback).unwrap();
    assert_eq!((report.requested, report.in_use), (Precision::Int8, Precision::Fp32));
    let cer = report.probe_cer.expect("the probe ran");
    assert!(cer > PROBE_MAX_CER, "the degraded model passed the probe (CER {cer})");
    let reason = report.fallback_reason.expect("a reason");
    assert!(reason.contains("misread the start-up probe"), "{reason}");
    assert!(probe_cer(&engine).unwrap() <= 0.005, "the fp32 engine that replaced it reads the probe");

    match load(ProbePolicy::Fail) {
        Err(OcrError::ProbeFailed(why)) => assert!(why.contains("misread"), "{why}"),
        other => panic!("`fail` must refuse the degraded model, got {:?}", other.map(|(_, r)| r)),
    }
    // `off` trusts the configuration: the degraded int8 model is served.
    let (_, report) = load(ProbePolicy::Off).unwrap();
    assert_eq!((report.in_use, report.probe_cer), (Precision::Int8, None));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn int8_models_that_pass_the_probe_are_kept() {
    common::init_runtime();
    let (_, report) = load_checked(
        &common::models(),
        Precision::Int8,
        Alphabet::Latin,
        &RuntimeOptions::default(),
        OcrOptions { alphabet: Alphabet::Latin, ..OcrOptions::default() },
        ProbePolicy::Fallback,
    )
    .unwrap();
    assert_eq!(report.in_use, Precision::Int8);
    assert_eq!(report.fallback_reason, None);
    assert!(report.probe_cer.is_some_and(|cer| cer <= PROBE_MAX_CER), "{report:?}");
}
