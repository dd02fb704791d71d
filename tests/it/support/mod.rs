//! Shared harness for goward's integration tests.
//!
//! - [`Goward`]: runs the real `goward` binary (`serve`), waits for its listening line, kills it
//!   with SIGKILL and restarts it on the same cache dir.
//! - [`http_get`]: a tiny HTTP/1.1 client on `std::net` (no TLS, no connection reuse), so tests do
//!   not depend on the HTTP stack under test.
//! - [`fakeproxy`], [`modzip`], [`gocmd`], [`testlog`]: fake upstream, zip builder with the `h1:`
//!   oracle, hermetic `go` runner, fake checksum DB.
//!
//! Not every test binary module uses every helper.
#![allow(dead_code)]

pub(crate) mod fakeproxy;
pub(crate) mod gocmd;
pub(crate) mod modzip;
pub(crate) mod rawhttp;
pub(crate) mod s3;
// testlog.rs declares plain `pub` items.
#[allow(unreachable_pub)]
pub(crate) mod testlog;

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long goward may take to print its listening line.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The line prefix goward prints on stdout once it accepts connections.
pub(crate) const LISTENING_PREFIX: &str = "goward listening on ";

/// Path of the goward binary: `$GOWARD_TEST_BIN` if set (e.g. to test a release build),
/// else the one Cargo built for these tests.
pub(crate) fn goward_bin() -> PathBuf {
    std::env::var_os("GOWARD_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_goward")))
}

/// A `goward` binary invocation that is expected to exit (bad flags, `--help`, …).
pub(crate) fn run_goward(args: &[&str]) -> gocmd::GoOutput {
    run_goward_with(args, &[], Stdio::piped())
}

/// Like [`run_goward`], with stdout a pipe whose reading end is already closed (as under
/// `| head -1` once head is done): every write to it fails with `BrokenPipe`, deterministically.
pub(crate) fn run_goward_stdout_closed(args: &[&str]) -> gocmd::GoOutput {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    run_goward_with(args, &[], writer.into())
}

/// Like [`run_goward`], with extra environment variables and the given stdout.
pub(crate) fn run_goward_with(
    args: &[&str],
    envs: &[(&str, &str)],
    stdout: Stdio,
) -> gocmd::GoOutput {
    let mut cmd = Command::new(goward_bin());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped());
    scrub_proxy_env(&mut cmd);
    cmd.envs(envs.iter().copied());
    let shown: Vec<String> = envs.iter().map(|(k, v)| format!("{k}={v:?} ")).collect();
    gocmd::run_with_timeout(
        cmd,
        format!("{}goward {}", shown.concat(), args.join(" ")),
        Duration::from_secs(60),
    )
}

/// HTTP(S)_PROXY and friends would route goward's upstream requests through the host's proxy,
/// and GOWARD_* variables would change goward's configuration behind the test's back.
fn scrub_proxy_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GOWARD_") {
            cmd.env_remove(key);
        }
    }
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
    ] {
        cmd.env_remove(var);
    }
}

/// A running `goward serve`. Dropping it kills the process (SIGKILL) and removes an owned cache.
pub(crate) struct Goward {
    /// Arguments after `serve` (without `--listen`/`--cache-dir`).
    args: Vec<OsString>,
    cache_dir: PathBuf,
    child: Option<Child>,
    url: String,
    stderr: Arc<Mutex<Vec<u8>>>,
    stdout: Arc<Mutex<Vec<u8>>>,
    _owned_cache: Option<TempDir>,
    /// Extra environment variables (e.g. `AWS_*` for a shared store).
    envs: Vec<(String, String)>,
    /// The binary, if not [`goward_bin`] (the bench compares builds).
    bin: Option<PathBuf>,
}

