//! The shared object store: several goward replicas on one S3-compatible
//! bucket (`--store s3://bucket[/prefix]`).
//!
//! The bucket holds exactly the disk layout ([`DocKey::rel_path`], records
//! under `meta/`, blobs under `blobs/sha256/ab/<sha256>`), under the prefix.
//! To a replica it is shared, writable by others, and so untrusted input:
//! every record read back goes through the same [`super::trust`] re-check as
//! on disk (signed note against the configured key, record line against the
//! `h1:`, the blob's own `h1:` and zip rules recomputed on first use), and
//! every blob is hashed on its way to a client ([`super::read`]).
//!
//! Writes: a blob is spooled and verified locally, then uploaded (one
//! conditional `PUT` with `If-None-Match: *`, or a multipart upload that is
//! completed only once the whole verified spool is sent, so a replica killed
//! mid-upload leaves no visible object), then its record is created with
//! `If-None-Match: *`: the first proven copy of a version wins everywhere.
//! Documents that need a compare-and-swap (the trusted tree head) use
//! `If-Match: <etag>`. Abandoned multipart uploads are invisible and cost
//! storage only: a bucket lifecycle rule (`AbortIncompleteMultipartUpload`)
//! removes them (README, "Several replicas").
//!
//! A bounded local tier (a directory: `tmp/` is the download spool,
//! `blobs/` hot blobs) sits in front of the bucket. It holds only blobs
//! whose SHA-256 matched their name when they were downloaded; losing it
//! loses nothing. While the bucket is down, records and documents are a 503
//! naming the cause ([`StoreError::Unavailable`]); artifacts this process
//! already re-checked are still served from the tier.
#![cfg_attr(
    not(test),
    deny(
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::path::Path as ObjPath;
use object_store::{
    ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion, WriteMultipart,
};
use sha2::Digest;

use super::disk::{self, hex, is_sha256_hex};
use super::{
    ArtifactMeta, BlobEntry, BlobReader, Created, DocEntry, DocKey, LocalBlob, RecordEntry,
    RecordId, RecordPage, SMALL_READ, Store, StoreError, StoreFuture, StoredArtifact,
    UncheckedBlob,
};
use crate::artifact::ArtifactKind;
use crate::verify::{VerifiedMod, VerifiedZip};
use crate::xmod::module;

/// Blobs up to this size are uploaded with one conditional `PUT`; larger
/// ones as a multipart upload of parts this size (S3's minimum part is 5 MiB).
const PART_SIZE: usize = 8 << 20;

/// Parts of one multipart upload in flight at once.
const UPLOAD_CONCURRENCY: usize = 4;

/// Default bound of the local tier (`--local-cache-size`).
pub(crate) const DEFAULT_LOCAL_TIER: u64 = 4 << 30;

/// Where the store is: `--store`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUrl {
    /// A local directory (`file:///path` or a plain path).
    Disk(PathBuf),
    /// An S3-compatible bucket and key prefix (without a trailing `/`).
    S3 { bucket: String, prefix: String },
}

impl StoreUrl {
    /// Parses `file:///path`, a path, or `s3://bucket[/prefix]`.
    pub fn parse(s: &str) -> Result<StoreUrl, String> {
        if let Some(rest) = s.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let prefix = prefix.trim_matches('/');
            let bucket_ok = !bucket.is_empty()
                && bucket
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b));
            if !bucket_ok {
                return Err(format!(
                    "store {s:?}: the bucket name must be lowercase letters, digits, '-' and '.'"
                ));
            }
            if prefix.split('/').any(|p| p == ".." || p == ".") {
                return Err(format!("store {s:?}: the prefix may not contain . or .."));
            }
            return Ok(StoreUrl::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
            });
        }
        if let Some(path) = s.strip_prefix("file://") {
            if path.is_empty() {
                return Err(format!("store {s:?}: no path after file://"));
            }
            return Ok(StoreUrl::Disk(PathBuf::from(path)));
        }
        if s.contains("://") {
            return Err(format!(
                "store {s:?}: unsupported scheme (use file:///path, a path, or s3://bucket[/prefix])"
            ));
        }
        if s.is_empty() {
            return Err("store: empty".to_owned());
        }
        Ok(StoreUrl::Disk(PathBuf::from(s)))
    }
}

impl std::fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreUrl::Disk(p) => write!(f, "{}", p.display()),
            StoreUrl::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            StoreUrl::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

/// A store on an S3-compatible bucket with a bounded local tier.
#[derive(Debug, Clone)]
pub struct ObjectStoreCache {
    remote: Arc<dyn ObjectStore>,
    /// `prefix/` or empty.
    prefix: String,
    /// `s3://bucket[/prefix]`, for reports and locations.
    url: String,
    tier: Arc<Tier>,
    /// Whether blobs are read from (and kept in) the tier; off for the
    /// cache commands, which must read what the bucket holds.
    hot: bool,
    /// Whether cold fetches are deduplicated across replicas with lease
    /// objects ([`Store::begin_fill`]).
    leases: bool,
    /// Leases this process holds: lease key → its token.
    held: Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>,
}

/// How long a fill lease holds off other replicas; one whose holder died
/// is taken over after this.
const LEASE_TTL: Duration = Duration::from_secs(120);

/// How often a replica waiting on another's lease looks for its record.
const LEASE_POLL: Duration = Duration::from_millis(200);

/// The local tier: a spool and a bounded set of hot blobs.
#[derive(Debug)]
struct Tier {
    root: PathBuf,
    max_bytes: u64,
    /// Bytes of blobs in the tier (approximate: recounted by each eviction).
    used: AtomicU64,
}

impl ObjectStoreCache {
    /// Connects to `s3://bucket[/prefix]` with the standard AWS settings and
    /// credential chain from the environment (`AWS_ENDPOINT_URL`,
    /// `AWS_REGION`, keys, session token, container and instance roles);
    /// `http://` endpoints only with `AWS_ALLOW_HTTP=true`. No request is
    /// made here.
    pub(crate) fn connect_s3(
        bucket: &str,
        prefix: &str,
        tier_dir: &Path,
        tier_max: u64,
    ) -> Result<ObjectStoreCache, StoreError> {
        // goward's one TLS provider (ring), whoever opens the store (serve
        // installs it too; the cache commands do not).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let allow_http = std::env::var("AWS_ALLOW_HTTP").is_ok_and(|v| v == "true");
        let client = object_store::ClientOptions::new()
            .with_allow_http(allow_http)
            .with_connect_timeout(Duration::from_secs(5))
            // Bodies of large blobs take long; a stalled one is cut by the
            // read timeout instead.
            .with_timeout_disabled()
            .with_read_timeout(Duration::from_secs(30));
        let retry = object_store::RetryConfig {
            max_retries: 2,
            retry_timeout: Duration::from_secs(15),
            ..Default::default()
        };
        let configure = |detail: String| StoreError::Unavailable {
            op: "configure",
            key: format!("s3://{bucket}"),
            detail,
        };
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let mut builder = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_client_options(client)
            .with_retry(retry);
        // The shared profile files, which object_store does not read; the
        // environment wins over them.
        if let Some(p) = super::awsprofile::load(&env).map_err(configure)? {
            if !super::awsprofile::env_has_credentials(&env)
                && let (Some(id), Some(secret)) = (&p.access_key_id, &p.secret_access_key)
            {
                builder = builder
                    .with_access_key_id(id)
                    .with_secret_access_key(secret);
                if let Some(t) = &p.session_token {
                    builder = builder.with_token(t);
                }
            }
            if let Some(r) = p
                .region
                .filter(|_| env("AWS_REGION").is_none() && env("AWS_DEFAULT_REGION").is_none())
            {
                builder = builder.with_region(r);
            }
            if let Some(u) = p
                .endpoint_url
                .filter(|_| env("AWS_ENDPOINT_URL").is_none() && env("AWS_ENDPOINT").is_none())
            {
                builder = builder.with_endpoint(u);
            }
        }
        let s3 = builder.build().map_err(|e| configure(e.to_string()))?;
        let url = if prefix.is_empty() {
            format!("s3://{bucket}")
        } else {
            format!("s3://{bucket}/{prefix}")
        };
        Self::new(Arc::new(s3), prefix, url, tier_dir, tier_max)
    }

