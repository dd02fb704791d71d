//! The audit log: one JSON object per line, in a file of its own, for every
//! refusal and every first-time proof, so a security team can answer "what
//! did goward refuse this week, and why" and "on what evidence did it first
//! trust this artifact" without parsing the operational log.
//!
//! Off unless `--audit-log FILE` is given. Append-only; a log rotator may
//! rename the file at any time: the next event notices (the path no longer
//! names the open file) and starts a new file. Events are rare (refusals,
//! first proofs), so a line is written synchronously under a lock, and a
//! failing write is reported in the operational log, never to the client.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::cache::ArtifactMeta;

static LOG: OnceLock<AuditLog> = OnceLock::new();

/// Why the audit log could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("audit log {path}: {source}")]
pub(crate) struct AuditError {
    path: PathBuf,
    #[source]
    source: std::io::Error,
}

struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
}

/// Opens (creates, appends to) the process's audit log. Called once at
/// start; a second call keeps the first file.
pub(crate) fn open(path: &Path) -> Result<(), AuditError> {
    let file = open_append(path)?;
    let _ = LOG.set(AuditLog {
        path: path.to_path_buf(),
        file: Mutex::new(file),
    });
    Ok(())
}

fn open_append(path: &Path) -> Result<File, AuditError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| AuditError {
            path: path.to_path_buf(),
            source,
        })
}

/// One line of the audit log.
#[derive(Debug, Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
enum Event<'a> {
    /// A request answered with a refusal: a failed check or a policy denial.
    Refused {
        time: u64,
        path: &'a str,
        status: u16,
        /// The metric label of the failure (`hash_mismatch`, `policy_denied`, …).
        reason: &'a str,
        /// What the go command's user was shown.
        message: &'a str,
        /// The authenticated client (`--auth-file` or a client
        /// certificate); absent when anonymous.
        #[serde(skip_serializing_if = "Option::is_none")]
        user: Option<&'a str>,
    },
    /// An artifact proven and stored for the first time (or proven again
    /// because the policy started requiring more).
    Proven {
        time: u64,
        module: &'a str,
        version: &'a str,
        kind: &'a str,
        h1: &'a str,
        sha256: &'a str,
        size: u64,
        /// The policy rule that allowed it (`null`: open-mode defaults).
        rule: Option<&'a str>,
        /// Where each proof's evidence is (`checksum database sum.golang.org
        /// record 123 in tree 456`); the evidence itself is in the cache
        /// record.
        evidence: Vec<String>,
    },
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Records a refusal (no-op without an audit log).
pub(crate) fn refused(path: &str, status: u16, reason: &str, message: &str, user: Option<&str>) {
    write(&Event::Refused {
        time: now(),
        path,
        status,
        reason,
        message: message.trim_end(),
        user,
    });
}

/// Records a first-time proof (no-op without an audit log).
pub(crate) fn proven(meta: &ArtifactMeta, rule: Option<&str>) {
    write(&Event::Proven {
        time: now(),
        module: &meta.module,
        version: &meta.version,
        kind: meta.kind.as_str(),
        h1: &meta.h1,
        sha256: &meta.sha256,
        size: meta.size,
        rule,
        evidence: meta.proofs.iter().map(|p| p.reference()).collect(),
    });
}

fn write(event: &Event<'_>) {
    let Some(log) = LOG.get() else { return };
    let mut line = match serde_json::to_vec(event) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!("audit log: cannot encode an event: {e}");
            return;
        }
    };
    line.push(b'\n');
    let mut file = match log.file.lock() {
        Ok(f) => f,
        Err(poisoned) => poisoned.into_inner(),
    };
    if rotated(&log.path, &file) {
        match open_append(&log.path) {
            Ok(f) => *file = f,
            Err(e) => tracing::error!("{e}"),
        }
    }
    // One write of a whole line to an O_APPEND file: lines never interleave.
    if let Err(e) = file.write_all(&line) {
        tracing::error!(path = %log.path.display(), "audit log: write failed: {e}");
    }
}

/// Whether `path` no longer names the open file (renamed or removed by a
/// log rotator).
#[cfg(unix)]
fn rotated(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(p), Ok(f)) => (p.dev(), p.ino()) != (f.dev(), f.ino()),
        _ => true,
    }
}

/// Windows cannot rename an open file away, so only a missing file counts.
#[cfg(not(unix))]
fn rotated(path: &Path, _file: &File) -> bool {
    !path.exists()
}
