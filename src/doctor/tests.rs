use std::path::{Path, PathBuf};

use super::checks::*;
use super::{apply_fixes, gather};
use crate::hostcheck::Compression;
use crate::hostcheck::fake::{FakeHost, ok};

fn env(pairs: &[(&str, &str)]) -> Facts {
    Facts {
        go_env: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Facts::default()
    }
}

fn find<'a>(v: &'a [Finding], check: &str) -> &'a Finding {
    v.iter()
        .find(|f| f.check == check)
        .unwrap_or_else(|| panic!("no {check} finding in {v:#?}"))
}

fn go(path: &str, version: &str, root: &str) -> GoInstall {
    GoInstall {
        path: path.into(),
        canonical: path.into(),
        version: Some(version.into()),
        goroot: Some(root.into()),
    }
}

#[test]
fn one_go_is_ok_none_or_several_warn() {
    let mut f = Facts::default();
    assert_eq!(go_binaries(&f)[0].severity, Severity::Warning);
    f.gos = vec![go(
        "/usr/local/go/bin/go",
        "go version go1.24.1 linux/amd64",
        "/usr/local/go",
    )];
    assert_eq!(go_binaries(&f)[0].severity, Severity::Ok);
    f.gos.push(go(
        "/usr/bin/go",
        "go version go1.19 linux/amd64",
        "/usr/lib/go-1.19",
    ));
    let x = &go_binaries(&f)[0];
    assert_eq!(x.severity, Severity::Warning);
    assert!(
        x.summary.contains("2 different go commands")
            && x.summary.contains("/usr/local/go/bin/go wins"),
        "{x:?}"
    );
    assert!(
        x.evidence[1].contains("go1.19") && x.evidence[1].contains("/usr/lib/go-1.19"),
        "{x:?}"
    );
}

#[test]
fn gather_dedupes_symlinked_go_and_reads_go_env() {
    let mut h = FakeHost {
        go: vec![
            "/usr/bin/go".into(),
            "/usr/local/go/bin/go".into(),
            "/opt/go/bin/go".into(),
        ],
        ..FakeHost::default()
    };
    h.links
        .insert("/usr/bin/go".into(), "/usr/local/go/bin/go".into());
    h.links
        .insert("/usr/local/go/bin/go".into(), "/usr/local/go/bin/go".into());
    h.runs.insert(
        "/usr/bin/go version".into(),
        ok("go version go1.24.1 linux/amd64\n"),
    );
    h.runs
        .insert("/usr/bin/go env GOROOT".into(), ok("/usr/local/go\n"));
    h.runs.insert(
        "/usr/bin/go env -json".into(),
        ok(r#"{"GOROOT":"/usr/local/go","GOMODCACHE":"/home/u/go/pkg/mod","GOCACHE":"/home/u/.cache/go-build","GOPATH":"/home/u/go","GOSUMDB":"sum.golang.org","GOPROXY":"http://goward:8080","X":1}"#),
    );
    h.dirs.insert("/home/u/go/pkg/mod".into());
    h.dirs.insert("/var/cache/goward".into());
    h.compressed
        .borrow_mut()
        .insert("/home/u/go/pkg/mod".into());
    h.env.insert("GONOSUMCHECK".into(), "1".into());
    let f = gather(
        &h,
        Some("http://goward:8080/".into()),
        Some("/var/cache/goward".into()),
    );
    assert_eq!(f.gos.len(), 2, "{:?}", f.gos);
    assert_eq!(
        f.gos[0].version.as_deref(),
        Some("go version go1.24.1 linux/amd64")
    );
    assert_eq!(
        f.gos[1].version, None,
        "no canned output: treated as failing"
    );
    assert_eq!(
        f.go_env.get("GOPROXY").map(String::as_str),
        Some("http://goward:8080")
    );
    assert!(!f.go_env.contains_key("X"));
    assert_eq!(
        f.dirs,
        vec![
            (
                "GOMODCACHE".into(),
                PathBuf::from("/home/u/go/pkg/mod"),
                Compression::Compressed
            ),
            (
                "goward cache".into(),
                PathBuf::from("/var/cache/goward"),
                Compression::Uncompressed
            ),
        ]
    );
    let all = all(&f);
    assert_eq!(find(&all, "goproxy").severity, Severity::Ok);
    assert_eq!(find(&all, "gonosumcheck").severity, Severity::Warning);
    assert_eq!(exit_code(&all), 1);
}

#[test]
fn goroot_by_hand_in_home_and_disagreeing() {
    let mut f = env(&[("GOROOT", "/usr/local/go")]);
    f.home = Some("/home/ann".into());
    let v = goroot(&f);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].severity, Severity::Ok);

    f.goroot_env = Some("/home/ann/sdk/go1.21".into());
    let v = goroot(&f);
    assert_eq!(find(&v, "goroot-set").severity, Severity::Warning);
    let m = find(&v, "goroot-mismatch");
    assert_eq!(m.severity, Severity::Error);
    assert!(
        m.evidence
            .iter()
            .any(|e| e.contains("/home/ann/sdk/go1.21"))
    );
    assert!(
        v.iter().all(|x| x.check != "goroot-in-home"),
        "go env GOROOT is not in home"
    );

    let mut f = env(&[("GOROOT", "/srv/users/ann/go")]);
    f.home = Some("/srv/users/ann".into());
    assert_eq!(
        find(&goroot(&f), "goroot-in-home").severity,
        Severity::Warning
    );
    let f = env(&[("GOROOT", "C:\\Users\\ann\\sdk\\go")]);
    assert_eq!(
        find(&goroot(&f), "goroot-in-home").severity,
        Severity::Warning
    );
    let f = env(&[("GOROOT", "/usr/local/go/")]);
    let mut f2 = f.clone();
    f2.goroot_env = Some("/usr/local/go".into());
    assert!(
        goroot(&f2).iter().all(|x| x.check != "goroot-mismatch"),
        "trailing slash is no mismatch"
    );
}

