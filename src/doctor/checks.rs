//! The doctor's decisions: pure functions from gathered [`Facts`] to
//! [`Finding`]s, unit-tested with fake facts.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use crate::hostcheck::win::{self, Defender, Msi};
use crate::hostcheck::{Compression, uncompress_command};

/// How bad a finding is. Ordered: the worst decides the exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    /// Checked, nothing to do.
    Ok,
    /// Worth knowing; nothing weakens verification.
    Info,
    /// Weakens verification or invites random failures.
    Warning,
    /// Verification is off or the host is inconsistent.
    Error,
}

/// One diagnosis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub(crate) struct Finding {
    /// Stable check name, e.g. `go-on-path`.
    pub check: &'static str,
    /// How bad.
    pub severity: Severity,
    /// One line.
    pub summary: String,
    /// What was seen.
    pub evidence: Vec<String>,
    /// What to do about it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// What `--fix` did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    /// The directory a compression or Defender finding is about (for `--fix`).
    #[serde(skip)]
    pub dir: Option<PathBuf>,
}

impl Finding {
    pub(crate) fn new(
        check: &'static str,
        severity: Severity,
        summary: impl Into<String>,
    ) -> Finding {
        Finding {
            check,
            severity,
            summary: summary.into(),
            evidence: Vec::new(),
            fix: None,
            fixed: None,
            dir: None,
        }
    }
    pub(crate) fn evidence(mut self, e: impl Into<String>) -> Finding {
        self.evidence.push(e.into());
        self
    }
    pub(crate) fn fix(mut self, f: impl Into<String>) -> Finding {
        self.fix = Some(f.into());
        self
    }
}

/// One distinct `go` on `PATH`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub(crate) struct GoInstall {
    /// As found on `PATH`.
    pub path: PathBuf,
    /// Symlinks resolved.
    pub canonical: PathBuf,
    /// `go version` output.
    pub version: Option<String>,
    /// `go env GOROOT` output.
    pub goroot: Option<String>,
}

/// Everything the checks look at.
#[derive(Clone, Debug, Default)]
pub(crate) struct Facts {
    /// Distinct `go` binaries, in `PATH` order (the first wins).
    pub gos: Vec<GoInstall>,
    /// `GOROOT` from the environment.
    pub goroot_env: Option<String>,
    /// The user's home directory (`HOME` / `USERPROFILE`).
    pub home: Option<String>,
    /// `go env -json` of the winning `go` (empty if it could not run).
    pub go_env: BTreeMap<String, String>,
    /// Why `go env -json` is missing.
    pub go_env_error: Option<String>,
    /// Plain environment variables the go command no longer reads but that
    /// show intent (`GONOSUMCHECK`).
    pub legacy_env: BTreeMap<String, String>,
    /// Directories checked for compression: (label, dir, state).
    pub dirs: Vec<(String, PathBuf, Compression)>,
    /// goward's URL, if given (`--goward-url`).
    pub goward_url: Option<String>,
    /// Microsoft Defender's real-time state and exclusions.
    pub defender: Defender,
    /// MSI installs of Go.
    pub msi: Msi,
}

/// Runs every check.
pub(crate) fn all(f: &Facts) -> Vec<Finding> {
    let mut v = Vec::new();
    v.extend(go_binaries(f));
    v.extend(goroot(f));
    v.extend(compression(f));
    v.extend(defender(f));
    v.extend(msi(f));
    v.extend(settings(f));
    v
}

/// Several `go` binaries on `PATH`, or none.
pub(crate) fn go_binaries(f: &Facts) -> Vec<Finding> {
    let describe = |g: &GoInstall| {
        let link = if g.canonical != g.path {
            format!(" -> {}", g.canonical.display())
        } else {
            String::new()
        };
        format!(
            "{}{link}: {}; GOROOT {}",
            g.path.display(),
            g.version.as_deref().unwrap_or("`go version` failed"),
            g.goroot.as_deref().unwrap_or("unknown")
        )
    };
    match f.gos.as_slice() {
        [] => vec![
            Finding::new("go-on-path", Severity::Warning, "no go command on PATH")
                .fix("install Go from a verified archive (goward verify-toolchain) and put its bin directory on PATH"),
        ],
        [one] => vec![Finding::new("go-on-path", Severity::Ok, "one go command on PATH").evidence(describe(one))],
        [first, ..] => {
            let mut x = Finding::new(
                "go-on-path",
                Severity::Warning,
                format!(
                    "{} different go commands on PATH; {} wins",
                    f.gos.len(),
                    first.path.display()
                ),
            )
            .fix("keep one Go installation on PATH (remove the others, or the directories that hold them, from PATH)");
            for g in &f.gos {
                x = x.evidence(describe(g));
            }
            vec![x]
        }
    }
}

