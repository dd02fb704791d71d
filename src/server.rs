//! HTTP front end: the GOPROXY protocol, the checksum-database proxy
//! endpoints, health and metrics. Handlers only parse, call the service and
//! shape responses; no verification logic lives here: a zip is streamed
//! through the store's verifying read ([`crate::cache::read`]).

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

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::cache::ArtifactMeta;
use crate::cache::read::VerifiedRead;
use crate::config::ConnLimits;
use crate::error::ProxyError;
use crate::request::{self, Request, SumdbOp};
use crate::service::{Failure, Service};

/// Shared state of the HTTP server.
#[derive(Debug)]
pub(crate) struct App {
    service: Arc<Service>,
    sumdb_names: Vec<String>,
    metrics: PrometheusHandle,
    /// Set when clients must authenticate (`--auth-file`).
    auth: Option<Arc<crate::auth::Authenticator>>,
}

impl App {
    /// Wraps a service.
    pub(crate) fn new(service: Arc<Service>, metrics: PrometheusHandle) -> App {
        crate::status::start();
        let sumdb_names = service
            .sumdbs()
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        App {
            service,
            sumdb_names,
            metrics,
            auth: None,
        }
    }

    /// Requires every client to authenticate against `auth` (all paths but
    /// `/healthz` and `/readyz`, and nothing on the admin listener).
    pub(crate) fn with_auth(mut self, auth: Arc<crate::auth::Authenticator>) -> App {
        self.auth = Some(auth);
        self
    }
}

pub(crate) use crate::pipeline::StartError;

impl App {
    /// Builds the pipeline ([`crate::pipeline::build`]) and checks the
    /// cache directory as a long-running server needs (no filesystem
    /// compression).
    pub(crate) fn from_config(config: &crate::config::Config) -> Result<App, StartError> {
        let pipeline = crate::pipeline::build(config)?;
        crate::hostcheck::check_cache_dir(&config.cache_dir).map_err(StartError::Compressed)?;
        if pipeline.sweep.temp_files > 0 {
            tracing::info!(
                removed = pipeline.sweep.temp_files,
                "swept temp files left by an interrupted run"
            );
        }
        let app = App::new(pipeline.service, crate::metrics::install());
        Ok(match &config.auth_file {
            Some(path) => app.with_auth(Arc::new(crate::auth::Authenticator::load(path)?)),
            None => app,
        })
    }

    /// The credentials clients must present, if any.
    pub(crate) fn auth(&self) -> Option<&Arc<crate::auth::Authenticator>> {
        self.auth.as_ref()
    }

    /// The service.
    pub(crate) fn service(&self) -> &Arc<Service> {
        &self.service
    }

    /// Loads the policy file again (SIGHUP); an invalid policy is logged and
    /// the one in force stays.
    #[cfg_attr(windows, allow(dead_code))] // only SIGHUP (Unix) calls it
    pub(crate) fn reload_policy(&self) -> Result<(), crate::service::PolicyLoadError> {
        self.service.reload_policy()
    }
}

/// The router: everything goes through one handler, since module paths
/// contain slashes and do not fit a route table.
pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new().fallback(handle).with_state(app)
}

/// Which requests a listener answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Everything: there is no admin listener.
    All,
    /// Module and checksum-database paths; `/metrics`, `/healthz` and
    /// `/readyz` are 404 (they are on the admin listener).
    Public,
    /// Only `/metrics`, `/healthz` and `/readyz`.
    Admin,
}

/// What a request knows about its connection.
#[derive(Debug)]
struct ConnInfo {
    role: Role,
    /// The verified client certificate's name.
    user: Option<Box<str>>,
}

/// Probes and scrapes need few connections, and keeping them apart from
/// the public cap keeps `/healthz` answerable when the public side is full.
const ADMIN_MAX_CONNECTIONS: usize = 64;

/// The bound sockets of `goward serve`.
#[derive(Debug)]
pub(crate) struct Listeners {
    /// The public listeners (`--listen`).
    pub main: Vec<tokio::net::TcpListener>,
    /// The admin listeners (`--admin-listen`); empty: none.
    pub admin: Vec<tokio::net::TcpListener>,
}

/// A listen address could not be resolved or bound.
#[derive(Debug, thiserror::Error)]
#[error("listening on {addr}: {source}")]
pub(crate) struct BindError {
    addr: String,
    #[source]
    source: std::io::Error,
}

