//! `signature` as a proof kind: a signature by one of a rule's signers over
//! the exact zip bytes goward serves (the `zip` mode: what `cosign
//! sign-blob module.zip` signs), verified from the SHA-256 computed while
//! the zip was spooled; or over the version's two go.sum lines (the
//! `gosum` mode), which cover the zip and the go.mod by their `h1:` and so
//! survive a proxy that re-creates the zip with other bytes.
//!
//! The fetch-time token is [`SignedArtifact`], built only by
//! [`SignedArtifact::verify`]; the cache records [`Evidence`] (the signer
//! that accepted it, the trust root, and the signature file's SHA-256: the
//! file itself is a content-addressed evidence object beside the records,
//! shared by the zip's and the go.mod's records), and [`Evidence::recheck`]
//! reads it back, checks its digest and verifies it again offline against
//! the policy's signers.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::PolicySigner;
use super::{InputError, Message, Rejected, SignatureInput, verify};
use crate::artifact::{ArtifactKind, H1};
use crate::verify::VerifyError;
use crate::verify::proof::{Artifact, EvidenceObjects, Rechecked, Recorded, TrustAnchors};
use crate::xmod::dirhash::hex;

/// What a rule's signers sign (the rule's `signed` key).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignedMode {
    /// The module zip's exact bytes (`cosign sign-blob module.zip`).
    #[default]
    Zip,
    /// The version's go.sum lines, [`gosum_lines`]: both `h1:`s.
    Gosum,
}

impl SignedMode {
    /// The policy spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SignedMode::Zip => "zip",
            SignedMode::Gosum => "gosum",
        }
    }

    /// Parses the policy spelling.
    pub fn parse(s: &str) -> Option<SignedMode> {
        match s {
            "zip" => Some(SignedMode::Zip),
            "gosum" => Some(SignedMode::Gosum),
            _ => None,
        }
    }
}

/// The message a `gosum` signature signs: the version's two go.sum lines,
/// exactly as in go.sum, each newline-terminated.
pub(crate) fn gosum_lines(module: &str, version: &str, zip_h1: &str, mod_h1: &str) -> String {
    format!("{module} {version} {zip_h1}\n{module} {version}/go.mod {mod_h1}\n")
}

/// A signature verified over one artifact's bytes (zip mode) or over the
/// go.sum lines naming its `h1:` (gosum mode). Fields are private: only
/// [`SignedArtifact::verify`] and [`SignedArtifact::verify_gosum`] build one.
#[derive(Clone, Debug)]
pub struct SignedArtifact {
    module: String,
    version: String,
    kind: ArtifactKind,
    /// Zip mode: the zip's SHA-256; gosum mode: the go.sum lines'.
    sha256: [u8; 32],
    /// Gosum mode: the zip's and the go.mod's `h1:` in the signed lines.
    gosum: Option<(String, String)>,
    /// Zip mode: SHA-256 of the signed zip's root go.mod; a go.mod with
    /// these bytes is covered by the zip's signature.
    go_mod_sha256: Option<[u8; 32]>,
    signer: String,
    trust_root: String,
    signature: String,
}

/// Why a required signature did not prove an artifact. Each variant has a
/// stable metric [`label`](SignatureFailure::label).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureFailure {
    /// Nothing at the place the rule says the signature lives.
    #[error("no signature at {location}")]
    Missing {
        /// Where it was looked for.
        location: String,
    },
    /// The signature source could not be read.
    #[error("cannot read the signature at {location}: {reason}")]
    Unreachable {
        /// Where it was looked for.
        location: String,
        /// The I/O error.
        reason: String,
    },
    /// The signature file is not a bundle or a `.sig`.
    #[error("{0}")]
    Unreadable(InputError),
    /// The rule names no signer that the policy declares.
    #[error("no signer to verify with: {0}")]
    NoSigner(String),
    /// What was signed is not what is served (a go.mod other than the one
    /// the signed go.sum lines name).
    #[error("{0}")]
    NotSigned(String),
    /// Every accepted signer refused it; why, signer by signer.
    #[error("{}", rejections(.0))]
    Rejected(Vec<(String, Rejected)>),
}

fn rejections(all: &[(String, Rejected)]) -> String {
    let parts: Vec<String> = all
        .iter()
        .map(|(name, r)| format!("not signed by signer {name:?}: {r}"))
        .collect();
    parts.join("; ")
}

impl SignatureFailure {
    /// Stable label for metrics: the reason of the first signer's first
    /// refusal, or what kept the signature from being checked.
    pub fn label(&self) -> &'static str {
        match self {
            SignatureFailure::Missing { .. } => "signature_missing",
            SignatureFailure::Unreachable { .. } => "signature_unreachable",
            SignatureFailure::Unreadable(_) => "signature_unreadable",
            SignatureFailure::NoSigner(_) => "signature_no_signer",
            SignatureFailure::NotSigned(_) => "signature_not_signed",
            SignatureFailure::Rejected(all) => all
                .first()
                .and_then(|(_, r)| r.0.first())
                .map_or("signature_rejected", super::SignatureError::label),
        }
    }
}

/// Parses a signature file: a JSON bundle (Sigstore or cosign's legacy
/// bundle), else a bare base64 `.sig`.
pub(crate) fn parse_signature(text: &str) -> Result<SignatureInput, InputError> {
    if text.trim_start().starts_with('{') {
        SignatureInput::bundle_from_json(text)
    } else {
        SignatureInput::key_signature(text)
    }
}

/// `signature by signer "name"`.
pub(in crate::verify::proof) fn authority(signer: &str) -> String {
    format!("signature by signer {signer:?}")
}

impl SignedArtifact {
    /// Verifies `signature` (the file's text) over the zip whose bytes hash
    /// to `sha256` (and whose root go.mod's hash to `go_mod_sha256`), by
    /// the first of `signers` that accepts it. As a go.mod's proof
    /// (`subject` of kind mod) it covers the go.mod with those bytes.
    pub fn verify(
        subject: (ArtifactKind, &str, &str),
        (sha256, go_mod_sha256): (&[u8; 32], Option<&[u8; 32]>),
        signature: &str,
        signers: &[&PolicySigner],
    ) -> Result<SignedArtifact, SignatureFailure> {
        let (kind, module, version) = subject;
        let input = parse_signature(signature).map_err(SignatureFailure::Unreadable)?;
        if signers.is_empty() {
            return Err(SignatureFailure::NoSigner(
                "the rule accepts no declared signer".into(),
            ));
        }
        let mut refused = Vec::new();
        for s in signers {
            match verify(Message::Digest(sha256), &input, &s.signer, &s.trust_root) {
                Ok(v) => {
                    return Ok(SignedArtifact {
                        module: module.to_owned(),
                        version: version.to_owned(),
                        kind,
                        sha256: *sha256,
                        gosum: None,
                        go_mod_sha256: go_mod_sha256.copied(),
                        signer: s.name.clone(),
                        trust_root: v.trust_root,
                        signature: signature.to_owned(),
                    });
                }
                Err(r) => refused.push((s.name.clone(), r)),
            }
        }
        Err(SignatureFailure::Rejected(refused))
    }

