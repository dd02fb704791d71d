//! The one re-check of a stored record, wherever a record is trusted again:
//! when `serve` loads it from the cache, by `goward cache verify`, and (to
//! come) by bundle import and replicas reading a shared bucket.
//!
//! A record is trusted again only if it is about exactly the artifact asked
//! for, names a blob whose bytes hash to what it records (SHA-256 and
//! `h1:`, so it cannot point at another version's valid blob), lists at
//! least one proof, and every proof's evidence re-checks offline by the
//! same rule as at fetch time ([`crate::verify::proof`]), reading the evidence
//! objects it names (signature files) by digest.

// A stored record is untrusted input: the parsing lints of `verify` apply.
#![cfg_attr(
    not(test),
    deny(
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

use std::io::Read;

use super::{ArtifactMeta, LocalBlob};
use crate::artifact::{ArtifactKind, BlobDigests};
use crate::policy::Policy;
use crate::verify::proof::{Artifact, EvidenceObjects, Rechecked};
use crate::verify::zip::{ZipLimits, check_zip_handles};
use crate::verify::{VerifyError, gomod};
use crate::xmod::dirhash::{self, hex};
use crate::xmod::note::Verifier;

/// Why a stored record is not trusted again.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecheckError {
    /// The record is about another artifact than the one asked for.
    #[error("the record is for {got}, not {want}")]
    WrongRecord { want: String, got: String },
    /// The blob is missing, unreadable, or not the bytes its name says.
    #[error("{0}")]
    Blob(String),
    /// The blob is intact but is not this artifact (another version's zip,
    /// another module's go.mod).
    #[error("{0}")]
    WrongBlob(String),
    /// The record lists no proof: goward never trusts an unproven artifact.
    #[error("the record lists no proof")]
    NoProof,
    /// A recorded proof does not hold.
    #[error(transparent)]
    Proof(Box<VerifyError>),
}

impl From<VerifyError> for RecheckError {
    fn from(e: VerifyError) -> Self {
        RecheckError::Proof(Box::new(e))
    }
}

impl RecheckError {
    /// What is at fault: `blob` (the bytes are damaged: quarantine the
    /// blob), `metadata` or `proof` (the record is wrong; the blob is intact).
    pub fn what(&self) -> &'static str {
        match self {
            RecheckError::Blob(_) => "blob",
            RecheckError::WrongRecord { .. } | RecheckError::WrongBlob(_) => "metadata",
            RecheckError::NoProof | RecheckError::Proof(_) => "proof",
        }
    }

    /// Stable metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            RecheckError::WrongRecord { .. } => "cache_wrong_record",
            RecheckError::Blob(_) => "cache_digest_mismatch",
            RecheckError::WrongBlob(_) => "cache_wrong_blob",
            RecheckError::NoProof => "proof_missing",
            RecheckError::Proof(e) => e.reason(),
        }
    }
}

/// What a successful re-check noted: evidence that no anchor could check
/// (it counts for nothing when the policy asks what proved the artifact).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecheckedMeta {
    /// One line per unanchored piece of evidence.
    pub unanchored: Vec<String>,
}

fn name(kind: ArtifactKind, module: &str, version: &str) -> String {
    format!("{module}@{version} ({})", kind.as_str())
}

/// What stored records are re-checked against: the configured
/// checksum-database keys and the policy in force, which gives each
/// artifact its [`TrustAnchors`](crate::verify::proof::TrustAnchors) (its pin, the declared signers).
#[derive(Clone, Copy, Debug)]
pub struct Anchors<'a> {
    /// Keys of the configured checksum databases.
    pub sumdb_keys: &'a [Verifier],
    /// The policy in force.
    pub policy: &'a Policy,
}

