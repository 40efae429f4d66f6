//! Open Inference Protocol (KServe V2) on a real server: conformance checked
//! by a third-party client (NVIDIA's tritonclient[http], from the venv that
//! scripts/setup.sh makes) on the real models, and the KServe manifest's
//! probes and variables against the binary. The protocol's health routes,
//! edge cases and errors are checked in process: `tests/in_process/oip_v2.rs`.

mod common;

use std::process::Command;

use common::kserve::lines_of;
use common::{Server, assert_reads, encode, receipt, workspace_root};
use image::ImageFormat;
use serde_json::Value;

#[tokio::test]
async fn tritonclient_checks_health_metadata_and_infers_with_json_and_binary_data() {
    let server = Server::start(&[]);
    server.wait_ready().await;

    let rendered = receipt();
    let dir = std::env::temp_dir().join(format!("hub-oip-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (png, jpeg) = (dir.join("receipt.png"), dir.join("receipt.jpg"));
    std::fs::write(&png, encode(&rendered.image, ImageFormat::Png)).unwrap();
    std::fs::write(&jpeg, encode(&rendered.image, ImageFormat::Jpeg)).unwrap();

    let root = workspace_root();
    let python = root.join(".cache/oip-client-venv/bin/python");
    assert!(python.is_file(), "{} is missing: run `bash scripts/setup.sh`", python.display());
    let host = server.addr.to_string();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(root.join("scripts/oip_conformance.py"))
            .args([host.as_str(), "ocr"])
            .args([&png, &jpeg])
            .env("NO_PROXY", "*")
            .output()
            .expect("cannot run the conformance script")
    })
    .await
    .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "conformance script failed: {stderr}\nserver log:\n{}", server.logs());

    // Every mode read both images, and all modes agree line for line.
    let results: Value = serde_json::from_slice(&output.stdout).expect("the script prints JSON");
    for mode in ["json", "binary", "default"] {
        let answers = results[mode].as_array().unwrap_or_else(|| panic!("no {mode} results: {results}"));
        assert_eq!(answers.len(), 2, "{mode}: one answer per image");
        for answer in answers {
            assert_reads(answer, &rendered);
        }
        assert_eq!(lines_of(&answers[0]), lines_of(&results["json"][0]), "{mode} differs from json");
    }
}

/// deploy/kserve/inferenceservice.yaml stays true to the binary: its probe
/// paths answer on the port it declares, and every variable it sets is one
/// that `serve` reads.
#[tokio::test]
async fn the_inference_service_probes_and_env_match_the_binary() {
    let yaml = std::fs::read_to_string(workspace_root().join("deploy/kserve/inferenceservice.yaml")).unwrap();
    let values = |key: &str| -> Vec<String> {
        yaml.lines()
            .filter_map(|l| l.trim().trim_start_matches("- ").strip_prefix(key))
            .map(|v| v.trim().to_owned())
            .collect()
    };
    assert_eq!(values("containerPort:"), ["8100"]);
    assert!(values("port:").iter().all(|p| p == "8100"), "{:?}", values("port:"));
    let server = Server::start_with_env(&[], &[("AI_ENABLE_OCR", "0")]);
    let paths = values("path:");
    assert_eq!(paths, ["/v2/health/ready", "/v2/health/live"]);
    for path in &paths {
        assert_eq!(server.get(path).await.status, 200, "{path}");
    }
    let help = Command::new(env!("CARGO_BIN_EXE_inference-hub")).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    let names = values("name:");
    let env: Vec<&String> = names.iter().filter(|n| n.starts_with("HUB_")).collect();
    assert!(env.len() >= 5, "{env:?}");
    for name in env {
        assert!(help.contains(&format!("[env: {name}=")), "serve does not read {name}");
    }
}
