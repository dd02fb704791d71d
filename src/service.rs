//! The one place where the stages are put in order:
//! request → cache → upstream → verify (zip rules, go.mod, `h1:`, checksum
//! database proof) → store → serve.
//!
//! Concurrent requests for the same uncached artifact share one upstream
//! fetch and one verification (moka's `try_get_with` coalesces them);
//! failures are shared with every waiter and never cached.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sha2::Digest;

use crate::cache::{ArtifactMeta, DocKey, Store, StoreError};
use crate::error::ProxyError;
use crate::request::{ModulePath, ModuleVersion};
use crate::sumdb::SumdbClient;
use crate::upstream::{FetchErrorKind, ProxyList};
use crate::verify::info::{self, MAX_INFO};
use crate::verify::zip::{self as zipcheck, ZipLimits};
use crate::verify::{ArtifactKind, Proof, VerifiedMod, VerifiedZip, gomod};

/// A failure shared between coalesced requests.
pub type Failure = Arc<ProxyError>;

/// Size caps and freshness settings for the service.
#[derive(Clone, Debug)]
pub struct ServiceLimits {
    /// Module zip rules and caps (500 MiB by default, as the go command).
    pub zip: ZipLimits,
    /// `@v/list` bodies.
    pub max_list: u64,
    /// How long `@v/list` and `@latest` answers are reused before asking
    /// upstream again; older copies are still served while upstream is down.
    pub list_ttl: Duration,
}

impl Default for ServiceLimits {
    fn default() -> Self {
        ServiceLimits {
            zip: ZipLimits::default(),
            max_list: 4 << 20,
            list_ttl: Duration::from_secs(60),
        }
    }
}

type ArtifactKey = (ArtifactKind, ModuleVersion);

/// The verifying proxy service.
#[derive(Debug)]
pub struct Service {
    upstreams: Arc<ProxyList>,
    store: Arc<dyn Store>,
    sumdbs: Vec<Arc<SumdbClient>>,
    limits: ServiceLimits,
    artifacts: moka::future::Cache<ArtifactKey, Arc<ArtifactMeta>>,
    infos: moka::future::Cache<ModuleVersion, Bytes>,
    lists: moka::future::Cache<ModulePath, Bytes>,
    latests: moka::future::Cache<ModulePath, Bytes>,
    /// Bounds concurrent zip checks: each holds the zip's names and a
    /// hashing buffer, so memory stays flat under a burst of cold fetches.
    zip_checks: tokio::sync::Semaphore,
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ProxyError> + Send + 'static,
) -> Result<T, ProxyError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ProxyError::Internal(format!("blocking task failed: {e}")))?
}

/// Counts a cache lookup.
fn cache_metric(endpoint: &'static str, hit: bool) {
    let result = if hit { "hit" } else { "miss" };
    metrics::counter!("goward_cache_total", "endpoint" => endpoint, "result" => result)
        .increment(1);
}

