//! `goward cache verify`: re-checks everything the cache holds, offline.
//!
//! * every artifact metadata record must parse and match its location, and
//!   pass [`recheck_record`], the re-check `serve` runs when it loads a
//!   record: its blob is re-hashed (a zip runs every module-zip rule again)
//!   and must have the recorded size, SHA-256 and `h1:` — every record's,
//!   even when records share a blob, which is read once per run — and every
//!   recorded proof must re-check offline against the configured
//!   checksum-database keys and the policy's pins;
//! * every blob no record reached must be named by its SHA-256;
//! * every persisted trusted tree head must verify.
//!
//! What is wrong is quarantined (`<cache>/quarantine/`) so the next request
//! fetches and proves it again. A trusted tree head that fails is reported
//! but left in place: removing it would make goward trust the next head it
//! sees, which is exactly what fork detection must never do.
//!
//! Safe beside a running `goward serve`: temp files in `tmp/` are never
//! touched (opening the store sweeps only unlocked leftovers), blobs and
//! records are only ever replaced by atomic renames, and a record is
//! quarantined only if it is still the one that was checked.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::scan::{self, BlobFile};
use crate::cache::disk::hex;
use crate::cache::{ArtifactMeta, DiskStore, DocKey, Store, StoreError};
use crate::policy::Policy;
use crate::sumdb::SumdbSpec;
use crate::sumdb::note::{self, Verifier};
use crate::sumdb::tlog;
use crate::verify::ArtifactKind;
use crate::verify::proof::TrustAnchors;
use crate::verify::recheck::{BlobDigests, RecheckError, blob_digests, recheck_record};
use crate::verify::zip::ZipLimits;

/// One thing found wrong.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// `metadata`, `blob`, `proof` or `tree-head`.
    pub what: &'static str,
    /// The file concerned.
    pub path: String,
    /// `module@version (kind)`, when known.
    pub artifact: Option<String>,
    /// What is wrong.
    pub detail: String,
    /// What was done about it.
    pub action: String,
}

/// What `cache verify` checked and found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct VerifyReport {
    /// The cache root.
    pub cache_dir: String,
    /// Artifact metadata records checked.
    pub artifacts: u64,
    /// Blobs re-hashed.
    pub blobs: u64,
    /// Bytes re-hashed.
    pub bytes: u64,
    /// Checksum-database and pin proofs checked.
    pub proofs: u64,
    /// Trusted tree heads checked.
    pub tree_heads: u64,
    /// Remarks that are not problems (e.g. a proof by a database that is no
    /// longer configured, which cannot be checked).
    pub notes: Vec<String>,
    /// Everything found wrong.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether nothing was wrong.
    pub fn clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Settings for [`verify_cache`].
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// The limits zips are re-checked with (as `serve` stores them).
    pub zip_limits: ZipLimits,
    /// The configured checksum databases (their keys check proofs and heads).
    pub sumdbs: Vec<SumdbSpec>,
    /// The policy `serve` runs with (its pins check pinned proofs).
    pub policy: Policy,
}

fn artifact_name(module: &str, version: &str, kind: ArtifactKind) -> String {
    format!("{module}@{version} ({})", kind.as_str())
}

