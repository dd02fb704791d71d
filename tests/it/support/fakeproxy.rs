//! An in-process fake upstream GOPROXY with a fake checksum DB and fault injection.
//!
//! It speaks the GOPROXY protocol (go-protocol.md §1.1: `@v/list`, `.info`, `.mod`, `.zip`,
//! `@latest`, `!`-case-encoded paths) and proxies a [`TestLog`] under `/sumdb/<name>/…` (§2.7), on
//! 127.0.0.1 with an ephemeral port, from its own thread and tokio runtime so that synchronous
//! tests can drive it. Faults are keyed by the exact request path (as sent, e.g.
//! `/example.com/hello/@v/v1.0.0.zip` or `/sumdb/<name>/lookup/example.com/hello@v1.0.0`) and stay
//! until cleared. Every request is logged so tests can assert what goward asked for.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Response, StatusCode, header};
use bytes::Bytes;

use super::modzip::{ModZip, h1_mod, try_h1_zip};
use super::testlog::TestLog;

/// What the fake serves for one module version.
#[derive(Clone, Debug)]
pub(crate) struct Module {
    /// Module path, unescaped (`example.com/Foo`).
    pub(crate) path: String,
    /// Canonical version.
    pub(crate) version: String,
    /// The `.info` (and `@latest`) body.
    pub(crate) info: Vec<u8>,
    /// The `.mod` body.
    pub(crate) mod_bytes: Vec<u8>,
    /// The `.zip` body.
    pub(crate) zip: Vec<u8>,
}

impl Module {
    /// A module with the default `.info` (`{"Version":…,"Time":"2024-01-01T00:00:00Z"}`).
    pub(crate) fn new(path: &str, version: &str, mod_bytes: Vec<u8>, zip: Vec<u8>) -> Module {
        Module {
            path: path.to_owned(),
            version: version.to_owned(),
            info: default_info(version),
            mod_bytes,
            zip,
        }
    }
}

/// The `.info` JSON the fake serves unless told otherwise.
pub(crate) fn default_info(version: &str) -> Vec<u8> {
    format!("{{\"Version\":\"{version}\",\"Time\":\"2024-01-01T00:00:00Z\"}}\n").into_bytes()
}

/// A module as published: its bytes and the go.sum hashes computed by the test oracle.
#[derive(Clone, Debug)]
pub(crate) struct Published {
    /// Module path, unescaped.
    pub(crate) path: String,
    /// Version.
    pub(crate) version: String,
    /// The zip bytes served.
    pub(crate) zip: Vec<u8>,
    /// The go.mod bytes served.
    pub(crate) mod_bytes: Vec<u8>,
    /// `h1:` of the zip.
    pub(crate) zip_h1: String,
    /// `h1:` of the go.mod.
    pub(crate) mod_h1: String,
    /// Record number in the checksum DB, if it was logged.
    pub(crate) record: Option<u64>,
}

impl Published {
    /// Request path of the zip, e.g. `/example.com/hello/@v/v1.0.0.zip`.
    pub(crate) fn zip_path(&self) -> String {
        artifact_path(&self.path, &self.version, "zip")
    }

    /// Request path of the go.mod.
    pub(crate) fn mod_path(&self) -> String {
        artifact_path(&self.path, &self.version, "mod")
    }

    /// Request path of the `.info`.
    pub(crate) fn info_path(&self) -> String {
        artifact_path(&self.path, &self.version, "info")
    }

    /// Request path of the checksum-DB lookup for this module in the DB called `db_name`.
    pub(crate) fn lookup_path(&self, db_name: &str) -> String {
        lookup_path(db_name, &self.path, &self.version)
    }

    /// `path@version`, as `go mod download` takes it.
    pub(crate) fn at(&self) -> String {
        format!("{}@{}", self.path, self.version)
    }

    /// The two go.sum lines for this module.
    pub(crate) fn go_sum(&self) -> String {
        format!(
            "{p} {v} {z}\n{p} {v}/go.mod {m}\n",
            p = self.path,
            v = self.version,
            z = self.zip_h1,
            m = self.mod_h1
        )
    }

    /// The `Module` the fake serves for this publication.
    pub(crate) fn module(&self) -> Module {
        Module::new(
            &self.path,
            &self.version,
            self.mod_bytes.clone(),
            self.zip.clone(),
        )
    }
}

