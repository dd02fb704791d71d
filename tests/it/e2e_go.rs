//! End-to-end tests: the real `go` command downloads and builds through the real goward binary.
//!
//! Each test builds its own world: a fake upstream GOPROXY with a fake checksum DB
//! ([`FakeProxy`], [`TestLog`]), a goward process with its own cache dir, and hermetic `go`
//! environments ([`GoEnv`]). The program `example.com/app` imports `example.com/hello v1.0.0`,
//! which imports `example.com/greet v1.1.0`; the built binary prints [`MARKER`].
//!
//! Attack tests run the go command with `GOSUMDB=off`: the go command then checks nothing, so
//! the refusal must come from goward (attacks.md: goward protects clients that do not verify).
//! Each asserts that `go` fails with goward's reason, that no attacker-chosen bytes reached
//! goward's cache, and, where the attack is in the transport, that goward serves the genuine
//! artifact once the upstream is fixed.

use std::time::Duration;

use crate::support::fakeproxy::{FakeProxy, Fault, Published};
use crate::support::gocmd::{GoEnv, assert_refused_by_goward};
use crate::support::modzip::ModZip;
use crate::support::modzip::noise;
use crate::support::testlog::TestLog;
use crate::support::{
    Goward, files_containing, note_keypair, partial_copies_of, try_http_get, wait_until,
};

// Substrings of goward's refusal text (the text/plain body of its non-404 answer, which the go
// command prints after "server response:"). One per case; keep them in step with goward's
// error messages (src/verify, src/sumdb/client.rs, src/verify/zip.rs).
/// A zip whose h1 differs from the checksum DB record (`VerifyError::HashMismatch`).
const REASON_ZIP_HASH: &str = "zip hash mismatch";
/// A go.mod whose h1 differs from the checksum DB record (`VerifyError::HashMismatch`).
const REASON_MOD_HASH: &str = "go.mod hash mismatch";
/// The checksum DB has no record for the module (`SumdbError::NotFound`).
const REASON_NOT_IN_SUMDB: &str = "is not in checksum database";
/// The record lacks the `h1:` line for the artifact, CVE-2026-42501 (`VerifyError::MissingLine`).
const REASON_SUMDB_MISSING_LINE: &str = "has no h1: line for";
/// The lookup answered with another module's record, CVE-2026-56864 (`SumdbError::WrongRecord`).
const REASON_WRONG_RECORD: &str = "record for another module or version";
/// The tree note is not signed by the configured key (`SumdbError::Note`).
const REASON_BAD_SIGNATURE: &str = "verifying tree note";
/// The request that reveals a fork (`SumdbError::Fork`).
const REASON_FORK: &str = "inconsistent with the tree";
/// Every later request to a database found forked (`SumdbError::Poisoned`).
const REASON_DISTRUSTED: &str = "a fork was detected";
/// A zip entry escaping the module root with `..` (x/mod `CheckFilePath`).
const REASON_ZIP_SLIP: &str = "malformed file path";
/// Two zip entries that differ only in case.
const REASON_ZIP_CASE: &str = "case-insensitive file name collision";
/// A zip declaring more than 500 MiB uncompressed (x/mod `CheckZip`).
const REASON_ZIP_TOO_LARGE: &str = "too large";
/// An upstream body over goward's `--max-zip-size` cap (declared or streamed).
const REASON_ZIP_OVER_CAP: &str = "exceeds the limit";

/// Name of the fake checksum DB.
const DB_NAME: &str = "sum.goward.test";
/// What the built program prints.
const MARKER: &str = "goward-e2e-marker: hello from greet v1.1.0 via hello v1.0.0";

const GREET_GO_MOD: &str = "module example.com/greet\n\ngo 1.21\n";
const GREET_GO: &str = "// Package greet returns the greeting of the goward end-to-end tests.\n\
package greet\n\n\
// Greeting says hello.\n\
func Greeting() string { return \"goward-e2e-marker: hello from greet v1.1.0\" }\n";

const HELLO_GO_MOD: &str =
    "module example.com/hello\n\ngo 1.21\n\nrequire example.com/greet v1.1.0\n";
const HELLO_GO: &str = "// Package hello decorates the greeting.\n\
package hello\n\n\
import \"example.com/greet\"\n\n\
// Message is the full message.\n\
func Message() string { return greet.Greeting() + \" via hello v1.0.0\" }\n";

