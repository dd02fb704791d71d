//! The checksum-database client: proves lookups, authenticates tiles, and
//! keeps the trusted tree head moving forward only along consistent trees.
//!
//! This follows x/mod `sumdb/client.go` (with the 2026 fixes) and cmd/go
//! `modfetch/sumdb.go`, with three deliberate differences:
//! * a record that has no `h1:` line for the artifact is a failure, and hash
//!   lines are taken from the proven record text only (CVE-2026-42501,
//!   CVE-2026-56864; see [`crate::verify`]);
//! * tiles are authenticated by [`tlog::authenticate`], which never assumes
//!   one tile per root subtree (CVE-2026-56865);
//! * a fork (a tree inconsistent with the persisted head) poisons the
//!   database: a report is written next to the head and nothing is proven by
//!   or served from that database until an operator removes it.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::OnceCell;

use super::{ProvenRecord, SumdbSpec, TILE_HEIGHT};
use crate::cache::{DocKey, Store, StoreError};
use crate::flight::{Flights, TaskFailed};
use crate::upstream::{Fallback, FetchError, FetchErrorKind, ProxyList, Upstream};
use crate::verify::proof::sumdb::NotProven;
use crate::xmod::module;
use crate::xmod::note::{self, Verifier};
use crate::xmod::tlog::{self, Hash, Tile, Tree};

/// Size caps for checksum-database bodies (endless-data defence).
#[derive(Clone, Debug)]
pub struct SumdbLimits {
    /// `/lookup/` responses (a record plus a note: well under 1 KiB in practice).
    pub lookup: u64,
    /// `/latest` notes.
    pub latest: u64,
    /// Data tiles (256 records).
    pub data_tile: u64,
    /// How long a fetched `/latest` is reused before asking upstream again.
    pub latest_ttl: Duration,
    /// Bytes of proven lookups kept in memory. Bounded by bytes, not
    /// entries: a bundle export or import proves every version once, and
    /// an entry count sized for a server let that grow with the number of
    /// versions.
    pub proven_cache: u64,
}

impl Default for SumdbLimits {
    fn default() -> Self {
        SumdbLimits {
            lookup: 1 << 20,
            latest: 64 << 10,
            data_tile: 16 << 20,
            latest_ttl: Duration::from_secs(30),
            proven_cache: 16 << 20,
        }
    }
}

/// Why a checksum-database operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SumdbError {
    /// A fork was detected earlier; nothing is trusted from this database.
    #[error(
        "checksum database {db} is not trusted: a fork was detected (SECURITY ERROR); see {report}"
    )]
    Poisoned { db: String, report: String },
    /// This request revealed a fork (the report was logged and persisted).
    #[error(
        "SECURITY ERROR: checksum database {db} served tree {new_n} that is inconsistent with the tree {old_n} goward trusted; all use of {db} is stopped"
    )]
    Fork { db: String, old_n: u64, new_n: u64 },
    /// The database has no record for the module version.
    #[error("{path}@{version} is not in checksum database {db}: {message}")]
    NotFound {
        db: String,
        path: String,
        version: String,
        message: String,
    },
    /// Reaching the database failed.
    #[error("checksum database {db}: {source}")]
    Upstream {
        db: String,
        #[source]
        source: FetchError,
    },
    /// The signed tree note did not verify.
    #[error("checksum database {db}: verifying tree note: {source}")]
    Note {
        db: String,
        #[source]
        source: note::NoteError,
    },
    /// A signed note that carries a go.sum-shaped line (CVE-2026-56864).
    #[error("checksum database {db}: signed tree note carries a go.sum line {line:?}; refusing it")]
    NoteWithHashLine { db: String, line: String },
    /// A malformed lookup, tree, record or tile.
    #[error("checksum database {db}: {what}: {source}")]
    Malformed {
        db: String,
        what: String,
        #[source]
        source: tlog::TlogError,
    },
    /// Tile bytes did not authenticate against the signed tree.
    #[error("checksum database {db}: {source}")]
    Tile {
        db: String,
        #[source]
        source: tlog::TlogError,
    },
    /// A data tile whose records do not match the authenticated leaves.
    #[error("checksum database {db}: data tile {tile} is inconsistent: {msg}")]
    DataTile {
        db: String,
        tile: String,
        msg: String,
    },
    /// The record's hash is not the leaf in the signed tree.
    #[error(
        "checksum database {db}: cannot authenticate record {id} for {path}@{version}: its hash is not in tree {tree_n}"
    )]
    RecordNotProven {
        db: String,
        path: String,
        version: String,
        id: u64,
        tree_n: u64,
    },
    /// The record number lies outside the signed tree.
    #[error("checksum database {db}: record {id} is outside tree of size {tree_n}")]
    RecordOutOfRange { db: String, id: u64, tree_n: u64 },
    /// The proven record is about something else (CVE-2026-56864).
    #[error(
        "checksum database {db}: lookup of {path}@{version} returned a record for another module or version: {line:?}"
    )]
    WrongRecord {
        db: String,
        path: String,
        version: String,
        line: String,
    },
    /// The requested tile lies beyond every tree goward trusts.
    #[error(
        "checksum database {db}: {tile} is not in the trusted tree of size {tree_n}: the client has seen a newer tree than this goward trusts (offline: import a newer bundle from the connected side)"
    )]
    TileNotCovered {
        db: String,
        tile: String,
        tree_n: u64,
    },
    /// A bad request (tile height, lookup path).
    #[error("checksum database {db}: {msg}")]
    BadRequest { db: String, msg: String },
    /// Offline mode, and the cache does not hold this piece (`what`: the
    /// database path, such as `lookup/…` or `tile/…`).
    #[error(
        "not in this offline mirror: checksum database {db} {what}: {}",
        crate::upstream::OFFLINE_HINT
    )]
    NotInOfflineCache { db: String, what: String },
    /// Local storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SumdbError {
    /// Stable metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            SumdbError::Poisoned { .. } => "sumdb_poisoned",
            SumdbError::Fork { .. } => "sumdb_fork",
            SumdbError::NotFound { .. } => "sumdb_not_found",
            SumdbError::Upstream { .. } => "sumdb_unreachable",
            SumdbError::Note { .. } | SumdbError::NoteWithHashLine { .. } => "sumdb_bad_note",
            SumdbError::Malformed { .. } => "sumdb_malformed",
            SumdbError::Tile { .. } | SumdbError::DataTile { .. } => "sumdb_bad_tile",
            SumdbError::RecordNotProven { .. } => "sumdb_record_not_proven",
            SumdbError::RecordOutOfRange { .. } => "sumdb_record_out_of_range",
            SumdbError::WrongRecord { .. } => "sumdb_wrong_record",
            SumdbError::TileNotCovered { .. } => "sumdb_tile_not_covered",
            SumdbError::BadRequest { .. } => "sumdb_bad_request",
            SumdbError::NotInOfflineCache { .. } => "not_in_offline_cache",
            SumdbError::Store(_) => "store",
        }
    }
}

