//! The service control manager side (Windows only): install, uninstall,
//! start, stop, and the service's own run under the dispatcher.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use windows_service::service::{
    Service, ServiceAccess, ServiceAction as ScAction, ServiceActionType, ServiceControl,
    ServiceControlAccept, ServiceErrorControl, ServiceExitCode, ServiceFailureActions,
    ServiceFailureResetPeriod, ServiceInfo, ServiceStartType, ServiceState, ServiceStatus,
    ServiceType,
};
use windows_service::service_control_handler::{
    self, ServiceControlHandlerResult, ServiceStatusHandle,
};
use windows_service::service_dispatcher;
use windows_service::service_manager::{ServiceManager, ServiceManagerAccess};

use super::{
    DESCRIPTION, DISPLAY_NAME, FAILURE_RESET, InstallArgs, RESTART_DELAYS, SERVICE_NAME, ServeFn,
    ServeHooks, ServiceAction, ServiceArgs, event_id,
};
use crate::config::CacheLocation;
use crate::hostcheck::{Host, RealHost, win::system32};
use crate::winffi::{self, EventKind};

/// Win32 errors with a better message than the code's text.
const ERROR_ACCESS_DENIED: i32 = 5;
const ERROR_SERVICE_DOES_NOT_EXIST: i32 = 1060;
const ERROR_FAILED_SERVICE_CONTROLLER_CONNECT: i32 = 1063;
const ERROR_SERVICE_EXISTS: i32 = 1073;
const ERROR_SERVICE_NOT_ACTIVE: i32 = 1062;

/// How long `start`, `stop` and `uninstall` wait for the state to change.
const STATE_WAIT: Duration = Duration::from_secs(30);

/// The configuration file and serve path for the service's own run: the
/// dispatcher calls the entry point with no user data.
static RUN: OnceLock<(PathBuf, ServeFn)> = OnceLock::new();

fn os_error(e: &windows_service::Error) -> Option<i32> {
    match e {
        windows_service::Error::Winapi(io) => io.raw_os_error(),
        _ => None,
    }
}

/// A message naming what failed, with the OS error's text.
fn scm_err(what: &str, e: &windows_service::Error) -> String {
    let detail = match e {
        windows_service::Error::Winapi(io) => io.to_string(),
        other => other.to_string(),
    };
    match os_error(e) {
        Some(ERROR_ACCESS_DENIED) => {
            format!("{what}: {detail} (run from an elevated prompt: Run as administrator)")
        }
        Some(ERROR_SERVICE_DOES_NOT_EXIST) => {
            format!(
                "{what}: the {SERVICE_NAME} service is not installed (goward service install --config FILE)"
            )
        }
        _ => format!("{what}: {detail}"),
    }
}

