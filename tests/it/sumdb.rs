//! goward's checksum-database proxy: `/sumdb/<name>/{supported,latest,lookup/…,tile/…}`.
//!
//! Each test builds its own world: a fake upstream ([`FakeProxy`]) serving a fake checksum DB
//! ([`TestLog`], tile height 8) under `/sumdb/<name>/`, and a goward process on its own cache
//! dir. Most checks are plain HTTP GETs; one drives the real go command with
//! `GOSUMDB=<vkey>`, which then fetches every lookup and tile through goward.
//!
//! What goward promises (README "Endpoints", "What is verified"; go-protocol.md §2;
//! attacks.md #1–#3, #5, #6, #8): lookups are served only once proven, byte-identical to the
//! upstream's; tiles only once authenticated against the trusted head; `/latest` falls back to
//! the persisted trusted head and never rolls a client back; a fork stops every use of the
//! database, across restarts, until the report file is removed.

use std::path::{Path, PathBuf};

use goward::xmod::note;
use goward::xmod::tlog::{self, Hash};

use crate::support::fakeproxy::{FakeProxy, Fault, Published, escape};
use crate::support::gocmd::GoEnv;
use crate::support::modzip::ModZip;
use crate::support::testlog::TestLog;
use crate::support::{Goward, HttpResponse, files_containing, files_under, note_keypair};

/// Name of the fake checksum DB.
const DB: &str = "sum.sumdb-it.test";

// ---------------------------------------------------------------------------------------------
// Helpers.

/// A module with one Go file and a go.mod, published consistently (served and logged).
fn publish(fake: &FakeProxy, path: &str, version: &str) -> Published {
    fake.publish(module_zip(path, version, ""), &go_mod(path))
}

fn module_zip(path: &str, version: &str, extra: &str) -> ModZip {
    let pkg = path
        .rsplit('/')
        .next()
        .unwrap_or("m")
        .replace(['-', '.'], "_");
    ModZip::new(path, version).file("m.go", format!("package {pkg}\n{extra}"))
}

fn go_mod(path: &str) -> String {
    format!("module {path}\n\ngo 1.21\n")
}

/// The same module version with other content (what an attacker would like to serve).
fn tampered(p: &Published) -> Published {
    FakeProxy::prepare(
        module_zip(&p.path, &p.version, "\nvar Evil = true\n"),
        &String::from_utf8_lossy(&p.mod_bytes),
    )
}

/// `/sumdb/<DB>/<rel>`.
fn sdb(rel: &str) -> String {
    format!("/sumdb/{DB}/{rel}")
}

/// The `lookup/…` key of a published module (`<escaped path>@<escaped version>`).
fn lookup_key(p: &Published) -> String {
    format!("{}@{}", escape(&p.path), escape(&p.version))
}

/// The honest lookup body the fake's checksum DB gives for `p`.
fn honest_lookup(fake: &FakeProxy, p: &Published) -> Vec<u8> {
    fake.with_log(|l| l.lookup(&lookup_key(p)))
        .expect("module is in the checksum DB")
}

/// A lookup body: `"<id>\n<text>\n"` followed by `note`.
fn lookup_body(id: u64, text: &str, note: &[u8]) -> Vec<u8> {
    let mut b = tlog::format_record(id, text.as_bytes()).expect("valid record text");
    b.extend_from_slice(note);
    b
}

fn goward(fake: &FakeProxy) -> Goward {
    let vkey = fake.with_log(|l| l.vkey());
    Goward::start(&fake.url(), &vkey, &[])
}

/// The trusted head file of the DB in goward's cache.
fn head_file(cache: &Path) -> PathBuf {
    cache.join(format!("sumdb/{DB}/latest"))
}

fn fork_file(cache: &Path) -> PathBuf {
    cache.join(format!("sumdb/{DB}/SECURITY-ERROR"))
}

#[track_caller]
fn assert_status(r: &HttpResponse, status: u16, what: &str) {
    assert_eq!(
        r.status,
        status,
        "{what}: want {status}, got {}: {}",
        r.status,
        r.text()
    );
}

#[track_caller]
fn assert_body(r: &HttpResponse, want: &[u8], what: &str) {
    assert_status(r, 200, what);
    assert!(
        r.body == want,
        "{what}: served bytes differ\n--- served ---\n{}\n--- want ---\n{}",
        r.text(),
        String::from_utf8_lossy(want)
    );
}

/// Flips the lowest bit of byte `at`.
fn flipped(b: &[u8], at: usize) -> Vec<u8> {
    let mut b = b.to_vec();
    b[at] ^= 0x01;
    b
}

/// RFC 6962 hash of a full tile's hashes (x/mod tile.go `tileHash`).
fn tile_hash(data: &[u8]) -> Hash {
    let mut level: Vec<Hash> = data
        .chunks(32)
        .map(|c| c.try_into().expect("32-byte hashes"))
        .collect();
    assert!(level.len().is_power_of_two(), "full tiles only");
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|p| tlog::node_hash(&p[0], &p[1]))
            .collect();
    }
    level[0]
}

// ---------------------------------------------------------------------------------------------
// supported

#[test]
fn supported_is_answered_for_configured_databases_only() {
    let fake = FakeProxy::start(TestLog::new(DB));
    publish(&fake, "example.com/one", "v1.0.0");
    let g = goward(&fake);
    assert_status(&g.get(&sdb("supported")), 200, "configured DB");
    for other in [
        "/sumdb/sum.golang.org/supported",
        "/sumdb/sum.other.test/supported",
        "/sumdb/sum.other.test/latest",
    ] {
        // 404 so the go command falls through to the next GOPROXY entry / direct.
        assert_status(&g.get(other), 404, other);
    }

    // Two databases: the second one reached at an explicit URL, both served.
    const DB2: &str = "sum.second-it.test";
    let fake2 = FakeProxy::start(TestLog::new(DB2));
    let two = publish(&fake2, "example.com/two", "v1.0.0");
    let vkey = fake.with_log(|l| l.vkey());
    let vkey2 = fake2.with_log(|l| l.vkey());
    let g = Goward::start(
        &fake.url(),
        &vkey,
        &["--sumdb", &format!("{vkey2} {}/sumdb/{DB2}", fake2.url())],
    );
    assert_status(&g.get(&sdb("supported")), 200, "first DB");
    assert_status(&g.get(&format!("/sumdb/{DB2}/supported")), 200, "second DB");
    assert_status(&g.get("/sumdb/sum.other.test/supported"), 404, "unknown DB");
    assert_body(
        &g.get(&format!("/sumdb/{DB2}/latest")),
        &fake2.with_log(|l| l.signed_tree()),
        "second DB latest",
    );
    assert_body(
        &g.get(&two.lookup_path(DB2)),
        &fake2
            .with_log(|l| l.lookup(&lookup_key(&two)))
            .expect("lookup"),
        "second DB lookup",
    );
    assert_body(
        &g.get(&sdb("latest")),
        &fake.with_log(|l| l.signed_tree()),
        "first DB latest",
    );
    assert!(
        fake2.requests(&two.lookup_path(DB2)) == 1,
        "the second DB's lookup did not go to its URL: {:?}",
        fake2.request_log()
    );
}

