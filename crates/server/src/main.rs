//! `inference-hub`: parses the command line, sets up logging and runs the
//! subcommand (the crate's library, `lib.rs`, maps the modules).

use std::io::IsTerminal;

use clap::Parser;
use inference_hub::config::{Cli, LogFormat};
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    limit_openmp();
    inference_hub::tune_allocator();
    let cli = Cli::parse();
    init_logging(cli.log_format);
    inference_hub::run(cli.command)
}

/// One OpenMP thread per Tesseract instance: the service runs one instance
/// per worker already, and OpenMP's own threads would fight them for cores.
/// An operator's own `OMP_THREAD_LIMIT` wins.
#[allow(unsafe_code)]
fn limit_openmp() {
    if std::env::var_os("OMP_THREAD_LIMIT").is_none() {
        // SAFETY: first thing in main, before any other thread exists, so
        // nothing can read the environment while it changes.
        unsafe { std::env::set_var("OMP_THREAD_LIMIT", "1") };
    }
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,ort=warn"));
    // Colours only on a terminal: journald and log shippers get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
