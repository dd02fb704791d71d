//! A local S3-compatible server for the shared-store tests: `moto_server`
//! (PyPI `moto[server]==5.2.6`, which honours `If-None-Match` / `If-Match`),
//! found through `$GOWARD_TEST_MOTO` (`.ci/run` installs it). Each test
//! starts its own on a free 127.0.0.1 port and creates its bucket. Without
//! moto the test fails and says how to install it: never a silent skip.
//!
//! [`Relay`] sits between goward and moto and can be switched off (every
//! connection dropped), to stand for a bucket outage.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::wait_until;

/// The bucket every test uses (one moto per test).
pub(crate) const BUCKET: &str = "goward-test";

/// A running `moto_server`, killed on drop.
pub(crate) struct Moto {
    child: Child,
    port: u16,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Moto {
    /// Starts moto and creates [`BUCKET`].
    pub(crate) fn start() -> Moto {
        let bin = std::env::var_os("GOWARD_TEST_MOTO").unwrap_or_else(|| {
            panic!(
                "GOWARD_TEST_MOTO is not set: the shared-store tests need moto_server. Install it with \
                 `python3 -m venv ~/moto-venv && ~/moto-venv/bin/pip install 'moto[server]==5.2.6'` \
                 and set GOWARD_TEST_MOTO=~/moto-venv/bin/moto_server (.ci/run does this)"
            )
        });
        let port = free_port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.to_string_lossy()));
        let m = Moto { child, port };
        wait_until("moto_server to listen", Duration::from_secs(60), || {
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        let status = raw_put(port, &format!("/{BUCKET}"));
        assert_eq!(status, 200, "creating bucket {BUCKET} in moto");
        m
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The environment goward needs to reach moto at `endpoint`.
    pub(crate) fn env_for(endpoint: &str) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "goward-test"),
            ("AWS_SECRET_ACCESS_KEY", "goward-test-secret"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
    }

    /// A client on the bucket, for the test to read and tamper with objects.
    pub(crate) fn client(&self) -> Bucket {
        // As goward does: ring, the one provider in the tree.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let s3 = AmazonS3Builder::new()
            .with_endpoint(self.endpoint())
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_bucket_name(BUCKET)
            .with_access_key_id("goward-test")
            .with_secret_access_key("goward-test-secret")
            .build()
            .expect("S3 client");
        Bucket {
            store: Arc::new(s3),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A PUT with an empty body (bucket creation needs no signature in moto).
fn raw_put(port: u16, path: &str) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to moto");
    s.set_read_timeout(Some(Duration::from_secs(30))).ok();
    write!(
        s,
        "PUT {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// The test's own view of the bucket.
pub(crate) struct Bucket {
    pub(crate) store: Arc<dyn ObjectStore>,
    rt: tokio::runtime::Runtime,
}

impl Bucket {
    /// The object at `key`, if any.
    pub(crate) fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.rt.block_on(async {
            match self.store.get(&ObjPath::from(key)).await {
                Ok(r) => Some(r.bytes().await.expect("object body").to_vec()),
                Err(object_store::Error::NotFound { .. }) => None,
                Err(e) => panic!("GET {key}: {e}"),
            }
        })
    }

    /// Writes `bytes` at `key` (overwriting).
    pub(crate) fn put(&self, key: &str, bytes: Vec<u8>) {
        self.rt
            .block_on(self.store.put(&ObjPath::from(key), PutPayload::from(bytes)))
            .unwrap_or_else(|e| panic!("PUT {key}: {e}"));
    }

    /// Every key under `prefix`.
    pub(crate) fn keys(&self, prefix: &str) -> Vec<String> {
        use futures_util::StreamExt;
        self.rt.block_on(async {
            let p = ObjPath::from(prefix);
            let mut s = self.store.list(Some(&p));
            let mut out = Vec::new();
            while let Some(m) = s.next().await {
                out.push(m.expect("list").location.to_string());
            }
            out.sort();
            out
        })
    }

    /// Runs a future on this client's runtime.
    pub(crate) fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }
}

/// A TCP relay to `target` that can be switched off: while off, every new
/// connection is closed at once and open ones are cut.
pub(crate) struct Relay {
    port: u16,
    down: Arc<AtomicBool>,
    conns: Arc<std::sync::Mutex<Vec<TcpStream>>>,
    up: Arc<AtomicU64>,
    /// Bytes per second towards the server; 0: unlimited.
    rate: Arc<AtomicU64>,
}

impl Relay {
    /// Starts relaying 127.0.0.1:<new port> to `target_port`.
    pub(crate) fn start(target_port: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind relay");
        let port = listener.local_addr().expect("addr").port();
        let down = Arc::new(AtomicBool::new(false));
        let conns: Arc<std::sync::Mutex<Vec<TcpStream>>> = Arc::default();
        let up = Arc::new(AtomicU64::new(0));
        let rate = Arc::new(AtomicU64::new(0));
        let (d, c, u, r) = (down.clone(), conns.clone(), up.clone(), rate.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if d.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target_port)) else {
                    continue;
                };
                if let (Ok(a), Ok(b)) = (client.try_clone(), server.try_clone()) {
                    let mut g = c.lock().unwrap_or_else(|e| e.into_inner());
                    g.push(a);
                    g.push(b);
                }
                pipe(
                    client.try_clone().expect("clone"),
                    server.try_clone().expect("clone"),
                    Some((u.clone(), r.clone())),
                );
                pipe(server, client, None);
            }
        });
        Relay {
            port,
            down,
            conns,
            up,
            rate,
        }
    }

    /// Bytes relayed towards the server so far.
    pub(crate) fn bytes_up(&self) -> u64 {
        self.up.load(Ordering::SeqCst)
    }

    /// Limits the bytes per second towards the server (`0`: no limit).
    pub(crate) fn set_rate(&self, bytes_per_sec: u64) {
        self.rate.store(bytes_per_sec, Ordering::SeqCst);
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Cuts every connection and refuses new ones (`true`), or relays again.
    pub(crate) fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
        if down {
            let mut g = self.conns.lock().unwrap_or_else(|e| e.into_inner());
            for s in g.drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

/// Copies `from` to `to`; `meter`: counts the bytes and honours the rate.
fn pipe(mut from: TcpStream, mut to: TcpStream, meter: Option<(Arc<AtomicU64>, Arc<AtomicU64>)>) {
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
            if let Some((up, rate)) = &meter {
                up.fetch_add(n as u64, Ordering::SeqCst);
                let r = rate.load(Ordering::SeqCst);
                if r > 0 {
                    std::thread::sleep(Duration::from_secs_f64(n as f64 / r as f64));
                }
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