pub(crate) fn run(args: &ServiceArgs, serve: ServeFn) -> ExitCode {
    let r = match &args.action {
        ServiceAction::Install(a) => install(a),
        ServiceAction::Uninstall => uninstall(),
        ServiceAction::Start => start(),
        ServiceAction::Stop => stop(),
        ServiceAction::Run { config } => return run_dispatcher(config, serve),
    };
    match r {
        Ok(msg) => {
            crate::outln!("{msg}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("goward service: {e}");
            ExitCode::from(2)
        }
    }
}

fn manager(access: ServiceManagerAccess) -> Result<ServiceManager, String> {
    ServiceManager::local_computer(None::<&str>, access)
        .map_err(|e| scm_err("connecting to the service control manager", &e))
}

/// Opens the installed service with `access`.
fn open(access: ServiceAccess) -> Result<Service, String> {
    manager(ServiceManagerAccess::CONNECT)?
        .open_service(SERVICE_NAME, access)
        .map_err(|e| scm_err("opening the service", &e))
}

/// Runs a tool from System32; its first error line on failure.
fn run_tool(exe: &str, args: &[String]) -> Result<(), String> {
    let host = RealHost;
    let prog = system32(&host, exe);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = host.run(&prog, &refs)?;
    if out.code == Some(0) {
        return Ok(());
    }
    let msg = format!("{}\n{}", out.stderr, out.stdout);
    let line = msg.lines().map(str::trim).find(|l| !l.is_empty());
    Err(format!(
        "{exe} {}: {}",
        args.join(" "),
        line.unwrap_or("failed without a message")
    ))
}

fn install(a: &InstallArgs) -> Result<String, String> {
    let plan = super::plan_install(&a.config, &a.account)?;
    let exe = std::env::current_exe().map_err(|e| format!("locating goward.exe: {e}"))?;
    let info = ServiceInfo {
        name: SERVICE_NAME.into(),
        display_name: DISPLAY_NAME.into(),
        service_type: ServiceType::OWN_PROCESS,
        start_type: ServiceStartType::AutoStart,
        error_control: ServiceErrorControl::Normal,
        executable_path: exe.clone(),
        launch_arguments: super::launch_arguments(&plan.config),
        dependencies: Vec::new(),
        account_name: plan.account.as_ref().map(OsString::from),
        account_password: None,
    };
    let m = manager(ServiceManagerAccess::CONNECT | ServiceManagerAccess::CREATE_SERVICE)?;
    let access = ServiceAccess::CHANGE_CONFIG | ServiceAccess::QUERY_STATUS;
    // Installing again updates the registration.
    let service = match m.create_service(&info, access) {
        Ok(s) => s,
        Err(e) if os_error(&e) == Some(ERROR_SERVICE_EXISTS) => {
            let s = m
                .open_service(SERVICE_NAME, access)
                .map_err(|e| scm_err("opening the existing service", &e))?;
            s.change_config(&info)
                .map_err(|e| scm_err("updating the existing service", &e))?;
            s
        }
        Err(e) => return Err(scm_err("creating the service", &e)),
    };
    service
        .set_description(DESCRIPTION)
        .map_err(|e| scm_err("setting the description", &e))?;
    let mut notes = Vec::new();
    // Without them the service still runs, it only is not restarted.
    let restart = service
        .update_failure_actions(ServiceFailureActions {
            reset_period: ServiceFailureResetPeriod::After(FAILURE_RESET),
            reboot_msg: None,
            command: None,
            actions: Some(
                RESTART_DELAYS
                    .iter()
                    .map(|d| ScAction {
                        action_type: ServiceActionType::Restart,
                        delay: *d,
                    })
                    .collect(),
            ),
        })
        // Also restart when goward exits with an error, not only on a crash.
        .and_then(|()| service.set_failure_actions_on_non_crash_failures(true));
    let restarts = restart.is_ok();
    if let Err(e) = restart {
        notes.push(format!(
            "warning: {}; set them with: {}",
            scm_err("setting the restart-on-failure actions", &e),
            super::sc_failure_command()
        ));
    }
    for args in super::eventlog_register_args() {
        if let Err(e) = run_tool("reg.exe", &args) {
            notes.push(format!(
                "warning: registering the event-log source: {e} (events still appear, without a message file)"
            ));
        }
    }
    std::fs::create_dir_all(&plan.cache_dir).map_err(|e| {
        format!(
            "creating the cache directory {}: {e}",
            plan.cache_dir.display()
        )
    })?;
    if let Some(args) = super::cache_grant_args(&plan.cache_dir, plan.account.as_deref()) {
        run_tool("icacls.exe", &args).map_err(|e| {
            format!("letting the service account write the cache: {e}; the service is installed but cannot use its cache until that works")
        })?;
    }
    if let Some((_, msg)) = crate::hostcheck::cache_defender_warning(&RealHost, &plan.cache_dir) {
        notes.push(format!("note: {msg}"));
    }
    let mut msg = format!(
        "installed the {SERVICE_NAME} service (starts automatically, runs as {}{}):\n    {} service run --config {}\nstart it with: goward service start",
        plan.account.as_deref().unwrap_or("LocalSystem"),
        if restarts {
            ", restarts after a failure"
        } else {
            ""
        },
        exe.display(),
        plan.config.display()
    );
    for n in notes {
        msg.push('\n');
        msg.push_str(&n);
    }
    Ok(msg)
}

/// Polls until the service reaches `want`; an error if it settles
/// elsewhere or takes longer than [`STATE_WAIT`].
fn wait_state(s: &Service, want: ServiceState) -> Result<ServiceStatus, String> {
    let start = Instant::now();
    loop {
        let st = s
            .query_status()
            .map_err(|e| scm_err("querying the service", &e))?;
        if st.current_state == want {
            return Ok(st);
        }
        if want == ServiceState::Running && st.current_state == ServiceState::Stopped {
            return Err(format!(
                "the service stopped while starting ({:?}); the Application event log (source {SERVICE_NAME}) says why",
                st.exit_code
            ));
        }
        if start.elapsed() > STATE_WAIT {
            return Err(format!(
                "the service is still {:?} after {} s",
                st.current_state,
                STATE_WAIT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn uninstall() -> Result<String, String> {
    let s = open(ServiceAccess::QUERY_STATUS | ServiceAccess::STOP | ServiceAccess::DELETE)?;
    let st = s
        .query_status()
        .map_err(|e| scm_err("querying the service", &e))?;
    if st.current_state != ServiceState::Stopped {
        match s.stop() {
            Ok(_) => {
                wait_state(&s, ServiceState::Stopped)?;
            }
            Err(e) if os_error(&e) == Some(ERROR_SERVICE_NOT_ACTIVE) => {}
            Err(e) => return Err(scm_err("stopping the service", &e)),
        }
    }
    s.delete()
        .map_err(|e| scm_err("deleting the service", &e))?;
    let mut msg = format!("removed the {SERVICE_NAME} service (its cache and configuration stay)");
    match run_tool("reg.exe", &super::eventlog_unregister_args()) {
        Err(e) if !e.contains("nable to find") => {
            msg.push_str(&format!("\nwarning: removing the event-log source: {e}"));
        }
        _ => {}
    }
    Ok(msg)
}

fn start() -> Result<String, String> {
    let s = open(ServiceAccess::START | ServiceAccess::QUERY_STATUS)?;
    s.start::<&OsStr>(&[])
        .map_err(|e| scm_err("starting the service", &e))?;
    wait_state(&s, ServiceState::Running)?;
    Ok(format!("the {SERVICE_NAME} service is running"))
}

fn stop() -> Result<String, String> {
    let s = open(ServiceAccess::STOP | ServiceAccess::QUERY_STATUS)?;
    match s.stop() {
        Ok(_) => {}
        Err(e) if os_error(&e) == Some(ERROR_SERVICE_NOT_ACTIVE) => {
            return Ok(format!("the {SERVICE_NAME} service was not running"));
        }
        Err(e) => return Err(scm_err("stopping the service", &e)),
    }
    wait_state(&s, ServiceState::Stopped)?;
    Ok(format!("the {SERVICE_NAME} service stopped"))
}

/// `goward service run`: hands the process to the service dispatcher,
/// which calls [`service_main`] on its own thread.
fn run_dispatcher(config: &Path, serve: ServeFn) -> ExitCode {
    let _ = RUN.set((config.to_path_buf(), serve));
    match service_dispatcher::start(SERVICE_NAME, winffi::service_entry(service_main)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if os_error(&e) == Some(ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) => {
            eprintln!(
                "goward service run: only the service control manager starts this; in a console run goward serve --config {}",
                config.display()
            );
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!(
                "goward service run: {}",
                scm_err("starting the service dispatcher", &e)
            );
            ExitCode::from(2)
        }
    }
}

fn event(kind: EventKind, id: u32, msg: &str) {
    // Nowhere else to report a failure to write the event log.
    let _ = winffi::report_event(SERVICE_NAME, kind, id, msg);
}

fn set_status(
    h: ServiceStatusHandle,
    state: ServiceState,
    accept: ServiceControlAccept,
    exit_code: ServiceExitCode,
    wait_hint: Duration,
) {
    let pending = matches!(
        state,
        ServiceState::StartPending | ServiceState::StopPending
    );
    let _ = h.set_service_status(ServiceStatus {
        service_type: ServiceType::OWN_PROCESS,
        current_state: state,
        controls_accepted: accept,
        exit_code,
        checkpoint: u32::from(pending),
        wait_hint,
        process_id: None,
    });
}

/// The service's main function (called through the FFI entry in
/// [`crate::winffi`]).
pub(crate) fn service_main(_args: Vec<OsString>) {
    let Some((config, serve)) = RUN.get() else {
        return;
    };
    // Nothing reads stderr under the service control manager: panics go
    // to the event log too (tokio survives a panicking task, so not fatal).
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        event(
            EventKind::Error,
            event_id::PANIC,
            &format!("goward: {info}"),
        );
        previous(info);
    }));
    if let Err(e) = run_service(config, *serve) {
        event(
            EventKind::Error,
            event_id::FATAL,
            &format!("goward service: {e}"),
        );
    }
}

fn run_service(config: &Path, serve: ServeFn) -> Result<(), String> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    let handler = move |c: ServiceControl| match c {
        ServiceControl::Stop | ServiceControl::Shutdown | ServiceControl::Preshutdown => {
            let _ = tx.send(true);
            ServiceControlHandlerResult::NoError
        }
        ServiceControl::Interrogate => ServiceControlHandlerResult::NoError,
        _ => ServiceControlHandlerResult::NotImplemented,
    };
    let h = service_control_handler::register(SERVICE_NAME, handler)
        .map_err(|e| scm_err("registering the control handler", &e))?;
    set_status(
        h,
        ServiceState::StartPending,
        ServiceControlAccept::empty(),
        ServiceExitCode::NO_ERROR,
        STATE_WAIT,
    );
    let shown = config.display().to_string();
    let hooks = ServeHooks {
        shutdown: Box::pin(async move {
            let mut rx = rx;
            let _ = rx.wait_for(|stop| *stop).await;
            set_status(
                h,
                ServiceState::StopPending,
                ServiceControlAccept::empty(),
                ServiceExitCode::NO_ERROR,
                STATE_WAIT,
            );
        }),
        on_ready: Some(Box::new(move |urls| {
            set_status(
                h,
                ServiceState::Running,
                ServiceControlAccept::STOP | ServiceControlAccept::SHUTDOWN,
                ServiceExitCode::NO_ERROR,
                Duration::ZERO,
            );
            event(
                EventKind::Info,
                event_id::STARTED,
                &format!("goward started: listening on {urls}, configuration {shown}"),
            );
        })),
    };
    let args = CacheLocation {
        config: Some(config.to_path_buf()),
        cache_dir: None,
        store: None,
    }
    .serve_args();
    let exit = match serve(&args, hooks) {
        Ok(()) => {
            event(EventKind::Info, event_id::STOPPED, "goward stopped");
            ServiceExitCode::NO_ERROR
        }
        Err(e) => {
            event(
                EventKind::Error,
                event_id::FATAL,
                &format!(
                    "goward stopped on an error: {}",
                    crate::error::display_chain(e.as_ref())
                ),
            );
            ServiceExitCode::ServiceSpecific(2)
        }
    };
    set_status(
        h,
        ServiceState::Stopped,
        ServiceControlAccept::empty(),
        exit,
        Duration::ZERO,
    );
    Ok(())
}
