//! The Prometheus recorder and the HTTP metrics every surface exports
//! (`wire::observe::track` records them).

use std::time::Duration;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Histogram buckets in seconds: a probe takes microseconds, a large receipt
/// on a busy two-core machine tens of seconds.
pub const BUCKETS: [f64; 14] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0];

/// Prometheus text format, version 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Installs the process-wide Prometheus recorder with these histogram
/// buckets (the service's and the gateway's), and others for the histograms
/// that do not measure seconds. Histogram samples are folded into their
/// buckets every few seconds, so memory stays flat however long Prometheus
/// goes without scraping.
pub fn install_recorder(buckets: &[f64], others: &[(&str, &[f64])]) -> anyhow::Result<PrometheusHandle> {
    let mut builder = PrometheusBuilder::new().set_buckets(buckets)?;
    for (name, buckets) in others {
        builder = builder.set_buckets_for_metric(Matcher::Full((*name).to_owned()), buckets)?;
    }
    let handle = builder.install_recorder()?;
    describe_http();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(Duration::from_secs(5));
        loop {
            ticker.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

/// The metrics `wire::observe::track` records on every request.
fn describe_http() {
    describe_counter!("http_requests_total", "HTTP requests answered, by route template, method and status");
    describe_histogram!(
        "http_request_duration_seconds",
        Unit::Seconds,
        "Time to answer an HTTP request, by route template, method and status"
    );
    describe_gauge!("http_requests_in_flight", "HTTP requests being handled now");
    describe_counter!(
        "request_errors_total",
        "Requests answered with the JSON error contract, by route and error code"
    );
}
