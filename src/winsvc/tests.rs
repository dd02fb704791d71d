use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;

use super::*;
use crate::cli::{Cli, Command};

fn parse(args: &[&str]) -> Result<ServiceAction, clap::Error> {
    let mut v = vec!["goward", "service"];
    v.extend_from_slice(args);
    match Cli::try_parse_from(v)?.command {
        Command::Service(s) => Ok(s.action),
        other => panic!("{other:?}"),
    }
}

#[test]
fn install_requires_a_config_file_and_defaults_to_the_virtual_account() {
    assert!(parse(&["install"]).is_err(), "--config is required");
    match parse(&[
        "install",
        "--config",
        "C:\\ProgramData\\goward\\goward.toml",
    ])
    .unwrap()
    {
        ServiceAction::Install(a) => {
            assert_eq!(
                a.config,
                PathBuf::from("C:\\ProgramData\\goward\\goward.toml")
            );
            assert_eq!(a.account, "NT SERVICE\\goward");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(parse(&["start"]).unwrap(), ServiceAction::Start));
    assert!(matches!(parse(&["stop"]).unwrap(), ServiceAction::Stop));
    assert!(matches!(
        parse(&["uninstall"]).unwrap(),
        ServiceAction::Uninstall
    ));
    match parse(&["run", "--config", "/etc/goward.toml"]).unwrap() {
        ServiceAction::Run { config } => assert_eq!(config, PathBuf::from("/etc/goward.toml")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_service_command_line_runs_service_run_with_the_file() {
    let p = Path::new("C:\\ProgramData\\goward\\goward.toml");
    assert_eq!(
        launch_arguments(p),
        vec![
            "service",
            "run",
            "--config",
            "C:\\ProgramData\\goward\\goward.toml"
        ]
    );
}

#[test]
fn accounts() {
    assert_eq!(
        account_name("NT SERVICE\\goward").as_deref(),
        Some("NT SERVICE\\goward")
    );
    assert_eq!(account_name("LocalSystem"), None);
    assert_eq!(account_name("nt authority\\system"), None);
    assert_eq!(account_name(" "), None);
    assert_eq!(
        account_name("NT AUTHORITY\\LocalService").as_deref(),
        Some("NT AUTHORITY\\LocalService")
    );
}

#[test]
fn failure_actions_restart_after_5_10_30_seconds_and_reset_after_a_day() {
    assert_eq!(
        RESTART_DELAYS.map(|d| d.as_secs()),
        [5, 10, 30],
        "the third action repeats for later failures"
    );
    assert_eq!(FAILURE_RESET, Duration::from_secs(86_400));
    assert_eq!(
        sc_failure_command(),
        "sc.exe failure goward reset= 86400 actions= restart/5000/restart/10000/restart/30000"
    );
}

#[test]
fn event_source_registration() {
    let a = eventlog_register_args();
    assert_eq!(a.len(), 2);
    assert_eq!(
        a[0].join(" "),
        "add HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\goward /v EventMessageFile /t REG_EXPAND_SZ /d %SystemRoot%\\Microsoft.NET\\Framework64\\v4.0.30319\\EventLogMessages.dll /f"
    );
    assert_eq!(
        a[1].join(" "),
        "add HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\goward /v TypesSupported /t REG_DWORD /d 7 /f"
    );
    assert_eq!(
        eventlog_unregister_args().join(" "),
        "delete HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\goward /f"
    );
}

#[test]
fn cache_grant_for_the_service_account_only() {
    let d = Path::new("C:\\ProgramData\\goward\\cache");
    assert_eq!(
        cache_grant_args(d, Some("NT SERVICE\\goward")).unwrap(),
        vec![
            "C:\\ProgramData\\goward\\cache",
            "/grant",
            "NT SERVICE\\goward:(OI)(CI)M",
            "/Q"
        ]
    );
    assert_eq!(cache_grant_args(d, None), None);
}

#[test]
fn install_plan_checks_the_config_file() {
    // Windows' temp directory is inside the user profile, which install
    // refuses; the working directory (the package root) is not.
    let dir = if cfg!(windows) {
        tempfile::tempdir_in(".").unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let f = dir.path().join("goward.toml");

    let e = plan_install(&f, DEFAULT_ACCOUNT).unwrap_err();
    assert!(
        e.contains("goward.toml") && e.contains("create it first"),
        "{e}"
    );

    std::fs::write(&f, "listen = \"127.0.0.1:8081\"\n").unwrap();
    let e = plan_install(&f, DEFAULT_ACCOUNT).unwrap_err();
    assert!(e.contains("does not set cache_dir"), "{e}");

    std::fs::write(&f, "cache_dir = 'C:/srv/goward'\nlist_ttl = 0\n").unwrap();
    let e = plan_install(&f, DEFAULT_ACCOUNT).unwrap_err();
    assert!(e.contains("list-ttl"), "{e}");

    std::fs::write(&f, "cache_dir = \"cache\"\n").unwrap();
    let e = plan_install(&f, DEFAULT_ACCOUNT).unwrap_err();
    assert!(e.contains("must be absolute"), "{e}");

    let cache = if cfg!(windows) {
        "C:\\ProgramData\\goward\\cache"
    } else {
        "/srv/goward"
    };
    std::fs::write(&f, format!("cache_dir = '{cache}'\n")).unwrap();
    let p = plan_install(&f, "LocalSystem").unwrap();
    assert_eq!(p.cache_dir, PathBuf::from(cache));
    assert_eq!(p.config, std::path::absolute(&f).unwrap());
    assert_eq!(p.account, None);
    assert_eq!(
        plan_install(&f, DEFAULT_ACCOUNT)
            .unwrap()
            .account
            .as_deref(),
        Some("NT SERVICE\\goward")
    );

    let home = if cfg!(windows) {
        "C:\\Users\\ann\\goward.toml"
    } else {
        "/home/ann/goward.toml"
    };
    let e = plan_install(Path::new(home), DEFAULT_ACCOUNT).unwrap_err();
    assert!(e.contains("user profile"), "{e}");
}

#[cfg(not(windows))]
#[test]
fn elsewhere_the_subcommand_points_at_systemd_and_exits_2() {
    fn never(_: &crate::config::ServeArgs, _: ServeHooks) -> anyhow::Result<()> {
        unreachable!("no service on this OS")
    }
    let args = ServiceArgs {
        action: ServiceAction::Start,
    };
    assert_eq!(
        format!("{:?}", run(&args, never)),
        format!("{:?}", std::process::ExitCode::from(2))
    );
}
