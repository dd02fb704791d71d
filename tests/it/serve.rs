//! Serving stage: zip responses (length, strong ETag, ranges, `If-Range`, HEAD, no
//! content-coding), content types, health and metrics endpoints, and the command line
//! (`goward verify-zip`, `goward serve` with a bad configuration).

use crate::support::fakeproxy::{FakeProxy, Fault, Published, default_info};
use crate::support::modzip::noise;
use crate::support::modzip::{ModZip, h1_zip};
use crate::support::rawhttp::{RawResponse, get_with, metric, request};
use crate::support::testlog::TestLog;
use crate::support::{Goward, run_goward};

const DB: &str = "sum.goward.test";

struct World {
    fake: FakeProxy,
    /// A zip of about 300 KB, several of goward's 64 KiB read chunks.
    p: Published,
    g: Goward,
}

fn world() -> World {
    let fake = FakeProxy::start(TestLog::new(DB));
    let p = fake.publish(
        ModZip::new("example.com/big", "v1.0.0")
            .file("big.go", "package big\n")
            .file("data.bin", noise(11, 300_000)),
        "module example.com/big\n\ngo 1.21\n",
    );
    assert!(p.zip.len() > 4 * (64 << 10), "zip unexpectedly small");
    let vkey = fake.with_log(|l| l.vkey());
    let g = Goward::start(&fake.url(), &vkey, &[]);
    World { fake, p, g }
}

impl World {
    fn get(&self, path: &str, headers: &[(&str, &str)]) -> RawResponse {
        get_with(self.g.url(), path, headers)
    }

    fn metrics(&self) -> String {
        let r = self.get("/metrics", &[]);
        assert_eq!(r.status, 200, "{}", r.text());
        r.text()
    }
}

#[track_caller]
fn assert_partial(r: &RawResponse, zip: &[u8], start: usize, end: usize) {
    let what = format!("bytes {start}-{end}");
    assert_eq!(r.status, 206, "{what}: {:?}", r.text());
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes {start}-{end}/{}", zip.len()).as_str()),
        "{what}"
    );
    assert_eq!(
        r.header("content-length"),
        Some((end - start + 1).to_string().as_str()),
        "{what}"
    );
    assert!(r.body == zip[start..=end], "{what}: wrong bytes");
}

// ---------------------------------------------------------------------------------------------
// Zip responses.

/// The full zip: exact bytes, `Content-Length`, a strong `ETag` that stays the same, `Accept-
/// Ranges: bytes`, and no `Content-Encoding` even when the client offers gzip.
#[test]
fn zip_response_headers() {
    let w = world();
    let zip = &w.p.zip;
    let r = w.get(&w.p.zip_path(), &[("Accept-Encoding", "gzip, deflate, br")]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.body == *zip, "wrong zip bytes");
    assert_eq!(
        r.header("content-length"),
        Some(zip.len().to_string().as_str())
    );
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("content-type"), Some("application/zip"));
    assert_eq!(r.header("content-encoding"), None, "{:?}", r.headers);
    assert_eq!(r.header("transfer-encoding"), None, "{:?}", r.headers);
    let etag = r.header("etag").expect("ETag").to_owned();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() > 2,
        "not a strong ETag: {etag}"
    );
    // Served from the cache the second time, same validator.
    let again = w.get(&w.p.zip_path(), &[("Accept-Encoding", "gzip")]);
    assert!(again.body == *zip);
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    assert_eq!(w.fake.requests(&w.p.zip_path()), 1, "fetched twice");
}

/// Single ranges in every form, across goward's internal read chunks.
#[test]
fn zip_ranges() {
    let w = world();
    let zip = &w.p.zip;
    let len = zip.len();
    let path = w.p.zip_path();
    let range = |spec: &str| w.get(&path, &[("Range", spec)]);

    assert_partial(&range("bytes=100000-"), zip, 100_000, len - 1);
    assert_partial(&range("bytes=-1000"), zip, len - 1000, len - 1);
    assert_partial(&range("bytes=65530-131080"), zip, 65_530, 131_080);
    assert_partial(&range("bytes=0-0"), zip, 0, 0);
    assert_partial(
        &range(&format!("bytes={}-", len - 1)),
        zip,
        len - 1,
        len - 1,
    );
    // An end beyond the size is clipped; a suffix longer than the body is the whole body.
    assert_partial(&range("bytes=10-999999999"), zip, 10, len - 1);
    assert_partial(&range(&format!("bytes=-{}", len + 5)), zip, 0, len - 1);

    // Unsatisfiable.
    for spec in [
        format!("bytes={len}-"),
        format!("bytes={}-{}", len + 10, len + 20),
        "bytes=-0".to_owned(),
        "bytes=20-10".to_owned(),
    ] {
        let r = range(&spec);
        assert_eq!(r.status, 416, "{spec}: {:?}", r.text());
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes */{len}").as_str()),
            "{spec}"
        );
        assert!(
            r.text().contains("range not satisfiable"),
            "{spec}: {:?}",
            r.text()
        );
    }

    // Multiple ranges or another unit: the whole body (RFC 9110 lets a server ignore Range).
    for spec in ["bytes=0-1,5-6", "items=0-1"] {
        let r = range(spec);
        assert_eq!(r.status, 200, "{spec}");
        assert!(r.body == *zip, "{spec}: wrong bytes");
    }
    assert_eq!(w.fake.requests(&path), 1, "fetched more than once");
}

/// `If-Range` with the current ETag resumes (206); with another validator the whole zip is sent
/// (200), so a client never splices two different copies.
#[test]
fn zip_if_range() {
    let w = world();
    let zip = &w.p.zip;
    let path = w.p.zip_path();
    let etag = w.get(&path, &[]).header("etag").expect("ETag").to_owned();

    let r = w.get(&path, &[("Range", "bytes=5000-"), ("If-Range", &etag)]);
    assert_partial(&r, zip, 5000, zip.len() - 1);

    for stale in [
        "\"0000000000000000-1\"".to_owned(),
        format!("W/{etag}"),
        "Wed, 21 Oct 2015 07:28:00 GMT".to_owned(),
    ] {
        let r = w.get(&path, &[("Range", "bytes=5000-"), ("If-Range", &stale)]);
        assert_eq!(r.status, 200, "If-Range {stale}: {:?}", r.text());
        assert_eq!(r.header("content-range"), None, "If-Range {stale}");
        assert!(r.body == *zip, "If-Range {stale}: not the whole zip");
    }
    // If-Range without Range changes nothing.
    let r = w.get(&path, &[("If-Range", &etag)]);
    assert_eq!(r.status, 200);
    assert!(r.body == *zip);
}

