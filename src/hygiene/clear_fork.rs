//! `goward sumdb clear-fork`: the documented way to clear a fork report.
//!
//! A fork report stops all use of a checksum database until an operator has
//! investigated; clearing it is a deliberate act, so the report is shown and
//! removed only with `--yes`. Exit codes: 0 removed, 1 no report or not
//! confirmed, 2 usage, configuration or I/O error.

use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::cache::DocKey;
use crate::config::{CacheLocation, Config};

/// Flags of `goward sumdb`.
#[derive(Debug, Args)]
pub struct SumdbArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: SumdbCommand,
}

/// Subcommands of `goward sumdb`.
#[derive(Debug, Subcommand)]
pub enum SumdbCommand {
    /// Show the fork report (SECURITY ERROR) of a checksum database and, with
    /// --yes, remove it so that goward trusts the database again.
    ///
    /// goward processes already running keep refusing the database until they
    /// are restarted. Exit status: 0 removed, 1 no report or not confirmed,
    /// 2 usage, configuration or I/O error.
    ClearFork(ClearForkArgs),
}

/// Flags of `goward sumdb clear-fork`.
#[derive(Debug, Args)]
pub struct ClearForkArgs {
    /// The database name, e.g. sum.golang.org.
    #[arg(value_name = "NAME")]
    pub name: String,
    #[command(flatten)]
    pub location: CacheLocation,
    /// Remove the report (without it, the report is only shown).
    #[arg(long)]
    pub yes: bool,
}

/// Runs `goward sumdb …`.
pub(crate) fn run(args: &SumdbArgs) -> ExitCode {
    match &args.command {
        SumdbCommand::ClearFork(a) => match clear_fork(a) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("goward: {e}");
                ExitCode::from(2)
            }
        },
    }
}

fn clear_fork(a: &ClearForkArgs) -> Result<ExitCode, String> {
    crate::sumdb::check_name(&a.name)?;
    let config = Config::load(&a.location.serve_args()).map_err(|e| e.to_string())?;
    let is_disk = matches!(config.store, crate::cache::StoreUrl::Disk(_));
    if is_disk && !config.cache_dir.is_dir() {
        return Err(format!(
            "no cache directory at {}",
            config.cache_dir.display()
        ));
    }
    // The disk store or a shared bucket (`--store`), as serve opens it.
    let store = crate::pipeline::open_store_for_audit(&config).map_err(|e| e.to_string())?;
    let key = DocKey::SumdbFork(a.name.clone());
    let path = std::path::PathBuf::from(store.doc_location(&key));
    let Some(report) = crate::cache::block_on(store.get_doc(&key))
        .and_then(|r| r)
        .map_err(|e| e.to_string())?
    else {
        println!(
            "no fork report for checksum database {} (looked for {})",
            a.name,
            path.display()
        );
        return Ok(ExitCode::from(1));
    };
    println!("{}:", path.display());
    println!("{}", String::from_utf8_lossy(&report).trim_end());
    if !a.yes {
        println!("\nnot removed: investigate, then run again with --yes to remove it");
        return Ok(ExitCode::from(1));
    }
    crate::cache::block_on(store.delete_doc(&key))
        .and_then(|r| r)
        .map_err(|e| e.to_string())?;
    println!(
        "\nremoved {}; restart goward (every process using this cache) to trust {} again",
        path.display(),
        a.name
    );
    Ok(ExitCode::SUCCESS)
}