    /// Verifies `signature` over the go.sum lines of `module@version` with
    /// these `h1:`s ([`gosum_lines`]), as the proof of the artifact of
    /// `kind` (its `h1:` is the one of the two that must match it).
    pub fn verify_gosum(
        subject: (ArtifactKind, &str, &str),
        h1s: (&str, &str),
        signature: &str,
        signers: &[&PolicySigner],
    ) -> Result<SignedArtifact, SignatureFailure> {
        let (kind, module, version) = subject;
        let (zip_h1, mod_h1) = h1s;
        let input = parse_signature(signature).map_err(SignatureFailure::Unreadable)?;
        if signers.is_empty() {
            return Err(SignatureFailure::NoSigner(
                "the rule accepts no declared signer".into(),
            ));
        }
        let lines = gosum_lines(module, version, zip_h1, mod_h1);
        let mut refused = Vec::new();
        for s in signers {
            // The lines are a few hundred bytes: always the whole message,
            // which every scheme accepts.
            match verify(
                Message::Bytes(lines.as_bytes()),
                &input,
                &s.signer,
                &s.trust_root,
            ) {
                Ok(v) => {
                    return Ok(SignedArtifact {
                        module: module.to_owned(),
                        version: version.to_owned(),
                        kind,
                        sha256: crate::xmod::dirhash::sha256(lines.as_bytes()),
                        gosum: Some((zip_h1.to_owned(), mod_h1.to_owned())),
                        go_mod_sha256: None,
                        signer: s.name.clone(),
                        trust_root: v.trust_root,
                        signature: signature.to_owned(),
                    });
                }
                Err(r) => refused.push((s.name.clone(), r)),
            }
        }
        Err(SignatureFailure::Rejected(refused))
    }

    /// The signer that accepted the signature.
    pub fn signer(&self) -> &str {
        &self.signer
    }

    /// The signature file as a content-addressed evidence object: its
    /// SHA-256 (hex) and bytes.
    pub(in crate::verify::proof) fn evidence_object(&self) -> (String, bytes::Bytes) {
        let bytes = bytes::Bytes::from(self.signature.clone().into_bytes());
        (hex(&crate::xmod::dirhash::sha256(&bytes)), bytes)
    }
}

/// The fetch-time check: the signature was verified over exactly `a`'s
/// bytes, for `a`'s module version and kind.
pub(in crate::verify::proof) fn check(
    p: &SignedArtifact,
    a: &Artifact<'_>,
) -> Result<(), VerifyError> {
    let who = || authority(&p.signer);
    if p.module != a.module || p.version != a.version {
        return Err(VerifyError::WrongSubject {
            authority: who(),
            path: a.module.to_owned(),
            version: a.version.to_owned(),
            got_path: p.module.clone(),
            got_version: p.version.clone(),
        });
    }
    if let Some((zip_h1, mod_h1)) = &p.gosum {
        let signed = if a.kind == ArtifactKind::Zip {
            zip_h1
        } else {
            mod_h1
        };
        if p.kind != a.kind || signed != a.h1.as_str() {
            return Err(VerifyError::BadEvidence {
                authority: who(),
                msg: format!(
                    "the signed go.sum lines give the {} {signed}, not the {} served ({})",
                    p.kind.as_str(),
                    a.kind.as_str(),
                    a.h1
                ),
            });
        }
        return Ok(());
    }
    if p.kind == ArtifactKind::Mod && a.kind == ArtifactKind::Mod {
        return match &p.go_mod_sha256 {
            Some(h) if h == a.sha256 => Ok(()),
            Some(h) => Err(VerifyError::BadEvidence {
                authority: who(),
                msg: format!(
                    "the signed zip's go.mod has SHA-256 {}, not the go.mod served ({})",
                    hex(h),
                    hex(a.sha256)
                ),
            }),
            None => Err(VerifyError::BadEvidence {
                authority: who(),
                msg: "the signed zip has no go.mod".into(),
            }),
        };
    }
    if p.kind != a.kind || &p.sha256 != a.sha256 {
        return Err(VerifyError::BadEvidence {
            authority: who(),
            msg: format!(
                "the signature was verified over a {} with SHA-256 {}, not the {} served ({})",
                p.kind.as_str(),
                hex(&p.sha256),
                a.kind.as_str(),
                hex(a.sha256)
            ),
        });
    }
    Ok(())
}

/// The `signature` kind ([`crate::verify::proof::Kind`]).
pub struct Signature;

impl crate::verify::proof::Kind for Signature {
    const PROVES_GO_MOD: bool = false;
    type Token = SignedArtifact;
    type Evidence = Evidence;
    type Requirement = Requirement;

    fn summary(req: &Requirement) -> String {
        format!(
            "signature (signed {}; signers {}; at {})",
            req.signed.as_str(),
            req.signers.join(", "),
            req.location
        )
    }

    fn satisfied_by(
        req: &Requirement,
        recorded: &Recorded<'_>,
        cx: &crate::verify::proof::Satisfying<'_>,
    ) -> Result<(), String> {
        satisfied_by(recorded, &req.signers, req.signed, cx.go_mod_signed)
    }

    fn authority(s: &SignedArtifact) -> String {
        authority(s.signer())
    }

    fn check(s: &SignedArtifact, a: &Artifact<'_>) -> Result<(), VerifyError> {
        check(s, a)
    }

    fn evidence_object(s: &SignedArtifact) -> Option<(String, bytes::Bytes)> {
        Some(s.evidence_object())
    }

    fn evidence(s: &SignedArtifact) -> Evidence {
        Evidence::from_signed(s)
    }

    fn reference(e: &Evidence) -> String {
        authority(&e.signer)
    }

    fn objects(e: &Evidence) -> Vec<&str> {
        e.objects()
    }

    fn zips(e: &Evidence, kind: ArtifactKind) -> Vec<&str> {
        e.zips(kind)
    }

    fn recheck(
        e: &Evidence,
        a: &Artifact<'_>,
        anchors: &TrustAnchors<'_>,
        objects: &EvidenceObjects,
    ) -> Result<Rechecked, VerifyError> {
        e.recheck(a, anchors, objects)
    }
}