/// HEAD answers with the headers of the GET and no body, for every endpoint.
#[test]
fn head_sends_headers_without_body() {
    let w = world();
    let zip = &w.p.zip;
    let r = request(w.g.url(), "HEAD", w.p.zip_path().as_bytes(), &[]);
    assert_eq!(r.status, 200, "{:?}", r.after_head);
    assert_eq!(
        r.header("content-length"),
        Some(zip.len().to_string().as_str())
    );
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("content-type"), Some("application/zip"));
    let etag = r.header("etag").expect("ETag on HEAD").to_owned();
    assert!(
        r.after_head.is_empty(),
        "HEAD sent {} body bytes",
        r.after_head.len()
    );
    assert_eq!(
        w.get(&w.p.zip_path(), &[]).header("etag"),
        Some(etag.as_str()),
        "HEAD and GET disagree on the ETag"
    );

    let r = request(
        w.g.url(),
        "HEAD",
        w.p.zip_path().as_bytes(),
        &[("Range", "bytes=10-19")],
    );
    assert_eq!(r.status, 206);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 10-19/{}", zip.len()).as_str())
    );
    assert!(r.after_head.is_empty(), "HEAD sent a body");

    let list = "/example.com/big/@v/list";
    for path in [w.p.mod_path(), w.p.info_path(), list.to_owned()] {
        let r = request(w.g.url(), "HEAD", path.as_bytes(), &[]);
        assert_eq!(r.status, 200, "HEAD {path}");
        assert!(r.after_head.is_empty(), "HEAD {path} sent a body");
    }
    // Errors too.
    let r = request(w.g.url(), "HEAD", b"/%2e%2e/@v/list", &[]);
    assert_eq!(r.status, 400);
    assert!(r.after_head.is_empty(), "HEAD error sent a body");
}

/// The conventional content types (go-protocol.md §1.6), and the checksum-DB endpoints'.
#[test]
fn content_types() {
    let w = world();
    let list = "/example.com/big/@v/list".to_owned();
    let latest = "/example.com/big/@latest".to_owned();
    let n = w.fake.with_log(|l| l.size());
    let cases = [
        (list, "text/plain; charset=utf-8", b"v1.0.0\n".to_vec()),
        (
            w.p.mod_path(),
            "text/plain; charset=utf-8",
            w.p.mod_bytes.clone(),
        ),
        (w.p.info_path(), "application/json", default_info("v1.0.0")),
        (latest, "application/json", default_info("v1.0.0")),
        (w.p.zip_path(), "application/zip", w.p.zip.clone()),
    ];
    for (path, ct, body) in cases {
        let r = w.get(&path, &[]);
        assert_eq!(r.status, 200, "{path}: {:?}", r.text());
        assert_eq!(r.header("content-type"), Some(ct), "{path}");
        assert!(r.body == body, "{path}: wrong body");
    }
    for (path, ct) in [
        (
            format!("/sumdb/{DB}/supported"),
            "text/plain; charset=utf-8",
        ),
        (format!("/sumdb/{DB}/latest"), "text/plain; charset=utf-8"),
        (w.p.lookup_path(DB), "text/plain; charset=utf-8"),
        (
            format!("/sumdb/{DB}/tile/8/0/000.p/{n}"),
            "application/octet-stream",
        ),
        (
            format!("/sumdb/{DB}/tile/8/data/000.p/{n}"),
            "text/plain; charset=utf-8",
        ),
    ] {
        let r = w.get(&path, &[]);
        assert_eq!(r.status, 200, "{path}: {:?}", r.text());
        assert_eq!(r.header("content-type"), Some(ct), "{path}");
    }
}

// ---------------------------------------------------------------------------------------------
// Health and metrics.

#[test]
fn healthz_and_readyz() {
    let w = world();
    let r = w.get("/healthz", &[]);
    assert_eq!((r.status, r.text().as_str()), (200, "ok\n"));
    let r = w.get("/readyz", &[]);
    assert_eq!((r.status, r.text().as_str()), (200, "ready\n"));
    assert!(
        w.fake.request_log().is_empty(),
        "health checks went upstream"
    );
}

