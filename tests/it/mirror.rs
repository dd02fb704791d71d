//! `goward mirror` (issue #12 §1): fills the cache through serve's pipeline from module
//! queries, `--list` files, projects (`--from`) and toolchains, against the fake upstream and
//! its fake checksum DB; then `goward serve --offline` serves what it mirrored to the real go
//! command, with the upstream replaced by a [`Trap`].

use std::path::Path;

use crate::support::fakeproxy::{FakeProxy, Fault, Published};
use crate::support::gocmd::{GoEnv, GoOutput};
use crate::support::modzip::{ModZip, try_h1_zip};
use crate::support::testlog::TestLog;
use crate::support::{Goward, Trap, files_containing, meta_file, run_goward};

const DB: &str = "sum.mirror.goward.test";

fn publish(fake: &FakeProxy, path: &str, version: &str) -> Published {
    let name = path.rsplit('/').next().unwrap_or("m");
    fake.publish(
        ModZip::new(path, version).file(
            &format!("{name}.go"),
            format!("package {name}\n\n// V is the version.\nconst V = {version:?}\n"),
        ),
        &format!("module {path}\n\ngo 1.21\n"),
    )
}

/// `goward mirror <args> --upstream <fake> --sumdb <vkey> --cache-dir <cache> --json`.
fn mirror(fake: &FakeProxy, vkey: &str, cache: &Path, args: &[&str]) -> GoOutput {
    let url = fake.url();
    let cache = cache.display().to_string();
    let mut full = vec!["mirror"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["--upstream", &url, "--sumdb", vkey, "--cache-dir", &cache]);
    run_goward(&full)
}

fn exit_code(out: &GoOutput) -> Option<i32> {
    out.status.code()
}

