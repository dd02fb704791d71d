//! Verification stages and the proof tokens they hand out.
//!
//! Every check returns a token that only that check can construct (its fields
//! are private to the module that performs the check), in the style of
//! rustls' `HandshakeSignatureValid`. The store accepts nothing but
//! [`VerifiedZip`] and [`VerifiedMod`], which can only be built here, from a
//! content token ([`zip::ZipChecked`], [`gomod::ModChecked`]) and every
//! [`Proof`] the policy requires (at least one), each of whose hash lines
//! equal the content's `h1:`. "Stored but not verified"
//! therefore does not compile; reviewing the trust boundary means reading
//! this file and the constructors it names.

// Every submodule proves or parses outside bytes: no unchecked arithmetic,
// no indexing that can panic, no unwrap/expect/panic outside the tests.
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

pub(crate) mod gomod;
pub(crate) mod info;
pub(crate) mod proof;

pub mod zip;

use crate::artifact::{ArtifactKind, H1};

pub(crate) use proof::{Artifact, Evidence, Proof, ProofKind};

/// Why an artifact's hash was not accepted.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyError {
    /// The proof is about another module or version (mix-and-match).
    #[error("{authority} is for {got_path}@{got_version}, not {path}@{version}")]
    WrongSubject {
        authority: String,
        path: String,
        version: String,
        got_path: String,
        got_version: String,
    },
    /// The proven record has no `h1:` line for this artifact (CVE-2026-42501:
    /// the go command waved this through; goward does not).
    #[error("{authority} has no h1: line for {path} {version}{suffix}", suffix = if *kind == ArtifactKind::Mod { "/go.mod" } else { "" })]
    MissingLine {
        authority: String,
        kind: ArtifactKind,
        path: String,
        version: String,
    },
    /// No proof at all was offered: goward never stores unproven artifacts.
    #[error("no proof offered for {path}@{version}")]
    NoProof { path: String, version: String },
    /// Stored evidence that does not hold up when re-checked (a note that
    /// does not verify, a pin the policy contradicts).
    #[error("{authority}: {msg}")]
    BadEvidence { authority: String, msg: String },
    /// The bytes hash to something else than the proven record says.
    #[error("{kind} hash mismatch for {path}@{version}: downloaded {got}, {authority} says {want}", kind = kind.as_str())]
    HashMismatch {
        authority: String,
        kind: ArtifactKind,
        path: String,
        version: String,
        got: H1,
        want: H1,
    },
}

impl VerifyError {
    /// Stable metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            VerifyError::WrongSubject { .. } => "proof_wrong_subject",
            VerifyError::MissingLine { .. } => "proof_missing_line",
            VerifyError::HashMismatch { .. } => "hash_mismatch",
            VerifyError::NoProof { .. } => "proof_missing",
            VerifyError::BadEvidence { .. } => "proof_invalid",
        }
    }
}

/// Checks every proof in `proofs` (there must be at least one) against `a`.
fn check_all(proofs: &[Proof], a: &Artifact<'_>) -> Result<(), VerifyError> {
    if proofs.is_empty() {
        return Err(VerifyError::NoProof {
            path: a.module.to_owned(),
            version: a.version.to_owned(),
        });
    }
    proofs.iter().try_for_each(|p| p.check(a))
}

/// A module zip that passed every zip rule and whose `h1:` is proven.
/// The only value [`crate::cache::Store::create_zip`] accepts.
#[derive(Debug)]
pub struct VerifiedZip {
    checked: zip::ZipChecked,
    proofs: Vec<Proof>,
}

impl VerifiedZip {
    /// Joins a checked zip with every required proof of its hash (at
    /// least one; each must vouch for exactly this `h1:`).
    pub fn new(checked: zip::ZipChecked, proofs: Vec<Proof>) -> Result<VerifiedZip, VerifyError> {
        check_all(
            &proofs,
            &Artifact {
                kind: ArtifactKind::Zip,
                module: checked.module(),
                version: checked.version(),
                h1: checked.h1(),
                sha256: checked.sha256(),
            },
        )?;
        Ok(VerifiedZip { checked, proofs })
    }

    /// The checked bytes and their hashes.
    pub fn checked(&self) -> &zip::ZipChecked {
        &self.checked
    }

    /// What vouched for the hash.
    pub fn proofs(&self) -> &[Proof] {
        &self.proofs
    }

    /// Hands the temp file to the store, which renames it into place.
    pub fn into_parts(self) -> (zip::ZipChecked, Vec<Proof>) {
        (self.checked, self.proofs)
    }
}

/// A go.mod whose content passed [`gomod::check_mod`] and whose `h1:` is proven.
/// The only value [`crate::cache::Store::create_mod`] accepts.
#[derive(Debug)]
pub struct VerifiedMod {
    checked: gomod::ModChecked,
    proofs: Vec<Proof>,
}

