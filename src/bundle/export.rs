//! `goward bundle export`: the cache as a `GOPROXY=file://` tree.
//!
//! Everything is read through the offline [`Service`] (each artifact
//! re-checked on the way, exactly what `serve --offline` would answer), and
//! the checksum-database pieces through [`crate::sumdb::SumdbClient`]: every
//! lookup is composed at the current trusted head after re-proving its
//! inclusion, and every tile is rebuilt from authenticated hashes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::io::{Seek, Write};

use super::spool::{Spool, SpooledManifest};
use super::{
    BundleError, FORMAT, FileEntry, MANIFEST, Manifest, ManifestDb, ModuleVersionEntry, io_err,
    local, sha256_hex,
};
use crate::artifact::ArtifactKind;
use crate::artifact::{ModulePath, ModuleVersion};
use crate::cache::{ProofRecord, RecordId};
use crate::error::ProxyError;
use crate::pipeline::Parts;
use crate::service::Service;
use crate::sumdb::{SumdbError, TILE_HEIGHT};
use crate::verify::proof::signature::kind::Evidence as SignatureEvidence;
use crate::xmod::tlog::{self, Tile};

/// The file in the cache directory holding earlier exports' tree sizes.
pub(crate) const HISTORY: &str = "bundle-exports.json";

/// What to export.
#[derive(Debug, Clone)]
pub(crate) struct ExportOptions {
    /// A directory (created; must be absent or empty), or a `.tar`,
    /// `.tar.gz` or `.tgz` file ([`Packing::of`]).
    pub out: PathBuf,
    /// The manifest of a previous export: only what it lacks is written,
    /// plus the tiles proving the new head consistent with its head.
    pub since: Option<PathBuf>,
    /// Where the tree sizes of earlier exports are kept (`<cache>/bundle-exports.json`):
    /// every export carries the tiles proving its head consistent with each of them.
    pub history: Option<PathBuf>,
}

/// What an export wrote, and what it could not.
#[derive(Debug)]
pub(crate) struct ExportReport {
    /// Module versions the bundle carries files of (the manifest's `modules`).
    pub modules: usize,
    /// Files written, the manifest aside.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Each checksum database's head the bundle's lookups are signed at.
    pub sumdb: Vec<ManifestDb>,
    /// Items that failed their re-check and were left out (`module@version: why`).
    pub failures: Vec<String>,
}

/// A tar being streamed: entries are appended as they are produced, the
/// manifest last; written to a temp file renamed into place when complete.
struct TarSink {
    builder: tar::Builder<TarFile>,
    tmp: PathBuf,
}

/// The file under a tar: plain, or gzip-compressed as it is written (a
/// `.tar.gz` is never held whole, nor written twice).
enum TarFile {
    Plain(std::io::BufWriter<std::fs::File>),
    Gz(Box<flate2::write::GzEncoder<std::io::BufWriter<std::fs::File>>>),
}

impl std::io::Write for TarFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            TarFile::Plain(w) => w.write(buf),
            TarFile::Gz(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            TarFile::Plain(w) => w.flush(),
            TarFile::Gz(w) => w.flush(),
        }
    }
}

impl TarFile {
    /// Ends the compressed stream (its trailer holds the CRC and length)
    /// and flushes: the file, ready to sync.
    fn finish(self) -> std::io::Result<std::fs::File> {
        let buffered = match self {
            TarFile::Plain(w) => w,
            TarFile::Gz(w) => w.finish()?,
        };
        buffered
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)
    }
}

/// What `--out` names: a directory, a `.tar`, or a `.tar.gz` / `.tgz`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Packing {
    /// A directory (itself a `GOPROXY=file://` tree).
    Dir,
    /// An uncompressed tar.
    Tar,
    /// A gzip-compressed tar.
    TarGz,
}

impl Packing {
    /// By the file name's extension (case-insensitive).
    pub(crate) fn of(out: &Path) -> Packing {
        let name = out
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            Packing::TarGz
        } else if name.ends_with(".tar") {
            Packing::Tar
        } else {
            Packing::Dir
        }
    }
}

impl TarSink {
    fn append(
        &mut self,
        path: &str,
        size: u64,
        r: &mut dyn std::io::Read,
    ) -> Result<(), BundleError> {
        let mut h = tar::Header::new_gnu();
        h.set_size(size);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        self.builder
            .append_data(&mut h, path, r)
            .map_err(io_err("write", &self.tmp))
    }
}

