//! Cache hygiene through the goward binary: `goward cache verify` finds, names and quarantines
//! damage (and a following `serve` fetches and proves the version again), `goward cache gc`
//! shrinks the cache without touching the checksum-database state, and both are safe beside a
//! running `serve`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::fakeproxy::{FakeProxy, Fault, Published};
use crate::support::modzip::ModZip;
use crate::support::modzip::noise;
use crate::support::{
    Goward, fake_with_log, files_under, meta_file, run_goward, run_goward_stdout_closed,
    try_http_get, wait_until,
};

const DB: &str = "sum.hygiene-it.test";

fn publish(fake: &FakeProxy, path: &str, data_len: usize) -> Published {
    let mut z = ModZip::new(path, "v1.0.0").file("m.go", "package m\n");
    if data_len > 0 {
        z = z.file(
            "data.bin",
            noise(path.len() as u64 + data_len as u64, data_len),
        );
    }
    fake.publish(z, &format!("module {path}\n\ngo 1.21\n"))
}

fn meta_json(cache: &Path, p: &Published, ext: &str) -> serde_json::Value {
    let m = meta_file(cache, p, ext);
    serde_json::from_slice(&std::fs::read(&m).unwrap_or_else(|e| panic!("{}: {e}", m.display())))
        .expect("metadata is JSON")
}

fn blob_file(cache: &Path, p: &Published, ext: &str) -> PathBuf {
    let json = meta_json(cache, p, ext);
    let sha = json["sha256"].as_str().expect("sha256").to_owned();
    cache.join("blobs/sha256").join(&sha[..2]).join(sha)
}

#[track_caller]
fn assert_serves(g: &Goward, path: &str, want: &[u8]) {
    let r = g.get(path);
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    assert!(r.body == want, "GET {path}: served bytes differ");
}

fn cache_cmd(cache: &Path, vkey: &str, args: &[&str]) -> crate::support::gocmd::GoOutput {
    let c = cache.to_str().expect("utf-8 path");
    let mut full = vec!["cache"];
    full.extend_from_slice(&args[..1]);
    full.extend_from_slice(&["--cache-dir", c, "--sumdb", vkey]);
    full.extend_from_slice(&args[1..]);
    run_goward(&full)
}

fn code(o: &crate::support::gocmd::GoOutput) -> Option<i32> {
    o.status.code()
}

