//! Go toolchains: proving that a toolchain module zip, a go.dev/dl release
//! archive or an installed Go tree is byte for byte an official release
//! (`goward verify-toolchain`, see [`cli`]).
//!
//! A toolchain is the module `golang.org/toolchain` at version
//! `v0.0.1-<go version>.<GOOS>-<GOARCH>` (go-protocol.md §5.1). Its module zip
//! and the go.dev/dl archive of the same release come from one distpack
//! (`cmd/distpack`), so their file sets differ only by a fixed mapping
//! (go-protocol.md §5.2, x/build `internal/task/dl2mod.go` `TarToModFiles`),
//! implemented by [`map_release_path`]:
//!
//! 1. regular files only (directories are not listed; symlinks and other
//!    non-regular entries never occur in a release and are reported);
//! 2. strip the `go/` prefix of the archive (a GOROOT is already relative);
//! 3. drop the top-level `api/`, `doc/`, `misc/`, `test/` and (releases
//!    before distpack, Go < 1.21) `.github/` trees;
//! 4. rename every file whose last path element is `go.mod` to `_go.mod`;
//! 5. prefix `golang.org/toolchain@v0.0.1-<ver>.<os>-<arch>/` (`armv6l` is
//!    `arm`).
//!
//! The mapped files are hashed with [`crate::xmod::dirhash::hash1`] (each file's
//! SHA-256 streamed, never buffering the archive) and the result is compared
//! with the `h1:` line of the proven checksum-database record. The database
//! carries only that one hash, so a per-file report (which file differs, is
//! missing or is extra) needs the record's file list: it comes from the
//! toolchain module zip itself, obtained through goward's own verification
//! path ([`crate::service::Service`]: cache, or upstream → module-zip rules →
//! checksum-database proof → cache).
//!
//! Checked for real: the installed go1.26.8 linux/amd64 tree (an unpacked
//! go.dev/dl archive) maps file for file onto the module proven in
//! sum.golang.org (record 61743986): all 11,518 module files were found, and the
//! only difference was a locally edited `go.env`. The go.dev/dl archives
//! themselves (and so darwin's re-signed binaries and the Windows `.zip`
//! layout) could not be downloaded on the development machine and are covered
//! only by go-protocol.md §5.2 and the hermetic tests.

pub mod archive;
pub mod cli;
pub mod goroot;
pub mod prove;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use crate::artifact::H1;
use crate::xmod::dirhash;

/// The module path of Go toolchains.
pub const TOOLCHAIN_MODULE: &str = "golang.org/toolchain";

/// The version prefix of toolchain module versions (cmd/go `gotoolchainVersion`).
pub const TOOLCHAIN_VERSION_PREFIX: &str = "v0.0.1";

/// Top-level directories of a release that are not part of the toolchain module.
pub const DROPPED_TOP_LEVEL: [&str; 5] = ["api", "doc", "misc", "test", ".github"];

/// A toolchain release: Go version and platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The Go version, e.g. `go1.26.8` or `go1.23rc2`.
    pub go_version: String,
    /// GOOS, e.g. `linux`.
    pub goos: String,
    /// GOARCH as the go command names it (`arm`, never `armv6l`).
    pub goarch: String,
}

/// A name, version, OS or architecture that is not what it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NameError(pub String);

impl Target {
    /// Validates and builds a target; `armv6l` is normalized to `arm`.
    pub fn new(go_version: &str, goos: &str, goarch: &str) -> Result<Target, NameError> {
        check_go_version(go_version)?;
        check_platform_word("OS", goos)?;
        if !goos.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(NameError(format!(
                "invalid OS {goos:?} (GOOS values start with a letter)"
            )));
        }
        check_platform_word("architecture", goarch)?;
        let goarch = if goarch == "armv6l" { "arm" } else { goarch };
        Ok(Target {
            go_version: go_version.to_owned(),
            goos: goos.to_owned(),
            goarch: goarch.to_owned(),
        })
    }

    /// The module version, `v0.0.1-<go version>.<os>-<arch>`.
    pub fn module_version(&self) -> String {
        format!(
            "{TOOLCHAIN_VERSION_PREFIX}-{}.{}-{}",
            self.go_version, self.goos, self.goarch
        )
    }

    /// `golang.org/toolchain@<module version>/`, the prefix of every zip entry.
    pub fn zip_prefix(&self) -> String {
        format!("{TOOLCHAIN_MODULE}@{}/", self.module_version())
    }

    /// Parses a toolchain module version (`v0.0.1-go1.21.0.linux-amd64`).
    pub fn from_module_version(v: &str) -> Result<Target, NameError> {
        let bad = || {
            NameError(format!(
                "{v:?} is not a toolchain module version (want {TOOLCHAIN_VERSION_PREFIX}-goX.Y.Z.OS-ARCH)"
            ))
        };
        let rest = v
            .strip_prefix(TOOLCHAIN_VERSION_PREFIX)
            .and_then(|r| r.strip_prefix('-'))
            .ok_or_else(bad)?;
        let (ver, platform) = rest.rsplit_once('.').ok_or_else(bad)?;
        let (goos, goarch) = platform.split_once('-').ok_or_else(bad)?;
        let t = Target::new(ver, goos, goarch)?;
        if t.goarch != goarch {
            // A module version never says armv6l.
            return Err(bad());
        }
        Ok(t)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.go_version, self.goos, self.goarch)
    }
}

