//! `goward cache gc`: removes the least-recently-verified artifacts until the
//! blob store is under `--max-size` and nothing is older than `--older-than`.
//!
//! Metadata records go first, then the blobs no record points at any more,
//! so a concurrent `serve` never finds a record without its blob (at worst
//! it re-fetches and proves a version it was about to serve). The checksum
//! database state (`sumdb/`: trusted heads, tiles, proven lookups) is never
//! touched. `.info`, `list` and `@latest` documents count towards the size
//! and are collected with the artifacts, least recently written first: they
//! are re-fetched on use. Evidence objects (signature files, named by
//! SHA-256 in records) stay while a record names them; a run with a limit
//! removes those no record names any more (settled ones, as for blobs).
//! Without a limit nothing is removed.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::cache::{DocKey, RecordId, Store, StoreError};

/// An unreferenced blob younger than this may belong to a `serve` that has
/// committed the blob but not yet written its record: left alone.
pub(crate) const ORPHAN_GRACE: Duration = Duration::from_secs(3600);

/// One artifact the collector may remove.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The metadata record.
    pub id: RecordId,
    /// `module@version (kind)`.
    pub name: String,
    /// The blob it points at.
    pub sha256: String,
    /// The evidence objects it names (SHA-256, hex).
    pub evidence: Vec<String>,
    /// Unix seconds of its verification.
    pub verified_at: u64,
}

/// A cached `.info`, `@v/list` or `@latest` document the collector may remove.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Doc {
    /// The document.
    pub key: DocKey,
    /// Where it is (orders documents written in the same second).
    pub location: String,
    /// Size in bytes.
    pub size: u64,
    /// Unix seconds of its last write.
    pub written_at: u64,
}

/// Hook for content that must survive collection (mirrored or pinned
/// modules). Nothing is mirrored or pinned yet, so nothing is protected;
/// when a mirror list exists, return `true` here for its members unless
/// the operator asked to collect them too.
pub(crate) fn protected(_e: &Entry) -> bool {
    false
}

/// Limits; `None` everywhere means "report only".
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Limits {
    /// Largest total blob size to keep.
    pub max_size: Option<u64>,
    /// Remove artifacts verified longer ago than this.
    pub older_than: Option<Duration>,
}

/// What to remove.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Indexes into the entries.
    pub remove: Vec<usize>,
    /// Blobs left without a record (digests).
    pub blobs: Vec<String>,
    /// Indexes into the documents.
    pub docs: Vec<usize>,
    /// Bytes freed.
    pub freed: u64,
    /// Blob and document bytes kept.
    pub after: u64,
}

/// A blob on disk: size and whether it is old enough to collect when no
/// record points at it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BlobInfo {
    /// Size in bytes.
    pub size: u64,
    /// Older than [`ORPHAN_GRACE`].
    pub settled: bool,
}

/// Decides what to remove: unreferenced settled blobs, then records and
/// documents, oldest verification or write first, while over the size limit
/// or older than the age limit.
pub(crate) fn plan(
    entries: &[Entry],
    docs: &[Doc],
    blobs: &HashMap<String, BlobInfo>,
    limits: Limits,
    now: u64,
) -> Plan {
    let mut p = Plan::default();
    let total: u64 =
        blobs.values().map(|b| b.size).sum::<u64>() + docs.iter().map(|d| d.size).sum::<u64>();
    if limits.max_size.is_none() && limits.older_than.is_none() {
        p.after = total;
        return p;
    }
    let mut refs: HashMap<&str, usize> = HashMap::new();
    for e in entries {
        *refs.entry(e.sha256.as_str()).or_default() += 1;
    }
    let mut current = total;
    let mut orphans: Vec<&String> = blobs
        .iter()
        .filter(|(sha, b)| b.settled && !refs.contains_key(sha.as_str()))
        .map(|(sha, _)| sha)
        .collect();
    orphans.sort();
    for sha in orphans {
        current -= blobs[sha].size;
        p.blobs.push(sha.clone());
    }
    // Records (Ok) and documents (Err) in one queue, oldest first.
    let mut order: Vec<(u64, &str, Result<usize, usize>)> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.verified_at, e.name.as_str(), Ok(i)))
        .chain(
            docs.iter()
                .enumerate()
                .map(|(j, d)| (d.written_at, d.location.as_str(), Err(j))),
        )
        .collect();
    order.sort();
    for (at, _, item) in order {
        if item.is_ok_and(|i| protected(&entries[i])) {
            continue;
        }
        let too_old = limits
            .older_than
            .is_some_and(|age| at.saturating_add(age.as_secs()) <= now);
        let too_big = limits.max_size.is_some_and(|m| current > m);
        if !(too_old || too_big) {
            continue;
        }
        let i = match item {
            Ok(i) => i,
            Err(j) => {
                p.docs.push(j);
                current -= docs[j].size;
                continue;
            }
        };
        let e = &entries[i];
        p.remove.push(i);
        let r = refs.entry(e.sha256.as_str()).or_default();
        *r = r.saturating_sub(1);
        if *r == 0
            && let Some(b) = blobs.get(&e.sha256)
        {
            current -= b.size;
            p.blobs.push(e.sha256.clone());
        }
    }
    p.freed = total - current;
    p.after = current;
    p
}

