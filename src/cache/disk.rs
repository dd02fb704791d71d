//! The local disk store.
//!
//! Layout under the root:
//! ```text
//! blobs/sha256/ab/abcdef…          content-addressed zips and go.mods
//! meta/<escaped module>/@v/<escaped version>.{zip,mod}.json
//! meta/<escaped module>/@v/<escaped version>.info, list, ../@latest
//! sumdb/<name>/latest              the trusted signed tree head
//! sumdb/<name>/{lookup,tile}/…     proven lookups, authenticated tiles
//! tmp/                             spool for in-flight writes, swept at start
//! quarantine/                      blobs that failed a digest re-check
//! ```
//! Every write is temp file in `tmp/` → fsync → rename, and metadata is
//! renamed into place after the blob it names, so a crash never leaves a
//! visible partial entry: at worst an unreferenced blob or a temp file that
//! the next start sweeps. Blob and metadata temp files are synced in
//! parallel, and their directories are not: a rename lost in a power cut
//! only makes the version uncached (metadata without its blob is
//! quarantined on read and the version fetched and proven again), while the
//! trusted tree head and fork reports get the directory fsync too.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::{
    ArtifactMeta, BlobEntry, BlobReader, Created, DocEntry, DocKey, LocalBlob, ProofRecord,
    RecordEntry, RecordId, RecordPage, SMALL_IO, SMALL_READ, Store, StoreError, StoreFuture,
    StoredArtifact, SweepReport, UncheckedBlob,
};
use crate::artifact::ArtifactKind;
use crate::verify::{VerifiedMod, VerifiedZip};
use crate::xmod::module;

/// Current [`ArtifactMeta::v`].
pub(crate) const META_VERSION: u32 = 2;

/// The directories the disk store owns under its root, in the order they
/// are created (a creation error names the deepest one).
pub(crate) const OWNED_DIRS: [&str; 6] = [
    "blobs/sha256",
    "blobs",
    "meta",
    "sumdb",
    "tmp",
    "quarantine",
];

/// Where content-addressed blobs live, relative to the root.
const BLOBS: &str = "blobs/sha256";
/// Where evidence objects live, relative to the root (see [`DocKey::rel_path`]).
const EVIDENCE: &str = "evidence/sha256";

/// `rel`, a `/`-separated store key (`meta/example.com/m/@v/list`), as a
/// path under `root`, joined component by component. Listings walk the
/// directories and print what the OS spells, so a key's location must use
/// the platform separator too (on Windows `cache\meta\…`, never
/// `cache\meta/…`) for the two to print alike.
pub(crate) fn local_path(root: &Path, rel: &str) -> PathBuf {
    let mut p = root.to_path_buf();
    p.extend(rel.split('/').filter(|c| !c.is_empty()));
    p
}

/// The disk store. Cheap to clone (operations on the blocking pool take a
/// clone).
#[derive(Clone, Debug)]
pub(crate) struct DiskStore {
    root: Arc<Path>,
}

pub(crate) use crate::xmod::dirhash::hex;

pub(crate) fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl DiskStore {
    /// Opens (creating if needed) a store at `root` and sweeps temp files
    /// left by an earlier crash.
    pub(crate) fn open(root: impl Into<PathBuf>) -> Result<(DiskStore, SweepReport), StoreError> {
        let root: Arc<Path> = root.into().into();
        for d in OWNED_DIRS {
            let p = local_path(&root, d);
            fs::create_dir_all(&p).map_err(|e| StoreError::io("create", &p, e))?;
        }
        let store = DiskStore { root };
        let report = store.sweep()?;
        Ok((store, report))
    }

    /// Where the store at `root` keeps a document (whether or not it exists).
    pub(crate) fn doc_path(root: &Path, key: &DocKey) -> PathBuf {
        local_path(root, &key.rel_path())
    }

    /// Removes what interrupted writes left in `tmp/`. Every in-flight temp
    /// file is locked by the process writing it, so files another live
    /// process (a CLI command beside the server) is writing are left alone.
    pub(crate) fn sweep(&self) -> Result<SweepReport, StoreError> {
        let tmp = self.root.join("tmp");
        let mut report = SweepReport::default();
        let entries = fs::read_dir(&tmp).map_err(|e| StoreError::io("read", &tmp, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io("read", &tmp, e))?;
            let p = entry.path();
            let res = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                fs::remove_dir_all(&p)
            } else {
                match fs::File::open(&p).map(|f| f.try_lock()) {
                    Ok(Err(std::fs::TryLockError::WouldBlock)) => continue,
                    // Unlocked (its writer is gone) or unreadable: a leftover.
                    _ => fs::remove_file(&p),
                }
            };
            match res {
                Ok(()) => report.temp_files += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io("remove", &p, e)),
            }
        }
        Ok(report)
    }

    fn blob_path(&self, sha256_hex: &str) -> PathBuf {
        let shard = sha256_hex.get(..2).unwrap_or("00");
        local_path(&self.root, BLOBS).join(shard).join(sha256_hex)
    }

    fn meta_path(
        &self,
        kind: ArtifactKind,
        module: &str,
        version: &str,
    ) -> Result<PathBuf, StoreError> {
        let bad = |e: module::ModuleError| StoreError::Corrupt {
            path: self.root.join("meta"),
            msg: e.to_string(),
        };
        let p = module::escape_path(module).map_err(bad)?;
        let v = module::escape_version(version).map_err(bad)?;
        let ext = match kind {
            ArtifactKind::Zip => "zip",
            ArtifactKind::Mod => "mod",
        };
        Ok(local_path(
            &self.root,
            &format!("meta/{p}/@v/{v}.{ext}.json"),
        ))
    }

    /// Atomic always (temp file + rename); durable (fsync of file and
    /// directory) only when asked: documents that are re-verified whenever
    /// they are read can be lost in a power cut without harm.
    fn write_atomic_with(
        &self,
        dest: &Path,
        bytes: &[u8],
        durable: bool,
    ) -> Result<(), StoreError> {
        let mut tmp = self.temp_file_sync()?;
        tmp.write_all(bytes)
            .and_then(|()| {
                if durable {
                    tmp.as_file().sync_all()
                } else {
                    Ok(())
                }
            })
            .map_err(|e| StoreError::io("write", tmp.path(), e))?;
        self.persist_with(tmp, dest, durable)
    }

    fn persist_with(
        &self,
        tmp: tempfile::NamedTempFile,
        dest: &Path,
        durable: bool,
    ) -> Result<(), StoreError> {
        let dir = dest.parent().unwrap_or(&self.root);
        if !dir.is_dir() {
            fs::create_dir_all(dir).map_err(|e| StoreError::io("create", dir, e))?;
        }
        tmp.persist(dest)
            .map_err(|e| StoreError::io("rename into", dest, e.error))?;
        if durable { sync_dir(dir) } else { Ok(()) }
    }

    /// Commits a verified artifact: its blob and its metadata are written to
    /// temp files, both synced at once (two fsyncs cost about one), then
    /// renamed into place blob first.
    fn commit(&self, blob: tempfile::NamedTempFile, meta: &ArtifactMeta) -> Result<(), StoreError> {
        let dest = self.blob_path(&meta.sha256);
        let meta_path = self.meta_path(meta.kind, &meta.module, &meta.version)?;
        let json = serde_json::to_vec_pretty(meta).map_err(|e| StoreError::Corrupt {
            path: meta_path.clone(),
            msg: e.to_string(),
        })?;
        let mut meta_tmp = self.temp_file_sync()?;
        meta_tmp
            .write_all(&json)
            .map_err(|e| StoreError::io("write", meta_tmp.path(), e))?;
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| blob.as_file().sync_all());
            let b = meta_tmp.as_file().sync_all();
            (a.join(), b)
        });
        a.unwrap_or_else(|_| Err(std::io::Error::other("fsync thread panicked")))
            .map_err(|e| StoreError::io("sync", blob.path(), e))?;
        b.map_err(|e| StoreError::io("sync", meta_tmp.path(), e))?;
        // Same name means same content: a blob that exists is kept.
        if !dest.exists() {
            self.persist_with(blob, &dest, false)?;
        }
        self.persist_with(meta_tmp, &meta_path, false)
    }

    /// Keeps the proven copy if the version is already stored; logs loudly
    /// when the upstream's bytes differ from it. The same bytes proven again
    /// (e.g. under a policy that requires other proofs) are recorded with
    /// the new proofs, so the caller re-writes the metadata.
    fn existing(&self, meta: &ArtifactMeta) -> Result<Option<ArtifactMeta>, StoreError> {
        let Some(old) = self.meta_sync(meta.kind, &meta.module, &meta.version)? else {
            return Ok(None);
        };
        if old.sha256 == meta.sha256 && old.proofs != meta.proofs {
            return Ok(None);
        }
        if old.sha256 != meta.sha256 {
            tracing::warn!(
                module = %meta.module, version = %meta.version, kind = meta.kind.as_str(),
                stored = %old.sha256, upstream = %meta.sha256,
                "upstream served different bytes for a version already proven and cached; keeping the cached copy"
            );
            metrics::counter!("goward_upstream_changed_total", "kind" => meta.kind.as_str())
                .increment(1);
        }
        Ok(Some(old))
    }
}

