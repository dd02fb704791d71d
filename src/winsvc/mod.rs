//! `goward service install|uninstall|start|stop|run`: goward as a Windows
//! service.
//!
//! The service runs `goward.exe service run --config FILE` under a virtual
//! account (`NT SERVICE\goward`), so its settings come from that file and
//! never from a user profile or environment. It restarts on failure (after
//! 5 s, 10 s, then 30 s; the count resets after a day) and writes start,
//! stop and fatal events to the Application event log.
//!
//! The service control manager calls only exist on Windows (`scm`); the
//! plans (arguments, failure actions, registry and ACL commands) are plain
//! functions here, unit-tested on every OS. Elsewhere the subcommand says
//! to use `contrib/goward.service` and exits 2.

// The plans run only on Windows (`scm`); elsewhere they are compiled for
// their tests alone.
#![cfg_attr(not(windows), allow(dead_code))]

#[cfg(windows)]
pub(crate) mod scm;
#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::config::{CacheLocation, ServeArgs};

/// The service's name with the service control manager and the event log.
pub(crate) const SERVICE_NAME: &str = "goward";
/// The name shown in `services.msc`.
pub(crate) const DISPLAY_NAME: &str = "goward verifying Go module proxy";
/// The service's description.
pub(crate) const DESCRIPTION: &str =
    "Serves Go modules and toolchains only after proving them against the Go checksum database.";
/// The default account: a virtual account, least privilege, its own SID.
pub(crate) const DEFAULT_ACCOUNT: &str = "NT SERVICE\\goward";
/// Where the configuration file is suggested to live.
pub(crate) const SUGGESTED_CONFIG: &str = "C:\\ProgramData\\goward\\goward.toml";
/// Where the cache is suggested to live.
pub(crate) const SUGGESTED_CACHE: &str = "C:\\ProgramData\\goward\\cache";

/// Delays of the restart actions after the first, second and later failures.
pub(crate) const RESTART_DELAYS: [Duration; 3] = [
    Duration::from_secs(5),
    Duration::from_secs(10),
    Duration::from_secs(30),
];
/// Failure-free time after which the failure count starts again at zero.
pub(crate) const FAILURE_RESET: Duration = Duration::from_secs(24 * 60 * 60);

/// The Application-log source key.
pub(crate) const EVENTLOG_KEY: &str =
    "HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\goward";
/// A message file that shows any event's text as is (every id is "%1").
pub(crate) const EVENT_MESSAGE_FILE: &str =
    "%SystemRoot%\\Microsoft.NET\\Framework64\\v4.0.30319\\EventLogMessages.dll";

/// Event ids written to the Application log.
pub(crate) mod event_id {
    /// The service started and listens.
    pub(crate) const STARTED: u32 = 1;
    /// The service stopped cleanly.
    pub(crate) const STOPPED: u32 = 2;
    /// The service stopped on an error (configuration, listen address).
    pub(crate) const FATAL: u32 = 3;
    /// A thread panicked.
    pub(crate) const PANIC: u32 = 4;
}

/// Flags of `goward service`.
#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: ServiceAction,
}

/// `goward service` subcommands.
#[derive(Debug, Subcommand)]
pub enum ServiceAction {
    /// Register goward with the service control manager (from an elevated prompt).
    ///
    /// The service starts automatically, runs `goward.exe service run --config FILE`
    /// and restarts after a failure.
    Install(InstallArgs),
    /// Stop the service and remove it and its event-log source.
    Uninstall,
    /// Start the service and wait until it runs.
    Start,
    /// Stop the service and wait until it stopped.
    Stop,
    /// Run under the service control manager (what the installed service runs).
    #[command(hide = true)]
    Run {
        /// The configuration file.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

/// Flags of `goward service install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// The configuration file the service reads, which must set cache_dir
    /// (suggested: C:\ProgramData\goward\goward.toml with
    /// cache_dir = 'C:\ProgramData\goward\cache').
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// The account the service runs as; `LocalSystem` is the all-powerful
    /// one.
    #[arg(long, default_value = DEFAULT_ACCOUNT, value_name = "ACCOUNT")]
    pub account: String,
}

/// How a serve run is driven: the shutdown it waits for, and who hears that
/// it listens. `goward serve` waits for Ctrl-C / SIGTERM; the service for
/// the service control manager's stop.
pub(crate) struct ServeHooks {
    /// Resolves when the server should stop (it then drains gracefully).
    pub shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// Called once the listeners are bound, with their URLs (`, `-separated).
    pub on_ready: Option<Box<dyn FnOnce(String) + Send>>,
}

impl std::fmt::Debug for ServeHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeHooks").finish_non_exhaustive()
    }
}

/// The serve path of `goward serve` (it lives in the binary; the service
/// runs the same one).
pub(crate) type ServeFn = fn(&ServeArgs, ServeHooks) -> anyhow::Result<()>;