/// Request counters by endpoint and status, verification failures by reason, and served bytes,
/// after a known sequence of requests on a fresh process.
#[test]
fn metrics_count_what_happened() {
    let w = world();
    // A second module whose zip the upstream tampers with.
    let tampered = publish_tampered(&w.fake);

    // Served bytes are every body byte sent for the endpoint, error texts included.
    let mut zip_bytes = 0u64;
    let mut count = |r: &RawResponse| zip_bytes += r.body.len() as u64;
    for _ in 0..2 {
        let r = w.get(&w.p.zip_path(), &[]);
        assert_eq!(r.status, 200);
        count(&r);
    }
    let r = w.get(&w.p.zip_path(), &[("Range", "bytes=-100")]);
    assert_eq!(r.status, 206);
    count(&r);
    let r = w.get(&tampered.zip_path(), &[]);
    assert_eq!(r.status, 502, "{:?}", r.text());
    assert!(r.text().contains("zip hash mismatch"), "{:?}", r.text());
    count(&r);
    assert_eq!(w.get(&w.p.mod_path(), &[]).status, 200);
    assert_eq!(w.get("/example.com/absent/@v/v1.0.0.mod", &[]).status, 404);
    assert_eq!(w.get("/%2e%2e/@v/list", &[]).status, 400);

    let page = w.metrics();
    let m = |name: &str, labels: &[(&str, &str)]| metric(&page, name, labels);
    let req = |endpoint: &str, status: &str| {
        m(
            "goward_requests_total",
            &[("endpoint", endpoint), ("status", status)],
        )
    };
    assert_eq!(req("zip", "200"), Some(2.0), "{page}");
    assert_eq!(req("zip", "206"), Some(1.0), "{page}");
    assert_eq!(req("zip", "502"), Some(1.0), "{page}");
    assert_eq!(req("mod", "200"), Some(1.0), "{page}");
    assert_eq!(req("mod", "404"), Some(1.0), "{page}");
    assert_eq!(req("invalid", "400"), Some(1.0), "{page}");
    assert_eq!(
        m(
            "goward_verification_failures_total",
            &[("reason", "hash_mismatch")]
        ),
        Some(1.0),
        "{page}"
    );
    assert_eq!(
        m("goward_served_bytes_total", &[("endpoint", "zip")]),
        Some(zip_bytes as f64),
        "{page}"
    );
    assert!(
        zip_bytes > 2 * w.p.zip.len() as u64,
        "the test served less than it thinks"
    );
    // The zip went upstream once; the checksum DB was asked too.
    assert_eq!(
        m("goward_upstream_requests_total", &[("kind", "proxy")]).map(|v| v >= 1.0),
        Some(true),
        "{page}"
    );
    assert_eq!(
        m("goward_upstream_requests_total", &[("kind", "sumdb")]).map(|v| v >= 1.0),
        Some(true),
        "{page}"
    );
    // Latency: one observation per response for each phase, zips in the histogram too.
    for phase in ["first_byte", "last_byte"] {
        assert_eq!(
            m(
                "goward_request_seconds_count",
                &[("endpoint", "zip"), ("phase", phase)]
            ),
            Some(4.0),
            "{phase}\n{page}"
        );
    }
    // Proofs by kind and result: the good zip and go.mod proven, the tampered zip's proof
    // refused.
    let proofs = |result: &str| {
        m(
            "goward_proofs_total",
            &[("kind", "sumdb"), ("stage", "fetch"), ("result", result)],
        )
    };
    assert_eq!(proofs("ok").map(|v| v >= 2.0), Some(true), "{page}");
    assert_eq!(proofs("failed").map(|v| v >= 1.0), Some(true), "{page}");
    // Upstream latency per upstream (its origin) and outcome: the absent module was a 404.
    let origin = w.fake.url();
    let origin = origin.trim_end_matches('/');
    for outcome in ["ok", "not_found"] {
        assert_eq!(
            m(
                "goward_upstream_seconds_count",
                &[("upstream", origin), ("outcome", outcome)]
            )
            .map(|v| v >= 1.0),
            Some(true),
            "{outcome}\n{page}"
        );
    }
    // This request is the one in flight.
    assert_eq!(m("goward_requests_in_flight", &[]), Some(1.0), "{page}");
    // The store is counted at start: a second process on the same cache sees the zip and
    // go.mod stored above (the tampered zip was not stored).
    let vkey = w.fake.with_log(|l| l.vkey());
    let again = crate::support::Goward::start_in(w.g.cache_dir(), &w.fake.url(), &vkey, &[]);
    let stored = (w.p.zip.len() + w.p.mod_bytes.len()) as f64;
    crate::support::wait_until(
        "the cache is counted",
        std::time::Duration::from_secs(30),
        || {
            let page = crate::support::http_get(&again.url_for("/metrics")).text();
            metric(&page, "goward_cache_artifacts", &[]) == Some(2.0)
                && metric(&page, "goward_cache_bytes", &[]) == Some(stored)
        },
    );
    drop(again);
    // Every series is described, and ones with known labels exist before they move.
    for name in [
        "goward_requests_total",
        "goward_request_seconds",
        "goward_cache_total",
        "goward_fills_waiting",
        "goward_build_info",
    ] {
        assert!(page.contains(&format!("# HELP {name} ")), "{name}\n{page}");
    }
    assert_eq!(m("goward_stale_served_total", &[]), Some(0.0), "{page}");
    assert_eq!(
        m(
            "goward_cache_total",
            &[("endpoint", "sumdb_tile"), ("result", "hit")]
        ),
        Some(0.0),
        "{page}"
    );
    let version = run_goward(&["--version"]);
    let line = &version.stdout;
    let v = line.trim().strip_prefix("goward ").unwrap_or_default();
    let (number, rest) = v.split_once(" (commit ").unwrap_or_default();
    let commit = rest.split(',').next().unwrap_or_default();
    assert!(!number.is_empty() && !commit.is_empty(), "{line}");
    assert_eq!(
        m(
            "goward_build_info",
            &[("version", number), ("commit", commit)]
        ),
        Some(1.0),
        "{line}\n{page}"
    );
}

