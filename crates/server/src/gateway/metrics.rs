//! The gateway's Prometheus metrics at `GET /metrics`: answers by status,
//! model-server round trips and connection retries.

use axum::http::header;
use axum::response::IntoResponse;
use metrics::{Unit, describe_counter, describe_histogram};
use metrics_exporter_prometheus::PrometheusHandle;

/// Round-trip buckets in seconds, up to the default upstream timeout.
const BUCKETS: [f64; 12] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 75.0];

/// Installs the process-wide recorder and describes the gateway's metrics.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    let handle = crate::wire::metrics::install_recorder(&BUCKETS, &[])?;
    describe_counter!("gateway_requests_total", "Upload requests answered, by HTTP status");
    describe_histogram!(
        "gateway_upstream_seconds",
        Unit::Seconds,
        "Time the model server took to answer one upload, retries included"
    );
    describe_counter!("gateway_upstream_retries_total", "Connection attempts to the model server retried");
    Ok(handle)
}

pub fn render(handle: &PrometheusHandle) -> impl IntoResponse + use<> {
    ([(header::CONTENT_TYPE, crate::wire::metrics::CONTENT_TYPE)], handle.render())
}
