//! Request stage (attacks.md 11): malicious or invalid request paths are answered 400 (or 404
//! for things that are not endpoints at all) before goward touches its cache or an upstream.
//!
//! Every test starts its own fake upstream (whose request log must stay empty), goward on a
//! fresh cache dir (which must stay empty), and sends requests byte for byte with a raw client,
//! so that `..`, `%2e%2e`, NUL and the like reach goward's parser unaltered. Afterwards goward
//! must still serve a good module.

/// The raw HTTP client (also used by `serve`); it belongs in `support/` but is declared here
/// because helpers may not edit `support/mod.rs`.
use crate::support::fakeproxy::{FakeProxy, Published};
use crate::support::modzip::ModZip;
use crate::support::rawhttp::{RawResponse, request};
use crate::support::testlog::TestLog;
use crate::support::{Goward, files_under};

const DB_NAME: &str = "sum.goward.test";

struct World {
    fake: FakeProxy,
    good: Published,
    g: Goward,
}

fn world() -> World {
    let fake = FakeProxy::start(TestLog::new(DB_NAME));
    let good = fake.publish(
        ModZip::new("example.com/m", "v1.0.0").file("m.go", "package m\n"),
        "module example.com/m\n\ngo 1.21\n",
    );
    let vkey = fake.with_log(|l| l.vkey());
    let g = Goward::start(&fake.url(), &vkey, &[]);
    World { fake, good, g }
}

impl World {
    /// Nothing reached the upstream and nothing was written to the cache.
    #[track_caller]
    fn assert_untouched(&self, what: &str) {
        let log = self.fake.request_log();
        assert!(
            log.is_empty(),
            "{what}: goward asked the upstream for {log:?}"
        );
        let files = files_under(self.g.cache_dir());
        assert!(files.is_empty(), "{what}: goward wrote {files:?}");
    }

    /// goward still serves the good module, byte for byte.
    #[track_caller]
    fn assert_still_serving(&self) {
        let r = self.g.get(&self.good.zip_path());
        assert_eq!(r.status, 200, "good zip after the attacks: {}", r.text());
        assert!(r.body == self.good.zip, "good zip: wrong bytes");
        let r = self.g.get(&self.good.mod_path());
        assert_eq!(r.status, 200, "good go.mod after the attacks: {}", r.text());
        assert_eq!(r.body, self.good.mod_bytes);
    }
}

/// Checks that each response is goward's text/plain error (not hyper's bare one) with the
/// wanted status and a substring of the body; collects every mismatch so that one run shows
/// them all.
#[derive(Default)]
struct Answers(Vec<String>);

impl Answers {
    fn check(&mut self, r: &RawResponse, target: &[u8], status: u16, needle: &str) {
        let shown = String::from_utf8_lossy(target).escape_debug().to_string();
        let plain = r
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/plain"));
        if r.status != status || !plain || !r.text().contains(needle) {
            self.0.push(format!(
                "{shown}: want {status} with {needle:?}, got {} ({:?}) {:?}",
                r.status,
                r.header("content-type"),
                r.text()
            ));
        }
    }

    #[track_caller]
    fn assert_all_ok(self) {
        assert!(self.0.is_empty(), "wrong answers:\n{}", self.0.join("\n"));
    }
}

fn get_raw(g: &Goward, target: &[u8]) -> RawResponse {
    request(g.url(), "GET", target, &[])
}