/// The record of a verified zip about to be stored (any store).
pub(crate) fn zip_meta(
    checked: &crate::verify::zip::ZipChecked,
    proofs: &[crate::verify::Proof],
) -> ArtifactMeta {
    ArtifactMeta {
        v: META_VERSION,
        kind: ArtifactKind::Zip,
        module: checked.module().to_owned(),
        version: checked.version().to_owned(),
        sha256: hex(checked.sha256()),
        size: checked.size(),
        h1: checked.h1().as_str().to_owned(),
        proofs: proofs.iter().map(ProofRecord::from_proof).collect(),
        verified_at: now_secs(),
        instance: now_nanos(),
    }
}

/// The record of a verified go.mod about to be stored (any store).
pub(crate) fn mod_meta(m: &VerifiedMod) -> ArtifactMeta {
    let checked = m.checked();
    let sha = {
        use sha2::Digest;
        sha2::Sha256::digest(checked.bytes())
    };
    ArtifactMeta {
        v: META_VERSION,
        kind: ArtifactKind::Mod,
        module: checked.module().to_owned(),
        version: checked.version().to_owned(),
        sha256: hex(&sha),
        size: checked.bytes().len() as u64,
        h1: checked.h1().as_str().to_owned(),
        proofs: m.proofs().iter().map(ProofRecord::from_proof).collect(),
        verified_at: now_secs(),
        instance: now_nanos(),
    }
}

/// Parses a stored record and checks it is the record of `(kind, module,
/// version)` in the current format; `Err`: why it is damaged.
pub(crate) fn parse_record(
    bytes: &[u8],
    kind: ArtifactKind,
    module: &str,
    version: &str,
) -> Result<ArtifactMeta, String> {
    let meta = serde_json::from_slice::<ArtifactMeta>(bytes).map_err(|e| e.to_string())?;
    let ok = meta.v == META_VERSION
        && meta.kind == kind
        && meta.module == module
        && meta.version == version
        && is_sha256_hex(&meta.sha256);
    if ok {
        Ok(meta)
    } else {
        Err("record does not match its location or format".to_owned())
    }
}

fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| StoreError::io("sync", dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The synchronous operations behind the [`Store`] implementation below.
impl DiskStore {
    fn temp_file_sync(&self) -> Result<tempfile::NamedTempFile, StoreError> {
        let dir = self.root.join("tmp");
        let tmp = tempfile::Builder::new()
            .prefix("in-flight-")
            .tempfile_in(&dir)
            .map_err(|e| StoreError::io("create temp file in", dir, e))?;
        // Held until the file is committed or dropped: tells a concurrent
        // sweep that this file is in use. Best effort where locks are not
        // supported.
        let _ = tmp.as_file().try_lock();
        Ok(tmp)
    }

    fn put_zip_sync(&self, zip: VerifiedZip) -> Result<Created, StoreError> {
        let (checked, proofs) = zip.into_parts();
        let meta = zip_meta(&checked, &proofs);
        if let Some(old) = self.existing(&meta)? {
            return Ok(Created::Existing(old));
        }
        self.commit(checked.into_file(), &meta)?;
        Ok(Created::New(StoredArtifact::new(meta)))
    }

    fn put_mod_sync(&self, m: VerifiedMod) -> Result<Created, StoreError> {
        let checked = m.checked();
        let meta = mod_meta(&m);
        if let Some(old) = self.existing(&meta)? {
            return Ok(Created::Existing(old));
        }
        let mut tmp = self.temp_file_sync()?;
        tmp.write_all(checked.bytes())
            .map_err(|e| StoreError::io("write", tmp.path(), e))?;
        self.commit(tmp, &meta)?;
        Ok(Created::New(StoredArtifact::new(meta)))
    }

    fn meta_sync(
        &self,
        kind: ArtifactKind,
        module: &str,
        version: &str,
    ) -> Result<Option<ArtifactMeta>, StoreError> {
        match self.peek_record_sync(kind, module, version)? {
            Ok(meta) => Ok(meta),
            Err(msg) => {
                // A damaged record proves nothing: move it aside and treat the
                // version as not cached, so it is fetched and proven again.
                let path = self.meta_path(kind, module, version)?;
                self.move_aside(&path, "meta", &format!("damaged cache metadata: {msg}"))?;
                Ok(None)
            }
        }
    }

    fn versions_sync(&self, module: &str) -> Result<Vec<String>, StoreError> {
        let escaped = module::escape_path(module).map_err(|e| StoreError::Corrupt {
            path: self.root.join("meta"),
            msg: e.to_string(),
        })?;
        let dir = local_path(&self.root, &format!("meta/{escaped}/@v"));
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io("read", dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let name = entry
                .map_err(|e| StoreError::io("read", &dir, e))?
                .file_name();
            let stem = name.to_str().and_then(|n| {
                n.strip_suffix(".zip.json")
                    .or_else(|| n.strip_suffix(".mod.json"))
            });
            if let Some(v) = stem.and_then(|v| module::unescape_version(v).ok()) {
                out.push(v);
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// The record as stored; `Err`: why it is damaged (left in place).
    fn peek_record_sync(
        &self,
        kind: ArtifactKind,
        module: &str,
        version: &str,
    ) -> Result<Result<Option<ArtifactMeta>, String>, StoreError> {
        let path = self.meta_path(kind, module, version)?;
        let bytes = match read_regular(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ok(None)),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => return Ok(Err(e.to_string())),
            Err(e) => return Err(StoreError::io("read", path, e)),
        };
        Ok(parse_record(&bytes, kind, module, version).map(Some))
    }

    fn quarantine_sync(&self, meta: &ArtifactMeta, why: &str) -> Result<(), StoreError> {
        let blob = self.blob_path(&meta.sha256);
        let dest = self
            .root
            .join("quarantine")
            .join(format!("{}.{}", meta.sha256, now_secs()));
        match fs::rename(&blob, &dest) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io("quarantine", blob, e)),
        }
        let note = dest.with_extension("why");
        let _ = fs::write(
            &note,
            format!(
                "{} {} {}: {why}\n",
                meta.module,
                meta.version,
                meta.kind.as_str()
            ),
        );
        let mp = self.meta_path(meta.kind, &meta.module, &meta.version)?;
        match fs::remove_file(&mp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io("remove", mp, e)),
        }
        tracing::error!(module = %meta.module, version = %meta.version, kind = meta.kind.as_str(),
            sha256 = %meta.sha256, quarantined = %dest.display(), "{why}");
        Ok(())
    }

    fn quarantine_record_sync(&self, meta: &ArtifactMeta, why: &str) -> Result<(), StoreError> {
        let mp = self.meta_path(meta.kind, &meta.module, &meta.version)?;
        if let Some(dest) = self.to_quarantine(&mp, "meta", why)? {
            tracing::error!(module = %meta.module, version = %meta.version, kind = meta.kind.as_str(),
                quarantined = %dest.display(), "{why}");
        }
        Ok(())
    }

    /// Moves `path` to `quarantine/<prefix>.<nanos>.<name>` with a `.why`
    /// note beside it; `None` if it was gone already.
    fn to_quarantine(
        &self,
        path: &Path,
        prefix: &str,
        why: &str,
    ) -> Result<Option<PathBuf>, StoreError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dest = self
            .root
            .join("quarantine")
            .join(format!("{prefix}.{}.{name}", now_nanos()));
        match fs::rename(path, &dest) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io("quarantine", path, e)),
        }
        let _ = fs::write(dest.with_extension("why"), format!("{why}\n"));
        Ok(Some(dest))
    }

    fn get_doc_sync(&self, key: &DocKey) -> Result<Option<Bytes>, StoreError> {
        let p = DiskStore::doc_path(&self.root, key);
        match read_regular(&p) {
            // An empty file counts as missing (cmd/go sumdb.go ReadCache).
            Ok(b) if b.is_empty() => Ok(None),
            Ok(b) => Ok(Some(Bytes::from(b))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            // A re-fetchable document that is not a file is moved aside; the
            // durable ones (trusted heads) are an error: never forget them.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData && !key.durable() => {
                self.move_aside(&p, "doc", &format!("damaged cache document: {e}"))?;
                Ok(None)
            }
            Err(e) => Err(StoreError::io("read", p, e)),
        }
    }

    fn put_doc_sync(&self, key: &DocKey, bytes: &[u8]) -> Result<(), StoreError> {
        let p = DiskStore::doc_path(&self.root, key);
        // Only the documents that must survive a power cut pay for fsyncs.
        self.write_atomic_with(&p, bytes, key.durable())
    }

    fn delete_doc_sync(&self, key: &DocKey) -> Result<bool, StoreError> {
        remove_file(&DiskStore::doc_path(&self.root, key))
    }

    /// An exclusive lock on a `<name>.lock` sibling serializes the
    /// read-compare-write across processes; readers need no lock, since the
    /// write itself is still temp file, fsync, rename, directory fsync.
    fn compare_and_swap_doc_sync(
        &self,
        key: &DocKey,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, StoreError> {
        let p = DiskStore::doc_path(&self.root, key);
        let dir = p.parent().unwrap_or(&self.root);
        fs::create_dir_all(dir).map_err(|e| StoreError::io("create", dir, e))?;
        let mut lock_name = p.file_name().unwrap_or_default().to_owned();
        lock_name.push(".lock");
        let lock_path = p.with_file_name(lock_name);
        let lock = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| StoreError::io("open", &lock_path, e))?;
        lock.lock()
            .map_err(|e| StoreError::io("lock", &lock_path, e))?;
        if self.get_doc_sync(key)?.as_deref() != expected {
            return Ok(false);
        }
        self.write_atomic_with(&p, new, key.durable())?;
        Ok(true)
    }
}

impl DiskStore {
    /// Moves a damaged file to `quarantine/<kind>.<nanos>.<name>` and logs why.
    fn move_aside(&self, path: &Path, kind: &str, why: &str) -> Result<(), StoreError> {
        if let Some(dest) = self.to_quarantine(path, kind, why)? {
            tracing::error!(path = %path.display(), quarantined = %dest.display(), "{why}");
        }
        Ok(())
    }
}

