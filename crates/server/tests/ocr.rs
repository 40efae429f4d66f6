//! End-to-end OCR: a receipt rendered in memory with known text goes through
//! the real models on every route (the upload routes and a KServe V1 batch)
//! and in PNG and JPEG; the words must come back in the right places, and
//! none of them may reach the logs.

mod common;

use common::kserve::{b64, lines_of, post_json};
use common::{Server, assert_reads, encode, png_form, receipt};
use image::ImageFormat;
use serde_json::json;

#[tokio::test]
async fn reads_rendered_receipt_on_every_route_and_keeps_text_out_of_logs() {
    // Verbose logging for our own crates, so the privacy check below also
    // covers debug and trace output, not just the default info level.
    // No result cache: every request here must reach the models.
    let server = Server::start_with_env(
        &["--cache-mb", "0"],
        &[("RUST_LOG", "info,ort=warn,inference_hub=trace,hub_ocr=trace,tower_http=debug")],
    );
    server.wait_ready().await;

    let rendered = receipt();
    let png = encode(&rendered.image, ImageFormat::Png);
    let jpeg = encode(&rendered.image, ImageFormat::Jpeg);
    // Formats are sniffed from the bytes, so a lying content type must not matter.
    let cases = [
        ("/v1/ocr/receipt", png_form("file", &png)),
        ("/v1/ocr/receipt", common::file_form("file", jpeg.clone(), "receipt.jpg", "image/jpeg")),
        ("/v1/ocr/receipt", common::file_form("file", jpeg.clone(), "upload.bin", "application/octet-stream")),
        ("/v1/ocr", png_form("image_file", &png)),
        ("/v1/parse", png_form("image_file", &png)),
    ];
    let requests = cases.len() + 1;
    let mut answers = Vec::new();
    for (route, form) in cases {
        let reply = server.post_form(route, form).await;
        assert_eq!(reply.status, 200, "{route}: {}", reply.json);
        assert_reads(&reply.json, &rendered);
        answers.push(reply.json);
    }

    // A blank page is a valid image without text: 200 and no lines, not an error.
    let blank = encode(&common::render(640, 480, &[]).image, ImageFormat::Png);
    let reply = server.post_form("/v1/ocr/receipt", png_form("file", &blank)).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert!(common::check_ocr_body(&reply.json).is_empty(), "a blank page has no text: {}", reply.json);
    assert_eq!(reply.json["avg_confidence"], 0.0);

    // KServe V1 (`{"instances": [{"image": {"b64": ...}}]}`): a batch of both
    // encodings, each read as the service's own route reads it.
    let instances = json!({"instances": [{"image": {"b64": b64(&png)}}, {"image": {"b64": b64(&jpeg)}}]});
    let reply = post_json(&server, "/v1/models/ocr:predict", &instances).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let predictions = reply.json["predictions"].as_array().expect("predictions");
    assert_eq!(predictions.len(), 2, "one prediction per instance");
    for prediction in predictions {
        assert_reads(prediction, &rendered);
    }
    assert_eq!(lines_of(&predictions[0]), lines_of(&answers[0]), "V1 and the upload route differ");
    // Each image of a batch counts in the worker-time histogram, as an
    // upload does: the uploads and the blank page above, and these two.
    let (_, _, exposition) = server.get_text("/metrics", &[]).await;
    let count = format!(r#"ocr_processing_seconds_count{{engine="paddle"}} {}"#, requests + 2);
    assert!(exposition.lines().any(|l| l == count), "no `{count}` in:\n{exposition}");

    // One timing line per request, and no recognised word anywhere in the
    // log. (Digits are not checked: timestamps can contain "12.50".)
    let logs = server.wait_for_log("OCR processing time", requests);
    for word in ["TOTAL", "CASH", "THANK"] {
        assert!(!logs.to_uppercase().contains(word), "recognised text {word:?} leaked into the log:\n{logs}");
    }
}

/// A batch over a real socket on the real models: every image read, in
/// upload order, a broken one failing alone; the same receipts through
/// `inference-hub ocr --jobs 2`, which names each file as it finishes.
#[tokio::test]
async fn batches_over_http_and_parallel_files_on_the_command_line_read_real_receipts() {
    let server = Server::start(&[]);
    server.wait_ready().await;
    let rendered = receipt();
    let png = encode(&rendered.image, ImageFormat::Png);
    let jpeg = encode(&rendered.image, ImageFormat::Jpeg);
    let part = |bytes: &[u8], name: &str| common::file_part(bytes.to_vec(), name, "application/octet-stream");
    let form = reqwest::multipart::Form::new()
        .part("file", part(&png, "a.png"))
        .part("file", part(&jpeg[..jpeg.len() / 3], "torn.jpg"))
        .part("file", part(&jpeg, "b.jpg"));
    let reply = server.post_form("/v1/ocr/batch", form).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!((reply.json["succeeded"].as_u64(), reply.json["failed"].as_u64()), (Some(2), Some(1)));
    let results = reply.json["results"].as_array().unwrap();
    for (i, name) in [(0, "a.png"), (2, "b.jpg")] {
        let mut entry = results[i].clone();
        assert_eq!(entry.as_object_mut().unwrap().remove("filename"), Some(json!(name)));
        assert_reads(&entry, &rendered);
    }
    assert_eq!(results[1]["filename"], "torn.jpg");
    assert_eq!(results[1]["error"]["code"], "invalid_image", "{}", results[1]);

    let dir = std::env::temp_dir().join(format!("hub-ocr-jobs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files: Vec<_> = (0..3).map(|i| dir.join(format!("r{i}.png"))).collect();
    for file in &files {
        std::fs::write(file, &png).unwrap();
    }
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_inference-hub"))
        .args(["ocr", "--json", "--jobs", "2"])
        .args(&files)
        .current_dir(common::workspace_root())
        .env_remove("HUB_ENGINES")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut named = Vec::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let mut answer: serde_json::Value = serde_json::from_str(line).unwrap();
        named.push(answer.as_object_mut().unwrap().remove("file").unwrap().as_str().unwrap().to_owned());
        assert_reads(&answer, &rendered);
    }
    named.sort();
    let expected: Vec<String> = files.iter().map(|f| f.to_string_lossy().into_owned()).collect();
    assert_eq!(named, expected, "one answer per file, each naming it");
    std::fs::remove_dir_all(dir).unwrap();
}

/// `fields=true` on the real models: a rendered receipt's company, date and
/// total come back as printed and normalised, each pointing at the line it
/// came from; the command line's `--fields` says the same.
#[tokio::test]
async fn fields_of_a_rendered_receipt_over_http_and_on_the_command_line() {
    let server = Server::start(&[]);
    server.wait_ready().await;
    let rendered = common::shop_receipt();
    let png = encode(&rendered.image, ImageFormat::Png);
    let reply = server.post_form("/v1/ocr/receipt", png_form("file", &png).text("fields", "true")).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_reads(&reply.json, &rendered);
    let fields = &reply.json["fields"];
    assert_eq!(fields["company"], "KEDAI MAJU SDN BHD", "{fields}");
    assert_eq!((fields["date"].as_str(), fields["date_iso"].as_str()), (Some("05/03/2018"), Some("2018-03-05")));
    assert_eq!((fields["total_amount"].as_str(), fields["currency"].as_str()), (Some("12.50"), Some("MYR")));
    let total_line = fields["sources"]["total"]["lines"][0].as_u64().expect("the total's line") as usize;
    let text = reply.json["lines"][total_line]["text"].as_str().unwrap();
    assert!(text.contains("12.50"), "the total points at {text:?}");

    let file = std::env::temp_dir().join(format!("hub-fields-{}.png", std::process::id()));
    std::fs::write(&file, &png).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_inference-hub"))
        .args(["ocr", "--json", "--fields"])
        .arg(&file)
        .current_dir(common::workspace_root())
        .env_remove("HUB_ENGINES")
        .output()
        .unwrap();
    std::fs::remove_file(&file).unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let cli: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(&cli["fields"], fields, "the command line reads the same fields");
}

/// `--merchants`: a known shop's company and address come as the directory
/// writes them (marked `from_directory`), over HTTP and on the command line;
/// a malformed directory stops the start, naming its line.
#[tokio::test]
async fn a_merchant_directory_names_a_known_shop() {
    let dir = std::env::temp_dir().join(format!("hub-merchants-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let directory = dir.join("vendors.jsonl");
    std::fs::write(
        &directory,
        concat!(
            r#"{"id": "res.partner,42", "company": "Kedai Maju Sdn. Bhd.", "address": "12, Jalan Maju, 50000 Kuala Lumpur"}"#,
            "\n",
            r#"{"company": "Syarikat Lain Enterprise", "address": "7, Jalan Lain, 43000 Kajang"}"#,
            "\n"
        ),
    )
    .unwrap();
    let png = encode(&common::shop_receipt().image, ImageFormat::Png);
    let file = dir.join("receipt.png");
    std::fs::write(&file, &png).unwrap();

    let server = Server::start(&["--merchants", directory.to_str().unwrap(), "--merchants-reload-secs", "1"]);
    server.wait_ready().await;
    let read_fields = || server.post_form("/v1/ocr/receipt", png_form("file", &png).text("fields", "true"));
    let reply = read_fields().await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    common::check_ocr_body(&reply.json);
    let fields = &reply.json["fields"];
    assert_eq!(fields["company"], "Kedai Maju Sdn. Bhd.", "{fields}");
    assert_eq!(fields["address"], "12, Jalan Maju, 50000 Kuala Lumpur", "{fields}");
    assert_eq!(fields["sources"]["company"]["from_directory"], true, "{fields}");
    assert_eq!(fields["merchant_id"], "res.partner,42", "{fields}");
    assert_eq!(fields["sources"]["company"]["lines"], json!([0]), "{fields}");
    assert_eq!(fields["sources"]["total"].get("from_directory"), None, "{fields}");
    assert_eq!(fields["total_amount"], "12.50");
    // The directory's entries never reach the log, only their count.
    assert!(server.logs().contains("entries=2"), "{}", server.logs());
    assert!(!server.logs().contains("Kedai"), "{}", server.logs());

    let cli = |directory: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_inference-hub"))
            .args(["ocr", "--json", "--fields", "--merchants"])
            .arg(directory)
            .arg(&file)
            .current_dir(common::workspace_root())
            .env_remove("HUB_ENGINES")
            .env_remove("HUB_MERCHANTS")
            .output()
            .unwrap()
    };
    let output = cli(&directory);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(&answer["fields"], fields, "the command line reads the same fields");

    // A new version of the file (replaced whole, as a sync job or a
    // ConfigMap update does) is read without a restart.
    let replace = |text: &str| {
        let next = dir.join("vendors.jsonl.next");
        std::fs::write(&next, text).unwrap();
        std::fs::rename(&next, &directory).unwrap();
    };
    replace(concat!(
        r#"{"id": 43, "company": "KEDAI MAJU SDN BHD", "address": "12, Jalan Maju, 50000 Kuala Lumpur"}"#,
        "\n"
    ));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let renamed = loop {
        let reply = read_fields().await;
        assert_eq!(reply.status, 200, "{}", reply.json);
        if reply.json["fields"]["merchant_id"] == "43" {
            break reply.json["fields"].clone();
        }
        assert!(std::time::Instant::now() < deadline, "the new directory was not read: {}", server.logs());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!(renamed["company"], "KEDAI MAJU SDN BHD", "{renamed}");
    server.wait_for_log("entries=1", 1);
    // A bad version is reported and the one in use stays.
    replace("{\"company\": \"KEDAI MAJU SDN BHD\", \"address\": 12}\n");
    let logs = server.wait_for_log("merchant directory not reloaded", 1);
    assert!(logs.contains("vendors.jsonl: line 1"), "{logs}");
    assert!(!logs.to_uppercase().contains("KEDAI"), "the directory's entries reached the log:\n{logs}");
    assert_eq!(read_fields().await.json["fields"], renamed);
    let (_, _, metrics) = server.get_text("/metrics", &[]).await;
    for sample in [
        r#"merchant_directory_loads_total{outcome="ok"} 2"#,
        r#"merchant_directory_loads_total{outcome="error"} 1"#,
        "merchant_directory_entries 1",
    ] {
        assert!(metrics.lines().any(|line| line == sample), "no `{sample}` in:\n{metrics}");
    }

    let bad = dir.join("bad.jsonl");
    std::fs::write(&bad, "{\"company\": \"Kedai Maju\"}\n{\"name\": \"no company\"}\n").unwrap();
    let output = cli(&bad);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("line 2"), "{}", String::from_utf8_lossy(&output.stderr));
    let mut server = Server::start_or_exit(&["--merchants", bad.to_str().unwrap()]);
    assert_eq!(server.wait_exit(std::time::Duration::from_secs(20)), Some(1));
    assert!(server.logs().contains("bad.jsonl: line 2"), "{}", server.logs());
    std::fs::remove_dir_all(dir).unwrap();
}
