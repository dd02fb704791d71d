//! http/https upstreams over one shared, pooled reqwest client.
//!
//! TLS is rustls with the *ring* provider, chosen explicitly when the client is built (not
//! via rustls's process-wide default, which `rustls-no-provider` leaves unset), and the OS
//! trust store through rustls-platform-verifier (on Linux: rustls-native-certs, which honours
//! `SSL_CERT_FILE` and `SSL_CERT_DIR`).

use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use reqwest::Url;
use reqwest::header::CONTENT_TYPE;

use super::{
    Body, FetchError, FetchErrorKind, FetchLimits, MAX_ERROR_DETAIL_BYTES, Upstream,
    UpstreamConfigError, check_rel, error_message, is_plain_text, parse_url, redact_str,
};

/// Redirects followed before giving up, as net/http's default and cmd/go web/http.go
/// `checkRedirect` ("stopped after 10 redirects").
const MAX_REDIRECTS: usize = 10;

/// The shared HTTP client: one connection pool for every upstream, plus the fetch limits.
/// Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct HttpClient {
    inner: reqwest::Client,
    limits: FetchLimits,
}

impl HttpClient {
    /// Builds the client: rustls + ring with the OS root certificates, `connect_timeout`
    /// from `limits`, at most 10 redirects and never https→http, no automatic
    /// decompression (no `Accept-Encoding` is sent: module proxies must not gzip, and the
    /// go command's resumable downloads assume they don't), the proxy from
    /// `HTTP(S)_PROXY`/`NO_PROXY` if set. Needs no process-global rustls set-up.
    pub(crate) fn new(
        limits: &FetchLimits,
        user_agent: &str,
    ) -> Result<HttpClient, UpstreamConfigError> {
        HttpClient::build(limits, user_agent, true)
    }

    /// [`HttpClient::new`], optionally ignoring proxy environment variables (tests talk to
    /// loopback servers and must not be routed elsewhere).
    pub(crate) fn build(
        limits: &FetchLimits,
        user_agent: &str,
        env_proxy: bool,
    ) -> Result<HttpClient, UpstreamConfigError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls_platform_verifier::Verifier::new(provider.clone())
            .map_err(UpstreamConfigError::Tls)?;
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(UpstreamConfigError::Tls)?
            .dangerous() // Not dangerous: the platform verifier does full verification.
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        // reqwest sets ALPN only on TLS configs it builds itself.
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];

        let allow_internal = limits.allow_internal_redirects;
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(limits.connect_timeout)
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                let checked = check_redirect(attempt.previous(), attempt.url()).and_then(|()| {
                    if allow_internal {
                        Ok(())
                    } else {
                        check_redirect_target(attempt.previous(), attempt.url())
                    }
                });
                match checked {
                    Ok(()) => attempt.follow(),
                    Err(msg) => attempt.error(msg),
                }
            }))
            .referer(false)
            .user_agent(user_agent);
        if !env_proxy {
            builder = builder.no_proxy();
        }
        let inner = builder.build().map_err(UpstreamConfigError::Client)?;
        Ok(HttpClient {
            inner,
            limits: limits.clone(),
        })
    }

    /// The limits every fetch through this client obeys.
    pub(crate) fn limits(&self) -> &FetchLimits {
        &self.limits
    }
}

/// The redirect policy of cmd/go web/http.go `securityPreservingHTTPClient`: a chain that
/// began with https may not continue over anything else, and at most 10 redirects.
/// `previous` holds every URL requested so far, the original first.
pub(crate) fn check_redirect(previous: &[Url], next: &Url) -> Result<(), String> {
    if let Some(first) = previous.first()
        && first.scheme() == "https"
        && next.scheme() != "https"
    {
        let last = previous.last().unwrap_or(first);
        return Err(format!(
            "redirected from secure URL {} to insecure URL {}",
            redact_url(last),
            redact_url(next)
        ));
    }
    if previous.len() >= MAX_REDIRECTS {
        return Err(format!("stopped after {MAX_REDIRECTS} redirects"));
    }
    Ok(())
}