/// `..`, bad case-encoding, backslashes and over-long paths: 400 with goward's reason, before
/// any access.
#[test]
fn malicious_paths_are_rejected_before_any_access() {
    let w = world();
    let long = format!("/example.com/{}/@v/list", "a".repeat(2100));
    let cases: Vec<(String, &str)> = vec![
        // Dot segments, plain and hidden in the version or behind @v.
        ("/example.com/../m/@v/list".into(), "malformed module path"),
        ("/../../etc/passwd/@v/list".into(), "malformed module path"),
        ("/example.com/./m/@v/list".into(), "malformed module path"),
        (
            "/example.com/m/@v/v1.0.0/../../x.zip".into(),
            "invalid escaped version \"v1.0.0/../../x\": invalid char '/'",
        ),
        (
            "/example.com/m/@v/...zip".into(),
            "invalid path element \"..\"",
        ),
        // Uppercase in the escaped path or version.
        (
            "/example.com/M/@v/list".into(),
            "invalid escaped module path",
        ),
        (
            "/Example.com/m/@v/v1.0.0.zip".into(),
            "invalid escaped module path",
        ),
        (
            "/example.com/m/@v/v1.0.0-RC1.mod".into(),
            "invalid escaped version",
        ),
        // Bad `!` escapes.
        (
            "/example.com/!!m/@v/list".into(),
            "invalid escaped module path",
        ),
        (
            "/example.com/m!/@v/list".into(),
            "invalid escaped module path",
        ),
        (
            "/example.com/!0m/@v/list".into(),
            "invalid escaped module path",
        ),
        (
            "/example.com/!_m/@v/list".into(),
            "invalid escaped module path",
        ),
        (
            "/example.com/m/@v/v1.0.0-!!.zip".into(),
            "invalid escaped version",
        ),
        (
            "/example.com/m/@v/v1.0.0-rc!.zip".into(),
            "invalid escaped version",
        ),
        // Backslashes.
        ("/example.com\\m/@v/list".into(), "invalid character '\\\\'"),
        (
            "/example.com/m/@v/..\\..\\x.zip".into(),
            "invalid character '\\\\'",
        ),
        // Over-long (> 2048 bytes).
        (long.clone(), "request path too long"),
    ];
    let mut answers = Answers::default();
    for (target, needle) in &cases {
        let r = get_raw(&w.g, target.as_bytes());
        answers.check(&r, target.as_bytes(), 400, needle);
    }
    answers.assert_all_ok();
    assert!(
        w.g.get(&long)
            .text()
            .contains(&format!("({} bytes; limit is 2048)", long.len())),
        "the too-long message names the length and the limit"
    );
    w.assert_untouched("malicious paths");
    w.assert_still_serving();
}

/// Percent-escapes: either refused as a class (`invalid character '%'`), or decoded (the go
/// command sends `!` as `%21`) and then refused for what they decode to: an escaped `/`, `\`,
/// `%`, NUL or malformed escape, and `%2e%2e`, which decodes to `..`.
#[test]
fn percent_escapes_are_rejected_before_any_access() {
    let w = world();
    let class = "invalid character '%'";
    let cases: &[(&str, &str)] = &[
        ("/%2e%2e/@v/list", "malformed module path"),
        ("/example.com/%2e%2e/m/@v/list", "malformed module path"),
        (
            "/example.com/%2E%2E/%2e%2E/@v/v1.0.0.zip",
            "malformed module path",
        ),
        (
            "/example.com/m%2f..%2f..%2fx/@v/list",
            "invalid percent-escape \"%2F\"",
        ),
        (
            "/example.com/m/@v/..%2F..%2Fetc.zip",
            "invalid percent-escape \"%2F\"",
        ),
        (
            "/example.com/m%5c..%5cx/@v/list",
            "invalid percent-escape \"%5C\"",
        ),
        (
            "/example.com/m/@v/v1.0.0%00.zip",
            "invalid percent-escape \"%00\"",
        ),
        (
            "/example.com/m%252e%252e/@v/list",
            "invalid percent-escape \"%25\"",
        ),
        (
            "/example.com/m%0a/@v/list",
            "invalid percent-escape \"%0A\"",
        ),
        (
            "/example.com/m%zz/@v/list",
            "invalid percent-escape \"%zz\"",
        ),
        ("/example.com/m/@v/list%", "invalid percent-escape"),
        (
            "/example.com/m%c3%a9/@v/list",
            "invalid percent-escape \"%C3\"",
        ),
    ];
    let mut wrong = Vec::new();
    for (target, decoded) in cases {
        let r = get_raw(&w.g, target.as_bytes());
        let plain = r
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/plain"));
        if r.status != 400 || !plain || !(r.text().contains(class) || r.text().contains(decoded)) {
            wrong.push(format!(
                "{target}: want 400 with {class:?} or {decoded:?}, got {} {:?}",
                r.status,
                r.text()
            ));
        }
    }
    assert!(wrong.is_empty(), "wrong answers:\n{}", wrong.join("\n"));
    w.assert_untouched("percent-escapes");
    w.assert_still_serving();
}

