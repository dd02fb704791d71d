//! goward's verified cache, driven through the goward binary and inspected on disk.
//!
//! Layout (README "Cache layout"): `blobs/sha256/ab/abcdef…`, `meta/<module>/@v/<v>.{zip,mod}.json`
//! (what proved the blob, with its sha256), `.info`, `list`, `@latest`, `tmp/` (swept at start),
//! `quarantine/` (blobs that failed a digest re-check).
//!
//! The promises tested (README "What is verified, and when"; attacks.md #10): a blob's digest is
//! re-checked on every read, a corrupted one is quarantined and the version fetched and proven
//! again, and a client never receives a complete corrupted body; concurrent misses share one
//! upstream fetch; verified versions are immutable; interrupted writes never become visible; the
//! small documents outlive the upstream.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use sha2::Digest as _;

use crate::support::fakeproxy::{FakeProxy, Fault, Published, default_info, escape};
use crate::support::modzip::ModZip;
use crate::support::modzip::noise;
use crate::support::{
    Goward, fake_with_log, files_under, meta_file, partial_copies_of, try_http_get, wait_until,
};

/// Name of the fake checksum DB.
const DB: &str = "sum.cache-it.test";

// ---------------------------------------------------------------------------------------------
// Helpers.

/// Publishes `path@v1.0.0` with `data_len` bytes of noise (0: a tiny zip).
fn publish(fake: &FakeProxy, path: &str, data_len: usize) -> Published {
    let mut z = ModZip::new(path, "v1.0.0").file("m.go", "package m\n");
    if data_len > 0 {
        z = z.file(
            "data.bin",
            noise(data_len as u64 ^ path.len() as u64, data_len),
        );
    }
    fake.publish(z, &format!("module {path}\n\ngo 1.21\n"))
}

/// The blob a stored artifact's metadata points at.
fn blob_file(cache: &Path, p: &Published, ext: &str) -> PathBuf {
    let meta = meta_file(cache, p, ext);
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&meta).unwrap_or_else(|e| panic!("{}: {e}", meta.display())),
    )
    .expect("metadata is JSON");
    let sha = json["sha256"].as_str().expect("sha256 field").to_owned();
    cache.join("blobs/sha256").join(&sha[..2]).join(sha)
}

fn sha256_hex(b: &[u8]) -> String {
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

fn quarantined(cache: &Path) -> Vec<PathBuf> {
    files_under(&cache.join("quarantine"))
}

/// Flips one bit of the file at byte `at` (from the end if negative).
fn corrupt(path: &Path, at: i64) {
    let mut b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let i = if at < 0 {
        b.len() - at.unsigned_abs() as usize
    } else {
        at as usize
    };
    b[i] ^= 0x10;
    std::fs::write(path, b).expect("write corrupted blob");
}

#[track_caller]
fn assert_serves(g: &Goward, path: &str, want: &[u8]) {
    let r = g.get(path);
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    assert!(
        r.body == want,
        "GET {path}: served bytes differ from the published ones"
    );
}

/// A GET with extra request headers, read to EOF (or to a reset).
#[derive(Debug)]
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The whole body announced by Content-Length arrived and the connection ended cleanly.
    complete: bool,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `None`: the connection ended before a complete response header.
fn raw_get(g: &Goward, path: &str, extra: &[(&str, &str)]) -> Option<Raw> {
    let hostport = g.url().trim_start_matches("http://").to_owned();
    let mut s = TcpStream::connect(&hostport).expect("connect to goward");
    s.set_read_timeout(Some(Duration::from_secs(60))).ok();
    let mut req = format!(
        "GET {path} HTTP/1.1\r\nHost: {hostport}\r\nAccept-Encoding: identity\r\nConnection: close\r\n"
    );
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("send request");
    let mut raw = Vec::new();
    let mut buf = [0u8; 64 << 10];
    let clean = loop {
        match s.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break false,
        }
    };
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[end + 4..].to_vec();
    let len = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let complete = match len {
        Some(len) => {
            let ok = clean && body.len() >= len;
            body.truncate(len);
            ok
        }
        None => false,
    };
    Some(Raw {
        status,
        headers,
        body,
        complete,
    })
}

