//! hub-pdf on PDFs the tests write themselves (and two encrypted ones made
//! by `fixtures/make_encrypted.py`): sizes, pixels, text layers, and every
//! hostile or broken input refused with its own error, quickly.

use hub_pdf::test_support::{Jpeg, PageSpec, PdfBuilder, stream, write_file};
use hub_pdf::{Document, PdfError, PdfLimits, is_pdf};
use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};
use std::time::{Duration, Instant};

const MM: f32 = 72.0 / 25.4;

fn open(bytes: &[u8]) -> Result<Document, PdfError> {
    Document::open(bytes, &PdfLimits::default())
}

fn jpeg(image: &RgbImage) -> Jpeg {
    let mut data = Vec::new();
    JpegEncoder::new_with_quality(&mut data, 95).encode_image(image).unwrap();
    Jpeg { data, width: image.width(), height: image.height(), components: 3 }
}

/// A receipt-like picture: white paper, dark bars where lines of text would be.
fn striped(width: u32, height: u32, seed: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let row = y / 40;
        let ink = y % 40 < 18 && x > 30 + (row * 37 + seed * 101) % 200 && x < width - 30 - (row * 53 + seed) % 150;
        if ink { Rgb([20, 20, 30]) } else { Rgb([250, 250, 245]) }
    })
}

fn mean_abs_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    let (w, h) = (a.width().min(b.width()), a.height().min(b.height()));
    let mut sum = 0u64;
    for y in 0..h {
        for x in 0..w {
            for c in 0..3 {
                sum += u64::from(a.get_pixel(x, y)[c].abs_diff(b.get_pixel(x, y)[c]));
            }
        }
    }
    sum as f64 / f64::from(w * h * 3)
}

fn expect_err(bytes: &[u8], limits: &PdfLimits, code: &str) -> Duration {
    let start = Instant::now();
    let result = Document::open(bytes, limits);
    let elapsed = start.elapsed();
    match result {
        Err(e) => assert_eq!(e.code(), code, "{e}"),
        Ok(doc) => panic!("opened a document with {} pages, expected {code}", doc.page_count()),
    }
    elapsed
}

#[test]
fn sniffs_the_pdf_header_within_the_first_kilobyte() {
    assert!(is_pdf(b"%PDF-1.7\n"));
    let mut late = vec![b' '; 1000];
    late.extend_from_slice(b"%PDF-1.4");
    assert!(is_pdf(&late));
    let mut too_late = vec![b' '; 1024];
    too_late.extend_from_slice(b"%PDF-1.4");
    assert!(!is_pdf(&too_late));
    assert!(!is_pdf(b"\x89PNG\r\n\x1a\n"));
    assert!(!is_pdf(b"%PD"));
}

#[test]
fn pages_render_at_200_dpi() {
    let receipt = PdfBuilder::new(vec![PageSpec::new(80.0 * MM, 200.0 * MM)]).build();
    let doc = open(&receipt).unwrap();
    let image = doc.render(0).unwrap();
    // 80 x 200 mm at 200 DPI is 629.9 x 1574.8 px.
    assert_eq!(image.dimensions(), (630, 1575));
    assert_eq!(doc.page_size(0), (630, 1575));
    assert!(image.pixels().all(|p| p.0 == [255, 255, 255]), "an empty page renders white");

    let a4 = PdfBuilder::new(vec![PageSpec::new(595.0, 842.0)]).build();
    assert_eq!(open(&a4).unwrap().render(0).unwrap().dimensions(), (1653, 2339));
}

#[test]
fn large_pages_are_scaled_down_to_the_pixel_limit() {
    let a4 = PdfBuilder::new(vec![PageSpec::new(595.0, 842.0)]).build();
    let limits = PdfLimits { max_pixels: 1_000_000, ..PdfLimits::default() };
    let doc = Document::open(&a4, &limits).unwrap();
    let (w, h) = doc.render(0).unwrap().dimensions();
    let pixels = u64::from(w) * u64::from(h);
    assert!((990_000..=1_000_000).contains(&pixels), "{w}x{h}");
    assert!((f64::from(w) / f64::from(h) - 595.0 / 842.0).abs() < 0.01, "{w}x{h} keeps the aspect ratio");
}

