//! The try-it page in a real browser: Debian's headless Chromium, driven over
//! WebDriver (Debian's `chromedriver`) from here, against the real server
//! and models. A receipt goes in and comes back drawn, one box per line,
//! with its fields and timing; a missing API key, a text file and a file
//! over the upload limit get readable messages. Screenshots land in
//! `$CARGO_TARGET_TMPDIR/page/`.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{Server, encode};
use image::ImageFormat;
use serde_json::{Value, json};

const KEY: &str = "page-test-key";
/// WebDriver's codes for the Tab and Enter keys.
const TAB: &str = "\u{e004}";
const ENTER: &str = "\u{e007}";

fn out_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("page");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn a_receipt_is_drawn_with_one_box_per_line_its_fields_and_timing() {
    let server = Server::start(&["--api-keys", KEY]);
    server.wait_ready().await;
    let png = encode(&common::shop_receipt().image, ImageFormat::Png);
    let file = out_dir().join("receipt-upload.png");
    std::fs::write(&file, &png).unwrap();

    let browser = Browser::open().await;
    browser.visit(&server.url("/")).await;
    // The engine list comes from /health: the ready default is selected.
    browser.wait_for("document.querySelector('#engine option:checked')?.value === 'paddle'").await;
    browser.type_into("#key", KEY).await;
    browser.type_into("#file", file.to_str().unwrap()).await;
    browser.click("#submit").await;
    // The page is done when the button is back (it is disabled while reading).
    browser.wait_for("!document.getElementById('submit').disabled && document.getElementById('status').textContent.startsWith('Read ') || !document.getElementById('error').hidden").await;

    let page = browser
        .eval(
            "const text = (q) => document.querySelector(q).textContent;
             return {error: document.getElementById('error').hidden ? null : text('#error'),
                     boxes: document.querySelectorAll('#boxes polygon').length,
                     items: document.querySelectorAll('#lines li').length,
                     json: text('#json'), total: text('[data-field=total] .value'), timing: text('#timing')};",
        )
        .await;
    assert_eq!(page["error"], Value::Null, "{page}");
    let shown: Value = serde_json::from_str(page["json"].as_str().unwrap()).expect("the page shows the JSON answer");
    let line_count = shown["line_count"].as_u64().expect("line_count");
    assert!(line_count >= common::SHOP_RECEIPT.len() as u64, "{shown}");
    assert_eq!(page["boxes"], line_count, "one box drawn per line");
    assert_eq!(page["items"], line_count, "one list item per line");

    // The API itself, asked the same, says the same: the page shows the answer, not its own idea of it.
    let api = reqwest::Client::builder().no_proxy().build().unwrap();
    let form = common::png_form("file", &png).text("fields", "true");
    let reply = api.post(server.url("/v1/ocr/receipt")).header("X-API-Key", KEY).multipart(form).send().await;
    let answer: Value = reply.unwrap().json().await.unwrap();
    assert_eq!(answer["line_count"], line_count, "{answer}");
    let total = answer["fields"]["total"].as_str().expect("the receipt has a total");
    assert!(total.contains("12.50"), "{answer}");
    assert_eq!(page["total"], total, "the total field is shown");
    let timing = page["timing"].as_str().unwrap();
    assert!(timing.contains("Server time") && timing.contains("round trip"), "{timing}");

    // Keyboard only: Tab from the button reaches the lines, and the focused
    // line lights its box; Enter on "Copy JSON" copies the answer.
    browser.eval("document.getElementById('submit').focus(); return null;").await;
    let mut reached = Value::Null;
    for _ in 0..10 {
        browser.press(TAB).await;
        reached =
            browser.eval("const a = document.activeElement; return a.closest('#lines') ? a.dataset.line : null;").await;
        if !reached.is_null() {
            break;
        }
    }
    let line = reached.as_str().expect("Tab reaches the lines");
    let script = format!("return document.querySelector('#boxes [data-line=\"{line}\"]').classList.contains('hot');");
    assert_eq!(browser.eval(&script).await, true, "line {line} focused by keyboard, its box not lit");
    browser.eval("document.getElementById('copy').focus(); return null;").await;
    browser.press(ENTER).await;
    browser.wait_for("document.getElementById('status').textContent.includes('clipboard')").await;
    let copied = browser.eval("return document.getElementById('status').textContent;").await;
    assert_eq!(copied, "The JSON answer is on the clipboard.");

    // Focus on a line lights its box; focus on the total lights its source lines.
    let lit = browser
        .eval(
            "document.querySelector('#lines [data-line=\"1\"]').focus();
             const line = document.querySelector('#boxes [data-line=\"1\"]').classList.contains('hot');
             document.querySelector('[data-field=total]').focus();
             return {line, total: [...document.querySelectorAll('#boxes .hot')].map((b) => Number(b.dataset.line))};",
        )
        .await;
    assert_eq!(lit["line"], true, "{lit}");
    assert_eq!(lit["total"], answer["fields"]["sources"]["total"]["lines"], "{lit}");
    // The screenshot (docs/page.png) shows the total's source line lit.
    browser.eval("window.scrollTo(0, 0); return null;").await;
    browser.screenshot("receipt.png").await;
    browser.close().await;
}

