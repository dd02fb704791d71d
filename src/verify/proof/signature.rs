//! The `signature` proof: a cosign / Sigstore signature over an artifact's
//! bytes, verified offline against a trust root.
//!
//! The cryptography (certificate chain at the signed time, SCT, Rekor
//! inclusion proof, checkpoint and SET, RFC 3161 timestamps, the tlog body
//! matching the bundle) is `sigstore-verify`'s; the `sigstore` crate is not
//! used because its bundle verifier skips the log checks. What is ours:
//!
//! - who may sign ([`Signer`]): `sigstore-verify` matches exact strings only,
//!   so it runs with `any_identity()` and the identity and issuer of the
//!   *verified* certificate are matched here, regexes anchored `^(?:RE)$`;
//! - which checks a trust root demands ([`TrustRoot`]): a root that lists
//!   transparency logs or CT logs makes them mandatory, so the public-good
//!   instance never skips the tlog or the SCT;
//! - the inputs cosign writes that the library does not read (the legacy
//!   `{base64Signature, cert, rekorBundle}` bundle, a bare key-based `.sig`);
//! - one [`SignatureError`] variant per reason, each with a stable metric
//!   label, and [`InputError`] for inputs that cannot be read at all.
//!
//! The artifact is given as the SHA-256 goward already computed while
//! streaming it ([`Message::Digest`]); only a scheme that signs the whole
//! message (Ed25519) needs the bytes ([`needs_message`]).

pub(crate) mod cli;
mod crypto;
pub(crate) mod kind;

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use sigstore_verify::types::{Bundle, DerPublicKey, Sha256Hash, SignatureBytes};
use sigstore_verify::{
    CertificateError, PublicKeyVerificationPolicy, TimestampError, TransparencyLogError,
    VerificationPolicy, Verifier,
};

/// The largest artifact kept in memory for a scheme that cannot verify a
/// digest (Ed25519 message signatures). Module zips are at most 500 MiB.
pub(crate) const MESSAGE_CAP: u64 = 512 << 20;

/// The most a bundle, key, signature or trust root file may hold: all are
/// a few KiB; the cap keeps a hostile file from exhausting memory.
pub(crate) const INPUT_CAP: u64 = 4 << 20;

/// A Sigstore instance whose trust root is compiled in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Instance {
    /// The Sigstore public-good instance (Fulcio, Rekor, CT log, TSA).
    PublicGood,
    /// GitHub's instance (private-repository attestations): Fulcio and TSAs,
    /// no transparency log and no CT log.
    GitHub,
}

impl Instance {
    /// Every embedded instance.
    pub const ALL: [Instance; 2] = [Instance::PublicGood, Instance::GitHub];

    /// The name used on the command line and in policies.
    pub fn name(self) -> &'static str {
        match self {
            Instance::PublicGood => "public-good",
            Instance::GitHub => "github",
        }
    }

    /// The instance called `name`.
    pub fn from_name(name: &str) -> Option<Instance> {
        Instance::ALL.into_iter().find(|i| i.name() == name)
    }
}

/// A trust root ready to verify against, with the checks it demands.
pub struct TrustRoot {
    name: String,
    verifier: Verifier,
    verify_tlog: bool,
    verify_sct: bool,
}

impl fmt::Debug for TrustRoot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustRoot")
            .field("name", &self.name)
            .field("verify_tlog", &self.verify_tlog)
            .field("verify_sct", &self.verify_sct)
            .finish_non_exhaustive()
    }
}

impl TrustRoot {
    /// The compiled-in root of `instance` (a snapshot from `sigstore-trust-root`).
    pub fn embedded(instance: Instance) -> Result<TrustRoot, InputError> {
        let json = match instance {
            Instance::PublicGood => sigstore_verify::trust_root::SIGSTORE_PRODUCTION_TRUSTED_ROOT,
            Instance::GitHub => sigstore_verify::trust_root::SIGSTORE_GITHUB_TRUSTED_ROOT,
        };
        TrustRoot::from_json(instance.name(), json)
    }

    /// A `trusted_root.json` file (protobuf-specs JSON), for private
    /// instances and tests.
    pub fn from_file(path: &Path) -> Result<TrustRoot, InputError> {
        let json = read_text(path, "trusted root")?;
        TrustRoot::from_json(&path.display().to_string(), &json)
    }

    /// A trust root from its JSON; `name` says where it came from.
    pub fn from_json(name: &str, json: &str) -> Result<TrustRoot, InputError> {
        crypto::install();
        let bad = |e: &dyn fmt::Display| InputError::TrustRoot {
            name: name.to_owned(),
            reason: e.to_string(),
        };
        let root =
            sigstore_verify::trust_root::TrustedRoot::from_json(json).map_err(|e| bad(&e))?;
        let verifier = Verifier::new(&root).map_err(|e| bad(&e))?;
        Ok(TrustRoot {
            name: name.to_owned(),
            // A root that names a log makes its proofs mandatory: only a
            // root without any (GitHub's) can do without them, and then
            // signed time comes from its timestamp authorities.
            verify_tlog: !root.tlogs.is_empty(),
            verify_sct: !root.ctlogs.is_empty(),
            verifier,
        })
    }

