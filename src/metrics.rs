//! Prometheus metrics: every name, its `# HELP` text and the series that
//! exist from start are declared here, so a scrape right after start shows
//! what can move and alert rules never see a missing series.
//!
//! Names:
//! - `goward_build_info{version,commit}` (always 1)
//! - `goward_requests_total{endpoint,status}`
//! - `goward_request_seconds{endpoint,phase=first_byte|last_byte}` (histogram)
//! - `goward_cache_total{endpoint,result=hit|miss}`
//! - `goward_upstream_requests_total{kind}`, `goward_upstream_errors_total{kind,reason}`
//! - `goward_verification_failures_total{reason}`
//! - `goward_served_bytes_total{endpoint}`
//! - `goward_stale_served_total`, `goward_upstream_changed_total{kind}`
//! - `goward_policy_decisions_total{rule,decision}`, `goward_policy_reloads_total{result}`
//! - `goward_fills_running`, `goward_fills_waiting` (gauges: fills in a slot, fills waiting for one)
//! - `goward_coalesced_total{kind=fill|sumdb}`, `goward_offline_misses_total`
//! - `goward_sumdb_tree_size{db}`, `goward_sumdb_head_age_seconds{db}`, `goward_sumdb_fork_detected{db}`
//!   (gauges, read at scrape time)

use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use metrics::{describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The version and the commit it was built from (`build.rs`).
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Short commit hash, or `unknown` outside a git checkout.
pub(crate) const COMMIT: &str = env!("GOWARD_COMMIT");

/// Every request endpoint label ([`crate::request::Request::endpoint`],
/// plus `invalid` for paths that do not parse).
pub(crate) const ENDPOINTS: [&str; 10] = [
    "list",
    "latest",
    "info",
    "mod",
    "zip",
    "sumdb_supported",
    "sumdb_latest",
    "sumdb_lookup",
    "sumdb_tile",
    "invalid",
];

/// Latency buckets, seconds: a cache hit is sub-millisecond, a cold
/// toolchain zip can take minutes.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 120.0,
];

/// Installs the process-wide recorder once and returns its render handle.
pub(crate) fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full("goward_request_seconds".into()), &BUCKETS)
                .map(PrometheusBuilder::build_recorder);
            // The bucket list is a non-empty constant, so this never fails;
            // without buckets the histogram would render as a summary.
            let recorder = recorder.unwrap_or_else(|_| PrometheusBuilder::new().build_recorder());
            let handle = recorder.handle();
            // Fails only if another recorder is installed (embedding); the
            // handle then renders an empty page rather than crashing.
            if metrics::set_global_recorder(recorder).is_ok() {
                describe();
                register_from_start();
            }
            handle
        })
        .clone()
}

