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

use serde::Serialize;

use crate::artifact::ArtifactKind;
use crate::cache::recheck::Anchors;
use crate::cache::{
    self, ArtifactMeta, BlobEntry, Digested, DocKey, RecordId, Rejected, Store, StoreError,
};
use crate::pipeline::RecheckAnchors;
use crate::verify::zip::ZipLimits;
use crate::xmod::dirhash::hex;
use crate::xmod::note::{self, Verifier};
use crate::xmod::tlog;

/// One thing found wrong.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub(crate) struct Problem {
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
pub(crate) struct VerifyReport {
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
    pub(crate) fn clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Settings for [`verify_cache`].
#[derive(Clone, Debug)]
pub(crate) struct VerifyOptions {
    /// The limits zips are re-checked with (as `serve` stores them).
    pub zip_limits: ZipLimits,
    /// What `serve` re-checks against: the configured checksum databases'
    /// keys (they check proofs and heads) and its policy (pins, signers).
    pub anchors: RecheckAnchors,
}

fn artifact_name(module: &str, version: &str, kind: ArtifactKind) -> String {
    format!("{module}@{version} ({})", kind.as_str())
}

/// Runs every check on `store`.
pub(crate) async fn verify_cache(
    store: &dyn Store,
    opts: &VerifyOptions,
) -> Result<VerifyReport, StoreError> {
    let mut report = VerifyReport {
        cache_dir: store.describe(),
        ..VerifyReport::default()
    };
    let verifiers = &opts.anchors.sumdb_keys;
    check_heads(store, verifiers, &mut report).await?;

    let anchors = Anchors {
        sumdb_keys: verifiers,
        policy: &opts.anchors.policy,
    };
    // Digests per blob as read for a record, so a blob shared by records is
    // hashed once (a zip's also depend on the module version its rules are
    // checked for); and every blob name a record reached.
    let mut hashed: HashMap<DigestKey, Digested> = HashMap::new();
    let mut reached: HashSet<String> = HashSet::new();
    for entry in store.list_records().await? {
        let id = match entry.id {
            Ok(id) => id,
            Err(e) => {
                report.artifacts += 1;
                let action = quarantine_location(store, &entry.location, &e).await?;
                report.problems.push(Problem {
                    what: "metadata",
                    path: entry.location,
                    artifact: None,
                    detail: format!("record at an invalid location: {e}"),
                    action,
                });
                continue;
            }
        };
        let raw = match store.peek_record(&id).await? {
            Ok(None) => continue,
            Ok(Some(_)) => None,
            Err(damaged) => Some(damaged),
        };
        report.artifacts += 1;
        let name = artifact_name(&id.module, &id.version, id.kind);
        // `record` validates the record and quarantines it when damaged.
        let Some(meta) = store.record(&id).await? else {
            let Some(detail) = raw else {
                // Removed meanwhile.
                continue;
            };
            let detail = if detail.contains("does not match its location") {
                "metadata record does not match its location or format".to_owned()
            } else {
                format!("damaged metadata record: {detail}")
            };
            report.problems.push(Problem {
                what: "metadata",
                path: entry.location,
                artifact: Some(name),
                detail,
                action: "quarantined; the next request fetches and proves it again".into(),
            });
            continue;
        };
        reached.insert(meta.sha256.clone());
        let key = DigestKey::of(&meta);
        let digests = match hashed.get(&key) {
            Some(d) => d.clone(),
            None => {
                report.blobs += 1;
                report.bytes += meta.size;
                let d = cache::digests(store, &meta, &opts.zip_limits).await?;
                hashed.insert(key, d.clone());
                d
            }
        };
        report.proofs += meta.proofs.len() as u64;
        let want = (id.kind, id.module.as_str(), id.version.as_str());
        let objects = cache::load_evidence(store, &meta, &opts.zip_limits).await;
        match cache::trust(meta, want, &digests, &objects, &anchors) {
            Ok((_, r)) => report
                .notes
                .extend(r.unanchored.into_iter().map(|n| format!("{name}: {n}"))),
            Err(rejected) => {
                let Rejected { meta, error: e } = *rejected;
                let why = e.to_string();
                let blob_bad = e.what() == "blob";
                let action = quarantine_if_unchanged(store, &meta, blob_bad, &why).await?;
                report.problems.push(Problem {
                    what: e.what(),
                    path: if blob_bad {
                        store.blob_location(&meta.sha256)
                    } else {
                        entry.location
                    },
                    artifact: Some(name),
                    detail: why,
                    action,
                });
            }
        }
    }

    // Blobs no record pointed at (or that were not reached above).
    for b in store.list_blobs().await? {
        if reached.contains(&b.name) {
            continue;
        }
        if let Some(why) = check_loose_blob(store, &b, &mut report).await? {
            let action = quarantine_location(store, &b.location, &why).await?;
            report.problems.push(Problem {
                what: "blob",
                path: b.location,
                artifact: None,
                detail: why,
                action,
            });
        }
    }
    Ok(report)
}

async fn check_heads(
    store: &dyn Store,
    verifiers: &[Verifier],
    report: &mut VerifyReport,
) -> Result<(), StoreError> {
    let at = |key: &DocKey| store.doc_location(key);
    for v in verifiers {
        let name = v.name();
        let key = DocKey::SumdbHead(name.to_owned());
        let path = at(&key);
        let fork_key = DocKey::SumdbFork(name.to_owned());
        if let Some(fork) = store.get_doc(&fork_key).await? {
            report.problems.push(Problem {
                what: "tree-head",
                path: at(&fork_key),
                artifact: None,
                detail: format!(
                    "a fork of checksum database {} was recorded ({} bytes of evidence); nothing it proved is served",
                    name,
                    fork.len()
                ),
                action: "left in place: an operator must investigate and remove it".into(),
            });
        }
        let Some(head) = store.get_doc(&key).await? else {
            continue;
        };
        report.tree_heads += 1;
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
                detail: format!("trusted tree head of {}: {detail}", name),
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
async fn check_loose_blob(
    store: &dyn Store,
    b: &BlobEntry,
    report: &mut VerifyReport,
) -> Result<Option<String>, StoreError> {
    if !b.well_named {
        return Ok(Some(
            "not a content address (64 lowercase hex digits in its shard directory)".into(),
        ));
    }
    let Some((sha, n_total)) = store.hash_blob(b).await? else {
        return Ok(None);
    };
    report.blobs += 1;
    report.bytes += n_total;
    let sha = hex(&sha);
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
async fn quarantine_if_unchanged(
    store: &dyn Store,
    meta: &ArtifactMeta,
    blob_bad: bool,
    why: &str,
) -> Result<String, StoreError> {
    match store.record(&RecordId::of(meta)).await? {
        Some(now) if now == *meta => {
            if blob_bad {
                store.quarantine(meta, why).await?;
            } else {
                store.quarantine_record(meta, why).await?;
            }
            Ok("quarantined; the next request fetches and proves it again".into())
        }
        Some(_) => Ok("left alone: the record was replaced while it was checked".into()),
        None => Ok("already gone".into()),
    }
}

/// Moves a file the store has no record for into quarantine.
async fn quarantine_location(
    store: &dyn Store,
    location: &str,
    why: &str,
) -> Result<String, StoreError> {
    Ok(match store.quarantine_location(location, why).await? {
        Some(dest) => format!("quarantined to {dest}"),
        None => "already gone".into(),
    })
}