/// After a start: nothing left in `tmp/`, every blob is named by its own digest and sits in the
/// right shard, every artifact record parses and names an existing blob of its size, and no
/// partial copy of any `artifacts` lies anywhere in the cache.
#[track_caller]
fn assert_cache_consistent(cache: &Path, artifacts: &[&[u8]]) {
    let tmp = files_under(&cache.join("tmp"));
    assert!(tmp.is_empty(), "temp files left: {tmp:?}");
    let tmp_entries: Vec<_> = std::fs::read_dir(cache.join("tmp"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(
        tmp_entries.is_empty(),
        "entries left in tmp/: {tmp_entries:?}"
    );
    for blob in files_under(&cache.join("blobs")) {
        let bytes = std::fs::read(&blob).expect("read blob");
        let sha = sha256_hex(&bytes);
        let name = blob
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let shard = blob
            .parent()
            .and_then(|d| d.file_name())
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        assert!(
            name == sha && shard == &sha[..2],
            "blob {} holds other bytes (sha256 {sha})",
            blob.display()
        );
    }
    for meta in files_under(&cache.join("meta")) {
        let n = meta.to_string_lossy();
        if !(n.ends_with(".zip.json") || n.ends_with(".mod.json")) {
            continue;
        }
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta).expect("meta"))
            .unwrap_or_else(|e| panic!("{n}: not JSON: {e}"));
        let sha = json["sha256"].as_str().expect("sha256");
        let blob = cache.join("blobs/sha256").join(&sha[..2]).join(sha);
        let len = std::fs::metadata(&blob)
            .unwrap_or_else(|e| panic!("{n} names a missing blob {}: {e}", blob.display()))
            .len();
        assert_eq!(Some(len), json["size"].as_u64(), "{n}: size of its blob");
    }
    for a in artifacts {
        let partial = partial_copies_of(cache, a);
        assert!(partial.is_empty(), "partial copies left: {partial:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Corruption on disk (attacks.md #10).

/// A zip blob flipped on disk after it was cached: the next GET never delivers the corrupted
/// body whole (small zips: replaced by a fresh proven copy; large: transfer aborted), the blob
/// goes to quarantine, and the genuine zip is fetched, proven and served exactly once more. Small (one read chunk) and large (many chunks) zips, corruption early and at the end.
#[test]
fn corrupted_zip_blob_is_quarantined_then_fetched_and_proven_again() {
    let (fake, vkey) = fake_with_log(DB);
    let cases = [
        ("example.com/small", 0usize, 40i64),
        ("example.com/smallend", 0, -1),
        ("example.com/large", 400 << 10, 70_000),
        ("example.com/largeend", 400 << 10, -1),
        ("example.com/largestart", 400 << 10, 10),
    ];
    let pubs: Vec<Published> = cases
        .iter()
        .map(|(p, len, _)| publish(&fake, p, *len))
        .collect();
    let g = Goward::start(&fake.url(), &vkey, &[]);
    for ((_, _, at), p) in cases.iter().zip(&pubs) {
        let zp = p.zip_path();
        assert_serves(&g, &zp, &p.zip);
        assert_eq!(fake.requests(&zp), 1);
        let blob = blob_file(g.cache_dir(), p, "zip");
        assert_eq!(std::fs::read(&blob).ok().as_ref(), Some(&p.zip));
        corrupt(&blob, *at);
        let bad = std::fs::read(&blob).expect("blob");
        let before = quarantined(g.cache_dir()).len();

        // Small zips are checked before a byte is sent and replaced by a freshly proven copy
        // in the same request; large ones are checked while streaming and the transfer is
        // aborted. Either way no corrupted body is ever delivered whole.
        match g.try_get(&zp, Duration::from_secs(60)) {
            Ok(r) if r.status == 200 => assert!(
                r.body == p.zip,
                "{}: a complete body was served from a corrupted blob ({} bytes)",
                p.at(),
                r.body.len()
            ),
            Ok(_) => {}
            Err(e) => eprintln!("{}: corrupted blob: transfer aborted: {e}", p.at()),
        }
        let q = quarantined(g.cache_dir());
        assert!(q.len() > before, "{}: nothing was quarantined", p.at());
        assert!(
            q.iter()
                .any(|f| std::fs::read(f).ok().as_ref() == Some(&bad)),
            "{}: the corrupted blob is not in quarantine: {q:?}",
            p.at()
        );
        assert!(
            std::fs::read(&blob).map_or(true, |b| b != bad),
            "{}: the corrupted blob is still in place",
            p.at()
        );

        assert_serves(&g, &zp, &p.zip);
        assert_eq!(
            fake.requests(&zp),
            2,
            "{}: not fetched again exactly once",
            p.at()
        );
        assert_eq!(
            std::fs::read(&blob).ok().as_ref(),
            Some(&p.zip),
            "{}: blob",
            p.at()
        );
        assert_serves(&g, &zp, &p.zip);
        assert_eq!(fake.requests(&zp), 2);
    }
    let all: Vec<&[u8]> = pubs.iter().map(|p| p.zip.as_slice()).collect();
    assert_cache_consistent(g.cache_dir(), &all);
}

/// A go.mod blob flipped on disk: quarantined, fetched and proven again, and the genuine bytes
/// served on the same request.
#[test]
fn corrupted_go_mod_blob_is_replaced_before_serving() {
    let (fake, vkey) = fake_with_log(DB);
    let p = publish(&fake, "example.com/gomod", 0);
    let g = Goward::start(&fake.url(), &vkey, &[]);
    assert_serves(&g, &p.mod_path(), &p.mod_bytes);
    for at in [0i64, -1, 10] {
        let blob = blob_file(g.cache_dir(), &p, "mod");
        corrupt(&blob, at);
        let bad = std::fs::read(&blob).expect("blob");
        let asked = fake.requests(&p.mod_path());
        assert_serves(&g, &p.mod_path(), &p.mod_bytes);
        assert_eq!(
            fake.requests(&p.mod_path()),
            asked + 1,
            "go.mod not fetched again"
        );
        assert!(
            quarantined(g.cache_dir())
                .iter()
                .any(|f| std::fs::read(f).ok().as_ref() == Some(&bad)),
            "the corrupted go.mod is not in quarantine"
        );
        assert_eq!(std::fs::read(&blob).ok().as_ref(), Some(&p.mod_bytes));
    }
}

/// A blob deleted behind goward's back is fetched and proven again.
#[test]
fn deleted_blobs_are_fetched_again() {
    let (fake, vkey) = fake_with_log(DB);
    let p = publish(&fake, "example.com/deleted", 100 << 10);
    let mut g = Goward::start(&fake.url(), &vkey, &[]);
    assert_serves(&g, &p.zip_path(), &p.zip);
    assert_serves(&g, &p.mod_path(), &p.mod_bytes);
    for restart in [false, true] {
        for (ext, want) in [("zip", &p.zip), ("mod", &p.mod_bytes)] {
            let path = if ext == "zip" {
                p.zip_path()
            } else {
                p.mod_path()
            };
            let blob = blob_file(g.cache_dir(), &p, ext);
            std::fs::remove_file(&blob).expect("delete blob");
            if restart {
                g.restart();
            }
            let asked = fake.requests(&path);
            assert_serves(&g, &path, want);
            assert_eq!(fake.requests(&path), asked + 1, "{ext} not fetched again");
            assert_eq!(std::fs::read(&blob).ok().as_ref(), Some(want));
        }
    }
}

/// Range requests read through the same digest check: a corrupted blob never yields a complete
/// 206 whose bytes differ from the genuine zip's.
#[test]
fn range_request_on_a_corrupted_blob_never_returns_other_bytes() {
    let (fake, vkey) = fake_with_log(DB);
    let p = publish(&fake, "example.com/ranged", 300 << 10);
    let g = Goward::start(&fake.url(), &vkey, &[]);
    let size = p.zip.len();
    assert_serves(&g, &p.zip_path(), &p.zip);
    // Sanity: an honest range request is answered 206 with the right bytes.
    let r = raw_get(&g, &p.zip_path(), &[("Range", "bytes=100-199")]).expect("response");
    assert_eq!(r.status, 206);
    assert!(r.complete && r.body == p.zip[100..200]);
    let etag = r.header("etag").expect("etag").to_owned();

    // (range, first, last, byte to flip)
    let cases: [(String, usize, usize, usize); 5] = [
        ("bytes=0-1999".into(), 0, 1999, 1000),
        ("bytes=100000-".into(), 100_000, size - 1, size - 5),
        (format!("bytes=-{}", 500), size - 500, size - 1, size - 200),
        ("bytes=70000-70100".into(), 70_000, 70_100, 70_050),
        // The flipped byte lies outside the requested range.
        ("bytes=0-99".into(), 0, 99, size / 2),
    ];
    for (range, first, last, at) in &cases {
        let blob = blob_file(g.cache_dir(), &p, "zip");
        corrupt(&blob, *at as i64);
        for headers in [
            vec![("Range", range.as_str())],
            vec![("Range", range.as_str()), ("If-Range", etag.as_str())],
        ] {
            let Some(r) = raw_get(&g, &p.zip_path(), &headers) else {
                eprintln!("{range}: connection closed before a response header");
                continue;
            };
            let expected: &[u8] = match r.status {
                206 => &p.zip[*first..=*last],
                _ => &p.zip,
            };
            let genuine = r.body == expected;
            eprintln!(
                "{range} {headers:?} on a corrupted blob: {} complete={} genuine={genuine}",
                r.status, r.complete
            );
            if (r.status == 206 || r.status == 200) && r.complete {
                assert!(genuine, "{range}: a complete {} with other bytes", r.status);
            }
        }
        assert!(
            !quarantined(g.cache_dir()).is_empty(),
            "{range}: the corrupted blob was not quarantined"
        );
        assert_serves(&g, &p.zip_path(), &p.zip);
        assert_eq!(std::fs::read(&blob).ok().as_ref(), Some(&p.zip));
    }
}

/// A client that got part of a zip from a corrupted blob (the transfer was aborted) resumes
/// with `Range` + `If-Range: <ETag>` as HTTP clients do. The re-fetched copy must not match that
/// validator, or the client splices the corrupted prefix onto genuine bytes (README: the ETag is
/// "its digest plus its verification time, so a re-fetched copy never matches an If-Range of
/// the copy it replaced").
#[test]
fn resume_after_an_aborted_transfer_of_a_corrupted_blob_does_not_splice_copies() {
    let (fake, vkey) = fake_with_log(DB);
    let p = publish(&fake, "example.com/splice", 400 << 10);
    let g = Goward::start(&fake.url(), &vkey, &[]);
    // Verification and re-fetch within one wall-clock second, as on a busy proxy: start at the
    // beginning of a second.
    wait_until("the start of a second", Duration::from_secs(5), || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .is_ok_and(|d| d.subsec_millis() < 100)
    });
    assert_serves(&g, &p.zip_path(), &p.zip);
    let blob = blob_file(g.cache_dir(), &p, "zip");
    let at = 70_050;
    corrupt(&blob, at as i64);
    let cut = raw_get(&g, &p.zip_path(), &[]).expect("a response header");
    assert!(!cut.complete, "a complete body from a corrupted blob");
    if cut.body.len() <= at {
        eprintln!("the corrupted byte was held back; nothing to splice");
        return;
    }
    let etag = cut.header("etag").expect("etag").to_owned();
    let from = cut.body.len();
    let range = format!("bytes={from}-");
    let resumed =
        raw_get(&g, &p.zip_path(), &[("Range", &range), ("If-Range", &etag)]).expect("a response");
    eprintln!(
        "resume {range} If-Range {etag}: {} {:?} complete={}",
        resumed.status,
        resumed.header("etag"),
        resumed.complete
    );
    if resumed.status == 206 && resumed.complete {
        let spliced = [cut.body.as_slice(), resumed.body.as_slice()].concat();
        assert!(
            spliced == p.zip,
            "the resumed download spliced the corrupted copy's prefix onto the new copy"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Coalescing and immutability.

fn concurrent_gets(
    g: &Goward,
    path: &str,
    n: usize,
) -> Vec<std::io::Result<crate::support::HttpResponse>> {
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let url = g.url_for(path);
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                try_http_get(&url, Duration::from_secs(120))
            })
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("client thread"))
        .collect()
}

/// 16 concurrent GETs of one uncached zip (and of one uncached go.mod): one upstream fetch, one
/// lookup, sixteen identical genuine answers.
#[test]
fn concurrent_misses_share_one_upstream_fetch() {
    let (fake, vkey) = fake_with_log(DB);
    let z = publish(&fake, "example.com/coalzip", 200 << 10);
    let m = publish(&fake, "example.com/coalmod", 0);
    // A slow upstream keeps the first fetch in flight while the others arrive.
    fake.set_fault(
        &z.zip_path(),
        Fault::Trickle {
            chunk: 16 << 10,
            delay: Duration::from_millis(40),
        },
    );
    fake.set_fault(
        &m.mod_path(),
        Fault::Trickle {
            chunk: 4,
            delay: Duration::from_millis(40),
        },
    );
    let g = Goward::start(&fake.url(), &vkey, &[]);
    for (p, path, want) in [(&z, z.zip_path(), &z.zip), (&m, m.mod_path(), &m.mod_bytes)] {
        let results = concurrent_gets(&g, &path, 16);
        for r in results {
            let r = r.unwrap_or_else(|e| panic!("GET {path}: {e}"));
            assert_eq!(r.status, 200, "GET {path}: {}", r.text());
            assert!(r.body == *want, "GET {path}: other bytes");
        }
        assert_eq!(
            fake.requests(&path),
            1,
            "{path}: the upstream was asked more than once: {:?}",
            fake.request_log()
        );
        assert_eq!(fake.requests(&p.lookup_path(DB)), 1, "{}: lookups", p.at());
    }
}

/// Once proven and cached, a version is served from the cache even when the upstream starts
/// serving other bytes for it, without asking the upstream, also after a restart.
#[test]
fn cached_versions_are_immutable() {
    let (fake, vkey) = fake_with_log(DB);
    let p = publish(&fake, "example.com/immutable", 50 << 10);
    let mut g = Goward::start(&fake.url(), &vkey, &[]);
    assert_serves(&g, &p.zip_path(), &p.zip);
    assert_serves(&g, &p.mod_path(), &p.mod_bytes);
    assert_serves(&g, &p.info_path(), &default_info(&p.version));
    let other = FakeProxy::prepare(
        ModZip::new(&p.path, &p.version)
            .file("m.go", "package m\n\nvar Changed = true\n")
            .file("data.bin", noise(99, 50 << 10)),
        &format!("module {}\n\ngo 1.21\n\n// changed\n", p.path),
    );
    fake.set_fault(&p.zip_path(), Fault::Body(other.zip.clone()));
    fake.set_fault(&p.mod_path(), Fault::Body(other.mod_bytes.clone()));
    fake.set_fault(
        &p.info_path(),
        Fault::Body(
            format!(
                "{{\"Version\":\"{}\",\"Time\":\"2030-01-01T00:00:00Z\"}}\n",
                p.version
            )
            .into_bytes(),
        ),
    );
    let asked: Vec<usize> = [p.zip_path(), p.mod_path(), p.info_path()]
        .iter()
        .map(|x| fake.requests(x))
        .collect();
    for restart in [false, true] {
        if restart {
            g.restart();
        }
        assert_serves(&g, &p.zip_path(), &p.zip);
        assert_serves(&g, &p.mod_path(), &p.mod_bytes);
        assert_serves(&g, &p.info_path(), &default_info(&p.version));
    }
    let now: Vec<usize> = [p.zip_path(), p.mod_path(), p.info_path()]
        .iter()
        .map(|x| fake.requests(x))
        .collect();
    assert_eq!(
        asked, now,
        "goward asked the upstream again for a cached version"
    );
    assert!(
        files_under(g.cache_dir())
            .iter()
            .all(|f| std::fs::read(f).is_ok_and(|b| b != other.zip && b != other.mod_bytes))
    );
}

// ---------------------------------------------------------------------------------------------
// Start-up sweep and damaged metadata.

/// Leftovers in `tmp/` from a crashed run are removed at start; nothing else is touched.
#[test]
fn temp_leftovers_are_swept_at_start() {
    let (fake, vkey) = fake_with_log(DB);
    let p = publish(&fake, "example.com/sweep", 20 << 10);
    let cache = tempfile::tempdir().expect("cache dir");
    let mut g = Goward::start_in(cache.path(), &fake.url(), &vkey, &[]);
    assert_serves(&g, &p.zip_path(), &p.zip);
    g.kill_hard();
    let tmp = cache.path().join("tmp");
    std::fs::write(tmp.join("in-flight-abc123"), &p.zip[..p.zip.len() / 2]).expect("write");
    std::fs::write(tmp.join("stray.json"), b"{\"v\":1").expect("write");
    std::fs::create_dir_all(tmp.join("dir/sub")).expect("mkdir");
    std::fs::write(tmp.join("dir/sub/x"), b"x").expect("write");
    g.restart();
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .expect("tmp/ exists")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "not swept: {left:?}");
    assert_serves(&g, &p.zip_path(), &p.zip);
    assert_eq!(fake.requests(&p.zip_path()), 1);
    assert_cache_consistent(cache.path(), &[&p.zip]);
}

/// Damaged artifact records (garbage, a torn write, a flipped digest character) are never
/// taken for a hit that serves other bytes.
#[test]
fn corrupted_metadata_is_never_served_as_a_hit() {
    let (fake, vkey) = fake_with_log(DB);
    let p = publish(&fake, "example.com/badmeta", 30 << 10);
    let cache = tempfile::tempdir().expect("cache dir");
    let mut g = Goward::start_in(cache.path(), &fake.url(), &vkey, &[]);
    assert_serves(&g, &p.zip_path(), &p.zip);
    assert_serves(&g, &p.mod_path(), &p.mod_bytes);
    let zmeta = meta_file(cache.path(), &p, "zip");
    let mmeta = meta_file(cache.path(), &p, "mod");
    let good_z = std::fs::read(&zmeta).expect("zip meta");
    let good_m = std::fs::read(&mmeta).expect("mod meta");

    let flip_sha = |b: &[u8]| {
        let mut json: serde_json::Value = serde_json::from_slice(b).expect("json");
        let sha = json["sha256"].as_str().expect("sha").to_owned();
        let c = if sha.starts_with('0') { "1" } else { "0" };
        json["sha256"] = serde_json::Value::String(format!("{c}{}", &sha[1..]));
        serde_json::to_vec_pretty(&json).expect("json")
    };
    let cases: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        (
            "garbage",
            b"\x00\xffnot json at all".to_vec(),
            b"}{".to_vec(),
        ),
        (
            "torn write",
            good_z[..good_z.len() / 2].to_vec(),
            good_m[..good_m.len() / 2].to_vec(),
        ),
        ("empty", Vec::new(), Vec::new()),
        ("flipped digest", flip_sha(&good_z), flip_sha(&good_m)),
    ];
    for (what, z, m) in cases {
        g.kill_hard();
        std::fs::write(&zmeta, &z).expect("write meta");
        std::fs::write(&mmeta, &m).expect("write meta");
        g.restart();
        for (path, want) in [(p.zip_path(), &p.zip), (p.mod_path(), &p.mod_bytes)] {
            match g.try_get(&path, Duration::from_secs(60)) {
                Ok(r) => {
                    eprintln!(
                        "{what} metadata, GET {path}: {} {}",
                        r.status,
                        if r.status == 200 {
                            String::new()
                        } else {
                            r.text()
                        }
                    );
                    assert!(
                        r.status != 200 || r.body == *want,
                        "{what} metadata: {path} served other bytes"
                    );
                }
                Err(e) => eprintln!("{what} metadata, GET {path}: transfer failed: {e}"),
            }
        }
        // Put the good records back for the next case (goward may have replaced them).
        g.kill_hard();
        std::fs::write(&zmeta, &good_z).expect("restore meta");
        std::fs::write(&mmeta, &good_m).expect("restore meta");
        g.restart();
        assert_serves(&g, &p.zip_path(), &p.zip);
    }
}

