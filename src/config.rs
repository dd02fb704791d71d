//! Configuration: command-line flags, `GOWARD_*` environment variables, a
//! TOML file and embedded defaults, merged in that order of precedence
//! (flags > env > file > defaults) into one validated [`Config`].
//!
//! This is the only module that reads the process environment.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::Deserialize;

use crate::sumdb::SumdbSpec;
use crate::upstream::{FetchLimits, UpstreamMode};

/// Default upstream: the Go module mirror.
pub const DEFAULT_UPSTREAM: &str = "https://proxy.golang.org";
/// Default listen address: loopback only; exposing goward is a decision.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Log output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Where goward's cache is: `--config` (whose `cache_dir` may set it) and
/// `--cache-dir`. Declared once so that every command that opens the cache
/// (`serve`, `cache`, `doctor`, `verify-toolchain`) takes the same flags and
/// `GOWARD_*` variables; a command that needs other help text says so with
/// `#[command(mut_arg(...))]` next to its `#[command(flatten)]`.
#[derive(Debug, Clone, Default, Args)]
pub struct CacheLocation {
    /// TOML configuration file (keys as the long flags, with `_` for `-`).
    #[arg(long, env = "GOWARD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Cache directory [default: the per-user cache dir + /goward].
    #[arg(long, env = "GOWARD_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Where verified artifacts are stored: file:///path or a path (the
    /// cache directory, the default), or s3://bucket[/prefix], shared by
    /// several replicas (AWS_* variables configure it; --cache-dir is then
    /// the local tier).
    #[arg(long, env = "GOWARD_STORE", value_name = "URL")]
    pub store: Option<String>,
}

impl CacheLocation {
    /// `serve`'s arguments for this location, everything else unset: the
    /// other commands load the configuration exactly as `serve` does.
    pub fn serve_args(&self) -> ServeArgs {
        ServeArgs {
            location: self.clone(),
            ..ServeArgs::default()
        }
    }

    /// The configuration of a command that works on the cache `serve`
    /// fills (`cache verify|gc`, `bundle export|import`): loaded exactly as
    /// `serve` loads it, with the command's own `--sumdb` and `--policy`
    /// (empty or `None`: the config file's, else the default), so these
    /// commands verify with the same anchors as `serve`.
    pub fn load(&self, sumdb: &[String], policy: Option<&Path>) -> Result<Config, ConfigError> {
        Config::load(&ServeArgs {
            sumdb: sumdb.to_vec(),
            policy: policy.map(Path::to_path_buf),
            ..self.serve_args()
        })
    }
}

/// Flags of `goward serve`.
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    #[command(flatten)]
    pub location: CacheLocation,
    /// Address to listen on: HOST:PORT, :PORT (all IPv4 interfaces), [::]:PORT
    /// (all IPv6), localhost:PORT (every address it resolves to); repeatable,
    /// ","-separated in GOWARD_LISTEN [default: 127.0.0.1:8080].
    #[arg(long, env = "GOWARD_LISTEN", value_name = "ADDR", value_delimiter = ',', value_parser = ListenAddr::parse)]
    pub listen: Vec<ListenAddr>,
    /// Serve /metrics, /healthz and /readyz only on this address (plain HTTP),
    /// so probes and scrapes need no client credentials; they answer 404 on
    /// --listen then [default: served on --listen].
    #[arg(long, env = "GOWARD_ADMIN_LISTEN", value_name = "ADDR", value_parser = ListenAddr::parse)]
    pub admin_listen: Option<ListenAddr>,
    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs
    /// --tls-key. Reloaded on SIGHUP and when the file changes.
    #[arg(long, env = "GOWARD_TLS_CERT", value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "GOWARD_TLS_KEY", value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
    /// Ask clients for a certificate issued by one of these CAs (PEM).
    #[arg(long, env = "GOWARD_TLS_CLIENT_CA", value_name = "FILE")]
    pub tls_client_ca: Option<PathBuf>,
    /// With --tls-client-ca: `require` refuses a handshake without a valid
    /// client certificate; `request` accepts one without and logs the
    /// certificate's name as `user` when there is one [default: require].
    #[arg(long, env = "GOWARD_TLS_CLIENT_AUTH", value_enum)]
    pub tls_client_auth: Option<crate::tls::ClientAuth>,
    /// Serve only what the cache holds: no upstream or checksum database is
    /// ever contacted, and anything missing is answered 404 "not in this
    /// offline mirror".
    #[arg(long, env = "GOWARD_OFFLINE", value_parser = clap::builder::FalseyValueParser::new())]
    pub offline: bool,
    /// Upstream proxies, GOPROXY syntax: "," falls through on 404/410 only,
    /// "|" on any error; http://, https://, file:// [default: https://proxy.golang.org].
    #[arg(long, env = "GOWARD_UPSTREAM", value_name = "LIST")]
    pub upstream: Option<String>,
    /// A checksum database, as GOSUMDB: "name+hash+key [URL]" (repeatable;
    /// ";"-separated in GOWARD_SUMDB). The first one proves modules; all are
    /// served under /sumdb/<name>/. Without URL it is reached through the
    /// upstream proxies, then https://<name> [default: sum.golang.org].
    #[arg(
        long = "sumdb",
        env = "GOWARD_SUMDB",
        value_name = "KEY [URL]",
        value_delimiter = ';'
    )]
    pub sumdb: Vec<String>,
    /// Log format [default: text].
    #[arg(long, env = "GOWARD_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// What to log: a level (error, warn, info, debug, trace) or per-target
    /// directives such as `info,goward::access=warn` [default: info].
    #[arg(long, env = "GOWARD_LOG_LEVEL", value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Largest module zip accepted: bytes, or a number and a unit such as
    /// 100MiB or 500MB [default: 500MiB, the go command's limit].
    #[arg(long, env = "GOWARD_MAX_ZIP_SIZE", value_name = "SIZE", value_parser = crate::size::parse_size)]
    pub max_zip_size: Option<u64>,
    /// Policy file (policy/README.md); reloaded on SIGHUP and when it
    /// changes [default: the embedded policy/default.toml].
    #[arg(long, env = "GOWARD_POLICY", value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Audit log: one JSON line per refusal and per first-time proof,
    /// appended to FILE [default: none].
    #[arg(long, env = "GOWARD_AUDIT_LOG", value_name = "FILE")]
    pub audit_log: Option<PathBuf>,
    /// Credentials file (hashed passwords and tokens, written by `goward
    /// user` and `goward token`): every client must authenticate; reloaded
    /// on SIGHUP and when it changes [default: none, no authentication].
    #[arg(long, env = "GOWARD_AUTH_FILE", value_name = "FILE")]
    pub auth_file: Option<PathBuf>,
    /// Seconds a @v/list or @latest answer is reused [default: 60].
    #[arg(long, env = "GOWARD_LIST_TTL", value_name = "SECS")]
    pub list_ttl: Option<u64>,
    /// Seconds allowed for a whole upstream request with a small body [default: 120].
    #[arg(long, env = "GOWARD_UPSTREAM_TIMEOUT", value_name = "SECS")]
    pub upstream_timeout: Option<u64>,
    /// Seconds an upstream may stay silent, before the response head or
    /// between body chunks [default: 60].
    #[arg(long, env = "GOWARD_IDLE_TIMEOUT", value_name = "SECS")]
    pub idle_timeout: Option<u64>,
    /// Seconds a client has to send a request head, from connecting or from
    /// the end of the previous response (so also the keep-alive idle time) [default: 30].
    #[arg(long, env = "GOWARD_CLIENT_HEADER_TIMEOUT", value_name = "SECS")]
    pub client_header_timeout: Option<u64>,
    /// Open client connections; at the cap new ones wait unaccepted until one
    /// closes [default: half the open-file limit, 64 to 4096].
    #[arg(long, env = "GOWARD_MAX_CONNECTIONS", value_name = "N")]
    pub max_connections: Option<usize>,
    /// Memory for @v/list, @latest and .info answers: bytes, or a number and a
    /// unit such as 64MiB [default: 64MiB].
    #[arg(long, env = "GOWARD_MEMORY_CACHE_SIZE", value_name = "SIZE", value_parser = crate::size::parse_size)]
    pub memory_cache_size: Option<u64>,
    /// With an s3:// store: disk for the local tier of hot blobs in the
    /// cache directory [default: 4GiB].
    #[arg(long, env = "GOWARD_LOCAL_CACHE_SIZE", value_name = "SIZE", value_parser = crate::size::parse_size)]
    pub local_cache_size: Option<u64>,
}