/// `# HELP` texts.
fn describe() {
    describe_gauge!(
        "goward_build_info",
        "Always 1; labels say which goward this is."
    );
    describe_counter!(
        "goward_requests_total",
        "Requests answered, by endpoint and HTTP status."
    );
    describe_histogram!(
        "goward_request_seconds",
        metrics::Unit::Seconds,
        "Request latency by endpoint: to the response head (first_byte) and to the end of the body (last_byte)."
    );
    describe_counter!(
        "goward_cache_total",
        "Cache lookups by endpoint, hit or miss."
    );
    describe_counter!(
        "goward_upstream_requests_total",
        "Requests sent upstream, by kind (proxy, sumdb)."
    );
    describe_counter!(
        "goward_upstream_errors_total",
        "Upstream requests that failed, by kind and reason."
    );
    describe_counter!(
        "goward_verification_failures_total",
        "Artifacts refused or quarantined because a check failed, by reason."
    );
    describe_counter!(
        "goward_served_bytes_total",
        "Body bytes served, by endpoint."
    );
    describe_counter!(
        "goward_stale_served_total",
        "Lists and @latest answers served from the last good copy because every upstream failed."
    );
    describe_counter!(
        "goward_upstream_changed_total",
        "Artifacts an upstream served with other bytes than the proven copy stored earlier."
    );
    describe_counter!(
        "goward_policy_decisions_total",
        "Policy decisions, by rule and decision."
    );
    describe_counter!(
        "goward_policy_reloads_total",
        "Policy reloads, by result (ok, rejected)."
    );
    describe_gauge!(
        "goward_fills_running",
        "Fills (fetch, verify, store) holding a slot."
    );
    describe_gauge!("goward_fills_waiting", "Fills waiting for a slot.");
    describe_counter!(
        "goward_coalesced_total",
        "Requests that joined a fetch already in flight, by kind (fill, sumdb)."
    );
    describe_counter!(
        "goward_offline_misses_total",
        "Offline mode: requests answered 404 \"not in this offline mirror\"."
    );
    describe_counter!(
        "goward_proofs_total",
        "Proofs checked against an artifact, by kind (sumdb, pinned, signature), stage (fetch, recheck) and result (ok, failed)."
    );
    describe_counter!(
        "goward_recheck_blobs_total",
        "Blobs whose digests a first re-check of a stored record needed, by source: hashed (read back and recomputed) or remembered (an earlier re-check kept in the local tier)."
    );
    describe_histogram!(
        "goward_upstream_seconds",
        "Time to an upstream's response head, by upstream (its base URL, credentials redacted) and outcome (ok, not_found, error)."
    );
    describe_gauge!(
        "goward_requests_in_flight",
        "Client requests being answered (until their body ends)."
    );
    describe_gauge!(
        "goward_cache_artifacts",
        "Records of proven artifacts in the store (counted at start and every 10 minutes)."
    );
    describe_gauge!(
        "goward_cache_bytes",
        "Bytes of blobs in the store (counted at start and every 10 minutes)."
    );
    describe_counter!(
        "goward_auth_failures_total",
        "Requests answered 401, by reason (missing, malformed, wrong_password, unknown_token)."
    );
    describe_gauge!(
        "goward_sumdb_tree_size",
        "Size of the trusted tree of each checksum database."
    );
    describe_gauge!(
        "goward_sumdb_head_age_seconds",
        "Seconds since the trusted head was last confirmed against the database (-1: not since start)."
    );
    describe_gauge!(
        "goward_sumdb_fork_detected",
        "1 if a fork of the checksum database was detected."
    );
}

/// Series whose label values are known up front start at zero.
fn register_from_start() {
    metrics::gauge!("goward_build_info", "version" => VERSION, "commit" => COMMIT).set(1.0);
    for endpoint in ENDPOINTS {
        metrics::counter!("goward_served_bytes_total", "endpoint" => endpoint).absolute(0);
        for result in ["hit", "miss"] {
            metrics::counter!("goward_cache_total", "endpoint" => endpoint, "result" => result)
                .absolute(0);
        }
    }
    for kind in ["proxy", "sumdb"] {
        metrics::counter!("goward_upstream_requests_total", "kind" => kind).absolute(0);
    }
    for kind in ["zip", "go.mod"] {
        metrics::counter!("goward_upstream_changed_total", "kind" => kind).absolute(0);
    }
    for result in ["ok", "rejected"] {
        metrics::counter!("goward_policy_reloads_total", "result" => result).absolute(0);
    }
    metrics::counter!("goward_stale_served_total").absolute(0);
    metrics::counter!("goward_offline_misses_total").absolute(0);
    for kind in ["fill", "sumdb"] {
        metrics::counter!("goward_coalesced_total", "kind" => kind).absolute(0);
    }
    for kind in crate::verify::ProofKind::ALL {
        for stage in ["fetch", "recheck"] {
            for result in ["ok", "failed"] {
                metrics::counter!("goward_proofs_total", "kind" => kind.name(), "stage" => stage, "result" => result)
                    .absolute(0);
            }
        }
    }
    for source in ["hashed", "remembered"] {
        metrics::counter!("goward_recheck_blobs_total", "source" => source).absolute(0);
    }
    metrics::gauge!("goward_requests_in_flight").set(0.0);
    for reason in ["missing", "malformed", "wrong_password", "unknown_token"] {
        metrics::counter!("goward_auth_failures_total", "reason" => reason).absolute(0);
    }
    metrics::gauge!("goward_fills_running").set(0.0);
    metrics::gauge!("goward_fills_waiting").set(0.0);
}