impl Goward {
    /// `goward serve --upstream <upstream> --sumdb <vkey> <extra>` with a fresh temp cache dir.
    pub(crate) fn start(upstream: &str, sumdb_vkey: &str, extra: &[&str]) -> Goward {
        let owned = tempfile::Builder::new()
            .prefix("goward-cache-")
            .tempdir()
            .expect("temp dir");
        let mut g = Goward::start_in(owned.path(), upstream, sumdb_vkey, extra);
        g._owned_cache = Some(owned);
        g
    }

    /// Like [`Goward::start`] but on the given cache dir (which the caller keeps alive).
    pub(crate) fn start_in(
        cache_dir: &Path,
        upstream: &str,
        sumdb_vkey: &str,
        extra: &[&str],
    ) -> Goward {
        let mut args: Vec<OsString> = vec![
            "--upstream".into(),
            upstream.into(),
            "--sumdb".into(),
            sumdb_vkey.into(),
        ];
        args.extend(extra.iter().map(OsString::from));
        Goward::start_args(cache_dir, args)
    }

    /// `goward serve --listen 127.0.0.1:0 --cache-dir <cache_dir> <args>`.
    pub(crate) fn start_args(cache_dir: &Path, args: Vec<OsString>) -> Goward {
        Goward::start_args_env(cache_dir, args, Vec::new())
    }

    /// [`Goward::start_args`] with extra environment variables.
    pub(crate) fn start_args_env(
        cache_dir: &Path,
        args: Vec<OsString>,
        envs: Vec<(String, String)>,
    ) -> Goward {
        let mut g = Goward {
            args,
            cache_dir: cache_dir.to_path_buf(),
            child: None,
            url: String::new(),
            stderr: Arc::new(Mutex::new(Vec::new())),
            stdout: Arc::new(Mutex::new(Vec::new())),
            _owned_cache: None,
            envs,
            bin: None,
        };
        g.spawn();
        g
    }

    /// Like [`Goward::start_in`], running `bin` instead of [`goward_bin`].
    pub(crate) fn start_bin_in(
        bin: &Path,
        cache_dir: &Path,
        upstream: &str,
        sumdb_vkey: &str,
    ) -> Goward {
        let mut g = Goward {
            args: vec![
                "--upstream".into(),
                upstream.into(),
                "--sumdb".into(),
                sumdb_vkey.into(),
            ],
            cache_dir: cache_dir.to_path_buf(),
            child: None,
            url: String::new(),
            stderr: Arc::new(Mutex::new(Vec::new())),
            stdout: Arc::new(Mutex::new(Vec::new())),
            _owned_cache: None,
            envs: Vec::new(),
            bin: Some(bin.to_path_buf()),
        };
        g.spawn();
        g
    }

