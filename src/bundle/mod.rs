//! Air-gapped bundles: `goward bundle export` writes what the cache holds as
//! a plain `GOPROXY=file://` tree (module files and the checksum-database
//! pieces the go command reads, every lookup signed at one tree size) plus a
//! manifest; `goward bundle import` re-proves all of it on the inside before
//! anything lands.
//!
//! Both sides go through the ordinary pipeline ([`crate::service::Service`]
//! and [`crate::sumdb::SumdbClient`]): export reads through the same offline
//! view `serve --offline` answers from, and import fills a cache through the
//! same verification as a live upstream, with the bundle as the only
//! upstream. The manifest is never trusted: it only says which files to
//! expect and their digests.

#![deny(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

pub(crate) mod cli;
pub(crate) mod export;
pub(crate) mod import;
mod spool;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The manifest's file name at the bundle root.
pub(crate) const MANIFEST: &str = "goward-bundle.json";

/// The manifest format this build writes and reads.
pub(crate) const FORMAT: u32 = 1;

/// The largest manifest read (a bundle of 100 000 versions lists well under this).
const MAX_MANIFEST: u64 = 256 << 20;

/// A bundle's table of contents. Untrusted on import: every file is checked
/// against it and every artifact re-proven regardless.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// The goward version that wrote it.
    pub goward: String,
    /// Unix seconds at export.
    pub created: u64,
    /// Each checksum database's signed tree head that every lookup in the bundle carries.
    pub sumdb: Vec<ManifestDb>,
    /// For an incremental bundle: the tree sizes of the previous export it extends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Vec<ManifestDb>>,
    /// The module versions the bundle carries files of.
    pub modules: Vec<ModuleVersionEntry>,
    /// Every file of the bundle but the manifest.
    pub files: Vec<FileEntry>,
}

/// A checksum database's head in a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ManifestDb {
    /// Database name.
    pub name: String,
    /// Tree size.
    pub size: u64,
    /// The signed tree note (text).
    pub head: String,
}

/// A module version in a manifest.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct ModuleVersionEntry {
    /// Module path.
    pub path: String,
    /// Canonical version.
    pub version: String,
}

/// A file in a manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FileEntry {
    /// `/`-separated path relative to the bundle root.
    pub path: String,
    /// Lowercase hex SHA-256.
    pub sha256: String,
    /// Bytes.
    pub size: u64,
}

/// Why a bundle could not be written or read (I/O and format; refusals of
/// content are listed per item, see [`import::ImportReport`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum BundleError {
    /// Reading or writing a file failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The manifest is missing, does not parse, or is of another format.
    #[error("bundle manifest {path}: {msg}")]
    Manifest { path: PathBuf, msg: String },
    /// A tar bundle that ends early or is damaged.
    #[error("bundle {path} is truncated or damaged: {msg}")]
    Tar { path: PathBuf, msg: String },
    /// The cache could not be opened or read.
    #[error(transparent)]
    Store(#[from] crate::cache::StoreError),
    /// The pipeline could not be built.
    #[error(transparent)]
    Start(#[from] crate::pipeline::StartError),
    /// Anything else, named.
    #[error("{0}")]
    Other(String),
}

pub(crate) fn io_err(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BundleError {
    let path = path.to_path_buf();
    move |source| BundleError::Io { op, path, source }
}

impl Manifest {
    /// Parses and validates a manifest: format, and every path (see [`check_path`]),
    /// with no duplicates and no two paths equal up to case. The files come
    /// out sorted ([`Manifest::file`] finds one without an index beside them).
    pub(crate) fn parse(bytes: &[u8], origin: &Path) -> Result<Manifest, BundleError> {
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| BundleError::Manifest {
            path: origin.to_path_buf(),
            msg: e.to_string(),
        })?;
        m.validated(origin)
    }

    /// [`Manifest::parse`] from a reader, reading at most [`MAX_MANIFEST`]
    /// bytes and never holding the text whole.
    pub(crate) fn parse_reader(r: impl Read, origin: &Path) -> Result<Manifest, BundleError> {
        let bad = |msg: String| BundleError::Manifest {
            path: origin.to_path_buf(),
            msg,
        };
        let mut limited = std::io::BufReader::new(r.take(MAX_MANIFEST.saturating_add(1)));
        let parsed: Result<Manifest, _> = serde_json::from_reader(&mut limited);
        if limited.get_ref().limit() == 0 {
            return Err(bad(format!("larger than {MAX_MANIFEST} bytes")));
        }
        match parsed {
            Ok(m) => m.validated(origin),
            // Reading failed (a damaged tar, a disk error): not the manifest's fault.
            Err(e) if e.is_io() => Err(io_err("read", origin)(e.into())),
            Err(e) => Err(bad(e.to_string())),
        }
    }

    fn validated(mut self, origin: &Path) -> Result<Manifest, BundleError> {
        let bad = |msg: String| BundleError::Manifest {
            path: origin.to_path_buf(),
            msg,
        };
        if self.format != FORMAT {
            return Err(bad(format!(
                "format {} is not supported (this goward reads format {FORMAT})",
                self.format
            )));
        }
        for f in &self.files {
            check_path(&f.path).map_err(|e| bad(format!("file {:?}: {e}", f.path)))?;
            if f.path == MANIFEST {
                return Err(bad(format!("file {MANIFEST:?} lists the manifest itself")));
            }
            if !crate::cache::disk::is_sha256_hex(&f.sha256) {
                return Err(bad(format!(
                    "file {:?}: sha256 {:?} is not a lowercase hex SHA-256",
                    f.path, f.sha256
                )));
            }
        }
        // Sorted case-insensitively first, paths equal up to case are
        // neighbours: no set of every path is needed to find them.
        self.files.sort_by(|a, b| path_order(&a.path, &b.path));
        for pair in self.files.windows(2) {
            if let [a, b] = pair
                && a.path.eq_ignore_ascii_case(&b.path)
            {
                return Err(bad(format!(
                    "file {:?} is listed twice (paths equal up to case collide on Windows and macOS)",
                    b.path
                )));
            }
        }
        Ok(self)
    }

    /// Reads the manifest file of a bundle directory.
    pub(crate) fn read(path: &Path) -> Result<Manifest, BundleError> {
        let f = std::fs::File::open(path).map_err(io_err("open", path))?;
        Manifest::parse_reader(f, path)
    }

    /// The file listed at `path`, in a manifest as [`Manifest::parse`]
    /// leaves it (files sorted; a binary search, no index in memory).
    pub(crate) fn file(&self, path: &str) -> Option<&FileEntry> {
        self.files
            .binary_search_by(|f| path_order(&f.path, path))
            .ok()
            .and_then(|i| self.files.get(i))
    }
}

/// The order of a parsed manifest's files: case-insensitive first (paths
/// are ASCII, [`check_path`]), then exact.
fn path_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.bytes()
        .map(|c| c.to_ascii_lowercase())
        .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
        .then_with(|| a.cmp(b))
}