const APP_GO_MOD: &str = "module example.com/app\n\ngo 1.21\n\n\
require example.com/hello v1.0.0\n\n\
require example.com/greet v1.1.0 // indirect\n";
const APP_MAIN_GO: &str = "package main\n\n\
import (\n\t\"fmt\"\n\n\t\"example.com/hello\"\n)\n\n\
func main() { fmt.Println(hello.Message()) }\n";

fn greet_zip() -> ModZip {
    ModZip::new("example.com/greet", "v1.1.0").file("greet.go", GREET_GO)
}

fn hello_zip() -> ModZip {
    ModZip::new("example.com/hello", "v1.0.0").file("hello.go", HELLO_GO)
}

/// A fake upstream serving greet and hello, both logged in its checksum DB.
struct World {
    fake: FakeProxy,
    greet: Published,
    hello: Published,
    /// The checksum DB right after greet was logged (size 1), for fork tests.
    log_after_greet: TestLog,
    vkey: String,
}

fn world() -> World {
    let fake = FakeProxy::start(TestLog::new(DB_NAME));
    let greet = fake.publish(greet_zip(), GREET_GO_MOD);
    let log_after_greet = fake.log_snapshot();
    let hello = fake.publish(hello_zip(), HELLO_GO_MOD);
    let vkey = fake.with_log(|l| l.vkey());
    World {
        fake,
        greet,
        hello,
        log_after_greet,
        vkey,
    }
}

impl World {
    fn goward(&self) -> Goward {
        Goward::start(&self.fake.url(), &self.vkey, &[])
    }
}

/// A go environment holding example.com/app, downloading through `proxy`.
fn app_env(proxy: &str, gosumdb: &str) -> GoEnv {
    let env = GoEnv::new(proxy, gosumdb);
    env.write("go.mod", APP_GO_MOD);
    env.write("main.go", APP_MAIN_GO);
    env
}

/// A go environment with an empty main module, for `go mod download path@version`.
fn bare_env(proxy: &str, gosumdb: &str) -> GoEnv {
    let env = GoEnv::new(proxy, gosumdb);
    env.write("go.mod", "module example.com/scratch\n\ngo 1.21\n");
    env
}

/// `go mod download` + `go build`, then runs the binary and checks it prints the marker, and
/// that the go command computed the same go.sum hashes as the test oracle.
fn download_build_run(env: &GoEnv, w: &World) {
    build_and_run(env, MARKER, &[&w.greet, &w.hello]);
}

/// [`download_build_run`] for any program printing `marker` and built from `modules`.
fn build_and_run(env: &GoEnv, marker: &str, modules: &[&Published]) {
    env.go(&["mod", "download"]).assert_success();
    // Since go 1.17 `go mod download` records only go.mod hashes; `-mod=mod` lets the build
    // add the (already downloaded and verified) zip hashes.
    env.go(&["build", "-mod=mod", "-o", "app", "."])
        .assert_success();
    let run = env.run(&env.work().join("app"), &[]);
    run.assert_success();
    assert_eq!(run.stdout.trim(), marker, "{}", run.dump());
    let sum = env.read("go.sum");
    for p in modules {
        for line in p.go_sum().lines() {
            assert!(sum.contains(line), "go.sum lacks {line:?}:\n{sum}");
        }
    }
}

/// goward's cache holds no copy of `bytes`.
#[track_caller]
fn assert_not_cached(g: &Goward, what: &str, bytes: &[u8]) {
    let hits = files_containing(g.cache_dir(), bytes);
    assert!(hits.is_empty(), "{what} reached goward's cache: {hits:?}");
}

/// goward serves exactly `want` at `path`.
#[track_caller]
fn assert_serves(g: &Goward, path: &str, want: &[u8]) {
    let r = g.get(path);
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    assert!(
        r.body == want,
        "GET {path}: served bytes differ from the published artifact"
    );
}

// ---------------------------------------------------------------------------------------------
// Harness self-check: no goward involved.