/// Flags of `goward verify-zip`.
#[derive(Debug, Args)]
pub struct VerifyZipArgs {
    /// The module zip.
    pub file: PathBuf,
    /// Module path the zip must be for.
    #[arg(long)]
    pub module: String,
    /// Version the zip must be for.
    #[arg(long)]
    pub version: String,
    /// Expected h1: hash.
    #[arg(long)]
    pub h1: Option<String>,
}

/// The TOML file. Unknown keys are errors, reported with line and column.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<OneOrMany>,
    admin_listen: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    tls_client_ca: Option<PathBuf>,
    tls_client_auth: Option<crate::tls::ClientAuth>,
    cache_dir: Option<PathBuf>,
    store: Option<String>,
    local_cache_size: Option<crate::size::SizeValue>,
    fill_leases: Option<bool>,
    upstream: Option<String>,
    offline: Option<bool>,
    sumdb: Option<Vec<String>>,
    log_format: Option<LogFormat>,
    log_level: Option<String>,
    max_zip_size: Option<crate::size::SizeValue>,
    list_ttl: Option<u64>,
    upstream_timeout: Option<u64>,
    idle_timeout: Option<u64>,
    connect_timeout: Option<u64>,
    zip_timeout: Option<u64>,
    max_fills: Option<u64>,
    spool_budget: Option<crate::size::SizeValue>,
    policy: Option<PathBuf>,
    audit_log: Option<PathBuf>,
    auth_file: Option<PathBuf>,
    client_header_timeout: Option<u64>,
    max_connections: Option<usize>,
    drain_timeout: Option<u64>,
    memory_cache_size: Option<crate::size::SizeValue>,
    allow_internal_redirects: Option<bool>,
    mirror: Option<MirrorFile>,
    bundle: Option<BundleFile>,
}

/// `[mirror]` in the config file: `goward mirror`'s flags, under the same
/// names (a flag or its `GOWARD_MIRROR_*` variable wins). In a section of
/// its own because `list`, `from`, `json` and `log_level` mean something
/// else, or nothing, to `serve`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorFile {
    /// `--list` files (relative to the config file).
    pub list: Option<Vec<PathBuf>>,
    /// `--from` projects (relative to the config file).
    pub from: Option<Vec<PathBuf>>,
    /// `--toolchain` releases.
    pub toolchain: Option<Vec<String>>,
    /// `--platforms`, `OS/ARCH,...`.
    pub platforms: Option<String>,
    /// `--jobs`.
    pub jobs: Option<u16>,
    /// `--json`.
    pub json: Option<bool>,
    /// `--log-level` of the mirror (its default, `warn`, differs from serve's).
    pub log_level: Option<String>,
}

/// `[bundle]` in the config file: `goward bundle`'s flags (a flag or its
/// `GOWARD_BUNDLE_*` variable wins).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleFile {
    /// `export --out` (relative to the config file).
    pub out: Option<PathBuf>,
    /// `export --since` (relative to the config file).
    pub since: Option<PathBuf>,
    /// `import --partial`.
    pub partial: Option<bool>,
}

/// `listen = "a"`, `listen = "a,b"` or `listen = ["a", "b"]`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

