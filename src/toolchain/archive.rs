//! Reading inputs into the toolchain module's file set, one entry at a time:
//! go.dev/dl release archives (`.tar.gz`, `.zip`) through the §5.2 mapping,
//! and toolchain module zips (for the per-file report). Only names and
//! digests are kept; content is streamed through SHA-256.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{FileDigest, FileSet, Mapped, is_clean_rel, map_release_path};
use crate::xmod::dirhash;

/// Largest number of entries read from an archive (names are kept in memory;
/// a release has about 15,000).
pub(crate) const MAX_ENTRIES: usize = 1 << 20;

/// Why an input could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ReadError {
    /// The file could not be opened or read (exit status 2).
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
    /// The content is damaged or not an archive of the expected kind (exit status 1).
    #[error("{}: {msg}", path.display())]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
}

impl ReadError {
    fn damaged(path: &Path, msg: impl std::fmt::Display) -> ReadError {
        ReadError::Damaged {
            path: path.to_owned(),
            msg: msg.to_string(),
        }
    }
    fn io(path: &Path, source: io::Error) -> ReadError {
        ReadError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// A progress line on stderr, only when stderr is a terminal.
#[derive(Debug)]
pub(crate) struct Progress {
    label: String,
    total: u64,
    done: u64,
    enabled: bool,
    last: Option<std::time::Instant>,
    drawn: bool,
}

impl Progress {
    /// A progress line for `label` out of `total` bytes (0: unknown), drawn
    /// only if `enabled` (the caller checks that stderr is a terminal).
    pub(crate) fn new(label: impl Into<String>, total: u64, enabled: bool) -> Progress {
        Progress {
            label: label.into(),
            total,
            done: 0,
            enabled,
            last: None,
            drawn: false,
        }
    }

    /// A progress that never draws.
    #[cfg(test)]
    pub(crate) fn hidden() -> Progress {
        Progress::new("", 0, false)
    }

    /// Adds `n` bytes.
    pub(crate) fn add(&mut self, n: u64) {
        self.done = self.done.saturating_add(n);
        if !self.enabled {
            return;
        }
        let now = std::time::Instant::now();
        if self
            .last
            .is_some_and(|t| now.duration_since(t) < std::time::Duration::from_millis(200))
        {
            return;
        }
        self.last = Some(now);
        let mib = |b: u64| b as f64 / f64::from(1 << 20);
        let line = match (self.done.min(self.total) * 100).checked_div(self.total) {
            Some(pct) => format!(
                "{}: {pct:3}% ({:.0}/{:.0} MiB)",
                self.label,
                mib(self.done),
                mib(self.total)
            ),
            None => format!("{}: {:.0} MiB", self.label, mib(self.done)),
        };
        eprint!("\r{line}\x1b[K");
        self.drawn = true;
    }

    /// Erases the line.
    pub(crate) fn finish(&mut self) {
        if self.drawn {
            eprint!("\r\x1b[K");
            self.drawn = false;
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A reader that hashes and counts what passes through it.
struct Tap<'p, R> {
    inner: R,
    sha: Sha256,
    progress: &'p mut Progress,
}

impl<R: Read> Read for Tap<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sha.update(&buf[..n]);
        self.progress.add(n as u64);
        Ok(n)
    }
}

/// Reads a release `.tar.gz` into the module's file set; also returns the
/// SHA-256 of the whole file (one pass over the bytes).
pub(crate) fn read_release_tar_gz(
    path: &Path,
    progress: &mut Progress,
) -> Result<(FileSet, [u8; 32]), ReadError> {
    let f = File::open(path).map_err(|e| ReadError::io(path, e))?;
    let tap = Tap {
        inner: f,
        sha: Sha256::new(),
        progress,
    };
    // Go's gzip reader reads concatenated members, as does MultiGzDecoder.
    let gz = flate2::read::MultiGzDecoder::new(tap);
    let mut tar = tar::Archive::new(gz);
    let mut set = FileSet::default();
    let mut seen = HashMap::new();
    let mut count = 0usize;
    let entries = tar
        .entries()
        .map_err(|e| ReadError::damaged(path, format!("not a tar.gz archive: {e}")))?;
    for entry in entries {
        let mut entry =
            entry.map_err(|e| ReadError::damaged(path, format!("reading the archive: {e}")))?;
        count += 1;
        if count > MAX_ENTRIES {
            return Err(ReadError::damaged(
                path,
                format!("more than {MAX_ENTRIES} entries"),
            ));
        }
        let raw = entry.path_bytes().into_owned();
        let kind = entry.header().entry_type();
        let name = String::from_utf8_lossy(&raw).into_owned();
        if kind.is_dir() {
            continue;
        }
        let Some(rel) = release_rel(&raw, &name, &mut set) else {
            continue;
        };
        if !kind.is_file() {
            let what = if kind.is_symlink() {
                "a symbolic link"
            } else if kind.is_hard_link() {
                "a hard link"
            } else {
                "not a regular file"
            };
            set.problems
                .push(format!("{name}: {what} (releases hold regular files only)"));
            continue;
        }
        match map_release_path(rel) {
            Mapped::Dropped => set.dropped += 1,
            Mapped::Keep(module_name) => {
                let declared = entry.size();
                let digest = dirhash::sha256_exact(&mut entry, declared)
                    .map_err(|e| ReadError::damaged(path, format!("{name}: {e}")))?;
                set.push(
                    FileDigest {
                        name: module_name,
                        source: name,
                        sha256: digest,
                        size: declared,
                    },
                    &mut seen,
                );
            }
        }
    }
    // Read what follows the end-of-archive marker, so the gzip trailer is
    // checked and the whole file is hashed.
    let mut gz = tar.into_inner();
    io::copy(&mut gz, &mut io::sink())
        .map_err(|e| ReadError::damaged(path, format!("after the end of the archive: {e}")))?;
    let mut tap = gz.into_inner();
    io::copy(&mut tap, &mut io::sink()).map_err(|e| ReadError::io(path, e))?;
    Ok((set, tap.sha.finalize().into()))
}

/// The path of a release entry relative to `go/`, or `None` (with a problem
/// recorded) if it is not a clean name under `go/`.
fn release_rel<'a>(raw: &'a [u8], shown: &str, set: &mut FileSet) -> Option<&'a str> {
    let Ok(name) = std::str::from_utf8(raw) else {
        set.problems
            .push(format!("{shown}: entry name is not valid UTF-8"));
        return None;
    };
    match name.strip_prefix("go/") {
        Some(rel) if is_clean_rel(rel) => Some(rel),
        Some(_) => {
            set.problems
                .push(format!("{name}: not a clean path (no release has one)"));
            None
        }
        None => {
            set.problems.push(format!(
                "{name}: outside go/ (every file of a release is under go/)"
            ));
            None
        }
    }
}

