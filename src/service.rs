//! The one place where the stages are put in order:
//! request → cache → upstream → verify (zip rules, go.mod, `h1:`, checksum
//! database proof) → store → serve.
//!
//! Concurrent requests for the same uncached artifact share one fill (fetch,
//! verification, store), which runs as a task of its own ([`crate::flight`]):
//! it survives the disconnect of the client that started it, and failures
//! are shared with every waiter and never cached. Fills are bounded: at most
//! [`ServiceLimits::max_fills`] at once, and a zip's spool space is reserved
//! from [`ServiceLimits::spool_budget`] before its body is downloaded. The
//! download and the proof run together, and the first failure stops both.
//!
//! The policy is consulted on every request, before any cache: a denied
//! request never reaches the cache or an upstream, and a cached artifact is
//! served only while its recorded proofs satisfy what the policy in force
//! requires (otherwise it is proven again, or refused). Private paths are
//! fetched from their own route and never looked up in a checksum database.
//!
//! Offline ([`UpstreamMode::Offline`]) the upstream lists hold no client:
//! `@v/list` and `@latest` are answered from the versions the store holds,
//! and anything else the store lacks is [`ProxyError::NotInOfflineCache`].

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;

use crate::artifact::{ArtifactKind, ModulePath, ModuleVersion};
use crate::cache::read::{OnQuarantine, ReadError, VerifiedRead};
use crate::cache::recheck::Anchors;
use crate::cache::{
    ArtifactMeta, Created, DocKey, ProofRecord, RecordId, Rejected, Store, StoreError,
    StoredArtifact,
};
use crate::error::ProxyError;
use crate::flight::Flights;
use crate::policy::retract::ListLatest;
use crate::policy::{
    Decision, Policy, PolicyError, RequiredProof, SignatureRequirement, SignedMode,
    zip_proves_go_mod,
};
use crate::request::{RequestError, SumdbOp};
use crate::sumdb::SumdbClient;
use crate::upstream::{FetchErrorKind, Network, ProxyList, UpstreamMode};
use crate::verify::info::{self, MAX_INFO};
use crate::verify::proof::signature::kind::{GoModRefusal, SignatureFailure};
use crate::verify::proof::{EvidenceObjects, SignedArtifact, pinned, signature, sumdb};
use crate::verify::zip::{self as zipcheck, ZipLimits};
use crate::verify::{Proof, VerifiedMod, VerifiedZip, gomod};
use crate::xmod::note::Verifier;

/// How many zips may be prefetched at once.
const PREFETCH_LIMIT: usize = 8;

/// A failure shared between coalesced requests.
pub(crate) type Failure = Arc<ProxyError>;

/// Size caps and freshness settings for the service.
#[derive(Clone, Debug)]
pub(crate) struct ServiceLimits {
    /// Module zip rules and caps (500 MiB by default, as the go command).
    pub zip: ZipLimits,
    /// `@v/list` bodies.
    pub max_list: u64,
    /// How long `@v/list` and `@latest` answers are reused before asking
    /// upstream again; older copies are still served while upstream is down.
    pub list_ttl: Duration,
    /// Fills (fetch → verify → store of one artifact) running at once; more
    /// wait for a slot before they contact an upstream.
    pub max_fills: usize,
    /// Bytes of zips being downloaded and checked at once. A zip reserves its
    /// declared size (the zip limit when undeclared; the whole budget at
    /// most) before its body is read, so a burst of cold zips cannot fill
    /// the disk with spool files.
    pub spool_budget: u64,
    /// Bytes of `@v/list`, `@latest` and `.info` bodies kept in memory, a
    /// third for each: counted in bytes, not entries, since one list may be
    /// 4 MiB and a few hundred of them would otherwise hold gigabytes. A
    /// quarter of it again bounds the re-checked records kept (a record
    /// evicted is read and re-checked again on its next request).
    pub memory_cache_bytes: u64,
}

impl Default for ServiceLimits {
    fn default() -> Self {
        ServiceLimits {
            zip: ZipLimits::default(),
            max_list: 4 << 20,
            list_ttl: Duration::from_secs(60),
            max_fills: 64,
            spool_budget: 4 << 30,
            memory_cache_bytes: 64 << 20,
        }
    }
}

/// What a re-checked record held in memory weighs, about: its JSON size
/// (what the store read back), its key and a fixed overhead. Counted
/// without building the JSON.
fn record_weight(k: &ArtifactKey, v: &Arc<StoredArtifact>) -> u32 {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 = self.0.saturating_add(b.len());
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut n = Count(0);
    // Serializing plain strings and numbers into a counter cannot fail.
    let _ = serde_json::to_writer(&mut n, v.meta());
    let total =
        n.0.saturating_add(k.1.module.as_str().len())
            .saturating_add(k.1.version().len())
            .saturating_add(128);
    u32::try_from(total).unwrap_or(u32::MAX)
}

/// An in-memory document cache bounded by the bytes of its bodies (plus a
/// small per-entry overhead), with an optional time to live.
fn doc_cache<K>(max_bytes: u64, ttl: Option<Duration>) -> moka::future::Cache<K, Bytes>
where
    K: std::hash::Hash + Eq + Send + Sync + 'static,
{
    let b = moka::future::Cache::builder()
        .max_capacity(max_bytes)
        .weigher(|_: &K, v: &Bytes| u32::try_from(v.len() + 64).unwrap_or(u32::MAX));
    match ttl {
        Some(ttl) => b.time_to_live(ttl).build(),
        None => b.build(),
    }
}

type ArtifactKey = (ArtifactKind, ModuleVersion);

/// What a fill is for: loading (or fetching) an artifact, or proving a
/// cached one again because the policy now requires more.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum FillKey {
    Load(ArtifactKind, ModuleVersion),
    Reprove(ArtifactKind, ModuleVersion),
}

/// Spool budget unit: permits are KiB, so a `u32` reservation covers 4 TiB.
const SPOOL_UNIT: u64 = 1024;

/// Permits for `bytes` of spool space, rounded up, at least one.
fn spool_units(bytes: u64) -> usize {
    usize::try_from(bytes.div_ceil(SPOOL_UNIT).max(1))
        .unwrap_or(usize::MAX)
        .min(tokio::sync::Semaphore::MAX_PERMITS)
}

/// A loaded policy with the upstream lists of its private routes built
/// (credentials resolved once, at load).
#[derive(Debug)]
pub(crate) struct ActivePolicy {
    policy: Policy,
    routes: HashMap<String, Arc<ProxyList>>,
    /// When it was put in force (Unix seconds), for the operator's page.
    loaded_at: u64,
}

impl ActivePolicy {
    /// Builds every private route's upstream list, reading its secrets
    /// (offline: checking each list, reading no secret).
    pub(crate) fn new(policy: Policy, network: &Network) -> Result<ActivePolicy, String> {
        let mut routes = HashMap::new();
        for r in policy.private_routes() {
            let authorize = |url: &reqwest::Url| match &r.auth {
                Some(a) => {
                    crate::upstream::auth::authorization(a, url.host_str().unwrap_or_default())
                }
                None => Ok(None),
            };
            let list = network
                .proxy_list(&r.upstream, &authorize)
                .map_err(|e| format!("{}: private rule {:?}: {e}", policy.origin(), r.rule))?;
            routes.insert(r.rule.clone(), Arc::new(list));
        }
        Ok(ActivePolicy {
            policy,
            routes,
            loaded_at: unix_now(),
        })
    }

    /// `policy` with every private route reading `tree` (bundle import:
    /// the bundle is the only upstream, private modules included).
    pub(crate) fn over_tree(policy: Policy, tree: &Arc<ProxyList>) -> ActivePolicy {
        let routes = policy
            .private_routes()
            .map(|r| (r.rule.clone(), tree.clone()))
            .collect();
        ActivePolicy {
            policy,
            routes,
            loaded_at: unix_now(),
        }
    }

    /// The embedded default policy (no private routes).
    pub(crate) fn embedded_default() -> ActivePolicy {
        ActivePolicy {
            policy: Policy::embedded_default(),
            routes: HashMap::new(),
            loaded_at: unix_now(),
        }
    }

