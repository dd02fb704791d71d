//! The verified cache: content-addressed blobs plus per-version metadata that
//! records what was proven.
//!
//! Trust rule: a blob enters the store only inside a [`VerifiedZip`] or
//! [`VerifiedMod`], and its SHA-256 is re-checked every time it is read back
//! (see [`crate::service`]); metadata documents (`.info`, lists, checksum
//! database tiles and lookups) are written only after their own checks ran.
//! [`Store`] is a trait because a shared object store implementation follows
//! the local disk one.

pub mod disk;

use std::fmt;
use std::path::PathBuf;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::verify::{ArtifactKind, Proof, VerifiedMod, VerifiedZip};

pub use disk::DiskStore;

/// What the store records about a verified artifact: enough to re-check the
/// blob and to show what proved it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactMeta {
    /// Format version of this record.
    pub v: u32,
    /// `zip` or `go.mod`.
    pub kind: ArtifactKind,
    /// Module path.
    pub module: String,
    /// Canonical version.
    pub version: String,
    /// Lowercase hex SHA-256 of the blob (its content address).
    pub sha256: String,
    /// Blob size in bytes.
    pub size: u64,
    /// The artifact's `h1:`.
    pub h1: String,
    /// Everything that proved it (all the proofs the policy required when
    /// it was stored).
    pub proofs: Vec<ProofRecord>,
    /// Unix seconds at verification.
    pub verified_at: u64,
    /// Distinguishes this stored copy from any earlier or later copy of the
    /// same content (nanosecond clock at store time): part of the `ETag`, so
    /// a resumed download never splices two copies.
    #[serde(default)]
    pub instance: u64,
}

/// Serialized evidence, kept for audits and for re-verification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
#[non_exhaustive]
pub enum ProofRecord {
    /// Proven in a checksum database.
    Sumdb {
        /// Database name.
        db: String,
        /// Record number.
        record: u64,
        /// The record text.
        text: String,
        /// Size of the tree the record was proven in.
        tree_size: u64,
        /// The signed tree note, verbatim.
        note: String,
    },
    /// Equal to a hash pinned by the policy.
    Pinned {
        /// The pinned `h1:`.
        h1: String,
        /// The policy that pinned it.
        policy: String,
    },
}

impl ProofRecord {
    /// Database this proof depends on, if any.
    pub fn db(&self) -> Option<&str> {
        match self {
            ProofRecord::Sumdb { db, .. } => Some(db),
            ProofRecord::Pinned { .. } => None,
        }
    }

    pub(crate) fn from_proof(p: &Proof) -> ProofRecord {
        match p {
            Proof::Sumdb(r) => ProofRecord::Sumdb {
                db: r.db().to_owned(),
                record: r.id(),
                text: r.text().to_owned(),
                tree_size: r.tree().n,
                note: String::from_utf8_lossy(r.note()).into_owned(),
            },
            Proof::Pinned(p) => ProofRecord::Pinned {
                h1: p.h1().as_str().to_owned(),
                policy: p.origin().to_owned(),
            },
        }
    }
}

/// Small documents kept beside the blobs. Keys are built from validated,
/// case-encoded module paths and versions only, so they are safe as relative
/// file names.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DocKey {
    /// `.info` of a canonical version (escaped path, escaped version).
    Info(String, String),
    /// `@v/list` (escaped path).
    List(String),
    /// `@latest` (escaped path).
    Latest(String),
    /// The trusted signed tree head of a checksum database.
    SumdbHead(String),
    /// A fork report; while present the database is not trusted.
    SumdbFork(String),
    /// A proven lookup response (db, `escpath@escver`).
    SumdbLookup(String, String),
    /// An authenticated tile (db, tile path such as `tile/8/0/001.p/5`).
    SumdbTile(String, String),
}

impl DocKey {
    /// Relative path of the document inside a store.
    pub fn rel_path(&self) -> String {
        match self {
            DocKey::Info(p, v) => format!("meta/{p}/@v/{v}.info"),
            DocKey::List(p) => format!("meta/{p}/@v/list"),
            DocKey::Latest(p) => format!("meta/{p}/@latest"),
            DocKey::SumdbHead(db) => format!("sumdb/{db}/latest"),
            DocKey::SumdbFork(db) => format!("sumdb/{db}/SECURITY-ERROR"),
            DocKey::SumdbLookup(db, k) => format!("sumdb/{db}/lookup/{k}"),
            DocKey::SumdbTile(db, t) => format!("sumdb/{db}/{t}"),
        }
    }
}

/// A storage failure. The message names the file or key involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An I/O error on a path in the store.
    #[error("cache {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A metadata record that does not parse.
    #[error("cache metadata {path} is corrupt: {msg}")]
    Corrupt { path: PathBuf, msg: String },
}

impl StoreError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io {
            op,
            path: path.into(),
            source,
        }
    }
}

/// What a start-up sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// Temp files left by an interrupted write.
    pub temp_files: u64,
}

/// Where verified artifacts live. Methods block; async callers run them on
/// the blocking pool.
pub trait Store: Send + Sync + fmt::Debug {
    /// A new temp file in the store's spool area, on the same filesystem as
    /// the blobs so that committing is a rename.
    fn temp_file(&self) -> Result<tempfile::NamedTempFile, StoreError>;

    /// Stores a verified zip. If the version is already stored with other
    /// bytes, the proven copy already there is kept.
    fn put_zip(&self, zip: VerifiedZip) -> Result<ArtifactMeta, StoreError>;

    /// Stores a verified go.mod (same immutability rule as `put_zip`).
    fn put_mod(&self, m: VerifiedMod) -> Result<ArtifactMeta, StoreError>;

    /// The metadata of a stored artifact.
    fn meta(
        &self,
        kind: ArtifactKind,
        module: &str,
        version: &str,
    ) -> Result<Option<ArtifactMeta>, StoreError>;

    /// Opens a stored blob for reading; the caller re-checks its digest.
    fn open_blob(&self, meta: &ArtifactMeta) -> Result<std::fs::File, StoreError>;

    /// Moves a blob that failed its digest check out of the way and forgets
    /// the metadata that pointed at it, so the next request re-fetches.
    fn quarantine(&self, meta: &ArtifactMeta, why: &str) -> Result<(), StoreError>;

    /// Reads a document.
    fn get_doc(&self, key: &DocKey) -> Result<Option<Bytes>, StoreError>;

    /// Writes a document atomically.
    fn put_doc(&self, key: &DocKey, bytes: &[u8]) -> Result<(), StoreError>;

    /// Removes a document (no error if absent).
    fn delete_doc(&self, key: &DocKey) -> Result<(), StoreError>;
}