#[test]
fn home_detection() {
    assert!(in_user_home("/home/x/go", None));
    assert!(in_user_home("/Users/x/sdk", None));
    assert!(in_user_home("/data/me/go", Some("/data/me")));
    assert!(!in_user_home("/data/meme/go", Some("/data/me")));
    assert!(!in_user_home("/usr/local/go", Some("/root")));
    assert!(!in_user_home("/usr/local/go", Some("/")));
}

#[test]
fn compressed_dirs_warn_with_the_command_and_fix_clears() {
    let f = Facts {
        dirs: vec![
            ("GOMODCACHE".into(), "/m".into(), Compression::Compressed),
            ("GOCACHE".into(), "/c".into(), Compression::Uncompressed),
            (
                "goward cache".into(),
                "/g".into(),
                Compression::Unknown("EIO".into()),
            ),
        ],
        ..Facts::default()
    };
    let mut v = compression(&f);
    assert_eq!(v.len(), 2);
    assert_eq!(v[0].severity, Severity::Warning);
    if !cfg!(windows) {
        assert!(v[0].fix.as_deref().unwrap().contains("chattr -c -R '/m'"));
    }
    assert_eq!(v[1].severity, Severity::Info);
    assert_eq!(exit_code(&v), 1);

    let h = FakeHost::default();
    h.compressed.borrow_mut().insert("/m".into());
    apply_fixes(&h, &mut v);
    assert!(v[0].fixed.is_some());
    assert_eq!(h.cleared.borrow().as_slice(), &[PathBuf::from("/m")]);
    assert_eq!(exit_code(&v), 0, "fixed findings do not count");

    let h = FakeHost {
        clear_fails: true,
        ..FakeHost::default()
    };
    let mut v = compression(&f);
    apply_fixes(&h, &mut v);
    assert!(v[0].fixed.is_none());
    assert!(v[0].evidence.iter().any(|e| e.contains("--fix failed")));

    let f = Facts {
        dirs: vec![(
            "GOCACHE".into(),
            "/c".into(),
            Compression::NotApplicable("tmpfs".into()),
        )],
        ..Facts::default()
    };
    assert_eq!(compression(&f)[0].severity, Severity::Ok);
    assert!(compression(&Facts::default()).is_empty());
    let _ = Path::new("/");
}

#[test]
fn broad_pattern_detection() {
    assert_eq!(broad_patterns("*"), vec!["*"]);
    assert_eq!(broad_patterns("com"), vec!["com"]);
    assert_eq!(broad_patterns("*.com,corp.example.com"), vec!["*.com"]);
    assert_eq!(broad_patterns("github.com"), vec!["github.com"]);
    assert_eq!(broad_patterns("github.com/*"), vec!["github.com/*"]);
    assert!(broad_patterns("github.com/myorg,*.corp.example.com, git.example.org").is_empty());
    assert_eq!(broad_patterns("*/*"), vec!["*/*"]);
    assert!(broad_patterns("").is_empty());
}

#[test]
fn gosumdb_off_is_an_error_unless_goward_is_the_only_proxy() {
    let f = env(&[
        ("GOSUMDB", "off"),
        ("GOPROXY", "https://proxy.golang.org,direct"),
    ]);
    assert_eq!(find(&settings(&f), "gosumdb-off").severity, Severity::Error);
    let mut f = env(&[("GOSUMDB", "off"), ("GOPROXY", "http://g:8080")]);
    f.goward_url = Some("http://g:8080".into());
    assert_eq!(
        find(&settings(&f), "gosumdb-off").severity,
        Severity::Warning
    );
    let f = env(&[("GOSUMDB", "sum.golang.org"), ("GOPROXY", "http://g")]);
    assert_eq!(find(&settings(&f), "gosumdb").severity, Severity::Ok);
}

