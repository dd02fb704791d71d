//! A raw HTTP/1.1 client on `std::net` for requests the harness's `http_get` cannot make: any
//! method, extra headers (`Range`, `If-Range`, `Accept-Encoding`), HEAD, and request targets
//! with arbitrary bytes (NUL, control characters, raw `%`), sent exactly as given.
//!
//! Not registered in `support/mod.rs` (helpers may not edit it): `request.rs` declares it with
#![allow(dead_code)]

use std::io::{Error, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::decode_chunked;

/// A response read to the end of the connection.
#[derive(Clone, Debug)]
pub(crate) struct RawResponse {
    /// Status code.
    pub(crate) status: u16,
    /// Header (lower-cased name, value) pairs in arrival order.
    pub(crate) headers: Vec<(String, String)>,
    /// The decoded body (chunked coding removed, cut at Content-Length); empty for HEAD.
    pub(crate) body: Vec<u8>,
    /// Every byte after the header block, undecoded (for HEAD: must be empty).
    pub(crate) after_head: Vec<u8>,
}

impl RawResponse {
    /// The first header named `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every header named `name`.
    pub(crate) fn headers_named(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as (lossy) UTF-8.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Default timeout of [`request`].
pub(crate) const RAW_TIMEOUT: Duration = Duration::from_secs(120);

/// Sends `METHOD <target> HTTP/1.1` to `base` (`http://host:port`, as `Goward::url()`), with
/// `Host`, `Connection: close` and `headers`, and reads the whole response. `target` is written
/// byte for byte. Panics on transport errors.
#[track_caller]
pub(crate) fn request(
    base: &str,
    method: &str,
    target: &[u8],
    headers: &[(&str, &str)],
) -> RawResponse {
    try_request(base, method, target, headers, RAW_TIMEOUT).unwrap_or_else(|e| {
        panic!(
            "{method} {}: {e}",
            String::from_utf8_lossy(target).escape_debug()
        )
    })
}

/// GET `path` with extra headers.
#[track_caller]
pub(crate) fn get_with(base: &str, path: &str, headers: &[(&str, &str)]) -> RawResponse {
    request(base, "GET", path.as_bytes(), headers)
}

/// [`request`] reporting transport errors.
pub(crate) fn try_request(
    base: &str,
    method: &str,
    target: &[u8],
    headers: &[(&str, &str)],
    timeout: Duration,
) -> std::io::Result<RawResponse> {
    let bad = |m: String| Error::new(ErrorKind::InvalidData, m);
    let hostport = base
        .strip_prefix("http://")
        .ok_or_else(|| bad(format!("not an http URL: {base}")))?
        .trim_end_matches('/');
    let deadline = Instant::now() + timeout;
    let mut s = TcpStream::connect(hostport)?;
    s.set_write_timeout(Some(timeout))?;
    let mut req = Vec::new();
    req.extend_from_slice(method.as_bytes());
    req.push(b' ');
    req.extend_from_slice(target);
    req.extend_from_slice(b" HTTP/1.1\r\n");
    req.extend_from_slice(format!("Host: {hostport}\r\nUser-Agent: goward-it-raw\r\n").as_bytes());
    let mut has_len = false;
    for (k, v) in headers {
        has_len |= k.eq_ignore_ascii_case("content-length");
        req.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    if !has_len && matches!(method, "POST" | "PUT" | "PATCH") {
        req.extend_from_slice(b"Content-Length: 0\r\n");
    }
    req.extend_from_slice(b"Connection: close\r\n\r\n");
    s.write_all(&req)?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 64 << 10];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Error::new(ErrorKind::TimedOut, "timed out"));
        }
        s.set_read_timeout(Some(left))?;
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // The server may reset after answering a malformed request; keep what arrived.
            Err(e) if e.kind() == ErrorKind::ConnectionReset && !raw.is_empty() => break,
            Err(e) => return Err(e),
        }
    }
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad(format!("no complete header ({} bytes)", raw.len())))?;
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
    let after_head = raw[head_end + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    let body = if method == "HEAD" {
        Vec::new()
    } else if chunked {
        decode_chunked(&after_head).map_err(bad)?
    } else if let Some((_, len)) = headers.iter().find(|(k, _)| k == "content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| bad(format!("bad Content-Length {len:?}")))?;
        if after_head.len() < len {
            return Err(Error::new(
                ErrorKind::UnexpectedEof,
                format!("body ended after {} of {len} bytes", after_head.len()),
            ));
        }
        after_head[..len].to_vec()
    } else {
        after_head.clone()
    };
    Ok(RawResponse {
        status,
        headers,
        body,
        after_head,
    })
}

/// Value of the Prometheus sample `name{labels…}` whose label set contains every `labels` pair
/// (order-insensitive); `None` if no such sample. Sums matching samples.
pub(crate) fn metric(page: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in page.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let (label_part, value) = if let Some(r) = rest.strip_prefix('{') {
            let Some(end) = r.find('}') else { continue };
            (&r[..end], r[end + 1..].trim())
        } else if rest.starts_with(' ') {
            ("", rest.trim())
        } else {
            continue;
        };
        let ok = labels
            .iter()
            .all(|(k, v)| label_part.split(',').any(|kv| kv == format!("{k}=\"{v}\"")));
        if !ok {
            continue;
        }
        if let Ok(v) = value.parse::<f64>() {
            *found.get_or_insert(0.0) += v;
        }
    }
    found
}