    fn spawn(&mut self) {
        let bin = self.bin.clone().unwrap_or_else(goward_bin);
        let mut cmd = Command::new(&bin);
        cmd.arg("serve");
        // A test that names its own addresses gets only those.
        if !self.args.iter().any(|a| a == "--listen") {
            cmd.arg("--listen").arg("127.0.0.1:0");
        }
        cmd.arg("--cache-dir")
            .arg(&self.cache_dir)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        scrub_proxy_env(&mut cmd);
        cmd.envs(self.envs.iter().map(|(k, v)| (k, v)));
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        // A fresh buffer per process, so `stderr()` describes the current run.
        self.stderr = Arc::new(Mutex::new(Vec::new()));
        self.stdout = Arc::new(Mutex::new(Vec::new()));
        let stderr_buf = self.stderr.clone();
        let mut stderr = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                lock(&stderr_buf).extend_from_slice(&buf[..n]);
            }
        });
        let stdout_buf = self.stdout.clone();
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            // Line by line, so later listening lines are seen as they come.
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                lock(&stdout_buf).extend_from_slice(line.as_bytes());
                let _ = tx.send(std::mem::take(&mut line));
            }
        });
        let line = match rx.recv_timeout(START_TIMEOUT) {
            Ok(line) => line,
            Err(e) => {
                let _ = child.kill();
                let status = child.wait().ok();
                std::thread::sleep(Duration::from_millis(200));
                panic!(
                    "goward printed no listening line ({e}; exit status {status:?})\n\
                     --- stderr ---\n{}",
                    String::from_utf8_lossy(&lock(&self.stderr))
                );
            }
        };
        let line = line.trim_end_matches(['\n', '\r']);
        let Some(url) = line.strip_prefix(LISTENING_PREFIX) else {
            let _ = child.kill();
            panic!("unexpected first stdout line from goward: {line:?}");
        };
        let port = url
            .strip_prefix("http://")
            .or_else(|| url.strip_prefix("https://"))
            .and_then(|hp| hp.rsplit_once(':'))
            .map(|(_, port)| port);
        assert!(
            port.is_some_and(|p| p.parse::<u16>().is_ok()),
            "listening line must name http(s)://HOST:PORT, got {line:?}"
        );
        self.url = url.to_owned();
        self.child = Some(child);
    }

    /// Base URL, e.g. `http://127.0.0.1:39113` (no trailing slash).
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Every address goward printed a line for so far: `prefix` is
    /// [`LISTENING_PREFIX`] for the public listeners, `"goward admin listening on "` for the
    /// admin listener.
    pub(crate) fn urls(&self, prefix: &str) -> Vec<String> {
        self.stdout()
            .lines()
            .filter_map(|l| l.strip_prefix(prefix).map(str::to_owned))
            .collect()
    }

    /// `url()` + `path` (`path` starts with `/`).
    pub(crate) fn url_for(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// The cache directory goward runs on.
    pub(crate) fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// Everything goward wrote to stderr in the current run so far.
    pub(crate) fn stderr(&self) -> String {
        String::from_utf8_lossy(&lock(&self.stderr)).into_owned()
    }

    /// Everything goward wrote to stdout in the current run so far (the listening line first).
    pub(crate) fn stdout(&self) -> String {
        String::from_utf8_lossy(&lock(&self.stdout)).into_owned()
    }

    /// The process id, while running.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the process is still running.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// SIGKILL (`Child::kill` on unix) and reap: no shutdown code runs, like a power cut.
    pub(crate) fn kill_hard(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the process (if running) and starts it again with the same arguments and cache dir.
    /// The port changes; use `url()` again afterwards.
    pub(crate) fn restart(&mut self) {
        self.kill_hard();
        self.spawn();
    }

    /// GET `path` from goward; panics on transport errors (not on HTTP errors).
    pub(crate) fn get(&self, path: &str) -> HttpResponse {
        http_get(&self.url_for(path))
    }

    /// GET `path` from goward, reporting transport errors.
    pub(crate) fn try_get(&self, path: &str, timeout: Duration) -> std::io::Result<HttpResponse> {
        try_http_get(&self.url_for(path), timeout)
    }
}

impl Drop for Goward {
    fn drop(&mut self) {
        self.kill_hard();
        // A start failure already printed stderr in its panic message.
        if std::thread::panicking() && !self.url.is_empty() {
            eprintln!("--- goward stderr ({}) ---\n{}", self.url, self.stderr());
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// An HTTP response read to the end.
#[derive(Clone, Debug)]
pub(crate) struct HttpResponse {
    /// Status code.
    pub(crate) status: u16,
    /// Header (lower-cased name, value) pairs in arrival order.
    pub(crate) headers: Vec<(String, String)>,
    /// The decoded body (chunked transfer coding removed).
    pub(crate) body: Vec<u8>,
}

impl HttpResponse {
    /// The first header named `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as (lossy) UTF-8.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Default timeout of [`http_get`].
pub(crate) const HTTP_TIMEOUT: Duration = Duration::from_secs(120);

/// GET `url` (`http://host:port/path`); panics on transport errors, not on HTTP error statuses.
#[track_caller]
pub(crate) fn http_get(url: &str) -> HttpResponse {
    try_http_get(url, HTTP_TIMEOUT).unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

/// GET `url` with `Connection: close`, reading the whole response within `timeout`. A body
/// shorter than its Content-Length, or a truncated chunked body, is an error.
pub(crate) fn try_http_get(url: &str, timeout: Duration) -> std::io::Result<HttpResponse> {
    try_http_get_observed(url, timeout, &mut |_| {})
}

/// [`try_http_get`] that calls `on_read` after every read with the number of response bytes
/// (header included) received so far: to report a client's progress, or to read slowly.
pub(crate) fn try_http_get_observed(
    url: &str,
    timeout: Duration,
    on_read: &mut dyn FnMut(u64),
) -> std::io::Result<HttpResponse> {
    use std::io::{Error, ErrorKind};
    let bad = |m: String| Error::new(ErrorKind::InvalidData, m);
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| bad(format!("not an http URL: {url}")))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let deadline = Instant::now() + timeout;
    let addr = hostport
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| bad(format!("cannot resolve {hostport}")))?;
    let mut s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_write_timeout(Some(timeout))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {hostport}\r\nUser-Agent: goward-it\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 64 << 10];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::new(
                ErrorKind::TimedOut,
                format!("GET {url}: timed out"),
            ));
        }
        s.set_read_timeout(Some(left))?;
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                on_read(raw.len() as u64);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| {
            bad(format!(
                "GET {url}: no complete header ({} bytes)",
                raw.len()
            ))
        })?;
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad(format!("bad status line {status_line:?}")))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let raw_body = &raw[head_end + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    let body = if chunked {
        decode_chunked(raw_body).map_err(|m| bad(format!("GET {url}: {m}")))?
    } else if let Some((_, len)) = headers.iter().find(|(k, _)| k == "content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| bad(format!("bad Content-Length {len:?}")))?;
        if raw_body.len() < len {
            return Err(Error::new(
                ErrorKind::UnexpectedEof,
                format!(
                    "GET {url}: body ended after {} of {len} bytes",
                    raw_body.len()
                ),
            ));
        }
        raw_body[..len].to_vec()
    } else {
        raw_body.to_vec()
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

pub(crate) fn decode_chunked(mut b: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = b
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("truncated chunk size")?;
        let size_str = String::from_utf8_lossy(&b[..eol]);
        let size_str = size_str.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_str, 16)
            .map_err(|_| format!("bad chunk size {size_str:?}"))?;
        b = &b[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if b.len() < size + 2 {
            return Err("truncated chunk".into());
        }
        out.extend_from_slice(&b[..size]);
        b = &b[size + 2..];
    }
}

/// A fake upstream serving a fresh checksum database named `db`, and that database's verifier
/// key.
pub(crate) fn fake_with_log(db: &str) -> (fakeproxy::FakeProxy, String) {
    let fake = fakeproxy::FakeProxy::start(testlog::TestLog::new(db));
    let vkey = fake.with_log(|l| l.vkey());
    (fake, vkey)
}

/// goward's metadata record of `p`'s `.mod` or `.zip` (`ext`) in `cache`.
pub(crate) fn meta_file(cache: &Path, p: &fakeproxy::Published, ext: &str) -> PathBuf {
    cache
        .join("meta")
        .join(fakeproxy::escape(&p.path))
        .join("@v")
        .join(format!("{}.{ext}.json", fakeproxy::escape(&p.version)))
}

/// Every regular file under `dir` (recursively), sorted.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() => out.push(p),
                _ => {}
            }
        }
    }
    out.sort();
    out
}

