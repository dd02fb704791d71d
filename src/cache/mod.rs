//! The verified cache: content-addressed blobs plus per-version records of
//! what was proven.
//!
//! Trust rule: a blob enters the store only inside a [`VerifiedZip`] or
//! [`VerifiedMod`]; a record read back from storage ([`ArtifactMeta`]) is
//! untrusted input until [`trust`] re-checked it against its blob and the
//! trust anchors; only then (or right after a verified create) does the
//! caller hold a [`StoredArtifact`], the one thing a blob can be opened
//! with, and every read of it re-checks its digest on the way ([`read`]).
//! Metadata documents (`.info`, lists, checksum-database tiles and lookups)
//! are written only after their own checks ran. Evidence objects (signature
//! files, [`DocKey::Evidence`]) are content-addressed documents written
//! before the record that names them ([`store_evidence`]) and read back by
//! digest for its re-check ([`load_evidence`]).
//!
//! [`Store`] is a trait because a shared object store implementation follows
//! the local disk one ([`DiskStore`]): it is async, and names locations only
//! through records, content addresses and [`DocKey`]s.

pub(crate) mod awsprofile;
pub(crate) mod disk;
pub(crate) mod object;
pub(crate) mod read;
pub(crate) mod recheck;

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use self::recheck::{RecheckError, RecheckedMeta};
use crate::artifact::{ArtifactKind, BlobDigests};
use crate::verify::proof::{EvidenceObjects, Proof, Recorded};
use crate::verify::zip::ZipLimits;
use crate::verify::{VerifiedMod, VerifiedZip};

pub(crate) use disk::DiskStore;
pub use object::ObjectStoreCache;
pub(crate) use object::{BucketProbe, StoreUrl, TierUsage};

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

impl ArtifactMeta {
    /// The record as a proof requirement of the policy in force sees it
    /// ([`crate::policy::Policy::satisfied`]).
    pub fn recorded(&self) -> Recorded<'_> {
        Recorded {
            kind: self.kind,
            module: &self.module,
            version: &self.version,
            h1: &self.h1,
            proofs: &self.proofs,
        }
    }
}

/// Serialized evidence of one proof, kept for audits and for the offline
/// re-check: each proof kind's own evidence type ([`crate::verify::proof`]).
pub(crate) type ProofRecord = crate::verify::Evidence;

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
    /// A content-addressed evidence object (a signature file) named by its
    /// lowercase hex SHA-256; only [`DocKey::evidence`] makes one.
    Evidence(String),
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
            DocKey::Evidence(sha) => {
                format!("evidence/sha256/{}/{sha}", sha.get(..2).unwrap_or_default())
            }
        }
    }

    /// The evidence object named `sha256`, if that is a content address
    /// (64 lowercase hex digits): records are untrusted input, and the name
    /// becomes a path.
    pub fn evidence(sha256: &str) -> Option<DocKey> {
        disk::is_sha256_hex(sha256).then(|| DocKey::Evidence(sha256.to_owned()))
    }

    /// Whether writing this document must survive a power cut: the trusted
    /// tree head, a fork report, and evidence objects (written before the
    /// record that names them). Tiles and lookups are re-authenticated and
    /// `.info`/list/`@latest` re-validated whenever they are read.
    pub fn durable(&self) -> bool {
        matches!(
            self,
            DocKey::SumdbHead(_) | DocKey::SumdbFork(_) | DocKey::Evidence(_)
        )
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
    /// The shared object store could not be reached or refused a request
    /// (served as 503: it heals without a restart).
    #[error("shared store unavailable: {op} {key}: {detail}")]
    Unavailable {
        op: &'static str,
        key: String,
        detail: String,
    },
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
pub(crate) struct SweepReport {
    /// Temp files left by an interrupted write.
    pub temp_files: u64,
}

/// The largest blob a "small" store operation reads (see
/// [`Store::small_io_inline`]): go.mod files, `.info`, most module zips.
pub(crate) const SMALL_IO: u64 = 64 << 10;

/// Blobs up to this size are read whole when opened ([`Store::open_blob`]),
/// in one call, and a zip this small is sent as one body once its digest
/// matched (most module zips are a few KiB); larger ones stream.
pub(crate) const SMALL_READ: u64 = 256 << 10;

/// A boxed future of a store operation. The trait is used as `dyn Store`
/// (one store chosen at start-up), and `async fn` in a trait is not
/// object-safe; boxing by hand costs one allocation per call, as the
/// `async-trait` crate would, without adding a dependency.
pub(crate) type StoreFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A stored artifact whose record passed its re-check ([`trust`]) or was
/// just written from a proof token. Only this module (and the stores in it)
/// can construct one, so opening or serving a blob — which requires one —
/// is impossible from a record that skipped the re-check:
///
/// ```compile_fail,E0451
/// fn forge(meta: goward::cache::ArtifactMeta) -> goward::cache::StoredArtifact {
///     goward::cache::StoredArtifact { meta }
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredArtifact {
    meta: ArtifactMeta,
}

impl StoredArtifact {
    /// Only for a record proven in this process (a store's create) or
    /// re-checked by [`trust`].
    fn new(meta: ArtifactMeta) -> StoredArtifact {
        StoredArtifact { meta }
    }

    /// The re-checked record.
    pub fn meta(&self) -> &ArtifactMeta {
        &self.meta
    }
}

impl std::ops::Deref for StoredArtifact {
    type Target = ArtifactMeta;
    fn deref(&self) -> &ArtifactMeta {
        &self.meta
    }
}

/// What a conditional create found.
#[derive(Debug)]
pub enum Created {
    /// The artifact was written (or the same bytes were recorded with the
    /// proofs just made): trusted, it was proven in this process.
    New(StoredArtifact),
    /// Another proven copy of the version was already stored and stays (the
    /// first proven copy wins). Read back from storage, so untrusted until
    /// re-checked ([`trust`]).
    Existing(ArtifactMeta),
}

/// Which record: an artifact kind of a module version.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecordId {
    /// Zip or go.mod.
    pub kind: ArtifactKind,
    /// Module path.
    pub module: String,
    /// Canonical version.
    pub version: String,
}

impl RecordId {
    /// The record of `kind` of `module@version`.
    pub fn new(kind: ArtifactKind, module: &str, version: &str) -> RecordId {
        RecordId {
            kind,
            module: module.to_owned(),
            version: version.to_owned(),
        }
    }