// ---------------------------------------------------------------------------------------------
// Small documents.

/// `.info`, `list` and `@latest` are kept: served when the upstream fails, also after a restart
/// and with the upstream gone.
#[test]
fn info_list_and_latest_outlive_the_upstream() {
    let (fake, vkey) = fake_with_log(DB);
    let p = publish(&fake, "example.com/docs", 0);
    let list = format!("/{}/@v/list", escape(&p.path));
    let latest = format!("/{}/@latest", escape(&p.path));
    let mut g = Goward::start(&fake.url(), &vkey, &[]);
    let want_info = default_info(&p.version);
    assert_serves(&g, &p.info_path(), &want_info);
    let want_list = g.get(&list);
    assert_eq!(want_list.status, 200);
    assert_eq!(want_list.text(), "v1.0.0\n");
    let want_latest = g.get(&latest);
    assert_eq!(want_latest.status, 200);
    assert_eq!(want_latest.body, want_info);
    let cache = g.cache_dir().to_path_buf();
    for f in [
        cache.join(format!("meta/{}/@v/list", escape(&p.path))),
        cache.join(format!("meta/{}/@latest", escape(&p.path))),
        cache.join(format!("meta/{}/@v/v1.0.0.info", escape(&p.path))),
    ] {
        assert!(f.is_file(), "{} not kept", f.display());
    }

    for path in [&p.info_path(), &list, &latest] {
        fake.set_fault(path, Fault::Status(500, b"down\n".to_vec()));
    }
    let check = |g: &Goward, ctx: &str| {
        assert_serves(g, &p.info_path(), &want_info);
        let r = g.get(&list);
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, want_list.body.as_slice()),
            "{ctx}: list"
        );
        let r = g.get(&latest);
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, want_latest.body.as_slice()),
            "{ctx}: @latest"
        );
    };
    check(&g, "upstream failing");
    g.restart();
    let before = fake.requests(&list);
    check(&g, "upstream failing, after a restart");
    assert!(
        fake.requests(&list) > before,
        "the list was not refreshed after a restart"
    );
    drop(fake);
    g.restart();
    check(&g, "upstream gone, after a restart");
}