impl Service {
    /// Builds the service. `sumdbs[0]` proves modules; every database in
    /// the list is served under `/sumdb/<name>/`.
    pub fn new(
        upstreams: Arc<ProxyList>,
        store: Arc<dyn Store>,
        sumdbs: Vec<Arc<SumdbClient>>,
        limits: ServiceLimits,
    ) -> Service {
        let ttl = limits.list_ttl;
        Service {
            upstreams,
            store,
            sumdbs,
            artifacts: moka::future::Cache::builder().max_capacity(200_000).build(),
            infos: moka::future::Cache::builder().max_capacity(200_000).build(),
            lists: moka::future::Cache::builder()
                .max_capacity(50_000)
                .time_to_live(ttl)
                .build(),
            latests: moka::future::Cache::builder()
                .max_capacity(50_000)
                .time_to_live(ttl)
                .build(),
            zip_checks: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get().max(2)),
            ),
            limits,
        }
    }

    /// The configured checksum databases.
    pub fn sumdbs(&self) -> &[Arc<SumdbClient>] {
        &self.sumdbs
    }

    /// Whether the service can prove new artifacts (for `/readyz`).
    pub fn ready(&self) -> Result<(), String> {
        for db in &self.sumdbs {
            db.check_trusted().map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn store(&self) -> Arc<dyn Store> {
        self.store.clone()
    }

    /// GETs a small upstream body.
    async fn fetch_small(&self, rel: &str, max: u64) -> Result<Bytes, ProxyError> {
        let (body, _) = self.upstreams.get(rel).await.map_err(upstream_error)?;
        metrics::counter!("goward_upstream_requests_total", "kind" => "proxy").increment(1);
        body.bytes(max).await.map_err(upstream_error)
    }

    /// `@v/list`: refreshed after the TTL; the last good copy is served when
    /// every upstream fails (with a warning), so an outage does not stop builds.
    pub async fn list(&self, m: &ModulePath) -> Result<Bytes, Failure> {
        self.lists
            .try_get_with(
                m.clone(),
                self.refresh_doc(
                    DocKey::List(m.escaped().to_owned()),
                    format!("{}/@v/list", m.escaped()),
                ),
            )
            .await
    }

    /// `@latest`, with the same freshness rules as `list`.
    pub async fn latest(&self, m: &ModulePath) -> Result<Bytes, Failure> {
        self.latests
            .try_get_with(
                m.clone(),
                self.refresh_doc(
                    DocKey::Latest(m.escaped().to_owned()),
                    format!("{}/@latest", m.escaped()),
                ),
            )
            .await
    }

    async fn refresh_doc(&self, key: DocKey, rel: String) -> Result<Bytes, ProxyError> {
        let is_list = matches!(key, DocKey::List(_));
        let max = if is_list {
            self.limits.max_list
        } else {
            MAX_INFO
        };
        let fresh = self.fetch_small(&rel, max).await.and_then(|b| {
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
        let store = self.store();
        match fresh {
            Ok(b) => {
                let (k, b2) = (key.clone(), b.clone());
                blocking(move || store.put_doc(&k, &b2).map_err(ProxyError::from)).await?;
                Ok(b)
            }
            Err(e @ ProxyError::NotFound(..)) => Err(e),
            Err(e) => {
                let k = key.clone();
                match blocking(move || store.get_doc(&k).map_err(ProxyError::from)).await? {
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
    pub async fn info(&self, mv: &ModuleVersion) -> Result<Bytes, Failure> {
        if let Some(b) = self.infos.get(mv).await {
            cache_metric("info", true);
            return Ok(b);
        }
        self.infos
            .try_get_with(mv.clone(), async {
                let key = DocKey::Info(
                    mv.module.escaped().to_owned(),
                    mv.escaped_version().to_owned(),
                );
                let store = self.store();
                let k = key.clone();
                if let Some(b) =
                    blocking(move || store.get_doc(&k).map_err(ProxyError::from)).await?
                {
                    cache_metric("info", true);
                    return Ok(b);
                }
                cache_metric("info", false);
                let b = self
                    .fetch_small(&mv.upstream_path("info"), MAX_INFO)
                    .await?;
                info::check_info(&b, Some(mv.version())).map_err(|source| ProxyError::Info {
                    target: mv.to_string(),
                    source,
                })?;
                let store = self.store();
                let b2 = b.clone();
                blocking(move || store.put_doc(&key, &b2).map_err(ProxyError::from)).await?;
                Ok(b)
            })
            .await
    }

    /// `.info` for a query such as a branch name: validated, not cached.
    pub async fn info_query(&self, m: &ModulePath, query: &str) -> Result<Bytes, Failure> {
        let ev = crate::module::escape_version(query)
            .map_err(|e| Arc::new(ProxyError::Internal(e.to_string())))?;
        let b = self
            .fetch_small(&format!("{}/@v/{ev}.info", m.escaped()), MAX_INFO)
            .await?;
        info::check_info(&b, None).map_err(|source| ProxyError::Info {
            target: format!("{}@{query}", m.as_str()),
            source,
        })?;
        Ok(b)
    }

    /// The go.mod of a version: proven before it was stored, and its digest
    /// re-checked on every read. A corrupted copy is quarantined and the
    /// version fetched and proven again.
    pub async fn go_mod(&self, mv: &ModuleVersion) -> Result<Bytes, Failure> {
        for _ in 0..2 {
            let meta = self.artifact(ArtifactKind::Mod, mv).await?;
            let store = self.store();
            let m = meta.clone();
            let read = blocking(move || {
                use std::io::Read;
                let f = store.open_blob(&m)?;
                let mut buf = Vec::with_capacity(m.size as usize);
                f.take(gomod::MAX_GO_MOD + 1)
                    .read_to_end(&mut buf)
                    .map_err(|e| ProxyError::Store(StoreError::io("read", "blob", e)))?;
                Ok(buf)
            })
            .await;
            match read {
                Ok(buf) if crate::cache::disk::hex(&sha2::Sha256::digest(&buf)) == meta.sha256 => {
                    return Ok(Bytes::from(buf));
                }
                Ok(_) => {
                    self.quarantine(&meta, "cached go.mod failed its digest check")
                        .await
                }
                Err(ProxyError::Store(e)) => {
                    self.quarantine(&meta, &format!("cached go.mod is unreadable: {e}"))
                        .await;
                }
                Err(e) => return Err(Arc::new(e)),
            }
        }
        Err(Arc::new(ProxyError::Internal(format!(
            "{mv}: go.mod failed its digest check twice in a row"
        ))))
    }

    /// The metadata of a proven zip; the caller streams the blob with
    /// [`Service::open_zip`] and re-checks its digest while serving.
    pub async fn zip(&self, mv: &ModuleVersion) -> Result<Arc<ArtifactMeta>, Failure> {
        self.artifact(ArtifactKind::Zip, mv).await
    }

    /// Opens a stored zip; a missing blob is quarantined and re-fetched once.
    pub async fn open_zip(
        &self,
        mv: &ModuleVersion,
    ) -> Result<(Arc<ArtifactMeta>, std::fs::File), Failure> {
        for _ in 0..2 {
            let meta = self.zip(mv).await?;
            let store = self.store();
            let m = meta.clone();
            match blocking(move || store.open_blob(&m).map_err(ProxyError::from)).await {
                Ok(f) => return Ok((meta, f)),
                Err(e) => {
                    self.quarantine(&meta, &format!("cached zip is unreadable: {e}"))
                        .await
                }
            }
        }
        Err(Arc::new(ProxyError::Internal(format!(
            "{mv}: cached zip is unreadable"
        ))))
    }

    /// Moves a corrupted blob aside and forgets it, so the next request
    /// fetches and proves the version again.
    pub async fn quarantine(&self, meta: &ArtifactMeta, why: &str) {
        metrics::counter!("goward_verification_failures_total", "reason" => "cache_digest_mismatch").increment(1);
        if let Ok(mv) =
            ModulePath::new(&meta.module).and_then(|m| ModuleVersion::new(m, &meta.version))
        {
            self.artifacts.invalidate(&(meta.kind, mv)).await;
        }
        let store = self.store();
        let (m, w) = (meta.clone(), why.to_owned());
        if let Err(e) = blocking(move || store.quarantine(&m, &w).map_err(ProxyError::from)).await {
            tracing::error!(module = %meta.module, version = %meta.version, "quarantine failed: {e}");
        }
    }

    /// A stored artifact, or fetch → verify → store. Every waiter shares one
    /// run; an artifact proven by a database that has since been found
    /// forked is refused.
    async fn artifact(
        &self,
        kind: ArtifactKind,
        mv: &ModuleVersion,
    ) -> Result<Arc<ArtifactMeta>, Failure> {
        let endpoint = if kind == ArtifactKind::Zip {
            "zip"
        } else {
            "mod"
        };
        let key = (kind, mv.clone());
        let cached = self.artifacts.get(&key).await;
        if cached.is_some() {
            cache_metric(endpoint, true);
        }
        let meta = match cached {
            Some(m) => m,
            None => self
            .artifacts
            .try_get_with(key, async {
                let store = self.store();
                let (m, v) = (mv.module.as_str().to_owned(), mv.version().to_owned());
                if let Some(meta) = blocking(move || store.meta(kind, &m, &v).map_err(ProxyError::from)).await? {
                    cache_metric(endpoint, true);
                    return Ok(Arc::new(meta));
                }
                cache_metric(endpoint, false);
                let meta = match kind {
                    ArtifactKind::Zip => self.fetch_zip(mv).await?,
                    ArtifactKind::Mod => self.fetch_mod(mv).await?,
                };
                tracing::info!(module = %meta.module, version = %meta.version, kind = kind.as_str(), h1 = %meta.h1, "verified and stored");
                Ok(Arc::new(meta))
            })
            .await?,
        };
        if let Some(db) = meta.proof.db()
            && let Some(client) = self.sumdbs.iter().find(|c| c.name() == db)
        {
            client.check_trusted().map_err(|e| ProxyError::Proof {
                target: mv.to_string(),
                source: Arc::new(e),
            })?;
        }
        Ok(meta)
    }

    /// Proves `mv` in the primary checksum database.
    async fn prove(&self, mv: &ModuleVersion) -> Result<Proof, ProxyError> {
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

    async fn fetch_mod(&self, mv: &ModuleVersion) -> Result<ArtifactMeta, ProxyError> {
        let rel = mv.upstream_path("mod");
        let (bytes, proof) =
            tokio::join!(self.fetch_small(&rel, gomod::MAX_GO_MOD), self.prove(mv));
        let checked =
            gomod::check_mod(mv.module.as_str(), mv.version(), bytes?).map_err(|source| {
                ProxyError::Mod {
                    target: mv.to_string(),
                    source,
                }
            })?;
        let verified = VerifiedMod::new(checked, proof?).map_err(|source| ProxyError::Verify {
            target: mv.to_string(),
            source: Box::new(source),
        })?;
        let store = self.store();
        blocking(move || store.put_mod(verified).map_err(ProxyError::from)).await
    }

    async fn fetch_zip(&self, mv: &ModuleVersion) -> Result<ArtifactMeta, ProxyError> {
        let (checked, proof) = tokio::join!(self.download_and_check_zip(mv), self.prove(mv));
        let verified = VerifiedZip::new(checked?, proof?).map_err(|source| ProxyError::Verify {
            target: mv.to_string(),
            source: Box::new(source),
        })?;
        let store = self.store();
        blocking(move || store.put_zip(verified).map_err(ProxyError::from)).await
    }

    /// Streams the zip into a temp file in the store (never into memory),
    /// then runs every module-zip rule over it.
    async fn download_and_check_zip(
        &self,
        mv: &ModuleVersion,
    ) -> Result<zipcheck::ZipChecked, ProxyError> {
        let store = self.store();
        let tmp = blocking(move || store.temp_file().map_err(ProxyError::from)).await?;
        let (body, _) = self
            .upstreams
            .get(&mv.upstream_path("zip"))
            .await
            .map_err(upstream_error)?;
        metrics::counter!("goward_upstream_requests_total", "kind" => "proxy").increment(1);
        let std_file = tmp
            .reopen()
            .map_err(|e| ProxyError::Store(StoreError::io("open", tmp.path(), e)))?;
        let mut file = tokio::fs::File::from_std(std_file);
        body.write_to(&mut file, self.limits.zip.max_zip_file)
            .await
            .map_err(upstream_error)?;
        drop(file);
        let (limits, m, v) = (
            self.limits.zip.clone(),
            mv.module.as_str().to_owned(),
            mv.version().to_owned(),
        );
        let target = mv.to_string();
        let _permit = self
            .zip_checks
            .acquire()
            .await
            .map_err(|e| ProxyError::Internal(e.to_string()))?;
        blocking(move || {
            zipcheck::check_zip(tmp, &m, &v, &limits)
                .map_err(|source| ProxyError::Zip { target, source })
        })
        .await
    }
}

/// Maps an upstream failure: not-found keeps its status and the upstream's
/// reason so the go command shows it and may fall through.
fn upstream_error(e: crate::upstream::FetchError) -> ProxyError {
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
            && crate::semver::is_valid(v)
        {
            out.push_str(line.trim());
            out.push('\n');
        }
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_keeps_only_versions() {
        let got = sanitize_list(b"v1.0.0\nv1.1.0 2020-01-01T00:00:00Z\n<html>\nnot-a-version\n\n v2.0.0+incompatible \n");
        assert_eq!(
            got,
            Bytes::from_static(b"v1.0.0\nv1.1.0 2020-01-01T00:00:00Z\nv2.0.0+incompatible\n")
        );
    }
}