/// What the cache records of a signature proof.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The `[[signer]]` that accepted it.
    pub signer: String,
    /// The trust root it was verified against (`(none: key)` for a key).
    pub trust_root: String,
    /// SHA-256 (hex) of the bytes it was verified over (the zip, or the
    /// go.sum lines in gosum mode).
    pub sha256: String,
    /// SHA-256 (hex) of the signature file (a bundle's JSON or a `.sig`),
    /// which the store keeps verbatim as a content-addressed evidence object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_sha256: Option<String>,
    /// Records written before evidence objects hold the signature file
    /// inline; read through [`Evidence::signature_bytes`] either way.
    #[serde(
        default,
        rename = "signature",
        skip_serializing_if = "String::is_empty"
    )]
    inline_signature: String,
    /// What was signed; records from before the `signed` key are zip.
    #[serde(default, skip_serializing_if = "is_zip")]
    pub signed: SignedMode,
    /// Gosum mode: the zip's `h1:` in the signed lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip_h1: Option<String>,
    /// Gosum mode: the go.mod's `h1:` in the signed lines.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mod_h1: Option<String>,
    /// Zip mode: SHA-256 (hex) of the signed zip's root go.mod, as goward
    /// read it from the zip it verified. On a go.mod's record, `sha256` is
    /// the signed zip's and this the go.mod's: the go.mod is covered by the
    /// zip's signature because its bytes are the zip's go.mod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go_mod_sha256: Option<String>,
}

fn is_zip(m: &SignedMode) -> bool {
    *m == SignedMode::Zip
}

impl fmt::Debug for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Evidence")
            .field("signer", &self.signer)
            .field("trust_root", &self.trust_root)
            .field("sha256", &self.sha256)
            .field("signed", &self.signed)
            .field("zip_h1", &self.zip_h1)
            .field("mod_h1", &self.mod_h1)
            .field("signature_sha256", &self.signature_sha256)
            .field("inline_signature_len", &self.inline_signature.len())
            .finish()
    }
}

impl Evidence {
    pub(in crate::verify::proof) fn from_signed(p: &SignedArtifact) -> Evidence {
        Evidence {
            signer: p.signer.clone(),
            trust_root: p.trust_root.clone(),
            sha256: hex(&p.sha256),
            signature_sha256: Some(p.evidence_object().0),
            inline_signature: String::new(),
            signed: if p.gosum.is_some() {
                SignedMode::Gosum
            } else {
                SignedMode::Zip
            },
            zip_h1: p.gosum.as_ref().map(|(z, _)| z.clone()),
            mod_h1: p.gosum.as_ref().map(|(_, m)| m.clone()),
            go_mod_sha256: p.go_mod_sha256.as_ref().map(|h| hex(h)),
        }
    }

    /// The stored zips the re-check of a record of `kind` reads: for a
    /// go.mod covered by a signed zip (zip mode), that zip.
    pub(in crate::verify::proof) fn zips(&self, kind: ArtifactKind) -> Vec<&str> {
        if kind == ArtifactKind::Mod && self.signed == SignedMode::Zip {
            vec![self.sha256.as_str()]
        } else {
            Vec::new()
        }
    }

    /// The evidence objects this names: the signature file's digest
    /// (none for a record with the signature inline).
    pub(in crate::verify::proof) fn objects(&self) -> Vec<&str> {
        self.signature_sha256.as_deref().into_iter().collect()
    }

    /// The bytes of the recorded signature file: the evidence object the
    /// record names, checked against its SHA-256 by `objects`, or the inline
    /// copy of a record written before evidence objects. The one way to read
    /// a recorded signature (re-checks, proving a go.mod from its zip's
    /// evidence, exports). `Err` says why it is not available.
    pub fn signature_bytes<'a>(&'a self, objects: &'a EvidenceObjects) -> Result<&'a [u8], String> {
        match &self.signature_sha256 {
            Some(sha) => objects.get(sha).map(|b| b.as_ref()),
            None if !self.inline_signature.is_empty() => Ok(self.inline_signature.as_bytes()),
            None => Err("the record names no signature file".into()),
        }
    }

    /// The recorded signature file, parsed ([`Evidence::signature_bytes`]).
    fn recorded_input(&self, objects: &EvidenceObjects) -> Result<SignatureInput, VerifyError> {
        let bad = |msg: String| VerifyError::BadEvidence {
            authority: authority(&self.signer),
            msg,
        };
        let bytes = self
            .signature_bytes(objects)
            .map_err(|e| bad(format!("the recorded signature is not available: {e}")))?;
        let text = std::str::from_utf8(bytes)
            .map_err(|_| bad("the recorded signature is unusable: not UTF-8 text".into()))?;
        parse_signature(text).map_err(|e| bad(format!("the recorded signature is unusable: {e}")))
    }

    /// The offline re-check: the evidence is about `a`'s bytes, and the
    /// signature verifies again over them by the named signer of the policy
    /// in force. A signer the policy no longer declares leaves it unanchored.
    pub(in crate::verify::proof) fn recheck(
        &self,
        a: &Artifact<'_>,
        anchors: &TrustAnchors<'_>,
        objects: &EvidenceObjects,
    ) -> Result<Rechecked, VerifyError> {
        let bad = |msg: String| VerifyError::BadEvidence {
            authority: authority(&self.signer),
            msg,
        };
        if self.signed == SignedMode::Gosum {
            return self.recheck_gosum(a, anchors, objects);
        }
        let served = hex(a.sha256);
        // The go.mod inside the stored zip with the signed SHA-256, as the
        // cache re-read it from the zip's bytes.
        let in_zip = |zip: &str| {
            objects
                .zip_go_mod(zip)
                .map_err(|e| bad(format!("the signed zip {zip} cannot be re-read: {e}")))
                .map(|h| h.map(|h| hex(&h)))
        };
        if a.kind == ArtifactKind::Mod {
            // Covered as the signed zip's go.mod: the bytes recorded as the
            // zip's go.mod are the stored go.mod's...
            if self.go_mod_sha256.as_deref() != Some(served.as_str()) {
                return Err(bad(format!(
                    "recorded as covering a go.mod with SHA-256 {}, but the stored go.mod has {served}",
                    self.go_mod_sha256.as_deref().unwrap_or("(none)")
                )));
            }
            // ...and so are the bytes of the go.mod inside the stored zip
            // that was signed (the record alone could be edited to match).
            let got = in_zip(&self.sha256)?;
            if got.as_deref() != Some(served.as_str()) {
                return Err(bad(format!(
                    "the stored go.mod (SHA-256 {served}) is not the go.mod inside the signed zip {} ({})",
                    self.sha256,
                    got.as_deref().unwrap_or("it has none")
                )));
            }
        } else if self.sha256 != served {
            return Err(bad(format!(
                "recorded as over SHA-256 {}, but the stored zip has {served}",
                self.sha256
            )));
        } else if let Some(recorded) = &self.go_mod_sha256 {
            // What the go.mod's record relies on: the zip's go.mod as read.
            let got = in_zip(&served)?;
            if got.as_deref() != Some(recorded.as_str()) {
                return Err(bad(format!(
                    "recorded as holding a go.mod with SHA-256 {recorded}, but the stored zip's go.mod has {}",
                    got.as_deref().unwrap_or("(none)")
                )));
            }
        }
        let signed_zip: [u8; 32] = super::hex_decode(&self.sha256)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                bad(format!(
                    "the recorded SHA-256 {:?} is not 64 hex digits",
                    self.sha256
                ))
            })?;
        let Some(signer) = anchors.signer(&self.signer) else {
            return Ok(Rechecked::Unanchored(format!(
                "signed by signer {:?}, which the policy in force ({}) does not declare",
                self.signer, anchors.policy_origin
            )));
        };
        let input = self.recorded_input(objects)?;
        verify(
            Message::Digest(&signed_zip),
            &input,
            &signer.signer,
            &signer.trust_root,
        )
        .map_err(|r| bad(format!("the recorded signature does not verify: {r}")))?;
        Ok(Rechecked::Verified)
    }

    /// Gosum mode: the stored artifact's `h1:` is the recorded one for its
    /// kind, and the signature verifies again over the recorded lines.
    fn recheck_gosum(
        &self,
        a: &Artifact<'_>,
        anchors: &TrustAnchors<'_>,
        objects: &EvidenceObjects,
    ) -> Result<Rechecked, VerifyError> {
        let bad = |msg: String| VerifyError::BadEvidence {
            authority: authority(&self.signer),
            msg,
        };
        let (Some(zip_h1), Some(mod_h1)) = (&self.zip_h1, &self.mod_h1) else {
            return Err(bad(
                "a gosum signature is recorded without the signed h1: values".into(),
            ));
        };
        let signed = if a.kind == ArtifactKind::Zip {
            zip_h1
        } else {
            mod_h1
        };
        if signed != a.h1.as_str() {
            return Err(bad(format!(
                "the signed go.sum lines give the {} {signed}, but the stored one has {}",
                a.kind.as_str(),
                a.h1
            )));
        }
        let Some(signer) = anchors.signer(&self.signer) else {
            return Ok(Rechecked::Unanchored(format!(
                "signed by signer {:?}, which the policy in force ({}) does not declare",
                self.signer, anchors.policy_origin
            )));
        };
        let input = self.recorded_input(objects)?;
        let lines = gosum_lines(a.module, a.version, zip_h1, mod_h1);
        verify(
            Message::Bytes(lines.as_bytes()),
            &input,
            &signer.signer,
            &signer.trust_root,
        )
        .map_err(|r| bad(format!("the recorded signature does not verify: {r}")))?;
        Ok(Rechecked::Verified)
    }

    /// Whether this records a gosum signature by one of `signers`: the
    /// signed `h1:`s, for proving the other artifact of the version.
    pub fn gosum_by(&self, signers: &[String]) -> Option<(&str, &str)> {
        if self.signed != SignedMode::Gosum || !signers.contains(&self.signer) {
            return None;
        }
        Some((self.zip_h1.as_deref()?, self.mod_h1.as_deref()?))
    }
}