/// A listen address as people type it. Kept unresolved until goward binds,
/// so a host name binds every address it resolves to at that moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// An IP address and port (`:PORT` is `0.0.0.0:PORT`).
    Socket(SocketAddr),
    /// A host name and port, such as `localhost:8080`.
    Host {
        /// The name to resolve.
        host: String,
        /// The port.
        port: u16,
    },
}

impl ListenAddr {
    /// Parses `HOST:PORT`, `:PORT`, `IPv4:PORT` or `[IPv6]:PORT`.
    pub fn parse(s: &str) -> Result<ListenAddr, String> {
        let s = s.trim();
        let syntax = "expected HOST:PORT, :PORT, IPv4:PORT or [IPv6]:PORT";
        if let Ok(a) = s.parse::<SocketAddr>() {
            return Ok(ListenAddr::Socket(a));
        }
        let Some((host, port)) = s.rsplit_once(':') else {
            return Err(format!("{s:?}: no port; {syntax}"));
        };
        let port: u16 = port
            .parse()
            .map_err(|_| format!("{s:?}: invalid port {port:?}; {syntax}"))?;
        if host.is_empty() {
            return Ok(ListenAddr::Socket(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                port,
            )));
        }
        if host.contains(':') || host.starts_with('[') {
            return Err(format!(
                "{s:?}: an IPv6 address must be in brackets, as [::1]:{port}; {syntax}"
            ));
        }
        // A name whose last label is numeric is a mistyped IPv4 address.
        let numeric = host
            .rsplit('.')
            .next()
            .is_some_and(|l| l.chars().all(|c| c.is_ascii_digit()));
        if numeric
            || !host
                .split('.')
                .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        {
            return Err(format!("{s:?}: invalid host {host:?}; {syntax}"));
        }
        Ok(ListenAddr::Host {
            host: host.to_owned(),
            port,
        })
    }

    /// The addresses to bind: one for an IP address, every address a host
    /// name resolves to (deduplicated, in resolver order).
    pub fn resolve(&self) -> std::io::Result<Vec<SocketAddr>> {
        match self {
            ListenAddr::Socket(a) => Ok(vec![*a]),
            ListenAddr::Host { host, port } => {
                use std::net::ToSocketAddrs;
                let mut out: Vec<SocketAddr> = Vec::new();
                for a in (host.as_str(), *port).to_socket_addrs()? {
                    if !out.contains(&a) {
                        out.push(a);
                    }
                }
                Ok(out)
            }
        }
    }
}

impl std::fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ListenAddr::Socket(a) => write!(f, "{a}"),
            ListenAddr::Host { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

/// A configuration problem; the message names the setting and the source.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file does not parse (the message carries line and column).
    #[error("config file {path}: {msg}")]
    Parse { path: PathBuf, msg: String },
    /// A value is invalid.
    #[error("invalid {setting}: {msg}")]
    Invalid { setting: &'static str, msg: String },
    /// A command that reads an existing cache found no cache directory.
    #[error("no cache directory at {}", dir.display())]
    NoCache { dir: PathBuf },
}

/// The validated configuration of `goward serve`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen addresses (at least one).
    pub listen: Vec<ListenAddr>,
    /// The admin listener (`/metrics`, `/healthz`, `/readyz`), if separate.
    pub admin_listen: Option<ListenAddr>,
    /// HTTPS on the listen addresses; `None`: plain HTTP.
    pub tls: Option<crate::tls::TlsSettings>,
    /// Cache root.
    pub cache_dir: PathBuf,
    /// GOPROXY-style upstream list.
    pub upstream: String,
    /// Online, or offline (the cache only; no socket is opened).
    pub mode: UpstreamMode,
    /// Checksum databases; the first proves modules.
    pub sumdbs: Vec<SumdbSpec>,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter directives (`tracing_subscriber::EnvFilter` syntax), checked.
    pub log_level: String,
    /// Largest zip accepted.
    pub max_zip_size: u64,
    /// The policy file; `None`: the embedded default.
    pub policy: Option<PathBuf>,
    /// The audit log file, if any.
    pub audit_log: Option<PathBuf>,
    /// The credentials file, if clients must authenticate.
    pub auth_file: Option<PathBuf>,
    /// TTL of list/latest answers.
    pub list_ttl: Duration,
    /// Upstream timeouts.
    pub fetch: FetchLimits,
    /// Fills running at once.
    pub max_fills: usize,
    /// Spool bytes for zips in flight.
    pub spool_budget: u64,
    /// Client connection limits.
    pub conn: ConnLimits,
    /// Bytes of list/latest/info answers kept in memory.
    pub memory_cache_size: u64,
    /// Where artifacts are stored: the cache directory, or a shared bucket
    /// (then `cache_dir` is its local tier).
    pub store: crate::cache::StoreUrl,
    /// Bound of the local tier in front of a shared bucket.
    pub local_cache_size: u64,
    /// With a shared bucket: deduplicate cold fetches across replicas.
    pub fill_leases: bool,
    /// `[mirror]` of the config file, paths resolved.
    pub mirror: MirrorFile,
    /// `[bundle]` of the config file, paths resolved.
    pub bundle: BundleFile,
}

impl Config {
    /// For the commands that read an existing cache: its directory must be
    /// there, unless the store is a shared bucket (the directory is then
    /// only its local tier).
    pub fn require_cache_dir(&self) -> Result<(), ConfigError> {
        if matches!(self.store, crate::cache::StoreUrl::Disk(_)) && !self.cache_dir.is_dir() {
            return Err(ConfigError::NoCache {
                dir: self.cache_dir.clone(),
            });
        }
        Ok(())
    }

