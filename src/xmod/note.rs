//! Signed notes, as used by the Go checksum database for its tree heads.
//!
//! A port of `golang.org/x/mod/sumdb/note` (the copy vendored in the Go
//! distribution, `src/cmd/vendor/golang.org/x/mod/sumdb/note/note.go`), reduced
//! to what a verifying proxy needs: [`open`] checks a note against *one*
//! trusted key, and [`sign`] exists so tests can run a fake checksum database.
//!
//! A signed note is a text ending in `\n`, a blank line, then one or more
//! signature lines `"— <name> <base64(keyhash ‖ ed25519 signature)>\n"`.

use std::collections::HashSet;
use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use ed25519_dalek::{
    Signature as Ed25519Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey,
};
use sha2::{Digest as _, Sha256};

/// Go's `base64.StdEncoding`: padded, and (unlike the `base64` crate's default)
/// lenient about non-zero trailing bits, so we accept exactly what Go accepts.
const GO_STD_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// The only key algorithm defined by note.go (`algEd25519`).
const ALG_ED25519: u8 = 1;

/// note.go `Open`: "Avoid spending forever parsing a note with many signatures."
const MAX_SIGNATURES: usize = 100;

/// Signature line prefix: U+2014 EM DASH, then a space.
const SIG_PREFIX: &str = "— ";

/// Everything that can go wrong with keys and notes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteError {
    /// The message is not a well-formed signed note (note.go `errMalformedNote`).
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// The trusted key signed the note, but the signature does not verify
    /// (note.go `InvalidSignatureError`). This is an attack or corruption, never benign.
    #[error("invalid signature for key {name}+{hash:08x}")]
    InvalidSignature {
        /// Key name from the signature line.
        name: String,
        /// Key hash from the signature bytes.
        hash: u32,
    },
    /// The note is well formed but carries no signature by the trusted key
    /// (note.go `UnverifiedNoteError`).
    #[error(
        "note has no verifiable signatures: want a signature by {trusted}, found {}",
        found_list(.found)
    )]
    Unverified {
        /// The trusted key, as `name+hash`.
        trusted: String,
        /// The keys that did sign, as `name+hash`.
        found: Vec<String>,
    },
    /// A verifier or signer key does not parse (note.go `errVerifierID`,
    /// `errVerifierHash`, `errVerifierAlg`). Never contains key material.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// A signer's name cannot appear in a note (note.go `errInvalidSigner`).
    #[error("invalid signer: name {0:?} is empty or contains a space or '+'")]
    InvalidSigner(String),
}

fn found_list(found: &[String]) -> String {
    if found.is_empty() {
        "no signatures".to_string()
    } else {
        found.join(", ")
    }
}

/// note.go `keyHash`: the first four bytes (big-endian) of
/// SHA-256(name ‖ "\n" ‖ algorithm byte ‖ public key).
fn key_hash(name: &str, key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update(key);
    let sum: [u8; 32] = h.finalize().into();
    let [a, b, c, d, ..] = sum;
    u32::from_be_bytes([a, b, c, d])
}

/// note.go `isValidName`: non-empty, no Unicode white space, no '+'.
/// (Rust's `char::is_whitespace` is the Unicode White_Space property, the same
/// set as Go's `unicode.IsSpace`.)
fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

/// Parses the 8-hex-digit key hash field (`strconv.ParseUint(hash16, 16, 32)`
/// with `len(hash16) == 8`).
fn parse_hash16(hash16: &str) -> Option<u32> {
    if hash16.len() != 8 || !hash16.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(hash16, 16).ok()
}

/// A public key that can verify notes (note.go `NewVerifier`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    hash: u32,
    key: VerifyingKey,
}