    /// Where the root came from: an instance name or a file path.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// How a certificate claim must look: exactly this, or matching an
/// anchored regex.
#[derive(Clone, Debug)]
pub enum Matcher {
    /// Equal to this string.
    Exact(String),
    /// Matching `^(?:RE)$`; the source is kept for messages.
    Regex {
        /// The expression as written.
        source: String,
        /// The anchored, compiled expression.
        re: regex::Regex,
    },
}

impl Matcher {
    /// A regex matcher. It is anchored at both ends, so `example/.*` cannot
    /// match `evil.com/example/x` (cosign's own flag matches anywhere).
    pub fn regex(source: &str) -> Result<Matcher, InputError> {
        let re = regex::Regex::new(&format!("^(?:{source})$")).map_err(|e| InputError::Regex {
            source_re: source.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Matcher::Regex {
            source: source.to_owned(),
            re,
        })
    }

    /// Whether `value` satisfies the matcher.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(want) => want == value,
            Matcher::Regex { re, .. } => re.is_match(value),
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Exact(s) => write!(f, "{s:?}"),
            Matcher::Regex { source, .. } => write!(f, "regexp {source:?}"),
        }
    }
}

/// Who may sign.
#[derive(Clone, Debug)]
pub enum Signer {
    /// A Fulcio certificate whose verified identity and OIDC issuer match.
    Keyless {
        /// The certificate's SAN (URI or email).
        identity: Matcher,
        /// The certificate's OIDC issuer claim.
        issuer: Matcher,
    },
    /// A long-lived key (`cosign generate-key-pair`).
    Key(PublicKey),
}

/// A public key from a PEM file.
#[derive(Clone, Debug)]
pub struct PublicKey {
    der: DerPublicKey,
    algorithm: sigstore_verify::crypto::KeyAlgorithm,
}

impl PublicKey {
    /// Parses a PEM `PUBLIC KEY` (SubjectPublicKeyInfo), as `cosign.pub`.
    pub fn from_pem(pem: &str) -> Result<PublicKey, InputError> {
        crypto::install();
        let bad = |e: &dyn fmt::Display| InputError::Key(e.to_string());
        let der = DerPublicKey::from_pem(pem).map_err(|e| bad(&e))?;
        let algorithm =
            sigstore_verify::crypto::KeyAlgorithm::from_spki(&der).map_err(|e| bad(&e))?;
        Ok(PublicKey { der, algorithm })
    }

    /// Reads and parses a PEM public key file.
    pub fn from_file(path: &Path) -> Result<PublicKey, InputError> {
        PublicKey::from_pem(&read_text(path, "public key")?)
    }
}

/// A signature as it arrives.
#[derive(Clone, Debug)]
pub(crate) enum SignatureInput {
    /// A Sigstore bundle (v0.1–v0.3), or cosign's legacy bundle converted
    /// to v0.1.
    Bundle(Box<Bundle>),
    /// A bare key-based signature (`cosign sign-blob --key`, `.sig`): no
    /// log entry and no time; only a [`Signer::Key`] can accept it.
    KeySignature(SignatureBytes),
}

impl SignatureInput {
    /// Parses a bundle file's JSON: a Sigstore bundle, or cosign's legacy
    /// bundle (`{base64Signature, cert, rekorBundle}`), which is converted
    /// to the v0.1 bundle it is equivalent to.
    pub(crate) fn bundle_from_json(json: &str) -> Result<SignatureInput, InputError> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| InputError::Bundle(e.to_string()))?;
        let value = if value.get("base64Signature").is_some() {
            legacy_to_v01(&value).map_err(InputError::Bundle)?
        } else {
            value
        };
        let bundle: Bundle =
            serde_json::from_value(value).map_err(|e| InputError::Bundle(e.to_string()))?;
        Ok(SignatureInput::Bundle(Box::new(bundle)))
    }

    /// Parses a `.sig` file: base64 of a DER signature, as cosign writes it.
    pub(crate) fn key_signature(text: &str) -> Result<SignatureInput, InputError> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|e| InputError::Signature(format!("not base64: {e}")))?;
        if raw.is_empty() {
            return Err(InputError::Signature("empty".into()));
        }
        Ok(SignatureInput::KeySignature(SignatureBytes::new(raw)))
    }
}