    /// The record `meta` claims to be.
    pub fn of(meta: &ArtifactMeta) -> RecordId {
        RecordId::new(meta.kind, &meta.module, &meta.version)
    }
}

/// One record found by [`Store::list_records`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordEntry {
    /// Where it is (a path for the disk store), for reports.
    pub location: String,
    /// Which record its location names; `Err` if the location is not a
    /// valid record name (such a file can only be quarantined).
    pub id: Result<RecordId, String>,
}

/// One page of [`Store::list_records_page`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordPage {
    /// The records among the page's keys, in key order.
    pub records: Vec<RecordEntry>,
    /// Where the next page starts (the last key this page looked at);
    /// `None`: this was the last page.
    pub next: Option<String>,
}

/// One blob found by [`Store::list_blobs`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobEntry {
    /// Where it is, for reports.
    pub location: String,
    /// Its name: the claimed lowercase hex SHA-256.
    pub name: String,
    /// Whether the name is a content address where the store puts it.
    pub well_named: bool,
    /// Size in bytes.
    pub size: u64,
    /// Last write.
    pub modified: Option<SystemTime>,
}

/// One re-fetchable document (`.info`, `@v/list`, `@latest`) found by
/// [`Store::list_docs`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DocEntry {
    /// Its key.
    pub key: DocKey,
    /// Where it is, for reports.
    pub location: String,
    /// Size in bytes.
    pub size: u64,
    /// Last write.
    pub modified: Option<SystemTime>,
}

/// A stored blob opened for reading: an async reader and the length the
/// store reports. Its bytes are unchecked: [`read`] hashes them on the way.
pub struct BlobReader {
    /// Length in bytes.
    pub len: u64,
    /// The bytes.
    pub reader: Pin<Box<dyn tokio::io::AsyncRead + Send>>,
}

impl fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobReader")
            .field("len", &self.len)
            .finish()
    }
}

/// A blob as a local, seekable file (the blob itself for a disk store; a
/// spooled copy for a remote one), for checks that need random access.
#[derive(Clone)]
pub struct LocalBlob {
    open: Arc<dyn Fn() -> std::io::Result<std::fs::File> + Send + Sync>,
    _spool: Option<Arc<tempfile::TempPath>>,
}

impl LocalBlob {
    /// A blob opened by `open` (each call a fresh handle).
    pub fn new(open: impl Fn() -> std::io::Result<std::fs::File> + Send + Sync + 'static) -> Self {
        LocalBlob {
            open: Arc::new(open),
            _spool: None,
        }
    }

    /// A spooled copy, removed when the last clone is dropped.
    pub fn spooled(path: tempfile::TempPath) -> Self {
        let p: PathBuf = path.to_path_buf();
        LocalBlob {
            open: Arc::new(move || std::fs::File::open(&p)),
            _spool: Some(Arc::new(path)),
        }
    }

    /// A new handle on the bytes.
    pub fn open(&self) -> std::io::Result<std::fs::File> {
        (self.open)()
    }
}

impl fmt::Debug for LocalBlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalBlob")
    }
}

/// The blob a record names, before the record is re-checked: only
/// [`digests`] makes one, to read the bytes for the re-check.
#[derive(Debug, Clone, Copy)]
pub struct UncheckedBlob<'a> {
    meta: &'a ArtifactMeta,
}

impl UncheckedBlob<'_> {
    /// Lowercase hex SHA-256 the record names the blob by.
    pub fn sha256(&self) -> &str {
        &self.meta.sha256
    }
    /// Size the record says.
    pub fn size(&self) -> u64 {
        self.meta.size
    }
}

/// Where verified artifacts live. Every operation is async so that a store
/// on the network fits; [`DiskStore`] runs what is cheap inline and what
/// fsyncs or reads much on the blocking pool.
pub trait Store: Send + Sync + fmt::Debug {
    /// Whether a small operation — reading a record, a document or a blob
    /// of at most [`SMALL_IO`] bytes, checking a small spooled zip — may run
    /// on an async worker, and [`Store::get_doc_now`] answers. A local disk
    /// answers those from the page cache in microseconds, less than handing
    /// them to a blocking thread costs (about 0.1 ms of wake-up per hop
    /// measured on the bench machine, several hops per request); a network
    /// store must say no.
    fn small_io_inline(&self) -> bool {
        false
    }

    /// Where the store is, for reports (the cache directory).
    fn describe(&self) -> String;

    /// Where the blob with this content address is (or would be), for reports.
    fn blob_location(&self, sha256: &str) -> String;

    /// Where a document is (or would be), for reports.
    fn doc_location(&self, key: &DocKey) -> String;

    /// A new local, seekable temp file: the spool for a download and its
    /// zip check, locked by its writer until it is committed or dropped.
    fn spool(&self) -> StoreFuture<'_, tempfile::NamedTempFile>;

    /// Stores a verified zip unless the version is already stored: a
    /// conditional create. The first proven copy stays (a different copy
    /// from the upstream is logged and dropped); the same bytes proven again
    /// are recorded with the new proofs.
    fn create_zip(&self, zip: VerifiedZip) -> StoreFuture<'_, Created>;

    /// Stores a verified go.mod (the same conditional create).
    fn create_mod(&self, m: VerifiedMod) -> StoreFuture<'_, Created>;

    /// The stored record of `id`, untrusted until re-checked. A damaged
    /// record proves nothing: it is quarantined and `None` returned.
    fn record<'a>(&'a self, id: &'a RecordId) -> StoreFuture<'a, Option<ArtifactMeta>>;