    /// A store on any [`ObjectStore`] (tests use an in-memory one).
    pub fn new(
        remote: Arc<dyn ObjectStore>,
        prefix: &str,
        url: String,
        tier_dir: &Path,
        tier_max: u64,
    ) -> Result<ObjectStoreCache, StoreError> {
        // The spool's sweep is the disk store's: temp files a killed process
        // left, never one a live process is writing.
        let (_, sweep) = super::DiskStore::open(tier_dir)?;
        if sweep.temp_files > 0 {
            tracing::info!(removed = sweep.temp_files, tier = %tier_dir.display(),
                "swept temp files left in the local tier by an interrupted run");
        }
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", prefix.trim_matches('/'))
        };
        let tier = Tier {
            root: tier_dir.to_path_buf(),
            max_bytes: tier_max,
            used: AtomicU64::new(0),
        };
        let used = tier.blobs().iter().map(|(_, size, _)| size).sum();
        tier.used.store(used, Ordering::Relaxed);
        Ok(ObjectStoreCache {
            remote,
            prefix,
            url,
            tier: Arc::new(tier),
            hot: true,
            leases: true,
            held: Arc::default(),
        })
    }

    /// Turns the cross-replica fill leases on or off (config `fill_leases`).
    pub(crate) fn with_fill_leases(mut self, on: bool) -> ObjectStoreCache {
        self.leases = on;
        self
    }

    async fn exists(&self, rel: &str) -> Result<bool, StoreError> {
        match self.remote.head(&self.key(rel)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.unavailable("head", rel, e)),
        }
    }

    fn hold(&self, rel: &str, token: &str) {
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(rel.to_owned(), token.to_owned());
    }

    /// [`Store::begin_fill`]: creates `leases/<record>` with `If-None-Match`
    /// (its body: expiry in Unix seconds and a unique token). Held by
    /// another replica: waits for that replica's record, or takes the lease
    /// over once it expired.
    async fn lease(&self, id: &RecordId) -> Result<bool, StoreError> {
        if !self.leases {
            return Ok(false);
        }
        let rrel = record_rel(id)?;
        let rel = format!("leases/{rrel}");
        let deadline = std::time::Instant::now()
            .checked_add(LEASE_TTL.saturating_mul(2))
            .unwrap_or_else(std::time::Instant::now);
        loop {
            let token = format!(
                "{} {}\n",
                disk::now_secs().saturating_add(LEASE_TTL.as_secs()),
                disk::now_nanos()
            );
            if self
                .put(&rel, Bytes::from(token.clone()), PutMode::Create)
                .await?
            {
                self.hold(&rel, &token);
                // A replica may have finished just before the lease was free.
                if self.exists(&rrel).await? {
                    self.release(&rel).await?;
                    return Ok(true);
                }
                return Ok(false);
            }
            // Held elsewhere: wait for the record, or for the lease to go.
            loop {
                if self.exists(&rrel).await? {
                    return Ok(true);
                }
                if std::time::Instant::now() > deadline {
                    return Ok(false);
                }
                let Some((body, etag)) = self.get_small(&rel).await? else {
                    break; // released: try to take it
                };
                // Ours, left by a fill whose release failed (the bucket
                // was unreachable): this process fills again.
                if self.holds(&rel, &body) {
                    return Ok(false);
                }
                let expiry = String::from_utf8_lossy(&body)
                    .split_whitespace()
                    .next()
                    .and_then(|t| t.parse::<u64>().ok())
                    .unwrap_or(0);
                if disk::now_secs() > expiry {
                    // Its holder died: take it over (one replica wins).
                    let update = PutMode::Update(UpdateVersion {
                        e_tag: etag,
                        version: None,
                    });
                    if self.put(&rel, Bytes::from(token.clone()), update).await? {
                        self.hold(&rel, &token);
                        return Ok(false);
                    }
                    continue;
                }
                tokio::time::sleep(LEASE_POLL).await;
            }
        }
    }

    fn holds(&self, rel: &str, body: &[u8]) -> bool {
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(rel)
            .is_some_and(|t| t.as_bytes() == body)
    }

    /// Deletes a lease this process holds (if it still holds it). One that
    /// cannot be deleted now stays known as ours.
    async fn release(&self, rel: &str) -> Result<(), StoreError> {
        let token = self
            .held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(rel)
            .cloned();
        let Some(token) = token else { return Ok(()) };
        if let Some((body, _)) = self.get_small(rel).await?
            && body == token.as_bytes()
        {
            // No HEAD first (as `delete` does): whether it was there does
            // not matter.
            match self.remote.delete(&self.key(rel)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.unavailable("delete", rel, e)),
            }
        }
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(rel);
        Ok(())
    }

    /// This store reading every blob from the bucket itself, never from
    /// the local tier (`goward cache verify` checks the bucket's bytes).
    pub(crate) fn bypassing_tier(mut self) -> ObjectStoreCache {
        self.hot = false;
        self
    }

    fn key(&self, rel: &str) -> ObjPath {
        ObjPath::from(format!("{}{rel}", self.prefix))
    }

    /// The relative name of a listed object (prefix removed, decoded).
    fn rel_of(&self, p: &ObjPath) -> Option<String> {
        let s = pct_decode(p.as_ref());
        s.strip_prefix(&self.prefix).map(str::to_owned)
    }

    fn location(&self, rel: &str) -> String {
        format!("{}/{rel}", self.url)
    }

    fn rel_of_location<'a>(&self, location: &'a str) -> Option<&'a str> {
        let rel = location.strip_prefix(&self.url)?.strip_prefix('/')?;
        let ok = !rel.is_empty()
            && rel
                .split('/')
                .all(|c| !c.is_empty() && c != ".." && c != ".");
        ok.then_some(rel)
    }

    fn unavailable(&self, op: &'static str, rel: &str, e: object_store::Error) -> StoreError {
        StoreError::Unavailable {
            op,
            key: self.location(rel),
            detail: e.to_string(),
        }
    }

    /// GET of a small object with its ETag; `None`: absent.
    async fn get_small(&self, rel: &str) -> Result<Option<(Bytes, Option<String>)>, StoreError> {
        let res = match self.remote.get(&self.key(rel)).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.unavailable("get", rel, e)),
        };
        let etag = res.meta.e_tag.clone();
        let bytes = res
            .bytes()
            .await
            .map_err(|e| self.unavailable("get", rel, e))?;
        Ok(Some((bytes, etag)))
    }

    async fn put(&self, rel: &str, bytes: Bytes, mode: PutMode) -> Result<bool, StoreError> {
        let opts = PutOptions::from(mode);
        match self
            .remote
            .put_opts(&self.key(rel), PutPayload::from(bytes), opts)
            .await
        {
            Ok(_) => Ok(true),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(false),
            Err(e) => Err(self.unavailable("put", rel, e)),
        }
    }

    /// Deletes an object; returns whether it was there.
    async fn delete(&self, rel: &str) -> Result<bool, StoreError> {
        let key = self.key(rel);
        match self.remote.head(&key).await {
            Ok(_) => {}
            Err(object_store::Error::NotFound { .. }) => return Ok(false),
            Err(e) => return Err(self.unavailable("head", rel, e)),
        }
        match self.remote.delete(&key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(true),
            Err(e) => Err(self.unavailable("delete", rel, e)),
        }
    }

    /// Moves `rel` to `quarantine/<name>` (server-side copy, then delete)
    /// with a `.why` note; `None` if it was gone.
    async fn move_aside(
        &self,
        rel: &str,
        name: &str,
        why: &str,
    ) -> Result<Option<String>, StoreError> {
        let dest = format!("quarantine/{name}");
        match self.remote.copy(&self.key(rel), &self.key(&dest)).await {
            Ok(()) => {}
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(self.unavailable("quarantine", rel, e)),
        }
        self.delete(rel).await?;
        let note = Bytes::from(format!("{rel}: {why}\n"));
        self.put(&format!("{dest}.why"), note, PutMode::Overwrite)
            .await?;
        Ok(Some(self.location(&dest)))
    }

    /// Uploads a verified blob from a local file unless the bucket has it
    /// (content-addressed: an object of that name is that blob; a damaged
    /// one is caught when read and quarantined, then uploaded anew).
    async fn upload_blob(&self, sha256: &str, file: &Path, size: u64) -> Result<(), StoreError> {
        let rel = blob_rel(sha256);
        let key = self.key(&rel);
        let io = |e: std::io::Error| StoreError::io("read", file, e);
        if size <= PART_SIZE as u64 {
            // One conditional PUT and no HEAD first: a copy already there
            // (another replica's, or an identical go.mod of another
            // version) makes it fail with 412, which is fine.
            let bytes = Bytes::from(tokio::fs::read(file).await.map_err(io)?);
            self.put(&rel, bytes, PutMode::Create).await?;
            return Ok(());
        }
        // A multipart upload cannot be conditional: look first rather than
        // send a large blob again.
        match self.remote.head(&key).await {
            Ok(m) if m.size == size => return Ok(()),
            Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(self.unavailable("head", &rel, e)),
        }
        let upload = self
            .remote
            .put_multipart(&key)
            .await
            .map_err(|e| self.unavailable("upload", &rel, e))?;
        let mut w = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let sent = async {
            use tokio::io::AsyncReadExt;
            let mut f = tokio::fs::File::open(file).await.map_err(io)?;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                w.wait_for_capacity(UPLOAD_CONCURRENCY)
                    .await
                    .map_err(|e| self.unavailable("upload", &rel, e))?;
                let n = f.read(&mut buf).await.map_err(io)?;
                let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
                    break;
                };
                w.write(chunk);
            }
            Ok::<(), StoreError>(())
        }
        .await;
        match sent {
            // Completed only now, with every verified byte sent.
            Ok(()) => w
                .finish()
                .await
                .map(|_| ())
                .map_err(|e| self.unavailable("upload", &rel, e)),
            Err(e) => {
                let _ = w.abort().await;
                Err(e)
            }
        }
    }

    /// The stored record with its ETag; `Err(msg)`: damaged.
    async fn fetch_record(
        &self,
        id: &RecordId,
    ) -> Result<Result<Option<(ArtifactMeta, Option<String>)>, String>, StoreError> {
        let rel = record_rel(id)?;
        let Some((bytes, etag)) = self.get_small(&rel).await? else {
            return Ok(Ok(None));
        };
        Ok(disk::parse_record(&bytes, id.kind, &id.module, &id.version).map(|m| Some((m, etag))))
    }

    /// The conditional create behind `create_zip`/`create_mod`.
    async fn create(&self, meta: ArtifactMeta, blob: &Path) -> Result<Created, StoreError> {
        let id = RecordId::of(&meta);
        let rel = record_rel(&id)?;
        let json =
            Bytes::from(
                serde_json::to_vec_pretty(&meta).map_err(|e| StoreError::Corrupt {
                    path: PathBuf::from(self.location(&rel)),
                    msg: e.to_string(),
                })?,
            );
        // The blob first (a record never names a missing blob), then the
        // record with `If-None-Match: *`; only when that finds one is the
        // stored record read. The caller looked for it just before (and
        // holds the fill lease), so the usual cold fill makes two requests
        // here. A blob uploaded for a version whose record won elsewhere
        // with other bytes names no version: `cache gc` removes it after
        // its grace period.
        self.upload_blob(&meta.sha256, blob, meta.size).await?;
        let mut mode = PutMode::Create;
        loop {
            if self.put(&rel, json.clone(), mode).await? {
                return Ok(Created::New(StoredArtifact::new(meta)));
            }
            // A record is there (or changed since it was read): read it.
            mode = match self.fetch_record(&id).await? {
                // Removed meanwhile (quarantined): create it.
                Ok(None) => PutMode::Create,
                Err(msg) => {
                    self.move_aside(&rel, &quarantine_name("meta", &rel), &msg)
                        .await?;
                    PutMode::Create
                }
                // The same bytes proven again with other proofs: recorded
                // with the new ones (as on disk), unless someone else
                // rewrote the record meanwhile.
                Ok(Some((old, etag))) if old.sha256 == meta.sha256 && old.proofs != meta.proofs => {
                    PutMode::Update(UpdateVersion {
                        e_tag: etag,
                        version: None,
                    })
                }
                Ok(Some((old, _))) => {
                    if old.sha256 != meta.sha256 {
                        tracing::warn!(
                            module = %meta.module, version = %meta.version, kind = meta.kind.as_str(),
                            stored = %old.sha256, upstream = %meta.sha256,
                            "upstream served different bytes for a version already proven and stored in the shared bucket; keeping the stored copy"
                        );
                        metrics::counter!("goward_upstream_changed_total", "kind" => meta.kind.as_str())
                            .increment(1);
                    }
                    return Ok(Created::Existing(old));
                }
            };
        }
    }

    /// The tier copy of a blob, downloading it if needed. A download whose
    /// SHA-256 does not match is handed back as a spooled file (so the
    /// caller's check sees it and quarantines) but never enters the tier.
    async fn fetch_local(&self, sha256: &str) -> Result<LocalBlob, StoreError> {
        if !is_sha256_hex(sha256) {
            return Err(StoreError::Corrupt {
                path: PathBuf::from(self.location("blobs/sha256")),
                msg: format!("{sha256:?} is not a content address"),
            });
        }
        let path = self.tier.blob_path(sha256);
        if self.hot && path.is_file() {
            touch(&path);
            let p = path.clone();
            return Ok(LocalBlob::new(move || fs::File::open(&p)));
        }
        let rel = blob_rel(sha256);
        let res = match self.remote.get(&self.key(&rel)).await {
            Ok(r) => r,
            Err(e @ object_store::Error::NotFound { .. }) => {
                return Err(StoreError::io(
                    "open",
                    self.location(&rel),
                    std::io::Error::new(std::io::ErrorKind::NotFound, e.to_string()),
                ));
            }
            Err(e) => return Err(self.unavailable("get", &rel, e)),
        };
        let spool = self.tier.temp_file()?;
        let (file, tmp_path) = spool.into_parts();
        let mut file = tokio::fs::File::from_std(file);
        let mut hasher = sha2::Sha256::new();
        let mut stream = res.into_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.unavailable("get", &rel, e))?;
            hasher.update(&chunk);
            tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
                .await
                .map_err(|e| StoreError::io("write", tmp_path.to_path_buf(), e))?;
        }
        tokio::io::AsyncWriteExt::flush(&mut file)
            .await
            .map_err(|e| StoreError::io("write", tmp_path.to_path_buf(), e))?;
        drop(file);
        if !self.hot || hex(&hasher.finalize()) != sha256 {
            return Ok(LocalBlob::spooled(tmp_path));
        }
        let size = fs::metadata(&tmp_path).map(|m| m.len()).unwrap_or(0);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| StoreError::io("create", dir, e))?;
        }
        match tmp_path.persist(&path) {
            Ok(()) => self.tier.added(size),
            // A concurrent download of the same blob got there first (a
            // rename over an open file fails on Windows): same bytes.
            Err(_) if path.is_file() => {}
            Err(e) => return Err(StoreError::io("rename into", &path, e.error)),
        }
        let p = path.clone();
        Ok(LocalBlob::new(move || fs::File::open(&p)))
    }

    /// Makes a verified spool file (whose SHA-256 is `sha256`) the tier's
    /// hot copy of that blob; on failure it is simply dropped.
    fn keep_in_tier(&self, file: tempfile::NamedTempFile, sha256: &str, size: u64) {
        let dest = self.tier.blob_path(sha256);
        if let Some(dir) = dest.parent()
            && fs::create_dir_all(dir).is_ok()
            && file.persist(&dest).is_ok()
        {
            self.tier.added(size);
        }
    }

    /// Lists every object under `rel_dir` as (relative name, size, modified).
    async fn list_rel(
        &self,
        rel_dir: &str,
    ) -> Result<Vec<(String, u64, Option<SystemTime>)>, StoreError> {
        let mut out = Vec::new();
        let prefix = self.key(rel_dir);
        let mut s = self.remote.list(Some(&prefix));
        while let Some(m) = s.next().await {
            let m = m.map_err(|e| self.unavailable("list", rel_dir, e))?;
            if let Some(rel) = self.rel_of(&m.location) {
                out.push((rel, m.size, Some(SystemTime::from(m.last_modified))));
            }
        }
        out.sort();
        Ok(out)
    }

    /// The objects under `rel_dir` that `key_of` names as documents (by
    /// their relative name), sorted.
    async fn list_doc_objects(
        &self,
        rel_dir: &str,
        key_of: impl Fn(&str) -> Option<DocKey>,
    ) -> Result<Vec<DocEntry>, StoreError> {
        Ok(self
            .list_rel(rel_dir)
            .await?
            .into_iter()
            .filter_map(|(rel, size, modified)| {
                Some(DocEntry {
                    key: key_of(&rel)?,
                    location: self.location(&rel),
                    size,
                    modified,
                })
            })
            .collect())
    }

    async fn open_reader(&self, meta: &ArtifactMeta) -> Result<BlobReader, StoreError> {
        use std::io::Read;
        let local = self.fetch_local(&meta.sha256).await?;
        let f = local
            .open()
            .map_err(|e| StoreError::io("open", self.tier.blob_path(&meta.sha256), e))?;
        let len = f
            .metadata()
            .map_err(|e| StoreError::io("open", self.tier.blob_path(&meta.sha256), e))?
            .len();
        if meta.size > SMALL_READ {
            // The spool (if the download did not match) lives as long as
            // the reader: keep the LocalBlob inside it.
            let reader = KeepAlive {
                inner: tokio::fs::File::from_std(f),
                _keep: local,
            };
            return Ok(BlobReader {
                len,
                reader: Box::pin(reader),
            });
        }
        let mut buf = Vec::with_capacity(usize::try_from(len.min(meta.size)).unwrap_or(0));
        f.take(meta.size.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(|e| StoreError::io("read", self.tier.blob_path(&meta.sha256), e))?;
        Ok(BlobReader {
            len,
            reader: Box::pin(std::io::Cursor::new(buf)),
        })
    }
}

