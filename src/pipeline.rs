//! The composition root: the one place where a command's pipeline — store,
//! upstreams, checksum-database clients, policy and [`Service`] — is built
//! from the resolved [`Config`]. `serve` and `verify-toolchain` build it
//! here, and so should every new command, so that they all verify alike.
//!
//! The upstream mode is explicit ([`UpstreamMode`]): offline, no HTTP client
//! exists anywhere in the pipeline ([`Network::Offline`]), so no socket can
//! be opened, and whatever the cache lacks is a typed "not in this offline
//! cache" error (404 for the go command).

use std::sync::Arc;

use crate::cache::{DiskStore, ObjectStoreCache, Store, StoreUrl, SweepReport};
use crate::config::Config;
use crate::service::{ActivePolicy, PolicyLoadError, Service, ServiceLimits};
use crate::sumdb::SumdbClient;
use crate::sumdb::client::SumdbLimits;
use crate::upstream::Network;

pub use crate::upstream::UpstreamMode;

/// A built pipeline.
#[derive(Debug)]
pub struct Pipeline {
    /// Every request goes through it.
    pub service: Arc<Service>,
    /// What `service` was built from, to build more like it ([`Parts::service`]).
    pub parts: Parts,
    /// What opening the store swept (temp files of an interrupted run).
    pub sweep: SweepReport,
}

/// What a [`Service`] is built from, kept to build more: a batch job over
/// many versions (`bundle export`, `bundle import`) takes a fresh service
/// for each batch, over the same store and the same checksum-database
/// clients (one trusted head, one bounded tile and proof cache), so that
/// what a service remembers per version in memory is one batch's worth,
/// not the whole run's.
#[derive(Clone, Debug)]
pub struct Parts {
    network: Network,
    upstreams: Arc<crate::upstream::ProxyList>,
    store: Arc<dyn Store>,
    sumdbs: Vec<Arc<SumdbClient>>,
    limits: ServiceLimits,
    /// The policy file and the policy it held at build time (re-read only
    /// by `serve`'s watcher, never between batches).
    policy: Option<(std::path::PathBuf, crate::policy::Policy)>,
    /// Bundle import: private routes and signatures read this tree.
    tree: Option<Arc<crate::upstream::ProxyList>>,
}

impl Parts {
    /// A new service over these parts, with empty in-memory caches.
    pub fn service(&self) -> Result<Arc<Service>, StartError> {
        let mut service = Service::new(
            self.network.clone(),
            self.upstreams.clone(),
            self.store.clone(),
            self.sumdbs.clone(),
            self.limits.clone(),
        );
        if let Some(tree) = &self.tree {
            service = service.with_bundle_signatures();
            if let Some((_, policy)) = &self.policy {
                // Private rules read the tree too: a private module crosses the
                // gap in the bundle, proven by the inside's pins or signatures.
                service = service.with_policy(ActivePolicy::over_tree(policy.clone(), tree), None);
            }
        } else if let Some((path, policy)) = &self.policy {
            let active =
                ActivePolicy::new(policy.clone(), &self.network).map_err(PolicyLoadError::Route)?;
            service = service.with_policy(active, Some(path.clone()));
        }
        Ok(Arc::new(service))
    }

    /// The store every service of these parts reads and writes.
    pub fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// The checksum-database clients every service of these parts shares.
    pub fn sumdbs(&self) -> &[Arc<SumdbClient>] {
        &self.sumdbs
    }
}

