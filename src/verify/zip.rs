//! The module-zip verifier: every module zip goes through [`check_zip`] before it is stored, and
//! `goward verify-zip` and `goward cache verify` run [`check_zip_path`].
//!
//! It applies the rules of x/mod `zip/zip.go` (v0.43.0) `checkZip` and `Unzip`, plus the go
//! command's `modfetch/fetch.go` `downloadZip` prefix check, and is stricter where a proxy must be
//! (non-regular entries, encryption, compression methods, header-vs-data sizes). The `h1:` hash
//! (dirhash `HashZip`) is computed while the entries are checked, and the SHA-256 of the file in
//! one more sequential read, so the caller never has to read a checked zip again before storing
//! it.
//!
//! The authority is Go's archive/zip, ported in [`goread`]: the entry list, the raw name bytes,
//! the sizes, the CRC and where each entry's data starts are read as go1.26 reads them (first
//! zip64 block, stored names, local headers used only to find the data), and the bytes hashed are
//! what Go's `File.Open` yields. Why: a client with `GOSUMDB=off` trusts goward's "verified"; if
//! goward hashed anything other than what the go command extracts, a hostile upstream could pass
//! the honest `h1:` and have different files built (issue 10 §6: two zip64 blocks, an Info-ZIP
//! Unicode Path field). On top of that, entries that readers disagree about are refused (more
//! than one zip64 block, Unicode Path/Comment fields, an overrunning extra field), and the zip
//! crate's independent reading of every entry (name, local-header offset, data offset, sizes,
//! CRC, method, flags) must agree with Go's, or the zip is refused as ambiguous. The differential
//! tests (tests/it/zipdiff.rs) compare the result with the real Go code on generated zips.
//!
//! Streaming: entries are read one at a time from the central directory, by Go's walk and the zip
//! crate's (`zip::unstable::read::ZipIterable`, which never builds an index of the archive and
//! keeps entries that share a name) in step, and each entry is decompressed through a reader
//! that stops one chunk past its declared size. Memory is bounded by the entry names and a few
//! numbers per entry (kept for the collision check and the hash), never by content.
//!
//! `ZipIterable` lives in the zip crate's `unstable` module, which may change in patch releases:
//! the zip crate asks users of it for an exact version requirement (`zip = "=9.8.2"`), and
//! Cargo.lock pins that version meanwhile.

// Parsing hostile input: `verify`'s lints (no unchecked arithmetic, indexing, unwrap, expect or
// panic outside the tests) hold here too.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use zip::read::{ZipFileEntry, ZipReadOptions};
use zip::unstable::read::ZipIterable;

use crate::artifact::H1;
use crate::xmod::dirhash::{self, ContentError, DirhashError};
use crate::xmod::module::{self, ModuleError};

mod goread;

/// Largest module zip file, and largest total uncompressed content (x/mod zip `MaxZipFile`).
pub const MAX_ZIP_FILE: u64 = 500 << 20;
/// Largest root `go.mod` (x/mod zip `MaxGoMod`).
pub const MAX_GO_MOD: u64 = 16 << 20;
/// Largest root `LICENSE` (x/mod zip `MaxLICENSE`).
pub const MAX_LICENSE: u64 = 16 << 20;
/// Default cap on central-directory entries. Go has none; see [`ZipLimits::max_entries`].
pub const DEFAULT_MAX_ENTRIES: u64 = 1 << 18;

/// Size limits for a module zip. [`Default`] gives Go's values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZipLimits {
    /// Largest zip file in bytes, and largest total of the declared uncompressed sizes.
    pub max_zip_file: u64,
    /// Largest declared size of `<module>@<version>/go.mod`.
    pub max_go_mod: u64,
    /// Largest declared size of `<module>@<version>/LICENSE`.
    pub max_license: u64,
    /// Largest number of central-directory entries, checked against the count in the
    /// end-of-central-directory record before any entry is parsed.
    ///
    /// Not a Go rule. The verifier keeps every entry name in memory (for the case-fold collision
    /// check and the sorted `h1:` summary, as Go does): about three times the total name length,
    /// which the central directory, and so `max_zip_file`, bounds, plus roughly 200 bytes per
    /// entry. The cap bounds that per-entry part and refuses an absurd declared count before any
    /// entry is parsed. The default (262,144) is far above the file counts of real modules.
    pub max_entries: u64,
}

impl Default for ZipLimits {
    fn default() -> Self {
        ZipLimits {
            max_zip_file: MAX_ZIP_FILE,
            max_go_mod: MAX_GO_MOD,
            max_license: MAX_LICENSE,
            max_entries: DEFAULT_MAX_ENTRIES,
        }
    }
}

/// Proof token: a module zip that passed every module-zip rule, with its hashes.
///
/// The only constructor is [`check_zip`], which takes ownership of the file, so the bytes that
/// were checked are the bytes that get stored.
#[derive(Debug)]
pub struct ZipChecked {
    file: tempfile::NamedTempFile,
    module: String,
    version: String,
    report: ZipReport,
}

impl ZipChecked {
    /// The zip's `h1:` hash (dirhash `HashZip`), to compare with go.sum / the checksum database.
    pub fn h1(&self) -> &H1 {
        &self.report.h1
    }
    /// SHA-256 of the zip file's bytes (its content address).
    pub fn sha256(&self) -> &[u8; 32] {
        &self.report.sha256
    }
    /// Size of the zip file in bytes.
    pub fn size(&self) -> u64 {
        self.report.size
    }
    /// SHA-256 of the root `go.mod` inside, if any.
    pub fn go_mod_sha256(&self) -> Option<&[u8; 32]> {
        self.report.go_mod_sha256.as_ref()
    }
    /// Number of central-directory entries.
    pub fn entries(&self) -> usize {
        self.report.entries
    }
    /// The module path the zip was checked for.
    pub fn module(&self) -> &str {
        &self.module
    }
    /// The version the zip was checked for.
    pub fn version(&self) -> &str {
        &self.version
    }
    /// Where the checked file is.
    pub fn path(&self) -> &Path {
        self.file.path()
    }
    /// The checked file, rewound to its start.
    pub fn into_file(self) -> tempfile::NamedTempFile {
        self.file
    }
}

/// What [`check_zip_path`] reports for a zip that passed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZipReport {
    /// The zip's `h1:` hash.
    pub h1: H1,
    /// SHA-256 of the zip file's bytes.
    pub sha256: [u8; 32],
    /// Size of the zip file in bytes.
    pub size: u64,
    /// Number of central-directory entries.
    pub entries: usize,
    /// SHA-256 of the root `go.mod`'s content, if the zip has one: a
    /// signed zip vouches for a go.mod with exactly these bytes.
    pub go_mod_sha256: Option<[u8; 32]>,
}

/// Why a module zip was rejected. Messages follow Go's where Go has one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ZipCheckError {
    /// The version is not canonical (x/mod zip `checkZip`).
    #[error("version {} is not canonical (should be {})", go_quote(.version), go_quote(.canonical))]
    NotCanonical {
        /// The version given.
        version: String,
        /// Its canonical form, empty if it is not a version at all.
        canonical: String,
    },
    /// The module path and version fail x/mod `module.Check`.
    #[error(transparent)]
    Module(ModuleError),
    /// The zip file is larger than the limit (x/mod zip `checkZip`).
    #[error("module zip file is too large ({size} bytes; limit is {limit} bytes)")]
    TooLarge {
        /// The zip file's size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The end-of-central-directory record declares more entries than the limit.
    #[error("module zip file has too many entries ({entries}; limit is {limit})")]
    TooManyEntries {
        /// The declared entry count.
        entries: u64,
        /// The limit.
        limit: u64,
    },
    /// The declared uncompressed sizes add up to more than the limit (x/mod zip `checkZip`).
    #[error("total uncompressed size of module contents too large (max size is {limit} bytes)")]
    ContentTooLarge {
        /// The limit.
        limit: u64,
    },
    /// Entries break the module-zip rules; one problem per entry, in central-directory order
    /// (x/mod zip `FileErrorList`).
    #[error("{}", join_lines(.0))]
    InvalidEntries(Vec<EntryError>),
    /// An entry decompressed to more than its declared size (x/mod zip `Unzip`).
    #[error("uncompressed size of file {name} is larger than declared size ({declared} bytes)")]
    LargerThanDeclared {
        /// The entry name.
        name: String,
        /// Its declared uncompressed size.
        declared: u64,
    },
    /// An entry decompressed to less than its declared size (Go archive/zip: unexpected EOF).
    #[error(
        "uncompressed size of file {name} is smaller than declared size ({actual} of {declared} bytes)"
    )]
    SmallerThanDeclared {
        /// The entry name.
        name: String,
        /// Its declared uncompressed size.
        declared: u64,
        /// The bytes it actually produced.
        actual: u64,
    },
    /// An entry's data does not match its CRC-32 (Go archive/zip `ErrChecksum`).
    #[error("{name}: zip: checksum error")]
    Checksum {
        /// The entry name.
        name: String,
    },
    /// An entry's data could not be located or decompressed.
    #[error("{name}: {source}")]
    Corrupt {
        /// The entry name.
        name: String,
        /// The underlying error.
        source: io::Error,
    },
    /// The archive structure (end record, central directory) is not a valid zip.
    #[error("malformed module zip: {0}")]
    Malformed(#[source] zip::result::ZipError),
    /// Go's archive/zip would read a different central directory than the zip crate (a
    /// parser-differential zip).
    #[error("ambiguous module zip: {0}")]
    Ambiguous(&'static str),
    /// An entry that readers would read differently, or that the zip crate reads differently
    /// from Go's archive/zip.
    #[error("ambiguous module zip: {name}: {problem}")]
    AmbiguousEntry {
        /// The entry name as stored in the central directory (lossily decoded if not UTF-8).
        name: String,
        /// What makes it ambiguous.
        problem: Ambiguity,
    },
    /// The `h1:` summary could not be built.
    #[error(transparent)]
    Hash(DirhashError),
    /// Reading the zip file failed.
    #[error("reading module zip: {0}")]
    Io(#[source] io::Error),
}

impl ZipCheckError {
    /// One line per problem, for the CLI: each invalid entry on its own line.
    pub fn problems(&self) -> Vec<String> {
        match self {
            ZipCheckError::InvalidEntries(list) => list.iter().map(ToString::to_string).collect(),
            other => vec![other.to_string()],
        }
    }

    /// A short stable label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            ZipCheckError::NotCanonical { .. } => "zip_bad_version",
            ZipCheckError::Module(_) => "zip_bad_module",
            ZipCheckError::TooLarge { .. } => "zip_too_large",
            ZipCheckError::TooManyEntries { .. } => "zip_too_many_entries",
            ZipCheckError::ContentTooLarge { .. } => "zip_content_too_large",
            ZipCheckError::InvalidEntries(_) => "zip_invalid_entries",
            ZipCheckError::LargerThanDeclared { .. }
            | ZipCheckError::SmallerThanDeclared { .. } => "zip_size_mismatch",
            ZipCheckError::Checksum { .. } => "zip_checksum",
            ZipCheckError::Ambiguous(_) | ZipCheckError::AmbiguousEntry { .. } => "zip_ambiguous",
            ZipCheckError::Corrupt { .. }
            | ZipCheckError::Malformed(_)
            | ZipCheckError::Hash(_) => "zip_malformed",
            ZipCheckError::Io(_) => "zip_io",
        }
    }
}

fn join_lines(list: &[EntryError]) -> String {
    let lines: Vec<String> = list.iter().map(ToString::to_string).collect();
    lines.join("\n")
}

/// Why an entry is ambiguous: goward hashes what Go's archive/zip reads, and refuses entries
/// that another reader (the zip crate, unzip, other proxies' tools) could read otherwise.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Ambiguity {
    /// More than one zip64 extended-information field.
    #[error(
        "{count} zip64 extra fields in its {place} header (Go's archive/zip reads the first, \
         other readers the last)"
    )]
    Zip64Fields {
        /// `central` or `local`.
        place: &'static str,
        /// How many.
        count: u32,
    },
    /// An Info-ZIP Unicode Path (0x7075) or Unicode Comment (0x6375) extra field.
    #[error(
        "Info-ZIP Unicode extra field {id:#06x} in its {place} header (Go's archive/zip ignores \
         it, other readers use it instead of the stored name)"
    )]
    UnicodeField {
        /// `central` or `local`.
        place: &'static str,
        /// The field ID.
        id: u16,
    },
    /// A central extra field longer than the extra data left (Go stops reading extras there).
    #[error("extra field {id:#06x} in its central header runs past the extra data")]
    ExtraOverrun {
        /// The field ID.
        id: u16,
    },
    /// Go's archive/zip cannot find the entry's data.
    #[error("Go's archive/zip cannot read it: {0}")]
    LocalHeader(&'static str),
    /// The zip crate reads a field differently from Go's archive/zip.
    #[error("Go's archive/zip reads {field} {go}, the zip crate {other}")]
    Differs {
        /// Which field.
        field: &'static str,
        /// Go's value.
        go: String,
        /// The zip crate's value.
        other: String,
    },
}

/// One entry that breaks a rule: displays as `<entry name>: <problem>` (x/mod zip `FileError`).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct EntryError {
    /// The entry name as stored (lossily decoded if not UTF-8).
    pub name: String,
    /// What is wrong with it.
    pub problem: EntryProblem,
}