/// A reader that keeps a spooled blob alive while it is read.
struct KeepAlive {
    inner: tokio::fs::File,
    _keep: LocalBlob,
}

impl tokio::io::AsyncRead for KeepAlive {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl Tier {
    /// Where the re-check memo of `key` is kept: `checked/ab/<SHA-256 of
    /// the key>`, a file holding the key and the digests (outside `blobs/`,
    /// so evicting a blob keeps what was learnt about it).
    fn memo_path(&self, key: &str) -> PathBuf {
        let name = hex(&sha2::Sha256::digest(key.as_bytes()));
        let shard = name.get(..2).unwrap_or("00").to_owned();
        self.root.join("checked").join(shard).join(name)
    }

    fn blob_path(&self, sha256: &str) -> PathBuf {
        let shard = sha256.get(..2).unwrap_or("00");
        super::disk::local_path(&self.root, "blobs/sha256")
            .join(shard)
            .join(sha256)
    }

    fn temp_file(&self) -> Result<tempfile::NamedTempFile, StoreError> {
        let dir = self.root.join("tmp");
        let tmp = tempfile::Builder::new()
            .prefix("in-flight-")
            .tempfile_in(&dir)
            .map_err(|e| StoreError::io("create temp file in", dir, e))?;
        // Tells a concurrent sweep (another process on this tier) it is in use.
        let _ = tmp.as_file().try_lock();
        Ok(tmp)
    }

