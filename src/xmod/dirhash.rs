//! Go's `h1:` directory hash, as recorded in go.sum files and the checksum database.
//!
//! Port of `golang.org/x/mod/sumdb/dirhash/hash.go` (x/mod v0.43.0). An `h1:` hash is the base64
//! SHA-256 of a summary with one line `hex(sha256(content)) + "  " + name + "\n"` per file, in
//! bytewise name order (`Hash1`). The same function hashes a module zip (names as stored, with the
//! `module@version/` prefix: `HashZip`), a module's go.mod (one file named `go.mod`: cmd/go
//! `modfetch/fetch.go` `goModSum`) and an extracted tree (`HashDir`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

/// An `h1:` hash: `"h1:"` followed by the 44-character padded standard base64 of a SHA-256 digest.
///
/// Only [`H1::parse`] and the hash functions of this module construct it, so a value always has
/// that exact form and can be compared as a string.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct H1(String);

impl H1 {
    /// Parses `s`, which must be `"h1:"` + the canonical base64 of exactly 32 bytes.
    ///
    /// Canonical means re-encoding the decoded bytes gives `s` back, so two spellings of one
    /// digest can never compare unequal.
    pub fn parse(s: &str) -> Result<H1, DirhashError> {
        let bad = || DirhashError::InvalidH1(s.to_owned());
        let b64 = s.strip_prefix("h1:").ok_or_else(bad)?;
        if b64.len() != 44 {
            return Err(bad());
        }
        let bytes = STANDARD.decode(b64).map_err(|_| bad())?;
        let digest: [u8; 32] = bytes.as_slice().try_into().map_err(|_| bad())?;
        let h = H1::from_digest(&digest);
        if h.0 != s {
            return Err(bad());
        }
        Ok(h)
    }

    /// The hash as text, `h1:...`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 32-byte SHA-256 digest the hash encodes.
    pub fn digest(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        // The string was built by `from_digest`, so the suffix is the base64 of exactly 32 bytes;
        // a decode failure cannot happen and would only leave zeros.
        if let Ok(bytes) = STANDARD.decode(&self.0[3..])
            && bytes.len() == 32
        {
            out.copy_from_slice(&bytes);
        }
        out
    }

    fn from_digest(digest: &[u8; 32]) -> H1 {
        H1(format!("h1:{}", STANDARD.encode(digest)))
    }
}

impl fmt::Display for H1 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for H1 {
    type Err = DirhashError;
    fn from_str(s: &str) -> Result<H1, DirhashError> {
        H1::parse(s)
    }
}

/// Why an `h1:` hash could not be parsed or computed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DirhashError {
    /// Text that is not `h1:` + 44 canonical base64 characters.
    #[error("malformed h1 hash {0:?}: want \"h1:\" followed by the base64 of a SHA-256 digest")]
    InvalidH1(String),
    /// Hash1 cannot represent a name with a newline (its summary is line based).
    #[error("dirhash: filenames with newlines are not supported")]
    NewlineInName,
    /// Reading a file or directory failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory being read.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The zip archive could not be opened or its central directory could not be read.
    #[error("{}: {source}", path.display())]
    Zip {
        /// The zip file.
        path: PathBuf,
        /// The underlying error.
        source: zip::result::ZipError,
    },
    /// One zip entry's content could not be read in full and intact.
    #[error("{name}: {source}")]
    Entry {
        /// The entry name, as stored (lossily decoded if not UTF-8).
        name: String,
        /// What was wrong with its content.
        source: ContentError,
    },
    /// `hash_dir` was given something other than a directory (Go `DirFiles`).
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// `hash_dir` found a symlink or another non-regular file; Go would follow or open it, so
    /// hashing is refused rather than silently including or skipping it.
    #[error("{}: not a regular file", .0.display())]
    NotRegular(PathBuf),
    /// `hash_dir` found a file name that is not UTF-8.
    #[error("{}: file name is not valid UTF-8", .0.display())]
    NonUtf8Name(PathBuf),
}

