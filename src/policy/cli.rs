//! `goward policy check FILE` and `goward policy explain MODULE[@VERSION]`.
//!
//! Exit codes: `check` 0 valid, 2 invalid or unreadable; `explain` 0
//! allowed, 1 denied, 2 usage (bad argument, invalid policy).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::Policy;
use crate::xmod::module;

/// Flags of `goward policy`.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// What to do with a policy.
    #[command(subcommand)]
    pub command: PolicyCommand,
}

/// Subcommands of `goward policy`.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy file and print the resolved rules.
    ///
    /// Exit status: 0 valid, 2 invalid (every problem is printed with
    /// file, line and column) or unreadable.
    Check(CheckArgs),
    /// Show which rules match a module version, what proof it needs, and
    /// the decision.
    ///
    /// Exit status: 0 allowed, 1 denied, 2 usage error or invalid policy.
    Explain(ExplainArgs),
}

/// Flags of `goward policy check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The policy file.
    pub file: PathBuf,
}

/// Flags of `goward policy explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// MODULE@VERSION (or MODULE alone, for what `@v/list` and `@latest`
    /// get). Toolchains: golang.org/toolchain@v0.0.1-go1.22.3.linux-amd64.
    pub target: String,
    /// The policy file [default: the embedded default policy].
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Also decide whether this user of the credentials file may fetch it.
    #[arg(long = "as", value_name = "USER", requires = "auth_file")]
    pub as_user: Option<String>,
    /// The credentials file that names USER's groups (as `serve --auth-file`).
    #[arg(long, value_name = "FILE", env = "GOWARD_AUTH_FILE")]
    pub auth_file: Option<PathBuf>,
}

/// Runs `goward policy …`, printing to stdout/stderr.
pub(crate) fn run(args: &PolicyArgs) -> ExitCode {
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    ExitCode::from(run_to(args, &mut out, &mut err))
}

/// [`run`] with explicit output streams; returns the exit code.
pub(crate) fn run_to(args: &PolicyArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    match &args.command {
        PolicyCommand::Check(a) => check(a, out, err),
        PolicyCommand::Explain(a) => explain(a, out, err),
    }
}

fn check(a: &CheckArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    match Policy::load(&a.file) {
        Ok(p) => {
            let _ = writeln!(out, "{}: valid", a.file.display());
            let _ = write!(out, "{}", p.describe());
            0
        }
        Err(e) => {
            let _ = writeln!(err, "{e}");
            2
        }
    }
}

fn explain(a: &ExplainArgs, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let (path, version) = match a.target.split_once('@') {
        Some((p, v)) => (p, Some(v)),
        None => (a.target.as_str(), None),
    };
    let checked = match version {
        Some(v) => module::check(path, v),
        None => module::check_path(path),
    };
    if let Err(e) = checked {
        let _ = writeln!(err, "goward: {e}");
        return 2;
    }
    if version.is_some_and(|v| module::canonical_version(v).as_deref() != Some(v)) {
        let _ = writeln!(
            err,
            "goward: {}: not a canonical version (the go command asks for {})",
            a.target,
            version
                .and_then(module::canonical_version)
                .unwrap_or_default()
        );
        return 2;
    }
    let policy = match &a.policy {
        Some(f) => match Policy::load(f) {
            Ok(p) => p,
            Err(e) => {
                let _ = writeln!(err, "{e}");
                return 2;
            }
        },
        None => Policy::embedded_default(),
    };
    let who = match (&a.as_user, &a.auth_file) {
        (Some(user), Some(file)) => match crate::auth::Credentials::load(file) {
            Ok(c) => match c.identity(user) {
                Some(id) => Some(id),
                None => {
                    let _ = writeln!(err, "goward: {}: no user {user:?}", file.display());
                    return 2;
                }
            },
            Err(e) => {
                let _ = writeln!(err, "goward: {e}");
                return 2;
            }
        },
        _ => None,
    };
    let x = policy.explain(path, version);
    let _ = write!(out, "{x}");
    let Some(who) = who else {
        return if x.decision.allowed { 0 } else { 1 };
    };
    match policy.admits(path, version, Some(&who)) {
        Ok(()) if x.decision.allowed => {
            let _ = writeln!(out, "as {}: allowed", who.describe());
            0
        }
        Ok(()) => {
            let _ = writeln!(out, "as {}: denied (as for everyone)", who.describe());
            1
        }
        Err(denial) => {
            let _ = writeln!(out, "as {}: {denial}", who.describe());
            1
        }
    }
}
