//! The policy, end to end: `goward serve --policy FILE` with the real `go` command and the
//! real binary. Denials reach the go user as goward's 403 text; private paths are fetched from
//! their own upstream, proven by their pins and never looked up in the public checksum DB; the
//! policy is reloaded on SIGHUP and when the file changes, an invalid new policy leaves the old
//! one in force, and a reload applies to what is already cached.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::fakeproxy::{FakeProxy, Published, file_url, write_download_dir};
use crate::support::gocmd::{GoEnv, assert_refused_by_goward};
use crate::support::modzip::ModZip;
use crate::support::testlog::TestLog;
use crate::support::{Goward, run_goward, wait_until};

/// Name of the fake public checksum DB.
const DB_NAME: &str = "sum.policy.test";
/// Module path prefix of the private modules.
const PRIVATE: &str = "corp.policy.test";
/// How long a reload may take to show (the watcher polls every 2 s).
const RELOAD: Duration = Duration::from_secs(20);

const GREET_GO_MOD: &str = "module example.com/greet\n\ngo 1.21\n";
const LIB_GO_MOD: &str = "module corp.policy.test/lib\n\ngo 1.21\n";

/// A public fake (GOPROXY + checksum DB) serving example.com/greet, and a private origin
/// serving corp.policy.test/lib v1.0.0 (pinned) and v1.1.0 (not pinned). Neither private
/// version is in the public checksum DB.
struct World {
    public: FakeProxy,
    private: FakeProxy,
    greet: Published,
    lib: Published,
    lib_unpinned: Published,
    vkey: String,
    dir: tempfile::TempDir,
}

fn world() -> World {
    let public = FakeProxy::start(TestLog::new(DB_NAME));
    let greet = public.publish(
        ModZip::new("example.com/greet", "v1.1.0").file("greet.go", "package greet\n"),
        GREET_GO_MOD,
    );
    let vkey = public.with_log(|l| l.vkey());
    let private = FakeProxy::start(TestLog::new("sum.private-origin.test"));
    let lib = FakeProxy::prepare(
        ModZip::new(&format!("{PRIVATE}/lib"), "v1.0.0").file("lib.go", "package lib\n"),
        LIB_GO_MOD,
    );
    private.serve(&lib);
    let lib_unpinned = FakeProxy::prepare(
        ModZip::new(&format!("{PRIVATE}/lib"), "v1.1.0").file("lib.go", "package lib // 1.1\n"),
        LIB_GO_MOD,
    );
    private.serve(&lib_unpinned);
    let dir = tempfile::Builder::new()
        .prefix("goward-policy-")
        .tempdir()
        .expect("temp dir");
    std::fs::write(dir.path().join("pins.sum"), lib.go_sum()).expect("pins");
    std::fs::write(dir.path().join("token"), "s3cret-token\n").expect("token");
    World {
        public,
        private,
        greet,
        lib,
        lib_unpinned,
        vkey,
        dir,
    }
}

impl World {
    fn policy_path(&self) -> PathBuf {
        self.dir.path().join("policy.toml")
    }

    /// Writes the policy file: the private route, plus `extra` rules.
    fn write_policy(&self, extra: &str) {
        let text = format!(
            "mode = \"open\"\n\n[defaults]\nproof = [\"sumdb\"]\n\n\
             [[private]]\nname = \"corp\"\nmodules = \"{PRIVATE}\"\nupstream = \"{}\"\n\
             auth = {{ type = \"bearer\", token_file = \"token\" }}\npins = [\"pins.sum\"]\n\n{extra}",
            self.private.url()
        );
        write_atomically(&self.policy_path(), &text);
    }

    fn goward(&self) -> Goward {
        let p = self.policy_path();
        Goward::start(
            &self.public.url(),
            &self.vkey,
            &["--policy", p.to_str().expect("utf-8 path")],
        )
    }

    /// Requests goward made for private paths to the public fake (proxy or checksum DB).
    fn public_private_requests(&self) -> Vec<String> {
        self.public
            .request_log()
            .into_iter()
            .filter(|p| p.contains(PRIVATE))
            .collect()
    }
}

const DENY_GREET: &str = "[[deny]]\nname = \"no-greet\"\nmodules = \"example.com/greet\"\n\
                          versions = \"<= v1.1.0\"\nreason = \"CVE-TEST-0001\"\n";

/// Replaces `path` by `text` in one rename, so the watcher never reads half a file.
fn write_atomically(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write policy");
    std::fs::rename(&tmp, path).expect("rename policy");
}