    /// Merges flags/env (already merged by clap) over the file over defaults.
    pub fn load(args: &ServeArgs) -> Result<Config, ConfigError> {
        let file = match &args.location.config {
            Some(p) => read_file(p)?,
            None => FileConfig::default(),
        };
        let sumdb_values = if !args.sumdb.is_empty() {
            args.sumdb.clone()
        } else {
            file.sumdb
                .clone()
                .unwrap_or_else(|| vec!["sum.golang.org".to_owned()])
        };
        if sumdb_values.is_empty() {
            return Err(ConfigError::Invalid {
                setting: "sumdb",
                msg: "at least one checksum database is required; goward does not serve unproven modules".into(),
            });
        }
        let mut sumdbs = Vec::new();
        for v in &sumdb_values {
            let spec = SumdbSpec::parse(v).map_err(|msg| ConfigError::Invalid {
                setting: "sumdb",
                msg,
            })?;
            if sumdbs.iter().any(|s: &SumdbSpec| s.name == spec.name) {
                return Err(ConfigError::Invalid {
                    setting: "sumdb",
                    msg: format!("checksum database {} is configured twice", spec.name),
                });
            }
            sumdbs.push(spec);
        }
        let cache_dir = match args.location.cache_dir.clone().or(file.cache_dir) {
            Some(d) => d,
            None => default_cache_dir().ok_or(ConfigError::Invalid {
                setting: "cache-dir",
                msg: "no per-user cache directory could be determined; set --cache-dir".into(),
            })?,
        };
        let store = match args.location.store.clone().or(file.store) {
            None => crate::cache::StoreUrl::Disk(cache_dir.clone()),
            Some(s) => crate::cache::StoreUrl::parse(&s).map_err(|msg| ConfigError::Invalid {
                setting: "store",
                msg,
            })?,
        };
        // A file:// store is the cache directory.
        let cache_dir = match &store {
            crate::cache::StoreUrl::Disk(d) => d.clone(),
            crate::cache::StoreUrl::S3 { .. } => cache_dir,
        };
        let secs = |flag: Option<u64>, file: Option<u64>, default: u64, setting: &'static str| {
            let v = flag.or(file).unwrap_or(default);
            if v == 0 {
                return Err(ConfigError::Invalid {
                    setting,
                    msg: "must be at least 1 second".into(),
                });
            }
            Ok(Duration::from_secs(v))
        };
        let defaults = FetchLimits::default();
        let fetch = FetchLimits {
            connect_timeout: secs(
                None,
                file.connect_timeout,
                defaults.connect_timeout.as_secs(),
                "connect_timeout",
            )?,
            idle_timeout: secs(
                args.idle_timeout,
                file.idle_timeout,
                defaults.idle_timeout.as_secs(),
                "idle-timeout",
            )?,
            request_timeout: secs(
                args.upstream_timeout,
                file.upstream_timeout,
                defaults.request_timeout.as_secs(),
                "upstream-timeout",
            )?,
            zip_timeout: secs(
                None,
                file.zip_timeout,
                defaults.zip_timeout.as_secs(),
                "zip_timeout",
            )?,
            allow_internal_redirects: file
                .allow_internal_redirects
                .unwrap_or(defaults.allow_internal_redirects),
        };
        let from_file = file_size(file.max_zip_size.as_ref(), "max_zip_size")?;
        let max_zip_size = args
            .max_zip_size
            .or(from_file)
            .unwrap_or(crate::verify::zip::ZipLimits::default().max_zip_file);
        if max_zip_size == 0 {
            return Err(ConfigError::Invalid {
                setting: "max-zip-size",
                msg: "must be positive".into(),
            });
        }
        let service_defaults = crate::service::ServiceLimits::default();
        let max_fills = match file.max_fills {
            None => service_defaults.max_fills,
            Some(0) => {
                return Err(ConfigError::Invalid {
                    setting: "max_fills",
                    msg: "must be positive".into(),
                });
            }
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        };
        // A zip declared larger than the budget waits for the whole budget.
        let spool_budget = file_size(file.spool_budget.as_ref(), "spool_budget")?
            .unwrap_or(service_defaults.spool_budget);
        if spool_budget == 0 {
            return Err(ConfigError::Invalid {
                setting: "spool_budget",
                msg: "must be positive".into(),
            });
        }
        let conn_defaults = ConnLimits::default();
        let conn = ConnLimits {
            header_timeout: secs(
                args.client_header_timeout,
                file.client_header_timeout,
                conn_defaults.header_timeout.as_secs(),
                "client-header-timeout",
            )?,
            max_connections: match args.max_connections.or(file.max_connections) {
                Some(0) => {
                    return Err(ConfigError::Invalid {
                        setting: "max-connections",
                        msg: "must be at least 1".into(),
                    });
                }
                Some(n) => n,
                None => conn_defaults.max_connections,
            },
            drain_timeout: secs(
                None,
                file.drain_timeout,
                conn_defaults.drain_timeout.as_secs(),
                "drain_timeout",
            )?,
        };
        // A relative path in the config file is relative to that file.
        let beside = |p: Option<PathBuf>| {
            p.map(|p| match &args.location.config {
                Some(c) if p.is_relative() => c.parent().map_or(p.clone(), |d| d.join(&p)),
                _ => p,
            })
        };
        let file_policy = beside(file.policy);
        let mut mirror = file.mirror.unwrap_or_default();
        for paths in [&mut mirror.list, &mut mirror.from] {
            if let Some(v) = paths.take() {
                *paths = Some(v.into_iter().filter_map(|p| beside(Some(p))).collect());
            }
        }
        if mirror.jobs.is_some_and(|j| !(1..=256).contains(&j)) {
            return Err(ConfigError::Invalid {
                setting: "mirror.jobs",
                msg: "must be from 1 to 256".into(),
            });
        }
        let mut bundle = file.bundle.unwrap_or_default();
        bundle.out = beside(bundle.out);
        bundle.since = beside(bundle.since);
        Ok(Config {
            mirror,
            bundle,
            policy: args.policy.clone().or(file_policy),
            audit_log: args.audit_log.clone().or(beside(file.audit_log)),
            auth_file: args.auth_file.clone().or(beside(file.auth_file)),
            listen: listen_addrs(&args.listen, file.listen)?,
            admin_listen: match (&args.admin_listen, file.admin_listen) {
                (Some(a), _) => Some(a.clone()),
                (None, Some(s)) => {
                    Some(ListenAddr::parse(&s).map_err(|msg| ConfigError::Invalid {
                        setting: "admin_listen",
                        msg,
                    })?)
                }
                (None, None) => None,
            },
            tls: tls_settings(
                args,
                beside(file.tls_cert),
                beside(file.tls_key),
                beside(file.tls_client_ca),
                file.tls_client_auth,
            )?,
            cache_dir,
            upstream: args
                .upstream
                .clone()
                .or(file.upstream)
                .unwrap_or_else(|| DEFAULT_UPSTREAM.to_owned()),
            // A flag can only turn offline mode on: `offline = true` in a
            // file is not undone from the command line.
            mode: if args.offline || file.offline == Some(true) {
                UpstreamMode::Offline
            } else {
                UpstreamMode::Online
            },
            sumdbs,
            log_format: args.log_format.or(file.log_format).unwrap_or_default(),
            log_level: log_level(args.log_level.clone().or(file.log_level))?,
            max_zip_size,
            list_ttl: secs(args.list_ttl, file.list_ttl, 60, "list-ttl")?,
            fetch,
            max_fills,
            spool_budget,
            conn,
            memory_cache_size: args
                .memory_cache_size
                .or(file_size(
                    file.memory_cache_size.as_ref(),
                    "memory_cache_size",
                )?)
                .unwrap_or(crate::service::ServiceLimits::default().memory_cache_bytes),
            store,
            local_cache_size: args
                .local_cache_size
                .or(file_size(
                    file.local_cache_size.as_ref(),
                    "local_cache_size",
                )?)
                .unwrap_or(crate::cache::object::DEFAULT_LOCAL_TIER),
            fill_leases: file.fill_leases.unwrap_or(true),
        })
    }
}

