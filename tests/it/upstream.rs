//! Upstream stage: the GOPROXY-style upstream list (`,` falls through on 404/410 only, `|` on any
//! error), bounded fetches for every kind of body (attacks.md 8: oversize, truncated, slow
//! loris, endless), stale `@v/list`/`@latest` while every upstream fails, and `file://`
//! upstreams.
//!
//! List tests use two fake module proxies A and B and a third fake that only serves the checksum
//! DB, given to goward with an explicit URL, so that A's and B's request logs show exactly which
//! module requests reached them. Fault tests use one fake for both (the checksum DB reached
//! through the proxy) and a fresh goward per fault, and check that the failure names the
//! problem, that nothing was stored, and that goward keeps serving.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::fakeproxy::{
    FakeProxy, Fault, Published, default_info, file_url, write_download_dir,
};
use crate::support::gocmd::GoEnv;
use crate::support::modzip::ModZip;
use crate::support::modzip::noise;
use crate::support::testlog::TestLog;
use crate::support::{Goward, HttpResponse, files_under, http_get};

const DB: &str = "sum.goward.test";

fn go_mod(path: &str) -> String {
    format!("module {path}\n\ngo 1.21\n")
}

fn zip_of(path: &str, version: &str) -> ModZip {
    let pkg = path.rsplit('/').next().unwrap_or("m").to_ascii_lowercase();
    ModZip::new(path, version).file("m.go", format!("package {pkg}\n\n// {version}\n"))
}

#[track_caller]
fn assert_status(r: &HttpResponse, what: &str, status: u16, needles: &[&str]) {
    assert_eq!(r.status, status, "{what}: {:?}", r.text());
    for n in needles {
        assert!(r.text().contains(n), "{what}: {:?} lacks {n:?}", r.text());
    }
    if status != 200 {
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with("text/plain")),
            "{what}: error is not text/plain: {:?}",
            r.headers
        );
    }
}

#[track_caller]
fn assert_body(r: &HttpResponse, what: &str, want: &[u8]) {
    assert_eq!(r.status, 200, "{what}: {:?}", r.text());
    assert!(
        r.body == want,
        "{what}: served bytes differ ({} vs {} bytes)",
        r.body.len(),
        want.len()
    );
}