/// Converts cosign's legacy blob bundle into the protobuf-specs v0.1 bundle
/// it carries the same facts as (testdata/sigstore/legacy_to_v01.py): the
/// SET-signed Rekor payload becomes the tlog entry, `cert` (base64 of a PEM)
/// the certificate. A legacy bundle has no inclusion proof, so only a SET
/// vouches for it.
fn legacy_to_v01(legacy: &serde_json::Value) -> Result<serde_json::Value, String> {
    use serde_json::json;
    let b64 = base64::engine::general_purpose::STANDARD;
    let str_field = |v: &serde_json::Value, k: &str| -> Result<String, String> {
        v.get(k)
            .and_then(|x| x.as_str())
            .map(str::to_owned)
            .ok_or_else(|| format!("legacy cosign bundle: no string {k:?}"))
    };
    let int_field = |v: &serde_json::Value, k: &str| -> Result<i64, String> {
        v.get(k)
            .and_then(serde_json::Value::as_i64)
            .ok_or_else(|| format!("legacy cosign bundle: no integer {k:?}"))
    };
    let signature = str_field(legacy, "base64Signature")?;
    let rekor = legacy.get("rekorBundle").ok_or(
        "legacy cosign bundle: no rekorBundle (it was not logged; cannot be verified offline)",
    )?;
    let set = str_field(rekor, "SignedEntryTimestamp")?;
    let payload = rekor
        .get("Payload")
        .ok_or("legacy cosign bundle: no rekorBundle.Payload")?;
    let body_b64 = str_field(payload, "body")?;
    let body_raw = b64
        .decode(&body_b64)
        .map_err(|e| format!("legacy cosign bundle: body not base64: {e}"))?;
    let body: serde_json::Value = serde_json::from_slice(&body_raw)
        .map_err(|e| format!("legacy cosign bundle: body not JSON: {e}"))?;
    let kind = str_field(&body, "kind")?;
    let api_version = str_field(&body, "apiVersion")?;
    let log_id =
        hex_decode(&str_field(payload, "logID")?).ok_or("legacy cosign bundle: logID not hex")?;
    let material = match legacy.get("cert").and_then(|c| c.as_str()) {
        Some(cert) if !cert.is_empty() => {
            let pem = b64
                .decode(cert)
                .map_err(|e| format!("legacy cosign bundle: cert not base64: {e}"))?;
            let pem = String::from_utf8(pem).map_err(|_| "legacy cosign bundle: cert not PEM")?;
            let der = pem_body(&pem).ok_or("legacy cosign bundle: cert not PEM")?;
            json!({"x509CertificateChain": {"certificates": [{"rawBytes": b64.encode(der)}]}})
        }
        // Signed with a key: the key comes from the verifier, only a hint here.
        _ => json!({"publicKey": {"hint": ""}}),
    };
    let mut material = material;
    let entries = json!([{
        "logIndex": int_field(payload, "logIndex")?.to_string(),
        "logId": {"keyId": b64.encode(log_id)},
        "kindVersion": {"kind": kind, "version": api_version},
        "integratedTime": int_field(payload, "integratedTime")?.to_string(),
        "inclusionPromise": {"signedEntryTimestamp": set},
        "canonicalizedBody": body_b64,
    }]);
    if let Some(m) = material.as_object_mut() {
        m.insert("tlogEntries".into(), entries);
    }
    // The digest is taken from the logged body; verification still checks
    // it against the artifact and the tlog body against the signature.
    let mut out = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "verificationMaterial": material,
        "messageSignature": {"signature": signature},
    });
    if let Some(hex) = body
        .pointer("/spec/data/hash/value")
        .and_then(|v| v.as_str())
    {
        let digest = hex_decode(hex).ok_or("legacy cosign bundle: artifact hash not hex")?;
        if let Some(sig) = out
            .get_mut("messageSignature")
            .and_then(serde_json::Value::as_object_mut)
        {
            sig.insert(
                "messageDigest".into(),
                json!({"algorithm": "SHA2_256", "digest": b64.encode(digest)}),
            );
        }
    }
    Ok(out)
}

pub(crate) fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect()
}

/// The DER inside the first PEM block of `pem`.
fn pem_body(pem: &str) -> Option<Vec<u8>> {
    let mut inside = false;
    let mut b64 = String::new();
    for line in pem.lines() {
        let line = line.trim();
        if line.starts_with("-----BEGIN ") {
            inside = true;
        } else if line.starts_with("-----END ") {
            return base64::engine::general_purpose::STANDARD.decode(&b64).ok();
        } else if inside {
            b64.push_str(line);
        }
    }
    None
}

/// A `[[signer]]`: a keyless identity or a key, and the trust root its
/// signatures are verified against (shared by signers naming the same one).
#[derive(Clone, Debug)]
pub struct PolicySigner {
    /// Its name, unique among signers.
    pub name: String,
    /// Line of its `name` in the policy file.
    pub line: usize,
    /// Who it accepts.
    pub signer: Signer,
    /// What signatures are verified against.
    pub trust_root: std::sync::Arc<TrustRoot>,
}

impl PolicySigner {
    /// One line for `policy explain` and messages.
    pub fn describe(&self) -> String {
        let who = match &self.signer {
            Signer::Keyless { identity, issuer } => {
                format!("keyless identity {identity}, issuer {issuer}")
            }
            Signer::Key(_) => "key".to_owned(),
        };
        format!("{who}; trusted root {}", self.trust_root.name())
    }
}

/// The artifact as verification sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Message<'a> {
    /// Its SHA-256, computed while streaming it.
    Digest(&'a [u8; 32]),
    /// All of its bytes, when [`needs_message`] says so.
    Bytes(&'a [u8]),
}

/// Whether verifying `input` for `signer` needs the artifact's bytes rather
/// than its digest: only schemes that sign the whole message (Ed25519).
pub(crate) fn needs_message(input: &SignatureInput, signer: &Signer) -> bool {
    use sigstore_verify::crypto::KeyAlgorithm;
    let algorithm = match (signer, input) {
        (Signer::Key(k), _) => Some(k.algorithm),
        (Signer::Keyless { .. }, SignatureInput::Bundle(b)) => b
            .signing_certificate()
            .and_then(|c| sigstore_verify::crypto::parse_certificate_info(c).ok())
            .map(|i| i.key_algorithm),
        (Signer::Keyless { .. }, SignatureInput::KeySignature(_)) => None,
    };
    matches!(algorithm, Some(KeyAlgorithm::Ed25519))
}

/// What a successful verification established.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Verified {
    /// The verified certificate's identity (SAN); `None` for a key.
    pub identity: Option<String>,
    /// The verified certificate's OIDC issuer; `None` for a key.
    pub issuer: Option<String>,
    /// Rekor log index of the (first) verified entry.
    pub log_index: Option<u64>,
    /// The earliest verified signing time (SET-signed integrated time or
    /// RFC 3161 timestamp), RFC 3339.
    pub signed_time: Option<String>,
    /// The trust root it was verified against.
    pub trust_root: String,
    /// Whether the transparency-log proofs were verified.
    pub tlog_verified: bool,
    /// Whether the certificate's SCT was verified.
    pub sct_verified: bool,
}