/// How the database is reached, decided once like cmd/go `initBase`.
#[derive(Debug, Clone, Copy)]
enum Route {
    /// `<upstream entry i>/sumdb/<name>/…`
    Proxy(usize),
    /// The explicit URL, or `https://<name>`.
    Direct,
}

/// How often, at most, a request re-reads the fork report that another
/// process sharing the store may have written (every head update re-reads it
/// regardless). Documented in README's checksum-database section.
pub const FORK_RECHECK: Duration = Duration::from_secs(10);

/// The trusted head: the newest tree goward has verified, with its note.
#[derive(Debug, Clone)]
struct Head {
    tree: Tree,
    note: Bytes,
}

/// How a database is reached, and the fetches in flight: concurrent
/// identical fetches (a tile, `/latest`, a lookup) share one upstream
/// request, which runs as a task of its own like a module fill.
#[derive(Debug)]
struct Remote {
    name: String,
    upstreams: Arc<ProxyList>,
    direct: Arc<dyn Upstream>,
    has_explicit_url: bool,
    route: OnceCell<Route>,
    /// By database-relative path and size cap.
    flights: Flights<(String, u64), Bytes, FetchError>,
}

impl TaskFailed for FetchError {
    fn task_failed(msg: String) -> Self {
        FetchError::new(FetchErrorKind::Io, "checksum-database fetch task").with_detail(msg)
    }
}

/// A client for one checksum database.
#[derive(Debug)]
pub struct SumdbClient {
    name: String,
    verifier: Verifier,
    remote: Arc<Remote>,
    store: Arc<dyn Store>,
    limits: SumdbLimits,
    /// The trusted head. Held only to copy or replace it, never across
    /// network or disk I/O: a merge checks a tree against a snapshot, then
    /// installs it by compare-and-swap, retrying if the head moved (x/mod
    /// client.go `mergeLatest`).
    head: RwLock<Head>,
    poisoned: RwLock<Option<String>>,
    /// When the fork report was last looked for on disk.
    fork_checked: Mutex<Option<Instant>>,
    /// When a head fetched from the database last merged (the trusted
    /// head is at least that fresh), for the operator's page.
    confirmed: Mutex<Option<Instant>>,
    /// Tiles that authenticated before; re-authenticated on every use anyway.
    tiles: moka::future::Cache<Tile, Bytes>,
    /// Proven lookups: the log is append-only and our head only moves along
    /// consistent trees, so a record proven once stays proven.
    proven: moka::future::Cache<(String, String), Arc<(ProvenRecord, Bytes)>>,
    /// The last `/latest` fetched from upstream, reused for a short while.
    latest: moka::future::Cache<(), Bytes>,
    /// Tiles already served: a tile's path fixes its content in an
    /// append-only log, and one served was authenticated against a trusted
    /// head, so it is answered again without rebuilding it (a fork found
    /// later still stops it, by `check_trusted`).
    served: moka::future::Cache<Tile, Bytes>,
}

/// What a proven lookup holds in memory: its strings and bodies plus a
/// fixed overhead for the record's other fields and the cache entry.
fn proven_weight(k: &(String, String), v: &Arc<(ProvenRecord, Bytes)>) -> u32 {
    let (rec, body) = &**v;
    let hashes = rec
        .zip_h1s()
        .len()
        .saturating_add(rec.mod_h1s().len())
        .saturating_mul(64);
    [
        k.0.len(),
        k.1.len(),
        rec.db().len(),
        rec.path().len(),
        rec.version().len(),
        rec.text().len(),
        rec.note().len(),
        body.len(),
        hashes,
        256,
    ]
    .into_iter()
    .fold(0usize, usize::saturating_add)
    .try_into()
    .unwrap_or(u32::MAX)
}

fn tlog_err(db: &str, what: impl Into<String>) -> impl FnOnce(tlog::TlogError) -> SumdbError + '_ {
    let what = what.into();
    move |source| SumdbError::Malformed {
        db: db.to_owned(),
        what,
        source,
    }
}

