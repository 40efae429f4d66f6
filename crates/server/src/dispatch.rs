//! Which engine reads a request, and the shadow comparisons.
//!
//! A request that names an engine gets it. One that does not goes to the
//! default engine, or with `--ab ENGINE=FRACTION` to ENGINE with that
//! probability (to the default while ENGINE is not loaded). With
//! `--shadow ENGINE`, a sample of the default engine's requests is read
//! again by ENGINE after the client has its answer, on ENGINE's background
//! worker (`SCHED_IDLE`: it only gets CPU time nobody else wants), and only
//! while the default engine's queue is empty and the background worker
//! free; a busy service drops the sample and counts it. The two readings
//! are compared in the `ocr_shadow_*` metrics.

use axum::body::Bytes;
use metrics::{counter, histogram};

use crate::pdf_pages::PdfText;
use crate::score::agreement;
use crate::state::{AppState, EngineSlot, Loaded, SharedState};
use crate::wire::error::ApiError;
use crate::wire::response::OcrResponse;

/// Before the upload is read: the engine a request names (or the default)
/// exists and can run, else the error the request gets. Draws no A/B pick,
/// so the pick (and its fallback count) happens once, in [`choose`].
pub fn precheck(state: &AppState, named: Option<&str>) -> Result<&'static str, ApiError> {
    let slot = state.engine(named)?;
    state.loaded(slot)?;
    Ok(slot.name)
}

/// The engine for a request that names `named` (or none), and its workers.
pub fn choose<'a>(state: &'a AppState, named: Option<&str>) -> Result<(&'a EngineSlot, &'a Loaded), ApiError> {
    if named.is_none()
        && let Some((engine, share)) = state.routing.ab
        && fastrand::f64() < share
    {
        let slot = state.engine(Some(engine))?;
        match slot.ready() {
            Some(loaded) => return Ok((slot, loaded)),
            None => counter!("ocr_ab_fallback_total", "engine" => engine).increment(1),
        }
    }
    let slot = state.engine(named)?;
    Ok((slot, state.loaded(slot)?))
}

/// After `served` read `image` as `answer`: maybe read it again with the
/// shadow engine, in the background.
pub fn shadow(state: &SharedState, served: &'static str, image: Bytes, answer: &OcrResponse) {
    let Some((engine, rate)) = state.routing.shadow else { return };
    let default = state.lifecycle.engines.as_ref().map(|e| e.default_slot());
    // PDFs are not sampled: pages read from their text layer compare nothing.
    if default.is_none_or(|d| d.name != served) || answer.page_count.is_some() || fastrand::f64() >= rate {
        return;
    }
    let (Some(primary), Some(shadow)) = (default.and_then(EngineSlot::ready), state.engine(Some(engine)).ok()) else {
        return;
    };
    let Some(background) = shadow.ready().and_then(|l| l.shadow.as_ref()) else {
        counter!("ocr_shadow_total", "engine" => engine, "outcome" => "not_loaded").increment(1);
        return;
    };
    // Nothing may be waiting for the default engine, and the background
    // worker must be free: samples never pile up.
    if primary.pool.queued() > 0 || !background.idle() {
        counter!("ocr_shadow_total", "engine" => engine, "outcome" => "dropped_busy").increment(1);
        return;
    }
    let served_text: Vec<String> = answer.lines.iter().map(|l| l.text.clone()).collect();
    let (served_lines, seconds) = (answer.line_count, answer.processing_time_ms / 1000.0);
    let state = state.clone();
    tokio::spawn(async move {
        let Some(background) =
            state.engine(Some(engine)).ok().and_then(EngineSlot::ready).and_then(|l| l.shadow.as_ref())
        else {
            return;
        };
        match background.recognize(image, PdfText::Auto, None).await {
            Ok(read) => {
                let texts: Vec<&str> = read.lines.iter().map(|l| l.text.as_str()).collect();
                let served: Vec<&str> = served_text.iter().map(String::as_str).collect();
                histogram!("ocr_shadow_agreement", "engine" => engine).record(agreement(&served, &texts));
                histogram!("ocr_shadow_seconds", "engine" => served_name(&state)).record(seconds);
                histogram!("ocr_shadow_seconds", "engine" => engine).record(read.elapsed.as_secs_f64());
                histogram!("ocr_shadow_lines", "engine" => served_name(&state)).record(served_lines as f64);
                histogram!("ocr_shadow_lines", "engine" => engine).record(read.lines.len() as f64);
                counter!("ocr_shadow_total", "engine" => engine, "outcome" => "compared").increment(1);
            }
            Err(ApiError::Overloaded) => {
                counter!("ocr_shadow_total", "engine" => engine, "outcome" => "dropped_busy").increment(1);
            }
            Err(_) => counter!("ocr_shadow_total", "engine" => engine, "outcome" => "failed").increment(1),
        }
    });
}

fn served_name(state: &AppState) -> &'static str {
    state.lifecycle.engines.as_ref().map_or("none", |e| e.default_slot().name)
}