/// `--audit-log`: a refusal and every first-time proof are one JSON line each (a cache hit
/// is not); after the file is renamed away (log rotation), the next event starts a new file.
#[test]
fn audit_log_records_refusals_and_first_proofs_and_survives_rotation() {
    let fake = FakeProxy::start(TestLog::new(DB));
    let good = fake.publish(
        ModZip::new("example.com/good", "v1.0.0").file("g.go", "package good\n"),
        "module example.com/good\n",
    );
    let tampered = publish_tampered(&fake);
    let dir = tempfile::tempdir().expect("dir");
    let log = dir.path().join("audit.jsonl");
    let vkey = fake.with_log(|l| l.vkey());
    let g = Goward::start(
        &fake.url(),
        &vkey,
        &["--audit-log", log.to_str().expect("utf-8")],
    );
    let get = |path: &str| get_with(g.url(), path, &[]).status;
    let lines = |path: &std::path::Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect()
    };

    assert_eq!(get(&good.zip_path()), 200);
    assert_eq!(get(&good.zip_path()), 200, "a hit");
    assert_eq!(get(&good.mod_path()), 200);
    assert_eq!(get(&tampered.zip_path()), 502);
    let events = lines(&log);
    assert_eq!(events.len(), 3, "{events:#?}");
    let proven: Vec<_> = events.iter().filter(|e| e["event"] == "proven").collect();
    assert_eq!(proven.len(), 2, "{events:#?}");
    let zip = proven
        .iter()
        .find(|e| e["kind"] == "zip")
        .expect("zip proven");
    assert_eq!(zip["module"], "example.com/good");
    assert_eq!(zip["h1"], h1_zip(&good.zip).as_str());
    let evidence = zip["evidence"][0].as_str().unwrap_or_default();
    assert!(
        evidence.starts_with(&format!("checksum database {DB} record ")),
        "{evidence}"
    );
    let refused = events
        .iter()
        .find(|e| e["event"] == "refused")
        .expect("refusal");
    assert_eq!(refused["path"], tampered.zip_path().as_str());
    assert_eq!(refused["status"], 502);
    assert_eq!(refused["reason"], "hash_mismatch");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or_default()
            .contains("zip hash mismatch"),
        "{refused}"
    );

    // Rotation: rename the file away; the next event goes to a new file at the path.
    let rotated = dir.path().join("audit.jsonl.1");
    std::fs::rename(&log, &rotated).expect("rotate");
    assert_eq!(get("/example.com/tampered/@v/v1.0.0.zip"), 502);
    assert_eq!(lines(&rotated).len(), 3);
    let fresh = lines(&log);
    assert_eq!(fresh.len(), 1, "{fresh:#?}");
    assert_eq!(fresh[0]["event"], "refused");
}

/// The operator's page: `/status.json` reports the checksum database's trusted head, the
/// policy, cache counts and the refusal just made; `/` shows the same in HTML, rendered by a
/// real headless browser (Debian's chromium, installed by `.ci/run`), whose screenshot is kept
/// in `target/tmp/operator-page.png`.
#[test]
fn operator_page_and_status_json_show_health_and_refusals() {
    let w = world();
    let tampered = publish_tampered(&w.fake);
    assert_eq!(w.get(&w.p.zip_path(), &[]).status, 200);
    assert_eq!(w.get(&w.p.zip_path(), &[]).status, 200);
    assert_eq!(w.get(&tampered.zip_path(), &[]).status, 502);

    let r = w.get("/status.json", &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let s: serde_json::Value = serde_json::from_slice(&r.body).expect("status.json is JSON");
    let db = &s["sumdbs"][0];
    assert_eq!(db["name"], DB);
    let size = w.fake.with_log(|l| l.size());
    assert_eq!(db["tree_size"], size, "{s:#}");
    assert!(db["head_age_secs"].is_u64(), "{s:#}");
    assert!(db["fork"].is_null(), "{s:#}");
    assert_eq!(s["policy"]["origin"], "<embedded default policy>");
    assert!(s["cache_hits"].as_u64() >= Some(1), "{s:#}");
    assert!(s["artifacts_in_memory"].as_u64() >= Some(1), "{s:#}");
    assert!(s["cache_misses"].as_u64() >= Some(1), "{s:#}");
    let refusal = &s["recent_refusals"][0];
    assert_eq!(refusal["path"], tampered.zip_path().as_str(), "{s:#}");
    assert_eq!(refusal["reason"], "hash_mismatch");
    let minutes = s["minutes"].as_array().expect("minutes");
    let total = |k: &str| minutes.iter().filter_map(|m| m[k].as_u64()).sum::<u64>();
    assert!(total("requests") >= 3, "{s:#}");
    assert_eq!(total("refusals"), 1, "{s:#}");
    // The upstream's health: its origin, answers counted, no failure.
    let origin = w.fake.url();
    let up = s["upstreams"]
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|u| u["origin"] == origin.trim_end_matches('/'))
        })
        .unwrap_or_else(|| panic!("no upstream {origin} in {s:#}"));
    assert!(up["ok"].as_u64() >= Some(2), "{s:#}");
    assert_eq!(up["errors"], 0, "{s:#}");

    let metrics = w.metrics();
    assert_eq!(
        metric(&metrics, "goward_sumdb_tree_size", &[("db", DB)]),
        Some(size as f64),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "goward_sumdb_fork_detected", &[("db", DB)]),
        Some(0.0),
        "{metrics}"
    );

    let r = w.get("/", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));

    // A real browser renders it: the DOM it builds has the tables and the chart.
    let url = format!("{}/", w.g.url());
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("operator-page.png");
    let _ = std::fs::remove_file(&shot);
    let chromium = |extra: &[&str]| {
        let out = std::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
            ])
            .args(extra)
            .arg(&url)
            .output()
            .expect("chromium must be installed (.ci/run installs Debian's chromium)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let dom = chromium(&["--dump-dom"]);
    for needle in [
        "<table id=\"sumdbs\">",
        DB,
        "<table id=\"refusals\">",
        "<table id=\"upstreams\">",
        "hash_mismatch",
        "<svg",
        "class=\"ref\"",
    ] {
        assert!(
            dom.contains(needle),
            "{needle} not in the rendered page:\n{dom}"
        );
    }
    chromium(&[
        &format!("--screenshot={}", shot.display()),
        "--window-size=1280,1400",
    ]);
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "{} bytes",
        png.len()
    );
}

/// `goward_cache_total{endpoint,result}` counts a first request as a miss and every repeat as
/// a hit, whether the repeat is answered from memory or, after a restart, from disk (and then
/// nothing goes upstream).
#[test]
fn cache_metrics_count_hits_and_misses() {
    let mut w = world();
    // A served go.mod prefetches its version's zip and .info (counted as a
    // miss then, a hit for the client): ask for those first.
    let paths = [
        ("zip", w.p.zip_path()),
        ("info", w.p.info_path()),
        ("mod", w.p.mod_path()),
    ];
    // (misses, hits) per endpoint; an absent counter is 0.
    let counts = |page: &str, endpoint: &str| {
        let c = |result: &str| {
            metric(
                page,
                "goward_cache_total",
                &[("endpoint", endpoint), ("result", result)],
            )
            .unwrap_or(0.0)
        };
        (c("miss"), c("hit"))
    };
    for (_, path) in &paths {
        for _ in 0..3 {
            assert_eq!(w.get(path, &[]).status, 200, "{path}");
        }
    }
    let page = w.metrics();
    for (endpoint, _) in &paths {
        assert_eq!(counts(&page, endpoint), (1.0, 2.0), "{endpoint}\n{page}");
    }
    // A new process on the same cache: hits from disk, no misses.
    w.g.restart();
    w.fake.reset_requests();
    for (_, path) in &paths {
        assert_eq!(w.get(path, &[]).status, 200, "{path}");
    }
    assert!(
        w.fake.request_log().is_empty(),
        "a restarted goward went upstream for cached artifacts: {:?}",
        w.fake.request_log()
    );
    let page = w.metrics();
    for (endpoint, _) in &paths {
        assert_eq!(
            counts(&page, endpoint),
            (0.0, 1.0),
            "{endpoint} after restart\n{page}"
        );
    }
}

