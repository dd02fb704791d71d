//! The `goward mirror` command line: reads every source first (a bad one
//! is exit 2 before anything is fetched), builds the pipeline as `serve`
//! does, mirrors, prints the summary.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::sources::{self, Want};
use super::{Progress, Summary};
use crate::config::{CacheLocation, Config, MirrorFile, ServeArgs};

/// Versions mirrored at once unless `--jobs` says.
const DEFAULT_JOBS: u16 = 4;
use crate::pipeline::UpstreamMode;

const AFTER_LONG_HELP: &str = "\
Sources (combinable; at least one):
  MODULE@QUERY     @latest (as the go command picks it, retracted versions skipped),
                   @vX.Y.Z, or a version range in the policy's syntax, e.g.
                   'golang.org/x/text@>=v0.20.0,<v0.22.0' (every version of @v/list in it)
  --list FILE      one MODULE@QUERY a line; blank lines and # comments are ignored
  --from DIR       a project: every module version its go.mod, go.sum (or go.work, its
                   'use' directories and go.work.sum) names. A version go.sum lists only
                   with /go.mod gets its .info and .mod, not its zip; a requirement no
                   go.sum names is mirrored whole; replace directives apply. The toolchain
                   its 'toolchain' line names is mirrored for --platforms.
  --toolchain goX.Y.Z  the golang.org/toolchain module versions of that release for
                   --platforms [default platform: this host's]

Every artifact goes through the same fetch, verify, prove and store path as 'goward serve'
(same --config, --cache-dir, --upstream, --sumdb, --policy): the mirror never holds what
serve would refuse. What the cache already holds is re-checked, not fetched again.

Exit status: 0 everything proven (or already held), 1 something refused (each named with
its reason), 2 usage, configuration, I/O or network error (an upstream that could not be
reached, or failed with other than 404/410).";

/// Flags of `goward mirror`.
#[derive(Debug, Args)]
#[command(
    after_long_help = AFTER_LONG_HELP,
    mut_arg("config", |a| a.help(
        "TOML configuration file, as for serve (cache_dir, upstream, sumdb, policy, \
         max_zip_size and the timeouts matter)"
    ))
)]
pub struct MirrorArgs {
    /// Module queries: MODULE@latest, MODULE@vX.Y.Z or MODULE@RANGE (command line
    /// only: they say what this run is for; a standing list belongs in a --list file).
    #[arg(value_name = "MODULE@QUERY")]
    pub modules: Vec<String>,
    /// A file of MODULE@QUERY lines (repeatable; one file in GOWARD_MIRROR_LIST, several
    /// in the config file's [mirror] list).
    #[arg(long, env = "GOWARD_MIRROR_LIST", value_name = "FILE")]
    pub list: Vec<PathBuf>,
    /// A Go project (go.mod/go.sum or go.work) whose dependencies to mirror (repeatable;
    /// one in GOWARD_MIRROR_FROM).
    #[arg(long, env = "GOWARD_MIRROR_FROM", value_name = "DIR")]
    pub from: Vec<PathBuf>,
    /// A Go toolchain release to mirror, e.g. go1.22.3 (repeatable, ","-separated).
    #[arg(
        long,
        env = "GOWARD_MIRROR_TOOLCHAIN",
        value_name = "goX.Y.Z",
        value_delimiter = ','
    )]
    pub toolchain: Vec<String>,
    /// Platforms of the toolchains, OS/ARCH, ","-separated [default: this host's].
    #[arg(long, env = "GOWARD_MIRROR_PLATFORMS", value_name = "OS/ARCH,...")]
    pub platforms: Option<String>,
    /// Versions mirrored at once [default: 4].
    #[arg(long, env = "GOWARD_MIRROR_JOBS", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: Option<u16>,
    /// Print the summary as one JSON object on stdout.
    #[arg(long, env = "GOWARD_MIRROR_JSON", value_parser = clap::builder::FalseyValueParser::new())]
    pub json: bool,
    #[command(flatten)]
    pub location: CacheLocation,
    /// Upstream proxies, GOPROXY syntax [default: https://proxy.golang.org].
    #[arg(long, env = "GOWARD_UPSTREAM", value_name = "LIST")]
    pub upstream: Option<String>,
    /// Checksum database, as GOSUMDB: "name+hash+key [URL]"; the first one proves
    /// [default: sum.golang.org].
    #[arg(
        long = "sumdb",
        env = "GOWARD_SUMDB",
        value_name = "KEY [URL]",
        value_delimiter = ';'
    )]
    pub sumdb: Vec<String>,
    /// Policy file, as for serve [default: the embedded policy/default.toml].
    #[arg(long, env = "GOWARD_POLICY", value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Largest module zip accepted, as for serve [default: 500MiB].
    #[arg(long, env = "GOWARD_MAX_ZIP_SIZE", value_name = "SIZE", value_parser = crate::size::parse_size)]
    pub max_zip_size: Option<u64>,
    /// What to log on stderr (a level or directives) [default: warn].
    #[arg(long, env = "GOWARD_MIRROR_LOG_LEVEL", value_name = "LEVEL")]
    pub log_level: Option<String>,
}

