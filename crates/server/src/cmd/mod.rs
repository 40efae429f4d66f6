//! The one-shot subcommands: the serving engines without a server.

pub mod bench;
pub mod compare;
pub mod models;
pub mod ocr;