    /// The policy.
    pub(crate) fn policy(&self) -> &Policy {
        &self.policy
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Why a policy could not be (re)loaded.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PolicyLoadError {
    /// The file is unreadable or invalid (messages carry file:line:col).
    #[error("{0}")]
    Policy(#[from] PolicyError),
    /// A private route could not be set up (e.g. a missing secret).
    #[error("{0}")]
    Route(String),
    /// No policy file was configured.
    #[error("no policy file configured (--policy); the embedded default stays in force")]
    #[cfg_attr(windows, allow(dead_code))] // only SIGHUP (Unix) reloads
    NoFile,
}

/// Loads a policy file and builds its routes.
pub(crate) fn load_policy(
    path: &std::path::Path,
    network: &Network,
) -> Result<ActivePolicy, PolicyLoadError> {
    let policy = Policy::load(path)?;
    ActivePolicy::new(policy, network).map_err(PolicyLoadError::Route)
}

/// Where a reloadable policy comes from.
#[derive(Debug)]
struct PolicySource {
    path: PathBuf,
    /// The policy file's and its pin files' contents last acted on (loaded
    /// or rejected), for the watcher.
    last_seen: Mutex<Option<Vec<u8>>>,
}

/// The verifying proxy service.
#[derive(Debug)]
pub(crate) struct Service {
    /// How upstreams are reached (private routes are built from it on
    /// every policy reload); offline, `@v/list` and `@latest` come from the
    /// store.
    network: Network,
    upstreams: Arc<ProxyList>,
    store: Arc<dyn Store>,
    sumdbs: Vec<Arc<SumdbClient>>,
    /// The keys of `sumdbs`: trust anchors of the re-check of stored records.
    sumdb_keys: Vec<Verifier>,
    limits: ServiceLimits,
    artifacts: moka::future::Cache<ArtifactKey, Arc<StoredArtifact>>,
    /// Fills in progress, shared by every request that needs them.
    /// Each run's artifact, and whether the store already held it (a cache
    /// hit) rather than fetching it.
    fills: Flights<FillKey, (Arc<StoredArtifact>, bool), ProxyError>,
    /// Bounds concurrent fills ([`ServiceLimits::max_fills`]).
    fill_slots: tokio::sync::Semaphore,
    /// Spool space for zips in flight, in KiB ([`ServiceLimits::spool_budget`]).
    spool: tokio::sync::Semaphore,
    infos: moka::future::Cache<ModuleVersion, Bytes>,
    lists: moka::future::Cache<ModulePath, Bytes>,
    latests: moka::future::Cache<ModulePath, Bytes>,
    /// Bounds concurrent zip checks: each holds the zip's names and a
    /// hashing buffer, so memory stays flat under a burst of cold fetches.
    zip_checks: tokio::sync::Semaphore,
    /// Bounds background zip prefetches (see [`Service::prefetch`]).
    prefetches: Arc<tokio::sync::Semaphore>,
    /// The policy in force; swapped whole on reload.
    policy: RwLock<Arc<ActivePolicy>>,
    policy_source: Option<PolicySource>,
    /// Why the last reload was rejected, until one succeeds.
    reload_error: Mutex<Option<String>>,
    /// Bundle import: every required signature is read from the bundle
    /// ([`bundle_signature_path`] in the upstream tree), whatever
    /// location the rule names for live fetches.
    bundle_signatures: bool,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ProxyError> + Send + 'static,
) -> Result<T, ProxyError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ProxyError::Internal(format!("blocking task failed: {e}")))?
}

/// One unit of a gauge, held while a fill waits or runs; dropping it
/// (on any path, cancellation included) gives the unit back.
struct Gauge(&'static str);

impl Gauge {
    fn enter(name: &'static str) -> Gauge {
        metrics::gauge!(name).increment(1.0);
        Gauge(name)
    }
}

impl Drop for Gauge {
    fn drop(&mut self) {
        metrics::gauge!(self.0).decrement(1.0);
    }
}

/// Counts a cache lookup.
fn cache_metric(endpoint: &'static str, hit: bool) {
    crate::status::cache(hit);
    crate::metrics::note_cache(hit);
    let result = if hit { "hit" } else { "miss" };
    metrics::counter!("goward_cache_total", "endpoint" => endpoint, "result" => result)
        .increment(1);
}

impl Service {
    /// Builds the service. `sumdbs[0]` proves modules; every database in
    /// the list is served under `/sumdb/<name>/`.
    pub(crate) fn new(
        network: Network,
        upstreams: Arc<ProxyList>,
        store: Arc<dyn Store>,
        sumdbs: Vec<Arc<SumdbClient>>,
        limits: ServiceLimits,
    ) -> Service {
        let ttl = limits.list_ttl;
        Service {
            network,
            upstreams,
            store,
            sumdb_keys: sumdbs.iter().map(|c| c.verifier().clone()).collect(),
            sumdbs,
            artifacts: moka::future::Cache::builder()
                .max_capacity(limits.memory_cache_bytes / 4)
                .weigher(record_weight)
                .build(),
            fills: Flights::new("fill"),
            fill_slots: tokio::sync::Semaphore::new(limits.max_fills.max(1)),
            spool: tokio::sync::Semaphore::new(spool_units(limits.spool_budget)),
            infos: doc_cache(limits.memory_cache_bytes / 3, None),
            lists: doc_cache(limits.memory_cache_bytes / 3, Some(ttl)),
            latests: doc_cache(limits.memory_cache_bytes / 3, Some(ttl)),
            zip_checks: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get().max(2)),
            ),
            prefetches: Arc::new(tokio::sync::Semaphore::new(PREFETCH_LIMIT)),
            limits,
            policy: RwLock::new(Arc::new(ActivePolicy::embedded_default())),
            policy_source: None,
            reload_error: Mutex::new(None),
            bundle_signatures: false,
        }
    }

    /// Reads every required signature from the bundle the upstream tree
    /// is (bundle import): the inside's rule names where signatures live
    /// on its own network, but what is being proven is what the bundle
    /// carries, verified here under the inside's signers.
    pub(crate) fn with_bundle_signatures(mut self) -> Service {
        self.bundle_signatures = true;
        self
    }

    /// Puts `policy` in force; with `source`, [`Service::reload_policy`]
    /// and [`Service::watch_policy`] load that file again.
    pub(crate) fn with_policy(mut self, policy: ActivePolicy, source: Option<PathBuf>) -> Service {
        self.policy = RwLock::new(Arc::new(policy));
        self.policy_source = source.map(|path| PolicySource {
            path,
            last_seen: Mutex::new(None),
        });
        self.remember_files();
        self
    }

    /// The policy file's contents followed by those of the pin files of the
    /// policy in force; `None` if the policy file is unreadable.
    fn fingerprint(&self, src: &PolicySource) -> Option<Vec<u8>> {
        let mut fp = std::fs::read(&src.path).ok()?;
        for f in self.policy().policy.pin_files() {
            fp.extend_from_slice(b"\0");
            fp.extend_from_slice(&std::fs::read(&f).unwrap_or_default());
        }
        Some(fp)
    }

    /// Records the files as they are now, so the watcher reacts only to
    /// later changes.
    fn remember_files(&self) {
        if let Some(src) = &self.policy_source {
            let fp = self.fingerprint(src);
            *src.last_seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = fp;
        }
    }

    /// One watcher poll: reloads if the policy file or a pin file changed.
    fn poll_policy(&self) {
        let Some(src) = &self.policy_source else {
            return;
        };
        let Some(now) = self.fingerprint(src) else {
            return;
        };
        let seen = src
            .last_seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        if seen.as_deref() == Some(now.as_slice()) {
            return;
        }
        tracing::info!(target: "goward::policy", policy = %src.path.display(), "policy or pin file changed; reloading");
        let _ = self.reload_from(src, Some(now));
    }

    /// What the operator's page shows ([`crate::status`]).
    pub(crate) async fn status(&self) -> crate::status::Status {
        // The count is exact only once pending inserts are applied.
        self.artifacts.run_pending_tasks().await;
        let pol = self.policy();
        let (cache_hits, cache_misses, minutes, recent_refusals) = crate::status::snapshot();
        crate::status::Status {
            version: crate::metrics::VERSION,
            commit: crate::metrics::COMMIT,
            uptime_secs: crate::status::uptime_secs(),
            sumdbs: self.sumdbs.iter().map(|c| c.status()).collect(),
            policy: crate::status::PolicyStatus {
                origin: pol.policy.origin().to_owned(),
                loaded_at: pol.loaded_at,
                rules: pol.policy.rule_count(),
                last_reload_error: self
                    .reload_error
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone(),
            },
            upstream: self.upstreams.describe(),
            upstreams: crate::status::upstreams(),
            artifacts_in_memory: self.artifacts.entry_count(),
            cache_hits,
            cache_misses,
            minutes,
            recent_refusals,
        }
    }