/// Listing, hashing and removal behind the [`Store`] implementation: the
/// one place that knows the layout (besides the paths above).
impl DiskStore {
    fn list_records_sync(&self) -> Result<Vec<RecordEntry>, StoreError> {
        let meta = self.root.join("meta");
        let mut files = Vec::new();
        walk(&meta, &mut files).map_err(|e| StoreError::io("read", &meta, e))?;
        files.sort();
        Ok(files
            .into_iter()
            .filter_map(|p| classify_record(&meta, &p))
            .collect())
    }

    /// [`Store::list_records_page`]: a sorted walk of `meta/` resumed past
    /// the cursor, reading only the directories on the way to it and after.
    fn list_records_page_sync(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<RecordPage, StoreError> {
        let meta = self.root.join("meta");
        let limit = limit.max(1);
        let (mut records, mut seen, mut last) = (Vec::new(), 0usize, None);
        let finished = walk_sorted(&meta, "", after, &mut |rel, path| {
            if seen >= limit {
                return false;
            }
            seen = seen.saturating_add(1);
            records.extend(classify_record_rel(&rel, path.display().to_string()));
            last = Some(rel);
            true
        })
        .map_err(|e| StoreError::io("read", &meta, e))?;
        Ok(RecordPage {
            records,
            next: if finished { None } else { last },
        })
    }

    fn list_docs_sync(&self) -> Result<Vec<DocEntry>, StoreError> {
        let meta = self.root.join("meta");
        self.list_doc_files(&meta, |path| classify_doc(&meta, path))
    }

    fn list_evidence_sync(&self) -> Result<Vec<DocEntry>, StoreError> {
        self.list_doc_files(&local_path(&self.root, EVIDENCE), |path| {
            let name = path.file_name()?.to_string_lossy();
            // Lock files of the conditional create, temp files: not objects.
            DocKey::evidence(&name).filter(|k| DiskStore::doc_path(&self.root, k) == path)
        })
    }

    /// The files under `dir` that `key_of` names as documents, sorted by path.
    fn list_doc_files(
        &self,
        dir: &Path,
        key_of: impl Fn(&Path) -> Option<DocKey>,
    ) -> Result<Vec<DocEntry>, StoreError> {
        let mut files = Vec::new();
        walk(dir, &mut files).map_err(|e| StoreError::io("read", dir, e))?;
        files.sort();
        let mut out = Vec::new();
        for path in files {
            let Some(key) = key_of(&path) else {
                continue;
            };
            match fs::metadata(&path) {
                Ok(md) => out.push(DocEntry {
                    key,
                    location: path.display().to_string(),
                    size: md.len(),
                    modified: md.modified().ok(),
                }),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io("read", path, e)),
            }
        }
        Ok(out)
    }

    fn list_blobs_sync(&self) -> Result<Vec<BlobEntry>, StoreError> {
        let blobs = local_path(&self.root, BLOBS);
        let mut files = Vec::new();
        walk(&blobs, &mut files).map_err(|e| StoreError::io("read", &blobs, e))?;
        files.sort();
        let mut out = Vec::with_capacity(files.len());
        for path in files {
            let md = match fs::metadata(&path) {
                Ok(m) => m,
                // Quarantined or collected by someone else meanwhile.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::io("read", path, e)),
            };
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let well_named = is_sha256_hex(&name) && self.blob_path(&name) == path;
            out.push(BlobEntry {
                location: path.display().to_string(),
                name,
                well_named,
                size: md.len(),
                modified: md.modified().ok(),
            });
        }
        Ok(out)
    }

    fn hash_blob_sync(&self, blob: &BlobEntry) -> Result<Option<([u8; 32], u64)>, StoreError> {
        let path = self.listed_path(&blob.location)?;
        let f = match open_regular(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io("open", path, e)),
        };
        crate::xmod::dirhash::sha256_reader(f)
            .map(Some)
            .map_err(|e| StoreError::io("read", path, e))
    }

    /// A location from one of this store's listings, as a path inside it.
    fn listed_path(&self, location: &str) -> Result<PathBuf, StoreError> {
        let path = PathBuf::from(location);
        let inside = path.starts_with(&self.root)
            && path
                .components()
                .all(|c| !matches!(c, std::path::Component::ParentDir));
        if inside {
            Ok(path)
        } else {
            Err(StoreError::Corrupt {
                path,
                msg: "not a location in this cache".into(),
            })
        }
    }

    fn quarantine_location_sync(
        &self,
        location: &str,
        why: &str,
    ) -> Result<Option<String>, StoreError> {
        let path = self.listed_path(location)?;
        let prefix = if path.starts_with(self.root.join("blobs")) {
            "blob"
        } else if path.starts_with(self.root.join("evidence")) {
            "evidence"
        } else {
            "meta"
        };
        Ok(self
            .to_quarantine(&path, prefix, why)?
            .map(|d| d.display().to_string()))
    }

    fn remove_record_sync(&self, id: &RecordId) -> Result<(), StoreError> {
        let p = self.meta_path(id.kind, &id.module, &id.version)?;
        remove_file(&p).map(|_| ())
    }

    fn remove_blob_sync(&self, sha256: &str) -> Result<bool, StoreError> {
        if !is_sha256_hex(sha256) {
            return Ok(false);
        }
        remove_file(&self.blob_path(sha256))
    }

    /// A blob as a seekable local file: the blob itself, opened lazily.
    fn local_blob_sync(&self, sha256: &str) -> Result<LocalBlob, StoreError> {
        if !is_sha256_hex(sha256) {
            return Err(StoreError::Corrupt {
                path: local_path(&self.root, BLOBS),
                msg: format!("{sha256:?} is not a content address"),
            });
        }
        let path = self.blob_path(sha256);
        Ok(LocalBlob::new(move || open_regular(&path)))
    }

    /// Opens a blob for a verifying read: blobs up to [`SMALL_READ`] are
    /// read whole (one blocking call, or none when they are [`SMALL_IO`]);
    /// larger ones are streamed from the file.
    fn open_reader_sync(&self, meta: &ArtifactMeta, whole: bool) -> Result<BlobReader, StoreError> {
        use std::io::Read;
        let p = self.blob_path(&meta.sha256);
        let f = open_regular(&p).map_err(|e| StoreError::io("open", &p, e))?;
        let len = f
            .metadata()
            .map_err(|e| StoreError::io("open", &p, e))?
            .len();
        if !whole {
            return Ok(BlobReader {
                len,
                reader: Box::pin(tokio::fs::File::from_std(f)),
            });
        }
        // At most one byte past the record's size: enough to tell a
        // replaced, larger file, never more memory than the record promised.
        let mut buf = Vec::with_capacity(usize::try_from(len.min(meta.size)).unwrap_or(0));
        f.take(meta.size.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(|e| StoreError::io("read", &p, e))?;
        Ok(BlobReader {
            len,
            reader: Box::pin(std::io::Cursor::new(buf)),
        })
    }

    /// Runs `f` on the blocking pool (fsyncs, large reads, directory walks).
    fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&DiskStore) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreFuture<'static, T> {
        let me = self.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || f(&me))
                .await
                .map_err(|e| StoreError::io("join", "blocking task", std::io::Error::other(e)))?
        })
    }
}