/// Why an input could not be used at all (the CLI's exit 2): nothing was
/// verified, and nothing can be until the input is fixed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// A file could not be read.
    #[error("cannot read {what} {path}: {reason}")]
    Read {
        /// What the file was for.
        what: &'static str,
        /// Its path.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// The bundle is not a Sigstore or legacy cosign bundle.
    #[error("unreadable bundle: {0}")]
    Bundle(String),
    /// The `.sig` file is not base64.
    #[error("unreadable signature: {0}")]
    Signature(String),
    /// The public key is not a supported PEM key.
    #[error("unreadable public key: {0}")]
    Key(String),
    /// The trust root does not parse or is not usable.
    #[error("unusable trusted root {name}: {reason}")]
    TrustRoot {
        /// Instance name or path.
        name: String,
        /// Why.
        reason: String,
    },
    /// An identity or issuer regex does not compile.
    #[error("invalid regexp {source_re:?}: {reason}")]
    Regex {
        /// The expression.
        source_re: String,
        /// The compiler's message.
        reason: String,
    },
}

fn read_text(path: &Path, what: &'static str) -> Result<String, InputError> {
    use std::io::Read as _;
    let err = |reason: String| InputError::Read {
        what,
        path: path.display().to_string(),
        reason,
    };
    let f = std::fs::File::open(path).map_err(|e| err(e.to_string()))?;
    let mut s = String::new();
    f.take(INPUT_CAP + 1)
        .read_to_string(&mut s)
        .map_err(|e| err(e.to_string()))?;
    if s.len() as u64 > INPUT_CAP {
        return Err(err(format!("larger than {INPUT_CAP} bytes")));
    }
    Ok(s)
}

/// Why a signature does not prove the artifact: one variant per reason,
/// each with a stable [`label`](SignatureError::label) for metrics.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The verified certificate's identity is not the one required.
    #[error("identity mismatch: certificate identity {got:?} does not match {want}")]
    IdentityMismatch {
        /// The required identity.
        want: String,
        /// The certificate's identity, or `(none)`.
        got: String,
    },
    /// The verified certificate's OIDC issuer is not the one required.
    #[error("issuer mismatch: certificate issuer {got:?} does not match {want}")]
    IssuerMismatch {
        /// The required issuer.
        want: String,
        /// The certificate's issuer, or `(none)`.
        got: String,
    },
    /// The signature does not verify over the artifact with the key.
    #[error("bad signature: {0}")]
    BadSignature(String),
    /// The bundle is about another artifact (its digest differs).
    #[error("artifact mismatch: {0}")]
    ArtifactMismatch(String),
    /// The certificate had expired at the verified signing time.
    #[error("certificate expired at signing time: {0}")]
    CertificateExpired(String),
    /// The certificate was not yet valid at the verified signing time.
    #[error("certificate not yet valid at signing time: {0}")]
    CertificateNotYetValid(String),
    /// The certificate does not chain to a trusted CA, or is malformed.
    #[error("certificate chain invalid: {0}")]
    CertificateChain(String),
    /// The certificate carries no valid SCT from a trusted CT log.
    #[error("no valid SCT: {0}")]
    Sct(String),
    /// The bundle's log entry names a log the trust root does not have.
    #[error("unknown transparency log: {0}")]
    UnknownLog(String),
    /// The Merkle inclusion proof does not lead to the checkpoint's root.
    #[error("inclusion proof invalid: {0}")]
    InclusionProof(String),
    /// The checkpoint is not signed by the log, or does not match the proof.
    #[error("checkpoint invalid: {0}")]
    Checkpoint(String),
    /// The Signed Entry Timestamp (inclusion promise) does not verify.
    #[error("SET invalid: {0}")]
    Set(String),
    /// The log entry is not about this signature, key or artifact.
    #[error("log entry mismatch: {0}")]
    LogEntryMismatch(String),
    /// The integrated time is in the future or outside the certificate.
    #[error("integrated time invalid: {0}")]
    IntegratedTime(String),
    /// The log entry cannot be parsed or is of an unsupported kind.
    #[error("log entry malformed: {0}")]
    LogEntryMalformed(String),
    /// The trust root requires a transparency-log entry and there is none.
    #[error("no transparency log entry: {0}")]
    NoLogEntry(String),
    /// An RFC 3161 timestamp does not verify.
    #[error("timestamp invalid: {0}")]
    Timestamp(String),
    /// No verified signing time: nothing dates the short-lived certificate.
    #[error("no verified signing time: {0}")]
    NoSignedTime(String),
    /// The signature's kind does not fit the signer (a key where a
    /// certificate is required, or the reverse).
    #[error("wrong kind of signature: {0}")]
    SignerKind(String),
    /// The bundle is inconsistent or malformed.
    #[error("malformed bundle: {0}")]
    MalformedBundle(String),
    /// The bundle, key or algorithm is one goward cannot verify.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The trust root cannot verify this bundle.
    #[error("trust root: {0}")]
    TrustRoot(String),
    /// A check the trust root demands did not run (defence in depth: the
    /// library said yes without having checked it).
    #[error("not verified: {0}")]
    NotVerified(&'static str),
    /// Any other failure the library reports.
    #[error("verification failed: {0}")]
    Other(String),
}