/// A clean cache verifies (exit 0); a flipped blob byte, a damaged metadata record, a truncated
/// blob and a proof whose record lacks the artifact's line are each named (exit 1) and
/// quarantined; verify is clean afterwards, and the running serve fetches and proves each again.
#[test]
fn cache_verify_finds_names_and_quarantines_damage() {
    let (fake, vkey) = fake_with_log(DB);
    let a = publish(&fake, "example.com/flipped", 0);
    let b = publish(&fake, "example.com/badmeta", 0);
    let c = publish(&fake, "example.com/truncated", 200 << 10);
    let d = publish(&fake, "example.com/badproof", 0);
    let mut g = Goward::start(&fake.url(), &vkey, &[]);
    for p in [&a, &b, &c, &d] {
        assert_serves(&g, &p.zip_path(), &p.zip);
        assert_serves(&g, &p.mod_path(), &p.mod_bytes);
    }
    let cache = g.cache_dir().to_path_buf();

    let o = cache_cmd(&cache, &vkey, &["verify"]);
    assert_eq!(code(&o), Some(0), "clean cache: {}\n{}", o.stdout, o.stderr);
    assert!(
        o.stdout.contains("8 artifacts") && o.stdout.contains("0 problem(s)"),
        "{}",
        o.stdout
    );
    let o = cache_cmd(&cache, &vkey, &["verify", "--json"]);
    assert_eq!(code(&o), Some(0), "{}", o.stderr);
    let j: serde_json::Value = serde_json::from_str(&o.stdout).expect("JSON report");
    assert_eq!(j["artifacts"], 8);
    assert_eq!(j["tree_heads"], 1);
    assert_eq!(j["proofs"], 8);
    assert_eq!(j["problems"].as_array().map(Vec::len), Some(0));

    // Damage.
    let a_blob = blob_file(&cache, &a, "zip");
    let mut bytes = std::fs::read(&a_blob).unwrap();
    bytes[40] ^= 0x10;
    std::fs::write(&a_blob, &bytes).unwrap();
    let flipped = bytes;
    std::fs::write(meta_file(&cache, &b, "mod"), b"{\"v\": 2, \"kind\": ").unwrap();
    let c_blob = blob_file(&cache, &c, "zip");
    let full = std::fs::read(&c_blob).unwrap();
    std::fs::write(&c_blob, &full[..full.len() / 2]).unwrap();
    let mut dj = meta_json(&cache, &d, "zip");
    dj["proofs"][0]["text"] =
        serde_json::Value::String(format!("{} {}/go.mod {}\n", d.path, d.version, d.mod_h1));
    std::fs::write(
        meta_file(&cache, &d, "zip"),
        serde_json::to_vec_pretty(&dj).unwrap(),
    )
    .unwrap();

    let o = cache_cmd(&cache, &vkey, &["verify"]);
    assert_eq!(
        code(&o),
        Some(1),
        "damaged cache: {}\n{}",
        o.stdout,
        o.stderr
    );
    let out = &o.stdout;
    assert!(out.contains("4 problem(s)"), "{out}");
    let line = |needle: &str| {
        out.lines()
            .find(|l| l.starts_with("BAD") && l.contains(needle))
            .unwrap_or_else(|| panic!("no problem line about {needle}:\n{out}"))
            .to_owned()
    };
    let l = line("example.com/flipped@v1.0.0 (zip)");
    assert!(l.contains("quarantined"), "{l}");
    let l = line("example.com/badmeta@v1.0.0 (go.mod)");
    assert!(l.contains("damaged metadata record"), "{l}");
    let l = line("example.com/truncated@v1.0.0 (zip)");
    assert!(l.contains("the record says"), "{l}");
    let l = line("example.com/badproof@v1.0.0 (zip)");
    assert!(
        l.starts_with("BAD proof")
            && l.contains(&format!(
                "record {} has no h1: line for {} {} [",
                d.record.expect("logged"),
                d.path,
                d.version
            )),
        "{l}"
    );

    let q = files_under(&cache.join("quarantine"));
    assert!(
        q.iter()
            .any(|f| std::fs::read(f).ok().as_ref() == Some(&flipped)),
        "flipped blob not in quarantine: {q:?}"
    );
    for (p, ext) in [(&a, "zip"), (&b, "mod"), (&c, "zip"), (&d, "zip")] {
        assert!(
            !meta_file(&cache, p, ext).exists(),
            "{} {ext}: record still in place",
            p.path
        );
    }
    assert!(!a_blob.exists() && !c_blob.exists());
    let o = cache_cmd(&cache, &vkey, &["verify"]);
    assert_eq!(
        code(&o),
        Some(0),
        "after quarantine: {}\n{}",
        o.stdout,
        o.stderr
    );

    // The following serve fetches and proves each again (restarted: serve keeps small
    // verified documents in memory too).
    g.restart();
    for (path, want) in [
        (a.zip_path(), &a.zip),
        (b.mod_path(), &b.mod_bytes),
        (c.zip_path(), &c.zip),
        (d.zip_path(), &d.zip),
    ] {
        let before = fake.requests(&path);
        assert_serves(&g, &path, want);
        assert_eq!(fake.requests(&path), before + 1, "{path} not fetched again");
    }
    let o = cache_cmd(&cache, &vkey, &["verify"]);
    assert_eq!(
        code(&o),
        Some(0),
        "after re-fetch: {}\n{}",
        o.stdout,
        o.stderr
    );
}

/// Bad usage and a missing cache exit 2.
#[test]
fn cache_commands_usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let o = run_goward(&["cache", "verify", "--cache-dir", missing.to_str().unwrap()]);
    assert_eq!(code(&o), Some(2), "{}", o.stderr);
    assert!(o.stderr.contains("no cache directory"), "{}", o.stderr);
    let d = dir.path().to_str().unwrap();
    let o = run_goward(&["cache", "gc", "--cache-dir", d, "--max-size", "10 parsecs"]);
    assert_eq!(code(&o), Some(2), "{}", o.stderr);
    let o = run_goward(&["cache", "gc", "--cache-dir", d, "--older-than", "30"]);
    assert_eq!(code(&o), Some(2), "{}", o.stderr);
}