/// Where files go: a directory being filled, or a tar being streamed
/// (`root` then only spools one zip at a time), skipping what a previous
/// export already carried.
struct Out {
    root: PathBuf,
    tar: Option<TarSink>,
    /// The manifest's file list, on disk until the manifest is written.
    files: Spool<FileEntry>,
    /// The bytes of `files`.
    bytes: u64,
    prev: HashMap<String, String>,
}

impl Out {
    fn target(&self, path: &str) -> Result<PathBuf, BundleError> {
        super::check_path(path)
            .map_err(|e| BundleError::Other(format!("bundle path {path:?}: {e}")))?;
        if self.tar.is_some() {
            return Ok(self.root.join("zip.spool"));
        }
        let p = local(&self.root, path);
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
        }
        Ok(p)
    }

    /// Records a file written at [`Out::target`] (appending it to the tar).
    fn written(
        &mut self,
        path: String,
        local_file: &Path,
        sha256: String,
        size: u64,
    ) -> Result<(), BundleError> {
        if let Some(t) = &mut self.tar {
            let mut f = std::fs::File::open(local_file).map_err(io_err("open", local_file))?;
            t.append(&path, size, &mut f)?;
            drop(f);
            std::fs::remove_file(local_file).map_err(io_err("remove", local_file))?;
        }
        self.listed(FileEntry { path, sha256, size })
    }

    /// Whether the previous export carried this module file with these bytes.
    /// Only module files (`.zip`, `.mod`, `.info`, `.zip.sig`) are left out of
    /// an incremental bundle; the checksum-database pieces are always
    /// shipped whole (a few KiB each), so the importer re-proves from the
    /// bundle alone, and lists are the new ones.
    fn already_shipped(&self, path: &str, sha256: &str) -> bool {
        let bulk = [".zip", ".mod", ".info", ".zip.sig"]
            .iter()
            .any(|e| path.ends_with(e))
            && !path.starts_with("sumdb/");
        bulk && self.prev.get(path).is_some_and(|s| s == sha256)
    }

    /// Writes `bytes` at `path` unless the previous export had the same; returns whether written.
    fn put(&mut self, path: &str, bytes: &[u8]) -> Result<bool, BundleError> {
        let sha256 = sha256_hex(bytes);
        if self.already_shipped(path, &sha256) {
            return Ok(false);
        }
        let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        if let Some(t) = &mut self.tar {
            super::check_path(path)
                .map_err(|e| BundleError::Other(format!("bundle path {path:?}: {e}")))?;
            t.append(path, size, &mut &bytes[..])?;
        } else {
            let p = self.target(path)?;
            std::fs::write(&p, bytes).map_err(io_err("write", &p))?;
        }
        self.listed(FileEntry {
            path: path.to_owned(),
            sha256,
            size,
        })?;
        Ok(true)
    }

    /// Adds a written file to the manifest's list.
    fn listed(&mut self, f: FileEntry) -> Result<(), BundleError> {
        self.bytes = self.bytes.saturating_add(f.size);
        self.files.push(&f)
    }
}

/// Versions read through one service: a fresh one (empty in-memory caches)
/// for each batch keeps the export's memory flat in the number of versions.
const BATCH: usize = 256;

/// Keys per page of the record listing (one S3 listing request's worth).
const LIST_PAGE: usize = 1000;

/// A checksum database being exported: its head at the start, and the
/// stored-hash indexes of the records whose lookups were written (8 bytes
/// a version: what the tiles must prove).
struct DbExport {
    client: Arc<crate::sumdb::SumdbClient>,
    tree: tlog::Tree,
    note: bytes::Bytes,
    indexes: Vec<u64>,
}

