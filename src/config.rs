//! Configuration: command-line flags, `GOWARD_*` environment variables, a
//! TOML file and embedded defaults, merged in that order of precedence
//! (flags > env > file > defaults) into one validated [`Config`].
//!
//! This is the only module that reads the process environment.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;

use crate::sumdb::SumdbSpec;
use crate::upstream::FetchLimits;

/// Default upstream: the Go module mirror.
pub const DEFAULT_UPSTREAM: &str = "https://proxy.golang.org";
/// Default listen address: loopback only; exposing goward is a decision.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// goward: a verifying Go module proxy. Every module zip and go.mod it
/// serves was proven against the Go checksum database before it was stored,
/// and its digest is re-checked before it is served.
#[derive(Debug, Parser)]
#[command(name = "goward", version, about, max_term_width = 100)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the verifying GOPROXY server.
    ///
    /// Settings come from flags, then GOWARD_* environment variables, then
    /// the TOML file given by --config, then the embedded defaults.
    Serve(ServeArgs),
    /// Check a module zip against every module-zip rule and print its h1: hash.
    ///
    /// Exit status: 0 valid (and equal to --h1 when given), 1 invalid,
    /// 2 usage or I/O error. The same checks the server runs.
    VerifyZip(VerifyZipArgs),
    /// Prove a Go toolchain (module zip, go.dev/dl archive or installed tree) against the
    /// checksum database.
    ///
    /// Maps a release archive or a GOROOT to the golang.org/toolchain module (go-protocol.md
    /// 5.2), hashes it and compares the h1: with the proven checksum-database record, online
    /// or from goward's verified cache (--offline); names every differing file.
    VerifyToolchain(crate::toolchain::cli::VerifyToolchainArgs),
    /// Verify a cosign / Sigstore signature on a file, offline (cosign verify-blob's flags).
    ///
    /// Bundles v0.1-v0.3 (keyless or key-based), cosign's legacy bundle, or a bare
    /// key-based .sig with --key. Exit status: 0 verified, 1 not verified, 2 usage or
    /// unreadable input.
    VerifyBlob(crate::verify::proof::signature::cli::VerifyBlobArgs),
    /// Validate a policy file, or explain what a policy decides for a module.
    ///
    /// `check FILE` exits 0 valid, 2 invalid; `explain MODULE@VERSION
    /// [--policy FILE]` exits 0 allowed, 1 denied, 2 usage error.
    Policy(crate::policy::cli::PolicyArgs),
    /// Check the cache (`verify`) or shrink it (`gc`).
    Cache(crate::hygiene::CacheArgs),
    /// Checksum-database maintenance: `clear-fork NAME --yes` removes a fork
    /// report after an investigation.
    Sumdb(crate::sumdb::cli::SumdbArgs),
    /// Diagnose the Go host: go commands on PATH, GOROOT, compressed cache
    /// directories, settings that weaken verification.
    ///
    /// Exit status: 0 nothing worse than info, 1 a warning or an error, 2 usage.
    Doctor(crate::doctor::DoctorArgs),
    /// Install, remove, start or stop goward as a Windows service.
    ///
    /// Windows only; on Linux use contrib/goward.service. Exit status: 0 done, 2 error.
    Service(crate::winsvc::ServiceArgs),
}

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
}

/// Flags of `goward serve`.
#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    #[command(flatten)]
    pub location: CacheLocation,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "GOWARD_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
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
    /// Largest module zip accepted: bytes, or a number and a unit such as
    /// 100MiB or 500MB [default: 500MiB, the go command's limit].
    #[arg(long, env = "GOWARD_MAX_ZIP_SIZE", value_name = "SIZE", value_parser = crate::size::parse_size)]
    pub max_zip_size: Option<u64>,
    /// Policy file (policy/README.md); reloaded on SIGHUP and when it
    /// changes [default: the embedded policy/default.toml].
    #[arg(long, env = "GOWARD_POLICY", value_name = "FILE")]
    pub policy: Option<PathBuf>,
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
    listen: Option<SocketAddr>,
    cache_dir: Option<PathBuf>,
    upstream: Option<String>,
    sumdb: Option<Vec<String>>,
    log_format: Option<LogFormat>,
    max_zip_size: Option<crate::size::SizeValue>,
    list_ttl: Option<u64>,
    upstream_timeout: Option<u64>,
    idle_timeout: Option<u64>,
    connect_timeout: Option<u64>,
    zip_timeout: Option<u64>,
    max_fills: Option<u64>,
    spool_budget: Option<crate::size::SizeValue>,
    policy: Option<PathBuf>,
    client_header_timeout: Option<u64>,
    max_connections: Option<usize>,
    drain_timeout: Option<u64>,
    memory_cache_size: Option<crate::size::SizeValue>,
    allow_internal_redirects: Option<bool>,
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
}

/// The validated configuration of `goward serve`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Listen address.
    pub listen: SocketAddr,
    /// Cache root.
    pub cache_dir: PathBuf,
    /// GOPROXY-style upstream list.
    pub upstream: String,
    /// Checksum databases; the first proves modules.
    pub sumdbs: Vec<SumdbSpec>,
    /// Log format.
    pub log_format: LogFormat,
    /// Largest zip accepted.
    pub max_zip_size: u64,
    /// The policy file; `None`: the embedded default.
    pub policy: Option<PathBuf>,
    /// TTL of list/latest answers.
    pub list_ttl: Duration,
    /// Upstream timeouts.
    pub fetch: FetchLimits,
    /// Fills running at once.
    pub max_fills: usize,
    /// Spool bytes for zips in flight.
    pub spool_budget: u64,
    /// Client connection limits.
    pub conn: crate::server::ConnLimits,
    /// Bytes of list/latest/info answers kept in memory.
    pub memory_cache_size: u64,
}

impl Config {
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
        let conn_defaults = crate::server::ConnLimits::default();
        let conn = crate::server::ConnLimits {
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
        // A relative policy path in the config file is relative to that file.
        let file_policy = file.policy.map(|p| match &args.location.config {
            Some(c) if p.is_relative() => c.parent().map_or(p.clone(), |d| d.join(&p)),
            _ => p,
        });
        Ok(Config {
            policy: args.policy.clone().or(file_policy),
            listen: args.listen.or(file.listen).unwrap_or_else(|| {
                DEFAULT_LISTEN
                    .parse()
                    .unwrap_or_else(|_| unreachable!("the default listen address parses"))
            }),
            cache_dir,
            upstream: args
                .upstream
                .clone()
                .or(file.upstream)
                .unwrap_or_else(|| DEFAULT_UPSTREAM.to_owned()),
            sumdbs,
            log_format: args.log_format.or(file.log_format).unwrap_or_default(),
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
        })
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
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
        assert_eq!(c.listen.to_string(), "127.0.0.1:9000");
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
        assert_eq!(c.listen.to_string(), "127.0.0.1:7000");
        assert_eq!(c.list_ttl, Duration::from_secs(9));
        assert_eq!(c.upstream, "http://127.0.0.1:1");
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
        assert_eq!(c.conn, crate::server::ConnLimits::default());
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