/// An operation that already ran (inline: cheap on a local disk).
fn done<T: Send + 'static>(r: Result<T, StoreError>) -> StoreFuture<'static, T> {
    Box::pin(std::future::ready(r))
}

fn remove_file(p: &Path) -> Result<bool, StoreError> {
    match fs::remove_file(p) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(StoreError::io("remove", p, e)),
    }
}

impl Store for DiskStore {
    fn small_io_inline(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn blob_location(&self, sha256: &str) -> String {
        self.blob_path(sha256).display().to_string()
    }

    fn doc_location(&self, key: &DocKey) -> String {
        DiskStore::doc_path(&self.root, key).display().to_string()
    }

    fn spool(&self) -> StoreFuture<'_, tempfile::NamedTempFile> {
        done(self.temp_file_sync())
    }

    fn create_zip(&self, zip: VerifiedZip) -> StoreFuture<'_, Created> {
        Box::pin(async move {
            super::store_evidence(self, zip.proofs()).await?;
            self.blocking(move |s| s.put_zip_sync(zip)).await
        })
    }

    fn create_mod(&self, m: VerifiedMod) -> StoreFuture<'_, Created> {
        Box::pin(async move {
            super::store_evidence(self, m.proofs()).await?;
            self.blocking(move |s| s.put_mod_sync(m)).await
        })
    }

    fn record<'a>(&'a self, id: &'a RecordId) -> StoreFuture<'a, Option<ArtifactMeta>> {
        done(self.meta_sync(id.kind, &id.module, &id.version))
    }

    fn peek_record<'a>(
        &'a self,
        id: &'a RecordId,
    ) -> StoreFuture<'a, Result<Option<ArtifactMeta>, String>> {
        done(self.peek_record_sync(id.kind, &id.module, &id.version))
    }

    fn list_records(&self) -> StoreFuture<'_, Vec<RecordEntry>> {
        self.blocking(|s| s.list_records_sync())
    }

    fn list_records_page<'a>(
        &'a self,
        after: Option<&'a str>,
        limit: usize,
    ) -> StoreFuture<'a, RecordPage> {
        let after = after.map(str::to_owned);
        self.blocking(move |s| s.list_records_page_sync(after.as_deref(), limit))
    }

    fn versions<'a>(&'a self, module: &'a str) -> StoreFuture<'a, Vec<String>> {
        let module = module.to_owned();
        self.blocking(move |s| s.versions_sync(&module))
    }

    fn list_blobs(&self) -> StoreFuture<'_, Vec<BlobEntry>> {
        self.blocking(|s| s.list_blobs_sync())
    }

    fn list_docs(&self) -> StoreFuture<'_, Vec<DocEntry>> {
        self.blocking(|s| s.list_docs_sync())
    }

    fn list_evidence(&self) -> StoreFuture<'_, Vec<DocEntry>> {
        self.blocking(|s| s.list_evidence_sync())
    }

    fn open_blob<'a>(&'a self, artifact: &'a StoredArtifact) -> StoreFuture<'a, BlobReader> {
        let size = artifact.size;
        if size <= SMALL_IO {
            return done(self.open_reader_sync(artifact, true));
        }
        if size <= SMALL_READ {
            let meta = artifact.meta().clone();
            return self.blocking(move |s| s.open_reader_sync(&meta, true));
        }
        // Opening is cheap; the reads go to the blocking pool chunk by chunk.
        done(self.open_reader_sync(artifact, false))
    }

    fn local_blob<'a>(&'a self, blob: UncheckedBlob<'a>) -> StoreFuture<'a, LocalBlob> {
        done(self.local_blob_sync(blob.sha256()))
    }

    fn hash_blob<'a>(&'a self, blob: &'a BlobEntry) -> StoreFuture<'a, Option<([u8; 32], u64)>> {
        let blob = blob.clone();
        self.blocking(move |s| s.hash_blob_sync(&blob))
    }

    fn quarantine<'a>(&'a self, meta: &'a ArtifactMeta, why: &'a str) -> StoreFuture<'a, ()> {
        let (meta, why) = (meta.clone(), why.to_owned());
        self.blocking(move |s| s.quarantine_sync(&meta, &why))
    }

    fn quarantine_record<'a>(
        &'a self,
        meta: &'a ArtifactMeta,
        why: &'a str,
    ) -> StoreFuture<'a, ()> {
        let (meta, why) = (meta.clone(), why.to_owned());
        self.blocking(move |s| s.quarantine_record_sync(&meta, &why))
    }

    fn quarantine_location<'a>(
        &'a self,
        location: &'a str,
        why: &'a str,
    ) -> StoreFuture<'a, Option<String>> {
        let (location, why) = (location.to_owned(), why.to_owned());
        self.blocking(move |s| s.quarantine_location_sync(&location, &why))
    }

    fn remove_record<'a>(&'a self, id: &'a RecordId) -> StoreFuture<'a, ()> {
        let id = id.clone();
        self.blocking(move |s| s.remove_record_sync(&id))
    }

    fn remove_blob<'a>(&'a self, sha256: &'a str) -> StoreFuture<'a, bool> {
        let sha256 = sha256.to_owned();
        self.blocking(move |s| s.remove_blob_sync(&sha256))
    }

    fn get_doc<'a>(&'a self, key: &'a DocKey) -> StoreFuture<'a, Option<Bytes>> {
        done(self.get_doc_sync(key))
    }

    fn get_doc_now(&self, key: &DocKey) -> Option<Result<Option<Bytes>, StoreError>> {
        Some(self.get_doc_sync(key))
    }

    fn put_doc<'a>(&'a self, key: &'a DocKey, bytes: Bytes) -> StoreFuture<'a, ()> {
        if key.durable() {
            let key = key.clone();
            return self.blocking(move |s| s.put_doc_sync(&key, &bytes));
        }
        done(self.put_doc_sync(key, &bytes))
    }

    fn delete_doc<'a>(&'a self, key: &'a DocKey) -> StoreFuture<'a, bool> {
        done(self.delete_doc_sync(key))
    }

    fn compare_and_swap_doc<'a>(
        &'a self,
        key: &'a DocKey,
        expected: Option<Bytes>,
        new: Bytes,
    ) -> StoreFuture<'a, bool> {
        let key = key.clone();
        self.blocking(move |s| s.compare_and_swap_doc_sync(&key, expected.as_deref(), &new))
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let ft = entry.file_type()?;
        if ft.is_dir() {
            walk(&entry.path(), out)?;
        } else if ft.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

