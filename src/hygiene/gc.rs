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
//! SHA-256 in records) count towards the size too and stay while a record
//! names them; a run with a limit removes those no record names any more,
//! or no more once the records it removes are gone, if older than
//! [`ORPHAN_GRACE`] (a `serve` writes one before the record naming it).
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
    /// Evidence objects left without a record (digests).
    pub evidence: Vec<String>,
    /// Bytes freed.
    pub freed: u64,
    /// Blob, document and evidence bytes kept.
    pub after: u64,
}

/// A blob or evidence object: size and whether it is old enough to collect
/// when no record points at it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BlobInfo {
    /// Size in bytes.
    pub size: u64,
    /// Older than [`ORPHAN_GRACE`].
    pub settled: bool,
}

/// Decides what to remove: unreferenced settled blobs and evidence
/// objects, then records and documents, oldest verification or write first,
/// while over the size limit or older than the age limit; with a record,
/// its blob and its settled evidence objects once no kept record names them.
pub(crate) fn plan(
    entries: &[Entry],
    docs: &[Doc],
    blobs: &HashMap<String, BlobInfo>,
    evidence: &HashMap<String, BlobInfo>,
    limits: Limits,
    now: u64,
) -> Plan {
    let mut p = Plan::default();
    let total: u64 = blobs.values().map(|b| b.size).sum::<u64>()
        + docs.iter().map(|d| d.size).sum::<u64>()
        + evidence.values().map(|b| b.size).sum::<u64>();
    if limits.max_size.is_none() && limits.older_than.is_none() {
        p.after = total;
        return p;
    }
    let mut refs: HashMap<&str, usize> = HashMap::new();
    let mut evidence_refs: HashMap<&str, usize> = HashMap::new();
    for e in entries {
        *refs.entry(e.sha256.as_str()).or_default() += 1;
        for sha in &e.evidence {
            *evidence_refs.entry(sha.as_str()).or_default() += 1;
        }
    }
    let mut current = total;
    for sha in orphans(blobs, &refs) {
        current -= blobs[sha].size;
        p.blobs.push(sha.clone());
    }
    for sha in orphans(evidence, &evidence_refs) {
        current -= evidence[sha].size;
        p.evidence.push(sha.clone());
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
        for sha in &e.evidence {
            let r = evidence_refs.entry(sha.as_str()).or_default();
            let was = *r;
            *r = r.saturating_sub(1);
            if was == 1
                && let Some(b) = evidence.get(sha).filter(|b| b.settled)
            {
                current -= b.size;
                p.evidence.push(sha.clone());
            }
        }
    }
    p.freed = total - current;
    p.after = current;
    p
}