/// NUL, other control bytes, DEL and non-ASCII bytes in the request target: 400 before any
/// access. hyper's request-line parser refuses the control bytes and invalid UTF-8 itself (400,
/// empty body); goward's own check answers the rest (`invalid character 'é'`).
#[test]
fn control_and_non_ascii_bytes_are_rejected_before_any_access() {
    let w = world();
    let cases: Vec<Vec<u8>> = vec![
        b"/example.com/m/@v/v1.0.0\0.zip".to_vec(),
        b"/example.com/m\0/@v/list".to_vec(),
        b"/example.com/m/@v/v1.0.0\x01.mod".to_vec(),
        b"/example.com/m\x1b[2J/@v/list".to_vec(),
        b"/example.com/m\x7f/@v/list".to_vec(),
        b"/example.com/m\t/@v/list".to_vec(),
        "/example.com/m\u{e9}/@v/list".as_bytes().to_vec(),
        b"/example.com/m\xff/@v/list".to_vec(),
    ];
    for target in &cases {
        let r = get_raw(&w.g, target);
        let shown = String::from_utf8_lossy(target).escape_debug().to_string();
        assert_eq!(r.status, 400, "{shown}: {} {:?}", r.status, r.text());
    }
    let r = get_raw(&w.g, "/example.com/m\u{e9}/@v/list".as_bytes());
    assert!(
        r.text()
            .contains("invalid character '\u{e9}' in request path"),
        "{:?}",
        r.text()
    );
    w.assert_untouched("control bytes");
    w.assert_still_serving();
}

/// `.mod`/`.zip` need canonical versions that fit the module path's major version.
#[test]
fn non_canonical_and_mismatched_versions_are_rejected_before_any_access() {
    let w = world();
    let cases: &[(&str, &str)] = &[
        (
            "/example.com/m/@v/v1.0.mod",
            "version \"v1.0\" is not canonical (should be \"v1.0.0\")",
        ),
        ("/example.com/m/@v/v1.0.zip", "is not canonical"),
        ("/example.com/m/@v/v1.mod", "is not canonical"),
        (
            "/example.com/m/@v/v1.0.0+meta.zip",
            "version \"v1.0.0+meta\" is not canonical",
        ),
        ("/example.com/m/@v/v1.0.0+meta.mod", "is not canonical"),
        (
            "/example.com/m/@v/!v1.0.0.zip",
            "version \"V1.0.0\" is not canonical",
        ),
        ("/example.com/m/@v/V1.0.0.zip", "invalid escaped version"),
        ("/example.com/m/@v/latest.zip", "is not canonical"),
        ("/example.com/m/@v/master.mod", "is not canonical"),
        // Major version and path disagree.
        ("/example.com/m/v2/@v/v1.0.0.mod", "should be v2, not v1"),
        ("/example.com/m/v2/@v/v1.0.0.zip", "should be v2, not v1"),
        ("/example.com/m/v2/@v/v1.0.0.info", "should be v2, not v1"),
        ("/example.com/m/@v/v2.0.0.zip", "should be v0 or v1, not v2"),
        ("/example.com/m/@v/v2.0.0.mod", "should be v0 or v1, not v2"),
        ("/example.com/m/v3/@v/v2.0.0.zip", "should be v3, not v2"),
        ("/gopkg.in/yaml.v2/@v/v3.0.0.zip", "should be v2, not v3"),
        // Invalid major suffixes.
        (
            "/example.com/m/v1/@v/list",
            "malformed module path \"example.com/m/v1\": invalid version",
        ),
        ("/example.com/m/v0/@v/list", "malformed module path"),
    ];
    let mut answers = Answers::default();
    for (target, needle) in cases {
        let r = get_raw(&w.g, target.as_bytes());
        answers.check(&r, target.as_bytes(), 400, needle);
    }
    answers.assert_all_ok();
    w.assert_untouched("bad versions");
    w.assert_still_serving();
}

