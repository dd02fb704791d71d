//! Verification stages and the proof tokens they hand out.
//!
//! Every check returns a token that only that check can construct (its fields
//! are private to the module that performs the check), in the style of
//! rustls' `HandshakeSignatureValid`. The store accepts nothing but
//! [`VerifiedZip`] and [`VerifiedMod`], which can only be built here, from a
//! content token ([`zip::ZipChecked`], [`gomod::ModChecked`]) and a [`Proof`]
//! whose hash lines equal the content's `h1:`. "Stored but not verified"
//! therefore does not compile; reviewing the trust boundary means reading
//! this file and the constructors it names.

pub mod gomod;
pub mod info;
pub mod zip;

use crate::dirhash::H1;
use crate::sumdb::ProvenRecord;

/// Evidence that an artifact's hash is vouched for by an authority.
///
/// An open set: pinned go.sum hashes (policy) and Sigstore signatures slot in
/// as further variants, each with a token only its verifier can build.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Proof {
    /// The record was proven included in a checksum database's signed tree.
    Sumdb(ProvenRecord),
}

impl Proof {
    fn hashes(&self, kind: ArtifactKind) -> &[H1] {
        match self {
            Proof::Sumdb(r) => match kind {
                ArtifactKind::Zip => r.zip_h1s(),
                ArtifactKind::Mod => r.mod_h1s(),
            },
        }
    }

    fn subject(&self) -> (&str, &str) {
        match self {
            Proof::Sumdb(r) => (r.path(), r.version()),
        }
    }

    /// Short description of the authority, for error messages and logs.
    pub fn authority(&self) -> String {
        match self {
            Proof::Sumdb(r) => format!("checksum database {} record {}", r.db(), r.id()),
        }
    }
}

/// Which half of a module version an `h1:` line speaks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactKind {
    /// `path version h1:…`
    Zip,
    /// `path version/go.mod h1:…`
    Mod,
}

impl ArtifactKind {
    /// The name used in messages and metric labels.
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactKind::Zip => "zip",
            ArtifactKind::Mod => "go.mod",
        }
    }
}

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
        }
    }
}

/// Checks that `proof` vouches for exactly `h1` of `kind` for `path@version`.
///
/// Every `h1:` line the proof holds for this artifact must equal `h1`, and
/// there must be at least one: an absent line is a failure, never a pass.
fn check_against(
    proof: &Proof,
    kind: ArtifactKind,
    path: &str,
    version: &str,
    h1: &H1,
) -> Result<(), VerifyError> {
    let (got_path, got_version) = proof.subject();
    if got_path != path || got_version != version {
        return Err(VerifyError::WrongSubject {
            authority: proof.authority(),
            path: path.to_owned(),
            version: version.to_owned(),
            got_path: got_path.to_owned(),
            got_version: got_version.to_owned(),
        });
    }
    let lines = proof.hashes(kind);
    if lines.is_empty() {
        return Err(VerifyError::MissingLine {
            authority: proof.authority(),
            kind,
            path: path.to_owned(),
            version: version.to_owned(),
        });
    }
    if let Some(want) = lines.iter().find(|want| *want != h1) {
        return Err(VerifyError::HashMismatch {
            authority: proof.authority(),
            kind,
            path: path.to_owned(),
            version: version.to_owned(),
            got: h1.clone(),
            want: want.clone(),
        });
    }
    Ok(())
}

/// A module zip that passed every zip rule and whose `h1:` is proven.
/// The only value [`crate::cache::Store::put_zip`] accepts.
#[derive(Debug)]
pub struct VerifiedZip {
    checked: zip::ZipChecked,
    proof: Proof,
}

impl VerifiedZip {
    /// Joins a checked zip with a proof of its hash.
    pub fn new(checked: zip::ZipChecked, proof: Proof) -> Result<VerifiedZip, VerifyError> {
        check_against(
            &proof,
            ArtifactKind::Zip,
            checked.module(),
            checked.version(),
            checked.h1(),
        )?;
        Ok(VerifiedZip { checked, proof })
    }

    /// The checked bytes and their hashes.
    pub fn checked(&self) -> &zip::ZipChecked {
        &self.checked
    }

    /// What vouched for the hash.
    pub fn proof(&self) -> &Proof {
        &self.proof
    }

    /// Hands the temp file to the store, which renames it into place.
    pub fn into_parts(self) -> (zip::ZipChecked, Proof) {
        (self.checked, self.proof)
    }
}

/// A go.mod whose content passed [`gomod::check_mod`] and whose `h1:` is proven.
/// The only value [`crate::cache::Store::put_mod`] accepts.
#[derive(Debug)]
pub struct VerifiedMod {
    checked: gomod::ModChecked,
    proof: Proof,
}

impl VerifiedMod {
    /// Joins a checked go.mod with a proof of its hash.
    pub fn new(checked: gomod::ModChecked, proof: Proof) -> Result<VerifiedMod, VerifyError> {
        check_against(
            &proof,
            ArtifactKind::Mod,
            checked.module(),
            checked.version(),
            checked.h1(),
        )?;
        Ok(VerifiedMod { checked, proof })
    }

    /// The checked bytes and their hash.
    pub fn checked(&self) -> &gomod::ModChecked {
        &self.checked
    }

    /// What vouched for the hash.
    pub fn proof(&self) -> &Proof {
        &self.proof
    }
}