// ---------------------------------------------------------------------------------------------
// Crash safety.

/// Three SIGKILLs while many downloads (zips and go.mods, some slow, some fast) are in flight,
/// at different points of the transfers. After each restart: temp files swept, every blob named
/// by its digest, every record pointing at a whole blob, no partial copy anywhere, and every
/// artifact served byte-identical to the published one.
#[test]
fn repeated_sigkill_during_concurrent_downloads_leaves_a_consistent_cache() {
    const SIZE: usize = 512 << 10;
    let (fake, vkey) = fake_with_log(DB);
    let sets: Vec<Vec<Published>> = (0..3)
        .map(|cycle| {
            (0..3)
                .map(|i| {
                    publish(
                        &fake,
                        &format!("example.com/crash{cycle}x{i}"),
                        SIZE + i * 1000,
                    )
                })
                .collect()
        })
        .collect();
    let cache = tempfile::tempdir().expect("cache dir");
    let mut g = Goward::start_in(cache.path(), &fake.url(), &vkey, &[]);

    for (cycle, set) in sets.iter().enumerate() {
        // Cycle 2 leaves its first module fast, so it completes before the kill.
        for (i, p) in set.iter().enumerate() {
            if cycle == 2 && i == 0 {
                continue;
            }
            fake.set_fault(
                &p.zip_path(),
                Fault::Trickle {
                    chunk: 16 << 10,
                    delay: Duration::from_millis(10 + 5 * i as u64),
                },
            );
            fake.set_fault(
                &p.mod_path(),
                Fault::Trickle {
                    chunk: 8,
                    delay: Duration::from_millis(30),
                },
            );
        }
        let clients: Vec<_> = set
            .iter()
            .flat_map(|p| {
                [
                    (p.zip_path(), p.zip.clone()),
                    (p.mod_path(), p.mod_bytes.clone()),
                ]
                .into_iter()
                .flat_map(|(path, want)| (0..2).map(move |_| (path.clone(), want.clone())))
                .collect::<Vec<_>>()
            })
            .map(|(path, want)| {
                let url = g.url_for(&path);
                let h = std::thread::spawn(move || try_http_get(&url, Duration::from_secs(120)));
                (path, want, h)
            })
            .collect();
        let sent = |p: &Published| fake.bytes_sent(&p.zip_path());
        match cycle {
            0 => wait_until("every zip started", Duration::from_secs(120), || {
                set.iter().all(|p| sent(p) > 0)
            }),
            1 => wait_until("every zip half-way", Duration::from_secs(120), || {
                set.iter().all(|p| sent(p) >= (SIZE / 2) as u64)
            }),
            _ => wait_until(
                "the fast module served, the slow ones a quarter through",
                Duration::from_secs(120),
                || {
                    clients
                        .iter()
                        .filter(|(path, _, _)| *path == set[0].zip_path())
                        .all(|(_, _, h)| h.is_finished())
                        && set[1..].iter().all(|p| sent(p) >= (SIZE / 4) as u64)
                },
            ),
        }
        g.kill_hard();
        for (path, want, h) in clients {
            if let Ok(Ok(r)) = h.join()
                && r.status == 200
            {
                assert!(
                    r.body == want,
                    "cycle {cycle}: {path}: a client got other bytes"
                );
            }
        }
        fake.clear_faults();
        g.restart();
        let published: Vec<&[u8]> = sets[..=cycle]
            .iter()
            .flatten()
            .flat_map(|p| [p.zip.as_slice(), p.mod_bytes.as_slice()])
            .collect();
        assert_cache_consistent(cache.path(), &published);
        for p in sets[..=cycle].iter().flatten() {
            assert_serves(&g, &p.zip_path(), &p.zip);
            assert_serves(&g, &p.mod_path(), &p.mod_bytes);
        }
        assert_cache_consistent(cache.path(), &published);
        eprintln!(
            "cycle {cycle}: upstream zip requests {:?}",
            set.iter()
                .map(|p| fake.requests(&p.zip_path()))
                .collect::<Vec<_>>()
        );
    }
}