/// What is wrong with one entry. The first group are x/mod zip `checkZip` rules (messages as in
/// Go); the rest are goward's stricter rules.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum EntryProblem {
    /// The name does not start with `<module>@<version>/`.
    #[error("path does not have prefix {}", go_quote(.prefix))]
    NoPrefix {
        /// The required prefix.
        prefix: String,
    },
    /// The name is not `path.Clean`ed (`..`, `.`, `//`, trailing or leading `/`).
    #[error("file path is not clean")]
    NotClean,
    /// The name fails x/mod `module.CheckFilePath`.
    #[error(transparent)]
    BadPath(ModuleError),
    /// The name is not UTF-8 (what `CheckFilePath` reports for such a name).
    #[error("malformed file path {quoted}: invalid UTF-8")]
    NonUtf8Path {
        /// The name after the prefix, Go-quoted.
        quoted: String,
    },
    /// Two names (or parent directories) are equal under Unicode simple case folding.
    #[error("case-insensitive file name collision: {} and {}", go_quote(.first), go_quote(.second))]
    CaseCollision {
        /// The name seen first.
        first: String,
        /// The name seen now.
        second: String,
    },
    /// A path is both a file and a directory.
    #[error("entry {} is both a file and a directory", go_quote(.path))]
    FileAndDir {
        /// The path.
        path: String,
    },
    /// The same file appears twice.
    #[error("multiple entries for file {}", go_quote(.path))]
    Duplicate {
        /// The path.
        path: String,
    },
    /// A `go.mod` (any case) below the module root.
    #[error("go.mod file not in module root directory")]
    GoModNotRoot,
    /// The root go.mod is not spelled `go.mod`.
    #[error("go.mod files must have lowercase names")]
    GoModCase,
    /// The root go.mod declares more than the limit.
    #[error("go.mod file too large (max size is {limit} bytes)")]
    GoModTooLarge {
        /// The limit.
        limit: u64,
    },
    /// The root LICENSE declares more than the limit.
    #[error("LICENSE file too large (max size is {limit} bytes)")]
    LicenseTooLarge {
        /// The limit.
        limit: u64,
    },
    /// A symbolic link (Unix mode in the external attributes).
    #[error("file is a symbolic link")]
    Symlink,
    /// Any other non-regular entry: device, FIFO, socket, or a directory mode on a file name.
    #[error("not a regular file (mode {mode:#o})")]
    NotRegular {
        /// The Unix mode, or the MS-DOS attribute byte for MS-DOS creators.
        mode: u32,
    },
    /// An encrypted entry.
    #[error("file is encrypted")]
    Encrypted,
    /// A compression method other than store (0) and deflate (8).
    #[error("unsupported compression method {method} (only store and deflate are allowed)")]
    UnsupportedCompression {
        /// The method, by number when the zip crate does not know it.
        method: String,
    },
    /// A directory entry (name ending in `/`) that declares data.
    #[error("directory entry declares {declared} bytes of data")]
    DirectoryData {
        /// The declared uncompressed size.
        declared: u64,
    },
}

/// Checks a downloaded module zip for `module`@`version` and returns it as a [`ZipChecked`].
///
/// On error the file is dropped, which deletes it: nothing unchecked can be stored.
pub fn check_zip(
    file: tempfile::NamedTempFile,
    module: &str,
    version: &str,
    limits: &ZipLimits,
) -> Result<ZipChecked, ZipCheckError> {
    // Independent handles (own file offsets): the zip crate's walk, Go's walk, entry data.
    // `reopen` checks that they are the same file.
    let go = file.reopen().map_err(ZipCheckError::Io)?;
    let body = file.reopen().map_err(ZipCheckError::Io)?;
    let handles = Handles {
        krate: file.as_file(),
        go: &go,
        body: &body,
    };
    let (report, _) = check_handles(&handles, module, version, limits)?;
    file.as_file()
        .seek(SeekFrom::Start(0))
        .map_err(ZipCheckError::Io)?;
    Ok(ZipChecked {
        file,
        module: module.to_owned(),
        version: version.to_owned(),
        report,
    })
}

/// The same checks on a file the caller owns (CLI `verify-zip`).
///
/// The file must not change while it is checked; the proxy path uses [`check_zip`], which owns
/// its file.
pub fn check_zip_path(
    path: &Path,
    module: &str,
    version: &str,
    limits: &ZipLimits,
) -> Result<ZipReport, ZipCheckError> {
    check_zip_path_listing(path, module, version, limits).map(|(report, _)| report)
}

/// The same checks on a file the caller does not own (a stored blob
/// re-checked before it is trusted again): `open` yields a fresh handle on
/// it each time, one per reader, each with its own offset.
pub fn check_zip_handles(
    open: &dyn Fn() -> std::io::Result<File>,
    module: &str,
    version: &str,
    limits: &ZipLimits,
) -> Result<ZipReport, ZipCheckError> {
    let open = || open().map_err(ZipCheckError::Io);
    let (krate, go, body) = (open()?, open()?, open()?);
    let handles = Handles {
        krate: &krate,
        go: &go,
        body: &body,
    };
    check_handles(&handles, module, version, limits).map(|(report, _)| report)
}

/// One entry as it was hashed: what Go's archive/zip `File.Open` yields for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HashedEntry {
    /// The name bytes exactly as stored in the central directory.
    pub name: Vec<u8>,
    /// Bytes of content (0 for directory entries).
    pub size: u64,
    /// SHA-256 of the content.
    pub sha256: [u8; 32],
}

/// [`check_zip_path`], also returning every entry as hashed, in central-directory order (for
/// comparing with Go's own reading of the zip).
pub fn check_zip_path_listing(
    path: &Path,
    module: &str,
    version: &str,
    limits: &ZipLimits,
) -> Result<(ZipReport, Vec<HashedEntry>), ZipCheckError> {
    let open = || File::open(path).map_err(ZipCheckError::Io);
    let (krate, go, body) = (open()?, open()?, open()?);
    let handles = Handles {
        krate: &krate,
        go: &go,
        body: &body,
    };
    check_handles(&handles, module, version, limits)
}

/// Three handles on one zip file, each with its own offset.
struct Handles<'a> {
    /// Walked by the zip crate, and hashed whole at the end.
    krate: &'a File,
    /// Walked by the port of Go's archive/zip.
    go: &'a File,
    /// Local headers and entry data.
    body: &'a File,
}

/// Where and how Go reads one entry's data (from [`goread`]).
struct DataPlan {
    entry: goread::Entry,
    data_offset: u64,
}

/// The checks. Order and messages follow x/mod zip `checkZip`.
fn check_handles(
    h: &Handles<'_>,
    module: &str,
    version: &str,
    limits: &ZipLimits,
) -> Result<(ZipReport, Vec<HashedEntry>), ZipCheckError> {
    // x/mod zip checkZip: canonical version, then module.Check.
    match module::canonical_version(version) {
        Some(c) if c == version => {}
        other => {
            return Err(ZipCheckError::NotCanonical {
                version: version.to_owned(),
                canonical: other.unwrap_or_default(),
            });
        }
    }
    module::check(module, version).map_err(ZipCheckError::Module)?;

    // x/mod zip checkZip: the file size, before reading anything.
    let size = h.krate.metadata().map_err(ZipCheckError::Io)?.len();
    if size > limits.max_zip_file {
        return Err(ZipCheckError::TooLarge {
            size,
            limit: limits.max_zip_file,
        });
    }

    // The authority: where Go's archive/zip finds the central directory.
    let go_dir = goread::directory_end(h.go, size)
        .map_err(ZipCheckError::Io)?
        .map_err(not_go)?;
    if go_dir.records > limits.max_entries {
        return Err(ZipCheckError::TooManyEntries {
            entries: go_dir.records,
            limit: limits.max_entries,
        });
    }
    // The zip crate reads the end record its own way; only that is read here, and its entry
    // count is capped before a single entry is parsed.
    let mut archive = ZipIterable::try_new(BufReader::new(h.krate), zip::read::Config::default())
        .map_err(ZipCheckError::Malformed)?;
    let entries = archive.len();
    if entries as u64 > limits.max_entries {
        return Err(ZipCheckError::TooManyEntries {
            entries: entries as u64,
            limit: limits.max_entries,
        });
    }

    let prefix = format!("{module}@{version}/");
    let mut state = EntryState {
        prefix: &prefix,
        limits,
        collisions: CollisionChecker::default(),
        total: 0,
        size_error: false,
    };
    let mut problems: Vec<EntryError> = Vec::new();
    // Pass 1: Go's walk and the zip crate's in step, names and rules only, no entry data.
    // Everything that lives until the end (names, the collision tree) is allocated here, before
    // any entry is inflated: interleaving those small long-lived allocations with the
    // inflater's large per-entry buffers fragmented the heap and grew RSS by ~1.5x the zip size
    // (measured on a 64 MB toolchain zip).
    let mut plan: Vec<(Kind, DataPlan)> = Vec::with_capacity(entries.min(1 << 16));
    let files = archive.files().map_err(ZipCheckError::Malformed)?;
    let mut walk = goread::Walk::new(h.go, &go_dir).map_err(ZipCheckError::Io)?;
    let mut first = true;
    loop {
        let go = walk.next().map_err(ZipCheckError::Io)?.map_err(not_go)?;
        // Go's reading first, so that an entry readers disagree about gets its own message
        // even where the zip crate fails on it.
        let go = match go {
            None => None,
            Some(go) => {
                let ambiguous = |problem| ZipCheckError::AmbiguousEntry {
                    name: String::from_utf8_lossy(&go.name).into_owned(),
                    problem,
                };
                refuse_extras(&go.extras, "central").map_err(ambiguous)?;
                let local = goread::read_local(h.body, go.header_offset)
                    .map_err(ZipCheckError::Io)?
                    .map_err(|why| ambiguous(Ambiguity::LocalHeader(why)))?;
                refuse_extras(&local.extras, "local").map_err(ambiguous)?;
                Some((go, local))
            }
        };
        let krate = files.next().transpose().map_err(ZipCheckError::Malformed)?;
        let ((go, local), krate) = match (go, krate) {
            (Some(go), Some(krate)) => (go, krate),
            (None, None) => break,
            (Some(_), None) => {
                return Err(ZipCheckError::Ambiguous(
                    "more central-directory headers than the end record declares",
                ));
            }
            (None, Some(_)) => {
                return Err(ZipCheckError::Ambiguous(
                    "Go's archive/zip reads fewer entries than the end record declares",
                ));
            }
        };
        if first && go.central != krate.central_header_start() {
            return Err(ZipCheckError::Ambiguous(
                "Go's archive/zip reads a different central directory",
            ));
        }
        first = false;
        let ambiguous = |problem| ZipCheckError::AmbiguousEntry {
            name: String::from_utf8_lossy(&go.name).into_owned(),
            problem,
        };
        same_entry(&go, &krate).map_err(ambiguous)?;
        match state.check(&go) {
            Err(problem) => problems.push(EntryError {
                name: String::from_utf8_lossy(&go.name).into_owned(),
                problem,
            }),
            Ok(kind) => plan.push((
                kind,
                DataPlan {
                    entry: go,
                    data_offset: local.data_offset,
                },
            )),
        }
    }
    // x/mod zip CheckedFiles.Err: the size error wins over the list of invalid files.
    if state.size_error {
        return Err(ZipCheckError::ContentTooLarge {
            limit: limits.max_zip_file,
        });
    }
    if !problems.is_empty() {
        return Err(ZipCheckError::InvalidEntries(problems));
    }
    // Pass 2: hash every file as Go's File.Open reads it, after the zip crate has located the
    // same data. Per-entry allocations are freed before the next entry, so memory stays flat
    // whatever the zip's size.
    let mut hashed: Vec<HashedEntry> = Vec::with_capacity(plan.len());
    let mut krate_body = BufReader::new(h.body);
    let files = archive.files().map_err(ZipCheckError::Malformed)?;
    for (kind, data) in plan {
        let go = data.entry;
        let name = || String::from_utf8_lossy(&go.name).into_owned();
        let krate = files
            .next()
            .transpose()
            .map_err(ZipCheckError::Malformed)?
            .filter(|k| k.name_raw() == go.name.as_slice())
            .ok_or(ZipCheckError::Ambiguous(
                "central directory changed between passes",
            ))?;
        let krate_start = krate
            .with_reader(&mut krate_body, ZipReadOptions::new())
            .map(|f| f.data_start())
            .map_err(|e| ZipCheckError::Corrupt {
                name: name(),
                source: io::Error::other(e),
            })?;
        if krate_start != Some(data.data_offset) {
            return Err(ZipCheckError::AmbiguousEntry {
                name: name(),
                problem: Ambiguity::Differs {
                    field: "data offset",
                    go: data.data_offset.to_string(),
                    other: krate_start.map_or("none".to_owned(), |s| s.to_string()),
                },
            });
        }
        let (size, sha256) = match kind {
            // dirhash HashZip lists directory entries (and the bare prefix) with empty content.
            Kind::Dir => (0, dirhash::sha256(b"")),
            Kind::File { declared } => (
                declared,
                goread::hash_data(h.body, &go, data.data_offset)
                    .map_err(|e| content_error(name(), e))?,
            ),
        };
        hashed.push(HashedEntry {
            name: go.name,
            size,
            sha256,
        });
    }
    let h1 = dirhash::hash1_bytes(
        hashed
            .iter()
            .map(|e| (Cow::Borrowed(e.name.as_slice()), e.sha256))
            .collect(),
    )
    .map_err(ZipCheckError::Hash)?;
    let sha256 = sha256_file(h.krate, size)?;
    let root_go_mod = format!("{module}@{version}/go.mod");
    let go_mod_sha256 = hashed
        .iter()
        .find(|e| e.name.as_slice() == root_go_mod.as_bytes())
        .map(|e| e.sha256);
    Ok((
        ZipReport {
            h1,
            sha256,
            size,
            entries,
            go_mod_sha256,
        },
        hashed,
    ))
}

