//! The in-process tier: the service's router driven without a socket or a
//! process (`tower::ServiceExt::oneshot`), its state built from `serve`
//! flags as `serve` builds it, over an engine of fake models. Everything
//! about the HTTP contract that needs neither a real connection nor the
//! real models lives here: the error contract and bad uploads, access
//! control, the KServe V1 and Open Inference Protocol V2 routes and their
//! errors, the probes across the model lifecycle, the OpenAPI description,
//! request ids. One test binary, no child processes: it runs in seconds.
//!
//! The end-to-end tests (`tests/*.rs`) boot the real binary for what only a
//! process shows: real models reading receipts, a real socket (hyper's own
//! limits, slow clients), signals, systemd, Prometheus, the gateway.

#[path = "../common/mod.rs"]
mod common;
mod harness;

mod access;
mod bad_inputs;
mod batch;
mod cache;
mod engines;
mod fields;
mod kserve_v1;
mod oip_v2;
mod openapi;
mod page;
mod pdf;
mod probes;
mod request_ids;