    /// Every tier blob: (path, size, last use).
    fn blobs(&self) -> Vec<(PathBuf, u64, SystemTime)> {
        let mut out = Vec::new();
        let root = super::disk::local_path(&self.root, "blobs/sha256");
        let Ok(shards) = fs::read_dir(&root) else {
            return out;
        };
        for shard in shards.flatten() {
            let Ok(files) = fs::read_dir(shard.path()) else {
                continue;
            };
            for f in files.flatten() {
                if let Some(md) = f.metadata().ok().filter(|m| m.is_file()) {
                    let used = md.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                    out.push((f.path(), md.len(), used));
                }
            }
        }
        out
    }

    /// Counts a new blob and, over the bound, evicts the least recently
    /// used ones down to 90% of it. A blob being read stays readable (open
    /// files survive removal on unix; elsewhere the removal fails and is
    /// retried by the next eviction).
    fn added(&self, size: u64) {
        let used = self
            .used
            .fetch_add(size, Ordering::Relaxed)
            .saturating_add(size);
        if used <= self.max_bytes {
            return;
        }
        let mut blobs = self.blobs();
        blobs.sort_by_key(|(_, _, t)| *t);
        let mut total: u64 = blobs.iter().map(|(_, s, _)| s).sum();
        let target = (self.max_bytes / 10).saturating_mul(9);
        for (p, s, _) in blobs {
            if total <= target {
                break;
            }
            if fs::remove_file(&p).is_ok() {
                total = total.saturating_sub(s);
            }
        }
        self.used.store(total, Ordering::Relaxed);
    }

