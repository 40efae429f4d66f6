//! `/openapi.json` describes the routes the service really has, and `/docs`
//! is a Swagger UI page whose every asset comes from the binary itself.

use crate::harness::App;

#[tokio::test]
async fn openapi_lists_the_served_routes_and_docs_work_offline() {
    let app = App::loading(&["--enable-ocr", "0"]);
    let spec = app.get("/openapi.json").await;
    assert_eq!(spec.status, 200);
    let paths = spec.json["paths"].as_object().expect("paths");
    assert!(paths.len() >= 16, "{paths:?}");
    // Each documented operation exists: a GET answers, a POST is routed
    // (404 capability_disabled here, not 404 not_found or 405). The KServe
    // routes answer in their protocol's shape: there, "routed" means neither
    // 405 nor the router's own not_found.
    for (path, item) in paths {
        let path = path.replace("{name}", "ocr").replace("{id}", "0123456789abcdef");
        let protocol = path.starts_with("/v1/models") || path.starts_with("/v2");
        if item.get("get").is_some() {
            let (status, _, body) = app.get_text(&path, &[]).await;
            if path.starts_with("/v1/jobs") {
                // Jobs need engines: off with OCR.
                assert!(status == 404 && body.contains("capability_disabled"), "GET {path}: {status} {body}");
            } else if protocol {
                assert!(status != 405 && !body.contains("\"not_found\""), "GET {path}: {status} {body}");
            } else {
                assert_eq!(status, 200, "GET {path}: {body}");
            }
        }
        if item.get("post").is_some() {
            let reply = app.post_raw(&path, "multipart/form-data; boundary=x", b"--x--\r\n".to_vec()).await;
            if protocol {
                assert!(
                    reply.status != 405 && reply.json["error"]["code"] != "not_found",
                    "POST {path}: {}",
                    reply.json
                );
            } else {
                assert_eq!(reply.json["error"]["code"], "capability_disabled", "POST {path}: {}", reply.json);
            }
        }
    }

    // /docs redirects to the page; the page loads only relative assets,
    // all served here, and points Swagger UI at /openapi.json.
    let (status, headers, _) = app.get_text("/docs", &[]).await;
    assert_eq!((status, headers["location"].to_str().unwrap()), (303, "/docs/"));
    let (status, _, page) = app.get_text("/docs/", &[]).await;
    assert_eq!(status, 200);
    let assets: Vec<&str> = ["src=\"", "href=\""]
        .iter()
        .flat_map(|attr| page.split(attr).skip(1).map(|rest| rest.split('"').next().unwrap()))
        .collect();
    assert!(assets.len() >= 4, "{assets:?}");
    for asset in &assets {
        assert!(!asset.contains("//"), "{asset} is not served by the binary");
        let (status, _, body) = app.get_text(&format!("/docs/{}", asset.trim_start_matches("./")), &[]).await;
        assert_eq!(status, 200, "{asset}");
        assert!(!body.is_empty(), "{asset}");
    }
    let (_, _, init) = app.get_text("/docs/swagger-initializer.js", &[]).await;
    assert!(init.contains("\"url\": \"/openapi.json\""), "{init}");
    assert!(init.contains("\"validatorUrl\": \"none\""), "no online validator: {init}");
}
