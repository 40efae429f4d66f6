//! `inference-hub`: the receipt OCR service and its command line. Modules,
//! lowest first (each imports only from the ones above it):
//!
//! | module    | role                                                              |
//! |-----------|-------------------------------------------------------------------|
//! | `merchants`| the merchant directory for the fields, read again when it changes|
//! | `config`  | flags and environment → configuration; engine profiles, loading   |
//! | `memory`  | RSS readings, allocator settings                                  |
//! | `wire`    | what every HTTP surface speaks: errors, OCR response, uploads,    |
//! |           | access guard, request id and HTTP metrics, serve loop, recorder   |
//! | `score`   | the shared scorer's metrics (word F1, CER) and engine agreement   |
//! | `pdf_pages`| PDF uploads on the workers: text layers or pages drawn for OCR   |
//! | `workers` | inference threads, one per engine instance, bounded queue         |
//! | `state`   | what the service's handlers share: limits, identity, engines      |
//! | `dispatch`| which engine reads a request: named, A/B split; shadow comparisons|
//! | `reading` | one image through the result cache and an engine's workers        |
//! | `jobs`    | asynchronous jobs here: store opening, runner, sweeper, callbacks  |
//! | `metrics` | the service's Prometheus metrics and `/metrics`                   |
//! | `http`    | the service's routes: probes, OCR, KServe V1 and V2, OpenAPI, and |
//! |           | the try-it page at `/`                                            |
//! | `notify`  | systemd notifications: ready, watchdog, stopping                  |
//! | `serve`   | `serve`: bind, background model load, shutdown                    |
//! | `worker`  | `worker`: models and the job runner; probes and metrics only      |
//! | `gateway` | `gateway`: uploads forwarded to a KServe model server             |
//! | `cmd`     | `ocr`, `models`, `bench`, `compare`: engines without a server     |
//!
//! The engines live in the `hub-engines` crate, the job store in `hub-jobs` (PP-OCR's pipeline in `hub-ocr`). The binary
//! (`main.rs`) parses the command line and calls [`run`]; tests drive
//! [`router`] in process over a [`state::AppState`].

mod cmd;
pub mod config;
mod dispatch;
mod gateway;
mod http;
mod jobs;
mod memory;
mod merchants;
mod metrics;
mod notify;
mod pdf_pages;
mod reading;
mod score;
mod serve;
pub mod state;
pub mod wire;
mod worker;
pub mod workers;

pub use http::router;
pub use memory::tune_allocator;

use config::Command;

/// Runs one subcommand to its end.
pub fn run(command: Command) -> anyhow::Result<()> {
    let runtime = || tokio::runtime::Builder::new_multi_thread().enable_all().build();
    match command {
        Command::Serve(args) => runtime()?.block_on(serve::run(*args)),
        Command::Gateway(args) => runtime()?.block_on(gateway::run(args)),
        Command::Ocr(args) => cmd::ocr::run(args),
        Command::Models(args) => cmd::models::run(&args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Compare(args) => cmd::compare::run(args),
        Command::Worker(args) => runtime()?.block_on(worker::run(*args)),
    }
}
