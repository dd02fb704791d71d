//! `file://` upstreams: a static directory tree laid out as a proxy, such as
//! `$GOMODCACHE/cache/download` (go-protocol.md §1.6; mod.md "file:// proxies").

use std::io;
use std::path::{Component, Path, PathBuf};

use bytes::BytesMut;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use reqwest::Url;
use tokio::io::AsyncReadExt;

use super::{
    Body, FetchError, FetchErrorKind, FetchLimits, Upstream, UpstreamConfigError, check_rel,
    redact_str,
};

/// Bytes read from disk per body chunk.
const CHUNK: usize = 64 << 10;

/// A proxy served from a local directory. As cmd/go web/http.go `getFile`: a missing file is
/// a 404, a permission error a 403, a present file a 200.
#[derive(Debug)]
pub(crate) struct FileUpstream {
    dir: PathBuf,
    shown: String,
    limits: FetchLimits,
}

impl FileUpstream {
    /// An upstream serving the tree under `dir` (which should be absolute).
    pub(crate) fn new(dir: impl Into<PathBuf>, limits: &FetchLimits) -> FileUpstream {
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
    /// `file:dir` are refused). The path becomes a directory as cmd/go web/url.go
    /// `urlToFilePath` does it: `file:///srv/goproxy` is `/srv/goproxy` on Unix; on Windows
    /// the path must start with a drive, `file:///C:/goproxy` being `C:\goproxy`. `raw` is
    /// the entry as written; `url` its parse.
    pub(crate) fn from_url(
        raw: &str,
        url: &Url,
        limits: &FetchLimits,
    ) -> Result<FileUpstream, UpstreamConfigError> {
        let bad = || UpstreamConfigError::FileNotPath {
            entry: redact_str(raw),
        };
        // The URL parser normalizes `file://localhost/x`, `file:x` and (as a Windows drive)
        // `file://C:/x` into plain paths, so the "path only" rule is checked on the text:
        // after `file:` comes `/`, and after `file://` comes another `/` (an empty host).
        let after_scheme = raw.get(5..).ok_or_else(bad)?;
        let path_only = match after_scheme.strip_prefix("//") {
            Some(rest) => {
                if cfg!(windows) && starts_with_drive(rest) {
                    // The drive is where the host goes: too few slashes.
                    return Err(UpstreamConfigError::FileNoDrive {
                        entry: redact_str(raw),
                    });
                }
                rest.starts_with('/')
            }
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
        // web/url_windows.go `convertFileURLPath`: without a host, the path is a drive and
        // a path on it. (`file:///C:` alone, drive-relative, is not absolute; it is refused
        // here because the URL crate's conversion assumes a `/` after the drive.)
        if cfg!(windows) {
            let path = url.path().strip_prefix('/').unwrap_or_default();
            if !starts_with_drive(path) {
                return Err(UpstreamConfigError::FileNoDrive {
                    entry: redact_str(raw),
                });
            }
            let drive_len = if path.as_bytes().get(1) == Some(&b':') {
                2
            } else {
                4
            };
            if !path[drive_len..].starts_with('/') {
                return Err(bad());
            }
        }
        let dir = url.to_file_path().map_err(|()| bad())?;
        // web/url.go `urlToFilePath` `checkAbs`.
        if !dir.is_absolute() {
            return Err(bad());
        }
        Ok(FileUpstream {
            dir,
            shown: url.to_string(),
            limits: limits.clone(),
        })
    }

    /// The local path of `rel`, one segment at a time. `check_rel` leaves only plain names
    /// on Unix; on Windows a segment could still be a drive (`C:`, which would replace the
    /// whole path) or name an NTFS alternate data stream (`list:x`), so `:` is refused there.
    fn local_path(&self, rel: &str) -> Result<PathBuf, &'static str> {
        let mut path = self.dir.clone();
        for seg in rel.split('/') {
            if cfg!(windows) && seg.contains(':') {
                return Err("path contains ':'");
            }
            let mut parts = Path::new(seg).components();
            if !matches!(
                (parts.next(), parts.next()),
                (Some(Component::Normal(name)), None) if name == seg
            ) {
                return Err("path segment is not a plain name");
            }
            path.push(seg);
        }
        Ok(path)
    }

    /// The directory served.
    #[cfg(test)]
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    async fn fetch(&self, rel: &str) -> Result<Body, FetchError> {
        let shown = format!("{}/{rel}", self.shown.trim_end_matches('/'));
        let path = match check_rel(rel).and_then(|()| self.local_path(rel)) {
            Ok(path) => path,
            Err(why) => {
                return Err(FetchError::new(FetchErrorKind::InvalidPath, shown).with_detail(why));
            }
        };
        let total = self.limits.total_timeout(rel);
        let deadline = super::deadline_after(total);
        let opened = tokio::time::timeout_at(
            deadline,
            tokio::task::spawn_blocking(move || open_regular(&path)),
        )
        .await;
        let (file, meta) = match opened {
            Ok(Ok(Ok(Some(opened)))) => opened,
            Ok(Ok(Ok(None))) => {
                return Err(
                    FetchError::new(FetchErrorKind::Io, shown).with_detail("not a regular file")
                );
            }
            Ok(Ok(Err(e))) => return Err(open_error(&e, shown)),
            Ok(Err(join)) => {
                return Err(FetchError::new(FetchErrorKind::Io, shown)
                    .with_detail(format!("opening file: {join}")));
            }
            Err(_) => {
                return Err(FetchError::new(FetchErrorKind::Timeout, shown)
                    .with_detail(format!("file not opened within {total:?}")));
            }
        };
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

/// Whether `rest` starts with a drive letter, `C:` or percent-encoded `C%3A`.
fn starts_with_drive(rest: &str) -> bool {
    let b = rest.as_bytes();
    b.first().is_some_and(u8::is_ascii_alphabetic)
        && (b.get(1) == Some(&b':')
            || rest
                .get(1..4)
                .is_some_and(|c| c.eq_ignore_ascii_case("%3a")))
}

/// Opens `path` if it is a regular file; `Ok(None)` if it is something else. A directory
/// (or FIFO, device...) is recognized before it is opened: Windows refuses to open a
/// directory with "access denied", which would read as a 403 rather than the error it is.
/// Permission errors still come from the open itself, as before. The check after the open
/// catches a file replaced in between.
fn open_regular(path: &Path) -> io::Result<Option<(tokio::fs::File, std::fs::Metadata)>> {
    if !std::fs::metadata(path)?.is_file() {
        return Ok(None);
    }
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(None);
    }
    Ok(Some((tokio::fs::File::from_std(file), meta)))
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
        for rel in ["example.com/!m/@v", "example.com"] {
            let e = up.get(rel).await.unwrap_err();
            assert_eq!(e.kind, FetchErrorKind::Io, "{rel}: {e}");
            assert!(e.to_string().contains("not a regular file"), "{rel}: {e}");
        }
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
        // On Windows a drive in any segment would replace the directory served, and
        // `name:stream` is an NTFS alternate data stream. On Unix these are plain (missing)
        // names.
        for rel in ["C:/secret", "a/C:/secret", "C:secret", "secret:x"] {
            let e = up.get(rel).await.unwrap_err();
            if cfg!(windows) {
                assert_eq!(e.kind, FetchErrorKind::InvalidPath, "{rel:?}: {e}");
            } else {
                assert!(e.is_not_found(), "{rel:?}: {e}");
            }
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
        // file:///tmp/x on Unix, file:///C:/Users/.../x on Windows.
        let url = Url::from_file_path(dir.path()).unwrap().to_string();
        let spec = format!(" {url} ");
        let list = ProxyList::parse(&spec, &client()).unwrap();
        let entries: Vec<_> = list.entries().collect();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].1, Fallback::NotFoundOnly);
        assert_eq!(entries[0].0.base(), url);
        let (body, i) = list.get("example.com/!m/@v/list").await.unwrap();
        assert_eq!(i, 0);
        assert_eq!(body.url(), format!("{url}/example.com/!m/@v/list"));
        assert_eq!(&body.bytes(100).await.unwrap()[..], b"v1.0.0\nv1.1.0\n");
        // The same entry as FileUpstream::new shows it.
        assert_eq!(FileUpstream::new(dir.path(), &limits()).base(), url);
    }

