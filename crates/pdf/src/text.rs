//! A page's text layer, read by running hayro's interpreter into a device
//! that keeps each glyph's Unicode and position instead of drawing it.

use crate::PdfTextLine;
use hayro::hayro_interpret::font::{Glyph, GlyphRun};
use hayro::hayro_interpret::hayro_cmap::BfString;
use hayro::hayro_interpret::util::TransformExt;
use hayro::hayro_interpret::{
    BlendMode, ClipPath, Context, Device, DrawMode, DrawProps, Image, ImageDrawProps, InterpreterCache,
    InterpreterSettings, SoftMask, interpret_page,
};
use hayro::hayro_syntax::page::Page;
use hayro::kurbo::{Affine, BezPath, Point, Rect, Shape, Vec2};

/// Fewer letters and digits than this is no text layer (a page number, a
/// logo's initials).
const MIN_ALNUM: usize = 3;
/// At most this share of glyphs may lack Unicode (fonts without a usable
/// encoding give garbage that OCR reads better).
const MAX_UNMAPPED_SHARE: f32 = 0.1;
/// Images covering more of the page than this may hold text the layer lacks.
const MAX_IMAGE_SHARE: f64 = 0.3;
/// A gap wider than this many font sizes splits a line, as OCR's detector
/// splits "TOTAL ........ 12.00" into two boxes.
const SPLIT_GAP_EM: f64 = 1.5;
/// A gap wider than this many font sizes (and no space glyph) is a space.
const SPACE_GAP_EM: f64 = 0.2;
/// Glyph box above and below the baseline, in font sizes (typical ascender
/// and descender of Latin fonts).
const ASCENT_EM: f64 = 0.8;
const DESCENT_EM: f64 = 0.2;

pub(crate) fn extract(page: &Page<'_>, scale: f32, settings: &InterpreterSettings) -> Option<Vec<PdfTextLine>> {
    let (w, h) = page.render_dimensions();
    let (width, height) = (f64::from(w * scale), f64::from(h * scale));
    let transform = Affine::scale(f64::from(scale)) * page.initial_transform(true).to_kurbo();
    let target = Rect::new(0.0, 0.0, width, height);
    let cache = InterpreterCache::new();
    let mut context = Context::new(transform, target, &cache, page.xref(), settings.clone());
    let mut device = TextDevice { target, ..TextDevice::default() };
    interpret_page(page, &mut context, &mut device);
    device.finish_line();

    let alnum = device.lines.iter().flat_map(|l| l.text.chars()).filter(|c| c.is_alphanumeric()).count();
    let unmapped_share = device.unmapped as f32 / (device.glyphs.max(1)) as f32;
    if alnum < MIN_ALNUM || unmapped_share > MAX_UNMAPPED_SHARE || device.image_area > MAX_IMAGE_SHARE * target.area() {
        return None;
    }
    let mut lines: Vec<PdfTextLine> = device.lines.into_iter().map(Line::into_text_line).collect();
    sort_reading_order(&mut lines);
    Some(lines)
}

/// A line being assembled from glyphs along one baseline.
struct Line {
    text: String,
    start: Point,
    end: Point,
    /// From baseline to the top of the line, one font size long.
    up: Vec2,
}

impl Line {
    fn into_text_line(self) -> PdfTextLine {
        let (top, bottom) = (self.up * ASCENT_EM, -self.up * DESCENT_EM);
        let corner = |p: Point| [p.x as f32, p.y as f32];
        PdfTextLine {
            text: self.text.trim().to_owned(),
            bbox: [
                corner(self.start + top),
                corner(self.end + top),
                corner(self.end + bottom),
                corner(self.start + bottom),
            ],
        }
    }
}

#[derive(Default)]
struct TextDevice {
    target: Rect,
    current: Option<Line>,
    lines: Vec<Line>,
    glyphs: usize,
    unmapped: usize,
    image_area: f64,
}

impl TextDevice {
    fn finish_line(&mut self) {
        if let Some(line) = self.current.take()
            && !line.text.trim().is_empty()
        {
            self.lines.push(line);
        }
    }

