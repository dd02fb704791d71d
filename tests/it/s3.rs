//! Several replicas on one S3-compatible bucket (`--store s3://…`), against a
//! local moto server ([`Moto`]) and the fake upstream. The bucket is shared
//! and writable by others: what one replica stored another serves without
//! asking the upstream, but only after re-checking it; tampered objects are
//! caught and re-fetched; the trusted tree head never rolls back; a fork
//! found by one replica stops the others; a bucket outage leaves warm blobs
//! served and everything else a 503 naming the cause.

use std::ffi::OsString;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use goward::store::{DocKey, ObjectStoreCache, Store};
use sha2::Digest;

use crate::support::fakeproxy::{FakeProxy, Published};
use crate::support::gocmd::{GoEnv, assert_refused_by_goward};
use crate::support::modzip::ModZip;
use crate::support::s3::{BUCKET, Fault, Moto, Relay};
use crate::support::testlog::TestLog;
use crate::support::{Goward, wait_until};

const DB: &str = "sum.goward.test";
const PREFIX: &str = "team";
/// A fork report another replica wrote stops this one within
/// `FORK_RECHECK` (10 s) plus one read; the test allows for slow CI.
const FORK_BOUND: Duration = Duration::from_secs(40);

/// The refusal of a forked database (`SumdbError::Fork`) and of every later request.
const REASON_FORK: &str = "inconsistent with the tree";
const REASON_DISTRUSTED: &str = "a fork was detected";

struct World {
    fake: FakeProxy,
    greet: Published,
    hello: Published,
    log_after_greet: TestLog,
    vkey: String,
}

fn world() -> World {
    let fake = FakeProxy::start(TestLog::new(DB));
    let greet = fake.publish(
        ModZip::new("example.com/greet", "v1.1.0").file("greet.go", "package greet\n"),
        "module example.com/greet\n\ngo 1.21\n",
    );
    let log_after_greet = fake.log_snapshot();
    let hello = fake.publish(
        ModZip::new("example.com/hello", "v1.0.0").file("hello.go", "package hello\n"),
        "module example.com/hello\n\ngo 1.21\n",
    );
    let vkey = fake.with_log(|l| l.vkey());
    World {
        fake,
        greet,
        hello,
        log_after_greet,
        vkey,
    }
}

/// A replica on the bucket behind `endpoint`, with its own local tier.
struct Replica {
    g: Goward,
    _tier: tempfile::TempDir,
}

impl std::ops::Deref for Replica {
    type Target = Goward;
    fn deref(&self) -> &Goward {
        &self.g
    }
}

fn replica(w: &World, endpoint: &str) -> Replica {
    replica_with(w, endpoint, &[])
}

/// [`replica`] with extra arguments.
fn replica_with(w: &World, endpoint: &str, extra: &[&str]) -> Replica {
    let tier = tempfile::Builder::new()
        .prefix("goward-tier-")
        .tempdir()
        .expect("temp dir");
    let mut args: Vec<OsString> = [
        "--upstream",
        &w.fake.url(),
        "--sumdb",
        &w.vkey,
        "--store",
        &format!("s3://{BUCKET}/{PREFIX}"),
    ]
    .iter()
    .map(OsString::from)
    .collect();
    args.extend(extra.iter().map(OsString::from));
    let g = Goward::start_args_env(tier.path(), args, Moto::env_for(endpoint));
    Replica { g, _tier: tier }
}

fn bare_env(proxy: &str, gosumdb: &str) -> GoEnv {
    let env = GoEnv::new(proxy, gosumdb);
    env.write("go.mod", "module example.com/scratch\n\ngo 1.21\n");
    env
}

fn blob_key(bytes: &[u8]) -> String {
    let sha: String = sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{PREFIX}/blobs/sha256/{}/{sha}", &sha[..2])
}

fn record_key(p: &Published, ext: &str) -> String {
    format!("{PREFIX}/meta/{}/@v/{}.{ext}.json", p.path, p.version)
}

#[track_caller]
fn assert_serves(g: &Goward, path: &str, want: &[u8]) {
    let r = g.get(path);
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    assert!(r.body == want, "GET {path}: served bytes differ");
}

/// The name, under `quarantine/`, of the quarantined copy of blob `sha`.
fn bucket_quarantined(b: &crate::support::s3::Bucket, sha: &str) -> String {
    b.keys(&format!("{PREFIX}/quarantine"))
        .into_iter()
        .filter_map(|k| k.rsplit('/').next().map(str::to_owned))
        .find(|n| n.starts_with(sha) && !n.ends_with(".why"))
        .unwrap_or_else(|| panic!("blob {sha} was not quarantined"))
}

/// The tree size of the trusted head stored in the bucket.
fn stored_head_size(b: &crate::support::s3::Bucket) -> u64 {
    let Some(note) = b.get(&format!("{PREFIX}/sumdb/{DB}/latest")) else {
        return 0;
    };
    String::from_utf8_lossy(&note)
        .lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .expect("a tree size on the second line of the stored head")
}

/// What replica A fetched, replica B serves to the go command with no
/// upstream request; the client alternates between them.
#[test]
fn two_replicas_share_one_verified_cache() {
    let moto = Moto::start();
    let w = world();
    let a = replica(&w, &moto.endpoint());
    let b = replica(&w, &moto.endpoint());

    let env = bare_env(a.url(), &w.vkey);
    env.go(&["mod", "download", &w.greet.at()]).assert_success();
    let env = bare_env(b.url(), &w.vkey);
    env.go(&["mod", "download", &w.hello.at()]).assert_success();
    let bucket = moto.client();
    for p in [&w.greet, &w.hello] {
        assert!(bucket.get(&record_key(p, "zip")).is_some(), "{}", p.at());
        assert_eq!(
            bucket.get(&blob_key(&p.zip)).as_deref(),
            Some(&p.zip[..]),
            "{}",
            p.at()
        );
    }

    // Each replica now serves what the other fetched, from the bucket.
    w.fake.reset_requests();
    let env = bare_env(b.url(), &w.vkey);
    env.go(&["mod", "download", &w.greet.at(), &w.hello.at()])
        .assert_success();
    let env = bare_env(a.url(), &w.vkey);
    env.go(&["mod", "download", &w.greet.at(), &w.hello.at()])
        .assert_success();
    for p in [&w.greet, &w.hello] {
        assert_serves(&a, &p.zip_path(), &p.zip);
        assert_serves(&b, &p.zip_path(), &p.zip);
        assert_eq!(w.fake.requests(&p.zip_path()), 0, "{} zip", p.at());
        assert_eq!(w.fake.requests(&p.mod_path()), 0, "{} go.mod", p.at());
    }
}

