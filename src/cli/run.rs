//! Running a parsed command line: the CLI edge, where errors become
//! messages and exit codes (0 success, 1 verification failed, 2 usage,
//! configuration or I/O error) and `anyhow` is allowed.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use super::{Cli, Command};
use crate::config::{Config, LogFormat, ServeArgs, VerifyZipArgs};
use crate::winsvc::ServeHooks;
use anyhow::Context;
use clap::Parser;

/// Parses the command line and runs it.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => match serve(
            &args,
            ServeHooks {
                shutdown: Box::pin(shutdown_signal()),
                on_ready: None,
            },
        ) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("goward: {}", crate::error::display_chain(e.as_ref()));
                ExitCode::from(2)
            }
        },
        Command::VerifyZip(args) => verify_zip(&args),
        Command::VerifyToolchain(args) => crate::toolchain::cli::run(&args),
        Command::VerifyBlob(args) => crate::verify::proof::signature::cli::run(&args),
        Command::Policy(args) => crate::policy::cli::run(&args),
        Command::User(args) => crate::auth::cli::run_user(&args),
        Command::Token(args) => crate::auth::cli::run_token(&args),
        Command::Cache(args) => crate::hygiene::run(&args),
        Command::Sumdb(args) => crate::hygiene::clear_fork::run(&args),
        Command::Doctor(args) => crate::doctor::run(&args),
        Command::Service(args) => crate::winsvc::run(&args, serve),
        Command::Mirror(args) => crate::mirror::cli::run(&args),
        Command::Bundle(args) => crate::bundle::cli::run(&args),
    }
}

fn init_logging(format: LogFormat, level: &str) {
    // Checked when the configuration was loaded.
    let filter = tracing_subscriber::EnvFilter::new(level);
    use std::io::IsTerminal;
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => b.init(),
        LogFormat::Json => b.json().init(),
    }
}

/// `goward serve`, and what the Windows service runs: serves until
/// `hooks.shutdown` resolves, then drains.
fn serve(args: &ServeArgs, hooks: ServeHooks) -> anyhow::Result<()> {
    let config = Config::load(args)?;
    init_logging(config.log_format, &config.log_level);
    // A bundle import killed mid-commit is completed before anything is served.
    if let Some(r) = crate::bundle::import::recover(&config)? {
        tracing::warn!(
            imported = r.imported.len(),
            refused = ?r.refused,
            "completed an interrupted bundle import"
        );
    }
    if let Some(path) = &config.audit_log {
        crate::audit::open(path)?;
    }
    // One TLS crypto provider for the process (ring: small, no C build deps).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // Before anything is opened: a bad certificate refuses the start.
    let tls = config
        .tls
        .as_ref()
        .map(crate::tls::TlsServer::load)
        .transpose()?;
    rt.block_on(async {
        let app = Arc::new(crate::server::App::from_config(&config)?);
        if config.policy.is_some() {
            // Reload when the file changes, and on SIGHUP.
            app.service()
                .watch_policy(std::time::Duration::from_secs(2));
        }
        if let Some(tls) = &tls {
            tls.watch(std::time::Duration::from_secs(2));
        }
        if let Some(auth) = app.auth() {
            auth.watch(std::time::Duration::from_secs(2));
        }
        app.service()
            .watch_cache_size(std::time::Duration::from_secs(600));
        if config.policy.is_some() || tls.is_some() || app.auth().is_some() {
            spawn_reload_on_sighup(
                config.policy.is_some().then(|| app.clone()),
                tls.clone(),
                app.auth().cloned(),
            );
        }
        let listeners =
            crate::server::Listeners::bind(&config.listen, config.admin_listen.as_ref()).await?;
        let addrs = crate::server::Listeners::addrs(&listeners.main)?;
        // Passwords and tokens never cross a network in clear text.
        if app.auth().is_some()
            && tls.is_none()
            && let Some(a) = addrs.iter().find(|a| !a.ip().is_loopback())
        {
            anyhow::bail!(
                "--auth-file: clients would send their credentials in clear text to {a}: \
                 serve TLS (--tls-cert, --tls-key) or listen on loopback only"
            );
        }
        let admin_addrs = crate::server::Listeners::addrs(&listeners.admin)?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        // The lines on stdout, one per bound address: scripts and tests read
        // the addresses here.
        let mut out = std::io::stdout().lock();
        for a in &addrs {
            writeln!(out, "goward listening on {scheme}://{a}")?;
        }
        for a in &admin_addrs {
            writeln!(out, "goward admin listening on http://{a}")?;
        }
        out.flush()?;
        drop(out);
        let urls = addrs
            .iter()
            .map(|a| format!("{scheme}://{a}"))
            .collect::<Vec<_>>()
            .join(", ");
        if let Some(ready) = hooks.on_ready {
            ready(urls.clone());
        }
        tracing::info!(
            addr = %urls,
            admin = %admin_addrs.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
            cache = %config.cache_dir.display(),
            upstream = %crate::upstream::redact_list(&config.upstream),
            offline = config.mode == crate::pipeline::UpstreamMode::Offline,
            sumdb = %config.sumdbs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(","),
            "serving"
        );
        let store = app.service().store();
        crate::server::run(listeners, app, config.conn, tls, hooks.shutdown).await?;
        if let Err(e) = store.release_fills().await {
            tracing::warn!("fill leases not released (they expire on their own): {e}");
        }
        tracing::info!("stopped");
        Ok(())
    })
}

