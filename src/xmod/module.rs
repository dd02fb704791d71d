//! Module paths, versions and their escaped forms, ported from golang.org/x/mod
//! v0.43.0 `module/module.go` and `module/pseudo.go`.
//!
//! These rules decide which `(path, version)` pairs exist at all. goward applies them
//! to every request *before* touching its cache, the filesystem or an upstream, so a
//! request that the go command could never send (path traversal with `..`, Windows
//! device names, case-colliding spellings, non-ASCII look-alikes, `+build` metadata
//! smuggled into a version) is rejected up front. The rules must match the go
//! command's exactly: stricter would break real modules, looser would let the proxy
//! store or forward things clients never asked for.
//!
//! Error messages reproduce Go's text (including `%q` quoting, see [`quote`]) because
//! they reach users through the go command.
//!
//! One Go case cannot occur here: Go rejects paths that are not valid UTF-8
//! ("invalid UTF-8"); Rust `&str` inputs are valid UTF-8 by construction, so callers
//! that start from bytes must reject invalid UTF-8 before calling in.

use std::fmt;

use crate::xmod::semver;

/// Which rule set a path is checked against (module.go `pathKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    /// A module path ([`check_path`]).
    Module,
    /// A package import path ([`check_import_path`]).
    Import,
    /// A slash-separated file path inside a module zip ([`check_file_path`]).
    File,
}

impl fmt::Display for PathKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathKind::Module => "module",
            PathKind::Import => "import",
            PathKind::File => "file",
        })
    }
}

/// Why a path is malformed: the inner errors of module.go `checkPath`, `checkElem`
/// and `CheckPath`, with Go's wording.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PathReason {
    /// The path is empty.
    #[error("empty string")]
    Empty,
    /// A module or import path starts with `-` (it would look like a flag).
    #[error("leading dash")]
    LeadingDash,
    /// The path contains `//`.
    #[error("double slash")]
    DoubleSlash,
    /// The path ends in `/`.
    #[error("trailing slash")]
    TrailingSlash,
    /// An element between slashes is empty.
    #[error("empty path element")]
    EmptyElement,
    /// An element consists only of dots (`.`, `..`, ...): path traversal.
    #[error("invalid path element {}", quote(.0))]
    DotsOnly(String),
    /// A module path element starts with `.`.
    #[error("leading dot in path element")]
    LeadingDot,
    /// An element ends with `.` (Windows drops trailing dots).
    #[error("trailing dot in path element")]
    TrailingDot,
    /// A character outside the allowed set for this kind of path.
    #[error("invalid char {}", quote_rune(*.0))]
    InvalidChar(char),
    /// The part of an element before its first dot is a reserved Windows device name.
    #[error("{} disallowed as path element component on Windows", quote(.0))]
    WindowsReservedName(String),
    /// The part of an element before its first dot ends in `~` and digits, which
    /// looks like a Windows 8.3 short name (an alias of another file).
    #[error("trailing tilde and digits in path element")]
    WindowsShortName,
    /// A module path starts with `/`.
    #[error("leading slash")]
    LeadingSlash,
    /// The first element of a module path (a domain name) has no dot.
    #[error("missing dot in first path element")]
    MissingDotInFirstElement,
    /// The first element of a module path starts with `-`.
    #[error("leading dash in first path element")]
    LeadingDashInFirstElement,
    /// The first element of a module path has a character other than `a-z0-9.-`.
    #[error("invalid char {} in first path element", quote_rune(*.0))]
    InvalidCharInFirstElement(char),
    /// The module path's major-version suffix is malformed (see [`split_path_version`]).
    #[error("invalid version")]
    InvalidVersion,
}

/// Why a version is invalid: the inner errors wrapped by module.go
/// `InvalidVersionError`, with Go's wording.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum VersionReason {
    /// Not valid semver (see [`semver::is_valid`]).
    #[error("not a semantic version")]
    NotSemver,
    /// The version's major does not match the path's major suffix.
    #[error("should be {want}, not {got}")]
    WrongMajor {
        /// The major the path implies (`v0 or v1` for an unsuffixed path).
        want: String,
        /// The version's major (empty if the version is not valid semver).
        got: String,
    },
    /// Not usable as a file name, or contains `!` (module.go `EscapeVersion`).
    #[error("disallowed version string")]
    Disallowed,
    /// Not a pseudo-version (pseudo.go `errPseudoSyntax`).
    #[error("syntax error")]
    PseudoSyntax,
    /// The pseudo-version's timestamp is not a valid date and time.
    #[error("malformed time {}", quote(.0))]
    MalformedTime(String),
    /// A `vX.0.0-…` pseudo-version carrying build metadata such as `+incompatible`.
    #[error("lacks base version, but has build metadata {}", quote(.0))]
    LacksBaseVersion(String),
    /// A `vX.Y.0-0.…` pseudo-version: its base would need patch number -1.
    #[error("version before {0} would have negative patch number")]
    NegativePatch(String),
}

/// An invalid module path, version or escaped form. Display texts are Go's
/// (`InvalidPathError`, `InvalidVersionError`, `ModuleError`, `UnescapePath`...).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ModuleError {
    /// module.go `InvalidPathError`: `malformed module path "x": missing dot in first path element`.
    #[error("malformed {kind} path {}: {reason}", quote(.path))]
    InvalidPath {
        /// Which rule set was applied.
        kind: PathKind,
        /// The rejected path.
        path: String,
        /// What is wrong with it.
        reason: PathReason,
    },
    /// module.go `InvalidVersionError`: `version "v1.0.0" invalid: should be v2, not v1`.
    #[error("{} {} invalid: {reason}", noun(*.pseudo), quote(.version))]
    InvalidVersion {
        /// The rejected version.
        version: String,
        /// Whether it was checked as a pseudo-version (changes the noun).
        pseudo: bool,
        /// What is wrong with it.
        reason: VersionReason,
    },
    /// module.go `ModuleError`: an error about a module, e.g.
    /// `rsc.io/quote@v2.0.0: invalid version: should be v0 or v1, not v2`.
    #[error("{}", module_error_text(.path, .version, .err))]
    Module {
        /// The module path.
        path: String,
        /// The module version, or empty if unknown or carried by `err`.
        version: String,
        /// The underlying error.
        err: Box<ModuleError>,
    },
    /// module.go `UnescapePath`: `invalid escaped module path "x"` optionally followed
    /// by `: ` and the [`check_path`] error of the decoded path.
    #[error("invalid escaped module path {}{}", quote(.escaped), colon_suffix(.err.as_deref()))]
    InvalidEscapedPath {
        /// The escaped path as received.
        escaped: String,
        /// Why the decoded path is invalid; `None` if the escaping itself is bad.
        err: Option<Box<ModuleError>>,
    },
    /// module.go `UnescapeVersion`: `invalid escaped version "x"` optionally followed by
    /// `: ` and why the decoded version is not a valid file name.
    #[error("invalid escaped version {}{}", quote(.version), colon_suffix(.reason.as_ref()))]
    InvalidEscapedVersion {
        /// As in Go: the escaped form if the escaping is bad, else the decoded form.
        version: String,
        /// Why the decoded version is invalid; `None` if the escaping itself is bad.
        reason: Option<PathReason>,
    },
    /// module.go `escapeString` found `!` or non-ASCII after validation passed.
    /// Unreachable for [`escape_path`]; reachable for non-ASCII letters in
    /// [`escape_version`], exactly as in Go.
    #[error("internal error: inconsistency in EscapePath")]
    EscapeInconsistency,
}

fn noun(pseudo: bool) -> &'static str {
    if pseudo { "pseudo-version" } else { "version" }
}

/// module.go `(*ModuleError).Error`.
fn module_error_text(path: &str, version: &str, err: &ModuleError) -> String {
    if let ModuleError::InvalidVersion {
        version: v,
        pseudo,
        reason,
    } = err
    {
        return format!("{path}@{v}: invalid {}: {reason}", noun(*pseudo));
    }
    if !version.is_empty() {
        return format!("{path}@{version}: {err}");
    }
    format!("module {path}: {err}")
}

fn colon_suffix<E: fmt::Display>(err: Option<E>) -> String {
    err.map_or_else(String::new, |e| format!(": {e}"))
}

fn invalid_path(kind: PathKind, path: &str, reason: PathReason) -> ModuleError {
    ModuleError::InvalidPath {
        kind,
        path: path.to_string(),
        reason,
    }
}

fn invalid_version(version: &str, pseudo: bool, reason: VersionReason) -> ModuleError {
    ModuleError::InvalidVersion {
        version: version.to_string(),
        pseudo,
        reason,
    }
}

// ---------------------------------------------------------------------------
// Path checks (module.go CheckPath, CheckImportPath, CheckFilePath).
// ---------------------------------------------------------------------------

/// Checks that `path` is a valid module path (module.go `CheckPath`).
///
/// A valid import path (see [`check_import_path`]) but without `+`, whose first
/// element is a lower-case domain name (`a-z0-9.-`, at least one dot, no leading
/// dash), whose elements do not start with a dot, and whose major-version suffix is
/// well-formed (see [`split_path_version`]).
pub fn check_path(path: &str) -> Result<(), ModuleError> {
    check_module_path(path).map_err(|reason| invalid_path(PathKind::Module, path, reason))
}

fn check_module_path(path: &str) -> Result<(), PathReason> {
    check_path_kind(path, PathKind::Module)?;
    let i = path.find('/').unwrap_or(path.len());
    if i == 0 {
        return Err(PathReason::LeadingSlash);
    }
    let first = &path[..i];
    if !first.contains('.') {
        return Err(PathReason::MissingDotInFirstElement);
    }
    if path.starts_with('-') {
        return Err(PathReason::LeadingDashInFirstElement);
    }
    if let Some(r) = first.chars().find(|&r| !first_path_ok(r)) {
        return Err(PathReason::InvalidCharInFirstElement(r));
    }
    if split_path_version(path).is_none() {
        return Err(PathReason::InvalidVersion);
    }
    Ok(())
}

/// Checks that `path` is a valid package import path (module.go `CheckImportPath`):
/// slash-separated non-empty elements of ASCII letters, digits and `-._~+`, none all
/// dots, none ending in a dot, none naming a Windows device or looking like a
/// Windows short name; no leading dash, no leading or trailing slash.
pub fn check_import_path(path: &str) -> Result<(), ModuleError> {
    check_path_kind(path, PathKind::Import)
        .map_err(|reason| invalid_path(PathKind::Import, path, reason))
}

/// Checks that `path` is a valid slash-separated file path, as required of every
/// file in a module zip (module.go `CheckFilePath`).
///
/// Like an import path, but elements may also use Unicode letters, space and
/// `!#$%&()+,-.=@[]^_{}~`, may start with `-` or `.`, and are not checked for
/// Windows short names.
pub fn check_file_path(path: &str) -> Result<(), ModuleError> {
    check_path_kind(path, PathKind::File)
        .map_err(|reason| invalid_path(PathKind::File, path, reason))
}

/// module.go `checkPath` (minus the UTF-8 check, which `&str` makes redundant).
fn check_path_kind(path: &str, kind: PathKind) -> Result<(), PathReason> {
    if path.is_empty() {
        return Err(PathReason::Empty);
    }
    if path.starts_with('-') && kind != PathKind::File {
        return Err(PathReason::LeadingDash);
    }
    if path.contains("//") {
        return Err(PathReason::DoubleSlash);
    }
    if path.ends_with('/') {
        return Err(PathReason::TrailingSlash);
    }
    path.split('/').try_for_each(|elem| check_elem(elem, kind))
}

/// Checks one path element (module.go `checkElem`).
fn check_elem(elem: &str, kind: PathKind) -> Result<(), PathReason> {
    if elem.is_empty() {
        return Err(PathReason::EmptyElement);
    }
    if elem.bytes().all(|b| b == b'.') {
        return Err(PathReason::DotsOnly(elem.to_string()));
    }
    if elem.starts_with('.') && kind == PathKind::Module {
        return Err(PathReason::LeadingDot);
    }
    if elem.ends_with('.') {
        return Err(PathReason::TrailingDot);
    }
    let char_ok = match kind {
        PathKind::Module => mod_path_ok,
        PathKind::Import => import_path_ok,
        PathKind::File => file_name_ok,
    };
    if let Some(r) = elem.chars().find(|&r| !char_ok(r)) {
        return Err(PathReason::InvalidChar(r));
    }

    // Windows reserves these device names whatever the extension.
    let short = elem.split_once('.').map_or(elem, |(s, _)| s);
    // Go compares with strings.EqualFold. The only non-ASCII runes that fold to ASCII
    // letters are U+212A (K) and U+017F (s), and no reserved name contains K or S, so
    // an ASCII case-insensitive comparison gives identical results.
    if BAD_WINDOWS_NAMES
        .iter()
        .any(|bad| bad.eq_ignore_ascii_case(short))
    {
        return Err(PathReason::WindowsReservedName(short.to_string()));
    }

    if kind == PathKind::File {
        // Short names are only an issue for import paths (module.go).
        return Ok(());
    }
    if let Some(tilde) = short.rfind('~')
        && tilde < short.len() - 1
        && short[tilde + 1..].bytes().all(|b| b.is_ascii_digit())
    {
        return Err(PathReason::WindowsShortName);
    }
    Ok(())
}