/// Exports the cache that `parts` read (offline parts: [`crate::pipeline::build`]
/// of an offline configuration) as `opts` says.
pub(crate) async fn export(
    parts: &Parts,
    opts: &ExportOptions,
) -> Result<ExportReport, BundleError> {
    let packing = Packing::of(&opts.out);
    let tar = packing != Packing::Dir;
    let root = if tar {
        let mut name = opts.out.as_os_str().to_owned();
        name.push(".partial");
        PathBuf::from(name)
    } else {
        opts.out.clone()
    };
    if tar && opts.out.exists() {
        return Err(BundleError::Other(format!(
            "{} already exists; choose a new file",
            opts.out.display()
        )));
    }
    if tar && root.exists() {
        std::fs::remove_dir_all(&root).map_err(io_err("remove", &root))?;
    }
    if root.exists() {
        let mut entries = std::fs::read_dir(&root).map_err(io_err("read directory", &root))?;
        if entries.next().is_some() {
            return Err(BundleError::Other(format!(
                "{} is not empty; export into a new or empty directory",
                root.display()
            )));
        }
    }
    std::fs::create_dir_all(&root).map_err(io_err("create directory", &root))?;
    let prev = match &opts.since {
        Some(p) => Some(Manifest::read(p)?),
        None => None,
    };
    let sink = if tar {
        let mut tmp_name = opts.out.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp = PathBuf::from(tmp_name);
        let f =
            std::io::BufWriter::new(std::fs::File::create(&tmp).map_err(io_err("create", &tmp))?);
        let file = if packing == Packing::TarGz {
            TarFile::Gz(Box::new(flate2::write::GzEncoder::new(
                f,
                flate2::Compression::default(),
            )))
        } else {
            TarFile::Plain(f)
        };
        let mut builder = tar::Builder::new(file);
        builder.mode(tar::HeaderMode::Deterministic);
        Some(TarSink { builder, tmp })
    } else {
        None
    };
    // The lists that grow with the bundle are spooled beside it, not held.
    let spool_dir = match opts.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut out = Out {
        tar: sink,
        root: root.clone(),
        files: Spool::new(&spool_dir)?,
        bytes: 0,
        prev: prev
            .iter()
            .flat_map(|m| m.files.iter().map(|f| (f.path.clone(), f.sha256.clone())))
            .collect(),
    };
    let mut failures = Vec::new();
    let mut history = match &opts.history {
        Some(p) => read_history(p)?,
        None => BTreeMap::new(),
    };

    // The databases whose lookups the bundle carries, each at its head now
    // (the clients are shared by every batch's service: one head for all).
    let mut dbs: Vec<DbExport> = parts
        .sumdbs()
        .iter()
        .filter_map(|client| {
            let (tree, note) = client.head();
            (tree.n > 0).then(|| DbExport {
                client: client.clone(),
                tree,
                note,
                indexes: Vec::new(),
            })
        })
        .collect();

    // Every version the store holds a record for, a page of records at a
    // time (the listing is never held whole): pages come in key order,
    // which keeps a module's records together, so each module is exported
    // once the listing moves past it. Modules go out in that order (of
    // their escaped paths).
    let store = parts.store();
    let mut modules = Spool::new(&spool_dir)?;
    let mut service = parts.service()?;
    let mut in_batch = 0usize;
    let mut cursor: Option<String> = None;
    let mut open: Option<(String, BTreeSet<String>)> = None;
    loop {
        let page = store
            .list_records_page(cursor.as_deref(), LIST_PAGE)
            .await?;
        let mut ready = Vec::new();
        for e in page.records {
            let Ok(id) = e.id else {
                continue;
            };
            match &mut open {
                Some((m, vs)) if *m == id.module => {
                    vs.insert(id.version);
                }
                _ => ready.extend(open.replace((id.module, BTreeSet::from([id.version])))),
            }
        }
        cursor = page.next;
        if cursor.is_none() {
            ready.extend(open.take());
        }
        for (module, vs) in &ready {
            let Ok(mp) = ModulePath::new(module) else {
                failures.push(format!("{module}: not a valid module path"));
                continue;
            };
            let mut any_version = false;
            for v in vs {
                let Ok(mv) = ModuleVersion::new(mp.clone(), v) else {
                    failures.push(format!("{module}@{v}: not a valid version"));
                    continue;
                };
                // A fresh service per batch: what it remembers of each version
                // (artifact records, `.info`) goes with it.
                if in_batch >= BATCH {
                    service = parts.service()?;
                    in_batch = 0;
                }
                in_batch = in_batch.saturating_add(1);
                match export_version(&service, &mut out, &mv).await {
                    Ok(wrote) => {
                        any_version = true;
                        if wrote {
                            modules.push(&ModuleVersionEntry {
                                path: module.clone(),
                                version: v.clone(),
                            })?;
                        }
                    }
                    Err(e) => {
                        failures.push(e);
                        continue;
                    }
                }
                if service.private_rule(module).is_some() {
                    continue;
                }
                for db in &mut dbs {
                    let name = db.client.name();
                    match db.client.lookup(module, v).await {
                        Ok(body) => {
                            let (id, _, _) = tlog::parse_record(&body)
                                .map_err(|e| BundleError::Other(format!("composed lookup: {e}")))?;
                            db.indexes.push(tlog::stored_hash_index(0, id));
                            let key = lookup_key(module, v)?;
                            out.put(&format!("sumdb/{name}/lookup/{key}"), &body)?;
                        }
                        Err(e)
                            if matches!(
                                *e,
                                SumdbError::NotInOfflineCache { .. } | SumdbError::NotFound { .. }
                            ) => {}
                        Err(e) => failures.push(format!("{module}@{v}: {e}")),
                    }
                }
            }
            if any_version {
                match service.list(&mp).await {
                    Ok(list) => {
                        out.put(&format!("{}/@v/list", mp.escaped()), &list)?;
                    }
                    Err(e) => failures.push(format!("{module} @v/list: {e}")),
                }
            }
        }
        if cursor.is_none() {
            break;
        }
    }

    let mut heads = Vec::new();
    for db in dbs {
        let DbExport {
            client,
            tree,
            note,
            mut indexes,
        } = db;
        let name = client.name().to_owned();
        let base = format!("sumdb/{name}");
        // A client that trusted the previous export's head checks the new
        // one against it from these tiles (x/mod client.go `checkTrees`).
        let since_db = prev
            .as_ref()
            .and_then(|m| m.sumdb.iter().find(|d| d.name == name).cloned());
        if let Some(old) = &since_db {
            if old.size > tree.n {
                return Err(BundleError::Other(format!(
                    "checksum database {name}: the previous export's head (size {}) is newer than this cache's (size {}); export from the cache that made it",
                    old.size, tree.n
                )));
            }
            if old.size > 0 && old.size < tree.n {
                indexes.extend(tlog::subtree_indexes(0, old.size));
            }
        }
        // Every earlier export's head too: an inside that imported one of
        // them proves this head consistent with it from these tiles.
        for &m in history.get(&name).into_iter().flatten() {
            if m > 0 && m < tree.n {
                indexes.extend(tlog::subtree_indexes(0, m));
            }
        }
        indexes.sort_unstable();
        indexes.dedup();
        for t in tiles_for(tree.n, &indexes)? {
            let b = client.tile(t).await.map_err(|e| {
                BundleError::Other(format!("checksum database {name}: {}: {e}", t.path()))
            })?;
            out.put(&format!("{base}/{}", t.path()), &b)?;
        }
        out.put(&format!("{base}/supported"), b"")?;
        out.put(&format!("{base}/latest"), &note)?;
        heads.push(ManifestDb {
            name,
            size: tree.n,
            head: String::from_utf8_lossy(&note).into_owned(),
        });
    }

    let Out {
        tar, files, bytes, ..
    } = out;
    let (module_count, file_count) = (modules.len(), files.len());
    let files = files.finish()?;
    let modules = modules.finish()?;
    let since = prev.map(|m| m.sumdb);
    let manifest = SpooledManifest {
        format: FORMAT,
        goward: env!("CARGO_PKG_VERSION"),
        created: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        sumdb: &heads,
        since: since.as_deref(),
        modules: &modules,
        files: &files,
    };
    let encode = |e: serde_json::Error| BundleError::Other(format!("encoding the manifest: {e}"));
    match tar {
        Some(mut t) => {
            // Its size goes in the tar header first: written to a temp file.
            let tmp = tempfile::tempfile_in(&spool_dir)
                .map_err(io_err("create a temp file in", &spool_dir))?;
            let mut w = std::io::BufWriter::new(tmp);
            serde_json::to_writer_pretty(&mut w, &manifest).map_err(encode)?;
            let mut tmp = w
                .into_inner()
                .map_err(|e| io_err("write", &spool_dir)(e.into_error()))?;
            let size = tmp.stream_position().map_err(io_err("write", &spool_dir))?;
            tmp.rewind().map_err(io_err("write", &spool_dir))?;
            t.append(MANIFEST, size, &mut std::io::BufReader::new(tmp))?;
            finish_tar(t, &opts.out)?;
            std::fs::remove_dir_all(&root).map_err(io_err("remove", &root))?;
        }
        None => {
            let mpath = root.join(MANIFEST);
            let f = std::fs::File::create(&mpath).map_err(io_err("create", &mpath))?;
            let mut w = std::io::BufWriter::new(f);
            serde_json::to_writer_pretty(&mut w, &manifest).map_err(encode)?;
            w.flush().map_err(io_err("write", &mpath))?;
        }
    }
    if let Some(p) = &opts.history {
        for db in &heads {
            let sizes = history.entry(db.name.clone()).or_default();
            if !sizes.contains(&db.size) {
                sizes.push(db.size);
            }
        }
        let bytes = serde_json::to_vec_pretty(&history)
            .map_err(|e| BundleError::Other(format!("encoding {}: {e}", p.display())))?;
        std::fs::write(p, bytes).map_err(io_err("write", p))?;
    }
    Ok(ExportReport {
        modules: module_count,
        files: file_count,
        bytes,
        sumdb: heads,
        failures,
    })
}

