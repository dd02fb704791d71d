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
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::{ArtifactMeta, DocKey, ProofRecord, Store, StoreError, SweepReport};
use crate::module;
use crate::verify::{ArtifactKind, VerifiedMod, VerifiedZip};

/// Current [`ArtifactMeta::v`].
const META_VERSION: u32 = 2;

/// The disk store. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct DiskStore {
    root: PathBuf,
}

pub use crate::dirhash::hex;

fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl DiskStore {
    /// Opens (creating if needed) a store at `root` and sweeps temp files
    /// left by an earlier crash.
    pub fn open(root: impl Into<PathBuf>) -> Result<(DiskStore, SweepReport), StoreError> {
        let root = root.into();
        for d in ["blobs/sha256", "meta", "sumdb", "tmp", "quarantine"] {
            let p = root.join(d);
            fs::create_dir_all(&p).map_err(|e| StoreError::io("create", &p, e))?;
        }
        let store = DiskStore { root };
        let report = store.sweep()?;
        Ok((store, report))
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Removes what interrupted writes left in `tmp/`. Every in-flight temp
    /// file is locked by the process writing it, so files another live
    /// process (a CLI command beside the server) is writing are left alone.
    pub fn sweep(&self) -> Result<SweepReport, StoreError> {
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
        self.root.join("blobs/sha256").join(shard).join(sha256_hex)
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
        Ok(self
            .root
            .join("meta")
            .join(p)
            .join("@v")
            .join(format!("{v}.{ext}.json")))
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
        let mut tmp = self.temp_file()?;
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
        let mut meta_tmp = self.temp_file()?;
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
        let Some(old) = self.meta(meta.kind, &meta.module, &meta.version)? else {
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

impl Store for DiskStore {
    fn small_io_inline(&self) -> bool {
        true
    }

    fn temp_file(&self) -> Result<tempfile::NamedTempFile, StoreError> {
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

    fn put_zip(&self, zip: VerifiedZip) -> Result<ArtifactMeta, StoreError> {
        let (checked, proofs) = zip.into_parts();
        let meta = ArtifactMeta {
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
        };
        if let Some(old) = self.existing(&meta)? {
            return Ok(old);
        }
        self.commit(checked.into_file(), &meta)?;
        Ok(meta)
    }

    fn put_mod(&self, m: VerifiedMod) -> Result<ArtifactMeta, StoreError> {
        let checked = m.checked();
        let sha = {
            use sha2::Digest;
            sha2::Sha256::digest(checked.bytes())
        };
        let meta = ArtifactMeta {
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
        };
        if let Some(old) = self.existing(&meta)? {
            return Ok(old);
        }
        let mut tmp = self.temp_file()?;
        tmp.write_all(checked.bytes())
            .map_err(|e| StoreError::io("write", tmp.path(), e))?;
        self.commit(tmp, &meta)?;
        Ok(meta)
    }

    fn meta(
        &self,
        kind: ArtifactKind,
        module: &str,
        version: &str,
    ) -> Result<Option<ArtifactMeta>, StoreError> {
        let path = self.meta_path(kind, module, version)?;
        let bytes = match read_regular(&path) {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => Err(e.to_string()),
            Err(e) => return Err(StoreError::io("read", path, e)),
        };
        let meta = bytes
            .and_then(|b| serde_json::from_slice::<ArtifactMeta>(&b).map_err(|e| e.to_string()))
            .and_then(|meta| {
                let ok = meta.v == META_VERSION
                    && meta.kind == kind
                    && meta.module == module
                    && meta.version == version
                    && meta.sha256.len() == 64
                    && meta
                        .sha256
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
                if ok {
                    Ok(meta)
                } else {
                    Err("record does not match its location or format".to_owned())
                }
            });
        match meta {
            Ok(meta) => Ok(Some(meta)),
            Err(msg) => {
                // A damaged record proves nothing: move it aside and treat the
                // version as not cached, so it is fetched and proven again.
                self.move_aside(&path, "meta", &format!("damaged cache metadata: {msg}"))?;
                Ok(None)
            }
        }
    }

    fn versions(&self, module: &str) -> Result<Vec<String>, StoreError> {
        let escaped = module::escape_path(module).map_err(|e| StoreError::Corrupt {
            path: self.root.join("meta"),
            msg: e.to_string(),
        })?;
        let dir = self.root.join("meta").join(escaped).join("@v");
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

    fn open_blob(&self, meta: &ArtifactMeta) -> Result<fs::File, StoreError> {
        let p = self.blob_path(&meta.sha256);
        open_regular(&p).map_err(|e| StoreError::io("open", p, e))
    }

    fn quarantine(&self, meta: &ArtifactMeta, why: &str) -> Result<(), StoreError> {
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

    fn quarantine_record(&self, meta: &ArtifactMeta, why: &str) -> Result<(), StoreError> {
        let mp = self.meta_path(meta.kind, &meta.module, &meta.version)?;
        let name = mp
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dest = self
            .root
            .join("quarantine")
            .join(format!("meta.{}.{name}", now_nanos()));
        match fs::rename(&mp, &dest) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io("quarantine", mp, e)),
        }
        let _ = fs::write(dest.with_extension("why"), format!("{why}\n"));
        tracing::error!(module = %meta.module, version = %meta.version, kind = meta.kind.as_str(),
            quarantined = %dest.display(), "{why}");
        Ok(())
    }

    fn get_doc(&self, key: &DocKey) -> Result<Option<Bytes>, StoreError> {
        let p = self.root.join(key.rel_path());
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

    fn put_doc(&self, key: &DocKey, bytes: &[u8]) -> Result<(), StoreError> {
        let p = self.root.join(key.rel_path());
        // Only the documents that must survive a power cut pay for fsyncs.
        self.write_atomic_with(&p, bytes, key.durable())
    }

    fn delete_doc(&self, key: &DocKey) -> Result<(), StoreError> {
        let p = self.root.join(key.rel_path());
        match fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io("remove", p, e)),
        }
    }

    /// An exclusive lock on a `<name>.lock` sibling serializes the
    /// read-compare-write across processes; readers need no lock, since the
    /// write itself is still temp file, fsync, rename, directory fsync.
    fn compare_and_swap_doc(
        &self,
        key: &DocKey,
        expected: Option<&[u8]>,
        new: &[u8],
    ) -> Result<bool, StoreError> {
        let p = self.root.join(key.rel_path());
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
        if self.get_doc(key)?.as_deref() != expected {
            return Ok(false);
        }
        self.write_atomic_with(&p, new, key.durable())?;
        Ok(true)
    }
}

impl DiskStore {
    /// Moves a damaged file to `quarantine/<kind>.<nanos>.<name>` and logs why.
    fn move_aside(&self, path: &Path, kind: &str, why: &str) -> Result<(), StoreError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let dest = self
            .root
            .join("quarantine")
            .join(format!("{kind}.{}.{name}", now_nanos()));
        fs::rename(path, &dest).map_err(|e| StoreError::io("quarantine", path, e))?;
        tracing::error!(path = %path.display(), quarantined = %dest.display(), "{why}");
        Ok(())
    }
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
        let t = store.temp_file().unwrap();
        let (f, p) = t.keep().unwrap();
        drop(f);
        store
            .put_doc(&DocKey::List("example.com/m".into()), b"v1.0.0\n")
            .unwrap();
        drop(store);
        let (store, r) = DiskStore::open(dir.path()).unwrap();
        assert_eq!(r.temp_files, 1);
        assert!(!p.exists());
        assert_eq!(
            store
                .get_doc(&DocKey::List("example.com/m".into()))
                .unwrap()
                .unwrap(),
            Bytes::from_static(b"v1.0.0\n")
        );
    }

    #[test]
    fn sweep_spares_files_another_process_is_writing() {
        let dir = tempfile::tempdir().unwrap();
        let (a, _) = DiskStore::open(dir.path()).unwrap();
        let in_flight = a.temp_file().unwrap();
        let (b, r) = DiskStore::open(dir.path()).unwrap();
        assert_eq!(r.temp_files, 0);
        assert!(in_flight.path().exists());
        drop(in_flight);
        let leftover = b.temp_file().unwrap();
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
        assert_eq!(store.get_doc(&k).unwrap(), None);
        store.put_doc(&k, b"").unwrap();
        assert_eq!(store.get_doc(&k).unwrap(), None);
        store.put_doc(&k, b"abc").unwrap();
        assert_eq!(
            store.get_doc(&k).unwrap().unwrap(),
            Bytes::from_static(b"abc")
        );
        store.delete_doc(&k).unwrap();
        assert_eq!(store.get_doc(&k).unwrap(), None);
    }

    #[test]
    fn compare_and_swap_writes_only_over_the_expected_document() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _) = DiskStore::open(dir.path()).unwrap();
        let k = DocKey::SumdbHead("sum.golang.org".into());
        assert!(!store.compare_and_swap_doc(&k, Some(b"a"), b"b").unwrap());
        assert_eq!(store.get_doc(&k).unwrap(), None);
        assert!(store.compare_and_swap_doc(&k, None, b"a").unwrap());
        assert!(!store.compare_and_swap_doc(&k, None, b"x").unwrap());
        assert!(!store.compare_and_swap_doc(&k, Some(b"z"), b"x").unwrap());
        assert_eq!(
            store.get_doc(&k).unwrap().unwrap(),
            Bytes::from_static(b"a")
        );
        assert!(store.compare_and_swap_doc(&k, Some(b"a"), b"b").unwrap());
        assert_eq!(
            store.get_doc(&k).unwrap().unwrap(),
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
        store.put_doc(&k, b"old").unwrap();
        let wins: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8u8)
                .map(|i| {
                    let root = dir.path().to_owned();
                    let k = k.clone();
                    s.spawn(move || {
                        let store = DiskStore { root };
                        usize::from(
                            store
                                .compare_and_swap_doc(&k, Some(b"old"), &[b'n', i])
                                .unwrap(),
                        )
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(wins, 1);
        assert_ne!(
            store.get_doc(&k).unwrap().unwrap(),
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
                .meta(ArtifactKind::Zip, "example.com/m", "v1.0.0")
                .unwrap(),
            None
        );
        assert!(!p.exists());
        assert_eq!(
            fs::read_dir(dir.path().join("quarantine")).unwrap().count(),
            1
        );
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
            store.versions("example.com/m").unwrap(),
            ["v1.0.0", "v1.1.0-RC1"]
        );
        assert!(store.versions("example.com/other").unwrap().is_empty());
    }
}