impl Verifier {
    /// Parses a verifier key `<name>+<hash8hex>+<base64(0x01 ‖ ed25519 public key)>`,
    /// for example the value of `GOSUMDB`.
    ///
    /// Rules from note.go `NewVerifier`; like Go, the key hash is checked before
    /// the algorithm byte. One deliberate difference: Go accepts 32 bytes that are
    /// not a curve point and then fails every signature; we reject such a key
    /// here, where the mistake can be named.
    pub fn parse(vkey: &str) -> Result<Verifier, NoteError> {
        let bad = |why: &str| NoteError::InvalidKey(format!("malformed verifier id: {why}"));
        let (name, rest) = vkey.split_once('+').unwrap_or((vkey, ""));
        let (hash16, key64) = rest.split_once('+').unwrap_or((rest, ""));
        if !is_valid_name(name) {
            return Err(bad("the name must be non-empty with no spaces or '+'"));
        }
        let hash = parse_hash16(hash16).ok_or_else(|| bad("the key hash must be 8 hex digits"))?;
        let key = GO_STD_BASE64
            .decode(key64)
            .map_err(|_| bad("the key is not valid base64"))?;
        if key.is_empty() {
            return Err(bad("the key is empty"));
        }
        let computed = key_hash(name, &key);
        if computed != hash {
            return Err(NoteError::InvalidKey(format!(
                "invalid verifier hash: the key says {hash:08x} but {name}'s key data hashes to {computed:08x}"
            )));
        }
        let Some((&alg, public)) = key.split_first() else {
            return Err(bad("the key is empty"));
        };
        if alg != ALG_ED25519 {
            return Err(NoteError::InvalidKey(format!(
                "unknown verifier algorithm {alg} (only 1, Ed25519, is defined)"
            )));
        }
        let public: &[u8; 32] = public
            .try_into()
            .map_err(|_| bad("an Ed25519 public key must be 32 bytes"))?;
        let key = VerifyingKey::from_bytes(public)
            .map_err(|_| bad("the Ed25519 public key is not a valid curve point"))?;
        Ok(Verifier {
            name: name.to_string(),
            hash,
            key,
        })
    }

    /// The server name, e.g. `sum.golang.org`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 32-bit key hash that signatures by this key start with.
    pub fn key_hash(&self) -> u32 {
        self.hash
    }

    /// Go's `crypto/ed25519.Verify`: cofactorless, canonical S, R compared
    /// byte-wise; small-order keys and R are *not* rejected. That is
    /// ed25519-dalek's plain `verify`, not `verify_strict` (which rejects
    /// signatures Go accepts).
    ///
    /// The same signed tree note is verified again and again (every lookup
    /// and every stored record's re-check carries the head's note), so the
    /// digests of the last few (key, signature, message) triples that
    /// verified are remembered: a hit binds all three by SHA-256.
    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        use sha2::Digest as _;
        let Ok(sig) = <&[u8; 64]>::try_from(sig) else {
            return false;
        };
        let mut h = sha2::Sha256::new();
        h.update(self.key.as_bytes());
        h.update(sig);
        h.update(msg);
        let digest: [u8; 32] = h.finalize().into();
        if VERIFIED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&digest)
        {
            return true;
        }
        let ok = self
            .key
            .verify(msg, &Ed25519Signature::from_bytes(sig))
            .is_ok();
        if ok {
            let mut v = VERIFIED.lock().unwrap_or_else(|e| e.into_inner());
            if v.len() >= VERIFIED_MEMO {
                v.remove(0);
            }
            v.push(digest);
        }
        ok
    }
}

/// How many verified signatures [`Verifier::verify`] remembers.
const VERIFIED_MEMO: usize = 16;

/// SHA-256 of (key, signature, message) of signatures that verified, oldest first.
static VERIFIED: std::sync::Mutex<Vec<[u8; 32]>> = std::sync::Mutex::new(Vec::new());

/// A private key that signs notes (note.go `NewSigner`). Test servers only.
#[derive(Clone)]
pub struct Signer {
    name: String,
    hash: u32,
    key: SigningKey,
}

