//! Offline mode (`--offline`): goward serves only what its cache holds, through the same
//! pipeline as online, and never opens a socket to an upstream. The configured upstream and
//! checksum database point at a [`Trap`] that must see no connection.

use crate::support::fakeproxy::{FakeProxy, Published};
use crate::support::gocmd::GoEnv;
use crate::support::modzip::ModZip;
use crate::support::testlog::TestLog;
use crate::support::{Goward, Trap};

const DB: &str = "sum.goward.test";
const MARKER: &str = "goward-offline-marker";

/// A fake upstream with one module logged in its checksum database.
fn world() -> (FakeProxy, Published, String) {
    let fake = FakeProxy::start(TestLog::new(DB));
    let p = fake.publish(
        ModZip::new("example.com/offline", "v1.0.0").file(
            "offline.go",
            format!("package offline\n\n// Marker says hello.\nfunc Marker() string {{ return {MARKER:?} }}\n"),
        ),
        "module example.com/offline\n\ngo 1.21\n",
    );
    let vkey = fake.with_log(|l| l.vkey());
    (fake, p, vkey)
}

/// A go module that imports example.com/offline, downloading through `proxy` and verifying
/// with `vkey` (so its checksum-database traffic goes through goward as well).
fn app(proxy: &str, vkey: &str) -> GoEnv {
    let env = GoEnv::new(proxy, vkey);
    env.write(
        "go.mod",
        "module example.com/app\n\ngo 1.21\n\nrequire example.com/offline v1.0.0\n",
    );
    env.write(
        "main.go",
        "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/offline\"\n)\n\n\
         func main() { fmt.Println(offline.Marker()) }\n",
    );
    env
}

fn build_and_run(env: &GoEnv) {
    env.go(&["mod", "download"]).assert_success();
    env.go(&["build", "-mod=mod", "-o", "app", "."])
        .assert_success();
    let run = env.run(&env.work().join("app"), &[]);
    run.assert_success();
    assert_eq!(run.stdout.trim(), MARKER, "{}", run.dump());
}

/// An offline goward on the cache an online run warmed.
fn offline_goward(cache: &std::path::Path, trap: &Trap, vkey: &str) -> Goward {
    Goward::start_in(
        cache,
        &trap.url(),
        &format!("{vkey} {}", trap.url()),
        &["--offline"],
    )
}

/// The go command downloads, verifies and builds from a cache warmed online, with goward
/// offline; what the cache lacks is a 404 naming it; no socket to the upstream is opened.
#[test]
fn go_builds_from_a_warmed_cache_offline() {
    let (fake, p, vkey) = world();
    let cache = tempfile::tempdir().expect("temp dir");
    {
        let g = Goward::start_in(cache.path(), &fake.url(), &vkey, &[]);
        build_and_run(&app(g.url(), &vkey));
        assert_eq!(g.get(&p.info_path()).status, 200);
    }
    let trap = Trap::new();
    let g = offline_goward(cache.path(), &trap, &vkey);
    let env = app(g.url(), &vkey);
    build_and_run(&env);
    let got = std::fs::read(env.download_dir(&p.path).join("v1.0.0.zip")).expect("zip");
    assert!(got == p.zip, "the go command got other zip bytes offline");

    // What the store holds answers @v/list and @latest.
    let r = g.get("/example.com/offline/@v/list");
    assert_eq!((r.status, r.text()), (200, "v1.0.0\n".to_owned()));
    let r = g.get("/example.com/offline/@latest");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("\"v1.0.0\""), "{}", r.text());

    // Anything else is "not in this offline mirror" with the fix, 404, text/plain.
    for (path, body) in [
        (
            "/example.com/missing/@v/v1.2.3.zip",
            "goward: not in this offline mirror: example.com/missing@v1.2.3 .zip: add it on the connected side with goward mirror\n",
        ),
        (
            "/example.com/missing/@v/v1.2.3.mod",
            "goward: not in this offline mirror: example.com/missing@v1.2.3 .mod: add it on the connected side with goward mirror\n",
        ),
        (
            "/example.com/missing/@v/v1.2.3.info",
            "goward: not in this offline mirror: example.com/missing@v1.2.3 .info: add it on the connected side with goward mirror\n",
        ),
        (
            "/example.com/missing/@v/list",
            "goward: not in this offline mirror: example.com/missing @v/list: add it on the connected side with goward mirror\n",
        ),
        (
            "/example.com/missing/@latest",
            "goward: not in this offline mirror: example.com/missing @latest: add it on the connected side with goward mirror\n",
        ),
        (
            "/example.com/offline/@v/v1.1.0.zip",
            "goward: not in this offline mirror: example.com/offline@v1.1.0 .zip: add it on the connected side with goward mirror\n",
        ),
        (
            &format!("/sumdb/{DB}/lookup/example.com/missing@v1.2.3"),
            &format!(
                "goward: not in this offline mirror: checksum database {DB} lookup/example.com/missing@v1.2.3: add it on the connected side with goward mirror\n"
            ),
        ),
    ] {
        let r = g.get(path);
        assert_eq!((r.status, r.text()), (404, body.to_owned()), "GET {path}");
        assert_eq!(
            r.header("content-type"),
            Some("text/plain; charset=utf-8"),
            "GET {path}"
        );
    }
    let metrics = g.get("/metrics").text();
    assert!(
        metrics.contains("goward_offline_misses_total"),
        "misses are not counted:\n{metrics}"
    );
    trap.assert_untouched();
}

/// Offline with an empty cache: nothing to serve, nothing fetched.
#[test]
fn offline_with_an_empty_cache_fetches_nothing() {
    let (_fake, p, vkey) = world();
    let cache = tempfile::tempdir().expect("temp dir");
    let trap = Trap::new();
    let g = offline_goward(cache.path(), &trap, &vkey);
    let r = g.get(&p.zip_path());
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(
        r.text(),
        "goward: not in this offline mirror: example.com/offline@v1.0.0 .zip: add it on the connected side with goward mirror\n"
    );
    let r = g.get(&format!("/sumdb/{DB}/latest"));
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(
        r.text(),
        format!(
            "goward: not in this offline mirror: checksum database {DB} latest: add it on the connected side with goward mirror\n"
        )
    );
    trap.assert_untouched();
}
