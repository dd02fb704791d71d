//! The verifying read: the one way a stored blob's bytes leave the store,
//! for zips and go.mod files alike, whole or streamed.
//!
//! The whole blob is hashed while it is read, and the last piece handed out
//! is held back until its SHA-256 and size match the re-checked record, so
//! a reader never receives a complete body whose bytes changed on storage.
//! A blob that fails is quarantined through the store (blob and record), and
//! the caller's hook lets it forget what it remembered about the artifact.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::future::BoxFuture;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{BlobReader, Store, StoredArtifact};
use crate::xmod::dirhash::hex;

/// Runs when a blob is quarantined, before the store moves it aside (e.g.
/// to drop an in-memory copy of its record, so the next request loads or
/// fetches and proves it again).
pub(crate) type OnQuarantine = Box<dyn FnOnce() -> BoxFuture<'static, ()> + Send>;

/// Why a verifying read gave no (complete) body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ReadError {
    /// The blob is unreadable or failed its digest check; it was quarantined.
    #[error("{0}")]
    Quarantined(String),
    /// Reading failed part way (nothing quarantined: the stored copy may be
    /// fine, e.g. a network store that dropped the connection).
    #[error("reading the cached blob: {0}")]
    Interrupted(String),
    /// The shared store could not be reached (nothing quarantined: the
    /// stored copy says nothing about itself; served as a 503).
    #[error("shared store unavailable: {op} {key}: {detail}")]
    Unavailable {
        op: &'static str,
        key: String,
        detail: String,
    },
}

/// Bytes read from storage per step of a stream.
const CHUNK: usize = 64 << 10;

/// A stored artifact's blob, opened for a verifying read.
pub(crate) struct VerifiedRead {
    store: Arc<dyn Store>,
    artifact: Arc<StoredArtifact>,
    blob: BlobReader,
    on_quarantine: Option<OnQuarantine>,
}

impl std::fmt::Debug for VerifiedRead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedRead")
            .field("artifact", &self.artifact)
            .field("blob", &self.blob)
            .finish_non_exhaustive()
    }
}

/// Quarantines `artifact` through the store, counts it, and runs the hook.
async fn quarantine(
    store: &dyn Store,
    artifact: &StoredArtifact,
    why: &str,
    hook: Option<OnQuarantine>,
) {
    metrics::counter!("goward_verification_failures_total", "reason" => "cache_digest_mismatch")
        .increment(1);
    if let Some(hook) = hook {
        hook().await;
    }
    if let Err(e) = store.quarantine(artifact, why).await {
        tracing::error!(module = %artifact.module, version = %artifact.version, "quarantine failed: {e}");
    }
}

impl VerifiedRead {
    /// Opens `artifact`'s blob; one that cannot be opened is quarantined.
    pub(crate) async fn open(
        store: Arc<dyn Store>,
        artifact: Arc<StoredArtifact>,
        on_quarantine: Option<OnQuarantine>,
    ) -> Result<VerifiedRead, ReadError> {
        match store.open_blob(&artifact).await {
            Ok(blob) => Ok(VerifiedRead {
                store,
                artifact,
                blob,
                on_quarantine,
            }),
            Err(super::StoreError::Unavailable { op, key, detail }) => {
                Err(ReadError::Unavailable { op, key, detail })
            }
            Err(e) => {
                let why = format!("cached {} is unreadable: {e}", artifact.kind.as_str());
                quarantine(&*store, &artifact, &why, on_quarantine).await;
                Err(ReadError::Quarantined(why))
            }
        }
    }

    /// The re-checked artifact being read.
    pub(crate) fn artifact(&self) -> &Arc<StoredArtifact> {
        &self.artifact
    }

    /// The whole blob, returned only once its digest matched. An unreadable
    /// blob is quarantined too.
    pub(crate) async fn read_all(self) -> Result<Bytes, ReadError> {
        let mut pieces = Box::pin(self.pieces(None, true));
        let mut first: Option<Bytes> = None;
        let mut rest = BytesMut::new();
        while let Some(piece) = pieces.next().await {
            let piece = piece?;
            match &first {
                None => first = Some(piece),
                Some(f) => {
                    if rest.is_empty() {
                        rest.extend_from_slice(f);
                    }
                    rest.extend_from_slice(&piece);
                }
            }
        }
        Ok(if rest.is_empty() {
            first.unwrap_or_default()
        } else {
            rest.freeze()
        })
    }