/// The flags merged over the config file's `[mirror]` (a flag or its
/// variable wins; a list given on the command line replaces the file's).
fn merged(args: &MirrorArgs, file: &MirrorFile) -> MirrorArgs {
    let or = |flag: &Vec<PathBuf>, file: &Option<Vec<PathBuf>>| {
        if flag.is_empty() {
            file.clone().unwrap_or_default()
        } else {
            flag.clone()
        }
    };
    MirrorArgs {
        modules: args.modules.clone(),
        list: or(&args.list, &file.list),
        from: or(&args.from, &file.from),
        toolchain: if args.toolchain.is_empty() {
            file.toolchain.clone().unwrap_or_default()
        } else {
            args.toolchain.clone()
        },
        platforms: args.platforms.clone().or(file.platforms.clone()),
        jobs: args.jobs.or(file.jobs),
        // A flag can only turn it on.
        json: args.json || file.json == Some(true),
        location: args.location.clone(),
        upstream: args.upstream.clone(),
        sumdb: args.sumdb.clone(),
        policy: args.policy.clone(),
        max_zip_size: args.max_zip_size,
        log_level: args.log_level.clone().or(file.log_level.clone()),
    }
}

/// Reads every source. A bad one is a usage error naming it.
fn wants(args: &MirrorArgs) -> Result<Vec<Want>, String> {
    let mut out = Vec::new();
    for m in &args.modules {
        out.push(sources::parse_want(m).map_err(|e| format!("argument {m:?}: {e}"))?);
    }
    for f in &args.list {
        let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
        out.extend(
            sources::parse_list(&f.display().to_string(), &text).map_err(|e| e.to_string())?,
        );
    }
    let platforms = match &args.platforms {
        Some(p) => sources::parse_platforms(p).map_err(|e| format!("--platforms: {e}"))?,
        None => vec![sources::host_platform()],
    };
    let mut toolchains: Vec<String> = args.toolchain.clone();
    for dir in &args.from {
        let p = sources::read_project(dir).map_err(|e| e.to_string())?;
        for ((m, v), full) in p.modules {
            let module = crate::artifact::ModulePath::new(&m).map_err(|e| e.to_string())?;
            out.push(Want {
                module,
                query: sources::Query::Version(v),
                full,
            });
        }
        toolchains.extend(p.toolchains);
    }
    toolchains.sort();
    toolchains.dedup();
    for t in &toolchains {
        out.extend(
            sources::toolchain_wants(t, &platforms).map_err(|e| format!("--toolchain {t}: {e}"))?,
        );
    }
    if out.is_empty() {
        return Err(
            "nothing to mirror: give MODULE@QUERY arguments, --list, --from or --toolchain".into(),
        );
    }
    Ok(out)
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("goward mirror: {msg}");
    ExitCode::from(2)
}

/// `goward mirror`.
pub fn run(args: &MirrorArgs) -> ExitCode {
    let serve = ServeArgs {
        upstream: args.upstream.clone(),
        sumdb: args.sumdb.clone(),
        policy: args.policy.clone(),
        max_zip_size: args.max_zip_size,
        ..args.location.serve_args()
    };
    let config = match Config::load(&serve) {
        Ok(c) => c,
        Err(e) => return usage(&crate::error::display_chain(&e)),
    };
    let args = &merged(args, &config.mirror);
    let wants = match wants(args) {
        Ok(w) => w,
        Err(e) => return usage(&e),
    };
    if config.mode == UpstreamMode::Offline {
        return usage(
            "the configuration says offline = true; a mirror fetches from the upstream (run it on the connected side)",
        );
    }
    let level = args.log_level.as_deref().unwrap_or("warn");
    let filter = match tracing_subscriber::EnvFilter::try_new(level) {
        Ok(f) => f,
        Err(e) => return usage(&format!("--log-level {level:?}: {e}")),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return usage(&format!("starting the async runtime: {e}")),
    };
    let summary = rt.block_on(async {
        let pipeline =
            crate::pipeline::build(&config).map_err(|e| crate::error::display_chain(&e))?;
        let svc = pipeline.service;
        let progress = Arc::new(Progress::auto());
        let jobs = usize::from(args.jobs.unwrap_or(DEFAULT_JOBS));
        let plan = super::plan(&svc, &wants, jobs).await;
        for r in &plan.refused {
            progress.println(&format!("mirror: refused {}: {}", r.target, r.reason));
        }
        for r in &plan.errors {
            progress.println(&format!("mirror: error {}: {}", r.target, r.reason));
        }
        Ok::<Summary, String>(super::run(&svc, plan, jobs, progress).await)
    });
    let summary = match summary {
        Ok(s) => s,
        Err(e) => return usage(&e),
    };
    print(&summary, args.json);
    ExitCode::from(summary.exit_code())
}

fn print(s: &Summary, json: bool) {
    if json {
        match serde_json::to_string_pretty(s) {
            Ok(t) => crate::outln!("{t}"),
            Err(e) => eprintln!("goward mirror: encoding the summary: {e}"),
        }
        return;
    }
    let errors = if s.errors.is_empty() {
        String::new()
    } else {
        format!(", errors {}", s.errors.len())
    };
    crate::outln!(
        "mirror: proven {}, already held {}, refused {}{errors}, bytes fetched {}, elapsed {:.1}s",
        s.proven.len(),
        s.already_held.len(),
        s.refused.len(),
        indicatif::HumanBytes(s.bytes_fetched),
        s.elapsed_secs
    );
    for r in &s.refused {
        crate::outln!("refused {}: {}", r.target, r.reason);
    }
    for r in &s.errors {
        crate::outln!("error {}: {}", r.target, r.reason);
    }
}
