//! Fills (fetch → verify → store of one artifact): one run per artifact that outlives the
//! client that started it, a failed proof that stops the download at once, and a bound on
//! concurrent fills.

use std::io::Write as _;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::support::fakeproxy::{FakeProxy, Fault, Published};
use crate::support::modzip::{ModZip, noise};
use crate::support::rawhttp::metric;
use crate::support::{Goward, fake_with_log, wait_until};

const DB: &str = "sum.goward.test";

fn big(fake: &FakeProxy, version: &str, publish: bool) -> Published {
    let zip = ModZip::new("example.com/fill", version)
        .file("m.go", "package fill\n")
        .file("data.bin", noise(version.len() as u64, 256 << 10));
    let go_mod = "module example.com/fill\n";
    if publish {
        fake.publish(zip, go_mod)
    } else {
        let p = FakeProxy::prepare(zip, go_mod);
        fake.serve(&p);
        p
    }
}

fn slow(fake: &FakeProxy, p: &Published) {
    fake.set_fault(
        &p.zip_path(),
        Fault::Trickle {
            chunk: 8 << 10,
            delay: Duration::from_millis(10),
        },
    );
}

/// The client that started a fill hangs up half-way; the fill goes on, and the next client is
/// served from it: upstream sent the zip once.
#[test]
fn fill_survives_the_client_that_started_it() {
    let (fake, vkey) = fake_with_log(DB);
    let p = big(&fake, "v1.0.0", true);
    slow(&fake, &p);
    let g = Goward::start(&fake.url(), &vkey, &[]);
    let addr = g.url().trim_start_matches("http://").to_owned();
    let mut first = TcpStream::connect(&addr).expect("connect");
    write!(
        first,
        "GET {} HTTP/1.1\r\nHost: {addr}\r\n\r\n",
        p.zip_path()
    )
    .expect("send");
    wait_until(
        "the upstream started sending the zip",
        Duration::from_secs(30),
        || fake.bytes_sent(&p.zip_path()) > 0,
    );
    drop(first);
    let r = g.get(&p.zip_path());
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.body == p.zip, "the zip served is not the published one");
    assert_eq!(
        fake.requests(&p.zip_path()),
        1,
        "the zip was fetched again after the first client left"
    );
}

/// A version the checksum database does not have is refused as soon as the lookup says so,
/// while its zip body still trickles (a byte every ten minutes).
#[test]
fn failed_proof_stops_the_download() {
    let (fake, vkey) = fake_with_log(DB);
    let p = big(&fake, "v1.0.0", false);
    fake.set_fault(
        &p.zip_path(),
        Fault::Trickle {
            chunk: 1,
            delay: Duration::from_secs(600),
        },
    );
    // Idle and whole-request timeouts far beyond the test's own guard: only the proof can end
    // this request in time.
    let g = Goward::start(
        &fake.url(),
        &vkey,
        &["--idle-timeout", "3600", "--upstream-timeout", "3600"],
    );
    let r = g
        .try_get(&p.zip_path(), Duration::from_secs(60))
        .expect("goward answered before the trickling download ended");
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(
        r.text()
            .contains("example.com/fill@v1.0.0 is not in checksum database sum.goward.test"),
        "{}",
        r.text()
    );
    assert_eq!(fake.requests(&p.zip_path()), 1);
}

/// With `max_fills = 1`, a second cold zip waits for the first fill's slot before it asks the
/// upstream for anything.
#[test]
fn fills_are_bounded() {
    let (fake, vkey) = fake_with_log(DB);
    let a = big(&fake, "v1.0.0", true);
    let b = big(&fake, "v1.1.0", true);
    slow(&fake, &a);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("goward.toml");
    std::fs::write(&config, "max_fills = 1\n").expect("config");
    let g = Goward::start(
        &fake.url(),
        &vkey,
        &["--config", config.to_str().expect("utf-8 path")],
    );
    let waiting = || {
        let page = g.get("/metrics").text();
        metric(&page, "goward_fills_waiting", &[]).unwrap_or(0.0)
    };
    std::thread::scope(|s| {
        let ta = s.spawn(|| g.get(&a.zip_path()));
        wait_until(
            "the first zip is downloading",
            Duration::from_secs(30),
            || fake.bytes_sent(&a.zip_path()) > 0,
        );
        let tb = s.spawn(|| g.get(&b.zip_path()));
        wait_until(
            "the second fill waits for a slot",
            Duration::from_secs(30),
            || waiting() >= 1.0,
        );
        assert_eq!(
            fake.requests(&b.zip_path()),
            0,
            "the second zip was requested while the only fill slot was taken"
        );
        let (ra, rb) = (ta.join().expect("a"), tb.join().expect("b"));
        assert_eq!(
            (ra.status, rb.status),
            (200, 200),
            "{} / {}",
            ra.text(),
            rb.text()
        );
        assert!(ra.body == a.zip && rb.body == b.zip);
    });
    assert_eq!(waiting(), 0.0);
}

/// Concurrent identical checksum-database fetches share one upstream request: `/latest`, then a
/// data tile. The upstream holds each answer until every client request has joined the fetch
/// in flight (`goward_coalesced_total`), so without coalescing the test cannot get past the
/// wait.
#[test]
fn tiles_and_latest_are_coalesced() {
    const N: usize = 4;
    let (fake, vkey) = fake_with_log(DB);
    fake.publish(
        ModZip::new("example.com/tiles", "v1.0.0").file("t.go", "package tiles\n"),
        "module example.com/tiles\n",
    );
    let g = Goward::start(&fake.url(), &vkey, &[]);
    let coalesced = || {
        let page = g.get("/metrics").text();
        metric(&page, "goward_coalesced_total", &[("kind", "sumdb")]).unwrap_or(0.0)
    };
    let shared_by_all = |path: &str| {
        let gate = Arc::new(AtomicBool::new(false));
        fake.set_fault(path, Fault::Gate(gate.clone()));
        let before = coalesced();
        let rel = path.trim_start_matches(&format!("/sumdb/{DB}/")).to_owned();
        let want = fake.with_log(|l| l.serve(&rel).1);
        std::thread::scope(|s| {
            let clients: Vec<_> = (0..N).map(|_| s.spawn(|| g.get(path))).collect();
            wait_until(
                "every request joined the one upstream fetch",
                Duration::from_secs(60),
                || coalesced() >= before + (N - 1) as f64,
            );
            gate.store(true, Ordering::SeqCst);
            for c in clients {
                let r = c.join().expect("client");
                assert_eq!(r.status, 200, "GET {path}: {}", r.text());
                assert!(r.body == want, "GET {path}: not the upstream's answer");
            }
        });
        assert_eq!(fake.requests(path), 1, "upstream requests for {path}");
    };
    shared_by_all(&format!("/sumdb/{DB}/latest"));
    // The hash tile a data tile is checked against, fetched (and cached) on its own first.
    assert_eq!(g.get(&format!("/sumdb/{DB}/tile/8/0/000.p/1")).status, 200);
    shared_by_all(&format!("/sumdb/{DB}/tile/8/data/000.p/1"));
}
