//! HTTPS, client certificates, the admin listener and listen addresses.
//!
//! Each test makes its own PKI with rcgen (a CA, server certificates for 127.0.0.1, a client
//! certificate) in a temp dir. Clients: the real go command (`SSL_CERT_FILE`), reqwest over
//! rustls with the test CA (HTTP/2 by ALPN, the peer certificate from `TlsInfo`), and the plain
//! HTTP client of the harness for the admin listener.

use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SerialNumber,
};
use tempfile::TempDir;

use crate::support::fakeproxy::{FakeProxy, Published};
use crate::support::gocmd::GoEnv;
use crate::support::modzip::ModZip;
use crate::support::testlog::TestLog;
use crate::support::{Goward, LISTENING_PREFIX, http_get, run_goward, wait_until};

const DB_NAME: &str = "sum.goward.test";
const ADMIN_PREFIX: &str = "goward admin listening on ";
const WAIT: Duration = Duration::from_secs(30);

/// A test CA and the files goward and its clients read.
struct Pki {
    dir: TempDir,
    issuer: Issuer<'static, KeyPair>,
    ca_pem: String,
}

/// A certificate and its key, PEM.
struct Leaf {
    cert: String,
    key: String,
    der: Vec<u8>,
}

impl Pki {
    fn new() -> Pki {
        let key = KeyPair::generate().expect("CA key");
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name
            .push(DnType::CommonName, "goward test CA");
        p.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = p.self_signed(&key).expect("CA certificate");
        Pki {
            dir: tempfile::Builder::new()
                .prefix("goward-pki-")
                .tempdir()
                .expect("temp dir"),
            issuer: Issuer::new(p, key),
            ca_pem: ca.pem(),
        }
    }

    /// A certificate for 127.0.0.1 (server) or a client named `cn`.
    fn leaf(&self, cn: &str, serial: u64, server: bool) -> Leaf {
        let key = KeyPair::generate().expect("leaf key");
        let sans = if server {
            vec!["127.0.0.1".to_owned()]
        } else {
            Vec::new()
        };
        let mut p = CertificateParams::new(sans).expect("leaf params");
        p.distinguished_name.push(DnType::CommonName, cn);
        p.serial_number = Some(SerialNumber::from(serial));
        p.use_authority_key_identifier_extension = true;
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        p.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        let cert = p.signed_by(&key, &self.issuer).expect("sign leaf");
        Leaf {
            cert: cert.pem(),
            key: key.serialize_pem(),
            der: cert.der().to_vec(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `text` to `name` in the PKI dir (replacing it at once, as renewal tools do).
    fn write(&self, name: &str, text: &str) -> String {
        let tmp = self.path(&format!(".{name}.tmp"));
        std::fs::write(&tmp, text).expect("write PEM");
        std::fs::rename(&tmp, self.path(name)).expect("rename PEM");
        self.path(name).display().to_string()
    }

    /// The CA certificate file.
    fn ca_file(&self) -> String {
        self.write("ca.pem", &self.ca_pem)
    }

    /// Writes `leaf` as server.pem/server.key; returns goward's TLS flags.
    fn serve_with(&self, leaf: &Leaf) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            self.write("server.pem", &leaf.cert),
            "--tls-key".into(),
            self.write("server.key", &leaf.key),
        ]
    }
}

/// A reqwest client trusting only the test CA, offering `alpn`, with `client` as its client
/// certificate; each client opens its own connections.
fn client(pki: &Pki, alpn: &[&str], client: Option<&Leaf>) -> reqwest::Client {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_root_certificates(ca_roots(pki));
    let mut config = match client {
        Some(c) => b
            .with_client_auth_cert(
                vec![CertificateDer::from_pem_slice(c.cert.as_bytes()).expect("client cert")],
                PrivateKeyDer::from_pem_slice(c.key.as_bytes()).expect("client key"),
            )
            .expect("client auth"),
        None => b.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .tls_info(true)
        .no_proxy()
        .build()
        .expect("reqwest client")
}

/// A root store holding only the test CA.
fn ca_roots(pki: &Pki) -> rustls::RootCertStore {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).expect("CA PEM"))
        .expect("add CA");
    roots
}

/// What a GET saw: status, HTTP version, the server's certificate (DER) and the body.
#[derive(Debug)]
struct Seen {
    status: u16,
    version: reqwest::Version,
    peer: Vec<u8>,
    body: String,
}

