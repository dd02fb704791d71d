//! A local S3-compatible server for the shared-store tests: `moto_server`
//! (PyPI `moto[server]==5.2.6`, which honours `If-None-Match` / `If-Match`),
//! found through `$GOWARD_TEST_MOTO` (`.ci/run` installs it). Each test
//! starts its own on a free 127.0.0.1 port and creates its bucket. Without
//! moto the test fails and says how to install it: never a silent skip.
//!
//! [`Relay`] sits between goward and moto. It speaks just enough HTTP/1.1
//! (request and status lines, headers, `Content-Length` and chunked bodies)
//! to inject faults per request: an S3 error status, a dropped connection, a
//! connection cut part way through an upload, a trickled response body; it
//! can also be switched off (every connection cut) to stand for an outage,
//! and it logs every request so a test can count what goward asked.

use std::io::{BufRead, BufReader, Read, Write};
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

/// A fault the [`Relay`] injects into the requests a rule matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Answer this status (500, 503) with an S3 XML error body, without
    /// asking the server (the request body is read and dropped).
    Status(u16),
    /// Close the connection after reading the request head, answering nothing.
    Drop,
    /// Forward the request head and this many bytes of its body, then cut
    /// both connections (an upload reset part way).
    CutAfter(u64),
    /// Forward the request; relay the response body at this many bytes per second.
    SlowBody(u64),
}

/// Which requests a fault applies to, and how many more times.
#[derive(Clone, Debug)]
struct Rule {
    /// `None`: any method.
    method: Option<String>,
    /// A substring of the request target (path and query).
    path_contains: String,
    /// `None`: until cleared.
    times: Option<u32>,
    fault: Fault,
}

/// A request the relay saw: method and target (path and query).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) target: String,
}

#[derive(Default)]
struct RelayState {
    down: AtomicBool,
    conns: std::sync::Mutex<Vec<TcpStream>>,
    up: AtomicU64,
    /// Bytes per second towards the server; 0: unlimited.
    rate: AtomicU64,
    rules: std::sync::Mutex<Vec<Rule>>,
    seen: std::sync::Mutex<Vec<Seen>>,
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl RelayState {
    /// The fault for this request, if a rule matches (counting it down).
    fn take_fault(&self, method: &str, target: &str) -> Option<Fault> {
        let mut rules = lock(&self.rules);
        let i = rules.iter().position(|r| {
            r.method.as_deref().is_none_or(|m| m == method)
                && target.contains(&r.path_contains)
                && r.times != Some(0)
        })?;
        let r = &mut rules[i];
        if let Some(n) = &mut r.times {
            *n -= 1;
        }
        Some(r.fault)
    }

    fn track(&self, s: &TcpStream) {
        if let Ok(c) = s.try_clone() {
            lock(&self.conns).push(c);
        }
    }
}

/// An HTTP/1.1 relay to 127.0.0.1:`target` with switchable faults (see the
/// module documentation).
pub(crate) struct Relay {
    port: u16,
    st: Arc<RelayState>,
}

impl Relay {
    /// Starts relaying 127.0.0.1:<new port> to `target_port`.
    pub(crate) fn start(target_port: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind relay");
        let port = listener.local_addr().expect("addr").port();
        let st = Arc::new(RelayState::default());
        let s = st.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if s.down.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                s.track(&client);
                let s = s.clone();
                std::thread::spawn(move || {
                    let _ = relay_conn(client, target_port, &s);
                });
            }
        });
        Relay { port, st }
    }

    /// Bytes relayed towards the server so far.
    pub(crate) fn bytes_up(&self) -> u64 {
        self.st.up.load(Ordering::SeqCst)
    }

    /// Limits the bytes per second of request bodies towards the server
    /// (`0`: no limit).
    pub(crate) fn set_rate(&self, bytes_per_sec: u64) {
        self.st.rate.store(bytes_per_sec, Ordering::SeqCst);
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Cuts every connection and refuses new ones (`true`), or relays again.
    pub(crate) fn set_down(&self, down: bool) {
        self.st.down.store(down, Ordering::SeqCst);
        if down {
            for s in lock(&self.st.conns).drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }

    /// Injects `fault` into the next `times` requests (`None`: every one
    /// until [`Relay::clear_faults`]) whose method is `method` (`"*"`: any)
    /// and whose target contains `path_contains`. Rules apply in the order
    /// they were added; the first one that matches and has uses left wins.
    pub(crate) fn inject(
        &self,
        method: &str,
        path_contains: &str,
        times: Option<u32>,
        fault: Fault,
    ) {
        lock(&self.st.rules).push(Rule {
            method: (method != "*").then(|| method.to_owned()),
            path_contains: path_contains.to_owned(),
            times,
            fault,
        });
    }

    /// Removes every fault rule.
    pub(crate) fn clear_faults(&self) {
        lock(&self.st.rules).clear();
    }

    /// Every request seen since the start or the last [`Relay::take_seen`].
    pub(crate) fn take_seen(&self) -> Vec<Seen> {
        std::mem::take(&mut *lock(&self.st.seen))
    }
}

/// How a message body is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    None,
    Length(u64),
    Chunked,
    /// Until the server closes the connection (a response only).
    Close,
}