    fn add_glyph(&mut self, text: &str, origin: Point, end: Point, up: Vec2) {
        let size = up.hypot();
        if !(size.is_finite() && size > 0.5) {
            return;
        }
        // Glyphs entirely off the page (clipped by the crop box) are not
        // seen by OCR either.
        let bounds = Rect::from_points(origin + up * ASCENT_EM, end - up * DESCENT_EM);
        if !bounds.overlaps(self.target) {
            return;
        }
        if let Some(line) = &mut self.current {
            let along = (line.end - line.start).normalize();
            let dir = if along.is_finite() { along } else { (end - origin).normalize() };
            let offset = origin - line.end;
            let gap = offset.dot(dir);
            let drift = offset.cross(dir).abs();
            let same_size = (line.up.hypot() - size).abs() < 0.3 * size;
            if same_size && drift < 0.3 * size && gap > -0.5 * size && gap < SPLIT_GAP_EM * size {
                if gap > SPACE_GAP_EM * size && !line.text.ends_with(' ') && !text.starts_with(' ') {
                    line.text.push(' ');
                }
                line.text.push_str(text);
                line.end = end;
                return;
            }
        }
        self.finish_line();
        self.current = Some(Line { text: text.to_owned(), start: origin, end, up });
    }
}

/// Printable text of a glyph, or `None` when it has no usable Unicode.
fn glyph_text(unicode: Option<BfString>) -> Option<String> {
    let text = match unicode? {
        BfString::Char(c) => c.to_string(),
        BfString::String(s) => s,
    };
    let usable = |c: char| !c.is_control() && c != '\u{FFFD}' && !matches!(c, '\u{E000}'..='\u{F8FF}');
    (text.chars().all(usable) && !text.is_empty()).then_some(text)
}

impl<'a> Device<'a> for TextDevice {
    fn draw_glyph_run(&mut self, run: &GlyphRun<'_, 'a>, props: DrawProps<'a>, _: &DrawMode) {
        for glyph in run.glyphs() {
            self.glyphs += 1;
            let Some(text) = glyph_text(glyph.as_unicode()) else {
                self.unmapped += 1;
                continue;
            };
            let advance = match &**glyph {
                Glyph::Outline(g) => g.advance_width(),
                Glyph::Type3(g) => g.advance_width(),
            };
            // Glyph space is 1000 units to the font size.
            let advance = f64::from(advance.filter(|a| a.is_finite() && *a > 0.0).unwrap_or(500.0));
            let t = props.transform * glyph.transform();
            let origin = t * Point::ORIGIN;
            let end = t * Point::new(advance, 0.0);
            let up = t * Point::new(0.0, 1000.0) - origin;
            self.add_glyph(&text, origin, end, up);
        }
    }

    fn draw_image(&mut self, image: Image<'a, '_>, props: ImageDrawProps<'a>) {
        // The transform maps the image's own pixels onto the page.
        let own = Rect::new(0.0, 0.0, f64::from(image.width()), f64::from(image.height()));
        let bounds = (props.transform * own.to_path(0.1)).bounding_box();
        self.image_area += bounds.intersect(self.target).area().max(0.0);
    }

    fn draw_path(&mut self, _: &BezPath, _: DrawProps<'a>, _: &DrawMode) {}
    fn push_clip_path(&mut self, _: &ClipPath) {}
    fn push_transparency_group(&mut self, _: f32, _: Option<SoftMask<'a>>, _: BlendMode) {}
    fn pop_clip(&mut self) {}
    fn pop_transparency_group(&mut self) {}
}

/// Top to bottom, and left to right within a row, as the OCR pipeline
/// orders its lines.
fn sort_reading_order(lines: &mut [PdfTextLine]) {
    let top = |l: &PdfTextLine| l.bbox[0][1].min(l.bbox[1][1]);
    let left = |l: &PdfTextLine| l.bbox[0][0].min(l.bbox[3][0]);
    let height = |l: &PdfTextLine| (l.bbox[3][1] - l.bbox[0][1]).abs().max(1.0);
    lines.sort_by(|a, b| top(a).total_cmp(&top(b)).then(left(a).total_cmp(&left(b))));
    // Lines whose tops are within half a line height are one row.
    for i in 1..lines.len() {
        let mut j = i;
        while j > 0
            && (top(&lines[j]) - top(&lines[j - 1])).abs() < 0.5 * height(&lines[j])
            && left(&lines[j]) < left(&lines[j - 1])
        {
            lines.swap(j, j - 1);
            j -= 1;
        }
    }
}