/// Refuses a redirect to an address an upstream has no business sending goward
/// to: link-local (169.254.0.0/16 holds the cloud metadata endpoint),
/// unspecified or "this network", multicast, broadcast, the AWS IPv6 metadata
/// address fd00:ec2::254, and loopback unless the chain began at a loopback
/// upstream. Only IP literals are checked: a host name is not resolved here.
pub(crate) fn check_redirect_target(previous: &[Url], next: &Url) -> Result<(), String> {
    use std::net::IpAddr;
    let host_ip = |u: &Url| {
        let h = u.host_str()?;
        let h = h
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(h);
        h.parse::<IpAddr>().ok().map(|ip| match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        })
    };
    let Some(ip) = host_ip(next) else {
        return Ok(());
    };
    let internal = match ip {
        IpAddr::V4(v4) => {
            v4.is_link_local() || v4.octets()[0] == 0 || v4.is_multicast() || v4.is_broadcast()
        }
        IpAddr::V6(v6) => {
            v6.is_unspecified()
                || v6.is_multicast()
                || v6.is_unicast_link_local()
                || v6 == std::net::Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)
        }
    };
    let from_loopback = previous.first().is_some_and(|u| {
        host_ip(u).is_some_and(|ip| ip.is_loopback())
            || u.host_str()
                .is_some_and(|h| h.eq_ignore_ascii_case("localhost"))
    });
    if internal || (ip.is_loopback() && !from_loopback) {
        return Err(format!(
            "redirected to internal address {} (allow_internal_redirects is off)",
            redact_url(next)
        ));
    }
    Ok(())
}

/// A URL for messages: its password, or a user name standing alone (a
/// token), replaced by `xxxxx` ([`super::redact_str`]).
fn redact_url(url: &Url) -> String {
    super::redact_str(url.as_str())
}

/// An http or https module proxy.
#[derive(Debug)]
pub(crate) struct HttpUpstream {
    client: HttpClient,
    base: Url,
    shown: String,
    /// `scheme://host:port`: the metrics label (bounded by the configured
    /// hosts, never a path or credentials).
    origin: String,
    /// Sent with every request (private routes of the policy); marked
    /// sensitive, so it is never logged and reqwest drops it on a redirect
    /// to another host.
    authorization: Option<reqwest::header::HeaderValue>,
}

impl HttpUpstream {
    /// An upstream at `base` (http or https; may carry `user:password@` for basic auth, and
    /// a query, which every request keeps, as in cmd/go proxy.go `newProxyRepo`).
    pub(crate) fn new(
        base: &str,
        client: &HttpClient,
    ) -> Result<HttpUpstream, UpstreamConfigError> {
        let parsed = parse_url(base)?;
        HttpUpstream::from_url(base, parsed, client)
    }

