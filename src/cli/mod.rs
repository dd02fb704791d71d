//! The command line: the subcommands and which arguments each takes. Every
//! subcommand's arguments and code live in its own module; only this one
//! names them all, so [`crate::config`], which every command uses, depends
//! on none of them.

mod run;

use clap::{Parser, Subcommand};

pub use run::main;

use crate::config::{ServeArgs, VerifyZipArgs};

/// `goward --version`: which build this is.
const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("GOWARD_COMMIT"),
    ", ",
    env!("GOWARD_BUILD_DATE"),
    ")"
);

/// goward: a verifying Go module proxy. Every module zip and go.mod it
/// serves was proven against the Go checksum database before it was stored,
/// and its digest is re-checked before it is served.
#[derive(Debug, Parser)]
#[command(name = "goward", version = LONG_VERSION, about, max_term_width = 100)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
// Parsed once per process: boxing `serve`'s flags would save nothing.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Run the verifying GOPROXY server.
    ///
    /// Settings come from flags, then GOWARD_* environment variables, then
    /// the TOML file given by --config, then the embedded defaults.
    Serve(ServeArgs),
    /// Check a module zip against every module-zip rule and print its h1: hash.
    ///
    /// Exit status: 0 valid (and equal to --h1 when given), 1 invalid,
    /// 2 usage or I/O error. The same checks the server runs.
    VerifyZip(VerifyZipArgs),
    /// Prove a Go toolchain (module zip, go.dev/dl archive or installed tree) against the
    /// checksum database.
    ///
    /// Maps a release archive or a GOROOT to the golang.org/toolchain module (go-protocol.md
    /// 5.2), hashes it and compares the h1: with the proven checksum-database record, online
    /// or from goward's verified cache (--offline); names every differing file.
    VerifyToolchain(crate::toolchain::cli::VerifyToolchainArgs),
    /// Verify a cosign / Sigstore signature on a file, offline (cosign verify-blob's flags).
    ///
    /// Bundles v0.1-v0.3 (keyless or key-based), cosign's legacy bundle, or a bare
    /// key-based .sig with --key. Exit status: 0 verified, 1 not verified, 2 usage or
    /// unreadable input.
    VerifyBlob(crate::verify::proof::signature::cli::VerifyBlobArgs),
    /// Validate a policy file, or explain what a policy decides for a module.
    ///
    /// `check FILE` exits 0 valid, 2 invalid; `explain MODULE@VERSION
    /// [--policy FILE]` exits 0 allowed, 1 denied, 2 usage error.
    Policy(crate::policy::cli::PolicyArgs),
    /// Manage the users of `serve --auth-file`: `add NAME [--group G]...`
    /// (password on stdin), `remove NAME`, `list`.
    User(crate::auth::cli::UserArgs),
    /// Manage bearer tokens: `create NAME` (printed once, stored hashed),
    /// `revoke ID`.
    Token(crate::auth::cli::TokenArgs),
    /// Check the cache (`verify`) or shrink it (`gc`).
    Cache(crate::hygiene::CacheArgs),
    /// Checksum-database maintenance: `clear-fork NAME --yes` removes a fork
    /// report after an investigation.
    Sumdb(crate::hygiene::clear_fork::SumdbArgs),
    /// Diagnose the Go host: go commands on PATH, GOROOT, compressed cache
    /// directories, settings that weaken verification.
    ///
    /// Exit status: 0 nothing worse than info, 1 a warning or an error, 2 usage.
    Doctor(crate::doctor::DoctorArgs),
    /// Carry the cache to an air-gapped network: `export --out DIR|FILE.tar` on the
    /// connected side, `import DIR|FILE.tar` on the inside (re-proves everything first).
    Bundle(crate::bundle::cli::BundleArgs),
    /// Install, remove, start or stop goward as a Windows service.
    ///
    /// Windows only; on Linux use contrib/goward.service. Exit status: 0 done, 2 error.
    Service(crate::winsvc::ServiceArgs),
    /// Fill the cache for an air-gapped mirror: modules from arguments, --list files,
    /// projects (--from) and toolchains, each fetched, verified and proven as serve does.
    ///
    /// Exit status: 0 everything proven or already held, 1 something refused (each named
    /// with its reason), 2 usage, configuration, I/O or network error.
    Mirror(crate::mirror::cli::MirrorArgs),
}