    /// The policy in force.
    pub(crate) fn policy(&self) -> Arc<ActivePolicy> {
        self.policy
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Counts the store's records and blob bytes into the
    /// `goward_cache_artifacts` and `goward_cache_bytes` gauges now and
    /// every `every` (a listing, so not per request; `cache gc` run beside
    /// the server shows at the next count).
    pub(crate) fn watch_cache_size(self: &Arc<Self>, every: Duration) {
        let me = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match (me.store.list_records().await, me.store.list_blobs().await) {
                    (Ok(records), Ok(blobs)) => {
                        metrics::gauge!("goward_cache_artifacts").set(records.len() as f64);
                        let bytes: u64 = blobs.iter().map(|b| b.size).sum();
                        metrics::gauge!("goward_cache_bytes").set(bytes as f64);
                    }
                    (Err(e), _) | (_, Err(e)) => {
                        tracing::warn!("counting the cache for its size gauges: {e}");
                    }
                }
            }
        });
    }

    /// Loads the policy file again and puts it in force. An invalid policy
    /// is logged with its errors and the one in force stays; requests in
    /// flight finish under the policy they started with.
    #[cfg_attr(windows, allow(dead_code))] // only SIGHUP (Unix) calls it
    pub(crate) fn reload_policy(&self) -> Result<(), PolicyLoadError> {
        let src = self.policy_source.as_ref().ok_or(PolicyLoadError::NoFile)?;
        let before = self.fingerprint(src);
        self.reload_from(src, before)
    }

    /// Reloads and remembers the files as they were read *before* loading
    /// (`before`): a file changed while the policy was loading then differs
    /// from what is remembered, and the watcher reloads again instead of
    /// missing the change. If the reload changed which pin files the policy
    /// names, `before` covers the wrong files and they are read again.
    fn reload_from(
        &self,
        src: &PolicySource,
        before: Option<Vec<u8>>,
    ) -> Result<(), PolicyLoadError> {
        let files = self.policy().policy.pin_files();
        let r = self.apply_reload(src);
        if self.policy().policy.pin_files() == files {
            *src.last_seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = before;
        } else {
            self.remember_files();
        }
        r
    }

    fn apply_reload(&self, src: &PolicySource) -> Result<(), PolicyLoadError> {
        match load_policy(&src.path, &self.network) {
            Ok(active) => {
                let signed = !active.policy.signers().is_empty();
                let old = std::mem::replace(
                    &mut *self
                        .policy
                        .write()
                        .unwrap_or_else(std::sync::PoisonError::into_inner),
                    Arc::new(active),
                );
                // A signer's key or trust root may have changed under the
                // same name: artifacts in memory were proven with the old
                // one, so they are loaded and re-checked again.
                if signed || !old.policy.signers().is_empty() {
                    self.artifacts.invalidate_all();
                }
                // Routes may have changed: forget documents fetched under the old ones.
                self.lists.invalidate_all();
                self.latests.invalidate_all();
                self.infos.invalidate_all();
                *self
                    .reload_error
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
                metrics::counter!("goward_policy_reloads_total", "result" => "ok").increment(1);
                tracing::info!(target: "goward::policy", policy = %src.path.display(), "policy reloaded");
                Ok(())
            }
            Err(e) => {
                *self
                    .reload_error
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e.to_string());
                metrics::counter!("goward_policy_reloads_total", "result" => "rejected")
                    .increment(1);
                tracing::error!(target: "goward::policy", policy = %src.path.display(),
                    "new policy rejected; the previous policy stays in force:\n{e}");
                Err(e)
            }
        }
    }

    /// Polls the policy file and its pin files every `every` and reloads
    /// the policy when their contents change. Does nothing without a policy
    /// file.
    pub(crate) fn watch_policy(self: &Arc<Self>, every: Duration) {
        if self.policy_source.is_none() {
            return;
        }
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(svc) = weak.upgrade() else { return };
                let _ = tokio::task::spawn_blocking(move || svc.poll_policy()).await;
            }
        });
    }

    /// Logs and counts a decision; a denial becomes [`ProxyError::Denied`].
    fn enforce(
        &self,
        d: Decision,
        subject: &str,
        endpoint: &'static str,
    ) -> Result<Decision, ProxyError> {
        let decision = if d.allowed { "allow" } else { "deny" };
        metrics::counter!("goward_policy_decisions_total", "rule" => d.rule_label().to_owned(), "decision" => decision)
            .increment(1);
        tracing::info!(
            target: "goward::policy",
            subject,
            endpoint,
            rule = d.rule_label(),
            decision,
            private = d.private.as_ref().map(|r| r.rule.as_str()),
            reason = %d.reason,
            "policy decision"
        );
        if d.allowed {
            Ok(d)
        } else {
            Err(ProxyError::Denied { reason: d.reason })
        }
    }

    /// A checksum-database request for database `i` (`/sumdb/<name>/…`).
    /// Lookups go through the policy like every module request: a private
    /// path is never looked up in a public database, a denied module is
    /// refused, and the decision is logged and counted; tiles, `/latest`
    /// and `/supported` name no module.
    pub(crate) async fn sumdb(&self, i: usize, op: SumdbOp) -> Result<Bytes, Failure> {
        let db = self
            .sumdbs
            .get(i)
            .ok_or_else(|| Arc::new(ProxyError::Internal(format!("no checksum database #{i}"))))?;
        let plain = |e: crate::sumdb::SumdbError| Arc::new(ProxyError::Sumdb(Arc::new(e)));
        match op {
            SumdbOp::Supported => db.check_trusted().map(|()| Bytes::new()).map_err(plain),
            SumdbOp::Latest => db.latest().await.map_err(plain),
            SumdbOp::Tile(t) => db.tile(t).await.map_err(plain),
            SumdbOp::Lookup(m, v) => {
                if let Some(rule) = self.private_rule(m.as_str()) {
                    return Err(Arc::new(ProxyError::NotFound(
                        format!(
                            "{} is private (policy rule {rule:?}); goward never looks it up in a public checksum database",
                            m.as_str()
                        ),
                        404,
                    )));
                }
                let pol = self.policy();
                let subject = format!("{}@{v}", m.as_str());
                self.enforce(
                    pol.policy.decide(m.as_str(), Some(&v)),
                    &subject,
                    "sumdb_lookup",
                )?;
                db.lookup(m.as_str(), &v)
                    .await
                    .map_err(|e| Arc::new(ProxyError::Sumdb(e)))
            }
        }
    }

    /// The private rule that routes `module`, if any (the checksum-database
    /// proxy refuses lookups for such paths).
    pub(crate) fn private_rule(&self, module: &str) -> Option<String> {
        self.policy()
            .policy
            .decide(module, None)
            .private
            .map(|r| r.rule)
    }

    /// The upstream list a decision routes to: its private route, else the
    /// public list.
    fn route(&self, pol: &ActivePolicy, d: &Decision) -> Result<Arc<ProxyList>, ProxyError> {
        match &d.private {
            Some(r) => pol.routes.get(&r.rule).cloned().ok_or_else(|| {
                ProxyError::Internal(format!("private rule {:?} has no upstream list", r.rule))
            }),
            None => Ok(self.upstreams.clone()),
        }
    }

    /// Decides a concrete version's artifact (or `.info` with `kind` None),
    /// including the retraction check.
    async fn decide_version(
        self: &Arc<Self>,
        pol: &Arc<ActivePolicy>,
        mv: &ModuleVersion,
        kind: Option<ArtifactKind>,
    ) -> Result<Decision, Failure> {
        let (m, v) = (mv.module.as_str(), mv.version());
        let (d, endpoint) = match kind {
            Some(k) => (
                pol.policy.decide_artifact(m, v, k),
                if k == ArtifactKind::Zip { "zip" } else { "mod" },
            ),
            None => (pol.policy.decide(m, Some(v)), "info"),
        };
        let d = self.enforce(d, &mv.to_string(), endpoint)?;
        if d.deny_retracted {
            self.check_retracted(pol, mv, &d).await?;
        }
        Ok(d)
    }

    /// Denies `mv` if the go.mod of its module's latest version retracts it.
    /// That go.mod is fetched through the verified path; if it cannot be had,
    /// the request fails (never served unchecked).
    ///
    /// Under a rule whose go.mod proof is a signature alone, proving the
    /// latest go.mod needs the latest zip (once; it stays cached), and that
    /// cost must not be avoided with an unproven go.mod: an upstream could
    /// then hide a retraction by serving a go.mod without it. In zip mode
    /// the signature covers only the zip's bytes (their SHA-256: the whole
    /// zip must be read); in gosum mode the signed lines name the zip's
    /// `h1:`, which only the zip gives. Where the rule proves go.mods
    /// otherwise (sumdb, pinned) no zip is fetched, and the requested
    /// version's own zip never is: a retracted one is denied first.
    async fn check_retracted(
        self: &Arc<Self>,
        pol: &Arc<ActivePolicy>,
        mv: &ModuleVersion,
        d: &Decision,
    ) -> Result<(), Failure> {
        let cannot = |why: String| {
            Arc::new(ProxyError::Unproven {
                target: mv.to_string(),
                msg: format!("cannot check retractions (deny_retracted): {why}"),
            })
        };
        // Any failure is final (502), never a 404 the client would fall
        // through on to a source that does not check retractions.
        let fail = |e: Failure| match &*e {
            ProxyError::Denied { .. } | ProxyError::NotInOfflineCache { .. } => e,
            other => cannot(other.to_string()),
        };
        // The go.mod of `version`, if the policy lets it be read.
        let go_mod = |version: String| async move {
            let lmv = ModuleVersion::new(mv.module.clone(), &version)
                .map_err(|e| cannot(e.to_string()))?;
            let ld =
                pol.policy
                    .decide_artifact(lmv.module.as_str(), lmv.version(), ArtifactKind::Mod);
            if !ld.allowed {
                return Err(cannot(format!(
                    "the go.mod of the latest version {version} is denied by the policy"
                )));
            }
            let text = self.read_mod(&lmv, pol, &ld).await.map_err(fail)?;
            Ok((lmv, text))
        };
        let version = match self.latest_decided(pol, &mv.module).await {
            Ok(latest) => info::check_info(&latest, None).map_err(|e| cannot(e.to_string()))?,
            // No `@latest` (a `file://` mirror made by `go mod download`, some
            // proxies): derived from `@v/list`, as the go command does.
            Err(e)
                if matches!(
                    &*e,
                    ProxyError::NotFound(..) | ProxyError::NotInOfflineCache { .. }
                ) =>
            {
                let list = self.list_decided(pol, &mv.module).await.map_err(fail)?;
                match crate::policy::retract::latest_from_list(&String::from_utf8_lossy(&list)) {
                    ListLatest::Version(v) | ListLatest::Pseudo(v) => v,
                    ListLatest::IfGoMod {
                        compatible,
                        with_go_mod,
                        without,
                    } => {
                        // cmd/go `LegacyGoMod`: what a version without go.mod gets.
                        let legacy = format!("module {}\n", mv.module.as_str());
                        let (_, text) = go_mod(compatible).await?;
                        if text == legacy.as_bytes() {
                            without
                        } else {
                            with_go_mod
                        }
                    }
                    ListLatest::None => {
                        return Err(cannot(format!(
                            "the upstream has no @latest and no version in @v/list: {e}"
                        )));
                    }
                }
            }
            Err(e) => return Err(fail(e)),
        };
        let (lmv, text) = go_mod(version).await?;
        let list = crate::policy::retract::retractions(&String::from_utf8_lossy(&text))
            .map_err(|e| cannot(format!("go.mod of {lmv}: {e}")))?;
        if let Some(r) = crate::policy::retract::retracted(&list, mv.version()) {
            let by = match &d.rule {
                Some(rule) => format!("denied by policy rule {rule:?}"),
                None => "denied by policy (deny_retracted)".to_owned(),
            };
            let why = if r.rationale.is_empty() {
                String::new()
            } else {
                format!(": {}", r.rationale)
            };
            metrics::counter!("goward_policy_decisions_total", "rule" => d.rule_label().to_owned(), "decision" => "deny_retracted")
                .increment(1);
            tracing::info!(target: "goward::policy", subject = %mv, rule = d.rule_label(), decision = "deny", "retracted by {lmv}");
            return Err(Arc::new(ProxyError::Denied {
                reason: format!("{by}: {mv} is retracted by its author{why}"),
            }));
        }
        Ok(())
    }

    /// The configured checksum databases.
    pub(crate) fn sumdbs(&self) -> &[Arc<SumdbClient>] {
        &self.sumdbs
    }

    /// Whether the service can prove new artifacts (for `/readyz`).
    pub(crate) fn ready(&self) -> Result<(), String> {
        for db in &self.sumdbs {
            db.check_trusted().map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// The store, for commands that read it directly (`verify-toolchain`).
    pub(crate) fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// GETs a small upstream body; `what` names it if offline.
    async fn fetch_small(
        &self,
        ups: &ProxyList,
        rel: &str,
        max: u64,
        what: &str,
    ) -> Result<Bytes, ProxyError> {
        let (body, _) = ups.get(rel).await.map_err(|e| upstream_error(e, what))?;
        metrics::counter!("goward_upstream_requests_total", "kind" => "proxy").increment(1);
        body.bytes(max).await.map_err(|e| upstream_error(e, what))
    }

    /// Whether only the cache answers.
    pub(crate) fn mode(&self) -> UpstreamMode {
        self.network.mode()
    }

    /// Offline `@v/list`: the versions the store holds a record for (the
    /// go command filters and sorts it again).
    async fn offline_list(&self, m: &ModulePath) -> Result<Bytes, ProxyError> {
        let mut versions = self.store.versions(m.as_str()).await?;
        if versions.is_empty() {
            return Err(ProxyError::NotInOfflineCache {
                what: format!("{} @v/list", m.as_str()),
            });
        }
        crate::xmod::semver::sort(&mut versions);
        versions.dedup();
        Ok(Bytes::from(
            versions
                .iter()
                .map(|v| format!("{v}\n"))
                .collect::<String>(),
        ))
    }

    /// Offline `@latest`: the stored `.info` of the version the go command
    /// would pick from [`Service::offline_list`].
    async fn offline_latest(&self, m: &ModulePath) -> Result<Bytes, ProxyError> {
        let missing = || ProxyError::NotInOfflineCache {
            what: format!("{} @latest", m.as_str()),
        };
        let list = self.offline_list(m).await.map_err(|_| missing())?;
        let version =
            match crate::policy::retract::latest_from_list(&String::from_utf8_lossy(&list)) {
                ListLatest::Version(v) | ListLatest::Pseudo(v) => v,
                ListLatest::IfGoMod { with_go_mod, .. } => with_go_mod,
                ListLatest::None => return Err(missing()),
            };
        let mv = ModuleVersion::new(m.clone(), &version).map_err(RequestError::from)?;
        self.stored_info(&mv).await?.ok_or_else(missing)
    }

    /// `@v/list`: refreshed after the TTL; the last good copy is served when
    /// every upstream fails (with a warning), so an outage does not stop builds.
    pub(crate) async fn list(self: &Arc<Self>, m: &ModulePath) -> Result<Bytes, Failure> {
        let pol = self.policy();
        self.list_decided(&pol, m).await
    }

    async fn list_decided(&self, pol: &ActivePolicy, m: &ModulePath) -> Result<Bytes, Failure> {
        let d = self.enforce(pol.policy.decide(m.as_str(), None), m.as_str(), "list")?;
        if self.mode() == UpstreamMode::Offline {
            return Ok(self.offline_list(m).await?);
        }
        let ups = self.route(pol, &d)?;
        self.lists
            .try_get_with(
                m.clone(),
                self.refresh_doc(
                    &ups,
                    DocKey::List(m.escaped().to_owned()),
                    format!("{}/@v/list", m.escaped()),
                ),
            )
            .await
    }

    /// `@latest`, with the same freshness rules as `list`.
    pub(crate) async fn latest(self: &Arc<Self>, m: &ModulePath) -> Result<Bytes, Failure> {
        let pol = self.policy();
        self.latest_decided(&pol, m).await
    }

    async fn latest_decided(
        self: &Arc<Self>,
        pol: &ActivePolicy,
        m: &ModulePath,
    ) -> Result<Bytes, Failure> {
        let d = self.enforce(pol.policy.decide(m.as_str(), None), m.as_str(), "latest")?;
        if self.mode() == UpstreamMode::Offline {
            return Ok(self.offline_latest(m).await?);
        }
        let ups = self.route(pol, &d)?;
        self.latests
            .try_get_with(
                m.clone(),
                self.refresh_doc(
                    &ups,
                    DocKey::Latest(m.escaped().to_owned()),
                    format!("{}/@latest", m.escaped()),
                ),
            )
            .await
    }

    async fn refresh_doc(
        &self,
        ups: &ProxyList,
        key: DocKey,
        rel: String,
    ) -> Result<Bytes, ProxyError> {
        let is_list = matches!(key, DocKey::List(_));
        let max = if is_list {
            self.limits.max_list
        } else {
            MAX_INFO
        };
        let fresh = self.fetch_small(ups, &rel, max, &rel).await.and_then(|b| {
            if is_list {
                Ok(sanitize_list(&b))
            } else {
                info::check_info(&b, None).map_err(|source| ProxyError::Info {
                    target: rel.clone(),
                    source,
                })?;
                Ok(b)
            }
        });
        match fresh {
            Ok(b) => {
                self.store.put_doc(&key, b.clone()).await?;
                Ok(b)
            }
            Err(e @ ProxyError::NotFound(..)) => Err(e),
            Err(e) => {
                // Re-validated on read: the file is not fsynced (see DiskStore).
                let stale = self
                    .store
                    .get_doc(&key)
                    .await?
                    .filter(|b| is_list || info::check_info(b, None).is_ok())
                    .map(|b| if is_list { sanitize_list(&b) } else { b });
                match stale {
                    Some(stale) => {
                        tracing::warn!(path = %rel, error = %e, "every upstream failed; serving the last good copy");
                        metrics::counter!("goward_stale_served_total").increment(1);
                        Ok(stale)
                    }
                    None => Err(e),
                }
            }
        }
    }

    /// `.info` for a canonical version: validated (it must name exactly the
    /// requested version) and kept.
    pub(crate) async fn info(self: &Arc<Self>, mv: &ModuleVersion) -> Result<Bytes, Failure> {
        let pol = self.policy();
        let d = self.decide_version(&pol, mv, None).await?;
        let ups = self.route(&pol, &d)?;
        if let Some(b) = self.infos.get(mv).await {
            cache_metric("info", true);
            return Ok(b);
        }
        self.infos
            .try_get_with(mv.clone(), async {
                if let Some(b) = self.stored_info(mv).await? {
                    cache_metric("info", true);
                    return Ok(b);
                }
                let key = DocKey::Info(
                    mv.module.escaped().to_owned(),
                    mv.escaped_version().to_owned(),
                );
                cache_metric("info", false);
                let b = self
                    .fetch_small(
                        &ups,
                        &mv.upstream_path("info"),
                        MAX_INFO,
                        &format!("{mv} .info"),
                    )
                    .await?;
                info::check_info(&b, Some(mv.version())).map_err(|source| ProxyError::Info {
                    target: mv.to_string(),
                    source,
                })?;
                self.store.put_doc(&key, b.clone()).await?;
                Ok(b)
            })
            .await
    }

    /// The stored `.info` of `mv`, if valid: re-validated on read, since the
    /// file is not fsynced (see DiskStore).
    async fn stored_info(&self, mv: &ModuleVersion) -> Result<Option<Bytes>, ProxyError> {
        let key = DocKey::Info(
            mv.module.escaped().to_owned(),
            mv.escaped_version().to_owned(),
        );
        // Re-validated on read: the file is not fsynced (see DiskStore).
        let b = self.store.get_doc(&key).await?;
        Ok(b.filter(|b| info::check_info(b, Some(mv.version())).is_ok()))
    }

    /// `.info` for a query such as a branch name: validated, not cached.
    /// The policy decides the module first, then the version it resolves to.
    pub(crate) async fn info_query(
        self: &Arc<Self>,
        m: &ModulePath,
        query: &str,
    ) -> Result<Bytes, Failure> {
        let pol = self.policy();
        let d = self.enforce(pol.policy.decide(m.as_str(), None), m.as_str(), "info")?;
        let ups = self.route(&pol, &d)?;
        let ev = crate::xmod::module::escape_version(query)
            .map_err(|e| Arc::new(ProxyError::Internal(e.to_string())))?;
        let b = self
            .fetch_small(
                &ups,
                &format!("{}/@v/{ev}.info", m.escaped()),
                MAX_INFO,
                &format!("{}@{query} .info", m.as_str()),
            )
            .await?;
        let version = info::check_info(&b, None).map_err(|source| ProxyError::Info {
            target: format!("{}@{query}", m.as_str()),
            source,
        })?;
        let mv = ModuleVersion::new(m.clone(), &version)
            .map_err(|e| Arc::new(RequestError::from(e).into()))?;
        self.decide_version(&pol, &mv, None).await?;
        Ok(b)
    }

    /// The go.mod of a version: proven before it was stored, and its digest
    /// re-checked on every read. A corrupted copy is quarantined and the
    /// version fetched and proven again.
    pub(crate) async fn go_mod(self: &Arc<Self>, mv: &ModuleVersion) -> Result<Bytes, Failure> {
        let pol = self.policy();
        let d = self
            .decide_version(&pol, mv, Some(ArtifactKind::Mod))
            .await?;
        self.read_mod(mv, &pol, &d).await
    }

    /// Reads a go.mod under an allowed decision.
    async fn read_mod(
        self: &Arc<Self>,
        mv: &ModuleVersion,
        pol: &Arc<ActivePolicy>,
        d: &Decision,
    ) -> Result<Bytes, Failure> {
        for _ in 0..2 {
            let artifact = self.artifact(ArtifactKind::Mod, mv, pol, d).await?;
            let read = match self.open_blob(artifact).await {
                Ok(r) => r.read_all().await,
                Err(e) => Err(e),
            };
            match read {
                Ok(b) => return Ok(b),
                // Quarantined: fetch and prove it again.
                Err(ReadError::Quarantined(_)) => {}
                Err(e) => return Err(read_failure(mv, e)),
            }
        }
        Err(Arc::new(ProxyError::Internal(format!(
            "{mv}: go.mod failed its digest check twice in a row"
        ))))
    }

    /// Starts fetching and proving the zip (and `.info`) of a version whose
    /// go.mod was just served, unless cached or too many prefetches run.
    /// The go command loads the whole graph's go.mod files first and asks
    /// for the zips afterwards, so by then they are proven (Athens likewise
    /// fetches a version whole). Failures are left for the real request to
    /// report.
    pub(crate) fn prefetch(self: &Arc<Self>, mv: &ModuleVersion) {
        let need_zip = !self
            .artifacts
            .contains_key(&(ArtifactKind::Zip, mv.clone()));
        let need_info = !self.infos.contains_key(mv);
        if !need_zip && !need_info {
            return;
        }
        let Ok(permit) = self.prefetches.clone().try_acquire_owned() else {
            return;
        };
        let (svc, mv) = (self.clone(), mv.clone());
        tokio::spawn(async move {
            let zip = async {
                if need_zip && let Err(e) = svc.zip(&mv).await {
                    tracing::debug!(subject = %mv, "zip prefetch: {e}");
                }
            };
            let info = async {
                if need_info && let Err(e) = svc.info(&mv).await {
                    tracing::debug!(subject = %mv, "info prefetch: {e}");
                }
            };
            tokio::join!(zip, info);
            drop(permit);
        });
    }

    /// A proven zip; the caller reads it with [`Service::open_zip`].
    pub(crate) async fn zip(
        self: &Arc<Self>,
        mv: &ModuleVersion,
    ) -> Result<Arc<StoredArtifact>, Failure> {
        let pol = self.policy();
        let d = self
            .decide_version(&pol, mv, Some(ArtifactKind::Zip))
            .await?;
        self.artifact(ArtifactKind::Zip, mv, &pol, &d).await
    }

    /// Opens a proven zip for a verifying read ([`crate::cache::read`]); a
    /// blob that cannot be opened is quarantined and the version fetched
    /// and proven again, once.
    pub(crate) async fn open_zip(
        self: &Arc<Self>,
        mv: &ModuleVersion,
    ) -> Result<VerifiedRead, Failure> {
        for _ in 0..2 {
            let artifact = self.zip(mv).await?;
            match self.open_blob(artifact).await {
                Ok(r) => return Ok(r),
                Err(ReadError::Quarantined(_)) => {}
                Err(e) => return Err(read_failure(mv, e)),
            }
        }
        Err(Arc::new(ProxyError::Internal(format!(
            "{mv}: cached zip is unreadable"
        ))))
    }

    /// A verified copy of a proven zip in a local, seekable spool file (for
    /// reading its entries): the bytes are copied through the verifying
    /// read, so the copy is complete only if its digest matched. `Ok(Err)`:
    /// the stored blob failed and was quarantined.
    pub(crate) async fn zip_copy(
        self: &Arc<Self>,
        mv: &ModuleVersion,
    ) -> Result<Result<std::fs::File, ReadError>, Failure> {
        let blob = self.open_zip(mv).await?;
        let spool = self.store.spool().await.map_err(|e| Arc::new(e.into()))?;
        let io = |e: std::io::Error| {
            Arc::new(ProxyError::Store(StoreError::io("open", spool.path(), e)))
        };
        let mut file = tokio::fs::File::from_std(spool.reopen().map_err(io)?);
        if let Err(e) = blob.copy_to(&mut file).await {
            return Ok(Err(e));
        }
        drop(file);
        // The spool file's name goes when `spool` drops; the handle stays.
        spool.reopen().map(Ok).map_err(io)
    }

    /// Opens an artifact's blob for a verifying read whose quarantine also
    /// makes this service forget the artifact.
    async fn open_blob(
        self: &Arc<Self>,
        artifact: Arc<StoredArtifact>,
    ) -> Result<VerifiedRead, ReadError> {
        VerifiedRead::open(self.store(), artifact.clone(), Some(self.forget(&artifact))).await
    }

    /// A hook that drops `artifact` from memory, so the next request loads
    /// or fetches it again.
    fn forget(self: &Arc<Self>, artifact: &StoredArtifact) -> OnQuarantine {
        let svc = Arc::downgrade(self);
        let key = ModulePath::new(&artifact.module)
            .and_then(|m| ModuleVersion::new(m, &artifact.version))
            .ok()
            .map(|mv| (artifact.kind, mv));
        Box::new(move || {
            Box::pin(async move {
                if let (Some(svc), Some(key)) = (svc.upgrade(), key) {
                    svc.artifacts.invalidate(&key).await;
                }
            })
        })
    }

    /// A stored artifact, or fetch → verify → store, under an allowed
    /// decision. Every waiter shares one run; an artifact proven by a
    /// database that has since been found forked is refused, and one whose
    /// recorded proofs do not satisfy the decision is proven again (or
    /// refused), never served.
    async fn artifact(
        self: &Arc<Self>,
        kind: ArtifactKind,
        mv: &ModuleVersion,
        pol: &Arc<ActivePolicy>,
        d: &Decision,
    ) -> Result<Arc<StoredArtifact>, Failure> {
        let endpoint = if kind == ArtifactKind::Zip {
            "zip"
        } else {
            "mod"
        };
        let key = (kind, mv.clone());
        let meta = match self.artifacts.get(&key).await {
            Some(m) => {
                cache_metric(endpoint, true);
                m
            }
            None => {
                let (svc, mv, pol, d) = (self.clone(), mv.clone(), pol.clone(), d.clone());
                let (meta, hit) = self
                    .fills
                    .join(FillKey::Load(kind, mv.clone()), move || async move {
                        svc.load_or_fill(kind, endpoint, &mv, &pol, &d).await
                    })
                    .await?;
                // Counted once per run (in `load_or_fill`); every joined
                // request's access line says what its run did.
                crate::metrics::note_cache(hit);
                meta
            }
        };
        let meta = match self.satisfies(&meta, pol, d) {
            Ok(()) => meta,
            Err(why) => {
                tracing::info!(module = %mv.module.as_str(), version = %mv.version(), kind = kind.as_str(),
                    "cached copy lacks a proof the policy now requires ({why}); proving it again");
                self.artifacts.invalidate(&key).await;
                let (svc, mv2, pol2, d2) = (self.clone(), mv.clone(), pol.clone(), d.clone());
                let (fresh, _) = self
                    .fills
                    .join(FillKey::Reprove(kind, mv.clone()), move || async move {
                        let fresh = Arc::new(svc.fill_proven(kind, &mv2, &pol2, &d2).await?);
                        if svc.satisfies(&fresh, &pol2, &d2).is_ok() {
                            svc.artifacts.insert((kind, mv2), fresh.clone()).await;
                        }
                        Ok((fresh, false))
                    })
                    .await?;
                crate::metrics::note_cache(false);
                // Joined runs may have started under another policy: check
                // the result against this request's decision.
                self.satisfies(&fresh, pol, d)
                    .map_err(|msg| ProxyError::Unproven {
                        target: format!("{mv} {}", kind.as_str()),
                        msg,
                    })?;
                fresh
            }
        };
        for db in meta.proofs.iter().filter_map(ProofRecord::db) {
            if let Some(client) = self.sumdbs.iter().find(|c| c.name() == db) {
                client.check_trusted().map_err(|e| ProxyError::Proof {
                    target: mv.to_string(),
                    source: Arc::new(e),
                })?;
            }
        }
        Ok(meta)
    }

    /// The body of a [`FillKey::Load`] run: the stored record, or a fill,
    /// remembered for the next request either way.
    async fn load_or_fill(
        self: &Arc<Self>,
        kind: ArtifactKind,
        endpoint: &'static str,
        mv: &ModuleVersion,
        pol: &Arc<ActivePolicy>,
        d: &Decision,
    ) -> Result<(Arc<StoredArtifact>, bool), Failure> {
        let id = RecordId::new(kind, mv.module.as_str(), mv.version());
        let stored = match self
            .store
            .record(&id)
            .await
            .map_err(|e| Arc::new(e.into()))?
        {
            Some(meta) => self.recheck_loaded(mv, meta, pol).await?,
            None => None,
        };
        let stored = match stored {
            Some(m) => Some(m),
            None => self.after_peer_fill(&id, mv, pol).await?,
        };
        let hit = stored.is_some();
        let meta = match stored {
            Some(meta) => {
                cache_metric(endpoint, true);
                Arc::new(meta)
            }
            None => {
                cache_metric(endpoint, false);
                let filled = self.fill_proven(kind, mv, pol, d).await;
                if self.mode() == UpstreamMode::Online {
                    // Released after the answer: replicas waiting on the
                    // lease look for the record, which is already there.
                    let (store, mv) = (self.store.clone(), mv.clone());
                    tokio::spawn(async move {
                        if let Err(e) = store.end_fill(&id).await {
                            tracing::warn!(module = %mv.module.as_str(), version = mv.version(), "releasing the fill lease: {e}");
                        }
                    });
                }
                let meta = filled?;
                tracing::info!(module = %meta.module, version = %meta.version, kind = kind.as_str(), h1 = %meta.h1, "verified and stored");
                Arc::new(meta)
            }
        };
        self.artifacts
            .insert((kind, mv.clone()), meta.clone())
            .await;
        Ok((meta, hit))
    }

    /// Takes the store's fill lease before a fetch ([`Store::begin_fill`]):
    /// if another replica sharing the store fetched the version meanwhile,
    /// its record is read and re-checked like any stored one. A lease that
    /// cannot be taken only costs a duplicate fetch.
    async fn after_peer_fill(
        &self,
        id: &RecordId,
        mv: &ModuleVersion,
        pol: &ActivePolicy,
    ) -> Result<Option<StoredArtifact>, ProxyError> {
        if self.mode() != UpstreamMode::Online {
            return Ok(None);
        }
        match self.store.begin_fill(id).await {
            Ok(true) => {}
            Ok(false) => return Ok(None),
            Err(e) => {
                tracing::warn!(module = %mv.module.as_str(), version = mv.version(), "no fill lease, fetching anyway: {e}");
                return Ok(None);
            }
        }
        match self.store.record(id).await? {
            Some(meta) => self.recheck_loaded(mv, meta, pol).await,
            None => Ok(None),
        }
    }

    /// [`Service::fill`], after proving what the artifact's proof builds
    /// on: a go.mod proven by a signature ([`Decision::go_mod_signature`]) is proven
    /// through its zip (signed go.sum lines name the zip's `h1:`; a signed
    /// zip holds the go.mod), so the zip is proven (fetched if need be)
    /// first, outside the fill slot this fill then takes.
    async fn fill_proven(
        self: &Arc<Self>,
        kind: ArtifactKind,
        mv: &ModuleVersion,
        pol: &Arc<ActivePolicy>,
        d: &Decision,
    ) -> Result<StoredArtifact, Failure> {
        let zip = if kind == ArtifactKind::Mod && d.go_mod_signature().is_some() {
            Some(self.proven_zip(mv, pol, d).await?)
        } else {
            None
        };
        Ok(self.fill(kind, mv, pol, d, zip.as_deref()).await?)
    }

    /// The zip that proves a go.mod decided by `mod_d` ([`Decision::go_mod_signature`]):
    /// [`Service::artifact`] for the zip, decided as one, boxed as `Send`
    /// (`artifact` reaches [`Service::fill_proven`] again, and a recursive
    /// future's type must be named).
    ///
    /// Decided without the retraction check: this zip is the go.mod's
    /// proof, not served here (a request for the zip makes its own decision,
    /// check included), and the check itself reads the latest go.mod, proven
    /// through this very zip: checking here would wait on itself.
    ///
    /// The zip's rule must require the signature the go.mod's rule proves it
    /// with (same mode, signers the go.mod's rule accepts); otherwise the
    /// go.mod is refused (502) naming both rules.
    fn proven_zip(
        self: &Arc<Self>,
        mv: &ModuleVersion,
        pol: &Arc<ActivePolicy>,
        mod_d: &Decision,
    ) -> std::pin::Pin<
        Box<dyn Future<Output = Result<Arc<StoredArtifact>, Failure>> + Send + 'static>,
    > {
        let (svc, mv, pol, mod_d) = (self.clone(), mv.clone(), pol.clone(), mod_d.clone());
        Box::pin(async move {
            let zd =
                pol.policy
                    .decide_artifact(mv.module.as_str(), mv.version(), ArtifactKind::Zip);
            let zd = svc.enforce(zd, &mv.to_string(), "zip")?;
            zip_proves_go_mod(&mod_d, &zd).map_err(|msg| ProxyError::Unproven {
                target: format!("{mv} .mod"),
                msg,
            })?;
            svc.artifact(ArtifactKind::Zip, &mv, &pol, &zd).await
        })
    }

    /// Fetch → verify → store, in one of the [`ServiceLimits::max_fills`]
    /// slots. `zip`: the version's proven zip, for a go.mod under signed
    /// go.sum lines.
    async fn fill(
        &self,
        kind: ArtifactKind,
        mv: &ModuleVersion,
        pol: &Arc<ActivePolicy>,
        d: &Decision,
        zip: Option<&StoredArtifact>,
    ) -> Result<StoredArtifact, ProxyError> {
        let waiting = Gauge::enter("goward_fills_waiting");
        let _slot = self
            .fill_slots
            .acquire()
            .await
            .map_err(|e| ProxyError::Internal(e.to_string()))?;
        drop(waiting);
        let _running = Gauge::enter("goward_fills_running");
        let meta = match kind {
            ArtifactKind::Zip => self.fetch_zip(mv, pol, d).await,
            ArtifactKind::Mod => self.fetch_mod(mv, pol, d, zip).await,
        }?;
        crate::audit::proven(&meta, d.rule.as_deref());
        Ok(meta)
    }

    /// Re-checks a record read from the store before this process serves it
    /// ([`crate::cache::recheck`], as `goward cache verify` does): about
    /// exactly `mv`, its blob's SHA-256 and `h1:` as recorded (so it cannot
    /// name another version's blob), every proof re-checked offline. Runs
    /// once per record per process: the record then stays in memory. One
    /// that fails is quarantined (with its blob if the bytes are damaged)
    /// and `None` returned, so the version is fetched and proven again.
    async fn recheck_loaded(
        &self,
        mv: &ModuleVersion,
        meta: ArtifactMeta,
        pol: &ActivePolicy,
    ) -> Result<Option<StoredArtifact>, ProxyError> {
        // A large zip is read whole: bounded like a fresh zip check.
        let _permit = if meta.size <= crate::cache::SMALL_IO {
            None
        } else {
            Some(
                self.zip_checks
                    .acquire()
                    .await
                    .map_err(|e| ProxyError::Internal(e.to_string()))?,
            )
        };
        let anchors = Anchors {
            sumdb_keys: &self.sumdb_keys,
            policy: &pol.policy,
        };
        let want = (meta.kind, mv.module.as_str(), mv.version());
        let rejected = match crate::cache::recheck(
            &*self.store,
            meta,
            want,
            &self.limits.zip,
            &anchors,
        )
        .await?
        {
            Ok((artifact, r)) => {
                for why in r.unanchored {
                    tracing::debug!(subject = %mv, kind = artifact.kind.as_str(), "stored evidence not checked: {why}");
                }
                return Ok(Some(artifact));
            }
            Err(rejected) => rejected,
        };
        let Rejected { meta, error: e } = *rejected;
        metrics::counter!("goward_verification_failures_total", "reason" => e.reason())
            .increment(1);
        let why = format!("cached record failed its re-check: {e}");
        if e.what() == "blob" {
            self.store.quarantine(&meta, &why).await?;
        } else {
            self.store.quarantine_record(&meta, &why).await?;
        }
        Ok(None)
    }

    /// Re-checks the stored record of `mv`'s `kind` as a later read will
    /// ([`crate::cache::recheck`] under the policy in force), without
    /// quarantining: bundle import runs it on what it is about to land, so
    /// a record the inside would refuse on read is refused before it lands.
    /// `Ok(false)`: no record.
    pub(crate) async fn recheck_stored(
        &self,
        kind: ArtifactKind,
        mv: &ModuleVersion,
    ) -> Result<bool, String> {
        let id = RecordId::new(kind, mv.module.as_str(), mv.version());
        let Some(meta) = self.store.record(&id).await.map_err(|e| e.to_string())? else {
            return Ok(false);
        };
        let pol = self.policy();
        let anchors = Anchors {
            sumdb_keys: &self.sumdb_keys,
            policy: &pol.policy,
        };
        let want = (kind, mv.module.as_str(), mv.version());
        crate::cache::recheck(&*self.store, meta, want, &self.limits.zip, &anchors)
            .await
            .map_err(|e| format!("{mv}: reading the {} back: {e}", kind.as_str()))?
            .map(|_| true)
            .map_err(|r| {
                format!(
                    "{mv}: the {} as it would land fails its re-check: {}",
                    kind.as_str(),
                    r.error
                )
            })
    }

    /// Whether the proofs recorded for a stored artifact satisfy every
    /// proof `d` requires under the policy in force, each requirement's
    /// kind deciding ([`Policy::satisfied`]), with the first configured
    /// checksum database the one that proves modules.
    fn satisfies(
        &self,
        meta: &ArtifactMeta,
        pol: &ActivePolicy,
        d: &Decision,
    ) -> Result<(), String> {
        let primary = self.sumdbs.first().map(|c| c.name()).unwrap_or_default();
        pol.policy.satisfied(d, &meta.recorded(), primary)
    }

    /// Every proof `d` requires for `mv`'s `kind` that can be proven
    /// before the artifact's bytes are in: each kind says what it needs
    /// ([`crate::verify::proof`]); the service supplies its resources (the
    /// checksum-database client).
    async fn prove(
        &self,
        mv: &ModuleVersion,
        kind: ArtifactKind,
        pol: &ActivePolicy,
        d: &Decision,
    ) -> Result<Vec<Proof>, ProxyError> {
        let (module, version) = (mv.module.as_str(), mv.version());
        let mut out = Vec::with_capacity(d.proofs.len());
        for req in &d.proofs {
            match req {
                RequiredProof::Sumdb(_) => {
                    sumdb::may_look_up(d.private.is_some())
                        .map_err(|why| ProxyError::Internal(format!("{mv}: {why}")))?;
                    out.push(self.prove_sumdb(mv).await?);
                }
                RequiredProof::Pinned(_) => {
                    let anchors = pol.policy.trust_anchors(&[], module, version, kind);
                    let pin = pinned::prove(&anchors, module, version, kind).map_err(|why| {
                        ProxyError::Denied {
                            reason: format!("denied by policy rule {:?}: {why}", d.rule_label()),
                        }
                    })?;
                    out.push(Proof::Pinned(pin));
                }
                // Needs the zip's SHA-256: proven in `fetch_zip` once the
                // zip is spooled ([`Service::prove_signature`]).
                RequiredProof::Signature(_) => {}
            }
        }
        Ok(out)
    }

    /// Reads the signature the requirement's `location` names for `mv`'s
    /// zip and verifies it over what `over` says was signed by one of its
    /// `signers`.
    /// Missing, unreadable or refused: an error, and nothing is stored.
    async fn prove_signature(
        &self,
        mv: &ModuleVersion,
        pol: &ActivePolicy,
        d: &Decision,
        req: &SignatureRequirement,
        over: SignedOver<'_>,
    ) -> Result<SignedArtifact, ProxyError> {
        use crate::verify::proof::signature::kind::{SignatureSource, resolve};
        let SignatureRequirement {
            signers, location, ..
        } = req;
        let rule = if mv.module.as_str() == crate::policy::TOOLCHAIN_MODULE
            && pol.policy.is_toolchain_signature(signers, location)
        {
            "toolchain"
        } else {
            d.rule_label()
        };
        let fail = |source| signature_refused(mv, ".zip", rule, source);
        let version = crate::xmod::module::escape_version(mv.version())
            .map_err(|e| ProxyError::Internal(e.to_string()))?;
        let (source, shown) = if self.bundle_signatures {
            let rel = bundle_signature_path(mv.module.escaped(), &version);
            let shown = format!("{rel} in the bundle");
            (SignatureSource::Upstream(rel), shown)
        } else {
            let source =
                resolve(location, mv.module.escaped(), &version, ".zip").map_err(|reason| {
                    fail(SignatureFailure::Unreachable {
                        location: location.to_owned(),
                        reason,
                    })
                })?;
            let shown = source.shown();
            (source, shown)
        };
        let text = match &source {
            SignatureSource::File(path) => read_signature(path).await.map_err(|e| {
                tracing::warn!(subject = %mv, path = %path.display(), error = %e, "signature not read");
                signature::kind::read_failure(&e, &shown)
            }),
            SignatureSource::Http(url) => {
                // The URL's directory is the base, so its credentials (if
                // any) go with it and are redacted in every message.
                let (base, name) = url.rsplit_once('/').unwrap_or((url.as_str(), ""));
                match self.network.single(base) {
                    Ok(up) => fetch_signature(up.get(name).await, &shown).await,
                    Err(e) => Err(SignatureFailure::Unreachable {
                        location: shown.clone(),
                        reason: e.to_string(),
                    }),
                }
            }
            SignatureSource::Upstream(rel) => {
                let ups = self.route(pol, d)?;
                fetch_signature(ups.get(rel).await.map(|(b, _)| b), &shown).await
            }
        }
        .map_err(fail)?;
        let accepted = accepted_signers(pol, signers);
        let subject = (ArtifactKind::Zip, mv.module.as_str(), mv.version());
        let signed = match over {
            SignedOver::Zip(sha256, go_mod) => {
                SignedArtifact::verify(subject, (sha256, go_mod), &text, &accepted)
            }
            SignedOver::Gosum(h1s) => SignedArtifact::verify_gosum(subject, h1s, &text, &accepted),
        }
        .map_err(fail)?;
        tracing::debug!(subject = %mv, signer = signed.signer(), "zip signature verified");
        Ok(signed)
    }

    /// A go.mod whose proof is the signature recorded with the version's
    /// proven `zip` (`req`, [`Decision::go_mod_signature`]): the signature
    /// kind checks that it covers this go.mod and verifies it again as the
    /// go.mod's ([`signature::kind::prove_go_mod`]).
    fn prove_mod_signature(
        &self,
        mv: &ModuleVersion,
        pol: &ActivePolicy,
        d: &Decision,
        zip: (Option<&StoredArtifact>, &EvidenceObjects),
        checked: &gomod::ModChecked,
    ) -> Result<Option<SignedArtifact>, ProxyError> {
        let Some(req) = d.go_mod_signature() else {
            return Ok(None);
        };
        let (zip, objects) = zip;
        let recorded = zip.map(|z| z.recorded());
        let accepted = accepted_signers(pol, &req.signers);
        signature::kind::prove_go_mod(
            req,
            (mv.module.as_str(), mv.version()),
            recorded.as_ref(),
            (&accepted, objects),
            (checked.h1(), checked.bytes()),
        )
        .map(Some)
        .map_err(|refusal| match refusal {
            GoModRefusal::NoSignature(msg) => ProxyError::Unproven {
                target: format!("{mv} .mod"),
                msg,
            },
            GoModRefusal::Refused(source) => signature_refused(mv, ".mod", d.rule_label(), source),
            GoModRefusal::BadRecord(why) => ProxyError::Internal(format!("{mv}: {why}")),
        })
    }

    /// Proves `mv` in the primary checksum database.
    async fn prove_sumdb(&self, mv: &ModuleVersion) -> Result<Proof, ProxyError> {
        let db = self
            .sumdbs
            .first()
            .ok_or_else(|| ProxyError::Internal("no checksum database configured".into()))?;
        db.prove(mv.module.as_str(), mv.version())
            .await
            .map(Proof::Sumdb)
            .map_err(|source| ProxyError::Proof {
                target: mv.to_string(),
                source,
            })
    }

    /// What a conditional create gave: the artifact just written, or the
    /// first proven copy already stored, re-checked like any loaded record
    /// (one that fails is quarantined, and this request fails: the next
    /// one fetches and proves it again).
    async fn committed(
        &self,
        mv: &ModuleVersion,
        created: Created,
        pol: &ActivePolicy,
    ) -> Result<StoredArtifact, ProxyError> {
        match created {
            Created::New(a) => Ok(a),
            Created::Existing(meta) => {
                let kind = meta.kind;
                self.recheck_loaded(mv, meta, pol).await?.ok_or_else(|| {
                    ProxyError::Internal(format!(
                        "{mv}: the {} already stored failed its re-check and was quarantined; try again",
                        kind.as_str()
                    ))
                })
            }
        }
    }

    async fn fetch_mod(
        &self,
        mv: &ModuleVersion,
        pol: &ActivePolicy,
        d: &Decision,
        zip: Option<&StoredArtifact>,
    ) -> Result<StoredArtifact, ProxyError> {
        let rel = mv.upstream_path("mod");
        let ups = self.route(pol, d)?;
        let what = format!("{mv} .mod");
        let (bytes, proof) = tokio::join!(
            self.fetch_small(&ups, &rel, gomod::MAX_GO_MOD, &what),
            self.prove(mv, ArtifactKind::Mod, pol, d)
        );
        let checked =
            gomod::check_mod(mv.module.as_str(), mv.version(), bytes?).map_err(|source| {
                ProxyError::Mod {
                    target: mv.to_string(),
                    source,
                }
            })?;
        let mut proof = proof?;
        // The zip's recorded signature proves the go.mod too: its file is
        // an evidence object of the zip's record.
        let objects = match zip {
            Some(z) if d.go_mod_signature().is_some() => {
                crate::cache::load_evidence(&*self.store, z.meta(), &self.limits.zip).await
            }
            _ => EvidenceObjects::default(),
        };
        if let Some(signed) = self.prove_mod_signature(mv, pol, d, (zip, &objects), &checked)? {
            proof.push(Proof::Signature(signed));
        }
        let verified = VerifiedMod::new(checked, proof).map_err(|source| ProxyError::Verify {
            target: mv.to_string(),
            source: Box::new(source),
        })?;
        let created = self.store.create_mod(verified).await?;
        self.committed(mv, created, pol).await
    }

    async fn fetch_zip(
        &self,
        mv: &ModuleVersion,
        pol: &ActivePolicy,
        d: &Decision,
    ) -> Result<StoredArtifact, ProxyError> {
        let ups = self.route(pol, d)?;
        let mut limits = self.limits.zip.clone();
        if let Some(cap) = d.max_zip_size {
            limits.max_zip_file = limits.max_zip_file.min(cap);
        }
        let proof = self.prove(mv, ArtifactKind::Zip, pol, d);
        tokio::pin!(proof);
        let mut proven = None;
        // The response head and the proof run together. The upstream's
        // answer comes first (a 404 stays a 404 the go command may fall
        // through on), but a proof that failed means the body is never read.
        let rel = mv.upstream_path("zip");
        let head = ups.get(&rel);
        tokio::pin!(head);
        let head = loop {
            tokio::select! {
                h = &mut head => break h,
                p = &mut proof, if proven.is_none() => proven = Some(p),
            }
        };
        let (body, _) = head.map_err(|e| upstream_error(e, &format!("{mv} .zip")))?;
        metrics::counter!("goward_upstream_requests_total", "kind" => "proxy").increment(1);
        if let Some(Err(e)) = proven {
            return Err(e);
        }
        // Then the body and the zip check: a failed proof stops them at once
        // (no waiting for a large body that cannot be served); a failed
        // download still waits for the proof, whose store writes finish
        // before the error is answered.
        let download = self.spool_and_check(mv, body, limits);
        tokio::pin!(download);
        let (checked, proof) = match proven {
            Some(p) => (download.await, p),
            None => tokio::select! {
                c = &mut download => (c, proof.await),
                p = &mut proof => match p {
                    Err(e) => return Err(e),
                    ok => (download.await, ok),
                },
            },
        };
        let ((checked, _spool), mut proof) = (checked?, proof?);
        for req in d.proofs.iter().filter_map(RequiredProof::signature) {
            let over = match req.signed {
                SignedMode::Zip => None,
                // The lines name the go.mod's h1: too: the upstream's
                // go.mod, checked like any other.
                SignedMode::Gosum => {
                    let what = format!("{mv} .mod");
                    let bytes = self
                        .fetch_small(&ups, &mv.upstream_path("mod"), gomod::MAX_GO_MOD, &what)
                        .await?;
                    let m = gomod::check_mod(mv.module.as_str(), mv.version(), bytes).map_err(
                        |source| ProxyError::Mod {
                            target: mv.to_string(),
                            source,
                        },
                    )?;
                    Some(m.h1().as_str().to_owned())
                }
            };
            let over = match &over {
                None => SignedOver::Zip(checked.sha256(), checked.go_mod_sha256()),
                Some(mod_h1) => SignedOver::Gosum((checked.h1().as_str(), mod_h1)),
            };
            let signed = self.prove_signature(mv, pol, d, req, over).await?;
            proof.push(Proof::Signature(signed));
        }
        let verified = VerifiedZip::new(checked, proof).map_err(|source| ProxyError::Verify {
            target: mv.to_string(),
            source: Box::new(source),
        })?;
        // The spool space is released once the zip is stored (or dropped).
        let created = self.store.create_zip(verified).await?;
        self.committed(mv, created, pol).await
    }

    /// Streams a zip body into a temp file in the store (never into
    /// memory), then runs every module-zip rule over it. The returned permit
    /// holds the zip's share of the spool budget until the caller is done
    /// with it.
    async fn spool_and_check(
        &self,
        mv: &ModuleVersion,
        body: crate::upstream::Body,
        limits: ZipLimits,
    ) -> Result<(zipcheck::ZipChecked, tokio::sync::SemaphorePermit<'_>), ProxyError> {
        // Reserved after the response head (its Content-Length) and before
        // the body is read; an oversized declaration fails in `write_to`.
        let want = body
            .content_length()
            .unwrap_or(limits.max_zip_file)
            .min(limits.max_zip_file);
        let units = spool_units(want).min(spool_units(self.limits.spool_budget));
        let spool = self
            .spool
            .acquire_many(u32::try_from(units).unwrap_or(u32::MAX))
            .await
            .map_err(|e| ProxyError::Internal(e.to_string()))?;
        let tmp = self.store.spool().await?;
        let std_file = tmp
            .reopen()
            .map_err(|e| ProxyError::Store(StoreError::io("open", tmp.path(), e)))?;
        let mut file = tokio::fs::File::from_std(std_file);
        let declared = body.content_length();
        if let Some(n) = declared.filter(|&n| n >= LARGE_FETCH) {
            tracing::info!(subject = %mv, bytes = n, upstream = body.url(), "fetching a large zip");
        }
        // A long download says how far it got every PROGRESS_EVERY (the
        // spool file's length), so an operator can tell slow from stuck.
        let started = std::time::Instant::now();
        let spool_path = tmp.path().to_path_buf();
        let size = {
            let write = body.write_to(&mut file, limits.max_zip_file);
            tokio::pin!(write);
            let mut tick = tokio::time::interval_at(
                tokio::time::Instant::now() + PROGRESS_EVERY,
                PROGRESS_EVERY,
            );
            loop {
                tokio::select! {
                    r = &mut write => break r,
                    _ = tick.tick() => {
                        let done = tokio::fs::metadata(&spool_path).await.map_or(0, |m| m.len());
                        tracing::info!(subject = %mv, done, total = declared, secs = started.elapsed().as_secs(),
                            "still fetching the zip");
                    }
                }
            }
        }
        .map_err(|e| upstream_error(e, &mv.to_string()))?;
        drop(file);
        if size >= LARGE_FETCH || started.elapsed() >= PROGRESS_EVERY {
            let secs = started.elapsed().as_secs_f64();
            tracing::info!(subject = %mv, bytes = size, secs,
                mib_per_sec = size as f64 / 1048576.0 / secs.max(0.001), "fetched the zip");
        }
        let (m, v) = (mv.module.as_str().to_owned(), mv.version().to_owned());
        let target = mv.to_string();
        let check = move || {
            zipcheck::check_zip(tmp, &m, &v, &limits)
                .map_err(|source| ProxyError::Zip { target, source })
        };
        // Most module zips are a few KiB: checked in microseconds, right here
        // (see `Store::small_io_inline`); larger ones on the blocking pool, a
        // few at a time.
        if size <= crate::cache::SMALL_IO && self.store.small_io_inline() {
            return Ok((check()?, spool));
        }
        let _permit = self
            .zip_checks
            .acquire()
            .await
            .map_err(|e| ProxyError::Internal(e.to_string()))?;
        Ok((blocking(check).await?, spool))
    }
}

/// What a zip's signature is verified over.
#[derive(Clone, Copy)]
enum SignedOver<'a> {
    /// The spooled zip's SHA-256, and its root go.mod's.
    Zip(&'a [u8; 32], Option<&'a [u8; 32]>),
    /// The zip's and the go.mod's `h1:` (the go.sum lines).
    Gosum((&'a str, &'a str)),
}