fn get(rt: &tokio::runtime::Runtime, c: &reqwest::Client, url: &str) -> reqwest::Result<Seen> {
    rt.block_on(async {
        let r = c.get(url).send().await?;
        let status = r.status().as_u16();
        let version = r.version();
        let peer = r
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|t| t.peer_certificate())
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        let body = r.text().await?;
        Ok(Seen {
            status,
            version,
            peer,
            body,
        })
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A fake upstream with one module logged in its checksum DB, and the DB's key.
fn upstream() -> (FakeProxy, Published, String) {
    let fake = FakeProxy::start(TestLog::new(DB_NAME));
    let p = fake.publish(
        ModZip::new("example.com/greet", "v1.1.0").file("greet.go", "package greet\n"),
        "module example.com/greet\n\ngo 1.21\n",
    );
    let vkey = fake.with_log(|l| l.vkey());
    (fake, p, vkey)
}

fn start(fake: &FakeProxy, vkey: &str, args: &[String]) -> Goward {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Goward::start(&fake.url(), vkey, &args)
}

/// The real go command downloads and verifies a module from goward over HTTPS, trusting the
/// test CA through `SSL_CERT_FILE`; the start line names https.
#[test]
fn go_downloads_over_https() {
    let (fake, p, vkey) = upstream();
    let pki = Pki::new();
    let g = start(&fake, &vkey, &pki.serve_with(&pki.leaf("goward", 1, true)));
    assert!(g.url().starts_with("https://127.0.0.1:"), "{}", g.url());
    let mut env = GoEnv::new(g.url(), &vkey);
    env.set_env("SSL_CERT_FILE", &pki.ca_file());
    env.write("go.mod", "module example.com/scratch\n\ngo 1.21\n");
    env.go(&["mod", "download", "-json", &p.at()])
        .assert_success();
    let got = std::fs::read(env.download_dir(&p.path).join("v1.1.0.zip")).expect("zip");
    assert!(got == p.zip, "the go command got different zip bytes");
    assert_eq!(fake.requests(&p.zip_path()), 1);

    // Without the test CA the go command refuses goward's certificate.
    let mut env = GoEnv::new(g.url(), &vkey);
    env.set_env(
        "SSL_CERT_FILE",
        &pki.path("missing.pem").display().to_string(),
    );
    env.write("go.mod", "module example.com/scratch\n\ngo 1.21\n");
    env.go(&["mod", "download", &p.at()])
        .assert_failure_containing("certificate");
}

/// ALPN: a client offering h2 gets HTTP/2, one offering only http/1.1 gets HTTP/1.1; a plain
/// HTTP goward stays HTTP/1.1.
#[test]
fn http2_by_alpn_over_tls_only() {
    let (fake, _, vkey) = upstream();
    let pki = Pki::new();
    let g = start(&fake, &vkey, &pki.serve_with(&pki.leaf("goward", 1, true)));
    let rt = runtime();
    let url = g.url_for("/healthz");
    let h2 = get(&rt, &client(&pki, &["h2", "http/1.1"], None), &url).expect("h2 GET");
    assert_eq!((h2.status, h2.version), (200, reqwest::Version::HTTP_2));
    let h1 = get(&rt, &client(&pki, &["http/1.1"], None), &url).expect("h1 GET");
    assert_eq!((h1.status, h1.version), (200, reqwest::Version::HTTP_11));
    // A cleartext HTTP/2 preface on a plain listener is not HTTP/1.1: refused.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let plain = Goward::start(&fake.url(), &vkey, &[]);
    let c = reqwest::Client::builder()
        .http2_prior_knowledge()
        .no_proxy()
        .build()
        .expect("client");
    assert!(
        rt.block_on(c.get(plain.url_for("/healthz")).send())
            .is_err(),
        "plain HTTP answered HTTP/2"
    );
}

/// A new certificate is picked up on SIGHUP and when the files change; open connections keep
/// the one they negotiated and keep working; a bad new certificate is logged and the old one
/// stays.
#[test]
fn certificate_reloads_without_dropping_connections() {
    let (fake, _, vkey) = upstream();
    let pki = Pki::new();
    let first = pki.leaf("goward one", 1, true);
    let g = start(&fake, &vkey, &pki.serve_with(&first));
    let rt = runtime();
    let url = g.url_for("/healthz");
    let open = client(&pki, &["h2"], None);
    let seen = get(&rt, &open, &url).expect("GET");
    assert_eq!((seen.status, seen.peer == first.der), (200, true));

    // SIGHUP after both files are replaced.
    let second = pki.leaf("goward two", 2, true);
    pki.serve_with(&second);
    let pid = g.pid().expect("running").to_string();
    let st = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .expect("kill");
    assert!(st.success());
    wait_until("a new connection sees the second certificate", WAIT, || {
        get(&rt, &client(&pki, &["h2"], None), &url).is_ok_and(|s| s.peer == second.der)
    });
    wait_until("goward logs the SIGHUP", WAIT, || {
        g.stderr().contains("SIGHUP: reloading the TLS certificate")
    });
    // The connection opened before the reload is still served, with its certificate.
    let again = get(&rt, &open, &url).expect("GET on the open connection");
    assert_eq!(again.status, 200);
    assert!(
        again.peer == first.der,
        "the open connection was replaced by a new one"
    );

    // No signal: the watcher sees the changed files.
    let third = pki.leaf("goward three", 3, true);
    pki.serve_with(&third);
    wait_until("a new connection sees the third certificate", WAIT, || {
        get(&rt, &client(&pki, &["h2"], None), &url).is_ok_and(|s| s.peer == third.der)
    });

    // A certificate file that does not parse: logged, the third stays in force.
    let cert = pki.write("server.pem", "not a certificate\n");
    let msg = format!(
        "TLS certificate not reloaded; the one in force stays: certificate {cert}: no PEM CERTIFICATE block"
    );
    wait_until("goward logs the bad certificate", WAIT, || {
        g.stderr().contains(&msg)
    });
    let s = get(&rt, &client(&pki, &["h2"], None), &url).expect("GET after a bad reload");
    assert_eq!((s.status, s.peer == third.der), (200, true));
    assert!(get(&rt, &open, &url).is_ok_and(|s| s.status == 200));
}

/// The access-log lines of `path` in goward's stderr.
fn access_lines(g: &Goward, path: &str) -> Vec<String> {
    g.stderr()
        .lines()
        .filter(|l| l.contains("goward::access") && l.contains(&format!("path=\"{path}\" ")))
        .map(str::to_owned)
        .collect()
}

/// goward's flags for HTTPS with client certificates from `pki`'s CA, then `extra`.
fn client_ca_args(pki: &Pki, extra: &[&str]) -> Vec<String> {
    let mut args = pki.serve_with(&pki.leaf("goward", 1, true));
    args.extend(["--tls-client-ca".into(), pki.ca_file()]);
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    args
}

/// `--tls-client-ca` (require): a client without a certificate is refused in the handshake,
/// one with a certificate from the CA is served and named in the access log; one from another
/// CA is refused.
#[test]
fn client_certificates_required() {
    let (fake, p, vkey) = upstream();
    let pki = Pki::new();
    let g = start(&fake, &vkey, &client_ca_args(&pki, &[]));
    let rt = runtime();
    let list = format!("/{}/@v/list", p.path);
    let url = g.url_for(&list);
    let e = get(&rt, &client(&pki, &["h2", "http/1.1"], None), &url)
        .expect_err("served without a client certificate");
    assert!(!e.is_status(), "{e:?}");
    let stranger = Pki::new();
    assert!(
        get(
            &rt,
            &client(
                &pki,
                &["http/1.1"],
                Some(&stranger.leaf("mallory", 9, false))
            ),
            &url
        )
        .is_err(),
        "served a client certificate from another CA"
    );
    assert!(access_lines(&g, &list).is_empty(), "{}", g.stderr());
    let alice = pki.leaf("alice", 7, false);
    let s = get(&rt, &client(&pki, &["h2"], Some(&alice)), &url).expect("GET with a cert");
    assert_eq!((s.status, s.body.as_str()), (200, "v1.1.0\n"));
    wait_until("the access log names alice", WAIT, || {
        access_lines(&g, &list)
            .iter()
            .any(|l| l.contains("status=200 user=\"alice\""))
    });
}

/// The client-CA file is watched like the certificate: replaced by another CA's, clients of the
/// old CA are refused and the new CA's served, without a restart.
#[test]
fn client_cas_reload_when_the_file_changes() {
    let (fake, p, vkey) = upstream();
    let pki = Pki::new();
    let g = start(&fake, &vkey, &client_ca_args(&pki, &[]));
    let rt = runtime();
    let url = g.url_for(&format!("/{}/@v/list", p.path));
    let alice = pki.leaf("alice", 7, false);
    let s = get(&rt, &client(&pki, &["http/1.1"], Some(&alice)), &url).expect("alice's GET");
    assert_eq!(s.status, 200);
    // The operator swaps in another CA (e.g. a rotation): same file name.
    let other = Pki::new();
    let carol = other.leaf("carol", 9, false);
    pki.write("ca.pem", &other.ca_pem);
    wait_until("the client CAs are reloaded", WAIT, || {
        g.stderr().contains("TLS client CAs loaded")
    });
    // Fresh clients, so no connection opened under the old CAs is reused.
    assert!(
        get(&rt, &client(&pki, &["http/1.1"], Some(&alice)), &url).is_err(),
        "a certificate of the removed CA was accepted"
    );
    let s = get(&rt, &client(&pki, &["http/1.1"], Some(&carol)), &url).expect("carol's GET");
    assert_eq!(s.status, 200);
}

/// `--tls-client-auth request`: clients without a certificate are served anonymously, one with
/// a certificate is named.
#[test]
fn client_certificates_requested() {
    let (fake, p, vkey) = upstream();
    let pki = Pki::new();
    let args = client_ca_args(&pki, &["--tls-client-auth", "request"]);
    let g = start(&fake, &vkey, &args);
    let rt = runtime();
    let (list, info) = (
        format!("/{}/@v/list", p.path),
        format!("/{}/@v/v1.1.0.info", p.path),
    );
    let anon = get(&rt, &client(&pki, &["h2"], None), &g.url_for(&list)).expect("GET");
    assert_eq!(anon.status, 200);
    let bob = pki.leaf("bob", 8, false);
    let named =
        get(&rt, &client(&pki, &["h2"], Some(&bob)), &g.url_for(&info)).expect("GET with a cert");
    assert_eq!(named.status, 200);
    wait_until("both requests are logged", WAIT, || {
        access_lines(&g, &info)
            .iter()
            .any(|l| l.contains("status=200 user=\"bob\""))
            && !access_lines(&g, &list).is_empty()
    });
    let anon_lines = access_lines(&g, &list);
    assert!(
        anon_lines.iter().all(|l| !l.contains("user=")),
        "{anon_lines:?}"
    );
}

/// `--admin-listen`: the operator's page, /status.json, /metrics, /healthz and /readyz only
/// there, in plain HTTP even when the
/// public side needs client certificates; module paths only on the public side.
#[test]
fn admin_listener_takes_the_probes() {
    let (fake, p, vkey) = upstream();
    let pki = Pki::new();
    let args = client_ca_args(&pki, &["--admin-listen", "127.0.0.1:0"]);
    let g = start(&fake, &vkey, &args);
    wait_until("goward prints its admin address", WAIT, || {
        !g.urls(ADMIN_PREFIX).is_empty()
    });
    let admin = g.urls(ADMIN_PREFIX).remove(0);
    assert!(admin.starts_with("http://127.0.0.1:"), "{admin}");
    let list = format!("/{}/@v/list", p.path);
    for path in ["/healthz", "/readyz", "/metrics", "/", "/status.json"] {
        let r = http_get(&format!("{admin}{path}"));
        assert_eq!(r.status, 200, "admin {path}: {}", r.text());
    }
    assert!(
        http_get(&format!("{admin}/metrics"))
            .text()
            .contains("goward_build_info")
    );
    let r = http_get(&format!("{admin}{list}"));
    assert_eq!(
        (r.status, r.text().as_str()),
        (
            404,
            "goward: the admin listener serves only /, /status.json, /metrics, /healthz and /readyz\n"
        )
    );
    let rt = runtime();
    let c = client(&pki, &["h2"], Some(&pki.leaf("carol", 5, false)));
    for path in ["/healthz", "/readyz", "/metrics", "/", "/status.json"] {
        let s = get(&rt, &c, &g.url_for(path)).expect("GET");
        assert_eq!(
            (s.status, s.body),
            (
                404,
                format!("goward: {path} is served on the admin listener\n")
            )
        );
    }
    let s = get(&rt, &c, &g.url_for(&list)).expect("GET list");
    assert_eq!((s.status, s.body.as_str()), (200, "v1.1.0\n"));
}

/// Several listen addresses, as people type them: a host name binds each address it resolves
/// to, and every bound address gets its own stdout line and serves.
#[test]
fn several_listen_addresses() {
    let (fake, _, vkey) = upstream();
    let g = Goward::start(
        &fake.url(),
        &vkey,
        &[
            "--listen",
            "localhost:0",
            "--listen",
            "127.0.0.1:0,127.0.0.1:0",
        ],
    );
    // localhost is 127.0.0.1 and maybe ::1; the second flag names two sockets.
    wait_until("goward prints every address", WAIT, || {
        g.urls(LISTENING_PREFIX).len() >= 3
    });
    let urls = g.urls(LISTENING_PREFIX);
    assert!(
        urls.iter()
            .filter(|u| u.starts_with("http://127.0.0.1:"))
            .count()
            >= 3,
        "{urls:?}"
    );
    let mut ports: Vec<&str> = urls.iter().filter_map(|u| u.rsplit(':').next()).collect();
    ports.sort_unstable();
    ports.dedup();
    assert!(ports.len() >= 3, "port 0 binds a fresh port each: {urls:?}");
    for u in &urls {
        assert_eq!(http_get(&format!("{u}/healthz")).status, 200, "{u}");
    }
}

/// A TLS client that connects and never finishes its handshake is cut by the header timeout.
#[test]
fn stalled_handshake_is_cut() {
    let (fake, _, vkey) = upstream();
    let pki = Pki::new();
    let mut args = pki.serve_with(&pki.leaf("goward", 1, true));
    args.extend(["--client-header-timeout".into(), "1".into()]);
    let g = start(&fake, &vkey, &args);
    let hostport = g.url().trim_start_matches("https://");
    let mut s = std::net::TcpStream::connect(hostport).expect("connect");
    s.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("goward sent {n} bytes to a client that sent none"),
        Err(e) => assert_eq!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset,
            "the stalled handshake was not closed: {e}"
        ),
    }
}