/// Why one zip entry's content is unacceptable. The checks follow Go's archive/zip
/// `checksumReader` (reader.go) and x/mod zip `Unzip`: the data must be exactly the declared
/// uncompressed size and match its CRC-32.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContentError {
    /// More data than the header declares (a zip bomb or a lying header).
    #[error("uncompressed size is larger than declared size ({declared} bytes)")]
    Larger {
        /// The declared uncompressed size.
        declared: u64,
    },
    /// Less data than the header declares (truncated entry).
    #[error("uncompressed size ({actual} bytes) is smaller than declared size ({declared} bytes)")]
    Smaller {
        /// The declared uncompressed size.
        declared: u64,
        /// The bytes actually produced.
        actual: u64,
    },
    /// The data does not match the stored CRC-32.
    #[error("zip: checksum error")]
    Checksum,
    /// A directory entry (name ending in `/`) declares content; Go's `File.Open` fails the same
    /// way (archive/zip reader.go, `dirReader{ErrFormat}`).
    #[error("zip: not a valid zip file (directory entry declares {declared} bytes of data)")]
    DirectoryData {
        /// The declared uncompressed size.
        declared: u64,
    },
    /// The data could not be read or decompressed.
    #[error("{0}")]
    Read(#[source] io::Error),
}

/// SHA-256 of `content`, as used for one file in [`hash1`].
pub fn sha256(content: &[u8]) -> [u8; 32] {
    Sha256::digest(content).into()
}

/// SHA-256 of everything `r` yields, and how many bytes that was.
pub(crate) fn sha256_reader(mut r: impl Read) -> io::Result<([u8; 32], u64)> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut h = Sha256::new();
    let mut total: u64 = 0;
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok((h.finalize().into(), total)),
            Ok(n) => {
                h.update(&buf[..n]);
                total = total.saturating_add(n as u64);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Go `dirhash.Hash1` over files given as `(name, sha256 of content)`.
///
/// Names are sorted bytewise (Go `slices.Sort` on strings); entries with equal names keep their
/// input order. Go resolves each name to one file before hashing, so callers with duplicate names
/// must pass the same digest for each (see [`hash_zip`]).
pub fn hash1<'a>(files: impl IntoIterator<Item = (&'a str, [u8; 32])>) -> Result<H1, DirhashError> {
    hash1_bytes(
        files
            .into_iter()
            .map(|(name, digest)| (Cow::Borrowed(name.as_bytes()), digest))
            .collect(),
    )
}