/// A required signature refused for `mv`'s `file` (`.zip`, `.mod`) under
/// `rule`, counted in `goward_signature_failures_total{reason}`.
fn signature_refused(
    mv: &ModuleVersion,
    file: &str,
    rule: &str,
    source: SignatureFailure,
) -> ProxyError {
    metrics::counter!("goward_signature_failures_total", "reason" => source.label()).increment(1);
    ProxyError::Signature {
        target: format!("{mv} {file}"),
        rule: rule.to_owned(),
        source: Box::new(source),
    }
}

/// The `[[signer]]`s of the policy in force that `signers` names.
fn accepted_signers<'a>(
    pol: &'a ActivePolicy,
    signers: &[String],
) -> Vec<&'a crate::policy::PolicySigner> {
    signers
        .iter()
        .filter_map(|n| pol.policy.signer(n))
        .collect()
}

/// Zips at least this large are logged when their download starts and ends.
const LARGE_FETCH: u64 = 16 << 20;

/// How often a download in progress is logged.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// Reads a fetched signature (at most the signature input cap): a 404/410
/// is a missing signature, anything else unreachable, with the reason.
async fn fetch_signature(
    got: Result<crate::upstream::Body, crate::upstream::FetchError>,
    shown: &str,
) -> Result<String, SignatureFailure> {
    let unreachable = |e: crate::upstream::FetchError| {
        if e.is_not_found() {
            SignatureFailure::Missing {
                location: shown.to_owned(),
            }
        } else {
            SignatureFailure::Unreachable {
                location: shown.to_owned(),
                reason: e.to_string(),
            }
        }
    };
    let body = got.map_err(unreachable)?;
    let bytes = body
        .bytes(crate::verify::proof::signature::INPUT_CAP)
        .await
        .map_err(unreachable)?;
    String::from_utf8(bytes.to_vec()).map_err(|_| SignatureFailure::Unreachable {
        location: shown.to_owned(),
        reason: "the signature is not UTF-8 text".into(),
    })
}

