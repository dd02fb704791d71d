//! Verification stages, seen by a client that verifies nothing itself (plain GETs, as with
//! `GOSUMDB=off`): every stage refuses with its exact reason (502, never 404, so the client does
//! not fall through), nothing refused reaches the cache, and the same artifacts are served once
//! the upstream serves the genuine bytes (nothing was poisoned).
//!
//! `.info` (go-protocol.md §1.4), `.mod` (§1.1, §3.3), the module-zip rules (§4, attacks.md 7)
//! and mix-and-match across `.info`/`.mod`/`.zip` (attacks.md 9). The checksum DB always holds the
//! genuine hashes; the upstream lies through [`Fault::Body`]. Each zip case also checks that the
//! zip rule, not just the hash comparison, is what refuses: the body must carry the rule's
//! message.

use crate::support::fakeproxy::{FakeProxy, Fault, Published, default_info};
use crate::support::modzip::ModZip;
use crate::support::testlog::TestLog;
use crate::support::{Goward, HttpResponse, files_containing, files_under};

const DB: &str = "sum.goward.test";
const M: &str = "example.com/m";
const GO_MOD: &str = "module example.com/m\n\ngo 1.21\n";
const M_GO: &str = "package m\n\n// Answer is the answer.\nconst Answer = 42\n";

/// The genuine zip of `example.com/m` at `version` (with the go.mod the fake serves).
fn genuine(version: &str) -> ModZip {
    ModZip::new(M, version)
        .file("go.mod", GO_MOD)
        .file("m.go", M_GO)
}

struct World {
    fake: FakeProxy,
    p: Published,
    g: Goward,
}

fn world() -> World {
    let fake = FakeProxy::start(TestLog::new(DB));
    let p = fake.publish(genuine("v1.0.0"), GO_MOD);
    let vkey = fake.with_log(|l| l.vkey());
    let g = Goward::start(&fake.url(), &vkey, &[]);
    World { fake, p, g }
}

