//! What the real-model tests share: the files `make setup` put in `vendor/`.

// Each test file uses its own subset of these helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The checkout root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("checkout root")
}

/// ONNX Runtime's library from `vendor/onnxruntime`, initialised once.
pub fn init_runtime() {
    let vendor = root().join("vendor/onnxruntime");
    assert!(vendor.is_dir(), "{} is missing: run `make setup`", vendor.display());
    let dylib = std::fs::read_dir(&vendor)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("libonnxruntime.so.")))
        .expect("ONNX Runtime library in vendor/onnxruntime");
    hub_ocr::init_runtime(&dylib).unwrap();
}

/// `vendor/models`.
pub fn models() -> PathBuf {
    let models = root().join("vendor/models");
    assert!(models.is_dir(), "{} is missing: run `make setup`", models.display());
    models
}

/// A model folder like `vendor/models` whose `broken` file is a copy with
/// every int8 weight scale off by up to 15 % (`scripts/degrade_model.py`,
/// run with the set-up's quantisation venv): it loads and runs, and reads
/// wrong text, as int8 kernels that saturate do.
pub fn degraded_models(broken: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hub-ocr-degraded-{}-{broken}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(models()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "onnx") && path.file_name().unwrap() != broken {
            std::os::unix::fs::symlink(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
    let python = root().join(".cache/quantize-venv/bin/python");
    let status = Command::new(&python)
        .arg(root().join("scripts/degrade_model.py"))
        .arg(models().join(broken))
        .arg(dir.join(broken))
        .status()
        .unwrap_or_else(|e| panic!("{}: {e}; run `make setup`", python.display()));
    assert!(status.success(), "degrade_model.py failed");
    dir
}
