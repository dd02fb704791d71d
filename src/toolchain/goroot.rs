//! An installed Go tree (`--goroot DIR`): the §5.2 mapping applied to the
//! files on disk.
//!
//! Two layouts are recognized: a tree unpacked from a go.dev/dl archive
//! (`go.mod` files, plus `api/ doc/ misc/ test/`, which are not part of the
//! module), and a toolchain the go command unpacked from the module zip into
//! its module cache (`$GOMODCACHE/golang.org/toolchain@…`), where every
//! `_go.mod` sits next to the `go.mod` copy the go command made of it
//! (cmd/go `toolchain/select.go`). In the second layout such a `go.mod` must
//! equal its `_go.mod` and is then not counted again.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::BufReader;
use std::path::{Path, PathBuf};

use super::archive::{Progress, ReadError};
use super::{DROPPED_TOP_LEVEL, FileDigest, FileSet, Mapped, NameError, Target, map_release_path};

/// Infers the release of a GOROOT: the Go version from the first line of
/// its `VERSION` file, the platform from its only `pkg/tool/<os>_<arch>`
/// directory. Each can be overridden.
pub(crate) fn infer_target(
    root: &Path,
    version: Option<&str>,
    goos: Option<&str>,
    goarch: Option<&str>,
) -> Result<Target, NameError> {
    let version = match version {
        Some(v) => v.to_owned(),
        None => {
            let p = root.join("VERSION");
            let text = fs::read_to_string(&p).map_err(|e| {
                NameError(format!(
                    "{}: {e} (a release tree has a VERSION file; pass --version goX.Y.Z)",
                    p.display()
                ))
            })?;
            let first = text.lines().next().unwrap_or_default().trim().to_owned();
            super::check_go_version(&first).map_err(|e| {
                NameError(format!(
                    "{}: {e}; not a release (pass --version goX.Y.Z to compare anyway)",
                    p.display()
                ))
            })?;
            first
        }
    };
    let (goos, goarch) = match (goos, goarch) {
        (Some(o), Some(a)) => (o.to_owned(), a.to_owned()),
        (o, a) => {
            let tool = root.join("pkg/tool");
            let mut found = Vec::new();
            if let Ok(rd) = fs::read_dir(&tool) {
                for e in rd.flatten() {
                    if e.file_type().is_ok_and(|t| t.is_dir())
                        && let Some(n) = e.file_name().to_str()
                        && let Some((os, arch)) = n.split_once('_')
                        && !os.is_empty()
                        && !arch.is_empty()
                    {
                        found.push((os.to_owned(), arch.to_owned()));
                    }
                }
            }
            found.sort();
            match found.as_slice() {
                [(fo, fa)] => (
                    o.map_or_else(|| fo.clone(), str::to_owned),
                    a.map_or_else(|| fa.clone(), str::to_owned),
                ),
                [] => {
                    return Err(NameError(format!(
                        "{}: no <os>_<arch> directory to infer the platform from; pass --os and --arch",
                        tool.display()
                    )));
                }
                _ => {
                    return Err(NameError(format!(
                        "{}: several platforms ({}); pass --os and --arch",
                        tool.display(),
                        found
                            .iter()
                            .map(|(o, a)| format!("{o}_{a}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
        }
    };
    Target::new(&version, &goos, &goarch)
}

/// Walks `root` and returns the module's file set (sources are
/// GOROOT-relative paths). Unreadable directories and files are errors
/// (exit 2); non-regular files and non-UTF-8 names are problems.
pub(crate) fn read_goroot(root: &Path, progress: &mut Progress) -> Result<FileSet, ReadError> {
    let io_err = |p: &Path| {
        let p = p.to_owned();
        move |source| ReadError::Io { path: p, source }
    };
    let meta = fs::metadata(root).map_err(io_err(root))?;
    if !meta.is_dir() {
        return Err(ReadError::Damaged {
            path: root.to_owned(),
            msg: "not a directory".into(),
        });
    }
    let mut set = FileSet::default();
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    walk(root, "", &mut files, &mut set)?;
    files.sort();
    let mut candidates: Vec<FileDigest> = Vec::with_capacity(files.len());
    for (rel, path) in files {
        match map_release_path(&rel) {
            Mapped::Dropped => set.dropped += 1,
            Mapped::Keep(name) => {
                let f = File::open(&path).map_err(io_err(&path))?;
                let (sha256, size) = crate::xmod::dirhash::sha256_reader(BufReader::new(f))
                    .map_err(io_err(&path))?;
                progress.add(size);
                candidates.push(FileDigest {
                    name,
                    source: rel,
                    sha256,
                    size,
                });
            }
        }
    }
    // The go command's module-cache layout: `X/_go.mod` plus its copy `X/go.mod`.
    let literal: HashMap<String, [u8; 32]> = candidates
        .iter()
        .filter(|c| c.source == c.name)
        .filter(|c| c.name == "_go.mod" || c.name.ends_with("/_go.mod"))
        .map(|c| (c.name.clone(), c.sha256))
        .collect();
    let mut seen = HashMap::new();
    for c in candidates {
        if c.source != c.name
            && let Some(copy_of) = literal.get(&c.name)
        {
            if *copy_of != c.sha256 {
                set.problems.push(format!(
                    "{}: differs from {} next to it (the go command copies _go.mod to go.mod)",
                    c.source, c.name
                ));
            }
            continue;
        }
        set.push(c, &mut seen);
    }
    Ok(set)
}

fn walk(
    dir: &Path,
    rel: &str,
    out: &mut Vec<(String, PathBuf)>,
    set: &mut FileSet,
) -> Result<(), ReadError> {
    let io_err = |p: &Path| {
        let p = p.to_owned();
        move |source| ReadError::Io { path: p, source }
    };
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let path = entry.path();
        let Ok(name) = entry.file_name().into_string() else {
            set.problems
                .push(format!("{}: file name is not valid UTF-8", path.display()));
            continue;
        };
        let child = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let ft = entry.file_type().map_err(io_err(&path))?;
        if ft.is_dir() {
            if rel.is_empty() && DROPPED_TOP_LEVEL.contains(&child.as_str()) {
                // Not part of the module: counted, not hashed.
                set.dropped += count_files(&path);
                continue;
            }
            walk(&path, &child, out, set)?;
        } else if ft.is_file() {
            out.push((child, path));
        } else if ft.is_symlink() {
            let target = fs::read_link(&path)
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            set.problems.push(format!(
                "{child}: a symbolic link to {target:?} (releases hold regular files only)"
            ));
        } else {
            set.problems.push(format!(
                "{child}: not a regular file (releases hold regular files only)"
            ));
        }
    }
    Ok(())
}

fn count_files(dir: &Path) -> u64 {
    let mut n = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(_) => n += 1,
                Err(_) => {}
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, data: &[u8]) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }

    #[test]
    fn release_layout() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        write(r, "VERSION", b"go1.99.1\ntime 2026-01-01T00:00:00Z\n");
        write(r, "bin/go", b"go");
        write(r, "src/go.mod", b"module std\n");
        write(r, "pkg/tool/linux_amd64/compile", b"c");
        write(r, "api/go1.txt", b"api");
        write(r, "test/a/b.go", b"t");
        let t = infer_target(r, None, None, None).unwrap();
        assert_eq!(t, Target::new("go1.99.1", "linux", "amd64").unwrap());
        let t = infer_target(r, Some("go1.2.3"), Some("windows"), None).unwrap();
        assert_eq!(t, Target::new("go1.2.3", "windows", "amd64").unwrap());
        let set = read_goroot(r, &mut Progress::hidden()).unwrap();
        let names: Vec<(&str, &str)> = set
            .files
            .iter()
            .map(|f| (f.name.as_str(), f.source.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                ("VERSION", "VERSION"),
                ("bin/go", "bin/go"),
                (
                    "pkg/tool/linux_amd64/compile",
                    "pkg/tool/linux_amd64/compile"
                ),
                ("src/_go.mod", "src/go.mod"),
            ]
        );
        assert_eq!(set.dropped, 2);
        assert!(set.problems.is_empty());
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc/passwd", r.join("bin/evil")).unwrap();
            let set = read_goroot(r, &mut Progress::hidden()).unwrap();
            assert_eq!(set.problems.len(), 1);
            assert!(set.problems[0].starts_with("bin/evil: a symbolic link"));
        }
    }

    #[test]
    fn module_cache_layout() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        write(r, "src/_go.mod", b"module std\n");
        write(r, "src/go.mod", b"module std\n");
        write(r, "src/cmd/_go.mod", b"module cmd\n");
        let set = read_goroot(r, &mut Progress::hidden()).unwrap();
        let names: Vec<&str> = set.files.iter().map(|f| f.source.as_str()).collect();
        assert_eq!(names, ["src/_go.mod", "src/cmd/_go.mod"]);
        assert!(set.problems.is_empty());
        write(r, "src/go.mod", b"module evil\n");
        let set = read_goroot(r, &mut Progress::hidden()).unwrap();
        assert_eq!(set.problems.len(), 1, "{:?}", set.problems);
    }

    #[test]
    fn platform_inference_needs_one_tool_dir() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        write(r, "VERSION", b"go1.99.1\n");
        assert!(infer_target(r, None, None, None).is_err());
        write(r, "pkg/tool/linux_amd64/x", b"");
        write(r, "pkg/tool/linux_arm64/x", b"");
        let e = infer_target(r, None, None, None).unwrap_err();
        assert!(e.0.contains("several platforms"), "{e}");
        write(r, "VERSION", b"devel go1.99-abc\n");
        assert!(infer_target(r, None, Some("linux"), Some("amd64")).is_err());
        assert!(infer_target(r, Some("go1.99.1"), Some("linux"), Some("amd64")).is_ok());
    }
}
