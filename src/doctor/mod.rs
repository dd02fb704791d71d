//! `goward doctor`: diagnoses the Go host it runs on, and goward's shared
//! store when it is a bucket ([`store`]).
//!
//! Every OS fact comes through [`crate::hostcheck::Host`]; [`gather`] turns
//! them into [`checks::Facts`] and [`checks`] decides, so each decision is
//! unit-tested with fake facts. The Windows checks (Defender exclusions, MSI
//! installs) report "not applicable" elsewhere, as does the compression
//! check outside Linux and Windows.
//!
//! Exit status: 0 when the worst finding is ok or info, 1 when there is a
//! warning or an error (not fixed by `--fix`), 2 usage error.

pub(crate) mod checks;
pub(crate) mod store;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::hostcheck::{Compression, Host, RealHost, win};
use checks::{Facts, Finding, GoInstall, Severity};

/// Flags of `goward doctor`.
#[derive(Debug, Args)]
#[command(
    mut_arg("config", |a| a.help("TOML configuration file of goward (for its cache directory)")),
    mut_arg("cache_dir", |a| a.help("goward's cache directory [default: as for serve]"))
)]
pub struct DoctorArgs {
    /// Print one JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// Apply the fixes goward can apply itself (clearing the compression
    /// flag of cache directories; on Windows, when elevated, adding
    /// Defender exclusions); the others are printed.
    #[arg(long)]
    pub fix: bool,
    /// goward's URL as clients should use it; GOPROXY is checked against it.
    #[arg(long, value_name = "URL")]
    pub goward_url: Option<String>,
    /// Also prove the installed Go tree (`go env GOROOT`) against the
    /// checksum database with `goward verify-toolchain`.
    #[arg(long)]
    pub verify_goroot: bool,
    #[command(flatten)]
    pub location: crate::config::CacheLocation,
}

/// Collects the facts the checks need.
pub(crate) fn gather(
    host: &dyn Host,
    goward_url: Option<String>,
    goward_cache: Option<PathBuf>,
) -> Facts {
    let mut f = Facts {
        goward_url,
        goroot_env: host.env("GOROOT"),
        home: host.env("HOME").or_else(|| host.env("USERPROFILE")),
        ..Facts::default()
    };
    for path in host.go_on_path() {
        let canonical = host.canonical(&path);
        if f.gos.iter().any(|g| g.canonical == canonical) {
            continue;
        }
        let out = |args: &[&str]| {
            host.run(&path, args)
                .ok()
                .filter(|o| o.code == Some(0))
                .map(|o| o.stdout.trim().to_owned())
        };
        f.gos.push(GoInstall {
            version: out(&["version"]),
            goroot: out(&["env", "GOROOT"]),
            path,
            canonical,
        });
    }
    if let Some(go) = f.gos.first() {
        match host.run(&go.path, &["env", "-json"]) {
            Ok(o) if o.code == Some(0) => {
                match serde_json::from_str::<BTreeMap<String, serde_json::Value>>(&o.stdout) {
                    Ok(m) => {
                        f.go_env = m
                            .into_iter()
                            .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
                            .collect();
                    }
                    Err(e) => f.go_env_error = Some(format!("go env -json: {e}")),
                }
            }
            Ok(o) => f.go_env_error = Some(format!("go env -json: {}", o.stderr.trim())),
            Err(e) => f.go_env_error = Some(e),
        }
    }
    if let Some(v) = host.env("GONOSUMCHECK") {
        f.legacy_env.insert("GONOSUMCHECK".into(), v);
    }
    let mut dirs: Vec<(String, PathBuf)> = Vec::new();
    if let Some(gp) = f.go_env.get("GOPATH") {
        for (i, d) in std::env::split_paths(gp).enumerate() {
            let label = if i == 0 {
                "GOPATH".to_owned()
            } else {
                format!("GOPATH[{i}]")
            };
            dirs.push((label, d));
        }
    }
    for k in ["GOMODCACHE", "GOCACHE"] {
        if let Some(d) = f.go_env.get(k).filter(|d| !d.is_empty() && *d != "off") {
            dirs.push((k.to_owned(), PathBuf::from(d)));
        }
    }
    if let Some(c) = goward_cache {
        dirs.push(("goward cache".to_owned(), c));
    }
    for (label, dir) in dirs {
        if host.is_dir(&dir) {
            let state = host.compression(&dir);
            f.dirs.push((label, dir, state));
        }
    }
    f.defender = win::defender(host);
    f.msi = win::msi_go(host);
    f
}

/// Applies what `--fix` can: clearing the compression flag, and adding
/// Defender exclusions when elevated.
pub(crate) fn apply_fixes(host: &dyn Host, findings: &mut [Finding]) {
    fix_compression(host, findings);
    fix_defender(host, findings);
}

fn fix_compression(host: &dyn Host, findings: &mut [Finding]) {
    for x in findings.iter_mut() {
        let Some(dir) = x.dir.clone() else { continue };
        if x.check != "compressed-dir" || x.severity < Severity::Warning {
            continue;
        }
        match host.clear_compression(&dir) {
            Ok(()) if host.compression(&dir) != Compression::Compressed => {
                x.fixed = Some(format!(
                    "cleared the compression flag on {}; files already stored compressed stay so until rewritten ({})",
                    dir.display(),
                    crate::hostcheck::uncompress_command(&dir)
                ));
            }
            Ok(()) => x
                .evidence
                .push("--fix: the flag is still set after clearing it".into()),
            Err(e) => x.evidence.push(format!("--fix failed: {e}")),
        }
    }
}

