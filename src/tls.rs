//! HTTPS: the server certificate (reloaded without dropping connections),
//! optional client certificates and the identity they carry.
//!
//! rustls with goward's ring provider, TLS 1.2 and 1.3, ALPN `h2` then
//! `http/1.1`. The certificate in force sits behind a lock that each new
//! handshake reads, so a reload swaps it for later connections while open
//! ones keep the session they negotiated.

// Requests and TLS handshakes are outside input: no unchecked arithmetic,
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

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;

/// What a client certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// A handshake without a valid client certificate is refused.
    #[default]
    Require,
    /// A client certificate is asked for, checked when sent, and its name
    /// logged; clients without one are served too.
    Request,
}

/// The validated TLS settings of `goward serve`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// Certificate chain, PEM, leaf first.
    pub cert: PathBuf,
    /// Its private key, PEM.
    pub key: PathBuf,
    /// The CAs that issue client certificates, and what they are for.
    pub client_ca: Option<(PathBuf, ClientAuth)>,
}

/// Why the TLS configuration could not be loaded; each names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum TlsError {
    /// A file could not be read.
    #[error("reading {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file is not what it should be (no PEM block, bad encoding, an
    /// unsupported key).
    #[error("{what} {path}: {msg}")]
    Parse {
        what: &'static str,
        path: PathBuf,
        msg: String,
    },
    /// The key is not the certificate's.
    #[error("the private key in {key} does not match the certificate in {cert}")]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The certificate in force, read by every handshake.
#[derive(Debug)]
struct Resolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for Resolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .clone(),
        )
    }
}

/// goward's TLS server side: the acceptor and the reloadable certificate.
pub(crate) struct TlsServer {
    settings: TlsSettings,
    resolver: Arc<Resolver>,
    /// Rebuilt when the client CAs change; new connections take the one in
    /// force, open ones keep theirs.
    acceptor: RwLock<tokio_rustls::TlsAcceptor>,
    /// The certificate, key and client-CA files as last read (loaded or
    /// refused), so the watcher acts once per change and does not log a bad
    /// file again every poll.
    last_seen: Mutex<Vec<u8>>,
}

impl std::fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsServer")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    })
}

/// The files' bytes, for change detection.
fn fingerprint(cert: &[u8], key: &[u8], client_ca: &[u8]) -> Vec<u8> {
    let mut fp = cert.to_vec();
    fp.push(0);
    fp.extend_from_slice(key);
    fp.push(0);
    fp.extend_from_slice(client_ca);
    fp
}

/// The client-CA file's bytes (empty without `--tls-client-ca`).
fn read_client_ca(settings: &TlsSettings) -> Result<Vec<u8>, TlsError> {
    match &settings.client_ca {
        Some((path, _)) => read("client CA", path),
        None => Ok(Vec::new()),
    }
}

/// An acceptor with the resolver's certificate and, when configured, the
/// client verifier built from `client_ca_pem`.
fn acceptor(
    settings: &TlsSettings,
    resolver: &Arc<Resolver>,
    client_ca_pem: &[u8],
) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let builder = match &settings.client_ca {
        Some((path, auth)) => {
            builder.with_client_cert_verifier(client_verifier(path, client_ca_pem, *auth)?)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_cert_resolver(resolver.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Parses a certificate chain and its key and checks that they belong
/// together: a mismatched pair would fail every handshake instead.
fn certified_key(
    settings: &TlsSettings,
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<CertifiedKey, TlsError> {
    let parse = |what, path: &Path, msg: String| TlsError::Parse {
        what,
        path: path.to_owned(),
        msg,
    };
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| parse("certificate", &settings.cert, format!("not PEM: {e}")))?;
    let Some(leaf) = certs.first() else {
        return Err(parse(
            "certificate",
            &settings.cert,
            "no PEM CERTIFICATE block".into(),
        ));
    };
    webpki::EndEntityCert::try_from(leaf).map_err(|e| {
        parse(
            "certificate",
            &settings.cert,
            format!("not an X.509 certificate: {e}"),
        )
    })?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => parse(
            "private key",
            &settings.key,
            "no PEM PRIVATE KEY block".into(),
        ),
        e => parse("private key", &settings.key, format!("not PEM: {e}")),
    })?;
    let signer = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|e| parse("private key", &settings.key, format!("unsupported: {e}")))?;
    let ck = CertifiedKey::new(certs, signer);
    ck.keys_match().map_err(|_| TlsError::KeyMismatch {
        cert: settings.cert.clone(),
        key: settings.key.clone(),
    })?;
    Ok(ck)
}

