//! Cache hygiene: `goward cache verify` and `goward cache gc`.
//!
//! Both work on the disk store offline and are safe to run while a
//! `goward serve` uses the same cache directory (see [`verify`] and [`gc`]).
//! Exit codes: 0 clean / done, 1 `verify` found something wrong, 2 usage,
//! configuration or I/O error.

pub(crate) mod clear_fork;
pub(crate) mod gc;
pub(crate) mod units;
pub(crate) mod verify;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::config::{CacheLocation, Config};

/// Flags of `goward cache`.
#[derive(Debug, Args)]
pub struct CacheArgs {
    /// What to do with the cache.
    #[command(subcommand)]
    pub command: CacheCommand,
}

/// Subcommands of `goward cache`.
#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Re-check every blob, metadata record, proof and trusted tree head;
    /// quarantine what is wrong.
    ///
    /// Safe while `goward serve` runs on the same cache. Exit status: 0 clean,
    /// 1 something was wrong (each problem is printed and quarantined), 2 usage,
    /// configuration or I/O error.
    Verify(VerifyArgs),
    /// Remove the least-recently-verified artifacts until under --max-size and
    /// none is older than --older-than.
    ///
    /// Never touches the checksum-database state. Without a limit nothing is
    /// removed; the report says what is there. Exit status: 0 done, 2 usage or
    /// I/O error.
    Gc(GcArgs),
}

/// Flags of both subcommands: where the cache is, which checksum databases
/// are configured, the output format.
#[derive(Debug, Args)]
#[command(mut_arg("config", |a| a.help(
    "TOML configuration file (as for serve: cache_dir, sumdb, max_zip_size matter)"
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
    /// Print one JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `goward cache verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Flags of `goward cache gc`.
#[derive(Debug, Args)]
pub struct GcArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// Keep the blob store under this size, e.g. 10GiB or 500MB.
    #[arg(long, value_name = "SIZE", value_parser = crate::size::parse_size)]
    pub max_size: Option<u64>,
    /// Remove artifacts verified longer ago than this, e.g. 30d or 12h.
    #[arg(long, value_name = "AGE", value_parser = units::parse_age)]
    pub older_than: Option<Duration>,
    /// Print what would be removed; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Runs `goward cache …`.
pub(crate) fn run(args: &CacheArgs) -> ExitCode {
    match &args.command {
        CacheCommand::Verify(a) => run_verify(a),
        CacheCommand::Gc(a) => run_gc(a),
    }
}

fn load(common: &CommonArgs) -> Result<Config, String> {
    let c = common
        .location
        .load(&common.sumdb, None)
        .map_err(|e| e.to_string())?;
    c.require_cache_dir().map_err(|e| e.to_string())?;
    Ok(c)
}

/// The store `serve` would use (the cache directory or a shared bucket).
fn open(
    config: &Config,
) -> Result<std::sync::Arc<dyn crate::cache::Store>, crate::cache::StoreError> {
    match crate::pipeline::open_store_for_audit(config) {
        Ok(store) => Ok(store),
        Err(crate::pipeline::StartError::Store { source, .. }) => Err(source),
        Err(e) => Err(crate::cache::StoreError::Unavailable {
            op: "open",
            key: config.store.to_string(),
            detail: e.to_string(),
        }),
    }
}

fn print_json<T: serde::Serialize>(v: &T) {
    match serde_json::to_string_pretty(v) {
        Ok(s) => crate::outln!("{s}"),
        Err(e) => eprintln!("goward: encoding the report: {e}"),
    }
}

fn run_verify(a: &VerifyArgs) -> ExitCode {
    let config = match load(&a.common) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("goward: {e}");
            return ExitCode::from(2);
        }
    };
    // What serve re-checks against: the databases' keys, the policy's pins
    // and signers.
    let anchors = match crate::pipeline::recheck_anchors(&config) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("goward: {}", crate::error::display_chain(&e));
            return ExitCode::from(2);
        }
    };
    let res = open(&config).and_then(|store| {
        let zip_limits = crate::verify::zip::ZipLimits {
            max_zip_file: config.max_zip_size,
            ..Default::default()
        };
        let opts = verify::VerifyOptions {
            zip_limits,
            anchors,
        };
        crate::cache::block_on(verify::verify_cache(&*store, &opts)).and_then(|r| r)
    });
    let report = match res {
        Ok(r) => r,
        Err(e) => {
            eprintln!("goward: {e}");
            return ExitCode::from(2);
        }
    };
    if a.common.json {
        print_json(&report);
    } else {
        for p in &report.problems {
            let who = p
                .artifact
                .as_deref()
                .map(|a| format!("{a}: "))
                .unwrap_or_default();
            crate::outln!(
                "BAD {} {}: {who}{} [{}]",
                p.what,
                p.path,
                p.detail,
                p.action
            );
        }
        for n in &report.notes {
            crate::outln!("note: {n}");
        }
        crate::outln!(
            "{}: {} artifacts, {} blobs ({}), {} proofs, {} evidence objects, {} tree heads checked; {} problem(s)",
            report.cache_dir,
            report.artifacts,
            report.blobs,
            units::human(report.bytes),
            report.proofs,
            report.evidence,
            report.tree_heads,
            report.problems.len()
        );
    }
    if report.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn run_gc(a: &GcArgs) -> ExitCode {
    let config = match load(&a.common) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("goward: {e}");
            return ExitCode::from(2);
        }
    };
    let limits = gc::Limits {
        max_size: a.max_size,
        older_than: a.older_than,
    };
    let collected = open(&config).and_then(|store| {
        crate::cache::block_on(gc::collect(&*store, limits, a.dry_run)).and_then(|r| r)
    });
    let report = match collected {
        Ok(r) => r,
        Err(e) => {
            eprintln!("goward: {e}");
            return ExitCode::from(2);
        }
    };
    if a.common.json {
        print_json(&report);
        return ExitCode::SUCCESS;
    }
    let verb = if report.dry_run {
        "would remove"
    } else {
        "removed"
    };
    if report.limited {
        for r in &report.removed {
            crate::outln!("{verb} {r}");
        }
        crate::outln!(
            "{}: {verb} {} artifact(s), {} blob(s) and {} document(s), {} freed; {} -> {}",
            report.cache_dir,
            report.removed.len(),
            report.removed_blobs,
            report.removed_documents,
            units::human(report.freed_bytes),
            units::human(report.before_bytes),
            units::human(report.after_bytes)
        );
    } else {
        crate::outln!(
            "{}: {} artifact(s), {} document(s), {} evidence object(s), {} of blobs, documents and evidence; \
             {} in blobs and evidence objects no record names would be freed by any collection; \
             nothing removed: give --max-size SIZE and/or --older-than AGE",
            report.cache_dir,
            report.artifacts,
            report.documents,
            report.evidence_objects,
            units::human(report.before_bytes),
            units::human(report.unreferenced_bytes)
        );
    }
    if report.limited && report.removed_evidence > 0 {
        crate::outln!(
            "{verb} {} evidence object(s) no record names",
            report.removed_evidence
        );
    }
    for u in &report.unreadable {
        crate::outln!("skipped unreadable record {u} (run `goward cache verify`)");
    }
    ExitCode::SUCCESS
}