impl SumdbClient {
    /// Builds a client and loads the persisted head and fork marker.
    ///
    /// `direct` is the HTTP upstream for the explicit URL or `https://<name>`.
    /// Synchronous, for a store that answers small reads at once
    /// ([`Store::get_doc_now`]); a remote store will need an async
    /// constructor reading the same two documents with [`Store::get_doc`].
    pub fn new(
        spec: &SumdbSpec,
        upstreams: Arc<ProxyList>,
        direct: Arc<dyn Upstream>,
        store: Arc<dyn Store>,
        limits: SumdbLimits,
    ) -> Result<SumdbClient, SumdbError> {
        let now = |key: DocKey| {
            store.get_doc_now(&key).unwrap_or_else(|| {
                Err(StoreError::io(
                    "read",
                    key.rel_path(),
                    std::io::Error::other("this store has no synchronous reads"),
                ))
            })
        };
        let head = now(DocKey::SumdbHead(spec.name.clone()))?;
        let fork = now(DocKey::SumdbFork(spec.name.clone()))?;
        Self::build(spec, upstreams, direct, store, limits, head, fork.is_some())
    }

    /// [`Self::new`] for any store: reads the persisted head and fork
    /// report with [`Store::get_doc`] (a shared bucket has no synchronous reads).
    pub async fn open(
        spec: &SumdbSpec,
        upstreams: Arc<ProxyList>,
        direct: Arc<dyn Upstream>,
        store: Arc<dyn Store>,
        limits: SumdbLimits,
    ) -> Result<SumdbClient, SumdbError> {
        let head = store.get_doc(&DocKey::SumdbHead(spec.name.clone())).await?;
        let fork = store.get_doc(&DocKey::SumdbFork(spec.name.clone())).await?;
        Self::build(spec, upstreams, direct, store, limits, head, fork.is_some())
    }