/// [`hash1`] over raw byte names: Go strings are bytes, and zip entry names need not be UTF-8.
pub(crate) fn hash1_bytes(mut files: Vec<(Cow<'_, [u8]>, [u8; 32])>) -> Result<H1, DirhashError> {
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut h = Sha256::new();
    for (name, digest) in &files {
        if name.contains(&b'\n') {
            return Err(DirhashError::NewlineInName);
        }
        h.update(hex(digest).as_bytes());
        h.update(b"  ");
        h.update(name);
        h.update(b"\n");
    }
    Ok(H1::from_digest(&h.finalize().into()))
}

/// Lowercase hex, as in the dirhash summary lines and cache blob names.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// The go.sum hash of a module's go.mod: Hash1 over one file named exactly `go.mod` (no
/// `module@version/` prefix) holding `content` (cmd/go `modfetch/fetch.go` `goModSum`).
pub fn hash_go_mod(content: &[u8]) -> H1 {
    let mut h = Sha256::new();
    h.update(hex(&sha256(content)).as_bytes());
    h.update(b"  go.mod\n");
    H1::from_digest(&h.finalize().into())
}

/// Go `dirhash.HashZip`: Hash1 over every central-directory entry name exactly as stored,
/// including directory entries (which hash as empty content) and duplicates (each resolving to
/// the last entry of that name, as Go's name-keyed map does).
///
/// Streams: one entry is decompressed at a time, and only names and digests are kept. Every entry
/// must decompress to exactly its declared size with a matching CRC ([`ContentError`]).
/// No module-zip rules are applied here; use `verify::zip` for those.
pub fn hash_zip(path: &Path) -> Result<H1, DirhashError> {
    let zip_err = |source| DirhashError::Zip {
        path: path.to_owned(),
        source,
    };
    let io_err = |source| DirhashError::Io {
        path: path.to_owned(),
        source,
    };
    let meta = File::open(path).map_err(io_err)?;
    let body = File::open(path).map_err(io_err)?;
    let mut body = BufReader::new(body);
    let mut archive =
        zip::unstable::read::ZipIterable::try_new(BufReader::new(meta), Default::default())
            .map_err(zip_err)?;
    let mut names: Vec<Vec<u8>> = Vec::with_capacity(archive.len());
    let mut digests: HashMap<Vec<u8>, [u8; 32]> = HashMap::with_capacity(archive.len());
    for entry in archive.files().map_err(zip_err)? {
        let entry = entry.map_err(zip_err)?;
        let name = entry.name_raw().to_vec();
        let entry_err = |source| DirhashError::Entry {
            name: String::from_utf8_lossy(&name).into_owned(),
            source,
        };
        let declared = entry.size();
        let digest = if name.ends_with(b"/") {
            if declared != 0 {
                return Err(entry_err(ContentError::DirectoryData { declared }));
            }
            sha256(b"")
        } else {
            let reader = entry
                .with_reader(&mut body, zip::read::ZipReadOptions::new())
                .map_err(zip_err)?;
            sha256_exact(reader, declared).map_err(entry_err)?
        };
        digests.insert(name.clone(), digest);
        names.push(name);
    }
    let files = names
        .iter()
        .map(|n| {
            // Every name was inserted into `digests` right after being pushed to `names`.
            let digest = digests.get(n).copied().unwrap_or_default();
            (Cow::Borrowed(n.as_slice()), digest)
        })
        .collect();
    hash1_bytes(files)
}

/// Reads `r` to its end, hashing as it goes, and fails unless it yields exactly `declared` bytes.
///
/// Never reads more than `declared + 1` bytes, whatever the headers or the decompressor claim,
/// so a zip bomb costs at most its declared size (Go x/mod zip `Unzip` uses the same
/// `io.LimitedReader{N: declared + 1}`). Errors of the zip crate's own CRC and size checks are
/// mapped to [`ContentError::Checksum`] and [`ContentError::Larger`].
pub(crate) fn sha256_exact(mut r: impl Read, declared: u64) -> Result<[u8; 32], ContentError> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut h = Sha256::new();
    let mut got: u64 = 0;
    loop {
        let room = declared.saturating_sub(got).saturating_add(1);
        let want = usize::try_from(room).map_or(buf.len(), |room| room.min(buf.len()));
        let n = match r.read(&mut buf[..want]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(classify_read_error(e, declared)),
        };
        got = got.saturating_add(n as u64);
        if got > declared {
            return Err(ContentError::Larger { declared });
        }
        h.update(&buf[..n]);
    }
    if got < declared {
        return Err(ContentError::Smaller {
            declared,
            actual: got,
        });
    }
    Ok(h.finalize().into())
}

/// Maps the zip crate's read errors (crc32.rs `Crc32Reader`) to the Go-like kinds. Matching on
/// the message is brittle across zip releases; an unrecognised message still fails, as `Read`.
fn classify_read_error(e: io::Error, declared: u64) -> ContentError {
    if e.kind() == io::ErrorKind::InvalidData {
        let msg = e.to_string();
        if msg.contains("Invalid checksum") {
            return ContentError::Checksum;
        }
        if msg.contains("larger than its declared uncompressed size") {
            return ContentError::Larger { declared };
        }
    }
    ContentError::Read(e)
}

