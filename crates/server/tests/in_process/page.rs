//! The try-it page at `/`: public whatever the access policy, served from
//! the binary with its own script and style sheet only, under a strict
//! Content-Security-Policy. What it does in a browser: `tests/page.rs`.

use crate::harness::App;

#[tokio::test]
async fn the_page_and_its_assets_are_public_typed_and_locked_down() {
    let app = App::loading(&["--api-keys", "secret"]);
    let (status, headers, page) = app.get_text("/", &[]).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'self'") && csp.contains("img-src 'self' blob: data:"), "{csp}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(page.contains("<html lang=\"en\">") && page.contains("<label for=\"file\">"), "{page}");
    // No inline script or style (the policy would block them), nothing from elsewhere.
    assert!(!page.contains("<script>") && !page.contains("style=") && !page.contains("<style"), "{page}");
    assert!(!page.contains("http://") && !page.contains("https://"), "{page}");

    for (path, kind) in
        [("/page/app.js", "text/javascript; charset=utf-8"), ("/page/style.css", "text/css; charset=utf-8")]
    {
        assert!(page.contains(&format!("\"{path}\"")), "the page links {path}");
        let (status, headers, body) = app.get_text(path, &[]).await;
        assert_eq!((status, headers["content-type"].to_str().unwrap()), (200, kind), "{path}");
        let body = body.replace("'http://www.w3.org/2000/svg'", ""); // a name, not an address
        assert!(!body.contains("http://") && !body.contains("https://"), "{path} reaches elsewhere");
    }
    // The page's API calls are still guarded.
    let reply = app.post_raw("/v1/ocr/receipt", "multipart/form-data; boundary=x", b"--x--\r\n".to_vec()).await;
    crate::common::assert_error(&reply, 401, "unauthorized");
}