/// Reads a signature file, at most
/// [`INPUT_CAP`](crate::verify::proof::signature::INPUT_CAP) bytes.
async fn read_signature(path: &std::path::Path) -> std::io::Result<String> {
    use tokio::io::AsyncReadExt as _;
    let cap = crate::verify::proof::signature::INPUT_CAP;
    let f = tokio::fs::File::open(path).await?;
    let mut s = String::new();
    f.take(cap.saturating_add(1)).read_to_string(&mut s).await?;
    if s.len() as u64 > cap {
        return Err(std::io::Error::other(format!("larger than {cap} bytes")));
    }
    Ok(s)
}

/// Maps an upstream failure: not-found keeps its status and the upstream's
/// reason so the go command shows it and may fall through; offline, nothing
/// was asked and `what` is not in the cache.
fn upstream_error(e: crate::upstream::FetchError, what: &str) -> ProxyError {
    if e.kind == FetchErrorKind::Offline {
        return ProxyError::NotInOfflineCache {
            what: what.to_owned(),
        };
    }
    metrics::counter!("goward_upstream_errors_total", "kind" => "proxy", "reason" => e.reason())
        .increment(1);
    match &e.kind {
        FetchErrorKind::NotFound { status, message } => ProxyError::NotFound(
            if message.is_empty() {
                "upstream has no such module or version".to_owned()
            } else {
                message.clone()
            },
            *status,
        ),
        _ => ProxyError::Upstream(e),
    }
}