// ---------------------------------------------------------------------------------------------
// lookup

/// A proven lookup is passed through byte for byte, kept, and served from the cache after a
/// restart without asking the upstream again.
#[test]
fn proven_lookup_is_served_byte_identical_and_kept() {
    let fake = FakeProxy::start(TestLog::new(DB));
    let a = publish(&fake, "example.com/Upper/a", "v1.2.3");
    fake.with_log(|l| l.add_fillers(20));
    let b = publish(&fake, "example.com/b", "v0.1.0-20240101000000-abcdefabcdef");
    let mut g = goward(&fake);
    for p in [&a, &b] {
        let want = honest_lookup(&fake, p);
        assert_body(&g.get(&p.lookup_path(DB)), &want, &p.at());
        let kept = g
            .cache_dir()
            .join(format!("sumdb/{DB}/lookup/{}", lookup_key(p)));
        assert_eq!(
            std::fs::read(&kept).ok().as_deref(),
            Some(want.as_slice()),
            "{} not kept at {}",
            p.at(),
            kept.display()
        );
    }
    let asked = fake.requests(&a.lookup_path(DB));
    assert_eq!(asked, 1);

    // Restart with the upstream's lookups broken: served from the kept, re-proven copy.
    fake.set_fault(&a.lookup_path(DB), Fault::Status(500, b"down\n".to_vec()));
    g.restart();
    assert_body(
        &g.get(&a.lookup_path(DB)),
        &honest_lookup(&fake, &a),
        "kept",
    );
    assert_eq!(fake.requests(&a.lookup_path(DB)), asked);
}

/// A lookup whose record text was changed (the note is honest): the record does not hash to
/// the leaf at its number. Refused for the endpoint and for the module; never kept.
#[test]
fn lookup_with_forged_record_text_is_refused_and_not_cached() {
    let fake = FakeProxy::start(TestLog::new(DB));
    let p = publish(&fake, "example.com/forged", "v1.0.0");
    fake.with_log(|l| l.add_fillers(3));
    let evil = tampered(&p);
    let id = p.record.expect("logged");
    let note = fake.with_log(|l| l.signed_tree());
    let forged = lookup_body(id, &evil.go_sum(), &note);
    fake.set_fault(&p.lookup_path(DB), Fault::Body(forged.clone()));
    fake.set_fault(&p.zip_path(), Fault::Body(evil.zip.clone()));
    let g = goward(&fake);

    let r = g.get(&p.lookup_path(DB));
    assert_status(&r, 502, "forged record via /lookup");
    let r = g.get(&p.zip_path());
    assert_status(&r, 502, "module proven by a forged record");
    assert!(
        fake.requests(&p.lookup_path(DB)) >= 1,
        "goward never asked for the forged lookup"
    );
    let lookups = g.cache_dir().join(format!("sumdb/{DB}/lookup"));
    assert!(
        files_under(&lookups).is_empty(),
        "a refused lookup was kept: {:?}",
        files_under(&lookups)
    );
    assert!(files_containing(g.cache_dir(), evil.zip_h1.as_bytes()).is_empty());
    assert!(files_containing(g.cache_dir(), &evil.zip).is_empty());

    // The honest answer is accepted afterwards (nothing of the forgery was remembered).
    fake.clear_faults();
    assert_body(
        &g.get(&p.lookup_path(DB)),
        &honest_lookup(&fake, &p),
        "honest",
    );
    assert_body(&g.get(&p.zip_path()), &p.zip, "honest zip");
}

/// attacks.md #5: the lookup's note is signed by a key goward was not configured with.
#[test]
fn lookup_signed_by_the_wrong_key_is_refused() {
    let fake = FakeProxy::start(TestLog::new(DB));
    let p = publish(&fake, "example.com/wrongkey", "v1.0.0");
    let (evil_skey, _) = note_keypair(DB, [0x42; 32]);
    let text =
        String::from_utf8(fake.with_log(|l| l.record(0).expect("record").to_vec())).expect("utf-8");
    let note = fake.with_log(|l| l.signed_tree_by(&evil_skey));
    fake.set_fault(
        &p.lookup_path(DB),
        Fault::Body(lookup_body(0, &text, &note)),
    );
    let g = goward(&fake);
    let r = g.get(&p.lookup_path(DB));
    assert_status(&r, 502, "wrong-key note");
    assert!(r.text().contains("verifying tree note"), "{}", r.text());
    assert_status(&g.get(&p.zip_path()), 502, "module behind a wrong-key note");
    assert!(
        !head_file(g.cache_dir()).exists(),
        "a wrong-key note became the head"
    );
    assert!(files_under(&g.cache_dir().join(format!("sumdb/{DB}/lookup"))).is_empty());
}

/// A record number at or beyond the signed tree size cannot be proven.
#[test]
fn lookup_with_record_id_outside_the_tree_is_refused() {
    let fake = FakeProxy::start(TestLog::new(DB));
    let p = publish(&fake, "example.com/outside", "v1.0.0");
    fake.with_log(|l| l.add_fillers(2));
    let n = fake.with_log(|l| l.size());
    let note = fake.with_log(|l| l.signed_tree());
    let g = goward(&fake);
    for id in [n, n + 1000, u64::from(u32::MAX)] {
        fake.set_fault(
            &p.lookup_path(DB),
            Fault::Body(lookup_body(id, &p.go_sum(), &note)),
        );
        let r = g.get(&p.lookup_path(DB));
        assert_status(&r, 502, &format!("record {id} of a tree of size {n}"));
        assert_status(
            &g.get(&p.zip_path()),
            502,
            "module with an out-of-tree record",
        );
    }
    assert!(files_under(&g.cache_dir().join(format!("sumdb/{DB}/lookup"))).is_empty());
    assert!(files_containing(g.cache_dir(), &p.zip).is_empty());
}