impl fmt::Debug for Signer {
    // Never print the private key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("name", &self.name)
            .field("hash", &format_args!("{:08x}", self.hash))
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Parses a signer key `PRIVATE+KEY+<name>+<hash8hex>+<base64(0x01 ‖ seed)>`.
    /// The hash must match the public key derived from the seed.
    pub fn parse(skey: &str) -> Result<Signer, NoteError> {
        let bad = |why: &str| NoteError::InvalidKey(format!("malformed signer key: {why}"));
        let mut fields = skey.splitn(5, '+');
        let (priv1, priv2) = (fields.next(), fields.next());
        let name = fields.next().unwrap_or("");
        let hash16 = fields.next().unwrap_or("");
        let key64 = fields.next().unwrap_or("");
        if priv1 != Some("PRIVATE") || priv2 != Some("KEY") {
            return Err(bad("it must start with PRIVATE+KEY+"));
        }
        if !is_valid_name(name) {
            return Err(bad("the name must be non-empty with no spaces or '+'"));
        }
        let hash = parse_hash16(hash16).ok_or_else(|| bad("the key hash must be 8 hex digits"))?;
        let key = GO_STD_BASE64
            .decode(key64)
            .map_err(|_| bad("the key is not valid base64"))?;
        let Some((&alg, seed)) = key.split_first() else {
            return Err(bad("the key is empty"));
        };
        if alg != ALG_ED25519 {
            return Err(NoteError::InvalidKey(format!(
                "unknown signer algorithm {alg} (only 1, Ed25519, is defined)"
            )));
        }
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| bad("an Ed25519 seed must be 32 bytes"))?;
        let signer = Signer::from_seed(name, seed)?;
        if signer.hash != hash {
            return Err(NoteError::InvalidKey(format!(
                "invalid signer hash: the key says {hash:08x} but the derived public key hashes to {:08x}",
                signer.hash
            )));
        }
        Ok(signer)
    }

    /// Builds a signer for `name` from a 32-byte Ed25519 seed.
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Signer, NoteError> {
        if !is_valid_name(name) {
            return Err(NoteError::InvalidSigner(name.to_string()));
        }
        let key = SigningKey::from_bytes(&seed);
        let hash = key_hash(name, &Self::public_key_bytes(&key));
        Ok(Signer {
            name: name.to_string(),
            hash,
            key,
        })
    }

    fn public_key_bytes(key: &SigningKey) -> [u8; 33] {
        let mut out = [0u8; 33];
        out[0] = ALG_ED25519;
        out[1..].copy_from_slice(key.verifying_key().as_bytes());
        out
    }

    /// The public verifier key `name+hash+base64`, usable as `GOSUMDB`.
    pub fn verifier_key(&self) -> String {
        format!(
            "{}+{:08x}+{}",
            self.name,
            self.hash,
            GO_STD_BASE64.encode(Self::public_key_bytes(&self.key))
        )
    }

    /// The secret signer key `PRIVATE+KEY+name+hash+base64` (note.go `GenerateKey`).
    pub fn signer_key(&self) -> String {
        let mut key = [0u8; 33];
        key[0] = ALG_ED25519;
        key[1..].copy_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.hash,
            GO_STD_BASE64.encode(key)
        )
    }

    /// The matching verifier.
    pub fn verifier(&self) -> Verifier {
        Verifier {
            name: self.name.clone(),
            hash: self.hash,
            key: self.key.verifying_key(),
        }
    }

    /// The server name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The 32-bit key hash.
    pub fn key_hash(&self) -> u32 {
        self.hash
    }
}

/// Signs `text` (which must end in a newline) with each signer, in order
/// (note.go `Sign` for a note with no prior signatures).
pub fn sign(text: &str, signers: &[&Signer]) -> Result<Vec<u8>, NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed("the text does not end in a newline"));
    }
    let mut out = Vec::with_capacity(text.len().saturating_add(signers.len().saturating_mul(128)));
    out.extend_from_slice(text.as_bytes());
    out.push(b'\n');
    for s in signers {
        let mut raw = Vec::with_capacity(4 + 64);
        raw.extend_from_slice(&s.hash.to_be_bytes());
        raw.extend_from_slice(&s.key.sign(text.as_bytes()).to_bytes());
        out.extend_from_slice(SIG_PREFIX.as_bytes());
        out.extend_from_slice(s.name.as_bytes());
        out.push(b' ');
        out.extend_from_slice(GO_STD_BASE64.encode(&raw).as_bytes());
        out.push(b'\n');
    }
    Ok(out)
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// Key name.
    pub name: String,
    /// Key hash (the first four signature bytes, big-endian).
    pub hash: u32,
    /// The base64 signature exactly as it appeared in the note.
    pub base64: String,
}