/// Runs every check on the store at `store.root()`.
pub fn verify_cache(store: &DiskStore, opts: &VerifyOptions) -> Result<VerifyReport, StoreError> {
    let root = store.root().to_path_buf();
    let mut report = VerifyReport {
        cache_dir: root.display().to_string(),
        ..VerifyReport::default()
    };
    let mut verifiers: Vec<Verifier> = Vec::new();
    for spec in &opts.sumdbs {
        match Verifier::parse(&spec.vkey) {
            Ok(v) => verifiers.push(v),
            Err(e) => report.notes.push(format!(
                "checksum database {}: key unusable: {e}",
                spec.name
            )),
        }
    }
    check_heads(store, opts, &verifiers, &mut report)?;

    let anchors = TrustAnchors {
        sumdb_keys: &verifiers,
        policy: &opts.policy,
    };
    // Digests per blob as read for a record, so a blob shared by records is
    // hashed once (a zip's also depend on the module version its rules are
    // checked for); and every blob name a record reached.
    let mut hashed: HashMap<DigestKey, Result<BlobDigests, RecheckError>> = HashMap::new();
    let mut reached: HashSet<String> = HashSet::new();
    let metas =
        scan::meta_files(&root).map_err(|e| StoreError::io("read", root.join("meta"), e))?;
    for mf in metas {
        let (module, version) = match (&mf.module, &mf.version) {
            (Ok(m), Ok(v)) => (m.clone(), v.clone()),
            (Err(e), _) | (_, Err(e)) => {
                report.artifacts += 1;
                let action = quarantine_file(&root, &mf.path, "meta", e)?;
                report.problems.push(Problem {
                    what: "metadata",
                    path: mf.path.display().to_string(),
                    artifact: None,
                    detail: format!("record at an invalid location: {e}"),
                    action,
                });
                continue;
            }
        };
        let raw = match fs::read(&mf.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(StoreError::io("read", &mf.path, e)),
        };
        report.artifacts += 1;
        let name = artifact_name(&module, &version, mf.kind);
        // `meta` validates the record and quarantines it when damaged.
        let Some(meta) = store.meta(mf.kind, &module, &version)? else {
            if mf.path.exists() {
                continue;
            }
            let detail = match serde_json::from_slice::<ArtifactMeta>(&raw) {
                Err(e) => format!("damaged metadata record: {e}"),
                Ok(_) => "metadata record does not match its location or format".to_owned(),
            };
            report.problems.push(Problem {
                what: "metadata",
                path: mf.path.display().to_string(),
                artifact: Some(name),
                detail,
                action: "quarantined; the next request fetches and proves it again".into(),
            });
            continue;
        };
        let blob = scan::blob_path(&root, &meta.sha256);
        reached.insert(meta.sha256.clone());
        let digests = hashed
            .entry(DigestKey::of(&meta))
            .or_insert_with(|| {
                report.blobs += 1;
                report.bytes += meta.size;
                blob_digests(store, &meta, &opts.zip_limits)
            })
            .clone();
        report.proofs += meta.proofs.len() as u64;
        let want = (mf.kind, module.as_str(), version.as_str());
        match digests.and_then(|d| recheck_record(&meta, want, &d, &anchors)) {
            Ok(r) => report
                .notes
                .extend(r.unanchored.into_iter().map(|n| format!("{name}: {n}"))),
            Err(e) => {
                let why = e.to_string();
                let blob_bad = e.what() == "blob";
                let action = quarantine_if_unchanged(store, &meta, blob_bad, &why)?;
                report.problems.push(Problem {
                    what: e.what(),
                    path: if blob_bad {
                        blob.display().to_string()
                    } else {
                        mf.path.display().to_string()
                    },
                    artifact: Some(name),
                    detail: why,
                    action,
                });
            }
        }
    }

    // Blobs no record pointed at (or that were not reached above).
    let blobs =
        scan::blob_files(&root).map_err(|e| StoreError::io("read", root.join("blobs"), e))?;
    for b in blobs {
        if reached.contains(&b.name) {
            continue;
        }
        if let Some(why) = check_loose_blob(&b, &mut report)? {
            let action = quarantine_file(&root, &b.path, "blob", &why)?;
            report.problems.push(Problem {
                what: "blob",
                path: b.path.display().to_string(),
                artifact: None,
                detail: why,
                action,
            });
        }
    }
    Ok(report)
}