/// An unknown module is "not found" at the lookup endpoint (the go command reports it as
/// such), but a refusal (not 404) for module downloads.
#[test]
fn lookup_of_a_module_unknown_to_the_database_is_not_found() {
    let fake = FakeProxy::start(TestLog::new(DB));
    publish(&fake, "example.com/known", "v1.0.0");
    let unknown = FakeProxy::prepare(
        module_zip("example.com/unknown", "v1.0.0", ""),
        &go_mod("example.com/unknown"),
    );
    fake.serve(&unknown);
    let g = goward(&fake);
    let r = g.get(&unknown.lookup_path(DB));
    assert_status(&r, 404, "unknown module lookup");
    let r = g.get(&unknown.zip_path());
    assert_ne!(r.status, 200, "goward served a module the DB does not know");
    assert_ne!(r.status, 404, "a refused module must not look absent");
}

/// CVE-2026-56864 (attacks.md #2): the signed note after the record carries extra lines that
/// look like go.sum lines. Nothing from the note may be read as a checksum.
#[test]
fn go_sum_lines_in_the_note_do_not_vouch_for_a_tampered_zip() {
    let fake = FakeProxy::start(TestLog::new(DB));
    // Variant A: the record has the honest zip line; the note claims the tampered zip's hash.
    let a = publish(&fake, "example.com/notea", "v1.0.0");
    // Variant B: the record only has the go.mod line (CVE-2026-42501 shape); the note supplies
    // the zip line.
    let b = FakeProxy::prepare(
        module_zip("example.com/noteb", "v1.0.0", ""),
        &go_mod("example.com/noteb"),
    );
    fake.serve(&b);
    let b_id = fake.log_record(
        &b.path,
        &b.version,
        &format!("{} {}/go.mod {}\n", b.path, b.version, b.mod_h1),
    );
    let skey = fake.with_log(|l| l.skey());
    let signer = note::Signer::parse(&skey).expect("signer");
    let tree = fake.with_log(|l| l.tree());
    let g = goward(&fake);

    for (p, id) in [(&a, a.record.expect("logged")), (&b, b_id)] {
        let evil = tampered(p);
        let text = format!(
            "{}{} {} {}\n{} {}/go.mod {}\n",
            tlog::format_tree(&tree),
            p.path,
            p.version,
            evil.zip_h1,
            p.path,
            p.version,
            evil.mod_h1
        );
        let evil_note = note::sign(&text, &[&signer]).expect("sign");
        // The note is genuinely signed by the DB's key and names the real tree.
        let opened = note::open(&evil_note, &signer.verifier()).expect("evil note verifies");
        assert_eq!(
            tlog::parse_tree(opened.text.as_bytes()).expect("tree"),
            tree
        );
        let record = String::from_utf8(fake.with_log(|l| l.record(id).expect("rec").to_vec()))
            .expect("utf-8");
        let body = lookup_body(id, &record, &evil_note);
        fake.set_fault(&p.lookup_path(DB), Fault::Body(body.clone()));
        fake.set_fault(&p.zip_path(), Fault::Body(evil.zip.clone()));

        let r = g.get(&p.zip_path());
        assert_status(
            &r,
            502,
            &format!("{}: tampered zip vouched for by the note", p.at()),
        );
        assert!(
            files_containing(g.cache_dir(), &evil.zip).is_empty(),
            "{}: the tampered zip was cached",
            p.at()
        );
        // Old go commands reading through goward's /sumdb/ never see such a note.
        let lookup = g.get(&p.lookup_path(DB));
        assert_status(
            &lookup,
            502,
            &format!("{}: lookup whose note carries go.sum lines", p.at()),
        );
        assert!(lookup.body != body, "{}: lookup passed through", p.at());
    }
    // A note that carries go.sum lines is refused outright (pre-fix go
    // commands read hash lines from the note), so even the genuine zips are
    // refused while the database signs such notes.
    for p in [&a, &b] {
        fake.clear_fault(&p.zip_path());
        let r = g.get(&p.zip_path());
        assert_status(
            &r,
            502,
            &format!("{}: genuine zip under a note with go.sum lines", p.at()),
        );
        assert!(
            r.text().contains("signed tree note carries a go.sum line"),
            "{}",
            r.text()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// tile

/// A log of 300 records: one module, then fillers. Full tiles: `tile/8/0/000`, data `000`;
/// partial: `tile/8/0/001.p/44`, `tile/8/1/000.p/1`, `tile/8/data/001.p/44`.
fn log300() -> (FakeProxy, Published) {
    let fake = FakeProxy::start(TestLog::new(DB));
    let p = publish(&fake, "example.com/tiles", "v1.0.0");
    fake.with_log(|l| l.add_fillers(299));
    assert_eq!(fake.with_log(|l| l.size()), 300);
    (fake, p)
}

#[test]
fn tiles_served_equal_the_databases_tiles() {
    let (fake, _) = log300();
    let g = goward(&fake);
    for rel in [
        "tile/8/0/000",
        "tile/8/0/001.p/44",
        // An older partial width is a prefix of the current tile.
        "tile/8/0/001.p/10",
        "tile/8/1/000.p/1",
        "tile/8/data/000",
        "tile/8/data/001.p/44",
        "tile/8/data/001.p/3",
    ] {
        let want = fake
            .with_log(|l| l.tile(rel))
            .expect("the fake has the tile");
        assert_body(&g.get(&sdb(rel)), &want, rel);
        // Served again (from goward's memory or disk): still the same bytes.
        assert_body(&g.get(&sdb(rel)), &want, rel);
    }
    let r = g.get(&sdb("tile/8/0/000"));
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
}

#[test]
fn forged_hash_tile_is_refused_not_cached_and_the_honest_one_served_later() {
    let (fake, _) = log300();
    for (rel, at) in [
        ("tile/8/0/000", 100),
        ("tile/8/0/001.p/44", 0),
        ("tile/8/1/000.p/1", 31),
    ] {
        // A fresh goward: one that already authenticated the tile would not fetch it again.
        let g = goward(&fake);
        let honest = fake.with_log(|l| l.tile(rel)).expect("tile");
        let forged = flipped(&honest, at);
        fake.set_fault(&sdb(rel), Fault::Body(forged.clone()));
        let r = g.get(&sdb(rel));
        assert_status(&r, 502, &format!("forged {rel}"));
        assert!(fake.requests(&sdb(rel)) >= 1, "goward never fetched {rel}");
        let hits = files_containing(g.cache_dir(), &forged);
        assert!(hits.is_empty(), "forged {rel} was cached: {hits:?}");
        fake.clear_faults();
        assert_body(
            &g.get(&sdb(rel)),
            &honest,
            &format!("honest {rel} after the forgery"),
        );
    }
}

#[test]
fn forged_data_tile_is_refused() {
    let (fake, _) = log300();
    let g = goward(&fake);
    for rel in ["tile/8/data/000", "tile/8/data/001.p/44"] {
        let honest = fake.with_log(|l| l.tile(rel)).expect("tile");
        for forged in [
            flipped(&honest, 5),
            honest[..honest.len() - 1].to_vec(),
            [honest.as_slice(), b"example.com/extra v1.0.0 h1:x\n\n"].concat(),
        ] {
            fake.set_fault(&sdb(rel), Fault::Body(forged.clone()));
            assert_status(&g.get(&sdb(rel)), 502, &format!("forged {rel}"));
            let kept = g.cache_dir().join(format!("sumdb/{DB}/{rel}"));
            assert!(
                std::fs::read(&kept).map_or(true, |b| b == honest),
                "forged {rel} was cached"
            );
        }
        fake.clear_faults();
        assert_body(&g.get(&sdb(rel)), &honest, rel);
    }
}

#[test]
fn tile_outside_the_trusted_tree_is_404_and_other_heights_are_400() {
    let (fake, _) = log300();
    let g = goward(&fake);
    for rel in [
        "tile/8/0/002",
        "tile/8/0/001",
        "tile/8/0/001.p/45",
        "tile/8/1/000",
        "tile/8/2/000.p/1",
        "tile/8/data/001.p/45",
        "tile/8/data/x001/000",
    ] {
        assert_status(&g.get(&sdb(rel)), 404, rel);
    }
    for rel in ["tile/4/0/000", "tile/10/0/000.p/5", "tile/1/data/000"] {
        assert_status(&g.get(&sdb(rel)), 400, rel);
    }
    assert_status(&g.get(&sdb("tile/8/0/1")), 400, "non-canonical tile path");
}

/// attacks.md #3 (CVE-2026-56865). Tree sizes where several root subtrees share one tile: the
/// root *subtrees* outnumber the root *tiles*, and the pre-fix x/mod started authenticating
/// "the other tiles" at an index equal to the number of subtrees, skipping the tiles right
/// after the root tiles: the leaf tile holding the record (515 records: 3 root subtrees in 2
/// tiles, one tile skipped) and also its parent (65799 records: 5 subtrees in 3 tiles, two
/// tiles skipped). The upstream serves a forged
/// record with a forged leaf tile and a forged parent that agree with each other, not with the
/// signed root. goward must refuse the lookup and the module and keep none of it.
#[test]
fn forged_leaf_and_parent_tiles_that_agree_with_each_other_are_refused() {
    for (size, parent_rel, skipped) in [
        (
            515u64,
            "tile/8/1/000.p/2",
            ["tile/8/1/000.p/2", "tile/8/0/002.p/3"].as_slice(),
        ),
        (
            65799,
            "tile/8/1/000",
            ["tile/8/2/000.p/1", "tile/8/1/001.p/1", "tile/8/0/257.p/7"].as_slice(),
        ),
    ] {
        let started = std::time::Instant::now();
        let fake = FakeProxy::start(TestLog::new(DB));
        fake.with_log(|l| l.add_fillers(5));
        let p = publish(&fake, "example.com/cve56865", "v1.0.0");
        assert_eq!(p.record, Some(5));
        fake.with_log(|l| l.add_fillers(size - 6));
        assert_eq!(fake.with_log(|l| l.size()), size);
        eprintln!("size {size}: log built in {:?}", started.elapsed());

        let evil = tampered(&p);
        let note = fake.with_log(|l| l.signed_tree());
        let leaf_rel = "tile/8/0/000";
        let leaf = fake.with_log(|l| l.tile(leaf_rel)).expect("leaf tile");
        let parent = fake.with_log(|l| l.tile(parent_rel)).expect("parent tile");
        // Record 5 is entry 5 of the leaf tile; the leaf tile is entry 0 of its parent.
        let mut forged_leaf = leaf.clone();
        forged_leaf[5 * 32..6 * 32].copy_from_slice(&tlog::record_hash(evil.go_sum().as_bytes()));
        let mut forged_parent = parent.clone();
        forged_parent[..32].copy_from_slice(&tile_hash(&forged_leaf));

        for (what, with_parent) in [("leaf tile", false), ("leaf and parent tiles", true)] {
            let g = goward(&fake);
            fake.reset_requests();
            fake.set_fault(
                &p.lookup_path(DB),
                Fault::Body(lookup_body(5, &evil.go_sum(), &note)),
            );
            fake.set_fault(&p.zip_path(), Fault::Body(evil.zip.clone()));
            fake.set_fault(&sdb(leaf_rel), Fault::Body(forged_leaf.clone()));
            if with_parent {
                fake.set_fault(&sdb(parent_rel), Fault::Body(forged_parent.clone()));
            }
            let ctx = format!("size {size}, forged {what}");
            assert_status(&g.get(&p.zip_path()), 502, &ctx);
            assert_status(&g.get(&p.lookup_path(DB)), 502, &ctx);
            assert_status(&g.get(&p.mod_path()), 502, &ctx);
            // The scenario is the one intended: goward fetched the forged tiles and the roots.
            for rel in [leaf_rel, parent_rel].iter().chain(skipped) {
                assert!(
                    fake.requests(&sdb(rel)) >= 1,
                    "{ctx}: goward did not fetch {rel}: {:?}",
                    fake.requests_with_prefix(&sdb("tile/"))
                );
            }
            for (name, bytes) in [
                ("forged leaf tile", forged_leaf.as_slice()),
                ("forged parent tile", forged_parent.as_slice()),
                ("tampered zip", evil.zip.as_slice()),
                ("forged record", evil.zip_h1.as_bytes()),
            ] {
                let hits = files_containing(g.cache_dir(), bytes);
                assert!(hits.is_empty(), "{ctx}: {name} was cached: {hits:?}");
            }
            // Same goward, honest upstream: the genuine module is proven and served.
            fake.clear_faults();
            assert_body(
                &g.get(&p.zip_path()),
                &p.zip,
                &format!("{ctx}, then honest"),
            );
            assert_body(
                &g.get(&sdb(leaf_rel)),
                &leaf,
                &format!("{ctx}, honest leaf"),
            );
        }
        eprintln!("size {size}: done in {:?}", started.elapsed());
    }
}

// ---------------------------------------------------------------------------------------------
// latest

#[test]
fn latest_is_served_after_verification_and_from_the_trusted_head_when_upstream_is_down() {
    let fake = FakeProxy::start(TestLog::new(DB));
    let p = publish(&fake, "example.com/airgap", "v1.0.0");
    fake.with_log(|l| l.add_fillers(300));
    let note = fake.with_log(|l| l.signed_tree());
    let mut g = goward(&fake);
    assert_body(&g.get(&sdb("latest")), &note, "latest");
    assert_eq!(
        std::fs::read(head_file(g.cache_dir())).ok(),
        Some(note.clone())
    );
    assert_body(&g.get(&p.zip_path()), &p.zip, "zip");
    let lookup = honest_lookup(&fake, &p);
    assert_body(&g.get(&p.lookup_path(DB)), &lookup, "lookup");
    let tile = fake.with_log(|l| l.tile("tile/8/0/000")).expect("tile");
    assert_body(&g.get(&sdb("tile/8/0/000")), &tile, "tile");

    // The upstream's /latest fails: the persisted head is served, after a restart too.
    fake.set_fault(&sdb("latest"), Fault::Status(500, b"oops\n".to_vec()));
    g.restart();
    assert_body(&g.get(&sdb("latest")), &note, "latest with upstream 500");
    assert!(
        fake.requests(&sdb("latest")) >= 2,
        "goward did not try the upstream"
    );

    // The upstream is gone altogether: head, proven lookup, tiles and module still served.
    drop(fake);
    g.restart();
    assert_body(&g.get(&sdb("latest")), &note, "latest with upstream gone");
    assert_body(
        &g.get(&p.lookup_path(DB)),
        &lookup,
        "lookup with upstream gone",
    );
    assert_body(
        &g.get(&sdb("tile/8/0/000")),
        &tile,
        "tile with upstream gone",
    );
    assert_body(&g.get(&p.zip_path()), &p.zip, "zip with upstream gone");
    assert_status(
        &g.get(&sdb("supported")),
        200,
        "supported with upstream gone",
    );
    assert_status(&g.get("/readyz"), 200, "readyz with upstream gone");
}

/// A fresh goward (no head) with the upstream gone has nothing to serve: not 200.
#[test]
fn latest_without_a_trusted_head_and_without_upstream_is_an_error() {
    let fake = FakeProxy::start(TestLog::new(DB));
    publish(&fake, "example.com/nohead", "v1.0.0");
    let vkey = fake.with_log(|l| l.vkey());
    let url = fake.url();
    drop(fake);
    let g = Goward::start(&url, &vkey, &[]);
    let r = g.get(&sdb("latest"));
    assert!(
        r.status >= 500,
        "latest with no head and no upstream: {} {}",
        r.status,
        r.text()
    );
}

/// attacks.md #5: a `/latest` signed by another key, for a fresh goward and for one that already
/// trusts a head.
#[test]
fn latest_signed_by_the_wrong_key_is_refused() {
    let fake = FakeProxy::start(TestLog::new(DB));
    publish(&fake, "example.com/latestkey", "v1.0.0");
    let (evil_skey, _) = note_keypair(DB, [0x17; 32]);
    let evil = fake.with_log(|l| l.signed_tree_by(&evil_skey));
    fake.set_fault(&sdb("latest"), Fault::Body(evil.clone()));
    let mut g = goward(&fake);
    let r = g.get(&sdb("latest"));
    assert_status(&r, 502, "wrong-key latest, no head");
    assert!(!head_file(g.cache_dir()).exists());

    fake.clear_faults();
    let honest = fake.with_log(|l| l.signed_tree());
    assert_body(&g.get(&sdb("latest")), &honest, "honest latest");
    // Grow the honest log, then sign the new head with the wrong key.
    publish(&fake, "example.com/latestkey2", "v1.0.0");
    let evil = fake.with_log(|l| l.signed_tree_by(&evil_skey));
    fake.set_fault(&sdb("latest"), Fault::Body(evil.clone()));
    g.restart();
    let r = g.get(&sdb("latest"));
    assert_status(&r, 502, "wrong-key latest, with a head");
    assert_eq!(
        std::fs::read(head_file(g.cache_dir())).ok(),
        Some(honest),
        "the trusted head changed"
    );
    assert!(files_containing(g.cache_dir(), &evil).is_empty());
}

/// A log of 302 records (`first` is record 0, `last` record 301) and a copy of it at size 1.
fn rollback_world() -> (FakeProxy, Published, Published, TestLog) {
    let fake = FakeProxy::start(TestLog::new(DB));
    let first = publish(&fake, "example.com/first", "v1.0.0");
    let old = fake.log_snapshot();
    fake.with_log(|l| l.add_fillers(300));
    let last = publish(&fake, "example.com/last", "v1.0.0");
    (fake, first, last, old)
}

/// attacks.md #6 rollback: the upstream goes back to an older (consistent) tree head, first
/// only in `/latest` (a frozen head, tiles still available), then altogether (a lagging
/// mirror). Clients keep getting goward's newer head.
#[test]
fn older_upstream_tree_does_not_roll_clients_back() {
    let (fake, first, last, old) = rollback_world();
    let new_note = fake.with_log(|l| l.signed_tree());
    let old_note = old.signed_tree();
    let mut g = goward(&fake);
    assert_body(&g.get(&sdb("latest")), &new_note, "newer latest");

    // A frozen /latest: an old, validly signed head.
    fake.set_fault(&sdb("latest"), Fault::Body(old_note.clone()));
    g.restart(); // forget the short-lived copy of upstream's /latest
    assert_body(
        &g.get(&sdb("latest")),
        &new_note,
        "latest while upstream's is frozen",
    );
    assert!(
        fake.requests(&sdb("latest")) >= 2,
        "goward did not ask the upstream again"
    );
    fake.clear_faults();

    // goward proves modules in its newer tree (and so keeps tiles of it).
    assert_body(&g.get(&first.zip_path()), &first.zip, "first");
    assert_body(&g.get(&last.zip_path()), &last.zip, "last");

    // The whole upstream DB goes back to the older tree.
    fake.set_log(old);
    g.restart();
    let asked = fake.requests(&sdb("latest"));
    assert_body(
        &g.get(&sdb("latest")),
        &new_note,
        "latest after the upstream rolled back",
    );
    assert!(
        fake.requests(&sdb("latest")) > asked,
        "goward did not ask the upstream again"
    );
    assert_eq!(
        std::fs::read(head_file(g.cache_dir())).ok(),
        Some(new_note.clone())
    );
    assert!(
        !fork_file(g.cache_dir()).exists(),
        "a rollback to a prefix is not a fork"
    );
    assert_status(&g.get("/readyz"), 200, "readyz");
    assert_body(
        &g.get(&first.zip_path()),
        &first.zip,
        "first, after the rollback",
    );
    assert_status(&g.get(&first.lookup_path(DB)), 200, "first's lookup");
    assert_body(&g.get(&sdb("latest")), &new_note, "latest, still");
}

/// The lagging-mirror rollback when goward holds no tiles of its newer tree: the upstream can
/// not supply them any more, so goward cannot check that the older head is a prefix of its own.
/// It must still not roll clients back, and (README: "/latest falls back to the trusted head";
/// "an older upstream view is answered with our newer head") should serve its trusted head.
#[test]
fn older_upstream_tree_without_tiles_of_the_newer_one_still_gets_the_newer_head() {
    let (fake, _first, _last, old) = rollback_world();
    let new_note = fake.with_log(|l| l.signed_tree());
    let mut g = goward(&fake);
    assert_body(&g.get(&sdb("latest")), &new_note, "newer latest");
    fake.set_log(old);
    g.restart();
    let r = g.get(&sdb("latest"));
    assert!(
        r.status != 200 || r.body == new_note,
        "goward rolled a client back"
    );
    assert_body(&r, &new_note, "latest after the upstream rolled back");
    assert!(
        !fork_file(g.cache_dir()).exists(),
        "a rollback to a prefix is not a fork"
    );
}

/// attacks.md #6 fork: after goward trusted a head, the upstream's `/latest` is a different
/// tree signed with the same key. SECURITY ERROR, report file, 503 for the DB and the modules
/// it proved, across SIGKILL + restart, until the report is removed.
#[test]
fn forked_latest_is_a_security_error_until_the_report_is_removed() {
    let fake = FakeProxy::start(TestLog::new(DB));
    let a = publish(&fake, "example.com/forka", "v1.0.0");
    let base = fake.log_snapshot();
    let b = publish(&fake, "example.com/forkb", "v1.0.0");
    fake.with_log(|l| l.add_fillers(4));
    let honest_tree = fake.with_log(|l| l.tree());
    let mut g = goward(&fake);
    let honest_note = fake.with_log(|l| l.signed_tree());
    assert_body(&g.get(&sdb("latest")), &honest_note, "honest latest");
    assert_body(&g.get(&a.zip_path()), &a.zip, "a");
    assert_body(&g.get(&b.mod_path()), &b.mod_bytes, "b go.mod");
    let b_lookup = g.get(&b.lookup_path(DB));
    assert_body(&b_lookup, &honest_lookup(&fake, &b), "b lookup");

    // Same key, same first record, a different history afterwards, and a bigger tree.
    let mut fork = base;
    let evil_b = tampered(&b);
    fork.add_module(&b.path, &b.version, &evil_b.zip_h1, &evil_b.mod_h1);
    fork.add_fillers(10);
    let fork_tree = fork.tree();
    let fork_note = fork.signed_tree();
    assert_ne!(fork_tree.n, honest_tree.n);
    let honest = fake.set_log(fork);
    g.restart(); // forget the short-lived copy of upstream's /latest

    let r = g.get(&sdb("latest"));
    assert_status(&r, 503, "forked latest");
    assert!(r.text().contains("SECURITY ERROR"), "{}", r.text());
    let stderr = g.stderr();
    assert!(
        stderr.contains("SECURITY ERROR"),
        "no SECURITY ERROR logged:\n{stderr}"
    );
    for (what, tree) in [("old", honest_tree), ("new", fork_tree)] {
        // The report indents each note line with a tab.
        let (n, h) = (format!("\t{}\n", tree.n), tlog::format_hash(&tree.hash));
        assert!(
            stderr.contains(&h) && stderr.contains(&n),
            "the log lacks the {what} head ({n}, {h}):\n{stderr}"
        );
    }
    let report = std::fs::read_to_string(fork_file(g.cache_dir())).expect("SECURITY-ERROR file");
    for h in [honest_tree.hash, fork_tree.hash] {
        assert!(
            report.contains(&tlog::format_hash(&h)),
            "report lacks a head:\n{report}"
        );
    }
    // The fork's note must not have become the trusted head.
    assert_eq!(
        std::fs::read(head_file(g.cache_dir())).ok(),
        Some(honest_note.clone())
    );
    let kept = files_containing(g.cache_dir(), &fork_note);
    assert!(kept.is_empty(), "the fork's note was kept: {kept:?}");

    let untrusted = |g: &Goward, ctx: &str| {
        for path in [
            sdb("supported"),
            sdb("latest"),
            a.lookup_path(DB),
            b.lookup_path(DB),
            sdb("tile/8/0/000.p/2"),
            sdb("tile/8/data/000.p/1"),
            a.zip_path(),
            a.mod_path(),
            b.mod_path(),
            b.zip_path(),
            "/readyz".to_owned(),
        ] {
            let r = g.get(&path);
            assert_status(&r, 503, &format!("{ctx}: {path}"));
        }
    };
    untrusted(&g, "after the fork");
    // Even with the honest tree back, and across a SIGKILL + restart.
    fake.set_log(honest.clone());
    untrusted(&g, "honest upstream again");
    g.restart();
    untrusted(&g, "after a restart");

    // The operator looks at the report, then clears it: goward trusts the DB again, from its
    // old head.
    let cache_dir = g.cache_dir().to_str().expect("utf-8 cache dir").to_owned();
    let clear = |extra: &[&str]| {
        let mut args = vec!["sumdb", "clear-fork", DB, "--cache-dir", &cache_dir];
        args.extend_from_slice(extra);
        crate::support::run_goward(&args)
    };
    let shown = clear(&[]);
    assert_eq!(shown.status.code(), Some(1), "without --yes: {shown:?}");
    assert!(
        shown.stdout.contains("SECURITY ERROR") && shown.stdout.contains("run again with --yes"),
        "the report is shown, not removed: {}",
        shown.stdout
    );
    assert!(fork_file(g.cache_dir()).exists(), "removed without --yes");
    let removed = clear(&["--yes"]);
    assert_eq!(removed.status.code(), Some(0), "with --yes: {removed:?}");
    assert!(
        removed.stdout.contains("SECURITY ERROR") && removed.stdout.contains("removed "),
        "{}",
        removed.stdout
    );
    assert!(!fork_file(g.cache_dir()).exists(), "not removed with --yes");
    let again = clear(&["--yes"]);
    assert_eq!(again.status.code(), Some(1), "nothing left: {again:?}");
    assert!(again.stdout.contains("no fork report"), "{}", again.stdout);
    let bad = crate::support::run_goward(&[
        "sumdb",
        "clear-fork",
        "../../etc",
        "--cache-dir",
        &cache_dir,
        "--yes",
    ]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(
        bad.stderr
            .contains("invalid checksum database name \"../../etc\": must be host[/path]"),
        "{}",
        bad.stderr
    );
    let c = publish(&fake, "example.com/forkc", "v1.0.0");
    g.restart();
    assert_status(
        &g.get("/readyz"),
        200,
        "readyz after the report was removed",
    );
    assert_status(&g.get(&sdb("supported")), 200, "supported");
    assert_body(
        &g.get(&sdb("latest")),
        &fake.with_log(|l| l.signed_tree()),
        "latest",
    );
    assert_body(&g.get(&a.zip_path()), &a.zip, "cached a");
    assert_body(&g.get(&c.zip_path()), &c.zip, "new module c");
    // The kept (proven) record, re-proven at and signed by the current trusted head
    // (every lookup goward serves carries the head it trusts now).
    let record_end = b_lookup
        .body
        .windows(2)
        .position(|w| w == b"\n\n")
        .expect("record text ends in a blank line")
        + 2;
    let mut want = b_lookup.body[..record_end].to_vec();
    want.extend_from_slice(&fake.with_log(|l| l.signed_tree()));
    assert_body(&g.get(&b.lookup_path(DB)), &want, "b lookup");
}

/// One tile fetch that never answers stalls only the proof that needs it: the trusted head is
/// not locked across network I/O, so other proofs and tile requests go on (issue 10 §3).
#[test]
fn a_hanging_tile_fetch_does_not_stall_other_proofs_or_tiles() {
    let fake = FakeProxy::start(TestLog::new(DB));
    let a = publish(&fake, "example.com/hanga", "v1.0.0");
    let d = publish(&fake, "example.com/hangd", "v1.0.0");
    // d's lookup as the DB gave it at size 2, the head goward is about to trust.
    let d_lookup = honest_lookup(&fake, &d);
    let g = goward(&fake);
    assert_body(
        &g.get(&a.zip_path()),
        &a.zip,
        "a, trusting the tree of size 2",
    );

    // The log grows; the tile that proves the new tree against the head never arrives.
    let c = publish(&fake, "example.com/hangc", "v1.0.0");
    let stuck = sdb("tile/8/0/000.p/3");
    fake.set_fault(&stuck, Fault::Hang);
    // A mirror that still answers d from the tree goward trusts.
    fake.set_fault(&d.lookup_path(DB), Fault::Body(d_lookup.clone()));
    let url = g.url_for(&c.zip_path());
    let _stuck_client = std::thread::spawn(move || {
        crate::support::try_http_get(&url, std::time::Duration::from_secs(3600))
    });
    crate::support::wait_until(
        "goward asks for the hanging tile",
        std::time::Duration::from_secs(30),
        || fake.requests(&stuck) > 0,
    );

    let guard = std::time::Duration::from_secs(30);
    let r = g
        .try_get(&d.zip_path(), guard)
        .expect("d's proof completes while c's tile hangs");
    assert_body(&r, &d.zip, "d, proven while c's tile hangs");
    let r = g
        .try_get(&d.lookup_path(DB), guard)
        .expect("d's lookup completes while c's tile hangs");
    assert_body(&r, &d_lookup, "d lookup");
    let r = g
        .try_get(&sdb("tile/8/0/000.p/2"), guard)
        .expect("a tile request completes while c's tile hangs");
    let want = fake.with_log(|l| l.tile("tile/8/0/000.p/2")).expect("tile");
    assert_body(&r, &want, "tile of the trusted tree");
    assert_eq!(
        fake.requests(&stuck),
        1,
        "the hanging tile was asked for once"
    );
}

/// Two goward processes on one cache dir (issue 10 §3): one never rolls back the head the other
/// persisted, and a fork report written by one stops the other at its next head update.
#[test]
fn two_processes_on_one_store_never_roll_the_head_back_and_share_fork_reports() {
    let fake = FakeProxy::start(TestLog::new(DB));
    let vkey = fake.with_log(|l| l.vkey());
    let a = publish(&fake, "example.com/twoa", "v1.0.0");
    let b = publish(&fake, "example.com/twob", "v1.0.0");
    let base = fake.log_snapshot();
    fake.with_log(|l| l.add_fillers(1));
    let note3 = fake.with_log(|l| l.signed_tree());
    let cache = tempfile::tempdir().expect("temp dir");
    let p1 = Goward::start_in(cache.path(), &fake.url(), &vkey, &[]);
    let p2 = Goward::start_in(cache.path(), &fake.url(), &vkey, &[]);
    assert_body(
        &p2.get(&a.zip_path()),
        &a.zip,
        "p2 trusts the tree of size 3",
    );

    // p1 advances the shared head to 5.
    fake.with_log(|l| l.add_fillers(1));
    let c = publish(&fake, "example.com/twoc", "v1.0.0");
    let note5 = fake.with_log(|l| l.signed_tree());
    assert_body(
        &p1.get(&c.zip_path()),
        &c.zip,
        "p1 trusts the tree of size 5",
    );
    assert_eq!(
        std::fs::read(head_file(cache.path())).ok(),
        Some(note5.clone())
    );

    // p2, still at 3 in memory, proves b against a tree of size 4: older than the shared
    // head, which must stay at 5.
    let b_text = {
        let body = honest_lookup(&fake, &b);
        let (_, text, _) = tlog::parse_record(&body).expect("lookup");
        String::from_utf8(text.to_vec()).expect("utf-8")
    };
    let note4 = {
        let mut four = base.clone();
        four.add_fillers(2);
        assert_eq!(four.tree(), fake.with_log(|l| l.tree_at(4)), "same history");
        four.signed_tree()
    };
    assert_ne!(note4, note3);
    fake.set_fault(
        &b.lookup_path(DB),
        Fault::Body(lookup_body(1, &b_text, &note4)),
    );
    assert_body(&p2.get(&b.zip_path()), &b.zip, "p2 proves b in tree 4");
    assert_eq!(
        std::fs::read(head_file(cache.path())).ok(),
        Some(note5.clone()),
        "p2 rolled the shared head back"
    );
    fake.clear_faults();

    // p1 sees a fork and records it; p2 stops at its next head update.
    let honest = fake.log_snapshot();
    let mut fork = base;
    fork.add_fillers(9);
    fake.set_log(fork);
    assert_status(&p1.get(&sdb("latest")), 503, "p1, forked latest");
    assert!(fork_file(cache.path()).exists(), "no fork report");
    fake.set_log(honest);
    let d = publish(&fake, "example.com/twod", "v1.0.0");
    let r = p2.get(&d.zip_path());
    assert_status(&r, 503, "p2 after p1 recorded a fork");
    assert!(
        r.text().contains("a fork was detected"),
        "p2's answer: {}",
        r.text()
    );
    assert_status(&p2.get("/readyz"), 503, "p2 readyz");
}

// ---------------------------------------------------------------------------------------------
// The real go command verifying through goward.

/// `go mod download` of a small module graph with `GOSUMDB=<vkey>` and `GOPROXY=goward`: the
/// go command reads lookups and tiles through goward and accepts them; its stored `latest` is a
/// note goward served, and every tile it kept equals the DB's.
#[test]
fn go_command_verifies_a_module_graph_through_goward() {
    let fake = FakeProxy::start(TestLog::new(DB));
    let d = fake.publish(
        ModZip::new("example.com/d", "v1.0.0").file("d.go", "package d\n\nconst D = 4\n"),
        "module example.com/d\n\ngo 1.21\n",
    );
    // Enough records for a full leaf tile and a level-1 tile in the proofs.
    fake.with_log(|l| l.add_fillers(300));
    let c = fake.publish(
        ModZip::new("example.com/c", "v0.3.0").file("c.go", "package c\n\nconst C = 3\n"),
        "module example.com/c\n\ngo 1.21\n",
    );
    let b = fake.publish(
        ModZip::new("example.com/b", "v1.2.0").file(
            "b.go",
            "package b\n\nimport \"example.com/d\"\n\nconst B = d.D - 2\n",
        ),
        "module example.com/b\n\ngo 1.21\n\nrequire example.com/d v1.0.0\n",
    );
    fake.with_log(|l| l.add_fillers(40));
    let a = fake.publish(
        ModZip::new("example.com/a", "v1.0.0").file(
            "a.go",
            "package a\n\nimport (\n\t\"example.com/b\"\n\t\"example.com/c\"\n)\n\nconst A = b.B + c.C\n",
        ),
        "module example.com/a\n\ngo 1.21\n\nrequire (\n\texample.com/b v1.2.0\n\texample.com/c v0.3.0\n)\n",
    );
    let vkey = fake.with_log(|l| l.vkey());
    let g = Goward::start(&fake.url(), &vkey, &[]);

    let env = GoEnv::new(g.url(), &vkey);
    env.write(
        "go.mod",
        "module example.com/app\n\ngo 1.21\n\nrequire example.com/a v1.0.0\n\n\
         require (\n\texample.com/b v1.2.0 // indirect\n\texample.com/c v0.3.0 // indirect\n\
         \texample.com/d v1.0.0 // indirect\n)\n",
    );
    env.write(
        "main.go",
        "package main\n\nimport \"example.com/a\"\n\nfunc main() { println(a.A) }\n",
    );
    env.go(&["mod", "download", "-x"]).assert_success();
    for p in [&a, &b, &c, &d] {
        let got = std::fs::read(env.download_dir(&p.path).join(format!("{}.zip", p.version)))
            .expect("zip in the go module cache");
        assert!(got == p.zip, "{}: go got other bytes", p.at());
    }
    // go's own trusted head is a note goward served (go can reach the DB only through goward:
    // its default URL https://<name> does not resolve).
    let gopath = env.modcache().join("../..");
    let go_latest =
        std::fs::read(gopath.join(format!("pkg/sumdb/{DB}/latest"))).expect("go's sumdb latest");
    let served = g.get(&sdb("latest"));
    assert_body(
        &served,
        &go_latest,
        "go's stored latest vs goward's /latest",
    );
    // Every tile the go command kept (it authenticates them itself) is the DB's tile.
    let tiles_dir = env.modcache().join(format!("cache/download/sumdb/{DB}"));
    let tiles: Vec<PathBuf> = files_under(&tiles_dir.join("tile"));
    assert!(!tiles.is_empty(), "the go command verified without tiles");
    for t in tiles {
        let rel = t
            .strip_prefix(&tiles_dir)
            .expect("under the dir")
            .to_string_lossy()
            .into_owned();
        let want = fake.with_log(|l| l.tile(&rel)).expect("a tile of the DB");
        assert!(
            std::fs::read(&t).expect("tile") == want,
            "go kept another {rel}"
        );
    }
    // The go command itself checks the go.sum lines it wrote against the lookups.
    env.go(&["mod", "verify"]).assert_success();
}