/// `goward … | head -1`: a closed stdout ends each command quietly with status 0 (as for go
/// tools), never with Rust's "failed printing to stdout" panic (status 101).
#[test]
fn commands_exit_quietly_on_a_closed_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let policy = concat!(env!("CARGO_MANIFEST_DIR"), "/policy/default.toml");
    for args in [
        &[
            "cache",
            "gc",
            "--dry-run",
            "--max-size",
            "10MB",
            "--cache-dir",
            d,
        ][..],
        &["cache", "gc", "--dry-run", "--json", "--cache-dir", d],
        &["cache", "verify", "--cache-dir", d],
        &["policy", "check", policy],
    ] {
        // The same command prints something when stdout is open.
        let open = run_goward(args);
        assert_eq!(code(&open), Some(0), "{}", open.dump());
        assert!(!open.stdout.is_empty(), "{}", open.dump());
        let o = run_goward_stdout_closed(args);
        assert_eq!(code(&o), Some(0), "{}", o.dump());
        assert_eq!(o.stderr, "", "{}", o.dump());
    }
}

/// Without a limit gc removes nothing; --dry-run removes nothing; --max-size removes the
/// least-recently-verified artifacts and keeps the checksum-database state byte for byte; the
/// running serve fetches a collected version again.
#[test]
fn gc_max_size_removes_oldest_and_keeps_sumdb_state() {
    let (fake, vkey) = fake_with_log(DB);
    let pubs: Vec<Published> = ["example.com/gc1", "example.com/gc2", "example.com/gc3"]
        .iter()
        .map(|p| publish(&fake, p, 100 << 10))
        .collect();
    let g = Goward::start(&fake.url(), &vkey, &[]);
    for p in &pubs {
        assert_serves(&g, &p.zip_path(), &p.zip);
        assert_serves(&g, &p.mod_path(), &p.mod_bytes);
    }
    let cache = g.cache_dir().to_path_buf();
    // Verification times 1000, 2000, 3000 (oldest first).
    for (i, p) in pubs.iter().enumerate() {
        for ext in ["zip", "mod"] {
            let mut j = meta_json(&cache, p, ext);
            j["verified_at"] = serde_json::json!(1000 * (i as u64 + 1));
            std::fs::write(
                meta_file(&cache, p, ext),
                serde_json::to_vec_pretty(&j).unwrap(),
            )
            .unwrap();
        }
    }
    let sumdb_state = |c: &Path| -> Vec<(PathBuf, Vec<u8>)> {
        files_under(&c.join("sumdb"))
            .into_iter()
            .map(|f| {
                let b = std::fs::read(&f).unwrap();
                (f, b)
            })
            .collect()
    };
    let before = sumdb_state(&cache);
    assert!(
        before.iter().any(|(f, _)| f.ends_with("latest")),
        "no tree head: {before:?}"
    );
    let metas = |c: &Path| {
        files_under(&c.join("meta"))
            .into_iter()
            .filter(|f| f.to_string_lossy().ends_with(".json"))
            .count()
    };
    assert_eq!(metas(&cache), 6);

    let o = cache_cmd(&cache, &vkey, &["gc"]);
    assert_eq!(code(&o), Some(0), "{}\n{}", o.stdout, o.stderr);
    assert!(o.stdout.contains("nothing removed"), "{}", o.stdout);
    assert_eq!(metas(&cache), 6);

    let o = cache_cmd(&cache, &vkey, &["gc", "--max-size", "250KiB", "--dry-run"]);
    assert_eq!(code(&o), Some(0), "{}", o.stderr);
    assert!(
        o.stdout.contains("would remove example.com/gc1@v1.0.0"),
        "{}",
        o.stdout
    );
    assert_eq!(metas(&cache), 6);

    let gc1_zip = blob_file(&cache, &pubs[0], "zip");
    let gc2_zip = blob_file(&cache, &pubs[1], "zip");
    let o = cache_cmd(&cache, &vkey, &["gc", "--max-size", "250KiB"]);
    assert_eq!(code(&o), Some(0), "{}", o.stderr);
    assert!(
        o.stdout.contains("removed example.com/gc1@v1.0.0 (zip)"),
        "{}",
        o.stdout
    );
    assert!(
        !o.stdout.contains("gc3"),
        "the newest must stay: {}",
        o.stdout
    );
    assert!(!meta_file(&cache, &pubs[0], "zip").exists());
    assert!(!gc1_zip.exists(), "the unreferenced blob stays");
    assert!(meta_file(&cache, &pubs[2], "zip").exists());
    assert!(gc2_zip.exists() || !meta_file(&cache, &pubs[1], "zip").exists());
    let blob_bytes: u64 = files_under(&cache.join("blobs"))
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    assert!(blob_bytes <= 250 << 10, "still {blob_bytes} bytes of blobs");
    assert_eq!(
        sumdb_state(&cache),
        before,
        "the checksum-database state changed"
    );

    let asked = fake.requests(&pubs[0].zip_path());
    assert_serves(&g, &pubs[0].zip_path(), &pubs[0].zip);
    assert_eq!(fake.requests(&pubs[0].zip_path()), asked + 1);

    // Everything is older than a day (verified at 1000-3000 s after the epoch, or just now
    // for the re-fetched one): --older-than removes the old ones only.
    let o = cache_cmd(&cache, &vkey, &["gc", "--older-than", "1d"]);
    assert_eq!(code(&o), Some(0), "{}", o.stderr);
    assert!(
        meta_file(&cache, &pubs[0], "zip").exists(),
        "the fresh copy stays"
    );
    assert!(!meta_file(&cache, &pubs[2], "zip").exists());
    let gone = sumdb_state(&cache);
    assert!(
        before.iter().all(|b| gone.contains(b)),
        "the checksum-database state changed"
    );
    let o = cache_cmd(&cache, &vkey, &["verify"]);
    assert_eq!(code(&o), Some(0), "after gc: {}\n{}", o.stdout, o.stderr);
}