    fn remove(&self, sha256: &str) {
        let p = self.blob_path(sha256);
        if let Ok(md) = fs::metadata(&p)
            && fs::remove_file(&p).is_ok()
        {
            let _ = self
                .used
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                    Some(u.saturating_sub(md.len()))
                });
        }
    }
}

/// Marks a tier blob as used now (its mtime orders eviction).
fn touch(p: &Path) {
    if let Ok(f) = fs::File::options().append(true).open(p) {
        let _ = f.set_modified(SystemTime::now());
    }
}

fn blob_rel(sha256: &str) -> String {
    let shard = sha256.get(..2).unwrap_or("00");
    format!("blobs/sha256/{shard}/{sha256}")
}

fn record_rel(id: &RecordId) -> Result<String, StoreError> {
    let bad = |e: module::ModuleError| StoreError::Corrupt {
        path: PathBuf::from("meta"),
        msg: e.to_string(),
    };
    let p = module::escape_path(&id.module).map_err(bad)?;
    let v = module::escape_version(&id.version).map_err(bad)?;
    let ext = match id.kind {
        ArtifactKind::Zip => "zip",
        ArtifactKind::Mod => "mod",
    };
    Ok(format!("meta/{p}/@v/{v}.{ext}.json"))
}

fn quarantine_name(what: &str, rel: &str) -> String {
    let name = rel.rsplit('/').next().unwrap_or(rel);
    format!("{what}.{}.{name}", disk::now_nanos())
}