/// The fake upstream and fake checksum DB satisfy the real go command on their own, and a
/// corrupted tile makes it fail: if this fails, the harness is broken, not goward.
#[test]
fn harness_go_direct_against_fake_upstream() {
    let w = world();
    let env = app_env(&w.fake.url(), &w.vkey);
    download_build_run(&env, &w);
    let tiles = w
        .fake
        .requests_with_prefix(&format!("/sumdb/{DB_NAME}/tile/"));
    assert!(
        !tiles.is_empty(),
        "go verified without fetching tiles: {:?}",
        w.fake.request_log()
    );

    // The same downloads with every tile corrupted must fail in the go command itself.
    for t in &tiles {
        let rel = t.trim_start_matches(&format!("/sumdb/{DB_NAME}/"));
        let mut bad = w
            .fake
            .with_log(|l| l.tile(rel))
            .expect("tile the go command fetched");
        bad[0] ^= 0x01;
        w.fake.set_fault(t, Fault::Body(bad));
    }
    let env = app_env(&w.fake.url(), &w.vkey);
    // go1.26 modfetch/sumdb.go: "downloaded inconsistent tile".
    env.go(&["mod", "download"])
        .assert_failure_containing("inconsistent tile");
}

// ---------------------------------------------------------------------------------------------
// Happy paths.

/// The go command verifies through goward's `/sumdb/` endpoints; a second client is served from
/// goward's cache without asking the upstream again.
#[test]
fn go_downloads_and_builds_through_goward_with_sumdb() {
    let w = world();
    let g = w.goward();
    let env = app_env(g.url(), &w.vkey);
    download_build_run(&env, &w);
    assert!(
        !w.fake
            .requests_with_prefix(&format!("/sumdb/{DB_NAME}/"))
            .is_empty(),
        "goward verified nothing against the checksum DB"
    );
    assert_serves(&g, &w.hello.zip_path(), &w.hello.zip);
    assert_serves(&g, &w.greet.mod_path(), &w.greet.mod_bytes);

    let again = app_env(g.url(), &w.vkey);
    again.go(&["mod", "download"]).assert_success();
    for p in [&w.hello, &w.greet] {
        assert_eq!(
            w.fake.requests(&p.zip_path()),
            1,
            "upstream asked more than once for {}",
            p.at()
        );
        let got = std::fs::read(
            again
                .download_dir(&p.path)
                .join(format!("{}.zip", p.version)),
        )
        .expect("zip in the go module cache");
        assert!(
            got == p.zip,
            "{}: the go command got different zip bytes",
            p.at()
        );
    }
}

/// Without any client-side verification the download goes through goward just the same.
#[test]
fn go_downloads_and_builds_through_goward_with_gosumdb_off() {
    let w = world();
    let g = w.goward();
    let env = app_env(g.url(), "off");
    download_build_run(&env, &w);
    assert!(
        !w.fake
            .requests_with_prefix(&format!("/sumdb/{DB_NAME}/lookup/"))
            .is_empty(),
        "goward served modules without looking them up in the checksum DB"
    );
}

/// `replace example.com/greet => example.com/Fork/greet v1.2.0`, where the fork keeps the
/// original module line (as `github.com/Sirupsen/logrus` declares `github.com/sirupsen/logrus`):
/// the checksum DB proves the fork's bytes, and the module line is the go command's to accept.
#[test]
fn go_builds_a_fork_through_replace() {
    const FORK_MARKER: &str = "goward-e2e-marker: hello from the fork";
    let w = world();
    let fork = w.fake.publish(
        ModZip::new("example.com/Fork/greet", "v1.2.0").file(
            "greet.go",
            format!("package greet\n\nfunc Greeting() string {{ return {FORK_MARKER:?} }}\n"),
        ),
        GREET_GO_MOD,
    );
    let g = w.goward();
    let env = GoEnv::new(g.url(), &w.vkey);
    env.write(
        "go.mod",
        "module example.com/app\n\ngo 1.21\n\nrequire example.com/greet v1.1.0\n\n\
         replace example.com/greet => example.com/Fork/greet v1.2.0\n",
    );
    env.write(
        "main.go",
        "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/greet\"\n)\n\n\
         func main() { fmt.Println(greet.Greeting()) }\n",
    );
    build_and_run(&env, FORK_MARKER, &[&fork]);
    assert_serves(&g, &fork.mod_path(), &fork.mod_bytes);
}

// ---------------------------------------------------------------------------------------------
// Tampered artifacts (attacks.md 4).

