//! Receipt fields from OCR lines (work in progress).