/// The listen addresses: the flags (or GOWARD_LISTEN), else the file's
/// `listen` (a string, ","-separated, or an array), else the default.
fn listen_addrs(
    flags: &[ListenAddr],
    file: Option<OneOrMany>,
) -> Result<Vec<ListenAddr>, ConfigError> {
    let mut out = if !flags.is_empty() {
        flags.to_vec()
    } else {
        let values = match file {
            None => vec![DEFAULT_LISTEN.to_owned()],
            Some(OneOrMany::One(s)) => s.split(',').map(str::to_owned).collect(),
            Some(OneOrMany::Many(v)) => v,
        };
        values
            .iter()
            .map(|v| ListenAddr::parse(v))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|msg| ConfigError::Invalid {
                setting: "listen",
                msg,
            })?
    };
    // The same address twice is one socket; port 0 twice is two ports.
    let mut seen = Vec::new();
    out.retain(|a| {
        let port = match a {
            ListenAddr::Socket(s) => s.port(),
            ListenAddr::Host { port, .. } => *port,
        };
        let new = port == 0 || !seen.contains(a);
        seen.push(a.clone());
        new
    });
    if out.is_empty() {
        return Err(ConfigError::Invalid {
            setting: "listen",
            msg: "no address given".into(),
        });
    }
    Ok(out)
}

/// The TLS settings: both of certificate and key, or neither; client
/// certificates only with TLS, and their mode only with a client CA.
fn tls_settings(
    args: &ServeArgs,
    file_cert: Option<PathBuf>,
    file_key: Option<PathBuf>,
    file_ca: Option<PathBuf>,
    file_auth: Option<crate::tls::ClientAuth>,
) -> Result<Option<crate::tls::TlsSettings>, ConfigError> {
    let cert = args.tls_cert.clone().or(file_cert);
    let key = args.tls_key.clone().or(file_key);
    let client_ca = args.tls_client_ca.clone().or(file_ca);
    let client_auth = args.tls_client_auth.or(file_auth);
    let invalid = |setting, msg: &str| ConfigError::Invalid {
        setting,
        msg: msg.to_owned(),
    };
    let (cert, key) = match (cert, key) {
        (Some(c), Some(k)) => (c, k),
        (Some(_), None) => {
            return Err(invalid(
                "tls-key",
                "--tls-cert is set but --tls-key is not; give both (PEM files)",
            ));
        }
        (None, Some(_)) => {
            return Err(invalid(
                "tls-cert",
                "--tls-key is set but --tls-cert is not; give both (PEM files)",
            ));
        }
        (None, None) => {
            if client_ca.is_some() {
                return Err(invalid(
                    "tls-client-ca",
                    "client certificates need TLS: set --tls-cert and --tls-key",
                ));
            }
            if client_auth.is_some() {
                return Err(invalid(
                    "tls-client-auth",
                    "client certificates need TLS and --tls-client-ca",
                ));
            }
            return Ok(None);
        }
    };
    if client_auth.is_some() && client_ca.is_none() {
        return Err(invalid(
            "tls-client-auth",
            "needs --tls-client-ca (the CA that issues client certificates)",
        ));
    }
    Ok(Some(crate::tls::TlsSettings {
        cert,
        key,
        client_ca: client_ca.map(|ca| (ca, client_auth.unwrap_or_default())),
    }))
}

/// A size from the config file, in bytes.
fn file_size(
    v: Option<&crate::size::SizeValue>,
    setting: &'static str,
) -> Result<Option<u64>, ConfigError> {
    v.map(|v| {
        v.bytes().map_err(|e| ConfigError::Invalid {
            setting,
            msg: format!("{v}: {e}"),
        })
    })
    .transpose()
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        msg: e.to_string().trim_end().to_owned(),
    })
}

/// The per-user cache directory: `%LOCALAPPDATA%\goward` on Windows,
/// `~/Library/Caches/goward` on macOS, `$XDG_CACHE_HOME/goward` or
/// `~/.cache/goward` elsewhere.
pub fn default_cache_dir() -> Option<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let base = if cfg!(windows) {
        env("LOCALAPPDATA")
    } else if cfg!(target_os = "macos") {
        env("HOME").map(|h| h.join("Library/Caches"))
    } else {
        env("XDG_CACHE_HOME").or_else(|| env("HOME").map(|h| h.join(".cache")))
    }?;
    Some(base.join("goward"))
}

