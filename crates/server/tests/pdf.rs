//! PDFs end to end with the real models: a receipt wrapped in a PDF at
//! 200 DPI reads the same lines as the image itself; a two-page PDF reads
//! each page, numbered; a text layer takes the place of OCR; PDFs through
//! KServe V2 and an asynchronous job. Route details over fake models:
//! `tests/in_process/pdf.rs`; hostile PDFs: `tests/in_process/bad_inputs.rs`.

mod common;

use std::time::{Duration, Instant};

use common::kserve::{b64, lines_of, post_json};
use common::pdf::{TEXT_LAYER, of_images, pages, with_text_layer};
use common::{Server, assert_reads, encode, file_form, receipt, workspace_root};
use image::{ImageFormat, RgbImage};
use serde_json::{Value, json};

const ROUTE: &str = "/v1/ocr/receipt";

/// The photographed receipt the int8 probe reads (shipped with hub-ocr).
fn probe_receipt() -> RgbImage {
    let path = workspace_root().join("crates/ocr/probe/receipt.jpg");
    image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).to_rgb8()
}

/// Text and box of the lines on `page` (0: an image's lines).
fn page_lines(json: &Value, page: u64) -> Vec<(Value, Value)> {
    let lines = json["lines"].as_array().expect("lines");
    lines
        .iter()
        .filter(|l| l["page"].as_u64().unwrap_or(0) == page)
        .map(|l| (l["text"].clone(), l["bbox"].clone()))
        .collect()
}

fn pdf_form(pdf: &[u8]) -> reqwest::multipart::Form {
    file_form("file", pdf.to_vec(), "receipt.pdf", "application/pdf")
}

#[tokio::test]
async fn pdfs_read_as_their_images_page_by_page_and_text_layers_skip_ocr() {
    let server = Server::start(&["--cache-mb", "0"]);
    server.wait_ready().await;

    // The same pixels in a PDF (lossless, 200 DPI: the page renders back
    // to the image exactly) give the same lines in the same boxes.
    let photo = probe_receipt();
    let image =
        server.post_form(ROUTE, file_form("file", encode(&photo, ImageFormat::Png), "r.png", "image/png")).await;
    assert_eq!(image.status, 200, "{}", image.json);
    let wrapped = server.post_form(ROUTE, pdf_form(&of_images(std::slice::from_ref(&photo)))).await;
    assert_eq!(wrapped.status, 200, "{}", wrapped.json);
    assert!(lines_of(&image.json).len() >= 5, "the probe receipt has text: {}", image.json);
    assert_eq!(lines_of(&wrapped.json), lines_of(&image.json));
    // For docs/performance.md: the page's drawing is the difference.
    let time = |json: &Value| json["processing_time_ms"].as_f64().unwrap();
    eprintln!(
        "probe receipt {}x{}: as PNG {:.1} ms, as a PDF page {:.1} ms",
        photo.width(),
        photo.height(),
        time(&image.json),
        time(&wrapped.json)
    );
    assert_eq!((wrapped.json["page_count"].clone(), wrapped.json["ocr_pages"].clone()), (json!(1), json!([1])));
    assert!(pages(&wrapped.json).iter().all(|&p| p == 1));

    // Two pages: the rendered receipt, then the photo; each page reads as
    // its image alone.
    let rendered = receipt();
    let two = of_images(&[rendered.image.clone(), photo]);
    let reply = server.post_form(ROUTE, pdf_form(&two)).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!((reply.json["page_count"].clone(), reply.json["ocr_pages"].clone()), (json!(2), json!([1, 2])));
    assert!(pages(&reply.json).windows(2).all(|w| w[0] <= w[1]), "lines in page order");
    let alone = server.post_form(ROUTE, common::png_form("file", &encode(&rendered.image, ImageFormat::Png))).await;
    assert_reads(&alone.json, &rendered);
    assert_eq!(page_lines(&reply.json, 1), page_lines(&alone.json, 0));
    assert_eq!(page_lines(&reply.json, 2), page_lines(&image.json, 0));

    // A text layer: its lines, no OCR; `pdf_text=off` reads the drawn page.
    let layer = with_text_layer();
    let reply = server.post_form(ROUTE, pdf_form(&layer)).await;
    let texts: Vec<String> = lines_of(&reply.json).into_iter().map(|(t, _)| t).collect();
    assert_eq!(texts, TEXT_LAYER, "{}", reply.json);
    assert_eq!(reply.json["ocr_pages"], json!([]));
    let reply = server.post_form(&format!("{ROUTE}?pdf_text=off"), pdf_form(&layer)).await;
    assert_eq!(reply.json["ocr_pages"], json!([1]), "{}", reply.json);
    let words = common::tokens(&common::check_ocr_body(&reply.json));
    for word in ["ACME", "TOTAL", "12.50"] {
        assert!(words.contains(word), "OCR of the drawn page reads {word}: {words:?}");
    }

    // KServe V2: a PDF in the BYTES tensor reads as on the upload route.
    let v2 = json!({"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "data": [b64(&two)]}]});
    let reply = post_json(&server, "/v2/models/ocr/infer", &v2).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let result: Value = serde_json::from_str(reply.json["outputs"][0]["data"][0].as_str().unwrap()).unwrap();
    assert_eq!(result["page_count"], 2, "{result}");

    // An asynchronous job keeps `pdf_text` with its options.
    let form = pdf_form(&layer).text("pdf_text", "off");
    let sent = server.client().post(server.url("/v1/jobs")).multipart(form).send().await.unwrap();
    assert_eq!(sent.status(), 202);
    let id = sent.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    let job = loop {
        let job = server.get(&format!("/v1/jobs/{id}")).await.json;
        if job["status"] == "succeeded" || job["status"] == "failed" {
            break job;
        }
        assert!(Instant::now() < deadline, "job not done: {job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(job["result"]["results"][0]["ocr_pages"], json!([1]), "{job}");

    // Pages are counted by the way they were read.
    let (status, _, metrics) = server.get_text("/metrics", &[]).await;
    assert_eq!(status, 200);
    for path in ["text", "ocr"] {
        let line = format!("ocr_pdf_pages_total{{path=\"{path}\"}}");
        let count = metrics.lines().find_map(|l| l.strip_prefix(line.as_str())).map(|v| v.trim().parse::<f64>());
        assert!(matches!(count, Some(Ok(n)) if n >= 1.0), "{line}: {count:?}");
    }
}
