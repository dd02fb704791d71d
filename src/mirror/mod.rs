//! `goward mirror`: fills the cache on the connected side of an air gap.
//!
//! Every artifact goes through the [`Service`] that `goward serve` answers
//! with, built by [`crate::pipeline::build`] from the same configuration:
//! fetch → verify → prove → store, policy included. A mirror therefore
//! never holds anything `serve` would not have served, and what `serve
//! --offline` (and a bundle export) needs is left in the cache as a side
//! effect: the `.info`, `.mod` and `.zip` records, the checksum-database
//! lookups and tiles that proved them (stored by the sumdb client), and the
//! records that make up the offline `@v/list`.
//!
//! Resumable for free: an artifact the store already holds is re-checked
//! by the service's cache-hit path and not fetched again; such versions are
//! counted as "already held".

#![cfg_attr(
    not(test),
    deny(
        clippy::arithmetic_side_effects,
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

pub mod cli;
pub mod sources;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::artifact::ArtifactKind;
use crate::artifact::{ModulePath, ModuleVersion};
use crate::cache::{DocKey, RecordId, Store};
use crate::error::ProxyError;
use crate::policy::retract::{ListLatest, latest_from_list};
use crate::service::Service;
use sources::{Query, Want};

/// One module version to mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The version.
    pub mv: ModuleVersion,
    /// The zip too; `false`: `.info` and `.mod` only (a go.sum `/go.mod` line).
    pub full: bool,
}

impl Job {
    /// Artifacts this job stores: `.zip` (if full), `.mod`, `.info`.
    fn artifacts(&self) -> u64 {
        if self.full { 3 } else { 2 }
    }
}

/// A version (or query) that was not mirrored, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Refusal {
    /// `module@version`, or `module@query` when the query did not resolve.
    pub target: String,
    /// The refusal, as `serve` would have answered it.
    pub reason: String,
}

/// What a run did (printed as text, or as JSON with `--json`).
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// Versions fetched and proven by this run.
    pub proven: Vec<String>,
    /// Versions whose every artifact the cache already held (re-checked).
    pub already_held: Vec<String>,
    /// Versions refused: checksum mismatch, policy, not found upstream…
    pub refused: Vec<Refusal>,
    /// Versions that could not be mirrored for a reason other than their
    /// content: cache I/O, an unreachable or failing upstream. Exit 2.
    pub errors: Vec<Refusal>,
    /// Artifacts stored or found: `.zip`, `.mod`, `.info`.
    pub artifacts: u64,
    /// Bytes of artifacts fetched by this run.
    pub bytes_fetched: u64,
    /// Wall time, seconds.
    pub elapsed_secs: f64,
}

impl Summary {
    /// 0 all proven, 1 something refused, 2 an error (I/O, network).
    pub fn exit_code(&self) -> u8 {
        if !self.errors.is_empty() {
            2
        } else if !self.refused.is_empty() {
            1
        } else {
            0
        }
    }
}

/// The progress bar: artifacts done/total, bytes and rate (the message), ETA.
const BAR_TEMPLATE: &str =
    "{spinner} {elapsed_precise} [{wide_bar}] {pos}/{len} artifacts {msg} ETA {eta}";

/// How progress is shown.
#[derive(Debug)]
pub enum Progress {
    /// A progress bar (stderr is a terminal).
    Bar(indicatif::ProgressBar),
    /// One plain line per artifact on stderr.
    Lines,
}

/// Counters shared by the jobs of a run.
#[derive(Debug)]
struct Tally {
    done: u64,
    total: u64,
    bytes: u64,
    started: Instant,
}

impl Progress {
    /// A bar if stderr is a terminal, plain lines otherwise.
    pub fn auto() -> Progress {
        use std::io::IsTerminal;
        if std::io::stderr().is_terminal() {
            let bar = indicatif::ProgressBar::new(0);
            if let Ok(style) = indicatif::ProgressStyle::with_template(BAR_TEMPLATE) {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            Progress::Bar(bar)
        } else {
            Progress::Lines
        }
    }

    fn set_total(&self, total: u64) {
        if let Progress::Bar(b) = self {
            b.set_length(total);
        }
    }

    fn step(&self, t: &Tally, what: &str) {
        match self {
            Progress::Bar(b) => {
                let secs = t.started.elapsed().as_secs_f64();
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    clippy::cast_precision_loss
                )]
                let rate = if secs > 0.0 {
                    (t.bytes as f64 / secs) as u64
                } else {
                    0
                };
                b.set_position(t.done);
                b.set_message(format!(
                    "{} ({}/s)",
                    indicatif::HumanBytes(t.bytes),
                    indicatif::HumanBytes(rate)
                ));
            }
            Progress::Lines => eprintln!("mirror: {}/{} {what}", t.done, t.total),
        }
    }

    fn println(&self, line: &str) {
        match self {
            Progress::Bar(b) => b.println(line),
            Progress::Lines => eprintln!("{line}"),
        }
    }

    fn finish(&self) {
        if let Progress::Bar(b) = self {
            b.finish_and_clear();
        }
    }
}