/// Visits the files under `dir` (whose relative path is `rel`: empty or
/// ending in `/`) in byte order of their relative paths, skipping those up
/// to `after`, until `visit` says stop (then `Ok(false)`). A directory `d`
/// sorts as `d/`, where its files' paths sort; one that sorts before the
/// cursor and does not contain it holds nothing after it and is not read.
/// Names that are not UTF-8 are never keys and are passed over.
fn walk_sorted(
    dir: &Path,
    rel: &str,
    after: Option<&str>,
    visit: &mut dyn FnMut(String, PathBuf) -> bool,
) -> std::io::Result<bool> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(true),
        Err(e) => return Err(e),
    };
    let mut children = Vec::new();
    for entry in entries {
        let entry = entry?;
        let ft = entry.file_type()?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if ft.is_dir() {
            children.push((format!("{rel}{name}/"), true, entry.path()));
        } else if ft.is_file() {
            children.push((format!("{rel}{name}"), false, entry.path()));
        }
    }
    children.sort();
    for (key, is_dir, path) in children {
        if after.is_some_and(|c| key.as_str() <= c && !(is_dir && c.starts_with(&key))) {
            continue;
        }
        let go_on = if is_dir {
            walk_sorted(&path, &key, after, visit)?
        } else {
            visit(key, path)
        };
        if !go_on {
            return Ok(false);
        }
    }
    Ok(true)
}

/// `path` relative to `meta`, with `/` separators.
fn rel_under(meta: &Path, path: &Path) -> Option<String> {
    Some(path.strip_prefix(meta).ok()?.to_str()?.replace('\\', "/"))
}

/// Parses `<escaped module>/@v/<escaped version>.{zip,mod}.json` relative to
/// `meta`; other files (`.info`, `list`, `@latest`) give `None`.
fn classify_record(meta: &Path, path: &Path) -> Option<RecordEntry> {
    let rel = rel_under(meta, path)?;
    classify_record_rel(&rel, path.display().to_string())
}

/// The record named by `rel` (relative to `meta/`), listed at `location`.
pub(crate) fn classify_record_rel(rel: &str, location: String) -> Option<RecordEntry> {
    let (kind, stem) = if let Some(s) = rel.strip_suffix(".zip.json") {
        (ArtifactKind::Zip, s)
    } else if let Some(s) = rel.strip_suffix(".mod.json") {
        (ArtifactKind::Mod, s)
    } else {
        return None;
    };
    let (m, v) = stem.rsplit_once("/@v/")?;
    let id = module::unescape_path(m)
        .and_then(|module| {
            module::unescape_version(v).map(|version| RecordId {
                kind,
                module,
                version,
            })
        })
        .map_err(|e| e.to_string());
    Some(RecordEntry { location, id })
}

/// The document key of `meta/<p>/@v/list`, `meta/<p>/@v/<v>.info` or
/// `meta/<p>/@latest` (the inverse of [`DocKey::rel_path`]).
fn classify_doc(meta: &Path, path: &Path) -> Option<DocKey> {
    classify_doc_rel(&rel_under(meta, path)?)
}

/// The re-fetchable document named by `rel` (relative to `meta/`).
pub(crate) fn classify_doc_rel(rel: &str) -> Option<DocKey> {
    if let Some(p) = rel.strip_suffix("/@latest") {
        return Some(DocKey::Latest(p.to_owned()));
    }
    let (p, name) = rel.rsplit_once("/@v/")?;
    if name == "list" {
        return Some(DocKey::List(p.to_owned()));
    }
    let v = name.strip_suffix(".info")?;
    (!v.is_empty() && !v.contains('/')).then(|| DocKey::Info(p.to_owned(), v.to_owned()))
}

/// 64 lowercase hex digits: a content address.
pub(crate) fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Opens a cache file for reading, refusing anything but a regular file: a
/// FIFO or device planted in the cache would otherwise block the reading
/// thread forever (on Linux it is opened with O_NONBLOCK, then checked).
/// A non-regular file is `InvalidData`, "not a regular file".
fn open_regular(path: &Path) -> std::io::Result<fs::File> {
    let not_regular = || std::io::Error::new(std::io::ErrorKind::InvalidData, "not a regular file");
    let mut o = fs::OpenOptions::new();
    o.read(true);
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    #[cfg(not(target_os = "linux"))]
    if !fs::metadata(path)?.is_file() {
        return Err(not_regular());
    }
    let f = o.open(path)?;
    if !f.metadata()?.is_file() {
        return Err(not_regular());
    }
    Ok(f)
}