impl SignatureError {
    /// Stable label for metrics (`reason="…"`); never changes meaning.
    pub fn label(&self) -> &'static str {
        match self {
            SignatureError::IdentityMismatch { .. } => "identity_mismatch",
            SignatureError::IssuerMismatch { .. } => "issuer_mismatch",
            SignatureError::BadSignature(_) => "bad_signature",
            SignatureError::ArtifactMismatch(_) => "artifact_mismatch",
            SignatureError::CertificateExpired(_) => "certificate_expired",
            SignatureError::CertificateNotYetValid(_) => "certificate_not_yet_valid",
            SignatureError::CertificateChain(_) => "certificate_chain",
            SignatureError::Sct(_) => "sct",
            SignatureError::UnknownLog(_) => "unknown_log",
            SignatureError::InclusionProof(_) => "inclusion_proof",
            SignatureError::Checkpoint(_) => "checkpoint",
            SignatureError::Set(_) => "set",
            SignatureError::LogEntryMismatch(_) => "log_entry_mismatch",
            SignatureError::IntegratedTime(_) => "integrated_time",
            SignatureError::LogEntryMalformed(_) => "log_entry_malformed",
            SignatureError::NoLogEntry(_) => "no_log_entry",
            SignatureError::Timestamp(_) => "timestamp",
            SignatureError::NoSignedTime(_) => "no_signed_time",
            SignatureError::SignerKind(_) => "signer_kind",
            SignatureError::MalformedBundle(_) => "malformed_bundle",
            SignatureError::Unsupported(_) => "unsupported",
            SignatureError::TrustRoot(_) => "trust_root",
            SignatureError::NotVerified(_) => "not_verified",
            SignatureError::Other(_) => "other",
        }
    }
}

impl From<sigstore_verify::Error> for SignatureError {
    fn from(e: sigstore_verify::Error) -> SignatureError {
        use sigstore_verify::Error as E;
        let s = e.to_string();
        match e {
            // Not raised while goward matches identities itself (the
            // library runs with any_identity()), mapped for completeness.
            E::IdentityMismatch { expected, actual } => SignatureError::IdentityMismatch {
                want: format!("{:?}", expected.to_string()),
                got: actual.map_or_else(|| "(none)".into(), |a| a.to_string()),
            },
            E::IssuerMismatch { expected, actual } => SignatureError::IssuerMismatch {
                want: format!("{expected:?}"),
                got: actual.unwrap_or_else(|| "(none)".into()),
            },
            E::SignatureInvalid(d) => SignatureError::BadSignature(d),
            E::ArtifactMismatch(d) => SignatureError::ArtifactMismatch(d),
            E::UnsupportedArtifact(d) | E::UnsupportedBundle(d) => SignatureError::Unsupported(d),
            E::Certificate(c) => match c {
                CertificateError::Expired { .. } => SignatureError::CertificateExpired(s),
                CertificateError::NotYetValid { .. } => SignatureError::CertificateNotYetValid(s),
                CertificateError::Sct(d) => SignatureError::Sct(d),
                // The chain is validated at the signed time by webpki, whose
                // expiry reasons arrive only as text inside ChainInvalid.
                CertificateError::ChainInvalid(d) if d.contains("CertExpired") => {
                    SignatureError::CertificateExpired(d)
                }
                CertificateError::ChainInvalid(d) if d.contains("CertNotValidYet") => {
                    SignatureError::CertificateNotYetValid(d)
                }
                _ => SignatureError::CertificateChain(s),
            },
            E::TransparencyLog(t) => match t {
                TransparencyLogError::UnknownLog { log_id } => SignatureError::UnknownLog(log_id),
                TransparencyLogError::InclusionProof(d) => SignatureError::InclusionProof(d),
                TransparencyLogError::Checkpoint(d) => SignatureError::Checkpoint(d),
                TransparencyLogError::InclusionPromise(d) => SignatureError::Set(d),
                TransparencyLogError::EntryMismatch(d) => SignatureError::LogEntryMismatch(d),
                TransparencyLogError::IntegratedTime(d) => SignatureError::IntegratedTime(d),
                TransparencyLogError::MalformedEntry(d) => SignatureError::LogEntryMalformed(d),
                _ => SignatureError::Other(s),
            },
            E::Timestamp(t) => match t {
                TimestampError::NoVerifiedTimestamp(d) => SignatureError::NoSignedTime(d),
                _ => SignatureError::Timestamp(s),
            },
            E::InvalidBundle(d) => SignatureError::MalformedBundle(d),
            E::Bundle(_) | E::Types(_) => SignatureError::MalformedBundle(s),
            E::InvalidTrustRoot(_) | E::TrustRoot(_) | E::TrustedCertificate(_) => {
                SignatureError::TrustRoot(s)
            }
            _ => SignatureError::Other(s),
        }
    }
}