/// A client that finishes the TLS handshake with h2 and then sends nothing (no HTTP/2 preface)
/// is closed after the header timeout, like an idle HTTP/1.1 connection.
#[test]
fn idle_http2_connection_is_closed() {
    use std::io::Write as _;
    let (fake, _, vkey) = upstream();
    let pki = Pki::new();
    let mut args = pki.serve_with(&pki.leaf("goward", 1, true));
    args.extend(["--client-header-timeout".into(), "1".into()]);
    let g = start(&fake, &vkey, &args);
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(ca_roots(&pki))
    .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let conn = rustls::ClientConnection::new(Arc::new(config), name).expect("client");
    let sock =
        std::net::TcpStream::connect(g.url().trim_start_matches("https://")).expect("connect");
    sock.set_read_timeout(Some(WAIT)).expect("timeout");
    let mut tls = rustls::StreamOwned::new(conn, sock);
    tls.flush().expect("handshake");
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock).expect("handshake");
    }
    assert_eq!(tls.conn.alpn_protocol(), Some(b"h2".as_slice()));
    // goward's SETTINGS and GOAWAY may come first; then the end of the stream.
    let mut buf = [0u8; 1024];
    loop {
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                assert!(
                    matches!(
                        e.kind(),
                        std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
                    ),
                    "the idle HTTP/2 connection was not closed: {e}"
                );
                break;
            }
        }
    }
}