fn bare_env(g: &Goward, w: &World) -> GoEnv {
    let env = GoEnv::new(g.url(), &w.vkey);
    env.write("go.mod", "module example.com/scratch\n\ngo 1.21\n");
    env
}

fn sighup(g: &Goward) {
    let pid = g.pid().expect("goward pid");
    let st = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .expect("kill -HUP");
    assert!(st.success(), "kill -HUP {pid} failed");
}

#[test]
fn denied_module_fails_go_with_the_rules_reason() {
    let w = world();
    w.write_policy(DENY_GREET);
    let g = w.goward();
    let env = bare_env(&g, &w);
    let out = env.go(&["mod", "download", "example.com/greet@v1.1.0"]);
    assert_refused_by_goward(&out, "denied by policy rule \"no-greet\"");
    assert_refused_by_goward(&out, "CVE-TEST-0001");
    let r = g.get(&w.greet.zip_path());
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain")),
        "{:?}",
        r.headers
    );
    // Nothing denied was fetched from upstream.
    assert!(
        w.public
            .requests_with_prefix("/example.com/greet/@v/v1.1.0")
            .is_empty(),
        "{:?}",
        w.public.request_log()
    );
    // The checksum-database proxy applies the same rule to lookups, and counts the decision.
    let r = g.get(&format!("/sumdb/{DB_NAME}/lookup/{}", w.greet.at()));
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(
        r.text().contains("denied by policy rule \"no-greet\""),
        "{}",
        r.text()
    );
    assert!(
        w.public
            .requests_with_prefix(&format!("/sumdb/{DB_NAME}/lookup/example.com/greet@"))
            .is_empty(),
        "a denied module was looked up: {:?}",
        w.public.request_log()
    );
    let m = g.get("/metrics").text();
    assert!(
        m.contains("goward_policy_decisions_total") && m.contains("no-greet"),
        "{m}"
    );
    assert!(
        m.lines().any(|l| l.contains("goward_requests_total")
            && l.contains("sumdb_lookup")
            && l.contains("403")),
        "{m}"
    );
}

#[test]
fn private_pinned_module_is_served_without_public_lookups() {
    let w = world();
    w.write_policy("");
    let g = w.goward();
    let env = bare_env(&g, &w);
    // The project's go.sum holds the pinned hashes, so the go command needs no GONOSUMDB.
    env.write("go.sum", w.lib.go_sum());
    env.go(&["mod", "download", &w.lib.at()]).assert_success();
    let r = g.get(&w.lib.zip_path());
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.body == w.lib.zip,
        "served zip differs from the private origin's"
    );
    assert!(
        !w.private
            .requests_with_prefix(&format!("/{PRIVATE}/"))
            .is_empty(),
        "the private origin was never asked: {:?}",
        w.private.request_log()
    );
    // The checksum-DB proxy answers lookups of private paths locally.
    let r = g.get(&format!("/sumdb/{DB_NAME}/lookup/{}", w.lib.at()));
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(r.text().contains("private"), "{}", r.text());
    assert_eq!(
        w.public_private_requests(),
        Vec::<String>::new(),
        "goward asked the public upstream or checksum DB about a private path"
    );
    // Public modules still go through the public checksum DB.
    env.go(&["mod", "download", &w.greet.at()]).assert_success();
    assert!(
        !w.public
            .requests_with_prefix(&format!("/sumdb/{DB_NAME}/"))
            .is_empty()
    );
}

#[test]
fn unpinned_private_version_is_denied() {
    let w = world();
    w.write_policy("");
    let g = w.goward();
    let env = bare_env(&g, &w);
    env.write("go.sum", w.lib_unpinned.go_sum());
    let out = env.go(&["mod", "download", &w.lib_unpinned.at()]);
    assert_refused_by_goward(&out, "corp");
    for p in [w.lib_unpinned.zip_path(), w.lib_unpinned.mod_path()] {
        let r = g.get(&p);
        assert_eq!(r.status, 403, "{p}: {}", r.text());
        assert!(r.text().contains("pinned"), "{p}: {}", r.text());
    }
    assert!(
        w.private
            .requests_with_prefix(&w.lib_unpinned.zip_path())
            .is_empty(),
        "an unpinned zip was fetched"
    );
    assert_eq!(w.public_private_requests(), Vec::<String>::new());
}