/// One byte of hello.go flipped in the zip the upstream serves.
#[test]
fn tampered_zip_is_refused_and_not_cached() {
    let w = world();
    let g = w.goward();
    let evil = ModZip::new("example.com/hello", "v1.0.0")
        .file("hello.go", HELLO_GO.replace("via hello", "vIa hello"));
    let evil = FakeProxy::prepare(evil, HELLO_GO_MOD).zip;
    w.fake
        .set_fault(&w.hello.zip_path(), Fault::Body(evil.clone()));

    let env = app_env(g.url(), "off");
    assert_refused_by_goward(&env.go(&["mod", "download"]), REASON_ZIP_HASH);
    assert_not_cached(&g, "the tampered zip", &evil);

    // A flipped byte in the compressed stream (the archive itself is damaged).
    let mut broken = w.hello.zip.clone();
    let mid = first_entry_data_middle(&broken);
    broken[mid] ^= 0x20;
    w.fake
        .set_fault(&w.hello.zip_path(), Fault::Body(broken.clone()));
    let out = env.go(&["mod", "download"]);
    assert!(!out.success(), "a damaged zip was accepted\n{}", out.dump());
    assert_not_cached(&g, "the damaged zip", &broken);

    w.fake.clear_faults();
    assert_serves(&g, &w.hello.zip_path(), &w.hello.zip);
    download_again(&env);
}

/// A go.mod edited by the upstream.
#[test]
fn tampered_go_mod_is_refused_and_not_cached() {
    let w = world();
    let g = w.goward();
    // Still a valid go.mod: a client that does not verify would take it.
    let evil = format!("{HELLO_GO_MOD}// tampered by the upstream\n");
    w.fake
        .set_fault(&w.hello.mod_path(), Fault::Body(evil.clone().into_bytes()));

    let env = app_env(g.url(), "off");
    assert_refused_by_goward(&env.go(&["mod", "download"]), REASON_MOD_HASH);
    assert_not_cached(&g, "the tampered go.mod", evil.as_bytes());

    w.fake.clear_faults();
    assert_serves(&g, &w.hello.mod_path(), &w.hello.mod_bytes);
    download_again(&env);
}

/// Offset of the middle of the first entry's compressed data: flipping a byte there damages
/// content (CRC or inflate error), unlike a flip in a local-header name, which Go's reader
/// ignores and which would leave the zip's h1 unchanged.
fn first_entry_data_middle(zip: &[u8]) -> usize {
    assert_eq!(
        zip[..4],
        [0x50, 0x4b, 0x03, 0x04],
        "zip starts with a local header"
    );
    let le16 = |at: usize| usize::from(u16::from_le_bytes([zip[at], zip[at + 1]]));
    let compressed = u32::from_le_bytes([zip[18], zip[19], zip[20], zip[21]]) as usize;
    assert!(compressed > 2, "first entry has no data to damage");
    30 + le16(26) + le16(28) + compressed / 2
}

fn download_again(env: &GoEnv) {
    env.go(&["mod", "download"]).assert_success();
}

// ---------------------------------------------------------------------------------------------
// Checksum DB answers that must not be believed (attacks.md 1, 2, 5, 6).

/// A module the checksum DB has never heard of is not served.
#[test]
fn module_missing_from_checksum_db_is_refused() {
    let fake = FakeProxy::start(TestLog::new(DB_NAME));
    let vkey = fake.with_log(|l| l.vkey());
    fake.publish(greet_zip(), GREET_GO_MOD);
    let mut hello = FakeProxy::prepare(hello_zip(), HELLO_GO_MOD);
    fake.serve(&hello);
    let g = Goward::start(&fake.url(), &vkey, &[]);

    let env = app_env(g.url(), "off");
    assert_refused_by_goward(&env.go(&["mod", "download"]), REASON_NOT_IN_SUMDB);
    assert_not_cached(&g, "hello's unlogged zip", &hello.zip);
    assert_not_cached(&g, "hello's unlogged go.mod", &hello.mod_bytes);

    // Once the checksum DB knows the module (the tree grew), goward serves it.
    fake.log_module(&mut hello);
    assert_serves(&g, &hello.zip_path(), &hello.zip);
    download_again(&env);
}