/// One message head: its first line, its headers (names lowercased), and
/// the raw bytes to forward.
struct Head {
    line: String,
    headers: Vec<(String, String)>,
    raw: Vec<u8>,
}

impl Head {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn framing(&self, or_else: Framing) -> Framing {
        if self
            .header("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
        {
            return Framing::Chunked;
        }
        match self
            .header("content-length")
            .and_then(|v| v.trim().parse().ok())
        {
            Some(n) => Framing::Length(n),
            None => or_else,
        }
    }
}

/// Reads a message head; `None` at a clean end of the connection.
fn read_head(r: &mut impl BufRead) -> std::io::Result<Option<Head>> {
    let mut raw = Vec::new();
    let mut lines = Vec::new();
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line)? == 0 {
            if raw.is_empty() {
                return Ok(None);
            }
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        raw.extend_from_slice(&line);
        let text = String::from_utf8_lossy(&line).trim_end().to_owned();
        if text.is_empty() {
            break;
        }
        lines.push(text);
    }
    let mut it = lines.into_iter();
    let line = it.next().unwrap_or_default();
    let headers = it
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        })
        .collect();
    Ok(Some(Head { line, headers, raw }))
}

/// Copies one body from `r` to `w` (`w: None`: reads and drops it). Stops
/// after `limit` body bytes (returns `false`: cut). `rate`: bytes per
/// second (0: unlimited). `count`: adds the bytes copied.
fn copy_body(
    r: &mut impl BufRead,
    mut w: Option<&mut TcpStream>,
    framing: Framing,
    limit: Option<u64>,
    rate: &dyn Fn() -> u64,
    count: Option<&AtomicU64>,
) -> std::io::Result<bool> {
    let mut sent = 0u64;
    let mut pass =
        |w: &mut Option<&mut TcpStream>, buf: &[u8], body: bool| -> std::io::Result<bool> {
            let mut buf = buf;
            if body && let Some(l) = limit {
                let room = l.saturating_sub(sent) as usize;
                if buf.len() > room {
                    buf = &buf[..room];
                }
            }
            // Trickled bytes go in small steps, so the reader sees them arrive.
            let step = if rate() > 0 { 4096 } else { buf.len().max(1) };
            for piece in buf.chunks(step) {
                if let Some(w) = w.as_deref_mut() {
                    w.write_all(piece)?;
                }
                if let Some(c) = count {
                    c.fetch_add(piece.len() as u64, Ordering::SeqCst);
                }
                let r = rate();
                if r > 0 {
                    std::thread::sleep(Duration::from_secs_f64(piece.len() as f64 / r as f64));
                }
            }
            if body {
                sent += buf.len() as u64;
                if limit.is_some_and(|l| sent >= l) {
                    return Ok(false);
                }
            }
            Ok(true)
        };
    let mut buf = vec![0u8; 64 << 10];
    match framing {
        Framing::None => Ok(true),
        Framing::Length(mut left) => {
            while left > 0 {
                let want = (left as usize).min(buf.len());
                let n = r.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                left -= n as u64;
                if !pass(&mut w, &buf[..n], true)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Framing::Close => loop {
            let n = r.read(&mut buf)?;
            if n == 0 {
                return Ok(true);
            }
            if !pass(&mut w, &buf[..n], true)? {
                return Ok(false);
            }
        },
        Framing::Chunked => loop {
            let mut line = Vec::new();
            r.read_until(b'\n', &mut line)?;
            pass(&mut w, &line, false)?;
            let size_text = String::from_utf8_lossy(&line);
            let size_text = size_text.trim().split(';').next().unwrap_or("");
            let size = u64::from_str_radix(size_text, 16)
                .map_err(|_| std::io::Error::other(format!("bad chunk size {size_text:?}")))?;
            if size == 0 {
                // Trailers, up to the empty line.
                loop {
                    let mut t = Vec::new();
                    r.read_until(b'\n', &mut t)?;
                    pass(&mut w, &t, false)?;
                    if t == b"\r\n" || t.is_empty() {
                        return Ok(true);
                    }
                }
            }
            let mut left = size;
            while left > 0 {
                let want = (left as usize).min(buf.len());
                let n = r.read(&mut buf[..want])?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                left -= n as u64;
                if !pass(&mut w, &buf[..n], true)? {
                    return Ok(false);
                }
            }
            let mut crlf = Vec::new();
            r.read_until(b'\n', &mut crlf)?;
            pass(&mut w, &crlf, false)?;
        },
    }
}

/// The S3 error document for an injected status.
fn s3_error(status: u16, resource: &str) -> Vec<u8> {
    let (code, reason, msg) = match status {
        503 => (
            "SlowDown",
            "Service Unavailable",
            "Please reduce your request rate.",
        ),
        _ => (
            "InternalError",
            "Internal Server Error",
            "We encountered an internal error. Please try again.",
        ),
    };
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{msg}</Message>\
         <Resource>{resource}</Resource><RequestId>goward-test-relay</RequestId></Error>"
    );
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

/// Relays one client connection, request by request.
fn relay_conn(client: TcpStream, target: u16, st: &RelayState) -> std::io::Result<()> {
    let mut cr = BufReader::new(client.try_clone()?);
    let mut cw = client;
    let mut server: Option<(BufReader<TcpStream>, TcpStream)> = None;
    let no_rate = || 0u64;
    let up_rate = || st.rate.load(Ordering::SeqCst);
    loop {
        let Some(req) = read_head(&mut cr)? else {
            return Ok(());
        };
        let mut parts = req.line.split(' ');
        let method = parts.next().unwrap_or("").to_owned();
        let target_path = parts.next().unwrap_or("").to_owned();
        lock(&st.seen).push(Seen {
            method: method.clone(),
            target: target_path.clone(),
        });
        let framing = req.framing(Framing::None);
        let fault = st.take_fault(&method, &target_path);
        match fault {
            Some(Fault::Status(code)) => {
                copy_body(&mut cr, None, framing, None, &no_rate, None)?;
                cw.write_all(&s3_error(code, &target_path))?;
                continue;
            }
            Some(Fault::Drop) => {
                let _ = cw.shutdown(Shutdown::Both);
                return Ok(());
            }
            _ => {}
        }
        if server.is_none() {
            let s = TcpStream::connect(("127.0.0.1", target))?;
            st.track(&s);
            server = Some((BufReader::new(s.try_clone()?), s));
        }
        let Some((sr, sw)) = server.as_mut() else {
            return Ok(());
        };
        sw.write_all(&req.raw)?;
        st.up.fetch_add(req.raw.len() as u64, Ordering::SeqCst);
        let limit = match fault {
            Some(Fault::CutAfter(n)) => Some(n),
            _ => None,
        };
        if !copy_body(&mut cr, Some(sw), framing, limit, &up_rate, Some(&st.up))? {
            let _ = sw.shutdown(Shutdown::Both);
            let _ = cw.shutdown(Shutdown::Both);
            return Ok(());
        }
        let Some(resp) = read_head(sr)? else {
            return Ok(());
        };
        let status: u16 = resp
            .line
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let rframing = if method == "HEAD" || status / 100 == 1 || status == 204 || status == 304 {
            Framing::None
        } else {
            resp.framing(Framing::Close)
        };
        cw.write_all(&resp.raw)?;
        let slow = match fault {
            Some(Fault::SlowBody(r)) => r,
            _ => 0,
        };
        let down_rate = move || slow;
        copy_body(sr, Some(&mut cw), rframing, None, &down_rate, None)?;
        if rframing == Framing::Close {
            let _ = cw.shutdown(Shutdown::Both);
            return Ok(());
        }
    }
}
