//! The crypto behind `sigstore-verify`, from libraries goward already links.
//!
//! `sigstore-verify` is built without its default aws-lc-rs backend (a
//! second C crypto library beside rustls's `ring`, slow to build and a
//! cross-compilation hazard), so goward installs this provider: `ring` for
//! whole-message signatures (ECDSA, Ed25519, RSA: what rustls already
//! trusts in this binary), RustCrypto `p256`/`p384` for ECDSA over a digest
//! (ring has no prehashed ECDSA, and a Sigstore `hashedrekord` signature is
//! exactly that), `sha2` for hashing. Anything else (ML-DSA, RSA over a
//! digest) is refused, which fails verification closed.

use std::sync::OnceLock;

use ecdsa::signature::hazmat::PrehashVerifier;
use sha2::Digest as _;
use sigstore_verify::crypto::provider::{CryptoProvider, HashContext};
use sigstore_verify::crypto::{Error, Result, SigningScheme};
use sigstore_verify::types::HashAlgorithm;

/// Verification-only provider; key generation and signing keep the trait's
/// "unsupported" defaults.
#[derive(Debug)]
struct GowardCrypto;

static PROVIDER: GowardCrypto = GowardCrypto;

/// Installs goward's provider for the whole process, once. Every entry
/// point into `sigstore-verify` calls this first: without a provider the
/// library panics.
pub(crate) fn install() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        // Err means a provider is already installed: only this module
        // installs one, so it is ours.
        let _ = sigstore_verify::crypto::provider::install_default_provider(&PROVIDER);
    });
}

struct Hasher<D>(D);

impl<D: sha2::Digest + Send> HashContext for Hasher<D> {
    fn update(&mut self, data: &[u8]) {
        sha2::Digest::update(&mut self.0, data);
    }
    fn finalize(self: Box<Self>) -> Vec<u8> {
        self.0.finalize().to_vec()
    }
}

fn invalid(scheme: SigningScheme) -> Error {
    Error::Verification(format!("{} signature invalid", scheme.name()))
}

fn unsupported(scheme: SigningScheme, how: &str) -> Error {
    Error::UnsupportedAlgorithm(format!(
        "{} {how} is not supported by goward",
        scheme.name()
    ))
}

impl CryptoProvider for GowardCrypto {
    fn hash(&self, algorithm: HashAlgorithm) -> Result<Box<dyn HashContext>> {
        Ok(match algorithm {
            HashAlgorithm::Sha2256 => Box::new(Hasher(sha2::Sha256::new())),
            HashAlgorithm::Sha2384 => Box::new(Hasher(sha2::Sha384::new())),
            HashAlgorithm::Sha2512 => Box::new(Hasher(sha2::Sha512::new())),
            other => {
                return Err(Error::UnsupportedAlgorithm(format!(
                    "{other} is not supported by goward"
                )));
            }
        })
    }

    fn verify_raw(
        &self,
        scheme: SigningScheme,
        spki_pubkey_bytes: &[u8],
        data: &[u8],
        signature: &[u8],
    ) -> Result<()> {
        use ring::signature as rs;
        let alg: &'static dyn rs::VerificationAlgorithm = match scheme {
            SigningScheme::EcdsaP256Sha256 => &rs::ECDSA_P256_SHA256_ASN1,
            SigningScheme::EcdsaP256Sha384 => &rs::ECDSA_P256_SHA384_ASN1,
            SigningScheme::EcdsaP384Sha256 => &rs::ECDSA_P384_SHA256_ASN1,
            SigningScheme::EcdsaP384Sha384 => &rs::ECDSA_P384_SHA384_ASN1,
            SigningScheme::Ed25519 => &rs::ED25519,
            SigningScheme::RsaPssSha256 => &rs::RSA_PSS_2048_8192_SHA256,
            SigningScheme::RsaPssSha384 => &rs::RSA_PSS_2048_8192_SHA384,
            SigningScheme::RsaPssSha512 => &rs::RSA_PSS_2048_8192_SHA512,
            SigningScheme::RsaPkcs1Sha256 => &rs::RSA_PKCS1_2048_8192_SHA256,
            SigningScheme::RsaPkcs1Sha384 => &rs::RSA_PKCS1_2048_8192_SHA384,
            SigningScheme::RsaPkcs1Sha512 => &rs::RSA_PKCS1_2048_8192_SHA512,
            // ML-DSA, and whatever later versions add.
            _ => return Err(unsupported(scheme, "verification")),
        };
        rs::UnparsedPublicKey::new(alg, spki_pubkey_bytes)
            .verify(data, signature)
            .map_err(|_| invalid(scheme))
    }

    fn verify_prehashed(
        &self,
        scheme: SigningScheme,
        spki_pubkey_bytes: &[u8],
        digest: &[u8],
        signature: &[u8],
    ) -> Result<()> {
        // The curve follows from the scheme; the digest length was checked
        // against the scheme's hash by the caller (and ecdsa checks it too).
        match scheme {
            SigningScheme::EcdsaP256Sha256 | SigningScheme::EcdsaP256Sha384 => {
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(spki_pubkey_bytes)
                    .map_err(|_| Error::InvalidKey("not a P-256 public key".into()))?;
                let sig =
                    p256::ecdsa::DerSignature::try_from(signature).map_err(|_| invalid(scheme))?;
                key.verify_prehash(digest, &sig)
                    .map_err(|_| invalid(scheme))
            }
            SigningScheme::EcdsaP384Sha256 | SigningScheme::EcdsaP384Sha384 => {
                let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(spki_pubkey_bytes)
                    .map_err(|_| Error::InvalidKey("not a P-384 public key".into()))?;
                let sig =
                    p384::ecdsa::DerSignature::try_from(signature).map_err(|_| invalid(scheme))?;
                key.verify_prehash(digest, &sig)
                    .map_err(|_| invalid(scheme))
            }
            _ => Err(unsupported(scheme, "over a digest")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prehashed_and_raw_agree_and_reject_tampering() {
        use p256::ecdsa::signature::Signer as _;
        // Sign with RustCrypto (deterministic RFC 6979), verify both ways.
        let sk = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).unwrap();
        let sig: p256::ecdsa::Signature = sk.sign(b"hello");
        let der = sig.to_der();
        let point = sk.verifying_key().to_sec1_point(false);
        let pk = point.as_bytes();
        let digest = sha2::Sha256::digest(b"hello");
        let s = SigningScheme::EcdsaP256Sha256;
        PROVIDER
            .verify_raw(s, pk, b"hello", der.as_bytes())
            .unwrap();
        PROVIDER
            .verify_prehashed(s, pk, &digest, der.as_bytes())
            .unwrap();
        let other = sha2::Sha256::digest(b"hellO");
        assert!(
            PROVIDER
                .verify_prehashed(s, pk, &other, der.as_bytes())
                .is_err()
        );
        assert!(
            PROVIDER
                .verify_raw(s, pk, b"hellO", der.as_bytes())
                .is_err()
        );
        // The wrong curve for the key is an error, not a pass.
        let s384 = SigningScheme::EcdsaP384Sha384;
        assert!(
            PROVIDER
                .verify_prehashed(s384, pk, &digest, der.as_bytes())
                .is_err()
        );
        // Ed25519 and RSA over a digest are refused.
        assert!(matches!(
            PROVIDER.verify_prehashed(SigningScheme::Ed25519, pk, &digest, der.as_bytes()),
            Err(Error::UnsupportedAlgorithm(_))
        ));
    }
}
