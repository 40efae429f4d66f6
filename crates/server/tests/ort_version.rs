//! The ONNX Runtime version has one source, the repository's `ORT_VERSION`
//! file: the binary (`include_str!`) and `scripts/setup.sh` (`cat`) read it.
//! The files that cannot (the Dockerfile's and the systemd unit's
//! `ORT_DYLIB_PATH`, the README, NOTICE, the library's doc example, the
//! quantisation tools' pin, the checksums) are checked here: every version
//! they give ONNX Runtime must be that one.

mod common;

use std::path::{Path, PathBuf};

/// Where a version follows: `libonnxruntime.so.V`, `onnxruntime==V`, the
/// wheel `onnxruntime-V-...`, and prose (`ONNX Runtime V`, `onnxruntime V`).
const MARKERS: [&str; 5] = ["libonnxruntime.so.", "onnxruntime==", "onnxruntime-", "ONNX Runtime ", "onnxruntime "];

/// Set-up output, build output and local runs: not the repository's files.
const SKIPPED: [&str; 9] = [".git", "target", "vendor", ".cache", ".eval", ".bench", ".soak", "artifacts", "coverage"];

fn source() -> String {
    let text = std::fs::read_to_string(common::workspace_root().join("ORT_VERSION")).expect("ORT_VERSION");
    let version = text.trim().to_owned();
    assert!(is_version(&version), "ORT_VERSION holds {version:?}, not MAJOR.MINOR.PATCH");
    version
}

fn is_version(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Every MAJOR.MINOR.PATCH right after a marker in `text`.
fn versions_in(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for marker in MARKERS {
        for (at, _) in text.match_indices(marker) {
            let rest = &text[at + marker.len()..];
            let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
            let candidate = rest[..end].trim_end_matches('.');
            if is_version(candidate) {
                found.push(candidate.to_owned());
            }
        }
    }
    found
}

fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !SKIPPED.contains(&name.as_str()) && name != "__pycache__" {
                text_files(&path, out);
            }
        } else if path.is_file() {
            out.push(path);
        }
    }
}

#[test]
fn every_file_names_the_ort_version_of_the_one_source() {
    let (root, version) = (common::workspace_root(), source());
    let mut files = Vec::new();
    text_files(&root, &mut files);
    // This file's own samples (the last test) are not versions of anything.
    files.retain(|path| !path.ends_with(file!()));
    let (mut wrong, mut right) = (Vec::new(), 0);
    for path in &files {
        // Binary files (fonts, images) hold no version to check.
        let Ok(text) = std::fs::read_to_string(path) else { continue };
        for found in versions_in(&text) {
            if found == version {
                right += 1;
            } else {
                wrong.push(format!("{}: {found}", path.strip_prefix(&root).unwrap().display()));
            }
        }
    }
    // README, NOTICE, Dockerfile, systemd unit, lib.rs, requirements, checksums.
    assert!(right >= 8, "only {right} mentions of ONNX Runtime {version} found: is the scan looking?");
    assert!(
        wrong.is_empty(),
        "ORT_VERSION says {version}, but these files name another version:\n{}",
        wrong.join("\n")
    );
}

/// The places that must name the library file, so that the scan above has
/// something to check in each.
#[test]
fn shipped_configurations_name_the_library_of_the_one_source() {
    let (root, version) = (common::workspace_root(), source());
    let library = format!("/opt/inference-hub/vendor/onnxruntime/libonnxruntime.so.{version}");
    for (file, needle) in [
        ("deploy/docker/Dockerfile", format!("ORT_DYLIB_PATH={library}")),
        ("deploy/systemd/inference-hub.service", format!("Environment=ORT_DYLIB_PATH={library}")),
        ("README.md", format!("`vendor/onnxruntime/libonnxruntime.so.{version}`")),
        ("README.md", format!("`onnxruntime=={version}`")),
        ("NOTICE", format!("onnxruntime {version}")),
        ("crates/ocr/src/lib.rs", format!("vendor/onnxruntime/libonnxruntime.so.{version}")),
        ("scripts/quantize-requirements.txt", format!("onnxruntime=={version} ")),
        ("scripts/SHA256SUMS", format!("onnxruntime/libonnxruntime.so.{version}")),
    ] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        assert!(text.contains(&needle), "{file} does not contain {needle:?}");
    }
}

/// `ort`'s `api-N` feature needs ONNX Runtime 1.N or later.
#[test]
fn ort_api_feature_fits_the_one_source() {
    let (root, version) = (common::workspace_root(), source());
    let minor: u32 = version.split('.').nth(1).unwrap().parse().unwrap();
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let api = manifest.split("\"api-").nth(1).expect("ort's api-N feature in Cargo.toml");
    let api: u32 = api[..api.find('"').unwrap()].parse().unwrap();
    assert!(api <= minor, "ort's api-{api} feature needs ONNX Runtime 1.{api}, ORT_VERSION says {version}");
}

#[test]
fn the_scan_finds_versions_after_each_marker() {
    let text = "a libonnxruntime.so.1.2.3 b onnxruntime==4.5.6 --hash c onnxruntime-7.8.9-cp311 \
                ONNX Runtime 10.11.12. onnxruntime 13.14.15, onnxruntime-aarch64/ ONNX Runtime 1.20 added";
    assert_eq!(versions_in(text), ["1.2.3", "4.5.6", "7.8.9", "10.11.12", "13.14.15"]);
}
