//! `goward user …` and `goward token …`: edit the credentials file that
//! `serve --auth-file` reads (a running server picks changes up within
//! seconds, or on SIGHUP).
//!
//! Exit codes: 0 done, 1 nothing to remove or revoke, 2 usage or I/O.

use std::io::{BufRead as _, IsTerminal as _, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

/// Where the credentials file is.
#[derive(Debug, Args)]
pub struct FileArg {
    /// The credentials file (created if missing).
    #[arg(long, env = "GOWARD_AUTH_FILE", value_name = "FILE")]
    pub auth_file: PathBuf,
}

/// Flags of `goward user`.
#[derive(Debug, Args)]
pub struct UserArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: UserCommand,
}

/// Subcommands of `goward user`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user, or set an existing user's password and groups. The
    /// password is read from the first line of standard input (at least 8
    /// characters); only its Argon2id hash is written.
    Add {
        /// The user name (what clients put before the ':' in basic auth).
        name: String,
        /// A group the user belongs to (repeat for several).
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
        #[command(flatten)]
        file: FileArg,
    },
    /// Remove a user and its tokens.
    Remove {
        /// The user name.
        name: String,
        #[command(flatten)]
        file: FileArg,
    },
    /// List users, their groups and their tokens' ids.
    List {
        #[command(flatten)]
        file: FileArg,
    },
}

/// Flags of `goward token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: TokenCommand,
}

/// Subcommands of `goward token`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a bearer token for a user (added, without a password, if
    /// new) and print it once: only its SHA-256 is kept. Clients send it as
    /// `Authorization: Bearer …`, or as the password in `.netrc`.
    Create {
        /// The user the token acts as.
        name: String,
        /// Set the user's groups (repeat for several; default: unchanged).
        #[arg(long = "group", value_name = "GROUP")]
        groups: Vec<String>,
        #[command(flatten)]
        file: FileArg,
    },
    /// Revoke a token by the id `goward user list` shows.
    Revoke {
        /// The token id (12 hex digits).
        id: String,
        #[command(flatten)]
        file: FileArg,
    },
}

/// Runs `goward user …`.
pub(crate) fn run_user(args: &UserArgs) -> ExitCode {
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    let code = match &args.command {
        UserCommand::Add { name, groups, file } => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                let _ = write!(err, "password for {name:?} (shown as typed): ");
                let _ = err.flush();
            }
            let mut line = String::new();
            match stdin.lock().read_line(&mut line) {
                Ok(_) => {
                    let password = line.trim_end_matches(['\r', '\n']);
                    match super::set_user(&file.auth_file, name, groups, password) {
                        Ok(()) => {
                            let _ = writeln!(
                                out,
                                "user {name:?} saved in {}",
                                file.auth_file.display()
                            );
                            0
                        }
                        Err(e) => fail(&mut err, &e),
                    }
                }
                Err(e) => fail(&mut err, &format!("reading the password from stdin: {e}")),
            }
        }
        UserCommand::Remove { name, file } => match super::remove_user(&file.auth_file, name) {
            Ok(true) => {
                let _ = writeln!(out, "user {name:?} removed");
                0
            }
            Ok(false) => {
                let _ = writeln!(
                    err,
                    "goward: no user {name:?} in {}",
                    file.auth_file.display()
                );
                1
            }
            Err(e) => fail(&mut err, &e),
        },
        UserCommand::List { file } => match super::list(&file.auth_file) {
            Ok(lines) => {
                for l in lines {
                    let _ = writeln!(out, "{l}");
                }
                0
            }
            Err(e) => fail(&mut err, &e),
        },
    };
    ExitCode::from(code)
}

/// Runs `goward token …`.
pub(crate) fn run_token(args: &TokenArgs) -> ExitCode {
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    let code = match &args.command {
        TokenCommand::Create { name, groups, file } => {
            match super::create_token(&file.auth_file, name, groups) {
                Ok(token) => {
                    let _ = writeln!(out, "{token}");
                    let _ = writeln!(
                        err,
                        "token for {name:?} saved (hashed) in {}; it is shown only this once",
                        file.auth_file.display()
                    );
                    0
                }
                Err(e) => fail(&mut err, &e),
            }
        }
        TokenCommand::Revoke { id, file } => match super::revoke_token(&file.auth_file, id) {
            Ok(Some(user)) => {
                let _ = writeln!(out, "token {id} of {user:?} revoked");
                0
            }
            Ok(None) => {
                let _ = writeln!(err, "goward: no token {id} in {}", file.auth_file.display());
                1
            }
            Err(e) => fail(&mut err, &e),
        },
    };
    ExitCode::from(code)
}

fn fail(err: &mut dyn Write, e: &dyn std::fmt::Display) -> u8 {
    let _ = writeln!(err, "goward: {e}");
    2
}