/// `go1`, `go1.21`, `go1.21.0`, `go1.21rc2`, `go1.10beta1`: what go.dev/dl publishes.
pub fn check_go_version(v: &str) -> Result<(), NameError> {
    let bad = || {
        NameError(format!(
            "invalid Go version {v:?} (want goX.Y.Z, goX.YrcN or goX.YbetaN)"
        ))
    };
    let rest = v.strip_prefix("go").ok_or_else(bad)?;
    let (nums, pre) = match rest.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&rest[..i], Some(&rest[i..])),
        None => (rest, None),
    };
    let parts: Vec<&str> = nums.split('.').collect();
    if parts.is_empty()
        || parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad());
    }
    if let Some(pre) = pre {
        let n = pre
            .strip_prefix("rc")
            .or_else(|| pre.strip_prefix("beta"))
            .ok_or_else(bad)?;
        if parts.len() > 2 || n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
    }
    Ok(())
}

fn check_platform_word(what: &str, w: &str) -> Result<(), NameError> {
    if w.is_empty()
        || !w
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Err(NameError(format!(
            "invalid {what} {w:?} (want lowercase letters and digits, as GOOS/GOARCH)"
        )));
    }
    Ok(())
}

/// Kind of go.dev/dl archive, from its file name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// `.tar.gz` (every OS but Windows).
    TarGz,
    /// `.zip` (Windows).
    Zip,
}

/// Infers the release from a go.dev/dl archive file name,
/// `goX.Y.Z.<os>-<arch>.tar.gz` or `.zip` (a directory part is ignored).
pub fn parse_archive_name(file_name: &str) -> Result<(Target, ArchiveFormat), NameError> {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let bad = |why: &str| {
        NameError(format!(
            "cannot infer the release from the file name {base:?}: {why} (want goX.Y.Z.OS-ARCH.tar.gz or .zip as on go.dev/dl; or pass --version, --os and --arch)"
        ))
    };
    let (stem, format) = if let Some(s) = base.strip_suffix(".tar.gz") {
        (s, ArchiveFormat::TarGz)
    } else if let Some(s) = base.strip_suffix(".zip") {
        (s, ArchiveFormat::Zip)
    } else {
        return Err(bad("not a .tar.gz or .zip file"));
    };
    let (ver, platform) = stem.rsplit_once('.').ok_or_else(|| bad("no .OS-ARCH"))?;
    if platform == "src" {
        return Err(bad("a source archive, not a binary release"));
    }
    let (goos, goarch) = platform.split_once('-').ok_or_else(|| bad("no OS-ARCH"))?;
    let t = Target::new(ver, goos, goarch).map_err(|e| bad(&e.0))?;
    Ok((t, format))
}

/// What the §5.2 mapping does with one release path (relative to `go/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mapped {
    /// Part of the module, under this module-relative name.
    Keep(String),
    /// Under a dropped top-level directory (`api/`, `doc/`, `misc/`, `test/`,
    /// `.github/`): not in the module, so not covered by the checksum DB.
    Dropped,
}

/// Maps a path relative to the release root (`go/` stripped, or relative to
/// a GOROOT) to its name in the toolchain module (without the module prefix).
pub fn map_release_path(rel: &str) -> Mapped {
    if let Some((top, rest)) = rel.split_once('/')
        && !rest.is_empty()
        && DROPPED_TOP_LEVEL.contains(&top)
    {
        return Mapped::Dropped;
    }
    match rel.rsplit_once('/') {
        Some((dir, "go.mod")) => Mapped::Keep(format!("{dir}/_go.mod")),
        None if rel == "go.mod" => Mapped::Keep("_go.mod".to_owned()),
        _ => Mapped::Keep(rel.to_owned()),
    }
}