/// module.go `badWindowsNames`.
const BAD_WINDOWS_NAMES: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// The first element of a module path must be a lower-case LDH domain name, so it
/// cannot be spelled in two casings (module.go `firstPathOK`).
fn first_path_ok(r: char) -> bool {
    r == '-' || r == '.' || r.is_ascii_digit() || r.is_ascii_lowercase()
}

/// ASCII letters, digits and `-._~` (module.go `modPathOK`): nothing that changes
/// meaning in a URL (`%`, `+`) or on a file system.
fn mod_path_ok(r: char) -> bool {
    matches!(r, '-' | '.' | '_' | '~') || r.is_ascii_alphanumeric()
}

/// [`mod_path_ok`] plus `+` (module.go `importPathOK`).
fn import_path_ok(r: char) -> bool {
    mod_path_ok(r) || r == '+'
}

/// module.go `fileNameOK`: ASCII letters and digits, space, `!#$%&()+,-.=@[]^_{}~`,
/// and Unicode letters (category L). Shell metacharacters and the separators
/// `/ \ :` are excluded.
fn file_name_ok(r: char) -> bool {
    if r.is_ascii() {
        return r.is_ascii_alphanumeric() || "!#$%&()+,-.=@[]^_{}~ ".contains(r);
    }
    is_letter(r)
}

/// Go's `unicode.IsLetter` for non-ASCII runes. Rust's `char::is_alphabetic` is a
/// different (larger) set, e.g. it includes letter-like numerals and vowel signs,
/// so the Go table is embedded.
fn is_letter(r: char) -> bool {
    let c = u32::from(r);
    let (ranges, _) = LETTER_RANGES.as_chunks::<2>();
    let i = ranges.partition_point(|range| range[0] <= c);
    i > 0 && c <= ranges[i - 1][1]
}

// ---------------------------------------------------------------------------
// Major versions (module.go SplitPathVersion, CheckPathMajor, ...).
// ---------------------------------------------------------------------------

/// Splits a module path into `(prefix, path_major)` with `prefix + path_major == path`
/// and `path_major` either empty or `/vN` for N ≥ 2 (module.go `SplitPathVersion`).
///
/// `gopkg.in/` paths use `.vN` (any N, `-unstable` allowed) instead. Returns `None`
/// where Go returns `ok == false`: a final element like `/v1`, `/v0`, `/v01` or
/// `/v2.0`, or a `gopkg.in` path without a `.vN` suffix.
pub fn split_path_version(path: &str) -> Option<(&str, &str)> {
    if path.starts_with("gopkg.in/") {
        return split_gopkg_in(path);
    }
    let b = path.as_bytes();
    let mut i = b.len();
    let mut dot = false;
    while i > 0 && (b[i - 1].is_ascii_digit() || b[i - 1] == b'.') {
        if b[i - 1] == b'.' {
            dot = true;
        }
        i -= 1;
    }
    if i <= 1 || i == b.len() || b[i - 1] != b'v' || b[i - 2] != b'/' {
        return Some((path, ""));
    }
    // b[i - 2] is the ASCII '/', so this is a char boundary.
    let (prefix, path_major) = path.split_at(i - 2);
    if dot || path_major.len() <= 2 || path_major.as_bytes()[2] == b'0' || path_major == "/v1" {
        return None;
    }
    Some((prefix, path_major))
}

/// module.go `splitGopkgIn`.
fn split_gopkg_in(path: &str) -> Option<(&str, &str)> {
    if !path.starts_with("gopkg.in/") {
        return None;
    }
    let b = path.as_bytes();
    let mut i = b.len();
    if path.ends_with("-unstable") {
        i -= "-unstable".len();
    }
    while i > 0 && b[i - 1].is_ascii_digit() {
        i -= 1;
    }
    if i <= 1 || b[i - 1] != b'v' || b[i - 2] != b'.' {
        // All gopkg.in paths must end in vN for some N.
        return None;
    }
    // b[i - 2] is the ASCII '.', so this is a char boundary.
    let (prefix, path_major) = path.split_at(i - 2);
    if path_major.len() <= 2 || (path_major.as_bytes()[2] == b'0' && path_major != ".v0") {
        return None;
    }
    Some((prefix, path_major))
}

/// Checks that `path` is a valid module path and `version` a valid semantic version
/// whose major agrees with the path's major suffix (module.go `Check`). For example
/// `yaml/v2` only accepts `v2.x.y` versions; an unsuffixed path accepts v0, v1 and
/// `+incompatible` versions.
pub fn check(path: &str, version: &str) -> Result<(), ModuleError> {
    check_path(path)?;
    let module_err = |err| ModuleError::Module {
        path: path.to_string(),
        version: String::new(),
        err: Box::new(err),
    };
    if !semver::is_valid(version) {
        return Err(module_err(invalid_version(
            version,
            false,
            VersionReason::NotSemver,
        )));
    }
    // check_path succeeded, so split_path_version does too.
    let (_, path_major) = split_path_version(path).unwrap_or((path, ""));
    check_path_major(version, path_major).map_err(module_err)
}

/// Checks that version `v` matches the path major suffix `path_major` as returned by
/// [`split_path_version`] (module.go `CheckPathMajor`).
///
/// Accepts v0/v1/`+incompatible` for an empty suffix, major N for `/vN` or `.vN`, and
/// (an old go command bug that real go.mod files depend on) `v0.0.0-…` pseudo-versions
/// for `.v1`.
pub fn check_path_major(version: &str, path_major: &str) -> Result<(), ModuleError> {
    let mut path_major = path_major;
    if path_major.starts_with(".v") {
        path_major = path_major.strip_suffix("-unstable").unwrap_or(path_major);
    }
    if version.starts_with("v0.0.0-") && path_major == ".v1" {
        // Allow old bug in pseudo-versions that generated v0.0.0- pseudoversion for
        // gopkg .v1. For example, gopkg.in/yaml.v2@v2.2.1's go.mod requires
        // gopkg.in/check.v1 v0.0.0-20161208181325-20d25e280405.
        return Ok(());
    }
    let m = semver::major(version).unwrap_or("");
    let want = if path_major.is_empty() {
        if m == "v0" || m == "v1" || semver::build(version) == "+incompatible" {
            return Ok(());
        }
        "v0 or v1"
    } else if let Some(suffix) = path_major.strip_prefix(['/', '.']) {
        if m == suffix {
            return Ok(());
        }
        suffix
    } else {
        path_major
    };
    Err(invalid_version(
        version,
        false,
        VersionReason::WrongMajor {
            want: want.to_string(),
            got: m.to_string(),
        },
    ))
}

/// Reports whether [`check_path_major`] accepts `version` (module.go `MatchPathMajor`).
pub fn match_path_major(version: &str, path_major: &str) -> bool {
    check_path_major(version, path_major).is_ok()
}

/// The major-version tag prefix implied by a path major suffix: `""` (v0 or v1) for
/// `""`, `v2` for `/v2`, `.v2` or `.v2-unstable` (module.go `PathMajorPrefix`).
/// `None` where Go panics: a suffix without `/` or `.`, or not naming a major version.
pub fn path_major_prefix(path_major: &str) -> Option<&str> {
    if path_major.is_empty() {
        return Some("");
    }
    if !path_major.starts_with(['/', '.']) {
        return None;
    }
    let mut path_major = path_major;
    if path_major.starts_with(".v") {
        path_major = path_major.strip_suffix("-unstable").unwrap_or(path_major);
    }
    let m = &path_major[1..];
    (semver::major(m).unwrap_or("") == m).then_some(m)
}

/// [`semver::canonical`], except that a `+incompatible` build suffix is kept
/// (module.go `CanonicalVersion`). Any other build metadata is dropped, so a version
/// differing from its canonical form is never served as `.mod` or `.zip`.
pub fn canonical_version(v: &str) -> Option<String> {
    let mut cv = semver::canonical(v)?;
    if semver::build(v) == "+incompatible" {
        cv.push_str("+incompatible");
    }
    Some(cv)
}

// ---------------------------------------------------------------------------
// Case escaping (module.go EscapePath, UnescapePath, EscapeVersion, UnescapeVersion).
// ---------------------------------------------------------------------------

/// The escaped form of a module path, used in proxy URLs and cache file names: each
/// upper-case ASCII letter becomes `!` plus its lower-case form, so that two paths
/// differing only in case never map to the same file on a case-insensitive file
/// system (module.go `EscapePath`). Fails if the path is invalid.
pub fn escape_path(path: &str) -> Result<String, ModuleError> {
    check_path(path)?;
    escape_string(path)
}

/// The escaped form of a version (module.go `EscapeVersion`). Versions need not be
/// semver (queries like `master` are escaped too) but must be valid file-name
/// elements without `!`.
pub fn escape_version(v: &str) -> Result<String, ModuleError> {
    if check_elem(v, PathKind::File).is_err() || v.contains('!') {
        return Err(invalid_version(v, false, VersionReason::Disallowed));
    }
    escape_string(v)
}

/// module.go `escapeString`.
fn escape_string(s: &str) -> Result<String, ModuleError> {
    if s.bytes().any(|b| b == b'!' || !b.is_ascii()) {
        // Excluded by the callers' checks (except non-ASCII letters in versions), but
        // the escaping below is only unambiguous without them.
        return Err(ModuleError::EscapeInconsistency);
    }
    let mut out = String::with_capacity(s.len() + s.len() / 4);
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('!');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Decodes an escaped module path (module.go `UnescapePath`).
///
/// Security: this is the gate for module paths taken from request URLs, and it runs
/// before any cache, filesystem or upstream access. It rejects upper-case letters
/// (so `rsc.io/QUOTE` and `rsc.io/!q!u!o!t!e` cannot both name one module), any `!`
/// not followed by `a`-`z`, a trailing `!`, and every non-ASCII byte; the decoded
/// path must then pass [`check_path`] (no `..`, no empty elements, no Windows device
/// names, ...). So each valid module has exactly one escaped spelling.
pub fn unescape_path(escaped: &str) -> Result<String, ModuleError> {
    let Some(path) = unescape_string(escaped) else {
        return Err(ModuleError::InvalidEscapedPath {
            escaped: escaped.to_string(),
            err: None,
        });
    };
    if let Err(e) = check_path(&path) {
        return Err(ModuleError::InvalidEscapedPath {
            escaped: escaped.to_string(),
            err: Some(Box::new(e)),
        });
    }
    Ok(path)
}

/// Decodes an escaped version (module.go `UnescapeVersion`).
///
/// Security: like [`unescape_path`], this parses request URLs before any other
/// access. It rejects upper-case letters, bad `!` sequences and non-ASCII, and the
/// result must be a valid file-name element (so no `/`, `..`, `\` or device names).
/// It does *not* require semver: callers decide which versions they accept.
pub fn unescape_version(escaped: &str) -> Result<String, ModuleError> {
    let Some(v) = unescape_string(escaped) else {
        return Err(ModuleError::InvalidEscapedVersion {
            version: escaped.to_string(),
            reason: None,
        });
    };
    if let Err(reason) = check_elem(&v, PathKind::File) {
        return Err(ModuleError::InvalidEscapedVersion {
            version: v,
            reason: Some(reason),
        });
    }
    Ok(v)
}

/// module.go `unescapeString`: `None` for non-ASCII, upper case, or a `!` not
/// followed by a lower-case letter.
fn unescape_string(escaped: &str) -> Option<String> {
    let mut out = String::with_capacity(escaped.len());
    let mut bang = false;
    for b in escaped.bytes() {
        if !b.is_ascii() {
            return None;
        }
        if bang {
            bang = false;
            if !b.is_ascii_lowercase() {
                return None;
            }
            out.push(char::from(b.to_ascii_uppercase()));
            continue;
        }
        if b == b'!' {
            bang = true;
            continue;
        }
        if b.is_ascii_uppercase() {
            return None;
        }
        out.push(char::from(b));
    }
    (!bang).then_some(out)
}

// ---------------------------------------------------------------------------
// GOPRIVATE-style patterns (module.go MatchPrefixPatterns, Go's path.Match).
// ---------------------------------------------------------------------------

/// Reports whether any path prefix of `target` matches one of the comma-separated
/// glob patterns in `globs` (module.go `MatchPrefixPatterns`, the GOPRIVATE /
/// GONOPROXY / GONOSUMDB algorithm of `go help module-private`).
///
/// A pattern with N slashes is matched with [`path_match`] against the first N+1
/// elements of `target`. Empty and malformed patterns are ignored, as are trailing
/// slashes on patterns.
pub fn match_prefix_patterns(globs: &str, target: &str) -> bool {
    for glob in globs.split(',') {
        let glob = glob.strip_suffix('/').unwrap_or(glob);
        if glob.is_empty() {
            continue;
        }
        // A glob with N+1 path elements (N slashes) needs to be matched against the
        // first N+1 path elements of target, which end just before the N+1'th slash.
        let mut n = glob.matches('/').count();
        let mut prefix = target;
        for (i, b) in target.bytes().enumerate() {
            if b == b'/' {
                if n == 0 {
                    prefix = &target[..i];
                    break;
                }
                n -= 1;
            }
        }
        if n > 0 {
            // Not enough prefix elements.
            continue;
        }
        if path_match(glob, prefix) == Ok(true) {
            return true;
        }
    }
    false
}

/// Go's `path.ErrBadPattern`.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
#[error("syntax error in pattern")]
pub struct BadPattern;

/// Go's `path.Match` (shell patterns): `*` matches any run of non-`/` characters,
/// `?` one non-`/` character, `[...]` / `[^...]` a character class with `lo-hi`
/// ranges, and `\` escapes the next character. The whole `name` must match.
///
/// Like Go, a malformed pattern is reported even when the match fails before
/// reaching the bad part, but a successful match may return before seeing it.
pub fn path_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let mut pattern = pattern.as_bytes();
    let mut name = name.as_bytes();
    'pattern: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            // Trailing * matches rest of string unless it has a /.
            return Ok(!name.contains(&b'/'));
        }
        // Look for match at current position.
        let m = match_chunk(chunk, name);
        // If we're the last chunk, make sure we've exhausted the name, otherwise
        // we'll give a false result even if we could still match using the star.
        if let Ok(Some(t)) = m
            && (t.is_empty() || !pattern.is_empty())
        {
            name = t;
            continue;
        }
        m?;
        if star {
            // Look for match skipping i+1 bytes. Cannot skip /.
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                if let Some(t) = match_chunk(chunk, &name[i + 1..])? {
                    // If we're the last chunk, make sure we exhausted the name.
                    if pattern.is_empty() && !t.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
                i += 1;
            }
        }
        // Before returning false with no error, check that the remainder of the
        // pattern is syntactically valid.
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

