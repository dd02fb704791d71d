//! `goward verify-blob`: cosign's `verify-blob`, offline, with the same flag
//! names, so a pipeline swaps `cosign` for `goward` and keeps its flags.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use sha2::Digest as _;

use super::{
    InputError, Instance, MESSAGE_CAP, Matcher, Message, PublicKey, SignatureInput, Signer,
    TrustRoot, Verified,
};

const AFTER_LONG_HELP: &str = "\
Inputs:
  --bundle B             a Sigstore bundle (v0.1, v0.2, v0.3; keyless or key-based), or
                         cosign's legacy bundle {base64Signature, cert, rekorBundle}
  --signature SIG --key PUB
                         a bare key-based signature (base64 DER, cosign sign-blob --key)
  A keyless .sig with its .crt/.pem but no bundle has no signed time (nothing dates the
  10-minute certificate) and no log proof: it cannot be verified offline. Sign with
  'cosign sign-blob --bundle' instead.

Keyless signatures need an identity (--certificate-identity or
--certificate-identity-regexp) and an issuer (--certificate-oidc-issuer or
--certificate-oidc-issuer-regexp). Regexps must match the whole value (they are anchored
^(?:RE)$, unlike cosign's). The certificate chain, the SCT and the transparency-log proofs
(inclusion proof and checkpoint, or SET) are always checked when the trusted root lists
CT or transparency logs, as the Sigstore public-good root does.

Trusted root: the Sigstore public-good instance unless --trusted-root FILE
(trusted_root.json) or --instance github (GitHub's instance, which has no transparency
log: signed time comes from its timestamp authorities).

Exit status: 0 verified, 1 not verified (one line per reason on stderr), 2 usage or
unreadable input.";

/// Flags of `goward verify-blob` (cosign's names).
#[derive(Debug, Args)]
#[command(after_long_help = AFTER_LONG_HELP)]
pub struct VerifyBlobArgs {
    /// The signed file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Sigstore bundle, or cosign legacy bundle.
    #[arg(long, value_name = "FILE", conflicts_with = "signature")]
    pub bundle: Option<PathBuf>,
    /// Bare signature (base64 DER), with --key.
    #[arg(long, value_name = "FILE")]
    pub signature: Option<PathBuf>,
    /// Signing certificate of a bare keyless signature (refused: see below).
    /// Not with --bundle, whose own certificate is the one verified.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["key", "bundle"])]
    pub certificate: Option<PathBuf>,
    /// Required certificate identity (SAN), exactly.
    #[arg(
        long,
        value_name = "ID",
        conflicts_with_all = ["certificate_identity_regexp", "key"]
    )]
    pub certificate_identity: Option<String>,
    /// Required certificate identity, as an anchored regexp.
    #[arg(long, value_name = "RE", conflicts_with = "key")]
    pub certificate_identity_regexp: Option<String>,
    /// Required OIDC issuer, exactly.
    #[arg(
        long,
        value_name = "ISSUER",
        conflicts_with_all = ["certificate_oidc_issuer_regexp", "key"]
    )]
    pub certificate_oidc_issuer: Option<String>,
    /// Required OIDC issuer, as an anchored regexp.
    #[arg(long, value_name = "RE", conflicts_with = "key")]
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// Public key (PEM) for key-based signatures.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// trusted_root.json of the Sigstore instance [default: the embedded public-good root].
    #[arg(long, value_name = "FILE", conflicts_with = "instance")]
    pub trusted_root: Option<PathBuf>,
    /// Embedded trusted root to use: public-good or github.
    #[arg(long, value_name = "NAME")]
    pub instance: Option<String>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Why the command could not even try (exit 2).
enum Usage {
    Message(String),
    Input(InputError),
}

impl From<InputError> for Usage {
    fn from(e: InputError) -> Usage {
        Usage::Input(e)
    }
}

/// Runs `goward verify-blob`.
pub(crate) fn run(args: &VerifyBlobArgs) -> ExitCode {
    let prepared = match prepare(args) {
        Ok(p) => p,
        Err(Usage::Message(m)) => {
            eprintln!("goward: {m}");
            return ExitCode::from(2);
        }
        Err(Usage::Input(e)) => {
            eprintln!("goward: {e}");
            return ExitCode::from(2);
        }
    };
    let (input, signer, root) = prepared;
    let need_bytes = super::needs_message(&input, &signer);
    let file = match read_artifact(&args.file, need_bytes) {
        Ok(f) => f,
        Err(m) => {
            eprintln!("goward: {m}");
            return ExitCode::from(2);
        }
    };
    let message = match &file {
        Artifact::Digest(d) => Message::Digest(d),
        Artifact::Bytes(b) => Message::Bytes(b),
    };
    match super::verify(message, &input, &signer, &root) {
        Ok(v) => {
            report_ok(&v, args.json);
            ExitCode::SUCCESS
        }
        Err(rejected) => {
            for e in &rejected.0 {
                eprintln!("{e}");
            }
            if args.json {
                let reasons: Vec<_> = rejected
                    .0
                    .iter()
                    .map(|e| serde_json::json!({"reason": e.label(), "message": e.to_string()}))
                    .collect();
                let doc = serde_json::json!({"verified": false, "reasons": reasons});
                crate::outln!("{doc:#}");
            }
            ExitCode::from(1)
        }
    }
}