/// CVE-2026-42501: a successful lookup whose record lacks the h1 line for the artifact.
#[test]
fn record_without_the_artifacts_h1_line_is_refused() {
    let fake = FakeProxy::start(TestLog::new(DB_NAME));
    let vkey = fake.with_log(|l| l.vkey());
    // The record names only the go.mod: the zip must be refused.
    let nozip = FakeProxy::prepare(
        ModZip::new("example.com/nozip", "v1.0.0").file("a.go", "package nozip\n"),
        "module example.com/nozip\n\ngo 1.21\n",
    );
    fake.serve(&nozip);
    fake.log_record(
        &nozip.path,
        &nozip.version,
        &format!("{} {}/go.mod {}\n", nozip.path, nozip.version, nozip.mod_h1),
    );
    // The record names only the zip: the go.mod must be refused.
    let nomod = FakeProxy::prepare(
        ModZip::new("example.com/nomod", "v1.0.0").file("a.go", "package nomod\n"),
        "module example.com/nomod\n\ngo 1.21\n",
    );
    fake.serve(&nomod);
    fake.log_record(
        &nomod.path,
        &nomod.version,
        &format!("{} {} {}\n", nomod.path, nomod.version, nomod.zip_h1),
    );
    let g = Goward::start(&fake.url(), &vkey, &[]);

    let env = bare_env(g.url(), "off");
    assert_refused_by_goward(
        &env.go(&["mod", "download", &nozip.at()]),
        REASON_SUMDB_MISSING_LINE,
    );
    assert_not_cached(&g, "the zip without a logged hash", &nozip.zip);
    assert_ne!(
        g.get(&nozip.zip_path()).status,
        200,
        "goward served the unproven zip"
    );

    assert_refused_by_goward(
        &env.go(&["mod", "download", &nomod.at()]),
        REASON_SUMDB_MISSING_LINE,
    );
    assert_not_cached(&g, "the go.mod without a logged hash", &nomod.mod_bytes);
    assert_ne!(
        g.get(&nomod.mod_path()).status,
        200,
        "goward served the unproven go.mod"
    );
}

/// CVE-2026-56864: the lookup for hello is answered with greet's (validly proven) record.
#[test]
fn lookup_answered_with_another_modules_record_is_refused() {
    let w = world();
    let g = w.goward();
    let greets = w
        .fake
        .with_log(|l| l.lookup("example.com/greet@v1.1.0"))
        .expect("greet lookup");
    let hello_lookup = w.hello.lookup_path(DB_NAME);
    w.fake.set_fault(&hello_lookup, Fault::Body(greets));

    let env = app_env(g.url(), "off");
    assert_refused_by_goward(&env.go(&["mod", "download"]), REASON_WRONG_RECORD);
    assert!(
        w.fake.requests(&hello_lookup) > 0,
        "goward never looked hello up"
    );
    assert_not_cached(&g, "hello's unproven zip", &w.hello.zip);

    w.fake.clear_faults();
    assert_serves(&g, &w.hello.zip_path(), &w.hello.zip);
    download_again(&env);
}

/// A checksum DB whose notes are signed by a key goward was not configured with.
#[test]
fn tree_signed_by_the_wrong_key_is_refused() {
    let w = world();
    let g = w.goward();
    let (evil_skey, _) = note_keypair(DB_NAME, [0x66; 32]);
    let mut evil = TestLog::with_signer(DB_NAME, &evil_skey);
    for p in [&w.greet, &w.hello] {
        evil.add_module(&p.path, &p.version, &p.zip_h1, &p.mod_h1);
    }
    let evil_note = evil.signed_tree();
    let honest = w.fake.set_log(evil);

    let env = app_env(g.url(), "off");
    assert_refused_by_goward(&env.go(&["mod", "download"]), REASON_BAD_SIGNATURE);
    let evil_sig = last_line(&evil_note);
    assert_not_cached(&g, "the wrongly signed note", evil_sig.as_bytes());
    assert_not_cached(&g, "hello's unproven zip", &w.hello.zip);

    w.fake.set_log(honest);
    assert_serves(&g, &w.hello.zip_path(), &w.hello.zip);
    download_again(&env);
}

/// The last non-empty line of a signed note (its signature line).
fn last_line(note: &[u8]) -> String {
    let text = String::from_utf8_lossy(note);
    text.lines()
        .rev()
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .to_owned()
}

