use crate::preflight::{check_deadline, check_nesting, check_streams};
use crate::survey::{Stop, Survey, survey};
use crate::{MAX_PAGE_SIDE_PT, PdfError, PdfLimits, PdfTextLine};
use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_interpret::util::TransformExt;
use hayro::hayro_syntax::page::Page;
use hayro::hayro_syntax::{DecryptionError, LoadPdfError, Pdf};
use hayro::kurbo::Affine;
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::vello_cpu::{Pixmap, RasterizerSettings, RenderContext, Resources, TargetInit};
use hayro::{RenderCache, RenderSettings};
use image::RgbImage;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;

/// A parsed PDF whose pages are all within the limits it was opened with.
pub struct Document {
    pdf: Pdf,
    limits: PdfLimits,
    /// Each page's survey (or why it failed), made by the first of `render`
    /// or `text_lines`.
    surveys: Vec<OnceLock<Result<Survey, PdfError>>>,
}

impl Document {
    /// Parses `bytes` and checks everything that can be checked before
    /// drawing: encryption, page count, page sizes, image sizes and how far
    /// its streams inflate.
    ///
    /// PDFs encrypted with an empty user password (the "owner password only"
    /// kind that just forbids copying or printing) open and read normally.
    pub fn open(bytes: &[u8], limits: &PdfLimits) -> Result<Document, PdfError> {
        check_deadline(limits.deadline)?;
        check_nesting(bytes)?;
        let pdf = guarded(|| Pdf::new(bytes.to_vec()))?.map_err(|e| match e {
            LoadPdfError::Decryption(DecryptionError::PasswordProtected) => PdfError::Encrypted("it needs a password"),
            LoadPdfError::Decryption(_) => PdfError::Encrypted("its encryption scheme is unsupported or broken"),
            LoadPdfError::Invalid => PdfError::Malformed("no readable cross-reference table or page tree".into()),
        })?;
        let count = pdf.pages().len();
        if count == 0 {
            return Err(PdfError::NoPages);
        }
        if count > limits.max_pages {
            return Err(PdfError::TooManyPages { count, max: limits.max_pages });
        }
        for (index, page) in pdf.pages().iter().enumerate() {
            let (width_pt, height_pt) = page.render_dimensions();
            if !(width_pt <= MAX_PAGE_SIDE_PT && height_pt <= MAX_PAGE_SIDE_PT) {
                return Err(PdfError::PageTooLarge { page: index + 1, width_pt, height_pt, max_pt: MAX_PAGE_SIDE_PT });
            }
        }
        guarded(|| check_streams(&pdf, limits))??;
        Ok(Document { pdf, limits: limits.clone(), surveys: (0..count).map(|_| OnceLock::new()).collect() })
    }

    pub fn page_count(&self) -> usize {
        self.pdf.pages().len()
    }

    /// Size in pixels of page `page` (0-based) as [`Document::render`] draws
    /// it: rounded, so a page made from an image at some DPI renders back
    /// to the image's size at that DPI.
    pub fn page_size(&self, page: usize) -> (u32, u32) {
        let (w, h) = self.pdf.pages()[page].render_dimensions();
        let scale = self.scale(w, h);
        let side = |x: f32, round: fn(f32) -> f32| (round(x * scale) as u32).clamp(1, u32::from(u16::MAX));
        let (width, height) = (side(w, f32::round), side(h, f32::round));
        if u64::from(width) * u64::from(height) <= self.limits.max_pixels {
            (width, height)
        } else {
            (side(w, f32::floor), side(h, f32::floor))
        }
    }

    /// Draws page `page` (0-based) on white at the limits' DPI, scaled down
    /// to fit `max_pixels`; refuses pages that would take too long to draw
    /// (`pdf_too_complex`). Panics if `page >= page_count()`.
    pub fn render(&self, index: usize) -> Result<RgbImage, PdfError> {
        self.survey(index)?;
        check_deadline(self.limits.deadline)?;
        let page = &self.pdf.pages()[index];
        let (w, h) = page.render_dimensions();
        let scale = self.scale(w, h);
        let (width, height) = self.page_size(index);
        // As `hayro::render`, but with the rounded size of `page_size`
        // (hayro truncates: 1000 px at 200 DPI came back as 999).
        let pixmap = guarded(|| {
            let mut ctx = RenderContext::new(width as u16, height as u16);
            let transform = Affine::scale(f64::from(scale)) * page.initial_transform(true).to_kurbo();
            let cache = RenderCache::new();
            hayro::render_into(page, &cache, &interpreter_settings(), &RenderSettings::default(), &mut ctx, transform);
            ctx.flush();
            let mut pixmap = Pixmap::new(ctx.width(), ctx.height());
            let settings =
                RasterizerSettings { target_init: TargetInit::Clear(WHITE), ..RasterizerSettings::default() };
            ctx.render_with(&mut pixmap, &mut Resources::default(), settings);
            pixmap
        })?;
        let (width, height) = (u32::from(pixmap.width()), u32::from(pixmap.height()));
        // The background is opaque, so premultiplied RGBA is plain RGBA.
        let rgb = pixmap.data_as_u8_slice().chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
        RgbImage::from_raw(width, height, rgb)
            .ok_or_else(|| PdfError::Malformed("the renderer returned a short image".into()))
    }

    /// The text layer of page `page` (0-based) as lines in the pixels of
    /// [`Document::render`]'s image, or `None` when the page has no real text
    /// to trust instead of OCR: too few characters, glyphs without Unicode,
    /// or text drawn beside a large image (a scan, a photo of a receipt) that
    /// may hold more text than the layer. Panics if `page >= page_count()`.
    pub fn text_lines(&self, index: usize) -> Result<Option<Vec<PdfTextLine>>, PdfError> {
        Ok(self.survey(index)?.lines.clone())
    }

    fn survey(&self, index: usize) -> Result<&Survey, PdfError> {
        if let Some(survey) = self.surveys[index].get() {
            return survey.as_ref().map_err(Clone::clone);
        }
        check_deadline(self.limits.deadline)?;
        let page: &Page<'_> = &self.pdf.pages()[index];
        let (w, h) = page.render_dimensions();
        let scale = self.scale(w, h);
        let survey = guarded(|| survey(page, scale, &interpreter_settings(), self.limits.deadline));
        self.surveys[index].get_or_init(|| survey).as_ref().map_err(Clone::clone)
    }

    /// Pixels per point: the DPI's, lowered until the page fits `max_pixels`
    /// and hayro's 16-bit sides.
    fn scale(&self, w: f32, h: f32) -> f32 {
        let mut scale = self.limits.dpi / 72.0;
        let pixels = f64::from(w * scale) * f64::from(h * scale);
        if pixels > self.limits.max_pixels as f64 {
            scale *= (self.limits.max_pixels as f64 / pixels).sqrt() as f32;
        }
        scale.min(f32::from(u16::MAX) / w.max(h))
    }
}

fn interpreter_settings() -> InterpreterSettings {
    // The default resolves the standard 14 fonts (and unknown ones) to the
    // embedded substitutes; warnings are hayro's business, not the log's.
    InterpreterSettings::default()
}

/// Runs hayro, turning a survey's [`Stop`] into its error. hayro is written
/// to tolerate broken files, but a panic on some input we have not seen
/// must still be the uploader's 4xx, not a dead worker.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, PdfError> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| match payload.downcast::<Stop>() {
        Ok(stop) => PdfError::from(*stop),
        Err(_) => PdfError::Malformed("the renderer failed on this file".into()),
    })
}