    /// The stored record of `id` as it is, damaged or not, leaving it in
    /// place (`Err`: why it does not parse).
    fn peek_record<'a>(
        &'a self,
        id: &'a RecordId,
    ) -> StoreFuture<'a, Result<Option<ArtifactMeta>, String>>;

    /// Every artifact record.
    fn list_records(&self) -> StoreFuture<'_, Vec<RecordEntry>>;

    /// The records among the next `limit` keys under `meta/` after the
    /// cursor `after` (a page's [`RecordPage::next`]; `None`: from the
    /// start), so a listing of any size is walked a page at a time. Keys
    /// come in byte order of their `/`-separated relative path on every
    /// store, so one module's records are contiguous (`meta/<escaped
    /// path>/@v/…` is a prefix no other module's key has) and the order
    /// does not depend on the store.
    fn list_records_page<'a>(
        &'a self,
        after: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, RecordPage>;

    /// The versions of `module` with a stored record (zip or go.mod),
    /// sorted, once each: offline mode's `@v/list`.
    fn versions<'a>(&'a self, module: &'a str) -> StoreFuture<'a, Vec<String>>;

    /// Every blob.
    fn list_blobs(&self) -> StoreFuture<'_, Vec<BlobEntry>>;

    /// Every re-fetchable document (`.info`, `@v/list`, `@latest`).
    fn list_docs(&self) -> StoreFuture<'_, Vec<DocEntry>>;

    /// Every evidence object ([`DocKey::Evidence`]), for `cache gc`.
    fn list_evidence(&self) -> StoreFuture<'_, Vec<DocEntry>>;

    /// Opens the blob of a re-checked artifact.
    fn open_blob<'a>(&'a self, artifact: &'a StoredArtifact) -> StoreFuture<'a, BlobReader>;

    /// The blob a record names as a local file, to re-check it.
    fn local_blob<'a>(&'a self, blob: UncheckedBlob<'a>) -> StoreFuture<'a, LocalBlob>;

    /// SHA-256 and size of a listed blob's bytes (`None`: gone meanwhile).
    fn hash_blob<'a>(&'a self, blob: &'a BlobEntry) -> StoreFuture<'a, Option<([u8; 32], u64)>>;

    /// Moves a blob that failed its digest check out of the way and forgets
    /// the record that pointed at it, so the next request re-fetches.
    fn quarantine<'a>(&'a self, meta: &'a ArtifactMeta, why: &'a str) -> StoreFuture<'a, ()>;

    /// Moves a record that failed its re-check out of the way, leaving its
    /// blob (intact, and maybe named by other records) in place.
    fn quarantine_record<'a>(&'a self, meta: &'a ArtifactMeta, why: &'a str)
    -> StoreFuture<'a, ()>;

    /// Moves a listed file that is neither a valid record nor a valid blob
    /// out of the way; returns where it went (`None`: already gone).
    fn quarantine_location<'a>(
        &'a self,
        location: &'a str,
        why: &'a str,
    ) -> StoreFuture<'a, Option<String>>;

    /// Removes a record (no error if absent).
    fn remove_record<'a>(&'a self, id: &'a RecordId) -> StoreFuture<'a, ()>;

    /// Removes a blob by its content address (returns whether it was there).
    fn remove_blob<'a>(&'a self, sha256: &'a str) -> StoreFuture<'a, bool>;

    /// Reads a document (an empty one counts as missing).
    fn get_doc<'a>(&'a self, key: &'a DocKey) -> StoreFuture<'a, Option<Bytes>>;

    /// [`Store::get_doc`] answered without waiting, for the checks that run
    /// synchronously on every request (is a fork reported?); `None` when
    /// this store cannot (any store that is not [`Store::small_io_inline`]).
    fn get_doc_now(&self, _key: &DocKey) -> Option<Result<Option<Bytes>, StoreError>> {
        None
    }

    /// Writes a document atomically.
    fn put_doc<'a>(&'a self, key: &'a DocKey, bytes: Bytes) -> StoreFuture<'a, ()>;

    /// Removes a document; returns whether it was there.
    fn delete_doc<'a>(&'a self, key: &'a DocKey) -> StoreFuture<'a, bool>;

    /// Before fetching `id` from the upstream: takes this store's fill lease
    /// on it, so that replicas sharing the store fetch a cold version once.
    /// Returns `true` when another replica stored the version meanwhile
    /// (read the record again instead of fetching). Never needed for
    /// correctness (blobs are content-addressed and records created
    /// conditionally): a store without leases answers `false` at once.
    fn begin_fill<'a>(&'a self, _id: &'a RecordId) -> StoreFuture<'a, bool> {
        Box::pin(std::future::ready(Ok(false)))
    }

    /// What this replica remembers of an earlier re-check of a blob: the
    /// digests it computed (the memo text [`digests`] writes: `h1:` and,
    /// for a zip, its go.mod's SHA-256) from bytes whose SHA-256, size,
    /// kind, module version (for a zip) and zip limits `key` names. Kept
    /// only where this replica alone writes (a shared store's local tier),
    /// so the bucket cannot forge one; `None`: not remembered, or a store
    /// that keeps no memo (the disk store re-checks once per process).
    fn remembered_digests(&self, _key: &str) -> Option<String> {
        None
    }

    /// Remembers the digests computed from the bytes `key` names ([`Store::remembered_digests`]).
    fn remember_digests(&self, _key: &str, _digests: &str) {}

    /// Releases the lease [`Store::begin_fill`] took, whatever the fill's outcome.
    fn end_fill<'a>(&'a self, _id: &'a RecordId) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(Ok(())))
    }

    /// On shutdown: releases every fill lease this process still holds. A
    /// fill's release runs after its answer and may not have run yet; left
    /// in the bucket, the lease would make a replica that needs the version
    /// again (its record quarantined meanwhile) wait for it to expire.
    fn release_fills(&self) -> StoreFuture<'_, ()> {
        Box::pin(std::future::ready(Ok(())))
    }

    /// Writes `new` only if the document still holds `expected` (`None`:
    /// absent or empty), atomically with respect to every process sharing
    /// the store; returns whether it was written. This keeps two processes
    /// from rolling the trusted tree head back over each other.
    fn compare_and_swap_doc<'a>(
        &'a self,
        key: &'a DocKey,
        expected: Option<Bytes>,
        new: Bytes,
    ) -> StoreFuture<'a, bool>;
}

/// Runs a store operation to completion from synchronous code (the
/// offline commands), on a runtime of its own: never call it from async code.
pub(crate) fn block_on<F: Future>(f: F) -> Result<F::Output, StoreError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(offline_blocking_threads())
        .build()
        .map_err(|e| StoreError::io("start", "async runtime", e))?;
    Ok(rt.block_on(f))
}

/// The blocking-thread cap of an offline command's runtime ([`block_on`],
/// `bundle export`), instead of tokio's 512. Their blocking work is file
/// reads, zip checks and fsyncs for a handful of versions at a time (an
/// import proves 8 at once, each step after step), bound by the cores and
/// the disk; yet unbounded, an import grew to 25–50 threads, each a
/// potential glibc malloc arena (up to 8 per core). Two per core keeps
/// fsync waits overlapping with checks; a store commit adds one short-lived
/// fsync thread per blocking task, so the process stays near 1 + 2 × cap
/// threads, under glibc's arena limit from two cores on. At least 4, so a
/// one-core machine still overlaps I/O; at most 16.
pub(crate) fn offline_blocking_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .saturating_mul(2)
        .clamp(4, 16)
}

