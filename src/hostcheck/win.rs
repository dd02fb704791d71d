//! Windows facts read by running Windows' own tools through [`Host::run`]:
//! Microsoft Defender exclusions, elevation, and MSI installs of Go.
//!
//! Only running the tools is Windows-specific; building their command lines
//! and parsing their output are plain functions, so Linux tests feed them
//! real-looking output through the fake host. Tools are run by absolute
//! path under `%SystemRoot%`, so a `reg.exe` planted on `PATH` is not used.

use std::path::{Path, PathBuf};

use super::{Host, RunOutput};

/// A program in `%SystemRoot%\System32` (`rel` below it); the bare name
/// when `SystemRoot` is unset.
pub(crate) fn system32(host: &dyn Host, rel: &str) -> PathBuf {
    match host.env("SystemRoot") {
        Some(root) => PathBuf::from(format!("{}\\System32\\{rel}", root.trim_end_matches('\\'))),
        None => PathBuf::from(rel.rsplit('\\').next().unwrap_or(rel)),
    }
}

fn powershell(host: &dyn Host) -> PathBuf {
    system32(host, "WindowsPowerShell\\v1.0\\powershell.exe")
}

/// Runs a PowerShell script with UTF-8 output (paths may be non-ASCII).
fn run_powershell(host: &dyn Host, script: &str) -> Result<RunOutput, String> {
    let script = format!("[Console]::OutputEncoding = [System.Text.Encoding]::UTF8; {script}");
    host.run(
        &powershell(host),
        &["-NoProfile", "-NonInteractive", "-Command", &script],
    )
}

/// One `ExclusionPath` entry of Defender.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Exclusion {
    /// As Defender lists it (may hold `%VAR%`).
    pub raw: String,
    /// Environment variables expanded.
    pub path: String,
}

/// What Microsoft Defender's real-time scanning does to goward's directories.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Defender {
    /// No Defender here (not Windows, not installed, or its service is off
    /// because another antivirus product took over): the reason.
    NotApplicable(String),
    /// Could not tell (e.g. not elevated: Defender shows its exclusions only
    /// to administrators): the reason.
    Unknown(String),
    /// Real-time protection is off: nothing is scanned on access.
    RealtimeOff,
    /// Real-time protection is on (or its state unknown); these paths are
    /// excluded.
    Exclusions(Vec<Exclusion>),
}

impl Default for Defender {
    fn default() -> Defender {
        Defender::NotApplicable("not checked".into())
    }
}

/// Reads real-time state and exclusions in one PowerShell start (each start
/// costs about a second). Statement-terminating errors (a missing cmdlet)
/// only skip their own statement, so the parser takes the lines it gets.
pub(crate) const DEFENDER_SCRIPT: &str = "'realtime=' + (Get-MpComputerStatus).RealTimeProtectionEnabled; (Get-MpPreference).ExclusionPath";

/// Defender's state on the host; "not applicable" off Windows.
pub(crate) fn defender(host: &dyn Host) -> Defender {
    if !host.is_windows() {
        return Defender::NotApplicable("Microsoft Defender exists only on Windows".into());
    }
    match run_powershell(host, DEFENDER_SCRIPT) {
        Ok(out) => parse_defender(&out, &|k| host.env(k)),
        Err(e) => Defender::Unknown(e),
    }
}

/// Parses the output of [`DEFENDER_SCRIPT`]; `env` expands `%VAR%` in
/// exclusions.
pub(crate) fn parse_defender(out: &RunOutput, env: &dyn Fn(&str) -> Option<String>) -> Defender {
    let all = format!("{}\n{}", out.stdout, out.stderr);
    if all.contains("0x800106ba") {
        return Defender::NotApplicable(
            "the Microsoft Defender service is not running (another antivirus product may be active: exclude the directories there)".into(),
        );
    }
    let missing = |cmd: &str| {
        out.stderr.contains(cmd)
            && (out.stderr.contains("is not recognized") || out.stderr.contains("CommandNotFound"))
    };
    if missing("Get-MpPreference") {
        return Defender::NotApplicable(
            "Microsoft Defender's PowerShell module is not installed (no Get-MpPreference)".into(),
        );
    }
    let mut realtime = None;
    let mut exclusions = Vec::new();
    for line in out.stdout.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(v) = line.strip_prefix("realtime=") {
            realtime = match v.to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            };
        } else if line.starts_with("N/A:") {
            return Defender::Unknown(format!(
                "Defender shows its exclusions only to administrators ({line}); run elevated to check"
            ));
        } else {
            exclusions.push(Exclusion {
                raw: line.to_owned(),
                path: expand_env(line, env),
            });
        }
    }
    if realtime == Some(false) {
        return Defender::RealtimeOff;
    }
    // The realtime line always prints when Get-MpComputerStatus ran.
    if realtime.is_none() && exclusions.is_empty() {
        let err = out.stderr.lines().map(str::trim).find(|l| !l.is_empty());
        return Defender::Unknown(match err {
            Some(err) => format!("reading Defender's settings: {err}"),
            None => format!(
                "reading Defender's settings: PowerShell printed nothing (exit status {:?})",
                out.code
            ),
        });
    }
    Defender::Exclusions(exclusions)
}