fn summary(out: &GoOutput) -> serde_json::Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("summary is not JSON: {e}\n{}", out.dump()))
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A list (with a range and a comment) and a project (go.mod + go.sum, one version needed
/// only for its go.mod) are mirrored; a second run fetches nothing; an offline goward then
/// serves `go mod download` of every mirrored module without touching the network.
#[test]
fn mirror_from_a_list_a_range_and_a_project_then_serve_offline() {
    let fake = FakeProxy::start(TestLog::new(DB));
    let vkey = fake.with_log(|l| l.vkey());
    let a: Vec<Published> = ["v1.0.0", "v1.1.0", "v1.2.0", "v1.3.0"]
        .iter()
        .map(|v| publish(&fake, "example.com/a", v))
        .collect();
    let b = publish(&fake, "example.com/b", "v0.1.0");
    let c = publish(&fake, "example.com/c", "v0.2.0");
    let d = publish(&fake, "example.com/d", "v1.0.0");

    let dir = tempfile::tempdir().expect("temp dir");
    let list = dir.path().join("mods.txt");
    std::fs::write(
        &list,
        "# what the build farm needs\nexample.com/d@v1.0.0  # pinned\n\nexample.com/a@>=v1.1.0, <v1.3.0\n",
    )
    .expect("write list");
    let project = dir.path().join("app");
    std::fs::create_dir(&project).expect("mkdir");
    std::fs::write(
        project.join("go.mod"),
        "module example.com/app\n\ngo 1.21\n\nrequire (\n\texample.com/b v0.1.0\n\texample.com/c v0.2.0 // indirect\n)\n",
    )
    .expect("write go.mod");
    std::fs::write(
        project.join("go.sum"),
        format!(
            "{}{} {}/go.mod {}\n",
            b.go_sum(),
            c.path,
            c.version,
            c.mod_h1
        ),
    )
    .expect("write go.sum");

    let cache = tempfile::tempdir().expect("temp dir");
    let list_arg = list.display().to_string();
    let project_arg = project.display().to_string();
    let args = ["--list", &list_arg, "--from", &project_arg, "--json"];
    let out = mirror(&fake, &vkey, cache.path(), &args);
    assert_eq!(exit_code(&out), Some(0), "{}", out.dump());
    let s = summary(&out);
    assert_eq!(
        strings(&s["proven"]),
        [
            "example.com/a@v1.1.0",
            "example.com/a@v1.2.0",
            "example.com/b@v0.1.0",
            "example.com/c@v0.2.0",
            "example.com/d@v1.0.0"
        ],
        "{}",
        out.dump()
    );
    assert_eq!(strings(&s["already_held"]), Vec::<String>::new());
    assert_eq!(s["refused"], serde_json::json!([]));
    // 4 whole versions (zip, mod, info) and one go.mod-only version (mod, info).
    assert_eq!(s["artifacts"], 14, "{}", out.dump());
    let zips = a[1].zip.len() + a[2].zip.len() + b.zip.len() + d.zip.len();
    assert!(
        s["bytes_fetched"].as_u64().unwrap_or(0) >= zips as u64,
        "{}",
        out.dump()
    );
    // Plain progress lines on stderr (not a terminal).
    assert!(
        out.stderr.contains("mirror: 1/14 ") && out.stderr.contains("mirror: 14/14 "),
        "{}",
        out.dump()
    );
    // The go.mod-only version's zip was never asked for; the range left v1.0.0 and v1.3.0 out.
    assert_eq!(fake.requests(&c.zip_path()), 0);
    assert!(meta_file(cache.path(), &c, "mod").is_file());
    assert!(!meta_file(cache.path(), &c, "zip").exists());
    for p in [&a[0], &a[3]] {
        assert_eq!(fake.requests(&p.zip_path()), 0, "{} was fetched", p.at());
    }

    // A second run: everything already held, nothing fetched again.
    fake.reset_requests();
    let out = mirror(&fake, &vkey, cache.path(), &args);
    assert_eq!(exit_code(&out), Some(0), "{}", out.dump());
    let s = summary(&out);
    assert_eq!(
        strings(&s["proven"]),
        Vec::<String>::new(),
        "{}",
        out.dump()
    );
    assert_eq!(strings(&s["already_held"]).len(), 5, "{}", out.dump());
    assert_eq!(s["bytes_fetched"], 0);
    let fetched: Vec<String> = fake
        .request_log()
        .into_iter()
        .filter(|r| r.ends_with(".zip") || r.ends_with(".mod") || r.ends_with(".info"))
        .collect();
    assert!(fetched.is_empty(), "the second run fetched {fetched:?}");

    // The text summary.
    let out = mirror(&fake, &vkey, cache.path(), &["example.com/d@v1.0.0"]);
    assert_eq!(exit_code(&out), Some(0), "{}", out.dump());
    assert!(
        out.stdout.starts_with(
            "mirror: proven 0, already held 1, refused 0, bytes fetched 0 B, elapsed "
        ),
        "{}",
        out.dump()
    );

    // Offline, from the mirrored cache only.
    let trap = Trap::new();
    let g = Goward::start_in(
        cache.path(),
        &trap.url(),
        &format!("{vkey} {}", trap.url()),
        &["--offline"],
    );
    let env = GoEnv::new(g.url(), &vkey);
    let want = [&a[1], &a[2], &b, &d];
    let ats: Vec<String> = want.iter().map(|p| p.at()).collect();
    let mut cmd = vec!["mod", "download"];
    cmd.extend(ats.iter().map(String::as_str));
    env.go(&cmd).assert_success();
    for p in want {
        let got = std::fs::read(env.download_dir(&p.path).join(format!("{}.zip", p.version)))
            .expect("downloaded zip");
        assert!(got == p.zip, "{}: other zip bytes offline", p.at());
    }
    let r = g.get("/example.com/a/@v/list");
    assert_eq!((r.status, r.text()), (200, "v1.1.0\nv1.2.0\n".to_owned()));
    // The go.mod-only version: its go.mod is served, its zip is not in the cache.
    assert_eq!(g.get(&c.mod_path()).status, 200);
    let r = g.get(&c.zip_path());
    assert_eq!(
        (r.status, r.text()),
        (
            404,
            "goward: not in this offline mirror: example.com/c@v0.2.0 .zip: add it on the connected side with goward mirror\n".to_owned()
        )
    );
    trap.assert_untouched();
}

/// `@latest` resolves as the go command does (the highest release in `@v/list`).
#[test]
fn mirror_latest_picks_the_highest_release() {
    let fake = FakeProxy::start(TestLog::new(DB));
    let vkey = fake.with_log(|l| l.vkey());
    for v in ["v1.2.0", "v1.10.0", "v1.9.0", "v1.11.0-rc.1"] {
        publish(&fake, "example.com/l", v);
    }
    let cache = tempfile::tempdir().expect("temp dir");
    let out = mirror(
        &fake,
        &vkey,
        cache.path(),
        &["example.com/l@latest", "--json"],
    );
    assert_eq!(exit_code(&out), Some(0), "{}", out.dump());
    assert_eq!(strings(&summary(&out)["proven"]), ["example.com/l@v1.10.0"]);

    // The highest version retracts itself and the one below: the go command's @latest
    // skips both.
    publish(&fake, "example.com/r", "v1.0.0");
    publish(&fake, "example.com/r", "v1.1.0");
    fake.publish(
        ModZip::new("example.com/r", "v1.2.0").file("r.go", "package r\n"),
        "module example.com/r\n\ngo 1.21\n\nretract [v1.1.0, v1.2.0] // broken\n",
    );
    let out = mirror(
        &fake,
        &vkey,
        cache.path(),
        &["example.com/r@latest", "--json"],
    );
    assert_eq!(exit_code(&out), Some(0), "{}", out.dump());
    assert_eq!(strings(&summary(&out)["proven"]), ["example.com/r@v1.0.0"]);
}

/// A module whose zip was tampered with upstream is refused with the reason serve gives,
/// named in the summary (exit 1), and nothing of it is stored; the others are mirrored.
#[test]
fn tampered_module_is_refused_named_and_not_stored() {
    let fake = FakeProxy::start(TestLog::new(DB));
    let vkey = fake.with_log(|l| l.vkey());
    let good = publish(&fake, "example.com/good", "v1.0.0");
    let bad = publish(&fake, "example.com/bad", "v1.0.0");
    let evil = ModZip::new("example.com/bad", "v1.0.0")
        .file("bad.go", "package bad\n\n// EVIL-MIRROR-PAYLOAD\n")
        .file("go.mod", "module example.com/bad\n\ngo 1.21\n")
        .stored()
        .build();
    let evil_h1 = try_h1_zip(&evil).expect("h1 of the evil zip");
    fake.set_fault(&bad.zip_path(), Fault::Body(evil));
    let cache = tempfile::tempdir().expect("temp dir");
    let out = mirror(&fake, &vkey, cache.path(), &[&good.at(), &bad.at()]);
    assert_eq!(exit_code(&out), Some(1), "{}", out.dump());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines
            .first()
            .is_some_and(|l| l.starts_with("mirror: proven 1, already held 0, refused 1, ")),
        "{}",
        out.dump()
    );
    assert_eq!(
        lines.get(1).copied(),
        Some(
            format!(
                "refused example.com/bad@v1.0.0: verifying example.com/bad@v1.0.0: zip hash mismatch \
                 for example.com/bad@v1.0.0: downloaded {evil_h1}, checksum database {DB} record {} says {}",
                bad.record.unwrap_or_default(),
                bad.zip_h1
            )
            .as_str()
        ),
        "{}",
        out.dump()
    );
    assert!(files_containing(cache.path(), b"EVIL-MIRROR-PAYLOAD").is_empty());
    for ext in ["zip", "mod"] {
        assert!(
            !meta_file(cache.path(), &bad, ext).exists(),
            "{ext} record stored"
        );
    }
    assert!(meta_file(cache.path(), &good, "zip").is_file());
}