/// Why the pipeline could not be built; each names the setting or path involved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The cache directory could not be opened.
    #[error("opening cache directory {dir}: {source}")]
    Store {
        dir: std::path::PathBuf,
        #[source]
        source: crate::cache::StoreError,
    },
    /// The cache directory is compressed by the filesystem and goward could
    /// not change that (the message says what to run).
    #[error("{0}")]
    Compressed(String),
    /// The upstream list or HTTP client is invalid.
    #[error("invalid upstream: {0}")]
    Upstream(#[from] crate::upstream::UpstreamConfigError),
    /// A checksum database could not be set up.
    #[error("checksum database: {0}")]
    Sumdb(#[from] crate::sumdb::SumdbError),
    /// The policy is invalid (one `file:line:col: message` per problem;
    /// not a `source`, so a printed error chain shows them once).
    #[error("invalid policy:\n{0}")]
    Policy(PolicyLoadError),
    /// The credentials file (`--auth-file`) is unreadable or invalid.
    #[error("{0}")]
    Credentials(#[from] crate::auth::CredentialsError),
    /// The start-up thread reading a shared store panicked (a bug).
    #[error("internal error: the start-up thread panicked")]
    Panicked,
}

impl From<PolicyLoadError> for StartError {
    fn from(e: PolicyLoadError) -> Self {
        StartError::Policy(e)
    }
}

/// Opens the configured store ([`Config::store`]): the cache directory,
/// or a shared bucket with the cache directory as its local tier.
pub fn open_store(config: &Config) -> Result<(Arc<dyn Store>, SweepReport), StartError> {
    open_store_with(config, true)
}

/// [`open_store`] for the cache commands: a shared bucket is read as it
/// is, never through the local tier of hot blobs.
pub fn open_store_for_audit(config: &Config) -> Result<Arc<dyn Store>, StartError> {
    open_store_with(config, false).map(|(s, _)| s)
}

fn open_store_with(
    config: &Config,
    hot: bool,
) -> Result<(Arc<dyn Store>, SweepReport), StartError> {
    match &config.store {
        StoreUrl::Disk(dir) => {
            let (store, sweep) = DiskStore::open(dir).map_err(|source| StartError::Store {
                dir: dir.clone(),
                source,
            })?;
            Ok((Arc::new(store), sweep))
        }
        StoreUrl::S3 { bucket, prefix } => {
            let store = ObjectStoreCache::connect_s3(
                bucket,
                prefix,
                &config.cache_dir,
                config.local_cache_size,
            )
            .map_err(|source| StartError::Store {
                dir: config.cache_dir.clone(),
                source,
            })?;
            let store = store.with_fill_leases(config.fill_leases);
            let store = if hot { store } else { store.bypassing_tier() };
            Ok((Arc::new(store), SweepReport::default()))
        }
    }
}

/// Builds the pipeline: opens (and sweeps) the cache, reaches upstreams as
/// [`Config::mode`] allows, loads each checksum database's trusted head and
/// the policy. Every configured database is served; the first proves.
///
/// Synchronous for the disk store; a shared bucket is read through
/// [`build_async`], on the current runtime if there is one.
pub fn build(config: &Config) -> Result<Pipeline, StartError> {
    if !matches!(config.store, StoreUrl::Disk(_)) {
        return match tokio::runtime::Handle::try_current() {
            // A thread of its own: this may be called from inside the
            // runtime's block_on, which cannot nest.
            Ok(h) => std::thread::scope(|s| {
                s.spawn(|| h.block_on(build_async(config)))
                    .join()
                    .unwrap_or_else(|_| Err(StartError::Panicked))
            }),
            Err(_) => {
                crate::cache::block_on(build_async(config)).map_err(|source| StartError::Store {
                    dir: config.cache_dir.clone(),
                    source,
                })?
            }
        };
    }
    let (store, sweep) = open_store(config)?;
    let network = Network::new(config.mode, &config.fetch)?;
    let upstreams = Arc::new(network.proxy_list(&config.upstream, &|_| Ok(None))?);
    let mut sumdbs = Vec::with_capacity(config.sumdbs.len());
    for spec in &config.sumdbs {
        sumdbs.push(Arc::new(SumdbClient::new(
            spec,
            upstreams.clone(),
            network.single(&sumdb_base(spec))?,
            store.clone(),
            sumdb_limits(config),
        )?));
    }
    finish(config, network, upstreams, store, sumdbs, sweep)
}

/// [`build`] for any store: the checksum-database heads are read with async
/// reads, and where the store cannot be read inline on every request (a
/// shared bucket), each database polls for another replica's fork report
/// ([`SumdbClient::watch_forks`]).
pub async fn build_async(config: &Config) -> Result<Pipeline, StartError> {
    let (store, sweep) = open_store(config)?;
    let network = Network::new(config.mode, &config.fetch)?;
    let upstreams = Arc::new(network.proxy_list(&config.upstream, &|_| Ok(None))?);
    let mut sumdbs = Vec::with_capacity(config.sumdbs.len());
    for spec in &config.sumdbs {
        let client = Arc::new(
            SumdbClient::open(
                spec,
                upstreams.clone(),
                network.single(&sumdb_base(spec))?,
                store.clone(),
                sumdb_limits(config),
            )
            .await?,
        );
        if !store.small_io_inline() {
            client.watch_forks();
        }
        sumdbs.push(client);
    }
    finish(config, network, upstreams, store, sumdbs, sweep)
}

/// What `serve` re-checks stored records against, for the commands that
/// re-check without serving (`cache verify`): the configured databases'
/// keys and the policy file `serve` loads, or the embedded default. One
/// place, so a re-check outside `serve` cannot trust other anchors.
#[derive(Clone, Debug)]
pub struct RecheckAnchors {
    /// Keys of the configured checksum databases.
    pub sumdb_keys: Vec<crate::xmod::note::Verifier>,
    /// The policy in force.
    pub policy: crate::policy::Policy,
}

/// [`RecheckAnchors`] of `config`.
pub fn recheck_anchors(config: &Config) -> Result<RecheckAnchors, StartError> {
    let sumdb_keys = config
        .sumdbs
        .iter()
        .map(|spec| {
            crate::xmod::note::Verifier::parse(&spec.vkey).map_err(|source| {
                StartError::Sumdb(crate::sumdb::SumdbError::Note {
                    db: spec.name.clone(),
                    source,
                })
            })
        })
        .collect::<Result<_, _>>()?;
    let policy = match &config.policy {
        Some(p) => crate::policy::Policy::load(p).map_err(PolicyLoadError::from)?,
        None => crate::policy::Policy::embedded_default(),
    };
    Ok(RecheckAnchors { sumdb_keys, policy })
}

/// The checksum-database clients' limits: their proof cache takes a
/// quarter of the configured memory cache.
fn sumdb_limits(config: &Config) -> SumdbLimits {
    SumdbLimits {
        proven_cache: config.memory_cache_size / 4,
        ..SumdbLimits::default()
    }
}

fn sumdb_base(spec: &crate::sumdb::SumdbSpec) -> String {
    spec.url
        .clone()
        .unwrap_or_else(|| format!("https://{}", spec.name))
}

fn finish(
    config: &Config,
    network: Network,
    upstreams: Arc<crate::upstream::ProxyList>,
    store: Arc<dyn Store>,
    sumdbs: Vec<Arc<SumdbClient>>,
    sweep: SweepReport,
) -> Result<Pipeline, StartError> {
    let mut limits = ServiceLimits::default();
    limits.zip.max_zip_file = config.max_zip_size;
    limits.list_ttl = config.list_ttl;
    limits.max_fills = config.max_fills;
    limits.spool_budget = config.spool_budget;
    limits.memory_cache_bytes = config.memory_cache_size;
    let policy = match &config.policy {
        Some(path) => {
            let policy = crate::policy::Policy::load(path).map_err(PolicyLoadError::Policy)?;
            tracing::info!(target: "goward::policy", policy = %path.display(), "policy loaded");
            Some((path.clone(), policy))
        }
        None => None,
    };
    let parts = Parts {
        network,
        upstreams,
        store,
        sumdbs,
        limits,
        policy,
        tree: None,
    };
    Ok(Pipeline {
        service: parts.service()?,
        parts,
        sweep,
    })
}

/// The parts of a pipeline over `store` whose only upstream is the
/// `GOPROXY` tree at `dir`, with every checksum database reached through
/// that tree only (no direct URL) and no HTTP client at all: `bundle
/// import` proves a bundle with its services ([`Parts::service`], one per
/// batch), through the same [`Service`], checksum-database client and
/// policy as `serve`. Private routes read the tree too, and required
/// signatures are read from it ([`Service::with_bundle_signatures`]).
pub fn parts_over_tree(
    config: &Config,
    store: Arc<dyn Store>,
    dir: &std::path::Path,
) -> Result<Parts, StartError> {
    // No HTTP client anywhere: the tree is read from disk, so importing
    // opens no socket, like `serve --offline`.
    let network = Network::Offline;
    let upstreams = Arc::new(crate::upstream::ProxyList::file_tree(dir, &config.fetch));
    let mut sumdbs = Vec::with_capacity(config.sumdbs.len());
    for spec in &config.sumdbs {
        let spec = crate::sumdb::SumdbSpec {
            url: None,
            ..spec.clone()
        };
        sumdbs.push(Arc::new(SumdbClient::new(
            &spec,
            upstreams.clone(),
            Arc::new(crate::upstream::OfflineUpstream),
            store.clone(),
            sumdb_limits(config),
        )?));
    }
    let mut limits = ServiceLimits::default();
    limits.zip.max_zip_file = config.max_zip_size;
    limits.max_fills = config.max_fills;
    limits.spool_budget = config.spool_budget;
    limits.memory_cache_bytes = config.memory_cache_size;
    let policy = match &config.policy {
        Some(path) => Some((
            path.clone(),
            crate::policy::Policy::load(path).map_err(PolicyLoadError::Policy)?,
        )),
        None => None,
    };
    Ok(Parts {
        network,
        tree: Some(upstreams.clone()),
        upstreams,
        store,
        sumdbs,
        limits,
        policy,
    })
}