/// Whether `p` lies in a user's home or profile directory.
pub(crate) fn in_user_home(p: &str, home: Option<&str>) -> bool {
    let norm = p.replace('\\', "/");
    if let Some(h) = home.map(|h| h.replace('\\', "/")).filter(|h| h.len() > 1) {
        let h = h.trim_end_matches('/');
        if norm == h || norm.starts_with(&format!("{h}/")) {
            return true;
        }
    }
    let lower = norm.to_ascii_lowercase();
    lower.starts_with("/home/") || lower.starts_with("/users/") || lower.contains(":/users/")
}

/// GOROOT set by hand, in a home directory, or disagreeing with `go env GOROOT`.
pub(crate) fn goroot(f: &Facts) -> Vec<Finding> {
    let mut v = Vec::new();
    let go_env_root = f
        .go_env
        .get("GOROOT")
        .cloned()
        .or_else(|| f.gos.first().and_then(|g| g.goroot.clone()));
    if let Some(env) = &f.goroot_env {
        v.push(
            Finding::new("goroot-set", Severity::Warning, "GOROOT is set by hand")
                .evidence(format!("GOROOT={env}"))
                .fix("unset GOROOT: each go command knows its own root, and a stale GOROOT mixes one release's tools with another's library"),
        );
        if let Some(r) = &go_env_root
            && r.trim_end_matches(['/', '\\']) != env.trim_end_matches(['/', '\\'])
        {
            v.push(
                Finding::new(
                    "goroot-mismatch",
                    Severity::Error,
                    "GOROOT disagrees with `go env GOROOT`",
                )
                .evidence(format!("environment GOROOT={env}"))
                .evidence(format!("go env GOROOT={r}"))
                .fix("unset GOROOT, or point PATH at the go command of that tree"),
            );
        }
    }
    if let Some(r) = go_env_root.as_ref().or(f.goroot_env.as_ref())
        && in_user_home(r, f.home.as_deref())
    {
        v.push(
            Finding::new("goroot-in-home", Severity::Warning, "the Go installation lives in a user's home directory")
                .evidence(format!("GOROOT={r}"))
                .fix("install Go system-wide (e.g. /usr/local/go, or C:\\Program Files\\Go), writable only by administrators; services cannot rely on a user profile"),
        );
    }
    if v.is_empty()
        && let Some(r) = go_env_root
    {
        v.push(
            Finding::new("goroot", Severity::Ok, "GOROOT is consistent")
                .evidence(format!("go env GOROOT={r}")),
        );
    }
    v
}

/// Go's and goward's directories on a compressed filesystem directory.
pub(crate) fn compression(f: &Facts) -> Vec<Finding> {
    let mut v = Vec::new();
    let mut checked = Vec::new();
    for (label, dir, state) in &f.dirs {
        match state {
            Compression::Compressed => {
                let mut x = Finding::new(
                    "compressed-dir",
                    Severity::Warning,
                    format!("{label} is on a compressed directory"),
                )
                .evidence(format!("{label}={} has the filesystem compression flag", dir.display()))
                .fix(format!(
                    "{} (goward doctor --fix clears the flag on the directory so new files are stored uncompressed)",
                    uncompress_command(dir)
                ));
                x.dir = Some(dir.clone());
                v.push(x);
            }
            Compression::Unknown(why) => v.push(
                Finding::new(
                    "compressed-dir",
                    Severity::Info,
                    format!("cannot tell whether {label} is compressed"),
                )
                .evidence(format!("{label}={}: {why}", dir.display())),
            ),
            Compression::Uncompressed => checked.push(format!("{label}={}", dir.display())),
            Compression::NotApplicable(why) => {
                checked.push(format!("{label}={} (not applicable: {why})", dir.display()));
            }
        }
    }
    if v.is_empty() && !checked.is_empty() {
        let mut x = Finding::new(
            "compressed-dir",
            Severity::Ok,
            "no compressed cache directory",
        );
        x.evidence = checked;
        v.push(x);
    }
    v
}