/// What a run did (or would do, with `--dry-run` or no limit).
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct GcReport {
    /// The cache root.
    pub cache_dir: String,
    /// Whether anything was (to be) removed: a limit was given.
    pub limited: bool,
    /// Nothing was removed on purpose.
    pub dry_run: bool,
    /// Artifacts (records) in the cache.
    pub artifacts: u64,
    /// `.info`, `list` and `@latest` documents in the cache.
    pub documents: u64,
    /// Blob and document bytes before.
    pub before_bytes: u64,
    /// Blob and document bytes after.
    pub after_bytes: u64,
    /// Blob and document bytes freed.
    pub freed_bytes: u64,
    /// Records removed (`module@version (kind)`).
    pub removed: Vec<String>,
    /// Blobs removed.
    pub removed_blobs: u64,
    /// Documents removed.
    pub removed_documents: u64,
    /// Evidence objects no record names any more, removed.
    pub removed_evidence: u64,
    /// Bytes of blobs no record points at (freed by any run with a limit).
    pub unreferenced_bytes: u64,
    /// Records that could not be read (left alone; `cache verify` deals with them).
    pub unreadable: Vec<String>,
}

async fn read_entries(store: &dyn Store, report: &mut GcReport) -> Result<Vec<Entry>, StoreError> {
    let mut out = Vec::new();
    for rec in store.list_records().await? {
        let Ok(id) = rec.id else {
            report.unreadable.push(rec.location);
            continue;
        };
        match store.peek_record(&id).await? {
            Ok(None) => {}
            Ok(Some(m)) => out.push(Entry {
                name: format!("{}@{} ({})", m.module, m.version, m.kind.as_str()),
                id,
                evidence: m
                    .proofs
                    .iter()
                    .flat_map(|p| p.objects())
                    .map(str::to_owned)
                    .collect(),
                sha256: m.sha256,
                verified_at: m.verified_at,
            }),
            Err(_) => report.unreadable.push(rec.location),
        }
    }
    Ok(out)
}