/// The settled objects of `all` no record names (per `refs`), sorted.
fn orphans<'a>(all: &'a HashMap<String, BlobInfo>, refs: &HashMap<&str, usize>) -> Vec<&'a String> {
    let mut out: Vec<&String> = all
        .iter()
        .filter(|(sha, b)| b.settled && !refs.contains_key(sha.as_str()))
        .map(|(sha, _)| sha)
        .collect();
    out.sort();
    out
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
    /// Evidence objects (signature files) in the cache.
    pub evidence_objects: u64,
    /// Blob, document and evidence bytes before.
    pub before_bytes: u64,
    /// Blob, document and evidence bytes after.
    pub after_bytes: u64,
    /// Blob, document and evidence bytes freed.
    pub freed_bytes: u64,
    /// Records removed (`module@version (kind)`).
    pub removed: Vec<String>,
    /// Blobs removed.
    pub removed_blobs: u64,
    /// Documents removed.
    pub removed_documents: u64,
    /// Evidence objects no record names any more, removed.
    pub removed_evidence: u64,
    /// Bytes of blobs and evidence objects no record names, older than
    /// [`ORPHAN_GRACE`] (freed by any run with a limit).
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
    let settled = |modified: Option<SystemTime>| {
        modified
            .and_then(|m| now_sys.duration_since(m).ok())
            .is_some_and(|age| age >= ORPHAN_GRACE)
    };
    let mut blobs = HashMap::new();
    for b in store.list_blobs().await?.iter().filter(|b| b.well_named) {
        let info = BlobInfo {
            size: b.size,
            settled: settled(b.modified),
        };
        blobs.insert(b.name.clone(), info);
    }
    let mut evidence = HashMap::new();
    for d in store.list_evidence().await? {
        if let DocKey::Evidence(sha) = d.key {
            let info = BlobInfo {
                size: d.size,
                settled: settled(d.modified),
            };
            evidence.insert(sha, info);
        }
    }
    report.evidence_objects = evidence.len() as u64;
    let referenced: HashSet<&str> = entries.iter().map(|e| e.sha256.as_str()).collect();
    let named: HashSet<&str> = entries
        .iter()
        .flat_map(|e| e.evidence.iter().map(String::as_str))
        .collect();
    report.unreferenced_bytes =
        unnamed_bytes(&blobs, &referenced) + unnamed_bytes(&evidence, &named);
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
    let p = plan(
        &entries,
        &docs,
        &blobs,
        &evidence,
        limits,
        secs(Some(now_sys)),
    );
    report.before_bytes = p.after + p.freed;
    report.after_bytes = p.after;
    report.freed_bytes = p.freed;
    report.removed = p.remove.iter().map(|&i| entries[i].name.clone()).collect();
    report.removed_blobs = p.blobs.len() as u64;
    report.removed_documents = p.docs.len() as u64;
    report.removed_evidence = p.evidence.len() as u64;
    if dry_run || !report.limited {
        return Ok(report);
    }
    let mut freed = 0u64;
    for &j in &p.docs {
        if store.delete_doc(&docs[j].key).await? {
            freed += docs[j].size;
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
    for sha in &p.evidence {
        if still_evidence.contains(sha.as_str()) {
            continue;
        }
        let Some(key) = DocKey::evidence(sha) else {
            continue;
        };
        if store.delete_doc(&key).await? {
            freed += evidence.get(sha).map_or(0, |b| b.size);
            removed_evidence += 1;
        }
    }
    report.removed_evidence = removed_evidence;
    let still: HashSet<String> = now_entries.into_iter().map(|e| e.sha256).collect();
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

/// Bytes of the settled objects of `all` that `named` does not hold.
fn unnamed_bytes(all: &HashMap<String, BlobInfo>, named: &HashSet<&str>) -> u64 {
    all.iter()
        .filter(|(sha, b)| b.settled && !named.contains(sha.as_str()))
        .map(|(_, b)| b.size)
        .sum()
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
        let p = plan(&en, &[], &b, &HashMap::new(), Limits::default(), 1000);
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
            &HashMap::new(),
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
            &HashMap::new(),
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
            &HashMap::new(),
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
        let p = plan(&en, &docs, &b, &HashMap::new(), lim(500), 1000);
        assert_eq!((p.docs.clone(), p.remove.clone()), (vec![0], vec![]));
        assert_eq!((p.freed, p.after), (400, 500));
        let p = plan(&en, &docs, &b, &HashMap::new(), lim(0), 1000);
        assert_eq!((p.docs, p.remove), (vec![0, 1], vec![0]));
        assert_eq!((p.freed, p.after), (900, 0));
    }

    /// Evidence objects count towards the size: settled orphans go first,
    /// a named one with the last record naming it (if settled), a fresh
    /// one never.
    #[test]
    fn evidence_counts_and_goes_with_the_last_record_naming_it() {
        let mut zip = e("zip", "1", 100);
        zip.evidence = vec!["s".into(), "young".into()];
        let mut gomod = e("mod", "2", 200);
        gomod.evidence = vec!["s".into()];
        let en = [zip, gomod, e("new", "3", 900)];
        let b = blobs(&[("1", 100, true), ("2", 10, true), ("3", 100, true)]);
        let ev = blobs(&[
            ("s", 50, true),
            ("young", 7, false),
            ("orphan", 20, true),
            ("fresh-orphan", 30, false),
        ]);
        let lim = |m| Limits {
            max_size: Some(m),
            older_than: None,
        };
        let p = plan(&en, &[], &b, &ev, Limits::default(), 1000);
        assert_eq!((p.freed, p.after), (0, 317));
        // The orphan alone gets it under.
        let p = plan(&en, &[], &b, &ev, lim(300), 1000);
        assert_eq!(
            (p.remove.clone(), p.evidence.clone()),
            (vec![], vec!["orphan".into()])
        );
        assert_eq!((p.freed, p.after), (20, 297));
        // The zip's record (its blob; "s" is still named by the go.mod's),
        // then the go.mod's (its blob and "s"); "young" stays.
        let p = plan(&en, &[], &b, &ev, lim(140), 1000);
        assert_eq!(p.remove, vec![0, 1]);
        assert_eq!(p.blobs, vec!["1".to_owned(), "2".to_owned()]);
        assert_eq!(p.evidence, vec!["orphan".to_owned(), "s".to_owned()]);
        assert_eq!((p.freed, p.after), (180, 137));
    }

    /// `collect` on a store with evidence objects only (no record names
    /// them): their bytes count, a run with a limit removes the settled
    /// ones. The same on disk and on an object store (where nothing is an
    /// hour old, so nothing goes).
    #[tokio::test]
    async fn collect_counts_and_removes_unnamed_evidence_objects() {
        let dir = tempfile::tempdir().unwrap();
        let (disk, object) = crate::cache::testing::both_stores(dir.path());
        let sha = |b: &[u8]| crate::xmod::dirhash::hex(&crate::xmod::dirhash::sha256(b));
        let (old, young) = (vec![b'o'; 1000], vec![b'y'; 300]);
        let limit = Limits {
            max_size: Some(1 << 30),
            older_than: None,
        };
        let stores: [(&dyn Store, bool); 2] = [(&disk, true), (&object, false)];
        for (store, can_age) in stores {
            let at = store.describe();
            for b in [&old, &young] {
                let key = DocKey::evidence(&sha(b)).unwrap();
                store
                    .put_doc(&key, bytes::Bytes::from(b.clone()))
                    .await
                    .unwrap();
            }
            if can_age {
                let path = dir
                    .path()
                    .join("cache")
                    .join(DocKey::evidence(&sha(&old)).unwrap().rel_path());
                fs::File::options()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_modified(SystemTime::now() - 2 * ORPHAN_GRACE))
                    .unwrap();
            }
            let settled = if can_age { 1000 } else { 0 };
            let r = collect(store, Limits::default(), false).await.unwrap();
            assert_eq!(r.evidence_objects, 2, "{at}");
            assert_eq!(
                (r.before_bytes, r.unreferenced_bytes),
                (1300, settled),
                "{at}"
            );
            let r = collect(store, limit, true).await.unwrap();
            assert_eq!(
                (r.removed_evidence, r.freed_bytes),
                (u64::from(can_age), settled),
                "{at}"
            );
            assert_eq!(
                store.list_evidence().await.unwrap().len(),
                2,
                "{at}: dry run"
            );
            let r = collect(store, limit, false).await.unwrap();
            assert_eq!(
                (r.removed_evidence, r.freed_bytes),
                (u64::from(can_age), settled),
                "{at}"
            );
            assert_eq!(r.after_bytes, 1300 - settled, "{at}");
            let left: Vec<String> = store
                .list_evidence()
                .await
                .unwrap()
                .into_iter()
                .map(|d| d.key.rel_path())
                .collect();
            let mut want = vec![DocKey::evidence(&sha(&young)).unwrap().rel_path()];
            if !can_age {
                want.push(DocKey::evidence(&sha(&old)).unwrap().rel_path());
                want.sort();
            }
            assert_eq!(left, want, "{at}");
        }
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