/// A rule's `signature` requirement, as the policy states it: the
/// accepted `[[signer]]`s (by name, in the rule's order), where the
/// signatures live and what they sign.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Requirement {
    /// `[[signer]]` names, each declared.
    pub signers: Vec<String>,
    /// A `file://`, `http(s)://` or `upstream:` template with `{module}`,
    /// `{version}`, `{file}`, as written.
    pub location: String,
    /// What the signers sign (`signed`, default zip).
    pub signed: SignedMode,
}

impl crate::verify::proof::RequiredProof {
    /// The requirement as the signature kind reads it, if it is one.
    pub(crate) fn signature(&self) -> Option<&Requirement> {
        match self {
            crate::verify::proof::RequiredProof::Signature(r) => Some(r),
            _ => None,
        }
    }
}

/// As `policy explain` states it.
impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} signed by signer {} (signature at {})",
            match self.signed {
                SignedMode::Zip => "zip",
                SignedMode::Gosum => "go.sum lines",
            },
            self.signers
                .iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(" or "),
            self.location
        )
    }
}

/// The signature requirement that proves a go.mod, among a decision's
/// signature requirements `reqs`: signed go.sum lines always (they name the
/// go.mod's `h1:`); a signed zip (which holds the go.mod) only when no
/// other required kind proves the go.mod itself (`other`,
/// [`ProofKind::proves_go_mod`](crate::verify::proof::ProofKind::proves_go_mod)).
pub(crate) fn proving_go_mod<'a>(
    reqs: impl IntoIterator<Item = &'a Requirement>,
    other: bool,
) -> Option<&'a Requirement> {
    reqs.into_iter()
        .find(|r| r.signed == SignedMode::Gosum || !other)
}

/// Whether the zip, under its rule's signature requirements `zip_reqs`, can
/// prove a go.mod that `mod_req` ([`proving_go_mod`]) proves through it:
/// the zip's rule must require the same kind of signature, by signers the
/// go.mod's rule accepts (so whichever of them signed the zip, the go.mod's
/// proof holds). `rules` are the go.mod's and the zip's rule labels; `Err`
/// names both and the fix.
pub(crate) fn zip_covers_go_mod<'a>(
    mod_req: Option<&Requirement>,
    zip_reqs: impl IntoIterator<Item = &'a Requirement>,
    (mod_rule, zip_rule): (&str, &str),
) -> Result<(), String> {
    let Some(want) = mod_req else {
        return Ok(());
    };
    let covered = zip_reqs.into_iter().any(|z| {
        z.signed == want.signed
            && !z.signers.is_empty()
            && z.signers.iter().all(|s| want.signers.contains(s))
    });
    if covered {
        return Ok(());
    }
    Err(format!(
        "policy rule {mod_rule:?} proves the go.mod through the version's signed zip, but the zip is \
         decided by policy rule {zip_rule:?}, which does not require {} by signer {}: decide both by one \
         rule, or give the go.mod a proof of its own (sumdb or pinned)",
        if want.signed == SignedMode::Gosum {
            "signed go.sum lines"
        } else {
            "a zip signature"
        },
        want.signers.join(" or ")
    ))
}

/// Whether a stored record satisfies a `signature` requirement (`signers`,
/// `signed`): a signature of that mode by one of the signers is on record.
/// A go.mod needs one only when the signature proves it (`proves_go_mod`,
/// [`proving_go_mod`]); otherwise the rule's other proof does. `Err` says
/// what is missing.
fn satisfied_by(
    recorded: &Recorded<'_>,
    signers: &[String],
    signed: SignedMode,
    proves_go_mod: bool,
) -> Result<(), String> {
    let needed = recorded.kind == ArtifactKind::Zip || proves_go_mod;
    let on_record = recorded.proofs.iter().any(|p| {
        matches!(p, crate::verify::proof::Evidence::Signature(e)
            if signers.contains(&e.signer) && e.signed == signed)
    });
    if needed && !on_record {
        return Err(format!(
            "no signature ({}) by signer {} on record",
            signed.as_str(),
            signers.join(" or ")
        ));
    }
    Ok(())
}

/// Why a go.mod proven through its zip's signature was not proven.
#[derive(Debug)]
pub(crate) enum GoModRefusal {
    /// The zip carries no signature of the required mode by an accepted
    /// signer: nothing proves the go.mod.
    NoSignature(String),
    /// The zip's signature does not cover this go.mod, or does not verify
    /// again as its proof.
    Refused(SignatureFailure),
    /// The zip's record is malformed.
    BadRecord(String),
}

