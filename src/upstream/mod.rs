//! Fetching bodies from the ordered upstream list (a GOPROXY-style list of module proxies).
//!
//! goward fetches `.info/.mod/.zip/list/@latest` and checksum-database `lookup/tile/latest`
//! bodies from upstream proxies. Nothing fetched here is trusted: callers verify every body.
//! This module only guarantees *bounded* fetches (attacks.md #8, "endless data / slow
//! loris"): every request has a whole-request deadline, every body has an idle timeout
//! between chunks and a caller-chosen size cap, and a body that ends short of its declared
//! `Content-Length` is an error, never a short success.
//!
//! The list syntax and fall-through rules are the go command's (cmd/go/internal/modfetch
//! proxy.go `proxyList` and `TryProxies`), minus `direct`/`off`, which goward rejects.

// Upstream answers are outside input: no unchecked arithmetic, no indexing
// that can panic, no unwrap/expect/panic outside the tests.
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

/// What an offline miss tells the go command's user to do (the fix, not
/// just the fact).
pub(crate) const OFFLINE_HINT: &str = "add it on the connected side with goward mirror";

pub(crate) mod auth;
pub(crate) mod file;
pub(crate) mod http;

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

pub(crate) use file::FileUpstream;
pub(crate) use http::{HttpClient, HttpUpstream};

/// Limits on every upstream request and body; they defend against endless data and slow
/// loris upstreams (attacks.md #8). Size caps are per call ([`Body::bytes`],
/// [`Body::write_to`]) because they depend on the kind of body.
#[derive(Clone, Debug)]
pub struct FetchLimits {
    /// Time allowed to establish a TCP connection, including the TLS handshake.
    /// Default 10 s.
    pub connect_timeout: Duration,
    /// Longest allowed gap between two body chunks (also bounds a stalled file read).
    /// Default 30 s.
    pub idle_timeout: Duration,
    /// Whole request, from sending it to the last body byte, for every body except zips
    /// (list, info, mod, @latest, sumdb lookup/tile/latest). Generous because a proxy such
    /// as proxy.golang.org may first have to fetch an uncached module from its origin.
    /// Default 120 s.
    pub request_timeout: Duration,
    /// Whole request for module zips (`rel` ending in `.zip`), which may be up to 500 MiB.
    /// Default 15 min (about 0.6 MB/s for a maximal zip).
    pub zip_timeout: Duration,
    /// Follow redirects to link-local, unspecified, multicast and cloud
    /// metadata addresses, and to loopback from a non-loopback upstream.
    /// Default false: a hostile upstream must not point goward at the host's
    /// own services or the instance metadata endpoint.
    pub allow_internal_redirects: bool,
}

impl Default for FetchLimits {
    fn default() -> Self {
        FetchLimits {
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(120),
            zip_timeout: Duration::from_secs(15 * 60),
            allow_internal_redirects: false,
        }
    }
}

impl FetchLimits {
    /// The whole-request limit for `rel`: [`FetchLimits::zip_timeout`] for module zips,
    /// [`FetchLimits::request_timeout`] for everything else.
    pub fn total_timeout(&self, rel: &str) -> Duration {
        if rel.ends_with(".zip") {
            self.zip_timeout
        } else {
            self.request_timeout
        }
    }
}

/// User-Agent of goward's upstream requests.
pub(crate) const USER_AGENT: &str = concat!("goward/", env!("CARGO_PKG_VERSION"));

/// Whether goward may reach its upstreams at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpstreamMode {
    /// Upstream proxies and checksum databases are asked for what the cache lacks.
    #[default]
    Online,
    /// Only the cache answers (air gap, or a build that must not reach out):
    /// no HTTP client exists, and a missing piece is "not in this offline mirror".
    Offline,
}

/// How upstreams are reached: through the one HTTP client (online), or not
/// at all (offline). Every upstream list and checksum-database endpoint is
/// built from this, so an offline pipeline holds no client and cannot open
/// a socket by construction.
#[derive(Clone, Debug)]
pub(crate) enum Network {
    /// The shared HTTP client.
    Online(HttpClient),
    /// No client.
    Offline,
}

impl Network {
    /// Builds the HTTP client for `Online` (no socket is opened yet); none for `Offline`.
    pub(crate) fn new(
        mode: UpstreamMode,
        limits: &FetchLimits,
    ) -> Result<Network, UpstreamConfigError> {
        Ok(match mode {
            UpstreamMode::Online => Network::Online(HttpClient::new(limits, USER_AGENT)?),
            UpstreamMode::Offline => Network::Offline,
        })
    }

    /// The mode.
    pub(crate) fn mode(&self) -> UpstreamMode {
        match self {
            Network::Online(_) => UpstreamMode::Online,
            Network::Offline => UpstreamMode::Offline,
        }
    }

    /// A GOPROXY-style list with `Authorization` as `authorize` resolves it.
    /// Offline the list is still checked, so a configuration valid offline is
    /// valid online, but no upstream is built and no secret is read.
    pub(crate) fn proxy_list(
        &self,
        spec: &str,
        authorize: Authorize<'_>,
    ) -> Result<ProxyList, UpstreamConfigError> {
        match self {
            Network::Online(client) => ProxyList::parse_with_auth(spec, client, authorize),
            Network::Offline => parse_spec(spec).map(|_| ProxyList::offline()),
        }
    }

    /// One upstream at `base` (a checksum database's own URL).
    pub(crate) fn single(&self, base: &str) -> Result<Arc<dyn Upstream>, UpstreamConfigError> {
        Ok(match self {
            Network::Online(client) => Arc::new(HttpUpstream::new(base, client)?),
            Network::Offline => Arc::new(OfflineUpstream),
        })
    }
}

/// The upstream of offline mode: it has no client, and every fetch fails
/// with [`FetchErrorKind::Offline`] before anything leaves the process.
#[derive(Debug)]
pub(crate) struct OfflineUpstream;

impl Upstream for OfflineUpstream {
    fn base(&self) -> &str {
        "offline"
    }

    fn get<'a>(&'a self, rel: &'a str) -> BoxFuture<'a, Result<Body, FetchError>> {
        Box::pin(async move { Err(FetchError::new(FetchErrorKind::Offline, rel)) })
    }
}

/// When a request falls through to the next list entry; set by the separator *after* an
/// entry (proxy.go `proxySpec.fallBackOnError`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fallback {
    /// `,` (or the last entry): fall through only on "not found" (404/410).
    NotFoundOnly,
    /// `|`: fall through on any error.
    AnyError,
}

/// One upstream proxy: [`HttpUpstream`] (http/https) or [`FileUpstream`] (`file://`).
pub(crate) trait Upstream: Send + Sync + fmt::Debug {
    /// The base URL, with any password redacted; for logs and error messages.
    fn base(&self) -> &str;

    /// Fetches `rel`, an already-escaped path relative to the base, e.g.
    /// `github.com/!azure/x/@v/v1.0.0.zip` or `sumdb/sum.golang.org/lookup/...`.
    /// Succeeds only on a 200 (web/api.go `Response.Err`); the body is not yet read.
    fn get<'a>(&'a self, rel: &'a str) -> BoxFuture<'a, Result<Body, FetchError>>;
}