/// What a request's handling noted for its access-log line: whether the
/// cache answered (`Some(true)`), had to fill (`Some(false)`), or was not
/// asked (`None`). Set through [`note_cache`] from the service, which runs
/// inside [`RequestNotes::scope`] in the request's task.
#[derive(Debug, Default)]
pub(crate) struct RequestNotes {
    /// 0 not asked, 1 hit, 2 miss (the last lookup wins).
    cache: std::sync::atomic::AtomicU8,
}

tokio::task_local! {
    static NOTES: std::sync::Arc<RequestNotes>;
}

impl RequestNotes {
    /// Runs `fut` with `notes` as the current request's notes.
    pub(crate) async fn scope<F: std::future::Future>(
        notes: std::sync::Arc<RequestNotes>,
        fut: F,
    ) -> F::Output {
        NOTES.scope(notes, fut).await
    }

    /// `hit`, `miss`, or `None` if the cache was not asked.
    pub(crate) fn cache(&self) -> Option<&'static str> {
        match self.cache.load(std::sync::atomic::Ordering::Relaxed) {
            1 => Some("hit"),
            2 => Some("miss"),
            _ => None,
        }
    }
}

/// Notes a cache lookup for the access log of the request being handled
/// (no-op outside one).
pub(crate) fn note_cache(hit: bool) {
    let _ = NOTES.try_with(|n| {
        n.cache.store(
            if hit { 1 } else { 2 },
            std::sync::atomic::Ordering::Relaxed,
        )
    });
}

/// How a response body ended, for the access log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BodyEnd {
    /// Body bytes handed to the connection.
    pub bytes: u64,
    /// Whether the body was sent to its end (not cut by an error or by the
    /// client leaving).
    pub complete: bool,
    /// From the request's start to the response head.
    pub first_byte: std::time::Duration,
    /// From the request's start to the end of the body.
    pub last_byte: std::time::Duration,
}

/// A response body that records `goward_request_seconds{phase="last_byte"}`
/// when it ends, is dropped early (the client went away) or fails — the time
/// a client waited for the whole artifact, not just for the head — and then
/// calls `on_end` once (the access log).
pub(crate) struct TimedBody<B> {
    inner: B,
    endpoint: &'static str,
    started: Instant,
    first_byte: std::time::Duration,
    bytes: u64,
    complete: bool,
    on_end: Option<Box<dyn FnOnce(BodyEnd) + Send>>,
}

impl<B> TimedBody<B> {
    /// Records `first_byte` now and `last_byte` when the body ends.
    pub(crate) fn new(
        inner: B,
        endpoint: &'static str,
        started: Instant,
        on_end: Box<dyn FnOnce(BodyEnd) + Send>,
    ) -> TimedBody<B> {
        let first_byte = started.elapsed();
        metrics::histogram!("goward_request_seconds", "endpoint" => endpoint, "phase" => "first_byte")
            .record(first_byte.as_secs_f64());
        TimedBody {
            inner,
            endpoint,
            started,
            first_byte,
            bytes: 0,
            complete: false,
            on_end: Some(on_end),
        }
    }

