//! What `goward mirror` is asked to fetch: `MODULE@QUERY` arguments,
//! `--list` files, a project's go.mod / go.sum / go.work (`--from`) and
//! toolchains. Pure parsing; resolving queries and fetching is the caller's.
//!
//! Every error names where the bad input is (`file:line`), and nothing is
//! fetched when any source is bad: the sources are all read first.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::artifact::ModulePath;
use crate::policy::version::{Constraint, Scheme};
use crate::toolchain::{TOOLCHAIN_MODULE, Target};
use crate::verify::gomod;

/// A bad source: where, and what is wrong there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {msg}")]
pub struct SourceError {
    /// `file:line`, a file, or `argument "…"`.
    pub location: String,
    /// What is wrong.
    pub msg: String,
}

impl SourceError {
    fn new(location: impl Into<String>, msg: impl Into<String>) -> SourceError {
        SourceError {
            location: location.into(),
            msg: msg.into(),
        }
    }
}

/// Which versions of a module a request names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    /// One canonical version.
    Version(String),
    /// What the go command resolves `@latest` to.
    Latest,
    /// Every version of `@v/list` in the range (the policy's version syntax).
    Range(Range),
}

/// A version range, parsed by the policy's parser (one syntax for both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range(Constraint);

impl Range {
    /// Whether the (valid) version `v` is in the range.
    pub fn matches(&self, v: &str) -> bool {
        self.0.matches(v)
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Query::Version(v) => f.write_str(v),
            Query::Latest => f.write_str("latest"),
            Query::Range(c) => write!(f, "{c}"),
        }
    }
}

/// One requested module query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    /// The module.
    pub module: ModulePath,
    /// Which versions.
    pub query: Query,
    /// The zip too, not only `.info` and `.mod`.
    pub full: bool,
}

impl fmt::Display for Want {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.module.as_str(), self.query)
    }
}

/// Parses `MODULE@QUERY`: `@latest`, a canonical `@vX.Y.Z`, or a range
/// such as `@>=v1.2.0,<v1.3.0` (the policy's `versions` syntax).
pub fn parse_want(text: &str) -> Result<Want, String> {
    let (module, query) = text
        .split_once('@')
        .ok_or_else(|| format!("{text:?} is not MODULE@VERSION (nor @latest, nor @RANGE)"))?;
    let module = ModulePath::new(module).map_err(|e| e.to_string())?;
    let query = query.trim();
    let query = if query == "latest" {
        Query::Latest
    } else if query.starts_with(['<', '>', '=']) || query.contains(',') || query.contains("||") {
        Query::Range(Range(Constraint::parse(query, Scheme::Module)?))
    } else if crate::xmod::module::canonical_version(query).as_deref() == Some(query) {
        Query::Version(query.to_owned())
    } else if crate::xmod::semver::is_valid(query) {
        return Err(format!(
            "version {query:?} is not canonical (say {:?}, or a range such as \">= {query}\")",
            crate::xmod::module::canonical_version(query).unwrap_or_default()
        ));
    } else {
        return Err(format!(
            "{query:?} is not a version, \"latest\" or a version range (e.g. \">= v1.2.0, < v1.3.0\")"
        ));
    };
    Ok(Want {
        module,
        query,
        full: true,
    })
}

/// Parses a `--list` file: one `MODULE@QUERY` a line; blank lines and
/// `#` comments (whole-line or trailing) are ignored. `name` names the file
/// in errors.
pub fn parse_list(name: &str, text: &str) -> Result<Vec<Want>, SourceError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.split_once('#').map_or(line, |(code, _)| code).trim();
        if line.is_empty() {
            continue;
        }
        let at = format!("{name}:{}", i.saturating_add(1));
        out.push(parse_want(line).map_err(|msg| SourceError::new(at, msg))?);
    }
    Ok(out)
}

/// The module versions a go.sum names: `true` when it holds the zip's hash
/// (the build needs the whole module), `false` for a `/go.mod` line only.
pub fn parse_go_sum(
    name: &str,
    text: &str,
) -> Result<BTreeMap<(String, String), bool>, SourceError> {
    let mut out: BTreeMap<(String, String), bool> = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let at = || format!("{name}:{}", i.saturating_add(1));
        let words: Vec<&str> = line.split_whitespace().collect();
        let (module, version, hash) = match words.as_slice() {
            [] => continue,
            [m, v, h] => (*m, *v, *h),
            _ => {
                return Err(SourceError::new(
                    at(),
                    "not a go.sum line (want MODULE VERSION[/go.mod] h1:HASH)",
                ));
            }
        };
        let (version, full) = match version.strip_suffix("/go.mod") {
            Some(v) => (v, false),
            None => (version, true),
        };
        if !hash.contains(':') {
            return Err(SourceError::new(at(), format!("{hash:?} is not a hash")));
        }
        check_module_version(module, version).map_err(|msg| SourceError::new(at(), msg))?;
        let e = out
            .entry((module.to_owned(), version.to_owned()))
            .or_insert(false);
        *e |= full;
    }
    Ok(out)
}