    /// The bytes of `range` (inclusive; `None`: all of them) as a stream.
    /// The blob is read whole and hashed; the last piece comes only after
    /// the digest matched, else the stream ends with an error (after the
    /// blob was quarantined).
    pub(crate) fn stream(
        self,
        range: Option<(u64, u64)>,
    ) -> impl Stream<Item = std::io::Result<Bytes>> + Send + 'static {
        self.pieces(range, false)
            .map(|r| r.map_err(std::io::Error::other))
    }

    /// Copies the whole blob into `file`; the last piece is written only
    /// after the digest matched. On error the file holds a partial copy.
    pub(crate) async fn copy_to(self, file: &mut tokio::fs::File) -> Result<(), ReadError> {
        let mut pieces = Box::pin(self.pieces(None, false));
        while let Some(piece) = pieces.next().await {
            file.write_all(&piece?)
                .await
                .map_err(|e| ReadError::Interrupted(e.to_string()))?;
        }
        file.flush()
            .await
            .map_err(|e| ReadError::Interrupted(e.to_string()))
    }

    /// The stream behind every read; `quarantine_unreadable`: a read error
    /// quarantines the blob too (a local store's read errors do not heal).
    fn pieces(
        self,
        range: Option<(u64, u64)>,
        quarantine_unreadable: bool,
    ) -> impl Stream<Item = Result<Bytes, ReadError>> + Send + 'static {
        let size = self.artifact.size;
        let (start, end) = range.unwrap_or((0, size.saturating_sub(1)));
        let st = State {
            store: self.store,
            artifact: self.artifact,
            reader: self.blob.reader,
            hook: self.on_quarantine,
            quarantine_unreadable,
            hasher: Sha256::new(),
            pos: 0,
            start,
            end,
            held: None,
            // A small blob is read in one step (and a second that finds the end).
            buf: vec![0; usize::try_from(size.saturating_add(1)).map_or(CHUNK, |n| n.min(CHUNK))],
            done: false,
        };
        futures_util::stream::unfold(st, |mut st| async move {
            if st.done {
                return None;
            }
            loop {
                let n = match st.reader.read(&mut st.buf).await {
                    Ok(n) => n,
                    Err(e) => {
                        st.done = true;
                        let kind = st.artifact.kind.as_str();
                        if st.quarantine_unreadable {
                            let why = format!("cached {kind} is unreadable: {e}");
                            quarantine(&*st.store, &st.artifact, &why, st.hook.take()).await;
                            return Some((Err(ReadError::Quarantined(why)), st));
                        }
                        return Some((Err(ReadError::Interrupted(e.to_string())), st));
                    }
                };
                let chunk = st.buf.get(..n).unwrap_or_default();
                st.hasher.update(chunk);
                let (lo, hi) = (st.pos, st.pos.saturating_add(n as u64));
                st.pos = hi;
                // At the end, or past the recorded size (can never match).
                if n == 0 || st.pos > st.artifact.size {
                    st.done = true;
                    let digest = hex(&st.hasher.clone().finalize());
                    if n == 0 && st.pos == st.artifact.size && digest == st.artifact.sha256 {
                        return st.held.take().map(|b| (Ok(b), st));
                    }
                    let why = format!(
                        "cached {} failed its digest check while being read ({}{} bytes, sha256 {digest}; expected {} bytes, sha256 {})",
                        st.artifact.kind.as_str(),
                        if n == 0 { "" } else { "over " },
                        st.pos,
                        st.artifact.size,
                        st.artifact.sha256
                    );
                    quarantine(&*st.store, &st.artifact, &why, st.hook.take()).await;
                    return Some((Err(ReadError::Quarantined(why)), st));
                }
                let s = st.start.max(lo);
                let e = st.end.saturating_add(1).min(hi);
                if s < e {
                    let piece = chunk
                        .get((s - lo) as usize..(e - lo) as usize)
                        .map(Bytes::copy_from_slice)
                        .unwrap_or_default();
                    if let Some(prev) = st.held.replace(piece) {
                        return Some((Ok(prev), st));
                    }
                }
            }
        })
    }
}

struct State {
    store: Arc<dyn Store>,
    artifact: Arc<StoredArtifact>,
    reader: std::pin::Pin<Box<dyn tokio::io::AsyncRead + Send>>,
    hook: Option<OnQuarantine>,
    quarantine_unreadable: bool,
    hasher: Sha256,
    pos: u64,
    start: u64,
    end: u64,
    held: Option<Bytes>,
    buf: Vec<u8>,
    done: bool,
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;
    use crate::cache::testing::*;
    use crate::cache::{Created, DiskStore};