/// The verifier of client certificates issued by the CAs in `pem` (read
/// from `path`).
fn client_verifier(
    path: &Path,
    pem: &[u8],
    auth: ClientAuth,
) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>, TlsError> {
    let parse = |msg: String| TlsError::Parse {
        what: "client CA",
        path: path.to_owned(),
        msg,
    };
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| parse(format!("not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(parse("no PEM CERTIFICATE block".into()));
    }
    let mut roots = rustls::RootCertStore::empty();
    for c in certs {
        roots
            .add(c)
            .map_err(|e| parse(format!("not a usable CA certificate: {e}")))?;
    }
    let b = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider());
    let b = match auth {
        ClientAuth::Require => b,
        ClientAuth::Request => b.allow_unauthenticated(),
    };
    b.build()
        .map_err(|e| parse(format!("cannot verify clients with it: {e}")))
}

impl TlsServer {
    /// Loads the certificate, key and client CAs; any problem refuses the
    /// start with a message naming the file.
    pub(crate) fn load(settings: &TlsSettings) -> Result<Arc<TlsServer>, TlsError> {
        let cert_pem = read("certificate", &settings.cert)?;
        let key_pem = read("private key", &settings.key)?;
        let ca_pem = read_client_ca(settings)?;
        let ck = certified_key(settings, &cert_pem, &key_pem)?;
        let resolver = Arc::new(Resolver {
            current: RwLock::new(Arc::new(ck)),
        });
        let acceptor = acceptor(settings, &resolver, &ca_pem)?;
        Ok(Arc::new(TlsServer {
            settings: settings.clone(),
            resolver,
            acceptor: RwLock::new(acceptor),
            last_seen: Mutex::new(fingerprint(&cert_pem, &key_pem, &ca_pem)),
        }))
    }

    /// Accepts TLS connections with the certificate and client CAs in force.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        self.acceptor
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Reads the certificate, key and client CAs again and puts them in
    /// force for new connections. A bad file is returned as an error and
    /// what is in force stays; open connections are never touched.
    #[cfg_attr(windows, allow(dead_code))] // only SIGHUP (Unix) calls it
    pub(crate) fn reload(&self) -> Result<(), TlsError> {
        let cert_pem = read("certificate", &self.settings.cert)?;
        let key_pem = read("private key", &self.settings.key)?;
        let ca_pem = read_client_ca(&self.settings)?;
        self.load_files(&cert_pem, &key_pem, &ca_pem)
    }

    fn load_files(&self, cert_pem: &[u8], key_pem: &[u8], ca_pem: &[u8]) -> Result<(), TlsError> {
        *self
            .last_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = fingerprint(cert_pem, key_pem, ca_pem);
        let ck = certified_key(&self.settings, cert_pem, key_pem)?;
        // Both parsed before either is put in force: a bad client-CA file
        // leaves the certificate as it was too.
        let new_acceptor = match self.settings.client_ca {
            Some(_) => Some(acceptor(&self.settings, &self.resolver, ca_pem)?),
            None => None,
        };
        *self
            .resolver
            .current
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(ck);
        if let Some(a) = new_acceptor {
            *self
                .acceptor
                .write()
                .unwrap_or_else(PoisonError::into_inner) = a;
            tracing::info!(target: "goward::tls", client_ca = ?self.settings.client_ca.as_ref().map(|(p, _)| p.display().to_string()), "TLS client CAs loaded");
        }
        tracing::info!(target: "goward::tls", cert = %self.settings.cert.display(), "TLS certificate loaded");
        Ok(())
    }

    /// [`TlsServer::reload`], logging the outcome (SIGHUP).
    #[cfg_attr(windows, allow(dead_code))] // only SIGHUP (Unix) calls it
    pub(crate) fn reload_logged(&self) {
        if let Err(e) = self.reload() {
            tracing::warn!(target: "goward::tls", "TLS certificate not reloaded; the one in force stays: {e}");
        }
    }

    /// One watcher poll: reloads when either file's content changed since
    /// it was last read.
    fn poll(&self) {
        let (Ok(cert_pem), Ok(key_pem), Ok(ca_pem)) = (
            std::fs::read(&self.settings.cert),
            std::fs::read(&self.settings.key),
            read_client_ca(&self.settings),
        ) else {
            // Mid-replacement (or gone): the next poll looks again.
            return;
        };
        let seen = self
            .last_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if seen == fingerprint(&cert_pem, &key_pem, &ca_pem) {
            return;
        }
        tracing::info!(target: "goward::tls", cert = %self.settings.cert.display(), "TLS certificate, key or client CAs changed; reloading");
        if let Err(e) = self.load_files(&cert_pem, &key_pem, &ca_pem) {
            tracing::warn!(target: "goward::tls", "TLS certificate not reloaded; the one in force stays: {e}");
        }
    }

    /// Polls the certificate and key files every `every` and reloads them
    /// when they change (renewal tools replace them in place).
    pub(crate) fn watch(self: &Arc<Self>, every: Duration) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(tls) = weak.upgrade() else { return };
                let _ = tokio::task::spawn_blocking(move || tls.poll()).await;
            }
        });
    }
}

/// The identity of a verified client certificate, for the access log: its
/// subject's common name, else its first DNS name, else its first URI.
/// Control characters are replaced, so a name cannot forge log lines.
pub(crate) fn client_identity(conn: &rustls::ServerConnection) -> Option<String> {
    identity(conn.peer_certificates()?.first()?)
}