/// Unix seconds of a point in time (0 if unknown).
fn secs(t: Option<SystemTime>) -> u64 {
    t.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// Plans and (unless `dry_run` or without limits) applies a collection.
pub(crate) async fn collect(
    store: &dyn Store,
    limits: Limits,
    dry_run: bool,
) -> Result<GcReport, StoreError> {
    let mut report = GcReport {
        cache_dir: store.describe(),
        limited: limits.max_size.is_some() || limits.older_than.is_some(),
        dry_run,
        ..GcReport::default()
    };
    let entries = read_entries(store, &mut report).await?;
    report.artifacts = entries.len() as u64;
    let now_sys = SystemTime::now();
    let mut blobs = HashMap::new();
    for b in store.list_blobs().await?.iter().filter(|b| b.well_named) {
        let settled = b
            .modified
            .and_then(|m| now_sys.duration_since(m).ok())
            .is_some_and(|age| age >= ORPHAN_GRACE);
        blobs.insert(
            b.name.clone(),
            BlobInfo {
                size: b.size,
                settled,
            },
        );
    }
    let referenced: HashSet<&str> = entries.iter().map(|e| e.sha256.as_str()).collect();
    report.unreferenced_bytes = blobs
        .iter()
        .filter(|(sha, b)| b.settled && !referenced.contains(sha.as_str()))
        .map(|(_, b)| b.size)
        .sum();
    let docs: Vec<Doc> = store
        .list_docs()
        .await?
        .into_iter()
        .map(|d| Doc {
            written_at: secs(d.modified),
            key: d.key,
            location: d.location,
            size: d.size,
        })
        .collect();
    report.documents = docs.len() as u64;
    let p = plan(&entries, &docs, &blobs, limits, secs(Some(now_sys)));
    let doc_bytes: u64 = docs.iter().map(|d| d.size).sum();
    report.before_bytes = blobs.values().map(|b| b.size).sum::<u64>() + doc_bytes;
    report.after_bytes = p.after;
    report.freed_bytes = p.freed;
    report.removed = p.remove.iter().map(|&i| entries[i].name.clone()).collect();
    report.removed_blobs = p.blobs.len() as u64;
    report.removed_documents = p.docs.len() as u64;
    // Evidence objects no record left by the plan names.
    let evidence: Vec<(DocKey, String)> = store
        .list_evidence()
        .await?
        .into_iter()
        .filter(|d| {
            d.modified
                .and_then(|m| now_sys.duration_since(m).ok())
                .is_some_and(|age| age >= ORPHAN_GRACE)
        })
        .filter_map(|d| match d.key {
            DocKey::Evidence(sha) => Some((DocKey::Evidence(sha.clone()), sha)),
            _ => None,
        })
        .collect();
    let kept: HashSet<&str> = entries
        .iter()
        .enumerate()
        .filter(|(i, _)| !p.remove.contains(i))
        .flat_map(|(_, e)| e.evidence.iter().map(String::as_str))
        .collect();
    report.removed_evidence = evidence
        .iter()
        .filter(|(_, sha)| !kept.contains(sha.as_str()))
        .count() as u64;
    if dry_run || !report.limited {
        return Ok(report);
    }
    let mut docs_freed = 0u64;
    for &j in &p.docs {
        if store.delete_doc(&docs[j].key).await? {
            docs_freed += docs[j].size;
        }
    }
    for &i in &p.remove {
        store.remove_record(&entries[i].id).await?;
    }
    // Records written meanwhile (a concurrent serve) keep their blobs and
    // evidence.
    let mut again = GcReport::default();
    let now_entries = read_entries(store, &mut again).await?;
    let still_evidence: HashSet<&str> = now_entries
        .iter()
        .flat_map(|e| e.evidence.iter().map(String::as_str))
        .collect();
    let mut removed_evidence = 0u64;
    for (key, sha) in &evidence {
        if !still_evidence.contains(sha.as_str()) && store.delete_doc(key).await? {
            removed_evidence += 1;
        }
    }
    report.removed_evidence = removed_evidence;
    let still: HashSet<String> = now_entries.into_iter().map(|e| e.sha256).collect();
    let mut freed = docs_freed;
    let mut removed_blobs = 0u64;
    for sha in &p.blobs {
        if still.contains(sha) {
            continue;
        }
        if store.remove_blob(sha).await? {
            freed += blobs.get(sha).map_or(0, |b| b.size);
            removed_blobs += 1;
        }
    }
    report.freed_bytes = freed;
    report.removed_blobs = removed_blobs;
    report.after_bytes = report.before_bytes - freed;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn e(name: &str, sha: &str, at: u64) -> Entry {
        Entry {
            id: RecordId::new(crate::artifact::ArtifactKind::Zip, name, "v1.0.0"),
            name: name.into(),
            sha256: sha.into(),
            evidence: Vec::new(),
            verified_at: at,
        }
    }

    fn blobs(v: &[(&str, u64, bool)]) -> HashMap<String, BlobInfo> {
        v.iter()
            .map(|(s, size, settled)| {
                (
                    (*s).to_owned(),
                    BlobInfo {
                        size: *size,
                        settled: *settled,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn no_limit_removes_nothing() {
        let en = [e("a", "1", 10), e("b", "2", 20)];
        let b = blobs(&[("1", 100, true), ("2", 100, true), ("9", 5, true)]);
        let p = plan(&en, &[], &b, Limits::default(), 1000);
        assert_eq!(p.remove, Vec::<usize>::new());
        assert!(p.blobs.is_empty());
        assert_eq!((p.freed, p.after), (0, 205));
    }

    #[test]
    fn max_size_removes_oldest_first_and_shared_blobs_last() {
        // c and d share blob 3 (two versions with the same go.mod).
        let en = [
            e("new", "1", 300),
            e("old", "2", 100),
            e("c", "3", 150),
            e("d", "3", 400),
        ];
        let b = blobs(&[("1", 100, true), ("2", 100, true), ("3", 100, true)]);
        let p = plan(
            &en,
            &[],
            &b,
            Limits {
                max_size: Some(150),
                older_than: None,
            },
            1000,
        );
        // old (frees 2), then c (frees nothing: d still points at 3), then new (frees 1).
        assert_eq!(p.remove, vec![1, 2, 0]);
        assert_eq!(p.blobs, vec!["2".to_owned(), "1".to_owned()]);
        assert_eq!((p.freed, p.after), (200, 100));
    }

    #[test]
    fn orphans_go_first_but_only_settled_ones() {
        let en = [e("a", "1", 10)];
        let b = blobs(&[("1", 100, true), ("o", 50, true), ("fresh", 70, false)]);
        let p = plan(
            &en,
            &[],
            &b,
            Limits {
                max_size: Some(1000),
                older_than: None,
            },
            1000,
        );
        assert!(p.remove.is_empty());
        assert_eq!(p.blobs, vec!["o".to_owned()]);
        assert_eq!((p.freed, p.after), (50, 170));
    }

    #[test]
    fn older_than_removes_by_age_only() {
        let en = [e("a", "1", 100), e("b", "2", 900)];
        let b = blobs(&[("1", 10, true), ("2", 10, true)]);
        let p = plan(
            &en,
            &[],
            &b,
            Limits {
                max_size: None,
                older_than: Some(Duration::from_secs(500)),
            },
            1000,
        );
        assert_eq!(p.remove, vec![0]);
        assert_eq!(p.freed, 10);
    }

    #[test]
    fn documents_count_and_go_in_age_order_with_records() {
        let en = [e("a", "1", 200)];
        let d = |p: &str, size, at| Doc {
            key: DocKey::List(p.into()),
            location: p.into(),
            size,
            written_at: at,
        };
        let docs = [d("old-list", 400, 100), d("new-list", 400, 300)];
        let b = blobs(&[("1", 100, true)]);
        let lim = |m| Limits {
            max_size: Some(m),
            older_than: None,
        };
        // 900 bytes: the old list goes first, then the record, then the new list.
        let p = plan(&en, &docs, &b, lim(500), 1000);
        assert_eq!((p.docs.clone(), p.remove.clone()), (vec![0], vec![]));
        assert_eq!((p.freed, p.after), (400, 500));
        let p = plan(&en, &docs, &b, lim(0), 1000);
        assert_eq!((p.docs, p.remove), (vec![0, 1], vec![0]));
        assert_eq!((p.freed, p.after), (900, 0));
    }

    #[test]
    fn collect_removes_list_latest_and_info_documents() {
        let dir = tempfile::tempdir().unwrap();
        let v = dir.path().join("meta/example.com/m/@v");
        fs::create_dir_all(&v).unwrap();
        let big = vec![b'v'; 1 << 20];
        for f in ["list", "v1.0.0.info"] {
            fs::write(v.join(f), &big).unwrap();
        }
        fs::write(dir.path().join("meta/example.com/m/@latest"), &big).unwrap();
        let (store, _) = crate::cache::DiskStore::open(dir.path()).unwrap();
        let collect = |limits, dry_run| {
            crate::cache::block_on(collect(&store, limits, dry_run))
                .unwrap()
                .unwrap()
        };
        let r = collect(Limits::default(), false);
        assert_eq!((r.documents, r.before_bytes), (3, 3 << 20));
        assert!(v.join("list").exists(), "no limit removes nothing");
        let r = collect(
            Limits {
                max_size: Some(1_000_000),
                older_than: None,
            },
            false,
        );
        assert_eq!(r.removed_documents, 3);
        assert_eq!((r.freed_bytes, r.after_bytes), (3 << 20, 0));
        let left = crate::cache::block_on(store.list_docs()).unwrap().unwrap();
        assert_eq!(left, vec![]);
        assert!(!v.join("list").exists());
    }
}
