//! `goward cache verify`: re-checks everything the cache holds, offline.
//!
//! * every blob is re-hashed (its SHA-256 is its name); zips run every
//!   module-zip rule again and their `h1:` is compared with the metadata,
//!   go.mods are re-hashed to `h1:`;
//! * every artifact metadata record must parse, match its location and point
//!   at an existing blob of the recorded size and digest;
//! * every recorded checksum-database proof must carry the artifact's `h1:`
//!   line in its record text, and its signed tree note must verify with the
//!   configured key (pins must equal the artifact's `h1:`);
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

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::scan::{self, BlobFile};
use crate::cache::disk::hex;
use crate::cache::{ArtifactMeta, DiskStore, DocKey, ProofRecord, Store, StoreError};
use crate::sumdb::SumdbSpec;
use crate::sumdb::note::{self, Verifier};
use crate::sumdb::tlog;
use crate::verify::ArtifactKind;
use crate::verify::zip::{ZipLimits, check_zip_path};

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
    let mut verifiers: HashMap<String, Verifier> = HashMap::new();
    for spec in &opts.sumdbs {
        match Verifier::parse(&spec.vkey) {
            Ok(v) => {
                verifiers.insert(spec.name.clone(), v);
            }
            Err(e) => report.notes.push(format!(
                "checksum database {}: key unusable: {e}",
                spec.name
            )),
        }
    }
    check_heads(store, opts, &verifiers, &mut report)?;

    // Digest results per blob, so a blob shared by records is hashed once.
    let mut hashed: HashMap<String, Result<(), String>> = HashMap::new();
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
        let mut wrong: Vec<(&'static str, String)> = Vec::new();
        let blob = scan::blob_path(&root, &meta.sha256);
        match check_blob(&blob, &meta, &opts.zip_limits, &mut hashed, &mut report) {
            Ok(()) => {}
            Err(why) => wrong.push(("blob", why)),
        }
        for why in check_proofs(&meta, &verifiers, &mut report) {
            wrong.push(("proof", why));
        }
        if wrong.is_empty() {
            continue;
        }
        let why = wrong
            .iter()
            .map(|(_, w)| w.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        let blob_bad = wrong.iter().any(|(w, _)| *w == "blob");
        let action = quarantine_if_unchanged(store, &meta, &mf.path, blob_bad, &why)?;
        for (what, detail) in wrong {
            report.problems.push(Problem {
                what,
                path: if what == "blob" {
                    blob.display().to_string()
                } else {
                    mf.path.display().to_string()
                },
                artifact: Some(name.clone()),
                detail,
                action: action.clone(),
            });
        }
    }

    // Blobs no record pointed at (or that were not reached above).
    let blobs =
        scan::blob_files(&root).map_err(|e| StoreError::io("read", root.join("blobs"), e))?;
    for b in blobs {
        if hashed.contains_key(&b.name) {
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
    verifiers: &HashMap<String, Verifier>,
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
        let Some(v) = verifiers.get(&spec.name) else {
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

/// Size, digest and (for zips) every module-zip rule plus the `h1:`.
fn check_blob(
    blob: &Path,
    meta: &ArtifactMeta,
    limits: &ZipLimits,
    hashed: &mut HashMap<String, Result<(), String>>,
    report: &mut VerifyReport,
) -> Result<(), String> {
    if let Some(r) = hashed.get(&meta.sha256) {
        r.clone()?;
        if meta.kind == ArtifactKind::Mod {
            // Same bytes: the go.mod h1 was checked with them only if the
            // record agreed; check this record's h1 again.
            let bytes = fs::read(blob).map_err(|e| format!("reading blob: {e}"))?;
            let h1 = crate::dirhash::hash_go_mod(&bytes);
            if h1.as_str() != meta.h1 {
                return Err(format!("go.mod h1 is {h1}, the record says {}", meta.h1));
            }
        }
        return Ok(());
    }
    let res = check_blob_uncached(blob, meta, limits, report);
    hashed.insert(meta.sha256.clone(), res.clone());
    res
}

fn check_blob_uncached(
    blob: &Path,
    meta: &ArtifactMeta,
    limits: &ZipLimits,
    report: &mut VerifyReport,
) -> Result<(), String> {
    let md = match fs::metadata(blob) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("blob is missing".into());
        }
        Err(e) => return Err(format!("blob unreadable: {e}")),
    };
    if md.len() != meta.size {
        return Err(format!(
            "blob is {} bytes, the record says {}",
            md.len(),
            meta.size
        ));
    }
    report.blobs += 1;
    report.bytes += md.len();
    match meta.kind {
        ArtifactKind::Zip => {
            let r = check_zip_path(blob, &meta.module, &meta.version, limits)
                .map_err(|e| format!("zip fails the module-zip rules: {e}"))?;
            let sha = hex(&r.sha256);
            if sha != meta.sha256 {
                return Err(format!(
                    "blob SHA-256 is {sha}, its name says {}",
                    meta.sha256
                ));
            }
            if r.h1.as_str() != meta.h1 {
                return Err(format!("zip h1 is {}, the record says {}", r.h1, meta.h1));
            }
        }
        ArtifactKind::Mod => {
            let bytes = fs::read(blob).map_err(|e| format!("reading blob: {e}"))?;
            let sha = hex(&Sha256::digest(&bytes));
            if sha != meta.sha256 {
                return Err(format!(
                    "blob SHA-256 is {sha}, its name says {}",
                    meta.sha256
                ));
            }
            let h1 = crate::dirhash::hash_go_mod(&bytes);
            if h1.as_str() != meta.h1 {
                return Err(format!("go.mod h1 is {h1}, the record says {}", meta.h1));
            }
        }
    }
    Ok(())
}

/// Checks the recorded proofs; returns what is wrong.
fn check_proofs(
    meta: &ArtifactMeta,
    verifiers: &HashMap<String, Verifier>,
    report: &mut VerifyReport,
) -> Vec<String> {
    let mut wrong = Vec::new();
    if meta.proofs.is_empty() {
        wrong.push("the record lists no proof".to_owned());
    }
    for p in &meta.proofs {
        report.proofs += 1;
        if let Err(why) = check_proof(meta, p, verifiers, &mut report.notes) {
            wrong.push(why);
        }
    }
    wrong
}

/// One proof: the record text has the artifact's `h1:` line, the note
/// verifies with the configured key and its tree covers the record.
pub fn check_proof(
    meta: &ArtifactMeta,
    p: &ProofRecord,
    verifiers: &HashMap<String, Verifier>,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    match p {
        ProofRecord::Pinned { h1, policy } => {
            if *h1 != meta.h1 {
                return Err(format!(
                    "pinned hash {h1} (from {policy}) differs from the artifact's {}",
                    meta.h1
                ));
            }
            Ok(())
        }
        ProofRecord::Sumdb {
            db,
            record,
            text,
            tree_size,
            note: note_text,
        } => {
            let suffix = match meta.kind {
                ArtifactKind::Zip => "",
                ArtifactKind::Mod => "/go.mod",
            };
            let want = format!("{} {}{suffix} {}", meta.module, meta.version, meta.h1);
            if !text.lines().any(|l| l == want) {
                return Err(format!(
                    "checksum-database record {record} of {db} has no line {want:?}"
                ));
            }
            let Some(v) = verifiers.get(db) else {
                notes.push(format!(
                    "{}: proof by {db}, which is not configured; its note was not checked",
                    artifact_name(&meta.module, &meta.version, meta.kind)
                ));
                return Ok(());
            };
            let n = note::open(note_text.as_bytes(), v).map_err(|e| {
                format!("the signed tree note of the {db} proof does not verify: {e}")
            })?;
            let tree = tlog::parse_tree(n.text.as_bytes())
                .map_err(|e| format!("the {db} proof's note is not a tree head: {e}"))?;
            if tree.n != *tree_size {
                return Err(format!(
                    "the {db} proof records tree size {tree_size} but its note signs size {}",
                    tree.n
                ));
            }
            if *record >= tree.n {
                return Err(format!(
                    "the {db} proof's record {record} lies outside its tree of size {}",
                    tree.n
                ));
            }
            Ok(())
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
    meta_path: &Path,
    blob_bad: bool,
    why: &str,
) -> Result<String, StoreError> {
    match store.meta(meta.kind, &meta.module, &meta.version)? {
        Some(now) if now == *meta => {
            if blob_bad {
                store.quarantine(meta, why)?;
            } else {
                quarantine_file(store.root(), meta_path, "meta", why)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sumdb::note::Signer;
    use crate::sumdb::tlog::Tree;

    const H1: &str = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

    fn meta(kind: ArtifactKind, proofs: Vec<ProofRecord>) -> ArtifactMeta {
        ArtifactMeta {
            v: 2,
            kind,
            module: "example.com/m".into(),
            version: "v1.0.0".into(),
            sha256: "00".repeat(32),
            size: 1,
            h1: H1.into(),
            proofs,
            verified_at: 0,
            instance: 0,
        }
    }

    fn signed(signer: &Signer, n: u64) -> String {
        let text = tlog::format_tree(&Tree {
            n,
            hash: tlog::empty_tree_hash(),
        });
        String::from_utf8(note::sign(&text, &[signer]).unwrap()).unwrap()
    }

    fn proof(text: &str, record: u64, tree_size: u64, note: String) -> ProofRecord {
        ProofRecord::Sumdb {
            db: "sum.test".into(),
            record,
            text: text.into(),
            tree_size,
            note,
        }
    }

    #[test]
    fn proofs_are_checked_against_line_key_and_tree() {
        let signer = Signer::from_seed("sum.test", [7; 32]).unwrap();
        let other = Signer::from_seed("sum.test", [8; 32]).unwrap();
        let vs: HashMap<String, Verifier> = [("sum.test".to_owned(), signer.verifier())]
            .into_iter()
            .collect();
        let zip_line = format!("example.com/m v1.0.0 {H1}\n");
        let mod_line = format!("example.com/m v1.0.0/go.mod {H1}\n");
        let mut notes = Vec::new();
        let check =
            |m: &ArtifactMeta, notes: &mut Vec<String>| check_proof(m, &m.proofs[0], &vs, notes);

        let good = meta(
            ArtifactKind::Zip,
            vec![proof(&zip_line, 3, 10, signed(&signer, 10))],
        );
        assert_eq!(check(&good, &mut notes), Ok(()));
        let good = meta(
            ArtifactKind::Mod,
            vec![proof(&mod_line, 3, 10, signed(&signer, 10))],
        );
        assert_eq!(check(&good, &mut notes), Ok(()));

        let e = check(
            &meta(
                ArtifactKind::Zip,
                vec![proof(&mod_line, 3, 10, signed(&signer, 10))],
            ),
            &mut notes,
        )
        .unwrap_err();
        assert!(e.contains("has no line"), "{e}");
        let e = check(
            &meta(
                ArtifactKind::Zip,
                vec![proof(&zip_line, 3, 10, signed(&other, 10))],
            ),
            &mut notes,
        )
        .unwrap_err();
        assert!(e.contains("does not verify"), "{e}");
        let e = check(
            &meta(
                ArtifactKind::Zip,
                vec![proof(&zip_line, 3, 11, signed(&signer, 10))],
            ),
            &mut notes,
        )
        .unwrap_err();
        assert!(e.contains("tree size 11"), "{e}");
        let e = check(
            &meta(
                ArtifactKind::Zip,
                vec![proof(&zip_line, 10, 10, signed(&signer, 10))],
            ),
            &mut notes,
        )
        .unwrap_err();
        assert!(e.contains("outside its tree"), "{e}");

        // A database that is no longer configured: noted, not a problem.
        let mut p = proof(&zip_line, 3, 10, signed(&signer, 10));
        if let ProofRecord::Sumdb { db, .. } = &mut p {
            *db = "gone.test".into();
        }
        assert_eq!(check(&meta(ArtifactKind::Zip, vec![p]), &mut notes), Ok(()));
        assert!(notes.iter().any(|n| n.contains("gone.test")));

        let pin = |h1: &str| ProofRecord::Pinned {
            h1: h1.into(),
            policy: "p.toml".into(),
        };
        assert_eq!(
            check(&meta(ArtifactKind::Zip, vec![pin(H1)]), &mut notes),
            Ok(())
        );
        let e = check(
            &meta(
                ArtifactKind::Zip,
                vec![pin("h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")],
            ),
            &mut notes,
        )
        .unwrap_err();
        assert!(e.contains("pinned hash"), "{e}");
    }
}