fn report_ok(v: &Verified, json: bool) {
    if json {
        let mut doc = serde_json::to_value(v).unwrap_or_default();
        if let Some(o) = doc.as_object_mut() {
            o.insert("verified".into(), true.into());
        }
        crate::outln!("{doc:#}");
        return;
    }
    crate::outln!("Verified OK");
    match (&v.identity, &v.issuer) {
        (Some(id), issuer) => {
            crate::outln!("identity: {id}");
            crate::outln!("issuer: {}", issuer.as_deref().unwrap_or("(none)"));
        }
        (None, _) => crate::outln!("signer: key"),
    }
    match v.log_index {
        Some(i) => crate::outln!("log index: {i}"),
        None => crate::outln!("log index: (no log entry)"),
    }
    crate::outln!(
        "signed time: {}",
        v.signed_time.as_deref().unwrap_or("(none)")
    );
    crate::outln!("trusted root: {}", v.trust_root);
}

fn prepare(args: &VerifyBlobArgs) -> Result<(SignatureInput, Signer, TrustRoot), Usage> {
    let usage = |m: &str| Usage::Message(m.to_owned());
    let signer = match &args.key {
        Some(k) => Signer::Key(PublicKey::from_file(k)?),
        None => {
            let identity = match (
                &args.certificate_identity,
                &args.certificate_identity_regexp,
            ) {
                (Some(id), None) => Matcher::Exact(id.clone()),
                (None, Some(re)) => Matcher::regex(re)?,
                _ => {
                    return Err(usage(
                        "keyless verification needs --certificate-identity or \
                         --certificate-identity-regexp (or --key for a key-based signature)",
                    ));
                }
            };
            let issuer = match (
                &args.certificate_oidc_issuer,
                &args.certificate_oidc_issuer_regexp,
            ) {
                (Some(iss), None) => Matcher::Exact(iss.clone()),
                (None, Some(re)) => Matcher::regex(re)?,
                _ => {
                    return Err(usage(
                        "keyless verification needs --certificate-oidc-issuer or \
                         --certificate-oidc-issuer-regexp",
                    ));
                }
            };
            Signer::Keyless { identity, issuer }
        }
    };
    let input = match (&args.bundle, &args.signature) {
        (Some(b), None) => SignatureInput::bundle_from_json(&read_small(b, "bundle")?)?,
        (None, Some(s)) => {
            if args.key.is_none() {
                return Err(usage(&format!(
                    "{} is a bare keyless signature{}: it has no signed time and no \
                     transparency-log proof, so it cannot be verified offline; verify the \
                     bundle instead (cosign sign-blob --bundle), or pass --key for a \
                     key-based signature",
                    s.display(),
                    args.certificate
                        .as_ref()
                        .map(|c| format!(" with certificate {}", c.display()))
                        .unwrap_or_default(),
                )));
            }
            SignatureInput::key_signature(&read_small(s, "signature")?)?
        }
        _ => return Err(usage("give --bundle B, or --signature SIG with --key PUB")),
    };
    let root = match (&args.trusted_root, &args.instance) {
        (Some(path), _) => TrustRoot::from_file(path)?,
        (None, Some(name)) => {
            let instance = Instance::from_name(name).ok_or_else(|| {
                usage(&format!(
                    "unknown --instance {name:?}: use public-good or github"
                ))
            })?;
            TrustRoot::embedded(instance)?
        }
        (None, None) => TrustRoot::embedded(Instance::PublicGood)?,
    };
    Ok((input, signer, root))
}

fn read_small(path: &Path, what: &'static str) -> Result<String, InputError> {
    super::read_text(path, what)
}

/// The artifact: its SHA-256, read in one streaming pass, or its bytes
/// (capped) for a scheme that signs the whole message.
enum Artifact {
    Digest([u8; 32]),
    Bytes(Vec<u8>),
}

fn read_artifact(path: &Path, need_bytes: bool) -> Result<Artifact, String> {
    let err = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let mut f = std::fs::File::open(path).map_err(err)?;
    if need_bytes {
        let mut buf = Vec::new();
        (&mut f)
            .take(MESSAGE_CAP + 1)
            .read_to_end(&mut buf)
            .map_err(err)?;
        if buf.len() as u64 > MESSAGE_CAP {
            return Err(format!(
                "{}: an Ed25519 signature needs the whole file in memory, and it is larger \
                 than {MESSAGE_CAP} bytes",
                path.display()
            ));
        }
        return Ok(Artifact::Bytes(buf));
    }
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(err)?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
    }
    Ok(Artifact::Digest(hasher.finalize().into()))
}