    /// A store holding a proven go.mod of `len` bytes.
    async fn stored(
        dir: &std::path::Path,
        len: usize,
    ) -> (Arc<dyn Store>, Arc<StoredArtifact>, String) {
        let (disk, _) = DiskStore::open(dir.join("cache")).unwrap();
        let text = go_mod_text(len);
        let policy = pinning(dir, &text);
        let Created::New(a) = disk.create_mod(verified_mod(&text, &policy)).await.unwrap() else {
            panic!("first create must write")
        };
        (Arc::new(disk), Arc::new(a), text)
    }

    /// Flips a byte near the end of the blob, keeping its length.
    fn tamper(store: &dyn Store, a: &StoredArtifact) {
        let path = store.blob_location(&a.sha256);
        let mut b = std::fs::read(&path).unwrap();
        let i = b.len() - 2;
        b[i] ^= 1;
        std::fs::write(&path, b).unwrap();
    }

    fn hook(flag: &Arc<AtomicBool>) -> Option<OnQuarantine> {
        let flag = flag.clone();
        Some(Box::new(move || {
            Box::pin(async move { flag.store(true, Ordering::SeqCst) })
        }))
    }

    #[tokio::test]
    async fn intact_blobs_are_read_whole_or_in_ranges() {
        for len in [100, 200 << 10, 600 << 10] {
            let dir = tempfile::tempdir().unwrap();
            let (store, a, text) = stored(dir.path(), len).await;
            let r = VerifiedRead::open(store.clone(), a.clone(), None)
                .await
                .unwrap();
            assert_eq!(r.read_all().await.unwrap(), text.as_bytes(), "{len}");
            let r = VerifiedRead::open(store.clone(), a.clone(), None)
                .await
                .unwrap();
            let (start, end) = (7u64, (text.len() - 3) as u64);
            let got: Vec<Bytes> = r
                .stream(Some((start, end)))
                .map(|p| p.unwrap())
                .collect()
                .await;
            assert_eq!(got.concat(), &text.as_bytes()[7..text.len() - 2], "{len}");
        }
    }

    /// A blob changed on storage: the stream sends every piece but the
    /// last, then fails; the blob and its record are quarantined and the
    /// caller's hook ran.
    #[tokio::test]
    async fn a_tampered_blob_is_quarantined_and_its_last_piece_never_sent() {
        let dir = tempfile::tempdir().unwrap();
        let (store, a, text) = stored(dir.path(), 300 << 10).await;
        tamper(&*store, &a);
        let forgot = Arc::new(AtomicBool::new(false));
        let r = VerifiedRead::open(store.clone(), a.clone(), hook(&forgot))
            .await
            .unwrap();
        let items: Vec<std::io::Result<Bytes>> = r.stream(None).collect().await;
        let (last, sent) = items.split_last().unwrap();
        let e = last.as_ref().unwrap_err();
        assert!(e.to_string().contains("failed its digest check"), "{e}");
        let sent: Vec<u8> = sent
            .iter()
            .flat_map(|p| p.as_ref().unwrap().to_vec())
            .collect();
        assert!(
            !sent.is_empty() && sent.len() < text.len(),
            "{} bytes sent",
            sent.len()
        );
        assert_eq!(sent, &text.as_bytes()[..sent.len()]);
        assert!(forgot.load(Ordering::SeqCst));
        assert_eq!(store.record(&mod_id()).await.unwrap(), None);
        assert!(!std::path::Path::new(&store.blob_location(&a.sha256)).exists());
    }

    /// A whole read of a tampered blob gives nothing and quarantines it.
    #[tokio::test]
    async fn a_tampered_small_blob_gives_no_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let (store, a, _) = stored(dir.path(), 100).await;
        tamper(&*store, &a);
        let forgot = Arc::new(AtomicBool::new(false));
        let r = VerifiedRead::open(store.clone(), a.clone(), hook(&forgot))
            .await
            .unwrap();
        match r.read_all().await {
            Err(ReadError::Quarantined(why)) => assert!(why.contains("digest"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(forgot.load(Ordering::SeqCst));
        assert_eq!(store.record(&mod_id()).await.unwrap(), None);
        // A missing blob cannot even be opened, and is quarantined too.
        let forgot = Arc::new(AtomicBool::new(false));
        let e = VerifiedRead::open(store.clone(), a.clone(), hook(&forgot))
            .await
            .unwrap_err();
        assert!(matches!(e, ReadError::Quarantined(_)), "{e:?}");
        assert!(forgot.load(Ordering::SeqCst));
    }
}