/// The inverse of the `go.mod` → `_go.mod` rename, for naming files the
/// module has and the input lacks.
pub fn unmap_module_path(name: &str) -> String {
    match name.rsplit_once('/') {
        Some((dir, "_go.mod")) => format!("{dir}/go.mod"),
        None if name == "_go.mod" => "go.mod".to_owned(),
        _ => name.to_owned(),
    }
}

/// Whether `rel` is a clean relative slash path (no `.`/`..`/empty elements,
/// no leading `/`, no backslash), as every name in a release is.
pub(crate) fn is_clean_rel(rel: &str) -> bool {
    !rel.is_empty()
        && !rel.starts_with('/')
        && !rel.contains('\\')
        && !rel.contains('\n')
        && dirhash::go_path_clean(rel) == rel
        && !rel.starts_with("../")
        && rel != ".."
        && rel != "."
}

/// One file of the module's file set, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDigest {
    /// Module-relative name (no `golang.org/toolchain@…/` prefix).
    pub name: String,
    /// Where it came from: the archive entry name, or the GOROOT-relative path.
    pub source: String,
    /// SHA-256 of its content.
    pub sha256: [u8; 32],
    /// Its size in bytes.
    pub size: u64,
}

/// The files an input contributes to the toolchain module, plus everything
/// about the input that no official release has.
#[derive(Clone, Debug, Default)]
pub struct FileSet {
    /// The mapped files.
    pub files: Vec<FileDigest>,
    /// Files under the dropped top-level directories (not covered by the
    /// checksum database).
    pub dropped: u64,
    /// Problems that make the input differ from any official release even
    /// if the hash matched: entries outside `go/`, symlinks and other
    /// non-regular files, unclean or duplicate names.
    pub problems: Vec<String>,
    /// Bytes hashed.
    pub bytes: u64,
}

impl FileSet {
    /// Adds a mapped file; a second file with the same module name is a problem.
    pub(crate) fn push(&mut self, f: FileDigest, seen: &mut HashMap<String, String>) {
        if let Some(first) = seen.get(&f.name) {
            self.problems.push(format!(
                "{}: maps to {} like {first}: duplicate file in the module",
                f.source, f.name
            ));
            return;
        }
        seen.insert(f.name.clone(), f.source.clone());
        self.bytes += f.size;
        self.files.push(f);
    }

    /// The module's `h1:` over these files, named with `target`'s zip prefix.
    pub fn h1(&self, target: &Target) -> Result<H1, dirhash::DirhashError> {
        let prefix = target.zip_prefix();
        let names: Vec<(String, [u8; 32])> = self
            .files
            .iter()
            .map(|f| (format!("{prefix}{}", f.name), f.sha256))
            .collect();
        dirhash::hash1(names.iter().map(|(n, d)| (n.as_str(), *d)))
    }
}

/// How an input differs from the module's file list.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Differences {
    /// Files present in both with different content (input names).
    pub changed: Vec<String>,
    /// Files of the module the input lacks (input names, `_go.mod` mapped back).
    pub missing: Vec<String>,
    /// Files of the input the module lacks (input names).
    pub extra: Vec<String>,
}

impl Differences {
    /// Compares `ours` with the module's `(module-relative name, sha256)`
    /// list; `display_missing` turns a module name into the input's naming.
    pub fn between(
        ours: &FileSet,
        reference: &BTreeMap<String, [u8; 32]>,
        display_missing: impl Fn(&str) -> String,
    ) -> Differences {
        let mut d = Differences::default();
        let mut have: HashMap<&str, &FileDigest> = HashMap::with_capacity(ours.files.len());
        for f in &ours.files {
            have.insert(&f.name, f);
            match reference.get(&f.name) {
                None => d.extra.push(f.source.clone()),
                Some(want) if *want != f.sha256 => d.changed.push(f.source.clone()),
                Some(_) => {}
            }
        }
        for name in reference.keys() {
            if !have.contains_key(name.as_str()) {
                d.missing.push(display_missing(name));
            }
        }
        d.changed.sort();
        d.missing.sort();
        d.extra.sort();
        d
    }

