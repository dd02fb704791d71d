//! `file://` upstreams: a static directory tree laid out as a proxy, such as
//! `$GOMODCACHE/cache/download` (go-protocol.md §1.6; mod.md "file:// proxies").

use std::io;
use std::path::{Path, PathBuf};

use bytes::BytesMut;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use reqwest::Url;
use tokio::io::AsyncReadExt;
use tokio::time::Instant;

use super::{
    Body, FetchError, FetchErrorKind, FetchLimits, Upstream, UpstreamConfigError, check_rel,
    redact_str,
};

/// Bytes read from disk per body chunk.
const CHUNK: usize = 64 << 10;

/// A proxy served from a local directory. As cmd/go web/http.go `getFile`: a missing file is
/// a 404, a permission error a 403, a present file a 200.
#[derive(Debug)]
pub struct FileUpstream {
    dir: PathBuf,
    shown: String,
    limits: FetchLimits,
}

impl FileUpstream {
    /// An upstream serving the tree under `dir` (which should be absolute).
    pub fn new(dir: impl Into<PathBuf>, limits: &FetchLimits) -> FileUpstream {
        let dir = dir.into();
        let shown = Url::from_file_path(&dir)
            .map_or_else(|()| format!("file://{}", dir.display()), |u| u.to_string());
        FileUpstream {
            dir,
            shown,
            limits: limits.clone(),
        }
    }

    /// From a `file:` list entry, which may hold only an absolute path (cmd/go proxy.go
    /// `newProxyRepo`: `file://host/...`, user, port, query, fragment and opaque forms such as
    /// `file:dir` are refused). `raw` is the entry as written; `url` its parse.
    pub(crate) fn from_url(
        raw: &str,
        url: &Url,
        limits: &FetchLimits,
    ) -> Result<FileUpstream, UpstreamConfigError> {
        let bad = || UpstreamConfigError::FileNotPath {
            entry: redact_str(raw),
        };
        // The URL parser normalizes `file://localhost/x` and `file:x` into plain paths, so
        // the "path only" rule is checked on the text: after `file:` comes `/`, and after
        // `file://` comes another `/` (an empty host).
        let after_scheme = raw.get(5..).ok_or_else(bad)?;
        let path_only = match after_scheme.strip_prefix("//") {
            Some(rest) => rest.starts_with('/'),
            None => after_scheme.starts_with('/'),
        };
        if !path_only
            || url.host_str().is_some_and(|h| !h.is_empty())
            || !url.username().is_empty()
            || url.password().is_some()
            || url.port().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(bad());
        }
        let dir = url.to_file_path().map_err(|()| bad())?;
        Ok(FileUpstream {
            dir,
            shown: url.to_string(),
            limits: limits.clone(),
        })
    }

    /// The directory served.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    async fn fetch(&self, rel: &str) -> Result<Body, FetchError> {
        let shown = format!("{}/{rel}", self.shown.trim_end_matches('/'));
        if let Err(why) = check_rel(rel) {
            return Err(FetchError::new(FetchErrorKind::InvalidPath, shown).with_detail(why));
        }
        let total = self.limits.total_timeout(rel);
        let deadline = Instant::now() + total;
        let path = self.dir.join(rel);
        let opened = tokio::time::timeout_at(deadline, async {
            let file = tokio::fs::File::open(&path).await?;
            let meta = file.metadata().await?;
            Ok::<_, io::Error>((file, meta))
        })
        .await;
        let (file, meta) = match opened {
            Ok(Ok(opened)) => opened,
            Ok(Err(e)) => return Err(open_error(&e, shown)),
            Err(_) => {
                return Err(FetchError::new(FetchErrorKind::Timeout, shown)
                    .with_detail(format!("file not opened within {total:?}")));
            }
        };
        if !meta.is_file() {
            return Err(
                FetchError::new(FetchErrorKind::Io, shown).with_detail("not a regular file")
            );
        }
        let err_url = shown.clone();
        let stream = futures_util::stream::unfold(Some(file), move |state| {
            let err_url = err_url.clone();
            async move {
                let mut file = state?;
                let mut buf = BytesMut::with_capacity(CHUNK);
                match file.read_buf(&mut buf).await {
                    Ok(0) => None,
                    Ok(_) => Some((Ok(buf.freeze()), Some(file))),
                    Err(e) => Some((
                        Err(FetchError::new(FetchErrorKind::Io, err_url)
                            .with_detail(format!("reading file: {e}"))),
                        None,
                    )),
                }
            }
        })
        .boxed();
        Ok(Body::from_stream(
            shown,
            Some(meta.len()),
            stream,
            self.limits.idle_timeout,
            deadline,
            total,
        ))
    }
}

/// web/http.go `getFile`: not-exist → 404, permission → 403, anything else is an error.
/// A non-directory in the middle of the path (ENOTDIR) also means the file does not exist.
fn open_error(e: &io::Error, url: String) -> FetchError {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => FetchError::new(
            FetchErrorKind::NotFound {
                status: 404,
                message: String::new(),
            },
            url,
        ),
        io::ErrorKind::PermissionDenied => {
            FetchError::new(FetchErrorKind::Status(403), url).with_detail(e.to_string())
        }
        _ => FetchError::new(FetchErrorKind::Io, url).with_detail(format!("opening file: {e}")),
    }
}

impl Upstream for FileUpstream {
    fn base(&self) -> &str {
        &self.shown
    }