/// The version `list` makes latest (cmd/go `queryProxy`): the highest
/// release, else pre-release, `+incompatible` ones only if the highest
/// compatible version has no go.mod; `None` for pseudo-versions or nothing.
async fn pick(svc: &Arc<Service>, m: &ModulePath, list: &str) -> Result<Option<String>, Outcome> {
    match latest_from_list(list) {
        ListLatest::Version(v) => Ok(Some(v)),
        ListLatest::IfGoMod {
            compatible,
            with_go_mod,
            without,
        } => {
            // cmd/go `LegacyGoMod`: what a version without go.mod gets.
            let mv = ModuleVersion::new(m.clone(), &compatible)
                .map_err(|e| Outcome::Refused(e.to_string()))?;
            let text = svc.go_mod(&mv).await.map_err(|e| failed(&e, ".mod"))?;
            let legacy = format!("module {}\n", m.as_str());
            Ok(Some(if text == legacy.as_bytes() {
                without
            } else {
                with_go_mod
            }))
        }
        ListLatest::Pseudo(_) | ListLatest::None => Ok(None),
    }
}

/// The version the go command's `@latest` query picks: from `@v/list`,
/// without the versions the go.mod of the highest one retracts (unless
/// every one is), else the upstream's `@latest`.
async fn latest(svc: &Arc<Service>, m: &ModulePath) -> Result<String, Outcome> {
    let list = match svc.list(m).await {
        Ok(l) => String::from_utf8_lossy(&l).into_owned(),
        Err(e) if matches!(&*e, ProxyError::NotFound(..)) => String::new(),
        Err(e) => return Err(failed(&e, "@v/list")),
    };
    let Some(v) = pick(svc, m, &list).await? else {
        // Pseudo-versions only, or nothing: the upstream's answer.
        let info = svc.latest(m).await.map_err(|e| failed(&e, "@latest"))?;
        return crate::verify::info::check_info(&info, None)
            .map_err(|e| Outcome::Refused(format!("{}@latest: invalid .info: {e}", m.as_str())));
    };
    let mv = ModuleVersion::new(m.clone(), &v).map_err(|e| Outcome::Refused(e.to_string()))?;
    let text = svc.go_mod(&mv).await.map_err(|e| failed(&e, ".mod"))?;
    let Ok(retracted) = crate::policy::retract::retractions(&String::from_utf8_lossy(&text)) else {
        return Ok(v);
    };
    if crate::policy::retract::retracted(&retracted, &v).is_none() {
        return Ok(v);
    }
    let kept: String = list
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .next()
                .is_some_and(|w| crate::policy::retract::retracted(&retracted, w).is_none())
        })
        .map(|l| format!("{l}\n"))
        .collect();
    Ok(pick(svc, m, &kept).await?.unwrap_or(v))
}

/// The versions a [`Want`] names.
async fn resolve(svc: &Arc<Service>, want: &Want) -> Result<Vec<String>, Outcome> {
    match &want.query {
        Query::Version(v) => Ok(vec![v.clone()]),
        Query::Latest => Ok(vec![latest(svc, &want.module).await?]),
        Query::Range(c) => {
            let list = svc
                .list(&want.module)
                .await
                .map_err(|e| failed(&e, "@v/list"))?;
            in_range(&String::from_utf8_lossy(&list), c).map_err(Outcome::Refused)
        }
    }
}

/// The canonical versions of an `@v/list` body in `range`, in semver order.
fn in_range(list: &str, range: &sources::Range) -> Result<Vec<String>, String> {
    let mut vs: Vec<String> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|v| crate::xmod::module::canonical_version(v).as_deref() == Some(*v))
        .filter(|v| range.matches(v))
        .map(str::to_owned)
        .collect();
    crate::xmod::semver::sort(&mut vs);
    vs.dedup();
    if vs.is_empty() {
        return Err(format!("no version in @v/list is in the range {range}"));
    }
    Ok(vs)
}

/// What [`plan`] makes of the wants.
#[derive(Debug, Default)]
pub struct Plan {
    /// The versions to mirror, in path and version order.
    pub jobs: Vec<Job>,
    /// Queries that resolved to nothing (not found, an empty range…).
    pub refused: Vec<Refusal>,
    /// Queries that could not be resolved (upstream failure): exit 2.
    pub errors: Vec<Refusal>,
}