    pub(crate) fn from_url(
        raw: &str,
        url: Url,
        client: &HttpClient,
    ) -> Result<HttpUpstream, UpstreamConfigError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(UpstreamConfigError::Scheme {
                entry: redact_str(raw),
                scheme: url.scheme().to_string(),
            });
        }
        if url.fragment().is_some() {
            return Err(UpstreamConfigError::Fragment {
                entry: redact_str(raw),
            });
        }
        Ok(HttpUpstream {
            shown: redact_url(&url),
            origin: url.origin().ascii_serialization(),
            client: client.clone(),
            base: url,
            authorization: None,
        })
    }

    /// Sends `Authorization: <value>` with every request.
    pub(crate) fn with_authorization(mut self, value: &str) -> Result<HttpUpstream, String> {
        let mut v = reqwest::header::HeaderValue::from_str(value)
            .map_err(|_| "the credentials contain characters not allowed in a header".to_owned())?;
        v.set_sensitive(true);
        self.authorization = Some(v);
        Ok(self)
    }

    /// `base` joined with `rel` (cmd/go proxy.go: `strings.TrimSuffix(base.Path, "/") + "/" + path`).
    fn url_for(&self, rel: &str) -> Url {
        let mut url = self.base.clone();
        let path = format!("{}/{rel}", self.base.path().trim_end_matches('/'));
        url.set_path(&path);
        url
    }

    async fn fetch(&self, rel: &str) -> Result<Body, FetchError> {
        let url = self.url_for(rel);
        let shown = redact_url(&url);
        if let Err(why) = check_rel(rel) {
            return Err(FetchError::new(FetchErrorKind::InvalidPath, shown).with_detail(why));
        }
        let limits = &self.client.limits;
        let total = limits.total_timeout(rel);
        let deadline = super::deadline_after(total);
        let mut req = self.client.inner.get(url);
        if let Some(v) = &self.authorization {
            req = req.header(reqwest::header::AUTHORIZATION, v.clone());
        }
        let send = req.send();
        // A silent upstream is cut after the idle timeout, before the response
        // head as between body chunks (slow loris), never later than the
        // whole-request deadline.
        let head_deadline = deadline.min(super::deadline_after(limits.idle_timeout));
        let resp = match tokio::time::timeout_at(head_deadline, send).await {
            Ok(Ok(resp)) => resp,
            Ok(Err(e)) => return Err(send_error(&e, shown)),
            Err(_) => {
                let waited = if head_deadline < deadline {
                    limits.idle_timeout
                } else {
                    total
                };
                return Err(FetchError::new(FetchErrorKind::Timeout, shown)
                    .with_detail(format!("no response within {waited:?}")));
            }
        };
        let status = resp.status().as_u16();
        // No Accept-Encoding is sent, so any coding but identity is the
        // upstream's mistake: a gzipped list read as text would sanitize to
        // an empty list and be kept as the last good copy.
        if let Some(enc) = resp.headers().get(reqwest::header::CONTENT_ENCODING) {
            let enc = String::from_utf8_lossy(enc.as_bytes()).trim().to_owned();
            if !enc.eq_ignore_ascii_case("identity") && !enc.is_empty() {
                return Err(FetchError::new(FetchErrorKind::Encoded(enc), shown));
            }
        }
        let plain = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_plain_text);
        // The declared Content-Length (reqwest decodes nothing here, so this is the header).
        let content_length = resp.content_length();
        let stream_url = shown.clone();
        let stream = resp
            .bytes_stream()
            .map(move |r| r.map_err(|e| body_error(&e, &stream_url)))
            .boxed();
        let body = Body::from_stream(
            shown.clone(),
            content_length,
            stream,
            limits.idle_timeout,
            deadline,
            total,
        );
        if status == 200 {
            return Ok(body);
        }
        let message = if plain {
            error_message(&body.prefix(MAX_ERROR_DETAIL_BYTES).await)
        } else {
            String::new()
        };
        Err(match status {
            404 | 410 => FetchError::new(FetchErrorKind::NotFound { status, message }, shown),
            _ => FetchError::new(FetchErrorKind::Status(status), shown).with_detail(message),
        })
    }
}

impl Upstream for HttpUpstream {
    fn base(&self) -> &str {
        &self.shown
    }

    fn get<'a>(&'a self, rel: &'a str) -> BoxFuture<'a, Result<Body, FetchError>> {
        Box::pin(async move {
            let started = std::time::Instant::now();
            let r = self.fetch(rel).await;
            let outcome = match &r {
                Ok(_) => "ok",
                Err(e) if e.is_not_found() => "not_found",
                Err(_) => "error",
            };
            let elapsed = started.elapsed();
            metrics::histogram!("goward_upstream_seconds", "upstream" => self.origin.clone(), "outcome" => outcome)
                .record(elapsed.as_secs_f64());
            let seen = match &r {
                Ok(_) => Ok(true),
                Err(e) if e.is_not_found() => Ok(false),
                Err(e) => Err(e.to_string()),
            };
            crate::status::upstream(
                &self.origin,
                seen,
                u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            );
            r
        })
    }
}