/// x/mod `CheckPath`: the first element needs a dot, no leading dash, no Windows reserved
/// names, no empty or dot-only elements.
#[test]
fn invalid_module_paths_are_rejected_before_any_access() {
    let w = world();
    let cases: &[(&str, &str)] = &[
        ("/nodot/@v/list", "missing dot in first path element"),
        (
            "/nodot/m/@v/v1.0.0.zip",
            "missing dot in first path element",
        ),
        ("/-x.com/@v/list", "leading dash"),
        ("/-x.com/m/@latest", "leading dash"),
        (
            "/example.com/con/@v/list",
            "disallowed as path element component on Windows",
        ),
        (
            "/example.com/nul.txt/@v/v1.0.0.mod",
            "disallowed as path element component on Windows",
        ),
        (
            "/example.com/!c!o!m1/@v/list",
            "disallowed as path element component on Windows",
        ),
        ("/example.com/m~1/@v/list", "trailing tilde and digits"),
        ("/example.com//m/@v/list", "double slash"),
        ("/example.com/m./@v/list", "trailing dot"),
        ("/example.com/.m/@v/list", "leading dot"),
        (
            "/ex_ample.com/m/@v/list",
            "invalid char '_' in first path element",
        ),
        ("/example.com/m:x/@v/list", "invalid char ':'"),
        ("/example.com/m@v1/@v/list", "invalid char '@'"),
        ("//@v/list", "malformed module path \"\": empty string"),
        // Checksum-database lookups go through the same path checks.
        (
            "/sumdb/sum.goward.test/lookup/nodot@v1.0.0",
            "missing dot in first path element",
        ),
        (
            "/sumdb/sum.goward.test/lookup/example.com/../m@v1.0.0",
            "malformed module path",
        ),
        (
            "/sumdb/sum.goward.test/lookup/example.com/m",
            "invalid lookup",
        ),
        (
            "/sumdb/sum.goward.test/lookup/example.com/m@v1.0.0@v2.0.0",
            "invalid lookup",
        ),
        (
            "/sumdb/sum.goward.test/lookup/example.com/m@v1.0",
            "is not canonical",
        ),
        (
            "/sumdb/sum.goward.test/tile/8/0/1234",
            "invalid tile syntax",
        ),
        (
            "/sumdb/sum.goward.test/tile/8/0/x001/234.p/0",
            "invalid tile syntax",
        ),
        (
            "/sumdb/sum.goward.test/tile/8/0/../../x",
            "invalid tile syntax",
        ),
        // Coordinates beyond any tree (2^62 records) once overflowed the tile arithmetic.
        (
            "/sumdb/sum.goward.test/tile/8/536870912/001",
            "invalid checksum database request: invalid tile tile/8/536870912/001: it lies beyond the largest possible tree (2^62 records)",
        ),
        (
            "/sumdb/sum.goward.test/tile/8/0/x072/x057/x594/x037/x927/935",
            "invalid checksum database request: invalid tile tile/8/0/x072/x057/x594/x037/x927/935: it lies beyond the largest possible tree (2^62 records)",
        ),
        (
            "/sumdb/sum.goward.test/tile/8/data/x072/x057/x594/x037/x927/935",
            "it lies beyond the largest possible tree (2^62 records)",
        ),
    ];
    let mut answers = Answers::default();
    for (target, needle) in cases {
        let r = get_raw(&w.g, target.as_bytes());
        answers.check(&r, target.as_bytes(), 400, needle);
    }
    answers.assert_all_ok();
    w.assert_untouched("invalid module paths");
    w.assert_still_serving();
}

/// Paths that are not endpoints, and checksum databases goward does not serve, are 404 (so the
/// go command falls through to its next proxy), still before any access.
#[test]
fn unknown_endpoints_and_sumdbs_are_404() {
    let w = world();
    let cases: &[(&str, &str)] = &[
        // `/` is the operator's page (serve.rs).
        ("/@v/list", "is not a module proxy endpoint"),
        ("/favicon.ico", "is not a module proxy endpoint"),
        ("/example.com/m", "is not a module proxy endpoint"),
        ("/example.com/m/@v/", "is not a module proxy endpoint"),
        (
            "/example.com/m/@v/v1.0.0.tar",
            "is not a module proxy endpoint",
        ),
        ("/example.com/m/@v/v1.0.0", "is not a module proxy endpoint"),
        ("/example.com/m/@x/list", "is not a module proxy endpoint"),
        ("/example.com/m/@latest/x", "is not a module proxy endpoint"),
        (
            "/sumdb/sum.goward.test/nothing",
            "is not a module proxy endpoint",
        ),
        (
            "/sumdb/sum.golang.org/supported",
            "checksum database sum.golang.org is not served here",
        ),
        ("/sumdb/sum.golang.org/latest", "is not served here"),
        (
            "/sumdb/other.example/lookup/example.com/m@v1.0.0",
            "checksum database other.example is not served here",
        ),
        (
            "/sumdb/sum.goward.test.evil/supported",
            "is not served here",
        ),
    ];
    let mut answers = Answers::default();
    for (target, needle) in cases {
        let r = get_raw(&w.g, target.as_bytes());
        answers.check(&r, target.as_bytes(), 404, needle);
    }
    answers.assert_all_ok();
    w.assert_untouched("unknown endpoints");
    w.assert_still_serving();
}

/// Only GET and HEAD: anything else is 405 with `Allow`, before the path is even parsed.
#[test]
fn other_methods_are_405_with_allow() {
    let w = world();
    let mut answers = Answers::default();
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        for target in [
            w.good.zip_path(),
            w.good.mod_path(),
            "/example.com/m/@v/list".into(),
        ] {
            let r = request(w.g.url(), method, target.as_bytes(), &[]);
            answers.check(
                &r,
                target.as_bytes(),
                405,
                "only GET and HEAD are supported",
            );
            assert_eq!(
                r.header("allow"),
                Some("GET, HEAD"),
                "{method} {target}: Allow header"
            );
        }
    }
    answers.assert_all_ok();
    // A body does not change anything, nor does a bad path behind a bad method.
    let r = request(
        w.g.url(),
        "PUT",
        w.good.zip_path().as_bytes(),
        &[("Content-Length", "0"), ("Content-Type", "application/zip")],
    );
    assert_eq!(r.status, 405, "{}", r.text());
    let r = request(w.g.url(), "POST", b"/%2e%2e/@v/list", &[]);
    assert_eq!(r.status, 405, "{}", r.text());
    w.assert_untouched("other methods");
    w.assert_still_serving();
}