impl Listeners {
    /// Binds every listen address (each address a host name resolves to)
    /// and the admin address, if any.
    pub(crate) async fn bind(
        listen: &[crate::config::ListenAddr],
        admin: Option<&crate::config::ListenAddr>,
    ) -> Result<Listeners, BindError> {
        Ok(Listeners {
            main: bind_all(listen).await?,
            admin: match admin {
                Some(a) => bind_all(std::slice::from_ref(a)).await?,
                None => Vec::new(),
            },
        })
    }

    /// The bound addresses of `listeners`.
    pub(crate) fn addrs(listeners: &[tokio::net::TcpListener]) -> std::io::Result<Vec<SocketAddr>> {
        listeners.iter().map(|l| l.local_addr()).collect()
    }
}

async fn bind_all(
    addrs: &[crate::config::ListenAddr],
) -> Result<Vec<tokio::net::TcpListener>, BindError> {
    use crate::config::ListenAddr;
    let mut out = Vec::new();
    let mut bound: Vec<SocketAddr> = Vec::new();
    for a in addrs {
        let err = |source| BindError {
            addr: a.to_string(),
            source,
        };
        let resolved = match a {
            ListenAddr::Socket(s) => vec![*s],
            ListenAddr::Host { host, port } => {
                let mut v: Vec<SocketAddr> = Vec::new();
                for s in tokio::net::lookup_host((host.as_str(), *port))
                    .await
                    .map_err(err)?
                {
                    if !v.contains(&s) {
                        v.push(s);
                    }
                }
                v
            }
        };
        let mut any = false;
        let mut last_err = None;
        for s in &resolved {
            // `localhost:8080` and `127.0.0.1:8080` are one socket.
            if s.port() != 0 && bound.contains(s) {
                any = true;
                continue;
            }
            match tokio::net::TcpListener::bind(s).await {
                Ok(l) => {
                    bound.push(*s);
                    out.push(l);
                    any = true;
                }
                // A name that also resolves to an address this host cannot
                // bind (::1 with IPv6 off) binds the others.
                Err(e)
                    if matches!(a, ListenAddr::Host { .. })
                        && e.kind() == std::io::ErrorKind::AddrNotAvailable =>
                {
                    tracing::warn!("listening on {a}: skipping {s}: {e}");
                    last_err = Some(e);
                }
                Err(e) => {
                    return Err(BindError {
                        addr: if a.to_string() == s.to_string() {
                            a.to_string()
                        } else {
                            format!("{a} ({s})")
                        },
                        source: e,
                    });
                }
            }
        }
        if !any {
            return Err(err(last_err.unwrap_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::AddrNotAvailable,
                    "the name resolves to no address",
                )
            })));
        }
    }
    Ok(out)
}

/// The router with one connection's [`ConnInfo`] put on each request.
#[derive(Clone)]
struct WithConn {
    router: Router,
    info: Arc<ConnInfo>,
    /// When the connection's last request arrived (its idle clock); `None`
    /// before the first.
    last_request: Arc<std::sync::Mutex<Option<tokio::time::Instant>>>,
}

impl<B> tower::Service<axum::http::Request<B>> for WithConn
where
    Router: tower::Service<axum::http::Request<B>>,
{
    type Response = <Router as tower::Service<axum::http::Request<B>>>::Response;
    type Error = <Router as tower::Service<axum::http::Request<B>>>::Error;
    type Future = <Router as tower::Service<axum::http::Request<B>>>::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        tower::Service::<axum::http::Request<B>>::poll_ready(&mut self.router, cx)
    }

    fn call(&mut self, mut req: axum::http::Request<B>) -> Self::Future {
        req.extensions_mut().insert(self.info.clone());
        *self
            .last_request
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(tokio::time::Instant::now());
        self.router.call(req)
    }
}

/// What every connection task shares.
struct Conns {
    router: Router,
    /// HTTP/1.1 with the header-read timeout.
    http1: hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    /// HTTP/2, only after ALPN chose it.
    h2: hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    /// Also the time a TLS handshake may take.
    header_timeout: std::time::Duration,
}