fn check_heads(
    store: &DiskStore,
    opts: &VerifyOptions,
    verifiers: &[Verifier],
    report: &mut VerifyReport,
) -> Result<(), StoreError> {
    for spec in &opts.sumdbs {
        let key = DocKey::SumdbHead(spec.name.clone());
        let path = store.root().join(key.rel_path()).display().to_string();
        if let Some(fork) = store.get_doc(&DocKey::SumdbFork(spec.name.clone()))? {
            report.problems.push(Problem {
                what: "tree-head",
                path: store
                    .root()
                    .join(DocKey::SumdbFork(spec.name.clone()).rel_path())
                    .display()
                    .to_string(),
                artifact: None,
                detail: format!(
                    "a fork of checksum database {} was recorded ({} bytes of evidence); nothing it proved is served",
                    spec.name,
                    fork.len()
                ),
                action: "left in place: an operator must investigate and remove it".into(),
            });
        }
        let Some(head) = store.get_doc(&key)? else {
            continue;
        };
        report.tree_heads += 1;
        let Some(v) = verifiers.iter().find(|v| v.name() == spec.name) else {
            continue;
        };
        let res = note::open(&head, v)
            .map_err(|e| format!("signed note does not verify with the configured key: {e}"))
            .and_then(|n| {
                tlog::parse_tree(n.text.as_bytes())
                    .map(|_| ())
                    .map_err(|e| format!("not a tree head: {e}"))
            });
        if let Err(detail) = res {
            report.problems.push(Problem {
                what: "tree-head",
                path,
                artifact: None,
                detail: format!("trusted tree head of {}: {detail}", spec.name),
                action: "left in place: removing it would drop fork detection; restore it from a backup or investigate".into(),
            });
        }
    }
    Ok(())
}

/// What a blob's digests depend on: its bytes and, for a zip, the module
/// version its rules were checked for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct DigestKey {
    sha256: String,
    size: u64,
    zip_of: Option<(String, String)>,
}

impl DigestKey {
    fn of(meta: &ArtifactMeta) -> DigestKey {
        DigestKey {
            sha256: meta.sha256.clone(),
            size: meta.size,
            zip_of: (meta.kind == ArtifactKind::Zip)
                .then(|| (meta.module.clone(), meta.version.clone())),
        }
    }
}

/// A blob no record reached: its name must be its SHA-256.
fn check_loose_blob(b: &BlobFile, report: &mut VerifyReport) -> Result<Option<String>, StoreError> {
    if !b.well_named {
        return Ok(Some(
            "not a content address (64 lowercase hex digits in its shard directory)".into(),
        ));
    }
    let mut f = match fs::File::open(&b.path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io("open", &b.path, e)),
    };
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    let mut n_total = 0u64;
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| StoreError::io("read", &b.path, e))?;
        if n == 0 {
            break;
        }
        n_total += n as u64;
        h.update(&buf[..n]);
    }
    report.blobs += 1;
    report.bytes += n_total;
    let sha = hex(&h.finalize());
    if sha != b.name {
        return Ok(Some(format!(
            "blob SHA-256 is {sha}, its name says {}",
            b.name
        )));
    }
    Ok(None)
}

/// Quarantines the artifact, unless a concurrent `serve` replaced the record
/// meanwhile: a bad blob through the store (blob and record), a bad proof
/// by moving the record only (its blob is intact and may be shared).
fn quarantine_if_unchanged(
    store: &DiskStore,
    meta: &ArtifactMeta,
    blob_bad: bool,
    why: &str,
) -> Result<String, StoreError> {
    match store.meta(meta.kind, &meta.module, &meta.version)? {
        Some(now) if now == *meta => {
            if blob_bad {
                store.quarantine(meta, why)?;
            } else {
                store.quarantine_record(meta, why)?;
            }
            Ok("quarantined; the next request fetches and proves it again".into())
        }
        Some(_) => Ok("left alone: the record was replaced while it was checked".into()),
        None => Ok("already gone".into()),
    }
}

/// Moves a file the store has no record for into `quarantine/`.
fn quarantine_file(
    root: &Path,
    path: &Path,
    prefix: &str,
    why: &str,
) -> Result<String, StoreError> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dest = root
        .join("quarantine")
        .join(format!("{prefix}.{}.{name}", scan::now_nanos()));
    match fs::rename(path, &dest) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok("already gone".into()),
        Err(e) => return Err(StoreError::io("quarantine", path, e)),
    }
    let _ = fs::write(dest.with_extension("why"), format!("{why}\n"));
    Ok(format!("quarantined to {}", dest.display()))
}