impl VerifiedMod {
    /// Joins a checked go.mod with every required proof of its hash (at
    /// least one; each must vouch for exactly this `h1:`).
    pub fn new(checked: gomod::ModChecked, proofs: Vec<Proof>) -> Result<VerifiedMod, VerifyError> {
        check_all(
            &proofs,
            &Artifact {
                kind: ArtifactKind::Mod,
                module: checked.module(),
                version: checked.version(),
                h1: checked.h1(),
                sha256: &crate::xmod::dirhash::sha256(checked.bytes()),
            },
        )?;
        Ok(VerifiedMod { checked, proofs })
    }

    /// The checked bytes and their hash.
    pub fn checked(&self) -> &gomod::ModChecked {
        &self.checked
    }

    /// What vouched for the hash.
    pub fn proofs(&self) -> &[Proof] {
        &self.proofs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;
    use bytes::Bytes;

    const GO_MOD: &str = "module example.com/m\n\ngo 1.21\n";

    fn checked(text: &str, version: &str) -> gomod::ModChecked {
        gomod::check_mod("example.com/m", version, Bytes::from(text.to_owned())).unwrap()
    }

    /// A policy whose rule for example.com/m requires pins, pinning the go.mod of v1.0.0.
    fn pinning(dir: &std::path::Path, h1: &H1) -> Policy {
        std::fs::write(
            dir.join("pins.sum"),
            format!("example.com/m v1.0.0/go.mod {h1}\n"),
        )
        .unwrap();
        let origin = dir.join("policy.toml");
        Policy::parse(
            "[[allow]]\nname = \"m\"\nmodules = \"example.com/m\"\nproof = [\"pinned\"]\npins = [\"pins.sum\"]\n",
            origin.to_str().unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn pinned_proof_vouches_for_the_exact_h1_only() {
        let dir = tempfile::tempdir().unwrap();
        let c = checked(GO_MOD, "v1.0.0");
        let p = pinning(dir.path(), c.h1());
        let pin = p
            .pin("example.com/m", "v1.0.0", ArtifactKind::Mod)
            .expect("pinned");
        let v = VerifiedMod::new(c, vec![Proof::Pinned(pin.clone())]).unwrap();
        assert_eq!(v.proofs().len(), 1);
        // Nothing pinned for the zip, nor for another version.
        assert!(
            p.pin("example.com/m", "v1.0.0", ArtifactKind::Zip)
                .is_none()
        );
        assert!(
            p.pin("example.com/m", "v1.0.1", ArtifactKind::Mod)
                .is_none()
        );
        // Other bytes: mismatch.
        let other = checked("module example.com/m\n", "v1.0.0");
        let e = VerifiedMod::new(other, vec![Proof::Pinned(pin.clone())]).unwrap_err();
        assert_eq!(e.reason(), "hash_mismatch", "{e}");
        // Another version: wrong subject.
        let later = checked(GO_MOD, "v1.0.1");
        let e = VerifiedMod::new(later, vec![Proof::Pinned(pin)]).unwrap_err();
        assert_eq!(e.reason(), "proof_wrong_subject", "{e}");
    }

    #[test]
    fn no_proof_is_a_failure() {
        let e = VerifiedMod::new(checked(GO_MOD, "v1.0.0"), Vec::new()).unwrap_err();
        assert_eq!(e.reason(), "proof_missing", "{e}");
    }

    #[test]
    fn every_proof_must_hold() {
        let dir = tempfile::tempdir().unwrap();
        let c = checked(GO_MOD, "v1.0.0");
        let p = pinning(dir.path(), c.h1());
        let pin = p
            .pin("example.com/m", "v1.0.0", ArtifactKind::Mod)
            .expect("pinned");
        // A pin of the go.mod cannot vouch for a zip-kind check: the zip line is missing.
        let e = check_all(
            &[Proof::Pinned(pin.clone())],
            &Artifact {
                kind: ArtifactKind::Zip,
                module: "example.com/m",
                version: "v1.0.0",
                h1: c.h1(),
                sha256: &[0; 32],
            },
        )
        .unwrap_err();
        assert_eq!(e.reason(), "proof_missing_line", "{e}");
        // Two proofs, one wrong: refused.
        let other = checked("module example.com/m\n", "v1.0.0");
        let p2 = pinning(dir.path(), other.h1());
        let pin2 = p2
            .pin("example.com/m", "v1.0.0", ArtifactKind::Mod)
            .expect("pinned");
        let e = VerifiedMod::new(c, vec![Proof::Pinned(pin), Proof::Pinned(pin2)]).unwrap_err();
        assert_eq!(e.reason(), "hash_mismatch", "{e}");
    }
}