/// A blob replaced in the bucket, and a record pointing at another
/// version's valid blob, are caught by a replica that did not write them,
/// quarantined, and the version fetched, proven and stored again.
#[test]
fn tampered_objects_in_the_bucket_are_caught_and_refetched() {
    let moto = Moto::start();
    let w = world();
    let a = replica(&w, &moto.endpoint());
    assert_serves(&a, &w.hello.zip_path(), &w.hello.zip);
    assert_serves(&a, &w.greet.zip_path(), &w.greet.zip);
    drop(a);
    let bucket = moto.client();

    // 1. The blob's bytes changed (same length).
    let key = blob_key(&w.hello.zip);
    let mut evil = w.hello.zip.clone();
    let mid = evil.len() / 2;
    evil[mid] ^= 0x01;
    bucket.put(&key, evil);
    w.fake.reset_requests();
    let b = replica(&w, &moto.endpoint());
    assert_serves(&b, &w.hello.zip_path(), &w.hello.zip);
    assert_eq!(w.fake.requests(&w.hello.zip_path()), 1, "not re-fetched");
    let sha = key.rsplit('/').next().unwrap();
    let caught = format!(
        "cached record failed its re-check: blob SHA-256 is {}, its name says {sha}",
        blob_key(
            &bucket
                .get(&format!(
                    "{PREFIX}/quarantine/{}",
                    bucket_quarantined(&bucket, sha)
                ))
                .unwrap()
        )
        .rsplit('/')
        .next()
        .unwrap()
    );
    assert!(b.stderr().contains(&caught), "{caught}\n{}", b.stderr());
    assert_eq!(bucket.get(&key).as_deref(), Some(&w.hello.zip[..]));
    assert!(
        !bucket.keys(&format!("{PREFIX}/quarantine")).is_empty(),
        "nothing quarantined"
    );
    drop(b);

    // 2. hello's record names greet's (valid) blob.
    let rk = record_key(&w.hello, "zip");
    let mut rec: serde_json::Value =
        serde_json::from_slice(&bucket.get(&rk).expect("hello's record")).unwrap();
    let greet_sha = blob_key(&w.greet.zip)
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    rec["sha256"] = greet_sha.into();
    rec["size"] = (w.greet.zip.len() as u64).into();
    bucket.put(&rk, serde_json::to_vec(&rec).unwrap());
    w.fake.reset_requests();
    let c = replica(&w, &moto.endpoint());
    assert_serves(&c, &w.hello.zip_path(), &w.hello.zip);
    assert_eq!(w.fake.requests(&w.hello.zip_path()), 1, "not re-fetched");
    let caught = "cached record failed its re-check: the blob fails the module-zip rules for \
        example.com/hello@v1.0.0: example.com/greet@v1.1.0/greet.go: path does not have prefix \
        \"example.com/hello@v1.0.0/\"";
    assert!(c.stderr().contains(caught), "{}", c.stderr());
    // greet's blob is intact and still served.
    assert_serves(&c, &w.greet.zip_path(), &w.greet.zip);
}

/// Two replicas prove lookups from a growing checksum database at the same
/// time: the head stored in the bucket only grows, ends at the log's size,
/// and no fork is reported.
#[test]
fn two_replicas_advance_the_tree_head_without_rollback() {
    let moto = Moto::start();
    let w = world();
    let a = Arc::new(replica(&w, &moto.endpoint()));
    let b = Arc::new(replica(&w, &moto.endpoint()));
    let bucket = moto.client();
    let mut last = 0u64;
    for round in 0..6 {
        let mut published = Vec::new();
        for i in 0..2 {
            published.push(
                w.fake.publish(
                    ModZip::new(&format!("example.com/m{round}x{i}"), "v1.0.0")
                        .file("m.go", "package m\n"),
                    &format!("module example.com/m{round}x{i}\n\ngo 1.21\n"),
                ),
            );
        }
        let threads: Vec<_> = published
            .iter()
            .flat_map(|p| [(a.clone(), p.at()), (b.clone(), p.at())])
            .map(|(r, at)| {
                std::thread::spawn(move || {
                    let r = r.get(&format!("/sumdb/{DB}/lookup/{at}"));
                    (r.status, r.text())
                })
            })
            .collect();
        for t in threads {
            let (status, text) = t.join().unwrap();
            assert_eq!(status, 200, "{text}");
        }
        let size = stored_head_size(&bucket);
        assert!(
            size >= last,
            "the stored head rolled back: {last} -> {size}"
        );
        last = size;
    }
    let log_size = w.fake.with_log(|l| l.size());
    assert_eq!(last, log_size);
    for r in [&a, &b] {
        assert!(!r.stderr().contains("SECURITY ERROR"), "{}", r.stderr());
    }
    assert_eq!(
        bucket.get(&format!("{PREFIX}/sumdb/{DB}/SECURITY-ERROR")),
        None
    );
}