#[test]
fn a_page_wrapping_a_jpeg_renders_the_same_pixels() {
    let picture = striped(640, 1200, 1);
    let pdf = PdfBuilder::new(vec![PageSpec::with_jpeg(jpeg(&picture), 200.0)]).build();
    let doc = open(&pdf).unwrap();
    assert_eq!(doc.page_count(), 1);
    let rendered = doc.render(0).unwrap();
    assert_eq!(rendered.dimensions(), picture.dimensions());
    let diff = mean_abs_diff(&rendered, &picture);
    assert!(diff < 4.0, "mean difference {diff:.2} per channel");
    assert_eq!(doc.text_lines(0).unwrap(), None, "an image-only page has no text layer");
}

#[test]
fn a_page_wrapping_a_lossless_image_renders_the_same_pixels() {
    let picture = striped(630, 1000, 2);
    let doc = open(&PdfBuilder::new(vec![PageSpec::with_rgb(picture.clone(), 200.0)]).build()).unwrap();
    let rendered = doc.render(0).unwrap();
    assert_eq!(rendered.dimensions(), picture.dimensions());
    let diff = mean_abs_diff(&rendered, &picture);
    assert!(diff < 1.0, "mean difference {diff:.2} per channel");
}

#[test]
fn two_pages_render_in_order() {
    let first = striped(400, 600, 1);
    let mut second = striped(400, 600, 7);
    image::imageops::invert(&mut second);
    let pdf =
        PdfBuilder::new(vec![PageSpec::with_jpeg(jpeg(&first), 200.0), PageSpec::with_jpeg(jpeg(&second), 200.0)])
            .build();
    let doc = open(&pdf).unwrap();
    assert_eq!(doc.page_count(), 2);
    let (one, two) = (doc.render(0).unwrap(), doc.render(1).unwrap());
    assert!(mean_abs_diff(&one, &first) < 4.0);
    assert!(mean_abs_diff(&two, &second) < 4.0);
    assert!(mean_abs_diff(&one, &second) > 10.0, "the pages differ");
}

#[test]
fn the_text_layer_gives_lines_where_the_text_was_drawn() {
    // A4; baselines at 800 and 700 pt from the bottom.
    let page = PageSpec::new(595.0, 842.0)
        .text(50.0, 800.0, 12.0, "ACME Supermarket")
        .text(50.0, 700.0, 10.0, "TOTAL")
        .text(400.0, 700.0, 10.0, "12.50")
        .text(50.0, 680.0, 10.0, "Thank you (come again)");
    let doc = open(&PdfBuilder::new(vec![page]).build()).unwrap();
    let lines = doc.text_lines(0).unwrap().expect("a text layer");
    let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["ACME Supermarket", "TOTAL", "12.50", "Thank you (come again)"]);

    let scale = 200.0 / 72.0;
    let image = doc.render(0).unwrap();
    for (line, (x, baseline, size)) in
        lines.iter().zip([(50.0, 800.0, 12.0), (50.0, 700.0, 10.0), (400.0, 700.0, 10.0), (50.0, 680.0, 10.0)])
    {
        let [tl, tr, br, bl] = line.bbox;
        let (left, baseline_px, size_px) = (x * scale, (842.0 - baseline) * scale, size * scale);
        assert!((tl[0] - left).abs() < 1.0 && (bl[0] - left).abs() < 1.0, "{line:?} starts at x={left}");
        assert!((tl[1] - (baseline_px - 0.8 * size_px)).abs() < 1.0, "{line:?} top");
        assert!((bl[1] - (baseline_px + 0.2 * size_px)).abs() < 1.0, "{line:?} bottom");
        assert!((tr[1] - tl[1]).abs() < 0.01 && (br[1] - bl[1]).abs() < 0.01, "{line:?} is upright");
        // Helvetica averages about half an em per character.
        let chars = line.text.chars().count() as f32;
        let width = tr[0] - tl[0];
        assert!(width > 0.4 * chars * size_px && width < 0.7 * chars * size_px, "{line:?} width {width}");
        // The non-embedded Helvetica is drawn with the embedded substitute:
        // ink inside the box, and the box holds nearly all of it.
        let ink = |x0: f32, y0: f32, x1: f32, y1: f32| {
            let mut n = 0;
            for y in y0.max(0.0) as u32..(y1 as u32).min(image.height()) {
                for x in x0.max(0.0) as u32..(x1 as u32).min(image.width()) {
                    n += u32::from(image.get_pixel(x, y)[0] < 128);
                }
            }
            n
        };
        let inside = ink(tl[0], tl[1], br[0], br[1]);
        let around = ink(tl[0] - 10.0, tl[1] - 10.0, br[0] + 10.0, br[1] + 10.0);
        assert!(inside as f32 > 0.05 * (width * (br[1] - tl[1])), "{line:?} has ink ({inside} px)");
        assert!(inside as f32 >= 0.95 * around as f32, "{line:?} box holds its ink ({inside} of {around})");
    }
}