/// Proves a go.mod (`module@version`, its `h1:` and bytes) through the
/// signature recorded with the version's proven zip (`zip`; its signature
/// file read from `objects`), under `req` ([`proving_go_mod`]): signed
/// go.sum lines must name this go.mod's `h1:` (and the zip's); a signed
/// zip must hold exactly these bytes as its go.mod (by the SHA-256 recorded
/// when the zip was verified). Either way the signature verifies again, by
/// one of `accepted`, as the go.mod's own proof.
pub(crate) fn prove_go_mod(
    req: &Requirement,
    (module, version): (&str, &str),
    zip: Option<&Recorded<'_>>,
    (accepted, objects): (&[&PolicySigner], &EvidenceObjects),
    (mod_h1, go_mod): (&H1, &[u8]),
) -> Result<SignedArtifact, GoModRefusal> {
    let subject = (ArtifactKind::Mod, module, version);
    let signers = &req.signers;
    let signatures = || {
        zip.into_iter().flat_map(|z| {
            z.proofs.iter().filter_map(move |p| match p {
                crate::verify::proof::Evidence::Signature(e) => Some((z, e)),
                _ => None,
            })
        })
    };
    if req.signed == SignedMode::Gosum {
        let lines = signatures().find_map(|(z, e)| e.gosum_by(signers).map(|h| (z, e, h)));
        let Some((zip, evidence, (zip_h1, signed_mod_h1))) = lines else {
            return Err(GoModRefusal::NoSignature(format!(
                "the zip the go.mod is proven through carries no signed go.sum lines by signer {}",
                signers.join(" or ")
            )));
        };
        if signed_mod_h1 != mod_h1.as_str() || zip_h1 != zip.h1 {
            return Err(GoModRefusal::Refused(SignatureFailure::NotSigned(format!(
                "the signed go.sum lines give the go.mod {signed_mod_h1}, but the go.mod served has {mod_h1}"
            ))));
        }
        let text = recorded_signature(evidence, objects).map_err(GoModRefusal::Refused)?;
        return SignedArtifact::verify_gosum(subject, (zip_h1, mod_h1.as_str()), text, accepted)
            .map_err(GoModRefusal::Refused);
    }
    let recorded =
        signatures().find(|(_, e)| e.signed == SignedMode::Zip && signers.contains(&e.signer));
    let Some((_, evidence)) = recorded else {
        return Err(GoModRefusal::NoSignature(format!(
            "the zip the go.mod is proven through carries no zip signature by signer {}",
            signers.join(" or ")
        )));
    };
    let served = crate::xmod::dirhash::sha256(go_mod);
    let in_zip = evidence
        .go_mod_sha256
        .as_deref()
        .and_then(super::hex_decode)
        .and_then(|b| <[u8; 32]>::try_from(b).ok());
    let Some(in_zip) = in_zip.filter(|h| *h == served) else {
        return Err(GoModRefusal::Refused(SignatureFailure::NotSigned(format!(
            "the go.mod served (SHA-256 {}) is not the signed zip's go.mod ({})",
            hex(&served),
            evidence
                .go_mod_sha256
                .as_deref()
                .unwrap_or("the zip has none")
        ))));
    };
    let zip_sha256 = super::hex_decode(&evidence.sha256)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| GoModRefusal::BadRecord("bad signed SHA-256 on record".into()))?;
    let text = recorded_signature(evidence, objects).map_err(GoModRefusal::Refused)?;
    SignedArtifact::verify(subject, (&zip_sha256, Some(&in_zip)), text, accepted)
        .map_err(GoModRefusal::Refused)
}

/// The text of a signature recorded with a version's zip, read through
/// [`Evidence::signature_bytes`] (digest-checked when it is an evidence
/// object).
fn recorded_signature<'a>(
    evidence: &'a Evidence,
    objects: &'a EvidenceObjects,
) -> Result<&'a str, SignatureFailure> {
    let bytes = evidence.signature_bytes(objects).map_err(|e| {
        SignatureFailure::NotSigned(format!(
            "the signature recorded with the zip is not available: {e}"
        ))
    })?;
    std::str::from_utf8(bytes).map_err(|_| {
        SignatureFailure::NotSigned("the signature recorded with the zip is not UTF-8 text".into())
    })
}

/// A signature file that could not be read from `shown` (a local file):
/// absent is a missing signature, anything else unreachable.
pub(crate) fn read_failure(e: &std::io::Error, shown: &str) -> SignatureFailure {
    match e.kind() {
        std::io::ErrorKind::NotFound => SignatureFailure::Missing {
            location: shown.to_owned(),
        },
        _ => SignatureFailure::Unreachable {
            location: shown.to_owned(),
            reason: e.to_string(),
        },
    }
}

/// The placeholders a signature location may hold.
const PLACEHOLDERS: [&str; 3] = ["module", "version", "file"];

/// The prefix of a location relative to the upstream the zip came from.
const UPSTREAM: &str = "upstream:";

/// Where one artifact's signature is read from: a rule's location template
/// with the artifact's escaped path and version substituted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SignatureSource {
    /// A local file (`file:///…`).
    File(std::path::PathBuf),
    /// An `http(s)://` URL, fetched with goward's HTTP client. A signature
    /// authenticates itself, so plain http can only withhold one, which
    /// fails closed like any missing signature.
    Http(String),
    /// A path relative to the GOPROXY list the zip was fetched from
    /// (`upstream:{module}/@v/{version}{file}.sig`): beside the artifact.
    Upstream(String),
}

impl SignatureSource {
    /// The location as shown to a client: a local path is the server's
    /// business, so only its file name is shown (logs keep the whole path).
    pub(crate) fn shown(&self) -> String {
        match self {
            SignatureSource::File(p) => format!(
                "file://…/{}",
                p.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            ),
            SignatureSource::Http(url) => crate::upstream::redact_str(url),
            SignatureSource::Upstream(rel) => format!("{UPSTREAM}{rel}"),
        }
    }
}

/// Checks a rule's signature location: a `file://` template of an absolute
/// path, an `http(s)://` URL template, or `upstream:` and a path relative to
/// the upstream, each naming `{module}` and `{version}` (and optionally
/// `{file}`), no other placeholder. `Err` says what is wrong.
pub(crate) fn check_location(template: &str) -> Result<(), String> {
    let mut rest = template;
    let mut seen = Vec::new();
    while let Some(open) = rest.find('{') {
        let after = rest.get(open.saturating_add(1)..).unwrap_or_default();
        let Some(close) = after.find('}') else {
            return Err("unbalanced { in the template".into());
        };
        let name = after.get(..close).unwrap_or_default();
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "unknown placeholder {{{name}}}: expected {{module}}, {{version}} or {{file}}"
            ));
        }
        seen.push(name);
        rest = after.get(close.saturating_add(1)..).unwrap_or_default();
    }
    if rest.contains('}') {
        return Err("unbalanced } in the template".into());
    }
    for need in ["module", "version"] {
        if !seen.contains(&need) {
            return Err(format!(
                "the template must hold {{{need}}}: each version has its own signature"
            ));
        }
    }
    resolve(template, "m", "v", ".zip").map(|_| ())
}