/// The error's cause chain, without reqwest's own top line (which repeats the URL).
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = Vec::new();
    let mut cur = e.source();
    while let Some(c) = cur {
        parts.push(c.to_string());
        cur = c.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

/// Classifies a failure before the response head arrived.
fn send_error(e: &reqwest::Error, url: String) -> FetchError {
    let kind = if e.is_redirect() {
        FetchErrorKind::Redirect
    } else if e.is_connect() {
        FetchErrorKind::Connect
    } else if e.is_timeout() {
        FetchErrorKind::Timeout
    } else {
        FetchErrorKind::Io
    };
    FetchError::new(kind, url).with_detail(causes(e))
}

/// Classifies a failure while reading the body: a broken or short body is truncated.
fn body_error(e: &reqwest::Error, url: &str) -> FetchError {
    let kind = if e.is_timeout() {
        FetchErrorKind::Timeout
    } else {
        FetchErrorKind::Truncated
    };
    FetchError::new(kind, url).with_detail(causes(e))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::Router;
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::{IntoResponse, Redirect};
    use axum::routing::get;
    use tokio::net::TcpStream;

    use super::super::testutil::{client, client_with, limits, serve, serve_raw, write};
    use super::*;

    fn up(addr: std::net::SocketAddr) -> HttpUpstream {
        HttpUpstream::new(&format!("http://{addr}/base/"), &client()).unwrap()
    }

    fn urls(list: &[&str]) -> Vec<Url> {
        list.iter().map(|u| Url::parse(u).unwrap()).collect()
    }

    #[test]
    fn redirect_policy() {
        let next = |u: &str| Url::parse(u).unwrap();
        assert!(check_redirect(&urls(&["https://a/x"]), &next("https://b/y")).is_ok());
        assert!(check_redirect(&urls(&["http://a/x"]), &next("http://b/y")).is_ok());
        assert!(check_redirect(&urls(&["http://a/x"]), &next("https://b/y")).is_ok());
        let e = check_redirect(&urls(&["https://a/x"]), &next("http://b/y")).unwrap_err();
        assert_eq!(
            e,
            "redirected from secure URL https://a/x to insecure URL http://b/y"
        );
        // The original scheme counts, not just the last hop.
        let e = check_redirect(&urls(&["https://a/x", "https://b/y"]), &next("http://c/z"))
            .unwrap_err();
        assert!(e.contains("https://b/y"), "{e}");
        assert!(check_redirect(&urls(&["https://a/x"]), &next("ftp://b/y")).is_err());
    }

    #[test]
    fn redirects_to_internal_addresses_are_refused() {
        let next = |u: &str| Url::parse(u).unwrap();
        let from_public = urls(&["https://proxy.example/x"]);
        for bad in [
            "http://169.254.169.254/latest/meta-data/",
            "http://[fd00:ec2::254]/",
            "http://[fe80::1]/",
            "http://0.0.0.0/",
            "http://[::]/",
            "http://224.0.0.1/",
            "http://255.255.255.255/",
            "http://[::ffff:169.254.169.254]/",
            "http://127.0.0.1:8080/",
            "http://[::1]/",
        ] {
            assert_eq!(
                check_redirect_target(&from_public, &next(bad)),
                Err(format!(
                    "redirected to internal address {} (allow_internal_redirects is off)",
                    next(bad)
                )),
                "{bad}"
            );
        }
        for ok in [
            "https://10.0.0.5/",
            "https://mirror.example/",
            "http://8.8.8.8/",
        ] {
            assert_eq!(
                check_redirect_target(&from_public, &next(ok)),
                Ok(()),
                "{ok}"
            );
        }
        // A loopback upstream may redirect to loopback; never to metadata.
        let from_local = urls(&["http://127.0.0.1:3000/x"]);
        assert_eq!(
            check_redirect_target(&from_local, &next("http://127.0.0.1:3001/y")),
            Ok(())
        );
        assert!(check_redirect_target(&from_local, &next("http://169.254.169.254/")).is_err());
        // Passwords are not echoed.
        let e = check_redirect(&urls(&["https://u:pw@a/x"]), &next("http://b/y")).unwrap_err();
        assert!(!e.contains("pw"), "{e}");
        // 10 requests made already: the next redirect is refused.
        let nine: Vec<String> = (0..9).map(|i| format!("http://a/{i}")).collect();
        let nine: Vec<&str> = nine.iter().map(String::as_str).collect();
        assert!(check_redirect(&urls(&nine), &next("http://a/n")).is_ok());
        let mut ten = nine.clone();
        ten.push("http://a/9");
        let e = check_redirect(&urls(&ten), &next("http://a/n")).unwrap_err();
        assert_eq!(e, "stopped after 10 redirects");
    }

    #[tokio::test]
    async fn success_and_request_headers() {
        let router = Router::new().route(
            "/base/example.com/m/@v/v1.0.0.info",
            get(|h: HeaderMap| async move {
                let ae = h
                    .get(header::ACCEPT_ENCODING)
                    .map_or("none", |v| v.to_str().unwrap_or("?"))
                    .to_string();
                let ua = h
                    .get(header::USER_AGENT)
                    .map_or("none", |v| v.to_str().unwrap_or("?"))
                    .to_string();
                format!("ae={ae} ua={ua}")
            }),
        );
        let addr = serve(router).await;
        let body = up(addr).get("example.com/m/@v/v1.0.0.info").await.unwrap();
        let want = b"ae=none ua=goward-test/1";
        assert_eq!(body.content_length(), Some(want.len() as u64));
        assert_eq!(&body.bytes(1 << 10).await.unwrap()[..], want);
    }

    #[tokio::test]
    async fn base_query_is_kept_and_path_joined() {
        let router = Router::new().fallback(|uri: axum::http::Uri| async move { uri.to_string() });
        let addr = serve(router).await;
        for (base, want) in [
            (format!("http://{addr}"), "/x/@v/list"),
            (format!("http://{addr}/p"), "/p/x/@v/list"),
            (format!("http://{addr}/p/"), "/p/x/@v/list"),
            (format!("http://{addr}/p?t=1"), "/p/x/@v/list?t=1"),
        ] {
            let up = HttpUpstream::new(&base, &client()).unwrap();
            let body = up.get("x/@v/list").await.unwrap().bytes(100).await.unwrap();
            assert_eq!(&body[..], want.as_bytes(), "{base}");
        }
    }

    #[tokio::test]
    async fn invalid_rel_is_rejected_without_request() {
        // Nothing listens here; an attempted request would be a Connect error.
        let up = HttpUpstream::new("http://127.0.0.1:9/", &client()).unwrap();
        for rel in ["../x", "a/%2e%2e/b", "/abs", "a\\b", "a?b"] {
            let e = up.get(rel).await.unwrap_err();
            assert_eq!(e.kind, FetchErrorKind::InvalidPath, "{rel}: {e}");
        }
    }

    #[tokio::test]
    async fn declared_oversize_fails_before_reading() {
        let router = Router::new().fallback(|| async { vec![b'a'; 1000] });
        let addr = serve(router).await;
        let body = up(addr).get("x/@v/list").await.unwrap();
        assert_eq!(body.content_length(), Some(1000));
        let e = body.bytes(100).await.unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::TooLarge { limit: 100 });
        assert_eq!(e.reason(), "too_large");
        assert!(
            e.to_string().contains("declared Content-Length is 1000"),
            "{e}"
        );
        let out = tempfile::NamedTempFile::new().unwrap();
        let mut dst = tokio::fs::File::create(out.path()).await.unwrap();
        let e = up(addr)
            .get("x/@v/v1.0.0.zip")
            .await
            .unwrap()
            .write_to(&mut dst, 999)
            .await
            .unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::TooLarge { limit: 999 });
        assert_eq!(std::fs::metadata(out.path()).unwrap().len(), 0);
    }

    /// A chunked body of `chunks` × 100 bytes (no Content-Length).
    async fn chunked(mut sock: TcpStream, chunks: Option<usize>) {
        if !write(
            &mut sock,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        )
        .await
        {
            return;
        }
        let chunk = [b"64\r\n".as_slice(), &[b'z'; 100], b"\r\n"].concat();
        let mut sent = 0;
        while chunks.is_none_or(|n| sent < n) {
            if !write(&mut sock, &chunk).await {
                return;
            }
            sent += 1;
        }
        write(&mut sock, b"0\r\n\r\n").await;
    }

    #[tokio::test]
    async fn undeclared_oversize_is_capped() {
        let addr = serve_raw(|sock| chunked(sock, Some(10))).await;
        let body = up(addr).get("x/@v/list").await.unwrap();
        assert_eq!(body.content_length(), None);
        let e = body.bytes(999).await.unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::TooLarge { limit: 999 });
        // Exactly at the cap is fine.
        let data = up(addr)
            .get("x/@v/list")
            .await
            .unwrap()
            .bytes(1000)
            .await
            .unwrap();
        assert_eq!(data.len(), 1000);
    }

    #[tokio::test]
    async fn endless_body_is_capped() {
        let addr = serve_raw(|sock| chunked(sock, None)).await;
        let e = up(addr)
            .get("x/@v/list")
            .await
            .unwrap()
            .bytes(1 << 20)
            .await
            .unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::TooLarge { limit: 1 << 20 });
        let out = tempfile::NamedTempFile::new().unwrap();
        let mut dst = tokio::fs::File::create(out.path()).await.unwrap();
        let e = up(addr)
            .get("x/@v/v1.0.0.zip")
            .await
            .unwrap()
            .write_to(&mut dst, 1 << 20)
            .await
            .unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::TooLarge { limit: 1 << 20 });
        assert!(std::fs::metadata(out.path()).unwrap().len() <= 1 << 20);
    }

    /// Declares 100 bytes, sends 10, closes.
    async fn short(mut sock: TcpStream) {
        write(
            &mut sock,
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n0123456789",
        )
        .await;
    }

    #[tokio::test]
    async fn truncated_body_is_an_error() {
        let addr = serve_raw(short).await;
        let body = up(addr).get("x/@v/v1.0.0.mod").await.unwrap();
        assert_eq!(body.content_length(), Some(100));
        let e = body.bytes(1 << 10).await.unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::Truncated, "{e}");
        assert_eq!(e.reason(), "truncated");
        let out = tempfile::NamedTempFile::new().unwrap();
        let mut dst = tokio::fs::File::create(out.path()).await.unwrap();
        let e = up(addr)
            .get("x/@v/v1.0.0.zip")
            .await
            .unwrap()
            .write_to(&mut dst, 1 << 10)
            .await
            .unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::Truncated, "{e}");
    }

    #[tokio::test]
    async fn truncated_chunked_body_is_an_error() {
        let addr = serve_raw(|mut sock: TcpStream| async move {
            write(
                &mut sock,
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
            )
            .await;
        })
        .await;
        let e = up(addr)
            .get("x/@v/list")
            .await
            .unwrap()
            .bytes(1 << 10)
            .await
            .unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::Truncated, "{e}");
    }

    /// Sends the head and one body byte, then stalls (holding the connection open).
    async fn loris(mut sock: TcpStream) {
        if write(
            &mut sock,
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nx",
        )
        .await
        {
            tokio::time::sleep(Duration::from_secs(60)).await;
        }
        drop(sock);
    }

    #[tokio::test]
    async fn stalled_body_times_out() {
        let addr = serve_raw(loris).await;
        let e = up(addr)
            .get("x/@v/v1.0.0.info")
            .await
            .unwrap()
            .bytes(1 << 10)
            .await
            .unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::Timeout, "{e}");
        assert_eq!(e.reason(), "timeout");
    }

    #[tokio::test]
    async fn stalled_head_times_out() {
        let addr = serve_raw(|sock: TcpStream| async move {
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(sock);
        })
        .await;
        let mut l = limits();
        l.request_timeout = Duration::from_millis(300);
        let up = HttpUpstream::new(&format!("http://{addr}/"), &client_with(&l)).unwrap();
        let e = up.get("x/@v/list").await.unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::Timeout, "{e}");
    }

    #[tokio::test]
    async fn trickle_hits_whole_request_deadline() {
        // One byte every 20 ms never trips the 200 ms idle timeout, but the whole request
        // may take only 500 ms while the body would need 100 s.
        let addr = serve_raw(|mut sock: TcpStream| async move {
            if !write(
                &mut sock,
                b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n",
            )
            .await
            {
                return;
            }
            for _ in 0..5000 {
                if !write(&mut sock, b"t").await {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        let mut l = limits();
        l.request_timeout = Duration::from_millis(500);
        let up = HttpUpstream::new(&format!("http://{addr}/"), &client_with(&l)).unwrap();
        let e = up
            .get("x/@v/list")
            .await
            .unwrap()
            .bytes(1 << 20)
            .await
            .unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::Timeout, "{e}");
        assert!(e.to_string().contains("whole-request limit"), "{e}");
    }

    #[tokio::test]
    async fn zip_uses_zip_timeout() {
        // Same trickle, but only the zip limit is long enough to finish a 20-byte body.
        let addr = serve_raw(|mut sock: TcpStream| async move {
            if !write(
                &mut sock,
                b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\nConnection: close\r\n\r\n",
            )
            .await
            {
                return;
            }
            for _ in 0..20 {
                if !write(&mut sock, b"t").await {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        let mut l = limits();
        l.request_timeout = Duration::from_millis(100);
        l.zip_timeout = Duration::from_secs(30);
        let up = HttpUpstream::new(&format!("http://{addr}/"), &client_with(&l)).unwrap();
        let data = up
            .get("x/@v/v1.0.0.zip")
            .await
            .unwrap()
            .bytes(100)
            .await
            .unwrap();
        assert_eq!(data.len(), 20);
        let e = up
            .get("x/@v/v1.0.0.mod")
            .await
            .unwrap()
            .bytes(100)
            .await
            .unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::Timeout, "{e}");
    }

    #[tokio::test]
    async fn redirects_followed_and_limited() {
        let router = Router::new()
            .route(
                "/base/x/@v/list",
                get(|| async { Redirect::to("/real/x/@v/list") }),
            )
            .route("/real/x/@v/list", get(|| async { "v1.0.0\n" }))
            .route(
                "/base/loop/@v/list",
                get(|| async { Redirect::to("/base/loop/@v/list") }),
            )
            .route(
                "/base/noloc/@v/list",
                get(|| async { StatusCode::FOUND.into_response() }),
            );
        let addr = serve(router).await;
        let data = up(addr)
            .get("x/@v/list")
            .await
            .unwrap()
            .bytes(100)
            .await
            .unwrap();
        assert_eq!(&data[..], b"v1.0.0\n");
        let e = up(addr).get("loop/@v/list").await.unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::Redirect, "{e}");
        assert!(e.to_string().contains("stopped after 10 redirects"), "{e}");
        let e = up(addr).get("noloc/@v/list").await.unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::Status(302), "{e}");
    }

    #[tokio::test]
    async fn non_200_success_codes_are_errors() {
        let router = Router::new().fallback(|| async { (StatusCode::PARTIAL_CONTENT, "part") });
        let addr = serve(router).await;
        let e = up(addr).get("x/@v/list").await.unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::Status(206));
    }

    #[test]
    fn redacted_base() {
        let up = HttpUpstream::new("https://me:hunter2@proxy.example/p", &client()).unwrap();
        assert_eq!(up.base(), "https://me:xxxxx@proxy.example/p");
        let e = FetchError::new(
            FetchErrorKind::Timeout,
            redact_url(&up.url_for("x/@v/list")),
        );
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let token = HttpUpstream::new("https://ghp_secret@proxy.example/p", &client()).unwrap();
        assert_eq!(token.base(), "https://xxxxx@proxy.example/p");
    }
}