fn identity(leaf: &CertificateDer<'_>) -> Option<String> {
    let cert = webpki::EndEntityCert::try_from(leaf).ok()?;
    let name = common_name(cert.subject())
        .or_else(|| cert.valid_dns_names().next().map(str::to_owned))
        .or_else(|| cert.valid_uri_names().next().map(str::to_owned))?;
    Some(
        name.chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect(),
    )
}

/// One DER TLV: tag, contents, rest. Definite lengths up to 4 bytes.
fn tlv(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&first, mut b) = b.split_first()?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || b.len() < n {
            return None;
        }
        let (len_bytes, rest) = b.split_at(n);
        b = rest;
        len_bytes
            .iter()
            .fold(0usize, |acc, &x| (acc << 8) | usize::from(x))
    };
    if b.len() < len {
        return None;
    }
    let (content, rest) = b.split_at(len);
    Some((tag, content, rest))
}

/// The first commonName (2.5.4.3) in an X.501 Name's contents
/// (RDNSequence: SETs of SEQUENCE { OID, value }).
fn common_name(mut name: &[u8]) -> Option<String> {
    const CN: &[u8] = &[0x55, 0x04, 0x03];
    while !name.is_empty() {
        let (_, mut set, rest) = tlv(name)?;
        name = rest;
        while !set.is_empty() {
            let (_, atv, rest) = tlv(set)?;
            set = rest;
            let (oid_tag, oid, value) = tlv(atv)?;
            if oid_tag != 0x06 || oid != CN {
                continue;
            }
            let (tag, v, _) = tlv(value)?;
            return match tag {
                // UTF8String, PrintableString, IA5String, TeletexString.
                0x0c | 0x13 | 0x16 | 0x14 => Some(String::from_utf8_lossy(v).into_owned()),
                // BMPString: UTF-16BE.
                0x1e => {
                    let units: Vec<u16> = v
                        .chunks_exact(2)
                        .filter_map(|c| <[u8; 2]>::try_from(c).ok())
                        .map(u16::from_be_bytes)
                        .collect();
                    Some(String::from_utf16_lossy(&units))
                }
                _ => None,
            };
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `SET { SEQUENCE { OID 2.5.4.6 (C), PrintableString "DE" } }`,
    /// `SET { SEQUENCE { OID 2.5.4.3 (CN), UTF8String "alice" } }`.
    #[test]
    fn common_name_is_found_among_other_attributes() {
        let name = [
            0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, b'D', b'E', 0x31,
            0x0e, 0x30, 0x0c, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x05, b'a', b'l', b'i', b'c',
            b'e',
        ];
        assert_eq!(common_name(&name).as_deref(), Some("alice"));
        assert_eq!(common_name(&name[..13]), None);
        // Truncated: a length beyond the input is no name, not a panic.
        assert_eq!(common_name(&name[..20]), None);
    }

    /// CN first, else the first DNS name, else the first URI; control
    /// characters cannot reach the log.
    #[test]
    fn identity_of_a_client_certificate() {
        let cert = |cn: Option<&str>, sans: Vec<rcgen::SanType>| {
            let mut p = rcgen::CertificateParams::default();
            p.distinguished_name = rcgen::DistinguishedName::new();
            if let Some(cn) = cn {
                p.distinguished_name.push(rcgen::DnType::CommonName, cn);
            }
            p.distinguished_name
                .push(rcgen::DnType::OrganizationName, "goward");
            p.subject_alt_names = sans;
            let key = rcgen::KeyPair::generate().unwrap();
            p.self_signed(&key).unwrap().der().clone()
        };
        let dns = |s: &str| rcgen::SanType::DnsName(s.try_into().unwrap());
        let uri = |s: &str| rcgen::SanType::URI(s.try_into().unwrap());
        assert_eq!(
            identity(&cert(Some("alice"), vec![dns("a.example")])).as_deref(),
            Some("alice")
        );
        assert_eq!(
            identity(&cert(None, vec![dns("ci.example"), dns("b.example")])).as_deref(),
            Some("ci.example")
        );
        assert_eq!(
            identity(&cert(None, vec![uri("spiffe://example/ci")])).as_deref(),
            Some("spiffe://example/ci")
        );
        assert_eq!(identity(&cert(None, Vec::new())), None);
        assert_eq!(
            identity(&cert(Some("eve\nINFO forged"), Vec::new())).as_deref(),
            Some("eve?INFO forged")
        );
    }

    #[test]
    fn long_form_lengths() {
        let mut b = vec![0x04, 0x81, 0x80];
        b.extend(std::iter::repeat_n(7u8, 0x80));
        let (tag, content, rest) = tlv(&b).unwrap();
        assert_eq!((tag, content.len(), rest.len()), (0x04, 0x80, 0));
        assert_eq!(tlv(&[0x04, 0x80]), None);
        assert_eq!(tlv(&[0x04, 0x85, 1, 1, 1, 1, 1]), None);
    }
}