/// Replica A finds a fork and writes the report to the bucket; replica B
/// refuses within the documented bound, and again after a restart.
#[test]
fn a_fork_found_by_one_replica_stops_the_others() {
    let moto = Moto::start();
    let w = world();
    let a = replica(&w, &moto.endpoint());
    let mut b = replica(&w, &moto.endpoint());
    for r in [&a, &b] {
        bare_env(r.url(), "off")
            .go(&["mod", "download", &w.hello.at()])
            .assert_success();
    }

    let mut fork = w.log_after_greet.clone();
    let evil = FakeProxy::prepare(
        ModZip::new("example.com/hello", "v1.0.0")
            .file("hello.go", "package hello\n")
            .file("evil.go", "package hello\n\nvar Evil = true\n"),
        "module example.com/hello\n\ngo 1.21\n",
    );
    fork.add_module(&w.hello.path, &w.hello.version, &evil.zip_h1, &evil.mod_h1);
    let other = FakeProxy::prepare(
        ModZip::new("example.com/other", "v1.0.0").file("other.go", "package other\n"),
        "module example.com/other\n\ngo 1.21\n",
    );
    fork.add_module(&other.path, &other.version, &other.zip_h1, &other.mod_h1);
    w.fake.serve(&other);
    let honest = w.fake.set_log(fork);

    assert_refused_by_goward(
        &bare_env(a.url(), "off").go(&["mod", "download", &other.at()]),
        REASON_FORK,
    );
    let bucket = moto.client();
    let report = bucket
        .get(&format!("{PREFIX}/sumdb/{DB}/SECURITY-ERROR"))
        .expect("the fork report in the bucket");
    assert!(String::from_utf8_lossy(&report).starts_with("SECURITY ERROR"));
    // B can learn of the fork only from the bucket: the upstream is honest again.
    w.fake.set_log(honest);

    // A warm zip B proved before: answered from B's memory, so only B's
    // poll of the bucket can stop it.
    let path = w.hello.zip_path();
    wait_until(
        "replica B to refuse the forked database",
        FORK_BOUND,
        || {
            let r = b.get(&path);
            r.status == 503 && r.text().contains(REASON_DISTRUSTED)
        },
    );
    b.g.restart();
    let r = b.get(&path);
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(r.text().contains(REASON_DISTRUSTED), "{}", r.text());

    // The operator clears the report in the bucket.
    let env = Moto::env_for(&moto.endpoint());
    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let tier = tempfile::tempdir().unwrap();
    let store = format!("s3://{BUCKET}/{PREFIX}");
    let o = crate::support::run_goward_with(
        &[
            "sumdb",
            "clear-fork",
            DB,
            "--yes",
            "--store",
            &store,
            "--cache-dir",
            tier.path().to_str().unwrap(),
        ],
        &envs,
        std::process::Stdio::piped(),
    );
    assert_eq!(o.status.code(), Some(0), "{}\n{}", o.stdout, o.stderr);
    assert!(
        o.stdout.starts_with(&format!(
            "s3://{BUCKET}/{PREFIX}/sumdb/{DB}/SECURITY-ERROR:\nSECURITY ERROR"
        )),
        "{}",
        o.stdout
    );
    assert_eq!(
        bucket.get(&format!("{PREFIX}/sumdb/{DB}/SECURITY-ERROR")),
        None
    );
}

/// The bucket unreachable: a blob this replica already re-checked is still
/// served from its local tier; anything else is a 503 naming the cause;
/// with the bucket back, the replica recovers without a restart.
#[test]
fn a_bucket_outage_serves_warm_blobs_and_503s_the_rest() {
    let moto = Moto::start();
    let relay = Relay::start(moto.port());
    let w = world();
    let a = replica(&w, &relay.endpoint());
    assert_serves(&a, &w.hello.zip_path(), &w.hello.zip);

    relay.set_down(true);
    assert_serves(&a, &w.hello.zip_path(), &w.hello.zip);
    let r = a.get(&w.greet.zip_path());
    assert_eq!(r.status, 503, "{}", r.text());
    assert!(
        r.text()
            .starts_with("goward: shared store unavailable: get s3://"),
        "{}",
        r.text()
    );

    relay.set_down(false);
    assert_serves(&a, &w.greet.zip_path(), &w.greet.zip);
}

/// Conditional writes against the real S3 protocol: of many replicas
/// creating, then updating, the same document at once, exactly one wins
/// each race (If-None-Match / If-Match honoured by the server).
#[test]
fn conditional_writes_on_the_bucket_have_one_winner() {
    let moto = Moto::start();
    let bucket = moto.client();
    let tiers: Vec<_> = (0..8).map(|_| tempfile::tempdir().unwrap()).collect();
    let stores: Vec<ObjectStoreCache> = tiers
        .iter()
        .map(|t| {
            ObjectStoreCache::new(
                bucket.store.clone(),
                PREFIX,
                format!("s3://{BUCKET}/{PREFIX}"),
                t.path(),
                1 << 30,
            )
            .unwrap()
        })
        .collect();
    let key = DocKey::SumdbHead(DB.into());
    let created = bucket.block_on(futures_util::future::join_all(
        stores
            .iter()
            .enumerate()
            .map(|(i, s)| s.compare_and_swap_doc(&key, None, Bytes::from(format!("head {i}\n")))),
    ));
    let wins: Vec<usize> = created
        .iter()
        .enumerate()
        .filter(|(_, r)| *r.as_ref().unwrap())
        .map(|(i, _)| i)
        .collect();
    assert_eq!(wins.len(), 1, "{created:?}");
    let current = Bytes::from(format!("head {}\n", wins[0]));
    assert_eq!(
        bucket.block_on(stores[3].get_doc(&key)).unwrap(),
        Some(current.clone())
    );

    let updated = bucket.block_on(futures_util::future::join_all(
        stores.iter().enumerate().map(|(i, s)| {
            s.compare_and_swap_doc(
                &key,
                Some(current.clone()),
                Bytes::from(format!("next {i}\n")),
            )
        }),
    ));
    let wins = updated.iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(wins, 1, "{updated:?}");
    // A stale expectation never overwrites.
    assert!(
        !bucket
            .block_on(stores[0].compare_and_swap_doc(&key, Some(current), Bytes::from("stale\n")))
            .unwrap()
    );
}