/// What `install` registers, checked before anything is changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct InstallPlan {
    /// The configuration file, absolute.
    pub config: PathBuf,
    /// The cache directory it sets.
    pub cache_dir: PathBuf,
    /// The service account (`None`: LocalSystem).
    pub account: Option<String>,
}

/// Checks what `install` is given: an existing configuration file outside
/// any user profile that sets `cache_dir` (otherwise the cache would land
/// in the service account's profile) and loads cleanly.
pub(crate) fn plan_install(config: &Path, account: &str) -> Result<InstallPlan, String> {
    let abs =
        std::path::absolute(config).map_err(|e| format!("--config {}: {e}", config.display()))?;
    if crate::doctor::checks::in_user_home(&abs.to_string_lossy(), None) {
        return Err(format!(
            "--config {}: a service must not read its configuration from a user profile; put it in e.g. {SUGGESTED_CONFIG}",
            abs.display()
        ));
    }
    let text = std::fs::read_to_string(&abs).map_err(|e| {
        format!(
            "--config {}: {e} (create it first, e.g. {SUGGESTED_CONFIG} with cache_dir = '{SUGGESTED_CACHE}')",
            abs.display()
        )
    })?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| format!("config file {}: {e}", abs.display()))?;
    if !table.contains_key("cache_dir") {
        return Err(format!(
            "config file {} does not set cache_dir: the default would be inside the service account's profile; add e.g. cache_dir = '{SUGGESTED_CACHE}'",
            abs.display()
        ));
    }
    let cfg = crate::config::Config::load(
        &CacheLocation {
            config: Some(abs.clone()),
            cache_dir: None,
            store: None,
        }
        .serve_args(),
    )
    .map_err(|e| e.to_string())?;
    if !cfg.cache_dir.is_absolute() {
        return Err(format!(
            "config file {}: cache_dir {} must be absolute: a service runs in C:\\Windows\\System32",
            abs.display(),
            cfg.cache_dir.display()
        ));
    }
    Ok(InstallPlan {
        config: abs,
        cache_dir: cfg.cache_dir,
        account: account_name(account),
    })
}

/// The account for the service control manager: `None` for LocalSystem.
pub(crate) fn account_name(account: &str) -> Option<String> {
    let a = account.trim();
    let system = ["", "localsystem", ".\\localsystem", "nt authority\\system"];
    (!system.contains(&a.to_ascii_lowercase().as_str())).then(|| a.to_owned())
}

/// The command line the service control manager runs, after the exe.
pub(crate) fn launch_arguments(config: &Path) -> Vec<OsString> {
    vec![
        "service".into(),
        "run".into(),
        "--config".into(),
        config.as_os_str().to_owned(),
    ]
}

/// The `sc.exe` command that sets the same failure actions by hand, for
/// when the service control manager refuses them at install.
pub(crate) fn sc_failure_command() -> String {
    let actions: Vec<String> = RESTART_DELAYS
        .iter()
        .map(|d| format!("restart/{}", d.as_millis()))
        .collect();
    format!(
        "sc.exe failure {SERVICE_NAME} reset= {} actions= {}",
        FAILURE_RESET.as_secs(),
        actions.join("/")
    )
}

/// `reg.exe` argument lists that register the event-log source. The
/// `%SystemRoot%` stays literal: `REG_EXPAND_SZ` expands it when read.
pub(crate) fn eventlog_register_args() -> Vec<Vec<String>> {
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    vec![
        s(&[
            "add",
            EVENTLOG_KEY,
            "/v",
            "EventMessageFile",
            "/t",
            "REG_EXPAND_SZ",
            "/d",
            EVENT_MESSAGE_FILE,
            "/f",
        ]),
        // Error, warning and information events.
        s(&[
            "add",
            EVENTLOG_KEY,
            "/v",
            "TypesSupported",
            "/t",
            "REG_DWORD",
            "/d",
            "7",
            "/f",
        ]),
    ]
}

/// `reg.exe` arguments that remove the event-log source.
pub(crate) fn eventlog_unregister_args() -> Vec<String> {
    vec!["delete".into(), EVENTLOG_KEY.into(), "/f".into()]
}

/// `icacls.exe` arguments that let the service account modify the cache
/// (inherited by everything below it); `None` for LocalSystem, which may
/// already.
pub(crate) fn cache_grant_args(cache_dir: &Path, account: Option<&str>) -> Option<Vec<String>> {
    let a = account?;
    Some(vec![
        cache_dir.display().to_string(),
        "/grant".into(),
        format!("{a}:(OI)(CI)M"),
        "/Q".into(),
    ])
}

/// Runs `goward service …`; `serve` is the serve path the service runs.
pub(crate) fn run(args: &ServiceArgs, serve: ServeFn) -> ExitCode {
    #[cfg(windows)]
    {
        scm::run(args, serve)
    }
    #[cfg(not(windows))]
    {
        let _ = (args, serve);
        eprintln!(
            "goward service: Windows services exist only on Windows; on Linux use the systemd unit contrib/goward.service (see README.md, \"Running as a service\")"
        );
        ExitCode::from(2)
    }
}