/// A request still being answered when its HTTP/2 connection goes idle (no new request for the
/// header timeout) finishes: the GOAWAY only stops new requests.
#[test]
fn http2_request_in_flight_outlives_the_idle_timeout() {
    use crate::support::fakeproxy::Fault;
    let fake = FakeProxy::start(TestLog::new(DB_NAME));
    let p = fake.publish(
        ModZip::new("example.com/slow", "v1.0.0").file(
            "data.go",
            format!(
                "package slow\n\n// Data is noise.\nvar Data = {:?}\n",
                crate::support::modzip::noise(7, 4096)
            ),
        ),
        "module example.com/slow\n\ngo 1.21\n",
    );
    let vkey = fake.with_log(|l| l.vkey());
    // The upstream takes several header timeouts to send the zip.
    fake.set_fault(
        &p.zip_path(),
        Fault::Trickle {
            chunk: p.zip.len() / 8 + 1,
            delay: Duration::from_millis(500),
        },
    );
    let pki = Pki::new();
    let mut args = pki.serve_with(&pki.leaf("goward", 1, true));
    args.extend(["--client-header-timeout".into(), "1".into()]);
    let g = start(&fake, &vkey, &args);
    let rt = runtime();
    let c = client(&pki, &["h2"], None);
    let body = rt
        .block_on(async {
            let r = c.get(g.url_for(&p.zip_path())).send().await?;
            assert_eq!(
                (r.status().as_u16(), r.version()),
                (200, reqwest::Version::HTTP_2)
            );
            r.bytes().await
        })
        .expect("the zip over HTTP/2");
    assert!(body == p.zip, "served bytes differ from the published zip");
}