/// Where a crash cycle kills goward. Every point is reached by observing progress (bytes the
/// upstream sent, bytes a client received, requests the upstream saw), never by sleeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KillPoint {
    /// Every new zip's transfer from the upstream has begun.
    UpstreamStarted,
    /// Every new zip is half-way through its transfer from the upstream.
    UpstreamHalf,
    /// Every new zip arrived whole (so it is in the zip checks or checked and in `tmp/`) while
    /// its checksum-database lookup hangs: downloaded, not yet proven or stored.
    AwaitingProof,
    /// The moment the upstream sent the last byte of the first new zip: lands in the zip checks,
    /// the proof, the fsyncs or the renames of the store.
    JustDownloaded,
    /// The moment the first new zip's blob appears under `blobs/`: between the blob's rename
    /// and its metadata record (or just after).
    MidStore,
    /// A client slowly reading an already cached zip is part-way through it (goward is
    /// mid-serve) while the new zips are a quarter through their transfers.
    MidServe,
    /// One new zip (not trickled) was served whole to its two clients; the others are a
    /// quarter through their transfers.
    SomeServed,
}

/// The crash cycles, in order.
const CRASH_CYCLES: [KillPoint; 8] = [
    KillPoint::UpstreamStarted,
    KillPoint::UpstreamHalf,
    KillPoint::AwaitingProof,
    KillPoint::JustDownloaded,
    KillPoint::MidServe,
    KillPoint::SomeServed,
    KillPoint::MidStore,
    KillPoint::JustDownloaded,
];

