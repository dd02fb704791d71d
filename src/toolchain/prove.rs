//! Proving a toolchain's `h1:` with goward's own pipeline: the first
//! configured checksum database's [`crate::sumdb::SumdbClient`] (trusted head, tiles and
//! lookups persisted in the cache directory) and, for per-file reports, the
//! toolchain module zip through [`Service`] (verified cache, else upstream →
//! module-zip rules → checksum-database proof → cache).
//!
//! Both come from [`crate::pipeline::build`], as for `goward serve`. Offline
//! ([`UpstreamMode::Offline`]) the same objects run over goward's cache
//! alone, without an HTTP client: every piece that is not already cached
//! (and therefore already verified) fails as "not in this offline mirror",
//! naming what is missing.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{TOOLCHAIN_MODULE, Target};
use crate::artifact::{H1, ModulePath, ModuleVersion};
use crate::cache::read::ReadError;
use crate::cache::{DiskStore, DocKey};
use crate::config::Config;
use crate::pipeline::UpstreamMode;
use crate::service::Service;
use crate::sumdb::{ProvenRecord, SumdbError};

/// A failure with the exit status it deserves: 1 (not verified) or 2 (could
/// not tell: usage, configuration, I/O, network, missing cache pieces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    /// Exit status.
    pub code: u8,
    /// What went wrong.
    pub msg: String,
}