fn not_go(why: goread::Unreadable) -> ZipCheckError {
    ZipCheckError::Malformed(zip::result::ZipError::InvalidArchive(Cow::Owned(format!(
        "Go's archive/zip cannot read it: {why}"
    ))))
}

/// Extra fields that make readers disagree about an entry: refused wherever they are.
fn refuse_extras(x: &goread::Extras, place: &'static str) -> Result<(), Ambiguity> {
    if x.zip64 > 1 {
        return Err(Ambiguity::Zip64Fields {
            place,
            count: x.zip64,
        });
    }
    if let Some(id) = x.unicode {
        return Err(Ambiguity::UnicodeField { place, id });
    }
    // Go stops reading extra fields at one that overruns; other readers fail or go on. Only
    // the central header's matter to Go.
    if let (Some(id), "central") = (x.overrun, place) {
        return Err(Ambiguity::ExtraOverrun { id });
    }
    Ok(())
}

/// The zip crate must read the entry exactly as Go does.
fn same_entry(go: &goread::Entry, k: &ZipFileEntry<'_>) -> Result<(), Ambiguity> {
    let differs = |field, go: String, other: String| Err(Ambiguity::Differs { field, go, other });
    if k.name_raw() != go.name.as_slice() {
        return differs(
            "name",
            go_quote_bytes(&go.name),
            go_quote_bytes(k.name_raw()),
        );
    }
    #[allow(deprecated)] // the only way to get the number of a method the crate knows
    let krate_method = k.compression().to_u16();
    let numbers: [(&'static str, i128, i128); 6] = [
        (
            "local header offset",
            i128::from(go.header_offset),
            i128::from(k.header_start()),
        ),
        (
            "compressed size",
            i128::from(go.compressed),
            i128::from(k.compressed_size()),
        ),
        (
            "uncompressed size",
            i128::from(go.uncompressed),
            i128::from(k.size()),
        ),
        ("CRC-32", i128::from(go.crc32), i128::from(k.crc32())),
        (
            "compression method",
            i128::from(go.method),
            i128::from(krate_method),
        ),
        (
            "flags",
            i128::from(go.flags),
            i128::from(k.flags().as_u16()),
        ),
    ];
    for (field, g, o) in numbers {
        if g != o {
            return differs(field, g.to_string(), o.to_string());
        }
    }
    Ok(())
}

fn content_error(name: String, e: ContentError) -> ZipCheckError {
    match e {
        ContentError::Larger { declared } => ZipCheckError::LargerThanDeclared { name, declared },
        ContentError::Smaller { declared, actual } => ZipCheckError::SmallerThanDeclared {
            name,
            declared,
            actual,
        },
        ContentError::Checksum => ZipCheckError::Checksum { name },
        ContentError::Read(source) => ZipCheckError::Corrupt { name, source },
        other => ZipCheckError::Corrupt {
            name,
            source: io::Error::other(other.to_string()),
        },
    }
}

/// SHA-256 of the whole file, which must still be `size` bytes long.
fn sha256_file(mut f: &File, size: u64) -> Result<[u8; 32], ZipCheckError> {
    f.seek(SeekFrom::Start(0)).map_err(ZipCheckError::Io)?;
    let (digest, read) = dirhash::sha256_reader(BufReader::new(f).take(size.saturating_add(1)))
        .map_err(ZipCheckError::Io)?;
    if read != size {
        return Err(ZipCheckError::Io(io::Error::other(format!(
            "zip file changed size while being checked ({size} bytes, then {read})"
        ))));
    }
    Ok(digest)
}

/// How an entry that passed the name checks is hashed.
enum Kind {
    /// A directory entry (or the bare prefix): listed in the hash with empty content.
    Dir,
    /// A file whose data must be exactly `declared` bytes.
    File { declared: u64 },
}

/// Running state of the per-entry checks (x/mod zip `checkZip` loop variables).
struct EntryState<'a> {
    prefix: &'a str,
    limits: &'a ZipLimits,
    collisions: CollisionChecker,
    /// Sum of declared sizes of accepted files (Go `size`).
    total: u64,
    /// Go `cf.SizeError != nil`.
    size_error: bool,
}

impl EntryState<'_> {
    /// One entry's metadata, in x/mod zip `checkZip` order; goward's stricter rules come after
    /// Go's, so a zip Go rejects gets Go's message.
    fn check(&mut self, entry: &goread::Entry) -> Result<Kind, EntryProblem> {
        let raw = entry.name.as_slice();
        // checkZip: every name has the prefix (also cmd/go fetch.go downloadZip).
        let Some(rest) = raw.strip_prefix(self.prefix.as_bytes()) else {
            return Err(EntryProblem::NoPrefix {
                prefix: self.prefix.to_owned(),
            });
        };
        // checkZip skips the entry equal to the prefix. It is a directory entry that HashZip
        // still lists, so goward applies its own entry rules to it.
        if rest.is_empty() {
            check_entry_kind(entry, true)?;
            return Ok(Kind::Dir);
        }
        let (name, is_dir) = match rest.strip_suffix(b"/") {
            Some(dir) => (dir, true),
            None => (rest, false),
        };
        // checkZip: path.Clean(name) == name. Lossy decoding keeps every '/' and '.', so the
        // comparison gives Go's answer even for names that are not UTF-8.
        let lossy = String::from_utf8_lossy(name);
        if dirhash::go_path_clean(&lossy) != lossy {
            return Err(EntryProblem::NotClean);
        }
        // checkZip: module.CheckFilePath (which starts with a UTF-8 check).
        let name = std::str::from_utf8(name).map_err(|_| EntryProblem::NonUtf8Path {
            quoted: go_quote_bytes(name),
        })?;
        module::check_file_path(name).map_err(EntryProblem::BadPath)?;
        // checkZip: case-fold collisions, file-vs-directory, duplicates.
        self.collisions.check(name, is_dir)?;
        if is_dir {
            check_entry_kind(entry, true)?;
            return Ok(Kind::Dir);
        }
        // checkZip: a go.mod in any case must be exactly "go.mod" at the root.
        let base = name.rsplit('/').next().unwrap_or(name);
        if str_to_fold(base) == "go.mod" {
            if base != name {
                return Err(EntryProblem::GoModNotRoot);
            }
            if name != "go.mod" {
                return Err(EntryProblem::GoModCase);
            }
        }
        // checkZip: declared sizes add up against the limit; Go reads the size as int64, so a
        // size with the top bit set is "negative" and always too large.
        let declared = entry.uncompressed;
        let max = self.limits.max_zip_file;
        if declared <= i64::MAX as u64 && max.saturating_sub(self.total) >= declared {
            self.total = self.total.saturating_add(declared);
        } else {
            self.size_error = true;
        }
        if name == "go.mod" && declared > self.limits.max_go_mod {
            return Err(EntryProblem::GoModTooLarge {
                limit: self.limits.max_go_mod,
            });
        }
        if name == "LICENSE" && declared > self.limits.max_license {
            return Err(EntryProblem::LicenseTooLarge {
                limit: self.limits.max_license,
            });
        }
        check_entry_kind(entry, false)?;
        Ok(Kind::File { declared })
    }
}

/// goward's stricter entry rules. Go's `CheckZip` ignores modes and `Unzip` writes every entry as
/// a regular 0444 file, but a proxy serves the zip to other clients and tools, so anything that
/// could extract as something else, or that Go's archive/zip cannot read, is refused.
fn check_entry_kind(entry: &goread::Entry, is_dir: bool) -> Result<(), EntryProblem> {
    // General-purpose flags: bit 0 encrypted, bit 6 strong encryption, bit 13 masked directory.
    if entry.flags & (1 | 1 << 6 | 1 << 13) != 0 {
        return Err(EntryProblem::Encrypted);
    }
    // Go's archive/zip registers only these two decompressors (register.go).
    if !matches!(entry.method, 0 | 8) {
        return Err(EntryProblem::UnsupportedCompression {
            method: entry.method.to_string(),
        });
    }
    // The file type as Go's archive/zip FileHeader.Mode (struct.go) reads it: Unix mode bits for
    // creators 3 (Unix) and 19 (macOS); MS-DOS attributes for creators 0, 11 and 14 (Go's
    // "FAT", "NTFS", "VFAT"); nothing for the others.
    let attrs = entry.external;
    match entry.creator >> 8 {
        3 | 19 => {
            let mode = attrs >> 16;
            match (mode & 0o170000, is_dir) {
                (0, _) | (0o100000, false) | (0o040000, true) => {}
                (0o120000, _) => return Err(EntryProblem::Symlink),
                _ => return Err(EntryProblem::NotRegular { mode }),
            }
        }
        // 0x10: MS-DOS directory attribute on an entry whose name says file.
        0 | 11 | 14 if attrs & 0x10 != 0 && !is_dir => {
            return Err(EntryProblem::NotRegular { mode: attrs & 0xff });
        }
        _ => {}
    }
    // Go's File.Open fails on a directory entry that declares data (archive/zip reader.go), so
    // dirhash.HashZip would fail too.
    if is_dir && entry.uncompressed != 0 {
        return Err(EntryProblem::DirectoryData {
            declared: entry.uncompressed,
        });
    }
    Ok(())
}

/// x/mod zip `collisionChecker`: finds names equal under Unicode simple case folding, paths that
/// are both a file and a directory, and duplicate files, checking each name and then every parent
/// directory, exactly as Go's recursive `check` does.
///
/// Go keys a map by the folded text of every path and parent path, which costs memory quadratic
/// in the depth of a name (a 64 KiB name `a/a/a/...` would create 32,768 keys averaging 32 KiB).
/// Here the same keys are the nodes of a tree of folded path elements, and the original text of a
/// key is kept as (index of the name that created it, length), so memory is linear in the total
/// name length. Decisions and messages are the same as Go's: a key's stored path is the prefix of
/// the first name that inserted it, as in Go's map.
#[derive(Default)]
struct CollisionChecker {
    /// Every name passed to `check`, in order.
    names: Vec<String>,
    /// Node 0 is the root (the empty path); the others are the keys of Go's map.
    nodes: Vec<Node>,
    /// (parent node, folded path element) → node.
    children: HashMap<(usize, String), usize>,
}

struct Node {
    /// The name (index into `names`) whose prefix first produced this key, and the prefix length.
    name: usize,
    len: usize,
    is_dir: bool,
}

impl CollisionChecker {
    fn check(&mut self, path: &str, is_dir: bool) -> Result<(), EntryProblem> {
        if self.nodes.is_empty() {
            self.nodes.push(Node {
                name: 0,
                len: 0,
                is_dir: true,
            });
        }
        // Ends of every prefix that is a key: "a", "a/b", "a/b/c" for "a/b/c".
        let ends: Vec<usize> = path
            .match_indices('/')
            .map(|(i, _)| i)
            .chain(std::iter::once(path.len()))
            .collect();
        // Each element's (start, end) in `path`.
        let mut spans = Vec::with_capacity(ends.len());
        let mut begin = 0usize;
        for end in ends {
            spans.push((begin, end));
            begin = end.saturating_add(1);
        }
        let last = spans.len().saturating_sub(1);
        let elem = |(b, e): (usize, usize)| str_to_fold(path.get(b..e).unwrap_or_default());
        // Top-down, find the existing keys; they form a chain from the root because Go inserts
        // a key's parents in the same call, or finds them already present.
        let mut chain = Vec::with_capacity(spans.len());
        let mut node = 0;
        for &span in &spans {
            match self.children.get(&(node, elem(span).into_owned())) {
                Some(&child) => {
                    chain.push(child);
                    node = child;
                }
                None => break,
            }
        }
        // Go walks bottom-up and inserts every missing key before it reaches the first existing
        // one; nothing can fail at a missing key, so inserting them first is equivalent.
        let name_idx = self.names.len();
        self.names.push(path.to_owned());
        for (level, &span) in spans.iter().enumerate().skip(chain.len()) {
            let id = self.nodes.len();
            self.nodes.push(Node {
                name: name_idx,
                len: span.1,
                is_dir: level < last || is_dir,
            });
            self.children.insert((node, elem(span).into_owned()), id);
            node = id;
        }
        // Then Go's checks on the existing keys, deepest first.
        for ((level, &id), &(_, end)) in chain.iter().enumerate().zip(&spans).rev() {
            let p = path.get(..end).unwrap_or_default();
            let p_is_dir = level < last || is_dir;
            // Every id in the chain is a node and every node's text a prefix of its name; if
            // not, failing as a duplicate keeps the checker closed.
            let Some((n, other)) = self.nodes.get(id).and_then(|n| {
                let other = self.names.get(n.name)?.get(..n.len)?;
                Some((n, other))
            }) else {
                return Err(EntryProblem::Duplicate { path: p.to_owned() });
            };
            if p != other {
                return Err(EntryProblem::CaseCollision {
                    first: other.to_owned(),
                    second: p.to_owned(),
                });
            }
            if p_is_dir != n.is_dir {
                return Err(EntryProblem::FileAndDir { path: p.to_owned() });
            }
            if !p_is_dir {
                return Err(EntryProblem::Duplicate { path: p.to_owned() });
            }
        }
        Ok(())
    }
}

/// x/mod zip `strToFold`: maps `s` so that Go's `strings.EqualFold(s, t)` iff
/// `str_to_fold(s) == str_to_fold(t)`.
///
/// Each rune becomes the smallest rune of its Unicode *simple* case-folding orbit (Go
/// `unicode.SimpleFold`), then A–Z become a–z. Rust's `char::to_lowercase` is not the same
/// relation: it applies full, not simple, mappings and is not an equivalence over orbits, for
/// example `'ς'`, `'σ'` and `'Σ'` are one orbit but `'ς'.to_lowercase()` is `'ς'`; `'ϑ'` and
/// `'θ'`, and `'ſ'` and `'s'`, likewise; and `'İ'` lowercases to two chars though it folds only to
/// itself. So the orbit minimum is taken from [`FOLD_RUNS`], a table
/// generated from Go itself.
fn str_to_fold(s: &str) -> Cow<'_, str> {
    // Go's fast path: all ASCII and no upper case.
    if s.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.chars().map(fold_char).collect())
}