fn check_module_version(module: &str, version: &str) -> Result<(), String> {
    let m = ModulePath::new(module).map_err(|e| e.to_string())?;
    crate::artifact::ModuleVersion::new(m, version).map_err(|e| e.to_string())?;
    if crate::xmod::module::canonical_version(version).as_deref() != Some(version) {
        return Err(format!("{module}@{version}: version is not canonical"));
    }
    Ok(())
}

/// What a project (`--from DIR`) needs.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Project {
    /// Module versions; `true`: the zip too, `false`: `.info` and `.mod` only.
    pub modules: BTreeMap<(String, String), bool>,
    /// Go versions named by `toolchain` lines (`go1.22.3`).
    pub toolchains: BTreeSet<String>,
}

/// `replace old [version] => new version` (or `=> ./dir`: `new` is `None`).
#[derive(Debug)]
struct Replace {
    old: String,
    old_version: Option<String>,
    new: Option<(String, String)>,
}

/// What one go.mod or go.work says.
#[derive(Debug, Default)]
struct ModFile {
    requires: Vec<(String, String)>,
    replaces: Vec<Replace>,
    uses: Vec<String>,
    toolchain: Option<String>,
}

fn parse_mod_file(name: &str, text: &str) -> Result<ModFile, SourceError> {
    let ds = gomod::directives(text).map_err(|e| match e {
        gomod::ModError::Syntax { line, msg } => SourceError::new(format!("{name}:{line}"), msg),
        other => SourceError::new(name, other.to_string()),
    })?;
    let mut out = ModFile::default();
    for d in ds {
        let at = || format!("{name}:{}", d.line);
        let args: Vec<&str> = d.args.iter().map(String::as_str).collect();
        match d.verb.as_str() {
            "require" => match args.as_slice() {
                [m, v] => {
                    check_module_version(m, v).map_err(|msg| SourceError::new(at(), msg))?;
                    out.requires.push(((*m).to_owned(), (*v).to_owned()));
                }
                _ => return Err(SourceError::new(at(), "usage: require module/path v1.2.3")),
            },
            "replace" => {
                let arrow = args.iter().position(|a| *a == "=>");
                let (old, new) = match arrow {
                    Some(i) => (args.get(..i), args.get(i.saturating_add(1)..)),
                    None => (None, None),
                };
                let (old, old_v) = match old {
                    Some([m]) => (*m, None),
                    Some([m, v]) => (*m, Some((*v).to_owned())),
                    _ => {
                        return Err(SourceError::new(
                            at(),
                            "usage: replace module/path [v1.2.3] => other/module v1.4.5 (or a directory)",
                        ));
                    }
                };
                let new = match new {
                    Some([_dir]) => None,
                    Some([m, v]) => {
                        check_module_version(m, v).map_err(|msg| SourceError::new(at(), msg))?;
                        Some(((*m).to_owned(), (*v).to_owned()))
                    }
                    _ => {
                        return Err(SourceError::new(
                            at(),
                            "usage: replace module/path [v1.2.3] => other/module v1.4.5 (or a directory)",
                        ));
                    }
                };
                out.replaces.push(Replace {
                    old: old.to_owned(),
                    old_version: old_v,
                    new,
                });
            }
            "use" => match args.as_slice() {
                [dir] => out.uses.push((*dir).to_owned()),
                _ => return Err(SourceError::new(at(), "usage: use ./dir")),
            },
            "toolchain" => match args.as_slice() {
                // `toolchain default` names no toolchain.
                ["default"] => {}
                [name] => {
                    crate::toolchain::check_go_version(name)
                        .map_err(|e| SourceError::new(at(), e.to_string()))?;
                    out.toolchain = Some((*name).to_owned());
                }
                _ => return Err(SourceError::new(at(), "usage: toolchain go1.22.3")),
            },
            _ => {}
        }
    }
    Ok(out)
}