#[tokio::test]
async fn a_missing_key_a_text_file_and_a_large_file_get_readable_messages() {
    let server = Server::start(&["--api-keys", KEY, "--max-upload-mb", "1"]);
    server.wait_ready().await;
    let file = out_dir().join("not-an-image.txt");
    std::fs::write(&file, "This is a text file, not a receipt.\n").unwrap();

    let browser = Browser::open().await;
    browser.visit(&server.url("/")).await;
    browser.wait_for("document.querySelector('#engine option:checked')?.value === 'paddle'").await;
    browser.type_into("#file", file.to_str().unwrap()).await;

    // Submitting hides the last message at once; wait for the next one.
    browser.click("#submit").await;
    let message = browser.error_message().await;
    assert!(message.contains("API key"), "{message}");

    browser.type_into("#key", KEY).await;
    browser.click("#submit").await;
    let message = browser.error_message().await;
    assert!(message.contains("not an image the server can read"), "{message}");
    let hidden = browser.eval("return document.getElementById('result').hidden;").await;
    assert_eq!(hidden, true, "no result is shown for an error");
    browser.screenshot("not-an-image.png").await;

    // Over the upload limit: the server answers 413 and closes before the
    // browser has sent it all, which Chromium may see as no answer at all.
    // Either way the page says what is wrong.
    let big = out_dir().join("too-large.png");
    std::fs::write(&big, vec![0u8; 2 << 20]).unwrap();
    browser.type_into("#file", big.to_str().unwrap()).await;
    browser.click("#submit").await;
    let message = browser.error_message().await;
    assert!(message.contains("too large") || message.contains("size limit"), "{message}");
    browser.close().await;
}

// ---------------------------------------------------------------- WebDriver

/// Headless Chromium behind its own chromedriver, in a fresh profile. The
/// driver leads a process group, so whatever it started dies with it.
struct Browser {
    driver: Child,
    port: u16,
    session: String,
    profile: PathBuf,
    http: reqwest::Client,
}

impl Browser {
    async fn open() -> Self {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let profile = std::env::temp_dir().join(format!("hub-chromium-{}-{port}", std::process::id()));
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start chromedriver ({e}): install Debian's `chromium` and `chromium-driver` (make setup-test)")
            });
        let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(60)).build().unwrap();
        let mut browser = Self { driver, port, session: String::new(), profile, http };
        let deadline = Instant::now() + Duration::from_secs(20);
        while browser.request(reqwest::Method::GET, "/status", None).await.ok().and_then(|s| s["ready"].as_bool())
            != Some(true)
        {
            assert!(Instant::now() < deadline, "chromedriver did not get ready on port {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-proxy-server",
            "--window-size=1280,1100",
            &format!("--user-data-dir={}", browser.profile.display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome", "goog:chromeOptions": {"args": args}}}});
        let session = browser.request(reqwest::Method::POST, "/session", Some(capabilities)).await;
        let session = session.unwrap_or_else(|e| panic!("no browser session ({e}): is Debian's `chromium` installed?"));
        browser.session = session["sessionId"].as_str().expect("a session id").to_owned();
        browser
    }

    /// One WebDriver call; the answer's `value`, or its error as text.
    async fn request(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let mut request = self.http.request(method, url);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| e.to_string())?;
        let ok = response.status().is_success();
        let mut answer: Value = response.json().await.map_err(|e| e.to_string())?;
        let value = answer["value"].take();
        if ok { Ok(value) } else { Err(value.to_string()) }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.request(method, &path, body).await.unwrap_or_else(|e| panic!("WebDriver {path}: {e}"))
    }

    async fn visit(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url}))).await;
    }

    async fn element(&self, css: &str) -> String {
        let found =
            self.call(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await;
        found["element-6066-11e4-a52e-4f735466cecf"].as_str().expect("an element reference").to_owned()
    }

    /// Keys typed into a field; for a file input, the file's path picks it.
    async fn type_into(&self, css: &str, text: &str) {
        let element = self.element(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{element}/value"), Some(json!({"text": text}))).await;
    }

    async fn click(&self, css: &str) {
        let element = self.element(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{element}/click"), Some(json!({}))).await;
    }

    /// One key pressed and released where the focus is.
    async fn press(&self, key: &str) {
        let strokes = json!([{"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]);
        let actions = json!({"actions": [{"type": "key", "id": "keyboard", "actions": strokes}]});
        self.call(reqwest::Method::POST, "/actions", Some(actions)).await;
    }

    async fn eval(&self, script: &str) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": []}))).await
    }

    async fn wait_for(&self, condition: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.eval(&format!("return Boolean({condition});")).await != true {
            assert!(Instant::now() < deadline, "the page never showed `{condition}`");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The error shown to the user, checked to be words, not the raw answer.
    async fn error_message(&self) -> String {
        self.wait_for("!document.getElementById('error').hidden").await;
        let message = self.eval("return document.getElementById('error').textContent;").await;
        let message = message.as_str().unwrap().to_owned();
        assert!(!message.contains('{') && !message.contains("\"code\""), "raw JSON shown: {message}");
        message
    }

    async fn screenshot(&self, name: &str) {
        let shot = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD.decode(shot.as_str().unwrap()).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "not a PNG screenshot");
        std::fs::write(out_dir().join(name), png).unwrap();
    }

    async fn close(mut self) {
        let path = format!("/session/{}", self.session);
        self.request(reqwest::Method::DELETE, &path, None).await.unwrap_or_else(|e| panic!("closing: {e}"));
        self.session.clear();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // After a failed assertion the session is still open: ask the driver
        // to close it (best effort, plain socket: no runtime here).
        if !self.session.is_empty()
            && let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port))
        {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request =
                format!("DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", self.session);
            let _ = stream.write_all(request.as_bytes());
            let _ = stream.read_to_end(&mut Vec::new());
        }
        // The process group this test created, by its id (no unsafe `kill(2)` here).
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).stderr(Stdio::null()).status();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