/// Resolves every want into jobs, `jobs` queries at once (a version
/// wanted whole and `.mod`-only is wanted whole).
pub async fn plan(svc: &Arc<Service>, wants: &[Want], jobs: usize) -> Plan {
    use futures_util::StreamExt;
    let resolved: Vec<(&Want, Result<Vec<String>, Outcome>)> = futures_util::stream::iter(wants)
        .map(|w| async move { (w, resolve(svc, w).await) })
        .buffered(jobs.max(1))
        .collect()
        .await;
    // Keyed by path and version, for a stable order.
    let mut by_key: BTreeMap<(String, String), Job> = BTreeMap::new();
    let mut out = Plan::default();
    for (want, r) in resolved {
        let vs = match r {
            Ok(vs) => vs,
            Err(Outcome::Error(reason)) => {
                out.errors.push(Refusal {
                    target: want.to_string(),
                    reason,
                });
                continue;
            }
            Err(other) => {
                out.refused.push(Refusal {
                    target: want.to_string(),
                    reason: other.reason(),
                });
                continue;
            }
        };
        for v in vs {
            match ModuleVersion::new(want.module.clone(), &v) {
                Ok(mv) => {
                    let key = (mv.module.as_str().to_owned(), v.clone());
                    let e = by_key.entry(key).or_insert(Job { mv, full: false });
                    e.full |= want.full;
                }
                Err(e) => out.refused.push(Refusal {
                    target: format!("{}@{v}", want.module.as_str()),
                    reason: e.to_string(),
                }),
            }
        }
    }
    out.jobs = by_key.into_values().collect();
    out
}

/// How one job ended.
enum Outcome {
    Proven,
    Held,
    Refused(String),
    Error(String),
}

impl Outcome {
    /// Why it failed; empty for success.
    fn reason(self) -> String {
        match self {
            Outcome::Refused(r) | Outcome::Error(r) => r,
            Outcome::Proven | Outcome::Held => String::new(),
        }
    }
}

/// `kind`: what failed (`.zip`, `.mod`, `.info`, `@v/list`), named when
/// the error itself does not say (a 404's body is the upstream's).
/// An upstream that cannot be reached or answers an error other than 404
/// says nothing about the module: that is an error (exit 2, "could not
/// tell", as for `verify-toolchain`), not a refusal.
fn failed(e: &ProxyError, kind: &str) -> Outcome {
    match e {
        ProxyError::Store(_) | ProxyError::Internal(_) | ProxyError::Upstream(_) => {
            Outcome::Error(e.to_string())
        }
        ProxyError::NotFound(body, code) => Outcome::Refused(format!(
            "not found upstream: {kind} answered {code}: {}",
            body.trim()
        )),
        _ => Outcome::Refused(e.to_string()),
    }
}

/// Mirrors one version: zip first, so that a refused zip leaves nothing of
/// the version behind (the go.mod and .info are fetched only after it).
async fn mirror_one(
    svc: &Arc<Service>,
    store: &Arc<dyn Store>,
    job: &Job,
    tally: &Mutex<Tally>,
    progress: &Progress,
) -> Outcome {
    let (m, v) = (job.mv.module.as_str(), job.mv.version());
    let held_record =
        |kind| async move { matches!(store.record(&RecordId::new(kind, m, v)).await, Ok(Some(_))) };
    let zip_held = job.full && held_record(ArtifactKind::Zip).await;
    let mod_held = held_record(ArtifactKind::Mod).await;
    let info_key = DocKey::Info(
        job.mv.module.escaped().to_owned(),
        job.mv.escaped_version().to_owned(),
    );
    let info_held = matches!(store.get_doc(&info_key).await, Ok(Some(_)));
    let done_here = std::sync::atomic::AtomicU64::new(0);
    // A failed job will not store the rest of its artifacts: the total shrinks.
    let give_up = |out: Outcome| {
        let left = job
            .artifacts()
            .saturating_sub(done_here.load(std::sync::atomic::Ordering::Relaxed));
        if let Ok(mut t) = tally.lock() {
            t.total = t.total.saturating_sub(left);
            progress.set_total(t.total);
        }
        out
    };
    let step = |kind: &str, held: bool, size: u64| {
        done_here.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Ok(mut t) = tally.lock() else { return };
        t.done = t.done.saturating_add(1);
        if !held {
            t.bytes = t.bytes.saturating_add(size);
        }
        let what = if held {
            format!("{} {kind} already held", job.mv)
        } else {
            format!("{} {kind} {}", job.mv, indicatif::HumanBytes(size))
        };
        progress.step(&t, &what);
    };
    if job.full {
        match svc.zip(&job.mv).await {
            Ok(a) => step("zip", zip_held, a.size),
            Err(e) => return give_up(failed(&e, ".zip")),
        }
    }
    match svc.go_mod(&job.mv).await {
        Ok(b) => step("mod", mod_held, u64::try_from(b.len()).unwrap_or(u64::MAX)),
        Err(e) => return give_up(failed(&e, ".mod")),
    }
    match svc.info(&job.mv).await {
        Ok(b) => step(
            "info",
            info_held,
            u64::try_from(b.len()).unwrap_or(u64::MAX),
        ),
        Err(e) => return give_up(failed(&e, ".info")),
    }
    if (zip_held || !job.full) && mod_held && info_held {
        Outcome::Held
    } else {
        Outcome::Proven
    }
}