/// Case-encodes a module path or version (x/mod module.go `escapeString`): `A` → `!a`.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Reverses [`escape`]; `None` for anything `unescapeString` rejects.
pub(crate) fn unescape(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut bang = false;
    for c in s.chars() {
        if !c.is_ascii() || c.is_ascii_uppercase() {
            return None;
        }
        if bang {
            if !c.is_ascii_lowercase() {
                return None;
            }
            out.push(c.to_ascii_uppercase());
            bang = false;
        } else if c == '!' {
            bang = true;
        } else {
            out.push(c);
        }
    }
    (!bang).then_some(out)
}

/// Request path of an artifact: `/<escaped path>/@v/<escaped version>.<ext>`.
pub(crate) fn artifact_path(path: &str, version: &str, ext: &str) -> String {
    format!("/{}/@v/{}.{ext}", escape(path), escape(version))
}

/// Writes `p` into `dir` laid out like `$GOMODCACHE/cache/download` (which has no `@latest`),
/// with `zip` as its zip, adding its version to the module's `@v/list`.
pub(crate) fn write_download_dir(dir: &Path, p: &Published, zip: &[u8]) {
    let v = dir.join(escape(&p.path)).join("@v");
    std::fs::create_dir_all(&v).expect("mkdir");
    let list = std::fs::read_to_string(v.join("list")).unwrap_or_default();
    std::fs::write(v.join("list"), format!("{list}{}\n", p.version)).expect("list");
    let ev = escape(&p.version);
    std::fs::write(v.join(format!("{ev}.info")), default_info(&p.version)).expect("info");
    std::fs::write(v.join(format!("{ev}.mod")), &p.mod_bytes).expect("mod");
    std::fs::write(v.join(format!("{ev}.zip")), zip).expect("zip");
}

/// The `file://` URL of `dir`, as `--upstream` takes it.
pub(crate) fn file_url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

/// Request path of a checksum-DB lookup: `/sumdb/<db>/lookup/<escaped path>@<escaped version>`.
pub(crate) fn lookup_path(db_name: &str, path: &str, version: &str) -> String {
    format!(
        "/sumdb/{db_name}/lookup/{}@{}",
        escape(path),
        escape(version)
    )
}

/// How to misbehave on one request path.
#[derive(Clone, Debug)]
pub(crate) enum Fault {
    /// Answer with this status and body (text/plain) instead.
    Status(u16, Vec<u8>),
    /// Answer 200 with these bytes instead of the real ones (tampering).
    Body(Vec<u8>),
    /// Serve the real body (with its Content-Length) `chunk` bytes at a time, sleeping `delay`
    /// before each chunk after the first (slow loris / slow upstream).
    Trickle {
        /// Bytes per chunk.
        chunk: usize,
        /// Pause between chunks.
        delay: Duration,
    },
    /// 200 with no Content-Length and a body that never ends (endless data).
    Endless,
    /// Declare the real Content-Length, send only the first `n` bytes, then drop the connection.
    CloseEarly(usize),
    /// Accept the request and hold the (honest) answer until the flag is set: the test
    /// decides when an upstream request in flight ends.
    Gate(Arc<std::sync::atomic::AtomicBool>),
    /// Accept the request and never answer.
    Hang,
    /// The real body gzip-compressed, with `Content-Encoding: gzip` (no one asked for it).
    Gzip,
}

/// Shared state between the test thread and the server runtime.
struct Inner {
    modules: BTreeMap<(String, String), Module>,
    /// Other files served as they are, by path (`/a/@v/v1.0.0.zip.sig`).
    files: HashMap<String, Vec<u8>>,
    faults: HashMap<String, Fault>,
    requests: Vec<String>,
    sent: HashMap<String, u64>,
}

type Shared = Arc<Mutex<Inner>>;

#[derive(Clone)]
struct AppState {
    inner: Shared,
    log: Arc<Mutex<TestLog>>,
}

