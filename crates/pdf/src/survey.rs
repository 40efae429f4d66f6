//! One pass of hayro's interpreter over a page into a device that draws
//! nothing: it keeps each glyph's Unicode and position (the text layer) and
//! adds up what drawing the page would cost, so a page that would take
//! seconds to rasterise is refused before the rasteriser starts (hayro
//! cannot be interrupted once it has).
//!
//! hayro's interpreter cannot be stopped either, and a small file can make
//! it run for long (a form drawn a million times). So the device stops it
//! the only way it can: by unwinding with a [`Stop`] payload (without the
//! panic hook, so nothing is logged), which [`crate::Document`] catches.
//! hayro is safe Rust, so unwinding through it is sound; at worst a lock
//! it held is poisoned and later calls on the document fail as malformed.

use crate::{PdfError, PdfTextLine};
use hayro::hayro_interpret::font::{Glyph, GlyphRun};
use hayro::hayro_interpret::hayro_cmap::BfString;
use hayro::hayro_interpret::util::TransformExt;
use hayro::hayro_interpret::{
    BlendMode, CacheKey, ClipPath, Context, Device, DrawMode, DrawProps, Image, ImageDrawProps, InterpreterCache,
    InterpreterSettings, SoftMask, StrokeProps, interpret_page,
};
use hayro::hayro_syntax::page::Page;
use hayro::kurbo::{Affine, BezPath, ParamCurveArclen, Point, Rect, Shape, Vec2};
use std::collections::HashSet;
use std::panic::resume_unwind;
use std::time::{Duration, Instant};

/// Most pixels a page may paint, as a multiple of its own: each path, glyph
/// and image counts the part of its bounding box on the page (strokes 4×,
/// which cost that much more per pixel), each layer or clip the whole page.
/// vello_cpu fills about 13 Gpx/s on one EPYC core, so 500 A4 pages at
/// 200 DPI (1.9 Gpx) take ~0.15 s; real pages paint 1–20×.
const MAX_PAINT_PER_PIXEL: f64 = 500.0;
const STROKE_WEIGHT: f64 = 4.0;
/// Most glyphs on a page (a dense A4 page has 5 000; each costs ~7 µs).
const MAX_GLYPHS: usize = 50_000;
/// Most path segments and dashes on a page (stroking costs ~10 µs each).
const MAX_SEGMENTS: f64 = 50_000.0;
/// Most time the pass may take. It runs everything hayro's rasteriser will
/// run except the painting (content streams, forms, Type 3 glyphs, soft
/// masks), so a page that takes longer to interpret would take longer to
/// draw. Receipts take ~1 ms, dense A4 text pages ~2 ms.
const MAX_SURVEY_TIME: Duration = Duration::from_millis(250);
/// Most image pixels decoded for a page, as a multiple of its own pixels.
const MAX_IMAGE_PIXELS_PER_PIXEL: f64 = 16.0;

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

/// What one pass over a page found: its text layer, when it is real text
/// (see [`crate::Document::text_lines`]).
pub(crate) struct Survey {
    pub(crate) lines: Option<Vec<PdfTextLine>>,
}

/// Why a survey stopped early.
pub(crate) enum Stop {
    TooCostly(String),
    Deadline,
}

impl From<Stop> for PdfError {
    fn from(stop: Stop) -> Self {
        match stop {
            Stop::TooCostly(why) => PdfError::TooComplex(why),
            Stop::Deadline => PdfError::DeadlineExceeded,
        }
    }
}