/// [`open_regular`], read whole.
fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut buf = Vec::new();
    open_regular(path)?.read_to_end(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_removes_leftovers_only_from_tmp() {
        let dir = tempfile::tempdir().unwrap();
        let (store, r) = DiskStore::open(dir.path()).unwrap();
        assert_eq!(r.temp_files, 0);
        let t = store.temp_file_sync().unwrap();
        let (f, p) = t.keep().unwrap();
        drop(f);
        store
            .put_doc_sync(&DocKey::List("example.com/m".into()), b"v1.0.0\n")
            .unwrap();
        drop(store);
        let (store, r) = DiskStore::open(dir.path()).unwrap();
        assert_eq!(r.temp_files, 1);
        assert!(!p.exists());
        assert_eq!(
            store
                .get_doc_sync(&DocKey::List("example.com/m".into()))
                .unwrap()
                .unwrap(),
            Bytes::from_static(b"v1.0.0\n")
        );
    }

    #[test]
    fn sweep_spares_files_another_process_is_writing() {
        let dir = tempfile::tempdir().unwrap();
        let (a, _) = DiskStore::open(dir.path()).unwrap();
        let in_flight = a.temp_file_sync().unwrap();
        let (b, r) = DiskStore::open(dir.path()).unwrap();
        assert_eq!(r.temp_files, 0);
        assert!(in_flight.path().exists());
        drop(in_flight);
        let leftover = b.temp_file_sync().unwrap();
        let (_f, p) = leftover.keep().unwrap();
        drop(_f);
        assert_eq!(b.sweep().unwrap().temp_files, 1);
        assert!(!p.exists());
    }

    #[test]
    fn docs_round_trip_and_empty_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = DiskStore::open(dir.path()).unwrap();
        let k = DocKey::SumdbTile("sum.golang.org".into(), "tile/8/0/x001/234.p/5".into());
        assert_eq!(store.get_doc_sync(&k).unwrap(), None);
        store.put_doc_sync(&k, b"").unwrap();
        assert_eq!(store.get_doc_sync(&k).unwrap(), None);
        store.put_doc_sync(&k, b"abc").unwrap();
        assert_eq!(
            store.get_doc_sync(&k).unwrap().unwrap(),
            Bytes::from_static(b"abc")
        );
        store.delete_doc_sync(&k).unwrap();
        assert_eq!(store.get_doc_sync(&k).unwrap(), None);
    }

    #[test]
    fn compare_and_swap_writes_only_over_the_expected_document() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = DiskStore::open(dir.path()).unwrap();
        let k = DocKey::SumdbHead("sum.golang.org".into());
        assert!(
            !store
                .compare_and_swap_doc_sync(&k, Some(b"a"), b"b")
                .unwrap()
        );
        assert_eq!(store.get_doc_sync(&k).unwrap(), None);
        assert!(store.compare_and_swap_doc_sync(&k, None, b"a").unwrap());
        assert!(!store.compare_and_swap_doc_sync(&k, None, b"x").unwrap());
        assert!(
            !store
                .compare_and_swap_doc_sync(&k, Some(b"z"), b"x")
                .unwrap()
        );
        assert_eq!(
            store.get_doc_sync(&k).unwrap().unwrap(),
            Bytes::from_static(b"a")
        );
        assert!(
            store
                .compare_and_swap_doc_sync(&k, Some(b"a"), b"b")
                .unwrap()
        );
        assert_eq!(
            store.get_doc_sync(&k).unwrap().unwrap(),
            Bytes::from_static(b"b")
        );
    }

    /// Racing swaps from one expected value: exactly one wins, whichever
    /// store handle (standing in for a process) it runs on.
    #[test]
    fn compare_and_swap_has_one_winner() {
        let dir = tempfile::tempdir().unwrap();
        let k = DocKey::SumdbHead("sum.golang.org".into());
        let (store, _) = DiskStore::open(dir.path()).unwrap();
        store.put_doc_sync(&k, b"old").unwrap();
        let wins: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8u8)
                .map(|i| {
                    let root = dir.path().to_owned();
                    let k = k.clone();
                    s.spawn(move || {
                        let store = DiskStore { root: root.into() };
                        usize::from(
                            store
                                .compare_and_swap_doc_sync(&k, Some(b"old"), &[b'n', i])
                                .unwrap(),
                        )
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(wins, 1);
        assert_ne!(
            store.get_doc_sync(&k).unwrap().unwrap(),
            Bytes::from_static(b"old")
        );
    }

    #[test]
    fn corrupt_meta_is_quarantined_not_a_hit() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = DiskStore::open(dir.path()).unwrap();
        let p = store
            .meta_path(ArtifactKind::Zip, "example.com/m", "v1.0.0")
            .unwrap();
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, b"{not json").unwrap();
        assert_eq!(
            store
                .meta_sync(ArtifactKind::Zip, "example.com/m", "v1.0.0")
                .unwrap(),
            None
        );
        assert!(!p.exists());
        // The record, and a note saying why, as for every quarantined file.
        let mut names: Vec<String> = fs::read_dir(dir.path().join("quarantine"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names[0].ends_with(".v1.0.0.zip.json"), "{names:?}");
        assert!(names[1].ends_with(".v1.0.0.zip.why"), "{names:?}");
        let why = fs::read_to_string(dir.path().join("quarantine").join(&names[1])).unwrap();
        assert!(why.starts_with("damaged cache metadata"), "{why}");
    }

    /// Offline `@v/list`: every version with a record, case-decoded, once;
    /// nothing for an unknown module.
    #[test]
    fn versions_lists_the_records_of_one_module() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = DiskStore::open(dir.path()).unwrap();
        for (kind, m, v) in [
            (ArtifactKind::Zip, "example.com/m", "v1.0.0"),
            (ArtifactKind::Mod, "example.com/m", "v1.0.0"),
            (ArtifactKind::Mod, "example.com/m", "v1.1.0-RC1"),
            (ArtifactKind::Mod, "example.com/m/sub", "v2.0.0"),
        ] {
            let p = store.meta_path(kind, m, v).unwrap();
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, b"{}").unwrap();
        }
        assert_eq!(
            store.versions_sync("example.com/m").unwrap(),
            ["v1.0.0", "v1.1.0-RC1"]
        );
        assert!(store.versions_sync("example.com/other").unwrap().is_empty());
    }
}

#[cfg(test)]
mod store_tests {
    use super::*;
    use crate::cache::testing::*;