#[test]
fn private_and_insecure_patterns() {
    let f = env(&[("GONOSUMDB", "*"), ("GOPROXY", "off")]);
    let x = find(&settings(&f), "private-patterns").clone();
    assert_eq!(x.severity, Severity::Error);
    assert!(x.evidence.iter().any(|e| e == "broad patterns: *"));
    let f = env(&[("GOPRIVATE", "corp.example.com/*"), ("GOPROXY", "off")]);
    assert_eq!(
        find(&settings(&f), "private-patterns").severity,
        Severity::Info
    );
    let f = env(&[("GOPRIVATE", "com"), ("GOPROXY", "off")]);
    assert_eq!(
        find(&settings(&f), "private-patterns").severity,
        Severity::Error
    );
    let f = env(&[("GONOPROXY", "github.com"), ("GOPROXY", "off")]);
    assert_eq!(
        find(&settings(&f), "private-patterns").severity,
        Severity::Warning
    );
    let f = env(&[("GOINSECURE", "corp.example.com"), ("GOPROXY", "off")]);
    assert_eq!(
        find(&settings(&f), "private-patterns").severity,
        Severity::Warning
    );
    let f = env(&[("GOINSECURE", "*"), ("GOPROXY", "off")]);
    assert_eq!(
        find(&settings(&f), "private-patterns").severity,
        Severity::Error
    );
}

#[test]
fn goflags_insecure() {
    let f = env(&[("GOFLAGS", "-mod=mod -insecure"), ("GOPROXY", "off")]);
    assert_eq!(
        find(&settings(&f), "goflags-insecure").severity,
        Severity::Error
    );
    let f = env(&[("GOFLAGS", "-mod=mod -insecureish=1"), ("GOPROXY", "off")]);
    assert!(settings(&f).iter().all(|x| x.check != "goflags-insecure"));
}

#[test]
fn goproxy_against_goward() {
    let with = |proxy: &str, url: Option<&str>| {
        let mut f = env(&[("GOPROXY", proxy)]);
        f.goward_url = url.map(str::to_owned);
        find(&settings(&f), "goproxy").clone()
    };
    assert_eq!(
        with("http://g:8080", Some("http://g:8080/")).severity,
        Severity::Ok
    );
    assert_eq!(
        with("http://g:8080/,off", Some("http://g:8080")).severity,
        Severity::Ok
    );
    let x = with("http://g:8080,direct", Some("http://g:8080"));
    assert_eq!(x.severity, Severity::Warning);
    assert!(
        x.summary.contains("falls back from goward to direct"),
        "{x:?}"
    );
    let x = with(
        "https://proxy.golang.org|http://g:8080",
        Some("http://g:8080"),
    );
    assert_eq!(x.severity, Severity::Warning);
    assert!(
        x.summary.contains("does not send requests to goward"),
        "{x:?}"
    );
    assert_eq!(
        with("https://proxy.golang.org,direct", None).severity,
        Severity::Warning
    );
    assert_eq!(with("https://corp-proxy", None).severity, Severity::Info);
}

#[test]
fn gotoolchain_notes() {
    let tc = |v: &str, proxy: &str, url: Option<&str>| {
        let mut f = env(&[("GOTOOLCHAIN", v), ("GOPROXY", proxy)]);
        f.goward_url = url.map(str::to_owned);
        find(&settings(&f), "gotoolchain").clone()
    };
    assert_eq!(tc("local", "off", None).severity, Severity::Info);
    assert!(tc("path", "off", None).fix.is_some());
    assert_eq!(
        tc("auto", "http://g", Some("http://g")).severity,
        Severity::Info
    );
    assert_eq!(
        tc(
            "go1.22.0+auto",
            "https://proxy.golang.org",
            Some("http://g")
        )
        .severity,
        Severity::Warning
    );
    assert!(tc("", "http://g", None).evidence[0].contains("auto (default)"));
}

#[test]
fn go_env_failure_is_reported() {
    let f = Facts {
        go_env_error: Some("go env -json: exit 1".into()),
        ..Facts::default()
    };
    assert_eq!(find(&settings(&f), "go-env").severity, Severity::Warning);
}