/// `goward cache verify` and `cache gc` work on the bucket: a clean
/// bucket verifies, a blob damaged in it is named and quarantined, and gc
/// (no limit given: a report only) counts what is there.
#[test]
fn cache_verify_and_gc_run_on_the_bucket() {
    let moto = Moto::start();
    let w = world();
    let a = replica(&w, &moto.endpoint());
    for p in [&w.greet, &w.hello] {
        assert_serves(&a, &p.zip_path(), &p.zip);
        assert_serves(&a, &p.mod_path(), &p.mod_bytes);
    }
    let tier = tempfile::tempdir().unwrap();
    let store = format!("s3://{BUCKET}/{PREFIX}");
    let env = Moto::env_for(&moto.endpoint());
    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let cache = |args: &[&str]| {
        let mut full = vec!["cache"];
        full.extend_from_slice(&args[..1]);
        full.extend_from_slice(&[
            "--store",
            &store,
            "--cache-dir",
            tier.path().to_str().unwrap(),
            "--sumdb",
            &w.vkey,
        ]);
        full.extend_from_slice(&args[1..]);
        crate::support::run_goward_with(&full, &envs, std::process::Stdio::piped())
    };
    let o = cache(&["verify"]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", o.stdout, o.stderr);
    assert!(
        o.stdout.starts_with("s3://goward-test/team: 4 artifacts")
            && o.stdout.contains("1 tree heads checked; 0 problem(s)"),
        "{}",
        o.stdout
    );

    let key = blob_key(&w.greet.zip);
    let mut bad = w.greet.zip.clone();
    bad[40] ^= 0x10;
    moto.client().put(&key, bad);
    let o = cache(&["verify"]);
    assert_eq!(o.status.code(), Some(1), "{}\n{}", o.stdout, o.stderr);
    let line = o
        .stdout
        .lines()
        .find(|l| l.starts_with("BAD") && l.contains("example.com/greet@v1.1.0 (zip)"))
        .unwrap_or_else(|| panic!("no problem line about greet:\n{}", o.stdout));
    assert!(line.contains("quarantined"), "{line}");
    assert_eq!(
        moto.client().get(&key),
        None,
        "the damaged blob stayed in place"
    );
    let o = cache(&["verify"]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", o.stdout, o.stderr);

    let o = cache(&["gc", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", o.stdout, o.stderr);
    let j: serde_json::Value = serde_json::from_str(&o.stdout).expect("JSON report");
    assert_eq!(j["cache_dir"], "s3://goward-test/team");
    assert_eq!(j["artifacts"], 3);
    assert_eq!(j["evidence_objects"], 0);
    let before = j["before_bytes"].as_u64().unwrap();

    // Evidence objects no record names: one intact (noted, counted by gc),
    // one whose bytes are not its name (quarantined).
    let sha = |b: &[u8]| -> String {
        sha2::Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect()
    };
    let evidence_key = |name: &str| format!("{PREFIX}/evidence/sha256/{}/{name}", &name[..2]);
    let (intact, altered) = (sha(b"a signature"), sha(b"another signature"));
    let bucket = moto.client();
    bucket.put(&evidence_key(&intact), b"a signature".to_vec());
    bucket.put(&evidence_key(&altered), b"swapped".to_vec());
    let o = cache(&["verify"]);
    assert_eq!(o.status.code(), Some(1), "{}\n{}", o.stdout, o.stderr);
    let bad = format!(
        "BAD evidence s3://goward-test/{}: evidence object SHA-256 is {}, its name says {altered} [quarantined to s3://goward-test/{PREFIX}/quarantine/evidence.",
        evidence_key(&altered),
        sha(b"swapped")
    );
    assert!(
        o.stdout.lines().any(|l| l.starts_with(&bad)),
        "{}",
        o.stdout
    );
    let note = format!(
        "note: evidence object s3://goward-test/{} is named by no record yet (written within the hour, maybe just before its record): `cache gc` removes it if still unnamed an hour after it was written",
        evidence_key(&intact)
    );
    assert!(o.stdout.lines().any(|l| l == note), "{}", o.stdout);
    assert_eq!(bucket.get(&evidence_key(&altered)), None);
    let o = cache(&["gc", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}\n{}", o.stdout, o.stderr);
    let j: serde_json::Value = serde_json::from_str(&o.stdout).expect("JSON report");
    assert_eq!(j["evidence_objects"], 1);
    assert_eq!(j["before_bytes"], before + 11);
}

/// A replica SIGKILLed while uploading a 200 MiB zip to the bucket (the
/// relay slows the upload down) leaves no object and no record behind:
/// the multipart upload is completed only after the whole verified blob is
/// sent. Another replica then fetches, proves and serves the right bytes.
#[test]
fn a_replica_killed_mid_upload_leaves_nothing_visible() {
    const BIG: usize = 200 << 20;
    let moto = Moto::start();
    let relay = Relay::start(moto.port());
    let w = world();
    let big = w.fake.publish(
        ModZip::new("example.com/big", "v1.0.0")
            .stored()
            .file("data.bin", crate::support::modzip::noise(3, BIG)),
        "module example.com/big\n\ngo 1.21\n",
    );
    let a = replica(&w, &relay.endpoint());
    relay.set_rate(32 << 20);
    let url = a.url_for(&big.zip_path());
    let client = std::thread::spawn(move || {
        let _ = crate::support::try_http_get(&url, Duration::from_secs(600));
    });
    let before = relay.bytes_up();
    wait_until(
        "replica A to be part way through its upload",
        Duration::from_secs(300),
        || relay.bytes_up() > before + (48 << 20),
    );
    let Replica { mut g, _tier } = a;
    g.kill_hard();
    let _ = client.join();
    relay.set_rate(0);

    let bucket = moto.client();
    assert_eq!(
        bucket.get(&record_key(&big, "zip")),
        None,
        "a record appeared"
    );
    let key = blob_key(&big.zip);
    assert!(
        !bucket.keys(&format!("{PREFIX}/blobs")).contains(&key),
        "a partial blob is visible"
    );

    let b = replica(&w, &moto.endpoint());
    // 200 MiB fetched, checked, uploaded and served by a debug build on a
    // loaded CI machine: more than http_get's default timeout.
    let r = b
        .try_get(&big.zip_path(), Duration::from_secs(900))
        .expect("GET the big zip from replica B");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.body == big.zip, "replica B served other bytes");
    assert_eq!(bucket.get(&key).map(|b| b.len()), Some(big.zip.len()));
}

/// Cold-fetch deduplication across replicas: four replicas asked for one
/// cold zip at the same moment fetch it from the upstream once with the
/// fill leases (`If-None-Match` lease objects in the bucket); without them
/// (`fill_leases = false`) each may fetch it. Prints both counts.
#[test]
fn fill_leases_fetch_a_cold_zip_once_for_all_replicas() {
    const N: usize = 4;
    let moto = Moto::start();
    let w = world();
    let dir = tempfile::tempdir().unwrap();
    let no_leases = dir.path().join("no-leases.toml");
    std::fs::write(&no_leases, "fill_leases = false\n").unwrap();
    let with: Vec<Replica> = (0..N).map(|_| replica(&w, &moto.endpoint())).collect();
    let without: Vec<Replica> = (0..N)
        .map(|_| {
            replica_with(
                &w,
                &moto.endpoint(),
                &["--config", no_leases.to_str().unwrap()],
            )
        })
        .collect();
    let mut counts = Vec::new();
    for (arm, replicas) in [("leases", &with), ("no leases", &without)] {
        for round in 0..3 {
            let p = w.fake.publish(
                ModZip::new(&format!("example.com/cold{}x{round}", arm.len()), "v1.0.0")
                    .stored()
                    .file("data.bin", crate::support::modzip::noise(round, 4 << 20)),
                &format!("module example.com/cold{}x{round}\n\ngo 1.21\n", arm.len()),
            );
            let barrier = Arc::new(std::sync::Barrier::new(N));
            let threads: Vec<_> = replicas
                .iter()
                .map(|r| {
                    let (url, b) = (r.url_for(&p.zip_path()), barrier.clone());
                    std::thread::spawn(move || {
                        b.wait();
                        crate::support::http_get(&url)
                    })
                })
                .collect();
            for t in threads {
                let r = t.join().unwrap();
                assert_eq!(r.status, 200, "{arm}: {}", r.text());
                assert!(r.body == p.zip, "{arm}: served bytes differ");
            }
            let fetched = w.fake.requests(&p.zip_path());
            if arm == "leases" {
                assert_eq!(
                    fetched, 1,
                    "with leases, {N} replicas fetched one cold zip {fetched} times"
                );
            }
            counts.push((arm, round, fetched));
        }
    }
    eprintln!("upstream fetches of one cold zip asked of {N} replicas at once: {counts:?}");
}

/// The connection to the bucket cut in the middle of every part upload of a
/// multipart upload (the relay forwards 1 MiB of each part's body, then
/// cuts both connections, retries included): the request fails with a 503
/// naming the cause, nothing is visible in the bucket, and once the bucket
/// is healthy again the same replica stores and serves the right bytes,
/// without a restart.
#[test]
fn a_connection_reset_mid_upload_leaves_nothing_visible() {
    const SIZE: usize = 40 << 20;
    let moto = Moto::start();
    let relay = Relay::start(moto.port());
    let w = world();
    let big = w.fake.publish(
        ModZip::new("example.com/reset", "v1.0.0")
            .stored()
            .file("data.bin", crate::support::modzip::noise(5, SIZE)),
        "module example.com/reset\n\ngo 1.21\n",
    );
    let a = replica(&w, &relay.endpoint());
    relay.inject("PUT", "partNumber=", None, Fault::CutAfter(1 << 20));
    let r = a
        .try_get(&big.zip_path(), Duration::from_secs(600))
        .expect("an HTTP answer from replica A");
    assert_eq!(r.status, 503, "{}", r.text());
    let blob = blob_key(&big.zip);
    assert!(
        r.text().starts_with(&format!(
            "goward: shared store unavailable: upload s3://{BUCKET}/{blob}: "
        )),
        "{}",
        r.text()
    );
    assert!(
        count(&relay.take_seen(), "PUT", "partNumber=") >= 3,
        "the cut part upload was not retried"
    );
    let bucket = moto.client();
    assert_eq!(
        bucket.get(&record_key(&big, "zip")),
        None,
        "a record appeared"
    );
    assert!(
        !bucket.keys(&format!("{PREFIX}/blobs")).contains(&blob),
        "a partial blob is visible"
    );

    relay.clear_faults();
    let r = a
        .try_get(&big.zip_path(), Duration::from_secs(600))
        .expect("GET the zip again");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.body == big.zip, "replica A served other bytes");
    assert_eq!(bucket.get(&blob).map(|b| b.len()), Some(big.zip.len()));
}

/// Fills `w`'s two zips through a replica straight on moto, then stops it:
/// the bucket is warm, and a new replica's local tier is empty.
fn warm_bucket(w: &World, moto: &Moto) {
    let a = replica(w, &moto.endpoint());
    assert_serves(&a, &w.hello.zip_path(), &w.hello.zip);
    assert_serves(&a, &w.greet.zip_path(), &w.greet.zip);
}

/// How many of the relay's requests were `method` on a target containing `part`.
fn count(seen: &[crate::support::s3::Seen], method: &str, part: &str) -> usize {
    seen.iter()
        .filter(|s| s.method == method && s.target.contains(part))
        .count()
}

/// Faults on reading a blob from the bucket: a dropped connection and a
/// 500 are retried and the zip served; 500s on every try are a 503 naming
/// the cause, with nothing quarantined, rewritten or fetched upstream; the
/// replica recovers once the bucket answers again, without a restart.
#[test]
fn bucket_errors_on_a_blob_read_are_retried_or_a_clear_503() {
    let moto = Moto::start();
    let relay = Relay::start(moto.port());
    let w = world();
    warm_bucket(&w, &moto);
    let bucket = moto.client();
    let before = bucket.keys(PREFIX);
    w.fake.reset_requests();
    let b = replica(&w, &relay.endpoint());

    let hello_blob = blob_key(&w.hello.zip);
    let hello_sha = hello_blob.rsplit('/').next().unwrap();
    relay.inject("GET", hello_sha, Some(1), Fault::Drop);
    relay.inject("GET", hello_sha, Some(1), Fault::Status(500));
    relay.take_seen();
    assert_serves(&b, &w.hello.zip_path(), &w.hello.zip);
    assert_eq!(
        count(&relay.take_seen(), "GET", hello_sha),
        3,
        "the dropped and the failed GET were not retried"
    );

    let greet_blob = blob_key(&w.greet.zip);
    let greet_sha = greet_blob.rsplit('/').next().unwrap();
    relay.inject("GET", greet_sha, None, Fault::Status(500));
    let r = b.get(&w.greet.zip_path());
    assert_eq!(r.status, 503, "{}", r.text());
    let want = format!("goward: shared store unavailable: get s3://{BUCKET}/{greet_blob}: ");
    assert!(r.text().starts_with(&want), "{}", r.text());
    assert!(
        r.text()
            .contains("after 2 retries, max_retries: 2, retry_timeout: 15s  - Server returned non-2xx status code: 500 Internal Server Error: <?xml"),
        "{}",
        r.text()
    );
    assert_eq!(bucket.keys(PREFIX), before, "the bucket changed");
    assert_eq!(w.fake.requests(&w.greet.zip_path()), 0, "fetched upstream");

    relay.clear_faults();
    assert_serves(&b, &w.greet.zip_path(), &w.greet.zip);
    assert_eq!(bucket.keys(PREFIX), before, "the bucket changed");
    assert_eq!(w.fake.requests(&w.greet.zip_path()), 0, "fetched upstream");
    assert_eq!(w.fake.requests(&w.hello.zip_path()), 0, "fetched upstream");
}

/// The record's conditional PUT answered 500 on every try: the request is a
/// 503 naming the cause and no record is visible (the blob uploaded first
/// names no version: gc's grace period covers it); the next request, with
/// the bucket healthy again, fills the version.
#[test]
fn a_failed_record_write_leaves_nothing_visible_and_the_next_request_fills() {
    let moto = Moto::start();
    let relay = Relay::start(moto.port());
    let w = world();
    let a = replica(&w, &relay.endpoint());
    let rk = record_key(&w.hello, "zip");
    relay.inject("PUT", "/v1.0.0.zip.json", None, Fault::Status(500));
    let r = a.get(&w.hello.zip_path());
    assert_eq!(r.status, 503, "{}", r.text());
    let want = format!("goward: shared store unavailable: put s3://{BUCKET}/{rk}: ");
    assert!(r.text().starts_with(&want), "{}", r.text());
    assert!(
        r.text()
            .contains("after 2 retries, max_retries: 2, retry_timeout: 15s  - Server returned non-2xx status code: 500 Internal Server Error: <?xml"),
        "{}",
        r.text()
    );
    let bucket = moto.client();
    assert_eq!(bucket.get(&rk), None, "a record is visible");
    wait_until(
        "the fill lease to be released",
        Duration::from_secs(30),
        || bucket.keys(&format!("{PREFIX}/leases")).is_empty(),
    );

    relay.clear_faults();
    assert_serves(&a, &w.hello.zip_path(), &w.hello.zip);
    assert!(bucket.get(&rk).is_some(), "no record after the fill");
}

/// A bucket that trickles a blob's body: the replica downloads it whole,
/// re-checks it and serves the right bytes (the read timeout, 30 s, cuts
/// only a body that stalls).
#[test]
fn a_slow_blob_body_from_the_bucket_is_served_correctly() {
    let moto = Moto::start();
    let relay = Relay::start(moto.port());
    let w = world();
    let big = w.fake.publish(
        ModZip::new("example.com/slow", "v1.0.0")
            .stored()
            .file("data.bin", crate::support::modzip::noise(7, 768 << 10)),
        "module example.com/slow\n\ngo 1.21\n",
    );
    let a = replica(&w, &moto.endpoint());
    assert_serves(&a, &big.zip_path(), &big.zip);
    drop(a);
    w.fake.reset_requests();
    let b = replica(&w, &relay.endpoint());
    let sha = blob_key(&big.zip);
    let sha = sha.rsplit('/').next().unwrap();
    relay.inject("GET", sha, None, Fault::SlowBody(256 << 10));
    assert_serves(&b, &big.zip_path(), &big.zip);
    assert_eq!(w.fake.requests(&big.zip_path()), 0, "fetched upstream");
    assert!(
        count(&relay.take_seen(), "GET", sha) >= 1,
        "the blob did not come through the slow relay"
    );
}

/// The bucket requests of one cold fill, counted by the relay: the record
/// looked up, the fill lease taken and the record looked up again (another
/// replica may have just finished), the blob and the record created with
/// `If-None-Match: *` (no HEAD or GET first), then, after the answer, the
/// lease released. A go.mod just stored is served from the local tier, not
/// downloaded back.
#[test]
fn a_cold_fill_makes_seven_bucket_requests() {
    let moto = Moto::start();
    let relay = Relay::start(moto.port());
    let w = world();
    let a = replica(&w, &relay.endpoint());
    let r = a.get(&format!("/sumdb/{DB}/supported"));
    assert_eq!(r.status, 200, "{}", r.text());
    let blob = blob_key(&w.greet.zip);
    let sha = blob.rsplit('/').next().unwrap();
    let mod_blob = blob_key(&w.greet.mod_bytes);
    let mod_sha = mod_blob.rsplit('/').next().unwrap();
    for (path, sha, ext) in [
        (w.greet.zip_path(), sha, "zip"),
        (w.greet.mod_path(), mod_sha, "mod"),
    ] {
        relay.take_seen();
        let record = format!("greet/%40v/v1.1.0.{ext}.json");
        let mut seen: Vec<String> = Vec::new();
        let mut fetched_back = 0;
        let r = a.get(&path);
        assert_eq!(r.status, 200, "{}", r.text());
        wait_until(
            "the fill lease to be released",
            Duration::from_secs(30),
            || {
                for s in relay.take_seen() {
                    let what = if s
                        .target
                        .ends_with(&format!("/leases/meta/example.com/{record}"))
                    {
                        "lease"
                    } else if s.target.ends_with(&format!("/meta/example.com/{record}")) {
                        "record"
                    } else if s.target.ends_with(sha) {
                        "blob"
                    } else if s.target.ends_with("?delete") {
                        "objects"
                    } else {
                        continue;
                    };
                    if s.method == "GET" && what == "blob" {
                        fetched_back += 1;
                    }
                    seen.push(format!("{} {what}", s.method));
                }
                seen.last().is_some_and(|l| l == "POST objects")
            },
        );
        assert_eq!(
            seen,
            [
                "GET record",
                "PUT lease",
                "HEAD record",
                "PUT blob",
                "PUT record",
                "GET lease",
                "POST objects"
            ],
            "{path}"
        );
        assert_eq!(
            fetched_back, 0,
            "{path}: the blob just stored was downloaded back"
        );
    }
}

/// The counter `goward_recheck_blobs_total{source=…}` of `g`.
fn recheck_blobs(g: &Goward, source: &str) -> u64 {
    let page = g.get("/metrics").text();
    let prefix = format!("goward_recheck_blobs_total{{source=\"{source}\"}} ");
    page.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {prefix} in /metrics:\n{page}"))
}

/// Evicts `zip`'s blob from the local tier `tier` and swaps the bucket's
/// copy for other bytes of the same length; returns the bucket, the blob's
/// key and its SHA-256.
fn swap_blob(
    moto: &Moto,
    tier: &std::path::Path,
    zip: &[u8],
) -> (crate::support::s3::Bucket, String, String) {
    let key = blob_key(zip);
    let sha = key.rsplit('/').next().unwrap().to_owned();
    let tier_copy = tier.join("blobs/sha256").join(&sha[..2]).join(&sha);
    std::fs::remove_file(&tier_copy).expect("the tier's copy of the blob");
    let mut evil = zip.to_vec();
    let mid = evil.len() / 2;
    evil[mid] ^= 0x01;
    let bucket = moto.client();
    bucket.put(&key, evil);
    (bucket, key, sha)
}

/// The first use of a stored record re-hashes its blob once; that check is
/// remembered in the local tier, so the same replica restarted with its
/// tier does not re-hash it. The memo vouches only for bytes with the
/// blob's SHA-256: with the tier's copy evicted and the bucket's object
/// swapped, the replica downloads the swapped bytes, the verifying read
/// catches them, and the version is quarantined, fetched and served right.
#[test]
fn the_recheck_memo_survives_a_restart_in_the_local_tier() {
    let moto = Moto::start();
    let w = world();
    warm_bucket(&w, &moto);
    let Replica { mut g, _tier } = replica(&w, &moto.endpoint());
    assert_serves(&g, &w.hello.zip_path(), &w.hello.zip);
    assert_eq!(recheck_blobs(&g, "hashed"), 1);
    assert_eq!(recheck_blobs(&g, "remembered"), 0);

    g.restart();
    w.fake.reset_requests();
    assert_serves(&g, &w.hello.zip_path(), &w.hello.zip);
    assert_eq!(recheck_blobs(&g, "hashed"), 0, "re-hashed after a restart");
    assert_eq!(recheck_blobs(&g, "remembered"), 1);
    assert_eq!(w.fake.requests(&w.hello.zip_path()), 0);

    let (bucket, key, sha) = swap_blob(&moto, _tier.path(), &w.hello.zip);
    let sha = sha.as_str();
    g.restart();
    assert_serves(&g, &w.hello.zip_path(), &w.hello.zip);
    assert_eq!(recheck_blobs(&g, "remembered"), 1);
    assert_eq!(w.fake.requests(&w.hello.zip_path()), 1, "not re-fetched");
    let caught = "cached zip failed its digest check while being read (";
    assert!(g.stderr().contains(caught), "{}", g.stderr());
    assert_eq!(bucket.get(&key).as_deref(), Some(&w.hello.zip[..]));
    bucket_quarantined(&bucket, sha);
}

/// `goward doctor --store s3://…`: the bucket answers, honours conditional
/// writes (the probe object under `doctor/` is gone after), the credentials
/// come from the environment, and the local tier is named with its size;
/// an unreachable endpoint is an error naming the cause.
#[test]
fn doctor_checks_the_shared_store() {
    let moto = Moto::start();
    let tier = tempfile::tempdir().unwrap();
    let store = format!("s3://{BUCKET}/{PREFIX}");
    let doctor = |env: &[(String, String)]| {
        let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let o = crate::support::run_goward_with(
            &[
                "doctor",
                "--json",
                "--store",
                &store,
                "--cache-dir",
                tier.path().to_str().unwrap(),
            ],
            &envs,
            std::process::Stdio::piped(),
        );
        let j: serde_json::Value = serde_json::from_str(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", o.stdout, o.stderr));
        (o.status.code(), j)
    };
    let finding = |j: &serde_json::Value, check: &str| -> serde_json::Value {
        j["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == check)
            .unwrap_or_else(|| panic!("no {check} finding: {j}"))
            .clone()
    };

    let (_, j) = doctor(&Moto::env_for(&moto.endpoint()));
    let f = finding(&j, "store-reachable");
    assert_eq!(f["severity"], "ok", "{f}");
    assert_eq!(f["summary"], format!("{store} answers"));
    let f = finding(&j, "store-conditional-writes");
    assert_eq!(f["severity"], "ok", "{f}");
    let done = f["evidence"][0].as_str().unwrap();
    assert!(
        done.starts_with(&format!("{store}/doctor/probe-"))
            && done.ends_with(
                ": created with If-None-Match: *, refused a second create (412), refused an \
                 update with a wrong If-Match ETag (412), deleted"
            ),
        "{done}"
    );
    assert_eq!(
        moto.client().keys(&format!("{PREFIX}/doctor")),
        Vec::<String>::new()
    );
    let f = finding(&j, "store-credentials");
    assert_eq!(
        f["summary"],
        "S3 credentials: static keys from the environment (AWS_ACCESS_KEY_ID goward-test, AWS_SECRET_ACCESS_KEY)"
    );
    let f = finding(&j, "local-tier");
    assert_eq!(
        f["summary"],
        format!(
            "local tier {}: 0 blobs, 0 B of 4 GiB (--local-cache-size)",
            tier.path().display()
        )
    );

    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (code, j) = doctor(&Moto::env_for(&format!("http://127.0.0.1:{closed}")));
    assert_eq!(code, Some(1), "{j}");
    let f = finding(&j, "store-reachable");
    assert_eq!(f["severity"], "error", "{f}");
    assert_eq!(f["summary"], format!("{store} is unreachable"));
    let cause = f["evidence"][0].as_str().unwrap();
    assert!(
        cause.starts_with(&format!("shared store unavailable: list {store}/: ")),
        "{cause}"
    );
    assert_eq!(
        finding(&j, "store-conditional-writes")["severity"],
        "warning"
    );

    // No AWS_* keys, region or endpoint in the environment: all from the
    // shared profile files (`AWS_PROFILE`), which object_store does not read.
    let files = tempfile::tempdir().unwrap();
    let creds = files.path().join("credentials");
    let config = files.path().join("config");
    std::fs::write(
        &creds,
        "[default]\naws_access_key_id = wrong\n\n[goward]\naws_access_key_id = goward-test\n\
         aws_secret_access_key = goward-test-secret\n",
    )
    .unwrap();
    std::fs::write(
        &config,
        format!(
            "[profile goward]\nregion = us-east-1\nendpoint_url = {}\n",
            moto.endpoint()
        ),
    )
    .unwrap();
    let env: Vec<(String, String)> = [
        ("AWS_PROFILE", "goward".to_owned()),
        ("AWS_SHARED_CREDENTIALS_FILE", creds.display().to_string()),
        ("AWS_CONFIG_FILE", config.display().to_string()),
        ("AWS_ALLOW_HTTP", "true".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let (_, j) = doctor(&env);
    assert_eq!(finding(&j, "store-reachable")["severity"], "ok", "{j}");
    assert_eq!(
        finding(&j, "store-conditional-writes")["severity"],
        "ok",
        "{j}"
    );
    assert_eq!(
        finding(&j, "store-credentials")["summary"],
        format!(
            "S3 credentials: static keys of AWS profile goward in {}",
            creds.display()
        )
    );
}

/// A signed zip's re-check and that of the go.mod its signature covers
/// (which must be the go.mod inside that zip) come from the memo after a
/// restart: no blob is read twice, and the second restart reads none. The
/// memo keeps the zip's go.mod digest, so the zip's own re-check passes
/// from it. A swapped zip is still caught by its verifying read.
#[test]
fn a_signed_zip_rechecks_from_the_memo_after_a_restart() {
    use crate::signature::policy_e2e::Key;
    let moto = Moto::start();
    let w = world();
    let dir = tempfile::tempdir().expect("temp dir");
    let key = Key::new();
    std::fs::write(dir.path().join("release.pub"), &key.pem).unwrap();
    let sig = dir.path().join("sigs/example.com/hello/@v/v1.0.0.zip.sig");
    std::fs::create_dir_all(sig.parent().unwrap()).unwrap();
    std::fs::write(&sig, key.sign(&w.hello.zip)).unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        format!(
            "[[signer]]\nname = \"release\"\nkey = \"release.pub\"\n\n\
             [[allow]]\nname = \"signed\"\nmodules = \"example.com/hello\"\n\
             proof = [\"signature\"]\nsigners = \"release\"\n\
             signatures = \"file://{}/sigs/{{module}}/@v/{{version}}{{file}}.sig\"\n",
            dir.path().to_str().unwrap()
        ),
    )
    .unwrap();
    let Replica { mut g, _tier } = replica_with(
        &w,
        &moto.endpoint(),
        &["--policy", policy.to_str().unwrap()],
    );
    assert_serves(&g, &w.hello.zip_path(), &w.hello.zip);
    assert_serves(&g, &w.hello.mod_path(), &w.hello.mod_bytes);

    // Filled by this replica: the memo is written by the first re-check.
    g.restart();
    w.fake.reset_requests();
    assert_serves(&g, &w.hello.mod_path(), &w.hello.mod_bytes);
    assert_serves(&g, &w.hello.zip_path(), &w.hello.zip);
    // The go.mod's blob and the zip (read for the go.mod inside it), each
    // once; the zip's own re-check from what that read remembered.
    assert_eq!(recheck_blobs(&g, "hashed"), 2);
    assert_eq!(recheck_blobs(&g, "remembered"), 1);
    assert!(
        !g.stderr().contains("failed its re-check"),
        "{}",
        g.stderr()
    );

    g.restart();
    assert_serves(&g, &w.hello.mod_path(), &w.hello.mod_bytes);
    assert_serves(&g, &w.hello.zip_path(), &w.hello.zip);
    assert_eq!(recheck_blobs(&g, "hashed"), 0, "re-hashed after a restart");
    assert_eq!(recheck_blobs(&g, "remembered"), 3);
    assert!(
        !g.stderr().contains("failed its re-check"),
        "{}",
        g.stderr()
    );
    assert_eq!(w.fake.requests(&w.hello.zip_path()), 0);
    assert_eq!(w.fake.requests(&w.hello.mod_path()), 0);

    let (bucket, key, sha) = swap_blob(&moto, _tier.path(), &w.hello.zip);
    let sha = sha.as_str();
    g.restart();
    assert_serves(&g, &w.hello.mod_path(), &w.hello.mod_bytes);
    assert_serves(&g, &w.hello.zip_path(), &w.hello.zip);
    assert_eq!(w.fake.requests(&w.hello.zip_path()), 1, "not re-fetched");
    let caught = "cached zip failed its digest check while being read (";
    assert!(g.stderr().contains(caught), "{}", g.stderr());
    assert_eq!(bucket.get(&key).as_deref(), Some(&w.hello.zip[..]));
    bucket_quarantined(&bucket, sha);
}