/// Runs the jobs, at most `jobs` at once, and sums up.
pub async fn run(svc: &Arc<Service>, plan: Plan, jobs: usize, progress: Arc<Progress>) -> Summary {
    let Plan {
        jobs: plan,
        mut refused,
        errors,
    } = plan;
    let started = Instant::now();
    let total = plan
        .iter()
        .map(Job::artifacts)
        .fold(0u64, u64::saturating_add);
    progress.set_total(total);
    let tally = Arc::new(Mutex::new(Tally {
        done: 0,
        total,
        bytes: 0,
        started,
    }));
    let store = svc.store();
    let slots = Arc::new(tokio::sync::Semaphore::new(jobs.max(1)));
    let mut set = tokio::task::JoinSet::new();
    for job in plan {
        let (svc, store, tally, progress, slots) = (
            svc.clone(),
            store.clone(),
            tally.clone(),
            progress.clone(),
            slots.clone(),
        );
        set.spawn(async move {
            let _slot = slots.acquire_owned().await;
            let out = mirror_one(&svc, &store, &job, &tally, &progress).await;
            match &out {
                Outcome::Refused(why) => {
                    progress.println(&format!("mirror: refused {}: {why}", job.mv));
                }
                Outcome::Error(why) => {
                    progress.println(&format!("mirror: error {}: {why}", job.mv))
                }
                Outcome::Proven | Outcome::Held => {}
            }
            (job, out)
        });
    }
    let mut s = Summary {
        errors,
        ..Summary::default()
    };
    while let Some(r) = set.join_next().await {
        match r {
            Ok((job, out)) => {
                let target = job.mv.to_string();
                match out {
                    Outcome::Proven => s.proven.push(target),
                    Outcome::Held => s.already_held.push(target),
                    Outcome::Refused(reason) => refused.push(Refusal { target, reason }),
                    Outcome::Error(reason) => s.errors.push(Refusal { target, reason }),
                }
            }
            Err(e) => s.errors.push(Refusal {
                target: "(a mirror task)".into(),
                reason: e.to_string(),
            }),
        }
    }
    progress.finish();
    s.proven.sort();
    s.already_held.sort();
    refused.sort_by(|a, b| a.target.cmp(&b.target));
    s.errors.sort_by(|a, b| a.target.cmp(&b.target));
    s.refused = refused;
    if let Ok(t) = tally.lock() {
        s.artifacts = t.done;
        s.bytes_fetched = t.bytes;
    }
    s.elapsed_secs = started.elapsed().as_secs_f64();
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> sources::Range {
        match sources::parse_want(&format!("example.com/m@{text}"))
            .unwrap()
            .query
        {
            Query::Range(r) => r,
            other => panic!("not a range: {other:?}"),
        }
    }

    #[test]
    fn ranges_resolve_against_the_list_in_semver_order() {
        let list = "v1.10.0\nv1.2.0\nv1.9.0-rc.1\nv1.2.0\nv2.0.0+incompatible\nv1.3\n\nv0.9.0\n";
        assert_eq!(
            in_range(list, &range(">= v1.2.0, < v2.0.0")).unwrap(),
            ["v1.2.0", "v1.9.0-rc.1", "v1.10.0"]
        );
        assert_eq!(
            in_range(list, &range("= v0.9.0 || >= v2.0.0")).unwrap(),
            ["v0.9.0", "v2.0.0+incompatible"]
        );
        assert_eq!(
            in_range(list, &range(">= v3.0.0")).unwrap_err(),
            "no version in @v/list is in the range >= v3.0.0"
        );
    }

    #[test]
    fn the_bar_template_parses() {
        assert!(indicatif::ProgressStyle::with_template(BAR_TEMPLATE).is_ok());
    }

    #[test]
    fn exit_codes() {
        let mut s = Summary::default();
        assert_eq!(s.exit_code(), 0);
        s.refused.push(Refusal {
            target: "example.com/m@v1.0.0".into(),
            reason: "denied".into(),
        });
        assert_eq!(s.exit_code(), 1);
        s.errors.push(Refusal {
            target: "example.com/m@v1.0.1".into(),
            reason: "disk full".into(),
        });
        assert_eq!(s.exit_code(), 2);
    }
}