#[test]
fn goroot_verification_verdicts() {
    let x = goroot_verification(
        "/usr/local/go",
        Some(0),
        r#"{"verified":true,"version":"v0.0.1-go1.24.1.linux-amd64","h1":"h1:x"}"#,
    );
    assert_eq!(x.severity, Severity::Ok);
    assert!(
        x.evidence
            .iter()
            .any(|e| e.contains("v0.0.1-go1.24.1.linux-amd64"))
    );
    let x = goroot_verification(
        "/g",
        Some(1),
        r#"{"verified":false,"differences":{"changed":["bin/go"]}}"#,
    );
    assert_eq!(x.severity, Severity::Error);
    assert!(x.evidence.iter().any(|e| e.contains("bin/go")));
    let x = goroot_verification("/g", Some(2), r#"{"error":"offline: no lookup"}"#);
    assert_eq!(x.severity, Severity::Warning);
    assert!(x.evidence.iter().any(|e| e.contains("offline: no lookup")));
    assert_eq!(
        goroot_verification("/g", None, "garbage").severity,
        Severity::Warning
    );
}

#[test]
fn exit_codes_by_worst_finding() {
    let f = |s| Finding::new("x", s, "x");
    assert_eq!(exit_code(&[]), 0);
    assert_eq!(exit_code(&[f(Severity::Ok), f(Severity::Info)]), 0);
    assert_eq!(exit_code(&[f(Severity::Ok), f(Severity::Warning)]), 1);
    assert_eq!(exit_code(&[f(Severity::Error)]), 1);
    assert_eq!(
        worst(&[f(Severity::Info), f(Severity::Error), f(Severity::Warning)]),
        Severity::Error
    );
}

// ---- Windows: Defender, elevation, MSI (real-looking tool output through the fake host)

mod windows {
    use std::path::{Path, PathBuf};

    use super::super::checks::{self, *};
    use super::super::{apply_fixes, gather};
    use super::find;
    use crate::hostcheck::RunOutput;
    use crate::hostcheck::fake::{FakeHost, ok};
    use crate::hostcheck::win::*;

    const PS: &str = "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe";
    const REG: &str = "C:\\Windows\\System32\\reg.exe";
    const WHOAMI: &str = "C:\\Windows\\System32\\whoami.exe";

    fn ps_key(script: &str) -> String {
        format!(
            "{PS} -NoProfile -NonInteractive -Command [Console]::OutputEncoding = [System.Text.Encoding]::UTF8; {script}"
        )
    }

    fn out(code: i32, stdout: &str, stderr: &str) -> RunOutput {
        RunOutput {
            code: Some(code),
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    fn windows_host() -> FakeHost {
        let mut h = FakeHost {
            windows: true,
            ..FakeHost::default()
        };
        h.env.insert("SystemRoot".into(), "C:\\Windows".into());
        h.env.insert("ProgramData".into(), "C:\\ProgramData".into());
        h.env.insert("USERPROFILE".into(), "C:\\Users\\ann".into());
        h
    }

    fn env_of(h: &FakeHost) -> impl Fn(&str) -> Option<String> + '_ {
        |k| h.env.get(k).cloned()
    }

    const NOT_RECOGNIZED: &str = "Get-MpComputerStatus : The term 'Get-MpComputerStatus' is not recognized as the name of a cmdlet, function, script
file, or operable program. Check the spelling of the name, or if a path was included, verify that the path is correct
and try again.
At line:1 char:88
+ ... ncoding]::UTF8; 'realtime=' + (Get-MpComputerStatus).RealTimeProtectio ...
+                                    ~~~~~~~~~~~~~~~~~~~~
    + CategoryInfo          : ObjectNotFound: (Get-MpComputerStatus:String) [], CommandNotFoundException
    + FullyQualifiedErrorId : CommandNotFoundException

Get-MpPreference : The term 'Get-MpPreference' is not recognized as the name of a cmdlet, function, script file, or
operable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try
again.
    + CategoryInfo          : ObjectNotFound: (Get-MpPreference:String) [], CommandNotFoundException
    + FullyQualifiedErrorId : CommandNotFoundException
";

    const SERVICE_OFF: &str = "Get-MpComputerStatus : Operation failed with the following error: 0x800106ba. Possible reason: the Microsoft
Defender service is not running.
    + CategoryInfo          : NotSpecified: (MSFT_MpComputerStatus:ROOT\\Microsoft\\...MpComputerStatus) [Get-MpComputerStatus], CimException
    + FullyQualifiedErrorId : HRESULT 0x800106ba,Get-MpComputerStatus
";

    #[test]
    fn defender_output_parsing() {
        let h = windows_host();
        let env = env_of(&h);
        let d = parse_defender(
            &out(
                0,
                "realtime=True\r\nC:\\ProgramData\\goward\r\n%USERPROFILE%\\go\r\nD:\\build\\*\r\n",
                "",
            ),
            &env,
        );
        let Defender::Exclusions(x) = d else {
            panic!("{d:?}")
        };
        assert_eq!(
            x.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
            [
                "C:\\ProgramData\\goward",
                "C:\\Users\\ann\\go",
                "D:\\build\\*"
            ]
        );
        assert_eq!(x[1].raw, "%USERPROFILE%\\go");

        let d = parse_defender(
            &out(
                0,
                "realtime=True\r\nN/A: Must be an administrator to view exclusions\r\n",
                "",
            ),
            &env,
        );
        assert!(
            matches!(&d, Defender::Unknown(w) if w.contains("Must be an administrator") && w.contains("run elevated")),
            "{d:?}"
        );
        assert_eq!(
            parse_defender(&out(0, "realtime=False\r\nC:\\x\r\n", ""), &env),
            Defender::RealtimeOff
        );
        assert!(matches!(
            parse_defender(&out(1, "", NOT_RECOGNIZED), &env),
            Defender::NotApplicable(w) if w.contains("not installed")
        ));
        assert!(matches!(
            parse_defender(&out(1, "realtime=\r\n", SERVICE_OFF), &env),
            Defender::NotApplicable(w) if w.contains("not running")
        ));
        // Real-time protection on, nothing excluded.
        assert_eq!(
            parse_defender(&out(0, "realtime=True\r\n", ""), &env),
            Defender::Exclusions(vec![])
        );
        // A PowerShell that runs nothing (wine's stub): cannot tell.
        assert!(matches!(
            parse_defender(&out(0, "", ""), &env),
            Defender::Unknown(w) if w.contains("printed nothing")
        ));
        // Some other failure: cannot tell.
        assert!(matches!(
            parse_defender(&out(1, "", "Get-MpComputerStatus : Access denied\r\n"), &env),
            Defender::Unknown(w) if w.contains("Access denied")
        ));
    }

    #[test]
    fn env_expansion() {
        let h = windows_host();
        let env = env_of(&h);
        assert_eq!(
            expand_env("%ProgramData%\\goward", &env),
            "C:\\ProgramData\\goward"
        );
        assert_eq!(
            expand_env("%PROGRAMDATA%\\g", &env),
            "%PROGRAMDATA%\\g",
            "fake env is case-sensitive; Windows' is not"
        );
        assert_eq!(expand_env("%NOPE%\\x", &env), "%NOPE%\\x");
        assert_eq!(expand_env("100%", &env), "100%");
        assert_eq!(expand_env("a%%b", &env), "a%%b");
    }

    fn excl(paths: &[&str]) -> Vec<Exclusion> {
        paths
            .iter()
            .map(|p| Exclusion {
                raw: (*p).into(),
                path: (*p).into(),
            })
            .collect()
    }

    #[test]
    fn exclusion_matching_is_by_component_and_ignores_case() {
        let x = excl(&[
            "c:\\programdata\\GOWARD\\",
            "C:/Users/*/go",
            "D:\\build\\*",
            "E:\\",
        ]);
        let m = |d: &str| excluded_by(Path::new(d), &x).map(|e| e.raw.clone());
        assert_eq!(
            m("C:\\ProgramData\\goward\\cache").as_deref(),
            Some("c:\\programdata\\GOWARD\\")
        );
        assert_eq!(
            m("C:\\ProgramData\\goward").as_deref(),
            Some("c:\\programdata\\GOWARD\\")
        );
        assert_eq!(
            m("C:\\ProgramData\\gowardx"),
            None,
            "a prefix of a name is no match"
        );
        assert_eq!(m("C:\\ProgramData"), None, "the parent is not excluded");
        assert_eq!(
            m("C:\\Users\\ann\\go\\pkg\\mod").as_deref(),
            Some("C:/Users/*/go")
        );
        assert_eq!(m("C:\\Users\\ann\\sdk"), None);
        assert_eq!(m("D:\\build").as_deref(), Some("D:\\build\\*"));
        assert_eq!(m("\\\\?\\D:\\build\\x").as_deref(), Some("D:\\build\\*"));
        assert_eq!(m("E:\\anything").as_deref(), Some("E:\\"));
        assert!(within(
            "C:\\Program Files\\Go\\bin\\go.exe",
            "c:\\program files\\go\\"
        ));
        assert!(!within("C:\\Go\\bin\\go.exe", "C:\\Program Files\\Go\\"));
    }

    #[test]
    fn exclusion_command_quotes_for_powershell() {
        assert_eq!(
            exclusion_command(Path::new("C:\\ProgramData\\goward")),
            "Add-MpPreference -ExclusionPath 'C:\\ProgramData\\goward'"
        );
        assert_eq!(
            exclusion_command(Path::new("C:\\Users\\o'brien\\go")),
            "Add-MpPreference -ExclusionPath 'C:\\Users\\o''brien\\go'"
        );
    }

    const WHOAMI_ELEVATED: &str = "
GROUP INFORMATION
-----------------

Group Name                                                    Type             SID          Attributes
============================================================= ================ ============ ===============================================================
Everyone                                                      Well-known group S-1-1-0      Mandatory group, Enabled by default, Enabled group
BUILTIN\\Administrators                                        Alias            S-1-5-32-544 Mandatory group, Enabled by default, Enabled group, Group owner
NT AUTHORITY\\INTERACTIVE                                      Well-known group S-1-5-4      Mandatory group, Enabled by default, Enabled group
Mandatory Label\\High Mandatory Level                          Label            S-1-16-12288
";
    const WHOAMI_MEDIUM: &str = "
Group Name                                                    Type             SID          Attributes
============================================================= ================ ============ ===============================================================
BUILTIN\\Administrators                                        Alias            S-1-5-32-544 Group used for deny only
Mandatory Label\\Medium Mandatory Level                        Label            S-1-16-8192
";

    #[test]
    fn elevation_from_whoami_groups() {
        assert_eq!(parse_whoami_groups(WHOAMI_ELEVATED), Some(true));
        assert_eq!(parse_whoami_groups(WHOAMI_MEDIUM), Some(false));
        assert_eq!(
            parse_whoami_groups("Mandatory Label\\System Mandatory Level Label S-1-16-16384"),
            Some(true)
        );
        assert_eq!(parse_whoami_groups(""), None);
        let mut h = windows_host();
        h.runs
            .insert(format!("{WHOAMI} /groups"), ok(WHOAMI_MEDIUM));
        assert_eq!(elevated(&h), Some(false));
        assert_eq!(elevated(&FakeHost::default()), None, "not Windows");
    }

    fn scanned_host(exclusions: &str) -> FakeHost {
        let mut h = windows_host();
        h.runs.insert(
            ps_key(DEFENDER_SCRIPT),
            ok(&format!("realtime=True\r\n{exclusions}")),
        );
        for d in [
            "C:\\ProgramData\\goward\\cache",
            "C:\\Users\\ann\\go\\pkg\\mod",
        ] {
            h.dirs.insert(d.into());
        }
        h
    }

    fn gather_windows(h: &FakeHost) -> Facts {
        let mut f = gather(h, None, Some("C:\\ProgramData\\goward\\cache".into()));
        // No go on PATH in these hosts; GOMODCACHE comes from facts directly.
        f.dirs.insert(
            0,
            (
                "GOMODCACHE".into(),
                PathBuf::from("C:\\Users\\ann\\go\\pkg\\mod"),
                crate::hostcheck::Compression::Uncompressed,
            ),
        );
        f
    }

    #[test]
    fn defender_findings_per_directory() {
        let h = scanned_host("%ProgramData%\\goward\r\n");
        let f = gather_windows(&h);
        let v = checks::defender(&f);
        assert_eq!(v.len(), 1, "{v:#?}");
        assert_eq!(v[0].severity, Severity::Warning);
        assert!(v[0].summary.starts_with("GOMODCACHE is scanned"), "{v:?}");
        let fix = v[0].fix.as_deref().unwrap();
        assert!(
            fix.contains("Add-MpPreference -ExclusionPath 'C:\\Users\\ann\\go\\pkg\\mod'"),
            "{fix}"
        );
        assert!(fix.contains("go mod verify"), "{fix}");

        let h = scanned_host("C:\\ProgramData\\goward\r\nC:\\Users\\*\\go\r\n");
        let v = checks::defender(&gather_windows(&h));
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].severity, Severity::Ok);
        assert!(
            v[0].evidence
                .iter()
                .any(|e| e.contains("excluded by C:\\ProgramData\\goward")),
            "{v:?}"
        );

        let h = scanned_host("");
        let v = checks::defender(&gather_windows(&h));
        let g = v
            .iter()
            .find(|x| x.summary.starts_with("goward cache"))
            .unwrap();
        assert!(
            g.fix
                .as_deref()
                .unwrap()
                .contains("goward re-checks every blob's digest"),
            "{g:?}"
        );

        let mut h = windows_host();
        h.runs.insert(
            ps_key(DEFENDER_SCRIPT),
            ok("realtime=True\r\nN/A: Must be an administrator to view exclusions\r\n"),
        );
        h.dirs.insert("C:\\ProgramData\\goward\\cache".into());
        let v = checks::defender(&gather(
            &h,
            None,
            Some("C:\\ProgramData\\goward\\cache".into()),
        ));
        assert_eq!(v[0].severity, Severity::Info);
        assert!(v[0].fix.as_deref().unwrap().contains("elevated"), "{v:?}");
        assert!(
            v[0].fix
                .as_deref()
                .unwrap()
                .contains("Add-MpPreference -ExclusionPath 'C:\\ProgramData\\goward\\cache'"),
            "{v:?}"
        );
    }

    #[test]
    fn not_windows_is_not_applicable_and_runs_nothing() {
        let h = FakeHost::default();
        let f = gather(&h, None, None);
        assert!(
            h.ran
                .borrow()
                .iter()
                .all(|r| !r.contains("powershell") && !r.contains("reg.exe"))
        );
        let d = find(&checks::defender(&f), "defender-exclusion").clone();
        assert_eq!(d.severity, Severity::Ok);
        assert!(d.summary.contains("not applicable"), "{d:?}");
        let m = find(&msi(&f), "go-msi").clone();
        assert_eq!(m.severity, Severity::Ok);
        assert!(m.summary.contains("not applicable"), "{m:?}");
        let mut all = all(&f);
        apply_fixes(&h, &mut all);
        assert!(h.ran.borrow().is_empty());
    }

    /// The Defender findings for `f` after `--fix` on `h`.
    fn fix_defender(h: &FakeHost, f: &Facts) -> Vec<Finding> {
        let mut v = checks::defender(f);
        apply_fixes(h, &mut v);
        v
    }

    fn has_evidence(v: &[Finding], needle: &str) -> bool {
        v[0].evidence.iter().any(|e| e.contains(needle))
    }

    #[test]
    fn fix_adds_exclusions_only_when_elevated_and_checks_them() {
        let dir = "C:\\ProgramData\\goward\\cache";
        let add = ps_key(&format!("Add-MpPreference -ExclusionPath '{dir}'"));
        let whoami = format!("{WHOAMI} /groups");

        // Not elevated: nothing is run, the finding says to re-run elevated.
        let mut h = scanned_host("");
        h.dirs.remove(Path::new("C:\\Users\\ann\\go\\pkg\\mod"));
        h.runs.insert(whoami.clone(), ok(WHOAMI_MEDIUM));
        let f = gather(&h, None, Some(dir.into()));
        let v = fix_defender(&h, &f);
        assert!(v[0].fixed.is_none());
        assert!(
            has_evidence(&v, "re-run goward doctor --fix from an elevated prompt"),
            "{v:?}"
        );
        assert!(!h.ran.borrow().contains(&add));

        // Elevated: added, read back, fixed.
        h.runs.insert(whoami, ok(WHOAMI_ELEVATED));
        h.runs.insert(add.clone(), ok(""));
        h.queued.borrow_mut().insert(
            ps_key(DEFENDER_SCRIPT),
            vec![ok(&format!("realtime=True\r\n{dir}\r\n"))],
        );
        let v = fix_defender(&h, &f);
        assert!(h.ran.borrow().contains(&add));
        assert_eq!(
            v[0].fixed.as_deref(),
            Some(
                "excluded from Defender scanning: Add-MpPreference -ExclusionPath 'C:\\ProgramData\\goward\\cache'"
            )
        );
        assert_eq!(exit_code(&v), 0);

        // Elevated, but Defender refuses (tamper protection, group policy).
        let refused = "Add-MpPreference : Operation failed with the following error: 0x%1!x!\r\n";
        h.runs.insert(add.clone(), out(1, "", refused));
        let v = fix_defender(&h, &f);
        assert!(v[0].fixed.is_none());
        assert!(
            has_evidence(&v, "--fix failed: Add-MpPreference : Operation failed"),
            "{v:?}"
        );

        // Added, but not listed afterwards: not counted as fixed.
        h.runs.insert(add, ok(""));
        let v = fix_defender(&h, &f);
        assert!(v[0].fixed.is_none());
        assert!(has_evidence(&v, "does not list the exclusion"), "{v:?}");
    }

    const REG_SEARCH: &str = "
HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{B5D9E7E2-2A2C-4C0C-9D29-6B7F0F0A1E3D}
    DisplayName    REG_SZ    Go Programming Language amd64 go1.22.1

End of search: 1 match(es) found.
";
    const REG_KEY: &str = "
HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{B5D9E7E2-2A2C-4C0C-9D29-6B7F0F0A1E3D}
    AuthorizedCDFPrefix    REG_SZ
    Comments    REG_SZ
    DisplayVersion    REG_SZ    1.22.1
    HelpLink    REG_SZ    https://go.dev
    InstallDate    REG_SZ    20240312
    InstallLocation    REG_SZ    C:\\Program Files\\Go\\
    InstallSource    REG_SZ    C:\\Users\\ann\\Downloads\\
    ModifyPath    REG_EXPAND_SZ    MsiExec.exe /X{B5D9E7E2-2A2C-4C0C-9D29-6B7F0F0A1E3D}
    Publisher    REG_SZ    https://go.dev
    EstimatedSize    REG_DWORD    0x3a5b2
    DisplayName    REG_SZ    Go Programming Language amd64 go1.22.1
";
    const KEY: &str = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall\\{B5D9E7E2-2A2C-4C0C-9D29-6B7F0F0A1E3D}";

    #[test]
    fn reg_output_parsing() {
        assert_eq!(
            parse_reg_search(REG_SEARCH),
            vec![(
                KEY.to_owned(),
                "Go Programming Language amd64 go1.22.1".to_owned()
            )]
        );
        assert!(parse_reg_search("\nEnd of search: 0 match(es) found.\n").is_empty());
        // A match in another value, or another product naming Go, is not Go's MSI.
        assert!(
            parse_reg_search(
                "HKEY_LOCAL_MACHINE\\X\\{1}\n    Comments    REG_SZ    Go Programming Language tools\nHKEY_LOCAL_MACHINE\\X\\{2}\n    DisplayName    REG_SZ    Tutorial for the Go Programming Language\n"
            )
            .is_empty()
        );
        let vals = parse_reg_values(REG_KEY);
        let get = |k: &str| vals.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("DisplayVersion"), Some("1.22.1"));
        assert_eq!(get("InstallLocation"), Some("C:\\Program Files\\Go\\"));
        assert_eq!(get("Comments"), Some(""));
        assert_eq!(get("EstimatedSize"), Some("0x3a5b2"));
        assert_eq!(
            reg_search_args(UNINSTALL_ROOTS[1]).join(" "),
            "query HKLM\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall /s /f Go Programming Language /d"
        );
    }

    fn msi_host() -> FakeHost {
        let mut h = windows_host();
        h.runs.insert(
            format!("{REG} {}", reg_search_args(UNINSTALL_ROOTS[0]).join(" ")),
            ok(REG_SEARCH),
        );
        h.runs.insert(
            format!("{REG} {}", reg_search_args(UNINSTALL_ROOTS[1]).join(" ")),
            out(
                1,
                "",
                "ERROR: The system was unable to find the specified registry key or value.\r\n",
            ),
        );
        h.runs.insert(format!("{REG} query {KEY}"), ok(REG_KEY));
        h
    }

    #[test]
    fn msi_installs_are_found_in_both_registry_views() {
        let h = msi_host();
        let m = msi_go(&h);
        let Msi::Found(v) = &m else { panic!("{m:?}") };
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].version.as_deref(), Some("1.22.1"));
        assert_eq!(v[0].location.as_deref(), Some("C:\\Program Files\\Go\\"));
        assert_eq!(
            v[0].product_code(),
            Some("{B5D9E7E2-2A2C-4C0C-9D29-6B7F0F0A1E3D}")
        );
        assert!(
            h.ran.borrow().iter().any(|r| r.contains("WOW6432Node")),
            "the 32-bit view is searched too"
        );
    }

    #[test]
    fn msi_findings() {
        let h = msi_host();
        let mut f = gather(&h, None, None);
        f.gos = vec![super::go(
            "C:\\Program Files\\Go\\bin\\go.exe",
            "go version go1.22.1 windows/amd64",
            "C:\\Program Files\\Go",
        )];
        let x = find(&msi(&f), "go-msi").clone();
        assert_eq!(x.severity, Severity::Info, "{x:?}");
        assert!(
            x.evidence[0].contains("version 1.22.1, in C:\\Program Files\\Go\\"),
            "{x:?}"
        );
        assert!(
            x.fix
                .as_deref()
                .unwrap()
                .contains("msiexec /x {B5D9E7E2-2A2C-4C0C-9D29-6B7F0F0A1E3D}"),
            "{x:?}"
        );
        assert!(
            x.evidence.iter().any(|e| e.contains("GOTOOLCHAIN")),
            "{x:?}"
        );

        // A ZIP install beside the MSI one: they fight.
        f.gos.insert(
            0,
            super::go(
                "C:\\Go\\bin\\go.exe",
                "go version go1.23.0 windows/amd64",
                "C:\\Go",
            ),
        );
        let x = find(&msi(&f), "go-msi").clone();
        assert_eq!(x.severity, Severity::Warning);
        assert!(
            x.evidence
                .iter()
                .any(|e| e == "C:\\Go\\bin\\go.exe is not inside an MSI installation"),
            "{x:?}"
        );

        f.msi = Msi::Found(vec![]);
        assert_eq!(find(&msi(&f), "go-msi").severity, Severity::Ok);
        f.msi = Msi::Unknown("running reg.exe: not found".into());
        assert_eq!(find(&msi(&f), "go-msi").severity, Severity::Info);
    }

    #[test]
    fn serve_start_warns_only_when_the_cache_is_scanned() {
        use crate::hostcheck::cache_defender_warning;
        let cache = Path::new("C:\\ProgramData\\goward\\cache");
        let (warn, msg) = cache_defender_warning(&scanned_host("D:\\other\r\n"), cache).unwrap();
        assert!(warn);
        assert!(
            msg.contains("Add-MpPreference -ExclusionPath '")
                && msg.contains("goward cache verify"),
            "{msg}"
        );
        assert_eq!(
            cache_defender_warning(&scanned_host("%ProgramData%\\goward\r\n"), cache),
            None
        );
        let mut h = windows_host();
        h.runs.insert(
            ps_key(DEFENDER_SCRIPT),
            ok("realtime=True\r\nN/A: Must be an administrator to view exclusions\r\n"),
        );
        assert!(matches!(
            cache_defender_warning(&h, cache),
            Some((false, _))
        ));
        assert_eq!(cache_defender_warning(&FakeHost::default(), cache), None);
    }
}