/// Undoes the percent-encoding `object_store` applies to a few characters
/// of a key (`~`, `%`, …) when it names an object.
fn pct_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0usize;
    while let Some(&c) = b.get(i) {
        let hexval = |j: usize| {
            b.get(j)
                .and_then(|h| char::from(*h).to_digit(16))
                .and_then(|d| u8::try_from(d).ok())
        };
        if c == b'%'
            && let (Some(h), Some(l)) = (hexval(i.saturating_add(1)), hexval(i.saturating_add(2)))
        {
            out.push(h.saturating_mul(16).saturating_add(l));
            i = i.saturating_add(3);
            continue;
        }
        out.push(c);
        i = i.saturating_add(1);
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Store for ObjectStoreCache {
    fn describe(&self) -> String {
        self.url.clone()
    }

    fn blob_location(&self, sha256: &str) -> String {
        self.location(&blob_rel(sha256))
    }

    fn doc_location(&self, key: &DocKey) -> String {
        self.location(&key.rel_path())
    }

    fn spool(&self) -> StoreFuture<'_, tempfile::NamedTempFile> {
        Box::pin(std::future::ready(self.tier.temp_file()))
    }

    fn create_zip(&self, zip: VerifiedZip) -> StoreFuture<'_, Created> {
        Box::pin(async move {
            super::store_evidence(self, zip.proofs()).await?;
            let (checked, proofs) = zip.into_parts();
            let meta = disk::zip_meta(&checked, &proofs);
            let file = checked.into_file();
            let created = self.create(meta, file.path()).await?;
            if let Created::New(a) = &created {
                // The verified spool becomes the tier's hot copy.
                self.keep_in_tier(file, &a.sha256, a.size);
            }
            Ok(created)
        })
    }

    fn create_mod(&self, m: VerifiedMod) -> StoreFuture<'_, Created> {
        Box::pin(async move {
            super::store_evidence(self, m.proofs()).await?;
            let meta = disk::mod_meta(&m);
            let mut tmp = self.tier.temp_file()?;
            tmp.write_all(m.checked().bytes())
                .map_err(|e| StoreError::io("write", tmp.path(), e))?;
            let created = self.create(meta, tmp.path()).await?;
            if let Created::New(a) = &created {
                // Kept in the tier, as a zip's spool is: the go.mod is
                // served right after, and it is not downloaded back.
                self.keep_in_tier(tmp, &a.sha256, a.size);
            }
            Ok(created)
        })
    }

    fn record<'a>(&'a self, id: &'a RecordId) -> StoreFuture<'a, Option<ArtifactMeta>> {
        Box::pin(async move {
            match self.fetch_record(id).await? {
                Ok(m) => Ok(m.map(|(m, _)| m)),
                Err(msg) => {
                    let rel = record_rel(id)?;
                    let why = format!("damaged cache metadata: {msg}");
                    if let Some(dest) = self
                        .move_aside(&rel, &quarantine_name("meta", &rel), &why)
                        .await?
                    {
                        tracing::error!(key = %self.location(&rel), quarantined = %dest, "{why}");
                    }
                    Ok(None)
                }
            }
        })
    }

    fn peek_record<'a>(
        &'a self,
        id: &'a RecordId,
    ) -> StoreFuture<'a, Result<Option<ArtifactMeta>, String>> {
        Box::pin(async move {
            Ok(self
                .fetch_record(id)
                .await?
                .map(|m| m.map(|(meta, _)| meta)))
        })
    }

    fn list_records(&self) -> StoreFuture<'_, Vec<RecordEntry>> {
        Box::pin(async move {
            Ok(self
                .list_rel("meta/")
                .await?
                .into_iter()
                .filter_map(|(rel, _, _)| {
                    let loc = self.location(&rel);
                    disk::classify_record_rel(rel.strip_prefix("meta/")?, loc)
                })
                .collect())
        })
    }

    /// One listing request per page: S3's ListObjectsV2 (with
    /// `start-after`) and the in-memory store return keys in byte order.
    fn list_records_page<'a>(
        &'a self,
        after: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, RecordPage> {
        Box::pin(async move {
            let limit = limit.max(1);
            let prefix = self.key("meta/");
            let mut listing = match after {
                Some(a) => self
                    .remote
                    .list_with_offset(Some(&prefix), &self.key(&format!("meta/{a}"))),
                None => self.remote.list(Some(&prefix)),
            };
            let (mut records, mut seen, mut last) = (Vec::new(), 0usize, None);
            while let Some(m) = listing.next().await {
                if seen >= limit {
                    return Ok(RecordPage {
                        records,
                        next: last,
                    });
                }
                let m = m.map_err(|e| self.unavailable("list", "meta/", e))?;
                let Some(rel) = self.rel_of(&m.location) else {
                    continue;
                };
                let Some(under) = rel.strip_prefix("meta/") else {
                    continue;
                };
                seen = seen.saturating_add(1);
                records.extend(disk::classify_record_rel(under, self.location(&rel)));
                last = Some(under.to_owned());
            }
            Ok(RecordPage {
                records,
                next: None,
            })
        })
    }

    fn versions<'a>(&'a self, module: &'a str) -> StoreFuture<'a, Vec<String>> {
        Box::pin(async move {
            let escaped = module::escape_path(module).map_err(|e| StoreError::Corrupt {
                path: PathBuf::from(self.location("meta")),
                msg: e.to_string(),
            })?;
            let dir = format!("meta/{escaped}/@v/");
            let mut out: Vec<String> = self
                .list_rel(&dir)
                .await?
                .into_iter()
                .filter_map(|(rel, _, _)| {
                    let name = rel.strip_prefix(&dir)?;
                    let stem = name
                        .strip_suffix(".zip.json")
                        .or_else(|| name.strip_suffix(".mod.json"))?;
                    module::unescape_version(stem).ok()
                })
                .collect();
            out.sort();
            out.dedup();
            Ok(out)
        })
    }

    fn list_blobs(&self) -> StoreFuture<'_, Vec<BlobEntry>> {
        Box::pin(async move {
            Ok(self
                .list_rel("blobs/sha256/")
                .await?
                .into_iter()
                .map(|(rel, size, modified)| {
                    let name = rel.rsplit('/').next().unwrap_or_default().to_owned();
                    let well_named = is_sha256_hex(&name) && blob_rel(&name) == rel;
                    BlobEntry {
                        location: self.location(&rel),
                        name,
                        well_named,
                        size,
                        modified,
                    }
                })
                .collect())
        })
    }

    fn list_docs(&self) -> StoreFuture<'_, Vec<DocEntry>> {
        Box::pin(self.list_doc_objects("meta/", |rel| {
            disk::classify_doc_rel(rel.strip_prefix("meta/")?)
        }))
    }

    fn list_evidence(&self) -> StoreFuture<'_, Vec<DocEntry>> {
        Box::pin(self.list_doc_objects("evidence/", |rel| {
            let name = rel.rsplit('/').next()?;
            DocKey::evidence(name).filter(|k| k.rel_path() == rel)
        }))
    }

    fn open_blob<'a>(&'a self, artifact: &'a StoredArtifact) -> StoreFuture<'a, BlobReader> {
        Box::pin(self.open_reader(artifact.meta()))
    }

    fn local_blob<'a>(&'a self, blob: UncheckedBlob<'a>) -> StoreFuture<'a, LocalBlob> {
        let sha256 = blob.sha256().to_owned();
        Box::pin(async move { self.fetch_local(&sha256).await })
    }

    fn hash_blob<'a>(&'a self, blob: &'a BlobEntry) -> StoreFuture<'a, Option<([u8; 32], u64)>> {
        Box::pin(async move {
            let Some(rel) = self.rel_of_location(&blob.location) else {
                return Err(StoreError::Corrupt {
                    path: PathBuf::from(&blob.location),
                    msg: "not a location in this store".into(),
                });
            };
            let res = match self.remote.get(&self.key(rel)).await {
                Ok(r) => r,
                Err(object_store::Error::NotFound { .. }) => return Ok(None),
                Err(e) => return Err(self.unavailable("get", rel, e)),
            };
            let mut hasher = sha2::Sha256::new();
            let mut n = 0u64;
            let mut stream = res.into_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| self.unavailable("get", rel, e))?;
                n = n.saturating_add(chunk.len() as u64);
                hasher.update(&chunk);
            }
            Ok(Some((hasher.finalize().into(), n)))
        })
    }

    fn quarantine<'a>(&'a self, meta: &'a ArtifactMeta, why: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.tier.remove(&meta.sha256);
            let rel = blob_rel(&meta.sha256);
            let name = format!("{}.{}", meta.sha256, disk::now_secs());
            let dest = self.move_aside(&rel, &name, why).await?;
            let rrel = record_rel(&RecordId::of(meta))?;
            self.delete(&rrel).await?;
            tracing::error!(module = %meta.module, version = %meta.version, kind = meta.kind.as_str(),
                sha256 = %meta.sha256, quarantined = dest.as_deref().unwrap_or("(gone)"), "{why}");
            Ok(())
        })
    }

    fn quarantine_record<'a>(
        &'a self,
        meta: &'a ArtifactMeta,
        why: &'a str,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let rel = record_rel(&RecordId::of(meta))?;
            if let Some(dest) = self
                .move_aside(&rel, &quarantine_name("meta", &rel), why)
                .await?
            {
                tracing::error!(module = %meta.module, version = %meta.version, kind = meta.kind.as_str(),
                    quarantined = %dest, "{why}");
            }
            Ok(())
        })
    }

    fn quarantine_location<'a>(
        &'a self,
        location: &'a str,
        why: &'a str,
    ) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move {
            let Some(rel) = self.rel_of_location(location) else {
                return Err(StoreError::Corrupt {
                    path: PathBuf::from(location),
                    msg: "not a location in this store".into(),
                });
            };
            let what = if rel.starts_with("blobs/") {
                "blob"
            } else if rel.starts_with("evidence/") {
                "evidence"
            } else {
                "meta"
            };
            self.move_aside(rel, &quarantine_name(what, rel), why).await
        })
    }

    fn remove_record<'a>(&'a self, id: &'a RecordId) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let rel = record_rel(id)?;
            self.delete(&rel).await.map(|_| ())
        })
    }

    fn remove_blob<'a>(&'a self, sha256: &'a str) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            if !is_sha256_hex(sha256) {
                return Ok(false);
            }
            self.tier.remove(sha256);
            self.delete(&blob_rel(sha256)).await
        })
    }

    fn get_doc<'a>(&'a self, key: &'a DocKey) -> StoreFuture<'a, Option<Bytes>> {
        Box::pin(async move {
            Ok(self
                .get_small(&key.rel_path())
                .await?
                .map(|(b, _)| b)
                .filter(|b| !b.is_empty()))
        })
    }

    fn put_doc<'a>(&'a self, key: &'a DocKey, bytes: Bytes) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.put(&key.rel_path(), bytes, PutMode::Overwrite)
                .await
                .map(|_| ())
        })
    }

    fn delete_doc<'a>(&'a self, key: &'a DocKey) -> StoreFuture<'a, bool> {
        Box::pin(self.delete_owned(key.rel_path()))
    }

    fn remembered_digests(&self, key: &str) -> Option<String> {
        if !self.hot {
            return None;
        }
        let text = fs::read_to_string(self.tier.memo_path(key)).ok()?;
        let (stored_key, digests) = text.split_once('\n')?;
        (stored_key == key).then(|| digests.trim_end().to_owned())
    }

    fn remember_digests(&self, key: &str, digests: &str) {
        if !self.hot {
            return;
        }
        let path = self.tier.memo_path(key);
        let write = || -> std::io::Result<()> {
            let dir = path.parent().unwrap_or(&self.tier.root);
            fs::create_dir_all(dir)?;
            let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
            tmp.write_all(format!("{key}\n{digests}\n").as_bytes())?;
            tmp.persist(&path).map_err(|e| e.error)?;
            Ok(())
        };
        // Losing a memo only costs a re-hash.
        if let Err(e) = write() {
            tracing::debug!(path = %path.display(), "remembering a re-check: {e}");
        }
    }

    fn begin_fill<'a>(&'a self, id: &'a RecordId) -> StoreFuture<'a, bool> {
        Box::pin(self.lease(id))
    }

    fn end_fill<'a>(&'a self, id: &'a RecordId) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            if !self.leases {
                return Ok(());
            }
            let rel = format!("leases/{}", record_rel(id)?);
            self.release(&rel).await
        })
    }

    fn release_fills(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let held: Vec<String> = self
                .held
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .keys()
                .cloned()
                .collect();
            for rel in held {
                self.release(&rel).await?;
            }
            Ok(())
        })
    }

    fn compare_and_swap_doc<'a>(
        &'a self,
        key: &'a DocKey,
        expected: Option<Bytes>,
        new: Bytes,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let rel = key.rel_path();
            let cur = self.get_small(&rel).await?;
            let cur_bytes = cur
                .as_ref()
                .map(|(b, _)| b.clone())
                .filter(|b| !b.is_empty());
            if cur_bytes != expected {
                return Ok(false);
            }
            let mode = match cur {
                None => PutMode::Create,
                Some((_, etag)) => PutMode::Update(UpdateVersion {
                    e_tag: etag,
                    version: None,
                }),
            };
            self.put(&rel, new, mode).await
        })
    }
}