/// After goward has seen a tree head, the checksum DB switches to a divergent tree with the same
/// key (a fork): goward says so, then refuses everything from that DB, even once the honest tree
/// is back.
#[test]
fn forked_checksum_db_is_reported_and_then_distrusted() {
    let w = world();
    let g = w.goward();
    let env = app_env(g.url(), "off");
    env.go(&["mod", "download"]).assert_success();

    // Same first record, a different second one, plus a new module goward has not seen.
    let mut fork = w.log_after_greet.clone();
    let evil_hello = FakeProxy::prepare(
        hello_zip().file("evil.go", "package hello\n\nvar Evil = true\n"),
        HELLO_GO_MOD,
    );
    fork.add_module(
        &w.hello.path,
        &w.hello.version,
        &evil_hello.zip_h1,
        &evil_hello.mod_h1,
    );
    let other = FakeProxy::prepare(
        ModZip::new("example.com/other", "v1.0.0").file("other.go", "package other\n"),
        "module example.com/other\n\ngo 1.21\n",
    );
    fork.add_module(&other.path, &other.version, &other.zip_h1, &other.mod_h1);
    w.fake.serve(&other);
    let honest = w.fake.set_log(fork);

    let env2 = bare_env(g.url(), "off");
    assert_refused_by_goward(&env2.go(&["mod", "download", &other.at()]), REASON_FORK);
    assert_not_cached(&g, "the module only the fork knows", &other.zip);

    // Nothing from that DB any more, cached or not, forked or honest.
    let fresh = app_env(g.url(), "off");
    assert_refused_by_goward(&fresh.go(&["mod", "download"]), REASON_DISTRUSTED);
    w.fake.set_log(honest);
    let fresh = app_env(g.url(), "off");
    assert_refused_by_goward(&fresh.go(&["mod", "download"]), REASON_DISTRUSTED);
    let r = g.get(&w.greet.lookup_path(DB_NAME));
    assert_ne!(
        r.status, 200,
        "goward still proxies the forked DB's lookups"
    );
}

// ---------------------------------------------------------------------------------------------
// Malicious zips, published consistently (the checksum DB vouches for them): the zip rules alone
// must stop them (attacks.md 7).

fn assert_malicious_zip_refused(zip: ModZip, reason: &str) {
    let fake = FakeProxy::start(TestLog::new(DB_NAME));
    let vkey = fake.with_log(|l| l.vkey());
    let go_mod = format!("module {}\n\ngo 1.21\n", zip.path());
    let p = fake.publish(zip, &go_mod);
    let g = Goward::start(&fake.url(), &vkey, &[]);

    let env = bare_env(g.url(), "off");
    assert_refused_by_goward(&env.go(&["mod", "download", &p.at()]), reason);
    assert_not_cached(&g, "the malicious zip", &p.zip);
    let r = g.get(&p.zip_path());
    assert_ne!(r.status, 200, "goward served the malicious zip");
    assert_ne!(
        r.status, 404,
        "a refused zip must not look absent (the go command would fall back)"
    );
}

#[test]
fn zip_slip_entry_is_refused() {
    assert_malicious_zip_refused(
        ModZip::new("example.com/slip", "v1.0.0")
            .file("slip.go", "package slip\n")
            .raw(
                "example.com/slip@v1.0.0/../../../../tmp/goward-slip.go",
                "package evil\n",
            ),
        REASON_ZIP_SLIP,
    );
}

#[test]
fn case_colliding_entries_are_refused() {
    assert_malicious_zip_refused(
        ModZip::new("example.com/fold", "v1.0.0")
            .file("fold.go", "package fold\n")
            .file("FOLD.go", "package fold\n\nvar X = 1\n"),
        REASON_ZIP_CASE,
    );
}

/// An entry whose headers declare 600 MiB (more than x/mod's 500 MiB `MaxZipFile`) although
/// the archive is tiny.
#[test]
fn zip_declaring_more_than_500_mib_is_refused() {
    let name = "example.com/bomb@v1.0.0/bomb.bin";
    assert_malicious_zip_refused(
        ModZip::new("example.com/bomb", "v1.0.0")
            .stored()
            .file("bomb.go", "package bomb\n")
            .raw(name, vec![0u8; 4096])
            .declared_size(name, 600 << 20),
        REASON_ZIP_TOO_LARGE,
    );
}