impl Conns {
    async fn serve(
        &self,
        tcp: tokio::net::TcpStream,
        role: Role,
        tls: Option<Arc<crate::tls::TlsServer>>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) {
        let Some(tls) = tls else {
            let info = ConnInfo { role, user: None };
            return self.serve_io(tcp, &self.http1, info, None, stop).await;
        };
        // A client that never finishes its handshake is cut like one that
        // never finishes its request head.
        let handshake = tokio::select! {
            r = tokio::time::timeout(self.header_timeout, tls.acceptor().accept(tcp)) => r,
            () = stopped(&mut stop) => return,
        };
        let stream = match handshake {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::debug!("TLS handshake: {e}");
                return;
            }
            Err(_) => {
                tracing::debug!(
                    "TLS handshake not finished after {}s; closed",
                    self.header_timeout.as_secs()
                );
                return;
            }
        };
        let (_, conn) = stream.get_ref();
        let h2 = conn.alpn_protocol() == Some(b"h2".as_slice());
        let info = ConnInfo {
            role,
            user: crate::tls::client_identity(conn).map(String::into_boxed_str),
        };
        if h2 {
            self.serve_io(stream, &self.h2, info, Some(self.header_timeout), stop)
                .await
        } else {
            self.serve_io(stream, &self.http1, info, None, stop).await
        }
    }

    async fn serve_io<I>(
        &self,
        io: I,
        builder: &hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
        info: ConnInfo,
        idle: Option<std::time::Duration>,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) where
        I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let opened = tokio::time::Instant::now();
        let last_request = Arc::new(std::sync::Mutex::new(None));
        let last = || {
            *last_request
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        };
        let svc = hyper_util::service::TowerToHyperService::new(WithConn {
            router: self.router.clone(),
            info: Arc::new(info),
            last_request: last_request.clone(),
        });
        let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(io), svc);
        tokio::pin!(conn);
        // HTTP/2 has no header-read timeout: a connection with no new
        // request for `idle` gets a GOAWAY (requests in flight still
        // finish), and one that never sent a request (a GOAWAY waits for a
        // preface that may never come) is closed after `idle` more.
        let mut idle_closing = false;
        let result = loop {
            let idle_until = idle.map(|d| later(last().unwrap_or(opened), d));
            tokio::select! {
                r = conn.as_mut() => break Some(r),
                () = stopped(&mut stop) => break None,
                () = sleep_until(idle_until), if !idle_closing => {
                    if idle.is_some_and(|d| last().unwrap_or(opened).elapsed() >= d) {
                        tracing::debug!("HTTP/2 connection idle; closing");
                        conn.as_mut().graceful_shutdown();
                        idle_closing = true;
                    }
                }
                () = sleep_until(idle_until.map(|t| later(t, idle.unwrap_or_default()))),
                    if idle_closing && last().is_none() => {
                    tracing::debug!("HTTP/2 connection idle and not closing; dropped");
                    return;
                }
            }
        };
        let result = match result {
            Some(r) => r,
            None => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        };
        if let Err(e) = result {
            tracing::debug!("client connection: {e}");
        }
    }
}

/// Sleeps until `t`; never resolves for `None`.
/// `t + d`, saturating: a timeout too large for the clock means "never".
fn later(t: tokio::time::Instant, d: std::time::Duration) -> tokio::time::Instant {
    t.checked_add(d)
        .or_else(|| t.checked_add(std::time::Duration::from_secs(u64::from(u32::MAX))))
        .unwrap_or(t)
}

async fn sleep_until(t: Option<tokio::time::Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Resolves once shutdown began (or its sender is gone).
async fn stopped(stop: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Accepts on one listener until `stop`, one task per connection.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    role: Role,
    conns: Arc<Conns>,
    tls: Option<Arc<crate::tls::TlsServer>>,
    permits: Arc<tokio::sync::Semaphore>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        // Take a permit before accepting: at the cap, connections wait in
        // the listen backlog instead of being accepted and starved.
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => return,
            },
            () = stopped(&mut stop) => return,
        };
        let tcp = tokio::select! {
            r = listener.accept() => match r {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => return,
        };
        // Without TCP_NODELAY a small body written after its headers waits
        // for the client's delayed ACK (~40 ms per small zip, measured by
        // the bench).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY: {e}");
        }
        let (conns, tls, stop) = (conns.clone(), tls.clone(), stop.clone());
        tokio::spawn(async move {
            let _permit = permit;
            conns.serve(tcp, role, tls, stop).await;
        });
    }
}