/// An opened note: its text and its signatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The signed text, ending in a newline (the blank separator line excluded).
    pub text: String,
    /// Signatures that verified under the trusted key (exactly one: repeats are dropped).
    pub sigs: Vec<Signature>,
    /// Signatures by other keys, kept but not checked (identical repeats dropped).
    pub unverified_sigs: Vec<Signature>,
}

/// Opens the signed note `msg`, requiring a valid signature by `verifier`
/// (note.go `Open` with a one-key `VerifierList`).
///
/// All of Go's rules apply: the message must be valid UTF-8 with no control
/// characters but `\n`; the text ends at the *last* blank line; every line after
/// it is an em-dash signature line; more than 100 signatures is malformed;
/// signatures by unknown keys are kept as unverified; a signature by the trusted
/// key that fails is [`NoteError::InvalidSignature`] (repeats of the trusted key
/// after the first are ignored, as in Go); no verified signature is
/// [`NoteError::Unverified`].
pub fn open(msg: &[u8], verifier: &Verifier) -> Result<Note, NoteError> {
    let Ok(msg) = std::str::from_utf8(msg) else {
        return Err(NoteError::Malformed("it is not valid UTF-8"));
    };
    if msg.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::Malformed(
            "it contains an ASCII control character other than newline",
        ));
    }
    let Some(split) = msg.rfind("\n\n") else {
        return Err(NoteError::Malformed(
            "there is no blank line before the signatures",
        ));
    };
    let (text, sigs) = msg.split_at(split.saturating_add(1)); // split < msg.len()
    let mut sigs = sigs.get(1..).unwrap_or_default();
    if sigs.is_empty() {
        return Err(NoteError::Malformed("there are no signature lines"));
    }
    if !sigs.ends_with('\n') {
        return Err(NoteError::Malformed(
            "the last signature line does not end in a newline",
        ));
    }

    let mut note = Note {
        text: text.to_string(),
        sigs: Vec::new(),
        unverified_sigs: Vec::new(),
    };
    let mut seen_trusted = false;
    let mut seen_unverified: HashSet<&str> = HashSet::new();
    let mut num_sig = 0usize;
    while let Some((line, rest)) = sigs.split_once('\n') {
        sigs = rest;
        let Some(line) = line.strip_prefix(SIG_PREFIX) else {
            return Err(NoteError::Malformed(
                "a line after the blank line is not a signature (\"— name signature\")",
            ));
        };
        let (name, b64) = line.split_once(' ').unwrap_or((line, ""));
        let raw = match GO_STD_BASE64.decode(b64) {
            Ok(raw) if is_valid_name(name) && !b64.is_empty() && raw.len() >= 5 => raw,
            _ => {
                return Err(NoteError::Malformed(
                    "a signature line has a bad key name or signature encoding",
                ));
            }
        };
        let [a, b, c, d, sig @ ..] = raw.as_slice() else {
            return Err(NoteError::Malformed(
                "a signature line has a bad key name or signature encoding",
            ));
        };
        let hash = u32::from_be_bytes([*a, *b, *c, *d]);
        num_sig = num_sig.saturating_add(1);
        if num_sig > MAX_SIGNATURES {
            return Err(NoteError::Malformed("it has more than 100 signatures"));
        }

        if name != verifier.name || hash != verifier.hash {
            // Unknown key: keep, unverified; drop identical repeats.
            if seen_unverified.insert(line) {
                note.unverified_sigs.push(Signature {
                    name: name.to_string(),
                    hash,
                    base64: b64.to_string(),
                });
            }
            continue;
        }
        // Go drops repeated signatures by a known key without checking them.
        if seen_trusted {
            continue;
        }
        seen_trusted = true;
        if !verifier.verify(text.as_bytes(), sig) {
            return Err(NoteError::InvalidSignature {
                name: name.to_string(),
                hash,
            });
        }
        note.sigs.push(Signature {
            name: name.to_string(),
            hash,
            base64: b64.to_string(),
        });
    }

    if note.sigs.is_empty() {
        return Err(NoteError::Unverified {
            trusted: format!("{}+{:08x}", verifier.name, verifier.hash),
            found: note
                .unverified_sigs
                .iter()
                .map(|s| format!("{}+{:08x}", s.name, s.hash))
                .collect(),
        });
    }
    Ok(note)
}