/// Every reason a signature was refused, in the order found (identity and
/// issuer are both reported when both differ). Never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected(pub Vec<SignatureError>);

impl From<SignatureError> for Rejected {
    fn from(e: SignatureError) -> Rejected {
        Rejected(vec![e])
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Rejected {}

/// Verifies that `input` is a valid signature by `signer` over `message`,
/// against `root`. Fail closed: anything not positively verified is an error.
pub(crate) fn verify(
    message: Message<'_>,
    input: &SignatureInput,
    signer: &Signer,
    root: &TrustRoot,
) -> Result<Verified, Rejected> {
    crypto::install();
    match input {
        SignatureInput::KeySignature(sig) => verify_bare(message, sig, signer),
        SignatureInput::Bundle(bundle) => verify_bundle(message, bundle, signer, root),
    }
}

/// A bare `.sig`: a signature and nothing else, so only a key can vouch for
/// it, and there is no log entry and no signed time to report.
fn verify_bare(
    message: Message<'_>,
    sig: &SignatureBytes,
    signer: &Signer,
) -> Result<Verified, Rejected> {
    use sigstore_verify::crypto::KeyAlgorithm;
    let Signer::Key(key) = signer else {
        return Err(SignatureError::SignerKind(
            "a bare signature has no certificate, log entry or signed time; keyless \
             signatures need a bundle"
                .into(),
        )
        .into());
    };
    let scheme = key.algorithm.default_signing_scheme();
    let result = match (message, key.algorithm) {
        (Message::Bytes(b), _) => {
            sigstore_verify::crypto::verify_signature(&key.der, b, sig, scheme)
        }
        (Message::Digest(_), KeyAlgorithm::Ed25519) => {
            return Err(SignatureError::Unsupported(
                "an Ed25519 signature needs the whole artifact, not its digest".into(),
            )
            .into());
        }
        (Message::Digest(d), _) => {
            sigstore_verify::crypto::verify_signature_prehashed(&key.der, d, sig, scheme)
        }
    };
    result.map_err(|e| match e {
        // RSA over a digest (ring has none) or ML-DSA: say so, not "bad".
        sigstore_verify::crypto::Error::UnsupportedAlgorithm(d) => SignatureError::Unsupported(d),
        e => SignatureError::BadSignature(e.to_string()),
    })?;
    Ok(Verified {
        identity: None,
        issuer: None,
        log_index: None,
        signed_time: None,
        // The key alone vouches; no root was consulted.
        trust_root: "(none: key)".into(),
        tlog_verified: false,
        sct_verified: false,
    })
}

fn verify_bundle(
    message: Message<'_>,
    bundle: &Bundle,
    signer: &Signer,
    root: &TrustRoot,
) -> Result<Verified, Rejected> {
    let keyless = matches!(signer, Signer::Keyless { .. });
    let has_cert = bundle.signing_certificate().is_some();
    if keyless && !has_cert {
        return Err(SignatureError::SignerKind(
            "the bundle is signed with a key, but a certificate identity is required".into(),
        )
        .into());
    }
    if !keyless && has_cert {
        return Err(SignatureError::SignerKind(
            "the bundle carries a certificate, but a key is required".into(),
        )
        .into());
    }
    let entries = &bundle.verification_material.tlog_entries;
    if root.verify_tlog && entries.is_empty() {
        return Err(SignatureError::NoLogEntry(format!(
            "trusted root {} requires a transparency log entry",
            root.name
        ))
        .into());
    }
    let digest;
    let artifact: sigstore_verify::types::Artifact<'_> = match message {
        Message::Digest(d) => {
            digest = Sha256Hash::new(*d);
            digest.into()
        }
        Message::Bytes(b) => b.into(),
    };
    let result = match signer {
        Signer::Keyless { .. } => {
            let mut policy = VerificationPolicy::any_identity();
            if !root.verify_tlog {
                policy = policy.skip_tlog_unsafe();
            }
            if !root.verify_sct {
                policy = policy.skip_sct();
            }
            root.verifier.verify(artifact, bundle, &policy)
        }
        Signer::Key(key) => {
            let mut policy = PublicKeyVerificationPolicy::new(key.der.clone());
            if !root.verify_tlog {
                policy = policy.skip_tlog_unsafe();
            }
            root.verifier.verify(artifact, bundle, &policy)
        }
    }
    .map_err(SignatureError::from)?;

    // What the root demands must have been checked, whatever the library
    // decided about this bundle.
    if root.verify_tlog && !result.tlog_verified() {
        return Err(SignatureError::NotVerified("transparency log").into());
    }
    if keyless && !result.certificate_verified() {
        return Err(SignatureError::NotVerified("certificate chain").into());
    }
    if keyless && root.verify_sct && !result.sct_verified() {
        return Err(SignatureError::NotVerified("SCT").into());
    }
    if keyless && result.verified_timestamps().is_empty() {
        return Err(SignatureError::NoSignedTime(
            "no SET-signed log time and no RFC 3161 timestamp".into(),
        )
        .into());
    }

    let identity = result.identity().map(|i| i.as_str().to_owned());
    let issuer = result.issuer().map(str::to_owned);
    if let Signer::Keyless {
        identity: want_id,
        issuer: want_iss,
    } = signer
    {
        let mut reasons = Vec::new();
        if !identity.as_deref().is_some_and(|i| want_id.matches(i)) {
            reasons.push(SignatureError::IdentityMismatch {
                want: want_id.to_string(),
                got: identity.clone().unwrap_or_else(|| "(none)".into()),
            });
        }
        if !issuer.as_deref().is_some_and(|i| want_iss.matches(i)) {
            reasons.push(SignatureError::IssuerMismatch {
                want: want_iss.to_string(),
                got: issuer.clone().unwrap_or_else(|| "(none)".into()),
            });
        }
        if !reasons.is_empty() {
            return Err(Rejected(reasons));
        }
    }
    Ok(Verified {
        identity,
        issuer,
        log_index: entries.first().map(|e| e.log_index.get()),
        signed_time: result
            .verified_timestamps()
            .iter()
            .min()
            .map(|t| t.to_string()),
        trust_root: root.name.clone(),
        tlog_verified: result.tlog_verified(),
        sct_verified: result.sct_verified(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn testdata(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/sigstore")
            .join(name)
    }

    fn sha256(path: &Path) -> [u8; 32] {
        use sha2::Digest as _;
        sha2::Sha256::digest(std::fs::read(path).unwrap()).into()
    }

    fn fake_root() -> TrustRoot {
        TrustRoot::from_file(&testdata("trusted_root.json")).unwrap()
    }

    fn keyless(identity: Matcher) -> Signer {
        Signer::Keyless {
            identity,
            issuer: Matcher::Exact("https://token.actions.githubusercontent.com".into()),
        }
    }

    const ID: &str =
        "https://github.com/example/mod/.github/workflows/release.yml@refs/tags/v1.2.3";

    fn bundle(name: &str) -> SignatureInput {
        SignatureInput::bundle_from_json(&std::fs::read_to_string(testdata(name)).unwrap()).unwrap()
    }

    #[test]
    fn regexes_are_anchored() {
        let m = Matcher::regex("https://github.com/example/.*").unwrap();
        assert!(m.matches("https://github.com/example/mod"));
        assert!(!m.matches("evil https://github.com/example/mod"));
        let m = Matcher::regex("example").unwrap();
        assert!(!m.matches("https://github.com/example/mod"));
        // An alternation cannot escape the anchors.
        let m = Matcher::regex("a|b").unwrap();
        assert!(m.matches("a") && m.matches("b") && !m.matches("ab") && !m.matches("xb"));
        assert!(Matcher::regex("(").is_err());
    }

    #[test]
    fn labels_are_unique() {
        let all = [
            SignatureError::BadSignature(String::new()),
            SignatureError::ArtifactMismatch(String::new()),
            SignatureError::CertificateExpired(String::new()),
            SignatureError::CertificateNotYetValid(String::new()),
            SignatureError::CertificateChain(String::new()),
            SignatureError::Sct(String::new()),
            SignatureError::UnknownLog(String::new()),
            SignatureError::InclusionProof(String::new()),
            SignatureError::Checkpoint(String::new()),
            SignatureError::Set(String::new()),
            SignatureError::LogEntryMismatch(String::new()),
            SignatureError::IntegratedTime(String::new()),
            SignatureError::LogEntryMalformed(String::new()),
            SignatureError::NoLogEntry(String::new()),
            SignatureError::Timestamp(String::new()),
            SignatureError::NoSignedTime(String::new()),
            SignatureError::SignerKind(String::new()),
            SignatureError::MalformedBundle(String::new()),
            SignatureError::Unsupported(String::new()),
            SignatureError::TrustRoot(String::new()),
            SignatureError::NotVerified(""),
            SignatureError::Other(String::new()),
        ];
        let mut labels: Vec<_> = all.iter().map(SignatureError::label).collect();
        labels.push(
            SignatureError::IdentityMismatch {
                want: String::new(),
                got: String::new(),
            }
            .label(),
        );
        labels.push(
            SignatureError::IssuerMismatch {
                want: String::new(),
                got: String::new(),
            }
            .label(),
        );
        let n = labels.len();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), n);
    }

    #[test]
    fn keyless_v03_verifies_from_the_digest() {
        let d = sha256(&testdata("artifact.zip"));
        let v = verify(
            Message::Digest(&d),
            &bundle("keyless.v03.sigstore.json"),
            &keyless(Matcher::Exact(ID.into())),
            &fake_root(),
        )
        .unwrap();
        assert_eq!(v.identity.as_deref(), Some(ID));
        assert!(v.tlog_verified && v.sct_verified);
        assert_eq!(v.log_index, Some(5));
        assert_eq!(v.signed_time.as_deref(), Some("2026-01-15T12:00:00Z"));
    }

    #[test]
    fn legacy_bundle_converts_and_verifies() {
        let d = sha256(&testdata("artifact.zip"));
        let v = verify(
            Message::Digest(&d),
            &bundle("artifact.zip.cosign.bundle"),
            &keyless(Matcher::regex("https://github.com/example/mod/.*").unwrap()),
            &fake_root(),
        )
        .unwrap();
        assert_eq!(v.identity.as_deref(), Some(ID));
    }

    #[test]
    fn identity_and_issuer_mismatch_are_both_reported() {
        let d = sha256(&testdata("artifact.zip"));
        let err = verify(
            Message::Digest(&d),
            &bundle("keyless.v03.sigstore.json"),
            &Signer::Keyless {
                identity: Matcher::Exact("someone@example.com".into()),
                issuer: Matcher::Exact("https://accounts.google.com".into()),
            },
            &fake_root(),
        )
        .unwrap_err();
        let labels: Vec<_> = err.0.iter().map(SignatureError::label).collect();
        assert_eq!(labels, ["identity_mismatch", "issuer_mismatch"]);
    }

    #[test]
    fn the_fake_instance_is_not_trusted_by_public_good() {
        let d = sha256(&testdata("artifact.zip"));
        let err = verify(
            Message::Digest(&d),
            &bundle("keyless.v03.sigstore.json"),
            &keyless(Matcher::Exact(ID.into())),
            &TrustRoot::embedded(Instance::PublicGood).unwrap(),
        )
        .unwrap_err();
        assert_eq!(err.0.len(), 1, "{err}");
    }

    #[test]
    fn real_public_good_bundle_with_tsa_timestamp() {
        let d = sha256(&testdata("cosign-v3-blob.txt"));
        let v = verify(
            Message::Digest(&d),
            &bundle("cosign-v3-blob.sigstore.json"),
            &Signer::Keyless {
                identity: Matcher::Exact("w.vollprecht@gmail.com".into()),
                issuer: Matcher::Exact("https://github.com/login/oauth".into()),
            },
            &TrustRoot::embedded(Instance::PublicGood).unwrap(),
        )
        .unwrap();
        assert!(v.tlog_verified && v.sct_verified);
    }

    /// GitHub's instance has no transparency log and no CT log, so its
    /// root verifies without them (time from its TSA); the public-good root,
    /// which lists both, refuses the same bundle. This certificate (GitHub's
    /// own release signer) carries no OIDC issuer at all: even `.*` does not
    /// match a claim that is absent.
    #[test]
    fn github_instance_attestation_verifies_without_a_log() {
        let mut d = [0u8; 32];
        let hex = "76f1fe8593bf227cca2c089e3c16dc95014a8d3e89c5dd220530469ca043c428";
        d.copy_from_slice(&hex_decode(hex).unwrap());
        let signer = Signer::Keyless {
            identity: Matcher::Exact("https://dotcom.releases.github.com".into()),
            issuer: Matcher::regex(".*").unwrap(),
        };
        let input = bundle("github-private-attestation.sigstore.json");
        let github = TrustRoot::embedded(Instance::GitHub).unwrap();
        let err = verify(Message::Digest(&d), &input, &signer, &github).unwrap_err();
        assert_eq!(
            err.0,
            [SignatureError::IssuerMismatch {
                want: "regexp \".*\"".into(),
                got: "(none)".into()
            }]
        );
        // Another artifact fails before any identity is looked at.
        let other = [0u8; 32];
        let err = verify(Message::Digest(&other), &input, &signer, &github).unwrap_err();
        assert_eq!(err.0[0].label(), "artifact_mismatch", "{err}");
        let public = TrustRoot::embedded(Instance::PublicGood).unwrap();
        let err = verify(Message::Digest(&d), &input, &signer, &public).unwrap_err();
        assert_eq!(err.0[0].label(), "no_log_entry", "{err}");
    }

    #[test]
    fn bare_key_signature() {
        let d = sha256(&testdata("artifact.zip"));
        let key = Signer::Key(PublicKey::from_file(&testdata("cosign.pub")).unwrap());
        let sig = SignatureInput::key_signature(
            &std::fs::read_to_string(testdata("artifact.zip.key.sig")).unwrap(),
        )
        .unwrap();
        verify(Message::Digest(&d), &sig, &key, &fake_root()).unwrap();
        let other = [0u8; 32];
        let err = verify(Message::Digest(&other), &sig, &key, &fake_root()).unwrap_err();
        assert_eq!(err.0[0].label(), "bad_signature");
        // A keyless signer never accepts a bare signature.
        let err = verify(
            Message::Digest(&d),
            &sig,
            &keyless(Matcher::Exact(ID.into())),
            &fake_root(),
        )
        .unwrap_err();
        assert_eq!(err.0[0].label(), "signer_kind");
    }

    #[test]
    fn legacy_conversion_matches_the_python_reference() {
        // legacy_to_v01.py writes the same fields; the bundle parses and
        // carries the SET and the digest from the logged body.
        let SignatureInput::Bundle(b) = bundle("artifact.zip.cosign.bundle") else {
            panic!("not a bundle");
        };
        let e = &b.verification_material.tlog_entries[0];
        assert!(e.inclusion_promise.is_some() && e.inclusion_proof.is_none());
        assert_eq!(e.log_index.get(), 5);
        assert!(matches!(
            b.verification_material.content,
            sigstore_verify::types::bundle::VerificationMaterialContent::X509CertificateChain { .. }
        ));
    }
}