fn refused(args: &[&str]) -> String {
    let out = run_goward(args);
    assert_eq!(out.status.code(), Some(2), "{}", out.dump());
    out.stderr
}

/// Refusals to start, each naming the file and the problem.
#[test]
fn bad_certificates_refuse_the_start() {
    let pki = Pki::new();
    let cache = tempfile::tempdir().expect("cache");
    let cache = cache.path().to_str().expect("utf-8");
    let one = pki.leaf("goward one", 1, true);
    let two = pki.leaf("goward two", 2, true);
    let cert = pki.write("one.pem", &one.cert);
    let key = pki.write("one.key", &one.key);
    let other_key = pki.write("two.key", &two.key);
    let garbage = pki.write("garbage.pem", "hello\n");
    let serve = |extra: &[&str]| {
        let mut a = vec!["serve", "--cache-dir", cache, "--listen", "127.0.0.1:0"];
        a.extend_from_slice(extra);
        refused(&a)
    };
    assert_eq!(
        serve(&["--tls-cert", &cert]),
        "goward: invalid tls-key: --tls-cert is set but --tls-key is not; give both (PEM files)\n"
    );
    assert_eq!(
        serve(&["--tls-key", &key]),
        "goward: invalid tls-cert: --tls-key is set but --tls-cert is not; give both (PEM files)\n"
    );
    assert_eq!(
        serve(&["--tls-cert", &cert, "--tls-key", &other_key]),
        format!(
            "goward: the private key in {other_key} does not match the certificate in {cert}\n"
        )
    );
    assert_eq!(
        serve(&["--tls-cert", &garbage, "--tls-key", &key]),
        format!("goward: certificate {garbage}: no PEM CERTIFICATE block\n")
    );
    assert_eq!(
        serve(&["--tls-cert", &cert, "--tls-key", &garbage]),
        format!("goward: private key {garbage}: no PEM PRIVATE KEY block\n")
    );
    // A key given as the certificate: PEM, but no certificate in it.
    assert_eq!(
        serve(&["--tls-cert", &key, "--tls-key", &key]),
        format!("goward: certificate {key}: no PEM CERTIFICATE block\n")
    );
    let missing = pki.path("missing.pem").display().to_string();
    assert_eq!(
        serve(&["--tls-cert", &missing, "--tls-key", &key]),
        format!("goward: reading certificate {missing}: No such file or directory (os error 2)\n")
    );
    assert_eq!(
        serve(&[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--tls-client-ca",
            &garbage
        ]),
        format!("goward: client CA {garbage}: no PEM CERTIFICATE block\n")
    );
    assert_eq!(
        serve(&["--listen", "localhost"]),
        "error: invalid value 'localhost' for '--listen <ADDR>': \"localhost\": no port; expected HOST:PORT, :PORT, IPv4:PORT or [IPv6]:PORT\n\nFor more information, try '--help'.\n"
    );
    // Nothing was opened: the cache directory stays empty.
    assert!(
        std::fs::read_dir(cache).expect("cache").next().is_none(),
        "a refused start touched the cache"
    );
}

