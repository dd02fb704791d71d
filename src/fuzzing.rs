//! Entry points for fuzzing: one function per parser that reads outside bytes.
//!
//! `fuzz/` (cargo-fuzz targets, run by `fuzz/run.sh`) and the integration test that replays the
//! committed corpus (`tests/it/fuzz_corpus.rs`) both call these, so the suite exercises exactly
//! what the fuzzer does. Each function must return normally for every input: a panic is a bug.
//! Where a parser has a canonical form, the round trip is asserted too.

use std::io::Write;

use bytes::Bytes;

use crate::policy::Policy;
use crate::verify::{gomod, zip};
use crate::xmod::note::{self, Verifier};
use crate::xmod::tlog::{self, Tile};

/// Name and Ed25519 seed of the key that signs the corpus's notes: a fixed test key, so seeds
/// with valid signatures reach the code after signature verification.
const NOTE_KEY: (&str, [u8; 32]) = ("fuzz.goward.test", [7; 32]);

/// The signer of the corpus's notes (for writing seeds).
pub fn note_signer() -> note::Signer {
    note::Signer::from_seed(NOTE_KEY.0, NOTE_KEY.1).expect("the fixed fuzz key is valid")
}

/// The names a request path may use for `/sumdb/<name>/…`.
const SUMDBS: &[&str] = &["sum.golang.org"];

/// A GOPROXY or checksum-database request path (`request::parse`).
pub fn request_path(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let names: Vec<String> = SUMDBS.iter().map(|s| (*s).to_owned()).collect();
    let _ = crate::request::parse(s, &names);
}

/// A tile path (`Tile::parse_path`): only the canonical form parses, so it must print back
/// byte for byte, and what the tile holds (`Tile::span`, the arithmetic the tile endpoint does)
/// must be computable, with no overflow, for every tile that parses.
pub fn tile_path(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(t) = Tile::parse_path(s) {
        assert_eq!(t.path(), s, "a parsed tile path must print back unchanged");
        assert!(t.span().is_ok(), "a parsed tile has a span");
        let _ = tlog::tile_parent(t, 1, tlog::MAX_TREE_SIZE);
    }
}

/// A lookup response: record id, record text, signed tree note (`tlog::parse_record`, then
/// `note::open` and `tlog::parse_tree` on what follows the text).
pub fn lookup_record(data: &[u8]) {
    if let Ok((id, text, rest)) = tlog::parse_record(data) {
        // The id line may have a sign or leading zeros (Go's ParseInt), so only the text must
        // be one that formats again.
        assert!(
            tlog::format_record(id, text).is_ok(),
            "a parsed record text formats again"
        );
        signed_note(rest);
    }
}

/// A signed note (`note::open` with the test key `NOTE_VKEY`), and the tree in its text.
pub fn signed_note(data: &[u8]) {
    static VERIFIER: std::sync::OnceLock<Verifier> = std::sync::OnceLock::new();
    let verifier = VERIFIER.get_or_init(|| {
        Verifier::parse(&note_signer().verifier_key()).expect("the fuzz verifier key parses")
    });
    if let Ok(n) = note::open(data, verifier) {
        let _ = tlog::parse_tree(n.text.as_bytes());
    }
}

/// A module zip for `example.com/m@v1.0.0`, through every module-zip rule (`zip::check_zip`).
pub fn module_zip(data: &[u8]) {
    let Ok(mut f) = tempfile::NamedTempFile::new() else {
        return;
    };
    if f.write_all(data).is_err() {
        return;
    }
    let _ = zip::check_zip(f, "example.com/m", "v1.0.0", &zip::ZipLimits::default());
}

/// A go.mod served for `example.com/m@v1.0.0` (`gomod::check_mod`).
pub fn go_mod(data: &[u8]) {
    let _ = gomod::check_mod("example.com/m", "v1.0.0", Bytes::copy_from_slice(data));
}