/// The log filter: the setting, else `RUST_LOG` (still honoured), else
/// `info`. Checked here so a typo is a start-up error, not silence.
fn log_level(setting: Option<String>) -> Result<String, ConfigError> {
    let level = setting
        .or_else(|| std::env::var("RUST_LOG").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "info".to_owned());
    tracing_subscriber::EnvFilter::try_new(&level).map_err(|e| ConfigError::Invalid {
        setting: "log-level",
        msg: format!(
            "{level:?}: {e} (use error, warn, info, debug, trace, or directives such as \"info,goward::access=warn\")"
        ),
    })?;
    Ok(level)
}

/// Limits on client connections: without them an idle or half-sent
/// connection is held forever, and a few hundred silent sockets exhaust the
/// process's file descriptors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// Time a client has to send a complete request head, counted from
    /// accept and again from the end of each response: so it is also how long
    /// an idle keep-alive connection is kept. Also the time a TLS handshake
    /// may take, and how long an HTTP/2 connection may go without a new
    /// request.
    pub header_timeout: std::time::Duration,
    /// Open client connections; at the cap goward stops accepting (new
    /// connections wait in the kernel's listen backlog) until one closes.
    pub max_connections: usize,
    /// How long a shutdown waits for requests in flight (a large zip to a
    /// slow client) before it closes what is left: a service manager's stop
    /// must not wait forever.
    pub drain_timeout: std::time::Duration,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_timeout: std::time::Duration::from_secs(30),
            max_connections: default_max_connections(),
            drain_timeout: std::time::Duration::from_secs(30),
        }
    }
}