/// Serves until `shutdown` resolves, then drains in-flight requests for at
/// most [`ConnLimits::drain_timeout`]. Fills are tasks of their own and are
/// not waited for: a fill cut short leaves nothing but a temp file, swept at
/// the next start. With `tls` the public listeners speak HTTPS, HTTP/2 when
/// ALPN chooses it; plain HTTP is HTTP/1.1 only: the `go` command never
/// speaks cleartext HTTP/2, and hyper's header-read timeout does not cover
/// HTTP/2's preface. The admin listeners are plain HTTP.
pub(crate) async fn run(
    listeners: Listeners,
    app: Arc<App>,
    limits: ConnLimits,
    tls: Option<Arc<crate::tls::TlsServer>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use tokio::sync::{Semaphore, watch};

    let max = u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX);
    let admin_max = ADMIN_MAX_CONNECTIONS as u32;
    let permits = Arc::new(Semaphore::new(max as usize));
    let admin_permits = Arc::new(Semaphore::new(ADMIN_MAX_CONNECTIONS));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut http1 = Builder::new(TokioExecutor::new()).http1_only();
    http1
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut h2 = Builder::new(TokioExecutor::new()).http2_only();
    // Pings find peers that vanished during a long response; idle
    // connections are closed by `Conns::serve_io`.
    h2.http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(limits.header_timeout));
    let conns = Arc::new(Conns {
        router: router(app),
        http1,
        h2,
        header_timeout: limits.header_timeout,
    });
    let main_role = if listeners.admin.is_empty() {
        Role::All
    } else {
        Role::Public
    };
    let mut loops = tokio::task::JoinSet::new();
    for l in listeners.main {
        loops.spawn(accept_loop(
            l,
            main_role,
            conns.clone(),
            tls.clone(),
            permits.clone(),
            stop_rx.clone(),
        ));
    }
    for l in listeners.admin {
        loops.spawn(accept_loop(
            l,
            Role::Admin,
            conns.clone(),
            None,
            admin_permits.clone(),
            stop_rx.clone(),
        ));
    }
    shutdown.await;
    let _ = stop_tx.send(true);
    // The accept loops end and close their listeners.
    while loops.join_next().await.is_some() {}
    // Every connection holds a permit until it ends: all back means drained.
    let drained = async {
        let _a = permits.acquire_many(max).await;
        let _b = admin_permits.acquire_many(admin_max).await;
    };
    if tokio::time::timeout(limits.drain_timeout, drained)
        .await
        .is_err()
    {
        let open = (max as usize)
            .saturating_sub(permits.available_permits())
            .saturating_add(
                ADMIN_MAX_CONNECTIONS.saturating_sub(admin_permits.available_permits()),
            );
        tracing::warn!(
            open,
            "shutdown: {open} connection(s) still busy after {}s; closing them",
            limits.drain_timeout.as_secs()
        );
    }
    Ok(())
}

const TEXT: &str = "text/plain; charset=utf-8";

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, TEXT)], body.into()).into_response()
}