    fn get<'a>(&'a self, rel: &'a str) -> BoxFuture<'a, Result<Body, FetchError>> {
        Box::pin(self.fetch(rel))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{client, limits};
    use super::super::{Fallback, ProxyList};
    use super::*;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let v = dir.path().join("example.com/!m/@v");
        std::fs::create_dir_all(&v).unwrap();
        std::fs::write(v.join("list"), "v1.0.0\nv1.1.0\n").unwrap();
        std::fs::write(v.join("v1.0.0.zip"), vec![7u8; 200_000]).unwrap();
        dir
    }

    #[tokio::test]
    async fn present_file() {
        let dir = tree();
        let up = FileUpstream::new(dir.path(), &limits());
        let body = up.get("example.com/!m/@v/list").await.unwrap();
        assert_eq!(body.content_length(), Some(14));
        assert_eq!(&body.bytes(1 << 10).await.unwrap()[..], b"v1.0.0\nv1.1.0\n");
    }

    #[tokio::test]
    async fn large_file_streams_to_file_and_respects_cap() {
        let dir = tree();
        let up = FileUpstream::new(dir.path(), &limits());
        let out = tempfile::NamedTempFile::new().unwrap();
        let mut dst = tokio::fs::File::create(out.path()).await.unwrap();
        let n = up
            .get("example.com/!m/@v/v1.0.0.zip")
            .await
            .unwrap()
            .write_to(&mut dst, 1 << 20)
            .await
            .unwrap();
        assert_eq!(n, 200_000);
        assert_eq!(std::fs::read(out.path()).unwrap(), vec![7u8; 200_000]);
        let e = up
            .get("example.com/!m/@v/v1.0.0.zip")
            .await
            .unwrap()
            .bytes(1000)
            .await
            .unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::TooLarge { limit: 1000 });
    }

    #[tokio::test]
    async fn missing_file_is_not_found() {
        let dir = tree();
        let up = FileUpstream::new(dir.path(), &limits());
        for rel in [
            "example.com/!m/@v/v9.9.9.info",
            "example.com/other/@v/list",
            // ENOTDIR: "list" is a file, not a directory.
            "example.com/!m/@v/list/x",
            // `..` inside a segment is a legal module path element, so it is looked up.
            "example.com/a..b/@v/list",
        ] {
            let e = up.get(rel).await.unwrap_err();
            assert_eq!(
                e.kind,
                FetchErrorKind::NotFound {
                    status: 404,
                    message: String::new()
                },
                "{rel}: {e}"
            );
        }
    }

    #[tokio::test]
    async fn directory_is_an_error() {
        let dir = tree();
        let up = FileUpstream::new(dir.path(), &limits());
        let e = up.get("example.com/!m/@v").await.unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::Io, "{e}");
    }

    #[tokio::test]
    async fn traversal_is_rejected() {
        let outer = tempfile::tempdir().unwrap();
        std::fs::write(outer.path().join("secret"), "s").unwrap();
        let inner = outer.path().join("proxy");
        std::fs::create_dir(&inner).unwrap();
        let up = FileUpstream::new(&inner, &limits());
        let abs = outer.path().join("secret");
        let abs = abs.to_str().unwrap();
        for rel in [
            "../secret",
            "a/../../secret",
            abs,
            "..\\secret",
            "a\0b",
            "%2e%2e/secret",
            "",
        ] {
            let e = up.get(rel).await.unwrap_err();
            assert_eq!(e.kind, FetchErrorKind::InvalidPath, "{rel:?}: {e}");
            assert_eq!(e.reason(), "invalid_path");
        }
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn permission_denied_is_403() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tree();
        let p = dir.path().join("example.com/!m/@v/list");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o000)).unwrap();
        if std::fs::File::open(&p).is_ok() {
            // Running as root: permissions are not enforced, so there is nothing to test.
            eprintln!("skipping permission test: running with CAP_DAC_OVERRIDE");
            return;
        }
        let up = FileUpstream::new(dir.path(), &limits());
        let e = up.get("example.com/!m/@v/list").await.unwrap_err();
        assert_eq!(e.kind, FetchErrorKind::Status(403), "{e}");
    }

    #[test]
    fn open_errors_map_like_get_file() {
        let url = || "file:///p/x".to_string();
        let e = open_error(&io::Error::from(io::ErrorKind::PermissionDenied), url());
        assert_eq!(e.kind, FetchErrorKind::Status(403));
        assert!(
            e.to_string().starts_with("GET file:///p/x: 403 Forbidden"),
            "{e}"
        );
        let e = open_error(&io::Error::from(io::ErrorKind::NotFound), url());
        assert!(e.is_not_found());
        let e = open_error(&io::Error::other("disk on fire"), url());
        assert_eq!(e.kind, FetchErrorKind::Io);
        assert!(e.to_string().contains("disk on fire"), "{e}");
    }

    #[tokio::test]
    async fn file_list_entry() {
        let dir = tree();
        let spec = format!(" file://{} ", dir.path().display());
        let list = ProxyList::parse(&spec, &client()).unwrap();
        let entries: Vec<_> = list.entries().collect();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].1, Fallback::NotFoundOnly);
        assert_eq!(
            entries[0].0.base(),
            format!("file://{}", dir.path().display())
        );
        let (body, i) = list.get("example.com/!m/@v/list").await.unwrap();
        assert_eq!(i, 0);
        assert_eq!(
            body.url(),
            format!("file://{}/example.com/!m/@v/list", dir.path().display())
        );
        assert_eq!(&body.bytes(100).await.unwrap()[..], b"v1.0.0\nv1.1.0\n");
    }
}