/// Files in goward's cache other than the checksum DB's own state (`sumdb/…`, which a
/// concurrent, successful proof may legitimately write).
fn stored_outside_sumdb(cache: &Path) -> Vec<PathBuf> {
    files_under(cache)
        .into_iter()
        .filter(|p| !p.strip_prefix(cache).is_ok_and(|r| r.starts_with("sumdb")))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The upstream list.

/// Two module proxies A and B, and the checksum DB on a third fake reached by explicit URL.
struct Two {
    sumdb: FakeProxy,
    a: FakeProxy,
    b: FakeProxy,
    /// `--sumdb` value: `<vkey> <url>/sumdb/<name>`.
    sumdb_arg: String,
}

fn two() -> Two {
    let sumdb = FakeProxy::start(TestLog::new(DB));
    let sumdb_arg = sumdb.sumdb_flag();
    Two {
        sumdb,
        // Their own checksum DBs have other names: nothing of A's or B's is about `DB`.
        a: FakeProxy::start(TestLog::new("a.unused.test")),
        b: FakeProxy::start(TestLog::new("b.unused.test")),
        sumdb_arg,
    }
}

impl Two {
    /// A module logged in the checksum DB and served by nobody yet.
    fn logged(&self, path: &str, version: &str) -> Published {
        let mut p = FakeProxy::prepare(zip_of(path, version), &go_mod(path));
        self.sumdb.log_module(&mut p);
        p
    }

    fn goward(&self, sep: &str, extra: &[&str]) -> Goward {
        Goward::start(
            &format!("{}{sep}{}", self.a.url(), self.b.url()),
            &self.sumdb_arg,
            extra,
        )
    }
}

fn list_path(p: &Published) -> String {
    format!("/{}/@v/list", crate::support::fakeproxy::escape(&p.path))
}

fn latest_path(p: &Published) -> String {
    format!("/{}/@latest", crate::support::fakeproxy::escape(&p.path))
}

/// The four GOPROXY paths of a version and what an honest upstream serves there.
fn endpoints(p: &Published) -> Vec<(String, Vec<u8>)> {
    vec![
        (list_path(p), format!("{}\n", p.version).into_bytes()),
        (p.info_path(), default_info(&p.version)),
        (p.mod_path(), p.mod_bytes.clone()),
        (p.zip_path(), p.zip.clone()),
    ]
}

/// `A,B`: A answers 404 → B serves every endpoint.
#[test]
fn comma_list_falls_through_on_404() {
    let t = two();
    let p = t.logged("example.com/m", "v1.0.0");
    t.b.serve(&p);
    let g = t.goward(",", &[]);
    for (path, want) in endpoints(&p) {
        assert_body(&g.get(&path), &path, &want);
        assert_eq!(t.a.requests(&path), 1, "{path}: A asked once");
        assert_eq!(t.b.requests(&path), 1, "{path}: B asked once");
    }
}

/// `A,B`: A answers 410 Gone → B serves every endpoint.
#[test]
fn comma_list_falls_through_on_410() {
    let t = two();
    let p = t.logged("example.com/m", "v1.0.0");
    t.a.serve(&p);
    t.b.serve(&p);
    for (path, _) in endpoints(&p) {
        t.a.set_fault(&path, Fault::Status(410, b"gone from A\n".to_vec()));
    }
    let g = t.goward(",", &[]);
    for (path, want) in endpoints(&p) {
        assert_body(&g.get(&path), &path, &want);
        assert_eq!(t.a.requests(&path), 1, "{path}: A asked once");
        assert_eq!(t.b.requests(&path), 1, "{path}: B asked once");
    }
}

/// `A,B`: A answers 500 → goward fails with A's error (502) and never asks B.
#[test]
fn comma_list_stops_on_a_server_error() {
    let t = two();
    let p = t.logged("example.com/m", "v1.0.0");
    t.a.serve(&p);
    t.b.serve(&p);
    for (path, _) in endpoints(&p) {
        t.a.set_fault(&path, Fault::Status(500, b"A is broken today\n".to_vec()));
    }
    let g = t.goward(",", &[]);
    for (path, _) in endpoints(&p) {
        let r = g.get(&path);
        assert_status(
            &r,
            &path,
            502,
            &["500 Internal Server Error", "A is broken today", &t.a.url()],
        );
        assert_eq!(t.a.requests(&path), 1, "{path}: A asked once");
    }
    assert!(
        t.b.request_log().is_empty(),
        "B was asked after A's 500: {:?}",
        t.b.request_log()
    );
    // 403 and 429 are errors too, not "not found".
    for status in [403, 429] {
        t.a.set_fault(&p.zip_path(), Fault::Status(status, b"no\n".to_vec()));
        let r = g.get(&p.zip_path());
        assert_status(&r, &p.zip_path(), 502, &[&status.to_string()]);
    }
    assert!(t.b.request_log().is_empty(), "B was asked");
    let cached = stored_outside_sumdb(g.cache_dir());
    assert!(cached.is_empty(), "stored after failures: {cached:?}");
}

/// `A,B` with nothing listening at A: a connection failure is an error, not "not found".
#[test]
fn comma_list_stops_when_a_is_unreachable() {
    let t = two();
    let p = t.logged("example.com/m", "v1.0.0");
    t.b.serve(&p);
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_url = format!("http://{}", dead.local_addr().expect("addr"));
    drop(dead);
    let g = Goward::start(&format!("{dead_url},{}", t.b.url()), &t.sumdb_arg, &[]);
    let r = g.get(&p.mod_path());
    assert_status(&r, &p.mod_path(), 502, &["cannot connect", &dead_url]);
    assert!(t.b.request_log().is_empty(), "B was asked");

    // With `|` the same dead A falls through to B.
    let g = Goward::start(&format!("{dead_url}|{}", t.b.url()), &t.sumdb_arg, &[]);
    assert_body(&g.get(&p.mod_path()), &p.mod_path(), &p.mod_bytes);
}

/// `A|B`: A answers 500 (or 503) → B serves every endpoint.
#[test]
fn pipe_list_falls_through_on_any_error() {
    let t = two();
    let p = t.logged("example.com/m", "v1.0.0");
    t.a.serve(&p);
    t.b.serve(&p);
    for (i, (path, _)) in endpoints(&p).into_iter().enumerate() {
        let status = if i % 2 == 0 { 500 } else { 503 };
        t.a.set_fault(&path, Fault::Status(status, b"A is broken\n".to_vec()));
    }
    let g = t.goward("|", &[]);
    for (path, want) in endpoints(&p) {
        assert_body(&g.get(&path), &path, &want);
        assert_eq!(t.a.requests(&path), 1, "{path}: A asked once");
        assert_eq!(t.b.requests(&path), 1, "{path}: B asked once");
    }
}

/// Every upstream says 404: goward says 404 (so the go command may fall through) with the
/// upstream's reason, for `,` and `|` lists alike.
#[test]
fn all_upstreams_404_is_404_with_the_upstreams_message() {
    let t = two();
    let p = t.logged("example.com/m", "v1.0.0");
    for (path, _) in endpoints(&p) {
        t.b.set_fault(
            &path,
            Fault::Status(404, b"B: example.com/m: unknown revision v1.0.0\n".to_vec()),
        );
    }
    for sep in [",", "|"] {
        let g = t.goward(sep, &[]);
        for (path, _) in endpoints(&p) {
            let r = g.get(&path);
            assert_status(
                &r,
                &format!("{sep} {path}"),
                404,
                &["not found", "B: example.com/m: unknown revision v1.0.0"],
            );
        }
        let cached = stored_outside_sumdb(g.cache_dir());
        assert!(cached.is_empty(), "stored after 404s: {cached:?}");
    }
    // The last not-found answer sets the status: 410 from B is passed on as 410.
    t.b.set_fault(&p.zip_path(), Fault::Status(410, b"B: gone\n".to_vec()));
    let g = t.goward(",", &[]);
    assert_status(&g.get(&p.zip_path()), "410", 410, &["B: gone"]);
}

// ---------------------------------------------------------------------------------------------
// Bounded fetches for every kind of body (attacks.md 8).

/// The kinds of body goward fetches.
#[derive(Clone, Copy, Debug)]
enum Kind {
    List,
    Info,
    Mod,
    Zip,
    Lookup,
    Tile,
    /// The checksum DB's signed tree head (`/latest`), fetched for goward's own `/latest`.
    Note,
}

/// `--max-zip-size` in the fault tests.
const ZIP_CAP: u64 = 1 << 20;
/// `--upstream-timeout` (whole request, non-zip bodies) and the config file's `zip_timeout`.
const REQUEST_TIMEOUT: &str = "5";
/// `--idle-timeout`.
const IDLE_TIMEOUT: &str = "1";

/// One fake serving two logged modules: `victim`, the target of the faults, and `bystander`.
struct Faulty {
    fake: FakeProxy,
    victim: Published,
    bystander: Published,
    vkey: String,
    config: tempfile::TempDir,
}

fn faulty() -> Faulty {
    let fake = FakeProxy::start(TestLog::new(DB));
    let victim = fake.publish(
        zip_of("example.com/victim", "v1.0.0"),
        &go_mod("example.com/victim"),
    );
    let bystander = fake.publish(
        zip_of("example.com/bystander", "v1.0.0"),
        &go_mod("example.com/bystander"),
    );
    let vkey = fake.with_log(|l| l.vkey());
    let config = tempfile::tempdir().expect("config dir");
    std::fs::write(
        config.path().join("goward.toml"),
        format!("zip_timeout = {REQUEST_TIMEOUT}\nconnect_timeout = 2\n"),
    )
    .expect("write config");
    Faulty {
        fake,
        victim,
        bystander,
        vkey,
        config,
    }
}

impl Faulty {
    fn goward(&self) -> Goward {
        let config = self.config.path().join("goward.toml");
        Goward::start(
            &self.fake.url(),
            &self.vkey,
            &[
                "--config",
                config.to_str().expect("utf-8 path"),
                "--upstream-timeout",
                REQUEST_TIMEOUT,
                "--idle-timeout",
                IDLE_TIMEOUT,
                "--max-zip-size",
                &ZIP_CAP.to_string(),
            ],
        )
    }

    /// The upstream path a fault is put on, and the goward path whose answer it spoils.
    fn paths(&self, kind: Kind) -> (String, String) {
        let v = &self.victim;
        match kind {
            Kind::List => (list_path(v), list_path(v)),
            Kind::Info => (v.info_path(), v.info_path()),
            Kind::Mod => (v.mod_path(), v.mod_path()),
            Kind::Zip => (v.zip_path(), v.zip_path()),
            Kind::Lookup => (v.lookup_path(DB), v.mod_path()),
            Kind::Tile => {
                // The tree holds both records; proving either reads this partial tile.
                let n = self.fake.with_log(|l| l.size());
                (format!("/sumdb/{DB}/tile/8/0/000.p/{n}"), v.mod_path())
            }
            Kind::Note => (format!("/sumdb/{DB}/latest"), format!("/sumdb/{DB}/latest")),
        }
    }

    /// What an honest upstream serves at the fault path.
    fn honest_len(&self, kind: Kind) -> usize {
        let (up, _) = self.paths(kind);
        let url = format!("{}{up}", self.fake.url());
        let r = http_get(&url);
        assert_eq!(r.status, 200, "honest {up}");
        r.body.len()
    }

    /// A body larger than goward's cap for this kind (Content-Length declared).
    fn oversize(&self, kind: Kind) -> (Vec<u8>, u64) {
        match kind {
            Kind::List => ("v1.0.0\n".repeat((4 << 20) / 7 + 100).into_bytes(), 4 << 20),
            Kind::Info => (
                format!(
                    "{{\"Version\":\"v1.0.0\",\"Time\":\"2024-01-01T00:00:00Z\",\"Pad\":\"{}\"}}",
                    "a".repeat(70_000)
                )
                .into_bytes(),
                64 << 10,
            ),
            Kind::Mod => (
                format!(
                    "module example.com/victim\n\n// {}\n",
                    "a".repeat((16 << 20) + 10)
                )
                .into_bytes(),
                16 << 20,
            ),
            Kind::Zip => (noise(3, 2 << 20), ZIP_CAP),
            Kind::Lookup => (vec![b'x'; 2 << 20], 1 << 20),
            Kind::Tile => {
                let n = self.honest_len(kind);
                (vec![0u8; n + 32], n as u64)
            }
            Kind::Note => (vec![b'x'; 100 << 10], 64 << 10),
        }
    }
}

/// Runs every fault on one kind of body, each against a fresh goward.
fn faults_fail_cleanly(kind: Kind) {
    let f = faulty();
    let (up, down) = f.paths(kind);
    let honest = f.honest_len(kind);
    let (big, cap) = f.oversize(kind);
    let cap_msg = format!("body exceeds the limit of {cap} bytes");
    let cases: Vec<(&str, Fault, u16, Vec<String>)> = vec![
        ("oversize", Fault::Body(big), 502, vec![cap_msg.clone()]),
        (
            "truncated",
            Fault::CloseEarly(honest / 2),
            502,
            vec!["body truncated".into()],
        ),
        (
            "slow loris (trickle)",
            Fault::Trickle {
                chunk: 2,
                delay: Duration::from_secs(30),
            },
            504,
            vec!["timed out".into(), "no body data for 1s".into()],
        ),
        (
            "slow loris (hang)",
            Fault::Hang,
            504,
            // Cut by the idle timeout or by the whole-request limit, whichever goward applies
            // before the response head.
            vec!["timed out".into(), "no response within".into()],
        ),
        ("endless", Fault::Endless, 502, vec![cap_msg]),
    ];
    for (name, fault, status, needles) in cases {
        let what = format!("{kind:?} {name} ({up})");
        f.fake.reset_requests();
        f.fake.clear_faults();
        f.fake.set_fault(&up, fault);
        let g = f.goward();
        let r = g.get(&down);
        let needles: Vec<&str> = needles.iter().map(String::as_str).collect();
        assert_status(&r, &what, status, &needles);
        assert!(
            r.text().contains(&up),
            "{what}: the error does not name the upstream URL: {:?}",
            r.text()
        );
        assert!(
            f.fake.requests(&up) > 0,
            "{what}: goward never asked for {up}"
        );
        // Nothing stored: no artifact, document or temp file; for checksum-DB faults, no lookup
        // or tile either.
        let stored = stored_outside_sumdb(g.cache_dir());
        assert!(stored.is_empty(), "{what}: stored {stored:?}");
        if matches!(kind, Kind::Lookup | Kind::Tile) {
            let db = g.cache_dir().join("sumdb").join(DB);
            let proofs: Vec<PathBuf> = files_under(&db.join("lookup"))
                .into_iter()
                .chain(files_under(&db.join("tile")))
                .collect();
            assert!(proofs.is_empty(), "{what}: stored {proofs:?}");
            // goward's own checksum-DB endpoint refuses the lookup too.
            let r = g.get(&f.victim.lookup_path(DB));
            assert_status(&r, &format!("{what} via /sumdb/"), status, &[]);
        }
        // Other modules are still served while the fault lasts (a tile fault spoils every
        // proof in that tree, so it is lifted first).
        if matches!(kind, Kind::Note) {
            let head = g.cache_dir().join("sumdb").join(DB).join("latest");
            assert!(!head.exists(), "{what}: stored a tree head");
        }
        if matches!(kind, Kind::Tile) {
            f.fake.clear_faults();
        }
        for (path, want) in [
            (f.bystander.zip_path(), &f.bystander.zip),
            (f.bystander.mod_path(), &f.bystander.mod_bytes),
        ] {
            assert_body(&g.get(&path), &format!("{what}: bystander {path}"), want);
        }
        if matches!(kind, Kind::Note) {
            // Now that a tree head is trusted, goward answers `/latest` with it while the
            // upstream's is broken.
            let honest = f.fake.with_log(|l| l.signed_tree());
            assert_body(&g.get(&down), &format!("{what}: trusted head"), &honest);
        }
        // And the victim itself once the upstream behaves: nothing was poisoned.
        f.fake.clear_faults();
        let r = g.get(&down);
        assert_eq!(r.status, 200, "{what}: after the fault: {:?}", r.text());
    }
}

#[test]
fn list_body_faults_fail_cleanly() {
    faults_fail_cleanly(Kind::List);
}

#[test]
fn info_body_faults_fail_cleanly() {
    faults_fail_cleanly(Kind::Info);
}

#[test]
fn mod_body_faults_fail_cleanly() {
    faults_fail_cleanly(Kind::Mod);
}

#[test]
fn zip_body_faults_fail_cleanly() {
    faults_fail_cleanly(Kind::Zip);
}

#[test]
fn sumdb_lookup_faults_fail_cleanly() {
    faults_fail_cleanly(Kind::Lookup);
}

#[test]
fn sumdb_tile_faults_fail_cleanly() {
    faults_fail_cleanly(Kind::Tile);
}

#[test]
fn sumdb_latest_faults_fail_cleanly() {
    faults_fail_cleanly(Kind::Note);
}

// ---------------------------------------------------------------------------------------------
// Stale list and @latest.

/// After the TTL, `@v/list` and `@latest` are asked for again; while every upstream fails the
/// last good copy is served (also after a restart), and once an upstream is back the answer is
/// refreshed.
#[test]
fn list_and_latest_are_served_stale_while_every_upstream_fails() {
    let t = two();
    let p = t.logged("example.com/m", "v1.0.0");
    t.a.serve(&p);
    t.b.serve(&p);
    let never = t.logged("example.com/never", "v1.0.0");
    let mut g = t.goward("|", &["--list-ttl", "1"]);
    let (list, latest) = (list_path(&p), latest_path(&p));
    assert_body(&g.get(&list), "list", b"v1.0.0\n");
    assert_body(&g.get(&latest), "@latest", &default_info("v1.0.0"));

    for (up, status) in [(&t.a, 500), (&t.b, 503)] {
        for path in [&list, &latest, &list_path(&never), &latest_path(&never)] {
            up.set_fault(
                path,
                Fault::Status(status, b"down for maintenance\n".to_vec()),
            );
        }
    }
    std::thread::sleep(Duration::from_millis(2100));
    let asked = |path: &str| t.a.requests(path) + t.b.requests(path);
    let (list_before, latest_before) = (asked(&list), asked(&latest));
    assert_body(&g.get(&list), "stale list", b"v1.0.0\n");
    assert_body(&g.get(&latest), "stale @latest", &default_info("v1.0.0"));
    assert!(
        asked(&list) > list_before && asked(&latest) > latest_before,
        "goward did not ask the upstreams again after the TTL"
    );
    // Without a good copy there is nothing to fall back on.
    for path in [list_path(&never), latest_path(&never)] {
        assert_status(&g.get(&path), &path, 502, &["503 Service Unavailable"]);
    }
    let page = g.get("/metrics").text();
    assert!(
        page.lines()
            .any(|l| l.starts_with("goward_stale_served_total") && !l.ends_with(" 0")),
        "goward_stale_served_total not counted:\n{page}"
    );

    // The last good copy survives a restart.
    g.restart();
    assert_body(&g.get(&list), "stale list after restart", b"v1.0.0\n");
    assert_body(
        &g.get(&latest),
        "stale @latest after restart",
        &default_info("v1.0.0"),
    );

    // Back up, with a new version: refreshed after the TTL.
    t.a.clear_faults();
    t.b.clear_faults();
    let p2 = t.logged("example.com/m", "v1.1.0");
    t.a.serve(&p2);
    t.b.serve(&p2);
    std::thread::sleep(Duration::from_millis(2100));
    assert_body(&g.get(&list), "refreshed list", b"v1.0.0\nv1.1.0\n");
    assert_body(
        &g.get(&latest),
        "refreshed @latest",
        &default_info("v1.1.0"),
    );
}

/// A gzip-encoded (never asked for) or truncated `@v/list` is an error: without a good copy the
/// client gets it, with one the good copy is served, and the bad body never replaces it.
#[test]
fn gzipped_or_truncated_lists_are_errors_not_empty_lists() {
    let t = two();
    let p = t.logged("example.com/m", "v1.0.0");
    let fresh = t.logged("example.com/fresh", "v1.0.0");
    for up in [&t.a, &t.b] {
        up.serve(&p);
        up.serve(&fresh);
    }
    let mut g = t.goward("|", &[]);
    let list = list_path(&p);
    assert_body(&g.get(&list), "list", b"v1.0.0\n");
    let stored = g.cache_dir().join("meta/example.com/m/@v/list");
    assert_eq!(std::fs::read(&stored).unwrap(), b"v1.0.0\n");
    for (fault, error) in [
        (
            Fault::Gzip,
            "unrequested Content-Encoding \"gzip\"".to_owned(),
        ),
        (Fault::CloseEarly(3), "body truncated".to_owned()),
    ] {
        for up in [&t.a, &t.b] {
            up.set_fault(&list, fault.clone());
            up.set_fault(&list_path(&fresh), fault.clone());
        }
        // A restart empties the in-memory cache: the next request asks the upstreams.
        g.restart();
        let before = t.a.requests(&list) + t.b.requests(&list);
        assert_body(
            &g.get(&list),
            &format!("{error}: last good list"),
            b"v1.0.0\n",
        );
        assert!(
            t.a.requests(&list) + t.b.requests(&list) > before,
            "{error}: not asked"
        );
        assert_eq!(std::fs::read(&stored).unwrap(), b"v1.0.0\n", "{error}");
        // `|`: the message names whichever upstream's failure was reported.
        let why = format!("{}: {error}", list_path(&fresh));
        assert_status(
            &g.get(&list_path(&fresh)),
            &error,
            502,
            &["goward: GET http://127.0.0.1:", &why],
        );
        assert!(
            !g.cache_dir()
                .join("meta/example.com/fresh/@v/list")
                .exists(),
            "{error}: a bad list was stored"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// file:// upstreams.

/// A directory tree as upstream, proven through the fake checksum DB at an explicit URL.
#[test]
fn file_upstream_serves_modules_proven_by_the_checksum_db() {
    let sumdb = FakeProxy::start(TestLog::new(DB));
    let sumdb_arg = sumdb.sumdb_flag();
    let dir = tempfile::tempdir().expect("dir");

    // Upper case in the path: the tree is case-encoded (`example.com/!file!mod`).
    let mut good = FakeProxy::prepare(
        zip_of("example.com/FileMod", "v1.2.3"),
        &go_mod("example.com/FileMod"),
    );
    sumdb.log_module(&mut good);
    write_download_dir(dir.path(), &good, &good.zip);
    assert!(
        dir.path()
            .join("example.com/!file!mod/@v/v1.2.3.zip")
            .is_file()
    );

    // Logged honestly, but the file on disk was altered.
    let mut tampered = FakeProxy::prepare(
        zip_of("example.com/tampered", "v1.0.0"),
        &go_mod("example.com/tampered"),
    );
    sumdb.log_module(&mut tampered);
    let evil = FakeProxy::prepare(
        zip_of("example.com/tampered", "v1.0.0").file("evil.go", "package tampered\n"),
        &go_mod("example.com/tampered"),
    )
    .zip;
    write_download_dir(dir.path(), &tampered, &evil);

    // On disk but never logged.
    let unlogged = FakeProxy::prepare(
        zip_of("example.com/unlogged", "v1.0.0"),
        &go_mod("example.com/unlogged"),
    );
    write_download_dir(dir.path(), &unlogged, &unlogged.zip);

    let g = Goward::start(&file_url(dir.path()), &sumdb_arg, &[]);
    assert_body(&g.get(&good.zip_path()), "file zip", &good.zip);
    assert_body(&g.get(&good.mod_path()), "file mod", &good.mod_bytes);
    assert_body(
        &g.get(&good.info_path()),
        "file info",
        &default_info("v1.2.3"),
    );
    assert_body(&g.get(&list_path(&good)), "file list", b"v1.2.3\n");
    assert!(
        sumdb.requests(&good.lookup_path(DB)) > 0,
        "goward served the file:// module without looking it up"
    );

    let r = g.get(&tampered.zip_path());
    assert_status(&r, "tampered file zip", 502, &["zip hash mismatch"]);
    let r = g.get(&unlogged.zip_path());
    assert_status(
        &r,
        "unlogged file zip",
        502,
        &["is not in checksum database"],
    );
    for bad in [&evil[..], &unlogged.zip[..]] {
        let hits = crate::support::files_containing(g.cache_dir(), bad);
        assert!(hits.is_empty(), "unproven zip stored: {hits:?}");
    }
    // A missing file is a 404, as for the go command.
    let r = g.get("/example.com/absent/@v/v1.0.0.mod");
    assert_status(&r, "absent", 404, &["not found"]);
    let r = g.get(&artifact(&good, "v1.9.9", "zip"));
    assert_status(&r, "absent version", 404, &["not found"]);
}

fn artifact(p: &Published, version: &str, ext: &str) -> String {
    crate::support::fakeproxy::artifact_path(&p.path, version, ext)
}

/// The go command's own download cache, filled through a fake proxy, used as a `file://`
/// upstream: what the go command wrote there (with its `.lock` and `.ziphash` files) is a valid
/// proxy tree.
#[test]
fn file_upstream_from_a_real_go_module_cache() {
    let fake = FakeProxy::start(TestLog::new(DB));
    let vkey = fake.with_log(|l| l.vkey());
    let p = fake.publish(
        // Lower case: the go command percent-encodes `!` (`%21`), which the fake does not decode.
        zip_of("example.com/cached", "v1.0.0"),
        &go_mod("example.com/cached"),
    );
    let env = GoEnv::new(&fake.url(), &vkey);
    env.write("go.mod", "module example.com/scratch\n\ngo 1.21\n");
    env.go(&["mod", "download", &p.at()]).assert_success();
    let download = env.modcache().join("cache/download");
    assert!(download.join("example.com/cached/@v/v1.0.0.zip").is_file());

    let sumdb_arg = format!("{vkey} {}/sumdb/{DB}", fake.url());
    let g = Goward::start(&file_url(&download), &sumdb_arg, &[]);
    fake.reset_requests();
    assert_body(&g.get(&p.zip_path()), "zip from modcache", &p.zip);
    assert_body(&g.get(&p.mod_path()), "mod from modcache", &p.mod_bytes);
    let r = g.get(&p.info_path());
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("\"Version\":\"v1.0.0\""), "{}", r.text());
    // Modules only from the tree; proofs from the checksum DB.
    let asked = fake.request_log();
    assert!(
        asked
            .iter()
            .all(|p| p.starts_with(&format!("/sumdb/{DB}/"))),
        "goward fetched modules from the fake instead of the tree: {asked:?}"
    );
    assert!(
        fake.requests(&p.lookup_path(DB)) > 0,
        "no lookup: {asked:?}"
    );
}

/// An upstream that accepts the request and never answers is a slow loris too: with a short
/// `--idle-timeout` and every other limit at its default, goward must give up on it long
/// before the client does (here: answer within 60 s, for a `.mod` and for a zip).
#[test]
fn hanging_upstream_is_cut_by_the_idle_timeout() {
    let fake = FakeProxy::start(TestLog::new(DB));
    let p = fake.publish(
        zip_of("example.com/hang", "v1.0.0"),
        &go_mod("example.com/hang"),
    );
    let vkey = fake.with_log(|l| l.vkey());
    fake.set_fault(&p.mod_path(), Fault::Hang);
    fake.set_fault(&p.zip_path(), Fault::Hang);
    let g = Goward::start(&fake.url(), &vkey, &["--idle-timeout", IDLE_TIMEOUT]);
    for path in [p.mod_path(), p.zip_path()] {
        let r = g
            .try_get(&path, Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("{path}: goward did not answer within 60 s: {e}"));
        assert_status(&r, &path, 504, &["timed out"]);
    }
}