/// The module whose versions the crash test downloads.
const BIG: &str = "example.com/crashbig";

/// `BIG@version`: a stored (uncompressed) zip of `len` bytes of noise seeded by `len`.
fn publish_big(fake: &FakeProxy, version: &str, len: usize) -> Published {
    let z = ModZip::new(BIG, version)
        .stored()
        .file("big.go", "package big\n")
        .file("data.bin", noise(len as u64, len));
    fake.publish(z, &format!("module {BIG}\n\ngo 1.21\n"))
}

/// Where a held client stops reading.
const HOLD_AT: u64 = 256 << 10;

/// A concurrent download of a zip through goward, its progress visible.
struct Download<'a> {
    want: &'a Published,
    received: Arc<AtomicU64>,
    handle: std::thread::JoinHandle<std::io::Result<crate::support::HttpResponse>>,
}

impl<'a> Download<'a> {
    /// Starts downloading `want`'s zip. With `hold`, the client stops reading once it has
    /// [`HOLD_AT`] bytes, until `hold` is set: the response stays in flight.
    fn start(g: &Goward, want: &'a Published, hold: Option<Arc<AtomicBool>>) -> Download<'a> {
        let url = g.url_for(&want.zip_path());
        let received = Arc::new(AtomicU64::new(0));
        let r = received.clone();
        let handle = std::thread::spawn(move || {
            crate::support::try_http_get_observed(&url, Duration::from_secs(120), &mut |n| {
                r.store(n, Ordering::SeqCst);
                if let Some(h) = &hold
                    && n >= HOLD_AT
                {
                    while !h.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            })
        });
        Download {
            want,
            received,
            handle,
        }
    }

    fn received(&self) -> u64 {
        self.received.load(Ordering::SeqCst)
    }

    /// Waits for the end of the transfer. A 200 must be the whole, genuine zip: nothing partial
    /// or foreign is ever delivered as complete. Returns how it ended.
    fn finish(self, ctx: &str) -> &'static str {
        let path = self.want.zip_path();
        match self.handle.join().expect("download thread") {
            Ok(r) if r.status == 200 => {
                assert!(
                    r.body == self.want.zip,
                    "{ctx}: {path}: a client got a 200 with other bytes ({} of {})",
                    r.body.len(),
                    self.want.zip.len()
                );
                "whole"
            }
            Ok(r) => {
                eprintln!("{ctx}: {path}: {} {}", r.status, r.text().trim_end());
                "error status"
            }
            Err(_) => "cut off",
        }
    }
}

/// Polls `cond` every millisecond (kill points that last only a moment).
#[track_caller]
fn poll_fast(ctx: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "{ctx}: timed out after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Blobs no metadata record names (what a kill between a blob's rename and its record's leaves).
fn orphan_blobs(cache: &Path) -> usize {
    let named: std::collections::HashSet<String> = files_under(&cache.join("meta"))
        .iter()
        .filter(|m| m.to_string_lossy().ends_with(".json"))
        .filter_map(|m| {
            let json: serde_json::Value = serde_json::from_slice(&std::fs::read(m).ok()?).ok()?;
            Some(json["sha256"].as_str()?.to_owned())
        })
        .collect();
    files_under(&cache.join("blobs"))
        .iter()
        .filter(|b| {
            b.file_name()
                .and_then(|n| n.to_str())
                .is_none_or(|n| !named.contains(n))
        })
        .count()
}

/// `goward cache verify` (the binary the harness runs) on `cache`: exit 0, no problem, no note.
/// Returns its summary line.
#[track_caller]
fn assert_cache_verify_clean(cache: &Path, vkey: &str, ctx: &str) -> String {
    let dir = cache.to_str().expect("utf-8 cache path");
    let o = crate::support::run_goward(&["cache", "verify", "--cache-dir", dir, "--sumdb", vkey]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{ctx}: cache verify failed:\n{}\n{}",
        o.stdout,
        o.stderr
    );
    assert!(
        o.stdout.contains("; 0 problem(s)")
            && !o
                .stdout
                .lines()
                .any(|l| l.starts_with("BAD ") || l.starts_with("note: ")),
        "{ctx}: cache verify reported something:\n{}",
        o.stdout
    );
    o.stdout.lines().last().unwrap_or_default().to_owned()
}

/// Files anywhere in the cache that are a strict prefix of one of `zips` (one read per file).
fn partial_zips(cache: &Path, zips: &[Published]) -> Vec<PathBuf> {
    files_under(cache)
        .into_iter()
        .filter(|f| {
            std::fs::read(f).is_ok_and(|b| {
                !b.is_empty()
                    && zips
                        .iter()
                        .any(|p| b.len() < p.zip.len() && p.zip.starts_with(&b))
            })
        })
        .collect()
}

/// Issue 5's crash test: four clients download large zips (a little over 3 MiB each, three new
/// versions a cycle, trickled by the upstream) concurrently; goward is SIGKILLed at a different
/// observed point each cycle ([`KillPoint`]) and restarted on the same cache dir, eight times.
/// In the mid-serve cycle the fourth client has part-read a 16 MiB zip cached beforehand, so the
/// kill cuts off a response goward is still sending. No client ever gets a 200 with partial or
/// foreign bytes. After every restart, before anything
/// new is served: `tmp/` was swept, `goward cache verify` exits 0 and reports no problem (every
/// blob re-hashed, every record and proof checked), no partial copy of a zip lies anywhere in the
/// cache; then every zip published so far is served byte-identical, with the published `h1:`.
/// Every other cycle `cache verify` also runs on the cache exactly as the crash left it.
#[test]
fn sigkill_during_concurrent_large_downloads_then_cache_verify_is_clean() {
    let (fake, vkey) = fake_with_log(DB);
    let cache = tempfile::tempdir().expect("cache dir");
    let mut g = Goward::start_in(cache.path(), &fake.url(), &vkey, &[]);
    // Cached before the crashes, what the held client reads in the mid-serve cycle: larger
    // than the socket buffers hold, so that the kill lands while goward is still sending it.
    let warm = publish_big(&fake, "v1.99.0", 16 << 20);
    assert_serves(&g, &warm.zip_path(), &warm.zip);
    let mut all: Vec<Published> = vec![warm];
    for (cycle, &kill) in CRASH_CYCLES.iter().enumerate() {
        let ctx = format!("cycle {cycle} ({kill:?})");
        let new: Vec<Published> = (0..3)
            .map(|i| {
                let len = (3 << 20) + i * (96 << 10) + cycle * 4096;
                publish_big(&fake, &format!("v1.{cycle}.{i}"), len)
            })
            .collect();
        for (i, p) in new.iter().enumerate() {
            if !(kill == KillPoint::SomeServed && i == 0) {
                fake.set_fault(
                    &p.zip_path(),
                    Fault::Trickle {
                        chunk: 32 << 10,
                        delay: Duration::from_millis(8),
                    },
                );
            }
            if kill == KillPoint::AwaitingProof {
                fake.set_fault(&p.lookup_path(DB), Fault::Hang);
            }
        }
        // Four clients: one per new version, and a fourth on the first new version (a shared
        // fetch) or, in the mid-serve cycle, slowly on a zip cached in cycle 0.
        let hold = Arc::new(AtomicBool::new(false));
        let mut clients: Vec<Download<'_>> =
            new.iter().map(|p| Download::start(&g, p, None)).collect();
        clients.push(if kill == KillPoint::MidServe {
            Download::start(&g, &all[0], Some(hold.clone()))
        } else {
            Download::start(&g, &new[0], None)
        });
        let sent = |p: &Published| fake.bytes_sent(&p.zip_path());
        let len = |p: &Published| p.zip.len() as u64;
        let limit = Duration::from_secs(60);
        match kill {
            KillPoint::UpstreamStarted => wait_until("every zip started", limit, || {
                new.iter().all(|p| sent(p) > 0)
            }),
            KillPoint::UpstreamHalf => wait_until("every zip half-way", limit, || {
                new.iter().all(|p| sent(p) >= len(p) / 2)
            }),
            KillPoint::AwaitingProof => {
                wait_until("every zip downloaded, its lookup hanging", limit, || {
                    new.iter()
                        .all(|p| sent(p) == len(p) && fake.requests(&p.lookup_path(DB)) > 0)
                })
            }
            KillPoint::JustDownloaded => {
                poll_fast(&ctx, limit, || new.iter().any(|p| sent(p) == len(p)))
            }
            KillPoint::MidStore => {
                let blobs: Vec<PathBuf> = new
                    .iter()
                    .map(|p| {
                        let sha = sha256_hex(&p.zip);
                        cache.path().join("blobs/sha256").join(&sha[..2]).join(sha)
                    })
                    .collect();
                poll_fast(&ctx, limit, || blobs.iter().any(|b| b.exists()))
            }
            KillPoint::MidServe => wait_until(
                "the held client part-way, the new zips a quarter through",
                limit,
                || clients[3].received() >= HOLD_AT && new.iter().all(|p| sent(p) >= len(p) / 4),
            ),
            KillPoint::SomeServed => wait_until(
                "the fast zip served, the others a quarter through",
                limit,
                || {
                    [&clients[0], &clients[3]]
                        .iter()
                        .all(|c| c.handle.is_finished())
                        && new[1..].iter().all(|p| sent(p) >= len(p) / 4)
                },
            ),
        }
        let at_kill: Vec<String> = new
            .iter()
            .map(|p| format!("{}/{}", sent(p), len(p)))
            .collect();
        let fourth = clients[3].received();
        g.kill_hard();
        hold.store(true, Ordering::SeqCst);
        let outcomes: Vec<&str> = clients.into_iter().map(|c| c.finish(&ctx)).collect();
        let leftovers = files_under(&cache.path().join("tmp")).len();
        let stored: Vec<bool> = new
            .iter()
            .map(|p| meta_file(cache.path(), p, "zip").exists())
            .collect();
        let orphans = orphan_blobs(cache.path());
        if cycle % 2 == 0 {
            assert_cache_verify_clean(cache.path(), &vkey, &format!("{ctx}, as the crash left it"));
        }
        fake.clear_faults();
        g.restart();

        // Before anything new is served.
        assert_cache_consistent(cache.path(), &[]);
        let summary = assert_cache_verify_clean(cache.path(), &vkey, &format!("{ctx}, restarted"));
        all.extend(new);
        let partial = partial_zips(cache.path(), &all);
        assert!(partial.is_empty(), "{ctx}: partial zips left: {partial:?}");
        eprintln!(
            "{ctx}: upstream sent {at_kill:?} at the kill, client 3 had {fourth} bytes; \
             clients: {outcomes:?}; left by the crash: {leftovers} temp file(s), {orphans} \
             blob(s) without a record, new zips stored {stored:?}; verify after restart: \
             {summary}"
        );

        for p in &all {
            let r = g
                .try_get(&p.zip_path(), Duration::from_secs(60))
                .unwrap_or_else(|e| panic!("{ctx}: GET {}: {e}", p.zip_path()));
            assert_eq!(r.status, 200, "{ctx}: GET {}: {}", p.zip_path(), r.text());
            assert!(
                r.body == p.zip,
                "{ctx}: GET {}: served bytes differ from the upstream's",
                p.zip_path()
            );
            assert_eq!(
                crate::support::modzip::try_h1_zip(&r.body).as_deref(),
                Ok(p.zip_h1.as_str()),
                "{ctx}: GET {}: h1",
                p.zip_path()
            );
        }
    }
    assert_cache_verify_clean(cache.path(), &vkey, "after the last cycle");
}

/// Replaces `path` with a FIFO (`mkfifo`): opening one for reading blocks until a writer comes.
#[cfg(unix)]
fn plant_fifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    let st = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo");
    assert!(st.success(), "mkfifo {}", path.display());
}

/// A FIFO where a metadata record, a blob or an `.info` document belongs does not hang the
/// server: it is moved to quarantine and the artifact fetched and proven again.
#[cfg(unix)]
#[test]
fn fifos_in_the_cache_are_quarantined_not_read() {
    let (fake, vkey) = fake_with_log(DB);
    let p = publish(&fake, "example.com/fifo", 0);
    let mut g = Goward::start(&fake.url(), &vkey, &[]);
    let cache = g.cache_dir().to_path_buf();
    // A FIFO as the .info document before goward ever stored it.
    let info = cache.join("meta/example.com/fifo/@v/v1.0.0.info");
    std::fs::create_dir_all(info.parent().unwrap()).unwrap();
    plant_fifo(&info);
    let r = try_http_get(&g.url_for(&p.info_path()), Duration::from_secs(60)).expect(".info");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, default_info("v1.0.0"));
    assert!(
        std::fs::metadata(&info).unwrap().is_file(),
        "the FIFO stayed"
    );