/// `cache verify` while serve streams a slow download into its temp file: the in-flight file is
/// left alone, verify is clean, and the download completes with the genuine bytes.
#[test]
fn cache_verify_beside_a_running_serve_spares_in_flight_downloads() {
    let (fake, vkey) = fake_with_log(DB);
    let warm = publish(&fake, "example.com/warm", 0);
    let big = publish(&fake, "example.com/slowbig", 1 << 20);
    fake.set_fault(
        &big.zip_path(),
        Fault::Trickle {
            chunk: 32 << 10,
            delay: Duration::from_millis(100),
        },
    );
    let g = Goward::start(&fake.url(), &vkey, &[]);
    assert_serves(&g, &warm.zip_path(), &warm.zip);
    let cache = g.cache_dir().to_path_buf();
    let url = g.url_for(&big.zip_path());
    let dl = std::thread::spawn(move || try_http_get(&url, Duration::from_secs(120)));
    // The zip being downloaded: the temp file that grows past 64 KiB (others are small
    // documents that serve commits at any moment).
    let big_tmp = || {
        files_under(&cache.join("tmp"))
            .into_iter()
            .find(|f| std::fs::metadata(f).is_ok_and(|m| m.len() > 64 << 10))
    };
    wait_until(
        "the zip's temp file in tmp/",
        Duration::from_secs(30),
        || big_tmp().is_some(),
    );
    let in_flight = big_tmp().expect("temp file");
    let o = cache_cmd(&cache, &vkey, &["verify"]);
    assert_eq!(
        code(&o),
        Some(0),
        "verify beside serve: {}\n{}",
        o.stdout,
        o.stderr
    );
    assert!(
        dl.is_finished() || in_flight.exists(),
        "verify removed the in-flight temp file {}",
        in_flight.display()
    );
    let r = dl.join().expect("download thread").expect("download");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.body == big.zip, "download broken by verify");
    let o = cache_cmd(&cache, &vkey, &["verify"]);
    assert_eq!(code(&o), Some(0), "{}\n{}", o.stdout, o.stderr);
}