/// A response body not yet read: a stream of chunks plus the declared `Content-Length`.
/// Reading enforces the idle timeout between chunks, the request deadline, a size cap and
/// completeness against the declared length.
pub(crate) struct Body {
    stream: BoxStream<'static, Result<Bytes, FetchError>>,
    content_length: Option<u64>,
    url: String,
    idle_timeout: Duration,
    deadline: Instant,
    total_timeout: Duration,
    received: u64,
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Body")
            .field("url", &self.url)
            .field("content_length", &self.content_length)
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

/// Initial buffer for [`Body::bytes`] is the declared length, but never more than this, so a
/// lying `Content-Length` cannot make us allocate up front.
const MAX_PREALLOC: u64 = 8 << 20;

impl Body {
    /// Wraps a chunk stream. `url` names the body in errors; `deadline` is the end of the
    /// whole request (it started before the body), `total_timeout` its length for messages.
    /// Public so tests and fakes elsewhere can build bodies.
    pub(crate) fn from_stream(
        url: impl Into<String>,
        content_length: Option<u64>,
        stream: BoxStream<'static, Result<Bytes, FetchError>>,
        idle_timeout: Duration,
        deadline: Instant,
        total_timeout: Duration,
    ) -> Body {
        Body {
            stream,
            content_length,
            url: url.into(),
            idle_timeout,
            deadline,
            total_timeout,
            received: 0,
        }
    }

    /// A body already in memory (for fakes and tests); generous timeouts.
    #[cfg(test)]
    pub(crate) fn from_bytes(url: impl Into<String>, data: Bytes) -> Body {
        let len = data.len() as u64;
        let limits = FetchLimits::default();
        Body::from_stream(
            url,
            Some(len),
            futures_util::stream::once(async move { Ok(data) }).boxed(),
            limits.idle_timeout,
            deadline_after(limits.request_timeout),
            limits.request_timeout,
        )
    }

    /// The length the upstream declared, if any. Untrusted: reading checks it.
    pub(crate) fn content_length(&self) -> Option<u64> {
        self.content_length
    }

    /// The (redacted) URL this body comes from.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    fn error(&self, kind: FetchErrorKind, detail: impl Into<String>) -> FetchError {
        FetchError::new(kind, self.url.clone()).with_detail(detail)
    }

    /// Fails before reading anything if the declared length already exceeds `max`.
    fn check_declared(&self, max: u64) -> Result<(), FetchError> {
        match self.content_length {
            Some(len) if len > max => Err(self.error(
                FetchErrorKind::TooLarge { limit: max },
                format!("declared Content-Length is {len}"),
            )),
            _ => Ok(()),
        }
    }

    /// The next non-empty chunk, or `None` at the end; enforces the idle timeout, the
    /// request deadline and `max` (the running total may not exceed it).
    async fn next_chunk(&mut self, max: u64) -> Result<Option<Bytes>, FetchError> {
        loop {
            let idle_at = deadline_after(self.idle_timeout);
            let (at, whole) = if idle_at < self.deadline {
                (idle_at, false)
            } else {
                (self.deadline, true)
            };
            let item = match tokio::time::timeout_at(at, self.stream.next()).await {
                Ok(item) => item,
                Err(_) => {
                    let detail = if whole {
                        format!(
                            "whole-request limit of {:?} reached after {} body bytes",
                            self.total_timeout, self.received
                        )
                    } else {
                        format!(
                            "no body data for {:?} after {} bytes",
                            self.idle_timeout, self.received
                        )
                    };
                    return Err(self.error(FetchErrorKind::Timeout, detail));
                }
            };
            match item {
                None => {
                    return match self.content_length {
                        Some(len) if self.received < len => Err(self.error(
                            FetchErrorKind::Truncated,
                            format!("body ended after {} of {len} declared bytes", self.received),
                        )),
                        Some(len) if self.received > len => Err(self.error(
                            FetchErrorKind::Io,
                            format!(
                                "body has {} bytes but Content-Length declared {len}",
                                self.received
                            ),
                        )),
                        _ => Ok(None),
                    };
                }
                Some(Err(mut e)) => {
                    e.append_detail(&format!("after {} body bytes", self.received));
                    return Err(e);
                }
                Some(Ok(chunk)) if chunk.is_empty() => continue,
                Some(Ok(chunk)) => {
                    let total = self.received.saturating_add(chunk.len() as u64);
                    if total > max {
                        return Err(self.error(
                            FetchErrorKind::TooLarge { limit: max },
                            format!("{total} bytes received"),
                        ));
                    }
                    self.received = total;
                    return Ok(Some(chunk));
                }
            }
        }
    }

    /// Reads the whole body into memory, failing if it exceeds `max` bytes (checked against
    /// the declared length first, then while reading), stalls, overruns the request deadline
    /// or ends short of its declared length.
    pub(crate) async fn bytes(mut self, max: u64) -> Result<Bytes, FetchError> {
        self.check_declared(max)?;
        let cap = self.content_length.unwrap_or(0).min(MAX_PREALLOC).min(max);
        // `cap` ≤ MAX_PREALLOC (8 MiB), so it fits in usize on every supported target.
        let mut buf = BytesMut::with_capacity(usize::try_from(cap).unwrap_or(0));
        while let Some(chunk) = self.next_chunk(max).await? {
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }

    /// Streams the body into `dst` (never buffering it whole) and returns the byte count.
    /// Fails like [`Body::bytes`]; on failure `dst` holds a partial body, which the caller
    /// must discard. `dst` is flushed on success (not synced).
    pub(crate) async fn write_to(
        mut self,
        dst: &mut tokio::fs::File,
        max: u64,
    ) -> Result<u64, FetchError> {
        self.check_declared(max)?;
        while let Some(chunk) = self.next_chunk(max).await? {
            dst.write_all(&chunk).await.map_err(|e| {
                self.error(FetchErrorKind::Io, format!("writing to local file: {e}"))
            })?;
        }
        dst.flush()
            .await
            .map_err(|e| self.error(FetchErrorKind::Io, format!("writing to local file: {e}")))?;
        Ok(self.received)
    }

    /// Reads at most `n` bytes (for error messages); stops quietly at any error.
    pub(crate) async fn prefix(mut self, n: u64) -> Bytes {
        let mut buf = BytesMut::new();
        while (buf.len() as u64) < n {
            match self.next_chunk(u64::MAX).await {
                Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
                _ => break,
            }
        }
        buf.truncate(usize::try_from(n).unwrap_or(usize::MAX));
        buf.freeze()
    }
}

/// Why a fetch failed. Only [`FetchErrorKind::NotFound`] lets a `,` list fall through.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum FetchErrorKind {
    /// 404 or 410, the only statuses that mean "not found" (web/api.go `HTTPError.Is`);
    /// `message` is the upstream's text/plain reason, sanitized to one line of at most 200
    /// characters (empty if none or unusable).
    NotFound {
        /// 404 or 410.
        status: u16,
        /// Upstream's sanitized reason.
        message: String,
    },
    /// Any other non-200 status (403, 500, an unfollowed 3xx, even 206).
    Status(u16),
    /// No response, or no body data, in time.
    Timeout,
    /// The body is (or declares itself) larger than the caller's cap.
    TooLarge {
        /// The cap in bytes.
        limit: u64,
    },
    /// The body ended (or the connection broke) before it was complete.
    Truncated,
    /// The connection (TCP or TLS) could not be established.
    Connect,
    /// Any other transport or local I/O failure.
    Io,
    /// A redirect was refused: https→http, more than 10 redirects, or an
    /// internal address.
    Redirect,
    /// The body carries a `Content-Encoding` goward did not ask for (it asks
    /// for none): read as plain text it would be garbage.
    Encoded(String),
    /// The requested relative path is unsafe (`..`, `\`, NUL, `%`, leading `/`, ...);
    /// callers pass validated paths, so this is a bug upstream of this module.
    InvalidPath,
    /// Offline mode: there is no upstream to ask, and nothing was asked.
    Offline,
}