impl ModFile {
    /// The requirement `m@v` after this file's `replace` directives:
    /// `None` when a directory replaces it (nothing to fetch).
    fn replaced(&self, m: &str, v: &str) -> Option<(String, String)> {
        // A versioned replacement wins over a version-less one, as in cmd/go.
        let hit = self
            .replaces
            .iter()
            .find(|r| r.old == m && r.old_version.as_deref() == Some(v))
            .or_else(|| {
                self.replaces
                    .iter()
                    .find(|r| r.old == m && r.old_version.is_none())
            });
        match hit {
            Some(r) => r.new.clone(),
            None => Some((m.to_owned(), v.to_owned())),
        }
    }
}

fn read(path: &Path) -> Result<Option<String>, SourceError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SourceError::new(path.display().to_string(), e.to_string())),
    }
}

/// Reads a project: `DIR/go.work` (its `use` directories' go.mod and
/// go.sum, and go.work.sum) if there is one, else `DIR/go.mod` and
/// `DIR/go.sum`. go.sum decides what a version needs (a `/go.mod`-only
/// line: the `.mod` only); a requirement no go.sum names needs the whole
/// module. A directory with neither go.work nor go.mod is an error.
pub fn read_project(dir: &Path) -> Result<Project, SourceError> {
    let mut p = Project::default();
    let mut requires: BTreeSet<(String, String)> = BTreeSet::new();
    let work_path = dir.join("go.work");
    let mut mod_dirs: Vec<PathBuf> = Vec::new();
    let mut work: Option<ModFile> = None;
    if let Some(text) = read(&work_path)? {
        let w = parse_mod_file(&work_path.display().to_string(), &text)?;
        mod_dirs.extend(w.uses.iter().map(|u| dir.join(u)));
        if let Some(t) = &w.toolchain {
            p.toolchains.insert(t.clone());
        }
        let sum_path = dir.join("go.work.sum");
        if let Some(text) = read(&sum_path)? {
            merge(
                &mut p.modules,
                parse_go_sum(&sum_path.display().to_string(), &text)?,
            );
        }
        work = Some(w);
    } else {
        mod_dirs.push(dir.to_owned());
    }
    for d in &mod_dirs {
        let mod_path = d.join("go.mod");
        let Some(text) = read(&mod_path)? else {
            return Err(SourceError::new(
                mod_path.display().to_string(),
                "no such file (--from wants a directory with a go.mod or go.work)",
            ));
        };
        let m = parse_mod_file(&mod_path.display().to_string(), &text)?;
        if work.is_none()
            && let Some(t) = &m.toolchain
        {
            p.toolchains.insert(t.clone());
        }
        for (rm, rv) in &m.requires {
            // go.work's replacements override the modules' own (cmd/go).
            let r = match &work {
                Some(w) if w.replaced(rm, rv) != Some((rm.clone(), rv.clone())) => {
                    w.replaced(rm, rv)
                }
                _ => m.replaced(rm, rv),
            };
            if let Some(r) = r {
                requires.insert(r);
            }
        }
        let sum_path = d.join("go.sum");
        if let Some(text) = read(&sum_path)? {
            merge(
                &mut p.modules,
                parse_go_sum(&sum_path.display().to_string(), &text)?,
            );
        }
    }
    for r in requires {
        p.modules.entry(r).or_insert(true);
    }
    Ok(p)
}

fn merge(into: &mut BTreeMap<(String, String), bool>, from: BTreeMap<(String, String), bool>) {
    for (k, full) in from {
        let e = into.entry(k).or_insert(false);
        *e |= full;
    }
}

/// Parses `--platforms`: `os/arch` pairs, `,`-separated.
pub fn parse_platforms(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for p in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (os, arch) = p
            .split_once('/')
            .ok_or_else(|| format!("platform {p:?} is not OS/ARCH (e.g. linux/amd64)"))?;
        // Validates both words as a toolchain name would.
        Target::new("go1.21.0", os, arch).map_err(|e| format!("platform {p:?}: {e}"))?;
        if !out.iter().any(|(o, a)| o == os && a == arch) {
            out.push((os.to_owned(), arch.to_owned()));
        }
    }
    if out.is_empty() {
        return Err("--platforms names no platform".into());
    }
    Ok(out)
}

/// The platform this binary runs on, as GOOS/GOARCH.
pub fn host_platform() -> (String, String) {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    };
    (os.to_owned(), arch.to_owned())
}