/// The `strToFold` image of one char (see [`FOLD_RUNS`]).
fn fold_char(c: char) -> char {
    let cp = u32::from(c);
    let i = FOLD_RUNS.partition_point(|&(lo, ..)| lo <= cp);
    let Some(&(lo, hi, stride, delta)) = i.checked_sub(1).and_then(|i| FOLD_RUNS.get(i)) else {
        return c;
    };
    let on_stride = cp
        .checked_sub(lo)
        .and_then(|d| d.checked_rem(u32::from(stride)))
        == Some(0);
    if cp > hi || !on_stride {
        return c;
    }
    // The table only maps chars to chars; a bad entry would leave `c` unchanged.
    cp.checked_add_signed(delta)
        .and_then(char::from_u32)
        .unwrap_or(c)
}

/// Every char whose `strToFold` image differs from itself, as runs `(first, last, stride, delta)`:
/// each `c` in `first..=last` with `(c - first) % stride == 0` maps to `c + delta`.
///
/// Generated with Go 1.26.8 (Unicode 15.0.0) by applying x/mod zip `strToFold`'s loop to every
/// rune; the full dump is `testdata/xmod/zip/strtofold-go1.26.8.txt`, which the tests compare
/// against every char. 1,454 chars in 210 runs, sorted and non-overlapping.
const FOLD_RUNS: &[(u32, u32, u8, i32)] = &[
    (0x0041, 0x005A, 1, 32),
    (0x00E0, 0x00F6, 1, -32),
    (0x00F8, 0x00FE, 1, -32),
    (0x0101, 0x012F, 2, -1),
    (0x0133, 0x0137, 2, -1),
    (0x013A, 0x0148, 2, -1),
    (0x014B, 0x0177, 2, -1),
    (0x0178, 0x0178, 1, -121),
    (0x017A, 0x017E, 2, -1),
    (0x017F, 0x017F, 1, -268),
    (0x0183, 0x0185, 2, -1),
    (0x0188, 0x0188, 1, -1),
    (0x018C, 0x018C, 1, -1),
    (0x0192, 0x0192, 1, -1),
    (0x0199, 0x0199, 1, -1),
    (0x01A1, 0x01A5, 2, -1),
    (0x01A8, 0x01A8, 1, -1),
    (0x01AD, 0x01AD, 1, -1),
    (0x01B0, 0x01B0, 1, -1),
    (0x01B4, 0x01B6, 2, -1),
    (0x01B9, 0x01B9, 1, -1),
    (0x01BD, 0x01BD, 1, -1),
    (0x01C5, 0x01C5, 1, -1),
    (0x01C6, 0x01C6, 1, -2),
    (0x01C8, 0x01C8, 1, -1),
    (0x01C9, 0x01C9, 1, -2),
    (0x01CB, 0x01CB, 1, -1),
    (0x01CC, 0x01CC, 1, -2),
    (0x01CE, 0x01DC, 2, -1),
    (0x01DD, 0x01DD, 1, -79),
    (0x01DF, 0x01EF, 2, -1),
    (0x01F2, 0x01F2, 1, -1),
    (0x01F3, 0x01F3, 1, -2),
    (0x01F5, 0x01F5, 1, -1),
    (0x01F6, 0x01F6, 1, -97),
    (0x01F7, 0x01F7, 1, -56),
    (0x01F9, 0x021F, 2, -1),
    (0x0220, 0x0220, 1, -130),
    (0x0223, 0x0233, 2, -1),
    (0x023C, 0x023C, 1, -1),
    (0x023D, 0x023D, 1, -163),
    (0x0242, 0x0242, 1, -1),
    (0x0243, 0x0243, 1, -195),
    (0x0247, 0x024F, 2, -1),
    (0x0253, 0x0253, 1, -210),
    (0x0254, 0x0254, 1, -206),
    (0x0256, 0x0257, 1, -205),
    (0x0259, 0x0259, 1, -202),
    (0x025B, 0x025B, 1, -203),
    (0x0260, 0x0260, 1, -205),
    (0x0263, 0x0263, 1, -207),
    (0x0268, 0x0268, 1, -209),
    (0x0269, 0x0269, 1, -211),
    (0x026F, 0x026F, 1, -211),
    (0x0272, 0x0272, 1, -213),
    (0x0275, 0x0275, 1, -214),
    (0x0280, 0x0280, 1, -218),
    (0x0283, 0x0283, 1, -218),
    (0x0288, 0x0288, 1, -218),
    (0x0289, 0x0289, 1, -69),
    (0x028A, 0x028B, 1, -217),
    (0x028C, 0x028C, 1, -71),
    (0x0292, 0x0292, 1, -219),
    (0x0371, 0x0373, 2, -1),
    (0x0377, 0x0377, 1, -1),
    (0x0399, 0x0399, 1, -84),
    (0x039C, 0x039C, 1, -743),
    (0x03AC, 0x03AC, 1, -38),
    (0x03AD, 0x03AF, 1, -37),
    (0x03B1, 0x03B8, 1, -32),
    (0x03B9, 0x03B9, 1, -116),
    (0x03BA, 0x03BB, 1, -32),
    (0x03BC, 0x03BC, 1, -775),
    (0x03BD, 0x03C1, 1, -32),
    (0x03C2, 0x03C2, 1, -31),
    (0x03C3, 0x03CB, 1, -32),
    (0x03CC, 0x03CC, 1, -64),
    (0x03CD, 0x03CE, 1, -63),
    (0x03D0, 0x03D0, 1, -62),
    (0x03D1, 0x03D1, 1, -57),
    (0x03D5, 0x03D5, 1, -47),
    (0x03D6, 0x03D6, 1, -54),
    (0x03D7, 0x03D7, 1, -8),
    (0x03D9, 0x03EF, 2, -1),
    (0x03F0, 0x03F0, 1, -86),
    (0x03F1, 0x03F1, 1, -80),
    (0x03F3, 0x03F3, 1, -116),
    (0x03F4, 0x03F4, 1, -92),
    (0x03F5, 0x03F5, 1, -96),
    (0x03F8, 0x03F8, 1, -1),
    (0x03F9, 0x03F9, 1, -7),
    (0x03FB, 0x03FB, 1, -1),
    (0x03FD, 0x03FF, 1, -130),
    (0x0430, 0x044F, 1, -32),
    (0x0450, 0x045F, 1, -80),
    (0x0461, 0x0481, 2, -1),
    (0x048B, 0x04BF, 2, -1),
    (0x04C2, 0x04CE, 2, -1),
    (0x04CF, 0x04CF, 1, -15),
    (0x04D1, 0x052F, 2, -1),
    (0x0561, 0x0586, 1, -48),
    (0x13F8, 0x13FD, 1, -8),
    (0x1C80, 0x1C80, 1, -6254),
    (0x1C81, 0x1C81, 1, -6253),
    (0x1C82, 0x1C82, 1, -6244),
    (0x1C83, 0x1C84, 1, -6242),
    (0x1C85, 0x1C85, 1, -6243),
    (0x1C86, 0x1C86, 1, -6236),
    (0x1C87, 0x1C87, 1, -6181),
    (0x1C90, 0x1CBA, 1, -3008),
    (0x1CBD, 0x1CBF, 1, -3008),
    (0x1E01, 0x1E95, 2, -1),
    (0x1E9B, 0x1E9B, 1, -59),
    (0x1E9E, 0x1E9E, 1, -7615),
    (0x1EA1, 0x1EFF, 2, -1),
    (0x1F08, 0x1F0F, 1, -8),
    (0x1F18, 0x1F1D, 1, -8),
    (0x1F28, 0x1F2F, 1, -8),
    (0x1F38, 0x1F3F, 1, -8),
    (0x1F48, 0x1F4D, 1, -8),
    (0x1F59, 0x1F5F, 2, -8),
    (0x1F68, 0x1F6F, 1, -8),
    (0x1F88, 0x1F8F, 1, -8),
    (0x1F98, 0x1F9F, 1, -8),
    (0x1FA8, 0x1FAF, 1, -8),
    (0x1FB8, 0x1FB9, 1, -8),
    (0x1FBA, 0x1FBB, 1, -74),
    (0x1FBC, 0x1FBC, 1, -9),
    (0x1FBE, 0x1FBE, 1, -7289),
    (0x1FC8, 0x1FCB, 1, -86),
    (0x1FCC, 0x1FCC, 1, -9),
    (0x1FD8, 0x1FD9, 1, -8),
    (0x1FDA, 0x1FDB, 1, -100),
    (0x1FE8, 0x1FE9, 1, -8),
    (0x1FEA, 0x1FEB, 1, -112),
    (0x1FEC, 0x1FEC, 1, -7),
    (0x1FF8, 0x1FF9, 1, -128),
    (0x1FFA, 0x1FFB, 1, -126),
    (0x1FFC, 0x1FFC, 1, -9),
    (0x2126, 0x2126, 1, -7549),
    (0x212A, 0x212A, 1, -8383),
    (0x212B, 0x212B, 1, -8294),
    (0x214E, 0x214E, 1, -28),
    (0x2170, 0x217F, 1, -16),
    (0x2184, 0x2184, 1, -1),
    (0x24D0, 0x24E9, 1, -26),
    (0x2C30, 0x2C5F, 1, -48),
    (0x2C61, 0x2C61, 1, -1),
    (0x2C62, 0x2C62, 1, -10743),
    (0x2C63, 0x2C63, 1, -3814),
    (0x2C64, 0x2C64, 1, -10727),
    (0x2C65, 0x2C65, 1, -10795),
    (0x2C66, 0x2C66, 1, -10792),
    (0x2C68, 0x2C6C, 2, -1),
    (0x2C6D, 0x2C6D, 1, -10780),
    (0x2C6E, 0x2C6E, 1, -10749),
    (0x2C6F, 0x2C6F, 1, -10783),
    (0x2C70, 0x2C70, 1, -10782),
    (0x2C73, 0x2C73, 1, -1),
    (0x2C76, 0x2C76, 1, -1),
    (0x2C7E, 0x2C7F, 1, -10815),
    (0x2C81, 0x2CE3, 2, -1),
    (0x2CEC, 0x2CEE, 2, -1),
    (0x2CF3, 0x2CF3, 1, -1),
    (0x2D00, 0x2D25, 1, -7264),
    (0x2D27, 0x2D27, 1, -7264),
    (0x2D2D, 0x2D2D, 1, -7264),
    (0xA641, 0xA649, 2, -1),
    (0xA64A, 0xA64A, 1, -35266),
    (0xA64B, 0xA64B, 1, -35267),
    (0xA64D, 0xA66D, 2, -1),
    (0xA681, 0xA69B, 2, -1),
    (0xA723, 0xA72F, 2, -1),
    (0xA733, 0xA76F, 2, -1),
    (0xA77A, 0xA77C, 2, -1),
    (0xA77D, 0xA77D, 1, -35332),
    (0xA77F, 0xA787, 2, -1),
    (0xA78C, 0xA78C, 1, -1),
    (0xA78D, 0xA78D, 1, -42280),
    (0xA791, 0xA793, 2, -1),
    (0xA797, 0xA7A9, 2, -1),
    (0xA7AA, 0xA7AA, 1, -42308),
    (0xA7AB, 0xA7AB, 1, -42319),
    (0xA7AC, 0xA7AC, 1, -42315),
    (0xA7AD, 0xA7AD, 1, -42305),
    (0xA7AE, 0xA7AE, 1, -42308),
    (0xA7B0, 0xA7B0, 1, -42258),
    (0xA7B1, 0xA7B1, 1, -42282),
    (0xA7B2, 0xA7B2, 1, -42261),
    (0xA7B5, 0xA7C3, 2, -1),
    (0xA7C4, 0xA7C4, 1, -48),
    (0xA7C5, 0xA7C5, 1, -42307),
    (0xA7C6, 0xA7C6, 1, -35384),
    (0xA7C8, 0xA7CA, 2, -1),
    (0xA7D1, 0xA7D1, 1, -1),
    (0xA7D7, 0xA7D9, 2, -1),
    (0xA7F6, 0xA7F6, 1, -1),
    (0xAB53, 0xAB53, 1, -928),
    (0xAB70, 0xABBF, 1, -38864),
    (0xFF41, 0xFF5A, 1, -32),
    (0x10428, 0x1044F, 1, -40),
    (0x104D8, 0x104FB, 1, -40),
    (0x10597, 0x105A1, 1, -39),
    (0x105A3, 0x105B1, 1, -39),
    (0x105B3, 0x105B9, 1, -39),
    (0x105BB, 0x105BC, 1, -39),
    (0x10CC0, 0x10CF2, 1, -64),
    (0x118C0, 0x118DF, 1, -32),
    (0x16E60, 0x16E7F, 1, -32),
    (0x1E922, 0x1E943, 1, -34),
];

/// Go `%q` for a string, close enough for error messages: `"`-quoted, with `"` and `\` escaped,
/// control chars and non-ASCII whitespace escaped as `\n`, `\t`, `\x..` or `\u....`.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len().saturating_add(2));
    out.push('"');
    for c in s.chars() {
        push_quoted_char(&mut out, c);
    }
    out.push('"');
    out
}