/// Re-checks `meta` as the record of `want` (kind, module, version), whose
/// blob read back as `blob` and whose evidence objects as `objects`,
/// against `anchors`.
pub fn recheck_record(
    meta: &ArtifactMeta,
    want: (ArtifactKind, &str, &str),
    blob: &BlobDigests,
    objects: &EvidenceObjects,
    anchors: &Anchors<'_>,
) -> Result<RecheckedMeta, RecheckError> {
    let (kind, module, version) = want;
    if (meta.kind, meta.module.as_str(), meta.version.as_str()) != want {
        return Err(RecheckError::WrongRecord {
            want: name(kind, module, version),
            got: name(meta.kind, &meta.module, &meta.version),
        });
    }
    if blob.size != meta.size {
        return Err(RecheckError::Blob(format!(
            "blob is {} bytes, the record says {}",
            blob.size, meta.size
        )));
    }
    let sha = hex(&blob.sha256);
    if sha != meta.sha256 {
        return Err(RecheckError::Blob(format!(
            "blob SHA-256 is {sha}, its name says {}",
            meta.sha256
        )));
    }
    if blob.h1.as_str() != meta.h1 {
        return Err(RecheckError::WrongBlob(format!(
            "{} h1 is {}, the record says {}",
            kind.as_str(),
            blob.h1,
            meta.h1
        )));
    }
    if meta.proofs.is_empty() {
        return Err(RecheckError::NoProof);
    }
    let a = Artifact {
        kind,
        module,
        version,
        h1: &blob.h1,
        sha256: &blob.sha256,
    };
    let anchors = anchors
        .policy
        .trust_anchors(anchors.sumdb_keys, module, version, kind);
    let anchors = &anchors;
    let mut out = RecheckedMeta::default();
    for p in &meta.proofs {
        if let Rechecked::Unanchored(why) = p.recheck(&a, anchors, objects)? {
            out.unanchored.push(why);
        }
    }
    Ok(out)
}