/// Opens a zip for streaming entry by entry (as `dirhash::hash_zip`): one
/// handle walks the central directory, the other reads entry data.
fn open_zip(
    path: &Path,
) -> Result<
    (
        zip::unstable::read::ZipIterable<BufReader<File>>,
        BufReader<File>,
    ),
    ReadError,
> {
    let meta = File::open(path).map_err(|e| ReadError::io(path, e))?;
    let body = File::open(path).map_err(|e| ReadError::io(path, e))?;
    let archive =
        zip::unstable::read::ZipIterable::try_new(BufReader::new(meta), Default::default())
            .map_err(|e| ReadError::damaged(path, format!("not a zip archive: {e}")))?;
    if archive.len() > MAX_ENTRIES {
        return Err(ReadError::damaged(
            path,
            format!("more than {MAX_ENTRIES} entries"),
        ));
    }
    Ok((archive, BufReader::new(body)))
}

/// What a `.zip` holds, judged by its first entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ZipFlavor {
    /// A toolchain module zip; the module version from the entry prefix.
    Module(String),
    /// A go.dev/dl release archive (entries under `go/`).
    Release,
}

/// Tells a toolchain module zip from a release zip by the first entry name.
pub(crate) fn sniff_zip(path: &Path) -> Result<ZipFlavor, ReadError> {
    let (mut archive, _) = open_zip(path)?;
    let files = archive
        .files()
        .map_err(|e| ReadError::damaged(path, format!("not a zip archive: {e}")))?;
    let first = match files.next() {
        None => return Err(ReadError::damaged(path, "empty zip archive")),
        Some(e) => e
            .map_err(|e| ReadError::damaged(path, format!("reading the archive: {e}")))?
            .name_raw()
            .to_vec(),
    };
    let first = String::from_utf8_lossy(&first);
    if let Some(rest) = first.strip_prefix(&format!("{}@", super::TOOLCHAIN_MODULE))
        && let Some((version, _)) = rest.split_once('/')
    {
        return Ok(ZipFlavor::Module(version.to_owned()));
    }
    if first.starts_with("go/") {
        return Ok(ZipFlavor::Release);
    }
    Err(ReadError::damaged(
        path,
        format!(
            "neither a golang.org/toolchain module zip nor a go.dev/dl release archive (first entry {first:?})"
        ),
    ))
}

