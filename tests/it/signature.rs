//! `goward verify-blob`, the real binary, on the fixtures in `testdata/sigstore` (a fake
//! Sigstore instance made by `gen_fixtures.py`, plus one real public-good bundle): every
//! positive input verifies with exit 0 and prints what it proved; every negative exits 1 with
//! exactly one line per reason, each starting with that reason; inputs that cannot be used
//! exit 2.

use crate::support::gocmd::GoOutput;
use crate::support::run_goward;

const ID: &str = "https://github.com/example/mod/.github/workflows/release.yml@refs/tags/v1.2.3";
const ISSUER: &str = "https://token.actions.githubusercontent.com";

fn td(name: &str) -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/sigstore/").to_owned() + name
}

/// `verify-blob` of `artifact.zip` with `extra` flags.
fn verify_blob(file: &str, extra: &[&str]) -> GoOutput {
    let file = td(file);
    let mut args = vec!["verify-blob", file.as_str()];
    args.extend_from_slice(extra);
    run_goward(&args)
}

/// `verify-blob FILE --bundle BUNDLE` with the fixtures' identity and issuer, then `extra`.
fn signed_by_id(file: &str, bundle: &str, extra: &[&str]) -> GoOutput {
    let mut args = vec![
        "--bundle",
        bundle,
        "--certificate-identity",
        ID,
        "--certificate-oidc-issuer",
        ISSUER,
    ];
    args.extend_from_slice(extra);
    verify_blob(file, &args)
}

/// A keyless bundle of the fake instance, with the right identity and issuer.
fn keyless(bundle: &str) -> GoOutput {
    let (b, root) = (td(bundle), td("trusted_root.json"));
    signed_by_id("artifact.zip", &b, &["--trusted-root", &root])
}

fn assert_verified(o: &GoOutput) {
    assert_eq!(o.status.code(), Some(0), "{}: {}", o.cmdline, o.stderr);
    assert!(o.stdout.starts_with("Verified OK\n"), "{}", o.stdout);
}

/// Exit 1, and stderr is exactly one line per expected reason, in order.
fn assert_rejected(o: &GoOutput, reasons: &[&str]) {
    assert_eq!(o.status.code(), Some(1), "{}: {}", o.cmdline, o.stderr);
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(lines.len(), reasons.len(), "{}", o.stderr);
    for (line, reason) in lines.iter().zip(reasons) {
        assert!(line.starts_with(reason), "want {reason:?}, got {line:?}");
    }
}

fn assert_usage(o: &GoOutput, message: &str) {
    assert_eq!(o.status.code(), Some(2), "{}: {}", o.cmdline, o.stderr);
    assert!(
        o.stderr.contains(message),
        "want {message:?} in {}",
        o.stderr
    );
}

#[test]
fn keyless_bundles_v01_v02_v03_and_the_legacy_bundle_verify() {
    for bundle in [
        "keyless.v03.sigstore.json",
        "keyless.v02.sigstore.json",
        "keyless.v01.sigstore.json",
        "artifact.zip.cosign.bundle",
    ] {
        let o = keyless(bundle);
        assert_verified(&o);
        let want = format!(
            "Verified OK\nidentity: {ID}\nissuer: {ISSUER}\nlog index: 5\n\
             signed time: 2026-01-15T12:00:00Z\ntrusted root: {}\n",
            td("trusted_root.json")
        );
        assert_eq!(o.stdout, want, "{bundle}");
    }
}