/// A bad `--list` line is a usage error naming file:line; nothing is fetched.
#[test]
fn bad_list_line_is_a_usage_error_naming_the_line() {
    let fake = FakeProxy::start(TestLog::new(DB));
    let vkey = fake.with_log(|l| l.vkey());
    publish(&fake, "example.com/a", "v1.0.0");
    let dir = tempfile::tempdir().expect("temp dir");
    let list = dir.path().join("mods.txt");
    std::fs::write(&list, "example.com/a@v1.0.0\nexample.com/a v1.0.0\n").expect("write");
    let list_arg = list.display().to_string();
    let out = mirror(&fake, &vkey, dir.path(), &["--list", &list_arg]);
    assert_eq!(exit_code(&out), Some(2), "{}", out.dump());
    assert_eq!(
        out.stderr.trim_end(),
        format!(
            "goward mirror: {list_arg}:2: \"example.com/a v1.0.0\" is not MODULE@VERSION (nor @latest, nor @RANGE)"
        )
    );
    assert!(fake.request_log().is_empty(), "{:?}", fake.request_log());
    // A bad go.sum line in a project, likewise.
    let project = dir.path().join("app");
    std::fs::create_dir(&project).expect("mkdir");
    std::fs::write(
        project.join("go.mod"),
        "module example.com/app\n\nrequire example.com/a v1.0.0\n",
    )
    .expect("write go.mod");
    std::fs::write(
        project.join("go.sum"),
        "example.com/a v1.0.0 h1:x=\nexample.com/a v1.0.0/go.mod\n",
    )
    .expect("write go.sum");
    let project_arg = project.display().to_string();
    let out = mirror(&fake, &vkey, dir.path(), &["--from", &project_arg]);
    assert_eq!(exit_code(&out), Some(2), "{}", out.dump());
    assert_eq!(
        out.stderr.trim_end(),
        format!(
            "goward mirror: {}:2: not a go.sum line (want MODULE VERSION[/go.mod] h1:HASH)",
            project.join("go.sum").display()
        )
    );
    assert!(fake.request_log().is_empty(), "{:?}", fake.request_log());
    let out = mirror(&fake, &vkey, dir.path(), &[]);
    assert_eq!(exit_code(&out), Some(2), "{}", out.dump());
    assert_eq!(
        out.stderr.trim_end(),
        "goward mirror: nothing to mirror: give MODULE@QUERY arguments, --list, --from or --toolchain"
    );
}