/// path/match.go `scanChunk`: the next segment of `pattern`, a non-star string
/// possibly preceded by stars. Returns `(star, chunk, rest)`.
fn scan_chunk(mut pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut star = false;
    while let [b'*', rest @ ..] = pattern {
        pattern = rest;
        star = true;
    }
    let mut in_range = false;
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            // Error check handled in match_chunk: bad pattern.
            b'\\' if i + 1 < pattern.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => return (star, &pattern[..i], &pattern[i..]),
            _ => {}
        }
        i += 1;
    }
    (star, pattern, b"")
}

/// path/match.go `matchChunk`: whether `chunk` (literals, classes and `?` only)
/// matches the beginning of `s`; if so, the rest of `s`.
fn match_chunk<'a>(mut chunk: &[u8], mut s: &'a [u8]) -> Result<Option<&'a [u8]>, BadPattern> {
    // After the match fails, keep processing chunk to check that the pattern is
    // well-formed, but no longer read s.
    let mut failed = false;
    while let Some(&c) = chunk.first() {
        failed = failed || s.is_empty();
        match c {
            b'[' => {
                // Character class.
                let mut r = 0;
                if !failed {
                    let (rune, n) = decode_rune(s);
                    r = rune;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                // Possibly negated.
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = &chunk[1..];
                }
                // Parse all ranges.
                let mut matched = false;
                let mut nrange = 0;
                loop {
                    if chunk.first() == Some(&b']') && nrange > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    // get_esc guarantees that rest is non-empty.
                    if chunk[0] == b'-' {
                        let (h, rest) = get_esc(&chunk[1..])?;
                        hi = h;
                        chunk = rest;
                    }
                    matched = matched || (lo <= r && r <= hi);
                    nrange += 1;
                }
                failed = failed || matched == negated;
            }
            b'?' => {
                if !failed {
                    failed = s[0] == b'/';
                    let (_, n) = decode_rune(s);
                    s = &s[n..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                if c == b'\\' {
                    chunk = &chunk[1..];
                    if chunk.is_empty() {
                        return Err(BadPattern);
                    }
                }
                if !failed {
                    failed = chunk[0] != s[0];
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    Ok((!failed).then_some(s))
}

/// path/match.go `getEsc`: a possibly-escaped character of a character class, and
/// the rest of the chunk (never empty on success).
fn get_esc(chunk: &[u8]) -> Result<(u32, &[u8]), BadPattern> {
    let mut chunk = chunk;
    match chunk.first() {
        None | Some(b'-' | b']') => return Err(BadPattern),
        Some(b'\\') => {
            chunk = &chunk[1..];
            if chunk.is_empty() {
                return Err(BadPattern);
            }
        }
        Some(_) => {}
    }
    let (r, n) = decode_rune(chunk);
    if r == RUNE_ERROR && n == 1 {
        return Err(BadPattern);
    }
    let rest = &chunk[n..];
    if rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((r, rest))
}

const RUNE_ERROR: u32 = 0xFFFD;

/// Go's `utf8.DecodeRuneInString`: the first rune of `b` and its width, or
/// `(RUNE_ERROR, 1)` for an invalid encoding (`(RUNE_ERROR, 0)` if `b` is empty).
/// path_match slices at byte offsets, so it can see partial characters.
fn decode_rune(b: &[u8]) -> (u32, usize) {
    let width = match b.first() {
        None => return (RUNE_ERROR, 0),
        Some(&c) if c < 0x80 => return (u32::from(c), 1),
        Some(&c) if c & 0xE0 == 0xC0 => 2,
        Some(&c) if c & 0xF0 == 0xE0 => 3,
        Some(&c) if c & 0xF8 == 0xF0 => 4,
        Some(_) => return (RUNE_ERROR, 1),
    };
    match b
        .get(..width)
        .and_then(|p| std::str::from_utf8(p).ok())
        .and_then(|s| s.chars().next())
    {
        Some(c) => (u32::from(c), width),
        None => (RUNE_ERROR, 1),
    }
}

// ---------------------------------------------------------------------------
// Pseudo-versions (module/pseudo.go).
// ---------------------------------------------------------------------------

/// The timestamp of a pseudo-version: a UTC date and time with whole seconds, as
/// written in the `yyyymmddhhmmss` field (pseudo.go `PseudoVersionTimestampFormat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PseudoTime {
    /// Year, 0–9999.
    pub year: u16,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, 1–31 (valid for the month and year).
    pub day: u8,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–59.
    pub second: u8,
}

impl PseudoTime {
    /// Go's zero `time.Time`, 0001-01-01T00:00:00Z, used by [`zero_pseudo_version`].
    pub const ZERO: PseudoTime = PseudoTime {
        year: 1,
        month: 1,
        day: 1,
        hour: 0,
        minute: 0,
        second: 0,
    };

    /// Parses exactly 14 digits `yyyymmddhhmmss` with the validation of Go's
    /// `time.Parse("20060102150405", …)`: month 1–12, a day that exists in that
    /// month (leap years included), hour < 24, minute < 60, second < 60.
    pub fn parse(timestamp: &str) -> Option<PseudoTime> {
        let b = timestamp.as_bytes();
        if b.len() != 14 || !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let num = |from: usize, to: usize| {
            b[from..to]
                .iter()
                .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'))
        };
        // Every field below is at most 2 digits (< 100), so the narrowing casts
        // are lossless.
        let field = |from: usize| num(from, from + 2) as u8;
        let t = PseudoTime {
            year: num(0, 4),
            month: field(4),
            day: field(6),
            hour: field(8),
            minute: field(10),
            second: field(12),
        };
        let valid = (1..=12).contains(&t.month)
            && t.day >= 1
            && t.day <= days_in_month(t.year, t.month)
            && t.hour < 24
            && t.minute < 60
            && t.second < 60;
        valid.then_some(t)
    }

    /// Seconds since 1970-01-01T00:00:00Z (negative before it).
    pub fn unix_seconds(&self) -> i64 {
        // Howard Hinnant's days_from_civil.
        let (m, d) = (i64::from(self.month), i64::from(self.day));
        let y = i64::from(self.year) - i64::from(m <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// The `yyyymmddhhmmss` form used inside pseudo-versions.
    pub fn timestamp(&self) -> String {
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

/// RFC 3339 in UTC, as Go's `time.RFC3339` formats a UTC time: `2006-01-02T15:04:05Z`.
impl fmt::Display for PseudoTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Reports whether `v` is a pseudo-version (pseudo.go `IsPseudoVersion`): valid
/// semver of one of the forms `vX.0.0-yyyymmddhhmmss-rev`,
/// `vX.Y.(Z+1)-0.yyyymmddhhmmss-rev[+build]` or `vX.Y.Z-pre.0.yyyymmddhhmmss-rev[+build]`.
pub fn is_pseudo_version(v: &str) -> bool {
    v.matches('-').count() >= 2 && semver::is_valid(v) && matches_pseudo_version_re(v)
}

/// A hand-written matcher for pseudo.go's `pseudoVersionRE`:
/// `^v[0-9]+\.(0\.0-|\d+\.\d+-([^+]*\.)?0\.)\d{14}-[A-Za-z0-9]+(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`
/// (`\d` is ASCII-only in Go's regexp).
fn matches_pseudo_version_re(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v').and_then(skip_digits) else {
        return false;
    };
    let Some(rest) = rest.strip_prefix('.') else {
        return false;
    };
    // Alternative 1: `0\.0-`.
    if rest.strip_prefix("0.0-").is_some_and(matches_pseudo_tail) {
        return true;
    }
    // Alternative 2: `\d+\.\d+-([^+]*\.)?0\.`.
    let Some(s) = skip_digits(rest)
        .and_then(|r| r.strip_prefix('.'))
        .and_then(skip_digits)
        .and_then(|r| r.strip_prefix('-'))
    else {
        return false;
    };
    // s must be G + "0." + T where G is empty or `[^+]*\.` and T matches the tail.
    // T's part before its optional `+build` has neither '.' nor '+', and G has no
    // '+', so T's build starts at the first '+' of s and the "0." is the last '.'
    // before it: the split is unique, and no backtracking is needed.
    let main_end = s.find('+').unwrap_or(s.len());
    let Some(dot) = s[..main_end].rfind('.') else {
        return false;
    };
    let head = &s[..=dot];
    (head == "0." || head.ends_with(".0.")) && matches_pseudo_tail(&s[dot + 1..])
}

/// `\d{14}-[A-Za-z0-9]+(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$`.
fn matches_pseudo_tail(t: &str) -> bool {
    let b = t.as_bytes();
    if b.len() < 16 || !b[..14].iter().all(u8::is_ascii_digit) || b[14] != b'-' {
        return false;
    }
    let rev_len = b[15..]
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    if rev_len == 0 {
        return false;
    }
    match &t[15 + rev_len..] {
        "" => true,
        build => build.strip_prefix('+').is_some_and(|ids| {
            ids.split('.').all(|id| {
                !id.is_empty() && id.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
            })
        }),
    }
}

/// Strips a non-empty run of leading ASCII digits (`[0-9]+`).
fn skip_digits(s: &str) -> Option<&str> {
    let n = s.bytes().take_while(u8::is_ascii_digit).count();
    (n > 0).then(|| &s[n..])
}

/// The parts of a pseudo-version (pseudo.go `parsePseudoVersion`).
struct PseudoParts<'a> {
    /// `vX.0.0`, `vX.Y.(Z+1)-0` or `vX.Y.Z-pre.0`.
    base: &'a str,
    timestamp: &'a str,
    rev: &'a str,
    build: &'a str,
}

fn parse_pseudo_version(v: &str) -> Result<PseudoParts<'_>, ModuleError> {
    let syntax_error = || invalid_version(v, true, VersionReason::PseudoSyntax);
    if !is_pseudo_version(v) {
        return Err(syntax_error());
    }
    let build = semver::build(v);
    let rest = &v[..v.len() - build.len()];
    let j = rest.rfind('-').ok_or_else(syntax_error)?;
    let (rest, rev) = (&rest[..j], &rest[j + 1..]);
    let i = rest.rfind('-');
    let (base, timestamp) = match (rest.rfind('.'), i) {
        // "vX.Y.Z-pre.0" or "vX.Y.(Z+1)-0" before the timestamp.
        (Some(j), _) if i.is_none_or(|i| j > i) => (&rest[..j], &rest[j + 1..]),
        // "vX.0.0".
        (_, Some(i)) => (&rest[..i], &rest[i + 1..]),
        _ => return Err(syntax_error()),
    };
    Ok(PseudoParts {
        base,
        timestamp,
        rev,
        build,
    })
}

/// The time stamp of pseudo-version `v` (pseudo.go `PseudoVersionTime`). Fails if `v`
/// is not a pseudo-version or the time stamp is not a valid date and time.
pub fn pseudo_version_time(v: &str) -> Result<PseudoTime, ModuleError> {
    let parts = parse_pseudo_version(v)?;
    PseudoTime::parse(parts.timestamp).ok_or_else(|| {
        invalid_version(
            v,
            true,
            VersionReason::MalformedTime(parts.timestamp.to_string()),
        )
    })
}

/// The revision identifier (usually a 12-hex-digit commit prefix) of pseudo-version
/// `v` (pseudo.go `PseudoVersionRev`).
pub fn pseudo_version_rev(v: &str) -> Result<&str, ModuleError> {
    Ok(parse_pseudo_version(v)?.rev)
}

/// The canonical tagged version a pseudo-version builds on, or `None` for
/// `vX.0.0-…` forms that have none (pseudo.go `PseudoVersionBase`, which returns
/// `""` for that case). Fails for non-pseudo-versions, for `vX.0.0-…+build` (no base
/// yet build metadata) and for `vX.Y.0-0.…` (the base would need patch -1).
pub fn pseudo_version_base(v: &str) -> Result<Option<String>, ModuleError> {
    let parts = parse_pseudo_version(v)?;
    let (base, build) = (parts.base, parts.build);
    match semver::prerelease(base) {
        "" => {
            // vX.0.0-yyyymmddhhmmss-abcdef123456 → none. With "+incompatible" this is
            // nonsensical: no parent tag, yet a parent tag incompatible with the path.
            if !build.is_empty() {
                return Err(invalid_version(
                    v,
                    true,
                    VersionReason::LacksBaseVersion(build.to_string()),
                ));
            }
            Ok(None)
        }
        "-0" => {
            // vX.Y.(Z+1)-0.yyyymmddhhmmss-abcdef123456[+incompatible] → vX.Y.Z[+incompatible]
            let base = &base[..base.len() - 2];
            // Go panics here; a valid pseudo-version always has the patch dot.
            let i = base
                .rfind('.')
                .ok_or_else(|| invalid_version(v, true, VersionReason::PseudoSyntax))?;
            let Some(patch) = dec_decimal(&base[i + 1..]) else {
                return Err(invalid_version(
                    v,
                    true,
                    VersionReason::NegativePatch(base.to_string()),
                ));
            };
            Ok(Some(format!("{}{patch}{build}", &base[..=i])))
        }
        _ => {
            // vX.Y.Z-pre.0.yyyymmddhhmmss-abcdef123456[+incompatible] → vX.Y.Z-pre[+incompatible]
            // Go panics if ".0" is missing; the regexp guarantees it.
            let base = base
                .strip_suffix(".0")
                .ok_or_else(|| invalid_version(v, true, VersionReason::PseudoSyntax))?;
            Ok(Some(format!("{base}{build}")))
        }
    }
}

/// Builds a pseudo-version (pseudo.go `PseudoVersion`) from a major version (`""`
/// means `v0`), the newest older tag (`""` if none, `v1.2.3`, `v1.2.3-pre`, possibly
/// with build metadata, which is kept), the revision time and the revision identifier.
pub fn pseudo_version(major: &str, older: &str, t: PseudoTime, rev: &str) -> String {
    let major = if major.is_empty() { "v0" } else { major };
    let segment = format!("{}-{rev}", t.timestamp());
    let build = semver::build(older);
    let Some(older) = semver::canonical(older) else {
        return format!("{major}.0.0-{segment}"); // form (1)
    };
    if !semver::prerelease(&older).is_empty() {
        return format!("{older}.0.{segment}{build}"); // form (4), (5)
    }
    // Form (2), (3): increment the patch of vMAJOR.MINOR.PATCH.
    let i = older.rfind('.').map_or(0, |i| i + 1);
    let (prefix, patch) = older.split_at(i);
    format!("{prefix}{}-0.{segment}{build}", inc_decimal(patch))
}

/// A pseudo-version with zero time and revision, usable as a placeholder
/// (pseudo.go `ZeroPseudoVersion`).
pub fn zero_pseudo_version(major: &str) -> String {
    pseudo_version(major, "", PseudoTime::ZERO, "000000000000")
}

/// Reports whether `v` is the [`zero_pseudo_version`] of its major
/// (pseudo.go `IsZeroPseudoVersion`).
pub fn is_zero_pseudo_version(v: &str) -> bool {
    v == zero_pseudo_version(semver::major(v).unwrap_or(""))
}

/// The decimal digit string incremented by one (pseudo.go `incDecimal`).
fn inc_decimal(decimal: &str) -> String {
    let mut digits = decimal.as_bytes().to_vec();
    let mut i = digits.len();
    while i > 0 && digits[i - 1] == b'9' {
        digits[i - 1] = b'0';
        i -= 1;
    }
    if i > 0 {
        digits[i - 1] += 1;
    } else if digits.is_empty() {
        // Go would panic on "" here; treat it as "0".
        digits.push(b'1');
    } else {
        // All nines, now all zeros.
        digits[0] = b'1';
        digits.push(b'0');
    }
    String::from_utf8_lossy(&digits).into_owned()
}

/// The decimal digit string decremented by one, or `None` if it is all zeros or
/// empty (pseudo.go `decDecimal`, which returns `""`).
fn dec_decimal(decimal: &str) -> Option<String> {
    let mut digits = decimal.as_bytes().to_vec();
    let mut i = digits.len();
    while i > 0 && digits[i - 1] == b'0' {
        digits[i - 1] = b'9';
        i -= 1;
    }
    if i == 0 {
        return None;
    }
    if i == 1 && digits[0] == b'1' && digits.len() > 1 {
        digits.remove(0);
    } else {
        digits[i - 1] -= 1;
    }
    Some(String::from_utf8_lossy(&digits).into_owned())
}

// ---------------------------------------------------------------------------
// Go-style quoting for error messages.
// ---------------------------------------------------------------------------

/// Go's `strconv.Quote` (what `%q` does to a string): double-quoted, with `"` and
/// `\` backslash-escaped, printable characters kept and everything else escaped as
/// `\n`, `\x1f`, `\u00a0` or `\U000e0001`. Used so our messages match the go
/// command's byte for byte, and so that hostile input cannot inject control
/// characters (e.g. newlines) into logs or responses.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// Go's `strconv.QuoteRune` (what `%q` does to a rune): single-quoted, escaped like
/// [`quote`] except that `'` rather than `"` is escaped.
pub fn quote_rune(c: char) -> String {
    let mut out = String::with_capacity(8);
    out.push('\'');
    push_escaped(&mut out, c, '\'');
    out.push('\'');
    out
}

/// strconv.go `appendEscapedRune`.
fn push_escaped(out: &mut String, c: char, quote: char) {
    use fmt::Write as _;
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if is_print(c) {
        out.push(c);
        return;
    }
    let code = u32::from(c);
    // Writing to a String cannot fail.
    let _ = match c {
        '\x07' => out.write_str("\\a"),
        '\x08' => out.write_str("\\b"),
        '\x0c' => out.write_str("\\f"),
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        '\x0b' => out.write_str("\\v"),
        _ if code < 0x20 || code == 0x7f => write!(out, "\\x{code:02x}"),
        _ if code < 0x10000 => write!(out, "\\u{code:04x}"),
        _ => write!(out, "\\U{code:08x}"),
    };
}

/// Go's `strconv.IsPrint`: letters, marks, numbers, punctuation, symbols and the
/// ASCII space. For non-ASCII this defers to Rust's `Debug` escaping, which treats
/// the same categories as unprintable (separators other than U+0020, control,
/// format, surrogate, private-use and unassigned). The leading `a` stops
/// `str::escape_debug` from escaping `c` merely for being a grapheme extender (a
/// combining mark) at the start of a string; Go prints those unescaped.
fn is_print(c: char) -> bool {
    if c.is_ascii() {
        return (' '..='~').contains(&c);
    }
    let mut buf = [0u8; 8];
    buf[0] = b'a';
    let len = 1 + c.encode_utf8(&mut buf[1..]).len();
    std::str::from_utf8(&buf[..len]).is_ok_and(|s| s.escape_debug().count() == 2)
}

// Generated by testdata/xmod/module/gen (`go run . letters`) from Go 1.26.8's
// unicode.IsLetter, Unicode 15.0.0: flattened inclusive (start, end) ranges above ASCII.
const LETTER_RANGES: &[u32] = &[
    0xAA, 0xAA, 0xB5, 0xB5, 0xBA, 0xBA, 0xC0, 0xD6, 0xD8, 0xF6, 0xF8, 0x2C1, 0x2C6, 0x2D1, 0x2E0,
    0x2E4, 0x2EC, 0x2EC, 0x2EE, 0x2EE, 0x370, 0x374, 0x376, 0x377, 0x37A, 0x37D, 0x37F, 0x37F,
    0x386, 0x386, 0x388, 0x38A, 0x38C, 0x38C, 0x38E, 0x3A1, 0x3A3, 0x3F5, 0x3F7, 0x481, 0x48A,
    0x52F, 0x531, 0x556, 0x559, 0x559, 0x560, 0x588, 0x5D0, 0x5EA, 0x5EF, 0x5F2, 0x620, 0x64A,
    0x66E, 0x66F, 0x671, 0x6D3, 0x6D5, 0x6D5, 0x6E5, 0x6E6, 0x6EE, 0x6EF, 0x6FA, 0x6FC, 0x6FF,
    0x6FF, 0x710, 0x710, 0x712, 0x72F, 0x74D, 0x7A5, 0x7B1, 0x7B1, 0x7CA, 0x7EA, 0x7F4, 0x7F5,
    0x7FA, 0x7FA, 0x800, 0x815, 0x81A, 0x81A, 0x824, 0x824, 0x828, 0x828, 0x840, 0x858, 0x860,
    0x86A, 0x870, 0x887, 0x889, 0x88E, 0x8A0, 0x8C9, 0x904, 0x939, 0x93D, 0x93D, 0x950, 0x950,
    0x958, 0x961, 0x971, 0x980, 0x985, 0x98C, 0x98F, 0x990, 0x993, 0x9A8, 0x9AA, 0x9B0, 0x9B2,
    0x9B2, 0x9B6, 0x9B9, 0x9BD, 0x9BD, 0x9CE, 0x9CE, 0x9DC, 0x9DD, 0x9DF, 0x9E1, 0x9F0, 0x9F1,
    0x9FC, 0x9FC, 0xA05, 0xA0A, 0xA0F, 0xA10, 0xA13, 0xA28, 0xA2A, 0xA30, 0xA32, 0xA33, 0xA35,
    0xA36, 0xA38, 0xA39, 0xA59, 0xA5C, 0xA5E, 0xA5E, 0xA72, 0xA74, 0xA85, 0xA8D, 0xA8F, 0xA91,
    0xA93, 0xAA8, 0xAAA, 0xAB0, 0xAB2, 0xAB3, 0xAB5, 0xAB9, 0xABD, 0xABD, 0xAD0, 0xAD0, 0xAE0,
    0xAE1, 0xAF9, 0xAF9, 0xB05, 0xB0C, 0xB0F, 0xB10, 0xB13, 0xB28, 0xB2A, 0xB30, 0xB32, 0xB33,
    0xB35, 0xB39, 0xB3D, 0xB3D, 0xB5C, 0xB5D, 0xB5F, 0xB61, 0xB71, 0xB71, 0xB83, 0xB83, 0xB85,
    0xB8A, 0xB8E, 0xB90, 0xB92, 0xB95, 0xB99, 0xB9A, 0xB9C, 0xB9C, 0xB9E, 0xB9F, 0xBA3, 0xBA4,
    0xBA8, 0xBAA, 0xBAE, 0xBB9, 0xBD0, 0xBD0, 0xC05, 0xC0C, 0xC0E, 0xC10, 0xC12, 0xC28, 0xC2A,
    0xC39, 0xC3D, 0xC3D, 0xC58, 0xC5A, 0xC5D, 0xC5D, 0xC60, 0xC61, 0xC80, 0xC80, 0xC85, 0xC8C,
    0xC8E, 0xC90, 0xC92, 0xCA8, 0xCAA, 0xCB3, 0xCB5, 0xCB9, 0xCBD, 0xCBD, 0xCDD, 0xCDE, 0xCE0,
    0xCE1, 0xCF1, 0xCF2, 0xD04, 0xD0C, 0xD0E, 0xD10, 0xD12, 0xD3A, 0xD3D, 0xD3D, 0xD4E, 0xD4E,
    0xD54, 0xD56, 0xD5F, 0xD61, 0xD7A, 0xD7F, 0xD85, 0xD96, 0xD9A, 0xDB1, 0xDB3, 0xDBB, 0xDBD,
    0xDBD, 0xDC0, 0xDC6, 0xE01, 0xE30, 0xE32, 0xE33, 0xE40, 0xE46, 0xE81, 0xE82, 0xE84, 0xE84,
    0xE86, 0xE8A, 0xE8C, 0xEA3, 0xEA5, 0xEA5, 0xEA7, 0xEB0, 0xEB2, 0xEB3, 0xEBD, 0xEBD, 0xEC0,
    0xEC4, 0xEC6, 0xEC6, 0xEDC, 0xEDF, 0xF00, 0xF00, 0xF40, 0xF47, 0xF49, 0xF6C, 0xF88, 0xF8C,
    0x1000, 0x102A, 0x103F, 0x103F, 0x1050, 0x1055, 0x105A, 0x105D, 0x1061, 0x1061, 0x1065, 0x1066,
    0x106E, 0x1070, 0x1075, 0x1081, 0x108E, 0x108E, 0x10A0, 0x10C5, 0x10C7, 0x10C7, 0x10CD, 0x10CD,
    0x10D0, 0x10FA, 0x10FC, 0x1248, 0x124A, 0x124D, 0x1250, 0x1256, 0x1258, 0x1258, 0x125A, 0x125D,
    0x1260, 0x1288, 0x128A, 0x128D, 0x1290, 0x12B0, 0x12B2, 0x12B5, 0x12B8, 0x12BE, 0x12C0, 0x12C0,
    0x12C2, 0x12C5, 0x12C8, 0x12D6, 0x12D8, 0x1310, 0x1312, 0x1315, 0x1318, 0x135A, 0x1380, 0x138F,
    0x13A0, 0x13F5, 0x13F8, 0x13FD, 0x1401, 0x166C, 0x166F, 0x167F, 0x1681, 0x169A, 0x16A0, 0x16EA,
    0x16F1, 0x16F8, 0x1700, 0x1711, 0x171F, 0x1731, 0x1740, 0x1751, 0x1760, 0x176C, 0x176E, 0x1770,
    0x1780, 0x17B3, 0x17D7, 0x17D7, 0x17DC, 0x17DC, 0x1820, 0x1878, 0x1880, 0x1884, 0x1887, 0x18A8,
    0x18AA, 0x18AA, 0x18B0, 0x18F5, 0x1900, 0x191E, 0x1950, 0x196D, 0x1970, 0x1974, 0x1980, 0x19AB,
    0x19B0, 0x19C9, 0x1A00, 0x1A16, 0x1A20, 0x1A54, 0x1AA7, 0x1AA7, 0x1B05, 0x1B33, 0x1B45, 0x1B4C,
    0x1B83, 0x1BA0, 0x1BAE, 0x1BAF, 0x1BBA, 0x1BE5, 0x1C00, 0x1C23, 0x1C4D, 0x1C4F, 0x1C5A, 0x1C7D,
    0x1C80, 0x1C88, 0x1C90, 0x1CBA, 0x1CBD, 0x1CBF, 0x1CE9, 0x1CEC, 0x1CEE, 0x1CF3, 0x1CF5, 0x1CF6,
    0x1CFA, 0x1CFA, 0x1D00, 0x1DBF, 0x1E00, 0x1F15, 0x1F18, 0x1F1D, 0x1F20, 0x1F45, 0x1F48, 0x1F4D,
    0x1F50, 0x1F57, 0x1F59, 0x1F59, 0x1F5B, 0x1F5B, 0x1F5D, 0x1F5D, 0x1F5F, 0x1F7D, 0x1F80, 0x1FB4,
    0x1FB6, 0x1FBC, 0x1FBE, 0x1FBE, 0x1FC2, 0x1FC4, 0x1FC6, 0x1FCC, 0x1FD0, 0x1FD3, 0x1FD6, 0x1FDB,
    0x1FE0, 0x1FEC, 0x1FF2, 0x1FF4, 0x1FF6, 0x1FFC, 0x2071, 0x2071, 0x207F, 0x207F, 0x2090, 0x209C,
    0x2102, 0x2102, 0x2107, 0x2107, 0x210A, 0x2113, 0x2115, 0x2115, 0x2119, 0x211D, 0x2124, 0x2124,
    0x2126, 0x2126, 0x2128, 0x2128, 0x212A, 0x212D, 0x212F, 0x2139, 0x213C, 0x213F, 0x2145, 0x2149,
    0x214E, 0x214E, 0x2183, 0x2184, 0x2C00, 0x2CE4, 0x2CEB, 0x2CEE, 0x2CF2, 0x2CF3, 0x2D00, 0x2D25,
    0x2D27, 0x2D27, 0x2D2D, 0x2D2D, 0x2D30, 0x2D67, 0x2D6F, 0x2D6F, 0x2D80, 0x2D96, 0x2DA0, 0x2DA6,
    0x2DA8, 0x2DAE, 0x2DB0, 0x2DB6, 0x2DB8, 0x2DBE, 0x2DC0, 0x2DC6, 0x2DC8, 0x2DCE, 0x2DD0, 0x2DD6,
    0x2DD8, 0x2DDE, 0x2E2F, 0x2E2F, 0x3005, 0x3006, 0x3031, 0x3035, 0x303B, 0x303C, 0x3041, 0x3096,
    0x309D, 0x309F, 0x30A1, 0x30FA, 0x30FC, 0x30FF, 0x3105, 0x312F, 0x3131, 0x318E, 0x31A0, 0x31BF,
    0x31F0, 0x31FF, 0x3400, 0x4DBF, 0x4E00, 0xA48C, 0xA4D0, 0xA4FD, 0xA500, 0xA60C, 0xA610, 0xA61F,
    0xA62A, 0xA62B, 0xA640, 0xA66E, 0xA67F, 0xA69D, 0xA6A0, 0xA6E5, 0xA717, 0xA71F, 0xA722, 0xA788,
    0xA78B, 0xA7CA, 0xA7D0, 0xA7D1, 0xA7D3, 0xA7D3, 0xA7D5, 0xA7D9, 0xA7F2, 0xA801, 0xA803, 0xA805,
    0xA807, 0xA80A, 0xA80C, 0xA822, 0xA840, 0xA873, 0xA882, 0xA8B3, 0xA8F2, 0xA8F7, 0xA8FB, 0xA8FB,
    0xA8FD, 0xA8FE, 0xA90A, 0xA925, 0xA930, 0xA946, 0xA960, 0xA97C, 0xA984, 0xA9B2, 0xA9CF, 0xA9CF,
    0xA9E0, 0xA9E4, 0xA9E6, 0xA9EF, 0xA9FA, 0xA9FE, 0xAA00, 0xAA28, 0xAA40, 0xAA42, 0xAA44, 0xAA4B,
    0xAA60, 0xAA76, 0xAA7A, 0xAA7A, 0xAA7E, 0xAAAF, 0xAAB1, 0xAAB1, 0xAAB5, 0xAAB6, 0xAAB9, 0xAABD,
    0xAAC0, 0xAAC0, 0xAAC2, 0xAAC2, 0xAADB, 0xAADD, 0xAAE0, 0xAAEA, 0xAAF2, 0xAAF4, 0xAB01, 0xAB06,
    0xAB09, 0xAB0E, 0xAB11, 0xAB16, 0xAB20, 0xAB26, 0xAB28, 0xAB2E, 0xAB30, 0xAB5A, 0xAB5C, 0xAB69,
    0xAB70, 0xABE2, 0xAC00, 0xD7A3, 0xD7B0, 0xD7C6, 0xD7CB, 0xD7FB, 0xF900, 0xFA6D, 0xFA70, 0xFAD9,
    0xFB00, 0xFB06, 0xFB13, 0xFB17, 0xFB1D, 0xFB1D, 0xFB1F, 0xFB28, 0xFB2A, 0xFB36, 0xFB38, 0xFB3C,
    0xFB3E, 0xFB3E, 0xFB40, 0xFB41, 0xFB43, 0xFB44, 0xFB46, 0xFBB1, 0xFBD3, 0xFD3D, 0xFD50, 0xFD8F,
    0xFD92, 0xFDC7, 0xFDF0, 0xFDFB, 0xFE70, 0xFE74, 0xFE76, 0xFEFC, 0xFF21, 0xFF3A, 0xFF41, 0xFF5A,
    0xFF66, 0xFFBE, 0xFFC2, 0xFFC7, 0xFFCA, 0xFFCF, 0xFFD2, 0xFFD7, 0xFFDA, 0xFFDC, 0x10000,
    0x1000B, 0x1000D, 0x10026, 0x10028, 0x1003A, 0x1003C, 0x1003D, 0x1003F, 0x1004D, 0x10050,
    0x1005D, 0x10080, 0x100FA, 0x10280, 0x1029C, 0x102A0, 0x102D0, 0x10300, 0x1031F, 0x1032D,
    0x10340, 0x10342, 0x10349, 0x10350, 0x10375, 0x10380, 0x1039D, 0x103A0, 0x103C3, 0x103C8,
    0x103CF, 0x10400, 0x1049D, 0x104B0, 0x104D3, 0x104D8, 0x104FB, 0x10500, 0x10527, 0x10530,
    0x10563, 0x10570, 0x1057A, 0x1057C, 0x1058A, 0x1058C, 0x10592, 0x10594, 0x10595, 0x10597,
    0x105A1, 0x105A3, 0x105B1, 0x105B3, 0x105B9, 0x105BB, 0x105BC, 0x10600, 0x10736, 0x10740,
    0x10755, 0x10760, 0x10767, 0x10780, 0x10785, 0x10787, 0x107B0, 0x107B2, 0x107BA, 0x10800,
    0x10805, 0x10808, 0x10808, 0x1080A, 0x10835, 0x10837, 0x10838, 0x1083C, 0x1083C, 0x1083F,
    0x10855, 0x10860, 0x10876, 0x10880, 0x1089E, 0x108E0, 0x108F2, 0x108F4, 0x108F5, 0x10900,
    0x10915, 0x10920, 0x10939, 0x10980, 0x109B7, 0x109BE, 0x109BF, 0x10A00, 0x10A00, 0x10A10,
    0x10A13, 0x10A15, 0x10A17, 0x10A19, 0x10A35, 0x10A60, 0x10A7C, 0x10A80, 0x10A9C, 0x10AC0,
    0x10AC7, 0x10AC9, 0x10AE4, 0x10B00, 0x10B35, 0x10B40, 0x10B55, 0x10B60, 0x10B72, 0x10B80,
    0x10B91, 0x10C00, 0x10C48, 0x10C80, 0x10CB2, 0x10CC0, 0x10CF2, 0x10D00, 0x10D23, 0x10E80,
    0x10EA9, 0x10EB0, 0x10EB1, 0x10F00, 0x10F1C, 0x10F27, 0x10F27, 0x10F30, 0x10F45, 0x10F70,
    0x10F81, 0x10FB0, 0x10FC4, 0x10FE0, 0x10FF6, 0x11003, 0x11037, 0x11071, 0x11072, 0x11075,
    0x11075, 0x11083, 0x110AF, 0x110D0, 0x110E8, 0x11103, 0x11126, 0x11144, 0x11144, 0x11147,
    0x11147, 0x11150, 0x11172, 0x11176, 0x11176, 0x11183, 0x111B2, 0x111C1, 0x111C4, 0x111DA,
    0x111DA, 0x111DC, 0x111DC, 0x11200, 0x11211, 0x11213, 0x1122B, 0x1123F, 0x11240, 0x11280,
    0x11286, 0x11288, 0x11288, 0x1128A, 0x1128D, 0x1128F, 0x1129D, 0x1129F, 0x112A8, 0x112B0,
    0x112DE, 0x11305, 0x1130C, 0x1130F, 0x11310, 0x11313, 0x11328, 0x1132A, 0x11330, 0x11332,
    0x11333, 0x11335, 0x11339, 0x1133D, 0x1133D, 0x11350, 0x11350, 0x1135D, 0x11361, 0x11400,
    0x11434, 0x11447, 0x1144A, 0x1145F, 0x11461, 0x11480, 0x114AF, 0x114C4, 0x114C5, 0x114C7,
    0x114C7, 0x11580, 0x115AE, 0x115D8, 0x115DB, 0x11600, 0x1162F, 0x11644, 0x11644, 0x11680,
    0x116AA, 0x116B8, 0x116B8, 0x11700, 0x1171A, 0x11740, 0x11746, 0x11800, 0x1182B, 0x118A0,
    0x118DF, 0x118FF, 0x11906, 0x11909, 0x11909, 0x1190C, 0x11913, 0x11915, 0x11916, 0x11918,
    0x1192F, 0x1193F, 0x1193F, 0x11941, 0x11941, 0x119A0, 0x119A7, 0x119AA, 0x119D0, 0x119E1,
    0x119E1, 0x119E3, 0x119E3, 0x11A00, 0x11A00, 0x11A0B, 0x11A32, 0x11A3A, 0x11A3A, 0x11A50,
    0x11A50, 0x11A5C, 0x11A89, 0x11A9D, 0x11A9D, 0x11AB0, 0x11AF8, 0x11C00, 0x11C08, 0x11C0A,
    0x11C2E, 0x11C40, 0x11C40, 0x11C72, 0x11C8F, 0x11D00, 0x11D06, 0x11D08, 0x11D09, 0x11D0B,
    0x11D30, 0x11D46, 0x11D46, 0x11D60, 0x11D65, 0x11D67, 0x11D68, 0x11D6A, 0x11D89, 0x11D98,
    0x11D98, 0x11EE0, 0x11EF2, 0x11F02, 0x11F02, 0x11F04, 0x11F10, 0x11F12, 0x11F33, 0x11FB0,
    0x11FB0, 0x12000, 0x12399, 0x12480, 0x12543, 0x12F90, 0x12FF0, 0x13000, 0x1342F, 0x13441,
    0x13446, 0x14400, 0x14646, 0x16800, 0x16A38, 0x16A40, 0x16A5E, 0x16A70, 0x16ABE, 0x16AD0,
    0x16AED, 0x16B00, 0x16B2F, 0x16B40, 0x16B43, 0x16B63, 0x16B77, 0x16B7D, 0x16B8F, 0x16E40,
    0x16E7F, 0x16F00, 0x16F4A, 0x16F50, 0x16F50, 0x16F93, 0x16F9F, 0x16FE0, 0x16FE1, 0x16FE3,
    0x16FE3, 0x17000, 0x187F7, 0x18800, 0x18CD5, 0x18D00, 0x18D08, 0x1AFF0, 0x1AFF3, 0x1AFF5,
    0x1AFFB, 0x1AFFD, 0x1AFFE, 0x1B000, 0x1B122, 0x1B132, 0x1B132, 0x1B150, 0x1B152, 0x1B155,
    0x1B155, 0x1B164, 0x1B167, 0x1B170, 0x1B2FB, 0x1BC00, 0x1BC6A, 0x1BC70, 0x1BC7C, 0x1BC80,
    0x1BC88, 0x1BC90, 0x1BC99, 0x1D400, 0x1D454, 0x1D456, 0x1D49C, 0x1D49E, 0x1D49F, 0x1D4A2,
    0x1D4A2, 0x1D4A5, 0x1D4A6, 0x1D4A9, 0x1D4AC, 0x1D4AE, 0x1D4B9, 0x1D4BB, 0x1D4BB, 0x1D4BD,
    0x1D4C3, 0x1D4C5, 0x1D505, 0x1D507, 0x1D50A, 0x1D50D, 0x1D514, 0x1D516, 0x1D51C, 0x1D51E,
    0x1D539, 0x1D53B, 0x1D53E, 0x1D540, 0x1D544, 0x1D546, 0x1D546, 0x1D54A, 0x1D550, 0x1D552,
    0x1D6A5, 0x1D6A8, 0x1D6C0, 0x1D6C2, 0x1D6DA, 0x1D6DC, 0x1D6FA, 0x1D6FC, 0x1D714, 0x1D716,
    0x1D734, 0x1D736, 0x1D74E, 0x1D750, 0x1D76E, 0x1D770, 0x1D788, 0x1D78A, 0x1D7A8, 0x1D7AA,
    0x1D7C2, 0x1D7C4, 0x1D7CB, 0x1DF00, 0x1DF1E, 0x1DF25, 0x1DF2A, 0x1E030, 0x1E06D, 0x1E100,
    0x1E12C, 0x1E137, 0x1E13D, 0x1E14E, 0x1E14E, 0x1E290, 0x1E2AD, 0x1E2C0, 0x1E2EB, 0x1E4D0,
    0x1E4EB, 0x1E7E0, 0x1E7E6, 0x1E7E8, 0x1E7EB, 0x1E7ED, 0x1E7EE, 0x1E7F0, 0x1E7FE, 0x1E800,
    0x1E8C4, 0x1E900, 0x1E943, 0x1E94B, 0x1E94B, 0x1EE00, 0x1EE03, 0x1EE05, 0x1EE1F, 0x1EE21,
    0x1EE22, 0x1EE24, 0x1EE24, 0x1EE27, 0x1EE27, 0x1EE29, 0x1EE32, 0x1EE34, 0x1EE37, 0x1EE39,
    0x1EE39, 0x1EE3B, 0x1EE3B, 0x1EE42, 0x1EE42, 0x1EE47, 0x1EE47, 0x1EE49, 0x1EE49, 0x1EE4B,
    0x1EE4B, 0x1EE4D, 0x1EE4F, 0x1EE51, 0x1EE52, 0x1EE54, 0x1EE54, 0x1EE57, 0x1EE57, 0x1EE59,
    0x1EE59, 0x1EE5B, 0x1EE5B, 0x1EE5D, 0x1EE5D, 0x1EE5F, 0x1EE5F, 0x1EE61, 0x1EE62, 0x1EE64,
    0x1EE64, 0x1EE67, 0x1EE6A, 0x1EE6C, 0x1EE72, 0x1EE74, 0x1EE77, 0x1EE79, 0x1EE7C, 0x1EE7E,
    0x1EE7E, 0x1EE80, 0x1EE89, 0x1EE8B, 0x1EE9B, 0x1EEA1, 0x1EEA3, 0x1EEA5, 0x1EEA9, 0x1EEAB,
    0x1EEBB, 0x20000, 0x2A6DF, 0x2A700, 0x2B739, 0x2B740, 0x2B81D, 0x2B820, 0x2CEA1, 0x2CEB0,
    0x2EBE0, 0x2F800, 0x2FA1D, 0x30000, 0x3134A, 0x31350, 0x323AF,
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    /// module_test.go `checkTests`.
    const CHECK_TESTS: &[(&str, &str, bool)] = &[
        ("rsc.io/quote", "0.1.0", false),
        ("rsc io/quote", "v1.0.0", false),
        ("github.com/go-yaml/yaml", "v0.8.0", true),
        ("github.com/go-yaml/yaml", "v1.0.0", true),
        ("github.com/go-yaml/yaml", "v2.0.0", false),
        ("github.com/go-yaml/yaml", "v2.1.5", false),
        ("github.com/go-yaml/yaml", "v3.0.0", false),
        ("github.com/go-yaml/yaml/v2", "v1.0.0", false),
        ("github.com/go-yaml/yaml/v2", "v2.0.0", true),
        ("github.com/go-yaml/yaml/v2", "v2.1.5", true),
        ("github.com/go-yaml/yaml/v2", "v3.0.0", false),
        ("gopkg.in/yaml.v0", "v0.8.0", true),
        ("gopkg.in/yaml.v0", "v1.0.0", false),
        ("gopkg.in/yaml.v0", "v2.0.0", false),
        ("gopkg.in/yaml.v0", "v2.1.5", false),
        ("gopkg.in/yaml.v0", "v3.0.0", false),
        ("gopkg.in/yaml.v1", "v0.8.0", false),
        ("gopkg.in/yaml.v1", "v1.0.0", true),
        ("gopkg.in/yaml.v1", "v2.0.0", false),
        ("gopkg.in/yaml.v1", "v2.1.5", false),
        ("gopkg.in/yaml.v1", "v3.0.0", false),
        // For gopkg.in, .v1 means v1 only (not v0), but early vgo generated v0
        // pseudo-versions for it, which are still accepted.
        ("gopkg.in/check.v1", "v0.0.0", false),
        (
            "gopkg.in/check.v1",
            "v0.0.0-20160102150405-abcdef123456",
            true,
        ),
        ("gopkg.in/yaml.v2", "v1.0.0", false),
        ("gopkg.in/yaml.v2", "v2.0.0", true),
        ("gopkg.in/yaml.v2", "v2.1.5", true),
        ("gopkg.in/yaml.v2", "v3.0.0", false),
        ("rsc.io/quote", "v17.0.0", false),
        ("rsc.io/quote", "v17.0.0+incompatible", true),
    ];

    /// module_test.go `checkPathTests`: (path, module ok, import ok, file ok).
    /// Go's `{"x.y/\xFFz", false, false, false}` is omitted: invalid UTF-8 cannot be
    /// a `&str`, so that case never reaches these functions (see the module docs).
    const CHECK_PATH_TESTS: &[(&str, bool, bool, bool)] = &[
        ("x.y/z", true, true, true),
        ("x.y", true, true, true),
        ("", false, false, false),
        ("/x.y/z", false, false, false),
        ("x./z", false, false, false),
        (".x/z", false, true, true),
        ("-x/z", false, false, true),
        ("x..y/z", true, true, true),
        ("x.y/z/../../w", false, false, false),
        ("x.y//z", false, false, false),
        ("x.y/z//w", false, false, false),
        ("x.y/z/", false, false, false),
        ("x.y/z/v0", false, true, true),
        ("x.y/z/v1", false, true, true),
        ("x.y/z/v2", true, true, true),
        ("x.y/z/v2.0", false, true, true),
        ("X.y/z", false, true, true),
        ("!x.y/z", false, false, true),
        ("_x.y/z", false, true, true),
        ("x.y!/z", false, false, true),
        ("x.y\"/z", false, false, false),
        ("x.y#/z", false, false, true),
        ("x.y$/z", false, false, true),
        ("x.y%/z", false, false, true),
        ("x.y&/z", false, false, true),
        ("x.y'/z", false, false, false),
        ("x.y(/z", false, false, true),
        ("x.y)/z", false, false, true),
        ("x.y*/z", false, false, false),
        ("x.y+/z", false, true, true),
        ("x.y,/z", false, false, true),
        ("x.y-/z", true, true, true),
        ("x.y./zt", false, false, false),
        ("x.y:/z", false, false, false),
        ("x.y;/z", false, false, false),
        ("x.y</z", false, false, false),
        ("x.y=/z", false, false, true),
        ("x.y>/z", false, false, false),
        ("x.y?/z", false, false, false),
        ("x.y@/z", false, false, true),
        ("x.y[/z", false, false, true),
        ("x.y\\/z", false, false, false),
        ("x.y]/z", false, false, true),
        ("x.y^/z", false, false, true),
        ("x.y_/z", false, true, true),
        ("x.y`/z", false, false, false),
        ("x.y{/z", false, false, true),
        ("x.y}/z", false, false, true),
        ("x.y~/z", false, true, true),
        ("x.y/z!", false, false, true),
        ("x.y/z\"", false, false, false),
        ("x.y/z#", false, false, true),
        ("x.y/z$", false, false, true),
        ("x.y/z%", false, false, true),
        ("x.y/z&", false, false, true),
        ("x.y/z'", false, false, false),
        ("x.y/z(", false, false, true),
        ("x.y/z)", false, false, true),
        ("x.y/z*", false, false, false),
        ("x.y/z++", false, true, true),
        ("x.y/z,", false, false, true),
        ("x.y/z-", true, true, true),
        ("x.y/z.t", true, true, true),
        ("x.y/z/t", true, true, true),
        ("x.y/z:", false, false, false),
        ("x.y/z;", false, false, false),
        ("x.y/z<", false, false, false),
        ("x.y/z=", false, false, true),
        ("x.y/z>", false, false, false),
        ("x.y/z?", false, false, false),
        ("x.y/z@", false, false, true),
        ("x.y/z[", false, false, true),
        ("x.y/z\\", false, false, false),
        ("x.y/z]", false, false, true),
        ("x.y/z^", false, false, true),
        ("x.y/z_", true, true, true),
        ("x.y/z`", false, false, false),
        ("x.y/z{", false, false, true),
        ("x.y/z}", false, false, true),
        ("x.y/z~", true, true, true),
        ("x.y/x.foo", true, true, true),
        ("x.y/aux.foo", false, false, false),
        ("x.y/prn", false, false, false),
        ("x.y/prn2", true, true, true),
        ("x.y/com", true, true, true),
        ("x.y/com1", false, false, false),
        ("x.y/com1.txt", false, false, false),
        ("x.y/calm1", true, true, true),
        ("x.y/z~", true, true, true),
        ("x.y/z~0", false, false, true),
        ("x.y/z~09", false, false, true),
        ("x.y/z09", true, true, true),
        ("x.y/z09~", true, true, true),
        ("x.y/z09~09z", true, true, true),
        ("x.y/z09~09z~09", false, false, true),
        ("github.com/!123/logrus", false, false, true),
        // Non-ASCII is disallowed in module and import paths for now.
        ("github.com/user/unicode/испытание", false, false, true),
        ("../x", false, false, false),
        ("./y", false, false, false),
        ("x:y", false, false, false),
        ("\\temp\\foo", false, false, false),
        (".gitignore", false, true, true),
        (".github/ISSUE_TEMPLATE", false, true, true),
        ("x☺y", false, false, false),
    ];

    /// module_test.go `splitPathVersionTests`: (prefix, pathMajor).
    const SPLIT_PATH_VERSION_TESTS: &[(&str, &str)] = &[
        ("x.y/z", ""),
        ("x.y/z", "/v2"),
        ("x.y/z", "/v3"),
        ("x.y/v", ""),
        ("gopkg.in/yaml", ".v0"),
        ("gopkg.in/yaml", ".v1"),
        ("gopkg.in/yaml", ".v2"),
        ("gopkg.in/yaml", ".v3"),
    ];

    /// module_test.go `escapeTests`: (path, escaped; "" means same as path).
    const ESCAPE_TESTS: &[(&str, &str)] = &[
        ("ascii.com/abcdefghijklmnopqrstuvwxyz.-/~_0123456789", ""),
        (
            "github.com/GoogleCloudPlatform/omega",
            "github.com/!google!cloud!platform/omega",
        ),
    ];

    /// module_test.go `badUnescape`.
    const BAD_UNESCAPE: &[&str] = &[
        "github.com/GoogleCloudPlatform/omega",
        "github.com/!google!cloud!platform!/omega",
        "github.com/!0google!cloud!platform/omega",
        "github.com/!_google!cloud!platform/omega",
        "github.com/!!google!cloud!platform/omega",
        "",
    ];

    #[test]
    fn check_vectors() {
        for &(path, version, ok) in CHECK_TESTS {
            assert_eq!(
                check(path, version).is_ok(),
                ok,
                "check({path:?}, {version:?})"
            );
        }
    }

    #[test]
    fn check_path_vectors() {
        for &(path, ok, import_ok, file_ok) in CHECK_PATH_TESTS {
            assert_eq!(check_path(path).is_ok(), ok, "check_path({path:?})");
            assert_eq!(
                check_import_path(path).is_ok(),
                import_ok,
                "check_import_path({path:?})"
            );
            assert_eq!(
                check_file_path(path).is_ok(),
                file_ok,
                "check_file_path({path:?})"
            );
        }
    }

    #[test]
    fn split_path_version_vectors() {
        for &(prefix, major) in SPLIT_PATH_VERSION_TESTS {
            let path = format!("{prefix}{major}");
            assert_eq!(
                split_path_version(&path),
                Some((prefix, major)),
                "split_path_version({path:?})"
            );
        }
        for &(path, ..) in CHECK_PATH_TESTS {
            if let Some((prefix, major)) = split_path_version(path) {
                assert_eq!(format!("{prefix}{major}"), path, "doesn't add to input");
            }
        }
    }

    #[test]
    fn escape_path_vectors() {
        for &(path, ok, ..) in CHECK_PATH_TESTS {
            if !ok {
                assert!(
                    escape_path(path).is_err(),
                    "escape_path({path:?}) succeeded"
                );
            }
        }
        for &(path, esc) in ESCAPE_TESTS {
            let want = if esc.is_empty() { path } else { esc };
            assert_eq!(
                escape_path(path).as_deref(),
                Ok(want),
                "escape_path({path:?})"
            );
        }
    }

    #[test]
    fn unescape_path_vectors() {
        for &bad in BAD_UNESCAPE {
            assert!(
                unescape_path(bad).is_err(),
                "unescape_path({bad:?}) succeeded"
            );
        }
        for &(path, ok, ..) in CHECK_PATH_TESTS {
            if !ok {
                assert!(
                    unescape_path(path).is_err(),
                    "unescape_path({path:?}) succeeded"
                );
            }
        }
        for &(path, esc) in ESCAPE_TESTS {
            let esc = if esc.is_empty() { path } else { esc };
            assert_eq!(
                unescape_path(esc).as_deref(),
                Ok(path),
                "unescape_path({esc:?})"
            );
        }
    }

    #[test]
    fn match_path_major_vectors() {
        for &(v, path_major, want) in &[
            ("v0.0.0", "", true),
            ("v0.0.0", "/v2", false),
            ("v0.0.0", ".v0", true),
            ("v0.0.0-20190510104115-cbcb75029529", ".v1", true),
            ("v1.0.0", "/v2", false),
            ("v1.0.0", ".v1", true),
            ("v1.0.0", ".v1-unstable", true),
            ("v2.0.0+incompatible", "", true),
            ("v2.0.0", "", false),
            ("v2.0.0", "/v2", true),
            ("v2.0.0", ".v2", true),
        ] {
            assert_eq!(
                match_path_major(v, path_major),
                want,
                "match_path_major({v:?}, {path_major:?})"
            );
        }
    }

    #[test]
    fn match_prefix_patterns_vectors() {
        for &(globs, target, want) in &[
            ("", "rsc.io/quote", false),
            ("/", "rsc.io/quote", false),
            ("*/quote", "rsc.io/quote", true),
            ("*/quo", "rsc.io/quote", false),
            ("*/quo??", "rsc.io/quote", true),
            ("*/quo*", "rsc.io/quote", true),
            ("*quo*", "rsc.io/quote", false),
            ("rsc.io", "rsc.io/quote", true),
            ("*.io", "rsc.io/quote", true),
            ("rsc.io/", "rsc.io/quote", true),
            ("rsc", "rsc.io/quote", false),
            ("rsc*", "rsc.io/quote", true),
            ("rsc.io", "rsc.io/quote/v3", true),
            ("*/quote", "rsc.io/quote/v3", true),
            ("*/quote/", "rsc.io/quote/v3", true),
            ("*/quote/*", "rsc.io/quote/v3", true),
            ("*/quote/*/", "rsc.io/quote/v3", true),
            ("*/v3", "rsc.io/quote/v3", false),
            ("*/*/v3", "rsc.io/quote/v3", true),
            ("*/*/*", "rsc.io/quote/v3", true),
            ("*/*/*/", "rsc.io/quote/v3", true),
            ("*/*/*", "rsc.io/quote", false),
            ("*/*/*/", "rsc.io/quote", false),
            ("*/*/*,,", "rsc.io/quote", false),
            ("*/*/*,,*/quote", "rsc.io/quote", true),
            (",,*/quote", "rsc.io/quote", true),
        ] {
            assert_eq!(
                match_prefix_patterns(globs, target),
                want,
                "match_prefix_patterns({globs:?}, {target:?})"
            );
        }
    }

    /// Go's path/match_test.go `matchTests`: (pattern, name, match, bad pattern).
    #[test]
    fn path_match_vectors() {
        for &(pattern, name, want, bad) in &[
            ("abc", "abc", true, false),
            ("*", "abc", true, false),
            ("*c", "abc", true, false),
            ("a*", "a", true, false),
            ("a*", "abc", true, false),
            ("a*", "ab/c", false, false),
            ("a*/b", "abc/b", true, false),
            ("a*/b", "a/c/b", false, false),
            ("a*b*c*d*e*/f", "axbxcxdxe/f", true, false),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true, false),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false, false),
            ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", false, false),
            ("a*b?c*x", "abxbbxdbxebxczzx", true, false),
            ("a*b?c*x", "abxbbxdbxebxczzy", false, false),
            ("ab[c]", "abc", true, false),
            ("ab[b-d]", "abc", true, false),
            ("ab[e-g]", "abc", false, false),
            ("ab[^c]", "abc", false, false),
            ("ab[^b-d]", "abc", false, false),
            ("ab[^e-g]", "abc", true, false),
            ("a\\*b", "a*b", true, false),
            ("a\\*b", "ab", false, false),
            ("a?b", "a☺b", true, false),
            ("a[^a]b", "a☺b", true, false),
            ("a???b", "a☺b", false, false),
            ("a[^a][^a][^a]b", "a☺b", false, false),
            ("[a-ζ]*", "α", true, false),
            ("*[a-ζ]", "A", false, false),
            ("a?b", "a/b", false, false),
            ("a*b", "a/b", false, false),
            ("[\\]a]", "]", true, false),
            ("[\\-]", "-", true, false),
            ("[x\\-]", "x", true, false),
            ("[x\\-]", "-", true, false),
            ("[x\\-]", "z", false, false),
            ("[\\-x]", "x", true, false),
            ("[\\-x]", "-", true, false),
            ("[\\-x]", "a", false, false),
            ("[]a]", "]", false, true),
            ("[-]", "-", false, true),
            ("[x-]", "x", false, true),
            ("[x-]", "-", false, true),
            ("[x-]", "z", false, true),
            ("[-x]", "x", false, true),
            ("[-x]", "-", false, true),
            ("[-x]", "a", false, true),
            ("\\", "a", false, true),
            ("[a-b-c]", "a", false, true),
            ("[", "a", false, true),
            ("[^", "a", false, true),
            ("[^bc", "a", false, true),
            ("a[", "a", false, true),
            ("a[", "ab", false, true),
            ("a[", "x", false, true),
            ("a/b[", "x", false, true),
            ("*x", "xxx", true, false),
        ] {
            let want = if bad { Err(BadPattern) } else { Ok(want) };
            assert_eq!(
                path_match(pattern, name),
                want,
                "path_match({pattern:?}, {name:?})"
            );
        }
    }

    /// pseudo_test.go `pseudoTests`: (major, older, version).
    const PSEUDO_TESTS: &[(&str, &str, &str)] = &[
        ("", "", "v0.0.0-20060102150405-hash"),
        ("v0", "", "v0.0.0-20060102150405-hash"),
        ("v1", "", "v1.0.0-20060102150405-hash"),
        ("v2", "", "v2.0.0-20060102150405-hash"),
        ("unused", "v0.0.0", "v0.0.1-0.20060102150405-hash"),
        ("unused", "v1.2.3", "v1.2.4-0.20060102150405-hash"),
        (
            "unused",
            "v1.2.99999999999999999",
            "v1.2.100000000000000000-0.20060102150405-hash",
        ),
        ("unused", "v1.2.3-pre", "v1.2.3-pre.0.20060102150405-hash"),
        ("unused", "v1.3.0-pre", "v1.3.0-pre.0.20060102150405-hash"),
        ("unused", "v0.0.0--", "v0.0.0--.0.20060102150405-hash"),
        (
            "unused",
            "v1.0.0+metadata",
            "v1.0.1-0.20060102150405-hash+metadata",
        ),
        (
            "unused",
            "v2.0.0+incompatible",
            "v2.0.1-0.20060102150405-hash+incompatible",
        ),
        (
            "unused",
            "v2.3.0-pre+incompatible",
            "v2.3.0-pre.0.20060102150405-hash+incompatible",
        ),
    ];

    const PSEUDO_TIME: PseudoTime = PseudoTime {
        year: 2006,
        month: 1,
        day: 2,
        hour: 15,
        minute: 4,
        second: 5,
    };

    #[test]
    fn pseudo_version_vectors() {
        for &(major, older, version) in PSEUDO_TESTS {
            assert_eq!(
                pseudo_version(major, older, PSEUDO_TIME, "hash"),
                version,
                "pseudo_version({major:?}, {older:?})"
            );
        }
    }

    #[test]
    fn is_pseudo_version_vectors() {
        for &(_, older, version) in PSEUDO_TESTS {
            assert!(is_pseudo_version(version), "{version:?}");
            assert!(!is_pseudo_version(older), "{older:?}");
        }
    }

    #[test]
    fn pseudo_version_time_vectors() {
        for &(_, older, version) in PSEUDO_TESTS {
            assert_eq!(pseudo_version_time(version), Ok(PSEUDO_TIME), "{version:?}");
            assert!(pseudo_version_time(older).is_err(), "{older:?}");
        }
        // TestInvalidPseudoVersionTime.
        assert!(pseudo_version_time("---").is_err());
        assert_eq!(PSEUDO_TIME.unix_seconds(), 1_136_214_245);
        assert_eq!(PseudoTime::ZERO.unix_seconds(), -62_135_596_800);
        assert_eq!(PSEUDO_TIME.to_string(), "2006-01-02T15:04:05Z");
    }

    #[test]
    fn pseudo_version_rev_vectors() {
        for &(_, older, version) in PSEUDO_TESTS {
            assert_eq!(pseudo_version_rev(version), Ok("hash"), "{version:?}");
            assert!(pseudo_version_rev(older).is_err(), "{older:?}");
        }
    }

    #[test]
    fn pseudo_version_base_vectors() {
        for &(_, older, version) in PSEUDO_TESTS {
            let want = (!older.is_empty()).then(|| older.to_string());
            assert_eq!(pseudo_version_base(version), Ok(want), "{version:?}");
        }
        // TestInvalidPseudoVersionBase.
        for v in [
            "v0.0.0",
            "v0.0.0-",                                 // malformed: empty prerelease
            "v0.0.0-0.20060102150405-hash",            // Z+1 == 0
            "v0.1.0-0.20060102150405-hash",            // Z+1 == 0
            "v1.0.0-0.20060102150405-hash",            // Z+1 == 0
            "v0.0.0-20060102150405-hash+incompatible", // +incompatible without base version
            "v0.0.0-20060102150405-hash+metadata",     // other metadata without base version
        ] {
            assert!(pseudo_version_base(v).is_err(), "{v:?}");
        }
    }

    #[test]
    fn inc_dec_decimal() {
        for (input, want) in [
            ("0", "1"),
            ("1", "2"),
            ("99", "100"),
            ("100", "101"),
            ("101", "102"),
        ] {
            assert_eq!(inc_decimal(input), want, "inc_decimal({input:?})");
        }
        for (input, want) in [
            ("", None),
            ("0", None),
            ("00", None),
            ("1", Some("0")),
            ("2", Some("1")),
            ("99", Some("98")),
            ("100", Some("99")),
            ("101", Some("100")),
        ] {
            assert_eq!(
                dec_decimal(input).as_deref(),
                want,
                "dec_decimal({input:?})"
            );
        }
    }

    #[test]
    fn error_messages() {
        let msg = |r: Result<(), ModuleError>| r.unwrap_err().to_string();
        assert_eq!(
            msg(check_path("x")),
            r#"malformed module path "x": missing dot in first path element"#
        );
        assert_eq!(
            msg(check("rsc.io/quote", "v2.0.0")),
            "rsc.io/quote@v2.0.0: invalid version: should be v0 or v1, not v2"
        );
        assert_eq!(
            msg(check_path_major("v1.0.0", "/v2")),
            r#"version "v1.0.0" invalid: should be v2, not v1"#
        );
        assert_eq!(
            msg(check_file_path("a/\u{7f}")),
            r#"malformed file path "a/\x7f": invalid char '\x7f'"#
        );
        assert_eq!(
            unescape_path("x.y/!").unwrap_err().to_string(),
            r#"invalid escaped module path "x.y/!""#
        );
        assert_eq!(
            unescape_version("v1/x").unwrap_err().to_string(),
            r#"invalid escaped version "v1/x": invalid char '/'"#
        );
        assert_eq!(
            pseudo_version_base("v1.0.0-0.20060102150405-hash")
                .unwrap_err()
                .to_string(),
            r#"pseudo-version "v1.0.0-0.20060102150405-hash" invalid: version before v1.0.0 would have negative patch number"#
        );
        // ModuleError's other two forms.
        let inner = ModuleError::InvalidEscapedVersion {
            version: "x".into(),
            reason: None,
        };
        let with_version = ModuleError::Module {
            path: "a.b/c".into(),
            version: "v1.0.0".into(),
            err: Box::new(inner.clone()),
        };
        assert_eq!(
            with_version.to_string(),
            r#"a.b/c@v1.0.0: invalid escaped version "x""#
        );
        let without = ModuleError::Module {
            path: "a.b/c".into(),
            version: String::new(),
            err: Box::new(inner),
        };
        assert_eq!(
            without.to_string(),
            r#"module a.b/c: invalid escaped version "x""#
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(
            quote("\x07\x08\x0c\n\r\t\x0b\x00\x1f\x7f"),
            r#""\a\b\f\n\r\t\v\x00\x1f\x7f""#
        );
        assert_eq!(quote("é☺\u{301}中😀"), "\"é☺\u{301}中😀\"");
        assert_eq!(
            quote("\u{a0}\u{200b}\u{2028}\u{e000}\u{e0001}\u{ad}"),
            r#""\u00a0\u200b\u2028\ue000\U000e0001\u00ad""#
        );
        assert_eq!(quote_rune('\''), r"'\''");
        assert_eq!(quote_rune('"'), "'\"'");
        assert_eq!(quote_rune('\u{301}'), "'\u{301}'");
    }

    /// The embedded letter table is sorted, non-overlapping and gives Go's answers
    /// where Rust's `is_alphabetic` differs.
    #[test]
    fn letter_table() {
        let (ranges, rest) = LETTER_RANGES.as_chunks::<2>();
        assert!(rest.is_empty());
        assert!(
            ranges
                .windows(2)
                .all(|w| w[0][0] <= w[0][1] && w[0][1] + 1 < w[1][0])
        );
        for c in ['é', 'я', 'ǅ', 'ʰ', '中', 'ſ', 'İ', 'ª'] {
            assert!(is_letter(c), "{c:?}");
        }
        // Vowel sign, roman numeral, circled letter (all alphabetic in Rust), marks,
        // digits, symbols, spaces.
        for c in [
            '\u{93e}',
            'Ⅰ',
            'Ⓐ',
            '\u{301}',
            '٣',
            '☺',
            '\u{a0}',
            '\u{345}',
            '\u{10ffff}',
        ] {
            assert!(!is_letter(c), "{c:?}");
        }
    }

    /// Property: escaping is a bijection between valid paths/versions and their
    /// escaped forms: round trips succeed, and every accepted escaped spelling is the
    /// canonical one (no two spellings for one module).
    #[test]
    fn escape_round_trip() {
        let mut paths: Vec<String> = CHECK_PATH_TESTS
            .iter()
            .map(|t| t.0.to_string())
            .chain(ESCAPE_TESTS.iter().map(|t| t.0.to_string()))
            .chain(golden_lines().into_iter().map(|l| l.1))
            .collect();
        paths.extend(
            [
                "A.b/C",
                "a.b/ZZ/v2",
                "gopkg.in/Yaml.v2",
                "github.com/Sirupsen/logrus",
            ]
            .map(String::from),
        );
        let mut valid = 0;
        for p in &paths {
            if check_path(p).is_ok() {
                valid += 1;
                let esc = escape_path(p).unwrap();
                assert!(!esc.bytes().any(|b| b.is_ascii_uppercase()), "{esc:?}");
                assert_eq!(unescape_path(&esc).as_deref(), Ok(p.as_str()), "{p:?}");
            }
            if let Ok(dec) = unescape_path(p) {
                assert_eq!(escape_path(&dec).as_deref(), Ok(p.as_str()), "{p:?}");
            }
            // Same for versions, which only need to be file-name elements.
            if let Ok(esc) = escape_version(p) {
                assert_eq!(unescape_version(&esc).as_deref(), Ok(p.as_str()), "{p:?}");
            }
            if let Ok(dec) = unescape_version(p) {
                assert_eq!(escape_version(&dec).as_deref(), Ok(p.as_str()), "{p:?}");
            }
        }
        assert!(valid > 30, "too few valid paths: {valid}");
        for v in [
            "v1.0.0",
            "v1.0.0-RC1",
            "master",
            "v2.0.0+incompatible",
            "V1",
        ] {
            let esc = escape_version(v).unwrap();
            assert_eq!(unescape_version(&esc).as_deref(), Ok(v));
        }
        assert_eq!(escape_version("v1.0.0-RC1").as_deref(), Ok("v1.0.0-!r!c1"));
    }

    /// Property: the hand-written pseudo-version matcher agrees with a brute-force
    /// backtracking reading of the regexp on many generated strings.
    #[test]
    fn pseudo_re_matches_brute_force() {
        fn brute(v: &str) -> bool {
            // Try every split for `([^+]*\.)?0\.` in alternative 2.
            let Some(rest) = v.strip_prefix('v').and_then(skip_digits) else {
                return false;
            };
            let Some(rest) = rest.strip_prefix('.') else {
                return false;
            };
            if rest.strip_prefix("0.0-").is_some_and(matches_pseudo_tail) {
                return true;
            }
            let Some(s) = skip_digits(rest)
                .and_then(|r| r.strip_prefix('.'))
                .and_then(skip_digits)
                .and_then(|r| r.strip_prefix('-'))
            else {
                return false;
            };
            (0..=s.len()).any(|p| {
                let (g, t) = s.split_at(p);
                (g.is_empty() || (g.ends_with('.') && !g.contains('+')))
                    && t.strip_prefix("0.").is_some_and(matches_pseudo_tail)
            })
        }
        let pieces = [
            "0",
            ".",
            "-",
            "0.",
            "0.0-",
            "20060102150405",
            "-abc",
            "+x",
            "+",
            "pre.",
            "1",
            "a-b",
            ".x",
        ];
        // Every sequence of up to 4 pieces after each prefix.
        let mut n = 0;
        let mut stack: Vec<(String, usize)> = ["v1.2.3-", "v0.", "v1.2.", "v"]
            .iter()
            .map(|p| (p.to_string(), 0))
            .collect();
        while let Some((s, depth)) = stack.pop() {
            assert_eq!(matches_pseudo_version_re(&s), brute(&s), "{s:?}");
            n += 1;
            if depth < 4 {
                for p in pieces {
                    stack.push((format!("{s}{p}"), depth + 1));
                }
            }
        }
        assert!(n > 10_000);
    }

    // ------------------------------------------------------------------
    // Differential test against golden output of the real Go code.
    // ------------------------------------------------------------------

    /// Decodes the `\\` and `\xNN` escapes of golden.tsv fields.
    fn unescape_tsv(field: &str) -> String {
        let b = field.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            match (b[i], b.get(i + 1)) {
                (b'\\', Some(b'\\')) => {
                    out.push(b'\\');
                    i += 2;
                }
                (b'\\', Some(b'x')) => {
                    let hex = std::str::from_utf8(&b[i + 2..i + 4]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 4;
                }
                (c, _) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        String::from_utf8(out).unwrap()
    }

    /// (function, arg1, arg2, result) rows of testdata/xmod/module/golden.tsv.
    fn golden_lines() -> Vec<(String, String, String, String)> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/testdata/xmod/module/golden.tsv"
        );
        let text = std::fs::read_to_string(path).unwrap();
        text.lines()
            .map(|line| {
                let f: Vec<&str> = line.split('\t').collect();
                assert_eq!(f.len(), 4, "bad golden line {line:?}");
                (
                    f[0].to_string(),
                    unescape_tsv(f[1]),
                    unescape_tsv(f[2]),
                    unescape_tsv(f[3]),
                )
            })
            .collect()
    }

    fn unit(r: Result<(), ModuleError>) -> String {
        r.map_or_else(|e| format!("err:{e}"), |()| "ok".to_string())
    }

    fn string<S: AsRef<str>>(r: Result<S, ModuleError>) -> String {
        r.map_or_else(|e| format!("err:{e}"), |s| format!("={}", s.as_ref()))
    }

    fn value(s: Option<impl AsRef<str>>) -> String {
        format!("={}", s.as_ref().map_or("", AsRef::as_ref))
    }

    fn go_cmp(o: Ordering) -> String {
        (o as i8).to_string()
    }

    #[test]
    fn golden_differential() {
        let lines = golden_lines();
        let mut failures = Vec::new();
        let mut seen = std::collections::BTreeMap::new();
        for (func, a, b, want) in &lines {
            *seen.entry(func.as_str()).or_insert(0) += 1;
            let got = match func.as_str() {
                "CheckPath" => unit(check_path(a)),
                "CheckImportPath" => unit(check_import_path(a)),
                "CheckFilePath" => unit(check_file_path(a)),
                "SplitPathVersion" => split_path_version(a)
                    .map_or_else(|| "false".to_string(), |(p, m)| format!("={p}|{m}")),
                "EscapePath" => string(escape_path(a)),
                "UnescapePath" => string(unescape_path(a)),
                "EscapeVersion" => string(escape_version(a)),
                "UnescapeVersion" => string(unescape_version(a)),
                "IsValid" => semver::is_valid(a).to_string(),
                "Canonical" => value(semver::canonical(a)),
                "Major" => value(semver::major(a)),
                "MajorMinor" => value(semver::major_minor(a)),
                "Prerelease" => format!("={}", semver::prerelease(a)),
                "Build" => format!("={}", semver::build(a)),
                "CanonicalVersion" => value(canonical_version(a)),
                "IsPseudoVersion" => is_pseudo_version(a).to_string(),
                "IsZeroPseudoVersion" => is_zero_pseudo_version(a).to_string(),
                "PseudoVersionBase" => {
                    string(pseudo_version_base(a).map(Option::unwrap_or_default))
                }
                "PseudoVersionRev" => string(pseudo_version_rev(a)),
                "PseudoVersionTime" => string(pseudo_version_time(a).map(|t| t.to_string())),
                "CheckPathMajor" => unit(check_path_major(a, b)),
                "Check" => unit(check(a, b)),
                "Compare" => {
                    // Also check antisymmetry on the reversed pair.
                    let rev = go_cmp(semver::compare(b, a).reverse());
                    let fwd = go_cmp(semver::compare(a, b));
                    if rev == fwd {
                        fwd
                    } else {
                        format!("asymmetric {fwd} {rev}")
                    }
                }
                "MatchPrefixPatterns" => match_prefix_patterns(a, b).to_string(),
                "Match" => path_match(a, b).map_or_else(|e| format!("err:{e}"), |m| m.to_string()),
                "PseudoVersion" => format!("={}", pseudo_version(a, b, PSEUDO_TIME, "hash")),
                "ZeroPseudoVersion" => format!("={}", zero_pseudo_version(a)),
                other => panic!("unknown golden function {other}"),
            };
            if &got != want {
                failures.push(format!("{func}({a:?}, {b:?}) = {got:?}, want {want:?}"));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} golden cases differ:\n{}",
            failures.len(),
            lines.len(),
            failures.join("\n")
        );
        // Guard against a truncated fixture silently passing.
        assert_eq!(seen.len(), 27, "functions covered: {seen:?}");
        assert!(lines.len() > 4000, "only {} golden lines", lines.len());
    }
}