/// Why excluding `label`'s directory from scanning is safe.
fn exclusion_safe_because(label: &str) -> &'static str {
    if label == "goward cache" {
        "goward re-checks every blob's digest before serving it, and goward cache verify re-checks the whole cache"
    } else {
        "the go command checks modules against go.sum when it downloads them, and go mod verify re-checks the module cache"
    }
}

/// Go's and goward's directories scanned by Microsoft Defender on every
/// access (locked files, timeouts).
pub(crate) fn defender(f: &Facts) -> Vec<Finding> {
    let exclusions = match &f.defender {
        Defender::NotApplicable(why) => {
            return vec![Finding::new(
                "defender-exclusion",
                Severity::Ok,
                format!("Defender exclusions not applicable: {why}"),
            )];
        }
        Defender::RealtimeOff => {
            return vec![Finding::new(
                "defender-exclusion",
                Severity::Ok,
                "Microsoft Defender real-time protection is off: nothing is scanned on access",
            )];
        }
        Defender::Unknown(why) => {
            let mut x = Finding::new(
                "defender-exclusion",
                Severity::Info,
                "cannot tell whether Microsoft Defender scans Go's and goward's directories",
            )
            .evidence(why.clone());
            let cmds: Vec<String> = f
                .dirs
                .iter()
                .map(|(_, d, _)| win::exclusion_command(d))
                .collect();
            x.fix = Some(if cmds.is_empty() {
                "run goward doctor from an elevated prompt".to_owned()
            } else {
                format!(
                    "run goward doctor from an elevated prompt; to exclude them: {}",
                    cmds.join("; ")
                )
            });
            return vec![x];
        }
        Defender::Exclusions(x) => x,
    };
    let mut v = Vec::new();
    let mut checked = Vec::new();
    for (label, dir, _) in &f.dirs {
        match win::excluded_by(dir, exclusions) {
            Some(x) => checked.push(format!("{label}={} (excluded by {})", dir.display(), x.raw)),
            None => {
                let mut x = Finding::new(
                    "defender-exclusion",
                    Severity::Warning,
                    format!("{label} is scanned by Microsoft Defender on every access"),
                )
                .evidence(format!(
                    "{label}={} is under none of Defender's {} excluded paths",
                    dir.display(),
                    exclusions.len()
                ))
                .fix(format!(
                    "from an elevated PowerShell: {} (goward doctor --fix applies it when run elevated); safe because {}",
                    win::exclusion_command(dir),
                    exclusion_safe_because(label)
                ));
                x.dir = Some(dir.clone());
                v.push(x);
            }
        }
    }
    if v.is_empty() && !checked.is_empty() {
        let mut x = Finding::new(
            "defender-exclusion",
            Severity::Ok,
            "Go's and goward's directories are excluded from Defender scanning",
        );
        x.evidence = checked;
        v.push(x);
    }
    v
}