/// Half the soft open-file limit, between 64 and 4096: the other half is
/// left for cache files and upstream sockets (a 1024 limit gives 512).
fn default_max_connections() -> usize {
    #[cfg(target_os = "linux")]
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    #[cfg(not(target_os = "linux"))]
    let soft: Option<u64> = None;
    soft.map_or(4096, |n| (n / 2).clamp(64, 4096) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser as _;

    fn args(v: &[&str]) -> ServeArgs {
        let mut full = vec!["goward", "serve"];
        full.extend_from_slice(v);
        match Cli::try_parse_from(full).unwrap().command {
            Command::Serve(a) => a,
            _ => unreachable!(),
        }
    }

    #[test]
    fn defaults_are_the_public_ecosystem() {
        let c = Config::load(&args(&["--cache-dir", "/tmp/x"])).unwrap();
        assert_eq!(c.upstream, DEFAULT_UPSTREAM);
        assert_eq!(c.listen, [ListenAddr::parse(DEFAULT_LISTEN).unwrap()]);
        assert_eq!(c.admin_listen, None);
        assert_eq!(c.tls, None);
        assert_eq!(c.sumdbs.len(), 1);
        assert_eq!(c.sumdbs[0].vkey, crate::sumdb::SUM_GOLANG_ORG_KEY);
        assert_eq!(c.max_zip_size, 500 << 20);
    }

    #[test]
    fn flags_beat_file_beat_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("goward.toml");
        std::fs::write(
            &f,
            "listen = \"127.0.0.1:9000\"\ncache_dir = \"/srv/goward\"\nupstream = \"http://127.0.0.1:1\"\nlist_ttl = 5\n",
        )
        .unwrap();
        let fs = f.to_str().unwrap();
        let c = Config::load(&args(&["--config", fs])).unwrap();
        assert_eq!(c.listen, [ListenAddr::parse("127.0.0.1:9000").unwrap()]);
        assert_eq!(c.cache_dir, PathBuf::from("/srv/goward"));
        assert_eq!(c.list_ttl, Duration::from_secs(5));
        let c = Config::load(&args(&[
            "--config",
            fs,
            "--listen",
            "127.0.0.1:7000",
            "--list-ttl",
            "9",
        ]))
        .unwrap();
        assert_eq!(c.listen, [ListenAddr::parse("127.0.0.1:7000").unwrap()]);
        assert_eq!(c.list_ttl, Duration::from_secs(9));
        assert_eq!(c.upstream, "http://127.0.0.1:1");
    }

    /// `[mirror]` and `[bundle]` hold those commands' flags, paths relative to the file;
    /// an unknown key in them is an error like anywhere in the file.
    #[test]
    fn mirror_and_bundle_sections_hold_their_flags() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("goward.toml");
        std::fs::write(
            &f,
            "cache_dir = \"/x\"\n[mirror]\nlist = [\"wanted.txt\"]\nfrom = [\"app\"]\n\
             toolchain = [\"go1.22.3\"]\nplatforms = \"linux/amd64\"\njobs = 8\njson = true\n\
             log_level = \"info\"\n[bundle]\nout = \"out/b.tar\"\nsince = \"a/goward-bundle.json\"\n\
             partial = true\n",
        )
        .unwrap();
        let c = Config::load(&args(&["--config", f.to_str().unwrap()])).unwrap();
        let d = dir.path();
        assert_eq!(
            c.mirror,
            MirrorFile {
                list: Some(vec![d.join("wanted.txt")]),
                from: Some(vec![d.join("app")]),
                toolchain: Some(vec!["go1.22.3".into()]),
                platforms: Some("linux/amd64".into()),
                jobs: Some(8),
                json: Some(true),
                log_level: Some("info".into()),
            }
        );
        assert_eq!(
            c.bundle,
            BundleFile {
                out: Some(d.join("out/b.tar")),
                since: Some(d.join("a/goward-bundle.json")),
                partial: Some(true),
            }
        );
        std::fs::write(&f, "[bundle]\noutput = \"b.tar\"\n").unwrap();
        let e = Config::load(&args(&["--config", f.to_str().unwrap()]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown field `output`"), "{e}");
        std::fs::write(&f, "cache_dir = \"/x\"\n[mirror]\njobs = 0\n").unwrap();
        let e = Config::load(&args(&["--config", f.to_str().unwrap()]))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "invalid mirror.jobs: must be from 1 to 256");
    }

    #[test]
    fn bad_files_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("goward.toml");
        std::fs::write(&f, "listen = \"127.0.0.1:9000\"\nbogus = 1\n").unwrap();
        let e = Config::load(&args(&["--config", f.to_str().unwrap()]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2") && e.contains("bogus"), "{e}");
        std::fs::write(&f, "list_ttl = 0\ncache_dir=\"/x\"\n").unwrap();
        let e = Config::load(&args(&["--config", f.to_str().unwrap()]))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "invalid list-ttl: must be at least 1 second");
    }

    /// One size syntax for the flag and the file (integer bytes or a string with a unit).
    #[test]
    fn max_zip_size_takes_sizes_with_units() {
        let c = Config::load(&args(&["--cache-dir", "/x", "--max-zip-size", "100MiB"])).unwrap();
        assert_eq!(c.max_zip_size, 100 << 20);
        let c = Config::load(&args(&["--cache-dir", "/x", "--max-zip-size", "1000"])).unwrap();
        assert_eq!(c.max_zip_size, 1000);
        let e = Cli::try_parse_from(["goward", "serve", "--max-zip-size", "10 parsecs"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "invalid value '10 parsecs' for '--max-zip-size <SIZE>': unknown unit \"parsecs\""
            ),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("goward.toml");
        let fs = f.to_str().unwrap();
        for (text, want) in [
            ("max_zip_size = \"100 MiB\"", 100 << 20),
            ("max_zip_size = \"500MB\"", 500_000_000),
            ("max_zip_size = 4096", 4096),
        ] {
            std::fs::write(&f, format!("cache_dir = \"/x\"\n{text}\n")).unwrap();
            assert_eq!(
                Config::load(&args(&["--config", fs])).unwrap().max_zip_size,
                want
            );
        }
        std::fs::write(&f, "cache_dir = \"/x\"\nmax_zip_size = \"12 XB\"\n").unwrap();
        assert_eq!(
            Config::load(&args(&["--config", fs]))
                .unwrap_err()
                .to_string(),
            format!(
                "invalid max_zip_size: \"12 XB\": unknown unit \"xb\": {}",
                crate::size::SIZE_SYNTAX
            )
        );
    }

    #[test]
    fn policy_from_flag_or_relative_to_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("goward.toml");
        std::fs::write(&f, "cache_dir = \"/x\"\npolicy = \"p.toml\"\n").unwrap();
        let fs = f.to_str().unwrap();
        let c = Config::load(&args(&["--config", fs])).unwrap();
        assert_eq!(c.policy, Some(dir.path().join("p.toml")));
        let c = Config::load(&args(&["--config", fs, "--policy", "/etc/q.toml"])).unwrap();
        assert_eq!(c.policy, Some(PathBuf::from("/etc/q.toml")));
        let c = Config::load(&args(&["--cache-dir", "/x"])).unwrap();
        assert_eq!(c.policy, None);
    }

    #[test]
    fn connection_limits() {
        let c = Config::load(&args(&["--cache-dir", "/x"])).unwrap();
        assert_eq!(c.conn, ConnLimits::default());
        let c = Config::load(&args(&[
            "--cache-dir",
            "/x",
            "--client-header-timeout",
            "5",
            "--max-connections",
            "10",
        ]))
        .unwrap();
        assert_eq!(c.conn.header_timeout, Duration::from_secs(5));
        assert_eq!(c.conn.max_connections, 10);
        let e = Config::load(&args(&["--cache-dir", "/x", "--max-connections", "0"])).unwrap_err();
        assert_eq!(e.to_string(), "invalid max-connections: must be at least 1");
    }

    #[test]
    fn listen_addresses_as_people_type_them() {
        let sock = |s: &str| ListenAddr::Socket(s.parse().unwrap());
        let p = |s: &str| ListenAddr::parse(s);
        assert_eq!(p(":8080"), Ok(sock("0.0.0.0:8080")));
        assert_eq!(p("0.0.0.0:8080"), Ok(sock("0.0.0.0:8080")));
        assert_eq!(p("[::]:8080"), Ok(sock("[::]:8080")));
        assert_eq!(p("[::1]:0"), Ok(sock("[::1]:0")));
        assert_eq!(p(" 127.0.0.1:80 "), Ok(sock("127.0.0.1:80")));
        assert_eq!(
            p("localhost:8080"),
            Ok(ListenAddr::Host {
                host: "localhost".into(),
                port: 8080
            })
        );
        assert_eq!(p("localhost:8080").unwrap().to_string(), "localhost:8080");
        let syntax = "expected HOST:PORT, :PORT, IPv4:PORT or [IPv6]:PORT";
        assert_eq!(p("8080"), Err(format!("\"8080\": no port; {syntax}")));
        assert_eq!(
            p("localhost:http"),
            Err(format!(
                "\"localhost:http\": invalid port \"http\"; {syntax}"
            ))
        );
        assert_eq!(
            p(":70000"),
            Err(format!("\":70000\": invalid port \"70000\"; {syntax}"))
        );
        assert_eq!(
            p("::1:8080"),
            Err(format!(
                "\"::1:8080\": an IPv6 address must be in brackets, as [::1]:8080; {syntax}"
            ))
        );
        assert_eq!(
            p("300.1.1.1:80"),
            Err(format!(
                "\"300.1.1.1:80\": invalid host \"300.1.1.1\"; {syntax}"
            ))
        );
        assert_eq!(
            p("bad host:80"),
            Err(format!(
                "\"bad host:80\": invalid host \"bad host\"; {syntax}"
            ))
        );
        // An IP address resolves to itself, without a lookup.
        assert_eq!(
            sock("127.0.0.1:0").resolve().unwrap(),
            ["127.0.0.1:0".parse::<SocketAddr>().unwrap()]
        );
    }

    #[test]
    fn several_listen_addresses_from_flags_or_file() {
        let c = Config::load(&args(&[
            "--cache-dir",
            "/x",
            "--listen",
            ":8080",
            "--listen",
            "127.0.0.1:1,[::1]:2",
            "--listen",
            ":8080",
        ]))
        .unwrap();
        let shown: Vec<String> = c.listen.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["0.0.0.0:8080", "127.0.0.1:1", "[::1]:2"]);
        let e = Cli::try_parse_from(["goward", "serve", "--listen", "nope"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("invalid value 'nope' for '--listen <ADDR>'"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("goward.toml");
        let fs = f.to_str().unwrap();
        for (text, want) in [
            (
                "listen = \"localhost:1, :2\"",
                vec!["localhost:1", "0.0.0.0:2"],
            ),
            (
                "listen = [\"[::]:3\", \"127.0.0.1:4\"]",
                vec!["[::]:3", "127.0.0.1:4"],
            ),
        ] {
            std::fs::write(
                &f,
                format!("cache_dir = \"/x\"\n{text}\nadmin_listen = \":9\"\n"),
            )
            .unwrap();
            let c = Config::load(&args(&["--config", fs])).unwrap();
            let shown: Vec<String> = c.listen.iter().map(ToString::to_string).collect();
            assert_eq!(shown, want);
            assert_eq!(c.admin_listen.unwrap().to_string(), "0.0.0.0:9");
        }
        std::fs::write(&f, "cache_dir = \"/x\"\nlisten = [\"1.2.3.4\"]\n").unwrap();
        assert_eq!(
            Config::load(&args(&["--config", fs]))
                .unwrap_err()
                .to_string(),
            "invalid listen: \"1.2.3.4\": no port; expected HOST:PORT, :PORT, IPv4:PORT or [IPv6]:PORT"
        );
        std::fs::write(&f, "cache_dir = \"/x\"\nlisten = []\n").unwrap();
        assert_eq!(
            Config::load(&args(&["--config", fs]))
                .unwrap_err()
                .to_string(),
            "invalid listen: no address given"
        );
    }

    #[test]
    fn tls_settings_come_in_pairs() {
        let load = |v: &[&str]| {
            let mut all = vec!["--cache-dir", "/x"];
            all.extend_from_slice(v);
            Config::load(&args(&all)).map(|c| c.tls)
        };
        assert_eq!(
            load(&["--tls-cert", "c.pem"]).unwrap_err().to_string(),
            "invalid tls-key: --tls-cert is set but --tls-key is not; give both (PEM files)"
        );
        assert_eq!(
            load(&["--tls-key", "k.pem"]).unwrap_err().to_string(),
            "invalid tls-cert: --tls-key is set but --tls-cert is not; give both (PEM files)"
        );
        assert_eq!(
            load(&["--tls-client-ca", "ca.pem"])
                .unwrap_err()
                .to_string(),
            "invalid tls-client-ca: client certificates need TLS: set --tls-cert and --tls-key"
        );
        assert_eq!(
            load(&[
                "--tls-cert",
                "c",
                "--tls-key",
                "k",
                "--tls-client-auth",
                "request"
            ])
            .unwrap_err()
            .to_string(),
            "invalid tls-client-auth: needs --tls-client-ca (the CA that issues client certificates)"
        );
        let t = load(&["--tls-cert", "c", "--tls-key", "k", "--tls-client-ca", "ca"])
            .unwrap()
            .unwrap();
        assert_eq!(
            t.client_ca,
            Some((PathBuf::from("ca"), crate::tls::ClientAuth::Require))
        );
        // Paths in the file are relative to the file.
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("goward.toml");
        // An absolute path on this platform (`/k.pem` has no drive on Windows).
        let abs_key = dir.path().join("elsewhere").join("k.pem");
        std::fs::write(
            &f,
            format!(
                "cache_dir = \"/x\"\ntls_cert = \"c.pem\"\ntls_key = '{}'\ntls_client_ca = \"ca.pem\"\ntls_client_auth = \"request\"\n",
                abs_key.display()
            ),
        )
        .unwrap();
        let t = Config::load(&args(&["--config", f.to_str().unwrap()]))
            .unwrap()
            .tls
            .unwrap();
        assert_eq!(t.cert, dir.path().join("c.pem"));
        assert_eq!(t.key, abs_key);
        assert_eq!(
            t.client_ca,
            Some((dir.path().join("ca.pem"), crate::tls::ClientAuth::Request))
        );
    }

    #[test]
    fn offline_from_flag_or_file() {
        let c = Config::load(&args(&["--cache-dir", "/x"])).unwrap();
        assert_eq!(c.mode, UpstreamMode::Online);
        let c = Config::load(&args(&["--cache-dir", "/x", "--offline"])).unwrap();
        assert_eq!(c.mode, UpstreamMode::Offline);
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("goward.toml");
        let fs = f.to_str().unwrap();
        std::fs::write(&f, "cache_dir = \"/x\"\noffline = true\n").unwrap();
        assert_eq!(
            Config::load(&args(&["--config", fs])).unwrap().mode,
            UpstreamMode::Offline
        );
        std::fs::write(&f, "cache_dir = \"/x\"\noffline = false\n").unwrap();
        assert_eq!(
            Config::load(&args(&["--config", fs])).unwrap().mode,
            UpstreamMode::Online
        );
    }

    #[test]
    fn sumdb_values_are_validated() {
        let e = Config::load(&args(&["--cache-dir", "/x", "--sumdb", "nonsense"])).unwrap_err();
        assert!(e.to_string().starts_with("invalid sumdb:"), "{e}");
        let e = Config::load(&args(&[
            "--cache-dir",
            "/x",
            "--sumdb",
            "sum.golang.org",
            "--sumdb",
            "sum.golang.org",
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("configured twice"), "{e}");
    }
}
