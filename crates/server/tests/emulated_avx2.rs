//! The int8 models on an AVX2-only CPU, the common rented one (AMD Zen 2/3,
//! Intel before Ice Lake), whatever CPU runs the tests: qemu-user emulates
//! an AMD EPYC-Rome (AVX2 and FMA, no AVX-512, no VNNI), and ONNX Runtime
//! picks its int8 kernels from the CPUID qemu answers. Models quantised
//! with full 8-bit weights read garbled text there while every test on an
//! AVX-512 VNNI machine passed; this test would have caught it.
//!
//! Each profile's int8 models must pass the start-up probe under emulation
//! (`--int8-probe fail`: no fp32 fallback) and read a rendered receipt as
//! the fp32 models do natively. Emulation is slow (about 40 s here), so it
//! runs one small image per profile, both profiles at once.
#![cfg(target_arch = "x86_64")]

mod common;

use std::process::Command;

use common::{receipt_png, workspace_root};

const QEMU: &str = "/usr/bin/qemu-x86_64";

/// The lines `inference-hub ocr --json` read, and its log.
fn read(wrapper: Option<&[&str]>, args: &[&str], image: &str) -> (Vec<String>, String) {
    let bin = env!("CARGO_BIN_EXE_inference-hub");
    let mut command = match wrapper {
        Some([program, rest @ ..]) => {
            let mut command = Command::new(program);
            command.args(rest).arg(bin);
            command
        }
        _ => Command::new(bin),
    };
    let output = command
        .args(["ocr", "--json", image])
        .args(args)
        .current_dir(workspace_root())
        .env("RUST_LOG", "info")
        .env_remove("HUB_PROFILE")
        .env_remove("HUB_PRECISION")
        .env_remove("HUB_INT8_PROBE")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{args:?} failed:\n{log}");
    let response: serde_json::Value = serde_json::from_slice(&output.stdout).expect("one JSON response");
    let lines = response["lines"].as_array().unwrap().iter().map(|l| l["text"].as_str().unwrap().to_owned()).collect();
    (lines, log)
}

#[test]
fn int8_models_read_like_fp32_on_an_emulated_avx2_cpu() {
    assert!(
        std::path::Path::new(QEMU).is_file(),
        "{QEMU} is missing: `make setup` installs Debian's qemu-user for this test"
    );
    let image = std::env::temp_dir().join(format!("hub-avx2-{}.png", std::process::id()));
    std::fs::write(&image, receipt_png()).unwrap();
    let image = image.to_str().unwrap();

    let (fp32, _) = read(None, &["--profile", "accurate"], image);
    assert_eq!(fp32, ["TOTAL 12.50", "CASH 20.00", "THANK YOU"]);

    let emulated = ["-cpu", "EPYC-Rome"];
    let one_thread = ["--workers", "1", "--det-sessions", "1", "--rec-sessions", "1", "--threads", "1"];
    std::thread::scope(|scope| {
        let runs: Vec<_> = ["balanced", "fast"]
            .into_iter()
            .map(|profile| {
                scope.spawn(move || {
                    let wrapper = [QEMU, emulated[0], emulated[1]];
                    let mut args = vec!["--profile", profile, "--int8-probe", "fail"];
                    args.extend(one_thread);
                    (profile, read(Some(&wrapper), &args, image))
                })
            })
            .collect();
        for run in runs {
            let (profile, (lines, log)) = run.join().unwrap();
            assert!(log.contains("(avx2 kernels)"), "{profile}: not the AVX2 kernel path:\n{log}");
            assert!(log.contains("precision: int8 (start-up probe passed"), "{profile}:\n{log}");
            assert_eq!(lines, fp32, "{profile}: int8 under emulated AVX2 reads differently from fp32");
        }
    });
    std::fs::remove_file(image).unwrap();
}