#[test]
fn pages_without_real_text_have_no_text_layer() {
    let few = PageSpec::new(200.0, 200.0).text(20.0, 100.0, 10.0, "p1");
    let doc = open(&PdfBuilder::new(vec![few, PageSpec::new(200.0, 200.0)]).build()).unwrap();
    assert_eq!(doc.text_lines(0).unwrap(), None, "two characters");
    assert_eq!(doc.text_lines(1).unwrap(), None, "an empty page");

    // Text beside a photo of a receipt: the photo may hold more text.
    let photo = PageSpec::with_jpeg(jpeg(&striped(400, 600, 3)), 200.0).text(5.0, 5.0, 8.0, "Scanned by ACME");
    assert_eq!(open(&PdfBuilder::new(vec![photo]).build()).unwrap().text_lines(0).unwrap(), None);
}

#[test]
fn encrypted_pdfs_need_no_password_or_are_refused() {
    let locked = include_bytes!("fixtures/password.pdf");
    expect_err(locked, &PdfLimits::default(), "pdf_encrypted");
    // Only an owner password (no copying or printing): it opens.
    let doc = open(include_bytes!("fixtures/owner_only.pdf")).unwrap();
    let lines = doc.text_lines(0).unwrap().expect("a text layer");
    assert_eq!(lines[0].text, "PAID 12.50");
    // An /Encrypt dictionary that cannot be used.
    let mut builder = PdfBuilder::new(vec![PageSpec::new(100.0, 100.0).text(10.0, 50.0, 10.0, "hello")]);
    builder.trailer_extra = "/Encrypt << /Filter /Standard /V 9 /R 9 /O (x) /U (y) /P -4 >>".into();
    expect_err(&builder.build(), &PdfLimits::default(), "pdf_encrypted");
}

#[test]
fn page_count_limits() {
    let zero = write_file(
        &[b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(), b"<< /Type /Pages /Kids [] /Count 0 >>".to_vec()],
        "",
    );
    expect_err(&zero, &PdfLimits::default(), "pdf_no_pages");

    let eleven = PdfBuilder::new(vec![PageSpec::new(100.0, 100.0); 11]).build();
    match open(&eleven) {
        Err(PdfError::TooManyPages { count: 11, max: 10 }) => {}
        other => panic!("{:?}", other.map(|d| d.page_count())),
    }
    let limits = PdfLimits { max_pages: 11, ..PdfLimits::default() };
    assert_eq!(Document::open(&eleven, &limits).unwrap().page_count(), 11);
}

#[test]
fn enormous_pages_are_refused() {
    let huge = PdfBuilder::new(vec![PageSpec::new(100_000.0, 100_000.0)]).build();
    let elapsed = expect_err(&huge, &PdfLimits::default(), "pdf_page_too_large");
    assert!(elapsed < Duration::from_millis(100), "{elapsed:?}");
    // A long receipt (3 m) is not enormous: it is drawn at a lower DPI.
    let long = PdfBuilder::new(vec![PageSpec::new(80.0 * MM, 3000.0 * MM)]).build();
    let limits = PdfLimits { max_pixels: 4_000_000, ..PdfLimits::default() };
    let (w, h) = Document::open(&long, &limits).unwrap().render(0).unwrap().dimensions();
    assert!(u64::from(w) * u64::from(h) <= 4_000_000 && h > 20 * w, "{w}x{h}");
}

#[test]
fn broken_files_are_malformed() {
    for bytes in [&b"%PDF-1.7\n"[..], b"%PDF-1.7\ngarbage garbage\n%%EOF", b"", b"\x89PNG\r\n\x1a\n"] {
        expect_err(bytes, &PdfLimits::default(), "pdf_malformed");
    }
    // Every truncation of a real file either opens (hayro rebuilds what it
    // can) or is refused; none panics.
    let good = PdfBuilder::new(vec![PageSpec::new(200.0, 200.0).text(20.0, 100.0, 10.0, "Receipt 42"); 2]).build();
    for len in (0..good.len()).step_by(7) {
        if let Ok(doc) = open(&good[..len]) {
            for page in 0..doc.page_count() {
                let _ = doc.render(page).map(|_| ());
                let _ = doc.text_lines(page);
            }
        }
    }
}