/// Reloads the policy and the TLS certificate on every SIGHUP (unix); an
/// invalid policy or certificate is logged and the one in force stays.
fn spawn_reload_on_sighup(
    app: Option<Arc<crate::server::App>>,
    tls: Option<Arc<crate::tls::TlsServer>>,
    auth: Option<Arc<crate::auth::Authenticator>>,
) {
    #[cfg(unix)]
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(mut s) => {
            tokio::spawn(async move {
                while s.recv().await.is_some() {
                    if let Some(app) = &app {
                        tracing::info!(target: "goward::policy", "SIGHUP: reloading the policy");
                        let a = app.clone();
                        let _ = tokio::task::spawn_blocking(move || a.reload_policy()).await;
                    }
                    if let Some(tls) = &tls {
                        tracing::info!(target: "goward::tls", "SIGHUP: reloading the TLS certificate");
                        let t = tls.clone();
                        let _ = tokio::task::spawn_blocking(move || t.reload_logged()).await;
                    }
                    if let Some(auth) = &auth {
                        tracing::info!(target: "goward::auth", "SIGHUP: reloading the credentials");
                        let a = auth.clone();
                        let _ = tokio::task::spawn_blocking(move || a.reload_logged()).await;
                    }
                }
            });
        }
        Err(e) => tracing::warn!("cannot listen for SIGHUP; reload on signal is off: {e}"),
    }
    #[cfg(not(unix))]
    let _ = (app, tls, auth);
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

fn verify_zip(args: &VerifyZipArgs) -> ExitCode {
    use crate::verify::zip::{ZipLimits, check_zip_path};
    let want = match args
        .h1
        .as_deref()
        .map(crate::artifact::H1::parse)
        .transpose()
    {
        Ok(w) => w,
        Err(e) => {
            eprintln!("goward: invalid --h1: {e}");
            return ExitCode::from(2);
        }
    };
    if let Err(e) = std::fs::metadata(&args.file) {
        eprintln!("goward: {}: {e}", args.file.display());
        return ExitCode::from(2);
    }
    match check_zip_path(
        &args.file,
        &args.module,
        &args.version,
        &ZipLimits::default(),
    ) {
        Ok(report) => {
            crate::outln!("{}", report.h1);
            match want {
                Some(w) if w != report.h1 => {
                    eprintln!("h1 mismatch: zip has {}, expected {w}", report.h1);
                    ExitCode::from(1)
                }
                _ => ExitCode::SUCCESS,
            }
        }
        Err(e) => {
            for p in e.problems() {
                eprintln!("{p}");
            }
            ExitCode::from(1)
        }
    }
}