/// A policy file (`Policy::parse`).
pub fn policy(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = Policy::parse(s, "fuzz.toml");
    }
}

/// A fuzz target's entry point.
pub type Target = fn(&[u8]);

/// Every target by name, as `fuzz/` and the corpus replay name them.
pub const TARGETS: &[(&str, Target)] = &[
    ("request_path", request_path),
    ("tile_path", tile_path),
    ("lookup_record", lookup_record),
    ("signed_note", signed_note),
    ("module_zip", module_zip),
    ("go_mod", go_mod),
    ("policy", policy),
    ("sigstore_bundle", sigstore_bundle),
    ("bundle_manifest", bundle_manifest),
];

/// An air-gap bundle's manifest (`bundle::Manifest::parse`) and, the same bytes as a bundle
/// file, the tar entry walk of `bundle import` (gzip-compressed or not). A manifest that parses
/// names only safe relative paths and survives a round trip; after the walk, every file staged
/// is one the manifest lists, with the digest and size it lists (nothing unchecked is left for
/// the import to read).
pub fn bundle_manifest(data: &[u8]) {
    use crate::bundle::{Manifest, check_path};
    use std::path::Path;
    if let Ok(m) = Manifest::parse(data, Path::new("fuzz.json")) {
        for f in &m.files {
            assert_eq!(
                check_path(&f.path),
                Ok(()),
                "a parsed manifest path is safe"
            );
        }
        let again = serde_json::to_vec(&m).expect("a parsed manifest serializes");
        let back = Manifest::parse(&again, Path::new("fuzz.json"));
        assert_eq!(
            back.ok(),
            Some(m),
            "a parsed manifest survives a round trip"
        );
    }
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    let bundle = dir.path().join("b.tar");
    if std::fs::write(&bundle, data).is_err() {
        return;
    }
    let staged = dir.path().join("staged");
    let (manifest, _refused) = crate::bundle::import::walk_tar(&bundle, &staged);
    let listed = manifest.map(|m| m.files).unwrap_or_default();
    let mut stack = vec![staged];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p
                .strip_prefix(dir.path().join("staged"))
                .expect("staged under the staging directory")
                .to_string_lossy()
                .replace('\\', "/");
            let bytes = std::fs::read(&p).expect("a staged file reads");
            let f = listed
                .iter()
                .find(|f| f.path == rel)
                .unwrap_or_else(|| panic!("{rel} is staged but not listed in the manifest"));
            assert_eq!(
                (
                    crate::bundle::sha256_hex(&bytes),
                    u64::try_from(bytes.len()).unwrap_or(u64::MAX),
                ),
                (f.sha256.clone(), f.size),
                "{rel} is staged with other bytes than the manifest lists"
            );
        }
    }
}

/// A signature bundle file (`SignatureInput::bundle_from_json`: a Sigstore bundle, or cosign's
/// legacy bundle converted to v0.1), then, when it parses, its verification against the fake
/// instance of `testdata/sigstore` (embedded here, so the target needs no files) for any
/// identity: every input is refused or verified, never a panic.
pub fn sigstore_bundle(data: &[u8]) {
    use crate::verify::proof::signature::{
        Matcher, Message, SignatureInput, Signer, TrustRoot, verify,
    };
    use std::sync::OnceLock;
    static ROOT: OnceLock<TrustRoot> = OnceLock::new();
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(input) = SignatureInput::bundle_from_json(text) else {
        return;
    };
    let root = ROOT.get_or_init(|| {
        TrustRoot::from_json(
            "fuzz",
            include_str!("../testdata/sigstore/trusted_root.json"),
        )
        .expect("the fixture trusted root loads")
    });
    let any = || Matcher::regex(".*").expect("valid regexp");
    let signer = Signer::Keyless {
        identity: any(),
        issuer: any(),
    };
    // Any digest: the log proofs and the certificate chain are checked before the artifact.
    let _ = verify(Message::Digest(&[0; 32]), &input, &signer, root);
}
