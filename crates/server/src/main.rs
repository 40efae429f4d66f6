//! `inference-hub`: parses the command line, sets up logging and runs the
//! subcommand (the crate's library, `lib.rs`, maps the modules).

use std::io::IsTerminal;

use clap::Parser;
use inference_hub::config::{Cli, LogFormat};
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    #[cfg(feature = "tesseract")]
    if cli.command.engines().contains(&"tesseract") {
        one_openmp_thread();
    }
    inference_hub::tune_allocator();
    init_logging(cli.log_format);
    inference_hub::run(cli.command)
}

/// libtesseract's OpenMP threads compete with the service's own workers and
/// spin (8x the CPU time per receipt), and only `OMP_THREAD_LIMIT` in the
/// environment a process starts with limits them: libgomp reads it before
/// `main`. When a command loads Tesseract without the operator's own
/// setting, the binary runs itself again with it set to 1 (same process id,
/// arguments and environment otherwise).
#[cfg(feature = "tesseract")]
fn one_openmp_thread() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("OMP_THREAD_LIMIT").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else { return };
    let err = std::process::Command::new(exe).args(std::env::args_os().skip(1)).env("OMP_THREAD_LIMIT", "1").exec();
    // exec returns only when it failed: carry on, slower with Tesseract.
    eprintln!("cannot restart with OMP_THREAD_LIMIT=1 ({err}); Tesseract will be slower");
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