/// Go installed by MSI: upgrades and repairs by Windows Installer fight a
/// ZIP install beside it and rewrite the tree under the user's feet.
pub(crate) fn msi(f: &Facts) -> Vec<Finding> {
    let found = match &f.msi {
        Msi::NotApplicable(why) => {
            return vec![Finding::new(
                "go-msi",
                Severity::Ok,
                format!("MSI check not applicable: {why}"),
            )];
        }
        Msi::Unknown(why) => {
            return vec![
                Finding::new(
                    "go-msi",
                    Severity::Info,
                    "could not read the uninstall registry",
                )
                .evidence(why.clone()),
            ];
        }
        Msi::Found(v) if v.is_empty() => {
            return vec![Finding::new(
                "go-msi",
                Severity::Ok,
                "Go was not installed by MSI",
            )];
        }
        Msi::Found(v) => v,
    };
    let outside: Vec<&GoInstall> = f
        .gos
        .iter()
        .filter(|g| {
            let p = g.canonical.to_string_lossy();
            !found
                .iter()
                .any(|m| m.location.as_deref().is_some_and(|l| win::within(&p, l)))
        })
        .collect();
    let any_location = found.iter().any(|m| m.location.is_some());
    let mixed = found.len() > 1 || (any_location && !outside.is_empty());
    let (sev, summary) = if mixed {
        (
            Severity::Warning,
            "Go is installed by MSI and also otherwise: MSI upgrades and repairs fight the other installation",
        )
    } else {
        (
            Severity::Info,
            "Go is installed by MSI: Windows Installer upgrades it, not a verified archive",
        )
    };
    let mut x = Finding::new("go-msi", sev, summary);
    for m in found {
        x = x.evidence(format!(
            "{}: {}{}{}",
            m.key,
            m.name,
            m.version
                .as_deref()
                .map(|v| format!(", version {v}"))
                .unwrap_or_default(),
            m.location
                .as_deref()
                .map(|l| format!(", in {l}"))
                .unwrap_or_default()
        ));
    }
    for g in outside.iter().filter(|_| any_location) {
        x = x.evidence(format!(
            "{} is not inside an MSI installation",
            g.path.display()
        ));
    }
    x = x.evidence(
        "an MSI-managed tree is rewritten by MSI upgrades and repairs (undoing a ZIP unpacked over it), and GOTOOLCHAIN switches leave the MSI's own toolchain as the base",
    );
    let uninstall = found
        .iter()
        .filter_map(|m| m.product_code())
        .map(|c| format!("msiexec /x {c}"))
        .collect::<Vec<_>>();
    vec![x.fix(format!(
        "uninstall it ({}) and install Go from a ZIP proven with goward verify-toolchain; if the MSI stays, check its tree with goward doctor --verify-goroot",
        if uninstall.is_empty() {
            "Settings > Apps".to_owned()
        } else {
            uninstall.join(", ")
        }
    ))]
}

/// Code hosts that hold most public modules: a pattern naming one of them
/// with no path below it is broad.
const CODE_HOSTS: &[&str] = &[
    "github.com",
    "gitlab.com",
    "bitbucket.org",
    "golang.org",
    "google.golang.org",
    "go.googlesource.com",
    "gopkg.in",
    "k8s.io",
    "sigs.k8s.io",
    "go.uber.org",
    "cloud.google.com",
];

/// The patterns of a `GOPRIVATE`-style comma-separated glob list that match
/// much of the public ecosystem: `*`, a bare top-level domain (`com`,
/// `*.com`), or a whole public code host (`github.com`).
pub(crate) fn broad_patterns(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let first = p.split('/').next().unwrap_or("");
            let has_path = p
                .split('/')
                .nth(1)
                .is_some_and(|s| !s.is_empty() && s != "*");
            let mut host = first;
            while let Some(rest) = host.strip_prefix("*.") {
                host = rest;
            }
            !host.contains('.')
                || (host.contains('*') && !has_path)
                || (CODE_HOSTS.contains(&host) && !has_path)
        })
        .map(str::to_owned)
        .collect()
}

/// The entries of a `GOPROXY` list.
pub(crate) fn proxy_entries(v: &str) -> Vec<String> {
    v.split([',', '|'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| e.trim_end_matches('/').to_owned())
        .collect()
}

/// Whether `GOPROXY` sends everything to goward and nowhere else.
/// `None`: no goward URL given, cannot tell.
pub(crate) fn proxy_is_goward_only(f: &Facts) -> Option<bool> {
    let url = f.goward_url.as_deref()?.trim_end_matches('/');
    let entries = proxy_entries(f.go_env.get("GOPROXY").map_or("", String::as_str));
    Some(
        entries.first().is_some_and(|e| e == url) && entries.iter().all(|e| e == url || e == "off"),
    )
}

fn get<'a>(f: &'a Facts, k: &str) -> &'a str {
    f.go_env.get(k).map_or("", String::as_str).trim()
}