/// The toolchain module versions of `go_version` for each platform.
pub fn toolchain_wants(
    go_version: &str,
    platforms: &[(String, String)],
) -> Result<Vec<Want>, String> {
    let module = ModulePath::new(TOOLCHAIN_MODULE).map_err(|e| e.to_string())?;
    platforms
        .iter()
        .map(|(os, arch)| {
            let t = Target::new(go_version, os, arch).map_err(|e| e.to_string())?;
            Ok(Want {
                module: module.clone(),
                query: Query::Version(t.module_version()),
                full: true,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn want(text: &str) -> Want {
        parse_want(text).unwrap()
    }

    #[test]
    fn wants_versions_latest_and_ranges() {
        let w = want("golang.org/x/text@v0.20.0");
        assert_eq!(w.module.as_str(), "golang.org/x/text");
        assert_eq!(w.query, Query::Version("v0.20.0".into()));
        assert_eq!(want("example.com/m@latest").query, Query::Latest);
        let Query::Range(c) = want("example.com/m@>=v1.2.0,<v1.3.0").query else {
            panic!("not a range")
        };
        assert!(c.matches("v1.2.5") && !c.matches("v1.3.0") && !c.matches("v1.1.9"));
        assert_eq!(c.to_string(), ">= v1.2.0, < v1.3.0");
        let Query::Range(c) = want("example.com/m@=v1.0.0 || >= v2.0.0").query else {
            panic!("not a range")
        };
        assert!(c.matches("v1.0.0") && c.matches("v2.1.0") && !c.matches("v1.0.1"));
    }

    #[test]
    fn bad_wants_say_what_is_wrong() {
        assert_eq!(
            parse_want("example.com/m").unwrap_err(),
            "\"example.com/m\" is not MODULE@VERSION (nor @latest, nor @RANGE)"
        );
        assert_eq!(
            parse_want("example.com/m@v1.2").unwrap_err(),
            "version \"v1.2\" is not canonical (say \"v1.2.0\", or a range such as \">= v1.2\")"
        );
        assert_eq!(
            parse_want("example.com/m@main").unwrap_err(),
            "\"main\" is not a version, \"latest\" or a version range (e.g. \">= v1.2.0, < v1.3.0\")"
        );
        assert!(
            parse_want("example.com/m@>=v1.3.0,<v1.2.0")
                .unwrap_err()
                .contains("is empty"),
        );
        assert!(
            parse_want("example.com/m@>=1.3.0")
                .unwrap_err()
                .contains("start with \"v\"")
        );
        assert!(parse_want("Bad Path@v1.0.0").is_err());
    }

    #[test]
    fn list_files_skip_comments_and_name_the_bad_line() {
        let l = parse_list(
            "mods.txt",
            "# deps\n\ngolang.org/x/text@v0.20.0  # pinned\nexample.com/m@latest\n",
        )
        .unwrap();
        assert_eq!(
            l.iter().map(ToString::to_string).collect::<Vec<_>>(),
            ["golang.org/x/text@v0.20.0", "example.com/m@latest"]
        );
        let e = parse_list("mods.txt", "example.com/a@v1.0.0\nexample.com/b v1.0.0\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "mods.txt:2: \"example.com/b v1.0.0\" is not MODULE@VERSION (nor @latest, nor @RANGE)"
        );
    }

    #[test]
    fn go_sum_lines_decide_zip_or_mod_only() {
        let s = parse_go_sum(
            "go.sum",
            "example.com/a v1.0.0 h1:AAA=\nexample.com/a v1.0.0/go.mod h1:BBB=\n\
             example.com/b v1.1.0/go.mod h1:CCC=\n\nexample.com/c v0.1.0 h1:DDD=\n",
        )
        .unwrap();
        let got: Vec<_> = s
            .iter()
            .map(|((m, v), f)| (m.as_str(), v.as_str(), *f))
            .collect();
        assert_eq!(
            got,
            [
                ("example.com/a", "v1.0.0", true),
                ("example.com/b", "v1.1.0", false),
                ("example.com/c", "v0.1.0", true)
            ]
        );
        assert_eq!(
            parse_go_sum("x/go.sum", "example.com/a v1.0.0\n")
                .unwrap_err()
                .to_string(),
            "x/go.sum:1: not a go.sum line (want MODULE VERSION[/go.mod] h1:HASH)"
        );
        assert!(
            parse_go_sum("go.sum", "example.com/a 1.0.0 h1:x=\n")
                .unwrap_err()
                .to_string()
                .starts_with("go.sum:1: ")
        );
    }

    #[test]
    fn projects_read_go_mod_go_sum_replace_and_toolchain() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("go.mod"),
            "module example.com/app\n\ngo 1.22\n\ntoolchain go1.22.3\n\nrequire (\n\
             \texample.com/a v1.0.0\n\texample.com/b v1.1.0 // indirect\n\texample.com/r v1.0.0\n\
             \texample.com/local v0.1.0\n\texample.com/nosum v0.2.0\n)\n\n\
             replace example.com/r => example.com/fork v1.0.1\nreplace example.com/local => ../local\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("go.sum"),
            "example.com/a v1.0.0 h1:A=\nexample.com/a v1.0.0/go.mod h1:B=\n\
             example.com/b v1.1.0/go.mod h1:C=\nexample.com/fork v1.0.1 h1:D=\n\
             example.com/fork v1.0.1/go.mod h1:E=\nexample.com/old v0.9.0/go.mod h1:F=\n",
        )
        .unwrap();
        let p = read_project(d.path()).unwrap();
        let got: Vec<_> = p
            .modules
            .iter()
            .map(|((m, v), f)| format!("{m}@{v} {}", if *f { "zip" } else { "mod" }))
            .collect();
        assert_eq!(
            got,
            [
                "example.com/a@v1.0.0 zip",
                "example.com/b@v1.1.0 mod",
                "example.com/fork@v1.0.1 zip",
                "example.com/nosum@v0.2.0 zip",
                "example.com/old@v0.9.0 mod",
            ]
        );
        assert_eq!(p.toolchains.iter().collect::<Vec<_>>(), ["go1.22.3"]);
    }

    #[test]
    fn workspaces_read_every_used_module_and_go_work_sum() {
        let d = tempfile::tempdir().unwrap();
        let w = d.path();
        std::fs::create_dir_all(w.join("a")).unwrap();
        std::fs::create_dir_all(w.join("b")).unwrap();
        std::fs::write(
            w.join("go.work"),
            "go 1.22\n\ntoolchain go1.23.1\n\nuse (\n\t./a\n\t./b\n)\n",
        )
        .unwrap();
        std::fs::write(w.join("go.work.sum"), "example.com/w v1.0.0/go.mod h1:W=\n").unwrap();
        std::fs::write(
            w.join("a/go.mod"),
            "module example.com/a\n\ngo 1.22\ntoolchain go1.22.0\nrequire example.com/x v1.0.0\n",
        )
        .unwrap();
        std::fs::write(w.join("a/go.sum"), "example.com/x v1.0.0/go.mod h1:X=\n").unwrap();
        std::fs::write(
            w.join("b/go.mod"),
            "module example.com/b\n\nrequire example.com/x v1.0.0\n",
        )
        .unwrap();
        std::fs::write(w.join("b/go.sum"), "example.com/x v1.0.0 h1:Y=\n").unwrap();
        let p = read_project(w).unwrap();
        let got: Vec<_> = p
            .modules
            .iter()
            .map(|((m, v), f)| format!("{m}@{v} {f}"))
            .collect();
        assert_eq!(
            got,
            ["example.com/w@v1.0.0 false", "example.com/x@v1.0.0 true"]
        );
        // In a workspace, go.work's toolchain line is the one in force.
        assert_eq!(p.toolchains.iter().collect::<Vec<_>>(), ["go1.23.1"]);
    }

    #[test]
    fn bad_projects_name_the_file_and_line() {
        let d = tempfile::tempdir().unwrap();
        let e = read_project(d.path()).unwrap_err();
        assert_eq!(
            e.msg,
            "no such file (--from wants a directory with a go.mod or go.work)"
        );
        std::fs::write(
            d.path().join("go.mod"),
            "module m\n\nrequire (\n\texample.com/a\n)\n",
        )
        .unwrap();
        let e = read_project(d.path()).unwrap_err();
        assert!(e.location.ends_with("go.mod:4"), "{e}");
        assert_eq!(e.msg, "usage: require module/path v1.2.3");
        std::fs::write(d.path().join("go.mod"), "module m\ntoolchain 1.22\n").unwrap();
        let e = read_project(d.path()).unwrap_err();
        assert!(e.location.ends_with("go.mod:2"), "{e}");
    }

    #[test]
    fn platforms_and_toolchain_versions() {
        assert_eq!(
            parse_platforms("linux/amd64, windows/amd64,linux/amd64").unwrap(),
            [
                ("linux".into(), "amd64".into()),
                ("windows".into(), "amd64".into())
            ]
        );
        assert!(
            parse_platforms("linux")
                .unwrap_err()
                .contains("is not OS/ARCH")
        );
        assert!(parse_platforms("").is_err());
        let w = toolchain_wants("go1.22.3", &[("linux".into(), "arm64".into())]).unwrap();
        assert_eq!(
            w[0].to_string(),
            "golang.org/toolchain@v0.0.1-go1.22.3.linux-arm64"
        );
        assert!(toolchain_wants("1.22.3", &[("linux".into(), "arm64".into())]).is_err());
    }
}