/// What `goward doctor` learns from the bucket itself ([`ObjectStoreCache::probe`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct BucketProbe {
    /// One listing of the prefix: what it saw, or the cause of the failure.
    pub reachable: Result<String, String>,
    /// The conditional-write probe (`None`: not tried, the bucket did not
    /// answer): what it did, or what the server got wrong.
    pub conditional: Option<Result<String, String>>,
}

/// The local tier as `goward doctor` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TierUsage {
    /// Its directory.
    pub path: PathBuf,
    /// Blobs in it.
    pub blobs: u64,
    /// Their bytes.
    pub bytes: u64,
    /// The bound (`--local-cache-size`).
    pub max_bytes: u64,
}

impl ObjectStoreCache {
    /// Checks the bucket for `goward doctor`: one listing of the prefix,
    /// then a probe object `doctor/probe-<nanos>` created with
    /// `If-None-Match: *`, created again (the server must refuse), updated
    /// with `If-Match` on a wrong ETag (must refuse), and deleted. A server
    /// that accepts either second write does not honour conditional writes,
    /// on which records, leases and the tree head depend.
    pub(crate) async fn probe(&self) -> BucketProbe {
        let top = self.key("");
        let reachable = match self.remote.list_with_delimiter(Some(&top)).await {
            Ok(l) => Ok(format!(
                "listed {}: {} objects and {} prefixes at the top",
                self.url,
                l.objects.len(),
                l.common_prefixes.len()
            )),
            Err(e) => Err(self.unavailable("list", "", e).to_string()),
        };
        if reachable.is_err() {
            return BucketProbe {
                reachable,
                conditional: None,
            };
        }
        let rel = format!("doctor/probe-{}", disk::now_nanos());
        let body = || Bytes::from_static(b"goward doctor: conditional-write probe\n");
        let steps = async {
            if !self
                .put(&rel, body(), PutMode::Create)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!(
                    "{}: a new probe object was refused as already existing",
                    self.location(&rel)
                ));
            }
            if self
                .put(&rel, body(), PutMode::Create)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!(
                    "{}: the server replaced an existing object despite If-None-Match: * \
                     (it does not honour conditional writes: replicas could replace each \
                     other's records and roll the trusted tree head back)",
                    self.location(&rel)
                ));
            }
            let wrong = PutMode::Update(UpdateVersion {
                e_tag: Some("\"goward-doctor-wrong-etag\"".to_owned()),
                version: None,
            });
            if self
                .put(&rel, body(), wrong)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err(format!(
                    "{}: the server replaced an object despite a wrong If-Match ETag \
                     (it does not honour conditional writes: two replicas could roll the \
                     trusted tree head back)",
                    self.location(&rel)
                ));
            }
            Ok(format!(
                "{}: created with If-None-Match: *, refused a second create (412), refused an update with a wrong If-Match ETag (412)",
                self.location(&rel)
            ))
        };
        let mut conditional = steps.await;
        match self.remote.delete(&self.key(&rel)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {
                if let Ok(done) = &mut conditional {
                    done.push_str(", deleted");
                }
            }
            Err(e) => {
                let left = format!(
                    "the probe object {} could not be deleted: {}",
                    self.location(&rel),
                    self.unavailable("delete", &rel, e)
                );
                conditional = Err(match conditional {
                    Ok(_) => left,
                    Err(first) => format!("{first}; {left}"),
                });
            }
        }
        BucketProbe {
            reachable,
            conditional: Some(conditional),
        }
    }

    /// The local tier's directory, blobs, bytes and bound.
    pub(crate) fn tier_usage(&self) -> TierUsage {
        let blobs = self.tier.blobs();
        TierUsage {
            path: self.tier.root.clone(),
            blobs: blobs.len() as u64,
            bytes: blobs.iter().map(|(_, size, _)| size).sum(),
            max_bytes: self.tier.max_bytes,
        }
    }
}

/// Where the S3 credentials come from, in the order `object_store` looks
/// (the AWS variables of the environment): for `goward doctor`.
pub(crate) fn credential_source(env: &dyn Fn(&str) -> Option<String>) -> String {
    let set = |k: &str| env(k).is_some_and(|v| !v.is_empty());
    if env("AWS_SKIP_SIGNATURE").is_some_and(|v| v == "true") {
        return "none: requests are unsigned (AWS_SKIP_SIGNATURE=true)".into();
    }
    if set("AWS_ACCESS_KEY_ID") || set("AWS_SECRET_ACCESS_KEY") {
        let token = if set("AWS_SESSION_TOKEN") {
            " and AWS_SESSION_TOKEN"
        } else {
            ""
        };
        return format!(
            "static keys from the environment (AWS_ACCESS_KEY_ID {}, AWS_SECRET_ACCESS_KEY{token})",
            env("AWS_ACCESS_KEY_ID").unwrap_or_default()
        );
    }
    if set("AWS_WEB_IDENTITY_TOKEN_FILE") && set("AWS_ROLE_ARN") {
        return format!(
            "web identity: the token in AWS_WEB_IDENTITY_TOKEN_FILE exchanged for role {}",
            env("AWS_ROLE_ARN").unwrap_or_default()
        );
    }
    if set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
        return "ECS container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI)".into();
    }
    match super::awsprofile::load(env) {
        Ok(Some(p)) if p.access_key_id.is_some() => {
            let from = p
                .keys_from
                .map(|f| f.display().to_string())
                .unwrap_or_default();
            return format!("static keys of AWS profile {} in {from}", p.name);
        }
        Ok(_) => {}
        Err(e) => return format!("none usable: {e}"),
    }
    "EC2 instance metadata (IMDS): no credentials in the environment or AWS profile files".into()
}