/// Settings from `go env -json` that weaken verification.
pub(crate) fn settings(f: &Facts) -> Vec<Finding> {
    let mut v = Vec::new();
    if let Some(e) = &f.go_env_error {
        v.push(
            Finding::new("go-env", Severity::Warning, "could not read `go env -json`")
                .evidence(e.clone()),
        );
    }
    if f.go_env.is_empty() {
        return v;
    }
    let goward_only = proxy_is_goward_only(f);

    // GOSUMDB
    let sumdb = get(f, "GOSUMDB");
    if sumdb == "off" {
        let sev = if goward_only == Some(true) {
            Severity::Warning
        } else {
            Severity::Error
        };
        v.push(
            Finding::new("gosumdb-off", sev, "GOSUMDB=off: the go command checks nothing against the checksum database")
                .evidence("GOSUMDB=off")
                .evidence(match goward_only {
                    Some(true) => "GOPROXY sends everything to goward, which proves every module itself".to_owned(),
                    _ => "modules from any source other than goward are not verified at all".to_owned(),
                })
                .fix("go env -u GOSUMDB (and unset it in the environment); goward proxies the checksum database, so it works offline too"),
        );
    } else {
        v.push(
            Finding::new("gosumdb", Severity::Ok, "checksum database on").evidence(format!(
                "GOSUMDB={}",
                if sumdb.is_empty() {
                    "sum.golang.org (default)"
                } else {
                    sumdb
                }
            )),
        );
    }

    // GONOSUMDB / GOPRIVATE / GONOPROXY / GOINSECURE
    for (key, what, broad_sev) in [
        (
            "GONOSUMDB",
            "are not checked against the checksum database",
            Severity::Error,
        ),
        (
            "GOPRIVATE",
            "are not checked against the checksum database and bypass GOPROXY",
            Severity::Error,
        ),
        (
            "GONOPROXY",
            "bypass GOPROXY (fetched directly from version control)",
            Severity::Warning,
        ),
        (
            "GOINSECURE",
            "may be fetched over plain HTTP without certificate checks",
            Severity::Error,
        ),
    ] {
        let val = get(f, key);
        if val.is_empty() {
            continue;
        }
        let broad = broad_patterns(val);
        let (sev, summary) = if !broad.is_empty() {
            (
                broad_sev,
                format!("{key} is broad: much of the public ecosystem's modules {what}"),
            )
        } else if key == "GOINSECURE" {
            (
                Severity::Warning,
                format!("GOINSECURE is set: matching modules {what}"),
            )
        } else {
            (
                Severity::Info,
                format!("{key} is set: matching modules {what}"),
            )
        };
        let mut x = Finding::new("private-patterns", sev, summary).evidence(format!("{key}={val}"));
        if !broad.is_empty() {
            x = x
                .evidence(format!("broad patterns: {}", broad.join(", ")))
                .fix(format!(
                    "narrow {key} to your own module prefixes, e.g. corp.example.com/*"
                ));
        }
        v.push(x);
    }
    if let Some(val) = f.legacy_env.get("GONOSUMCHECK") {
        v.push(
            Finding::new(
                "gonosumcheck",
                Severity::Warning,
                "GONOSUMCHECK is set: someone meant to skip checksum checks",
            )
            .evidence(format!("GONOSUMCHECK={val}"))
            .fix("unset GONOSUMCHECK"),
        );
    }

    // GOFLAGS
    let goflags = get(f, "GOFLAGS");
    if goflags
        .split_whitespace()
        .any(|t| t == "-insecure" || t == "--insecure" || t.starts_with("-insecure="))
    {
        v.push(
            Finding::new(
                "goflags-insecure",
                Severity::Error,
                "GOFLAGS contains -insecure",
            )
            .evidence(format!("GOFLAGS={goflags}"))
            .fix("remove -insecure from GOFLAGS (go env -w GOFLAGS=… or the environment)"),
        );
    }

    // GOPROXY
    let proxy = get(f, "GOPROXY");
    let entries = proxy_entries(proxy);
    let url = f
        .goward_url
        .as_deref()
        .map(|u| u.trim_end_matches('/').to_owned());
    match (&url, goward_only) {
        (Some(u), Some(false)) => {
            let uses = entries.first() == Some(u);
            let others: Vec<&String> = entries.iter().filter(|e| *e != u && *e != "off").collect();
            let summary = if uses {
                format!(
                    "GOPROXY falls back from goward to {}",
                    others
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                "GOPROXY does not send requests to goward first".to_owned()
            };
            v.push(
                Finding::new("goproxy", Severity::Warning, summary)
                    .evidence(format!("GOPROXY={proxy}"))
                    .evidence(format!("goward: {u}"))
                    .fix(format!("go env -w GOPROXY={u}")),
            );
        }
        (Some(u), _) => v.push(
            Finding::new("goproxy", Severity::Ok, "GOPROXY uses goward only")
                .evidence(format!("GOPROXY={proxy} (goward: {u})")),
        ),
        (None, _) => {
            if entries.iter().any(|e| e == "direct") {
                v.push(
                    Finding::new(
                        "goproxy",
                        Severity::Warning,
                        "GOPROXY falls back to direct version-control fetches, around any proxy",
                    )
                    .evidence(format!("GOPROXY={proxy}"))
                    .fix("go env -w GOPROXY=<goward URL> (check with --goward-url URL)"),
                );
            } else {
                v.push(
                    Finding::new(
                        "goproxy",
                        Severity::Info,
                        "GOPROXY set; give --goward-url to check that it uses goward",
                    )
                    .evidence(format!("GOPROXY={proxy}")),
                );
            }
        }
    }

    // GOTOOLCHAIN
    let tc = get(f, "GOTOOLCHAIN");
    let tc_shown = if tc.is_empty() { "auto (default)" } else { tc };
    let (sev, summary, fix) = if tc == "local" {
        (
            Severity::Info,
            "GOTOOLCHAIN=local: the installed toolchain is always used".to_owned(),
            None,
        )
    } else if tc == "path" || tc.ends_with("+path") {
        (
            Severity::Info,
            "GOTOOLCHAIN uses go binaries found on PATH, which nothing verifies".to_owned(),
            Some(
                "goward doctor --verify-goroot, or goward verify-toolchain --goroot DIR for each"
                    .to_owned(),
            ),
        )
    } else if goward_only == Some(false) {
        (
            Severity::Warning,
            "GOTOOLCHAIN may download toolchains, and GOPROXY does not send them through goward"
                .to_owned(),
            Some(
                "set GOPROXY to goward so toolchains are proven before use, or GOTOOLCHAIN=local"
                    .to_owned(),
            ),
        )
    } else {
        (
            Severity::Info,
            "the go command may switch to a toolchain a go.mod asks for, downloaded as a golang.org/toolchain module through GOPROXY (goward proves it)".to_owned(),
            None,
        )
    };
    let mut x =
        Finding::new("gotoolchain", sev, summary).evidence(format!("GOTOOLCHAIN={tc_shown}"));
    x.fix = fix;
    v.push(x);
    v
}

/// The doctor's verdict on `goward verify-toolchain --goroot DIR --json`.
pub(crate) fn goroot_verification(dir: &str, code: Option<i32>, json: &str) -> Finding {
    let doc: serde_json::Value = serde_json::from_str(json).unwrap_or(serde_json::Value::Null);
    let s = |k: &str| doc.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let mut evidence = vec![format!("GOROOT={dir}")];
    if let Some(v) = s("version") {
        evidence.push(format!("golang.org/toolchain@{v}"));
    }
    if let Some(h) = s("h1") {
        evidence.push(format!("tree h1 {h}"));
    }
    if let Some(d) = doc.get("differences").filter(|d| !d.is_null()) {
        evidence.push(format!("differences: {d}"));
    }
    if let Some(e) = s("error") {
        evidence.push(e);
    }
    let (sev, summary, fix) = match code {
        Some(0) => (
            Severity::Ok,
            "the Go installation is an official release, proven against the checksum database",
            None,
        ),
        Some(1) => (
            Severity::Error,
            "the Go installation differs from the official release",
            Some("reinstall Go from an archive proven with goward verify-toolchain"),
        ),
        _ => (
            Severity::Warning,
            "could not prove the Go installation",
            Some("run goward verify-toolchain --goroot DIR by hand to see why"),
        ),
    };
    let mut x = Finding::new("goroot-verified", sev, summary);
    x.evidence = evidence;
    x.fix = fix.map(str::to_owned);
    x
}

/// The worst severity among findings not fixed.
pub(crate) fn worst(findings: &[Finding]) -> Severity {
    findings
        .iter()
        .filter(|f| f.fixed.is_none())
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Ok)
}

/// Exit status: 0 for ok/info, 1 for a warning or an error.
pub(crate) fn exit_code(findings: &[Finding]) -> u8 {
    match worst(findings) {
        Severity::Ok | Severity::Info => 0,
        Severity::Warning | Severity::Error => 1,
    }
}