    fn from_raw(raw: &str) -> Result<FileUpstream, UpstreamConfigError> {
        let url = Url::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
        FileUpstream::from_url(raw, &url, &limits())
    }

    /// web/url.go `urlToFilePath`: the path as is on Unix (url_other.go), a drive and a
    /// path on Windows (url_windows.go).
    #[test]
    fn file_urls_to_dirs() {
        #[cfg(not(windows))]
        let cases = [
            ("file:///srv/goproxy", "/srv/goproxy"),
            ("file:/srv/goproxy", "/srv/goproxy"),
            ("file:///srv/go%20proxy/", "/srv/go proxy/"),
            // Not a drive on Unix: a directory named "C:".
            ("file:///C:/goproxy", "/C:/goproxy"),
        ];
        #[cfg(windows)]
        let cases = [
            ("file:///C:/goproxy", r"C:\goproxy"),
            ("file:/C:/goproxy", r"C:\goproxy"),
            ("file:///c:/go%20proxy/", r"c:\go proxy\"),
            ("file:///C%3A/goproxy", r"C:\goproxy"),
            ("file:///D:/", r"D:\"),
        ];
        for (raw, want) in cases {
            let up = from_raw(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(up.dir(), Path::new(want), "{raw}");
        }
    }

    #[cfg(windows)]
    #[test]
    fn windows_file_urls_need_a_drive() {
        type Check = fn(&UpstreamConfigError) -> bool;
        let no_drive: Check = |e| matches!(e, UpstreamConfigError::FileNoDrive { .. });
        let not_path: Check = |e| matches!(e, UpstreamConfigError::FileNotPath { .. });
        for (raw, check) in [
            // url_windows.go: "file URL missing drive letter".
            ("file:///srv/goproxy", no_drive),
            ("file:/srv/goproxy", no_drive),
            ("file:///", no_drive),
            ("file:////server/share/goproxy", no_drive),
            // "file URL encodes volume in host field: too few slashes?"
            ("file://C:/goproxy", no_drive),
            ("file://C:\\goproxy", no_drive),
            // Drive-relative: not absolute (url.go `checkAbs`).
            ("file:///C:", not_path),
            ("file:///C:goproxy", not_path),
            // UNC hosts are refused like any host (proxy.go `newProxyRepo`).
            ("file://server/share/goproxy", not_path),
        ] {
            match from_raw(raw) {
                Ok(up) => panic!("{raw}: accepted as {}", up.dir().display()),
                Err(e) => assert!(check(&e), "{raw}: wrong error {e:?}"),
            }
        }
        let e = from_raw("file:///srv").unwrap_err().to_string();
        assert!(e.contains("file:///C:/goproxy"), "{e}");
    }
}