/// Reads a release `.zip` (Windows) into the module's file set.
pub(crate) fn read_release_zip(path: &Path, progress: &mut Progress) -> Result<FileSet, ReadError> {
    let (mut archive, mut body) = open_zip(path)?;
    let mut set = FileSet::default();
    let mut seen = HashMap::new();
    let files = archive
        .files()
        .map_err(|e| ReadError::damaged(path, format!("not a zip archive: {e}")))?;
    for entry in &mut *files {
        let entry =
            entry.map_err(|e| ReadError::damaged(path, format!("reading the archive: {e}")))?;
        let raw = entry.name_raw().to_vec();
        let name = String::from_utf8_lossy(&raw).into_owned();
        progress.add(entry.compressed_size());
        if raw.ends_with(b"/") {
            continue;
        }
        let Some(rel) = release_rel(&raw, &name, &mut set) else {
            continue;
        };
        if entry.is_symlink() {
            set.problems.push(format!(
                "{name}: a symbolic link (releases hold regular files only)"
            ));
            continue;
        }
        match map_release_path(rel) {
            Mapped::Dropped => set.dropped += 1,
            Mapped::Keep(module_name) => {
                let declared = entry.size();
                let reader = entry
                    .with_reader(&mut body, zip::read::ZipReadOptions::new())
                    .map_err(|e| ReadError::damaged(path, format!("{name}: {e}")))?;
                let digest = dirhash::sha256_exact(reader, declared)
                    .map_err(|e| ReadError::damaged(path, format!("{name}: {e}")))?;
                set.push(
                    FileDigest {
                        name: module_name,
                        source: name,
                        sha256: digest,
                        size: declared,
                    },
                    &mut seen,
                );
            }
        }
    }
    Ok(set)
}

/// The files of a toolchain module zip that already passed the module-zip
/// rules: module-relative name → SHA-256 (directory entries skipped).
pub(crate) fn module_zip_files(
    path: &Path,
    prefix: &str,
) -> Result<BTreeMap<String, [u8; 32]>, ReadError> {
    let f = File::open(path).map_err(|e| ReadError::io(path, e))?;
    module_zip_files_in(f, prefix).map_err(|e| ReadError::damaged(path, e))
}

/// [`module_zip_files`] over an open file (one handle: the zip crate's
/// in-memory index of the central directory, which folds duplicate names;
/// a checked module zip has none).
pub(crate) fn module_zip_files_in(
    file: File,
    prefix: &str,
) -> Result<BTreeMap<String, [u8; 32]>, String> {
    let mut archive = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| format!("not a zip archive: {e}"))?;
    let mut out = BTreeMap::new();
    for i in 0..archive.len() {
        let entry = archive
            .by_index(i)
            .map_err(|e| format!("reading entry {i}: {e}"))?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let Some(rel) = name.strip_prefix(prefix) else {
            return Err(format!("{name}: not under {prefix}"));
        };
        if rel.is_empty() || rel.ends_with('/') {
            continue;
        }
        let rel = rel.to_owned();
        let declared = entry.size();
        let digest = dirhash::sha256_exact(entry, declared).map_err(|e| format!("{name}: {e}"))?;
        out.insert(rel, digest);
    }
    Ok(out)
}

/// The same files as a [`FileSet`] whose sources are the module-relative names.
pub(crate) fn module_zip_file_set(path: &Path, prefix: &str) -> Result<FileSet, ReadError> {
    let mut set = FileSet::default();
    let mut seen = HashMap::new();
    for (name, sha256) in module_zip_files(path, prefix)? {
        set.push(
            FileDigest {
                source: name.clone(),
                name,
                sha256,
                size: 0,
            },
            &mut seen,
        );
    }
    Ok(set)
}

