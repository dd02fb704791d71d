//! `goward bundle export|import`. Exit status: 0 everything exported or
//! imported, 1 something was refused (each listed with its reason), 2 usage,
//! configuration or I/O error.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::export::{ExportOptions, export};
use super::import::{ImportOptions, import};
use crate::config::{CacheLocation, Config};
use crate::pipeline::UpstreamMode;

/// Flags of `goward bundle`.
#[derive(Debug, Args)]
pub struct BundleArgs {
    /// Export or import.
    #[command(subcommand)]
    pub command: BundleCommand,
}

/// Subcommands of `goward bundle`.
#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Write the cache as a bundle: a GOPROXY=file:// tree (modules, checksum-database
    /// lookups all signed at the trusted head, the tiles proving them) and a manifest.
    ///
    /// Reads the cache only (no network); every artifact is re-checked on the way.
    /// Exit status: 0 exported, 1 something failed its re-check and was left out,
    /// 2 usage or I/O error.
    Export(ExportArgs),
    /// Re-prove everything in a bundle with this side's checksum-database key and
    /// policy, then add it to the cache.
    ///
    /// All or nothing unless --partial. Exit status: 0 imported, 1 something was
    /// refused (each listed with its reason), 2 usage or I/O error.
    Import(ImportArgs),
}

/// Where the cache is and how to verify, as for serve.
#[derive(Debug, Args)]
#[command(mut_arg("config", |a| a.help(
    "TOML configuration file (as for serve: cache_dir, sumdb, policy, max_zip_size matter)"
)))]
pub struct CommonArgs {
    #[command(flatten)]
    pub location: CacheLocation,
    /// Checksum database, as GOSUMDB (repeatable) [default: sum.golang.org].
    #[arg(
        long = "sumdb",
        env = "GOWARD_SUMDB",
        value_name = "KEY [URL]",
        value_delimiter = ';'
    )]
    pub sumdb: Vec<String>,
    /// Policy file [default: the embedded default policy].
    #[arg(long, env = "GOWARD_POLICY", value_name = "FILE")]
    pub policy: Option<PathBuf>,
}

/// Flags of `goward bundle export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Where to write: a new or empty directory, a FILE.tar, or a FILE.tar.gz (or
    /// .tgz: compressed as it is written). Required here, in GOWARD_BUNDLE_OUT or as
    /// [bundle] out in the config file.
    #[arg(long, env = "GOWARD_BUNDLE_OUT", value_name = "DIR|FILE.tar[.gz]")]
    pub out: Option<PathBuf>,
    /// The manifest (goward-bundle.json) of a previous export: write only what it
    /// lacks, plus the tiles proving the new tree head consistent with its head.
    #[arg(long, env = "GOWARD_BUNDLE_SINCE", value_name = "MANIFEST")]
    pub since: Option<PathBuf>,
}

/// Flags of `goward bundle import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// The bundle: a directory, or a .tar or .tar.gz file (gzip is recognised by its
    /// magic bytes), written by `goward bundle export` (command line only: each
    /// import is of a bundle just carried in).
    #[arg(value_name = "DIR|FILE.tar[.gz]")]
    pub bundle: PathBuf,
    /// Import what proves even if something else is refused (exit status 1 then;
    /// also [bundle] partial in the config file).
    #[arg(long, env = "GOWARD_BUNDLE_PARTIAL", value_parser = clap::builder::FalseyValueParser::new())]
    pub partial: bool,
    /// Test hook: abort the process after this many versions were committed.
    #[arg(long, hide = true, env = "GOWARD_TEST_IMPORT_ABORT_AFTER")]
    pub test_abort_after: Option<usize>,
}

/// The in-memory caches of a bundle command: each version is read once, so
/// a server's cache (`memory_cache_size`) would only hold memory.
const MEMORY_CACHE: u64 = 4 << 20;

fn load(common: &CommonArgs) -> Result<Config, String> {
    let c = common
        .location
        .load(&common.sumdb, common.policy.as_deref())
        .map_err(|e| e.to_string())?;
    Ok(Config {
        memory_cache_size: c.memory_cache_size.min(MEMORY_CACHE),
        ..c
    })
}

/// Runs `goward bundle …`.
pub(crate) fn run(args: &BundleArgs) -> ExitCode {
    match &args.command {
        BundleCommand::Export(a) => run_export(a),
        BundleCommand::Import(a) => run_import(a),
    }
}

fn run_export(a: &ExportArgs) -> ExitCode {
    let config = match load(&a.common) {
        Ok(c) => Config {
            mode: UpstreamMode::Offline,
            ..c
        },
        Err(e) => {
            eprintln!("goward: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = config.require_cache_dir() {
        eprintln!("goward: {e}");
        return ExitCode::from(2);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(crate::cache::offline_blocking_threads())
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("goward: starting the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    // A flag (or its variable) wins over the config file's [bundle].
    let Some(out) = a.out.clone().or(config.bundle.out.clone()) else {
        eprintln!(
            "goward: bundle export needs --out DIR|FILE.tar (or GOWARD_BUNDLE_OUT, or out in the config file's [bundle])"
        );
        return ExitCode::from(2);
    };
    let opts = ExportOptions {
        out: out.clone(),
        since: a.since.clone().or(config.bundle.since.clone()),
        history: Some(config.cache_dir.join(super::export::HISTORY)),
    };
    let r = rt.block_on(async {
        let p = crate::pipeline::build(&config)?;
        export(&p.parts, &opts).await
    });
    match r {
        Ok(report) => {
            for f in &report.failures {
                eprintln!("goward: left out: {f}");
            }
            crate::outln!(
                "exported {} module versions ({} files, {} bytes) to {}",
                report.modules,
                report.files,
                report.bytes,
                out.display()
            );
            for db in &report.sumdb {
                crate::outln!("checksum database {} at tree size {}", db.name, db.size);
            }
            if report.failures.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("goward: {}", crate::error::display_chain(&e));
            ExitCode::from(2)
        }
    }
}

fn run_import(a: &ImportArgs) -> ExitCode {
    let config = match load(&a.common) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("goward: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = ImportOptions {
        bundle: a.bundle.clone(),
        // A flag can only turn it on.
        partial: a.partial || config.bundle.partial == Some(true),
        abort_after: a.test_abort_after,
    };
    match import(&config, &opts) {
        Ok(report) => {
            for m in &report.imported {
                crate::outln!("imported {m}");
            }
            for r in &report.refused {
                eprintln!("goward: refused: {r}");
            }
            if report.refused.is_empty() {
                crate::outln!("imported {} module versions", report.imported.len());
                ExitCode::SUCCESS
            } else {
                if report.imported.is_empty() {
                    eprintln!(
                        "goward: nothing was imported ({} refused)",
                        report.refused.len()
                    );
                } else {
                    eprintln!(
                        "goward: imported {} module versions; {} refused",
                        report.imported.len(),
                        report.refused.len()
                    );
                }
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("goward: {}", crate::error::display_chain(&e));
            ExitCode::from(2)
        }
    }
}
