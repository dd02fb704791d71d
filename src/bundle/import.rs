//! `goward bundle import`: re-prove everything in a bundle, then land it.
//!
//! 1. **Stage.** Each file the manifest lists is copied (from the directory,
//!    or streamed out of the tar) into `<cache>/import/<id>/bundle`, hashed
//!    on the way; a file whose digest or size differs from the manifest, a
//!    file the manifest does not list, or a missing one is refused.
//! 2. **Prove.** The staged tree is the only upstream of a pipeline over a
//!    scratch store ([`crate::pipeline::parts_over_tree`]) that starts from
//!    a copy of the cache's trusted heads: the bundle head's note must verify
//!    with the configured key, must not roll back the trusted head, and must
//!    be consistent with it (else the same SECURITY ERROR as a live
//!    database); then every module version is filled through the ordinary
//!    verification (zip rules, `h1:`, the lookup's inclusion proof from the
//!    bundle's tiles, the policy in force). Nothing reaches the cache.
//! 3. **Commit.** Unless something was refused (or with `--partial`, for
//!    what proved), a journal naming the staged tree and the versions is
//!    written durably, then the same fills run against the real cache (each
//!    a conditional create; the head moves by compare-and-swap), then the
//!    journal and the staging are removed.
//!
//! Crash safety: a leftover journal is rolled *forward* by [`recover`] (run
//! before `serve` starts and before any import): the commit pass runs again
//! from the staged tree, re-proving everything, so the cache ends with the
//! new state; staging without a journal is an import that never committed
//! and is rolled back (removed).

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::spool::Spool;
use super::{
    BundleError, FileEntry, HashingWriter, MANIFEST, Manifest, ModuleVersionEntry, io_err, local,
};
use crate::artifact::ArtifactKind;
use crate::artifact::{ModulePath, ModuleVersion};
use crate::cache::{DiskStore, DocKey, RecordId, Store};
use crate::config::Config;
use crate::pipeline::Parts;
use crate::service::Service;

/// What to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// A bundle directory, or a `.tar` file (gzip-compressed or not).
    pub bundle: PathBuf,
    /// Import what proves even if something else is refused.
    pub partial: bool,
    /// Test hook: abort the process after this many versions were committed.
    pub abort_after: Option<usize>,
}

/// Versions proven through one service: a fresh one (empty in-memory
/// caches) for each batch keeps the import's memory flat in the number of
/// versions.
const BATCH: usize = 256;

/// What a proving pass found: which versions proved (a flag each, by
/// their index in the list proven) and why the others did not.
struct Proven {
    ok: Vec<bool>,
    refused: Vec<String>,
}

/// What an import did.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// `module@version` landed in the cache.
    pub imported: Vec<String>,
    /// Everything refused, each `what: why`.
    pub refused: Vec<String>,
}

/// The journal of a commit in progress.
#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    /// The staging directory name under `<cache>/import/`.
    work: String,
    /// Checksum databases whose head the bundle carries.
    dbs: Vec<String>,
    /// What is committing.
    modules: Vec<ModuleVersionEntry>,
}

const IMPORT_DIR: &str = "import";
const JOURNAL: &str = "JOURNAL.json";

fn import_root(config: &Config) -> PathBuf {
    config.cache_dir.join(IMPORT_DIR)
}

/// Imports a bundle into the cache `config` names.
pub fn import(config: &Config, opts: &ImportOptions) -> Result<ImportReport, BundleError> {
    let root = import_root(config);
    std::fs::create_dir_all(&root).map_err(io_err("create directory", &root))?;
    // One import at a time per cache; held until this one is done.
    let _lock = lock(&root, true)?;
    recover_locked(config)?;
    let id = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    let work = root.join(&id);
    let result = import_in(config, opts, &id, &work);
    // Whatever happened, the staging goes (a committed import removed the journal first).
    if work.exists() && !root.join(JOURNAL).exists() {
        let _ = std::fs::remove_dir_all(&work);
    }
    result
}

