//! Tesseract (libtesseract 5, LSTM) as an engine: one `TessBaseAPI` per
//! worker, created at load and reused for every image (the handle is not
//! thread-safe). Lines come from Tesseract's own layout through its TSV
//! output: each text line's box and words, confidence the mean of its
//! words' (0..1 like PP-OCR's).

use std::ffi::CString;

use hub_ocr::TextLine;
use image::RgbImage;
use tesseract::plumbing::TessBaseApi;

use crate::{Engine, EngineError, EngineInfo, TesseractConfig};

struct Tesseract {
    api: TessBaseApi,
}

impl Engine for Tesseract {
    fn read(&mut self, image: &RgbImage) -> Result<Vec<TextLine>, EngineError> {
        let gray = image::imageops::grayscale(image);
        let (w, h) = (gray.width() as i32, gray.height() as i32);
        self.api
            .set_image(gray.as_raw(), w, h, 1, w)
            .map_err(|e| EngineError::Tesseract(format!("cannot set image: {e:?}")))?;
        self.api.set_source_resolution(300);
        self.api.recognize().map_err(|_| EngineError::Tesseract("recognition failed".into()))?;
        let tsv = self.api.get_tsv_text(0).map_err(|_| EngineError::Tesseract("no TSV output".into()))?;
        Ok(lines_from_tsv(&tsv.as_ref().to_string_lossy()))
    }
}

pub fn load(config: &TesseractConfig, instances: usize) -> Result<(EngineInfo, Vec<Box<dyn Engine>>), EngineError> {
    let datapath = match &config.datapath {
        Some(dir) => Some(cstring(&dir.to_string_lossy())?),
        None => None,
    };
    let language = cstring(&config.language)?;
    let engines = (0..instances)
        .map(|_| {
            let mut api = TessBaseApi::create();
            api.init_2(datapath.as_deref(), Some(&language)).map_err(|_| {
                EngineError::Tesseract(format!(
                    "cannot load language `{}` (install tesseract-ocr-{} or set --tessdata)",
                    config.language, config.language
                ))
            })?;
            Ok(Box::new(Tesseract { api }) as Box<dyn Engine>)
        })
        .collect::<Result<Vec<_>, EngineError>>()?;
    let version = tesseract::plumbing::version().to_string_lossy().into_owned();
    let info = EngineInfo {
        name: "tesseract",
        version: format!("tesseract {version}"),
        models: vec![format!("{}.traineddata", config.language)],
        precision: None,
    };
    Ok((info, engines))
}

fn cstring(s: &str) -> Result<CString, EngineError> {
    CString::new(s).map_err(|_| EngineError::Tesseract(format!("`{s}` holds a NUL byte")))
}

/// Lines of Tesseract's TSV (level, page, block, par, line, word, left,
/// top, width, height, conf, text): words grouped by their line.
fn lines_from_tsv(tsv: &str) -> Vec<TextLine> {
    let mut lines: Vec<TextLine> = Vec::new();
    let mut current: Option<(String, f32, usize, [f32; 4])> = None;
    let flush = |current: &mut Option<(String, f32, usize, [f32; 4])>, lines: &mut Vec<TextLine>| {
        if let Some((text, conf_sum, words, [l, t, r, b])) = current.take()
            && words > 0
        {
            lines.push(TextLine {
                text,
                confidence: conf_sum / words as f32 / 100.0,
                bbox: [[l, t], [r, t], [r, b], [l, b]],
            });
        }
    };
    for row in tsv.lines() {
        let cols: Vec<&str> = row.splitn(12, '\t').collect();
        if cols.len() < 12 {
            continue;
        }
        let num = |i: usize| cols[i].parse::<f32>().unwrap_or(0.0);
        match cols[0] {
            "4" => {
                flush(&mut current, &mut lines);
                let (l, t) = (num(6), num(7));
                current = Some((String::new(), 0.0, 0, [l, t, l + num(8), t + num(9)]));
            }
            "5" => {
                let word = cols[11].trim();
                if word.is_empty() {
                    continue;
                }
                if let Some((text, conf_sum, words, _)) = current.as_mut() {
                    if !text.is_empty() {
                        text.push(' ');
                    }
                    text.push_str(word);
                    *conf_sum += num(10).max(0.0);
                    *words += 1;
                }
            }
            _ => {}
        }
    }
    flush(&mut current, &mut lines);
    lines
}