impl World {
    /// goward refuses `path` with 502 and every needle in its text/plain body.
    #[track_caller]
    fn assert_refused(&self, path: &str, needles: &[&str]) -> HttpResponse {
        let r = self.g.get(path);
        assert_eq!(r.status, 502, "{path}: {:?}", r.text());
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.starts_with("text/plain")),
            "{path}: {:?}",
            r.headers
        );
        for n in needles {
            assert!(r.text().contains(n), "{path}: {:?} lacks {n:?}", r.text());
        }
        r
    }

    /// No file in goward's cache holds `bytes`, and no artifact was stored at all.
    #[track_caller]
    fn assert_not_cached(&self, what: &str, bytes: &[u8]) {
        let hits = files_containing(self.g.cache_dir(), bytes);
        assert!(hits.is_empty(), "{what} reached goward's cache: {hits:?}");
        for d in ["blobs", "meta", "tmp"] {
            let files = files_under(&self.g.cache_dir().join(d));
            assert!(files.is_empty(), "{what}: stored {files:?}");
        }
    }

    /// Once the upstream is honest again, goward serves the genuine artifacts.
    #[track_caller]
    fn assert_recovers(&self) {
        self.fake.clear_faults();
        for (path, want) in [
            (self.p.info_path(), default_info(&self.p.version)),
            (self.p.mod_path(), self.p.mod_bytes.clone()),
            (self.p.zip_path(), self.p.zip.clone()),
        ] {
            let r = self.g.get(&path);
            assert_eq!(r.status, 200, "{path} after the fault: {:?}", r.text());
            assert!(r.body == want, "{path}: not the genuine bytes");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// .info

/// A `.info` naming another version than the one requested (how mix-and-match starts).
#[test]
fn info_naming_another_version_is_refused() {
    let w = world();
    let evil = default_info("v1.1.0");
    w.fake
        .set_fault(&w.p.info_path(), Fault::Body(evil.clone()));
    w.assert_refused(
        &w.p.info_path(),
        &[
            "example.com/m@v1.0.0: invalid .info",
            "upstream returned info for version v1.1.0 instead of requested version v1.0.0",
        ],
    );
    w.assert_not_cached("the wrong .info", b"v1.1.0");
    w.assert_recovers();
}

/// `.info` bodies that are not the JSON the protocol defines.
#[test]
fn junk_info_is_refused() {
    let w = world();
    let cases: &[(&[u8], &str)] = &[
        (
            b"<html><body>Welcome to nginx!</body></html>",
            "invalid .info JSON",
        ),
        (b"", "invalid .info JSON"),
        (b"[\"v1.0.0\"]", "invalid .info JSON"),
        (b"{\"Time\":\"2024-01-01T00:00:00Z\"}", "invalid .info JSON"),
        (b"{\"Version\":1}", "invalid .info JSON"),
        (
            b"{\"Version\":\"v1.0\"}",
            ".info names version \"v1.0\", which is not canonical",
        ),
        (
            b"{\"Version\":\"v1.0.0\",\"Time\":\"yesterday\"}",
            ".info has an invalid Time \"yesterday\"",
        ),
        (
            b"{\"Version\":\"v1.0.0\",\"Time\":\"2024-01-01\"}",
            ".info has an invalid Time",
        ),
    ];
    for (body, needle) in cases {
        w.fake
            .set_fault(&w.p.info_path(), Fault::Body(body.to_vec()));
        w.assert_refused(&w.p.info_path(), &["invalid .info", needle]);
    }
    w.assert_not_cached("junk .info", b"nginx");
    // Unknown fields are fine (the go command ignores them; proxies add Origin).
    let with_origin = b"{\"Version\":\"v1.0.0\",\"Time\":\"2024-01-01T00:00:00Z\",\"Origin\":{\"VCS\":\"git\"}}\n";
    w.fake
        .set_fault(&w.p.info_path(), Fault::Body(with_origin.to_vec()));
    let r = w.g.get(&w.p.info_path());
    assert_eq!(r.status, 200, "{:?}", r.text());
    assert_eq!(r.body, with_origin);
}

// ---------------------------------------------------------------------------------------------
// .mod

/// A go.mod declaring another module, served in place of the genuine one: its module line is
/// the go command's to judge (forks via `replace`), but its hash is not the logged one.
#[test]
fn go_mod_declaring_another_module_is_refused() {
    let w = world();
    let evil = b"module example.com/other\n\ngo 1.21\n".to_vec();
    w.fake.set_fault(&w.p.mod_path(), Fault::Body(evil.clone()));
    w.assert_refused(
        &w.p.mod_path(),
        &["example.com/m@v1.0.0", "go.mod hash mismatch"],
    );
    w.assert_not_cached("the other module's go.mod", &evil);
    // Neither is a go.mod without a module directive, or one that does not lex.
    for (body, needle) in [
        (&b"go 1.21\n"[..], "go.mod has no module directive"),
        (
            b"module example.com/m\nmodule example.com/m\n",
            "repeated module directive",
        ),
        (b"module \"example.com/m\n", "go.mod:1:"),
        (
            b"module example.com/m\n\xff\xfe\n",
            "go.mod is not valid UTF-8",
        ),
    ] {
        w.fake
            .set_fault(&w.p.mod_path(), Fault::Body(body.to_vec()));
        w.assert_refused(&w.p.mod_path(), &["invalid go.mod", needle]);
    }
    w.assert_recovers();
}

/// A fork published under its own path whose go.mod keeps the original module line (as
/// `github.com/Sirupsen/logrus` declares `github.com/sirupsen/logrus`), logged consistently:
/// the checksum DB proves the bytes, so goward serves them and leaves the module line to the go
/// command, which accepts it in a `replace` (e2e: `go_builds_a_fork_through_replace`).
#[test]
fn logged_go_mod_of_a_fork_declaring_the_original_module_is_served() {
    let fake = FakeProxy::start(TestLog::new(DB));
    let fork = fake.publish(
        ModZip::new("example.com/Fork/m", "v1.0.0").file("m.go", M_GO),
        GO_MOD,
    );
    let vkey = fake.with_log(|l| l.vkey());
    let g = Goward::start(&fake.url(), &vkey, &[]);
    for (path, want) in [
        (fork.mod_path(), &fork.mod_bytes),
        (fork.zip_path(), &fork.zip),
    ] {
        let r = g.get(&path);
        assert_eq!(r.status, 200, "{path}: {:?}", r.text());
        assert!(r.body == *want, "{path}: not the published bytes");
    }
}

/// A go.mod over 16 MiB (x/mod `MaxGoMod`) is refused without being stored.
#[test]
fn go_mod_over_16_mib_is_refused() {
    let w = world();
    let mut evil = GO_MOD.as_bytes().to_vec();
    evil.extend_from_slice(b"// ");
    evil.resize((16 << 20) + 1, b'a');
    evil.push(b'\n');
    w.fake.set_fault(&w.p.mod_path(), Fault::Body(evil.clone()));
    w.assert_refused(&w.p.mod_path(), &["exceeds the limit of 16777216 bytes"]);
    w.assert_not_cached("the oversize go.mod", &evil[evil.len() - 4096..]);
    w.assert_recovers();
}

// ---------------------------------------------------------------------------------------------
// Module-zip rules: the upstream serves a malicious zip for `example.com/m@v1.0.0`.

/// Serves `bad` as the zip; goward must refuse it with `needle` (the zip rule's message), store
/// nothing, and serve the genuine zip once the upstream does.
#[track_caller]
fn assert_zip_rule(bad: Vec<u8>, needle: &str) {
    let w = world();
    w.fake.set_fault(&w.p.zip_path(), Fault::Body(bad.clone()));
    let r = w.assert_refused(
        &w.p.zip_path(),
        &["example.com/m@v1.0.0: invalid zip", needle],
    );
    assert!(
        !r.text().contains("hash mismatch"),
        "refused by the hash, not by the zip rule: {:?}",
        r.text()
    );
    w.assert_not_cached("the malicious zip", &bad);
    w.assert_recovers();
}

fn prefix() -> String {
    format!("{M}@v1.0.0/")
}

#[test]
fn zip_with_a_symlink_is_refused() {
    assert_zip_rule(
        genuine("v1.0.0")
            .symlink("passwd.go", "/etc/passwd")
            .build(),
        "example.com/m@v1.0.0/passwd.go: file is a symbolic link",
    );
}

#[test]
fn zip_with_a_duplicate_entry_is_refused() {
    assert_zip_rule(
        genuine("v1.0.0")
            .raw(
                &format!("{}m.go", prefix()),
                "package m\n\nconst Answer = 41\n",
            )
            .build(),
        "multiple entries for file \"m.go\"",
    );
}

#[test]
fn zip_with_a_file_and_a_directory_of_the_same_name_is_refused() {
    assert_zip_rule(
        genuine("v1.0.0").file("sub", "a file\n").dir("sub").build(),
        "is both a file and a directory",
    );
}

#[test]
fn zip_with_go_mod_in_a_subdirectory_is_refused() {
    assert_zip_rule(
        genuine("v1.0.0")
            .file("sub/go.mod", "module example.com/m/sub\n")
            .build(),
        "example.com/m@v1.0.0/sub/go.mod: go.mod file not in module root directory",
    );
}

#[test]
fn zip_with_upper_case_go_mod_at_the_root_is_refused() {
    assert_zip_rule(
        ModZip::new(M, "v1.0.0")
            .file("GO.MOD", GO_MOD)
            .file("m.go", M_GO)
            .build(),
        "example.com/m@v1.0.0/GO.MOD: go.mod files must have lowercase names",
    );
}

/// An entry whose headers declare fewer bytes than it holds (x/mod zip `Unzip`).
#[test]
fn zip_entry_larger_than_its_declared_size_is_refused() {
    let name = format!("{}data.txt", prefix());
    assert_zip_rule(
        genuine("v1.0.0")
            .stored()
            .raw(&name, vec![b'd'; 4096])
            .declared_size(&name, 16)
            .build(),
        "uncompressed size of file example.com/m@v1.0.0/data.txt is larger than declared size",
    );
}

#[test]
fn zip_entry_outside_the_prefix_is_refused() {
    assert_zip_rule(
        genuine("v1.0.0")
            .raw("example.com/m@v1.0.1/extra.go", "package m\n")
            .build(),
        "example.com/m@v1.0.1/extra.go: path does not have prefix \"example.com/m@v1.0.0/\"",
    );
}

#[test]
fn zip_entry_with_an_absolute_path_is_refused() {
    assert_zip_rule(
        genuine("v1.0.0")
            .raw("/tmp/goward-abs.go", "package evil\n")
            .build(),
        "/tmp/goward-abs.go: path does not have prefix",
    );
    assert_zip_rule(
        genuine("v1.0.0")
            .raw(&format!("{}/etc/goward-abs.go", prefix()), "package evil\n")
            .build(),
        "example.com/m@v1.0.0//etc/goward-abs.go:",
    );
}

#[test]
fn zip_entry_with_a_backslash_is_refused() {
    assert_zip_rule(
        genuine("v1.0.0")
            .raw(
                &format!("{}sub\\..\\..\\evil.go", prefix()),
                "package evil\n",
            )
            .build(),
        "malformed file path \"sub\\\\..\\\\..\\\\evil.go\"",
    );
}

#[test]
fn zip_entry_escaping_with_dot_dot_is_refused() {
    assert_zip_rule(
        genuine("v1.0.0")
            .raw(&format!("{}../../evil.go", prefix()), "package evil\n")
            .build(),
        "malformed file path",
    );
}

/// `ModZip` cannot encrypt, so the general-purpose flag bit 0 ("encrypted") is set by hand in
/// the local and central headers of the first entry.
#[test]
fn zip_with_an_encrypted_entry_is_refused() {
    let mut bytes = genuine("v1.0.0").stored().build();
    assert_eq!(bytes[..4], [0x50, 0x4b, 0x03, 0x04], "local header first");
    bytes[6] |= 1;
    let central = (0..bytes.len() - 4)
        .find(|&i| bytes[i..i + 4] == [0x50, 0x4b, 0x01, 0x02])
        .expect("central directory");
    bytes[central + 8] |= 1;
    assert_zip_rule(bytes, "example.com/m@v1.0.0/go.mod: file is encrypted");
}

/// A perfectly good zip of another module, served under this module's name.
#[test]
fn zip_of_another_module_is_refused() {
    let other = ModZip::new("example.com/other", "v1.0.0")
        .file("go.mod", "module example.com/other\n")
        .file("o.go", "package other\n");
    assert_zip_rule(
        other.build(),
        "example.com/other@v1.0.0/go.mod: path does not have prefix \"example.com/m@v1.0.0/\"",
    );
}

/// Not a zip at all.
#[test]
fn garbage_instead_of_a_zip_is_refused() {
    assert_zip_rule(
        b"<html>404 page not found (really a 200)</html>".to_vec(),
        "malformed module zip",
    );
}

// ---------------------------------------------------------------------------------------------
// Mix-and-match (attacks.md 9).

/// Two published versions; the upstream answers v1.0.0 requests with v1.1.0's pieces (or a
/// v1.0.0 zip carrying v1.1.0's go.mod). Each swap is refused with its reason, the genuine
/// v1.0.0 zip is served meanwhile, and afterwards both versions are served exactly.
#[test]
fn mix_and_match_across_info_mod_and_zip_is_refused() {
    let w = world();
    let go_mod_11 = "module example.com/m\n\ngo 1.21\n\nrequire example.com/dep v1.0.0\n";
    let v11 = w.fake.publish(
        ModZip::new(M, "v1.1.0")
            .file("go.mod", go_mod_11)
            .file("m.go", M_GO),
        go_mod_11,
    );

    // v1.1.0's go.mod for v1.0.0: a valid go.mod of the right module, caught by the hash only.
    w.fake
        .set_fault(&w.p.mod_path(), Fault::Body(v11.mod_bytes.clone()));
    w.assert_refused(
        &w.p.mod_path(),
        &["verifying example.com/m@v1.0.0", "go.mod hash mismatch"],
    );
    // Its genuine zip is not affected by the swapped go.mod.
    let r = w.g.get(&w.p.zip_path());
    assert_eq!(r.status, 200, "{:?}", r.text());
    assert!(r.body == w.p.zip, "genuine v1.0.0 zip");

    // A v1.0.0 zip (right prefix, passes every zip rule) whose go.mod is v1.1.0's.
    let swapped = ModZip::new(M, "v1.0.0")
        .file("go.mod", go_mod_11)
        .file("m.go", M_GO)
        .build();
    w.fake.clear_faults();
    let fresh = Goward::start(&w.fake.url(), &w.fake.with_log(|l| l.vkey()), &[]);
    w.fake
        .set_fault(&w.p.zip_path(), Fault::Body(swapped.clone()));
    let r = fresh.get(&w.p.zip_path());
    assert_eq!(r.status, 502, "{:?}", r.text());
    assert!(r.text().contains("zip hash mismatch"), "{:?}", r.text());
    let hits = files_containing(fresh.cache_dir(), &swapped);
    assert!(hits.is_empty(), "swapped zip stored: {hits:?}");

    // v1.1.0's whole zip for v1.0.0: its entries have the other version's prefix.
    w.fake
        .set_fault(&w.p.zip_path(), Fault::Body(v11.zip.clone()));
    let r = fresh.get(&w.p.zip_path());
    assert_eq!(r.status, 502, "{:?}", r.text());
    assert!(
        r.text()
            .contains("path does not have prefix \"example.com/m@v1.0.0/\""),
        "{:?}",
        r.text()
    );

    // v1.1.0's .info for v1.0.0.
    w.fake
        .set_fault(&w.p.info_path(), Fault::Body(default_info("v1.1.0")));
    let r = fresh.get(&w.p.info_path());
    assert_eq!(r.status, 502, "{:?}", r.text());
    assert!(
        r.text().contains("instead of requested version"),
        "{:?}",
        r.text()
    );

    w.fake.clear_faults();
    for g in [&w.g, &fresh] {
        for (path, want) in [
            (w.p.info_path(), default_info("v1.0.0")),
            (w.p.mod_path(), w.p.mod_bytes.clone()),
            (w.p.zip_path(), w.p.zip.clone()),
            (v11.info_path(), default_info("v1.1.0")),
            (v11.mod_path(), v11.mod_bytes.clone()),
            (v11.zip_path(), v11.zip.clone()),
        ] {
            let r = g.get(&path);
            assert_eq!(r.status, 200, "{path}: {:?}", r.text());
            assert!(r.body == want, "{path}: not the genuine bytes");
        }
    }
}