impl fmt::Display for FetchErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchErrorKind::NotFound { status, message } => {
                write!(f, "{status} {}", status_text(*status))?;
                if !message.is_empty() {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            FetchErrorKind::Status(status) => write!(f, "{status} {}", status_text(*status)),
            FetchErrorKind::Timeout => f.write_str("timed out"),
            FetchErrorKind::TooLarge { limit } => {
                write!(f, "body exceeds the limit of {limit} bytes")
            }
            FetchErrorKind::Truncated => f.write_str("body truncated"),
            FetchErrorKind::Connect => f.write_str("cannot connect"),
            FetchErrorKind::Io => f.write_str("I/O error"),
            FetchErrorKind::Redirect => f.write_str("redirect refused"),
            FetchErrorKind::InvalidPath => f.write_str("unsafe upstream path"),
            FetchErrorKind::Encoded(enc) => {
                write!(f, "unrequested Content-Encoding {enc:?}")
            }
            FetchErrorKind::Offline => f.write_str("not in this offline mirror"),
        }
    }
}

fn status_text(status: u16) -> &'static str {
    reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
}

/// A failed upstream fetch: what was requested and why it failed, e.g.
/// `GET https://x/y: 500 Internal Server Error: <first line of upstream text/plain body>`.
#[derive(Clone, Debug, thiserror::Error)]
#[error("GET {url}: {kind}{}", DetailSuffix(.detail.as_deref()))]
pub(crate) struct FetchError {
    /// Classification, for fall-through decisions and metrics.
    pub kind: FetchErrorKind,
    /// The requested URL, password redacted.
    pub url: String,
    detail: Option<String>,
}

struct DetailSuffix<'a>(Option<&'a str>);

impl fmt::Display for DetailSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(d) if !d.is_empty() => write!(f, ": {d}"),
            _ => Ok(()),
        }
    }
}

impl FetchError {
    /// A new error without detail.
    pub(crate) fn new(kind: FetchErrorKind, url: impl Into<String>) -> FetchError {
        FetchError {
            kind,
            url: url.into(),
            detail: None,
        }
    }

    /// Sets the human-readable cause appended to the message (ignored if empty).
    pub(crate) fn with_detail(mut self, detail: impl Into<String>) -> FetchError {
        let detail = detail.into();
        self.detail = (!detail.is_empty()).then_some(detail);
        self
    }

    fn append_detail(&mut self, more: &str) {
        self.detail = Some(match self.detail.take() {
            Some(d) => format!("{d} ({more})"),
            None => more.to_string(),
        });
    }

    /// The cause appended to the message, if any.
    #[cfg(test)]
    pub(crate) fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// True for 404/410 (fs.ErrNotExist in the go command): the only errors after which a
    /// `,` list falls through.
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self.kind, FetchErrorKind::NotFound { .. })
    }

    /// A short fixed label for metrics.
    pub(crate) fn reason(&self) -> &'static str {
        match self.kind {
            FetchErrorKind::NotFound { .. } => "not_found",
            FetchErrorKind::Status(_) => "status",
            FetchErrorKind::Timeout => "timeout",
            FetchErrorKind::TooLarge { .. } => "too_large",
            FetchErrorKind::Truncated => "truncated",
            FetchErrorKind::Connect => "connect",
            FetchErrorKind::Io => "io",
            FetchErrorKind::Redirect => "redirect",
            FetchErrorKind::InvalidPath => "invalid_path",
            FetchErrorKind::Encoded(_) => "encoded",
            FetchErrorKind::Offline => "offline",
        }
    }
}

/// A bad upstream list or HTTP client setup; reported at start-up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum UpstreamConfigError {
    /// No entries after removing empty ones (proxy.go `proxyList`).
    #[error("upstream list {spec:?} contains no entries")]
    Empty {
        /// The list as given.
        spec: String,
    },
    /// `direct` would mean fetching from version control.
    #[error(
        "upstream list entry \"direct\": direct VCS fetching is not supported by goward; list only proxies"
    )]
    Direct,
    /// `off` would disable every lookup.
    #[error(
        "upstream list entry \"off\": goward cannot run with lookups disabled; list only proxies"
    )]
    Off,
    /// Not a parseable URL.
    #[error("upstream list entry {entry:?}: invalid URL: {reason}")]
    InvalidUrl {
        /// The entry, password redacted.
        entry: String,
        /// What the URL parser said.
        reason: String,
    },
    /// A relative URL or a single word (proxy.go `newProxyRepo`).
    #[error("upstream list entry {entry:?}: missing scheme (use https://, http:// or file://)")]
    MissingScheme {
        /// The entry, password redacted.
        entry: String,
    },
    /// A scheme other than http, https, file.
    #[error("upstream list entry {entry:?}: invalid scheme {scheme:?} (must be https, http, file)")]
    Scheme {
        /// The entry, password redacted.
        entry: String,
        /// The offending scheme.
        scheme: String,
    },
    /// A `file://` URL with anything besides an absolute path (proxy.go `newProxyRepo`).
    #[error(
        "upstream list entry {entry:?}: a file:// URL may hold only an absolute path (no host, user, port, query or fragment)"
    )]
    FileNotPath {
        /// The entry, password redacted.
        entry: String,
    },
    /// Windows only: a `file://` URL whose path does not start with a drive letter, such as
    /// `file:///srv/goproxy`, or `file://C:/goproxy` with the drive where the host goes
    /// (cmd/go web/url_windows.go `convertFileURLPath`: "file URL missing drive letter",
    /// "file URL encodes volume in host field: too few slashes?").
    #[error(
        "upstream list entry {entry:?}: a file:// URL on Windows must name a drive after three slashes, as in file:///C:/goproxy"
    )]
    FileNoDrive {
        /// The entry, password redacted.
        entry: String,
    },
    /// An http(s) URL with a fragment, which cannot be joined with request paths.
    #[error("upstream list entry {entry:?}: an http(s) proxy URL may not have a fragment")]
    Fragment {
        /// The entry, password redacted.
        entry: String,
    },
    /// The TLS configuration could not be built (typically: no OS root certificates).
    #[error(
        "building the HTTP client: TLS setup failed: {0} (install the OS CA certificates, or set SSL_CERT_FILE / SSL_CERT_DIR)"
    )]
    Tls(#[source] rustls::Error),
    /// reqwest refused the client configuration (e.g. an invalid User-Agent).
    #[error("building the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// Credentials for an entry could not be resolved.
    #[error("upstream list entry {entry:?}: credentials: {reason}")]
    Auth {
        /// The entry, password redacted.
        entry: String,
        /// What is wrong.
        reason: String,
    },
}