/// A running fake upstream. Dropping it stops the server.
pub(crate) struct FakeProxy {
    inner: Shared,
    log: Arc<Mutex<TestLog>>,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding the lock already failed; keep serving the others.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FakeProxy {
    /// Starts a fake upstream serving `log` under `/sumdb/<log name>/`.
    pub(crate) fn start(log: TestLog) -> FakeProxy {
        FakeProxy::start_shared(Arc::new(Mutex::new(log)))
    }

    /// Starts a fake upstream serving a log the test keeps a handle to.
    pub(crate) fn start_shared(log: Arc<Mutex<TestLog>>) -> FakeProxy {
        let inner = Arc::new(Mutex::new(Inner {
            modules: BTreeMap::new(),
            files: HashMap::new(),
            faults: HashMap::new(),
            requests: Vec::new(),
            sent: HashMap::new(),
        }));
        let std_listener =
            std::net::TcpListener::bind("127.0.0.1:0").expect("fakeproxy: bind 127.0.0.1:0");
        std_listener
            .set_nonblocking(true)
            .expect("fakeproxy: set_nonblocking");
        let addr = std_listener.local_addr().expect("fakeproxy: local_addr");
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let state = AppState {
            inner: inner.clone(),
            log: log.clone(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("fakeproxy-{}", addr.port()))
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("fakeproxy: tokio runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(std_listener)
                        .expect("fakeproxy: tokio listener");
                    let app = Router::new().fallback(handle).with_state(state);
                    tokio::select! {
                        r = axum::serve(listener, app) => r.expect("fakeproxy: serve"),
                        _ = stop_rx => {}
                    }
                });
                // Endless and hanging responses must not keep the thread alive.
                rt.shutdown_background();
            })
            .expect("fakeproxy: spawn thread");
        FakeProxy {
            inner,
            log,
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash).
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The socket address the fake listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves `m` (replacing any module with the same path and version). Does not touch the log.
    pub(crate) fn add_module(&self, m: Module) {
        lock(&self.inner)
            .modules
            .insert((m.path.clone(), m.version.clone()), m);
    }

    /// Stops serving `path@version`.
    /// Serves `body` at `path` (absolute, already escaped), beside the modules.
    pub(crate) fn add_file(&self, path: &str, body: impl Into<Vec<u8>>) {
        lock(&self.inner).files.insert(path.to_owned(), body.into());
    }

    pub(crate) fn remove_module(&self, path: &str, version: &str) {
        lock(&self.inner)
            .modules
            .remove(&(path.to_owned(), version.to_owned()));
    }

    /// Builds the zip (adding `go_mod` as `go.mod` when the zip has none and `go_mod` is not
    /// empty) and computes both h1s with the test oracle. Serves nothing, logs nothing.
    pub(crate) fn prepare(zip: ModZip, go_mod: &str) -> Published {
        let zip = if !go_mod.is_empty() && !zip.has_file("go.mod") {
            zip.file("go.mod", go_mod)
        } else {
            zip
        };
        let bytes = zip.build();
        // Archives whose headers lie cannot be read honestly; hash the intended entries then.
        let zip_h1 = try_h1_zip(&bytes).unwrap_or_else(|_| zip.h1());
        Published {
            path: zip.path().to_owned(),
            version: zip.version().to_owned(),
            zip: bytes,
            mod_bytes: go_mod.as_bytes().to_vec(),
            zip_h1,
            mod_h1: h1_mod(go_mod.as_bytes()),
            record: None,
        }
    }

    /// Serves a prepared module (GOPROXY endpoints only).
    pub(crate) fn serve(&self, p: &Published) {
        self.add_module(p.module());
    }

    /// Adds a prepared module's hashes to the checksum DB; returns the record number.
    pub(crate) fn log_module(&self, p: &mut Published) -> u64 {
        let id = lock(&self.log).add_module(&p.path, &p.version, &p.zip_h1, &p.mod_h1);
        p.record = Some(id);
        id
    }

    /// Adds an arbitrary record text for `path@version` to the checksum DB.
    pub(crate) fn log_record(&self, path: &str, version: &str, text: &str) -> u64 {
        lock(&self.log).add_record(path, version, text)
    }

    /// Prepares, logs and serves a module consistently: the fake and its checksum DB agree.
    pub(crate) fn publish(&self, zip: ModZip, go_mod: &str) -> Published {
        let mut p = FakeProxy::prepare(zip, go_mod);
        self.log_module(&mut p);
        self.serve(&p);
        p
    }

    /// The `--sumdb "KEY URL"` value that reaches this fake's checksum DB at its own URL (for
    /// upstreams that do not proxy it, such as `file://`).
    pub(crate) fn sumdb_flag(&self) -> String {
        let (vkey, name) = self.with_log(|l| (l.vkey(), l.name().to_owned()));
        format!("{vkey} {}/sumdb/{name}", self.url())
    }

    /// Runs `f` on the served checksum DB (e.g. to add records or read tiles).
    pub(crate) fn with_log<R>(&self, f: impl FnOnce(&mut TestLog) -> R) -> R {
        f(&mut lock(&self.log))
    }