/// Files under `dir` whose bytes contain `needle` (e.g. a tampered artifact that must not have
/// been stored).
pub(crate) fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    assert!(
        !needle.is_empty(),
        "files_containing: empty needle matches everything"
    );
    files_under(dir)
        .into_iter()
        .filter(|p| std::fs::read(p).is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle)))
        .collect()
}

/// Files under `dir` that are a strict, non-empty prefix of `artifact` (a partial download).
pub(crate) fn partial_copies_of(dir: &Path, artifact: &[u8]) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| {
            std::fs::read(p).is_ok_and(|b| {
                !b.is_empty() && b.len() < artifact.len() && artifact.starts_with(&b)
            })
        })
        .collect()
}

/// A signed-note key pair `(skey, vkey)` for `name` from a 32-byte Ed25519 seed, in the formats
/// of x/mod `sumdb/note` `GenerateKey`: `PRIVATE+KEY+<name>+<hash>+base64(0x01‖seed)` and
/// `<name>+<hash>+base64(0x01‖pubkey)`, hash = first 4 bytes (big-endian) of
/// SHA-256(name ‖ "\n" ‖ 0x01 ‖ pubkey) (note.go `keyHash`). Lets tests sign with a key the
/// proxy does not trust.
pub(crate) fn note_keypair(name: &str, seed: [u8; 32]) -> (String, String) {
    use base64::Engine as _;
    use sha2::Digest as _;
    let public = ed25519_dalek::SigningKey::from_bytes(&seed)
        .verifying_key()
        .to_bytes();
    let mut pubkey = vec![1u8];
    pubkey.extend_from_slice(&public);
    let mut privkey = vec![1u8];
    privkey.extend_from_slice(&seed);
    let mut h = sha2::Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update(&pubkey);
    let sum = h.finalize();
    let hash = u32::from_be_bytes([sum[0], sum[1], sum[2], sum[3]]);
    let b64 = base64::engine::general_purpose::STANDARD;
    (
        format!("PRIVATE+KEY+{name}+{hash:08x}+{}", b64.encode(&privkey)),
        format!("{name}+{hash:08x}+{}", b64.encode(&pubkey)),
    )
}