fn import_in(
    config: &Config,
    opts: &ImportOptions,
    id: &str,
    work: &Path,
) -> Result<ImportReport, BundleError> {
    let staged = work.join("bundle");
    std::fs::create_dir_all(&staged).map_err(io_err("create directory", &staged))?;
    let mut report = ImportReport::default();
    let mut manifest = stage(&opts.bundle, &staged, &mut report.refused)?;
    // A version one of whose files failed staging is left out, named.
    let keep: Vec<bool> = manifest
        .modules
        .iter()
        .map(|m| {
            let bad = files_of_listed(&manifest, m)
                .into_iter()
                .find(|p| !local(&staged, p).is_file());
            if let Some(p) = &bad {
                report.refused.push(format!(
                    "{}@{}: left out: its file {p} failed the bundle checks",
                    m.path, m.version
                ));
            }
            bad.is_none()
        })
        .collect();
    // Only the versions are needed from here on: the file list goes.
    let mut modules = std::mem::take(&mut manifest.modules);
    retain_flagged(&mut modules, &keep);
    let heads = std::mem::take(&mut manifest.sumdb);
    drop(manifest);

    let (real, _) = DiskStore::open(&config.cache_dir).map_err(|source| {
        crate::pipeline::StartError::Store {
            dir: config.cache_dir.clone(),
            source,
        }
    })?;
    let real: Arc<dyn Store> = Arc::new(real);
    let scratch_dir = work.join("verify");
    let (scratch, _) =
        DiskStore::open(&scratch_dir).map_err(|source| crate::pipeline::StartError::Store {
            dir: scratch_dir.clone(),
            source,
        })?;
    let scratch: Arc<dyn Store> = Arc::new(scratch);
    let dbs: Vec<String> = heads.iter().map(|d| d.name.clone()).collect();
    let proven = crate::cache::block_on(async {
        for spec in &config.sumdbs {
            for key in [
                DocKey::SumdbHead(spec.name.clone()),
                DocKey::SumdbFork(spec.name.clone()),
            ] {
                if let Some(b) = real.get_doc(&key).await? {
                    scratch.put_doc(&key, b).await?;
                }
            }
        }
        let parts = crate::pipeline::parts_over_tree(config, scratch.clone(), &staged)?;
        let refused = check_heads(parts.sumdbs(), &heads, &staged).await;
        if !refused.is_empty() {
            // A fork proven by the bundle is a fork of the database: record it
            // in the cache as a live client would.
            for db in &dbs {
                let key = DocKey::SumdbFork(db.clone());
                if let Some(b) = scratch.get_doc(&key).await? {
                    real.put_doc(&key, b).await?;
                }
            }
            return Ok::<_, BundleError>(Proven {
                ok: Vec::new(),
                refused,
            });
        }
        prove_all(&parts, &modules, &staged, None).await
    })??;
    report.refused.extend(proven.refused);
    if !report.refused.is_empty() && !opts.partial {
        return Ok(report);
    }
    retain_flagged(&mut modules, &proven.ok);
    if modules.is_empty() && dbs.is_empty() {
        return Ok(report);
    }

    // Commit.
    let journal = Journal {
        work: id.to_owned(),
        dbs,
        modules,
    };
    write_journal(&import_root(config), &journal)?;
    let committed = commit(config, &journal, work, opts.abort_after)?;
    report.add(&journal.modules, committed);
    finish(config, work)?;
    Ok(report)
}

/// Keeps the items whose flag is set (`flags` is parallel to `items`).
fn retain_flagged<T>(items: &mut Vec<T>, flags: &[bool]) {
    let mut i = 0usize;
    items.retain(|_| {
        let keep = flags.get(i).copied().unwrap_or(false);
        i = i.saturating_add(1);
        keep
    });
}

impl ImportReport {
    /// Adds a commit pass over `modules`: each one that proved is imported.
    fn add(&mut self, modules: &[ModuleVersionEntry], p: Proven) {
        for (m, ok) in modules.iter().zip(&p.ok) {
            if *ok {
                self.imported.push(format!("{}@{}", m.path, m.version));
            }
        }
        self.refused.extend(p.refused);
    }
}

/// Rolls a leftover journal forward (re-proving everything from the staged
/// tree) and removes staging that never reached its commit.
///
/// Skipped (`None`) while an import holds the lock: that import finishes or
/// recovers its own work.
pub fn recover(config: &Config) -> Result<Option<ImportReport>, BundleError> {
    let root = import_root(config);
    if !root.is_dir() {
        return Ok(None);
    }
    let Some(_lock) = lock(&root, false)? else {
        return Ok(None);
    };
    recover_locked(config)
}