    /// A copy of the served checksum DB as it is now.
    pub(crate) fn log_snapshot(&self) -> TestLog {
        lock(&self.log).clone()
    }

    /// Replaces the served checksum DB (fork, rollback, wrong-key scenarios); returns the old one.
    pub(crate) fn set_log(&self, log: TestLog) -> TestLog {
        std::mem::replace(&mut lock(&self.log), log)
    }

    /// The handle to the served checksum DB.
    pub(crate) fn log_handle(&self) -> Arc<Mutex<TestLog>> {
        self.log.clone()
    }

    /// Injects `fault` on the exact request path `path` until cleared.
    pub(crate) fn set_fault(&self, path: &str, fault: Fault) {
        lock(&self.inner).faults.insert(path.to_owned(), fault);
    }

    /// Removes the fault on `path`, if any.
    pub(crate) fn clear_fault(&self, path: &str) {
        lock(&self.inner).faults.remove(path);
    }

    /// Removes every fault.
    pub(crate) fn clear_faults(&self) {
        lock(&self.inner).faults.clear();
    }

    /// How many times `path` was requested.
    pub(crate) fn requests(&self, path: &str) -> usize {
        lock(&self.inner)
            .requests
            .iter()
            .filter(|p| *p == path)
            .count()
    }

    /// Every request path, in arrival order.
    pub(crate) fn request_log(&self) -> Vec<String> {
        lock(&self.inner).requests.clone()
    }