/// A stored blob's digests as read back for the re-check of one record.
/// Only [`digests`] makes one, from the bytes the store holds; [`trust`]
/// accepts it only for a record naming the same blob (and, for a zip, the
/// same module version, whose rules the zip was checked against).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Digested {
    sha256: String,
    size: u64,
    zip_of: Option<(String, String)>,
    digests: Result<BlobDigests, RecheckError>,
}

impl Digested {
    fn key(meta: &ArtifactMeta) -> (String, u64, Option<(String, String)>) {
        (
            meta.sha256.clone(),
            meta.size,
            (meta.kind == ArtifactKind::Zip).then(|| (meta.module.clone(), meta.version.clone())),
        )
    }

    /// Whether these digests stand for the blob `meta` names, read as `meta`'s kind.
    pub(crate) fn fits(&self, meta: &ArtifactMeta) -> bool {
        let (sha256, size, zip_of) = Digested::key(meta);
        (sha256, size, zip_of) == (self.sha256.clone(), self.size, self.zip_of.clone())
    }
}

/// Reads the blob `meta` names back and computes its digests as the
/// artifact `meta` records (a zip passes every module-zip rule on the way,
/// [`recheck::blob_digests`]). Small blobs are read inline where the store
/// allows it, others on the blocking pool. `Err`: the shared store could
/// not be reached ([`StoreError::Unavailable`]), which says nothing about
/// the blob: it must not be quarantined for it.
///
/// Digests remembered from an earlier re-check of the same bytes
/// ([`Store::remembered_digests`]) are used instead of reading the blob:
/// the memo is keyed by the blob's SHA-256 (so it says nothing about other
/// bytes under that name, which the verifying read of the blob catches),
/// its size, kind, module version and the zip limits, and only ever
/// written from digests computed here. It keeps a zip's go.mod SHA-256
/// too, so neither a signed zip's re-check nor that of the go.mod it
/// covers ([`load_evidence`]) re-reads a zip checked before.
pub(crate) async fn digests(
    store: &dyn Store,
    meta: &ArtifactMeta,
    limits: &ZipLimits,
) -> Result<Digested, StoreError> {
    let (sha256, size, zip_of) = Digested::key(meta);
    let remembered = store
        .remembered_digests(&memo_key(&meta.sha256, meta.size, zip_of.as_ref(), limits))
        .and_then(|text| parse_memo(&text))
        .zip(unhex32(&meta.sha256));
    if let Some(((h1, go_mod_sha256), sha)) = remembered {
        metrics::counter!("goward_recheck_blobs_total", "source" => "remembered").increment(1);
        return Ok(Digested {
            sha256,
            size,
            zip_of,
            digests: Ok(BlobDigests {
                h1,
                sha256: sha,
                size: meta.size,
                go_mod_sha256,
            }),
        });
    }
    let digests = match store.local_blob(UncheckedBlob { meta }).await {
        Err(e @ StoreError::Unavailable { .. }) => return Err(e),
        Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Err(RecheckError::Blob("blob is missing".into()))
        }
        Err(e) => Err(RecheckError::Blob(format!("blob unreadable: {e}"))),
        Ok(local) if meta.size <= SMALL_IO && store.small_io_inline() => {
            recheck::blob_digests(&local, meta, limits)
        }
        Ok(local) => {
            let (m, l) = (meta.clone(), limits.clone());
            tokio::task::spawn_blocking(move || recheck::blob_digests(&local, &m, &l))
                .await
                .unwrap_or_else(|e| Err(RecheckError::Blob(format!("blob unreadable: {e}"))))
        }
    };
    if let Ok(d) = &digests {
        metrics::counter!("goward_recheck_blobs_total", "source" => "hashed").increment(1);
        // Keyed by what the bytes are, not by what the record says.
        let key = memo_key(&disk::hex(&d.sha256), d.size, zip_of.as_ref(), limits);
        store.remember_digests(&key, &memo_text(d));
    }
    Ok(Digested {
        sha256,
        size,
        zip_of,
        digests,
    })
}

/// The key of a re-check memo ([`Store::remembered_digests`]): everything
/// the computed digests (and the zip rules passed) depend on, with a
/// format tag (v1 memos held no go.mod digest: they are not read).
fn memo_key(sha256: &str, size: u64, zip_of: Option<&(String, String)>, l: &ZipLimits) -> String {
    let what = match zip_of {
        Some((m, v)) => format!("zip {m} {v}"),
        None => "mod".to_owned(),
    };
    format!(
        "goward-recheck-v2 {sha256} {size} {what} limits {} {} {} {}",
        l.max_zip_file, l.max_go_mod, l.max_license, l.max_entries
    )
}

/// A memo's text: the `h1:` and the zip's go.mod SHA-256 (`-`: none).
fn memo_text(d: &BlobDigests) -> String {
    let go_mod = d
        .go_mod_sha256
        .map_or_else(|| "-".to_owned(), |h| disk::hex(&h));
    format!("{} {go_mod}", d.h1.as_str())
}

/// [`memo_text`] read back; `None` (not remembered) for anything else.
fn parse_memo(text: &str) -> Option<(crate::artifact::H1, Option<[u8; 32]>)> {
    let (h1, go_mod) = text.split_once(' ')?;
    let h1 = crate::artifact::H1::parse(h1).ok()?;
    let go_mod = match go_mod {
        "-" => None,
        hex => Some(unhex32(hex)?),
    };
    Some((h1, go_mod))
}