impl Failure {
    /// Exit status 2.
    pub(crate) fn cannot_tell(msg: impl Into<String>) -> Failure {
        Failure {
            code: 2,
            msg: msg.into(),
        }
    }
    /// Exit status 1.
    pub(crate) fn not_verified(msg: impl Into<String>) -> Failure {
        Failure {
            code: 1,
            msg: msg.into(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

/// goward's verification pipeline, online or over the cache only.
#[derive(Debug)]
pub(crate) struct Backend {
    rt: tokio::runtime::Runtime,
    service: Arc<Service>,
    offline: bool,
    cache_dir: std::path::PathBuf,
}

/// The toolchain module version as goward's request layer validates it.
pub(crate) fn module_version(target: &Target) -> Result<ModuleVersion, Failure> {
    ModulePath::new(TOOLCHAIN_MODULE)
        .and_then(|m| ModuleVersion::new(m, &target.module_version()))
        .map_err(|e| Failure::cannot_tell(format!("{}: {e}", target.module_version())))
}

impl Backend {
    /// Builds the pipeline as `goward serve` does ([`crate::pipeline::build`]);
    /// the first checksum database proves. Offline ([`Config::mode`]),
    /// checks first that the cache holds a trusted head and the lookup for
    /// `target`, without creating anything.
    pub(crate) fn open(config: &Config, target: &Target) -> Result<Backend, Failure> {
        let offline = config.mode == UpstreamMode::Offline;
        let spec = config
            .sumdbs
            .first()
            .ok_or_else(|| Failure::cannot_tell("no checksum database configured"))?;
        let mv = module_version(target)?;
        // One TLS crypto provider for the process, as `goward serve` installs.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // Offline, a cache that is not there is not created.
        let service = if offline && !config.cache_dir.is_dir() {
            None
        } else {
            Some(
                crate::pipeline::build(config)
                    .map_err(|e| Failure::cannot_tell(crate::error::display_chain(&e)))?
                    .service,
            )
        };
        if offline {
            let lookup = format!("{}@{}", mv.module.escaped(), mv.escaped_version());
            let pieces = [
                (
                    DocKey::SumdbHead(spec.name.clone()),
                    format!("no trusted tree head for checksum database {}", spec.name),
                ),
                (
                    DocKey::SumdbLookup(spec.name.clone(), lookup),
                    format!(
                        "no proven lookup of {mv} in checksum database {}",
                        spec.name
                    ),
                ),
            ];
            for (key, what) in pieces {
                let held = match &service {
                    Some(svc) => crate::cache::block_on(svc.store().get_doc(&key))
                        .and_then(|r| r)
                        .map_err(|e| Failure::cannot_tell(format!("offline: {e}")))?
                        .is_some(),
                    None => false,
                };
                if !held {
                    return Err(Failure::cannot_tell(format!(
                        "offline: goward's cache {} has {what} ({} is missing); run once online, or serve the toolchain through goward first",
                        config.cache_dir.display(),
                        DiskStore::doc_path(&config.cache_dir, &key).display()
                    )));
                }
            }
        }
        let Some(service) = service else {
            return Err(Failure::cannot_tell("offline: no cache directory"));
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Failure::cannot_tell(format!("starting the async runtime: {e}")))?;
        Ok(Backend {
            rt,
            service,
            offline,
            cache_dir: config.cache_dir.clone(),
        })
    }

    /// Whether only the cache is used.
    pub(crate) fn offline(&self) -> bool {
        self.offline
    }

    /// Starts proving `target`'s record in the background (so hashing a large
    /// input and reaching the checksum database overlap).
    pub(crate) fn start_proof(&self, target: &Target) -> PendingProof {
        let svc = self.service.clone();
        let version = target.module_version();
        PendingProof(self.rt.spawn(async move {
            let db = svc.sumdbs().first().cloned();
            match db {
                Some(db) => db.prove(TOOLCHAIN_MODULE, &version).await,
                None => Err(Arc::new(SumdbError::BadRequest {
                    db: String::new(),
                    msg: "no checksum database configured".into(),
                })),
            }
        }))
    }

    /// Waits for a proof.
    pub(crate) fn finish_proof(&self, p: PendingProof) -> Result<ProvenRecord, Failure> {
        match self.rt.block_on(p.0) {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(self.sumdb_failure(&e)),
            Err(e) => Err(Failure::cannot_tell(format!("proof task failed: {e}"))),
        }
    }

    fn sumdb_failure(&self, e: &SumdbError) -> Failure {
        match e {
            SumdbError::Upstream { .. } | SumdbError::NotInOfflineCache { .. } if self.offline => {
                Failure::cannot_tell(format!(
                    "offline: goward's cache {} lacks a piece of the proof: {e}",
                    self.cache_dir.display()
                ))
            }
            SumdbError::Upstream { .. }
            | SumdbError::NotInOfflineCache { .. }
            | SumdbError::Store(_)
            | SumdbError::BadRequest { .. }
            | SumdbError::TileNotCovered { .. } => Failure::cannot_tell(e.to_string()),
            SumdbError::NotFound { .. } => Failure::not_verified(format!(
                "{e} (no official release has this version and platform)"
            )),
            _ => Failure::not_verified(e.to_string()),
        }
    }

    /// The module zip's file list (module-relative name → SHA-256), from a
    /// copy goward verified: its cache, else (online) the upstream through
    /// the whole verification pipeline, which also caches it. The blob's
    /// digest is re-checked before it is read.
    pub(crate) fn reference_files(
        &self,
        target: &Target,
    ) -> Result<BTreeMap<String, [u8; 32]>, Failure> {
        let mv = module_version(target)?;
        let copy = self.rt.block_on(self.service.zip_copy(&mv)).map_err(|e| {
            if self.offline {
                Failure::cannot_tell(format!(
                    "offline: goward's cache {} holds no verified copy of the toolchain module zip ({e})",
                    self.cache_dir.display()
                ))
            } else {
                Failure::cannot_tell(format!("fetching the toolchain module zip: {e}"))
            }
        })?;
        let file = copy.map_err(|e| match e {
            ReadError::Quarantined(why) => {
                Failure::cannot_tell(format!("{why} (quarantined; run again to fetch it anew)"))
            }
            e => Failure::cannot_tell(format!("reading the cached zip: {e}")),
        })?;
        super::archive::module_zip_files_in(file, &target.zip_prefix())
            .map_err(|e| Failure::cannot_tell(format!("reading the cached zip: {e}")))
    }
}

/// A proof running in the background.
#[derive(Debug)]
pub(crate) struct PendingProof(tokio::task::JoinHandle<Result<ProvenRecord, Arc<SumdbError>>>);

/// How a computed `h1:` compares with the proven record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecordCheck {
    /// Every `h1:` line for the zip equals it.
    Match,
    /// The record has no `h1:` line for the zip (CVE-2026-42501): never a pass.
    NoZipLine,
    /// The record says this instead.
    Mismatch(H1),
}

/// Compares `h1` with the zip lines of `record`, as `verify::check_against`.
pub(crate) fn check_record(record: &ProvenRecord, h1: &H1) -> RecordCheck {
    let lines = record.zip_h1s();
    if lines.is_empty() {
        return RecordCheck::NoZipLine;
    }
    match lines.iter().find(|want| *want != h1) {
        Some(want) => RecordCheck::Mismatch(want.clone()),
        None => RecordCheck::Match,
    }
}