/// An honest zip bigger than goward's `--max-zip-size` cap, then an endless one: goward stops
/// reading at the cap either way.
#[test]
fn zip_larger_than_max_zip_size_is_refused() {
    const CAP: u64 = 1 << 20;
    let fake = FakeProxy::start(TestLog::new(DB_NAME));
    let vkey = fake.with_log(|l| l.vkey());
    let p = fake.publish(
        ModZip::new("example.com/large", "v1.0.0")
            .file("large.go", "package large\n")
            .file("data.bin", noise(7, 2 << 20)),
        "module example.com/large\n\ngo 1.21\n",
    );
    // The same size syntax as the config file and the policy (`1MiB` is CAP).
    let g = Goward::start(&fake.url(), &vkey, &["--max-zip-size", "1MiB"]);
    let env = bare_env(g.url(), "off");
    assert_refused_by_goward(&env.go(&["mod", "download", &p.at()]), REASON_ZIP_OVER_CAP);
    assert_not_cached(&g, "the oversize zip", &p.zip[..64 << 10]);
    assert_ne!(
        g.get(&p.zip_path()).status,
        200,
        "goward served the oversize zip"
    );

    // No Content-Length and no end: the cap must hold while streaming.
    fake.set_fault(&p.zip_path(), Fault::Endless);
    let env = bare_env(g.url(), "off");
    assert_refused_by_goward(&env.go(&["mod", "download", &p.at()]), REASON_ZIP_OVER_CAP);
    let sent = fake.bytes_sent(&p.zip_path());
    assert!(
        sent < CAP + (8 << 20),
        "goward read {sent} bytes of an endless zip (cap {CAP})"
    );
}

// ---------------------------------------------------------------------------------------------
// Crash safety.

/// SIGKILL while several large zips are being fetched slowly from the upstream; after a restart
/// on the same cache every artifact is byte-identical to the published one, the go command
/// downloads and verifies them, and no partial file is left in the cache.
#[test]
fn sigkill_during_slow_downloads_leaves_a_consistent_cache() {
    const SIZE: usize = 3 << 20;
    let fake = FakeProxy::start(TestLog::new(DB_NAME));
    let vkey = fake.with_log(|l| l.vkey());
    let bigs: Vec<Published> = (1..=3u64)
        .map(|i| {
            let path = format!("example.com/big{i}");
            fake.publish(
                ModZip::new(&path, "v1.0.0")
                    .file("big.go", format!("package big{i}\n"))
                    .file("data.bin", noise(i, SIZE)),
                &format!("module {path}\n\ngo 1.21\n"),
            )
        })
        .collect();
    for b in &bigs {
        assert!(b.zip.len() > SIZE, "zip unexpectedly compressed");
        fake.set_fault(
            &b.zip_path(),
            Fault::Trickle {
                chunk: 16 << 10,
                delay: Duration::from_millis(10),
            },
        );
    }
    let cache = tempfile::tempdir().expect("cache dir");
    let mut g = Goward::start_in(cache.path(), &fake.url(), &vkey, &[]);

    let clients: Vec<_> = bigs
        .iter()
        .map(|b| {
            let url = g.url_for(&b.zip_path());
            std::thread::spawn(move || try_http_get(&url, Duration::from_secs(120)))
        })
        .collect();
    wait_until(
        "every zip is half-way through the upstream transfer",
        Duration::from_secs(120),
        || {
            bigs.iter()
                .all(|b| fake.bytes_sent(&b.zip_path()) >= (SIZE / 2) as u64)
        },
    );
    g.kill_hard();
    for (client, b) in clients.into_iter().zip(&bigs) {
        // Killed mid-way, a client may only ever see an error or the whole genuine zip.
        if let Ok(Ok(r)) = client.join()
            && r.status == 200
        {
            assert!(
                r.body == b.zip,
                "{}: a client got a truncated or altered zip",
                b.at()
            );
        }
    }

    fake.clear_faults();
    g.restart();
    for b in &bigs {
        assert_serves(&g, &b.zip_path(), &b.zip);
        assert_serves(&g, &b.mod_path(), &b.mod_bytes);
    }
    let env = bare_env(g.url(), &vkey);
    let mut args = vec!["mod".to_owned(), "download".to_owned()];
    args.extend(bigs.iter().map(Published::at));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.go(&args).assert_success();
    for b in &bigs {
        let got =
            std::fs::read(env.download_dir(&b.path).join("v1.0.0.zip")).expect("downloaded zip");
        assert!(
            got == b.zip,
            "{}: the go command got different bytes",
            b.at()
        );
        let partial = partial_copies_of(cache.path(), &b.zip);
        assert!(
            partial.is_empty(),
            "{}: partial downloads left in the cache: {partial:?}",
            b.at()
        );
    }
}