    /// The first proven copy of a version stays: a second, different copy
    /// (another upstream answer, proven by another pin) is not written and
    /// the caller gets the stored record back; the same bytes proven again
    /// with other proofs are recorded with the new proofs.
    #[tokio::test]
    async fn conditional_create_keeps_the_first_copy() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = DiskStore::open(dir.path().join("cache")).unwrap();
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let first = go_mod_text(100);
        let second = go_mod_text(300);
        let pa = pinning(a.path(), &first);
        let pb = pinning(b.path(), &second);
        let Created::New(stored) = store.create_mod(verified_mod(&first, &pa)).await.unwrap()
        else {
            panic!("first create must write")
        };
        match store.create_mod(verified_mod(&second, &pb)).await.unwrap() {
            Created::Existing(old) => assert_eq!(&old, stored.meta()),
            Created::New(a) => panic!("second copy replaced the first: {a:?}"),
        }
        let now = store.record(&mod_id()).await.unwrap().unwrap();
        assert_eq!(&now, stored.meta());
        assert_eq!(
            fs::read(store.blob_location(&now.sha256)).unwrap(),
            first.as_bytes()
        );
        assert!(
            !Path::new(
                &store.blob_location(&hex(&crate::xmod::dirhash::sha256(second.as_bytes())))
            )
            .exists()
        );
        // The same bytes and proofs again: nothing new to record.
        assert!(matches!(
            store.create_mod(verified_mod(&first, &pa)).await.unwrap(),
            Created::Existing(_)
        ));
        // The same bytes under other proofs (another policy file): recorded.
        let c = tempfile::tempdir().unwrap();
        let pc = pinning(c.path(), &first);
        let Created::New(again) = store.create_mod(verified_mod(&first, &pc)).await.unwrap() else {
            panic!("new proofs of the same bytes are recorded")
        };
        assert_eq!(again.sha256, stored.sha256);
        assert_ne!(again.proofs, stored.proofs);
    }

    #[tokio::test]
    async fn listings_name_records_blobs_and_documents() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("cache");
        let (store, _) = DiskStore::open(&root).unwrap();
        let text = go_mod_text(100);
        let p = pinning(dir.path(), &text);
        let Created::New(a) = store.create_mod(verified_mod(&text, &p)).await.unwrap() else {
            panic!("first create must write")
        };
        store
            .put_doc(
                &DocKey::List("example.com/!foo".into()),
                Bytes::from_static(b"v1.0.0\n"),
            )
            .await
            .unwrap();
        store
            .put_doc(
                &DocKey::Info("example.com/m".into(), "v1.0.0".into()),
                Bytes::from_static(b"{}"),
            )
            .await
            .unwrap();
        store
            .put_doc(
                &DocKey::Latest("example.com/m".into()),
                Bytes::from_static(b"{}"),
            )
            .await
            .unwrap();
        // A record at a location no module path escapes to, a stray blob.
        let stray = ["meta", "example.com", "Bad", "@v", "v1.0.0.zip.json"]
            .iter()
            .fold(root.to_path_buf(), |p, e| p.join(e));
        fs::create_dir_all(stray.parent().unwrap()).unwrap();
        fs::write(&stray, b"{}").unwrap();
        let loose = root.join("blobs/sha256/zz/not-a-digest");
        fs::create_dir_all(loose.parent().unwrap()).unwrap();
        fs::write(&loose, b"x").unwrap();

        let records = store.list_records().await.unwrap();
        assert_eq!(records.len(), 2, "{records:?}");
        assert!(records[0].id.is_err(), "{records:?}");
        assert_eq!(records[0].location, stray.display().to_string());
        assert_eq!(records[1].id, Ok(mod_id()));

        let blobs = store.list_blobs().await.unwrap();
        assert_eq!(blobs.len(), 2, "{blobs:?}");
        let good = blobs.iter().find(|b| b.name == a.sha256).expect("listed");
        assert!(good.well_named);
        assert_eq!(good.size, a.size);
        assert_eq!(
            store
                .hash_blob(good)
                .await
                .unwrap()
                .map(|(s, n)| (hex(&s), n)),
            Some((a.sha256.clone(), a.size))
        );
        let bad = blobs.iter().find(|b| b.name == "not-a-digest").unwrap();
        assert!(!bad.well_named);

        let mut keys: Vec<DocKey> = store
            .list_docs()
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.key)
            .collect();
        keys.sort_by_key(DocKey::rel_path);
        assert_eq!(
            keys,
            vec![
                DocKey::List("example.com/!foo".into()),
                DocKey::Latest("example.com/m".into()),
                DocKey::Info("example.com/m".into(), "v1.0.0".into()),
            ]
        );

        // Removal and quarantine by what the listings said.
        let moved = store
            .quarantine_location(&records[0].location, "invalid location")
            .await
            .unwrap()
            .expect("moved");
        assert!(moved.contains("quarantine") && !stray.exists());
        assert!(
            store
                .quarantine_location("/etc/passwd", "outside")
                .await
                .is_err()
        );
        store.remove_record(&mod_id()).await.unwrap();
        assert_eq!(store.record(&mod_id()).await.unwrap(), None);
        assert!(store.remove_blob(&a.sha256).await.unwrap());
        assert!(!store.remove_blob(&a.sha256).await.unwrap());
    }

    #[test]
    fn record_and_document_names() {
        let meta = Path::new("/c/meta");
        let r = classify_record(meta, &meta.join("example.com/!foo/@v/v1.0.0.zip.json")).unwrap();
        assert_eq!(
            r.id,
            Ok(RecordId::new(
                ArtifactKind::Zip,
                "example.com/Foo",
                "v1.0.0"
            ))
        );
        let r = classify_record(meta, &meta.join("example.com/m/@v/v1.0.0.mod.json")).unwrap();
        assert_eq!(r.id.unwrap().kind, ArtifactKind::Mod);
        for doc in ["v1.0.0.info", "list"] {
            let p = meta.join("example.com/m/@v").join(doc);
            assert!(classify_record(meta, &p).is_none());
            assert!(classify_doc(meta, &p).is_some());
        }
        assert!(classify_record(meta, &meta.join("example.com/m/@latest")).is_none());
        let r = classify_record(meta, &meta.join("example.com/Bad/@v/v1.0.0.zip.json")).unwrap();
        assert!(r.id.is_err());
        assert!(classify_doc(meta, &meta.join("example.com/m/@v/v1.0.0.zip.json")).is_none());
        for k in [
            DocKey::Info("example.com/!foo".into(), "v1.0.0".into()),
            DocKey::List("example.com/m".into()),
            DocKey::Latest("example.com/m".into()),
        ] {
            let p = Path::new("/c").join(k.rel_path());
            assert_eq!(classify_doc(meta, &p), Some(k));
        }
    }

    /// A key's location prints exactly as a directory walk spells the
    /// same file (on Windows too, where `join("a/b")` would keep the `/`).
    #[test]
    fn local_paths_use_the_platform_separator() {
        let root = Path::new("cache");
        let walked = ["meta", "example.com", "m", "@v", "list"]
            .iter()
            .fold(root.to_path_buf(), |p, e| p.join(e));
        let key = DocKey::List("example.com/m".into());
        assert_eq!(
            DiskStore::doc_path(root, &key).display().to_string(),
            walked.display().to_string()
        );
        assert_eq!(
            local_path(root, "blobs/sha256").display().to_string(),
            root.join("blobs").join("sha256").display().to_string()
        );
    }

    #[test]
    fn sha_names() {
        assert!(is_sha256_hex(&"ab".repeat(32)));
        assert!(!is_sha256_hex(&"AB".repeat(32)));
        assert!(!is_sha256_hex("abc"));
    }
}
