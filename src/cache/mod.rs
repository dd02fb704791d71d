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
use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::verify::{ArtifactKind, VerifiedMod, VerifiedZip};

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

/// Serialized evidence of one proof, kept for audits and for the offline
/// re-check: each proof kind's own evidence type ([`crate::verify::proof`]).
pub type ProofRecord = crate::verify::Evidence;

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

    /// Whether writing this document must survive a power cut: the trusted
    /// tree head and a fork report. Tiles and lookups are re-authenticated
    /// and `.info`/list/`@latest` re-validated whenever they are read.
    pub fn durable(&self) -> bool {
        matches!(self, DocKey::SumdbHead(_) | DocKey::SumdbFork(_))
    }
}

/// A storage failure. The message names the file or key involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An I/O error on a path in the store.
    #[error("cache {op} {path}: {source}{}", permission_hint(.source))]
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

/// What to do about a permission error on the cache: it is always the same fix.
fn permission_hint(e: &std::io::Error) -> &'static str {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        " (the cache directory must be writable by the user goward runs as: \
         fix its owner, or choose another with --cache-dir)"
    } else {
        ""
    }
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

/// The largest blob a "small" store operation reads (see
/// [`Store::small_io_inline`]): go.mod files, `.info`, most module zips.
pub const SMALL_IO: u64 = 64 << 10;

/// Where verified artifacts live. Methods block; async callers run them
/// through [`run`], which puts them on the blocking pool unless they are
/// small and the store says small operations are cheap.
pub trait Store: Send + Sync + fmt::Debug {
    /// Whether a small operation — reading metadata, a document or a blob
    /// of at most [`SMALL_IO`] bytes, opening a blob, creating a temp file,
    /// writing a document that is not [durable](DocKey::durable) — may run
    /// on an async worker. A local disk answers those from the page cache
    /// in microseconds, less than handing them to a blocking thread costs
    /// (about 0.1 ms of wake-up per hop measured on the bench machine,
    /// several hops per request); a network store must say no. Anything
    /// that fsyncs or reads a large blob always goes to the blocking pool.
    fn small_io_inline(&self) -> bool {
        false
    }

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

    /// The versions of `module` with a stored record (zip or go.mod), in no
    /// particular order: offline mode's `@v/list`.
    fn versions(&self, module: &str) -> Result<Vec<String>, StoreError>;

    /// Opens a stored blob for reading; the caller re-checks its digest.
    fn open_blob(&self, meta: &ArtifactMeta) -> Result<std::fs::File, StoreError>;

    /// Moves a blob that failed its digest check out of the way and forgets
    /// the metadata that pointed at it, so the next request re-fetches.
    fn quarantine(&self, meta: &ArtifactMeta, why: &str) -> Result<(), StoreError>;

    /// Moves a record that failed its re-check out of the way, leaving its
    /// blob (intact, and maybe named by other records) in place.
    fn quarantine_record(&self, meta: &ArtifactMeta, why: &str) -> Result<(), StoreError>;

    /// Reads a document.
    fn get_doc(&self, key: &DocKey) -> Result<Option<Bytes>, StoreError>;

    /// Writes a document atomically.
    fn put_doc(&self, key: &DocKey, bytes: &[u8]) -> Result<(), StoreError>;

    /// Removes a document (no error if absent).
    fn delete_doc(&self, key: &DocKey) -> Result<(), StoreError>;

    /// Writes `new` only if the document still holds `expected` (`None`:
    /// absent or empty), atomically with respect to every process sharing
    /// the store; returns whether it was written. This keeps two processes
    /// from rolling the trusted tree head back over each other.
    fn compare_and_swap_doc(
        &self,
        key: &DocKey,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, StoreError>;
}

/// Runs a blocking store operation from async code: inline when `small` and
/// the store allows it ([`Store::small_io_inline`]), else on the blocking
/// pool.
pub async fn run<T: Send + 'static>(
    store: Arc<dyn Store>,
    small: bool,
    f: impl FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    if small && store.small_io_inline() {
        return f(&*store);
    }
    tokio::task::spawn_blocking(move || f(&*store))
        .await
        .map_err(|e| StoreError::io("join", "blocking task", std::io::Error::other(e)))?
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which thread ran a store operation: the async worker (inline) or a
    /// blocking-pool thread.
    async fn ran_inline(store: Arc<dyn Store>, small: bool) -> bool {
        let here = std::thread::current().id();
        run(store, small, move |_| Ok(std::thread::current().id()))
            .await
            .unwrap()
            == here
    }

    #[tokio::test(flavor = "current_thread")]
    async fn small_operations_run_inline_only_when_the_store_allows() {
        let dir = tempfile::tempdir().unwrap();
        let (disk, _) = disk::DiskStore::open(dir.path()).unwrap();
        let disk: Arc<dyn Store> = Arc::new(disk);
        assert!(disk.small_io_inline());
        assert!(ran_inline(disk.clone(), true).await);
        assert!(!ran_inline(disk.clone(), false).await);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn store_errors_pass_through_run() {
        let dir = tempfile::tempdir().unwrap();
        let (disk, _) = disk::DiskStore::open(dir.path()).unwrap();
        let disk: Arc<dyn Store> = Arc::new(disk);
        for small in [true, false] {
            let e = run(disk.clone(), small, |_| -> Result<(), _> {
                Err(StoreError::io("read", "x", std::io::Error::other("boom")))
            })
            .await
            .unwrap_err();
            assert_eq!(e.to_string(), "cache read x: boom");
        }
    }

    #[test]
    fn only_the_tree_head_and_fork_report_are_durable() {
        let db = || "sum.golang.org".to_owned();
        assert!(DocKey::SumdbHead(db()).durable());
        assert!(DocKey::SumdbFork(db()).durable());
        for k in [
            DocKey::Info("m".into(), "v1.0.0".into()),
            DocKey::List("m".into()),
            DocKey::Latest("m".into()),
            DocKey::SumdbLookup(db(), "m@v1.0.0".into()),
            DocKey::SumdbTile(db(), "tile/8/0/000".into()),
        ] {
            assert!(!k.durable(), "{k:?}");
        }
    }
}