/// Expands `%VAR%` (case-insensitive names, as Windows does); unknown
/// variables stay as written.
pub(crate) fn expand_env(s: &str, env: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find('%') {
            Some(j) if j > 0 => {
                let name = &after[..j];
                let val = env(name)
                    .or_else(|| env(&name.to_ascii_uppercase()))
                    .or_else(|| env(&name.to_ascii_lowercase()));
                match val {
                    Some(v) => out.push_str(&v),
                    None => {
                        out.push('%');
                        out.push_str(name);
                        out.push('%');
                    }
                }
                rest = &after[j + 1..];
            }
            _ => {
                out.push('%');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A Windows path as lower-case components: `/` and `\` alike, `\\?\`
/// prefix, empty and `.` components dropped.
fn components(p: &str) -> Vec<String> {
    let p = p.replace('/', "\\");
    let p = p
        .strip_prefix("\\\\?\\")
        .or_else(|| p.strip_prefix("\\??\\"))
        .unwrap_or(&p);
    p.split('\\')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_lowercase)
        .collect()
}

/// Glob match of one path component (`*` any run, `?` one character).
fn glob(pat: &str, s: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let t: Vec<char> = s.chars().collect();
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// The exclusion that covers `dir` (Defender excludes a folder with
/// everything below it), matching component-wise and case-insensitively;
/// a trailing `\*` covers the folder itself too.
pub(crate) fn excluded_by<'a>(dir: &Path, exclusions: &'a [Exclusion]) -> Option<&'a Exclusion> {
    let d = components(&dir.to_string_lossy());
    if d.is_empty() {
        return None;
    }
    exclusions.iter().find(|x| {
        let mut e = components(&x.path);
        if e.len() > 1 && e.last().is_some_and(|c| c == "*") {
            e.pop();
        }
        !e.is_empty() && e.len() <= d.len() && e.iter().zip(&d).all(|(p, c)| glob(p, c))
    })
}

/// Whether path `p` is `base` or below it (component-wise, ignoring case).
pub(crate) fn within(p: &str, base: &str) -> bool {
    let (p, b) = (components(p), components(base));
    !b.is_empty() && b.len() <= p.len() && b.iter().zip(&p).all(|(x, y)| x == y)
}

/// PowerShell single-quoted string literal.
fn ps_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The exact command that excludes `dir`, for messages and `--fix`.
pub(crate) fn exclusion_command(dir: &Path) -> String {
    format!(
        "Add-MpPreference -ExclusionPath {}",
        ps_quote(&dir.display().to_string())
    )
}

/// Excludes `dir` from Defender's scanning (needs elevation).
pub(crate) fn add_exclusion(host: &dyn Host, dir: &Path) -> Result<(), String> {
    let out = run_powershell(host, &exclusion_command(dir))?;
    let err = out.stderr.trim();
    if out.code == Some(0) && err.is_empty() {
        Ok(())
    } else if err.is_empty() {
        Err(format!("Add-MpPreference exited with {:?}", out.code))
    } else {
        Err(err.lines().next().unwrap_or(err).to_owned())
    }
}

/// Mandatory-label SIDs of an elevated token: high, system.
const ELEVATED_SIDS: &[&str] = &["S-1-16-12288", "S-1-16-16384"];

/// Whether this process runs elevated (`whoami /groups` lists the high or
/// system mandatory label); `None` off Windows or when `whoami` fails.
pub(crate) fn elevated(host: &dyn Host) -> Option<bool> {
    if !host.is_windows() {
        return None;
    }
    let out = host.run(&system32(host, "whoami.exe"), &["/groups"]).ok()?;
    parse_whoami_groups(&out.stdout)
}

/// Parses `whoami /groups`: `None` when it lists no mandatory label.
pub(crate) fn parse_whoami_groups(stdout: &str) -> Option<bool> {
    if ELEVATED_SIDS.iter().any(|s| stdout.contains(s)) {
        Some(true)
    } else if stdout.contains("S-1-16-") {
        Some(false)
    } else {
        None
    }
}

/// One "Go Programming Language" entry of the Windows uninstall registry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct MsiGo {
    /// The registry key (its last component is the MSI product code).
    pub key: String,
    /// `DisplayName`, e.g. `Go Programming Language amd64 go1.22.1`.
    pub name: String,
    /// `DisplayVersion`.
    pub version: Option<String>,
    /// `InstallLocation`, e.g. `C:\Program Files\Go\`.
    pub location: Option<String>,
}

impl MsiGo {
    /// The MSI product code (`{…}`), if the key ends in one.
    pub(crate) fn product_code(&self) -> Option<&str> {
        let last = self.key.rsplit('\\').next()?;
        (last.starts_with('{') && last.ends_with('}')).then_some(last)
    }
}

/// MSI installs of Go found in the registry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Msi {
    /// No Windows registry here.
    NotApplicable(String),
    /// `reg.exe` could not be run.
    Unknown(String),
    /// The entries found (none: Go was not installed by MSI).
    Found(Vec<MsiGo>),
}

impl Default for Msi {
    fn default() -> Msi {
        Msi::NotApplicable("not checked".into())
    }
}

/// The uninstall registry views searched: native, then 32-bit.
pub(crate) const UNINSTALL_ROOTS: &[&str] = &[
    "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Uninstall",
    "HKLM\\SOFTWARE\\WOW6432Node\\Microsoft\\Windows\\CurrentVersion\\Uninstall",
];

/// The `DisplayName` the Go MSI registers (followed by arch and version).
pub(crate) const GO_MSI_NAME: &str = "Go Programming Language";

/// `reg query ROOT /s /f "Go Programming Language" /d`.
pub(crate) fn reg_search_args(root: &str) -> [&str; 6] {
    ["query", root, "/s", "/f", GO_MSI_NAME, "/d"]
}

/// Finds MSI installs of Go; "not applicable" off Windows.
pub(crate) fn msi_go(host: &dyn Host) -> Msi {
    if !host.is_windows() {
        return Msi::NotApplicable("MSI installs exist only on Windows".into());
    }
    let reg = system32(host, "reg.exe");
    let mut found = Vec::new();
    for root in UNINSTALL_ROOTS {
        // Exit 1 with "0 match(es)" or "unable to find the specified
        // registry key" (no 32-bit view) both mean nothing here.
        let out = match host.run(&reg, &reg_search_args(root)) {
            Ok(o) => o,
            Err(e) => return Msi::Unknown(e),
        };
        for (key, name) in parse_reg_search(&out.stdout) {
            let mut m = MsiGo {
                key: key.clone(),
                name,
                ..MsiGo::default()
            };
            if let Ok(o) = host.run(&reg, &["query", &key]) {
                for (k, v) in parse_reg_values(&o.stdout) {
                    match k.as_str() {
                        "DisplayVersion" => m.version = Some(v),
                        "InstallLocation" if !v.is_empty() => m.location = Some(v),
                        _ => {}
                    }
                }
            }
            found.push(m);
        }
    }
    Msi::Found(found)
}

/// One value line of `reg query`: `    Name    REG_SZ    Data`.
fn reg_value(line: &str) -> Option<(String, String)> {
    let t = line.trim_start();
    if t.len() == line.len() {
        return None;
    }
    let i = t.find("    REG_")?;
    let name = t[..i].trim().to_owned();
    let rest = t[i..].trim_start();
    let ty_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    Some((name, rest[ty_end..].trim().to_owned()))
}

/// Parses `reg query ROOT /s /f … /d`: the keys whose `DisplayName`
/// names Go, with that name.
pub(crate) fn parse_reg_search(stdout: &str) -> Vec<(String, String)> {
    let mut v = Vec::new();
    let mut key = None;
    for line in stdout.lines() {
        let line = line.trim_end();
        if line.starts_with("HKEY_") {
            key = Some(line.to_owned());
        } else if let (Some(k), Some((name, data))) = (&key, reg_value(line))
            && name == "DisplayName"
            && data
                .to_ascii_lowercase()
                .starts_with(&GO_MSI_NAME.to_ascii_lowercase())
        {
            v.push((k.clone(), data));
        }
    }
    v
}

/// Parses `reg query KEY`: its values by name.
pub(crate) fn parse_reg_values(stdout: &str) -> Vec<(String, String)> {
    stdout.lines().filter_map(reg_value).collect()
}