/// A bundle path must be relative, `/`-separated plain names of safe
/// characters: no `..`, `.`, empty segment, backslash, drive or leading `/`.
pub(crate) fn check_path(p: &str) -> Result<(), String> {
    if p.is_empty() {
        return Err("empty path".into());
    }
    if p.len() > 1024 {
        return Err("path longer than 1024 bytes".into());
    }
    if p.starts_with('/') {
        return Err("absolute path".into());
    }
    if let Some(c) = p.chars().find(|c| {
        !(c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '-' | '_' | '~' | '!' | '@' | '+'))
    }) {
        return Err(format!("character {c:?} is not allowed"));
    }
    for seg in p.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return Err(format!("path segment {seg:?} is not allowed"));
        }
    }
    Ok(())
}

/// A writer that hashes and counts what passes through.
pub(crate) struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> HashingWriter<W> {
    pub(crate) fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// The inner writer, the hex SHA-256 and the byte count.
    pub(crate) fn finish(self) -> (W, String, u64) {
        (self.inner, hex(&self.hasher.finalize()), self.size)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        let done = buf.get(..n).unwrap_or_default();
        self.hasher.update(done);
        self.size = self
            .size
            .saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Lowercase hex.
pub(crate) fn hex(b: &[u8]) -> String {
    use std::fmt::Write as _;
    b.iter().fold(
        String::with_capacity(b.len().saturating_mul(2)),
        |mut s, x| {
            let _ = write!(s, "{x:02x}");
            s
        },
    )
}

/// Hex SHA-256 of bytes.
pub(crate) fn sha256_hex(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

pub(crate) use crate::service::bundle_signature_path as signature_path;

/// The local path of a checked bundle path under `root`, joined part by
/// part (the disk store's one helper, so separators are the platform's).
pub(crate) use crate::cache::disk::local_path as local;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn bundle_paths_are_plain_relative_names() {
        for ok in [
            "example.com/m/@v/v1.0.0.zip",
            "sumdb/sum.golang.org/lookup/example.com/!m@v1.0.0",
            "sumdb/sum.golang.org/tile/8/0/x001/234.p/5",
        ] {
            assert_eq!(check_path(ok), Ok(()), "{ok}");
        }
        for (bad, why) in [
            ("", "empty path"),
            ("/etc/passwd", "absolute path"),
            ("a/../b", "path segment \"..\" is not allowed"),
            ("a/./b", "path segment \".\" is not allowed"),
            ("a//b", "path segment \"\" is not allowed"),
            ("a\\b", "character '\\\\' is not allowed"),
            ("C:/x", "character ':' is not allowed"),
        ] {
            assert_eq!(check_path(bad), Err(why.to_owned()), "{bad}");
        }
    }

    #[test]
    fn a_manifest_with_colliding_or_unsafe_paths_is_refused() {
        let file = |p: &str| FileEntry {
            path: p.into(),
            sha256: "0".repeat(64),
            size: 0,
        };
        let m = |files: Vec<FileEntry>| Manifest {
            format: FORMAT,
            goward: "test".into(),
            created: 0,
            sumdb: vec![],
            since: None,
            modules: vec![],
            files,
        };
        let parse = |m: &Manifest| {
            Manifest::parse(&serde_json::to_vec(m).unwrap(), Path::new("b.json"))
                .map_err(|e| e.to_string())
        };
        assert!(parse(&m(vec![file("a/b")])).is_ok());
        assert_eq!(
            parse(&m(vec![file("a/B"), file("a/b")])).unwrap_err(),
            "bundle manifest b.json: file \"a/b\" is listed twice (paths equal up to case collide on Windows and macOS)"
        );
        assert_eq!(
            parse(&m(vec![file("../x")])).unwrap_err(),
            "bundle manifest b.json: file \"../x\": path segment \"..\" is not allowed"
        );
        let mut other = m(vec![]);
        other.format = 9;
        assert_eq!(
            parse(&other).unwrap_err(),
            "bundle manifest b.json: format 9 is not supported (this goward reads format 1)"
        );
    }
}
