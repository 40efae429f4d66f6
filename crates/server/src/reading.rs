//! One image read by an engine's workers, through the result cache when
//! the service has one: the path the single, batch and KServe routes share.
//! The cache key is the image's SHA-256 and the engine's identity (its
//! version, settings and model files), so answers of different engines,
//! profiles or options never mix; a PDF read with `pdf_text=off` has its
//! own key too.

use std::time::Instant;

use axum::body::Bytes;
use axum::http::HeaderMap;
use axum::http::header::CACHE_CONTROL;
use hub_cache::{CacheKey, CacheStatus};
use metrics::histogram;

use crate::pdf_pages::PdfText;
use crate::state::{AppState, EngineSlot, Loaded};
use crate::wire::error::ApiError;
use crate::wire::response::OcrResponse;

/// An image's answer, and where it came from.
pub struct Read {
    pub response: OcrResponse,
    /// `None` when the service runs without a cache.
    pub cache: Option<CacheStatus>,
}

impl Read {
    /// Read by the engine now (not answered from the cache).
    pub fn computed(&self) -> bool {
        !matches!(self.cache, Some(CacheStatus::Hit(_)))
    }
}

/// `Cache-Control: no-cache` on the request: read again, then store.
pub fn bypass(headers: &HeaderMap) -> bool {
    headers
        .get_all(CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|directive| directive.trim().eq_ignore_ascii_case("no-cache")))
}

/// Reads `image` (or PDF) with the engine in `slot`, or answers it from the
/// cache. A hit is the miss's body with this request's `processing_time_ms`.
pub async fn read(
    state: &AppState,
    slot: &EngineSlot,
    loaded: &Loaded,
    image: Bytes,
    bypass: bool,
    pdf_text: PdfText,
) -> Result<Read, ApiError> {
    let started = Instant::now();
    // The callers time out at the same deadline; the worker needs it too,
    // to stop reading a PDF's pages once nobody waits for them.
    let deadline = std::time::Instant::now() + state.limits.request_timeout;
    let engine = || async {
        let done = loaded.pool.recognize(image.clone(), pdf_text, Some(deadline)).await?;
        histogram!("ocr_processing_seconds", "engine" => slot.name).record(done.elapsed.as_secs_f64());
        Ok::<_, ApiError>(OcrResponse::new(done.lines, done.elapsed, slot.name).paged(done.pages))
    };
    let Some(cache) = &state.cache else {
        return Ok(Read { response: engine().await?, cache: None });
    };
    let identity = format!("{}{}", loaded.info.identity, pdf_text.cache_suffix(&image));
    let key = CacheKey::new(&image, &identity);
    let stored = cache
        .get_or_compute(&key, bypass, || async {
            let response = engine().await?;
            serde_json::to_vec(&response).map(Bytes::from).map_err(|_| ApiError::Internal)
        })
        .await;
    let (bytes, status) = stored.map_err(|err| (*err).clone())?;
    let response: OcrResponse = serde_json::from_slice(&bytes).map_err(|_| ApiError::Internal)?;
    let response = match status {
        CacheStatus::Hit(_) => response.timed(started.elapsed()),
        _ => response,
    };
    Ok(Read { response, cache: Some(status) })
}
