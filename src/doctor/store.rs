//! `goward doctor` on goward's own store (`--store`): for an `s3://` store,
//! whether the bucket answers, whether it honours conditional writes (a
//! probe object under `doctor/`, deleted after), where the credentials
//! come from, and the local tier. A disk store is covered by the host
//! checks of the cache directory (compression, Defender).

use std::path::Path;
#[cfg(test)]
use std::path::PathBuf;

use super::checks::{Finding, Severity};
use crate::cache::{BucketProbe, TierUsage};

/// What the store checks decide from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoreFacts {
    /// `s3://bucket[/prefix]`.
    pub url: String,
    /// What the bucket answered.
    pub probe: BucketProbe,
    /// [`crate::cache::object::credential_source`].
    pub credentials: String,
    /// The local tier.
    pub tier: TierUsage,
}

/// Opens the configured `s3://` store and probes it; `Ok(None)` for a
/// disk store.
pub(crate) fn gather(config: &crate::config::Config) -> Result<Option<StoreFacts>, String> {
    let crate::cache::StoreUrl::S3 { bucket, prefix } = &config.store else {
        return Ok(None);
    };
    let store = crate::cache::ObjectStoreCache::connect_s3(
        bucket,
        prefix,
        &config.cache_dir,
        config.local_cache_size,
    )
    .map_err(|e| e.to_string())?;
    let probe = crate::cache::block_on(store.probe()).map_err(|e| e.to_string())?;
    Ok(Some(StoreFacts {
        url: config.store.to_string(),
        probe,
        credentials: crate::cache::object::credential_source(&|k| std::env::var(k).ok()),
        tier: store.tier_usage(),
    }))
}

/// The findings about a shared store.
pub(crate) fn findings(f: &StoreFacts) -> Vec<Finding> {
    let mut out = Vec::new();
    match &f.probe.reachable {
        Ok(seen) => out.push(
            Finding::new(
                "store-reachable",
                Severity::Ok,
                format!("{} answers", f.url),
            )
            .evidence(seen.clone()),
        ),
        Err(e) => out.push(
            Finding::new(
                "store-reachable",
                Severity::Error,
                format!("{} is unreachable", f.url),
            )
            .evidence(e.clone())
            .fix(
                "check AWS_ENDPOINT_URL (and AWS_ALLOW_HTTP=true for an http:// endpoint), \
                 AWS_REGION, the credentials and the bucket name; a replica needs \
                 s3:ListBucket, s3:GetObject, s3:PutObject and s3:DeleteObject on the prefix",
            ),
        ),
    }
    match &f.probe.conditional {
        Some(Ok(done)) => out.push(
            Finding::new(
                "store-conditional-writes",
                Severity::Ok,
                "the bucket honours conditional writes (If-None-Match, If-Match)",
            )
            .evidence(done.clone()),
        ),
        Some(Err(e)) => out.push(
            Finding::new(
                "store-conditional-writes",
                Severity::Error,
                "conditional writes do not work on the bucket",
            )
            .evidence(e.clone())
            .fix(
                "use a server that honours If-None-Match: * and If-Match on PUT (AWS S3, \
                 current MinIO, Ceph RGW), and allow s3:PutObject and s3:DeleteObject \
                 on the prefix",
            ),
        ),
        None => out.push(Finding::new(
            "store-conditional-writes",
            Severity::Warning,
            "not checked: the bucket did not answer",
        )),
    }
    out.push(Finding::new(
        "store-credentials",
        Severity::Info,
        format!("S3 credentials: {}", f.credentials),
    ));
    out.push(
        Finding::new(
            "local-tier",
            Severity::Info,
            format!(
                "local tier {}: {} blobs, {} of {} (--local-cache-size)",
                f.tier.path.display(),
                f.tier.blobs,
                human(f.tier.bytes),
                human(f.tier.max_bytes)
            ),
        )
        .evidence(format!(
            "a per-replica cache of hot blobs and the download spool; losing it loses nothing ({})",
            tier_dir_state(&f.tier.path)
        )),
    );
    out
}

/// Bytes in the largest binary unit that fits, with one decimal when not whole.
fn human(n: u64) -> String {
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n >= size {
            let whole = n / size;
            let tenth = (n % size) * 10 / size;
            return if tenth == 0 {
                format!("{whole} {unit}")
            } else {
                format!("{whole}.{tenth} {unit}")
            };
        }
    }
    format!("{n} B")
}

fn tier_dir_state(p: &Path) -> &'static str {
    if p.is_dir() {
        "present"
    } else {
        "not created yet"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(probe: BucketProbe) -> StoreFacts {
        StoreFacts {
            url: "s3://b/p".into(),
            probe,
            credentials: "static keys".into(),
            tier: TierUsage {
                path: PathBuf::from("/nonexistent/tier"),
                blobs: 2,
                bytes: 3 << 20,
                max_bytes: 4 << 30,
            },
        }
    }

    #[test]
    fn an_unreachable_bucket_is_an_error_and_skips_the_write_probe() {
        let f = findings(&facts(BucketProbe {
            reachable: Err("shared store unavailable: list s3://b/p/: refused".into()),
            conditional: None,
        }));
        let names: Vec<_> = f.iter().map(|x| (x.check, x.severity)).collect();
        assert_eq!(
            names,
            [
                ("store-reachable", Severity::Error),
                ("store-conditional-writes", Severity::Warning),
                ("store-credentials", Severity::Info),
                ("local-tier", Severity::Info)
            ]
        );
        assert_eq!(f[0].summary, "s3://b/p is unreachable");
        assert_eq!(
            f[3].summary,
            "local tier /nonexistent/tier: 2 blobs, 3 MiB of 4 GiB (--local-cache-size)"
        );
    }

    #[test]
    fn a_server_ignoring_conditions_is_an_error() {
        let f = findings(&facts(BucketProbe {
            reachable: Ok("listed".into()),
            conditional: Some(Err("replaced".into())),
        }));
        assert_eq!(f[1].severity, Severity::Error);
        assert_eq!(f[1].summary, "conditional writes do not work on the bucket");
        assert_eq!(f[1].evidence, ["replaced"]);
    }
}