/// `goward doctor --json` runs on this host and reports findings with severities; its exit
/// status follows the worst one.
#[test]
fn doctor_reports_json_findings() {
    let dir = tempfile::tempdir().unwrap();
    let o = run_goward(&[
        "doctor",
        "--json",
        "--cache-dir",
        dir.path().to_str().unwrap(),
        "--goward-url",
        "http://127.0.0.1:1",
    ]);
    let j: serde_json::Value = serde_json::from_str(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", o.stdout, o.stderr));
    let findings = j["findings"].as_array().expect("findings");
    assert!(
        findings.iter().any(|f| f["check"] == "go-on-path"),
        "{}",
        o.stdout
    );
    assert!(
        findings.iter().any(|f| f["check"] == "compressed-dir"),
        "{}",
        o.stdout
    );
    let worst = j["worst"].as_str().unwrap();
    let want = if worst == "ok" || worst == "info" {
        0
    } else {
        1
    };
    assert_eq!(code(&o), Some(want), "{}", o.stdout);
}

/// One re-check, two paths: the same damaged records — a second, non-matching `h1:` line in the
/// proven text, a record moved under another module, a record naming another version's (valid)
/// zip, a tampered tree note — are refused alike by `goward cache verify` (run on a copy of the
/// cache) and by a restarted `serve`, which fetches and proves each again instead of answering
/// with what the record names; the intact records are trusted by both.
#[test]
fn serve_and_cache_verify_recheck_records_alike() {
    let (fake, vkey) = fake_with_log(DB);
    let good = publish(&fake, "example.com/good", 0);
    let twoline = publish(&fake, "example.com/twoline", 0);
    let wrongmod = publish(&fake, "example.com/wrongmod", 0);
    let older = publish(&fake, "example.com/moved", 0);
    let moved = fake.publish(
        ModZip::new("example.com/moved", "v1.0.1").file("m.go", "package m // v1.0.1\n"),
        "module example.com/moved\n\ngo 1.21\n",
    );
    let tampered = publish(&fake, "example.com/tampered", 0);
    let all = [&good, &twoline, &wrongmod, &older, &moved, &tampered];
    let mut g = Goward::start(&fake.url(), &vkey, &[]);
    for p in all {
        assert_serves(&g, &p.zip_path(), &p.zip);
    }
    let cache = g.cache_dir().to_path_buf();
    let edit = |p: &Published, f: &dyn Fn(&mut serde_json::Value)| {
        let mut j = meta_json(&cache, p, "zip");
        f(&mut j);
        std::fs::write(
            meta_file(&cache, p, "zip"),
            serde_json::to_vec_pretty(&j).unwrap(),
        )
        .unwrap();
    };
    edit(&twoline, &|j| {
        let text = j["proofs"][0]["text"].as_str().unwrap().to_owned();
        let extra = format!("{} {} {}\n", twoline.path, twoline.version, good.zip_h1);
        j["proofs"][0]["text"] = (text + &extra).into();
    });
    edit(&wrongmod, &|j| j["module"] = "example.com/good".into());
    let from = meta_json(&cache, &older, "zip");
    edit(&moved, &|j| {
        for k in ["sha256", "size", "h1"] {
            j[k] = from[k].clone();
        }
    });
    edit(&tampered, &|j| {
        let note = j["proofs"][0]["note"].as_str().unwrap().to_owned();
        let mut lines: Vec<String> = note.lines().map(str::to_owned).collect();
        let hash = &mut lines[2];
        let first = if hash.starts_with('A') { "B" } else { "A" };
        hash.replace_range(..1, first);
        j["proofs"][0]["note"] = (lines.join("\n") + "\n").into();
    });

    // Path 1: cache verify, on a copy.
    let copy = tempfile::tempdir().unwrap();
    for f in files_under(&cache) {
        let to = copy.path().join(f.strip_prefix(&cache).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&f, &to).unwrap();
    }
    let o = cache_cmd(copy.path(), &vkey, &["verify"]);
    assert_eq!(code(&o), Some(1), "{}\n{}", o.stdout, o.stderr);
    let by_verify: Vec<bool> = all
        .iter()
        .map(|p| {
            let who = format!(" {}@{} (zip)", p.path, p.version);
            o.stdout
                .lines()
                .any(|l| l.starts_with("BAD") && l.contains(&who))
        })
        .collect();

    // Path 2: serve, restarted so that it loads every record from disk.
    g.restart();
    let by_serve: Vec<bool> = all
        .iter()
        .map(|p| {
            let before = fake.requests(&p.zip_path());
            assert_serves(&g, &p.zip_path(), &p.zip);
            fake.requests(&p.zip_path()) > before
        })
        .collect();

    assert_eq!(by_verify, by_serve, "cache verify:\n{}", o.stdout);
    assert_eq!(by_serve, [false, true, true, false, true, true]);
    let out = &o.stdout;
    for want in [
        format!(
            "zip hash mismatch for example.com/twoline@v1.0.0: downloaded {}",
            twoline.zip_h1
        ),
        "example.com/wrongmod@v1.0.0 (zip): metadata record does not match its location or format"
            .to_owned(),
        "example.com/moved@v1.0.1 (zip): the blob fails the module-zip rules for example.com/moved@v1.0.1".to_owned(),
        "the signed tree note does not verify".to_owned(),
    ] {
        assert!(out.contains(&want), "no {want:?} in:\n{out}");
    }
}