/// Go `dirhash.HashDir` with `DirFiles`: Hash1 over the regular files under `dir`, named
/// `prefix/relative/path` with forward slashes (Go `filepath.Join(prefix, rel)`, which cleans).
///
/// Directories contribute no names. Unlike Go, a symlink or other non-regular file is an error:
/// Go would open through it, and a verifier must not let a link stand in for content.
pub fn hash_dir(dir: &Path, prefix: &str) -> Result<H1, DirhashError> {
    let meta = std::fs::symlink_metadata(dir).map_err(|source| DirhashError::Io {
        path: dir.to_owned(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(DirhashError::NotADirectory(dir.to_owned()));
    }
    let mut files = Vec::new();
    walk(dir, "", &mut files)?;
    let mut digests = Vec::with_capacity(files.len());
    for (rel, path) in files {
        let f = File::open(&path).map_err(|source| DirhashError::Io {
            path: path.clone(),
            source,
        })?;
        let (digest, _) =
            sha256_reader(BufReader::new(f)).map_err(|source| DirhashError::Io { path, source })?;
        let name = if prefix.is_empty() {
            rel
        } else {
            go_path_clean(&format!("{prefix}/{rel}"))
        };
        digests.push((Cow::Owned(name.into_bytes()), digest));
    }
    hash1_bytes(digests)
}

/// Collects `(slash-separated relative name, path)` for every regular file below `dir`.
fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, PathBuf)>) -> Result<(), DirhashError> {
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| DirhashError::Io { path, source }
    };
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let path = entry.path();
        let name = entry
            .file_name()
            .into_string()
            .map_err(|_| DirhashError::NonUtf8Name(path.clone()))?;
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let ft = entry.file_type().map_err(io_err(&path))?;
        if ft.is_dir() {
            walk(&path, &child, out)?;
        } else if ft.is_file() {
            out.push((child, path));
        } else {
            return Err(DirhashError::NotRegular(path));
        }
    }
    Ok(())
}

