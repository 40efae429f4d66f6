//! `inference-hub`: the receipt OCR service and its command line.
//!
//! | module     | role                                                   |
//! |------------|--------------------------------------------------------|
//! | `cli`      | flags and environment → configuration, engine loading  |
//! | `serve`    | the server loop: bind, background model load, shutdown |
//! | `http`     | routes: probes, OCR endpoints, KServe V1 and V2        |
//! | `gateway`  | `gateway` subcommand: uploads forwarded to KServe      |
//! | `access`   | allow-list, API keys, rate limit for inference routes  |
//! | `pool`     | worker threads that own the engines, bounded queue     |
//! | `state`    | what the handlers share; model lifecycle               |
//! | `error`    | the JSON error contract and its status codes           |
//! | `response` | the OCR response body                                  |
//! | `oneshot`  | `ocr` and `models` subcommands                         |
//! | `bench`    | `bench` subcommand: latency, load time, memory         |
//! | `memory`   | RSS readings, allocator settings                       |
//! | `metrics`  | Prometheus metrics: recorder, `/metrics` rendering     |
//! | `notify`   | systemd notifications: ready, watchdog, stopping       |
//!
//! The pipeline itself lives in the `hub-ocr` crate.

mod access;
mod bench;
mod cli;
mod error;
mod gateway;
mod http;
mod memory;
mod metrics;
mod notify;
mod oneshot;
mod pool;
mod response;
mod serve;
mod state;

use std::io::IsTerminal;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use cli::{Cli, Command, LogFormat};

fn main() -> anyhow::Result<()> {
    memory::tune_allocator();
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match cli.command {
        Command::Serve(args) => {
            tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(serve::run(args))
        }
        Command::Gateway(args) => {
            tokio::runtime::Builder::new_multi_thread().enable_all().build()?.block_on(gateway::run(args))
        }
        Command::Ocr(args) => oneshot::run(args),
        Command::Models(args) => oneshot::check_models(&args),
        Command::Bench(args) => bench::run(args),
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
