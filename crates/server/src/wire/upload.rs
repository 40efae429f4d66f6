//! Reading an uploaded image from a multipart form, with the checks both
//! the service and the gateway make before anything runs: one image part,
//! within the size limit, a supported format (an image or a PDF) whose
//! declared type agrees;
//! and the short text options a form may carry beside it.

use axum::body::Bytes;
use axum::extract::multipart::{Field, Multipart, MultipartError};
use axum::http::StatusCode;
use hub_ocr::sniff_format;

use super::error::ApiError;

/// Form fields that carry the image.
const FILE_FIELDS: [&str; 2] = ["file", "image_file"];

/// Form fields that carry a batch's images (each may repeat).
const BATCH_FIELDS: [&str; 3] = ["file", "files", "image_file"];

/// Longest file name echoed back.
const MAX_FILENAME_CHARS: usize = 200;

/// Longest option value accepted.
const MAX_OPTION_BYTES: usize = 256;

/// Longest `callback_url` accepted.
const MAX_URL_BYTES: usize = 2048;

/// An upload: the image, and the options sent beside it.
pub struct Upload {
    pub image: Bytes,
    pub options: FormOptions,
}

/// The request options a form may carry as short text fields.
#[derive(Debug, Default)]
pub struct FormOptions {
    /// `engine=NAME`: which engine reads the image(s).
    pub engine: Option<String>,
    /// `fields=true`: add the receipt's fields to the answer.
    pub fields: Option<String>,
    /// `pdf_text=auto|off`: may a PDF page's text layer replace OCR.
    pub pdf_text: Option<String>,
    /// `callback_url=URL`: where a job's result is posted (`/v1/jobs` only).
    pub callback_url: Option<String>,
}

impl FormOptions {
    const NAMES: [&str; 4] = ["engine", "fields", "pdf_text", "callback_url"];

    /// Reads option field `name` (one of [`Self::NAMES`]).
    async fn take(&mut self, name: &str, field: Field<'_>, limit: usize) -> Result<(), ApiError> {
        let value = field.bytes().await.map_err(|e| multipart_error(e, limit))?;
        let value = Some(option_text(name, &value)?);
        match name {
            "engine" => self.engine = value,
            "fields" => self.fields = value,
            "pdf_text" => self.pdf_text = value,
            _ => self.callback_url = value,
        }
        Ok(())
    }
}

/// The single image part of the form and its options; other fields are ignored.
pub async fn read_upload(mut form: Multipart, limit: usize) -> Result<Upload, ApiError> {
    let mut image: Option<Bytes> = None;
    let mut options = FormOptions::default();
    while let Some(field) = form.next_field().await.map_err(|e| multipart_error(e, limit))? {
        let name = field.name().unwrap_or_default().to_owned();
        if FormOptions::NAMES.contains(&name.as_str()) {
            options.take(&name, field, limit).await?;
            continue;
        }
        if !FILE_FIELDS.contains(&name.as_str()) {
            continue;
        }
        if image.is_some() {
            return Err(ApiError::BadMultipart("send one image per request".into()));
        }
        let declared = field.content_type().map(str::to_owned);
        let bytes = field.bytes().await.map_err(|e| multipart_error(e, limit))?;
        if bytes.len() > limit {
            return Err(ApiError::FileTooLarge(limit));
        }
        if !bytes.is_empty() {
            check_type(declared.as_deref(), &bytes)?;
        }
        image = Some(bytes);
    }
    match image {
        None => Err(ApiError::MissingFile),
        Some(bytes) if bytes.is_empty() => Err(ApiError::EmptyFile),
        Some(image) => Ok(Upload { image, options }),
    }
}

/// One image part of a batch: its file name, and its bytes or why they
/// cannot be read (the batch carries on without it).
pub struct BatchPart {
    pub filename: String,
    pub image: Result<Bytes, ApiError>,
}