#[test]
fn reload_on_sighup_and_on_file_change_applies_to_cached_artifacts() {
    let w = world();
    w.write_policy("");
    let mut g = w.goward();
    let zip = w.greet.zip_path();
    let r = g.get(&zip);
    assert_eq!(r.status, 200, "{}", r.text());

    // SIGHUP: the cached zip is now denied.
    w.write_policy(DENY_GREET);
    sighup(&g);
    wait_until("the reload denies the cached zip", RELOAD, || {
        g.get(&zip).status == 403
    });
    // The file watcher may have reloaded first: the SIGHUP line comes when the signal is
    // handled, not necessarily before the zip is denied.
    wait_until("the SIGHUP is logged", RELOAD, || {
        g.stderr().contains("SIGHUP")
    });
    let r = g.get(&zip);
    assert!(r.text().contains("no-greet"), "{}", r.text());
    assert!(g.is_running(), "goward restarted");

    // An invalid new policy is rejected and the old one stays in force (watcher and SIGHUP).
    write_atomically(&w.policy_path(), "mode = \"open\"\nbogus = 1\n");
    wait_until("the watcher rejects the invalid policy", RELOAD, || {
        g.stderr().contains("new policy rejected")
    });
    sighup(&g);
    std::thread::sleep(Duration::from_millis(500));
    let err = g.stderr();
    assert!(err.contains("policy.toml:2:"), "{err}");
    assert_eq!(g.get(&zip).status, 403, "the old policy was dropped");

    // The watcher picks up a rewrite: allowed again, served from the cache.
    w.public.reset_requests();
    w.write_policy("");
    wait_until("the watcher allows the zip again", RELOAD, || {
        g.get(&zip).status == 200
    });
    assert!(g.get(&zip).body == w.greet.zip);
    assert!(
        w.public.requests_with_prefix(&zip).is_empty(),
        "the cached zip was fetched again"
    );
    assert!(g.is_running(), "goward restarted");
}

#[test]
fn invalid_policy_at_start_exits_2_naming_the_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let p = dir.path().join("bad.toml");
    std::fs::write(&p, "mode = \"open\"\n\n[[deny]]\nname = \"x\"\nmodules = \"example.com/m\"\nversions = \"< banana\"\nreason = \"r\"\n").expect("write");
    let cache = dir.path().join("cache");
    let out = run_goward(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--cache-dir",
        cache.to_str().expect("utf-8"),
        "--policy",
        p.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", out.dump());
    assert!(out.stderr.contains("bad.toml:6:"), "{}", out.dump());
}

#[test]
fn retracted_version_is_denied_with_its_rationale() {
    let w = world();
    let old = w.public.publish(
        ModZip::new("example.com/r", "v1.0.0").file("r.go", "package r\n"),
        "module example.com/r\n\ngo 1.21\n",
    );
    let new = w.public.publish(
        ModZip::new("example.com/r", "v1.1.0").file("r.go", "package r // 1.1\n"),
        "module example.com/r\n\ngo 1.21\n\nretract v1.0.0 // leaks memory\n",
    );
    w.write_policy(
        "[[allow]]\nname = \"fresh-r\"\nmodules = \"example.com/r\"\ndeny_retracted = true\n",
    );
    let g = w.goward();
    for p in [old.info_path(), old.mod_path(), old.zip_path()] {
        let r = g.get(&p);
        assert_eq!(r.status, 403, "{p}: {}", r.text());
        let t = r.text();
        assert!(
            t.contains("fresh-r") && t.contains("retracted") && t.contains("leaks memory"),
            "{p}: {t}"
        );
    }
    let r = g.get(&new.zip_path());
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn cached_artifact_must_satisfy_the_proofs_a_reload_requires() {
    let w = world();
    w.write_policy("");
    let g = w.goward();
    let zip = w.greet.zip_path();
    assert_eq!(g.get(&zip).status, 200);
    // Require the checksum DB and a pin: the right pin keeps the cached copy in service.
    std::fs::write(w.dir.path().join("greet.sum"), w.greet.go_sum()).expect("pins");
    let pinned = "[[allow]]\nname = \"greet-pinned\"\nmodules = \"example.com/greet\"\n\
                  proof = [\"sumdb\", \"pinned\"]\npins = [\"greet.sum\"]\n";
    w.write_policy(pinned);
    sighup(&g);
    wait_until("the reload is logged", RELOAD, || {
        g.stderr().contains("policy reloaded")
    });
    let r = g.get(&zip);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.body == w.greet.zip);
    // A pin of other bytes: the cached copy is never served; proving again fails.
    let other = FakeProxy::prepare(
        ModZip::new("example.com/greet", "v1.1.0").file("greet.go", "package greet // evil\n"),
        GREET_GO_MOD,
    );
    // Only the pin file changes, without SIGHUP: the watcher reloads.
    std::fs::write(w.dir.path().join("greet.sum"), other.go_sum()).expect("pins");
    wait_until("the new pin refuses the cached zip", RELOAD, || {
        g.get(&zip).status == 502
    });
    let t = g.get(&zip).text();
    assert!(t.contains("pinned hash"), "{t}");
}