    let r = try_http_get(&g.url_for(&p.zip_path()), Duration::from_secs(60)).expect("zip");
    assert_eq!(r.status, 200, "{}", r.text());
    // A FIFO as the zip's blob: quarantined, fetched again.
    let blob = blob_file(&cache, &p, "zip");
    plant_fifo(&blob);
    let r = try_http_get(&g.url_for(&p.zip_path()), Duration::from_secs(60)).expect("zip");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, p.zip);
    assert!(
        std::fs::metadata(&blob).unwrap().is_file(),
        "the FIFO blob stayed"
    );
    // A FIFO as the go.mod's metadata record (read after a restart empties the memory cache):
    // quarantined, proven again.
    let _ = g.get(&p.mod_path());
    let meta = meta_file(&cache, &p, "mod");
    plant_fifo(&meta);
    g.restart();
    let r = try_http_get(&g.url_for(&p.mod_path()), Duration::from_secs(60)).expect("mod");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.body, p.mod_bytes);
    assert!(
        std::fs::metadata(&meta).unwrap().is_file(),
        "the FIFO record stayed"
    );
    let quarantined: Vec<String> = std::fs::read_dir(cache.join("quarantine"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        quarantined
            .iter()
            .any(|n| n.starts_with("doc.") && n.ends_with("v1.0.0.info"))
            && quarantined
                .iter()
                .any(|n| n.starts_with("meta.") && n.ends_with("v1.0.0.mod.json")),
        "{quarantined:?}"
    );
    assert_eq!(g.get("/healthz").status, 200);
}