/// A HEAD sends no body, so it serves no bytes.
#[test]
fn head_requests_serve_no_bytes() {
    let w = world();
    let r = w.get(&w.p.zip_path(), &[]);
    assert_eq!(r.status, 200);
    let served = |w: &World| {
        metric(
            &w.metrics(),
            "goward_served_bytes_total",
            &[("endpoint", "zip")],
        )
    };
    let before = served(&w);
    assert_eq!(before, Some(w.p.zip.len() as f64));
    for _ in 0..3 {
        let r = request(w.g.url(), "HEAD", w.p.zip_path().as_bytes(), &[]);
        assert_eq!(r.status, 200);
        assert!(r.after_head.is_empty());
    }
    assert_eq!(
        served(&w),
        before,
        "HEAD requests were counted as served bytes"
    );
}

/// `goward_served_bytes_total{endpoint}` counts the bodies of every endpoint, not only zips.
#[test]
fn served_bytes_count_every_endpoint() {
    let w = world();
    let list = "/example.com/big/@v/list".to_owned();
    let cases = [
        ("mod", w.p.mod_path()),
        ("info", w.p.info_path()),
        ("list", list),
        ("sumdb_lookup", w.p.lookup_path(DB)),
    ];
    let mut want = Vec::new();
    for (endpoint, path) in &cases {
        let r = w.get(path, &[]);
        assert_eq!(r.status, 200, "{path}: {:?}", r.text());
        want.push((endpoint, r.body.len()));
    }
    let page = w.metrics();
    let mut wrong = Vec::new();
    for (endpoint, len) in want {
        let got = metric(
            &page,
            "goward_served_bytes_total",
            &[("endpoint", endpoint)],
        );
        if got != Some(len as f64) {
            wrong.push(format!("{endpoint}: want {len}, got {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}\n{page}", wrong.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// `goward verify-zip`.

fn write_temp(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).expect("write temp file");
    p.to_str().expect("utf-8 temp path").to_owned()
}

fn code(out: &crate::support::gocmd::GoOutput) -> Option<i32> {
    out.status.code()
}

/// A good zip: exit 0 and its h1 (as the independent oracle computes it); `--h1` decides.
#[test]
fn verify_zip_good_zip_prints_its_h1() {
    let dir = tempfile::tempdir().expect("dir");
    let zip = ModZip::new("example.com/Good", "v1.2.3")
        .file("go.mod", "module example.com/Good\n")
        .file("good.go", "package good\n")
        .file("sub/x.go", "package sub\n")
        .build();
    let want = h1_zip(&zip);
    let file = write_temp(&dir, "good.zip", &zip);
    let args = [
        "verify-zip",
        &file,
        "--module",
        "example.com/Good",
        "--version",
        "v1.2.3",
    ];

    let out = run_goward(&args);
    assert_eq!(code(&out), Some(0), "{}", out.dump());
    assert_eq!(out.stdout.trim(), want, "{}", out.dump());

    let mut with_h1 = args.to_vec();
    with_h1.extend(["--h1", &want]);
    let out = run_goward(&with_h1);
    assert_eq!(code(&out), Some(0), "{}", out.dump());

    let other = h1_zip(
        &ModZip::new("example.com/Good", "v1.2.3")
            .file("go.mod", "module example.com/Good\n")
            .build(),
    );
    let mut wrong = args.to_vec();
    wrong.extend(["--h1", &other]);
    let out = run_goward(&wrong);
    assert_eq!(code(&out), Some(1), "{}", out.dump());
    assert!(out.stderr.contains("h1 mismatch"), "{}", out.dump());
    assert!(
        out.stderr.contains(&want) && out.stderr.contains(&other),
        "the mismatch names both hashes: {}",
        out.dump()
    );

    let mut garbage = args.to_vec();
    garbage.extend(["--h1", "sha256:nope"]);
    let out = run_goward(&garbage);
    assert_eq!(code(&out), Some(2), "{}", out.dump());
    assert!(out.stderr.contains("invalid --h1"), "{}", out.dump());
}

/// An invalid zip: exit 1, one line per problem, each naming its entry.
#[test]
fn verify_zip_invalid_zip_lists_every_problem() {
    let dir = tempfile::tempdir().expect("dir");
    let zip = ModZip::new("example.com/slip", "v1.0.0")
        .file("go.mod", "module example.com/slip\n")
        .raw(
            "example.com/slip@v1.0.0/../../../tmp/goward-slip.go",
            "package evil\n",
        )
        .symlink("link", "/etc/passwd")
        .raw("elsewhere/x.go", "package x\n")
        .build();
    let file = write_temp(&dir, "slip.zip", &zip);
    let out = run_goward(&[
        "verify-zip",
        &file,
        "--module",
        "example.com/slip",
        "--version",
        "v1.0.0",
    ]);
    assert_eq!(code(&out), Some(1), "{}", out.dump());
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(lines.len(), 3, "one line per problem:\n{}", out.dump());
    for (entry, problem) in [
        (
            "example.com/slip@v1.0.0/../../../tmp/goward-slip.go",
            "malformed file path",
        ),
        ("example.com/slip@v1.0.0/link", "file is a symbolic link"),
        ("elsewhere/x.go", "path does not have prefix"),
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.contains(entry) && l.contains(problem)),
            "no line for {entry}: {problem}\n{}",
            out.dump()
        );
    }
    assert!(
        !out.stdout.contains("h1:"),
        "printed an h1 for an invalid zip"
    );

    // A good zip checked against the wrong module: every entry is outside the prefix.
    let good = ModZip::new("example.com/a", "v1.0.0")
        .file("go.mod", "module example.com/a\n")
        .file("a.go", "package a\n")
        .build();
    let file = write_temp(&dir, "a.zip", &good);
    let out = run_goward(&[
        "verify-zip",
        &file,
        "--module",
        "example.com/b",
        "--version",
        "v1.0.0",
    ]);
    assert_eq!(code(&out), Some(1), "{}", out.dump());
    assert_eq!(
        out.stderr
            .lines()
            .filter(|l| l.contains("path does not have prefix"))
            .count(),
        2,
        "{}",
        out.dump()
    );
}

/// Usage and I/O errors exit 2.
#[test]
fn verify_zip_usage_errors_exit_2() {
    let dir = tempfile::tempdir().expect("dir");
    let missing = dir.path().join("missing.zip");
    let missing = missing.to_str().expect("utf-8");
    let out = run_goward(&[
        "verify-zip",
        missing,
        "--module",
        "example.com/m",
        "--version",
        "v1.0.0",
    ]);
    assert_eq!(code(&out), Some(2), "{}", out.dump());
    assert!(out.stderr.contains("missing.zip"), "{}", out.dump());

    let file = write_temp(&dir, "x.zip", b"PK");
    let out = run_goward(&["verify-zip", &file, "--version", "v1.0.0"]);
    assert_eq!(code(&out), Some(2), "{}", out.dump());
    assert!(
        out.stderr.contains("--module") && out.stderr.contains("Usage"),
        "clap usage error expected: {}",
        out.dump()
    );
    let out = run_goward(&[
        "verify-zip",
        "--module",
        "example.com/m",
        "--version",
        "v1.0.0",
    ]);
    assert_eq!(code(&out), Some(2), "{}", out.dump());
    let out = run_goward(&[
        "verify-zip",
        &file,
        "--module",
        "example.com/m",
        "--version",
        "v1.0.0",
        "--bogus",
    ]);
    assert_eq!(code(&out), Some(2), "{}", out.dump());
}

// ---------------------------------------------------------------------------------------------
// `goward serve` with a bad configuration.

/// `goward serve` must exit 2 with `needle` on stderr, without ever listening.
#[track_caller]
fn assert_serve_refuses(extra: &[&str], needle: &str) {
    let cache = tempfile::tempdir().expect("cache dir");
    let mut args = vec![
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--cache-dir",
        cache.path().to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    let out = run_goward(&args);
    assert_eq!(code(&out), Some(2), "{}", out.dump());
    assert!(
        out.stderr.contains(needle),
        "lacks {needle:?}: {}",
        out.dump()
    );
    assert!(
        !out.stdout.contains("listening"),
        "it listened: {}",
        out.dump()
    );
}

/// `GOWARD_MAX_ZIP_SIZE` takes the same sizes as the flag: a valid one gets start-up as far as
/// the (deliberately invalid) upstream, an invalid one is named.
#[test]
fn max_zip_size_env_takes_sizes_with_units() {
    let cache = tempfile::tempdir().expect("cache dir");
    let c = cache.path().to_str().expect("utf-8");
    let run = |size: &str| {
        let out = crate::support::run_goward_with(
            &["serve", "--listen", "127.0.0.1:0", "--cache-dir", c],
            &[("GOWARD_MAX_ZIP_SIZE", size), ("GOWARD_UPSTREAM", "off")],
            std::process::Stdio::piped(),
        );
        assert_eq!(code(&out), Some(2), "{}", out.dump());
        out.stderr
    };
    for ok in ["100 MiB", "100MiB", "500MB", "1048576"] {
        let e = run(ok);
        assert!(e.starts_with("goward: invalid upstream:"), "{ok}: {e}");
    }
    let e = run("10 parsecs");
    assert!(
        e.contains(
            "invalid value '10 parsecs' for '--max-zip-size <SIZE>': unknown unit \"parsecs\""
        ),
        "{e}"
    );
}

/// Start-up errors print each cause once (library errors embed their cause in their message
/// and also return it as `source()`): the exact stderr.
#[test]
fn start_errors_print_each_cause_once() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("file");
    std::fs::write(&file, "not a directory").expect("file");
    let cache = dir.path().join("cache");
    let run = |args: &[&str]| {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let out = run_goward(&all);
        assert_eq!(code(&out), Some(2), "{}", out.dump());
        out.stderr
    };
    let c = cache.to_str().expect("utf-8");
    assert_eq!(
        run(&["--cache-dir", c, "--upstream", "off"]),
        "goward: invalid upstream: upstream list entry \"off\": goward cannot run with lookups \
         disabled; list only proxies\n"
    );
    let missing = dir.path().join("missing.toml");
    let m = missing.to_str().expect("utf-8");
    assert_eq!(
        run(&["--config", m]),
        format!(
            "goward: reading config file {m}: {}\n",
            std::fs::read(&missing).unwrap_err()
        )
    );
    #[cfg(unix)]
    {
        let under = file.join("cache");
        let u = under.to_str().expect("utf-8");
        assert_eq!(
            run(&["--cache-dir", u]),
            format!(
                "goward: opening cache directory {u}: cache create {u}/blobs/sha256: {}\n",
                std::io::Error::from_raw_os_error(20)
            )
        );
    }
}

#[test]
fn serve_refuses_a_bad_configuration() {
    let dir = tempfile::tempdir().expect("dir");
    let toml = write_temp(
        &dir,
        "goward.toml",
        b"listen = \"127.0.0.1:0\"\nlist_ttl = 5\nupstreams = \"http://127.0.0.1:1\"\n",
    );
    assert_serve_refuses(&["--config", &toml], "line 3");
    assert_serve_refuses(&["--config", &toml], "upstreams");
    let toml = write_temp(&dir, "syntax.toml", b"listen = \n");
    assert_serve_refuses(&["--config", &toml], "line 1");
    let missing = dir.path().join("missing.toml");
    assert_serve_refuses(
        &["--config", missing.to_str().expect("utf-8")],
        "missing.toml",
    );

    assert_serve_refuses(
        &["--upstream", "direct"],
        "direct VCS fetching is not supported by goward",
    );
    assert_serve_refuses(
        &["--upstream", "https://proxy.golang.org,direct"],
        "direct VCS fetching is not supported by goward",
    );
    assert_serve_refuses(
        &["--upstream", "off"],
        "goward cannot run with lookups disabled",
    );
    assert_serve_refuses(
        &["--upstream", "ftp://example.com"],
        "invalid scheme \"ftp\"",
    );
    assert_serve_refuses(&["--upstream", ","], "contains no entries");
    assert_serve_refuses(&["--sumdb", "nonsense"], "invalid sumdb");
    assert_serve_refuses(
        &["--sumdb", "sum.golang.org+00000000+AAAA"],
        "invalid sumdb",
    );
    assert_serve_refuses(&["--list-ttl", "0"], "must be at least 1 second");
    assert_serve_refuses(&["--max-zip-size", "0"], "must be positive");
    assert_serve_refuses(&["--log-format", "xml"], "xml");
    assert_serve_refuses(&["--log-level", "goward=loud"], "invalid log-level");
}

/// `--log-level` takes tracing directives: here the access log stays while the
/// info-level "serving" line is filtered out (written before any request, so
/// its absence once the access line is there is not a race).
#[test]
fn log_level_directives_filter_by_target() {
    let wait_for_access = |g: &Goward| {
        let r = g.get("/example.com/absent/@v/list");
        assert_eq!(r.status, 404);
        crate::support::wait_until(
            "the access log line",
            std::time::Duration::from_secs(30),
            || g.stderr().contains("goward::access"),
        );
        (g.stderr(), r.body.len())
    };
    let (_fake, g) = bare_goward(&[]);
    let (all, len) = wait_for_access(&g);
    assert!(all.contains("serving"), "{all}");
    // The access line is written when the body has been sent, with what was sent.
    let access = all
        .lines()
        .find(|l| l.contains("goward::access"))
        .unwrap_or_default();
    for field in [
        "method=GET".to_owned(),
        "path=\"/example.com/absent/@v/list\"".to_owned(),
        "status=404".to_owned(),
        format!("bytes={len}"),
        "complete=true".to_owned(),
        "ttfb_ms=".to_owned(),
    ] {
        assert!(access.contains(&field), "{field} not in {access:?}");
    }
    let (_fake, g) = bare_goward(&["--log-level", "warn,goward::access=info"]);
    let (filtered, _) = wait_for_access(&g);
    assert!(!filtered.contains("serving"), "{filtered}");
}

/// Publishes `example.com/tampered@v1.0.0` and makes the upstream serve another zip for it,
/// whose `h1:` the checksum database does not have.
fn publish_tampered(fake: &FakeProxy) -> Published {
    let tampered = fake.publish(
        ModZip::new("example.com/tampered", "v1.0.0").file("t.go", "package tampered\n"),
        "module example.com/tampered\n",
    );
    let evil = FakeProxy::prepare(
        ModZip::new("example.com/tampered", "v1.0.0").file("t.go", "package tampered // evil\n"),
        "module example.com/tampered\n",
    )
    .zip;
    fake.set_fault(&tampered.zip_path(), Fault::Body(evil));
    tampered
}

/// A goward with no modules, started with `extra` flags.
fn bare_goward(extra: &[&str]) -> (FakeProxy, Goward) {
    let fake = FakeProxy::start(TestLog::new(DB));
    let vkey = fake.with_log(|l| l.vkey());
    let g = Goward::start(&fake.url(), &vkey, extra);
    (fake, g)
}

/// Reads until the server closes the connection; a reset counts as closed.
/// Panics if the generous read timeout fires first (the server held it).
fn read_until_closed(s: &mut std::net::TcpStream) -> Vec<u8> {
    use std::io::Read;
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return got,
            Err(e) => panic!("the server held the connection open: {e}"),
        }
    }
}