/// Tree sizes of earlier exports, by checksum database.
type History = BTreeMap<String, Vec<u64>>;

fn read_history(p: &Path) -> Result<History, BundleError> {
    match std::fs::read(p) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| BundleError::Manifest {
            path: p.to_path_buf(),
            msg: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(io_err("read", p)(e)),
    }
}

/// `escpath@escver`.
fn lookup_key(module: &str, v: &str) -> Result<String, BundleError> {
    let bad =
        |e: crate::xmod::module::ModuleError| BundleError::Other(format!("{module}@{v}: {e}"));
    Ok(format!(
        "{}@{}",
        crate::xmod::module::escape_path(module).map_err(bad)?,
        crate::xmod::module::escape_version(v).map_err(bad)?
    ))
}

/// Writes the version's `.mod`, `.zip` and `.info` (those the store holds);
/// returns whether any file was new. `Err`: why the version is left out.
async fn export_version(
    service: &Arc<Service>,
    out: &mut Out,
    mv: &ModuleVersion,
) -> Result<bool, String> {
    let store = service.store();
    let base = format!("{}/@v/{}", mv.module.escaped(), mv.escaped_version());
    let fail = |e: &dyn std::fmt::Display| format!("{mv}: {e}");
    let has = |kind| RecordId::new(kind, mv.module.as_str(), mv.version());
    let has_mod = store
        .record(&has(ArtifactKind::Mod))
        .await
        .map_err(|e| fail(&e))?
        .is_some();
    let has_zip = store
        .record(&has(ArtifactKind::Zip))
        .await
        .map_err(|e| fail(&e))?
        .is_some();
    let mut wrote = false;
    if has_mod {
        let b = service.go_mod(mv).await.map_err(|e| fail(&e))?;
        wrote |= out.put(&format!("{base}.mod"), &b).map_err(|e| fail(&e))?;
    }
    if has_zip {
        let artifact = service.zip(mv).await.map_err(|e| fail(&e))?;
        let path = format!("{base}.zip");
        if !out.already_shipped(&path, &artifact.sha256) {
            let p = out.target(&path).map_err(|e| fail(&e))?;
            let read = service.open_zip(mv).await.map_err(|e| fail(&e))?;
            let mut f = tokio::fs::File::create(&p)
                .await
                .map_err(|e| fail(&format!("create {}: {e}", p.display())))?;
            read.copy_to(&mut f).await.map_err(|e| fail(&e))?;
            drop(f);
            out.written(path, &p, artifact.sha256.clone(), artifact.size)
                .map_err(|e| fail(&e))?;
            wrote = true;
        }
        // The zip's signature, for an inside whose policy requires one: it
        // re-verifies it under its own signers on import.
        let evidence = artifact.proofs.iter().find_map(|p| match p {
            ProofRecord::Signature(e) => Some(e),
            _ => None,
        });
        if let Some(e) = evidence {
            let bytes = signature_bytes(&*store, e).await.map_err(|e| fail(&e))?;
            let path = super::signature_path(mv.module.escaped(), mv.escaped_version());
            wrote |= out.put(&path, &bytes).map_err(|e| fail(&e))?;
        }
    }
    match service.info(mv).await {
        Ok(b) => wrote |= out.put(&format!("{base}.info"), &b).map_err(|e| fail(&e))?,
        Err(e) if matches!(*e, ProxyError::NotInOfflineCache { .. }) => {}
        Err(e) => return Err(fail(&e)),
    }
    Ok(wrote)
}