/// Keeps the lines of a version list whose first field is a valid semantic
/// version (the go command ignores the rest anyway, cmd/go proxy.go).
fn sanitize_list(b: &[u8]) -> Bytes {
    let text = String::from_utf8_lossy(b);
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut f = line.split_whitespace();
        if let Some(v) = f.next()
            && crate::xmod::semver::is_valid(v)
        {
            out.push_str(line.trim());
            out.push('\n');
        }
    }
    Bytes::from(out)
}

/// Where a bundle keeps the signature file of a version's zip (escaped
/// path and version): beside the zip, as an `upstream:` rule names it
/// (`{module}/@v/{version}{file}.sig`), so the export is also a tree a
/// policy can read signatures from.
pub(crate) fn bundle_signature_path(escaped_module: &str, escaped_version: &str) -> String {
    format!("{escaped_module}/@v/{escaped_version}.zip.sig")
}

/// A verifying read that gave no body and quarantined nothing: a shared
/// store that could not be reached is a 503 naming the cause, anything
/// else an internal error.
fn read_failure(mv: &ModuleVersion, e: ReadError) -> Failure {
    match e {
        ReadError::Unavailable { op, key, detail } => {
            Arc::new(ProxyError::Store(StoreError::Unavailable {
                op,
                key,
                detail,
            }))
        }
        e => Arc::new(ProxyError::Internal(format!("{mv}: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A go.mod proven through its zip's signature needs the zip decided by a rule
    /// requiring that signature; otherwise the refusal names both rules.
    #[test]
    fn a_go_mod_proven_through_its_zip_needs_the_zips_rule_to_require_the_signature() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/sigstore/cosign.pub"),
            dir.path().join("k.pub"),
        )
        .unwrap();
        let sig = |name: &str, signers: &str, extra: &str| {
            format!(
                "[[allow]]\nname = \"{name}\"\nmodules = \"example.com/{name}\"\n\
                 proof = [{extra}\"signature\"]\nsigners = [{signers}]\n\
                 signatures = \"file:///s/{{module}}/@v/{{version}}{{file}}.sig\"\n\n"
            )
        };
        let text = format!(
            "[[signer]]\nname = \"a\"\nkey = \"k.pub\"\n\n[[signer]]\nname = \"b\"\nkey = \"k.pub\"\n\n\
             {}{}{}{}[[allow]]\nname = \"plain\"\nmodules = \"example.com/plain\"\n",
            sig("alone", "\"a\"", ""),
            sig("both", "\"a\", \"b\"", ""),
            sig("other", "\"b\"", ""),
            sig("withsumdb", "\"a\"", "\"sumdb\", "),
        );
        let p = Policy::parse(&text, dir.path().join("p.toml").to_str().unwrap()).unwrap();
        let d = |m: &str, k| p.decide_artifact(&format!("example.com/{m}"), "v1.0.0", k);
        let (mod_d, zip) = (d("alone", ArtifactKind::Mod), ArtifactKind::Zip);
        assert_eq!(zip_proves_go_mod(&mod_d, &d("alone", zip)), Ok(()));
        // The zip's signers are all accepted for the go.mod, or not.
        assert_eq!(
            zip_proves_go_mod(&d("both", ArtifactKind::Mod), &d("alone", zip)),
            Ok(())
        );
        let refused = |zip_rule: &str| {
            format!(
                "policy rule \"alone\" proves the go.mod through the version's signed zip, but the \
                 zip is decided by policy rule \"{zip_rule}\", which does not require a zip \
                 signature by signer a: decide both by one rule, or give the go.mod a proof of its \
                 own (sumdb or pinned)"
            )
        };
        for zip_rule in ["both", "other", "plain"] {
            assert_eq!(
                zip_proves_go_mod(&mod_d, &d(zip_rule, zip)),
                Err(refused(zip_rule)),
                "{zip_rule}"
            );
        }
        // A go.mod with a proof of its own needs nothing from the zip.
        assert_eq!(
            zip_proves_go_mod(&d("withsumdb", ArtifactKind::Mod), &d("plain", zip)),
            Ok(())
        );
    }

    #[test]
    fn list_keeps_only_versions() {
        let got = sanitize_list(b"v1.0.0\nv1.1.0 2020-01-01T00:00:00Z\n<html>\nnot-a-version\n\n v2.0.0+incompatible \n");
        assert_eq!(
            got,
            Bytes::from_static(b"v1.0.0\nv1.1.0 2020-01-01T00:00:00Z\nv2.0.0+incompatible\n")
        );
    }

    #[tokio::test]
    async fn document_caches_are_bounded_by_bytes() {
        let c = doc_cache::<u32>(4 << 20, Some(Duration::from_secs(3600)));
        let body = Bytes::from(vec![b'v'; 1 << 20]);
        for k in 0..32 {
            c.insert(k, body.clone()).await;
        }
        c.run_pending_tasks().await;
        assert!(c.weighted_size() <= 4 << 20, "{} bytes", c.weighted_size());
        assert!(c.entry_count() <= 3, "{} entries", c.entry_count());
    }
}