/// Polls `cond` every 20 ms until it holds; panics with `what` after `timeout`.
#[track_caller]
pub(crate) fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A TCP listener the test owns, standing in for an upstream that must never be contacted:
/// goward is configured with its URL, and any connection goward opened would be waiting here.
pub(crate) struct Trap {
    listener: std::net::TcpListener,
}

impl Trap {
    pub(crate) fn new() -> Trap {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the trap");
        listener.set_nonblocking(true).expect("non-blocking trap");
        Trap { listener }
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn url(&self) -> String {
        format!(
            "http://{}",
            self.listener.local_addr().expect("trap address")
        )
    }

    /// Fails if any connection reached the trap (the kernel completes the handshake of every
    /// connection to a listening socket, so one opened and closed is still waiting here).
    #[track_caller]
    pub(crate) fn assert_untouched(&self) {
        match self.listener.accept() {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Ok((_, peer)) => panic!("a connection to the upstream was opened (from {peer})"),
            Err(e) => panic!("accepting on the trap: {e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// x/mod v0.43.0 `sumdb/note/note_test.go`: the PeterNeumann key pair.
    #[test]
    fn note_keypair_matches_xmod_vector() {
        use base64::Engine as _;
        let skey = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
        let raw = base64::engine::general_purpose::STANDARD
            .decode(skey.splitn(5, '+').nth(4).unwrap())
            .unwrap();
        assert_eq!(raw[0], 1);
        let seed: [u8; 32] = raw[1..].try_into().unwrap();
        let (s, v) = note_keypair("PeterNeumann", seed);
        assert_eq!(s, skey);
        assert_eq!(
            v,
            "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        );
    }

    /// The harness reports a goward that exits before listening, with its stderr.
    #[test]
    #[should_panic(expected = "goward printed no listening line")]
    fn goward_that_cannot_start_fails_the_test() {
        let _ = Goward::start("http://127.0.0.1:9", "not-a-key", &["--no-such-flag"]);
    }

    /// The trap sees a connection that was opened and closed again.
    #[test]
    #[should_panic(expected = "a connection to the upstream was opened")]
    fn trap_sees_a_connection() {
        let trap = Trap::new();
        drop(std::net::TcpStream::connect(trap.url().trim_start_matches("http://")).unwrap());
        trap.assert_untouched();
    }

    #[test]
    fn chunked_bodies_are_decoded() {
        assert_eq!(
            decode_chunked(b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert!(decode_chunked(b"5\r\nab").is_err());
    }
}
