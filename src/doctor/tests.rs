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