/// Reads a stored blob back and computes its digests as the artifact `meta`
/// records: a zip passes every module-zip rule for its module version on
/// the way (`limits`), a go.mod is hashed as one. Blocks; reads the whole
/// blob. The store hands the blob over through [`crate::cache::digests`].
pub fn blob_digests(
    blob: &LocalBlob,
    meta: &ArtifactMeta,
    limits: &ZipLimits,
) -> Result<BlobDigests, RecheckError> {
    let open = || {
        blob.open().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                RecheckError::Blob("blob is missing".into())
            } else {
                RecheckError::Blob(format!("blob unreadable: {e}"))
            }
        })
    };
    let unreadable = |e: std::io::Error| RecheckError::Blob(format!("blob unreadable: {e}"));
    let f = open()?;
    let size = f.metadata().map_err(unreadable)?.len();
    if size != meta.size {
        return Err(RecheckError::Blob(format!(
            "blob is {size} bytes, the record says {}",
            meta.size
        )));
    }
    match meta.kind {
        ArtifactKind::Zip => {
            let reopen = || blob.open();
            match check_zip_handles(&reopen, &meta.module, &meta.version, limits) {
                Ok(r) => Ok(BlobDigests {
                    h1: r.h1,
                    sha256: r.sha256,
                    size: r.size,
                    go_mod_sha256: r.go_mod_sha256,
                }),
                Err(e) => {
                    // Damaged bytes, or intact bytes of another artifact?
                    let (sha, _) = dirhash::sha256_reader(open()?).map_err(unreadable)?;
                    let sha = hex(&sha);
                    if sha != meta.sha256 {
                        return Err(RecheckError::Blob(format!(
                            "blob SHA-256 is {sha}, its name says {}",
                            meta.sha256
                        )));
                    }
                    Err(RecheckError::WrongBlob(format!(
                        "the blob fails the module-zip rules for {}@{}: {e}",
                        meta.module, meta.version
                    )))
                }
            }
        }
        ArtifactKind::Mod => {
            let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
            f.take(gomod::MAX_GO_MOD + 1)
                .read_to_end(&mut bytes)
                .map_err(unreadable)?;
            Ok(BlobDigests {
                h1: dirhash::hash_go_mod(&bytes),
                sha256: dirhash::sha256(&bytes),
                size: bytes.len() as u64,
                go_mod_sha256: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::artifact::H1;
    use crate::cache::ProofRecord;
    use crate::policy::Policy;
    use crate::verify::proof::{pinned, sumdb};
    use crate::xmod::note::{self, Signer, Verifier};
    use crate::xmod::tlog::{self, Tree};

    const M: &str = "example.com/m";
    const GO_MOD: &[u8] = b"module example.com/m\n";

    fn signer() -> Signer {
        Signer::from_seed("sum.test", [7; 32]).unwrap()
    }

    fn signed(signer: &Signer, n: u64) -> String {
        let text = tlog::format_tree(&Tree {
            n,
            hash: tlog::empty_tree_hash(),
        });
        String::from_utf8(note::sign(&text, &[signer]).unwrap()).unwrap()
    }

    fn sumdb_proof(text: &str, record: u64, tree_size: u64, note: String) -> ProofRecord {
        ProofRecord::Sumdb(sumdb::Evidence {
            db: "sum.test".into(),
            record,
            text: text.into(),
            tree_size,
            note,
        })
    }

    fn blob(bytes: &[u8]) -> BlobDigests {
        BlobDigests {
            h1: dirhash::hash_go_mod(bytes),
            sha256: dirhash::sha256(bytes),
            size: bytes.len() as u64,
            go_mod_sha256: None,
        }
    }

    /// The go.mod record of `M@v1.0.0` for `bytes`, proven by `proofs`.
    fn record(bytes: &[u8], proofs: Vec<ProofRecord>) -> ArtifactMeta {
        let b = blob(bytes);
        ArtifactMeta {
            v: 2,
            kind: ArtifactKind::Mod,
            module: M.into(),
            version: "v1.0.0".into(),
            sha256: hex(&b.sha256),
            size: b.size,
            h1: b.h1.as_str().to_owned(),
            proofs,
            verified_at: 0,
            instance: 0,
        }
    }

    fn mod_line(h1: &H1) -> String {
        format!("{M} v1.0.0/go.mod {h1}\n")
    }

    fn check(meta: &ArtifactMeta, b: &BlobDigests, policy: &Policy) -> Result<Vec<String>, String> {
        let keys: Vec<Verifier> = vec![signer().verifier()];
        let anchors = Anchors {
            sumdb_keys: &keys,
            policy,
        };
        recheck_record(
            meta,
            (ArtifactKind::Mod, M, "v1.0.0"),
            b,
            &EvidenceObjects::default(),
            &anchors,
        )
        .map(|r| r.unanchored)
        .map_err(|e| e.to_string())
    }

    #[test]
    fn a_record_is_trusted_again_only_if_every_part_holds() {
        let s = signer();
        let other = Signer::from_seed("sum.test", [8; 32]).unwrap();
        let pol = Policy::embedded_default();
        let b = blob(GO_MOD);
        let good = mod_line(&b.h1);
        let rec =
            |text: &str, id, size, note| record(GO_MOD, vec![sumdb_proof(text, id, size, note)]);
        assert_eq!(
            check(&rec(&good, 3, 10, signed(&s, 10)), &b, &pol),
            Ok(vec![])
        );

        let bad = |m: &ArtifactMeta, b: &BlobDigests| check(m, b, &pol).unwrap_err();
        let other_h1 = dirhash::hash_go_mod(b"module example.com/m\n\ngo 1.21\n");
        // A second, non-matching h1: line: every line must match.
        assert_eq!(
            bad(
                &rec(
                    &format!("{good}{}", mod_line(&other_h1)),
                    3,
                    10,
                    signed(&s, 10)
                ),
                &b
            ),
            format!(
                "go.mod hash mismatch for {M}@v1.0.0: downloaded {}, checksum database sum.test record 3 says {other_h1}",
                b.h1
            )
        );
        // Only the zip's line: none for the go.mod.
        assert_eq!(
            bad(
                &rec(&format!("{M} v1.0.0 {}\n", b.h1), 3, 10, signed(&s, 10)),
                &b
            ),
            format!("checksum database sum.test record 3 has no h1: line for {M} v1.0.0/go.mod")
        );
        // A line about another version.
        assert_eq!(
            bad(
                &rec(
                    &format!("{good}{M} v1.0.1/go.mod {}\n", b.h1),
                    3,
                    10,
                    signed(&s, 10)
                ),
                &b
            ),
            format!(
                "checksum database sum.test record 3: line \"{M} v1.0.1/go.mod {}\" is not about {M}@v1.0.0",
                b.h1
            )
        );
        // A note signed by another key, a tampered note.
        let e = bad(&rec(&good, 3, 10, signed(&other, 10)), &b);
        assert!(
            e.starts_with(
                "checksum database sum.test record 3: the signed tree note does not verify: "
            ),
            "{e}"
        );
        let tampered = signed(&s, 10).replacen("\n10\n", "\n11\n", 1);
        let e = bad(&rec(&good, 3, 11, tampered), &b);
        assert!(
            e.starts_with(
                "checksum database sum.test record 3: the signed tree note does not verify: "
            ),
            "{e}"
        );
        assert_eq!(
            bad(&rec(&good, 3, 11, signed(&s, 10)), &b),
            "checksum database sum.test record 3: the record says tree size 11 but its note signs size 10"
        );
        assert_eq!(
            bad(&rec(&good, 10, 10, signed(&s, 10)), &b),
            "checksum database sum.test record 10: the record number lies outside its tree of size 10"
        );
        // A database no longer configured: consistent, but unanchored.
        let mut gone = rec(&good, 3, 10, signed(&s, 10));
        if let ProofRecord::Sumdb(e) = &mut gone.proofs[0] {
            e.db = "gone.test".into();
        }
        assert_eq!(
            check(&gone, &b, &pol),
            Ok(vec![
                "proof by gone.test, which is not configured; its note was not checked".into()
            ])
        );

        let good_rec = rec(&good, 3, 10, signed(&s, 10));
        // The record of another module, asked for as M.
        let mut wrong = good_rec.clone();
        wrong.module = "example.com/other".into();
        assert_eq!(
            bad(&wrong, &b),
            format!("the record is for example.com/other@v1.0.0 (go.mod), not {M}@v1.0.0 (go.mod)")
        );
        // The record names another artifact's (intact) blob.
        let theirs = blob(b"module example.com/other\n");
        let mut moved = good_rec.clone();
        moved.sha256 = hex(&theirs.sha256);
        moved.size = theirs.size;
        assert_eq!(
            bad(&moved, &theirs),
            format!("go.mod h1 is {}, the record says {}", theirs.h1, b.h1)
        );
        // Damaged bytes.
        let mut damaged = theirs.clone();
        damaged.size = b.size;
        assert_eq!(
            bad(&good_rec, &damaged),
            format!(
                "blob SHA-256 is {}, its name says {}",
                hex(&theirs.sha256),
                good_rec.sha256
            )
        );
        let mut no_proof = good_rec;
        no_proof.proofs.clear();
        assert_eq!(bad(&no_proof, &b), "the record lists no proof");
    }

    #[test]
    fn pins_are_rechecked_against_the_policy_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let b = blob(GO_MOD);
        let pinning = |h1: &H1| {
            std::fs::write(
                dir.path().join("pins.sum"),
                format!("{M} v1.0.0/go.mod {h1}\n"),
            )
            .unwrap();
            let origin = dir.path().join("policy.toml");
            Policy::parse(
                "[[allow]]\nname = \"m\"\nmodules = \"example.com/m\"\nproof = [\"pinned\"]\npins = [\"pins.sum\"]\n",
                origin.to_str().unwrap(),
            )
            .unwrap()
        };
        let pin = |h1: &str| {
            ProofRecord::Pinned(pinned::Evidence {
                h1: h1.into(),
                policy: "p.toml".into(),
            })
        };
        let pol = pinning(&b.h1);
        let m = record(GO_MOD, vec![pin(b.h1.as_str())]);
        assert_eq!(check(&m, &b, &pol), Ok(vec![]));
        // The recorded pin is not the artifact's hash.
        let other = dirhash::hash_go_mod(b"x");
        assert_eq!(
            check(&record(GO_MOD, vec![pin(other.as_str())]), &b, &pol),
            Err(format!(
                "go.mod hash mismatch for {M}@v1.0.0: downloaded {}, pinned hash of policy p.toml says {other}",
                b.h1
            ))
        );
        // The policy now pins another hash.
        let now = pinning(&other);
        assert_eq!(
            check(&m, &b, &now),
            Err(format!(
                "pinned hash of policy p.toml: the policy in force ({}) now pins {other} for the go.mod",
                now.origin()
            ))
        );
        // The policy pins nothing for it any more.
        let none = Policy::embedded_default();
        assert_eq!(
            check(&m, &b, &none),
            Ok(vec![format!(
                "pinned by p.toml, but the policy in force ({}) pins nothing for it",
                none.origin()
            )])
        );
    }

    #[test]
    fn blob_digests_name_what_is_wrong_with_the_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let limits = ZipLimits::default();
        let m = record(GO_MOD, vec![]);
        let path = dir
            .path()
            .join("blobs/sha256")
            .join(&m.sha256[..2])
            .join(&m.sha256);
        let p = path.clone();
        let store = LocalBlob::new(move || std::fs::File::open(&p));
        assert_eq!(
            blob_digests(&store, &m, &limits),
            Err(RecheckError::Blob("blob is missing".into()))
        );
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, GO_MOD).unwrap();
        assert_eq!(blob_digests(&store, &m, &limits), Ok(blob(GO_MOD)));
        std::fs::write(&path, b"module").unwrap();
        assert_eq!(
            blob_digests(&store, &m, &limits),
            Err(RecheckError::Blob(format!(
                "blob is 6 bytes, the record says {}",
                GO_MOD.len()
            )))
        );
        // A zip record whose blob is not a zip of its module version.
        let mut z = m.clone();
        z.kind = ArtifactKind::Zip;
        std::fs::write(&path, GO_MOD).unwrap();
        let e = blob_digests(&store, &z, &limits).unwrap_err();
        assert_eq!(e.what(), "metadata", "{e}");
        assert!(
            e.to_string().starts_with(&format!(
                "the blob fails the module-zip rules for {M}@v1.0.0: "
            )),
            "{e}"
        );
    }
}
