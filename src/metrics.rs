//! Prometheus metrics. Names:
//! - `goward_requests_total{endpoint,status}`
//! - `goward_cache_total{endpoint,result=hit|miss}`
//! - `goward_upstream_requests_total{kind}`, `goward_upstream_errors_total{kind,reason}`
//! - `goward_verification_failures_total{reason}`
//! - `goward_served_bytes_total{endpoint}`
//! - `goward_stale_served_total`, `goward_upstream_changed_total{kind}`
//! - `goward_fills_running`, `goward_fills_waiting` (gauges: fills in a slot, fills waiting for one)

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once and returns its render handle.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder is installed (embedding); the
            // handle then renders an empty page rather than crashing.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}