/// Resolves the `Authorization` header value for an http(s) entry of a
/// [`ProxyList`] (by its URL); `Ok(None)` sends none.
pub(crate) type Authorize<'a> = &'a dyn Fn(&reqwest::Url) -> Result<Option<String>, String>;

/// An entry of a [`ProxyList`].
#[derive(Debug)]
struct Entry {
    upstream: Box<dyn Upstream>,
    fallback: Fallback,
}

/// A parsed GOPROXY-style list: upstream proxies in order, each with its fall-through rule.
#[derive(Debug)]
pub(crate) struct ProxyList {
    entries: Vec<Entry>,
}

impl ProxyList {
    /// The list as configured, credentials redacted (for the operator's page).
    pub(crate) fn describe(&self) -> String {
        // An entry's separator (after it) says when to fall through from it.
        let mut out = String::new();
        let mut sep = None;
        for e in &self.entries {
            out.extend(sep);
            out.push_str(&redact_str(e.upstream.base()));
            sep = Some(match e.fallback {
                Fallback::AnyError => '|',
                Fallback::NotFoundOnly => ',',
            });
        }
        out
    }

    /// Parses a list with [`parse_spec`] and builds its upstreams.
    #[cfg(test)]
    pub(crate) fn parse(spec: &str, client: &HttpClient) -> Result<ProxyList, UpstreamConfigError> {
        ProxyList::parse_with_auth(spec, client, &|_| Ok(None))
    }

    /// `ProxyList::parse` (in tests), with an `Authorization` header for every
    /// http(s) entry as `authorize` resolves it (private routes of the
    /// policy).
    pub(crate) fn parse_with_auth(
        spec: &str,
        client: &HttpClient,
        authorize: Authorize<'_>,
    ) -> Result<ProxyList, UpstreamConfigError> {
        let entries = parse_spec(spec)?
            .into_iter()
            .map(|e| {
                Ok(Entry {
                    fallback: e.fallback,
                    upstream: new_upstream(e, client, authorize)?,
                })
            })
            .collect::<Result<_, UpstreamConfigError>>()?;
        Ok(ProxyList { entries })
    }

    /// The list of offline mode: no entries, built without an HTTP client,
    /// so nothing fetched through it can open a socket; every fetch fails
    /// with [`FetchErrorKind::Offline`].
    pub(crate) fn offline() -> ProxyList {
        ProxyList {
            entries: Vec::new(),
        }
    }

    /// A list of one `file://` tree, built without an HTTP client: nothing
    /// fetched through it can open a socket (`bundle import`, which also
    /// runs before `serve --offline` starts, to complete an interrupted one).
    pub(crate) fn file_tree(dir: &std::path::Path, limits: &FetchLimits) -> ProxyList {
        ProxyList {
            entries: vec![Entry {
                upstream: Box::new(file::FileUpstream::new(dir, limits)),
                fallback: Fallback::NotFoundOnly,
            }],
        }
    }

    /// The entries in order with their fall-through rules.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&dyn Upstream, Fallback)> {
        self.entries
            .iter()
            .map(|e| (&*e.upstream as &dyn Upstream, e.fallback))
    }

    /// Fetches `rel` from the first entry that has it (proxy.go `TryProxies`): stops at the
    /// first success; falls through after "not found" (404/410), or after any error when the
    /// entry was followed by `|`. The error reported is, as in `TryProxies`, the *last*
    /// error that is not "not found" if any, else the last "not found" one. Fall-through is
    /// decided on the response status; errors while reading the returned [`Body`] are the
    /// caller's. Returns the body and the index of the entry that answered.
    pub(crate) async fn get(&self, rel: &str) -> Result<(Body, usize), FetchError> {
        let mut best: Option<FetchError> = None;
        for (i, entry) in self.entries.iter().enumerate() {
            match entry.upstream.get(rel).await {
                Ok(body) => return Ok((body, i)),
                Err(err) => {
                    let not_found = err.is_not_found();
                    tracing::debug!(upstream = entry.upstream.base(), error = %err, "upstream fetch failed");
                    let stop = !not_found && entry.fallback == Fallback::NotFoundOnly;
                    if !not_found || best.as_ref().is_none_or(FetchError::is_not_found) {
                        best = Some(err);
                    }
                    if stop {
                        break;
                    }
                }
            }
        }
        // `parse` never builds an empty list: only the offline one is empty.
        Err(best.unwrap_or_else(|| FetchError::new(FetchErrorKind::Offline, rel)))
    }
}

/// An entry of a GOPROXY-style list, checked but not connected.
#[derive(Clone, Debug)]
pub(crate) struct SpecEntry {
    /// The entry as written, trimmed, with `https://` prefixed to a bare host (credentials
    /// are not redacted).
    pub url: String,
    /// `url` parsed; its scheme is http, https or file.
    pub parsed: reqwest::Url,
    /// What the separator after the entry says.
    pub fallback: Fallback,
}

/// Parses and checks a list as the go command parses GOPROXY (proxy.go `proxyList`): split
/// on `,` and `|`, where the separator *after* an entry sets its [`Fallback`]; trim
/// whitespace; skip empty entries; prefix `https://` to an entry containing `.`, `:` or `/`
/// that has no `:/` and is not an absolute path (`/...`, or on Windows also `C:\...` and
/// `\\host\share`, as `filepath.IsAbs`). Differences from the go command: `off` and
/// `direct` are errors (goward only talks to proxies), and so is an http(s) URL with a
/// fragment. Needs no HTTP client, so the policy checks its private upstreams with it:
/// every list it accepts, [`ProxyList::parse_with_auth`] accepts.
pub(crate) fn parse_spec(spec: &str) -> Result<Vec<SpecEntry>, UpstreamConfigError> {
    let mut entries = Vec::new();
    let mut rest = spec;
    while !rest.is_empty() {
        let (raw, fallback) = match rest.find([',', '|']) {
            Some(i) => {
                let (raw, tail) = rest.split_at(i);
                let mut tail = tail.chars();
                let fallback = if tail.next() == Some('|') {
                    Fallback::AnyError
                } else {
                    Fallback::NotFoundOnly
                };
                rest = tail.as_str();
                (raw, fallback)
            }
            None => (std::mem::take(&mut rest), Fallback::NotFoundOnly),
        };
        let raw = raw.trim();
        match raw {
            "" => continue,
            "off" => return Err(UpstreamConfigError::Off),
            "direct" => return Err(UpstreamConfigError::Direct),
            _ => {}
        }
        let url = if raw.contains(['.', ':', '/'])
            && !raw.contains(":/")
            && !raw.starts_with('/')
            && !Path::new(raw).is_absolute()
        {
            format!("https://{raw}")
        } else {
            raw.to_string()
        };
        let parsed = parse_url(&url)?;
        match parsed.scheme() {
            "http" | "https" if parsed.fragment().is_some() => {
                return Err(UpstreamConfigError::Fragment {
                    entry: redact_str(&url),
                });
            }
            "http" | "https" => {}
            "file" => {
                // Built only for its checks; `new_upstream` builds it with the client's limits.
                FileUpstream::from_url(&url, &parsed, &FetchLimits::default())?;
            }
            other => {
                return Err(UpstreamConfigError::Scheme {
                    entry: redact_str(&url),
                    scheme: other.to_string(),
                });
            }
        }
        entries.push(SpecEntry {
            url,
            parsed,
            fallback,
        });
    }
    if entries.is_empty() {
        return Err(UpstreamConfigError::Empty {
            spec: spec.to_string(),
        });
    }
    Ok(entries)
}