    /// Polls for a fork report every [`FORK_RECHECK`] on the runtime, for a
    /// store that [`Self::check_trusted`] cannot read inline (a shared
    /// bucket): another replica's report stops this one within that bound
    /// plus one read, and every head update reads it too. Stops with the
    /// client or once a fork is adopted.
    pub fn watch_forks(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(FORK_RECHECK).await;
                let Some(client) = weak.upgrade() else { break };
                if client.check_trusted().is_err() {
                    break;
                }
                let key = DocKey::SumdbFork(client.name.clone());
                match client.store.get_doc(&key).await {
                    Ok(found) => client.adopt_fork_report(found.map(|_| key.rel_path())),
                    Err(e) => {
                        tracing::warn!(db = %client.name, "could not look for a fork report: {e}")
                    }
                }
            }
        });
    }

    /// A client from the persisted head and whether a fork report exists.
    fn build(
        spec: &SumdbSpec,
        upstreams: Arc<ProxyList>,
        direct: Arc<dyn Upstream>,
        store: Arc<dyn Store>,
        limits: SumdbLimits,
        head: Option<Bytes>,
        forked: bool,
    ) -> Result<SumdbClient, SumdbError> {
        let name = spec.name.clone();
        let verifier = Verifier::parse(&spec.vkey).map_err(|source| SumdbError::Note {
            db: name.clone(),
            source,
        })?;
        let head = match head {
            None => Head {
                tree: Tree {
                    n: 0,
                    hash: tlog::empty_tree_hash(),
                },
                note: Bytes::new(),
            },
            Some(noteb) => {
                let n = note::open(&noteb, &verifier).map_err(|source| SumdbError::Note {
                    db: name.clone(),
                    source,
                })?;
                let tree = tlog::parse_tree(n.text.as_bytes())
                    .map_err(tlog_err(&name, "persisted tree head"))?;
                Head { tree, note: noteb }
            }
        };
        let poisoned = forked.then(|| DocKey::SumdbFork(name.clone()).rel_path());
        Ok(SumdbClient {
            remote: Arc::new(Remote {
                name: name.clone(),
                upstreams,
                direct,
                has_explicit_url: spec.url.is_some(),
                route: OnceCell::new(),
                flights: Flights::new("sumdb"),
            }),
            name,
            verifier,
            store,
            head: RwLock::new(head),
            poisoned: RwLock::new(poisoned),
            fork_checked: Mutex::new(Some(Instant::now())),
            confirmed: Mutex::new(None),
            tiles: moka::future::Cache::builder()
                .max_capacity(64 << 20)
                .weigher(|_, v: &Bytes| u32::try_from(v.len()).unwrap_or(u32::MAX))
                .build(),
            proven: moka::future::Cache::builder()
                .max_capacity(limits.proven_cache)
                .weigher(|k: &(String, String), v: &Arc<(ProvenRecord, Bytes)>| proven_weight(k, v))
                .build(),
            latest: moka::future::Cache::builder()
                .time_to_live(limits.latest_ttl)
                .build(),
            served: moka::future::Cache::builder()
                .max_capacity(32 << 20)
                .weigher(|_, v: &Bytes| u32::try_from(v.len()).unwrap_or(u32::MAX))
                .build(),
            limits,
        })
    }

    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key its signed notes verify with (stored proofs are re-checked
    /// against it offline).
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// Tree size, seconds since the head was last confirmed, and the fork
    /// report if any: for the operator's page and the metrics.
    pub fn status(&self) -> crate::status::SumdbStatus {
        crate::status::SumdbStatus {
            name: self.name.clone(),
            tree_size: self.snapshot().tree.n,
            head_age_secs: self
                .confirmed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .map(|t| t.elapsed().as_secs()),
            fork: self
                .poisoned
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    /// The trusted tree size (for metrics and readiness).
    pub async fn trusted_size(&self) -> u64 {
        self.snapshot().tree.n
    }

    fn snapshot(&self) -> Head {
        self.head.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Installs `new` if it is newer than the in-memory head (which callers
    /// have checked it against) and returns the head.
    fn install(&self, new: Head) -> Head {
        let mut head = self.head.write().unwrap_or_else(|e| e.into_inner());
        if new.tree.n > head.tree.n {
            *head = new;
        }
        head.clone()
    }

    /// Whether to look for a fork report on disk now: always when `force`,
    /// else at most every [`FORK_RECHECK`].
    fn fork_check_due(&self, force: bool) -> bool {
        if self
            .poisoned
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
        {
            return false;
        }
        let mut last = self.fork_checked.lock().unwrap_or_else(|e| e.into_inner());
        let due = force || last.is_none_or(|t| t.elapsed() >= FORK_RECHECK);
        if due {
            *last = Some(Instant::now());
        }
        due
    }

    /// Stops trusting the database if another process sharing the store
    /// has written a fork report.
    fn adopt_fork_report(&self, found: Option<String>) {
        if let Some(rel) = found {
            tracing::error!(db = %self.name, report = %rel, "another goward process recorded a fork of this checksum database; stopping all use of it");
            *self.poisoned.write().unwrap_or_else(|e| e.into_inner()) = Some(rel);
        }
    }

    /// Reads the fork report now (off the async workers if the store wants).
    async fn recheck_fork(&self) -> Result<(), SumdbError> {
        if self.fork_check_due(true) {
            let key = DocKey::SumdbFork(self.name.clone());
            let found = self.store.get_doc(&key).await?.map(|_| key.rel_path());
            self.adopt_fork_report(found);
        }
        self.check_trusted()
    }

    /// Fails if a fork was detected, by this process or by another one
    /// sharing the store.
    pub fn check_trusted(&self) -> Result<(), SumdbError> {
        // Another process's report stops this one within FORK_RECHECK. Only a
        // store whose small reads are cheap is read from here; any other is
        // asked on head updates only (`recheck_fork`).
        if self.store.small_io_inline() && self.fork_check_due(false) {
            let key = DocKey::SumdbFork(self.name.clone());
            match self.store.get_doc_now(&key) {
                Some(Ok(found)) => self.adopt_fork_report(found.map(|_| key.rel_path())),
                Some(Err(e)) => {
                    tracing::warn!(db = %self.name, "could not look for a fork report: {e}")
                }
                None => {}
            }
        }
        let guard = self.poisoned.read().unwrap_or_else(|e| e.into_inner());
        match &*guard {
            Some(report) => Err(SumdbError::Poisoned {
                db: self.name.clone(),
                report: report.clone(),
            }),
            None => Ok(()),
        }
    }

    /// GETs `rel` (e.g. `lookup/…`) from the database, capped at `max`
    /// bytes, sharing the request with identical ones in flight.
    async fn fetch(&self, rel: &str, max: u64) -> Result<Bytes, FetchError> {
        let remote = self.remote.clone();
        let key = (rel.to_owned(), max);
        let rel = rel.to_owned();
        self.remote
            .flights
            .join(key, move || async move {
                remote.fetch_now(&rel, max).await.map_err(Arc::new)
            })
            .await
            .map_err(|e| (*e).clone())
    }

    fn upstream_err(&self, source: FetchError) -> SumdbError {
        if source.kind == FetchErrorKind::Offline {
            return SumdbError::NotInOfflineCache {
                db: self.name.clone(),
                what: source.url,
            };
        }
        metrics::counter!("goward_upstream_errors_total", "kind" => "sumdb", "reason" => source.reason())
            .increment(1);
        SumdbError::Upstream {
            db: self.name.clone(),
            source,
        }
    }

    /// Reads tile bytes: memory, disk, then network (exact tile, then the
    /// full tile truncated, as x/mod client.go `readTile`). Returns the bytes
    /// and whether they came from the network.
    async fn read_tile(&self, t: Tile) -> Result<(Bytes, bool), SumdbError> {
        let want = usize::try_from(t.w)
            .unwrap_or(usize::MAX)
            .saturating_mul(tlog::HASH_SIZE);
        if let Some(b) = self.tiles.get(&t).await {
            return Ok((b, false));
        }
        let full = Tile { w: 1 << t.h, ..t };
        for cand in [t, full] {
            let key = DocKey::SumdbTile(self.name.clone(), cand.path());
            if let Some(b) = self.store.get_doc(&key).await?
                && b.len() >= want
            {
                return Ok((b.slice(..want), false));
            }
        }
        match self.fetch(&t.path(), want as u64).await {
            Ok(b) => Ok((b, true)),
            Err(e) if t.w < (1 << t.h) && e.is_not_found() => {
                let b = self
                    .fetch(&full.path(), (32u64) << t.h)
                    .await
                    .map_err(|e| self.upstream_err(e))?;
                if b.len() < want {
                    return Err(SumdbError::Tile {
                        db: self.name.clone(),
                        source: tlog::TlogError::TileLength {
                            tile: full.path(),
                            len: b.len(),
                            want,
                            w: t.w,
                        },
                    });
                }
                Ok((b.slice(..want), true))
            }
            Err(e) => Err(self.upstream_err(e)),
        }
    }

    /// Reads the stored hashes at `indexes` of `tree`, authenticating every
    /// tile used against the signed root before any is cached.
    async fn read_hashes(&self, tree: &Tree, indexes: &[u64]) -> Result<Vec<Hash>, SumdbError> {
        let plan = tlog::plan_tiles(TILE_HEIGHT, tree.n, indexes)
            .map_err(tlog_err(&self.name, "planning tiles"))?;
        let mut data = Vec::with_capacity(plan.tiles().len());
        let mut fresh = Vec::new();
        for &t in plan.tiles() {
            let (b, from_net) = self.read_tile(t).await?;
            if from_net {
                fresh.push((t, b.clone()));
            }
            data.push(b.to_vec());
        }
        let hashes = tlog::authenticate(tree, &plan, &data).map_err(|source| SumdbError::Tile {
            db: self.name.clone(),
            source,
        })?;
        // Only now, authenticated, may tiles be remembered.
        for (&t, d) in plan.tiles().iter().zip(data) {
            self.tiles.insert(t, Bytes::from(d)).await;
        }
        for (t, b) in fresh {
            let key = DocKey::SumdbTile(self.name.clone(), t.path());
            self.store.put_doc(&key, b).await?;
        }
        Ok(hashes)
    }

    /// The hash of the first `n` records, read from tiles authenticated
    /// against `tree` (x/mod client.go `checkTrees`).
    async fn tree_hash_at(&self, tree: &Tree, n: u64) -> Result<Hash, SumdbError> {
        if n == 0 {
            return Ok(tlog::empty_tree_hash());
        }
        let idx = tlog::subtree_indexes(0, n);
        let hs = self.read_hashes(tree, &idx).await?;
        let Some((last, init)) = hs.split_last() else {
            return Ok(tlog::empty_tree_hash());
        };
        Ok(init.iter().rev().fold(*last, |h, x| tlog::node_hash(x, &h)))
    }

    /// Opens a signed tree note with this database's key.
    fn open_tree(&self, note_bytes: &[u8]) -> Result<Tree, SumdbError> {
        let n = note::open(note_bytes, &self.verifier).map_err(|source| SumdbError::Note {
            db: self.name.clone(),
            source,
        })?;
        // CVE-2026-56864: pre-fix go commands read go.sum lines from the whole
        // lookup body, note included. A signed note may carry extra lines, so
        // one that carries anything shaped like a go.sum line is refused: it
        // could vouch for bytes that are in no log entry.
        if let Some(line) = n.text.lines().skip(3).find(|l| looks_like_go_sum_line(l)) {
            return Err(SumdbError::NoteWithHashLine {
                db: self.name.clone(),
                line: line.to_owned(),
            });
        }
        tlog::parse_tree(n.text.as_bytes()).map_err(tlog_err(&self.name, "signed tree"))
    }

    /// Merges a verified tree into the trusted head (x/mod `mergeLatest`):
    /// a newer tree must contain the head, an older one must be contained in
    /// it. Anything else is a fork and poisons the database.
    ///
    /// Tiles are read and the head persisted without holding the head lock:
    /// the tree is checked against a snapshot and installed only if neither
    /// this process nor another one sharing the store moved the head
    /// meanwhile; if one did, the moved head is checked and the merge redone.
    async fn merge(&self, tree: Tree, note_bytes: &Bytes) -> Result<Head, SumdbError> {
        let head = self.merge_unrecorded(tree, note_bytes).await?;
        *self.confirmed.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        Ok(head)
    }

    /// [`Self::merge`] without noting the time.
    async fn merge_unrecorded(&self, tree: Tree, note_bytes: &Bytes) -> Result<Head, SumdbError> {
        let key = DocKey::SumdbHead(self.name.clone());
        loop {
            self.check_trusted()?;
            let cur = self.snapshot();
            if tree == cur.tree {
                return Ok(cur);
            }
            self.check_consistent(&cur, &tree, note_bytes).await?;
            if tree.n < cur.tree.n {
                return Ok(cur);
            }
            // Newer: first whatever another process has persisted.
            self.recheck_fork().await?;
            let disk = self.store.get_doc(&key).await?;
            if let Some(d) = disk.as_ref().filter(|d| **d != cur.note) {
                let dtree = self.open_tree(d)?;
                self.check_consistent(&cur, &dtree, d).await?;
                self.install(Head {
                    tree: dtree,
                    note: d.clone(),
                });
                if dtree.n > cur.tree.n {
                    continue; // check ours against it
                }
            }
            let swapped = self
                .store
                .compare_and_swap_doc(&key, disk.clone(), note_bytes.clone())
                .await?;
            if swapped {
                tracing::info!(db = %self.name, from = cur.tree.n, to = tree.n, "trusted tree head advanced");
                return Ok(self.install(Head {
                    tree,
                    note: note_bytes.clone(),
                }));
            }
        }
    }

    /// Checks `tree` against the head `cur` by reading the hash of the
    /// smaller tree from tiles of the larger one (x/mod `checkTrees`); a
    /// mismatch is a fork.
    async fn check_consistent(
        &self,
        cur: &Head,
        tree: &Tree,
        note: &[u8],
    ) -> Result<(), SumdbError> {
        if tree.n == cur.tree.n {
            if tree.hash != cur.tree.hash {
                return Err(self.fork(cur, tree, note, tree.hash, Vec::new()).await);
            }
            return Ok(());
        }
        let (older, newer) = if tree.n > cur.tree.n {
            (cur.tree, *tree)
        } else {
            (*tree, cur.tree)
        };
        let got = self.tree_hash_at(&newer, older.n).await?;
        if got != older.hash {
            let proof = self.tree_proof(&newer, older.n).await.unwrap_or_default();
            return Err(self.fork(cur, tree, note, got, proof).await);
        }
        Ok(())
    }

    /// The RFC 6962 consistency proof between sizes `n` and `newer.n`, for
    /// the SECURITY ERROR report.
    async fn tree_proof(&self, newer: &Tree, n: u64) -> Result<Vec<Hash>, SumdbError> {
        let idx = tlog::tree_proof_indexes(newer.n, n)
            .map_err(tlog_err(&self.name, "consistency proof"))?;
        let hs = self.read_hashes(newer, &idx).await?;
        let map: std::collections::BTreeMap<u64, Hash> = idx.into_iter().zip(hs).collect();
        tlog::prove_tree(newer.n, n, &map).map_err(tlog_err(&self.name, "consistency proof"))
    }

    /// Records a fork: logs a SECURITY ERROR with both heads and the proof,
    /// persists the report, and stops trusting the database.
    async fn fork(
        &self,
        old: &Head,
        new: &Tree,
        new_note: &[u8],
        computed: Hash,
        proof: Vec<Hash>,
    ) -> SumdbError {
        use base64::Engine as _;
        let b64 = |h: &Hash| base64::engine::general_purpose::STANDARD.encode(h);
        let indent = |b: &[u8]| String::from_utf8_lossy(b).trim_end().replace('\n', "\n\t");
        let mut report = format!(
            "SECURITY ERROR\ngo.sum database server misbehavior detected!\n\ndatabase: {}\n\nold database:\n\t{}\n\nnew database:\n\t{}\n\nproof of misbehavior:\n\t{}",
            self.name,
            indent(&old.note),
            indent(new_note),
            b64(&computed)
        );
        for h in &proof {
            report.push_str("\n\t");
            report.push_str(&b64(h));
        }
        report.push('\n');
        tracing::error!(db = %self.name, old_size = old.tree.n, new_size = new.n, "{report}");
        metrics::counter!("goward_verification_failures_total", "reason" => "sumdb_fork")
            .increment(1);
        let key = DocKey::SumdbFork(self.name.clone());
        let rel = key.rel_path();
        if let Err(e) = self.store.put_doc(&key, Bytes::from(report)).await {
            tracing::error!(db = %self.name, "could not persist the fork report: {e}");
        }
        *self.poisoned.write().unwrap_or_else(|e| e.into_inner()) = Some(rel);
        SumdbError::Fork {
            db: self.name.clone(),
            old_n: old.tree.n,
            new_n: new.n,
        }
    }

    /// Proves `path@version` (a canonical version, without `/go.mod`) and
    /// returns the proven record. Concurrent calls for one version share a
    /// single lookup, hence the shared error.
    pub async fn prove(&self, path: &str, version: &str) -> Result<ProvenRecord, Arc<SumdbError>> {
        Ok(self.prove_with_body(path, version).await?.0.clone())
    }

    /// The lookup response served to clients: `<id>\n<record>\n` followed by
    /// the *current* trusted head's signed note. The note signs the tree, not
    /// the record, so a record proven at an older head is re-proven at the
    /// current one from stored tiles first; stored lookup bytes are never
    /// passed through. Offline serving and `bundle export` both answer with
    /// this, so a bundle's lookups all verify at one tree size.
    pub async fn lookup(&self, path: &str, version: &str) -> Result<Bytes, Arc<SumdbError>> {
        let proven = self.prove_with_body(path, version).await?;
        let rec = &proven.0;
        let head = self.snapshot();
        if head.tree != rec.tree() {
            let leaf = self
                .read_hashes(&head.tree, &[tlog::stored_hash_index(0, rec.id())])
                .await?;
            if leaf.first() != Some(&tlog::record_hash(rec.text().as_bytes())) {
                return Err(Arc::new(SumdbError::RecordNotProven {
                    db: self.name.clone(),
                    path: path.to_owned(),
                    version: version.to_owned(),
                    id: rec.id(),
                    tree_n: head.tree.n,
                }));
            }
        }
        let mut body = tlog::format_record(rec.id(), rec.text().as_bytes())
            .map_err(tlog_err(&self.name, "proven record"))?;
        body.extend_from_slice(&head.note);
        self.check_trusted()?;
        Ok(Bytes::from(body))
    }

    /// The trusted head's size and signed note (what `bundle export` ships).
    pub fn head(&self) -> (Tree, Bytes) {
        let h = self.snapshot();
        (h.tree, h.note)
    }

    async fn prove_with_body(
        &self,
        path: &str,
        version: &str,
    ) -> Result<Arc<(ProvenRecord, Bytes)>, Arc<SumdbError>> {
        self.check_trusted()?;
        let key = (path.to_owned(), version.to_owned());
        let r = self
            .proven
            .try_get_with(key, self.prove_uncached(path, version))
            .await?;
        // A fork found after this record was cached stops it too.
        self.check_trusted()?;
        Ok(r)
    }

    async fn prove_uncached(
        &self,
        path: &str,
        version: &str,
    ) -> Result<Arc<(ProvenRecord, Bytes)>, SumdbError> {
        let bad = |e: module::ModuleError| SumdbError::BadRequest {
            db: self.name.clone(),
            msg: e.to_string(),
        };
        let epath = module::escape_path(path).map_err(bad)?;
        let ever = module::escape_version(version).map_err(bad)?;
        let lookup_key = format!("{epath}@{ever}");
        let doc = DocKey::SumdbLookup(self.name.clone(), lookup_key.clone());
        let cached = self.store.get_doc(&doc).await?;
        let (body, from_net) = match cached {
            Some(b) => (b, false),
            None => {
                let b = self
                    .fetch(&format!("lookup/{lookup_key}"), self.limits.lookup)
                    .await
                    .map_err(|e| {
                        if let FetchErrorKind::NotFound { message, .. } = &e.kind {
                            SumdbError::NotFound {
                                db: self.name.clone(),
                                path: path.to_owned(),
                                version: version.to_owned(),
                                message: message.clone(),
                            }
                        } else {
                            self.upstream_err(e)
                        }
                    })?;
                (b, true)
            }
        };
        let record = self.verify_lookup(path, version, &body).await?;
        if from_net {
            self.store.put_doc(&doc, body.clone()).await?;
        }
        Ok(Arc::new((record, body)))
    }

    /// Steps 3–6 of x/mod `Client.Lookup`, with the 2026 fixes.
    async fn verify_lookup(
        &self,
        path: &str,
        version: &str,
        body: &Bytes,
    ) -> Result<ProvenRecord, SumdbError> {
        // 3. Split: record id, record text, signed tree note.
        let (id, text, note_bytes) =
            tlog::parse_record(body).map_err(tlog_err(&self.name, "lookup response"))?;
        let text = std::str::from_utf8(text)
            .map_err(|_| SumdbError::BadRequest {
                db: self.name.clone(),
                msg: "lookup record is not UTF-8".into(),
            })?
            .to_owned();
        let note_bytes = Bytes::copy_from_slice(note_bytes);
        // 4. Verify the note and merge its tree into the trusted head.
        let tree = self.open_tree(&note_bytes)?;
        if id >= tree.n {
            return Err(SumdbError::RecordOutOfRange {
                db: self.name.clone(),
                id,
                tree_n: tree.n,
            });
        }
        let head = self.merge(tree, &note_bytes).await?;
        // 5. The record's hash must be leaf `id` of the trusted tree, and
        // 6. hash lines come from the proven text only, every line about
        // exactly this module version.
        let leaf = self
            .read_hashes(&head.tree, &[tlog::stored_hash_index(0, id)])
            .await?;
        let tree_n = head.tree.n;
        ProvenRecord::from_leaf(
            &self.name,
            (path, version),
            (id, text),
            (head.tree, head.note.to_vec()),
            leaf.first(),
        )
        .map_err(|e| match e {
            NotProven::OutOfRange => SumdbError::RecordOutOfRange {
                db: self.name.clone(),
                id,
                tree_n,
            },
            NotProven::NotTheLeaf => SumdbError::RecordNotProven {
                db: self.name.clone(),
                path: path.to_owned(),
                version: version.to_owned(),
                id,
                tree_n,
            },
            NotProven::WrongLine(line) => SumdbError::WrongRecord {
                db: self.name.clone(),
                path: path.to_owned(),
                version: version.to_owned(),
                line,
            },
        })
    }

    /// The signed tree head for `/latest`: upstream's, once verified and
    /// merged; the persisted trusted head when upstream is unreachable
    /// (offline and air-gapped serving).
    pub async fn latest(&self) -> Result<Bytes, SumdbError> {
        self.check_trusted()?;
        if let Some(b) = self.latest.get(&()).await {
            return Ok(b);
        }
        match self.fetch("latest", self.limits.latest).await {
            Ok(b) => {
                let tree = self.open_tree(&b)?;
                let head = match self.merge(tree, &b).await {
                    Ok(head) => head,
                    // A lagging upstream may no longer serve tiles of our
                    // newer head, so the older tree cannot be checked: keep
                    // the trusted head rather than fail (or roll back).
                    Err(e @ SumdbError::Upstream { .. }) => {
                        let head = self.snapshot();
                        if head.tree.n <= tree.n {
                            return Err(e);
                        }
                        tracing::warn!(db = %self.name, upstream_size = tree.n, trusted_size = head.tree.n, error = %e,
                            "upstream serves an older tree that cannot be checked now; serving the trusted tree head");
                        head
                    }
                    Err(e) => return Err(e),
                };
                // An older (but consistent) upstream view is answered with
                // our newer head: never roll a client back.
                let out = if head.tree.n > tree.n { head.note } else { b };
                self.latest.insert((), out.clone()).await;
                Ok(out)
            }
            Err(e) => {
                let head = self.snapshot();
                if head.tree.n == 0 {
                    return Err(self.upstream_err(e));
                }
                // Offline, the trusted head is the answer, not a fallback.
                if e.kind != FetchErrorKind::Offline {
                    tracing::warn!(db = %self.name, error = %e, "upstream unreachable; serving the trusted tree head");
                }
                Ok(head.note)
            }
        }
    }

    /// An authenticated tile for `/tile/…`. Hash tiles are rebuilt from
    /// hashes authenticated against the trusted head, so unauthenticated
    /// bytes are never passed through; data tiles are checked record by
    /// record against authenticated leaf hashes.
    pub async fn tile(&self, t: Tile) -> Result<Bytes, SumdbError> {
        self.check_trusted()?;
        if let Some(b) = self.served.get(&t).await {
            return Ok(b);
        }
        let b = self.tile_uncached(t).await?;
        self.served.insert(t, b.clone()).await;
        Ok(b)
    }

    async fn tile_uncached(&self, t: Tile) -> Result<Bytes, SumdbError> {
        if t.h != TILE_HEIGHT {
            return Err(SumdbError::BadRequest {
                db: self.name.clone(),
                msg: format!("tile height {} is not served (only {TILE_HEIGHT})", t.h),
            });
        }
        let span = t.span().map_err(|e| SumdbError::BadRequest {
            db: self.name.clone(),
            msg: e.to_string(),
        })?;
        let needed = span.records_end;
        let mut head = self.snapshot();
        if needed > head.tree.n {
            // The client may know a newer tree than we do: catch up once.
            self.latest.invalidate(&()).await;
            let _ = self.latest().await?;
            head = self.snapshot();
            if needed > head.tree.n {
                return Err(SumdbError::TileNotCovered {
                    db: self.name.clone(),
                    tile: t.path(),
                    tree_n: head.tree.n,
                });
            }
        }
        let idx: Vec<u64> = (span.first..span.end)
            .map(|i| tlog::stored_hash_index(span.level, i))
            .collect();
        let hashes = self.read_hashes(&head.tree, &idx).await?;
        if t.l >= 0 {
            return Ok(Bytes::from(hashes.concat()));
        }
        let key = DocKey::SumdbTile(self.name.clone(), t.path());
        let data = self.store.get_doc(&key).await?;
        let (data, from_net) = match data {
            Some(d) => (d, false),
            None => (
                self.fetch(&t.path(), self.limits.data_tile)
                    .await
                    .map_err(|e| self.upstream_err(e))?,
                true,
            ),
        };
        check_data_tile(&data, &hashes).map_err(|msg| SumdbError::DataTile {
            db: self.name.clone(),
            tile: t.path(),
            msg,
        })?;
        if from_net {
            self.store.put_doc(&key, data.clone()).await?;
        }
        Ok(data)
    }
}

impl Remote {
    async fn route(&self) -> Result<Route, SumdbError> {
        self.route
            .get_or_try_init(|| async {
                if self.has_explicit_url {
                    return Ok(Route::Direct);
                }
                // cmd/go sumdb.go initBase: the first proxy that answers
                // `supported` with 200 carries all checksum-database traffic.
                for (i, (up, fallback)) in self.upstreams.entries().enumerate() {
                    match up.get(&format!("sumdb/{}/supported", self.name)).await {
                        Ok(_) => {
                            tracing::debug!(db = %self.name, proxy = up.base(), "checksum database reached through proxy");
                            return Ok(Route::Proxy(i));
                        }
                        Err(e) if e.is_not_found() => continue,
                        Err(_) if matches!(fallback, Fallback::AnyError) => continue,
                        Err(source) => {
                            return Err(SumdbError::Upstream {
                                db: self.name.clone(),
                                source,
                            });
                        }
                    }
                }
                Ok(Route::Direct)
            })
            .await
            .copied()
    }

    /// GETs `rel` now, capped at `max` bytes.
    async fn fetch_now(&self, rel: &str, max: u64) -> Result<Bytes, FetchError> {
        let route = match self.route().await {
            Ok(r) => r,
            Err(SumdbError::Upstream { source, .. }) => return Err(source),
            Err(_) => Route::Direct,
        };
        let body = match route {
            Route::Proxy(i) => {
                let (up, _) = self
                    .upstreams
                    .entries()
                    .nth(i)
                    .unwrap_or_else(|| unreachable!("route index comes from the same list"));
                up.get(&format!("sumdb/{}/{rel}", self.name)).await?
            }
            Route::Direct => self.direct.get(rel).await?,
        };
        metrics::counter!("goward_upstream_requests_total", "kind" => "sumdb").increment(1);
        body.bytes(max).await
    }
}

/// `path version hash` with an `algo:` hash: what a go.sum reader would take.
fn looks_like_go_sum_line(line: &str) -> bool {
    let f: Vec<&str> = line.split_whitespace().collect();
    matches!(f.as_slice(), [_, _, hash] if hash
        .split_once(':')
        .is_some_and(|(algo, _)| !algo.is_empty()))
}

/// A data tile is each record's text followed by a blank line; record `i`
/// must hash to `leaves[i]`.
fn check_data_tile(data: &[u8], leaves: &[Hash]) -> Result<(), String> {
    let mut rest = data;
    for (i, leaf) in leaves.iter().enumerate() {
        let (text, after) =
            tlog::split_blank_line(rest).ok_or_else(|| format!("record {i} is truncated"))?;
        if tlog::record_hash(text) != *leaf {
            return Err(format!("record {i} does not match the signed tree"));
        }
        rest = after;
    }
    if !rest.is_empty() {
        return Err("trailing data after the last record".into());
    }
    Ok(())
}

#[cfg(test)]
#[allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
mod tests {
    use super::*;

    #[test]
    fn go_sum_shaped_note_lines_are_spotted() {
        assert!(looks_like_go_sum_line("example.com/m v1.0.0 h1:abc="));
        assert!(looks_like_go_sum_line("example.com/m v1.0.0/go.mod h2:x"));
        assert!(!looks_like_go_sum_line("timestamp 12345"));
        assert!(!looks_like_go_sum_line("a b c"));
        assert!(!looks_like_go_sum_line(""));
    }

    #[test]
    fn data_tile_checks_every_record() {
        let a = b"example.com/a v1.0.0 h1:x\n".to_vec();
        let b = b"example.com/b v1.0.0 h1:y\n".to_vec();
        let leaves = [tlog::record_hash(&a), tlog::record_hash(&b)];
        let mut tile = a.clone();
        tile.push(b'\n');
        tile.extend_from_slice(&b);
        tile.push(b'\n');
        assert_eq!(check_data_tile(&tile, &leaves), Ok(()));
        let mut forged = tile.clone();
        forged[15] ^= 1;
        assert_eq!(
            check_data_tile(&forged, &leaves),
            Err("record 0 does not match the signed tree".into())
        );
        assert_eq!(
            check_data_tile(&tile[..tile.len() - 1], &leaves),
            Err("record 1 is truncated".into())
        );
        let mut extra = tile.clone();
        extra.extend_from_slice(b"junk");
        assert_eq!(
            check_data_tile(&extra, &leaves),
            Err("trailing data after the last record".into())
        );
    }
}