#[test]
fn deep_nesting_is_cut_off_quickly() {
    let depth = 100_000;
    let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let dicts = format!("{}{}", "<< /A ".repeat(depth), ">>".repeat(depth));
    let file = |page_extra: &str, content: &str| {
        write_file(
            &[
                b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
                format!("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R {page_extra} >>")
                    .into_bytes(),
                stream("", content.as_bytes()),
            ],
            "",
        )
    };
    // In the object structure (hayro alone took 1.5 s to give up).
    for extra in [format!("/Deep {nested}"), format!("/Deeper {dicts}")] {
        let elapsed = expect_err(&file(&extra, ""), &PdfLimits::default(), "pdf_too_complex");
        assert!(elapsed < Duration::from_millis(100), "{elapsed:?}");
    }
    // In the content stream hayro stops quickly by itself.
    let start = Instant::now();
    let doc = open(&file("", &format!("BT /F1 10 Tf 10 10 Td {nested} TJ ET {dicts} BDC EMC"))).unwrap();
    doc.render(0).unwrap();
    assert_eq!(doc.text_lines(0).unwrap(), None);
    assert!(start.elapsed() < Duration::from_millis(200), "{:?}", start.elapsed());
}

#[test]
fn compression_bombs_and_huge_images_are_refused_at_open() {
    // 64 MiB of spaces is a valid content stream that deflates to 64 KiB.
    let bomb = miniz_oxide::deflate::compress_to_vec_zlib(&vec![b' '; 64 << 20], 9);
    let objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>".to_vec(),
        stream("/Filter /FlateDecode", &bomb),
    ];
    let elapsed = expect_err(&write_file(&objects, ""), &PdfLimits::default(), "pdf_too_complex");
    assert!(elapsed < Duration::from_millis(500), "{elapsed:?}");
    // The same as an object stream, which hayro inflates while opening.
    let objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>".to_vec(),
        stream("/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode", &bomb),
    ];
    let elapsed = expect_err(&write_file(&objects, ""), &PdfLimits::default(), "pdf_too_complex");
    assert!(elapsed < Duration::from_millis(500), "{elapsed:?}");

    // An image that says it is 100000 x 100000 pixels.
    let objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R /Resources << /XObject << /Im0 5 0 R >> >> >>".to_vec(),
        stream("", b"q 200 0 0 200 0 0 cm /Im0 Do Q"),
        stream("/Type /XObject /Subtype /Image /Width 100000 /Height 100000 /ColorSpace /DeviceGray /BitsPerComponent 8", &[0; 100]),
    ];
    let elapsed = expect_err(&write_file(&objects, ""), &PdfLimits::default(), "pdf_too_complex");
    assert!(elapsed < Duration::from_millis(100), "{elapsed:?}");
}

/// A one-page A4 document whose content stream is `content`, Flate-compressed,
/// with Helvetica as /F1 and `form` (if any) as the form XObject /X.
fn a4_page(content: &str, form: Option<&str>) -> Vec<u8> {
    let compressed = miniz_oxide::deflate::compress_to_vec_zlib(content.as_bytes(), 6);
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> /XObject << /X 6 0 R >> >> >>".to_vec(),
        stream("/Filter /FlateDecode", &compressed),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
    ];
    if let Some(form) = form {
        let compressed = miniz_oxide::deflate::compress_to_vec_zlib(form.as_bytes(), 6);
        objects.push(stream("/Type /XObject /Subtype /Form /BBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Filter /FlateDecode", &compressed));
    }
    write_file(&objects, "")
}

#[test]
fn pages_too_costly_to_draw_are_refused_quickly() {
    let line = "BT /F1 8 Tf 0 100 Td (WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW) Tj ET\n";
    // Each of these is a few kilobytes; drawn, the first took 3-10 s.
    let cases = [
        ("full-page fills", a4_page(&"0 0 595 842 re f\n".repeat(10_000), None)),
        ("diagonal strokes", a4_page(&"10 w 0 0 m 595 842 l 0 842 l 595 0 l h S\n".repeat(10_000), None)),
        ("dense dashes", a4_page("[0.01] 0 d 0 0 m 595 842 l S", None)),
        ("huge glyphs", a4_page(&"BT /F1 800 Tf 0 100 Td (WWWW) Tj ET\n".repeat(10_000), None)),
        ("many glyphs", a4_page(&line.repeat(100_000), None)),
        ("a form of glyphs drawn often", a4_page(&"/X Do\n".repeat(100_000), Some(&line.repeat(20)))),
        ("a form of no-ops drawn often", a4_page(&"/X Do\n".repeat(100_000), Some(&"q Q ".repeat(100_000)))),
    ];
    for (name, pdf) in cases {
        assert!(pdf.len() < 600_000, "{name}: {} bytes", pdf.len());
        let doc = open(&pdf).unwrap();
        let start = Instant::now();
        let err = doc.render(0).unwrap_err();
        let elapsed = start.elapsed();
        assert_eq!(err.code(), "pdf_too_complex", "{name}: {err}");
        assert!(elapsed < Duration::from_millis(600), "{name}: {elapsed:?}");
        // The verdict is kept: the text layer is refused at once too.
        let start = Instant::now();
        assert_eq!(doc.text_lines(0).unwrap_err().code(), "pdf_too_complex");
        assert!(start.elapsed() < Duration::from_millis(5), "{name}");
    }
}