/// A batch upload: its image parts in upload order, and its options.
pub struct BatchUpload {
    pub parts: Vec<BatchPart>,
    pub options: FormOptions,
}

/// Every image part of a batch form, each checked as a single upload is
/// (size, emptiness, format); more than `max_images` parts refuse the
/// batch, as does a body over the route's limit (`total_limit`, checked
/// while it streams).
pub async fn read_batch(
    mut form: Multipart,
    image_limit: usize,
    max_images: usize,
    total_limit: usize,
) -> Result<BatchUpload, ApiError> {
    let (mut parts, mut options) = (Vec::new(), FormOptions::default());
    while let Some(field) = form.next_field().await.map_err(|e| multipart_error(e, total_limit))? {
        let name = field.name().unwrap_or_default().to_owned();
        if FormOptions::NAMES.contains(&name.as_str()) {
            options.take(&name, field, total_limit).await?;
            continue;
        }
        if !BATCH_FIELDS.contains(&name.as_str()) {
            continue;
        }
        if parts.len() == max_images {
            return Err(ApiError::TooManyImages { limit: max_images });
        }
        let filename = match field.file_name() {
            Some(name) if !name.is_empty() => name.chars().take(MAX_FILENAME_CHARS).collect(),
            _ => format!("image-{}", parts.len() + 1),
        };
        let declared = field.content_type().map(str::to_owned);
        let bytes = field.bytes().await.map_err(|e| multipart_error(e, total_limit))?;
        let image = if bytes.is_empty() {
            Err(ApiError::EmptyFile)
        } else if bytes.len() > image_limit {
            Err(ApiError::FileTooLarge(image_limit))
        } else {
            check_type(declared.as_deref(), &bytes).map(|()| bytes)
        };
        parts.push(BatchPart { filename, image });
    }
    if parts.is_empty() {
        return Err(ApiError::MissingFile);
    }
    Ok(BatchUpload { parts, options })
}

/// An option's value: short UTF-8 text.
fn option_text(name: &str, value: &[u8]) -> Result<String, ApiError> {
    std::str::from_utf8(value)
        .ok()
        .filter(|_| value.len() <= if name == "callback_url" { MAX_URL_BYTES } else { MAX_OPTION_BYTES })
        .map(|v| v.trim().to_owned())
        .ok_or_else(|| ApiError::InvalidParameter(format!("`{name}` must be short UTF-8 text")))
}

/// The media type of an upload, from its bytes: a supported image format,
/// or a PDF (`%PDF-` near the start); `None` for anything else.
pub fn sniff_type(bytes: &[u8]) -> Option<&'static str> {
    if hub_pdf::is_pdf(bytes) {
        return Some("application/pdf");
    }
    sniff_format(bytes).map(|format| format.to_mime_type())
}

/// The bytes must be a supported image or a PDF, and a declared Content-Type
/// must not name another format (a renamed or disguised file is refused,
/// not guessed).
fn check_type(declared: Option<&str>, bytes: &[u8]) -> Result<(), ApiError> {
    let actual = sniff_type(bytes).ok_or(ApiError::UnsupportedFormat)?;
    let Some(declared) = declared else { return Ok(()) };
    let essence = declared.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let agrees = match essence.as_str() {
        // Clients that do not know the type send these.
        "" | "application/octet-stream" | "binary/octet-stream" => true,
        "image/jpg" | "image/pjpeg" => actual == "image/jpeg",
        "image/x-png" => actual == "image/png",
        "image/x-bmp" | "image/x-ms-bmp" => actual == "image/bmp",
        "application/x-pdf" => actual == "application/pdf",
        other => other == actual,
    };
    if agrees {
        Ok(())
    } else {
        Err(ApiError::ContentTypeMismatch { declared: declared.chars().take(100).collect(), actual })
    }
}

fn multipart_error(err: MultipartError, limit: usize) -> ApiError {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::FileTooLarge(limit)
    } else {
        ApiError::BadMultipart(err.body_text())
    }
}