    /// Request paths starting with `prefix`, in arrival order.
    pub(crate) fn requests_with_prefix(&self, prefix: &str) -> Vec<String> {
        lock(&self.inner)
            .requests
            .iter()
            .filter(|p| p.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Forgets the request log and the sent-bytes counters.
    pub(crate) fn reset_requests(&self) {
        let mut inner = lock(&self.inner);
        inner.requests.clear();
        inner.sent.clear();
    }

    /// Body bytes handed to the network so far for `path` by streaming faults (`Trickle`,
    /// `Endless`, `CloseEarly`), summed over requests.
    pub(crate) fn bytes_sent(&self, path: &str) -> u64 {
        lock(&self.inner).sent.get(path).copied().unwrap_or(0)
    }
}

impl Drop for FakeProxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn plain(status: u16, body: impl Into<Body>) -> Response<Body> {
    let mut r = Response::new(body.into());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The honest answer for `path`: (status, body).
fn honest(state: &AppState, path: &str) -> (u16, Vec<u8>) {
    if let Some(rest) = path.strip_prefix("/sumdb/") {
        let log = lock(&state.log);
        return match rest.split_once('/') {
            Some((name, rel)) if name == log.name() => log.serve(rel),
            _ => (404, b"not found\n".to_vec()),
        };
    }
    let inner = lock(&state.inner);
    if let Some(f) = inner.files.get(path) {
        return (200, f.clone());
    }
    let rel = path.trim_start_matches('/');
    if let Some(mod_esc) = rel.strip_suffix("/@latest") {
        let Some(p) = unescape(mod_esc) else {
            return (400, b"bad path\n".to_vec());
        };
        // Lexically last version; tests that need real semver order serve their own `@latest`.
        let latest = inner.modules.iter().rfind(|((mp, _), _)| *mp == p);
        return match latest {
            Some((_, m)) => (200, m.info.clone()),
            None => (404, b"not found\n".to_vec()),
        };
    }
    let Some((mod_esc, file)) = rel.rsplit_once("/@v/") else {
        return (404, b"not found\n".to_vec());
    };
    let Some(p) = unescape(mod_esc) else {
        return (400, b"bad path\n".to_vec());
    };
    if file == "list" {
        let versions: String = inner
            .modules
            .keys()
            .filter(|(mp, _)| *mp == p)
            .map(|(_, v)| format!("{v}\n"))
            .collect();
        return if versions.is_empty() {
            (404, b"not found\n".to_vec())
        } else {
            (200, versions.into_bytes())
        };
    }
    let Some((ver_esc, ext)) = file.rsplit_once('.') else {
        return (404, b"not found\n".to_vec());
    };
    let Some(v) = unescape(ver_esc) else {
        return (400, b"bad version\n".to_vec());
    };
    let Some(m) = inner.modules.get(&(p, v)) else {
        return (404, b"not found\n".to_vec());
    };
    match ext {
        "info" => (200, m.info.clone()),
        "mod" => (200, m.mod_bytes.clone()),
        "zip" => (200, m.zip.clone()),
        _ => (404, b"not found\n".to_vec()),
    }
}

fn count_sent(inner: &Shared, path: &str, n: usize) {
    *lock(inner).sent.entry(path.to_owned()).or_default() += n as u64;
}

fn percent_decode(p: &str) -> String {
    let b = p.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = (b[i] == b'%')
            .then(|| p.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(c) => {
                out.push(c);
                i += 3;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn handle(State(state): State<AppState>, req: Request) -> Response<Body> {
    // The go command percent-escapes paths (`!` goes out as `%21`).
    let path = percent_decode(req.uri().path());
    let fault = {
        let mut inner = lock(&state.inner);
        inner.requests.push(path.clone());
        inner.faults.get(&path).cloned()
    };
    match fault {
        None => {
            let (status, body) = honest(&state, &path);
            plain(status, body)
        }
        Some(Fault::Status(status, body)) => plain(status, body),
        Some(Fault::Body(body)) => plain(200, body),
        Some(Fault::Gzip) => {
            use std::io::Write;
            let (status, body) = honest(&state, &path);
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&body).expect("gzip");
            let mut r = plain(status, gz.finish().expect("gzip"));
            r.headers_mut().insert(
                axum::http::header::CONTENT_ENCODING,
                axum::http::HeaderValue::from_static("gzip"),
            );
            r
        }
        Some(Fault::Gate(open)) => {
            while !open.load(std::sync::atomic::Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let (status, body) = honest(&state, &path);
            plain(status, body)
        }
        Some(Fault::Hang) => {
            std::future::pending::<()>().await;
            unreachable!("pending never resolves")
        }
        Some(Fault::Endless) => {
            let inner = state.inner.clone();
            let chunk = Bytes::from(vec![b'x'; 64 << 10]);
            let stream = futures_util::stream::unfold((), move |()| {
                let inner = inner.clone();
                let path = path.clone();
                let chunk = chunk.clone();
                async move {
                    tokio::task::yield_now().await;
                    count_sent(&inner, &path, chunk.len());
                    Some((Ok::<Bytes, std::io::Error>(chunk), ()))
                }
            });
            plain(200, Body::from_stream(stream))
        }
        Some(Fault::Trickle { chunk, delay }) => {
            let (status, body) = honest(&state, &path);
            stream_body(
                state.inner.clone(),
                path,
                status,
                Bytes::from(body),
                chunk.max(1),
                delay,
                None,
            )
        }
        Some(Fault::CloseEarly(n)) => {
            let (status, body) = honest(&state, &path);
            let len = body.len();
            stream_body(
                state.inner.clone(),
                path,
                status,
                Bytes::from(body),
                len.max(1),
                Duration::ZERO,
                Some(n),
            )
        }
    }
}

/// A streamed response with an explicit Content-Length of the whole `body`; with `cut`, only the
/// first `cut` bytes are sent before the stream fails and the connection is dropped.
fn stream_body(
    inner: Shared,
    path: String,
    status: u16,
    body: Bytes,
    chunk: usize,
    delay: Duration,
    cut: Option<usize>,
) -> Response<Body> {
    let total = body.len();
    let limit = cut.map_or(total, |c| c.min(total));
    let stream = futures_util::stream::unfold(0usize, move |off| {
        let inner = inner.clone();
        let path = path.clone();
        let body = body.clone();
        async move {
            if off >= limit {
                if off < total {
                    // Let hyper flush what was sent, then fail the body: hyper aborts the
                    // connection short of Content-Length.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    return Some((
                        Err(std::io::Error::other("fakeproxy: closing early")),
                        total,
                    ));
                }
                return None;
            }
            if off > 0 && !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            let end = (off + chunk).min(limit);
            count_sent(&inner, &path, end - off);
            Some((Ok(body.slice(off..end)), end))
        }
    });
    let mut r = plain(status, Body::from_stream(stream));
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(total));
    r
}

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;
    use std::time::Instant;

    use super::*;
    use crate::support::try_http_get;

    fn fake_with_module() -> (FakeProxy, Published) {
        let fake = FakeProxy::start(TestLog::new("sum.fake.test"));
        let p = fake.publish(
            ModZip::new("example.com/Upper", "v1.2.3").file("a.go", "package upper\n"),
            "module example.com/Upper\n",
        );
        (fake, p)
    }

    fn get(fake: &FakeProxy, path: &str) -> crate::support::HttpResponse {
        try_http_get(&format!("{}{path}", fake.url()), Duration::from_secs(10)).unwrap()
    }

    #[test]
    fn case_encoding_round_trips() {
        assert_eq!(
            escape("github.com/GoogleCloudPlatform/omega"),
            "github.com/!google!cloud!platform/omega"
        );
        assert_eq!(
            unescape("github.com/!azure/x").as_deref(),
            Some("github.com/Azure/x")
        );
        for bad in ["a/B", "a!", "a!!b", "a!0", "é"] {
            assert_eq!(unescape(bad), None, "{bad}");
        }
    }

    #[test]
    fn serves_the_goproxy_protocol_and_the_checksum_db() {
        let (fake, p) = fake_with_module();
        assert_eq!(p.zip_path(), "/example.com/!upper/@v/v1.2.3.zip");
        assert_eq!(get(&fake, "/example.com/!upper/@v/list").text(), "v1.2.3\n");
        assert_eq!(get(&fake, &p.info_path()).body, default_info("v1.2.3"));
        assert_eq!(
            get(&fake, "/example.com/!upper/@latest").body,
            default_info("v1.2.3")
        );
        assert_eq!(get(&fake, &p.mod_path()).body, p.mod_bytes);
        assert_eq!(get(&fake, &p.zip_path()).body, p.zip);
        assert_eq!(get(&fake, "/example.com/Upper/@v/list").status, 400);
        assert_eq!(get(&fake, "/example.com/other/@v/list").status, 404);
        assert_eq!(get(&fake, "/sumdb/sum.fake.test/supported").status, 200);
        assert_eq!(get(&fake, "/sumdb/other.test/supported").status, 404);
        let lookup = get(&fake, &p.lookup_path("sum.fake.test"));
        assert_eq!(lookup.status, 200);
        assert!(lookup.text().contains(&p.go_sum()), "{}", lookup.text());
        assert_eq!(p.record, Some(0));
        assert_eq!(fake.requests(&p.zip_path()), 1);
        assert_eq!(fake.requests("/nothing"), 0);
    }

    #[test]
    fn status_and_body_faults_replace_the_answer_until_cleared() {
        let (fake, p) = fake_with_module();
        fake.set_fault(&p.zip_path(), Fault::Status(503, b"busy\n".to_vec()));
        let r = get(&fake, &p.zip_path());
        assert_eq!((r.status, r.text().as_str()), (503, "busy\n"));
        fake.set_fault(&p.zip_path(), Fault::Body(b"evil".to_vec()));
        let r = get(&fake, &p.zip_path());
        assert_eq!((r.status, r.body.as_slice()), (200, b"evil".as_slice()));
        fake.clear_fault(&p.zip_path());
        assert_eq!(get(&fake, &p.zip_path()).body, p.zip);
    }

    #[test]
    fn trickle_delivers_the_whole_body_slowly() {
        let (fake, p) = fake_with_module();
        let chunk = p.zip.len().div_ceil(5);
        fake.set_fault(
            &p.zip_path(),
            Fault::Trickle {
                chunk,
                delay: Duration::from_millis(50),
            },
        );
        let t = Instant::now();
        let r = get(&fake, &p.zip_path());
        assert_eq!(r.body, p.zip);
        assert_eq!(
            r.header("content-length"),
            Some(p.zip.len().to_string().as_str())
        );
        assert!(
            t.elapsed() >= Duration::from_millis(200),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(fake.bytes_sent(&p.zip_path()), p.zip.len() as u64);
    }

    #[test]
    fn close_early_truncates_below_content_length() {
        let (fake, p) = fake_with_module();
        fake.set_fault(&p.zip_path(), Fault::CloseEarly(10));
        let e = try_http_get(
            &format!("{}{}", fake.url(), p.zip_path()),
            Duration::from_secs(10),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnexpectedEof, "{e}");
    }

    #[test]
    fn endless_and_hang_never_finish() {
        let (fake, p) = fake_with_module();
        fake.set_fault(&p.zip_path(), Fault::Endless);
        fake.set_fault(&p.mod_path(), Fault::Hang);
        for path in [p.zip_path(), p.mod_path()] {
            let e = try_http_get(&format!("{}{path}", fake.url()), Duration::from_millis(500))
                .unwrap_err();
            assert!(
                matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock),
                "{path}: {e}"
            );
        }
        assert!(fake.bytes_sent(&p.zip_path()) > 1 << 20);
        assert_eq!(fake.bytes_sent(&p.mod_path()), 0);
    }
}