async fn handle(
    State(app): State<Arc<App>>,
    conn: Option<axum::Extension<Arc<ConnInfo>>>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let path = uri.path();
    let in_flight = InFlight::new();
    let role = conn.as_ref().map_or(Role::All, |c| c.role);
    let cert_user = conn.as_ref().and_then(|c| c.user.as_deref());
    let admin_path = matches!(
        path,
        "/healthz" | "/readyz" | "/metrics" | "/" | "/status.json"
    );
    if role == Role::Public && admin_path {
        return text(
            StatusCode::NOT_FOUND,
            format!("goward: {path} is served on the admin listener\n"),
        );
    }
    if role == Role::Admin && !admin_path {
        return text(
            StatusCode::NOT_FOUND,
            "goward: the admin listener serves only /, /status.json, /metrics, /healthz and /readyz\n",
        );
    }
    if method != Method::GET && method != Method::HEAD {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "goward: only GET and HEAD are supported\n",
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    // Who is asking: checked before anything else is answered (probes
    // excepted), so the operator page and metrics are not public either.
    let who = match &app.auth {
        Some(auth) if role != Role::Admin && !matches!(path, "/healthz" | "/readyz") => {
            match authenticate(auth, &headers, cert_user).await {
                Ok(id) => Some(id),
                Err(e) => return unauthorized(&method, path, &e),
            }
        }
        _ => cert_user.map(|name| {
            Arc::new(crate::auth::Identity {
                name: name.to_owned(),
                groups: Vec::new(),
            })
        }),
    };
    match path {
        "/healthz" => return text(StatusCode::OK, "ok\n"),
        "/readyz" => {
            return match app.service.ready() {
                Ok(()) => text(StatusCode::OK, "ready\n"),
                Err(e) => text(StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")),
            };
        }
        "/" => {
            return (
                [
                    (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                crate::status::html(&app.service.status().await),
            )
                .into_response();
        }
        "/status.json" => {
            return match serde_json::to_vec_pretty(&app.service.status().await) {
                Ok(body) => (
                    [
                        (header::CONTENT_TYPE, "application/json"),
                        (header::CACHE_CONTROL, "no-store"),
                    ],
                    body,
                )
                    .into_response(),
                Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("status: {e}\n")),
            };
        }
        "/metrics" => {
            // Checksum-database gauges are read at scrape time.
            for db in app.service.sumdbs() {
                let s = db.status();
                metrics::gauge!("goward_sumdb_tree_size", "db" => s.name.clone())
                    .set(s.tree_size as f64);
                metrics::gauge!("goward_sumdb_head_age_seconds", "db" => s.name.clone())
                    .set(s.head_age_secs.map_or(-1.0, |a| a as f64));
                metrics::gauge!("goward_sumdb_fork_detected", "db" => s.name)
                    .set(if s.fork.is_some() { 1.0 } else { 0.0 });
            }
            return (
                [(
                    header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                app.metrics.render(),
            )
                .into_response();
        }
        _ => {}
    }
    let started = std::time::Instant::now();
    let notes = Arc::new(crate::metrics::RequestNotes::default());
    let (endpoint, result) = match request::parse(path, &app.sumdb_names) {
        Ok(req) => {
            let policy = app.service.policy();
            let admitted = req.subject().map_or(Ok(()), |(m, v)| {
                policy.policy().admits(m, v, who.as_deref())
            });
            match admitted {
                Ok(()) => (
                    req.endpoint(),
                    crate::metrics::RequestNotes::scope(
                        notes.clone(),
                        dispatch(&app, req, &headers),
                    )
                    .await,
                ),
                Err(denial) => (
                    req.endpoint(),
                    Err(Arc::new(ProxyError::AccessDenied(denial))),
                ),
            }
        }
        Err(e) => ("invalid", Err(Arc::new(ProxyError::from(e)))),
    };
    let resp = match result {
        Ok(r) => r,
        Err(e) => error_response(path, &e, who.as_deref().map(|w| w.name.as_str())),
    };
    let status = resp.status().as_u16();
    metrics::counter!("goward_requests_total", "endpoint" => endpoint, "status" => status.to_string())
        .increment(1);
    crate::status::request();
    // Bytes actually sent: none for HEAD; the declared length for a zip
    // stream, the exact size of any other body.
    let sent = if method == Method::HEAD {
        None
    } else {
        resp.headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .or_else(|| http_body::Body::size_hint(resp.body()).exact())
    };
    if let Some(len) = sent {
        metrics::counter!("goward_served_bytes_total", "endpoint" => endpoint).increment(len);
    }
    // Access log, written when the body ends (so it has the bytes and the
    // time to the last byte); `--log-level info,goward::access=warn`
    // silences it.
    let path = path.to_owned();
    let user = who.map(|w| w.name.clone());
    let cache = notes.cache();
    let log = Box::new(move |end: crate::metrics::BodyEnd| {
        drop(in_flight);
        tracing::info!(
            target: "goward::access",
            %method,
            path = path.as_str(),
            status,
            user,
            cache,
            bytes = end.bytes,
            complete = end.complete,
            ttfb_ms = end.first_byte.as_millis() as u64,
            ms = end.last_byte.as_millis() as u64,
        );
    });
    resp.map(|body| {
        axum::body::Body::new(crate::metrics::TimedBody::new(body, endpoint, started, log))
    })
}

/// Counts a request in `goward_requests_in_flight` until dropped (with the
/// response, or when its body ends).
struct InFlight;

impl InFlight {
    fn new() -> InFlight {
        metrics::gauge!("goward_requests_in_flight").increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!("goward_requests_in_flight").decrement(1.0);
    }
}

/// The client's identity: its `Authorization` header, else its verified
/// client certificate's name when the credentials file has that user.
/// Argon2 runs on the blocking pool, and only for a password not verified
/// before.
async fn authenticate(
    auth: &Arc<crate::auth::Authenticator>,
    headers: &HeaderMap,
    cert_user: Option<&str>,
) -> Result<Arc<crate::auth::Identity>, crate::auth::AuthError> {
    use crate::auth::AuthError;
    let value = match headers.get(header::AUTHORIZATION) {
        None => {
            return cert_user
                .and_then(|name| auth.credentials().identity(name))
                .ok_or(AuthError::Missing);
        }
        Some(v) => v
            .to_str()
            .map_err(|_| AuthError::Malformed("the Authorization header is not ASCII".into()))?
            .to_owned(),
    };
    if !auth.needs_hashing(&value) {
        return auth.authenticate(Some(&value));
    }
    let a = auth.clone();
    tokio::task::spawn_blocking(move || a.authenticate(Some(&value)))
        .await
        .unwrap_or_else(|e| Err(AuthError::Malformed(format!("checking credentials: {e}"))))
}

/// 401 with `WWW-Authenticate`, so the go command retries with its
/// `.netrc`/`GOAUTH` credentials (never 404, which would let it fall
/// through to another proxy).
fn unauthorized(method: &Method, path: &str, e: &crate::auth::AuthError) -> Response {
    metrics::counter!("goward_auth_failures_total", "reason" => e.label()).increment(1);
    if matches!(e, crate::auth::AuthError::Missing) {
        tracing::debug!(target: "goward::auth", %method, path, "401: {e}");
    } else {
        tracing::warn!(target: "goward::auth", %method, path, reason = e.label(), "401: {e}");
    }
    let mut r = text(StatusCode::UNAUTHORIZED, format!("goward: {e}\n"));
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"goward\", charset=\"UTF-8\""),
    );
    r
}

fn error_response(path: &str, e: &ProxyError, user: Option<&str>) -> Response {
    let status = e.status();
    let body = e.body();
    if e.is_verification_failure()
        || matches!(e, ProxyError::Denied { .. } | ProxyError::AccessDenied(_))
    {
        crate::audit::refused(path, status.as_u16(), e.reason(), &body, user);
        crate::status::refused(path, status.as_u16(), e.reason(), &body);
    }
    if e.is_verification_failure() {
        metrics::counter!("goward_verification_failures_total", "reason" => e.reason())
            .increment(1);
        tracing::warn!(
            path,
            status = status.as_u16(),
            reason = e.reason(),
            "refused: {e}"
        );
    } else if status.is_server_error() {
        tracing::warn!(path, status = status.as_u16(), reason = e.reason(), "{e}");
    } else {
        tracing::debug!(path, status = status.as_u16(), reason = e.reason(), "{e}");
    }
    if e.reason() == "not_in_offline_cache" {
        metrics::counter!("goward_offline_misses_total").increment(1);
    }
    text(status, body)
}

fn ok(content_type: &'static str, body: Bytes) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn dispatch(app: &App, req: Request, headers: &HeaderMap) -> Result<Response, Failure> {
    let svc = &app.service;
    Ok(match req {
        Request::List(m) => ok(TEXT, svc.list(&m).await?),
        Request::Latest(m) => ok("application/json", svc.latest(&m).await?),
        Request::Info(mv) => ok("application/json", svc.info(&mv).await?),
        Request::InfoQuery(m, q) => ok("application/json", svc.info_query(&m, &q).await?),
        Request::Mod(mv) => {
            let body = svc.go_mod(&mv).await?;
            svc.prefetch(&mv);
            ok(TEXT, body)
        }
        Request::Zip(mv) => {
            let blob = svc.open_zip(&mv).await?;
            if blob.artifact().size <= SMALL_ZIP && !headers.contains_key(header::RANGE) {
                let meta = blob.artifact().clone();
                if let Ok(body) = blob.read_all().await {
                    return Ok(small_zip(&meta, body));
                }
                // The digest check failed and the blob was quarantined:
                // fetch, prove and serve a fresh copy.
                let blob = svc.open_zip(&mv).await?;
                return Ok(serve_zip(blob, headers));
            }
            serve_zip(blob, headers)
        }
        Request::Sumdb(i, op) => {
            let ct = match &op {
                SumdbOp::Tile(t) if t.l >= 0 => "application/octet-stream",
                _ => TEXT,
            };
            let supported = matches!(op, SumdbOp::Supported);
            let body = svc.sumdb(i, op).await?;
            if supported {
                text(StatusCode::OK, "")
            } else {
                ok(ct, body)
            }
        }
    })
}

/// A single byte range, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ByteRange {
    start: u64,
    end: u64,
}

/// Parses `Range: bytes=…` for one range. `Ok(None)`: serve the whole body
/// (absent, multi-range or not bytes); `Err(())`: unsatisfiable (416).
fn parse_range(value: Option<&str>, size: u64) -> Result<Option<ByteRange>, ()> {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let r = if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 || size == 0 {
            return Err(());
        }
        ByteRange {
            start: size.saturating_sub(n),
            end: size.saturating_sub(1),
        }
    } else {
        let start: u64 = a.parse().map_err(|_| ())?;
        let end = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            b.parse::<u64>()
                .map_err(|_| ())?
                .min(size.saturating_sub(1))
        };
        if start >= size || end < start {
            return Err(());
        }
        ByteRange { start, end }
    };
    Ok(Some(r))
}