/// Go `%q` for bytes that may not be UTF-8: invalid bytes become `\xNN`.
fn go_quote_bytes(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len().saturating_add(2));
    out.push('"');
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_quoted_char(&mut out, c);
        }
        for byte in chunk.invalid() {
            out.push_str(&format!("\\x{byte:02x}"));
        }
    }
    out.push('"');
    out
}

fn push_quoted_char(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if c.is_control() || (c.is_whitespace() && c != ' ') => {
            if (c as u32) <= 0xffff {
                out.push_str(&format!("\\u{:04x}", c as u32));
            } else {
                out.push_str(&format!("\\U{:08x}", c as u32));
            }
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    const EMPTY_HASH: &str = "h1:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";

    fn testdata(rel: &str) -> std::path::PathBuf {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/xmod/zip")).join(rel)
    }

    // ---- txtar (golang.org/x/tools/txtar Parse) and x/mod zip_test.go readTest ----

    struct Txtar {
        comment: Vec<u8>,
        files: Vec<(String, Vec<u8>)>,
    }

    fn parse_txtar(mut data: &[u8]) -> Txtar {
        fn is_marker(data: &[u8]) -> Option<(String, &[u8])> {
            if !data.starts_with(b"-- ") {
                return None;
            }
            let (line, after) = match data.iter().position(|&b| b == b'\n') {
                Some(i) => (&data[..i], &data[i + 1..]),
                None => (data, &data[data.len()..]),
            };
            if !(line.ends_with(b" --") && line.len() >= 6) {
                return None;
            }
            let name = String::from_utf8_lossy(&line[3..line.len() - 3])
                .trim()
                .to_owned();
            Some((name, after))
        }
        fn find_marker(data: &[u8]) -> (Vec<u8>, Option<(String, &[u8])>) {
            let mut i = 0;
            loop {
                if let Some((name, after)) = is_marker(&data[i..]) {
                    return (data[..i].to_vec(), Some((name, after)));
                }
                match data[i..].windows(4).position(|w| w == b"\n-- ") {
                    Some(j) => i += j + 1,
                    None => {
                        let mut d = data.to_vec();
                        if !d.is_empty() && !d.ends_with(b"\n") {
                            d.push(b'\n');
                        }
                        return (d, None);
                    }
                }
            }
        }
        let (comment, mut next) = find_marker(data);
        let mut files = Vec::new();
        while let Some((name, after)) = next {
            data = after;
            let (body, n) = find_marker(data);
            files.push((name, body));
            next = n;
        }
        Txtar { comment, files }
    }

    #[derive(Default)]
    struct Params {
        path: Option<String>, // None: not UTF-8
        version: String,
        want_err: String,
        hash: String,
    }

    fn read_test(file: &Path) -> (Params, Txtar) {
        let ar = parse_txtar(&std::fs::read(file).unwrap());
        let mut p = Params::default();
        for line in ar.comment.split(|&b| b == b'\n') {
            let line = match line.iter().position(|&b| b == b'#') {
                Some(i) => &line[..i],
                None => line,
            };
            let line = line.trim_ascii();
            if line.is_empty() {
                continue;
            }
            let eq = line.iter().position(|&b| b == b'=').unwrap();
            let (key, value) = (line[..eq].trim_ascii(), line[eq + 1..].trim_ascii());
            let value_str = String::from_utf8(value.to_vec());
            match key {
                b"path" => p.path = value_str.ok(),
                b"version" => p.version = value_str.unwrap(),
                b"wantErr" => p.want_err = value_str.unwrap(),
                b"hash" => p.hash = value_str.unwrap(),
                other => panic!("{}: unknown key {other:?}", file.display()),
            }
        }
        (p, ar)
    }

    fn txt_files(dir: &str) -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(testdata(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "txt"))
            .collect();
        v.sort();
        v
    }

    // ---- a raw zip writer that can write what real writers refuse to ----

    fn crc32(data: &[u8]) -> u32 {
        let mut table = [0u32; 256];
        for (i, t) in table.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0xEDB8_8320
                } else {
                    c >> 1
                };
            }
            *t = c;
        }
        let mut crc = !0u32;
        for &b in data {
            crc = table[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
        }
        !crc
    }

    /// A deflate stream of stored blocks (RFC 1951 §3.2.4).
    fn deflate_stored(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + 5 * (data.len() / 65535 + 1));
        let chunks: Vec<&[u8]> = if data.is_empty() {
            vec![&[]]
        } else {
            data.chunks(65535).collect()
        };
        for (i, c) in chunks.iter().enumerate() {
            out.push(u8::from(i + 1 == chunks.len()));
            let len = c.len() as u16;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(!len).to_le_bytes());
            out.extend_from_slice(c);
        }
        out
    }

    #[derive(Clone)]
    struct Raw {
        name: Vec<u8>,
        data: Vec<u8>,
        method: u16,
        declared: Option<u64>,
        crc: Option<u32>,
        flags: u16,
        creator: u8,
        external: u32,
        descriptor: bool,
        zip64: bool,
        /// Appended to the central header's extra fields.
        central_extra: Vec<u8>,
        /// Appended to the local header's extra fields.
        local_extra: Vec<u8>,
        /// Replaces the local-header offset in the central header.
        offset: Option<u32>,
        /// Written as a local header and data only, not listed in the central directory.
        unlisted: bool,
    }

    impl Raw {
        fn new(name: &str, data: &[u8]) -> Raw {
            Raw::bytes(name.as_bytes(), data)
        }
        fn bytes(name: &[u8], data: &[u8]) -> Raw {
            Raw {
                name: name.to_vec(),
                data: data.to_vec(),
                method: 8,
                declared: None,
                crc: None,
                flags: 0,
                creator: 0,
                external: 0,
                descriptor: false,
                zip64: false,
                central_extra: Vec::new(),
                local_extra: Vec::new(),
                offset: None,
                unlisted: false,
            }
        }
        fn unix_mode(mut self, mode: u32) -> Raw {
            self.creator = 3;
            self.external = mode << 16;
            self
        }
    }

    /// One extra field.
    fn extra_field(id: u16, data: &[u8]) -> Vec<u8> {
        let mut v = id.to_le_bytes().to_vec();
        v.extend_from_slice(&(data.len() as u16).to_le_bytes());
        v.extend_from_slice(data);
        v
    }

    /// An Info-ZIP Unicode Path/Comment field holding `text`, whose CRC names `stored` (the
    /// zip crate applies it only then).
    fn unicode_field(id: u16, stored: &[u8], text: &[u8]) -> Vec<u8> {
        let mut data = vec![1u8];
        data.extend_from_slice(&crc32(stored).to_le_bytes());
        data.extend_from_slice(text);
        extra_field(id, &data)
    }

    fn raw_zip(entries: &[Raw]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        let mut listed = 0u16;
        for e in entries {
            let offset = out.len() as u32;
            let payload = match e.method {
                8 => deflate_stored(&e.data),
                _ => e.data.clone(),
            };
            let crc = e.crc.unwrap_or_else(|| crc32(&e.data));
            let usize64 = e.declared.unwrap_or(e.data.len() as u64);
            let csize64 = payload.len() as u64;
            let (usize32, csize32) = if e.zip64 {
                (u32::MAX, u32::MAX)
            } else {
                (usize64 as u32, csize64 as u32)
            };
            let mut extra = Vec::new();
            if e.zip64 {
                extra.extend_from_slice(&1u16.to_le_bytes());
                extra.extend_from_slice(&16u16.to_le_bytes());
                extra.extend_from_slice(&usize64.to_le_bytes());
                extra.extend_from_slice(&csize64.to_le_bytes());
            }
            let mut local_extra = extra.clone();
            local_extra.extend_from_slice(&e.local_extra);
            extra.extend_from_slice(&e.central_extra);
            let flags = e.flags | if e.descriptor { 8 } else { 0 };
            let needed: u16 = if e.zip64 { 45 } else { 20 };
            // Local file header.
            out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
            out.extend_from_slice(&needed.to_le_bytes());
            out.extend_from_slice(&flags.to_le_bytes());
            out.extend_from_slice(&e.method.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes()); // time
            out.extend_from_slice(&0x21u16.to_le_bytes()); // date 1980-01-01
            if e.descriptor {
                out.extend_from_slice(&[0; 12]);
            } else {
                out.extend_from_slice(&crc.to_le_bytes());
                out.extend_from_slice(&csize32.to_le_bytes());
                out.extend_from_slice(&usize32.to_le_bytes());
            }
            out.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            out.extend_from_slice(&(local_extra.len() as u16).to_le_bytes());
            out.extend_from_slice(&e.name);
            out.extend_from_slice(&local_extra);
            out.extend_from_slice(&payload);
            if e.descriptor {
                out.extend_from_slice(&0x0807_4b50u32.to_le_bytes());
                out.extend_from_slice(&crc.to_le_bytes());
                out.extend_from_slice(&csize32.to_le_bytes());
                out.extend_from_slice(&usize32.to_le_bytes());
            }
            if e.unlisted {
                continue;
            }
            listed += 1;
            // Central directory header.
            central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
            central.extend_from_slice(&(u16::from(e.creator) << 8 | 20).to_le_bytes());
            central.extend_from_slice(&needed.to_le_bytes());
            central.extend_from_slice(&flags.to_le_bytes());
            central.extend_from_slice(&e.method.to_le_bytes());
            central.extend_from_slice(&0u16.to_le_bytes());
            central.extend_from_slice(&0x21u16.to_le_bytes());
            central.extend_from_slice(&crc.to_le_bytes());
            central.extend_from_slice(&csize32.to_le_bytes());
            central.extend_from_slice(&usize32.to_le_bytes());
            central.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
            central.extend_from_slice(&(extra.len() as u16).to_le_bytes());
            central.extend_from_slice(&0u16.to_le_bytes()); // comment
            central.extend_from_slice(&0u16.to_le_bytes()); // disk
            central.extend_from_slice(&0u16.to_le_bytes()); // internal attrs
            central.extend_from_slice(&e.external.to_le_bytes());
            central.extend_from_slice(&e.offset.unwrap_or(offset).to_le_bytes());
            central.extend_from_slice(&e.name);
            central.extend_from_slice(&extra);
        }
        let cd_offset = out.len() as u32;
        out.extend_from_slice(&central);
        out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&listed.to_le_bytes());
        out.extend_from_slice(&listed.to_le_bytes());
        out.extend_from_slice(&(central.len() as u32).to_le_bytes());
        out.extend_from_slice(&cd_offset.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out
    }

    /// A normal zip written by the zip crate (real deflate), for content that must compress.
    fn crate_zip(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated)
            .large_file(false);
        for (name, data) in files {
            w.start_file(*name, opts).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn temp_with(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    fn check_bytes(bytes: &[u8], m: &str, v: &str) -> Result<ZipChecked, ZipCheckError> {
        check_zip(temp_with(bytes), m, v, &ZipLimits::default())
    }

    const M: &str = "example.com/m";
    const V: &str = "v1.0.0";
    const P: &str = "example.com/m@v1.0.0/";

    fn err_of(entries: &[Raw]) -> ZipCheckError {
        check_bytes(&raw_zip(entries), M, V).unwrap_err()
    }

    fn ok_of(entries: &[Raw]) -> ZipChecked {
        check_bytes(&raw_zip(entries), M, V).unwrap()
    }

    fn f(name: &str, data: &str) -> Raw {
        Raw::new(&format!("{P}{name}"), data.as_bytes())
    }

    // ---- x/mod zip/testdata ----

    /// zip_test.go TestUnzip: every unzip/*.txt, zipped as is (Go's `extractTxtarToTempZip`).
    #[test]
    fn xmod_unzip_cases() {
        let mut ran = 0;
        for file in txt_files("unzip") {
            let (p, ar) = read_test(&file);
            let Some(path) = p.path else {
                // invalid_utf8_mod_path.txt: a non-UTF-8 module path cannot reach a `&str` API.
                continue;
            };
            let entries: Vec<Raw> = ar.files.iter().map(|(n, d)| Raw::new(n, d)).collect();
            let got = check_bytes(&raw_zip(&entries), &path, &p.version);
            match got {
                Err(e) if !p.want_err.is_empty() => assert!(
                    e.to_string().contains(&p.want_err),
                    "{}: got {e:?}, want error containing {:?}",
                    file.display(),
                    p.want_err
                ),
                Err(e) => panic!("{}: unexpected error {e}", file.display()),
                Ok(z) => {
                    assert!(
                        p.want_err.is_empty(),
                        "{}: unexpected success",
                        file.display()
                    );
                    assert_eq!(z.h1().as_str(), p.hash, "{}", file.display());
                    // Our h1 is Go's HashZip; for these zips (no directory entries) it equals
                    // the HashDir value the Go test compares.
                    assert_eq!(&dirhash::hash_zip(z.path()).unwrap(), z.h1());
                }
            }
            ran += 1;
        }
        assert_eq!(ran, 14, "unzip cases run");
    }

    /// zip_test.go TestCheckZip: the `invalid:` section is exactly our problem list, in order.
    #[test]
    fn xmod_check_zip_cases() {
        let mut ran = 0;
        for file in txt_files("check_zip") {
            let (p, mut ar) = read_test(&file);
            let i = ar.files.iter().position(|(n, _)| n == "want").unwrap();
            let want = String::from_utf8(ar.files.remove(i).1).unwrap();
            let invalid: Vec<&str> = want
                .split("\ninvalid:\n")
                .nth(1)
                .unwrap()
                .lines()
                .filter(|l| !l.is_empty())
                .collect();
            let entries: Vec<Raw> = ar.files.iter().map(|(n, d)| Raw::new(n, d)).collect();
            let got = check_bytes(&raw_zip(&entries), p.path.as_deref().unwrap(), &p.version);
            match got {
                Ok(z) => {
                    assert!(invalid.is_empty(), "{}: unexpected success", file.display());
                    assert_eq!(z.h1().as_str(), EMPTY_HASH);
                }
                Err(e) => {
                    assert_eq!(e.reason(), "zip_invalid_entries", "{}", file.display());
                    assert_eq!(e.problems(), invalid, "{}", file.display());
                    assert_eq!(e.to_string(), invalid.join("\n"));
                }
            }
            ran += 1;
        }
        assert_eq!(ran, 2);
    }

    /// zip_test.go TestCreate: zips built from the create/*.txt files must hash to `hash=`, or be
    /// rejected with `wantErr`. The exclude_* cases test files that Create leaves out (vendored
    /// packages, nested modules); a zip of all their files is a different archive, so they are
    /// skipped, as is invalid_utf8_mod_path (see `xmod_unzip_cases`).
    #[test]
    fn xmod_create_cases() {
        let mut ran = Vec::new();
        for file in txt_files("create") {
            let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
            if stem.starts_with("exclude_") || stem == "invalid_utf8_mod_path" {
                continue;
            }
            let (p, ar) = read_test(&file);
            let path = p.path.unwrap();
            let prefix = format!("{path}@{}/", p.version);
            let entries: Vec<Raw> = ar
                .files
                .iter()
                .map(|(n, d)| Raw::new(&format!("{prefix}{n}"), d))
                .collect();
            match check_bytes(&raw_zip(&entries), &path, &p.version) {
                Ok(z) => {
                    assert!(p.want_err.is_empty(), "{stem}: unexpected success");
                    assert_eq!(z.h1().as_str(), p.hash, "{stem}");
                }
                Err(e) => assert!(
                    !p.want_err.is_empty() && e.to_string().contains(&p.want_err),
                    "{stem}: got {e}, want {:?}",
                    p.want_err
                ),
            }
            ran.push(stem);
        }
        assert_eq!(ran.len(), 11, "{ran:?}");
    }

    /// A zip made by Go's x/mod zip.Create (deflate with data descriptors, as on proxy.golang.org).
    #[test]
    fn go_created_zip() {
        let path = testdata("gocreate/simple.zip");
        let want = "h1:tpqYOOmuilagXzyqoJ3roUjp8gneQeTv5YVpL6BG7/k=";
        let report = check_zip_path(&path, M, V, &ZipLimits::default()).unwrap();
        assert_eq!(report.h1.as_str(), want);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(report.sha256, dirhash::sha256(&bytes));
        assert_eq!(report.size, bytes.len() as u64);
        assert_eq!(report.entries, 3);
        assert_eq!(dirhash::hash_zip(&path).unwrap().as_str(), want);

        let z = check_bytes(&bytes, M, V).unwrap();
        assert_eq!(z.h1().as_str(), want);
        assert_eq!(z.sha256(), &report.sha256);
        assert_eq!(
            (z.module(), z.version(), z.size(), z.entries()),
            (M, V, report.size, 3)
        );
        let mut stored = Vec::new();
        z.into_file().read_to_end(&mut stored).unwrap();
        assert_eq!(stored, bytes, "into_file is rewound and unchanged");
    }

    // ---- size limits (zip_test.go sizeLimitTests, TestUnzipSizeLimitsSpecial) ----

    /// sizeLimitTests at small limits (Go's use 500 MiB of data): total uncompressed size.
    #[test]
    fn size_limits_total() {
        let limits = ZipLimits {
            max_zip_file: 1000,
            ..ZipLimits::default()
        };
        let zeros = vec![0u8; 1001];
        let run = |files: &[(&str, usize)]| {
            let owned: Vec<(String, &[u8])> = files
                .iter()
                .map(|(n, len)| (format!("example.com/large@v1.0.0/{n}"), &zeros[..*len]))
                .collect();
            let refs: Vec<(&str, &[u8])> = owned.iter().map(|(n, d)| (n.as_str(), *d)).collect();
            let bytes = crate_zip(&refs);
            assert!(bytes.len() < 1000, "test zip must be under the file limit");
            check_zip(temp_with(&bytes), "example.com/large", V, &limits)
        };
        run(&[("large.go", 1000)]).unwrap(); // one_large
        run(&[("small.go", 10), ("large.go", 990)]).unwrap(); // total_large
        for files in [
            &[("large.go", 1001)][..],                  // one_too_large
            &[("small.go", 10), ("large.go", 991)][..], // total_too_large
        ] {
            let e = run(files).unwrap_err();
            assert_eq!(
                e.to_string(),
                "total uncompressed size of module contents too large (max size is 1000 bytes)"
            );
            assert_eq!(e.reason(), "zip_content_too_large");
        }
    }

    /// sizeLimitTests large_gomod / too_large_gomod / large_license / too_large_license.
    ///
    /// At the real 16 MiB limits the size rule is decided from the declared size alone, so an
    /// entry declaring exactly the limit but holding no data gets past it (and then fails for its
    /// missing data), while one more byte fails the rule. With real data at small limits, the
    /// boundary passes and fails end to end.
    #[test]
    fn size_limits_go_mod_and_license() {
        for (name, max, msg) in [
            (
                "go.mod",
                MAX_GO_MOD,
                "go.mod file too large (max size is 16777216 bytes)",
            ),
            (
                "LICENSE",
                MAX_LICENSE,
                "LICENSE file too large (max size is 16777216 bytes)",
            ),
        ] {
            let full = format!("example.com/large@v1.0.0/{name}");
            let declaring = |path: &str, declared: u64| {
                let mut e = Raw::new(path, b"");
                e.declared = Some(declared);
                check_bytes(&raw_zip(&[e]), "example.com/large", V).unwrap_err()
            };
            let at_limit = declaring(&full, max);
            assert!(
                matches!(at_limit, ZipCheckError::SmallerThanDeclared { .. }),
                "{at_limit:?}"
            );
            assert_eq!(
                declaring(&full, max + 1).problems(),
                [format!("{full}: {msg}")]
            );
            if name == "LICENSE" {
                // Only the root LICENSE is limited (a nested go.mod is an error of its own).
                let nested = declaring("example.com/large@v1.0.0/sub/LICENSE", max + 1);
                assert!(
                    matches!(nested, ZipCheckError::SmallerThanDeclared { .. }),
                    "{nested:?}"
                );
            }
        }
        let limits = ZipLimits {
            max_go_mod: 100,
            max_license: 100,
            ..ZipLimits::default()
        };
        for name in ["go.mod", "LICENSE"] {
            let full = format!("example.com/large@v1.0.0/{name}");
            let zip = |len: usize| temp_with(&crate_zip(&[(&full, &vec![b'x'; len])]));
            check_zip(zip(100), "example.com/large", V, &limits).unwrap();
            let e = check_zip(zip(101), "example.com/large", V, &limits).unwrap_err();
            assert_eq!(
                e.problems(),
                [format!(
                    "{full}: {name} file too large (max size is 100 bytes)"
                )]
            );
        }
    }

    /// TestUnzipSizeLimitsSpecial large_zip / too_large_zip, at the real 500 MiB limit using
    /// sparse files: the size is checked before anything is read.
    #[test]
    fn size_limit_zip_file() {
        let f = tempfile::NamedTempFile::new().unwrap();
        f.as_file().set_len(MAX_ZIP_FILE + 1).unwrap();
        let e = check_zip(f, M, V, &ZipLimits::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "module zip file is too large (524288001 bytes; limit is 524288000 bytes)"
        );
        assert_eq!(e.reason(), "zip_too_large");

        let f = tempfile::NamedTempFile::new().unwrap();
        f.as_file().set_len(MAX_ZIP_FILE).unwrap();
        let e = check_zip(f, M, V, &ZipLimits::default()).unwrap_err();
        assert_eq!(e.reason(), "zip_malformed", "{e:?}");
    }

    /// One real over-limit declared size (500 MiB + 1) without the data: rejected from the
    /// header, before any decompression.
    #[test]
    fn declared_size_over_real_limit() {
        let mut e = f("large.go", "tiny");
        e.declared = Some(MAX_ZIP_FILE + 1);
        let err = err_of(&[e]);
        assert_eq!(
            err.to_string(),
            "total uncompressed size of module contents too large (max size is 524288000 bytes)"
        );
    }

    /// TestCreateSizeLimits "negative": a zip64 size with the top bit set is negative in Go.
    #[test]
    fn declared_size_negative() {
        let mut e = f("neg.go", "x");
        e.declared = Some(0x8000_0000_0000_0000);
        e.zip64 = true;
        let limits = ZipLimits {
            max_zip_file: u64::MAX,
            ..ZipLimits::default()
        };
        let err = check_zip(temp_with(&raw_zip(&[e])), M, V, &limits).unwrap_err();
        assert!(
            matches!(err, ZipCheckError::ContentTooLarge { .. }),
            "{err:?}"
        );
    }

    /// TestUnzipSizeLimitsSpecial size_is_a_lie: declared 0xAC bytes, 0xBAD bytes of data.
    #[test]
    fn declared_smaller_than_actual() {
        for method in [0, 8] {
            for descriptor in [false, true] {
                let mut e = Raw::new(&format!("{P}go.mod"), &[0u8; 0xBAD]);
                e.declared = Some(0xAC);
                e.method = method;
                e.descriptor = descriptor;
                let err = err_of(&[e]);
                assert_eq!(
                    err.to_string(),
                    "uncompressed size of file example.com/m@v1.0.0/go.mod is larger than \
                     declared size (172 bytes)",
                    "method {method} descriptor {descriptor}"
                );
                assert_eq!(err.reason(), "zip_size_mismatch");
            }
        }
    }

    /// A deflate stream far larger than declared is cut off at declared + 1 bytes.
    #[test]
    fn zip_bomb_is_not_inflated() {
        // 5 MiB of zeros in a real deflate stream, declared as 10 bytes.
        let mut bytes = crate_zip(&[(&format!("{P}bomb.go"), &vec![0u8; 5 << 20])]);
        let pos = bytes
            .windows(4)
            .position(|w| w == (5u32 << 20).to_le_bytes())
            .unwrap();
        bytes[pos..pos + 4].copy_from_slice(&10u32.to_le_bytes());
        let pos2 = pos
            + 1
            + bytes[pos + 1..]
                .windows(4)
                .position(|w| w == (5u32 << 20).to_le_bytes())
                .unwrap();
        bytes[pos2..pos2 + 4].copy_from_slice(&10u32.to_le_bytes());
        let err = check_bytes(&bytes, M, V).unwrap_err();
        assert_eq!(
            err.to_string(),
            "uncompressed size of file example.com/m@v1.0.0/bomb.go is larger than declared \
             size (10 bytes)"
        );
    }

    #[test]
    fn declared_larger_than_actual() {
        let mut e = f("short.go", "package short\n");
        e.declared = Some(100);
        let err = err_of(&[e]);
        assert_eq!(
            err.to_string(),
            "uncompressed size of file example.com/m@v1.0.0/short.go is smaller than declared \
             size (14 of 100 bytes)"
        );
        assert_eq!(err.reason(), "zip_size_mismatch");
    }

    #[test]
    fn crc_mismatch() {
        for method in [0, 8] {
            let mut e = f("a.go", "package a\n");
            e.crc = Some(0xdead_beef);
            e.method = method;
            let err = err_of(&[e]);
            assert_eq!(
                err.to_string(),
                "example.com/m@v1.0.0/a.go: zip: checksum error"
            );
            assert_eq!(err.reason(), "zip_checksum");
        }
    }

    #[test]
    fn too_many_entries() {
        let entries: Vec<Raw> = (0..4).map(|i| f(&format!("{i}.go"), "x")).collect();
        let limits = ZipLimits {
            max_entries: 3,
            ..ZipLimits::default()
        };
        let err = check_zip(temp_with(&raw_zip(&entries)), M, V, &limits).unwrap_err();
        assert_eq!(
            err.to_string(),
            "module zip file has too many entries (4; limit is 3)"
        );
        assert_eq!(err.reason(), "zip_too_many_entries");
        check_zip(temp_with(&raw_zip(&entries[..3])), M, V, &limits).unwrap();
    }

    // ---- malicious zips (attacks.md #7), one rule each, exact messages ----

    fn problems_of(entries: &[Raw]) -> Vec<String> {
        let e = err_of(entries);
        assert_eq!(e.reason(), "zip_invalid_entries", "{e:?}");
        e.problems()
    }

    #[test]
    fn zip_slip_and_unclean_paths() {
        // path.Clean keeps a leading "..", so CheckFilePath is what rejects it (as in Go).
        assert_eq!(
            problems_of(&[f("../x", "x")]),
            [r#"example.com/m@v1.0.0/../x: malformed file path "../x": invalid path element "..""#]
        );
        for (name, problem) in [
            ("a/../../x", "file path is not clean"),
            ("./x", "file path is not clean"),
            ("a//x", "file path is not clean"),
            ("x/.", "file path is not clean"),
        ] {
            assert_eq!(
                problems_of(&[f(name, "x")]),
                [format!("{P}{name}: {problem}")]
            );
        }
        assert_eq!(
            problems_of(&[f("/x", "x")]),
            [r#"example.com/m@v1.0.0//x: malformed file path "/x": empty path element"#]
        );
        // An entry that leaves the prefix altogether.
        assert_eq!(
            problems_of(&[Raw::new("/etc/passwd", b"x")]),
            [r#"/etc/passwd: path does not have prefix "example.com/m@v1.0.0/""#]
        );
        assert_eq!(
            problems_of(&[Raw::new("../x", b"x")]),
            [r#"../x: path does not have prefix "example.com/m@v1.0.0/""#]
        );
    }

    #[test]
    fn bad_characters() {
        assert_eq!(
            problems_of(&[f(r"a\b.go", "x")]),
            [r#"example.com/m@v1.0.0/a\b.go: malformed file path "a\\b.go": invalid char '\\'"#]
        );
        assert_eq!(
            problems_of(&[f("a:b.go", "x")]),
            [r#"example.com/m@v1.0.0/a:b.go: malformed file path "a:b.go": invalid char ':'"#]
        );
        assert_eq!(
            problems_of(&[f("a\0b.go", "x")]),
            [
                "example.com/m@v1.0.0/a\0b.go: malformed file path \"a\\x00b.go\": invalid char '\\x00'"
            ]
        );
        let mut raw = P.as_bytes().to_vec();
        raw.extend_from_slice(b"\xff.go");
        assert_eq!(
            problems_of(&[Raw::bytes(&raw, b"x")]),
            ["example.com/m@v1.0.0/\u{fffd}.go: malformed file path \"\\xff.go\": invalid UTF-8"]
        );
    }

    #[test]
    fn other_module_prefix() {
        for name in [
            "example.com/other@v1.0.0/x.go",
            "example.com/m@v1.0.1/x.go",
            "example.com/m/sub@v1.0.0/x.go",
            "example.com/m@v1.0.0x/x.go",
            "example.com/M@v1.0.0/x.go",
            "example.com/m@v1.0.0", // unzip/prefix_only.txt
        ] {
            assert_eq!(
                problems_of(&[Raw::new(name, b"x")]),
                [format!(
                    r#"{name}: path does not have prefix "example.com/m@v1.0.0/""#
                )]
            );
        }
    }

    #[test]
    fn symlinks_and_irregular_entries() {
        assert_eq!(
            problems_of(&[f("link", "/etc/passwd").unix_mode(0o120777)]),
            ["example.com/m@v1.0.0/link: file is a symbolic link"]
        );
        assert_eq!(
            problems_of(&[f("dir/", "").unix_mode(0o120777)]),
            ["example.com/m@v1.0.0/dir/: file is a symbolic link"]
        );
        for (mode, what) in [
            (0o010644, "fifo"),
            (0o020644, "char device"),
            (0o060644, "block device"),
            (0o140644, "socket"),
            (0o040755, "directory mode on a file name"),
        ] {
            assert_eq!(
                problems_of(&[f("x", "").unix_mode(mode)]),
                [format!("{P}x: not a regular file (mode {mode:#o})")],
                "{what}"
            );
        }
        // MS-DOS directory attribute on a file name.
        let mut dos = f("x", "");
        dos.external = 0x10;
        assert_eq!(
            problems_of(&[dos]),
            [format!("{P}x: not a regular file (mode 0o20)")]
        );
        // Regular files and directories with ordinary modes pass, from either creator.
        ok_of(&[
            f("a.go", "package a\n").unix_mode(0o100644),
            f("b.go", "package a\n").unix_mode(0o644),
            f("d/", "").unix_mode(0o040755),
            f("e.go", "package a\n"),
        ]);
        // macOS creator (19) reads Unix modes too.
        let mut mac = f("link", "x").unix_mode(0o120755);
        mac.creator = 19;
        assert_eq!(
            problems_of(&[mac]),
            [format!("{P}link: file is a symbolic link")]
        );
    }

    #[test]
    fn case_collisions() {
        assert_eq!(
            problems_of(&[f("m.go", "a"), f("M.GO", "b")]),
            [
                r#"example.com/m@v1.0.0/M.GO: case-insensitive file name collision: "m.go" and "M.GO""#
            ]
        );
        // Parent directories collide too.
        assert_eq!(
            problems_of(&[f("a/x.go", "a"), f("A/y.go", "b")]),
            [r#"example.com/m@v1.0.0/A/y.go: case-insensitive file name collision: "a" and "A""#]
        );
        // Go checks the full name first: the message names the files, not the parents.
        assert_eq!(
            problems_of(&[f("A/b", "a"), f("a/B", "b")]),
            [r#"example.com/m@v1.0.0/a/B: case-insensitive file name collision: "A/b" and "a/B""#]
        );
        // Unicode simple folding, which char::to_lowercase would miss: Kelvin sign, long s,
        // final sigma, theta symbol.
        for (a, b) in [
            ("k.go", "\u{212a}.go"),
            ("s.go", "\u{17f}.go"),
            ("\u{3c3}.go", "\u{3c2}.go"),
            ("\u{3b8}.go", "\u{3d1}.go"),
            ("\u{e5}.go", "\u{212b}.go"),
        ] {
            assert_eq!(
                problems_of(&[f(a, "1"), f(b, "2")]),
                [format!(
                    "{P}{b}: case-insensitive file name collision: {} and {}",
                    go_quote(a),
                    go_quote(b)
                )]
            );
        }
        // Not an orbit: dotted capital I folds only to itself.
        ok_of(&[f("i.go", "1"), f("\u{130}.go", "2")]);
    }

    #[test]
    fn duplicates_and_file_vs_dir() {
        assert_eq!(
            problems_of(&[f("dup.go", "package d1\n"), f("dup.go", "package d2\n")]),
            [r#"example.com/m@v1.0.0/dup.go: multiple entries for file "dup.go""#]
        );
        assert_eq!(
            problems_of(&[f("a.go", "a"), f("a.go/b.go", "b")]),
            [r#"example.com/m@v1.0.0/a.go/b.go: entry "a.go" is both a file and a directory"#]
        );
        assert_eq!(
            problems_of(&[f("a/b.go", "b"), f("a", "a")]),
            [r#"example.com/m@v1.0.0/a: entry "a" is both a file and a directory"#]
        );
        assert_eq!(
            problems_of(&[f("a/", ""), f("a", "a")]),
            [r#"example.com/m@v1.0.0/a: entry "a" is both a file and a directory"#]
        );
        // Repeated directory entries are fine (Go), and each is listed in the hash (HashZip).
        let z = ok_of(&[f("a/", ""), f("a/", ""), f("a/b.go", "b"), Raw::new(P, b"")]);
        let names = [
            (P, dirhash::sha256(b"")),
            (&*format!("{P}a/"), dirhash::sha256(b"")),
            (&*format!("{P}a/"), dirhash::sha256(b"")),
            (&*format!("{P}a/b.go"), dirhash::sha256(b"b")),
        ];
        assert_eq!(z.h1(), &dirhash::hash1(names).unwrap());
        assert_eq!(&dirhash::hash_zip(z.path()).unwrap(), z.h1());
    }

    #[test]
    fn go_mod_placement() {
        assert_eq!(
            problems_of(&[
                f("go.mod", "module example.com/m\n"),
                f("sub/go.mod", "module s\n")
            ]),
            ["example.com/m@v1.0.0/sub/go.mod: go.mod file not in module root directory"]
        );
        assert_eq!(
            problems_of(&[f("b/GO.MOD", "x")]),
            ["example.com/m@v1.0.0/b/GO.MOD: go.mod file not in module root directory"]
        );
        assert_eq!(
            problems_of(&[f("Go.Mod", "x")]),
            ["example.com/m@v1.0.0/Go.Mod: go.mod files must have lowercase names"]
        );
        // A directory named go.mod is fine (unzip/go_mod_dir.txt).
        ok_of(&[f("go.mod/a.go", "package a\n")]);
    }

    #[test]
    fn encrypted_and_unsupported_methods() {
        let mut e = f("a.go", "package a\n");
        e.flags = 1;
        e.method = 0;
        assert_eq!(problems_of(&[e]), [format!("{P}a.go: file is encrypted")]);
        let mut strong = f("a.go", "package a\n");
        strong.flags = 1 << 6;
        assert_eq!(
            problems_of(&[strong]),
            [format!("{P}a.go: file is encrypted")]
        );
        for method in [1u16, 12, 14, 93, 99] {
            let mut e = f("a.go", "package a\n");
            e.method = method;
            assert_eq!(
                problems_of(&[e]),
                [format!(
                    "{P}a.go: unsupported compression method {method} (only store and deflate \
                     are allowed)"
                )]
            );
        }
    }

    #[test]
    fn directory_entry_with_data() {
        assert_eq!(
            problems_of(&[f("d/", "data")]),
            [format!("{P}d/: directory entry declares 4 bytes of data")]
        );
        assert_eq!(
            problems_of(&[Raw::new(P, b"data")]),
            [format!("{P}: directory entry declares 4 bytes of data")]
        );
    }

    #[test]
    fn all_problems_are_listed_in_order() {
        let e = err_of(&[
            f("ok.go", "x"),
            Raw::new("noprefix", b"x"),
            f("a/../b", "x"),
            f("sub/go.mod", "x"),
            f("link", "x").unix_mode(0o120777),
        ]);
        assert_eq!(
            e.problems(),
            [
                r#"noprefix: path does not have prefix "example.com/m@v1.0.0/""#.to_owned(),
                format!("{P}a/../b: file path is not clean"),
                format!("{P}sub/go.mod: go.mod file not in module root directory"),
                format!("{P}link: file is a symbolic link"),
            ]
        );
    }

    #[test]
    fn size_error_wins_over_invalid_entries() {
        let limits = ZipLimits {
            max_zip_file: 1000,
            ..ZipLimits::default()
        };
        let mut big = f("big.go", "x");
        big.declared = Some(2000);
        let bytes = raw_zip(&[Raw::new("noprefix", b"x"), big]);
        let e = check_zip(temp_with(&bytes), M, V, &limits).unwrap_err();
        assert!(
            matches!(e, ZipCheckError::ContentTooLarge { limit: 1000 }),
            "{e:?}"
        );
    }

    #[test]
    fn data_descriptors_and_stored_entries() {
        let mut a = f("a.go", "package a\n");
        a.descriptor = true;
        let mut b = f("b.go", "package b\n");
        b.method = 0;
        let mut c = f("c.go", "");
        c.descriptor = true;
        c.method = 0;
        let z = ok_of(&[a, b, c]);
        let want = dirhash::hash1([
            (&*format!("{P}a.go"), dirhash::sha256(b"package a\n")),
            (&*format!("{P}b.go"), dirhash::sha256(b"package b\n")),
            (&*format!("{P}c.go"), dirhash::sha256(b"")),
        ])
        .unwrap();
        assert_eq!(z.h1(), &want);
    }

    #[test]
    fn version_and_module_errors() {
        let zip = raw_zip(&[]);
        let e = check_bytes(&zip, M, "v1.0.0+bad").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"version "v1.0.0+bad" is not canonical (should be "v1.0.0")"#
        );
        assert_eq!(e.reason(), "zip_bad_version");
        let e = check_bytes(&zip, M, "latest").unwrap_err();
        assert_eq!(
            e.to_string(),
            r#"version "latest" is not canonical (should be "")"#
        );
        let e = check_bytes(&zip, "cache", V).unwrap_err();
        assert_eq!(e.reason(), "zip_bad_module");
        assert!(
            e.to_string().contains("missing dot in first path element"),
            "{e}"
        );
    }

    #[test]
    fn not_a_zip() {
        for bytes in [&b""[..], b"not a zip at all", b"PK\x05\x06"] {
            let e = check_bytes(bytes, M, V).unwrap_err();
            assert_eq!(e.reason(), "zip_malformed", "{e:?}");
            assert_eq!(e.problems().len(), 1);
        }
    }

    /// Go reads central-directory headers until one fails to parse, ignoring the count in the
    /// end record (modulo 65536), so headers past the count would be extracted by Go but never
    /// checked here.
    #[test]
    fn more_headers_than_declared() {
        let mut bytes = raw_zip(&[f("a.go", "package a\n"), f("evil.go", "package a\n")]);
        let eocd = bytes.len() - 22;
        bytes[eocd + 8..eocd + 12].copy_from_slice(&[1, 0, 1, 0]);
        let e = check_bytes(&bytes, M, V).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ambiguous module zip: more central-directory headers than the end record declares"
        );
        assert_eq!(e.reason(), "zip_ambiguous");
    }

    /// What the zip crate alone reads: every entry's name and local-header offset.
    fn crate_view(bytes: &[u8]) -> Vec<(Vec<u8>, u64)> {
        let mut archive = ZipIterable::try_new(Cursor::new(bytes), Default::default()).unwrap();
        let files = archive.files().unwrap();
        files
            .map(|e| {
                let e = e.unwrap();
                (e.name_raw().to_vec(), e.header_start())
            })
            .collect()
    }

    /// Issue 10 §6, first class: an Info-ZIP Unicode Path field (0x7075) that the zip crate
    /// substitutes for the stored name, which is the name Go extracts. goward checked and hashed
    /// the clean name while Go wrote `../evil.go`, or a nested go.mod.
    #[test]
    fn unicode_path_field_is_refused() {
        for (stored, shown) in [("../evil.go", "evil.go"), ("sub/go.mod", "sub/x.go")] {
            let (stored, shown) = (format!("{P}{stored}"), format!("{P}{shown}"));
            let mut e = Raw::new(&stored, b"package evil\n");
            e.central_extra = unicode_field(0x7075, stored.as_bytes(), shown.as_bytes());
            let bytes = raw_zip(&[f("go.mod", "module example.com/m\n"), e]);
            // The attack: the zip crate alone reads the clean name.
            assert_eq!(crate_view(&bytes)[1].0, shown.as_bytes());
            let err = check_bytes(&bytes, M, V).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "ambiguous module zip: {stored}: Info-ZIP Unicode extra field 0x7075 in its \
                     central header (Go's archive/zip ignores it, other readers use it instead \
                     of the stored name)"
                )
            );
            assert_eq!(err.reason(), "zip_ambiguous");
        }
        // Also when the name is clean, when its CRC does not match (the crate then ignores it),
        // in the local header, and for the Unicode Comment field.
        let name = format!("{P}a.go");
        for (id, crc_of, local) in [
            (0x7075, name.as_str(), false),
            (0x7075, "other", false),
            (0x7075, name.as_str(), true),
            (0x6375, "", false),
        ] {
            let mut e = f("a.go", "package a\n");
            let field = unicode_field(id, crc_of.as_bytes(), name.as_bytes());
            if local {
                e.local_extra = field;
            } else {
                e.central_extra = field;
            }
            let place = if local { "local" } else { "central" };
            assert_eq!(
                err_of(&[e]).to_string(),
                format!(
                    "ambiguous module zip: {name}: Info-ZIP Unicode extra field {id:#06x} in its \
                     {place} header (Go's archive/zip ignores it, other readers use it instead \
                     of the stored name)"
                )
            );
        }
    }

    /// Two local headers for one entry, evil at 0 and honest after it, and a central header
    /// whose saturated offset two zip64 blocks give, the first pointing at the evil one if
    /// `evil_first`. Returns the zip and the two offsets.
    fn two_zip64_offsets(evil_first: bool) -> (Vec<u8>, u64, u64) {
        let name = format!("{P}a.go");
        let evil = b"package a; func init() { evil() }\n";
        let mut e = Raw::new(&name, evil);
        e.unlisted = true;
        let mut h = Raw::new(&name, b"package a // the honest code\n");
        h.offset = Some(u32::MAX);
        let at_evil = 0u64;
        let at_honest = (30 + name.len() + deflate_stored(evil).len()) as u64;
        let (first, second) = if evil_first {
            (at_evil, at_honest)
        } else {
            (at_honest, at_evil)
        };
        h.central_extra = extra_field(1, &first.to_le_bytes());
        h.central_extra
            .extend_from_slice(&extra_field(1, &second.to_le_bytes()));
        (raw_zip(&[e, h]), at_honest, at_evil)
    }

    /// Issue 10 §6, second class: two zip64 blocks. Go takes the first block's local-header
    /// offset, the zip crate the last, so goward hashed the honest data while Go extracted the
    /// evil data (tests/it/zipdiff.rs shows it with contents of equal CRC, against Go itself).
    #[test]
    fn two_zip64_blocks_are_refused() {
        for evil_first in [true, false] {
            let (bytes, at_honest, at_evil) = two_zip64_offsets(evil_first);
            // The attack: the zip crate alone reads the last block's local header.
            let crate_reads = crate_view(&bytes)[0].1;
            assert_eq!(crate_reads, if evil_first { at_honest } else { at_evil });
            let err = check_bytes(&bytes, M, V).unwrap_err();
            assert_eq!(
                err.to_string(),
                "ambiguous module zip: example.com/m@v1.0.0/a.go: 2 zip64 extra fields in its \
                 central header (Go's archive/zip reads the first, other readers the last)"
            );
            assert_eq!(err.reason(), "zip_ambiguous");
        }
        // In a local header too (Go ignores local extras, other readers may not).
        let mut e = f("a.go", "package a\n");
        e.local_extra = extra_field(1, &[0; 16]).repeat(2);
        assert_eq!(
            err_of(&[e]).to_string(),
            "ambiguous module zip: example.com/m@v1.0.0/a.go: 2 zip64 extra fields in its local \
             header (Go's archive/zip reads the first, other readers the last)"
        );
    }

    /// The zip crate must agree with Go on every field of every entry. With zip 9.8.2 only the
    /// fields the explicit refusals cover (zip64 blocks, Unicode fields) can make them differ,
    /// and those refusals come first; this is the net for whatever a later crate version reads
    /// differently, so it is tested on the comparison itself.
    #[test]
    fn zip_crate_must_agree_with_go() {
        let bytes = raw_zip(&[f("a.go", "package a\n")]);
        let tmp = temp_with(&bytes);
        let dir = goread::directory_end(tmp.as_file(), bytes.len() as u64)
            .unwrap()
            .unwrap();
        let go = goread::Walk::new(tmp.as_file(), &dir)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .unwrap();
        let mut archive = ZipIterable::try_new(Cursor::new(&bytes), Default::default()).unwrap();
        let krate = archive.files().unwrap().next().unwrap().unwrap();
        same_entry(&go, &krate).unwrap();
        type Change = fn(&mut goread::Entry);
        let cases: [(Change, &str); 7] = [
            (
                |g| g.name.push(b'x'),
                r#"name "example.com/m@v1.0.0/a.gox", the zip crate "example.com/m@v1.0.0/a.go""#,
            ),
            (
                |g| g.header_offset = 7,
                "local header offset 7, the zip crate 0",
            ),
            (
                |g| g.compressed += 1,
                "compressed size 16, the zip crate 15",
            ),
            (
                |g| g.uncompressed = 0,
                "uncompressed size 0, the zip crate 10",
            ),
            (|g| g.crc32 = 1, "CRC-32 1, the zip crate 3375514309"),
            (|g| g.method = 0, "compression method 0, the zip crate 8"),
            (|g| g.flags = 0x800, "flags 2048, the zip crate 0"),
        ];
        for (change, want) in cases {
            let mut g = go.clone();
            change(&mut g);
            assert_eq!(
                same_entry(&g, &krate).unwrap_err().to_string(),
                format!("Go's archive/zip reads {want}")
            );
        }
    }

    /// A central extra field longer than the extra data: Go stops reading extras there, other
    /// readers fail or read on (the zip crate fails, so the message must be goward's own).
    #[test]
    fn overrunning_extra_field_is_refused() {
        for id in [0xcafe_u16, 0x7075, 0x0001] {
            let mut e = f("a.go", "package a\n");
            e.central_extra = extra_field(id, b"hello");
            e.central_extra[2] = 50;
            assert_eq!(
                err_of(&[e]).to_string(),
                format!(
                    "ambiguous module zip: example.com/m@v1.0.0/a.go: extra field {id:#06x} in its \
                     central header runs past the extra data"
                )
            );
        }
        // Fewer than 4 bytes left is not a field (Go and the zip crate both ignore it).
        let mut e = f("a.go", "package a\n");
        e.central_extra = vec![1, 2, 3];
        ok_of(&[e]);
    }

    /// Every entry point shares `check_handles`: `verify-zip` and `cache verify` use
    /// `check_zip_path`, serve uses `check_zip`.
    #[test]
    fn check_zip_path_refuses_ambiguous_zips() {
        let (bytes, ..) = two_zip64_offsets(true);
        let tmp = temp_with(&bytes);
        let e = check_zip_path(tmp.path(), M, V, &ZipLimits::default()).unwrap_err();
        assert_eq!(e.reason(), "zip_ambiguous");
        assert!(e.to_string().contains("2 zip64 extra fields"), "{e}");
    }

    /// Go's File.Open reads the data descriptor and checks its CRC against the central one.
    #[test]
    fn data_descriptor_crc_is_checked() {
        let mut e = f("a.go", "package a\n");
        e.descriptor = true;
        let mut bytes = raw_zip(&[e]);
        let d = bytes.windows(4).position(|w| w == b"PK\x07\x08").unwrap();
        bytes[d + 4] ^= 1;
        let err = check_bytes(&bytes, M, V).unwrap_err();
        assert_eq!(
            err.to_string(),
            "example.com/m@v1.0.0/a.go: zip: checksum error"
        );
    }

    /// A deflate stream without its final block fails in Go (unexpected EOF), even when it
    /// already produced every declared byte.
    #[test]
    fn deflate_stream_must_end() {
        let mut bytes = raw_zip(&[f("a.go", "package a\n")]);
        let at = bytes
            .windows(5)
            .position(|w| w == [1, 10, 0, 0xf5, 0xff])
            .unwrap();
        bytes[at] = 0; // BFINAL off
        let err = check_bytes(&bytes, M, V).unwrap_err();
        assert_eq!(
            err.to_string(),
            "example.com/m@v1.0.0/a.go: deflate stream ends before its final block"
        );
    }

    /// Go's findBodyOffset runs for directory entries too: one without a local header is refused.
    #[test]
    fn directory_entry_needs_a_local_header() {
        let mut d = f("d/", "");
        d.offset = Some(1);
        assert_eq!(
            err_of(&[d]).to_string(),
            "ambiguous module zip: example.com/m@v1.0.0/d/: Go's archive/zip cannot read it: no \
             local header signature at its local header offset"
        );
    }

    /// A zip whose comment hides a second archive behind a multi-disk end record: Go takes the
    /// last end record (and ignores disk numbers), the zip crate skips it and reads the first
    /// archive. The verifier must not pass what Go would not read.
    #[test]
    fn go_and_zip_crate_disagree() {
        let shown = raw_zip(&[f("a.go", "package a\n")]);
        let mut hidden = raw_zip(&[f("evil.go", "package evil\n")]);
        let h = hidden.len() - 22;
        hidden[h + 4..h + 6].copy_from_slice(&1u16.to_le_bytes()); // disk number
        let mut bytes = shown;
        let e = bytes.len() - 22;
        bytes[e + 20..e + 22].copy_from_slice(&(hidden.len() as u16).to_le_bytes());
        bytes.extend_from_slice(&hidden);
        let err = check_bytes(&bytes, M, V).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ambiguous module zip: Go's archive/zip reads a different central directory"
        );
        // Without the hidden archive, the same zip passes.
        ok_of(&[f("a.go", "package a\n")]);
        // An ordinary archive comment is fine.
        let mut commented = raw_zip(&[f("a.go", "package a\n")]);
        let e = commented.len() - 22;
        commented[e + 20..e + 22].copy_from_slice(&5u16.to_le_bytes());
        commented.extend_from_slice(b"hello");
        check_bytes(&commented, M, V).unwrap();
    }

    /// Data prepended to the archive (Go's baseOffset) is read the same way by both.
    #[test]
    fn prepended_data() {
        let mut bytes = b"#!/bin/sh\nexit 0\n".to_vec();
        bytes.extend_from_slice(&raw_zip(&[f("a.go", "package a\n")]));
        let z = check_bytes(&bytes, M, V).unwrap();
        assert_eq!(z.h1(), ok_of(&[f("a.go", "package a\n")]).h1());
    }

    /// A rejected zip leaves nothing behind: `check_zip` consumes and deletes the file.
    #[test]
    fn rejected_file_is_deleted() {
        let tmp = temp_with(&raw_zip(&[f("link", "x").unix_mode(0o120777)]));
        let path = tmp.path().to_owned();
        assert!(path.exists());
        check_zip(tmp, M, V, &ZipLimits::default()).unwrap_err();
        assert!(!path.exists());
    }

    #[test]
    fn check_zip_path_matches_check_zip() {
        let bytes = raw_zip(&[
            f("go.mod", "module example.com/m\n"),
            f("a/b.go", "package a\n"),
        ]);
        let tmp = temp_with(&bytes);
        let report = check_zip_path(tmp.path(), M, V, &ZipLimits::default()).unwrap();
        let z = check_zip(tmp, M, V, &ZipLimits::default()).unwrap();
        assert_eq!(z.report, report);
        assert_eq!(report.sha256, dirhash::sha256(&bytes));
        let e = check_zip_path(Path::new("/nonexistent/x.zip"), M, V, &ZipLimits::default())
            .unwrap_err();
        assert_eq!(e.reason(), "zip_io");
    }

    // ---- the pieces ----

    /// `str_to_fold` agrees with Go's strToFold for every char (dump made by Go 1.26.8).
    #[test]
    fn fold_table_matches_go() {
        let text = std::fs::read_to_string(testdata("strtofold-go1.26.8.txt")).unwrap();
        let mut want = HashMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (a, b) = line.split_once(' ').unwrap();
            let a = u32::from_str_radix(a, 16).unwrap();
            let b = u32::from_str_radix(b, 16).unwrap();
            want.insert(a, b);
        }
        assert_eq!(want.len(), 1454);
        for cp in 0..=0x10FFFFu32 {
            let Some(c) = char::from_u32(cp) else {
                continue;
            };
            let expect = want.get(&cp).copied().unwrap_or(cp);
            assert_eq!(u32::from(fold_char(c)), expect, "U+{cp:04X}");
        }
        assert!(FOLD_RUNS.windows(2).all(|w| w[0].1 < w[1].0));
        assert_eq!(str_to_fold("abc/d.go"), "abc/d.go");
        assert!(matches!(str_to_fold("abc"), Cow::Borrowed(_)));
        assert_eq!(str_to_fold("Go.MOD"), "go.mod");
        assert_eq!(str_to_fold("\u{212a}"), "k");
    }

    #[test]
    fn collision_checker_is_linear_in_name_length() {
        // Go's map would hold 32,768 keys averaging 32 KiB for this name.
        let deep = vec!["a"; 32_768].join("/");
        let mut cc = CollisionChecker::default();
        cc.check(&deep, false).unwrap();
        assert_eq!(cc.nodes.len(), 32_768 + 1);
        assert_eq!(cc.names.iter().map(String::len).sum::<usize>(), deep.len());
        assert!(matches!(
            cc.check(&deep, false),
            Err(EntryProblem::Duplicate { .. })
        ));
    }

    #[test]
    fn go_quoting() {
        assert_eq!(go_quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(go_quote("x\ny\t\u{1}\u{7f}"), r#""x\ny\t\x01\x7f""#);
        assert_eq!(go_quote("é\u{a0}\u{85}"), r#""é\u00a0\u0085""#);
        assert_eq!(go_quote_bytes(b"a\xffb"), r#""a\xffb""#);
    }
}