    /// Whether nothing differs.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.missing.is_empty() && self.extra.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_rules() {
        let keep = |s: &str| Mapped::Keep(s.to_owned());
        for (input, want) in [
            ("bin/go", keep("bin/go")),
            ("VERSION", keep("VERSION")),
            ("src/go.mod", keep("src/_go.mod")),
            ("src/cmd/go.mod", keep("src/cmd/_go.mod")),
            (
                "src/cmd/vendor/golang.org/x/mod/go.mod",
                keep("src/cmd/vendor/golang.org/x/mod/_go.mod"),
            ),
            ("go.mod", keep("_go.mod")),
            // Only the last element counts.
            ("src/go.mod/x", keep("src/go.mod/x")),
            ("src/xgo.mod", keep("src/xgo.mod")),
            ("src/go.mod.txt", keep("src/go.mod.txt")),
            ("src/_go.mod", keep("src/_go.mod")),
            ("api/go1.txt", Mapped::Dropped),
            ("api/next/123.txt", Mapped::Dropped),
            ("doc/go_spec.html", Mapped::Dropped),
            ("misc/wasm/wasm_exec.js", Mapped::Dropped),
            ("misc/go.mod", Mapped::Dropped),
            ("test/fixedbugs/issue1.go", Mapped::Dropped),
            ("test/go.mod", Mapped::Dropped),
            (".github/ISSUE_TEMPLATE/00-bug.md", Mapped::Dropped),
            // Only top-level directories are dropped.
            ("src/api/x.go", keep("src/api/x.go")),
            (
                "src/cmd/go/testdata/test/x",
                keep("src/cmd/go/testdata/test/x"),
            ),
            ("lib/doc/x", keep("lib/doc/x")),
            ("apis/x", keep("apis/x")),
            ("testdata/x", keep("testdata/x")),
            // A top-level file named like a dropped directory is kept.
            ("api", keep("api")),
        ] {
            assert_eq!(map_release_path(input), want, "{input}");
        }
        assert_eq!(unmap_module_path("src/_go.mod"), "src/go.mod");
        assert_eq!(unmap_module_path("_go.mod"), "go.mod");
        assert_eq!(unmap_module_path("bin/go"), "bin/go");
    }

    #[test]
    fn archive_names() {
        let ok = |name: &str, v: &str, os: &str, arch: &str, fmt: ArchiveFormat| {
            let (t, f) = parse_archive_name(name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(
                (t.go_version.as_str(), t.goos.as_str(), t.goarch.as_str(), f),
                (v, os, arch, fmt),
                "{name}"
            );
        };
        ok(
            "go1.26.8.linux-amd64.tar.gz",
            "go1.26.8",
            "linux",
            "amd64",
            ArchiveFormat::TarGz,
        );
        ok(
            "/tmp/dl/go1.21.0.windows-arm64.zip",
            "go1.21.0",
            "windows",
            "arm64",
            ArchiveFormat::Zip,
        );
        ok(
            "go1.22.3.linux-armv6l.tar.gz",
            "go1.22.3",
            "linux",
            "arm",
            ArchiveFormat::TarGz,
        );
        ok(
            "go1.23rc2.darwin-arm64.tar.gz",
            "go1.23rc2",
            "darwin",
            "arm64",
            ArchiveFormat::TarGz,
        );
        ok(
            "go1.10beta1.freebsd-386.tar.gz",
            "go1.10beta1",
            "freebsd",
            "386",
            ArchiveFormat::TarGz,
        );
        ok(
            "go1.9.linux-ppc64le.tar.gz",
            "go1.9",
            "linux",
            "ppc64le",
            ArchiveFormat::TarGz,
        );
        for bad in [
            "go1.22.3.src.tar.gz",
            "go1.22.3.linux-amd64.pkg",
            "go1.22.3.windows-amd64.msi",
            "go1.22.3.linux-amd64-bootstrap.tar.gz",
            "go1.22.3.tar.gz",
            "go1.22.3linux-amd64.tar.gz",
            "linux-amd64.tar.gz",
            "go.linux-amd64.tar.gz",
            "go1..2.linux-amd64.tar.gz",
            "go1.22.3.Linux-amd64.tar.gz",
            "go1.22.3.linux-.tar.gz",
            "go1.22.3.linux-amd64.tgz",
            "toolchain.zip",
            "go1.2.3.4.linux-amd64.tar.gz",
            "go1.2.3rc1.linux-amd64.tar.gz",
            "go1.2gamma1.linux-amd64.tar.gz",
        ] {
            assert!(parse_archive_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn module_versions() {
        let t = Target::new("go1.22.3", "linux", "armv6l").unwrap();
        assert_eq!(t.goarch, "arm");
        assert_eq!(t.module_version(), "v0.0.1-go1.22.3.linux-arm");
        assert_eq!(
            t.zip_prefix(),
            "golang.org/toolchain@v0.0.1-go1.22.3.linux-arm/"
        );
        assert_eq!(
            Target::from_module_version("v0.0.1-go1.22.3.linux-arm").unwrap(),
            t
        );
        assert_eq!(
            Target::from_module_version("v0.0.1-go1.23rc2.windows-amd64")
                .unwrap()
                .to_string(),
            "go1.23rc2 windows/amd64"
        );
        for bad in [
            "v0.0.1-go1.22.3.linux-armv6l",
            "v0.0.2-go1.22.3.linux-amd64",
            "v0.0.1go1.22.3.linux-amd64",
            "v0.0.1-go1.22.3",
            "v0.0.1-go1.22.3.linux",
        ] {
            assert!(Target::from_module_version(bad).is_err(), "{bad}");
        }
        assert!(Target::new("1.22.3", "linux", "amd64").is_err());
        assert!(Target::new("go1.22.3", "li/nux", "amd64").is_err());
        assert!(Target::new("go1.22.3", "linux", "").is_err());
        // Every target gives a module version goward's request layer accepts.
        let mv = crate::artifact::ModuleVersion::new(
            crate::artifact::ModulePath::new(TOOLCHAIN_MODULE).unwrap(),
            &Target::new("go1.23rc2", "linux", "amd64")
                .unwrap()
                .module_version(),
        );
        assert!(mv.is_ok(), "{mv:?}");
    }

    #[test]
    fn clean_names() {
        for ok in ["a", "a/b", "bin/go", ".github/x"] {
            assert!(is_clean_rel(ok), "{ok}");
        }
        for bad in [
            "", "/a", "a/", "a//b", "./a", "a/./b", "a/../b", "..", "../a", "a\\b",
        ] {
            assert!(!is_clean_rel(bad), "{bad}");
        }
    }

    fn fd(name: &str, source: &str, content: &[u8]) -> FileDigest {
        FileDigest {
            name: name.to_owned(),
            source: source.to_owned(),
            sha256: dirhash::sha256(content),
            size: content.len() as u64,
        }
    }

    #[test]
    fn h1_and_differences() {
        let t = Target::new("go1.99.1", "linux", "amd64").unwrap();
        let mut seen = HashMap::new();
        let mut set = FileSet::default();
        set.push(fd("bin/go", "go/bin/go", b"go"), &mut seen);
        set.push(
            fd("src/_go.mod", "go/src/go.mod", b"module std\n"),
            &mut seen,
        );
        set.push(fd("src/_go.mod", "go/src/_go.mod", b"x"), &mut seen);
        assert_eq!(set.files.len(), 2);
        assert_eq!(set.problems.len(), 1, "{:?}", set.problems);
        let want = dirhash::hash1([
            (
                "golang.org/toolchain@v0.0.1-go1.99.1.linux-amd64/bin/go",
                dirhash::sha256(b"go"),
            ),
            (
                "golang.org/toolchain@v0.0.1-go1.99.1.linux-amd64/src/_go.mod",
                dirhash::sha256(b"module std\n"),
            ),
        ])
        .unwrap();
        assert_eq!(set.h1(&t).unwrap(), want);

        let reference: BTreeMap<String, [u8; 32]> = [
            ("bin/go".to_owned(), dirhash::sha256(b"other")),
            ("src/_go.mod".to_owned(), dirhash::sha256(b"module std\n")),
            ("pkg/tool/linux_amd64/vet".to_owned(), dirhash::sha256(b"")),
            ("src/cmd/_go.mod".to_owned(), dirhash::sha256(b"")),
        ]
        .into_iter()
        .collect();
        let mut extra = set.clone();
        extra.push(fd("bin/evil", "go/bin/evil", b""), &mut seen);
        let d = Differences::between(&extra, &reference, |n| {
            format!("go/{}", unmap_module_path(n))
        });
        assert_eq!(d.changed, ["go/bin/go"]);
        assert_eq!(
            d.missing,
            ["go/pkg/tool/linux_amd64/vet", "go/src/cmd/go.mod"]
        );
        assert_eq!(d.extra, ["go/bin/evil"]);
        assert!(!d.is_empty());
    }
}