/// Adds a Defender exclusion for each directory found scanned, then reads
/// the exclusions again: a finding counts as fixed only when Defender lists
/// the directory as excluded.
fn fix_defender(host: &dyn Host, findings: &mut [Finding]) {
    let todo: Vec<usize> = (0..findings.len())
        .filter(|&i| {
            let x = &findings[i];
            x.check == "defender-exclusion" && x.severity >= Severity::Warning && x.dir.is_some()
        })
        .collect();
    if todo.is_empty() {
        return;
    }
    if win::elevated(host) != Some(true) {
        for &i in &todo {
            findings[i].evidence.push(
                "--fix: not elevated; Defender exclusions need an administrator: re-run goward doctor --fix from an elevated prompt (Run as administrator)".into(),
            );
        }
        return;
    }
    let mut added = Vec::new();
    for &i in &todo {
        let Some(dir) = findings[i].dir.clone() else {
            continue;
        };
        match win::add_exclusion(host, &dir) {
            Ok(()) => added.push((i, dir)),
            Err(e) => findings[i].evidence.push(format!("--fix failed: {e}")),
        }
    }
    if added.is_empty() {
        return;
    }
    let now = match win::defender(host) {
        win::Defender::Exclusions(x) => x,
        other => {
            for (i, _) in added {
                findings[i].evidence.push(format!(
                    "--fix: added the exclusion, but cannot read it back: {other:?}"
                ));
            }
            return;
        }
    };
    for (i, dir) in added {
        if win::excluded_by(&dir, &now).is_some() {
            findings[i].fixed = Some(format!(
                "excluded from Defender scanning: {}",
                win::exclusion_command(&dir)
            ));
        } else {
            findings[i].evidence.push(
                "--fix: Add-MpPreference succeeded, but Defender does not list the exclusion"
                    .into(),
            );
        }
    }
}

/// Runs `goward doctor`.
pub(crate) fn run(args: &DoctorArgs) -> ExitCode {
    let host = RealHost;
    let config = match crate::config::Config::load(&args.location.serve_args()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("goward: {e}");
            return ExitCode::from(2);
        }
    };
    // Absolute, as Defender's exclusions are.
    let cache = Some(std::path::absolute(&config.cache_dir).unwrap_or(config.cache_dir.clone()));
    let facts = gather(&host, args.goward_url.clone(), cache);
    let mut findings = checks::all(&facts);
    match store::gather(&config) {
        Ok(Some(f)) => findings.extend(store::findings(&f)),
        Ok(None) => {}
        Err(e) => findings.push(checks::Finding::new(
            "store-reachable",
            Severity::Error,
            format!("{}: {e}", config.store),
        )),
    }
    if args.verify_goroot {
        findings.push(verify_goroot(&host, &facts, args));
    }
    if args.fix {
        apply_fixes(&host, &mut findings);
    }
    let code = checks::exit_code(&findings);
    if args.json {
        let doc = serde_json::json!({
            "worst": checks::worst(&findings),
            "findings": findings,
        });
        match serde_json::to_string_pretty(&doc) {
            Ok(s) => crate::outln!("{s}"),
            Err(e) => eprintln!("goward: encoding the report: {e}"),
        }
    } else {
        print_text(&findings);
    }
    ExitCode::from(code)
}

fn verify_goroot(host: &dyn Host, facts: &Facts, args: &DoctorArgs) -> Finding {
    let Some(dir) = facts
        .go_env
        .get("GOROOT")
        .cloned()
        .or_else(|| facts.gos.first().and_then(|g| g.goroot.clone()))
    else {
        return Finding::new(
            "goroot-verified",
            Severity::Warning,
            "no GOROOT to verify (no go command found)",
        );
    };
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            return checks::goroot_verification(
                &dir,
                None,
                &format!("{{\"error\":{:?}}}", e.to_string()),
            );
        }
    };
    let mut a: Vec<String> = vec![
        "verify-toolchain".into(),
        "--goroot".into(),
        dir.clone(),
        "--json".into(),
    ];
    if let Some(c) = &args.location.config {
        a.push("--config".into());
        a.push(c.display().to_string());
    }
    if let Some(c) = &args.location.cache_dir {
        a.push("--cache-dir".into());
        a.push(c.display().to_string());
    }
    let refs: Vec<&str> = a.iter().map(String::as_str).collect();
    match host.run(&exe, &refs) {
        Ok(o) => checks::goroot_verification(&dir, o.code, &o.stdout),
        Err(e) => {
            checks::goroot_verification(&dir, None, &serde_json::json!({ "error": e }).to_string())
        }
    }
}

fn print_text(findings: &[Finding]) {
    for x in findings {
        let sev = match x.severity {
            Severity::Ok => "ok",
            Severity::Info => "info",
            Severity::Warning => "WARNING",
            Severity::Error => "ERROR",
        };
        crate::outln!("[{sev}] {}: {}", x.check, x.summary);
        for e in &x.evidence {
            crate::outln!("    {e}");
        }
        if let Some(f) = &x.fixed {
            crate::outln!("    fixed: {f}");
        } else if let Some(f) = &x.fix {
            crate::outln!("    fix: {f}");
        }
    }
}