#[test]
fn silent_half_sent_and_idle_connections_are_closed_after_the_header_timeout() {
    use std::io::Write;
    let (_fake, g) = bare_goward(&["--client-header-timeout", "1"]);
    let addr = g.url().strip_prefix("http://").unwrap();
    // Nothing sent, half a request head: closed without an answer.
    for sent in [&b""[..], b"GET /healthz HTTP/1.1\r\nHost: x\r\n"] {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(sent).unwrap();
        let got = read_until_closed(&mut s);
        let got = String::from_utf8_lossy(&got);
        assert!(
            got.is_empty() || got.starts_with("HTTP/1.1 408"),
            "after {:?}: {got:?}",
            String::from_utf8_lossy(sent)
        );
    }
    // A keep-alive connection is answered, then closed once idle.
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let got = String::from_utf8_lossy(&read_until_closed(&mut s)).into_owned();
    assert!(
        got.starts_with("HTTP/1.1 200") && got.ends_with("\r\n\r\nok\n"),
        "{got:?}"
    );
    assert_eq!(g.get("/healthz").status, 200, "still serving");
}

#[test]
fn at_the_connection_cap_a_new_connection_waits_until_one_closes() {
    use std::io::{Read, Write};
    let (_fake, g) = bare_goward(&["--max-connections", "1"]);
    let addr = g.url().strip_prefix("http://").unwrap();
    let req = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    // `a` is served and kept alive: it holds the only connection slot.
    let mut a = std::net::TcpStream::connect(addr).unwrap();
    a.write_all(req).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(b"\r\n\r\nok\n") {
        let n = a.read(&mut buf).unwrap();
        assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    // `b` connects (the kernel's backlog) but is not served while `a` is open.
    let mut b = std::net::TcpStream::connect(addr).unwrap();
    b.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    b.set_read_timeout(Some(std::time::Duration::from_millis(500)))
        .unwrap();
    let e = b.read(&mut buf).expect_err("served beyond the cap");
    assert!(
        matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{e}"
    );
    drop(a);
    let got = String::from_utf8_lossy(&read_until_closed(&mut b)).into_owned();
    assert!(got.starts_with("HTTP/1.1 200"), "{got:?}");
    assert!(got.ends_with("\r\n\r\nok\n"), "{got:?}");
}

/// A shutdown waits for requests in flight at most `drain_timeout`: a client that stops reading
/// a large zip half-way cannot keep goward from exiting.
#[test]
fn shutdown_stops_waiting_for_a_stalled_client_after_the_drain_timeout() {
    use std::io::{Read as _, Write as _};
    let fake = FakeProxy::start(TestLog::new(DB));
    let vkey = fake.with_log(|l| l.vkey());
    let big = fake.publish(
        ModZip::new("example.com/drain", "v1.0.0")
            .stored()
            .file("m.go", "package drain\n")
            .file("data.bin", noise(7, 16 << 20)),
        "module example.com/drain\n",
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("goward.toml");
    std::fs::write(&config, "drain_timeout = 1\n").expect("config");
    let mut g = Goward::start(
        &fake.url(),
        &vkey,
        &["--config", config.to_str().expect("utf-8 path")],
    );
    assert_eq!(g.get(&big.zip_path()).status, 200);
    // A client that reads the response head and then stops reading: 16 MiB cannot fit in the
    // socket buffers, so goward's response stays in flight.
    let addr = g.url().trim_start_matches("http://").to_owned();
    let mut held = std::net::TcpStream::connect(&addr).expect("connect");
    write!(
        held,
        "GET {} HTTP/1.1\r\nHost: {addr}\r\n\r\n",
        big.zip_path()
    )
    .expect("send");
    let mut head = [0u8; 12];
    held.read_exact(&mut head).expect("response head");
    assert_eq!(&head, b"HTTP/1.1 200");
    let pid = g.pid().expect("goward runs");
    let st = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill -TERM");
    assert!(st.success());
    crate::support::wait_until(
        "goward exits with a client stalled mid-zip",
        std::time::Duration::from_secs(60),
        || !g.is_running(),
    );
    assert!(
        g.stderr().contains("still busy after 1s; closing them"),
        "{}",
        g.stderr()
    );
    drop(held);
}

/// The access log says whether the cache answered: the first `.mod` is a miss (filled from
/// upstream), the second a hit.
#[test]
fn access_log_names_cache_hits_and_misses() {
    let w = world();
    for _ in 0..2 {
        assert_eq!(w.get(&w.p.mod_path(), &[]).status, 200);
    }
    let path = format!("path=\"{}\"", w.p.mod_path());
    let lines = || -> Vec<String> {
        w.g.stderr()
            .lines()
            .filter(|l| l.contains("goward::access") && l.contains(&path))
            .map(str::to_owned)
            .collect()
    };
    crate::support::wait_until(
        "both access lines",
        std::time::Duration::from_secs(30),
        || lines().len() == 2,
    );
    let got = lines();
    assert!(got[0].contains("cache=\"miss\""), "{got:?}");
    assert!(got[1].contains("cache=\"hit\""), "{got:?}");
}

/// A download that takes longer than the progress interval (10 s) says how far it got while
/// it runs, and how fast it was when it ends: an operator can tell slow from stuck.
#[test]
fn a_long_zip_download_logs_its_progress() {
    let w = world();
    // About 300 KB in 32 KiB chunks, 1.2 s apart: about 11 s.
    w.fake.set_fault(
        &w.p.zip_path(),
        Fault::Trickle {
            chunk: 32 << 10,
            delay: std::time::Duration::from_millis(1200),
        },
    );
    let r = w.get(&w.p.zip_path(), &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.body == w.p.zip,
        "served bytes differ from the published zip"
    );
    let log = w.g.stderr();
    let subject = "subject=example.com/big@v1.0.0";
    let progress = log
        .lines()
        .find(|l| l.contains("still fetching the zip"))
        .unwrap_or_else(|| panic!("no progress line in:\n{log}"));
    assert!(progress.contains(subject), "{progress}");
    assert!(
        progress.contains(&format!("total={}", w.p.zip.len())),
        "{progress}"
    );
    let done = log
        .lines()
        .find(|l| l.contains("fetched the zip"))
        .unwrap_or_else(|| panic!("no end line in:\n{log}"));
    assert!(done.contains(&format!("bytes={}", w.p.zip.len())), "{done}");
}

/// Re-checked records kept in memory are bounded by bytes (a quarter of `--memory-cache-size`),
/// not by count: with a small budget only a few stay, and an evicted one is read back from the
/// store and re-checked, with nothing fetched upstream again.
#[test]
fn records_in_memory_are_bounded_by_bytes() {
    let (fake, g) = bare_goward(&["--memory-cache-size", "8KiB"]);
    let published: Vec<Published> = (0..12)
        .map(|i| {
            let path = format!("example.com/many{i}");
            fake.publish(
                ModZip::new(&path, "v1.0.0").file("a.go", "package a\n"),
                &format!("module {path}\n"),
            )
        })
        .collect();
    for p in &published {
        let r = get_with(g.url(), &p.zip_path(), &[]);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.body, p.zip);
    }
    let status = || {
        let r = get_with(g.url(), "/status.json", &[]);
        assert_eq!(r.status, 200, "{}", r.text());
        serde_json::from_slice::<serde_json::Value>(&r.body).expect("status.json is JSON")
    };
    let held = status()["artifacts_in_memory"].as_u64().expect("a count");
    assert!(held <= 4, "{held} records held in 2 KiB");
    fake.reset_requests();
    for p in &published {
        let r = get_with(g.url(), &p.zip_path(), &[]);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.body, p.zip);
    }
    assert!(
        fake.request_log().is_empty(),
        "evicted records were fetched again: {:?}",
        fake.request_log()
    );
    assert!(status()["artifacts_in_memory"].as_u64() <= Some(4));
}
