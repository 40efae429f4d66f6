//! A request's options (`engine`, `fields`, `pdf_text`), which it may send
//! in the query or as form fields beside the image; the service and the
//! gateway read them the same way.

use serde::Deserialize;

use super::error::ApiError;
use super::upload::FormOptions;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct OcrQuery {
    /// The engine to read with (`paddle`, `tesseract`, ...; see /health);
    /// the same as the form field `engine`. Default: the service's.
    pub engine: Option<String>,
    /// `true`: add the receipt's fields (company, address, date, total, ...)
    /// to the answer; the same as the form field `fields`. Default: `--fields`.
    pub fields: Option<String>,
    /// PDFs: `auto` reads a page's text layer when it has real text, `off`
    /// runs OCR on every page; the same as the form field `pdf_text`.
    /// Default: `auto`.
    pub pdf_text: Option<String>,
}

/// The options a request sent, its query's and its form's together;
/// `None` where it sent none (the receiver's default applies).
#[derive(Debug, Default)]
pub struct Requested {
    pub engine: Option<String>,
    pub fields: Option<bool>,
    pub pdf_text: Option<String>,
}

impl Requested {
    /// An option sent in both the query and the form must agree.
    pub fn merge(query: OcrQuery, form: FormOptions) -> Result<Self, ApiError> {
        let fields = match one_of("fields", query.fields, form.fields)?.as_deref().map(str::to_ascii_lowercase) {
            None => None,
            Some(v) if ["true", "1", "yes", "on"].contains(&v.as_str()) => Some(true),
            Some(v) if ["false", "0", "no", "off"].contains(&v.as_str()) => Some(false),
            Some(v) => return Err(ApiError::InvalidParameter(format!("`fields` is `{v}`; use true or false"))),
        };
        Ok(Self {
            engine: one_of("engine", query.engine, form.engine)?,
            fields,
            pdf_text: one_of("pdf_text", query.pdf_text, form.pdf_text)?,
        })
    }
}

/// Option `name` from the query or the form; both must agree when both have it.
pub fn one_of(name: &str, query: Option<String>, form: Option<String>) -> Result<Option<String>, ApiError> {
    match (query, form) {
        (Some(a), Some(b)) if a != b => {
            Err(ApiError::InvalidParameter(format!("`{name}` is `{a}` in the query but `{b}` in the form")))
        }
        (a, b) => Ok(a.or(b)),
    }
}