/// SHA-256 of a whole file.
pub(crate) fn sha256_file(path: &Path, progress: &mut Progress) -> Result<[u8; 32], ReadError> {
    let f = File::open(path).map_err(|e| ReadError::io(path, e))?;
    let mut tap = Tap {
        inner: f,
        sha: Sha256::new(),
        progress,
    };
    io::copy(&mut tap, &mut io::sink()).map_err(|e| ReadError::io(path, e))?;
    Ok(tap.sha.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn tar_gz(entries: &[(&str, Option<&[u8]>)]) -> tempfile::NamedTempFile {
        let tmp = tempfile::NamedTempFile::new().unwrap();
        let gz = flate2::write::GzEncoder::new(tmp.reopen().unwrap(), flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            match data {
                Some(d) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(d.len() as u64);
                    h.set_mode(0o644);
                    b.append_data(&mut h, name, *d).unwrap();
                }
                None if name.ends_with('/') => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    h.set_mode(0o755);
                    b.append_data(&mut h, name, io::empty()).unwrap();
                }
                None => {
                    h.set_entry_type(tar::EntryType::Symlink);
                    h.set_size(0);
                    b.append_link(&mut h, name, "/etc/passwd").unwrap();
                }
            }
        }
        b.into_inner().unwrap().finish().unwrap();
        tmp
    }

    #[test]
    fn tar_gz_is_mapped_and_hashed_in_one_pass() {
        let tmp = tar_gz(&[
            ("go/", None),
            ("go/bin/", None),
            ("go/bin/go", Some(b"binary")),
            ("go/src/go.mod", Some(b"module std\n")),
            ("go/api/go1.txt", Some(b"api")),
            ("go/test/a.go", Some(b"package a")),
            ("go/.github/SUPPORT.md", Some(b"x")),
            ("go/bin/link", None),
            ("README", Some(b"outside")),
        ]);
        let (set, sha) = read_release_tar_gz(tmp.path(), &mut Progress::hidden()).unwrap();
        let names: Vec<(&str, &str)> = set
            .files
            .iter()
            .map(|f| (f.name.as_str(), f.source.as_str()))
            .collect();
        assert_eq!(
            names,
            [("bin/go", "go/bin/go"), ("src/_go.mod", "go/src/go.mod")]
        );
        assert_eq!(set.files[0].sha256, dirhash::sha256(b"binary"));
        assert_eq!(set.dropped, 3);
        assert_eq!(set.problems.len(), 2, "{:?}", set.problems);
        assert!(set.problems[0].starts_with("go/bin/link: a symbolic link"));
        assert!(set.problems[1].starts_with("README: outside go/"));
        assert_eq!(sha, dirhash::sha256(&std::fs::read(tmp.path()).unwrap()));
    }

    #[test]
    fn damaged_tar_gz_is_reported() {
        let tmp = tar_gz(&[("go/bin/go", Some(&[7u8; 100_000]))]);
        let mut bytes = std::fs::read(tmp.path()).unwrap();
        let n = bytes.len();
        bytes[n / 2] ^= 0xff;
        std::fs::write(tmp.path(), &bytes).unwrap();
        let e = read_release_tar_gz(tmp.path(), &mut Progress::hidden()).unwrap_err();
        assert!(matches!(e, ReadError::Damaged { .. }), "{e}");
        let missing = Path::new("/nonexistent/go1.2.3.linux-amd64.tar.gz");
        let e = read_release_tar_gz(missing, &mut Progress::hidden()).unwrap_err();
        assert!(matches!(e, ReadError::Io { .. }), "{e}");
    }

    fn zip_file(entries: &[(&str, &[u8])]) -> tempfile::NamedTempFile {
        let mut tmp = tempfile::NamedTempFile::new().unwrap();
        {
            let mut w = zip::ZipWriter::new(tmp.as_file_mut());
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            for (name, data) in entries {
                if name.ends_with('/') {
                    w.add_directory(*name, opts).unwrap();
                } else {
                    w.start_file(*name, opts).unwrap();
                    w.write_all(data).unwrap();
                }
            }
            w.finish().unwrap();
        }
        tmp
    }

    #[test]
    fn release_zip_and_module_zip() {
        let rel = zip_file(&[
            ("go/", b""),
            ("go/bin/go.exe", b"exe"),
            ("go/src/cmd/go.mod", b"module cmd\n"),
            ("go/misc/x", b"x"),
        ]);
        assert_eq!(sniff_zip(rel.path()).unwrap(), ZipFlavor::Release);
        let set = read_release_zip(rel.path(), &mut Progress::hidden()).unwrap();
        let names: Vec<&str> = set.files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["bin/go.exe", "src/cmd/_go.mod"]);
        assert_eq!(set.dropped, 1);
        assert!(set.problems.is_empty());

        let p = "golang.org/toolchain@v0.0.1-go1.99.1.windows-amd64/";
        let m = zip_file(&[
            (&format!("{p}bin/go.exe"), b"exe"),
            (&format!("{p}src/cmd/_go.mod"), b"module cmd\n"),
        ]);
        assert_eq!(
            sniff_zip(m.path()).unwrap(),
            ZipFlavor::Module("v0.0.1-go1.99.1.windows-amd64".into())
        );
        let files = module_zip_files(m.path(), p).unwrap();
        assert_eq!(
            files.keys().collect::<Vec<_>>(),
            ["bin/go.exe", "src/cmd/_go.mod"]
        );
        assert_eq!(files["bin/go.exe"], dirhash::sha256(b"exe"));

        let other = zip_file(&[("example.com/m@v1.0.0/a.go", b"")]);
        assert!(sniff_zip(other.path()).is_err());
    }
}