#[test]
fn a_rules_max_zip_size_caps_the_download() {
    let w = world();
    let big = w.public.publish(
        ModZip::new("example.com/big", "v1.0.0").file("big.go", "package big\n".repeat(2000)),
        "module example.com/big\n\ngo 1.21\n",
    );
    w.write_policy(
        "[[allow]]\nname = \"small\"\nmodules = \"example.com/big\"\nmax_zip_size = \"1 KiB\"\n",
    );
    let g = w.goward();
    let r = g.get(&big.zip_path());
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(
        r.text().contains("limit") || r.text().contains("too large"),
        "{}",
        r.text()
    );
    // The go.mod is not a zip: served.
    assert_eq!(g.get(&big.mod_path()).status, 200);
    // Without the rule's cap, the server's own cap applies.
    w.write_policy("");
    sighup(&g);
    wait_until("the reload lifts the cap", RELOAD, || {
        g.get(&big.zip_path()).status == 200
    });
}

/// The shipped strict-corporate and air-gapped examples (`deny_retracted = true`) against a
/// `file://` mirror made like `go mod download`'s cache, which has no `@latest`: the latest
/// version is derived from `@v/list` as the go command does (the highest release, not the
/// higher pre-release), so its retractions are enforced and the other versions are served.
#[test]
fn deny_retracted_works_against_a_mirror_without_latest() {
    let sumdb = FakeProxy::start(TestLog::new(DB_NAME));
    let sumdb_arg = sumdb.sumdb_flag();
    let mirror = tempfile::tempdir().expect("mirror");
    let go_mod = "module golang.org/x/text\n\ngo 1.21\n";
    let mut versions = Vec::new();
    for (v, go_mod) in [
        ("v0.3.8", go_mod.to_owned()),
        ("v0.3.9", go_mod.to_owned()),
        (
            "v0.4.0",
            format!("{go_mod}\n// Broken collation tables.\nretract v0.3.9\n"),
        ),
        // Its go.mod would retract v0.3.8, but a pre-release is not the latest.
        ("v0.5.0-rc.1", format!("{go_mod}\nretract v0.3.8\n")),
    ] {
        let mut p = FakeProxy::prepare(
            ModZip::new("golang.org/x/text", v).file("text.go", format!("package text // {v}\n")),
            &go_mod,
        );
        sumdb.log_module(&mut p);
        write_download_dir(mirror.path(), &p, &p.zip);
        versions.push(p);
    }
    let [ok, retracted, latest, _] = &versions[..] else {
        unreachable!()
    };
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("policy/examples");
    for example in ["strict-corporate.toml", "air-gapped.toml"] {
        // A copy beside a pin file holding the fake's hashes (air-gapped wants both proofs).
        let dir = tempfile::tempdir().expect("policy dir");
        std::fs::copy(examples.join(example), dir.path().join(example)).expect("copy");
        let pins: String = versions.iter().map(Published::go_sum).collect();
        std::fs::write(dir.path().join("air-gapped.sum"), pins).expect("pins");
        let policy = dir.path().join(example);
        let g = Goward::start(
            &file_url(mirror.path()),
            &sumdb_arg,
            &["--policy", policy.to_str().expect("utf-8 path")],
        );
        for p in [ok, latest] {
            let r = g.get(&p.zip_path());
            assert_eq!(r.status, 200, "{example}: {}: {}", p.at(), r.text());
            assert!(
                r.body == p.zip,
                "{example}: {}: not the published zip",
                p.at()
            );
        }
        let r = g.get(&retracted.zip_path());
        assert_eq!(r.status, 403, "{example}: {}", r.text());
        assert!(
            r.text().contains(
                "golang.org/x/text@v0.3.9 is retracted by its author: Broken collation tables."
            ),
            "{example}: {}",
            r.text()
        );
    }
}