/// The template with `{module}` (escaped), `{version}` (escaped) and
/// `{file}` (`.zip`) substituted.
pub(crate) fn expand(template: &str, module: &str, version: &str, file: &str) -> String {
    template
        .replace("{module}", module)
        .replace("{version}", version)
        .replace("{file}", file)
}

/// Where `template` puts the signature of the artifact with this escaped
/// path, escaped version and file suffix. Escaped module paths and versions
/// hold no `..` element, `?`, `#` or `%`, so the result stays inside the
/// template's directory or site.
pub(crate) fn resolve(
    template: &str,
    module: &str,
    version: &str,
    file: &str,
) -> Result<SignatureSource, String> {
    let location = expand(template, module, version, file);
    if let Some(rel) = location.strip_prefix(UPSTREAM) {
        if rel.starts_with('/') || rel.contains("://") {
            return Err(format!(
                "{location:?}: an upstream: location is a path relative to the upstream, \
                 such as upstream:{{module}}/@v/{{version}}{{file}}.sig"
            ));
        }
        if rel.split('/').any(|e| e == ".." || e == ".") {
            return Err(format!(
                "{location:?}: . and .. are not allowed in a signature location"
            ));
        }
        return Ok(SignatureSource::Upstream(rel.to_owned()));
    }
    if location.starts_with("https://") || location.starts_with("http://") {
        let url = reqwest::Url::parse(&location)
            .map_err(|e| format!("{location:?} is not a valid URL: {e}"))?;
        // `https:///x` parses with host `x`: the authority must be written.
        let authority = location.split('/').nth(2).unwrap_or_default();
        if authority.is_empty() || url.host_str().is_none_or(str::is_empty) {
            return Err(format!("{location:?}: the URL has no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "{location:?}: a signature URL has no query or fragment"
            ));
        }
        if location.split('/').skip(3).any(|e| e == ".." || e == ".") {
            return Err(format!(
                "{location:?}: . and .. are not allowed in a signature location"
            ));
        }
        return Ok(SignatureSource::Http(location));
    }
    location_path(&location).map(SignatureSource::File)
}

