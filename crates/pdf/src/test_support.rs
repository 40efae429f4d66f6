//! A minimal PDF writer for tests (this crate's and the server's): pages
//! with a JPEG image, Helvetica text, or any content stream, and the broken
//! or hostile files the readers must refuse.

use std::fmt::Write as _;

/// One page of a [`PdfBuilder`] document.
#[derive(Debug, Clone)]
pub struct PageSpec {
    /// `[x0 y0 x1 y1]` in points.
    pub media_box: [f32; 4],
    /// Content stream operators, drawn after the image (if any).
    pub content: String,
    /// An image drawn as `/Im0` over the whole page first.
    pub image: Option<PageImage>,
}

#[derive(Debug, Clone)]
pub enum PageImage {
    /// Stored as is (`/DCTDecode`), as scanners and phones make them.
    Jpeg(Jpeg),
    /// Stored losslessly (`/FlateDecode`): renders back to the same pixels.
    Rgb(image::RgbImage),
}

#[derive(Debug, Clone)]
pub struct Jpeg {
    pub data: Vec<u8>,
    pub width: u32,
    pub height: u32,
    /// 1 (grey) or 3 (RGB).
    pub components: u8,
}

impl PageSpec {
    /// A page the size of `width × height` points.
    pub fn new(width: f32, height: f32) -> Self {
        Self { media_box: [0.0, 0.0, width, height], content: String::new(), image: None }
    }

    /// The page fully covered by a JPEG, one image pixel to `72 / dpi` points.
    pub fn with_jpeg(jpeg: Jpeg, dpi: f32) -> Self {
        Self::with_image(jpeg.width, jpeg.height, dpi, PageImage::Jpeg(jpeg))
    }

    /// The page fully covered by `image`, stored losslessly, one pixel to
    /// `72 / dpi` points: rendered at `dpi` it gives the same pixels back.
    pub fn with_rgb(image: image::RgbImage, dpi: f32) -> Self {
        Self::with_image(image.width(), image.height(), dpi, PageImage::Rgb(image))
    }

    fn with_image(width: u32, height: u32, dpi: f32, image: PageImage) -> Self {
        let (w, h) = (width as f32 * 72.0 / dpi, height as f32 * 72.0 / dpi);
        Self { media_box: [0.0, 0.0, w, h], content: String::new(), image: Some(image) }
    }

    /// Adds `text` in Helvetica of `size` points with its baseline starting
    /// at `(x, y)` points from the page's bottom-left corner.
    pub fn text(mut self, x: f32, y: f32, size: f32, text: &str) -> Self {
        let escaped = text.replace('\\', "\\\\").replace('(', "\\(").replace(')', "\\)");
        let _ = writeln!(self.content, "BT /F1 {size} Tf {x} {y} Td ({escaped}) Tj ET");
        self
    }
}

/// Writes a whole PDF: catalog, page tree, pages, one Helvetica font (not
/// embedded: a reader must supply it), and a correct cross-reference table.
#[derive(Debug, Default, Clone)]
pub struct PdfBuilder {
    pub pages: Vec<PageSpec>,
    /// Extra trailer entries, e.g. `/Encrypt 99 0 R`.
    pub trailer_extra: String,
}

impl PdfBuilder {
    pub fn new(pages: Vec<PageSpec>) -> Self {
        Self { pages, trailer_extra: String::new() }
    }

    pub fn build(&self) -> Vec<u8> {
        // 1 catalog, 2 pages, 3 font, then per page: page, content, image.
        let mut objects: Vec<Vec<u8>> = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            Vec::new(),
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_vec(),
        ];
        let mut kids = Vec::new();
        for page in &self.pages {
            let page_id = objects.len() + 1;
            kids.push(format!("{page_id} 0 R"));
            let [x0, y0, x1, y1] = page.media_box;
            let mut content = String::new();
            let mut xobjects = String::new();
            if page.image.is_some() {
                let _ = writeln!(content, "q {} 0 0 {} {x0} {y0} cm /Im0 Do Q", x1 - x0, y1 - y0);
                xobjects = format!("/XObject << /Im0 {} 0 R >>", page_id + 2);
            }
            content.push_str(&page.content);
            objects.push(
                format!(
                    "<< /Type /Page /Parent 2 0 R /MediaBox [{x0} {y0} {x1} {y1}] /Contents {} 0 R /Resources << /Font << /F1 3 0 R >> {xobjects} >> >>",
                    page_id + 1
                )
                .into_bytes(),
            );
            objects.push(stream("", content.as_bytes()));
            let image = |width: u32, height: u32, cs: &str, filter: &str| {
                format!(
                    "/Type /XObject /Subtype /Image /Width {width} /Height {height} /ColorSpace {cs} /BitsPerComponent 8 /Filter {filter}"
                )
            };
            match &page.image {
                Some(PageImage::Jpeg(jpeg)) => {
                    let cs = if jpeg.components == 1 { "/DeviceGray" } else { "/DeviceRGB" };
                    objects.push(stream(&image(jpeg.width, jpeg.height, cs, "/DCTDecode"), &jpeg.data));
                }
                Some(PageImage::Rgb(rgb)) => {
                    let data = miniz_oxide::deflate::compress_to_vec_zlib(rgb.as_raw(), 6);
                    objects.push(stream(&image(rgb.width(), rgb.height(), "/DeviceRGB", "/FlateDecode"), &data));
                }
                None => {}
            }
        }
        objects[1] = format!("<< /Type /Pages /Kids [{}] /Count {} >>", kids.join(" "), kids.len()).into_bytes();
        write_file(&objects, &self.trailer_extra)
    }
}

/// A stream object with extra dictionary entries `dict` (without `<< >>`).
pub fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut out = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\nendstream");
    out
}

/// A file of `objects` (numbered from 1, object 1 the catalog) with a
/// cross-reference table whose offsets are right.
pub fn write_file(objects: &[Vec<u8>], trailer_extra: &str) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let xref = out.len();
    let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1);
    for offset in offsets {
        let _ = writeln!(table, "{offset:010} 00000 n ");
    }
    let _ = write!(
        table,
        "trailer\n<< /Size {} /Root 1 0 R {trailer_extra} >>\nstartxref\n{xref}\n%%EOF\n",
        objects.len() + 1
    );
    out.extend_from_slice(table.as_bytes());
    out
}