/// Takes the import lock of `root` (`wait`: block until it is free;
/// otherwise `None` when another process holds it).
fn lock(root: &Path, wait: bool) -> Result<Option<std::fs::File>, BundleError> {
    let p = root.join("LOCK");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(io_err("open", &p))?;
    if wait {
        f.lock().map_err(io_err("lock", &p))?;
        return Ok(Some(f));
    }
    match f.try_lock() {
        Ok(()) => Ok(Some(f)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(io_err("lock", &p)(e)),
    }
}

fn recover_locked(config: &Config) -> Result<Option<ImportReport>, BundleError> {
    let root = import_root(config);
    let jpath = root.join(JOURNAL);
    let mut report = None;
    if jpath.exists() {
        let bytes = std::fs::read(&jpath).map_err(io_err("read", &jpath))?;
        let journal: Journal =
            serde_json::from_slice(&bytes).map_err(|e| BundleError::Manifest {
                path: jpath.clone(),
                msg: e.to_string(),
            })?;
        super::check_path(&journal.work).map_err(|e| BundleError::Manifest {
            path: jpath.clone(),
            msg: format!("work {:?}: {e}", journal.work),
        })?;
        let work = root.join(&journal.work);
        let mut r = ImportReport::default();
        if work.join("bundle").is_dir() {
            tracing::warn!(journal = %jpath.display(), "an interrupted bundle import is being completed");
            let committed = commit(config, &journal, &work, None)?;
            r.add(&journal.modules, committed);
        }
        finish(config, &work)?;
        report = Some(r);
    }
    // Staging without a journal never committed: roll it back.
    for e in std::fs::read_dir(&root).map_err(io_err("read directory", &root))? {
        let e = e.map_err(io_err("read directory", &root))?;
        if e.path().is_dir() {
            let p = e.path();
            std::fs::remove_dir_all(&p).map_err(io_err("remove", &p))?;
        }
    }
    Ok(report)
}

/// Removes the journal (durably), then the staging.
fn finish(config: &Config, work: &Path) -> Result<(), BundleError> {
    let root = import_root(config);
    let jpath = root.join(JOURNAL);
    if jpath.exists() {
        std::fs::remove_file(&jpath).map_err(io_err("remove", &jpath))?;
        sync_dir(&root);
    }
    if work.exists() {
        std::fs::remove_dir_all(work).map_err(io_err("remove", work))?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

fn write_journal(root: &Path, j: &Journal) -> Result<(), BundleError> {
    let tmp = root.join("JOURNAL.tmp");
    let bytes = serde_json::to_vec(j)
        .map_err(|e| BundleError::Other(format!("encoding the import journal: {e}")))?;
    let mut f = std::fs::File::create(&tmp).map_err(io_err("create", &tmp))?;
    f.write_all(&bytes).map_err(io_err("write", &tmp))?;
    f.sync_all().map_err(io_err("sync", &tmp))?;
    drop(f);
    let dest = root.join(JOURNAL);
    std::fs::rename(&tmp, &dest).map_err(io_err("rename", &tmp))?;
    sync_dir(root);
    Ok(())
}

/// The commit pass: the same fills against the real cache.
fn commit(
    config: &Config,
    journal: &Journal,
    work: &Path,
    abort_after: Option<usize>,
) -> Result<Proven, BundleError> {
    let staged = work.join("bundle");
    let (store, _) = DiskStore::open(&config.cache_dir).map_err(|source| {
        crate::pipeline::StartError::Store {
            dir: config.cache_dir.clone(),
            source,
        }
    })?;
    let store: Arc<dyn Store> = Arc::new(store);
    crate::cache::block_on(async {
        let parts = crate::pipeline::parts_over_tree(config, store, &staged)?;
        // The head first (compare-and-swap), then each version.
        for client in parts.sumdbs() {
            if journal.dbs.iter().any(|d| d == client.name()) {
                client.latest().await.map_err(|e| {
                    BundleError::Other(format!("committing the bundle's head: {e}"))
                })?;
            }
        }
        prove_all(&parts, &journal.modules, &staged, abort_after).await
    })?
}

/// The `.mod`/`.zip`/`.info`/`.zip.sig` paths of `m` that `listed` names.
fn files_of_listed(listed: &Manifest, m: &ModuleVersionEntry) -> Vec<String> {
    let (Ok(p), Ok(v)) = (
        crate::xmod::module::escape_path(&m.path),
        crate::xmod::module::escape_version(&m.version),
    ) else {
        return Vec::new();
    };
    ["mod", "zip", "info", "zip.sig"]
        .iter()
        .map(|ext| format!("{p}/@v/{v}.{ext}"))
        .filter(|path| listed.file(path).is_some())
        .collect()
}

/// The bundle's heads against the trusted ones: the note must verify with
/// the configured key, must not be older than the trusted tree, and must be
/// consistent with it (merging it is the live client's fork check).
async fn check_heads(
    sumdbs: &[Arc<crate::sumdb::SumdbClient>],
    heads: &[super::ManifestDb],
    staged: &Path,
) -> Vec<String> {
    let mut refused = Vec::new();
    for db in heads {
        let Some(client) = sumdbs.iter().find(|c| c.name() == db.name) else {
            refused.push(format!(
                "checksum database {}: not configured here (configure its key with --sumdb)",
                db.name
            ));
            continue;
        };
        let path = format!("sumdb/{}/latest", db.name);
        let Ok(note) = std::fs::read(local(staged, &path)) else {
            refused.push(format!("{path}: the bundle's head is missing"));
            continue;
        };
        let tree = match crate::xmod::note::open(&note, client.verifier()) {
            Ok(n) => match crate::xmod::tlog::parse_tree(n.text.as_bytes()) {
                Ok(t) => t,
                Err(e) => {
                    refused.push(format!("{path}: {e}"));
                    continue;
                }
            },
            Err(e) => {
                refused.push(format!(
                    "{path}: the bundle's head does not verify with the configured key of {}: {e}",
                    db.name
                ));
                continue;
            }
        };
        let (trusted, _) = client.head();
        if tree.n < trusted.n {
            refused.push(format!(
                "SECURITY ERROR: the bundle's head of checksum database {} (tree size {}) rolls back the tree size {} this cache trusts; refusing the bundle",
                db.name, tree.n, trusted.n
            ));
            continue;
        }
        if let Err(e) = client.latest().await {
            refused.push(format!("{path}: {e}"));
        }
    }
    refused
}

/// Fills every version of `modules` (those of its files that `staged`
/// holds: every one staged passed the manifest check) through a fresh
/// service of `parts` per [`BATCH`]; `abort_after`: the crash test hook.
async fn prove_all(
    parts: &Parts,
    modules: &[ModuleVersionEntry],
    staged: &Path,
    abort_after: Option<usize>,
) -> Result<Proven, BundleError> {
    let mut proven = Proven {
        ok: Vec::with_capacity(modules.len()),
        refused: Vec::new(),
    };
    let done = std::sync::atomic::AtomicUsize::new(0);
    let width = if abort_after.is_some() { 1 } else { 8 };
    for batch in modules.chunks(BATCH) {
        let service = parts.service()?;
        let jobs = batch.iter().map(|mv| {
            let (service, done) = (&service, &done);
            async move {
                let r = prove_one(service, mv, staged).await;
                let n = done
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
                    .saturating_add(1);
                if abort_after.is_some_and(|k| n >= k) {
                    eprintln!("goward: test hook: aborting the import after {n} versions");
                    std::process::abort();
                }
                r
            }
        });
        let mut results = futures_util::stream::iter(jobs).buffered(width);
        while let Some(r) = results.next().await {
            proven.ok.push(r.is_ok());
            if let Err(e) = r {
                proven.refused.push(e);
            }
        }
    }
    Ok(proven)
}

async fn prove_one(
    service: &Arc<Service>,
    e: &ModuleVersionEntry,
    staged: &Path,
) -> Result<(), String> {
    let what = format!("{}@{}", e.path, e.version);
    // Service errors mostly name the version already.
    let named = |err: &dyn std::fmt::Display| {
        let s = err.to_string();
        if s.starts_with(&what) {
            s
        } else {
            format!("{what}: {s}")
        }
    };
    let mv = ModulePath::new(&e.path)
        .and_then(|p| ModuleVersion::new(p, &e.version))
        .map_err(|err| named(&err))?;
    let base = format!("{}/@v/{}", mv.module.escaped(), mv.escaped_version());
    let has = |ext: &str| local(staged, &format!("{base}.{ext}")).is_file();
    if !has("mod") && !has("zip") {
        return Err(format!(
            "{what}: the bundle carries neither its .mod nor its .zip"
        ));
    }
    if has("mod") {
        service.go_mod(&mv).await.map_err(|err| named(&err))?;
    }
    if has("zip") {
        service.zip(&mv).await.map_err(|err| named(&err))?;
    }
    if has("info") {
        service.info(&mv).await.map_err(|err| named(&err))?;
    }
    // A record proven by a signature (read from the bundle, verified under
    // this side's signers) is re-checked as every later read will re-check
    // it, before anything lands.
    for kind in [ArtifactKind::Mod, ArtifactKind::Zip] {
        let signed = service
            .store()
            .record(&RecordId::new(kind, mv.module.as_str(), mv.version()))
            .await
            .map_err(|err| named(&err))?
            .is_some_and(|m| {
                m.proofs
                    .iter()
                    .any(|p| matches!(p, crate::cache::ProofRecord::Signature(_)))
            });
        if signed {
            service.recheck_stored(kind, &mv).await?;
        }
    }
    Ok(())
}

/// Copies the bundle's files into `staged`, each checked against the
/// manifest; problems are pushed to `refused`, and a file that fails is not
/// staged. Returns the manifest.
fn stage(bundle: &Path, staged: &Path, refused: &mut Vec<String>) -> Result<Manifest, BundleError> {
    if bundle.is_dir() {
        stage_dir(bundle, staged, refused)
    } else {
        stage_tar(bundle, staged, refused)
    }
}

/// Copies `r` into `dest`, hashing, reading at most one byte more than the
/// manifest says; `Err`: why the file is refused.
fn copy_checked(r: &mut dyn Read, dest: &Path, want: &FileEntry) -> Result<(), String> {
    let mut limited = r.take(want.size.saturating_add(1));
    let (sha256, size) =
        copy_hashed(&mut limited, dest).map_err(|e| format!("{}: {e}", want.path))?;
    if sha256 != want.sha256 || size != want.size {
        let _ = std::fs::remove_file(dest);
        let shown = if size > want.size {
            format!("more than {} bytes", want.size)
        } else {
            format!("{size} bytes, sha256 {sha256}")
        };
        return Err(format!(
            "{}: the manifest says {} bytes, sha256 {}, but the file has {shown}",
            want.path, want.size, want.sha256
        ));
    }
    Ok(())
}

fn stage_dir(
    dir: &Path,
    staged: &Path,
    refused: &mut Vec<String>,
) -> Result<Manifest, BundleError> {
    let manifest = Manifest::read(&dir.join(MANIFEST))?;
    // Every file present must be listed.
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((d, prefix)) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(io_err("read directory", &d))? {
            let e = e.map_err(io_err("read directory", &d))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let ft = e.file_type().map_err(io_err("stat", &e.path()))?;
            if ft.is_dir() {
                stack.push((e.path(), rel));
            } else if ft.is_symlink() {
                refused.push(format!(
                    "{rel}: a symbolic link; bundles hold regular files only"
                ));
            } else if rel != MANIFEST && manifest.file(&rel).is_none() {
                refused.push(format!("{rel}: not listed in the manifest"));
            }
        }
    }
    for f in &manifest.files {
        let src = local(dir, &f.path);
        match std::fs::symlink_metadata(&src) {
            Ok(md) if md.is_file() => {}
            Ok(_) => continue, // reported above
            Err(_) => {
                refused.push(format!("{}: listed in the manifest but missing", f.path));
                continue;
            }
        }
        let mut r = std::fs::File::open(&src).map_err(io_err("open", &src))?;
        if let Err(e) = copy_checked(&mut r, &local(staged, &f.path), f) {
            refused.push(e);
        }
    }
    Ok(manifest)
}

fn stage_tar(
    path: &Path,
    staged: &Path,
    refused: &mut Vec<String>,
) -> Result<Manifest, BundleError> {
    let damaged = |e: &dyn std::fmt::Display| BundleError::Tar {
        path: path.to_path_buf(),
        msg: e.to_string(),
    };
    let (reader, gz) = open_tar(path)?;
    let mut ar = tar::Archive::new(reader);
    let entries = ar.entries().map_err(|e| damaged(&e))?;
    // The manifest comes last (an export streams it after the files) or
    // first. Entries before it are staged and their digests spooled to a
    // file, checked once it is read; entries after it are checked as they
    // arrive. What an entry leaves behind is on disk (its staged copy, its
    // spooled digest), so memory does not grow with the bundle.
    let mut manifest: Option<Manifest> = None;
    let mut pending: Spool<FileEntry> = Spool::new(staged.parent().unwrap_or(staged))?;
    // Names refused on arrival (no staged copy is left of them): a later
    // entry of the same name is still a duplicate, and none is "missing".
    let mut gone: BTreeSet<String> = BTreeSet::new();
    let mut manifest_seen = false;
    let mut truncated = false;
    for e in entries {
        let mut e = match e {
            Ok(e) => e,
            Err(err) => {
                refused.push(damaged(&err).to_string());
                truncated = true;
                break;
            }
        };
        let name = match e.path() {
            Ok(p) => p.to_string_lossy().into_owned(),
            Err(err) => {
                refused.push(damaged(&err).to_string());
                truncated = true;
                break;
            }
        };
        let kind = e.header().entry_type();
        if kind.is_dir() {
            continue;
        }
        let twice = if name == MANIFEST {
            std::mem::replace(&mut manifest_seen, true)
        } else {
            gone.contains(&name)
                || (super::check_path(&name).is_ok() && local(staged, &name).is_file())
        };
        if twice {
            refused.push(format!("{name}: appears twice in the tar"));
            continue;
        }
        if name == MANIFEST {
            match Manifest::parse_reader(&mut e, &path.join(MANIFEST)) {
                Ok(m) => manifest = Some(m),
                Err(BundleError::Io { source, .. }) => {
                    refused.push(damaged(&source).to_string());
                    truncated = true;
                    break;
                }
                Err(err) => return Err(err),
            }
            continue;
        }
        if !kind.is_file() {
            refused.push(format!("{name}: not a regular file"));
            gone.insert(name);
            continue;
        }
        if let Err(err) = super::check_path(&name) {
            refused.push(format!("{name}: {err}"));
            gone.insert(name);
            continue;
        }
        match &manifest {
            Some(m) => {
                let Some(want) = m.file(&name) else {
                    refused.push(format!("{name}: not listed in the manifest"));
                    gone.insert(name);
                    continue;
                };
                if let Err(err) = copy_checked(&mut e, &local(staged, &name), want) {
                    refused.push(err);
                    gone.insert(name);
                }
            }
            None => match copy_hashed(&mut e, &local(staged, &name)) {
                Ok((sha256, size)) => pending.push(&FileEntry {
                    path: name,
                    sha256,
                    size,
                })?,
                Err(err) => {
                    refused.push(damaged(&format!("{name}: {err}")).to_string());
                    truncated = true;
                    break;
                }
            },
        }
    }
    // The tar ends before the gzip stream does: read the rest, so the
    // trailer's CRC and length are checked (a cut or altered trailer is a
    // damaged bundle, even if every file was whole).
    if gz
        && !truncated
        && let Err(err) = std::io::copy(&mut ar.into_inner(), &mut std::io::sink())
    {
        refused.push(damaged(&err).to_string());
        truncated = true;
    }
    let pending = pending.finish()?;
    let spool_err = |e: String| BundleError::Other(format!("reading the import's spool file: {e}"));
    let Some(manifest) = manifest else {
        if !truncated {
            refused.push(format!("{}: the bundle has no {MANIFEST}", path.display()));
        }
        // Nothing says what they should be: none stays staged.
        for f in pending.items().map_err(|e| spool_err(e.to_string()))? {
            let _ = std::fs::remove_file(local(staged, &f.map_err(spool_err)?.path));
        }
        return Ok(Manifest {
            format: super::FORMAT,
            goward: String::new(),
            created: 0,
            sumdb: Vec::new(),
            since: None,
            modules: Vec::new(),
            files: Vec::new(),
        });
    };
    for f in pending.items().map_err(|e| spool_err(e.to_string()))? {
        let FileEntry {
            path: name,
            sha256,
            size,
        } = f.map_err(spool_err)?;
        let dest = local(staged, &name);
        match manifest.file(&name) {
            None => {
                let _ = std::fs::remove_file(&dest);
                refused.push(format!("{name}: not listed in the manifest"));
                gone.insert(name);
            }
            Some(want) if want.sha256 != sha256 || want.size != size => {
                let _ = std::fs::remove_file(&dest);
                refused.push(format!(
                    "{name}: the manifest says {} bytes, sha256 {}, but the file has {size} bytes, sha256 {sha256}",
                    want.size, want.sha256
                ));
                gone.insert(name);
            }
            Some(_) => {}
        }
    }
    if !truncated {
        for f in &manifest.files {
            if !gone.contains(&f.path) && !local(staged, &f.path).is_file() {
                refused.push(format!("{}: listed in the manifest but missing", f.path));
            }
        }
    }
    Ok(manifest)
}

/// The tar walk alone, for the fuzz target: stages `path`'s entries under
/// `staged` as an import does; returns the manifest and the refusals.
pub(crate) fn walk_tar(path: &Path, staged: &Path) -> (Result<Manifest, BundleError>, Vec<String>) {
    let mut refused = Vec::new();
    let m = stage_tar(path, staged, &mut refused);
    (m, refused)
}

/// Opens a tar bundle, decompressing it as it is read if it is gzip (by
/// its magic bytes; a name ending in `.gz` or `.tgz` must have them).
/// Returns the reader and whether it is compressed.
fn open_tar(path: &Path) -> Result<(Box<dyn Read>, bool), BundleError> {
    use std::io::BufRead as _;
    let mut f = std::io::BufReader::new(std::fs::File::open(path).map_err(io_err("open", path))?);
    let gz = f
        .fill_buf()
        .map_err(io_err("read", path))?
        .starts_with(&GZIP_MAGIC);
    let named_gz = super::export::Packing::of(path) == super::export::Packing::TarGz;
    if named_gz && !gz {
        return Err(BundleError::Tar {
            path: path.to_path_buf(),
            msg: "the name says gzip, but the file does not start with the gzip magic bytes".into(),
        });
    }
    if gz {
        let decoder = flate2::bufread::GzDecoder::new(f);
        return Ok((Box::new(std::io::BufReader::new(decoder)), true));
    }
    Ok((Box::new(f), false))
}

/// The first two bytes of a gzip stream (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Copies `r` into `dest` and returns its hex SHA-256 and size. On an
/// error (a source that ends early) no partial file is left behind.
fn copy_hashed(r: &mut dyn Read, dest: &Path) -> Result<(String, u64), String> {
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    }
    let f = std::fs::File::create(dest).map_err(|e| format!("create {}: {e}", dest.display()))?;
    let mut w = HashingWriter::new(std::io::BufWriter::new(f));
    let copied = std::io::copy(r, &mut w).map_err(|e| e.to_string());
    let (inner, sha256, size) = w.finish();
    let written = inner
        .into_inner()
        .map_err(|e| format!("write {}: {}", dest.display(), e.error()));
    if let Err(e) = copied.and(written.map(drop)) {
        let _ = std::fs::remove_file(dest);
        return Err(e);
    }
    Ok((sha256, size))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn corpus(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus/bundle_manifest")
            .join(name)
    }

    /// The walk stages what the manifest lists, before or after it, compressed or not; a
    /// lying or unlisted entry is refused and not left staged.
    #[test]
    fn the_tar_walk_stages_only_what_the_manifest_lists() {
        for name in [
            "manifest-last.tar",
            "manifest-first.tar",
            "manifest-last.tar.gz",
        ] {
            let dir = tempfile::tempdir().unwrap();
            let staged = dir.path().join("s");
            let (m, refused) = walk_tar(&corpus(name), &staged);
            assert_eq!(refused, Vec::<String>::new(), "{name}");
            assert_eq!(m.unwrap().files.len(), 4, "{name}");
            assert_eq!(
                std::fs::read(staged.join("example.com/m/@v/list")).unwrap(),
                b"v1.0.0\n",
                "{name}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let staged = dir.path().join("s");
        let (_, refused) = walk_tar(&corpus("lying-entries.tar"), &staged);
        assert_eq!(
            refused,
            vec![
                "example.com/m/@v/list: the manifest says 7 bytes, sha256 86f0555bccd069ac54e4c54a19a0f1aed9d328e13aa34aa090f3f3d43aaad441, but the file has 7 bytes, sha256 4079c2350401eb1d5f659b430515db8b5fd8d6d9a9887d00b2ab7246e28ec6e1",
                "example.com/m/@v/v2.0.0.zip: not listed in the manifest",
                "example.com/m/@v/v1.0.0.info: listed in the manifest but missing",
                "example.com/m/@v/v1.0.0.mod: listed in the manifest but missing",
                "sumdb/sum.golang.org/supported: listed in the manifest but missing",
            ]
        );
        assert!(!staged.join("example.com/m/@v/list").exists());
        assert!(!staged.join("example.com/m/@v/v2.0.0.zip").exists());
    }
}
