//! Proof kinds: one module per kind, each implementing [`Kind`], and one
//! line per kind in the `kinds!` list that generates the enums here
//! ([`ProofKind`], [`Proof`], [`Evidence`], [`RequiredProof`]) and their
//! dispatch.
//!
//! Each kind supplies a fetch-time token (a variant of [`Proof`], built only
//! by its verifier), the serializable evidence the cache records (a variant
//! of [`Evidence`]), a `check` of the token against the downloaded
//! artifact, and a `recheck` of stored evidence, offline, from the evidence
//! alone plus the [`TrustAnchors`] (keys, pins). Both apply [`vouches`], the
//! one rule for hash lines. Its requirement type is what a policy rule says
//! of the kind (pin files, signers), with whether a stored record still
//! satisfies it under the policy in force (`satisfied_by`, with the
//! refusal's text) and how `policy explain` and `policy check` state it.
//! The kind's module also says what a fetch needs before it can prove the
//! kind (`sumdb::may_look_up`, `pinned::prove`, the signature's
//! `prove_go_mod`): the policy and the service only dispatch to them.
//!
//! Outside this folder a kind has two more places, by design: its keys in
//! the policy file (`policy::parse`, which names every key of every table
//! so that an unknown key's error lists them all, and which resolves a
//! rule's kinds into requirements), and, when proving it needs the
//! service's network or clients, its arm in `Service::prove`. The
//! compiler's exhaustiveness checks point at both.
//!
//! Evidence too large to sit in a record (a signature bundle) is a
//! content-addressed object the store keeps beside the records
//! ([`Proof::evidence_object`]); the record names it by SHA-256, and the
//! re-check reads it through [`EvidenceObjects`], which checks the digest.

pub(crate) mod pinned;
pub(crate) mod signature;
pub(crate) mod sumdb;

use std::collections::BTreeMap;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::VerifyError;
use crate::artifact::{ArtifactKind, H1};
use crate::xmod::dirhash::hex;
use crate::xmod::note::Verifier;

pub(crate) use signature::kind::SignedArtifact;

/// One kind of proof. Each kind's module implements it on a marker type:
/// the token its verifier hands the fetch (only that module builds one),
/// the evidence the cache records of it, and how each is checked against
/// an artifact. The enums [`ProofKind`], [`Proof`] and [`Evidence`] are
/// generated from the one list in `kinds!` and only dispatch here, so a
/// kind's behaviour lives in its module alone.
pub trait Kind {
    /// Whether a proof of this kind vouches for a go.mod by itself. A
    /// signature is over the zip's bytes (or the go.sum lines), so it
    /// proves a go.mod only through the version's zip, and only when the
    /// rule has no kind that proves the go.mod itself
    /// ([`signature::kind::proving_go_mod`]).
    const PROVES_GO_MOD: bool;
    /// The fetch-time token; built only by the kind's verifier.
    type Token: Clone + std::fmt::Debug;
    /// What the cache records of a token, in the record's JSON.
    type Evidence: Clone + std::fmt::Debug + PartialEq + Eq + Serialize + DeserializeOwned;
    /// What a policy rule requires of this kind, resolved when the policy
    /// loads; its `Display` is how `policy explain` states it.
    type Requirement: Clone + std::fmt::Debug + PartialEq + Eq + std::fmt::Display;

    /// How `policy check` lists a rule's requirement: the kind's name and
    /// its settings, briefly.
    fn summary(req: &Self::Requirement) -> String;

    /// Whether a stored record satisfies `req` under the policy in force
    /// (`cx`), or the artifact must be proven again. `Err` says what is
    /// missing.
    fn satisfied_by(
        req: &Self::Requirement,
        recorded: &Recorded<'_>,
        cx: &Satisfying<'_>,
    ) -> Result<(), String>;