    fn record(&mut self) {
        if let Some(on_end) = self.on_end.take() {
            let last_byte = self.started.elapsed();
            metrics::histogram!("goward_request_seconds", "endpoint" => self.endpoint, "phase" => "last_byte")
                .record(last_byte.as_secs_f64());
            on_end(BodyEnd {
                bytes: self.bytes,
                complete: self.complete,
                first_byte: self.first_byte,
                last_byte,
            });
        }
    }
}

impl<B> Drop for TimedBody<B> {
    fn drop(&mut self) {
        self.record();
    }
}

impl<B> http_body::Body for TimedBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                let n = frame.data_ref().map_or(0, |d| d.len() as u64);
                this.bytes = this.bytes.saturating_add(n);
                // hyper stops polling a body that says it has ended.
                if this.inner.is_end_stream() {
                    this.complete = true;
                    this.record();
                }
            }
            Poll::Ready(None) => {
                this.complete = true;
                this.record();
            }
            Poll::Ready(Some(Err(_))) => this.record(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_has_help_and_starts_at_zero() {
        let page = install().render();
        for name in [
            "goward_build_info",
            "goward_requests_total",
            "goward_cache_total",
            "goward_upstream_requests_total",
            "goward_stale_served_total",
            "goward_policy_reloads_total",
            "goward_fills_running",
            "goward_fills_waiting",
            "goward_proofs_total",
            "goward_requests_in_flight",
            "goward_auth_failures_total",
        ] {
            // Counters without a sample yet (requests_total) still get no
            // line; the ones registered from start must have one.
            if name != "goward_requests_total" {
                assert!(
                    page.contains(&format!("# HELP {name} ")),
                    "no HELP for {name}:\n{page}"
                );
            }
        }
        assert!(
            page.contains(&format!(
                "goward_build_info{{version=\"{VERSION}\",commit=\"{COMMIT}\"}} 1"
            )),
            "{page}"
        );
        assert!(
            page.contains("goward_cache_total{endpoint=\"zip\",result=\"miss\"}"),
            "{page}"
        );
        // Present from start; its value is whatever other tests in this
        // process (one global recorder) have counted by now.
        assert!(
            page.contains(
                "goward_proofs_total{kind=\"signature\",stage=\"recheck\",result=\"failed\"} "
            ),
            "{page}"
        );
    }

    #[test]
    fn timed_body_dropped_early_reports_incomplete() {
        let (tx, rx) = std::sync::mpsc::channel();
        let body = TimedBody::new(
            axum::body::Body::from("abc"),
            "info",
            Instant::now(),
            Box::new(move |end| tx.send(end).unwrap_or_default()),
        );
        drop(body);
        let ends: Vec<BodyEnd> = rx.try_iter().collect();
        assert_eq!(ends.len(), 1, "{ends:?}");
        assert_eq!((ends[0].bytes, ends[0].complete), (0, false));
    }

    #[tokio::test]
    async fn timed_body_records_both_phases_once_with_buckets() {
        let handle = install();
        let (tx, rx) = std::sync::mpsc::channel();
        let body = TimedBody::new(
            axum::body::Body::from("abc"),
            "sumdb_supported",
            Instant::now(),
            Box::new(move |end| tx.send(end).unwrap_or_default()),
        );
        let got = axum::body::to_bytes(axum::body::Body::new(body), 16).await;
        assert_eq!(got.ok(), Some(Bytes::from_static(b"abc")));
        let ends: Vec<BodyEnd> = rx.try_iter().collect();
        assert_eq!(ends.len(), 1, "{ends:?}");
        assert_eq!((ends[0].bytes, ends[0].complete), (3, true));
        assert!(ends[0].first_byte <= ends[0].last_byte);
        let page = handle.render();
        for phase in ["first_byte", "last_byte"] {
            let count = format!(
                "goward_request_seconds_count{{endpoint=\"sumdb_supported\",phase=\"{phase}\"}} 1"
            );
            assert!(page.contains(&count), "{count} missing:\n{page}");
        }
        assert!(page.contains("goward_request_seconds_bucket{"), "{page}");
    }
}