#[test]
fn realistic_pages_render_in_well_under_a_second() {
    let text = "ITEM 00 SOMETHING NICE 12.99 and a longer description of it";
    let mut receipt = PageSpec::new(80.0 * MM, 250.0 * MM);
    for i in 0..50 {
        receipt = receipt.text(10.0, 690.0 - i as f32 * 13.0, 9.0, &text[..30]);
    }
    let mut a4 = PageSpec::new(595.0, 842.0);
    for i in 0..60 {
        a4 = a4.text(50.0, 800.0 - i as f32 * 12.5, 10.0, text);
    }
    for (name, page) in [("receipt 80x250 mm, 50 lines", receipt), ("A4, 60 lines", a4)] {
        let doc = open(&PdfBuilder::new(vec![page]).build()).unwrap();
        let start = Instant::now();
        let lines = doc.text_lines(0).unwrap().unwrap();
        let text_time = start.elapsed();
        let start = Instant::now();
        let image = doc.render(0).unwrap();
        let render_time = start.elapsed();
        eprintln!(
            "{name}: text layer {text_time:?} ({} lines), render {render_time:?} ({}x{})",
            lines.len(),
            image.width(),
            image.height()
        );
        assert!(render_time < Duration::from_secs(1), "{name}: {render_time:?}");
    }
}

#[test]
fn a_passed_deadline_stops_work() {
    let pdf = PdfBuilder::new(vec![PageSpec::new(100.0, 100.0).text(10.0, 50.0, 10.0, "hello"); 2]).build();
    let past = PdfLimits { deadline: Some(Instant::now()), ..PdfLimits::default() };
    expect_err(&pdf, &past, "pdf_deadline_exceeded");
    let soon = PdfLimits { deadline: Some(Instant::now() + Duration::from_millis(300)), ..PdfLimits::default() };
    let doc = Document::open(&pdf, &soon).unwrap();
    doc.render(0).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(doc.render(0).unwrap_err().code(), "pdf_deadline_exceeded");
    assert_eq!(doc.text_lines(1).unwrap_err().code(), "pdf_deadline_exceeded");
    // What was read before the deadline is still there.
    assert_eq!(doc.text_lines(0).unwrap().unwrap()[0].text, "hello");
}

#[test]
fn documents_can_move_to_a_worker_thread() {
    fn assert_send<T: Send>() {}
    assert_send::<Document>();
}

#[test]
fn fuzz_seeds_read_and_regressions_do_not_panic() {
    let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let files = |dir: &str| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(fuzz.join(dir)).map_or(Vec::new(), |d| d.map(|e| e.unwrap().path()).collect())
    };
    let limits = PdfLimits { max_pages: 4, dpi: 72.0, max_pixels: 1_000_000, deadline: None };
    let seeds = files("corpus/pdf");
    assert!(seeds.len() >= 5, "seed corpus missing: {}", fuzz.display());
    for seed in seeds {
        let doc = Document::open(&std::fs::read(&seed).unwrap(), &limits).unwrap();
        for page in 0..doc.page_count() {
            doc.render(page).unwrap();
            doc.text_lines(page).unwrap();
        }
    }
    // The folder is kept (with its README) even while empty: without it
    // this replay would pass having replayed nothing.
    assert!(fuzz.join("regressions/pdf").is_dir(), "fuzz/regressions/pdf is missing (docs/fuzzing.md)");
    for input in files("regressions/pdf") {
        if input.file_name().is_some_and(|n| n == "README.md") {
            continue;
        }
        if let Ok(doc) = Document::open(&std::fs::read(&input).unwrap(), &limits) {
            for page in 0..doc.page_count() {
                let _ = doc.render(page).map(|_| ());
                let _ = doc.text_lines(page);
            }
        }
    }
}