    /// Short description of the authority that vouched, for messages.
    fn authority(token: &Self::Token) -> String;
    /// Checks that the token vouches for exactly `a` (by [`vouches`]).
    fn check(token: &Self::Token, a: &Artifact<'_>) -> Result<(), VerifyError>;
    /// The content-addressed object the store must hold before a record of
    /// this token is written (lowercase hex SHA-256, bytes), if any.
    fn evidence_object(_token: &Self::Token) -> Option<(String, Bytes)> {
        None
    }
    /// The evidence the cache records for the token.
    fn evidence(token: &Self::Token) -> Self::Evidence;
    /// Where the evidence comes from, for the audit log.
    fn reference(e: &Self::Evidence) -> String;
    /// The checksum database the evidence depends on, if any.
    fn db(_e: &Self::Evidence) -> Option<&str> {
        None
    }
    /// The content-addressed objects (SHA-256, hex) the evidence names.
    fn objects(_e: &Self::Evidence) -> Vec<&str> {
        Vec::new()
    }
    /// The stored zips (SHA-256, hex) whose contents the re-check of a
    /// record of `kind` with this evidence reads.
    fn zips(_e: &Self::Evidence, _kind: ArtifactKind) -> Vec<&str> {
        Vec::new()
    }
    /// Re-checks the evidence offline for `a` against `anchors`, reading
    /// the objects it names from `objects`.
    fn recheck(
        e: &Self::Evidence,
        a: &Artifact<'_>,
        anchors: &TrustAnchors<'_>,
        objects: &EvidenceObjects,
    ) -> Result<Rechecked, VerifyError>;
}

/// Generates the per-kind enums from the list of kinds: one line per kind
/// (its documentation, its variant, its name in policies and records, the
/// module's [`Kind`]). The enums hold no logic of their own.
macro_rules! kinds {
    ($($(#[$doc:meta])* $Variant:ident = $name:tt => $K:ty,)+) => {
        /// A kind of proof, as a policy names it (`proof = ["sumdb", "pinned"]`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ProofKind {
            $($(#[$doc])* $Variant,)+
        }

        /// What must be proven about an artifact before it is stored or
        /// served, one kind with what the policy rule says of it. Every
        /// proof a decision lists must hold (they are conjunctive).
        #[derive(Clone, Debug, PartialEq, Eq)]
        #[non_exhaustive]
        pub(crate) enum RequiredProof {
            $($(#[$doc])* $Variant(<$K as Kind>::Requirement),)+
        }

        impl RequiredProof {
            /// The kind of proof required.
            pub(crate) fn kind(&self) -> ProofKind {
                match self {
                    $(RequiredProof::$Variant(_) => ProofKind::$Variant,)+
                }
            }

            /// How `policy check` lists it ([`Kind::summary`]).
            pub(crate) fn summary(&self) -> String {
                match self {
                    $(RequiredProof::$Variant(r) => <$K as Kind>::summary(r),)+
                }
            }

            /// Whether a stored record satisfies this requirement under the
            /// policy in force ([`Kind::satisfied_by`]).
            pub(crate) fn satisfied_by(
                &self,
                recorded: &Recorded<'_>,
                cx: &Satisfying<'_>,
            ) -> Result<(), String> {
                match self {
                    $(RequiredProof::$Variant(r) => <$K as Kind>::satisfied_by(r, recorded, cx),)+
                }
            }
        }

        /// As `policy explain` states it.
        impl std::fmt::Display for RequiredProof {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self {
                    $(RequiredProof::$Variant(r) => r.fmt(f),)+
                }
            }
        }

        impl ProofKind {
            /// Every kind goward can verify.
            pub const ALL: &'static [ProofKind] = &[$(ProofKind::$Variant,)+];

            /// The name used in policy files and in the stored records.
            pub fn name(self) -> &'static str {
                match self {
                    $(ProofKind::$Variant => $name,)+
                }
            }

            /// Whether a proof of this kind vouches for a go.mod by itself
            /// ([`Kind::PROVES_GO_MOD`]).
            pub fn proves_go_mod(self) -> bool {
                match self {
                    $(ProofKind::$Variant => <$K as Kind>::PROVES_GO_MOD,)+
                }
            }
        }

        /// Evidence that an artifact's hash is vouched for by an authority,
        /// as gathered at fetch time: a token only its kind's verifier builds.
        #[derive(Clone, Debug)]
        #[non_exhaustive]
        pub enum Proof {
            $($(#[$doc])* $Variant(<$K as Kind>::Token),)+
        }

        impl Proof {
            /// Which kind of proof this is.
            pub fn kind(&self) -> ProofKind {
                match self {
                    $(Proof::$Variant(_) => ProofKind::$Variant,)+
                }
            }

            /// Short description of the authority, for error messages and logs.
            pub fn authority(&self) -> String {
                match self {
                    $(Proof::$Variant(t) => <$K as Kind>::authority(t),)+
                }
            }

            /// Checks that the proof vouches for exactly `a`.
            pub fn check(&self, a: &Artifact<'_>) -> Result<(), VerifyError> {
                let r = match self {
                    $(Proof::$Variant(t) => <$K as Kind>::check(t, a),)+
                };
                count(self.kind(), "fetch", r.is_ok());
                r
            }

            /// The content-addressed object the store must hold before a
            /// record of this proof is written (lowercase hex SHA-256,
            /// bytes), if the proof's evidence names one: a signature file.
            pub fn evidence_object(&self) -> Option<(String, Bytes)> {
                match self {
                    $(Proof::$Variant(t) => <$K as Kind>::evidence_object(t),)+
                }
            }
        }

        /// Serialized evidence of one proof, kept in the cache record for
        /// audits and for the offline re-check. The JSON is
        /// `{"type": "<kind>", ...fields}`.
        #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(tag = "type")]
        #[non_exhaustive]
        pub enum Evidence {
            $($(#[$doc])* #[serde(rename = $name)] $Variant(<$K as Kind>::Evidence),)+
        }

        impl Evidence {
            /// The evidence the cache records for a proof.
            pub fn from_proof(p: &Proof) -> Evidence {
                match p {
                    $(Proof::$Variant(t) => Evidence::$Variant(<$K as Kind>::evidence(t)),)+
                }
            }

            /// Which kind of proof this is evidence of.
            pub fn kind(&self) -> ProofKind {
                match self {
                    $(Evidence::$Variant(_) => ProofKind::$Variant,)+
                }
            }

            /// Database this proof depends on, if any.
            pub fn db(&self) -> Option<&str> {
                match self {
                    $(Evidence::$Variant(e) => <$K as Kind>::db(e),)+
                }
            }

            /// Where the evidence comes from, for the audit log: the
            /// authority that vouched (`checksum database sum.golang.org
            /// record 123 in tree 456`, `pinned hash of policy corp.toml`).
            pub fn reference(&self) -> String {
                match self {
                    $(Evidence::$Variant(e) => <$K as Kind>::reference(e),)+
                }
            }

            /// The content-addressed objects (SHA-256, hex) this evidence
            /// names: the store reads them for [`Evidence::recheck`], and
            /// `cache gc` keeps them while a record names them.
            pub fn objects(&self) -> Vec<&str> {
                match self {
                    $(Evidence::$Variant(e) => <$K as Kind>::objects(e),)+
                }
            }

            /// The stored zips (SHA-256, hex) whose contents the re-check of
            /// a record of `kind` with this evidence reads: a go.mod covered
            /// by a signed zip must be the go.mod inside that zip.
            pub fn zips(&self, kind: ArtifactKind) -> Vec<&str> {
                match self {
                    $(Evidence::$Variant(e) => <$K as Kind>::zips(e, kind),)+
                }
            }

            /// Re-checks the evidence offline for `a` against `anchors`,
            /// reading the objects it names from `objects`.
            pub fn recheck(
                &self,
                a: &Artifact<'_>,
                anchors: &TrustAnchors<'_>,
                objects: &EvidenceObjects,
            ) -> Result<Rechecked, VerifyError> {
                let r = match self {
                    $(Evidence::$Variant(e) => <$K as Kind>::recheck(e, a, anchors, objects),)+
                };
                count(self.kind(), "recheck", r.is_ok());
                r
            }
        }
    };
}

// The kinds goward verifies. Adding one is a module implementing [`Kind`]
// and a line here (see the module documentation for its policy keys).
kinds! {
    /// Proven included in a checksum database's signed tree.
    Sumdb = "sumdb" => sumdb::Sumdb,
    /// Equal to a hash the policy pins in a go.sum-format file.
    Pinned = "pinned" => pinned::Pinned,
    /// Signed (the zip's exact bytes, or the go.sum lines) by a signer the
    /// rule accepts.
    Signature = "signature" => signature::kind::Signature,
}

impl ProofKind {
    /// The kind called `name`, if goward can verify it.
    pub fn from_name(name: &str) -> Option<ProofKind> {
        ProofKind::ALL.iter().copied().find(|k| k.name() == name)
    }
}

/// A stored artifact's record as a requirement of the policy in force sees
/// it: what it is and the evidence recorded when it was proven. Each kind's
/// `satisfied_by` decides from this whether the record still satisfies the
/// kind's requirement, or the artifact must be proven again.
#[derive(Clone, Copy, Debug)]
pub struct Recorded<'a> {
    /// Zip or go.mod.
    pub kind: ArtifactKind,
    /// Module path.
    pub module: &'a str,
    /// Canonical version.
    pub version: &'a str,
    /// The recorded `h1:`.
    pub h1: &'a str,
    /// The recorded evidence, one per proof.
    pub proofs: &'a [Evidence],
}

/// What a decision's requirements are checked against besides the record
/// ([`RequiredProof::satisfied_by`]): plain data the policy gathers, so
/// that proof kinds need nothing from the policy module.
#[derive(Clone, Copy, Debug)]
pub struct Satisfying<'a> {
    /// The path is private (a `[[private]]` rule routes it).
    pub private: bool,
    /// The checksum database that proves modules (the first configured;
    /// `""` when none is).
    pub primary_sumdb: &'a str,
    /// The hash the policy in force pins for the artifact, looked up only
    /// when a requirement is `pinned`.
    pub pin: Option<&'a H1>,
    /// Whether the decision's signature requirement proves the go.mod
    /// ([`signature::kind::proving_go_mod`]).
    pub go_mod_signed: bool,
}

/// The artifact a proof must vouch for: what it is and the digests of the
/// exact bytes served (a signature is over bytes, a go.sum line over `h1:`).
#[derive(Clone, Copy, Debug)]
pub struct Artifact<'a> {
    /// Zip or go.mod.
    pub kind: ArtifactKind,
    /// Module path.
    pub module: &'a str,
    /// Canonical version.
    pub version: &'a str,
    /// The artifact's `h1:`.
    pub h1: &'a H1,
    /// SHA-256 of the bytes.
    pub sha256: &'a [u8; 32],
}

/// What one artifact's stored evidence is re-checked against: the
/// configured checksum-database keys and what the policy in force says of
/// it (its pin, its signers). Plain data, so that proof kinds need nothing
/// from the policy module: the policy builds it
/// ([`crate::policy::Policy::trust_anchors`]).
#[derive(Clone, Copy, Debug)]
pub struct TrustAnchors<'a> {
    /// Keys of the configured checksum databases.
    pub sumdb_keys: &'a [Verifier],
    /// The policy file in force, named in messages.
    pub policy_origin: &'a str,
    /// The hash the policy in force pins for this artifact.
    pub pin: Option<&'a H1>,
    /// The signers the policy in force declares.
    pub signers: &'a [signature::PolicySigner],
}

impl TrustAnchors<'_> {
    /// The declared signer called `name`.
    pub fn signer(&self, name: &str) -> Option<&signature::PolicySigner> {
        self.signers.iter().find(|s| s.name == name)
    }
}

/// The content-addressed evidence objects a record names, as read back from
/// the store for its re-check ([`crate::cache::load_evidence`]). Untrusted:
/// [`EvidenceObjects::get`] hands out an object's bytes only if they hash
/// to the name they were read under, so a missing or altered object makes
/// the evidence that names it fail its re-check, never pass it.
#[derive(Clone, Debug, Default)]
pub struct EvidenceObjects {
    read: BTreeMap<String, Result<Option<Bytes>, String>>,
    /// Stored zips by SHA-256: the SHA-256 of the root go.mod read from
    /// the zip blob with exactly that digest (itself re-checked by the
    /// module-zip rules), or why it could not be read.
    zip_go_mods: BTreeMap<String, Result<Option<[u8; 32]>, String>>,
}

impl EvidenceObjects {
    /// Notes what reading the object named `sha256` gave: its bytes, `None`
    /// (absent) or why it could not be read.
    pub fn insert(&mut self, sha256: &str, read: Result<Option<Bytes>, String>) {
        self.read.insert(sha256.to_owned(), read);
    }

    /// Notes the root go.mod's SHA-256 (`None`: no go.mod) the stored zip
    /// with this SHA-256 holds, as read from its bytes, or why it could not
    /// be read. Only the cache's re-check reads zips for this.
    pub fn insert_zip_go_mod(&mut self, zip_sha256: &str, read: Result<Option<[u8; 32]>, String>) {
        self.zip_go_mods.insert(zip_sha256.to_owned(), read);
    }

    /// The root go.mod's SHA-256 of the stored zip with this SHA-256.
    pub fn zip_go_mod(&self, zip_sha256: &str) -> Result<Option<[u8; 32]>, String> {
        match self.zip_go_mods.get(zip_sha256) {
            None => Err("it was not read".into()),
            Some(r) => r.clone(),
        }
    }

    /// The bytes of the object named `sha256`, checked against that digest;
    /// `Err` says what is wrong with it.
    pub fn get(&self, sha256: &str) -> Result<&Bytes, String> {
        match self.read.get(sha256) {
            None => Err(format!("evidence object {sha256} was not read")),
            Some(Err(e)) => Err(format!("evidence object {sha256} is unreadable: {e}")),
            Some(Ok(None)) => Err(format!("evidence object {sha256} is missing")),
            Some(Ok(Some(b))) => {
                let got = hex(&crate::xmod::dirhash::sha256(b));
                if got == sha256 {
                    Ok(b)
                } else {
                    Err(format!(
                        "evidence object {sha256} is altered: its SHA-256 is {got}"
                    ))
                }
            }
        }
    }
}

/// What an offline re-check of one piece of evidence concluded, when it did
/// not find it wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rechecked {
    /// It holds against the trust anchors.
    Verified,
    /// It is consistent with the artifact but no anchor could check it (a
    /// database no longer configured, a hash no longer pinned): it counts
    /// for nothing, and this says why.
    Unanchored(String),
}

/// `goward_proofs_total{kind,stage,result}`: every proof checked against an
/// artifact, when fetched (`fetch`) or when a stored record is re-checked
/// (`recheck`).
fn count(kind: ProofKind, stage: &'static str, ok: bool) {
    let result = if ok { "ok" } else { "failed" };
    metrics::counter!("goward_proofs_total", "kind" => kind.name(), "stage" => stage, "result" => result)
        .increment(1);
}

/// The one rule for hash lines, at fetch time and offline alike: the proof
/// must be about exactly `a`'s module version, hold at least one `h1:` line
/// for `a`'s kind (an absent line is a failure, never a pass: CVE-2026-42501)
/// and every such line must equal `a`'s `h1:`.
pub(crate) fn vouches(
    authority: &dyn Fn() -> String,
    subject: (&str, &str),
    lines: &[H1],
    a: &Artifact<'_>,
) -> Result<(), VerifyError> {
    let (got_path, got_version) = subject;
    if got_path != a.module || got_version != a.version {
        return Err(VerifyError::WrongSubject {
            authority: authority(),
            path: a.module.to_owned(),
            version: a.version.to_owned(),
            got_path: got_path.to_owned(),
            got_version: got_version.to_owned(),
        });
    }
    if lines.is_empty() {
        return Err(VerifyError::MissingLine {
            authority: authority(),
            kind: a.kind,
            path: a.module.to_owned(),
            version: a.version.to_owned(),
        });
    }
    if let Some(want) = lines.iter().find(|want| *want != a.h1) {
        return Err(VerifyError::HashMismatch {
            authority: authority(),
            kind: a.kind,
            path: a.module.to_owned(),
            version: a.version.to_owned(),
            got: a.h1.clone(),
            want: want.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stored records name each proof by its kind's policy name, and read
    /// back as the same evidence; a kind goward does not know is refused.
    #[test]
    fn evidence_is_tagged_with_its_kind_name() {
        let recorded = [
            Evidence::Sumdb(sumdb::Evidence {
                db: "sum.example".into(),
                record: 1,
                text: "example.com/m v1.0.0 h1:x".into(),
                tree_size: 2,
                note: "note".into(),
            }),
            Evidence::Pinned(pinned::Evidence {
                h1: "h1:x".into(),
                policy: "corp.toml".into(),
            }),
        ];
        for e in recorded {
            let json = serde_json::to_value(&e).unwrap();
            assert_eq!(json["type"], e.kind().name());
            assert_eq!(serde_json::from_value::<Evidence>(json).unwrap(), e);
        }
        let names: Vec<&str> = ProofKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names, ["sumdb", "pinned", "signature"]);
        assert_eq!(
            ProofKind::from_name("signature"),
            Some(ProofKind::Signature)
        );
        let err = serde_json::from_str::<Evidence>(r#"{"type":"magic"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown variant `magic`"), "{err}");
    }
}