/// Surveys a page drawn at `scale` pixels per point; unwinds with a
/// [`Stop`] when the page is over budget or `deadline` passes.
pub(crate) fn survey(page: &Page<'_>, scale: f32, settings: &InterpreterSettings, deadline: Option<Instant>) -> Survey {
    let (w, h) = page.render_dimensions();
    let (width, height) = (f64::from(w * scale), f64::from(h * scale));
    let transform = Affine::scale(f64::from(scale)) * page.initial_transform(true).to_kurbo();
    let target = Rect::new(0.0, 0.0, width, height);
    let cache = InterpreterCache::new();
    let mut context = Context::new(transform, target, &cache, page.xref(), settings.clone());
    let started = Instant::now();
    let mut device =
        SurveyDevice { target, deadline, time_limit: Some(started + MAX_SURVEY_TIME), ..SurveyDevice::default() };
    interpret_page(page, &mut context, &mut device);
    device.finish_line();

    let area = target.area().max(1.0);
    let alnum = device.lines.iter().flat_map(|l| l.text.chars()).filter(|c| c.is_alphanumeric()).count();
    let unmapped_share = device.unmapped as f32 / (device.glyphs.max(1)) as f32;
    let real_text =
        alnum >= MIN_ALNUM && unmapped_share <= MAX_UNMAPPED_SHARE && device.image_area <= MAX_IMAGE_SHARE * area;
    let lines = real_text.then(|| {
        let mut lines: Vec<PdfTextLine> = device.lines.into_iter().map(Line::into_text_line).collect();
        sort_reading_order(&mut lines);
        lines
    });
    Survey { lines }
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
struct SurveyDevice {
    target: Rect,
    current: Option<Line>,
    lines: Vec<Line>,
    glyphs: usize,
    unmapped: usize,
    /// Page pixels covered by the largest image.
    image_area: f64,
    image_pixels: f64,
    painted: f64,
    segments: f64,
    /// Soft masks are drawn once each (hayro caches them) into a layer of
    /// their own; their glyphs are no text.
    masks_seen: HashSet<u128>,
    in_mask: bool,
    deadline: Option<Instant>,
    time_limit: Option<Instant>,
    in_type3: bool,
}

impl SurveyDevice {
    /// Called after every drawing call: stops the interpreter once the page
    /// is over budget or out of time.
    fn check(&mut self) {
        let area = self.target.area().max(1.0);
        let why = if self.glyphs > MAX_GLYPHS {
            Some(format!("a page draws more than {MAX_GLYPHS} glyphs"))
        } else if self.segments > MAX_SEGMENTS {
            Some(format!("a page draws more than {MAX_SEGMENTS} path segments or dashes"))
        } else if self.painted > MAX_PAINT_PER_PIXEL * area {
            Some(format!("a page paints more than {MAX_PAINT_PER_PIXEL} times its area"))
        } else if self.image_pixels > MAX_IMAGE_PIXELS_PER_PIXEL * area {
            Some(format!("a page's images have more than {MAX_IMAGE_PIXELS_PER_PIXEL} times its pixels"))
        } else {
            None
        };
        if let Some(why) = why {
            resume_unwind(Box::new(Stop::TooCostly(why)));
        }
        // Every call: a form of no-ops drawn many times makes one call per
        // drawing but may take milliseconds between them.
        let now = Instant::now();
        if self.deadline.is_some_and(|d| now >= d) {
            resume_unwind(Box::new(Stop::Deadline));
        }
        if self.time_limit.is_some_and(|t| now >= t) {
            resume_unwind(Box::new(Stop::TooCostly(format!(
                "a page takes more than {MAX_SURVEY_TIME:?} to interpret"
            ))));
        }
    }

    fn survey_mask(&mut self, mask: Option<&SoftMask<'_>>) {
        if let Some(mask) = mask
            && self.masks_seen.insert(mask.cache_key())
        {
            self.painted += self.target.area();
            let outer = std::mem::replace(&mut self.in_mask, true);
            mask.interpret(self);
            self.in_mask = outer;
        }
    }

    /// Page pixels inside `bounds`.
    fn on_page(&self, bounds: Rect) -> f64 {
        let clipped = bounds.intersect(self.target);
        if clipped.is_finite() { clipped.area().max(0.0) } else { self.target.area() }
    }

    fn paint(&mut self, path: &BezPath, transform: Affine, mode: &DrawMode) {
        let fill = |stroke: Option<&StrokeProps>| {
            let device = transform * path.clone();
            let mut bounds = device.bounding_box();
            let mut weight = 1.0;
            let mut segments = path.elements().len() as f64;
            if let Some(stroke) = stroke {
                let width = f64::from(stroke.line_width) * transform.as_coeffs()[0].hypot(transform.as_coeffs()[1]);
                bounds = bounds.inflate(width / 2.0 + 1.0, width / 2.0 + 1.0);
                weight = STROKE_WEIGHT;
                let period: f32 = stroke.dash_array.iter().map(|d| d.abs()).sum();
                if period > 0.0 {
                    let length: f64 = path.segments().map(|s| s.arclen(1.0)).sum();
                    segments += length / f64::from(period);
                }
            }
            (bounds, weight, segments)
        };
        let parts: &[Option<&StrokeProps>] = match mode {
            DrawMode::Fill(_) => &[None],
            DrawMode::Stroke(stroke) => &[Some(stroke)],
            DrawMode::FillAndStroke(_, stroke) => &[None, Some(stroke)],
            DrawMode::Invisible => &[],
        };
        for part in parts {
            let (bounds, weight, segments) = fill(*part);
            self.painted += weight * self.on_page(bounds);
            self.segments += segments;
        }
    }

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

impl<'a> Device<'a> for SurveyDevice {
    fn draw_glyph_run(&mut self, run: &GlyphRun<'_, 'a>, props: DrawProps<'a>, _: &DrawMode) {
        self.survey_mask(props.soft_mask.as_ref());
        for glyph in run.glyphs() {
            self.glyphs += 1;
            self.check();
            if let Glyph::Type3(type3) = &**glyph {
                // Its glyph procedure is a content stream run for every use.
                let outer = std::mem::replace(&mut self.in_type3, true);
                type3.interpret(self, props.transform, glyph.transform(), &props.paint);
                self.in_type3 = outer;
            }
            if self.in_mask || self.in_type3 {
                continue;
            }
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
            self.painted += self.on_page(Rect::from_points(origin + up, end - up * DESCENT_EM));
            self.add_glyph(&text, origin, end, up);
        }
    }

    fn draw_image(&mut self, image: Image<'a, '_>, props: ImageDrawProps<'a>) {
        self.survey_mask(props.soft_mask.as_ref());
        // The transform maps the image's own pixels onto the page.
        let own = Rect::new(0.0, 0.0, f64::from(image.width()), f64::from(image.height()));
        let covered = self.on_page((props.transform * own.to_path(0.1)).bounding_box());
        self.image_area = self.image_area.max(covered);
        self.painted += covered;
        self.image_pixels += own.area();
        self.check();
    }

    fn draw_path(&mut self, path: &BezPath, props: DrawProps<'a>, mode: &DrawMode) {
        self.survey_mask(props.soft_mask.as_ref());
        self.paint(path, props.transform, mode);
        self.check();
    }

    fn push_clip_path(&mut self, clip: &ClipPath) {
        self.painted += self.on_page(clip.path.bounding_box());
        self.segments += clip.path.elements().len() as f64;
        self.check();
    }

    fn push_transparency_group(&mut self, _: f32, mask: Option<SoftMask<'a>>, _: BlendMode) {
        self.survey_mask(mask.as_ref());
        self.painted += self.target.area();
        self.check();
    }
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