/// The local path a `file://` location names (no percent-decoding; on
/// Windows `file:///C:/sigs/…` is `C:/sigs/…`).
pub(crate) fn location_path(location: &str) -> Result<std::path::PathBuf, String> {
    let Some(path) = location.strip_prefix("file://") else {
        return Err(format!(
            "{location:?} is not a signature location: use file:///…, https://… or upstream:…"
        ));
    };
    if !path.starts_with('/') {
        return Err(format!(
            "{location:?}: a file:// location needs an absolute path (file:///…)"
        ));
    }
    #[cfg(windows)]
    let path = match path.get(1..) {
        Some(p) if p.get(1..2) == Some(":") => p,
        _ => path,
    };
    if path.split(['/', '\\']).any(|e| e == "..") {
        return Err(format!(
            "{location:?}: .. is not allowed in a signature location"
        ));
    }
    Ok(std::path::PathBuf::from(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Policy;
    use crate::xmod::dirhash::{self, H1};

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/sigstore/");
    const M: &str = "example.com/m";
    const V: &str = "v1.0.0";

    fn read(name: &str) -> Vec<u8> {
        std::fs::read(format!("{DIR}{name}")).unwrap()
    }

    /// Signers "good" (cosign.pub, which signed artifact.zip.key.sig) and "other".
    fn policy(signers: &[(&str, &str)]) -> Policy {
        let mut text = String::new();
        for (name, key) in signers {
            text.push_str(&format!(
                "[[signer]]\nname = \"{name}\"\nkey = \"{key}\"\n\n"
            ));
        }
        Policy::parse(&text, &format!("{DIR}policy.toml")).unwrap()
    }

    fn artifact<'a>(kind: ArtifactKind, h1: &'a H1, sha: &'a [u8; 32]) -> Artifact<'a> {
        Artifact {
            kind,
            module: M,
            version: V,
            h1,
            sha256: sha,
        }
    }

    #[test]
    fn the_token_vouches_for_the_signed_bytes_only() {
        let p = policy(&[("other", "other.pub"), ("good", "cosign.pub")]);
        let signers: Vec<&PolicySigner> = ["other", "good"]
            .iter()
            .map(|n| p.signer(n).unwrap())
            .collect();
        let zip = read("artifact.zip");
        let sha = dirhash::sha256(&zip);
        let sig = String::from_utf8(read("artifact.zip.key.sig")).unwrap();
        let signed =
            SignedArtifact::verify((ArtifactKind::Zip, M, V), (&sha, None), &sig, &signers)
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(signed.signer(), "good");
        let h1 = dirhash::hash_go_mod(b"x");
        check(&signed, &artifact(ArtifactKind::Zip, &h1, &sha)).unwrap();
        // Other bytes, another kind, another version: refused.
        let other = dirhash::sha256(b"other bytes");
        let e = check(&signed, &artifact(ArtifactKind::Zip, &h1, &other)).unwrap_err();
        assert_eq!(e.reason(), "proof_invalid", "{e}");
        let e = check(&signed, &artifact(ArtifactKind::Mod, &h1, &sha)).unwrap_err();
        assert_eq!(e.reason(), "proof_invalid", "{e}");
        let mut later = artifact(ArtifactKind::Zip, &h1, &sha);
        later.version = "v1.0.1";
        let e = check(&signed, &later).unwrap_err();
        assert_eq!(e.reason(), "proof_wrong_subject", "{e}");

        // The recorded evidence names the signature file by SHA-256 and
        // re-checks offline from that object, against the policy in force.
        let ev = Evidence::from_signed(&signed);
        let (obj_sha, obj) = signed.evidence_object();
        assert_eq!(obj.as_ref(), sig.as_bytes());
        assert_eq!(ev.objects(), vec![obj_sha.as_str()]);
        let json = serde_json::to_string(&ev).unwrap();
        assert!(!json.contains("\"signature\":"), "{json}");
        let mut objects = EvidenceObjects::default();
        objects.insert(&obj_sha, Ok(Some(obj.clone())));
        let a = artifact(ArtifactKind::Zip, &h1, &sha);
        let ok =
            |o: &EvidenceObjects| ev.recheck(&a, &p.trust_anchors(&[], M, V, ArtifactKind::Zip), o);
        assert_eq!(ok(&objects).unwrap(), Rechecked::Verified);
        // A policy whose "good" is another key: the evidence is wrong now.
        let swapped = policy(&[("good", "other.pub")]);
        let e = ev
            .recheck(
                &a,
                &swapped.trust_anchors(&[], M, V, ArtifactKind::Zip),
                &objects,
            )
            .unwrap_err();
        assert!(
            e.to_string().contains("does not verify: bad signature"),
            "{e}"
        );
        // A policy without the signer: unanchored, counts for nothing.
        let none = policy(&[("other", "other.pub")]);
        assert!(matches!(
            ev.recheck(
                &a,
                &none.trust_anchors(&[], M, V, ArtifactKind::Zip),
                &objects
            )
            .unwrap(),
            Rechecked::Unanchored(_)
        ));
        // Evidence about other bytes: refused.
        let b = artifact(ArtifactKind::Zip, &h1, &other);
        assert!(
            ev.recheck(&b, &p.trust_anchors(&[], M, V, ArtifactKind::Zip), &objects)
                .is_err()
        );
        // The evidence object missing, unreadable or altered: refused, saying so.
        let who = "signature by signer \"good\": the recorded signature is not available";
        let mut gone = EvidenceObjects::default();
        gone.insert(&obj_sha, Ok(None));
        assert_eq!(
            ok(&gone).unwrap_err().to_string(),
            format!("{who}: evidence object {obj_sha} is missing")
        );
        gone.insert(&obj_sha, Err("disk on fire".into()));
        assert_eq!(
            ok(&gone).unwrap_err().to_string(),
            format!("{who}: evidence object {obj_sha} is unreadable: disk on fire")
        );
        let altered = bytes::Bytes::from(sig.replace('M', "N"));
        let mut changed = EvidenceObjects::default();
        changed.insert(&obj_sha, Ok(Some(altered.clone())));
        assert_eq!(
            ok(&changed).unwrap_err().to_string(),
            format!(
                "{who}: evidence object {obj_sha} is altered: its SHA-256 is {}",
                hex(&crate::xmod::dirhash::sha256(&altered))
            )
        );
        assert_eq!(
            ok(&EvidenceObjects::default()).unwrap_err().to_string(),
            format!("{who}: evidence object {obj_sha} was not read")
        );
        // A record from before evidence objects (the signature inline)
        // still loads and re-checks, with no object to read.
        let legacy = format!(
            r#"{{"signer":"good","trust_root":"{}","sha256":"{}","signature":{}}}"#,
            ev.trust_root,
            ev.sha256,
            serde_json::to_string(&sig).unwrap()
        );
        let old: Evidence = serde_json::from_str(&legacy).unwrap();
        assert!(old.objects().is_empty());
        assert_eq!(
            old.signature_bytes(&EvidenceObjects::default()).unwrap(),
            sig.as_bytes()
        );
        assert_eq!(
            old.recheck(
                &a,
                &p.trust_anchors(&[], M, V, ArtifactKind::Zip),
                &EvidenceObjects::default()
            )
            .unwrap(),
            Rechecked::Verified
        );
        let mut forged = old.clone();
        forged.inline_signature = "AAAA".into();
        assert!(
            forged
                .recheck(
                    &a,
                    &p.trust_anchors(&[], M, V, ArtifactKind::Zip),
                    &EvidenceObjects::default()
                )
                .is_err()
        );
    }

    fn signature_evidence(signer: &str, signed: SignedMode) -> crate::verify::proof::Evidence {
        crate::verify::proof::Evidence::Signature(Evidence {
            signer: signer.into(),
            trust_root: "(none: key)".into(),
            sha256: hex(&dirhash::sha256(&read("artifact.zip"))),
            signature_sha256: None,
            inline_signature: String::from_utf8(read("artifact.zip.key.sig")).unwrap(),
            signed,
            zip_h1: None,
            mod_h1: None,
            go_mod_sha256: Some(hex(&dirhash::sha256(b"module example.com/m\n"))),
        })
    }

    fn recorded<'a>(
        kind: ArtifactKind,
        h1: &'a str,
        proofs: &'a [crate::verify::proof::Evidence],
    ) -> Recorded<'a> {
        Recorded {
            kind,
            module: M,
            version: V,
            h1,
            proofs,
        }
    }

    #[test]
    fn a_signature_on_record_satisfies_signature() {
        let ab = ["a".to_owned(), "b".to_owned()];
        let by_b = [signature_evidence("b", SignedMode::Zip)];
        let zip = recorded(ArtifactKind::Zip, "h1:x", &by_b);
        assert_eq!(satisfied_by(&zip, &ab, SignedMode::Zip, false), Ok(()));
        // Another mode, another signer, nothing: refused, naming what is wanted.
        assert_eq!(
            satisfied_by(&zip, &ab, SignedMode::Gosum, false),
            Err("no signature (gosum) by signer a or b on record".into())
        );
        assert_eq!(
            satisfied_by(&zip, &["a".to_owned()], SignedMode::Zip, false),
            Err("no signature (zip) by signer a on record".into())
        );
        // A go.mod needs one only when the signature proves it.
        let go_mod = recorded(ArtifactKind::Mod, "h1:x", &[]);
        assert_eq!(satisfied_by(&go_mod, &ab, SignedMode::Zip, false), Ok(()));
        assert_eq!(
            satisfied_by(&go_mod, &ab, SignedMode::Zip, true),
            Err("no signature (zip) by signer a or b on record".into())
        );
    }

    #[test]
    fn which_signature_proves_a_go_mod() {
        let s = ["a".to_owned()];
        let req = |signed| Requirement {
            signers: s.to_vec(),
            location: "file:///s/{module}/{version}".into(),
            signed,
        };
        let (zip, gosum) = (&req(SignedMode::Zip), &req(SignedMode::Gosum));
        assert_eq!(proving_go_mod([zip], false), Some(zip));
        assert_eq!(proving_go_mod([zip], true), None);
        assert_eq!(proving_go_mod([zip, gosum], true), Some(gosum));
        assert_eq!(proving_go_mod([], false), None);
        // As `policy explain` states them.
        assert_eq!(
            gosum.to_string(),
            "go.sum lines signed by signer \"a\" (signature at file:///s/{module}/{version})"
        );
        // The zip's rule must require the same mode by accepted signers.
        assert_eq!(zip_covers_go_mod(None, [], ("m", "z")), Ok(()));
        assert_eq!(zip_covers_go_mod(Some(gosum), [gosum], ("m", "z")), Ok(()));
        assert_eq!(
            zip_covers_go_mod(Some(gosum), [zip], ("m", "z")),
            Err(
                "policy rule \"m\" proves the go.mod through the version's signed zip, but the \
                 zip is decided by policy rule \"z\", which does not require signed go.sum lines \
                 by signer a: decide both by one rule, or give the go.mod a proof of its own \
                 (sumdb or pinned)"
                    .into()
            )
        );
    }

    #[test]
    fn a_go_mod_is_proven_through_its_zips_signature() {
        let p = policy(&[("good", "cosign.pub")]);
        let accepted = [p.signer("good").unwrap()];
        let good = ["good".to_owned()];
        let objects = EvidenceObjects::default();
        let go_mod = b"module example.com/m\n";
        let mod_h1 = dirhash::hash_go_mod(go_mod);
        let req = |signed| Requirement {
            signers: good.to_vec(),
            location: "file:///s/{module}/{version}".into(),
            signed,
        };
        let prove = |signed, zip: Option<&Recorded<'_>>, bytes: &[u8]| {
            prove_go_mod(
                &req(signed),
                (M, V),
                zip,
                (&accepted, &objects),
                (&mod_h1, bytes),
            )
        };
        // Zip mode: the go.mod's bytes are the signed zip's go.mod.
        let proofs = [signature_evidence("good", SignedMode::Zip)];
        let zip = recorded(ArtifactKind::Zip, "h1:zip", &proofs);
        let signed = prove(SignedMode::Zip, Some(&zip), go_mod).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(signed.signer(), "good");
        let refused = |r: Result<SignedArtifact, GoModRefusal>| match r {
            Err(GoModRefusal::Refused(f)) => f.to_string(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            refused(prove(SignedMode::Zip, Some(&zip), b"module other\n")),
            format!(
                "the go.mod served (SHA-256 {}) is not the signed zip's go.mod ({})",
                hex(&dirhash::sha256(b"module other\n")),
                hex(&dirhash::sha256(go_mod))
            )
        );
        let unproven = |r: Result<SignedArtifact, GoModRefusal>| match r {
            Err(GoModRefusal::NoSignature(msg)) => msg,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            unproven(prove(SignedMode::Zip, None, go_mod)),
            "the zip the go.mod is proven through carries no zip signature by signer good"
        );
        // Gosum mode: the zip carries no signed lines, or lines naming another go.mod.
        assert_eq!(
            unproven(prove(SignedMode::Gosum, Some(&zip), go_mod)),
            "the zip the go.mod is proven through carries no signed go.sum lines by signer good"
        );
        let mut lines = signature_evidence("good", SignedMode::Gosum);
        if let crate::verify::proof::Evidence::Signature(e) = &mut lines {
            e.zip_h1 = Some("h1:zip".into());
            e.mod_h1 = Some("h1:other".into());
        }
        let proofs = [lines];
        let zip = recorded(ArtifactKind::Zip, "h1:zip", &proofs);
        assert_eq!(
            refused(prove(SignedMode::Gosum, Some(&zip), go_mod)),
            format!(
                "the signed go.sum lines give the go.mod h1:other, but the go.mod served has {mod_h1}"
            )
        );
        // A record whose signed SHA-256 is not one.
        let mut bad = signature_evidence("good", SignedMode::Zip);
        if let crate::verify::proof::Evidence::Signature(e) = &mut bad {
            e.sha256 = "zz".into();
        }
        let proofs = [bad];
        let zip = recorded(ArtifactKind::Zip, "h1:zip", &proofs);
        assert!(matches!(
            prove(SignedMode::Zip, Some(&zip), go_mod),
            Err(GoModRefusal::BadRecord(m)) if m == "bad signed SHA-256 on record"
        ));
    }

    #[test]
    fn an_unreadable_signature_file_is_missing_or_unreachable() {
        let gone = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(
            read_failure(&gone, "file://…/v1.zip.sig").to_string(),
            "no signature at file://…/v1.zip.sig"
        );
        let denied = std::io::Error::other("permission denied");
        assert_eq!(
            read_failure(&denied, "file://…/v1.zip.sig").to_string(),
            "cannot read the signature at file://…/v1.zip.sig: permission denied"
        );
    }

    #[test]
    fn failures_say_why_with_a_stable_label() {
        let p = policy(&[("other", "other.pub"), ("good", "cosign.pub")]);
        let other = [p.signer("other").unwrap()];
        let sha = dirhash::sha256(&read("artifact.zip"));
        let sig = String::from_utf8(read("artifact.zip.key.sig")).unwrap();
        let subject = (ArtifactKind::Zip, M, V);
        let e = SignedArtifact::verify(subject, (&sha, None), &sig, &other).unwrap_err();
        assert_eq!(e.label(), "bad_signature");
        assert!(
            e.to_string()
                .starts_with("not signed by signer \"other\": bad signature"),
            "{e}"
        );
        let e = SignedArtifact::verify(subject, (&sha, None), "not base64!", &other).unwrap_err();
        assert_eq!(e.label(), "signature_unreadable", "{e}");
        let e = SignedArtifact::verify(subject, (&sha, None), &sig, &[]).unwrap_err();
        assert_eq!(e.label(), "signature_no_signer", "{e}");
    }

    #[test]
    fn locations_are_file_http_or_upstream_templates() {
        check_location("file:///srv/sigs/{module}/@v/{version}{file}.sig").unwrap();
        check_location("https://sigs.example/{module}/@v/{version}{file}.sig").unwrap();
        check_location("http://127.0.0.1:9/{module}/{version}{file}.sig").unwrap();
        check_location("upstream:{module}/@v/{version}{file}.sig").unwrap();
        for (bad, why) in [
            ("https://s.example/{module}", "must hold {version}"),
            ("https:///{module}/{version}", "no host"),
            ("https://s.example/{module}/{version}?x=1", "no query"),
            (
                "https://s.example/../{module}/{version}",
                ". and .. are not allowed",
            ),
            ("upstream:/{module}/{version}", "relative to the upstream"),
            ("upstream:../{module}/{version}", ". and .. are not allowed"),
            ("file:///s/{module}", "must hold {version}"),
            (
                "file:///s/{module}/{version}/{x}",
                "unknown placeholder {x}",
            ),
            ("file:///s/{module}/{version", "unbalanced {"),
            ("file://s/{module}/{version}", "absolute path"),
            ("file:///s/../{module}/{version}", ".. is not allowed"),
            ("/s/{module}/{version}", "not a signature location"),
        ] {
            let e = check_location(bad).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
        assert_eq!(
            expand(
                "file:///s/{module}/@v/{version}{file}.sig",
                "a/!b",
                "v1",
                ".zip"
            ),
            "file:///s/a/!b/@v/v1.zip.sig"
        );
        let r = |t| resolve(t, "a/!b", "v1.0.0", ".zip").unwrap();
        assert_eq!(
            r("upstream:{module}/@v/{version}{file}.sig"),
            SignatureSource::Upstream("a/!b/@v/v1.0.0.zip.sig".into())
        );
        let http = r("https://u:secret@s.example/x/{module}/@v/{version}{file}.sig");
        assert_eq!(
            http,
            SignatureSource::Http("https://u:secret@s.example/x/a/!b/@v/v1.0.0.zip.sig".into())
        );
        assert!(!http.shown().contains("secret"), "{}", http.shown());
        // A client sees the file name of a local signature, not the server's path.
        let file = r("file:///srv/private/sigs/{module}/@v/{version}{file}.sig");
        assert_eq!(file.shown(), "file://…/v1.0.0.zip.sig");
    }
}