/// Client authentication (`--auth-file`): users and tokens made with `goward user` and `goward
/// token`, the real go command sending them from `.netrc` over HTTPS, and policy rules that
/// admit only some groups.
mod auth {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    use super::{DB_NAME, Pki, WAIT, client, get, runtime, start};
    use crate::support::fakeproxy::FakeProxy;
    use crate::support::gocmd::{GoEnv, GoOutput, assert_refused_by_goward};
    use crate::support::modzip::ModZip;
    use crate::support::testlog::TestLog;
    use crate::support::{goward_bin, http_get, run_goward, wait_until};

    const PAY: &str = "example.com/pay/lib";
    const OPEN: &str = "example.com/open";

    /// `goward user add NAME --group G…` with the password on stdin.
    fn add_user(file: &str, name: &str, groups: &[&str], password: &str) {
        let mut args = vec!["user", "add", name, "--auth-file", file];
        for g in groups {
            args.extend(["--group", g]);
        }
        let mut child = Command::new(goward_bin())
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn goward user add");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{password}\n").as_bytes())
            .expect("write password");
        let out = child.wait_with_output().expect("goward user add");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    struct World {
        fake: FakeProxy,
        vkey: String,
        pki: Pki,
        creds: String,
        policy: String,
    }

    fn world() -> World {
        let fake = FakeProxy::start(TestLog::new(DB_NAME));
        for m in [PAY, OPEN] {
            fake.publish(
                ModZip::new(m, "v1.0.0").file("x.go", "package x\n"),
                &format!("module {m}\n\ngo 1.21\n"),
            );
        }
        let vkey = fake.with_log(|l| l.vkey());
        let pki = Pki::new();
        let creds = pki.path("users.toml").display().to_string();
        add_user(&creds, "alice", &["payments", "dev"], "alice-secret-pw");
        add_user(&creds, "bob", &["dev"], "bob-secret-pw");
        let policy = pki.write(
            "policy.toml",
            "mode = \"open\"\n\n[[allow]]\nname = \"payments-only\"\nmodules = \"example.com/pay\"\n\
             proof = [\"sumdb\"]\ngroups = [\"payments\"]\n",
        );
        World {
            fake,
            vkey,
            pki,
            creds,
            policy,
        }
    }

    /// A go environment trusting the test CA and sending `login`/`password` from `.netrc`.
    fn go_as(w: &World, url: &str, login: Option<(&str, &str)>) -> GoEnv {
        let mut env = GoEnv::new(url, &w.vkey);
        env.set_env("SSL_CERT_FILE", &w.pki.ca_file());
        if let Some((user, password)) = login {
            let netrc = w.pki.path(&format!("netrc-{user}"));
            // The go command (1.24+) matches `machine` against host:port when the URL has a port.
            let host = url.trim_start_matches("https://");
            std::fs::write(
                &netrc,
                format!("machine {host} login {user} password {password}\n"),
            )
            .expect("netrc");
            env.set_env("NETRC", &netrc.display().to_string());
            env.set_env("GOAUTH", "netrc");
        }
        env.write("go.mod", "module example.com/scratch\n\ngo 1.21\n");
        env
    }

    fn download(env: &GoEnv, m: &str) -> GoOutput {
        env.go(&["mod", "download", &format!("{m}@v1.0.0")])
    }

    #[test]
    fn go_authenticates_from_netrc_and_groups_restrict_a_prefix() {
        let w = world();
        let token = run_goward(&[
            "token",
            "create",
            "ci-bot",
            "--group",
            "payments",
            "--auth-file",
            &w.creds,
        ]);
        assert!(token.status.success(), "{}", token.dump());
        let token = token.stdout.trim().to_owned();
        assert!(token.starts_with("gwd_"), "{token}");
        let text = std::fs::read_to_string(&w.creds).expect("credentials");
        for secret in ["alice-secret-pw", "bob-secret-pw", token.as_str()] {
            assert!(!text.contains(secret), "{secret} stored in clear: {text}");
        }
        let mut args = w.pki.serve_with(&w.pki.leaf("goward", 1, true));
        args.extend([
            "--auth-file".into(),
            w.creds.clone(),
            "--policy".into(),
            w.policy.clone(),
        ]);
        let g = start(&w.fake, &w.vkey, &args);
        let url = g.url().to_owned();

        let alice = go_as(&w, &url, Some(("alice", "alice-secret-pw")));
        download(&alice, PAY).assert_success();
        download(&alice, OPEN).assert_success();
        let bot = go_as(&w, &url, Some(("anything", &token)));
        download(&bot, PAY).assert_success();

        // bob is in, but not in the group the rule admits.
        let bob = go_as(&w, &url, Some(("bob", "bob-secret-pw")));
        download(&bob, OPEN).assert_success();
        let out = download(&bob, PAY);
        assert_refused_by_goward(
            &out,
            "denied by policy rule \"payments-only\": only groups \"payments\" may fetch \
             example.com/pay/lib@v1.0.0; you are \"bob\" (groups: dev)",
        );
        assert!(out.stderr.contains("403 Forbidden"), "{}", out.dump());

        // Wrong password and no credentials: 401 with goward's reason, never a 404.
        let wrong = go_as(&w, &url, Some(("alice", "not the password")));
        let out = download(&wrong, OPEN);
        assert_refused_by_goward(
            &out,
            "authentication failed: wrong user name or password for \"alice\"",
        );
        assert!(out.stderr.contains("401 Unauthorized"), "{}", out.dump());
        let anon = go_as(&w, &url, None);
        assert_refused_by_goward(&download(&anon, OPEN), "authentication required");

        // A revoked token stops working once the file is reloaded (watched, no restart).
        let listed = run_goward(&["user", "list", "--auth-file", &w.creds]);
        let id = listed
            .stdout
            .lines()
            .find(|l| l.starts_with("ci-bot\t"))
            .and_then(|l| l.split("tokens: ").nth(1))
            .map(|t| t.chars().take(12).collect::<String>())
            .expect("ci-bot's token id");
        let revoked = run_goward(&["token", "revoke", &id, "--auth-file", &w.creds]);
        assert!(revoked.status.success(), "{}", revoked.dump());
        wait_until("the credentials are reloaded", WAIT, || {
            g.stderr().contains("credentials reloaded")
        });
        let bot = go_as(&w, &url, Some(("anything", &token)));
        assert_refused_by_goward(
            &download(&bot, "example.com/open"),
            "unknown or revoked token",
        );
        let rt = runtime();
        let m = get(&rt, &client(&w.pki, &["h2"], None), &g.url_for("/metrics")).expect("GET");
        assert_eq!(m.status, 401, "/metrics is not public: {}", m.body);
        let log = g.stderr();
        let names: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("goward::access") && l.contains("status=200"))
            .filter_map(|l| l.split("user=").nth(1))
            .collect();
        assert!(
            names.iter().any(|u| u.starts_with("\"alice\"")),
            "{names:?}"
        );
    }

    /// `policy explain --as USER` shows whether that user may fetch it; credentials over
    /// plain HTTP refuse the start unless every listener is loopback.
    #[test]
    fn explain_as_a_user_and_no_clear_text_credentials() {
        let w = world();
        let explain = |user: &str| {
            run_goward(&[
                "policy",
                "explain",
                "example.com/pay/lib@v1.0.0",
                "--policy",
                &w.policy,
                "--as",
                user,
                "--auth-file",
                &w.creds,
            ])
        };
        let o = explain("alice");
        assert_eq!(o.status.code(), Some(0), "{}", o.dump());
        assert!(
            o.stdout
                .contains("who may fetch it: only groups \"payments\""),
            "{}",
            o.stdout
        );
        assert!(
            o.stdout
                .contains("as \"alice\" (groups: payments, dev): allowed"),
            "{}",
            o.stdout
        );
        let o = explain("bob");
        assert_eq!(o.status.code(), Some(1), "{}", o.dump());
        assert!(
            o.stdout.contains(
                "as \"bob\" (groups: dev): denied by policy rule \"payments-only\": only groups \"payments\" may fetch"
            ),
            "{}",
            o.stdout
        );
        let o = explain("carol");
        assert_eq!(o.status.code(), Some(2), "{}", o.dump());
        assert!(o.stderr.contains("no user \"carol\""), "{}", o.stderr);

        let cache = tempfile::tempdir().expect("cache");
        let cache = cache.path().to_str().expect("utf-8");
        let out = run_goward(&[
            "serve",
            "--cache-dir",
            cache,
            "--listen",
            "0.0.0.0:0",
            "--auth-file",
            &w.creds,
        ]);
        assert_eq!(out.status.code(), Some(2), "{}", out.dump());
        assert!(
            out.stderr.contains(
                "--auth-file: clients would send their credentials in clear text to 0.0.0.0:"
            ),
            "{}",
            out.stderr
        );
        // On loopback, plain HTTP is allowed: probes stay open, the rest needs credentials.
        let g = crate::support::Goward::start(&w.fake.url(), &w.vkey, &["--auth-file", &w.creds]);
        assert_eq!(http_get(&g.url_for("/healthz")).status, 200);
        let r = http_get(&g.url_for("/example.com/open/@v/list"));
        assert_eq!(r.status, 401, "{}", r.text());
        assert!(r.text().contains("authentication required"), "{}", r.text());
    }
}