impl ObjectStoreCache {
    async fn delete_owned(&self, rel: String) -> Result<bool, StoreError> {
        self.delete(&rel).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls() {
        assert_eq!(
            StoreUrl::parse("s3://goward-cache/team/a").unwrap(),
            StoreUrl::S3 {
                bucket: "goward-cache".into(),
                prefix: "team/a".into()
            }
        );
        assert_eq!(
            StoreUrl::parse("s3://b").unwrap(),
            StoreUrl::S3 {
                bucket: "b".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            StoreUrl::parse("file:///srv/goward").unwrap(),
            StoreUrl::Disk(PathBuf::from("/srv/goward"))
        );
        assert_eq!(
            StoreUrl::parse("/srv/goward").unwrap(),
            StoreUrl::Disk(PathBuf::from("/srv/goward"))
        );
        assert_eq!(
            StoreUrl::parse("gs://b").unwrap_err(),
            "store \"gs://b\": unsupported scheme (use file:///path, a path, or s3://bucket[/prefix])"
        );
        assert_eq!(
            StoreUrl::parse("s3://Bad_Bucket").unwrap_err(),
            "store \"s3://Bad_Bucket\": the bucket name must be lowercase letters, digits, '-' and '.'"
        );
        assert!(StoreUrl::parse("s3://b/../x").is_err());
    }

    fn in_memory(remote: &Arc<dyn ObjectStore>, tier: &Path, max: u64) -> ObjectStoreCache {
        ObjectStoreCache::new(remote.clone(), "p", "s3://b/p".into(), tier, max).unwrap()
    }

    /// Two replicas create the same go.mod: the first proven copy wins, the
    /// second finds it (untrusted until re-checked); both list it.
    #[tokio::test]
    async fn the_first_proven_copy_wins_across_replicas() {
        use crate::cache::testing::*;
        let dir = tempfile::tempdir().unwrap();
        let remote: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let a = in_memory(&remote, &dir.path().join("a"), 1 << 30);
        let b = in_memory(&remote, &dir.path().join("b"), 1 << 30);
        let text = go_mod_text(200);
        let policy = pinning(dir.path(), &text);
        let Created::New(first) = a.create_mod(verified_mod(&text, &policy)).await.unwrap() else {
            panic!("nothing was stored before")
        };
        let Created::Existing(old) = b.create_mod(verified_mod(&text, &policy)).await.unwrap()
        else {
            panic!("the second copy replaced the first")
        };
        assert_eq!(&old, first.meta());
        assert_eq!(
            b.record(&mod_id()).await.unwrap().as_ref(),
            Some(first.meta())
        );
        assert_eq!(b.versions(M).await.unwrap(), vec!["v1.0.0".to_owned()]);
        let records = b.list_records().await.unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].id, Ok(mod_id()));
        assert_eq!(
            records[0].location,
            "s3://b/p/meta/example.com/m/@v/v1.0.0.mod.json"
        );
        let blobs = b.list_blobs().await.unwrap();
        assert_eq!(blobs.len(), 1);
        assert!(blobs[0].well_named);
        assert_eq!(
            b.hash_blob(&blobs[0])
                .await
                .unwrap()
                .map(|(h, n)| (hex(&h), n)),
            Some((first.sha256.clone(), first.size))
        );
    }

    /// A lease still held at shutdown (its fill's release not run yet) is
    /// released, so a replica started at once does not wait for it; a lease
    /// another process took over stays.
    #[tokio::test]
    async fn held_leases_are_released_at_shutdown() {
        use crate::cache::testing::*;
        let dir = tempfile::tempdir().unwrap();
        let remote: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let a = in_memory(&remote, &dir.path().join("a"), 1 << 30);
        let b = in_memory(&remote, &dir.path().join("b"), 1 << 30);
        let zip_id = RecordId::new(ArtifactKind::Zip, M, "v1.0.0");
        assert!(!a.begin_fill(&mod_id()).await.unwrap(), "a takes the lease");
        assert!(!a.begin_fill(&zip_id).await.unwrap(), "a takes the lease");
        let lease = |id: &RecordId| format!("leases/{}", record_rel(id).unwrap());
        // The zip's lease expired and b took it over: no longer a's.
        let rel = lease(&zip_id);
        b.put(&rel, Bytes::from_static(b"0 1\n"), PutMode::Overwrite)
            .await
            .unwrap();
        a.release_fills().await.unwrap();
        assert_eq!(a.get_small(&lease(&mod_id())).await.unwrap(), None);
        let kept = a.get_small(&rel).await.unwrap().map(|(body, _)| body);
        assert_eq!(kept.as_deref(), Some(&b"0 1\n"[..]));
        assert!(a.held.lock().unwrap().is_empty());
    }

    /// A damaged record in the bucket proves nothing: it is moved to
    /// `quarantine/` and the version counts as not stored.
    #[tokio::test]
    async fn a_damaged_record_is_quarantined() {
        use crate::cache::testing::*;
        let dir = tempfile::tempdir().unwrap();
        let remote: Arc<dyn ObjectStore> = Arc::new(object_store::memory::InMemory::new());
        let s = in_memory(&remote, &dir.path().join("t"), 1 << 30);
        let key = ObjPath::from("p/meta/example.com/m/@v/v1.0.0.mod.json");
        remote
            .put(&key, PutPayload::from_static(b"{\"v\": 2"))
            .await
            .unwrap();
        assert_eq!(s.record(&mod_id()).await.unwrap(), None);
        assert!(matches!(
            remote.head(&key).await,
            Err(object_store::Error::NotFound { .. })
        ));
        let moved: Vec<_> = s.list_rel("quarantine/").await.unwrap();
        assert_eq!(moved.len(), 2, "{moved:?}"); // the record and its .why
    }

    /// The local tier stays within its bound: the least recently used blobs go.
    #[test]
    fn the_local_tier_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let tier = Tier {
            root: dir.path().to_path_buf(),
            max_bytes: 1000,
            used: AtomicU64::new(0),
        };
        for i in 0..5u8 {
            let sha = format!("{i:02x}").repeat(32);
            let p = tier.blob_path(&sha);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, vec![i; 300]).unwrap();
            let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 + u64::from(i));
            fs::File::options()
                .append(true)
                .open(&p)
                .unwrap()
                .set_modified(t)
                .unwrap();
            tier.added(300);
        }
        let left: u64 = tier.blobs().iter().map(|(_, s, _)| s).sum();
        assert!(left <= 1000, "{left}");
        assert!(
            tier.blob_path(&"04".repeat(32)).is_file(),
            "the newest blob went"
        );
        assert!(
            !tier.blob_path(&"00".repeat(32)).is_file(),
            "the oldest blob stayed"
        );
    }

    #[test]
    fn percent_decoding_of_listed_keys() {
        assert_eq!(pct_decode("meta/a%7Eb/@v/x"), "meta/a~b/@v/x");
        assert_eq!(pct_decode("plain"), "plain");
        assert_eq!(pct_decode("bad%zz%"), "bad%zz%");
    }
}