/// A lowercase hex SHA-256 as bytes.
fn unhex32(s: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if s.len() != 64 {
        return None;
    }
    for (o, pair) in out.iter_mut().zip(s.as_bytes().chunks(2)) {
        let text = std::str::from_utf8(pair).ok()?;
        *o = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

/// Stores the evidence objects of `proofs` ([`Proof::evidence_object`])
/// before a record naming them is written (durably: a record that survives
/// a power cut finds them). Created only if absent, so the zip's and the
/// go.mod's records share one copy of a signature; an object there with
/// other bytes than its name says (damaged) is replaced. No lock or
/// compare-and-swap is needed: the name fixes the content, so concurrent
/// writers write the same bytes, each write atomic. A store's
/// `create_zip`/`create_mod` call this first.
pub(crate) async fn store_evidence(store: &dyn Store, proofs: &[Proof]) -> Result<(), StoreError> {
    for (sha256, bytes) in proofs.iter().filter_map(Proof::evidence_object) {
        let Some(key) = DocKey::evidence(&sha256) else {
            continue;
        };
        match store.get_doc(&key).await? {
            Some(b) if crate::xmod::dirhash::hex(&crate::xmod::dirhash::sha256(&b)) == sha256 => {
                continue;
            }
            Some(_) => {
                tracing::warn!(object = %store.doc_location(&key), "replacing a damaged evidence object");
            }
            None => {}
        }
        store.put_doc(&key, bytes).await?;
    }
    Ok(())
}

/// Reads the evidence objects `meta`'s proofs name, for its re-check
/// ([`trust`]). Unchecked here: [`EvidenceObjects::get`] checks each one's
/// digest where it is used. For a go.mod covered by a signed zip, the
/// stored zip with the signed SHA-256 is re-read too (module-zip rules,
/// `limits`) for the go.mod inside it.
pub(crate) async fn load_evidence(
    store: &dyn Store,
    meta: &ArtifactMeta,
    limits: &ZipLimits,
) -> EvidenceObjects {
    let mut out = EvidenceObjects::default();
    for sha256 in meta.proofs.iter().flat_map(ProofRecord::objects) {
        let read = match DocKey::evidence(sha256) {
            Some(key) => store.get_doc(&key).await.map_err(|e| e.to_string()),
            None => Err("its name is not a SHA-256 (64 lowercase hex digits)".into()),
        };
        out.insert(sha256, read);
    }
    for zip in meta.proofs.iter().flat_map(|p| p.zips(meta.kind)) {
        let read = stored_zip_go_mod(store, meta, zip, limits).await;
        out.insert_zip_go_mod(zip, read);
    }
    out
}

/// The bytes of the signature file a record's signature evidence names,
/// read from this store and checked against its SHA-256 (or the inline copy
/// of a record written before evidence objects): for whoever needs the file
/// itself (bundle export) rather than a re-check. Built on
/// [`Evidence::signature_bytes`](crate::verify::proof::signature::kind::Evidence::signature_bytes),
/// the one reader of a recorded signature.
pub(crate) async fn signature_bytes(
    store: &dyn Store,
    evidence: &crate::verify::proof::signature::kind::Evidence,
) -> Result<Bytes, String> {
    let mut objects = EvidenceObjects::default();
    if let Some(sha256) = &evidence.signature_sha256 {
        let read = match DocKey::evidence(sha256) {
            Some(key) => store.get_doc(&key).await.map_err(|e| e.to_string()),
            None => Err("its name is not a SHA-256 (64 lowercase hex digits)".into()),
        };
        objects.insert(sha256, read);
    }
    evidence
        .signature_bytes(&objects)
        .map(Bytes::copy_from_slice)
}

/// The root go.mod's SHA-256 of the stored zip of `meta`'s version whose
/// bytes hash to `zip` (its record only says where the blob is: the bytes
/// are hashed and checked by the module-zip rules here, or were by this
/// replica before: [`digests`]).
async fn stored_zip_go_mod(
    store: &dyn Store,
    meta: &ArtifactMeta,
    zip: &str,
    limits: &ZipLimits,
) -> Result<Option<[u8; 32]>, String> {
    let id = RecordId::new(ArtifactKind::Zip, &meta.module, &meta.version);
    let zip_meta = match store.peek_record(&id).await {
        Ok(Ok(Some(m))) if m.sha256 == zip => m,
        Ok(Ok(Some(m))) => {
            return Err(format!(
                "the stored zip of {}@{} is another one ({})",
                meta.module, meta.version, m.sha256
            ));
        }
        Ok(Ok(None)) => {
            return Err(format!(
                "no zip of {}@{} is stored",
                meta.module, meta.version
            ));
        }
        Ok(Err(e)) => return Err(format!("the zip's record is damaged: {e}")),
        Err(e) => return Err(e.to_string()),
    };
    let d = match digests(store, &zip_meta, limits).await {
        Ok(d) => d,
        Err(e) => return Err(e.to_string()),
    };
    match d.digests {
        Ok(b) if crate::xmod::dirhash::hex(&b.sha256) == zip => Ok(b.go_mod_sha256),
        Ok(b) => Err(format!(
            "its blob's SHA-256 is {}",
            crate::xmod::dirhash::hex(&b.sha256)
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// A record that failed its re-check, handed back for quarantine.
#[derive(Debug)]
pub(crate) struct Rejected {
    /// The record.
    pub meta: ArtifactMeta,
    /// Why.
    pub error: RecheckError,
}

/// The one way a record read back from storage becomes a
/// [`StoredArtifact`]: [`recheck::recheck_record`] of `meta` as the record
/// of `want`, against the digests of the blob it names and the evidence
/// objects it names ([`load_evidence`]).
pub(crate) fn trust(
    meta: ArtifactMeta,
    want: (ArtifactKind, &str, &str),
    blob: &Digested,
    objects: &EvidenceObjects,
    anchors: &recheck::Anchors<'_>,
) -> Result<(StoredArtifact, RecheckedMeta), Box<Rejected>> {
    if !blob.fits(&meta) {
        return Err(Box::new(Rejected {
            meta,
            error: RecheckError::WrongBlob("the digests were read for another blob".into()),
        }));
    }
    let checked = blob.digests.clone().and_then(|d| {
        // A zip's evidence may record its go.mod's digest: as read now.
        let mut objects = objects.clone();
        if meta.kind == ArtifactKind::Zip {
            objects.insert_zip_go_mod(&meta.sha256, Ok(d.go_mod_sha256));
        }
        recheck::recheck_record(&meta, want, &d, &objects, anchors)
    });
    match checked {
        Ok(r) => Ok((StoredArtifact::new(meta), r)),
        Err(error) => Err(Box::new(Rejected { meta, error })),
    }
}

/// What [`recheck`] found: the trusted artifact, or the rejected record.
pub(crate) type Rechecked = Result<(StoredArtifact, RecheckedMeta), Box<Rejected>>;

/// [`digests`] and [`load_evidence`], then [`trust`]. `Err`: the blob could
/// not be read from a shared store that is unreachable (nothing was decided
/// about the record).
pub(crate) async fn recheck(
    store: &dyn Store,
    meta: ArtifactMeta,
    want: (ArtifactKind, &str, &str),
    limits: &ZipLimits,
    anchors: &recheck::Anchors<'_>,
) -> Result<Rechecked, StoreError> {
    let d = digests(store, &meta, limits).await?;
    let objects = load_evidence(store, &meta, limits).await;
    Ok(trust(meta, want, &d, &objects, anchors))
}

/// Helpers for the store's tests: proven go.mod files without a network.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::policy::Policy;
    use crate::verify::{Proof, gomod};

    /// The module every helper is about.
    pub(crate) const M: &str = "example.com/m";

    /// A disk store (`dir/cache`) and an object store on an in-memory
    /// bucket (local tier `dir/tier`): tests that must hold for both.
    pub(crate) fn both_stores(dir: &std::path::Path) -> (DiskStore, ObjectStoreCache) {
        let remote: Arc<dyn object_store::ObjectStore> =
            Arc::new(object_store::memory::InMemory::new());
        let (disk, _) = DiskStore::open(dir.join("cache")).unwrap();
        let object =
            ObjectStoreCache::new(remote, "p", "s3://b/p".into(), &dir.join("tier"), 1 << 20)
                .unwrap();
        (disk, object)
    }

    /// [`both_stores`], with the bucket (objects under `p/`) to plant
    /// objects in.
    pub(crate) fn both_stores_and_bucket(
        dir: &std::path::Path,
    ) -> (
        DiskStore,
        ObjectStoreCache,
        Arc<dyn object_store::ObjectStore>,
    ) {
        let remote: Arc<dyn object_store::ObjectStore> =
            Arc::new(object_store::memory::InMemory::new());
        let (disk, _) = DiskStore::open(dir.join("cache")).unwrap();
        let object = ObjectStoreCache::new(
            remote.clone(),
            "p",
            "s3://b/p".into(),
            &dir.join("tier"),
            1 << 20,
        )
        .unwrap();
        (disk, object, remote)
    }

    /// A policy (in `dir`) pinning `text` as the go.mod of `M@v1.0.0`.
    pub(crate) fn pinning(dir: &std::path::Path, text: &str) -> Policy {
        let h1 = crate::xmod::dirhash::hash_go_mod(text.as_bytes());
        std::fs::write(dir.join("pins.sum"), format!("{M} v1.0.0/go.mod {h1}\n")).unwrap();
        let origin = dir.join("policy.toml");
        Policy::parse(
            "[[allow]]\nname = \"m\"\nmodules = \"example.com/m\"\nproof = [\"pinned\"]\npins = [\"pins.sum\"]\n",
            origin.to_str().unwrap(),
        )
        .unwrap()
    }

    /// `text` as the go.mod of `M@v1.0.0`, proven by the pin of `policy`.
    pub(crate) fn verified_mod(text: &str, policy: &Policy) -> VerifiedMod {
        let checked =
            gomod::check_mod(M, "v1.0.0", Bytes::from(text.to_owned())).expect("valid go.mod");
        let pin = policy.pin(M, "v1.0.0", ArtifactKind::Mod).expect("pinned");
        VerifiedMod::new(checked, vec![Proof::Pinned(pin)]).expect("proven")
    }

    /// A go.mod of about `len` bytes (comments after the module line).
    pub(crate) fn go_mod_text(len: usize) -> String {
        let mut s = format!("module {M}\n");
        let mut i = 0u32;
        while s.len() < len {
            s.push_str(&format!("// line {i} of padding to make a larger blob\n"));
            i += 1;
        }
        s
    }

    /// The record id of the go.mod of `M@v1.0.0`.
    pub(crate) fn mod_id() -> RecordId {
        RecordId::new(ArtifactKind::Mod, M, "v1.0.0")
    }
}

#[cfg(test)]
mod tests {
    use std::task::{Context, Poll};

    use super::testing::*;
    use super::*;

    /// Paged record listings see every record once, in byte order of the
    /// key (a module's records together), on disk and in a bucket alike,
    /// whatever the page size; other files under `meta/` take a place in
    /// a page but are not records.
    #[tokio::test]
    async fn record_pages_walk_every_record_once_in_key_order() {
        let dir = tempfile::tempdir().unwrap();
        let (disk, object, bucket) = both_stores_and_bucket(dir.path());
        let keys = [
            "example.com/a/sub/@v/v0.1.0.mod.json",
            "example.com/a/@v/v1.0.0.zip.json",
            "example.com/a/@v/list",
            "example.com/a-b/@v/v1.0.0.zip.json",
            "example.com/a/@v/v1.0.0.mod.json",
            "example.com/a/@latest",
            "golang.org/x/text/@v/v0.3.0.mod.json",
        ];
        for k in keys {
            let path = crate::cache::disk::local_path(&dir.path().join("cache/meta"), k);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, b"{}").unwrap();
            object_store::ObjectStoreExt::put(
                &*bucket,
                &object_store::path::Path::from(format!("p/meta/{k}")),
                Bytes::from_static(b"{}").into(),
            )
            .await
            .unwrap();
        }
        let id = |kind, m: &str, v: &str| RecordId::new(kind, m, v);
        let want = vec![
            id(ArtifactKind::Zip, "example.com/a-b", "v1.0.0"),
            id(ArtifactKind::Mod, "example.com/a", "v1.0.0"),
            id(ArtifactKind::Zip, "example.com/a", "v1.0.0"),
            id(ArtifactKind::Mod, "example.com/a/sub", "v0.1.0"),
            id(ArtifactKind::Mod, "golang.org/x/text", "v0.3.0"),
        ];
        let stores: [&dyn Store; 2] = [&disk, &object];
        for store in stores {
            let at = store.describe();
            let mut all: Vec<RecordEntry> = store.list_records().await.unwrap();
            all.sort_by(|a, b| a.location.cmp(&b.location));
            for limit in [1, 2, 3, 7, 100] {
                let (mut got, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
                loop {
                    let page = store
                        .list_records_page(cursor.as_deref(), limit)
                        .await
                        .unwrap();
                    pages += 1;
                    assert!(page.records.len() <= limit, "{at}: {limit}: {page:?}");
                    got.extend(page.records);
                    match page.next {
                        Some(n) => cursor = Some(n),
                        None => break,
                    }
                }
                assert_eq!(pages, keys.len().div_ceil(limit), "{at}: {limit}");
                let ids: Vec<RecordId> = got.iter().map(|e| e.id.clone().unwrap()).collect();
                assert_eq!(ids, want, "{at}: {limit}");
                got.sort_by(|a, b| a.location.cmp(&b.location));
                assert_eq!(
                    got, all,
                    "{at}: {limit}: the same entries as the full listing"
                );
            }
        }
    }

    #[test]
    fn only_the_tree_head_fork_report_and_evidence_are_durable() {
        let db = || "sum.golang.org".to_owned();
        assert!(DocKey::SumdbHead(db()).durable());
        assert!(DocKey::SumdbFork(db()).durable());
        let sha = "ab".repeat(32);
        let ev = DocKey::evidence(&sha).unwrap();
        assert!(ev.durable());
        assert_eq!(ev.rel_path(), format!("evidence/sha256/ab/{sha}"));
        // A record's name for an object becomes a path: only a content address does.
        for bad in ["../../meta/x", &"AB".repeat(32), "ab", &format!("{sha}/x")] {
            assert_eq!(DocKey::evidence(bad), None, "{bad}");
        }
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

    /// A module zip of `M@v1.0.0` with `go_mod` as its go.mod.
    fn module_zip(go_mod: &str) -> Vec<u8> {
        use std::io::Write as _;
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        for (name, data) in [("go.mod", go_mod), ("x.go", "package x\n")] {
            w.start_file(format!("{M}@v1.0.0/{name}"), opts).unwrap();
            w.write_all(data.as_bytes()).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    /// `cosign sign-blob --key` with the fixture key (cosign.key.pem, whose
    /// public half is cosign.pub): base64 of the DER ECDSA signature.
    fn cosign_sign(dir: &str, bytes: &[u8]) -> String {
        use base64::Engine as _;
        use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair};
        let pem = std::fs::read_to_string(format!("{dir}cosign.key.pem")).unwrap();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let rng = ring::rand::SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &der, &rng).unwrap();
        let sig = pair.sign(&rng, bytes).unwrap();
        base64::engine::general_purpose::STANDARD.encode(sig.as_ref())
    }

    /// Evidence objects: written once before the record, one copy for the
    /// zip's and the go.mod's signature, read back by digest for the
    /// re-check; a missing or altered one fails it, naming the object; a
    /// new create replaces a damaged one; a go.mod covered by a signed zip
    /// re-checks only while that zip is stored. The same on disk and on an
    /// object store.
    #[tokio::test]
    async fn evidence_objects_are_content_addressed_and_checked_on_read() {
        use crate::policy::Policy;
        use crate::verify::proof::signature::kind::SignedArtifact;
        use crate::verify::{Proof, gomod};
        const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/sigstore/");
        let dir = tempfile::tempdir().unwrap();
        let text = go_mod_text(100);
        std::fs::copy(format!("{DIR}cosign.pub"), dir.path().join("cosign.pub")).unwrap();
        let policy = Policy::parse(
            "[[signer]]\nname = \"good\"\nkey = \"cosign.pub\"\n",
            dir.path().join("policy.toml").to_str().unwrap(),
        )
        .unwrap();
        let zip = module_zip(&text);
        let sig = cosign_sign(DIR, &zip);
        let zip_sha = crate::xmod::dirhash::sha256(&zip);
        let mod_sha = crate::xmod::dirhash::sha256(text.as_bytes());
        let signed = |kind| {
            let s = SignedArtifact::verify(
                (kind, M, "v1.0.0"),
                (&zip_sha, Some(&mod_sha)),
                &sig,
                &[policy.signer("good").unwrap()],
            )
            .unwrap();
            vec![Proof::Signature(s)]
        };
        let proven_zip = || {
            let mut f = tempfile::NamedTempFile::new().unwrap();
            std::io::Write::write_all(&mut f, &zip).unwrap();
            let checked =
                crate::verify::zip::check_zip(f, M, "v1.0.0", &ZipLimits::default()).unwrap();
            VerifiedZip::new(checked, signed(ArtifactKind::Zip)).unwrap()
        };
        let proven_mod = || {
            let checked = gomod::check_mod(M, "v1.0.0", Bytes::from(text.clone())).unwrap();
            VerifiedMod::new(checked, signed(ArtifactKind::Mod)).unwrap()
        };
        let obj = crate::xmod::dirhash::hex(&crate::xmod::dirhash::sha256(sig.as_bytes()));
        let key = DocKey::evidence(&obj).unwrap();
        let anchors = recheck::Anchors {
            sumdb_keys: &[],
            policy: &policy,
        };
        let limits = ZipLimits::default();
        let want = (ArtifactKind::Mod, M, "v1.0.0");
        let zip_want = (ArtifactKind::Zip, M, "v1.0.0");
        let zip_id = RecordId::new(ArtifactKind::Zip, M, "v1.0.0");

        let (disk, object) = both_stores(dir.path());
        let stores: [&dyn Store; 2] = [&disk, &object];
        for store in stores {
            let at = store.describe();
            let Created::New(_) = store.create_zip(proven_zip()).await.unwrap() else {
                panic!("{at}: nothing was stored before")
            };
            let Created::New(_) = store.create_mod(proven_mod()).await.unwrap() else {
                panic!("{at}: nothing was stored before")
            };
            // One object for both records.
            let listed = store.list_evidence().await.unwrap();
            assert_eq!(listed.len(), 1, "{at}: {listed:?}");
            assert_eq!(listed[0].key, key, "{at}");
            assert_eq!(
                store.get_doc(&key).await.unwrap().unwrap(),
                sig.as_bytes(),
                "{at}"
            );
            let meta = store.record(&mod_id()).await.unwrap().unwrap();
            let Some(ProofRecord::Signature(ev)) = meta.proofs.first() else {
                panic!("{at}: no signature evidence")
            };
            assert_eq!(signature_bytes(store, ev).await.unwrap(), sig.as_bytes());
            let json = serde_json::to_string(&meta).unwrap();
            assert!(
                json.contains(&format!("\"signature_sha256\":\"{obj}\"")),
                "{json}"
            );
            assert!(
                !json.contains("\"signature\":"),
                "{at}: the file is inline: {json}"
            );
            let check = |meta: ArtifactMeta| async {
                recheck(store, meta, want, &limits, &anchors)
                    .await
                    .expect("the store is reachable")
                    .map(|_| ())
                    .map_err(|r| (r.error.what(), r.error.to_string()))
            };
            check(meta.clone()).await.unwrap();
            // The zip's record, which records its go.mod: on the object
            // store its digests come from the memo the go.mod's re-check
            // wrote, which keeps that go.mod's digest.
            let zip_meta = store.record(&zip_id).await.unwrap().unwrap();
            recheck(store, zip_meta, zip_want, &limits, &anchors)
                .await
                .expect("the store is reachable")
                .unwrap_or_else(|r| panic!("{at}: {}", r.error));
            // The same signature again: still one object.
            let _ = store.create_mod(proven_mod()).await.unwrap();
            assert_eq!(store.list_evidence().await.unwrap().len(), 1, "{at}");

            let who = "signature by signer \"good\"";
            let not = format!("{who}: the recorded signature is not available: evidence object");
            store
                .put_doc(&key, Bytes::from_static(b"junk"))
                .await
                .unwrap();
            let junk = crate::xmod::dirhash::hex(&crate::xmod::dirhash::sha256(b"junk"));
            assert_eq!(
                check(meta.clone()).await,
                Err((
                    "proof",
                    format!("{not} {obj} is altered: its SHA-256 is {junk}")
                )),
                "{at}"
            );
            // Proving it again replaces the damaged object.
            let _ = store.create_mod(proven_mod()).await.unwrap();
            assert_eq!(store.get_doc(&key).await.unwrap().unwrap(), sig.as_bytes());
            check(meta.clone()).await.unwrap();
            assert!(store.delete_doc(&key).await.unwrap());
            assert_eq!(
                check(meta.clone()).await,
                Err(("proof", format!("{not} {obj} is missing"))),
                "{at}"
            );
            let _ = store.create_mod(proven_mod()).await.unwrap();
            // A record naming something that is not a content address.
            let mut odd = meta.clone();
            if let Some(ProofRecord::Signature(e)) = odd.proofs.last_mut() {
                e.signature_sha256 = Some("../../meta/x".into());
            }
            assert_eq!(
                check(odd).await,
                Err((
                    "proof",
                    format!(
                        "{not} ../../meta/x is unreadable: its name is not a SHA-256 (64 lowercase hex digits)"
                    )
                )),
                "{at}"
            );
            // The go.mod is the signed zip's: without that zip stored, it
            // cannot be re-checked.
            check(meta.clone()).await.unwrap();
            store
                .remove_record(&RecordId::new(ArtifactKind::Zip, M, "v1.0.0"))
                .await
                .unwrap();
            assert_eq!(
                check(meta.clone()).await,
                Err((
                    "proof",
                    format!(
                        "{who}: the signed zip {} cannot be re-read: no zip of {M}@v1.0.0 is stored",
                        crate::xmod::dirhash::hex(&zip_sha)
                    )
                )),
                "{at}"
            );
        }
    }

    /// A memo's text reads back as the digests written; anything else
    /// (a v1 memo's bare `h1:`, a damaged file) is not remembered.
    #[test]
    fn memo_text_round_trips_and_rejects_anything_else() {
        let h1 =
            crate::artifact::H1::parse("h1:NnGvEkTHyKKlgPcQSue0skqyqiS1EfBSAh+0WaWZYmE=").unwrap();
        for go_mod in [None, Some([7u8; 32])] {
            let d = BlobDigests {
                h1: h1.clone(),
                sha256: [1; 32],
                size: 5,
                go_mod_sha256: go_mod,
            };
            assert_eq!(parse_memo(&memo_text(&d)), Some((h1.clone(), go_mod)));
        }
        for bad in [h1.as_str(), "h1:x -", "", &format!("{} 0707", h1.as_str())] {
            assert_eq!(parse_memo(bad), None, "{bad:?}");
        }
    }

    /// A local disk answers small reads inline (no hop to the blocking
    /// pool): the future is ready at its first poll, outside any runtime.
    #[test]
    fn small_disk_reads_complete_without_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let (disk, _) = DiskStore::open(dir.path()).unwrap();
        let k = DocKey::List("example.com/m".into());
        block_on(disk.put_doc(&k, Bytes::from_static(b"v1.0.0\n")))
            .unwrap()
            .unwrap();
        assert!(disk.small_io_inline());
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut f = disk.get_doc(&k);
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(r) => assert_eq!(r.unwrap(), Some(Bytes::from_static(b"v1.0.0\n"))),
            Poll::Pending => panic!("a small disk read waited"),
        }
        assert_eq!(
            disk.get_doc_now(&k).unwrap().unwrap(),
            Some(Bytes::from_static(b"v1.0.0\n"))
        );
    }

    /// A record read back becomes a `StoredArtifact` only through the
    /// re-check: the intact record passes, the same record over damaged
    /// bytes, or with digests read for another blob, is rejected.
    #[tokio::test]
    async fn a_stored_artifact_comes_only_from_a_recheck() {
        let dir = tempfile::tempdir().unwrap();
        let (disk, _) = DiskStore::open(dir.path().join("cache")).unwrap();
        let text = go_mod_text(100);
        let policy = pinning(dir.path(), &text);
        let Created::New(written) = disk.create_mod(verified_mod(&text, &policy)).await.unwrap()
        else {
            panic!("nothing was stored before")
        };
        let anchors = recheck::Anchors {
            sumdb_keys: &[],
            policy: &policy,
        };
        let limits = ZipLimits::default();
        let want = (ArtifactKind::Mod, M, "v1.0.0");
        let meta = disk.record(&mod_id()).await.unwrap().expect("stored");
        let (again, notes) = recheck(&disk, meta.clone(), want, &limits, &anchors)
            .await
            .unwrap()
            .expect("an intact record passes");
        assert_eq!(again, written);
        assert!(notes.unanchored.is_empty(), "{notes:?}");

        // Asked as another version: refused.
        let e = recheck(
            &disk,
            meta.clone(),
            (ArtifactKind::Mod, M, "v1.0.1"),
            &limits,
            &anchors,
        )
        .await
        .unwrap()
        .unwrap_err();
        assert_eq!(e.error.what(), "metadata", "{}", e.error);

        // Digests of another blob cannot vouch for this record.
        let mut other = meta.clone();
        other.sha256 = "0".repeat(64);
        let d = digests(&disk, &other, &limits).await.unwrap();
        assert!(!d.fits(&meta));
        let e = trust(
            meta.clone(),
            want,
            &d,
            &EvidenceObjects::default(),
            &anchors,
        )
        .unwrap_err();
        assert_eq!(e.error.what(), "metadata", "{}", e.error);

        // Damaged bytes of the same length.
        let blob = std::path::PathBuf::from(disk.blob_location(&meta.sha256));
        let mut bytes = std::fs::read(&blob).unwrap();
        bytes[20] ^= 1;
        std::fs::write(&blob, &bytes).unwrap();
        let e = recheck(&disk, meta, want, &limits, &anchors)
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(e.error.what(), "blob", "{}", e.error);
    }
}