/// The verbatim signature file a zip's signature evidence records. The one
/// place an export reads it, so a change in how the cache keeps it
/// (inline, or in a blob of its own) changes only this.
async fn signature_bytes(
    store: &dyn crate::cache::Store,
    e: &SignatureEvidence,
) -> Result<Vec<u8>, String> {
    crate::cache::signature_bytes(store, e)
        .await
        .map(|b| b.to_vec())
}

/// The hash tiles a client reads to prove the stored hashes `indexes`
/// against the tree of size `n` (x/mod `TileHashReader.ReadHashes`), plus
/// every narrower width `.p/1…W` of each partial one: a client whose own
/// tree ends inside the same tile re-checks it from those.
pub(crate) fn tiles_for(n: u64, indexes: &[u64]) -> Result<BTreeSet<Tile>, BundleError> {
    let plan = tlog::plan_tiles(TILE_HEIGHT, n, indexes)
        .map_err(|e| BundleError::Other(format!("planning tiles for tree {n}: {e}")))?;
    let mut set = BTreeSet::new();
    for &t in plan.tiles() {
        if t.is_full() {
            set.insert(t);
        } else {
            set.extend((1..=t.w).map(|w| Tile { w, ..t }));
        }
    }
    Ok(set)
}

/// Completes the tar: flushes, syncs and renames it into place.
fn finish_tar(t: TarSink, out: &Path) -> Result<(), BundleError> {
    let TarSink { builder, tmp } = t;
    let w = builder.into_inner().map_err(io_err("write", &tmp))?;
    let f = w.finish().map_err(io_err("write", &tmp))?;
    f.sync_all().map_err(io_err("sync", &tmp))?;
    drop(f);
    std::fs::rename(&tmp, out).map_err(io_err("rename", &tmp))?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn paths(n: u64, ids: &[u64]) -> Vec<String> {
        let idx: Vec<u64> = ids.iter().map(|&i| tlog::stored_hash_index(0, i)).collect();
        tiles_for(n, &idx).unwrap().iter().map(Tile::path).collect()
    }

    /// The root tiles of the tree, each record's tile with its parents, and every
    /// narrower width of each partial tile.
    #[test]
    fn tiles_cover_the_root_each_record_and_every_partial_width() {
        // 300 records: a full level-0 tile 0, a partial tile 1 of 44, level-1 tile 0 of 1.
        let got = paths(300, &[3, 299]);
        let mut want: Vec<String> = vec!["tile/8/0/000".into(), "tile/8/1/000.p/1".into()];
        want.extend((1..=44).map(|w| format!("tile/8/0/001.p/{w}")));
        want.sort();
        let mut got_sorted = got.clone();
        got_sorted.sort();
        assert_eq!(got_sorted, want);
        // A tree that ends on a tile boundary has no partial level-0 tile; its root
        // (the level-8 hash) is read from the level-1 tile.
        assert_eq!(
            paths(256, &[0]),
            vec!["tile/8/0/000".to_owned(), "tile/8/1/000.p/1".to_owned()]
        );
    }

    #[test]
    fn the_out_name_says_directory_tar_or_gzip_tar() {
        for (name, want) in [
            ("bundle", Packing::Dir),
            ("b.tar", Packing::Tar),
            ("B.TAR", Packing::Tar),
            ("b.tar.gz", Packing::TarGz),
            ("b.TGZ", Packing::TarGz),
            ("b.gz", Packing::Dir),
        ] {
            assert_eq!(Packing::of(Path::new(name)), want, "{name}");
        }
    }

    /// Consistency with an older size reads the full tiles at the old partial positions.
    #[test]
    fn consistency_with_an_older_head_uses_the_tiles_of_the_new_tree() {
        let idx = tlog::subtree_indexes(0, 300);
        let got: Vec<String> = tiles_for(600, &idx)
            .unwrap()
            .iter()
            .map(Tile::path)
            .collect();
        assert!(got.contains(&"tile/8/0/001".to_owned()), "{got:?}");
        assert!(
            !got.iter().any(|p| p.starts_with("tile/8/0/001.p/")),
            "{got:?}"
        );
    }
}