/// The upstream for an entry [`parse_spec`] accepted.
fn new_upstream(
    entry: SpecEntry,
    client: &HttpClient,
    authorize: Authorize<'_>,
) -> Result<Box<dyn Upstream>, UpstreamConfigError> {
    let SpecEntry { url, parsed, .. } = entry;
    if parsed.scheme() == "file" {
        return Ok(Box::new(FileUpstream::from_url(
            &url,
            &parsed,
            client.limits(),
        )?));
    }
    let auth = authorize(&parsed).map_err(|reason| UpstreamConfigError::Auth {
        entry: redact_str(&url),
        reason,
    })?;
    let up = HttpUpstream::from_url(&url, parsed, client)?;
    Ok(Box::new(match auth {
        Some(v) => up
            .with_authorization(&v)
            .map_err(|reason| UpstreamConfigError::Auth {
                entry: redact_str(&url),
                reason,
            })?,
        None => up,
    }))
}

/// Parses a list entry; a missing scheme gets its own error, as in cmd/go proxy.go
/// `newProxyRepo` ("invalid proxy URL missing scheme"). On Windows a bare absolute path
/// such as `C:\goproxy` counts as missing its scheme too (the go command reports its
/// drive letter as an invalid scheme "c"), so the error suggests `file://`.
pub(crate) fn parse_url(raw: &str) -> Result<reqwest::Url, UpstreamConfigError> {
    // RFC 3986 scheme: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"
    let has_scheme = !Path::new(raw).is_absolute()
        && raw.split_once(':').is_some_and(|(scheme, _)| {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        });
    if !has_scheme {
        return Err(UpstreamConfigError::MissingScheme {
            entry: redact_str(raw),
        });
    }
    reqwest::Url::parse(raw).map_err(|e| UpstreamConfigError::InvalidUrl {
        entry: redact_str(raw),
        reason: e.to_string(),
    })
}

/// Rejects a relative request path that could escape the base or be reinterpreted by a URL
/// parser or file system: empty, leading `/`, `\`, NUL or other control characters, `%`
/// (`%2e%2e` is a dot segment to URL parsers), `?`, `#`, and empty, `.` or `..` segments.
/// Defence in depth: callers only pass validated escaped paths. A `..` *inside* a segment
/// (`a..b`) is allowed because module paths may contain it (x/mod module.go `checkElem`).
pub(crate) fn check_rel(rel: &str) -> Result<(), &'static str> {
    if rel.is_empty() {
        return Err("empty path");
    }
    if rel.starts_with('/') {
        return Err("path starts with '/'");
    }
    if let Some(c) = rel
        .chars()
        .find(|&c| c.is_control() || matches!(c, '\\' | '%' | '?' | '#'))
    {
        return Err(match c {
            '\0' => "path contains NUL",
            '\\' => "path contains '\\'",
            '%' => "path contains '%'",
            '?' | '#' => "path contains '?' or '#'",
            _ => "path contains a control character",
        });
    }
    if rel
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Err("path has an empty, '.' or '..' segment");
    }
    Ok(())
}

/// A GOPROXY-style list for logs: every entry's password replaced by `xxxxx`,
/// separators kept (the start-up line must not print credentials).
pub(crate) fn redact_list(list: &str) -> String {
    let mut out = String::with_capacity(list.len());
    let mut rest = list;
    while let Some(i) = rest.find([',', '|']) {
        let (entry, tail) = rest.split_at(i);
        out.push_str(&redact_str(entry));
        let mut tail = tail.chars();
        out.extend(tail.next());
        rest = tail.as_str();
    }
    out.push_str(&redact_str(rest));
    out
}

/// Replaces the password in a URL-like string with `xxxxx`, as Go's `url.URL.Redacted`
/// does, and also a user name that stands alone (a token), without requiring the string
/// to parse.
pub(crate) fn redact_str(s: &str) -> String {
    let Some((scheme, after)) = s.split_once("://") else {
        return s.to_string();
    };
    let (authority, tail) = after.split_at(after.find(['/', '?', '#']).unwrap_or(after.len()));
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return s.to_string();
    };
    // A user name alone is often a token (`https://TOKEN@host`): hidden too.
    let user = userinfo
        .split_once(':')
        .map_or("xxxxx", |(user, _password)| user);
    let password = if userinfo.contains(':') { ":xxxxx" } else { "" };
    format!("{scheme}://{user}{password}@{host}{tail}")
}

/// `now + d`, saturating: a configured timeout too large for the clock
/// means "practically never", not a panic.
pub(crate) fn deadline_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(Duration::from_secs(u64::from(u32::MAX))))
        .unwrap_or(now)
}

/// Longest error body prefix examined, as the go command (web/api.go `maxErrorDetailBytes`).
pub(crate) const MAX_ERROR_DETAIL_BYTES: u64 = 8 * 81;

/// Longest reason kept from an upstream error body.
const MAX_MESSAGE_CHARS: usize = 200;

/// Whether a `Content-Type` is `text/plain` with charset utf-8, us-ascii or none: only then
/// does the go command show the body (web/http.go `get`).
pub(crate) fn is_plain_text(content_type: &str) -> bool {
    let mut parts = content_type.split(';');
    let media = parts.next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("text/plain") {
        return false;
    }
    for param in parts {
        let Some((key, value)) = param.split_once('=') else {
            continue;
        };
        if key.trim().eq_ignore_ascii_case("charset") {
            let value = value.trim().trim_matches('"');
            return value.is_empty()
                || value.eq_ignore_ascii_case("utf-8")
                || value.eq_ignore_ascii_case("us-ascii");
        }
    }
    true
}

/// Turns an upstream error body prefix into a one-line reason: like web/api.go
/// `formatErrorDetail`, nothing if it is not UTF-8 or holds a non-graphic, non-space
/// character (so the upstream cannot drive the user's terminal); then only the first line,
/// whitespace collapsed to spaces, at most 200 characters.
pub(crate) fn error_message(prefix: &[u8]) -> String {
    let text = match std::str::from_utf8(prefix) {
        Ok(t) => t,
        // A multi-byte character cut by the prefix limit is not the server's fault.
        Err(e) if e.error_len().is_none() => prefix
            .get(..e.valid_up_to())
            .and_then(|p| std::str::from_utf8(p).ok())
            .unwrap_or(""),
        Err(_) => return String::new(),
    };
    if text.chars().any(|c| !c.is_whitespace() && !is_graphic(c)) {
        return String::new();
    }
    let line = text.split('\n').next().unwrap_or("").trim();
    let line: String = line
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    if line.chars().count() <= MAX_MESSAGE_CHARS {
        return line;
    }
    let mut cut: String = line.chars().take(MAX_MESSAGE_CHARS - 3).collect();
    cut.push_str("...");
    cut
}