/// A version that is not upstream is refused (exit 1) and named; so is a range that matches
/// nothing.
#[test]
fn missing_versions_and_empty_ranges_are_refused() {
    let fake = FakeProxy::start(TestLog::new(DB));
    let vkey = fake.with_log(|l| l.vkey());
    publish(&fake, "example.com/a", "v1.0.0");
    let cache = tempfile::tempdir().expect("temp dir");
    let out = mirror(
        &fake,
        &vkey,
        cache.path(),
        &["example.com/a@v1.9.9", "example.com/a@>=v2.0.0", "--json"],
    );
    assert_eq!(exit_code(&out), Some(1), "{}", out.dump());
    let s = summary(&out);
    let refused: Vec<String> = s["refused"]
        .as_array()
        .expect("refused")
        .iter()
        .map(|r| {
            format!(
                "{}: {}",
                r["target"].as_str().unwrap_or(""),
                r["reason"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        refused,
        [
            "example.com/a@>= v2.0.0: no version in @v/list is in the range >= v2.0.0".to_owned(),
            "example.com/a@v1.9.9: not found upstream: .zip answered 404: not found".to_owned(),
        ],
        "{}",
        out.dump()
    );
}

/// Toolchains: `--toolchain` with `--platforms`, and a project's `toolchain` line (for this
/// host by default), each mirrored through the checksum DB; then an offline goward serves the
/// `GOTOOLCHAIN` switch to the real go command, which runs the mirrored toolchain.
#[test]
fn mirror_toolchains_then_switch_offline() {
    use crate::toolchain::{GO_VERSION, MARKER, host_platform, make_writable, switch_env, world};
    let (goos, goarch) = host_platform();
    let w = world(&[
        (goos.as_str(), goarch.as_str()),
        ("linux", "amd64"),
        ("windows", "amd64"),
    ]);
    let cache = tempfile::tempdir().expect("temp dir");
    let out = mirror(
        &w.fake,
        &w.vkey,
        cache.path(),
        &[
            "--toolchain",
            GO_VERSION,
            "--platforms",
            "linux/amd64,windows/amd64",
            "--json",
        ],
    );
    assert_eq!(exit_code(&out), Some(0), "{}", out.dump());
    assert_eq!(
        strings(&summary(&out)["proven"]),
        [
            format!("golang.org/toolchain@v0.0.1-{GO_VERSION}.linux-amd64"),
            format!("golang.org/toolchain@v0.0.1-{GO_VERSION}.windows-amd64"),
        ],
        "{}",
        out.dump()
    );

    let project = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        project.path().join("go.mod"),
        format!("module example.com/app\n\ngo 1.21\n\ntoolchain {GO_VERSION}\n"),
    )
    .expect("write go.mod");
    let dir = project.path().display().to_string();
    let out = mirror(&w.fake, &w.vkey, cache.path(), &["--from", &dir, "--json"]);
    assert_eq!(exit_code(&out), Some(0), "{}", out.dump());
    let s = summary(&out);
    let host = format!("golang.org/toolchain@v0.0.1-{GO_VERSION}.{goos}-{goarch}");
    let (proven, held) = (strings(&s["proven"]), strings(&s["already_held"]));
    if goos == "linux" && goarch == "amd64" {
        assert_eq!((proven, held), (vec![], vec![host]), "{}", out.dump());
    } else {
        assert_eq!((proven, held), (vec![host], vec![]), "{}", out.dump());
    }

    let trap = Trap::new();
    let g = Goward::start_in(
        cache.path(),
        &trap.url(),
        &format!("{} {}", w.vkey, trap.url()),
        &["--offline"],
    );
    let env = switch_env(&g, &w.vkey);
    let out = env.go(&["version"]);
    make_writable(&env.modcache());
    out.assert_success();
    assert_eq!(out.stdout.trim(), MARKER, "{}", out.dump());
    trap.assert_untouched();
}

/// The policy applies as for serve: a denied module is refused with the rule's reason and
/// never fetched.
#[test]
fn policy_denial_is_a_named_refusal() {
    let fake = FakeProxy::start(TestLog::new(DB));
    let vkey = fake.with_log(|l| l.vkey());
    let ok = publish(&fake, "example.com/ok", "v1.0.0");
    let denied = publish(&fake, "example.com/denied", "v1.0.0");
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[[deny]]\nname = \"no-denied\"\nmodules = \"example.com/denied\"\nreason = \"not reviewed\"\n",
    )
    .expect("write policy");
    let policy_arg = policy.display().to_string();
    let cache = tempfile::tempdir().expect("temp dir");
    let out = mirror(
        &fake,
        &vkey,
        cache.path(),
        &[&ok.at(), &denied.at(), "--policy", &policy_arg],
    );
    assert_eq!(exit_code(&out), Some(1), "{}", out.dump());
    assert_eq!(
        out.stdout.lines().nth(1),
        Some(
            "refused example.com/denied@v1.0.0: denied by policy rule \"no-denied\": \
             example.com/denied@v1.0.0 matches \"example.com/denied\" (not reviewed)"
        ),
        "{}",
        out.dump()
    );
    assert_eq!(
        fake.requests_with_prefix("/example.com/denied/"),
        Vec::<String>::new()
    );
    assert!(meta_file(cache.path(), &ok, "zip").is_file());
}

/// An upstream failing with 500 says nothing about the module: exit 2, listed as an error,
/// not a refusal.
#[test]
fn upstream_failure_is_an_error_not_a_refusal() {
    let fake = FakeProxy::start(TestLog::new(DB));
    let vkey = fake.with_log(|l| l.vkey());
    let p = publish(&fake, "example.com/flaky", "v1.0.0");
    fake.set_fault(&p.zip_path(), Fault::Status(500, b"overloaded\n".to_vec()));
    let cache = tempfile::tempdir().expect("temp dir");
    let out = mirror(&fake, &vkey, cache.path(), &[&p.at()]);
    assert_eq!(exit_code(&out), Some(2), "{}", out.dump());
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines.first().is_some_and(
            |l| l.starts_with("mirror: proven 0, already held 0, refused 0, errors 1, ")
        ),
        "{}",
        out.dump()
    );
    assert_eq!(
        lines.get(1).copied(),
        Some(
            format!(
                "error example.com/flaky@v1.0.0: GET {}{}: 500 Internal Server Error: overloaded",
                fake.url(),
                p.zip_path()
            )
            .as_str()
        ),
        "{}",
        out.dump()
    );
    assert!(!meta_file(cache.path(), &p, "mod").exists());
}