/// The strong validator of a stored zip: its digest plus the stored copy's
/// instance stamp, so a re-fetched copy never matches an `If-Range` of the
/// copy it replaced (no splicing of two copies on resume).
fn etag(meta: &ArtifactMeta) -> String {
    format!("\"{}-{:x}\"", &meta.sha256[..32], meta.instance)
}

/// Zips up to this size are sent as one body once their digest matched;
/// larger ones and ranges are streamed.
const SMALL_ZIP: u64 = crate::cache::SMALL_READ;

/// A small zip whose digest was checked before any byte is sent.
fn small_zip(meta: &ArtifactMeta, body: Bytes) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (header::ETAG, etag(meta)),
            (header::ACCEPT_RANGES, "bytes".to_owned()),
        ],
        body,
    )
        .into_response()
}

/// Streams a stored zip, honouring `Range`/`If-Range`; the verifying read
/// ([`crate::cache::read`]) holds back the last piece until the digest of
/// the whole blob matched, so a client never receives a complete corrupted
/// body.
fn serve_zip(blob: VerifiedRead, headers: &HeaderMap) -> Response {
    let size = blob.artifact().size;
    let tag = etag(blob.artifact());
    let if_range_ok = headers
        .get(header::IF_RANGE)
        .map(|v| v.to_str().is_ok_and(|v| v == tag))
        .unwrap_or(true);
    let range = if if_range_ok {
        parse_range(
            headers.get(header::RANGE).and_then(|v| v.to_str().ok()),
            size,
        )
    } else {
        Ok(None)
    };
    let range = match range {
        Ok(r) => r,
        Err(()) => {
            return Response::builder()
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{size}"))
                .header(header::CONTENT_TYPE, TEXT)
                .body(Body::from("goward: requested range not satisfiable\n"))
                .unwrap_or_default();
        }
    };
    let want = range.unwrap_or(ByteRange {
        start: 0,
        end: size.saturating_sub(1),
    });
    // `parse_range` keeps start <= end < size.
    let len = if size == 0 {
        0
    } else {
        want.end.saturating_sub(want.start).saturating_add(1)
    };
    let stream = blob.stream(Some((want.start, want.end)));
    let mut b = Response::builder()
        .header(header::CONTENT_TYPE, "application/zip")
        .header(header::CONTENT_LENGTH, len)
        .header(header::ETAG, &tag)
        .header(header::ACCEPT_RANGES, "bytes");
    b = match range {
        Some(r) => b.status(StatusCode::PARTIAL_CONTENT).header(
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{size}", r.start, r.end),
        ),
        None => b.status(StatusCode::OK),
    };
    b.body(Body::from_stream(stream)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r = |s: &str| parse_range(Some(s), 100);
        assert_eq!(r("bytes=0-"), Ok(Some(ByteRange { start: 0, end: 99 })));
        assert_eq!(r("bytes=10-19"), Ok(Some(ByteRange { start: 10, end: 19 })));
        assert_eq!(
            r("bytes=90-200"),
            Ok(Some(ByteRange { start: 90, end: 99 }))
        );
        assert_eq!(r("bytes=-10"), Ok(Some(ByteRange { start: 90, end: 99 })));
        assert_eq!(r("bytes=0-1,5-6"), Ok(None));
        assert_eq!(r("items=0-1"), Ok(None));
        assert_eq!(parse_range(None, 100), Ok(None));
        assert_eq!(r("bytes=100-"), Err(()));
        assert_eq!(r("bytes=20-10"), Err(()));
        assert_eq!(r("bytes=-0"), Err(()));
        assert_eq!(r("bytes=x-"), Err(()));
    }
}