/// Approximates Go's `unicode.IsGraphic`: rejects control characters, the format
/// characters that reorder or hide text (bidi controls, zero-width characters), private
/// use and noncharacters.
fn is_graphic(c: char) -> bool {
    !(c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E000}'..='\u{F8FF}'
            | '\u{FDD0}'..='\u{FDEF}'
            | '\u{E0000}'..='\u{E007F}'
            | '\u{F0000}'..='\u{10FFFF}')
        || (c as u32) & 0xFFFE == 0xFFFE)
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Loopback-only fake servers for the upstream tests.
    use std::net::SocketAddr;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::{FetchLimits, HttpClient};

    /// Short limits so timeout tests finish quickly (no test asserts on elapsed time).
    pub(crate) fn limits() -> FetchLimits {
        FetchLimits {
            connect_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_millis(200),
            request_timeout: Duration::from_secs(5),
            zip_timeout: Duration::from_secs(5),
            allow_internal_redirects: false,
        }
    }

    pub(crate) fn client_with(limits: &FetchLimits) -> HttpClient {
        HttpClient::build(limits, "goward-test/1", false).unwrap()
    }

    pub(crate) fn client() -> HttpClient {
        client_with(&limits())
    }

    /// Serves `router` on 127.0.0.1:0 in the background.
    pub(crate) async fn serve(router: axum::Router) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        addr
    }

    /// Reads a request head (up to the blank line) from `sock`.
    pub(crate) async fn read_head(sock: &mut TcpStream) {
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            match sock.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
    }

    /// A raw HTTP/1.1 server on 127.0.0.1:0: for each connection, reads the request head and
    /// then runs `respond`, which may misbehave freely.
    pub(crate) async fn serve_raw<F, Fut>(respond: F) -> SocketAddr
    where
        F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                read_head(&mut sock).await;
                tokio::spawn(respond(sock));
            }
        });
        addr
    }

    /// Writes `data`, ignoring errors (the client may hang up first).
    pub(crate) async fn write(sock: &mut TcpStream, data: &[u8]) -> bool {
        sock.write_all(data).await.is_ok() && sock.flush().await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::http::{StatusCode, Uri, header};
    use axum::response::IntoResponse;

    use super::testutil::{client, serve};
    use super::*;

    fn parse(spec: &str) -> Result<ProxyList, UpstreamConfigError> {
        ProxyList::parse(spec, &client())
    }

    fn shape(list: &ProxyList) -> Vec<(String, Fallback)> {
        list.entries()
            .map(|(u, f)| (u.base().to_string(), f))
            .collect()
    }

    #[test]
    fn start_line_lists_never_show_passwords() {
        assert_eq!(
            redact_list("http://u:secret@a.example|https://b.example,https://t:tok@c.example/p"),
            "http://u:xxxxx@a.example|https://b.example,https://t:xxxxx@c.example/p"
        );
    }

    #[test]
    fn parse_lists() {
        use Fallback::{AnyError as A, NotFoundOnly as N};
        let cases: &[(&str, &[(&str, Fallback)])] = &[
            ("https://a.example", &[("https://a.example/", N)]),
            (
                "https://a.example,https://b.example",
                &[("https://a.example/", N), ("https://b.example/", N)],
            ),
            (
                "https://a.example|https://b.example,http://c.example/p/",
                &[
                    ("https://a.example/", A),
                    ("https://b.example/", N),
                    ("http://c.example/p/", N),
                ],
            ),
            // Whitespace is trimmed, empty entries skipped; the separator after an entry
            // sets its fallback even when empty entries follow.
            (
                " https://a.example , , |https://b.example| ",
                &[("https://a.example/", N), ("https://b.example/", A)],
            ),
            ("\thttps://a.example\n", &[("https://a.example/", N)]),
            // Implicit https:// (proxy.go: contains . : or / but no :/ and not absolute).
            ("proxy.golang.org", &[("https://proxy.golang.org/", N)]),
            ("localhost:8080", &[("https://localhost:8080/", N)]),
            ("example.com/goproxy", &[("https://example.com/goproxy", N)]),
            ("HTTPS://A.example", &[("https://a.example/", N)]),
            (
                "https://user:secret@a.example/",
                &[("https://user:xxxxx@a.example/", N)],
            ),
        ];
        // A file:// path must be absolute on the OS goward runs on.
        #[cfg(not(windows))]
        let file_cases: &[(&str, &[(&str, Fallback)])] = &[
            ("file:///srv/goproxy", &[("file:///srv/goproxy", N)]),
            (
                "file:/srv/goproxy|https://a.example",
                &[("file:///srv/goproxy", A), ("https://a.example/", N)],
            ),
        ];
        #[cfg(windows)]
        let file_cases: &[(&str, &[(&str, Fallback)])] = &[
            ("file:///C:/srv/goproxy", &[("file:///C:/srv/goproxy", N)]),
            (
                "file:/C:/srv/goproxy|https://a.example",
                &[("file:///C:/srv/goproxy", A), ("https://a.example/", N)],
            ),
        ];
        for (spec, want) in cases.iter().chain(file_cases) {
            let list = parse(spec).unwrap_or_else(|e| panic!("{spec:?}: {e}"));
            let want: Vec<(String, Fallback)> =
                want.iter().map(|(b, f)| (b.to_string(), *f)).collect();
            assert_eq!(shape(&list), want, "{spec:?}");
        }
    }

    #[test]
    fn parse_errors() {
        type Check = fn(&UpstreamConfigError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("", |e| matches!(e, UpstreamConfigError::Empty { .. })),
            (",", |e| matches!(e, UpstreamConfigError::Empty { .. })),
            (" | , ", |e| matches!(e, UpstreamConfigError::Empty { .. })),
            ("off", |e| matches!(e, UpstreamConfigError::Off)),
            ("https://a.example,off", |e| {
                matches!(e, UpstreamConfigError::Off)
            }),
            ("direct", |e| matches!(e, UpstreamConfigError::Direct)),
            ("https://a.example, direct ", |e| {
                matches!(e, UpstreamConfigError::Direct)
            }),
            ("noproxy", |e| {
                matches!(e, UpstreamConfigError::MissingScheme { .. })
            }),
            ("/srv/goproxy", |e| {
                matches!(e, UpstreamConfigError::MissingScheme { .. })
            }),
            (
                "ftp://a.example",
                |e| matches!(e, UpstreamConfigError::Scheme { scheme, .. } if scheme == "ftp"),
            ),
            ("git+ssh://a.example", |e| {
                matches!(e, UpstreamConfigError::Scheme { .. })
            }),
            ("file://host/srv", |e| {
                matches!(e, UpstreamConfigError::FileNotPath { .. })
            }),
            ("file://localhost/srv", |e| {
                matches!(e, UpstreamConfigError::FileNotPath { .. })
            }),
            ("file:///srv?x=1", |e| {
                matches!(e, UpstreamConfigError::FileNotPath { .. })
            }),
            ("file:///srv#f", |e| {
                matches!(e, UpstreamConfigError::FileNotPath { .. })
            }),
            // As in the go command, "file:srv" has a ':' but no ":/", so it becomes
            // "https://file:srv", whose port is invalid.
            ("file:srv", |e| {
                matches!(e, UpstreamConfigError::InvalidUrl { .. })
            }),
            ("file://", |e| {
                matches!(e, UpstreamConfigError::FileNotPath { .. })
            }),
            ("file://C:/srv", |e| {
                if cfg!(windows) {
                    matches!(e, UpstreamConfigError::FileNoDrive { .. })
                } else {
                    matches!(e, UpstreamConfigError::FileNotPath { .. })
                }
            }),
            // Absolute on Windows, so not given https:// (proxy.go uses `filepath.IsAbs`).
            // (On Unix "C:/srv" has the scheme "c".)
            #[cfg(windows)]
            (r"C:\srv", |e| {
                matches!(e, UpstreamConfigError::MissingScheme { .. })
            }),
            ("C:/srv", |e| {
                if cfg!(windows) {
                    matches!(e, UpstreamConfigError::MissingScheme { .. })
                } else {
                    matches!(e, UpstreamConfigError::Scheme { .. })
                }
            }),
            #[cfg(windows)]
            ("file:///srv/goproxy", |e| {
                matches!(e, UpstreamConfigError::FileNoDrive { .. })
            }),
            ("https://a.example/#frag", |e| {
                matches!(e, UpstreamConfigError::Fragment { .. })
            }),
            ("https://a.example:99999", |e| {
                matches!(e, UpstreamConfigError::InvalidUrl { .. })
            }),
            ("https://", |e| {
                matches!(e, UpstreamConfigError::InvalidUrl { .. })
            }),
        ];
        for (spec, check) in cases {
            match parse(spec) {
                Ok(list) => panic!("{spec:?}: parsed as {:?}", shape(&list)),
                Err(e) => assert!(check(&e), "{spec:?}: wrong error {e:?}"),
            }
        }
    }

    #[test]
    fn parse_spec_needs_no_client() {
        let got: Vec<(String, Fallback)> = parse_spec(" a.example | https://u:p@b.example/x ")
            .unwrap()
            .into_iter()
            .map(|e| (e.url, e.fallback))
            .collect();
        // The text as written (the policy refuses credentials in it), https:// prefixed.
        let want = [
            ("https://a.example".to_owned(), Fallback::AnyError),
            ("https://u:p@b.example/x".to_owned(), Fallback::NotFoundOnly),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn parse_error_messages() {
        let e = parse("https://a.example,direct").unwrap_err().to_string();
        assert!(
            e.contains("direct VCS fetching is not supported by goward; list only proxies"),
            "{e}"
        );
        let e = parse("ftp://user:pw@a.example/").unwrap_err().to_string();
        assert!(e.contains("ftp://user:xxxxx@a.example/"), "{e}");
        assert!(!e.contains("pw"), "{e}");
        assert!(e.contains("must be https, http, file"), "{e}");
    }

    #[test]
    fn redaction() {
        for (input, want) in [
            ("https://u:p@h/x", "https://u:xxxxx@h/x"),
            ("https://u@h/x", "https://xxxxx@h/x"),
            ("https://h/x@y:z", "https://h/x@y:z"),
            ("https://u:p:q@h", "https://u:xxxxx@h"),
            ("no scheme u:p@h", "no scheme u:p@h"),
            ("https://u:p@q@h/x", "https://u:xxxxx@h/x"),
            ("https://u:p@h?x=@y", "https://u:xxxxx@h?x=@y"),
            ("https://h?u:p@y", "https://h?u:p@y"),
        ] {
            assert_eq!(redact_str(input), want, "{input}");
        }
        assert_eq!(
            redact_list("https://a:b@h1,file:///x|https://c:d@h2|"),
            "https://a:xxxxx@h1,file:///x|https://c:xxxxx@h2|"
        );
    }

    #[test]
    fn rel_paths() {
        for ok in [
            "github.com/!azure/x/@v/v1.0.0.zip",
            "github.com/a..b/@v/list",
            "sumdb/sum.golang.org/lookup/golang.org/x/text@v0.3.0",
            "sumdb/sum.golang.org/tile/8/0/x097/380.p/5",
            "x/@latest",
            "x/@v/v2.0.0+incompatible.info",
        ] {
            assert_eq!(check_rel(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a/./b",
            "a//b",
            "a/",
            "a\\b",
            "a\0b",
            "a/%2e%2e/b",
            "a?b",
            "a#b",
            "a\nb",
        ] {
            assert!(check_rel(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn error_messages_are_sanitized() {
        assert_eq!(
            error_message(b"not found: x@v1\nsecond line"),
            "not found: x@v1"
        );
        assert_eq!(error_message(b"  padded\ttab \r\n"), "padded tab");
        assert_eq!(error_message(b"\nafter blank"), "");
        assert_eq!(error_message(b"bad \x1b[31m escape"), "");
        assert_eq!(error_message("bidi \u{202E} trick".as_bytes()), "");
        assert_eq!(error_message(b"\xff\xfe not utf8"), "");
        // A prefix that cuts a multi-byte character keeps the valid part.
        assert_eq!(error_message(&"ok é".as_bytes()[..4]), "ok");
        let long = "x".repeat(500);
        let msg = error_message(long.as_bytes());
        assert_eq!(msg.chars().count(), 200);
        assert!(msg.ends_with("..."));
    }

    #[test]
    fn plain_text_detection() {
        for yes in [
            "text/plain",
            "text/plain; charset=utf-8",
            "Text/Plain; Charset=\"UTF-8\"",
            "text/plain;charset=us-ascii",
        ] {
            assert!(is_plain_text(yes), "{yes}");
        }
        for no in [
            "text/html",
            "application/json",
            "text/plain; charset=latin1",
            "",
        ] {
            assert!(!is_plain_text(no), "{no}");
        }
    }

    #[test]
    fn fetch_error_display_and_reason() {
        let e = FetchError::new(FetchErrorKind::Status(500), "https://x/y").with_detail("boom");
        assert_eq!(
            e.to_string(),
            "GET https://x/y: 500 Internal Server Error: boom"
        );
        assert_eq!(e.reason(), "status");
        assert!(!e.is_not_found());
        let e = FetchError::new(
            FetchErrorKind::NotFound {
                status: 410,
                message: "gone".into(),
            },
            "https://x/y",
        );
        assert_eq!(e.to_string(), "GET https://x/y: 410 Gone: gone");
        assert!(e.is_not_found());
        assert_eq!(e.reason(), "not_found");
        let e = FetchError::new(FetchErrorKind::Timeout, "u");
        assert_eq!(e.to_string(), "GET u: timed out");
    }

    /// A fake with several "proxies" under one server: the first path segment picks the
    /// behaviour; every hit is recorded.
    async fn fake() -> (std::net::SocketAddr, Arc<Mutex<Vec<String>>>) {
        let hits = Arc::new(Mutex::new(Vec::new()));
        let h = hits.clone();
        let router = Router::new().fallback(move |uri: Uri| {
            let h = h.clone();
            async move {
                let path = uri.path().to_string();
                h.lock().unwrap().push(path.clone());
                let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
                let plain = [(header::CONTENT_TYPE, "text/plain; charset=utf-8")];
                match first {
                    "ok" => (StatusCode::OK, plain, format!("ok {path}")).into_response(),
                    "nf" => (StatusCode::NOT_FOUND, plain, "not found: nf\nmore").into_response(),
                    "gone" => (StatusCode::GONE, plain, "gone: gone").into_response(),
                    "fail" => {
                        (StatusCode::INTERNAL_SERVER_ERROR, plain, "boom\ndetails").into_response()
                    }
                    "unavail" => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        [(header::CONTENT_TYPE, "text/html")],
                        "busy",
                    )
                        .into_response(),
                    "forbidden" => {
                        (StatusCode::FORBIDDEN, plain, "\x1b]0;pwned\x07").into_response()
                    }
                    _ => StatusCode::IM_A_TEAPOT.into_response(),
                }
            }
        });
        (serve(router).await, hits)
    }

    fn list(addr: std::net::SocketAddr, spec: &str) -> ProxyList {
        let spec = spec.replace("ADDR", &addr.to_string());
        ProxyList::parse(&spec, &client()).unwrap()
    }

    fn hit_prefixes(hits: &Mutex<Vec<String>>) -> Vec<String> {
        hits.lock()
            .unwrap()
            .iter()
            .map(|p| {
                p.trim_start_matches('/')
                    .split('/')
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    }

    const REL: &str = "example.com/m/@v/list";

    #[tokio::test]
    async fn not_found_falls_through_with_comma() {
        let (addr, hits) = fake().await;
        let l = list(addr, "http://ADDR/nf,http://ADDR/ok");
        let (body, i) = l.get(REL).await.unwrap();
        assert_eq!(i, 1);
        let data = body.bytes(1 << 10).await.unwrap();
        assert_eq!(&data[..], format!("ok /ok/{REL}").as_bytes());
        assert_eq!(hit_prefixes(&hits), ["nf", "ok"]);
    }

    #[tokio::test]
    async fn gone_counts_as_not_found() {
        let (addr, hits) = fake().await;
        let l = list(addr, "http://ADDR/gone,http://ADDR/ok");
        let (_, i) = l.get(REL).await.unwrap();
        assert_eq!(i, 1);
        assert_eq!(hit_prefixes(&hits), ["gone", "ok"]);
        let e = list(addr, "http://ADDR/gone").get(REL).await.unwrap_err();
        assert_eq!(
            e.kind,
            FetchErrorKind::NotFound {
                status: 410,
                message: "gone: gone".into()
            }
        );
    }

    #[tokio::test]
    async fn server_error_stops_with_comma() {
        let (addr, hits) = fake().await;
        let l = list(addr, "http://ADDR/fail,http://ADDR/ok");
        let e = l.get(REL).await.unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::Status(500));
        assert_eq!(
            e.to_string(),
            format!("GET http://{addr}/fail/{REL}: 500 Internal Server Error: boom")
        );
        assert_eq!(hit_prefixes(&hits), ["fail"]);
    }

    #[tokio::test]
    async fn server_error_falls_through_with_pipe() {
        let (addr, hits) = fake().await;
        let l = list(addr, "http://ADDR/fail|http://ADDR/ok");
        let (_, i) = l.get(REL).await.unwrap();
        assert_eq!(i, 1);
        assert_eq!(hit_prefixes(&hits), ["fail", "ok"]);
    }

    #[tokio::test]
    async fn all_not_found_reports_not_found() {
        let (addr, hits) = fake().await;
        let l = list(addr, "http://ADDR/nf,http://ADDR/nf,http://ADDR/gone");
        let e = l.get(REL).await.unwrap_err();
        assert!(e.is_not_found(), "{e}");
        // TryProxies keeps the last not-found error.
        assert_eq!(
            e.kind,
            FetchErrorKind::NotFound {
                status: 410,
                message: "gone: gone".into()
            }
        );
        assert_eq!(hit_prefixes(&hits), ["nf", "nf", "gone"]);
    }

    #[tokio::test]
    async fn real_error_beats_not_found() {
        let (addr, _) = fake().await;
        let e = list(addr, "http://ADDR/fail|http://ADDR/nf")
            .get(REL)
            .await
            .unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::Status(500));
        let e = list(addr, "http://ADDR/nf,http://ADDR/fail")
            .get(REL)
            .await
            .unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::Status(500));
        // Two real errors: TryProxies reports the later one.
        let e = list(addr, "http://ADDR/fail|http://ADDR/unavail")
            .get(REL)
            .await
            .unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::Status(503));
        // Not text/plain: no message.
        assert_eq!(e.detail(), None, "{e}");
    }

    #[tokio::test]
    async fn hostile_error_body_is_not_shown() {
        let (addr, _) = fake().await;
        let e = list(addr, "http://ADDR/forbidden")
            .get(REL)
            .await
            .unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::Status(403));
        assert_eq!(e.detail(), None, "{e}");
        assert!(!e.to_string().contains('\x1b'));
    }

    #[tokio::test]
    async fn not_found_message_is_first_line() {
        let (addr, _) = fake().await;
        let e = list(addr, "http://ADDR/nf").get(REL).await.unwrap_err();
        assert_eq!(
            e.kind,
            FetchErrorKind::NotFound {
                status: 404,
                message: "not found: nf".into()
            }
        );
    }

    #[tokio::test]
    async fn connection_error_falls_through_only_with_pipe() {
        // A port with nothing listening: bind, note the port, close.
        let dead = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let (addr, _) = fake().await;
        let spec = format!("http://{dead}/x,http://{addr}/ok");
        let e = ProxyList::parse(&spec, &client())
            .unwrap()
            .get(REL)
            .await
            .unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::Connect, "{e}");
        assert_eq!(e.reason(), "connect");
        let spec = format!("http://{dead}/x|http://{addr}/ok");
        let (_, i) = ProxyList::parse(&spec, &client())
            .unwrap()
            .get(REL)
            .await
            .unwrap();
        assert_eq!(i, 1);
    }

    #[tokio::test]
    async fn body_from_bytes_respects_cap() {
        let body = Body::from_bytes("mem:x", Bytes::from_static(b"hello"));
        assert_eq!(body.content_length(), Some(5));
        assert_eq!(&body.bytes(5).await.unwrap()[..], b"hello");
        let e = Body::from_bytes("mem:x", Bytes::from_static(b"hello"))
            .bytes(4)
            .await
            .unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::TooLarge { limit: 4 });
    }

    /// Offline, every list and single upstream fails before any I/O, as
    /// `Offline`; the list is still checked as online.
    #[tokio::test]
    async fn offline_network_fetches_nothing() {
        let net = Network::new(UpstreamMode::Offline, &FetchLimits::default()).unwrap();
        assert_eq!(net.mode(), UpstreamMode::Offline);
        let list = net
            .proxy_list("http://127.0.0.1:9,https://proxy.example", &|_| Ok(None))
            .unwrap();
        assert_eq!(list.entries().count(), 0);
        let e = list.get("example.com/m/@v/list").await.unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::Offline);
        assert_eq!(e.url, "example.com/m/@v/list");
        let e = net
            .single("http://127.0.0.1:9")
            .unwrap()
            .get("latest")
            .await
            .unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::Offline);
        assert!(matches!(
            net.proxy_list("direct", &|_| Ok(None)),
            Err(UpstreamConfigError::Direct)
        ));
    }
}
