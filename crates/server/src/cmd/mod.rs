//! The one-shot subcommands: the serving pipeline without a server.

pub mod bench;
pub mod models;
pub mod ocr;
