//! `goward cache verify`: re-checks everything the cache holds, offline.
//!
//! * every artifact metadata record must parse and match its location, and
//!   pass [`crate::cache::recheck`], the re-check `serve` runs when it loads a
//!   record: its blob is re-hashed (a zip runs every module-zip rule again)
//!   and must have the recorded size, SHA-256 and `h1:` — every record's,
//!   even when records share a blob, which is read once per run — and every
//!   recorded proof must re-check offline against the configured
//!   checksum-database keys and the policy's pins;
//! * every blob no record reached must be named by its SHA-256;
//! * every evidence object (signature file) must be named by its SHA-256
//!   (one that is not is quarantined); one no record names is noted, with
//!   what `cache gc` will do with it;
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

use bytes::Bytes;
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
    /// `metadata`, `blob`, `proof`, `evidence` or `tree-head`.
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
    /// Evidence objects (signature files) re-hashed.
    pub evidence: u64,
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
    // Evidence objects the records left in place name.
    let mut named: HashSet<String> = HashSet::new();
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
        let names: Vec<String> = meta
            .proofs
            .iter()
            .flat_map(|p| p.objects())
            .map(str::to_owned)
            .collect();
        match cache::trust(meta, want, &digests, &objects, &anchors) {
            Ok((_, r)) => {
                named.extend(names);
                report
                    .notes
                    .extend(r.unanchored.into_iter().map(|n| format!("{name}: {n}")));
            }
            Err(rejected) => {
                let Rejected { meta, error: e } = *rejected;
                let why = e.to_string();
                let blob_bad = e.what() == "blob";
                let (moved, action) = quarantine_if_unchanged(store, &meta, blob_bad, &why).await?;
                if !moved {
                    named.extend(names);
                }
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
    check_evidence(store, &named, &mut report).await?;
    Ok(report)
}

/// Every evidence object: its bytes must hash to its name (one that does
/// not is quarantined; the records naming it failed their re-check above);
/// one no record left in place names is noted with what `cache gc` does.
async fn check_evidence(
    store: &dyn Store,
    named: &HashSet<String>,
    report: &mut VerifyReport,
) -> Result<(), StoreError> {
    let now = std::time::SystemTime::now();
    for d in store.list_evidence().await? {
        let DocKey::Evidence(name) = &d.key else {
            continue;
        };
        let bytes = match store.get_doc(&d.key).await? {
            Some(b) => b,
            // Removed meanwhile (`get_doc` also answers `None` for an empty one).
            None if d.size > 0 => continue,
            None => Bytes::new(),
        };
        report.evidence += 1;
        let sha = hex(&crate::xmod::dirhash::sha256(&bytes));
        if sha != *name {
            let why = format!("evidence object SHA-256 is {sha}, its name says {name}");
            let action = match store.quarantine_location(&d.location, &why).await? {
                Some(dest) => format!(
                    "quarantined to {dest}; proving again a version whose record names it writes it again"
                ),
                None => "already gone".into(),
            };
            report.problems.push(Problem {
                what: "evidence",
                path: d.location,
                artifact: None,
                detail: why,
                action,
            });
            continue;
        }
        if named.contains(name) {
            continue;
        }
        let settled = d
            .modified
            .and_then(|m| now.duration_since(m).ok())
            .is_some_and(|age| age >= crate::hygiene::gc::ORPHAN_GRACE);
        report.notes.push(if settled {
            format!(
                "evidence object {} is named by no record: any `cache gc` run with a limit removes it",
                d.location
            )
        } else {
            format!(
                "evidence object {} is named by no record yet (written within the hour, maybe just before its record): `cache gc` removes it if still unnamed an hour after it was written",
                d.location
            )
        });
    }
    Ok(())
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
/// Returns whether the record is gone, and what was done.
async fn quarantine_if_unchanged(
    store: &dyn Store,
    meta: &ArtifactMeta,
    blob_bad: bool,
    why: &str,
) -> Result<(bool, String), StoreError> {
    match store.record(&RecordId::of(meta)).await? {
        Some(now) if now == *meta => {
            if blob_bad {
                store.quarantine(meta, why).await?;
            } else {
                store.quarantine_record(meta, why).await?;
            }
            Ok((
                true,
                "quarantined; the next request fetches and proves it again".into(),
            ))
        }
        Some(_) => Ok((
            false,
            "left alone: the record was replaced while it was checked".into(),
        )),
        None => Ok((true, "already gone".into())),
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

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::hygiene::gc::ORPHAN_GRACE;

    fn sha(b: &[u8]) -> String {
        hex(&crate::xmod::dirhash::sha256(b))
    }

    /// Evidence objects no record names are noted with what `cache gc`
    /// does with them (settled: removed by any run with a limit; fresh:
    /// kept for an hour); one whose bytes are not its name is a problem
    /// and quarantined. The same on disk and on an object store.
    #[tokio::test]
    async fn evidence_objects_are_hashed_and_unnamed_ones_noted() {
        let dir = tempfile::tempdir().unwrap();
        let (disk, object) = crate::cache::testing::both_stores(dir.path());
        let opts = VerifyOptions {
            zip_limits: ZipLimits::default(),
            anchors: RecheckAnchors {
                sumdb_keys: Vec::new(),
                policy: crate::policy::Policy::embedded_default(),
            },
        };
        let (old, young, swapped) = (b"old".to_vec(), b"young".to_vec(), b"swapped".to_vec());
        let altered_name = sha(b"the signature");
        let stores: [(&dyn Store, bool); 2] = [(&disk, true), (&object, false)];
        for (store, can_age) in stores {
            let at = store.describe();
            for (name, bytes) in [
                (sha(&old), &old),
                (sha(&young), &young),
                (altered_name.clone(), &swapped),
            ] {
                let key = DocKey::evidence(&name).unwrap();
                store
                    .put_doc(&key, Bytes::from(bytes.clone()))
                    .await
                    .unwrap();
            }
            let loc = |b: &str| store.doc_location(&DocKey::evidence(b).unwrap());
            if can_age {
                std::fs::File::options()
                    .write(true)
                    .open(loc(&sha(&old)))
                    .and_then(|f| f.set_modified(SystemTime::now() - 2 * ORPHAN_GRACE))
                    .unwrap();
            }
            let r = verify_cache(store, &opts).await.unwrap();
            assert_eq!(r.evidence, 3, "{at}");
            let [p] = &r.problems[..] else {
                panic!("{at}: {:?}", r.problems)
            };
            assert_eq!(
                (p.what, p.path.as_str(), p.detail.as_str()),
                (
                    "evidence",
                    loc(&altered_name).as_str(),
                    format!(
                        "evidence object SHA-256 is {}, its name says {altered_name}",
                        sha(&swapped)
                    )
                    .as_str()
                ),
                "{at}"
            );
            assert!(
                p.action.starts_with("quarantined to ")
                    && p.action.ends_with(
                        "; proving again a version whose record names it writes it again"
                    ),
                "{at}: {}",
                p.action
            );
            let settled = format!(
                "evidence object {} is named by no record: any `cache gc` run with a limit removes it",
                loc(&sha(&old))
            );
            let fresh = |b: &[u8]| {
                format!(
                    "evidence object {} is named by no record yet (written within the hour, maybe just before its record): `cache gc` removes it if still unnamed an hour after it was written",
                    loc(&sha(b))
                )
            };
            let want = if can_age {
                vec![settled, fresh(&young)]
            } else {
                vec![fresh(&old), fresh(&young)]
            };
            let mut notes = r.notes.clone();
            notes.sort();
            let mut want = want;
            want.sort();
            assert_eq!(notes, want, "{at}");
            let left: Vec<DocKey> = store
                .list_evidence()
                .await
                .unwrap()
                .into_iter()
                .map(|d| d.key)
                .collect();
            assert_eq!(left.len(), 2, "{at}: {left:?}");
            assert!(
                !left.contains(&DocKey::evidence(&altered_name).unwrap()),
                "{at}: the altered object was not quarantined"
            );
            // Quarantined: a second run finds nothing wrong.
            let r = verify_cache(store, &opts).await.unwrap();
            assert!(r.clean(), "{at}: {:?}", r.problems);
            assert_eq!(r.evidence, 2, "{at}");
        }
    }
}