#[test]
fn key_based_bundle_and_bare_signature_verify() {
    let (b, key, root) = (
        td("key.v03.sigstore.json"),
        td("cosign.pub"),
        td("trusted_root.json"),
    );
    let o = verify_blob(
        "artifact.zip",
        &[
            "--bundle",
            &b,
            "--key",
            &key,
            "--trusted-root",
            &root,
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["log_index"], 7);
    assert_eq!(v["tlog_verified"], true);
    assert_eq!(v["identity"], serde_json::Value::Null);
    assert_eq!(v["signed_time"], "2026-01-15T12:00:00Z");

    let sig = td("artifact.zip.key.sig");
    let o = verify_blob("artifact.zip", &["--signature", &sig, "--key", &key]);
    assert_verified(&o);
    assert!(
        o.stdout
            .contains("signer: key\nlog index: (no log entry)\n"),
        "{}",
        o.stdout
    );
}

#[test]
fn real_public_good_bundle_with_an_rfc3161_timestamp_verifies_offline() {
    let b = td("cosign-v3-blob.sigstore.json");
    let o = verify_blob(
        "cosign-v3-blob.txt",
        &[
            "--bundle",
            &b,
            "--certificate-identity",
            "w.vollprecht@gmail.com",
            "--certificate-oidc-issuer",
            "https://github.com/login/oauth",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["trust_root"], "public-good");
    assert_eq!(v["log_index"], 738312748);
    assert_eq!(v["sct_verified"], true);
    assert_eq!(v["tlog_verified"], true);
    // The earliest of the verified times (the SET-signed log time, the RFC 3161 timestamp).
    assert_eq!(v["signed_time"], "2025-12-03T18:36:42Z");
}

#[test]
fn the_fake_instance_does_not_verify_against_public_good() {
    let b = td("keyless.v03.sigstore.json");
    let o = signed_by_id("artifact.zip", &b, &[]);
    assert_eq!(o.status.code(), Some(1), "{}", o.stderr);
    assert_eq!(o.stderr.lines().count(), 1, "{}", o.stderr);
}

#[test]
fn every_generated_negative_is_refused_with_its_reason() {
    for (bundle, reason) in [
        ("tampered-set.json", "SET invalid: "),
        ("tampered-integrated-time.json", "SET invalid: "),
        ("tampered-proof-hash.json", "inclusion proof invalid: "),
        ("tampered-checkpoint-sig.json", "checkpoint invalid: "),
        ("tampered-checkpoint-forged.json", "checkpoint invalid: "),
        ("tampered-signature.json", "bad signature: "),
        (
            "tampered-expired-at-integration.json",
            "certificate expired at signing time: ",
        ),
        ("keyless-nosct.v03.sigstore.json", "no valid SCT: "),
    ] {
        assert_rejected(&keyless(bundle), &[reason]);
    }
}

#[test]
fn identity_and_issuer_are_matched_exactly_or_by_anchored_regexp() {
    let (b, root) = (td("keyless.v03.sigstore.json"), td("trusted_root.json"));
    let run = |id_flag: &str, id: &str, iss_flag: &str, iss: &str| {
        verify_blob(
            "artifact.zip",
            &[
                "--bundle",
                &b,
                id_flag,
                id,
                iss_flag,
                iss,
                "--trusted-root",
                &root,
            ],
        )
    };
    let (id, id_re, iss, iss_re) = (
        "--certificate-identity",
        "--certificate-identity-regexp",
        "--certificate-oidc-issuer",
        "--certificate-oidc-issuer-regexp",
    );
    assert_verified(&run(
        id_re,
        r"https://github\.com/example/mod/.*",
        iss,
        ISSUER,
    ));
    assert_verified(&run(id, ID, iss_re, r"https://token\.actions\..*"));
    // Wrong identity, wrong issuer, both.
    assert_rejected(
        &run(
            id,
            "https://github.com/example/other/.github/workflows/release.yml@refs/tags/v1.2.3",
            iss,
            ISSUER,
        ),
        &["identity mismatch: "],
    );
    assert_rejected(
        &run(id, ID, iss, "https://accounts.google.com"),
        &["issuer mismatch: "],
    );
    assert_rejected(
        &run(
            id,
            "someone@example.com",
            iss,
            "https://accounts.google.com",
        ),
        &["identity mismatch: ", "issuer mismatch: "],
    );
    // A regexp that matches only a substring matches nothing (cosign's would match).
    assert_rejected(
        &run(id_re, "example/mod", iss, ISSUER),
        &["identity mismatch: "],
    );
    assert_rejected(
        &run(id, ID, iss_re, "token.actions"),
        &["issuer mismatch: "],
    );
}

#[test]
fn other_artifact_wrong_key_and_wrong_kind_are_refused() {
    let root = td("trusted_root.json");
    // The bundle is about artifact.zip, not this file.
    let b = td("keyless.v03.sigstore.json");
    let o = signed_by_id("cosign-v3-blob.txt", &b, &["--trusted-root", &root]);
    assert_rejected(&o, &["artifact mismatch: "]);
    // The key-based bundle and the bare signature, checked with another key.
    let (kb, other, sig) = (
        td("key.v03.sigstore.json"),
        td("other.pub"),
        td("artifact.zip.key.sig"),
    );
    let o = verify_blob(
        "artifact.zip",
        &["--bundle", &kb, "--key", &other, "--trusted-root", &root],
    );
    assert_rejected(&o, &["bad signature: "]);
    let o = verify_blob("artifact.zip", &["--signature", &sig, "--key", &other]);
    assert_rejected(&o, &["bad signature: "]);
    // The bare signature, over another file.
    let key = td("cosign.pub");
    let o = verify_blob("cosign-v3-blob.txt", &["--signature", &sig, "--key", &key]);
    assert_rejected(&o, &["bad signature: "]);
    // A key where a certificate is required, and the reverse.
    let o = signed_by_id("artifact.zip", &kb, &["--trusted-root", &root]);
    assert_rejected(&o, &["wrong kind of signature: "]);
    let o = verify_blob(
        "artifact.zip",
        &["--bundle", &b, "--key", &key, "--trusted-root", &root],
    );
    assert_rejected(&o, &["wrong kind of signature: "]);
}

#[test]
fn json_reports_every_reason_with_its_label() {
    let (b, root) = (td("keyless.v03.sigstore.json"), td("trusted_root.json"));
    let o = verify_blob(
        "artifact.zip",
        &[
            "--bundle",
            &b,
            "--certificate-identity",
            "someone@example.com",
            "--certificate-oidc-issuer",
            "https://accounts.google.com",
            "--trusted-root",
            &root,
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["verified"], false);
    let labels: Vec<&str> = v["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(labels, ["identity_mismatch", "issuer_mismatch"]);
}

#[test]
fn unusable_inputs_exit_2() {
    let (b, root, key) = (
        td("keyless.v03.sigstore.json"),
        td("trusted_root.json"),
        td("cosign.pub"),
    );
    // A legacy keyless .sig + .crt pair without a bundle has no signed time.
    let (sig, crt) = (td("artifact.zip.sig"), td("artifact.zip.pem"));
    let o = verify_blob(
        "artifact.zip",
        &[
            "--signature",
            &sig,
            "--certificate",
            &crt,
            "--certificate-identity",
            ID,
            "--certificate-oidc-issuer",
            ISSUER,
        ],
    );
    assert_usage(&o, "no signed time");
    assert_usage(&o, "cannot be verified offline");
    // Keyless without an identity or without an issuer.
    let o = verify_blob(
        "artifact.zip",
        &["--bundle", &b, "--certificate-oidc-issuer", ISSUER],
    );
    assert_usage(&o, "--certificate-identity");
    let o = verify_blob(
        "artifact.zip",
        &["--bundle", &b, "--certificate-identity", ID],
    );
    assert_usage(&o, "--certificate-oidc-issuer");
    // Both --bundle and --signature; --key with an identity; --certificate with a bundle,
    // whose own certificate is the one verified (clap's usage errors).
    let o = signed_by_id("artifact.zip", &b, &["--certificate", &crt]);
    assert_eq!(o.status.code(), Some(2), "{}", o.stderr);
    let o = verify_blob(
        "artifact.zip",
        &["--bundle", &b, "--signature", &sig, "--key", &key],
    );
    assert_eq!(o.status.code(), Some(2), "{}", o.stderr);
    let o = verify_blob(
        "artifact.zip",
        &["--bundle", &b, "--key", &key, "--certificate-identity", ID],
    );
    assert_eq!(o.status.code(), Some(2), "{}", o.stderr);
    // A regexp that does not compile.
    let o = verify_blob(
        "artifact.zip",
        &[
            "--bundle",
            &b,
            "--certificate-identity-regexp",
            "(",
            "--certificate-oidc-issuer",
            ISSUER,
        ],
    );
    assert_usage(&o, "invalid regexp");
    // Unreadable bundle, artifact, key, trusted root; a bundle that is not one.
    let flags = |bundle: &str| {
        vec![
            "--bundle".to_owned(),
            bundle.to_owned(),
            "--certificate-identity".to_owned(),
            ID.to_owned(),
            "--certificate-oidc-issuer".to_owned(),
            ISSUER.to_owned(),
            "--trusted-root".to_owned(),
            root.clone(),
        ]
    };
    let missing = td("no-such-file");
    let args = flags(&missing);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_usage(&verify_blob("artifact.zip", &args), "cannot read bundle");
    let args = flags(&b);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_usage(&verify_blob("no-such-file", &args), "cannot read");
    let args = flags(&td("cosign.pub"));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_usage(&verify_blob("artifact.zip", &args), "unreadable bundle");
    let o = verify_blob(
        "artifact.zip",
        &["--signature", &td("artifact.zip.key.sig"), "--key", &b],
    );
    assert_usage(&o, "unreadable public key");
    let o = signed_by_id("artifact.zip", &b, &["--trusted-root", &key]);
    assert_usage(&o, "unusable trusted root");
}

/// Ed25519 signs the whole message, not a digest: the file is read into memory (capped) and
/// verified, and another file is still refused.
#[test]
fn ed25519_key_signature_is_checked_over_the_whole_file() {
    let (sig, key) = (td("artifact.zip.ed25519.sig"), td("ed25519.pub"));
    let o = verify_blob("artifact.zip", &["--signature", &sig, "--key", &key]);
    assert_verified(&o);
    let o = verify_blob("cosign-v3-blob.txt", &["--signature", &sig, "--key", &key]);
    assert_rejected(&o, &["bad signature: "]);
}

/// `proof = ["sumdb", "signature"]` end to end: the real go command through goward, a policy
/// requiring a key-based signature over the zip bytes for `example.com/signed`, the `.sig`
/// files where the rule's `file://` template points. Signed by a P-256 key made here (ring).
pub(crate) mod policy_e2e {
    use std::path::{Path, PathBuf};

    use base64::Engine as _;
    use ring::rand::SystemRandom;
    use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair as _};

    use crate::support::Goward;
    use crate::support::fakeproxy::{FakeProxy, Published};
    use crate::support::gocmd::{GoEnv, assert_refused_by_goward};
    use crate::support::modzip::ModZip;
    use crate::support::run_goward;
    use crate::support::testlog::TestLog;

    const DB_NAME: &str = "sum.signed.test";

    /// A P-256 signing key and its PEM SubjectPublicKeyInfo.
    pub(crate) struct Key {
        pair: EcdsaKeyPair,
        pub(crate) pem: String,
    }

    impl Key {
        pub(crate) fn new() -> Key {
            let rng = SystemRandom::new();
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
                .expect("generate key");
            let pair =
                EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
                    .expect("key pair");
            // SPKI = the fixed P-256 header + the uncompressed point.
            let mut spki = vec![
                0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
                0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
            ];
            spki.extend_from_slice(pair.public_key().as_ref());
            let b64 = base64::engine::general_purpose::STANDARD.encode(&spki);
            let pem = format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n");
            Key { pair, pem }
        }

        /// `cosign sign-blob --key`'s `.sig`: base64 of the DER ECDSA signature over `bytes`.
        pub(crate) fn sign(&self, bytes: &[u8]) -> String {
            let sig = self.pair.sign(&SystemRandom::new(), bytes).expect("sign");
            base64::engine::general_purpose::STANDARD.encode(sig.as_ref())
        }
    }

    struct World {
        proxy: FakeProxy,
        vkey: String,
        dir: tempfile::TempDir,
    }

    impl World {
        fn sig_path(&self, p: &Published) -> PathBuf {
            let (m, v) = p
                .at()
                .split_once('@')
                .map(|(m, v)| (m.to_owned(), v.to_owned()))
                .expect("module@version");
            self.dir
                .path()
                .join("sigs")
                .join(crate::support::fakeproxy::escape(&m))
                .join("@v")
                .join(format!("{v}.zip.sig"))
        }

        fn write_sig(&self, p: &Published, sig: &str) {
            let path = self.sig_path(p);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, sig).expect("write sig");
        }

        fn policy(&self) -> PathBuf {
            self.dir.path().join("policy.toml")
        }

        fn goward(&self) -> Goward {
            let p = self.policy();
            Goward::start(
                &self.proxy.url(),
                &self.vkey,
                &["--policy", p.to_str().expect("utf-8 path")],
            )
        }
    }

    /// A fake proxy and checksum DB, a temp dir, and the signer's key (its public half in
    /// `internal.pub`).
    fn world() -> (World, Key) {
        let proxy = FakeProxy::start(TestLog::new(DB_NAME));
        let vkey = proxy.with_log(|l| l.vkey());
        let dir = tempfile::Builder::new()
            .prefix("goward-sigpolicy-")
            .tempdir()
            .expect("temp dir");
        let key = Key::new();
        std::fs::write(dir.path().join("internal.pub"), &key.pem).expect("key");
        (World { proxy, vkey, dir }, key)
    }

    fn publish(proxy: &FakeProxy, module: &str, version: &str, body: &str) -> Published {
        let go_mod = format!("module {module}\n\ngo 1.21\n");
        proxy.publish(
            ModZip::new(module, version).file("x.go", format!("package x // {body}\n")),
            &go_mod,
        )
    }

    fn meta(cache: &Path, p: &Published) -> PathBuf {
        let (m, v) = p
            .at()
            .split_once('@')
            .map(|(m, v)| (m.to_owned(), v.to_owned()))
            .expect("module@version");
        cache
            .join("meta")
            .join(crate::support::fakeproxy::escape(&m))
            .join("@v")
            .join(format!("{v}.zip.json"))
    }

    #[test]
    fn go_downloads_signed_modules_and_is_refused_the_rest_with_the_reason() {
        let (w, key) = world();
        let other = Key::new();
        let a = publish(&w.proxy, "example.com/signed/a", "v1.0.0", "a");
        let unsigned = publish(&w.proxy, "example.com/signed/a", "v1.1.0", "a 1.1");
        let b = publish(&w.proxy, "example.com/signed/b", "v1.0.0", "b");
        let c = publish(&w.proxy, "example.com/signed/c", "v1.0.0", "c");
        // a: signed by the key. b: a's signature (another module's zip). c: another key.
        w.write_sig(&a, &key.sign(&a.zip));
        w.write_sig(&b, &key.sign(&a.zip));
        w.write_sig(&c, &other.sign(&c.zip));
        let sigs = w.dir.path().join("sigs");
        let policy = format!(
            "[[signer]]\nname = \"internal\"\nkey = \"internal.pub\"\n\n\
             [[allow]]\nname = \"signed\"\nmodules = \"example.com/signed\"\n\
             proof = [\"sumdb\", \"signature\"]\nsigners = [\"internal\"]\n\
             signatures = \"file://{}/{{module}}/@v/{{version}}{{file}}.sig\"\n",
            sigs.to_str().expect("utf-8 path")
        );
        std::fs::write(w.policy(), policy).expect("policy");
        let g = w.goward();
        let env = GoEnv::new(g.url(), &w.vkey);
        env.write("go.mod", "module example.com/scratch\n\ngo 1.21\n");

        env.go(&["mod", "download", &a.at()]).assert_success();
        let record = std::fs::read_to_string(meta(g.cache_dir(), &a)).expect("a's record");
        let v: serde_json::Value = serde_json::from_str(&record).expect("json");
        assert!(
            v["proofs"].as_array().is_some_and(|ps| ps
                .iter()
                .any(|p| p["type"] == "signature" && p["signer"] == "internal")),
            "{record}"
        );

        for (p, reason) in [
            (&unsigned, "no signature at file://"),
            (&b, "not signed by signer \"internal\": bad signature"),
            (&c, "not signed by signer \"internal\": bad signature"),
        ] {
            let out = env.go(&["mod", "download", &p.at()]);
            assert_refused_by_goward(&out, "signature required by policy rule \"signed\"");
            assert_refused_by_goward(&out, reason);
            let r = g.get(&p.zip_path());
            assert_eq!(r.status, 502, "{}", r.text());
            // The server's signature directory is not shown to clients.
            assert!(
                !r.text().contains(sigs.to_str().expect("utf-8 path")),
                "{}",
                r.text()
            );
            assert!(
                !meta(g.cache_dir(), p).exists(),
                "{} was stored without its signature",
                p.at()
            );
        }
        let m = g.get("/metrics").text();
        assert!(
            m.lines()
                .any(|l| l.contains("goward_signature_failures_total")
                    && l.contains("signature_missing")),
            "{m}"
        );
        // `cache verify` re-checks the signature offline against the policy's signer...
        let cache = g.cache_dir().to_str().expect("utf-8 path").to_owned();
        let pol = w.policy().to_str().expect("utf-8 path").to_owned();
        // The policy reaches `cache verify` through the configuration file, as for `serve`.
        let config = w.dir.path().join("goward.toml");
        std::fs::write(&config, format!("policy = {pol:?}\n")).expect("config");
        let config = config.to_str().expect("utf-8 path").to_owned();
        let verify = || {
            run_goward(&[
                "cache",
                "verify",
                "--config",
                &config,
                "--cache-dir",
                &cache,
                "--sumdb",
                &w.vkey,
            ])
        };
        let o = verify();
        assert_eq!(o.status.code(), Some(0), "{}\n{}", o.stdout, o.stderr);
        assert!(
            !o.stdout.lines().any(|l| l.starts_with("BAD ")),
            "{}",
            o.stdout
        );
        // ...and reports a record whose signature evidence was replaced consistently (another
        // key's signature stored as an evidence object under its own digest, the record
        // naming it).
        let forged = other.sign(&a.zip);
        let path = meta(g.cache_dir(), &a);
        let text = std::fs::read_to_string(&path).expect("record");
        let stored = evidence_name(&text);
        let forged_name = sha256_hex(forged.as_bytes());
        assert_ne!(stored, forged_name);
        write_evidence(g.cache_dir(), &forged_name, forged.as_bytes());
        std::fs::write(&path, text.replace(&stored, &forged_name)).expect("tamper");
        let o = verify();
        assert_ne!(o.status.code(), Some(0), "{}\n{}", o.stdout, o.stderr);
        assert!(
            o.stdout.lines().any(|l| l.starts_with("BAD ")
                && l.contains("signature by signer \"internal\": the recorded signature does not verify: bad signature")),
            "{}\n{}",
            o.stdout,
            o.stderr
        );
        drop(g);
    }

    fn sha256_hex(b: &[u8]) -> String {
        use sha2::Digest;
        sha2::Sha256::digest(b)
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect()
    }

    /// The evidence object a record (its JSON text) names.
    fn evidence_name(record: &str) -> String {
        let v: serde_json::Value = serde_json::from_str(record).expect("json");
        v["proofs"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["type"] == "signature"))
            .and_then(|p| p["signature_sha256"].as_str())
            .unwrap_or_else(|| panic!("no evidence object named: {record}"))
            .to_owned()
    }

    fn evidence_path(cache: &Path, sha: &str) -> PathBuf {
        cache.join("evidence/sha256").join(&sha[..2]).join(sha)
    }

    fn write_evidence(cache: &Path, sha: &str, bytes: &[u8]) {
        let p = evidence_path(cache, sha);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, bytes).expect("write evidence");
    }

    /// Evidence is a content-addressed object beside the records: the zip's and the go.mod's
    /// records name one copy of the signature by SHA-256. A record in the earlier format
    /// (signature inline) still re-checks; `cache gc` keeps named objects and removes orphans;
    /// a missing or altered object makes the record fail its re-check with the exact reason,
    /// so `serve` proves the version again (online) or does not serve it (offline).
    #[test]
    fn signature_evidence_is_a_content_addressed_object() {
        let (w, key) = world();
        let ok = publish(&w.proxy, "example.com/alone/ok", "v1.0.0", "ok");
        let sig = key.sign(&ok.zip);
        w.write_sig(&ok, &sig);
        let policy = format!(
            "[[signer]]\nname = \"internal\"\nkey = \"internal.pub\"\n\n\
             [[allow]]\nname = \"alone\"\nmodules = \"example.com/alone\"\n\
             proof = [\"signature\"]\nsigners = \"internal\"\n\
             signatures = \"file://{}/{{module}}/@v/{{version}}{{file}}.sig\"\n",
            w.dir.path().join("sigs").to_str().expect("utf-8 path")
        );
        std::fs::write(w.policy(), policy).expect("policy");
        let cache_dir = tempfile::tempdir().expect("cache dir");
        let cache = cache_dir.path();
        let pol = w.policy();
        let pol = pol.to_str().expect("utf-8 path");
        let g = Goward::start_in(cache, &w.proxy.url(), &w.vkey, &["--policy", pol]);
        let r = g.get(&ok.mod_path());
        assert_eq!(r.status, 200, "{}", r.text());
        drop(g);

        let name = sha256_hex(sig.as_bytes());
        let zip_record = meta(cache, &ok);
        let mod_record = zip_record.with_extension("").with_extension("mod.json");
        for path in [&zip_record, &mod_record] {
            let text = std::fs::read_to_string(path).expect("record");
            assert_eq!(evidence_name(&text), name, "{text}");
            assert!(!text.contains("\"signature\":"), "inline signature: {text}");
        }
        let object = evidence_path(cache, &name);
        assert_eq!(std::fs::read_to_string(&object).expect("object"), sig);
        let objects = crate::support::files_under(&cache.join("evidence"));
        assert_eq!(objects, vec![object.clone()], "one shared object");

        let config = w.dir.path().join("goward.toml");
        std::fs::write(&config, format!("policy = {pol:?}\n")).expect("config");
        let cache_cmd = |args: &[&str]| {
            let mut all = vec![args[0], "--config", config.to_str().expect("utf-8 path")];
            all.extend_from_slice(&["--cache-dir", cache.to_str().expect("utf-8 path")]);
            all.extend_from_slice(&args[1..]);
            let mut full = vec!["cache"];
            full.extend(all);
            run_goward(&full)
        };
        let verify = || cache_cmd(&["verify", "--sumdb", &w.vkey]);
        let o = verify();
        assert_eq!(o.status.code(), Some(0), "{}\n{}", o.stdout, o.stderr);

        // A record written before evidence objects: the signature file inline.
        let current = std::fs::read_to_string(&zip_record).expect("record");
        let mut v: serde_json::Value = serde_json::from_str(&current).expect("json");
        for p in v["proofs"].as_array_mut().expect("proofs") {
            if p["type"] == "signature" {
                let o = p.as_object_mut().expect("object");
                o.remove("signature_sha256");
                o.insert("signature".into(), serde_json::Value::String(sig.clone()));
            }
        }
        std::fs::write(&zip_record, serde_json::to_vec_pretty(&v).expect("json")).expect("old");
        let o = verify();
        assert_eq!(o.status.code(), Some(0), "{}\n{}", o.stdout, o.stderr);
        std::fs::write(&zip_record, &current).expect("restore");

        // gc keeps the named object and removes an orphan (both settled).
        let orphan = sha256_hex(b"orphan");
        write_evidence(cache, &orphan, b"orphan");
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        for p in [&object, &evidence_path(cache, &orphan)] {
            std::fs::File::options()
                .write(true)
                .open(p)
                .and_then(|f| f.set_modified(old))
                .expect("age the object");
        }
        // `cache verify` notes the orphan and what gc does with it; gc counts both.
        let o = verify();
        assert_eq!(o.status.code(), Some(0), "{}\n{}", o.stdout, o.stderr);
        let note = format!(
            "note: evidence object {} is named by no record: any `cache gc` run with a limit removes it",
            evidence_path(cache, &orphan).display()
        );
        assert!(o.stdout.lines().any(|l| l == note), "{}", o.stdout);
        assert!(o.stdout.contains(" 2 evidence objects, "), "{}", o.stdout);
        let o = cache_cmd(&["gc", "--json"]);
        assert_eq!(o.status.code(), Some(0), "{}\n{}", o.stdout, o.stderr);
        let report: serde_json::Value = serde_json::from_str(&o.stdout).expect("json");
        assert_eq!(report["evidence_objects"], 2, "{}", o.stdout);
        assert_eq!(report["unreferenced_bytes"], 6, "{}", o.stdout);
        let blobs: u64 = crate::support::files_under(&cache.join("blobs"))
            .iter()
            .chain(&crate::support::files_under(&cache.join("evidence")))
            .map(|p| std::fs::metadata(p).expect("size").len())
            .sum();
        assert!(
            report["before_bytes"].as_u64().expect("bytes") >= blobs,
            "{}",
            o.stdout
        );
        let o = cache_cmd(&["gc", "--max-size", "1GiB"]);
        assert_eq!(o.status.code(), Some(0), "{}\n{}", o.stdout, o.stderr);
        assert!(
            o.stdout
                .contains("removed 1 evidence object(s) no record names"),
            "{}",
            o.stdout
        );
        assert!(object.exists(), "gc removed a named evidence object");
        assert!(!evidence_path(cache, &orphan).exists(), "gc kept an orphan");

        // An altered object: `cache verify` names it, and quarantines the records.
        let tampered = format!("{sig}tampered");
        std::fs::write(&object, &tampered).expect("alter");
        let altered = sha256_hex(tampered.as_bytes());
        assert_ne!(altered, name);
        let o = verify();
        assert_ne!(o.status.code(), Some(0), "{}\n{}", o.stdout, o.stderr);
        let why = format!(
            "signature by signer \"internal\": the recorded signature is not available: \
             evidence object {name} is altered: its SHA-256 is {altered}"
        );
        assert_eq!(
            o.stdout
                .lines()
                .filter(|l| l.starts_with("BAD ") && l.contains(&why))
                .count(),
            2,
            "{}\n{}",
            o.stdout,
            o.stderr
        );
        // The object itself: quarantined (a proof writes it again).
        let bad = format!(
            "BAD evidence {}: evidence object SHA-256 is {altered}, its name says {name} [quarantined to ",
            object.display()
        );
        assert!(
            o.stdout.lines().any(|l| l.starts_with(&bad)
                && l.ends_with("; proving again a version whose record names it writes it again]")),
            "{}",
            o.stdout
        );
        assert!(!object.exists(), "the altered object was left in place");

        // Online, the version is proven again and the object written again.
        let g = Goward::start_in(cache, &w.proxy.url(), &w.vkey, &["--policy", pol]);
        let r = g.get(&ok.zip_path());
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.body == ok.zip);
        assert_eq!(std::fs::read_to_string(&object).expect("object"), sig);
        let r = g.get(&ok.mod_path());
        assert_eq!(r.status, 200, "{}", r.text());
        drop(g);

        // A missing object, offline: the record fails its re-check and nothing is served.
        std::fs::remove_file(&object).expect("remove object");
        let trap = crate::support::Trap::new();
        let g = Goward::start_in(cache, &trap.url(), &w.vkey, &["--policy", pol, "--offline"]);
        let r = g.get(&ok.zip_path());
        assert_eq!(r.status, 404, "{}", r.text());
        let missing = format!(
            "cached record failed its re-check: signature by signer \"internal\": \
             the recorded signature is not available: evidence object {name} is missing"
        );
        crate::support::wait_until(
            "the failed re-check is logged",
            std::time::Duration::from_secs(20),
            || g.stderr().contains(&missing),
        );
        trap.assert_untouched();
    }

    /// Signatures fetched rather than read from a local directory: `upstream:` (beside the
    /// artifact, from the GOPROXY list the zip came from) and an `http://` URL template.
    /// Missing ones are refused with the location, fetched ones proven and recorded.
    #[test]
    fn signatures_beside_the_artifact_on_the_upstream_or_at_a_url() {
        let (w, key) = world();
        let up = publish(&w.proxy, "example.com/up", "v1.0.0", "up");
        let up_unsigned = publish(&w.proxy, "example.com/up", "v1.1.0", "up 1.1");
        let web = publish(&w.proxy, "example.com/web", "v1.0.0", "web");
        let web_unsigned = publish(&w.proxy, "example.com/web", "v1.1.0", "web 1.1");
        // Beside the zip on the upstream, and under /sigs/ on a signature site (here the
        // same fake server).
        w.proxy
            .add_file(&format!("{}.sig", up.zip_path()), key.sign(&up.zip));
        w.proxy
            .add_file(&format!("/sigs{}.sig", web.zip_path()), key.sign(&web.zip));
        let policy = format!(
            "[[signer]]\nname = \"internal\"\nkey = \"internal.pub\"\n\n\
             [[allow]]\nname = \"beside\"\nmodules = \"example.com/up\"\n\
             proof = [\"sumdb\", \"signature\"]\nsigners = [\"internal\"]\n\
             signatures = \"upstream:{{module}}/@v/{{version}}{{file}}.sig\"\n\n\
             [[allow]]\nname = \"site\"\nmodules = \"example.com/web\"\n\
             proof = [\"sumdb\", \"signature\"]\nsigners = [\"internal\"]\n\
             signatures = \"{}/sigs/{{module}}/@v/{{version}}{{file}}.sig\"\n",
            w.proxy.url()
        );
        std::fs::write(w.policy(), policy).expect("policy");
        let g = w.goward();
        let env = GoEnv::new(g.url(), &w.vkey);
        env.write("go.mod", "module example.com/scratch\n\ngo 1.21\n");
        for p in [&up, &web] {
            env.go(&["mod", "download", &p.at()]).assert_success();
            let record = std::fs::read_to_string(meta(g.cache_dir(), p)).expect("record");
            let v: serde_json::Value = serde_json::from_str(&record).expect("json");
            assert!(
                v["proofs"].as_array().is_some_and(|ps| ps
                    .iter()
                    .any(|p| p["type"] == "signature" && p["signer"] == "internal")),
                "{record}"
            );
        }
        let site = format!(
            "no signature at {}/sigs/example.com/web/@v/v1.1.0.zip.sig",
            w.proxy.url()
        );
        for (p, rule, reason) in [
            (
                &up_unsigned,
                "beside",
                "no signature at upstream:example.com/up/@v/v1.1.0.zip.sig",
            ),
            (&web_unsigned, "site", site.as_str()),
        ] {
            let out = env.go(&["mod", "download", &p.at()]);
            assert_refused_by_goward(&out, &format!("signature required by policy rule {rule:?}"));
            assert_refused_by_goward(&out, reason);
            assert!(
                !meta(g.cache_dir(), p).exists(),
                "{} stored unsigned",
                p.at()
            );
        }
        // A signature of another zip served at the right place is still refused.
        w.proxy.add_file(
            &format!("{}.sig", up_unsigned.zip_path()),
            key.sign(&up.zip),
        );
        let r = g.get(&up_unsigned.zip_path());
        assert_eq!(r.status, 502, "{}", r.text());
        assert!(
            r.text()
                .contains("not signed by signer \"internal\": bad signature"),
            "{}",
            r.text()
        );
    }

    /// A zip cached while the rule asked only for the checksum database is proven again when
    /// the reloaded rule requires a signature: served if signed (the record gains the
    /// signature), refused with 502 if not.
    #[test]
    fn a_zip_cached_before_the_rule_required_a_signature_is_proven_again() {
        let (w, key) = world();
        let a = publish(&w.proxy, "example.com/signed/a", "v1.0.0", "a");
        let unsigned = publish(&w.proxy, "example.com/signed/a", "v1.1.0", "a 1.1");
        w.write_sig(&a, &key.sign(&a.zip));
        let sigs = w.dir.path().join("sigs");
        let head = "[[signer]]\nname = \"internal\"\nkey = \"internal.pub\"\n\n\
                    [[allow]]\nname = \"signed\"\nmodules = \"example.com/signed\"\n";
        let write = |text: &str| {
            let tmp = w.dir.path().join("policy.tmp");
            std::fs::write(&tmp, text).expect("policy");
            std::fs::rename(&tmp, w.policy()).expect("rename policy");
        };
        write(&format!("{head}proof = [\"sumdb\"]\n"));
        let g = w.goward();
        for p in [&a, &unsigned] {
            let r = g.get(&p.zip_path());
            assert_eq!(r.status, 200, "{}", r.text());
        }
        write(&format!(
            "{head}proof = [\"sumdb\", \"signature\"]\nsigners = \"internal\"\n\
             signatures = \"file://{}/{{module}}/@v/{{version}}{{file}}.sig\"\n",
            sigs.to_str().expect("utf-8 path")
        ));
        crate::support::wait_until(
            "the reload is logged",
            std::time::Duration::from_secs(20),
            || g.stderr().contains("policy reloaded"),
        );
        let r = g.get(&unsigned.zip_path());
        assert_eq!(r.status, 502, "{}", r.text());
        assert!(r.text().contains("no signature at file://"), "{}", r.text());
        let r = g.get(&a.zip_path());
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(r.body == a.zip);
        let record = std::fs::read_to_string(meta(g.cache_dir(), &a)).expect("a's record");
        let v: serde_json::Value = serde_json::from_str(&record).expect("json");
        assert!(
            v["proofs"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["type"] == "signature")),
            "{record}"
        );
        // The signer's key is rotated under the same name: the zip in memory, proven with
        // the old key, is re-checked and refused (its signature is by the old key).
        let rotated = Key::new();
        std::fs::write(w.dir.path().join("rotated.pub"), &rotated.pem).expect("key");
        write(&format!(
            "[[signer]]\nname = \"internal\"\nkey = \"rotated.pub\"\n\n\
             [[allow]]\nname = \"signed\"\nmodules = \"example.com/signed\"\n\
             proof = [\"sumdb\", \"signature\"]\nsigners = \"internal\"\n\
             signatures = \"file://{}/{{module}}/@v/{{version}}{{file}}.sig\"\n",
            sigs.to_str().expect("utf-8 path")
        ));
        crate::support::wait_until(
            "the second reload is logged",
            std::time::Duration::from_secs(20),
            || g.stderr().matches("policy reloaded").count() >= 2,
        );
        let r = g.get(&a.zip_path());
        assert_eq!(r.status, 502, "{}", r.text());
        assert!(
            r.text()
                .contains("not signed by signer \"internal\": bad signature"),
            "{}",
            r.text()
        );
    }

    fn record(cache: &Path, p: &Published, ext: &str) -> serde_json::Value {
        let path = meta(cache, p)
            .with_extension("")
            .with_extension(format!("{ext}.json"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).expect("json")
    }

    /// The upstream re-creates a signed zip with other bytes (stored instead of deflated:
    /// same files, same `h1:`). Signed go.sum lines still prove it, the zip and the go.mod,
    /// with no other proof; a signature over the original zip's bytes does not.
    #[test]
    fn signed_gosum_lines_survive_a_rezipping_upstream_and_zip_bytes_do_not() {
        let (w, key) = world();
        let zip = |m: &str| ModZip::new(m, "v1.0.0").file("x.go", "package x\n");
        let go_mod = |m: &str| format!("module {m}\n\ngo 1.21\n");
        let (lines_m, bytes_m) = ("example.com/rz/lines", "example.com/rz/bytes");
        // What the publisher signed, and what the upstream serves.
        let lines_orig = FakeProxy::prepare(zip(lines_m), &go_mod(lines_m));
        let bytes_orig = FakeProxy::prepare(zip(bytes_m), &go_mod(bytes_m));
        let lines = w.proxy.publish(zip(lines_m).stored(), &go_mod(lines_m));
        let bytes = w.proxy.publish(zip(bytes_m).stored(), &go_mod(bytes_m));
        assert_ne!(lines.zip, lines_orig.zip);
        assert_eq!(lines.zip_h1, lines_orig.zip_h1);
        w.write_sig(&lines, &key.sign(lines_orig.go_sum().as_bytes()));
        w.write_sig(&bytes, &key.sign(&bytes_orig.zip));
        let sigs = w.dir.path().join("sigs");
        let at = format!(
            "signatures = \"file://{}/{{module}}/@v/{{version}}{{file}}.sig\"\n",
            sigs.to_str().expect("utf-8 path")
        );
        let policy = format!(
            "[[signer]]\nname = \"internal\"\nkey = \"internal.pub\"\n\n\
             [[allow]]\nname = \"lines\"\nmodules = \"{lines_m}\"\n\
             proof = [\"signature\"]\nsigned = \"gosum\"\nsigners = [\"internal\"]\n{at}\n\
             [[allow]]\nname = \"bytes\"\nmodules = \"{bytes_m}\"\n\
             proof = [\"sumdb\", \"signature\"]\nsigners = [\"internal\"]\n{at}"
        );
        std::fs::write(w.policy(), policy).expect("policy");
        let g = w.goward();
        let env = GoEnv::new(g.url(), &w.vkey);
        env.write("go.mod", "module example.com/scratch\n\ngo 1.21\n");

        env.go(&["mod", "download", &lines.at()]).assert_success();
        // Both artifacts carry the gosum signature as their only proof.
        for ext in ["zip", "mod"] {
            let v = record(g.cache_dir(), &lines, ext);
            let proofs = v["proofs"].as_array().expect("proofs");
            assert_eq!(proofs.len(), 1, "{v}");
            let p = &proofs[0];
            assert_eq!(p["type"], "signature", "{v}");
            assert_eq!(p["signed"], "gosum", "{v}");
            assert_eq!(p["zip_h1"], lines.zip_h1.as_str(), "{v}");
            assert_eq!(p["mod_h1"], lines.mod_h1.as_str(), "{v}");
        }

        let out = env.go(&["mod", "download", &bytes.at()]);
        assert_refused_by_goward(&out, "signature required by policy rule \"bytes\"");
        assert_refused_by_goward(&out, "not signed by signer \"internal\": bad signature");
        assert!(!meta(g.cache_dir(), &bytes).exists(), "stored unsigned");

        // `cache verify` re-checks both gosum records offline.
        let config = w.dir.path().join("goward.toml");
        std::fs::write(&config, format!("policy = {:?}\n", w.policy())).expect("config");
        let o = run_goward(&[
            "cache",
            "verify",
            "--config",
            config.to_str().expect("utf-8 path"),
            "--cache-dir",
            g.cache_dir().to_str().expect("utf-8 path"),
            "--sumdb",
            &w.vkey,
        ]);
        assert_eq!(o.status.code(), Some(0), "{}\n{}", o.stdout, o.stderr);
        assert!(!o.stdout.contains("BAD "), "{}", o.stdout);
    }

    /// Signed go.sum lines that name another go.mod: the go.mod the upstream serves is
    /// refused with both `h1:`s, and nothing is stored.
    #[test]
    fn signed_gosum_lines_naming_another_go_mod_are_refused() {
        let (w, key) = world();
        let m = "example.com/rz/gomod";
        let served = publish(&w.proxy, m, "v1.0.0", "x");
        let signed_lines = format!(
            "{m} v1.0.0 {}\n{m} v1.0.0/go.mod h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
            served.zip_h1
        );
        w.write_sig(&served, &key.sign(signed_lines.as_bytes()));
        let policy = format!(
            "[[signer]]\nname = \"internal\"\nkey = \"internal.pub\"\n\n\
             [[allow]]\nname = \"lines\"\nmodules = \"{m}\"\n\
             proof = [\"signature\"]\nsigned = \"gosum\"\nsigners = \"internal\"\n\
             signatures = \"file://{}/{{module}}/@v/{{version}}{{file}}.sig\"\n",
            w.dir.path().join("sigs").to_str().expect("utf-8 path")
        );
        std::fs::write(w.policy(), policy).expect("policy");
        let g = w.goward();
        for path in [served.mod_path(), served.zip_path()] {
            let r = g.get(&path);
            assert_eq!(r.status, 502, "{path}: {}", r.text());
            assert!(
                r.text()
                    .contains("not signed by signer \"internal\": bad signature"),
                "{path}: {}",
                r.text()
            );
        }
        assert!(!meta(g.cache_dir(), &served).exists());
    }

    /// `proof = ["signature"]` alone, zip mode: the go.mod is proven as the signed zip's
    /// go.mod (the zip is proven first), recorded as evidence referencing the zip's
    /// signature; a go.mod that differs from the one inside the signed zip is refused.
    #[test]
    fn a_signed_zip_alone_proves_the_go_mod_inside_it() {
        let (w, key) = world();
        let ok = publish(&w.proxy, "example.com/alone/ok", "v1.0.0", "ok");
        let m = "example.com/alone/differs";
        let differs = FakeProxy::prepare(
            ModZip::new(m, "v1.0.0")
                .file("x.go", "package x\n")
                .file("go.mod", format!("module {m}\n\ngo 1.20\n")),
            &format!("module {m}\n\ngo 1.21\n"),
        );
        w.proxy.serve(&differs);
        w.write_sig(&ok, &key.sign(&ok.zip));
        w.write_sig(&differs, &key.sign(&differs.zip));
        let policy = format!(
            "[[signer]]\nname = \"internal\"\nkey = \"internal.pub\"\n\n\
             [[allow]]\nname = \"alone\"\nmodules = \"example.com/alone\"\n\
             proof = [\"signature\"]\nsigners = \"internal\"\n\
             signatures = \"file://{}/{{module}}/@v/{{version}}{{file}}.sig\"\n",
            w.dir.path().join("sigs").to_str().expect("utf-8 path")
        );
        std::fs::write(w.policy(), policy).expect("policy");
        let g = w.goward();
        let env = GoEnv::new(g.url(), &w.vkey);
        env.write("go.mod", "module example.com/scratch\n\ngo 1.21\n");
        env.go(&["mod", "download", &ok.at()]).assert_success();
        let zip_sha = record(g.cache_dir(), &ok, "zip")["sha256"].clone();
        let v = record(g.cache_dir(), &ok, "mod");
        let proofs = v["proofs"].as_array().expect("proofs");
        assert_eq!(proofs.len(), 1, "{v}");
        assert_eq!(proofs[0]["type"], "signature", "{v}");
        // The go.mod's evidence is the zip's signature, over the zip's SHA-256.
        assert_eq!(proofs[0]["sha256"], zip_sha, "{v}");
        assert_eq!(proofs[0]["go_mod_sha256"], v["sha256"], "{v}");

        let r = g.get(&differs.mod_path());
        assert_eq!(r.status, 502, "{}", r.text());
        assert!(
            r.text()
                .contains("signature required by policy rule \"alone\""),
            "{}",
            r.text()
        );
        assert!(
            r.text().contains(") is not the signed zip's go.mod ("),
            "{}",
            r.text()
        );
        let mod_record = meta(g.cache_dir(), &differs)
            .with_extension("")
            .with_extension("mod.json");
        assert!(!mod_record.exists(), "the go.mod was stored");

        // `cache verify` re-checks the go.mod's evidence offline.
        let config = w.dir.path().join("goward.toml");
        std::fs::write(&config, format!("policy = {:?}\n", w.policy())).expect("config");
        let cache = g.cache_dir().to_path_buf();
        let verify = || {
            run_goward(&[
                "cache",
                "verify",
                "--config",
                config.to_str().expect("utf-8 path"),
                "--cache-dir",
                cache.to_str().expect("utf-8 path"),
                "--sumdb",
                &w.vkey,
            ])
        };
        let o = verify();
        assert_eq!(o.status.code(), Some(0), "{}\n{}", o.stdout, o.stderr);
        assert!(!o.stdout.contains("BAD "), "{}", o.stdout);

        // Another go.mod stored for ok, its record edited consistently (blob name, size,
        // h1:, the digest the evidence records for the zip's go.mod, in both records): the
        // re-check re-reads the go.mod inside the stored signed zip, and refuses it.
        let zip_record = meta(&cache, &ok);
        let ok_mod_record = zip_record.with_extension("").with_extension("mod.json");
        let (orig_zip_rec, orig_mod_rec) = (
            std::fs::read_to_string(&zip_record).expect("zip record"),
            std::fs::read_to_string(&ok_mod_record).expect("mod record"),
        );
        let real = format!("module {}\n\ngo 1.21\n", "example.com/alone/ok");
        let fake = format!(
            "module {}\n\ngo 1.21\n\nrequire evil.example/x v1.0.0\n",
            "example.com/alone/ok"
        );
        let (real_sha, fake_sha) = (sha256_hex(real.as_bytes()), sha256_hex(fake.as_bytes()));
        let zip_sha = zip_sha.as_str().expect("zip sha").to_owned();
        let tamper = || {
            let blob = cache
                .join("blobs/sha256")
                .join(&fake_sha[..2])
                .join(&fake_sha);
            std::fs::create_dir_all(blob.parent().expect("parent")).expect("mkdir");
            std::fs::write(&blob, &fake).expect("fake go.mod");
            let mut v: serde_json::Value = serde_json::from_str(&orig_mod_rec).expect("json");
            v["sha256"] = fake_sha.clone().into();
            v["size"] = fake.len().into();
            v["h1"] = crate::support::modzip::h1_mod(fake.as_bytes()).into();
            v["proofs"][0]["go_mod_sha256"] = fake_sha.clone().into();
            std::fs::write(&ok_mod_record, serde_json::to_vec(&v).expect("json")).expect("mod");
            std::fs::write(&zip_record, orig_zip_rec.replace(&real_sha, &fake_sha)).expect("zip");
        };
        tamper();
        // `serve` refuses the edited records and proves both again from the upstream.
        let mut g = g;
        g.restart();
        let g = g;
        let r = g.get(&ok.mod_path());
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.text(), real);
        let why_mod = format!(
            "signature by signer \"internal\": the stored go.mod (SHA-256 {fake_sha}) is not the \
             go.mod inside the signed zip {zip_sha} ({real_sha})"
        );
        crate::support::wait_until(
            "the refused go.mod record is logged",
            std::time::Duration::from_secs(20),
            || g.stderr().contains(&why_mod),
        );
        tamper();
        let o = verify();
        assert_eq!(o.status.code(), Some(1), "{}\n{}", o.stdout, o.stderr);
        let why_zip = format!(
            "signature by signer \"internal\": recorded as holding a go.mod with SHA-256 \
             {fake_sha}, but the stored zip's go.mod has {real_sha}"
        );
        for why in [&why_mod, &why_zip] {
            assert!(
                o.stdout
                    .lines()
                    .any(|l| l.starts_with("BAD ") && l.contains(why.as_str())),
                "{why}\n{}",
                o.stdout
            );
        }
    }

    /// `deny_retracted` for a module proven by a signed zip alone. The latest go.mod (read
    /// by the check) is proven through the latest zip, whose own decision has the check too:
    /// that used to wait on itself forever. Now the latest zip is downloaded once and the
    /// retracted version's zip never.
    #[test]
    fn retraction_checks_of_signature_only_modules() {
        let (w, key) = world();
        let m = "example.com/alone/r";
        let old = w.proxy.publish(
            ModZip::new(m, "v1.0.0").file("x.go", "package x\n"),
            &format!("module {m}\n\ngo 1.21\n"),
        );
        let latest = w.proxy.publish(
            ModZip::new(m, "v1.1.0").file("x.go", "package x // 1.1\n"),
            &format!("module {m}\n\ngo 1.21\n\nretract v1.0.0 // broken\n"),
        );
        for p in [&old, &latest] {
            w.write_sig(p, &key.sign(&p.zip));
        }
        let policy = format!(
            "[[signer]]\nname = \"internal\"\nkey = \"internal.pub\"\n\n\
             [[allow]]\nname = \"alone\"\nmodules = \"example.com/alone\"\n\
             proof = [\"signature\"]\nsigners = \"internal\"\ndeny_retracted = true\n\
             signatures = \"file://{}/{{module}}/@v/{{version}}{{file}}.sig\"\n",
            w.dir.path().join("sigs").to_str().expect("utf-8 path")
        );
        std::fs::write(w.policy(), policy).expect("policy");
        let g = w.goward();
        let r = g
            .try_get(&latest.mod_path(), std::time::Duration::from_secs(30))
            .expect("the latest go.mod is answered");
        assert_eq!(r.status, 200, "{}", r.text());
        let r = g
            .try_get(&old.mod_path(), std::time::Duration::from_secs(30))
            .expect("the retracted go.mod is answered");
        assert_eq!(r.status, 403, "{}", r.text());
        assert_eq!(
            r.text().trim_end(),
            format!(
                "goward: denied by policy rule \"alone\": {m}@v1.0.0 is retracted by its author: broken"
            )
        );
        // The latest zip was read once, to prove the latest go.mod (its signature covers
        // only the zip); the retracted version's zip never.
        assert_eq!(w.proxy.requests(&latest.zip_path()), 1);
        assert_eq!(w.proxy.requests(&old.zip_path()), 0);
        // Asked again, the proven go.mod answers from the cache: no zip request.
        let r = g.get(&old.mod_path());
        assert_eq!(r.status, 403, "{}", r.text());
        let r = g.get(&old.zip_path());
        assert_eq!(r.status, 403, "{}", r.text());
        assert_eq!(w.proxy.requests(&latest.zip_path()), 1);
        assert_eq!(w.proxy.requests(&old.zip_path()), 0);
    }

    /// Keyless, end to end with the real go command: `module.zip` (generated once with the fake
    /// Sigstore instance, testdata/sigstore/README.md) is published as is; its bundle beside it
    /// on the upstream lets a program using it build. A bundle for another module's zip, one
    /// signed by another identity and one with a forged inclusion proof each make `go` fail
    /// with goward's reason, and leave nothing in goward's cache.
    #[test]
    fn keyless_bundles_from_the_fake_sigstore_instance_with_the_real_go_command() {
        const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/sigstore/");
        let read = |name: &str| std::fs::read(format!("{DIR}{name}")).expect(name);
        let (w, _) = world();
        let module = "example.com/sigstore/hello";
        let zip = read("module.zip");
        let mod_bytes = format!("module {module}\n\ngo 1.21\n").into_bytes();
        let mut p = Published {
            path: module.to_owned(),
            version: "v1.0.0".to_owned(),
            zip_h1: crate::support::modzip::h1_zip(&zip),
            mod_h1: crate::support::modzip::h1_mod(&mod_bytes),
            zip,
            mod_bytes,
            record: None,
        };
        w.proxy.log_module(&mut p);
        w.proxy.serve(&p);
        let policy = format!(
            "[[signer]]\nname = \"release\"\n\
             identity_regexp = '^https://github\\.com/example/mod/\\.github/workflows/release\\.yml@refs/tags/v[0-9.]+$'\n\
             issuer = \"https://token.actions.githubusercontent.com\"\n\
             trusted_root = \"{DIR}trusted_root.json\"\n\n\
             [[allow]]\nname = \"released\"\nmodules = \"example.com/sigstore\"\n\
             proof = [\"sumdb\", \"signature\"]\nsigners = \"release\"\n\
             signatures = \"upstream:{{module}}/@v/{{version}}{{file}}.sigstore.json\"\n"
        );
        std::fs::write(w.policy(), policy).expect("policy");
        let g = w.goward();
        let bundle_path = format!("{}.sigstore.json", p.zip_path());
        let program = |env: &GoEnv| {
            env.write(
                "go.mod",
                format!("module example.com/app\n\ngo 1.21\n\nrequire {module} v1.0.0\n"),
            );
            env.write("go.sum", p.go_sum());
            env.write(
                "main.go",
                format!(
                    "package main\n\nimport (\n\t\"fmt\"\n\n\t\"{module}\"\n)\n\nfunc main() {{ fmt.Println(hello.Hello()) }}\n"
                ),
            );
        };
        for (bundle, reason) in [
            (
                "other-module.zip.sigstore.json",
                "not signed by signer \"release\": artifact mismatch",
            ),
            (
                "module.zip.other-identity.sigstore.json",
                "not signed by signer \"release\": identity mismatch: certificate identity \"https://github.com/someone-else/mod/.github/workflows/release.yml@refs/tags/v1.0.0\" does not match",
            ),
            (
                "module.zip.forged-proof.sigstore.json",
                "not signed by signer \"release\": inclusion proof invalid",
            ),
        ] {
            w.proxy.add_file(&bundle_path, read(bundle));
            let env = GoEnv::new(g.url(), &w.vkey);
            program(&env);
            let out = env.go(&["build", "-o", "app", "."]);
            assert_refused_by_goward(&out, "signature required by policy rule \"released\"");
            assert_refused_by_goward(&out, reason);
            assert!(!meta(g.cache_dir(), &p).exists(), "{bundle}: stored");
            // No blob holds it (a background prefetch may still be spooling it to a temp
            // file, which is not the cache and is removed when it fails).
            let blobs = g.cache_dir().join("blobs");
            assert!(
                crate::support::files_containing(&blobs, &p.zip).is_empty(),
                "{bundle}: the zip reached goward's cache"
            );
        }
        w.proxy
            .add_file(&bundle_path, read("module.zip.sigstore.json"));
        let env = GoEnv::new(g.url(), &w.vkey);
        program(&env);
        env.go(&["build", "-o", "app", "."]).assert_success();
        // The blob check above can fail: the signed zip is stored there now.
        assert!(!crate::support::files_containing(&g.cache_dir().join("blobs"), &p.zip).is_empty());
        let v = record(g.cache_dir(), &p, "zip");
        assert!(
            v["proofs"].as_array().is_some_and(|ps| ps
                .iter()
                .any(|x| x["type"] == "signature" && x["signer"] == "release")),
            "{v}"
        );
    }
}
