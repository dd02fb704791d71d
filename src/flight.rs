//! Single-flight runs that outlive their callers.
//!
//! A fill (fetch → verify → store) runs as a task of its own: every request for the same key joins
//! it, and it finishes even when the request that started it disconnects, so a client that gives
//! up never wastes the download the others are waiting for (moka's `try_get_with` runs the work
//! inside the first caller's future, which a disconnect cancels, and the next waiter starts over).

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};

/// A result shared by everyone who joined one run.
pub(crate) type Outcome<T, E> = Result<T, Arc<E>>;

/// An error a run ends with when its task itself failed (panicked).
pub(crate) trait TaskFailed {
    /// The error for a run whose task failed with `msg`.
    fn task_failed(msg: String) -> Self;
}

type Running<K, T, E> = Arc<Mutex<HashMap<K, Shared<BoxFuture<'static, Outcome<T, E>>>>>>;

/// The runs in progress, by key.
pub(crate) struct Flights<K, T, E> {
    running: Running<K, T, E>,
    /// The `kind` label of `goward_coalesced_total`.
    kind: &'static str,
}

impl<K, T, E> std::fmt::Debug for Flights<K, T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.running.lock().map_or(0, |r| r.len());
        f.debug_struct("Flights")
            .field("kind", &self.kind)
            .field("running", &n)
            .finish()
    }
}

impl<K, T, E> Flights<K, T, E>
where
    K: Eq + Hash + Clone + Send + Sync + 'static,
    T: Clone + Send + Sync + 'static,
    E: TaskFailed + Send + Sync + 'static,
{
    /// No runs yet; every request that joins a run in progress is counted
    /// in `goward_coalesced_total{kind}`.
    pub(crate) fn new(kind: &'static str) -> Self {
        Flights {
            running: Arc::new(Mutex::new(HashMap::new())),
            kind,
        }
    }

    /// Joins the run for `key`, or starts `make()` as a task of its own and joins that. The run
    /// is forgotten as soon as it ends, so a failure is shared by its waiters but never reused.
    pub(crate) async fn join<F>(&self, key: K, make: impl FnOnce() -> F) -> Outcome<T, E>
    where
        F: Future<Output = Outcome<T, E>> + Send + 'static,
    {
        let run = {
            let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
            match running.get(&key) {
                Some(run) => {
                    metrics::counter!("goward_coalesced_total", "kind" => self.kind).increment(1);
                    run.clone()
                }
                None => {
                    let work = make();
                    let (map, k) = (self.running.clone(), key.clone());
                    let task = tokio::spawn(async move {
                        let out = work.await;
                        map.lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .remove(&k);
                        out
                    });
                    let run = async move {
                        task.await
                            .unwrap_or_else(|e| Err(Arc::new(E::task_failed(e.to_string()))))
                    }
                    .boxed()
                    .shared();
                    running.insert(key, run.clone());
                    run
                }
            }
        };
        run.await
    }

    /// How many runs are in progress.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ProxyError;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::sync::oneshot;

    #[tokio::test]
    async fn waiters_share_one_run_that_survives_its_starter() {
        let flights: Arc<Flights<&str, u32, ProxyError>> = Arc::new(Flights::new("test"));
        let starts = Arc::new(AtomicUsize::new(0));
        let (release, gate) = oneshot::channel::<()>();
        let (started_tx, started) = oneshot::channel::<()>();
        let starter = {
            let (f, s) = (flights.clone(), starts.clone());
            tokio::spawn(async move {
                f.join("k", move || async move {
                    s.fetch_add(1, Ordering::SeqCst);
                    let _ = started_tx.send(());
                    gate.await.expect("released");
                    Ok(7)
                })
                .await
            })
        };
        started.await.expect("the run started");
        // The first caller goes away: the run must go on.
        starter.abort();
        let _ = starter.await;
        assert_eq!(
            flights.len(),
            1,
            "the run outlives the caller that started it"
        );
        let second = {
            let (f, s) = (flights.clone(), starts.clone());
            tokio::spawn(async move {
                f.join("k", move || async move {
                    s.fetch_add(1, Ordering::SeqCst);
                    Ok(99)
                })
                .await
            })
        };
        tokio::task::yield_now().await;
        release.send(()).expect("the run is waiting");
        assert_eq!(second.await.expect("joined").expect("ok"), 7);
        assert_eq!(starts.load(Ordering::SeqCst), 1, "one run for every waiter");
        assert_eq!(flights.len(), 0, "a finished run is forgotten");
    }

    #[tokio::test]
    async fn a_failure_is_not_reused() {
        let flights: Flights<&str, u32, ProxyError> = Flights::new("test");
        let err = flights
            .join("k", || async {
                Err(Arc::new(ProxyError::Internal("boom".into())))
            })
            .await;
        assert_eq!(err.expect_err("fails").to_string(), "internal error: boom");
        let ok = flights.join("k", || async { Ok(1) }).await;
        assert_eq!(ok.expect("a new run"), 1);
    }
}