/// A burst of every kind of bad request, then a good one: the process keeps serving, and the
/// attacks did not open a way to the upstream in between.
#[test]
fn goward_keeps_serving_after_bad_requests() {
    let w = world();
    for _ in 0..3 {
        for t in [
            &b"/%2e%2e/@v/list"[..],
            b"/example.com/m/@v/v1.0.0\0.zip",
            b"/example.com/M/@v/list",
            b"/example.com/m/@v/v1.0.mod",
        ] {
            let r = get_raw(&w.g, t);
            assert_eq!(r.status, 400, "{}", r.text());
        }
        let r = request(w.g.url(), "POST", w.good.zip_path().as_bytes(), &[]);
        assert_eq!(r.status, 405);
        let r = get_raw(&w.g, b"/favicon.ico");
        assert_eq!(r.status, 404);
    }
    w.assert_untouched("the burst");
    let mut g = w;
    assert!(g.g.is_running(), "goward died after bad requests");
    g.assert_still_serving();
    assert_eq!(
        g.fake.requests(&g.good.zip_path()),
        1,
        "the good zip is fetched once"
    );
}

/// The go command percent-encodes the `!` of case-encoded paths: cmd/go proxy.go `pathEscape`
/// uses `url.PathEscape`, which escapes `!`, so `example.com/Upper` is requested as
/// `/example.com/%21upper/@v/v1.0.0.zip` (the go command's own error messages show such URLs).
/// goward must accept that encoding of `!` (escapes that decode to anything a module path or
/// version may not hold stay refused: `percent_escapes_are_rejected_before_any_access`).
#[test]
fn go_commands_percent_encoded_case_escapes_are_accepted() {
    let fake = FakeProxy::start(TestLog::new(DB_NAME));
    let upper = fake.publish(
        ModZip::new("example.com/Upper", "v1.0.0-RC.1").file("u.go", "package upper\n"),
        "module example.com/Upper\n\ngo 1.21\n",
    );
    let vkey = fake.with_log(|l| l.vkey());
    let g = Goward::start(&fake.url(), &vkey, &[]);

    // Exactly what the go command sends.
    let r = get_raw(&g, b"/example.com/%21upper/@v/v1.0.0-%21r%21c.1.zip");
    assert_eq!(r.status, 200, "{:?}", r.text());
    assert!(r.body == upper.zip, "wrong zip bytes");
    let r = get_raw(&g, b"/example.com/%21upper/@v/list");
    assert_eq!(r.status, 200, "{:?}", r.text());

    // The real go command, which verifies nothing itself here.
    let env = crate::support::gocmd::GoEnv::new(g.url(), "off");
    env.write("go.mod", "module example.com/scratch\n\ngo 1.21\n");
    env.go(&["mod", "download", &upper.at()]).assert_success();
    let got = std::fs::read(
        env.download_dir("example.com/!upper")
            .join("v1.0.0-!r!c.1.zip"),
    )
    .expect("zip in the module cache");
    assert!(got == upper.zip, "the go command got different bytes");
}

/// Versions and module path elements too long for a cache file name are 400 naming the limit,
/// before any upstream request or cache write (not a 500 `file name too long`).
#[test]
fn over_long_versions_and_elements_are_400() {
    let w = world();
    let long_v = format!("v1.0.0-{}", "a".repeat(300));
    let long_e = "a".repeat(300);
    let mut answers = Answers::default();
    for (target, needle) in [
        (
            format!("/example.com/m/@v/{long_v}.zip"),
            "version too long (307 bytes escaped; limit is 120)",
        ),
        (
            format!("/example.com/m/@v/{long_v}.info"),
            "version too long (307 bytes escaped; limit is 120)",
        ),
        (
            format!("/example.com/{long_e}/@v/list"),
            "module path element too long (300 bytes escaped; limit is 120)",
        ),
    ] {
        let r = request(w.g.url(), "GET", target.as_bytes(), &[]);
        answers.check(&r, target.as_bytes(), 400, needle);
    }
    answers.assert_all_ok();
    w.assert_untouched("over-long names");
    w.assert_still_serving();
}