/// Go `path.Clean`: the shortest equivalent slash path, by purely lexical processing.
///
/// Used to decide whether a zip entry name is clean (x/mod zip `checkZip`) and to join names.
pub(crate) fn go_path_clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let rooted = path.starts_with('/');
    let b = path.as_bytes();
    let n = b.len();
    let mut out = String::with_capacity(n);
    let (mut r, mut dotdot) = (0, 0);
    if rooted {
        out.push('/');
        (r, dotdot) = (1, 1);
    }
    while r < n {
        if b[r] == b'/' || (b[r] == b'.' && (r + 1 == n || b[r + 1] == b'/')) {
            // An empty or "." element.
            r += 1;
        } else if b[r] == b'.' && b[r + 1] == b'.' && (r + 2 == n || b[r + 2] == b'/') {
            r += 2;
            if out.len() > dotdot {
                // Back up to the previous '/' (an ASCII byte, so a char boundary).
                let keep = out[dotdot..].rfind('/').map_or(dotdot, |i| dotdot + i);
                out.truncate(keep);
            } else if !rooted {
                if !out.is_empty() {
                    out.push('/');
                }
                out.push_str("..");
                dotdot = out.len();
            }
        } else {
            if (rooted && out.len() != 1) || (!rooted && !out.is_empty()) {
                out.push('/');
            }
            let end = b[r..].iter().position(|&c| c == b'/').map_or(n, |i| r + i);
            out.push_str(&path[r..end]);
            r = end;
        }
    }
    if out.is_empty() {
        return ".".to_owned();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn h(s: &str) -> String {
        hex(&sha256(s.as_bytes()))
    }

    fn htop(s: &str) -> String {
        format!("h1:{}", STANDARD.encode(sha256(s.as_bytes())))
    }

    const EMPTY_HASH: &str = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

    // hash_test.go TestHash1
    #[test]
    fn hash1_matches_go_vector() {
        let files = [
            ("xyz", sha256(b"data for xyz")),
            ("abc", sha256(b"data for abc")),
        ];
        let want = htop(&format!(
            "{}  abc\n{}  xyz\n",
            h("data for abc"),
            h("data for xyz")
        ));
        assert_eq!(hash1(files).unwrap().as_str(), want);
        let bad = [("xyz", sha256(b"x")), ("a\nbc", sha256(b"y"))];
        assert!(matches!(hash1(bad), Err(DirhashError::NewlineInName)));
    }

    // go-protocol.md §3.1 / zip_test.go emptyHash
    #[test]
    fn empty_hash() {
        assert_eq!(hash1([]).unwrap().as_str(), EMPTY_HASH);
    }

    // go-protocol.md §3.3 (cmd/go fetch.go emptyGoModHash; toolchain go.mod)
    #[test]
    fn go_mod_hashes() {
        assert_eq!(
            hash_go_mod(b"").as_str(),
            "h1:G7mAYYxgmS0lVkHyy2hEOLQCFB0DlQFTMLWggykrydY="
        );
        assert_eq!(
            hash_go_mod(b"module golang.org/toolchain\n").as_str(),
            "h1:8wlg68NqwW7eMnI1aABk/C2pDYXj8mrMY4TyRfiLeS0="
        );
        let content = b"module example.com/m\n";
        assert_eq!(
            hash_go_mod(content),
            hash1([("go.mod", sha256(content))]).unwrap()
        );
    }

    #[test]
    fn sort_is_bytewise() {
        // 'B' (0x42) < 'a' (0x61) < 'é' (0xC3 0xA9): bytewise, not case-insensitive or by char.
        let files = [
            ("é", sha256(b"1")),
            ("a", sha256(b"2")),
            ("B", sha256(b"3")),
        ];
        let want = htop(&format!("{}  B\n{}  a\n{}  é\n", h("3"), h("2"), h("1")));
        assert_eq!(hash1(files).unwrap().as_str(), want);
    }

    #[test]
    fn h1_parse() {
        let h = H1::parse(EMPTY_HASH).unwrap();
        assert_eq!(h.as_str(), EMPTY_HASH);
        assert_eq!(h.to_string(), EMPTY_HASH);
        assert_eq!(h.digest(), sha256(b""));
        assert_eq!(EMPTY_HASH.parse::<H1>().unwrap(), h);
        for bad in [
            "",
            "h1:",
            "h2:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
            "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU==",
            "h1:47DEQpj8HBSa-_TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            // Non-zero trailing bits: decodes leniently elsewhere, not canonical.
            "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=",
            " h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
        ] {
            assert!(
                matches!(H1::parse(bad), Err(DirhashError::InvalidH1(_))),
                "{bad:?}"
            );
        }
    }

    fn want_prefix_abc_xyz() -> String {
        htop(&format!(
            "{}  prefix/abc\n{}  prefix/xyz\n",
            h("data for abc"),
            h("data for xyz")
        ))
    }

    // hash_test.go TestHashDir
    #[test]
    fn hash_dir_matches_go_vector() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("xyz"), "data for xyz").unwrap();
        std::fs::write(dir.path().join("abc"), "data for abc").unwrap();
        assert_eq!(
            hash_dir(dir.path(), "prefix").unwrap().as_str(),
            want_prefix_abc_xyz()
        );
        // filepath.Join cleans: a trailing slash on the prefix changes nothing.
        assert_eq!(
            hash_dir(dir.path(), "prefix/").unwrap().as_str(),
            want_prefix_abc_xyz()
        );
        // Subdirectories contribute their files only.
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/f"), "f").unwrap();
        let want = htop(&format!(
            "{}  p/abc\n{}  p/sub/f\n{}  p/xyz\n",
            h("data for abc"),
            h("f"),
            h("data for xyz")
        ));
        assert_eq!(hash_dir(dir.path(), "p").unwrap().as_str(), want);
    }

    // hash_test.go TestDirFiles "invalid directory"
    #[test]
    fn hash_dir_rejects_file_and_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-directory.txt");
        std::fs::write(&file, "This is a file.").unwrap();
        assert!(matches!(
            hash_dir(&file, ""),
            Err(DirhashError::NotADirectory(_))
        ));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(&file, dir.path().join("link")).unwrap();
            assert!(matches!(
                hash_dir(dir.path(), "p"),
                Err(DirhashError::NotRegular(_))
            ));
        }
    }

    // hash_test.go TestHashZip, with a zip written by Go's archive/zip (see testdata/README.md).
    #[test]
    fn hash_zip_go_written() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/xmod/dirhash/prefix.zip"
        ));
        assert_eq!(hash_zip(path).unwrap().as_str(), want_prefix_abc_xyz());
    }

    // The same archive written by the zip crate (deflate, no data descriptors).
    #[test]
    fn hash_zip_rust_written() {
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        {
            let mut w = zip::ZipWriter::new(tmp.as_file_mut());
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            w.start_file("prefix/xyz", opts).unwrap();
            w.write_all(b"data for xyz").unwrap();
            w.start_file("prefix/abc", opts).unwrap();
            w.write_all(b"data for abc").unwrap();
            w.finish().unwrap();
        }
        assert_eq!(
            hash_zip(tmp.path()).unwrap().as_str(),
            want_prefix_abc_xyz()
        );
        // Adding a directory entry changes the hash: it is listed, with empty content.
        let mut tmp2 = tempfile::NamedTempFile::new().unwrap();
        {
            let mut w = zip::ZipWriter::new(tmp2.as_file_mut());
            let opts = zip::write::SimpleFileOptions::default();
            w.add_directory("prefix/", opts).unwrap();
            w.start_file("prefix/xyz", opts).unwrap();
            w.write_all(b"data for xyz").unwrap();
            w.start_file("prefix/abc", opts).unwrap();
            w.write_all(b"data for abc").unwrap();
            w.finish().unwrap();
        }
        let want = htop(&format!(
            "{}  prefix/\n{}  prefix/abc\n{}  prefix/xyz\n",
            h(""),
            h("data for abc"),
            h("data for xyz")
        ));
        assert_eq!(hash_zip(tmp2.path()).unwrap().as_str(), want);
    }

    #[test]
    fn hash_zip_not_a_zip() {
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        tmp.write_all(b"not a zip").unwrap();
        assert!(matches!(
            hash_zip(tmp.path()),
            Err(DirhashError::Zip { .. })
        ));
    }

    #[test]
    fn sha256_exact_limits() {
        let data = b"0123456789";
        assert_eq!(sha256_exact(&data[..], 10).unwrap(), sha256(data));
        assert!(matches!(
            sha256_exact(&data[..], 9),
            Err(ContentError::Larger { declared: 9 })
        ));
        assert!(matches!(
            sha256_exact(&data[..], 11),
            Err(ContentError::Smaller {
                declared: 11,
                actual: 10
            })
        ));
        // An endless reader is cut off right after the declared size.
        let mut endless = io::repeat(0);
        let mut counted = CountingReader(&mut endless, 0);
        assert!(matches!(
            sha256_exact(&mut counted, 100),
            Err(ContentError::Larger { declared: 100 })
        ));
        assert_eq!(counted.1, 101);
    }

    struct CountingReader<R>(R, u64);
    impl<R: Read> Read for CountingReader<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.read(buf)?;
            self.1 += n as u64;
            Ok(n)
        }
    }

    // Go path.Clean vectors (src/path/path_test.go cleantests).
    #[test]
    fn path_clean_vectors() {
        for (input, want) in [
            ("", "."),
            ("abc", "abc"),
            ("abc/def", "abc/def"),
            ("a/b/c", "a/b/c"),
            (".", "."),
            ("..", ".."),
            ("../..", "../.."),
            ("../../abc", "../../abc"),
            ("/abc", "/abc"),
            ("/", "/"),
            ("abc/", "abc"),
            ("abc/def/", "abc/def"),
            ("a/b/c/", "a/b/c"),
            ("./", "."),
            ("../", ".."),
            ("../../", "../.."),
            ("/abc/", "/abc"),
            ("abc//def//ghi", "abc/def/ghi"),
            ("//abc", "/abc"),
            ("///abc", "/abc"),
            ("//abc//", "/abc"),
            ("abc//", "abc"),
            ("abc/./def", "abc/def"),
            ("/./abc/def", "/abc/def"),
            ("abc/.", "abc"),
            ("abc/def/ghi/../jkl", "abc/def/jkl"),
            ("abc/def/../ghi/../jkl", "abc/jkl"),
            ("abc/def/..", "abc"),
            ("abc/def/../..", "."),
            ("/abc/def/../..", "/"),
            ("abc/def/../../..", ".."),
            ("/abc/def/../../..", "/"),
            ("abc/def/../../../ghi/jkl/../../../mno", "../../mno"),
            ("abc/./../def", "def"),
            ("abc//./../def", "def"),
            ("abc/../../././../def", "../../def"),
            ("a/é/../ü", "a/ü"),
        ] {
            assert_eq!(go_path_clean(input), want, "Clean({input:?})");
        }
    }
}