#[cfg(test)]
#[allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
mod tests {
    //! Ported from x/mod v0.43.0 `sumdb/note/note_test.go` and `example_test.go`.
    use super::*;

    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
    const TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                        then you don't know what your problem is.\n";
    const PETER_SIG: &str = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
    const ENOCH_SIG: &str = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

    fn peter() -> Verifier {
        Verifier::parse(PETER_VKEY).unwrap()
    }
    fn enoch() -> Verifier {
        Verifier::parse(ENOCH_VKEY).unwrap()
    }
    fn sig(name: &str, hash: u32, b64: &str) -> Signature {
        Signature {
            name: name.into(),
            hash,
            base64: b64.into(),
        }
    }
    fn peter_signature() -> Signature {
        sig(
            "PeterNeumann",
            0xc74f20a3,
            "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        )
    }
    fn enoch_signature() -> Signature {
        sig(
            "EnochRoot",
            0xaf0cfe78,
            "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=",
        )
    }

    /// Every proper substring and every single-byte increment of `key` must be rejected.
    fn all_manglings(key: &str) -> Vec<Vec<u8>> {
        let b = key.as_bytes();
        let mut out = Vec::new();
        for i in 0..=b.len() {
            for j in i + 1..=b.len() {
                if i != 0 || j != b.len() {
                    out.push(b[i..j].to_vec());
                }
            }
        }
        for i in 0..b.len() {
            let mut m = b.to_vec();
            m[i] = m[i].wrapping_add(1);
            out.push(m);
        }
        out
    }

    #[test]
    fn new_verifier() {
        let v = peter();
        assert_eq!(v.name(), "PeterNeumann");
        assert_eq!(v.key_hash(), 0xc74f20a3);
        let mut n = 0;
        for m in all_manglings(PETER_VKEY) {
            // A mangling that is not UTF-8 cannot even be passed as &str; Go rejects it too.
            if let Ok(s) = std::str::from_utf8(&m) {
                assert!(
                    Verifier::parse(s).is_err(),
                    "Verifier::parse({s:?}) succeeded"
                );
                n += 1;
            }
        }
        assert!(n > 2000, "only {n} manglings tried");
        // Wrong length key, with adjusted key hash.
        let e = Verifier::parse(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid key: malformed verifier id: an Ed25519 public key must be 32 bytes"
        );
        // Unknown algorithm, with adjusted key hash.
        let e =
            Verifier::parse("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
                .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid key: unknown verifier algorithm 101 (only 1, Ed25519, is defined)"
        );
        let e =
            Verifier::parse("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
                .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid key: invalid verifier hash: the key says c74f20a4 but PeterNeumann's key data hashes to c74f20a3"
        );
    }

    #[test]
    fn sum_golang_org_key() {
        // cmd/go/internal/modfetch/key.go.
        let v =
            Verifier::parse("sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8")
                .unwrap();
        assert_eq!(v.name(), "sum.golang.org");
        assert_eq!(v.key_hash(), 0x033de0ae);
    }

    #[test]
    fn new_signer() {
        let s = Signer::parse(PETER_SKEY).unwrap();
        assert_eq!(s.name(), "PeterNeumann");
        assert_eq!(s.key_hash(), 0xc74f20a3);
        assert_eq!(s.verifier_key(), PETER_VKEY);
        assert_eq!(s.signer_key(), PETER_SKEY);
        assert_eq!(s.verifier(), peter());
        for m in all_manglings(PETER_SKEY) {
            if let Ok(k) = std::str::from_utf8(&m) {
                let e = Signer::parse(k).unwrap_err();
                // Errors must never echo the secret key.
                assert!(!e.to_string().contains("AYEKFALV"), "{e}");
            }
        }
        assert!(!format!("{s:?}").contains("AYEKFALV"));
    }

    #[test]
    fn signer_and_verifier_agree() {
        // note_test.go testSignerAndVerifier / TestFromEd25519, with a fixed seed.
        let s = Signer::from_seed("EnochRoot", [7u8; 32]).unwrap();
        let v = Verifier::parse(&s.verifier_key()).unwrap();
        assert_eq!(v.name(), "EnochRoot");
        assert_eq!(v.key_hash(), s.key_hash());
        assert_eq!(
            Signer::parse(&s.signer_key()).unwrap().verifier_key(),
            s.verifier_key()
        );
        let msg = sign("hi\n", &[&s]).unwrap();
        assert_eq!(open(&msg, &v).unwrap().text, "hi\n");
        assert!(matches!(
            Signer::from_seed("bad name", [7u8; 32]),
            Err(NoteError::InvalidSigner(_))
        ));
    }

    #[test]
    fn sign_golden() {
        let s = Signer::parse(PETER_SKEY).unwrap();
        let msg = sign(TEXT, &[&s]).unwrap();
        let want = format!("{TEXT}\n{PETER_SIG}");
        assert_eq!(String::from_utf8(msg).unwrap(), want);

        let e = sign("abc", &[&s]).unwrap_err();
        assert!(matches!(e, NoteError::Malformed(_)));
        assert!(e.to_string().starts_with("malformed note"));

        // Two signers, in order.
        let other = Signer::from_seed("EnochRoot", [1u8; 32]).unwrap();
        let msg = sign(TEXT, &[&s, &other]).unwrap();
        let n = open(&msg, &peter()).unwrap();
        assert_eq!(n.sigs, vec![peter_signature()]);
        assert_eq!(n.unverified_sigs.len(), 1);
        assert_eq!(
            open(&msg, &other.verifier()).unwrap().sigs[0].name,
            "EnochRoot"
        );
    }

    #[test]
    fn open_one_verified_one_not() {
        let msg = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        let n = open(msg.as_bytes(), &peter()).unwrap();
        assert_eq!(n.text, TEXT);
        assert_eq!(n.sigs, vec![peter_signature()]);
        assert_eq!(n.unverified_sigs, vec![enoch_signature()]);

        // The other key verifies as well (Go: "Check both verified", one key at a time here).
        let n = open(msg.as_bytes(), &enoch()).unwrap();
        assert_eq!(n.sigs, vec![enoch_signature()]);
        assert_eq!(n.unverified_sigs, vec![peter_signature()]);
    }

    #[test]
    fn open_unverified() {
        let msg = format!("{TEXT}\n{PETER_SIG}{ENOCH_SIG}");
        let other = Signer::from_seed("Other", [9u8; 32]).unwrap().verifier();
        let e = open(msg.as_bytes(), &other).unwrap_err();
        let NoteError::Unverified { trusted, found } = &e else {
            panic!("want Unverified, got {e:?}");
        };
        assert_eq!(trusted, &format!("Other+{:08x}", other.key_hash()));
        assert_eq!(found, &["PeterNeumann+c74f20a3", "EnochRoot+af0cfe78"]);
        assert!(
            e.to_string()
                .starts_with("note has no verifiable signatures")
        );

        // Same name, different key: still unknown, so unverified (not invalid).
        let impostor = Signer::from_seed("PeterNeumann", [3u8; 32])
            .unwrap()
            .verifier();
        assert!(matches!(
            open(format!("{TEXT}\n{PETER_SIG}").as_bytes(), &impostor),
            Err(NoteError::Unverified { .. })
        ));
    }

    #[test]
    fn open_too_many_signatures() {
        let msg = format!("{TEXT}\n{}", PETER_SIG.repeat(101));
        for v in [peter(), enoch()] {
            let e = open(msg.as_bytes(), &v).unwrap_err();
            assert_eq!(e, NoteError::Malformed("it has more than 100 signatures"));
        }
        // Exactly 100 is fine.
        let msg = format!("{TEXT}\n{}", PETER_SIG.repeat(100));
        assert_eq!(open(msg.as_bytes(), &peter()).unwrap().sigs.len(), 1);
    }

    #[test]
    fn open_invalid_signature() {
        let msg = format!("{TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
        let e = open(msg.as_bytes(), &peter()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid signature for key PeterNeumann+c74f20a3"
        );
        // A signature over a different text.
        let msg = format!("{}x\n\n{PETER_SIG}", TEXT.trim_end_matches('\n'));
        assert!(matches!(
            open(msg.as_bytes(), &peter()),
            Err(NoteError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn open_duplicates() {
        let enoch_abcd = format!("{}ABCD{}", &ENOCH_SIG[..60], &ENOCH_SIG[60..]);
        let msg = format!("{TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}{enoch_abcd}");
        let n = open(msg.as_bytes(), &peter()).unwrap();
        assert_eq!(n.sigs, vec![peter_signature()]);
        assert_eq!(
            n.unverified_sigs,
            vec![
                enoch_signature(),
                sig(
                    "EnochRoot",
                    0xaf0cfe78,
                    "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5nABCD2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ="
                )
            ]
        );
        // As in Go, a second (bad) signature by the trusted key after a good one is ignored.
        let bad = format!("{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
        let msg = format!("{TEXT}\n{PETER_SIG}{bad}");
        assert_eq!(open(msg.as_bytes(), &peter()).unwrap().sigs.len(), 1);
        // ...but a bad one first is fatal.
        let msg = format!("{TEXT}\n{bad}{PETER_SIG}");
        assert!(matches!(
            open(msg.as_bytes(), &peter()),
            Err(NoteError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn open_malformed() {
        let bad_msgs: Vec<Vec<u8>> = vec![
            TEXT.into(),
            format!("{TEXT}\n").into(),
            format!("{TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]).into(),
            format!("\x01{TEXT}\n{PETER_SIG}").into(),
            [b"\xff".as_slice(), format!("{TEXT}\n{PETER_SIG}").as_bytes()].concat(),
            format!("{TEXT}\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=").into(),
            format!("{TEXT}\n{PETER_SIG}Unexpected line.\n").into(),
            // More from the spec (go-protocol.md §2.3, attacks.md #5).
            format!("{TEXT}\n— PeterNeumann \n").into(),
            format!("{TEXT}\n— PeterNeumann AAAA\n").into(),
            format!("{TEXT}\n— PeterNeumann !!!!\n").into(),
            format!("{TEXT}\n- PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n").into(),
            format!("{TEXT}\r\n{PETER_SIG}").into(),
            format!("{TEXT}\n{PETER_SIG}\n").into(),
            format!("{TEXT}\n\t{PETER_SIG}").into(),
        ];
        for msg in bad_msgs {
            let e = open(&msg, &peter()).unwrap_err();
            assert!(
                matches!(e, NoteError::Malformed(_)),
                "{:?}: {e:?}",
                String::from_utf8_lossy(&msg)
            );
            assert!(e.to_string().starts_with("malformed note: "));
        }
    }

    #[test]
    fn open_splits_at_last_blank_line() {
        // The text may itself contain blank lines; the signature block starts
        // after the last one (so text with an embedded blank line is signed whole).
        let s = Signer::parse(PETER_SKEY).unwrap();
        let text = "a\n\nb\n";
        let msg = sign(text, &[&s]).unwrap();
        assert_eq!(open(&msg, &peter()).unwrap().text, text);
    }

    #[test]
    fn open_real_sum_golang_org_notes() {
        // Real tree heads signed by sum.golang.org (go-protocol.md §6.2).
        let v =
            Verifier::parse("sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8")
                .unwrap();
        let newer = "go.sum database tree\n28905453\nf3f8U0MoQmXkWAgAEKDtXcaI3c2y6N9+55KNSRefF/w=\n\n\
                     — sum.golang.org Az3grr4J9x4SApup87osjthKONInbYdbN37ZskrLF12HIbhDuxOBTzt8Z2jUKbCvxYWrw0yNgshddOzt7pZEl7aSCw8=\n";
        let older = "go.sum database tree\n28891140\n++pUIeKTwGvykMUkmM3AT97PwQipMT6H/p7t86E0Sp0=\n\n\
                     — sum.golang.org Az3grqNvOILDz7xwAKugtVFZwd+I9IyB/mHrUYzcVaS9zKsRVdRLNGLFpnAcLhyoBBkdIYEzK/+7Eu4wanYttLrPsQo=\n";
        for msg in [newer, older] {
            let n = open(msg.as_bytes(), &v).unwrap();
            assert!(n.text.starts_with("go.sum database tree\n"));
            // Altering the tree size breaks the signature.
            let forged = msg.replacen("28", "29", 1);
            assert!(matches!(
                open(forged.as_bytes(), &v),
                Err(NoteError::InvalidSignature { .. })
            ));
        }
    }
}
